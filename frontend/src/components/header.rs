//! The top bar: app name, where the user works, who they are, language and sign-out.

use crate::i18n::{t, Key};
use crate::session::{can_switch_store, LangCtx, Session, StoreCtx};
use web_sys::HtmlSelectElement;
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

    let store_ctx = use_context::<StoreCtx>();
    let switcher = store_ctx.filter(|_| can_switch_store(me)).map(|ctx| {
        let set = ctx.set.clone();
        let onchange = Callback::from(move |e: Event| {
            if let Some(select) = e.target_dyn_into::<HtmlSelectElement>() {
                let value = select.value();
                set.emit((!value.is_empty()).then_some(value));
            }
        });
        let selected = ctx.selected.clone().unwrap_or_default();
        html! {
            <label class="store-switcher">
                <span class="sr-only">{ t(lang, Key::StoreSwitcher) }</span>
                <select id="store-switcher" {onchange} title={t(lang, Key::StoreSwitcher)}>
                    <option value="" selected={selected.is_empty()}>{ t(lang, Key::AllStoresOption) }</option>
                    { for me.stores.iter().map(|s| html! {
                        <option value={s.id.clone()} selected={s.id == selected}>
                            { format!("{} {}", s.code, s.name) }
                        </option>
                    }) }
                </select>
            </label>
        }
    });

    let scope = if let Some(switcher) = switcher {
        html! {
            <>
                if me.group_wide {
                    <span class="badge group">{ t(lang, Key::GroupWide) }</span>
                }
                { switcher }
            </>
        }
    } else if me.group_wide {
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
