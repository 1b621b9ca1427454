//! Acting on the term planner (term.rs) from `sync_item` and the cron
//! `sync`: keep the current certificate's facts and the next planned action
//! on the item, and when an action is due send it — a free reissue
//! (`oldrequest`: same CSR, same names) or, on a per-certificate upstream, a
//! paid renewal logged at warn with its amount.
//!
//! At most once, by the intent rules every certificate-changing call follows
//! (intent.rs `decide`, written and read back before sending, a lost answer
//! looked up upstream before anything is sent again), plus one rule of its
//! own: an automatic action is keyed by the certificate it replaces (the
//! digest in the intent), so each certificate generation gets one. There is
//! no running operation: nothing is reported to BILLmanager (`post*`), the
//! local paid term does not move, and the service stays active.

use crate::billing::CertificateOrderData;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{wire, CertView, ReissueKind};
use crate::vocab::{ItemStatus, OrderPeriod};

use super::intent::{digest, now_unix, Decision, Intent, IntentOp, Phase};
use super::job::{record_send_failure, renewal_held, Job};
use super::reconcile::{
    applied_upstream, apply_facts, commit_status, reissue_request, renewal_visible, upstream_state,
    SyncOutcome,
};
use super::status_map::ServiceStatus;
use super::tariff::{cached_terms, upstream_tariff};
use super::term::{
    certificate_text, describe, next_action_text, plan, validation_note, Action, Facts, Plan,
    NO_PAID_RENEWAL,
};
use crate::vocab::item_params::{
    CERTIFICATE_PARAM, INTENT_PARAM, LEGACY_VALIDATION_PARAM, NEXT_ACTION_PARAM, PAID_UNTIL_PARAM,
};

/// What one look at a service planned and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Looked {
    /// The action due now, if any.
    pub due: Option<Action>,
    /// The plan in words.
    pub text: String,
    /// Something was sent upstream (never in a dry run).
    pub sent: bool,
    /// A step is due now that the planner does not take because the
    /// upstream's own expiry cannot be read (term.rs [`Plan::Undecided`]):
    /// the dry run lists it with `text`.
    pub held: bool,
}

impl Looked {
    /// No look was taken (an item the bulk sync found closed or unlinked
    /// under its lock).
    pub fn nothing() -> Looked {
        Looked {
            due: None,
            text: "nothing".to_string(),
            sent: false,
            held: false,
        }
    }
}

/// The planner's inputs for a job and the upstream view just read.
pub fn facts(job: &Job, view: &CertView) -> Facts {
    let issued = upstream_state(view) == Some(ServiceStatus::Issued);
    let cert = view.crt.as_deref().and_then(|crt| match crate::issued::leaf_facts(crt) {
        Ok(f) => Some(f),
        Err(e) => {
            log::debug!(
                "item {}: the upstream certificate's validity cannot be read ({e}); no reissue planned",
                job.item_id
            );
            None
        }
    });
    Facts {
        today: crate::clock::today(),
        paid_until: job.item.expiredate,
        active: matches!(
            job.item.item_status(),
            ItemStatus::Active | ItemStatus::Processing
        ),
        issued,
        cert,
        upstream_expiry: view.expiredate,
        before_days: job.ctx.config.lifecycle.reissue_before_days,
        no_paid_term: job
            .item
            .period
            .months()
            .is_none()
            .then(|| format!("the service's period is {}", job.item.period)),
    }
}

/// One sync pass (reconcile/apply.rs) and then the term's next step, for
/// `sync_item` and the cron `sync`. A dry run reads the upstream and plans,
/// and writes nothing anywhere.
///
/// Order of the writes: the certificate's facts, then the service form
/// (its params), then the sub-status, then any automatic action. The bulk
/// sync takes an issued item whose list row is unchanged as up to date, so
/// the sub-status comes after everything else a look writes; a run killed
/// before it leaves the item to the next round.
pub fn sync_and_keep_valid(
    job: &mut Job,
    upstream_id: u64,
    dry_run: bool,
) -> Result<(SyncOutcome, Looked)> {
    let view = job.client()?.certificate_view(upstream_id)?;
    if dry_run {
        let planned = plan_for(job, &view);
        return Ok((
            SyncOutcome::default(),
            Looked {
                due: planned.due,
                text: planned.text,
                sent: false,
                held: planned.held,
            },
        ));
    }
    // A ledger row the books missed (books.rs).
    super::books::record_current(job);
    let applied = apply_facts(job, &view)?;
    let planned = plan_for(job, &view);
    show_plan(job, &planned)?;
    record_paid_term(job)?;
    let outcome = commit_status(job, applied)?;
    let looked = act(job, &view, planned)?;
    Ok((outcome, looked))
}

