//! `open --item N --runningoperation R`: order the certificate upstream.
//!
//! 0. The running operation is gone (intent.rs `decide`)? Nothing at all.
//! 1. Already ordered (upstream id on the item)? Then only finish.
//! 2. A previous send whose answer was lost? Look the order up (reconcile/lost_order.rs)
//!    and adopt it; order again only when it is certainly not there.
//! 3. Otherwise: read the order data, decide the period (whole months, or a
//!    trial only where the upstream tariff sells one: tariff.rs
//!    `order_period`; anything else stops here, before anything is sent),
//!    record the intent (read back), order
//!    with `remoteid` = our item id (paid from the upstream balance), store
//!    the upstream id on the item (read back). An order the upstream puts
//!    into its cart unpaid is recorded as placed (never ordered again) and
//!    adopted only once the upstream shows it paid. The stored id is itself the
//!    proof that the order finished (job.rs `Job::intent`), so the intent is
//!    not written again; only when the id is not stored does the intent get
//!    it, and the run fails.
//! 4. Finish: one upstream read of the new certificate, the sub-status it
//!    shows (written once), the post-open call (report.rs, P-U3), then the
//!    rest of that read applied, so an instantly issued certificate lands at
//!    once.
//!
//! `mgrctl` calls of a plain open: `paramlist`, the intent, the upstream id,
//! the sub-status, the post-open call (at most 5).

use crate::billing::CertificateOrderData;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{CertOrder, CertView, UpstreamError};

use super::intent::{now_unix, Decision, Intent, IntentOp, Phase};
use super::job::{record_send_failure, set_status, Job};
use super::reconcile::{
    adopt, apply_view, payment_evidence, settle_lost_order, unpaid, upstream_state, Adopted,
    Payment,
};
use super::report::report_ordered;
use super::status_map::{is_pending, local_status, ServiceStatus};
use super::tariff::{check_names, check_paid_slots, order_period, upstream_tariff};
use crate::vocab::item_params::SERVICE_STATUS_PARAM;

pub fn run(job: &mut Job) -> Result<()> {
    let decision = job.decide(IntentOp::Open)?;
    if decision == Decision::OperationGone {
        return Ok(());
    }
    if let Some(upstream_id) = job.upstream_id()? {
        // The stored id proves the order (the intent beside it, whatever its
        // phase, counts as done: `Job::intent`); nothing to write about it.
        log::info!(
            "item {} is already ordered upstream as {upstream_id}; finishing the operation",
            job.item_id
        );
        return finish(job, upstream_id, None);
    }
    let (generation, attempt) = match decision {
        Decision::OperationGone => return Ok(()),
        Decision::Fresh { generation } => (generation, 1),
        Decision::Resend(intent) => (intent.generation, intent.attempt + 1),
        // Applied (or done by this operation) with the id in the intent but
        // not on the item: the id write was lost; store it from the intent.
        Decision::FinishLocal(intent) | Decision::Reconcile(intent)
            if intent.op == IntentOp::Open && intent.upstream_id.is_some() =>
        {
            let upstream_id = intent.upstream_id.unwrap_or_default();
            log::warn!(
                "item {}: the order sent at {} UTC is upstream {upstream_id} (recorded in the intent); \
                 storing the id instead of ordering again",
                job.item_id,
                intent.sent_at_text
            );
            adopt(job, intent, upstream_id)?;
            return finish(job, upstream_id, None);
        }
        Decision::Reconcile(intent) | Decision::FinishLocal(intent) => {
            match settle_lost_order(job, &intent)? {
                Some(found) => return finish(job, found.upstream_id, found.view),
                None => (intent.generation, intent.attempt + 1),
            }
        }
    };
    let placed = place_order(job, generation, attempt)?;
    finish(job, placed.upstream_id, placed.view)
}

