use crate::password::{check_password_rules, dummy_hash};
use crate::{
    hash_password, record_audit, revoke_principal_sessions, verify_password, Actor, IdentityError,
    NewAudit, PasswordCheck, Permission, PrincipalKind, Result, Role,
};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::{staff_roles, staff_users, stores};
use dms_db::{to_db_time, DbConnection};
use serde_json::json;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffStatus {
    Active,
    Disabled,
    Deleted,
}

impl StaffStatus {
    pub fn code(&self) -> &'static str {
        match self {
            StaffStatus::Active => "active",
            StaffStatus::Disabled => "disabled",
            StaffStatus::Deleted => "deleted",
        }
    }

    pub fn from_code(s: &str) -> Option<StaffStatus> {
        match s {
            "active" => Some(StaffStatus::Active),
            "disabled" => Some(StaffStatus::Disabled),
            "deleted" => Some(StaffStatus::Deleted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff_users)]
pub struct StaffUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub status: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleGrant {
    pub role: Role,
    /// `None`: the role holds in every store of the group.
    pub store_id: Option<String>,
}

/// A logged-in staff user with the roles they hold, which answer every permission question.
#[derive(Debug, Clone)]
pub struct StaffPrincipal {
    pub user: StaffUser,
    pub grants: Vec<RoleGrant>,
}

impl StaffPrincipal {
    /// The stores in which the user holds `p`.
    pub fn scope(&self, p: Permission) -> StoreScope {
        let mut stores = BTreeSet::new();
        for g in self.grants.iter().filter(|g| g.role.grants(p)) {
            match &g.store_id {
                None => return StoreScope::AllStores,
                Some(s) => {
                    stores.insert(s.clone());
                }
            }
        }
        StoreScope::Stores(stores.into_iter().collect())
    }

    pub fn holds(&self, p: Permission) -> bool {
        !self.scope(p).is_empty()
    }

    /// Every permission the user holds somewhere.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.grants
            .iter()
            .flat_map(|g| g.role.permissions().iter().copied())
            .collect()
    }

    fn holds_in(&self, p: Permission, store: Option<&str>) -> bool {
        match (self.scope(p), store) {
            (StoreScope::AllStores, _) => true,
            (StoreScope::Stores(s), Some(store)) => s.iter().any(|x| x == store),
            (StoreScope::Stores(_), None) => false,
        }
    }

    pub fn actor(&self, request_id: Option<String>) -> Actor {
        Actor {
            kind: "staff",
            id: Some(self.user.id.clone()),
            name: self.user.username.clone(),
            request_id,
        }
    }
}

pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub grants: Vec<RoleGrant>,
}

#[derive(Default)]
pub struct StaffUpdate {
    pub display_name: Option<String>,
    pub status: Option<StaffStatus>,
}

fn load_grants(conn: &mut DbConnection, user_id: &str) -> Result<Vec<RoleGrant>> {
    let rows: Vec<(String, Option<String>)> = staff_roles::table
        .filter(staff_roles::user_id.eq(user_id))
        .select((staff_roles::role, staff_roles::store_id))
        .load(conn)?;
    let mut grants: Vec<RoleGrant> = rows
        .into_iter()
        // A role code this build does not know grants nothing.
        .filter_map(|(r, s)| Role::from_code(&r).map(|role| RoleGrant { role, store_id: s }))
        .collect();
    grants.sort();
    Ok(grants)
}

fn find_user(conn: &mut DbConnection, id: &str) -> Result<Option<StaffUser>> {
    Ok(staff_users::table
        .find(id)
        .filter(staff_users::status.ne(StaffStatus::Deleted.code()))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()?)
}

