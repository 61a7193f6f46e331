//! The test kit's one error type.

/// What can go wrong while running a protocol peer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket or process I/O.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The other side broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A tool the peer needs is not installed (the message says which and how to get it).
    #[error("missing tool: {0}")]
    Missing(String),
    /// A daemon did not come up in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// Result with the kit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
