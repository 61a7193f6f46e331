pub mod audit;
pub mod customers;
pub mod home;
pub mod login;
pub mod placeholder;
pub mod staff;
pub mod stores;
