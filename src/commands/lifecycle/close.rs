//! `close --item N --runningoperation R`: delete the certificate upstream,
//! then `service.postclose`.
//!
//! Deleting is idempotent by nature: an upstream "not found" means an earlier
//! run (whose answer was lost) already deleted it, and counts as success.
//! An item whose order answer was lost is looked up first, so its upstream
//! certificate is deleted rather than left paid and forgotten.

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{ApiErrorClass, UpstreamError};

use super::intent::{IntentOp, Phase};
use super::job::Job;
use super::open::settle_lost_order;

pub fn run(job: &mut Job) -> Result<()> {
    let mut upstream_id = job.upstream_id()?;
    if upstream_id.is_none() {
        if let Some(intent) = job.intent()? {
            if intent.op == IntentOp::Open && intent.phase == Phase::Sent {
                upstream_id = settle_lost_order(job, &intent)?;
            }
        }
    }
    match upstream_id {
        Some(id) => delete_upstream(job, id)?,
        None => log::info!(
            "item {}: never ordered upstream; closing locally only",
            job.item_id
        ),
    }
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
