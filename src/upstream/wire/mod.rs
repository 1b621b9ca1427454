//! THE table of upstream wire names: function names, request field names and
//! response paths, and the one error classifier.
//!
//! Most of these are not confirmed by a primary source (upstream-api.md §0.1,
//! §10). Each guess carries its `A-Un` id, so when a real upstream disagrees
//! this is the only file to change. Nothing outside this file spells an
//! upstream function or field name.

pub mod field;

use chrono::NaiveDate;

pub use field::{
    cart_reference, currency_code, expiry_of, item_status_code, list_total, page_fields,
    parse_date, parse_money, renewal_not_before, second_factor_pending, LIST_PAGE_SIZE,
    MAX_LIST_PAGES, SECOND_FACTOR_FUNC,
};

use super::error::{ApiErrorClass, UpstreamError};
use super::parse::Node;
use super::{
    is_possible_id, Account, CertOrder, CertSummary, CertView, Payment, Reissue, ReissueKind,
    Validation,
};
use crate::config::{OrderConfig, OrderFunction};

// ---- common request fields (upstream-api.md §1.3) -------------------------

/// Output format: the only one with primary examples for orders and errors [INFER §2.3, A-U13].
pub const OUT: (&str, &str) = ("out", "xml");
pub const FIELD_FUNC: &str = "func";
/// `user:password` on every call, in the POST body [DOC S1, S2].
pub const FIELD_AUTHINFO: &str = "authinfo";
pub const FIELD_ELID: &str = "elid";
/// Marks a form submit [DOC S3, S6].
pub const SOK: (&str, &str) = ("sok", "ok");

// ---- function names --------------------------------------------------------

/// A-U15 (§6, 3P-CODE S24): account and balance.
pub const FUNC_WHOAMI: &str = "whoami";
/// DOC S7: the tariff catalog.
pub const FUNC_PRICELIST_EXPORT: &str = "pricelist.export";
/// DOC S6: the certificate list (user-level columns: A-U2).
pub const FUNC_CERT_LIST: &str = "certificate";
/// A-U2, A-U3 (§3.3): the edit form as the view of one certificate.
pub const FUNC_CERT_EDIT: &str = "certificate.edit";
/// ARTICLE, A-U1 (§3.2): the order wizard's last step.
pub const FUNC_CERT_ORDER: &str = "certificate.order.param";
/// 3P-CODE N7 (evidence-2026-12 "Order function"): the v2 order API of some
/// BILLmanager 6 builds, sent with `force_use_new_cart=on`.
pub const FUNC_CERT_ORDER_V2: &str = "v2.certificate.order.param";
/// ARTICLE, A-U1 (§3.4).
pub const FUNC_CERT_REISSUE: &str = "certificate.reissue.step2";
/// ARTICLE, A-U1/A-U2 (§3.5).
pub const FUNC_CERT_DELETE: &str = "certificate.delete";
/// ISP-CODE S17, 3P-CODE S30 (§3.8): renewal of any service.
pub const FUNC_SERVICE_PROLONG: &str = "service.prolong";
/// A-U2 (§3.8): client-level certificate suspend, by analogy with other item types.
pub const FUNC_CERT_SUSPEND: &str = "certificate.suspend";
/// A-U2 (§3.8): `certificate.resume` is documented admin-only; kept for accounts allowed to.
pub const FUNC_CERT_RESUME: &str = "certificate.resume";
/// upstream-api.md §6 (3P-CODE S25): the client's incoming payments list
/// (top-ups). UNCONFIRMED at client level: the BILLmanager 6 API page
/// "Payments (payment)" lists it for the admin and user levels; the default
/// of the setting `[charges] payment_function`, which may name another.
pub const FUNC_PAYMENT_LIST: &str = "payment";

/// Fields that the client itself sets on an order; `CertOrder::extra` cannot
/// override them.
const RESERVED_ORDER_FIELDS: &[&str] = &[
    "func",
    "out",
    "authinfo",
    "auth",
    "sok",
    "skipbasket",
    "clicked_button",
    "pricelist",
    "period",
    "remoteid",
    "CN",
    "csr",
    "altname",
    "approver_method",
    "elid",
    "lang",
    "su",
    "autoprolong",
    "force_use_new_cart",
];

/// The order function for the `[order] function` setting.
pub fn order_func(function: OrderFunction) -> &'static str {
    match function {
        OrderFunction::Classic => FUNC_CERT_ORDER,
        OrderFunction::V2 => FUNC_CERT_ORDER_V2,
    }
}

/// Is `func` one of the order functions?
pub fn is_order_func(func: &str) -> bool {
    func == FUNC_CERT_ORDER || func == FUNC_CERT_ORDER_V2
}

/// What to tell the admin when the upstream does not know the order
/// function `func`: the other value of `[order] function`.
pub fn order_func_hint(func: &str) -> Option<String> {
    let other = if func == FUNC_CERT_ORDER {
        OrderFunction::V2
    } else if func == FUNC_CERT_ORDER_V2 {
        OrderFunction::Classic
    } else {
        return None;
    };
    Some(format!(
        "this upstream does not take {func}; set function = \"{}\" in [order] of etc/pmsslreseller.toml \
         (it then orders with {}), then restart the operation",
        other.key(),
        order_func(other)
    ))
}

/// Request fields are owned strings so builders can number `approver_email_N`.
pub type Fields = Vec<(String, String)>;

