//! Configuration: built-in defaults, then a TOML file (`--config FILE`, `DMS_CONFIG`, or
//! `./dms.toml` when present), then `DMS_*` environment variables. Secrets have no default:
//! they must come from the file or the environment.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A SQLite file path (default `./data/dms.sqlite3`) or `postgres://...`.
    pub database_url: String,
    /// Pool size (SQLite is capped at 8).
    pub database_pool_size: u32,
    /// Address to listen on.
    pub listen: String,
    /// Folder with the built web app (`frontend/dist`).
    pub web_root: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads for HTTP (0: one per core).
    pub workers: usize,
    pub auth: AuthConfig,
    pub customer_login: CustomerLoginConfig,
    pub membership: crate::membership::Settings,
    pub crm: crate::crm::Settings,
}

/// Reads one `DMS_*` variable (the real environment, or a map in tests).
pub type EnvLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 signing secret for access tokens, at least 32 characters.
    pub jwt_secret: Option<String>,
    /// Key id written into each token's header; change it together with the secret.
    pub jwt_key_id: String,
    /// Old keys still accepted while their tokens expire: `{ kid = "secret" }`.
    pub previous_jwt_keys: std::collections::BTreeMap<String, String>,
    pub issuer: String,
    pub audience: String,
    /// Access token lifetime in seconds (at most 900).
    pub access_ttl_secs: u64,
    /// Refresh token lifetime in hours.
    pub refresh_ttl_hours: i64,
    /// Failed logins per account within `login_window_secs` before 429.
    pub login_max_failures_per_account: usize,
    /// Login attempts per client address within `login_window_secs` before 429.
    pub login_max_attempts_per_address: usize,
    pub login_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerLoginConfig {
    /// `file` writes each SMS as a JSON line to `outbox_file` (until the CRM outbox sends real
    /// SMS); `none` turns customer login off.
    pub sender: String,
    pub outbox_file: PathBuf,
    /// Secret mixed into stored login-code hashes, at least 16 characters.
    pub code_pepper: Option<String>,
    /// Shown in the SMS, e.g. 华通汽车.
    pub brand: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "./data/dms.sqlite3".into(),
            database_pool_size: 8,
            listen: "127.0.0.1:8080".into(),
            web_root: PathBuf::from("frontend/dist"),
            max_body_bytes: 256 * 1024,
            workers: 0,
            auth: AuthConfig::default(),
            customer_login: CustomerLoginConfig::default(),
            membership: Default::default(),
            crm: Default::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            jwt_key_id: "k1".into(),
            previous_jwt_keys: Default::default(),
            issuer: "dms".into(),
            audience: "dms-api".into(),
            access_ttl_secs: 900,
            refresh_ttl_hours: 24 * 7,
            login_max_failures_per_account: 5,
            login_max_attempts_per_address: 30,
            login_window_secs: 900,
        }
    }
}

impl Default for CustomerLoginConfig {
    fn default() -> Self {
        CustomerLoginConfig {
            sender: "file".into(),
            outbox_file: PathBuf::from("data/sms-outbox.jsonl"),
            code_pepper: None,
            brand: "4S会员".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Loads the file (if any) and applies `DMS_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let explicit = file
            .map(Path::to_path_buf)
            .or_else(|| env("DMS_CONFIG").map(PathBuf::from));
        let path = explicit.clone().or_else(|| {
            let p = PathBuf::from("dms.toml");
            p.exists().then_some(p)
        });
        let mut cfg = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(&p).map_err(|e| ConfigError::Read(p.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(p.clone(), e))?
            }
            None => Config::default(),
        };
        let num = |name: &str, v: String| -> Result<u64, ConfigError> {
            v.parse()
                .map_err(|_| ConfigError::Invalid(format!("{name} must be a number")))
        };
        if let Some(v) = env("DMS_DATABASE_URL") {
            cfg.database_url = v;
        }
        if let Some(v) = env("DMS_LISTEN") {
            cfg.listen = v;
        }
        if let Some(v) = env("DMS_WEB_ROOT") {
            cfg.web_root = PathBuf::from(v);
        }
        if let Some(v) = env("DMS_WORKERS") {
            cfg.workers = num("DMS_WORKERS", v)? as usize;
        }
        if let Some(v) = env("DMS_JWT_SECRET") {
            cfg.auth.jwt_secret = Some(v);
        }
        if let Some(v) = env("DMS_JWT_KEY_ID") {
            cfg.auth.jwt_key_id = v;
        }
        if let Some(v) = env("DMS_CODE_PEPPER") {
            cfg.customer_login.code_pepper = Some(v);
        }
        if let Some(v) = env("DMS_SMS_OUTBOX_FILE") {
            cfg.customer_login.outbox_file = PathBuf::from(v);
        }
        if let Some(v) = env("DMS_LOGIN_MAX_ATTEMPTS_PER_ADDRESS") {
            cfg.auth.login_max_attempts_per_address =
                num("DMS_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", v)? as usize;
        }
        cfg.membership
            .apply_env(&env)
            .map_err(ConfigError::Invalid)?;
        cfg.crm.apply_env(&env).map_err(ConfigError::Invalid)?;
        Ok(cfg)
    }

    pub fn from_env(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load(file, |k| std::env::var(k).ok())
    }

    /// Checks what `serve` needs; the command-line tools that do not sign tokens skip this.
    pub fn check_for_serving(&self) -> Result<(), ConfigError> {
        match &self.auth.jwt_secret {
            Some(s) if s.len() >= 32 => {}
            Some(_) => return Err(ConfigError::Invalid("auth.jwt_secret must be at least 32 characters".into())),
            None => {
                return Err(ConfigError::Invalid(
                    "no JWT secret: set DMS_JWT_SECRET or auth.jwt_secret in dms.toml (scripts/run.sh creates one)".into(),
                ))
            }
        }
        if self.auth.access_ttl_secs == 0 || self.auth.access_ttl_secs > 900 {
            return Err(ConfigError::Invalid(
                "auth.access_ttl_secs must be 1..=900".into(),
            ));
        }
        if self.customer_login.sender == "file" {
            match &self.customer_login.code_pepper {
                Some(p) if p.len() >= 16 => {}
                _ => {
                    return Err(ConfigError::Invalid(
                        "customer_login.code_pepper (DMS_CODE_PEPPER) of at least 16 characters is required, or set customer_login.sender = \"none\"".into(),
                    ))
                }
            }
        } else if self.customer_login.sender != "none" {
            return Err(ConfigError::Invalid(
                "customer_login.sender must be \"file\" or \"none\"".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_defaults() {
        let dir = std::env::temp_dir().join(format!("dms-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let f = dir.join("dms.toml");
        std::fs::write(
            &f,
            "listen = \"0.0.0.0:9000\"\n[auth]\naccess_ttl_secs = 600\n",
        )
        .unwrap_or_default();
        let cfg = Config::load(Some(&f), |k| {
            (k == "DMS_DATABASE_URL").then(|| "postgres://x/y".to_string())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.listen, "0.0.0.0:9000");
        assert_eq!(cfg.database_url, "postgres://x/y");
        assert_eq!(cfg.auth.access_ttl_secs, 600);
        assert!(cfg.check_for_serving().is_err(), "no secret configured");
        std::fs::write(&f, "bogus_key = 1\n").unwrap_or_default();
        assert!(
            Config::load(Some(&f), |_| None).is_err(),
            "unknown keys are refused"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