/// The principal behind a token, or `None` when the user is gone or no longer active.
pub fn load_staff_principal(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<StaffPrincipal>> {
    let Some(user) = find_user(conn, user_id)? else {
        return Ok(None);
    };
    if user.status != StaffStatus::Active.code() {
        return Ok(None);
    }
    let grants = load_grants(conn, user_id)?;
    Ok(Some(StaffPrincipal { user, grants }))
}

/// (role, store) as stored.
type GrantRow = (String, Option<String>);

/// The principal behind a staff access token in one round trip: the user, active, with a live
/// session family `family_id`, and their grants. `None` when the session ended or the user is
/// gone or inactive. Every authenticated request asks this, so it is one query, not three.
pub fn load_live_staff_principal(
    conn: &mut DbConnection,
    user_id: &str,
    family_id: &str,
) -> Result<Option<StaffPrincipal>> {
    use dms_db::schema::refresh_tokens;
    let live = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::principal_kind.eq(crate::PrincipalKind::Staff.code()))
        .filter(refresh_tokens::principal_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null());
    let rows: Vec<(StaffUser, Option<GrantRow>)> = staff_users::table
        .left_join(staff_roles::table)
        .filter(staff_users::id.eq(user_id))
        .filter(staff_users::status.eq(StaffStatus::Active.code()))
        .filter(diesel::dsl::exists(live))
        .select((
            StaffUser::as_select(),
            (staff_roles::role, staff_roles::store_id).nullable(),
        ))
        .load(conn)?;
    let Some(user) = rows.first().map(|(u, _)| u.clone()) else {
        return Ok(None);
    };
    let mut grants: Vec<RoleGrant> = rows
        .into_iter()
        .filter_map(|(_, g)| g)
        // A role code this build does not know grants nothing.
        .filter_map(|(r, s)| Role::from_code(&r).map(|role| RoleGrant { role, store_id: s }))
        .collect();
    grants.sort();
    Ok(Some(StaffPrincipal { user, grants }))
}

/// Checks a username and password. Unknown users, wrong passwords and inactive accounts all
/// read as the same error and take the same time.
pub fn authenticate_staff(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
) -> Result<StaffPrincipal> {
    let row: Option<(String, String, String)> = staff_users::table
        .filter(staff_users::username.eq(username))
        .select((
            staff_users::id,
            staff_users::password_hash,
            staff_users::status,
        ))
        .first(conn)
        .optional()?;
    let Some((id, hash, status)) = row else {
        let _ = verify_password(password, dummy_hash());
        return Err(IdentityError::InvalidCredentials);
    };
    if verify_password(password, &hash) != PasswordCheck::Match
        || status != StaffStatus::Active.code()
    {
        return Err(IdentityError::InvalidCredentials);
    }
    load_staff_principal(conn, &id)?.ok_or(IdentityError::InvalidCredentials)
}

/// A user is visible to a caller who may read staff in at least one store where the user holds
/// a role (group-wide readers see everyone).
fn visible(scope: &StoreScope, grants: &[RoleGrant]) -> bool {
    match scope {
        StoreScope::AllStores => true,
        StoreScope::Stores(_) => grants
            .iter()
            .any(|g| g.store_id.as_deref().is_some_and(|s| scope.allows(s))),
    }
}

fn check_username(username: &str) -> Result<()> {
    let ok = (3..=32).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            "username",
            "3-32 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

/// Refuses grants the caller could not hold themselves: a store manager cannot create a group
/// admin, nor give a role in a store they do not manage, nor a role with permissions they lack.
fn check_grants(
    conn: &mut DbConnection,
    caller: Option<&StaffPrincipal>,
    grants: &[RoleGrant],
) -> Result<()> {
    for g in grants {
        if g.role.is_device_only() {
            return Err(IdentityError::invalid(
                "roles",
                format!("{} belongs to card terminals, not to staff", g.role),
            ));
        }
        if g.role.is_group_only() && g.store_id.is_some() {
            return Err(IdentityError::invalid(
                "roles",
                format!("{} is held group-wide; omit store", g.role),
            ));
        }
        if let Some(store) = &g.store_id {
            let exists: i64 = stores::table
                .filter(stores::id.eq(store))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(IdentityError::invalid("roles", format!("no store {store}")));
            }
        }
        if let Some(caller) = caller {
            let store = g.store_id.as_deref();
            if !caller.holds_in(Permission::StaffWrite, store) {
                return Err(IdentityError::Forbidden(
                    "cannot grant roles outside your stores".into(),
                ));
            }
            if let Some(p) = g
                .role
                .permissions()
                .iter()
                .find(|p| !caller.holds_in(**p, store))
            {
                return Err(IdentityError::Forbidden(format!(
                    "cannot grant {} (it includes {p}, which you do not hold there)",
                    g.role
                )));
            }
        }
    }
    Ok(())
}

