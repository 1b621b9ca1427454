//! The bulk sync behind `pmsslreseller sync --module N`: the cron fallback
//! of `sync_item` (module-protocol.md §13, P-U4) for every certificate of
//! one processing module. `admin::sync` prints what it reports.
//!
//! ONE upstream list call, then a per-item read only where the list row or
//! the local state says something may have changed: certificates not yet
//! issued (or not yet synced at all), an upstream expiry that differs from
//! the local one, a row whose status contradicts the local one, a row that
//! vanished. Each such item goes through the same code as `sync_item`, under
//! its lock (a busy item is skipped, the next run takes it), on a pool of
//! workers with a database connection each. An item whose row or params
//! BILLmanager's database holds unreadable values for is left out, logged
//! once with the column, and counted as unreadable: it costs that item only.
//! When the books still disagree afterwards, one warn line in the log: the
//! drift report's summary, from the same list (`commands::drift`).
//!
//! Each item read also gets the paid term's next step (lifecycle/auto.rs):
//! a free reissue or a paid renewal when its certificate ends within
//! `[lifecycle] reissue_before_days` while the paid term goes on; an issued
//! certificate is read for that even when its list row is unchanged. A dry
//! run reads and plans the same way, reports one line per due item (what
//! and why), and writes and sends nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::billing::db::is_database_error;
use crate::billing::{Db, Mgrctl};
use crate::commands::lifecycle::auto::{sync_and_keep_valid, Looked};
use crate::commands::lifecycle::job::{Job, JobSpec, SharedModule};
use crate::commands::lifecycle::maintenance;
use crate::commands::lifecycle::reconcile::SyncOutcome;
use crate::commands::lifecycle::status_map::{list_row_is_active, local_status, ServiceStatus};
use crate::commands::lifecycle::term::shown_cert_end;
use crate::commands::module::{connect, open_module, OpenModule};
use crate::commands::Ctx;
use crate::lock::{lock_within, open_lock_file};
use crate::paths::MgrRoot;
use crate::protocol::args::ServiceOp;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{is_possible_id, CertSummary};
use crate::vocab::item_params::{CERTIFICATE_PARAM, PAID_UNTIL_PARAM, UPSTREAM_EXPIRY_PARAM};
use crate::vocab::item_params::{SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};
use crate::vocab::ItemStatus;

/// Counters printed in the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub certificates: usize,
    pub not_ordered: usize,
    pub read: usize,
    pub updated: usize,
    pub busy: usize,
    pub errors: usize,
    /// Items left out because BILLmanager's database holds a value for them
    /// that cannot be read (each logged with the item and the column).
    pub unreadable: usize,
    /// Reissues or renewals due now (sent, or listed by a dry run).
    pub due: usize,
    /// Wall time of the whole run.
    pub seconds: f64,
}

impl Summary {
    pub fn line(&self, module: u64) -> String {
        format!(
            "sync module {module}: {} certificates, {} not ordered yet, {} read upstream, {} updated, {} busy, {} errors, {} unreadable, {} reissues/renewals due; {:.1} s",
            self.certificates, self.not_ordered, self.read, self.updated, self.busy, self.errors, self.unreadable, self.due, self.seconds
        )
    }
}

/// Does this item need a per-item read? (The "something changed" rule.)
/// `seen_expiry` is the upstream expiry last recorded for the item (else its
/// local expiry); `term_step_due`: its certificate ends within the reissue
/// window while the paid term goes on (from the item params).
pub fn needs_read(
    local: Option<ServiceStatus>,
    seen_expiry: Option<NaiveDate>,
    term_step_due: bool,
    row: Option<&CertSummary>,
) -> bool {
    let Some(row) = row else {
        // Not in the list: deleted upstream, or a list that hides it. Look.
        return true;
    };
    match local {
        None => true,
        Some(ServiceStatus::Issued) => {
            term_step_due
                || row.expiredate != seen_expiry
                || list_row_is_active(row.status) == Some(false)
        }
        Some(ServiceStatus::Failed) => list_row_is_active(row.status) == Some(true),
        Some(_) => true,
    }
}

/// From the item params alone: does the certificate end within the reissue
/// window while the paid term runs past it? (Unknown → read and see; an
/// item still showing the older form, before one param per certificate,
/// is unknown too, so one read rewrites it.)
fn term_step_due(
    params: &BTreeMap<String, String>,
    paid_until: Option<NaiveDate>,
    before_days: u32,
) -> bool {
    let Some(not_after) = shown_cert_end(params) else {
        return true;
    };
    let window_starts = not_after - chrono::Days::new(u64::from(before_days));
    paid_until.is_some_and(|p| p > not_after) && crate::clock::today() >= window_starts
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Maintenance mode (`etc/billmgr.DoNothing` exists): nothing done.
    Maintenance,
    /// Another sync of this module still holds its lock: nothing done.
    Busy,
    /// The run's counts.
    Done(Summary),
}

