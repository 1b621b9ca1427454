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
//! - a renewal is reported (new expiry, `service.postprolong`) only when the
//!   upstream shows it: the re-read expiry (or, without a view, the answer's
//!   `newexpiredate`) is past the one before. An `ok` that moved nothing is
//!   "outcome unknown": recorded (`answered_ok`), reconciled by the next run;
//! - a lost answer is decided by the next run from the upstream expiry
//!   (reconcile below), not by an admin; the cap of 1 (`prolong_max_tries`)
//!   applies only to definite refusals (failure.rs).

use chrono::NaiveDate;

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::CertView;

use super::intent::{now_unix, Decision, Intent, IntentOp, Phase};

use super::job::{record_send_failure, renewal_held, renewal_refused_until, Job};
use super::reconcile::{apply_view, renewed, settle_module_owned, sync_once};
use super::term::prolonged_term_end;
use crate::vocab::item_params::INTENT_PARAM;
use crate::vocab::item_params::PAID_UNTIL_PARAM;

pub fn run(job: &mut Job) -> Result<()> {
    let upstream_id = job.require_upstream_id()?;
    // A movement the module started itself and left "sent" is settled first:
    // never finished as this operation's own (reconcile/effect.rs).
    let settled = if job.operation_still_open()? {
        settle_module_owned(job, upstream_id)?
    } else {
        None
    };
    // `seen`: the upstream state a reconciliation already read, so the send
    // below does not read it again.
    let (generation, attempt, seen) = match job.decide(IntentOp::Prolong)? {
        Decision::OperationGone => return Ok(()),
        Decision::Fresh { generation } => {
            if let Some(auto) = automatic_renewal_of_this_term(job)? {
                let view = match settled {
                    Some(view) => view,
                    None => upstream_view(job, upstream_id)?,
                };
                return adopt_automatic(job, generation, auto, view);
            }
            (generation, 1, settled)
        }
        Decision::Resend(intent) => {
            if let Some(day) = renewal_held(&intent) {
                return Err(renewal_refused_until(job.item_id, &intent, day));
            }
            (intent.generation, intent.attempt + 1, None)
        }
        Decision::FinishLocal(intent) => {
            let view = upstream_view(job, upstream_id)?;
            return finish(job, intent, Some(view), None);
        }
        Decision::Reconcile(intent) if intent.op != IntentOp::Prolong => {
            return Err(job.unfinished_other(&intent));
        }
        Decision::Reconcile(intent) => match reconcile(job, upstream_id, intent)? {
            Settled::Renewed(intent, view) => return finish(job, intent, Some(*view), None),
            Settled::NotRenewed(intent, view) => {
                (intent.generation, intent.attempt + 1, Some(*view))
            }
        },
    };
    // Everything below may renew: the period must be whole months before
    // the upstream is even read (a trial, lifetime or daily period is never
    // renewed, `vocab::period`).
    let period = job.period_months()?;
    let current = match seen {
        Some(view) => view,
        None => upstream_view(job, upstream_id)?,
    };
    let before = current.expiredate;
    // Already renewed upstream (a lost intent, or renewed by hand): adopt.
    if let (Some(up), Some(local)) = (before, job.item.expiredate) {
        if up > local {
            log::warn!(
                "item {}: upstream expiry {up} is already past the local expiry {local}; adopting it without paying again",
                job.item_id
            );
            let mut intent =
                Intent::new(IntentOp::Prolong, generation, attempt, job.ro, now_unix())
                    .with_phase(Phase::Applied);
            intent.local_expiry = local_target(job, period)?;
            return finish(job, intent, Some(current), None);
        }
    }
    let mut intent = Intent::new(IntentOp::Prolong, generation, attempt, job.ro, now_unix());
    intent.upstream_id = Some(upstream_id);
    intent.period = Some(i64::from(period));
    intent.before.expiry = before.map(|d| d.format("%Y-%m-%d").to_string());
    intent.local_expiry = local_target(job, period)?;
    job.save_intent(&intent)?;
    log::info!(
        "item {}: renewing upstream {upstream_id} for {period} months (expiry now {}, generation {generation}, try {attempt})",
        job.item_id,
        show(before)
    );
    let sent = job.client()?.service_prolong(upstream_id, period);
    match sent {
        Ok(answered) => {
            // Client rule (upstream-api.md §3.8): re-read rather than trust
            // the answer. A renewal counts only when the paid term moved.
            let reread = upstream_view(job, upstream_id);
            let shown = match &reread {
                Ok(view) => renewed(before, view.expiredate),
                // No view: the answer's new expiry is the only evidence.
                Err(_) => renewed(before, answered),
            };
            if !shown {
                return Err(ok_without_effect(
                    job,
                    intent,
                    before,
                    answered,
                    reread.ok(),
                ));
            }
            let applied = intent.with_phase(Phase::Applied);
            job.save_intent(&applied)?;
            finish(job, applied, reread.ok(), answered)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// What the upstream says about a renewal whose answer was lost.
enum Settled {
    /// The paid term moved: adopt it.
    Renewed(Intent, Box<CertView>),
    /// Certainly not applied (the settle window passed, nothing moved): the
    /// caller may send again, from the upstream state just read.
    NotRenewed(Intent, Box<CertView>),
}

/// Decide a lost renewal from the upstream: did the paid term move since
/// the intent was written? Moved → renewed. Not moved while the upstream may
/// still be working (settle window) → outcome unknown, the next run looks
/// again. Not moved after the window → not applied, send again; except when
/// the upstream had answered `ok`: then it cannot tell, and an admin decides.
fn reconcile(job: &mut Job, upstream_id: u64, intent: Intent) -> Result<Settled> {
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
        return Ok(Settled::Renewed(intent, Box::new(view)));
    }
    if job.still_settling(&intent) {
        let what = if intent.answered_ok {
            "the upstream answered ok to the renewal"
        } else {
            "the answer was lost to the renewal"
        };
        return Err(ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: {what} sent at {} UTC, and the upstream expiry ({}) has not moved yet; \
                 the next run looks again; nothing is reported renewed until the paid term moves",
                job.item_id,
                intent.sent_at_text,
                show(now)
            ),
        )
        .with_object(crate::upstream::wire::FUNC_SERVICE_PROLONG));
    }
    if intent.answered_ok {
        return Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: the upstream answered ok to the renewal of certificate {upstream_id} sent at {} UTC, \
                 but its expiry is still {} after {}s. It may sit unpaid in the upstream cart or be applied later. \
                 Check the upstream account (cart, expiry, payments); then set the expiry here and finish the \
                 operation, or delete item param {INTENT_PARAM} to renew again",
                job.item_id,
                intent.sent_at_text,
                show(now),
                job.ctx.config.lifecycle.settle_secs
            ),
        )
        .with_object(crate::upstream::wire::FUNC_SERVICE_PROLONG));
    }
    log::warn!(
        "item {}: the renewal sent at {} UTC did not reach the upstream (expiry still {} after the settle window); \
         renewing again",
        job.item_id,
        intent.sent_at_text,
        show(now)
    );
    Ok(Settled::NotRenewed(intent, Box::new(view)))
}

