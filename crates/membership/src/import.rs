//! Import of members and cards from the stores' legacy systems (CSV or XLSX), as a job.
//!
//! One row is one card; the rows sharing a mobile number are one member holding several cards.
//! The customer is found by phone with the CRM's duplicate rules, or created; the member (tier,
//! points, term) is created, or, when the customer is already an active member of the import's
//! store, that membership receives the cards (its tier and term stay). Member-level cells
//! (姓名, 等级, 积分, 等级积分) must agree across a member's rows or be empty; each row's card has
//! its own number, chip, expiry and opening balances. Opening balances are ledger transactions
//! of kind `migration` against the counter account `migration`, so they balance like every
//! other movement and stay out of the top-up and promotion statistics.
//!
//! Nothing is half-imported: every row is validated first (in the file and against the
//! database); any error fails the job with a per-row report and writes nothing. Then every row
//! to write is built in memory (ids, balances, ledger entries), and one short write transaction
//! re-checks in bulk what validation looked up, writes with multi-row INSERTs and marks the job
//! done, so "done" and the data commit together (ledger rows are append-only, so the import is
//! never committed in parts). Live progress goes to a callback; the job row in the database
//! holds the phase, and the counts at each phase's end.

use crate::config::{effective_config, ProgrammeConfig};
use crate::error::{MembershipError, Result};
use crate::idempotency::{check_key, principal_of, Replayable};
use crate::ledger::{BONUS, PRINCIPAL, REDEEMABLE, TIER};
use crate::members::add_months;
use crate::schema::{
    mem_bonus_lots, mem_cards, mem_import_jobs, mem_members, mem_points_entries, mem_points_txns,
    mem_sv_entries, mem_sv_txns,
};
use crate::util::{audit, now_db, write, write_lock_first};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
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

/// Who a member's customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CustomerMatch {
    Existing(String),
    New,
}

/// A membership already on file that the file's cards are added to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExistingMember {
    id: String,
    tier: String,
}

/// One card of the file (one row), checked.
#[derive(Debug, Clone)]
struct CardRow {
    row: u64,
    card_no: String,
    chip_uid: Option<String>,
    principal_fen: i64,
    bonus_fen: i64,
    /// The card's expiry (end of the Beijing day), if the row gives one.
    expires_at: Option<NaiveDateTime>,
}

/// One member of the file: the rows sharing a mobile number, checked.
#[derive(Debug, Clone)]
struct MemberRows {
    first_row: u64,
    name: String,
    phone: String,
    customer: CustomerMatch,
    /// The customer's membership in the import's store, which receives the cards.
    existing: Option<ExistingMember>,
    tier: String,
    redeemable: i64,
    tier_points: i64,
    cards: Vec<CardRow>,
}

impl MemberRows {
    /// A new member's term: the latest of its cards' dates, else the programme's term.
    fn term(&self) -> Option<NaiveDateTime> {
        self.cards.iter().filter_map(|c| c.expires_at).max()
    }
}

/// A member-level value as the rows of one member give it: the first non-empty one and its row.
#[derive(Debug, Clone, Default)]
struct Agreed<T> {
    value: Option<(T, u64)>,
}

impl<T: PartialEq + Clone> Agreed<T> {
    /// Records `v` from `row`; `Err(first row)` when an earlier row gave another value.
    fn agree(&mut self, v: T, row: u64) -> std::result::Result<(), u64> {
        match &self.value {
            Some((x, first)) if *x != v => Err(*first),
            Some(_) => Ok(()),
            None => {
                self.value = Some((v, row));
                Ok(())
            }
        }
    }

    fn get(&self) -> Option<T> {
        self.value.as_ref().map(|(v, _)| v.clone())
    }
}

/// Member-level cells of one mobile number while the rows are read.
#[derive(Debug, Clone, Default)]
struct MemberCells {
    name: Agreed<String>,
    tier: Agreed<String>,
    redeemable: Agreed<i64>,
    tier_points: Agreed<i64>,
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

/// Values per `IN (...)` of a look-up.
const LOOKUP_CHUNK: usize = 1000;

/// Of the card numbers, those a card already has (looked up in batches on the unique index).
fn card_nos_taken<S: AsRef<str>>(c: &mut DbConnection, numbers: &[S]) -> Result<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in numbers.chunks(LOOKUP_CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
        let found: Vec<String> = mem_cards::table
            .filter(mem_cards::card_no.eq_any(&chunk))
            .select(mem_cards::card_no)
            .load(c)?;
        taken.extend(found);
    }
    Ok(taken)
}

/// Of the chip UIDs, those already bound to a card.
fn chips_taken<S: AsRef<str>>(c: &mut DbConnection, chips: &[S]) -> Result<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in chips.chunks(LOOKUP_CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
        let found: Vec<Option<String>> = mem_cards::table
            .filter(mem_cards::chip_uid.eq_any(&chunk))
            .select(mem_cards::chip_uid)
            .load(c)?;
        taken.extend(found.into_iter().flatten());
    }
    Ok(taken)
}

