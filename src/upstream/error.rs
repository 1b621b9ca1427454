//! What can go wrong talking to the upstream BILLmanager, and what the admin is
//! told about it.
//!
//! [`UpstreamError`] separates "nothing was sent" (safe to retry) from "sent,
//! outcome unknown" (a money-moving call may have been applied: look it up
//! before doing anything again) from a definite answer of the upstream
//! ([`ApiError`]). Every text stored here has been passed through
//! [`crate::secret::redact`] when the error was built, so `Debug` and `Display`
//! are safe to log.

use crate::protocol::error::{ErrorKind, ModuleError};
use crate::secret::redact;

use super::wire;

/// A failed upstream call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// Nothing sent: bad URL, unreadable `ca_file`, missing credentials, …
    Config(String),
    /// Nothing sent: no TCP connection. `detail` starts with `host[:port]: `.
    Connect { detail: String },
    /// Nothing sent: TLS handshake or certificate verification failed.
    /// `detail` starts with `host[:port]: `.
    Tls { detail: String },
    /// No answer in time. `sent = false`: the connection was never made;
    /// `sent = true`: the request went out, its outcome is unknown.
    Timeout { func: String, sent: bool },
    /// The connection was lost after the request was sent: outcome unknown.
    Dropped { func: String, detail: String },
    /// An HTTP error status; `first_line` is a one-line summary of the body.
    HttpStatus {
        func: String,
        status: u16,
        first_line: String,
    },
    /// The body is not XML (an HTML page, plain text, …).
    NotXml { func: String, first_line: String },
    /// Truncated or unparsable XML, or XML without what the call must return.
    Malformed { func: String, detail: String },
    /// The body exceeded `max_response_bytes`.
    TooLarge { func: String, limit: u64 },
    /// `<doc><error …>`: a definite answer.
    Api(ApiError),
    /// The order was placed but landed in the upstream cart, not paid
    /// (field-2026-12 §5): `reference` names the cart (`billorder.id 90001`,
    /// `cart link …`). It exists upstream: never order again.
    InCart { func: String, reference: String },
    /// A paginated list that the upstream stops paging before its own total:
    /// nothing may be decided from the part that was read.
    /// `total`: the panel's own count (`<p_elems>`), when it gives one.
    IncompleteList {
        func: String,
        read: u64,
        total: Option<u64>,
    },
}

impl UpstreamError {
    /// True when the request may have reached the upstream and been applied:
    /// everything except "nothing was sent" and a definite API error (an
    /// error wrapped in `<warning>` is not known to be definite). A caller
    /// of a money-moving function must then reconcile, never simply retry.
    pub fn maybe_applied(&self) -> bool {
        match self {
            UpstreamError::Config(_)
            | UpstreamError::Connect { .. }
            | UpstreamError::Tls { .. } => false,
            UpstreamError::Timeout { sent, .. } => *sent,
            UpstreamError::Api(a) => a.wrapped,
            UpstreamError::IncompleteList { .. } => false,
            UpstreamError::InCart { .. }
            | UpstreamError::Dropped { .. }
            | UpstreamError::HttpStatus { .. }
            | UpstreamError::NotXml { .. }
            | UpstreamError::Malformed { .. }
            | UpstreamError::TooLarge { .. } => true,
        }
    }

