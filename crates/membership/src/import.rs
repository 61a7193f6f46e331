//! Import of members and cards from the stores' legacy systems (CSV or XLSX), as a job.
//!
//! One row is one member with one card: the customer (found by phone with the CRM's duplicate
//! rules, or created), the member (tier, term), the card (number, chip, expiry) and its opening
//! balances and points. Opening balances are ledger transactions of kind `migration` against
//! the counter account `migration`, so they balance like every other movement and stay out of
//! the top-up and promotion statistics.
//!
//! Nothing is half-imported: every row is validated first (in the file and against the
//! database); any error fails the job with a per-row report and writes nothing. Otherwise all
//! rows are written in one write transaction, which also marks the job done, so "done" and the
//! data commit together. Live progress (rows checked, rows written) goes to a callback (the
//! server keeps it in memory, since the write transaction holds the database); the job row in
//! the database holds the phase, and the counts at each phase's end.

use crate::cards::{insert_card, IssueCard};
use crate::config::{effective_config, ProgrammeConfig};
use crate::error::{MembershipError, Result};
use crate::idempotency::{check_key, principal_of, Replayable};
use crate::ledger::{append_legs, post_points, post_sv, Leg, PointsLeg, PointsTxn, SvTxn};
use crate::ledger::{REDEEMABLE, TIER};
use crate::members::add_months;
use crate::schema::{mem_bonus_lots, mem_cards, mem_import_jobs, mem_members};
use crate::util::{audit, now_db, write};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

/// Rows per file: a typo guard (a whole group's legacy export is far below it).
pub const MAX_ROWS: usize = 100_000;
/// At most this many row errors are kept in a failed job (the count says how many there were).
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Largest opening balance per card (10,000,000.00): a typo guard.
const MAX_BALANCE_FEN: i64 = 1_000_000_000;
const MAX_POINTS: i64 = 100_000_000;
/// Join channel recorded for imported members.
pub const IMPORT_CHANNEL: &str = "legacy_import";
/// Ledger kind and counter account of opening balances and points.
pub const MIGRATION: &str = "migration";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn code(&self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }
}

/// The columns an import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    Phone,
    CardNo,
    ChipUid,
    Tier,
    Principal,
    Bonus,
    RedeemablePoints,
    TierPoints,
    ExpiresOn,
}

impl Column {
    /// The field name used in error reports.
    pub fn field(&self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Phone => "phone",
            Column::CardNo => "card_no",
            Column::ChipUid => "chip_uid",
            Column::Tier => "tier",
            Column::Principal => "principal",
            Column::Bonus => "bonus",
            Column::RedeemablePoints => "redeemable_points",
            Column::TierPoints => "tier_points",
            Column::ExpiresOn => "expires_on",
        }
    }

    /// The Chinese header the export writes (and the import reads back).
    pub fn header(&self) -> &'static str {
        match self {
            Column::Name => "姓名",
            Column::Phone => "手机号",
            Column::CardNo => "卡号",
            Column::ChipUid => "芯片号",
            Column::Tier => "等级",
            Column::Principal => "储值余额",
            Column::Bonus => "赠送余额",
            Column::RedeemablePoints => "积分",
            Column::TierPoints => "等级积分",
            Column::ExpiresOn => "到期日",
        }
    }

    pub const ALL: [Column; 10] = [
        Column::Name,
        Column::Phone,
        Column::CardNo,
        Column::ChipUid,
        Column::Tier,
        Column::Principal,
        Column::Bonus,
        Column::RedeemablePoints,
        Column::TierPoints,
        Column::ExpiresOn,
    ];

    /// Headers accepted for the column (compared without case, spaces, `_` and `-`).
    fn aliases(&self) -> &'static [&'static str] {
        match self {
            Column::Name => &["姓名", "会员姓名", "客户姓名", "name", "customername"],
            Column::Phone => &[
                "手机号",
                "手机",
                "手机号码",
                "联系电话",
                "电话",
                "phone",
                "mobile",
            ],
            Column::CardNo => &["卡号", "会员卡号", "cardno", "cardnumber", "card"],
            Column::ChipUid => &["芯片号", "芯片", "芯片uid", "chipuid", "chip"],
            Column::Tier => &["等级", "会员等级", "卡等级", "tier", "tiercode", "level"],
            Column::Principal => &[
                "储值余额",
                "储值",
                "余额",
                "本金余额",
                "principal",
                "balance",
                "storedvalue",
            ],
            Column::Bonus => &["赠送余额", "赠送金额", "赠送", "bonus"],
            Column::RedeemablePoints => &[
                "积分",
                "可用积分",
                "可兑换积分",
                "redeemablepoints",
                "points",
            ],
            Column::TierPoints => &[
                "等级积分",
                "消费积分",
                "累计积分",
                "消费积分/等级积分",
                "tierpoints",
            ],
            Column::ExpiresOn => &[
                "到期日",
                "到期日期",
                "有效期",
                "有效期至",
                "expireson",
                "expiresat",
                "expiry",
            ],
        }
    }
}

