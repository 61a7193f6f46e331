//! The REST client: JSON in and out, the bearer header, one token refresh and retry on a 401,
//! and `application/problem+json` parsed into [`ApiError::Problem`].
//!
//! Tokens live in localStorage (a reload keeps the session). When an API call answers 401 the
//! client exchanges the refresh token once (concurrent callers share that one exchange, since
//! refresh tokens rotate and work once) and retries the call with the new access token. If the
//! refresh is refused the tokens are dropped and the handler set by
//! [`set_session_expired_handler`] sends the user back to the login page.

use dms_api_types::{
    AuditPage, CreateCustomerRequest, CreateStaffRequest, CreateStoreRequest, CustomerDto,
    CustomerPage, LoginRequest, LogoutRequest, Me, Problem, RefreshRequest, ResetPasswordRequest,
    RoleDto, SetRolesRequest, StaffDto, StaffPage, StoreDto, StorePage, TokenResponse,
    UpdateStaffRequest, UpdateStoreRequest,
};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use gloo_net::http::{Method, RequestBuilder};
use gloo_storage::{LocalStorage, Storage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use yew::Callback;

/// Every endpoint lives under this prefix, on the origin that served the app.
pub const API_BASE: &str = "/api/v1";
/// localStorage key of the stored [`TokenResponse`].
pub const TOKENS_STORAGE_KEY: &str = "dms.tokens";

const LOGIN_PATH: &str = "/auth/login";
const REFRESH_PATH: &str = "/auth/refresh";

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with `application/problem+json`.
    Problem(Box<Problem>),
    /// An error status without a problem body (e.g. a proxy's 502).
    Status(u16),
    /// The request never got an answer (offline, server down).
    Network(String),
    /// A success answer whose body was not what we expected.
    Decode(String),
    /// The session is over (refresh refused or no tokens): sign in again.
    SessionExpired,
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Problem(p) => Some(p.status),
            ApiError::Status(s) => Some(*s),
            ApiError::SessionExpired => Some(401),
            ApiError::Network(_) | ApiError::Decode(_) => None,
        }
    }
}

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Hand the answer (success or error) to the caller.
    Done,
    /// Exchange the refresh token, then retry the call once.
    RefreshAndRetry,
    /// The session cannot be saved: drop the tokens and go to the login page.
    Expired,
}

/// The "should refresh" decision. Only a 401 from an authenticated endpoint matters: login and
/// refresh answer 401 for wrong credentials or a dead refresh token, which no refresh can fix.
pub fn next_step(status: u16, path: &str, already_retried: bool, has_refresh_token: bool) -> Next {
    if status != 401 || path == LOGIN_PATH || path == REFRESH_PATH {
        Next::Done
    } else if already_retried || !has_refresh_token {
        Next::Expired
    } else {
        Next::RefreshAndRetry
    }
}

/// Turns an error answer into an [`ApiError`]: the problem when the body is one, else the
/// bare status.
pub fn parse_error(status: u16, content_type: Option<&str>, body: &str) -> ApiError {
    let jsonish = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if jsonish {
        if let Ok(problem) = serde_json::from_str::<Problem>(body) {
            return ApiError::Problem(Box::new(problem));
        }
    }
    ApiError::Status(status)
}

/// Decodes a success body, or the error.
pub fn decode<T: DeserializeOwned>(raw: &Raw) -> Result<T, ApiError> {
    if (200..300).contains(&raw.status) {
        serde_json::from_str(&raw.text).map_err(|e| ApiError::Decode(e.to_string()))
    } else {
        Err(parse_error(
            raw.status,
            raw.content_type.as_deref(),
            &raw.text,
        ))
    }
}

/// An answer, read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
}

// ---- token storage ----

pub fn stored_tokens() -> Option<TokenResponse> {
    LocalStorage::get(TOKENS_STORAGE_KEY).ok()
}

pub fn has_session() -> bool {
    stored_tokens().is_some()
}

fn store_tokens(tokens: &TokenResponse) {
    // Only fails when storage is disabled or full; the session then lasts until the reload.
    let _ = LocalStorage::set(TOKENS_STORAGE_KEY, tokens);
}

