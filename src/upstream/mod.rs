//! The typed client of the upstream BILLmanager we buy certificates from
//! (upstream-api.md §1–§8).
//!
//! Every call is one HTTPS POST (`application/x-www-form-urlencoded`) to the
//! normalised `…/billmgr` URL with `out=xml`, `func=…` and
//! `authinfo=user:password` in the body — never in the URL. Answers are read
//! as XML; `/doc/error` becomes [`UpstreamError::Api`], everything else that is
//! not a usable answer gets its own class so callers can tell "nothing was
//! sent" from "sent, outcome unknown" ([`UpstreamError::maybe_applied`]).
//!
//! The client never retries and never de-duplicates: idempotency of the
//! money-moving calls (order, prolong, reissue, delete) is the caller's job
//! (remoteid + reconciliation, upstream-api.md §4).
//!
//! Wire names that are guesses live in [`wire`] only; XML reading in [`parse`];
//! URL rules in [`url`]; HTTP and failure classes in [`transport`].

// `UpstreamError::Api(ApiError)` is part of the frozen API other modules match
// on; boxing it to please this lint would change that shape. An error happens
// once per process at most, so its size costs nothing.
#![allow(clippy::result_large_err)]

pub mod error;
pub mod parse;
pub mod transport;
pub mod url;
pub mod wire;

use std::time::Instant;

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub use error::{ApiError, ApiErrorClass, UpstreamError};
pub use url::Endpoint;

use crate::config::{OrderConfig, UpstreamConfig};
use crate::secret::{redact, Secret, MASK};
use crate::vocab::{ItemStatus, OrderPeriod};
use parse::Node;

/// Connection settings of one processing module (module-protocol.md §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub url: String,
    pub username: String,
    pub password: Secret,
}

/// Can `id` name an upstream service? BILLmanager ids start at 1, and no SQL
/// key column holds more than `i64::MAX`; `0` is what a broken answer or an
/// empty field parses to, so an upstream id 0 is refused.
pub fn is_possible_id(id: u64) -> bool {
    id > 0 && i64::try_from(id).is_ok()
}

/// The upstream account, from `whoami`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub balance: Decimal,
    pub currency: Option<String>,
}

/// One payment into the upstream account (a top-up), from the payments list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: u64,
    /// When it was made, where the panel shows a time (the panel's own
    /// time zone, taken as UTC).
    pub at: Option<chrono::NaiveDateTime>,
    /// Its day, where only the day is shown.
    pub day: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: Option<String>,
    /// Credited to the account (not new, in progress or returned).
    pub credited: bool,
}

/// One row of the `certificate` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub id: u64,
    pub cn: String,
    /// Plan id or name, as the upstream shows it (A-U8).
    pub pricelist: String,
    pub createdate: Option<String>,
    pub expiredate: Option<NaiveDate>,
    /// The `item_status` column as shown (a code or a label), for logs.
    pub item_status: Option<String>,
    /// The status code ([`wire::item_status_code`]): what decisions use.
    pub status: Option<ItemStatus>,
    pub status_msg: Option<String>,
    /// The price of one period as shown (`21.00 EUR`), where listed.
    pub cost: Option<String>,
    /// Only where the upstream lists it (A-U10).
    pub remoteid: Option<String>,
}

/// One certificate as its edit form shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertView {
    pub id: u64,
    pub cn: String,
    pub altnames: Vec<String>,
    pub pricelist: String,
    /// `period` as shown: months, or a special value (`vocab::Period`).
    pub period: Option<i64>,
    pub createdate: Option<String>,
    pub expiredate: Option<NaiveDate>,
    /// The `item_status` field as shown (a code or a label), for logs.
    pub item_status: Option<String>,
    /// The status code ([`wire::item_status_code`]): what decisions use.
    pub status: Option<ItemStatus>,
    /// Issuance status 3 requested, 4 enrolled, 5 issued, 6 failed (§7.3).
    pub service_status: Option<u8>,
    pub status_msg: Option<String>,
    pub approver_method: Option<String>,
    pub approver_emails: Vec<String>,
    pub csr: Option<String>,
    /// The issued certificate (PEM, or whatever the upstream CA module stored; A-U3).
    pub crt: Option<String>,
    pub remoteid: Option<String>,
    /// What the view shows about domain validation, where it shows it
    /// ([`wire::VALIDATION_FIELDS`]).
    pub validation: Validation,
}

