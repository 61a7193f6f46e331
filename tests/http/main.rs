//! Whole flows over HTTP against a real listening server, each on SQLite and on PostgreSQL.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod crm;
mod crm_duplicates;
mod crm_export;
mod crm_login;
mod crm_messages;
mod devices;
mod input;
mod member_import;
mod membership;
mod openapi;
mod routes;
mod scope;
mod statistics;
mod tokens;
mod top_up_requests;
