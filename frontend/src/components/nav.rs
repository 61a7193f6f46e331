//! The side navigation: only the pages the user's permissions open.

use crate::i18n::{t, Key};
use crate::route::{nav_items, nav_parent, Route};
use crate::session::use_lang;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct NavProps {
    pub permissions: Vec<String>,
    pub current: Route,
}

#[function_component(Nav)]
pub fn nav(props: &NavProps) -> Html {
    let lang = use_lang();
    html! {
        <nav class="sidenav" aria-label={t(lang, Key::MainNav)}>
            <ul>
                { for nav_items(&props.permissions).into_iter().map(|route| {
                    let current = route == nav_parent(props.current);
                    html! {
                        <li>
                            <a href={route.hash()}
                                class={classes!("navlink", current.then_some("active"))}
                                aria-current={current.then_some("page")}>
                                { t(lang, route.label()) }
                            </a>
                        </li>
                    }
                }) }
            </ul>
        </nav>
    }
}
