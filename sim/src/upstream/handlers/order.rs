//! `certificate.order.param` (SIM-10, 11, 12, 20, 21, 29): validation, price, debit, new item.
//! Also the price/debit helpers `service.prolong` shares.

use super::{ApiError, Call};
use crate::upstream::catalog::Plan;
use crate::upstream::certs;
use crate::upstream::sim::Sim;
use crate::upstream::state::{Item, PendingKind};
use crate::upstream::xml::Node;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Order parameters that are interpreted; everything else is kept on the item as sent (contacts …),
/// except credentials and a private key, which are never stored.
const CONSUMED: &[&str] = &[
    "func",
    "out",
    "authinfo",
    "auth",
    "sok",
    "skipbasket",
    "clicked_button",
    "pricelist",
    "period",
    "CN",
    "csr",
    "key",
    "password",
    "altname",
    "altname_input",
    "remoteid",
    "approver_method",
    "approver_email",
    "lang",
    "snext",
    "autoprolong",
    "force_use_new_cart",
];

/// The order function the upstream offers (knob `order_func`, 3P-CODE N7).
pub const FUNC_ORDER: &str = "certificate.order.param";
pub const FUNC_ORDER_V2: &str = "v2.certificate.order.param";

/// The order function this upstream knows.
pub fn order_func(sim: &Sim) -> &'static str {
    if sim.world.knobs.get("order_func") == "v2" {
        FUNC_ORDER_V2
    } else {
        FUNC_ORDER
    }
}

/// SANs: `altname` (or `altname_input`), space separated (commas tolerated).
pub fn altnames(call: &Call) -> Vec<String> {
    call.get("altname")
        .or(call.get("altname_input"))
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `approver_email_1`, `approver_email_2`, … in numeric order, or a comma-separated `approver_email`.
pub fn approver_emails(call: &Call) -> Vec<String> {
    let mut numbered: Vec<(u32, String)> = call
        .params
        .iter()
        .filter_map(|(k, v)| {
            let n = k.strip_prefix("approver_email_")?.parse().ok()?;
            let v = v.trim();
            (!v.is_empty()).then(|| (n, v.to_string()))
        })
        .collect();
    numbered.sort();
    let mut out: Vec<String> = numbered.into_iter().map(|(_, v)| v).collect();
    if out.is_empty() {
        out = call
            .get("approver_email")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    out
}

/// A plausible host name: letters (any script), digits, `-`, `.`, and a leading `*.` on wildcard plans.
pub fn check_name(object: &str, name: &str, wildcard_ok: bool) -> Result<(), ApiError> {
    let body = match name.strip_prefix("*.") {
        Some(rest) if wildcard_ok => rest,
        Some(_) => {
            return Err(ApiError::value(
                object,
                name,
                "wildcard names need a wildcard plan",
            ))
        }
        None => name,
    };
    let ok = !body.is_empty()
        && body.len() <= 253
        && body.contains('.')
        && !body.starts_with('.')
        && !body.ends_with('.')
        && body
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::value(object, name, "not a domain name"))
    }
}

pub fn check_csr(csr: &str) -> Result<(), ApiError> {
    if csr.contains("BEGIN CERTIFICATE REQUEST") || csr.contains("BEGIN NEW CERTIFICATE REQUEST") {
        Ok(())
    } else {
        Err(ApiError::value("csr", "", "not a PEM certificate request"))
    }
}

/// Months from `period`, required and sold for `plan`.
pub fn sold_period(call: &Call, plan: &Plan) -> Result<i32, ApiError> {
    let raw = call
        .get("period")
        .ok_or_else(|| ApiError::missed("period"))?;
    let months: i32 = raw
        .parse()
        .map_err(|_| ApiError::value("period", raw, "not a number of months"))?;
    if plan.period_cost(months).is_none() {
        return Err(ApiError::value(
            "period",
            raw,
            "this period is not sold for the plan",
        ));
    }
    Ok(months)
}

/// SIM-10: plan period cost + SAN quantity × `altname` addon period cost.
pub fn price(plan: &Plan, months: i32, san_qty: u32) -> Result<Decimal, ApiError> {
    let base = plan
        .period_cost(months)
        .ok_or_else(|| ApiError::value("period", &months.to_string(), "not sold"))?;
    if san_qty == 0 {
        return Ok(base);
    }
    let addon = plan
        .altname
        .as_ref()
        .ok_or_else(|| ApiError::value("altname", "", "the plan has no additional names"))?;
    let each = addon.period_cost(months).unwrap_or(Decimal::ZERO);
    Ok(base + each * Decimal::from(san_qty))
}

