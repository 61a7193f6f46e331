use crate::{record_audit, Actor, IdentityError, NewAudit, Result};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::{dealer_groups, stores};
use dms_db::{to_db_time, DbConnection};
use serde_json::json;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stores)]
pub struct Store {
    pub id: String,
    pub group_id: String,
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub struct NewStore {
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
}

#[derive(Default)]
pub struct StoreUpdate {
    pub name: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
}

/// The deployment's dealer group, created on first use. One installation serves one group.
pub fn ensure_group(conn: &mut DbConnection, name: &str) -> Result<String> {
    if let Some(id) = dealer_groups::table
        .select(dealer_groups::id)
        .order(dealer_groups::id)
        .first::<String>(conn)
        .optional()?
    {
        return Ok(id);
    }
    let id = dms_core::new_id();
    diesel::insert_into(dealer_groups::table)
        .values((
            dealer_groups::id.eq(&id),
            dealer_groups::name.eq(name),
            dealer_groups::created_at.eq(to_db_time(chrono::Utc::now())),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn create_store(conn: &mut DbConnection, actor: &Actor, new: &NewStore) -> Result<Store> {
    dms_db::write_tx(conn, |c| {
        let group_id = ensure_group(c, "集团")?;
        let taken: i64 = stores::table
            .filter(stores::code.eq(&new.code))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(IdentityError::Conflict {
                field: "code",
                message: "store code already in use".into(),
            });
        }
        let id = dms_core::new_id();
        let now = to_db_time(chrono::Utc::now());
        diesel::insert_into(stores::table)
            .values((
                stores::id.eq(&id),
                stores::group_id.eq(&group_id),
                stores::code.eq(&new.code),
                stores::name.eq(&new.name),
                stores::address.eq(&new.address),
                stores::phone.eq(&new.phone),
                stores::active.eq(true),
                stores::created_at.eq(now),
                stores::updated_at.eq(now),
            ))
            .execute(c)?;
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: Some(&id),
                action: "store.create",
                entity: "store",
                entity_id: &id,
                detail: json!({"code": new.code, "name": new.name}),
            },
        )?;
        Ok(stores::table
            .find(&id)
            .select(Store::as_select())
            .first(c)?)
    })
}

pub fn get_store(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Store> {
    if !scope.allows(id) {
        return Err(IdentityError::NotFound("store"));
    }
    stores::table
        .find(id)
        .select(Store::as_select())
        .first(conn)
        .optional()?
        .ok_or(IdentityError::NotFound("store"))
}

pub fn list_stores(
    conn: &mut DbConnection,
    scope: &StoreScope,
    page: &PageRequest,
) -> Result<(Vec<Store>, Option<String>)> {
    let mut q = stores::table.select(Store::as_select()).into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(stores::id.eq_any(ids.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(stores::id.gt(after_id.clone()));
    }
    let rows = q
        .order(stores::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |s| &s.id))
}

pub fn update_store(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    upd: &StoreUpdate,
) -> Result<Store> {
    dms_db::write_tx(conn, |c| {
        let before = get_store(c, scope, id)?;
        let now = to_db_time(chrono::Utc::now());
        diesel::update(stores::table.find(id))
            .set((
                stores::name.eq(upd.name.as_ref().unwrap_or(&before.name)),
                stores::address.eq(upd.address.as_ref().unwrap_or(&before.address)),
                stores::phone.eq(upd.phone.as_ref().unwrap_or(&before.phone)),
                stores::active.eq(upd.active.unwrap_or(before.active)),
                stores::updated_at.eq(now),
            ))
            .execute(c)?;
        let changed: Vec<&str> = [
            ("name", upd.name.is_some()),
            ("address", upd.address.is_some()),
            ("phone", upd.phone.is_some()),
            ("active", upd.active.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect();
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: Some(id),
                action: "store.update",
                entity: "store",
                entity_id: id,
                detail: json!({ "fields": changed }),
            },
        )?;
        get_store(c, scope, id)
    })
}
