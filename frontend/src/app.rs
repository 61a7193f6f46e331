//! The root: checks the stored session, shows the login page or the shell, and routes.

use crate::api::{self, ApiError};
use crate::components::header::Header;
use crate::components::nav::Nav;
use crate::forms::error_message;
use crate::i18n::{t, Key};
use crate::pages::audit::AuditLog;
use crate::pages::checkout::{Checkout, ReceiptPage};
use crate::pages::complaints::Complaints;
use crate::pages::customers::{CustomerDetail, Customers};
use crate::pages::home::Home;
use crate::pages::leads::LeadsBoard;
use crate::pages::login::Login;
use crate::pages::members::{MemberPage, MemberSearch};
use crate::pages::placeholder::{NoAccess, NotFound};
use crate::pages::report_charts::ReportsPage;
use crate::pages::staff::StaffPage;
use crate::pages::stores::Stores;
use crate::pages::tasks::TaskQueue;
use crate::pages::top_up_requests::TopUpRequests;
use crate::route::{detail_id, Route};
use crate::session::{
    load_lang, load_store, save_lang, save_store, use_lang, LangCtx, Session, StoreCtx,
};
use dms_api_types::Me;
use gloo_events::EventListener;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Loading the user behind the stored tokens.
    Checking,
    Login {
        notice: Option<Key>,
    },
    /// The stored session could not be checked (e.g. the server is down).
    Failed(ApiError),
    Ready(Session),
}

fn current_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

fn current_route() -> Route {
    Route::from_hash(&current_hash())
}

/// Loads `/me` and the role catalogue, then moves to the shell (or back to login).
fn load_session(phase: UseStateHandle<Phase>) {
    spawn_local(async move {
        let next = match api::me().await {
            Ok(Me::Staff(me)) => {
                // Without the catalogue, roles show by code: not worth failing for.
                let roles = api::roles().await.unwrap_or_default();
                Phase::Ready(Session {
                    me: Rc::new(me),
                    roles: Rc::new(roles),
                })
            }
            Ok(Me::Customer(_)) => {
                api::logout().await;
                Phase::Login {
                    notice: Some(Key::StaffOnly),
                }
            }
            Err(ApiError::SessionExpired) => Phase::Login {
                notice: Some(Key::SessionExpired),
            },
            Err(e) => Phase::Failed(e),
        };
        phase.set(next);
    });
}

#[function_component(App)]
pub fn app() -> Html {
    let lang = use_state(load_lang);
    let phase = use_state(|| {
        if api::has_session() {
            Phase::Checking
        } else {
            Phase::Login { notice: None }
        }
    });
    let route = use_state(current_route);
    let hash = use_state(current_hash);

    // First render: check the stored session; send the user to login whenever it expires.
    {
        let phase = phase.clone();
        use_effect_with((), move |_| {
            let on_expired = {
                let phase = phase.clone();
                Callback::from(move |()| {
                    phase.set(Phase::Login {
                        notice: Some(Key::SessionExpired),
                    })
                })
            };
            api::set_session_expired_handler(Some(on_expired));
            if *phase == Phase::Checking {
                load_session(phase);
            }
            || api::set_session_expired_handler(None)
        });
    }

    // Follow the URL hash.
    {
        let route = route.clone();
        let hash = hash.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|window| {
                EventListener::new(&window, "hashchange", move |_| {
                    route.set(current_route());
                    hash.set(current_hash());
                })
            });
            move || drop(listener)
        });
    }

    let lang_ctx = {
        let lang = lang.clone();
        LangCtx {
            lang: *lang,
            set: Callback::from(move |l| lang.set(l)),
        }
    };
    // Remember the choice and keep `<html lang>` in step.
    use_effect_with(*lang, |l| save_lang(*l));

    let body = match &*phase {
        Phase::Checking => html! { <Splash /> },
        Phase::Login { notice } => {
            let on_success = {
                let phase = phase.clone();
                Callback::from(move |()| {
                    phase.set(Phase::Checking);
                    load_session(phase.clone());
                })
            };
            html! { <Login notice={*notice} {on_success} /> }
        }
        Phase::Failed(error) => {
            let retry = {
                let phase = phase.clone();
                Callback::from(move |_: MouseEvent| {
                    phase.set(Phase::Checking);
                    load_session(phase.clone());
                })
            };
            html! { <LoadFailed error={error.clone()} {retry} /> }
        }
        Phase::Ready(session) => {
            let on_logout = {
                let phase = phase.clone();
                Callback::from(move |()| {
                    let phase = phase.clone();
                    spawn_local(async move {
                        api::logout().await;
                        phase.set(Phase::Login { notice: None });
                    });
                })
            };
            let detail = detail_id(&hash);
            html! { <Shell session={session.clone()} route={*route} {detail} {on_logout} /> }
        }
    };

    html! {
        <ContextProvider<LangCtx> context={lang_ctx}>
            { body }
        </ContextProvider<LangCtx>>
    }
}