fn insert_grants(conn: &mut DbConnection, user_id: &str, grants: &[RoleGrant]) -> Result<()> {
    let now = to_db_time(chrono::Utc::now());
    let unique: BTreeSet<&RoleGrant> = grants.iter().collect();
    for g in unique {
        diesel::insert_into(staff_roles::table)
            .values((
                staff_roles::id.eq(dms_core::new_id()),
                staff_roles::user_id.eq(user_id),
                staff_roles::role.eq(g.role.code()),
                staff_roles::store_id.eq(g.store_id.as_deref()),
                staff_roles::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn grants_json(grants: &[RoleGrant]) -> serde_json::Value {
    json!(grants
        .iter()
        .map(|g| json!({"role": g.role.code(), "store_id": g.store_id}))
        .collect::<Vec<_>>())
}

/// Creates a staff user. `caller` is `None` for the command line and demo seeding.
pub fn create_staff(
    conn: &mut DbConnection,
    actor: &Actor,
    caller: Option<&StaffPrincipal>,
    new: &NewStaff,
) -> Result<(StaffUser, Vec<RoleGrant>)> {
    check_username(&new.username)?;
    check_password_rules(&new.password)?;
    if new.display_name.trim().is_empty() {
        return Err(IdentityError::invalid("display_name", "must not be empty"));
    }
    if caller.is_some() && new.grants.is_empty() {
        return Err(IdentityError::invalid(
            "roles",
            "give the user at least one role",
        ));
    }
    // Hash outside the transaction: it is slow and needs no lock.
    let hash = hash_password(&new.password)?;
    dms_db::write_tx(conn, |c| {
        check_grants(c, caller, &new.grants)?;
        let taken: i64 = staff_users::table
            .filter(staff_users::username.eq(&new.username))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(IdentityError::Conflict {
                field: "username",
                message: "username already in use".into(),
            });
        }
        let id = dms_core::new_id();
        let now = to_db_time(chrono::Utc::now());
        diesel::insert_into(staff_users::table)
            .values((
                staff_users::id.eq(&id),
                staff_users::username.eq(&new.username),
                staff_users::display_name.eq(new.display_name.trim()),
                staff_users::password_hash.eq(&hash),
                staff_users::status.eq(StaffStatus::Active.code()),
                staff_users::password_changed_at.eq(now),
                staff_users::created_at.eq(now),
                staff_users::updated_at.eq(now),
            ))
            .execute(c)?;
        insert_grants(c, &id, &new.grants)?;
        let grants = load_grants(c, &id)?;
        let store = grants.iter().find_map(|g| g.store_id.clone());
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: store.as_deref(),
                action: "staff.create",
                entity: "staff_user",
                entity_id: &id,
                detail: json!({"username": new.username, "roles": grants_json(&grants)}),
            },
        )?;
        let user = find_user(c, &id)?.ok_or(IdentityError::NotFound("staff user"))?;
        Ok((user, grants))
    })
}

pub fn get_staff(
    conn: &mut DbConnection,
    scope: &StoreScope,
    id: &str,
) -> Result<(StaffUser, Vec<RoleGrant>)> {
    let user = find_user(conn, id)?.ok_or(IdentityError::NotFound("staff user"))?;
    let grants = load_grants(conn, id)?;
    if !visible(scope, &grants) {
        return Err(IdentityError::NotFound("staff user"));
    }
    Ok((user, grants))
}

/// One page of staff with their grants, and the cursor of the next page.
pub type StaffPage = (Vec<(StaffUser, Vec<RoleGrant>)>, Option<String>);

/// Staff visible to the caller: those holding a role in one of the caller's stores.
pub fn list_staff(
    conn: &mut DbConnection,
    scope: &StoreScope,
    page: &PageRequest,
) -> Result<StaffPage> {
    let mut q = staff_users::table
        .filter(staff_users::status.ne(StaffStatus::Deleted.code()))
        .select(StaffUser::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        let members = staff_roles::table
            .filter(staff_roles::store_id.eq_any(ids.clone()))
            .select(staff_roles::user_id);
        q = q.filter(staff_users::id.eq_any(members));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(staff_users::id.gt(after_id.clone()));
    }
    let users = q
        .order(staff_users::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let (users, next) = page.finish(users, |u| &u.id);
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        let grants = load_grants(conn, &u.id)?;
        out.push((u, grants));
    }
    Ok((out, next))
}

/// Active staff who hold `p` in `store_id` (through a role there or a group-wide one), as
/// (id, display name) ordered by name: the people work in that store can be given to.
pub fn staff_holding(
    conn: &mut DbConnection,
    store_id: &str,
    p: Permission,
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String, String)> = staff_users::table
        .inner_join(staff_roles::table.on(staff_roles::user_id.eq(staff_users::id)))
        .filter(staff_users::status.eq(StaffStatus::Active.code()))
        .filter(
            staff_roles::store_id
                .eq(store_id)
                .or(staff_roles::store_id.is_null()),
        )
        .select((
            staff_users::id,
            staff_users::display_name,
            staff_roles::role,
        ))
        .load(conn)?;
    let mut people: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(_, _, role)| Role::from_code(role).is_some_and(|r| r.grants(p)))
        .map(|(id, name, _)| (id, name))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    people.dedup();
    Ok(people)
}

