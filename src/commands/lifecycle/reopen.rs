//! `reopen --item N --runningoperation R`: reissue the certificate upstream.
//!
//! The kind follows what changed (reissue_kind.rs): a new CSR → `manual`, a
//! changed SAN list → `altname`, else `oldrequest`; the approver method and
//! e-mails go along. Then `service.postreopen` and sub-status "requested".
//!
//! A reissue whose answer was lost is recognised upstream by its effect: the
//! certificate is back in work (requested / awaiting issue) or differs from
//! the one recorded in the intent. Then it is adopted, not sent again.

use crate::billing::CertificateOrderData;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{wire, ReissueKind};
use crate::vocab::item_params::OLD_ALTNAME_PARAM;
use crate::vocab::OrderPeriod;

use super::intent::{digest, now_unix, Decision, Intent, IntentOp, Phase};
use super::job::Job;
use super::job::{record_send_failure, set_status};
use super::reconcile::{
    reissue_request, reissue_visible, settle_module_owned, upstream_state as state_of,
};
use super::reissue_kind::choose;
use super::status_map::{is_pending, status_name, ServiceStatus};
use super::tariff::{cached_terms, check_names, check_paid_slots, upstream_tariff};

pub fn run(job: &mut Job) -> Result<()> {
    let upstream_id = job.require_upstream_id()?;
    // A reissue or renewal the module started itself and left "sent" is
    // settled first: the customer's reissue is never taken for it, so the
    // customer's CSR and names always reach the upstream (reconcile/effect.rs).
    let settled = if job.operation_still_open()? {
        settle_module_owned(job, upstream_id)?
    } else {
        None
    };
    // A renewal applied upstream whose operation has not finished its local
    // steps keeps its intent: ours would replace it, and that rerun would
    // then take the moved term for a new renewal (job.rs `finishing_other`).
    if let Some(i) = job.finishing_other(IntentOp::Reopen)? {
        return Err(ModuleError::new(
            ErrorKind::Waiting,
            format!(
                "item {}: an upstream {} sent at {} UTC is applied and its operation is finishing it; \
                 nothing was sent, this reissue is sent at a later run",
                job.item_id,
                i.op.name(),
                i.sent_at_text
            ),
        )
        .with_object(wire::FUNC_CERT_REISSUE));
    }
    // `seen`: the upstream state a reconciliation already read, so the send
    // below does not read it again.
    let (generation, attempt, seen) = match job.decide(IntentOp::Reopen)? {
        Decision::OperationGone => return Ok(()),
        Decision::Fresh { generation } => (generation, 1, settled),
        Decision::Resend(intent) => (intent.generation, intent.attempt + 1, settled),
        Decision::FinishLocal(intent) => return finish(job, intent),
        Decision::Reconcile(intent) => {
            if intent.op != IntentOp::Reopen {
                return Err(job.unfinished_other(&intent));
            }
            let view = job.client()?.certificate_view(upstream_id)?;
            if reissue_visible(&view, &intent) {
                log::warn!(
                    "item {}: the reissue sent at {} UTC was applied upstream; adopting it",
                    job.item_id,
                    intent.sent_at_text
                );
                return finish(job, intent);
            }
            if job.still_settling(&intent) {
                return Err(ModuleError::new(
                    ErrorKind::UpstreamOutcomeUnknown,
                    format!(
                        "item {}: the answer to the reissue sent at {} UTC was lost and no reissue is visible upstream yet; \
                         the next run looks again and sends it only after {}s without a trace",
                        job.item_id, intent.sent_at_text, job.ctx.config.lifecycle.settle_secs
                    ),
                )
                .with_object(wire::FUNC_CERT_REISSUE));
            }
            (intent.generation, intent.attempt + 1, Some(view))
        }
    };
    let view = match seen {
        Some(view) => view,
        None => job.client()?.certificate_view(upstream_id)?,
    };
    let state = state_of(&view);
    if state.is_some_and(is_pending) {
        // In work upstream (its first issuance, or a reissue before this
        // one, the module's automatic one included): this one waits.
        return Err(ModuleError::new(
            ErrorKind::Waiting,
            format!(
                "item {}: the upstream certificate {upstream_id} is being issued (it is {}); this reissue is sent \
                 once it is issued, at a later run; nothing was sent",
                job.item_id,
                state.map(status_name).unwrap_or_default()
            ),
        )
        .with_object(wire::FUNC_CERT_REISSUE));
    }
    if state != Some(ServiceStatus::Issued) {
        return Err(ModuleError::value(
            "service_status",
            format!(
                "item {}: the upstream certificate {upstream_id} is not issued (it is {}); \
                 a certificate can be reissued only after issuance. Run sync_item, wait for issuance, then reissue",
                job.item_id,
                state_of(&view).map(status_name).unwrap_or("in an unknown state")
            ),
        ));
    }
    let data = CertificateOrderData::load(job.db, &job.key, job.item_id)?;
    // The SAN list before: BILLmanager's `old_altname` when it keeps one,
    // else what the upstream certificate was issued for.
    let before_names = if data.params.contains_key(OLD_ALTNAME_PARAM) {
        &data.old_altnames
    } else {
        &view.altnames
    };
    let choice = choose(
        Some(data.csr.as_str()),
        view.csr.as_deref(),
        &data.altnames,
        before_names,
    );
    if let ReissueKind::AltName { altnames } = &choice {
        // Already ordered: a tariff we cannot link, or a period that is not
        // whole months (a trial's terms are the same tariff's), only loses
        // the early check; the upstream still validates the reissue.
        let months = job.item.period.months();
        match (upstream_tariff(job), months) {
            (Ok(upstream), Some(m)) => {
                if let Some(terms) = cached_terms(job, upstream, OrderPeriod::Months(m))? {
                    check_names(&terms, &data.cn, altnames)?;
                }
            }
            (Err(e), _) => log::info!("SAN list not checked against the catalog: {e}"),
            (Ok(_), None) => log::info!(
                "SAN list not checked against the catalog: the service's period is {}",
                job.item.period
            ),
        }
        check_paid_slots(job, &data.cn, altnames)?;
    }
    let mut intent = Intent::new(IntentOp::Reopen, generation, attempt, job.ro, now_unix());
    intent.upstream_id = Some(upstream_id);
    intent.crt_type = Some(wire::crt_type(&choice).to_string());
    intent.before.crt_digest = view.crt.as_deref().map(digest);
    job.save_intent(&intent)?;
    log::info!(
        "item {}: reissuing upstream {upstream_id} with crt_type={} (generation {generation}, try {attempt})",
        job.item_id,
        wire::crt_type(&choice)
    );
    let request = reissue_request(&data, upstream_id, choice);
    let sent = job.client()?.certificate_reissue(&request);
    match sent {
        Ok(()) => {
            let applied = intent.with_phase(Phase::Applied);
            job.save_intent(&applied)?;
            finish(job, applied)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// Sub-status "requested", `service.postreopen`, intent done.
fn finish(job: &mut Job, intent: Intent) -> Result<()> {
    set_status(job, ServiceStatus::Requested)?;
    let crt_type = intent.crt_type.clone().unwrap_or_default();
    let upstream_id = intent.upstream_id;
    // Done (read back) before the report: a rerun of this operation after a
    // failed report finishes locally instead of reissuing again.
    job.save_intent(&intent.with_phase(Phase::Done))?;
    if job.operation_still_open()? {
        job.mgrctl.postreopen(job.item_id)?;
    }
    log::info!(
        "item {}: reissue requested upstream (crt_type={crt_type})",
        job.item_id
    );
    if let Some(upstream_id) = upstream_id {
        super::validation::refresh_after_reissue(job, upstream_id);
    }
    Ok(())
}
