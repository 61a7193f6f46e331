//! 线索看板 The sales floor's open leads in one column per intent grade (H, A, B, C), the
//! overdue follow-ups highlighted; log a contact (and change the grade with it), mark a lead
//! lost with the reason, or convert it into a customer.

use crate::api::{self, crm, ApiError};
use crate::components::common::{ConfirmDialog, Empty, ErrorLine, Loading, Select};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key};
use crate::route::customer_hash;
use crate::session::{use_lang, use_store, Session};
use dms_api_types::crm::{LeadContactRequest, LeadDto, NewCustomerRequest};
use std::collections::BTreeSet;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

pub const GRADES: [&str; 4] = ["H", "A", "B", "C"];
const CHANNELS: [&str; 4] = ["phone", "visit", "wechat", "sms"];

/// The leads of one grade column, overdue ones first, then by follow-up date.
pub fn column<'a>(
    leads: &'a [LeadDto],
    grade: &str,
    overdue: &BTreeSet<String>,
) -> Vec<&'a LeadDto> {
    let mut out: Vec<&LeadDto> = leads.iter().filter(|l| l.grade == grade).collect();
    out.sort_by_key(|l| (!overdue.contains(&l.id), l.next_follow_up_on));
    out
}

#[derive(Properties, PartialEq)]
pub struct LeadsProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct Board {
    leads: Vec<LeadDto>,
    overdue: BTreeSet<String>,
    loading: bool,
    loaded: bool,
    error: Option<ApiError>,
}

/// The dialog open on a lead.
#[derive(Debug, Clone)]
enum Action {
    Contact(LeadDto),
    Lost(LeadDto),
    Convert(LeadDto),
}

fn input_value(e: &InputEvent) -> Option<String> {
    if let Some(i) = e.target_dyn_into::<HtmlInputElement>() {
        return Some(i.value());
    }
    e.target_dyn_into::<HtmlTextAreaElement>()
        .map(|t| t.value())
}

