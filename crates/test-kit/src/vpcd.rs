//! vsmartcard's vpcd socket protocol, both ends.
//!
//! vpcd is a pcscd reader driver whose "card slot" is a TCP connection to a card emulator
//! (the "vicc"). Every message in either direction is a 2-byte big-endian length followed by
//! that many bytes. From the reader to the card, a 1-byte message is a control code (0x00
//! power off, 0x01 power on, 0x02 reset, 0x04 "send your ATR"); anything longer is a command
//! APDU. The card answers the ATR request and every APDU; power and reset get no answer.
//! vpcd checks presence by (re)connecting and asking for the ATR, so a card is "removed" by
//! closing its connection.
//!
//! In reversed mode (what the tests use, so that nothing listens beyond loopback) vpcd
//! connects out to `host:port` for slot 0 and `host:port+1` for slot 1; [`VirtualReader`]
//! listens on both, on 127.0.0.1 with ports chosen by the OS. [`VpcdClient`] plays vpcd's
//! side, to test the card without pcscd.
//!
//! Debian 12's vpcd (vsmartcard 3.3) aborts pcscd in reversed mode as soon as a slot is
//! empty (it then `select()`s on an invalid socket: "bit out of range 0 - FD_SETSIZE on
//! fd_set", upstream issue #131), so with that version the tests run vpcd in its normal mode
//! inside a private network namespace and reach it through a Unix socket relay; see
//! [`crate::pcscd`] and [`CardLink`].

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::mifare::{MifareClassic1k, ATR_MIFARE_1K};

/// Control code: power off.
pub const CTRL_OFF: u8 = 0x00;
/// Control code: power on.
pub const CTRL_ON: u8 = 0x01;
/// Control code: reset.
pub const CTRL_RESET: u8 = 0x02;
/// Control code: request the ATR.
pub const CTRL_ATR: u8 = 0x04;

