//! A keyboard-wedge reader played through a real FIFO: a writer thread emits `input_event`
//! records the way a USB HID reader does (MSC_SCAN, key, SYN per key, Shift around capitals),
//! and the same `WedgeReader` the kiosk uses decodes them from the other end.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may panic on set-up failure

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use dms_card_terminal::normalize::{NumberFormat, Radix, TypedNumber};
use dms_card_terminal::reader::wedge::{synthesize, WedgeConfig, WedgeReader};
use dms_card_terminal::reader::{CardEvent, CardReader};
use dms_card_terminal::Error;

fn fifo(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dms-wedge-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events");
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success(), "mkfifo failed");
    path
}

#[test]
fn numbers_arrive_through_a_fifo_with_shift_enter_and_speed_check() {
    let path = fifo("main");
    let writer_path = path.clone();
    let writer = thread::spawn(move || {
        let mut fifo = OpenOptions::new().write(true).open(writer_path).unwrap();
        let ms = Duration::from_millis;
        let base = Duration::from_secs(1_764_000_000);
        // 1. a reader-speed number with shifted characters;
        // 2. a person typing at ~200 ms per key;
        // 3. a plain reader-speed decimal number.
        let streams = [
            synthesize("MC-00#A7", base, ms(8)),
            synthesize("88001234", base + Duration::from_secs(10), ms(200)),
            synthesize("2436604420", base + Duration::from_secs(20), ms(4)),
        ];
        for events in streams {
            for ev in events {
                // One write per record, as the kernel delivers them.
                fifo.write_all(&ev.to_bytes()).unwrap();
            }
            fifo.flush().unwrap();
            thread::sleep(ms(20));
        }
    });

    let file = std::fs::File::open(&path).unwrap();
    let mut reader = WedgeReader::spawn(file, WedgeConfig::default());
    let wait = Duration::from_secs(5);

    assert_eq!(
        reader.next_event(wait).unwrap(),
        Some(CardEvent::Present {
            uid: b"MC-00#A7".to_vec()
        })
    );
    assert_eq!(reader.read_card_number().unwrap(), "MC-00#A7");
    assert_eq!(reader.next_event(wait).unwrap(), Some(CardEvent::Removed));

    match reader.next_event(wait) {
        Err(Error::HumanTyping { gap_ms, max_ms }) => {
            assert_eq!((gap_ms, max_ms), (200, 50));
        }
        other => panic!("human typing was not rejected: {other:?}"),
    }

    assert_eq!(
        reader.next_event(wait).unwrap(),
        Some(CardEvent::Present {
            uid: b"2436604420".to_vec()
        })
    );
    assert_eq!(reader.read_card_number().unwrap(), "2436604420");
    writer.join().unwrap();

    // The same stream with the store's normalisation: the reversed-decimal number typed by
    // the wedge becomes the UID in hexadecimal, as the PC/SC reader reports the same card.
    let events: Vec<u8> = synthesize(
        "2436604420",
        Duration::from_secs(1),
        Duration::from_millis(4),
    )
    .iter()
    .flat_map(|e| e.to_bytes())
    .collect();
    let config = WedgeConfig {
        number: Some(TypedNumber {
            typed_as: Radix::Decimal,
            uid_len: Some(4),
            typed_reversed: true,
            format: NumberFormat::default(),
        }),
        ..WedgeConfig::default()
    };
    let mut reader = WedgeReader::spawn(std::io::Cursor::new(events), config);
    assert!(matches!(
        reader.next_event(wait).unwrap(),
        Some(CardEvent::Present { .. })
    ));
    assert_eq!(reader.read_card_number().unwrap(), "04A23B91");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
