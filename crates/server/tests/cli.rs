//! The `dms` command as an operator uses it: users, demo data, backup and restore, and what
//! the server writes to its log (never a password, a token or a login code).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "cli-test-jwt-secret-0123456789abcdef0123";
const PEPPER: &str = "cli-test-pepper-0123456789";

struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let d = std::env::temp_dir().join(format!("dms-cli-{}", dms_core::new_id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn db(&self) -> String {
        self.0.join("dms.sqlite3").to_string_lossy().into()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dms(dir: &Dir) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dms"));
    c.current_dir(&dir.0)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DMS_DATABASE_URL", dir.db())
        .env("DMS_JWT_SECRET", SECRET)
        .env("DMS_CODE_PEPPER", PEPPER)
        .env("DMS_WEB_ROOT", dir.0.join("web"));
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(dir: &Dir, extra: &[&str], log_level: &str) -> Served {
        let port = free_port();
        let child = dms(dir)
            .env("DMS_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", log_level)
            .env("DMS_SMS_OUTBOX_FILE", dir.0.join("outbox.jsonl"))
            .arg("serve")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/readyz")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Served { child, base }
    }

    fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = ureq::post(&format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        match r.send_json(body) {
            Ok(resp) => (resp.status(), resp.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{e}"),
        }
    }

    fn get(&self, path: &str, token: &str) -> (u16, Value) {
        match ureq::get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
        {
            Ok(resp) => (resp.status(), resp.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{e}"),
        }
    }

    /// Stops the server and returns everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut log);
        }
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut log);
        }
        log
    }
}

fn login(s: &Served, username: &str, password: &str) -> Value {
    let (status, body) = s.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn logs_never_hold_passwords_tokens_or_codes() {
    let dir = Dir::new();
    let password = "Sekrit-Passw0rd-xyz";
    run(dms(&dir).args([
        "user",
        "create",
        "--username",
        "boss",
        "--role",
        "group_admin",
        "--password",
        password,
    ]));
    let s = Served::start(&dir, &[], "debug");
    let tokens = login(&s, "boss", password);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    // A failed login with a password that is close to the real one.
    s.post(
        "/api/v1/auth/login",
        None,
        json!({"username": "boss", "password": "Sekrit-Passw0rd-xyZ"}),
    );
    let (status, store) = s.post(
        "/api/v1/stores",
        Some(&access),
        json!({"code": "S1", "name": "一店", "address": "北京", "phone": "010-1234567"}),
    );
    assert_eq!(status, 201, "{store}");
    let (status, _) = s.post(
        "/api/v1/customers",
        Some(&access),
        json!({"store_id": store["id"], "name": "王先生", "phone": "13812345678"}),
    );
    assert_eq!(status, 201);
    let (status, renewed) = s.post(
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": refresh }),
    );
    assert_eq!(status, 200);
    let new_refresh = renewed["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = s.post(
        "/api/v1/auth/customer/code",
        None,
        json!({"phone": "13812345678"}),
    );
    assert_eq!(status, 202);
    let outbox = std::fs::read_to_string(dir.0.join("outbox.jsonl")).unwrap();
    let sms: Value = serde_json::from_str(outbox.lines().next().unwrap()).unwrap();
    let code: String = sms["text"]
        .as_str()
        .unwrap()
        .split("验证码是")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6);
    let (status, _) = s.post(
        "/api/v1/auth/customer/login",
        None,
        json!({"phone": "13812345678", "code": code}),
    );
    assert_eq!(status, 200);
    let (status, _) = s.get("/api/v1/me", &access);
    assert_eq!(status, 200);

    let log = s.stop();
    assert!(
        log.contains("POST /api/v1/auth/login"),
        "the log is being written: {log}"
    );
    assert!(log.contains("rid="), "request ids are logged");
    for (what, secret) in [
        ("password", password),
        ("wrong password", "Sekrit-Passw0rd-xyZ"),
        ("access token", access.as_str()),
        ("access token signature", access.rsplit('.').next().unwrap()),
        ("refresh token", refresh.as_str()),
        ("rotated refresh token", new_refresh.as_str()),
        ("JWT secret", SECRET),
        ("code pepper", PEPPER),
        ("phone number", "13812345678"),
    ] {
        assert!(!log.contains(secret), "the log holds the {what}");
    }
    // A six-digit code is short: look for it only where a value would be.
    assert!(!log.contains(&format!("\"{code}\"")) && !log.contains(&format!("={code}")));
}