/// An error about one cell, naming the column as the file writes it.
fn cell_error(sheet: &Sheet, row: u64, col: Column, code: &str, msg: String) -> RowError {
    let mut e = RowError::new(row, col.field(), code, msg);
    e.column = sheet.header_of(col);
    e
}

/// The active customers holding each mobile number (main or further number, group-wide, the
/// CRM's duplicate rules), looked up in batches.
fn customers_by_phone(
    conn: &mut DbConnection,
    phones: &[String],
) -> Result<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in phones.chunks(500) {
        let matches = dms_crm::find_duplicates(
            conn,
            &dms_crm::DuplicateProbe {
                phones: chunk.to_vec(),
                id_number: None,
                vins: vec![],
            },
        )
        .map_err(crm_error)?;
        for m in matches {
            let i = m
                .field
                .strip_prefix("phones[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse::<usize>().ok());
            if let Some(p) = i.and_then(|i| chunk.get(i)) {
                let ids = out.entry(p.clone()).or_default();
                if !ids.contains(&m.customer_id) {
                    ids.push(m.customer_id);
                }
            }
        }
    }
    Ok(out)
}

/// (member id, store, status, tier) of the members among `customers`, by customer.
type Membership = (String, String, String, String);

fn memberships_of(
    conn: &mut DbConnection,
    customers: &[String],
) -> Result<HashMap<String, Membership>> {
    let mut out = HashMap::new();
    for chunk in customers.chunks(500) {
        let rows: Vec<(String, String, String, String, String)> = mem_members::table
            .filter(mem_members::customer_id.eq_any(chunk))
            .select((
                mem_members::customer_id,
                mem_members::id,
                mem_members::store_id,
                mem_members::status,
                mem_members::tier_code,
            ))
            .load(conn)?;
        for (cust, id, store, status, tier) in rows {
            out.insert(cust, (id, store, status, tier));
        }
    }
    Ok(out)
}

const MEMBER_FIELDS: &str = "a member's rows (the same mobile number) must agree on 姓名, 等级, 积分 and 等级积分, or leave them empty";

