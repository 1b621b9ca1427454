//! `suspend` / `resume --item N --runningoperation R`.
//!
//! A CA cannot suspend a certificate, and ISPsystem's SSL modules do nothing
//! upstream (module-protocol.md §12.5). Local by default; with the module
//! setting `mirror_suspend` on, the upstream service is suspended/resumed too
//! (BILLmanager's own reseller module does this when the upstream account may,
//! peers.md). Either way the operation finishes with `service.postsuspend` /
//! `service.postresume`.

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{ApiErrorClass, UpstreamError};

use super::job::Job;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Suspend,
    Resume,
}

pub fn run(job: &mut Job, direction: Direction) -> Result<()> {
    if job.settings.mirror_suspend {
        if let Some(upstream_id) = job.upstream_id()? {
            let client = job.client()?;
            let sent = match direction {
                Direction::Suspend => client.certificate_suspend(upstream_id),
                Direction::Resume => client.certificate_resume(upstream_id),
            };
            if let Err(e) = sent {
                return Err(explain(e, direction));
            }
            log::info!(
                "item {}: upstream {upstream_id} {}",
                job.item_id,
                match direction {
                    Direction::Suspend => "suspended",
                    Direction::Resume => "resumed",
                }
            );
        }
    }
    if job.operation_still_open()? {
        match direction {
            Direction::Suspend => job.mgrctl.postsuspend(job.item_id)?,
            Direction::Resume => job.mgrctl.postresume(job.item_id)?,
        }
    }
    Ok(())
}

fn explain(e: UpstreamError, direction: Direction) -> ModuleError {
    if let UpstreamError::Api(api) = &e {
        if api.class() == ApiErrorClass::Access {
            let what = match direction {
                Direction::Suspend => "suspend",
                Direction::Resume => "resume",
            };
            return ModuleError::new(
                ErrorKind::UpstreamAccess,
                format!(
                    "the upstream account may not {what} certificates; allow it upstream, \
                     or switch off 'mirror suspend' in the processing module settings so {what} stays local"
                ),
            )
            .with_object(api.func.clone());
        }
    }
    ModuleError::from(e)
}
