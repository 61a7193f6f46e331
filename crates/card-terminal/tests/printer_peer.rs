//! The ESC/POS driver against the loopback printer peer from `dms-test-kit`: a Chinese receipt
//! decoded back to text (GBK, bold, double size, QR, cut), and the printer's real-time status
//! (paper out, offline, dropped connection) surfacing as typed errors with nothing printed.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::time::Duration;

use dms_card_terminal::printer::{
    NetworkPrinter, PrinterStatus, Receipt, ReceiptLine, ReceiptPrinter,
};
use dms_card_terminal::Error;
use dms_test_kit::escpos::{PeerMode, PrinterPeer};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn receipt() -> Receipt {
    Receipt {
        store_name: "华通丰田4S店".into(),
        title: "会员卡消费凭证".into(),
        receipt_no: "R20261126-0001".into(),
        issued_at: "2026-11-26 14:05".into(),
        member: "张** 8800****2345".into(),
        lines: vec![
            ReceiptLine {
                label: "机油滤清器".into(),
                amount: dec("68.00"),
            },
            ReceiptLine {
                label: "工时费".into(),
                amount: dec("120.00"),
            },
        ],
        total: dec("188.00"),
        balance_after: Some(dec("812.00")),
        footer: vec!["谢谢惠顾".into()],
    }
}

fn printer(peer: &PrinterPeer) -> NetworkPrinter {
    NetworkPrinter::new(peer.addr(), Duration::from_secs(2), 32)
}

#[test]
fn a_chinese_receipt_prints_with_styles_qr_and_cut() {
    let peer = PrinterPeer::start(PeerMode::Ready).unwrap();
    let mut p = printer(&peer);
    assert_eq!(p.status().unwrap(), PrinterStatus::Ready);
    p.print(&receipt()).unwrap();
    let text = peer.wait_for("[CUT]", Duration::from_secs(5)).unwrap();
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"[center] <b><2x>华通丰田4S店"), "{text}");
    assert!(
        lines.contains(&"[center] </2x></b>会员卡消费凭证"),
        "{text}"
    );
    assert!(lines.contains(&"单号: R20261126-0001"), "{text}");
    assert!(lines.contains(&"会员: 张** 8800****2345"), "{text}");
    // 32 columns, a Hanzi takes two.
    assert!(
        lines.contains(&"机油滤清器                 68.00"),
        "{text}"
    );
    assert!(
        lines.contains(&"<b>合计                      188.00"),
        "{text}"
    );
    assert!(
        lines.contains(&"</b>卡内余额                  812.00"),
        "{text}"
    );
    assert!(lines.contains(&"[center] [QR] R20261126-0001"), "{text}");
    assert!(lines.contains(&"[center] 谢谢惠顾"), "{text}");
    assert_eq!(lines.last(), Some(&"[CUT]"));
    // Status was asked before printing: DLE EOT 1 and 4, twice (status() and print()).
    assert_eq!(peer.status_requests(), vec![1, 4, 1, 4]);
}

#[test]
fn paper_out_and_offline_are_typed_errors_and_nothing_prints() {
    let peer = PrinterPeer::start(PeerMode::PaperOut).unwrap();
    let mut p = printer(&peer);
    assert_eq!(p.status().unwrap(), PrinterStatus::PaperOut);
    assert!(matches!(p.print(&receipt()), Err(Error::PaperOut)));

    peer.set_mode(PeerMode::Offline);
    assert_eq!(
        p.status().unwrap(),
        PrinterStatus::Offline(Some("cover open".into()))
    );
    match p.print(&receipt()) {
        Err(Error::PrinterOffline(Some(cause))) => assert_eq!(cause, "cover open"),
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(peer.rendering(), "", "something printed while not ready");

    // Paper loaded, cover closed: the same printer object prints.
    peer.set_mode(PeerMode::Ready);
    p.print(&receipt()).unwrap();
    assert!(peer.wait_for("[CUT]", Duration::from_secs(5)).is_some());
}

#[test]
fn a_dropped_connection_is_reported_then_recovered() {
    let peer = PrinterPeer::start(PeerMode::DropConnection).unwrap();
    let mut p = printer(&peer);
    assert!(matches!(
        p.print(&receipt()),
        Err(Error::PrinterNoResponse | Error::Io(_))
    ));
    peer.set_mode(PeerMode::Ready);
    p.print(&receipt()).unwrap();
    let text = peer.wait_for("[CUT]", Duration::from_secs(5)).unwrap();
    assert_eq!(text.matches("[CUT]").count(), 1);
}

#[test]
fn a_hung_printer_times_out() {
    let peer = PrinterPeer::start(PeerMode::Unresponsive).unwrap();
    let mut p = NetworkPrinter::new(peer.addr(), Duration::from_millis(300), 32);
    assert!(matches!(p.print(&receipt()), Err(Error::PrinterNoResponse)));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(peer.rendering(), "");
}

#[test]
fn no_printer_at_the_address_is_offline() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut p = NetworkPrinter::new(addr, Duration::from_millis(500), 32);
    assert!(matches!(p.status(), Err(Error::PrinterOffline(Some(_)))));
}
