//! Card-number normalisation.
//!
//! Every reader model formats a card's UID differently: some print the bytes in the order the
//! card sends them, some reversed (little-endian, as many "10-digit" access-control readers do),
//! some as hexadecimal, some as a decimal number, zero-padded to a fixed width or not. The store
//! configures one [`NumberFormat`] per reader model so that the same card always yields the same
//! card number, whichever reader at the desk read it. Pure functions, no I/O.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Radix {
    /// Upper-case hexadecimal, two digits per byte.
    Hex,
    /// The bytes read as one unsigned big-endian integer, written in decimal.
    Decimal,
}

/// A reader model's number format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFormat {
    /// Reverse the UID's byte order before formatting.
    pub reverse_bytes: bool,
    /// Hexadecimal or decimal output.
    pub radix: Radix,
    /// Left-pad with zeros to this many digits (never truncates: a longer number is an error,
    /// because silently cutting digits would map two cards to one number).
    pub pad_to: Option<usize>,
}

impl Default for NumberFormat {
    /// The PC/SC convention: bytes as sent by the card, hexadecimal, no padding.
    fn default() -> Self {
        NumberFormat {
            reverse_bytes: false,
            radix: Radix::Hex,
            pad_to: None,
        }
    }
}

/// Formats a UID read from a card (e.g. GET DATA) as the store's card number.
pub fn format_uid(uid: &[u8], format: &NumberFormat) -> Result<String> {
    if uid.is_empty() {
        return Err(Error::CardNumber {
            input: String::new(),
            reason: "empty UID".into(),
        });
    }
    let mut bytes = uid.to_vec();
    if format.reverse_bytes {
        bytes.reverse();
    }
    let digits = match format.radix {
        Radix::Hex => hex::encode_upper(&bytes),
        Radix::Decimal => {
            // 16 bytes fit in u128; Mifare UIDs are 4, 7 or 10 bytes.
            if bytes.len() > 16 {
                return Err(Error::CardNumber {
                    input: hex::encode_upper(uid),
                    reason: "UID longer than 16 bytes cannot be written in decimal".into(),
                });
            }
            bytes
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
                .to_string()
        }
    };
    pad(digits, format.pad_to, uid)
}

/// Parses a number as a reader typed it (keyboard wedge) in `typed_as`, back to UID bytes in
/// the order the reader had them, so that [`format_uid`] can re-format it for the store.
///
/// Decimal input gives the minimal big-endian bytes, left-padded to `byte_len` if given.
pub fn parse_typed(text: &str, typed_as: Radix, byte_len: Option<usize>) -> Result<Vec<u8>> {
    let text = text.trim();
    let err = |reason: &str| Error::CardNumber {
        input: text.to_string(),
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(err("empty"));
    }
    let mut bytes = match typed_as {
        Radix::Hex => {
            let even = if text.len() % 2 == 1 {
                format!("0{text}")
            } else {
                text.to_string()
            };
            hex::decode(even).map_err(|_| err("not hexadecimal"))?
        }
        Radix::Decimal => {
            if !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("not decimal digits"));
            }
            let value: u128 = text.parse().map_err(|_| err("too large"))?;
            let all = value.to_be_bytes();
            let first = all.iter().position(|b| *b != 0).unwrap_or(all.len() - 1);
            all[first..].to_vec()
        }
    };
    if let Some(len) = byte_len {
        if bytes.len() > len {
            return Err(err("more bytes than the configured UID length"));
        }
        let mut padded = vec![0u8; len - bytes.len()];
        padded.append(&mut bytes);
        bytes = padded;
    }
    Ok(bytes)
}

/// How a keyboard-wedge reader types a card, and how the store wants the number: typed text →
/// UID bytes in card order → the store's [`NumberFormat`]. With it, a wedge reader and a PC/SC
/// reader at the same desk give the same card number for the same card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedNumber {
    /// The radix the reader types in.
    pub typed_as: Radix,
    /// The UID length in bytes (restores leading zero bytes of decimal numbers).
    pub uid_len: Option<usize>,
    /// The reader types the UID's bytes in reverse order.
    pub typed_reversed: bool,
    /// The store's format.
    pub format: NumberFormat,
}

