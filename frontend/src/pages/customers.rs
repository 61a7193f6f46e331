//! 客户 Customers: the customers of the user's stores (narrowed by the store switcher), a new
//! customer form (`customers.write`) and one customer's page.

use crate::api::club;
use crate::api::{self, crm, ApiError};
use crate::components::common::{
    ConfirmDialog, Empty, ErrorLine, Field, LoadMore, Loading, Select,
};
use crate::forms::{error_message, errors_of, validate_customer, Failure};
use crate::i18n::code_name;
use crate::i18n::Lang;
use crate::i18n::{t, Key};
use crate::money::yuan;
use crate::money::{fmt_fen, parse_fen};
use crate::route::{customer_hash, member_hash, Route};
use crate::session::{format_time, store_name, use_lang, use_store, Session};
use dms_api_types::crm::{CrmCustomerDto, CrmCustomerPage, Customer360Dto};
use dms_api_types::membership::{IssueCardRequest, JoinChannel, JoinMemberRequest};
use dms_api_types::CustomerDto;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

const FIELDS: &[&str] = &["store_id", "name", "phone", "vins", "vins[0]"];

/// One likely twin named by a 409 `duplicate_suspected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twin {
    /// `phone`, `id_number` or `vin`.
    pub matched_on: String,
    pub customer_id: String,
    pub name: String,
}