fn f(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// `approver_email_1..N` [ARTICLE, DOC S5; A-U1].
fn approver_fields(out: &mut Fields, method: Option<&str>, emails: &[String]) {
    if let Some(m) = method.filter(|m| !m.is_empty()) {
        out.push(f("approver_method", m));
    }
    for (i, e) in emails.iter().enumerate() {
        out.push(f(&format!("approver_email_{}", i + 1), e.as_str()));
    }
}

// ---- requests --------------------------------------------------------------

/// `pricelist.export`: certificate plans only [DOC S7; `itemtype` intname in the request, A-U14].
pub fn pricelist_export_fields() -> Fields {
    vec![f("itemtype", "certificate")]
}

/// The order: paid from the balance at once, no basket
/// [ARTICLE §3.2(a), DOC S8/S9 `skipbasket`, ISP-CODE S17 `clicked_button=finish`; A-U1, A-U6].
/// `autoprolong=off` unless configured otherwise (3P-CODE N6: the upstream
/// must not renew, and charge, on its own); `force_use_new_cart=on` with the
/// v2 function (3P-CODE N7).
/// SANs go only in `altname` (space-separated, DOC S5); whether the upstream
/// also wants `addon_<id>` is A-U1 — a caller that knows the addon id passes it in `extra`.
pub fn order_fields(o: &CertOrder, cfg: &OrderConfig) -> Fields {
    let mut out = vec![SOK, ("skipbasket", "on"), ("clicked_button", "finish")]
        .into_iter()
        .map(|(k, v)| f(k, v))
        .collect::<Fields>();
    if cfg.function == OrderFunction::V2 {
        out.push(f("force_use_new_cart", "on"));
    }
    if cfg.autoprolong_off {
        out.push(f("autoprolong", "off"));
    }
    out.push(f("pricelist", o.pricelist.to_string()));
    out.push(f("period", o.period.wire().to_string()));
    out.push(f("remoteid", o.remoteid.as_str()));
    out.push(f("CN", o.cn.as_str()));
    out.push(f("csr", o.csr.as_str()));
    if !o.altnames.is_empty() {
        out.push(f("altname", o.altnames.join(" ")));
    }
    approver_fields(&mut out, o.approver_method.as_deref(), &o.approver_emails);
    for (k, v) in &o.extra {
        if RESERVED_ORDER_FIELDS.contains(&k.as_str()) || k.starts_with("approver_email") {
            log::warn!("order field '{k}' from extra ignored: the client sets it itself");
            continue;
        }
        out.push((k.clone(), v.clone()));
    }
    out
}

/// The reissue `crt_type` of a kind [ARTICLE §3.4; A-U1].
pub fn crt_type(kind: &ReissueKind) -> &'static str {
    match kind {
        ReissueKind::OldRequest => "oldrequest",
        ReissueKind::Manual { .. } => "manual",
        ReissueKind::AltName { .. } => "altname",
    }
}

/// Reissue `crt_type=oldrequest|manual|altname` [ARTICLE §3.4; A-U1].
pub fn reissue_fields(r: &Reissue) -> Fields {
    let mut out = vec![
        f(FIELD_ELID, r.id.to_string()),
        f(SOK.0, SOK.1),
        f("crt_type", crt_type(&r.kind)),
    ];
    match &r.kind {
        ReissueKind::OldRequest => {}
        ReissueKind::Manual { csr } => out.push(f("csr", csr.as_str())),
        ReissueKind::AltName { altnames } => out.push(f("altname", altnames.join(" "))),
    }
    approver_fields(&mut out, r.approver_method.as_deref(), &r.approver_emails);
    out
}

/// View form: `elid` without `sok` returns the fields [ISP-CODE S17 pattern; A-U2].
pub fn view_fields(id: u64) -> Fields {
    vec![f(FIELD_ELID, id.to_string())]
}

/// Delete, suspend, resume: `elid` (+ `sok=ok`, harmless for group actions, §3.5) [A-U1, A-U2].
pub fn action_fields(id: u64) -> Fields {
    vec![f(FIELD_ELID, id.to_string()), f(SOK.0, SOK.1)]
}

/// `service.prolong&elid&period&sok=ok` [ISP-CODE S17, 3P-CODE S30; other params A-U7],
/// plus `skipbasket=on` so the renewal is paid from the balance at once instead of
/// landing unpaid in the cart [DOC S9 `skipbasket`, documented for orders; that
/// `service.prolong` honours it too is A-U7, inferred from the order wizard].
pub fn prolong_fields(id: u64, period_months: u32) -> Fields {
    vec![
        f(FIELD_ELID, id.to_string()),
        f("period", period_months.to_string()),
        f("skipbasket", "on"),
        f(SOK.0, SOK.1),
    ]
}

/// The admin's own function for resending the validation e-mail of a
/// certificate still waiting for validation (`[validation]
/// resend_email_func`): `elid`, `sok=ok` and the new approver as the order
/// and the reissue send it. No public function exists (upstream-api.md §3.7,
/// A-U4), so neither its name nor these fields are confirmed.
pub fn resend_email_fields(id: u64, email: &str) -> Fields {
    let mut out = vec![f(FIELD_ELID, id.to_string()), f(SOK.0, SOK.1)];
    approver_fields(&mut out, Some(APPROVER_METHOD_EMAIL), &[email.to_string()]);
    out
}

