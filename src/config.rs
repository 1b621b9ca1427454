//! `etc/pmsslreseller.toml`: the module's own settings.
//!
//! The file is optional and every key has a default; `etc/pmsslreseller.toml`
//! in the repository documents them all. Unknown keys are an error, so a typo
//! never silently falls back to a default. Per-module connection settings
//! (URL, username, password) are not here: BILLmanager stores them with the
//! processing module (module-protocol.md §7.1).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::error::{ErrorKind, ModuleError, Result};

pub mod pricing;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log: LogConfig,
    pub upstream: UpstreamConfig,
    pub lifecycle: LifecycleConfig,
    pub pricing: pricing::PricingConfig,
    pub catalog: CatalogConfig,
    pub mgrctl: MgrctlConfig,
    pub order: OrderConfig,
    pub sync: SyncConfig,
    pub validation: ValidationConfig,
    pub charges: ChargesConfig,
    pub deploy: DeployConfig,
    pub form: FormConfig,
}

/// Domain validation: what the service form says and the customer's two
/// actions `send_dv_email` and `send_dv_dns` (README "Domain validation").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// The upstream function that resends the validation e-mail of a
    /// certificate still waiting for validation. None is public
    /// (upstream-api.md §3.7): unset, such a request is refused with advice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend_email_func: Option<String>,
    /// The upstream function that asks the CA to check a DNS record again;
    /// `send_dv_dns` is offered only when it is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_check_func: Option<String>,
    /// The DNS server asked before `send_dv_dns` (`IP` or `IP:port`); unset:
    /// the first `nameserver` of /etc/resolv.conf.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<String>,
    /// How long that DNS question may take, in milliseconds.
    pub dns_timeout_ms: u64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            resend_email_func: None,
            dns_check_func: None,
            dns_server: None,
            dns_timeout_ms: 2000,
        }
    }
}

/// The deploy hook: a command run once per new certificate (first issue,
/// automatic or requested reissue), in the manner of certbot's
/// `--deploy-hook` (README "Deploy hook"; commands/deploy/).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DeployConfig {
    /// Run by `/bin/sh -c`; empty: no hook.
    pub command: String,
    /// Seconds the hook may run before its whole process group is killed.
    /// Checked against [`DEPLOY_TIMEOUT_SECS`].
    pub timeout_secs: u64,
    /// Runs of the hook for one certificate before it is given up and one
    /// admin problem is raised. Checked against [`DEPLOY_MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// Hand the hook the private key (`PMSS_KEY`, a 0600 file deleted
    /// afterwards) when BILLmanager holds it.
    pub include_key: bool,
}

/// Accepted `[deploy] timeout_secs`: a hook that copies files and reloads a
/// web server needs seconds; a sync waits for it.
pub const DEPLOY_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=600;
/// Accepted `[deploy] max_attempts`.
pub const DEPLOY_MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=20;

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            command: String::new(),
            timeout_secs: 120,
            max_attempts: 3,
            include_key: false,
        }
    }
}

impl DeployConfig {
    /// A hook is configured.
    pub fn on(&self) -> bool {
        !self.command.trim().is_empty()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// The service form's own lines (the deploy state, the new-certificate
/// notice): which language they are written in. The form's labels and hints
/// come in both languages from the descriptor; a value is one text.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FormConfig {
    pub language: FormLanguage,
}

/// Accepted `[validation] dns_timeout_ms`: a DNS answer is quick or lost.
pub const DNS_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=10_000;

/// The language of the words the module writes into the service form.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FormLanguage {
    #[default]
    En,
    Ru,
}

impl ValidationConfig {
    /// The DNS server to ask: the setting, else /etc/resolv.conf's first.
    pub fn dns_server_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.dns_server {
            Some(s) => parse_dns_server(s),
            None => std::fs::read_to_string("/etc/resolv.conf")
                .ok()
                .and_then(|text| {
                    text.lines()
                        .filter_map(|l| l.trim().strip_prefix("nameserver"))
                        .find_map(|rest| parse_dns_server(rest.trim()))
                }),
        }
    }
}

/// `IP` (port 53) or `IP:port`.
pub fn parse_dns_server(text: &str) -> Option<std::net::SocketAddr> {
    let t = text.trim();
    t.parse::<std::net::SocketAddr>().ok().or_else(|| {
        t.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, 53))
    })
}