/// The term planner's answer for one look.
struct Planned {
    facts: Facts,
    due: Option<Action>,
    text: String,
    note: Option<String>,
    /// A step due now is held back (the upstream's expiry cannot be read).
    held: bool,
}

fn plan_for(job: &Job, view: &CertView) -> Planned {
    let facts = facts(job, view);
    let p = plan(&facts);
    let text = describe(&p, &facts);
    let mut held = false;
    match &p {
        Plan::Nothing { why } if why.starts_with(NO_PAID_RENEWAL) => {
            log::info!("item {}: {why}", job.item_id);
        }
        // No money without evidence: said once per look, at warn once the
        // step is due (until then the service form shows it).
        Plan::Undecided { on } if facts.today >= *on => {
            held = true;
            log::warn!("item {} (upstream {}): {text}", job.item_id, view.id);
        }
        Plan::Undecided { .. } => {
            log::debug!("item {} (upstream {}): {text}", job.item_id, view.id)
        }
        _ => {}
    }
    let note = validation_note(&p, &facts);
    let due = match p {
        Plan::Now { action } => Some(action),
        _ => None,
    };
    Planned {
        facts,
        due,
        text,
        note,
        held,
    }
}

/// The plan on the item's service form (and the validation warning, once).
fn show_plan(job: &mut Job, planned: &Planned) -> Result<()> {
    // A fresh validation ahead: said once, when it becomes true, before the reissue.
    if let Some(n) = planned.note.as_deref().filter(|n| n.starts_with("fresh")) {
        if !already_shown(job, n) {
            log::warn!("item {}: {n}", job.item_id);
        }
    }
    show(job, &planned.facts, &planned.text, planned.note.as_deref())
}

/// Keep the record of the paid term ([`PAID_UNTIL_PARAM`]) in step with
/// the item's expiry while BILLmanager runs no operation on it: a renewal
/// then moves the term by one period from there, whether BILLmanager moved
/// the expiry itself at payment or not (prolong.rs `local_target`). While an
/// operation runs, the expiry may already be moved for it: not recorded
/// (a later look records it). One write when it changed, none otherwise.
fn record_paid_term(job: &mut Job) -> Result<()> {
    let Some(end) = job.item.expiredate else {
        return Ok(());
    };
    let text = end.to_string();
    if job.param(PAID_UNTIL_PARAM) == Some(text.as_str()) {
        return Ok(());
    }
    if job.db.item_has_running_operation(job.item_id)? {
        log::debug!(
            "item {}: paid term {end} not recorded while BILLmanager runs an operation on the item",
            job.item_id
        );
        return Ok(());
    }
    job.save_param(PAID_UNTIL_PARAM, &text)
}

/// Settle an automatic send whose answer was lost, then do what is due.
fn act(job: &mut Job, view: &CertView, planned: Planned) -> Result<Looked> {
    settle_own(job, view)?;
    let sent = match planned.due {
        None => false,
        Some(Action::Reissue) => reissue(job, view)?,
        Some(Action::Renew) => renew(job, view)?,
    };
    Ok(Looked {
        due: planned.due,
        text: planned.text,
        sent,
        held: planned.held,
    })
}

/// Would `value` change param `name`?
fn changed(job: &Job, name: &str, value: &str) -> bool {
    job.param(name) != Some(value)
}

/// The item already shows validation note `note` (in the next action, or
/// in its own param on an item not looked at since the form showed one param per certificate).
fn already_shown(job: &Job, note: &str) -> bool {
    job.param(NEXT_ACTION_PARAM)
        .is_some_and(|v| v.contains(note))
        || job.param(LEGACY_VALIDATION_PARAM) == Some(note)
}

/// The item params of the service form, written only when they differ: one
/// write for a new certificate (its validity and serial), one for a new
/// plan (the next action and whether it needs a fresh validation).
/// Before the first issuance nothing is shown (a sync of a certificate in
/// work writes nothing); after it, the next action follows every state.
fn show(job: &mut Job, f: &Facts, next: &str, validation: Option<&str>) -> Result<()> {
    if !f.issued && job.param(NEXT_ACTION_PARAM).is_none() {
        return Ok(());
    }
    let mut values: Vec<(&str, String)> = Vec::with_capacity(2);
    if let Some(c) = &f.cert {
        values.push((CERTIFICATE_PARAM, certificate_text(c)));
    }
    values.push((NEXT_ACTION_PARAM, next_action_text(next, validation)));
    for (name, value) in values {
        if changed(job, name, &value) {
            job.save_param(name, &value)?;
        }
    }
    Ok(())
}