fn header_key(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn column_of(header: &str) -> Option<Column> {
    let k = header_key(header);
    Column::ALL
        .into_iter()
        .find(|c| c.aliases().iter().any(|a| header_key(a) == k))
}

/// One problem in the file: the spreadsheet row (the header is row 1), the field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    /// The header as written in the file, when the error is about a column.
    pub column: Option<String>,
    pub code: String,
    pub message: String,
}

impl RowError {
    fn new(row: u64, field: &str, code: &str, message: impl Into<String>) -> RowError {
        RowError {
            row,
            field: field.to_string(),
            column: None,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// A file read into rows of text cells, with the columns recognised in its header.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    /// Header text per position, and the column it was recognised as.
    pub headers: Vec<(String, Option<Column>)>,
    /// (spreadsheet row number, cells); fully empty rows are left out.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Sheet {
    /// Headers the import does not use (reported, not refused: legacy files carry extra columns).
    pub fn ignored_columns(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(h, c)| c.is_none() && !h.trim().is_empty())
            .map(|(h, _)| h.clone())
            .collect()
    }

    fn position(&self, col: Column) -> Option<usize> {
        self.headers.iter().position(|(_, c)| *c == Some(col))
    }

    fn header_of(&self, col: Column) -> Option<String> {
        self.position(col).map(|i| self.headers[i].0.clone())
    }
}

/// Reads a CSV (UTF-8 with or without BOM, or GB18030/GBK as older Excel versions save it) or
/// the first worksheet of an XLSX file, and checks its header. Errors are about the whole file
/// (row 1 for the header).
pub fn read_sheet(format: FileFormat, bytes: &[u8]) -> std::result::Result<Sheet, Vec<RowError>> {
    let (headers, rows) = match format {
        FileFormat::Csv => read_csv(bytes)?,
        FileFormat::Xlsx => read_xlsx(bytes)?,
    };
    let mut sheet = Sheet {
        headers: headers
            .into_iter()
            .map(|h| {
                let c = column_of(&h);
                (h.trim().to_string(), c)
            })
            .collect(),
        rows: Vec::new(),
    };
    let mut errors = Vec::new();
    for col in Column::ALL {
        let n = sheet
            .headers
            .iter()
            .filter(|(_, c)| *c == Some(col))
            .count();
        if n > 1 {
            errors.push(RowError::new(
                1,
                col.field(),
                "duplicate_column",
                format!("more than one column is {}", col.header()),
            ));
        }
    }
    for col in [Column::Phone, Column::CardNo] {
        if sheet.position(col).is_none() {
            errors.push(RowError::new(
                1,
                col.field(),
                "missing_column",
                format!("the file needs a {} column", col.header()),
            ));
        }
    }
    sheet.rows = rows
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .collect();
    if sheet.rows.is_empty() {
        errors.push(RowError::new(
            1,
            "body",
            "empty",
            "the file has no data rows",
        ));
    }
    if sheet.rows.len() > MAX_ROWS {
        errors.push(RowError::new(
            1,
            "body",
            "too_many_rows",
            format!("at most {MAX_ROWS} rows per file; split it"),
        ));
    }
    if errors.is_empty() {
        Ok(sheet)
    } else {
        Err(errors)
    }
}

type RawRows = (Vec<String>, Vec<(u64, Vec<String>)>);

fn read_csv(bytes: &[u8]) -> std::result::Result<RawRows, Vec<RowError>> {
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(s) => s.trim_start_matches('\u{feff}').into(),
        Err(_) => {
            let (s, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(vec![RowError::new(
                    1,
                    "body",
                    "encoding",
                    "the file is neither UTF-8 nor GBK text; save it as CSV (UTF-8)",
                )]);
            }
            s
        }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers = None;
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i as u64 + 1;
        let rec = rec.map_err(|e| {
            vec![RowError::new(
                row,
                "body",
                "malformed_csv",
                format!("not valid CSV: {e}"),
            )]
        })?;
        let cells: Vec<String> = rec.iter().map(|s| s.trim().to_string()).collect();
        if headers.is_none() {
            headers = Some(cells);
        } else {
            rows.push((row, cells));
        }
    }
    Ok((headers.unwrap_or_default(), rows))
}

fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        // Numbers typed into Excel (card numbers, phones, amounts) come back as floats:
        // whole ones are written without a fraction, others in their shortest exact form.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
            base.checked_add_signed(chrono::Duration::days(serial.floor() as i64))
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn read_xlsx(bytes: &[u8]) -> std::result::Result<RawRows, Vec<RowError>> {
    use calamine::Reader;
    let bad = |why: String| vec![RowError::new(1, "body", "malformed_xlsx", why)];
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .map_err(|e| bad(format!("not a readable XLSX workbook: {e}")))?;
    let range = match wb.worksheet_range_at(0) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(bad(format!("the first worksheet cannot be read: {e}"))),
        None => return Err(bad("the workbook has no worksheet".into())),
    };
    let first_row = u64::from(range.start().map(|(r, _)| r).unwrap_or(0));
    let mut headers = None;
    let mut rows = Vec::new();
    for (i, r) in range.rows().enumerate() {
        let row = first_row + i as u64 + 1;
        let cells: Vec<String> = r.iter().map(cell_text).collect();
        if headers.is_none() {
            if cells.iter().all(|c| c.is_empty()) {
                continue;
            }
            headers = Some(cells);
        } else {
            rows.push((row, cells));
        }
    }
    Ok((headers.unwrap_or_default(), rows))
}

