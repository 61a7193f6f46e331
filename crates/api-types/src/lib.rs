//! The bodies the REST API takes and returns. Shared by the server, the Yew web app and the
//! card terminal, so it compiles to wasm32: serde, validator and utoipa only, no database and
//! no HTTP framework. Every request type rejects unknown fields.

pub mod auth;
pub mod common;
pub mod org;

// The domains' bodies stay in their modules (`dms_api_types::membership::TopUpRequest`).
pub mod crm;
pub mod devices;
pub mod member_import;
pub mod membership;

pub use auth::*;
pub use common::*;
pub use org::*;