/// An automatic action for this very certificate already happened.
fn done_for(stored: Option<&Intent>, op: IntentOp, crt: Option<&str>) -> bool {
    stored.is_some_and(|i| {
        i.op == op
            && i.ro.is_none()
            && matches!(i.phase, Phase::Done | Phase::Applied)
            && i.before.crt_digest.is_some()
            && i.before.crt_digest == crt.map(digest)
    })
}

/// An automatic send whose answer was lost is settled on every look, due or
/// not: left "sent" after the upstream applied it, it would hold up
/// BILLmanager's own operations on the item (they reconcile a sent intent of
/// another op first).
fn settle_own(job: &mut Job, view: &CertView) -> Result<()> {
    let Some(i) = job.stored_intent()? else {
        return Ok(());
    };
    if i.phase != Phase::Sent || i.ro.is_some() {
        return Ok(());
    }
    if applied_upstream(view, &i) {
        log::warn!(
            "item {}: the automatic {} sent at {} UTC was applied upstream; adopting it",
            job.item_id,
            i.op.name(),
            i.sent_at_text
        );
        job.save_intent(&i.with_phase(Phase::Done))?;
    }
    Ok(())
}

/// What the intent rule lets an automatic action do.
enum Go {
    /// Send: (generation, attempt).
    Send(u32, u32),
    /// Already applied upstream: record it done, send nothing.
    Adopt(Box<Intent>),
    /// Nothing now (an unknown outcome settling, another operation's).
    Wait(String),
}

fn go(job: &mut Job, op: IntentOp, view: &CertView) -> Result<Go> {
    // BILLmanager's movement applied upstream, its local steps not done yet:
    // its operation's rerun finishes it from its intent, which ours must not
    // replace (job.rs `finishing_other`).
    if let Some(i) = job.finishing_other(op)? {
        return Ok(Go::Wait(format!(
            "running operation {} is finishing its {} applied upstream",
            i.ro.unwrap_or_default(),
            i.op.name()
        )));
    }
    Ok(match job.decide(op)? {
        Decision::Fresh { generation } => Go::Send(generation, 1),
        // "Can be renewed only after DAY": nobody asks again before then.
        Decision::Resend(i) if renewal_held(&i).is_some() => Go::Wait(format!(
            "the upstream renews it only after {}",
            i.not_before.as_deref().unwrap_or_default()
        )),
        // A refused BILLmanager reopen moved nothing; ours is a movement of its own.
        Decision::Resend(i) if i.ro.is_some() => Go::Send(i.generation + 1, 1),
        Decision::Resend(i) => Go::Send(i.generation, i.attempt + 1),
        Decision::FinishLocal(i) if i.ro.is_some() => Go::Wait(format!(
            "running operation {} finishes its own {}",
            i.ro.unwrap_or_default(),
            i.op.name()
        )),
        Decision::FinishLocal(i) => Go::Adopt(Box::new(i)),
        Decision::OperationGone => Go::Wait("no operation".into()),
        // Another operation's unknown outcome (or a BILLmanager operation's own
        // reissue/renewal): that operation settles it.
        Decision::Reconcile(i) if i.op != op || i.ro.is_some() => Go::Wait(format!(
            "an upstream {} sent at {} UTC has an unknown outcome; its operation settles it first",
            i.op.name(),
            i.sent_at_text
        )),
        Decision::Reconcile(i) => {
            if applied_upstream(view, &i) {
                log::warn!(
                    "item {}: the automatic {} sent at {} UTC was applied upstream; adopting it",
                    job.item_id,
                    op.name(),
                    i.sent_at_text
                );
                Go::Adopt(Box::new(i))
            } else if job.still_settling(&i) {
                Go::Wait(format!(
                    "the answer to the automatic {} sent at {} UTC was lost and nothing is visible upstream \
                     yet; sent again only after {}s without a trace",
                    op.name(),
                    i.sent_at_text,
                    job.ctx.config.lifecycle.settle_secs
                ))
            } else if i.answered_ok {
                return Err(ModuleError::new(
                    ErrorKind::ManualRequired,
                    format!(
                        "item {}: the upstream answered ok to the automatic renewal sent at {} UTC, but its \
                         expiry did not move; check the upstream account (cart, payments), then delete item \
                         param {INTENT_PARAM}",
                        job.item_id, i.sent_at_text
                    ),
                ));
            } else {
                Go::Send(i.generation, i.attempt + 1)
            }
        }
    })
}