impl TypedNumber {
    /// The store's card number for what the reader typed.
    pub fn apply(&self, typed: &str) -> Result<String> {
        let mut uid = parse_typed(typed, self.typed_as, self.uid_len)?;
        if self.typed_reversed {
            uid.reverse();
        }
        format_uid(&uid, &self.format)
    }
}

fn pad(digits: String, pad_to: Option<usize>, uid: &[u8]) -> Result<String> {
    match pad_to {
        Some(width) if digits.len() > width => Err(Error::CardNumber {
            input: hex::encode_upper(uid),
            reason: format!("{} digits do not fit the configured {width}", digits.len()),
        }),
        Some(width) => Ok(format!("{digits:0>width$}")),
        None => Ok(digits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: [u8; 4] = [0x04, 0xA2, 0x3B, 0x91];

    fn fmt(reverse_bytes: bool, radix: Radix, pad_to: Option<usize>) -> NumberFormat {
        NumberFormat {
            reverse_bytes,
            radix,
            pad_to,
        }
    }

    #[test]
    fn hex_in_card_order_is_the_default() {
        assert_eq!(
            format_uid(&UID, &NumberFormat::default()).unwrap(),
            "04A23B91"
        );
    }

    #[test]
    fn reversed_hex() {
        assert_eq!(
            format_uid(&UID, &fmt(true, Radix::Hex, None)).unwrap(),
            "913BA204"
        );
    }

    #[test]
    fn decimal_and_reversed_decimal_padded_to_ten_digits() {
        // 0x04A23B91 = 77740945, 0x913BA204 = 2436604420
        assert_eq!(
            format_uid(&UID, &fmt(false, Radix::Decimal, None)).unwrap(),
            "77740945"
        );
        assert_eq!(
            format_uid(&UID, &fmt(false, Radix::Decimal, Some(10))).unwrap(),
            "0077740945"
        );
        assert_eq!(
            format_uid(&UID, &fmt(true, Radix::Decimal, Some(10))).unwrap(),
            "2436604420"
        );
    }

    #[test]
    fn seven_byte_uid_in_decimal() {
        let uid = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        assert_eq!(
            format_uid(&uid, &fmt(false, Radix::Decimal, None)).unwrap(),
            u128::from_str_radix("04112233445566", 16)
                .unwrap()
                .to_string()
        );
    }

    #[test]
    fn padding_never_truncates() {
        assert!(matches!(
            format_uid(&UID, &fmt(true, Radix::Decimal, Some(8))),
            Err(Error::CardNumber { .. })
        ));
        assert_eq!(
            format_uid(&[0x01], &fmt(false, Radix::Hex, Some(8))).unwrap(),
            "00000001"
        );
    }

    #[test]
    fn empty_uid_is_an_error() {
        assert!(format_uid(&[], &NumberFormat::default()).is_err());
    }

    #[test]
    fn typed_numbers_round_trip_to_the_same_card_number() {
        let store = fmt(false, Radix::Hex, None);
        // A wedge reader that types reversed decimal, 10 digits:
        let bytes = parse_typed("2436604420", Radix::Decimal, Some(4)).unwrap();
        let mut card_order = bytes.clone();
        card_order.reverse();
        assert_eq!(format_uid(&card_order, &store).unwrap(), "04A23B91");
        // Leading zeros typed by the reader are kept as zero bytes when a length is given.
        assert_eq!(
            parse_typed("0077740945", Radix::Decimal, Some(4)).unwrap(),
            UID
        );
        assert_eq!(parse_typed("4a23b91", Radix::Hex, Some(4)).unwrap(), UID);
    }

    #[test]
    fn a_wedge_typing_reversed_decimal_matches_the_pcsc_default() {
        let wedge = TypedNumber {
            typed_as: Radix::Decimal,
            uid_len: Some(4),
            typed_reversed: true,
            format: NumberFormat::default(),
        };
        assert_eq!(
            wedge.apply("2436604420").unwrap(),
            format_uid(&UID, &NumberFormat::default()).unwrap()
        );
        assert!(wedge.apply("99999999999").is_err());
    }

    #[test]
    fn typed_garbage_is_rejected() {
        assert!(parse_typed("12a4", Radix::Decimal, None).is_err());
        assert!(parse_typed("zz", Radix::Hex, None).is_err());
        assert!(parse_typed("", Radix::Hex, None).is_err());
        assert!(parse_typed("4294967296", Radix::Decimal, Some(4)).is_err());
    }
}
