//! Tables to files, the one writer of every export (members, the stored-value ledger, the
//! member club's and the CRM's statistics).
//!
//! * XLSX: rust_xlsxwriter in constant-memory mode (finished rows go to a temporary file, so
//!   100k rows never sit in memory as cells); bold Chinese headers with the panes frozen below
//!   them; column widths from the widest text (a CJK character counts twice); numbers as
//!   numbers, money with two decimals (`#,##0.00`), days and moments as Excel dates; text as
//!   text, so card numbers and phones never become `8.8E+15`.
//! * CSV: UTF-8 with a byte-order mark, so Excel on a Chinese Windows does not read it as GBK;
//!   money as `1234.56`, days as `2026-06-30`.
//!
//! Two shapes: a [`Report`] of a few small tables (one sheet each, or one CSV with the tables
//! one after another under `【title】` rows), and a long table streamed page by page
//! ([`XlsxSheet`], [`csv_header`] and [`csv_rows`]).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use dms_core::Money;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// The widest column, in Excel character units.
const MAX_WIDTH: usize = 60;
const MIN_WIDTH: usize = 8;

/// Why a file could not be written (an internal error for the caller: the input is ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<XlsxError> for Error {
    fn from(e: XlsxError) -> Self {
        Error(format!("xlsx: {e}"))
    }
}

impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Self {
        Error(format!("csv: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Xlsx,
    Csv,
}

impl FileKind {
    pub fn extension(&self) -> &'static str {
        match self {
            FileKind::Xlsx => "xlsx",
            FileKind::Csv => "csv",
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            FileKind::Xlsx => XLSX_TYPE,
            FileKind::Csv => CSV_TYPE,
        }
    }
}

/// `Content-Disposition` of a download: the ASCII name for every browser and, when given, the
/// Chinese one in RFC 6266's `filename*` for those that read it.
pub fn attachment(ascii_name: &str, utf8_name: Option<&str>) -> String {
    match utf8_name {
        None => format!("attachment; filename=\"{ascii_name}\""),
        Some(n) => {
            let enc: String = n
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{enc}")
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text, also when it looks like a number (card numbers, phones).
    Text(String),
    Int(i64),
    /// Money: a number with two decimals.
    Money(Money),
    /// A rate or mean with one decimal; `None` (nothing to divide) is an empty cell.
    Decimal(Option<f64>),
    /// A day.
    Date(NaiveDate),
    /// A moment, already in the reader's time (the stores': Beijing).
    DateTime(NaiveDateTime),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// Text, or an empty cell for `None`.
    pub fn opt(s: Option<String>) -> Cell {
        s.map(Cell::Text).unwrap_or(Cell::Empty)
    }

    pub fn money_fen(fen: i64) -> Cell {
        Cell::Money(Money::from_fen(fen))
    }

    /// The cell as CSV writes it.
    pub fn as_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Money(m) => m.to_string(),
            Cell::Decimal(Some(x)) => format!("{x:.1}"),
            Cell::Decimal(None) | Cell::Empty => String::new(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

pub type Row = Vec<Cell>;

/// One table of a report: a sheet in the workbook, a section in the CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn new(title: impl Into<String>, headers: &[&str], rows: Vec<Row>) -> Table {
        Table {
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        }
    }
}

/// A few small tables, optionally under a title line (what was asked: period, store...).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: Option<String>,
    pub tables: Vec<Table>,
}

impl Report {
    pub fn write(&self, kind: FileKind) -> Result<Vec<u8>> {
        match kind {
            FileKind::Xlsx => self.xlsx(),
            FileKind::Csv => self.csv(),
        }
    }

    /// One sheet per table, named after it: the title line (bold) if any, the headers (bold,
    /// frozen), the rows.
    pub fn xlsx(&self) -> Result<Vec<u8>> {
        let mut wb = Workbook::new();
        let f = Formats::new();
        for t in &self.tables {
            let ws = wb.add_worksheet_with_constant_memory()?;
            ws.set_name(sheet_name(&t.title))?;
            let mut row = 0;
            if let Some(title) = &self.title {
                ws.write_string_with_format(0, 0, title, &f.bold)?;
                row = 1;
            }
            let headers: Vec<&str> = t.headers.iter().map(String::as_str).collect();
            let mut widths = write_headers(ws, row, &headers, &f)?;
            for (i, r) in t.rows.iter().enumerate() {
                write_row(ws, row + 1 + to_row(i)?, r, &f, &mut widths)?;
            }
            set_widths(ws, &widths)?;
        }
        Ok(wb.save_to_buffer()?)
    }

    /// UTF-8 with a BOM: the title line if any, then each table under a `【title】` row, its
    /// headers and rows, and an empty row.
    pub fn csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BOM.as_bytes().to_vec());
        if let Some(title) = &self.title {
            w.write_record([title])?;
        }
        for t in &self.tables {
            w.write_record([format!("【{}】", t.title)])?;
            w.write_record(&t.headers)?;
            for r in &t.rows {
                w.write_record(r.iter().map(Cell::as_text))?;
            }
            w.write_record([""])?;
        }
        w.into_inner().map_err(|e| Error(format!("csv: {e}")))
    }
}

