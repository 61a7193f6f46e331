DROP TABLE audit_log;
DROP TABLE refresh_tokens;
DROP TABLE customer_login_codes;
DROP TABLE customers;
DROP TABLE staff_roles;
DROP TABLE staff_users;
DROP TABLE stores;
DROP TABLE dealer_groups;