    /// The API error, if the upstream gave a definite error answer.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            UpstreamError::Api(a) => Some(a),
            _ => None,
        }
    }

    /// The upstream function concerned, when known.
    pub fn func(&self) -> Option<&str> {
        match self {
            UpstreamError::Config(_)
            | UpstreamError::Connect { .. }
            | UpstreamError::Tls { .. } => None,
            UpstreamError::Timeout { func, .. }
            | UpstreamError::Dropped { func, .. }
            | UpstreamError::HttpStatus { func, .. }
            | UpstreamError::NotXml { func, .. }
            | UpstreamError::Malformed { func, .. }
            | UpstreamError::TooLarge { func, .. }
            | UpstreamError::InCart { func, .. }
            | UpstreamError::IncompleteList { func, .. } => Some(func),
            UpstreamError::Api(a) => Some(&a.func),
        }
    }

    /// Short class name for the one log line per request.
    pub fn class_name(&self) -> &'static str {
        match self {
            UpstreamError::Config(_) => "config",
            UpstreamError::Connect { .. } => "connect",
            UpstreamError::Tls { .. } => "tls",
            UpstreamError::Timeout { sent: false, .. } => "connect-timeout",
            UpstreamError::Timeout { sent: true, .. } => "timeout",
            UpstreamError::Dropped { .. } => "dropped",
            UpstreamError::HttpStatus { .. } => "http-status",
            UpstreamError::NotXml { .. } => "not-xml",
            UpstreamError::Malformed { .. } => "malformed",
            UpstreamError::TooLarge { .. } => "too-large",
            UpstreamError::Api(_) => "api-error",
            UpstreamError::InCart { .. } => "in-cart",
            UpstreamError::IncompleteList { .. } => "incomplete-list",
        }
    }

    pub(crate) fn malformed(func: &str, detail: impl AsRef<str>) -> UpstreamError {
        UpstreamError::Malformed {
            func: func.to_string(),
            detail: redact(detail.as_ref()),
        }
    }
}

/// Which setting a `Config` error is about, for the error's `object`. The
/// texts are all written by this module (url.rs, transport.rs, mod.rs).
fn config_object(message: &str) -> &'static str {
    if message.contains("ca_file") {
        "ca_file"
    } else if message.contains("username") && !message.contains("URL") {
        "username"
    } else if message.contains("password") && !message.contains("URL") {
        "password"
    } else {
        "url"
    }
}

/// `host[:port]` at the head of a Connect/Tls detail (see the variants).
fn detail_host(detail: &str) -> Option<&str> {
    detail
        .split_once(": ")
        .map(|(h, _)| h)
        .filter(|h| !h.is_empty())
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            UpstreamError::Config(m) => format!("upstream configuration: {m}"),
            UpstreamError::Connect { detail } => {
                format!("cannot connect to the upstream {detail} (nothing was sent)")
            }
            UpstreamError::Tls { detail } => {
                format!("TLS failure with the upstream {detail} (nothing was sent)")
            }
            UpstreamError::Timeout { func, sent: false } => {
                format!("connecting to the upstream for {func} timed out (nothing was sent)")
            }
            UpstreamError::Timeout { func, sent: true } => {
                format!("no answer from the upstream to {func} in time: outcome unknown")
            }
            UpstreamError::Dropped { func, detail } => format!(
                "connection to the upstream lost after sending {func} ({detail}): outcome unknown"
            ),
            UpstreamError::HttpStatus {
                func,
                status,
                first_line,
            } => format!("upstream answered {func} with HTTP {status}: {first_line}"),
            UpstreamError::NotXml { func, first_line } => {
                format!("upstream answer to {func} is not XML: {first_line}")
            }
            UpstreamError::Malformed { func, detail } => {
                format!("upstream answer to {func} is malformed: {detail}")
            }
            UpstreamError::TooLarge { func, limit } => {
                format!("upstream answer to {func} is larger than {limit} bytes")
            }
            UpstreamError::Api(a) => a.to_string(),
            UpstreamError::InCart { func, reference } => format!(
                "upstream put the order ({func}) into its cart instead of paying it ({reference}): placed, not paid"
            ),
            UpstreamError::IncompleteList { func, read, total } => match total {
                Some(total) => format!(
                    "upstream {func} list stops after {read} of its {total} rows (a page repeats earlier rows \
                     or comes back empty before the total, or the list kept changing while it was read)"
                ),
                None => format!(
                    "upstream {func} list cannot be read to its end after {read} rows (a page repeats earlier \
                     rows, the list kept changing while it was read, or it has more pages than the module reads)"
                ),
            },
        };
        f.write_str(&redact(&text))
    }
}

impl std::error::Error for UpstreamError {}

