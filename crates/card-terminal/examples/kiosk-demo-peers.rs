//! The devices of `scripts/kiosk-demo.sh`: sets up a demo store through the API (store, staff, a
//! member with a chip card, a PIN, money and a pending bill), registers a terminal, starts a
//! private pcscd with the vpcd virtual reader and the loopback ESC/POS printer, writes the
//! kiosk's configuration, and then lets a person tap and remove the virtual card by typing
//! `t` / `r`, read the printed receipts with `p`, and play the cashier for the kiosk's top-up
//! requests (待确认充值): `c` confirms the pending one as `demo.cashier` (cash received), `x`
//! cancels it with a reason. The card face the kiosk writes is `DIR/face.json` (`f` shows it).
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

    fn get(&self, path: &str) -> Value {
        match ureq::get(&format!("{}/api/v1{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
        {
            Ok(r) => r.into_json().unwrap_or(Value::Null),
            Err(e) => {
                println!("GET {path}: {e}");
                Value::Null
            }
        }
    }

    /// Like `send`, but a refusal is printed instead of ending the demo.
    fn try_send(&self, method: &str, path: &str, body: Value) -> Option<Value> {
        let r = ureq::request(method, &format!("{}/api/v1{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Idempotency-Key", &uuid::Uuid::new_v4().to_string())
            .send_json(body);
        match r {
            Ok(r) => r.into_json().ok(),
            Err(ureq::Error::Status(s, r)) => {
                println!(
                    "{method} {path}: {s} {}",
                    r.into_string().unwrap_or_default()
                );
                None
            }
            Err(e) => {
                println!("{method} {path}: {e}");
                None
            }
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
    // 50.00 bonus from a 500.00 top-up too (the stock rules start at 1000.00).
    let mut programme = admin.get("/membership/programme")["programme"].clone();
    if let Some(rules) = programme["topup_bonus_rules"].as_array_mut() {
        rules.insert(0, json!({"min_amount": "500.00", "bonus": "50.00"}));
        admin.send(
            "PUT",
            "/membership/programme",
            json!({ "programme": programme }),
        );
    }
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
             [printer]\nkind = \"network\"\naddress = \"{}\"\ncolumns = 32\n\
             [face]\nkind = \"file\"\npath = \"{}\"\n",
            state.display(),
            printer.addr(),
            dir.join("face.json").display()
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
    println!("充值：在终端按 3，输入金额和付款方式；收银员（demo.cashier）在网页「待确认充值」");
    println!("      确认收款，或在这里按 c 代收银员确认、x 代收银员取消。也可以：");
    println!(
        "      curl -X POST {server}/api/v1/top-up-requests/<申请号>/confirm -H 'Authorization: Bearer <demo.cashier 的令牌>' \\"
    );
    println!(
        "        -H \"Idempotency-Key: $(uuidgen)\" -H 'Content-Type: application/json' -d '{{\"payment_method\":\"cash\"}}'"
    );
    println!("命令：t 刷卡   r 移开卡   p 查看小票   c 确认充值   x 取消充值   f 卡面   q 退出");
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
            "c" | "x" => {
                // A fresh login: the demo may have run longer than an access token lives.
                let cashier = Api::login(server, "demo.cashier", password);
                let page = cashier.get("/top-up-requests?status=pending&limit=1");
                let Some(id) = page["items"][0]["id"].as_str() else {
                    println!("没有待确认的充值申请");
                    continue;
                };
                let amount = page["items"][0]["amount"].as_str().unwrap_or("?");
                if line.trim() == "c" {
                    if let Some(r) = cashier.try_send(
                        "POST",
                        &format!("/top-up-requests/{id}/confirm"),
                        json!({"payment_method": "cash"}),
                    ) {
                        println!(
                            "收银员已确认 {amount} 元（赠送 {}），终端将打印充值小票",
                            r["top_up"]["bonus"].as_str().unwrap_or("?")
                        );
                    }
                } else if cashier
                    .try_send(
                        "POST",
                        &format!("/top-up-requests/{id}/cancel"),
                        json!({"reason": "顾客未付款"}),
                    )
                    .is_some()
                {
                    println!("收银员已取消 {amount} 元的充值申请");
                }
            }
            "f" => println!(
                "{}",
                std::fs::read_to_string(dir.join("face.json"))
                    .unwrap_or_else(|_| "（尚未写卡面）".into())
            ),
            "q" => break,
            _ => println!(
                "命令：t 刷卡   r 移开卡   p 查看小票   c 确认充值   x 取消充值   f 卡面   q 退出"
            ),
        }
    }
    drop(link);
    drop(pcscd);
}