pub fn clear_tokens() {
    LocalStorage::delete(TOKENS_STORAGE_KEY);
}

// ---- session-expired hook ----

thread_local! {
    static ON_EXPIRED: RefCell<Option<Callback<()>>> = const { RefCell::new(None) };
    static REFRESHING: RefCell<Option<Shared<LocalBoxFuture<'static, Refreshed>>>> =
        const { RefCell::new(None) };
}

/// Called (once per expiry) when the session ends under a running call.
pub fn set_session_expired_handler(handler: Option<Callback<()>>) {
    ON_EXPIRED.with(|h| *h.borrow_mut() = handler);
}

fn session_expired() -> ApiError {
    let had_tokens = has_session();
    clear_tokens();
    if had_tokens {
        if let Some(handler) = ON_EXPIRED.with(|h| h.borrow().clone()) {
            handler.emit(());
        }
    }
    ApiError::SessionExpired
}

// ---- transport ----

async fn send_raw(
    method: Method,
    path: &str,
    body: Option<&str>,
    bearer: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<Raw, ApiError> {
    let url = format!("{API_BASE}{path}");
    let mut builder = RequestBuilder::new(&url)
        .method(method)
        .header("Accept", "application/json, application/problem+json");
    if let Some(token) = bearer {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    if let Some(key) = idempotency_key {
        builder = builder.header("Idempotency-Key", key);
    }
    let request = match body {
        Some(json) => builder
            .header("Content-Type", "application/json")
            .body(json.to_owned()),
        None => builder.build(),
    }
    .map_err(|e| ApiError::Network(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let status = response.status();
    let content_type = response.headers().get("content-type");
    // A 204 has no body; an unreadable body only matters if we try to decode it.
    let text = response.text().await.unwrap_or_default();
    Ok(Raw {
        status,
        content_type,
        text,
    })
}

fn to_json<B: Serialize + ?Sized>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// The outcome of one refresh-token exchange, shared by every caller waiting on it.
#[derive(Debug, Clone)]
enum Refreshed {
    Yes,
    /// The server refused the refresh token: the session is over.
    Refused,
    /// No answer; keep the tokens, the user may retry.
    Failed(ApiError),
}

async fn exchange_refresh_token() -> Refreshed {
    let Some(tokens) = stored_tokens() else {
        return Refreshed::Refused;
    };
    let body = match to_json(&RefreshRequest {
        refresh_token: tokens.refresh_token,
    }) {
        Ok(body) => body,
        Err(e) => return Refreshed::Failed(e),
    };
    match send_raw(Method::POST, REFRESH_PATH, Some(&body), None, None).await {
        Ok(raw) if (200..300).contains(&raw.status) => match decode::<TokenResponse>(&raw) {
            Ok(new_tokens) => {
                store_tokens(&new_tokens);
                Refreshed::Yes
            }
            Err(e) => Refreshed::Failed(e),
        },
        Ok(raw) if raw.status == 401 || raw.status == 422 => Refreshed::Refused,
        Ok(raw) => Refreshed::Failed(parse_error(
            raw.status,
            raw.content_type.as_deref(),
            &raw.text,
        )),
        Err(e) => Refreshed::Failed(e),
    }
}

/// Refreshes once for everyone: a call that finds a refresh under way waits for it instead of
/// spending the (single-use) refresh token again.
async fn refresh(stale_access_token: Option<&str>) -> Refreshed {
    // Someone refreshed since our request went out: just retry with the new token.
    if let (Some(stale), Some(now)) = (stale_access_token, stored_tokens()) {
        if now.access_token != stale {
            return Refreshed::Yes;
        }
    }
    let shared = REFRESHING.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(running) = slot.as_ref() {
            return running.clone();
        }
        let started = exchange_refresh_token().boxed_local().shared();
        *slot = Some(started.clone());
        started
    });
    let outcome = shared.clone().await;
    REFRESHING.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_some_and(|running| running.ptr_eq(&shared)) {
            *slot = None;
        }
    });
    outcome
}

/// An authenticated call with refresh-on-401 and one retry.
async fn call(method: Method, path: &str, body: Option<String>) -> Result<Raw, ApiError> {
    call_keyed(method, path, body, None).await
}

