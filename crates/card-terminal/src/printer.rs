//! Receipt printers: the [`ReceiptPrinter`] trait and an ESC/POS driver over TCP (port 9100)
//! or a USB printer device file (`/dev/usb/lp0`).
//!
//! The command builder is our own (about a hundred lines) rather than the `escpos` crate:
//! Chinese stores need GBK text and the printer's real-time status (DLE EOT) mapped to typed
//! errors, and owning the bytes lets the loopback peer in `dms-test-kit` check them exactly.
//!
//! A receipt is printed only when the printer says it is ready; the kiosk prints only after
//! the server confirmed the payment, so a printer problem never blocks or repeats a payment.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;

use crate::error::{Error, Result};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const DLE: u8 = 0x10;
const EOT: u8 = 0x04;
const LF: u8 = 0x0A;

/// Horizontal alignment (ESC a n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left = 0,
    /// Centre.
    Center = 1,
    /// Right.
    Right = 2,
}

/// Builds an ESC/POS byte stream.
#[derive(Debug, Default, Clone)]
pub struct EscPos {
    out: Vec<u8>,
}

impl EscPos {
    /// ESC @ (reset) and FS & (Chinese double-byte mode, so GBK text prints as Hanzi).
    pub fn new() -> Self {
        EscPos {
            out: vec![ESC, b'@', FS, b'&'],
        }
    }

    /// Text in GBK; characters GBK lacks are an error rather than a silent `?`.
    pub fn text(&mut self, text: &str) -> Result<&mut Self> {
        self.out.extend_from_slice(&gbk(text)?);
        Ok(self)
    }

    /// Text and a line feed.
    pub fn line(&mut self, text: &str) -> Result<&mut Self> {
        self.text(text)?;
        self.out.push(LF);
        Ok(self)
    }

    /// ESC E n: bold on/off.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.out.extend_from_slice(&[ESC, b'E', u8::from(on)]);
        self
    }

    /// GS ! n: character size, 1..=8 times in each direction.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.out.extend_from_slice(&[GS, b'!', (w << 4) | h]);
        self
    }

    /// ESC a n: alignment.
    pub fn align(&mut self, align: Align) -> &mut Self {
        self.out.extend_from_slice(&[ESC, b'a', align as u8]);
        self
    }

    /// ESC d n: feed n lines.
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.out.extend_from_slice(&[ESC, b'd', lines]);
        self
    }

    /// A QR code (GS ( k: model 2, module size, error correction M, store, print).
    pub fn qr(&mut self, data: &str, module: u8) -> Result<&mut Self> {
        let payload = data.as_bytes();
        let len = u16::try_from(payload.len() + 3)
            .ok()
            .filter(|l| *l <= 7092)
            .ok_or_else(|| Error::Config("QR payload too long".into()))?;
        let [pl, ph] = len.to_le_bytes();
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 4, 0, 0x31, 0x41, 0x32, 0x00]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x43, module.clamp(1, 16)]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x45, 0x31]);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', pl, ph, 0x31, 0x50, 0x30]);
        self.out.extend_from_slice(payload);
        self.out
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]);
        Ok(self)
    }

    /// GS V 66 n: feed to the cutter and cut (partial cut, the paper stays for tearing).
    pub fn cut(&mut self) -> &mut Self {
        self.out.extend_from_slice(&[GS, b'V', 66, 0]);
        self
    }

    /// The bytes built so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }
}

fn gbk(text: &str) -> Result<Vec<u8>> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    if had_errors {
        return Err(Error::Unencodable(text.to_string()));
    }
    Ok(bytes.into_owned())
}

/// Columns a string occupies on a receipt: Hanzi and other wide characters take two.
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// `left` and `right` on one line of `columns`, separated by spaces.
pub fn two_columns(left: &str, right: &str, columns: usize) -> String {
    let used = display_width(left) + display_width(right);
    let gap = columns.saturating_sub(used).max(1);
    format!("{left}{}{right}", " ".repeat(gap))
}

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    /// What was bought or done ("机油滤清器", "充值").
    pub label: String,
    /// Its amount.
    pub amount: Decimal,
}

/// A receipt as the kiosk prints it after the server confirmed a payment or top-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Store name, printed large.
    pub store_name: String,
    /// Kind of receipt ("会员卡消费凭证").
    pub title: String,
    /// The server's receipt number, also in the QR code.
    pub receipt_no: String,
    /// When the server booked it, as text in the store's time zone.
    pub issued_at: String,
    /// Masked member name and card number.
    pub member: String,
    /// The lines.
    pub lines: Vec<ReceiptLine>,
    /// Total charged.
    pub total: Decimal,
    /// Stored-value balance after the transaction, if shown.
    pub balance_after: Option<Decimal>,
    /// Closing lines ("谢谢惠顾").
    pub footer: Vec<String>,
}