/// The admin's own function asking the CA to check the DNS record of one
/// name again (`[validation] dns_check_func`): `elid`, `sok=ok`, `domain`
/// (the name as BILLmanager passes it to `send_dv_dns`, field-2026-12 §8).
/// Unconfirmed like [`resend_email_fields`] (upstream-api.md §3.7, A-U4).
pub fn dns_check_fields(id: u64, domain: &str) -> Fields {
    vec![
        f(FIELD_ELID, id.to_string()),
        f(SOK.0, SOK.1),
        f("domain", domain),
    ]
}

/// `approver_method` of validation by e-mail [ISP-CODE S16, upstream-api.md §3.4].
pub const APPROVER_METHOD_EMAIL: &str = "auth_email";
/// `approver_method` of validation by a DNS TXT record [ISP-CODE S16, upstream-api.md §3.4].
pub const APPROVER_METHOD_DNS: &str = "auth_dnstxt";

// ---- responses -------------------------------------------------------------

/// One row of the payments list. Columns as the BILLmanager 6 API page
/// "Payments (payment)" names them (`id`, `create_date`,
/// `subaccountamount_iso` = the amount credited to the account, `status` with
/// 4 = credited); UNCONFIRMED for a client-level list (upstream-api.md §6):
/// `amount` is read where `subaccountamount_iso` is missing, and a row
/// without a status is taken as credited (a list without that column).
pub fn payment_row(e: &Node) -> Option<Payment> {
    let id = e.child_text("id")?.trim().parse::<u64>().ok()?;
    let raw = e
        .child_text("subaccountamount_iso")
        .or_else(|| e.child_text("amount"))
        .or_else(|| e.child_text("paymethodamount_iso"))?;
    let (amount, currency) = parse_money(raw)?;
    let date = e.child_text("create_date").unwrap_or_default().trim();
    let at = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M"))
        .ok();
    let day = at.map(|t| t.date()).or_else(|| parse_date(date));
    let credited = match e.child_text("status").map(str::trim) {
        None | Some("") => true,
        Some(s) => {
            let l = s.to_lowercase();
            s == "4" || l.contains("credited") || l.contains("зачислен")
        }
    };
    Some(Payment {
        id,
        at,
        day,
        amount,
        currency,
        credited,
    })
}

/// Every row of one page of the payments list (rows it cannot read are left
/// out and logged).
pub fn payment_list(doc: &Node) -> Vec<Payment> {
    doc.children_named("elem")
        .filter_map(|e| {
            let row = payment_row(e);
            if row.is_none() {
                log::info!("payments list: a row without an id or an amount is left out");
            }
            row
        })
        .collect()
}

/// `whoami` → `/doc/user/@name`, `@balance`, `@currency` (A-U15, §6; the
/// `currency` attribute is seen in the BILLmanager 6.94 fixture). A `<balance>`
/// child element is accepted too.
pub fn account_from_whoami(func: &str, doc: &Node) -> Result<Account, UpstreamError> {
    let user = doc
        .child("user")
        .ok_or_else(|| UpstreamError::malformed(func, "no <user> element in the whoami answer"))?;
    let raw = user
        .attr("balance")
        .map(str::to_string)
        .or_else(|| user.child_text("balance").map(str::to_string))
        .ok_or_else(|| UpstreamError::malformed(func, "no balance in the whoami answer"))?;
    let (balance, currency_hint) = parse_money(&raw).ok_or_else(|| {
        UpstreamError::malformed(
            func,
            format!("balance '{}' is not a number", crate::quote::quote(&raw)),
        )
    })?;
    let name = user
        .attr("name")
        .or_else(|| user.child_text("name"))
        .unwrap_or_default()
        .to_string();
    let currency = user
        .attr("currency")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or(currency_hint);
    Ok(Account {
        name,
        balance,
        currency,
    })
}

/// Where an order answer names the new service: `/doc/id` (A-U6, ISP-CODE
/// S17 for `soft.order.param`) or `/doc/item.id` (v2 order API, BILLmanager
/// 4: 3P-CODE N6, BM4 S29; evidence-2026-12 "Order answer").
const ORDER_ID_ELEMENTS: &[&str] = &["id", "item.id"];

/// The new service id of an order answer. Neither id nor error, an id that
/// is not a possible service id (`0`, not a number), or two that differ:
/// malformed — the order may exist, outcome unknown, never re-order.
///
/// An answer that names a cart (a cart id, or `<ok>` with a link and no
/// service id, [`cart_reference`]) is [`UpstreamError::InCart`]: the order
/// was placed but not paid (field-2026-12 §5). A cart id wins over a
/// service id beside it: whether that service is paid is for the caller to
/// find out upstream, never to assume.
pub fn order_id(func: &str, doc: &Node) -> Result<u64, UpstreamError> {
    let cart = |reference: String| UpstreamError::InCart {
        func: func.to_string(),
        reference,
    };
    if let Some(reference) = field::CART_ELEMENTS
        .iter()
        .any(|name| doc.child_text(name).is_some())
        .then(|| cart_reference(doc))
        .flatten()
    {
        return Err(cart(reference));
    }
    let has_service_id = ORDER_ID_ELEMENTS
        .iter()
        .any(|name| doc.child_text(name).is_some());
    if !has_service_id {
        if let Some(reference) = cart_reference(doc) {
            return Err(cart(reference));
        }
    }
    let mut found: Option<u64> = None;
    for name in ORDER_ID_ELEMENTS {
        let Some(t) = doc.child_text(name) else {
            continue;
        };
        let id = t
            .parse::<u64>()
            .ok()
            .filter(|id| is_possible_id(*id))
            .ok_or_else(|| {
                UpstreamError::malformed(
                    func,
                    format!(
                        "order answer <{name}> '{}' is not a service id: outcome unknown, the order may exist",
                        crate::quote::quote(t)
                    ),
                )
            })?;
        match found {
            Some(other) if other != id => {
                return Err(UpstreamError::malformed(
                    func,
                    format!("order answer names two services ({other} and {id}): outcome unknown"),
                ))
            }
            _ => found = Some(id),
        }
    }
    found.ok_or_else(|| {
        UpstreamError::malformed(
            func,
            "order answer has neither <id> nor <item.id> nor <error>: outcome unknown, the order may exist",
        )
    })
}

