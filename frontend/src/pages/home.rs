//! Home: who the user is, their roles (named in the current language, with the store each
//! holds in), their stores and their permissions.

use crate::i18n::{permission_label, t, Key};
use crate::session::{role_label, store_name, use_lang, Session};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HomeProps {
    pub session: Session,
}

#[function_component(Home)]
pub fn home(props: &HomeProps) -> Html {
    let lang = use_lang();
    let me = &props.session.me;
    let catalogue = &props.session.roles;

    let roles = if me.roles.is_empty() {
        html! { <p class="muted">{ t(lang, Key::NoRoles) }</p> }
    } else {
        html! {
            <table class="table">
                <thead>
                    <tr><th>{ t(lang, Key::Role) }</th><th>{ t(lang, Key::Store) }</th></tr>
                </thead>
                <tbody>
                    { for me.roles.iter().map(|grant| {
                        let store = match &grant.store_id {
                            None => html! { <span class="badge group">{ t(lang, Key::AllStores) }</span> },
                            Some(id) => match store_name(&me.stores, id) {
                                Some(name) => html! { { name } },
                                None => html! { <span class="muted" title={id.clone()}>{ t(lang, Key::UnknownStore) }</span> },
                            },
                        };
                        html! {
                            <tr>
                                <td>
                                    { role_label(catalogue, &grant.role, lang) }
                                    <code class="code">{ &grant.role }</code>
                                </td>
                                <td>{ store }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        }
    };

    let stores = if me.stores.is_empty() {
        html! { <p class="muted">{ t(lang, Key::NoStores) }</p> }
    } else {
        html! {
            <ul class="list">
                { for me.stores.iter().map(|s| html! {
                    <li>
                        <span class="store-code">{ &s.code }</span>
                        <span>{ &s.name }</span>
                        if !s.active {
                            <span class="badge muted">{ t(lang, Key::StoreInactive) }</span>
                        }
                    </li>
                }) }
            </ul>
        }
    };

    let permissions = if me.permissions.is_empty() {
        html! { <p class="muted">{ t(lang, Key::NoPermissions) }</p> }
    } else {
        html! {
            <ul class="chips">
                { for me.permissions.iter().map(|p| html! {
                    <li class="chip" title={p.clone()}>
                        { permission_label(lang, p).unwrap_or(p.as_str()) }
                        <code class="code">{ p }</code>
                    </li>
                }) }
            </ul>
        }
    };

    html! {
        <section class="page">
            <h1>
                { t(lang, Key::Welcome) }{ &me.display_name }
                if me.group_wide {
                    <span class="badge group">{ t(lang, Key::GroupWide) }</span>
                }
            </h1>
            <div class="grid">
                <div class="card">
                    <h2>{ t(lang, Key::MyRoles) }</h2>
                    { roles }
                </div>
                <div class="card">
                    <h2>{ t(lang, Key::MyStores) }</h2>
                    { stores }
                </div>
                <div class="card wide">
                    <h2>{ t(lang, Key::MyPermissions) }</h2>
                    { permissions }
                </div>
            </div>
        </section>
    }
}