/// Domain validation facts of one certificate as the upstream view shows
/// them. Each is `None` when the view does not carry the field at all (an
/// upstream that does not show it: nothing is known); `Some` of an empty
/// value or list when it shows the field empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// When the validation e-mail was sent, as shown (a date, maybe with a time).
    pub email_sent: Option<String>,
    /// The DNS TXT value the CA looks for.
    pub dns_txt: Option<String>,
    /// The names still to be validated.
    pub pending: Option<Vec<String>>,
    /// The names already validated.
    pub validated: Option<Vec<String>>,
}

/// A new certificate order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertOrder {
    /// Upstream tariff id.
    pub pricelist: u64,
    /// Months, or the tariff's trial: nothing else can be sent.
    pub period: OrderPeriod,
    /// Our reference stored on the upstream item (local item id), for reconciliation.
    pub remoteid: String,
    pub cn: String,
    pub csr: String,
    pub altnames: Vec<String>,
    pub approver_method: Option<String>,
    pub approver_emails: Vec<String>,
    /// Passed through as given (`adm_*`, `tech_*`, `org_*`, `addon_<id>`, …);
    /// names the client sets itself are ignored with a warning.
    pub extra: Vec<(String, String)>,
}

/// A reissue request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reissue {
    pub id: u64,
    pub kind: ReissueKind,
    pub approver_method: Option<String>,
    pub approver_emails: Vec<String>,
}

/// Which reissue to ask for (`crt_type`, [`wire::crt_type`]); chosen by
/// `commands::lifecycle::reissue_kind::choose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReissueKind {
    /// Same CSR as on file.
    OldRequest,
    /// A new CSR.
    Manual { csr: String },
    /// A changed SAN list.
    AltName { altnames: Vec<String> },
}

/// What one answer proved about the login (credential health): any answer
/// that is not an authentication error means the upstream took the
/// credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    Accepted,
    Refused,
}

/// Told about every answer's [`AuthOutcome`]: the endpoint, the username.
/// Transport failures prove nothing and are not reported.
pub type AuthObserver = fn(&Endpoint, &str, AuthOutcome);

static AUTH_OBSERVER: std::sync::OnceLock<AuthObserver> = std::sync::OnceLock::new();

/// Install the process's observer (once; later calls are ignored).
pub fn set_auth_observer(observer: AuthObserver) {
    let _ = AUTH_OBSERVER.set(observer);
}

/// The outcome an answer proves, if any.
pub fn auth_outcome<T>(result: &Result<T, UpstreamError>) -> Option<AuthOutcome> {
    match result {
        Ok(_) => Some(AuthOutcome::Accepted),
        Err(UpstreamError::Api(a)) if a.class() == ApiErrorClass::Auth => {
            Some(AuthOutcome::Refused)
        }
        Err(UpstreamError::Api(_)) => Some(AuthOutcome::Accepted),
        Err(_) => None,
    }
}

/// The upstream client: one per process, built only by commands that need it.
pub struct Client {
    http: reqwest::blocking::Client,
    endpoint: Endpoint,
    username: String,
    password: Secret,
    cfg: UpstreamConfig,
    order: OrderConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.endpoint.to_string())
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Reads of the certificate list before one that did not change under us
/// counts as failed ([`Client::certificate_list`]).
const LIST_READS: u32 = 3;

/// What one read of the paginated list gave.
enum Listed {
    Whole(Vec<CertSummary>),
    /// The panel's total changed between pages.
    Moved {
        read: u64,
    },
}

