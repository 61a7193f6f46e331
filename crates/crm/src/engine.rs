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
