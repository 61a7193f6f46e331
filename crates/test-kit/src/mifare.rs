//! A virtual Mifare Classic 1K card, seen through a PC/SC contactless reader.
//!
//! A real reader (ACR122U and the like) does not pass Mifare's own crypto commands to the
//! host: it offers "pseudo-APDUs" with CLA FF that its firmware turns into card operations,
//! and keeps the loaded keys and the authenticated sector itself. This type plays card and
//! reader firmware together, answering exactly those APDUs with the status words real readers
//! use, so the terminal's driver is tested against the same bytes.
//!
//! Memory: 16 sectors of 4 blocks of 16 bytes; the last block of each sector is the trailer
//! (key A, access bits, key B). Both keys may read and write the data blocks (the access
//! conditions most stores use for a number sector); a trailer reads back with key A hidden.

/// The ATR a PC/SC reader builds for a Mifare Classic 1K (PC/SC part 3, storage card, NN=0001).
pub const ATR_MIFARE_1K: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// The factory ("transport") key.
pub const DEFAULT_KEY: [u8; 6] = [0xFF; 6];

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_AUTH_FAILED: [u8; 2] = [0x63, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
const SW_NOT_AUTHENTICATED: [u8; 2] = [0x69, 0x82];
const SW_NOT_ALLOWED: [u8; 2] = [0x69, 0x86];
const SW_FUNCTION_NOT_SUPPORTED: [u8; 2] = [0x6A, 0x81];
const SW_BLOCK_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
const SW_WRONG_P1P2: [u8; 2] = [0x6B, 0x00];
const SW_INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];
const SW_CLA_NOT_SUPPORTED: [u8; 2] = [0x6E, 0x00];

/// A card together with the reader-side state (key slots, authenticated sector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MifareClassic1k {
    uid: [u8; 4],
    blocks: Vec<[u8; 16]>,
    /// The reader's two volatile key slots.
    key_slots: [Option<[u8; 6]>; 2],
    /// Sector opened by the last successful authentication.
    authenticated: Option<u8>,
}

impl MifareClassic1k {
    /// A blank card with this UID and the transport keys everywhere.
    pub fn new(uid: [u8; 4]) -> Self {
        let mut blocks = vec![[0u8; 16]; 64];
        // Block 0: UID, BCC (XOR of the UID bytes), SAK, ATQA, manufacturer data.
        let bcc = uid.iter().fold(0u8, |a, b| a ^ b);
        blocks[0][..4].copy_from_slice(&uid);
        blocks[0][4] = bcc;
        blocks[0][5] = 0x08;
        blocks[0][6] = 0x04;
        let mut card = MifareClassic1k {
            uid,
            blocks,
            key_slots: [None, None],
            authenticated: None,
        };
        for sector in 0..16 {
            card.set_sector_keys(sector, DEFAULT_KEY, DEFAULT_KEY);
        }
        card
    }

    /// Sets key A and key B of `sector` (access bits stay the transport ones).
    pub fn set_sector_keys(&mut self, sector: u8, key_a: [u8; 6], key_b: [u8; 6]) {
        let trailer = &mut self.blocks[usize::from(sector) * 4 + 3];
        trailer[..6].copy_from_slice(&key_a);
        trailer[6..10].copy_from_slice(&[0xFF, 0x07, 0x80, 0x69]);
        trailer[10..].copy_from_slice(&key_b);
    }

    /// Writes a data block directly (card personalisation in a test).
    pub fn with_block(mut self, block: u8, data: [u8; 16]) -> Self {
        self.blocks[usize::from(block)] = data;
        self
    }

    /// Writes ASCII `number` into `block`, zero-filled, the layout the terminal reads.
    pub fn with_number(self, block: u8, number: &str) -> Self {
        let mut data = [0u8; 16];
        let n = number.len().min(16);
        data[..n].copy_from_slice(&number.as_bytes()[..n]);
        self.with_block(block, data)
    }

    /// The card's UID.
    pub fn uid(&self) -> [u8; 4] {
        self.uid
    }

    /// A block's current content.
    pub fn block(&self, block: u8) -> [u8; 16] {
        self.blocks[usize::from(block) % 64]
    }

