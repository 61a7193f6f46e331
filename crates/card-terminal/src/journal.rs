//! The terminal's local journal of money requests.
//!
//! Every request that moves money (a card payment, a top-up) gets an idempotency key, and the
//! key is written here, fsynced, *before* the request is sent. The API answers a retry with the
//! same key with the first answer, so after a crash, a timeout or a dropped connection the
//! kiosk resends with the same key and learns the real outcome instead of paying twice.
//!
//! The file is append-only JSON lines: one record when a request begins (state `pending`,
//! with what it was for) and one when it is resolved (`confirmed` or `failed`). On start the
//! kiosk folds the file and lists the entries still pending, to resolve them before taking
//! new payments. No PIN is ever part of a record (see [`crate::pin`]).
//!
//! A crash can leave a half-written last line; it is cut off on open (its request was never
//! sent, because sending waits for the fsync). A damaged line elsewhere is an error: the
//! journal is evidence and is not silently repaired.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// What a money request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Paying a basket or a pending bill with the card.
    Checkout,
    /// Loading stored value onto the card at the desk.
    TopUp,
    /// Asking the cashier for a top-up from the kiosk: pending while the request waits for the
    /// cashier (its server id noted with [`Journal::note`]), confirmed with the top-up, failed
    /// when cancelled, expired or refused.
    TopUpRequest,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Written, maybe sent; outcome unknown.
    Pending,
    /// The server confirmed it.
    Confirmed,
    /// The server refused it (or it was never sent and abandoned).
    Failed,
}

/// A new money request, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// What it does.
    pub kind: RequestKind,
    /// The card it is for.
    pub card_number: String,
    /// The amount.
    pub amount: Decimal,
    /// The cashier's bill or basket reference, if any.
    pub reference: Option<String>,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    key: Uuid,
    state: EntryState,
    at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<RequestKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// A request as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The idempotency key sent with every attempt.
    pub key: Uuid,
    /// What it does.
    pub kind: RequestKind,
    /// The card.
    pub card_number: String,
    /// The amount.
    pub amount: Decimal,
    /// The cashier's reference.
    pub reference: Option<String>,
    /// Where it stands.
    pub state: EntryState,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The server's receipt number or refusal reason.
    pub detail: Option<String>,
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    entries: BTreeMap<Uuid, Entry>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads it.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal> {
        let path = path.as_ref().to_path_buf();
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        if created {
            // Make the new file's directory entry durable too.
            sync_dir(&path)?;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let mut entries = BTreeMap::new();
        let complete_len = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
        for (i, line) in text[..complete_len].lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).map_err(|e| Error::JournalCorrupt {
                path: path.clone(),
                line: i + 1,
                reason: e.to_string(),
            })?;
            apply(&mut entries, record).map_err(|reason| Error::JournalCorrupt {
                path: path.clone(),
                line: i + 1,
                reason,
            })?;
        }
        if complete_len < text.len() {
            log::warn!(
                "journal {}: dropping a torn last line of {} bytes",
                path.display(),
                text.len() - complete_len
            );
            file.set_len(complete_len as u64)?;
            file.sync_all()?;
        }
        Ok(Journal {
            path,
            file,
            entries,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a new request as pending, durably, and returns it with its idempotency key.
    /// Only after this returns may the request be sent.
    pub fn begin(&mut self, request: NewRequest) -> Result<Entry> {
        let record = Record {
            key: Uuid::now_v7(),
            state: EntryState::Pending,
            at: Utc::now(),
            kind: Some(request.kind),
            card_number: Some(request.card_number),
            amount: Some(request.amount),
            reference: request.reference,
            detail: None,
        };
        self.append(record.clone())?;
        self.entries
            .get(&record.key)
            .cloned()
            .ok_or_else(|| Error::Journal("entry vanished after writing".into()))
    }

    /// Marks a request confirmed by the server (`detail`: its receipt number).
    pub fn confirm(&mut self, key: Uuid, detail: &str) -> Result<Entry> {
        self.resolve(key, EntryState::Confirmed, detail)
    }

    /// Notes what the server answered while the request stays pending (a top-up request's id,
    /// while the cashier has not decided). The latest note is the entry's `detail`.
    pub fn note(&mut self, key: Uuid, detail: &str) -> Result<Entry> {
        match self.entries.get(&key).map(|e| e.state) {
            None => return Err(Error::Journal(format!("unknown key {key}"))),
            Some(EntryState::Pending) => {}
            Some(current) => {
                return Err(Error::Journal(format!(
                    "{key} is already {current:?}, nothing to note"
                )))
            }
        }
        self.append(Record {
            key,
            state: EntryState::Pending,
            at: Utc::now(),
            kind: None,
            card_number: None,
            amount: None,
            reference: None,
            detail: Some(detail.to_string()),
        })?;
        self.entries
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::Journal(format!("unknown key {key}")))
    }

    /// Marks a request refused by the server, or abandoned before it was sent.
    pub fn fail(&mut self, key: Uuid, reason: &str) -> Result<Entry> {
        self.resolve(key, EntryState::Failed, reason)
    }

    fn resolve(&mut self, key: Uuid, state: EntryState, detail: &str) -> Result<Entry> {
        match self.entries.get(&key).map(|e| e.state) {
            None => return Err(Error::Journal(format!("unknown key {key}"))),
            // A retry may learn the same outcome again: nothing to write.
            Some(current) if current == state => {
                return self
                    .entries
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| Error::Journal(format!("unknown key {key}")))
            }
            Some(EntryState::Pending) => {}
            Some(current) => {
                return Err(Error::Journal(format!(
                    "{key} is already {current:?}, cannot become {state:?}"
                )))
            }
        }
        self.append(Record {
            key,
            state,
            at: Utc::now(),
            kind: None,
            card_number: None,
            amount: None,
            reference: None,
            detail: Some(detail.to_string()),
        })?;
        self.entries
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::Journal(format!("unknown key {key}")))
    }

    /// Requests whose outcome is unknown, oldest first.
    pub fn pending(&self) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = self
            .entries
            .values()
            .filter(|e| e.state == EntryState::Pending)
            .collect();
        out.sort_by_key(|e| e.created_at);
        out
    }

    /// One entry.
    pub fn get(&self, key: Uuid) -> Option<&Entry> {
        self.entries.get(&key)
    }

    fn append(&mut self, record: Record) -> Result<()> {
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        // Check the transition before writing, so the file never holds an impossible record.
        let mut next = self.entries.clone();
        apply(&mut next, record).map_err(Error::Journal)?;
        // One write call per record: O_APPEND keeps a whole record together.
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.entries = next;
        Ok(())
    }
}

