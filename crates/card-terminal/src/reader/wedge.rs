//! Keyboard-wedge readers: USB HID devices that "type" the card number and press Enter.
//!
//! The decoder works on Linux `struct input_event` records (x86_64 layout: `timeval` of two
//! i64, then u16 type, u16 code, i32 value = 24 bytes, native little-endian), read from any
//! [`Read`]: a FIFO in tests, `/dev/input/eventN` on the kiosk. It uses the timestamps inside
//! the records, not the time of arrival, so a burst buffered by the kernel is judged by when
//! the keys were really pressed. Optionally it rejects numbers typed at human speed, so a
//! person at the desk cannot type a card number that only a reader should deliver.
//!
//! With the `evdev` feature, [`open_evdev`] opens a real device with an exclusive grab
//! (EVIOCGRAB), so the digits do not also land in whatever window has the focus.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::normalize::TypedNumber;
use crate::reader::{CardEvent, CardReader};

/// Size of one `struct input_event` on 64-bit Linux.
pub const EVENT_SIZE: usize = 24;
/// `EV_KEY`.
pub const EV_KEY: u16 = 0x01;
/// `EV_SYN`.
pub const EV_SYN: u16 = 0x00;
/// `EV_MSC` (HID readers send MSC_SCAN before each key).
pub const EV_MSC: u16 = 0x04;

/// Key codes used by the decoder and by tests that synthesise a reader.
pub mod keys {
    /// KEY_ENTER.
    pub const ENTER: u16 = 28;
    /// KEY_KPENTER.
    pub const KP_ENTER: u16 = 96;
    /// KEY_LEFTSHIFT.
    pub const LEFT_SHIFT: u16 = 42;
    /// KEY_RIGHTSHIFT.
    pub const RIGHT_SHIFT: u16 = 54;
    /// KEY_1 (KEY_2 .. KEY_9 follow, then KEY_0 = 11).
    pub const DIGIT_1: u16 = 2;
    /// KEY_0.
    pub const DIGIT_0: u16 = 11;
}

/// One input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// Time stamp since the epoch (from the record's `timeval`).
    pub time: Duration,
    /// Event type (EV_KEY, EV_SYN, ...).
    pub kind: u16,
    /// Key or axis code.
    pub code: u16,
    /// 1 press, 0 release, 2 autorepeat for keys.
    pub value: i32,
}

impl InputEvent {
    /// Decodes one 24-byte record.
    pub fn from_bytes(raw: &[u8; EVENT_SIZE]) -> Self {
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[at..at + 8]);
            i64::from_le_bytes(b)
        };
        let sec = i64_at(0).max(0) as u64;
        let usec = i64_at(8).clamp(0, 999_999) as u64;
        InputEvent {
            time: Duration::from_secs(sec) + Duration::from_micros(usec),
            kind: u16::from_le_bytes([raw[16], raw[17]]),
            code: u16::from_le_bytes([raw[18], raw[19]]),
            value: i32::from_le_bytes([raw[20], raw[21], raw[22], raw[23]]),
        }
    }

    /// Encodes as the kernel would (used by tests and the kiosk demo to play a reader).
    pub fn to_bytes(&self) -> [u8; EVENT_SIZE] {
        let mut out = [0u8; EVENT_SIZE];
        out[0..8].copy_from_slice(&(self.time.as_secs() as i64).to_le_bytes());
        out[8..16].copy_from_slice(&i64::from(self.time.subsec_micros()).to_le_bytes());
        out[16..18].copy_from_slice(&self.kind.to_le_bytes());
        out[18..20].copy_from_slice(&self.code.to_le_bytes());
        out[20..24].copy_from_slice(&self.value.to_le_bytes());
        out
    }
}