/// The upstream answered `ok` but shows no new paid term (a renewal left in
/// the cart, or one that is never applied): outcome unknown. Recorded, never
/// reported as renewed; the next run reconciles.
fn ok_without_effect(
    job: &mut Job,
    intent: Intent,
    before: Option<NaiveDate>,
    answered: Option<NaiveDate>,
    view: Option<CertView>,
) -> ModuleError {
    let mut unknown = intent;
    unknown.answered_ok = true;
    if let Err(e) = job.save_intent(&unknown) {
        log::error!(
            "item {}: could not record the unconfirmed renewal: {e}",
            job.item_id
        );
    }
    let seen = view.and_then(|v| v.expiredate);
    log::warn!(
        "item {}: service.prolong answered ok (newexpiredate {}), but the upstream expiry is {} (was {}); \
         not reported as renewed",
        job.item_id,
        show(answered),
        show(seen),
        show(before)
    );
    ModuleError::new(
        ErrorKind::UpstreamOutcomeUnknown,
        format!(
            "item {}: the upstream answered ok to the renewal, but the paid term did not move (expiry {}); \
             it is not reported as renewed. The next run checks the upstream again",
            job.item_id,
            show(seen.or(before))
        ),
    )
    .with_object(crate::upstream::wire::FUNC_SERVICE_PROLONG)
}

/// The local paid term's end after this renewal: exactly one period past
/// the term before it, whichever way BILLmanager behaves. It probably moves
/// `item.expiredate` by the period itself when the renewal is paid, before
/// `prolong` runs (field-2026-12 §6, inferred from every public module, not
/// confirmed): adding the period again would give the customer two periods
/// for one payment. So the term before is the one the module recorded when
/// it last set or saw it settled ([`PAID_UNTIL_PARAM`]); an expiry already
/// one period past it was moved by BILLmanager and is kept; one that was not
/// is set to the absolute date; it never moves backwards. Which of the two
/// BILLmanager did is logged, so the first real installation tells. `None`:
/// no term at all yet (the upstream's then decides).
fn local_target(job: &Job, months: u32) -> Result<Option<String>> {
    let now = job.item.expiredate;
    let (base, source) = match term_before(job)? {
        Some((day, source)) => (Some(day), source),
        None => (now, "the expiry now, no record of the term before"),
    };
    let Some(base) = base else {
        return Ok(None);
    };
    let target = prolonged_term_end(base, months);
    let item = job.item_id;
    match now {
        Some(n) if n >= target => log::info!(
            "item {item}: BILLmanager moved the paid term itself at payment ({base} → {n}, {source}): \
             this renewal does not move it again"
        ),
        Some(n) if n > base => log::warn!(
            "item {item}: the paid term is {n}, past the term before ({base}, {source}) but less than one \
             period of {months} months: it is set to {target}"
        ),
        Some(n) => log::info!(
            "item {item}: BILLmanager had not moved the paid term ({n}): this renewal sets it to {target} \
             ({base}, {source}, + {months} months)"
        ),
        None => log::info!("item {item}: no paid term yet; this renewal sets it to {target}"),
    }
    Ok(Some(now.map_or(target, |n| n.max(target)).to_string()))
}

