//! The BILLmanager API functions (`/billmgr?func=…&out=xml`): credential check, dispatch by `func`, and
//! the shared error type rendered as `<doc><error …>` (SIM-2).

mod account;
mod certificate;
mod order;
mod pricelist;
mod prolong;
mod shapes;

pub use prolong::auto_renew;

/// A paid order for `user` with these parameters, exactly as `certificate.order.param` (or its v2
/// form) handles it once the credentials are checked: `/_sim/seed` makes its orders with it.
pub fn order_as(
    sim: &mut Sim,
    user: &str,
    params: &BTreeMap<String, String>,
) -> Result<Node, ApiError> {
    let call = Call {
        params,
        user: Some(user.to_string()),
    };
    // A seeded order is a paid one, even where the panel ignores skipbasket (order_cart=on).
    order::place_order(sim, &call, true)
}

/// An admin pays item `id`'s unpaid order in the cart (`POST /_sim/cart/pay`): the account's price
/// of it now (the plan's period and SAN price less the account discount; the price it was ordered
/// at when the plan is gone) is debited, or refused as an order would be (`not_enough_money`,
/// currency); the amount. The caller moves the item on.
pub fn debit_cart_order(sim: &mut Sim, id: u64) -> Result<Decimal, ApiError> {
    let Some(item) = sim.world.items.get(&id) else {
        return Err(ApiError::missed("elid"));
    };
    let (account, currency) = (item.account.clone(), item.currency.clone());
    let amount = match sim.catalog.plan(item.pricelist) {
        Some(plan) => order::account_price(
            sim,
            &account,
            order::price(plan, item.period, item.altname_qty)?,
        ),
        None => item.cost,
    };
    order::debit(sim, &account, amount, &currency)?;
    Ok(amount)
}

use super::knobs::Knobs;
use super::sim::Sim;
use super::state::{money, SESSION_TTL_SECS};
use super::xml::Node;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// An application error: answered with HTTP 200 and `<doc><error>` (SIM-2).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: String,
    pub object: Option<String>,
    /// `code="1"` of `not_enough_money` (the only code the simulator sends).
    pub code: Option<&'static str>,
    pub params: Vec<(String, String)>,
    pub msg: String,
    /// `msg` is Russian (`lang="ru"`; else English, `lang="en"`).
    pub russian: bool,
}

impl ApiError {
    pub fn new(kind: &str, msg: impl Into<String>) -> ApiError {
        ApiError {
            kind: kind.to_string(),
            object: None,
            code: None,
            params: Vec::new(),
            msg: msg.into(),
            russian: false,
        }
    }

    fn with_object(mut self, object: &str) -> ApiError {
        self.object = Some(object.to_string());
        self.params.push(("object".to_string(), object.to_string()));
        self
    }

    /// A required parameter is missing, or the object it names does not exist.
    pub fn missed(object: &str) -> ApiError {
        ApiError::new("missed", format!("Missing or unknown value of '{object}'"))
            .with_object(object)
    }

    /// A parameter has an invalid value.
    pub fn value(object: &str, value: &str, why: &str) -> ApiError {
        let mut e = ApiError::new("value", format!("Invalid value of '{object}': {why}"))
            .with_object(object);
        e.params.push(("value".to_string(), value.to_string()));
        e
    }

    pub fn auth(sim: &Sim) -> ApiError {
        ApiError::new(
            sim.world.knobs.get("auth_error_type"),
            "Invalid username or password, or the session has expired",
        )
    }

    pub fn access(sim: &Sim) -> ApiError {
        ApiError::new(
            sim.world.knobs.get("access_error_type"),
            "Access denied: the function is not available to your account",
        )
    }

