//! The store's posts and what each may do. Permissions are named `area.action`; every endpoint
//! names the one it needs, and the OpenAPI document shows it.

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn code(&self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            pub fn from_code(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

named_enum!(
    /// What an endpoint requires.
    Permission {
        StoresRead = "org.stores.read",
        StoresWrite = "org.stores.write",
        StaffRead = "org.staff.read",
        StaffWrite = "org.staff.write",
        AuditRead = "audit.read",
        CustomersRead = "customers.read",
        CustomersWrite = "customers.write",
        LeadsWork = "crm.leads",
        CareWork = "crm.care",
        MembershipRead = "membership.read",
        MembershipCards = "membership.cards",
        MembershipTopUp = "membership.topup",
        MembershipCheckout = "membership.checkout",
        MembershipVoid = "membership.void",
        MembershipOverride = "membership.override",
        MembershipConfig = "membership.config",
        SalesRead = "sales.read",
        SalesWrite = "sales.write",
        ServiceRead = "service.read",
        ServiceWrite = "service.write",
        ServiceWorkshop = "service.workshop",
        ServiceWarranty = "service.warranty",
        PartsRead = "parts.read",
        PartsWrite = "parts.write",
        FinanceRead = "finance.read",
        FinanceWrite = "finance.write",
        ReportsRead = "reports.read",
    }
);

named_enum!(
    /// A post in the store (or in the group, for a role held in every store).
    Role {
        GroupAdmin = "group_admin",
        GeneralManager = "general_manager",
        StoreManager = "store_manager",
        SalesManager = "sales_manager",
        SalesConsultant = "sales_consultant",
        ServiceManager = "service_manager",
        ServiceAdvisor = "service_advisor",
        Technician = "technician",
        WarrantyClerk = "warranty_clerk",
        PartsManager = "parts_manager",
        PartsClerk = "parts_clerk",
        Cashier = "cashier",
        Finance = "finance",
        CustomerService = "customer_service",
        KioskDevice = "kiosk_device",
    }
);

impl Role {
    pub fn label_zh(&self) -> &'static str {
        match self {
            Role::GroupAdmin => "集团管理员",
            Role::GeneralManager => "总经理",
            Role::StoreManager => "店长",
            Role::SalesManager => "销售经理",
            Role::SalesConsultant => "销售顾问",
            Role::ServiceManager => "服务经理",
            Role::ServiceAdvisor => "服务顾问",
            Role::Technician => "维修技师",
            Role::WarrantyClerk => "索赔员",
            Role::PartsManager => "配件经理",
            Role::PartsClerk => "配件员",
            Role::Cashier => "收银员",
            Role::Finance => "财务",
            Role::CustomerService => "客服专员",
            Role::KioskDevice => "自助终端",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Role::GroupAdmin => "Group admin",
            Role::GeneralManager => "General manager",
            Role::StoreManager => "Store manager",
            Role::SalesManager => "Sales manager",
            Role::SalesConsultant => "Sales consultant",
            Role::ServiceManager => "Service manager",
            Role::ServiceAdvisor => "Service advisor",
            Role::Technician => "Technician",
            Role::WarrantyClerk => "Warranty clerk",
            Role::PartsManager => "Parts manager",
            Role::PartsClerk => "Parts clerk",
            Role::Cashier => "Cashier",
            Role::Finance => "Finance",
            Role::CustomerService => "Customer service",
            Role::KioskDevice => "Card terminal",
        }
    }

    /// Roles that only make sense across the whole group; they are never tied to one store.
    pub fn is_group_only(&self) -> bool {
        matches!(self, Role::GroupAdmin)
    }

    /// The card terminal's fixed permissions in its one store; never granted to a person.
    pub fn is_device_only(&self) -> bool {
        matches!(self, Role::KioskDevice)
    }

    pub fn permissions(&self) -> &'static [Permission] {
        use Permission as P;
        match self {
            Role::GroupAdmin => Permission::ALL,
            Role::GeneralManager | Role::StoreManager => &[
                P::StoresRead,
                P::StaffRead,
                P::StaffWrite,
                P::AuditRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::LeadsWork,
                P::CareWork,
                P::MembershipRead,
                P::MembershipCards,
                P::MembershipTopUp,
                P::MembershipCheckout,
                P::MembershipVoid,
                P::MembershipOverride,
                P::MembershipConfig,
                P::SalesRead,
                P::SalesWrite,
                P::ServiceRead,
                P::ServiceWrite,
                P::PartsRead,
                P::FinanceRead,
                P::ReportsRead,
            ],
            Role::SalesManager => &[
                P::StoresRead,
                P::StaffRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::LeadsWork,
                P::MembershipRead,
                P::SalesRead,
                P::SalesWrite,
                P::ReportsRead,
            ],
            Role::SalesConsultant => &[
                P::StoresRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::LeadsWork,
                P::MembershipRead,
                P::SalesRead,
                P::SalesWrite,
            ],
            Role::ServiceManager => &[
                P::StoresRead,
                P::StaffRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::CareWork,
                P::MembershipRead,
                P::MembershipCheckout,
                P::MembershipVoid,
                P::ServiceRead,
                P::ServiceWrite,
                P::ServiceWorkshop,
                P::ServiceWarranty,
                P::PartsRead,
                P::ReportsRead,
            ],
            Role::ServiceAdvisor => &[
                P::StoresRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::MembershipRead,
                P::MembershipCheckout,
                P::ServiceRead,
                P::ServiceWrite,
                P::PartsRead,
            ],
            Role::Technician => &[
                P::StoresRead,
                P::ServiceRead,
                P::ServiceWorkshop,
                P::PartsRead,
            ],
            Role::WarrantyClerk => &[
                P::StoresRead,
                P::ServiceRead,
                P::ServiceWarranty,
                P::PartsRead,
            ],
            Role::PartsManager => &[
                P::StoresRead,
                P::StaffRead,
                P::PartsRead,
                P::PartsWrite,
                P::ReportsRead,
            ],
            Role::PartsClerk => &[P::StoresRead, P::PartsRead, P::PartsWrite],
            Role::Cashier => &[
                P::StoresRead,
                P::CustomersRead,
                P::MembershipRead,
                P::MembershipCards,
                P::MembershipTopUp,
                P::MembershipCheckout,
                P::FinanceRead,
            ],
            Role::Finance => &[
                P::StoresRead,
                P::AuditRead,
                P::MembershipRead,
                P::FinanceRead,
                P::FinanceWrite,
                P::ReportsRead,
            ],
            Role::CustomerService => &[
                P::StoresRead,
                P::CustomersRead,
                P::CustomersWrite,
                P::CareWork,
                P::MembershipRead,
            ],
            // Which endpoints a terminal may call at all is narrowed further by the server.
            Role::KioskDevice => &[P::StoresRead, P::MembershipRead, P::MembershipCheckout],
        }
    }

    pub fn grants(&self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(*r));
        }
        for p in Permission::ALL {
            assert_eq!(Permission::from_code(p.code()), Some(*p));
        }
    }

    #[test]
    fn a_technician_does_not_see_finance_or_staff() {
        assert!(!Role::Technician.grants(Permission::FinanceRead));
        assert!(!Role::Technician.grants(Permission::StaffRead));
        assert!(Role::Technician.grants(Permission::ServiceWorkshop));
        assert!(Role::GroupAdmin.grants(Permission::StoresWrite));
        assert!(!Role::StoreManager.grants(Permission::StoresWrite));
    }

    #[test]
    fn every_role_can_see_its_store() {
        for r in Role::ALL {
            assert!(r.grants(Permission::StoresRead), "{r}");
        }
    }
}
