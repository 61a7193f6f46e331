//! 会员 Member club: the search (card number, phone or name, debounced as the user types, the
//! old results stay until the new ones arrive), and the member page (tier, balances, both
//! points tracks, coupons, entitlements, ledgers) with the top-up (bonus shown before
//! confirming; one Idempotency-Key per attempt).

use crate::api::{self, club, ApiError};
use crate::components::common::{ConfirmDialog, Empty, ErrorLine, Field, Loading, Select};
use crate::forms::{error_message, errors_of, Failure};
use crate::i18n::{code_name, t, Key, Lang};
use crate::money::{bonus_rules, fmt_fen, parse_fen, tier_info, topup_bonus, yuan, BonusRule};
use crate::route::{checkout_hash, customer_hash, member_hash, receipt_hash};
use crate::session::{format_time, use_lang, Session};
use dms_api_types::membership::{
    CardDto, CardTransactionDto, CheckoutSummaryDto, CouponDto, CouponTemplateDto, EntitlementDto,
    MemberDto, PaymentMethod, PointsTransactionDto, ReplaceCardRequest, ReturnCardRequest,
    SetPinRequest, TopUpDto, TopUpRequest,
};
use dms_api_types::{CustomerDto, FieldError};
use gloo_timers::callback::Timeout;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

/// How long typing must pause before a search goes out.
pub const DEBOUNCE_MS: u32 = 300;

/// What a query is searched as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Too short to search.
    None,
    /// Digits: a card number (exact) and a phone (contains).
    Digits(String),
    /// A name (contains).
    Name(String),
}

pub fn classify(query: &str) -> Query {
    let q = query.trim();
    if q.chars().count() < 2 {
        Query::None
    } else if q.bytes().all(|b| b.is_ascii_digit()) {
        if q.len() < 4 {
            Query::None
        } else {
            Query::Digits(q.to_string())
        }
    } else {
        Query::Name(q.to_string())
    }
}

/// One row of the search results.
#[derive(Debug, Clone)]
pub struct Hit {
    pub customer: Option<CustomerDto>,
    pub member: Option<MemberDto>,
    pub cards: Vec<CardDto>,
}

async fn search(query: Query, can_read_customers: bool) -> Result<Vec<Hit>, ApiError> {
    let mut hits: Vec<Hit> = Vec::new();
    if let Query::Digits(digits) = &query {
        if digits.len() >= 6 {
            match club::lookup_card(digits).await {
                Ok(card) => {
                    let member = club::member(&card.member_id).await.ok();
                    let customer = match &member {
                        Some(m) if can_read_customers => api::customer(&m.customer_id).await.ok(),
                        _ => None,
                    };
                    let cards = match &member {
                        Some(m) => club::cards_of(&m.id)
                            .await
                            .map(|l| l.items)
                            .unwrap_or_default(),
                        None => vec![card],
                    };
                    hits.push(Hit {
                        customer,
                        member,
                        cards,
                    });
                }
                Err(e) if e.status() == Some(404) || e.status() == Some(422) => {}
                Err(e) => return Err(e),
            }
        }
    }
    // Name, phone, card number or plate: the server's member search (`GET /members?q=`).
    let text = match &query {
        Query::Digits(t) | Query::Name(t) => t.clone(),
        Query::None => return Ok(hits),
    };
    let found: dms_api_types::membership::MemberPage = api::get_json(&api::with_query(
        "/members",
        &[("q", Some(text.as_str())), ("limit", Some("8"))],
    ))
    .await?;
    for member in found.items {
        if hits
            .iter()
            .any(|h| h.member.as_ref().is_some_and(|x| x.id == member.id))
        {
            continue;
        }
        let customer = if can_read_customers {
            api::customer(&member.customer_id).await.ok()
        } else {
            None
        };
        let cards = club::cards_of(&member.id)
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        hits.push(Hit {
            customer,
            member: Some(member),
            cards,
        });
    }
    Ok(hits)
}

#[derive(Properties, PartialEq)]
pub struct SearchProps {
    pub session: Session,
}

