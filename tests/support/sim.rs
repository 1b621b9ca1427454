//! `SimUpstream`: the real `billmgr-sim upstream` HTTP server as the upstream BILLmanager of a test, with
//! typed wrappers for its control API (contract in BRIEF.md, details in sim/README.md). The process is
//! killed when the value is dropped.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The account `SimUpstream::start()` creates.
pub const USER: &str = "reseller@example.com";
pub const PASS: &str = "upstream-secret";
pub const START_BALANCE: &str = "100.00";
pub const CURRENCY: &str = "EUR";

/// The simulator's profiles (`billmgr-sim upstream --profile NAME`, sim/README.md "Field shapes and
/// profiles"): `default` is today's behaviour, the others bundle the field shapes of a real panel.
pub const PROFILES: &[&str] = &["default", "bm6-gcore", "bm6-zomro", "bm5-classic"];

/// An account as `POST /_sim/account` takes it.
#[derive(Debug, Clone, Serialize)]
pub struct SimAccount {
    pub username: String,
    pub password: String,
    pub balance: String,
    pub currency: String,
    pub limit: String,
    pub twofa: bool,
    pub may_delete: bool,
    pub may_suspend: bool,
    /// This account's prices = catalogue prices less this percentage (export with credentials, debits).
    pub discount_percent: String,
}

impl SimAccount {
    /// No credit limit, no 2FA, may delete, may not suspend (the simulator's defaults).
    pub fn new(username: &str, password: &str, balance: &str, currency: &str) -> SimAccount {
        SimAccount {
            username: username.to_string(),
            password: password.to_string(),
            balance: balance.to_string(),
            currency: currency.to_string(),
            limit: "0.00".to_string(),
            twofa: false,
            may_delete: true,
            may_suspend: false,
            discount_percent: "0".to_string(),
        }
    }
}

/// An account as `GET /_sim/account/<username>` shows it (no password).
#[derive(Debug, Clone, Deserialize)]
pub struct AccountInfo {
    pub username: String,
    pub balance: Decimal,
    pub currency: String,
    pub limit: Decimal,
    pub twofa: bool,
    pub may_delete: bool,
    pub may_suspend: bool,
    pub discount_percent: Decimal,
}

/// A scripted fault (`POST /_sim/fault`). Kinds: `delay`, `http_502`, `http_503`, `truncated`, `not_xml`,
/// `drop_after_commit`, `refuse`, `error`.
#[derive(Debug, Clone, Serialize)]
pub struct SimFault {
    pub func: String,
    pub kind: String,
    pub count: u32,
    pub delay_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub error_params: BTreeMap<String, String>,
}

impl SimFault {
    /// One use of `kind` on `func` (`*` = any function).
    pub fn new(func: &str, kind: &str) -> SimFault {
        SimFault {
            func: func.to_string(),
            kind: kind.to_string(),
            count: 1,
            delay_ms: 0,
            error_type: None,
            error_params: BTreeMap::new(),
        }
    }

    pub fn count(mut self, count: u32) -> SimFault {
        self.count = count;
        self
    }

    pub fn delay_ms(mut self, ms: u64) -> SimFault {
        self.delay_ms = ms;
        self
    }

    /// Kind `error`: `<doc><error type=error_type>` with these params.
    pub fn error(func: &str, error_type: &str, params: &[(&str, &str)]) -> SimFault {
        let mut f = SimFault::new(func, "error");
        f.error_type = Some(error_type.to_string());
        f.error_params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f
    }
}

/// One journal entry (`GET /_sim/journal`); secrets in `params` are masked by the simulator.
#[derive(Debug, Clone, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub time: String,
    pub func: String,
    pub params: BTreeMap<String, String>,
    /// `ok`, `error:<type>`, `fault:<kind>` or `html` (request without `out=xml`).
    pub outcome: String,
    /// Under a fault that still carried the request out (delay, truncated, drop_after_commit): its result.
    #[serde(default)]
    pub result: Option<String>,
}

