//! The test kit for whole flows over HTTP: [`TestServer`] starts the real application on a
//! fresh SQLite or PostgreSQL database, listening on a free loopback port, with a small fixture
//! (a group, two stores and a few staff), and [`Client`] speaks to it as any client would.
//!
//! `http_tests!` declares each `fn(&TestServer)` twice, for `sqlite::` and `postgres::`.

// Test-only code: a panic is how a broken fixture reports itself.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use dms_db::testing::TestDb;
use dms_identity::{Actor, NewCustomer, NewStaff, NewStore, Role, RoleGrant};
use dms_server::config::Config;
use dms_server::AppState;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

pub const PASSWORD: &str = "Test@2026pw";
pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// What the fixture created, by name.
pub struct Fixture {
    pub ht01: String,
    pub ht02: String,
    /// A customer whose home store is HT01, and one of HT02.
    pub customer_ht01: String,
    pub customer_ht02: String,
}

pub struct TestServer {
    pub base: String,
    pub db: TestDb,
    pub fixture: Fixture,
    pub outbox: PathBuf,
    pub config: Config,
    handle: actix_web::dev::ServerHandle,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestServer {
    pub fn sqlite() -> TestServer {
        TestServer::start(TestDb::sqlite())
    }

    pub fn postgres() -> Option<TestServer> {
        TestDb::postgres().map(TestServer::start)
    }

    pub fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, |_| {})
    }

    /// As [`TestServer::start`], with the configuration changed by `tweak` first.
    pub fn start_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = std::env::temp_dir().join(format!("dms-http-{}", dms_core::new_id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config {
            database_url: db.url.clone(),
            web_root: dir.join("no-web-app"),
            ..Config::default()
        };
        config.auth.jwt_secret = Some(JWT_SECRET.into());
        config.customer_login.code_pepper = Some("test-pepper-0123456789".into());
        config.customer_login.outbox_file = dir.join("sms-outbox.jsonl");
        config.membership.pin_pepper = Some("test-pin-pepper-0123456789".into());
        tweak(&mut config);
        let fixture = {
            let mut conn = db.pool.get().expect("connection");
            load_fixture(&mut conn)
        };
        let state = actix_web::web::Data::new(
            AppState::new(config.clone(), db.pool.clone()).expect("app state"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || dms_server::app(state.clone()))
                    .workers(2)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            })
        });
        let handle = rx.recv().expect("server started");
        TestServer {
            base,
            outbox: config.customer_login.outbox_file.clone(),
            db,
            fixture,
            config,
            handle,
            _dir: TempDir(dir),
        }
    }

    pub fn client(&self) -> Client {
        Client {
            base: self.base.clone(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
            token: None,
        }
    }

    /// A client logged in as `username` (password [`PASSWORD`]).
    pub fn login(&self, username: &str) -> Client {
        let mut c = self.client();
        let r = c.post(
            "/api/v1/auth/login",
            &json!({"username": username, "password": PASSWORD}),
        );
        assert_eq!(r.status, 200, "login {username}: {}", r.body);
        c.token = Some(
            r.json["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        c
    }

    /// The owner of `phone` logged in as the mobile app does: the code the (file) SMS sender
    /// wrote to the outbox, then `/auth/customer/login`.
    pub fn owner_login(&self, phone: &str) -> Client {
        let c = self.client();
        let r = c.post("/api/v1/auth/customer/code", &json!({ "phone": phone }));
        assert_eq!(r.status, 202, "{}", r.body);
        let text = std::fs::read_to_string(&self.outbox).unwrap_or_default();
        let line = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["to"] == phone)
            .unwrap_or_else(|| panic!("no code sent to {phone}"));
        let code: String = line["text"]
            .as_str()
            .unwrap_or_default()
            .split("验证码是")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let t = c.post(
            "/api/v1/auth/customer/login",
            &json!({"phone": phone, "code": code}),
        );
        assert_eq!(t.status, 200, "{}", t.body);
        c.with_token(t.json["access_token"].as_str().unwrap_or_default())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Stop serving before the database goes away.
        let stop = self.handle.stop(false);
        let _ = std::thread::spawn(move || futures_block_on(stop)).join();
    }
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}

/// Staff of the fixture: username → (role, store code or group-wide).
pub const STAFF: &[(&str, Role, Option<&str>)] = &[
    ("admin", Role::GroupAdmin, None),
    ("ht01.manager", Role::StoreManager, Some("HT01")),
    ("ht01.cs", Role::CustomerService, Some("HT01")),
    ("ht01.tech", Role::Technician, Some("HT01")),
    ("ht01.cashier", Role::Cashier, Some("HT01")),
    ("ht01.advisor", Role::ServiceAdvisor, Some("HT01")),
    ("ht01.sales", Role::SalesConsultant, Some("HT01")),
    ("ht02.cashier", Role::Cashier, Some("HT02")),
    ("ht02.cs", Role::CustomerService, Some("HT02")),
];

fn load_fixture(conn: &mut dms_db::DbConnection) -> Fixture {
    let actor = Actor::system("test-fixture");
    dms_identity::ensure_group(conn, "测试汽车集团").expect("group");
    let mut store = |code: &str, name: &str| {
        dms_identity::create_store(
            conn,
            &actor,
            &NewStore {
                code: code.into(),
                name: name.into(),
                address: "北京市".into(),
                phone: "010-12345678".into(),
            },
        )
        .expect("store")
        .id
    };
    let ht01 = store("HT01", "测试一店");
    let ht02 = store("HT02", "测试二店");
    for (username, role, store) in STAFF {
        let store_id = store.map(|s| {
            if s == "HT01" {
                ht01.clone()
            } else {
                ht02.clone()
            }
        });
        dms_identity::create_staff(
            conn,
            &actor,
            None,
            &NewStaff {
                username: (*username).into(),
                display_name: format!("测试{username}"),
                password: PASSWORD.into(),
                grants: vec![RoleGrant {
                    role: *role,
                    store_id,
                }],
            },
        )
        .expect("staff");
    }
    let mut customer = |store_id: &str, name: &str, phone: &str| {
        dms_identity::create_customer(
            conn,
            &actor,
            &dms_core::StoreScope::AllStores,
            &NewCustomer {
                store_id: store_id.into(),
                name: name.into(),
                phone: phone.into(),
            },
        )
        .expect("customer")
        .id
    };
    let customer_ht01 = customer(&ht01, "王建国", "13801012345");
    let customer_ht02 = customer(&ht02, "李秀英", "13911023456");
    Fixture {
        ht01,
        ht02,
        customer_ht01,
        customer_ht02,
    }
}

/// A response as a test looks at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a problem+json answer with this status and code, and returns it.
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "content type; body: {}",
            self.body
        );
        assert_eq!(self.json["code"], code, "problem code; body: {}", self.body);
        assert_eq!(self.json["status"], status);
        &self.json
    }

    /// The fields named in a problem's `errors`.
    pub fn invalid_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub struct Client {
    pub base: String,
    pub agent: ureq::Agent,
    pub token: Option<String>,
}

impl Client {
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            base: self.base.clone(),
            agent: self.agent.clone(),
            token: Some(token.to_string()),
        }
    }

    pub fn request(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        r
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send(self.request("GET", path), None)
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send(self.request("DELETE", path), None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.raw(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Reply {
        self.raw(
            "PATCH",
            path,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.raw("PUT", path, "application/json", body.to_string().as_bytes())
    }

    pub fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let req = self.request(method, path).set("Content-Type", content_type);
        self.send(req, Some(body))
    }

    pub fn send(&self, req: ureq::Request, body: Option<&[u8]>) -> Reply {
        let result = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = resp.status();
        let content_type = resp.content_type().to_string();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let body = resp.into_string().unwrap_or_default();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            headers,
            body,
            json,
        }
    }
}

/// Declares each listed `fn(&TestServer)` as two tests, `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! http_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let server = $crate::TestServer::sqlite();
                    super::$name(&server);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(server) = $crate::TestServer::postgres() {
                        super::$name(&server);
                    }
                }
            )*
        }
    };
}
