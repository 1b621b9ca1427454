//! The commands BILLmanager runs: each joins the protocol front, the local
//! billing and the upstream client into one lifecycle step.

pub mod catalog_refresh;
pub mod check_connection;
pub mod import_pricelist;
pub mod lifecycle;

use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::args::{Args, Command};
use crate::protocol::error::{ModuleError, Result};
use crate::protocol::features;

/// Everything a command may need, prepared once per process. Nothing here
/// touches the network or the database: commands open those themselves, only
/// when they need them (start-up stays tiny).
pub struct Ctx {
    pub root: MgrRoot,
    pub config: Config,
    pub args: Args,
}

/// Commands this build really implements: the one source for `features` and
/// for the `not_supported` answer. A name here is a promise.
pub const IMPLEMENTED: &[&str] = &[
    "features",
    "check_connection",
    "import_pricelist",
    "approver",
    "open",
    "sync_item",
    "prolong",
    "reopen",
    "suspend",
    "resume",
    "close",
];

/// Implemented, but advertised only when the config asks for it: their
/// answer format is a guess (P-U2, module-protocol.md §18). They still answer
/// when called.
pub const OPT_IN: &[&str] = &["import_pricelist"];

/// Names printed as `<feature>` by default: everything implemented but
/// `features` itself and the opt-in commands.
pub fn advertised_features() -> Vec<&'static str> {
    IMPLEMENTED
        .iter()
        .copied()
        .filter(|n| *n != "features" && !OPT_IN.contains(n))
        .collect()
}

/// Features to print for this configuration: the default ones, plus
/// `import_pricelist` when `[catalog] advertise_import_pricelist` is on.
pub fn advertised_features_for(config: &Config) -> Vec<&'static str> {
    let mut names = advertised_features();
    if config.catalog.advertise_import_pricelist {
        names.push("import_pricelist");
    }
    names
}

pub fn is_implemented(cmd: &Command) -> bool {
    IMPLEMENTED.contains(&cmd.name())
}

/// Run one command. `Ok(Some(doc))` is printed on stdout.
pub fn execute(cmd: &Command, ctx: &Ctx) -> Result<Option<String>> {
    if !is_implemented(cmd) {
        return Err(ModuleError::not_supported(cmd.name()));
    }
    match cmd {
        // Templates come from the catalog caches only: no network, no DB.
        Command::Features => Ok(Some(features::document(
            &advertised_features_for(&ctx.config),
            crate::catalog::templates::feature_templates(&ctx.root),
        ))),
        Command::ImportPricelist {
            module,
            subcommand,
            id,
        } => import_pricelist::run(ctx, *module, subcommand, *id),
        Command::CheckConnection => check_connection::run(ctx),
        Command::Approver {
            domains, intname, ..
        } => lifecycle::approver::run(domains, intname.as_deref()).map(Some),
        Command::Service {
            op,
            item,
            runningoperation,
        } => lifecycle::execute(*op, *item, *runningoperation, ctx),
        other => Err(ModuleError::not_supported(other.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unimplemented_is_not_supported() {
        let ctx = Ctx {
            root: MgrRoot::new("/nonexistent"),
            config: Config::default(),
            args: Args::default(),
        };
        let e = execute(&Command::Other("reboot".into()), &ctx).unwrap_err();
        assert_eq!(e.kind.type_name(), "not_supported");
    }

    #[test]
    fn import_pricelist_advertised_only_when_configured() {
        let mut config = Config::default();
        assert!(!advertised_features_for(&config).contains(&"import_pricelist"));
        assert!(is_implemented(&Command::ImportPricelist {
            module: 1,
            subcommand: "available".into(),
            id: None
        }));
        config.catalog.advertise_import_pricelist = true;
        assert!(advertised_features_for(&config).contains(&"import_pricelist"));
    }

    #[test]
    fn check_connection_is_advertised() {
        assert!(advertised_features().contains(&"check_connection"));
        let doc = features::document(&advertised_features(), Vec::new());
        assert!(
            doc.contains("<feature name=\"check_connection\"/>"),
            "{doc}"
        );
    }

    #[test]
    fn lifecycle_commands_are_advertised_setparam_is_not() {
        let f = advertised_features();
        for op in crate::protocol::args::ServiceOp::ALL {
            if *op != crate::protocol::args::ServiceOp::SetParam {
                assert!(f.contains(&op.name()), "{}", op.name());
            }
        }
        assert!(f.contains(&"approver"));
        assert!(!f.contains(&"setparam"));
    }
}