/// Values longer than this are shortened in the trace log (CSRs, certificates).
const TRACE_VALUE_CHARS: usize = 80;

impl Client {
    /// Check the settings and prepare HTTPS. No network access.
    pub fn new(conn: &Connection, cfg: &UpstreamConfig) -> Result<Client, UpstreamError> {
        let endpoint = Endpoint::parse(&conn.url)?;
        let username = conn.username.trim().to_string();
        if username.is_empty() {
            return Err(UpstreamError::Config(
                "the upstream username is empty".into(),
            ));
        }
        if conn.password.is_empty() {
            return Err(UpstreamError::Config(
                "the upstream password is empty".into(),
            ));
        }
        let http = transport::http_client(&endpoint, cfg)?;
        Ok(Client {
            http,
            endpoint,
            username,
            password: conn.password.clone(),
            cfg: cfg.clone(),
            order: OrderConfig::default(),
        })
    }

    /// Order the way `[order]` says (function, `autoprolong=off`).
    pub fn with_order_config(mut self, order: &OrderConfig) -> Client {
        self.order = order.clone();
        self
    }

    /// The order function this client sends.
    pub fn order_func(&self) -> &'static str {
        wire::order_func(self.order.function)
    }

    /// The normalised endpoint URL (no secrets).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The request body. The only place the password is exposed.
    fn form(&self, func: &str, fields: &[(String, String)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair(wire::OUT.0, wire::OUT.1);
        s.append_pair(wire::FIELD_FUNC, func);
        // A temporary copy of the password: wiped when dropped. The body
        // itself goes to reqwest, whose copies are not ours to wipe.
        let authinfo =
            zeroize::Zeroizing::new(format!("{}:{}", self.username, self.password.expose()));
        s.append_pair(wire::FIELD_AUTHINFO, &authinfo);
        for (k, v) in fields {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// What the trace log shows of a request: authinfo masked by name,
    /// long values cut, and the whole line through `redact`.
    fn loggable(&self, func: &str, fields: &[(String, String)]) -> String {
        let mut parts = vec![
            format!("func={func}"),
            format!("{}={}:{MASK}", wire::FIELD_AUTHINFO, self.username),
        ];
        for (k, v) in fields {
            let shown: String = v.chars().take(TRACE_VALUE_CHARS).collect();
            let cut = if v.chars().count() > TRACE_VALUE_CHARS {
                "…"
            } else {
                ""
            };
            parts.push(format!("{k}={shown}{cut}"));
        }
        redact(&parts.join(" "))
    }

    /// One call: POST, read, parse, and turn `/doc/error` into `Api`; the raw
    /// body and its `<doc>`. Logs one debug line with the function, elapsed
    /// time and outcome class.
    fn exchange(
        &self,
        func: &str,
        fields: &[(String, String)],
    ) -> Result<(Vec<u8>, Node), UpstreamError> {
        log::trace!("upstream request {}", self.loggable(func, fields));
        let started = Instant::now();
        let result = transport::post(
            &self.http,
            &self.endpoint,
            &self.cfg,
            func,
            self.form(func, fields),
        )
        .and_then(|body| {
            let doc = parse::parse_answer(func, &body)?;
            Ok((body, doc))
        });
        let ms = started.elapsed().as_millis();
        match &result {
            Ok((body, _)) => log::debug!("upstream {func}: ok ({} bytes) in {ms} ms", body.len()),
            Err(UpstreamError::Api(a)) => {
                log::debug!("upstream {func}: api-error {} in {ms} ms", a.kind)
            }
            Err(e) => log::debug!("upstream {func}: {} in {ms} ms: {e}", e.class_name()),
        }
        if let (Some(observe), Some(outcome)) = (AUTH_OBSERVER.get(), auth_outcome(&result)) {
            observe(&self.endpoint, &self.username, outcome);
        }
        result
    }

    fn call(&self, func: &str, fields: &[(String, String)]) -> Result<Node, UpstreamError> {
        self.exchange(func, fields).map(|(_, doc)| doc)
    }

    /// Login check and balance (A-U15).
    pub fn whoami(&self) -> Result<Account, UpstreamError> {
        let func = wire::FUNC_WHOAMI;
        let doc = self.call(func, &[])?;
        wire::account_from_whoami(func, &doc)
    }

    /// The account's payments list (top-ups), every page, through `func`
    /// (the setting `[charges] payment_function`; [`wire::FUNC_PAYMENT_LIST`]
    /// by default). Moves no money.
    pub fn payment_list(&self, func: &str) -> Result<Vec<Payment>, UpstreamError> {
        let mut rows: Vec<Payment> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1..=wire::MAX_LIST_PAGES {
            let doc = self.call(func, &wire::page_fields(page))?;
            let mut added = 0;
            for p in wire::payment_list(&doc) {
                if seen.insert(p.id) {
                    rows.push(p);
                    added += 1;
                }
            }
            if added == 0 {
                return Ok(rows);
            }
        }
        Err(UpstreamError::IncompleteList {
            func: func.to_string(),
            read: rows.len() as u64,
            total: None,
        })
    }

    /// The certificate catalog as raw XML (`itemtype=certificate`), for the
    /// catalog parser. Checked to be a `<doc>` without `<error>`.
    pub fn pricelist_export(&self) -> Result<String, UpstreamError> {
        let func = wire::FUNC_PRICELIST_EXPORT;
        let (body, _) = self.exchange(func, &wire::pricelist_export_fields())?;
        // parse_answer accepted it, so it is UTF-8 already.
        String::from_utf8(body).map_err(|_| UpstreamError::malformed(func, "not UTF-8"))
    }

    /// All certificates of the account, every page of a paginated list
    /// (field-2026-12 §5: live panels may answer the first page only).
    ///
    /// Pages of [`wire::LIST_PAGE_SIZE`] rows are read until one adds no
    /// row: an empty page is the end. Neither a short page (a panel may cap
    /// `p_cnt` below what we ask) nor the panel's own total (`<p_elems>`,
    /// which may count differently) is taken for the end; the total only
    /// checks it: fewer rows than it says, or a page that only repeats
    /// earlier rows (the panel ignores `p_num`), is
    /// [`UpstreamError::IncompleteList`], and callers decide nothing from a
    /// part. A total that changes between pages means the list moved while
    /// it was read (a row deleted shifts the rest): it is read again, up to
    /// `LIST_READS` times. At most [`wire::MAX_LIST_PAGES`] pages.
    pub fn certificate_list(&self) -> Result<Vec<CertSummary>, UpstreamError> {
        let func = wire::FUNC_CERT_LIST;
        let mut reads = 1;
        loop {
            match self.list_pages(func)? {
                Listed::Whole(rows) => return Ok(rows),
                Listed::Moved { read } if reads < LIST_READS => {
                    log::info!(
                        "upstream {func}: the list changed while it was read ({read} rows so far); reading it again"
                    );
                    reads += 1;
                }
                Listed::Moved { read } => {
                    return Err(UpstreamError::IncompleteList {
                        func: func.to_string(),
                        read,
                        total: None,
                    })
                }
            }
        }
    }

    /// One read of the list, page after page ([`Client::certificate_list`]).
    fn list_pages(&self, func: &str) -> Result<Listed, UpstreamError> {
        let mut rows: Vec<CertSummary> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut first_total: Option<u64> = None;
        for page in 1..=wire::MAX_LIST_PAGES {
            let doc = self.call(func, &wire::page_fields(page))?;
            let total = wire::list_total(&doc);
            if page == 1 {
                first_total = total;
            } else if total.is_some() && total != first_total {
                return Ok(Listed::Moved {
                    read: rows.len() as u64,
                });
            }
            let elems = doc.children_named("elem").count();
            let page_rows = wire::cert_list(&doc);
            let repeated = !page_rows.is_empty();
            let mut added = 0;
            for row in page_rows {
                if seen.insert(row.id) {
                    rows.push(row);
                    added += 1;
                }
            }
            if added > 0 || (elems > 0 && !repeated) {
                // New rows, or only rows without an id (skipped, logged):
                // there may be more.
                continue;
            }
            let read = rows.len() as u64;
            let total = first_total;
            if repeated || total.is_some_and(|t| read < t) {
                return Err(UpstreamError::IncompleteList {
                    func: func.to_string(),
                    read,
                    total,
                });
            }
            if let Some(t) = total.filter(|t| read > *t) {
                log::info!(
                    "upstream {func}: {read} rows listed, the panel's count says {t}; all are used"
                );
            }
            return Ok(Listed::Whole(rows));
        }
        Err(UpstreamError::IncompleteList {
            func: func.to_string(),
            read: rows.len() as u64,
            total: first_total,
        })
    }

    /// One certificate's fields from its edit form.
    pub fn certificate_view(&self, id: u64) -> Result<CertView, UpstreamError> {
        let func = wire::FUNC_CERT_EDIT;
        let doc = self.call(func, &wire::view_fields(id))?;
        wire::cert_view(func, id, &doc)
    }

    /// Order and pay. `Ok(id)` = the new upstream item id. An error with
    /// `maybe_applied()` means the order may exist: reconcile, never re-order.
    pub fn certificate_order(&self, o: &CertOrder) -> Result<u64, UpstreamError> {
        let func = self.order_func();
        let doc = self.call(func, &wire::order_fields(o, &self.order))?;
        wire::order_id(func, &doc)
    }

    /// Start a reissue. Success = no error (A-U5).
    pub fn certificate_reissue(&self, r: &Reissue) -> Result<(), UpstreamError> {
        self.call(wire::FUNC_CERT_REISSUE, &wire::reissue_fields(r))
            .map(drop)
    }

    /// Resend the validation e-mail to `email` through the admin's function
    /// `func` (`[validation] resend_email_func`; none is public, A-U4).
    /// Success = no error.
    pub fn validation_resend_email(
        &self,
        func: &str,
        id: u64,
        email: &str,
    ) -> Result<(), UpstreamError> {
        self.call(func, &wire::resend_email_fields(id, email))
            .map(drop)
    }

    /// Ask the CA to check the DNS record of `domain` again, through the
    /// admin's function `func` (`[validation] dns_check_func`; A-U4).
    pub fn validation_check_dns(
        &self,
        func: &str,
        id: u64,
        domain: &str,
    ) -> Result<(), UpstreamError> {
        self.call(func, &wire::dns_check_fields(id, domain))
            .map(drop)
    }

    /// Delete. Success = no error; `<ok/>` is not required (A-U5).
    pub fn certificate_delete(&self, id: u64) -> Result<(), UpstreamError> {
        self.call(wire::FUNC_CERT_DELETE, &wire::action_fields(id))
            .map(drop)
    }

    /// Renew for `period_months`. `Ok(Some(date))` when the answer names the
    /// new expiry (A-U7); re-read the view to be sure either way.
    pub fn service_prolong(
        &self,
        id: u64,
        period_months: u32,
    ) -> Result<Option<NaiveDate>, UpstreamError> {
        let doc = self.call(
            wire::FUNC_SERVICE_PROLONG,
            &wire::prolong_fields(id, period_months),
        )?;
        Ok(wire::prolong_expiry(&doc))
    }

    /// Suspend upstream (A-U2). Often `access`-denied for client accounts.
    pub fn certificate_suspend(&self, id: u64) -> Result<(), UpstreamError> {
        self.call(wire::FUNC_CERT_SUSPEND, &wire::action_fields(id))
            .map(drop)
    }

    /// Resume upstream (A-U2). Documented admin-only; `access` errors expected.
    pub fn certificate_resume(&self, id: u64) -> Result<(), UpstreamError> {
        self.call(wire::FUNC_CERT_RESUME, &wire::action_fields(id))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(url: &str, pw: &str) -> Connection {
        Connection {
            url: url.into(),
            username: "reseller@example.com".into(),
            password: Secret::new(pw),
        }
    }

    #[test]
    fn form_has_credentials_only_in_body_and_debug_hides_them() {
        let c = Client::new(
            &conn("http://127.0.0.1:9/billmgr", "Pa55:w&rd=x"),
            &UpstreamConfig::default(),
        )
        .unwrap();
        let body = c.form("whoami", &[("elid".into(), "5".into())]);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs[0], ("out".into(), "xml".into()));
        assert_eq!(pairs[1], ("func".into(), "whoami".into()));
        assert_eq!(
            pairs[2],
            ("authinfo".into(), "reseller@example.com:Pa55:w&rd=x".into())
        );
        assert_eq!(pairs[3], ("elid".into(), "5".into()));
        assert!(c.endpoint().url().query().is_none());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("Pa55"), "{dbg}");
        let cn = format!("{:?}", conn("h", "Pa55:w&rd=x"));
        assert!(!cn.contains("Pa55"), "{cn}");
        let logged = c.loggable("whoami", &[("csr".into(), "C".repeat(500))]);
        assert!(!logged.contains("Pa55"), "{logged}");
        assert!(logged.contains("authinfo=reseller@example.com:***"));
        assert!(logged.len() < 300);
    }

    #[test]
    fn only_api_answers_tell_about_the_login() {
        let api = |kind: &str| {
            UpstreamError::Api(ApiError {
                func: "whoami".into(),
                kind: kind.into(),
                object: None,
                code: None,
                params: Vec::new(),
                msg: None,
                wrapped: false,
            })
        };
        assert_eq!(auth_outcome(&Ok::<(), _>(())), Some(AuthOutcome::Accepted));
        assert_eq!(
            auth_outcome::<()>(&Err(api("auth"))),
            Some(AuthOutcome::Refused)
        );
        // Any other API error: the login was taken.
        assert_eq!(
            auth_outcome::<()>(&Err(api("missed"))),
            Some(AuthOutcome::Accepted)
        );
        // A transport failure proves nothing either way.
        assert_eq!(
            auth_outcome::<()>(&Err(UpstreamError::Config("x".into()))),
            None
        );
    }

    #[test]
    fn new_refuses_bad_settings_without_network() {
        let cfg = UpstreamConfig::default();
        let e =
            Client::new(&conn("http://billing.example.com/billmgr", "pw-x1"), &cfg).unwrap_err();
        assert!(matches!(e, UpstreamError::Config(_)), "{e:?}");
        assert!(!e.maybe_applied());
        let mut c = conn("https://billing.example.com", "pw-x1");
        c.username = " ".into();
        assert!(matches!(
            Client::new(&c, &cfg),
            Err(UpstreamError::Config(_))
        ));
        assert!(matches!(
            Client::new(&conn("https://billing.example.com", ""), &cfg),
            Err(UpstreamError::Config(_))
        ));
    }

    #[test]
    fn ca_file_must_be_readable_pem() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = UpstreamConfig {
            ca_file: Some(dir.path().join("missing.pem")),
            ..UpstreamConfig::default()
        };
        let c = conn("https://billing.example.com", "pw-x2");
        let e = Client::new(&c, &cfg).unwrap_err();
        assert!(
            matches!(&e, UpstreamError::Config(m) if m.contains("missing.pem")),
            "{e:?}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        cfg.ca_file = Some(junk);
        let e = Client::new(&c, &cfg).unwrap_err();
        assert!(
            matches!(&e, UpstreamError::Config(m) if m.contains("no PEM")),
            "{e:?}"
        );
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        cfg.ca_file = Some(bad);
        let e = Client::new(&c, &cfg).unwrap_err();
        assert!(matches!(&e, UpstreamError::Config(_)), "{e:?}");
    }
}
