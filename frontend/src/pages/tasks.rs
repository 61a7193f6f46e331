//! 今日回访 The customer-service desk's queue: the caller's open follow-up tasks due today or
//! earlier. A call's outcome takes two clicks: the outcome, then its confirmation (or, for a
//! refusal, the reason). Done tasks leave the queue and are listed below with their outcome.

use crate::api::{crm, ApiError};
use crate::components::common::{Empty, ErrorLine, Loading};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key};
use crate::reports::today;
use crate::route::customer_hash;
use crate::session::{store_name, use_lang, use_store, Session};
use dms_api_types::crm::{CompleteTaskRequest, TaskDto};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The outcomes offered, in the order the buttons show.
pub const OUTCOMES: [&str; 4] = ["reached", "appointment_made", "no_answer", "refused"];
/// The refusal reasons the statistics know (anything else is typed in).
pub const REFUSALS: [&str; 5] = [
    "serviced_elsewhere",
    "too_expensive",
    "too_far",
    "car_sold",
    "moved",
];

/// The request for an outcome, or `None` when a refusal has no reason yet.
pub fn outcome_request(outcome: &str, reason: &str, note: &str) -> Option<CompleteTaskRequest> {
    let reason = reason.trim();
    if outcome == "refused" && reason.is_empty() {
        return None;
    }
    Some(CompleteTaskRequest {
        outcome: outcome.to_string(),
        reason: (outcome == "refused").then(|| reason.to_string()),
        note: note.trim().to_string(),
    })
}

#[derive(Properties, PartialEq)]
pub struct TaskQueueProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct Queue {
    open: Vec<TaskDto>,
    done: Vec<TaskDto>,
    loading: bool,
    loaded: bool,
    error: Option<ApiError>,
}

