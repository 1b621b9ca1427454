//! The simulator's persistent world (SIM-6, SIM-19, SIM-34): accounts, certificate items, sessions,
//! knobs and the simulator clock, and how it is read from and written to `--state FILE` (when it is
//! written is `persist.rs`'s concern).

use super::knobs::Knobs;
use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A reseller's account in the upstream BILLmanager (SIM-6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    #[serde(default)]
    pub id: u64,
    pub username: String,
    pub password: String,
    pub balance: Decimal,
    pub currency: String,
    #[serde(default)]
    pub limit: Decimal,
    #[serde(default)]
    pub twofa: bool,
    #[serde(default = "yes")]
    pub may_delete: bool,
    #[serde(default)]
    pub may_suspend: bool,
    /// This account's prices = catalogue prices less this percentage (SIM-16: with credentials,
    /// `pricelist.export` shows the account's own prices, and orders/prolongations charge them).
    #[serde(default)]
    pub discount_percent: Decimal,
}

impl Account {
    /// A catalogue price as this account pays it (4 decimals, like the export).
    pub fn own_price(&self, catalogue: Decimal) -> Decimal {
        if self.discount_percent.is_zero() {
            return catalogue;
        }
        (catalogue * (Decimal::ONE_HUNDRED - self.discount_percent) / Decimal::ONE_HUNDRED)
            .round_dp(4)
    }
}

fn yes() -> bool {
    true
}

/// Why an item is being processed (decides what issuance does to `expiredate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingKind {
    Order,
    Reissue,
    Prolong,
}

/// A certificate service (item) as the upstream keeps it (SIM-19).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub id: u64,
    pub account: String,
    pub pricelist: u64,
    pub period: i32,
    pub cn: String,
    pub altnames: Vec<String>,
    pub old_altnames: Vec<String>,
    /// SAN quantity paid for (SIM-10).
    pub altname_qty: u32,
    pub csr: Option<String>,
    pub remoteid: Option<String>,
    pub approver_method: Option<String>,
    pub approver_emails: Vec<String>,
    /// Other order fields kept as sent (contacts `adm_*`, `tech_*`, `org_*`, `ip`, `crt_type`, …).
    pub params: BTreeMap<String, String>,
    #[serde(with = "ymd")]
    pub createdate: NaiveDate,
    #[serde(with = "ymd_opt")]
    pub expiredate: Option<NaiveDate>,
    /// Sim-clock seconds of the last issue (refund window).
    pub issued_at: Option<i64>,
    /// 1 ordered (unpaid), 2 active, 3 suspended, 4 deleted, 5 processing (A-U8).
    pub status: u8,
    /// 3 requested, 4 enrolled, 5 issued, 6 failed (upstream-api.md §7.3).
    pub service_status: u8,
    pub status_msg: String,
    pub crt: Option<String>,
    pub deleted: bool,
    /// Everything debited for this item (order + prolongations): what a refund gives back.
    pub paid: Decimal,
    /// Price of one period of this item (list column `cost`).
    pub cost: Decimal,
    pub currency: String,
    /// Set while the item moves 3 → 4 → 5; `since` = sim seconds of the last step.
    pub pending: Option<(PendingKind, i64)>,
    /// The upstream renews (and charges) on its own at expiry: ordered without
    /// `autoprolong=off` while knob `upstream_autoprolong` is on.
    #[serde(default)]
    pub autoprolong: bool,
    /// Renewals the upstream made on its own (no `service.prolong`).
    #[serde(default)]
    pub auto_renewals: u32,
    /// Validity of the certificate in `crt` (capped by validity.rs,
    /// so it may end long before `expiredate`, the upstream service's expiry).
    #[serde(default, with = "ymd_opt")]
    pub cert_not_before: Option<NaiveDate>,
    #[serde(default, with = "ymd_opt")]
    pub cert_not_after: Option<NaiveDate>,
    /// Certificates issued for this item so far (order, reissues, renewals).
    #[serde(default)]
    pub certs_issued: u32,
    /// The upstream cart's id of the order, when it landed in the cart (no `skipbasket=on`, or
    /// knob `order_cart=on`): what `cart_answer` names. Never an item id; kept once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<u64>,
    /// In the cart and not paid yet (`POST /_sim/cart/pay` pays it, `/_sim/cart/drop` drops it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_cart: bool,
    /// The day the CA last sent the validation e-mail: each processing start (order, reissue)
    /// and each resend (handlers/validation.rs).
    #[serde(default, with = "ymd_opt")]
    pub dcv_sent: Option<NaiveDate>,
}

impl Item {
    /// Being processed (3 → 4 → 5) and not deleted.
    pub fn in_processing(&self) -> bool {
        self.pending.is_some() && !self.deleted
    }
}

