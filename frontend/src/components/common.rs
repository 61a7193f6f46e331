//! Small shared pieces: loading and empty states, a form field, a "load more" footer and the
//! confirmation dialog for irreversible actions.

use crate::i18n::{t, Key};
use crate::session::use_lang;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[function_component(Loading)]
pub fn loading() -> Html {
    let lang = use_lang();
    html! {
        <div class="state loading" role="status" aria-live="polite">
            <div class="spinner small" aria-hidden="true"></div>
            <span>{ t(lang, Key::Loading) }</span>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct EmptyProps {
    pub text: AttrValue,
}

#[function_component(Empty)]
pub fn empty(props: &EmptyProps) -> Html {
    html! { <div class="state empty-state">{ props.text.clone() }</div> }
}

#[derive(Properties, PartialEq)]
pub struct ErrorLineProps {
    pub text: AttrValue,
    #[prop_or_default]
    pub retry: Option<Callback<MouseEvent>>,
}

#[function_component(ErrorLine)]
pub fn error_line(props: &ErrorLineProps) -> Html {
    let lang = use_lang();
    html! {
        <div class="alert error" role="alert">
            { props.text.clone() }
            if let Some(retry) = props.retry.clone() {
                <button class="btn small" onclick={retry}>{ t(lang, Key::Retry) }</button>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct FieldProps {
    /// The field's name (also the server's field path it shows errors for).
    pub name: AttrValue,
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    pub oninput: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or(AttrValue::Static("text"))]
    pub kind: AttrValue,
    #[prop_or_default]
    pub maxlength: Option<AttrValue>,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    #[prop_or_default]
    pub disabled: bool,
    #[prop_or(AttrValue::Static("off"))]
    pub autocomplete: AttrValue,
    #[prop_or_default]
    pub inputmode: Option<AttrValue>,
    #[prop_or_default]
    pub autofocus: bool,
}

/// A labelled input with its error (local or from the server) beside it.
#[function_component(Field)]
pub fn field(props: &FieldProps) -> Html {
    let oninput = {
        let cb = props.oninput.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                cb.emit(input.value());
            }
        })
    };
    let err_id = format!("{}-error", props.id);
    let invalid = props.error.is_some();
    html! {
        <div class={classes!("field", invalid.then_some("invalid"))} data-field={props.name.clone()}>
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            <input id={props.id.clone()} name={props.name.clone()} type={props.kind.clone()}
                value={props.value.clone()} {oninput} maxlength={props.maxlength.clone()}
                disabled={props.disabled} autocomplete={props.autocomplete.clone()}
                inputmode={props.inputmode.clone()} autofocus={props.autofocus}
                aria-invalid={invalid.then_some("true")}
                aria-describedby={invalid.then_some(err_id.clone())} />
            if let Some(hint) = props.hint.clone().filter(|_| !invalid) {
                <p class="field-hint">{ hint }</p>
            }
            if let Some(message) = props.error.clone() {
                <p class="field-error" id={err_id}>{ message }</p>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct SelectProps {
    pub name: AttrValue,
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    /// (value, label) pairs.
    pub options: Vec<(String, String)>,
    pub onchange: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub disabled: bool,
    /// Hide the label visually (it stays for screen readers).
    #[prop_or_default]
    pub compact: bool,
}

#[function_component(Select)]
pub fn select(props: &SelectProps) -> Html {
    let onchange = {
        let cb = props.onchange.clone();
        Callback::from(move |e: Event| {
            if let Some(select) = e.target_dyn_into::<HtmlSelectElement>() {
                cb.emit(select.value());
            }
        })
    };
    let invalid = props.error.is_some();
    html! {
        <div class={classes!("field", invalid.then_some("invalid"), props.compact.then_some("compact"))}
            data-field={props.name.clone()}>
            <label for={props.id.clone()} class={classes!(props.compact.then_some("sr-only"))}>
                { props.label.clone() }
            </label>
            <select id={props.id.clone()} name={props.name.clone()} {onchange} disabled={props.disabled}
                aria-invalid={invalid.then_some("true")}>
                { for props.options.iter().map(|(value, label)| html! {
                    <option value={value.clone()} selected={*value == *props.value}>{ label }</option>
                }) }
            </select>
            if let Some(message) = props.error.clone() {
                <p class="field-error">{ message }</p>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct MoreProps {
    pub has_more: bool,
    pub loading: bool,
    pub onclick: Callback<MouseEvent>,
}

/// The footer of a cursor-paged list.
#[function_component(LoadMore)]
pub fn load_more(props: &MoreProps) -> Html {
    let lang = use_lang();
    if !props.has_more {
        return html! {};
    }
    html! {
        <div class="load-more">
            <button class="btn" onclick={props.onclick.clone()} disabled={props.loading}>
                { if props.loading { t(lang, Key::Loading) } else { t(lang, Key::LoadMore) } }
            </button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    pub title: AttrValue,
    pub body: AttrValue,
    pub confirm_label: AttrValue,
    pub on_confirm: Callback<()>,
    pub on_cancel: Callback<()>,
    /// The action runs: both buttons wait.
    #[prop_or_default]
    pub busy: bool,
    /// Paint the confirm button as dangerous.
    #[prop_or(true)]
    pub danger: bool,
    /// Shown in the dialog when the action failed.
    #[prop_or_default]
    pub error: Option<String>,
    /// A choice to make before confirming (e.g. whom to assign to), below the text.
    #[prop_or_default]
    pub children: Html,
}

/// A modal asking "really?" before an irreversible action. Escape cancels; the cancel button
/// has the focus, so Enter alone never confirms.
#[function_component(ConfirmDialog)]
pub fn confirm_dialog(props: &ConfirmProps) -> Html {
    let lang = use_lang();
    let cancel_ref = use_node_ref();
    {
        let cancel_ref = cancel_ref.clone();
        use_effect_with((), move |_| {
            if let Some(button) = cancel_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    let cancel = {
        let cb = props.on_cancel.clone();
        let busy = props.busy;
        Callback::from(move |_: MouseEvent| {
            if !busy {
                cb.emit(())
            }
        })
    };
    let confirm = {
        let cb = props.on_confirm.clone();
        let busy = props.busy;
        Callback::from(move |_: MouseEvent| {
            if !busy {
                cb.emit(())
            }
        })
    };
    let onkeydown = {
        let cb = props.on_cancel.clone();
        let busy = props.busy;
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" && !busy {
                cb.emit(())
            }
        })
    };
    html! {
        <div class="modal-backdrop" {onkeydown}>
            <div class="modal" role="alertdialog" aria-modal="true"
                aria-labelledby="confirm-title" aria-describedby="confirm-body">
                <h2 id="confirm-title">{ props.title.clone() }</h2>
                <p id="confirm-body">{ props.body.clone() }</p>
                { props.children.clone() }
                if let Some(error) = props.error.clone() {
                    <p class="alert error" role="alert">{ error }</p>
                }
                <div class="modal-actions">
                    <button class="btn" ref={cancel_ref} onclick={cancel} disabled={props.busy}>
                        { t(lang, Key::Cancel) }
                    </button>
                    <button class={classes!("btn", if props.danger { "danger" } else { "primary" })}
                        data-confirm="yes" onclick={confirm} disabled={props.busy}>
                        { if props.busy { t(lang, Key::Working) } else { &*props.confirm_label } }
                    </button>
                </div>
            </div>
        </div>
    }
}
