use crate::Result;
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::audit_log;
use dms_db::DbConnection;

/// Who acted, as the audit log and every domain crate see it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `staff`, `customer`, `device`, `client` or `system` (command line, scheduled jobs).
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: String,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system(name: &str) -> Actor {
        Actor {
            kind: "system",
            id: None,
            name: name.to_string(),
            request_id: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: chrono::NaiveDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub store_id: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
    pub request_id: Option<String>,
}

/// One change to record, in the transaction that makes the change.
pub struct NewAudit<'a> {
    pub store_id: Option<&'a str>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    /// What changed; never a secret (the callers pass field names, not passwords or tokens).
    pub detail: serde_json::Value,
}

pub fn record_audit(conn: &mut DbConnection, actor: &Actor, entry: NewAudit<'_>) -> Result<()> {
    let mut rows = AuditRows::default();
    rows.push(actor, entry);
    rows.write(conn)
}

/// Audit entries gathered to be written in one statement (a batch of payments, each audited).
#[derive(Debug, Clone)]
pub struct AuditRows(dms_db::Rows);

const AUDIT_COLUMNS: &[(&str, dms_db::ColumnType)] = {
    use dms_db::ColumnType::{NullableText, Text, Timestamp};
    &[
        ("id", Text),
        ("occurred_at", Timestamp),
        ("actor_kind", Text),
        ("actor_id", NullableText),
        ("actor_name", Text),
        ("store_id", NullableText),
        ("action", Text),
        ("entity", Text),
        ("entity_id", Text),
        ("detail", Text),
        ("request_id", NullableText),
    ]
};

impl Default for AuditRows {
    fn default() -> AuditRows {
        AuditRows(dms_db::Rows::new("audit_log", AUDIT_COLUMNS))
    }
}

impl AuditRows {
    pub fn push(&mut self, actor: &Actor, entry: NewAudit<'_>) {
        self.0.push(vec![
            dms_core::new_id().into(),
            dms_db::to_db_time(chrono::Utc::now()).into(),
            actor.kind.into(),
            actor.id.clone().into(),
            actor.name.as_str().into(),
            entry.store_id.into(),
            entry.action.into(),
            entry.entity.into(),
            entry.entity_id.into(),
            entry.detail.to_string().into(),
            actor.request_id.clone().into(),
        ]);
    }

    /// Moves `other`'s entries after these.
    pub fn append(&mut self, other: AuditRows) {
        self.0.append(other.0);
    }

    pub fn write(&self, conn: &mut DbConnection) -> Result<()> {
        self.0.insert(conn)?;
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
}

/// Newest first. A store-scoped caller sees the entries of its stores only; entries without a
/// store (group-level changes) are for group-wide readers.
pub fn list_audit(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<(Vec<AuditEntry>, Option<String>)> {
    let mut q = audit_log::table
        .select(AuditEntry::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(audit_log::store_id.eq_any(ids.clone()));
    }
    if let Some(e) = &filter.entity {
        q = q.filter(audit_log::entity.eq(e.clone()));
    }
    if let Some(e) = &filter.entity_id {
        q = q.filter(audit_log::entity_id.eq(e.clone()));
    }
    if let Some(a) = &filter.actor_id {
        q = q.filter(audit_log::actor_id.eq(a.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(audit_log::id.lt(after_id.clone()));
    }
    let rows = q
        .order(audit_log::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |r| &r.id))
}
