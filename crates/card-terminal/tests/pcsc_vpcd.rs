//! The PC/SC driver against real pcscd with Debian's vpcd driver, and the virtual Mifare
//! Classic card from `dms-test-kit` in the virtual reader: tap, UID, sector read with the
//! right key, refusal with a wrong key, removal.
//!
//! One test function on purpose: libpcsclite reads `PCSCLITE_CSOCK_NAME` once per process, so
//! the whole scenario shares the private pcscd this file starts. Skips when pcscd/vpcd are
//! not installed, unless `DMS_REQUIRE_DEVICES=1`.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use dms_card_terminal::apdu::KeyType;
use dms_card_terminal::normalize::{NumberFormat, Radix};
use dms_card_terminal::reader::pcsc::{list_readers, NumberSource, PcscConfig, PcscReader};
use dms_card_terminal::reader::{CardEvent, CardReader};
use dms_card_terminal::Error;
use dms_test_kit::mifare::MifareClassic1k;
use dms_test_kit::pcscd::{devices_available, Pcscd};
use dms_test_kit::vpcd::CardLink;

const KEY: [u8; 6] = [0x4D, 0x43, 0x4C, 0x55, 0x42, 0x31];
const UID: [u8; 4] = [0x04, 0xA2, 0x3B, 0x91];

fn member_card(key: [u8; 6]) -> MifareClassic1k {
    let mut card = MifareClassic1k::new(UID).with_number(4, "8800012345");
    card.set_sector_keys(1, key, [0xB1; 6]);
    card
}

fn wait_event(reader: &mut PcscReader, limit: Duration) -> (CardEvent, Duration) {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(ev) = reader.next_event(Duration::from_millis(200)).unwrap() {
            return (ev, started.elapsed());
        }
    }
    panic!("no card event within {limit:?}");
}

#[test]
fn pcsc_reader_reads_uid_and_sector_and_sees_removal() {
    if !devices_available("pcsc_reader_reads_uid_and_sector_and_sees_removal").unwrap() {
        return;
    }
    let mut pcscd = Pcscd::start().unwrap();
    // The client library must find our private daemon; set before the first PC/SC call.
    std::env::set_var("PCSCLITE_CSOCK_NAME", pcscd.socket());

    let names = list_readers().unwrap();
    assert!(
        names.iter().any(|n| n.starts_with("Virtual PCD 00 00")),
        "readers {names:?}\n{}",
        pcscd.log()
    );

    let sector = PcscConfig {
        reader_name: Some("Virtual PCD 00 00".into()),
        number: NumberSource::Sector {
            block: 4,
            key_type: KeyType::A,
            key: KEY,
        },
    };
    let mut reader = PcscReader::open(sector.clone()).unwrap();
    assert!(matches!(reader.read_card_number(), Err(Error::NoCard)));

    // Tap.
    let card = CardLink::tap(&pcscd.slot(0), member_card(KEY)).unwrap();
    let (ev, took) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Present { uid: UID.to_vec() });
    eprintln!("tap seen after {took:?}");
    assert_eq!(reader.read_card_number().unwrap(), "8800012345");

    // The same card read by UID, formatted as a 10-digit reversed-decimal reader would.
    let mut by_uid = PcscReader::open(PcscConfig {
        reader_name: Some("Virtual PCD 00 00".into()),
        number: NumberSource::Uid(NumberFormat {
            reverse_bytes: true,
            radix: Radix::Decimal,
            pad_to: Some(10),
        }),
    })
    .unwrap();
    assert_eq!(by_uid.read_card_number().unwrap(), "2436604420");

    // Removal.
    card.remove().unwrap();
    let (ev, took) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Removed);
    eprintln!("removal seen after {took:?}");
    assert!(matches!(reader.read_card_number(), Err(Error::NoCard)));

    // A card whose sector was keyed by someone else: the read is refused with a typed error.
    let card = CardLink::tap(&pcscd.slot(0), member_card([0x01; 6])).unwrap();
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Present { uid: UID.to_vec() });
    match reader.read_card_number() {
        Err(Error::AuthenticationFailed { block: 4, sw }) => {
            assert_eq!((sw.0, sw.1), (0x63, 0x00));
        }
        other => panic!("wrong key was not refused: {other:?}"),
    }
    let apdus = card.apdus();
    assert!(
        apdus.iter().any(|a| a[..2] == [0xFF, 0x86]),
        "no GENERAL AUTHENTICATE reached the card: {apdus:?}"
    );
    // Issuing: a blank card gets the store's number written into the sector and reads it back.
    drop(card);
    let blank = CardLink::tap(&pcscd.slot(0), member_card(KEY).with_block(4, [0; 16])).unwrap();
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Removed);
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Present { uid: UID.to_vec() });
    assert!(reader.read_card_number().is_err());
    reader
        .write_number(4, KeyType::A, &KEY, "8800099999")
        .unwrap();
    assert_eq!(reader.read_card_number().unwrap(), "8800099999");
    assert!(matches!(
        reader.write_number(7, KeyType::A, &KEY, "1"),
        Err(Error::Config(_))
    ));
    let issued = blank.remove().unwrap();
    assert_eq!(&issued.block(4)[..10], b"8800099999");
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Removed);
    // Tapped again, the issued card carries its number.
    let card = CardLink::tap(&pcscd.slot(0), issued).unwrap();
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Present { uid: UID.to_vec() });
    assert_eq!(reader.read_card_number().unwrap(), "8800099999");

    // A card on the second slot is seen by the second reader only.
    let other = CardLink::tap(
        &pcscd.slot(1),
        MifareClassic1k::new([0x11, 0x22, 0x33, 0x44]),
    )
    .unwrap();
    let mut second = PcscReader::open(PcscConfig {
        reader_name: Some("Virtual PCD 00 01".into()),
        number: NumberSource::Uid(NumberFormat::default()),
    })
    .unwrap();
    let (ev, _) = wait_event(&mut second, Duration::from_secs(10));
    assert_eq!(
        ev,
        CardEvent::Present {
            uid: vec![0x11, 0x22, 0x33, 0x44]
        }
    );
    assert_eq!(second.read_card_number().unwrap(), "11223344");
    assert!(reader
        .next_event(Duration::from_millis(500))
        .unwrap()
        .is_none());
    drop(other);

    // pcscd restarts under the kiosk (a service manager, an update): the reader reports the
    // card removed, re-establishes its context, and sees the next tap.
    assert_eq!(reader.read_card_number().unwrap(), "8800099999");
    drop(card);
    pcscd.restart().unwrap();
    let (ev, _) = wait_event(&mut reader, Duration::from_secs(10));
    assert_eq!(ev, CardEvent::Removed);
    let card = CardLink::tap(&pcscd.slot(0), member_card(KEY)).unwrap();
    let started = Instant::now();
    let ev = loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no tap after the restart"
        );
        // Errors while pcscd is still coming back are expected; the kiosk retries the same way.
        if let Ok(Some(ev)) = reader.next_event(Duration::from_millis(200)) {
            break ev;
        }
    };
    assert_eq!(ev, CardEvent::Present { uid: UID.to_vec() });
    assert_eq!(reader.read_card_number().unwrap(), "8800012345");
    drop(card);
    drop(second);
    drop(by_uid);
    drop(reader);
    drop(pcscd);
}
