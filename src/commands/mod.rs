//! The commands BILLmanager runs: each joins the protocol front, the local
//! billing and the upstream client into one lifecycle step.

pub mod check_connection;
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
    "approver",
    "open",
    "sync_item",
    "prolong",
    "reopen",
    "suspend",
    "resume",
    "close",
];

/// Names printed as `<feature>`: everything implemented but `features` itself.
pub fn advertised_features() -> Vec<&'static str> {
    IMPLEMENTED
        .iter()
        .copied()
        .filter(|n| *n != "features")
        .collect()
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
        Command::Features => Ok(Some(features::document(&advertised_features(), Vec::new()))),
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
    fn check_connection_is_advertised() {
        assert!(advertised_features().contains(&"check_connection"));
        let doc = features::document(&advertised_features(), Vec::new());
        assert!(
            doc.contains("<feature name=\"check_connection\"/>"),
            "{doc}"
        );
    }
}
