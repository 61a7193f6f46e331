//! Storage tests of the CRM, each on SQLite and PostgreSQL (`engine_tests!`), in one test
//! binary so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "crm/customers.rs"]
mod customers;

#[path = "crm/vehicles.rs"]
mod vehicles;

#[path = "crm/merge.rs"]
mod merge;

#[path = "crm/leads.rs"]
mod leads;

#[path = "crm/care.rs"]
mod care;

#[path = "crm/feedback.rs"]
mod feedback;

#[path = "crm/outbox.rs"]
mod outbox;

#[path = "crm/overview.rs"]
mod overview;

#[path = "crm/segments.rs"]
mod segments;

#[path = "crm/migration.rs"]
mod migration;

#[path = "crm/invitations.rs"]
mod invitations;
