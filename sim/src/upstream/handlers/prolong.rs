//! `service.prolong` (SIM-27): debit one more period, move the expiry, optionally re-run issuance.
//! Knobs `prolong_cart` (no `skipbasket=on` → cart, unpaid) and `prolong_applies=off` (ok, never applied).

use super::order::{account_price, debit, price, sold_period};
use super::{ApiError, Call};
use crate::upstream::sim::Sim;
use crate::upstream::state::{add_months, PendingKind};
use crate::upstream::validity::TermModel;
use crate::upstream::xml::Node;

/// Upstream auto-renewal (knob `upstream_autoprolong`, evidence-2026-12
/// "Orders"): an issued item ordered without `autoprolong=off` is renewed by
/// the upstream itself once its expiry is reached, one more period debited
/// from the account, with no `service.prolong` from the reseller. Without
/// the money it stays expired. Run before every request and clock move
/// (`Sim::advance_auto`); `true` when something was renewed.
pub fn auto_renew(sim: &mut Sim) -> bool {
    let today = sim.world.today();
    let due: Vec<u64> = sim
        .world
        .items
        .values()
        .filter(|i| i.autoprolong && !i.deleted && i.service_status == 5)
        .filter(|i| i.expiredate.is_some_and(|e| e <= today))
        .map(|i| i.id)
        .collect();
    let mut renewed = false;
    for id in due {
        // A big clock jump may be due several periods; ten at most per call.
        for _ in 0..10 {
            let Some(item) = sim.world.items.get(&id).cloned() else {
                break;
            };
            let Some(expiry) = item.expiredate.filter(|e| *e <= today) else {
                break;
            };
            let Some(plan) = sim.catalog.plan(item.pricelist).cloned() else {
                break;
            };
            let Ok(list_price) = price(&plan, item.period, item.altname_qty) else {
                break;
            };
            let amount = account_price(sim, &item.account, list_price);
            if debit(sim, &item.account, amount, &plan.currency).is_err() {
                break;
            }
            if let Some(it) = sim.world.items.get_mut(&id) {
                it.expiredate = Some(add_months(expiry, item.period));
                it.paid += amount;
                it.cost = amount;
                it.auto_renewals += 1;
                renewed = true;
            }
        }
    }
    renewed
}

/// Knob `prolong_not_before_days` = N > 0 (field-2026-12 §5, FS 3485857877): a renewal more than N
/// days before the expiry is refused, nothing debited, the first allowed day in
/// `<param name="value">` and in the message a live panel's client matches.
fn not_before(sim: &Sim, expiry: chrono::NaiveDate) -> Result<(), ApiError> {
    let days = sim.world.knobs.number("prolong_not_before_days");
    if days == 0 {
        return Ok(());
    }
    let from = i64::try_from(days)
        .ok()
        .and_then(chrono::Duration::try_days)
        .and_then(|d| expiry.checked_sub_signed(d))
        .unwrap_or(chrono::NaiveDate::MIN);
    if from <= sim.world.today() {
        return Ok(());
    }
    let date = from.format("%Y-%m-%d").to_string();
    let ru = sim.world.knobs.get("labels_lang") == "ru";
    let msg = if ru {
        format!("Услугу можно продлить только после {date}")
    } else {
        format!("The service can be renewed only after {date}")
    };
    let mut e = ApiError::new("value", msg).with_object("elid");
    e.params.push(("value".into(), date));
    e.russian = ru;
    Err(e)
}

pub fn prolong(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let user = call.user(sim)?;
    let id = call.elid()?;
    let item = sim
        .world
        .own_item_mut(&user, id)
        .ok_or_else(|| ApiError::missed("elid"))?
        .clone();
    let Some(expiry) = item.expiredate else {
        return Err(ApiError::value(
            "elid",
            &id.to_string(),
            "the certificate has not been issued yet",
        ));
    };
    not_before(sim, expiry)?;
    let plan =
        sim.catalog.plan(item.pricelist).cloned().ok_or_else(|| {
            ApiError::value("elid", &id.to_string(), "the plan is no longer sold")
        })?;
    let months = sold_period(call, &plan)?;
    // A-U7: ISPsystem's code reads /doc/doc/newexpiredate; knob prolong_shape=flat answers /doc/newexpiredate.
    let flat = sim.world.knobs.get("prolong_shape") == "flat";
    let answer = move |date: chrono::NaiveDate| {
        let date = Node::new("newexpiredate").text(date.format("%Y-%m-%d").to_string());
        if flat {
            Node::new("doc").child(date)
        } else {
            Node::new("doc").child(Node::new("doc").child(date))
        }
    };
    if sim.world.knobs.on("prolong_cart") && call.get("skipbasket") != Some("on") {
        // Into the cart (DOC S9): nothing paid, nothing renewed, a plain ok.
        return Ok(Node::new("doc").child(Node::new("ok")));
    }
    if !sim.world.knobs.on("prolong_applies") {
        // Says ok and even names a new expiry, but nothing is paid or moved.
        return Ok(answer(add_months(expiry, months)));
    }
    let amount = account_price(sim, &user, price(&plan, months, item.altname_qty)?);
    debit(sim, &user, amount, &plan.currency)?;
    // A subscription adds the period to the paid term; a per-certificate upstream sells
    // one more (capped) certificate from the later of today and the old expiry.
    let today = sim.world.today();
    let new_expiry = match TermModel::from_knob(sim.world.knobs.get("term_model")) {
        TermModel::Subscription => add_months(expiry, months),
        model => model.paid_until(today, expiry.max(today), months),
    };
    if let Some(it) = sim.world.items.get_mut(&id) {
        it.expiredate = Some(new_expiry);
        it.paid += amount;
        it.period = months;
        it.cost = amount;
    }
    if sim.world.knobs.on("prolong_reissues") {
        sim.start_processing(id, PendingKind::Prolong);
    }
    Ok(answer(new_expiry))
}
