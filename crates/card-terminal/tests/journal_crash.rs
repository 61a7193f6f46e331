//! The journal across a real crash: a child process (this test binary, re-run with one test
//! selected) records a checkout and is killed with SIGKILL before it could send or resolve it;
//! the next process that opens the journal lists the request as pending under the same key.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use dms_card_terminal::journal::{EntryState, Journal, NewRequest, RequestKind};
use rust_decimal::Decimal;

const CHILD_ENV: &str = "DMS_JOURNAL_CRASH_CHILD";

/// Runs only as the child: writes a pending request, reports its key, then waits to be killed.
#[test]
fn child_records_then_waits_to_be_killed() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut journal = Journal::open(&path).unwrap();
    let entry = journal
        .begin(NewRequest {
            kind: RequestKind::TopUp,
            card_number: "8800012345".into(),
            amount: Decimal::from_str("500.00").unwrap(),
            reference: None,
        })
        .unwrap();
    println!("KEY {}", entry.key);
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_request_recorded_before_a_crash_is_pending_after_restart() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("dms-journal-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.jsonl");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_records_then_waits_to_be_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let key = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print "test <name> ... " on the same line first.
        .find_map(|l| l.split_once("KEY ").map(|(_, k)| k.trim().to_string()))
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let mut journal = Journal::open(&path).unwrap();
    let pending = journal.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].key.to_string(), key);
    assert_eq!(pending[0].kind, RequestKind::TopUp);
    assert_eq!(pending[0].amount, Decimal::from_str("500.00").unwrap());
    // Resolution after the restart: the retry with the same key found it booked.
    let key = pending[0].key;
    journal.confirm(key, "R-0042").unwrap();
    drop(journal);
    let journal = Journal::open(&path).unwrap();
    assert!(journal.pending().is_empty());
    assert_eq!(journal.get(key).unwrap().state, EntryState::Confirmed);
    std::fs::remove_dir_all(&dir).unwrap();
}
