//! 审计日志 Audit log: who changed what and when, newest first, filtered by entity, entity id
//! and actor (the server's filters) and narrowed by the store switcher.

use crate::api::{self, ApiError, AuditFilter};
use crate::components::common::{Empty, ErrorLine, Field, LoadMore, Loading, Select};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key};
use crate::session::{format_time, in_selected_store, store_name, use_lang, use_store, Session};
use dms_api_types::AuditEntryDto;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

/// The entity types the filter offers.
const ENTITIES: &[&str] = &[
    "staff_user",
    "store",
    "customer",
    "member",
    "card",
    "checkout",
    "coupon_template",
    "gift",
    "programme_config",
];

#[derive(Properties, PartialEq)]
pub struct AuditProps {
    pub session: Session,
}

#[derive(Debug, Clone, Default)]
struct List {
    items: Vec<AuditEntryDto>,
    next: Option<String>,
    loading: bool,
    error: Option<ApiError>,
    loaded: bool,
}

/// A compact one-line view of an entry's detail.
pub fn detail_text(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    }
}

fn load(list: UseStateHandle<List>, filter: AuditFilter, cursor: Option<String>) {
    let mut current = if cursor.is_none() {
        List::default()
    } else {
        (*list).clone()
    };
    current.loading = true;
    current.error = None;
    list.set(current.clone());
    spawn_local(async move {
        match api::audit_log(&filter, cursor.as_deref()).await {
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

#[function_component(AuditLog)]
pub fn audit_log(props: &AuditProps) -> Html {
    let lang = use_lang();
    let selected = use_store();
    let list = use_state(List::default);
    // The filter being typed, and the one applied.
    let draft = use_state(AuditFilter::default);
    let applied = use_state(AuditFilter::default);

    {
        let list = list.clone();
        use_effect_with((*applied).clone(), move |filter| {
            load(list, filter.clone(), None)
        });
    }

    let on_filter = {
        let (draft, applied) = (draft.clone(), applied.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            applied.set((*draft).clone());
        })
    };
    let clear = {
        let (draft, applied) = (draft.clone(), applied.clone());
        Callback::from(move |_: MouseEvent| {
            draft.set(AuditFilter::default());
            applied.set(AuditFilter::default());
        })
    };
    let set = |f: fn(&mut AuditFilter, String)| {
        let draft = draft.clone();
        Callback::from(move |v: String| {
            let mut d = (*draft).clone();
            f(&mut d, v);
            draft.set(d);
        })
    };
    let more = {
        let (list, applied) = (list.clone(), applied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(next) = list.next.clone() {
                load(list.clone(), (*applied).clone(), Some(next));
            }
        })
    };
    let retry = {
        let (list, applied) = (list.clone(), applied.clone());
        Callback::from(move |_: MouseEvent| load(list.clone(), (*applied).clone(), None))
    };

    let mut entity_options = vec![(String::new(), t(lang, Key::AnyEntity).to_string())];
    entity_options.extend(ENTITIES.iter().map(|e| (e.to_string(), code_name(lang, e))));

    let stores = &props.session.me.stores;
    let rows: Vec<&AuditEntryDto> = list
        .items
        .iter()
        .filter(|e| in_selected_store(selected.as_deref(), e.store_id.as_deref()))
        .collect();

    let table = if !list.loaded && list.loading {
        html! { <Loading /> }
    } else if let (Some(e), false) = (&list.error, list.loaded) {
        html! { <ErrorLine text={error_message(e, lang)} {retry} /> }
    } else if rows.is_empty() && list.next.is_none() {
        html! { <Empty text={t(lang, if list.items.is_empty() { Key::NoData } else { Key::NoMatches })} /> }
    } else {
        html! {
            <div class="table-wrap">
            <table class="table compact" id="audit-table">
                <thead><tr>
                    <th>{ t(lang, Key::Time) }</th>
                    <th>{ t(lang, Key::Actor) }</th>
                    <th>{ t(lang, Key::Store) }</th>
                    <th>{ t(lang, Key::Action) }</th>
                    <th>{ t(lang, Key::Entity) }</th>
                    <th>{ t(lang, Key::Detail) }</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|e| html! {
                        <tr>
                            <td class="nowrap">{ format_time(&e.occurred_at) }</td>
                            <td title={e.actor_id.clone().unwrap_or_default()}>
                                { &e.actor_name }<span class="muted small">{ format!(" · {}", e.actor_kind) }</span>
                            </td>
                            <td>{ e.store_id.as_deref().and_then(|id| store_name(stores, id)).unwrap_or("—") }</td>
                            <td><code class="code plain">{ &e.action }</code></td>
                            <td title={e.entity_id.clone()} data-entity={e.entity.clone()}>{ code_name(lang, &e.entity) }</td>
                            <td class="detail">{ detail_text(&e.detail) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
        }
    };

    html! {
        <section class="page wide">
            <h1>{ t(lang, Key::NavAudit) }</h1>
            <form class="card filters" onsubmit={on_filter} id="audit-filter">
                <Select name="entity" id="audit-entity" label={t(lang, Key::Entity)}
                    value={draft.entity.clone()} options={entity_options} onchange={set(|d, v| d.entity = v)} />
                <Field name="entity_id" id="audit-entity-id" label={t(lang, Key::EntityId)}
                    value={draft.entity_id.clone()} oninput={set(|d, v| d.entity_id = v)} maxlength="64" />
                <Field name="actor_id" id="audit-actor-id" label={t(lang, Key::ActorId)}
                    value={draft.actor_id.clone()} oninput={set(|d, v| d.actor_id = v)} maxlength="64" />
                <div class="filter-actions">
                    <button type="submit" class="btn primary">{ t(lang, Key::Filter) }</button>
                    <button type="button" class="btn" onclick={clear}>{ t(lang, Key::ClearFilter) }</button>
                </div>
            </form>
            if let Some(e) = list.error.as_ref().filter(|_| list.loaded) {
                <p class="alert error" role="alert">{ error_message(e, lang) }</p>
            }
            <div class="card">
                { table }
                <LoadMore has_more={list.next.is_some()} loading={list.loading} onclick={more} />
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_one_line_and_empty_objects_vanish() {
        assert_eq!(detail_text(&serde_json::json!({})), "");
        assert_eq!(detail_text(&serde_json::Value::Null), "");
        assert_eq!(
            detail_text(&serde_json::json!({"roles": ["cashier"]})),
            r#"{"roles":["cashier"]}"#
        );
    }
}