impl Receipt {
    /// The ESC/POS bytes for `columns` characters per line (32 on 58 mm, 48 on 80 mm paper).
    pub fn to_escpos(&self, columns: usize) -> Result<Vec<u8>> {
        let rule = "-".repeat(columns);
        let mut p = EscPos::new();
        p.align(Align::Center).bold(true).size(2, 2);
        p.line(&self.store_name)?;
        p.size(1, 1).bold(false);
        p.line(&self.title)?;
        p.align(Align::Left);
        p.line(&format!("单号: {}", self.receipt_no))?;
        p.line(&format!("时间: {}", self.issued_at))?;
        p.line(&format!("会员: {}", self.member))?;
        p.line(&rule)?;
        for l in &self.lines {
            p.line(&two_columns(&l.label, &l.amount.to_string(), columns))?;
        }
        p.line(&rule)?;
        p.bold(true);
        p.line(&two_columns("合计", &self.total.to_string(), columns))?;
        p.bold(false);
        if let Some(balance) = self.balance_after {
            p.line(&two_columns("卡内余额", &balance.to_string(), columns))?;
        }
        p.align(Align::Center);
        p.qr(&self.receipt_no, 6)?;
        p.line("")?;
        for f in &self.footer {
            p.line(f)?;
        }
        p.feed(3).cut();
        Ok(p.bytes().to_vec())
    }
}

/// What the printer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterStatus {
    /// Ready to print.
    Ready,
    /// Offline, with the cause when the printer gives one.
    Offline(Option<String>),
    /// Out of paper.
    PaperOut,
}

/// A receipt printer as the kiosk uses it.
pub trait ReceiptPrinter {
    /// Asks the printer for its real-time status.
    fn status(&mut self) -> Result<PrinterStatus>;

    /// Prints `receipt` if the printer is ready; otherwise [`Error::PaperOut`] or
    /// [`Error::PrinterOffline`] and nothing is sent.
    fn print(&mut self, receipt: &Receipt) -> Result<()>;
}

/// Sends DLE EOT n and reads the one-byte answer.
fn query<T: Read + Write>(port: &mut T, n: u8) -> Result<u8> {
    port.write_all(&[DLE, EOT, n])?;
    port.flush()?;
    let mut b = [0u8; 1];
    match port.read(&mut b) {
        Ok(1) => {}
        Ok(_) => return Err(Error::PrinterNoResponse),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            return Err(Error::PrinterNoResponse)
        }
        Err(e) => return Err(e.into()),
    }
    // Every status byte has bit 1 and bit 4 set and bits 0 and 7 clear; anything else is not
    // an answer to our request (e.g. stray data from an earlier job).
    if b[0] & 0x93 != 0x12 {
        return Err(Error::MalformedResponse(format!(
            "status byte {:#04x} for DLE EOT {n}",
            b[0]
        )));
    }
    Ok(b[0])
}

/// Reads and interprets the printer status (DLE EOT 1, 4 and, when offline, 2).
pub fn read_status<T: Read + Write>(port: &mut T) -> Result<PrinterStatus> {
    let printer = query(port, 1)?;
    let paper = query(port, 4)?;
    // Bits 5-6 of the roll-paper status: paper end detected.
    if paper & 0x60 != 0 {
        return Ok(PrinterStatus::PaperOut);
    }
    // Bit 3 of the printer status: offline.
    if printer & 0x08 == 0 {
        return Ok(PrinterStatus::Ready);
    }
    let cause = query(port, 2)?;
    let why = if cause & 0x04 != 0 {
        Some("cover open".to_string())
    } else if cause & 0x08 != 0 {
        Some("paper feed button pressed".to_string())
    } else if cause & 0x20 != 0 {
        return Ok(PrinterStatus::PaperOut);
    } else if cause & 0x40 != 0 {
        Some("printer error".to_string())
    } else {
        None
    };
    Ok(PrinterStatus::Offline(why))
}

fn print_on<T: Read + Write>(port: &mut T, receipt: &Receipt, columns: usize) -> Result<()> {
    // Encode first: a GBK problem must not leave half a receipt in the printer.
    let bytes = receipt.to_escpos(columns)?;
    match read_status(port)? {
        PrinterStatus::Ready => {}
        PrinterStatus::PaperOut => return Err(Error::PaperOut),
        PrinterStatus::Offline(why) => return Err(Error::PrinterOffline(why)),
    }
    port.write_all(&bytes)?;
    port.flush()?;
    Ok(())
}

/// A network printer (raw TCP, usually port 9100); reconnects after a dropped connection.
#[derive(Debug)]
pub struct NetworkPrinter {
    addr: SocketAddr,
    timeout: Duration,
    columns: usize,
    stream: Option<TcpStream>,
}

impl NetworkPrinter {
    /// A printer at `addr`; `timeout` bounds connecting and each status answer.
    pub fn new(addr: SocketAddr, timeout: Duration, columns: usize) -> Self {
        NetworkPrinter {
            addr,
            timeout,
            columns,
            stream: None,
        }
    }

