//! Values that validate when built: mainland ID numbers (居民身份证号), VINs, phone numbers,
//! licence plates, and the normalised search keys of names.

use crate::{CrmError, Result};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// An 18-character resident ID number with a valid check digit and birth date.
///
/// `Debug` and `Display` show only a masked form, so the number never reaches a log by
/// accident; [`IdNumber::expose`] is the one deliberate way to the full value.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    pub fn parse(raw: &str) -> Result<IdNumber> {
        let s: String = raw.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let bad = || CrmError::invalid("id_number", "must be an 18-character ID number");
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let sum: u32 = b[..17]
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        if ID_CHECK[(sum % 11) as usize] != b[17] {
            return Err(CrmError::invalid("id_number", "check digit does not match"));
        }
        let id = IdNumber(s);
        if id.birthday().is_none() {
            return Err(CrmError::invalid(
                "id_number",
                "birth date is not a real date",
            ));
        }
        Ok(id)
    }

    /// The birth date encoded in positions 7-14.
    pub fn birthday(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(self.0.get(6..14)?, "%Y%m%d").ok()
    }

    /// `1101**********002X`: enough for staff to recognise, too little to misuse.
    pub fn masked(&self) -> String {
        let head = self.0.get(..4).unwrap_or_default();
        let tail = self.0.get(14..).unwrap_or_default();
        format!("{head}**********{tail}")
    }

    /// The full number, for the screens and documents that need it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stable hash for duplicate matching, so lookups never put the number in a query log.
    pub fn match_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"dms-crm/id-number/v1:");
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl std::fmt::Display for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A vehicle identification number (ISO 3779): 17 characters, digits and capitals without
/// I, O and Q.
///
/// The check digit (position 9, ISO 3779 / North-American weighting) is computed and its
/// result kept in [`Vin::check_digit_ok`] instead of always refusing the VIN: GB 16735 makes it
/// mandatory for vehicles made for China, but grey imports and some older or European-market
/// cars carry a VIN whose ninth character is not a check digit. [`VinPolicy::Strict`] (the
/// default for new vehicles) refuses a wrong check digit; [`VinPolicy::AllowBadCheckDigit`] is
/// the explicit, audited override for such a car, and the vehicle row records the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vin {
    value: String,
    check_digit_ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VinPolicy {
    #[default]
    Strict,
    AllowBadCheckDigit,
}

const VIN_WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

