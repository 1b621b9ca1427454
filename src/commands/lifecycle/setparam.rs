//! `setparam --item N --runningoperation R`: BILLmanager changed the
//! service's parameters (module-protocol.md §6.3; evidence-2026-12 "setparam
//! is run whether or not it is advertised", ISP-CODE N3).
//!
//! Nothing of a certificate's parameters has to follow upstream: the names,
//! CSR and contacts were used when it was ordered, and a reissue (`reopen`)
//! is what sends new ones. So a plain change finishes with
//! `service.postsetparam` and calls nothing upstream: no money moves.
//!
//! A change of tariff (`item.lastpricelist` set) cannot be followed: an
//! upstream certificate keeps the product it was bought as. It is refused,
//! and rolled back with `service.changepricelist.rollback` as ISPsystem's
//! framework does (L-MOD Run()), with an error that tells the admin what to
//! do instead. BILLmanager's rerun then finds no pending change and finishes.

use crate::protocol::error::{ModuleError, Result};

use super::job::Job;

pub fn run(job: &mut Job) -> Result<()> {
    if let Some(previous) = job.item.lastpricelist {
        return Err(refuse_tariff_change(job, previous));
    }
    if !job.operation_still_open()? {
        log::info!(
            "item {}: the setparam operation was already finished by another run",
            job.item_id
        );
        return Ok(());
    }
    job.mgrctl.postsetparam(job.item_id)?;
    log::info!(
        "item {}: parameters changed; nothing to change upstream",
        job.item_id
    );
    Ok(())
}

/// Roll the tariff back and say what the admin can do instead.
fn refuse_tariff_change(job: &mut Job, previous: u64) -> ModuleError {
    let item = job.item_id;
    let wanted = job.item.pricelist;
    let rolled_back = match job.mgrctl.changepricelist_rollback(item) {
        Ok(()) => "The change was rolled back: the service keeps its tariff".to_string(),
        Err(e) => format!(
            "Rolling it back failed ({e}): set the service's tariff back to {previous} by hand"
        ),
    };
    ModuleError::value(
        "pricelist",
        format!(
            "item {item}: a certificate cannot change its tariff (from {previous} to {wanted}): the upstream \
             certificate keeps the product it was bought as. {rolled_back}. To give the customer the other \
             certificate, order a new service with that tariff and close this one when it is no longer needed"
        ),
    )
    .with_param("value", wanted.to_string())
}