/// [`call`] with an `Idempotency-Key`: the retry after a refresh sends the same key, so the
/// server runs a money action once however often it is sent.
async fn call_keyed(
    method: Method,
    path: &str,
    body: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<Raw, ApiError> {
    let mut retried = false;
    loop {
        let tokens = stored_tokens();
        let access = tokens.as_ref().map(|t| t.access_token.clone());
        let raw = send_raw(
            method.clone(),
            path,
            body.as_deref(),
            access.as_deref(),
            idempotency_key,
        )
        .await?;
        match next_step(raw.status, path, retried, tokens.is_some()) {
            Next::Done => return Ok(raw),
            Next::Expired => return Err(session_expired()),
            Next::RefreshAndRetry => match refresh(access.as_deref()).await {
                Refreshed::Yes => retried = true,
                Refreshed::Refused => return Err(session_expired()),
                Refreshed::Failed(e) => return Err(e),
            },
        }
    }
}

/// `GET` a JSON resource with the session.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&call(Method::GET, path, None).await?)
}

/// A call with a JSON body whose answer is JSON.
pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    decode(&call(method, path, Some(to_json(body)?)).await?)
}

/// A money action: JSON in and out, with the attempt's `Idempotency-Key`.
pub async fn send_keyed<B: Serialize + ?Sized, T: DeserializeOwned>(
    path: &str,
    body: &B,
    idempotency_key: &str,
) -> Result<T, ApiError> {
    decode(
        &call_keyed(
            Method::POST,
            path,
            Some(to_json(body)?),
            Some(idempotency_key),
        )
        .await?,
    )
}

/// A fresh key for one attempt of a money action (kept for that attempt's retries).
pub fn new_idempotency_key() -> String {
    let now = js_sys::Date::now() as u64;
    let a = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let b = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    format!("web-{now:x}-{a:08x}{b:08x}")
}

/// A call whose success answer has no body we need (204 or an ignored echo).
pub async fn send_no_content(
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<(), ApiError> {
    let raw = call(method, path, body).await?;
    if (200..300).contains(&raw.status) {
        Ok(())
    } else {
        Err(parse_error(
            raw.status,
            raw.content_type.as_deref(),
            &raw.text,
        ))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `path?k=v&...` with the empty values left out.
pub fn with_query(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode_query_value(v)))
        })
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Rows per page the lists ask for.
pub const PAGE_SIZE: &str = "50";

// ---- endpoints ----

/// Signs in and keeps the tokens.
pub async fn login(request: &LoginRequest) -> Result<TokenResponse, ApiError> {
    let raw = send_raw(
        Method::POST,
        LOGIN_PATH,
        Some(&to_json(request)?),
        None,
        None,
    )
    .await?;
    let tokens: TokenResponse = decode(&raw)?;
    store_tokens(&tokens);
    Ok(tokens)
}

pub async fn me() -> Result<Me, ApiError> {
    get_json("/me").await
}

pub async fn roles() -> Result<Vec<RoleDto>, ApiError> {
    get_json("/roles").await
}

pub async fn stores(cursor: Option<&str>) -> Result<StorePage, ApiError> {
    get_json(&with_query(
        "/stores",
        &[("cursor", cursor), ("limit", Some("200"))],
    ))
    .await
}

pub async fn create_store(body: &CreateStoreRequest) -> Result<StoreDto, ApiError> {
    send_json(Method::POST, "/stores", body).await
}

pub async fn update_store(id: &str, body: &UpdateStoreRequest) -> Result<StoreDto, ApiError> {
    send_json(
        Method::PATCH,
        &format!("/stores/{}", encode_query_value(id)),
        body,
    )
    .await
}

pub async fn staff(cursor: Option<&str>) -> Result<StaffPage, ApiError> {
    get_json(&with_query(
        "/staff",
        &[("cursor", cursor), ("limit", Some(PAGE_SIZE))],
    ))
    .await
}

pub async fn create_staff(body: &CreateStaffRequest) -> Result<StaffDto, ApiError> {
    send_json(Method::POST, "/staff", body).await
}

pub async fn set_staff_roles(id: &str, body: &SetRolesRequest) -> Result<(), ApiError> {
    send_no_content(
        Method::PUT,
        &format!("/staff/{}/roles", encode_query_value(id)),
        Some(to_json(body)?),
    )
    .await
}

