//! Access tokens and who is calling.
//!
//! Access tokens are JWTs signed with HS256 only (the algorithm is pinned; `alg: none` and
//! every other algorithm are refused), carrying `iss`, `aud`, `sub`, `exp`, `iat`, a token type
//! (`typ`) per kind of principal, the session (`sid`) they belong to and a key id in the
//! header. Each request re-checks that the principal is still active and the session still
//! open, so disabling a user or logging out takes effect at once.

use crate::error::ApiError;
use crate::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use dms_core::StoreScope;
use dms_identity::{Customer, Permission, PrincipalKind, StaffPrincipal};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    /// `staff_access`, `customer_access` (later: `device_access`, `client_access`).
    pub typ: String,
    /// The session (refresh-token family) this token belongs to.
    pub sid: String,
}

pub fn token_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Staff => "staff_access",
        PrincipalKind::Customer => "customer_access",
        PrincipalKind::Device => "device_access",
        PrincipalKind::Client => "client_access",
    }
}

pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl: u64,
}

impl TokenKeys {
    pub fn new(cfg: &crate::config::AuthConfig) -> Result<TokenKeys, String> {
        let secret = cfg
            .jwt_secret
            .as_deref()
            .ok_or("no JWT secret configured")?;
        let mut decoding = HashMap::new();
        decoding.insert(
            cfg.jwt_key_id.clone(),
            DecodingKey::from_secret(secret.as_bytes()),
        );
        for (kid, old) in &cfg.previous_jwt_keys {
            decoding.insert(kid.clone(), DecodingKey::from_secret(old.as_bytes()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[cfg.audience.as_str()]);
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Ok(TokenKeys {
            kid: cfg.jwt_key_id.clone(),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding,
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            access_ttl: cfg.access_ttl_secs,
        })
    }

    pub fn issue(
        &self,
        kind: PrincipalKind,
        subject: &str,
        session: &str,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_string(),
            iat: now,
            exp: now + self.access_ttl,
            typ: token_type(kind).to_string(),
            sid: session.to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let bad = || ApiError::Unauthorized("invalid or expired access token");
        let header = decode_header(token).map_err(|_| bad())?;
        if header.alg != Algorithm::HS256 {
            return Err(bad());
        }
        let key = header
            .kid
            .as_ref()
            .and_then(|k| self.decoding.get(k))
            .ok_or_else(bad)?;
        let data = decode::<Claims>(token, key, &self.validation).map_err(|_| bad())?;
        Ok(data.claims)
    }
}

/// Sliding-window counters kept in memory, checked before any password hashing so that a
/// flood of guesses costs the server nothing. Each `dms serve` process counts on its own.
pub struct LoginThrottle {
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
    window: Duration,
}

impl LoginThrottle {
    pub fn new(window: Duration) -> Self {
        LoginThrottle {
            hits: Mutex::new(HashMap::new()),
            window,
        }
    }

    /// Seconds to wait if `key` already has `max` hits in the window.
    pub fn blocked(&self, key: &str, max: usize) -> Option<u64> {
        let mut map = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let q = map.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            q.pop_front();
        }
        if q.len() >= max {
            let oldest = q.front().copied().unwrap_or(now);
            Some(
                self.window
                    .saturating_sub(now.duration_since(oldest))
                    .as_secs()
                    .max(1),
            )
        } else {
            None
        }
    }

    pub fn hit(&self, key: &str) {
        let mut map = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a spray of distinct keys: forget windows that have passed.
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| t.elapsed() <= window));
        }
        map.entry(key.to_string())
            .or_default()
            .push_back(Instant::now());
    }

    /// Takes back one hit: a successful login from a shared address (a store's LAN) should
    /// not use up the allowance that guards against guessing.
    pub fn forgive(&self, key: &str) {
        let mut map = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = map.get_mut(key) {
            q.pop_back();
        }
    }

    pub fn clear(&self, key: &str) {
        let mut map = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

/// The request id the middleware assigned.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

/// Who is calling, established from the bearer token. A card terminal is a `Staff` principal
/// holding only the device-only role in its store; [`Caller::device`] says it is one.
pub enum Principal {
    Staff(StaffPrincipal),
    Customer(Customer),
}

pub struct Caller {
    pub principal: Principal,
    pub session_id: String,
    pub request_id: Option<String>,
    /// Set when the caller is a card terminal.
    pub device: Option<DeviceContext>,
}

/// A card terminal's request: the device and the card whose chip it read for this request.
#[derive(Clone)]
pub struct DeviceContext {
    pub device: dms_identity::Device,
    /// The card of the `X-Card-Uid` header, checked active and unexpired (absent on the few
    /// kiosk endpoints that concern no card).
    pub card: Option<dms_membership::Card>,
}

/// How a kiosk endpoint names the card it concerns, so the terminal's tapped chip can be
/// checked against it before the handler runs.
enum CardBinding {
    /// Concerns no card (logout, the store's bill list, request outcomes).
    None,
    /// The tapped card itself (summary, and bodies naming `card_id`, which the handler checks
    /// with [`Staff::check_card`]).
    Tapped,
    CardPath(String),
    MemberPath(String),
    CheckoutPath(String),
    Lookup {
        number: Option<String>,
        chip_uid: Option<String>,
    },
    CardQuery(Option<String>),
}

fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The only endpoints a card terminal may call, and how each names its card. Everything else
/// is 403 for a device token.
fn kiosk_route(req: &HttpRequest) -> Option<CardBinding> {
    let pattern = req.match_pattern()?;
    let path = pattern.strip_prefix("/api/v1").unwrap_or(&pattern);
    let id = || req.match_info().get("id").unwrap_or_default().to_string();
    let get = req.method() == actix_web::http::Method::GET;
    let post = req.method() == actix_web::http::Method::POST;
    Some(match path {
        "/auth/logout" if post => CardBinding::None,
        "/me" if get => CardBinding::None,
        "/kiosk/requests/{key}" if get => CardBinding::None,
        "/bills" if get => CardBinding::None,
        "/bills/{id}" if get => CardBinding::None,
        "/kiosk/summary" if get => CardBinding::Tapped,
        // A top-up the kiosk asks for; the cashier confirms it once the money is in hand.
        "/kiosk/top-up-requests" if post => CardBinding::Tapped,
        "/kiosk/top-up-requests/{id}" if get => CardBinding::None,
        "/kiosk/top-up-requests/{id}/cancel" if post => CardBinding::None,
        "/checkouts/quote" | "/checkouts" | "/bills/{id}/pay" if post => CardBinding::Tapped,
        "/checkouts" if get => CardBinding::CardQuery(query_value(req, "card_id")),
        "/cards/lookup" if get => CardBinding::Lookup {
            number: query_value(req, "number"),
            chip_uid: query_value(req, "chip_uid"),
        },
        "/cards/{id}" if get => CardBinding::CardPath(id()),
        // Not top-ups: the terminal cannot see the cash or the bank-card slip, so a stolen
        // device token must not be able to credit a card. It asks; the cashier confirms.
        "/cards/{id}/pin/verify" if post => CardBinding::CardPath(id()),
        "/members/{id}" | "/members/{id}/points" | "/members/{id}/coupons" if get => {
            CardBinding::MemberPath(id())
        }
        "/checkouts/{id}/receipt" if get => CardBinding::CheckoutPath(id()),
        _ => return None,
    })
}

fn uid_mismatch(what: &str) -> ApiError {
    ApiError::Rule {
        status: actix_web::http::StatusCode::CONFLICT,
        code: "card_uid_mismatch",
        title: format!("the card read at the terminal is not the {what} this request names"),
        field: Some(crate::error::field_error(
            dms_api_types::devices::CARD_UID_HEADER,
            "card_uid_mismatch",
            "the chip UID read does not belong to this card",
        )),
    }
}

fn uid_required() -> ApiError {
    ApiError::invalid(
        dms_api_types::devices::CARD_UID_HEADER,
        "card_uid_required",
        "a card terminal sends the chip UID it read with every request about a card",
    )
}

/// The chip UID as cards store it: hex digits, upper case.
fn card_uid(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(dms_api_types::devices::CARD_UID_HEADER) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| uid_required())?.trim();
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            dms_api_types::devices::CARD_UID_HEADER,
            "invalid",
            "hex digits, at most 32",
        ));
    }
    Ok(Some(v.to_ascii_uppercase()))
}