/// `[charges]`: the upstream's real charges checked against the ledger
/// (`books::charges`, README "Books").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChargesConfig {
    /// The upstream function that lists the account's payments (top-ups).
    /// Empty: the module's default (`upstream::wire::FUNC_PAYMENT_LIST`,
    /// unconfirmed at client level, upstream-api.md §6); `off`: never read
    /// (top-ups unknown: only overcharges can be told).
    pub payment_function: String,
    /// The difference allowed per money movement, in the upstream currency,
    /// before the charges count as wrong (rounding).
    #[serde(deserialize_with = "pricing::parse_amount")]
    pub tolerance: rust_decimal::Decimal,
}

impl Default for ChargesConfig {
    fn default() -> Self {
        ChargesConfig {
            payment_function: String::new(),
            tolerance: rust_decimal::Decimal::new(1, 2),
        }
    }
}

/// The cron `pmsslreseller sync --module N` (README "Cron"; docs/design.md "Periodic sync (cron)").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Certificates worked on at once, each with its own upstream read and
    /// database connection: the bound on concurrent upstream reads. Checked
    /// against [`SYNC_CONCURRENCY`].
    pub concurrency: u32,
}

/// Accepted `[sync] concurrency`: 1 (one item after another) up to a load
/// an upstream BILLmanager should not mind from one reseller (each worker
/// also holds a database connection).
pub const SYNC_CONCURRENCY: std::ops::RangeInclusive<u32> = 1..=32;

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { concurrency: 8 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MgrctlConfig {
    /// Seconds one `mgrctl` call may take before it (its whole process group)
    /// is killed. Well under `lock_wait_secs`, so a hung BILLmanager core
    /// fails the run instead of holding the item lock past a parallel run's
    /// patience.
    pub timeout_secs: u64,
}

impl Default for MgrctlConfig {
    fn default() -> Self {
        MgrctlConfig { timeout_secs: 15 }
    }
}

impl MgrctlConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// How orders are sent upstream: the shapes real upstreams differ in
/// (evidence-2026-12 "Orders", "Order function"; docs/protocol.md "Unconfirmed wire
/// details"). The wire names themselves are in `upstream::wire`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Advertise `import_pricelist` in `features`. On by default:
    /// without it the Import wizard never offers the module. The answer
    /// shapes are unconfirmed (P-U2, module-protocol.md §14.2, §18); `false`
    /// switches it off and leaves the templates route.
    pub advertise_import_pricelist: bool,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            advertise_import_pricelist: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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
    /// Days before the current certificate ends at which a free reissue is
    /// asked for, while the paid term goes on. Checked against
    /// [`REISSUE_BEFORE_DAYS`].
    pub reissue_before_days: u32,
}

/// Accepted `reissue_before_days`: at least one day, because issuance (and
/// any domain validation the customer must redo) takes time; below the
/// shortest certificate life of SC-081 (47 days, baseline.rs) by at least a
/// week, or every certificate would be reissued as soon as it is issued.
pub const REISSUE_BEFORE_DAYS: std::ops::RangeInclusive<u32> = 1..=40;

/// Post-open calls for certificates (P-U3): which of `service.postopen` and
/// `certificate.open` are made, and when.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
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
            reissue_before_days: 30,
        }
    }
}