pub async fn update_staff(id: &str, body: &UpdateStaffRequest) -> Result<(), ApiError> {
    send_no_content(
        Method::PATCH,
        &format!("/staff/{}", encode_query_value(id)),
        Some(to_json(body)?),
    )
    .await
}

/// Disables a user: no sign-in, every session ends; `update_staff` with `active` undoes it.
pub async fn disable_staff(id: &str) -> Result<(), ApiError> {
    update_staff(
        id,
        &UpdateStaffRequest {
            display_name: None,
            status: Some("disabled".into()),
        },
    )
    .await
}

pub async fn reset_password(id: &str, body: &ResetPasswordRequest) -> Result<(), ApiError> {
    send_no_content(
        Method::POST,
        &format!("/staff/{}/password", encode_query_value(id)),
        Some(to_json(body)?),
    )
    .await
}

/// The audit-log filters the server takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub entity: String,
    pub entity_id: String,
    pub actor_id: String,
}

pub async fn audit_log(filter: &AuditFilter, cursor: Option<&str>) -> Result<AuditPage, ApiError> {
    get_json(&with_query(
        "/audit-log",
        &[
            ("entity", Some(filter.entity.as_str())),
            ("entity_id", Some(filter.entity_id.as_str())),
            ("actor_id", Some(filter.actor_id.as_str())),
            ("cursor", cursor),
            ("limit", Some(PAGE_SIZE)),
        ],
    ))
    .await
}

pub async fn customers(cursor: Option<&str>) -> Result<CustomerPage, ApiError> {
    get_json(&with_query(
        "/customers",
        &[("cursor", cursor), ("limit", Some(PAGE_SIZE))],
    ))
    .await
}

pub async fn customer(id: &str) -> Result<CustomerDto, ApiError> {
    get_json(&format!("/customers/{}", encode_query_value(id))).await
}

pub async fn create_customer(body: &CreateCustomerRequest) -> Result<CustomerDto, ApiError> {
    send_json(Method::POST, "/customers", body).await
}

// ---- member club ----

pub mod club {
    use super::*;
    use dms_api_types::membership::{
        CardDto, CardListDto, CardTransactionPage, CheckoutPage, CheckoutRequest, CouponListDto,
        CouponTemplatePage, EntitlementListDto, MemberDto, MembershipSummaryDto,
        PointsTransactionPage, PricedBasketDto, ProgrammeDto, QuoteRequest, ReasonRequest,
        ReceiptDto, TopUpDto, TopUpRequest,
    };

    fn id(s: &str) -> String {
        encode_query_value(s)
    }

    pub async fn lookup_card(number: &str) -> Result<CardDto, ApiError> {
        get_json(&with_query("/cards/lookup", &[("number", Some(number))])).await
    }

    pub async fn card(card_id: &str) -> Result<CardDto, ApiError> {
        get_json(&format!("/cards/{}", id(card_id))).await
    }

    pub async fn member(member_id: &str) -> Result<MemberDto, ApiError> {
        get_json(&format!("/members/{}", id(member_id))).await
    }

    pub async fn membership_of(customer_id: &str) -> Result<MembershipSummaryDto, ApiError> {
        get_json(&format!("/customers/{}/membership", id(customer_id))).await
    }

    pub async fn cards_of(member_id: &str) -> Result<CardListDto, ApiError> {
        get_json(&format!("/members/{}/cards", id(member_id))).await
    }

    pub async fn coupons_of(member_id: &str) -> Result<CouponListDto, ApiError> {
        get_json(&format!("/members/{}/coupons", id(member_id))).await
    }

    pub async fn coupon_templates() -> Result<CouponTemplatePage, ApiError> {
        get_json("/coupon-templates?limit=200").await
    }

    pub async fn entitlements_of(member_id: &str) -> Result<EntitlementListDto, ApiError> {
        get_json(&format!("/members/{}/entitlements", id(member_id))).await
    }

    pub async fn card_transactions(card_id: &str) -> Result<CardTransactionPage, ApiError> {
        get_json(&format!("/cards/{}/transactions?limit=50", id(card_id))).await
    }

