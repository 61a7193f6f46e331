//! The few places where SQLite and PostgreSQL need different SQL, each a named function that
//! matches on the connection.

use dms_db::DbConnection;

/// How to ask "starts with" so that the index is used.
pub(crate) enum Prefix {
    /// SQLite compares text byte-wise (BINARY collation), so `[p, p + U+10FFFF)` is exact
    /// and stays on a plain index, while `LIKE` would need a NOCASE index.
    Range { lo: String, hi: String },
    /// PostgreSQL: `LIKE 'p%'` on a `text_pattern_ops` index, exact whatever the collation.
    Like(String),
}

pub(crate) fn prefix(conn: &DbConnection, p: &str) -> Prefix {
    match conn {
        DbConnection::Sqlite(_) => Prefix::Range {
            lo: p.to_string(),
            hi: crate::validate::prefix_end(p),
        },
        DbConnection::Pg(_) => {
            let mut pat = String::with_capacity(p.len() + 1);
            for c in p.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pat.push('\\');
                }
                pat.push(c);
            }
            pat.push('%');
            Prefix::Like(pat)
        }
    }
}

/// Applies [`prefix`] to one text column of a boxed query.
macro_rules! filter_prefix {
    ($q:expr, $conn:expr, $col:expr, $p:expr) => {
        match $crate::engine::prefix($conn, $p) {
            $crate::engine::Prefix::Range { lo, hi } => $q.filter($col.ge(lo)).filter($col.lt(hi)),
            $crate::engine::Prefix::Like(pat) => $q.filter($col.like(pat).escape('\\')),
        }
    };
}
pub(crate) use filter_prefix;

/// Many task rows in one multi-row `INSERT`. diesel's `MultiConnection` cannot express a
/// batch insert, so it runs on the concrete connection; every value is bound (NULL, never
/// `DEFAULT`), which SQLite needs for a single statement.
pub(crate) fn insert_task_rows(
    conn: &mut DbConnection,
    rows: &[crate::care::NewTaskRow<'_>],
) -> Result<(), diesel::result::Error> {
    use crate::schema::follow_up_tasks as t;
    use diesel::prelude::*;
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                t::id.eq(r.id.as_str()),
                t::store_id.eq(r.store_id),
                t::customer_id.eq(r.customer_id),
                t::vehicle_id.eq(r.vehicle_id),
                t::rule.eq(r.rule),
                t::dedupe_key.eq(r.dedupe_key),
                t::title.eq(r.title),
                t::due_on.eq(r.due_on),
                t::assigned_to.eq(r.assigned_to.as_deref()),
                t::status.eq(r.status),
                t::note.eq(r.note),
                t::created_at.eq(r.created_at),
                t::updated_at.eq(r.updated_at),
            )
        })
        .collect();
    let q = diesel::insert_into(t::table).values(values);
    match conn {
        DbConnection::Sqlite(c) => q.execute(c)?,
        DbConnection::Pg(c) => q.execute(c)?,
    };
    Ok(())
}
