//! The whole kiosk flow against real peers: a real `dms serve` (SQLite, a store, its staff and a
//! member made through the API), pcscd with
//! Debian's vpcd and the virtual Mifare card from `dms-test-kit`, the loopback ESC/POS printer,
//! and `dms-kiosk run` driven through its screens in tmux (`send-keys`, `capture-pane`).
//!
//! 1. Pairing with the manager's code, a tap, the member summary, a wrong PIN, the right PIN,
//!    the payment; the receipt text checked at the printer, the balance through the API.
//! 2. The API lost mid-payment: a wire-level proxy lets the request through but drops the
//!    answers, the server is then killed and restarted; the kiosk shows 待确认, its journal
//!    learns the outcome from the restarted server, nothing is paid twice and the receipt
//!    prints once.
//!
//! Needs pcscd, vsmartcard-vpcd, socat, unshare and root (as `pcsc_vpcd.rs`), tmux, and the
//! `dms` binary built next to this test (`cargo test --workspace` builds it). Skips when a piece
//! is missing, unless `DMS_REQUIRE_DEVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dms_test_kit::escpos::{PeerMode, PrinterPeer};
use dms_test_kit::mifare::MifareClassic1k;
use dms_test_kit::pcscd::{devices_available, Pcscd};
use dms_test_kit::vpcd::CardLink;
use serde_json::{json, Value};

const KIOSK: &str = env!("CARGO_BIN_EXE_dms-kiosk");
const UID: [u8; 4] = [0x04, 0xA2, 0x3B, 0x91];
const PIN: &str = "246810";
const PASSWORD: &str = "Kiosk@2026pw";

fn dms_binary() -> Option<PathBuf> {
    // target/debug/deps/kiosk_flow-… → target/debug/dms
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("dms");
    p.is_file().then_some(p)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
}

/// `dms` with the test's configuration.
fn dms_command(dms: &Path, dir: &Path) -> Command {
    let mut c = Command::new(dms);
    c.current_dir(dir)
        .env("DMS_DATABASE_URL", dir.join("dms.sqlite3"))
        .env(
            "DMS_JWT_SECRET",
            "kiosk-flow-secret-0123456789abcdef0123456789",
        )
        .env("DMS_PIN_PEPPER", "kiosk-flow-pin-pepper-0123")
        .env("DMS_CODE_PEPPER", "kiosk-flow-code-pepper-0123")
        .env("DMS_WEB_ROOT", dir.join("no-web"))
        .env("DMS_SMS_OUTBOX_FILE", dir.join("sms.jsonl"))
        .env("RUST_LOG", "warn");
    c
}

