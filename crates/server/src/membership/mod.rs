//! The member club's endpoints (cards, top-up, checkout, points, coupons, gifts) and its daily tier job.
//!
//! Owned as a unit: `Settings` is the `[membership]` section of the configuration, `DomainState` what
//! its handlers need at run time, `configure` registers its handlers under `/api/v1`, and
//! `start_jobs` its background work.

use crate::config::EnvLookup;
use serde::Deserialize;

/// The `[membership]` section of `dms.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

impl Settings {
    /// `DMS_*` variables that override this section.
    pub fn apply_env(&mut self, _env: &EnvLookup<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// What the handlers need besides the pool, built once at start.
pub struct DomainState {}

impl DomainState {
    pub fn new(_settings: &Settings) -> Result<DomainState, String> {
        Ok(DomainState {})
    }
}

pub fn configure(_cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {}

/// Background work for `dms serve` (not for tests, which call the domain directly).
pub fn start_jobs(_state: &actix_web::web::Data<crate::AppState>) {}

/// Demo data for `dms seed-demo` / `dms serve --demo`, loaded after the stores, staff and
/// customers of [`crate::seed`]; returns a one-line summary.
pub fn seed_demo(
    _conn: &mut dms_db::DbConnection,
    _demo: &crate::seed::DemoOrg,
) -> Result<String, String> {
    Ok(String::new())
}
