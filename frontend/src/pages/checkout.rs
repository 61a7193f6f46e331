//! 收银结算 The cashier checkout for one card: a basket by category, the tier discount priced by
//! the server and shown per line, coupons to pick, points to redeem, split tenders, a
//! confirmation step and the printable receipt. The Idempotency-Key is made when the cashier
//! opens the confirmation and kept for that attempt, so a double click or a retry after a
//! network error never pays twice; changing the basket or tenders starts a new attempt.

use crate::api::{club, ApiError};
use crate::components::common::{ConfirmDialog, ErrorLine, Field, Loading};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key, Lang};
use crate::money::{fmt_fen, parse_fen, tier_info, yuan};
use crate::pages::members::coupon_name;
use crate::route::member_hash;
use crate::session::{format_time, store_name, use_lang, use_store, Session};
use dms_api_types::membership::{
    BasketLineDto, CardDto, Category, CheckoutRequest, CouponDto, CouponTemplateDto, MemberDto,
    PricedBasketDto, QuoteRequest, ReasonRequest, ReceiptDto, TenderDto, TenderKind,
};
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

pub const CATEGORIES: [&str; 7] = [
    "labour",
    "parts",
    "accessories",
    "detailing",
    "modification",
    "vehicle",
    "other",
];

pub fn category_of(code: &str) -> Category {
    match code {
        "parts" => Category::Parts,
        "accessories" => Category::Accessories,
        "detailing" => Category::Detailing,
        "modification" => Category::Modification,
        "vehicle" => Category::Vehicle,
        "other" => Category::Other,
        _ => Category::Labour,
    }
}

pub fn category_code(c: Category) -> &'static str {
    match c {
        Category::Labour => "labour",
        Category::Parts => "parts",
        Category::Accessories => "accessories",
        Category::Detailing => "detailing",
        Category::Modification => "modification",
        Category::Vehicle => "vehicle",
        Category::Other => "other",
    }
}

fn tender_code(k: TenderKind) -> &'static str {
    match k {
        TenderKind::StoredValue => "stored_value",
        TenderKind::Bonus => "bonus",
        TenderKind::Cash => "cash",
        TenderKind::BankCard => "bank_card",
    }
}

fn tender_of(code: &str) -> TenderKind {
    match code {
        "bonus" => TenderKind::Bonus,
        "cash" => TenderKind::Cash,
        "bank_card" => TenderKind::BankCard,
        _ => TenderKind::StoredValue,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineDraft {
    pub category: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
}

impl Default for LineDraft {
    fn default() -> Self {
        LineDraft {
            category: "labour".into(),
            description: String::new(),
            quantity: "1".into(),
            unit_price: String::new(),
        }
    }
}

/// The lines as the API takes them, or the index of the first incomplete line.
pub fn basket(lines: &[LineDraft]) -> Result<Vec<BasketLineDto>, usize> {
    if lines.is_empty() {
        return Err(0);
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let qty_ok = !l.quantity.trim().is_empty()
                && l.quantity.trim().parse::<f64>().is_ok_and(|q| q > 0.0);
            match (
                l.description.trim().is_empty(),
                qty_ok,
                parse_fen(&l.unit_price),
            ) {
                (false, true, Some(price)) => Ok(BasketLineDto {
                    category: category_of(&l.category),
                    item_code: None,
                    description: l.description.trim().to_string(),
                    quantity: l.quantity.trim().to_string(),
                    unit_price: fmt_fen(price),
                    insurer_paid: false,
                }),
                _ => Err(i),
            }
        })
        .collect()
}

/// What is left to cover (negative: too much) after the tenders.
pub fn tender_gap(member_pays: &str, tenders: &[(String, String)]) -> Option<i64> {
    let due = parse_fen(member_pays)?;
    let mut paid = 0;
    for (_, amount) in tenders {
        paid += parse_fen(amount)?;
    }
    Some(due - paid)
}

/// The first split: the card's stored value up to what is due, the rest in cash.
pub fn default_tenders(member_pays: &str, card_balance: &str) -> Vec<(String, String)> {
    let due = parse_fen(member_pays).unwrap_or(0);
    let balance = parse_fen(card_balance).unwrap_or(0);
    let from_card = due.min(balance);
    let mut out = Vec::new();
    if from_card > 0 {
        out.push(("stored_value".to_string(), fmt_fen(from_card)));
    }
    if due > from_card {
        out.push(("cash".to_string(), fmt_fen(due - from_card)));
    }
    out
}

#[derive(Debug, Clone)]
struct Context {
    card: CardDto,
    member: MemberDto,
    coupons: Vec<CouponDto>,
    templates: Vec<CouponTemplateDto>,
    programme: serde_json::Value,
}

async fn load(card_id: String) -> Result<Context, ApiError> {
    let card = club::card(&card_id).await?;
    let member = club::member(&card.member_id).await?;
    let coupons = club::coupons_of(&member.id)
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|c| c.status == "issued")
                .collect()
        })
        .unwrap_or_default();
    let templates = club::coupon_templates()
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let programme = club::programme(Some(&card.store_id))
        .await
        .map(|p| p.programme)
        .unwrap_or(serde_json::Value::Null);
    Ok(Context {
        card,
        member,
        coupons,
        templates,
        programme,
    })
}

