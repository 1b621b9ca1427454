//! One processing module of ours, opened: the local BILLmanager (mgrctl,
//! database, crypt key), the module's settings, the one "is this a
//! pmsslreseller module" check, and its upstream connection. Every command
//! that works on a module goes through here: lifecycle jobs, the bulk sync,
//! the catalog refresh, `getbalance` and `pmsslreseller balance`.

use crate::billing::{CryptKey, Db, Mgrctl, ModuleSettings};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{Client, Connection};
use crate::vocab::MODULE_NAME;

/// A pmsslreseller processing module with the local BILLmanager it lives in.
pub struct OpenModule {
    pub mgrctl: Mgrctl,
    pub db: Db,
    pub key: CryptKey,
    pub settings: ModuleSettings,
}

impl OpenModule {
    pub fn id(&self) -> u64 {
        self.settings.id
    }

    /// The upstream client (no network access yet).
    pub fn client(&self, config: &Config) -> Result<Client> {
        connect(&self.settings, config)
    }
}

/// Open processing module `id`: mgrctl, database, key, settings, refusing a
/// module of another type before reading any of its settings (they would
/// mean something else).
pub fn open_module(root: &MgrRoot, config: &Config, id: u64) -> Result<OpenModule> {
    let mgrctl = Mgrctl::configured(root, config);
    let mut db = Db::connect(&mgrctl)?;
    let key = CryptKey::load(root)?;
    let settings = our_module_settings(&mut db, &key, id)?;
    Ok(OpenModule {
        mgrctl,
        db,
        key,
        settings,
    })
}

/// The local billing's database, for reads of module `id` (which must be a
/// pmsslreseller module) that need none of its settings: no key is read and
/// no password decrypted (measured: the RSA decryption was a tenth of the
/// CPU of a catalog refresh, which reads only the local prices).
pub fn open_module_db(root: &MgrRoot, config: &Config, id: u64) -> Result<Db> {
    let mut db = Db::connect(&Mgrctl::configured(root, config))?;
    check_ours(&mut db, id)?;
    Ok(db)
}

/// The settings of module `id`, which must be a pmsslreseller module.
pub fn our_module_settings(db: &mut Db, key: &CryptKey, id: u64) -> Result<ModuleSettings> {
    check_ours(db, id)?;
    db.module_settings(id, key)
}

/// Module `id` exists and is a pmsslreseller module.
fn check_ours(db: &mut Db, id: u64) -> Result<()> {
    let (module, name) = db.processing_module(id)?;
    if module != MODULE_NAME {
        return Err(not_our_module(id, &name, &module));
    }
    Ok(())
}

/// A warn line in the log, once per module and process, when the module's
/// upstream password is short ([`crate::secret::Secret::is_short`]).
fn warn_if_short_password(settings: &ModuleSettings) {
    static WARNED: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
    if !settings.password.is_short() {
        return;
    }
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if !warned.contains(&settings.id) {
        warned.push(settings.id);
        log::warn!("{}", short_password_warning(settings.id));
    }
}

/// The one wording of "module `id` has a short upstream password".
pub fn short_password_warning(id: u64) -> String {
    format!(
        "processing module {id}: the upstream password {}",
        crate::secret::SHORT_PASSWORD_ADVICE
    )
}

/// The active pmsslreseller modules whose upstream password is short
/// ([`crate::secret::Secret::is_short`]). Reads BILLmanager's database and key.
pub fn short_password_modules(root: &MgrRoot, config: &Config) -> Result<Vec<u64>> {
    let mut db = Db::connect(&Mgrctl::configured(root, config))?;
    let key = CryptKey::load(root)?;
    let mut short = Vec::new();
    for id in db.active_modules(MODULE_NAME)? {
        if db.module_settings(id, &key)?.password.is_short() {
            short.push(id);
        }
    }
    Ok(short)
}

/// The one wording of "that module is not ours".
pub fn not_our_module(id: u64, name: &str, module: &str) -> ModuleError {
    let (name, module) = (crate::quote::quote(name), crate::quote::quote(module));
    ModuleError::new(
        ErrorKind::WrongModule,
        format!(
            "processing module {id} ('{name}') is a '{module}' module, not a {MODULE_NAME} module; \
             use the id of a {MODULE_NAME} module (Integration → Processing modules, column Id)"
        ),
    )
    .with_object(format!("processing module {id}"))
}

/// The upstream client for a module's settings, ordering as `[order]` says.
pub fn connect(settings: &ModuleSettings, config: &Config) -> Result<Client> {
    // So a refused login can name the module (credential health).
    super::credential_health::note_module(settings);
    warn_if_short_password(settings);
    let conn = Connection {
        url: settings.url.clone(),
        username: settings.username.clone(),
        password: settings.password.clone(),
    };
    Ok(Client::new(&conn, &config.upstream)?.with_order_config(&config.order))
}
