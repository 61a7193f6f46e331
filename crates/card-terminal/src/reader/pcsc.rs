//! PC/SC contactless readers through pcscd (the `pcsc` crate over libpcsclite).
//!
//! Card presence comes from `SCardGetStatusChange`, so the kiosk sleeps in pcscd instead of
//! polling. The card number is either the formatted UID or, for stores that write their own
//! numbers onto Mifare Classic cards, the ASCII digits of one block of a protected sector.

use std::ffi::{CStr, CString};
use std::time::Duration;

use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State, MAX_BUFFER_SIZE};
use serde::{Deserialize, Serialize};

use crate::apdu::{self, Command, KeyType, Response};
use crate::error::{Error, Result};
use crate::normalize::{format_uid, NumberFormat};
use crate::reader::{CardEvent, CardReader};

/// Where the card number comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberSource {
    /// The card's UID, formatted for the store.
    Uid(NumberFormat),
    /// ASCII digits in one block of a Mifare Classic 1K sector, opened with a sector key.
    Sector {
        /// Absolute block number (0..64), not a sector trailer.
        block: u8,
        /// Which key of the sector.
        key_type: KeyType,
        /// The 6-byte key.
        key: [u8; 6],
    },
}

/// Driver configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcscConfig {
    /// Use the first reader whose name contains this text; `None` = the first reader.
    pub reader_name: Option<String>,
    /// Where the number comes from.
    pub number: NumberSource,
}

/// A PC/SC reader.
pub struct PcscReader {
    ctx: Context,
    reader: CString,
    config: PcscConfig,
    /// Last state pcscd reported, so `get_status_change` only wakes on a change.
    known_state: State,
    card_present: bool,
}

impl std::fmt::Debug for PcscReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscReader")
            .field("reader", &self.reader)
            .field("card_present", &self.card_present)
            .finish()
    }
}

/// Names of the readers pcscd knows.
pub fn list_readers() -> Result<Vec<String>> {
    let ctx = Context::establish(Scope::User)?;
    reader_names(&ctx)
}

