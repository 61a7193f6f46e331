//! Card readers: one trait, two kinds of device.
//!
//! - [`pcsc::PcscReader`]: contactless PC/SC readers (ACR122U and similar) through pcscd;
//!   reads the UID and, where the store uses it, a card number kept in a Mifare sector.
//! - [`wedge::WedgeReader`]: USB readers that "type" the number like a keyboard; decoded from
//!   Linux `input_event` records.
//!
//! The kiosk's flows only see [`CardReader`], so a store can swap reader models by
//! configuration.

pub mod pcsc;
pub mod wedge;

use std::time::Duration;

use crate::error::Result;

/// A change on the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEvent {
    /// A card was put on the reader. `uid` is what identifies it at the reader level: the
    /// card's UID for PC/SC, the typed characters for a keyboard wedge.
    Present {
        /// The identifying bytes.
        uid: Vec<u8>,
    },
    /// The card was taken away (a wedge reader reports this right after the number).
    Removed,
}

/// A card reader as the kiosk uses it.
pub trait CardReader {
    /// Waits at most `timeout` for the next change; `Ok(None)` when nothing happened.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>>;

    /// The card number of the card on the reader (or of the last number typed), formatted
    /// as the store configured it.
    fn read_card_number(&mut self) -> Result<String>;
}
