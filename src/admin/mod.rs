//! The admin command line: subcommands for a human at a terminal (or a cron
//! job), separate from BILLmanager's `--command` calls.

pub mod balance;
pub mod catalog;
pub mod import;
pub mod sync;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::paths::MgrRoot;

#[derive(Debug, Parser)]
#[command(
    name = "pmsslreseller",
    version,
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
    /// Check etc/pmsslreseller.toml and print the effective settings.
    Config,
    /// Bring every certificate of a processing module up to date with the
    /// upstream (one list call, per-item reads only where something changed).
    /// For cron, e.g. every 15 minutes.
    Sync {
        /// Processing module id (Integration → Processing modules, column Id).
        #[arg(long)]
        module: u64,
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
    /// The upstream's certificate tariffs: refresh the cache, show it.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Local prices derived from upstream costs by `[pricing]`.
    #[command(subcommand)]
    Pricing(catalog::PricingCommand),
}

/// Run a catalog or pricing command with the config loaded and the module
/// log open (a refresh is worth a line in `var/pmsslreseller.log`).
fn with_config(root: &MgrRoot, run: impl FnOnce(&Config) -> i32) -> i32 {
    match Config::load(&root.config_file()) {
        Ok(config) => {
            crate::logging::init(root, &config.log.level);
            run(&config)
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
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
    let root = MgrRoot::from_env();
    match cli.command {
        AdminCommand::Sync { module } => sync::run(&root, module),
        AdminCommand::Balance { module } => {
            with_config(&root, |config| balance::run(&root, config, module))
        }
        AdminCommand::Import {
            module,
            dry_run,
            upstream_id,
            account,
        } => with_config(&root, |config| {
            let opts = crate::commands::import_service::ImportOptions {
                dry_run,
                upstream_id,
                account,
                search: None,
            };
            import::run(&root, config, module, &opts)
        }),
        AdminCommand::Catalog(c) => {
            with_config(&root, |config| catalog::run_catalog(&root, config, c))
        }
        AdminCommand::Pricing(p) => {
            with_config(&root, |config| catalog::run_pricing(&root, config, p))
        }
        AdminCommand::Config => {
            let path = root.config_file();
            match Config::load(&path) {
                Ok(c) => {
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
                    println!("{c:#?}");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
    }
}