/// Checks every row in the file and against the database; reads only. Rows with the same
/// mobile number are one member holding several cards. `progress` is called with the number of
/// rows checked so far.
fn validate(
    conn: &mut DbConnection,
    cfg: &ProgrammeConfig,
    store_id: &str,
    sheet: &Sheet,
    now: NaiveDateTime,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<std::result::Result<Vec<MemberRows>, Vec<RowError>>> {
    let pos = |c: Column| sheet.position(c);
    let cell = |cells: &[String], c: Column| -> String {
        pos(c)
            .and_then(|i| cells.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut errors: Vec<RowError> = Vec::new();
    let mut seen_cards: HashMap<String, u64> = HashMap::new();
    let mut seen_chips: HashMap<String, u64> = HashMap::new();

    // Numbers, chips and customers already in the database, looked up in batches.
    let mut file_cards: Vec<String> = Vec::new();
    let mut file_chips: Vec<String> = Vec::new();
    let mut file_phones: BTreeSet<String> = BTreeSet::new();
    for (_, cells) in &sheet.rows {
        file_cards.push(cell(cells, Column::CardNo));
        let chip = cell(cells, Column::ChipUid);
        if !chip.is_empty() {
            file_chips.push(chip.to_ascii_uppercase());
        }
        if let Ok(p) = dms_crm::check_phone(&cell(cells, Column::Phone), false) {
            file_phones.insert(p);
        }
    }
    let taken_cards = card_nos_taken(conn, &file_cards)?;
    let taken_chips = chips_taken(conn, &file_chips)?;
    let phones: Vec<String> = file_phones.into_iter().collect();
    let holders = customers_by_phone(conn, &phones)?;
    let known: Vec<String> = holders
        .values()
        .filter(|ids| ids.len() == 1)
        .map(|ids| ids[0].clone())
        .collect();
    let memberships = memberships_of(conn, &known)?;

    let mut members: Vec<MemberRows> = Vec::new();
    let mut agreed: Vec<MemberCells> = Vec::new();
    let mut member_of_phone: HashMap<String, usize> = HashMap::new();
    for (i, (row, cells)) in sheet.rows.iter().enumerate() {
        let row = *row;
        let mut err = |col: Column, code: &str, msg: String| {
            errors.push(cell_error(sheet, row, col, code, msg));
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
        let tier = if tier_raw.is_empty() {
            None
        } else {
            let t = tier_of(cfg, &tier_raw);
            if t.is_none() {
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
            t
        };
        let mut amount = |col: Column| match parse_amount(&cell(cells, col)) {
            Ok(v) => v,
            Err((code, msg)) => {
                err(col, code, msg);
                0
            }
        };
        let principal_fen = amount(Column::Principal);
        let bonus_fen = amount(Column::Bonus);
        // Points are the member's: `None` for an empty cell (the member's other rows say).
        let mut points = |col: Column| {
            let raw = cell(cells, col);
            if raw.is_empty() {
                return None;
            }
            match parse_points(&raw) {
                Ok(v) => Some(v),
                Err((code, msg)) => {
                    err(col, code, msg);
                    None
                }
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
        if let Some(p) = phone {
            // The member: the first row of a mobile number finds the customer (by the CRM's
            // duplicate rules) and the customer's membership; later rows add cards to it.
            let idx = match member_of_phone.get(&p) {
                Some(&idx) => idx,
                None => {
                    let mut customer = CustomerMatch::New;
                    let mut existing = None;
                    match holders.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                        [] => {}
                        [id] => {
                            customer = CustomerMatch::Existing(id.clone());
                            if let Some((mid, mstore, status, mtier)) = memberships.get(id) {
                                if mstore != store_id {
                                    err(
                                        Column::Phone,
                                        "member_of_other_store",
                                        "the customer with this mobile number is a member of another store; import the cards there".into(),
                                    );
                                } else if status != "active" {
                                    err(
                                        Column::Phone,
                                        "member_not_active",
                                        format!("the customer's membership is {status}; renew it before adding cards"),
                                    );
                                } else {
                                    existing = Some(ExistingMember {
                                        id: mid.clone(),
                                        tier: mtier.clone(),
                                    });
                                }
                            }
                        }
                        ids => err(
                            Column::Phone,
                            "ambiguous_customer",
                            format!(
                                "{} customers have this mobile number; merge them in the CRM first",
                                ids.len()
                            ),
                        ),
                    }
                    members.push(MemberRows {
                        first_row: row,
                        name: String::new(),
                        phone: p.clone(),
                        customer,
                        existing,
                        tier: String::new(),
                        redeemable: 0,
                        tier_points: 0,
                        cards: Vec::new(),
                    });
                    agreed.push(MemberCells::default());
                    member_of_phone.insert(p, members.len() - 1);
                    members.len() - 1
                }
            };
            let a = &mut agreed[idx];
            let mut mismatch = |col: Column, first: u64| {
                err(
                    col,
                    "member_mismatch",
                    format!(
                        "row {first} gives this member another {}; {MEMBER_FIELDS}",
                        col.header()
                    ),
                );
            };
            if !name.is_empty() {
                if let Err(first) = a.name.agree(name, row) {
                    mismatch(Column::Name, first);
                }
            }
            if let Some(t) = tier {
                if let Err(first) = a.tier.agree(t, row) {
                    mismatch(Column::Tier, first);
                }
            }
            if let Some(v) = redeemable {
                if let Err(first) = a.redeemable.agree(v, row) {
                    mismatch(Column::RedeemablePoints, first);
                }
            }
            if let Some(v) = tier_points {
                if let Err(first) = a.tier_points.agree(v, row) {
                    mismatch(Column::TierPoints, first);
                }
            }
            members[idx].cards.push(CardRow {
                row,
                card_no,
                chip_uid: chip,
                principal_fen,
                bonus_fen,
                expires_at,
            });
        }
        if (i + 1) % 250 == 0 {
            progress(i as u64 + 1)?;
        }
    }
    // Member-level values, once every row of a member is read.
    let lowest = cfg
        .tiers
        .first()
        .map(|t| t.code.clone())
        .unwrap_or_default();
    for (m, a) in members.iter_mut().zip(agreed) {
        m.name = a.name.get().unwrap_or_default();
        m.redeemable = a.redeemable.get().unwrap_or(0);
        m.tier_points = a.tier_points.get().unwrap_or(0);
        match &m.existing {
            Some(e) => {
                if let Some((t, row)) = &a.tier.value {
                    if *t != e.tier {
                        errors.push(cell_error(
                            sheet,
                            *row,
                            Column::Tier,
                            "tier_mismatch",
                            format!(
                                "the customer is already a member at tier {}; cards added to a member keep the member's tier (leave 等级 empty or change the tier first)",
                                e.tier
                            ),
                        ));
                    }
                }
                m.tier = e.tier.clone();
            }
            None => m.tier = a.tier.get().unwrap_or_else(|| lowest.clone()),
        }
        if m.customer == CustomerMatch::New {
            if m.name.is_empty() {
                errors.push(cell_error(
                    sheet,
                    m.first_row,
                    Column::Name,
                    "required",
                    "a name is required for a customer not yet on file".into(),
                ));
            } else if m.name.chars().count() > 100 {
                errors.push(cell_error(
                    sheet,
                    m.first_row,
                    Column::Name,
                    "too_long",
                    "1-100 characters".into(),
                ));
            }
        }
    }
    progress(sheet.rows.len() as u64)?;
    // In row order (member-level findings come last from the loop above).
    errors.sort_by_key(|e| e.row);
    Ok(if errors.is_empty() {
        Ok(members)
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

/// Bound parameters per INSERT: below SQLite's limit (32766 in the bundled library) and
/// PostgreSQL's (65535).
const MAX_PARAMS: usize = 30_000;
/// Rows per INSERT at most (larger statements are no faster).
const MAX_BATCH_ROWS: usize = 1000;

struct NewMember {
    id: String,
    customer_id: String,
    tier: String,
    term: NaiveDateTime,
    tier_points: i64,
    redeemable: i64,
}

/// Points added to a member already on file, and the row that brought them.
struct Extended {
    member: ExistingMember,
    row: u64,
    tier_points: i64,
    redeemable: i64,
}

struct NewCard {
    id: String,
    row: u64,
    member_id: String,
    card_no: String,
    chip_uid: Option<String>,
    expires_at: NaiveDateTime,
    principal: i64,
    bonus: i64,
}

struct NewSvTxn {
    id: String,
    card_id: String,
    amount: i64,
}

struct NewLot {
    id: String,
    card_id: String,
    txn_id: String,
    amount: i64,
}

struct NewSvEntry {
    id: String,
    txn_id: String,
    card_id: Option<String>,
    account: &'static str,
    lot_id: Option<String>,
    amount: i64,
}

struct NewPointsTxn {
    id: String,
    member_id: String,
}

struct NewPointsEntry {
    id: String,
    txn_id: String,
    member_id: Option<String>,
    track: &'static str,
    account: &'static str,
    amount: i64,
}

/// Everything the write transaction inserts, built before it (ids, times, balances), so that
/// the transaction itself is a few multi-row INSERTs.
struct Plan {
    now: chrono::DateTime<chrono::Utc>,
    /// The imported bonus lots' expiry: the programme's bonus validity from the import.
    bonus_expiry: NaiveDateTime,
    customers: Vec<dms_crm::BulkCustomer>,
    /// The first row of each new customer, for a conflict found when writing.
    customer_rows: Vec<u64>,
    /// Customers on file who become members, and the row of each.
    linked: Vec<(String, u64)>,
    members: Vec<NewMember>,
    extended: Vec<Extended>,
    cards: Vec<NewCard>,
    sv_txns: Vec<NewSvTxn>,
    lots: Vec<NewLot>,
    sv_entries: Vec<NewSvEntry>,
    points_txns: Vec<NewPointsTxn>,
    points_entries: Vec<NewPointsEntry>,
    summary: ImportSummary,
}

fn build_plan(
    members: &[MemberRows],
    cfg: &ProgrammeConfig,
    store_id: &str,
    now: chrono::DateTime<chrono::Utc>,
    ignored: Vec<String>,
) -> Plan {
    let default_term = dms_db::to_db_time(add_months(now, cfg.term_months));
    let default_card_expiry = dms_db::to_db_time(add_months(now, cfg.card_valid_months));
    let mut p = Plan {
        now,
        bonus_expiry: dms_db::to_db_time(
            now + chrono::Duration::days(i64::from(cfg.bonus_valid_days)),
        ),
        customers: Vec::new(),
        customer_rows: Vec::new(),
        linked: Vec::new(),
        members: Vec::with_capacity(members.len()),
        extended: Vec::new(),
        cards: Vec::new(),
        sv_txns: Vec::new(),
        lots: Vec::new(),
        sv_entries: Vec::new(),
        points_txns: Vec::new(),
        points_entries: Vec::new(),
        summary: ImportSummary {
            ignored_columns: ignored,
            ..Default::default()
        },
    };
    let (mut principal, mut bonus) = (0i64, 0i64);
    for m in members {
        let member_id = match &m.existing {
            Some(e) => {
                p.summary.customers_linked += 1;
                p.extended.push(Extended {
                    member: e.clone(),
                    row: m.first_row,
                    tier_points: m.tier_points,
                    redeemable: m.redeemable,
                });
                e.id.clone()
            }
            None => {
                let customer_id = match &m.customer {
                    CustomerMatch::Existing(id) => {
                        p.summary.customers_linked += 1;
                        p.linked.push((id.clone(), m.first_row));
                        id.clone()
                    }
                    CustomerMatch::New => {
                        let id = dms_core::new_id();
                        p.customers.push(dms_crm::BulkCustomer {
                            id: id.clone(),
                            store_id: store_id.to_string(),
                            name: m.name.clone(),
                            phone: m.phone.clone(),
                        });
                        p.customer_rows.push(m.first_row);
                        p.summary.customers_created += 1;
                        id
                    }
                };
                let id = dms_core::new_id();
                p.members.push(NewMember {
                    id: id.clone(),
                    customer_id,
                    tier: m.tier.clone(),
                    term: m.term().unwrap_or(default_term),
                    tier_points: m.tier_points,
                    redeemable: m.redeemable,
                });
                p.summary.members_created += 1;
                id
            }
        };
        for c in &m.cards {
            let card_id = dms_core::new_id();
            p.cards.push(NewCard {
                id: card_id.clone(),
                row: c.row,
                member_id: member_id.clone(),
                card_no: c.card_no.clone(),
                chip_uid: c.chip_uid.clone(),
                expires_at: c.expires_at.unwrap_or(default_card_expiry),
                principal: c.principal_fen,
                bonus: c.bonus_fen,
            });
            p.summary.cards_issued += 1;
            if c.principal_fen == 0 && c.bonus_fen == 0 {
                continue;
            }
            // One `migration` transaction per card: principal and bonus against the counter
            // account, the bonus in a lot of its own with the programme's validity.
            let txn_id = dms_core::new_id();
            p.sv_txns.push(NewSvTxn {
                id: txn_id.clone(),
                card_id: card_id.clone(),
                amount: c.principal_fen + c.bonus_fen,
            });
            let mut leg = |card: Option<&str>, account, lot: Option<&str>, amount| {
                p.sv_entries.push(NewSvEntry {
                    id: dms_core::new_id(),
                    txn_id: txn_id.clone(),
                    card_id: card.map(str::to_string),
                    account,
                    lot_id: lot.map(str::to_string),
                    amount,
                });
            };
            if c.principal_fen > 0 {
                leg(Some(&card_id), PRINCIPAL, None, c.principal_fen);
            }
            // One counter entry for both (one statistics fact, `sv:migration`, which no
            // figure counts).
            leg(None, MIGRATION, None, -(c.principal_fen + c.bonus_fen));
            if c.bonus_fen > 0 {
                let lot_id = dms_core::new_id();
                leg(Some(&card_id), BONUS, Some(&lot_id), c.bonus_fen);
                p.lots.push(NewLot {
                    id: lot_id,
                    card_id: card_id.clone(),
                    txn_id: txn_id.clone(),
                    amount: c.bonus_fen,
                });
            }
            principal += c.principal_fen;
            bonus += c.bonus_fen;
        }
        if m.tier_points > 0 || m.redeemable > 0 {
            let txn_id = dms_core::new_id();
            p.points_txns.push(NewPointsTxn {
                id: txn_id.clone(),
                member_id: member_id.clone(),
            });
            for (track, amount) in [(TIER, m.tier_points), (REDEEMABLE, m.redeemable)] {
                if amount == 0 {
                    continue;
                }
                for (member, account, amount) in [
                    (Some(member_id.clone()), "member", amount),
                    (None, MIGRATION, -amount),
                ] {
                    p.points_entries.push(NewPointsEntry {
                        id: dms_core::new_id(),
                        txn_id: txn_id.clone(),
                        member_id: member,
                        track,
                        account,
                        amount,
                    });
                }
            }
            p.summary.tier_points_total += m.tier_points;
            p.summary.redeemable_points_total += m.redeemable;
        }
    }
    p.summary.principal_total = Money::from_fen(principal);
    p.summary.bonus_total = Money::from_fen(bonus);
    p
}

/// Runs one multi-row INSERT per batch of `$rows` on the engine's own connection (diesel's
/// multi-connection type does not batch), `$ncols` bound values a row.
macro_rules! insert_batches {
    ($c:expr, $table:expr, $rows:expr, $ncols:expr, |$r:ident| $tuple:expr) => {{
        let per = (MAX_PARAMS / $ncols).clamp(1, MAX_BATCH_ROWS);
        for chunk in $rows.chunks(per) {
            let values: Vec<_> = chunk.iter().map(|$r| $tuple).collect();
            let q = diesel::insert_into($table).values(values);
            match &mut *$c {
                DbConnection::Sqlite(c) => q.execute(c),
                DbConnection::Pg(c) => q.execute(c),
            }
            .map_err(taken_meanwhile)?;
        }
    }};
}

fn taken_meanwhile(e: diesel::result::Error) -> MembershipError {
    if dms_db::is_unique_violation(&e) {
        MembershipError::conflict(
            "card_no",
            "a card number, chip or customer of the file was taken while it was imported",
        )
    } else {
        e.into()
    }
}

/// Is what validation looked up still true? Card numbers and chips still free, new customers'
/// numbers still unknown, linked customers still not members, extended members unchanged.
/// A few indexed `IN` queries, at the start of the write transaction.
fn recheck(c: &mut DbConnection, store_id: &str, plan: &Plan) -> Result<Vec<RowError>> {
    let mut conflicts = Vec::new();
    let conflict = |row: u64, field: &str, code: &str, msg: &str| {
        RowError::new(
            row,
            field,
            code,
            format!("{msg} while the file was checked; nothing was imported, upload it again"),
        )
    };
    let card_rows: HashMap<&str, u64> = plan
        .cards
        .iter()
        .map(|k| (k.card_no.as_str(), k.row))
        .collect();
    let numbers: Vec<&str> = card_rows.keys().copied().collect();
    for n in card_nos_taken(c, &numbers)? {
        let row = card_rows.get(n.as_str()).copied().unwrap_or(0);
        conflicts.push(conflict(
            row,
            "card_no",
            "card_no_taken",
            "a card with this number was issued",
        ));
    }
    let chip_rows: HashMap<&str, u64> = plan
        .cards
        .iter()
        .filter_map(|k| k.chip_uid.as_deref().map(|u| (u, k.row)))
        .collect();
    let chips: Vec<&str> = chip_rows.keys().copied().collect();
    for u in chips_taken(c, &chips)? {
        let row = chip_rows.get(u.as_str()).copied().unwrap_or(0);
        conflicts.push(conflict(
            row,
            "chip_uid",
            "chip_taken",
            "this chip was bound to a card",
        ));
    }
    let phones: Vec<String> = plan.customers.iter().map(|k| k.phone.clone()).collect();
    let in_use = dms_crm::phones_in_use(c, &phones).map_err(crm_error)?;
    for (k, row) in plan.customers.iter().zip(&plan.customer_rows) {
        if in_use.contains(&k.phone) {
            conflicts.push(conflict(
                *row,
                "phone",
                "customer_added",
                "a customer with this mobile number was added",
            ));
        }
    }
    let linked_rows: HashMap<&str, u64> = plan
        .linked
        .iter()
        .map(|(id, row)| (id.as_str(), *row))
        .collect();
    let linked: Vec<&str> = linked_rows.keys().copied().collect();
    for chunk in linked.chunks(LOOKUP_CHUNK) {
        let found: Vec<String> = mem_members::table
            .filter(mem_members::customer_id.eq_any(chunk))
            .select(mem_members::customer_id)
            .load(c)?;
        for id in found {
            let row = linked_rows.get(id.as_str()).copied().unwrap_or(0);
            conflicts.push(conflict(
                row,
                "phone",
                "already_member",
                "the customer with this mobile number became a member",
            ));
        }
    }
    let ext: HashMap<&str, &Extended> = plan
        .extended
        .iter()
        .map(|e| (e.member.id.as_str(), e))
        .collect();
    let ids: Vec<&str> = ext.keys().copied().collect();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let q = mem_members::table
            .filter(mem_members::id.eq_any(chunk))
            .select((
                mem_members::id,
                mem_members::store_id,
                mem_members::status,
                mem_members::tier_code,
            ));
        // Locked on PostgreSQL (the transaction is READ COMMITTED there): they stay as checked
        // until the commit. SQLite's write lock already keeps every other writer out.
        let found: Vec<(String, String, String, String)> = match &mut *c {
            DbConnection::Pg(pg) => q.for_update().load(pg)?,
            DbConnection::Sqlite(sq) => q.load(sq)?,
        };
        let mut seen = HashSet::new();
        for (id, store, status, tier) in found {
            if let Some(e) = ext.get(id.as_str()) {
                seen.insert(id.clone());
                if store != store_id || status != "active" || tier != e.member.tier {
                    conflicts.push(conflict(
                        e.row,
                        "phone",
                        "member_changed",
                        "the customer's membership changed",
                    ));
                }
            }
        }
        for id in chunk.iter().filter(|id| !seen.contains(**id)) {
            if let Some(e) = ext.get(id) {
                conflicts.push(conflict(
                    e.row,
                    "phone",
                    "member_changed",
                    "the customer's membership was removed",
                ));
            }
        }
    }
    conflicts.sort_by_key(|e| e.row);
    Ok(conflicts)
}

/// The write phase: re-checks, then inserts the plan with multi-row INSERTs (parents first, so
/// the statistics triggers find the member of each card and ledger entry). `Ok(Err(..))` when
/// a re-check failed (nothing written).
fn write_plan(
    c: &mut DbConnection,
    actor: &Actor,
    store_id: &str,
    job_id: &str,
    plan: &Plan,
    progress: &dyn Fn(Phase, u64),
) -> Result<std::result::Result<(), Vec<RowError>>> {
    let mut lap = Laps::default();
    let conflicts = recheck(c, store_id, plan)?;
    if !conflicts.is_empty() {
        return Ok(Err(conflicts));
    }
    lap.done("re-check");
    let ndb = dms_db::to_db_time(plan.now);
    dms_crm::insert_customers_bulk(c, actor, store_id, job_id, &plan.customers, plan.now)
        .map_err(crm_error)?;
    lap.done("customers");
    insert_batches!(c, mem_members::table, plan.members, 12, |m| (
        mem_members::id.eq(&m.id),
        mem_members::store_id.eq(store_id),
        mem_members::customer_id.eq(&m.customer_id),
        mem_members::tier_code.eq(&m.tier),
        mem_members::join_channel.eq(IMPORT_CHANNEL),
        mem_members::status.eq("active"),
        mem_members::joined_at.eq(ndb),
        mem_members::term_expires_at.eq(m.term),
        mem_members::tier_points.eq(m.tier_points),
        mem_members::redeemable_points.eq(m.redeemable),
        mem_members::created_at.eq(ndb),
        mem_members::updated_at.eq(ndb),
    ));
    for e in plan
        .extended
        .iter()
        .filter(|e| e.tier_points > 0 || e.redeemable > 0)
    {
        diesel::update(mem_members::table.find(&e.member.id))
            .set((
                mem_members::tier_points.eq(mem_members::tier_points + e.tier_points),
                mem_members::redeemable_points.eq(mem_members::redeemable_points + e.redeemable),
                mem_members::updated_at.eq(ndb),
            ))
            .execute(c)?;
    }
    lap.done("members");
    // Cards carry their opening balances; the ledger entries below sum to them.
    let per = (MAX_PARAMS / 13).clamp(1, MAX_BATCH_ROWS);
    let mut done = 0u64;
    for chunk in plan.cards.chunks(per) {
        insert_batches!(c, mem_cards::table, chunk, 13, |k| (
            mem_cards::id.eq(&k.id),
            mem_cards::store_id.eq(store_id),
            mem_cards::member_id.eq(&k.member_id),
            mem_cards::card_no.eq(&k.card_no),
            mem_cards::chip_uid.eq(k.chip_uid.as_deref()),
            mem_cards::status.eq("active"),
            mem_cards::expires_at.eq(k.expires_at),
            mem_cards::principal_fen.eq(k.principal),
            mem_cards::bonus_fen.eq(k.bonus),
            mem_cards::pin_failures.eq(0),
            mem_cards::pin_hard_locked.eq(false),
            mem_cards::created_at.eq(ndb),
            mem_cards::updated_at.eq(ndb),
        ));
        done += chunk.len() as u64;
        progress(Phase::Importing, done);
    }
    lap.done("cards");
    insert_batches!(c, mem_sv_txns::table, plan.sv_txns, 10, |t| (
        mem_sv_txns::id.eq(&t.id),
        mem_sv_txns::store_id.eq(store_id),
        mem_sv_txns::card_id.eq(&t.card_id),
        mem_sv_txns::kind.eq(MIGRATION),
        mem_sv_txns::amount_fen.eq(t.amount),
        mem_sv_txns::actor_kind.eq(actor.kind),
        mem_sv_txns::actor_id.eq(actor.id.as_deref()),
        mem_sv_txns::terminal_id.eq(None::<&str>),
        mem_sv_txns::memo.eq("旧系统余额迁移"),
        mem_sv_txns::created_at.eq(ndb),
    ));
    let bonus_expiry = plan.bonus_expiry;
    insert_batches!(c, mem_bonus_lots::table, plan.lots, 8, |l| (
        mem_bonus_lots::id.eq(&l.id),
        mem_bonus_lots::store_id.eq(store_id),
        mem_bonus_lots::card_id.eq(&l.card_id),
        mem_bonus_lots::txn_id.eq(&l.txn_id),
        mem_bonus_lots::amount_fen.eq(l.amount),
        mem_bonus_lots::remaining_fen.eq(l.amount),
        mem_bonus_lots::expires_at.eq(bonus_expiry),
        mem_bonus_lots::created_at.eq(ndb),
    ));
    insert_batches!(c, mem_sv_entries::table, plan.sv_entries, 8, |e| (
        mem_sv_entries::id.eq(&e.id),
        mem_sv_entries::txn_id.eq(&e.txn_id),
        mem_sv_entries::store_id.eq(store_id),
        mem_sv_entries::card_id.eq(e.card_id.as_deref()),
        mem_sv_entries::account.eq(e.account),
        mem_sv_entries::bonus_lot_id.eq(e.lot_id.as_deref()),
        mem_sv_entries::amount_fen.eq(e.amount),
        mem_sv_entries::created_at.eq(ndb),
    ));
    lap.done("stored value");
    insert_batches!(c, mem_points_txns::table, plan.points_txns, 8, |t| (
        mem_points_txns::id.eq(&t.id),
        mem_points_txns::store_id.eq(store_id),
        mem_points_txns::member_id.eq(&t.member_id),
        mem_points_txns::kind.eq(MIGRATION),
        mem_points_txns::reason.eq("旧系统积分迁移"),
        mem_points_txns::actor_kind.eq(actor.kind),
        mem_points_txns::actor_id.eq(actor.id.as_deref()),
        mem_points_txns::created_at.eq(ndb),
    ));
    insert_batches!(c, mem_points_entries::table, plan.points_entries, 9, |e| (
        mem_points_entries::id.eq(&e.id),
        mem_points_entries::txn_id.eq(&e.txn_id),
        mem_points_entries::store_id.eq(store_id),
        mem_points_entries::member_id.eq(e.member_id.as_deref()),
        mem_points_entries::track.eq(e.track),
        mem_points_entries::account.eq(e.account),
        mem_points_entries::amount.eq(e.amount),
        mem_points_entries::expires_at.eq(None::<NaiveDateTime>),
        mem_points_entries::created_at.eq(ndb),
    ));
    lap.done("points");
    log::info!("member import {job_id}: {}", lap.text);
    Ok(Ok(()))
}

/// Seconds per stage of the write, for the log.
struct Laps {
    at: std::time::Instant,
    text: String,
}

impl Default for Laps {
    fn default() -> Self {
        Laps {
            at: std::time::Instant::now(),
            text: String::new(),
        }
    }
}

impl Laps {
    fn done(&mut self, stage: &str) {
        let now = std::time::Instant::now();
        let sep = if self.text.is_empty() { "" } else { ", " };
        self.text += &format!("{sep}{stage} {:.3} s", (now - self.at).as_secs_f64());
        self.at = now;
    }
}

#[derive(QueryableByName)]
struct CacheSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    cache_size: i64,
}

/// The SQLite connection's page cache setting (`None` on PostgreSQL or when unreadable).
fn sqlite_cache_size(conn: &mut DbConnection) -> Option<i64> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query("PRAGMA cache_size")
            .get_result::<CacheSize>(c)
            .ok()
            .map(|r| r.cache_size),
        DbConnection::Pg(_) => None,
    }
}

/// Runs a registered job to its end. Everything slow happens before the write transaction:
/// reading and validating the rows with their database look-ups (progress recorded in the job
/// row), then building every row to insert (ids, balances, ledger entries). The transaction
/// re-checks in bulk that what validation found is still true, writes the rows with multi-row
/// INSERTs and marks the job done, all or nothing; on any error the job is failed with the
/// per-row report and nothing is written. `progress` receives live counts. Returns the
/// finished job.
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
    let cfg = effective_config(conn, &store_id)?;
    let validated = validate(conn, &cfg, &store_id, sheet, now_db(clock), &mut |n| {
        progress(Phase::Validating, n);
        Ok(())
    })?;
    let members = match validated {
        Ok(m) => m,
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
    let plan = build_plan(
        &members,
        &cfg,
        &store_id,
        clock.now(),
        sheet.ignored_columns(),
    );
    let rows = sheet.rows.len();
    // The transaction writes some 15 rows a file row (with the statistics facts and indexes):
    // on SQLite a larger page cache keeps its pages from being spilled to the WAL and read
    // back before the commit (the connection's own size again afterwards).
    let cache = sqlite_cache_size(conn);
    if let (DbConnection::Sqlite(c), Some(_)) = (&mut *conn, cache) {
        let _ = diesel::sql_query("PRAGMA cache_size = -131072").execute(c);
    }
    let started = std::time::Instant::now();
    // PostgreSQL: READ COMMITTED (lock first) rather than SERIALIZABLE. The re-check reads
    // thousands of keys, so its predicate locks made the import the victim of every concurrent
    // top-up or checkout, retried until it gave up. What it decides on is guarded otherwise:
    // unique indexes (card numbers, chips, login phones, one membership per customer) and the
    // members it adds cards to, locked by the re-check.
    let written = write_lock_first(conn, |c| {
        if let Err(conflicts) = write_plan(c, actor, &store_id, job_id, &plan, progress)? {
            return Ok(Err(conflicts));
        }
        let s = &plan.summary;
        let now = dms_db::to_db_time(plan.now);
        let text =
            serde_json::to_string(s).map_err(|e| MembershipError::Internal(e.to_string()))?;
        diesel::update(mem_import_jobs::table.find(job_id))
            .set((
                mem_import_jobs::status.eq("done"),
                mem_import_jobs::rows_processed.eq(rows as i64),
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
            json!({"rows": rows, "members": s.members_created, "cards": s.cards_issued,
                   "principal": s.principal_total, "bonus": s.bonus_total,
                   "tier_points": s.tier_points_total,
                   "redeemable_points": s.redeemable_points_total}),
        )?;
        Ok(Ok(()))
    });
    log::info!(
        "member import {job_id}: {rows} rows, write transaction {:.3} s",
        started.elapsed().as_secs_f64()
    );
    if let (DbConnection::Sqlite(c), Some(size)) = (&mut *conn, cache) {
        let _ = diesel::sql_query(format!("PRAGMA cache_size = {size}")).execute(c);
    }
    match written {
        Ok(Ok(())) => {
            progress(Phase::Importing, rows as u64);
            load_job(conn, job_id)
        }
        // What validation found changed before the write (a card number taken meanwhile...):
        // reported like validation errors; nothing was written.
        Ok(Err(conflicts)) => fail_job(conn, clock, job_id, &conflicts),
        Err(MembershipError::Invalid { field, message })
        | Err(MembershipError::Conflict { field, message }) => fail_job(
            conn,
            clock,
            job_id,
            &[RowError::new(0, field, "conflict", message)],
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