#[function_component(LeadsBoard)]
pub fn leads_board(props: &LeadsProps) -> Html {
    let lang = use_lang();
    let selected_store = use_store();
    let board = use_state(Board::default);
    let version = use_state(|| 0u32);
    let only_overdue = use_state(|| false);
    let action = use_state(|| None::<Action>);
    let channel = use_state(|| "phone".to_string());
    let note = use_state(String::new);
    let grade = use_state(String::new);
    let reason = use_state(String::new);
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let notice = use_state(|| None::<String>);

    {
        let board = board.clone();
        use_effect_with(*version, move |_| {
            let mut b = (*board).clone();
            b.loading = true;
            b.error = None;
            board.set(b.clone());
            spawn_local(async move {
                let all = crm::leads(false).await;
                let late = crm::leads(true).await;
                match (all, late) {
                    (Ok(all), Ok(late)) => {
                        b.overdue = late.items.iter().map(|l| l.id.clone()).collect();
                        b.leads = all.items;
                        b.loaded = true;
                    }
                    (Err(e), _) | (_, Err(e)) => b.error = Some(e),
                }
                b.loading = false;
                board.set(b);
            });
        });
    }

    let open = |make: fn(LeadDto) -> Action, lead: &LeadDto| {
        let (action, lead) = (action.clone(), lead.clone());
        let (note, grade, reason, error, channel) = (
            note.clone(),
            grade.clone(),
            reason.clone(),
            error.clone(),
            channel.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            note.set(String::new());
            grade.set(String::new());
            reason.set(String::new());
            channel.set("phone".into());
            error.set(None);
            action.set(Some(make(lead.clone())));
        })
    };

    let finish = {
        let (action, busy, error, notice, version) = (
            action.clone(),
            busy.clone(),
            error.clone(),
            notice.clone(),
            version.clone(),
        );
        move |result: Result<String, ApiError>| {
            busy.set(false);
            match result {
                Ok(message) => {
                    action.set(None);
                    notice.set(Some(message));
                    version.set(*version + 1);
                }
                Err(e) => error.set(Some(error_message(&e, lang))),
            }
        }
    };

    let cancel = {
        let (action, busy) = (action.clone(), busy.clone());
        Callback::from(move |()| {
            if !*busy {
                action.set(None)
            }
        })
    };

    let dialog = match (*action).clone() {
        None => html! {},
        Some(Action::Contact(lead)) => {
            let submit = {
                let (channel, note, grade, busy, error, finish) = (
                    channel.clone(),
                    note.clone(),
                    grade.clone(),
                    busy.clone(),
                    error.clone(),
                    finish.clone(),
                );
                let lead = lead.clone();
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    if *busy {
                        return;
                    }
                    if note.trim().is_empty() {
                        error.set(Some(t(lang, Key::NoteRequired).to_string()));
                        return;
                    }
                    let body = LeadContactRequest {
                        channel: (*channel).clone(),
                        note: note.trim().to_string(),
                        new_grade: (!grade.is_empty() && *grade != lead.grade)
                            .then(|| (*grade).clone()),
                    };
                    busy.set(true);
                    error.set(None);
                    let (id, name, finish) = (lead.id.clone(), lead.name.clone(), finish.clone());
                    spawn_local(async move {
                        let r = crm::lead_contact(&id, &body).await;
                        finish(r.map(|_| format!("{} · {name}", t(lang, Key::ContactLogged))));
                    });
                })
            };
            let channels: Vec<(String, String)> = CHANNELS
                .iter()
                .map(|c| (c.to_string(), code_name(lang, c)))
                .collect();
            let mut grades = vec![(String::new(), t(lang, Key::GradeUnchanged).to_string())];
            grades.extend(GRADES.iter().map(|g| {
                (
                    g.to_string(),
                    format!("{g} · {}", code_name(lang, &format!("grade_{g}"))),
                )
            }));
            let on_channel = {
                let channel = channel.clone();
                Callback::from(move |v: String| channel.set(v))
            };
            let on_grade = {
                let grade = grade.clone();
                Callback::from(move |v: String| grade.set(v))
            };
            let on_note = {
                let (note, error) = (note.clone(), error.clone());
                Callback::from(move |e: InputEvent| {
                    if let Some(v) = input_value(&e) {
                        note.set(v);
                        error.set(None);
                    }
                })
            };
            let close = {
                let cancel = cancel.clone();
                Callback::from(move |_: MouseEvent| cancel.emit(()))
            };
            html! {
                <div class="modal-backdrop">
                    <form class="modal" id="lead-contact" role="dialog" aria-modal="true" onsubmit={submit}>
                        <h2>{ t(lang, Key::LogContact) }{ " · " }{ &lead.name }</h2>
                        <div class="form-grid">
                            <Select name="channel" id="contact-channel" label={t(lang, Key::ContactChannel)}
                                value={(*channel).clone()} options={channels} onchange={on_channel} />
                            <Select name="new_grade" id="contact-grade" label={t(lang, Key::NewGrade)}
                                value={(*grade).clone()} options={grades} onchange={on_grade} />
                        </div>
                        <div class={classes!("field", error.is_some().then_some("invalid"))} data-field="note">
                            <label for="contact-note">{ t(lang, Key::ContactNote) }</label>
                            <textarea id="contact-note" name="note" rows="3" maxlength="2000"
                                value={(*note).clone()} oninput={on_note} autofocus=true />
                            if let Some(message) = (*error).clone() {
                                <p class="field-error">{ message }</p>
                            }
                        </div>
                        <div class="modal-actions">
                            <button type="button" class="btn" onclick={close} disabled={*busy}>{ t(lang, Key::Cancel) }</button>
                            <button type="submit" class="btn primary" disabled={*busy}>
                                { if *busy { t(lang, Key::Saving) } else { t(lang, Key::Save) } }
                            </button>
                        </div>
                    </form>
                </div>
            }
        }
        Some(Action::Lost(lead)) => {
            let on_reason = {
                let (reason, error) = (reason.clone(), error.clone());
                Callback::from(move |e: InputEvent| {
                    if let Some(v) = input_value(&e) {
                        reason.set(v);
                        error.set(None);
                    }
                })
            };
            let confirm = {
                let (reason, busy, error, finish) =
                    (reason.clone(), busy.clone(), error.clone(), finish.clone());
                let lead = lead.clone();
                Callback::from(move |()| {
                    if *busy {
                        return;
                    }
                    if reason.trim().is_empty() {
                        error.set(Some(t(lang, Key::ReasonRequired).to_string()));
                        return;
                    }
                    busy.set(true);
                    let (id, name, why, finish) = (
                        lead.id.clone(),
                        lead.name.clone(),
                        reason.trim().to_string(),
                        finish.clone(),
                    );
                    spawn_local(async move {
                        let r = crm::lead_lost(&id, &why).await;
                        finish(r.map(|_| format!("{} · {name}", t(lang, Key::LeadLostDone))));
                    });
                })
            };
            html! {
                <div class="modal-backdrop">
                    <div class="modal" role="alertdialog" aria-modal="true" id="lead-lost">
                        <h2>{ t(lang, Key::MarkLost) }{ " · " }{ &lead.name }</h2>
                        <p>{ t(lang, Key::MarkLostBody) }</p>
                        <div class={classes!("field", error.is_some().then_some("invalid"))} data-field="reason">
                            <label for="lost-reason">{ t(lang, Key::LostReason) }</label>
                            <input id="lost-reason" name="reason" maxlength="200" value={(*reason).clone()}
                                oninput={on_reason} autofocus=true />
                            if let Some(message) = (*error).clone() {
                                <p class="field-error">{ message }</p>
                            }
                        </div>
                        <div class="modal-actions">
                            <button class="btn" onclick={let c = cancel.clone(); Callback::from(move |_: MouseEvent| c.emit(()))}
                                disabled={*busy}>{ t(lang, Key::Cancel) }</button>
                            <button class="btn danger" data-confirm="yes" disabled={*busy}
                                onclick={Callback::from(move |_: MouseEvent| confirm.emit(()))}>
                                { if *busy { t(lang, Key::Working) } else { t(lang, Key::MarkLost) } }
                            </button>
                        </div>
                    </div>
                </div>
            }
        }
        Some(Action::Convert(lead)) => {
            let confirm = {
                let (busy, finish) = (busy.clone(), finish.clone());
                let lead = lead.clone();
                Callback::from(move |()| {
                    if *busy {
                        return;
                    }
                    busy.set(true);
                    let (lead, finish) = (lead.clone(), finish.clone());
                    spawn_local(async move {
                        let r = convert(&lead).await;
                        finish(r.map(|cid| {
                            if let Some(w) = web_sys::window() {
                                let _ = w.location().set_hash(&customer_hash(&cid));
                            }
                            format!("{} · {}", t(lang, Key::LeadConverted), lead.name)
                        }));
                    });
                })
            };
            let body = if lead.customer_id.is_some() {
                t(lang, Key::ConvertLinkedBody).replace("{name}", &lead.name)
            } else {
                t(lang, Key::ConvertNewBody)
                    .replace("{name}", &lead.name)
                    .replace("{phone}", &lead.phone)
            };
            html! {
                <ConfirmDialog title={t(lang, Key::ConvertLead)} {body} confirm_label={t(lang, Key::ConvertLead)}
                    on_confirm={confirm} on_cancel={cancel.clone()} busy={*busy} danger={false}
                    error={(*error).clone()} />
            }
        }
    };

    let leads: Vec<LeadDto> = board
        .leads
        .iter()
        .filter(|l| selected_store.as_ref().is_none_or(|s| *s == l.store_id))
        .filter(|l| !*only_overdue || board.overdue.contains(&l.id))
        .cloned()
        .collect();
    let card = |lead: &LeadDto| {
        let late = board.overdue.contains(&lead.id);
        html! {
            <li class={classes!("lead", late.then_some("overdue"))} data-lead={lead.id.clone()}
                data-overdue={late.to_string()}>
                <div class="lead-head">
                    <strong>{ &lead.name }</strong>
                    if late { <span class="badge danger">{ t(lang, Key::Overdue) }</span> }
                </div>
                <div class="muted nowrap">{ &lead.phone }</div>
                <div>{ &lead.interest_brand }{ " " }{ &lead.interest_model }</div>
                <div class="muted small">
                    { code_name(lang, &lead.source_channel) }
                    if let Some(d) = lead.next_follow_up_on {
                        { " · " }{ t(lang, Key::NextFollowUp) }{ " " }{ d.to_string() }
                    }
                </div>
                <div class="lead-actions">
                    <button class="btn small primary" data-action="contact" onclick={open(Action::Contact, lead)}>{ t(lang, Key::LogContact) }</button>
                    <button class="btn small" data-action="convert" onclick={open(Action::Convert, lead)}>{ t(lang, Key::ConvertLead) }</button>
                    <button class="btn small danger-text" data-action="lost" onclick={open(Action::Lost, lead)}>{ t(lang, Key::MarkLost) }</button>
                </div>
            </li>
        }
    };
    let columns = GRADES.iter().map(|g| {
        let items = column(&leads, g, &board.overdue);
        html! {
            <section class="lead-column" data-grade={*g} aria-label={format!("{g} {}", code_name(lang, &format!("grade_{g}")))}>
                <h2><span class={classes!("badge", "grade", format!("grade-{g}"))}>{ *g }</span>
                    { " " }{ code_name(lang, &format!("grade_{g}")) }
                    <span class="muted">{ " · " }{ items.len() }</span></h2>
                if items.is_empty() {
                    <p class="muted small">{ t(lang, Key::NoData) }</p>
                } else {
                    <ul class="lead-list">{ for items.into_iter().map(&card) }</ul>
                }
            </section>
        }
    });
    let body = if !board.loaded && board.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&board.error, board.loaded) {
        let version = version.clone();
        html! { <ErrorLine text={error_message(e, lang)} retry={Callback::from(move |_| version.set(*version + 1))} /> }
    } else if board.leads.is_empty() {
        html! { <Empty text={t(lang, Key::NoData)} /> }
    } else {
        html! { <div class="lead-board" id="lead-board">{ for columns }</div> }
    };
    let toggle = {
        let only_overdue = only_overdue.clone();
        Callback::from(move |_: Event| only_overdue.set(!*only_overdue))
    };
    let _ = &props.session;
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavLeads) }</h1>
                <span class="badge danger">{ t(lang, Key::Overdue) }{ " " }{ board.overdue.len() }</span>
                <label class="check">
                    <input type="checkbox" id="only-overdue" checked={*only_overdue} onchange={toggle} />
                    { t(lang, Key::OnlyOverdue) }
                </label>
            </div>
            if let Some(message) = (*notice).clone() {
                <p class="alert success" role="status">{ message }</p>
            }
            { body }
            { dialog }
        </section>
    }
}

