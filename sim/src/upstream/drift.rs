//! Control endpoint `POST /_sim/drift`: put the upstream books out
//! of line with the local ones the way real life does, without the reseller's
//! API. JSON `{"action": …}`:
//!
//! | action | effect |
//! |---|---|
//! | `seed` | a certificate that already exists upstream (ordered by hand, or by another module): `username`, `cn`, `pricelist`, optional `altnames`, `period` (12), `status` (2; 4 = deleted), `service_status` (5), `expiredate`, `remoteid`; an issued one (`service_status` 5) gets a real chain. Nothing is debited. Answers `{"id": N}` |
//! | `orphan` | as `seed`, `remoteid` required: an order whose answer was lost |
//! | `delete` | `id`: deleted upstream (gone from the list, no refund) |
//! | `renew` | `id`: the upstream renewed it on its own (expiry + one period, no `service.prolong`) |
//! | `cart` | `id`: a renewal put in the upstream cart and left unpaid (the list shows the item as ordered, status 1) |
//! | `status` | `id` and any of `status`, `service_status`, `expiredate`: changed upstream by hand (an admin there suspended it, or moved its expiry), no money |
//!
//! Also the upstream admin's hand on its cart (field-2026-12 §5: an order placed without
//! `skipbasket=on`, or on a panel that ignores it, knob `order_cart=on`, waits there unpaid):
//! `POST /_sim/cart/pay` and `POST /_sim/cart/drop` (`cart_pay`, `cart_drop`).

use super::handlers::debit_cart_order;
use super::sim::Sim;
use super::state::{add_months, Item, PendingKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub struct DriftIn {
    action: String,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    cn: Option<String>,
    #[serde(default)]
    altnames: Vec<String>,
    #[serde(default)]
    pricelist: Option<u64>,
    #[serde(default)]
    period: Option<i32>,
    #[serde(default)]
    status: Option<u8>,
    #[serde(default)]
    service_status: Option<u8>,
    #[serde(default)]
    expiredate: Option<String>,
    #[serde(default)]
    remoteid: Option<String>,
}

/// Apply one drift action; `Err` is a 400 message.
pub fn apply(sim: &mut Sim, d: DriftIn) -> Result<Value, String> {
    match d.action.as_str() {
        "seed" => seed(sim, d),
        "orphan" => {
            if d.remoteid.as_deref().is_none_or(str::is_empty) {
                return Err("orphan needs a remoteid".into());
            }
            seed(sim, d)
        }
        "delete" | "renew" | "cart" => {
            let id = d.id.ok_or("{\"id\": N} required")?;
            let item = sim
                .world
                .items
                .get_mut(&id)
                .ok_or_else(|| format!("no item {id}"))?;
            match d.action.as_str() {
                "delete" => {
                    item.deleted = true;
                    item.status = 4;
                }
                "renew" => {
                    let expiry = item.expiredate.ok_or("the item has no expiry to renew")?;
                    item.expiredate = Some(add_months(expiry, item.period));
                    item.auto_renewals += 1;
                }
                _ => item.status = 1,
            }
            Ok(json!({ "ok": true }))
        }
        "status" => set_status(sim, d),
        other => Err(format!(
            "unknown drift action '{other}' (seed, orphan, delete, renew, cart, status)"
        )),
    }
}

/// `status`: the upstream's own view of a certificate changed by hand.
fn set_status(sim: &mut Sim, d: DriftIn) -> Result<Value, String> {
    let id = d.id.ok_or("{\"id\": N} required")?;
    let expiry = parse_date(d.expiredate.as_deref())?;
    if d.status.is_none() && d.service_status.is_none() && expiry.is_none() {
        return Err("status needs status, service_status or expiredate".into());
    }
    let item = sim
        .world
        .items
        .get_mut(&id)
        .ok_or_else(|| format!("no item {id}"))?;
    if let Some(s) = d.status {
        item.status = s;
        item.deleted = s == 4;
    }
    if let Some(ss) = d.service_status {
        item.service_status = ss;
    }
    if expiry.is_some() {
        item.expiredate = expiry;
    }
    Ok(json!({ "ok": true }))
}

fn parse_date(text: Option<&str>) -> Result<Option<NaiveDate>, String> {
    text.map(|t| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| format!("expiredate '{t}' is not YYYY-MM-DD"))
    })
    .transpose()
}

