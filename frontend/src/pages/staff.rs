//! 员工 Staff: everyone holding a role in the user's stores, a page at a time. Managers
//! (`org.staff.write`) create users with roles per store, change roles, reset a password and
//! disable or re-enable a user; the irreversible ones ask first.

use crate::api::{self, ApiError};
use crate::components::common::{
    ConfirmDialog, Empty, ErrorLine, Field, LoadMore, Loading, Select,
};
use crate::forms::{error_message, errors_of, validate_password, validate_staff, Failure};
use crate::i18n::{t, Key, Lang};
use crate::session::{in_selected_store, role_label, store_name, use_lang, use_store, Session};
use dms_api_types::{
    CreateStaffRequest, ResetPasswordRequest, RoleDto, RoleGrantDto, SetRolesRequest, StaffDto,
    StaffMe, UpdateStaffRequest,
};
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

const NEW_FIELDS: &[&str] = &["username", "display_name", "password", "roles"];
const ROLE_FIELDS: &[&str] = &["roles"];
const PASSWORD_FIELDS: &[&str] = &["password"];

/// The roles this user may hand out: a group-wide user any; a store-level manager the store
/// roles whose permissions they hold (the server checks the same).
pub fn assignable_roles<'a>(catalogue: &'a [RoleDto], me: &StaffMe) -> Vec<&'a RoleDto> {
    catalogue
        .iter()
        .filter(|r| {
            me.group_wide
                || (!r.group_only && r.permissions.iter().all(|p| me.permissions.contains(p)))
        })
        .collect()
}

/// The grants of `staff` this user can see and change (those in the user's stores).
pub fn grants_in_scope(grants: &[RoleGrantDto], me: &StaffMe) -> Vec<RoleGrantDto> {
    grants
        .iter()
        .filter(|g| {
            me.group_wide
                || g.store_id
                    .as_ref()
                    .is_some_and(|id| me.stores.iter().any(|s| &s.id == id))
        })
        .cloned()
        .collect()
}

/// Whether a staff row shows under the store selection.
pub fn staff_in_store(staff: &StaffDto, selected: Option<&str>) -> bool {
    selected.is_none()
        || staff
            .roles
            .iter()
            .any(|g| g.store_id.is_none() || in_selected_store(selected, g.store_id.as_deref()))
}

fn grant_label(grant: &RoleGrantDto, session: &Session, lang: Lang) -> String {
    let role = role_label(&session.roles, &grant.role, lang);
    match &grant.store_id {
        None => format!("{role} · {}", t(lang, Key::GroupWideRole)),
        Some(id) => format!(
            "{role} · {}",
            store_name(&session.me.stores, id).unwrap_or(t(lang, Key::UnknownStore))
        ),
    }
}

#[derive(Properties, PartialEq)]
pub struct StaffProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct List {
    items: Vec<StaffDto>,
    next: Option<String>,
    loading: bool,
    error: Option<ApiError>,
    loaded: bool,
}

#[derive(Debug, Clone)]
enum Panel {
    None,
    New,
    Roles(Rc<StaffDto>),
    Password(Rc<StaffDto>),
}

