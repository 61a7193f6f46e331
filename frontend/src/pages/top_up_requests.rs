//! 待确认充值 Top-up requests: what the service-desk kiosks asked for. The cashier confirms a
//! request once the money is in hand (the payment method actually received, a slip number),
//! which tops the card up; or cancels it with a reason. The pending list refreshes itself
//! every few seconds; the other tabs show the history.

use crate::api::{self, ApiError};
use crate::components::common::{
    ConfirmDialog, Empty, ErrorLine, Field, LoadMore, Loading, Select,
};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key, Lang};
use crate::money::yuan;
use crate::session::{format_time, store_name, use_lang, use_store, Session};
use dms_api_types::devices::{ConfirmTopUpRequest, TopUpRequestDto};
use dms_api_types::membership::PaymentMethod;
use gloo_timers::callback::Interval;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// How often the pending list reloads.
const REFRESH_MS: u32 = 5_000;

/// The tabs: pending first, then the history, then all.
pub const STATUSES: [&str; 5] = ["pending", "confirmed", "cancelled", "expired", ""];

pub const METHODS: [&str; 4] = ["cash", "bank_card", "transfer", "online"];

pub fn method_code(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "cash",
        PaymentMethod::BankCard => "bank_card",
        PaymentMethod::Transfer => "transfer",
        PaymentMethod::Online => "online",
    }
}

pub fn method_of(code: &str) -> Option<PaymentMethod> {
    match code {
        "cash" => Some(PaymentMethod::Cash),
        "bank_card" => Some(PaymentMethod::BankCard),
        "transfer" => Some(PaymentMethod::Transfer),
        "online" => Some(PaymentMethod::Online),
        _ => None,
    }
}

pub fn status_key(status: &str) -> Option<Key> {
    match status {
        "pending" => Some(Key::RequestPending),
        "confirmed" => Some(Key::RequestConfirmed),
        "cancelled" => Some(Key::RequestCancelled),
        "expired" => Some(Key::RequestExpired),
        _ => None,
    }
}

fn status_label(lang: Lang, status: &str) -> String {
    status_key(status)
        .map(|k| t(lang, k).to_string())
        .unwrap_or_else(|| status.to_string())
}

/// The message for a failed confirmation or cancellation: the request's own refusals in
/// words, anything else as usual.
fn failure_text(e: &ApiError, lang: Lang) -> String {
    if let ApiError::Problem(p) = e {
        match p.code.as_str() {
            "already_confirmed" => return t(lang, Key::RequestAlreadyConfirmed).to_string(),
            "already_cancelled" => return t(lang, Key::RequestAlreadyCancelled).to_string(),
            "top_up_request_expired" => return t(lang, Key::RequestHasExpired).to_string(),
            _ => {}
        }
    }
    error_message(e, lang)
}

/// The top-up's result line, shown after a confirmation.
fn done_text(lang: Lang, r: &TopUpRequestDto) -> String {
    match &r.top_up {
        Some(tu) => t(lang, Key::TopUpDone)
            .replace("{paid}", &tu.paid)
            .replace("{bonus}", &tu.bonus)
            .replace("{principal}", &tu.principal_after)
            .replace("{bonus_after}", &tu.bonus_after),
        None => status_label(lang, &r.status),
    }
}

#[derive(Properties, PartialEq)]
pub struct TopUpRequestsProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct List {
    items: Vec<TopUpRequestDto>,
    next: Option<String>,
    loading: bool,
    loaded: bool,
    error: Option<ApiError>,
}

#[derive(Debug, Clone)]
enum Step {
    /// 确认收款: the request, the method received, the slip number and this dialog's key.
    Confirm {
        request: TopUpRequestDto,
        method: String,
        reference: String,
        key: String,
    },
    Cancel(TopUpRequestDto),
}

/// Loads the first page (replacing the list) or the next one (appending). A `quiet` reload
/// keeps the rows on screen until the answer arrives.
fn load(
    list: UseStateHandle<List>,
    store: Option<String>,
    status: String,
    cursor: Option<String>,
    quiet: bool,
) {
    let mut current = (*list).clone();
    if cursor.is_none() && !quiet {
        current = List::default();
    }
    current.loading = true;
    if !quiet {
        list.set(current.clone());
    }
    spawn_local(async move {
        match api::top_up_requests::list(store.as_deref(), &status, cursor.as_deref()).await {
            Ok(page) => {
                if cursor.is_none() {
                    current.items = page.items;
                } else {
                    current.items.extend(page.items);
                }
                current.next = page.next_cursor;
                current.loaded = true;
                current.error = None;
            }
            Err(e) => current.error = Some(e),
        }
        current.loading = false;
        list.set(current);
    });
}

