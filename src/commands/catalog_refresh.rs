//! Fetching a module's catalog from its upstream and storing it: the module
//! opened by `commands::module::open_module`, `pricelist.export` through the
//! upstream client, then
//! parse → check → diff → cache → template names. One path for
//! `catalog refresh`, `pricing preview --refresh` and `import_pricelist`.

use std::path::PathBuf;

use crate::catalog::diff::{diff, CatalogDiff};
use crate::catalog::{cache, parse_export, templates, Catalog};
use crate::commands::module::open_module;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// The raw `pricelist.export` (certificate tariffs) of the upstream of
/// processing module `module`.
pub fn export_for_module(root: &MgrRoot, config: &Config, module: u64) -> Result<String> {
    let client = open_module(root, config, module)?.client(config)?;
    log::info!(
        "fetching pricelist.export of module {module} from {}",
        client.endpoint()
    );
    Ok(client.pricelist_export()?)
}

/// The outcome of a successful refresh.
#[derive(Debug)]
pub struct Refreshed {
    pub catalog: Catalog,
    /// The cache it replaced (none, or unreadable: `None`).
    pub old: Option<Catalog>,
    pub diff: CatalogDiff,
    pub cache_path: PathBuf,
    /// The template names file, or why it could not be written.
    pub messages: std::result::Result<PathBuf, String>,
}

impl Refreshed {
    /// BILLmanager must be restarted to see the templates as they are now.
    pub fn restart_required(&self) -> bool {
        self.old.is_none() || self.diff.needs_restart()
    }
}

/// What to say when a refresh fails: the old cache stays.
pub fn kept_note(old: Option<&Catalog>) -> String {
    match old {
        Some(c) => format!("the cached catalog (fetched {}) is kept", c.fetched_at),
        None => "no catalog was cached".to_string(),
    }
}

/// Store an export that was fetched (or read from a file) now. A broken or
/// empty export is an error and leaves the old cache as it was.
pub fn store_export(
    root: &MgrRoot,
    module: u64,
    xml: &str,
    allow_empty: bool,
) -> Result<Refreshed> {
    let old = match cache::load(root, module) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("{} (it will be replaced)", e.message);
            None
        }
    };
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let catalog = parse_export(xml, module, &now).map_err(|mut e| {
        e.message = format!("{}; {}", e.message, kept_note(old.as_ref()));
        e
    })?;
    for s in &catalog.skipped {
        log::warn!(
            "catalog of module {module}: export entry #{} (id {:?}) skipped: {}",
            s.position,
            s.id,
            s.reason
        );
    }
    if catalog.tariffs.is_empty() && !allow_empty {
        let reasons: Vec<&str> = catalog
            .skipped
            .iter()
            .take(5)
            .map(|s| s.reason.as_str())
            .collect();
        return Err(ModuleError::new(
            ErrorKind::UpstreamBadResponse,
            format!(
                "the upstream export has no usable certificate tariff ({} skipped{}); {}. If that is right, refresh with --allow-empty",
                catalog.skipped.len(),
                if reasons.is_empty() { String::new() } else { format!(": {}", reasons.join("; ")) },
                kept_note(old.as_ref())
            ),
        )
        .with_object(crate::upstream::wire::FUNC_PRICELIST_EXPORT));
    }
    let changes = diff(old.as_ref(), &catalog);
    let cache_path = cache::save(root, &catalog)?;
    let messages = templates::write_messages_file(root).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            templates::messages_file(root).display()
        )
    });
    let refreshed = Refreshed {
        catalog,
        old,
        diff: changes,
        cache_path,
        messages,
    };
    log::info!(
        "catalog of module {module} stored: {} tariffs, {} skipped, new {:?}, removed {:?}, {} price changes",
        refreshed.catalog.tariffs.len(),
        refreshed.catalog.skipped.len(),
        refreshed.diff.added,
        refreshed.diff.removed,
        refreshed.diff.price_changed.len()
    );
    if refreshed.restart_required() {
        log::warn!(
            "the templates changed: restart BILLmanager to see them: {} -m billmgr -R",
            root.mgrctl().display()
        );
    }
    Ok(refreshed)
}

/// Fetch from the upstream and store. A failed fetch leaves the cache as it was.
pub fn refresh(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    allow_empty: bool,
) -> Result<Refreshed> {
    let xml = export_for_module(root, config, module).map_err(|mut e| {
        let old = cache::load(root, module).ok().flatten();
        e.message = format!("{}; {}", e.message, kept_note(old.as_ref()));
        e
    })?;
    store_export(root, module, &xml, allow_empty)
}