/// Who the row's customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CustomerMatch {
    Existing(String),
    New,
}

/// A row that passed every check, ready to write.
#[derive(Debug, Clone)]
struct ValidRow {
    row: u64,
    name: String,
    phone: String,
    customer: CustomerMatch,
    card_no: String,
    chip_uid: Option<String>,
    tier: String,
    principal_fen: i64,
    bonus_fen: i64,
    redeemable: i64,
    tier_points: i64,
    expires_at: Option<NaiveDateTime>,
}

fn parse_amount(s: &str) -> std::result::Result<i64, (&'static str, String)> {
    let t = s.trim().replace([',', '，'], "");
    let t = t.trim_start_matches(['¥', '￥']);
    if t.is_empty() {
        return Ok(0);
    }
    match Money::from_str(t) {
        Ok(m) if m.is_negative() => Err(("negative", "must not be negative".into())),
        Ok(m) if m.fen() > MAX_BALANCE_FEN => {
            Err(("out_of_range", "at most 10000000.00 per card".into()))
        }
        Ok(m) => Ok(m.fen()),
        Err(dms_core::MoneyError::TooPrecise) => {
            Err(("too_precise", "more than two decimal places (fen)".into()))
        }
        Err(_) => Err((
            "money_format",
            format!("'{s}' is not an amount like 680.00"),
        )),
    }
}

fn parse_points(s: &str) -> std::result::Result<i64, (&'static str, String)> {
    let t = s.trim().replace([',', '，'], "");
    if t.is_empty() {
        return Ok(0);
    }
    match t.parse::<i64>() {
        Ok(n) if n < 0 => Err(("negative", "must not be negative".into())),
        Ok(n) if n > MAX_POINTS => Err(("out_of_range", format!("at most {MAX_POINTS}"))),
        Ok(n) => Ok(n),
        Err(_) => Err(("invalid_number", format!("'{s}' is not a whole number"))),
    }
}

/// `2027-06-30`, `2027/6/30`, `2027.06.30`, `20270630`, optionally followed by a time.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    let t = t.split([' ', 'T']).next().unwrap_or(t);
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return Some(d);
        }
    }
    None
}

fn tier_of(cfg: &ProgrammeConfig, raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        return cfg.tiers.first().map(|x| x.code.clone());
    }
    cfg.tiers
        .iter()
        .find(|x| x.code.eq_ignore_ascii_case(t) || x.name == t)
        .map(|x| x.code.clone())
}

fn check_card_no(no: &str) -> bool {
    (6..=32).contains(&no.len()) && no.chars().all(|c| c.is_ascii_alphanumeric())
}

