use crate::auth::{Caller, Principal};
use crate::error::ApiError;
use crate::extract::Body;
use crate::routes::{grant_dto, store_dto};
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use dms_api_types::{
    CodeSent, CustomerCodeRequest, CustomerLoginRequest, CustomerMe, LoginRequest, LogoutRequest,
    Me, Problem, RefreshRequest, StaffMe, TokenResponse,
};
use dms_core::{PageRequest, StoreScope, MAX_PAGE_SIZE};
use dms_identity::{IdentityError, Permission, PrincipalKind, RotateOutcome, SessionTokens};

fn client_address(req: &HttpRequest) -> String {
    // The socket peer, not X-Forwarded-For: a header any client can write must not pick the
    // bucket it is counted in.
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn token_response(
    state: &AppState,
    kind: PrincipalKind,
    subject: &str,
    s: &SessionTokens,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: state.keys.issue(kind, subject, &s.family_id)?,
        refresh_token: s.refresh_token.clone(),
        token_type: "Bearer".into(),
        expires_in: state.keys.access_ttl,
        refresh_expires_at: s.expires_at,
    })
}

/// Staff login.
#[utoipa::path(
    tag = "auth",
    description = "Exchanges a staff username and password for an access token (JWT, at most 15 minutes) and a refresh token. \
Attempts are limited per account and per client address; over the limit the answer is 429 with `Retry-After`, before any password is checked.\n\n**Permission:** none (public).",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong username or password, or the account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let LoginRequest { username, password } = body.0;
    let cfg = &state.config.auth;
    let ip_key = format!("login-ip:{}", client_address(&req));
    let account_key = format!("login-account:{}", username.to_lowercase());
    if let Some(wait) = state
        .throttle
        .blocked(&ip_key, cfg.login_max_attempts_per_address)
    {
        return Err(ApiError::TooManyRequests(wait));
    }
    if let Some(wait) = state
        .throttle
        .blocked(&account_key, cfg.login_max_failures_per_account)
    {
        return Err(ApiError::TooManyRequests(wait));
    }
    state.throttle.hit(&ip_key);
    let ttl = chrono::Duration::hours(cfg.refresh_ttl_hours);
    let outcome = state
        .db(move |c| {
            let p = dms_identity::authenticate_staff(c, &username, &password)?;
            let s = dms_identity::issue_session(c, PrincipalKind::Staff, &p.user.id, ttl)?;
            Ok((p.user.id, s))
        })
        .await;
    match outcome {
        Ok((user_id, session)) => {
            state.throttle.clear(&account_key);
            state.throttle.forgive(&ip_key);
            log::info!("staff login user={user_id}");
            Ok(web::Json(token_response(
                &state,
                PrincipalKind::Staff,
                &user_id,
                &session,
            )?))
        }
        Err(ApiError::InvalidCredentials) => {
            state.throttle.hit(&account_key);
            Err(ApiError::InvalidCredentials)
        }
        Err(e) => Err(e),
    }
}

/// Rotates a refresh token.
#[utoipa::path(
    tag = "auth",
    description = "Exchanges a refresh token for a new access token and a new refresh token. Each refresh token works once: \
presenting one that was already used revokes the whole session (it was copied), and both the thief and the owner must log in again.\n\n**Permission:** none (the refresh token is the credential).",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token, or the account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Body<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let token = body.0.refresh_token;
    let ttl = chrono::Duration::hours(state.config.auth.refresh_ttl_hours);
    let rotated = state
        .db(move |c| {
            let outcome = dms_identity::rotate_session(c, &token, ttl)?;
            let RotateOutcome::Rotated {
                kind,
                principal_id,
                tokens,
            } = outcome
            else {
                return Ok(None);
            };
            let active = match kind {
                PrincipalKind::Staff => {
                    dms_identity::load_staff_principal(c, &principal_id)?.is_some()
                }
                PrincipalKind::Customer => {
                    match dms_identity::get_customer(c, &StoreScope::AllStores, &principal_id) {
                        Ok(_) => true,
                        Err(IdentityError::NotFound(_)) => false,
                        Err(e) => return Err(e.into()),
                    }
                }
                PrincipalKind::Device => {
                    dms_identity::load_active_device(c, &principal_id)?.is_some()
                }
                PrincipalKind::Client => false,
            };
            if !active {
                dms_identity::revoke_family(c, &tokens.family_id)?;
                return Ok(None);
            }
            Ok(Some((kind, principal_id, tokens)))
        })
        .await?;
    let (kind, subject, tokens) =
        rotated.ok_or(ApiError::Unauthorized("refresh token is not valid"))?;
    Ok(web::Json(token_response(&state, kind, &subject, &tokens)?))
}

