//! Who may do what, where: the dealer group and its stores, staff users and the roles they hold
//! per store (with the permissions each role grants), login sessions (refresh-token families),
//! the minimal customer record and its one-time login codes, and the audit log.
//!
//! Token signing (JWT) belongs to the server; this crate stores and checks what outlives a
//! request.

mod audit;
mod customers;
mod devices;
mod error;
mod password;
mod roles;
mod sessions;
mod staff;
mod stores;

pub use audit::{list_audit, record_audit, Actor, AuditEntry, AuditFilter, AuditRows, NewAudit};
pub use customers::{
    create_customer, get_customer, list_customers, request_login_code, request_login_code_for,
    verify_login_code, verify_login_code_for, CodeRequest, Customer, FileCodeSender,
    LoginCodeSender, NewCustomer, OtpPolicy,
};
pub use devices::{
    create_device, get_device, list_devices, load_active_device, pair_device, revoke_device,
    Device, NewPairing, PAIRING_CODE_DIGITS,
};
pub use error::IdentityError;
pub use password::{hash_password, verify_password, PasswordCheck, MIN_PASSWORD_LEN};
pub use roles::{Permission, Role};
pub use sessions::{
    family_is_live, issue_session, revoke_family, revoke_principal_sessions, rotate_session,
    PrincipalKind, RotateOutcome, SessionTokens,
};
pub use staff::{
    authenticate_staff, create_staff, delete_staff, get_staff, list_staff,
    load_live_staff_principal, load_staff_principal, set_staff_password, set_staff_roles,
    staff_holding, update_staff, NewStaff, RoleGrant, StaffPrincipal, StaffStatus, StaffUpdate,
    StaffUser,
};
pub use stores::{
    create_store, ensure_group, get_store, list_stores, update_store, NewStore, Store, StoreUpdate,
};

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