const BOM: &str = "\u{feff}";

/// The first line of a streamed CSV: the BOM and the headers.
pub fn csv_header(headers: &[&str]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    w.write_record(headers)?;
    w.into_inner().map_err(|e| Error(format!("csv: {e}")))
}

/// Rows of a streamed CSV.
pub fn csv_rows(rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 128));
    for r in rows {
        w.write_record(r.iter().map(Cell::as_text))?;
    }
    w.into_inner().map_err(|e| Error(format!("csv: {e}")))
}

/// One long sheet written page by page in constant memory.
pub struct XlsxSheet {
    wb: Workbook,
    formats: Formats,
    next_row: u32,
    widths: Vec<usize>,
}

impl XlsxSheet {
    pub fn new(sheet: &str, headers: &[&str]) -> Result<XlsxSheet> {
        let mut wb = Workbook::new();
        let formats = Formats::new();
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(sheet_name(sheet))?;
        let widths = write_headers(ws, 0, headers, &formats)?;
        Ok(XlsxSheet {
            wb,
            formats,
            next_row: 1,
            widths,
        })
    }

    pub fn push(&mut self, rows: &[Row]) -> Result<()> {
        let ws = self.wb.worksheet_from_index(0)?;
        for r in rows {
            write_row(ws, self.next_row, r, &self.formats, &mut self.widths)?;
            self.next_row += 1;
        }
        Ok(())
    }

    /// The workbook's bytes (column widths are set here, from every row written).
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let ws = self.wb.worksheet_from_index(0)?;
        set_widths(ws, &self.widths)?;
        Ok(self.wb.save_to_buffer()?)
    }
}

struct Formats {
    bold: Format,
    money: Format,
    decimal: Format,
    date: Format,
    datetime: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            bold: Format::new().set_bold(),
            money: Format::new().set_num_format("#,##0.00"),
            decimal: Format::new().set_num_format("0.0"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }
}

/// Excel's sheet names: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(title: &str) -> String {
    title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect()
}

fn to_row(i: usize) -> Result<u32> {
    u32::try_from(i).map_err(|_| Error("xlsx: too many rows".into()))
}

fn to_col(i: usize) -> Result<u16> {
    u16::try_from(i).map_err(|_| Error("xlsx: too many columns".into()))
}

/// Columns for CJK text need about two character widths per character.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

fn write_headers(
    ws: &mut Worksheet,
    row: u32,
    headers: &[&str],
    f: &Formats,
) -> Result<Vec<usize>> {
    for (i, h) in headers.iter().enumerate() {
        ws.write_string_with_format(row, to_col(i)?, *h, &f.bold)?;
    }
    ws.set_freeze_panes(row + 1, 0)?;
    Ok(headers.iter().map(|h| display_width(h)).collect())
}

fn excel_time(t: NaiveDateTime) -> Result<ExcelDateTime> {
    let d = t.date();
    let year = u16::try_from(d.year()).map_err(|_| Error("xlsx: year out of range".into()))?;
    // Month, day, hour, minute and second are small by construction.
    Ok(
        ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8)?.and_hms(
            t.hour() as u16,
            t.minute() as u8,
            f64::from(t.second()),
        )?,
    )
}

