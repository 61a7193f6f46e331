//! 投诉 Complaints: the list by status with the SLA deadline, intake (customer found by name,
//! phone or plate), assign, resolve with the resolution, and the customer's confirmation.

use crate::api::{self, crm, ApiError};
use crate::components::common::{ConfirmDialog, Empty, ErrorLine, LoadMore, Loading, Select};
use crate::forms::{error_message, errors_of, Failure};
use crate::i18n::{code_name, t, Key};
use crate::route::customer_hash;
use crate::session::{format_time, store_name, use_lang, use_store, Session};
use dms_api_types::crm::{
    AssigneeDto, ComplaintDto, CrmCustomerDto, CrmCustomerPage, OpenComplaintRequest,
};
use dms_api_types::FieldError;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

pub const CHANNELS: [&str; 8] = [
    "phone", "walk_in", "app", "wechat", "email", "oem", "survey", "other",
];
pub const CATEGORIES: [&str; 8] = [
    "service_quality",
    "repair_quality",
    "price",
    "waiting_time",
    "parts",
    "sales",
    "attitude",
    "other",
];
pub const SEVERITIES: [&str; 4] = ["low", "normal", "high", "critical"];
const FIELDS: &[&str] = &[
    "store_id",
    "customer_id",
    "channel",
    "category",
    "severity",
    "description",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intake {
    pub store_id: String,
    pub customer_id: String,
    pub channel: String,
    pub category: String,
    pub severity: String,
    pub description: String,
}

/// The intake's local checks (the server checks again).
pub fn validate_intake(d: &Intake) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut need = |field: &str, v: &str| {
        if v.trim().is_empty() {
            out.push(FieldError {
                field: field.into(),
                code: "required".into(),
                message: String::new(),
            });
        }
    };
    need("store_id", &d.store_id);
    need("customer_id", &d.customer_id);
    need("description", &d.description);
    if d.description.chars().count() > 4000 {
        out.push(FieldError {
            field: "description".into(),
            code: "length".into(),
            message: String::new(),
        });
    }
    out
}

#[derive(Properties, PartialEq)]
pub struct ComplaintsProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct List {
    items: Vec<ComplaintDto>,
    next: Option<String>,
    loading: bool,
    loaded: bool,
    error: Option<ApiError>,
}

#[derive(Debug, Clone)]
enum Step {
    Resolve(ComplaintDto),
    Confirm(ComplaintDto, bool),
    AssignMe(ComplaintDto),
    /// Someone else of the store: the people who can take it, once loaded.
    Assign(ComplaintDto, Option<Vec<AssigneeDto>>),
}

