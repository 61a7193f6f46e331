//! The pages, addressed by the URL hash (`#/stores`) so any static server can host the app and a
//! reload (or a new sign-in after the session expired) stays on the same page.

use crate::i18n::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Home,
    Stores,
    Staff,
    Audit,
    Customers,
    /// `#/customers/<id>`: the id is read with [`detail_id`].
    CustomerDetail,
    /// 会员 member search.
    Members,
    /// `#/members/<member id>`.
    MemberDetail,
    /// `#/checkout/<card id>`: the cashier's checkout for one card.
    Checkout,
    /// `#/receipts/<checkout id>`: a receipt, printable, voidable.
    ReceiptView,
    /// 今日回访: the customer-service desk's follow-up queue.
    Tasks,
    /// 线索看板: leads by intent grade.
    Leads,
    /// 投诉.
    Complaints,
    /// 待确认充值: top-ups the kiosks asked for, for the cashier to confirm.
    TopUpRequests,
    /// 报表: charts and exports.
    Reports,
    NotFound,
}

impl Route {
    /// The navigation entries, in order.
    pub const NAV: [Route; 11] = [
        Route::Home,
        Route::Members,
        Route::TopUpRequests,
        Route::Customers,
        Route::Tasks,
        Route::Leads,
        Route::Complaints,
        Route::Reports,
        Route::Staff,
        Route::Stores,
        Route::Audit,
    ];

    pub fn from_hash(hash: &str) -> Route {
        let path = hash.trim_start_matches('#');
        let path = path.split('?').next().unwrap_or_default();
        match path.trim_matches('/') {
            "" | "home" => Route::Home,
            "stores" => Route::Stores,
            "staff" => Route::Staff,
            "audit" => Route::Audit,
            "customers" => Route::Customers,
            "members" => Route::Members,
            "tasks" => Route::Tasks,
            "leads" => Route::Leads,
            "complaints" => Route::Complaints,
            "top-up-requests" => Route::TopUpRequests,
            "reports" => Route::Reports,
            p => match (p.split('/').next(), detail_id(p)) {
                (Some("customers"), Some(_)) => Route::CustomerDetail,
                (Some("members"), Some(_)) => Route::MemberDetail,
                (Some("checkout"), Some(_)) => Route::Checkout,
                (Some("receipts"), Some(_)) => Route::ReceiptView,
                _ => Route::NotFound,
            },
        }
    }

    pub fn hash(self) -> &'static str {
        match self {
            Route::Home | Route::NotFound => "#/",
            Route::Stores => "#/stores",
            Route::Staff => "#/staff",
            Route::Audit => "#/audit",
            Route::Customers | Route::CustomerDetail => "#/customers",
            Route::Tasks => "#/tasks",
            Route::Leads => "#/leads",
            Route::Complaints => "#/complaints",
            Route::TopUpRequests => "#/top-up-requests",
            Route::Reports => "#/reports",
            Route::Members | Route::MemberDetail | Route::Checkout | Route::ReceiptView => {
                "#/members"
            }
        }
    }

    pub fn label(self) -> Key {
        match self {
            Route::Home | Route::NotFound => Key::NavHome,
            Route::Stores => Key::NavStores,
            Route::Staff => Key::NavStaff,
            Route::Audit => Key::NavAudit,
            Route::Customers | Route::CustomerDetail => Key::NavCustomers,
            Route::Tasks => Key::NavTasks,
            Route::Leads => Key::NavLeads,
            Route::Complaints => Key::NavComplaints,
            Route::TopUpRequests => Key::NavTopUpRequests,
            Route::Reports => Key::NavReports,
            Route::Members | Route::MemberDetail | Route::Checkout | Route::ReceiptView => {
                Key::NavMembers
            }
        }
    }

    /// The permission a user needs to see the page.
    pub fn required_permission(self) -> Option<&'static str> {
        match self {
            Route::Home | Route::NotFound => None,
            Route::Stores => Some("org.stores.read"),
            Route::Staff => Some("org.staff.read"),
            Route::Audit => Some("audit.read"),
            Route::Customers | Route::CustomerDetail => Some("customers.read"),
            Route::Members | Route::MemberDetail | Route::ReceiptView => Some("membership.read"),
            Route::Checkout => Some("membership.checkout"),
            Route::TopUpRequests => Some("membership.topup"),
            Route::Tasks | Route::Complaints => Some("crm.care"),
            Route::Leads => Some("crm.leads"),
            Route::Reports => Some("reports.read"),
        }
    }

    pub fn allowed(self, permissions: &[String]) -> bool {
        self.required_permission()
            .is_none_or(|needed| permissions.iter().any(|p| p == needed))
    }
}

