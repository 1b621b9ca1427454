//! Fetching a module's catalog from its upstream: module settings from the
//! local BILLmanager, then `pricelist.export` through the upstream client.

use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// The raw `pricelist.export` (certificate tariffs) of the upstream of
/// processing module `module`.
pub fn export_for_module(_root: &MgrRoot, _config: &Config, module: u64) -> Result<String> {
    Err(ModuleError::new(
        ErrorKind::NotSupported,
        format!(
            "this build cannot fetch from the upstream yet; save the upstream's \
             func=pricelist.export&itemtype=certificate&out=xml answer to a file and run \
             `pmsslreseller catalog refresh --module {module} --from-file FILE`"
        ),
    ))
}
