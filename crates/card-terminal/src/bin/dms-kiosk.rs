//! `dms-kiosk`: the service-desk terminal. `dms-kiosk run CONFIG` is the full-screen kiosk
//! (see `dms_card_terminal::kiosk`); the other commands are the device checks an installer runs
//! at the desk, with the same drivers.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use dms_card_terminal::journal::Journal;
use dms_card_terminal::normalize::NumberFormat;
use dms_card_terminal::printer::{NetworkPrinter, Receipt, ReceiptLine, ReceiptPrinter};
use dms_card_terminal::reader::pcsc::{list_readers, NumberSource, PcscConfig, PcscReader};
use dms_card_terminal::reader::wedge::{WedgeConfig, WedgeReader};
use dms_card_terminal::reader::{CardEvent, CardReader};
use dms_card_terminal::{Error, Result};

const USAGE: &str = "\
dms-kiosk run CONFIG              the kiosk (first start: asks for the pairing code)
dms-kiosk readers                 list the PC/SC readers pcscd sees
dms-kiosk watch [READER]          print card taps, UIDs and removals (Ctrl-C to stop)
dms-kiosk wedge PATH [MAX_GAP_MS] decode card numbers from input_event records (a FIFO or
                                  /dev/input/eventN, grabbed exclusively)
dms-kiosk printer HOST:PORT       show a network printer's status
dms-kiosk test-print HOST:PORT    print a sample receipt in Chinese with a QR code
dms-kiosk journal FILE            list the money requests still pending in a journal";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["run", config] => dms_card_terminal::kiosk::config::KioskConfig::load(Path::new(config))
            .and_then(dms_card_terminal::kiosk::run),
        ["readers"] => readers(),
        ["watch"] => watch(None),
        ["watch", name] => watch(Some(name)),
        ["wedge", path] => wedge(path, None),
        ["wedge", path, gap] => match gap.parse() {
            Ok(ms) => wedge(path, Some(Duration::from_millis(ms))),
            Err(_) => Err(Error::Config(format!(
                "not a number of milliseconds: {gap}"
            ))),
        },
        ["printer", addr] => printer(addr, false),
        ["test-print", addr] => printer(addr, true),
        ["journal", file] => journal(file),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dms-kiosk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn readers() -> Result<()> {
    for name in list_readers()? {
        println!("{name}");
    }
    Ok(())
}

fn watch(name: Option<&str>) -> Result<()> {
    let mut reader = PcscReader::open(PcscConfig {
        reader_name: name.map(str::to_string),
        number: NumberSource::Uid(NumberFormat::default()),
    })?;
    println!("watching {:?}", reader.name());
    loop {
        match reader.next_event(Duration::from_secs(1))? {
            Some(CardEvent::Present { uid }) => println!("tap    {}", hex::encode_upper(uid)),
            Some(CardEvent::Removed) => println!("removed"),
            None => {}
        }
    }
}

fn wedge(path: &str, gap: Option<Duration>) -> Result<()> {
    let config = WedgeConfig {
        max_key_gap: gap,
        ..WedgeConfig::default()
    };
    let mut reader = open_wedge(Path::new(path), config)?;
    loop {
        match reader.next_number(Duration::from_secs(1)) {
            Ok(Some(number)) => println!("number {number}"),
            Ok(None) => {}
            Err(Error::HumanTyping { gap_ms, max_ms }) => {
                println!("rejected: typed by hand ({gap_ms} ms > {max_ms} ms between keys)");
            }
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(feature = "evdev")]
fn open_wedge(path: &Path, config: WedgeConfig) -> Result<WedgeReader> {
    if path.starts_with("/dev/input") {
        return dms_card_terminal::reader::wedge::open_evdev(path, config);
    }
    Ok(WedgeReader::spawn(std::fs::File::open(path)?, config))
}

#[cfg(not(feature = "evdev"))]
fn open_wedge(path: &Path, config: WedgeConfig) -> Result<WedgeReader> {
    Ok(WedgeReader::spawn(std::fs::File::open(path)?, config))
}

fn printer(addr: &str, print: bool) -> Result<()> {
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| Error::Config(format!("no address for {addr}")))?;
    let mut p = NetworkPrinter::new(addr, Duration::from_secs(3), 32);
    println!("{:?}", p.status()?);
    if print {
        p.print(&Receipt {
            store_name: "测试门店".into(),
            title: "打印测试".into(),
            receipt_no: "TEST-0001".into(),
            issued_at: chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
            member: "测** 8800****0000".into(),
            lines: vec![ReceiptLine {
                label: "测试项目".into(),
                amount: rust_decimal::Decimal::new(100, 2),
            }],
            total: rust_decimal::Decimal::new(100, 2),
            balance_after: None,
            footer: vec!["打印正常".into()],
        })?;
        println!("printed");
    }
    Ok(())
}

fn journal(file: &str) -> Result<()> {
    let journal = Journal::open(file)?;
    let pending = journal.pending();
    if pending.is_empty() {
        println!("no pending requests");
    }
    for e in pending {
        println!(
            "{}  {:?}  {}  {}  {}",
            e.key,
            e.kind,
            e.card_number,
            e.amount,
            e.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    Ok(())
}