/// Paid orders made in one control call (`POST /_sim/seed`): each exactly what
/// `certificate.order.param` with `skipbasket=on` makes (debit, item status 5, `service_status` 3,
/// `remoteid`). All or nothing.
#[derive(Debug, Clone, Serialize)]
pub struct SeedOrders {
    pub username: String,
    pub pricelist: u64,
    pub period: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// `{n}` is the order's number in the call, from 1.
    pub cn: String,
    pub csr: String,
    /// Remoteids K, K+1, … (the local item ids, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remoteid_from: Option<u64>,
    /// One remoteid per order (then the count is their number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remoteids: Option<Vec<String>>,
    /// Added to every order as sent (`autoprolong`, `approver_email`, contacts, …).
    pub params: BTreeMap<String, String>,
}

impl SeedOrders {
    /// `count` orders of `pricelist` for 12 months, CNs `seed1.example.com`…, the test CSR
    /// `tests/fixtures/example.com.csr`, no remoteid.
    pub fn new(username: &str, pricelist: u64, count: usize) -> SeedOrders {
        SeedOrders {
            username: username.to_string(),
            pricelist,
            period: 12,
            count: Some(count),
            cn: "seed{n}.example.com".to_string(),
            csr: super::billing::EXAMPLE_CSR.to_string(),
            remoteid_from: None,
            remoteids: None,
            params: BTreeMap::new(),
        }
    }

    pub fn period(mut self, months: i32) -> SeedOrders {
        self.period = months;
        self
    }

    pub fn cn(mut self, template: &str) -> SeedOrders {
        self.cn = template.to_string();
        self
    }

    pub fn remoteid_from(mut self, first: u64) -> SeedOrders {
        self.remoteid_from = Some(first);
        self
    }

    /// One remoteid per order; replaces the count.
    pub fn remoteids<T: ToString>(mut self, ids: &[T]) -> SeedOrders {
        self.count = None;
        self.remoteids = Some(ids.iter().map(ToString::to_string).collect());
        self
    }

    pub fn param(mut self, name: &str, value: &str) -> SeedOrders {
        self.params.insert(name.to_string(), value.to_string());
        self
    }
}

/// The simulator's own cost, from `GET /_sim/stats`, per API function (or control endpoint).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SimFuncStats {
    pub count: u64,
    /// Waiting for the simulator lock (contention between clients).
    pub wait_us_total: f64,
    pub wait_us_mean: f64,
    /// Holding it: the state work.
    pub locked_us_total: f64,
    pub locked_us_mean: f64,
    /// First byte read to last byte written.
    pub request_us_total: f64,
    pub request_us_mean: f64,
}

/// `GET /_sim/stats`: cumulative since the simulator started or `reset_stats`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SimStats {
    pub since_secs: f64,
    /// API requests (not control calls).
    pub requests: u64,
    /// All API requests together.
    pub api: SimFuncStats,
    pub funcs: BTreeMap<String, SimFuncStats>,
    pub control: BTreeMap<String, SimFuncStats>,
    pub state_writes: u64,
    pub state_write_us_total: f64,
    pub state_bytes_written: u64,
    /// API requests being served now, and the most at once since the start or reset.
    #[serde(default)]
    pub api_in_flight: u64,
    #[serde(default)]
    pub api_peak_in_flight: u64,
}

