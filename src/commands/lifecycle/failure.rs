//! What a failed lifecycle run leaves behind (module-protocol.md §11.3).
//!
//! The error goes into the running operation (`runningoperation.edit
//! errorxml=…`), so the admin sees it in the operation's error history. When
//! the operation has been tried `max_tries` times (10; `prolong` refused by
//! the upstream 1, because a renewal moves money) and no task exists yet, it is switched to manual
//! (`runningoperation.setmanual`) and an admin task is opened
//! (`task.gettype` + `task.edit`), as ISPsystem's modules do — except for a
//! refused login while the module's credential problem is registered
//! (`commands::credential_health`): that one problem is the admin's task,
//! and the operation goes through by itself once the login works. The
//! caller then prints the error XML and exits 1.

use crate::billing::{Db, Mgrctl};
use crate::config::LifecycleConfig;
use crate::protocol::args::ServiceOp;
use crate::protocol::error::{ErrorKind, ModuleError};

use super::intent::{effective, now_unix, Intent, Phase};

use crate::commands::credential_health::problem_raised as credential_problem_raised;
use crate::vocab::item_params::INTENT_PARAM;
use crate::vocab::item_params::UPSTREAM_ID_PARAM;

/// Tries allowed for `command` before manual handling.
pub fn max_tries(op: ServiceOp, cfg: &LifecycleConfig) -> u32 {
    let n = match op {
        ServiceOp::Prolong => cfg.prolong_max_tries,
        _ => cfg.max_tries,
    };
    n.max(1)
}

/// Errors after which a rerun cannot pay twice and can find out itself what
/// happened: nothing was sent (unreachable, local failure, lock), or the
/// intent stays `Sent` and the next run decides from the upstream (a lost or
/// unreadable answer, an `ok` without effect). A lost renewal
/// answer is settled by the next run, not by an admin.
pub fn rerun_settles(error: &ModuleError) -> bool {
    matches!(
        error.kind,
        ErrorKind::UpstreamOutcomeUnknown
            | ErrorKind::UpstreamTimeout
            | ErrorKind::UpstreamBadResponse
            | ErrorKind::UpstreamUnreachable
            | ErrorKind::Billing
            | ErrorKind::Locked
            | ErrorKind::Waiting
    )
}

/// Tries allowed for `command` failing with `error`: `prolong`'s own cap
/// (1) applies to definite refusals (no money, access, login) only.
pub fn tries_allowed(op: ServiceOp, error: &ModuleError, cfg: &LifecycleConfig) -> u32 {
    if rerun_settles(error) {
        cfg.max_tries.max(1)
    } else {
        max_tries(op, cfg)
    }
}

/// A send whose outcome is unknown is still inside its settle window: only
/// a run after the window can tell from the upstream whether it was applied,
/// so the retry cap waits for it (whatever BILLmanager's rerun pace).
const SETTLE_GRACE_SECS: i64 = 2;

fn settling(db: &mut Db, item: u64, cfg: &LifecycleConfig) -> bool {
    let Ok(Some(raw)) = db.item_param(item, INTENT_PARAM) else {
        return false;
    };
    // Only a send still unsettled holds the cap; `effective` never makes an
    // intent `Sent`, so no other needs the upstream id read.
    let Ok(Some(intent)) = Intent::from_param(Some(&raw)) else {
        return false;
    };
    if intent.phase != Phase::Sent {
        return false;
    }
    // An order intent beside a stored upstream id is over, whatever its
    // phase (intent.rs `effective`): it holds no later operation's cap.
    let ordered = db
        .item_param(item, UPSTREAM_ID_PARAM)
        .ok()
        .flatten()
        .is_some_and(|v| !v.trim().is_empty());
    // The grace covers the time between the run's own "still settling"
    // decision and this report (both in whole seconds).
    effective(Some(intent), ordered).is_some_and(|i| {
        i.phase == Phase::Sent && i.age(now_unix()) <= cfg.settle_secs as i64 + SETTLE_GRACE_SECS
    })
}

/// Errors no rerun can fix: the admin is asked at once instead of after
/// `max_tries` pointless reruns. `Value` is the item's own data the tariff
/// cannot take (a period it does not sell, too many SANs): it stays wrong
/// until someone edits the item.
pub fn needs_admin_now(e: &ModuleError) -> bool {
    matches!(
        e.kind,
        ErrorKind::ManualRequired | ErrorKind::WrongModule | ErrorKind::Value
    )
}

/// What to do about the running operation after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePlan {
    /// `runningoperation.setmanual` + open a task.
    pub switch_to_manual: bool,
}

/// `trycount`: BILLmanager's count of runs of this operation, this one included.
pub fn plan(
    op: ServiceOp,
    error: &ModuleError,
    trycount: u32,
    already_tasked: bool,
    cfg: &LifecycleConfig,
) -> FailurePlan {
    let capped = trycount >= tries_allowed(op, error, cfg) || needs_admin_now(error);
    FailurePlan {
        switch_to_manual: capped && !already_tasked,
    }
}

/// Where a failure happened.
pub struct FailureSite {
    pub op: ServiceOp,
    pub item: u64,
    pub ro: Option<u64>,
    pub module: Option<u64>,
}

