//! Fresh databases for tests on both engines: a temporary SQLite file, or a new PostgreSQL
//! database created on the server at `DMS_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards.
//!
//! Without a reachable PostgreSQL the PostgreSQL variant of a test is skipped with a message,
//! unless `DMS_REQUIRE_PG=1` (CI sets it), which turns the absence into a failure.

use crate::{connect_pool, DbPool};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

pub struct TestDb {
    pub url: String,
    pub pool: DbPool,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    PgDatabase { admin_url: String, name: String },
}

fn pg_admin_url() -> String {
    std::env::var("DMS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn unique_name() -> String {
    format!("dms_t_{}", uuid::Uuid::new_v4().simple())
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique_name());
        let url = dir.join("dms.sqlite3").to_string_lossy().to_string();
        let pool = match connect_pool(&url, 4) {
            Ok(p) => p,
            Err(e) => panic!("cannot open test SQLite database: {e}"),
        };
        TestDb {
            url,
            pool,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// `None` (with a note on stderr) when PostgreSQL is absent and not required.
    pub fn postgres() -> Option<TestDb> {
        let admin_url = pg_admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("DMS_REQUIRE_PG").as_deref() == Ok("1") {
                    panic!("DMS_REQUIRE_PG=1 but PostgreSQL at {admin_url} is not reachable: {e}");
                }
                eprintln!("skipped: PostgreSQL not reachable at {admin_url} ({e})");
                return None;
            }
        };
        let name = unique_name();
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
            panic!("cannot create test database: {e}");
        }
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("DMS_TEST_PG_URL must end with /DATABASE"),
        };
        let pool = match connect_pool(&url, 8) {
            Ok(p) => p,
            Err(e) => panic!("cannot open test PostgreSQL database: {e}"),
        };
        Some(TestDb {
            url,
            pool,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Ok(mut c) = PgConnection::establish(admin_url) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// Declares each listed `fn(&TestDb)` as two tests, `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let db = $crate::testing::TestDb::sqlite();
                    super::$name(&db);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = $crate::testing::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}
