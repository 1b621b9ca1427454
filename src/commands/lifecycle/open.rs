//! `open --item N --runningoperation R`: order the certificate upstream.
//!
//! 0. The running operation is gone (intent.rs `decide`)? Nothing at all.
//! 1. Already ordered (upstream id on the item)? Then only finish.
//! 2. A previous send whose answer was lost? Look the order up (reconcile.rs)
//!    and adopt it; order again only when it is certainly not there.
//! 3. Otherwise: read the order data, record the intent (read back), order
//!    with `remoteid` = our item id (paid from the upstream balance), record
//!    the upstream id in the intent, then on the item (read back).
//! 4. Finish: sub-status "requested", the post-open call (report.rs, P-U3),
//!    then one sync pass so an instantly issued certificate lands at once.

use crate::billing::CertificateOrderData;
use crate::protocol::error::Result;
use crate::upstream::CertOrder;

use super::intent::{now_unix, Decision, Intent, IntentOp, Phase};
use super::job::{record_send_failure, set_status, Job, SERVICE_STATUS_PARAM};
use super::reconcile::{adopt, settle_lost_order, sync_once};
use super::report::report_ordered;
use super::status::{local_status, ServiceStatus};
use super::tariff::{cached_terms, check_names, check_paid_slots, upstream_tariff};

pub fn run(job: &mut Job) -> Result<()> {
    let decision = job.decide(IntentOp::Open)?;
    if decision == Decision::OperationGone {
        return Ok(());
    }
    if let Some(upstream_id) = job.upstream_id()? {
        // A crash between saving the id and closing the intent: close it now.
        if let Some(stored) = job.stored_intent()? {
            if stored.op == IntentOp::Open && stored.phase != Phase::Done {
                let mut done = stored.with_phase(Phase::Done);
                done.upstream_id = Some(upstream_id);
                job.save_intent(&done)?;
            }
        }
        log::info!(
            "item {} is already ordered upstream as {upstream_id}; finishing the operation",
            job.item_id
        );
        return finish(job, upstream_id);
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
            return finish(job, upstream_id);
        }
        Decision::Reconcile(intent) | Decision::FinishLocal(intent) => {
            match settle_lost_order(job, &intent)? {
                Some(upstream_id) => return finish(job, upstream_id),
                None => (intent.generation, intent.attempt + 1),
            }
        }
    };
    let upstream_id = place_order(job, generation, attempt)?;
    finish(job, upstream_id)
}

/// Record the intent, order, save the id.
fn place_order(job: &mut Job, generation: u32, attempt: u32) -> Result<u64> {
    let data = CertificateOrderData::load(job.db, &job.key, job.item_id)?;
    let pricelist = upstream_tariff(job)?;
    let period = job.period_months()?;
    if let Some(terms) = cached_terms(job, pricelist, period)? {
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
    intent.period = Some(period);
    job.save_intent(&intent)?;
    log::info!(
        "item {}: ordering upstream tariff {pricelist} for {period} months, CN {} (generation {generation}, try {attempt})",
        job.item_id,
        order.cn
    );
    let sent = job.client()?.certificate_order(&order);
    match sent {
        Ok(upstream_id) => {
            log::info!("item {}: ordered upstream as {upstream_id}", job.item_id);
            // The id goes into the intent first, then onto the item: if one
            // of the two writes is lost, the other one finds the order again.
            let mut applied = intent.with_phase(Phase::Applied);
            applied.upstream_id = Some(upstream_id);
            if let Err(e) = job.save_intent(&applied) {
                log::error!(
                    "item {}: ordered upstream as {upstream_id}, but recording it in the intent failed: {e}",
                    job.item_id
                );
            }
            adopt(job, applied, upstream_id)?;
            Ok(upstream_id)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// Sub-status "requested", the post-open call, one sync pass.
fn finish(job: &mut Job, upstream_id: u64) -> Result<()> {
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
    if local_status(job.param(SERVICE_STATUS_PARAM)).is_none() {
        set_status(job, ServiceStatus::Requested)?;
    }
    report_ordered(
        job.mgrctl,
        job.item_id,
        job.ctx.config.lifecycle.open_convention,
    )?;
    // The operation is finished; a failed sync is only logged, the next
    // sync_item (or the cron sync) catches up.
    if let Err(e) = sync_once(job, upstream_id) {
        log::warn!(
            "item {}: ordered, but the first sync failed: {e}; the next sync catches up",
            job.item_id
        );
    }
    Ok(())
}