fn vin_value(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

/// The check digit position 9 should carry for these 17 characters.
pub fn vin_check_digit(vin: &str) -> Option<char> {
    let b = vin.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in b.iter().zip(VIN_WEIGHTS) {
        sum += vin_value(*c)? * w;
    }
    let r = sum % 11;
    Some(if r == 10 {
        'X'
    } else {
        char::from(b'0' + r as u8)
    })
}

impl Vin {
    pub fn parse(raw: &str, policy: VinPolicy) -> Result<Vin> {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if s.len() != 17 || !s.is_ascii() {
            return Err(CrmError::invalid("vin", "must be 17 characters"));
        }
        if s.bytes().any(|c| matches!(c, b'I' | b'O' | b'Q')) {
            return Err(CrmError::invalid("vin", "must not contain I, O or Q"));
        }
        let expected = vin_check_digit(&s)
            .ok_or_else(|| CrmError::invalid("vin", "only digits and capital letters"))?;
        let check_digit_ok = s.as_bytes()[8] == expected as u8;
        if !check_digit_ok && policy == VinPolicy::Strict {
            return Err(CrmError::invalid(
                "vin",
                format!("check digit (position 9) should be {expected}"),
            ));
        }
        Ok(Vin {
            value: s,
            check_digit_ok,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn check_digit_ok(&self) -> bool {
        self.check_digit_ok
    }
}

/// Digits only, without `+86`, spaces or dashes.
pub fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let trimmed = raw.trim_start();
    if (trimmed.starts_with("+86") || trimmed.starts_with("0086")) && digits.len() > 11 {
        digits[digits.len() - 11..].to_string()
    } else {
        digits
    }
}

fn is_mobile(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// A mainland mobile number (11 digits, 13x-19x), or for companies also a landline with area
/// code (0 + 9-11 digits). Returns the normalised digits.
pub fn check_phone(raw: &str, allow_landline: bool) -> Result<String> {
    let p = normalize_phone(raw);
    if is_mobile(&p) || (allow_landline && p.starts_with('0') && (10..=12).contains(&p.len())) {
        Ok(p)
    } else if allow_landline {
        Err(CrmError::invalid(
            "phone",
            "must be an 11-digit mobile number or a landline with area code",
        ))
    } else {
        Err(CrmError::invalid(
            "phone",
            "must be an 11-digit mobile number",
        ))
    }
}

/// `京A·12345` and `京a 12345` both become `京A12345`.
pub fn normalize_plate(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '.' | '•'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A mainland plate: a province character, a letter, then 5 (fuel) or 6 (new-energy)
/// letters/digits, or the trailing 挂/学/警 of special plates. Returns the normalised form.
pub fn check_plate(raw: &str) -> Result<String> {
    let p = normalize_plate(raw);
    let chars: Vec<char> = p.chars().collect();
    let ok = (7..=8).contains(&chars.len())
        && !chars[0].is_ascii()
        && chars[1].is_ascii_uppercase()
        && chars[2..]
            .iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphanumeric() || (i == chars.len() - 3 && !c.is_ascii()));
    if ok {
        Ok(p)
    } else {
        Err(CrmError::invalid(
            "plate",
            "must look like 京A12345 or 粤B D12345",
        ))
    }
}

/// The search key of a name: no white space (ASCII or full-width), lower case. Chinese names
/// are searched by prefix of this key, which is what a surname-first name needs.
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// The exclusive upper bound of a prefix range: every string starting with `prefix` sorts
/// in `[prefix, prefix_end(prefix))`. A range keeps the search on the index on both engines,
/// where `LIKE 'x%'` needs a matching collation on SQLite and `text_pattern_ops` on PostgreSQL.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.birthday(), NaiveDate::from_ymd_opt(1949, 12, 31));
        let dbg = format!("{id:?} {id}");
        assert!(!dbg.contains("19491231"), "{dbg}");
        assert!(IdNumber::parse("110105194912310021").is_err());
        assert!(IdNumber::parse("1101051949123100").is_err());
        assert_eq!(
            id.match_hash(),
            IdNumber::parse("11010519491231002X").unwrap().match_hash()
        );
    }

    #[test]
    fn vins_with_real_check_digits() {
        // Published examples with correct check digits.
        for v in [
            "1M8GDM9AXKP042788",
            "1HGCM82633A004352",
            "11111111111111111",
        ] {
            let vin = Vin::parse(v, VinPolicy::Strict).unwrap();
            assert!(vin.check_digit_ok(), "{v}");
        }
        // One character changed: the check digit no longer matches.
        let e = Vin::parse("1M8GDM9AXKP042789", VinPolicy::Strict).unwrap_err();
        assert!(e.to_string().contains("check digit"), "{e}");
        let lenient = Vin::parse("1M8GDM9AXKP042789", VinPolicy::AllowBadCheckDigit).unwrap();
        assert!(!lenient.check_digit_ok());
        assert!(Vin::parse("1M8GDM9AXKP04278", VinPolicy::Strict).is_err());
        assert!(Vin::parse("1M8GDM9AXKP0427O8", VinPolicy::AllowBadCheckDigit).is_err());
        assert_eq!(
            Vin::parse("1hgcm82633a004352", VinPolicy::Strict)
                .unwrap()
                .as_str(),
            "1HGCM82633A004352"
        );
    }

    #[test]
    fn phones_and_plates() {
        assert_eq!(
            check_phone("+86 138-0013-8000", false).unwrap(),
            "13800138000"
        );
        assert!(check_phone("12800138000", false).is_err());
        assert_eq!(check_phone("010-62345678", true).unwrap(), "01062345678");
        assert!(check_phone("010-62345678", false).is_err());
        assert_eq!(check_plate("京a·12345").unwrap(), "京A12345");
        assert_eq!(check_plate("粤B D12345").unwrap(), "粤BD12345");
        assert!(check_plate("A12345").is_err());
        assert_eq!(name_key(" 王 小明 "), "王小明");
        assert_eq!(name_key("John SMITH"), "johnsmith");
    }
}
