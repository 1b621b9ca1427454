//! pmsslreseller: a BILLmanager service processing module that resells SSL
//! certificates bought from an upstream BILLmanager.
//!
//! Layers, outside in (the map and its rules: docs/ARCHITECTURE.md):
//! - [`protocol`]: what BILLmanager sees: argv, `features`, error XML.
//! - [`admin`]: the command line for administrators; it parses and prints.
//! - [`commands`]: one lifecycle step per BILLmanager command, and the
//!   engines the admin commands run.
//! - [`billing`], [`upstream`], [`catalog`], [`pricing`]: the local
//!   BILLmanager, the upstream's API, the upstream's tariffs, the prices.
//! - [`books`]: the reseller's own ledger of upstream money (SQLite).
//! - [`config`], [`paths`], [`lock`], [`logging`], [`hardening`]: shared plumbing.
//! - [`vocab`], [`quote`], [`secret`], [`clock`]: leaves every layer uses.
//! - [`panic_net`]: a bug that panics still answers (error XML, exit 1).

pub mod admin;
pub mod baseline;
pub mod billing;
pub mod books;
pub mod catalog;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dns;
pub mod hardening;
pub mod issued;
pub mod lock;
pub mod logging;
pub mod panic_net;
pub mod paths;
pub mod pricing;
pub mod protocol;
pub mod quote;
pub mod secret;
pub mod upstream;
pub mod vocab;
pub mod x509;
pub mod xmltree;

use std::io::{IsTerminal, Write};

use config::Config;
use paths::MgrRoot;
use protocol::args::{Args, Command};
use protocol::error::ModuleError;

/// Decide who is calling: BILLmanager (`--command …`, or any leading option)
/// or an admin (a subcommand). Returns the process exit code.
pub fn run(argv: Vec<String>) -> i32 {
    panic_net::install();
    let rest: Vec<String> = argv.iter().skip(1).cloned().collect();
    let terminal = std::io::stdin().is_terminal() || std::io::stdout().is_terminal();
    if billmanager_style(&rest, terminal) {
        run_billmanager(rest)
    } else {
        admin::run(argv)
    }
}

/// Whether `rest` (argv without the program name) is a BILLmanager call.
/// `terminal`: stdin or stdout is a terminal. BILLmanager always passes
/// `--command` and runs us on pipes, so no arguments at all on a terminal
/// is an admin who typed the bare name (`pmsslreseller | less` included):
/// they get the usage, not an error document.
fn billmanager_style(rest: &[String], terminal: bool) -> bool {
    // An admin who puts an option before the subcommand (`--module 1 sync`)
    // still means the admin CLI.
    let names_command = rest
        .iter()
        .any(|a| a == "--command" || a == "-c" || a.starts_with("--command="));
    match rest.first().map(String::as_str) {
        None => !terminal,
        Some("-h" | "--help" | "-V" | "--version") => false,
        Some(a) => {
            a.starts_with('-')
                && (names_command || !rest.iter().any(|w| admin::is_subcommand_name(w)))
        }
    }
}

fn print_stdout(doc: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(doc.as_bytes());
    let _ = out.flush();
}

fn fail(e: &ModuleError) -> i32 {
    log::error!("{e}");
    print_stdout(&e.to_document());
    e.exit_code()
}

/// One BILLmanager call: parse, set up logging, run the command, answer.
/// A panic in the command (a bug) is answered too: `internal` error XML,
/// exit 1, recorded on the running operation of a lifecycle command.
pub fn run_billmanager(argv: Vec<String>) -> i32 {
    panic_net::install();
    // A root that does not exist gets an error answer and nothing else: no
    // directory, no log file.
    let root = match MgrRoot::from_env_checked() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let parsed = Args::parse(argv.clone());
    let (config, config_error) = match Config::load(&root.config_file()) {
        Ok(c) => (c, None),
        Err(e) => (Config::default(), Some(e)),
    };
    // No log is not fatal: BILLmanager reads the answer on stdout.
    let _ = logging::init(&root, &config.log.level);
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            log::error!("bad command line {}", logging::argv_text(&argv));
            return fail(&e);
        }
    };
    let command = match Command::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            // A command we do not answer is not a malformed command line.
            if e.kind != protocol::error::ErrorKind::NotSupported {
                log::error!("bad command line {}", logging::argv_text(&argv));
            }
            return fail(&e);
        }
    };
    logging::set_context(context_tag(&command, &args));
    log::debug!("argv {}", logging::argv_text(&argv));
    if !args.unknown.is_empty() {
        log::warn!("ignoring unknown options {:?}", args.unknown);
    }
    if let Some(e) = config_error {
        return fail(&e);
    }
    commands::credential_health::install(&root, &config);
    let ctx = commands::Ctx {
        root,
        config,
        args,
        argv,
    };
    match panic_net::catch(|| commands::execute(&command, &ctx)) {
        Ok(Ok(Some(doc))) => {
            print_stdout(&doc);
            0
        }
        Ok(Ok(None)) => 0,
        Ok(Err(e)) => fail(&e),
        Err(what) => {
            let e = panic_net::bug_error(&what);
            if let Command::Service {
                op,
                item,
                runningoperation: Some(ro),
            } = &command
            {
                commands::lifecycle::report_bug(*op, *item, *ro, &ctx, &e);
            }
            fail(&e)
        }
    }
}

fn context_tag(command: &Command, args: &Args) -> String {
    let mut tag = command.name().to_string();
    if let Some(i) = args.item {
        tag.push_str(&format!(" item={i}"));
    }
    if let Some(m) = args.module {
        tag.push_str(&format!(" module={m}"));
    }
    if let Some(r) = args.runningoperation {
        tag.push_str(&format!(" ro={r}"));
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::billmanager_style;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn no_arguments_on_a_terminal_is_an_admin() {
        assert!(!billmanager_style(&[], true));
        // On pipes (as BILLmanager runs us) it stays a BILLmanager call.
        assert!(billmanager_style(&[], false));
    }

    #[test]
    fn command_options_are_billmanagers_subcommands_the_admins() {
        for terminal in [true, false] {
            assert!(billmanager_style(
                &argv(&["--command", "features"]),
                terminal
            ));
            assert!(billmanager_style(
                &argv(&["-c", "open", "--item", "5"]),
                terminal
            ));
            assert!(!billmanager_style(
                &argv(&["sync", "--module", "1"]),
                terminal
            ));
            assert!(!billmanager_style(
                &argv(&["--module", "1", "sync"]),
                terminal
            ));
            assert!(!billmanager_style(&argv(&["--help"]), terminal));
        }
    }
}