/// Record `error` in the running operation and apply the retry cap. Failures
/// of the reporting itself are logged: the original error is what the caller
/// prints and exits with.
pub fn report_failure(
    mgrctl: &Mgrctl,
    db: Option<&mut Db>,
    site: &FailureSite,
    error: &ModuleError,
    cfg: &LifecycleConfig,
) {
    // The error itself is logged once, by the caller that answers with it.
    let Some(ro) = site.ro else { return };
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    if let Err(e) =
        mgrctl.runningoperation_error(ro, &error.running_operation_xml(site.module, &now))
    {
        log::error!("could not write the error into running operation {ro}: {e}");
    }
    let Some(db) = db else { return };
    let trycount = match db.running_operation(ro) {
        Ok(Some(op)) => op.trycount.unwrap_or_else(|problem| {
            // At least this run happened: counted as the first try, so only
            // what stops at the first try (a refused renewal, an error no
            // rerun can fix) is switched to manual now.
            log::warn!(
                "running operation {ro}: runningoperation.trycount {problem} in BILLmanager's database; \
                 counting this run as try 1"
            );
            1
        }),
        Ok(None) => return,
        Err(e) => {
            log::error!("could not read running operation {ro}: {e}");
            return;
        }
    };
    // An open task means an admin already owns this operation (L-MOD: "no
    // task exists yet"). A failed read counts as "no task": a second task is
    // a nuisance, an operation that is never capped can pay again.
    let tasked = db.has_open_task(ro).unwrap_or(false);
    if !needs_admin_now(error) && settling(db, site.item, cfg) {
        log::info!(
            "running operation {ro}: try {trycount}; a send of item {} is inside its settle window, \
             so the retry cap waits: the next run after it tells from the upstream what happened",
            site.item
        );
        return;
    }
    if let Some(m) = site
        .module
        .filter(|m| error.kind == ErrorKind::InvalidLogin && credential_problem_raised(*m))
    {
        log::info!(
            "running operation {ro}: the upstream refused the login; the credential problem of \
             processing module {m} covers it, so the operation stays automatic and goes through \
             once the login works"
        );
        return;
    }
    if !plan(site.op, error, trycount, tasked, cfg).switch_to_manual {
        if tasked {
            log::info!("running operation {ro}: an admin task is already open for it");
        } else {
            // BILLmanager counts this run; a fresh row may still say 0.
            log::info!(
                "running operation {ro}: failed try {} of {}; BILLmanager reruns it",
                trycount.max(1),
                tries_allowed(site.op, error, cfg)
            );
        }
        return;
    }
    if needs_admin_now(error) {
        log::warn!(
            "running operation {ro}: a rerun cannot fix this error; switching to manual and opening a task for an admin"
        );
    } else {
        log::warn!(
            "running operation {ro}: switching to manual after try {trycount} and opening a task for an admin"
        );
    }
    if let Err(e) = mgrctl.runningoperation_setmanual(ro) {
        log::error!("could not switch running operation {ro} to manual: {e}");
    }
    match mgrctl.task_gettype(site.op.name(), site.item) {
        Ok(Some(task_type)) => {
            if let Err(e) = mgrctl.task_edit(site.item, ro, &task_type) {
                log::error!("could not open a task for running operation {ro}: {e}");
            }
        }
        Ok(None) => log::warn!(
            "BILLmanager has no task type for '{}'; no task opened for running operation {ro}",
            site.op.name()
        ),
        Err(e) => log::error!("task.gettype failed for running operation {ro}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> ModuleError {
        ModuleError::new(ErrorKind::UpstreamTimeout, "slow")
    }

    #[test]
    fn default_caps() {
        let cfg = LifecycleConfig::default();
        let refused = ModuleError::new(ErrorKind::NotEnoughMoney, "no money");
        assert_eq!(max_tries(ServiceOp::Open, &cfg), 10);
        assert_eq!(max_tries(ServiceOp::Prolong, &cfg), 1);
        assert!(!plan(ServiceOp::Open, &err(), 9, false, &cfg).switch_to_manual);
        assert!(plan(ServiceOp::Open, &err(), 10, false, &cfg).switch_to_manual);
        assert!(plan(ServiceOp::Prolong, &refused, 1, false, &cfg).switch_to_manual);
        // Never a second task.
        assert!(!plan(ServiceOp::Prolong, &refused, 3, true, &cfg).switch_to_manual);
    }

    #[test]
    fn a_lost_renewal_answer_is_rerun_not_sent_to_an_admin() {
        let cfg = LifecycleConfig::default();
        for kind in [
            ErrorKind::UpstreamOutcomeUnknown,
            ErrorKind::UpstreamTimeout,
        ] {
            let lost = ModuleError::new(kind, "answer lost");
            assert_eq!(tries_allowed(ServiceOp::Prolong, &lost, &cfg), 10);
            assert!(!plan(ServiceOp::Prolong, &lost, 1, false, &cfg).switch_to_manual);
            assert!(plan(ServiceOp::Prolong, &lost, 10, false, &cfg).switch_to_manual);
        }
    }

    #[test]
    fn manual_required_is_immediate() {
        let cfg = LifecycleConfig::default();
        let e = ModuleError::new(ErrorKind::ManualRequired, "two orders upstream");
        assert!(plan(ServiceOp::Open, &e, 1, false, &cfg).switch_to_manual);
    }

    #[test]
    fn bad_item_data_is_immediate() {
        let cfg = LifecycleConfig::default();
        let e = ModuleError::value("period", "tariff 3040 is not sold for 7 months");
        assert!(plan(ServiceOp::Open, &e, 1, false, &cfg).switch_to_manual);
        assert!(!plan(ServiceOp::Open, &e, 1, true, &cfg).switch_to_manual);
    }

    #[test]
    fn zero_cap_means_one() {
        let cfg = LifecycleConfig {
            max_tries: 0,
            ..LifecycleConfig::default()
        };
        assert_eq!(max_tries(ServiceOp::Close, &cfg), 1);
    }
}