    pub async fn points_transactions(member_id: &str) -> Result<PointsTransactionPage, ApiError> {
        get_json(&format!(
            "/members/{}/points/transactions?limit=50",
            id(member_id)
        ))
        .await
    }

    pub async fn programme(store_id: Option<&str>) -> Result<ProgrammeDto, ApiError> {
        get_json(&with_query(
            "/membership/programme",
            &[("store_id", store_id)],
        ))
        .await
    }

    pub async fn top_up(
        card_id: &str,
        body: &TopUpRequest,
        key: &str,
    ) -> Result<TopUpDto, ApiError> {
        send_keyed(&format!("/cards/{}/top-ups", id(card_id)), body, key).await
    }

    /// `report-lost` or `unblock`.
    pub async fn card_action(card_id: &str, action: &str) -> Result<(), ApiError> {
        send_no_content(
            Method::POST,
            &format!("/cards/{}/{action}", id(card_id)),
            None,
        )
        .await
    }

    pub async fn join(
        body: &dms_api_types::membership::JoinMemberRequest,
    ) -> Result<MemberDto, ApiError> {
        send_json(Method::POST, "/members", body).await
    }

    pub async fn issue_card(
        body: &dms_api_types::membership::IssueCardRequest,
    ) -> Result<CardDto, ApiError> {
        send_json(Method::POST, "/cards", body).await
    }

    pub async fn set_pin(
        card_id: &str,
        body: &dms_api_types::membership::SetPinRequest,
    ) -> Result<(), ApiError> {
        send_no_content(
            Method::PUT,
            &format!("/cards/{}/pin", id(card_id)),
            Some(to_json(body)?),
        )
        .await
    }

    pub async fn replace_card(
        card_id: &str,
        body: &dms_api_types::membership::ReplaceCardRequest,
        key: &str,
    ) -> Result<dms_api_types::membership::ReplaceCardDto, ApiError> {
        send_keyed(&format!("/cards/{}/replace", id(card_id)), body, key).await
    }

    pub async fn return_card(
        card_id: &str,
        body: &dms_api_types::membership::ReturnCardRequest,
        key: &str,
    ) -> Result<dms_api_types::membership::ReturnCardDto, ApiError> {
        send_keyed(&format!("/cards/{}/return", id(card_id)), body, key).await
    }

    pub async fn checkouts_of(card_id: &str) -> Result<CheckoutPage, ApiError> {
        get_json(&with_query(
            "/checkouts",
            &[("card_id", Some(card_id)), ("limit", Some("20"))],
        ))
        .await
    }

    pub async fn receipt(checkout_id: &str) -> Result<ReceiptDto, ApiError> {
        get_json(&format!("/checkouts/{}/receipt", id(checkout_id))).await
    }

    pub async fn void_checkout(
        checkout_id: &str,
        body: &ReasonRequest,
        key: &str,
    ) -> Result<ReceiptDto, ApiError> {
        send_keyed(&format!("/checkouts/{}/void", id(checkout_id)), body, key).await
    }

    pub async fn quote(body: &QuoteRequest) -> Result<PricedBasketDto, ApiError> {
        send_json(Method::POST, "/checkouts/quote", body).await
    }

    pub async fn checkout(body: &CheckoutRequest, key: &str) -> Result<ReceiptDto, ApiError> {
        send_keyed("/checkouts", body, key).await
    }

    /// The club's figures for `[from, to)` with one row per day (or month) for the charts.
    pub async fn statistics(
        filter: &crate::reports::ReportFilter,
    ) -> Result<dms_api_types::membership::StatisticsReportDto, ApiError> {
        get_json(&filter.membership_path()).await
    }
}

// ---- top-up requests (the kiosk asks, the cashier confirms) ----

pub mod top_up_requests {
    use super::*;
    use dms_api_types::devices::{ConfirmTopUpRequest, TopUpRequestDto, TopUpRequestPage};
    use dms_api_types::membership::ReasonRequest;

    /// The requests of the caller's stores, newest first; `status` empty: all.
    pub async fn list(
        store_id: Option<&str>,
        status: &str,
        cursor: Option<&str>,
    ) -> Result<TopUpRequestPage, ApiError> {
        get_json(&with_query(
            "/top-up-requests",
            &[
                ("store_id", store_id),
                ("status", Some(status)),
                ("cursor", cursor),
                ("limit", Some(PAGE_SIZE)),
            ],
        ))
        .await
    }