/// Ends the session.
#[utoipa::path(
    tag = "auth",
    description = "Ends the current session: its refresh token and every access token issued in it stop working at once. \
With `everywhere: true`, ends every session of the caller.\n\n**Permission:** any logged-in principal.",
    request_body = LogoutRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = match &caller.principal {
        Principal::Staff(_) if caller.device.is_some() => (
            PrincipalKind::Device,
            caller
                .device
                .as_ref()
                .map(|d| d.device.id.clone())
                .unwrap_or_default(),
        ),
        Principal::Staff(p) => (PrincipalKind::Staff, p.user.id.clone()),
        Principal::Customer(c) => (PrincipalKind::Customer, c.id.clone()),
    };
    let sid = caller.session_id.clone();
    let everywhere = body.0.everywhere;
    state
        .db(move |c| {
            if everywhere {
                dms_identity::revoke_principal_sessions(c, kind, &id)?;
            } else {
                dms_identity::revoke_family(c, &sid)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I.
#[utoipa::path(
    tag = "auth",
    description = "The caller: for staff, their roles per store, permissions and stores; for a customer (owners' app), their own record.\n\n**Permission:** any logged-in principal.",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Me>, ApiError> {
    match caller.principal {
        Principal::Staff(p) => {
            let scope = p.scope(Permission::StoresRead);
            let group_wide = p.grants.iter().any(|g| g.store_id.is_none());
            let stores = state
                .db(move |c| {
                    Ok(dms_identity::list_stores(c, &scope, &PageRequest::first(MAX_PAGE_SIZE))?.0)
                })
                .await?;
            Ok(web::Json(Me::Staff(StaffMe {
                id: p.user.id.clone(),
                username: p.user.username.clone(),
                display_name: p.user.display_name.clone(),
                roles: p.grants.iter().map(grant_dto).collect(),
                permissions: p
                    .permissions()
                    .iter()
                    .map(|x| x.code().to_string())
                    .collect(),
                stores: stores.into_iter().map(store_dto).collect(),
                group_wide,
            })))
        }
        Principal::Customer(c) => Ok(web::Json(Me::Customer(CustomerMe {
            phone: mask_phone(&c.phone),
            id: c.id,
            name: c.name,
            store_id: c.store_id,
        }))),
    }
}

fn mask_phone(p: &str) -> String {
    if p.len() == 11 && p.is_ascii() {
        format!("{}****{}", &p[..3], &p[7..])
    } else {
        "****".into()
    }
}

/// Sends a login code to a customer's phone.
#[utoipa::path(
    tag = "auth",
    description = "Owners' app, step 1: sends a 6-digit code by SMS to the phone if it belongs to a customer. The answer is the same \
whether or not it does. One code per minute and five per hour per phone; requests are also limited per client address.\n\n**Permission:** none (public).",
    request_body = CustomerCodeRequest,
    responses(
        (status = 202, body = CodeSent),
        (status = 422, description = "Not a mobile number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Asked too often", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Customer login is not enabled or the SMS could not be sent", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/customer/code")]
pub async fn customer_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<CustomerCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip_key = format!("otp-ip:{}", client_address(&req));
    if let Some(wait) = state
        .throttle
        .blocked(&ip_key, state.config.auth.login_max_attempts_per_address)
    {
        return Err(ApiError::TooManyRequests(wait));
    }
    state.throttle.hit(&ip_key);
    let (Some(sender), Some(policy)) = (state.code_sender.clone(), state.otp.clone()) else {
        return Err(ApiError::Unavailable(
            "customer login is not enabled".into(),
        ));
    };
    let phone = body.0.phone;
    let ttl = policy.ttl.num_seconds().max(0) as u64;
    state
        .db(move |c| {
            // The CRM's rule: the main number, or a further number a merge moved to the
            // surviving record; a merged record is never found.
            let known = dms_crm::customer_for_login_phone(c, &phone)?.is_some();
            dms_identity::request_login_code_for(c, sender.as_ref(), &policy, &phone, known)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Accepted().json(CodeSent {
        status: "accepted".into(),
        expires_in: ttl,
    }))
}

/// Customer login with the code.
#[utoipa::path(
    tag = "auth",
    description = "Owners' app, step 2: exchanges the phone number and the code for tokens scoped to that customer's own data. \
A code works once; five wrong tries spend it.\n\n**Permission:** none (public).",
    request_body = CustomerLoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong or expired code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Customer login is not enabled", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/customer/login")]
pub async fn customer_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<CustomerLoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let ip_key = format!("login-ip:{}", client_address(&req));
    if let Some(wait) = state
        .throttle
        .blocked(&ip_key, state.config.auth.login_max_attempts_per_address)
    {
        return Err(ApiError::TooManyRequests(wait));
    }
    state.throttle.hit(&ip_key);
    let Some(policy) = state.otp.clone() else {
        return Err(ApiError::Unavailable(
            "customer login is not enabled".into(),
        ));
    };
    let CustomerLoginRequest { phone, code } = body.0;
    let ttl = chrono::Duration::hours(state.config.auth.refresh_ttl_hours);
    let (customer_id, session) = state
        .db(move |c| {
            let who = dms_crm::customer_for_login_phone(c, &phone)?;
            let customer =
                dms_identity::verify_login_code_for(c, &policy, &phone, &code, who.as_deref())?;
            let s = dms_identity::issue_session(c, PrincipalKind::Customer, &customer.id, ttl)?;
            Ok((customer.id, s))
        })
        .await?;
    Ok(web::Json(token_response(
        &state,
        PrincipalKind::Customer,
        &customer_id,
        &session,
    )?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_the_middle_of_a_phone() {
        assert_eq!(super::mask_phone("13800138000"), "138****8000");
        assert_eq!(super::mask_phone("123"), "****");
    }
}