/// One value the file's syntax allows but the module cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    /// Where it is, as the admin writes it: `[upstream] ca_file`.
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl Config {
    /// Read the config file; a missing file means all defaults. Every value
    /// is checked ([`Config::value_problems`]).
    pub fn load(path: &Path) -> Result<Config> {
        let config = Config::load_unchecked(path)?;
        config.check_values()?;
        config.check_safe()?;
        Ok(config)
    }

    /// Read the file with its syntax, key names and value types checked,
    /// but not its values: every key problem in one error.
    pub fn load_unchecked(path: &Path) -> Result<Config> {
        match Config::load_report(path)? {
            (config, problems) if problems.is_empty() => Ok(config),
            (_, problems) => Err(problems_error(&problems)),
        }
    }

    /// For `pmsslreseller config`, which lists every problem of the file: the
    /// settings with every key it cannot take left at its default, and those
    /// keys' problems. `Err` only when the file cannot be read or is not TOML
    /// (the parser stops at the first syntax error).
    pub fn load_report(path: &Path) -> Result<(Config, Vec<ValueProblem>)> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Config::parse_report(&text).map_err(|e| e.with_object(path.display().to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Config::default(), Vec::new()))
            }
            Err(e) => Err(ModuleError::new(
                ErrorKind::Config,
                format!(
                    "cannot read {}: {e}{}",
                    path.display(),
                    crate::paths::write_hint(&e)
                ),
            )
            .with_object(path.display().to_string())),
        }
    }

    pub fn parse(text: &str) -> Result<Config> {
        let config = Config::parse_unchecked(text)?;
        config.check_values()?;
        config.check_safe()?;
        Ok(config)
    }

    fn parse_unchecked(text: &str) -> Result<Config> {
        match Config::parse_report(text)? {
            (config, problems) if problems.is_empty() => Ok(config),
            (_, problems) => Err(problems_error(&problems)),
        }
    }

    /// [`Config::load_report`] of a text.
    pub fn parse_report(text: &str) -> Result<(Config, Vec<ValueProblem>)> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ModuleError::new(
                ErrorKind::Config,
                format!("invalid configuration: {}", e.to_string().trim()),
            )
        })?;
        // The usual case, a good file, in one pass: BILLmanager's every call reads it.
        if let Ok(config) = toml::Value::Table(table.clone()).try_into::<Config>() {
            return Ok((config, Vec::new()));
        }
        let mut problems = Vec::new();
        let clean = clean_table(&[], &table, &mut problems);
        match toml::Value::Table(clean).try_into::<Config>() {
            Ok(config) => Ok((config, problems)),
            // Every key left was accepted on its own; a refusal of them
            // together is still named rather than lost.
            Err(e) => {
                problems.push(ValueProblem {
                    key: "(file)".into(),
                    problem: e.message().trim().to_string(),
                });
                Ok((Config::default(), problems))
            }
        }
    }

    /// All [`Config::value_problems`] as one error, or `Ok`.
    pub fn check_values(&self) -> Result<()> {
        let problems = self.value_problems();
        if problems.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        // The object is the first wrong key's own name (`ca_file`), as the
        // descriptor's messages name it.
        let key = problems[0].key.rsplit(' ').next().unwrap_or_default();
        Err(ModuleError::new(
            ErrorKind::Config,
            format!("invalid configuration: {}", list.join("; ")),
        )
        .with_object(key))
    }

    /// Every value that parses but cannot work: a level that is no level, a
    /// CA file that is not there, a zero timeout, the pricing rules' own
    /// checks. All of them, so the admin fixes the file in one go.
    pub fn value_problems(&self) -> Vec<ValueProblem> {
        let mut out = Vec::new();
        let mut add = |key: &str, problem: String| {
            out.push(ValueProblem {
                key: key.to_string(),
                problem,
            })
        };
        if crate::logging::level_from_name(&self.log.level).is_none() {
            add(
                "[log] level",
                format!(
                    "'{}' is not a level; write one of error, warn, info, debug, trace (or off)",
                    self.log.level
                ),
            );
        }
        if let Some(path) = &self.upstream.ca_file {
            if let Some(problem) = pem_file_problem(path) {
                add("[upstream] ca_file", problem);
            }
        }
        if self.charges.tolerance < rust_decimal::Decimal::ZERO {
            add(
                "[charges] tolerance",
                "must not be negative; write e.g. \"0.01\"".into(),
            );
        }
        if self
            .charges
            .payment_function
            .trim()
            .contains(char::is_whitespace)
        {
            add(
                "[charges] payment_function",
                "is one upstream function name (no spaces), empty for the default, or off".into(),
            );
        }
        for (key, value) in [
            ("connect_timeout_secs", self.upstream.connect_timeout_secs),
            ("timeout_secs", self.upstream.timeout_secs),
            ("max_response_bytes", self.upstream.max_response_bytes),
        ] {
            if value == 0 {
                add(&format!("[upstream] {key}"), "must be at least 1".into());
            }
        }
        if !REISSUE_BEFORE_DAYS.contains(&self.lifecycle.reissue_before_days) {
            add(
                "[lifecycle] reissue_before_days",
                format!(
                    "{} is outside {}..={}: at least a day for issuance, and well below the \
                     shortest certificate life (47 days from 2029-03-15)",
                    self.lifecycle.reissue_before_days,
                    REISSUE_BEFORE_DAYS.start(),
                    REISSUE_BEFORE_DAYS.end()
                ),
            );
        }
        for (key, func) in [
            ("resend_email_func", &self.validation.resend_email_func),
            ("dns_check_func", &self.validation.dns_check_func),
        ] {
            if let Some(f) = func {
                if f.is_empty()
                    || !f
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    add(
                        &format!("[validation] {key}"),
                        format!(
                            "'{}' is no upstream function name (letters, digits, '.', '_', '-')",
                            crate::quote::quote(f)
                        ),
                    );
                }
            }
        }
        if let Some(server) = &self.validation.dns_server {
            if parse_dns_server(server).is_none() {
                add(
                    "[validation] dns_server",
                    format!(
                        "'{}' is no IP address or IP:port",
                        crate::quote::quote(server)
                    ),
                );
            }
        }
        if !DNS_TIMEOUT_MS.contains(&self.validation.dns_timeout_ms) {
            add(
                "[validation] dns_timeout_ms",
                format!(
                    "{} is outside {}..={}",
                    self.validation.dns_timeout_ms,
                    DNS_TIMEOUT_MS.start(),
                    DNS_TIMEOUT_MS.end()
                ),
            );
        }
        if !SYNC_CONCURRENCY.contains(&self.sync.concurrency) {
            add(
                "[sync] concurrency",
                format!(
                    "{} is outside {}..={}: at least one certificate at a time, and no more \
                     parallel reads than an upstream should take from one reseller",
                    self.sync.concurrency,
                    SYNC_CONCURRENCY.start(),
                    SYNC_CONCURRENCY.end()
                ),
            );
        }
        if !DEPLOY_TIMEOUT_SECS.contains(&self.deploy.timeout_secs) {
            add(
                "[deploy] timeout_secs",
                format!(
                    "{} is outside {}..={}: the sync waits for the hook",
                    self.deploy.timeout_secs,
                    DEPLOY_TIMEOUT_SECS.start(),
                    DEPLOY_TIMEOUT_SECS.end()
                ),
            );
        }
        if !DEPLOY_MAX_ATTEMPTS.contains(&self.deploy.max_attempts) {
            add(
                "[deploy] max_attempts",
                format!(
                    "{} is outside {}..={}",
                    self.deploy.max_attempts,
                    DEPLOY_MAX_ATTEMPTS.start(),
                    DEPLOY_MAX_ATTEMPTS.end()
                ),
            );
        }
        for (key, problem) in self.pricing.problems() {
            add(&format!("[pricing] {key}"), problem);
        }
        out
    }

    /// The settings in effect, as TOML in the spelling of the file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot show the settings: {e}\n"))
    }
}