/// Dates as `YYYY-MM-DD` in the state file (chrono's serde feature is not enabled in the workspace).
mod ymd {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m-%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(serde::de::Error::custom)
    }
}

mod ymd_opt {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub username: String,
    /// Sim-clock seconds of the last request made with this session.
    pub last_used: i64,
}

/// A session lives this long after its last request (SIM-7, "valid for one hour from the last request").
pub const SESSION_TTL_SECS: i64 = 3600;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
    #[serde(default)]
    pub items: BTreeMap<u64, Item>,
    #[serde(default)]
    pub next_item_id: u64,
    #[serde(default)]
    pub next_account_id: u64,
    /// The upstream cart's ids (`Item::cart_id`), a sequence of their own.
    #[serde(default)]
    pub next_cart_id: u64,
    #[serde(default)]
    pub sessions: BTreeMap<String, Session>,
    /// The simulator clock = wall clock + this offset (`POST /_sim/clock`).
    #[serde(default)]
    pub clock_offset_secs: i64,
    #[serde(default)]
    pub knobs: Knobs,
    /// A catalogue swapped in at run time (`POST /_sim/catalog`); `None` = the start-up one.
    #[serde(default)]
    pub catalog_xml: Option<String>,
    /// Top-ups of the accounts (`POST /_sim/topup`), listed by `payment`.
    #[serde(default)]
    pub payments: Vec<PaymentRec>,
}

/// One payment into an account (a top-up), credited at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRec {
    pub id: u64,
    pub account: String,
    /// Simulator-clock seconds.
    pub at: i64,
    pub amount: Decimal,
    pub currency: String,
}

/// The module's test override of "now" (its src/clock.rs), honoured here too so both sides agree:
/// RFC 3339 or `YYYY-MM-DD`. Unset or unreadable: the wall clock. `POST /_sim/clock` moves from there.
pub const TEST_NOW_ENV: &str = "PMSSLRESELLER_TEST_NOW";

fn base_now() -> DateTime<Utc> {
    // Read once: every request asks for "now" several times, and the environment of a running
    // process does not change.
    static TEST_NOW: std::sync::OnceLock<Option<DateTime<Utc>>> = std::sync::OnceLock::new();
    TEST_NOW
        .get_or_init(|| {
            std::env::var(TEST_NOW_ENV)
                .ok()
                .and_then(|t| parse_time(&t))
        })
        .unwrap_or_else(Utc::now)
}

/// RFC 3339 or `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// First item id handed out; far from typical local ids so mix-ups show in tests.
const FIRST_ITEM_ID: u64 = 100_001;

/// First cart id (`Item::cart_id`): below the item ids, so a client that takes a cart id for a
/// service id finds no such service.
const FIRST_CART_ID: u64 = 90_001;

/// Where cart ids go on once they would reach the item ids: far beyond any item id a test makes.
const CART_IDS_AFTER_ITEMS: u64 = 9_000_000_001;

impl World {
    pub fn now(&self) -> DateTime<Utc> {
        base_now() + chrono::Duration::seconds(self.clock_offset_secs)
    }