/// May an automatic `op` for the current certificate be sent, and as which
/// (generation, attempt)? `None`: already done for this certificate,
/// adopted from upstream, or waiting (each logged).
fn may_send(job: &mut Job, op: IntentOp, view: &CertView) -> Result<Option<(u32, u32)>> {
    let what = match op {
        IntentOp::Reopen => "automatic reissue",
        _ => "automatic renewal",
    };
    if done_for(job.intent()?.as_ref(), op, view.crt.as_deref()) {
        log::info!(
            "item {}: the {what} for this certificate was already sent; waiting for the upstream",
            job.item_id
        );
        return Ok(None);
    }
    match go(job, op, view)? {
        Go::Send(g, a) => Ok(Some((g, a))),
        Go::Adopt(i) => {
            job.save_intent(&i.with_phase(Phase::Done))?;
            Ok(None)
        }
        Go::Wait(why) => {
            log::info!("item {}: {what} waits: {why}", job.item_id);
            Ok(None)
        }
    }
}

/// A free reissue of the current certificate, once for it.
fn reissue(job: &mut Job, view: &CertView) -> Result<bool> {
    let crt = view.crt.as_deref();
    let Some((generation, attempt)) = may_send(job, IntentOp::Reopen, view)? else {
        return Ok(false);
    };
    let data = CertificateOrderData::load(job.db, &job.key, job.item_id)?;
    let kind = ReissueKind::OldRequest;
    let mut intent = Intent::new(IntentOp::Reopen, generation, attempt, None, now_unix());
    intent.auto = true;
    intent.upstream_id = Some(view.id);
    intent.crt_type = Some(wire::crt_type(&kind).to_string());
    intent.before.crt_digest = crt.map(digest);
    job.save_intent(&intent)?;
    log::info!(
        "item {}: automatic free reissue of upstream {} (same CSR and names, generation {generation}, try {attempt}): \
         the certificate ends before the paid term",
        job.item_id,
        view.id
    );
    let request = reissue_request(&data, view.id, kind);
    let sent = job.client()?.certificate_reissue(&request);
    match sent {
        Ok(()) => {
            job.save_intent(&intent.with_phase(Phase::Done))?;
            Ok(true)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// The upstream cost of one renewal of this item, as the cached catalog
/// lists it, for the warning.
pub fn renewal_cost(job: &mut Job, months: u32) -> String {
    let terms = upstream_tariff(job)
        .and_then(|upstream| cached_terms(job, upstream, OrderPeriod::Months(months)));
    match terms {
        Ok(Some(t)) => format!("{} {}", t.cost, t.currency),
        _ => "an amount not in the cached catalog (run catalog refresh)".into(),
    }
}

/// A paid upstream renewal: the upstream's own term ends with the
/// certificate, before the local paid term (a per-certificate upstream).
fn renew(job: &mut Job, view: &CertView) -> Result<bool> {
    let crt = view.crt.as_deref();
    let Some((generation, attempt)) = may_send(job, IntentOp::Prolong, view)? else {
        return Ok(false);
    };
    let months = job.period_months()?;
    let before = view.expiredate;
    let mut intent = Intent::new(IntentOp::Prolong, generation, attempt, None, now_unix());
    intent.auto = true;
    intent.upstream_id = Some(view.id);
    intent.period = Some(i64::from(months));
    intent.before.expiry = before.map(|d| d.to_string());
    intent.before.crt_digest = crt.map(digest);
    job.save_intent(&intent)?;
    let cost = renewal_cost(job, months);
    log::warn!(
        "item {}: paid upstream renewal of certificate {} for {months} months, costing {}: the upstream's own \
         term ends {} with the certificate, before the local paid term ({}); the reseller pays it, the \
         customer's term does not move",
        job.item_id,
        view.id,
        cost,
        before.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into()),
        job.item
            .expiredate
            .map(|d| d.to_string())
            .unwrap_or_else(|| "unknown".into())
    );
    let sent = job.client()?.service_prolong(view.id, months);
    match sent {
        Ok(answered) => {
            let moved = match job.client()?.certificate_view(view.id) {
                Ok(v) => renewal_visible(&v, &intent),
                Err(_) => answered.is_some_and(|a| before.is_none_or(|b| a > b)),
            };
            if !moved {
                let mut unknown = intent;
                unknown.answered_ok = true;
                job.save_intent(&unknown)?;
                return Err(ModuleError::new(
                    ErrorKind::UpstreamOutcomeUnknown,
                    format!(
                        "item {}: the upstream answered ok to the automatic renewal, but its term did not move; \
                         the next run checks again",
                        job.item_id
                    ),
                )
                .with_object(wire::FUNC_SERVICE_PROLONG));
            }
            job.save_intent(&intent.with_phase(Phase::Done))?;
            Ok(true)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}