#[derive(Properties, PartialEq)]
pub struct CheckoutProps {
    pub session: Session,
    pub card_id: String,
}

#[function_component(Checkout)]
pub fn checkout(props: &CheckoutProps) -> Html {
    let lang = use_lang();
    let selected_store = use_store();
    let ctx = use_state(|| None::<Result<Rc<Context>, ApiError>>);
    let lines = use_state(|| vec![LineDraft::default()]);
    let coupons = use_state(Vec::<String>::new);
    let points = use_state(String::new);
    let override_pct = use_state(String::new);
    let override_reason = use_state(String::new);
    let quote = use_state(|| None::<Rc<PricedBasketDto>>);
    let quoting = use_state(|| false);
    let tenders = use_state(Vec::<(String, String)>::new);
    let problem = use_state(|| None::<String>);
    let bad_line = use_state(|| None::<usize>);
    let confirming = use_state(|| false);
    let attempt_key = use_state(|| None::<String>);
    let paying = use_state(|| false);
    let receipt = use_state(|| None::<Rc<ReceiptDto>>);

    {
        let ctx = ctx.clone();
        use_effect_with(props.card_id.clone(), move |id| {
            let id = id.clone();
            spawn_local(async move { ctx.set(Some(load(id).await.map(Rc::new))) });
        });
    }

    let c = match &*ctx {
        None => return html! { <section class="page"><Loading /></section> },
        Some(Err(e)) => {
            return html! { <section class="page"><ErrorLine text={error_message(e, lang)} /></section> }
        }
        Some(Ok(c)) => c.clone(),
    };
    let me = &props.session.me;
    let store_id = selected_store
        .clone()
        .filter(|s| me.stores.iter().any(|x| &x.id == s))
        .or_else(|| {
            me.stores
                .iter()
                .any(|s| s.id == c.card.store_id)
                .then(|| c.card.store_id.clone())
        })
        .or_else(|| me.stores.first().map(|s| s.id.clone()))
        .unwrap_or_default();

    if let Some(r) = &*receipt {
        return html! { <Receipt receipt={r.clone()} session={props.session.clone()} member_id={Some(c.member.id.clone())} /> };
    }

    // Any change to what is bought or how it is paid drops the quote and starts a new attempt.
    let invalidate = {
        let (quote, attempt_key, problem) = (quote.clone(), attempt_key.clone(), problem.clone());
        move || {
            quote.set(None);
            attempt_key.set(None);
            problem.set(None);
        }
    };

    let do_quote = {
        let (override_pct, override_reason) = (override_pct.clone(), override_reason.clone());
        let (lines, coupons, points, quote, quoting, tenders, problem, bad_line, c, store_id) = (
            lines.clone(),
            coupons.clone(),
            points.clone(),
            quote.clone(),
            quoting.clone(),
            tenders.clone(),
            problem.clone(),
            bad_line.clone(),
            c.clone(),
            store_id.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let basket_lines = match basket(&lines) {
                Ok(b) => b,
                Err(i) => {
                    bad_line.set(Some(i));
                    problem.set(Some(t(lang, Key::LineIncomplete).to_string()));
                    return;
                }
            };
            let redeem: i64 = match points.trim() {
                "" => 0,
                p => match p.parse::<i64>() {
                    Ok(n) if n >= 0 && n <= c.member.redeemable_points => n,
                    _ => {
                        problem.set(Some(t(lang, Key::PointsInvalid).to_string()));
                        return;
                    }
                },
            };
            let discount_override = match discount_override(&override_pct, &override_reason) {
                Ok(o) => o,
                Err(k) => {
                    problem.set(Some(t(lang, k).to_string()));
                    return;
                }
            };
            bad_line.set(None);
            problem.set(None);
            quoting.set(true);
            let request = QuoteRequest {
                card_id: c.card.id.clone(),
                store_id: store_id.clone(),
                lines: basket_lines,
                coupon_ids: (*coupons).clone(),
                redeem_points: redeem,
                discount_override,
            };
            let (quote, quoting, tenders, problem, balance) = (
                quote.clone(),
                quoting.clone(),
                tenders.clone(),
                problem.clone(),
                c.card.balance.clone(),
            );
            spawn_local(async move {
                let result = club::quote(&request).await;
                quoting.set(false);
                match result {
                    Ok(priced) => {
                        tenders.set(default_tenders(&priced.member_pays, &balance));
                        quote.set(Some(Rc::new(priced)));
                    }
                    Err(e) => problem.set(Some(error_message(&e, lang))),
                }
            });
        })
    };

    let open_confirm = {
        let (attempt_key, confirming, tenders, quote, problem) = (
            attempt_key.clone(),
            confirming.clone(),
            tenders.clone(),
            quote.clone(),
            problem.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(q) = &*quote else { return };
            if tender_gap(&q.member_pays, &tenders) != Some(0) {
                problem.set(Some(t(lang, Key::TendersMustMatch).to_string()));
                return;
            }
            problem.set(None);
            if attempt_key.is_none() {
                attempt_key.set(Some(crate::api::new_idempotency_key()));
            }
            confirming.set(true);
        })
    };

    let pay = {
        let (
            lines,
            coupons,
            points,
            tenders,
            attempt_key,
            paying,
            receipt,
            problem,
            confirming,
            c,
            store_id,
        ) = (
            lines.clone(),
            coupons.clone(),
            points.clone(),
            tenders.clone(),
            attempt_key.clone(),
            paying.clone(),
            receipt.clone(),
            problem.clone(),
            confirming.clone(),
            c.clone(),
            store_id.clone(),
        );
        let (override_pct, override_reason) = (override_pct.clone(), override_reason.clone());
        Callback::from(move |_: MouseEvent| {
            if *paying {
                return;
            }
            let (Ok(basket_lines), Some(key)) = (basket(&lines), (*attempt_key).clone()) else {
                return;
            };
            let request = CheckoutRequest {
                card_id: c.card.id.clone(),
                store_id: store_id.clone(),
                terminal_id: None,
                lines: basket_lines,
                coupon_ids: (*coupons).clone(),
                redeem_points: points.trim().parse().unwrap_or(0),
                tenders: tenders
                    .iter()
                    .map(|(k, a)| TenderDto {
                        kind: tender_of(k),
                        amount: parse_fen(a).map(fmt_fen).unwrap_or_default(),
                    })
                    .collect(),
                // Checked when the basket was priced; the same values go with the payment.
                discount_override: discount_override(&override_pct, &override_reason)
                    .ok()
                    .flatten(),
                pin: None,
            };
            paying.set(true);
            let (paying, receipt, problem, confirming) = (
                paying.clone(),
                receipt.clone(),
                problem.clone(),
                confirming.clone(),
            );
            spawn_local(async move {
                let result = club::checkout(&request, &key).await;
                paying.set(false);
                match result {
                    Ok(r) => {
                        confirming.set(false);
                        receipt.set(Some(Rc::new(r)));
                    }
                    // The key stays: "pay" again retries the same attempt.
                    Err(e) => problem.set(Some(error_message(&e, lang))),
                }
            });
        })
    };

    // ---- basket editor ----
    let line_rows = lines.iter().enumerate().map(|(i, l)| {
        let set = |f: fn(&mut LineDraft, String)| {
            let (lines, invalidate) = (lines.clone(), invalidate.clone());
            move |v: String| {
                let mut next = (*lines).clone();
                if let Some(line) = next.get_mut(i) {
                    f(line, v);
                }
                lines.set(next);
                invalidate();
            }
        };
        let on_cat = {
            let f = set(|l, v| l.category = v);
            Callback::from(move |e: Event| {
                if let Some(s) = e.target_dyn_into::<HtmlSelectElement>() {
                    f(s.value())
                }
            })
        };
        let input = |f: fn(&mut LineDraft, String)| {
            let f = set(f);
            Callback::from(move |e: InputEvent| {
                if let Some(s) = e.target_dyn_into::<HtmlInputElement>() {
                    f(s.value())
                }
            })
        };
        let remove = {
            let (lines, invalidate) = (lines.clone(), invalidate.clone());
            Callback::from(move |_: MouseEvent| {
                let mut next = (*lines).clone();
                if next.len() > 1 && i < next.len() {
                    next.remove(i);
                }
                lines.set(next);
                invalidate();
            })
        };
        let bad = *bad_line == Some(i);
        html! {
            <tr class={classes!("basket-line", bad.then_some("invalid"))}>
                <td>
                    <select class="line-category" aria-label={t(lang, Key::Category)} onchange={on_cat}>
                        { for CATEGORIES.iter().map(|code| html! {
                            <option value={*code} selected={l.category == *code}>{ code_name(lang, code) }</option>
                        }) }
                    </select>
                </td>
                <td><input class="line-description" aria-label={t(lang, Key::Item)} value={l.description.clone()}
                    oninput={input(|l, v| l.description = v)} maxlength="200" /></td>
                <td><input class="line-quantity num" aria-label={t(lang, Key::Quantity)} value={l.quantity.clone()}
                    oninput={input(|l, v| l.quantity = v)} inputmode="decimal" maxlength="10" /></td>
                <td><input class="line-price num" aria-label={t(lang, Key::UnitPrice)} value={l.unit_price.clone()}
                    oninput={input(|l, v| l.unit_price = v)} inputmode="decimal" maxlength="15" /></td>
                <td><button type="button" class="btn small ghost" onclick={remove} disabled={lines.len() < 2}
                    aria-label={t(lang, Key::Remove)}>{ "×" }</button></td>
            </tr>
        }
    });
    let add_line = {
        let (lines, invalidate) = (lines.clone(), invalidate.clone());
        Callback::from(move |_: MouseEvent| {
            let mut next = (*lines).clone();
            next.push(LineDraft::default());
            lines.set(next);
            invalidate();
        })
    };
    let coupon_boxes = c.coupons.iter().map(|cp| {
        let checked = coupons.contains(&cp.id);
        let toggle = {
            let (coupons, invalidate, id) = (coupons.clone(), invalidate.clone(), cp.id.clone());
            Callback::from(move |_: Event| {
                let mut next = (*coupons).clone();
                if let Some(pos) = next.iter().position(|x| *x == id) {
                    next.remove(pos);
                } else {
                    next.push(id.clone());
                }
                coupons.set(next);
                invalidate();
            })
        };
        html! {
            <label class="check coupon-pick">
                <input type="checkbox" value={cp.id.clone()} {checked} onchange={toggle} />
                { if cp.name.is_empty() { coupon_name(&c.templates, &cp.template_id) } else { cp.name.clone() } }
            </label>
        }
    });
    let can_override = props.session.can("membership.override");
    let on_override = |target: UseStateHandle<String>| {
        let invalidate = invalidate.clone();
        Callback::from(move |v: String| {
            target.set(v);
            invalidate();
        })
    };
    let on_points = {
        let (points, invalidate) = (points.clone(), invalidate.clone());
        Callback::from(move |e: InputEvent| {
            if let Some(s) = e.target_dyn_into::<HtmlInputElement>() {
                points.set(s.value());
                invalidate();
            }
        })
    };

    let (tier_label, _) = tier_info(&c.programme, &c.member.tier_code)
        .unwrap_or_else(|| (c.member.tier_code.clone(), vec![]));

    let priced = quote.as_ref().map(|q| {
        let gap = tender_gap(&q.member_pays, &tenders);
        let tender_rows = tenders.iter().enumerate().map(|(i, (kind, amount))| {
            let on_kind = {
                let (tenders, attempt_key) = (tenders.clone(), attempt_key.clone());
                Callback::from(move |e: Event| {
                    if let Some(s) = e.target_dyn_into::<HtmlSelectElement>() {
                        let mut next = (*tenders).clone();
                        if let Some(row) = next.get_mut(i) {
                            row.0 = s.value();
                        }
                        tenders.set(next);
                        attempt_key.set(None);
                    }
                })
            };
            let on_amount = {
                let (tenders, attempt_key) = (tenders.clone(), attempt_key.clone());
                Callback::from(move |e: InputEvent| {
                    if let Some(s) = e.target_dyn_into::<HtmlInputElement>() {
                        let mut next = (*tenders).clone();
                        if let Some(row) = next.get_mut(i) {
                            row.1 = s.value();
                        }
                        tenders.set(next);
                        attempt_key.set(None);
                    }
                })
            };
            let remove = {
                let (tenders, attempt_key) = (tenders.clone(), attempt_key.clone());
                Callback::from(move |_: MouseEvent| {
                    let mut next = (*tenders).clone();
                    if i < next.len() {
                        next.remove(i);
                    }
                    tenders.set(next);
                    attempt_key.set(None);
                })
            };
            html! {
                <div class="tender-row">
                    <select class="tender-kind" aria-label={t(lang, Key::Tender)} onchange={on_kind}>
                        { for ["stored_value", "bonus", "cash", "bank_card"].iter().map(|k| html! {
                            <option value={*k} selected={kind == k}>{ code_name(lang, k) }</option>
                        }) }
                    </select>
                    <input class="tender-amount num" aria-label={t(lang, Key::Amount)} value={amount.clone()}
                        oninput={on_amount} inputmode="decimal" maxlength="15" />
                    <button type="button" class="btn small ghost" onclick={remove} aria-label={t(lang, Key::Remove)}>{ "×" }</button>
                </div>
            }
        });
        let add_tender = {
            let (tenders, attempt_key, q) = (tenders.clone(), attempt_key.clone(), q.clone());
            Callback::from(move |_: MouseEvent| {
                let mut next = (*tenders).clone();
                let left = tender_gap(&q.member_pays, &next).unwrap_or(0).max(0);
                next.push(("cash".into(), fmt_fen(left)));
                tenders.set(next);
                attempt_key.set(None);
            })
        };
        html! {
            <div class="card" id="priced">
                <h2>{ t(lang, Key::PricedBasket) }</h2>
                { priced_table(lang, q) }
                <div class="tenders" id="tenders">
                    <h3>{ t(lang, Key::Tenders) }</h3>
                    { for tender_rows }
                    <button type="button" class="btn small" id="add-tender" onclick={add_tender}>{ "+ " }{ t(lang, Key::AddTender) }</button>
                    <p class={classes!("tender-gap", (gap != Some(0)).then_some("off"))} id="tender-gap">
                        { match gap {
                            Some(0) => t(lang, Key::TendersMatch).to_string(),
                            Some(g) if g > 0 => format!("{} ¥{}", t(lang, Key::StillDue), fmt_fen(g)),
                            Some(g) => format!("{} ¥{}", t(lang, Key::TooMuch), fmt_fen(-g)),
                            None => t(lang, Key::AmountInvalid).to_string(),
                        } }
                    </p>
                </div>
                <div class="form-actions">
                    <button type="button" class="btn primary big" id="checkout-next" onclick={open_confirm.clone()}
                        disabled={gap != Some(0)}>
                        { t(lang, Key::ConfirmCheckout) }
                    </button>
                </div>
            </div>
        }
    });

    let confirm_dialog = match (&*quote, *confirming) {
        (Some(q), true) => {
            let cancel = {
                let confirming = confirming.clone();
                Callback::from(move |_: MouseEvent| confirming.set(false))
            };
            html! {
                <div class="modal-backdrop">
                    <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby="pay-title">
                        <h2 id="pay-title">{ t(lang, Key::ConfirmCheckoutTitle) }</h2>
                        <dl class="facts">
                            <dt>{ t(lang, Key::CardNo) }</dt><dd>{ &c.card.masked_card_no }</dd>
                            <dt>{ t(lang, Key::Subtotal) }</dt><dd class="num">{ yuan(&q.subtotal) }</dd>
                            <dt>{ t(lang, Key::TierDiscount) }</dt><dd class="num">{ format!("−{}", yuan(&q.tier_discount)) }</dd>
                            <dt>{ t(lang, Key::CouponDiscount) }</dt><dd class="num">{ format!("−{}", yuan(&q.coupon_discount)) }</dd>
                            if q.points_redeemed > 0 {
                                <dt>{ t(lang, Key::PointsUsed) }</dt><dd class="num">{ format!("{} (−{})", q.points_redeemed, yuan(&q.points_value)) }</dd>
                            }
                            <dt><strong>{ t(lang, Key::MemberPays) }</strong></dt><dd class="num"><strong>{ yuan(&q.member_pays) }</strong></dd>
                            { for tenders.iter().map(|(k, a)| html! {
                                <><dt>{ code_name(lang, k) }</dt><dd class="num">{ yuan(a) }</dd></>
                            }) }
                        </dl>
                        if let Some(p) = &*problem {
                            <p class="alert error" role="alert">{ p }</p>
                        }
                        <div class="modal-actions">
                            <button class="btn" onclick={cancel} disabled={*paying}>{ t(lang, Key::Cancel) }</button>
                            <button class="btn primary" data-confirm="yes" id="pay" onclick={pay} disabled={*paying}>
                                { if *paying { t(lang, Key::Working) } else { t(lang, Key::Pay) } }
                            </button>
                        </div>
                    </div>
                </div>
            }
        }
        _ => html! {},
    };

    html! {
        <section class="page wide" id="checkout-page">
            <div class="page-head">
                <h1>
                    { t(lang, Key::Checkout) }
                    <span class="badge">{ &c.card.masked_card_no }</span>
                    <span class={classes!("badge", "tier", c.member.tier_code.clone())} id="checkout-tier">{ tier_label }</span>
                </h1>
                <a class="btn" href={member_hash(&c.member.id)}>{ t(lang, Key::BackToMember) }</a>
            </div>
            <p class="muted">
                { format!("{} {} · {} {} · {} {}",
                    t(lang, Key::Balance), yuan(&c.card.balance),
                    t(lang, Key::RedeemablePoints), c.member.redeemable_points,
                    t(lang, Key::Store), store_name(&me.stores, &store_id).unwrap_or("—")) }
            </p>
            if let (Some(p), false) = (&*problem, *confirming) {
                <p class="alert error" role="alert" id="checkout-problem">{ p }</p>
            }
            <form class="card" id="basket-form" onsubmit={do_quote}>
                <h2>{ t(lang, Key::Basket) }</h2>
                <div class="table-wrap">
                <table class="table basket">
                    <thead><tr>
                        <th>{ t(lang, Key::Category) }</th>
                        <th>{ t(lang, Key::Item) }</th>
                        <th class="num">{ t(lang, Key::Quantity) }</th>
                        <th class="num">{ t(lang, Key::UnitPrice) }</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{ for line_rows }</tbody>
                </table>
                </div>
                <button type="button" class="btn small" id="add-line" onclick={add_line}>{ "+ " }{ t(lang, Key::AddLine) }</button>
                <div class="grid basket-extras">
                    <div>
                        <h3>{ t(lang, Key::Coupons) }</h3>
                        if c.coupons.is_empty() {
                            <p class="muted">{ t(lang, Key::NoCoupons) }</p>
                        } else {
                            <div id="coupon-picks">{ for coupon_boxes }</div>
                        }
                    </div>
                    <div class="field">
                        <label for="redeem-points">{ format!("{} ({} ≤ {})", t(lang, Key::RedeemPoints), t(lang, Key::Available), c.member.redeemable_points) }</label>
                        <input id="redeem-points" value={(*points).clone()} oninput={on_points} inputmode="numeric" maxlength="9" />
                    </div>
                    if can_override {
                        <Field name="discount_override.percent" id="override-percent" label={t(lang, Key::OverridePercent)}
                            value={(*override_pct).clone()} oninput={on_override(override_pct.clone())}
                            inputmode="decimal" maxlength="6" hint={t(lang, Key::OverrideHint)} />
                        <Field name="discount_override.reason" id="override-reason" label={t(lang, Key::OverrideReason)}
                            value={(*override_reason).clone()} oninput={on_override(override_reason.clone())} maxlength="200" />
                    }
                </div>
                <div class="form-actions">
                    <button type="submit" class="btn primary" id="quote" disabled={*quoting}>
                        { if *quoting { t(lang, Key::Working) } else { t(lang, Key::PriceIt) } }
                    </button>
                </div>
            </form>
            { for priced }
            { confirm_dialog }
        </section>
    }
}

