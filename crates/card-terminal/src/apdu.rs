//! The APDU layer: builds the PC/SC reader-level pseudo-APDUs we send to contactless readers
//! (PC/SC part 3 storage-card commands, as ACR122U-class readers implement them) and parses
//! the trailing status word into typed outcomes.
//!
//! Kept free of I/O so that the byte layout is unit-tested here and shared with the virtual
//! card in `dms-test-kit`, which must agree with it byte for byte.

use std::fmt;

use crate::error::{Error, Result};

/// A Mifare Classic key slot: which of the sector's two keys a block is opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyType {
    /// Key A (authentication code 0x60).
    A,
    /// Key B (authentication code 0x61).
    B,
}

impl KeyType {
    /// The key-type byte of GENERAL AUTHENTICATE.
    pub fn code(self) -> u8 {
        match self {
            KeyType::A => 0x60,
            KeyType::B => 0x61,
        }
    }
}

/// SW1 SW2 of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusWord(pub u8, pub u8);

impl StatusWord {
    /// 90 00: success.
    pub const OK: StatusWord = StatusWord(0x90, 0x00);

    /// Whether the command succeeded.
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// What the status word means, in the readers' usual dialect.
    pub fn meaning(self) -> &'static str {
        match (self.0, self.1) {
            (0x90, 0x00) => "success",
            (0x62, 0x82) => "end of data reached before Le bytes",
            (0x63, 0x00) => "operation failed (e.g. authentication)",
            (0x65, 0x81) => "memory failure",
            (0x67, 0x00) => "wrong length",
            (0x68, 0x00) => "class byte not supported",
            (0x69, 0x81) => "command incompatible with the card",
            (0x69, 0x82) => "security status not satisfied (not authenticated)",
            (0x69, 0x83) => "authentication method blocked",
            (0x69, 0x86) => "command not allowed (no current block or key)",
            (0x6A, 0x81) => "function not supported",
            (0x6A, 0x82) => "block or file not found",
            (0x6B, 0x00) => "wrong parameters P1 P2",
            (0x6D, 0x00) => "instruction not supported",
            (0x6E, 0x00) => "class not supported",
            _ => "unknown status",
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X} {:02X} ({})", self.0, self.1, self.meaning())
    }
}

/// A command APDU (short form only: the reader pseudo-APDUs never need extended length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// CLA INS P1 P2.
    pub header: [u8; 4],
    /// Command data (Lc is derived from its length).
    pub data: Vec<u8>,
    /// Expected response length; `Some(0)` encodes as 00 = up to 256.
    pub le: Option<u8>,
}

impl Command {
    /// Serialises to the bytes sent to the reader.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.data.len() + 1);
        out.extend_from_slice(&self.header);
        if !self.data.is_empty() {
            // Lc is one byte; every builder below keeps data well under 256 bytes.
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }
}

/// GET DATA (FF CA 00 00 00): the UID of the card on the reader.
pub fn get_uid() -> Command {
    Command {
        header: [0xFF, 0xCA, 0x00, 0x00],
        data: Vec::new(),
        le: Some(0x00),
    }
}

/// LOAD KEYS (FF 82 00 nn 06 key): stores a 6-byte Mifare key in the reader's volatile slot `slot`.
pub fn load_key(slot: u8, key: &[u8; 6]) -> Command {
    Command {
        header: [0xFF, 0x82, 0x00, slot],
        data: key.to_vec(),
        le: None,
    }
}

/// GENERAL AUTHENTICATE (FF 86 00 00 05 01 00 block keytype slot).
pub fn authenticate(block: u8, key_type: KeyType, slot: u8) -> Command {
    Command {
        header: [0xFF, 0x86, 0x00, 0x00],
        data: vec![0x01, 0x00, block, key_type.code(), slot],
        le: None,
    }
}

/// READ BINARY (FF B0 00 block 10): one 16-byte Mifare block.
pub fn read_block(block: u8) -> Command {
    Command {
        header: [0xFF, 0xB0, 0x00, block],
        data: Vec::new(),
        le: Some(0x10),
    }
}

/// UPDATE BINARY (FF D6 00 block 10 data): writes one 16-byte Mifare block.
pub fn update_block(block: u8, data: &[u8; 16]) -> Command {
    Command {
        header: [0xFF, 0xD6, 0x00, block],
        data: data.to_vec(),
        le: None,
    }
}

/// A response APDU split into data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data without SW1 SW2.
    pub data: Vec<u8>,
    /// The trailing status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw response bytes; fewer than two bytes is malformed.
    pub fn parse(raw: &[u8]) -> Result<Self> {
        match raw {
            [data @ .., sw1, sw2] => Ok(Response {
                data: data.to_vec(),
                sw: StatusWord(*sw1, *sw2),
            }),
            _ => Err(Error::MalformedResponse(format!(
                "{} byte(s), a response needs at least SW1 SW2",
                raw.len()
            ))),
        }
    }

    /// The data if the status word is 90 00, otherwise [`Error::Card`].
    pub fn into_ok(self) -> Result<Vec<u8>> {
        if self.sw.is_ok() {
            Ok(self.data)
        } else {
            Err(Error::Card(self.sw))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_reader_pseudo_apdus_byte_for_byte() {
        assert_eq!(get_uid().to_bytes(), [0xFF, 0xCA, 0x00, 0x00, 0x00]);
        assert_eq!(
            load_key(0, &[0xFF; 6]).to_bytes(),
            [0xFF, 0x82, 0x00, 0x00, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            authenticate(4, KeyType::A, 0).to_bytes(),
            [0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, 0x04, 0x60, 0x00]
        );
        assert_eq!(
            authenticate(7, KeyType::B, 1).to_bytes()[5..],
            [0x01, 0x00, 0x07, 0x61, 0x01]
        );
        assert_eq!(read_block(5).to_bytes(), [0xFF, 0xB0, 0x00, 0x05, 0x10]);
        let write = update_block(5, &[0xAB; 16]).to_bytes();
        assert_eq!(write[..5], [0xFF, 0xD6, 0x00, 0x05, 0x10]);
        assert_eq!(write[5..], [0xAB; 16]);
    }

    #[test]
    fn parses_status_words_into_typed_errors() {
        let ok = Response::parse(&[0x01, 0x02, 0x90, 0x00]).unwrap();
        assert_eq!(ok.clone().into_ok().unwrap(), vec![1, 2]);
        let failed = Response::parse(&[0x63, 0x00]).unwrap();
        assert!(matches!(
            failed.into_ok(),
            Err(Error::Card(StatusWord(0x63, 0x00)))
        ));
        assert!(matches!(
            Response::parse(&[0x90]),
            Err(Error::MalformedResponse(_))
        ));
        assert_eq!(
            StatusWord(0x69, 0x82).to_string(),
            "69 82 (security status not satisfied (not authenticated))"
        );
    }
}