/// Converts a lead: its own customer when linked; else the customer with the lead's phone, or
/// a new customer made from the lead. Returns the customer id.
async fn convert(lead: &LeadDto) -> Result<String, ApiError> {
    let customer_id = match &lead.customer_id {
        Some(id) => id.clone(),
        None => {
            let found = api::get_json::<dms_api_types::crm::CrmCustomerPage>(&api::with_query(
                "/customers",
                &[("q", Some(lead.phone.as_str())), ("limit", Some("5"))],
            ))
            .await?;
            match found.items.into_iter().find(|c| c.base.phone == lead.phone) {
                Some(c) => c.base.id,
                None => {
                    crm::create_customer(&new_customer_from(lead))
                        .await?
                        .base
                        .id
                }
            }
        }
    };
    crm::lead_convert(&lead.id, &customer_id).await?;
    Ok(customer_id)
}

/// The customer record a lead becomes.
pub fn new_customer_from(lead: &LeadDto) -> NewCustomerRequest {
    NewCustomerRequest {
        store_id: lead.store_id.clone(),
        name: lead.name.clone(),
        phone: lead.phone.clone(),
        kind: None,
        other_phones: vec![],
        email: None,
        gender: None,
        id_number: None,
        birthday: None,
        contact_person: None,
        tax_id: None,
        preferences: None,
        tags: vec![],
        addresses: vec![],
        consents: vec![],
        owner_staff_id: lead.assigned_to.clone(),
        notes: String::new(),
        vins: vec![],
        allow_duplicate: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn lead(id: &str, grade: &str, day: u32) -> LeadDto {
        LeadDto {
            id: id.into(),
            store_id: "s".into(),
            customer_id: None,
            name: id.into(),
            phone: "13900000000".into(),
            source_channel: "walk_in".into(),
            interest_brand: String::new(),
            interest_model: String::new(),
            grade: grade.into(),
            assigned_to: Some("u1".into()),
            status: "open".into(),
            lost_reason: None,
            next_follow_up_on: NaiveDate::from_ymd_opt(2026, 11, day),
            last_contact_at: None,
        }
    }

    #[test]
    fn columns_put_overdue_first_then_by_follow_up() {
        let leads = [
            lead("a", "H", 20),
            lead("b", "H", 10),
            lead("c", "A", 1),
            lead("d", "H", 25),
        ];
        let overdue: BTreeSet<String> = ["d".to_string()].into();
        let h: Vec<&str> = column(&leads, "H", &overdue)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(h, vec!["d", "b", "a"]);
        assert_eq!(column(&leads, "C", &overdue).len(), 0);
    }

    #[test]
    fn a_lead_becomes_a_customer_of_its_store_and_consultant() {
        let c = new_customer_from(&lead("x", "B", 1));
        assert_eq!(c.store_id, "s");
        assert_eq!(c.owner_staff_id.as_deref(), Some("u1"));
        assert!(!c.allow_duplicate);
    }
}
