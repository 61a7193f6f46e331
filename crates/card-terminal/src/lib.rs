//! The service-desk card terminal ("kiosk"): the device layer and the local safety journal.
//!
//! The kiosk talks to the server only over the REST API; this crate holds what needs no API:
//! card readers ([`reader`]), the receipt printer ([`printer`]), visual rewritable card faces
//! ([`face`]), the journal of money requests ([`journal`]) and the PIN type ([`pin`]).
//! Every device class is a trait with a real driver so that the flows can be written once and
//! tested against real protocol peers (see the `dms-test-kit` crate).

pub mod apdu;
pub mod error;
pub mod face;
pub mod journal;
pub mod kiosk;
pub mod normalize;
pub mod pin;
pub mod printer;
pub mod reader;

pub use error::{Error, Result};