/// `amount` as `user` pays it (account discount, SIM-16).
pub fn account_price(sim: &Sim, user: &str, amount: Decimal) -> Decimal {
    sim.world
        .accounts
        .get(user)
        .map(|a| a.own_price(amount))
        .unwrap_or(amount)
}

/// SIM-11/12: takes `amount` from `user`'s balance, or refuses without touching anything.
pub fn debit(sim: &mut Sim, user: &str, amount: Decimal, currency: &str) -> Result<(), ApiError> {
    let strict = sim.world.knobs.on("currency_strict");
    let auth = ApiError::auth(sim);
    let account = sim.world.accounts.get_mut(user).ok_or(auth)?;
    if strict && account.currency != currency {
        return Err(ApiError::value(
            "pricelist",
            currency,
            &format!(
                "the plan is priced in {currency}, the account in {}",
                account.currency
            ),
        ));
    }
    if account.balance + account.limit < amount {
        return Err(ApiError::not_enough_money(
            amount,
            account.balance,
            account.limit,
            &account.currency,
        ));
    }
    account.balance -= amount;
    // Knob `overcharge`: this one call takes more than its price, once.
    let extra: Decimal = sim
        .world
        .knobs
        .get("overcharge")
        .parse()
        .unwrap_or_default();
    if extra > Decimal::ZERO {
        if let Some(account) = sim.world.accounts.get_mut(user) {
            account.balance -= extra;
        }
        let _ = sim.world.knobs.set("overcharge", "0");
    }
    Ok(())
}

/// SAN quantity: `addon_<id>` when given (A-U1), else the number of names in `altname`.
fn san_quantity(call: &Call, plan: &Plan, names: &[String]) -> Result<u32, ApiError> {
    let Some(addon) = &plan.altname else {
        if names.is_empty() {
            return Ok(0);
        }
        return Err(ApiError::value(
            "altname",
            &names.join(" "),
            "the plan is not multi-domain",
        ));
    };
    let key = format!("addon_{}", addon.id);
    let qty = match call.get(&key) {
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::value(&key, v, "not a number"))?,
        None => names.len() as u32,
    };
    if qty < addon.min || qty > addon.limit || (names.len() as u32) > addon.limit {
        return Err(ApiError::value(
            "altname",
            &names.join(" "),
            &format!(
                "between {} and {} additional names allowed",
                addon.min, addon.limit
            ),
        ));
    }
    Ok(qty)
}

/// Order form without `sok` (SIM-21, low priority): select lists of plans and periods.
fn form(sim: &Sim) -> Node {
    let mut plans = Node::new("slist").attr("name", "pricelist");
    for p in sim
        .catalog
        .plans
        .iter()
        .filter(|p| p.available() && p.itemtype == "certificate")
    {
        plans.push(
            Node::new("val")
                .attr("key", p.id.to_string())
                .text(p.name.clone()),
        );
    }
    let mut periods = Node::new("slist").attr("name", "period");
    for m in [12, 24, 36] {
        periods.push(
            Node::new("val")
                .attr("key", m.to_string())
                .text(format!("{m} months")),
        );
    }
    Node::new("doc").child(plans).child(periods)
}

/// `certificate.order.param` (or its v2 form) as a client calls it.
pub fn order(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    // Knob order_cart (field-2026-12 §5): a panel that ignores skipbasket=on.
    let honour_skipbasket = !sim.world.knobs.on("order_cart");
    place_order(sim, call, honour_skipbasket)
}