#[function_component(MemberSearch)]
pub fn member_search(props: &SearchProps) -> Html {
    let lang = use_lang();
    let can_customers = props.session.can("customers.read");
    let query = use_state(String::new);
    let results = use_state(|| None::<Rc<Vec<Hit>>>);
    let searching = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    // Answers to an older query are dropped.
    let seq = use_mut_ref(|| 0u64);
    // For the tier names.
    let programme = use_state(|| serde_json::Value::Null);
    {
        let programme = programme.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                if let Ok(p) = club::programme(None).await {
                    programme.set(p.programme);
                }
            });
        });
    }

    {
        let (results, searching, error, seq) = (
            results.clone(),
            searching.clone(),
            error.clone(),
            seq.clone(),
        );
        use_effect_with((*query).clone(), move |raw| {
            let q = classify(raw);
            *seq.borrow_mut() += 1;
            let mine = *seq.borrow();
            let timer = if q == Query::None {
                searching.set(false);
                // A query being retyped keeps the last results on screen; an empty box clears.
                if raw.trim().is_empty() {
                    results.set(None);
                }
                None
            } else {
                Some(Timeout::new(DEBOUNCE_MS, move || {
                    searching.set(true);
                    spawn_local(async move {
                        let answer = search(q, can_customers).await;
                        if *seq.borrow() != mine {
                            return;
                        }
                        searching.set(false);
                        match answer {
                            Ok(hits) => {
                                error.set(None);
                                results.set(Some(Rc::new(hits)));
                            }
                            Err(e) => error.set(Some(e)),
                        }
                    });
                }))
            };
            move || drop(timer)
        });
    }

    let oninput = {
        let query = query.clone();
        Callback::from(move |v: String| query.set(v))
    };
    // Enter opens the first member found (keyboard-only cashier flow).
    let onsubmit = {
        let results = results.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let first = results.as_ref().and_then(|hits| {
                hits.iter()
                    .find_map(|h| h.member.as_ref().map(|m| m.id.clone()))
            });
            if let (Some(id), Some(w)) = (first, web_sys::window()) {
                let _ = w.location().set_hash(&member_hash(&id));
            }
        })
    };

    let list = match &*results {
        None => html! { <p class="muted search-help">{ t(lang, Key::MemberSearchHelp) }</p> },
        Some(hits) if hits.is_empty() => html! { <Empty text={t(lang, Key::NoMatches)} /> },
        Some(hits) => html! {
            <div class="table-wrap">
            <table class="table" id="member-results">
                <thead><tr>
                    <th>{ t(lang, Key::CustomerName) }</th>
                    <th>{ t(lang, Key::Mobile) }</th>
                    <th>{ t(lang, Key::Tier) }</th>
                    <th>{ t(lang, Key::Cards) }</th>
                    <th>{ t(lang, Key::Balance) }</th>
                    <th></th>
                </tr></thead>
                <tbody>
                    { for hits.iter().map(|h| {
                        let name = h.customer.as_ref().map(|c| c.name.clone()).unwrap_or_else(|| "—".into());
                        let phone = h.customer.as_ref().map(|c| c.phone.clone()).unwrap_or_default();
                        let card = h.cards.iter().find(|c| c.status == "active").or(h.cards.first());
                        html! {
                            <tr class="hit">
                                <td>{ name }</td>
                                <td class="nowrap">{ phone }</td>
                                <td>
                                    if let Some(m) = &h.member {
                                        <span class={classes!("badge", "tier", m.tier_code.clone())}>{ tier_name(&programme, &m.tier_code) }</span>
                                    } else {
                                        <span class="muted">{ t(lang, Key::NotAMember) }</span>
                                    }
                                </td>
                                <td class="nowrap">{ card.map(|c| c.masked_card_no.clone()).unwrap_or_default() }</td>
                                <td class="nowrap num">{ card.map(|c| yuan(&c.balance)).unwrap_or_default() }</td>
                                <td class="row-actions">
                                    if let Some(m) = &h.member {
                                        <a class="btn small primary open-member" href={member_hash(&m.id)}>{ t(lang, Key::Open) }</a>
                                    } else if let Some(c) = &h.customer {
                                        <a class="btn small" href={customer_hash(&c.id)}>{ t(lang, Key::View) }</a>
                                    }
                                </td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
        },
    };

    html! {
        <section class="page">
            <h1>{ t(lang, Key::NavMembers) }</h1>
            <form class="card search-card" {onsubmit} role="search">
                <div class="search-row">
                    <Field name="q" id="member-search" label={t(lang, Key::MemberSearchLabel)}
                        value={(*query).clone()} {oninput} maxlength="32" autofocus=true />
                    <span class={classes!("search-status", (!*searching).then_some("idle"))} aria-live="polite">
                        <span class="spinner small" aria-hidden="true"></span>
                        { t(lang, Key::Searching) }
                    </span>
                </div>
            </form>
            if let Some(e) = &*error {
                <ErrorLine text={error_message(e, lang)} />
            }
            <div class="card">{ list }</div>
        </section>
    }
}

// ---------------------------------------------------------------- the member page

#[derive(Debug, Clone)]
struct MemberData {
    member: MemberDto,
    customer: Option<CustomerDto>,
    cards: Vec<CardDto>,
    coupons: Vec<CouponDto>,
    templates: Vec<CouponTemplateDto>,
    entitlements: Vec<EntitlementDto>,
    card_txns: Vec<CardTransactionDto>,
    points_txns: Vec<PointsTransactionDto>,
    checkouts: Vec<CheckoutSummaryDto>,
    programme: serde_json::Value,
}

async fn load_member(id: String, can_customers: bool) -> Result<MemberData, ApiError> {
    let member = club::member(&id).await?;
    let customer = if can_customers {
        api::customer(&member.customer_id).await.ok()
    } else {
        None
    };
    let cards = club::cards_of(&id).await?.items;
    let coupons = club::coupons_of(&id)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let templates = club::coupon_templates()
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let entitlements = club::entitlements_of(&id)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let main_card = cards
        .iter()
        .find(|c| c.status == "active")
        .or(cards.first());
    let checkouts = match main_card {
        Some(c) => club::checkouts_of(&c.id)
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let card_txns = match main_card {
        Some(c) => club::card_transactions(&c.id)
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let points_txns = club::points_transactions(&id)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let programme = club::programme(Some(&member.store_id))
        .await
        .map(|p| p.programme)
        .unwrap_or(serde_json::Value::Null);
    Ok(MemberData {
        member,
        customer,
        cards,
        coupons,
        templates,
        entitlements,
        card_txns,
        points_txns,
        checkouts,
        programme,
    })
}

/// A coupon template's name (or a short id when the template is not readable).
pub fn coupon_name(templates: &[CouponTemplateDto], template_id: &str) -> String {
    templates
        .iter()
        .find(|t| t.id == template_id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| template_id.chars().take(8).collect())
}

fn tier_name(programme: &serde_json::Value, code: &str) -> String {
    tier_info(programme, code)
        .map(|(name, _)| name)
        .unwrap_or_else(|| code.to_string())
}

/// The text of a bonus rule: "满 1000.00 送 100.00".
pub fn rule_text(lang: Lang, rule: &BonusRule) -> String {
    t(lang, Key::BonusRuleText)
        .replace("{min}", &fmt_fen(rule.min))
        .replace("{bonus}", &fmt_fen(rule.bonus))
}

#[derive(Properties, PartialEq)]
pub struct MemberPageProps {
    pub session: Session,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
struct TopUpDraft {
    amount: String,
    method: String,
}

#[function_component(MemberPage)]
pub fn member_page(props: &MemberPageProps) -> Html {
    let lang = use_lang();
    let session = &props.session;
    let can_topup = session.can("membership.topup");
    let can_checkout = session.can("membership.checkout");
    let can_customers = session.can("customers.read");
    let data = use_state(|| None::<Result<Rc<MemberData>, ApiError>>);
    let version = use_state(|| 0u32);
    // Top-up: the card, the form, the attempt's key, the confirmation, the result.
    let topup_card = use_state(|| None::<CardDto>);
    let draft = use_state(|| TopUpDraft {
        amount: String::new(),
        method: "cash".into(),
    });
    let attempt_key = use_state(|| None::<String>);
    let confirming = use_state(|| false);
    let busy = use_state(|| false);
    let failure = use_state(|| None::<Failure>);
    let done = use_state(|| None::<TopUpDto>);
    let can_cards = session.can("membership.cards");
    // Report lost / unblock: the card and the action, asked first.
    let card_action = use_state(|| None::<(CardDto, &'static str)>);
    let card_busy = use_state(|| false);
    let card_error = use_state(|| None::<String>);
    let card_notice = use_state(|| false);
    // PIN at the desk: typed by the customer, never shown, dropped after sending.
    let pin_card = use_state(|| None::<CardDto>);
    let pins = use_state(|| (String::new(), String::new(), String::new()));
    let pin_errors = use_state(|| (None::<String>, None::<String>, None::<String>));
    let pin_general = use_state(|| None::<String>);
    let pin_busy = use_state(|| false);
    let pin_saved = use_state(|| false);
    // Replace / return: (card, "replace" | "return"), the return's reason and refund method,
    // the attempt's key, the outcome line.
    let op = use_state(|| None::<(CardDto, &'static str)>);
    let op_reason = use_state(String::new);
    let op_method = use_state(|| "cash".to_string());
    let op_reason_error = use_state(|| None::<String>);
    let op_confirm = use_state(|| false);
    let op_key = use_state(|| None::<String>);
    let op_busy = use_state(|| false);
    let op_error = use_state(|| None::<String>);
    let op_done = use_state(|| None::<String>);

    {
        let data = data.clone();
        let id = props.id.clone();
        use_effect_with((id, *version), move |(id, _)| {
            let id = id.clone();
            spawn_local(async move {
                data.set(Some(load_member(id, can_customers).await.map(Rc::new)));
            });
        });
    }

    let d = match &*data {
        None => return html! { <section class="page"><Loading /></section> },
        Some(Err(e)) => {
            let version = version.clone();
            return html! {
                <section class="page">
                    <ErrorLine text={error_message(e, lang)} retry={Callback::from(move |_| version.set(*version + 1))} />
                </section>
            };
        }
        Some(Ok(d)) => d.clone(),
    };
    let m = &d.member;
    let desk = html! {
        <crate::pages::member_actions::MemberDesk member_id={m.id.clone()} redeemable_points={m.redeemable_points}
            entitlements={d.entitlements.iter().map(|e| (e.code.clone(), e.name.clone(), e.left)).collect::<Vec<_>>()}
            can_checkout={can_checkout} can_cards={session.can("membership.cards")}
            can_override={session.can("membership.override")}
            on_done={let version = version.clone(); Callback::from(move |()| version.set(*version + 1))} />
    };
    let rules = bonus_rules(&d.programme);
    let amount_fen = parse_fen(&draft.amount).filter(|f| *f > 0);
    let bonus = amount_fen.and_then(|a| topup_bonus(&rules, a));

    let set_amount = {
        let (draft, attempt_key, failure) = (draft.clone(), attempt_key.clone(), failure.clone());
        Callback::from(move |v: String| {
            // A different amount is a new attempt.
            attempt_key.set(None);
            failure.set(None);
            draft.set(TopUpDraft {
                amount: v,
                ..(*draft).clone()
            });
        })
    };
    let set_method = {
        let (draft, attempt_key) = (draft.clone(), attempt_key.clone());
        Callback::from(move |v: String| {
            attempt_key.set(None);
            draft.set(TopUpDraft {
                method: v,
                ..(*draft).clone()
            });
        })
    };
    let submit_topup = {
        let (draft, attempt_key, confirming, failure) = (
            draft.clone(),
            attempt_key.clone(),
            confirming.clone(),
            failure.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if parse_fen(&draft.amount).filter(|f| *f > 0).is_none() {
                failure.set(Some(Failure::Local(vec![FieldError {
                    field: "amount".into(),
                    code: "amount".into(),
                    message: String::new(),
                }])));
                return;
            }
            failure.set(None);
            if attempt_key.is_none() {
                attempt_key.set(Some(api::new_idempotency_key()));
            }
            confirming.set(true);
        })
    };
    let run_topup = {
        let (topup_card, draft, attempt_key, confirming, busy, failure, done, version) = (
            topup_card.clone(),
            draft.clone(),
            attempt_key.clone(),
            confirming.clone(),
            busy.clone(),
            failure.clone(),
            done.clone(),
            version.clone(),
        );
        Callback::from(move |()| {
            if *busy {
                return;
            }
            let (Some(card), Some(key)) = ((*topup_card).clone(), (*attempt_key).clone()) else {
                return;
            };
            let method = match draft.method.as_str() {
                "bank_card" => PaymentMethod::BankCard,
                "transfer" => PaymentMethod::Transfer,
                "online" => PaymentMethod::Online,
                _ => PaymentMethod::Cash,
            };
            let body = TopUpRequest {
                amount: parse_fen(&draft.amount).map(fmt_fen).unwrap_or_default(),
                payment_method: method,
                terminal_id: None,
            };
            busy.set(true);
            let (topup_card, attempt_key, confirming, busy, failure, done, version, draft) = (
                topup_card.clone(),
                attempt_key.clone(),
                confirming.clone(),
                busy.clone(),
                failure.clone(),
                done.clone(),
                version.clone(),
                draft.clone(),
            );
            spawn_local(async move {
                let result = club::top_up(&card.id, &body, &key).await;
                busy.set(false);
                match result {
                    Ok(receipt) => {
                        confirming.set(false);
                        attempt_key.set(None);
                        topup_card.set(None);
                        draft.set(TopUpDraft {
                            amount: String::new(),
                            method: "cash".into(),
                        });
                        done.set(Some(receipt));
                        version.set(*version + 1);
                    }
                    // Same key on a retry: the server pays at most once.
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
        })
    };

    let topup_panel = match &*topup_card {
        None => html! {},
        Some(card) => {
            let errors = errors_of(&failure, lang, &["amount", "payment_method"]);
            let amount_error = errors
                .field("amount")
                .map(|_| t(lang, Key::AmountInvalid).to_string());
            let close = {
                let (topup_card, attempt_key, failure) =
                    (topup_card.clone(), attempt_key.clone(), failure.clone());
                Callback::from(move |_: MouseEvent| {
                    topup_card.set(None);
                    attempt_key.set(None);
                    failure.set(None);
                })
            };
            let methods: Vec<(String, String)> = ["cash", "bank_card", "transfer", "online"]
                .iter()
                .map(|c| (c.to_string(), code_name(lang, c)))
                .collect();
            html! {
                <form class="card form-card" id="topup-form" onsubmit={submit_topup}>
                    <h2>{ t(lang, Key::TopUp) }{ " · " }{ &card.masked_card_no }</h2>
                    if let (Some(general), false) = (&errors.general, *confirming) {
                        <p class="alert error" role="alert">{ general }</p>
                    }
                    <div class="form-grid">
                        <Field name="amount" id="topup-amount" label={t(lang, Key::TopUpAmount)}
                            value={draft.amount.clone()} oninput={set_amount} error={amount_error}
                            inputmode="decimal" maxlength="15" />
                        <Select name="payment_method" id="topup-method" label={t(lang, Key::PaymentMethod)}
                            value={draft.method.clone()} options={methods} onchange={set_method} />
                    </div>
                    <div class="bonus-preview" id="bonus-preview">
                        <strong>{ t(lang, Key::BonusPreview) }</strong>
                        { match (amount_fen, bonus) {
                            (Some(_), Some(rule)) => html! {
                                <span class="bonus-amount">{ format!("¥{} ({})", fmt_fen(rule.bonus), rule_text(lang, &rule)) }</span>
                            },
                            (Some(_), None) => html! { <span>{ "¥0.00" }</span> },
                            (None, _) => html! { <span class="muted">{ "—" }</span> },
                        } }
                        <ul class="rules">
                            { for rules.iter().map(|r| html! {
                                <li class={classes!(bonus.is_some_and(|b| b == *r).then_some("hit"))}>{ rule_text(lang, r) }</li>
                            }) }
                        </ul>
                    </div>
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary" id="topup-next">{ t(lang, Key::Continue) }</button>
                    </div>
                </form>
            }
        }
    };

    let topup_dialog = if *confirming {
        let amount = amount_fen.map(fmt_fen).unwrap_or_default();
        let bonus_text = bonus
            .map(|b| fmt_fen(b.bonus))
            .unwrap_or_else(|| "0.00".into());
        let body = t(lang, Key::TopUpConfirmBody)
            .replace("{amount}", &amount)
            .replace("{bonus}", &bonus_text)
            .replace("{method}", &code_name(lang, &draft.method))
            .replace(
                "{card}",
                &topup_card
                    .as_ref()
                    .map(|c| c.masked_card_no.clone())
                    .unwrap_or_default(),
            );
        let on_cancel = {
            let confirming = confirming.clone();
            Callback::from(move |()| confirming.set(false))
        };
        let error = match &*failure {
            Some(Failure::Server(e)) => Some(error_message(e, lang)),
            _ => None,
        };
        html! {
            <ConfirmDialog title={t(lang, Key::TopUpConfirmTitle)} {body}
                confirm_label={t(lang, Key::ConfirmTopUp)} on_confirm={run_topup} {on_cancel}
                busy={*busy} danger={false} {error} />
        }
    } else {
        html! {}
    };

    let card_dialog = match &*card_action {
        None => html! {},
        Some((card, action)) => {
            let lost = *action == "report-lost";
            let on_cancel = {
                let (card_action, card_error) = (card_action.clone(), card_error.clone());
                Callback::from(move |()| {
                    card_action.set(None);
                    card_error.set(None);
                })
            };
            let on_confirm = {
                let (card_action, card_busy, card_error, card_notice, version) = (
                    card_action.clone(),
                    card_busy.clone(),
                    card_error.clone(),
                    card_notice.clone(),
                    version.clone(),
                );
                let (id, action) = (card.id.clone(), *action);
                Callback::from(move |()| {
                    let (card_action, card_busy, card_error, card_notice, version, id) = (
                        card_action.clone(),
                        card_busy.clone(),
                        card_error.clone(),
                        card_notice.clone(),
                        version.clone(),
                        id.clone(),
                    );
                    card_busy.set(true);
                    spawn_local(async move {
                        let result = club::card_action(&id, action).await;
                        card_busy.set(false);
                        match result {
                            Ok(()) => {
                                card_action.set(None);
                                card_error.set(None);
                                card_notice.set(true);
                                version.set(*version + 1);
                            }
                            Err(e) => card_error.set(Some(error_message(&e, lang))),
                        }
                    });
                })
            };
            html! {
                <ConfirmDialog
                    title={t(lang, if lost { Key::ReportLostTitle } else { Key::UnblockTitle })}
                    body={t(lang, if lost { Key::ReportLostBody } else { Key::UnblockBody }).replace("{card}", &card.masked_card_no)}
                    confirm_label={t(lang, if lost { Key::ReportLost } else { Key::Unblock })}
                    {on_confirm} {on_cancel} busy={*card_busy} danger={lost}
                    error={(*card_error).clone()} />
            }
        }
    };

    let pin_panel = match &*pin_card {
        None => html! {},
        Some(card) => {
            let set = |which: u8| {
                let (pins, pin_errors) = (pins.clone(), pin_errors.clone());
                Callback::from(move |v: String| {
                    let mut p = (*pins).clone();
                    match which {
                        0 => p.0 = v,
                        1 => p.1 = v,
                        _ => p.2 = v,
                    }
                    pins.set(p);
                    pin_errors.set((None, None, None));
                })
            };
            let close = {
                let (pin_card, pins, pin_general) =
                    (pin_card.clone(), pins.clone(), pin_general.clone());
                Callback::from(move |_: MouseEvent| {
                    pins.set((String::new(), String::new(), String::new()));
                    pin_general.set(None);
                    pin_card.set(None);
                })
            };
            let submit = {
                let (pin_card, pins, pin_errors, pin_general, pin_busy, pin_saved, card_id) = (
                    pin_card.clone(),
                    pins.clone(),
                    pin_errors.clone(),
                    pin_general.clone(),
                    pin_busy.clone(),
                    pin_saved.clone(),
                    card.id.clone(),
                );
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    if *pin_busy {
                        return;
                    }
                    let (old, new, again) = (*pins).clone();
                    let bad = |p: &str| !is_pin(p);
                    let errs = (
                        (!old.is_empty() && bad(&old)).then(|| t(lang, Key::PinFormat).to_string()),
                        bad(&new).then(|| t(lang, Key::PinFormat).to_string()),
                        (!bad(&new) && new != again).then(|| t(lang, Key::PinMismatch).to_string()),
                    );
                    if errs.0.is_some() || errs.1.is_some() || errs.2.is_some() {
                        pin_errors.set(errs);
                        return;
                    }
                    pin_busy.set(true);
                    let body = SetPinRequest {
                        pin: new,
                        old_pin: (!old.is_empty()).then_some(old),
                    };
                    let (pin_card, pins, pin_general, pin_busy, pin_saved, card_id) = (
                        pin_card.clone(),
                        pins.clone(),
                        pin_general.clone(),
                        pin_busy.clone(),
                        pin_saved.clone(),
                        card_id.clone(),
                    );
                    spawn_local(async move {
                        let result = club::set_pin(&card_id, &body).await;
                        pin_busy.set(false);
                        // The PINs leave the page whatever the answer.
                        pins.set((String::new(), String::new(), String::new()));
                        match result {
                            Ok(()) => {
                                pin_general.set(None);
                                pin_card.set(None);
                                pin_saved.set(true);
                            }
                            Err(e) => pin_general.set(Some(error_message(&e, lang))),
                        }
                    });
                })
            };
            html! {
                <form class="card form-card" id="pin-form" onsubmit={submit} autocomplete="off">
                    <h2>{ t(lang, Key::SetPin) }{ " · " }{ &card.masked_card_no }</h2>
                    <p class="muted">{ t(lang, Key::PinHint) }</p>
                    if let Some(g) = &*pin_general {
                        <p class="alert error" role="alert">{ g }</p>
                    }
                    <div class="form-grid">
                        <Field name="old_pin" id="pin-old" label={t(lang, Key::OldPin)} kind="password"
                            value={pins.0.clone()} oninput={set(0)} error={pin_errors.0.clone()}
                            inputmode="numeric" maxlength="6" autocomplete="off" />
                        <Field name="pin" id="pin-new" label={t(lang, Key::NewPin)} kind="password"
                            value={pins.1.clone()} oninput={set(1)} error={pin_errors.1.clone()}
                            inputmode="numeric" maxlength="6" autocomplete="off" />
                        <Field name="pin_again" id="pin-again" label={t(lang, Key::RepeatPin)} kind="password"
                            value={pins.2.clone()} oninput={set(2)} error={pin_errors.2.clone()}
                            inputmode="numeric" maxlength="6" autocomplete="off" />
                    </div>
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary" disabled={*pin_busy}>{ t(lang, Key::Save) }</button>
                    </div>
                </form>
            }
        }
    };

    let op_panel = match &*op {
        None => html! {},
        Some((card, kind)) => {
            let returning = *kind == "return";
            let close = {
                let (op, op_error) = (op.clone(), op_error.clone());
                Callback::from(move |_: MouseEvent| {
                    op.set(None);
                    op_error.set(None);
                })
            };
            let on_reason = {
                let (op_reason, op_key, op_reason_error) =
                    (op_reason.clone(), op_key.clone(), op_reason_error.clone());
                Callback::from(move |v: String| {
                    op_reason.set(v);
                    op_key.set(None);
                    op_reason_error.set(None);
                })
            };
            let on_method = {
                let (op_method, op_key) = (op_method.clone(), op_key.clone());
                Callback::from(move |v: String| {
                    op_method.set(v);
                    op_key.set(None);
                })
            };
            let submit = {
                let (op_reason, op_reason_error, op_confirm, op_key) = (
                    op_reason.clone(),
                    op_reason_error.clone(),
                    op_confirm.clone(),
                    op_key.clone(),
                );
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    if returning && op_reason.trim().is_empty() {
                        op_reason_error.set(Some(t(lang, Key::FieldRequired).to_string()));
                        return;
                    }
                    if op_key.is_none() {
                        op_key.set(Some(api::new_idempotency_key()));
                    }
                    op_confirm.set(true);
                })
            };
            let methods: Vec<(String, String)> = ["cash", "bank_card", "transfer", "online"]
                .iter()
                .map(|c| (c.to_string(), code_name(lang, c)))
                .collect();
            html! {
                <form class="card form-card" id="card-op-form" onsubmit={submit}>
                    <h2>{ t(lang, if returning { Key::ReturnCard } else { Key::ReplaceCard }) }{ " · " }{ &card.masked_card_no }</h2>
                    if returning {
                        <div class="form-grid">
                            <Select name="refund_method" id="op-method" label={t(lang, Key::RefundMethod)}
                                value={(*op_method).clone()} options={methods} onchange={on_method} />
                            <Field name="reason" id="op-reason" label={t(lang, Key::Reason)}
                                value={(*op_reason).clone()} oninput={on_reason}
                                error={(*op_reason_error).clone()} maxlength="200" />
                        </div>
                    }
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary">{ t(lang, Key::Continue) }</button>
                    </div>
                </form>
            }
        }
    };
    let op_dialog = match (&*op, *op_confirm) {
        (Some((card, kind)), true) => {
            let returning = *kind == "return";
            let body = t(
                lang,
                if returning {
                    Key::ReturnBody
                } else {
                    Key::ReplaceBody
                },
            )
            .replace("{card}", &card.masked_card_no)
            .replace("{principal}", &yuan(&card.principal))
            .replace("{bonus}", &yuan(&card.bonus));
            let on_cancel = {
                let (op_confirm, op_error) = (op_confirm.clone(), op_error.clone());
                Callback::from(move |()| {
                    op_confirm.set(false);
                    op_error.set(None);
                })
            };
            let on_confirm = {
                let (
                    op,
                    op_reason,
                    op_method,
                    op_confirm,
                    op_key,
                    op_busy,
                    op_error,
                    op_done,
                    version,
                ) = (
                    op.clone(),
                    op_reason.clone(),
                    op_method.clone(),
                    op_confirm.clone(),
                    op_key.clone(),
                    op_busy.clone(),
                    op_error.clone(),
                    op_done.clone(),
                    version.clone(),
                );
                let card_id = card.id.clone();
                Callback::from(move |()| {
                    let Some(key) = (*op_key).clone() else { return };
                    if *op_busy {
                        return;
                    }
                    op_busy.set(true);
                    let method = match op_method.as_str() {
                        "bank_card" => PaymentMethod::BankCard,
                        "transfer" => PaymentMethod::Transfer,
                        "online" => PaymentMethod::Online,
                        _ => PaymentMethod::Cash,
                    };
                    let reason = op_reason.trim().to_string();
                    let (op, op_confirm, op_key, op_busy, op_error, op_done, version, card_id) = (
                        op.clone(),
                        op_confirm.clone(),
                        op_key.clone(),
                        op_busy.clone(),
                        op_error.clone(),
                        op_done.clone(),
                        version.clone(),
                        card_id.clone(),
                    );
                    spawn_local(async move {
                        let result = if returning {
                            club::return_card(
                                &card_id,
                                &ReturnCardRequest {
                                    refund_method: method,
                                    reason,
                                },
                                &key,
                            )
                            .await
                            .map(|r| format!("{}{}", t(lang, Key::CardReturned), yuan(&r.refunded)))
                        } else {
                            club::replace_card(
                                &card_id,
                                &ReplaceCardRequest {
                                    new_card_no: None,
                                    new_chip_uid: None,
                                },
                                &key,
                            )
                            .await
                            .map(|r| {
                                format!(
                                    "{}{}",
                                    t(lang, Key::CardReplaced),
                                    r.new_card.masked_card_no
                                )
                            })
                        };
                        op_busy.set(false);
                        match result {
                            Ok(line) => {
                                op_confirm.set(false);
                                op_key.set(None);
                                op.set(None);
                                op_error.set(None);
                                op_done.set(Some(line));
                                version.set(*version + 1);
                            }
                            Err(e) => op_error.set(Some(error_message(&e, lang))),
                        }
                    });
                })
            };
            html! {
                <ConfirmDialog title={t(lang, if returning { Key::ReturnTitle } else { Key::ReplaceTitle })}
                    {body} confirm_label={t(lang, if returning { Key::ReturnCard } else { Key::ReplaceCard })}
                    {on_confirm} {on_cancel} busy={*op_busy} error={(*op_error).clone()} />
            }
        }
        _ => html! {},
    };

    let (tier_label, discounts) =
        tier_info(&d.programme, &m.tier_code).unwrap_or_else(|| (m.tier_code.clone(), Vec::new()));

    html! {
        <section class="page wide" id="member-page">
            <div class="page-head">
                <h1>
                    { d.customer.as_ref().map(|c| c.name.clone()).unwrap_or_else(|| t(lang, Key::Member).to_string()) }
                    <span class={classes!("badge", "tier", m.tier_code.clone())} id="member-tier">{ tier_label }</span>
                    <span class="badge muted">{ code_name(lang, &m.status) }</span>
                </h1>
            </div>
            if let Some(r) = &*done {
                <p class="alert success" role="status" id="topup-done">
                    { t(lang, Key::TopUpDone)
                        .replace("{paid}", &r.paid)
                        .replace("{bonus}", &r.bonus)
                        .replace("{principal}", &r.principal_after)
                        .replace("{bonus_after}", &r.bonus_after) }
                </p>
            }
            if *card_notice {
                <p class="alert success" role="status">{ t(lang, Key::CardUpdated) }</p>
            }
            if *pin_saved {
                <p class="alert success" role="status" id="pin-saved">{ t(lang, Key::PinSaved) }</p>
            }
            if let Some(line) = &*op_done {
                <p class="alert success" role="status" id="card-op-done">{ line }</p>
            }
            { topup_panel }
            { pin_panel }
            { op_panel }
            <div class="grid three">
                <div class="card stat">
                    <h2>{ t(lang, Key::Points) }</h2>
                    <dl class="facts">
                        <dt>{ t(lang, Key::TierPoints) }</dt><dd class="num" id="tier-points">{ m.tier_points }</dd>
                        <dt>{ t(lang, Key::RedeemablePoints) }</dt><dd class="num" id="redeemable-points">{ m.redeemable_points }</dd>
                    </dl>
                </div>
                <div class="card stat">
                    <h2>{ t(lang, Key::Membership) }</h2>
                    <dl class="facts">
                        if let Some(c) = &d.customer {
                            <dt>{ t(lang, Key::Mobile) }</dt><dd>{ &c.phone }</dd>
                        }
                        <dt>{ t(lang, Key::JoinedAt) }</dt><dd>{ format_time(&m.joined_at) }</dd>
                        <dt>{ t(lang, Key::TermExpires) }</dt><dd>{ format_time(&m.term_expires_at) }</dd>
                    </dl>
                </div>
                <div class="card stat">
                    <h2>{ t(lang, Key::TierDiscounts) }</h2>
                    if discounts.is_empty() {
                        <p class="muted">{ "—" }</p>
                    } else {
                        <ul class="chips">
                            { for discounts.iter().map(|(cat, pct)| html! {
                                <li class="chip">{ format!("{} −{pct}%", code_name(lang, cat)) }</li>
                            }) }
                        </ul>
                    }
                </div>
            </div>
            <div class="card">
                <h2>{ t(lang, Key::Cards) }</h2>
                if d.cards.is_empty() {
                    <Empty text={t(lang, Key::NoData)} />
                } else {
                    <div class="table-wrap">
                    <table class="table" id="cards-table">
                        <thead><tr>
                            <th>{ t(lang, Key::CardNo) }</th>
                            <th>{ t(lang, Key::Status) }</th>
                            <th class="num">{ t(lang, Key::Principal) }</th>
                            <th class="num">{ t(lang, Key::Bonus) }</th>
                            <th class="num">{ t(lang, Key::Balance) }</th>
                            <th>{ t(lang, Key::ExpiresAt) }</th>
                            <th>{ t(lang, Key::Actions) }</th>
                        </tr></thead>
                        <tbody>
                            { for d.cards.iter().map(|c| {
                                let active = c.status == "active";
                                let lost = c.status == "lost";
                                let ask = |action: &'static str| {
                                    let (card_action, card_notice, card) = (card_action.clone(), card_notice.clone(), c.clone());
                                    Callback::from(move |_: MouseEvent| {
                                        card_notice.set(false);
                                        card_action.set(Some((card.clone(), action)));
                                    })
                                };
                                let open_topup = {
                                    let (topup_card, done, failure, card) = (topup_card.clone(), done.clone(), failure.clone(), c.clone());
                                    Callback::from(move |_: MouseEvent| {
                                        done.set(None);
                                        failure.set(None);
                                        topup_card.set(Some(card.clone()));
                                    })
                                };
                                html! {
                                    <tr>
                                        <td class="nowrap">{ &c.masked_card_no }</td>
                                        <td class="nowrap">{ code_name(lang, &c.status) }</td>
                                        <td class="num">{ yuan(&c.principal) }</td>
                                        <td class="num">{ yuan(&c.bonus) }</td>
                                        <td class="num card-balance"><strong>{ yuan(&c.balance) }</strong></td>
                                        <td class="nowrap">{ format_time(&c.expires_at) }</td>
                                        <td class="row-actions">
                                            if active && can_topup {
                                                <button class="btn small" id="open-topup" onclick={open_topup}>{ t(lang, Key::TopUp) }</button>
                                            }
                                            if active && can_checkout {
                                                <a class="btn small primary" id="open-checkout" href={checkout_hash(&c.id)}>{ t(lang, Key::Checkout) }</a>
                                            }
                                            if active && can_cards {
                                                <button class="btn small danger-text report-lost" onclick={ask("report-lost")}>{ t(lang, Key::ReportLost) }</button>
                                            }
                                            if active && can_cards {
                                                <button class="btn small set-pin" onclick={{
                                                    let (pin_card, pin_saved, card) = (pin_card.clone(), pin_saved.clone(), c.clone());
                                                    Callback::from(move |_: MouseEvent| {
                                                        pin_saved.set(false);
                                                        pin_card.set(Some(card.clone()));
                                                    })
                                                }}>{ t(lang, Key::SetPin) }</button>
                                            }
                                            if (active || lost) && can_cards {
                                                <button class="btn small replace-card" onclick={{
                                                    let (op, op_done, op_key, card) = (op.clone(), op_done.clone(), op_key.clone(), c.clone());
                                                    Callback::from(move |_: MouseEvent| {
                                                        op_done.set(None);
                                                        op_key.set(None);
                                                        op.set(Some((card.clone(), "replace")));
                                                    })
                                                }}>{ t(lang, Key::ReplaceCard) }</button>
                                                <button class="btn small danger-text return-card" onclick={{
                                                    let (op, op_done, op_key, card) = (op.clone(), op_done.clone(), op_key.clone(), c.clone());
                                                    Callback::from(move |_: MouseEvent| {
                                                        op_done.set(None);
                                                        op_key.set(None);
                                                        op.set(Some((card.clone(), "return")));
                                                    })
                                                }}>{ t(lang, Key::ReturnCard) }</button>
                                            }
                                            if lost && can_cards {
                                                <button class="btn small unblock" onclick={ask("unblock")}>{ t(lang, Key::Unblock) }</button>
                                            }
                                        </td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    </div>
                }
            </div>
            <div class="grid">
                <div class="card">
                    <h2>{ t(lang, Key::Coupons) }</h2>
                    if d.coupons.is_empty() {
                        <Empty text={t(lang, Key::NoData)} />
                    } else {
                        <ul class="list" id="coupon-list">
                            { for d.coupons.iter().map(|c| html! {
                                <li>
                                    <span>{ if c.name.is_empty() { coupon_name(&d.templates, &c.template_id) } else { c.name.clone() } }</span>
                                    <span class={classes!("badge", if c.status == "issued" { "ok" } else { "muted" })}>{ code_name(lang, &c.status) }</span>
                                </li>
                            }) }
                        </ul>
                    }
                </div>
                <div class="card">
                    <h2>{ t(lang, Key::Entitlements) }</h2>
                    if d.entitlements.is_empty() {
                        <Empty text={t(lang, Key::NoData)} />
                    } else {
                        <table class="table">
                            <thead><tr>
                                <th>{ t(lang, Key::Entitlement) }</th>
                                <th class="num">{ t(lang, Key::PerYear) }</th>
                                <th class="num">{ t(lang, Key::Used) }</th>
                                <th class="num">{ t(lang, Key::Left) }</th>
                            </tr></thead>
                            <tbody>
                                { for d.entitlements.iter().map(|e| html! {
                                    <tr><td>{ &e.name }</td><td class="num">{ e.per_year }</td><td class="num">{ e.used }</td><td class="num"><strong>{ e.left }</strong></td></tr>
                                }) }
                            </tbody>
                        </table>
                    }
                </div>
                { desk }
                <div class="card wide">
                    <h2>{ t(lang, Key::CheckoutHistory) }</h2>
                    if d.checkouts.is_empty() {
                        <Empty text={t(lang, Key::NoData)} />
                    } else {
                        <div class="table-wrap">
                        <table class="table compact" id="checkout-history">
                            <thead><tr>
                                <th>{ t(lang, Key::Time) }</th>
                                <th class="num">{ t(lang, Key::Subtotal) }</th>
                                <th class="num">{ t(lang, Key::TierDiscount) }</th>
                                <th class="num">{ t(lang, Key::Total) }</th>
                                <th>{ t(lang, Key::Status) }</th>
                                <th></th>
                            </tr></thead>
                            <tbody>
                                { for d.checkouts.iter().map(|x| html! {
                                    <tr>
                                        <td class="nowrap">{ format_time(&x.created_at) }</td>
                                        <td class="num">{ yuan(&x.subtotal) }</td>
                                        <td class="num">{ format!("−{}", yuan(&x.discount)) }</td>
                                        <td class="num"><strong>{ yuan(&x.total) }</strong></td>
                                        <td>{ code_name(lang, &x.status) }</td>
                                        <td><a class="btn small receipt-link" href={receipt_hash(&x.id)}>{ t(lang, Key::ReceiptLink) }</a></td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                        </div>
                    }
                </div>
                <div class="card">
                    <h2>{ t(lang, Key::CardLedger) }</h2>
                    if d.card_txns.is_empty() {
                        <Empty text={t(lang, Key::NoData)} />
                    } else {
                        <div class="table-wrap">
                        <table class="table compact" id="card-ledger">
                            <thead><tr>
                                <th>{ t(lang, Key::Time) }</th>
                                <th>{ t(lang, Key::Kind) }</th>
                                <th class="num">{ t(lang, Key::Amount) }</th>
                                <th class="num">{ t(lang, Key::BalanceChange) }</th>
                            </tr></thead>
                            <tbody>
                                { for d.card_txns.iter().map(|x| html! {
                                    <tr>
                                        <td class="nowrap">{ format_time(&x.created_at) }</td>
                                        <td>{ code_name(lang, &x.kind) }</td>
                                        <td class="num">{ yuan(&x.amount) }</td>
                                        <td class="num">{ yuan(&x.balance_change) }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                        </div>
                    }
                </div>
                <div class="card">
                    <h2>{ t(lang, Key::PointsLedger) }</h2>
                    if d.points_txns.is_empty() {
                        <Empty text={t(lang, Key::NoData)} />
                    } else {
                        <div class="table-wrap">
                        <table class="table compact">
                            <thead><tr>
                                <th>{ t(lang, Key::Time) }</th>
                                <th>{ t(lang, Key::Kind) }</th>
                                <th class="num">{ t(lang, Key::TierPoints) }</th>
                                <th class="num">{ t(lang, Key::RedeemablePoints) }</th>
                            </tr></thead>
                            <tbody>
                                { for d.points_txns.iter().map(|x| html! {
                                    <tr>
                                        <td class="nowrap">{ format_time(&x.created_at) }</td>
                                        <td title={x.reason.clone()}>{ code_name(lang, &x.kind) }</td>
                                        <td class="num">{ format!("{:+}", x.tier_delta) }</td>
                                        <td class="num">{ format!("{:+}", x.redeemable_delta) }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                        </div>
                    }
                </div>
            </div>
            { topup_dialog }
            { card_dialog }
            { op_dialog }
        </section>
    }
}

/// A card PIN: six digits.
pub fn is_pin(p: &str) -> bool {
    p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_six_digits() {
        assert!(is_pin("024681"));
        assert!(!is_pin("12345"));
        assert!(!is_pin("12345a"));
        assert!(!is_pin("1234567"));
    }

    #[test]
    fn queries_are_classified() {
        assert_eq!(classify(" "), Query::None);
        assert_eq!(classify("13"), Query::None);
        assert_eq!(classify("1380"), Query::Digits("1380".into()));
        assert_eq!(
            classify("88012026000001"),
            Query::Digits("88012026000001".into())
        );
        assert_eq!(classify("王建"), Query::Name("王建".into()));
        assert_eq!(classify("王"), Query::None);
    }

    #[test]
    fn rule_texts() {
        let rule = BonusRule {
            min: 100_000,
            bonus: 10_000,
        };
        assert_eq!(rule_text(Lang::Zh, &rule), "充值满 1000.00 送 100.00");
        assert_eq!(coupon_name(&[], "0123456789"), "01234567");
    }
}