/// New expiry of `service.prolong`: `/doc/doc/newexpiredate` (ISP-CODE S17)
/// or `/doc/newexpiredate` (A-U7). Absent → `None`: the caller re-reads the
/// expiry from the view anyway (§3.8 client rule).
pub fn prolong_expiry(doc: &Node) -> Option<NaiveDate> {
    let raw = doc
        .path(&["doc", "newexpiredate"])
        .or_else(|| doc.child("newexpiredate"))
        .map(|n| n.text.trim())?;
    let d = parse_date(raw);
    if d.is_none() && !raw.is_empty() {
        log::warn!("service.prolong: cannot read newexpiredate '{raw}'");
    }
    d
}

fn owned(n: &Node, name: &str) -> Option<String> {
    n.child_text(name).map(str::to_string)
}

/// SAN list: space-separated in BILLmanager (§3.2 item params); commas tolerated.
fn split_names(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One `<elem>` of the `certificate` list: columns `id, CN, pricelist,
/// createdate, expiredate, status_msg, item_status` [DOC S6], the status
/// code in whichever shape the panel sends it ([`item_status_code`]), the
/// expiry ([`expiry_of`]), the tariff ([`field::tariff_of`]), the period's
/// price ([`field::period_cost`]) and `remoteid` where the upstream shows
/// them (A-U10). Whether the tariff is an id or a name is A-U8, so it stays
/// a string. A row without a possible service id is skipped.
pub fn cert_summary(elem: &Node) -> Option<CertSummary> {
    let id = elem
        .child_text("id")?
        .parse::<u64>()
        .ok()
        .filter(|id| is_possible_id(*id))?;
    Some(CertSummary {
        id,
        cn: owned(elem, "CN").unwrap_or_default(),
        pricelist: field::tariff_of(elem),
        createdate: owned(elem, "createdate"),
        expiredate: expiry_of(elem),
        item_status: owned(elem, "item_status"),
        status: item_status_code(elem),
        status_msg: owned(elem, "status_msg"),
        cost: field::period_cost(elem),
        remoteid: owned(elem, "remoteid"),
    })
}

/// The rows `/doc/elem` of one list page [DOC S6]; the pages are joined by
/// `Client::certificate_list` ([`page_fields`], [`list_total`]).
pub fn cert_list(doc: &Node) -> Vec<CertSummary> {
    doc.children_named("elem")
        .filter_map(|e| {
            let row = cert_summary(e);
            if row.is_none() {
                log::warn!("certificate list: skipping a row without a numeric id");
            }
            row
        })
        .collect()
}

/// `certificate.edit elid=N`: fields as direct `<doc>` children (A-U2, A-U3,
/// A-U10; §3.3). `approver_email` is comma-separated (item params, §3.2);
/// numbered `approver_email_N` fields are read too.
pub fn cert_view(func: &str, requested: u64, doc: &Node) -> Result<CertView, UpstreamError> {
    let cn = owned(doc, "CN").ok_or_else(|| {
        UpstreamError::malformed(func, format!("view of certificate {requested} has no CN"))
    })?;
    let id = match doc.child_text("id").or_else(|| doc.child_text("elid")) {
        Some(t) => t.parse::<u64>().map_err(|_| {
            UpstreamError::malformed(
                func,
                format!(
                    "certificate id '{}' is not a number",
                    crate::quote::quote(t)
                ),
            )
        })?,
        None => requested,
    };
    if id != requested {
        return Err(UpstreamError::malformed(
            func,
            format!("asked for certificate {requested}, the answer is about {id}"),
        ));
    }
    let mut approver_emails: Vec<String> = doc
        .child_text("approver_email")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    // Numbered only: `approver_email_sent` (VALIDATION_FIELDS) is a date.
    for c in &doc.children {
        let numbered = c
            .name
            .strip_prefix("approver_email_")
            .is_some_and(|n| n.parse::<u32>().is_ok());
        if numbered {
            let v = c.text.trim();
            if !v.is_empty() && !approver_emails.iter().any(|e| e == v) {
                approver_emails.push(v.to_string());
            }
        }
    }
    Ok(CertView {
        id,
        cn,
        altnames: split_names(doc.child_text("altname")),
        pricelist: field::tariff_of(doc),
        period: doc.child_text("period").and_then(|p| p.parse().ok()),
        createdate: owned(doc, "createdate"),
        expiredate: expiry_of(doc),
        item_status: owned(doc, "item_status"),
        status: item_status_code(doc),
        service_status: doc
            .child_text("service_status")
            .and_then(|s| s.parse().ok()),
        status_msg: owned(doc, "status_msg"),
        approver_method: owned(doc, "approver_method"),
        approver_emails,
        csr: owned(doc, "csr"),
        crt: owned(doc, "crt"),
        remoteid: owned(doc, "remoteid"),
        validation: validation_of(doc),
    })
}

/// Where a certificate view may show its domain validation: for each fact,
/// the field names tried in order, the first present wins. The first names
/// are the item params of ISPsystem's GlobalSign module (field-2026-12 §8:
/// `auth_dnstxt_value`, `domains_list` = names to verify); whether the
/// upstream's `certificate.edit` shows them at all, and under which names, is
/// not known (upstream-api.md §3.7, A-U4): the `dcv_*` names are a second
/// guess. The e-mail's date and the validated names have no known name.
pub struct ValidationFields {
    pub email_sent: &'static [&'static str],
    pub dns_txt: &'static [&'static str],
    pub pending: &'static [&'static str],
    pub validated: &'static [&'static str],
}

