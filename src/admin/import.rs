//! `pmsslreseller import --module N [--dry-run] [--id UPSTREAM_ID]
//! [--account LOCAL_ACCOUNT]`: the service import for an admin, with a table
//! of what was (or would be) linked or skipped, and why. Exit 1 when any
//! certificate failed, a local service could not be read, or the run could
//! not start.

use crate::commands::import_service::{import, ImportOptions};
use crate::config::Config;
use crate::paths::MgrRoot;

pub fn run(root: &MgrRoot, config: &Config, module: u64, opts: &ImportOptions) -> i32 {
    crate::logging::set_context(format!("import module={module}"));
    match import(root, config, module, opts) {
        Ok(report) => {
            print!("{}", report.table());
            log::info!("{}", report.summary());
            i32::from(report.failed() + report.unreadable.len() > 0)
        }
        Err(e) => {
            log::error!("import module {module} failed: {e}");
            eprintln!("error: {e}");
            1
        }
    }
}
