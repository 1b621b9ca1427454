//! Recognising a reissue or renewal the upstream applied (reopen, prolong,
//! the automatic actions), and settling one the module sent itself before
//! a BILLmanager operation decides.

use chrono::NaiveDate;

use crate::billing::CertificateOrderData;
use crate::commands::lifecycle::intent::{digest, Intent, IntentOp, Phase};
use crate::commands::lifecycle::job::Job;
use crate::commands::lifecycle::status_map::{
    is_pending, map_upstream, ServiceStatus, UpstreamState,
};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{CertView, Reissue, ReissueKind};
use crate::vocab::item_params::INTENT_PARAM;

/// The local sub-status an upstream view maps to.
pub fn upstream_state(view: &CertView) -> Option<ServiceStatus> {
    map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    })
}

/// The effect of a reissue: back in work, or another certificate.
pub fn reissue_visible(view: &CertView, intent: &Intent) -> bool {
    if upstream_state(view).is_some_and(is_pending) {
        return true;
    }
    match (&intent.before.crt_digest, view.crt.as_deref()) {
        (Some(before), Some(now)) => digest(now) != *before,
        _ => false,
    }
}

/// A renewal shows as the upstream's own expiry past the one the intent
/// recorded before sending.
pub fn renewal_visible(view: &CertView, intent: &Intent) -> bool {
    let before = intent
        .before
        .expiry
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    renewed(before, view.expiredate)
}

/// The upstream shows the effect of the intent's reissue or renewal.
pub fn applied_upstream(view: &CertView, intent: &Intent) -> bool {
    match intent.op {
        IntentOp::Reopen => reissue_visible(view, intent),
        IntentOp::Prolong => renewal_visible(view, intent),
        IntentOp::Open | IntentOp::Close => false,
    }
}

/// Before a BILLmanager operation decides: a reissue or renewal the module
/// started itself (its automatic action, or an admin's run without an
/// operation) and left "sent" is not this operation's to finish. It is
/// settled from what the upstream shows — adopted (done) when applied,
/// dropped (refused: nothing moved) when nothing shows after the settle
/// window — so the operation then decides afresh for itself: a customer's
/// reissue still sends the customer's CSR, a renewal is not mistaken for the
/// module's. While the outcome is still settling the operation waits (a
/// retryable error, never an admin's task). Returns the upstream view read,
/// if one was.
pub fn settle_module_owned(job: &mut Job, upstream_id: u64) -> Result<Option<CertView>> {
    if job.ro.is_none() {
        return Ok(None);
    }
    let Some(i) = job.stored_intent()? else {
        return Ok(None);
    };
    if i.phase != Phase::Sent
        || !i.module_owned()
        || !matches!(i.op, IntentOp::Reopen | IntentOp::Prolong)
    {
        return Ok(None);
    }
    let what = if i.automatic() {
        format!("automatic {}", i.op.name())
    } else {
        format!("{} without an operation", i.op.name())
    };
    let view = job.client()?.certificate_view(upstream_id)?;
    if applied_upstream(&view, &i) {
        log::warn!(
            "item {}: the {what} sent at {} UTC was applied upstream; settled as done before this operation",
            job.item_id,
            i.sent_at_text
        );
        job.save_intent(&i.with_phase(Phase::Done))?;
        return Ok(Some(view));
    }
    if job.still_settling(&i) {
        return Err(ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: the {what} sent at {} UTC has an unknown outcome (its answer was lost); this operation \
                 waits for it and goes on by itself at its next run, after at most {}s",
                job.item_id, i.sent_at_text, job.ctx.config.lifecycle.settle_secs
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    if i.answered_ok {
        return Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: the upstream answered ok to the {what} sent at {} UTC, but its expiry did not move; \
                 check the upstream account (cart, payments), then delete item param {INTENT_PARAM} and restart \
                 this operation",
                job.item_id, i.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    log::warn!(
        "item {}: the {what} sent at {} UTC shows no effect upstream after the settle window: nothing moved; \
         this operation goes on",
        job.item_id,
        i.sent_at_text
    );
    job.save_intent(&i.with_phase(Phase::Refused))?;
    Ok(Some(view))
}

/// The effect of a renewal: the upstream's paid term moved past the one
/// before (none before: any term counts).
pub fn renewed(before: Option<NaiveDate>, now: Option<NaiveDate>) -> bool {
    match (before, now) {
        (Some(b), Some(n)) => n > b,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// A reissue request of `kind` with the item's approver data.
pub fn reissue_request(data: &CertificateOrderData, id: u64, kind: ReissueKind) -> Reissue {
    Reissue {
        id,
        kind,
        approver_method: data
            .approver_method
            .as_ref()
            .map(|m| m.as_str().to_string()),
        approver_emails: data.approver_emails.clone(),
    }
}
