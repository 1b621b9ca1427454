//! `pricelist.export` (SIM-15, SIM-16): the catalogue's plans, filtered, re-exported verbatim. Public;
//! bad credentials are still refused.

use super::{ApiError, Call};
use crate::upstream::catalog::ExportFilter;
use crate::upstream::sim::Sim;
use crate::upstream::xml::Node;

pub fn export(sim: &mut Sim, call: &Call) -> Result<Node, ApiError> {
    let filter = ExportFilter {
        itemtype: call.get("itemtype").map(str::to_string),
        only_available: matches!(call.get("onlyavailable"), Some("on") | Some("yes")),
        project: call.get("elid").or(call.get("project")).map(str::to_string),
        pricelist: call.get("pricelist").map(str::to_string),
    };
    let mut doc = Node::new("doc");
    for plan in sim.catalog.export(&filter) {
        doc.push_raw(plan.raw.clone());
    }
    Ok(doc)
}