fn apply(entries: &mut BTreeMap<Uuid, Entry>, r: Record) -> std::result::Result<(), String> {
    match (entries.get_mut(&r.key), r.state) {
        (None, EntryState::Pending) => {
            let (Some(kind), Some(card_number), Some(amount)) = (r.kind, r.card_number, r.amount)
            else {
                return Err(format!(
                    "pending record {} lacks kind, card or amount",
                    r.key
                ));
            };
            entries.insert(
                r.key,
                Entry {
                    key: r.key,
                    kind,
                    card_number,
                    amount,
                    reference: r.reference,
                    state: EntryState::Pending,
                    created_at: r.at,
                    updated_at: r.at,
                    detail: None,
                },
            );
            Ok(())
        }
        (None, state) => Err(format!("{state:?} record for unknown key {}", r.key)),
        // A note on a pending entry: no kind (that would be a second begin), a detail.
        (Some(e), EntryState::Pending)
            if e.state == EntryState::Pending && r.kind.is_none() && r.detail.is_some() =>
        {
            e.updated_at = r.at;
            e.detail = r.detail;
            Ok(())
        }
        (Some(e), EntryState::Pending) => Err(format!("key {} begun twice", e.key)),
        (Some(e), state) => {
            e.state = state;
            e.updated_at = r.at;
            e.detail = r.detail;
            Ok(())
        }
    }
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dms-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.jsonl")
    }

    fn checkout(amount: &str) -> NewRequest {
        NewRequest {
            kind: RequestKind::Checkout,
            card_number: "8800012345".into(),
            amount: Decimal::from_str(amount).unwrap(),
            reference: Some("B-1".into()),
        }
    }

    #[test]
    fn pending_is_on_disk_before_the_request_and_survives_a_restart() {
        let path = temp("restart");
        let mut j = Journal::open(&path).unwrap();
        let paid = j.begin(checkout("188.00")).unwrap();
        let unknown = j.begin(checkout("20.00")).unwrap();
        // Before anything is sent, the key is in the file.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&paid.key.to_string()));
        assert!(text.contains("\"amount\":\"188.00\""));
        j.confirm(paid.key, "R-0001").unwrap();
        drop(j);

        let j = Journal::open(&path).unwrap();
        let pending: Vec<Uuid> = j.pending().iter().map(|e| e.key).collect();
        assert_eq!(pending, vec![unknown.key]);
        assert_eq!(j.get(paid.key).unwrap().state, EntryState::Confirmed);
        assert_eq!(j.get(paid.key).unwrap().detail.as_deref(), Some("R-0001"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn transitions_are_one_way() {
        let path = temp("transitions");
        let mut j = Journal::open(&path).unwrap();
        let e = j.begin(checkout("1.00")).unwrap();
        j.fail(e.key, "insufficient balance").unwrap();
        // Learning the same outcome again is fine and writes nothing.
        j.fail(e.key, "insufficient balance").unwrap();
        assert!(j.confirm(e.key, "R-9").is_err());
        assert!(j.confirm(Uuid::now_v7(), "R-9").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_note_keeps_the_entry_pending_and_survives_a_restart() {
        let path = temp("note");
        let mut j = Journal::open(&path).unwrap();
        let e = j
            .begin(NewRequest {
                kind: RequestKind::TopUpRequest,
                card_number: "8800****2345".into(),
                amount: Decimal::from_str("500.00").unwrap(),
                reference: None,
            })
            .unwrap();
        j.note(e.key, "request:TR-1").unwrap();
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        let got = j.get(e.key).unwrap().clone();
        assert_eq!(got.state, EntryState::Pending);
        assert_eq!(got.kind, RequestKind::TopUpRequest);
        assert_eq!(got.detail.as_deref(), Some("request:TR-1"));
        j.confirm(e.key, "T-1").unwrap();
        assert!(j.note(e.key, "request:TR-2").is_err());
        drop(j);
        assert!(Journal::open(&path).unwrap().pending().is_empty());
    }

    #[test]
    fn a_torn_last_line_is_cut_and_a_damaged_middle_line_is_an_error() {
        let path = temp("torn");
        let mut j = Journal::open(&path).unwrap();
        let e = j.begin(checkout("5.00")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"key\":\"0190").unwrap();
        drop(f);
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.pending().len(), 1);
        j.confirm(e.key, "R-1").unwrap();
        drop(j);
        assert!(Journal::open(&path).unwrap().pending().is_empty());

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(Error::JournalCorrupt { line: 1, .. })
        ));
    }
}
