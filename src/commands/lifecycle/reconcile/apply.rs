//! Applying an upstream view to the local item (sync_item, open, prolong,
//! the bulk sync): the facts first, the sub-status last, each written only
//! where it differs.

use crate::billing::Mgrctl;
use crate::commands::deploy;
use crate::commands::lifecycle::job::{set_status, Job};
use crate::commands::lifecycle::renewal_watch;
use crate::commands::lifecycle::report::report_first_issue;
use crate::commands::lifecycle::status_map::{
    local_status, map_upstream, ServiceStatus, UpstreamState,
};
use crate::commands::lifecycle::term::first_term_end;
use crate::commands::lifecycle::validation::apply_validation;
use crate::config::OpenConvention;
use crate::protocol::error::Result;
use crate::upstream::CertView;
use crate::vocab::item_params::NEW_CERTIFICATE_PARAM;
use crate::vocab::item_params::SERVICE_STATUS_PARAM;
use crate::vocab::item_params::UPSTREAM_EXPIRY_PARAM;

/// What one sync pass changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The sub-status after the pass (None: upstream state not mappable).
    pub status: Option<ServiceStatus>,
    /// Local writes made.
    pub writes: u32,
}

/// One pass for an ordered item: read upstream, apply.
pub fn sync_once(job: &mut Job, upstream_id: u64) -> Result<SyncOutcome> {
    let view = job.client()?.certificate_view(upstream_id)?;
    apply_view(job, &view)
}

/// Apply an upstream view to the local item, writing only what differs:
/// the facts first ([`apply_facts`]), the sub-status last
/// ([`commit_status`]).
pub fn apply_view(job: &mut Job, view: &CertView) -> Result<SyncOutcome> {
    let applied = apply_facts(job, view)?;
    commit_status(job, applied)
}

/// What [`apply_facts`] wrote, and the sub-status still to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The sub-status the upstream state maps to (None: not mappable).
    pub target: Option<ServiceStatus>,
    /// Local writes made so far.
    pub writes: u32,
    /// The certificate is issued for the first time (not a reissue).
    pub first_issue: bool,
}

/// Everything an upstream view changes except the sub-status: the
/// certificate, the upstream's expiry, the paid term of a new service, the
/// "failed" mark, the validation data (validation.rs). The sub-status is what the bulk sync reads to decide that
/// an item is up to date, so it is written only after every other fact is
/// stored ([`commit_status`]): a run killed in between leaves an item the
/// next round still reads and finishes.
pub fn apply_facts(job: &mut Job, view: &CertView) -> Result<Applied> {
    let target = map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    });
    let current = local_status(job.param(SERVICE_STATUS_PARAM));
    let mut applied = Applied {
        target,
        writes: 0,
        first_issue: false,
    };
    let Some(target) = target else {
        log::warn!(
            "item {}: upstream state service_status={:?} item_status={:?} is not mapped; local state kept",
            job.item_id,
            view.service_status,
            view.item_status
        );
        applied.writes += apply_validation(job, view, None)?;
        return Ok(applied);
    };
    let mgrctl: &Mgrctl = job.mgrctl;
    match target {
        ServiceStatus::Issued => {
            let crt = view.crt.as_deref().unwrap_or_default();
            let local_crt = job.db.certificate(job.item_id)?.and_then(|c| c.crt);
            // The first issuance, not a reissue: no certificate here yet, or
            // this very one already saved by a pass that stopped before its
            // report. A reissued certificate replaces a different one.
            // The same certificate in any shape it comes in (PEM, base64 ZIP),
            // so an unchanged one is never saved again.
            let saved = crate::issued::same(local_crt.as_deref(), crt);
            applied.first_issue = local_crt.as_deref().is_none_or(|l| l.trim().is_empty()) || saved;
            if !saved {
                // The deploy hook's marker first (commands/deploy/): a run
                // killed after the save still deploys this certificate.
                deploy::note_new_certificate(&job.ctx.root, &job.ctx.config, job.item_id, crt);
                // As given, never rebuilt: a ZIP keeps its `crt_type`.
                mgrctl.certificate_save(job.item_id, crt, crate::issued::crt_type(crt))?;
                applied.writes += 1;
                if !applied.first_issue {
                    applied.writes += tell_new_certificate(job, local_crt.as_deref(), crt)?;
                }
            }
            // The upstream's own expiry is recorded, never copied onto the
            // local paid term: on a per-certificate upstream
            // it is the certificate's end, long before the term the customer
            // paid for.
            if let Some(up) = view.expiredate {
                let shown = up.to_string();
                if job.param(UPSTREAM_EXPIRY_PARAM) != Some(shown.as_str()) {
                    renewal_watch::warn_if_unasked(job, view.id, up);
                    job.save_param(UPSTREAM_EXPIRY_PARAM, &shown)?;
                    applied.writes += 1;
                }
            }
            // The paid term of a new service: open date + ordered period.
            // A period that is not whole months (a trial, lifetime, daily:
            // `vocab::period`) gives no paid term to compute: the local
            // expiry is left as BILLmanager keeps it.
            if job.item.expiredate.is_none() {
                match job.item.period.months() {
                    Some(months) => {
                        let opened = job.item.opendate.unwrap_or_else(crate::clock::today);
                        let end = first_term_end(opened, months);
                        mgrctl.setexpiredate(job.item_id, end)?;
                        job.item.expiredate = Some(end);
                        applied.writes += 1;
                    }
                    None => log::info!(
                        "item {}: its period is {}: no paid term is computed from it; the local expiry \
                         stays as BILLmanager keeps it",
                        job.item_id,
                        job.item.period
                    ),
                }
            }
        }
        // Reported once: a failure already stored is an unchanged fact.
        ServiceStatus::Failed if current != Some(ServiceStatus::Failed) => {
            mgrctl.certificate_failed(job.item_id)?;
            applied.writes += 1;
            log::warn!(
                "item {}: the upstream reports the certificate as failed: {}",
                job.item_id,
                view.status_msg.as_deref().unwrap_or("no reason given")
            );
        }
        // Already failed, or in work: only the sub-status (commit_status).
        _ => {}
    }
    // What the customer must do for the CA, or did (validation.rs).
    applied.writes += apply_validation(job, view, Some(target))?;
    Ok(applied)
}

