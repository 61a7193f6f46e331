//! The kiosk's REST client: the same API as every other client, with the terminal's device
//! token, and the chip UID it read in `X-Card-Uid` on every request about a card.
//!
//! Failures are sorted by what they mean for money: [`ApiError::Unreachable`] (the request
//! never left: nothing can have happened), [`ApiError::Unknown`] (it may have reached the
//! server: the journal must find out), and [`ApiError::Problem`] (the server answered no).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dms_api_types::devices::{
    BillPage, DeviceDto, DeviceLoginResponse, KioskSummaryDto, PayBillRequest, RequestOutcomeDto,
    CARD_UID_HEADER,
};
pub use dms_api_types::devices::{KioskTopUpRequest, TopUpRequestDto};
use dms_api_types::membership::{
    CheckoutPage, CheckoutRequest, CheckoutSummaryDto, PricedBasketDto, QuoteRequest, ReceiptDto,
};
use dms_api_types::TokenResponse;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a request came to, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Could not connect: the request was never sent.
    Unreachable(String),
    /// Sent, but no answer came back (timeout, dropped connection): outcome unknown.
    Unknown(String),
    /// The server answered with a problem.
    Problem {
        status: u16,
        code: String,
        title: String,
        /// The first field the problem names (`redeem_points`, `coupons`), if any.
        field: Option<String>,
        /// The request already waiting, on a 409 `top_up_request_pending`.
        pending_request_id: Option<String>,
    },
    /// The terminal is not (or no longer) paired.
    NotPaired,
    /// The answer was not what the API documents.
    Decode(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(e) => write!(f, "server unreachable: {e}"),
            ApiError::Unknown(e) => write!(f, "no answer: {e}"),
            ApiError::Problem {
                status,
                code,
                title,
                ..
            } => write!(f, "{status} {code}: {title}"),
            ApiError::NotPaired => f.write_str("not paired"),
            ApiError::Decode(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

impl ApiError {
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Problem { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The field the server named, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Problem { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// The terminal's session, kept in `tokens.json` (mode 0600) between starts.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub device: DeviceDto,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("device", &self.device.id)
            .finish_non_exhaustive()
    }
}

/// Writes the file readable by its owner only, atomically (a crash leaves the old tokens).
pub fn save_tokens(path: &Path, tokens: &Tokens) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(tokens).map_err(std::io::Error::other)?;
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

pub fn load_tokens(path: &Path) -> Option<Tokens> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

pub struct Api {
    base: String,
    agent: ureq::Agent,
    tokens: Option<Tokens>,
    tokens_path: PathBuf,
}

enum Method {
    Get,
    Post,
}

impl Api {
    pub fn new(base: &str, tokens_path: PathBuf) -> Api {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .build();
        Api {
            base: base.trim_end_matches('/').to_string(),
            agent,
            tokens: load_tokens(&tokens_path),
            tokens_path,
        }
    }

    pub fn device(&self) -> Option<&DeviceDto> {
        self.tokens.as_ref().map(|t| &t.device)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    fn store(&mut self, t: Tokens) -> Result<(), ApiError> {
        save_tokens(&self.tokens_path, &t)
            .map_err(|e| ApiError::Decode(format!("saving tokens: {e}")))?;
        self.tokens = Some(t);
        Ok(())
    }

    /// First start: the manager's pairing code for this terminal.
    pub fn pair(&mut self, code: &str) -> Result<DeviceDto, ApiError> {
        let r = self
            .agent
            .post(&self.url("/auth/device"))
            .send_json(serde_json::json!({ "code": code }));
        let v: DeviceLoginResponse = decode(r)?;
        let device = v.device.clone();
        self.store(Tokens {
            access_token: v.access_token,
            refresh_token: v.refresh_token,
            access_expires_at: Utc::now() + chrono::Duration::seconds(v.expires_in as i64),
            device: v.device,
        })?;
        Ok(device)
    }

    fn refresh(&mut self) -> Result<(), ApiError> {
        let Some(t) = self.tokens.clone() else {
            return Err(ApiError::NotPaired);
        };
        let r = self
            .agent
            .post(&self.url("/auth/refresh"))
            .send_json(serde_json::json!({ "refresh_token": t.refresh_token }));
        match decode::<TokenResponse>(r) {
            Ok(v) => self.store(Tokens {
                access_token: v.access_token,
                refresh_token: v.refresh_token,
                access_expires_at: Utc::now() + chrono::Duration::seconds(v.expires_in as i64),
                device: t.device,
            }),
            Err(ApiError::Problem { status: 401, .. }) => {
                // Revoked or replaced: pair again.
                self.tokens = None;
                let _ = std::fs::remove_file(&self.tokens_path);
                Err(ApiError::NotPaired)
            }
            Err(e) => Err(e),
        }
    }

    fn access(&mut self) -> Result<String, ApiError> {
        let expiring = match &self.tokens {
            None => return Err(ApiError::NotPaired),
            Some(t) => t.access_expires_at - chrono::Duration::seconds(60) < Utc::now(),
        };
        if expiring {
            self.refresh()?;
        }
        self.tokens
            .as_ref()
            .map(|t| t.access_token.clone())
            .ok_or(ApiError::NotPaired)
    }

    fn call<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        uid: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let mut refreshed = false;
        loop {
            let token = self.access()?;
            let mut req = match method {
                Method::Get => self.agent.get(&self.url(path)),
                Method::Post => self.agent.post(&self.url(path)),
            }
            .set("Authorization", &format!("Bearer {token}"));
            if let Some(u) = uid {
                req = req.set(CARD_UID_HEADER, u);
            }
            if let Some(k) = key {
                req = req.set("Idempotency-Key", k);
            }
            let r = match body {
                Some(b) => req.send_json(b),
                None => req.call(),
            };
            match decode(r) {
                // A 401 moved nothing: refresh once and send again (same key).
                Err(ApiError::Problem { status: 401, .. }) if !refreshed => {
                    refreshed = true;
                    self.refresh()?;
                }
                other => return other,
            }
        }
    }

    pub fn summary(&mut self, uid: &str) -> Result<KioskSummaryDto, ApiError> {
        self.call(Method::Get, "/kiosk/summary", Some(uid), None, None)
    }

    /// Checks the printed number (read from the card's sector) against the chip: the server
    /// refuses a number that is not this chip's card.
    pub fn lookup_number(&mut self, uid: &str, number: &str) -> Result<Value, ApiError> {
        let path = format!("/cards/lookup?number={}", urlencode(number));
        self.call(Method::Get, &path, Some(uid), None, None)
    }

    pub fn bills(&mut self, card_id: &str) -> Result<BillPage, ApiError> {
        let path = format!("/bills?card_id={card_id}&limit=9");
        self.call(Method::Get, &path, None, None, None)
    }

    pub fn quote(&mut self, uid: &str, q: &QuoteRequest) -> Result<PricedBasketDto, ApiError> {
        let body = serde_json::to_value(q).map_err(|e| ApiError::Decode(e.to_string()))?;
        self.call(
            Method::Post,
            "/checkouts/quote",
            Some(uid),
            None,
            Some(&body),
        )
    }

    /// The body holds the PIN: it is serialised here, sent, and dropped with the body.
    pub fn checkout(
        &mut self,
        uid: &str,
        key: &str,
        c: &CheckoutRequest,
    ) -> Result<ReceiptDto, ApiError> {
        let body = serde_json::to_value(c).map_err(|e| ApiError::Decode(e.to_string()))?;
        self.call(
            Method::Post,
            "/checkouts",
            Some(uid),
            Some(key),
            Some(&body),
        )
    }

    pub fn pay_bill(
        &mut self,
        uid: &str,
        key: &str,
        bill_id: &str,
        p: &PayBillRequest,
    ) -> Result<ReceiptDto, ApiError> {
        let body = serde_json::to_value(p).map_err(|e| ApiError::Decode(e.to_string()))?;
        let path = format!("/bills/{bill_id}/pay");
        self.call(Method::Post, &path, Some(uid), Some(key), Some(&body))
    }

    /// Asks the cashier to top up the tapped card: nothing moves until a cashier confirms
    /// (`POST /kiosk/top-up-requests`, with the journal's key).
    pub fn request_top_up(
        &mut self,
        uid: &str,
        key: &str,
        r: &KioskTopUpRequest,
    ) -> Result<TopUpRequestDto, ApiError> {
        let body = serde_json::to_value(r).map_err(|e| ApiError::Decode(e.to_string()))?;
        self.call(
            Method::Post,
            "/kiosk/top-up-requests",
            Some(uid),
            Some(key),
            Some(&body),
        )
    }

    /// Where a top-up request stands (polled while the member waits).
    pub fn top_up_request(&mut self, id: &str) -> Result<TopUpRequestDto, ApiError> {
        let path = format!("/kiosk/top-up-requests/{}", urlencode(id));
        self.call(Method::Get, &path, None, None, None)
    }

    /// Withdraws a pending top-up request (the member pressed Esc).
    pub fn cancel_top_up_request(&mut self, id: &str) -> Result<TopUpRequestDto, ApiError> {
        let path = format!("/kiosk/top-up-requests/{}/cancel", urlencode(id));
        self.call(
            Method::Post,
            &path,
            None,
            None,
            Some(&serde_json::json!({})),
        )
    }

    /// The card's latest checkout, if any (for the card face).
    pub fn last_checkout(
        &mut self,
        uid: &str,
        card_id: &str,
    ) -> Result<Option<CheckoutSummaryDto>, ApiError> {
        let page: CheckoutPage = self.call(
            Method::Get,
            &format!("/checkouts?card_id={card_id}&limit=1"),
            Some(uid),
            None,
            None,
        )?;
        Ok(page.items.into_iter().next())
    }

    /// The card's latest checkout receipt, for a reprint.
    pub fn last_receipt(
        &mut self,
        uid: &str,
        card_id: &str,
    ) -> Result<Option<ReceiptDto>, ApiError> {
        let page: CheckoutPage = self.call(
            Method::Get,
            &format!("/checkouts?card_id={card_id}&limit=1"),
            Some(uid),
            None,
            None,
        )?;
        let Some(first) = page.items.first() else {
            return Ok(None);
        };
        let path = format!("/checkouts/{}/receipt", first.id);
        self.call(Method::Get, &path, Some(uid), None, None)
            .map(Some)
    }

    pub fn outcome(&mut self, key: &str) -> Result<RequestOutcomeDto, ApiError> {
        self.call(
            Method::Get,
            &format!("/kiosk/requests/{key}"),
            None,
            None,
            None,
        )
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn decode<T: DeserializeOwned>(r: Result<ureq::Response, ureq::Error>) -> Result<T, ApiError> {
    match r {
        Ok(resp) => resp
            .into_json::<T>()
            .map_err(|e| ApiError::Unknown(format!("reading the answer: {e}"))),
        Err(ureq::Error::Status(status, resp)) => {
            let v: Value = resp.into_json().unwrap_or(Value::Null);
            Err(ApiError::Problem {
                status,
                code: v["code"].as_str().unwrap_or("error").to_string(),
                title: v["title"].as_str().unwrap_or_default().to_string(),
                field: v["errors"][0]["field"].as_str().map(str::to_string),
                pending_request_id: v["pending_request_id"].as_str().map(str::to_string),
            })
        }
        Err(ureq::Error::Transport(t)) => match t.kind() {
            ureq::ErrorKind::ConnectionFailed
            | ureq::ErrorKind::Dns
            | ureq::ErrorKind::InvalidUrl => Err(ApiError::Unreachable(t.to_string())),
            _ => Err(ApiError::Unknown(t.to_string())),
        },
    }
}