fn reader_names(ctx: &Context) -> Result<Vec<String>> {
    let len = match ctx.list_readers_len() {
        Ok(len) => len,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut buf = vec![0u8; len];
    match ctx.list_readers(&mut buf) {
        Ok(names) => Ok(names.map(|n| n.to_string_lossy().into_owned()).collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

impl PcscReader {
    /// Connects to pcscd and picks the configured reader.
    pub fn open(config: PcscConfig) -> Result<Self> {
        if let NumberSource::Sector { block, .. } = &config.number {
            check_data_block(*block)?;
        }
        let ctx = Context::establish(Scope::User)?;
        let names = reader_names(&ctx)?;
        let chosen = names
            .into_iter()
            .find(|n| {
                config
                    .reader_name
                    .as_ref()
                    .is_none_or(|want| n.contains(want.as_str()))
            })
            .ok_or_else(|| Error::NoReader(config.reader_name.clone()))?;
        let reader = CString::new(chosen)
            .map_err(|_| Error::MalformedResponse("reader name with NUL".into()))?;
        log::info!("card reader: {reader:?}");
        Ok(PcscReader {
            ctx,
            reader,
            config,
            known_state: State::UNAWARE,
            card_present: false,
        })
    }

    /// The reader's name as pcscd reports it.
    pub fn name(&self) -> &CStr {
        &self.reader
    }

    fn connect(&self) -> Result<pcsc::Card> {
        match self
            .ctx
            .connect(&self.reader, ShareMode::Shared, Protocols::ANY)
        {
            Ok(card) => Ok(card),
            Err(pcsc::Error::NoSmartcard) | Err(pcsc::Error::RemovedCard) => Err(Error::NoCard),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the UID of the card on the reader.
    pub fn read_uid(&self) -> Result<Vec<u8>> {
        let card = self.connect()?;
        transmit(&card, &apdu::get_uid())
    }

    /// Reads one 16-byte block after loading `key` into slot 0 and authenticating.
    pub fn read_block(&self, block: u8, key_type: KeyType, key: &[u8; 6]) -> Result<[u8; 16]> {
        let card = self.connect()?;
        open_block(&card, block, key_type, key)?;
        let data = transmit(&card, &apdu::read_block(block))?;
        data.as_slice()
            .try_into()
            .map_err(|_| Error::MalformedResponse(format!("block of {} bytes", data.len())))
    }

    /// Writes the store's card number into `block` as ASCII, zero-filled, and reads it back
    /// (issuing a card at the desk). Refuses trailer blocks and block 0, which would lock the
    /// sector or cannot be written.
    pub fn write_number(
        &self,
        block: u8,
        key_type: KeyType,
        key: &[u8; 6],
        number: &str,
    ) -> Result<()> {
        check_data_block(block)?;
        if number.is_empty()
            || number.len() > 16
            || !number.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::CardNumber {
                input: number.to_string(),
                reason: "1 to 16 ASCII letters or digits fit a block".into(),
            });
        }
        let mut data = [0u8; 16];
        data[..number.len()].copy_from_slice(number.as_bytes());
        let card = self.connect()?;
        open_block(&card, block, key_type, key)?;
        transmit(&card, &apdu::update_block(block, &data))?;
        // Read back: a card pulled away mid-write must not count as issued.
        let back = transmit(&card, &apdu::read_block(block))?;
        if back != data {
            return Err(Error::MalformedResponse(format!(
                "block {block} reads back {} after writing",
                hex::encode_upper(&back)
            )));
        }
        Ok(())
    }
}

fn check_data_block(block: u8) -> Result<()> {
    if block >= 64 || block % 4 == 3 || block == 0 {
        return Err(Error::Config(format!(
            "block {block} is not a data block of a Mifare Classic 1K"
        )));
    }
    Ok(())
}

/// Loads `key` into the reader's slot 0 and authenticates `block`'s sector with it.
fn open_block(card: &pcsc::Card, block: u8, key_type: KeyType, key: &[u8; 6]) -> Result<()> {
    transmit(card, &apdu::load_key(0, key))?;
    match transmit(card, &apdu::authenticate(block, key_type, 0)) {
        Ok(_) => Ok(()),
        Err(Error::Card(sw)) => Err(Error::AuthenticationFailed { block, sw }),
        Err(e) => Err(e),
    }
}

fn transmit(card: &pcsc::Card, command: &Command) -> Result<Vec<u8>> {
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    let raw = match card.transmit(&command.to_bytes(), &mut buf) {
        Ok(raw) => raw,
        Err(pcsc::Error::RemovedCard) | Err(pcsc::Error::NoSmartcard) => return Err(Error::NoCard),
        Err(e) => return Err(e.into()),
    };
    Response::parse(raw)?.into_ok()
}

/// The digits of a number block: ASCII, ended by the first NUL, space or 0xFF filler.
pub fn number_from_block(block: &[u8; 16]) -> Result<String> {
    let end = block
        .iter()
        .position(|b| matches!(b, 0x00 | b' ' | 0xFF))
        .unwrap_or(block.len());
    let text = &block[..end];
    if text.is_empty() || !text.iter().all(u8::is_ascii_alphanumeric) {
        return Err(Error::CardNumber {
            input: hex::encode_upper(block),
            reason: "the number block holds no ASCII card number".into(),
        });
    }
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// Errors after which the PC/SC context is dead (pcscd restarted, reader unplugged and
/// replugged) and a new one must be established.
fn context_lost(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::CommError
            | pcsc::Error::UnknownReader
            | pcsc::Error::ReaderUnavailable
            | pcsc::Error::NoReadersAvailable
    )
}

impl PcscReader {
    /// Establishes a new context after pcscd went away; the reader must be back under the same
    /// name. A card seen before is reported removed first, so the flows restart cleanly.
    fn recover(&mut self) -> Result<Option<CardEvent>> {
        let ctx = Context::establish(Scope::User)?;
        let wanted = self.reader.to_string_lossy().into_owned();
        if !reader_names(&ctx)?.contains(&wanted) {
            return Err(Error::NoReader(Some(wanted)));
        }
        log::info!("card reader {wanted:?}: PC/SC context re-established");
        self.ctx = ctx;
        self.known_state = State::UNAWARE;
        if std::mem::take(&mut self.card_present) {
            return Ok(Some(CardEvent::Removed));
        }
        Ok(None)
    }
}

impl CardReader for PcscReader {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>> {
        let mut states = [ReaderState::new(self.reader.clone(), self.known_state)];
        match self.ctx.get_status_change(timeout, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Ok(None),
            Err(e) if context_lost(e) => {
                log::warn!("card reader: {e}; reconnecting to pcscd");
                return match self.recover() {
                    Ok(event) => Ok(event),
                    Err(again) => {
                        // Do not spin when pcscd is down: the caller's timeout is the pace.
                        std::thread::sleep(timeout.min(Duration::from_secs(1)));
                        Err(again)
                    }
                };
            }
            Err(e) => return Err(e.into()),
        }
        let [state] = &mut states;
        let now = state.event_state();
        // Keep the counter bits pcscd puts in the high word, so the next call only wakes on a
        // real change; CHANGED itself must not be passed back.
        self.known_state = now - State::CHANGED;
        let present = now.contains(State::PRESENT) && !now.contains(State::MUTE);
        if present == self.card_present {
            return Ok(None);
        }
        self.card_present = present;
        if !present {
            return Ok(Some(CardEvent::Removed));
        }
        match self.read_uid() {
            Ok(uid) => Ok(Some(CardEvent::Present { uid })),
            // The card left again before we could read it: report nothing, the next call sees
            // the removal.
            Err(Error::NoCard) => {
                self.card_present = false;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn read_card_number(&mut self) -> Result<String> {
        match &self.config.number {
            NumberSource::Uid(format) => format_uid(&self.read_uid()?, format),
            NumberSource::Sector {
                block,
                key_type,
                key,
            } => number_from_block(&self.read_block(*block, *key_type, key)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_block_is_ascii_until_filler() {
        let mut block = [0u8; 16];
        block[..10].copy_from_slice(b"8800012345");
        assert_eq!(number_from_block(&block).unwrap(), "8800012345");
        let mut ff = [0xFFu8; 16];
        ff[..4].copy_from_slice(b"1234");
        assert_eq!(number_from_block(&ff).unwrap(), "1234");
        assert!(number_from_block(&[0u8; 16]).is_err());
        assert!(number_from_block(&[0x80u8; 16]).is_err());
    }
}