#[function_component(TopUpRequests)]
pub fn top_up_requests(props: &TopUpRequestsProps) -> Html {
    let lang = use_lang();
    let selected = use_store();
    let me = &props.session.me;
    let status = use_state(|| "pending".to_string());
    let list = use_state(List::default);
    let version = use_state(|| 0u32);
    let tick = use_state(|| 0u32);
    let step = use_state(|| None::<Step>);
    let reason = use_state(String::new);
    let busy = use_state(|| false);
    let step_error = use_state(|| None::<String>);
    let notice = use_state(|| None::<String>);

    // Load on a change of tab, store or after an action.
    {
        let list = list.clone();
        use_effect_with(
            ((*status).clone(), selected.clone(), *version),
            move |(s, store, _)| load(list, store.clone(), s.clone(), None, false),
        );
    }
    // The pending tab reloads itself quietly.
    {
        let tick = tick.clone();
        use_effect_with((*status).clone(), move |s| {
            let interval = (s == "pending").then(|| {
                let counter = std::rc::Rc::new(std::cell::Cell::new(0u32));
                Interval::new(REFRESH_MS, move || {
                    counter.set(counter.get().wrapping_add(1));
                    tick.set(counter.get());
                })
            });
            move || drop(interval)
        });
    }
    {
        let (list, status, selected) = (list.clone(), status.clone(), selected.clone());
        use_effect_with(*tick, move |t| {
            if *t > 0 && !list.loading {
                load(list, selected, (*status).clone(), None, true);
            }
        });
    }

    let open_confirm = |r: TopUpRequestDto| {
        let (step, step_error) = (step.clone(), step_error.clone());
        Callback::from(move |_: MouseEvent| {
            step_error.set(None);
            step.set(Some(Step::Confirm {
                method: method_code(r.payment_method).to_string(),
                reference: String::new(),
                // One key per dialog: a retry of this confirmation cannot top up twice.
                key: api::new_idempotency_key(),
                request: r.clone(),
            }));
        })
    };
    let open_cancel = |r: TopUpRequestDto| {
        let (step, step_error, reason) = (step.clone(), step_error.clone(), reason.clone());
        Callback::from(move |_: MouseEvent| {
            step_error.set(None);
            reason.set(String::new());
            step.set(Some(Step::Cancel(r.clone())));
        })
    };
    let close = {
        let (step, busy) = (step.clone(), busy.clone());
        Callback::from(move |()| {
            if !*busy {
                step.set(None)
            }
        })
    };
    // After an action: close the dialog and reload, or show why it failed.
    let finish = {
        let (step, busy, step_error, version, notice) = (
            step.clone(),
            busy.clone(),
            step_error.clone(),
            version.clone(),
            notice.clone(),
        );
        move |r: Result<TopUpRequestDto, ApiError>| {
            busy.set(false);
            match r {
                Ok(done) => {
                    notice.set(Some(if done.status == "confirmed" {
                        done_text(lang, &done)
                    } else {
                        status_label(lang, &done.status)
                    }));
                    step.set(None);
                    version.set(*version + 1);
                }
                Err(e) => {
                    // Someone else decided it meanwhile: the list is stale.
                    if matches!(&e, ApiError::Problem(p) if p.status == 409) {
                        version.set(*version + 1);
                    }
                    step_error.set(Some(failure_text(&e, lang)));
                }
            }
        }
    };

    let dialog = match (*step).clone() {
        None => html! {},
        Some(Step::Confirm {
            request,
            method,
            reference,
            key,
        }) => {
            let body = t(lang, Key::ConfirmReceiptBody)
                .replace("{card}", &request.masked_card_no)
                .replace("{member}", &request.member_name)
                .replace("{amount}", &request.amount)
                .replace("{bonus}", &request.expected_bonus);
            let options: Vec<(String, String)> = METHODS
                .iter()
                .map(|m| (m.to_string(), code_name(lang, m)))
                .collect();
            let set_step = |f: fn(&mut String, &mut String, String)| {
                let step = step.clone();
                Callback::from(move |v: String| {
                    if let Some(Step::Confirm {
                        request,
                        mut method,
                        mut reference,
                        key,
                    }) = (*step).clone()
                    {
                        f(&mut method, &mut reference, v);
                        step.set(Some(Step::Confirm {
                            request,
                            method,
                            reference,
                            key,
                        }));
                    }
                })
            };
            let on_method = set_step(|m, _, v| *m = v);
            let on_reference = set_step(|_, r, v| *r = v);
            let is_busy = *busy;
            let on_confirm = {
                let (busy, finish) = (busy.clone(), finish.clone());
                let (id, method, reference) =
                    (request.id.clone(), method.clone(), reference.clone());
                Callback::from(move |()| {
                    if *busy {
                        return;
                    }
                    busy.set(true);
                    let reference = reference.trim().to_string();
                    let body = ConfirmTopUpRequest {
                        payment_method: method_of(&method),
                        reference: (!reference.is_empty()).then_some(reference),
                    };
                    let (id, key, finish) = (id.clone(), key.clone(), finish.clone());
                    spawn_local(async move {
                        finish(api::top_up_requests::confirm(&id, &body, &key).await)
                    });
                })
            };
            html! {
                <ConfirmDialog title={t(lang, Key::ConfirmReceiptTitle)} body={body}
                    confirm_label={t(lang, Key::ConfirmReceipt)} {on_confirm} on_cancel={close.clone()}
                    busy={is_busy} danger={false} error={(*step_error).clone()}>
                    <Select name="payment_method" id="received-method" label={t(lang, Key::ReceivedMethod)}
                        value={method} options={options} onchange={on_method} disabled={is_busy} />
                    <Field name="reference" id="slip-reference" label={t(lang, Key::SlipReference)}
                        value={reference} oninput={on_reference} maxlength="64" disabled={is_busy} />
                </ConfirmDialog>
            }
        }
        Some(Step::Cancel(request)) => {
            let submit = {
                let (reason, busy, step_error, finish) = (
                    reason.clone(),
                    busy.clone(),
                    step_error.clone(),
                    finish.clone(),
                );
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    if *busy {
                        return;
                    }
                    if reason.trim().is_empty() {
                        step_error.set(Some(t(lang, Key::FieldRequired).to_string()));
                        return;
                    }
                    busy.set(true);
                    let (id, why, finish) = (
                        request.id.clone(),
                        reason.trim().to_string(),
                        finish.clone(),
                    );
                    spawn_local(
                        async move { finish(api::top_up_requests::cancel(&id, &why).await) },
                    );
                })
            };
            let on_text = {
                let reason = reason.clone();
                Callback::from(move |e: InputEvent| {
                    if let Some(a) = e.target_dyn_into::<HtmlTextAreaElement>() {
                        reason.set(a.value())
                    }
                })
            };
            let back = {
                let close = close.clone();
                Callback::from(move |_: MouseEvent| close.emit(()))
            };
            html! {
                <div class="modal-backdrop">
                    <form class="modal" role="dialog" aria-modal="true" id="cancel-request-form" onsubmit={submit}>
                        <h2>{ t(lang, Key::CancelRequestTitle) }</h2>
                        <div class={classes!("field", step_error.is_some().then_some("invalid"))} data-field="reason">
                            <label for="cancel-reason">{ t(lang, Key::Reason) }</label>
                            <textarea id="cancel-reason" rows="3" maxlength="200" value={(*reason).clone()} oninput={on_text} autofocus=true />
                            if let Some(m) = (*step_error).clone() { <p class="field-error">{ m }</p> }
                        </div>
                        <div class="modal-actions">
                            <button type="button" class="btn" onclick={back} disabled={*busy}>{ t(lang, Key::Cancel) }</button>
                            <button type="submit" class="btn danger" disabled={*busy}>{ if *busy { t(lang, Key::Working) } else { t(lang, Key::CancelRequest) } }</button>
                        </div>
                    </form>
                </div>
            }
        }
    };

    let table = if !list.loaded && list.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&list.error, list.loaded) {
        html! { <ErrorLine text={error_message(e, lang)} /> }
    } else if list.items.is_empty() {
        let text = if *status == "pending" {
            t(lang, Key::NoPendingRequests)
        } else {
            t(lang, Key::NoData)
        };
        html! { <Empty text={text} /> }
    } else {
        html! {
            <div class="table-wrap"><table class="table" id="top-up-requests-table">
                <thead><tr>
                    <th>{ t(lang, Key::CardNo) }</th><th>{ t(lang, Key::Member) }</th>
                    <th class="num">{ t(lang, Key::Amount) }</th><th class="num">{ t(lang, Key::ExpectedBonus) }</th>
                    <th>{ t(lang, Key::PaymentMethod) }</th><th>{ t(lang, Key::RequestedAt) }</th>
                    <th>{ t(lang, Key::Kiosk) }</th><th>{ t(lang, Key::Status) }</th><th></th>
                </tr></thead>
                <tbody>
                { for list.items.iter().map(|r| {
                    let method = r.received_method.unwrap_or(r.payment_method);
                    html! {
                    <tr data-request={r.id.clone()} data-status={r.status.clone()}>
                        <td class="nowrap mono">{ &r.masked_card_no }</td>
                        <td class="nowrap">{ &r.member_name }</td>
                        <td class="num nowrap">{ yuan(&r.amount) }</td>
                        <td class="num nowrap">{ yuan(&r.expected_bonus) }</td>
                        <td class="nowrap">{ code_name(lang, method_code(method)) }
                            if let Some(s) = &r.reference { <div class="muted small">{ s }</div> }</td>
                        <td class="nowrap">{ format_time(&r.requested_at) }</td>
                        <td class="nowrap">{ r.device_name.clone().unwrap_or_default() }
                            <div class="muted small">{ store_name(&me.stores, &r.store_id).unwrap_or_default() }</div></td>
                        <td class="nowrap">
                            <span class={classes!("badge", format!("req-{}", r.status))}>{ status_label(lang, &r.status) }</span>
                            if let Some(by) = &r.decided_by {
                                <div class="muted small">{ t(lang, Key::DecidedBy) }{ ": " }{ by }
                                    if let Some(at) = &r.decided_at { { " · " }{ format_time(at) } }</div>
                            }
                            if let Some(why) = &r.cancel_reason { <div class="muted small">{ why }</div> }
                            if let Some(tu) = &r.top_up {
                                <div class="muted small">{ t(lang, Key::Bonus) }{ " " }{ yuan(&tu.bonus) }</div>
                            }
                        </td>
                        <td class="actions">
                            if r.status == "pending" {
                                <button class="btn small primary" data-action="confirm-receipt" onclick={open_confirm(r.clone())}>{ t(lang, Key::ConfirmReceipt) }</button>
                                <button class="btn small" data-action="cancel-request" onclick={open_cancel(r.clone())}>{ t(lang, Key::Cancel) }</button>
                            }
                        </td>
                    </tr>
                }}) }
                </tbody>
            </table></div>
        }
    };
    let tabs = STATUSES.iter().map(|s| {
        let status_h = status.clone();
        let on = *status == *s;
        let onclick = Callback::from(move |_: MouseEvent| status_h.set(s.to_string()));
        let label = if s.is_empty() {
            t(lang, Key::All).to_string()
        } else {
            status_label(lang, s)
        };
        html! { <button class={classes!("btn", "small", on.then_some("primary"))} data-status={s.to_string()}
            aria-pressed={on.to_string()} {onclick}>{ label }</button> }
    });
    let more = {
        let (list, status, selected) = (list.clone(), status.clone(), selected.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(next) = list.next.clone() {
                load(
                    list.clone(),
                    selected.clone(),
                    (*status).clone(),
                    Some(next),
                    false,
                );
            }
        })
    };
    let refresh = {
        let version = version.clone();
        Callback::from(move |_: MouseEvent| version.set(*version + 1))
    };
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavTopUpRequests) }</h1>
                <button class="btn" id="refresh-requests" onclick={refresh}>{ t(lang, Key::Refresh) }</button>
            </div>
            <p class="muted">{ t(lang, Key::TopUpRequestsHelp) }
                if *status == "pending" { { " " }<span class="small">{ t(lang, Key::AutoRefreshing) }</span> }</p>
            if let Some(n) = (*notice).clone() {
                <p class="alert success" role="status" id="top-up-notice">{ n }</p>
            }
            <div class="tabs" role="group">{ for tabs }</div>
            <div class="card">
                { table }
                <LoadMore has_more={list.next.is_some()} loading={list.loading} onclick={more} />
            </div>
            { dialog }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        for code in METHODS {
            let m = method_of(code).unwrap();
            assert_eq!(method_code(m), code);
        }
        assert_eq!(method_of("cheque"), None);
    }

    #[test]
    fn every_status_has_a_label_in_both_languages() {
        for s in STATUSES.iter().filter(|s| !s.is_empty()) {
            let k = status_key(s).unwrap();
            assert_ne!(t(Lang::Zh, k), t(Lang::En, k));
        }
        assert_eq!(status_label(Lang::Zh, "pending"), "待确认");
    }
}
