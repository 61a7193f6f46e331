//! The `dms-kiosk` device checks as an installer runs them: decoding a FIFO of wedge events,
//! a test print on the loopback printer, and listing a journal's pending requests.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use dms_card_terminal::journal::{Journal, NewRequest, RequestKind};
use dms_card_terminal::reader::wedge::synthesize;
use dms_test_kit::escpos::{PeerMode, PrinterPeer};
use rust_decimal::Decimal;

const KIOSK: &str = env!("CARGO_BIN_EXE_dms-kiosk");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dms-kiosk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn wedge_check_decodes_a_fifo() {
    let dir = temp_dir("wedge");
    let fifo = dir.join("events");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let t = Duration::from_secs(1_764_000_000);
            for ev in synthesize("8800012345", t, Duration::from_millis(3))
                .into_iter()
                .chain(synthesize("1234", t * 2, Duration::from_millis(300)))
            {
                f.write_all(&ev.to_bytes()).unwrap();
            }
        })
    };
    // The writer is already waiting for a reader to open the FIFO.
    let out = Command::new(KIOSK)
        .args(["wedge", fifo.to_str().unwrap(), "50"])
        .output()
        .unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "number 8800012345\nrejected: typed by hand (300 ms > 50 ms between keys)\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_print_reaches_the_printer() {
    let peer = PrinterPeer::start(PeerMode::Ready).unwrap();
    let out = Command::new(KIOSK)
        .args(["test-print", &peer.addr().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Ready\nprinted\n");
    let text = peer.wait_for("[CUT]", Duration::from_secs(5)).unwrap();
    assert!(text.contains("[center] [QR] TEST-0001"), "{text}");

    peer.set_mode(PeerMode::PaperOut);
    let out = Command::new(KIOSK)
        .args(["printer", &peer.addr().to_string()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "PaperOut\n");
}

#[test]
fn journal_check_lists_pending_requests() {
    let dir = temp_dir("journal");
    let path = dir.join("journal.jsonl");
    let mut j = Journal::open(&path).unwrap();
    let done = j
        .begin(NewRequest {
            kind: RequestKind::Checkout,
            card_number: "8800012345".into(),
            amount: Decimal::from_str("188.00").unwrap(),
            reference: None,
        })
        .unwrap();
    j.confirm(done.key, "R-1").unwrap();
    let open = j
        .begin(NewRequest {
            kind: RequestKind::TopUp,
            card_number: "8800012345".into(),
            amount: Decimal::from_str("500.00").unwrap(),
            reference: None,
        })
        .unwrap();
    drop(j);
    let out = Command::new(KIOSK)
        .args(["journal", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with(&format!("{}  TopUp  8800012345  500.00  ", open.key)));
    std::fs::remove_dir_all(dir).unwrap();
}
