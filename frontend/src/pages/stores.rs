//! 门店 Stores: the stores the user works in; group admins (`org.stores.write`) add stores and
//! edit them (deactivating asks first).

use crate::api::{self, ApiError};
use crate::components::common::{ConfirmDialog, Empty, ErrorLine, Field, Loading};
use crate::forms::{error_message, errors_of, validate_store, Failure};
use crate::i18n::{t, Key};
use crate::session::{use_lang, Session};
use dms_api_types::{CreateStoreRequest, StoreDto, UpdateStoreRequest};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

const FIELDS: &[&str] = &["code", "name", "address", "phone"];

#[derive(Properties, PartialEq)]
pub struct StoresProps {
    pub session: Session,
}

#[derive(Debug, Clone, PartialEq)]
enum Load {
    Loading,
    Failed(ApiError),
    Ready(Vec<StoreDto>),
}

/// Which form is open.
#[derive(Debug, Clone, PartialEq)]
enum Editing {
    None,
    New,
    Existing(StoreDto),
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Draft {
    code: String,
    name: String,
    address: String,
    phone: String,
    active: bool,
}

async fn load_all() -> Result<Vec<StoreDto>, ApiError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = api::stores(cursor.as_deref()).await?;
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

#[function_component(Stores)]
pub fn stores(props: &StoresProps) -> Html {
    let lang = use_lang();
    let can_write = props.session.can("org.stores.write");
    let load = use_state(|| Load::Loading);
    let version = use_state(|| 0u32);
    let editing = use_state(|| Editing::None);
    let draft = use_state(Draft::default);
    let failure = use_state(|| None::<Failure>);
    let saving = use_state(|| false);
    let confirming = use_state(|| false);
    let notice = use_state(|| None::<Key>);

    {
        let load = load.clone();
        use_effect_with(*version, move |_| {
            spawn_local(async move {
                load.set(match load_all().await {
                    Ok(list) => Load::Ready(list),
                    Err(e) => Load::Failed(e),
                });
            });
        });
    }

    let reload = {
        let version = version.clone();
        Callback::from(move |_: MouseEvent| version.set(*version + 1))
    };

    let open_new = {
        let (editing, draft, failure, notice) = (
            editing.clone(),
            draft.clone(),
            failure.clone(),
            notice.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            draft.set(Draft {
                active: true,
                ..Draft::default()
            });
            failure.set(None);
            notice.set(None);
            editing.set(Editing::New);
        })
    };
    let open_edit = {
        let (editing, draft, failure, notice) = (
            editing.clone(),
            draft.clone(),
            failure.clone(),
            notice.clone(),
        );
        Callback::from(move |store: StoreDto| {
            draft.set(Draft {
                code: store.code.clone(),
                name: store.name.clone(),
                address: store.address.clone(),
                phone: store.phone.clone(),
                active: store.active,
            });
            failure.set(None);
            notice.set(None);
            editing.set(Editing::Existing(store));
        })
    };
    let close = {
        let (editing, failure) = (editing.clone(), failure.clone());
        Callback::from(move |_: MouseEvent| {
            editing.set(Editing::None);
            failure.set(None);
        })
    };

    // Sends the form (after the confirmation when a store is being deactivated).
    let send = {
        let (editing, draft, failure, saving, confirming, notice, version) = (
            editing.clone(),
            draft.clone(),
            failure.clone(),
            saving.clone(),
            confirming.clone(),
            notice.clone(),
            version.clone(),
        );
        Callback::from(move |()| {
            let d = (*draft).clone();
            let target = (*editing).clone();
            let (editing, failure, saving, confirming, notice, version) = (
                editing.clone(),
                failure.clone(),
                saving.clone(),
                confirming.clone(),
                notice.clone(),
                version.clone(),
            );
            saving.set(true);
            spawn_local(async move {
                let result = match &target {
                    Editing::New => api::create_store(&CreateStoreRequest {
                        code: d.code.trim().to_string(),
                        name: d.name.trim().to_string(),
                        address: d.address.trim().to_string(),
                        phone: d.phone.trim().to_string(),
                    })
                    .await
                    .map(|_| Key::StoreCreated),
                    Editing::Existing(store) => api::update_store(
                        &store.id,
                        &UpdateStoreRequest {
                            name: Some(d.name.trim().to_string()),
                            address: Some(d.address.trim().to_string()),
                            phone: Some(d.phone.trim().to_string()),
                            active: Some(d.active),
                        },
                    )
                    .await
                    .map(|_| Key::Saved),
                    Editing::None => return,
                };
                saving.set(false);
                confirming.set(false);
                match result {
                    Ok(key) => {
                        notice.set(Some(key));
                        editing.set(Editing::None);
                        version.set(*version + 1);
                    }
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
        })
    };

    let on_submit = {
        let (editing, draft, failure, confirming, saving, send) = (
            editing.clone(),
            draft.clone(),
            failure.clone(),
            confirming.clone(),
            saving.clone(),
            send.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *saving {
                return;
            }
            let d = &*draft;
            let is_new = *editing == Editing::New;
            let local = validate_store(
                is_new.then_some(d.code.as_str()),
                &d.name,
                &d.address,
                &d.phone,
            );
            if !local.is_empty() {
                failure.set(Some(Failure::Local(local)));
                return;
            }
            failure.set(None);
            let deactivating = matches!(&*editing, Editing::Existing(s) if s.active && !d.active);
            if deactivating {
                confirming.set(true);
            } else {
                send.emit(());
            }
        })
    };

    let errors = errors_of(&failure, lang, FIELDS);
    let setter = |f: fn(&mut Draft, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            f(&mut d, v);
            draft.set(d);
        })
    };

