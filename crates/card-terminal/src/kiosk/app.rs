//! The kiosk's screens and flows, in Simplified Chinese, driven by keys and card taps.
//!
//! Safety rules kept here: a money request is written to the journal (fsynced) before it is
//! sent and is retried only with the same key; when the server cannot be reached nothing is
//! queued (the payment is refused); when the answer is lost the outcome is shown as 待确认
//! until the journal learns it from the server; the receipt prints only after the server
//! confirmed; the PIN lives only in the PIN screen and the one request body that carries it.
//!
//! A top-up is only asked for here: the kiosk cannot see the cash or the bank-card slip. The
//! request (journaled like a payment) waits on the server for the cashier, who takes the money
//! and confirms it in the web app; the kiosk polls it once a second and prints the top-up
//! receipt only when the server says it is confirmed.

use std::time::{Duration, Instant};

use chrono::Utc;
use dms_api_types::devices::{BillDto, KioskSummaryDto, PayBillRequest, RequestOutcomeDto};
use dms_api_types::membership::{
    BasketLineDto, Category, CheckoutRequest, PaymentMethod, PricedBasketDto, QuoteRequest,
    ReceiptDto, TenderDto, TenderKind, TopUpDto,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::api::{Api, ApiError, KioskTopUpRequest, TopUpRequestDto};
use super::config::KioskConfig;
use crate::face::{CardFace, FaceData};
use crate::journal::{Entry, EntryState, Journal, NewRequest, RequestKind};
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
    /// The member's coupons applied (the quote priced them).
    pub coupon_ids: Vec<String>,
    /// Points used as a tender (the quote says what they are worth).
    pub redeem_points: i64,
}

impl Quoted {
    /// What the card pays: the member's share less what the points cover.
    pub fn card_pays(&self) -> Decimal {
        (money(&self.quote.member_pays) - money(&self.quote.points_value)).max(Decimal::ZERO)
    }
}

/// The journal's note for a top-up request the server took: its id.
const REQUEST_NOTE: &str = "request:";

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
    /// The top-up request waits for the cashier; polled once a second.
    TopUpWaiting {
        key: Uuid,
        request: Box<TopUpRequestDto>,
        last_poll: Instant,
    },
    Confirm {
        quoted: Quoted,
    },
    /// Picking coupons for the quoted payment (toggled by number).
    Coupons {
        quoted: Quoted,
        selected: Vec<String>,
    },
    /// Typing the points to redeem.
    Points {
        quoted: Quoted,
        input: String,
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
    /// The rewritable card face, when the kiosk has one.
    pub face: Option<Box<dyn CardFace>>,
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
            "conflict" if e.field().is_some_and(|f| f.starts_with("coupon")) => {
                "优惠券不可用于本次消费。".into()
            }
            "top_up_request_pending" => "此卡已有待确认的充值申请，请到收银台办理。".into(),
            "already_confirmed" => "收银员已确认此充值。".into(),
            "already_cancelled" => "此充值申请已取消。".into(),
            "top_up_request_expired" => "此充值申请已过期。".into(),
            "conflict" => "账单已支付或已取消。".into(),
            "validation_failed" => match e.field().unwrap_or_default() {
                "redeem_points" => "积分抵扣不能超过应付金额。".into(),
                f if f.starts_with("coupon") => "优惠券不可用于本次消费。".into(),
                "amount" => "充值金额不在允许范围内。".into(),
                f => format!("输入有误（{f}）。"),
            },
            _ => format!("操作未完成（{code}）。"),
        },
    }
}

fn method_name(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "现金",
        PaymentMethod::BankCard => "银行卡",
        PaymentMethod::Transfer => "转账",
        PaymentMethod::Online => "线上支付",
    }
}

/// China time, as receipts and the card face show it.
fn local(t: chrono::DateTime<Utc>, fmt: &str) -> String {
    t.with_timezone(&china()).format(fmt).to_string()
}

