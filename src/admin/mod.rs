//! The admin command line: subcommands for a human at a terminal (or a cron
//! job), separate from BILLmanager's `--command` calls.

pub mod balance;
pub mod books;
pub mod catalog;
pub mod deploy;
pub mod import;
pub mod reconcile;
pub mod report;
pub mod sync;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::paths::MgrRoot;
use crate::secret::MIN_GUARDED_LEN;

#[derive(Debug, Parser)]
#[command(
    name = "pmsslreseller",
    version,
    // The bare name on a terminal: the whole usage, not a one-line error.
    arg_required_else_help = true,
    about = "BILLmanager processing module reselling SSL certificates from an upstream BILLmanager",
    after_help = "BILLmanager itself runs this binary as `pmsslreseller --command <name> [--item N …]`.\n\
                  The commands above are for administrators. MGR5_ROOT selects the BILLmanager root \
                  (default /usr/local/mgr5)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Check etc/pmsslreseller.toml (keys and values), print the effective
    /// settings as TOML; exit 1 on any problem.
    Config,
    /// Bring every certificate of a processing module up to date with the
    /// upstream (one list call, per-item reads only where something changed).
    /// For cron, e.g. every 15 minutes.
    Sync {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: u64,
        /// Only list what would be reissued, renewed or reported, and why;
        /// change nothing (no local writes, nothing sent upstream).
        #[arg(long)]
        dry_run: bool,
    },
    /// The upstream account balance of a processing module (default: every
    /// active pmsslreseller module), as `--command getbalance` reports it.
    Balance {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: Option<u64>,
    },
    /// Link certificates that already exist at the upstream to new local
    /// services (nothing is ordered or paid). Safe to run again.
    Import {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: u64,
        /// Only show what would be linked or skipped.
        #[arg(long)]
        dry_run: bool,
        /// Only this upstream certificate id.
        #[arg(long = "id")]
        upstream_id: Option<u64>,
        /// Local account (client) id that gets the services.
        #[arg(long)]
        account: Option<u64>,
    },
    /// The drift report: local services and upstream certificates side by
    /// side, each disagreement with what to do. Changes nothing. Exit 0 when
    /// clean, 1 when drift is found.
    Reconcile {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: u64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The reseller's books: sales and margin, services that lose money,
    /// what falls due (from the module's ledger; changes nothing).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Write a service's certificate files as issued (leaf.pem, chain.pem,
    /// fullchain.pem, certificate.p7b; never the private key) into a
    /// directory, for sending to the customer. Existing files are not
    /// overwritten.
    Files {
        /// Service (item) id.
        #[arg(long)]
        item: u64,
        /// Directory to write into (made when missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Run the deploy hook (`[deploy] command`) now for a service's current
    /// certificate, whatever earlier attempts did. Exit 1 when it fails.
    Deploy {
        /// Service (item) id.
        #[arg(long)]
        item: u64,
    },
    /// The upstream's certificate tariffs: refresh the cache, show it.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Local prices derived from upstream costs by `[pricing]`.
    #[command(subcommand)]
    Pricing(catalog::PricingCommand),
    /// The reseller's ledger of upstream money (var/pmsslreseller/books.sqlite).
    #[command(subcommand)]
    Books(books::BooksCommand),
}

/// Open the module log for an admin command; a log that cannot be written is
/// worth a warning on the terminal (the command itself still runs).
pub(crate) fn open_log(root: &MgrRoot, config: &Config) {
    if let Err(why) = crate::logging::init(root, &config.log.level) {
        eprintln!("warning: {why}");
    }
    // Every admin command that opens the log may call the upstream.
    crate::commands::credential_health::install(root, config);
}

/// Run a catalog or pricing command with the config loaded and the module
/// log open (a refresh is worth a line in `var/pmsslreseller.log`).
fn with_config(root: &MgrRoot, run: impl FnOnce(&Config) -> i32) -> i32 {
    match Config::load(&root.config_file()) {
        Ok(config) => {
            open_log(root, &config);
            run(&config)
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// [`with_config`] with a command context, for subcommands that call
/// `commands/` functions taking one.
fn with_ctx(root: &MgrRoot, run: impl FnOnce(&crate::commands::Ctx) -> i32) -> i32 {
    with_config(root, |config| {
        let ctx = crate::commands::Ctx {
            root: root.clone(),
            config: config.clone(),
            args: crate::protocol::args::Args::default(),
            argv: Vec::new(),
        };
        run(&ctx)
    })
}

/// The names of the admin subcommands (`config`, `sync`, …, `help`): an
/// argv naming one of them and no `--command` is an admin's, whatever
/// option comes first.
pub fn is_subcommand_name(word: &str) -> bool {
    use clap::CommandFactory;
    word == "help"
        || Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == word)
}

/// Run the admin CLI; returns the exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    // Nothing is read or written under a root that is not there.
    let root = match MgrRoot::from_env_checked() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", e.message);
            return 1;
        }
    };
    crate::panic_net::install();
    let name = cli.command.name();
    // A panic (a bug) is one error line and exit 1, like any other error;
    // the hook logged where it happened.
    match crate::panic_net::catch(|| {
        crate::panic_net::test_point(name);
        dispatch(cli.command, &root)
    }) {
        Ok(code) => code,
        Err(what) => {
            eprintln!("error: {}", crate::panic_net::bug_error(&what).message);
            1
        }
    }
}