/// Loads an active device and checks its request's card: the tapped chip must name the card,
/// member or checkout the request is about, and the card must be usable.
fn device_context(
    conn: &mut dms_db::DbConnection,
    device_id: &str,
    binding: &CardBinding,
    uid: Option<&str>,
) -> Result<Option<DeviceContext>, ApiError> {
    let Some(device) = dms_identity::load_active_device(conn, device_id)? else {
        return Ok(None);
    };
    let scope = StoreScope::Stores(vec![device.store_id.clone()]);
    let card = match (binding, uid) {
        (CardBinding::None, _) => None,
        (_, None) => return Err(uid_required()),
        (_, Some(uid)) => Some(dms_membership::pending_bills::tapped_card(
            conn,
            &scope,
            &dms_core::SystemClock,
            uid,
        )?),
    };
    if let Some(c) = &card {
        let ok = match binding {
            CardBinding::None | CardBinding::Tapped => true,
            CardBinding::CardPath(id) => *id == c.id,
            CardBinding::MemberPath(id) => *id == c.member_id,
            CardBinding::CardQuery(id) => id.as_deref() == Some(c.id.as_str()),
            CardBinding::Lookup { number, chip_uid } => {
                number.as_ref().is_none_or(|n| *n == c.card_no)
                    && chip_uid.as_ref().is_none_or(|u| {
                        c.chip_uid
                            .as_ref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(u))
                    })
            }
            CardBinding::CheckoutPath(id) => {
                dms_membership::pending_bills::card_of_checkout(conn, &scope, id)?.as_deref()
                    == Some(c.id.as_str())
            }
        };
        if !ok {
            return Err(uid_mismatch(match binding {
                CardBinding::MemberPath(_) => "member",
                CardBinding::CheckoutPath(_) => "checkout",
                _ => "card",
            }));
        }
    }
    Ok(Some(DeviceContext { device, card }))
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized("missing bearer token"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(ApiError::Unauthorized("missing bearer token"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("missing bearer token"));
    }
    Ok(token.trim().to_string())
}