/// The order; with `honour_skipbasket` false every order lands in the cart (`/_sim/seed` always
/// honours it: it makes paid orders).
pub fn place_order(sim: &mut Sim, call: &Call, honour_skipbasket: bool) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    if !call.is_ok("sok") {
        return Ok(form(sim));
    }
    // 3P-CODE N7: the v2 function goes with the new cart; without the flag
    // the guess is a refusal (nothing ordered).
    if order_func(sim) == FUNC_ORDER_V2 && call.get("force_use_new_cart") != Some("on") {
        return Err(ApiError::missed("force_use_new_cart"));
    }
    let raw_plan = call
        .get("pricelist")
        .ok_or_else(|| ApiError::missed("pricelist"))?;
    let plan = raw_plan
        .parse::<u64>()
        .ok()
        .and_then(|id| sim.catalog.plan(id))
        .filter(|p| p.orderable())
        .cloned()
        .ok_or_else(|| {
            ApiError::value("pricelist", raw_plan, "no such orderable certificate plan")
        })?;
    let months = sold_period(call, &plan)?;
    let cn = call
        .get("CN")
        .ok_or_else(|| ApiError::missed("CN"))?
        .to_string();
    let wildcard = plan.site_flag("wildcard").unwrap_or(false);
    check_name("CN", &cn, wildcard)?;
    let generate = call.get("crt_type") == Some("generate");
    let names = altnames(call);
    for n in &names {
        check_name("altname", n, wildcard)?;
    }
    let csr = match call.get("csr") {
        Some(c) => {
            check_csr(c)?;
            c.to_string()
        }
        None if generate => {
            certs::csr_and_key(&cn, &names)
                .map_err(|e| ApiError::new("value", e))?
                .0
        }
        None => return Err(ApiError::missed("csr")),
    };
    let qty = san_quantity(call, &plan, &names)?;
    // Stored verbatim (not trimmed): the reseller matches on it byte for byte.
    let remoteid = call
        .params
        .get("remoteid")
        .filter(|r| !r.is_empty())
        .cloned();
    if let Some(r) = &remoteid {
        if sim.world.knobs.on("remoteid_unique")
            && sim
                .world
                .items
                .values()
                .any(|i| !i.deleted && i.remoteid.as_deref() == Some(r))
        {
            let mut e = ApiError::new("exists", format!("remoteid '{r}' is already in use"));
            e.object = Some("remoteid".into());
            e.params.push(("object".into(), "remoteid".into()));
            e.params.push(("value".into(), r.clone()));
            return Err(e);
        }
    }
    let amount = account_price(sim, &user, price(&plan, months, qty)?);
    let paid_now = honour_skipbasket && call.get("skipbasket") == Some("on");
    if paid_now {
        debit(sim, &user, amount, &plan.currency)?;
    }
    let extra: BTreeMap<String, String> = call
        .params
        .iter()
        .filter(|(k, _)| {
            !CONSUMED.contains(&k.as_str())
                && !k.starts_with("approver_email_")
                && !k.starts_with("addon_")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let id = sim.world.new_item_id();
    let cart_id = (!paid_now).then(|| sim.world.new_cart_id());
    let today = sim.world.today();
    sim.world.items.insert(
        id,
        Item {
            id,
            account: user,
            pricelist: plan.id,
            period: months,
            cn,
            altnames: names,
            old_altnames: Vec::new(),
            altname_qty: qty,
            csr: Some(csr),
            remoteid,
            approver_method: call.get("approver_method").map(str::to_string),
            approver_emails: approver_emails(call),
            params: extra,
            createdate: today,
            expiredate: None,
            issued_at: None,
            status: 1,
            service_status: 0,
            status_msg: String::new(),
            crt: None,
            deleted: false,
            paid: if paid_now { amount } else { Decimal::ZERO },
            cost: amount,
            currency: plan.currency.clone(),
            pending: None,
            autoprolong: sim.world.knobs.on("upstream_autoprolong")
                && call.get("autoprolong") != Some("off"),
            auto_renewals: 0,
            cert_not_before: None,
            cert_not_after: None,
            certs_issued: 0,
            cart_id,
            in_cart: !paid_now,
            dcv_sent: None,
        },
    );
    if let Some(cart_id) = cart_id {
        // SIM-21: the cart path leaves an unpaid item (status 1, nothing debited) until an admin
        // pays it (`/_sim/cart/pay`); the answer names the cart, never the service (knob
        // cart_answer, field-2026-12 §4-5).
        return Ok(cart_answer(sim, cart_id));
    }
    sim.start_processing(id, PendingKind::Order);
    // Knob order_answer: <id> (S17) or <item.id> (v2 order API).
    Ok(match sim.world.knobs.get("order_answer") {
        "item.id" => Node::new("doc").field("item.id", id.to_string()),
        "zero" => Node::new("doc").field("id", "0"),
        _ => Node::new("doc").field("id", id.to_string()),
    })
}

/// The answer of an order that landed in the cart (knob `cart_answer`).
fn cart_answer(sim: &Sim, cart_id: u64) -> Node {
    let doc = Node::new("doc");
    match sim.world.knobs.get("cart_answer") {
        "ok_url" => doc.field("ok", format!("{}/billmgr?func=cart", sim.base_url)),
        name @ ("billorder.id" | "billorder" | "lineitem.id" | "payment_id") => {
            doc.field(name, cart_id.to_string())
        }
        // Today's answer, whatever ok_body says.
        _ => doc.child(Node::new("ok")),
    }
}
