//! A renewal found upstream that no local prolong asked for: the upstream
//! renewed, and charged the reseller, on its own (evidence-2026-12 "Orders":
//! an upstream's auto-renewal). Orders carry `autoprolong=off` so this should
//! not happen (`[order] autoprolong_off`); when it does, it is logged at warn
//! with the amount, so the admin sees the money that moved.
//!
//! The local expiry does not follow it (the local paid term moves
//! only with a local prolong); the next local prolong finds the upstream term
//! already past the local one and adopts it instead of paying again.
//! Warned once per upstream expiry seen (reconcile/apply.rs records it).

use chrono::NaiveDate;

use crate::protocol::args::ServiceOp;

use super::intent::{Intent, IntentOp, Phase};
use super::job::Job;

/// Warn when the upstream expiry moved past the local one while no local
/// prolong is running or unfinished. Costs one list call, only then.
pub fn warn_if_unasked(job: &mut Job, upstream_id: u64, upstream_expiry: NaiveDate) {
    let Some(local) = job.item.expiredate else {
        return;
    };
    if upstream_expiry <= local || job.op == ServiceOp::Prolong {
        return;
    }
    if job
        .stored_intent()
        .ok()
        .flatten()
        .is_some_and(|i| asked_for(&i))
    {
        return;
    }
    let amount = job
        .client()
        .ok()
        .and_then(|c| c.certificate_list().ok())
        .and_then(|rows| rows.into_iter().find(|r| r.id == upstream_id))
        .and_then(|r| r.cost)
        .unwrap_or_else(|| "an amount the upstream does not list".to_string());
    log::warn!(
        "item {}: the upstream renewed certificate {upstream_id} on its own (expiry {local} -> {upstream_expiry}) \
         and charged {amount}; no local prolong asked for it. Check the upstream's auto-renewal for this \
         certificate ([order] autoprolong_off sends autoprolong=off with new orders)",
        job.item_id
    );
}

/// The last upstream renewal of the item is the module's own: a local
/// prolong still running, or an automatic renewal of sync (on a
/// per-certificate upstream, no running operation) — not the upstream's.
pub fn asked_for(intent: &Intent) -> bool {
    intent.op == IntentOp::Prolong && (intent.phase != Phase::Done || intent.ro.is_none())
}
