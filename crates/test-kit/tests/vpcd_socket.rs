//! The virtual card driven directly over vpcd's socket protocol (no pcscd): this is what
//! pcscd's vpcd driver sends, byte for byte, so the emulator is checked even where pcscd
//! cannot run.

#![allow(clippy::unwrap_used)]

use dms_test_kit::mifare::{MifareClassic1k, ATR_MIFARE_1K};
use dms_test_kit::vpcd::{VirtualReader, VpcdClient, CTRL_ON, CTRL_RESET};

const KEY: [u8; 6] = [0x4D, 0x43, 0x4C, 0x55, 0x42, 0x31];

fn member_card() -> MifareClassic1k {
    let mut card = MifareClassic1k::new([0x04, 0xA2, 0x3B, 0x91]).with_number(4, "8800012345");
    card.set_sector_keys(1, KEY, [0xB1; 6]);
    card
}

fn load(slot: u8, key: &[u8; 6]) -> Vec<u8> {
    let mut apdu = vec![0xFF, 0x82, 0x00, slot, 0x06];
    apdu.extend_from_slice(key);
    apdu
}

#[test]
fn empty_slot_closes_the_connection_so_vpcd_sees_no_card() {
    let reader = VirtualReader::start().unwrap();
    let mut vpcd = VpcdClient::connect(reader.port()).unwrap();
    assert_eq!(vpcd.atr().unwrap(), None);
}

#[test]
fn tapped_card_answers_atr_uid_and_protected_reads_then_leaves_on_removal() {
    let reader = VirtualReader::start().unwrap();
    reader.slot(0).tap(member_card());
    let mut vpcd = VpcdClient::connect(reader.port()).unwrap();
    assert_eq!(vpcd.atr().unwrap().unwrap(), ATR_MIFARE_1K);
    vpcd.control(CTRL_ON).unwrap();

    assert_eq!(
        vpcd.transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00]).unwrap(),
        [0x04, 0xA2, 0x3B, 0x91, 0x90, 0x00]
    );
    // Wrong key: authentication fails and the block stays closed.
    assert_eq!(vpcd.transmit(&load(0, &[0xFF; 6])).unwrap(), [0x90, 0x00]);
    let auth = [0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, 0x04, 0x60, 0x00];
    assert_eq!(vpcd.transmit(&auth).unwrap(), [0x63, 0x00]);
    assert_eq!(
        vpcd.transmit(&[0xFF, 0xB0, 0x00, 0x04, 0x10]).unwrap(),
        [0x69, 0x82]
    );
    // Right key.
    vpcd.transmit(&load(0, &KEY)).unwrap();
    assert_eq!(vpcd.transmit(&auth).unwrap(), [0x90, 0x00]);
    let block = vpcd.transmit(&[0xFF, 0xB0, 0x00, 0x04, 0x10]).unwrap();
    assert_eq!(&block[..10], b"8800012345");
    assert_eq!(&block[16..], [0x90, 0x00]);
    // A reset drops the authentication, as on a real card.
    vpcd.control(CTRL_RESET).unwrap();
    assert_eq!(
        vpcd.transmit(&[0xFF, 0xB0, 0x00, 0x04, 0x10]).unwrap(),
        [0x69, 0x82]
    );
    assert_eq!(reader.slot(0).apdus().len(), 8);

    // Removal closes the connection: the next presence check finds nothing.
    let card = reader.slot(0).remove().unwrap();
    assert_eq!(card.uid(), [0x04, 0xA2, 0x3B, 0x91]);
    assert_eq!(vpcd.atr().unwrap(), None);
    let mut again = VpcdClient::connect(reader.port()).unwrap();
    assert_eq!(again.atr().unwrap(), None);

    // Tapped again: a fresh connection sees it, with its authentication reset.
    reader.slot(0).tap(card);
    let mut vpcd = VpcdClient::connect(reader.port()).unwrap();
    assert_eq!(vpcd.atr().unwrap().unwrap(), ATR_MIFARE_1K);
    assert_eq!(
        vpcd.transmit(&[0xFF, 0xB0, 0x00, 0x04, 0x10]).unwrap(),
        [0x69, 0x82]
    );
}

#[test]
fn the_second_slot_is_independent() {
    let reader = VirtualReader::start().unwrap();
    reader
        .slot(1)
        .tap(MifareClassic1k::new([0x11, 0x22, 0x33, 0x44]));
    let mut slot0 = VpcdClient::connect(reader.port()).unwrap();
    assert_eq!(slot0.atr().unwrap(), None);
    let mut slot1 = VpcdClient::connect(reader.port() + 1).unwrap();
    assert!(slot1.atr().unwrap().is_some());
    assert_eq!(
        slot1.transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00]).unwrap(),
        [0x11, 0x22, 0x33, 0x44, 0x90, 0x00]
    );
}