#[function_component(TaskQueue)]
pub fn task_queue(props: &TaskQueueProps) -> Html {
    let lang = use_lang();
    let selected_store = use_store();
    let queue = use_state(Queue::default);
    let version = use_state(|| 0u32);
    // The task being answered and the outcome picked (first click).
    let picked = use_state(|| None::<(String, String)>);
    let note = use_state(String::new);
    let other_reason = use_state(String::new);
    let busy = use_state(|| false);
    let row_error = use_state(|| None::<(String, String)>);

    {
        let queue = queue.clone();
        use_effect_with(*version, move |_| {
            let mut q = (*queue).clone();
            q.loading = true;
            q.error = None;
            queue.set(q.clone());
            spawn_local(async move {
                match crm::my_tasks_due(&today().to_string()).await {
                    Ok(page) => {
                        q.open = page.items;
                        q.loaded = true;
                    }
                    Err(e) => q.error = Some(e),
                }
                q.loading = false;
                queue.set(q);
            });
        });
    }

    // Keyboard: after the first choice, the focus moves to its confirmation (or first reason),
    // so Enter or Space completes the call.
    use_effect_with((*picked).clone(), |picked| {
        if picked.is_some() {
            if let Some(button) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector(".outcome-next button").ok().flatten())
                .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
            {
                let _ = button.focus();
            }
        }
    });

    let send = {
        let (queue, picked, note, other_reason, busy, row_error) = (
            queue.clone(),
            picked.clone(),
            note.clone(),
            other_reason.clone(),
            busy.clone(),
            row_error.clone(),
        );
        Callback::from(
            move |(task_id, outcome, reason): (String, String, String)| {
                if *busy {
                    return;
                }
                let Some(body) = outcome_request(&outcome, &reason, &note) else {
                    row_error.set(Some((task_id, t(lang, Key::ReasonRequired).to_string())));
                    return;
                };
                busy.set(true);
                row_error.set(None);
                let (queue, picked, note, other_reason, busy, row_error) = (
                    queue.clone(),
                    picked.clone(),
                    note.clone(),
                    other_reason.clone(),
                    busy.clone(),
                    row_error.clone(),
                );
                spawn_local(async move {
                    let result = crm::complete_task(&task_id, &body).await;
                    busy.set(false);
                    match result {
                        Ok(task) => {
                            let mut q = (*queue).clone();
                            q.open.retain(|t| t.id != task_id);
                            q.done.insert(0, task);
                            queue.set(q);
                            picked.set(None);
                            note.set(String::new());
                            other_reason.set(String::new());
                        }
                        Err(e) => row_error.set(Some((task_id, error_message(&e, lang)))),
                    }
                });
            },
        )
    };

    let me = &props.session.me;
    let rows: Vec<&TaskDto> = queue
        .open
        .iter()
        .filter(|t| selected_store.as_ref().is_none_or(|s| *s == t.store_id))
        .collect();
    let today_day = today();

    let row = |task: &TaskDto| -> Html {
        let id = task.id.clone();
        let current = picked
            .as_ref()
            .filter(|(tid, _)| *tid == id)
            .map(|(_, o)| o.clone());
        let overdue = task.due_on < today_day;
        let buttons = OUTCOMES.iter().map(|&o| {
            let picked = picked.clone();
            let (id, o_s) = (id.clone(), o.to_string());
            let on = current.as_deref() == Some(o);
            let (note, other_reason) = (note.clone(), other_reason.clone());
            let onclick = Callback::from(move |_: MouseEvent| {
                note.set(String::new());
                other_reason.set(String::new());
                picked.set(Some((id.clone(), o_s.clone())));
            });
            html! {
                <button type="button" class={classes!("btn", "outcome", o, on.then_some("on"))}
                    data-outcome={o} aria-pressed={on.to_string()} disabled={*busy} {onclick}>
                    { code_name(lang, o) }
                </button>
            }
        });
        let second = match current.as_deref() {
            None => html! {},
            Some("refused") => {
                let reasons = REFUSALS.iter().map(|&r| {
                    let send = send.clone();
                    let id = id.clone();
                    let onclick = Callback::from(move |_: MouseEvent| {
                        send.emit((id.clone(), "refused".into(), r.to_string()))
                    });
                    html! {
                        <button type="button" class="btn small reason" data-reason={r}
                            disabled={*busy} {onclick}>{ code_name(lang, r) }</button>
                    }
                });
                let on_other = {
                    let other_reason = other_reason.clone();
                    Callback::from(move |e: InputEvent| {
                        if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                            other_reason.set(input.value());
                        }
                    })
                };
                let send_other = {
                    let (send, id, other_reason) = (send.clone(), id.clone(), other_reason.clone());
                    Callback::from(move |e: SubmitEvent| {
                        e.prevent_default();
                        send.emit((id.clone(), "refused".into(), (*other_reason).clone()))
                    })
                };
                html! {
                    <div class="outcome-next" role="group" aria-label={t(lang, Key::RefusalReason)}>
                        <span class="muted">{ t(lang, Key::RefusalReason) }</span>
                        { for reasons }
                        <form class="inline-form" onsubmit={send_other}>
                            <input class="small-input" name="reason" maxlength="200"
                                placeholder={t(lang, Key::OtherReason)} aria-label={t(lang, Key::OtherReason)}
                                value={(*other_reason).clone()} oninput={on_other} />
                            <button type="submit" class="btn small" disabled={*busy}>{ t(lang, Key::Save) }</button>
                        </form>
                    </div>
                }
            }
            Some(outcome) => {
                let confirm = {
                    let (send, id, o) = (send.clone(), id.clone(), outcome.to_string());
                    Callback::from(move |_: MouseEvent| {
                        send.emit((id.clone(), o.clone(), String::new()))
                    })
                };
                let on_note = {
                    let note = note.clone();
                    Callback::from(move |e: InputEvent| {
                        if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                            note.set(input.value());
                        }
                    })
                };
                html! {
                    <div class="outcome-next">
                        <input class="small-input" name="note" maxlength="2000"
                            placeholder={t(lang, Key::NoteOptional)} aria-label={t(lang, Key::NoteOptional)}
                            value={(*note).clone()} oninput={on_note} />
                        <button type="button" class="btn primary small confirm-outcome"
                            disabled={*busy} onclick={confirm}>
                            { if *busy { t(lang, Key::Saving).to_string() }
                              else { format!("{} {}", t(lang, Key::ConfirmOutcome), code_name(lang, outcome)) } }
                        </button>
                    </div>
                }
            }
        };
        let error = row_error
            .as_ref()
            .filter(|(tid, _)| *tid == id)
            .map(|(_, m)| m.clone());
        html! {
            <li class={classes!("task", overdue.then_some("overdue"))} data-task={id.clone()}>
                <div class="task-head">
                    <strong>{ &task.title }</strong>
                    <span class="badge">{ code_name(lang, &task.rule) }</span>
                    if overdue {
                        <span class="badge danger">{ t(lang, Key::Overdue) }{ " " }{ task.due_on.to_string() }</span>
                    }
                    <span class="muted">{ store_name(&me.stores, &task.store_id).unwrap_or_default() }</span>
                    if let Some(cid) = &task.customer_id {
                        <a href={customer_hash(cid)}>{ t(lang, Key::Customer360) }</a>
                    }
                </div>
                if !task.note.is_empty() {
                    <p class="muted">{ &task.note }</p>
                }
                <div class="outcomes" role="group" aria-label={t(lang, Key::CallOutcome)}>{ for buttons }</div>
                { second }
                if let Some(message) = error {
                    <p class="alert error" role="alert">{ message }</p>
                }
            </li>
        }
    };

    let list = if !queue.loaded && queue.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&queue.error, queue.loaded) {
        let version = version.clone();
        html! { <ErrorLine text={error_message(e, lang)} retry={Callback::from(move |_| version.set(*version + 1))} /> }
    } else if rows.is_empty() {
        html! { <Empty text={t(lang, Key::QueueEmpty)} /> }
    } else {
        html! { <ul class="task-list" id="task-queue">{ for rows.iter().map(|t| row(t)) }</ul> }
    };
    let done = if queue.done.is_empty() {
        html! {}
    } else {
        html! {
            <div class="card" id="tasks-done">
                <h2>{ t(lang, Key::DoneToday) }</h2>
                <ul class="plain-list">
                    { for queue.done.iter().map(|task| html! {
                        <li data-task={task.id.clone()}>
                            { &task.title }{ " · " }
                            <strong>{ task.outcome.as_deref().map(|o| code_name(lang, o)).unwrap_or_default() }</strong>
                            if let Some(r) = &task.refusal_reason { { " · " }{ code_name(lang, r) } }
                            if task.status == "open" { { " · " }{ t(lang, Key::CallAgainOn) }{ " " }{ task.due_on.to_string() } }
                        </li>
                    }) }
                </ul>
            </div>
        }
    };
    let reload = {
        let version = version.clone();
        Callback::from(move |_: MouseEvent| version.set(*version + 1))
    };
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ t(lang, Key::NavTasks) }</h1>
                <span class="muted">{ today_day.to_string() }{ " · " }{ rows.len() }{ " " }{ t(lang, Key::TasksLeft) }</span>
                <button class="btn" onclick={reload} disabled={queue.loading}>{ t(lang, Key::Refresh) }</button>
            </div>
            <div class="card">{ list }</div>
            { done }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_needs_a_reason() {
        assert!(outcome_request("refused", " ", "").is_none());
        let r = outcome_request("refused", "too_far", " n ").unwrap();
        assert_eq!(r.reason.as_deref(), Some("too_far"));
        assert_eq!(r.note, "n");
        let r = outcome_request("reached", "ignored", "").unwrap();
        assert_eq!(r.reason, None);
        assert_eq!(r.outcome, "reached");
    }
}
