//! `pmsslreseller sync --module N`: the cron fallback of `sync_item`
//! (module-protocol.md §13, P-U4) for every certificate of one processing
//! module.
//!
//! ONE upstream list call, then a per-item read only where the list row or
//! the local state says something may have changed: certificates not yet
//! issued (or not yet synced at all), an upstream expiry that differs from
//! the local one, a row whose status contradicts the local one, a row that
//! vanished. Each such item goes through the same code as `sync_item`, under
//! its lock (a busy item is skipped, the next run takes it). Progress on a
//! terminal, a one-line summary always; exit 1 when any item failed. When
//! the books still disagree afterwards, one warn line in the log: the drift
//! report's summary, from the same list (`admin::reconcile`).
//!
//! Each item read also gets the paid term's next step (lifecycle/auto.rs):
//! a free reissue or a paid renewal when its certificate ends within
//! `[lifecycle] reissue_before_days` while the paid term goes on; an issued
//! certificate is read for that even when its list row is unchanged.
//! `--dry-run` reads and plans the same way, prints one line per due item
//! (what and why), and writes and sends nothing.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::NaiveDate;

use crate::billing::ItemStatus;
use crate::commands::lifecycle::auto::sync_and_keep_valid;
use crate::commands::lifecycle::job::{Job, JobSpec, SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};
use crate::commands::lifecycle::maintenance;
use crate::commands::lifecycle::status::{list_row_is_active, local_status, ServiceStatus};
use crate::commands::lifecycle::term::{shown_cert_end, UPSTREAM_EXPIRY_PARAM};
use crate::commands::module::{connect, open_module, OpenModule};
use crate::commands::Ctx;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::args::{Args, ServiceOp};
use crate::protocol::error::{ErrorKind, Result};
use crate::upstream::{is_possible_id, CertSummary};

/// Counters printed in the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub certificates: usize,
    pub not_ordered: usize,
    pub read: usize,
    pub updated: usize,
    pub busy: usize,
    pub errors: usize,
    /// Reissues or renewals due now (sent, or listed by a dry run).
    pub due: usize,
}

impl Summary {
    pub fn line(&self, module: u64) -> String {
        format!(
            "sync module {module}: {} certificates, {} not ordered yet, {} read upstream, {} updated, {} busy, {} errors, {} reissues/renewals due",
            self.certificates, self.not_ordered, self.read, self.updated, self.busy, self.errors, self.due
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
/// item still showing the form of before issue 15 is unknown too, so one
/// read rewrites it.)
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

/// Run the bulk sync; returns the exit code.
pub fn run(root: &MgrRoot, module: u64, dry_run: bool) -> i32 {
    let config = match Config::load(&root.config_file()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    super::open_log(root, &config);
    crate::logging::set_context(format!("sync module={module}"));
    if maintenance::active(root) {
        println!(
            "sync module {module}: maintenance mode ({} exists), nothing done",
            root.do_nothing_flag().display()
        );
        return 0;
    }
    let ctx = Ctx {
        root: root.clone(),
        config,
        args: Args::default(),
        argv: Vec::new(),
    };
    match sync_module(&ctx, module, dry_run) {
        Ok(summary) => {
            let line = if dry_run {
                format!("dry run, nothing changed: {}", summary.line(module))
            } else {
                summary.line(module)
            };
            println!("{line}");
            log::info!("{line}");
            i32::from(summary.errors > 0)
        }
        Err(e) => {
            log::error!("sync module {module} failed: {e}");
            eprintln!("error: {e}");
            1
        }
    }
}

pub fn sync_module(ctx: &Ctx, module: u64, dry_run: bool) -> Result<Summary> {
    let OpenModule {
        mgrctl,
        mut db,
        key,
        settings,
    } = open_module(&ctx.root, &ctx.config, module)?;
    let client = connect(&settings, &ctx.config)?;
    let list = client.certificate_list()?;
    let rows: BTreeMap<u64, CertSummary> = list.iter().map(|r| (r.id, r.clone())).collect();
    let items: Vec<_> = db
        .module_items(module)?
        .into_iter()
        .filter(|i| i.itemtype_intname == crate::commands::lifecycle::job::ITEMTYPE)
        .filter(|i| ItemStatus::from_db(i.status) != ItemStatus::Deleted)
        .collect();
    let progress = std::io::stderr().is_terminal();
    let mut summary = Summary {
        certificates: items.len(),
        ..Summary::default()
    };
    for (n, item) in items.iter().enumerate() {
        if progress {
            eprint!("\r[{}/{}] item {}        ", n + 1, items.len(), item.id);
            let _ = std::io::stderr().flush();
        }
        let params = match db.item_params(item.id, &key) {
            Ok(p) => p,
            Err(e) => {
                log::error!("item {}: cannot read params: {e}", item.id);
                summary.errors += 1;
                continue;
            }
        };
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
        if !needs_read(local, seen_expiry, due, rows.get(&upstream_id)) {
            continue;
        }
        let spec = JobSpec {
            op: ServiceOp::SyncItem,
            item_id: item.id,
            ro: None,
            lock_wait: Duration::ZERO,
            shared_client: Some(&client),
        };
        let outcome = Job::start(ctx, spec, &mgrctl, &mut db).and_then(|mut job| {
            summary.read += 1;
            sync_and_keep_valid(&mut job, upstream_id, dry_run)
        });
        match outcome {
            Ok((o, looked)) => {
                if o.writes > 0 || looked.sent {
                    summary.updated += 1;
                }
                if looked.due.is_some() {
                    summary.due += 1;
                    if dry_run {
                        println!(
                            "item {} (upstream {upstream_id}): would do {}",
                            item.id, looked.text
                        );
                    } else {
                        log::info!("item {} (upstream {upstream_id}): {}", item.id, looked.text);
                    }
                }
            }
            Err(e) if e.kind == ErrorKind::Locked => summary.busy += 1,
            Err(e) => {
                log::error!("item {}: sync failed: {e}", item.id);
                if progress {
                    eprintln!("\ritem {}: {e}", item.id);
                }
                summary.errors += 1;
            }
        }
    }
    if progress {
        eprint!("\r{:60}\r", "");
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
    use super::reconcile::{classify, gather, Depth};
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
