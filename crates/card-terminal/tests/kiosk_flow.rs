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
    // DMS_BINARY: another build of the server (a shared target directory may hold another
    // checkout's `dms`).
    if let Some(p) = std::env::var_os("DMS_BINARY").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    // target/debug/deps/kiosk_flow-… → target/debug/dms
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("dms");
    p.is_file().then_some(p)
}

/// The server binary and a fresh working directory, or `None` (the test skipped) when tmux or
/// the binary is missing, which `DMS_REQUIRE_DEVICES=1` turns into a failure.
fn flow_setup(label: &str, dir_name: &str) -> Option<(PathBuf, PathBuf)> {
    let require = std::env::var("DMS_REQUIRE_DEVICES").as_deref() == Ok("1");
    let tmux_ok = Command::new("tmux").arg("-V").output().is_ok();
    let dms = dms_binary();
    let Some(dms) = dms.filter(|_| tmux_ok) else {
        let what = if tmux_ok {
            "the dms binary (cargo build -p dms-server)"
        } else {
            "tmux"
        };
        assert!(!require, "{what} is missing and DMS_REQUIRE_DEVICES=1");
        eprintln!("SKIPPED {label}: {what} is missing");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("{dir_name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some((dms, dir))
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

    /// Kills what runs in the pane and starts `command` there instead (a power cut and a
    /// restart, as the kiosk sees it).
    fn respawn(&self, command: &str) {
        let ok = self
            .cmd()
            .args(["respawn-pane", "-k", "-t", "kiosk", command])
            .env("LANG", "C.UTF-8")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux respawn-pane");
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

/// The desk's setup, through the API as a group admin would do it: a store, its manager and
/// cashier, a member with a card carrying the chip `UID`, a PIN and 1000.00, and a terminal
/// registered by the manager (its pairing code).
struct Desk {
    admin: Api,
    cashier: Api,
    card_id: String,
    code: String,
}

impl Desk {
    fn setup(dms: &Path, dir: &Path, base: &str) -> Desk {
        let status = dms_command(dms, dir)
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
        let admin = Api::login(base, "admin");
        // The group programme gives 50.00 on a 500.00 top-up too (the stock rules start at
        // 1000.00), so the kiosk's top-up has a bonus to show.
        let mut programme = admin.get("/membership/programme")["programme"].clone();
        programme["topup_bonus_rules"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"min_amount": "500.00", "bonus": "50.00"}));
        admin.send(
            "PUT",
            "/membership/programme",
            json!({ "programme": programme }),
        );
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
        let cashier = Api::login(base, "ht01.cashier");
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
        let manager = Api::login(base, "ht01.manager");
        let pairing = manager.send(
            "POST",
            "/devices",
            json!({"store_id": store, "name": "服务前台1号机"}),
        );
        let code = pairing["pairing_code"].as_str().unwrap().to_string();
        Desk {
            admin,
            cashier,
            card_id,
            code,
        }
    }
}

/// The text after `label` on the screen, up to the next blank.
fn screen_value(screen: &str, label: &str) -> String {
    let at = screen
        .find(label)
        .unwrap_or_else(|| panic!("no {label} on the screen:\n{screen}"));
    screen[at + label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Waits until the printer's rendering holds `n` of `needle`.
fn wait_count(printer: &PrinterPeer, needle: &str, n: usize, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let r = printer.rendering();
        if r.matches(needle).count() >= n {
            return r;
        }
        assert!(
            started.elapsed() < limit,
            "the printer never showed {n} × {needle:?}:\n{r}"
        );
        std::thread::sleep(Duration::from_millis(5));
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
    let Some((dms, dir)) = flow_setup("kiosk flow", "dms-kiosk-flow") else {
        return;
    };

    let pcscd = Pcscd::start().unwrap();
    let port = free_port();
    let server = Server::start(&dms, &dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let relay = Relay::start(port);
    let printer = PrinterPeer::start(PeerMode::Ready).unwrap();

    let desk = Desk::setup(&dms, &dir, &base);
    let Desk {
        cashier,
        card_id,
        code,
        ..
    } = desk;
    let balance = |api: &Api| fen(&api.get(&format!("/cards/{card_id}"))["balance"]);
    let start_balance = balance(&cashier);

    let state = dir.join("kiosk");
    let config = dir.join("kiosk.toml");
    let face_file = dir.join("face.json");
    std::fs::write(
        &config,
        format!(
            "server = \"http://127.0.0.1:{}\"\nstate_dir = \"{}\"\nterminal_name = \"服务前台1号机\"\nresolve_every_secs = 1\nunknown_after_secs = 5\n\
             [reader]\nkind = \"pcsc\"\nname = \"Virtual PCD 00 00\"\n\
             [printer]\nkind = \"network\"\naddress = \"{}\"\ncolumns = 32\n\
             [face]\nkind = \"file\"\npath = \"{}\"\n",
            relay.port,
            state.display(),
            printer.addr(),
            face_file.display()
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

    // The card face after the payment: masked, with the balance the server states, the points
    // and the payment as the last transaction.
    let raw_face = std::fs::read_to_string(&face_file).unwrap();
    let face: Value = serde_json::from_str(&raw_face).unwrap();
    let card_now = cashier.get(&format!("/cards/{card_id}"));
    assert_eq!(face["balance"], card_now["balance"], "{face}");
    assert_eq!(face["card_number"], card_now["masked_card_no"], "{face}");
    assert_eq!(face["name"], "张*", "{face}");
    assert!(face["points"].as_i64().is_some(), "{face}");
    let paid_text = format!("{}.{:02}", paid / 100, paid % 100);
    assert!(
        face["lines"].as_array().unwrap().iter().any(|l| {
            let l = l.as_str().unwrap();
            l.starts_with("最近: ") && l.contains("消费") && l.contains(&paid_text)
        }),
        "{face}"
    );
    assert!(!raw_face.contains("张伟"), "the face is masked: {raw_face}");

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

    // Top-up at the desk: the kiosk asks for 500.00 in cash, the cashier confirms over HTTP,
    // the receipt prints only then, and the card grows by the amount and the bonus exactly.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    let before_top_up = balance(&cashier);
    let cuts_before = printer.rendering().matches("[CUT]").count();
    tmux.keys(&["3"]);
    tmux.wait_for("充值金额", wait);
    tmux.keys(&["500.00", "Enter"]);
    tmux.wait_for("请选择付款方式", wait);
    tmux.keys(&["1"]);
    let s = tmux.wait_for("等待收银员确认", wait);
    assert!(s.contains("500.00") && s.contains("现金"), "{s}");
    let request_id = screen_value(&s, "申请号：");
    // Polled for a while: nothing moved, nothing printed.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(balance(&cashier), before_top_up, "the kiosk only asks");
    assert_eq!(printer.rendering().matches("[CUT]").count(), cuts_before);
    tmux.wait_for("等待收银员确认", wait);
    let confirmed_at = Instant::now();
    let confirmed = cashier.send(
        "POST",
        &format!("/top-up-requests/{request_id}/confirm"),
        json!({"payment_method": "cash"}),
    );
    let rendering = wait_count(&printer, "[CUT]", cuts_before + 1, wait);
    let confirm_to_receipt = confirmed_at.elapsed();
    let top_up = if confirmed["top_up"].is_object() {
        confirmed["top_up"].clone()
    } else {
        confirmed.clone()
    };
    let bonus = fen(&top_up["bonus"]);
    assert_eq!(fen(&top_up["paid"]), 50_000, "{confirmed}");
    assert_eq!(bonus, 5_000, "the programme's 500.00 rule: {confirmed}");
    let s = tmux.wait_for("充值成功", wait);
    assert!(s.contains("小票已打印"), "{s}");
    let receipt = &rendering[rendering.rfind("会员卡充值凭证").expect("a top-up receipt")..];
    assert!(receipt.contains("500.00"), "{receipt}");
    assert!(
        receipt.contains("赠送") && receipt.contains("50.00"),
        "{receipt}"
    );
    assert!(receipt.contains(&request_id), "the request id: {receipt}");
    assert!(
        receipt.contains(top_up["principal_after"].as_str().unwrap()),
        "{receipt}"
    );
    assert_eq!(
        balance(&cashier),
        before_top_up + 50_000 + bonus,
        "500.00 and the bonus, once"
    );
    let face: Value = serde_json::from_str(&std::fs::read_to_string(&face_file).unwrap()).unwrap();
    assert_eq!(
        face["balance"],
        cashier.get(&format!("/cards/{card_id}"))["balance"]
    );
    assert!(face.to_string().contains("充值 500.00"), "{face}");

    // A request cancelled at the kiosk moves nothing, prints nothing, and can no longer be
    // confirmed.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    let before_cancel = balance(&cashier);
    let cuts_before = printer.rendering().matches("[CUT]").count();
    tmux.keys(&["3"]);
    tmux.wait_for("充值金额", wait);
    tmux.keys(&["200", "Enter"]);
    tmux.wait_for("请选择付款方式", wait);
    tmux.keys(&["2"]);
    let s = tmux.wait_for("等待收银员确认", wait);
    let cancelled_id = screen_value(&s, "申请号：");
    tmux.keys(&["Escape"]);
    let s = tmux.wait_for("充值已取消", wait);
    assert!(s.contains("未入账"), "{s}");
    let late = cashier
        .req("POST", &format!("/top-up-requests/{cancelled_id}/confirm"))
        .set("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
        .send_json(json!({"payment_method": "bank_card"}));
    assert!(
        matches!(late, Err(ureq::Error::Status(409, _))),
        "a cancelled request cannot be confirmed: {late:?}"
    );
    assert_eq!(balance(&cashier), before_cancel, "nothing moved");
    assert_eq!(printer.rendering().matches("[CUT]").count(), cuts_before);

    // One the cashier refuses: the kiosk shows the reason.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    tmux.keys(&["3"]);
    tmux.wait_for("充值金额", wait);
    tmux.keys(&["300", "Enter"]);
    tmux.wait_for("请选择付款方式", wait);
    tmux.keys(&["1"]);
    let s = tmux.wait_for("等待收银员确认", wait);
    let refused_id = screen_value(&s, "申请号：");
    cashier.send(
        "POST",
        &format!("/top-up-requests/{refused_id}/cancel"),
        json!({"reason": "顾客未付款"}),
    );
    tmux.wait_for("收银员已取消：顾客未付款", wait);
    assert_eq!(balance(&cashier), before_cancel, "nothing moved");
    assert_eq!(printer.rendering().matches("[CUT]").count(), cuts_before);
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"top_up_request\"").count(),
        3,
        "{journal}"
    );
    assert_eq!(journal.matches("\"cancelled\"").count(), 2, "{journal}");

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
            .filter(|l| l.contains("\"pending\"") && l.contains("\"checkout\""))
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
    eprintln!(
        "MEASURED end-to-end top-up confirm-to-receipt: {} ms (the kiosk polls once a second)",
        confirm_to_receipt.as_millis()
    );
    if let Some(ms) = log_gap(&log, "confirmed txn=", "receipt printed", 0) {
        eprintln!("MEASURED top-up seen confirmed-to-receipt: {ms} ms");
    }
    drop(link);
    drop(tmux);
    drop(pcscd);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same kiosk with a keyboard-wedge reader: the test plays the reader by writing real
/// `input_event` records (MSC_SCAN, key, SYN per key, as a USB HID reader emits them) into the
/// FIFO the kiosk reads, typing the chip UID as a "10-digit" reader does (reversed decimal).
/// Tap → summary → a payment with points → the receipt at the printer and the balance and the
/// points through the API.
#[test]
fn kiosk_reads_a_wedge_reader_and_pays_with_points() {
    use dms_card_terminal::reader::wedge::synthesize;

    let Some((dms, dir)) = flow_setup("wedge kiosk flow", "dms-kiosk-wedge") else {
        return;
    };
    let port = free_port();
    let _server = Server::start(&dms, &dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let printer = PrinterPeer::start(PeerMode::Ready).unwrap();
    let Desk {
        admin,
        cashier,
        card_id,
        code,
    } = Desk::setup(&dms, &dir, &base);
    let card = |api: &Api| api.get(&format!("/cards/{card_id}"));
    let member_id = card(&cashier)["member_id"].as_str().unwrap().to_string();
    let points = |api: &Api| {
        let m = api.get(&format!("/members/{member_id}"));
        m["redeemable_points"].as_i64().unwrap()
    };
    // A coupon for the member: 20.00 off.
    let now = chrono::Utc::now();
    let template = admin.send(
        "POST",
        "/coupon-templates",
        json!({"name": "自助立减20元", "kind": "amount_off", "amount": "20.00",
            "valid_from": now - chrono::Duration::days(1),
            "valid_until": now + chrono::Duration::days(30)}),
    );
    let coupon = admin.send(
        "POST",
        "/coupons",
        json!({"template_id": template["id"], "member_id": member_id}),
    );
    let coupon_id = coupon["id"].as_str().unwrap().to_string();

    // The reader's FIFO: the kiosk opens it for reading at start; the writer end is opened
    // here (it blocks until then) and kept for the whole test.
    let fifo = dir.join("wedge-events");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (tx, rx) = std::sync::mpsc::channel();
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        let _ = tx.send(f);
    });

    let state = dir.join("kiosk");
    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"{base}\"\nstate_dir = \"{}\"\nterminal_name = \"服务前台2号机\"\n\
             [reader]\nkind = \"wedge\"\npath = \"{}\"\nmax_key_gap_ms = 50\n\
             [reader.typed]\ntyped_as = \"decimal\"\nuid_len = 4\ntyped_reversed = true\n\
             [printer]\nkind = \"network\"\naddress = \"{}\"\ncolumns = 32\n",
            state.display(),
            fifo.display(),
            printer.addr()
        ),
    )
    .unwrap();
    let command = format!(
        "env LANG=C.UTF-8 {KIOSK} run {}; sleep 30",
        config.display()
    );
    let tmux = Tmux::start(&format!("dms-kiosk-wedge-{}", std::process::id()), &command);
    let wait = Duration::from_secs(20);
    let mut reader = rx
        .recv_timeout(wait)
        .expect("the kiosk opens the wedge FIFO");
    tmux.wait_for("配对码", wait);
    tmux.keys(&[&code, "Enter"]);
    tmux.wait_for("请刷卡", wait);

    // 04 A2 3B 91 typed by a reversed-decimal reader: 0x913BA204 = 2436604420.
    let mut clock = Duration::from_secs(1_764_000_000);
    let mut tap = |w: &mut std::fs::File| {
        clock += Duration::from_secs(30);
        for ev in synthesize("2436604420", clock, Duration::from_millis(8)) {
            w.write_all(&ev.to_bytes()).unwrap();
        }
        w.flush().unwrap();
    };
    let tapped = Instant::now();
    tap(&mut reader);
    let s = tmux.wait_for("余额查询", wait);
    let tap_to_screen = tapped.elapsed();
    assert!(s.contains("张*"), "{s}");
    let start_balance = fen(&card(&cashier)["balance"]);

    // A first payment earns points.
    tmux.keys(&["2"]);
    tmux.wait_for("付款金额", wait);
    tmux.keys(&["300", "Enter"]);
    tmux.wait_for("应付", wait);
    tmux.keys(&["1"]);
    tmux.wait_for("请输入卡密码", wait);
    tmux.keys(&[PIN]);
    let pin_sent = Instant::now();
    tmux.keys(&["Enter"]);
    wait_count(&printer, "[CUT]", 1, wait);
    let pin_to_receipt = pin_sent.elapsed();
    tmux.wait_for("支付成功", wait);
    let after_first = fen(&card(&cashier)["balance"]);
    assert!(after_first < start_balance);
    let earned = points(&cashier);
    assert!(earned > 0, "the payment earned points");

    // The card removed and tapped again: a fresh summary with the points.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    tmux.keys(&["Escape"]);
    tmux.wait_for("请刷卡", wait);
    tap(&mut reader);
    let s = tmux.wait_for("余额查询", wait);
    assert!(s.contains(&format!("积分：{earned}")), "{s}");

    // Pay 100.00 with the coupon and some of the points: each re-priced by the server's quote
    // before the PIN, and the card pays the rest.
    let use_points = earned.min(50);
    tmux.keys(&["2"]);
    tmux.wait_for("付款金额", wait);
    tmux.keys(&["100", "Enter"]);
    let s = tmux.wait_for("应付", wait);
    let before_coupon = screen_value(&s, "应付：");
    tmux.keys(&["3"]);
    tmux.wait_for("选择优惠券", wait);
    tmux.keys(&["1"]);
    tmux.wait_for("[√] 自助立减20元", wait);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("已用优惠券：自助立减20元 -20.00", wait);
    assert_eq!(
        fen(&Value::String(before_coupon.clone()))
            - fen(&Value::String(screen_value(&s, "应付："))),
        2_000,
        "the coupon takes 20.00 off: {s}"
    );
    tmux.keys(&["4"]);
    tmux.wait_for("使用积分", wait);
    tmux.keys(&[&use_points.to_string(), "Enter"]);
    let s = tmux.wait_for("积分抵扣：", wait);
    assert!(s.contains(&format!("积分抵扣：{use_points} 分")), "{s}");
    let card_pays = screen_value(&s, "卡内支付：");
    let earned_now: i64 = screen_value(&s, "本次可得积分：").parse().unwrap();
    tmux.keys(&["1"]);
    let s = tmux.wait_for("请输入卡密码", wait);
    assert!(s.contains(&card_pays), "{s}");
    tmux.keys(&[PIN, "Enter"]);
    let rendering = wait_count(&printer, "[CUT]", 2, wait);
    tmux.wait_for("支付成功", wait);
    let receipt = &rendering[rendering.rfind("会员卡消费凭证").unwrap()..];
    assert!(
        receipt.contains(&format!("积分抵扣 {use_points} 分")),
        "{receipt}"
    );
    assert!(receipt.contains("优惠券 自助立减20元 -20.00"), "{receipt}");
    let coupons = cashier.get(&format!("/members/{member_id}/coupons"));
    let used = coupons["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == coupon_id.as_str())
        .unwrap_or_else(|| panic!("{coupons}"))["status"]
        .clone();
    assert_eq!(used, "used", "{coupons}");
    let after_second = fen(&card(&cashier)["balance"]);
    assert_eq!(
        after_first - after_second,
        fen(&Value::String(card_pays.clone())),
        "the card paid what the screen said"
    );
    assert_eq!(
        points(&cashier),
        earned - use_points + earned_now,
        "the points spent, and those earned on the rest"
    );

    // A top-up asked, then the kiosk restarts while it waits for the cashier: the journal keeps
    // the request; the member taps again and asks again, the kiosk waits on the same request,
    // the cashier confirms, one receipt, the card credited once.
    tmux.keys(&["Enter"]);
    tmux.wait_for("余额查询", wait);
    let before_top_up = fen(&card(&cashier)["balance"]);
    tmux.keys(&["3"]);
    tmux.wait_for("充值金额", wait);
    tmux.keys(&["500", "Enter"]);
    tmux.wait_for("请选择付款方式", wait);
    tmux.keys(&["1"]);
    let s = tmux.wait_for("等待收银员确认", wait);
    let request_id = screen_value(&s, "申请号：");
    tmux.respawn(&command);
    tmux.wait_for("请刷卡", wait);
    tap(&mut reader);
    tmux.wait_for("余额查询", wait);
    tmux.keys(&["3"]);
    tmux.wait_for("充值金额", wait);
    tmux.keys(&["500", "Enter"]);
    tmux.wait_for("请选择付款方式", wait);
    tmux.keys(&["1"]);
    let s = tmux.wait_for("继续等待收银员确认", wait);
    assert_eq!(
        screen_value(&s, "申请号："),
        request_id,
        "the same request: {s}"
    );
    cashier.send(
        "POST",
        &format!("/top-up-requests/{request_id}/confirm"),
        json!({"payment_method": "cash"}),
    );
    let rendering = wait_count(&printer, "[CUT]", 3, wait);
    tmux.wait_for("充值成功", wait);
    assert_eq!(
        rendering.matches("会员卡充值凭证").count(),
        1,
        "{rendering}"
    );
    assert_eq!(
        fen(&card(&cashier)["balance"]),
        before_top_up + 55_000,
        "500.00 and the 50.00 bonus, once"
    );
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    let original = journal
        .lines()
        .find(|l| l.contains(&format!("request:{request_id}")))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("{journal}"));
    let key = original["key"].as_str().unwrap();
    assert!(
        journal
            .lines()
            .any(|l| l.contains(key) && l.contains("\"confirmed\"")),
        "the request's first journal entry is the one confirmed: {journal}"
    );

    eprintln!(
        "MEASURED wedge end-to-end tap-to-summary: {} ms",
        tap_to_screen.as_millis()
    );
    eprintln!(
        "MEASURED wedge end-to-end PIN-to-receipt: {} ms",
        pin_to_receipt.as_millis()
    );
    let log = std::fs::read_to_string(state.join("kiosk.log")).unwrap();
    if let Some(ms) = log_gap(&log, "tap uid", "summary shown", 0) {
        eprintln!("MEASURED wedge tap-to-summary: {ms} ms");
    }
    if let Some(ms) = log_gap(&log, "pin entered", "receipt printed", 0) {
        eprintln!("MEASURED wedge PIN-to-receipt: {ms} ms");
    }
    drop(tmux);
    drop(reader);
    let _ = std::fs::remove_dir_all(&dir);
}