/// The twins in a `duplicate_suspected` message: `phone=<id> (name); vin=<id> (name)`.
pub fn parse_twins(message: &str) -> Vec<Twin> {
    message
        .split("; ")
        .filter_map(|part| {
            let (field, rest) = part.split_once('=')?;
            let (id, name) = match rest.split_once(" (") {
                Some((id, name)) => (id, name.strip_suffix(')').unwrap_or(name)),
                None => (rest, ""),
            };
            let field = field.trim();
            let field = field.split('[').next().unwrap_or(field);
            (!id.trim().is_empty()).then(|| Twin {
                matched_on: field.to_string(),
                customer_id: id.trim().to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

/// What a field path matched on: `vins[0]` → `vin`, `other_phones[0].phone` → `phone`.
fn matched_on(field: &str) -> String {
    if field.contains("vin") {
        "vin".into()
    } else if field.contains("id_number") {
        "id_number".into()
    } else if field.contains("phone") {
        "phone".into()
    } else {
        field.split('[').next().unwrap_or(field).to_string()
    }
}

/// The twins of a failure and whether "create anyway" may override it: a
/// `duplicate_suspected` may be; a phone that is another customer's login (`conflict`) not.
pub fn twins_of(error: &ApiError) -> (Vec<Twin>, bool) {
    let ApiError::Problem(p) = error else {
        return (Vec::new(), false);
    };
    let overridable = p.code == "duplicate_suspected";
    if !overridable && p.code != "conflict" {
        return (Vec::new(), false);
    }
    let mut out: Vec<Twin> = Vec::new();
    for e in &p.errors {
        // `already on customer <id> (<name>)`, or the older `field=<id> (<name>); ...`.
        let found = match e.message.strip_prefix("already on customer ") {
            Some(rest) => parse_twins(&format!("{}={rest}", e.field)),
            None => parse_twins(e.message.split(": ").next().unwrap_or_default()),
        };
        for mut twin in found {
            twin.matched_on = matched_on(&twin.matched_on);
            if !out.iter().any(|x| x.customer_id == twin.customer_id) {
                out.push(twin);
            }
        }
    }
    if out.is_empty() && overridable {
        if let Some((_, list)) = p.title.split_once(": ") {
            out = parse_twins(list);
        }
    }
    (out, overridable)
}

/// A manager's role (they may merge customers).
pub fn is_manager(me: &dms_api_types::StaffMe) -> bool {
    me.roles.iter().any(|g| {
        matches!(
            g.role.as_str(),
            "group_admin"
                | "general_manager"
                | "store_manager"
                | "sales_manager"
                | "service_manager"
        )
    })
}

#[derive(Properties, PartialEq)]
pub struct CustomersProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct List {
    items: Vec<CustomerDto>,
    next: Option<String>,
    loading: bool,
    error: Option<ApiError>,
    loaded: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Draft {
    store_id: String,
    name: String,
    phone: String,
    vin: String,
}

fn load(list: UseStateHandle<List>, cursor: Option<String>) {
    let mut current = if cursor.is_none() {
        List::default()
    } else {
        (*list).clone()
    };
    current.loading = true;
    current.error = None;
    list.set(current.clone());
    spawn_local(async move {
        match api::customers(cursor.as_deref()).await {
            Ok(page) => {
                current.items.extend(page.items);
                current.next = page.next_cursor;
                current.loaded = true;
            }
            Err(e) => current.error = Some(e),
        }
        current.loading = false;
        list.set(current);
    });
}

fn go(hash: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(hash);
    }
}

#[function_component(Customers)]
pub fn customers(props: &CustomersProps) -> Html {
    let lang = use_lang();
    let selected = use_store();
    let me = &props.session.me;
    let can_write = props.session.can("customers.write");
    let list = use_state(List::default);
    let version = use_state(|| 0u32);
    let open = use_state(|| false);
    let draft = use_state(Draft::default);
    let failure = use_state(|| None::<Failure>);
    let busy = use_state(|| false);
    let twins = use_state(Vec::<Twin>::new);
    let can_force = use_state(|| false);

    {
        let list = list.clone();
        use_effect_with(*version, move |_| load(list, None));
    }

    let open_form = {
        let (open, draft, failure, twins) =
            (open.clone(), draft.clone(), failure.clone(), twins.clone());
        let default_store = selected
            .clone()
            .or_else(|| (me.stores.len() == 1).then(|| me.stores[0].id.clone()))
            .unwrap_or_default();
        Callback::from(move |_: MouseEvent| {
            draft.set(Draft {
                store_id: default_store.clone(),
                ..Draft::default()
            });
            failure.set(None);
            twins.set(vec![]);
            open.set(true);
        })
    };
    let close = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(false))
    };
    // `allow_duplicate`: the user looked at the likely twins and creates anyway.
    let send = {
        let (draft, failure, busy, twins, can_force) = (
            draft.clone(),
            failure.clone(),
            busy.clone(),
            twins.clone(),
            can_force.clone(),
        );
        Callback::from(move |allow_duplicate: bool| {
            if *busy {
                return;
            }
            let d = (*draft).clone();
            let local = validate_customer(&d.store_id, &d.name, &d.phone);
            if !local.is_empty() {
                failure.set(Some(Failure::Local(local)));
                return;
            }
            failure.set(None);
            busy.set(true);
            let (failure, busy, twins, can_force) = (
                failure.clone(),
                busy.clone(),
                twins.clone(),
                can_force.clone(),
            );
            spawn_local(async move {
                let mut body =
                    crate::pages::leads::new_customer_from(&dms_api_types::crm::LeadDto {
                        id: String::new(),
                        store_id: d.store_id.clone(),
                        customer_id: None,
                        name: d.name.trim().to_string(),
                        phone: d.phone.trim().to_string(),
                        source_channel: String::new(),
                        interest_brand: String::new(),
                        interest_model: String::new(),
                        grade: String::new(),
                        assigned_to: None,
                        status: String::new(),
                        lost_reason: None,
                        next_follow_up_on: None,
                        last_contact_at: None,
                    });
                let vin = d.vin.trim().to_uppercase();
                if !vin.is_empty() {
                    body.vins.push(vin);
                }
                body.allow_duplicate = allow_duplicate;
                let result = crm::create_customer(&body).await;
                busy.set(false);
                match result {
                    Ok(c) => go(&customer_hash(&c.base.id)),
                    Err(e) => {
                        let (found, overridable) = twins_of(&e);
                        if found.is_empty() {
                            failure.set(Some(Failure::Server(e)));
                        } else {
                            can_force.set(overridable);
                            twins.set(found);
                        }
                    }
                }
            });
        })
    };
    let submit = {
        let (send, twins) = (send.clone(), twins.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            twins.set(vec![]);
            send.emit(false);
        })
    };
    let set = |f: fn(&mut Draft, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            f(&mut d, v);
            draft.set(d);
        })
    };

    let form = if *open {
        let errors = errors_of(&failure, lang, FIELDS);
        let mut store_options = vec![(String::new(), t(lang, Key::SelectStore).to_string())];
        store_options.extend(
            me.stores
                .iter()
                .map(|s| (s.id.clone(), format!("{} {}", s.code, s.name))),
        );
        html! {
                    <form class="card form-card" id="customer-form" onsubmit={submit} novalidate=true>
                        <h2>{ t(lang, Key::NewCustomer) }</h2>
                        if let Some(general) = &errors.general {
                            <p class="alert error" role="alert">{ general }</p>
                        }
                        <div class="form-grid">
                            <Select name="store_id" id="customer-store" label={t(lang, Key::HomeStore)}
                                value={draft.store_id.clone()} options={store_options}
                                onchange={set(|d, v| d.store_id = v)} error={errors.field("store_id").map(str::to_string)} />
                            <Field name="name" id="customer-name" label={t(lang, Key::CustomerName)}
                                value={draft.name.clone()} oninput={set(|d, v| d.name = v)}
                                error={errors.field("name").map(str::to_string)} maxlength="64" />
                            <Field name="phone" id="customer-phone" label={t(lang, Key::Mobile)} kind="tel"
                                inputmode="numeric" value={draft.phone.clone()} oninput={set(|d, v| d.phone = v)}
                                error={errors.field("phone").map(str::to_string)} maxlength="11" />
                            <Field name="vins" id="customer-vin" label={t(lang, Key::VinOptional)}
                                value={draft.vin.clone()} oninput={set(|d, v| d.vin = v)}
                                error={errors.field("vins").or(errors.field("vins[0]")).map(str::to_string)} maxlength="17" />
                        </div>
                        if !twins.is_empty() {
                            <div class="alert warning" id="duplicate-warning" role="alert">
                                <p><strong>{ t(lang, if *can_force { Key::LikelyDuplicate } else { Key::PhoneIsLogin }) }</strong></p>
                                <ul class="plain-list">
                                    { for twins.iter().map(|tw| html! {
                                        <li>
                                            <a href={customer_hash(&tw.customer_id)} class="twin">{ if tw.name.is_empty() { tw.customer_id.clone() } else { tw.name.clone() } }</a>
                                            { " · " }{ t(lang, Key::MatchedOn) }{ " " }{ code_name(lang, &format!("match_{}", tw.matched_on)) }
                                        </li>
                                    }) }
                                </ul>
                                <div class="form-actions">
                                    <a class="btn" href={customer_hash(&twins[0].customer_id)} id="open-existing">{ t(lang, Key::OpenExisting) }</a>
        if *can_force {
                                    <button type="button" class="btn danger" id="create-anyway" disabled={*busy}
                                        onclick={let send = send.clone(); Callback::from(move |_: MouseEvent| send.emit(true))}>
                                        { t(lang, Key::CreateAnyway) }</button>
                                    }
                                </div>
                            </div>
                        }
                        <div class="form-actions">
                            <button type="button" class="btn" onclick={close}>{ t(lang, Key::Cancel) }</button>
                            <button type="submit" class="btn primary" disabled={*busy}>
                                { if *busy { t(lang, Key::Saving) } else { t(lang, Key::Create) } }
                            </button>
                        </div>
                    </form>
                }
    } else {
        html! {}
    };

    let rows: Vec<&CustomerDto> = list
        .items
        .iter()
        .filter(|c| selected.as_ref().is_none_or(|s| *s == c.store_id))
        .collect();
    let more = {
        let list = list.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(next) = list.next.clone() {
                load(list.clone(), Some(next));
            }
        })
    };
    let table = if !list.loaded && list.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&list.error, list.loaded) {
        let version = version.clone();
        html! { <ErrorLine text={error_message(e, lang)} retry={Callback::from(move |_| version.set(*version + 1))} /> }
    } else if rows.is_empty() && list.next.is_none() {
        html! { <Empty text={t(lang, if list.items.is_empty() { Key::NoData } else { Key::NoMatches })} /> }
    } else {
        html! {
            <div class="table-wrap">
            <table class="table" id="customers-table">
                <thead><tr>
                    <th>{ t(lang, Key::CustomerName) }</th>
                    <th>{ t(lang, Key::Mobile) }</th>
                    <th>{ t(lang, Key::HomeStore) }</th>
                    <th>{ t(lang, Key::CreatedAt) }</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|c| html! {
                        <tr>
                            <td><a href={customer_hash(&c.id)}>{ &c.name }</a></td>
                            <td class="nowrap">{ &c.phone }</td>
                            <td>{ store_name(&me.stores, &c.store_id).unwrap_or(t(lang, Key::UnknownStore)) }</td>
                            <td class="nowrap">{ format_time(&c.created_at) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
        }
    };

    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavCustomers) }</h1>
                if can_write && !*open {
                    <button class="btn primary" id="new-customer" onclick={open_form}>{ t(lang, Key::NewCustomer) }</button>
                }
            </div>
            { form }
            <div class="card">
                { table }
                <LoadMore has_more={list.next.is_some()} loading={list.loading} onclick={more} />
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct CustomerDetailProps {
    pub session: Session,
    pub id: String,
}