    pub fn now_secs(&self) -> i64 {
        self.now().timestamp()
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    pub fn new_item_id(&mut self) -> u64 {
        if self.next_item_id < FIRST_ITEM_ID {
            self.next_item_id = FIRST_ITEM_ID;
        }
        let id = self.next_item_id;
        self.next_item_id += 1;
        id
    }

    /// A new cart id: from 90001, never one the item ids use.
    pub fn new_cart_id(&mut self) -> u64 {
        if self.next_cart_id < FIRST_CART_ID {
            self.next_cart_id = FIRST_CART_ID;
        }
        if (FIRST_ITEM_ID..CART_IDS_AFTER_ITEMS).contains(&self.next_cart_id) {
            self.next_cart_id = CART_IDS_AFTER_ITEMS;
        }
        let id = self.next_cart_id;
        self.next_cart_id += 1;
        id
    }

    /// Creates or replaces an account, keeping its id when it existed.
    pub fn put_account(&mut self, mut account: Account) {
        account.id = match self.accounts.get(&account.username) {
            Some(old) => old.id,
            None => {
                self.next_account_id += 1;
                self.next_account_id
            }
        };
        self.accounts.insert(account.username.clone(), account);
    }

    /// A live item of `account` (not deleted).
    pub fn own_item_mut(&mut self, account: &str, id: u64) -> Option<&mut Item> {
        self.items
            .get_mut(&id)
            .filter(|i| i.account == account && !i.deleted)
    }
}

/// `--account USER:PASS:BALANCE:CURRENCY`; the password may itself contain `:`.
pub fn parse_account_spec(spec: &str) -> Result<Account, String> {
    let mut right = spec.rsplitn(3, ':');
    let currency = right.next().unwrap_or_default();
    let balance = right
        .next()
        .ok_or("--account wants USER:PASS:BALANCE:CURRENCY")?;
    let user_pass = right
        .next()
        .ok_or("--account wants USER:PASS:BALANCE:CURRENCY")?;
    let (username, password) = user_pass
        .split_once(':')
        .ok_or("--account wants USER:PASS:BALANCE:CURRENCY")?;
    if username.is_empty() || currency.is_empty() {
        return Err("--account: empty username or currency".into());
    }
    let balance: Decimal = balance
        .parse()
        .map_err(|_| format!("--account: bad balance {balance:?}"))?;
    Ok(Account {
        id: 0,
        username: username.to_string(),
        password: password.to_string(),
        balance,
        currency: currency.to_string(),
        limit: Decimal::ZERO,
        twofa: false,
        may_delete: true,
        may_suspend: false,
        discount_percent: Decimal::ZERO,
    })
}

/// Money as BILLmanager prints it: at least two decimals, at most four (`21.00`, `0.1048`).
pub fn money(d: Decimal) -> String {
    let mut d = d.round_dp(4).normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// `1 234,56`-style balance (knob `balance_localized`, A-U15): NBSP thousands separator, comma decimals.
pub fn money_localized(d: Decimal) -> String {
    let plain = money(d);
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped},{frac}")
}

pub fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let m = Months::new(months.unsigned_abs());
    let r = if months >= 0 {
        date.checked_add_months(m)
    } else {
        date.checked_sub_months(m)
    };
    r.unwrap_or(date)
}

/// Where the world is saved; the last saved text avoids rewriting an unchanged file.
pub struct Store {
    path: Option<PathBuf>,
    last: Vec<u8>,
}

impl Store {
    pub fn new(path: Option<PathBuf>) -> Store {
        Store {
            path,
            last: Vec::new(),
        }
    }

    /// Size of the last text written.
    pub fn last_len(&self) -> usize {
        self.last.len()
    }

    /// Whether there is a state file at all (`--state`).
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    pub fn load(path: &Path) -> Result<Option<World>, String> {
        match std::fs::read(path) {
            Ok(text) => serde_json::from_slice(&text)
                .map(Some)
                .map_err(|e| format!("state file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("state file {}: {e}", path.display())),
        }
    }

    /// Writes the world if it differs from the last write, atomically (temp file + rename) so a
    /// killed simulator never leaves a half-written state. `Ok(true)` when the file was written.
    /// Compact JSON: with 10,000 certificates the pretty form was half again as large and slower.
    pub fn save(&mut self, world: &World) -> Result<bool, String> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let text = serde_json::to_vec(world).map_err(|e| e.to_string())?;
        if text == self.last {
            return Ok(false);
        }
        let tmp = path.with_extension("tmp");
        write_private(&tmp, &text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("state file {}: {e}", path.display()))?;
        self.last = text;
        Ok(true)
    }
}

/// The state file holds account passwords: owner-only permissions.
fn write_private(path: &Path, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(money("21".parse().unwrap()), "21.00");
        assert_eq!(money("21.0000".parse().unwrap()), "21.00");
        assert_eq!(money("0.1048".parse().unwrap()), "0.1048");
        assert_eq!(money_localized("1234.5".parse().unwrap()), "1\u{a0}234,50");
        assert_eq!(
            money_localized("-1234567".parse().unwrap()),
            "-1\u{a0}234\u{a0}567,00"
        );
        assert_eq!(money_localized("12".parse().unwrap()), "12,00");
    }

    #[test]
    fn account_spec() {
        let a = parse_account_spec("r@example.com:pa:ss:100.50:EUR").unwrap();
        assert_eq!(a.username, "r@example.com");
        assert_eq!(a.password, "pa:ss");
        assert_eq!(a.balance.to_string(), "100.50");
        assert!(parse_account_spec("x:1:EUR").is_err());
        assert!(parse_account_spec("x:p:abc:EUR").is_err());
    }

    #[test]
    fn cart_ids_never_meet_item_ids() {
        let mut w = World::default();
        assert_eq!(w.new_cart_id(), 90_001);
        w.next_cart_id = FIRST_ITEM_ID - 1;
        assert_eq!(w.new_cart_id(), FIRST_ITEM_ID - 1);
        assert_eq!(w.new_cart_id(), CART_IDS_AFTER_ITEMS);
        assert_eq!(w.new_item_id(), FIRST_ITEM_ID);
    }

    #[test]
    fn months_clamp_to_month_end() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        assert_eq!(
            add_months(d, 1),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
    }
}
