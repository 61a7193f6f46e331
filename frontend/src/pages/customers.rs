//! 客户 Customers: the customers of the user's stores (narrowed by the store switcher), a new
//! customer form (`customers.write`) and one customer's page.

use crate::api::club;
use crate::api::{self, ApiError};
use crate::components::common::{
    ConfirmDialog, Empty, ErrorLine, Field, LoadMore, Loading, Select,
};
use crate::forms::{error_message, errors_of, validate_customer, Failure};
use crate::i18n::code_name;
use crate::i18n::{t, Key};
use crate::money::yuan;
use crate::money::{fmt_fen, parse_fen};
use crate::route::{customer_hash, member_hash, Route};
use crate::session::{format_time, store_name, use_lang, use_store, Session};
use dms_api_types::membership::{IssueCardRequest, JoinChannel, JoinMemberRequest};
use dms_api_types::{CreateCustomerRequest, CustomerDto};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

const FIELDS: &[&str] = &["store_id", "name", "phone"];

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

    {
        let list = list.clone();
        use_effect_with(*version, move |_| load(list, None));
    }

    let open_form = {
        let (open, draft, failure) = (open.clone(), draft.clone(), failure.clone());
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
            open.set(true);
        })
    };
    let close = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(false))
    };
    let submit = {
        let (draft, failure, busy) = (draft.clone(), failure.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
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
            let (failure, busy) = (failure.clone(), busy.clone());
            spawn_local(async move {
                let result = api::create_customer(&CreateCustomerRequest {
                    store_id: d.store_id.clone(),
                    name: d.name.trim().to_string(),
                    phone: d.phone.trim().to_string(),
                })
                .await;
                busy.set(false);
                match result {
                    Ok(c) => go(&customer_hash(&c.id)),
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
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
                </div>
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
    let state = use_state(|| None::<Result<CustomerDto, ApiError>>);
    let membership = use_state(|| None::<dms_api_types::membership::MembershipSummaryDto>);
    let can_club = props.session.can("membership.read");
    let can_cards = props.session.can("membership.cards");
    let channel = use_state(|| "purchase".to_string());
    let fee = use_state(String::new);
    let fee_error = use_state(|| None::<String>);
    let asking = use_state(|| false);
    let busy = use_state(|| false);
    let join_error = use_state(|| None::<String>);
    {
        let (state, membership) = (state.clone(), membership.clone());
        use_effect_with(props.id.clone(), move |id| {
            state.set(None);
            membership.set(None);
            let id = id.clone();
            spawn_local(async move {
                state.set(Some(api::customer(&id).await));
                if can_club {
                    if let Ok(summary) = club::membership_of(&id).await {
                        membership.set(Some(summary));
                    }
                }
            });
        });
    }
    let customer_name = match &*state {
        Some(Ok(c)) => c.name.clone(),
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
            Some(Ok(c)) => Some(c.clone()),
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
        Some(Ok(c)) => html! {
            <div class="card" id="customer-detail">
                <h2>{ &c.name }</h2>
                <dl class="facts">
                    <dt>{ t(lang, Key::Mobile) }</dt><dd>{ &c.phone }</dd>
                    <dt>{ t(lang, Key::HomeStore) }</dt>
                    <dd>{ store_name(&props.session.me.stores, &c.store_id).unwrap_or(t(lang, Key::UnknownStore)) }</dd>
                    <dt>{ t(lang, Key::CreatedAt) }</dt><dd>{ format_time(&c.created_at) }</dd>
                    <dt>{ t(lang, Key::UpdatedAt) }</dt><dd>{ format_time(&c.updated_at) }</dd>
                    <dt>{ t(lang, Key::RecordId) }</dt><dd><code class="code plain">{ &c.id }</code></dd>
                </dl>
            </div>
        },
    };
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::CustomerDetail) }</h1>
                <a class="btn" href={Route::Customers.hash()}>{ t(lang, Key::BackToList) }</a>
            </div>
            { body }
            { club_card }
            { join_dialog }
        </section>
    }
}