    /// 确认收款: the top-up happens now (once per `key`).
    pub async fn confirm(
        id: &str,
        body: &ConfirmTopUpRequest,
        key: &str,
    ) -> Result<TopUpRequestDto, ApiError> {
        send_keyed(
            &format!("/top-up-requests/{}/confirm", encode_query_value(id)),
            body,
            key,
        )
        .await
    }

    pub async fn cancel(id: &str, reason: &str) -> Result<TopUpRequestDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/top-up-requests/{}/cancel", encode_query_value(id)),
            &ReasonRequest {
                reason: reason.to_string(),
            },
        )
        .await
    }
}

// ---- CRM ----

pub mod crm {
    use super::*;
    use dms_api_types::crm::{
        AssignRequest, AssigneeListDto, ComplaintDto, ComplaintPage, ComplaintStatsDto,
        CompleteTaskRequest, ConfirmRequest, ConvertRequest, CrmCustomerDto, CrmStatsDto,
        Customer360Dto, LeadContactRequest, LeadDto, LeadPage, LostRequest, MergeReportDto,
        MergeRequest, NewCustomerRequest, OpenComplaintRequest, ResolveRequest, SatisfactionDto,
        TaskDto, TaskPage,
    };

    fn id(s: &str) -> String {
        encode_query_value(s)
    }

    pub async fn customer_360(customer_id: &str) -> Result<Customer360Dto, ApiError> {
        get_json(&format!("/customers/{}/360", id(customer_id))).await
    }

    /// `POST /customers` with the whole record (409 `duplicate_suspected` lists likely twins).
    pub async fn create_customer(body: &NewCustomerRequest) -> Result<CrmCustomerDto, ApiError> {
        send_json(Method::POST, "/customers", body).await
    }