#[derive(Debug, Clone)]
enum Confirm {
    None,
    Disable(Rc<StaffDto>),
    Roles(Rc<StaffDto>),
    Password(Rc<StaffDto>),
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Draft {
    username: String,
    display_name: String,
    password: String,
    roles: Vec<RoleGrantDto>,
}

#[derive(Debug, Clone, PartialEq)]
enum Notice {
    Key(Key),
    Created(String),
}

fn load(list: UseStateHandle<List>, cursor: Option<String>) {
    let mut current = (*list).clone();
    if cursor.is_none() {
        current = List::default();
    }
    current.loading = true;
    current.error = None;
    list.set(current.clone());
    spawn_local(async move {
        match api::staff(cursor.as_deref()).await {
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

#[function_component(StaffPage)]
pub fn staff_page(props: &StaffProps) -> Html {
    let lang = use_lang();
    let selected = use_store();
    let session = props.session.clone();
    let can_write = session.can("org.staff.write");
    let list = use_state(List::default);
    let version = use_state(|| 0u32);
    let panel = use_state(|| Panel::None);
    let confirm = use_state(|| Confirm::None);
    let draft = use_state(Draft::default);
    let failure = use_state(|| None::<Failure>);
    let busy = use_state(|| false);
    let notice = use_state(|| None::<Notice>);

    {
        let list = list.clone();
        use_effect_with(*version, move |_| load(list, None));
    }

    let default_grant = {
        let session = session.clone();
        let selected = selected.clone();
        move || -> RoleGrantDto {
            let roles = assignable_roles(&session.roles, &session.me);
            let role = roles
                .iter()
                .find(|r| !r.group_only)
                .or(roles.first())
                .map(|r| (*r).clone());
            let store = selected
                .clone()
                .or_else(|| session.me.stores.first().map(|s| s.id.clone()));
            match role {
                Some(r) if r.group_only => RoleGrantDto {
                    role: r.code,
                    store_id: None,
                },
                Some(r) => RoleGrantDto {
                    role: r.code,
                    store_id: store,
                },
                None => RoleGrantDto {
                    role: String::new(),
                    store_id: store,
                },
            }
        }
    };

    let open_new = {
        let (panel, draft, failure, notice) = (
            panel.clone(),
            draft.clone(),
            failure.clone(),
            notice.clone(),
        );
        let default_grant = default_grant.clone();
        Callback::from(move |_: MouseEvent| {
            draft.set(Draft {
                roles: vec![default_grant()],
                ..Draft::default()
            });
            failure.set(None);
            notice.set(None);
            panel.set(Panel::New);
        })
    };
    let close = {
        let (panel, failure) = (panel.clone(), failure.clone());
        Callback::from(move |_: MouseEvent| {
            panel.set(Panel::None);
            failure.set(None);
        })
    };
    let cancel_confirm = {
        let confirm = confirm.clone();
        Callback::from(move |()| confirm.set(Confirm::None))
    };

    // After a successful change: close everything, say so, reload the list.
    let done = {
        let (panel, confirm, notice, version, failure) = (
            panel.clone(),
            confirm.clone(),
            notice.clone(),
            version.clone(),
            failure.clone(),
        );
        Callback::from(move |n: Notice| {
            panel.set(Panel::None);
            confirm.set(Confirm::None);
            failure.set(None);
            notice.set(Some(n));
            version.set(*version + 1);
        })
    };

    let submit_new = {
        let (draft, failure, busy, done) =
            (draft.clone(), failure.clone(), busy.clone(), done.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *busy {
                return;
            }
            let d = (*draft).clone();
            let local = validate_staff(&d.username, &d.display_name, &d.password, d.roles.len());
            if !local.is_empty() {
                failure.set(Some(Failure::Local(local)));
                return;
            }
            failure.set(None);
            busy.set(true);
            let (failure, busy, done) = (failure.clone(), busy.clone(), done.clone());
            spawn_local(async move {
                let result = api::create_staff(&CreateStaffRequest {
                    username: d.username.trim().to_string(),
                    display_name: d.display_name.trim().to_string(),
                    password: d.password.clone(),
                    roles: d.roles.clone(),
                })
                .await;
                busy.set(false);
                match result {
                    Ok(user) => done.emit(Notice::Created(user.username)),
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
        })
    };

    // The roles and password panels validate, then ask.
    let submit_panel = {
        let (panel, draft, failure, confirm) = (
            panel.clone(),
            draft.clone(),
            failure.clone(),
            confirm.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match &*panel {
                Panel::Roles(user) => {
                    failure.set(None);
                    confirm.set(Confirm::Roles(user.clone()));
                }
                Panel::Password(user) => {
                    let local = validate_password(&draft.password);
                    if local.is_empty() {
                        failure.set(None);
                        confirm.set(Confirm::Password(user.clone()));
                    } else {
                        failure.set(Some(Failure::Local(local)));
                    }
                }
                _ => {}
            }
        })
    };

    let run_confirmed = {
        let (confirm, draft, failure, busy, done) = (
            confirm.clone(),
            draft.clone(),
            failure.clone(),
            busy.clone(),
            done.clone(),
        );
        Callback::from(move |()| {
            if *busy {
                return;
            }
            let action = (*confirm).clone();
            let d = (*draft).clone();
            let (confirm, failure, busy, done) =
                (confirm.clone(), failure.clone(), busy.clone(), done.clone());
            busy.set(true);
            spawn_local(async move {
                let result = match &action {
                    Confirm::Disable(u) => {
                        api::disable_staff(&u.id).await.map(|_| Key::StaffDisabled)
                    }
                    Confirm::Roles(u) => api::set_staff_roles(
                        &u.id,
                        &SetRolesRequest {
                            roles: d.roles.clone(),
                        },
                    )
                    .await
                    .map(|_| Key::RolesSaved),
                    Confirm::Password(u) => api::reset_password(
                        &u.id,
                        &ResetPasswordRequest {
                            password: d.password.clone(),
                        },
                    )
                    .await
                    .map(|_| Key::PasswordWasReset),
                    Confirm::None => return,
                };
                busy.set(false);
                match result {
                    Ok(key) => done.emit(Notice::Key(key)),
                    Err(e) => {
                        confirm.set(Confirm::None);
                        failure.set(Some(Failure::Server(e)));
                    }
                }
            });
        })
    };

    let enable = {
        let (busy, done, failure) = (busy.clone(), done.clone(), failure.clone());
        Callback::from(move |user: Rc<StaffDto>| {
            let (busy, done, failure) = (busy.clone(), done.clone(), failure.clone());
            busy.set(true);
            spawn_local(async move {
                let result = api::update_staff(
                    &user.id,
                    &UpdateStaffRequest {
                        display_name: None,
                        status: Some("active".into()),
                    },
                )
                .await;
                busy.set(false);
                match result {
                    Ok(()) => done.emit(Notice::Key(Key::StaffEnabled)),
                    Err(e) => failure.set(Some(Failure::Server(e))),
                }
            });
        })
    };

    let set_draft = |f: fn(&mut Draft, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            f(&mut d, v);
            draft.set(d);
        })
    };
    let on_roles = {
        let draft = draft.clone();
        Callback::from(move |roles: Vec<RoleGrantDto>| {
            let mut d = (*draft).clone();
            d.roles = roles;
            draft.set(d);
        })
    };

    let panel_html = match &*panel {
        Panel::None => html! {},
        Panel::New => {
            let errors = errors_of(&failure, lang, NEW_FIELDS);
            html! {
                <form class="card form-card" id="staff-form" onsubmit={submit_new} novalidate=true>
                    <h2>{ t(lang, Key::NewStaff) }</h2>
                    if let Some(general) = &errors.general {
                        <p class="alert error" role="alert">{ general }</p>
                    }
                    <div class="form-grid">
                        <Field name="username" id="staff-username" label={t(lang, Key::Username)}
                            value={draft.username.clone()} oninput={set_draft(|d, v| d.username = v)}
                            error={errors.field("username").map(str::to_string)} maxlength="32"
                            hint={AttrValue::Static(t(lang, Key::UsernameHint))} />
                        <Field name="display_name" id="staff-display-name" label={t(lang, Key::DisplayName)}
                            value={draft.display_name.clone()} oninput={set_draft(|d, v| d.display_name = v)}
                            error={errors.field("display_name").map(str::to_string)} maxlength="64" />
                        <Field name="password" id="staff-password" label={t(lang, Key::InitialPassword)}
                            kind="password" autocomplete="new-password"
                            value={draft.password.clone()} oninput={set_draft(|d, v| d.password = v)}
                            error={errors.field("password").map(str::to_string)} maxlength="256"
                            hint={AttrValue::Static(t(lang, Key::PasswordHint))} />
                    </div>
                    <RoleEditor session={session.clone()} grants={draft.roles.clone()}
                        on_change={on_roles.clone()} error={errors.field("roles").map(str::to_string)} />
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close.clone()}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary" disabled={*busy}>
                            { if *busy { t(lang, Key::Saving) } else { t(lang, Key::Create) } }
                        </button>
                    </div>
                </form>
            }
        }
        Panel::Roles(user) => {
            let errors = errors_of(&failure, lang, ROLE_FIELDS);
            html! {
                <form class="card form-card" id="roles-form" onsubmit={submit_panel.clone()} novalidate=true>
                    <h2>{ t(lang, Key::ChangeRolesOf) }{ &user.display_name }</h2>
                    if let Some(general) = &errors.general {
                        <p class="alert error" role="alert">{ general }</p>
                    }
                    <RoleEditor session={session.clone()} grants={draft.roles.clone()}
                        on_change={on_roles.clone()} error={errors.field("roles").map(str::to_string)} />
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close.clone()}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary">{ t(lang, Key::Save) }</button>
                    </div>
                </form>
            }
        }
        Panel::Password(user) => {
            let errors = errors_of(&failure, lang, PASSWORD_FIELDS);
            html! {
                <form class="card form-card" id="password-form" onsubmit={submit_panel.clone()} novalidate=true>
                    <h2>{ t(lang, Key::ResetPasswordOf) }{ &user.display_name }</h2>
                    if let Some(general) = &errors.general {
                        <p class="alert error" role="alert">{ general }</p>
                    }
                    <Field name="password" id="reset-password" label={t(lang, Key::NewPassword)}
                        kind="password" autocomplete="new-password"
                        value={draft.password.clone()} oninput={set_draft(|d, v| d.password = v)}
                        error={errors.field("password").map(str::to_string)} maxlength="256"
                        hint={AttrValue::Static(t(lang, Key::PasswordHint))} />
                    <div class="form-actions">
                        <button type="button" class="btn" onclick={close.clone()}>{ t(lang, Key::Cancel) }</button>
                        <button type="submit" class="btn primary">{ t(lang, Key::ResetPassword) }</button>
                    </div>
                </form>
            }
        }
    };

    // An action's failure outside a form (e.g. disable refused) shows above the list.
    let action_error = match (&*panel, &*failure) {
        (Panel::None, Some(Failure::Server(e))) => Some(error_message(e, lang)),
        _ => None,
    };

    let rows: Vec<&StaffDto> = list
        .items
        .iter()
        .filter(|s| staff_in_store(s, selected.as_deref()))
        .collect();
    let more = {
        let list = list.clone();
        Callback::from(move |_: MouseEvent| {
            let next = list.next.clone();
            if next.is_some() {
                load(list.clone(), next);
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
            <table class="table" id="staff-table">
                <thead><tr>
                    <th>{ t(lang, Key::DisplayName) }</th>
                    <th>{ t(lang, Key::Username) }</th>
                    <th>{ t(lang, Key::Roles) }</th>
                    <th>{ t(lang, Key::Status) }</th>
                    if can_write { <th>{ t(lang, Key::Actions) }</th> }
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|s| {
                        let user = Rc::new((*s).clone());
                        let me = s.id == session.me.id;
                        let active = s.status == "active";
                        let open_roles = {
                            let (panel, draft, failure, user, me_) =
                                (panel.clone(), draft.clone(), failure.clone(), user.clone(), session.me.clone());
                            Callback::from(move |_: MouseEvent| {
                                draft.set(Draft { roles: grants_in_scope(&user.roles, &me_), ..Draft::default() });
                                failure.set(None);
                                panel.set(Panel::Roles(user.clone()));
                            })
                        };
                        let open_password = {
                            let (panel, draft, failure, user) =
                                (panel.clone(), draft.clone(), failure.clone(), user.clone());
                            Callback::from(move |_: MouseEvent| {
                                draft.set(Draft::default());
                                failure.set(None);
                                panel.set(Panel::Password(user.clone()));
                            })
                        };
                        let ask_disable = {
                            let (confirm, failure, user) = (confirm.clone(), failure.clone(), user.clone());
                            Callback::from(move |_: MouseEvent| {
                                failure.set(None);
                                confirm.set(Confirm::Disable(user.clone()));
                            })
                        };
                        let do_enable = {
                            let (enable, user) = (enable.clone(), user.clone());
                            Callback::from(move |_: MouseEvent| enable.emit(user.clone()))
                        };
                        html! {
                            <tr data-username={s.username.clone()}>
                                <td>
                                    { &s.display_name }
                                    if me { <span class="muted">{ t(lang, Key::YouLabel) }</span> }
                                </td>
                                <td><code class="code plain">{ &s.username }</code></td>
                                <td>
                                    <ul class="role-list">
                                        { for s.roles.iter().map(|g| html! { <li>{ grant_label(g, &session, lang) }</li> }) }
                                    </ul>
                                </td>
                                <td>
                                    if active {
                                        <span class="badge ok">{ t(lang, Key::StatusActive) }</span>
                                    } else {
                                        <span class="badge muted">{ t(lang, Key::StatusDisabled) }</span>
                                    }
                                </td>
                                if can_write {
                                    <td class="row-actions">
                                        if !me {
                                            <button class="btn small" onclick={open_roles}>{ t(lang, Key::ChangeRoles) }</button>
                                            <button class="btn small" onclick={open_password}>{ t(lang, Key::ResetPassword) }</button>
                                            if active {
                                                <button class="btn small danger-text" onclick={ask_disable}>{ t(lang, Key::Disable) }</button>
                                            } else {
                                                <button class="btn small" onclick={do_enable} disabled={*busy}>{ t(lang, Key::Enable) }</button>
                                            }
                                        }
                                    </td>
                                }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
        }
    };

    let dialog = match &*confirm {
        Confirm::None => html! {},
        c => {
            let (title, body, label, user) = match c {
                Confirm::Disable(u) => (Key::DisableTitle, Key::DisableBody, Key::Disable, u),
                Confirm::Roles(u) => (Key::RolesTitle, Key::RolesBody, Key::Save, u),
                Confirm::Password(u) => (Key::ResetTitle, Key::ResetBody, Key::ResetPassword, u),
                Confirm::None => return html! {},
            };
            html! {
                <ConfirmDialog title={t(lang, title)}
                    body={t(lang, body).replace("{name}", &user.display_name)}
                    confirm_label={t(lang, label)} on_confirm={run_confirmed.clone()}
                    on_cancel={cancel_confirm.clone()} busy={*busy} />
            }
        }
    };

    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavStaff) }</h1>
                if can_write && matches!(*panel, Panel::None) {
                    <button class="btn primary" id="new-staff" onclick={open_new}>{ t(lang, Key::NewStaff) }</button>
                }
            </div>
            if let Some(n) = &*notice {
                <p class="alert success" role="status">
                    { match n { Notice::Key(k) => t(lang, *k).to_string(), Notice::Created(name) => format!("{}{name}", t(lang, Key::StaffCreated)) } }
                </p>
            }
            if let Some(e) = action_error {
                <p class="alert error" role="alert">{ e }</p>
            }
            { panel_html }
            <div class="card">
                { table }
                <LoadMore has_more={list.next.is_some()} loading={list.loading} onclick={more} />
            </div>
            { dialog }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct RoleEditorProps {
    session: Session,
    grants: Vec<RoleGrantDto>,
    on_change: Callback<Vec<RoleGrantDto>>,
    error: Option<String>,
}

/// Rows of (role, store); a group-only role has no store.
#[function_component(RoleEditor)]
fn role_editor(props: &RoleEditorProps) -> Html {
    let lang = use_lang();
    let session = &props.session;
    let roles = assignable_roles(&session.roles, &session.me);
    let role_options: Vec<(String, String)> = roles
        .iter()
        .map(|r| (r.code.clone(), role_label(&session.roles, &r.code, lang)))
        .collect();
    let store_options: Vec<(String, String)> = session
        .me
        .stores
        .iter()
        .map(|s| (s.id.clone(), format!("{} {}", s.code, s.name)))
        .collect();
    let first_store = session.me.stores.first().map(|s| s.id.clone());
    let group_only = |code: &str| roles.iter().any(|r| r.code == code && r.group_only);

    let add = {
        let (grants, cb) = (props.grants.clone(), props.on_change.clone());
        let role = roles.iter().find(|r| !r.group_only).map(|r| r.code.clone());
        let store = first_store.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next = grants.clone();
            next.push(RoleGrantDto {
                role: role.clone().unwrap_or_default(),
                store_id: store.clone(),
            });
            cb.emit(next);
        })
    };

    html! {
        <fieldset class={classes!("roles-editor", props.error.is_some().then_some("invalid"))} data-field="roles">
            <legend>{ t(lang, Key::Roles) }</legend>
            { for props.grants.iter().enumerate().map(|(i, g)| {
                let on_role = {
                    let (grants, cb) = (props.grants.clone(), props.on_change.clone());
                    let only: Vec<String> = roles.iter().filter(|r| r.group_only).map(|r| r.code.clone()).collect();
                    let store = first_store.clone();
                    Callback::from(move |code: String| {
                        let mut next = grants.clone();
                        if let Some(row) = next.get_mut(i) {
                            row.store_id = if only.contains(&code) { None } else { row.store_id.clone().or(store.clone()) };
                            row.role = code;
                        }
                        cb.emit(next);
                    })
                };
                let on_store = {
                    let (grants, cb) = (props.grants.clone(), props.on_change.clone());
                    Callback::from(move |id: String| {
                        let mut next = grants.clone();
                        if let Some(row) = next.get_mut(i) {
                            row.store_id = (!id.is_empty()).then_some(id);
                        }
                        cb.emit(next);
                    })
                };
                let remove = {
                    let (grants, cb) = (props.grants.clone(), props.on_change.clone());
                    Callback::from(move |_: MouseEvent| {
                        let mut next = grants.clone();
                        if i < next.len() {
                            next.remove(i);
                        }
                        cb.emit(next);
                    })
                };
                html! {
                    <div class="role-row">
                        <Select name={format!("roles[{i}].role")} id={format!("role-{i}")} label={t(lang, Key::Role)}
                            value={g.role.clone()} options={role_options.clone()} onchange={on_role} compact=true />
                        if group_only(&g.role) {
                            <span class="badge group">{ t(lang, Key::GroupWideRole) }</span>
                        } else {
                            <Select name={format!("roles[{i}].store_id")} id={format!("role-store-{i}")} label={t(lang, Key::Store)}
                                value={g.store_id.clone().unwrap_or_default()} options={store_options.clone()}
                                onchange={on_store} compact=true />
                        }
                        <button type="button" class="btn small ghost" onclick={remove}>{ t(lang, Key::Remove) }</button>
                    </div>
                }
            }) }
            if let Some(e) = props.error.clone() {
                <p class="field-error">{ e }</p>
            }
            <button type="button" class="btn small" onclick={add} id="add-role">{ "+ " }{ t(lang, Key::AddRole) }</button>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dms_api_types::StoreDto;

    fn role(code: &str, group_only: bool, perms: &[&str]) -> RoleDto {
        RoleDto {
            code: code.into(),
            label_zh: code.into(),
            label_en: code.into(),
            group_only,
            permissions: perms.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn me(group_wide: bool, perms: &[&str], stores: &[&str]) -> StaffMe {
        let at = chrono::DateTime::UNIX_EPOCH;
        StaffMe {
            id: "me".into(),
            username: "me".into(),
            display_name: "me".into(),
            roles: vec![],
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            stores: stores
                .iter()
                .map(|id| StoreDto {
                    id: id.to_string(),
                    code: id.to_string(),
                    name: id.to_string(),
                    address: String::new(),
                    phone: String::new(),
                    active: true,
                    created_at: at,
                    updated_at: at,
                })
                .collect(),
            group_wide,
        }
    }

    fn grant(role: &str, store: Option<&str>) -> RoleGrantDto {
        RoleGrantDto {
            role: role.into(),
            store_id: store.map(str::to_string),
        }
    }

    #[test]
    fn managers_hand_out_only_roles_within_their_permissions() {
        let catalogue = [
            role("group_admin", true, &["org.stores.write"]),
            role("cashier", false, &["membership.topup"]),
            role("technician", false, &["service.workshop"]),
        ];
        let manager = me(false, &["membership.topup", "org.staff.write"], &["s1"]);
        let codes: Vec<_> = assignable_roles(&catalogue, &manager)
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        assert_eq!(codes, ["cashier"]);
        let admin = me(true, &[], &["s1", "s2"]);
        assert_eq!(assignable_roles(&catalogue, &admin).len(), 3);
    }

    #[test]
    fn only_grants_in_the_callers_stores_are_edited() {
        let grants = [
            grant("cashier", Some("s1")),
            grant("cashier", Some("s2")),
            grant("group_admin", None),
        ];
        let manager = me(false, &[], &["s1"]);
        assert_eq!(
            grants_in_scope(&grants, &manager),
            vec![grant("cashier", Some("s1"))]
        );
        assert_eq!(grants_in_scope(&grants, &me(true, &[], &["s1"])).len(), 3);
    }

    #[test]
    fn the_store_switcher_narrows_the_staff_list() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let staff = |roles: Vec<RoleGrantDto>| StaffDto {
            id: "x".into(),
            username: "x".into(),
            display_name: "x".into(),
            status: "active".into(),
            roles,
            created_at: at,
            updated_at: at,
        };
        let in_s1 = staff(vec![grant("cashier", Some("s1"))]);
        let group = staff(vec![grant("group_admin", None)]);
        assert!(staff_in_store(&in_s1, None));
        assert!(staff_in_store(&in_s1, Some("s1")));
        assert!(!staff_in_store(&in_s1, Some("s2")));
        assert!(staff_in_store(&group, Some("s2")));
    }
}
