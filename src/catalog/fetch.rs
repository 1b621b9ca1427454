//! Fetching a module's catalog from its upstream: the module's connection
//! settings from the local BILLmanager (mgrctl paramlist → DB → decrypted
//! password), then `pricelist.export` through the upstream client.

use crate::billing::{CryptKey, Db, Mgrctl};
use crate::config::Config;
use crate::paths::{MgrRoot, MODULE_NAME};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{Client, Connection};

/// The connection of processing module `module`, refusing a module that is
/// not ours (its settings would mean something else).
pub fn connection_for_module(root: &MgrRoot, module: u64) -> Result<Connection> {
    let mgrctl = Mgrctl::new(root);
    let mut db = Db::connect(&mgrctl)?;
    let key = CryptKey::load(root)?;
    let settings = db.module_settings(module, &key)?;
    if settings.module != MODULE_NAME {
        return Err(ModuleError::new(
            ErrorKind::WrongModule,
            format!(
                "processing module {module} ('{}') is a '{}' module, not {MODULE_NAME}",
                settings.name, settings.module
            ),
        )
        .with_object(format!("processing module {module}")));
    }
    Ok(Connection {
        url: settings.url,
        username: settings.username,
        password: settings.password,
    })
}

/// The raw `pricelist.export` (certificate tariffs) of the upstream of
/// processing module `module`.
pub fn export_for_module(root: &MgrRoot, config: &Config, module: u64) -> Result<String> {
    let conn = connection_for_module(root, module)?;
    let client = Client::new(&conn, &config.upstream)?;
    log::info!(
        "fetching pricelist.export of module {module} from {}",
        conn.url
    );
    Ok(client.pricelist_export()?)
}
