//! `pmsslreseller files --item N --out DIR` (the customer's certificate
//! files) and `pmsslreseller deploy --item N` (the deploy hook by hand):
//! both print what `commands::deploy` did.

use std::path::Path;

use crate::commands::deploy;
use crate::commands::Ctx;

pub fn files(ctx: &Ctx, item: u64, out: &Path) -> i32 {
    match deploy::files_for(ctx, item, out) {
        Ok(w) => {
            for (name, path) in &w.files {
                println!("{name}: {}", path.display());
            }
            for (name, why) in &w.missing {
                println!("{name}: not written: {why}");
            }
            println!("the private key is never written by this command");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

pub fn run(ctx: &Ctx, item: u64) -> i32 {
    match deploy::by_hand(ctx, item) {
        Ok(a) => {
            for (name, why) in &a.missing {
                println!("{name}: not given to the hook: {why}");
            }
            println!("item {item}: attempt {}: {}", a.attempt, a.form);
            i32::from(!a.ended.ok())
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