    fn with_stream<R>(&mut self, f: impl FnOnce(&mut TcpStream) -> Result<R>) -> Result<R> {
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|e| {
                    log::warn!("printer {}: {e}", self.addr);
                    Error::PrinterOffline(Some(format!("cannot connect: {e}")))
                })?;
                s.set_read_timeout(Some(self.timeout))?;
                s.set_write_timeout(Some(self.timeout))?;
                s.set_nodelay(true)?;
                s
            }
        };
        let result = f(&mut stream);
        // Keep the connection only while it works; the next call starts afresh.
        if !matches!(result, Err(Error::PrinterNoResponse | Error::Io(_))) {
            self.stream = Some(stream);
        }
        result
    }
}

impl ReceiptPrinter for NetworkPrinter {
    fn status(&mut self) -> Result<PrinterStatus> {
        self.with_stream(read_status)
    }

    fn print(&mut self, receipt: &Receipt) -> Result<()> {
        let columns = self.columns;
        self.with_stream(|s| print_on(s, receipt, columns))
    }
}

/// Linux's O_NONBLOCK (the same value on every architecture the kiosk runs on).
const O_NONBLOCK: i32 = 0o4000;

/// A device file opened non-blocking, read and written with a deadline, so a printer that
/// stops answering becomes [`Error::PrinterNoResponse`] instead of a kiosk frozen in read().
#[derive(Debug)]
struct PatientFile {
    file: File,
    timeout: Duration,
}

impl PatientFile {
    fn retry<T>(&mut self, mut op: impl FnMut(&mut File) -> io::Result<T>) -> io::Result<T> {
        let deadline = std::time::Instant::now() + self.timeout;
        loop {
            match op(&mut self.file) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "printer did not answer",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }
}

impl Read for PatientFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|f| f.read(buf))
    }
}

impl Write for PatientFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|f| f.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.retry(|f| f.flush())
    }
}

/// A printer device file such as `/dev/usb/lp0` (usblp answers DLE EOT through read()).
#[derive(Debug)]
pub struct DevicePrinter {
    path: PathBuf,
    file: PatientFile,
    columns: usize,
}

impl DevicePrinter {
    /// Opens the device for reading and writing; `timeout` bounds each status answer and
    /// each stalled write.
    pub fn open(path: &Path, columns: usize, timeout: Duration) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(path)?;
        Ok(DevicePrinter {
            path: path.to_path_buf(),
            file: PatientFile { file, timeout },
            columns,
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ReceiptPrinter for DevicePrinter {
    fn status(&mut self) -> Result<PrinterStatus> {
        read_status(&mut self.file)
    }

    fn print(&mut self, receipt: &Receipt) -> Result<()> {
        print_on(&mut self.file, receipt, self.columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_text_and_commands() {
        let mut p = EscPos::new();
        p.bold(true).line("合计").unwrap();
        assert_eq!(
            p.bytes(),
            [ESC, b'@', FS, b'&', ESC, b'E', 1, 0xBA, 0xCF, 0xBC, 0xC6, LF]
        );
        assert!(matches!(
            EscPos::new().text("🙂"),
            Err(Error::Unencodable(_))
        ));
    }

    #[test]
    fn qr_store_length_counts_the_three_header_bytes() {
        let mut p = EscPos::new();
        p.qr("R-1", 6).unwrap();
        let b = p.bytes();
        let store = b
            .windows(8)
            .position(|w| w[..3] == [GS, b'(', b'k'] && w[6] == 0x50)
            .unwrap();
        assert_eq!(&b[store + 3..store + 5], &[6, 0]);
        assert_eq!(&b[store + 8..store + 11], b"R-1");
    }

    #[test]
    fn columns_count_hanzi_double() {
        assert_eq!(display_width("合计A"), 5);
        assert_eq!(two_columns("合计", "10.00", 12), "合计   10.00");
    }

    #[test]
    fn status_bytes_map_to_states() {
        struct Fake(Vec<u8>);
        impl Read for Fake {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0.remove(0);
                Ok(1)
            }
        }
        impl Write for Fake {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert_eq!(
            read_status(&mut Fake(vec![0x12, 0x12])).unwrap(),
            PrinterStatus::Ready
        );
        assert_eq!(
            read_status(&mut Fake(vec![0x1A, 0x72])).unwrap(),
            PrinterStatus::PaperOut
        );
        assert_eq!(
            read_status(&mut Fake(vec![0x1A, 0x12, 0x16])).unwrap(),
            PrinterStatus::Offline(Some("cover open".into()))
        );
        assert!(matches!(
            read_status(&mut Fake(vec![])),
            Err(Error::PrinterNoResponse)
        ));
        assert!(matches!(
            read_status(&mut Fake(vec![0xFF])),
            Err(Error::MalformedResponse(_))
        ));
    }
}
