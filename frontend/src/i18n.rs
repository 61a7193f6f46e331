//! Every string the UI shows, one catalogue per language. Simplified Chinese is the default;
//! the choice is remembered in localStorage. Add a key to [`Key`] and the compiler points at
//! both catalogues until each has its text.

use serde::{Deserialize, Serialize};

/// localStorage key holding the chosen language code.
pub const LANG_STORAGE_KEY: &str = "dms.lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The code stored in localStorage (and used for `<html lang>`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Reads a stored code; anything unknown falls back to Chinese.
    pub fn from_code(code: &str) -> Lang {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The other language (for the toggle button).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Every UI string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AppName,
    AppTagline,
    LoginTitle,
    Username,
    Password,
    SignIn,
    SigningIn,
    FieldRequired,
    FieldLength,
    FieldInvalid,
    InvalidCredentials,
    TooManyAttempts,
    NetworkError,
    ServerError,
    SessionExpired,
    AccessDenied,
    NotFound,
    Unavailable,
    StaffOnly,
    Loading,
    Retry,
    /// Label of the language toggle: the name of the *other* language.
    SwitchLanguage,
    SwitchLanguageTitle,
    Logout,
    LoggingOut,
    GroupWide,
    CurrentUser,
    NavHome,
    NavStores,
    NavStaff,
    NavAudit,
    MainNav,
    Welcome,
    MyRoles,
    MyPermissions,
    MyStores,
    Role,
    Store,
    AllStores,
    UnknownStore,
    NoRoles,
    NoPermissions,
    NoStores,
    StoreInactive,
    ComingSoon,
    ComingSoonBody,
    NoAccessBody,
    PageNotFoundBody,
    BackHome,
    FieldTaken,
    PasswordTooShort,
    PhoneInvalid,
    RolesRequired,
    NavCustomers,
    StoreSwitcher,
    AllStoresOption,
    Save,
    Saving,
    Cancel,
    Working,
    Edit,
    LoadMore,
    NoData,
    NoMatches,
    Actions,
    Status,
    StatusActive,
    StatusDisabled,
    Phone,
    Address,
    CreatedAt,
    UpdatedAt,
    Saved,
    ShowingStore,
    NewStore,
    EditStore,
    StoreCode,
    StoreCodeHint,
    StoreName,
    StoreOpen,
    StoreActiveLabel,
    DeactivateStoreTitle,
    DeactivateStoreBody,
    Deactivate,
    StoreCreated,
    NewStaff,
    DisplayName,
    UsernameHint,
    InitialPassword,
    PasswordHint,
    Roles,
    AddRole,
    Remove,
    ChangeRoles,
    ChangeRolesOf,
    ResetPassword,
    ResetPasswordOf,
    NewPassword,
    Disable,
    Enable,
    DisableTitle,
    DisableBody,
    ResetTitle,
    ResetBody,
    RolesTitle,
    RolesBody,
    StaffCreated,
    RolesSaved,
    PasswordWasReset,
    StaffDisabled,
    StaffEnabled,
    GroupWideRole,
    YouLabel,
    Time,
    Actor,
    Action,
    Entity,
    EntityId,
    ActorId,
    Detail,
    Filter,
    ClearFilter,
    AnyEntity,
    NewCustomer,
    CustomerName,
    Mobile,
    HomeStore,
    SelectStore,
    CustomerDetail,
    CustomerCreated,
    BackToList,
    View,
    RecordId,
    Create,
}

/// Looks a string up in the catalogue of `lang`.
pub fn t(lang: Lang, key: Key) -> &'static str {
    match lang {
        Lang::Zh => zh(key),
        Lang::En => en(key),
    }
}

