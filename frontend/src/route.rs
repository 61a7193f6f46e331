//! The pages, addressed by the URL hash (`#/stores`) so any static server can host the app and a
//! reload (or a new sign-in after the session expired) stays on the same page.

use crate::i18n::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Home,
    Stores,
    Staff,
    Audit,
    NotFound,
}

impl Route {
    /// The navigation entries, in order.
    pub const NAV: [Route; 4] = [Route::Home, Route::Stores, Route::Staff, Route::Audit];

    pub fn from_hash(hash: &str) -> Route {
        let path = hash.trim_start_matches('#');
        let path = path.split('?').next().unwrap_or_default();
        match path.trim_matches('/') {
            "" | "home" => Route::Home,
            "stores" => Route::Stores,
            "staff" => Route::Staff,
            "audit" => Route::Audit,
            _ => Route::NotFound,
        }
    }

    pub fn hash(self) -> &'static str {
        match self {
            Route::Home | Route::NotFound => "#/",
            Route::Stores => "#/stores",
            Route::Staff => "#/staff",
            Route::Audit => "#/audit",
        }
    }

    pub fn label(self) -> Key {
        match self {
            Route::Home | Route::NotFound => Key::NavHome,
            Route::Stores => Key::NavStores,
            Route::Staff => Key::NavStaff,
            Route::Audit => Key::NavAudit,
        }
    }

    /// The permission a user needs to see the page.
    pub fn required_permission(self) -> Option<&'static str> {
        match self {
            Route::Home | Route::NotFound => None,
            Route::Stores => Some("org.stores.read"),
            Route::Staff => Some("org.staff.read"),
            Route::Audit => Some("audit.read"),
        }
    }

    pub fn allowed(self, permissions: &[String]) -> bool {
        self.required_permission()
            .is_none_or(|needed| permissions.iter().any(|p| p == needed))
    }
}

/// The navigation entries a user with `permissions` sees.
pub fn nav_items(permissions: &[String]) -> Vec<Route> {
    Route::NAV
        .into_iter()
        .filter(|r| r.allowed(permissions))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn hashes_round_trip() {
        for route in Route::NAV {
            assert_eq!(Route::from_hash(route.hash()), route);
        }
        assert_eq!(Route::from_hash(""), Route::Home);
        assert_eq!(Route::from_hash("#"), Route::Home);
        assert_eq!(Route::from_hash("#/stores/"), Route::Stores);
        assert_eq!(Route::from_hash("#/audit?cursor=x"), Route::Audit);
        assert_eq!(Route::from_hash("#/nope"), Route::NotFound);
    }

    #[test]
    fn everyone_sees_home() {
        assert_eq!(nav_items(&[]), vec![Route::Home]);
    }

    #[test]
    fn nav_follows_permissions() {
        assert_eq!(
            nav_items(&perms(&["org.staff.read", "sales.read"])),
            vec![Route::Home, Route::Staff]
        );
        assert_eq!(
            nav_items(&perms(&["audit.read", "org.stores.read", "org.staff.read"])),
            Route::NAV.to_vec()
        );
        // Write alone does not show a read page.
        assert_eq!(nav_items(&perms(&["org.stores.write"])), vec![Route::Home]);
    }

    #[test]
    fn pages_check_their_permission() {
        assert!(Route::Audit.allowed(&perms(&["audit.read"])));
        assert!(!Route::Audit.allowed(&perms(&["org.staff.read"])));
        assert!(Route::NotFound.allowed(&[]));
    }
}