#[function_component(CustomerDetail)]
pub fn customer_detail(props: &CustomerDetailProps) -> Html {
    let lang = use_lang();
    let state = use_state(|| None::<Result<Customer360Dto, ApiError>>);
    let reload = use_state(|| 0u32);
    let membership = use_state(|| None::<dms_api_types::membership::MembershipSummaryDto>);
    let can_club = props.session.can("membership.read");
    let can_cards = props.session.can("membership.cards");
    let can_merge = props.session.can("customers.write") && is_manager(&props.session.me);
    let channel = use_state(|| "purchase".to_string());
    let fee = use_state(String::new);
    let fee_error = use_state(|| None::<String>);
    let asking = use_state(|| false);
    let busy = use_state(|| false);
    let join_error = use_state(|| None::<String>);
    {
        let (state, membership) = (state.clone(), membership.clone());
        use_effect_with((props.id.clone(), *reload), move |(id, _)| {
            state.set(None);
            membership.set(None);
            let id = id.clone();
            spawn_local(async move {
                state.set(Some(crm::customer_360(&id).await));
                if can_club {
                    if let Ok(summary) = club::membership_of(&id).await {
                        membership.set(Some(summary));
                    }
                }
            });
        });
    }
    let customer_name = match &*state {
        Some(Ok(d)) => d.profile.customer.base.name.clone(),
        _ => String::new(),
    };
    let ask_join = {
        let (asking, fee, fee_error) = (asking.clone(), fee.clone(), fee_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !fee.trim().is_empty() && parse_fen(&fee).is_none() {
                fee_error.set(Some(t(lang, Key::AmountInvalid).to_string()));
                return;
            }
            fee_error.set(None);
            asking.set(true);
        })
    };
    let do_join = {
        let (channel, fee, asking, busy, join_error) = (
            channel.clone(),
            fee.clone(),
            asking.clone(),
            busy.clone(),
            join_error.clone(),
        );
        let customer = match &*state {
            Some(Ok(d)) => Some(d.profile.customer.base.clone()),
            _ => None,
        };
        Callback::from(move |()| {
            let Some(c) = customer.clone() else { return };
            if *busy {
                return;
            }
            let body = JoinMemberRequest {
                customer_id: c.id.clone(),
                store_id: c.store_id.clone(),
                channel: match channel.as_str() {
                    "bring_own_car" => JoinChannel::BringOwnCar,
                    "spend" => JoinChannel::Spend,
                    "driving_school" => JoinChannel::DrivingSchool,
                    "fee" => JoinChannel::Fee,
                    _ => JoinChannel::Purchase,
                },
                tier_code: None,
                fee_paid: parse_fen(&fee).map(fmt_fen),
                past_spend: None,
            };
            busy.set(true);
            let (asking, busy, join_error) = (asking.clone(), busy.clone(), join_error.clone());
            spawn_local(async move {
                let result = async {
                    let member = club::join(&body).await?;
                    club::issue_card(&IssueCardRequest {
                        member_id: member.id.clone(),
                        card_no: None,
                        chip_uid: None,
                        expires_at: None,
                    })
                    .await?;
                    Ok::<_, ApiError>(member)
                }
                .await;
                busy.set(false);
                match result {
                    Ok(member) => {
                        asking.set(false);
                        go(&member_hash(&member.id));
                    }
                    Err(e) => join_error.set(Some(error_message(&e, lang))),
                }
            });
        })
    };
    let join_dialog = if *asking {
        let on_cancel = {
            let (asking, join_error) = (asking.clone(), join_error.clone());
            Callback::from(move |()| {
                asking.set(false);
                join_error.set(None);
            })
        };
        html! {
            <ConfirmDialog title={t(lang, Key::JoinTitle)}
                body={t(lang, Key::JoinBody).replace("{name}", &customer_name)}
                confirm_label={t(lang, Key::JoinAndIssue)} on_confirm={do_join} {on_cancel}
                busy={*busy} danger={false} error={(*join_error).clone()} />
        }
    } else {
        html! {}
    };
    let channels: Vec<(String, String)> = [
        "purchase",
        "bring_own_car",
        "spend",
        "driving_school",
        "fee",
    ]
    .iter()
    .map(|c| (c.to_string(), code_name(lang, c)))
    .collect();
    let on_channel = {
        let channel = channel.clone();
        Callback::from(move |v: String| channel.set(v))
    };
    let on_fee = {
        let fee = fee.clone();
        Callback::from(move |v: String| fee.set(v))
    };

    let club_card = match &*membership {
        Some(summary) => html! {
            <div class="card" id="customer-membership">
                <h2>{ t(lang, Key::Membership) }</h2>
                if let Some(m) = &summary.member {
                    <dl class="facts">
                        <dt>{ t(lang, Key::Tier) }</dt><dd><span class={classes!("badge", "tier", m.tier_code.clone())}>{ &m.tier_code }</span></dd>
                        <dt>{ t(lang, Key::RedeemablePoints) }</dt><dd>{ m.redeemable_points }</dd>
                        { for summary.cards.iter().map(|c| html! {
                            <><dt>{ &c.masked_card_no }</dt><dd>{ yuan(&c.balance) }</dd></>
                        }) }
                    </dl>
                    <p><a class="btn primary" href={member_hash(&m.id)}>{ t(lang, Key::Open) }</a></p>
                } else {
                    <p class="muted">{ t(lang, Key::NotAMember) }</p>
                    if can_cards {
                        <form id="join-form" onsubmit={ask_join}>
                            <div class="form-grid">
                                <Select name="channel" id="join-channel" label={t(lang, Key::JoinChannel)}
                                    value={(*channel).clone()} options={channels} onchange={on_channel} />
                                <Field name="fee_paid" id="join-fee" label={t(lang, Key::FeePaid)}
                                    value={(*fee).clone()} oninput={on_fee} error={(*fee_error).clone()}
                                    inputmode="decimal" maxlength="15" />
                            </div>
                            <button type="submit" class="btn primary" id="join">{ t(lang, Key::JoinAndIssue) }</button>
                        </form>
                    }
                }
            </div>
        },
        None => html! {},
    };
    let body = match &*state {
        None => html! { <Loading /> },
        Some(Err(e)) => html! { <ErrorLine text={error_message(e, lang)} /> },
        Some(Ok(d)) => {
            let c = &d.profile.customer.base;
            let p = &d.profile;
            html! {
                <>
                <div class="card" id="customer-detail">
                    <h2>{ &c.name }
                        if p.customer.status == "merged" { { " " }<span class="badge danger">{ code_name(lang, "merged") }</span> }
                    </h2>
                    <dl class="facts">
                        <dt>{ t(lang, Key::Mobile) }</dt><dd>{ &c.phone }
                            { for p.phones.iter().map(|ph| html! { <>{ " · " }{ &ph.phone }{ " " }<span class="muted">{ &ph.label }</span></> }) }</dd>
                        <dt>{ t(lang, Key::HomeStore) }</dt>
                        <dd>{ store_name(&props.session.me.stores, &c.store_id).unwrap_or(t(lang, Key::UnknownStore)) }</dd>
                        if let Some(email) = &p.customer.email { <dt>{ "E-mail" }</dt><dd>{ email }</dd> }
                        if !p.tags.is_empty() {
                            <dt>{ t(lang, Key::Tags) }</dt>
                            <dd>{ for p.tags.iter().map(|tag| html! { <span class="badge">{ tag }</span> }) }</dd>
                        }
                        if !p.customer.notes.is_empty() { <dt>{ t(lang, Key::Notes) }</dt><dd>{ &p.customer.notes }</dd> }
                        <dt>{ t(lang, Key::CreatedAt) }</dt><dd>{ format_time(&c.created_at) }</dd>
                        <dt>{ t(lang, Key::RecordId) }</dt><dd><code class="code plain">{ &c.id }</code></dd>
                    </dl>
                </div>
                <div class="grid-2">
                    <div class="card" id="customer-vehicles">
                        <h2>{ t(lang, Key::Vehicles) }{ " · " }{ d.vehicles.len() }</h2>
                        if d.vehicles.is_empty() {
                            <p class="muted">{ t(lang, Key::NoData) }</p>
                        } else {
                            <div class="table-wrap"><table class="table">
                                <thead><tr><th>{ t(lang, Key::Plate) }</th><th>{ t(lang, Key::Model) }</th><th>{ "VIN" }</th><th>{ t(lang, Key::LastService) }</th><th>{ t(lang, Key::InsuranceExpiry) }</th></tr></thead>
                                <tbody>{ for d.vehicles.iter().map(|v| html! {
                                    <tr>
                                        <td class="nowrap">{ v.plate.clone().unwrap_or_default() }</td>
                                        <td>{ &v.brand }{ " " }{ &v.model }{ " " }<span class="muted">{ v.model_year.map(|y| y.to_string()).unwrap_or_default() }</span></td>
                                        <td><code class="code plain">{ &v.vin }</code></td>
                                        <td class="nowrap">{ v.last_service_on.map(|x| x.to_string()).unwrap_or_default() }</td>
                                        <td class="nowrap">{ v.insurance_expiry.map(|x| x.to_string()).unwrap_or_default() }</td>
                                    </tr>
                                }) }</tbody>
                            </table></div>
                        }
                    </div>
                    <div class="card" id="customer-open">
                        <h2>{ t(lang, Key::OpenItems) }</h2>
                        if d.open_tasks.is_empty() && d.open_complaints.is_empty() && d.open_leads.is_empty() {
                            <p class="muted">{ t(lang, Key::NothingOpen) }</p>
                        }
                        <ul class="plain-list">
                            { for d.open_tasks.iter().map(|task| html! {
                                <li class="open-task"><span class="badge">{ t(lang, Key::FollowUpTask) }</span>{ " " }{ &task.title }
                                    <span class="muted">{ " · " }{ task.due_on.to_string() }</span></li>
                            }) }
                            { for d.open_complaints.iter().map(|x| html! {
                                <li class="open-complaint"><span class="badge danger">{ t(lang, Key::Complaint) }</span>{ " " }
                                    { code_name(lang, &x.category) }{ " · " }{ code_name(lang, &x.severity) }
                                    <span class="muted">{ " · " }{ &x.description }</span></li>
                            }) }
                            { for d.open_leads.iter().map(|l| html! {
                                <li><span class="badge">{ t(lang, Key::Lead) }{ " " }{ &l.grade }</span>{ " " }
                                    { &l.interest_brand }{ " " }{ &l.interest_model }</li>
                            }) }
                        </ul>
                    </div>
                </div>
                <div class="card" id="customer-timeline">
                    <h2>{ t(lang, Key::Timeline) }</h2>
                    { timeline_html(d, lang) }
                </div>
                </>
            }
        }
    };
    let merge_card = match (&*state, can_merge) {
        (Some(Ok(d)), true) if d.profile.customer.status != "merged" => html! {
            <MergeCard survivor_id={d.profile.customer.base.id.clone()}
                survivor_name={d.profile.customer.base.name.clone()}
                survivor_phone={d.profile.customer.base.phone.clone()} on_done={
                let reload = reload.clone();
                Callback::from(move |()| reload.set(*reload + 1))
            } />
        },
        _ => html! {},
    };
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::Customer360) }</h1>
                <a class="btn" href={Route::Customers.hash()}>{ t(lang, Key::BackToList) }</a>
            </div>
            { body }
            { club_card }
            { merge_card }
            { join_dialog }
        </section>
    }
}

