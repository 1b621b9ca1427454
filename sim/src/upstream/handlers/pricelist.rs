//! `pricelist.export` (SIM-15, SIM-16): the catalogue's plans, filtered, re-exported verbatim. Public;
//! bad credentials are still refused.

use super::{ApiError, Call};
use crate::upstream::catalog::ExportFilter;
use crate::upstream::sim::Sim;
use crate::upstream::state::Account;
use crate::upstream::xml::Node;
use rust_decimal::Decimal;

pub fn export(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let filter = ExportFilter {
        itemtype: call.get("itemtype").map(str::to_string),
        only_available: matches!(call.get("onlyavailable"), Some("on") | Some("yes")),
        project: call.get("elid").or(call.get("project")).map(str::to_string),
        pricelist: call.get("pricelist").map(str::to_string),
    };
    let account = call.user.as_ref().and_then(|u| sim.world.accounts.get(u));
    let mut doc = Node::new("doc");
    for plan in sim.catalog.export(&filter) {
        match account.filter(|a| !a.discount_percent.is_zero()) {
            Some(a) => doc.push_raw(with_own_prices(&plan.raw, a)),
            None => doc.push_raw(plan.raw.clone()),
        }
    }
    Ok(doc)
}

/// The plan's XML with every `cost="X"` replaced by the account's price (empty costs stay empty).
fn with_own_prices(raw: &str, account: &Account) -> String {
    const MARK: &str = "cost=\"";
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find(MARK) {
        let (head, tail) = rest.split_at(pos + MARK.len());
        out.push_str(head);
        let end = tail.find('"').unwrap_or(tail.len());
        let value = &tail[..end];
        match value.parse::<Decimal>() {
            Ok(cost) => out.push_str(&format!("{:.4}", account.own_price(cost))),
            Err(_) => out.push_str(value),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}