/// Loads a user the caller may change: visible, not the caller, and working only in stores the
/// caller manages (changing someone who also works elsewhere needs a group-wide role).
fn manageable(
    conn: &mut DbConnection,
    caller: &StaffPrincipal,
    id: &str,
) -> Result<(StaffUser, Vec<RoleGrant>)> {
    let scope = caller.scope(Permission::StaffWrite);
    let (user, grants) = get_staff(conn, &scope, id)?;
    if user.id == caller.user.id {
        return Err(IdentityError::Forbidden(
            "you cannot change your own account here".into(),
        ));
    }
    if !grants
        .iter()
        .all(|g| caller.holds_in(Permission::StaffWrite, g.store_id.as_deref()))
    {
        return Err(IdentityError::Forbidden(
            "this user also works outside your stores".into(),
        ));
    }
    Ok((user, grants))
}

pub fn update_staff(
    conn: &mut DbConnection,
    actor: &Actor,
    caller: &StaffPrincipal,
    id: &str,
    upd: &StaffUpdate,
) -> Result<(StaffUser, Vec<RoleGrant>)> {
    if upd.status == Some(StaffStatus::Deleted) {
        return Err(IdentityError::invalid(
            "status",
            "use DELETE to remove a user",
        ));
    }
    if let Some(n) = &upd.display_name {
        if n.trim().is_empty() {
            return Err(IdentityError::invalid("display_name", "must not be empty"));
        }
    }
    dms_db::write_tx(conn, |c| {
        let (before, grants) = manageable(c, caller, id)?;
        let status = upd
            .status
            .map(|s| s.code())
            .unwrap_or(before.status.as_str())
            .to_string();
        diesel::update(staff_users::table.find(id))
            .set((
                staff_users::display_name.eq(upd
                    .display_name
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or(&before.display_name)),
                staff_users::status.eq(&status),
                staff_users::updated_at.eq(to_db_time(chrono::Utc::now())),
            ))
            .execute(c)?;
        if status != StaffStatus::Active.code() {
            revoke_principal_sessions(c, PrincipalKind::Staff, id)?;
        }
        let store = grants.iter().find_map(|g| g.store_id.clone());
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: store.as_deref(),
                action: "staff.update",
                entity: "staff_user",
                entity_id: id,
                detail: json!({
                    "display_name": upd.display_name.as_ref().map(|_| "changed"),
                    "status": {"from": before.status, "to": status},
                }),
            },
        )?;
        let user = find_user(c, id)?.ok_or(IdentityError::NotFound("staff user"))?;
        Ok((user, grants))
    })
}