/// `<doc><error type=… object=… code=…><param name=…>…</param><msg>…</msg></error></doc>`
/// (upstream-api.md §2.4). Unknown types are kept as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The upstream function that answered.
    pub func: String,
    /// `error@type`.
    pub kind: String,
    pub object: Option<String>,
    pub code: Option<String>,
    /// Every `<param name=…>value</param>`, in order.
    pub params: Vec<(String, String)>,
    /// `<msg>` text; absent in some real errors (the KB `not_enough_money` copy).
    pub msg: Option<String>,
    /// The error came wrapped in `<warning>` (field-2026-12 §5): a failure,
    /// but no source says the action did not run, so a money call answered
    /// this way counts as "may have been applied" ([`UpstreamError::maybe_applied`]).
    pub wrapped: bool,
}

/// What kind of answer an API error is; decided by [`wire::classify_error`] (A-U9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorClass {
    /// `not_enough_money`: top up, then retry.
    Money,
    /// Credentials rejected.
    Auth,
    /// The account may not do this.
    Access,
    /// The object (`elid`) does not exist upstream (or is not ours).
    NotFound,
    /// A parameter is missing or invalid: permanent for this request.
    BadRequest,
    /// The object already exists.
    Exists,
    /// The upstream does not know the function (an error about `func`).
    UnknownFunction,
    /// Any other upstream error.
    Other,
}

impl ApiError {
    pub fn class(&self) -> ApiErrorClass {
        wire::classify_error(&self.kind, self.object.as_deref())
    }

    /// The value of `<param name="name">`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = format!("upstream {} answered error '{}'", self.func, self.kind);
        if let Some(o) = &self.object {
            text.push_str(&format!(" (object {o})"));
        }
        if let Some(m) = &self.msg {
            text.push_str(&format!(": {m}"));
        } else if !self.params.is_empty() {
            let p: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            text.push_str(&format!(" [{}]", p.join(", ")));
        }
        f.write_str(&redact(&text))
    }
}

/// What the money-moving call is, in the admin's words.
fn operation_words(func: &str) -> &'static str {
    if wire::is_order_func(func) {
        "order"
    } else if func == wire::FUNC_SERVICE_PROLONG {
        "renewal"
    } else {
        "operation"
    }
}

fn money_error(a: &ApiError) -> ModuleError {
    let amount = a.param("amount").unwrap_or("?");
    let have = a.param("have").unwrap_or("?");
    let deficit = a.param("deficit");
    let currency = a.param("currency").unwrap_or("");
    let cur = if currency.is_empty() {
        String::new()
    } else {
        format!(" {currency}")
    };
    let mut message = format!(
        "upstream balance {have}{cur}, {} needs {amount}{cur}",
        operation_words(&a.func)
    );
    if let Some(d) = deficit {
        message.push_str(&format!(" (short by {d}{cur})"));
    }
    message.push_str(": top up the upstream account, then restart the operation");
    let mut e = ModuleError::new(ErrorKind::NotEnoughMoney, message).with_object(a.func.clone());
    for name in ["amount", "have", "deficit", "currency"] {
        e = e.with_param(name, a.param(name).unwrap_or(""));
    }
    e
}