/// A bearer token whose signature, expiry and type are checked, with what the request says
/// about a kiosk's card; [`CallerToken::resolve`] then loads who it is from the database. Kept
/// apart so that a hot endpoint can resolve the caller on the connection its own work uses
/// ([`StaffToken`]), in one trip to the blocking pool instead of two.
pub struct CallerToken {
    claims: Claims,
    kind: PrincipalKind,
    request_id: Option<String>,
    binding: Option<CardBinding>,
    uid: Result<Option<String>, ApiError>,
}

impl CallerToken {
    fn from_request(req: &HttpRequest) -> Result<CallerToken, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::Internal("no app state".into()))?;
        let claims = state.keys.verify(&bearer(req)?)?;
        let kind = match claims.typ.as_str() {
            "staff_access" => PrincipalKind::Staff,
            "customer_access" => PrincipalKind::Customer,
            "device_access" => PrincipalKind::Device,
            _ => return Err(ApiError::Unauthorized("this token cannot be used here")),
        };
        Ok(CallerToken {
            claims,
            kind,
            request_id: request_id(req),
            binding: kiosk_route(req),
            uid: card_uid(req),
        })
    }

    /// Who is calling: the session must be live and the principal active (401 otherwise).
    pub fn resolve(self, conn: &mut dms_db::DbConnection) -> Result<Caller, ApiError> {
        let CallerToken {
            claims,
            kind,
            request_id,
            binding,
            uid,
        } = self;
        let (principal, device) = if kind == PrincipalKind::Staff {
            // The common case, in one query: session live, user active, grants.
            let p = dms_identity::load_live_staff_principal(conn, &claims.sub, &claims.sid)?;
            (p.map(Principal::Staff), None)
        } else if !dms_identity::family_is_live(conn, kind, &claims.sub, &claims.sid)? {
            (None, None)
        } else {
            match kind {
                PrincipalKind::Device => {
                    let Some(binding) = binding else {
                        return Err(ApiError::Forbidden(
                            "a card terminal may use only the kiosk's endpoints".into(),
                        ));
                    };
                    let uid = uid?;
                    match device_context(conn, &claims.sub, &binding, uid.as_deref())? {
                        Some(d) => (Some(Principal::Staff(d.device.principal())), Some(d)),
                        None => (None, None),
                    }
                }
                PrincipalKind::Customer => (
                    match dms_identity::get_customer(conn, &StoreScope::AllStores, &claims.sub) {
                        Ok(c) => Some(Principal::Customer(c)),
                        Err(dms_identity::IdentityError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None,
                ),
                // Staff tokens were answered above; clients have no access tokens here.
                PrincipalKind::Staff | PrincipalKind::Client => (None, None),
            }
        };
        let principal =
            principal.ok_or(ApiError::Unauthorized("session ended or account disabled"))?;
        Ok(Caller {
            principal,
            session_id: claims.sid,
            request_id,
            device,
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = CallerToken::from_request(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            state.db(move |conn| token.resolve(conn)).await
        })
    }
}

/// A staff caller, or a card terminal (with its device-only role); customer tokens get 403.
pub struct Staff {
    pub principal: StaffPrincipal,
    pub session_id: String,
    pub request_id: Option<String>,
    pub device: Option<DeviceContext>,
}

impl Staff {
    /// The stores where the caller holds `p`; 403 when none.
    pub fn require(&self, p: Permission) -> Result<StoreScope, ApiError> {
        let scope = self.principal.scope(p);
        if scope.is_empty() {
            Err(ApiError::Forbidden(format!("requires permission {p}")))
        } else {
            Ok(scope)
        }
    }

    pub fn actor(&self) -> dms_identity::Actor {
        match &self.device {
            Some(d) => d.device.actor(self.request_id.clone()),
            None => self.principal.actor(self.request_id.clone()),
        }
    }

    /// For a card terminal: the body's `card_id` must be the card whose chip it read, and the
    /// `terminal_id` it records must be its own. Staff pass.
    pub fn check_card(&self, card_id: &str, terminal_id: Option<&str>) -> Result<(), ApiError> {
        let Some(d) = &self.device else {
            return Ok(());
        };
        if d.card.as_ref().is_none_or(|c| c.id != card_id) {
            return Err(uid_mismatch("card"));
        }
        if terminal_id.is_some_and(|t| t != d.device.id) {
            // Recorded on the checkout and the ledger: never another terminal's id.
            return Err(ApiError::invalid(
                "terminal_id",
                "invalid",
                "a card terminal records its own device id",
            ));
        }
        Ok(())
    }

    /// A card terminal authorises every payment with the card PIN.
    pub fn require_pin(&self, has_pin: bool) -> Result<(), ApiError> {
        if self.device.is_some() && !has_pin {
            return Err(ApiError::invalid(
                "pin",
                "required",
                "a card terminal pays only with the card PIN",
            ));
        }
        Ok(())
    }

    /// The terminal to record on a checkout: the device itself, else what the body says.
    pub fn terminal_id(&self, from_body: Option<&str>) -> Option<String> {
        match &self.device {
            Some(d) => Some(d.device.id.clone()),
            None => from_body.map(str::to_string),
        }
    }
}

impl TryFrom<Caller> for Staff {
    type Error = ApiError;

    fn try_from(c: Caller) -> Result<Staff, ApiError> {
        match c.principal {
            Principal::Staff(p) => Ok(Staff {
                principal: p,
                session_id: c.session_id,
                request_id: c.request_id,
                device: c.device,
            }),
            Principal::Customer(_) => Err(ApiError::Forbidden("staff only".into())),
        }
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move { Staff::try_from(caller.await?) })
    }
}

/// A staff (or card terminal) token checked but not yet looked up: the handler resolves it
/// with [`AppState::db_write_as_staff`] on the connection its own work uses. For the payment hot
/// path, where a second trip to the blocking pool and a second pooled connection cost more
/// than the work itself.
pub struct StaffToken(CallerToken);

impl FromRequest for StaffToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(CallerToken::from_request(req).map(StaffToken))
    }
}

