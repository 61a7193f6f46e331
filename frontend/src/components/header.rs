//! The top bar: app name, where the user works, who they are, language and sign-out.

use crate::i18n::{t, Key};
use crate::session::{LangCtx, Session};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub session: Session,
    pub on_logout: Callback<()>,
}

/// How many store names the header lists before "+N".
const SHOWN_STORES: usize = 3;

#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let ctx = use_context::<LangCtx>();
    let lang = ctx.as_ref().map(|c| c.lang).unwrap_or_default();
    let logging_out = use_state(|| false);
    let me = &props.session.me;

    let toggle = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(ctx) = &ctx {
                ctx.set.emit(ctx.lang.other());
            }
        })
    };
    let logout = {
        let logging_out = logging_out.clone();
        let on_logout = props.on_logout.clone();
        Callback::from(move |_: MouseEvent| {
            logging_out.set(true);
            on_logout.emit(());
        })
    };

    let scope = if me.group_wide {
        html! { <span class="badge group">{ t(lang, Key::GroupWide) }</span> }
    } else {
        let extra = me.stores.len().saturating_sub(SHOWN_STORES);
        html! {
            <>
                { for me.stores.iter().take(SHOWN_STORES).map(|s| html! {
                    <span class="badge" title={s.code.clone()}>{ &s.name }</span>
                }) }
                if extra > 0 {
                    <span class="badge muted">{ format!("+{extra}") }</span>
                }
            </>
        }
    };

    html! {
        <header class="topbar">
            <a class="brand" href="#/">
                <span class="brand-mark" aria-hidden="true">{ "4S" }</span>
                <span class="brand-name">{ t(lang, Key::AppName) }</span>
            </a>
            <div class="scope">{ scope }</div>
            <div class="topbar-actions">
                <span class="user" title={me.username.clone()}>
                    <span class="sr-only">{ t(lang, Key::CurrentUser) }</span>
                    { &me.display_name }
                </span>
                <button class="btn ghost" onclick={toggle}
                    title={t(lang, Key::SwitchLanguageTitle)}
                    lang={lang.other().code()}>
                    { t(lang, Key::SwitchLanguage) }
                </button>
                <button class="btn" onclick={logout} disabled={*logging_out}>
                    { if *logging_out { t(lang, Key::LoggingOut) } else { t(lang, Key::Logout) } }
                </button>
            </div>
        </header>
    }
}