/// Reads the next record; `Ok(None)` at end of stream (the FIFO's writer closed).
pub fn read_event<R: Read>(src: &mut R) -> io::Result<Option<InputEvent>> {
    let mut raw = [0u8; EVENT_SIZE];
    let mut filled = 0;
    while filled < EVENT_SIZE {
        match src.read(&mut raw[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated input_event record",
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(InputEvent::from_bytes(&raw)))
}

/// The character a key produces on a US layout (the layout HID readers assume).
pub fn key_char(code: u16, shift: bool) -> Option<char> {
    const DIGITS: &[u8; 10] = b"1234567890";
    const DIGITS_SHIFTED: &[u8; 10] = b"!@#$%^&*()";
    let pick = |plain: char, shifted: char| Some(if shift { shifted } else { plain });
    match code {
        2..=11 => {
            let i = usize::from(code - 2);
            Some(char::from(if shift {
                DIGITS_SHIFTED[i]
            } else {
                DIGITS[i]
            }))
        }
        12 => pick('-', '_'),
        13 => pick('=', '+'),
        16..=25 => letter(b"qwertyuiop", code - 16, shift),
        26 => pick('[', '{'),
        27 => pick(']', '}'),
        30..=38 => letter(b"asdfghjkl", code - 30, shift),
        39 => pick(';', ':'),
        40 => pick('\'', '"'),
        41 => pick('`', '~'),
        43 => pick('\\', '|'),
        44..=50 => letter(b"zxcvbnm", code - 44, shift),
        51 => pick(',', '<'),
        52 => pick('.', '>'),
        53 => pick('/', '?'),
        57 => Some(' '),
        // Keypad digits do not change with Shift.
        71 => Some('7'),
        72 => Some('8'),
        73 => Some('9'),
        75 => Some('4'),
        76 => Some('5'),
        77 => Some('6'),
        79 => Some('1'),
        80 => Some('2'),
        81 => Some('3'),
        82 => Some('0'),
        _ => None,
    }
}

fn letter(row: &[u8], i: u16, shift: bool) -> Option<char> {
    let c = char::from(*row.get(usize::from(i))?);
    Some(if shift { c.to_ascii_uppercase() } else { c })
}

/// Decoder settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WedgeConfig {
    /// Reject a number if two key presses are further apart than this (`None`: accept any
    /// speed, e.g. when the terminal's own keyboard is the "reader").
    pub max_key_gap: Option<Duration>,
    /// Numbers shorter than this are ignored (a stray Enter is not a card).
    pub min_len: usize,
    /// How to turn the typed text into the store's card number; `None` keeps it as typed.
    #[serde(default)]
    pub number: Option<TypedNumber>,
}

impl Default for WedgeConfig {
    fn default() -> Self {
        WedgeConfig {
            max_key_gap: Some(Duration::from_millis(50)),
            min_len: 4,
            number: None,
        }
    }
}

/// Turns key events into numbers.
#[derive(Debug, Clone)]
pub struct WedgeDecoder {
    config: WedgeConfig,
    buf: String,
    left_shift: bool,
    right_shift: bool,
    last_press: Option<Duration>,
    /// The largest gap seen in the current number, kept to report a rejection.
    worst_gap: Duration,
}

impl WedgeDecoder {
    /// A decoder with `config`.
    pub fn new(config: WedgeConfig) -> Self {
        WedgeDecoder {
            config,
            buf: String::new(),
            left_shift: false,
            right_shift: false,
            last_press: None,
            worst_gap: Duration::ZERO,
        }
    }

    /// Feeds one event; returns a finished number (or its rejection) when Enter is pressed.
    pub fn feed(&mut self, ev: &InputEvent) -> Option<Result<String>> {
        if ev.kind != EV_KEY {
            return None;
        }
        match (ev.code, ev.value) {
            (keys::LEFT_SHIFT, v) => self.left_shift = v != 0,
            (keys::RIGHT_SHIFT, v) => self.right_shift = v != 0,
            // Only presses count; releases and autorepeat do not type anything for a reader.
            (code, 1) => return self.press(code, ev.time),
            _ => {}
        }
        None
    }

    fn press(&mut self, code: u16, at: Duration) -> Option<Result<String>> {
        if let Some(prev) = self.last_press {
            // A gap is measured from the previous press, including the one before Enter.
            self.worst_gap = self.worst_gap.max(at.saturating_sub(prev));
        }
        self.last_press = Some(at);
        if code == keys::ENTER || code == keys::KP_ENTER {
            let number = std::mem::take(&mut self.buf);
            let worst = std::mem::replace(&mut self.worst_gap, Duration::ZERO);
            self.last_press = None;
            if number.chars().count() < self.config.min_len {
                return None;
            }
            if let Some(max) = self.config.max_key_gap {
                if worst > max {
                    return Some(Err(Error::HumanTyping {
                        gap_ms: worst.as_millis() as u64,
                        max_ms: max.as_millis() as u64,
                    }));
                }
            }
            return Some(Ok(number));
        }
        if let Some(c) = key_char(code, self.left_shift || self.right_shift) {
            self.buf.push(c);
        }
        None
    }
}

/// Decodes every number in a stream until it ends (for tools and tests).
pub fn decode_all<R: Read>(mut src: R, config: WedgeConfig) -> io::Result<Vec<Result<String>>> {
    let mut decoder = WedgeDecoder::new(config);
    let mut out = Vec::new();
    while let Some(ev) = read_event(&mut src)? {
        if let Some(done) = decoder.feed(&ev) {
            out.push(done);
        }
    }
    Ok(out)
}

/// A keyboard-wedge reader: a background thread decodes the event stream, the kiosk takes
/// numbers with a timeout.
#[derive(Debug)]
pub struct WedgeReader {
    rx: Receiver<Result<String>>,
    last: Option<String>,
    removal_due: bool,
    number: Option<TypedNumber>,
}

impl WedgeReader {
    /// Decodes events from `src` (a FIFO, `/dev/input/eventN`, or any byte stream of
    /// `input_event` records) on a thread of its own.
    pub fn spawn<R: Read + Send + 'static>(mut src: R, config: WedgeConfig) -> Self {
        let number = config.number.clone();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut decoder = WedgeDecoder::new(config);
            loop {
                match read_event(&mut src) {
                    Ok(Some(ev)) => {
                        if let Some(done) = decoder.feed(&ev) {
                            if tx.send(done).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Io(e)));
                        return;
                    }
                }
            }
        });
        WedgeReader {
            rx,
            last: None,
            removal_due: false,
            number,
        }
    }

    /// Waits for the next outcome from the decoder; rejections come back as errors.
    pub fn next_number(&mut self, timeout: Duration) -> Result<Option<String>> {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(number)) => {
                self.last = Some(number.clone());
                Ok(Some(number))
            }
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the wedge reader's event stream ended",
            ))),
        }
    }
}