fn zh(key: Key) -> &'static str {
    match key {
        Key::AppName => "4S 经销商管理系统",
        Key::AppTagline => "员工工作台",
        Key::LoginTitle => "员工登录",
        Key::Username => "用户名",
        Key::Password => "密码",
        Key::SignIn => "登录",
        Key::SigningIn => "正在登录…",
        Key::FieldRequired => "必填",
        Key::FieldLength => "长度不符合要求",
        Key::FieldInvalid => "格式不正确",
        Key::InvalidCredentials => "用户名或密码错误，或账号已停用。",
        Key::TooManyAttempts => "尝试次数过多，请稍后再试。",
        Key::NetworkError => "无法连接服务器，请检查网络后重试。",
        Key::ServerError => "服务器出错，请稍后再试。",
        Key::SessionExpired => "登录已过期，请重新登录。",
        Key::AccessDenied => "没有权限执行此操作。",
        Key::NotFound => "请求的内容不存在。",
        Key::Unavailable => "服务暂不可用，请稍后再试。",
        Key::StaffOnly => "本系统仅供员工使用。",
        Key::Loading => "加载中…",
        Key::Retry => "重试",
        Key::SwitchLanguage => "English",
        Key::SwitchLanguageTitle => "切换界面语言",
        Key::Logout => "退出登录",
        Key::LoggingOut => "正在退出…",
        Key::GroupWide => "全集团",
        Key::CurrentUser => "当前用户",
        Key::NavHome => "首页",
        Key::NavStores => "门店",
        Key::NavStaff => "员工",
        Key::NavAudit => "审计日志",
        Key::MainNav => "主导航",
        Key::Welcome => "欢迎，",
        Key::MyRoles => "我的角色",
        Key::MyPermissions => "我的权限",
        Key::MyStores => "我的门店",
        Key::Role => "角色",
        Key::Store => "门店",
        Key::AllStores => "全部门店（集团）",
        Key::UnknownStore => "未知门店",
        Key::NoRoles => "暂无角色。",
        Key::NoPermissions => "暂无权限。",
        Key::NoStores => "暂无门店。",
        Key::StoreInactive => "已停用",
        Key::ComingSoon => "即将推出",
        Key::ComingSoonBody => "此功能正在开发中，敬请期待。",
        Key::NoAccessBody => "您没有访问此页面的权限。",
        Key::PageNotFoundBody => "页面不存在。",
        Key::BackHome => "返回首页",
        Key::FieldTaken => "已被占用",
        Key::PasswordTooShort => "至少 8 个字符",
        Key::PhoneInvalid => "请输入 11 位手机号",
        Key::RolesRequired => "至少分配一个角色",
        Key::NavCustomers => "客户",
        Key::StoreSwitcher => "当前门店",
        Key::AllStoresOption => "全部门店",
        Key::Save => "保存",
        Key::Saving => "正在保存…",
        Key::Cancel => "取消",
        Key::Working => "处理中…",
        Key::Edit => "编辑",
        Key::LoadMore => "加载更多",
        Key::NoData => "暂无数据。",
        Key::NoMatches => "没有符合条件的记录。",
        Key::Actions => "操作",
        Key::Status => "状态",
        Key::StatusActive => "正常",
        Key::StatusDisabled => "已停用",
        Key::Phone => "电话",
        Key::Address => "地址",
        Key::CreatedAt => "创建时间",
        Key::UpdatedAt => "更新时间",
        Key::Saved => "已保存。",
        Key::ShowingStore => "仅显示所选门店的记录：",
        Key::NewStore => "新建门店",
        Key::EditStore => "编辑门店",
        Key::StoreCode => "门店编码",
        Key::StoreCodeHint => "2–16 位字母、数字或连字符，创建后不可修改",
        Key::StoreName => "门店名称",
        Key::StoreOpen => "营业中",
        Key::StoreActiveLabel => "门店营业中（取消勾选即停用）",
        Key::DeactivateStoreTitle => "停用门店？",
        Key::DeactivateStoreBody => "停用后该门店将不再出现在日常业务中。确定停用「{name}」吗？",
        Key::Deactivate => "停用",
        Key::StoreCreated => "门店已创建。",
        Key::NewStaff => "新建员工",
        Key::DisplayName => "姓名",
        Key::UsernameHint => "3–32 位字母、数字、点、下划线或连字符",
        Key::InitialPassword => "初始密码",
        Key::PasswordHint => "至少 8 个字符",
        Key::Roles => "角色",
        Key::AddRole => "添加角色",
        Key::Remove => "移除",
        Key::ChangeRoles => "修改角色",
        Key::ChangeRolesOf => "修改角色：",
        Key::ResetPassword => "重置密码",
        Key::ResetPasswordOf => "重置密码：",
        Key::NewPassword => "新密码",
        Key::Disable => "停用",
        Key::Enable => "启用",
        Key::DisableTitle => "停用员工？",
        Key::DisableBody => "「{name}」将无法登录，其所有会话立即结束。记录会保留在审计日志中。",
        Key::ResetTitle => "重置密码？",
        Key::ResetBody => "「{name}」的所有会话将立即结束，需用新密码重新登录。",
        Key::RolesTitle => "修改角色？",
        Key::RolesBody => "「{name}」的会话将立即结束，新角色在重新登录后生效。",
        Key::StaffCreated => "员工已创建：",
        Key::RolesSaved => "角色已更新。",
        Key::PasswordWasReset => "密码已重置。",
        Key::StaffDisabled => "员工已停用。",
        Key::StaffEnabled => "员工已启用。",
        Key::GroupWideRole => "全集团",
        Key::YouLabel => "（本人）",
        Key::Time => "时间",
        Key::Actor => "操作人",
        Key::Action => "操作",
        Key::Entity => "对象类型",
        Key::EntityId => "对象 ID",
        Key::ActorId => "操作人 ID",
        Key::Detail => "详情",
        Key::Filter => "筛选",
        Key::ClearFilter => "清除筛选",
        Key::AnyEntity => "全部类型",
        Key::NewCustomer => "新建客户",
        Key::CustomerName => "客户姓名",
        Key::Mobile => "手机号",
        Key::HomeStore => "归属门店",
        Key::SelectStore => "请选择门店",
        Key::CustomerDetail => "客户详情",
        Key::CustomerCreated => "客户已创建。",
        Key::BackToList => "返回列表",
        Key::View => "查看",
        Key::RecordId => "编号",
        Key::Create => "创建",
    }
}