    /// Merges `merged_id` into `survivor_id` (a manager's action).
    pub async fn merge(survivor_id: &str, merged_id: &str) -> Result<MergeReportDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/customers/{}/merge", id(survivor_id)),
            &MergeRequest {
                merged_id: merged_id.to_string(),
            },
        )
        .await
    }

    /// The caller's open follow-up tasks due on or before `day` (today's queue).
    pub async fn my_tasks_due(day: &str) -> Result<TaskPage, ApiError> {
        get_json(&with_query(
            "/tasks",
            &[
                ("mine", Some("true")),
                ("due_on_or_before", Some(day)),
                ("limit", Some("200")),
            ],
        ))
        .await
    }

    pub async fn complete_task(
        task_id: &str,
        body: &CompleteTaskRequest,
    ) -> Result<TaskDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/tasks/{}/outcome", id(task_id)),
            body,
        )
        .await
    }

    /// Open leads (`overdue`: only those whose follow-up date has passed).
    pub async fn leads(overdue: bool) -> Result<LeadPage, ApiError> {
        get_json(&with_query(
            "/leads",
            &[
                ("status", (!overdue).then_some("open")),
                ("overdue", overdue.then_some("true")),
                ("limit", Some("200")),
            ],
        ))
        .await
    }

    pub async fn lead_contact(
        lead_id: &str,
        body: &LeadContactRequest,
    ) -> Result<LeadDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/leads/{}/contacts", id(lead_id)),
            body,
        )
        .await
    }

    pub async fn lead_lost(lead_id: &str, reason: &str) -> Result<LeadDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/leads/{}/lost", id(lead_id)),
            &LostRequest {
                reason: reason.to_string(),
            },
        )
        .await
    }

    pub async fn lead_convert(lead_id: &str, customer_id: &str) -> Result<LeadDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/leads/{}/convert", id(lead_id)),
            &ConvertRequest {
                customer_id: customer_id.to_string(),
            },
        )
        .await
    }

    /// Complaints, newest page first (`status`: `open`, `resolved`, `closed` or all).
    pub async fn complaints(
        status: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<ComplaintPage, ApiError> {
        get_json(&with_query(
            "/complaints",
            &[
                ("status", status),
                ("cursor", cursor),
                ("limit", Some(PAGE_SIZE)),
            ],
        ))
        .await
    }

    pub async fn open_complaint(body: &OpenComplaintRequest) -> Result<ComplaintDto, ApiError> {
        send_json(Method::POST, "/complaints", body).await
    }

    /// Who a complaint in the store can be given to.
    pub async fn complaint_assignees(store_id: &str) -> Result<AssigneeListDto, ApiError> {
        get_json(&format!("/complaints/assignees?store_id={}", id(store_id))).await
    }

    pub async fn assign_complaint(
        complaint_id: &str,
        staff_id: &str,
    ) -> Result<ComplaintDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/complaints/{}/assign", id(complaint_id)),
            &AssignRequest {
                staff_id: staff_id.to_string(),
            },
        )
        .await
    }

    pub async fn resolve_complaint(
        complaint_id: &str,
        resolution: &str,
    ) -> Result<ComplaintDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/complaints/{}/resolve", id(complaint_id)),
            &ResolveRequest {
                resolution: resolution.to_string(),
            },
        )
        .await
    }

    pub async fn confirm_complaint(
        complaint_id: &str,
        satisfied: bool,
    ) -> Result<ComplaintDto, ApiError> {
        send_json(
            Method::POST,
            &format!("/complaints/{}/confirm", id(complaint_id)),
            &ConfirmRequest { satisfied },
        )
        .await
    }

    pub async fn statistics(
        from: &str,
        to: &str,
        store_id: Option<&str>,
    ) -> Result<CrmStatsDto, ApiError> {
        get_json(&with_query(
            "/crm/statistics",
            &[
                ("from", Some(from)),
                ("to", Some(to)),
                ("store_id", store_id),
            ],
        ))
        .await
    }

    pub async fn satisfaction(from: &str, to: &str) -> Result<SatisfactionDto, ApiError> {
        get_json(&with_query(
            "/satisfaction",
            &[
                ("from", Some(from)),
                ("to", Some(to)),
                ("by", Some("store")),
            ],
        ))
        .await
    }

    pub async fn complaint_statistics(from: &str, to: &str) -> Result<ComplaintStatsDto, ApiError> {
        get_json(&with_query(
            "/complaints/statistics",
            &[("from", Some(from)), ("to", Some(to))],
        ))
        .await
    }
}

// ---- files ----

/// Reads an answer's bytes (an export), with the bearer and the refresh-on-401 retry.
async fn get_bytes(path: &str) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let mut retried = false;
    loop {
        let tokens = stored_tokens();
        let access = tokens.as_ref().map(|t| t.access_token.clone());
        let mut builder = RequestBuilder::new(&format!("{API_BASE}{path}")).method(Method::GET);
        if let Some(token) = access.as_deref() {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        let response = builder
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        let status = response.status();
        match next_step(status, path, retried, tokens.is_some()) {
            Next::Done => {}
            Next::Expired => return Err(session_expired()),
            Next::RefreshAndRetry => {
                match refresh(access.as_deref()).await {
                    Refreshed::Yes => retried = true,
                    Refreshed::Refused => return Err(session_expired()),
                    Refreshed::Failed(e) => return Err(e),
                }
                continue;
            }
        }
        let content_type = response.headers().get("content-type");
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            return Err(parse_error(status, content_type.as_deref(), &text));
        }
        let bytes = response
            .binary()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        return Ok((bytes, content_type));
    }
}

/// Fetches `path` with the session and hands it to the browser as a download named
/// `file_name` (Blob → object URL → a clicked link), so the token never appears in a URL.
pub async fn download(path: &str, file_name: &str) -> Result<usize, ApiError> {
    let (bytes, content_type) = get_bytes(path).await?;
    let size = bytes.len();
    let fail = |what: &str| ApiError::Decode(format!("download: {what}"));
    let array = js_sys::Uint8Array::from(bytes.as_slice());
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(
        content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|_| fail("blob"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| fail("url"))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| fail("document"))?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| fail("link"))?
        .dyn_into()
        .map_err(|_| fail("link"))?;
    link.set_href(&url);
    link.set_download(file_name);
    link.set_attribute("data-export-size", &size.to_string())
        .map_err(|_| fail("link"))?;
    if let Some(body) = document.body() {
        let _ = body.append_child(&link);
        link.click();
        let _ = body.remove_child(&link);
    }
    // Revoked later: revoking right after the click may cancel the download in some browsers.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(size)
}