    /// Forgets the authentication (power off, reset, card leaves the field).
    pub fn reset(&mut self) {
        self.authenticated = None;
    }

    /// Answers one command APDU with response data + SW1 SW2.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Some((&[cla, ins, p1, p2], body)) = apdu.split_first_chunk::<4>() else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if cla != 0xFF {
            return SW_CLA_NOT_SUPPORTED.to_vec();
        }
        match ins {
            0xCA => self.get_data(p1, p2),
            0x82 => self.load_key(p2, body),
            0x86 => match body {
                [0x05, 0x01, 0x00, block, key_type, slot] => {
                    self.authenticate(*block, *key_type, *slot)
                }
                _ => SW_WRONG_LENGTH.to_vec(),
            },
            // The obsolete form some drivers still send: FF 88 00 block keytype slot.
            0x88 => match body {
                [key_type, slot] => self.authenticate(p2, *key_type, *slot),
                _ => SW_WRONG_LENGTH.to_vec(),
            },
            0xB0 => self.read_binary(p1, p2, body),
            0xD6 => self.update_binary(p1, p2, body),
            _ => SW_INS_NOT_SUPPORTED.to_vec(),
        }
    }

    fn get_data(&self, p1: u8, p2: u8) -> Vec<u8> {
        match (p1, p2) {
            (0x00, 0x00) => ok(&self.uid),
            // P1=01 asks for the ATS, which a Mifare Classic does not have.
            (0x01, 0x00) => SW_FUNCTION_NOT_SUPPORTED.to_vec(),
            _ => SW_WRONG_P1P2.to_vec(),
        }
    }

    fn load_key(&mut self, slot: u8, body: &[u8]) -> Vec<u8> {
        let [0x06, key @ ..] = body else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let Ok(key) = <[u8; 6]>::try_from(key) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        match self.key_slots.get_mut(usize::from(slot)) {
            Some(s) => {
                *s = Some(key);
                SW_OK.to_vec()
            }
            None => SW_WRONG_P1P2.to_vec(),
        }
    }

    fn authenticate(&mut self, block: u8, key_type: u8, slot: u8) -> Vec<u8> {
        // A failed attempt also drops an earlier authentication, as the card's crypto state is
        // lost on the first wrong step.
        self.authenticated = None;
        if block >= 64 {
            return SW_BLOCK_NOT_FOUND.to_vec();
        }
        let Some(Some(key)) = self.key_slots.get(usize::from(slot)) else {
            return SW_NOT_ALLOWED.to_vec();
        };
        let sector = block / 4;
        let trailer = self.blocks[usize::from(sector) * 4 + 3];
        let expected = match key_type {
            0x60 => &trailer[..6],
            0x61 => &trailer[10..],
            _ => return SW_WRONG_P1P2.to_vec(),
        };
        if expected == key {
            self.authenticated = Some(sector);
            SW_OK.to_vec()
        } else {
            SW_AUTH_FAILED.to_vec()
        }
    }

    fn read_binary(&self, p1: u8, block: u8, body: &[u8]) -> Vec<u8> {
        if p1 != 0 || block >= 64 {
            return SW_BLOCK_NOT_FOUND.to_vec();
        }
        match body {
            [0x10] | [0x00] => {}
            _ => return SW_WRONG_LENGTH.to_vec(),
        }
        if self.authenticated != Some(block / 4) {
            return SW_NOT_AUTHENTICATED.to_vec();
        }
        let mut data = self.blocks[usize::from(block)];
        if block % 4 == 3 {
            // Key A is never readable.
            data[..6].fill(0);
        }
        ok(&data)
    }

    fn update_binary(&mut self, p1: u8, block: u8, body: &[u8]) -> Vec<u8> {
        if p1 != 0 || block >= 64 {
            return SW_BLOCK_NOT_FOUND.to_vec();
        }
        let [0x10, data @ ..] = body else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let Ok(data) = <[u8; 16]>::try_from(data) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if self.authenticated != Some(block / 4) {
            return SW_NOT_AUTHENTICATED.to_vec();
        }
        if block == 0 {
            // The manufacturer block is read-only on a genuine card.
            return SW_NOT_ALLOWED.to_vec();
        }
        self.blocks[usize::from(block)] = data;
        SW_OK.to_vec()
    }
}