/// The paid term before this renewal as the module knows it: the recorded
/// end ([`PAID_UNTIL_PARAM`]), else the end a finished renewal of a
/// BILLmanager operation set (an item not looked at since the record
/// exists), with where it came from.
fn term_before(job: &Job) -> Result<Option<(NaiveDate, &'static str)>> {
    if let Some(day) = job.param(PAID_UNTIL_PARAM).and_then(parse_day) {
        return Ok(Some((day, "as the module recorded it")));
    }
    let from_intent = job
        .stored_intent()?
        .filter(|i| i.op == IntentOp::Prolong && i.phase == Phase::Done && !i.automatic())
        .and_then(|i| i.local_expiry.as_deref().and_then(parse_day));
    Ok(from_intent.map(|day| (day, "as the last renewal set it")))
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// An automatic paid renewal (auto.rs, a per-certificate upstream) applied
/// during the current paid term and not yet taken by a renewal of
/// BILLmanager's: the upstream term it bought is this renewal's, so nothing
/// is paid twice for the same period.
fn automatic_renewal_of_this_term(job: &Job) -> Result<Option<Intent>> {
    let Some(i) = job.stored_intent()? else {
        return Ok(None);
    };
    if i.op != IntentOp::Prolong || i.phase != Phase::Done || !i.automatic() {
        return Ok(None);
    }
    let months = job.period_months()?;
    let term_end = term_before(job)?.map(|(d, _)| d).or(job.item.expiredate);
    let term_start = term_end.and_then(|end| end.checked_sub_months(chrono::Months::new(months)));
    let sent = chrono::DateTime::from_timestamp(i.sent_at, 0).map(|t| t.date_naive());
    Ok(match (term_start, sent) {
        (Some(start), Some(sent)) if sent >= start => Some(i),
        _ => None,
    })
}

/// This operation's renewal is the automatic one already paid upstream:
/// recorded as applied (with the one period the local term moves) and
/// finished, nothing sent.
fn adopt_automatic(job: &mut Job, generation: u32, auto: Intent, view: CertView) -> Result<()> {
    log::warn!(
        "item {}: the automatic upstream renewal sent at {} UTC (upstream term {} → {}) is this renewal's: \
         not paid again",
        job.item_id,
        auto.sent_at_text,
        auto.before.expiry.as_deref().unwrap_or("not set"),
        show(view.expiredate)
    );
    let months = job.period_months()?;
    let mut intent = Intent::new(IntentOp::Prolong, generation, 1, job.ro, now_unix())
        .with_phase(Phase::Applied);
    intent.upstream_id = auto.upstream_id;
    intent.period = auto.period;
    intent.before.expiry = auto.before.expiry.clone();
    intent.local_expiry = local_target(job, months)?;
    intent.paid_by_auto = Some(auto.generation);
    job.save_intent(&intent)?;
    finish(job, intent, Some(view), None)
}

/// A date for the log.
fn show(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "not set".into())
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
    // The local paid term moves by exactly the period;
    // an intent from before that rule falls back to the upstream's expiry.
    let target = intent
        .local_expiry
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let expiry = target
        .or_else(|| view.as_ref().and_then(|v| v.expiredate))
        .or(answered);
    if let Some(d) = expiry {
        // Never backwards: a term already past the target stays.
        if job.item.expiredate.is_none_or(|now| now < d) {
            job.set_expiry_confirmed(d)?;
        }
        // The record the next renewal counts one period from, read back: a
        // stale record would make it take its own move for BILLmanager's.
        let settled = job.item.expiredate.map_or(d, |now| now.max(d)).to_string();
        if job.param(PAID_UNTIL_PARAM) != Some(settled.as_str()) {
            job.save_param_confirmed(PAID_UNTIL_PARAM, &settled)?;
        }
    }
    // Done (read back) before the report: a rerun of this operation after a
    // failed report finishes locally instead of renewing again.
    job.save_intent(&intent.with_phase(Phase::Done))?;
    if job.operation_still_open()? {
        job.mgrctl.postprolong(job.item_id)?;
    }
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
