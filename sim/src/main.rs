//! billmgr-sim: stand-ins for BILLmanager in tests and demos.
//!
//! - `billmgr-sim upstream …`: the upstream BILLmanager HTTP API (upstream-api.md §9).
//! - `billmgr-sim mgrctl …`, or this binary called as `mgrctl` (a symlink at
//!   `$MGR5_ROOT/sbin/mgrctl`): the local BILLmanager's `mgrctl`, applying each
//!   call to the test database (module-protocol.md §10.8).
//! - `billmgr-sim mgrctl-core --root R`: the core that applies the calls of
//!   the `mgrctl` stand-in in core mode (`Core on`), started by it on demand.
//! - `billmgr-sim demo`: the module's lifecycle end to end against both
//!   stand-ins (README "Demo").
//! - `billmgr-sim wizard …`: BILLmanager's tariff import wizard, enabling a
//!   tariff and a customer's order, on the test database.

mod demo;
mod mgrctl;
mod upstream;
mod wizard;

/// A subcommand's options as clap parses them for program name `prog`;
/// `Err` is the exit code once clap has printed its help (0) or its error (2).
fn parse_args<A: clap::Parser>(prog: &str, args: Vec<String>) -> Result<A, i32> {
    A::try_parse_from(std::iter::once(prog.to_string()).chain(args)).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            2
        } else {
            0
        }
    })
}

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = if invoked_as == "mgrctl" {
        mgrctl::main(&argv[0], argv[1..].to_vec())
    } else {
        match argv.get(1).map(String::as_str) {
            Some("upstream") => upstream::main(argv[2..].to_vec()),
            Some("mgrctl") => mgrctl::main(&argv[0], argv[2..].to_vec()),
            Some("mgrctl-core") => mgrctl::server::main(argv[2..].to_vec()),
            Some("demo") => demo::main(argv[2..].to_vec()),
            Some("wizard") => wizard::main(argv[2..].to_vec()),
            _ => {
                eprintln!(
                    "usage:\n  billmgr-sim upstream --listen 127.0.0.1:PORT [--state FILE] [--catalog FILE] …\n  \
                     billmgr-sim mgrctl -m billmgr [-o xml] FUNC key=value …   (or symlink this binary as mgrctl)\n  \
                     billmgr-sim mgrctl-core --root R [--stop]   (the mgrctl stand-in's core, for `Core on`)\n  \
                     billmgr-sim demo [--keep]   (the module end to end on this machine)\n  \
                     billmgr-sim wizard import|enable|order …   (BILLmanager's tariff import wizard and a customer order)\n\
                     run a subcommand with --help for its options"
                );
                2
            }
        }
    };
    std::process::exit(code);
}
