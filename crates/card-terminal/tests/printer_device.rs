//! The device-file printer driver (`/dev/usb/lp0` on the kiosk) through a real character
//! device: socat creates a pseudo-terminal in raw mode and relays it to the loopback ESC/POS
//! peer, so writes and DLE EOT answers cross a device file as they do with usblp. Skips when
//! socat is missing, unless `DMS_REQUIRE_DEVICES=1`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use dms_card_terminal::printer::{
    DevicePrinter, PrinterStatus, Receipt, ReceiptLine, ReceiptPrinter,
};
use dms_card_terminal::Error;
use dms_test_kit::escpos::{PeerMode, PrinterPeer};
use rust_decimal::Decimal;

#[test]
fn a_receipt_prints_through_a_device_file() {
    let socat = ["/usr/bin/socat", "/bin/socat"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(socat) = socat else {
        assert!(
            std::env::var("DMS_REQUIRE_DEVICES").as_deref() != Ok("1"),
            "socat (Debian package socat) is required"
        );
        eprintln!("SKIPPED a_receipt_prints_through_a_device_file: socat is not installed");
        return;
    };
    let peer = PrinterPeer::start(PeerMode::Ready).unwrap();
    let dir = std::env::temp_dir().join(format!("dms-lp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let device = dir.join("lp0");
    let mut relay = Command::new(socat)
        .arg(format!("PTY,link={},rawer,echo=0", device.display()))
        .arg(format!("TCP:{}", peer.addr()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !device.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "socat made no pty"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut printer = DevicePrinter::open(&device, 32, Duration::from_secs(2)).unwrap();
    assert_eq!(printer.status().unwrap(), PrinterStatus::Ready);
    printer
        .print(&Receipt {
            store_name: "华通丰田4S店".into(),
            title: "充值凭证".into(),
            receipt_no: "R20261126-0002".into(),
            issued_at: "2026-11-26 14:30".into(),
            member: "张** 8800****2345".into(),
            lines: vec![ReceiptLine {
                label: "充值".into(),
                amount: Decimal::from_str("500.00").unwrap(),
            }],
            total: Decimal::from_str("500.00").unwrap(),
            balance_after: Some(Decimal::from_str("1312.00").unwrap()),
            footer: vec!["谢谢惠顾".into()],
        })
        .unwrap();
    let text = peer.wait_for("[CUT]", Duration::from_secs(5)).unwrap();
    assert!(text.contains("[center] </2x></b>充值凭证"), "{text}");
    assert!(text.contains("[center] [QR] R20261126-0002"), "{text}");

    peer.set_mode(PeerMode::PaperOut);
    assert_eq!(printer.status().unwrap(), PrinterStatus::PaperOut);
    assert!(matches!(
        printer.print(&Receipt {
            store_name: "x".into(),
            title: "x".into(),
            receipt_no: "x".into(),
            issued_at: "x".into(),
            member: "x".into(),
            lines: vec![],
            total: Decimal::ZERO,
            balance_after: None,
            footer: vec![],
        }),
        Err(Error::PaperOut)
    ));

    // A hung printer: the status request times out instead of blocking the kiosk.
    peer.set_mode(PeerMode::Unresponsive);
    let asked = Instant::now();
    let mut quick = DevicePrinter::open(&device, 32, Duration::from_millis(300)).unwrap();
    assert!(matches!(quick.status(), Err(Error::PrinterNoResponse)));
    assert!(asked.elapsed() < Duration::from_secs(2));

    drop(quick);
    drop(printer);
    relay.kill().unwrap();
    relay.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