fn ok(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.extend_from_slice(&SW_OK);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 6] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5];

    fn card() -> MifareClassic1k {
        let mut card = MifareClassic1k::new([0x04, 0xA2, 0x3B, 0x91]).with_number(4, "8800012345");
        card.set_sector_keys(1, KEY, [0xB0; 6]);
        card
    }

    #[test]
    fn uid() {
        assert_eq!(
            card().process(&[0xFF, 0xCA, 0, 0, 0]),
            [0x04, 0xA2, 0x3B, 0x91, 0x90, 0x00]
        );
    }

    #[test]
    fn read_needs_the_right_key() {
        let mut c = card();
        // Not authenticated yet.
        assert_eq!(c.process(&[0xFF, 0xB0, 0, 4, 0x10]), [0x69, 0x82]);
        // Wrong key (the transport key) loaded.
        let mut load = vec![0xFF, 0x82, 0, 0, 6];
        load.extend_from_slice(&DEFAULT_KEY);
        assert_eq!(c.process(&load), [0x90, 0x00]);
        let auth = [0xFF, 0x86, 0, 0, 5, 1, 0, 4, 0x60, 0];
        assert_eq!(c.process(&auth), [0x63, 0x00]);
        assert_eq!(c.process(&[0xFF, 0xB0, 0, 4, 0x10]), [0x69, 0x82]);
        // Right key.
        let mut load = vec![0xFF, 0x82, 0, 0, 6];
        load.extend_from_slice(&KEY);
        c.process(&load);
        assert_eq!(c.process(&auth), [0x90, 0x00]);
        let r = c.process(&[0xFF, 0xB0, 0, 4, 0x10]);
        assert_eq!(&r[..10], b"8800012345");
        assert_eq!(&r[16..], [0x90, 0x00]);
        // Authentication covers one sector only.
        assert_eq!(c.process(&[0xFF, 0xB0, 0, 8, 0x10]), [0x69, 0x82]);
        // Trailer reads with key A hidden.
        let t = c.process(&[0xFF, 0xB0, 0, 7, 0x10]);
        assert_eq!(&t[..6], [0; 6]);
        assert_eq!(&t[10..16], [0xB0; 6]);
    }

    #[test]
    fn key_b_and_unloaded_slots() {
        let mut c = card();
        assert_eq!(
            c.process(&[0xFF, 0x86, 0, 0, 5, 1, 0, 4, 0x61, 1]),
            [0x69, 0x86]
        );
        let mut load = vec![0xFF, 0x82, 0, 1, 6];
        load.extend_from_slice(&[0xB0; 6]);
        c.process(&load);
        assert_eq!(
            c.process(&[0xFF, 0x86, 0, 0, 5, 1, 0, 5, 0x61, 1]),
            [0x90, 0x00]
        );
        let mut write = vec![0xFF, 0xD6, 0, 5, 0x10];
        write.extend_from_slice(&[7; 16]);
        assert_eq!(c.process(&write), [0x90, 0x00]);
        assert_eq!(c.block(5), [7; 16]);
        c.reset();
        assert_eq!(c.process(&[0xFF, 0xB0, 0, 5, 0x10]), [0x69, 0x82]);
    }

    #[test]
    fn malformed_and_unknown_commands() {
        let mut c = card();
        assert_eq!(c.process(&[0xFF]), [0x67, 0x00]);
        assert_eq!(c.process(&[0x00, 0xA4, 4, 0]), [0x6E, 0x00]);
        assert_eq!(c.process(&[0xFF, 0x00, 0, 0]), [0x6D, 0x00]);
        assert_eq!(
            c.process(&[0xFF, 0x82, 0, 0, 5, 1, 2, 3, 4, 5]),
            [0x67, 0x00]
        );
        assert_eq!(c.process(&[0xFF, 0xCA, 1, 0, 0]), [0x6A, 0x81]);
    }
}
