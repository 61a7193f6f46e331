use crate::connection::{establish, DbConnection, Engine};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Db(#[from] crate::DbError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("backup and restore by dms work on SQLite; for PostgreSQL use pg_dump / pg_restore (see README)")]
    NotSqlite,
    #[error("{0} already exists; choose a new file name")]
    TargetExists(PathBuf),
    #[error("{0} is not a usable DMS backup: {1}")]
    NotABackup(PathBuf, String),
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    n: i32,
}

/// Writes a consistent copy of a live SQLite database with `VACUUM INTO`: it reads one
/// snapshot while the server keeps serving, and the copy is compact and self-contained (no WAL).
pub fn backup_sqlite(url: &str, target: &Path) -> Result<u64, BackupError> {
    if Engine::from_url(url)? != Engine::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_path_buf()));
    }
    if let Some(dir) = target.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut conn = establish(url)?;
    let DbConnection::Sqlite(c) = &mut conn else {
        return Err(BackupError::NotSqlite);
    };
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target.to_string_lossy().to_string())
        .execute(c)?;
    check_backup(target)?;
    Ok(std::fs::metadata(target)?.len())
}

/// Checks that a file is an intact SQLite database holding DMS migrations.
fn check_backup(file: &Path) -> Result<(), BackupError> {
    let bad = |why: String| BackupError::NotABackup(file.to_path_buf(), why);
    if !file.is_file() {
        return Err(bad("no such file".into()));
    }
    let mut c =
        SqliteConnection::establish(&file.to_string_lossy()).map_err(|e| bad(e.to_string()))?;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check")
            .load(&mut c)
            .map_err(|e| bad(e.to_string()))?;
    if rows.first().map(|r| r.value.as_str()) != Some("ok") {
        return Err(bad("integrity check failed".into()));
    }
    let n: Vec<Count> = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('__diesel_schema_migrations', 'staff_users')",
    )
    .load(&mut c)
    .map_err(|e| bad(e.to_string()))?;
    if n.first().map(|r| r.n) != Some(2) {
        return Err(bad("it does not contain a DMS database".into()));
    }
    Ok(())
}

/// Replaces the database at `url` with the backup `file`. The server must be stopped. The
/// current database is first kept beside it as `<name>.before-restore-<timestamp>`.
pub fn restore_sqlite(url: &str, file: &Path) -> Result<Option<PathBuf>, BackupError> {
    if Engine::from_url(url)? != Engine::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    check_backup(file)?;
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let live = PathBuf::from(path);
    let mut kept = None;
    if live.exists() {
        // Fold the WAL into the main file so the safety copy is complete.
        if let Ok(mut c) = SqliteConnection::establish(path) {
            let _ = c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
        let keep = live.with_file_name(format!(
            "{}.before-restore-{stamp}",
            live.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        ));
        std::fs::rename(&live, &keep)?;
        kept = Some(keep);
    } else if let Some(dir) = live.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{path}{suffix}"));
        if side.exists() {
            std::fs::remove_file(side)?;
        }
    }
    let tmp = PathBuf::from(format!("{path}.restoring"));
    std::fs::copy(file, &tmp)?;
    std::fs::rename(&tmp, &live)?;
    Ok(kept)
}
