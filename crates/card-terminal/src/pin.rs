//! The card PIN on the terminal.
//!
//! A PIN exists only in memory, for the one request that carries it to the API: [`Pin`] has no
//! `Display`, `Serialize` or `Clone`, its `Debug` is redacted, and its bytes are overwritten
//! when it is dropped (the `zeroize` crate, whose writes the optimiser may not remove). The
//! journal and the logs therefore cannot contain it by construction.

use std::fmt;

use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Shortest and longest PIN accepted on the keypad.
pub const PIN_LEN: std::ops::RangeInclusive<usize> = 4..=12;

/// A card PIN: 4 to 12 digits.
pub struct Pin(String);

impl Pin {
    /// Validates and wraps the digits.
    pub fn new(digits: &str) -> Result<Pin> {
        if PIN_LEN.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(digits.to_string()))
        } else {
            Err(Error::InvalidPin)
        }
    }

    /// The digits, to put in the one API request body that needs them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What the keypad collects while the member types: shows only dots.
#[derive(Default)]
pub struct PinEntry(String);

impl PinEntry {
    /// An empty entry.
    pub fn new() -> Self {
        PinEntry(String::new())
    }

    /// Adds a digit (other keys are ignored; a full entry ignores more digits).
    pub fn push(&mut self, c: char) {
        if c.is_ascii_digit() && self.0.len() < *PIN_LEN.end() {
            self.0.push(c);
        }
    }

    /// Removes the last digit.
    pub fn backspace(&mut self) {
        if let Some(c) = self.0.pop() {
            // Overwrite the popped digit's copy too.
            let mut c = c.to_string();
            c.zeroize();
        }
    }

    /// What the screen shows: one dot per digit.
    pub fn masked(&self) -> String {
        "●".repeat(self.0.len())
    }

    /// Ends the entry, yielding a [`Pin`] if it has an allowed length.
    pub fn finish(mut self) -> Result<Pin> {
        let pin = Pin::new(&self.0);
        self.0.zeroize();
        pin
    }
}

impl fmt::Debug for PinEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinEntry({} digits)", self.0.len())
    }
}

impl Drop for PinEntry {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert!(Pin::new("1234").is_ok());
        assert!(Pin::new("123").is_err());
        assert!(Pin::new("12a4").is_err());
        assert!(Pin::new("1234567890123").is_err());
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let pin = Pin::new("135790").unwrap();
        let shown = format!("{pin:?} {:?}", Some(&pin));
        assert!(!shown.contains("135790"), "{shown}");
        assert_eq!(pin.expose(), "135790");
    }

    #[test]
    fn keypad_entry_masks_and_edits() {
        let mut e = PinEntry::new();
        for c in "12x45".chars() {
            e.push(c);
        }
        assert_eq!(e.masked(), "●●●●");
        e.backspace();
        e.push('9');
        assert_eq!(format!("{e:?}"), "PinEntry(4 digits)");
        assert_eq!(e.finish().unwrap().expose(), "1249");
    }
}
