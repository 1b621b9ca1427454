//! `prolong --item N --runningoperation R`: renew the certificate upstream for
//! the item's period, set the new expiry, `service.postprolong`.
//!
//! Never pays twice:
//! - a renewal already applied upstream (its expiry is ahead of the local
//!   one) is adopted instead of paid again;
//! - the intent records the upstream expiry before sending; a rerun after a
//!   lost answer compares it with the upstream expiry now: later = applied,
//!   adopt; unchanged = not applied (ordered again only after the settle
//!   window);
//! - the retry cap is 1 (`prolong_max_tries`): a failed renewal goes to an
//!   admin at once (failure.rs).

use chrono::NaiveDate;

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::CertView;

use super::intent::{decide, now_unix, Decision, Intent, IntentOp, Phase};
use super::job::Job;
use super::open::record_send_failure;
use super::sync_item::{apply_view, sync_once};

pub fn run(job: &mut Job) -> Result<()> {
    let upstream_id = job.require_upstream_id()?;
    let stored = job.intent()?;
    let (generation, attempt) = match decide(stored.as_ref(), IntentOp::Prolong) {
        Decision::Fresh { generation } => (generation, 1),
        Decision::Resend {
            generation,
            attempt,
        } => (generation, attempt),
        Decision::FinishLocal => {
            let intent = stored.ok_or_else(|| ModuleError::internal("no intent"))?;
            let view = upstream_view(job, upstream_id)?;
            return finish(job, intent, Some(view), None);
        }
        Decision::Reconcile => {
            let intent = stored.ok_or_else(|| ModuleError::internal("no intent"))?;
            if intent.op != IntentOp::Prolong {
                return Err(job.unfinished_other(&intent));
            }
            let before = intent
                .before
                .expiry
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let view = upstream_view(job, upstream_id)?;
            let now = view.expiredate;
            if renewed(before, now) {
                log::warn!(
                    "item {}: the renewal sent at {} UTC was applied upstream (expiry {} → {}); adopting it",
                    job.item_id,
                    intent.sent_at_text,
                    show(before),
                    show(now)
                );
                return finish(job, intent, Some(view), None);
            }
            if job.still_settling(&intent) {
                return Err(ModuleError::new(
                    ErrorKind::UpstreamOutcomeUnknown,
                    format!(
                        "item {}: the answer to the renewal sent at {} UTC was lost and the upstream expiry has not moved yet; \
                         the next run looks again and renews only after {}s without a change",
                        job.item_id, intent.sent_at_text, job.ctx.config.lifecycle.settle_secs
                    ),
                )
                .with_object(crate::upstream::wire::FUNC_SERVICE_PROLONG));
            }
            (intent.generation, intent.attempt + 1)
        }
    };
    let current = upstream_view(job, upstream_id)?;
    let before = current.expiredate;
    // Already renewed upstream (a lost intent, or renewed by hand): adopt.
    if let (Some(up), Some(local)) = (before, job.item.expiredate) {
        if up > local {
            log::warn!(
                "item {}: upstream expiry {up} is already past the local expiry {local}; adopting it without paying again",
                job.item_id
            );
            let intent = Intent::new(IntentOp::Prolong, generation, attempt, job.ro, now_unix())
                .with_phase(Phase::Applied);
            return finish(job, intent, Some(current), None);
        }
    }
    let period = job.period_months()?;
    let mut intent = Intent::new(IntentOp::Prolong, generation, attempt, job.ro, now_unix());
    intent.upstream_id = Some(upstream_id);
    intent.period = Some(period);
    intent.before.expiry = before.map(|d| d.format("%Y-%m-%d").to_string());
    job.save_intent(&intent)?;
    log::info!(
        "item {}: renewing upstream {upstream_id} for {period} months (expiry now {}, generation {generation}, try {attempt})",
        job.item_id,
        show(before)
    );
    let sent = job.client()?.service_prolong(upstream_id, period);
    match sent {
        Ok(answered) => {
            let applied = intent.with_phase(Phase::Applied);
            job.save_intent(&applied)?;
            // Client rule (upstream-api.md §3.8): re-read rather than trust the answer.
            let reread = upstream_view(job, upstream_id).ok();
            finish(job, applied, reread, answered)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// A date for the log.
fn show(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "not set".into())
}

fn renewed(before: Option<NaiveDate>, now: Option<NaiveDate>) -> bool {
    match (before, now) {
        (Some(b), Some(n)) => n > b,
        (None, Some(_)) => true,
        _ => false,
    }
}

fn upstream_view(job: &mut Job, upstream_id: u64) -> Result<CertView> {
    Ok(job.client()?.certificate_view(upstream_id)?)
}

/// New expiry locally, `service.postprolong`, intent done, a sync pass (a
/// renewal may restart issuance upstream). `view` is the upstream state
/// already read after the renewal: its expiry wins over `answered` (the
/// prolong answer), and the sync applies it instead of reading it again.
fn finish(
    job: &mut Job,
    intent: Intent,
    view: Option<CertView>,
    answered: Option<NaiveDate>,
) -> Result<()> {
    let expiry = view.as_ref().and_then(|v| v.expiredate).or(answered);
    if let Some(d) = expiry {
        if job.item.expiredate != Some(d) {
            job.mgrctl.setexpiredate(job.item_id, d)?;
            job.item.expiredate = Some(d);
        }
    }
    if job.operation_still_open()? {
        job.mgrctl.postprolong(job.item_id)?;
    }
    job.save_intent(&intent.with_phase(Phase::Done))?;
    let synced = match &view {
        Some(v) => apply_view(job, v).map(drop),
        None => match job.upstream_id()? {
            Some(upstream_id) => sync_once(job, upstream_id).map(drop),
            None => Ok(()),
        },
    };
    if let Err(e) = synced {
        log::warn!("item {}: renewed, but the sync failed: {e}", job.item_id);
    }
    log::info!("item {}: renewed, expiry {}", job.item_id, show(expiry));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn renewal_detection() {
        assert!(renewed(d("2026-01-10"), d("2027-01-10")));
        assert!(!renewed(d("2026-01-10"), d("2026-01-10")));
        assert!(!renewed(d("2026-01-10"), None));
        assert!(renewed(None, d("2026-01-10")));
    }
}
