//! `pmsslreseller reconcile --module N [--json]`: prints the drift report
//! (`commands::drift`) as a table or as JSON, then the upstream's real
//! charges against the ledger (`commands::charges`). Exit 0 when clean, 1
//! when drift was found or the books could not be read. A charge mismatch is
//! shown (every one found so far) and was raised once as a BILLmanager
//! problem; it does not change the exit code: it stays in the books once
//! found, and the daily cron would mail it for ever.

use serde_json::json;

use crate::commands::drift::{report, Report};
use crate::config::Config;
use crate::paths::MgrRoot;

/// Run the admin command; returns the exit code.
pub fn run(root: &MgrRoot, config: &Config, module: u64, as_json: bool) -> i32 {
    crate::logging::set_context(format!("reconcile module={module}"));
    match report(root, config, module) {
        Ok(r) => {
            let charges = crate::commands::charges::reconcile_report(root, module, &r);
            // Each row that could not be read, once in the log too (the
            // table and the JSON show them as well).
            for e in &r.errors {
                log::warn!("reconcile module {module}: could not read: {e}");
            }
            if as_json {
                let v = json!({
                    "module": r.module,
                    "clean": r.is_clean(),
                    "local_services": r.local_services,
                    "upstream_certificates": r.upstream_certificates,
                    "not_ours": r.not_ours,
                    "drift": r.rows,
                    "errors": r.errors,
                    "charges": charges,
                });
                match serde_json::to_string_pretty(&v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("error: cannot print JSON: {e}"),
                }
            } else {
                print!("{}", table(&r));
                for line in &charges.mismatches {
                    println!("charges: {line}");
                }
                if let Some(line) = &charges.latest {
                    println!("charges: {line}");
                }
            }
            if !charges.mismatches.is_empty() {
                log::warn!(
                    "reconcile module {module}: {} charge mismatch(es)",
                    charges.mismatches.len()
                );
            }
            if r.is_clean() {
                log::info!("{}", r.summary());
                0
            } else {
                log::warn!("{}", r.summary());
                1
            }
        }
        Err(e) => {
            log::error!("reconcile module {module} failed: {e}");
            eprintln!("error: {e}");
            1
        }
    }
}

/// The report as a table, then what could not be read, the import hint and
/// the summary line.
fn table(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|r| {
            vec![
                r.kind.label().to_string(),
                r.item.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                r.upstream_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.cn.clone(),
                r.local.clone(),
                r.upstream.clone(),
                r.action.clone(),
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&super::catalog::table(
            &[
                "drift",
                "service",
                "upstream",
                "CN",
                "local",
                "upstream state",
                "what to do",
            ],
            &rows,
        ));
    }
    for e in &r.errors {
        out.push_str(&format!("could not read: {e}\n"));
    }
    if r.not_ours > 0 {
        out.push_str(&format!(
            "{} upstream certificate(s) were not ordered by this module: `pmsslreseller import --module {} --dry-run` shows them\n",
            r.not_ours, r.module
        ));
    }
    out.push_str(&r.summary());
    out.push('\n');
    out
}
