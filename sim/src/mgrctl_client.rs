//! `billmgr-sim-mgrctl`: the `mgrctl` stand-in as a small program, for a test root in core mode
//! (`TestMgr::with_core` links `$MGR5_ROOT/sbin/mgrctl` to it).
//!
//! A module pays a process per `mgrctl` call (~32,500 in a 10,000-certificate bulk sync), and in
//! core mode that process only hands the call to the running core. As part of `billmgr-sim` it
//! still started the whole stand-in (upstream simulator, TLS, MariaDB driver: 6 MB of code), and
//! those starts were the largest share of the sync's CPU; this program holds the client alone
//! (`mgrctl/wire.rs` and `mgrctl/client.rs`, compiled here without the rest).
//!
//! Without `Core on`, or when the root cannot be told, it becomes `billmgr-sim mgrctl` (the
//! `billmgr-sim` beside it, by `exec`: same pid and process group), so every answer of direct
//! mode, errors included, comes from the one implementation.

#[path = "mgrctl/client.rs"]
mod client;
// Shared with billmgr-sim, which uses all of it (the core's side included).
#[allow(dead_code)]
#[path = "mgrctl/wire.rs"]
mod wire;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use wire::{Answer, SimError};

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = argv.get(1..).unwrap_or_default();
    let code = match sibling("billmgr-sim") {
        Ok(sim) => run(argv.first().map(String::as_str).unwrap_or(""), args, sim),
        Err(e) => Answer::failure(&e).print(),
    };
    std::process::exit(code);
}

fn run(argv0: &str, args: &[String], sim: PathBuf) -> i32 {
    let root = wire::find_root(argv0);
    if let Ok(root) = &root {
        if wire::core_on(root) {
            return client::main(root, args, &sim);
        }
    }
    let mut direct = Command::new(&sim);
    direct.arg("mgrctl").args(args);
    if let Ok(root) = &root {
        // Found from our own argv[0], which `billmgr-sim` will not see.
        direct.env("MGR5_ROOT", root);
    }
    let e = direct.exec();
    Answer::failure(&SimError::new(
        "core",
        "billmgr-sim",
        format!("cannot run {} mgrctl: {e}", sim.display()),
    ))
    .print()
}

/// `name` in this program's directory (both are built into the same target directory).
fn sibling(name: &str) -> Result<PathBuf, SimError> {
    let me = std::env::current_exe().map_err(|e| {
        SimError::new(
            "core",
            "billmgr-sim",
            format!("cannot tell where I am: {e}"),
        )
    })?;
    let path = me.with_file_name(name);
    if !path.exists() {
        return Err(SimError::new(
            "core",
            "billmgr-sim",
            format!(
                "{} is missing beside {} (build both: cargo build --workspace --bins)",
                path.display(),
                me.display()
            ),
        ));
    }
    Ok(path)
}
