//! Sign-in: checks that both fields are filled, then shows the server's field errors beside the
//! fields and any other failure above the form.

use crate::api::{self, ApiError};
use crate::forms::{field_errors, form_errors, validate_login, FormErrors};
use crate::i18n::{t, Key};
use crate::session::LangCtx;
use dms_api_types::{FieldError, LoginRequest};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

const FIELDS: &[&str] = &["username", "password"];

#[derive(Properties, PartialEq)]
pub struct LoginProps {
    /// Shown above the form, e.g. "session expired".
    pub notice: Option<Key>,
    pub on_success: Callback<()>,
}

/// Why the last submit failed; turned into messages at render time so the language toggle
/// applies to them too.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    Local(Vec<FieldError>),
    Server(ApiError),
}

#[function_component(Login)]
pub fn login(props: &LoginProps) -> Html {
    let ctx = use_context::<LangCtx>();
    let lang = ctx.as_ref().map(|c| c.lang).unwrap_or_default();
    // Read from the inputs at submit time (not from state): that also catches a password
    // manager's autofill, which does not always fire `input`.
    let username = use_node_ref();
    let password = use_node_ref();
    let failure = use_state(|| None::<Failure>);
    let sending = use_state(|| false);

    let errors = match &*failure {
        None => FormErrors::default(),
        Some(Failure::Local(list)) => field_errors(list, lang, FIELDS),
        Some(Failure::Server(e)) => form_errors(e, lang, FIELDS),
    };

    let on_input = {
        let failure = failure.clone();
        Callback::from(move |_: InputEvent| {
            if failure.is_some() {
                failure.set(None);
            }
        })
    };
    let on_submit = {
        let (username, password) = (username.clone(), password.clone());
        let (failure, sending) = (failure.clone(), sending.clone());
        let on_success = props.on_success.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *sending {
                return;
            }
            let value = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let (name, secret) = (value(&username), value(&password));
            let local = validate_login(&name, &secret);
            if !local.is_empty() {
                failure.set(Some(Failure::Local(local)));
                return;
            }
            let request = LoginRequest {
                username: name.trim().to_string(),
                password: secret,
            };
            failure.set(None);
            sending.set(true);
            let (failure, sending, password) = (failure.clone(), sending.clone(), password.clone());
            let on_success = on_success.clone();
            spawn_local(async move {
                match api::login(&request).await {
                    Ok(_) => on_success.emit(()),
                    Err(e) => {
                        if let Some(input) = password.cast::<HtmlInputElement>() {
                            input.set_value("");
                        }
                        failure.set(Some(Failure::Server(e)));
                        sending.set(false);
                    }
                }
            });
        })
    };
    let toggle = Callback::from(move |_: MouseEvent| {
        if let Some(ctx) = &ctx {
            ctx.set.emit(ctx.lang.other());
        }
    });

    let field = |name: &'static str,
                 label: Key,
                 kind: &'static str,
                 autocomplete: &'static str,
                 node: &NodeRef,
                 maxlength: &'static str| {
        let error = errors.field(name).map(str::to_string);
        let id = format!("login-{name}");
        let err_id = format!("{id}-error");
        html! {
            <div class={classes!("field", error.is_some().then_some("invalid"))}>
                <label for={id.clone()}>{ t(lang, label) }</label>
                <input id={id} name={name} type={kind} autocomplete={autocomplete}
                    ref={node.clone()} oninput={on_input.clone()} maxlength={maxlength}
                    autofocus={name == "username"}
                    disabled={*sending}
                    aria-invalid={error.is_some().then_some("true")}
                    aria-describedby={error.is_some().then_some(err_id.clone())} />
                if let Some(message) = error {
                    <p class="field-error" id={err_id}>{ message }</p>
                }
            </div>
        }
    };

    html! {
        <div class="login-page">
            <div class="card login-card">
                <div class="login-head">
                    <span class="brand-mark" aria-hidden="true">{ "4S" }</span>
                    <div>
                        <h1 class="brand-title">{ t(lang, Key::AppName) }</h1>
                        <p class="muted">{ t(lang, Key::AppTagline) }</p>
                    </div>
                    <button type="button" class="btn ghost small" onclick={toggle}
                        title={t(lang, Key::SwitchLanguageTitle)} lang={lang.other().code()}>
                        { t(lang, Key::SwitchLanguage) }
                    </button>
                </div>
                <h2>{ t(lang, Key::LoginTitle) }</h2>
                if let Some(notice) = props.notice.filter(|_| failure.is_none()) {
                    <p class="alert info" role="status">{ t(lang, notice) }</p>
                }
                if let Some(general) = &errors.general {
                    <p class="alert error" role="alert">{ general }</p>
                }
                <form onsubmit={on_submit} novalidate=true>
                    { field("username", Key::Username, "text", "username", &username, "64") }
                    { field("password", Key::Password, "password", "current-password", &password, "256") }
                    <button type="submit" class="btn primary block" disabled={*sending}>
                        { if *sending { t(lang, Key::SigningIn) } else { t(lang, Key::SignIn) } }
                    </button>
                </form>
            </div>
        </div>
    }
}