/// All key problems as one `config` error; its object is the first key's
/// own name (`timeout_sec`), as the descriptor's messages name it.
fn problems_error(problems: &[ValueProblem]) -> ModuleError {
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let key = problems
        .first()
        .and_then(|p| p.key.rsplit(' ').next())
        .unwrap_or_default();
    ModuleError::new(
        ErrorKind::Config,
        format!("invalid configuration: {}", list.join("; ")),
    )
    .with_object(key)
}

/// One step of a key's place in the file.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    /// An entry of an array of tables (`[[pricing.tariff]]`), from 0.
    Index(usize),
}

/// A key as the admin finds it in the file: `log.level` → `[log] level`,
/// `pricing.tariff[1].id` → `[[pricing.tariff]] 2 id`, a top-level key bare.
fn key_text(path: &[Seg]) -> String {
    let mut table = String::new();
    let mut entry = None;
    let Some((last, parents)) = path.split_last() else {
        return String::new();
    };
    for seg in parents {
        match seg {
            Seg::Key(k) => {
                if !table.is_empty() {
                    table.push('.');
                }
                table.push_str(k);
            }
            Seg::Index(i) => entry = Some(i + 1),
        }
    }
    let last = match last {
        Seg::Key(k) => k.clone(),
        Seg::Index(i) => {
            return format!("[[{table}]] {}", i + 1);
        }
    };
    match (table.is_empty(), entry) {
        (true, _) => last,
        (false, Some(n)) => format!("[[{table}]] {n} {last}"),
        (false, None) => format!("[{table}] {last}"),
    }
}

/// `value` at `path` in an otherwise empty file: every other key at its
/// default, so what [`probe`] says about it is about this value alone.
fn place(path: &[Seg], value: toml::Value) -> toml::Value {
    path.iter().rev().fold(value, |inner, seg| match seg {
        Seg::Key(k) => {
            let mut t = toml::Table::new();
            t.insert(k.clone(), inner);
            toml::Value::Table(t)
        }
        Seg::Index(_) => toml::Value::Array(vec![inner]),
    })
}

