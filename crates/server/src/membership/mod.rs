//! The member club's endpoints (cards, top-up, checkout, points, coupons, gifts) and its daily tier job.
//!
//! Owned as a unit: `Settings` is the `[membership]` section of the configuration, `DomainState` what
//! its handlers need at run time, `configure` registers its handlers under `/api/v1`, and
//! `start_jobs` its background work. Handlers are thin: the rules, the ledgers and idempotency
//! are `dms_membership`'s; here are permissions, the HTTP shapes and the error mapping
//! ([`error`]).
//!
//! Permissions: reading needs `membership.read` (or the customer's own token for their own
//! cards, points, coupons and transactions); card lifecycle, PINs, coupon issue and renewals
//! `membership.cards`; top-ups `membership.topup`; quotes, checkouts, gift redemptions and
//! entitlement uses `membership.checkout`; voids, card returns (refunds) and coupon voids
//! `membership.void`; discount overrides and manual points adjustments `membership.override`;
//! the programme, coupon templates, segment issues and the gift catalogue `membership.config`.

mod admin;
pub mod bills;
mod cards;
mod dto;
pub mod error;
mod loyalty;
mod members;
pub mod money;
mod pin;
mod seed;
mod statistics;
pub mod top_up_requests;
mod transfer;

use crate::config::EnvLookup;
use crate::error::ApiError;
use dms_membership::PinPolicy;
use serde::Deserialize;

/// The `[membership]` section of `dms.toml`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Secret mixed into every card PIN hash (argon2id), kept out of the database; at least 16
    /// characters. Without it the PIN endpoints answer 503 `pin_unavailable`.
    pub pin_pepper: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "pin_pepper",
                &self.pin_pepper.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

pub const PIN_PEPPER_ENV: &str = "DMS_PIN_PEPPER";

impl Settings {
    /// `DMS_*` variables that override this section.
    pub fn apply_env(&mut self, env: &EnvLookup<'_>) -> Result<(), String> {
        if let Some(v) = env(PIN_PEPPER_ENV) {
            self.pin_pepper = Some(v);
        }
        if let Some(p) = &self.pin_pepper {
            if p.chars().count() < 16 {
                return Err("membership.pin_pepper must be at least 16 characters".into());
            }
        }
        Ok(())
    }
}

/// What the handlers need besides the pool, built once at start.
pub struct DomainState {
    pin: Option<PinPolicy>,
}

impl DomainState {
    pub fn new(settings: &Settings) -> Result<DomainState, String> {
        let pin = match &settings.pin_pepper {
            Some(p) if p.chars().count() < 16 => {
                return Err("membership.pin_pepper must be at least 16 characters".into())
            }
            Some(p) => Some(PinPolicy::new(p.as_bytes().to_vec()).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(DomainState { pin })
    }

    /// The PIN policy, or 503 `pin_unavailable` when no pepper is configured.
    pub fn pin_policy(&self) -> Result<PinPolicy, ApiError> {
        self.pin.clone().ok_or_else(|| ApiError::Rule {
            status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            code: "pin_unavailable",
            title: "card PINs are not configured on this server (membership.pin_pepper)".into(),
            field: None,
        })
    }
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    transfer::configure(cfg);
    cfg.service(admin::get_programme)
        .service(admin::set_programme)
        .service(statistics::statistics)
        .service(statistics::export)
        .service(members::join)
        .service(members::list)
        .service(members::get)
        .service(members::customer_membership)
        .service(members::cards_of_member)
        .service(members::renew)
        .service(members::upgrade_with_points)
        .service(cards::issue)
        .service(cards::issue_batch)
        .service(cards::lookup)
        .service(cards::get)
        .service(cards::report_lost)
        .service(cards::unblock)
        .service(cards::freeze)
        .service(cards::change_expiry)
        .service(cards::replace)
        .service(cards::return_card)
        .service(cards::transactions)
        .service(money::top_up)
        .service(money::quote)
        .service(money::checkout)
        .service(money::void)
        .service(money::receipt)
        .service(money::list_checkouts)
        .service(pin::set_pin)
        .service(pin::reset_pin)
        .service(pin::verify_pin)
        .service(loyalty::points)
        .service(loyalty::points_transactions)
        .service(loyalty::adjust_points)
        .service(loyalty::create_template)
        .service(loyalty::list_templates)
        .service(loyalty::issue_coupon)
        .service(loyalty::issue_segment)
        .service(loyalty::member_coupons)
        .service(loyalty::void_coupon)
        .service(loyalty::create_gift)
        .service(loyalty::list_gifts)
        .service(loyalty::restock_gift)
        .service(loyalty::redeem_gift)
        .service(loyalty::entitlements)
        .service(loyalty::use_entitlement);
}

/// Background work for `dms serve` (not for tests, which call the domain directly): bonus and
/// points expiry, tier upgrades and expiries, and forgetting idempotency keys after 72 hours,
/// daily at 03:00 (and once at start).
pub fn start_jobs(state: &actix_web::web::Data<crate::AppState>) {
    transfer::fail_interrupted(&state.pool);
    let pool = state.pool.clone();
    let at = chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap_or_default();
    crate::jobs::daily("membership-daily", at, move |_today| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let r = dms_membership::run_daily(&mut conn, &dms_core::SystemClock)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{} upgraded, {} expired, {} bonus lots expired, {} points expired, {} idempotency keys purged",
            r.tiers.upgraded,
            r.tiers.expired,
            r.bonus_lots_expired,
            r.points_expired,
            r.idempotency_keys_purged
        ))
    });
}

/// Demo data for `dms seed-demo` / `dms serve --demo`, loaded after the stores, staff and
/// customers of [`crate::seed`]; returns a one-line summary.
pub fn seed_demo(
    conn: &mut dms_db::DbConnection,
    demo: &crate::seed::DemoOrg,
) -> Result<String, String> {
    seed::seed_demo(conn, demo).map_err(|e| format!("membership demo data: {e}"))
}