/// What a run tells its caller while it works, besides the log.
#[derive(Debug)]
pub enum Event<'a> {
    /// This many items need a look.
    Planned(usize),
    /// One more item looked at.
    Looked,
    /// A dry run's line for one item: what it would do, or what holds it.
    DryRun(String),
    /// One item's look failed (logged already).
    Failed(u64, &'a ModuleError),
}

/// Sync every certificate of `module`, telling `on` as it goes.
pub fn run(
    ctx: &Ctx,
    module: u64,
    dry_run: bool,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<Outcome> {
    if maintenance::active(&ctx.root) {
        return Ok(Outcome::Maintenance);
    }
    // One sync of a module at a time: a second cron run while the first
    // still works (a slow upstream, a large module) would read every item
    // again for nothing. A dry run writes nothing and does not take it.
    let _module_lock = if dry_run {
        None
    } else {
        match lock_module(&ctx.root, module)? {
            Some(lock) => Some(lock),
            None => return Ok(Outcome::Busy),
        }
    };
    sync_module(ctx, module, dry_run, on).map(Outcome::Done)
}

/// The module's sync lock (`var/pmsslreseller/locks/sync-module-<id>.lock`),
/// or `None` while another process holds it.
fn lock_module(root: &MgrRoot, module: u64) -> Result<Option<std::fs::File>> {
    let (file, path) = open_lock_file(&root.lock_dir(), &format!("sync-module-{module}.lock"))?;
    match lock_within(&file, Duration::ZERO) {
        Ok(true) => Ok(Some(file)),
        Ok(false) => Ok(None),
        Err(e) => Err(ModuleError::new(
            ErrorKind::Internal,
            format!("cannot lock {}: {e}", path.display()),
        )),
    }
}

fn sync_module(
    ctx: &Ctx,
    module: u64,
    dry_run: bool,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<Summary> {
    let started = Instant::now();
    let OpenModule {
        mgrctl,
        mut db,
        key,
        settings,
    } = open_module(&ctx.root, &ctx.config, module)?;
    let client = connect(&settings, &ctx.config)?;
    let list = client.certificate_list()?;
    let rows: HashMap<u64, &CertSummary> = list.iter().map(|r| (r.id, r)).collect();
    let read = db.module_items(module)?;
    let items: Vec<_> = read
        .items
        .into_iter()
        .filter(|i| i.itemtype_intname == crate::commands::lifecycle::job::ITEMTYPE)
        .filter(|i| ItemStatus::from_db(i.status) != ItemStatus::Deleted)
        .collect();
    let mut params = db.module_item_params(module, DECISION_PARAMS, &key)?;
    let mut summary = Summary {
        certificates: items.len(),
        ..Summary::default()
    };
    // A row that cannot be read costs that item only: logged once, counted,
    // and the rest go on.
    for skipped in &read.skipped {
        log::error!("sync module {module}: skipped: {}", skipped.error);
        summary.unreadable += 1;
    }
    // Decide from the list and the local params alone which items need a
    // look; only those get a job (lock, item read, upstream read).
    let mut work: Vec<Work> = Vec::new();
    for item in &items {
        if let Some(e) = params.unreadable.remove(&item.id) {
            log::error!("sync module {module}: skipped: {e}");
            summary.unreadable += 1;
            continue;
        }
        let params = params.by_item.remove(&item.id).unwrap_or_default();
        let Some(upstream_id) = params
            .get(UPSTREAM_ID_PARAM)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|id| is_possible_id(*id))
        else {
            summary.not_ordered += 1;
            continue;
        };
        let local = local_status(params.get(SERVICE_STATUS_PARAM).map(String::as_str));
        let seen_expiry = params
            .get(UPSTREAM_EXPIRY_PARAM)
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
            .or(item.expiredate);
        let due = term_step_due(
            &params,
            item.expiredate,
            ctx.config.lifecycle.reissue_before_days,
        );
        // The record of the paid term out of step with the item's expiry
        // (BILLmanager or an admin moved it): a look records it (auto.rs).
        let term_unrecorded = item.expiredate.is_some_and(|e| {
            params.get(PAID_UNTIL_PARAM).map(|v| v.trim().to_string()) != Some(e.to_string())
        });
        if term_unrecorded || needs_read(local, seen_expiry, due, rows.get(&upstream_id).copied()) {
            work.push(Work {
                item: item.id,
                upstream_id,
            });
        }
    }
    let shared = SharedModule {
        client: &client,
        key: &key,
        settings: &settings,
    };
    let workers = open_workers(&db, ctx.config.sync.concurrency, work.len());
    on(Event::Planned(work.len()));
    let left = run_pool(ctx, &mgrctl, shared, workers, &work, dry_run, |done| {
        on(Event::Looked);
        summary.add(done, dry_run, on);
    });
    if left > 0 {
        // Every worker lost its database connection and could not open
        // another: one line for the items nobody looked at, not one each.
        log::error!(
            "sync module {module}: {left} items not looked at: no connection to BILLmanager's database \
             (the errors above say why); the next run takes them"
        );
        summary.errors += left;
    }
    // The deploy hook for every new certificate of the module not deployed
    // yet (saved by this run or an earlier one, or failed before): after
    // every look, outside the item locks (commands/deploy/).
    if !dry_run && ctx.config.deploy.on() {
        let ours: std::collections::HashSet<u64> = items.iter().map(|i| i.id).collect();
        let open: Vec<u64> = crate::commands::deploy::open_items(&ctx.root)
            .into_iter()
            .filter(|i| ours.contains(i))
            .collect();
        if !open.is_empty() {
            if !db.alive() {
                db.reconnect()?;
            }
            crate::commands::deploy::run_pending(ctx, &mgrctl, &mut db, &open);
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    // The main connection sat idle for the whole run: a server with a short
    // `wait_timeout` may have closed it.
    if !db.alive() {
        if let Err(e) = db.reconnect() {
            log::warn!("sync module {module}: drift check skipped: {e}");
            return Ok(summary);
        }
    }
    warn_on_drift(
        &mut db,
        &key,
        &client,
        module,
        settings.mirror_suspend,
        &list,
    );
    Ok(summary)
}

/// The item params the "does it need a look" decision reads, for every item
/// of the module at once.
const DECISION_PARAMS: &[&str] = &[
    UPSTREAM_ID_PARAM,
    SERVICE_STATUS_PARAM,
    UPSTREAM_EXPIRY_PARAM,
    CERTIFICATE_PARAM,
    PAID_UNTIL_PARAM,
];

/// One item that needs a look.
struct Work {
    item: u64,
    upstream_id: u64,
}

/// What one item's look came to.
pub struct Done {
    item: u64,
    upstream_id: u64,
    /// The item's job started (locked, read, ours): its upstream read was
    /// made or tried.
    started: bool,
    outcome: Result<(SyncOutcome, Looked)>,
}

impl Summary {
    /// Count one item's look; what is due is printed (dry run) or logged.
    fn add(&mut self, done: Done, dry_run: bool, on: &mut dyn FnMut(Event<'_>)) {
        let Done {
            item,
            upstream_id,
            started,
            outcome,
        } = done;
        if started {
            self.read += 1;
        }
        match outcome {
            Ok((o, looked)) => {
                if o.writes > 0 || looked.sent {
                    self.updated += 1;
                }
                if looked.held && dry_run {
                    // Logged at warn by the look itself.
                    on(Event::DryRun(format!(
                        "item {item} (upstream {upstream_id}): {}",
                        looked.text
                    )));
                }
                if looked.due.is_some() {
                    self.due += 1;
                    if dry_run {
                        on(Event::DryRun(format!(
                            "item {item} (upstream {upstream_id}): would do {}",
                            looked.text
                        )));
                    } else {
                        log::info!("item {item} (upstream {upstream_id}): {}", looked.text);
                    }
                }
            }
            Err(e) if e.kind == ErrorKind::Locked => self.busy += 1,
            Err(e) => {
                log::error!("item {item}: sync failed: {e}");
                on(Event::Failed(item, &e));
                self.errors += 1;
            }
        }
    }
}

/// One database connection per worker: the first is a new one too, so the
/// main connection stays free for the drift check. Fewer workers when the
/// database refuses more connections (logged), at least one.
fn open_workers(db: &Db, concurrency: u32, work: usize) -> Vec<Result<Db>> {
    let n = (concurrency.max(1) as usize).min(work);
    let mut out: Vec<Result<Db>> = Vec::with_capacity(n);
    for i in 0..n {
        match db.another() {
            Ok(d) => out.push(Ok(d)),
            Err(e) if i > 0 => {
                log::warn!(
                    "sync: only {i} of {n} database connections could be opened ({e}); \
                     working with {i} at a time"
                );
                break;
            }
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// Open a new connection when the server dropped this one; `Ok(true)` when
/// it did (logged), `Ok(false)` when the old one still answers.
fn renewed_if_dropped(d: &mut Db) -> Result<bool> {
    if d.alive() {
        return Ok(false);
    }
    d.reconnect()?;
    log::warn!("sync: a database connection was dropped; working on with a new one");
    Ok(true)
}

/// Run every item of `work` on the workers (each with its own database
/// connection; the upstream client, crypt key and module settings shared),
/// handing each finished item to `done` on this thread in completion order.
///
/// A worker whose connection the server dropped (a restart, a `KILL`, a
/// proxy's idle timeout) opens a new one and looks again at the item that
/// found it dead (a drop can come after the check made before the item:
/// that item must not fail for a cause already repaired); one that
/// cannot (or never had one) reports that error for the item it took and
/// stops, leaving the rest to the workers that still can: a dead worker
/// taking items only to fail each at once would turn the rest of the round
/// into errors. Returns how many items no worker took (all of them lost
/// their connection), for the caller to count.
fn run_pool(
    ctx: &Ctx,
    mgrctl: &Mgrctl,
    shared: SharedModule<'_>,
    workers: Vec<Result<Db>>,
    work: &[Work],
    dry_run: bool,
    mut done: impl FnMut(Done),
) -> usize {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Done>();
        for db in workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                let mut db = db;
                // The last look failed: see that the connection still works.
                let mut check = false;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(w) = work.get(i) else { break };
                    let ready = match &mut db {
                        Ok(d) => {
                            if check {
                                renewed_if_dropped(d).map(|_| d)
                            } else {
                                Ok(d)
                            }
                        }
                        Err(e) => Err(e.clone()),
                    };
                    let (started, upstream_id, outcome, stop) = match ready {
                        Ok(d) => {
                            let (mut started, mut id, mut outcome) =
                                look_guarded(ctx, mgrctl, d, shared, w, dry_run);
                            // The kill that dropped this connection may come
                            // after the check above: the item that found it
                            // dead is looked at again on a new one (a look is
                            // a rerun like the next round's) instead of
                            // failing for a cause that was already repaired.
                            if outcome.as_ref().is_err_and(is_database_error)
                                && matches!(renewed_if_dropped(d), Ok(true))
                            {
                                let again = look_guarded(ctx, mgrctl, d, shared, w, dry_run);
                                started |= again.0;
                                (id, outcome) = (again.1, again.2);
                            }
                            (started, id, outcome, false)
                        }
                        // No connection: this item fails with why, and the
                        // rest are left to the workers that still have one.
                        Err(e) => (false, w.upstream_id, Err(e), true),
                    };
                    check = outcome.is_err();
                    let sent = tx.send(Done {
                        item: w.item,
                        upstream_id,
                        started,
                        outcome,
                    });
                    if sent.is_err() || stop {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for d in rx {
            done(d);
        }
    });
    work.len()
        .saturating_sub(next.load(Ordering::Relaxed).min(work.len()))
}

/// [`look`], with a panic in it (a bug) turned into that item's error: the
/// other items go on and the run still ends with its summary line, instead
/// of the whole run stopping without one.
fn look_guarded(
    ctx: &Ctx,
    mgrctl: &Mgrctl,
    db: &mut Db,
    shared: SharedModule<'_>,
    w: &Work,
    dry_run: bool,
) -> (bool, u64, Result<(SyncOutcome, Looked)>) {
    let run = std::panic::AssertUnwindSafe(|| look(ctx, mgrctl, db, shared, w, dry_run));
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        (
            true,
            w.upstream_id,
            Err(ModuleError::internal(format!(
                "item {}: the sync of this item stopped on an internal error ({what}); \
                 please report it with the log",
                w.item
            ))),
        )
    })
}

/// One item's look, under its lock: the same pass as `sync_item`. The
/// flag: the job started (so the upstream read was made or tried); the id:
/// the upstream certificate looked at.
fn look(
    ctx: &Ctx,
    mgrctl: &Mgrctl,
    db: &mut Db,
    shared: SharedModule<'_>,
    w: &Work,
    dry_run: bool,
) -> (bool, u64, Result<(SyncOutcome, Looked)>) {
    let spec = JobSpec {
        op: ServiceOp::SyncItem,
        item_id: w.item,
        ro: None,
        lock_wait: Duration::ZERO,
        shared: Some(shared),
    };
    let mut job = match Job::start(ctx, spec, mgrctl, db) {
        Ok(job) => job,
        Err(e) => return (false, w.upstream_id, Err(e)),
    };
    // The run decided from params read before its first item; this item's
    // job has just read them again under its lock. Work from those, as
    // `sync_item` does: an item closed since is left alone, and one relinked
    // since (an admin setting `pmss_upstream_id`) is synced from its new id,
    // never from the old one (whose certificate the automatic
    // reissue/renewal below would act on and pay for).
    if job.item.item_status() == ItemStatus::Deleted {
        log::info!("item {}: closed since the run started; skipped", w.item);
        return (
            false,
            w.upstream_id,
            Ok((SyncOutcome::default(), Looked::nothing())),
        );
    }
    let upstream_id = match job.upstream_id() {
        Ok(Some(id)) => id,
        Ok(None) => {
            log::info!(
                "item {}: no upstream id any more (was {}); skipped",
                w.item,
                w.upstream_id
            );
            return (
                false,
                w.upstream_id,
                Ok((SyncOutcome::default(), Looked::nothing())),
            );
        }
        Err(e) => return (true, w.upstream_id, Err(e)),
    };
    if upstream_id != w.upstream_id {
        log::warn!(
            "item {}: relinked from upstream {} to {upstream_id} since the run started; syncing {upstream_id}",
            w.item,
            w.upstream_id
        );
    }
    (
        true,
        upstream_id,
        sync_and_keep_valid(&mut job, upstream_id, dry_run),
    )
}

/// One warn line when the books disagree after the sync (the drift report's
/// summary, from the list already read: no further upstream call).
fn warn_on_drift(
    db: &mut crate::billing::Db,
    key: &crate::billing::CryptKey,
    client: &crate::upstream::Client,
    module: u64,
    mirror_suspend: bool,
    list: &[CertSummary],
) {
    use super::drift::{classify, gather, Depth};
    match gather(
        db,
        key,
        client,
        module,
        mirror_suspend,
        Some(list),
        Depth::ListOnly,
    ) {
        Ok(books) => {
            let report = classify(&books);
            if !report.is_clean() {
                log::warn!("{}", report.summary());
            }
        }
        Err(e) => log::warn!("sync module {module}: drift check skipped: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(expiry: Option<&str>, status: &str) -> CertSummary {
        CertSummary {
            id: 1,
            cn: "example.com".into(),
            pricelist: "3033".into(),
            createdate: None,
            expiredate: expiry.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            item_status: Some(status.into()),
            status: status.parse().ok().map(ItemStatus::from_db),
            status_msg: None,
            cost: None,
            remoteid: None,
        }
    }

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn unchanged_issued_certificate_is_not_read() {
        let r = row(Some("2027-01-10"), "2");
        assert!(!needs_read(
            Some(ServiceStatus::Issued),
            d("2027-01-10"),
            false,
            Some(&r)
        ));
        // Unchanged, but its certificate is due for a reissue: read.
        assert!(needs_read(
            Some(ServiceStatus::Issued),
            d("2027-01-10"),
            true,
            Some(&r)
        ));
    }

    #[test]
    fn changes_are_read() {
        let r = row(Some("2028-01-10"), "2");
        assert!(needs_read(
            Some(ServiceStatus::Issued),
            d("2027-01-10"),
            false,
            Some(&r)
        ));
        let r = row(Some("2027-01-10"), "5");
        assert!(needs_read(
            Some(ServiceStatus::Issued),
            d("2027-01-10"),
            false,
            Some(&r)
        ));
        assert!(needs_read(
            Some(ServiceStatus::Issued),
            d("2027-01-10"),
            false,
            None
        ));
    }

    #[test]
    fn pending_and_unsynced_are_read_failed_only_when_active() {
        let r = row(None, "5");
        assert!(needs_read(
            Some(ServiceStatus::Requested),
            None,
            false,
            Some(&r)
        ));
        assert!(needs_read(
            Some(ServiceStatus::Enrolled),
            None,
            false,
            Some(&r)
        ));
        assert!(needs_read(None, None, false, Some(&r)));
        assert!(!needs_read(
            Some(ServiceStatus::Failed),
            None,
            false,
            Some(&r)
        ));
        let r = row(Some("2027-01-10"), "2");
        assert!(needs_read(
            Some(ServiceStatus::Failed),
            None,
            false,
            Some(&r)
        ));
    }
}
