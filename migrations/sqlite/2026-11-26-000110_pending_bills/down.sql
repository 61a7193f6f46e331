DROP TABLE mem_pending_bills;
