//! Stand-ins for the pages that come later, and the no-access / not-found pages.

use crate::i18n::{t, Key};
use crate::route::Route;
use crate::session::use_lang;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ComingSoonProps {
    pub route: Route,
}

#[function_component(ComingSoon)]
pub fn coming_soon(props: &ComingSoonProps) -> Html {
    let lang = use_lang();
    html! {
        <section class="page">
            <h1>{ t(lang, props.route.label()) }</h1>
            <div class="card empty">
                <p class="empty-title">{ t(lang, Key::ComingSoon) }</p>
                <p class="muted">{ t(lang, Key::ComingSoonBody) }</p>
            </div>
        </section>
    }
}

#[function_component(NoAccess)]
pub fn no_access() -> Html {
    message_page(use_lang(), Key::NoAccessBody)
}

#[function_component(NotFound)]
pub fn not_found() -> Html {
    message_page(use_lang(), Key::PageNotFoundBody)
}

fn message_page(lang: crate::i18n::Lang, body: Key) -> Html {
    html! {
        <section class="page">
            <div class="card empty">
                <p class="empty-title">{ t(lang, body) }</p>
                <a class="btn" href={Route::Home.hash()}>{ t(lang, Key::BackHome) }</a>
            </div>
        </section>
    }
}
