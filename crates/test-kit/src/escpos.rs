//! A loopback ESC/POS printer: a TCP server (like a network printer's port 9100) that decodes
//! what it receives into a plain-text rendering for tests to assert on, and answers the
//! real-time status request DLE EOT n as a ready, offline or paper-out printer would, drops
//! the connection, or stays silent like a hung printer.
//!
//! Rendering, one output line per printed line:
//! - text is decoded from GBK; `<b>`/`</b>` and `<2x>`/`</2x>` (any enlarged size) mark bold and
//!   size changes where they happen; a non-left line starts with `[center] ` or `[right] `;
//! - a printed QR code is the line `[QR] payload` (with the alignment prefix);
//! - a cut is the line `[CUT]`; ESC d n adds n empty lines;
//! - an unknown command is `[?XX XX]` so a test sees it instead of garbage.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::Result;

/// How the peer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMode {
    /// Ready: prints everything.
    Ready,
    /// Offline with the cover open.
    Offline,
    /// Out of paper (and therefore offline).
    PaperOut,
    /// Closes each connection as soon as it receives anything.
    DropConnection,
    /// Takes everything in and never answers a status request (a hung printer).
    Unresponsive,
}

impl PeerMode {
    /// The answer to DLE EOT `n`.
    pub fn status_byte(self, n: u8) -> u8 {
        match (self, n) {
            (PeerMode::Offline | PeerMode::PaperOut, 1) => 0x1A,
            (PeerMode::Offline, 2) => 0x16,
            (PeerMode::PaperOut, 2) => 0x32,
            (PeerMode::PaperOut, 4) => 0x72,
            _ => 0x12,
        }
    }
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<PeerMode>,
    rendering: Mutex<String>,
    raw: Mutex<Vec<u8>>,
    status_requests: Mutex<Vec<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running peer; stops on drop.
#[derive(Debug)]
pub struct PrinterPeer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrinterPeer {
    /// Listens on a free loopback port.
    pub fn start(mode: PeerMode) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            rendering: Mutex::new(String::new()),
            raw: Mutex::new(Vec::new()),
            status_requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Err(e) = serve(stream, &shared, &stop) {
                                log::warn!("printer peer: {e}");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => {
                            log::warn!("printer peer accept: {e}");
                            thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            })
        };
        Ok(PrinterPeer {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The address to print to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the behaviour for what arrives next.
    pub fn set_mode(&self, mode: PeerMode) {
        *lock(&self.shared.mode) = mode;
    }

    /// Everything printed so far, rendered.
    pub fn rendering(&self) -> String {
        lock(&self.shared.rendering).clone()
    }

    /// Every byte received so far (status requests included).
    pub fn raw(&self) -> Vec<u8> {
        lock(&self.shared.raw).clone()
    }

    /// The n of every DLE EOT n received.
    pub fn status_requests(&self) -> Vec<u8> {
        lock(&self.shared.status_requests).clone()
    }

    /// Waits until the rendering contains `needle` (e.g. `"[CUT]"`), returning it.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> Option<String> {
        let started = Instant::now();
        while started.elapsed() < limit {
            let r = self.rendering();
            if r.contains(needle) {
                return Some(r);
            }
            thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for PrinterPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared, stop: &AtomicBool) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut decoder = Decoder::default();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e.into()),
        };
        let mode = *lock(&shared.mode);
        if mode == PeerMode::DropConnection {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        lock(&shared.raw).extend_from_slice(&chunk[..n]);
        decoder.buf.extend_from_slice(&chunk[..n]);
        for n in decoder.run(false) {
            lock(&shared.status_requests).push(n);
            if mode != PeerMode::Unresponsive {
                stream.write_all(&[mode.status_byte(n)])?;
            }
        }
        lock(&shared.rendering).push_str(&decoder.take_output());
    }
    decoder.run(true);
    decoder.end_line_if_open();
    lock(&shared.rendering).push_str(&decoder.take_output());
    Ok(())
}

/// The ESC/POS decoder (also usable on a byte slice: [`render`]).
#[derive(Debug, Default)]
struct Decoder {
    buf: Vec<u8>,
    line: String,
    line_open: bool,
    out: String,
    bold: bool,
    big: bool,
    align: u8,
    qr: Vec<u8>,
}

/// Renders a complete ESC/POS byte stream as the peer would.
pub fn render(bytes: &[u8]) -> String {
    let mut d = Decoder {
        buf: bytes.to_vec(),
        ..Decoder::default()
    };
    d.run(true);
    d.end_line_if_open();
    d.take_output()
}

enum Step {
    /// Consumed this many bytes.
    Done(usize),
    /// The command is not complete yet.
    More,
}

