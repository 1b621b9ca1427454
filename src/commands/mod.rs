//! The commands BILLmanager runs: each joins the protocol front, the local
//! billing and the upstream client into one lifecycle step.

pub mod books_backfill;
pub mod bulk_sync;
pub mod catalog_refresh;
pub mod charges;
pub mod check_connection;
pub mod credential_health;
pub mod deploy;
pub mod drift;
pub mod getbalance;
pub mod import_capture;
pub mod import_pending;
pub mod import_pricelist;
pub mod import_service;
pub mod lifecycle;
pub mod module;
pub mod price_watch;
pub mod report;

use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::args::{Advertised, Args, Command, Verb};
use crate::protocol::error::Result;
use crate::protocol::features;

/// Everything a command may need, prepared once per process. Nothing here
/// touches the network or the database: commands open those themselves, only
/// when they need them (start-up stays tiny).
pub struct Ctx {
    pub root: MgrRoot,
    pub config: Config,
    pub args: Args,
    /// The command line as BILLmanager passed it (without the program
    /// name), parsed once into `args`; kept for commands that log it.
    pub argv: Vec<String>,
}

/// Names printed as `<feature>` by default: every command of the one
/// vocabulary ([`Verb::ALL`]) marked [`Advertised::Always`].
pub fn advertised_features() -> Vec<&'static str> {
    features_where(|a| a == Advertised::Always)
}

/// Features to print for this configuration: the default ones, plus the
/// configurable ones (`import_pricelist`) unless `[catalog] advertise_import_pricelist` is off,
/// and `send_dv_dns` when `[validation] dns_check_func` is set.
pub fn advertised_features_for(config: &Config) -> Vec<&'static str> {
    let opt_in = config.catalog.advertise_import_pricelist;
    let dns = config.validation.dns_check_func.is_some();
    features_where(|a| match a {
        Advertised::Always => true,
        Advertised::WhenConfigured => opt_in,
        Advertised::WithDnsCheckFunc => dns,
        Advertised::Never => false,
    })
}

fn features_where(listed: impl Fn(Advertised) -> bool) -> Vec<&'static str> {
    Verb::ALL
        .iter()
        .filter(|v| listed(v.advertised()))
        .map(|v| v.name())
        .collect()
}

/// Run one command. `Ok(Some(doc))` is printed on stdout. Every [`Command`]
/// is answered here: one that is not implemented never parses (its name
/// answers `not_supported` in [`Command::from_args`]).
pub fn execute(cmd: &Command, ctx: &Ctx) -> Result<Option<String>> {
    // A lifecycle command's test panic is in `Job::start`, once it holds
    // the module's settings.
    if !matches!(cmd, Command::Service { .. }) {
        crate::panic_net::test_point(cmd.name());
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
        Command::GetBalance { module } => getbalance::run(ctx, *module),
        Command::ImportService {
            module,
            itemtype,
            searchstring,
        } => {
            import_service::run_command(ctx, *module, itemtype.as_deref(), searchstring.as_deref())
        }
        Command::Approver {
            domains, intname, ..
        } => lifecycle::approver::run(domains, intname.as_deref()).map(Some),
        Command::Service {
            op,
            item,
            runningoperation,
        } => lifecycle::execute(*op, *item, *runningoperation, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::args::ServiceOp;

    #[test]
    fn import_pricelist_advertised_only_when_configured() {
        let mut config = Config::default();
        assert!(advertised_features_for(&config).contains(&"import_pricelist"));
        config.catalog.advertise_import_pricelist = false;
        assert!(!advertised_features_for(&config).contains(&"import_pricelist"));
        assert_eq!(
            Verb::from_name("import_pricelist"),
            Some(Verb::ImportPricelist)
        );
        config.catalog.advertise_import_pricelist = true;
        assert!(advertised_features_for(&config).contains(&"import_pricelist"));
    }

    #[test]
    fn send_dv_dns_is_advertised_only_with_its_upstream_function() {
        let mut config = Config::default();
        let f = advertised_features_for(&config);
        assert!(f.contains(&"send_dv_email"));
        assert!(!f.contains(&"send_dv_dns"));
        config.validation.dns_check_func = Some("certificate.dcv.check".into());
        assert!(advertised_features_for(&config).contains(&"send_dv_dns"));
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
    fn every_lifecycle_command_is_advertised_features_itself_is_not() {
        let f = advertised_features();
        for op in ServiceOp::ALL {
            if *op == ServiceOp::SendDvDns {
                continue;
            }
            assert!(f.contains(&op.name()), "{}", op.name());
        }
        assert!(f.contains(&"approver"));
        assert!(!f.contains(&"features"));
    }
}
