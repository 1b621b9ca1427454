//! `etc/pmsslreseller.toml`: the module's own settings.
//!
//! The file is optional and every key has a default; `etc/pmsslreseller.toml`
//! in the repository documents them all. Unknown keys are an error, so a typo
//! never silently falls back to a default. Per-module connection settings
//! (URL, username, password) are not here: BILLmanager stores them with the
//! processing module (module-protocol.md §7.1).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::protocol::error::{ErrorKind, ModuleError, Result};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log: LogConfig,
    pub upstream: UpstreamConfig,
    pub lifecycle: LifecycleConfig,
    pub pricing: crate::pricing::PricingConfig,
    pub catalog: CatalogConfig,
    pub order: OrderConfig,
}

/// How orders are sent upstream: the shapes real upstreams differ in
/// (evidence-2026-12 "Orders", "Order function"; README "Unconfirmed wire
/// details"). The wire names themselves are in `upstream::wire`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OrderConfig {
    /// Which order function the upstream takes.
    pub function: OrderFunction,
    /// Send `autoprolong=off` with every order, so the upstream never renews
    /// (and charges) on its own with no local prolong behind it.
    pub autoprolong_off: bool,
}

impl Default for OrderConfig {
    fn default() -> Self {
        OrderConfig {
            function: OrderFunction::Classic,
            autoprolong_off: true,
        }
    }
}

/// The upstream's order function (A-U1; evidence-2026-12 N7).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderFunction {
    /// `certificate.order.param` (ARTICLE, DOC S5).
    #[default]
    Classic,
    /// `v2.certificate.order.param` with `force_use_new_cart=on`, used by
    /// some BILLmanager 6 builds (3P-CODE N7).
    V2,
}

impl OrderFunction {
    /// The value as written in the config.
    pub fn key(self) -> &'static str {
        match self {
            OrderFunction::Classic => "classic",
            OrderFunction::V2 => "v2",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Advertise `import_pricelist` in `features`. Off by default: the format
    /// BILLmanager expects is unconfirmed (P-U2, module-protocol.md §18).
    pub advertise_import_pricelist: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`. A line `pmsslreseller N` in
    /// `etc/debug.conf` wins over this, as for ISPsystem's modules.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Seconds to wait for the TCP+TLS connection.
    pub connect_timeout_secs: u64,
    /// Seconds for a whole request, answer included.
    pub timeout_secs: u64,
    /// Largest answer accepted, in bytes.
    pub max_response_bytes: u64,
    /// PEM file with extra CA certificates, for an upstream with a private CA.
    /// Verification itself can never be switched off.
    pub ca_file: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_secs: 10,
            timeout_secs: 60,
            max_response_bytes: 32 * 1024 * 1024,
            ca_file: None,
        }
    }
}

impl UpstreamConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Failed tries of an operation before it is switched to manual and an
    /// admin task is opened (ISPsystem's default, module-protocol.md §11.3).
    pub max_tries: u32,
    /// The same for `prolong`, which moves money: one try (§11.3).
    pub prolong_max_tries: u32,
    /// Seconds to wait for another run holding the same item's lock.
    pub lock_wait_secs: u64,
    /// Seconds after a send whose answer was lost during which a rerun that
    /// cannot find the order upstream still does not order again (the
    /// upstream may still be working on the lost request).
    pub settle_secs: u64,
    /// What tells BILLmanager that a certificate was ordered (P-U3,
    /// module-protocol.md §12.5, §18).
    pub open_convention: OpenConvention,
}

/// Post-open calls for certificates (P-U3): which of `service.postopen` and
/// `certificate.open` are made, and when.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OpenConvention {
    /// `service.postopen` at order time only (common to both styles).
    #[default]
    Postopen,
    /// BILLmanager 5 C++ style: `service.postopen` at order, `certificate.open`
    /// when the certificate is issued.
    Bm5,
    /// BILLmanager 6 Python style: `certificate.open` at order instead of
    /// `service.postopen`.
    Bm6,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            max_tries: 10,
            prolong_max_tries: 1,
            lock_wait_secs: 30,
            settle_secs: 300,
            open_convention: OpenConvention::Postopen,
        }
    }
}

impl Config {
    /// Read the config file; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text).map_err(|e| e.with_object(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(ModuleError::new(
                ErrorKind::Config,
                format!("cannot read {}: {e}", path.display()),
            )
            .with_object(path.display().to_string())),
        }
    }

    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            ModuleError::new(
                ErrorKind::Config,
                format!("invalid configuration: {}", e.to_string().trim()),
            )
        })?;
        config.pricing.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses_to_defaults() {
        let text = include_str!("../etc/pmsslreseller.toml");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_an_error() {
        let e = Config::parse("[upstream]\ntimeout_sec = 5\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("timeout_sec"), "{}", e.message);
    }

    #[test]
    fn missing_file_is_defaults() {
        let c = Config::load(Path::new("/nonexistent/pmsslreseller.toml")).unwrap();
        assert_eq!(c, Config::default());
    }
}
