//! The crate's one error type.
//!
//! Device failures a person at the desk must act on (paper out, card removed too early, wrong
//! sector key) are separate variants so the UI can show a precise message instead of a generic
//! "device error".

use std::path::PathBuf;

use crate::apdu::StatusWord;

/// Everything that can go wrong in the terminal's device layer and journal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PC/SC service or a reader reported an error.
    #[error("PC/SC: {0}")]
    Pcsc(#[from] pcsc::Error),
    /// No PC/SC reader with the configured name (or none at all) is attached.
    #[error("no card reader found{}", .0.as_ref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    NoReader(Option<String>),
    /// A read was requested while no card lies on the reader.
    #[error("no card on the reader")]
    NoCard,
    /// The card answered an APDU with a status word other than 90 00.
    #[error("card answered {0}")]
    Card(StatusWord),
    /// The card refused authentication with the configured sector key.
    #[error("sector key rejected for block {block} ({sw})")]
    AuthenticationFailed { block: u8, sw: StatusWord },
    /// An answer from the card or reader did not have the expected shape.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A card number could not be normalised.
    #[error("invalid card number {input:?}: {reason}")]
    CardNumber { input: String, reason: String },
    /// A keyboard-wedge number was typed too slowly to come from a reader.
    #[error("input typed too slowly for a card reader (gap {gap_ms} ms > {max_ms} ms)")]
    HumanTyping { gap_ms: u64, max_ms: u64 },
    /// The printer reports it is offline (cover open, error, feed button held).
    #[error("printer offline{}", .0.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    PrinterOffline(Option<String>),
    /// The printer's paper roll is empty.
    #[error("printer out of paper")]
    PaperOut,
    /// The printer did not answer a real-time status request.
    #[error("printer does not answer status requests")]
    PrinterNoResponse,
    /// Text that the printer's code page (GBK) cannot represent.
    #[error("text not representable in GBK: {0:?}")]
    Unencodable(String),
    /// A PIN that does not have the allowed shape.
    #[error("a PIN is 4 to 12 digits")]
    InvalidPin,
    /// The journal file holds a line that is not a journal record.
    #[error("journal {path}: line {line}: {reason}")]
    JournalCorrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A journal transition that is not allowed (e.g. confirming an unknown key).
    #[error("journal: {0}")]
    Journal(String),
    /// Operating-system I/O (device files, sockets, the journal).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// JSON (de)serialisation of journal records.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
