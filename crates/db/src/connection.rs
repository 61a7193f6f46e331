use crate::error::DbError;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use r2d2::{Pool, PooledConnection};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A connection to either engine. Domain code is written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<DbManager>;
pub type PooledConn = PooledConnection<DbManager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// `postgres://` or `postgresql://` is PostgreSQL; `sqlite://PATH`, `file:` or a plain path
    /// is SQLite. Anything else with a scheme is refused rather than taken for a file name.
    pub fn from_url(url: &str) -> Result<Engine, DbError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Engine::Postgres);
        }
        if lower.starts_with("sqlite:") || lower.starts_with("file:") || !url.contains("://") {
            if url.trim().is_empty() {
                return Err(DbError::BadUrl("empty database url".into()));
            }
            return Ok(Engine::Sqlite);
        }
        Err(DbError::BadUrl(format!(
            "unknown scheme in '{}': use postgres://... or a SQLite file path",
            url.split("://").next().unwrap_or_default()
        )))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

impl DbConnection {
    pub fn engine(&self) -> Engine {
        match self {
            DbConnection::Pg(_) => Engine::Postgres,
            DbConnection::Sqlite(_) => Engine::Sqlite,
        }
    }
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens one connection of the engine the URL names, with the SQLite settings applied.
pub fn establish(url: &str) -> Result<DbConnection, DbError> {
    match Engine::from_url(url)? {
        Engine::Postgres => Ok(DbConnection::Pg(PgConnection::establish(url)?)),
        Engine::Sqlite => {
            let path = sqlite_path(url);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() && !path.starts_with("file:") && path != ":memory:" {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::BadUrl(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
            let mut c = SqliteConnection::establish(path)?;
            apply_sqlite_pragmas(&mut c)?;
            Ok(DbConnection::Sqlite(c))
        }
    }
}

fn apply_sqlite_pragmas(c: &mut SqliteConnection) -> Result<(), diesel::result::Error> {
    // busy_timeout first: switching to WAL itself needs the lock when another process holds it.
    c.batch_execute(
        "PRAGMA busy_timeout = 10000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
}

/// Opens connections by URL scheme. diesel's own `ConnectionManager` would go through
/// `MultiConnection::establish`, which tries PostgreSQL and then treats the URL as a SQLite
/// file name when the server is down.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: String,
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        use diesel::r2d2::R2D2Connection;
        conn.ping().map_err(DbError::from)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    for m in &applied {
        log::info!("applied migration {m}");
    }
    Ok(applied.len())
}

/// Applies pending migrations on a single connection; `dms migrate` and pool start-up use it.
pub fn migrate(url: &str) -> Result<usize, DbError> {
    let mut conn = establish(url)?;
    run_migrations(&mut conn)
}

/// Migrates, then builds the pool. SQLite gets a small pool: it has one writer anyway, and
/// `BEGIN IMMEDIATE` + `busy_timeout` queue the writers.
pub fn connect_pool(url: &str, max_size: u32) -> Result<DbPool, DbError> {
    let engine = Engine::from_url(url)?;
    migrate(url)?;
    let manager = DbManager {
        url: url.to_string(),
    };
    let pool = Pool::builder()
        .max_size(match engine {
            Engine::Sqlite => max_size.clamp(1, 8),
            Engine::Postgres => max_size.max(1),
        })
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?;
    Ok(pool)
}