impl From<UpstreamError> for ModuleError {
    fn from(err: UpstreamError) -> ModuleError {
        let text = err.to_string();
        match &err {
            UpstreamError::Config(m) => {
                ModuleError::new(ErrorKind::Config, format!("upstream connection settings: {m}"))
                    .with_object(config_object(m))
            }
            UpstreamError::Connect { detail } => ModuleError::new(
                ErrorKind::UpstreamUnreachable,
                format!("{text}: check the URL, DNS, firewall and that the upstream BILLmanager is running"),
            )
            .with_object(detail_host(detail).unwrap_or("upstream")),
            UpstreamError::Tls { detail } => ModuleError::new(
                ErrorKind::UpstreamTls,
                format!("{text}: {}", super::transport::tls_advice(detail)),
            )
            .with_object(detail_host(detail).unwrap_or("upstream")),
            UpstreamError::Timeout { func, sent } => {
                let advice = if *sent {
                    "the request may have been applied; the module checks upstream before any retry"
                } else {
                    "check the network path to the upstream, or raise connect_timeout_secs"
                };
                ModuleError::new(ErrorKind::UpstreamTimeout, format!("{text}: {advice}"))
                    .with_object(func.clone())
            }
            UpstreamError::Dropped { func, .. } => ModuleError::new(
                ErrorKind::UpstreamBadResponse,
                format!("{text}: the request may have been applied; the module checks upstream before any retry"),
            )
            .with_object(func.clone()),
            UpstreamError::HttpStatus { func, .. }
            | UpstreamError::NotXml { func, .. }
            | UpstreamError::Malformed { func, .. }
            | UpstreamError::TooLarge { func, .. } => ModuleError::new(
                ErrorKind::UpstreamBadResponse,
                format!("{text}: check that the URL points at the upstream BILLmanager (…/billmgr) and that it works"),
            )
            .with_object(func.clone()),
            UpstreamError::InCart { func, reference } => ModuleError::new(
                ErrorKind::ManualRequired,
                format!(
                    "{text}: pay it in the upstream BILLmanager (the module's account, its cart) or delete it there; \
                     nothing is ordered again"
                ),
            )
            .with_object(func.clone())
            .with_param("cart", reference.clone()),
            UpstreamError::IncompleteList { func, .. } => ModuleError::new(
                ErrorKind::UpstreamBadResponse,
                format!(
                    "{text}: nothing was decided from the partial list; the next run reads it again. If this \
                     stays, ask the upstream's operator whether func=certificate pages with p_cnt and p_num up to \
                     its <p_elems>"
                ),
            )
            .with_object(func.clone()),
            UpstreamError::Api(a) if a.object.as_deref() == Some(wire::SECOND_FACTOR_FUNC) => {
                ModuleError::new(
                    ErrorKind::InvalidLogin,
                    format!(
                        "upstream {}: the login waits for a second factor (two-factor authentication is on for the \
                         module's upstream account); nothing was done. Switch two-factor authentication off for that \
                         account in the upstream BILLmanager, or give the module an account without it",
                        a.func
                    ),
                )
                .with_object(a.func.clone())
            }
            UpstreamError::Api(a) => match a.class() {
                ApiErrorClass::Auth => ModuleError::new(
                    ErrorKind::InvalidLogin,
                    format!("{text}: check the username and password in the processing module settings (an account with two-factor authentication cannot be used)"),
                )
                .with_object(a.func.clone()),
                ApiErrorClass::Money => money_error(a),
                ApiErrorClass::UnknownFunction => {
                    let hint = wire::order_func_hint(&a.func).unwrap_or_else(|| {
                        "the upstream does not offer this function: check that the URL points at a BILLmanager that sells certificates (…/billmgr)".to_string()
                    });
                    ModuleError::new(ErrorKind::UpstreamError, format!("{text}: {hint}"))
                        .with_object(a.func.clone())
                        .with_param("upstream_type", a.kind.clone())
                }
                ApiErrorClass::Access => ModuleError::new(
                    ErrorKind::UpstreamAccess,
                    format!("{text}: allow the upstream account to do this (e.g. delete or suspend services), or do it by hand upstream"),
                )
                .with_object(a.func.clone()),
                ApiErrorClass::NotFound
                | ApiErrorClass::BadRequest
                | ApiErrorClass::Exists
                | ApiErrorClass::Other => ModuleError::new(ErrorKind::UpstreamError, text)
                    .with_object(a.func.clone())
                    .with_param("upstream_type", a.kind.clone())
                    .with_param(
                        "upstream_msg",
                        a.msg.clone().or_else(|| a.object.clone()).unwrap_or_default(),
                    ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(kind: &str, object: Option<&str>, params: &[(&str, &str)]) -> ApiError {
        ApiError {
            func: wire::FUNC_CERT_ORDER.into(),
            kind: kind.into(),
            object: object.map(str::to_string),
            code: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            msg: None,
            wrapped: false,
        }
    }

    #[test]
    fn maybe_applied_per_class() {
        let f = || "certificate.order.param".to_string();
        assert!(!UpstreamError::Config("x".into()).maybe_applied());
        assert!(!UpstreamError::Connect {
            detail: "h: x".into()
        }
        .maybe_applied());
        assert!(!UpstreamError::Tls {
            detail: "h: x".into()
        }
        .maybe_applied());
        assert!(!UpstreamError::Timeout {
            func: f(),
            sent: false
        }
        .maybe_applied());
        assert!(UpstreamError::Timeout {
            func: f(),
            sent: true
        }
        .maybe_applied());
        assert!(UpstreamError::Dropped {
            func: f(),
            detail: "x".into()
        }
        .maybe_applied());
        assert!(UpstreamError::HttpStatus {
            func: f(),
            status: 502,
            first_line: "x".into()
        }
        .maybe_applied());
        assert!(UpstreamError::NotXml {
            func: f(),
            first_line: "x".into()
        }
        .maybe_applied());
        assert!(UpstreamError::malformed(&f(), "x").maybe_applied());
        assert!(UpstreamError::TooLarge {
            func: f(),
            limit: 1
        }
        .maybe_applied());
        assert!(!UpstreamError::Api(api("value", None, &[])).maybe_applied());
    }

    #[test]
    fn money_maps_to_not_enough_money_with_params() {
        let e = ModuleError::from(UpstreamError::Api(api(
            "not_enough_money",
            None,
            &[
                ("amount", "21.00"),
                ("have", "5.00"),
                ("currency", "EUR"),
                ("deficit", "16.00"),
            ],
        )));
        assert_eq!(e.kind, ErrorKind::NotEnoughMoney);
        assert!(
            e.message
                .contains("upstream balance 5.00 EUR, order needs 21.00 EUR"),
            "{}",
            e.message
        );
        assert!(e.message.contains("top up the upstream account"));
        assert!(e.params.contains(&("deficit".into(), "16.00".into())));
        assert!(e.params.contains(&("currency".into(), "EUR".into())));
        assert_eq!(e.object.as_deref(), Some("certificate.order.param"));
    }

    #[test]
    fn classes_map_to_kinds() {
        let k = |a: ApiError| ModuleError::from(UpstreamError::Api(a)).kind;
        assert_eq!(k(api("auth", None, &[])), ErrorKind::InvalidLogin);
        assert_eq!(k(api("access", None, &[])), ErrorKind::UpstreamAccess);
        assert_eq!(
            k(api("missed", Some("elid"), &[])),
            ErrorKind::UpstreamError
        );
        let e = ModuleError::from(UpstreamError::Api(ApiError {
            msg: Some("bad csr".into()),
            ..api("value", Some("csr"), &[])
        }));
        assert_eq!(e.kind, ErrorKind::UpstreamError);
        assert!(e.params.contains(&("upstream_type".into(), "value".into())));
        assert!(e
            .params
            .contains(&("upstream_msg".into(), "bad csr".into())));
        let f = || "whoami".to_string();
        let m = |u: UpstreamError| ModuleError::from(u);
        let c = m(UpstreamError::Connect {
            detail: "h.example:1500: refused".into(),
        });
        assert_eq!(c.kind, ErrorKind::UpstreamUnreachable);
        assert_eq!(c.object.as_deref(), Some("h.example:1500"));
        assert_eq!(
            m(UpstreamError::Tls {
                detail: "h: x".into()
            })
            .kind,
            ErrorKind::UpstreamTls
        );
        assert_eq!(
            m(UpstreamError::Timeout {
                func: f(),
                sent: true
            })
            .kind,
            ErrorKind::UpstreamTimeout
        );
        let d = m(UpstreamError::Dropped {
            func: f(),
            detail: "reset".into(),
        });
        assert_eq!(d.kind, ErrorKind::UpstreamBadResponse);
        assert!(d.message.contains("outcome unknown"), "{}", d.message);
        assert_eq!(
            m(UpstreamError::TooLarge {
                func: f(),
                limit: 9
            })
            .kind,
            ErrorKind::UpstreamBadResponse
        );
        assert_eq!(
            m(UpstreamError::Config("bad".into())).kind,
            ErrorKind::Config
        );
    }

    #[test]
    fn texts_are_redacted() {
        let _s = crate::secret::Secret::new("Err0r-Secret-Pw");
        let e = UpstreamError::malformed("whoami", "echo authinfo=u:Err0r-Secret-Pw");
        assert!(!format!("{e:?}").contains("Err0r-Secret-Pw"));
        assert!(!e.to_string().contains("Err0r-Secret-Pw"));
        let m = ModuleError::from(e);
        assert!(!m.message.contains("Err0r-Secret-Pw"));
    }
}