/// THE table of validation field names (A-U4; see [`ValidationFields`]).
pub const VALIDATION_FIELDS: ValidationFields = ValidationFields {
    email_sent: &["approver_email_sent", "dcv_email_sent"],
    dns_txt: &["auth_dnstxt_value", "dcv_dnstxt_value"],
    pending: &["domains_list", "dcv_pending"],
    validated: &["domains_validated", "dcv_validated"],
};

/// The first of `names` the view carries: its trimmed text (maybe empty).
fn first_field(doc: &Node, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| doc.child(n))
        .map(|c| c.text.trim().to_string())
}

/// The validation facts of a view ([`VALIDATION_FIELDS`]); name lists are
/// comma- or space-separated.
pub fn validation_of(doc: &Node) -> Validation {
    let t = &VALIDATION_FIELDS;
    let names = |raw: Option<String>| raw.map(|r| split_names(Some(&r)));
    Validation {
        email_sent: first_field(doc, t.email_sent),
        dns_txt: first_field(doc, t.dns_txt),
        pending: names(first_field(doc, t.pending)),
        validated: names(first_field(doc, t.validated)),
    }
}

// ---- errors ----------------------------------------------------------------

/// Objects of a `missed` error that mean "no such service" (SIM-24; ISP-CODE
/// S16 `mgr_err::Missed("item", id)`).
const NOT_FOUND_OBJECTS: &[&str] = &["elid", "item", "id"];

