//! `pmsslreseller balance [--module N]`: the upstream balance of one module,
//! or of every active pmsslreseller module, read with `whoami` exactly as
//! `--command getbalance` reads it. Shows the figures; reports nothing to
//! BILLmanager. Exit 1 when any module failed.

use crate::commands::getbalance::read_balances;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::vocab::MODULE_NAME;

pub fn run(root: &MgrRoot, config: &Config, module: Option<u64>) -> i32 {
    let results = match read_balances(root, config, module) {
        Ok((_, r)) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if results.is_empty() {
        println!("no active {MODULE_NAME} module");
        return 0;
    }
    let mut failed = false;
    for (id, result) in results {
        match result {
            Ok(b) => println!("{}", b.line()),
            Err(e) => {
                failed = true;
                eprintln!("module {id}: error: {e}");
            }
        }
    }
    i32::from(failed)
}