/// Whether a file of only `doc` is settings we can take, and if not, the
/// deserializer's reason.
fn probe(doc: toml::Value) -> std::result::Result<(), String> {
    doc.try_into::<Config>()
        .map(|_| ())
        .map_err(|e| e.message().trim().to_string())
}

/// `table` (at `path` in the file) without the keys the settings cannot
/// take, each of which is added to `out` with its reason.
///
/// The deserializer stops at its first problem, so every key is tried on
/// its own ([`place`]): an unknown key, a value of the wrong type or an
/// unknown choice is reported and left out, a table is searched key by key.
/// "missing field" on a key tried alone is another key's absence (an
/// `[[pricing.tariff]]` entry without `id`), reported when its entry is
/// tried whole.
fn clean_table(path: &[Seg], table: &toml::Table, out: &mut Vec<ValueProblem>) -> toml::Table {
    let mut clean = toml::Table::new();
    for (k, v) in table {
        let mut at = path.to_vec();
        at.push(Seg::Key(k.clone()));
        let problem = match probe(place(&at, v.clone())) {
            Ok(()) => {
                clean.insert(k.clone(), v.clone());
                continue;
            }
            Err(problem) => problem,
        };
        if problem.starts_with(&format!("unknown field `{k}`")) {
            push(out, &at, problem);
            continue;
        }
        match v {
            toml::Value::Table(inner) => {
                let kept = toml::Value::Table(clean_table(&at, inner, out));
                match probe(place(&at, kept.clone())) {
                    Ok(()) => {
                        clean.insert(k.clone(), kept);
                    }
                    Err(problem) => push(out, &at, problem),
                }
            }
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.is_table()) =>
            {
                let mut kept = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let mut entry_at = at.clone();
                    entry_at.push(Seg::Index(i));
                    let Some(entry) = item.as_table() else {
                        continue;
                    };
                    let entry = toml::Value::Table(clean_table(&entry_at, entry, out));
                    match probe(place(&entry_at, entry.clone())) {
                        Ok(()) => kept.push(entry),
                        Err(problem) => push(out, &entry_at, problem),
                    }
                }
                clean.insert(k.clone(), toml::Value::Array(kept));
            }
            _ if problem.starts_with("missing field") => {
                clean.insert(k.clone(), v.clone());
            }
            _ => push(out, &at, problem),
        }
    }
    clean
}

fn push(out: &mut Vec<ValueProblem>, at: &[Seg], problem: String) {
    out.push(ValueProblem {
        key: key_text(at),
        problem,
    });
}

/// Why `path` cannot serve as `ca_file`, if it cannot: it must be a readable
/// file holding at least one PEM certificate (the client parses it fully).
fn pem_file_problem(path: &Path) -> Option<String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!(
                "{shown} does not exist; name the PEM file with the upstream's CA certificate(s), \
                 or remove the line to trust the public CAs"
            ))
        }
        Ok(m) if m.is_dir() => {
            return Some(format!("{shown} is a directory, not a PEM file"));
        }
        _ => {}
    }
    match std::fs::read(path) {
        Err(e) => Some(format!(
            "{shown} cannot be read: {e}{}",
            crate::paths::write_hint(&e)
        )),
        Ok(bytes) if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") => {
            Some(format!(
                "{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            ))
        }
        Ok(_) => None,
    }
}

impl Config {
    /// Refuse settings under which money could move twice or a run could hold
    /// the item lock past a parallel run's patience. Every problem
    /// is named with the reason, all in one message.
    pub fn check_safe(&self) -> Result<()> {
        let problems = self.safety_problems();
        let Some(first) = problems.first() else {
            return Ok(());
        };
        let object = first.key.clone();
        let text = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Err(
            ModuleError::new(ErrorKind::Config, format!("unsafe settings: {text}"))
                .with_object(object),
        )
    }