/// THE error classifier (A-U9, upstream-api.md §2.5): `not_enough_money` →
/// money; any error about the object `func` → unknown function (SIM-5: an
/// unknown function is answered with an error about `func`, its type varies);
/// a type containing `access` → permission, containing `auth` (also
/// `badauth`, `noauth`) or `session` → credentials; `missed` of the object
/// id → not found; other `missed`/`value` → bad request; `exists` → exists.
/// Module-defined types such as `invalid_login_or_passwd` come from the
/// upstream's own CA modules, not from our login, and stay `Other`.
pub fn classify_error(kind: &str, object: Option<&str>) -> ApiErrorClass {
    let k = kind.trim().to_ascii_lowercase();
    match k.as_str() {
        "not_enough_money" => ApiErrorClass::Money,
        _ if object.is_some_and(|o| o.trim() == FIELD_FUNC) => ApiErrorClass::UnknownFunction,
        "exists" => ApiErrorClass::Exists,
        "missed" if object.is_some_and(|o| NOT_FOUND_OBJECTS.contains(&o)) => {
            ApiErrorClass::NotFound
        }
        "missed" | "value" => ApiErrorClass::BadRequest,
        _ if k.contains("access") => ApiErrorClass::Access,
        _ if k == "session" || k.contains("auth") => ApiErrorClass::Auth,
        _ => ApiErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::parse::parse_answer;
    use crate::vocab::ItemStatus;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn doc(xml: &str) -> Node {
        parse_answer("t", xml.as_bytes()).unwrap()
    }

    #[test]
    fn whoami_from_real_fixture() {
        let body = include_bytes!("../../../tests/fixtures/upstream/whoami.bm6-log.xml");
        let d = parse_answer("whoami", body).unwrap();
        let a = account_from_whoami("whoami", &d).unwrap();
        assert_eq!(a.name, "admin2");
        assert_eq!(a.balance, Decimal::from_str("12221243.00").unwrap());
        assert_eq!(a.currency.as_deref(), Some("RUB"));
    }

    #[test]
    fn whoami_localized_and_missing() {
        let a = account_from_whoami(
            "whoami",
            &doc("<doc><user name=\"r\" balance=\"1\u{a0}234,56\u{a0}руб.\"/></doc>"),
        )
        .unwrap();
        assert_eq!(a.balance, Decimal::from_str("1234.56").unwrap());
        assert_eq!(a.currency.as_deref(), Some("RUB"));
        assert!(matches!(
            account_from_whoami("whoami", &doc("<doc><user name=\"r\"/></doc>")),
            Err(UpstreamError::Malformed { .. })
        ));
        assert!(matches!(
            account_from_whoami("whoami", &doc("<doc><user balance=\"lots\"/></doc>")),
            Err(UpstreamError::Malformed { .. })
        ));
        // The published auth answer with its literal "..." line is not a whoami answer.
        let body =
            include_bytes!("../../../tests/fixtures/upstream/auth-response.bm6-general-view.txt");
        let r = parse_answer("whoami", body).and_then(|d| account_from_whoami("whoami", &d));
        assert!(matches!(r, Err(UpstreamError::Malformed { .. })), "{r:?}");
    }

    #[test]
    fn order_fields_table() {
        let o = CertOrder {
            pricelist: 3033,
            period: crate::vocab::OrderPeriod::Months(12),
            remoteid: "item-42".into(),
            cn: "example.com".into(),
            csr: "-----BEGIN CERTIFICATE REQUEST-----\nX\n-----END CERTIFICATE REQUEST-----".into(),
            altnames: vec!["a.example.com".into(), "b.example.com".into()],
            approver_method: Some("auth_email".into()),
            approver_emails: vec!["admin@example.com".into(), "hostmaster@example.com".into()],
            extra: vec![
                ("adm_fname".into(), "Ivan".into()),
                ("sok".into(), "no".into()),
                ("authinfo".into(), "x:y".into()),
                ("approver_email_9".into(), "z".into()),
            ],
        };
        let fields = order_fields(&o, &OrderConfig::default());
        let get = |k: &str| {
            fields
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("sok"), ["ok"]);
        assert_eq!(get("skipbasket"), ["on"]);
        assert_eq!(get("clicked_button"), ["finish"]);
        assert_eq!(get("pricelist"), ["3033"]);
        assert_eq!(get("period"), ["12"]);
        assert_eq!(get("remoteid"), ["item-42"]);
        assert_eq!(get("CN"), ["example.com"]);
        assert_eq!(get("altname"), ["a.example.com b.example.com"]);
        assert_eq!(get("approver_method"), ["auth_email"]);
        assert_eq!(get("approver_email_1"), ["admin@example.com"]);
        assert_eq!(get("approver_email_2"), ["hostmaster@example.com"]);
        assert!(get("approver_email_9").is_empty());
        assert_eq!(get("adm_fname"), ["Ivan"]);
        assert!(get("authinfo").is_empty());
        assert_eq!(get("autoprolong"), ["off"]);
        assert!(get("force_use_new_cart").is_empty());
    }

    #[test]
    fn order_settings_change_the_fields_and_function() {
        let o = CertOrder {
            extra: vec![
                ("autoprolong".into(), "on".into()),
                ("force_use_new_cart".into(), "off".into()),
            ],
            pricelist: 3033,
            period: crate::vocab::OrderPeriod::Months(12),
            remoteid: "1".into(),
            cn: "example.com".into(),
            csr: String::new(),
            altnames: vec![],
            approver_method: None,
            approver_emails: vec![],
        };
        let v2 = OrderConfig {
            function: OrderFunction::V2,
            autoprolong_off: false,
        };
        let fields = order_fields(&o, &v2);
        let get = |k: &str| {
            fields
                .iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("force_use_new_cart"), ["on"]);
        assert!(get("autoprolong").is_empty(), "{fields:?}");
        assert_eq!(order_func(OrderFunction::V2), "v2.certificate.order.param");
        assert_eq!(order_func(OrderFunction::Classic), FUNC_CERT_ORDER);
        let hint = order_func_hint(FUNC_CERT_ORDER).unwrap();
        assert!(hint.contains("function = \"v2\""), "{hint}");
        assert!(order_func_hint(FUNC_CERT_ORDER_V2)
            .unwrap()
            .contains("function = \"classic\""));
        assert!(order_func_hint(FUNC_WHOAMI).is_none());
    }

    #[test]
    fn a_trial_order_carries_the_trial_period() {
        let o = CertOrder {
            pricelist: 3033,
            period: crate::vocab::OrderPeriod::Trial,
            remoteid: "1".into(),
            cn: "example.com".into(),
            csr: String::new(),
            altnames: vec![],
            approver_method: None,
            approver_emails: vec![],
            extra: vec![],
        };
        let fields = order_fields(&o, &OrderConfig::default());
        assert!(
            fields.iter().any(|(n, v)| n == "period" && v == "-100"),
            "{fields:?}"
        );
    }

    #[test]
    fn renewal_is_paid_at_once_not_put_in_the_cart() {
        let fields = prolong_fields(77, 24);
        let has = |k: &str, v: &str| fields.iter().any(|(n, x)| n == k && x == v);
        assert!(has("elid", "77") && has("period", "24") && has("sok", "ok"));
        assert!(has("skipbasket", "on"), "{fields:?}");
    }

    #[test]
    fn reissue_fields_per_kind() {
        let r = |kind| Reissue {
            id: 7,
            kind,
            approver_method: None,
            approver_emails: vec![],
        };
        let fl = reissue_fields(&r(ReissueKind::OldRequest));
        assert!(fl.contains(&f("crt_type", "oldrequest")));
        assert!(fl.contains(&f("elid", "7")));
        assert!(fl.contains(&f("sok", "ok")));
        let fl = reissue_fields(&r(ReissueKind::Manual { csr: "CSR".into() }));
        assert!(fl.contains(&f("crt_type", "manual")) && fl.contains(&f("csr", "CSR")));
        let fl = reissue_fields(&r(ReissueKind::AltName {
            altnames: vec!["a.x".into(), "b.x".into()],
        }));
        assert!(fl.contains(&f("crt_type", "altname")) && fl.contains(&f("altname", "a.x b.x")));
    }

    #[test]
    fn order_id_shapes() {
        assert_eq!(
            order_id("o", &doc("<doc><id>123456</id></doc>")).unwrap(),
            123456
        );
        assert_eq!(
            order_id("o", &doc("<doc lang=\"en\"><tparams/><id> 9 </id></doc>")).unwrap(),
            9
        );
        // The v2 order API (BILLmanager 4, 3P-CODE N6).
        assert_eq!(
            order_id("o", &doc("<doc><item.id>77</item.id></doc>")).unwrap(),
            77
        );
        assert_eq!(
            order_id("o", &doc("<doc><id>77</id><item.id>77</item.id></doc>")).unwrap(),
            77
        );
        for xml in [
            "<doc/>",
            "<doc><ok/></doc>",
            "<doc><id>abc</id></doc>",
            "<doc><id>0</id></doc>",
            "<doc><item.id>0</item.id></doc>",
            "<doc><id>-3</id></doc>",
            "<doc><id>1.5</id></doc>",
            "<doc><id>18446744073709551615</id></doc>",
            "<doc><id>7</id><item.id>8</item.id></doc>",
        ] {
            let e = order_id("o", &doc(xml)).unwrap_err();
            assert!(matches!(e, UpstreamError::Malformed { .. }));
            assert!(e.maybe_applied(), "{xml}");
        }
    }

    /// Orders that land in the upstream cart unpaid (field-2026-12 §5):
    /// placed, never a service id, never "outcome unknown" either.
    #[test]
    fn order_answers_naming_a_cart() {
        for (xml, want) in [
            (
                "<doc><billorder.id>90001</billorder.id></doc>",
                "billorder.id 90001",
            ),
            ("<doc><billorder>90001</billorder></doc>", "billorder 90001"),
            ("<doc><lineitem.id>12</lineitem.id></doc>", "lineitem.id 12"),
            ("<doc><payment_id>12</payment_id></doc>", "payment_id 12"),
            (
                "<doc><ok>https://my.example.com/billmgr?func=cart</ok></doc>",
                "cart link https://my.example.com/billmgr?func=cart",
            ),
            // a cart id beside a service id: still the cart's
            (
                "<doc><id>5</id><billorder.id>90001</billorder.id></doc>",
                "billorder.id 90001",
            ),
        ] {
            match order_id("o", &doc(xml)) {
                Err(UpstreamError::InCart { reference, .. }) => assert_eq!(reference, want),
                other => panic!("{xml}: {other:?}"),
            }
        }
        // a link beside a service id is the service's
        assert_eq!(
            order_id("o", &doc("<doc><ok>https://x/billmgr</ok><id>5</id></doc>")).unwrap(),
            5
        );
        let e = order_id("o", &doc("<doc><lineitem.id>1</lineitem.id></doc>")).unwrap_err();
        assert!(e.maybe_applied(), "placed: never ordered again");
    }

    #[test]
    fn prolong_shapes() {
        let want = NaiveDate::from_ymd_opt(2027, 1, 10);
        assert_eq!(
            prolong_expiry(&doc(
                "<doc><doc><newexpiredate>2027-01-10</newexpiredate></doc></doc>"
            )),
            want
        );
        assert_eq!(
            prolong_expiry(&doc("<doc><newexpiredate>2027-01-10</newexpiredate></doc>")),
            want
        );
        assert_eq!(prolong_expiry(&doc("<doc><ok/></doc>")), None);
        assert_eq!(
            prolong_expiry(&doc("<doc><newexpiredate>soon</newexpiredate></doc>")),
            None
        );
    }

    #[test]
    fn list_rows() {
        let d = doc(
            "<doc><elem><id>123456</id><CN>example.com</CN><pricelist>Comodo Positive SSL</pricelist>\
             <createdate>2025-01-10</createdate><expiredate>2026-01-10</expiredate>\
             <status_msg>ok</status_msg><item_status color=\"green\">2</item_status><cost>21.00 EUR</cost></elem>\
             <elem><CN>no-id</CN></elem><elem><id>5</id><CN>b.example</CN><remoteid>r5</remoteid>\
             <expiredate/></elem><tparams><func>certificate</func></tparams></doc>",
        );
        let rows = cert_list(&d);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, 123456);
        assert_eq!(rows[0].cn, "example.com");
        assert_eq!(rows[0].pricelist, "Comodo Positive SSL");
        assert_eq!(rows[0].expiredate, NaiveDate::from_ymd_opt(2026, 1, 10));
        assert_eq!(rows[0].item_status.as_deref(), Some("2"));
        assert_eq!(rows[0].status, Some(ItemStatus::Active));
        assert_eq!(rows[0].cost.as_deref(), Some("21.00 EUR"));
        assert_eq!(rows[1].status, None);
        assert_eq!(rows[0].remoteid, None);
        assert_eq!(rows[1].remoteid.as_deref(), Some("r5"));
        assert_eq!(rows[1].expiredate, None);
        assert!(cert_list(&doc("<doc/>")).is_empty());
    }

    #[test]
    fn view_fields_parse() {
        let d = doc(
            "<doc func=\"certificate.edit\"><id>7</id><CN>example.com</CN><altname>a.example.com b.example.com</altname>\
             <pricelist>3033</pricelist><period>12</period><expiredate>2027-01-01</expiredate>\
             <item_status>2</item_status><service_status>5</service_status>\
             <approver_method>auth_email</approver_method><approver_email>admin@example.com, x@example.com</approver_email>\
             <csr>CSR</csr><crt>CRT</crt><remoteid>item-7</remoteid><unknown>z</unknown></doc>",
        );
        let v = cert_view("certificate.edit", 7, &d).unwrap();
        assert_eq!(v.altnames, ["a.example.com", "b.example.com"]);
        assert_eq!(v.period, Some(12));
        assert_eq!(v.service_status, Some(5));
        assert_eq!(v.approver_emails, ["admin@example.com", "x@example.com"]);
        assert_eq!(v.crt.as_deref(), Some("CRT"));
        assert_eq!(v.remoteid.as_deref(), Some("item-7"));
        assert!(cert_view("e", 8, &d).is_err());
        assert!(cert_view("e", 7, &doc("<doc><id>7</id></doc>")).is_err());
        let v = cert_view(
            "e",
            9,
            &doc("<doc><CN>x</CN><approver_email_1>a@x</approver_email_1>\
                 <approver_email_sent>2026-12-07</approver_email_sent></doc>"),
        )
        .unwrap();
        assert_eq!(v.id, 9);
        assert_eq!(v.approver_emails, ["a@x"]);
        assert!(v.altnames.is_empty() && v.crt.is_none());
    }

    #[test]
    fn validation_facts_by_either_name_absent_or_empty() {
        let v = validation_of(&doc(
            "<doc><approver_email_sent>2026-12-07</approver_email_sent>\
             <auth_dnstxt_value> abc </auth_dnstxt_value><domains_list>a.example, b.example</domains_list>\
             <domains_validated>c.example</domains_validated></doc>",
        ));
        assert_eq!(v.email_sent.as_deref(), Some("2026-12-07"));
        assert_eq!(v.dns_txt.as_deref(), Some("abc"));
        assert_eq!(
            v.pending,
            Some(vec!["a.example".into(), "b.example".into()])
        );
        assert_eq!(v.validated, Some(vec!["c.example".into()]));
        let v = validation_of(&doc(
            "<doc><dcv_email_sent>2026-12-08</dcv_email_sent><dcv_pending/></doc>",
        ));
        assert_eq!(v.email_sent.as_deref(), Some("2026-12-08"));
        assert_eq!(v.pending, Some(vec![]), "shown empty: nothing pending");
        assert_eq!(v.dns_txt, None, "not shown: unknown");
        assert_eq!(validation_of(&doc("<doc/>")), Validation::default());
        let fl = resend_email_fields(7, "a@example.com");
        assert!(fl.contains(&f("approver_email_1", "a@example.com")));
        assert!(fl.contains(&f("approver_method", "auth_email")));
        assert!(dns_check_fields(7, "www.example.com").contains(&f("domain", "www.example.com")));
    }

    #[test]
    fn classifier() {
        use ApiErrorClass::*;
        assert_eq!(classify_error("not_enough_money", None), Money);
        assert_eq!(classify_error("auth", None), Auth);
        assert_eq!(classify_error("badauth", None), Auth);
        assert_eq!(classify_error("session", None), Auth);
        assert_eq!(classify_error("access", None), Access);
        assert_eq!(classify_error("missed", Some("elid")), NotFound);
        assert_eq!(classify_error("missed", Some("csr")), BadRequest);
        assert_eq!(classify_error("value", Some("pricelist")), BadRequest);
        assert_eq!(classify_error("exists", Some("remoteid")), Exists);
        assert_eq!(classify_error("invalid_login_or_passwd", None), Other);
        assert_eq!(classify_error("xml", Some("xpath")), Other);
        assert_eq!(classify_error("missed", Some("func")), UnknownFunction);
        assert_eq!(
            classify_error("unknown_function", Some("func")),
            UnknownFunction
        );
    }

    #[test]
    fn status_column_first_item_status_only_when_numeric() {
        let code = |xml: &str| item_status_code(&doc(xml));
        assert_eq!(
            code("<doc><status>2</status><item_status>Active</item_status></doc>"),
            Some(ItemStatus::Active)
        );
        assert_eq!(
            code("<doc><status>5</status><item_status>2</item_status></doc>"),
            Some(ItemStatus::Processing)
        );
        assert_eq!(
            code("<doc><item_status>3</item_status></doc>"),
            Some(ItemStatus::Suspended)
        );
        assert_eq!(code("<doc><item_status>Active</item_status></doc>"), None);
        assert_eq!(
            code("<doc><status>0</status></doc>"),
            Some(ItemStatus::Other(0))
        );
        let rows = cert_list(&doc(
            "<doc><elem><id>0</id><CN>zero.example</CN></elem><elem><id>4</id><CN>a.example</CN>\
             <status>4</status><item_status>Deleted</item_status></elem></doc>",
        ));
        assert_eq!(rows.len(), 1, "id 0 is not a service: {rows:?}");
        assert_eq!(rows[0].status, Some(ItemStatus::Deleted));
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-01-10 12:00:00"),
            NaiveDate::from_ymd_opt(2026, 1, 10)
        );
        assert_eq!(parse_date("0000-00-00"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2026-1-1"), None);
        assert_eq!(parse_date("ы"), None);
    }
}