/// Ends this session on the server (best effort) and forgets the tokens either way.
pub async fn logout() {
    if has_session() {
        // Quiet: logging out must not also announce "session expired".
        let handler = ON_EXPIRED.with(|h| h.borrow_mut().take());
        if let Ok(body) = to_json(&LogoutRequest { everywhere: false }) {
            let _ = call(Method::POST, "/auth/logout", Some(body)).await;
        }
        ON_EXPIRED.with(|h| {
            let mut slot = h.borrow_mut();
            if slot.is_none() {
                *slot = handler;
            }
        });
    }
    clear_tokens();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_from_an_api_call_refreshes_once() {
        assert_eq!(next_step(401, "/me", false, true), Next::RefreshAndRetry);
        assert_eq!(next_step(401, "/me", true, true), Next::Expired);
        assert_eq!(next_step(401, "/roles", false, false), Next::Expired);
        assert_eq!(
            next_step(401, "/auth/logout", false, true),
            Next::RefreshAndRetry
        );
    }

    #[test]
    fn other_answers_go_to_the_caller() {
        for status in [200, 204, 403, 404, 422, 429, 500] {
            assert_eq!(next_step(status, "/me", false, true), Next::Done);
        }
    }

    #[test]
    fn auth_endpoints_never_refresh() {
        assert_eq!(next_step(401, LOGIN_PATH, false, true), Next::Done);
        assert_eq!(next_step(401, REFRESH_PATH, false, true), Next::Done);
    }

    const PROBLEM: &str = r#"{"type":"urn:dms:problem:validation_failed","title":"some fields are invalid","status":422,"code":"validation_failed","errors":[{"field":"username","code":"length","message":"too long"}]}"#;

    #[test]
    fn problem_json_is_parsed() {
        let err = parse_error(422, Some("application/problem+json"), PROBLEM);
        let ApiError::Problem(p) = err else {
            panic!("not a problem: {err:?}");
        };
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].field, "username");
        assert_eq!(p.detail, None);
    }

    #[test]
    fn a_non_problem_body_keeps_the_status() {
        assert_eq!(
            parse_error(502, Some("text/html"), "<h1>Bad gateway</h1>"),
            ApiError::Status(502)
        );
        assert_eq!(
            parse_error(500, Some("application/json"), "{}"),
            ApiError::Status(500)
        );
        assert_eq!(parse_error(500, None, PROBLEM), ApiError::Status(500));
    }

    #[test]
    fn decode_success_and_errors() {
        let ok = Raw {
            status: 200,
            content_type: Some("application/json".into()),
            text: "[]".into(),
        };
        assert_eq!(decode::<Vec<RoleDto>>(&ok).map(|v| v.len()), Ok(0));
        let bad = Raw {
            status: 200,
            content_type: None,
            text: "nope".into(),
        };
        assert!(matches!(
            decode::<Vec<RoleDto>>(&bad),
            Err(ApiError::Decode(_))
        ));
        let problem = Raw {
            status: 422,
            content_type: Some("application/problem+json".into()),
            text: PROBLEM.into(),
        };
        assert!(matches!(
            decode::<Vec<RoleDto>>(&problem),
            Err(ApiError::Problem(_))
        ));
    }

    #[test]
    fn queries_are_encoded_and_skip_empty_values() {
        assert_eq!(with_query("/staff", &[("cursor", None)]), "/staff");
        assert_eq!(
            with_query(
                "/audit-log",
                &[
                    ("entity", Some("staff")),
                    ("entity_id", Some(" ")),
                    ("cursor", Some("a+b=/c"))
                ]
            ),
            "/audit-log?entity=staff&cursor=a%2Bb%3D%2Fc"
        );
        assert_eq!(encode_query_value("华"), "%E5%8D%8E");
    }

    #[test]
    fn error_status() {
        assert_eq!(ApiError::Status(503).status(), Some(503));
        assert_eq!(ApiError::Network("x".into()).status(), None);
    }
}
