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
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(dms_core::new_id()),
            audit_log::occurred_at.eq(dms_db::to_db_time(chrono::Utc::now())),
            audit_log::actor_kind.eq(actor.kind),
            audit_log::actor_id.eq(actor.id.as_deref()),
            audit_log::actor_name.eq(&actor.name),
            audit_log::store_id.eq(entry.store_id),
            audit_log::action.eq(entry.action),
            audit_log::entity.eq(entry.entity),
            audit_log::entity_id.eq(entry.entity_id),
            audit_log::detail.eq(entry.detail.to_string()),
            audit_log::request_id.eq(actor.request_id.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
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