fn en(key: Key) -> &'static str {
    match key {
        Key::AppName => "4S Dealership Management",
        Key::AppTagline => "Staff workspace",
        Key::LoginTitle => "Staff sign-in",
        Key::Username => "Username",
        Key::Password => "Password",
        Key::SignIn => "Sign in",
        Key::SigningIn => "Signing in…",
        Key::FieldRequired => "Required",
        Key::FieldLength => "Wrong length",
        Key::FieldInvalid => "Invalid value",
        Key::InvalidCredentials => "Wrong username or password, or the account is disabled.",
        Key::TooManyAttempts => "Too many attempts. Please try again later.",
        Key::NetworkError => "Cannot reach the server. Check the network and try again.",
        Key::ServerError => "The server had a problem. Please try again later.",
        Key::SessionExpired => "Your session has expired. Please sign in again.",
        Key::AccessDenied => "You are not allowed to do this.",
        Key::NotFound => "Not found.",
        Key::Unavailable => "The service is unavailable. Please try again later.",
        Key::StaffOnly => "This app is for staff only.",
        Key::Loading => "Loading…",
        Key::Retry => "Retry",
        Key::SwitchLanguage => "中文",
        Key::SwitchLanguageTitle => "Switch language",
        Key::Logout => "Sign out",
        Key::LoggingOut => "Signing out…",
        Key::GroupWide => "Group-wide",
        Key::CurrentUser => "Signed in as",
        Key::NavHome => "Home",
        Key::NavStores => "Stores",
        Key::NavStaff => "Staff",
        Key::NavAudit => "Audit log",
        Key::MainNav => "Main navigation",
        Key::Welcome => "Welcome, ",
        Key::MyRoles => "My roles",
        Key::MyPermissions => "My permissions",
        Key::MyStores => "My stores",
        Key::Role => "Role",
        Key::Store => "Store",
        Key::AllStores => "All stores (group)",
        Key::UnknownStore => "Unknown store",
        Key::NoRoles => "No roles yet.",
        Key::NoPermissions => "No permissions yet.",
        Key::NoStores => "No stores.",
        Key::StoreInactive => "inactive",
        Key::ComingSoon => "Coming soon",
        Key::ComingSoonBody => "This page is being built.",
        Key::NoAccessBody => "You do not have access to this page.",
        Key::PageNotFoundBody => "No such page.",
        Key::BackHome => "Back to home",
        Key::FieldTaken => "Already in use",
        Key::PasswordTooShort => "At least 8 characters",
        Key::PhoneInvalid => "Enter an 11-digit mobile number",
        Key::RolesRequired => "Give at least one role",
        Key::NavCustomers => "Customers",
        Key::StoreSwitcher => "Current store",
        Key::AllStoresOption => "All stores",
        Key::Save => "Save",
        Key::Saving => "Saving…",
        Key::Cancel => "Cancel",
        Key::Working => "Working…",
        Key::Edit => "Edit",
        Key::LoadMore => "Load more",
        Key::NoData => "Nothing here yet.",
        Key::NoMatches => "No matching records.",
        Key::Actions => "Actions",
        Key::Status => "Status",
        Key::StatusActive => "Active",
        Key::StatusDisabled => "Disabled",
        Key::Phone => "Phone",
        Key::Address => "Address",
        Key::CreatedAt => "Created",
        Key::UpdatedAt => "Updated",
        Key::Saved => "Saved.",
        Key::ShowingStore => "Showing records of the selected store only: ",
        Key::NewStore => "New store",
        Key::EditStore => "Edit store",
        Key::StoreCode => "Store code",
        Key::StoreCodeHint => "2–16 letters, digits or '-'; cannot be changed later",
        Key::StoreName => "Store name",
        Key::StoreOpen => "Open",
        Key::StoreActiveLabel => "Store is open (untick to deactivate)",
        Key::DeactivateStoreTitle => "Deactivate the store?",
        Key::DeactivateStoreBody => "The store will no longer be used for daily work. Deactivate \"{name}\"?",
        Key::Deactivate => "Deactivate",
        Key::StoreCreated => "Store created.",
        Key::NewStaff => "New staff member",
        Key::DisplayName => "Name",
        Key::UsernameHint => "3–32 letters, digits, '.', '_' or '-'",
        Key::InitialPassword => "Initial password",
        Key::PasswordHint => "At least 8 characters",
        Key::Roles => "Roles",
        Key::AddRole => "Add role",
        Key::Remove => "Remove",
        Key::ChangeRoles => "Change roles",
        Key::ChangeRolesOf => "Change roles: ",
        Key::ResetPassword => "Reset password",
        Key::ResetPasswordOf => "Reset password: ",
        Key::NewPassword => "New password",
        Key::Disable => "Disable",
        Key::Enable => "Enable",
        Key::DisableTitle => "Disable this user?",
        Key::DisableBody => "\"{name}\" will no longer be able to sign in and every session ends at once. The record stays for the audit log.",
        Key::ResetTitle => "Reset the password?",
        Key::ResetBody => "Every session of \"{name}\" ends at once; they must sign in with the new password.",
        Key::RolesTitle => "Change the roles?",
        Key::RolesBody => "The sessions of \"{name}\" end at once; the new roles apply when they sign in again.",
        Key::StaffCreated => "Staff member created: ",
        Key::RolesSaved => "Roles updated.",
        Key::PasswordWasReset => "Password reset.",
        Key::StaffDisabled => "User disabled.",
        Key::StaffEnabled => "User enabled.",
        Key::GroupWideRole => "Group-wide",
        Key::YouLabel => "(you)",
        Key::Time => "Time",
        Key::Actor => "Actor",
        Key::Action => "Action",
        Key::Entity => "Entity",
        Key::EntityId => "Entity ID",
        Key::ActorId => "Actor ID",
        Key::Detail => "Detail",
        Key::Filter => "Filter",
        Key::ClearFilter => "Clear",
        Key::AnyEntity => "Any type",
        Key::NewCustomer => "New customer",
        Key::CustomerName => "Customer name",
        Key::Mobile => "Mobile",
        Key::HomeStore => "Home store",
        Key::SelectStore => "Choose a store",
        Key::CustomerDetail => "Customer",
        Key::CustomerCreated => "Customer created.",
        Key::BackToList => "Back to the list",
        Key::View => "View",
        Key::RecordId => "ID",
        Key::Create => "Create",
    }
}