    /// Every unsafe combination, each with its key and reason (for
    /// [`Config::check_safe`] and `pmsslreseller config`).
    pub fn safety_problems(&self) -> Vec<ValueProblem> {
        let up = &self.upstream;
        let lc = &self.lifecycle;
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut refuse = |key: &str, why: String| problems.push((key.to_string(), why));
        if up.timeout_secs == 0 {
            refuse("upstream.timeout_secs", "must be at least 1".into());
        }
        if up.connect_timeout_secs == 0 {
            refuse("upstream.connect_timeout_secs", "must be at least 1".into());
        }
        if self.mgrctl.timeout_secs == 0 {
            refuse("mgrctl.timeout_secs", "must be at least 1".into());
        }
        let min_settle = min_settle_secs(up.timeout_secs);
        if lc.settle_secs == 0 {
            refuse(
                "lifecycle.settle_secs",
                "0 would order again at once after a lost answer, while the upstream may still \
                 be processing the first request: a double payment"
                    .into(),
            );
        } else if lc.settle_secs < min_settle {
            refuse(
                "lifecycle.settle_secs",
                format!(
                    "{} is less than upstream.timeout_secs ({}) plus a margin of {} s: a request \
                     whose answer was lost may still be applied upstream after a rerun gave up \
                     looking for it and paid again; set at least {min_settle}",
                    lc.settle_secs,
                    up.timeout_secs,
                    min_settle - up.timeout_secs
                ),
            );
        }
        if self.mgrctl.timeout_secs >= lc.lock_wait_secs {
            refuse(
                "mgrctl.timeout_secs",
                format!(
                    "{} is not below lifecycle.lock_wait_secs ({}): one hung mgrctl call would \
                     hold the certificate's lock longer than a parallel run waits for it",
                    self.mgrctl.timeout_secs, lc.lock_wait_secs
                ),
            );
        }
        problems
            .into_iter()
            .map(|(key, problem)| ValueProblem { key, problem })
            .collect()
    }
}

/// Smallest `settle_secs` accepted: the upstream timeout plus a margin of as
/// much again (an upstream as slow as our patience may commit that much
/// later), at least [`SETTLE_MARGIN_MIN_SECS`].
pub fn min_settle_secs(timeout_secs: u64) -> u64 {
    timeout_secs.saturating_add(timeout_secs.max(SETTLE_MARGIN_MIN_SECS))
}