/// Writes one length-prefixed message.
pub fn write_message<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 bytes"))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// Reads one length-prefixed message; `Ok(None)` when the peer closed between messages.
pub fn read_message<R: Read>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// A connection to vpcd: TCP (vpcd's own transport) or a Unix socket relayed to it.
#[derive(Debug)]
pub enum Conn {
    /// Direct TCP.
    Tcp(TcpStream),
    /// Through a relay on a Unix socket.
    Unix(UnixStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Both),
            Conn::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

/// One slot of the virtual reader: the card in it, the live connection, and a log.
#[derive(Debug, Default)]
pub struct Slot {
    card: Mutex<Option<MifareClassic1k>>,
    conn: Mutex<Option<Conn>>,
    apdus: Mutex<Vec<Vec<u8>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the peer for the other threads.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Slot {
    /// Puts a card on the reader.
    pub fn tap(&self, card: MifareClassic1k) {
        let mut card = card;
        card.reset();
        *lock(&self.card) = Some(card);
    }

    /// Takes the card away (closing vpcd's connection, as the field drop would), returning it
    /// with whatever was written to it.
    pub fn remove(&self) -> Option<MifareClassic1k> {
        let card = lock(&self.card).take();
        if let Some(conn) = lock(&self.conn).take() {
            conn.shutdown();
        }
        card
    }

    /// A copy of the card now in the slot.
    pub fn card(&self) -> Option<MifareClassic1k> {
        lock(&self.card).clone()
    }

    /// Every APDU the card received so far.
    pub fn apdus(&self) -> Vec<Vec<u8>> {
        lock(&self.apdus).clone()
    }

    /// Answers vpcd on `stream` until it closes or the card is removed.
    pub fn serve(&self, mut stream: Conn) -> Result<()> {
        if lock(&self.card).is_none() {
            // No card in the field: vpcd sees the connection drop and reports the slot empty.
            stream.shutdown();
            return Ok(());
        }
        if let Conn::Tcp(tcp) = &stream {
            tcp.set_nodelay(true)?;
        }
        *lock(&self.conn) = Some(stream.try_clone()?);
        let outcome = self.exchange(&mut stream);
        stream.shutdown();
        outcome
    }

    fn exchange(&self, stream: &mut Conn) -> Result<()> {
        while let Some(msg) = read_message(stream).or_else(ignore_reset)? {
            let answer = {
                let mut card = lock(&self.card);
                let Some(card) = card.as_mut() else {
                    return Ok(());
                };
                match msg.as_slice() {
                    [CTRL_OFF] | [CTRL_RESET] => {
                        card.reset();
                        None
                    }
                    [CTRL_ON] => None,
                    [CTRL_ATR] => Some(ATR_MIFARE_1K.to_vec()),
                    [other] => {
                        return Err(Error::Protocol(format!(
                            "unknown control code {other:#04x}"
                        )))
                    }
                    [] => return Err(Error::Protocol("empty message".into())),
                    apdu => {
                        lock(&self.apdus).push(apdu.to_vec());
                        Some(card.process(apdu))
                    }
                }
            };
            if let Some(answer) = answer {
                if let Err(e) = write_message(stream, &answer) {
                    return ignore_reset(e).map(|_| ());
                }
            }
        }
        Ok(())
    }
}

/// A connection reset or shutdown by `remove` is the normal end of a session.
fn ignore_reset(e: io::Error) -> Result<Option<Vec<u8>>> {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::NotConnected => Ok(None),
        _ => Err(e.into()),
    }
}

/// A two-slot virtual reader for vpcd in reversed mode: listens on 127.0.0.1 at `port` (slot
/// 0) and `port + 1` (slot 1).
#[derive(Debug)]
pub struct VirtualReader {
    port: u16,
    slots: [Arc<Slot>; 2],
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl VirtualReader {
    /// Binds two consecutive free loopback ports and starts serving.
    pub fn start() -> Result<Self> {
        let (first, second) = bind_pair()?;
        let port = first.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let slots = [Arc::new(Slot::default()), Arc::new(Slot::default())];
        let mut threads = Vec::new();
        for (listener, slot) in [(first, &slots[0]), (second, &slots[1])] {
            listener.set_nonblocking(true)?;
            let slot = Arc::clone(slot);
            let stop = Arc::clone(&stop);
            threads.push(thread::spawn(move || accept_loop(listener, slot, stop)));
        }
        Ok(VirtualReader {
            port,
            slots,
            stop,
            threads,
        })
    }

    /// Slot 0's port (slot 1 is the next one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Slot 0 or 1.
    pub fn slot(&self, index: usize) -> &Slot {
        &self.slots[index.min(1)]
    }

    /// The `reader.conf.d` entry that makes pcscd's vpcd driver connect to this reader.
    pub fn reader_conf(&self) -> String {
        format!(
            "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   127.0.0.1:{port}\nLIBPATH      {lib}\nCHANNELID    {port}\n",
            port = self.port,
            lib = VPCD_DRIVER,
        )
    }
}

/// Where Debian's `vsmartcard-vpcd` installs the driver.
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

impl Drop for VirtualReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for slot in &self.slots {
            slot.remove();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn bind_pair() -> Result<(TcpListener, TcpListener)> {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0")?;
        let port = first.local_addr()?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if let Ok(second) = TcpListener::bind(("127.0.0.1", next)) {
            return Ok((first, second));
        }
    }
    Err(Error::Protocol(
        "no two consecutive free loopback ports".into(),
    ))
}

fn accept_loop(listener: TcpListener, slot: Arc<Slot>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Served inline: vpcd keeps one connection per slot at a time.
                let _ = stream.set_nonblocking(false);
                if let Err(e) = slot.serve(Conn::Tcp(stream)) {
                    log::warn!("virtual card: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                log::warn!("virtual reader accept: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A card held to a reader whose vpcd listens (normal mode), here reached through a Unix
/// socket relay: tapping connects, removing disconnects.
#[derive(Debug)]
pub struct CardLink {
    slot: Arc<Slot>,
    thread: Option<JoinHandle<()>>,
}

impl CardLink {
    /// Taps `card` on the reader behind the Unix socket `relay`.
    pub fn tap(relay: &Path, card: MifareClassic1k) -> Result<Self> {
        let stream = UnixStream::connect(relay)?;
        let slot = Arc::new(Slot::default());
        slot.tap(card);
        let serving = Arc::clone(&slot);
        let thread = thread::spawn(move || {
            if let Err(e) = serving.serve(Conn::Unix(stream)) {
                log::warn!("virtual card: {e}");
            }
        });
        Ok(CardLink {
            slot,
            thread: Some(thread),
        })
    }

    /// Every APDU the card received so far.
    pub fn apdus(&self) -> Vec<Vec<u8>> {
        self.slot.apdus()
    }

    /// Takes the card away, returning it with whatever was written to it.
    pub fn remove(mut self) -> Option<MifareClassic1k> {
        let card = self.slot.remove();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        card
    }
}

impl Drop for CardLink {
    fn drop(&mut self) {
        self.slot.remove();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// vpcd's side of the protocol, to drive a card emulator without pcscd.
#[derive(Debug)]
pub struct VpcdClient {
    stream: TcpStream,
}

impl VpcdClient {
    /// Connects to a card emulator listening on 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(VpcdClient { stream })
    }

    /// Sends a control code (power off/on, reset) that has no answer.
    pub fn control(&mut self, code: u8) -> Result<()> {
        Ok(write_message(&mut self.stream, &[code])?)
    }

    /// Asks for the ATR; `Ok(None)` when the card is not there (connection closed).
    pub fn atr(&mut self) -> Result<Option<Vec<u8>>> {
        if write_message(&mut self.stream, &[CTRL_ATR]).is_err() {
            return Ok(None);
        }
        read_message(&mut self.stream).or_else(ignore_reset)
    }

    /// Sends a command APDU and returns the response APDU.
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        write_message(&mut self.stream, apdu)?;
        read_message(&mut self.stream)?
            .ok_or_else(|| Error::Protocol("card left during the command".into()))
    }
}