fn write_row(
    ws: &mut Worksheet,
    row: u32,
    cells: &[Cell],
    f: &Formats,
    widths: &mut Vec<usize>,
) -> Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        let col = to_col(i)?;
        match cell {
            Cell::Text(s) => {
                ws.write_string(row, col, s)?;
            }
            Cell::Int(n) => {
                ws.write_number(row, col, *n as f64)?;
            }
            // Exact to the fen: any amount below 2^53 fen divides to the double nearest the
            // two-decimal figure, which Excel shows (and a reader reads back) as that figure.
            Cell::Money(m) => {
                ws.write_number_with_format(row, col, m.fen() as f64 / 100.0, &f.money)?;
            }
            Cell::Decimal(Some(x)) => {
                ws.write_number_with_format(row, col, *x, &f.decimal)?;
            }
            Cell::Decimal(None) | Cell::Empty => {}
            Cell::Date(d) => {
                let t = excel_time(d.and_hms_opt(0, 0, 0).unwrap_or_default())?;
                ws.write_datetime_with_format(row, col, t, &f.date)?;
            }
            Cell::DateTime(t) => {
                ws.write_datetime_with_format(row, col, excel_time(*t)?, &f.datetime)?;
            }
        }
        let w = match cell {
            Cell::Money(m) => display_width(&m.to_string()) + 2,
            other => display_width(&other.as_text()),
        };
        if widths.len() <= i {
            widths.resize(i + 1, 0);
        }
        widths[i] = widths[i].max(w);
    }
    Ok(())
}

fn set_widths(ws: &mut Worksheet, widths: &[usize]) -> Result<()> {
    for (i, w) in widths.iter().enumerate() {
        let w = (w + 2).clamp(MIN_WIDTH, MAX_WIDTH);
        ws.set_column_width(to_col(i)?, w as f64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader};

    fn sample() -> Report {
        Report {
            title: Some("会员统计 2026-06-01 至 2026-06-30".into()),
            tables: vec![
                Table::new(
                    "汇总",
                    &["范围", "充值金额", "笔数", "联系率(%)", "日期"],
                    vec![vec![
                        Cell::text("合计"),
                        Cell::money_fen(123_456),
                        Cell::Int(3),
                        Cell::Decimal(Some(60.0)),
                        Cell::Date(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()),
                    ]],
                ),
                Table::new("按门店", &["门店"], vec![vec![Cell::Decimal(None)]]),
            ],
        }
    }

    #[test]
    fn csv_has_bom_sections_and_plain_figures() {
        let text = String::from_utf8(sample().csv().unwrap()).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(
            text.contains("【汇总】\n范围,充值金额,笔数,联系率(%),日期\n"),
            "{text}"
        );
        assert!(text.contains("合计,1234.56,3,60.0,2026-06-30\n"), "{text}");
        assert!(text.contains("【按门店】"), "{text}");
        let mut streamed = csv_header(&["卡号", "余额"]).unwrap();
        streamed
            .extend(csv_rows(&[vec![Cell::text("8800000000000001"), Cell::money_fen(5)]]).unwrap());
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            "\u{feff}卡号,余额\n8800000000000001,0.05\n"
        );
    }

    #[test]
    fn xlsx_numbers_stay_numbers_and_text_stays_text() {
        let bytes = sample().xlsx().unwrap();
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(wb.sheet_names(), vec!["汇总", "按门店"]);
        let r = wb.worksheet_range("汇总").unwrap();
        assert_eq!(r.get_value((1, 0)), Some(&Data::String("范围".into())));
        assert_eq!(r.get_value((2, 1)), Some(&Data::Float(1234.56)));
        assert_eq!(r.get_value((2, 2)), Some(&Data::Float(3.0)));
        assert!(matches!(r.get_value((2, 4)), Some(Data::DateTime(_))));

        let mut s = XlsxSheet::new("会员", &["卡号", "余额"]).unwrap();
        s.push(&[vec![Cell::text("8800000000000001"), Cell::money_fen(10)]])
            .unwrap();
        let bytes = s.finish().unwrap();
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let r = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(
            r.get_value((1, 0)),
            Some(&Data::String("8800000000000001".into()))
        );
        assert_eq!(r.get_value((1, 1)), Some(&Data::Float(0.1)));
    }

    #[test]
    fn chinese_file_names_are_encoded() {
        assert_eq!(
            attachment("a_2026.csv", Some("会员.csv")),
            "attachment; filename=\"a_2026.csv\"; filename*=UTF-8''%E4%BC%9A%E5%91%98.csv"
        );
        assert_eq!(attachment("a.csv", None), "attachment; filename=\"a.csv\"");
    }
}
