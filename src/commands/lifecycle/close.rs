//! `close --item N --runningoperation R`: delete the certificate upstream,
//! then `service.postclose`.
//!
//! Deleting is idempotent by nature: an upstream "not found" means an earlier
//! run (whose answer was lost) already deleted it, and counts as success.
//! An item whose order answer was lost, or whose order went into the
//! upstream cart, is looked up first, so its upstream certificate is deleted
//! (paid or not) rather than left forgotten; a cart order not listed as a
//! certificate is left to the admin to drop from the cart (it cost nothing). The delete is
//! recorded as an intent like every other call (intent.rs): a rerun of a
//! finished close, or a run whose operation is gone, sends nothing.

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{ApiErrorClass, UpstreamError};

use super::intent::{now_unix, Decision, Intent, IntentOp, Phase};
use super::job::Job;
use super::reconcile::{lookup_lost_order, Lost};

pub fn run(job: &mut Job) -> Result<()> {
    let mut upstream_id = job.upstream_id()?;
    if upstream_id.is_none() {
        // An order whose id reached the intent but not the item (a lost
        // write): the intent names the certificate to delete.
        upstream_id = job
            .stored_intent()?
            .filter(|i| i.op == IntentOp::Open)
            .and_then(|i| i.upstream_id);
    }
    match job.decide(IntentOp::Close)? {
        Decision::OperationGone => return Ok(()),
        Decision::FinishLocal(_) => return report(job),
        Decision::Reconcile(intent) if intent.op == IntentOp::Open && upstream_id.is_none() => {
            match lookup_lost_order(job, &intent)? {
                Lost::Adopted(found) => upstream_id = Some(found.upstream_id),
                // Paid or not, a certificate the customer closes is deleted
                // upstream (an unpaid one costs nothing to delete).
                Lost::Unpaid {
                    upstream_id: Some(id),
                    ..
                } => {
                    upstream_id = Some(id);
                    // Deleted unpaid: the order's ledger row fails (books.rs).
                    super::books::record(job, &unpaid_over(&intent));
                }
                Lost::Unpaid {
                    upstream_id: None, ..
                } => {
                    log::warn!(
                        "item {}: closed while its order sits unpaid in the upstream cart ({}), not listed as a \
                         certificate; delete it from the upstream cart of the module's account (nothing was paid)",
                        job.item_id,
                        intent.cart.as_deref().unwrap_or("found unpaid")
                    );
                    // The order is over: nothing is ordered for a closed service.
                    job.save_intent(&unpaid_over(&intent))?;
                }
                // Never reached the upstream: its ledger row fails.
                Lost::NotOrdered => super::books::record(job, &intent.with_phase(Phase::Refused)),
            }
        }
        // A lost delete is repeated (deleting is idempotent); any other
        // op's unknown outcome does not stop the customer's close.
        Decision::Reconcile(_) | Decision::Fresh { .. } | Decision::Resend(_) => {}
    }
    match upstream_id {
        Some(id) => {
            let stored = job.intent()?;
            let generation = match stored {
                Some(i) if i.op == IntentOp::Close && i.phase != Phase::Done => i.generation,
                Some(i) => i.generation + 1,
                None => 1,
            };
            let mut intent = Intent::new(IntentOp::Close, generation, 1, job.ro, now_unix());
            intent.upstream_id = Some(id);
            job.save_intent(&intent)?;
            delete_upstream(job, id)?;
            job.save_intent(&intent.with_phase(Phase::Done))?;
        }
        None => log::info!(
            "item {}: never ordered upstream; closing locally only",
            job.item_id
        ),
    }
    report(job)
}

/// An order that waited unpaid in the upstream cart, over because the
/// service closes: done, and marked as a cart order (the lookup may have
/// found it unpaid after this copy was read), so the books take it for
/// unpaid, not paid.
fn unpaid_over(intent: &Intent) -> Intent {
    let mut over = intent.clone().with_phase(Phase::Done);
    over.cart.get_or_insert_with(|| "found unpaid".into());
    over
}

/// `service.postclose`, once the upstream side is settled.
fn report(job: &mut Job) -> Result<()> {
    if job.operation_still_open()? {
        job.mgrctl.postclose(job.item_id)?;
    }
    Ok(())
}

fn delete_upstream(job: &mut Job, upstream_id: u64) -> Result<()> {
    match job.client()?.certificate_delete(upstream_id) {
        Ok(()) => {
            log::info!("item {}: upstream {upstream_id} deleted", job.item_id);
            Ok(())
        }
        Err(UpstreamError::Api(api)) if api.class() == ApiErrorClass::NotFound => {
            log::info!(
                "item {}: upstream {upstream_id} is already gone ({}); closing",
                job.item_id,
                api.kind
            );
            Ok(())
        }
        Err(UpstreamError::Api(api)) if api.class() == ApiErrorClass::Access => {
            Err(ModuleError::new(
                ErrorKind::UpstreamAccess,
                format!(
                    "the upstream account may not delete certificates; allow deleting services for it upstream, \
                     or delete certificate {upstream_id} upstream by hand and restart the operation"
                ),
            )
            .with_object(api.func.clone()))
        }
        Err(e) => Err(e.into()),
    }
}