/// The last write of a pass: the sub-status the upstream shows, and for a
/// first issuance its report (P-U3).
pub fn commit_status(job: &mut Job, applied: Applied) -> Result<SyncOutcome> {
    let Applied {
        target,
        mut writes,
        first_issue,
    } = applied;
    let Some(target) = target else {
        return Ok(SyncOutcome {
            status: None,
            writes,
        });
    };
    let current = local_status(job.param(SERVICE_STATUS_PARAM));
    if current != Some(target) {
        // Only the first issuance is reported (module-protocol.md §12.5:
        // `certificate.open` "on first issuance" in BM5 style), not each
        // reissue of the paid term. Before the sub-status: once that says
        // "issued" no pass reports again, so a report that failed (or a run
        // killed in between) would be lost for good; this way the next pass
        // reports it, at worst twice after a kill between the two.
        if target == ServiceStatus::Issued && first_issue {
            let convention: OpenConvention = job.ctx.config.lifecycle.open_convention;
            report_first_issue(job.mgrctl, job.item_id, convention)?;
        }
        set_status(job, target)?;
        writes += 1;
    }
    Ok(SyncOutcome {
        status: Some(target),
        writes,
    })
}

/// A reissued certificate replaced `old`: the form tells the customer to
/// install the new one before the old one ends, until it is deployed
/// (commands/deploy/ empties it). BILLmanager's own notification of the
/// saved certificate is its template on `certificate.save` (field-2026-12.md
/// §8); the module sends none. One write, or none when a date is unreadable.
fn tell_new_certificate(job: &mut Job, old: Option<&str>, new: &str) -> Result<u32> {
    let old_end = old
        .and_then(|o| crate::issued::leaf_facts(o).ok())
        .map(|f| f.not_after);
    let Some(old_end) = old_end else {
        return Ok(0);
    };
    let issued = crate::issued::leaf_facts(new)
        .map(|f| f.not_before)
        .unwrap_or_else(|_| crate::clock::today());
    let text = deploy::text::new_certificate(job.ctx.config.form.language, issued, old_end);
    if job.param(NEW_CERTIFICATE_PARAM) == Some(text.as_str()) {
        return Ok(0);
    }
    job.save_param(NEW_CERTIFICATE_PARAM, &text)?;
    log::info!(
        "item {}: a reissued certificate is saved; the service form says: {text}",
        job.item_id
    );
    Ok(1)
}