/// Replaces the user's roles in the caller's stores; roles held elsewhere stay as they are.
pub fn set_staff_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    caller: &StaffPrincipal,
    id: &str,
    grants: &[RoleGrant],
) -> Result<Vec<RoleGrant>> {
    dms_db::write_tx(conn, |c| {
        let scope = caller.scope(Permission::StaffWrite);
        let (user, before) = get_staff(c, &scope, id)?;
        if user.id == caller.user.id {
            return Err(IdentityError::Forbidden(
                "you cannot change your own roles".into(),
            ));
        }
        check_grants(c, Some(caller), grants)?;
        let in_scope =
            |g: &RoleGrant| caller.holds_in(Permission::StaffWrite, g.store_id.as_deref());
        let kept: Vec<RoleGrant> = before.iter().filter(|g| !in_scope(g)).cloned().collect();
        if kept.is_empty() && grants.is_empty() {
            return Err(IdentityError::invalid(
                "roles",
                "a user needs at least one role; disable the user instead",
            ));
        }
        match &scope {
            StoreScope::AllStores => {
                diesel::delete(staff_roles::table.filter(staff_roles::user_id.eq(id)))
                    .execute(c)?;
            }
            StoreScope::Stores(ids) => {
                diesel::delete(
                    staff_roles::table
                        .filter(staff_roles::user_id.eq(id))
                        .filter(staff_roles::store_id.eq_any(ids.clone())),
                )
                .execute(c)?;
            }
        }
        insert_grants(c, id, grants)?;
        let after = load_grants(c, id)?;
        // Fewer roles must take effect now, not when the access token expires.
        revoke_principal_sessions(c, PrincipalKind::Staff, id)?;
        let store = after
            .iter()
            .chain(before.iter())
            .find_map(|g| g.store_id.clone());
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: store.as_deref(),
                action: "staff.roles",
                entity: "staff_user",
                entity_id: id,
                detail: json!({"before": grants_json(&before), "after": grants_json(&after)}),
            },
        )?;
        Ok(after)
    })
}

/// Staff reset of another user's password; ends all of that user's sessions.
pub fn set_staff_password(
    conn: &mut DbConnection,
    actor: &Actor,
    caller: &StaffPrincipal,
    id: &str,
    password: &str,
) -> Result<()> {
    check_password_rules(password)?;
    let hash = hash_password(password)?;
    dms_db::write_tx(conn, |c| {
        let (_, grants) = manageable(c, caller, id)?;
        let now = to_db_time(chrono::Utc::now());
        diesel::update(staff_users::table.find(id))
            .set((
                staff_users::password_hash.eq(&hash),
                staff_users::password_changed_at.eq(now),
                staff_users::updated_at.eq(now),
            ))
            .execute(c)?;
        revoke_principal_sessions(c, PrincipalKind::Staff, id)?;
        let store = grants.iter().find_map(|g| g.store_id.clone());
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: store.as_deref(),
                action: "staff.password_reset",
                entity: "staff_user",
                entity_id: id,
                detail: json!({}),
            },
        )?;
        Ok(())
    })
}

/// Removes a user: the row stays (the audit log and later documents name them) but can never
/// log in again, and every session ends.
pub fn delete_staff(
    conn: &mut DbConnection,
    actor: &Actor,
    caller: &StaffPrincipal,
    id: &str,
) -> Result<()> {
    dms_db::write_tx(conn, |c| {
        let (user, grants) = manageable(c, caller, id)?;
        diesel::update(staff_users::table.find(id))
            .set((
                staff_users::status.eq(StaffStatus::Deleted.code()),
                staff_users::updated_at.eq(to_db_time(chrono::Utc::now())),
            ))
            .execute(c)?;
        revoke_principal_sessions(c, PrincipalKind::Staff, id)?;
        let store = grants.iter().find_map(|g| g.store_id.clone());
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: store.as_deref(),
                action: "staff.delete",
                entity: "staff_user",
                entity_id: id,
                detail: json!({"username": user.username}),
            },
        )?;
        Ok(())
    })
}
