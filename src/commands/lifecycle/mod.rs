//! The certificate lifecycle: open, sync_item, prolong, reopen, suspend,
//! resume, close, setparam, and the approver list — safe under retries and crashes.
//!
//! One file per command, each reading like the step it implements. Shared
//! pieces: the intent record and its state machine (`intent`), the
//! reconciliation strategy for lost answers (`reconcile`),
//! the upstream → local status table (`status`), the reissue-kind choice
//! (`reissue_kind`), failure reporting and retry caps (`failure`),
//! maintenance mode (`maintenance`).

pub mod approver;
pub mod auto;
pub mod books;
pub mod close;
pub mod failure;
pub mod intent;
pub mod job;
pub mod maintenance;
pub mod open;
pub mod prolong;
pub mod reconcile;
pub mod reissue_kind;
pub mod renewal_watch;
pub mod reopen;
pub mod report;
pub mod send_dv;
pub mod setparam;
pub mod status_map;
pub mod suspend;
pub mod sync_item;
pub mod tariff;
pub mod term;
pub mod validation;

use crate::billing::{Db, Mgrctl};
use crate::commands::Ctx;
use crate::protocol::args::ServiceOp;
use crate::protocol::error::{ModuleError, Result};

use failure::{report_failure, FailureSite};
use std::time::Duration;

use job::{Job, JobSpec};

/// Run one lifecycle command on one item: maintenance check, lock, the
/// command, and on failure the running-operation report (failure.rs).
pub fn execute(op: ServiceOp, item: u64, ro: Option<u64>, ctx: &Ctx) -> Result<Option<String>> {
    if op.paused_by_maintenance() && maintenance::active(&ctx.root) {
        log::info!(
            "maintenance mode ({} exists): {} item {item} does nothing now; BILLmanager reruns it later",
            ctx.root.do_nothing_flag().display(),
            op.name()
        );
        return Ok(None);
    }
    let mgrctl = Mgrctl::configured(&ctx.root, &ctx.config);
    let mut site = FailureSite {
        op,
        item,
        ro,
        module: None,
    };
    let mut db = match Db::connect(&mgrctl) {
        Ok(db) => db,
        Err(e) => {
            report_failure(&mgrctl, None, &site, &e, &ctx.config.lifecycle);
            return Err(e);
        }
    };
    let spec = JobSpec {
        op,
        item_id: item,
        ro,
        lock_wait: Duration::from_secs(ctx.config.lifecycle.lock_wait_secs),
        shared: None,
    };
    let result = match Job::start(ctx, spec, &mgrctl, &mut db) {
        Ok(mut job) => {
            site.module = job.item.processingmodule;
            run_op(&mut job, op)
        }
        Err(e) => Err(e),
    };
    // The deploy hook, after the pass and outside the item lock (the job
    // is over): never part of the sync's own outcome.
    if op == ServiceOp::SyncItem && result.is_ok() {
        crate::commands::deploy::run_pending(ctx, &mgrctl, &mut db, &[item]);
    }
    match result {
        Ok(()) => Ok(None),
        Err(e) => {
            report_failure(&mgrctl, Some(&mut db), &site, &e, &ctx.config.lifecycle);
            Err(e)
        }
    }
}

/// After a panic (a bug) in a lifecycle command inside running operation
/// `ro`: record the error on it as any failure is (failure.rs), so it shows
/// in the operation's history and the retry cap applies. What the crashed
/// run had is gone, so this connects afresh; every failure here is only
/// logged (and a panic in it caught): the caller answers the error anyway.
pub fn report_bug(op: ServiceOp, item: u64, ro: u64, ctx: &Ctx, error: &ModuleError) {
    let reported = crate::panic_net::catch(|| {
        let mgrctl = Mgrctl::configured(&ctx.root, &ctx.config);
        let mut db = match Db::connect(&mgrctl) {
            Ok(db) => Some(db),
            Err(e) => {
                log::error!("running operation {ro}: the retry cap is not applied: {e}");
                None
            }
        };
        let site = FailureSite {
            op,
            item,
            ro: Some(ro),
            module: None,
        };
        report_failure(&mgrctl, db.as_mut(), &site, error, &ctx.config.lifecycle);
    });
    if let Err(what) = reported {
        log::error!("running operation {ro}: recording the error failed too: {what}");
    }
}

/// The command itself, on a started job.
pub fn run_op(job: &mut Job, op: ServiceOp) -> Result<()> {
    match op {
        ServiceOp::Open => open::run(job),
        ServiceOp::SyncItem => sync_item::run(job),
        ServiceOp::Prolong => prolong::run(job),
        ServiceOp::Reopen => reopen::run(job),
        ServiceOp::Suspend => suspend::run(job, suspend::Direction::Suspend),
        ServiceOp::Resume => suspend::run(job, suspend::Direction::Resume),
        ServiceOp::Close => close::run(job),
        ServiceOp::SetParam => setparam::run(job),
        ServiceOp::SendDvEmail => send_dv::send_email(job),
        ServiceOp::SendDvDns => send_dv::send_dns(job),
    }
}