    /// SIM-11, S14: params in the documented order.
    pub fn not_enough_money(
        amount: Decimal,
        have: Decimal,
        limit: Decimal,
        currency: &str,
    ) -> ApiError {
        let reserved = Decimal::ZERO;
        let available = have + limit - reserved;
        let deficit = amount - available;
        let mut e = ApiError::new(
            "not_enough_money",
            format!(
                "Insufficient funds to complete the operation. Required amount {} {currency}, available {} {currency}",
                money(amount),
                money(available)
            ),
        );
        e.code = Some("1");
        e.params = vec![
            ("amount".into(), money(amount)),
            ("have".into(), money(have)),
            ("currency".into(), currency.to_string()),
            ("deficit".into(), money(deficit)),
            ("limit".into(), money(limit)),
            ("reserved".into(), money(reserved)),
            ("available".into(), money(available)),
        ];
        e
    }

    /// `<doc><error …>`, or with knob `error_wrap=warning` `<doc><warning><error …></warning>`
    /// (field-2026-12 §5, FS 66932350124).
    pub fn to_doc(&self, knobs: &Knobs) -> Node {
        let mut err = Node::new("error").attr("type", self.kind.clone());
        if let Some(o) = &self.object {
            err = err.attr("object", o.clone());
        }
        if let Some(c) = self.code {
            err = err.attr("code", c);
        }
        err = err.attr("lang", if self.russian { "ru" } else { "en" });
        for (k, v) in &self.params {
            err.push(Node::new("param").attr("name", k.clone()).text(v.clone()));
        }
        err.push(Node::new("msg").text(self.msg.clone()));
        if knobs.get("error_wrap") == "warning" {
            err = Node::new("warning").child(err);
        }
        Node::new("doc").child(err)
    }
}

/// One API call: merged parameters and the authenticated user (if any).
pub struct Call<'a> {
    pub params: &'a BTreeMap<String, String>,
    pub user: Option<String>,
}

impl Call<'_> {
    /// A parameter's value, `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn is_ok(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn user(&self, sim: &Sim) -> Result<String, ApiError> {
        self.user.clone().ok_or_else(|| ApiError::auth(sim))
    }

    /// One numeric id from `elid`.
    pub fn elid(&self) -> Result<u64, ApiError> {
        let ids = self.elids()?;
        match ids.as_slice() {
            [one] => Ok(*one),
            _ => Err(ApiError::value(
                "elid",
                self.get("elid").unwrap_or_default(),
                "exactly one id expected",
            )),
        }
    }

    /// `elid` list, "comma-delimited with space" (`A, B`).
    pub fn elids(&self) -> Result<Vec<u64>, ApiError> {
        let raw = self.get("elid").ok_or_else(|| ApiError::missed("elid"))?;
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| ApiError::value("elid", s, "not an id"))
            })
            .collect()
    }
}

/// `<doc><ok/></doc>`, or `<doc/>` with knob `ok_body=empty` (A-U5).
pub fn ok_doc(sim: &Sim) -> Node {
    if sim.world.knobs.get("ok_body") == "empty" {
        Node::new("doc")
    } else {
        Node::new("doc").child(Node::new("ok"))
    }
}

/// Functions of admin level only (SIM-9): a reseller is a client.
const ADMIN_ONLY: &[&str] = &[
    "certificate.retry",
    "certificate.setfilter",
    "certificate.open",
    "certificate.save",
    "certificate.failed",
    "service.setstatus",
    "service.saveparam",
    "project",
    "account",
    "user",
];

/// Who is calling.
enum Login {
    /// No credentials given.
    Nobody,
    User(String),
    /// The right credentials of an account with 2FA, under knob `twofa_shape=totp_confirm`: the
    /// panel waits for the second factor.
    SecondFactor,
}

/// What a panel answers while a second factor is pending (field-2026-12 §5, FS 3481085040).
pub fn totp_confirm() -> Node {
    Node::new("doc").field("ok", "func=totp.confirm")
}

/// An account with 2FA whose credentials were right: an auth error, or with knob
/// `twofa_shape=totp_confirm` the pending second factor.
fn second_factor(sim: &Sim) -> Result<Login, ApiError> {
    if sim.world.knobs.get("twofa_shape") == "totp_confirm" {
        Ok(Login::SecondFactor)
    } else {
        Err(ApiError::auth(sim))
    }
}