/// The staff callers of a batch of requests, each session looked up once per batch (a card
/// terminal's context belongs to its request and is looked up every time).
#[derive(Default)]
pub struct BatchCallers(std::collections::HashMap<(String, String), StaffPrincipal>);

impl BatchCallers {
    pub fn resolve(
        &mut self,
        token: StaffToken,
        conn: &mut dms_db::DbConnection,
    ) -> Result<Staff, ApiError> {
        let t = token.0;
        let key =
            (t.kind == PrincipalKind::Staff).then(|| (t.claims.sub.clone(), t.claims.sid.clone()));
        if let Some(principal) = key.as_ref().and_then(|k| self.0.get(k)) {
            return Ok(Staff {
                principal: principal.clone(),
                session_id: t.claims.sid,
                request_id: t.request_id,
                device: None,
            });
        }
        let staff = Staff::try_from(t.resolve(conn)?)?;
        if let (Some(k), None) = (key, &staff.device) {
            self.0.insert(k, staff.principal.clone());
        }
        Ok(staff)
    }
}

impl AppState {
    /// As [`AppState::db_write`], for a handler taking a [`StaffToken`]: resolves the caller
    /// first, on the same connection, then runs `f`. Errors as the [`Staff`] extractor would
    /// (401, 403 for a customer) come before anything `f` does.
    pub async fn db_write_as_staff<T, F>(&self, token: StaffToken, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Staff, &mut dms_db::DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.db_write(move |conn| {
            let staff = Staff::try_from(token.0.resolve(conn)?)?;
            f(staff, conn)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_blocks_after_max_and_clears() {
        let t = LoginThrottle::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.blocked("k", 3).is_none());
            t.hit("k");
        }
        assert!(t.blocked("k", 3).is_some());
        assert!(t.blocked("other", 3).is_none());
        t.forgive("k");
        assert!(
            t.blocked("k", 3).is_none(),
            "a forgiven hit no longer counts"
        );
        t.hit("k");
        t.clear("k");
        assert!(t.blocked("k", 3).is_none());
    }
}
