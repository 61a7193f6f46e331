//! Customers created in bulk by another domain's import (the member import creates the
//! customers of a legacy member file): the rows are checked and built by the caller before its
//! write transaction, and written here with multi-row INSERTs so that the transaction stays
//! short. One audit entry covers the batch.

use crate::schema::customer_phones;
use crate::validate::name_key;
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use dms_db::schema::customers;
use dms_db::{to_db_time, DbConnection};
use dms_identity::Actor;
use serde_json::json;
use std::collections::BTreeSet;

/// Bound parameters per statement: below SQLite's (32766) and PostgreSQL's (65535) limits.
const MAX_PARAMS: usize = 30_000;

/// One individual customer to create: a mobile number already normalised with
/// [`crate::check_phone`] and a name already trimmed (1-100 characters).
#[derive(Debug, Clone)]
pub struct BulkCustomer {
    pub id: String,
    pub store_id: String,
    pub name: String,
    pub phone: String,
}

/// Of `phones`, those some customer already holds (main or further number, any status),
/// looked up in batches. Read-only: for a caller's re-check inside its write transaction.
pub fn phones_in_use(conn: &mut DbConnection, phones: &[String]) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for chunk in phones.chunks(1000) {
        let main: Vec<String> = customers::table
            .filter(customers::phone.eq_any(chunk))
            .select(customers::phone)
            .load(conn)?;
        found.extend(main);
        let other: Vec<String> = customer_phones::table
            .filter(customer_phones::phone.eq_any(chunk))
            .select(customer_phones::phone)
            .load(conn)?;
        found.extend(other);
    }
    Ok(found)
}

/// Writes the customers with multi-row INSERTs, in the caller's transaction, and one audit
/// entry (`customer.import`, naming `source`). The caller has checked that the numbers are
/// free ([`phones_in_use`]); a number taken meanwhile is a `Conflict` on `phone`.
pub fn insert_customers_bulk(
    conn: &mut DbConnection,
    actor: &Actor,
    store_id: &str,
    source: &str,
    rows: &[BulkCustomer],
    now: DateTime<Utc>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ts = to_db_time(now);
    let keys: Vec<String> = rows.iter().map(|r| name_key(&r.name)).collect();
    let per_chunk = (MAX_PARAMS / 11).max(1);
    for (chunk, keys) in rows.chunks(per_chunk).zip(keys.chunks(per_chunk)) {
        let values: Vec<_> = chunk
            .iter()
            .zip(keys)
            .map(|(r, key)| {
                (
                    customers::id.eq(&r.id),
                    customers::store_id.eq(&r.store_id),
                    customers::name.eq(&r.name),
                    customers::phone.eq(&r.phone),
                    customers::created_at.eq(ts),
                    customers::updated_at.eq(ts),
                    customers::kind.eq("individual"),
                    customers::name_norm.eq(key),
                    customers::preferences.eq("{}"),
                    customers::notes.eq(""),
                    customers::status.eq("active"),
                )
            })
            .collect();
        let q = diesel::insert_into(customers::table).values(values);
        let r = match conn {
            DbConnection::Sqlite(c) => q.execute(c),
            DbConnection::Pg(c) => q.execute(c),
        };
        r.map_err(|e| {
            if dms_db::is_unique_violation(&e) {
                CrmError::conflict("phone", "a customer with this number was added meanwhile")
            } else {
                e.into()
            }
        })?;
    }
    audit(
        conn,
        actor,
        Some(store_id),
        "customer.import",
        "import",
        source,
        json!({ "customers": rows.len() }),
    )?;
    Ok(())
}