#[function_component(Splash)]
fn splash() -> Html {
    let lang = use_lang();
    html! {
        <div class="splash" role="status" aria-live="polite">
            <div class="spinner" aria-hidden="true"></div>
            <p>{ t(lang, Key::Loading) }</p>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct LoadFailedProps {
    error: ApiError,
    retry: Callback<MouseEvent>,
}

#[function_component(LoadFailed)]
fn load_failed(props: &LoadFailedProps) -> Html {
    let lang = use_lang();
    html! {
        <div class="splash">
            <div class="card narrow">
                <h1 class="brand-title">{ t(lang, Key::AppName) }</h1>
                <p class="alert error" role="alert">{ error_message(&props.error, lang) }</p>
                <button class="btn primary" onclick={props.retry.clone()}>{ t(lang, Key::Retry) }</button>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ShellProps {
    session: Session,
    route: Route,
    detail: Option<String>,
    on_logout: Callback<()>,
}

#[function_component(Shell)]
fn shell(props: &ShellProps) -> Html {
    let route = props.route;
    let store = {
        let me = props.session.me.clone();
        use_state(move || load_store(&me))
    };
    let store_ctx = {
        let store = store.clone();
        StoreCtx {
            selected: (*store).clone(),
            set: Callback::from(move |selected: Option<String>| {
                save_store(selected.as_deref());
                store.set(selected);
            }),
        }
    };
    let session = props.session.clone();
    let page = if !route.allowed(&props.session.me.permissions) {
        html! { <NoAccess /> }
    } else {
        match route {
            Route::Home => html! { <Home {session} /> },
            Route::Stores => html! { <Stores {session} /> },
            Route::Staff => html! { <StaffPage {session} /> },
            Route::Audit => html! { <AuditLog {session} /> },
            Route::Customers => html! { <Customers {session} /> },
            Route::CustomerDetail => html! {
                <CustomerDetail {session} id={props.detail.clone().unwrap_or_default()} />
            },
            Route::Members => html! { <MemberSearch {session} /> },
            Route::MemberDetail => html! {
                <MemberPage {session} id={props.detail.clone().unwrap_or_default()} />
            },
            Route::Checkout => html! {
                <Checkout {session} card_id={props.detail.clone().unwrap_or_default()} />
            },
            Route::ReceiptView => html! {
                <ReceiptPage {session} checkout_id={props.detail.clone().unwrap_or_default()} />
            },
            Route::Tasks => html! { <TaskQueue {session} /> },
            Route::Leads => html! { <LeadsBoard {session} /> },
            Route::Complaints => html! { <Complaints {session} /> },
            Route::TopUpRequests => html! { <TopUpRequests {session} /> },
            Route::Reports => html! { <ReportsPage {session} /> },
            Route::NotFound => html! { <NotFound /> },
        }
    };
    html! {
        <ContextProvider<StoreCtx> context={store_ctx}>
        <div class="shell">
            <Header session={props.session.clone()} on_logout={props.on_logout.clone()} />
            <div class="shell-body">
                <Nav permissions={props.session.me.permissions.clone()} current={route} />
                <main class="content" id="main">{ page }</main>
            </div>
        </div>
        </ContextProvider<StoreCtx>>
    }
}