/// Checks `authinfo` or `auth` (session).
fn authenticate(sim: &mut Sim, params: &BTreeMap<String, String>) -> Result<Login, ApiError> {
    if let Some(info) = params.get("authinfo").filter(|v| !v.is_empty()) {
        let (user, pass) = info.split_once(':').unwrap_or((info.as_str(), ""));
        return match sim.world.accounts.get(user) {
            Some(a) if a.password == pass && !a.twofa => Ok(Login::User(user.to_string())),
            Some(a) if a.password == pass => second_factor(sim),
            _ => Err(ApiError::auth(sim)),
        };
    }
    if let Some(sid) = params.get("auth").filter(|v| !v.is_empty()) {
        let now = sim.world.now_secs();
        let user = match sim.world.sessions.get_mut(sid) {
            Some(s) if now - s.last_used <= SESSION_TTL_SECS => {
                s.last_used = now;
                s.username.clone()
            }
            Some(_) => {
                sim.world.sessions.remove(sid);
                return Err(ApiError::auth(sim));
            }
            None => return Err(ApiError::auth(sim)),
        };
        return match sim.world.accounts.get(&user) {
            Some(a) if !a.twofa => Ok(Login::User(user)),
            Some(_) => second_factor(sim),
            None => Err(ApiError::auth(sim)),
        };
    }
    Ok(Login::Nobody)
}

/// The simulator's names for the two validation functions no public source names (A-U4): the
/// module reaches them only when its configuration names them (`[validation]`).
pub const RESEND_EMAIL_FUNC: &str = "certificate.approver.resend";
pub const DNS_CHECK_FUNC: &str = "certificate.dcv.check";

/// Runs one API function. Public functions (`auth`, `pricelist.export`) work without credentials.
pub fn dispatch(sim: &mut Sim, params: &BTreeMap<String, String>) -> Result<Node, ApiError> {
    let func = params
        .get("func")
        .map(|f| f.trim())
        .unwrap_or_default()
        .to_string();
    if func == "auth" {
        return account::auth(sim, params);
    }
    let user = match authenticate(sim, params)? {
        Login::User(user) => Some(user),
        Login::Nobody => None,
        // Nothing is done with credentials waiting for their second factor.
        Login::SecondFactor => return Ok(totp_confirm()),
    };
    let call = Call { params, user };
    if func == "pricelist.export" {
        return pricelist::export(sim, &call);
    }
    let known = matches!(
        func.as_str(),
        "whoami"
            | "certificate"
            | "certificate.edit"
            | "certificate.order.csr"
            | "certificate.reissue.step2"
            | RESEND_EMAIL_FUNC
            | DNS_CHECK_FUNC
            | "certificate.delete"
            | "certificate.suspend"
            | "certificate.resume"
            | "service.prolong"
    ) || (func == "payment" && sim.world.knobs.on("payment_list"))
        || func == order::order_func(sim)
        || ADMIN_ONLY.contains(&func.as_str());
    if !known {
        let mut e = ApiError::new(
            sim.world.knobs.get("unknown_func_type"),
            format!("Unknown function '{func}'"),
        )
        .with_object("func");
        e.params.push(("value".into(), func.clone()));
        return Err(e);
    }
    // Everything below needs a logged-in client.
    call.user(sim)?;
    match func.as_str() {
        "whoami" => account::whoami(sim, &call),
        "payment" => account::payments(sim, &call),
        "certificate" => certificate::list(sim, &call),
        "certificate.edit" => certificate::edit(sim, &call),
        f if f == order::order_func(sim) => order::order(sim, &call),
        "certificate.order.csr" => certificate::order_csr(sim, &call),
        "certificate.reissue.step2" => certificate::reissue(sim, &call),
        RESEND_EMAIL_FUNC => certificate::resend_email(sim, &call),
        DNS_CHECK_FUNC => certificate::check_dns(sim, &call),
        "certificate.delete" => certificate::delete(sim, &call),
        "certificate.suspend" => certificate::suspend_resume(sim, &call, true),
        "certificate.resume" => certificate::suspend_resume(sim, &call, false),
        "service.prolong" => prolong::prolong(sim, &call),
        _ => Err(ApiError::access(sim)),
    }
}