/// The priced basket grouped by category, with each line's tier and coupon discount.
fn priced_table(lang: Lang, q: &PricedBasketDto) -> Html {
    let mut cats: Vec<Category> = Vec::new();
    for l in &q.lines {
        if !cats.contains(&l.category) {
            cats.push(l.category);
        }
    }
    html! {
        <>
        <div class="table-wrap">
        <table class="table compact priced">
            <thead><tr>
                <th>{ t(lang, Key::Item) }</th>
                <th class="num">{ t(lang, Key::Quantity) }</th>
                <th class="num">{ t(lang, Key::Gross) }</th>
                <th class="num">{ t(lang, Key::TierDiscount) }</th>
                <th class="num">{ t(lang, Key::CouponDiscount) }</th>
                <th class="num">{ t(lang, Key::Net) }</th>
            </tr></thead>
            <tbody>
                { for cats.iter().map(|cat| html! {
                    <>
                        <tr class="cat-row"><th colspan="6">{ code_name(lang, category_code(*cat)) }</th></tr>
                        { for q.lines.iter().filter(|l| l.category == *cat).map(|l| html! {
                            <tr>
                                <td>{ &l.description }</td>
                                <td class="num">{ &l.quantity }</td>
                                <td class="num">{ yuan(&l.gross) }</td>
                                <td class="num tier-discount">
                                    if parse_fen(&l.tier_discount).unwrap_or(0) > 0 {
                                        { format!("−{} ({}%)", yuan(&l.tier_discount), l.discount_percent) }
                                    } else { { "—" } }
                                </td>
                                <td class="num">{ if parse_fen(&l.coupon_discount).unwrap_or(0) > 0 { format!("−{}", yuan(&l.coupon_discount)) } else { "—".into() } }</td>
                                <td class="num">{ yuan(&l.net) }</td>
                            </tr>
                        }) }
                    </>
                }) }
            </tbody>
        </table>
        </div>
        <dl class="facts totals" id="totals">
            <dt>{ t(lang, Key::Subtotal) }</dt><dd class="num">{ yuan(&q.subtotal) }</dd>
            <dt>{ t(lang, Key::TierDiscount) }</dt><dd class="num" id="total-tier-discount">{ format!("−{}", yuan(&q.tier_discount)) }</dd>
            <dt>{ t(lang, Key::CouponDiscount) }</dt><dd class="num" id="total-coupon-discount">{ format!("−{}", yuan(&q.coupon_discount)) }</dd>
            { for q.coupons.iter().map(|c| html! { <><dt class="sub">{ &c.name }</dt><dd class="num">{ format!("−{}", yuan(&c.discount)) }</dd></> }) }
            if q.points_redeemed > 0 {
                <dt>{ t(lang, Key::PointsUsed) }</dt><dd class="num">{ format!("{} (−{})", q.points_redeemed, yuan(&q.points_value)) }</dd>
            }
            <dt><strong>{ t(lang, Key::MemberPays) }</strong></dt><dd class="num big" id="member-pays"><strong>{ yuan(&q.member_pays) }</strong></dd>
            <dt>{ t(lang, Key::PointsEarned) }</dt><dd class="num">{ q.points_earned }</dd>
        </dl>
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct ReceiptPageProps {
    pub session: Session,
    pub checkout_id: String,
}

/// A stored receipt (`#/receipts/<id>`): shown, printable, voidable with `membership.void`.
#[function_component(ReceiptPage)]
pub fn receipt_page(props: &ReceiptPageProps) -> Html {
    let lang = use_lang();
    let state = use_state(|| None::<Result<Rc<ReceiptDto>, ApiError>>);
    {
        let state = state.clone();
        use_effect_with(props.checkout_id.clone(), move |id| {
            let id = id.clone();
            spawn_local(async move { state.set(Some(club::receipt(&id).await.map(Rc::new))) });
        });
    }
    match &*state {
        None => html! { <section class="page"><Loading /></section> },
        Some(Err(e)) => {
            html! { <section class="page"><ErrorLine text={error_message(e, lang)} /></section> }
        }
        Some(Ok(r)) => {
            html! { <Receipt receipt={r.clone()} session={props.session.clone()} member_id={None::<String>} /> }
        }
    }
}

#[derive(Properties)]
struct ReceiptProps {
    receipt: Rc<ReceiptDto>,
    session: Session,
    member_id: Option<String>,
}

impl PartialEq for ReceiptProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.receipt, &other.receipt)
            && self.session == other.session
            && self.member_id == other.member_id
    }
}

