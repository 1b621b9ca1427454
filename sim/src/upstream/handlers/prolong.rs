//! `service.prolong` (SIM-27): debit one more period, move the expiry, optionally re-run issuance.

use super::order::{account_price, debit, price, sold_period};
use super::{ApiError, Call};
use crate::upstream::sim::Sim;
use crate::upstream::state::{add_months, PendingKind};
use crate::upstream::xml::Node;

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
    let plan =
        sim.catalog.plan(item.pricelist).cloned().ok_or_else(|| {
            ApiError::value("elid", &id.to_string(), "the plan is no longer sold")
        })?;
    let months = sold_period(call, &plan)?;
    let amount = account_price(sim, &user, price(&plan, months, item.altname_qty)?);
    debit(sim, &user, amount, &plan.currency)?;
    let new_expiry = add_months(expiry, months);
    if let Some(it) = sim.world.items.get_mut(&id) {
        it.expiredate = Some(new_expiry);
        it.paid += amount;
        it.period = months;
        it.cost = amount;
    }
    if sim.world.knobs.on("prolong_reissues") {
        sim.start_processing(id, PendingKind::Prolong);
    }
    let date = Node::new("newexpiredate").text(new_expiry.format("%Y-%m-%d").to_string());
    // A-U7: ISPsystem's code reads /doc/doc/newexpiredate; knob prolong_shape=flat answers /doc/newexpiredate.
    Ok(if sim.world.knobs.get("prolong_shape") == "flat" {
        Node::new("doc").child(date)
    } else {
        Node::new("doc").child(Node::new("doc").child(date))
    })
}
