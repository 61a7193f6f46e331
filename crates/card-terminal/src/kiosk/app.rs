//! The kiosk's screens and flows, in Simplified Chinese, driven by keys and card taps.
//!
//! Safety rules kept here: a money request is written to the journal (fsynced) before it is
//! sent and is retried only with the same key; when the server cannot be reached nothing is
//! queued (the payment is refused); when the answer is lost the outcome is shown as 待确认
//! until the journal learns it from the server; the receipt prints only after the server
//! confirmed; the PIN lives only in the PIN screen and the one request body that carries it.

use std::time::{Duration, Instant};

use chrono::Utc;
use dms_api_types::devices::{BillDto, KioskSummaryDto, PayBillRequest, RequestOutcomeDto};
use dms_api_types::membership::{
    BasketLineDto, Category, CheckoutRequest, PaymentMethod, PricedBasketDto, QuoteRequest,
    ReceiptDto, TenderDto, TenderKind, TopUpDto, TopUpRequest,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::api::{Api, ApiError};
use super::config::KioskConfig;
use crate::journal::{EntryState, Journal, NewRequest, RequestKind};
use crate::pin::PinEntry;
use crate::printer::{PrinterStatus, Receipt, ReceiptLine, ReceiptPrinter};

/// A card on the reader, as the server knows it.
#[derive(Clone)]
pub struct Session {
    pub uid: String,
    pub summary: KioskSummaryDto,
}

/// What is being paid.
#[derive(Clone)]
pub enum Payment {
    Bill { bill: Box<BillDto> },
    Basket { amount: Decimal },
}

#[derive(Clone)]
pub struct Quoted {
    pub payment: Payment,
    pub quote: PricedBasketDto,
    pub tender: TenderKind,
}

pub enum Screen {
    Pairing {
        input: String,
    },
    Idle {
        typed: String,
    },
    Summary,
    Balance,
    ChooseBill {
        bills: Vec<BillDto>,
    },
    Amount {
        top_up: bool,
        input: String,
    },
    TopUpMethod {
        amount: Decimal,
    },
    Confirm {
        quoted: Quoted,
    },
    Pin {
        quoted: Quoted,
        entry: PinEntry,
    },
    /// An answer was lost: waiting for the journal to learn the outcome.
    Pending {
        key: Uuid,
    },
    Done {
        ok: bool,
        lines: Vec<String>,
    },
}

pub struct App {
    pub cfg: KioskConfig,
    pub api: Api,
    pub journal: Journal,
    pub printer: Option<Box<dyn ReceiptPrinter>>,
    pub screen: Screen,
    pub session: Option<Session>,
    /// One line under the screen: what just went wrong or right.
    pub notice: Option<String>,
    pub printer_status: String,
    pub server_ok: bool,
    last_store_name: String,
    last_resolve: Option<Instant>,
    pub quit: bool,
}

fn money(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// The member's problem, in words for the member.
pub fn explain(e: &ApiError) -> String {
    match e {
        ApiError::Unreachable(_) => "无法连接服务器，未扣款。请到前台办理。".into(),
        ApiError::Unknown(_) => "服务器未应答，结果待确认。".into(),
        ApiError::NotPaired => "终端未配对或已被停用，请联系店长重新配对。".into(),
        ApiError::Decode(_) => "服务器应答异常，请联系前台。".into(),
        ApiError::Problem { code, title, .. } => match code.as_str() {
            "wrong_pin" => {
                let left = title
                    .split(';')
                    .nth(1)
                    .and_then(|t| t.split_whitespace().next())
                    .unwrap_or("?");
                format!("密码错误，还可尝试 {left} 次。")
            }
            "pin_locked" => "密码已锁定，请到前台处理。".into(),
            "pin_not_set" => "此卡尚未设置密码，请到前台设置。".into(),
            "insufficient_balance" => "卡内余额不足。".into(),
            "insufficient_points" => "积分不足。".into(),
            "card_lost" => "此卡已挂失，不能使用。".into(),
            "card_frozen" => "此卡已冻结，不能使用。".into(),
            "card_closed" => "此卡已注销，不能使用。".into(),
            "card_expired" => "此卡已过期。".into(),
            "card_uid_mismatch" => "卡号与芯片不符，请到前台核验。".into(),
            "not_found" => "未找到此卡，请到前台办理。".into(),
            "conflict" => "账单已支付或已取消。".into(),
            _ => format!("操作未完成（{code}）。"),
        },
    }
}

impl App {
    pub fn new(
        cfg: KioskConfig,
        api: Api,
        journal: Journal,
        printer: Option<Box<dyn ReceiptPrinter>>,
    ) -> App {
        let screen = if api.device().is_some() {
            Screen::Idle {
                typed: String::new(),
            }
        } else {
            Screen::Pairing {
                input: String::new(),
            }
        };
        let name = cfg.terminal_name.clone();
        let mut app = App {
            cfg,
            api,
            journal,
            printer,
            screen,
            session: None,
            notice: None,
            printer_status: "未配置".into(),
            server_ok: true,
            last_store_name: name,
            last_resolve: None,
            quit: false,
        };
        app.check_printer();
        app
    }

    pub fn check_printer(&mut self) {
        self.printer_status = match self.printer.as_mut().map(|p| p.status()) {
            None => "未配置".into(),
            Some(Ok(PrinterStatus::Ready)) => "正常".into(),
            Some(Ok(PrinterStatus::PaperOut)) => "缺纸".into(),
            Some(Ok(PrinterStatus::Offline(_))) => "离线".into(),
            Some(Err(e)) => format!("故障（{e}）"),
        };
    }

    fn pending_count(&self) -> usize {
        self.journal.pending().len()
    }

    // ------------------------------------------------------------------ card events

    /// A card was read: `uid` in the server's form, `number` when the reader also read the
    /// printed number.
    pub fn tap(&mut self, uid: &str, number: Option<&str>) {
        if matches!(
            self.screen,
            Screen::Pairing { .. } | Screen::Pin { .. } | Screen::Pending { .. }
        ) {
            return;
        }
        log::info!("tap uid=…{}", &uid[uid.len().saturating_sub(4)..]);
        self.notice = None;
        if let Some(n) = number {
            if let Err(e) = self.api.lookup_number(uid, n) {
                self.fail_to_idle(&e);
                return;
            }
        }
        match self.api.summary(uid) {
            Ok(s) => {
                self.server_ok = true;
                self.last_store_name = s.store_name.clone();
                self.session = Some(Session {
                    uid: uid.to_string(),
                    summary: s,
                });
                self.screen = Screen::Summary;
                log::info!("summary shown");
            }
            Err(e) => self.fail_to_idle(&e),
        }
    }

    pub fn removed(&mut self) {
        if matches!(self.screen, Screen::Summary | Screen::Balance) {
            self.back_to_idle();
        }
    }

    fn back_to_idle(&mut self) {
        self.session = None;
        self.screen = Screen::Idle {
            typed: String::new(),
        };
    }

    fn fail_to_idle(&mut self, e: &ApiError) {
        log::warn!("request refused: {e}");
        self.server_ok = !matches!(e, ApiError::Unreachable(_));
        self.notice = Some(explain(e));
        if matches!(e, ApiError::NotPaired) {
            self.screen = Screen::Pairing {
                input: String::new(),
            };
            return;
        }
        self.back_to_idle();
    }

    fn refresh_summary(&mut self) {
        let Some(s) = self.session.clone() else {
            return;
        };
        match self.api.summary(&s.uid) {
            Ok(sum) => {
                self.session = Some(Session {
                    uid: s.uid,
                    summary: sum,
                })
            }
            Err(e) => self.notice = Some(explain(&e)),
        }
    }

    // ------------------------------------------------------------------ keys

    /// Returns a typed card UID on the idle screen (stdin reader), for the caller to tap.
    pub fn key(&mut self, k: KeyEvent) -> Option<String> {
        if k.kind == KeyEventKind::Release {
            return None;
        }
        // A notice answers the last key; the next key starts afresh.
        self.notice = None;
        let screen = std::mem::replace(
            &mut self.screen,
            Screen::Idle {
                typed: String::new(),
            },
        );
        let mut typed_uid = None;
        self.screen = match (screen, k.code) {
            (Screen::Pairing { mut input }, code) => match code {
                KeyCode::Char(c) if c.is_ascii_digit() && input.len() < 12 => {
                    input.push(c);
                    Screen::Pairing { input }
                }
                KeyCode::Backspace => {
                    input.pop();
                    Screen::Pairing { input }
                }
                KeyCode::Enter => match self.api.pair(&input) {
                    Ok(d) => {
                        log::info!("paired as device {}", d.id);
                        self.notice = Some(format!("配对成功：{}", d.name));
                        Screen::Idle {
                            typed: String::new(),
                        }
                    }
                    Err(e) => {
                        self.notice = Some(match e {
                            ApiError::Problem { status: 401, .. } => {
                                "配对码无效或已过期。".to_string()
                            }
                            other => explain(&other),
                        });
                        Screen::Pairing {
                            input: String::new(),
                        }
                    }
                },
                _ => Screen::Pairing { input },
            },
            (Screen::Idle { mut typed }, code) => match code {
                KeyCode::Char(c) if c.is_ascii_hexdigit() && typed.len() < 24 => {
                    typed.push(c);
                    Screen::Idle { typed }
                }
                KeyCode::Backspace => {
                    typed.pop();
                    Screen::Idle { typed }
                }
                KeyCode::Enter if !typed.is_empty() => {
                    typed_uid = Some(typed);
                    Screen::Idle {
                        typed: String::new(),
                    }
                }
                _ => Screen::Idle { typed },
            },
            (Screen::Summary, code) => match code {
                KeyCode::Char('1') => {
                    self.refresh_summary();
                    Screen::Balance
                }
                KeyCode::Char('2') => self.start_payment(),
                KeyCode::Char('3') if self.cfg.top_up_enabled => Screen::Amount {
                    top_up: true,
                    input: String::new(),
                },
                KeyCode::Char('3') => {
                    self.notice = Some("充值请到前台办理。".into());
                    Screen::Summary
                }
                KeyCode::Char('4') => self.reprint(),
                KeyCode::Esc => {
                    self.session = None;
                    Screen::Idle {
                        typed: String::new(),
                    }
                }
                _ => Screen::Summary,
            },
            (Screen::Balance, KeyCode::Esc | KeyCode::Enter) => Screen::Summary,
            (Screen::Balance, _) => Screen::Balance,
            (Screen::ChooseBill { bills }, code) => match code {
                KeyCode::Char('0') => Screen::Amount {
                    top_up: false,
                    input: String::new(),
                },
                KeyCode::Char(c) if c.is_ascii_digit() => {
                    let i = c.to_digit(10).unwrap_or(0) as usize;
                    match bills.get(i.wrapping_sub(1)).cloned() {
                        Some(bill) => self.quote(Payment::Bill {
                            bill: Box::new(bill),
                        }),
                        None => Screen::ChooseBill { bills },
                    }
                }
                KeyCode::Esc => Screen::Summary,
                _ => Screen::ChooseBill { bills },
            },
            (Screen::Amount { top_up, mut input }, code) => match code {
                KeyCode::Char(c) if (c.is_ascii_digit() || c == '.') && input.len() < 10 => {
                    input.push(c);
                    Screen::Amount { top_up, input }
                }
                KeyCode::Backspace => {
                    input.pop();
                    Screen::Amount { top_up, input }
                }
                KeyCode::Enter => match input.parse::<Decimal>() {
                    Ok(a) if a > Decimal::ZERO && a.scale() <= 2 => {
                        if top_up {
                            Screen::TopUpMethod { amount: a }
                        } else {
                            self.quote(Payment::Basket { amount: a })
                        }
                    }
                    _ => {
                        self.notice = Some("请输入正确的金额（最多两位小数）。".into());
                        Screen::Amount {
                            top_up,
                            input: String::new(),
                        }
                    }
                },
                KeyCode::Esc => Screen::Summary,
                _ => Screen::Amount { top_up, input },
            },
            (Screen::TopUpMethod { amount }, code) => match code {
                KeyCode::Char('1') => self.top_up(amount, PaymentMethod::Cash),
                KeyCode::Char('2') => self.top_up(amount, PaymentMethod::BankCard),
                KeyCode::Esc => Screen::Summary,
                _ => Screen::TopUpMethod { amount },
            },
            (Screen::Confirm { mut quoted }, code) => match code {
                KeyCode::Char('1') | KeyCode::Char('2') => {
                    quoted.tender = if k.code == KeyCode::Char('1') {
                        TenderKind::StoredValue
                    } else {
                        TenderKind::Bonus
                    };
                    Screen::Pin {
                        quoted,
                        entry: PinEntry::new(),
                    }
                }
                KeyCode::Esc => Screen::Summary,
                _ => Screen::Confirm { quoted },
            },
            (Screen::Pin { quoted, mut entry }, code) => match code {
                KeyCode::Char(c) if c.is_ascii_digit() => {
                    entry.push(c);
                    Screen::Pin { quoted, entry }
                }
                KeyCode::Backspace => {
                    entry.backspace();
                    Screen::Pin { quoted, entry }
                }
                KeyCode::Enter => match entry.finish() {
                    Ok(pin) => {
                        log::info!("pin entered");
                        let next = self.pay(&quoted, pin.expose());
                        drop(pin);
                        next
                    }
                    Err(_) => {
                        self.notice = Some("密码为6位数字。".into());
                        Screen::Pin {
                            quoted,
                            entry: PinEntry::new(),
                        }
                    }
                },
                KeyCode::Esc => Screen::Summary,
                _ => Screen::Pin { quoted, entry },
            },
            (Screen::Pending { key }, _) => Screen::Pending { key },
            (Screen::Done { .. }, KeyCode::Esc | KeyCode::Enter) => {
                if self.session.is_some() {
                    self.refresh_summary();
                    Screen::Summary
                } else {
                    Screen::Idle {
                        typed: String::new(),
                    }
                }
            }
            (s @ Screen::Done { .. }, _) => s,
        };
        typed_uid
    }

    // ------------------------------------------------------------------ flows

    fn start_payment(&mut self) -> Screen {
        if self.pending_count() > 0 {
            self.notice = Some("有待确认的交易，请稍候再付款。".into());
            return Screen::Summary;
        }
        let Some(s) = self.session.clone() else {
            return Screen::Idle {
                typed: String::new(),
            };
        };
        match self.api.bills(&s.summary.card.id) {
            Ok(page) if !page.items.is_empty() => Screen::ChooseBill { bills: page.items },
            Ok(_) => Screen::Amount {
                top_up: false,
                input: String::new(),
            },
            Err(e) => {
                // Nothing is queued: without the server there is no payment.
                self.server_ok = !matches!(e, ApiError::Unreachable(_) | ApiError::Unknown(_));
                self.notice = Some(explain(&e));
                Screen::Summary
            }
        }
    }

    fn lines_of(payment: &Payment) -> Vec<BasketLineDto> {
        match payment {
            Payment::Bill { bill } => bill.lines.clone(),
            Payment::Basket { amount } => vec![BasketLineDto {
                category: Category::Other,
                item_code: None,
                description: "自助付款".into(),
                quantity: "1".into(),
                unit_price: format!("{amount:.2}"),
                insurer_paid: false,
            }],
        }
    }

    fn quote(&mut self, payment: Payment) -> Screen {
        let Some(s) = self.session.clone() else {
            return Screen::Summary;
        };
        let q = QuoteRequest {
            card_id: s.summary.card.id.clone(),
            store_id: s.summary.card.store_id.clone(),
            lines: Self::lines_of(&payment),
            coupon_ids: vec![],
            redeem_points: 0,
            discount_override: None,
        };
        match self.api.quote(&s.uid, &q) {
            Ok(quote) => Screen::Confirm {
                quoted: Quoted {
                    payment,
                    quote,
                    tender: TenderKind::StoredValue,
                },
            },
            Err(e) => {
                self.notice = Some(explain(&e));
                Screen::Summary
            }
        }
    }

    /// Journal, send (retrying only with the same key while the PIN is still in this screen),
    /// then confirm and print, or fail, or leave pending.
    fn pay(&mut self, quoted: &Quoted, pin: &str) -> Screen {
        let Some(s) = self.session.clone() else {
            return Screen::Summary;
        };
        let Some(device_id) = self.api.device().map(|d| d.id.clone()) else {
            return Screen::Pairing {
                input: String::new(),
            };
        };
        let amount = money(&quoted.quote.member_pays);
        let reference = match &quoted.payment {
            Payment::Bill { bill } => Some(format!("bill:{}", bill.id)),
            Payment::Basket { .. } => None,
        };
        let entry = match self.journal.begin(NewRequest {
            kind: RequestKind::Checkout,
            card_number: s.summary.card.masked_card_no.clone(),
            amount,
            reference,
        }) {
            Ok(e) => e,
            Err(e) => {
                log::error!("journal: {e}");
                self.notice = Some("本地日志无法写入，未发送付款。请联系前台。".into());
                return Screen::Summary;
            }
        };
        let key = entry.key.to_string();
        let tenders = vec![TenderDto {
            kind: quoted.tender,
            amount: format!("{amount:.2}"),
        }];
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let r = match &quoted.payment {
                Payment::Bill { bill } => self.api.pay_bill(
                    &s.uid,
                    &key,
                    &bill.id,
                    &PayBillRequest {
                        card_id: s.summary.card.id.clone(),
                        terminal_id: Some(device_id.clone()),
                        coupon_ids: vec![],
                        redeem_points: 0,
                        tenders: tenders.clone(),
                        pin: Some(pin.to_string()),
                    },
                ),
                Payment::Basket { .. } => self.api.checkout(
                    &s.uid,
                    &key,
                    &CheckoutRequest {
                        card_id: s.summary.card.id.clone(),
                        store_id: s.summary.card.store_id.clone(),
                        terminal_id: Some(device_id.clone()),
                        lines: Self::lines_of(&quoted.payment),
                        coupon_ids: vec![],
                        redeem_points: 0,
                        tenders: tenders.clone(),
                        discount_override: None,
                        pin: Some(pin.to_string()),
                    },
                ),
            };
            match r {
                Err(ApiError::Unknown(e)) if attempt < 3 => {
                    log::warn!("payment {key}: no answer ({e}); retrying with the same key");
                    std::thread::sleep(Duration::from_millis(500 * attempt));
                }
                other => break other,
            }
        };
        match outcome {
            Ok(receipt) => {
                self.server_ok = true;
                self.confirmed_checkout(entry.key, &receipt)
            }
            Err(ApiError::Unknown(e)) => {
                self.server_ok = false;
                log::warn!("payment {key}: outcome unknown ({e}); pending in the journal");
                Screen::Pending { key: entry.key }
            }
            Err(e) => {
                let _ = self.journal.fail(entry.key, e.code().unwrap_or("not sent"));
                log::info!("payment {key}: refused: {e}");
                self.server_ok = !matches!(e, ApiError::Unreachable(_));
                if e.code() == Some("wrong_pin") {
                    self.notice = Some(explain(&e));
                    return Screen::Pin {
                        quoted: quoted.clone(),
                        entry: PinEntry::new(),
                    };
                }
                Screen::Done {
                    ok: false,
                    lines: vec!["付款未完成".into(), explain(&e)],
                }
            }
        }
    }

    fn top_up(&mut self, amount: Decimal, method: PaymentMethod) -> Screen {
        let Some(s) = self.session.clone() else {
            return Screen::Summary;
        };
        let device_id = self.api.device().map(|d| d.id.clone());
        let entry = match self.journal.begin(NewRequest {
            kind: RequestKind::TopUp,
            card_number: s.summary.card.masked_card_no.clone(),
            amount,
            reference: None,
        }) {
            Ok(e) => e,
            Err(e) => {
                log::error!("journal: {e}");
                self.notice = Some("本地日志无法写入，未发送充值。".into());
                return Screen::Summary;
            }
        };
        let key = entry.key.to_string();
        let req = TopUpRequest {
            amount: format!("{amount:.2}"),
            payment_method: method,
            terminal_id: device_id,
        };
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match self.api.top_up(&s.uid, &key, &s.summary.card.id, &req) {
                Err(ApiError::Unknown(_)) if attempt < 3 => {
                    std::thread::sleep(Duration::from_millis(500 * attempt));
                }
                other => break other,
            }
        };
        match outcome {
            Ok(t) => self.confirmed_top_up(entry.key, &t),
            Err(ApiError::Unknown(_)) => Screen::Pending { key: entry.key },
            Err(e) => {
                let _ = self.journal.fail(entry.key, e.code().unwrap_or("not sent"));
                Screen::Done {
                    ok: false,
                    lines: vec!["充值未完成".into(), explain(&e)],
                }
            }
        }
    }

    fn member_line(&self, masked_card: &str) -> String {
        match &self.session {
            Some(s) => format!("{} {}", s.summary.masked_name, masked_card),
            None => masked_card.to_string(),
        }
    }

    fn print(&mut self, receipt: &Receipt) -> Result<(), String> {
        let Some(p) = self.printer.as_mut() else {
            return Err("未配置打印机".into());
        };
        let r = p.print(receipt).map_err(|e| match e {
            crate::Error::PaperOut => "打印机缺纸".to_string(),
            crate::Error::PrinterOffline(_) => "打印机离线".to_string(),
            other => format!("打印失败：{other}"),
        });
        self.check_printer();
        if r.is_ok() {
            log::info!("receipt printed no={}", receipt.receipt_no);
        }
        r
    }

    fn checkout_receipt(&self, r: &ReceiptDto, title: &str) -> Receipt {
        let china = china();
        Receipt {
            store_name: self.last_store_name.clone(),
            title: title.into(),
            receipt_no: r.checkout_id.clone(),
            issued_at: r
                .at
                .with_timezone(&china)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            member: self.member_line(&r.masked_card_no),
            lines: r
                .basket
                .lines
                .iter()
                .map(|l| ReceiptLine {
                    label: l.description.clone(),
                    amount: money(&l.net),
                })
                .collect(),
            total: money(&r.basket.member_pays),
            balance_after: Some(money(&r.principal_after) + money(&r.bonus_after)),
            footer: vec![format!("终端：{}", r.cashier), "谢谢惠顾".into()],
        }
    }

    fn confirmed_checkout(&mut self, key: Uuid, r: &ReceiptDto) -> Screen {
        if let Err(e) = self.journal.confirm(key, &r.checkout_id) {
            log::error!("journal confirm {key}: {e}");
        }
        log::info!("payment {key}: confirmed checkout={}", r.checkout_id);
        let receipt = self.checkout_receipt(r, "会员卡消费凭证");
        let printed = self.print(&receipt);
        let balance = money(&r.principal_after) + money(&r.bonus_after);
        let mut lines = vec![
            "支付成功".into(),
            format!("实付 {}  卡内余额 {balance:.2}", r.basket.member_pays),
        ];
        lines.push(match printed {
            Ok(()) => "小票已打印，请取走。".into(),
            Err(e) => format!("{e}，请到前台补打小票。"),
        });
        Screen::Done { ok: true, lines }
    }

    fn confirmed_top_up(&mut self, key: Uuid, t: &TopUpDto) -> Screen {
        if let Err(e) = self.journal.confirm(key, &t.txn_id) {
            log::error!("journal confirm {key}: {e}");
        }
        let mut lines = vec![ReceiptLine {
            label: "充值".into(),
            amount: money(&t.paid),
        }];
        if money(&t.bonus) > Decimal::ZERO {
            lines.push(ReceiptLine {
                label: "赠送".into(),
                amount: money(&t.bonus),
            });
        }
        let balance = money(&t.principal_after) + money(&t.bonus_after);
        let receipt = Receipt {
            store_name: self.last_store_name.clone(),
            title: "会员卡充值凭证".into(),
            receipt_no: t.txn_id.clone(),
            issued_at: Utc::now()
                .with_timezone(&china())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            member: self.member_line(&t.masked_card_no),
            lines,
            total: money(&t.paid),
            balance_after: Some(balance),
            footer: vec!["谢谢惠顾".into()],
        };
        let printed = self.print(&receipt);
        Screen::Done {
            ok: true,
            lines: vec![
                "充值成功".into(),
                format!("充值 {}  赠送 {}  卡内余额 {balance:.2}", t.paid, t.bonus),
                match printed {
                    Ok(()) => "小票已打印，请取走。".into(),
                    Err(e) => format!("{e}，请到前台补打小票。"),
                },
            ],
        }
    }

    fn reprint(&mut self) -> Screen {
        let Some(s) = self.session.clone() else {
            return Screen::Summary;
        };
        match self.api.last_receipt(&s.uid, &s.summary.card.id) {
            Ok(Some(r)) => {
                let receipt = self.checkout_receipt(&r, "会员卡消费凭证（补打）");
                match self.print(&receipt) {
                    Ok(()) => Screen::Done {
                        ok: true,
                        lines: vec!["已补打最近一笔消费小票。".into()],
                    },
                    Err(e) => Screen::Done {
                        ok: false,
                        lines: vec![e],
                    },
                }
            }
            Ok(None) => Screen::Done {
                ok: false,
                lines: vec!["此卡没有消费记录。".into()],
            },
            Err(e) => Screen::Done {
                ok: false,
                lines: vec![explain(&e)],
            },
        }
    }

    // ------------------------------------------------------------------ the journal

    /// Asks the server about every request still pending (at start and periodically). A
    /// request the server never saw is given up after `unknown_after_secs`; one it did is
    /// confirmed and its receipt printed, once.
    pub fn resolve_pending(&mut self, force: bool) {
        let due = self
            .last_resolve
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(self.cfg.resolve_every_secs));
        if !(force || due) {
            return;
        }
        self.last_resolve = Some(Instant::now());
        let pending: Vec<_> = self.journal.pending().into_iter().cloned().collect();
        for e in pending {
            match self.api.outcome(&e.key.to_string()) {
                Ok(RequestOutcomeDto {
                    status,
                    receipt,
                    top_up,
                    ..
                }) if status == "completed" => {
                    self.server_ok = true;
                    log::info!("journal {}: the server did it", e.key);
                    let shown = match (receipt, top_up) {
                        (Some(r), _) => self.confirmed_checkout(e.key, &r),
                        (None, Some(t)) => self.confirmed_top_up(e.key, &t),
                        (None, None) => {
                            let _ = self.journal.confirm(e.key, "completed");
                            Screen::Done {
                                ok: true,
                                lines: vec!["待确认交易已完成。".into()],
                            }
                        }
                    };
                    self.after_resolution(e.key, shown);
                }
                Ok(_) => {
                    self.server_ok = true;
                    let age = Utc::now() - e.created_at;
                    if age.num_seconds() >= self.cfg.unknown_after_secs {
                        log::info!("journal {}: never reached the server; nothing moved", e.key);
                        let _ = self.journal.fail(e.key, "未到达服务器，未扣款");
                        self.after_resolution(
                            e.key,
                            Screen::Done {
                                ok: false,
                                lines: vec![
                                    "待确认交易未到达服务器，未扣款。".into(),
                                    "如需付款请重新操作。".into(),
                                ],
                            },
                        );
                    }
                }
                Err(err) => {
                    self.server_ok =
                        !matches!(err, ApiError::Unreachable(_) | ApiError::Unknown(_));
                    log::debug!("journal {}: still unknown ({err})", e.key);
                }
            }
        }
    }

    fn after_resolution(&mut self, key: Uuid, shown: Screen) {
        match &self.screen {
            Screen::Pending { key: k } if *k == key => self.screen = shown,
            _ => {
                if let Screen::Done { lines, .. } = shown {
                    self.notice = lines.first().cloned();
                }
            }
        }
    }

    pub fn journal_state(&self, key: Uuid) -> Option<EntryState> {
        self.journal.get(key).map(|e| e.state)
    }

    // ------------------------------------------------------------------ drawing

    pub fn draw(&self, f: &mut Frame) {
        let area = f.area();
        let [main, status] =
            Layout::vertical([Constraint::Min(8), Constraint::Length(3)]).areas(area);
        let title = format!(" DMS 会员自助终端 · {} ", self.cfg.terminal_name);
        let big = Style::default().add_modifier(Modifier::BOLD);
        let mut lines: Vec<Line> = vec![];
        match &self.screen {
            Screen::Pairing { input } => {
                lines.push(Line::styled("首次使用：请输入店长提供的配对码", big));
                lines.push(Line::from(""));
                lines.push(Line::from(format!("配对码：{input}_")));
                lines.push(Line::from(""));
                lines.push(Line::from("输入后按 Enter 确认"));
            }
            Screen::Idle { typed } => {
                lines.push(Line::styled("请刷卡", big.fg(Color::Cyan)));
                lines.push(Line::from(""));
                lines.push(Line::from("将会员卡放在读卡器上"));
                if !typed.is_empty() {
                    lines.push(Line::from(format!("卡号：{typed}_")));
                }
            }
            Screen::Summary | Screen::Balance => {
                if let Some(s) = &self.session {
                    let m = &s.summary;
                    lines.push(Line::styled(
                        format!("{}  {}", m.masked_name, m.tier_name),
                        big,
                    ));
                    lines.push(Line::from(format!("卡号：{}", m.card.masked_card_no)));
                    lines.push(Line::from(format!(
                        "余额：{}   （本金 {}  赠送金 {}）",
                        m.card.balance, m.card.principal, m.card.bonus
                    )));
                    lines.push(Line::from(format!(
                        "积分：{}   等级积分：{}",
                        m.redeemable_points, m.tier_points
                    )));
                    let coupons = if m.coupons.is_empty() {
                        "无".to_string()
                    } else {
                        m.coupons
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join("、")
                    };
                    lines.push(Line::from(format!("优惠券：{coupons}")));
                    lines.push(Line::from(""));
                    if matches!(self.screen, Screen::Balance) {
                        lines.push(Line::from("以上为最新余额。按 Enter 返回"));
                    } else {
                        lines.push(Line::from(
                            "1 余额查询   2 付款   3 充值   4 补打小票   Esc 退出",
                        ));
                    }
                }
            }
            Screen::ChooseBill { bills } => {
                lines.push(Line::styled("请选择待付账单", big));
                for (i, b) in bills.iter().enumerate() {
                    lines.push(Line::from(format!(
                        "{}  {}  {} 元",
                        i + 1,
                        b.reference,
                        b.total
                    )));
                }
                lines.push(Line::from("0  输入金额付款      Esc 返回"));
            }
            Screen::Amount { top_up, input } => {
                lines.push(Line::styled(
                    if *top_up {
                        "充值金额"
                    } else {
                        "付款金额"
                    },
                    big,
                ));
                lines.push(Line::from(format!("{input}_ 元")));
                lines.push(Line::from("输入后按 Enter      Esc 返回"));
            }
            Screen::TopUpMethod { amount } => {
                lines.push(Line::styled(format!("充值 {amount:.2} 元"), big));
                lines.push(Line::from(
                    "请在前台交款后选择：1 现金   2 银行卡      Esc 返回",
                ));
            }
            Screen::Confirm { quoted } => {
                let q = &quoted.quote;
                lines.push(Line::styled(format!("应付：{} 元", q.member_pays), big));
                lines.push(Line::from(format!(
                    "原价 {}  会员折扣 {}  优惠券 {}",
                    q.subtotal, q.tier_discount, q.coupon_discount
                )));
                lines.push(Line::from(format!("本次可得积分：{}", q.points_earned)));
                lines.push(Line::from(""));
                lines.push(Line::from("1 储值支付   2 赠送金支付      Esc 返回"));
            }
            Screen::Pin { quoted, entry } => {
                lines.push(Line::styled(
                    format!("支付 {} 元，请输入卡密码", quoted.quote.member_pays),
                    big,
                ));
                lines.push(Line::from(""));
                lines.push(Line::from(format!("密码：{}", entry.masked())));
                lines.push(Line::from(""));
                lines.push(Line::from("输入6位密码后按 Enter      Esc 取消"));
            }
            Screen::Pending { key } => {
                lines.push(Line::styled("待确认", big.fg(Color::Yellow)));
                lines.push(Line::from("服务器未应答，交易结果待确认。请勿重复付款。"));
                lines.push(Line::from(format!(
                    "交易号 {}，正在向服务器查询……",
                    &key.to_string()[..8]
                )));
            }
            Screen::Done { ok, lines: l } => {
                let color = if *ok { Color::Green } else { Color::Red };
                for (i, t) in l.iter().enumerate() {
                    if i == 0 {
                        lines.push(Line::styled(t.clone(), big.fg(color)));
                    } else {
                        lines.push(Line::from(t.clone()));
                    }
                }
                lines.push(Line::from(""));
                lines.push(Line::from("按 Enter 返回"));
            }
        }
        if let Some(n) = &self.notice {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                n.clone(),
                Style::default().fg(Color::Yellow),
            )));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(title)),
            main,
        );
        let pending = self.pending_count();
        let status_line = format!(
            "服务器：{}   打印机：{}   待确认：{} 笔",
            if self.server_ok {
                "已连接"
            } else {
                "无法连接"
            },
            self.printer_status,
            pending
        );
        f.render_widget(
            Paragraph::new(status_line).block(Block::default().borders(Borders::ALL)),
            status,
        );
    }
}

/// Receipts show China time.
fn china() -> chrono::FixedOffset {
    use chrono::Offset;
    chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}