/// The name of a permission code in `lang`; `None` for a code this build does not know (the
/// UI then shows the bare code).
pub fn permission_label(lang: Lang, code: &str) -> Option<&'static str> {
    let (zh, en) = match code {
        "org.stores.read" => ("查看门店", "View stores"),
        "org.stores.write" => ("管理门店", "Manage stores"),
        "org.staff.read" => ("查看员工", "View staff"),
        "org.staff.write" => ("管理员工", "Manage staff"),
        "audit.read" => ("查看审计日志", "View audit log"),
        "customers.read" => ("查看客户", "View customers"),
        "customers.write" => ("管理客户", "Manage customers"),
        "crm.leads" => ("销售线索", "Sales leads"),
        "crm.care" => ("客户关怀", "Customer care"),
        "membership.read" => ("查看会员", "View memberships"),
        "membership.cards" => ("会员卡管理", "Membership cards"),
        "membership.topup" => ("会员充值", "Membership top-up"),
        "membership.checkout" => ("会员消费结算", "Membership checkout"),
        "membership.void" => ("撤销会员交易", "Void membership transactions"),
        "membership.override" => ("会员规则豁免", "Membership overrides"),
        "membership.config" => ("会员规则配置", "Membership settings"),
        "sales.read" => ("查看整车销售", "View vehicle sales"),
        "sales.write" => ("整车销售", "Vehicle sales"),
        "service.read" => ("查看售后服务", "View service"),
        "service.write" => ("售后接待", "Service reception"),
        "service.workshop" => ("车间作业", "Workshop"),
        "service.warranty" => ("保修索赔", "Warranty claims"),
        "parts.read" => ("查看配件", "View parts"),
        "parts.write" => ("配件管理", "Manage parts"),
        "finance.read" => ("查看财务", "View finance"),
        "finance.write" => ("财务处理", "Finance"),
        "reports.read" => ("查看报表", "View reports"),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KEYS: &[Key] = &[
        Key::AppName,
        Key::LoginTitle,
        Key::Username,
        Key::Password,
        Key::SignIn,
        Key::TooManyAttempts,
        Key::SessionExpired,
        Key::NavStores,
        Key::NavStaff,
        Key::NavAudit,
        Key::ComingSoon,
    ];

    #[test]
    fn chinese_is_the_default() {
        assert_eq!(Lang::default(), Lang::Zh);
        assert_eq!(Lang::from_code(""), Lang::Zh);
        assert_eq!(Lang::from_code("fr"), Lang::Zh);
    }

    #[test]
    fn codes_round_trip() {
        for lang in [Lang::Zh, Lang::En] {
            assert_eq!(Lang::from_code(lang.code()), lang);
            assert_eq!(lang.other().other(), lang);
        }
        assert_eq!(Lang::from_code("EN"), Lang::En);
    }

    #[test]
    fn lookups_differ_per_language_and_are_not_empty() {
        for &key in ALL_KEYS {
            let zh = t(Lang::Zh, key);
            let en = t(Lang::En, key);
            assert!(!zh.is_empty() && !en.is_empty(), "{key:?}");
            assert_ne!(zh, en, "{key:?} is not translated");
        }
        assert_eq!(t(Lang::Zh, Key::NavStores), "门店");
        assert_eq!(t(Lang::En, Key::NavStores), "Stores");
    }

    #[test]
    fn toggle_is_labelled_with_the_other_language() {
        assert_eq!(t(Lang::Zh, Key::SwitchLanguage), "English");
        assert_eq!(t(Lang::En, Key::SwitchLanguage), "中文");
    }

    #[test]
    fn permission_labels() {
        assert_eq!(
            permission_label(Lang::Zh, "audit.read"),
            Some("查看审计日志")
        );
        assert_eq!(
            permission_label(Lang::En, "audit.read"),
            Some("View audit log")
        );
        assert_eq!(permission_label(Lang::En, "no.such"), None);
    }
}