fn check_chip(uid: &str) -> bool {
    (4..=64).contains(&uid.len()) && uid.chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks every row in the file and against the database; reads only. `progress` is called
/// with the number of rows checked so far.
fn validate(
    conn: &mut DbConnection,
    store_id: &str,
    sheet: &Sheet,
    now: NaiveDateTime,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<std::result::Result<Vec<ValidRow>, Vec<RowError>>> {
    let cfg = effective_config(conn, store_id)?;
    let pos = |c: Column| sheet.position(c);
    let cell = |cells: &[String], c: Column| -> String {
        pos(c)
            .and_then(|i| cells.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut errors: Vec<RowError> = Vec::new();
    let mut out = Vec::with_capacity(sheet.rows.len());
    let mut seen_cards: HashMap<String, u64> = HashMap::new();
    let mut seen_chips: HashMap<String, u64> = HashMap::new();
    let mut seen_phones: HashMap<String, u64> = HashMap::new();

    // Numbers and chips already in the database, looked up in batches.
    let mut file_cards = Vec::new();
    let mut file_chips = Vec::new();
    for (_, cells) in &sheet.rows {
        file_cards.push(cell(cells, Column::CardNo));
        let chip = cell(cells, Column::ChipUid);
        if !chip.is_empty() {
            file_chips.push(chip.to_ascii_uppercase());
        }
    }
    let mut taken_cards: HashSet<String> = HashSet::new();
    for chunk in file_cards.chunks(500) {
        let found: Vec<String> = mem_cards::table
            .filter(mem_cards::card_no.eq_any(chunk))
            .select(mem_cards::card_no)
            .load(conn)?;
        taken_cards.extend(found);
    }
    let mut taken_chips: HashSet<String> = HashSet::new();
    for chunk in file_chips.chunks(500) {
        let found: Vec<Option<String>> = mem_cards::table
            .filter(mem_cards::chip_uid.eq_any(chunk))
            .select(mem_cards::chip_uid)
            .load(conn)?;
        taken_chips.extend(found.into_iter().flatten());
    }

    for (i, (row, cells)) in sheet.rows.iter().enumerate() {
        let row = *row;
        let before = errors.len();
        let mut err = |col: Column, code: &str, msg: String| {
            let mut e = RowError::new(row, col.field(), code, msg);
            e.column = sheet.header_of(col);
            errors.push(e);
        };
        let name = cell(cells, Column::Name);
        let phone_raw = cell(cells, Column::Phone);
        let phone = match dms_crm::check_phone(&phone_raw, false) {
            Ok(p) => Some(p),
            Err(_) if phone_raw.is_empty() => {
                err(
                    Column::Phone,
                    "required",
                    "a mobile number is required".into(),
                );
                None
            }
            Err(_) => {
                err(
                    Column::Phone,
                    "invalid_phone",
                    format!("'{phone_raw}' is not an 11-digit mobile number"),
                );
                None
            }
        };
        if let Some(p) = &phone {
            if let Some(first) = seen_phones.insert(p.clone(), row) {
                err(
                    Column::Phone,
                    "duplicate_in_file",
                    format!("the same mobile number as row {first}: one member per customer"),
                );
            }
        }
        let card_no = cell(cells, Column::CardNo);
        if card_no.is_empty() {
            err(
                Column::CardNo,
                "required",
                "a card number is required".into(),
            );
        } else if !check_card_no(&card_no) {
            err(
                Column::CardNo,
                "invalid_card_no",
                "6-32 letters or digits".into(),
            );
        } else if let Some(first) = seen_cards.insert(card_no.clone(), row) {
            err(
                Column::CardNo,
                "duplicate_in_file",
                format!("the same card number as row {first}"),
            );
        } else if taken_cards.contains(&card_no) {
            err(
                Column::CardNo,
                "card_no_taken",
                "a card with this number already exists".into(),
            );
        }
        let chip_raw = cell(cells, Column::ChipUid);
        let chip = if chip_raw.is_empty() {
            None
        } else {
            let uid = chip_raw.to_ascii_uppercase();
            if !check_chip(&uid) {
                err(
                    Column::ChipUid,
                    "invalid_chip_uid",
                    "4-64 hex digits".into(),
                );
            } else if let Some(first) = seen_chips.insert(uid.clone(), row) {
                err(
                    Column::ChipUid,
                    "duplicate_in_file",
                    format!("the same chip as row {first}"),
                );
            } else if taken_chips.contains(&uid) {
                err(
                    Column::ChipUid,
                    "chip_taken",
                    "this chip is already bound to a card".into(),
                );
            }
            Some(uid)
        };
        let tier_raw = cell(cells, Column::Tier);
        let tier = tier_of(&cfg, &tier_raw);
        if tier.is_none() {
            let known: Vec<String> = cfg
                .tiers
                .iter()
                .map(|t| format!("{} ({})", t.name, t.code))
                .collect();
            err(
                Column::Tier,
                "unknown_tier",
                format!(
                    "'{tier_raw}' is not a tier of the programme: {}",
                    known.join(", ")
                ),
            );
        }
        let mut amount = |col: Column| match parse_amount(&cell(cells, col)) {
            Ok(v) => v,
            Err((code, msg)) => {
                err(col, code, msg);
                0
            }
        };
        let principal_fen = amount(Column::Principal);
        let bonus_fen = amount(Column::Bonus);
        let mut points = |col: Column| match parse_points(&cell(cells, col)) {
            Ok(v) => v,
            Err((code, msg)) => {
                err(col, code, msg);
                0
            }
        };
        let redeemable = points(Column::RedeemablePoints);
        let tier_points = points(Column::TierPoints);
        let exp_raw = cell(cells, Column::ExpiresOn);
        let expires_at = if exp_raw.is_empty() {
            None
        } else {
            match parse_date(&exp_raw) {
                None => {
                    err(
                        Column::ExpiresOn,
                        "invalid_date",
                        format!("'{exp_raw}' is not a date like 2027-06-30"),
                    );
                    None
                }
                Some(d) => {
                    // Valid through the whole day in the stores' time (Beijing, UTC+8).
                    let t = d.and_hms_opt(23, 59, 59).unwrap_or_default()
                        - crate::export::china_ahead_of_utc();
                    if t <= now {
                        err(
                            Column::ExpiresOn,
                            "expired",
                            "the card has already expired; renew it in the legacy system or leave the date empty".into(),
                        );
                    }
                    Some(t)
                }
            }
        };
        // The customer, by the CRM's duplicate rules (main or further phone, group-wide).
        let mut customer = CustomerMatch::New;
        if let Some(p) = &phone {
            let matches = dms_crm::find_duplicates(
                conn,
                &dms_crm::DuplicateProbe {
                    phones: vec![p.clone()],
                    id_number: None,
                    vins: vec![],
                },
            )
            .map_err(crm_error)?;
            let mut ids: Vec<String> = matches.into_iter().map(|m| m.customer_id).collect();
            ids.sort();
            ids.dedup();
            match ids.len() {
                0 => {
                    if name.is_empty() {
                        err(
                            Column::Name,
                            "required",
                            "a name is required for a customer not yet on file".into(),
                        );
                    } else if name.chars().count() > 100 {
                        err(Column::Name, "too_long", "1-100 characters".into());
                    }
                }
                1 => {
                    let id = ids.remove(0);
                    let member: i64 = mem_members::table
                        .filter(mem_members::customer_id.eq(&id))
                        .count()
                        .get_result(conn)?;
                    if member > 0 {
                        err(
                            Column::Phone,
                            "already_member",
                            "the customer with this mobile number is already a member".into(),
                        );
                    }
                    customer = CustomerMatch::Existing(id);
                }
                n => err(
                    Column::Phone,
                    "ambiguous_customer",
                    format!("{n} customers have this mobile number; merge them in the CRM first"),
                ),
            }
        }
        if errors.len() == before {
            out.push(ValidRow {
                row,
                name,
                phone: phone.unwrap_or_default(),
                customer,
                card_no,
                chip_uid: chip,
                tier: tier.unwrap_or_default(),
                principal_fen,
                bonus_fen,
                redeemable,
                tier_points,
                expires_at,
            });
        }
        if (i + 1) % 250 == 0 {
            progress(i as u64 + 1)?;
        }
    }
    progress(sheet.rows.len() as u64)?;
    Ok(if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    })
}

fn crm_error(e: dms_crm::CrmError) -> MembershipError {
    match e {
        dms_crm::CrmError::NotFound(what) => MembershipError::NotFound(what),
        dms_crm::CrmError::Invalid { field, message } => MembershipError::invalid(field, message),
        dms_crm::CrmError::Conflict { field, message } => MembershipError::conflict(field, message),
        dms_crm::CrmError::DuplicateSuspected { .. } => {
            MembershipError::conflict("phone", "a customer with this number was added meanwhile")
        }
        dms_crm::CrmError::Db(e) => MembershipError::Db(e),
        other => MembershipError::Internal(other.to_string()),
    }
}

/// What a finished import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub members_created: u64,
    pub customers_created: u64,
    pub customers_linked: u64,
    pub cards_issued: u64,
    pub principal_total: Money,
    pub bonus_total: Money,
    pub tier_points_total: i64,
    pub redeemable_points_total: i64,
    pub ignored_columns: Vec<String>,
}

/// An import job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: String,
    pub store_id: String,
    pub file_format: String,
    /// `validating`, `importing`, `done` or `failed`.
    pub status: String,
    pub rows_total: i64,
    pub rows_processed: i64,
    /// How many errors there were (at most [`MAX_REPORTED_ERRORS`] are kept in `errors`).
    pub error_count: i64,
    pub errors: Vec<RowError>,
    pub summary: Option<ImportSummary>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

type JobRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

#[derive(Serialize, Deserialize, Default)]
struct StoredErrors {
    count: i64,
    errors: Vec<RowError>,
}

fn load_job(conn: &mut DbConnection, id: &str) -> Result<ImportJob> {
    let r: Option<JobRow> = mem_import_jobs::table
        .find(id)
        .select((
            mem_import_jobs::id,
            mem_import_jobs::store_id,
            mem_import_jobs::file_format,
            mem_import_jobs::status,
            mem_import_jobs::rows_total,
            mem_import_jobs::rows_processed,
            mem_import_jobs::errors,
            mem_import_jobs::result,
            mem_import_jobs::created_at,
            mem_import_jobs::updated_at,
            mem_import_jobs::finished_at,
        ))
        .first(conn)
        .optional()?;
    let Some(r) = r else {
        return Err(MembershipError::NotFound("import job"));
    };
    let errs: StoredErrors = serde_json::from_str(&r.6).unwrap_or_default();
    Ok(ImportJob {
        id: r.0,
        store_id: r.1,
        file_format: r.2,
        status: r.3,
        rows_total: r.4,
        rows_processed: r.5,
        error_count: errs.count,
        errors: errs.errors,
        summary: r.7.and_then(|s| serde_json::from_str(&s).ok()),
        created_at: r.8,
        updated_at: r.9,
        finished_at: r.10,
    })
}

/// The job, if it belongs to one of the caller's stores.
pub fn get_import_job(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<ImportJob> {
    let j = load_job(conn, id)?;
    if scope.allows(&j.store_id) {
        Ok(j)
    } else {
        Err(MembershipError::NotFound("import job"))
    }
}

/// SHA-256 over what makes two uploads the same request.
pub fn file_fingerprint(store_id: &str, format: FileFormat, bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"member_import\0");
    h.update(store_id.as_bytes());
    h.update([0u8]);
    h.update(format.code().as_bytes());
    h.update([0u8]);
    h.update(bytes);
    hex::encode(h.finalize())
}

/// A new import job.
pub struct NewImport<'a> {
    pub store_id: &'a str,
    pub format: FileFormat,
    pub fingerprint: &'a str,
    pub rows_total: i64,
}

/// Registers a job for an upload, once per (caller, Idempotency-Key): the same key with the
/// same file answers the existing job as a replay (the caller must not run it again); with
/// another file it is [`MembershipError::IdempotencyMismatch`].
pub fn create_import_job(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    new: &NewImport<'_>,
) -> Result<Replayable<ImportJob>> {
    check_key(idempotency_key)?;
    if !scope.allows(new.store_id) {
        return Err(MembershipError::NotFound("store"));
    }
    let principal = principal_of(actor);
    let now = now_db(clock);
    write(conn, |c| {
        crate::util::store_exists(c, new.store_id)?;
        let existing: Option<(String, String)> = mem_import_jobs::table
            .filter(mem_import_jobs::principal.eq(&principal))
            .filter(mem_import_jobs::idem_key.eq(idempotency_key))
            .select((mem_import_jobs::id, mem_import_jobs::fingerprint))
            .first(c)
            .optional()?;
        if let Some((id, fp)) = existing {
            if fp != new.fingerprint {
                return Err(MembershipError::IdempotencyMismatch);
            }
            return Ok(Replayable {
                value: load_job(c, &id)?,
                replayed: true,
            });
        }
        let id = dms_core::new_id();
        diesel::insert_into(mem_import_jobs::table)
            .values((
                mem_import_jobs::id.eq(&id),
                mem_import_jobs::store_id.eq(new.store_id),
                mem_import_jobs::principal.eq(&principal),
                mem_import_jobs::idem_key.eq(idempotency_key),
                mem_import_jobs::fingerprint.eq(new.fingerprint),
                mem_import_jobs::actor_id.eq(actor.id.as_deref()),
                mem_import_jobs::file_format.eq(new.format.code()),
                mem_import_jobs::status.eq("validating"),
                mem_import_jobs::rows_total.eq(new.rows_total),
                mem_import_jobs::rows_processed.eq(0i64),
                mem_import_jobs::errors.eq("{\"count\":0,\"errors\":[]}"),
                mem_import_jobs::created_at.eq(now),
                mem_import_jobs::updated_at.eq(now),
            ))
            .execute(c)
            .map_err(|e| {
                if dms_db::is_unique_violation(&e) {
                    MembershipError::retry_conflict()
                } else {
                    e.into()
                }
            })?;
        Ok(Replayable {
            value: load_job(c, &id)?,
            replayed: false,
        })
    })
}

/// Records a failed job (file-level or row errors) with everything it found.
pub fn fail_job(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    job_id: &str,
    errors: &[RowError],
) -> Result<ImportJob> {
    let now = now_db(clock);
    let stored = StoredErrors {
        count: errors.len() as i64,
        errors: errors.iter().take(MAX_REPORTED_ERRORS).cloned().collect(),
    };
    let text =
        serde_json::to_string(&stored).map_err(|e| MembershipError::Internal(e.to_string()))?;
    write(conn, |c| {
        diesel::update(mem_import_jobs::table.find(job_id))
            .set((
                mem_import_jobs::status.eq("failed"),
                mem_import_jobs::errors.eq(&text),
                mem_import_jobs::updated_at.eq(now),
                mem_import_jobs::finished_at.eq(Some(now)),
            ))
            .execute(c)?;
        load_job(c, job_id)
    })
}

fn set_phase(
    conn: &mut DbConnection,
    job_id: &str,
    status: &str,
    processed: i64,
    now: NaiveDateTime,
) -> Result<()> {
    write(conn, |c| {
        diesel::update(mem_import_jobs::table.find(job_id))
            .set((
                mem_import_jobs::status.eq(status),
                mem_import_jobs::rows_processed.eq(processed),
                mem_import_jobs::updated_at.eq(now),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Where a running job is, for the caller's live progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Validating,
    Importing,
}

/// Runs a registered job to its end: validates every row (recording progress in the job row),
/// then writes everything in one transaction that also marks the job done; on any error the
/// job is failed with the per-row report and nothing is written. `progress` receives live
/// counts (also while the write transaction holds the database). Returns the finished job.
pub fn run_import_job(
    conn: &mut DbConnection,
    actor: &Actor,
    clock: &dyn Clock,
    job_id: &str,
    sheet: &Sheet,
    progress: &dyn Fn(Phase, u64),
) -> Result<ImportJob> {
    let job = load_job(conn, job_id)?;
    if job.status != "validating" {
        return Ok(job);
    }
    let store_id = job.store_id.clone();
    let validated = validate(conn, &store_id, sheet, now_db(clock), &mut |n| {
        progress(Phase::Validating, n);
        Ok(())
    })?;
    let rows = match validated {
        Ok(rows) => rows,
        Err(errors) => {
            set_phase(
                conn,
                job_id,
                "validating",
                sheet.rows.len() as i64,
                now_db(clock),
            )?;
            return fail_job(conn, clock, job_id, &errors);
        }
    };
    set_phase(conn, job_id, "importing", 0, now_db(clock))?;
    progress(Phase::Importing, 0);
    // One long transaction touches many pages: on SQLite a larger page cache for it keeps
    // them from being spilled to the WAL again and again (back to the default afterwards).
    if let DbConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        let _ = c.batch_execute("PRAGMA cache_size = -65536;");
    }
    let current_row = std::cell::Cell::new(0u64);
    let ignored = sheet.ignored_columns();
    let written = write(conn, |c| {
        let summary = write_rows(c, actor, clock, &store_id, &rows, &ignored, &|i, row| {
            current_row.set(row);
            if i % 100 == 0 {
                progress(Phase::Importing, i);
            }
        })?;
        let now = now_db(clock);
        let text = serde_json::to_string(&summary)
            .map_err(|e| MembershipError::Internal(e.to_string()))?;
        diesel::update(mem_import_jobs::table.find(job_id))
            .set((
                mem_import_jobs::status.eq("done"),
                mem_import_jobs::rows_processed.eq(rows.len() as i64),
                mem_import_jobs::result.eq(Some(text)),
                mem_import_jobs::updated_at.eq(now),
                mem_import_jobs::finished_at.eq(Some(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&store_id),
            "membership.import",
            "import_job",
            job_id,
            json!({"rows": rows.len(), "members": summary.members_created,
                   "principal": summary.principal_total, "bonus": summary.bonus_total,
                   "tier_points": summary.tier_points_total,
                   "redeemable_points": summary.redeemable_points_total}),
        )?;
        Ok(())
    });
    if let DbConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        let _ = c.batch_execute("PRAGMA cache_size = -2000;");
    }
    match written {
        Ok(()) => {
            progress(Phase::Importing, rows.len() as u64);
            load_job(conn, job_id)
        }
        // A row that raced with another writer (a card number taken meanwhile...): reported
        // like a validation error; nothing was written.
        Err(MembershipError::Invalid { field, message })
        | Err(MembershipError::Conflict { field, message }) => fail_job(
            conn,
            clock,
            job_id,
            &[RowError::new(current_row.get(), field, "conflict", message)],
        ),
        Err(e) => {
            let _ = fail_job(
                conn,
                clock,
                job_id,
                &[RowError::new(
                    0,
                    "body",
                    "internal",
                    "the import could not be written; nothing was imported",
                )],
            );
            Err(e)
        }
    }
}

fn write_rows(
    c: &mut DbConnection,
    actor: &Actor,
    clock: &dyn Clock,
    store_id: &str,
    rows: &[ValidRow],
    ignored: &[String],
    progress: &dyn Fn(u64, u64),
) -> Result<ImportSummary> {
    let cfg = effective_config(c, store_id)?;
    let now = clock.now();
    let ndb = dms_db::to_db_time(now);
    let default_term = dms_db::to_db_time(add_months(now, cfg.term_months));
    let bonus_expiry =
        dms_db::to_db_time(now + chrono::Duration::days(i64::from(cfg.bonus_valid_days)));
    let scope = StoreScope::Stores(vec![store_id.to_string()]);
    let mut s = ImportSummary {
        ignored_columns: ignored.to_vec(),
        ..Default::default()
    };
    let (mut principal, mut bonus) = (0i64, 0i64);
    for (i, r) in rows.iter().enumerate() {
        progress(i as u64, r.row);
        let customer_id = match &r.customer {
            CustomerMatch::Existing(id) => {
                s.customers_linked += 1;
                id.clone()
            }
            CustomerMatch::New => {
                let nc = dms_crm::NewCustomer::individual(store_id, &r.name, &r.phone);
                let cust =
                    dms_crm::create_customer(c, actor, &scope, &nc, now).map_err(crm_error)?;
                s.customers_created += 1;
                cust.id
            }
        };
        let member_id = dms_core::new_id();
        diesel::insert_into(mem_members::table)
            .values((
                mem_members::id.eq(&member_id),
                mem_members::store_id.eq(store_id),
                mem_members::customer_id.eq(&customer_id),
                mem_members::tier_code.eq(&r.tier),
                mem_members::join_channel.eq(IMPORT_CHANNEL),
                mem_members::status.eq("active"),
                mem_members::joined_at.eq(ndb),
                mem_members::term_expires_at.eq(r.expires_at.unwrap_or(default_term)),
                mem_members::tier_points.eq(0i64),
                mem_members::redeemable_points.eq(0i64),
                mem_members::created_at.eq(ndb),
                mem_members::updated_at.eq(ndb),
            ))
            .execute(c)
            .map_err(|e| {
                crate::util::unique_conflict(e, "phone", "the customer is already a member")
            })?;
        s.members_created += 1;
        let card = insert_card(
            c,
            actor,
            &scope,
            clock,
            &IssueCard {
                member_id: member_id.clone(),
                card_no: Some(r.card_no.clone()),
                chip_uid: r.chip_uid.clone(),
                expires_at: r.expires_at.map(dms_db::from_db_time),
            },
        )?;
        s.cards_issued += 1;
        if r.principal_fen > 0 || r.bonus_fen > 0 {
            let mut legs = Vec::new();
            if r.principal_fen > 0 {
                legs.push(Leg::principal(&card.id, r.principal_fen));
                legs.push(Leg::counter(MIGRATION, -r.principal_fen));
            }
            let txn_id = post_sv(
                c,
                actor,
                ndb,
                &SvTxn {
                    store_id,
                    card_id: &card.id,
                    kind: MIGRATION,
                    amount_fen: r.principal_fen + r.bonus_fen,
                    payment_method: None,
                    ref_id: None,
                    reverses: None,
                    terminal_id: None,
                    memo: "旧系统余额迁移",
                },
                &legs,
            )?;
            if r.bonus_fen > 0 {
                // The bonus keeps its own non-refundable lot, with the programme's validity
                // counted from the import.
                let lot_id = dms_core::new_id();
                diesel::insert_into(mem_bonus_lots::table)
                    .values((
                        mem_bonus_lots::id.eq(&lot_id),
                        mem_bonus_lots::store_id.eq(store_id),
                        mem_bonus_lots::card_id.eq(&card.id),
                        mem_bonus_lots::txn_id.eq(&txn_id),
                        mem_bonus_lots::amount_fen.eq(r.bonus_fen),
                        mem_bonus_lots::remaining_fen.eq(0i64),
                        mem_bonus_lots::expires_at.eq(bonus_expiry),
                        mem_bonus_lots::created_at.eq(ndb),
                    ))
                    .execute(c)?;
                append_legs(
                    c,
                    ndb,
                    &txn_id,
                    store_id,
                    &[
                        Leg::bonus(&card.id, &lot_id, r.bonus_fen),
                        Leg::counter(MIGRATION, -r.bonus_fen),
                    ],
                )?;
            }
            principal += r.principal_fen;
            bonus += r.bonus_fen;
        }
        if r.tier_points > 0 || r.redeemable > 0 {
            post_points(
                c,
                actor,
                ndb,
                &PointsTxn {
                    store_id,
                    member_id: &member_id,
                    kind: MIGRATION,
                    reason: "旧系统积分迁移",
                    ref_id: None,
                    reverses: None,
                },
                &[
                    PointsLeg::member(TIER, r.tier_points),
                    PointsLeg::counter(TIER, MIGRATION, -r.tier_points),
                    PointsLeg::member(REDEEMABLE, r.redeemable),
                    PointsLeg::counter(REDEEMABLE, MIGRATION, -r.redeemable),
                ],
            )?;
            s.tier_points_total += r.tier_points;
            s.redeemable_points_total += r.redeemable;
        }
    }
    s.principal_total = Money::from_fen(principal);
    s.bonus_total = Money::from_fen(bonus);
    Ok(s)
}

/// Jobs left validating or importing by a server that stopped: their transaction never
/// committed (a committed one is `done`), so they are failed. Run once at start; returns how
/// many were failed.
pub fn fail_interrupted_jobs(conn: &mut DbConnection, clock: &dyn Clock) -> Result<usize> {
    let now = now_db(clock);
    let stored = StoredErrors {
        count: 1,
        errors: vec![RowError::new(
            0,
            "body",
            "interrupted",
            "the server stopped while the import ran; nothing was imported, upload the file again with a new Idempotency-Key",
        )],
    };
    let text =
        serde_json::to_string(&stored).map_err(|e| MembershipError::Internal(e.to_string()))?;
    write(conn, |c| {
        Ok(diesel::update(
            mem_import_jobs::table
                .filter(mem_import_jobs::status.eq_any(["validating", "importing"])),
        )
        .set((
            mem_import_jobs::status.eq("failed"),
            mem_import_jobs::errors.eq(&text),
            mem_import_jobs::updated_at.eq(now),
            mem_import_jobs::finished_at.eq(Some(now)),
        ))
        .execute(c)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_chinese_and_english() {
        assert_eq!(column_of("手机号"), Some(Column::Phone));
        assert_eq!(column_of(" Card No "), Some(Column::CardNo));
        assert_eq!(column_of("\u{feff}姓名"), Some(Column::Name));
        assert_eq!(column_of("消费积分"), Some(Column::TierPoints));
        assert_eq!(column_of("tier_points"), Some(Column::TierPoints));
        assert_eq!(column_of("备注"), None);
    }

    #[test]
    fn amounts_points_and_dates() {
        assert_eq!(parse_amount("1,234.50"), Ok(123_450));
        assert_eq!(parse_amount(""), Ok(0));
        assert_eq!(parse_amount("-1.00").map_err(|e| e.0), Err("negative"));
        assert_eq!(parse_amount("1.005").map_err(|e| e.0), Err("too_precise"));
        assert_eq!(parse_amount("abc").map_err(|e| e.0), Err("money_format"));
        assert_eq!(parse_points("1200"), Ok(1200));
        assert_eq!(parse_points("12.5").map_err(|e| e.0), Err("invalid_number"));
        assert_eq!(
            parse_date("2027/6/30"),
            NaiveDate::from_ymd_opt(2027, 6, 30)
        );
        assert_eq!(
            parse_date("2027-06-30 00:00:00"),
            NaiveDate::from_ymd_opt(2027, 6, 30)
        );
        assert_eq!(parse_date("30/06/2027"), None);
    }

    #[test]
    fn csv_header_is_checked() {
        let e = read_sheet(FileFormat::Csv, "姓名,备注\n张三,x\n".as_bytes()).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["phone", "card_no"]);
        let s = read_sheet(
            FileFormat::Csv,
            "\u{feff}姓名,手机号,卡号,备注\n张三,13800000000,88001,x\n,,,\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].0, 2);
        assert_eq!(s.ignored_columns(), vec!["备注".to_string()]);
    }

    #[test]
    fn gbk_csv_is_read() {
        let (bytes, _, _) = encoding_rs::GBK.encode("姓名,手机号,卡号\n张三,13800000000,8800001\n");
        let s = read_sheet(FileFormat::Csv, &bytes).unwrap();
        assert_eq!(s.rows[0].1[0], "张三");
    }
}
