//! What the components share: the signed-in user (with the role catalogue) and the language.

use crate::i18n::{Lang, LANG_STORAGE_KEY};
use dms_api_types::{RoleDto, StaffMe, StoreDto};
use gloo_storage::{LocalStorage, Storage};
use std::rc::Rc;
use yew::prelude::*;

/// The signed-in staff user and the role catalogue (for role names).
#[derive(Debug, Clone)]
pub struct Session {
    pub me: Rc<StaffMe>,
    pub roles: Rc<Vec<RoleDto>>,
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.me, &other.me) && Rc::ptr_eq(&self.roles, &other.roles)
    }
}

/// The current language and how to change it, provided by the app to every component.
#[derive(Debug, Clone, PartialEq)]
pub struct LangCtx {
    pub lang: Lang,
    pub set: Callback<Lang>,
}

/// The current language (Chinese outside a provider).
#[hook]
pub fn use_lang() -> Lang {
    use_context::<LangCtx>().map(|c| c.lang).unwrap_or_default()
}

pub fn load_lang() -> Lang {
    LocalStorage::get::<String>(LANG_STORAGE_KEY)
        .map(|code| Lang::from_code(&code))
        .unwrap_or_default()
}

pub fn save_lang(lang: Lang) {
    let _ = LocalStorage::set(LANG_STORAGE_KEY, lang.code());
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// localStorage key of the store chosen in the store switcher (absent = all stores).
pub const STORE_STORAGE_KEY: &str = "dms.store";

/// The store the lists are narrowed to (`None`: every store the user works in).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreCtx {
    pub selected: Option<String>,
    pub set: Callback<Option<String>>,
}

/// The selected store (`None` outside a provider or when "all stores" is chosen).
#[hook]
pub fn use_store() -> Option<String> {
    use_context::<StoreCtx>().and_then(|c| c.selected)
}

/// Whether the user gets a store switcher: group-wide users and anyone with several stores.
pub fn can_switch_store(me: &StaffMe) -> bool {
    me.group_wide || me.stores.len() > 1
}

/// The stored choice, kept only if it still names one of the user's stores.
pub fn resolve_store(stored: Option<String>, stores: &[StoreDto]) -> Option<String> {
    stored.filter(|id| stores.iter().any(|s| &s.id == id))
}

pub fn load_store(me: &StaffMe) -> Option<String> {
    if !can_switch_store(me) {
        return None;
    }
    resolve_store(
        LocalStorage::get::<String>(STORE_STORAGE_KEY).ok(),
        &me.stores,
    )
}

pub fn save_store(selected: Option<&str>) {
    match selected {
        Some(id) => {
            let _ = LocalStorage::set(STORE_STORAGE_KEY, id);
        }
        None => LocalStorage::delete(STORE_STORAGE_KEY),
    }
}

/// Whether a row of `store_id` shows under the selection (rows without a store always do).
pub fn in_selected_store(selected: Option<&str>, store_id: Option<&str>) -> bool {
    match (selected, store_id) {
        (Some(sel), Some(id)) => sel == id,
        _ => true,
    }
}

impl Session {
    pub fn can(&self, permission: &str) -> bool {
        self.me.permissions.iter().any(|p| p == permission)
    }
}

/// A time as the stores read it: Beijing time, to the minute.
pub fn format_time(at: &chrono::DateTime<chrono::Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(cst) => at.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string(),
        None => at.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A role's name in `lang` from the catalogue, or its code when the catalogue lacks it.
pub fn role_label(roles: &[RoleDto], code: &str, lang: Lang) -> String {
    roles
        .iter()
        .find(|r| r.code == code)
        .map(|r| match lang {
            Lang::Zh => r.label_zh.clone(),
            Lang::En => r.label_en.clone(),
        })
        .filter(|label| !label.is_empty())
        .unwrap_or_else(|| code.to_string())
}

/// A store's name by id.
pub fn store_name<'a>(stores: &'a [StoreDto], id: &str) -> Option<&'a str> {
    stores.iter().find(|s| s.id == id).map(|s| s.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(code: &str, zh: &str, en: &str) -> RoleDto {
        RoleDto {
            code: code.into(),
            label_zh: zh.into(),
            label_en: en.into(),
            group_only: false,
            permissions: vec![],
        }
    }

    #[test]
    fn role_labels_follow_the_language() {
        let roles = [role("cashier", "收银员", "Cashier"), role("odd", "", "")];
        assert_eq!(role_label(&roles, "cashier", Lang::Zh), "收银员");
        assert_eq!(role_label(&roles, "cashier", Lang::En), "Cashier");
        assert_eq!(role_label(&roles, "odd", Lang::En), "odd");
        assert_eq!(role_label(&roles, "unknown", Lang::Zh), "unknown");
    }

    #[test]
    fn store_selection() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let store = |id: &str| StoreDto {
            id: id.into(),
            code: id.into(),
            name: id.into(),
            address: String::new(),
            phone: String::new(),
            active: true,
            created_at: at,
            updated_at: at,
        };
        let stores = [store("a"), store("b")];
        assert_eq!(resolve_store(Some("a".into()), &stores), Some("a".into()));
        assert_eq!(resolve_store(Some("gone".into()), &stores), None);
        assert_eq!(resolve_store(None, &stores), None);
        assert!(in_selected_store(None, Some("a")));
        assert!(in_selected_store(Some("a"), Some("a")));
        assert!(!in_selected_store(Some("a"), Some("b")));
        assert!(in_selected_store(Some("a"), None));
        assert_eq!(format_time(&at), "1970-01-01 08:00");
    }

    #[test]
    fn store_names() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let store = StoreDto {
            id: "s1".into(),
            code: "HT01".into(),
            name: "华通一店".into(),
            address: String::new(),
            phone: String::new(),
            active: true,
            created_at: at,
            updated_at: at,
        };
        let stores = [store];
        assert_eq!(store_name(&stores, "s1"), Some("华通一店"));
        assert_eq!(store_name(&stores, "s2"), None);
    }
}