#[test]
fn seed_demo_once_then_refuse() {
    let dir = Dir::new();
    let out = run(dms(&dir).arg("seed-demo"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 stores"), "{text}");
    let again = dms(&dir).arg("seed-demo").output().unwrap();
    assert!(!again.status.success(), "a second seed is refused");
    let s = Served::start(&dir, &[], "warn");
    let t = login(&s, "ht01.cashier", "Demo@2026");
    let (status, me) = s.get("/api/v1/me", t["access_token"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_eq!(me["stores"][0]["code"], "HT01");
    assert!(
        me["display_name"].as_str().unwrap().contains("收银"),
        "{me}"
    );
    s.stop();
}

fn customer_count(db: &str) -> i64 {
    use diesel::prelude::*;
    let pool = dms_db::connect_pool(db, 1).unwrap();
    let mut c = pool.get().unwrap();
    dms_db::schema::customers::table
        .count()
        .get_result(&mut c)
        .unwrap()
}

#[test]
fn backup_while_serving_then_restore() {
    let dir = Dir::new();
    run(dms(&dir).arg("seed-demo"));
    let s = Served::start(&dir, &[], "warn");
    let token = login(&s, "admin", "Demo@2026")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, stores) = s.get("/api/v1/stores", &token);
    let store = stores["items"][0]["id"].clone();
    let before = customer_count(&dir.db());

    let backup = dir.0.join("backups").join("monday.sqlite3");
    let out = run(dms(&dir).arg("backup").arg(&backup));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written"));
    let (status, _) = s.post(
        "/api/v1/customers",
        Some(&token),
        json!({"store_id": store, "name": "备份后", "phone": "13999999999"}),
    );
    assert_eq!(status, 201);
    s.stop();
    assert_eq!(customer_count(&dir.db()), before + 1);

    let out = run(dms(&dir).arg("restore").arg(&backup));
    assert!(String::from_utf8_lossy(&out.stdout).contains("previous database kept"));
    assert_eq!(
        customer_count(&dir.db()),
        before,
        "the database is the Monday copy"
    );
    let s = Served::start(&dir, &[], "warn");
    login(&s, "admin", "Demo@2026");
    s.stop();

    // A file that is not a database is refused and the live database is untouched.
    let junk = dir.0.join("junk.sqlite3");
    std::fs::write(&junk, b"not a database").unwrap();
    assert!(!dms(&dir)
        .arg("restore")
        .arg(&junk)
        .status()
        .unwrap()
        .success());
    assert_eq!(customer_count(&dir.db()), before);
}

#[test]
fn postgres_backup_points_to_pg_dump_and_bad_urls_are_refused() {
    let dir = Dir::new();
    let out = dms(&dir)
        .env("DMS_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .arg("backup")
        .arg(dir.0.join("x.dump"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));

    let out = dms(&dir)
        .env("DMS_DATABASE_URL", "postgress://typo@127.0.0.1/db")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a mistyped scheme does not become a file"
    );
    assert!(!Path::new(&dir.0.join("postgress:")).exists());
}

#[test]
fn serve_refuses_to_start_without_a_secret() {
    let dir = Dir::new();
    let out = dms(&dir)
        .env_remove("DMS_JWT_SECRET")
        .env("DMS_LISTEN", format!("127.0.0.1:{}", free_port()))
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("jwt_secret"),
        "{out:?}"
    );
}