impl App {
    pub fn new(
        cfg: KioskConfig,
        api: Api,
        journal: Journal,
        printer: Option<Box<dyn ReceiptPrinter>>,
        face: Option<Box<dyn CardFace>>,
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
            face,
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

    /// Requests whose outcome is unknown: new payments wait for them. A top-up request the
    /// server took and the cashier has yet to decide is known (it moves nothing until then).
    fn unknown_count(&self) -> usize {
        self.journal
            .pending()
            .iter()
            .filter(|e| request_id(e).is_none())
            .count()
    }

    // ------------------------------------------------------------------ card events

    /// A card was read: `uid` in the server's form, `number` when the reader also read the
    /// printed number.
    pub fn tap(&mut self, uid: &str, number: Option<&str>) {
        if matches!(
            self.screen,
            Screen::Pairing { .. }
                | Screen::Pin { .. }
                | Screen::Pending { .. }
                | Screen::TopUpWaiting { .. }
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
                if self.face.is_some() {
                    let last = self.last_checkout_line(uid);
                    self.write_face(last);
                }
            }
            Err(e) => self.fail_to_idle(&e),
        }
    }

    /// The card's last checkout in a few words, for the face written after a tap.
    fn last_checkout_line(&mut self, uid: &str) -> Option<String> {
        let card_id = self.session.as_ref()?.summary.card.id.clone();
        match self.api.last_checkout(uid, &card_id) {
            Ok(Some(c)) => Some(format!(
                "{} 消费 {}",
                local(c.created_at, "%m-%d %H:%M"),
                c.total
            )),
            Ok(None) => None,
            Err(e) => {
                log::warn!("last checkout for the card face: {e}");
                None
            }
        }
    }

