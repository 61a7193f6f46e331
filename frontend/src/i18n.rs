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