impl Decoder {
    fn take_output(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    fn end_line_if_open(&mut self) {
        if self.line_open || !self.line.is_empty() {
            self.end_line();
        }
    }

    fn prefix(&self) -> &'static str {
        match self.align {
            1 => "[center] ",
            2 => "[right] ",
            _ => "",
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let line = line.trim_end();
        if !line.is_empty() {
            self.out.push_str(self.prefix());
            self.out.push_str(line);
        }
        self.out.push('\n');
        self.line_open = false;
    }

    fn note(&mut self, tag: &str) {
        self.line.push_str(tag);
        self.line_open = true;
    }

    /// Decodes complete commands from `buf`; returns the DLE EOT requests to answer.
    fn run(&mut self, at_end: bool) -> Vec<u8> {
        let mut status = Vec::new();
        let mut at = 0;
        while at < self.buf.len() {
            let buf = std::mem::take(&mut self.buf);
            let step = self.step(&buf[at..], at_end, &mut status);
            self.buf = buf;
            match step {
                Step::Done(n) => at += n,
                Step::More => break,
            }
        }
        self.buf.drain(..at);
        status
    }

    fn step(&mut self, b: &[u8], at_end: bool, status: &mut Vec<u8>) -> Step {
        let need = |n: usize| {
            if b.len() < n {
                Step::More
            } else {
                Step::Done(n)
            }
        };
        match b {
            [0x0A, ..] => {
                self.end_line();
                Step::Done(1)
            }
            [0x0D, ..] => Step::Done(1),
            [0x10, 0x04, n, ..] => {
                status.push(*n);
                Step::Done(3)
            }
            [0x10] | [0x10, 0x04] => Step::More,
            [0x1B, b'@', ..] => {
                self.bold = false;
                self.big = false;
                self.align = 0;
                Step::Done(2)
            }
            [0x1B, b'E', n, ..] => {
                let on = n & 1 == 1;
                if on != self.bold {
                    self.note(if on { "<b>" } else { "</b>" });
                    self.bold = on;
                }
                Step::Done(3)
            }
            [0x1B, b'a', n, ..] => {
                self.align = n % 48 % 3;
                Step::Done(3)
            }
            [0x1B, b'd', n, ..] => {
                self.end_line_if_open();
                for _ in 0..*n {
                    self.out.push('\n');
                }
                Step::Done(3)
            }
            [0x1D, b'!', n, ..] => {
                let big = *n != 0;
                if big != self.big {
                    self.note(if big { "<2x>" } else { "</2x>" });
                    self.big = big;
                }
                Step::Done(3)
            }
            [0x1C, b'&' | b'.', ..] => Step::Done(2),
            [0x1D, b'V', m, rest @ ..] => {
                // Functions A (0, 1, 48, 49) have no n; B (65, 66) have one.
                let len = if matches!(m, 65 | 66) { 4 } else { 3 };
                if matches!(m, 65 | 66) && rest.is_empty() {
                    return Step::More;
                }
                self.end_line_if_open();
                self.out.push_str("[CUT]\n");
                Step::Done(len)
            }
            [0x1D, b'(', b'k', pl, ph, rest @ ..] => {
                let len = usize::from(*pl) | (usize::from(*ph) << 8);
                if rest.len() < len {
                    return Step::More;
                }
                match &rest[..len] {
                    [0x31, 0x50, 0x30, data @ ..] => self.qr = data.to_vec(),
                    [0x31, 0x51, 0x30] => {
                        self.end_line_if_open();
                        let payload = String::from_utf8_lossy(&self.qr).into_owned();
                        let prefix = self.prefix();
                        self.out.push_str(&format!("{prefix}[QR] {payload}\n"));
                    }
                    _ => {}
                }
                Step::Done(5 + len)
            }
            [0x1B..=0x1D, ..] if b.len() < 3 && !at_end => Step::More,
            [c @ 0x1B..=0x1D, d, ..] => {
                self.note(&format!("[?{c:02X} {d:02X}]"));
                Step::Done(2)
            }
            [c, ..] if *c < 0x20 => {
                self.note(&format!("[?{c:02X}]"));
                Step::Done(1)
            }
            _ => {
                let end = b.iter().position(|c| *c < 0x20).unwrap_or(b.len());
                if end == b.len() && !at_end {
                    // Text may continue in the next packet, possibly mid-character.
                    return need(b.len() + 1);
                }
                let (text, _, _) = encoding_rs::GBK.decode(&b[..end]);
                self.line.push_str(&text);
                self.line_open = true;
                Step::Done(end)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_styles_text_qr_and_cut() {
        let mut bytes = vec![0x1B, b'@', 0x1C, b'&', 0x1B, b'a', 1, 0x1D, b'!', 0x11];
        let (gbk, _, _) = encoding_rs::GBK.encode("华通丰田");
        bytes.extend_from_slice(&gbk);
        bytes.extend_from_slice(&[0x1D, b'!', 0, 0x0A, 0x1B, b'a', 0, 0x1B, b'E', 1]);
        bytes.extend_from_slice(b"TOTAL");
        bytes.extend_from_slice(&[0x1B, b'E', 0, 0x0A]);
        bytes.extend_from_slice(&[0x1D, b'(', b'k', 6, 0, 0x31, 0x50, 0x30, b'R', b'-', b'1']);
        bytes.extend_from_slice(&[0x1D, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]);
        bytes.extend_from_slice(&[0x1D, b'V', 66, 0]);
        assert_eq!(
            render(&bytes),
            "[center] <2x>华通丰田</2x>\n<b>TOTAL</b>\n[QR] R-1\n[CUT]\n"
        );
    }

    #[test]
    fn split_packets_wait_for_the_rest() {
        let (gbk, _, _) = encoding_rs::GBK.encode("合计\n");
        let mut d = Decoder::default();
        d.buf.extend_from_slice(&gbk[..3]);
        d.run(false);
        assert_eq!(d.take_output(), "");
        d.buf.extend_from_slice(&gbk[3..]);
        d.run(false);
        assert_eq!(d.take_output(), "合计\n");
    }

    #[test]
    fn status_answers() {
        assert_eq!(PeerMode::Ready.status_byte(1), 0x12);
        assert_eq!(PeerMode::PaperOut.status_byte(4), 0x72);
        assert_eq!(PeerMode::Offline.status_byte(2), 0x16);
    }
}