    /// Writes the card face from the session's summary (masked name and number, tier,
    /// balance, points) and `last`, the last transaction.
    fn write_face(&mut self, last: Option<String>) {
        let Some(s) = &self.session else {
            return;
        };
        let Some(face) = self.face.as_mut() else {
            return;
        };
        let m = &s.summary;
        let data = FaceData {
            member_name: m.masked_name.clone(),
            tier: m.tier_name.clone(),
            card_number: m.card.masked_card_no.clone(),
            expiry: m.card.expires_at.with_timezone(&china()).date_naive(),
            balance: Some(m.card.balance.clone()),
            points: Some(m.redeemable_points),
            last_transaction: last,
        };
        match face.write_face(&data) {
            Ok(_) => log::info!("card face written"),
            Err(e) => {
                log::warn!("card face: {e}");
                self.notice = Some("卡面未能更新，请到前台处理。".into());
            }
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
                KeyCode::Char('1') => self.request_top_up(amount, PaymentMethod::Cash),
                KeyCode::Char('2') => self.request_top_up(amount, PaymentMethod::BankCard),
                KeyCode::Esc => Screen::Summary,
                _ => Screen::TopUpMethod { amount },
            },
            (
                Screen::TopUpWaiting {
                    key,
                    request,
                    last_poll,
                },
                code,
            ) => match code {
                KeyCode::Esc => self.cancel_top_up(key, *request),
                _ => Screen::TopUpWaiting {
                    key,
                    request,
                    last_poll,
                },
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
                KeyCode::Char('3') if self.coupons_offered() > 0 => Screen::Coupons {
                    selected: quoted.coupon_ids.clone(),
                    quoted,
                },
                KeyCode::Char('3') => {
                    self.notice = Some("没有可用的优惠券。".into());
                    Screen::Confirm { quoted }
                }
                KeyCode::Char('4') if self.points_available() > 0 => Screen::Points {
                    input: String::new(),
                    quoted,
                },
                KeyCode::Char('4') => {
                    self.notice = Some("没有可用的积分。".into());
                    Screen::Confirm { quoted }
                }
                KeyCode::Esc => Screen::Summary,
                _ => Screen::Confirm { quoted },
            },
            (
                Screen::Coupons {
                    quoted,
                    mut selected,
                },
                code,
            ) => match code {
                KeyCode::Char(c) if c.is_ascii_digit() && c != '0' => {
                    let i = c.to_digit(10).unwrap_or(0) as usize;
                    let id = self
                        .session
                        .as_ref()
                        .and_then(|s| s.summary.coupons.get(i - 1))
                        .map(|c| c.id.clone());
                    if let Some(id) = id {
                        if let Some(at) = selected.iter().position(|x| *x == id) {
                            selected.remove(at);
                        } else if selected.len() < 10 {
                            selected.push(id);
                        }
                    }
                    Screen::Coupons { quoted, selected }
                }
                KeyCode::Enter => {
                    let points = quoted.redeem_points;
                    self.requote(quoted, selected, points)
                }
                KeyCode::Esc => Screen::Confirm { quoted },
                _ => Screen::Coupons { quoted, selected },
            },
            (Screen::Points { quoted, mut input }, code) => match code {
                KeyCode::Char(c) if c.is_ascii_digit() && input.len() < 9 => {
                    input.push(c);
                    Screen::Points { quoted, input }
                }
                KeyCode::Backspace => {
                    input.pop();
                    Screen::Points { quoted, input }
                }
                KeyCode::Enter => {
                    let points = if input.is_empty() {
                        Ok(0)
                    } else {
                        input.parse::<i64>()
                    };
                    match points {
                        Ok(p) if p <= self.points_available() => {
                            let coupons = quoted.coupon_ids.clone();
                            self.requote(quoted, coupons, p)
                        }
                        _ => {
                            self.notice =
                                Some(format!("最多可用 {} 积分。", self.points_available()));
                            Screen::Points {
                                quoted,
                                input: String::new(),
                            }
                        }
                    }
                }
                KeyCode::Esc => Screen::Confirm { quoted },
                _ => Screen::Points { quoted, input },
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
        if self.unknown_count() > 0 {
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

    fn coupons_offered(&self) -> usize {
        self.session
            .as_ref()
            .map(|s| s.summary.coupons.len().min(9))
            .unwrap_or(0)
    }

    fn points_available(&self) -> i64 {
        self.session
            .as_ref()
            .map(|s| s.summary.redeemable_points)
            .unwrap_or(0)
    }

    fn price(
        &mut self,
        payment: &Payment,
        coupon_ids: &[String],
        redeem_points: i64,
    ) -> Result<PricedBasketDto, ApiError> {
        let Some(s) = self.session.clone() else {
            return Err(ApiError::NotPaired);
        };
        let q = QuoteRequest {
            card_id: s.summary.card.id.clone(),
            store_id: s.summary.card.store_id.clone(),
            lines: Self::lines_of(payment),
            coupon_ids: coupon_ids.to_vec(),
            redeem_points,
            discount_override: None,
        };
        self.api.quote(&s.uid, &q)
    }

    fn quote(&mut self, payment: Payment) -> Screen {
        if self.session.is_none() {
            return Screen::Summary;
        }
        match self.price(&payment, &[], 0) {
            Ok(quote) => Screen::Confirm {
                quoted: Quoted {
                    payment,
                    quote,
                    tender: TenderKind::StoredValue,
                    coupon_ids: vec![],
                    redeem_points: 0,
                },
            },
            Err(e) => {
                self.notice = Some(explain(&e));
                Screen::Summary
            }
        }
    }

    /// Prices the payment again with other coupons or points; the server's quote is what the
    /// member sees before the PIN. Refused: the last quote stays, with the reason.
    fn requote(&mut self, prev: Quoted, coupon_ids: Vec<String>, redeem_points: i64) -> Screen {
        match self.price(&prev.payment, &coupon_ids, redeem_points) {
            Ok(quote) => {
                log::info!(
                    "requoted: {} coupons, {} points, member pays {}",
                    coupon_ids.len(),
                    redeem_points,
                    quote.member_pays
                );
                Screen::Confirm {
                    quoted: Quoted {
                        quote,
                        coupon_ids,
                        redeem_points,
                        ..prev
                    },
                }
            }
            Err(e) => {
                self.server_ok = !matches!(e, ApiError::Unreachable(_));
                self.notice = Some(explain(&e));
                Screen::Confirm { quoted: prev }
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
        let amount = quoted.card_pays();
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
        // Points cover part (or all) of it; the card pays the rest.
        let tenders = if amount > Decimal::ZERO {
            vec![TenderDto {
                kind: quoted.tender,
                amount: format!("{amount:.2}"),
            }]
        } else {
            vec![]
        };
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
                        coupon_ids: quoted.coupon_ids.clone(),
                        redeem_points: quoted.redeem_points,
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
                        coupon_ids: quoted.coupon_ids.clone(),
                        redeem_points: quoted.redeem_points,
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

    /// Journals the request, sends it (retrying a lost answer with the same key), then waits
    /// for the cashier. Nothing moves until the cashier confirms.
    fn request_top_up(&mut self, amount: Decimal, method: PaymentMethod) -> Screen {
        let Some(s) = self.session.clone() else {
            return Screen::Summary;
        };
        let entry = match self.journal.begin(NewRequest {
            kind: RequestKind::TopUpRequest,
            card_number: s.summary.card.masked_card_no.clone(),
            amount,
            reference: serde_json::to_value(method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
        }) {
            Ok(e) => e,
            Err(e) => {
                log::error!("journal: {e}");
                self.notice = Some("本地日志无法写入，未提交充值申请。".into());
                return Screen::Summary;
            }
        };
        let key = entry.key.to_string();
        let req = KioskTopUpRequest {
            card_id: s.summary.card.id.clone(),
            amount: format!("{amount:.2}"),
            payment_method: method,
        };
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match self.api.request_top_up(&s.uid, &key, &req) {
                Err(ApiError::Unknown(e)) if attempt < 3 => {
                    log::warn!("top-up request {key}: no answer ({e}); retrying with the same key");
                    std::thread::sleep(Duration::from_millis(500 * attempt));
                }
                other => break other,
            }
        };
        match outcome {
            Ok(r) => {
                self.server_ok = true;
                if let Err(e) = self
                    .journal
                    .note(entry.key, &format!("{REQUEST_NOTE}{}", r.id))
                {
                    log::error!("journal note {key}: {e}");
                }
                log::info!(
                    "top-up request {} sent: {} {}",
                    r.id,
                    r.amount,
                    method_name(method)
                );
                self.request_update(entry.key, r)
            }
            Err(ApiError::Unknown(e)) => {
                self.server_ok = false;
                log::warn!("top-up request {key}: outcome unknown ({e}); pending in the journal");
                Screen::Pending { key: entry.key }
            }
            Err(ApiError::Problem {
                pending_request_id: Some(id),
                ..
            }) => {
                // This card already waits for the cashier here (the kiosk restarted, or the
                // member came back): wait for that request instead of a second one.
                log::info!("top-up request {key}: {id} already waits; resuming it");
                let _ = self.journal.fail(entry.key, "top_up_request_pending");
                self.resume_top_up_request(&id)
            }
            Err(e) => {
                let _ = self.journal.fail(entry.key, e.code().unwrap_or("not sent"));
                log::info!("top-up request {key}: refused: {e}");
                self.server_ok = !matches!(e, ApiError::Unreachable(_));
                Screen::Done {
                    ok: false,
                    lines: vec!["充值申请未提交".into(), explain(&e)],
                }
            }
        }
    }

    /// Waits on a request already on the server, under the journal entry that asked for it
    /// (a new entry noting it when the journal has none).
    fn resume_top_up_request(&mut self, id: &str) -> Screen {
        let known = self
            .journal
            .pending()
            .into_iter()
            .find(|e| request_id(e).as_deref() == Some(id))
            .map(|e| e.key);
        let r = match self.api.top_up_request(id) {
            Ok(r) => r,
            Err(e) => {
                return Screen::Done {
                    ok: false,
                    lines: vec![
                        "此卡已有待确认的充值申请".into(),
                        explain(&e),
                        "请到收银台办理。".into(),
                    ],
                }
            }
        };
        let key = match known {
            Some(k) => k,
            None => {
                let begun = self.journal.begin(NewRequest {
                    kind: RequestKind::TopUpRequest,
                    card_number: r.masked_card_no.clone(),
                    amount: money(&r.amount),
                    reference: serde_json::to_value(r.payment_method)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string)),
                });
                match begun.and_then(|e| self.journal.note(e.key, &format!("{REQUEST_NOTE}{id}"))) {
                    Ok(e) => e.key,
                    Err(e) => {
                        log::error!("journal: {e}");
                        return Screen::Done {
                            ok: false,
                            lines: vec![
                                "此卡已有待确认的充值申请".into(),
                                "本地日志无法写入，请到收银台办理。".into(),
                            ],
                        };
                    }
                }
            }
        };
        self.notice = Some("此卡已有待确认的充值申请，继续等待收银员确认。".into());
        self.request_update(key, r)
    }

    /// Called from the main loop: polls the request the member is waiting on, once a second.
    pub fn tick(&mut self) {
        let (key, id) = match &self.screen {
            Screen::TopUpWaiting {
                key,
                request,
                last_poll,
            } if last_poll.elapsed() >= Duration::from_secs(1) => (*key, request.id.clone()),
            _ => return,
        };
        match self.api.top_up_request(&id) {
            Ok(r) => {
                self.server_ok = true;
                self.screen = self.request_update(key, r);
            }
            Err(e) => {
                self.server_ok = !matches!(e, ApiError::Unreachable(_) | ApiError::Unknown(_));
                log::debug!("top-up request {id}: poll failed: {e}");
                if let Screen::TopUpWaiting { last_poll, .. } = &mut self.screen {
                    *last_poll = Instant::now();
                }
            }
        }
    }

    /// The screen for a request as the server reports it: still waiting, or decided.
    fn request_update(&mut self, key: Uuid, r: TopUpRequestDto) -> Screen {
        match r.status.as_str() {
            "confirmed" => self.confirmed_top_up_request(key, &r),
            "cancelled" | "expired" => {
                // The cashier gives a reason; the kiosk withdraws without one.
                let by_kiosk = r.status == "cancelled"
                    && (r.cancel_reason.is_none()
                        || (r.decided_by.is_some() && r.decided_by == r.device_name));
                let _ = self.journal.fail(key, &r.status);
                log::info!("top-up request {}: {}", r.id, r.status);
                let why = if r.status == "expired" {
                    "15 分钟内未经收银员确认，申请已作废。".to_string()
                } else if by_kiosk {
                    "您已取消本次充值申请。".to_string()
                } else {
                    match r.cancel_reason.as_deref().filter(|t| !t.trim().is_empty()) {
                        Some(reason) => format!("收银员已取消：{reason}"),
                        None => "收银员已取消本次充值申请。".to_string(),
                    }
                };
                Screen::Done {
                    ok: false,
                    lines: vec![
                        if r.status == "expired" {
                            "充值申请已过期".into()
                        } else {
                            "充值已取消".into()
                        },
                        why,
                        "未入账，卡内余额未变。".into(),
                    ],
                }
            }
            _ => Screen::TopUpWaiting {
                key,
                request: Box::new(r),
                last_poll: Instant::now(),
            },
        }
    }

    /// Esc while waiting: withdraw the request. The cashier may have confirmed it a moment
    /// before: then it stands and the receipt prints.
    fn cancel_top_up(&mut self, key: Uuid, request: TopUpRequestDto) -> Screen {
        let id = request.id.clone();
        match self.api.cancel_top_up_request(&id) {
            Ok(r) => {
                log::info!("top-up request {id}: cancelled at the kiosk");
                self.request_update(key, r)
            }
            Err(e @ ApiError::Problem { status: 409, .. }) => {
                log::info!("top-up request {id}: cancel refused ({e}); reading it again");
                match self.api.top_up_request(&id) {
                    Ok(r) => self.request_update(key, r),
                    Err(e) => {
                        self.notice = Some(explain(&e));
                        self.waiting(key, request)
                    }
                }
            }
            Err(e) => {
                self.server_ok = !matches!(e, ApiError::Unreachable(_) | ApiError::Unknown(_));
                self.notice = Some(format!("{}请到收银台说明取消。", explain(&e)));
                self.waiting(key, request)
            }
        }
    }

    fn waiting(&self, key: Uuid, request: TopUpRequestDto) -> Screen {
        Screen::TopUpWaiting {
            key,
            request: Box::new(request),
            last_poll: Instant::now(),
        }
    }

    fn confirmed_top_up_request(&mut self, key: Uuid, r: &TopUpRequestDto) -> Screen {
        let Some(t) = r.top_up.clone() else {
            // Confirmed without the top-up in the answer: the journal asks again later.
            log::warn!("top-up request {}: confirmed without its top-up", r.id);
            return Screen::TopUpWaiting {
                key,
                request: Box::new(r.clone()),
                last_poll: Instant::now(),
            };
        };
        if let Err(e) = self.journal.confirm(key, &t.txn_id) {
            log::error!("journal confirm {key}: {e}");
        }
        log::info!("top-up request {}: confirmed txn={}", r.id, t.txn_id);
        let at = r.decided_at.unwrap_or_else(Utc::now);
        let method = r.received_method.unwrap_or(r.payment_method);
        let lines = vec![
            ReceiptLine {
                label: format!("充值（{}）", method_name(method)),
                amount: money(&t.paid),
            },
            ReceiptLine {
                label: "赠送".into(),
                amount: money(&t.bonus),
            },
        ];
        let balance = money(&t.principal_after) + money(&t.bonus_after);
        let mut footer = vec![
            format!(
                "本金余额 {}  赠送金余额 {}",
                t.principal_after, t.bonus_after
            ),
            // 单号 and the QR are the request id; the ledger's transaction id follows.
            format!("交易号 {}", t.txn_id),
        ];
        if let Some(by) = &r.decided_by {
            footer.push(format!("收银确认：{by}"));
        }
        footer.push("谢谢惠顾".into());
        let receipt = Receipt {
            store_name: self.last_store_name.clone(),
            title: "会员卡充值凭证".into(),
            receipt_no: r.id.clone(),
            issued_at: local(at, "%Y-%m-%d %H:%M"),
            member: self.member_line(&t.masked_card_no),
            lines,
            total: money(&t.paid),
            balance_after: Some(balance),
            footer,
        };
        let printed = self.print(&receipt);
        self.face_after(
            &t.masked_card_no,
            &t.principal_after,
            &t.bonus_after,
            None,
            format!(
                "{} 充值 {} 赠 {}",
                local(at, "%m-%d %H:%M"),
                t.paid,
                t.bonus
            ),
        );
        Screen::Done {
            ok: true,
            lines: vec![
                "充值成功".into(),
                format!("充值 {}  赠送 {}  卡内余额 {balance:.2}", t.paid, t.bonus),
                format!("本金 {}  赠送金 {}", t.principal_after, t.bonus_after),
                match printed {
                    Ok(()) => "小票已打印，请取走。".into(),
                    Err(e) => format!("{e}，请到前台补打小票。"),
                },
            ],
        }
    }

    /// After a confirmed payment or top-up of the card on the reader: the session's summary
    /// takes the server's figures, and the face shows them with the transaction.
    fn face_after(
        &mut self,
        masked_card_no: &str,
        principal: &str,
        bonus: &str,
        points: Option<i64>,
        last: String,
    ) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.summary.card.masked_card_no != masked_card_no {
            return;
        }
        let c = &mut s.summary.card;
        c.principal = principal.to_string();
        c.bonus = bonus.to_string();
        c.balance = format!("{:.2}", money(principal) + money(bonus));
        if let Some(p) = points {
            s.summary.redeemable_points = p;
        }
        self.write_face(Some(last));
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
            footer: {
                let mut f: Vec<String> = r
                    .basket
                    .coupons
                    .iter()
                    .map(|c| format!("优惠券 {} -{}", c.name, c.discount))
                    .collect();
                if r.basket.points_redeemed > 0 {
                    let card = money(&r.basket.member_pays) - money(&r.basket.points_value);
                    f.push(format!(
                        "积分抵扣 {} 分 -{}  卡内支付 {card:.2}",
                        r.basket.points_redeemed, r.basket.points_value
                    ));
                }
                f.push(format!("终端：{}", r.cashier));
                f.push("谢谢惠顾".into());
                f
            },
        }
    }

    fn confirmed_checkout(&mut self, key: Uuid, r: &ReceiptDto) -> Screen {
        if let Err(e) = self.journal.confirm(key, &r.checkout_id) {
            log::error!("journal confirm {key}: {e}");
        }
        log::info!("payment {key}: confirmed checkout={}", r.checkout_id);
        let receipt = self.checkout_receipt(r, "会员卡消费凭证");
        let printed = self.print(&receipt);
        self.face_after(
            &r.masked_card_no,
            &r.principal_after,
            &r.bonus_after,
            Some(r.redeemable_points_after),
            format!(
                "{} 消费 {}",
                local(r.at, "%m-%d %H:%M"),
                r.basket.member_pays
            ),
        );
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
            if let Some(id) = request_id(&e) {
                self.resolve_top_up_request(&e, &id);
                continue;
            }
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
                        (None, None) if e.kind == RequestKind::TopUpRequest => {
                            if let Some(shown) = self.replay_top_up_request(&e) {
                                self.after_resolution(e.key, shown);
                                continue;
                            }
                            // The server took the request but its answer was lost and the card
                            // is gone: the cashier sees it and decides; untouched, it expires.
                            let _ = self.journal.confirm(e.key, "submitted");
                            Screen::Done {
                                ok: true,
                                lines: vec![
                                    "充值申请已提交".into(),
                                    "请到收银台付款，由收银员确认入账。".into(),
                                ],
                            }
                        }
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

    /// The server took a top-up request whose answer was lost; while the member still waits
    /// with the card, the same request sent again with the same key answers it.
    fn replay_top_up_request(&mut self, e: &Entry) -> Option<Screen> {
        if !matches!(&self.screen, Screen::Pending { key } if *key == e.key) {
            return None;
        }
        let s = self.session.clone()?;
        if s.summary.card.masked_card_no != e.card_number {
            return None;
        }
        let method: PaymentMethod =
            serde_json::from_value(serde_json::Value::String(e.reference.clone()?)).ok()?;
        let req = KioskTopUpRequest {
            card_id: s.summary.card.id.clone(),
            amount: format!("{:.2}", e.amount),
            payment_method: method,
        };
        match self.api.request_top_up(&s.uid, &e.key.to_string(), &req) {
            Ok(r) => {
                let _ = self.journal.note(e.key, &format!("{REQUEST_NOTE}{}", r.id));
                Some(self.request_update(e.key, r))
            }
            Err(err) => {
                log::warn!("top-up request {}: replay failed: {err}", e.key);
                None
            }
        }
    }

    /// A top-up request the server took, not on screen (the kiosk restarted, or the member
    /// left the waiting screen): its outcome is printed when the cashier decides.
    fn resolve_top_up_request(&mut self, e: &Entry, id: &str) {
        if matches!(&self.screen, Screen::TopUpWaiting { key, .. } if *key == e.key) {
            return;
        }
        match self.api.top_up_request(id) {
            Ok(r) if r.status == "pending" => self.server_ok = true,
            Ok(r) => {
                self.server_ok = true;
                let shown = self.request_update(e.key, r);
                self.after_resolution(e.key, shown);
            }
            Err(err) => {
                self.server_ok = !matches!(err, ApiError::Unreachable(_) | ApiError::Unknown(_));
                log::debug!("top-up request {id}: still unknown ({err})");
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
                lines.push(Line::from("请选择付款方式（到收银台付款）："));
                lines.push(Line::from("1 现金   2 银行卡      Esc 返回"));
            }
            Screen::TopUpWaiting { request, .. } => {
                lines.push(Line::styled(
                    "请到收银台付款，等待收银员确认…",
                    big.fg(Color::Cyan),
                ));
                lines.push(Line::from(""));
                lines.push(Line::from(format!(
                    "充值金额：{} 元（{}）",
                    request.amount,
                    method_name(request.payment_method)
                )));
                if money(&request.expected_bonus) > Decimal::ZERO {
                    lines.push(Line::from(format!(
                        "预计赠送：{} 元",
                        request.expected_bonus
                    )));
                }
                lines.push(Line::from(format!("卡号：{}", request.masked_card_no)));
                lines.push(Line::from(format!(
                    "申请号：{}   有效至 {}",
                    request.id,
                    local(request.expires_at, "%H:%M")
                )));
                lines.push(Line::from(""));
                lines.push(Line::from(
                    "收银员确认收款后自动入账并打印小票。   Esc 取消充值",
                ));
            }
            Screen::Confirm { quoted } => {
                let q = &quoted.quote;
                lines.push(Line::styled(format!("应付：{} 元", q.member_pays), big));
                lines.push(Line::from(format!(
                    "原价 {}  会员折扣 {}  优惠券 {}",
                    q.subtotal, q.tier_discount, q.coupon_discount
                )));
                for c in &q.coupons {
                    lines.push(Line::from(format!(
                        "  已用优惠券：{} -{}",
                        c.name, c.discount
                    )));
                }
                if q.points_redeemed > 0 {
                    lines.push(Line::from(format!(
                        "积分抵扣：{} 分 -{} 元",
                        q.points_redeemed, q.points_value
                    )));
                }
                lines.push(Line::styled(
                    format!("卡内支付：{:.2} 元", quoted.card_pays()),
                    big,
                ));
                lines.push(Line::from(format!("本次可得积分：{}", q.points_earned)));
                lines.push(Line::from(""));
                let mut keys = "1 储值支付   2 赠送金支付".to_string();
                if self.coupons_offered() > 0 {
                    keys.push_str("   3 优惠券");
                }
                if self.points_available() > 0 {
                    keys.push_str(&format!(
                        "   4 积分抵扣（可用 {}）",
                        self.points_available()
                    ));
                }
                keys.push_str("      Esc 返回");
                lines.push(Line::from(keys));
            }
            Screen::Coupons { selected, .. } => {
                lines.push(Line::styled("选择优惠券（按序号选中/取消）", big));
                if let Some(s) = &self.session {
                    for (i, c) in s.summary.coupons.iter().take(9).enumerate() {
                        let mark = if selected.contains(&c.id) {
                            "[√]"
                        } else {
                            "[ ]"
                        };
                        lines.push(Line::from(format!("{} {mark} {}", i + 1, c.name)));
                    }
                }
                lines.push(Line::from(""));
                lines.push(Line::from("Enter 重新计算应付      Esc 返回"));
            }
            Screen::Points { quoted, input } => {
                lines.push(Line::styled("积分抵扣", big));
                lines.push(Line::from(format!(
                    "可用积分：{}   当前抵扣：{} 分",
                    self.points_available(),
                    quoted.redeem_points
                )));
                lines.push(Line::from(format!("使用积分：{input}_")));
                lines.push(Line::from(""));
                lines.push(Line::from(
                    "输入积分数后按 Enter（0 为不用积分）      Esc 返回",
                ));
            }
            Screen::Pin { quoted, entry } => {
                lines.push(Line::styled(
                    format!("卡内支付 {:.2} 元，请输入卡密码", quoted.card_pays()),
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

/// The server's id of a top-up request the journal noted.
fn request_id(e: &Entry) -> Option<String> {
    if e.kind != RequestKind::TopUpRequest {
        return None;
    }
    e.detail
        .as_deref()
        .and_then(|d| d.strip_prefix(REQUEST_NOTE))
        .map(str::to_string)
}
