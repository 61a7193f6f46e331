//! The kiosk's configuration file (TOML).
//!
//! ```toml
//! server = "http://127.0.0.1:8080"     # the DMS API
//! state_dir = "/var/lib/dms-kiosk"     # tokens.json (0600), journal.jsonl, kiosk.log
//! terminal_name = "服务前台1号机"        # shown on screen; the server knows the device by id
//!
//! [reader]
//! kind = "pcsc"                         # pcsc | wedge | stdin
//! name = "ACR122"                       # pcsc: first reader whose name contains this
//! # path = "/dev/input/event3"          # wedge: evdev device (grabbed) or a FIFO
//! # max_key_gap_ms = 50                 # wedge: slower typing is refused
//! # sector_block = 4                    # pcsc: also read the printed number from this block
//! # sector_key = "4D434C554231"         #       with this key A
//!
//! [reader.typed]                        # wedge/stdin: how the reader types the chip UID
//! typed_as = "decimal"                  # hex | decimal
//! uid_len = 4
//! typed_reversed = true
//!
//! [printer]
//! kind = "network"                      # network | device | none
//! address = "127.0.0.1:9100"
//! # path = "/dev/usb/lp0"
//! columns = 32
//!
//! [face]                                # rewritable card face (optional)
//! kind = "file"                         # file | none
//! path = "/var/lib/dms-kiosk/face.json"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::normalize::{NumberFormat, Radix, TypedNumber};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    pub server: String,
    pub state_dir: PathBuf,
    #[serde(default = "default_name")]
    pub terminal_name: String,
    pub reader: ReaderConfig,
    #[serde(default)]
    pub printer: PrinterConfig,
    /// Seconds between checks of requests still pending in the journal.
    #[serde(default = "default_resolve_secs")]
    pub resolve_every_secs: u64,
    /// Seconds after which a request the server never saw is given up as not done.
    #[serde(default = "default_unknown_after")]
    pub unknown_after_secs: i64,
    /// Offer 充值 on the kiosk: the member asks for an amount and a payment method, pays at the
    /// cashier's desk, and the cashier confirms in the web app (the kiosk cannot see the cash
    /// or the bank-card slip, so the kiosk only asks). On by default; a kiosk far from any
    /// cashier turns it off.
    #[serde(default = "default_true")]
    pub top_up_enabled: bool,
    /// The rewritable card face, written after a tap and after every confirmed payment or
    /// top-up.
    #[serde(default)]
    pub face: FaceConfig,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaceKind {
    /// The face as a JSON file, for a vendor bridge to print.
    File,
    #[default]
    None,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceConfig {
    #[serde(default)]
    pub kind: FaceKind,
    #[serde(default)]
    pub path: Option<PathBuf>,
}

fn default_name() -> String {
    "自助终端".into()
}

fn default_resolve_secs() -> u64 {
    10
}

fn default_unknown_after() -> i64 {
    60
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    Pcsc,
    Wedge,
    /// The terminal's own keyboard: the UID typed on the idle screen, then Enter.
    Stdin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    pub kind: ReaderKind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub max_key_gap_ms: Option<u64>,
    #[serde(default)]
    pub sector_block: Option<u8>,
    #[serde(default)]
    pub sector_key: Option<String>,
    #[serde(default)]
    pub typed: Option<TypedUid>,
}

/// How a wedge reader (or a person) types the chip UID.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedUid {
    pub typed_as: Radix,
    #[serde(default)]
    pub uid_len: Option<usize>,
    #[serde(default)]
    pub typed_reversed: bool,
}

impl TypedUid {
    /// Typed text → the chip UID as the server stores it (card byte order, upper-case hex).
    pub fn to_uid(&self, typed: &str) -> Result<String> {
        TypedNumber {
            typed_as: self.typed_as,
            uid_len: self.uid_len,
            typed_reversed: self.typed_reversed,
            format: NumberFormat::default(),
        }
        .apply(typed)
    }
}

impl Default for TypedUid {
    fn default() -> Self {
        TypedUid {
            typed_as: Radix::Hex,
            uid_len: None,
            typed_reversed: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrinterKind {
    Network,
    Device,
    #[default]
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    #[serde(default)]
    pub kind: PrinterKind,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default = "default_columns")]
    pub columns: usize,
}

fn default_columns() -> usize {
    32
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            kind: PrinterKind::None,
            address: None,
            path: None,
            columns: default_columns(),
        }
    }
}

impl KioskConfig {
    pub fn load(path: &Path) -> Result<KioskConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let cfg: KioskConfig =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<()> {
        if !(self.server.starts_with("http://") || self.server.starts_with("https://")) {
            return Err(Error::Config("server: an http:// or https:// URL".into()));
        }
        match self.reader.kind {
            ReaderKind::Wedge if self.reader.path.is_none() => {
                return Err(Error::Config(
                    "reader.path: needed for a wedge reader".into(),
                ))
            }
            _ => {}
        }
        if self.reader.sector_block.is_some() != self.reader.sector_key.is_some() {
            return Err(Error::Config(
                "reader.sector_block and reader.sector_key go together".into(),
            ));
        }
        if self.face.kind == FaceKind::File && self.face.path.is_none() {
            return Err(Error::Config(
                "face.path: needed for a file card face".into(),
            ));
        }
        match self.printer.kind {
            PrinterKind::Network if self.printer.address.is_none() => Err(Error::Config(
                "printer.address: needed for a network printer".into(),
            )),
            PrinterKind::Device if self.printer.path.is_none() => Err(Error::Config(
                "printer.path: needed for a device printer".into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn tokens_file(&self) -> PathBuf {
        self.state_dir.join("tokens.json")
    }

    pub fn journal_file(&self) -> PathBuf {
        self.state_dir.join("journal.jsonl")
    }

    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("kiosk.log")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_full_file_parses_and_typed_uids_normalise() {
        let cfg: KioskConfig = toml::from_str(
            r#"
server = "http://127.0.0.1:8080"
state_dir = "/tmp/k"
[reader]
kind = "wedge"
path = "/dev/input/event3"
max_key_gap_ms = 50
[reader.typed]
typed_as = "decimal"
uid_len = 4
typed_reversed = true
[printer]
kind = "network"
address = "127.0.0.1:9100"
"#,
        )
        .unwrap();
        cfg.check().unwrap();
        // 04 A2 3B 91 typed by a reversed-decimal reader: 0x913BA204.
        let typed = cfg.reader.typed.unwrap();
        assert_eq!(typed.to_uid("2436604420").unwrap(), "04A23B91");
    }

    #[test]
    fn missing_pieces_are_named() {
        let cfg: KioskConfig = toml::from_str(
            "server = \"ftp://x\"\nstate_dir = \"/tmp\"\n[reader]\nkind = \"stdin\"\n",
        )
        .unwrap();
        assert!(cfg.check().unwrap_err().to_string().contains("server"));
    }
}