/// One line of the customer's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub day: chrono::NaiveDate,
    /// `visit`, `task`, `complaint` or `survey`.
    pub kind: &'static str,
    pub text: String,
}

/// Visits, follow-ups, complaints and surveys, newest first.
pub fn timeline(d: &Customer360Dto, lang: Lang) -> Vec<Event> {
    let mut out = Vec::new();
    for v in &d.recent_visits {
        let km = v.km.map(|k| format!(" · {k} km")).unwrap_or_default();
        out.push(Event {
            day: v.visited_on,
            kind: "visit",
            text: format!("{}{km}", code_name(lang, &v.kind)),
        });
    }
    for task in &d.open_tasks {
        out.push(Event {
            day: task.due_on,
            kind: "task",
            text: task.title.clone(),
        });
    }
    for c in &d.open_complaints {
        out.push(Event {
            day: c.due_at.date_naive(),
            kind: "complaint",
            text: format!("{} · {}", code_name(lang, &c.category), c.description),
        });
    }
    for s in &d.satisfaction {
        let at = s.answered_at.unwrap_or(s.sent_at);
        let scores = match (s.csat, s.nps) {
            (Some(c), Some(n)) => format!(" · CSAT {c} · NPS {n}"),
            (Some(c), None) => format!(" · CSAT {c}"),
            _ => String::new(),
        };
        out.push(Event {
            day: at.date_naive(),
            kind: "survey",
            text: format!(
                "{}{scores}",
                code_name(lang, &format!("survey_{}", s.status))
            ),
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.day));
    out
}

fn timeline_html(d: &Customer360Dto, lang: Lang) -> Html {
    let events = timeline(d, lang);
    if events.is_empty() {
        return html! { <p class="muted">{ t(lang, Key::NoData) }</p> };
    }
    html! {
        <ol class="timeline">
            { for events.iter().map(|e| html! {
                <li class={classes!("event", e.kind)}>
                    <span class="nowrap muted">{ e.day.to_string() }</span>
                    <span class="badge">{ code_name(lang, &format!("event_{}", e.kind)) }</span>
                    <span>{ &e.text }</span>
                </li>
            }) }
        </ol>
    }
}

#[derive(Properties, PartialEq)]
struct MergeProps {
    survivor_id: String,
    survivor_name: String,
    survivor_phone: String,
    on_done: Callback<()>,
}

/// A manager merges a duplicate record into this one: find it, then confirm with both names.
#[function_component(MergeCard)]
fn merge_card(props: &MergeProps) -> Html {
    let lang = use_lang();
    let query = use_state(String::new);
    let found = use_state(Vec::<CrmCustomerDto>::new);
    let picked = use_state(|| None::<CrmCustomerDto>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let survivor_id = props.survivor_id.clone();
    let search = {
        let (query, found) = (query.clone(), found.clone());
        Callback::from(move |v: String| {
            query.set(v.clone());
            let (found, survivor_id) = (found.clone(), survivor_id.clone());
            if v.trim().chars().count() < 2 {
                found.set(vec![]);
                return;
            }
            spawn_local(async move {
                let path =
                    api::with_query("/customers", &[("q", Some(v.trim())), ("limit", Some("8"))]);
                if let Ok(page) = api::get_json::<CrmCustomerPage>(&path).await {
                    found.set(
                        page.items
                            .into_iter()
                            .filter(|c| c.base.id != survivor_id)
                            .collect(),
                    );
                }
            });
        })
    };
    let dialog = match &*picked {
        None => html! {},
        Some(other) => {
            let body = t(lang, Key::MergeBody)
                .replace(
                    "{merged}",
                    &format!("{} ({})", other.base.name, other.base.phone),
                )
                .replace(
                    "{survivor}",
                    &format!("{} ({})", props.survivor_name, props.survivor_phone),
                );
            let on_confirm = {
                let (busy, error, picked, on_done) = (
                    busy.clone(),
                    error.clone(),
                    picked.clone(),
                    props.on_done.clone(),
                );
                let (survivor, merged) = (props.survivor_id.clone(), other.base.id.clone());
                Callback::from(move |()| {
                    if *busy {
                        return;
                    }
                    busy.set(true);
                    let (busy, error, picked, on_done) =
                        (busy.clone(), error.clone(), picked.clone(), on_done.clone());
                    let (survivor, merged) = (survivor.clone(), merged.clone());
                    spawn_local(async move {
                        let r = crm::merge(&survivor, &merged).await;
                        busy.set(false);
                        match r {
                            Ok(_) => {
                                picked.set(None);
                                on_done.emit(());
                            }
                            Err(e) => error.set(Some(error_message(&e, lang))),
                        }
                    });
                })
            };
            let on_cancel = {
                let (picked, error) = (picked.clone(), error.clone());
                Callback::from(move |()| {
                    picked.set(None);
                    error.set(None);
                })
            };
            html! { <ConfirmDialog title={t(lang, Key::MergeTitle)} {body} confirm_label={t(lang, Key::Merge)}
            {on_confirm} {on_cancel} busy={*busy} error={(*error).clone()} /> }
        }
    };
    html! {
        <div class="card" id="merge-card">
            <h2>{ t(lang, Key::MergeTitle) }</h2>
            <p class="muted">{ t(lang, Key::MergeHint) }</p>
            <Field name="merge_q" id="merge-q" label={t(lang, Key::SearchCustomerHint)} value={(*query).clone()} oninput={search} />
            <ul class="pick-list">
                { for found.iter().map(|c| {
                    let (picked, c2) = (picked.clone(), c.clone());
                    let onclick = Callback::from(move |_: MouseEvent| picked.set(Some(c2.clone())));
                    html! { <li><button type="button" class="btn small" {onclick}>
                        { &c.base.name }{ " · " }{ &c.base.phone }{ " · " }<code class="code plain">{ &c.base.id }</code></button></li> }
                }) }
            </ul>
            { dialog }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_are_read_from_the_conflict() {
        let twins = parse_twins("phone=c-1 (张伟); vin=c-2 (李 (公司))");
        assert_eq!(twins.len(), 2);
        assert_eq!(
            twins[0],
            Twin {
                matched_on: "phone".into(),
                customer_id: "c-1".into(),
                name: "张伟".into()
            }
        );
        assert_eq!(twins[1].matched_on, "vin");
        assert_eq!(twins[1].name, "李 (公司)");
        assert!(parse_twins("").is_empty());
        assert_eq!(parse_twins("vins[0]=c-3")[0].matched_on, "vins");
    }

    fn problem(code: &str, field: &str, message: &str) -> ApiError {
        ApiError::Problem(Box::new(dms_api_types::Problem {
            kind: String::new(),
            title: "t".into(),
            status: 409,
            code: code.into(),
            detail: None,
            errors: vec![dms_api_types::FieldError {
                field: field.into(),
                code: code.into(),
                message: message.into(),
            }],
        }))
    }

    #[test]
    fn a_shared_car_may_be_overridden_a_login_phone_not() {
        let (twins, force) = twins_of(&problem(
            "duplicate_suspected",
            "vins[0]",
            "already on customer c-9 (王建国)",
        ));
        assert!(force);
        assert_eq!(twins[0].customer_id, "c-9");
        assert_eq!(twins[0].matched_on, "vin");
        assert_eq!(twins[0].name, "王建国");
        let (twins, force) = twins_of(&problem(
            "conflict",
            "phone",
            "phone=c-9 (王建国): this number is another customer's login; add it as a further number or merge",
        ));
        assert!(!force);
        assert_eq!(twins[0].customer_id, "c-9");
        assert_eq!(twins[0].matched_on, "phone");
        assert!(twins_of(&problem("conflict", "username", "taken"))
            .0
            .is_empty());
    }
}