impl CardReader for WedgeReader {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>> {
        // A wedge has no presence detection: each number is a tap followed by a removal.
        if self.removal_due {
            self.removal_due = false;
            return Ok(Some(CardEvent::Removed));
        }
        match self.next_number(timeout)? {
            Some(number) => {
                self.removal_due = true;
                Ok(Some(CardEvent::Present {
                    uid: number.into_bytes(),
                }))
            }
            None => Ok(None),
        }
    }

    fn read_card_number(&mut self) -> Result<String> {
        let typed = self.last.as_deref().ok_or(Error::NoCard)?;
        match &self.number {
            Some(number) => number.apply(typed),
            None => Ok(typed.to_string()),
        }
    }
}

/// Opens `/dev/input/eventN` with an exclusive grab and feeds its key events into a
/// [`WedgeReader`].
#[cfg(feature = "evdev")]
pub fn open_evdev(path: &std::path::Path, config: WedgeConfig) -> Result<WedgeReader> {
    let mut device = evdev::Device::open(path)?;
    // Without the grab the reader's digits would also reach the focused window.
    device.grab()?;
    let number = config.number.clone();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut decoder = WedgeDecoder::new(config);
        loop {
            let events = match device.fetch_events() {
                Ok(events) => events.collect::<Vec<_>>(),
                Err(e) => {
                    let _ = tx.send(Err(Error::Io(e)));
                    return;
                }
            };
            for ev in events {
                let time = ev
                    .timestamp()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let ours = InputEvent {
                    time,
                    kind: ev.event_type().0,
                    code: ev.code(),
                    value: ev.value(),
                };
                if let Some(done) = decoder.feed(&ours) {
                    if tx.send(done).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(WedgeReader {
        rx,
        last: None,
        removal_due: false,
        number,
    })
}

/// Builds the event records a reader emits when it types `text` + Enter, one key every
/// `gap` starting at `start` (for tests and the demo's simulated reader).
pub fn synthesize(text: &str, start: Duration, gap: Duration) -> Vec<InputEvent> {
    let mut out = Vec::new();
    let mut t = start;
    let mut key = |code: u16, value: i32, at: Duration| {
        out.push(InputEvent {
            time: at,
            kind: EV_MSC,
            code: 4,
            value: i32::from(code),
        });
        out.push(InputEvent {
            time: at,
            kind: EV_KEY,
            code,
            value,
        });
        out.push(InputEvent {
            time: at,
            kind: EV_SYN,
            code: 0,
            value: 0,
        });
    };
    for c in text.chars().chain(std::iter::once('\n')) {
        let (code, shift) = if c == '\n' {
            (keys::ENTER, false)
        } else {
            match code_for(c) {
                Some(found) => found,
                None => continue,
            }
        };
        if shift {
            key(keys::LEFT_SHIFT, 1, t);
        }
        key(code, 1, t);
        key(code, 0, t + gap / 2);
        if shift {
            key(keys::LEFT_SHIFT, 0, t + gap / 2);
        }
        t += gap;
    }
    out
}

fn code_for(c: char) -> Option<(u16, bool)> {
    (1u16..=127).find_map(|code| {
        if key_char(code, false) == Some(c) {
            Some((code, false))
        } else if key_char(code, true) == Some(c) {
            Some((code, true))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(events: &[InputEvent]) -> Vec<u8> {
        events.iter().flat_map(|e| e.to_bytes()).collect()
    }

    #[test]
    fn record_layout_round_trips() {
        let ev = InputEvent {
            time: Duration::new(1_764_000_000, 123_456_000),
            kind: EV_KEY,
            code: 30,
            value: 1,
        };
        let raw = ev.to_bytes();
        assert_eq!(&raw[16..18], &[1, 0]);
        assert_eq!(&raw[18..20], &[30, 0]);
        assert_eq!(InputEvent::from_bytes(&raw), ev);
    }

    #[test]
    fn decodes_digits_letters_and_shift() {
        let t0 = Duration::from_secs(100);
        let events = synthesize("Ab-9_#", t0, Duration::from_millis(5));
        let out = decode_all(&bytes(&events)[..], WedgeConfig::default()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap(), "Ab-9_#");
    }

    #[test]
    fn rejects_human_speed_and_accepts_it_when_unconfigured() {
        let events = synthesize(
            "12345678",
            Duration::from_secs(5),
            Duration::from_millis(180),
        );
        let strict = decode_all(&bytes(&events)[..], WedgeConfig::default()).unwrap();
        assert!(matches!(
            strict[0],
            Err(Error::HumanTyping {
                gap_ms: 180,
                max_ms: 50
            })
        ));
        let lax = WedgeConfig {
            max_key_gap: None,
            min_len: 1,
            number: None,
        };
        let out = decode_all(&bytes(&events)[..], lax).unwrap();
        assert_eq!(out[0].as_ref().unwrap(), "12345678");
    }

    #[test]
    fn a_short_burst_is_not_a_card_and_the_next_number_starts_clean() {
        let mut events = synthesize("12", Duration::from_secs(1), Duration::from_millis(2));
        events.extend(synthesize(
            "99887766",
            Duration::from_secs(9),
            Duration::from_millis(2),
        ));
        let out = decode_all(&bytes(&events)[..], WedgeConfig::default()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap(), "99887766");
    }

    #[test]
    fn keypad_digits_and_keypad_enter() {
        let t = Duration::from_secs(1);
        let press = |code| InputEvent {
            time: t,
            kind: EV_KEY,
            code,
            value: 1,
        };
        let mut dec = WedgeDecoder::new(WedgeConfig {
            max_key_gap: None,
            min_len: 1,
            number: None,
        });
        for code in [79, 80, 81, 82] {
            assert!(dec.feed(&press(code)).is_none());
        }
        assert_eq!(dec.feed(&press(keys::KP_ENTER)).unwrap().unwrap(), "1230");
    }

    #[test]
    fn truncated_record_is_an_error() {
        let raw = [0u8; 30];
        assert!(decode_all(&raw[..], WedgeConfig::default()).is_err());
    }
}
