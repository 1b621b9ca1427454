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

use std::collections::BTreeSet;

use crate::billing::CertificateOrderData;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{CertOrder, UpstreamError};

use super::intent::{now_unix, Decision, Intent, IntentOp, Phase};
use super::job::{Job, SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};
use super::reconcile::{find_order, Found, ListRow, ViewIdentity};
use super::report::report_ordered;
use super::status::{local_status, ServiceStatus};
use super::sync_item::{set_status, sync_once};
use super::tariff::{cached_terms, check_names};

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

/// Store the upstream id of an order (read back), then close its intent.
fn adopt(job: &mut Job, intent: Intent, upstream_id: u64) -> Result<()> {
    job.save_upstream_id(upstream_id)?;
    let mut done = intent.with_phase(Phase::Done);
    done.upstream_id = Some(upstream_id);
    job.save_intent(&done)
}

/// Look up the order of an intent whose answer was lost. `Some(id)`: found
/// and adopted. `None`: certainly not ordered, the caller may order.
/// Errors: still settling (retry later) or ambiguous (admin).
pub fn settle_lost_order(job: &mut Job, intent: &Intent) -> Result<Option<u64>> {
    if intent.op != IntentOp::Open {
        return Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {} has an unfinished upstream {} (generation {}, sent {} UTC) but no upstream id; \
                 check the upstream account, then set {UPSTREAM_ID_PARAM} or delete pmss_intent",
                job.item_id,
                intent.op.name(),
                intent.generation,
                intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    match lookup_order(job, intent)? {
        Found::One(upstream_id) => {
            log::warn!(
                "item {}: the order sent at {} UTC was found upstream as {upstream_id}; adopting it instead of ordering again",
                job.item_id,
                intent.sent_at_text
            );
            adopt(job, intent.clone(), upstream_id)?;
            Ok(Some(upstream_id))
        }
        Found::Ambiguous(ids) => Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: the answer to the order sent at {} UTC was lost and several upstream certificates {ids:?} \
                 could be it. Check them upstream, set item param {UPSTREAM_ID_PARAM} to the right id, \
                 delete any duplicate upstream, then restart the operation",
                job.item_id, intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id))),
        Found::Nothing if job.still_settling(intent) => Err(ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: the answer to the order sent at {} UTC was lost and the order is not visible upstream yet; \
                 the next run looks again and orders only after {}s without a trace",
                job.item_id, intent.sent_at_text, job.ctx.config.lifecycle.settle_secs
            ),
        )
        .with_object(crate::upstream::wire::order_func(
            job.ctx.config.order.function,
        ))),
        Found::Nothing => {
            log::warn!(
                "item {}: the order sent at {} UTC is not upstream after the settle window; ordering again",
                job.item_id,
                intent.sent_at_text
            );
            Ok(None)
        }
    }
}

/// Reconciliation inputs from the upstream: one list call, views on demand.
fn lookup_order(job: &mut Job, intent: &Intent) -> Result<Found> {
    let linked = linked_upstream_ids(job)?;
    let client = job.client()?;
    let rows: Vec<ListRow> = client
        .certificate_list()?
        .into_iter()
        .map(|s| ListRow {
            id: s.id,
            cn: s.cn,
            pricelist: s.pricelist,
            createdate: s.createdate,
            remoteid: s.remoteid,
        })
        .collect();
    let found = find_order(&rows, intent, &linked, |id| {
        client
            .certificate_view(id)
            .map(|v| ViewIdentity {
                cn: v.cn,
                pricelist: v.pricelist,
                remoteid: v.remoteid,
            })
            .map_err(ModuleError::from)
    })?;
    Ok(found)
}

/// Upstream ids already linked to other items of the same module: never
/// adopted for this one.
fn linked_upstream_ids(job: &mut Job) -> Result<BTreeSet<u64>> {
    let Some(module) = job.item.processingmodule else {
        return Ok(BTreeSet::new());
    };
    let mut linked = BTreeSet::new();
    for other in job.db.module_items(module)? {
        if other.id == job.item_id {
            continue;
        }
        let params = job.db.item_params(other.id, &job.key)?;
        if let Some(id) = params
            .get(UPSTREAM_ID_PARAM)
            .and_then(|v| v.trim().parse().ok())
        {
            linked.insert(id);
        }
    }
    Ok(linked)
}

/// Record the intent, order, save the id.
fn place_order(job: &mut Job, generation: u32, attempt: u32) -> Result<u64> {
    let data = CertificateOrderData::load(job.db, &job.key, job.item_id)?;
    let pricelist = crate::catalog::upstream_tariff_id(&job.item.pricelist_intname)?;
    let period = job.period_months()?;
    if let Some(terms) = cached_terms(job, period)? {
        check_names(&terms, &data.cn, &data.altnames)?;
    }
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

/// After a failed send: a definite "no" marks the intent refused (a rerun
/// may send again); anything that may have been applied leaves it `Sent`, so
/// the rerun reconciles first.
pub fn record_send_failure(job: &mut Job, intent: Intent, e: UpstreamError) -> ModuleError {
    if e.maybe_applied() {
        log::warn!(
            "item {}: {} {} sent, outcome unknown ({e:?}); the next run checks upstream before sending again",
            job.item_id,
            intent.op.name(),
            intent.generation
        );
        let mut err = ModuleError::from(e);
        if err.kind != ErrorKind::UpstreamTimeout {
            err.kind = ErrorKind::UpstreamOutcomeUnknown;
        }
        return err;
    }
    if let Err(save) = job.save_intent(&intent.with_phase(Phase::Refused)) {
        log::error!(
            "item {}: could not record the refused send: {save}",
            job.item_id
        );
    }
    ModuleError::from(e)
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