fn load(list: UseStateHandle<List>, status: String, cursor: Option<String>) {
    let mut current = if cursor.is_none() {
        List::default()
    } else {
        (*list).clone()
    };
    current.loading = true;
    list.set(current.clone());
    spawn_local(async move {
        let status = (!status.is_empty()).then_some(status.as_str());
        match crm::complaints(status, cursor.as_deref()).await {
            Ok(page) => {
                current.items.extend(page.items);
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

#[function_component(Complaints)]
pub fn complaints(props: &ComplaintsProps) -> Html {
    let lang = use_lang();
    let selected = use_store();
    let me = &props.session.me;
    let status = use_state(|| "open".to_string());
    let list = use_state(List::default);
    let version = use_state(|| 0u32);
    let step = use_state(|| None::<Step>);
    let text = use_state(String::new);
    let busy = use_state(|| false);
    let step_error = use_state(|| None::<String>);
    let intake_open = use_state(|| false);
    let draft = use_state(Intake::default);
    let failure = use_state(|| None::<Failure>);
    let query = use_state(String::new);
    let found = use_state(Vec::<CrmCustomerDto>::new);

    {
        let list = list.clone();
        use_effect_with(((*status).clone(), *version), move |(s, _)| {
            load(list, s.clone(), None)
        });
    }

    let done = {
        let (step, busy, step_error, version) = (
            step.clone(),
            busy.clone(),
            step_error.clone(),
            version.clone(),
        );
        move |r: Result<ComplaintDto, ApiError>| {
            busy.set(false);
            match r {
                Ok(_) => {
                    step.set(None);
                    version.set(*version + 1);
                }
                Err(e) => step_error.set(Some(error_message(&e, lang))),
            }
        }
    };
    let open_step = |make: Step| {
        let (step, text, step_error) = (step.clone(), text.clone(), step_error.clone());
        Callback::from(move |_: MouseEvent| {
            text.set(String::new());
            step_error.set(None);
            step.set(Some(make.clone()));
        })
    };
    // Opens the dialog at once and fills in the store's people when they arrive.
    let open_assign = |c: ComplaintDto| {
        let (step, text, step_error) = (step.clone(), text.clone(), step_error.clone());
        Callback::from(move |_: MouseEvent| {
            text.set(String::new());
            step_error.set(None);
            step.set(Some(Step::Assign(c.clone(), None)));
            let (step, step_error, c) = (step.clone(), step_error.clone(), c.clone());
            spawn_local(async move {
                match crm::complaint_assignees(&c.store_id).await {
                    Ok(list) => step.set(Some(Step::Assign(c, Some(list.items)))),
                    Err(e) => {
                        step.set(Some(Step::Assign(c, Some(vec![]))));
                        step_error.set(Some(error_message(&e, lang)));
                    }
                }
            });
        })
    };
    let cancel = {
        let (step, busy) = (step.clone(), busy.clone());
        Callback::from(move |()| {
            if !*busy {
                step.set(None)
            }
        })
    };
    let my_id = me.id.clone();
    let dialog = match (*step).clone() {
        None => html! {},
        Some(Step::AssignMe(c)) => {
            let is_busy = *busy;
            let (busy, done, my_id) = (busy.clone(), done.clone(), my_id.clone());
            let on_confirm = Callback::from(move |()| {
                if *busy {
                    return;
                }
                busy.set(true);
                let (id, me, done) = (c.id.clone(), my_id.clone(), done.clone());
                spawn_local(async move { done(crm::assign_complaint(&id, &me).await) });
            });
            html! { <ConfirmDialog title={t(lang, Key::AssignToMe)} body={t(lang, Key::AssignToMeBody)}
            confirm_label={t(lang, Key::AssignToMe)} {on_confirm} on_cancel={cancel.clone()} busy={is_busy}
            danger={false} error={(*step_error).clone()} /> }
        }
        Some(Step::Assign(c, people)) => {
            let is_busy = *busy;
            let options: Vec<(String, String)> = people
                .iter()
                .flatten()
                .map(|p| (p.staff_id.clone(), p.display_name.clone()))
                .collect();
            let chosen = if text.is_empty() {
                options.first().map(|o| o.0.clone()).unwrap_or_default()
            } else {
                (*text).clone()
            };
            let chosen_shown = chosen.clone();
            let on_pick = {
                let text = text.clone();
                Callback::from(move |v: String| text.set(v))
            };
            let shown_error = (*step_error).clone();
            let store_label = store_name(&me.stores, &c.store_id)
                .unwrap_or_default()
                .to_string();
            let (busy, done, step_error) = (busy.clone(), done.clone(), step_error.clone());
            let on_confirm = Callback::from(move |()| {
                if *busy {
                    return;
                }
                if chosen.is_empty() {
                    step_error.set(Some(t(lang, Key::FieldRequired).to_string()));
                    return;
                }
                busy.set(true);
                let (id, to, done) = (c.id.clone(), chosen.clone(), done.clone());
                spawn_local(async move { done(crm::assign_complaint(&id, &to).await) });
            });
            let loading = people.is_none();
            html! { <ConfirmDialog title={t(lang, Key::AssignTo)} body={store_label}
            confirm_label={t(lang, Key::Assign)} {on_confirm} on_cancel={cancel.clone()} busy={is_busy || loading}
            danger={false} error={shown_error}>
                if loading { <Loading /> } else {
                    <Select name="assignee" id="assignee" label={t(lang, Key::Assignee)}
                        value={chosen_shown} options={options} onchange={on_pick} />
                }
            </ConfirmDialog> }
        }
        Some(Step::Confirm(c, satisfied)) => {
            let is_busy = *busy;
            let (busy, done) = (busy.clone(), done.clone());
            let on_confirm = Callback::from(move |()| {
                if *busy {
                    return;
                }
                busy.set(true);
                let (id, done) = (c.id.clone(), done.clone());
                spawn_local(async move { done(crm::confirm_complaint(&id, satisfied).await) });
            });
            let (title, body) = if satisfied {
                (Key::CustomerSatisfied, Key::CloseComplaintBody)
            } else {
                (Key::CustomerNotSatisfied, Key::ReopenComplaintBody)
            };
            html! { <ConfirmDialog title={t(lang, title)} body={t(lang, body)} confirm_label={t(lang, title)}
            {on_confirm} on_cancel={cancel.clone()} busy={is_busy} danger={!satisfied} error={(*step_error).clone()} /> }
        }
        Some(Step::Resolve(c)) => {
            let submit = {
                let (text, busy, step_error, done) =
                    (text.clone(), busy.clone(), step_error.clone(), done.clone());
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    if *busy {
                        return;
                    }
                    if text.trim().is_empty() {
                        step_error.set(Some(t(lang, Key::FieldRequired).to_string()));
                        return;
                    }
                    busy.set(true);
                    let (id, why, done) = (c.id.clone(), text.trim().to_string(), done.clone());
                    spawn_local(async move { done(crm::resolve_complaint(&id, &why).await) });
                })
            };
            let on_text = {
                let text = text.clone();
                Callback::from(move |e: InputEvent| {
                    if let Some(a) = e.target_dyn_into::<HtmlTextAreaElement>() {
                        text.set(a.value())
                    }
                })
            };
            let close = {
                let cancel = cancel.clone();
                Callback::from(move |_: MouseEvent| cancel.emit(()))
            };
            html! {
                <div class="modal-backdrop">
                    <form class="modal" role="dialog" aria-modal="true" id="resolve-form" onsubmit={submit}>
                        <h2>{ t(lang, Key::Resolve) }</h2>
                        <div class={classes!("field", step_error.is_some().then_some("invalid"))} data-field="resolution">
                            <label for="resolution">{ t(lang, Key::Resolution) }</label>
                            <textarea id="resolution" rows="4" maxlength="4000" value={(*text).clone()} oninput={on_text} autofocus=true />
                            if let Some(m) = (*step_error).clone() { <p class="field-error">{ m }</p> }
                        </div>
                        <div class="modal-actions">
                            <button type="button" class="btn" onclick={close} disabled={*busy}>{ t(lang, Key::Cancel) }</button>
                            <button type="submit" class="btn primary" disabled={*busy}>{ if *busy { t(lang, Key::Saving) } else { t(lang, Key::Resolve) } }</button>
                        </div>
                    </form>
                </div>
            }
        }
    };

    // Intake.
    let open_intake = {
        let (intake_open, draft, failure, found, query) = (
            intake_open.clone(),
            draft.clone(),
            failure.clone(),
            found.clone(),
            query.clone(),
        );
        let store = selected
            .clone()
            .or_else(|| (me.stores.len() == 1).then(|| me.stores[0].id.clone()))
            .unwrap_or_default();
        Callback::from(move |_: MouseEvent| {
            draft.set(Intake {
                store_id: store.clone(),
                channel: "phone".into(),
                category: "service_quality".into(),
                severity: "normal".into(),
                ..Intake::default()
            });
            failure.set(None);
            found.set(vec![]);
            query.set(String::new());
            intake_open.set(true);
        })
    };
    let set = |f: fn(&mut Intake, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            f(&mut d, v);
            draft.set(d);
        })
    };
    let search = {
        let (query, found) = (query.clone(), found.clone());
        Callback::from(move |v: String| {
            query.set(v.clone());
            let found = found.clone();
            if v.trim().chars().count() < 2 {
                found.set(vec![]);
                return;
            }
            spawn_local(async move {
                let path =
                    api::with_query("/customers", &[("q", Some(v.trim())), ("limit", Some("8"))]);
                if let Ok(page) = api::get_json::<CrmCustomerPage>(&path).await {
                    found.set(page.items);
                }
            });
        })
    };
    let submit = {
        let (draft, failure, busy, intake_open, version) = (
            draft.clone(),
            failure.clone(),
            busy.clone(),
            intake_open.clone(),
            version.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let d = (*draft).clone();
            let local = validate_intake(&d);
            if !local.is_empty() {
                failure.set(Some(Failure::Local(local)));
                return;
            }
            failure.set(None);
            busy.set(true);
            let (failure, busy, intake_open, version) = (
                failure.clone(),
                busy.clone(),
                intake_open.clone(),
                version.clone(),
            );
            spawn_local(async move {
                let r = crm::open_complaint(&OpenComplaintRequest {
                    store_id: d.store_id,
                    customer_id: d.customer_id,
                    vehicle_id: None,
                    order_ref: None,
                    work_order_ref: None,
                    channel: d.channel,
                    category: d.category,
                    severity: d.severity,
                    description: d.description.trim().to_string(),
                    assigned_to: None,
                })
                .await;
                busy.set(false);
                match r {
                    Ok(_) => {
                        intake_open.set(false);
                        version.set(*version + 1);
                    }
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
        })
    };
    let options = |codes: &[&str]| -> Vec<(String, String)> {
        codes
            .iter()
            .map(|c| (c.to_string(), code_name(lang, c)))
            .collect()
    };
    let intake = if *intake_open {
        let errors = errors_of(&failure, lang, FIELDS);
        let mut stores = vec![(String::new(), t(lang, Key::SelectStore).to_string())];
        stores.extend(
            me.stores
                .iter()
                .map(|s| (s.id.clone(), format!("{} {}", s.code, s.name))),
        );
        let chosen = found
            .iter()
            .find(|c| c.base.id == draft.customer_id)
            .cloned();
        let on_desc = {
            let draft = draft.clone();
            Callback::from(move |e: InputEvent| {
                if let Some(a) = e.target_dyn_into::<HtmlTextAreaElement>() {
                    let mut d = (*draft).clone();
                    d.description = a.value();
                    draft.set(d);
                }
            })
        };
        let close = {
            let intake_open = intake_open.clone();
            Callback::from(move |_: MouseEvent| intake_open.set(false))
        };
        html! {
            <form class="card form-card" id="complaint-form" onsubmit={submit} novalidate=true>
                <h2>{ t(lang, Key::NewComplaint) }</h2>
                if let Some(g) = &errors.general { <p class="alert error" role="alert">{ g }</p> }
                <div class="form-grid">
                    <Select name="store_id" id="complaint-store" label={t(lang, Key::Store)} value={draft.store_id.clone()}
                        options={stores} onchange={set(|d, v| d.store_id = v)} error={errors.field("store_id").map(str::to_string)} />
                    <div data-field="customer_id" class={classes!("field", errors.field("customer_id").is_some().then_some("invalid"))}>
                        <label for="complaint-customer">{ t(lang, Key::Customer) }</label>
                        <input id="complaint-customer" name="customer_q" value={(*query).clone()} autocomplete="off"
                            placeholder={t(lang, Key::SearchCustomerHint)}
                            oninput={let s = search.clone(); Callback::from(move |e: InputEvent| {
                                if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>() { s.emit(i.value()) } })} />
                        if let Some(c) = &chosen {
                            <p class="field-hint">{ "✓ " }{ &c.base.name }{ " · " }{ &c.base.phone }</p>
                        }
                        if let Some(m) = errors.field("customer_id") { <p class="field-error">{ m }</p> }
                        if chosen.is_none() && !found.is_empty() {
                            <ul class="pick-list">
                                { for found.iter().map(|c| {
                                    let (draft, id) = (draft.clone(), c.base.id.clone());
                                    let onclick = Callback::from(move |_: MouseEvent| {
                                        let mut d = (*draft).clone();
                                        d.customer_id = id.clone();
                                        draft.set(d);
                                    });
                                    html! { <li><button type="button" class="btn small" {onclick}>
                                        { &c.base.name }{ " · " }{ &c.base.phone }</button></li> }
                                }) }
                            </ul>
                        }
                    </div>
                    <Select name="channel" id="complaint-channel" label={t(lang, Key::ContactChannel)} value={draft.channel.clone()}
                        options={options(&CHANNELS)} onchange={set(|d, v| d.channel = v)} />
                    <Select name="category" id="complaint-category" label={t(lang, Key::Category)} value={draft.category.clone()}
                        options={options(&CATEGORIES)} onchange={set(|d, v| d.category = v)} />
                    <Select name="severity" id="complaint-severity" label={t(lang, Key::Severity)} value={draft.severity.clone()}
                        options={options(&SEVERITIES)} onchange={set(|d, v| d.severity = v)} />
                </div>
                <div class={classes!("field", errors.field("description").is_some().then_some("invalid"))} data-field="description">
                    <label for="complaint-description">{ t(lang, Key::Description) }</label>
                    <textarea id="complaint-description" rows="3" maxlength="4000" value={draft.description.clone()} oninput={on_desc} />
                    if let Some(m) = errors.field("description") { <p class="field-error">{ m }</p> }
                </div>
                <div class="form-actions">
                    <button type="button" class="btn" onclick={close}>{ t(lang, Key::Cancel) }</button>
                    <button type="submit" class="btn primary" disabled={*busy}>{ if *busy { t(lang, Key::Saving) } else { t(lang, Key::Create) } }</button>
                </div>
            </form>
        }
    } else {
        html! {}
    };

    let now = crate::reports::now();
    let rows: Vec<&ComplaintDto> = list
        .items
        .iter()
        .filter(|c| selected.as_ref().is_none_or(|s| *s == c.store_id))
        .collect();
    let table = if !list.loaded && list.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&list.error, list.loaded) {
        html! { <ErrorLine text={error_message(e, lang)} /> }
    } else if rows.is_empty() {
        html! { <Empty text={t(lang, Key::NoData)} /> }
    } else {
        html! {
            <div class="table-wrap"><table class="table" id="complaints-table">
                <thead><tr>
                    <th>{ t(lang, Key::Severity) }</th><th>{ t(lang, Key::Category) }</th>
                    <th>{ t(lang, Key::Description) }</th><th>{ t(lang, Key::Customer) }</th>
                    <th>{ t(lang, Key::DueBy) }</th><th>{ t(lang, Key::Status) }</th><th></th>
                </tr></thead>
                <tbody>
                { for rows.iter().map(|c| {
                    let late = c.status == "open" && c.due_at < now;
                    html! {
                    <tr data-complaint={c.id.clone()} class={classes!(late.then_some("overdue"))}>
                        <td><span class={classes!("badge", format!("sev-{}", c.severity))}>{ code_name(lang, &c.severity) }</span></td>
                        <td class="nowrap">{ code_name(lang, &c.category) }</td>
                        <td>{ &c.description }
                            if let Some(r) = &c.resolution { <div class="muted small">{ t(lang, Key::Resolution) }{ ": " }{ r }</div> }</td>
                        <td class="nowrap"><a href={customer_hash(&c.customer_id)}>{ t(lang, Key::Customer360) }</a>
                            <div class="muted small">{ store_name(&me.stores, &c.store_id).unwrap_or_default() }</div></td>
                        <td class="nowrap">{ format_time(&c.due_at) }
                            if late { <div><span class="badge danger">{ t(lang, Key::Overdue) }</span></div> }
                            if c.escalation_level > 0 { <div class="muted small">{ t(lang, Key::Escalated) }{ " " }{ c.escalation_level }</div> }</td>
                        <td class="nowrap">{ code_name(lang, &format!("complaint_{}", c.status)) }</td>
                        <td class="actions">
                            if c.status == "open" {
                                if c.assigned_to.as_deref() != Some(my_id.as_str()) {
                                    <button class="btn small" onclick={open_step(Step::AssignMe((*c).clone()))}>{ t(lang, Key::AssignToMe) }</button>
                                }
                                <button class="btn small" data-action="assign" onclick={open_assign((*c).clone())}>{ t(lang, Key::AssignTo) }</button>
                                <button class="btn small primary" data-action="resolve" onclick={open_step(Step::Resolve((*c).clone()))}>{ t(lang, Key::Resolve) }</button>
                            }
                            if c.status == "resolved" {
                                <button class="btn small primary" data-action="satisfied" onclick={open_step(Step::Confirm((*c).clone(), true))}>{ t(lang, Key::CustomerSatisfied) }</button>
                                <button class="btn small" onclick={open_step(Step::Confirm((*c).clone(), false))}>{ t(lang, Key::CustomerNotSatisfied) }</button>
                            }
                        </td>
                    </tr>
                }}) }
                </tbody>
            </table></div>
        }
    };
    let tabs = ["open", "resolved", "closed", ""].iter().map(|s| {
        let status_h = status.clone();
        let on = *status == *s;
        let onclick = Callback::from(move |_: MouseEvent| status_h.set(s.to_string()));
        let label = if s.is_empty() { t(lang, Key::All).to_string() } else { code_name(lang, &format!("complaint_{s}")) };
        html! { <button class={classes!("btn", "small", on.then_some("primary"))} aria-pressed={on.to_string()} {onclick}>{ label }</button> }
    });
    let more = {
        let (list, status) = (list.clone(), status.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(next) = list.next.clone() {
                load(list.clone(), (*status).clone(), Some(next));
            }
        })
    };
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavComplaints) }</h1>
                if !*intake_open {
                    <button class="btn primary" id="new-complaint" onclick={open_intake}>{ t(lang, Key::NewComplaint) }</button>
                }
            </div>
            { intake }
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
    fn intake_needs_store_customer_and_description() {
        let errors = validate_intake(&Intake::default());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["store_id", "customer_id", "description"]);
        let ok = Intake {
            store_id: "s".into(),
            customer_id: "c".into(),
            description: "等待时间过长".into(),
            ..Intake::default()
        };
        assert!(validate_intake(&ok).is_empty());
    }
}