    let form = match &*editing {
        Editing::None => html! {},
        current => {
            let is_new = *current == Editing::New;
            let on_active = {
                let draft = draft.clone();
                Callback::from(move |e: Event| {
                    if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                        let mut d = (*draft).clone();
                        d.active = input.checked();
                        draft.set(d);
                    }
                })
            };
            html! {
                <form class="card form-card" onsubmit={on_submit} novalidate=true id="store-form">
                    <h2>{ t(lang, if is_new { Key::NewStore } else { Key::EditStore }) }</h2>
                    if let Some(general) = &errors.general {
                        <p class="alert error" role="alert">{ general }</p>
                    }
                    <div class="form-grid">
                        <Field name="code" id="store-code" label={t(lang, Key::StoreCode)}
                            value={draft.code.clone()} oninput={setter(|d, v| d.code = v)}
                            error={errors.field("code").map(str::to_string)} maxlength="16"
                            disabled={!is_new} hint={is_new.then_some(AttrValue::Static(t(lang, Key::StoreCodeHint)))} />
                        <Field name="name" id="store-name" label={t(lang, Key::StoreName)}
                            value={draft.name.clone()} oninput={setter(|d, v| d.name = v)}
                            error={errors.field("name").map(str::to_string)} maxlength="100" />
                        <Field name="address" id="store-address" label={t(lang, Key::Address)}
                            value={draft.address.clone()} oninput={setter(|d, v| d.address = v)}
                            error={errors.field("address").map(str::to_string)} maxlength="200" />
                        <Field name="phone" id="store-phone" label={t(lang, Key::Phone)} kind="tel"
                            value={draft.phone.clone()} oninput={setter(|d, v| d.phone = v)}
                            error={errors.field("phone").map(str::to_string)} maxlength="32" />
                    </div>
                    if !is_new {
                        <label class="check">
                            <input type="checkbox" name="active" checked={draft.active} onchange={on_active} />
                            { t(lang, Key::StoreActiveLabel) }
                        </label>
                    }
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close.clone()}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary" disabled={*saving}>
                            { if *saving { t(lang, Key::Saving) } else { t(lang, Key::Save) } }
                        </button>
                    </div>
                </form>
            }
        }
    };

    let list = match &*load {
        Load::Loading => html! { <Loading /> },
        Load::Failed(e) => html! { <ErrorLine text={error_message(e, lang)} retry={reload} /> },
        Load::Ready(list) if list.is_empty() => html! { <Empty text={t(lang, Key::NoData)} /> },
        Load::Ready(list) => html! {
            <div class="table-wrap">
            <table class="table" id="stores-table">
                <thead><tr>
                    <th>{ t(lang, Key::StoreCode) }</th>
                    <th>{ t(lang, Key::StoreName) }</th>
                    <th>{ t(lang, Key::Address) }</th>
                    <th>{ t(lang, Key::Phone) }</th>
                    <th>{ t(lang, Key::Status) }</th>
                    if can_write { <th>{ t(lang, Key::Actions) }</th> }
                </tr></thead>
                <tbody>
                    { for list.iter().map(|s| {
                        let edit = {
                            let open_edit = open_edit.clone();
                            let s = s.clone();
                            Callback::from(move |_: MouseEvent| open_edit.emit(s.clone()))
                        };
                        html! {
                            <tr>
                                <td><span class="store-code">{ &s.code }</span></td>
                                <td>{ &s.name }</td>
                                <td>{ &s.address }</td>
                                <td>{ &s.phone }</td>
                                <td>
                                    if s.active {
                                        <span class="badge ok">{ t(lang, Key::StoreOpen) }</span>
                                    } else {
                                        <span class="badge muted">{ t(lang, Key::StoreInactive) }</span>
                                    }
                                </td>
                                if can_write {
                                    <td><button class="btn small" onclick={edit}>{ t(lang, Key::Edit) }</button></td>
                                }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
        },
    };

    let dialog = if *confirming {
        let name = draft.name.clone();
        let on_cancel = {
            let confirming = confirming.clone();
            Callback::from(move |()| confirming.set(false))
        };
        html! {
            <ConfirmDialog title={t(lang, Key::DeactivateStoreTitle)}
                body={t(lang, Key::DeactivateStoreBody).replace("{name}", &name)}
                confirm_label={t(lang, Key::Deactivate)} on_confirm={send.clone()} {on_cancel}
                busy={*saving} />
        }
    } else {
        html! {}
    };

    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavStores) }</h1>
                if can_write && *editing == Editing::None {
                    <button class="btn primary" id="new-store" onclick={open_new}>{ t(lang, Key::NewStore) }</button>
                }
            </div>
            if let Some(key) = *notice {
                <p class="alert success" role="status">{ t(lang, key) }</p>
            }
            { form }
            <div class="card">{ list }</div>
            { dialog }
        </section>
    }
}
