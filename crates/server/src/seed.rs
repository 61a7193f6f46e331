//! Demo data: the 华通汽车集团 with two stores, a user for every role in each store, a group
//! admin, and customers with believable names and numbers. Every demo user's password is
//! [`DEMO_PASSWORD`].

use dms_db::DbConnection;
use dms_identity::{Actor, IdentityError, NewCustomer, NewStaff, NewStore, Role, RoleGrant};

pub const DEMO_PASSWORD: &str = "Demo@2026";

const STORE_ROLES: &[(Role, &str)] = &[
    (Role::GeneralManager, "gm"),
    (Role::StoreManager, "manager"),
    (Role::SalesManager, "salesmgr"),
    (Role::SalesConsultant, "sales"),
    (Role::ServiceManager, "servicemgr"),
    (Role::ServiceAdvisor, "advisor"),
    (Role::Technician, "tech"),
    (Role::WarrantyClerk, "warranty"),
    (Role::PartsManager, "partsmgr"),
    (Role::PartsClerk, "parts"),
    (Role::Cashier, "cashier"),
    (Role::Finance, "finance"),
    (Role::CustomerService, "cs"),
];

const STAFF_NAMES: &[&str] = &[
    "张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏", "徐强", "孙悦",
    "马超", "胡军", "郭琳", "何涛", "高洁", "林峰", "罗霞", "郑凯", "梁颖", "谢斌", "宋佳", "唐亮",
    "许倩", "韩冰",
];

const CUSTOMERS: &[(&str, &str)] = &[
    ("王建国", "13801012345"),
    ("李秀英", "13911023456"),
    ("张国强", "13621034567"),
    ("刘海燕", "15001045678"),
    ("陈志明", "15811056789"),
    ("杨丽华", "18601067890"),
    ("赵振华", "13701078901"),
    ("孙晓梅", "18911089012"),
    ("周立新", "13501090123"),
    ("吴春燕", "15210101234"),
    ("北京顺达物流有限公司", "13301112345"),
    ("郑文博", "17701123456"),
];

/// Whether the database already has users (then demo data is not loaded).
pub fn has_users(conn: &mut DbConnection) -> Result<bool, IdentityError> {
    use diesel::prelude::*;
    use dms_db::schema::staff_users;
    let n: i64 = staff_users::table.count().get_result(conn)?;
    Ok(n > 0)
}

pub struct SeedSummary {
    pub stores: usize,
    pub users: usize,
    pub customers: usize,
    /// What the domains added (member club, CRM), one line each.
    pub domains: Vec<String>,
}

/// What the base demo created, for the domains' demo data to build on.
pub struct DemoOrg {
    /// (store code, store id), e.g. ("HT01", "0192…").
    pub stores: Vec<(String, String)>,
    /// (customer id, home store id, name, phone).
    pub customers: Vec<(String, String, String, String)>,
    /// (username, user id).
    pub staff: Vec<(String, String)>,
}

/// Why demo data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{0}")]
    Domain(String),
}

pub fn seed_demo(conn: &mut DbConnection) -> Result<SeedSummary, SeedError> {
    let actor = Actor::system("seed-demo");
    dms_identity::ensure_group(conn, "华通汽车集团")?;
    let stores = [
        (
            "HT01",
            "华通丰田4S店（朝阳）",
            "北京市朝阳区东四环中路88号",
            "010-85551234",
        ),
        (
            "HT02",
            "华通丰田4S店（海淀）",
            "北京市海淀区北四环西路66号",
            "010-62225678",
        ),
    ];
    let mut store_ids = vec![];
    for (code, name, address, phone) in stores {
        let s = dms_identity::create_store(
            conn,
            &actor,
            &NewStore {
                code: code.into(),
                name: name.into(),
                address: address.into(),
                phone: phone.into(),
            },
        )?;
        store_ids.push((code.to_lowercase(), s.id));
    }
    let mut users = 0;
    let mut staff = vec![];
    let (admin, _) = dms_identity::create_staff(
        conn,
        &actor,
        None,
        &NewStaff {
            username: "admin".into(),
            display_name: "系统管理员".into(),
            password: DEMO_PASSWORD.into(),
            grants: vec![RoleGrant {
                role: Role::GroupAdmin,
                store_id: None,
            }],
        },
    )?;
    staff.push((admin.username, admin.id));
    users += 1;
    let mut names = STAFF_NAMES.iter().cycle();
    for (code, store_id) in &store_ids {
        for (role, short) in STORE_ROLES {
            let name = names.next().copied().unwrap_or("员工");
            let (u, _) = dms_identity::create_staff(
                conn,
                &actor,
                None,
                &NewStaff {
                    username: format!("{code}.{short}"),
                    display_name: format!("{name}（{}）", role.label_zh()),
                    password: DEMO_PASSWORD.into(),
                    grants: vec![RoleGrant {
                        role: *role,
                        store_id: Some(store_id.clone()),
                    }],
                },
            )?;
            staff.push((u.username, u.id));
            users += 1;
        }
    }
    let mut customers = vec![];
    for (i, (name, phone)) in CUSTOMERS.iter().enumerate() {
        let store = &store_ids[i % store_ids.len()].1;
        let c = dms_identity::create_customer(
            conn,
            &actor,
            &dms_core::StoreScope::AllStores,
            &NewCustomer {
                store_id: store.clone(),
                name: (*name).into(),
                phone: (*phone).into(),
            },
        )?;
        customers.push((c.id, c.store_id, c.name, c.phone));
    }
    let demo = DemoOrg {
        stores: store_ids
            .into_iter()
            .map(|(code, id)| (code.to_uppercase(), id))
            .collect(),
        customers,
        staff,
    };
    let domains = [
        crate::membership::seed_demo(conn, &demo),
        crate::crm::seed_demo(conn, &demo),
    ]
    .into_iter()
    .filter(|r| !matches!(r, Ok(line) if line.is_empty()))
    .collect::<Result<Vec<_>, _>>()
    .map_err(SeedError::Domain)?;
    Ok(SeedSummary {
        stores: demo.stores.len(),
        users,
        customers: demo.customers.len(),
        domains,
    })
}
