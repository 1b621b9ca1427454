//! `pmsslreseller books backfill --module N`: give services older than the
//! ledger their estimated rows (commands/books_backfill.rs) and say what was
//! written. Exit 1 when the backfill failed as a whole.

use clap::Subcommand;

use crate::commands::books_backfill::backfill;
use crate::config::Config;
use crate::paths::MgrRoot;

#[derive(Debug, Subcommand)]
pub enum BooksCommand {
    /// Give every linked service of a module without an order or import row
    /// in the ledger one row from what is known (marked estimated; an
    /// imported service its import row at cost 0). Safe to run again.
    Backfill {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: u64,
    },
}

pub fn run(root: &MgrRoot, config: &Config, command: BooksCommand) -> i32 {
    let BooksCommand::Backfill { module } = command;
    match backfill(root, config, module) {
        Ok(done) => {
            for (item, kind) in &done.written {
                println!("service {item}: {} row written", kind.as_str());
            }
            for why in &done.skipped {
                eprintln!("skipped: {why}");
            }
            println!(
                "module {module}: {} row(s) written, {} service(s) already in the ledger, {} skipped",
                done.written.len(),
                done.kept,
                done.skipped.len()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