/// Least margin between the upstream timeout and `settle_secs`.
pub const SETTLE_MARGIN_MIN_SECS: u64 = 5;

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

    /// Unknown keys, wrong types, unknown choices and a tariff entry
    /// without its id: all of them, each with its key, and the rest of the
    /// file still read.
    #[test]
    fn every_key_problem_is_reported_not_only_the_first() {
        let text = "colour = 1\n\
                    [log]\nlevle = \"debug\"\n\
                    [upstream]\ntimeout_secs = \"fast\"\nconnect_timeout_secs = 20\n\
                    [lifecycle]\nopen_convention = \"bm7\"\nmax_tries = 4\n\
                    [pricing]\nmarkup_percent = 1.5\n\
                    [[pricing.tariff]]\nid = 3033\nmarkup_fixed = \"1\"\n\
                    [[pricing.tariff]]\nmarkup_fixed = \"2\"\n\
                    [[pricing.tariff]]\nid = 3044\nrounding = \"up\"\n\
                    [extra]\nx = 1\n";
        let (config, problems) = Config::parse_report(text).unwrap();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "colour",
                "extra",
                "[lifecycle] open_convention",
                "[log] levle",
                "[pricing] markup_percent",
                "[[pricing.tariff]] 2",
                "[[pricing.tariff]] 3 rounding",
                "[upstream] timeout_secs",
            ],
            "{problems:#?}"
        );
        let text_of = |key: &str| {
            problems
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.problem.clone())
                .unwrap()
        };
        assert!(text_of("[log] levle").contains("unknown field `levle`"));
        assert!(text_of("[lifecycle] open_convention").contains("bm7"));
        assert!(text_of("[[pricing.tariff]] 2").contains("missing field `id`"));
        // The good keys are read; the bad ones keep their defaults.
        assert_eq!(config.upstream.connect_timeout_secs, 20);
        assert_eq!(config.upstream.timeout_secs, 60);
        assert_eq!(config.lifecycle.max_tries, 4);
        assert_eq!(config.pricing.tariff.len(), 2);
        // BILLmanager's calls get all of them in one message.
        let e = Config::parse(text).unwrap_err();
        for key in keys {
            assert!(e.message.contains(key), "{key}: {}", e.message);
        }
        // A syntax error stops the parser: that one is reported alone.
        assert!(Config::parse_report("[log\n").is_err());
    }

    #[test]
    fn defaults_are_safe() {
        Config::default().check_safe().unwrap();
    }

    #[test]
    fn unsafe_combinations_are_refused_with_the_reason() {
        let refused = |text: &str, key: &str, why: &str| {
            let e = Config::parse(text).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{text}");
            assert!(e.message.contains(key), "{text}: {}", e.message);
            assert!(e.message.contains(why), "{text}: {}", e.message);
        };
        refused(
            "[lifecycle]\nsettle_secs = 0\n",
            "lifecycle.settle_secs",
            "double payment",
        );
        refused(
            "[upstream]\ntimeout_secs = 1\n[lifecycle]\nsettle_secs = 2\n",
            "lifecycle.settle_secs",
            "set at least 6",
        );
        refused(
            "[lifecycle]\nsettle_secs = 100\n",
            "lifecycle.settle_secs",
            "set at least 120",
        );
        refused(
            "[mgrctl]\ntimeout_secs = 30\n",
            "mgrctl.timeout_secs",
            "lock_wait_secs (30)",
        );
        refused(
            "[lifecycle]\nlock_wait_secs = 10\n",
            "mgrctl.timeout_secs",
            "longer than a parallel run waits",
        );
        refused(
            "[upstream]\ntimeout_secs = 0\n",
            "timeout_secs",
            "at least 1",
        );
        // Both problems in one message.
        let e = Config::parse("[lifecycle]\nsettle_secs = 0\nlock_wait_secs = 5\n").unwrap_err();
        assert!(e.message.contains("settle_secs") && e.message.contains("mgrctl.timeout_secs"));
    }

    #[test]
    fn the_edges_are_accepted() {
        // The integration tests' settings: timeout 1 s, settle 6 s.
        Config::parse("[upstream]\ntimeout_secs = 1\n[lifecycle]\nsettle_secs = 6\n").unwrap();
        Config::parse("[lifecycle]\nsettle_secs = 120\n").unwrap();
        Config::parse("[mgrctl]\ntimeout_secs = 29\n").unwrap();
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let text = "[log]\nlevel = \"verbose\"\n[upstream]\nca_file = \"/nonexistent/ca.pem\"\n\
                    timeout_secs = 0\n[lifecycle]\nreissue_before_days = 0\n\
                    [pricing]\nmin_margin = \"-1\"\n";
        let c = Config::parse_unchecked(text).unwrap();
        let keys: Vec<String> = c.value_problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "[log] level",
                "[upstream] ca_file",
                "[upstream] timeout_secs",
                "[lifecycle] reissue_before_days",
                "[pricing] min_margin"
            ]
        );
        let e = Config::parse(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        for needle in [
            "'verbose' is not a level",
            "/nonexistent/ca.pem does not exist",
            "min_margin",
        ] {
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
    }

    #[test]
    fn ca_file_must_be_a_pem_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(pem_file_problem(dir.path())
            .unwrap()
            .contains("is a directory"));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(pem_file_problem(&junk)
            .unwrap()
            .contains("holds no PEM certificate"));
        let good = dir.path().join("ca.pem");
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(pem_file_problem(&good), None);
    }

    #[test]
    fn effective_settings_print_as_toml_that_reads_back() {
        let text = "[upstream]\ntimeout_secs = 30\n[pricing]\nmarkup_percent = \"12.5\"\n\
                    currency = \"RUB\"\nrates = { EUR = \"101.25\" }\n\
                    [[pricing.tariff]]\nid = 3033\nmarkup_fixed = \"1.00\"\n";
        let c = Config::parse(text).unwrap();
        let shown = c.to_toml();
        assert!(shown.contains("[upstream]\n"), "{shown}");
        assert!(shown.contains("timeout_secs = 30"), "{shown}");
        assert!(shown.contains("markup_percent = \"12.5\""), "{shown}");
        assert!(shown.contains("[[pricing.tariff]]"), "{shown}");
        assert!(!shown.contains("Config {"), "{shown}");
        assert_eq!(Config::parse(&shown).unwrap(), c);
        assert_eq!(
            Config::parse(&Config::default().to_toml()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn missing_file_is_defaults() {
        let c = Config::load(Path::new("/nonexistent/pmsslreseller.toml")).unwrap();
        assert_eq!(c, Config::default());
    }
}
