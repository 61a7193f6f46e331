//! The devices of `scripts/kiosk-demo.sh`: sets up a demo store through the API (store, staff, a
//! member with a chip card, a PIN, money and a pending bill), registers a terminal, starts a
//! private pcscd with the vpcd virtual reader and the loopback ESC/POS printer, writes the
//! kiosk's configuration, and then lets a person tap and remove the virtual card by typing
//! `t` / `r`, and read the printed receipts with `p`.
//!
//! `cargo run -p dms-card-terminal --example kiosk-demo-peers -- SERVER_URL DIR ADMIN_PASSWORD`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::PathBuf;

use dms_test_kit::escpos::{PeerMode, PrinterPeer};
use dms_test_kit::mifare::MifareClassic1k;
use dms_test_kit::pcscd::Pcscd;
use dms_test_kit::vpcd::CardLink;
use serde_json::{json, Value};

const UID: [u8; 4] = [0x04, 0xA2, 0x3B, 0x91];
const PIN: &str = "123456";

struct Api {
    base: String,
    token: String,
}

impl Api {
    fn login(base: &str, user: &str, password: &str) -> Api {
        let r: Value = ureq::post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": user, "password": password}))
            .expect("login")
            .into_json()
            .unwrap();
        Api {
            base: base.into(),
            token: r["access_token"].as_str().unwrap().into(),
        }
    }

    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        let r = ureq::request(method, &format!("{}/api/v1{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
            .send_json(body);
        match r {
            Ok(r) => r.into_json().unwrap_or(Value::Null),
            Err(ureq::Error::Status(s, r)) => {
                panic!(
                    "{method} {path}: {s} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, dir, password] = args.as_slice() else {
        eprintln!("usage: kiosk-demo-peers SERVER_URL DIR ADMIN_PASSWORD");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    println!("准备演示数据……");
    let admin = Api::login(server, "admin", password);
    let store = admin.send(
        "POST",
        "/stores",
        json!({"code": "DEMO", "name": "华通丰田4S店（演示）"}),
    );
    let store = store["id"].as_str().unwrap().to_string();
    for (user, role) in [
        ("demo.manager", "store_manager"),
        ("demo.cashier", "cashier"),
    ] {
        admin.send(
            "POST",
            "/staff",
            json!({"username": user, "display_name": user, "password": password,
                "roles": [{"role": role, "store_id": store}]}),
        );
    }
    let customer = admin.send(
        "POST",
        "/customers",
        json!({"store_id": store, "name": "张伟", "phone": "13800138000"}),
    );
    let cashier = Api::login(server, "demo.cashier", password);
    let member = cashier.send(
        "POST",
        "/members",
        json!({"customer_id": customer["id"], "store_id": store, "channel": "fee", "fee_paid": "1000.00"}),
    );
    let card = cashier.send(
        "POST",
        "/cards",
        json!({"member_id": member["id"], "chip_uid": hex::encode_upper(UID)}),
    );
    let card_id = card["id"].as_str().unwrap().to_string();
    cashier.send(
        "PUT",
        &format!("/cards/{card_id}/pin"),
        json!({ "pin": PIN }),
    );
    cashier.send(
        "POST",
        &format!("/cards/{card_id}/top-ups"),
        json!({"amount": "1000.00", "payment_method": "cash"}),
    );
    cashier.send(
        "POST",
        "/bills",
        json!({"store_id": store, "card_id": card_id, "reference": "WO-DEMO-0001",
            "lines": [
                {"category": "labour", "description": "更换机油工时", "quantity": "1", "unit_price": "120.00"},
                {"category": "parts", "description": "机油 5W-30", "quantity": "4", "unit_price": "68.00"}
            ]}),
    );
    let manager = Api::login(server, "demo.manager", password);
    let pairing = manager.send(
        "POST",
        "/devices",
        json!({"store_id": store, "name": "服务前台1号机"}),
    );
    let code = pairing["pairing_code"].as_str().unwrap().to_string();

    println!("启动虚拟读卡器和打印机……");
    let pcscd = Pcscd::start().expect("pcscd with vpcd (run as root; see the README)");
    let printer = PrinterPeer::start(PeerMode::Ready).expect("printer peer");
    let state = dir.join("kiosk");
    std::fs::write(
        dir.join("kiosk.toml"),
        format!(
            "server = \"{server}\"\nstate_dir = \"{}\"\nterminal_name = \"服务前台1号机\"\ntop_up_enabled = true\n\
             [reader]\nkind = \"pcsc\"\nname = \"Virtual PCD 00 00\"\n\
             [printer]\nkind = \"network\"\naddress = \"{}\"\ncolumns = 32\n",
            state.display(),
            printer.addr()
        ),
    )
    .unwrap();
    // The kiosk pane waits for this file: the private pcscd's socket.
    std::fs::write(
        dir.join("pcsc-socket"),
        pcscd.socket().display().to_string(),
    )
    .unwrap();

    println!();
    println!("配对码：{code}    （在上方终端输入，按 Enter）");
    println!("卡密码：{PIN}    待付账单：WO-DEMO-0001");
    println!("命令：t 刷卡   r 移开卡   p 查看打印出的小票   q 退出");
    let mut link: Option<CardLink> = None;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "t" => {
                if link.is_none() {
                    link = Some(CardLink::tap(&pcscd.slot(0), MifareClassic1k::new(UID)).unwrap());
                    println!("已刷卡（UID {}）", hex::encode_upper(UID));
                }
            }
            "r" => {
                if let Some(l) = link.take() {
                    l.remove();
                    println!("卡已移开");
                }
            }
            "p" => println!("{}", printer.rendering()),
            "q" => break,
            _ => println!("命令：t 刷卡   r 移开卡   p 查看小票   q 退出"),
        }
    }
    drop(link);
    drop(pcscd);
}