/// The receipt, printable on a receipt printer (see the print stylesheet).
#[function_component(Receipt)]
fn receipt_view(props: &ReceiptProps) -> Html {
    let lang = use_lang();
    let current = use_state(|| props.receipt.clone());
    let r = &*current;
    let can_void = props.session.can("membership.void") && !r.voided;
    // Void: a reason, a confirmation, one key per attempt.
    let voiding = use_state(|| false);
    let reason = use_state(String::new);
    let reason_error = use_state(|| None::<String>);
    let confirm = use_state(|| false);
    let void_key = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let void_error = use_state(|| None::<String>);
    let open_void = {
        let voiding = voiding.clone();
        Callback::from(move |_: MouseEvent| voiding.set(true))
    };
    let on_reason = {
        let (reason, reason_error, void_key) =
            (reason.clone(), reason_error.clone(), void_key.clone());
        Callback::from(move |v: String| {
            reason.set(v);
            reason_error.set(None);
            void_key.set(None);
        })
    };
    let submit_void = {
        let (reason, reason_error, confirm, void_key) = (
            reason.clone(),
            reason_error.clone(),
            confirm.clone(),
            void_key.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if reason.trim().is_empty() {
                reason_error.set(Some(t(lang, Key::FieldRequired).to_string()));
                return;
            }
            if void_key.is_none() {
                void_key.set(Some(crate::api::new_idempotency_key()));
            }
            confirm.set(true);
        })
    };
    let run_void = {
        let (current, reason, confirm, void_key, busy, void_error, voiding) = (
            current.clone(),
            reason.clone(),
            confirm.clone(),
            void_key.clone(),
            busy.clone(),
            void_error.clone(),
            voiding.clone(),
        );
        Callback::from(move |()| {
            let Some(key) = (*void_key).clone() else {
                return;
            };
            if *busy {
                return;
            }
            busy.set(true);
            let id = current.checkout_id.clone();
            let body = ReasonRequest {
                reason: reason.trim().to_string(),
            };
            let (current, confirm, busy, void_error, voiding, void_key) = (
                current.clone(),
                confirm.clone(),
                busy.clone(),
                void_error.clone(),
                voiding.clone(),
                void_key.clone(),
            );
            spawn_local(async move {
                let result = club::void_checkout(&id, &body, &key).await;
                busy.set(false);
                match result {
                    Ok(r) => {
                        confirm.set(false);
                        voiding.set(false);
                        void_key.set(None);
                        void_error.set(None);
                        current.set(Rc::new(r));
                    }
                    Err(e) => void_error.set(Some(error_message(&e, lang))),
                }
            });
        })
    };
    let cancel_void = {
        let (confirm, void_error) = (confirm.clone(), void_error.clone());
        Callback::from(move |()| {
            confirm.set(false);
            void_error.set(None);
        })
    };
    // The receipt starts at the top, whatever the basket's scroll was.
    use_effect_with((), |_| {
        if let Some(w) = web_sys::window() {
            w.scroll_to_with_x_and_y(0.0, 0.0);
        }
    });
    let print = Callback::from(|_: MouseEvent| {
        if let Some(w) = web_sys::window() {
            let _ = w.print();
        }
    });
    html! {
        <section class="page">
            <div class="page-head no-print">
                <h1>
                    { t(lang, if props.member_id.is_some() { Key::CheckoutDone } else { Key::Receipt }) }
                    if r.voided {
                        <span class="badge muted" id="voided">{ code_name(lang, "voided") }</span>
                    }
                </h1>
                <div class="row-actions">
                    <button class="btn primary" id="print-receipt" onclick={print}>{ t(lang, Key::Print) }</button>
                    if can_void && !*voiding {
                        <button class="btn danger-text" id="void-checkout" onclick={open_void}>{ t(lang, Key::VoidCheckout) }</button>
                    }
                    if let Some(member_id) = &props.member_id {
                        <a class="btn" id="back-to-member" href={member_hash(member_id)}>{ t(lang, Key::BackToMember) }</a>
                    }
                </div>
            </div>
            if *voiding && can_void {
                <form class="card form-card no-print" id="void-form" onsubmit={submit_void}>
                    <Field name="reason" id="void-reason" label={t(lang, Key::VoidReason)}
                        value={(*reason).clone()} oninput={on_reason} error={(*reason_error).clone()} maxlength="200" />
                    <div class="form-actions">
                        <button type="submit" class="btn primary">{ t(lang, Key::Continue) }</button>
                    </div>
                </form>
            }
            if *confirm {
                <ConfirmDialog title={t(lang, Key::VoidTitle)}
                    body={t(lang, Key::VoidBody).replace("{amount}", &yuan(&r.basket.member_pays))}
                    confirm_label={t(lang, Key::VoidCheckout)} on_confirm={run_void} on_cancel={cancel_void}
                    busy={*busy} error={(*void_error).clone()} />
            }
            <div class="receipt card" id="receipt">
                <h2>{ store_name(&props.session.me.stores, &r.store_id).unwrap_or("") }</h2>
                <p class="center">{ t(lang, Key::Receipt) }</p>
                <dl class="facts">
                    <dt>{ t(lang, Key::Time) }</dt><dd>{ format_time(&r.at) }</dd>
                    <dt>{ t(lang, Key::Cashier) }</dt><dd>{ &r.cashier }</dd>
                    <dt>{ t(lang, Key::CardNo) }</dt><dd>{ &r.masked_card_no }</dd>
                </dl>
                <table class="receipt-lines">
                    <tbody>
                        { for r.basket.lines.iter().map(|l| html! {
                            <>
                                <tr><td colspan="2">{ &l.description }{ format!(" ×{}", l.quantity) }</td></tr>
                                <tr class="sub">
                                    <td>{ code_name(lang, category_code(l.category)) }
                                        if parse_fen(&l.tier_discount).unwrap_or(0) > 0 {
                                            { format!(" −{}%", l.discount_percent) }
                                        }
                                    </td>
                                    <td class="num">{ yuan(&l.net) }</td>
                                </tr>
                            </>
                        }) }
                    </tbody>
                </table>
                <dl class="facts totals">
                    <dt>{ t(lang, Key::Subtotal) }</dt><dd class="num">{ yuan(&r.basket.subtotal) }</dd>
                    <dt>{ t(lang, Key::TierDiscount) }</dt><dd class="num">{ format!("−{}", yuan(&r.basket.tier_discount)) }</dd>
                    <dt>{ t(lang, Key::CouponDiscount) }</dt><dd class="num">{ format!("−{}", yuan(&r.basket.coupon_discount)) }</dd>
                    if r.basket.points_redeemed > 0 {
                        <dt>{ t(lang, Key::PointsUsed) }</dt><dd class="num">{ format!("{} (−{})", r.basket.points_redeemed, yuan(&r.basket.points_value)) }</dd>
                    }
                    <dt><strong>{ t(lang, Key::MemberPays) }</strong></dt><dd class="num"><strong>{ yuan(&r.basket.member_pays) }</strong></dd>
                    { for r.tenders.iter().map(|td| html! {
                        <><dt class="sub">{ code_name(lang, tender_code(td.kind)) }</dt><dd class="num">{ yuan(&td.amount) }</dd></>
                    }) }
                    <dt>{ t(lang, Key::PrincipalAfter) }</dt><dd class="num" id="receipt-principal">{ yuan(&r.principal_after) }</dd>
                    <dt>{ t(lang, Key::BonusAfter) }</dt><dd class="num" id="receipt-bonus">{ yuan(&r.bonus_after) }</dd>
                    <dt>{ t(lang, Key::PointsEarned) }</dt><dd class="num">{ r.basket.points_earned }</dd>
                    <dt>{ t(lang, Key::RedeemablePoints) }</dt><dd class="num">{ r.redeemable_points_after }</dd>
                </dl>
                <p class="center small">{ &r.checkout_id }</p>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(desc: &str, qty: &str, price: &str) -> LineDraft {
        LineDraft {
            category: "parts".into(),
            description: desc.into(),
            quantity: qty.into(),
            unit_price: price.into(),
        }
    }

    #[test]
    fn the_basket_is_checked_line_by_line() {
        let ok = basket(&[line("机油", "4.5", "68"), line("滤芯", "1", "35.5")]);
        let lines = ok.unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].unit_price, "68.00");
        assert_eq!(lines[1].unit_price, "35.50");
        assert_eq!(lines[0].category, Category::Parts);
        assert_eq!(
            basket(&[line("x", "1", "1"), line("", "1", "1")]).err(),
            Some(1)
        );
        assert_eq!(basket(&[line("x", "0", "1")]).err(), Some(0));
        assert_eq!(basket(&[line("x", "1", "1.234")]).err(), Some(0));
        assert_eq!(basket(&[]).err(), Some(0));
    }

    #[test]
    fn tenders_split_and_must_match() {
        assert_eq!(
            default_tenders("500.00", "5206.85"),
            vec![("stored_value".to_string(), "500.00".to_string())]
        );
        assert_eq!(
            default_tenders("500.00", "120.00"),
            vec![
                ("stored_value".to_string(), "120.00".to_string()),
                ("cash".to_string(), "380.00".to_string())
            ]
        );
        let split = vec![
            ("stored_value".to_string(), "300".to_string()),
            ("cash".to_string(), "200.00".to_string()),
        ];
        assert_eq!(tender_gap("500.00", &split), Some(0));
        assert_eq!(tender_gap("600.00", &split), Some(10_000));
        assert_eq!(tender_gap("400.00", &split), Some(-10_000));
        assert_eq!(tender_gap("500.00", &[("cash".into(), "x".into())]), None);
    }

    #[test]
    fn category_codes_round_trip() {
        for code in CATEGORIES {
            assert_eq!(category_code(category_of(code)), code);
        }
    }
}