impl Server {
    fn start(dms: &Path, dir: &Path, port: u16) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = Command::new(dms)
            .args(["serve"])
            .current_dir(dir)
            .env("DMS_DATABASE_URL", dir.join("dms.sqlite3"))
            .env("DMS_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "DMS_JWT_SECRET",
                "kiosk-flow-secret-0123456789abcdef0123456789",
            )
            .env("DMS_PIN_PEPPER", "kiosk-flow-pin-pepper-0123")
            .env("DMS_CODE_PEPPER", "kiosk-flow-code-pepper-0123")
            .env("DMS_WEB_ROOT", dir.join("no-web"))
            .env("DMS_SMS_OUTBOX_FILE", dir.join("sms.jsonl"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // Dropped (and so killed) if it never answers.
        let server = Server { child };
        let started = Instant::now();
        let mut server = server;
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "dms serve exited ({status}):\n{}",
                    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
                );
            }
            if ureq::get(&format!("http://127.0.0.1:{port}/healthz"))
                .call()
                .is_ok()
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "dms serve did not start:\n{}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay between the kiosk and the server that can swallow the server's answers: the
/// request reaches the server (and is done), the kiosk never hears back.
struct Relay {
    port: u16,
    drop_answers: Arc<AtomicBool>,
    /// Requests are lost on the way instead: the server never sees them.
    drop_requests: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let drop_answers = Arc::new(AtomicBool::new(false));
        let drop_requests = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&drop_answers);
        let req_flag = Arc::clone(&drop_requests);
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    drop(client);
                    continue;
                };
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let req_flag = Arc::clone(&req_flag);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if req_flag.load(Ordering::SeqCst) {
                                    let _ = c_in.shutdown(std::net::Shutdown::Both);
                                    break;
                                }
                                if s_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Write);
                });
                let flag = Arc::clone(&flag);
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match s_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if flag.load(Ordering::SeqCst) {
                                    // The answer is lost on the way: close on the kiosk.
                                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                                    break;
                                }
                                if c_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Relay {
            port,
            drop_answers,
            drop_requests,
        }
    }
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-u", "-L", &self.socket]);
        c
    }

    fn start(socket: &str, command: &str) -> Tmux {
        let t = Tmux {
            socket: socket.into(),
        };
        let ok = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "kiosk",
                "-x",
                "100",
                "-y",
                "30",
                command,
            ])
            .env("LANG", "C.UTF-8")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session");
        t
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = self
                .cmd()
                .args(["send-keys", "-t", "kiosk", k])
                .status()
                .unwrap()
                .success();
            assert!(ok, "send-keys {k}");
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "kiosk"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            if started.elapsed() > limit {
                panic!("screen never showed {needle:?}; it shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

struct Api {
    base: String,
    token: String,
}

impl Api {
    fn login(base: &str, user: &str) -> Api {
        let r: Value = ureq::post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": user, "password": PASSWORD}))
            .unwrap()
            .into_json()
            .unwrap();
        Api {
            base: base.into(),
            token: r["access_token"].as_str().unwrap().into(),
        }
    }

    fn req(&self, method: &str, path: &str) -> ureq::Request {
        ureq::request(method, &format!("{}/api/v1{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
    }

    fn get(&self, path: &str) -> Value {
        self.req("GET", path).call().unwrap().into_json().unwrap()
    }

    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        match self
            .req(method, path)
            .set("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
            .send_json(body)
        {
            Ok(r) => r.into_json().unwrap(),
            Err(ureq::Error::Status(s, r)) => {
                panic!("{method} {path}: {s} {}", r.into_string().unwrap())
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
}

fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    let (y, f) = s.split_once('.').unwrap();
    y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

/// Milliseconds between the first log line containing `from` after `after` and the next
/// containing `to`.
fn log_gap(log: &str, from: &str, to: &str, nth: usize) -> Option<i64> {
    let stamp = |l: &str| chrono::DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok();
    let lines: Vec<&str> = log.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(from))
        .map(|(i, _)| i)
        .collect();
    let i = *starts.get(nth)?;
    let t0 = stamp(lines[i])?;
    let j = lines.iter().skip(i).position(|l| l.contains(to))? + i;
    Some((stamp(lines[j])? - t0).num_milliseconds())
}

#[test]
fn kiosk_pays_with_pin_prints_and_survives_a_lost_answer() {
    if !devices_available("kiosk_pays_with_pin_prints_and_survives_a_lost_answer").unwrap() {
        return;
    }
    let require = std::env::var("DMS_REQUIRE_DEVICES").as_deref() == Ok("1");
    let tmux_ok = Command::new("tmux").arg("-V").output().is_ok();
    let dms = dms_binary();
    if !tmux_ok || dms.is_none() {
        let what = if tmux_ok {
            "the dms binary (cargo build -p dms-server)"
        } else {
            "tmux"
        };
        assert!(!require, "{what} is missing and DMS_REQUIRE_DEVICES=1");
        eprintln!("SKIPPED kiosk flow: {what} is missing");
        return;
    }
    let dms = dms.unwrap();
    let dir = std::env::temp_dir().join(format!("dms-kiosk-flow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let pcscd = Pcscd::start().unwrap();
    let port = free_port();
    let server = Server::start(&dms, &dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let relay = Relay::start(port);
    let printer = PrinterPeer::start(PeerMode::Ready).unwrap();

    // The desk's setup, through the API as a group admin would do it: a store, its manager and
    // cashier, a member with a card carrying this chip, a PIN and 1000.00.
    let status = dms_command(&dms, &dir)
        .args([
            "user",
            "create",
            "--username",
            "admin",
            "--role",
            "group_admin",
        ])
        .env("DMS_NEW_USER_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "dms user create");
    let admin = Api::login(&base, "admin");
    let store = admin.send(
        "POST",
        "/stores",
        json!({"code": "HT01", "name": "华通丰田4S店（朝阳）"}),
    );
    let store = store["id"].as_str().unwrap().to_string();
    for (user, role) in [
        ("ht01.manager", "store_manager"),
        ("ht01.cashier", "cashier"),
    ] {
        admin.send(
            "POST",
            "/staff",
            json!({"username": user, "display_name": user, "password": PASSWORD,
                "roles": [{"role": role, "store_id": store}]}),
        );
    }
    let customer = admin.send(
        "POST",
        "/customers",
        json!({"store_id": store, "name": "张伟", "phone": "13800138000"}),
    );
    let cashier = Api::login(&base, "ht01.cashier");
    let joined = cashier.send(
        "POST",
        "/members",
        json!({"customer_id": customer["id"], "store_id": store, "channel": "fee", "fee_paid": "1000.00"}),
    );
    let member = joined["id"].as_str().unwrap().to_string();
    let card = cashier.send(
        "POST",
        "/cards",
        json!({"member_id": member, "chip_uid": hex::encode_upper(UID)}),
    );
    let card_id = card["id"].as_str().unwrap().to_string();
    cashier
        .req("PUT", &format!("/cards/{card_id}/pin"))
        .send_json(json!({ "pin": PIN }))
        .unwrap();
    cashier.send(
        "POST",
        &format!("/cards/{card_id}/top-ups"),
        json!({"amount": "1000.00", "payment_method": "cash"}),
    );
    let balance = |api: &Api| fen(&api.get(&format!("/cards/{card_id}"))["balance"]);
    let start_balance = balance(&cashier);
    let manager = Api::login(&base, "ht01.manager");
    let pairing = manager.send(
        "POST",
        "/devices",
        json!({"store_id": store, "name": "服务前台1号机"}),
    );
    let code = pairing["pairing_code"].as_str().unwrap().to_string();

    let state = dir.join("kiosk");
    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"http://127.0.0.1:{}\"\nstate_dir = \"{}\"\nterminal_name = \"服务前台1号机\"\nresolve_every_secs = 1\nunknown_after_secs = 5\n\
             [reader]\nkind = \"pcsc\"\nname = \"Virtual PCD 00 00\"\n\
             [printer]\nkind = \"network\"\naddress = \"{}\"\ncolumns = 32\n",
            relay.port,
            state.display(),
            printer.addr()
        ),
    )
    .unwrap();
    let command = format!(
        "env PCSCLITE_CSOCK_NAME={} LANG=C.UTF-8 {KIOSK} run {}; sleep 30",
        pcscd.socket().display(),
        config.display()
    );
    let tmux = Tmux::start(&format!("dms-kiosk-test-{}", std::process::id()), &command);
    let wait = Duration::from_secs(20);

    // Pairing at first start; the tokens file is the owner's only.
    tmux.wait_for("配对码", wait);
    tmux.keys(&[&code, "Enter"]);
    tmux.wait_for("请刷卡", wait);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state.join("tokens.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Tap: the summary with the masked name and the balance.
    let tapped = Instant::now();
    let link = CardLink::tap(&pcscd.slot(0), MifareClassic1k::new(UID)).unwrap();
    let s = tmux.wait_for("余额查询", wait);
    let tap_to_screen = tapped.elapsed();
    assert!(s.contains("余额："), "{s}");
    assert!(s.contains('*'), "the name is masked: {s}");

    // Pay 100.00 typed in: wrong PIN first, then the right one.
    tmux.keys(&["2"]);
    tmux.wait_for("付款金额", wait);
    tmux.keys(&["100", "Enter"]);
    tmux.wait_for("应付", wait);
    tmux.keys(&["1"]);
    tmux.wait_for("请输入卡密码", wait);
    tmux.keys(&["111111", "Enter"]);
    let s = tmux.wait_for("密码错误", wait);
    assert!(!s.contains("111111"), "the PIN is never shown: {s}");
    assert_eq!(
        balance(&cashier),
        start_balance,
        "a wrong PIN moves nothing"
    );
    assert!(
        !printer.rendering().contains("会员卡消费凭证"),
        "nothing printed before the server confirmed"
    );
    tmux.keys(&[PIN]);
    let pin_sent = Instant::now();
    tmux.keys(&["Enter"]);
    let receipt = printer.wait_for("[CUT]", wait).expect("a receipt");
    let pin_to_receipt = pin_sent.elapsed();
    let s = tmux.wait_for("支付成功", wait);
    assert!(s.contains("小票已打印"), "{s}");
    assert!(receipt.contains("会员卡消费凭证"), "{receipt}");
    assert!(receipt.contains("自助付款"), "{receipt}");
    let paid = start_balance - balance(&cashier);
    assert!(paid > 0 && paid <= 10_000, "paid {paid} fen once");
    assert!(
        receipt.contains(&format!("{}.{:02}", paid / 100, paid % 100)),
        "the receipt shows what was paid ({paid} fen): {receipt}"
    );
    let after_first = balance(&cashier);
    assert_eq!(receipt.matches("[CUT]").count(), 1);

    // The answer lost on the way, then the server killed and restarted.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    tmux.keys(&["2"]);
    tmux.wait_for("付款金额", wait);
    tmux.keys(&["50", "Enter"]);
    tmux.wait_for("应付", wait);
    tmux.keys(&["1"]);
    tmux.wait_for("请输入卡密码", wait);
    relay.drop_answers.store(true, Ordering::SeqCst);
    tmux.keys(&[PIN, "Enter"]);
    tmux.wait_for("交易结果待确认", Duration::from_secs(40));
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert!(journal.contains("\"pending\""), "{journal}");
    assert!(!journal.contains(PIN), "no PIN in the journal");
    server.kill();
    // The server did take the payment before it died: the restarted one shows it.
    let restarted = Server::start(&dms, &dir, port);
    let cashier = Api::login(&base, "ht01.cashier");
    let after_second = balance(&cashier);
    relay.drop_answers.store(false, Ordering::SeqCst);
    // The kiosk's journal asks the restarted server and learns it was done.
    let s = tmux.wait_for("支付成功", Duration::from_secs(30));
    assert!(s.contains("小票已打印"), "{s}");
    assert_eq!(balance(&cashier), after_second, "resolving moved nothing");
    let paid_second = after_first - after_second;
    assert!(paid_second > 0, "the lost-answer payment happened");
    assert!(paid_second < paid, "50.00 less the member discount, once");
    let rendering = printer.wait_for("会员卡消费凭证", wait).unwrap();
    let receipts = rendering.matches("会员卡消费凭证").count();
    assert_eq!(receipts, 2, "one receipt per payment: {rendering}");
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert_eq!(journal.matches("\"confirmed\"").count(), 2, "{journal}");
    let pairs = journal
        .lines()
        .filter(|l| l.contains("\"pending\""))
        .count();
    assert_eq!(
        pairs, 3,
        "three payments begun (wrong PIN, paid, lost answer): {journal}"
    );

    // A request lost before the server: 待确认, then the journal learns the server never saw it
    // and gives it up; nothing moved.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    tmux.keys(&["2"]);
    tmux.wait_for("付款金额", wait);
    tmux.keys(&["20", "Enter"]);
    tmux.wait_for("应付", wait);
    tmux.keys(&["1"]);
    tmux.wait_for("请输入卡密码", wait);
    relay.drop_requests.store(true, Ordering::SeqCst);
    tmux.keys(&[PIN, "Enter"]);
    tmux.wait_for("交易结果待确认", Duration::from_secs(40));
    relay.drop_requests.store(false, Ordering::SeqCst);
    tmux.wait_for("未到达服务器", Duration::from_secs(30));
    assert_eq!(balance(&cashier), after_second, "nothing moved");
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert!(journal.contains("未到达服务器"), "{journal}");

    // The server gone: a payment is refused, not queued; nothing is journaled.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    restarted.kill();
    tmux.keys(&["2"]);
    tmux.wait_for("服务器：无法连接", wait);
    let s = tmux.screen();
    assert!(
        !s.contains("付款金额"),
        "no payment without the server: {s}"
    );
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert_eq!(
        journal
            .lines()
            .filter(|l| l.contains("\"pending\""))
            .count(),
        4
    );

    // Seen from outside (card link to screen, Enter key to the printer's cut; includes
    // pcscd's polling, tmux and the 120 ms pause after each key).
    eprintln!(
        "MEASURED end-to-end tap-to-summary: {} ms",
        tap_to_screen.as_millis()
    );
    eprintln!(
        "MEASURED end-to-end PIN-to-receipt: {} ms",
        pin_to_receipt.as_millis()
    );
    let log = std::fs::read_to_string(state.join("kiosk.log")).unwrap();
    if let Some(ms) = log_gap(&log, "tap uid", "summary shown", 0) {
        eprintln!("MEASURED tap-to-summary: {ms} ms");
    }
    if let Some(ms) = log_gap(&log, "pin entered", "receipt printed", 1) {
        eprintln!("MEASURED PIN-to-receipt: {ms} ms");
    }
    drop(link);
    drop(tmux);
    drop(pcscd);
    let _ = std::fs::remove_dir_all(&dir);
}
