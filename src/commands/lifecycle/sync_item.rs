//! `sync_item --item N`: bring the local certificate up to date with the
//! upstream one (module-protocol.md §13).
//!
//! Read the upstream certificate → map its state (status.rs) → on issue save
//! the certificate (`certificate.save`) and its expiry
//! (`service.setexpiredate`), on failure `certificate.failed`; set the
//! sub-status. Idempotent and cheap: every write is skipped when the local
//! value is already right, so a sync of an unchanged certificate writes
//! nothing.

use crate::billing::{ItemStatus, Mgrctl};
use crate::config::OpenConvention;
use crate::protocol::error::Result;
use crate::upstream::CertView;

use super::job::{Job, SERVICE_STATUS_PARAM};
use super::renewal_watch;
use super::report::report_first_issue;
use super::status::{local_status, map_upstream, status_name, ServiceStatus, UpstreamState};

/// What one sync pass changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The sub-status after the pass (None: upstream state not mappable).
    pub status: Option<ServiceStatus>,
    /// Local writes made.
    pub writes: u32,
}

pub fn run(job: &mut Job) -> Result<()> {
    if ItemStatus::from_db(job.item.status) == ItemStatus::Deleted {
        log::info!("item {} is closed; nothing to sync", job.item_id);
        return Ok(());
    }
    let Some(upstream_id) = job.upstream_id()? else {
        log::info!(
            "item {} is not ordered upstream yet; nothing to sync",
            job.item_id
        );
        return Ok(());
    };
    let outcome = sync_once(job, upstream_id)?;
    log::info!(
        "item {} synced from upstream {upstream_id}: {} ({} local writes)",
        job.item_id,
        outcome.status.map(status_name).unwrap_or("unmapped"),
        outcome.writes
    );
    Ok(())
}

/// One pass for an ordered item: read upstream, apply.
pub fn sync_once(job: &mut Job, upstream_id: u64) -> Result<SyncOutcome> {
    let view = job.client()?.certificate_view(upstream_id)?;
    apply_view(job, &view)
}

/// Apply an upstream view to the local item, writing only what differs.
pub fn apply_view(job: &mut Job, view: &CertView) -> Result<SyncOutcome> {
    let target = map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    });
    let current = local_status(job.param(SERVICE_STATUS_PARAM));
    let mut writes = 0;
    let Some(target) = target else {
        log::warn!(
            "item {}: upstream state service_status={:?} item_status={:?} is not mapped; local state kept",
            job.item_id,
            view.service_status,
            view.item_status
        );
        return Ok(SyncOutcome {
            status: None,
            writes,
        });
    };
    let mgrctl: &Mgrctl = job.mgrctl;
    match target {
        ServiceStatus::Issued => {
            let crt = view.crt.as_deref().unwrap_or_default();
            let local_crt = job.db.certificate(job.item_id)?.and_then(|c| c.crt);
            if !same_pem(local_crt.as_deref(), crt) {
                mgrctl.certificate_save(job.item_id, crt)?;
                writes += 1;
            }
            if let Some(expiry) = view.expiredate {
                if job.item.expiredate != Some(expiry) {
                    renewal_watch::warn_if_unasked(job, view.id, expiry);
                    mgrctl.setexpiredate(job.item_id, expiry)?;
                    job.item.expiredate = Some(expiry);
                    writes += 1;
                }
            }
            if current != Some(ServiceStatus::Issued) {
                set_status(job, ServiceStatus::Issued)?;
                writes += 1;
                let convention: OpenConvention = job.ctx.config.lifecycle.open_convention;
                report_first_issue(job.mgrctl, job.item_id, convention)?;
            }
        }
        ServiceStatus::Failed => {
            if current != Some(ServiceStatus::Failed) {
                mgrctl.certificate_failed(job.item_id)?;
                set_status(job, ServiceStatus::Failed)?;
                writes += 2;
                log::warn!(
                    "item {}: the upstream reports the certificate as failed: {}",
                    job.item_id,
                    view.status_msg.as_deref().unwrap_or("no reason given")
                );
            }
        }
        pending => {
            if current != Some(pending) {
                set_status(job, pending)?;
                writes += 1;
            }
        }
    }
    Ok(SyncOutcome {
        status: Some(target),
        writes,
    })
}

/// `service.setstatus` and our copy of the param.
pub fn set_status(job: &mut Job, status: ServiceStatus) -> Result<()> {
    job.mgrctl.setstatus(job.item_id, status.code())?;
    job.params
        .insert(SERVICE_STATUS_PARAM.to_string(), status.code().to_string());
    Ok(())
}

fn same_pem(local: Option<&str>, upstream: &str) -> bool {
    let norm = |s: &str| -> String { s.split_whitespace().collect() };
    local.is_some_and(|l| norm(l) == norm(upstream))
}