impl AdminCommand {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            AdminCommand::Config => "config",
            AdminCommand::Sync { .. } => "sync",
            AdminCommand::Balance { .. } => "balance",
            AdminCommand::Import { .. } => "import",
            AdminCommand::Reconcile { .. } => "reconcile",
            AdminCommand::Report(_) => "report",
            AdminCommand::Files { .. } => "files",
            AdminCommand::Deploy { .. } => "deploy",
            AdminCommand::Catalog(_) => "catalog",
            AdminCommand::Pricing(_) => "pricing",
            AdminCommand::Books(_) => "books",
        }
    }
}

fn dispatch(command: AdminCommand, root: &MgrRoot) -> i32 {
    match command {
        AdminCommand::Sync { module, dry_run } => sync::run(root, module, dry_run),
        AdminCommand::Balance { module } => {
            with_config(root, |config| balance::run(root, config, module))
        }
        AdminCommand::Import {
            module,
            dry_run,
            upstream_id,
            account,
        } => with_config(root, |config| {
            let opts = crate::commands::import_service::ImportOptions {
                dry_run,
                upstream_id,
                account,
                search: None,
            };
            import::run(root, config, module, &opts)
        }),
        AdminCommand::Reconcile { module, json } => {
            with_config(root, |config| reconcile::run(root, config, module, json))
        }
        AdminCommand::Report(r) => with_config(root, |config| report::run(root, config, r)),
        AdminCommand::Files { item, out } => with_ctx(root, |ctx| deploy::files(ctx, item, &out)),
        AdminCommand::Deploy { item } => with_ctx(root, |ctx| {
            crate::logging::set_context(format!("deploy item={item}"));
            deploy::run(ctx, item)
        }),
        AdminCommand::Catalog(c) => {
            with_config(root, |config| catalog::run_catalog(root, config, c))
        }
        AdminCommand::Pricing(p) => {
            with_config(root, |config| catalog::run_pricing(root, config, p))
        }
        AdminCommand::Books(b) => with_config(root, |config| books::run(root, config, b)),
        AdminCommand::Config => show_config(root),
    }
}

/// `pmsslreseller config`: where things are, the effective settings as TOML,
/// and every problem of the file, not only the first (exit 1 when there is one).
fn show_config(root: &MgrRoot) -> i32 {
    let path = root.config_file();
    // Every problem of the file at once: the keys it cannot take (left at
    // their defaults below), then the values and combinations.
    let (config, mut problems) = match Config::load_report(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    println!("BILLmanager root: {}", root.root().display());
    println!(
        "config file:      {} ({})",
        path.display(),
        if path.exists() {
            "found"
        } else {
            "absent, defaults used"
        }
    );
    println!("log file:         {}", root.log_file().display());
    if let Some(level) = crate::logging::level_from_debug_conf(&root.debug_conf()) {
        println!(
            "log level:        {} (from {}, which wins over [log] level)",
            level.as_str().to_ascii_lowercase(),
            root.debug_conf().display()
        );
    }
    println!();
    if problems.is_empty() {
        println!("# Effective settings (defaults included), as written in the file:");
    } else {
        println!(
            "# Effective settings (defaults included; a key of unknown name or wrong type is \
             left out, its default shown), as written in the file:"
        );
    }
    print!("{}", config.to_toml());
    problems.extend(config.value_problems());
    problems.extend(config.safety_problems());
    println!();
    match crate::commands::module::short_password_modules(root, &config) {
        Ok(short) if short.is_empty() => {
            println!("upstream passwords: none shorter than {MIN_GUARDED_LEN} characters")
        }
        Ok(short) => {
            for id in short {
                eprintln!(
                    "warning: {}",
                    crate::commands::module::short_password_warning(id)
                );
            }
        }
        Err(e) => println!("upstream passwords: not checked ({})", e.message),
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    if problems.is_empty() {
        0
    } else {
        eprintln!(
            "{} problem(s) in {}: BILLmanager's calls fail until they are fixed",
            problems.len(),
            path.display()
        );
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--help` of every subcommand describes every option.
    #[test]
    fn every_option_has_a_description() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "pmsslreseller", &mut missing);
        assert!(
            missing.is_empty(),
            "options without a description: {missing:?}"
        );
    }

    #[test]
    fn each_subcommand_knows_its_name() {
        for argv in [
            &["config"][..],
            &["sync", "--module", "1"],
            &["balance"],
            &["import", "--module", "1"],
            &["reconcile", "--module", "1"],
            &["report", "sales", "--module", "1", "--csv"],
            &["report", "due", "--module", "1", "--days", "7"],
            &["catalog", "show"],
            &["pricing", "preview", "--module", "1"],
            &["books", "backfill", "--module", "1"],
        ] {
            let cli =
                Cli::try_parse_from(std::iter::once("pmsslreseller").chain(argv.iter().copied()))
                    .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(cli.command.name(), argv[0]);
        }
    }

    #[test]
    fn subcommand_names_are_known() {
        for w in ["config", "sync", "reconcile", "catalog", "pricing", "help"] {
            assert!(is_subcommand_name(w), "{w}");
        }
        assert!(!is_subcommand_name("open"));
        assert!(!is_subcommand_name("--module"));
    }
}
