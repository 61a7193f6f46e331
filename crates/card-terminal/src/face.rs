//! Visual (rewritable) card faces: the thermal-rewrite area some member cards carry, showing
//! the member's masked name, tier, masked card number and expiry, and (written by the kiosk
//! after a tap and after every confirmed payment or top-up) the balance, the points and the
//! last transaction.
//!
//! Every vendor has its own printer protocol, so the kiosk talks to a [`CardFace`] trait; the
//! driver here writes the face to a file (JSON with the rendered lines), which a vendor bridge
//! can pick up, and which tests read back. Personal data is masked before it leaves this module:
//! a card face is visible to anyone who holds the card.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What the face shows, before masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceData {
    /// The member's full name.
    pub member_name: String,
    /// Tier name as the store calls it ("金卡").
    pub tier: String,
    /// The full card number.
    pub card_number: String,
    /// Last valid day.
    pub expiry: NaiveDate,
    /// Stored value (principal + bonus), yuan as the server states it ("900.00").
    pub balance: Option<String>,
    /// Redeemable points.
    pub points: Option<i64>,
    /// The last transaction in a few words ("11-26 14:05 消费 100.00").
    pub last_transaction: Option<String>,
}

/// The face as written: masked fields and the lines to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedFace {
    /// First character of the name, the rest as `*`.
    pub name: String,
    /// Tier.
    pub tier: String,
    /// Card number with its middle masked.
    pub card_number: String,
    /// Expiry, ISO date.
    pub expiry: String,
    /// Balance, when the face shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// Redeemable points, when the face shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    /// The last transaction, when the face shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transaction: Option<String>,
    /// The printed lines, top to bottom.
    pub lines: Vec<String>,
}

/// Keeps the first character of a name and masks the rest ("张三丰" → "张**").
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.filter(|c| !c.is_whitespace()).count();
            if rest == 0 {
                // A one-character name would be shown whole; mask it instead.
                "*".to_string()
            } else {
                format!("{first}{}", "*".repeat(rest))
            }
        }
        None => String::new(),
    }
}

/// Keeps the first and last four characters of a card number and masks the middle; a number of
/// eight characters or fewer keeps only its last four.
pub fn mask_card_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    if n > 8 {
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 8))
    } else if n > 4 {
        let tail: String = chars[n - 4..].iter().collect();
        format!("{}{tail}", "*".repeat(n - 4))
    } else {
        "*".repeat(n)
    }
}

/// Masks and lays out a face.
pub fn render_face(face: &FaceData) -> RenderedFace {
    let name = mask_name(&face.member_name);
    let card_number = mask_card_number(&face.card_number);
    let expiry = face.expiry.format("%Y-%m-%d").to_string();
    let mut lines = vec![
        format!("会员: {name}"),
        format!("等级: {}", face.tier),
        format!("卡号: {card_number}"),
        format!("有效期至: {expiry}"),
    ];
    if let Some(b) = &face.balance {
        lines.push(format!("余额: {b}"));
    }
    if let Some(p) = face.points {
        lines.push(format!("积分: {p}"));
    }
    if let Some(t) = &face.last_transaction {
        lines.push(format!("最近: {t}"));
    }
    RenderedFace {
        name,
        tier: face.tier.clone(),
        card_number,
        expiry,
        balance: face.balance.clone(),
        points: face.points,
        last_transaction: face.last_transaction.clone(),
        lines,
    }
}

/// A rewritable card face printer.
pub trait CardFace {
    /// Writes the face for `face`'s card.
    fn write_face(&mut self, face: &FaceData) -> Result<RenderedFace>;
    /// Blanks the face (card returned or replaced).
    fn erase(&mut self) -> Result<()>;
}

/// Writes each face to one file, atomically (temporary file, fsync, rename), so a vendor bridge
/// watching the file never reads half a face.
#[derive(Debug, Clone)]
pub struct FileCardFace {
    path: PathBuf,
}

impl FileCardFace {
    /// A face device backed by `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCardFace { path: path.into() }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn replace(&self, contents: &[u8]) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl CardFace for FileCardFace {
    fn write_face(&mut self, face: &FaceData) -> Result<RenderedFace> {
        let rendered = render_face(face);
        let mut json = serde_json::to_vec_pretty(&rendered)?;
        json.push(b'\n');
        self.replace(&json)?;
        Ok(rendered)
    }

    fn erase(&mut self) -> Result<()> {
        self.replace(b"{}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李雷"), "李*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name("Li Lei"), "L****");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn card_numbers_are_masked() {
        assert_eq!(mask_card_number("8800012345"), "8800**2345");
        assert_eq!(mask_card_number("880001234567"), "8800****4567");
        assert_eq!(mask_card_number("04A23B91"), "****3B91");
        assert_eq!(mask_card_number("123"), "***");
    }

    #[test]
    fn file_face_is_written_and_erased() {
        let dir = std::env::temp_dir().join(format!("dms-face-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut face = FileCardFace::new(dir.join("face.json"));
        let data = FaceData {
            member_name: "张三丰".into(),
            tier: "金卡".into(),
            card_number: "880001234567".into(),
            expiry: NaiveDate::from_ymd_opt(2027, 11, 30).unwrap(),
            balance: None,
            points: None,
            last_transaction: None,
        };
        let rendered = face.write_face(&data).unwrap();
        let on_disk: RenderedFace =
            serde_json::from_slice(&fs::read(face.path()).unwrap()).unwrap();
        assert_eq!(on_disk, rendered);
        assert_eq!(
            on_disk.lines,
            [
                "会员: 张**",
                "等级: 金卡",
                "卡号: 8800****4567",
                "有效期至: 2027-11-30"
            ]
        );
        let raw = fs::read_to_string(face.path()).unwrap();
        assert!(!raw.contains("三丰") && !raw.contains("880001234567"));
        let shown = face
            .write_face(&FaceData {
                balance: Some("900.00".into()),
                points: Some(1290),
                last_transaction: Some("11-26 14:05 消费 100.00".into()),
                ..data
            })
            .unwrap();
        assert_eq!(
            shown.lines[4..],
            [
                "余额: 900.00",
                "积分: 1290",
                "最近: 11-26 14:05 消费 100.00"
            ]
        );
        let raw = fs::read_to_string(face.path()).unwrap();
        assert!(raw.contains("\"balance\": \"900.00\""), "{raw}");
        face.erase().unwrap();
        assert_eq!(fs::read_to_string(face.path()).unwrap(), "{}\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