/// The id in `#/customers/<id>`, `#/members/<id>` or `#/checkout/<id>`.
pub fn detail_id(hash: &str) -> Option<String> {
    let path = hash.trim_start_matches('#');
    let path = path.split('?').next().unwrap_or_default().trim_matches('/');
    let (section, id) = path.split_once('/')?;
    (["customers", "members", "checkout", "receipts"].contains(&section)
        && !id.is_empty()
        && !id.contains('/'))
    .then(|| id.to_string())
}

pub fn member_hash(id: &str) -> String {
    format!("#/members/{id}")
}

pub fn checkout_hash(card_id: &str) -> String {
    format!("#/checkout/{card_id}")
}

pub fn receipt_hash(checkout_id: &str) -> String {
    format!("#/receipts/{checkout_id}")
}

/// The hash of one customer's page.
pub fn customer_hash(id: &str) -> String {
    format!("#/customers/{id}")
}

/// The nav entry a page belongs to (a detail page lights its list).
pub fn nav_parent(route: Route) -> Route {
    match route {
        Route::CustomerDetail => Route::Customers,
        Route::MemberDetail | Route::Checkout | Route::ReceiptView => Route::Members,
        other => other,
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
        assert_eq!(Route::from_hash("#/customers/abc"), Route::CustomerDetail);
        assert_eq!(detail_id("#/customers/abc"), Some("abc".into()));
        assert_eq!(detail_id(&customer_hash("x-1")), Some("x-1".into()));
        assert_eq!(detail_id("#/customers/"), None);
        assert_eq!(Route::from_hash("#/customers/a/b"), Route::NotFound);
        assert_eq!(nav_parent(Route::CustomerDetail), Route::Customers);
    }

    #[test]
    fn a_technician_sees_neither_staff_nor_customers() {
        let tech = perms(&[
            "org.stores.read",
            "service.read",
            "service.workshop",
            "parts.read",
        ]);
        assert_eq!(nav_items(&tech), vec![Route::Home, Route::Stores]);
        assert!(!Route::Checkout.allowed(&tech));
        assert!(!Route::CustomerDetail.allowed(&tech));
        let cashier = perms(&["org.stores.read", "customers.read", "membership.read"]);
        assert_eq!(
            nav_items(&cashier),
            vec![Route::Home, Route::Members, Route::Customers, Route::Stores]
        );
        assert_eq!(Route::from_hash(&member_hash("m1")), Route::MemberDetail);
        assert_eq!(Route::from_hash(&checkout_hash("c1")), Route::Checkout);
        assert_eq!(Route::from_hash(&receipt_hash("r1")), Route::ReceiptView);
        assert_eq!(detail_id(&checkout_hash("c1")), Some("c1".into()));
        assert_eq!(Route::from_hash("#/other/x"), Route::NotFound);
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
            nav_items(&perms(&[
                "audit.read",
                "org.stores.read",
                "org.staff.read",
                "customers.read",
                "membership.read",
                "membership.topup",
                "crm.care",
                "crm.leads",
                "reports.read"
            ])),
            Route::NAV.to_vec()
        );
        assert_eq!(
            nav_items(&perms(&["crm.care", "customers.read"])),
            vec![
                Route::Home,
                Route::Customers,
                Route::Tasks,
                Route::Complaints
            ]
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