fn seed(sim: &mut Sim, d: DriftIn) -> Result<Value, String> {
    let username = d.username.ok_or("username required")?;
    if !sim.world.accounts.contains_key(&username) {
        return Err(format!("no account {username}"));
    }
    let cn = d.cn.filter(|c| !c.is_empty()).ok_or("cn required")?;
    let pricelist = d.pricelist.ok_or("pricelist required")?;
    let period = d.period.unwrap_or(12);
    let status = d.status.unwrap_or(2);
    let service_status = d.service_status.unwrap_or(5);
    let today = sim.world.today();
    let expiredate = match parse_date(d.expiredate.as_deref())? {
        Some(t) => Some(t),
        None if service_status == 5 => Some(add_months(today, period)),
        None => None,
    };
    // A certificate made by hand upstream: its validity is what the drift says (not capped).
    let validity = (service_status == 5).then(|| {
        let until = expiredate.unwrap_or(today);
        (until.min(today), until)
    });
    let crt = match validity {
        Some((from, until)) => Some(sim.ca.issue(&cn, &d.altnames, from, until)?),
        None => None,
    };
    let currency = sim
        .world
        .accounts
        .get(&username)
        .map(|a| a.currency.clone())
        .unwrap_or_default();
    let id = sim.world.new_item_id();
    sim.world.items.insert(
        id,
        Item {
            id,
            account: username,
            pricelist,
            period,
            cn,
            altname_qty: d.altnames.len() as u32,
            altnames: d.altnames,
            old_altnames: Vec::new(),
            csr: None,
            remoteid: d.remoteid.filter(|r| !r.is_empty()),
            approver_method: None,
            approver_emails: Vec::new(),
            params: BTreeMap::new(),
            createdate: today,
            expiredate,
            issued_at: None,
            status,
            service_status,
            status_msg: String::new(),
            crt,
            deleted: status == 4,
            paid: Decimal::ZERO,
            cost: Decimal::ZERO,
            currency,
            pending: None,
            autoprolong: false,
            auto_renewals: 0,
            cert_not_before: validity.map(|v| v.0),
            cert_not_after: validity.map(|v| v.1),
            certs_issued: u32::from(validity.is_some()),
            cart_id: None,
            in_cart: false,
            dcv_sent: None,
        },
    );
    Ok(json!({ "id": id }))
}

/// `{"id": N}` or `{"all": true}`: which unpaid orders in the cart.
#[derive(Deserialize)]
pub struct CartIn {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    all: bool,
}

/// The unpaid orders in the cart `c` names; `Err` = a 400 message.
fn cart_items(sim: &Sim, c: &CartIn) -> Result<Vec<u64>, String> {
    match (c.id, c.all) {
        (Some(id), false) => match sim.world.items.get(&id) {
            Some(item) if item.in_cart && !item.deleted => Ok(vec![id]),
            Some(_) => Err(format!("item {id} is not an unpaid order in the cart")),
            None => Err(format!("no item {id}")),
        },
        (None, true) => Ok(sim
            .world
            .items
            .values()
            .filter(|i| i.in_cart && !i.deleted)
            .map(|i| i.id)
            .collect()),
        _ => Err("give {\"id\": N} or {\"all\": true}".into()),
    }
}

/// `POST /_sim/cart/pay`: the admin pays unpaid orders in the cart, each at its account's price:
/// debited once, `paid`, and issuance starts exactly as for a paid order. All or nothing: an
/// account that cannot pay (`not_enough_money`, a currency the account does not hold) changes
/// nothing and answers `Err((409, {"error", "type", "id"}))`; a bad request `Err((400, …))`.
/// `Ok({"paid": [ids]})`.
pub fn cart_pay(sim: &mut Sim, c: CartIn) -> Result<Value, (u16, Value)> {
    let ids = cart_items(sim, &c).map_err(|e| (400, json!({ "error": e })))?;
    let accounts = sim.world.accounts.clone();
    let mut amounts = Vec::with_capacity(ids.len());
    for id in &ids {
        match debit_cart_order(sim, *id) {
            Ok(amount) => amounts.push(amount),
            Err(e) => {
                sim.world.accounts = accounts;
                return Err((409, json!({ "error": e.msg, "type": e.kind, "id": id })));
            }
        }
    }
    for (id, amount) in ids.iter().zip(amounts) {
        if let Some(item) = sim.world.items.get_mut(id) {
            item.in_cart = false;
            item.paid += amount;
            item.cost = amount;
        }
        sim.start_processing(*id, PendingKind::Order);
    }
    Ok(json!({ "paid": ids }))
}

/// `POST /_sim/cart/drop`: the admin deletes unpaid orders from the cart: the items are deleted
/// (gone from lists and views), nothing refunded (nothing was paid). `Ok({"dropped": [ids]})`.
pub fn cart_drop(sim: &mut Sim, c: CartIn) -> Result<Value, String> {
    let ids = cart_items(sim, &c)?;
    for id in &ids {
        if let Some(item) = sim.world.items.get_mut(id) {
            item.in_cart = false;
            item.deleted = true;
            item.status = 4;
            item.pending = None;
        }
    }
    Ok(json!({ "dropped": ids }))
}