/// Record the intent, order, save the id. An order the upstream put into
/// its cart is recorded as such and looked up at once: adopted when the
/// upstream shows it paid, else the run fails saying it waits unpaid
/// (reconcile/lost_order.rs `settle_lost_order`).
fn place_order(job: &mut Job, generation: u32, attempt: u32) -> Result<Adopted> {
    let data = CertificateOrderData::load(job.db, &job.key, job.item_id)?;
    let pricelist = upstream_tariff(job)?;
    let (period, terms) = order_period(job, pricelist)?;
    if let Some(terms) = terms {
        check_names(&terms, &data.cn, &data.altnames)?;
    }
    check_paid_slots(job, &data.cn, &data.altnames)?;
    let order = CertOrder {
        pricelist,
        period,
        remoteid: job.item_id.to_string(),
        cn: data.cn.clone(),
        csr: data.csr.clone(),
        altnames: data.altnames.clone(),
        approver_method: data
            .approver_method
            .as_ref()
            .map(|m| m.as_str().to_string()),
        approver_emails: data.approver_emails.clone(),
        extra: data.contacts.clone(),
    };
    let mut intent = Intent::new(IntentOp::Open, generation, attempt, job.ro, now_unix());
    intent.remoteid = Some(order.remoteid.clone());
    intent.cn = Some(order.cn.clone());
    intent.pricelist = Some(pricelist);
    intent.period = Some(period.wire());
    job.save_intent(&intent)?;
    log::info!(
        "item {}: ordering upstream tariff {pricelist} for {period}, CN {} (generation {generation}, try {attempt})",
        job.item_id,
        order.cn
    );
    let sent = job.client()?.certificate_order(&order);
    match sent {
        Ok(upstream_id) => {
            log::info!("item {}: ordered upstream as {upstream_id}", job.item_id);
            record_order(job, intent, upstream_id)?;
            Ok(Adopted {
                upstream_id,
                view: None,
            })
        }
        Err(UpstreamError::InCart { reference, .. }) => {
            let mut placed = intent;
            placed.cart = Some(reference.clone());
            log::warn!(
                "item {}: the upstream put the order into its cart instead of paying it ({reference}); \
                 it is never ordered again",
                job.item_id
            );
            // Read back before anything else: a rerun must know the order
            // exists even when this run dies now.
            job.save_intent(&placed).map_err(|mut e| {
                e.message = format!(
                    "item {}: the order went into the upstream cart ({reference}), but recording that failed: {}; \
                     the next run finds the order upstream by remoteid before anything is sent",
                    job.item_id, e.message
                );
                e
            })?;
            match settle_lost_order(job, &placed)? {
                Some(found) => Ok(found),
                // The settle of a cart order never answers "not ordered".
                None => Err(ModuleError::internal(
                    "an order placed in the upstream cart was taken for not ordered",
                )),
            }
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// Keep the id of an order just placed. One write on the normal path: the
/// id on the item (read back), which is also the proof that the order
/// finished, so the intent (still `Sent`) needs no second write. When the id
/// is not stored (an error, or `<ok/>` without storing), the intent gets it
/// (read back) so the rerun adopts the order from the intent without a list
/// lookup, and the run fails: open never reports without the stored id. If
/// that write fails too, the intent is still `Sent` and the rerun finds the
/// order upstream by `remoteid` (reconcile/order_match.rs) before ordering anything.
fn record_order(job: &mut Job, intent: Intent, upstream_id: u64) -> Result<()> {
    let Err(e) = job.save_upstream_id(upstream_id) else {
        return Ok(());
    };
    log::error!(
        "item {}: ordered upstream as {upstream_id}, but storing the id on the item failed: {e}; \
         recording it in the intent",
        job.item_id
    );
    let mut applied = intent.with_phase(Phase::Applied);
    applied.upstream_id = Some(upstream_id);
    if let Err(also) = job.save_intent(&applied) {
        log::error!(
            "item {}: recording upstream {upstream_id} in the intent failed too: {also}; the next run \
             looks the order up upstream before ordering again",
            job.item_id
        );
    }
    Err(e)
}

/// An upstream certificate linked to the item (by hand, or by an answer with
/// its id) that the upstream shows unpaid, with no order intent to tell
/// when it was placed.
fn not_paid_yet(item: u64, upstream_id: u64) -> ModuleError {
    ModuleError::new(
        ErrorKind::ManualRequired,
        format!(
            "item {item}: upstream certificate {upstream_id} is not paid upstream (its status is \"ordered\"); \
             it is not reported open. Pay it in the upstream BILLmanager (the module's account, its cart), then \
             restart this operation; nothing is ordered again"
        ),
    )
    .with_object(format!("item {item}"))
}

/// One upstream read of the certificate (none when `seen`, a view the
/// order lookup already read), the sub-status it shows, the post-open call,
/// then the rest of that read applied.
///
/// The read comes before the sub-status so the status is written once, as
/// the upstream has it, instead of "requested" and then something else. An
/// issued or failed certificate still gets "requested" before the report:
/// its certificate, term and first-issue report (`certificate.open` under
/// `bm5`, report.rs) follow the post-open call, as for any later issue.
fn finish(job: &mut Job, upstream_id: u64, seen: Option<CertView>) -> Result<()> {
    if !job.operation_still_open()? {
        log::info!(
            "item {}: the open operation was already finished by another run",
            job.item_id
        );
        return Ok(());
    }
    // Never report an order whose id the database does not hold: a later
    // close would not know what to delete upstream.
    job.confirm_upstream_id(upstream_id)?;
    // The operation is finished whatever this read says; a failed read is
    // only logged, the next sync_item (or the cron sync) catches up.
    let read = match seen {
        Some(view) => Ok(view),
        None => job
            .client()
            .and_then(|c| c.certificate_view(upstream_id).map_err(Into::into)),
    };
    let view = match read {
        Ok(view) => Some(view),
        Err(e) => {
            log::warn!(
                "item {}: ordered, but reading it upstream failed: {e}; the next sync catches up",
                job.item_id
            );
            None
        }
    };
    // Reported only on positive evidence of payment: an id stored by hand,
    // or answered by a panel that ignores skipbasket, may name an order
    // still waiting in the upstream cart.
    let intent = job.stored_intent()?;
    match view.as_ref().map(|v| payment_evidence(None, Some(v))) {
        Some(Payment::Unpaid) => {
            let e = match &intent {
                Some(i) if i.op == IntentOp::Open => {
                    unpaid(job, i, Some(upstream_id), Payment::Unpaid)
                }
                _ => not_paid_yet(job.item_id, upstream_id),
            };
            return Err(e);
        }
        // Put into a cart, and its payment cannot be read now: not reported.
        None if intent
            .as_ref()
            .is_some_and(|i| i.op == IntentOp::Open && i.cart.is_some()) =>
        {
            return Err(ModuleError::new(
                ErrorKind::UpstreamBadResponse,
                format!(
                    "item {}: upstream certificate {upstream_id} went through the upstream cart and could not be \
                     read to see that it is paid; the operation is finished by the next run",
                    job.item_id
                ),
            )
            .with_object(crate::upstream::wire::FUNC_CERT_EDIT));
        }
        _ => {}
    }
    // Shown paid (or no sign of a cart): the order's ledger row is posted
    // (books.rs), also when a run died between storing the id of an order
    // adopted from the cart and closing its intent.
    if let Some(order) = intent.filter(|i| i.op == IntentOp::Open) {
        super::books::record(job, &order.with_phase(Phase::Done));
    }
    if local_status(job.param(SERVICE_STATUS_PARAM)).is_none() {
        let first = view
            .as_ref()
            .and_then(upstream_state)
            .filter(|s| is_pending(*s))
            .unwrap_or(ServiceStatus::Requested);
        set_status(job, first)?;
    }
    report_ordered(
        job.mgrctl,
        job.item_id,
        job.ctx.config.lifecycle.open_convention,
    )?;
    if let Some(view) = view {
        if let Err(e) = apply_view(job, &view) {
            log::warn!(
                "item {}: ordered, but the first sync failed: {e}; the next sync catches up",
                job.item_id
            );
        }
    }
    Ok(())
}
