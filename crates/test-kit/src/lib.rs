//! Protocol peers for tests: real peers that speak the devices' wire protocols, so the card
//! terminal's drivers are tested over the same bytes they exchange with hardware.
//!
//! - [`mifare`]: a Mifare Classic 1K card as a contactless PC/SC reader presents it (the
//!   reader-level pseudo-APDUs: GET DATA, LOAD KEY, GENERAL AUTHENTICATE, READ/UPDATE BINARY),
//!   enforcing the sector keys.
//! - [`vpcd`]: the card's side ("vicc") of vsmartcard's vpcd socket protocol, so pcscd with
//!   Debian's `vsmartcard-vpcd` driver sees the virtual card in a virtual reader; cards can be
//!   tapped and removed. Also the reader's side, to test the card without pcscd.
//! - [`pcscd`]: starts a private `pcscd` wired to a virtual reader, isolated per test run.
//! - [`escpos`]: a loopback ESC/POS printer on TCP that renders what it receives as text and can
//!   be told to report offline, paper out, or to drop the connection.
//!
//! The PC/SC tests need, on Debian 12: `pcscd`, `vsmartcard-vpcd`, `libpcsclite-dev` and
//! `pkg-config` (to build the `pcsc` crate), `socat`, `iproute2` and `util-linux` (`unshare`),
//! and root. They start their own pcscd (no system pcscd is needed or touched) and skip with a
//! message when a piece is missing, unless `DMS_REQUIRE_DEVICES=1`.

pub mod error;
pub mod escpos;
pub mod mifare;
pub mod pcscd;
pub mod vpcd;

pub use error::{Error, Result};
