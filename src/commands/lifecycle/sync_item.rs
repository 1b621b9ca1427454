//! `sync_item --item N`: bring the local certificate up to date with the
//! upstream one (module-protocol.md §13).
//!
//! The pass is `auto::sync_and_keep_valid`, shared with the bulk sync: one
//! upstream read → the state mapped (status_map.rs) → the facts written where
//! they differ (reconcile/apply.rs `apply_facts`: on issue the certificate,
//! `certificate.save`, and the paid term of a new service,
//! `service.setexpiredate`; on failure `certificate.failed`) → the service
//! form → the sub-status last (`commit_status`). Idempotent and cheap: every
//! write is skipped when the local value is already right, so a sync of an
//! unchanged certificate writes nothing.
//!
//! Then the paid term's next step (auto.rs): the certificate's facts and the
//! next planned action on the item, and a free reissue (or, on a
//! per-certificate upstream, a paid renewal) when the certificate ends
//! before the paid term does.

use crate::protocol::error::Result;
use crate::vocab::ItemStatus;

use super::auto::sync_and_keep_valid;
use super::job::Job;
use super::status_map::status_name;

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
    let (outcome, looked) = sync_and_keep_valid(job, upstream_id, false)?;
    log::info!(
        "item {} synced from upstream {upstream_id}: {} ({} local writes); next: {}",
        job.item_id,
        outcome.status.map(status_name).unwrap_or("unmapped"),
        outcome.writes,
        looked.text
    );
    Ok(())
}
