//! Storage for every domain crate: one diesel code base on SQLite and PostgreSQL.
//!
//! * [`DbConnection`] is a diesel `MultiConnection` over `SqliteConnection` and `PgConnection`;
//!   the variant is chosen from the URL scheme ([`Engine::from_url`]), never by trial, so a
//!   mistyped `postgres://` URL cannot silently become a SQLite file.
//! * [`connect_pool`] runs the embedded migrations of that engine on a concrete connection and
//!   then builds an r2d2 pool whose SQLite connections get WAL, `synchronous=FULL`,
//!   `busy_timeout` and foreign keys.
//! * [`write_tx`] is the one way domain code writes: `BEGIN IMMEDIATE` on SQLite (the write lock
//!   is taken up front, so two writers never deadlock on lock upgrade) and `SERIALIZABLE` on
//!   PostgreSQL, retried on serialization failure, deadlock and busy.
//! * [`SqliteWriter`] is SQLite's group commit: payments queued together share one transaction
//!   and one fsync on one long-lived connection, each in its own savepoint (a payment alone
//!   needs none).
//! * [`Rows`] writes many rows of one table in one statement on PostgreSQL (unnested arrays),
//!   up to 32 to a statement on SQLite.
//!
//! Money columns are `BIGINT` fen (`i64`) on both engines and become `dms_core::Money` at the
//! crate edges: integers are exact on both engines, need no custom SQL types under
//! `MultiConnection`, and sum without rounding. Ids are UUIDv7 text, timestamps UTC `TIMESTAMP`.

pub mod schema;

mod backup;
mod connection;
mod error;
pub mod rows;
pub mod testing;
mod tx;

pub use backup::{backup_sqlite, restore_sqlite, BackupError};
pub use connection::{
    connect_pool, establish, migrate, DbConnection, DbManager, DbPool, Engine, PooledConn,
};
pub use error::{is_retryable, is_unique_violation, DbError};
pub use rows::{ColumnType, Rows, Value};
pub use tx::{read_tx, write_tx, write_tx_lock_first, Completion, SqliteWriter, TxError, WriteJob};

pub use diesel;

/// Timestamps are stored as UTC `TIMESTAMP` without zone on both engines.
pub fn to_db_time(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    t.naive_utc()
}

pub fn from_db_time(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_naive_utc_and_offset(t, chrono::Utc)
}
