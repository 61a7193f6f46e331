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

/// Who is calling, established from the bearer token.
pub enum Principal {
    Staff(StaffPrincipal),
    Customer(Customer),
}

pub struct Caller {
    pub principal: Principal,
    pub session_id: String,
    pub request_id: Option<String>,
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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let rid = request_id(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let claims = state.keys.verify(&token?)?;
            let kind = match claims.typ.as_str() {
                "staff_access" => PrincipalKind::Staff,
                "customer_access" => PrincipalKind::Customer,
                _ => return Err(ApiError::Unauthorized("this token cannot be used here")),
            };
            let pool = state.pool.clone();
            let session_id = claims.sid.clone();
            let principal = web::block(move || -> Result<Option<Principal>, ApiError> {
                let mut conn = pool.get()?;
                if !dms_identity::family_is_live(&mut conn, kind, &claims.sub, &claims.sid)? {
                    return Ok(None);
                }
                Ok(match kind {
                    PrincipalKind::Staff => {
                        dms_identity::load_staff_principal(&mut conn, &claims.sub)?
                            .map(Principal::Staff)
                    }
                    PrincipalKind::Customer => {
                        match dms_identity::get_customer(
                            &mut conn,
                            &StoreScope::AllStores,
                            &claims.sub,
                        ) {
                            Ok(c) => Some(Principal::Customer(c)),
                            Err(dms_identity::IdentityError::NotFound(_)) => None,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    PrincipalKind::Device | PrincipalKind::Client => None,
                })
            })
            .await??;
            let principal =
                principal.ok_or(ApiError::Unauthorized("session ended or account disabled"))?;
            Ok(Caller {
                principal,
                session_id,
                request_id: rid,
            })
        })
    }
}

/// A staff caller; customer tokens get 403 here.
pub struct Staff {
    pub principal: StaffPrincipal,
    pub session_id: String,
    pub request_id: Option<String>,
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
        self.principal.actor(self.request_id.clone())
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let c = caller.await?;
            match c.principal {
                Principal::Staff(p) => Ok(Staff {
                    principal: p,
                    session_id: c.session_id,
                    request_id: c.request_id,
                }),
                Principal::Customer(_) => Err(ApiError::Forbidden("staff only".into())),
            }
        })
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