/// The manager's discount override as typed: none when the percent is empty; else a percent in
/// (0, 100] with at most two decimals and a reason.
pub fn discount_override(
    percent: &str,
    reason: &str,
) -> Result<Option<dms_api_types::membership::DiscountOverrideDto>, Key> {
    let p = percent.trim().trim_end_matches('%');
    if p.is_empty() {
        return Ok(None);
    }
    let ok = p.parse::<f64>().is_ok_and(|v| v > 0.0 && v <= 100.0)
        && p.split_once('.').is_none_or(|(_, d)| d.len() <= 2)
        && p.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !ok {
        return Err(Key::OverridePercentInvalid);
    }
    if reason.trim().is_empty() {
        return Err(Key::OverrideReasonRequired);
    }
    Ok(Some(dms_api_types::membership::DiscountOverrideDto {
        percent: p.to_string(),
        reason: reason.trim().to_string(),
    }))
}

#[cfg(test)]
mod override_tests {
    use super::*;

    #[test]
    fn an_override_needs_a_percent_in_range_and_a_reason() {
        assert_eq!(discount_override(" ", "x").map(|o| o.is_none()), Ok(true));
        let o = discount_override("15%", " 老客户关怀 ").unwrap().unwrap();
        assert_eq!(
            (o.percent.as_str(), o.reason.as_str()),
            ("15", "老客户关怀")
        );
        assert_eq!(
            discount_override("0", "x").err(),
            Some(Key::OverridePercentInvalid)
        );
        assert_eq!(
            discount_override("101", "x").err(),
            Some(Key::OverridePercentInvalid)
        );
        assert_eq!(
            discount_override("12.345", "x").err(),
            Some(Key::OverridePercentInvalid)
        );
        assert_eq!(
            discount_override("-5", "x").err(),
            Some(Key::OverridePercentInvalid)
        );
        assert_eq!(
            discount_override("10", "").err(),
            Some(Key::OverrideReasonRequired)
        );
    }
}