impl SimStats {
    /// One line for a benchmark's output: requests and the mean cost of one inside the simulator.
    pub fn summary(&self) -> String {
        let mut busiest: Vec<(&String, &SimFuncStats)> = self.funcs.iter().collect();
        busiest.sort_by_key(|(_, s)| std::cmp::Reverse(s.count));
        let per_func = busiest
            .iter()
            .take(4)
            .map(|(f, s)| {
                format!(
                    "{f} x{} {:.0}/{:.0} µs",
                    s.count, s.locked_us_mean, s.request_us_mean
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "simulator: {} API requests in {:.1} s, mean per request {:.1} µs holding its lock, \
             {:.1} µs waiting for it, {:.0} µs first byte to last (by function, lock/whole: {}); \
             {} state writes",
            self.requests,
            self.since_secs,
            self.api.locked_us_mean,
            self.api.wait_us_mean,
            self.api.request_us_mean,
            if per_func.is_empty() {
                "none".to_string()
            } else {
                per_func
            },
            self.state_writes
        )
    }
}

pub struct SimUpstream {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub base_url: String,
    client: reqwest::blocking::Client,
    tls_dir: Option<tempfile::TempDir>,
}

impl Drop for SimUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimUpstream {
    /// A simulator with the account `USER`/`PASS` holding `START_BALANCE` `CURRENCY`.
    pub fn start() -> SimUpstream {
        let account = format!("{USER}:{PASS}:{START_BALANCE}:{CURRENCY}");
        SimUpstream::start_with(&["--account", &account])
    }

    /// A simulator with exactly these extra options (`--state`, `--account`, `--knob`,
    /// `--profile`, `--fault`, …).
    pub fn start_with(args: &[&str]) -> SimUpstream {
        SimUpstream::spawn(args, None)
    }

    /// `start()` under profile `profile` (one of `PROFILES`) plus `args` (`--knob` options there
    /// override single knobs of the profile).
    pub fn start_profile(profile: &str, args: &[&str]) -> SimUpstream {
        let account = format!("{USER}:{PASS}:{START_BALANCE}:{CURRENCY}");
        let mut all = vec!["--account", account.as_str(), "--profile", profile];
        all.extend_from_slice(args);
        SimUpstream::start_with(&all)
    }

    /// `start()` over HTTPS with a generated CA (`ca_file()`); the control API is reached over HTTPS too.
    pub fn start_https() -> SimUpstream {
        let dir = tempfile::tempdir().expect("temp dir for the TLS material");
        let account = format!("{USER}:{PASS}:{START_BALANCE}:{CURRENCY}");
        let dir_arg = dir.path().to_str().expect("UTF-8 temp path").to_string();
        SimUpstream::spawn(&["--account", &account, "--tls-dir", &dir_arg], Some(dir))
    }

    fn spawn(args: &[&str], tls_dir: Option<tempfile::TempDir>) -> SimUpstream {
        let mut child = Command::new(super::bin_path("billmgr-sim"))
            .arg("upstream")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start billmgr-sim upstream");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("simulator stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("simulator's first stdout line");
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from billmgr-sim: {line:?}"))
            .to_string();
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
        if let Some(dir) = &tls_dir {
            let pem = std::fs::read(dir.path().join("ca.pem")).expect("ca.pem");
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(&pem).expect("CA certificate"),
            );
        }
        SimUpstream {
            child,
            base_url,
            client: builder.build().expect("HTTP client"),
            tls_dir,
        }
    }

    /// The API URL to configure in the module (`…/billmgr`).
    pub fn url(&self) -> String {
        format!("{}/billmgr", self.base_url)
    }

    /// CA file of an HTTPS simulator (`start_https`).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls_dir.as_ref().map(|d| d.path().join("ca.pem"))
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Value {
        let url = format!("{}{}", self.base_url, path);
        let mut req = self.client.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        assert!(
            status.is_success(),
            "{method} {path}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::POST, path, Some(body.to_string()))
    }

    /// A POST whose refusal is an answer, not a test failure: `Err((HTTP status, JSON body))`.
    fn try_post(&self, path: &str, body: Value) -> Result<Value, (u16, Value)> {
        let url = format!("{}{}", self.base_url, path);
        let resp = self
            .client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(json)
        } else {
            Err((status.as_u16(), json))
        }
    }

    fn get(&self, path: &str) -> Value {
        self.control(reqwest::Method::GET, path, None)
    }

    fn delete(&self, path: &str) -> Value {
        self.control(reqwest::Method::DELETE, path, None)
    }

    /// Creates or replaces an account.
    pub fn set_account(&self, account: &SimAccount) {
        self.post(
            "/_sim/account",
            serde_json::to_value(account).expect("account JSON"),
        );
    }

    /// The reseller pays `amount` into `username`'s account (listed by the
    /// upstream's `payment` function); returns the payment's id.
    pub fn topup(&self, username: &str, amount: &str) -> u64 {
        let v = self.post(
            "/_sim/topup",
            serde_json::json!({ "username": username, "amount": amount }),
        );
        v["id"].as_u64().expect("payment id")
    }

    /// Current state of an account (panics if it does not exist).
    pub fn account(&self, username: &str) -> AccountInfo {
        let v = self.get(&format!("/_sim/account/{username}"));
        serde_json::from_value(v).expect("account JSON")
    }

    pub fn fault(&self, fault: &SimFault) {
        self.post(
            "/_sim/fault",
            serde_json::to_value(fault).expect("fault JSON"),
        );
    }

    pub fn clear_faults(&self) {
        self.delete("/_sim/faults");
    }

    /// Issues one pending item now, or every pending item with `None`; the ids issued.
    pub fn issue(&self, id: Option<u64>) -> Vec<u64> {
        let body = match id {
            Some(id) => json!({ "id": id }),
            None => json!({}),
        };
        ids(&self.post("/_sim/issue", body)["issued"])
    }

    /// Advances every pending item one step (3 → 4 → 5); the ids advanced.
    pub fn tick(&self) -> Vec<u64> {
        ids(&self.post("/_sim/tick", json!({}))["advanced"])
    }

    /// Fails an item's issuance (`service_status` 6) with `msg` or a default message.
    pub fn fail(&self, id: u64, msg: Option<&str>) {
        let body = match msg {
            Some(m) => json!({ "id": id, "msg": m }),
            None => json!({ "id": id }),
        };
        self.post("/_sim/fail", body);
    }

    /// `POST /_sim/drift` (seed, orphan, delete, renew, cart); the answer.
    pub fn drift(&self, body: Value) -> Value {
        self.post("/_sim/drift", body)
    }

    /// Seeds an upstream certificate (`seed` drift action); its id.
    pub fn seed_certificate(&self, body: Value) -> u64 {
        let mut body = body;
        body["action"] = json!("seed");
        self.drift(body)["id"].as_u64().expect("seeded id")
    }

    pub fn advance_clock(&self, secs: i64) {
        self.post("/_sim/clock", json!({ "advance_secs": secs }));
    }

    /// Sets the simulator clock (RFC 3339 or `YYYY-MM-DD`): ages every certificate at once.
    pub fn set_clock(&self, now: &str) {
        self.post("/_sim/clock", json!({ "now": now }));
    }

    /// Applies a profile (`POST /_sim/profile`): every knob back to its default, then the
    /// profile's; knobs set afterwards override it. Panics for an unknown name.
    pub fn set_profile(&self, name: &str) {
        self.post("/_sim/profile", json!({ "name": name }));
    }

    /// The profile last applied (`GET /_sim/profile`), `default` if none.
    pub fn profile(&self) -> String {
        self.get("/_sim/profile")["name"]
            .as_str()
            .expect("profile name")
            .to_string()
    }

    /// The upstream admin pays item `id`'s unpaid order in the cart (`POST /_sim/cart/pay`):
    /// debited at the account's price, then issued as a paid order; the ids paid. Panics when it
    /// is not an unpaid cart order or the account cannot pay (see `try_pay_cart`).
    pub fn pay_cart(&self, id: u64) -> Vec<u64> {
        ids(&self.post("/_sim/cart/pay", json!({ "id": id }))["paid"])
    }

    /// `pay_cart` that returns a refusal: `Err((409, {"error","type","id"}))` when the account
    /// cannot pay (`type` `not_enough_money`; nothing changed), `Err((400, {"error"}))` when `id`
    /// is no unpaid order in the cart (a second pay, say).
    pub fn try_pay_cart(&self, id: u64) -> Result<Vec<u64>, (u16, Value)> {
        self.try_post("/_sim/cart/pay", json!({ "id": id }))
            .map(|v| ids(&v["paid"]))
    }

    /// Pays every unpaid order in the cart, all or nothing; the ids paid.
    pub fn pay_all_carts(&self) -> Vec<u64> {
        ids(&self.post("/_sim/cart/pay", json!({ "all": true }))["paid"])
    }

    /// The upstream admin deletes item `id`'s unpaid order from the cart (`POST /_sim/cart/drop`):
    /// the item is deleted upstream, nothing refunded (nothing was paid).
    pub fn drop_cart(&self, id: u64) {
        self.post("/_sim/cart/drop", json!({ "id": id }));
    }

    /// Sets knobs; returns all effective knob values.
    pub fn knobs(&self, knobs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let map: serde_json::Map<String, Value> = knobs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        serde_json::from_value(self.post("/_sim/knobs", Value::Object(map))).expect("knobs JSON")
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        serde_json::from_value(self.get("/_sim/journal")).expect("journal JSON")
    }

    pub fn clear_journal(&self) {
        self.delete("/_sim/journal");
    }

    /// Every item with its full state (including deleted ones).
    pub fn certificates(&self) -> Value {
        self.get("/_sim/certificates")
    }

    /// One item's full state, if it exists.
    pub fn certificate(&self, id: u64) -> Option<Value> {
        self.certificates()
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == id).cloned())
    }

    /// Many paid orders in one call (`POST /_sim/seed`); their ids, in order.
    pub fn seed_orders(&self, orders: &SeedOrders) -> Vec<u64> {
        let answer = self.post(
            "/_sim/seed",
            serde_json::to_value(orders).expect("seed JSON"),
        );
        ids(&answer["ids"])
    }

    /// Issues exactly these pending items (`POST /_sim/issue {"ids": …}`; one that is not pending
    /// fails the call and issues nothing).
    pub fn issue_many(&self, items: &[u64]) -> Vec<u64> {
        ids(&self.post("/_sim/issue", json!({ "ids": items }))["issued"])
    }

    /// One issuance step for each of these items (3 → 4 → 5); the ids advanced (those pending).
    pub fn tick_many(&self, items: &[u64]) -> Vec<u64> {
        ids(&self.post("/_sim/tick", json!({ "ids": items }))["advanced"])
    }

    /// The simulator's own cost per request so far (`GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        serde_json::from_value(self.get("/_sim/stats")).expect("stats JSON")
    }

    /// Waits (at most 30 s) until no API request is being served: every
    /// request a killed or timed-out client left behind has been applied or
    /// refused. A test that moves the clock past the module's settle window
    /// waits here first, as real time would: the module's guarantee assumes
    /// an upstream that applies a request within the settle window
    /// (docs/money-safety.md, "Not guaranteed — the settle window"), and a
    /// clock moved a minute in milliseconds would otherwise outrun a delayed
    /// request. Two idle readings apart, so a request just accepted but not
    /// yet read is counted too.
    pub fn wait_idle(&self) {
        let end = std::time::Instant::now() + Duration::from_secs(30);
        let mut idle = 0;
        while idle < 2 {
            if self.stats().api_in_flight == 0 {
                idle += 1;
            } else {
                idle = 0;
                assert!(
                    std::time::Instant::now() < end,
                    "simulator still serving a request after 30 s"
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Counts from zero again (`DELETE /_sim/stats`).
    pub fn reset_stats(&self) {
        self.delete("/_sim/stats");
    }

    /// Writes the `--state` file now (`POST /_sim/flush`); whether anything was written.
    pub fn flush_state(&self) -> bool {
        self.post("/_sim/flush", json!({}))["written"]
            .as_bool()
            .expect("flush answer")
    }

    /// Swaps the catalogue (a `pricelist.export` XML document).
    pub fn set_catalog(&self, xml: &str) {
        let url = format!("{}/_sim/catalog", self.base_url);
        let resp = self
            .client
            .post(&url)
            .header("Content-Type", "application/xml")
            .body(xml.to_string())
            .send()
            .expect("POST /_sim/catalog");
        let status = resp.status();
        assert!(
            status.is_success(),
            "POST /_sim/catalog: HTTP {status}: {}",
            resp.text().unwrap_or_default()
        );
    }

    /// Swaps the catalogue from a file.
    pub fn set_catalog_file(&self, path: &Path) {
        let xml = std::fs::read_to_string(path).expect("catalogue file");
        self.set_catalog(&xml);
    }
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}
