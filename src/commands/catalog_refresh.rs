//! Fetching a module's catalog from its upstream and storing it: the module
//! opened by `commands::module::open_module`, `pricelist.export` through the
//! upstream client, then
//! parse → check → diff → cache → template names (all but the parse skipped
//! for an export identical to the stored one, `catalog::stamp`). One path
//! for `catalog refresh`, `pricing preview --refresh` and `import_pricelist`.

use std::path::{Path, PathBuf};

use crate::billing::Db;
use crate::catalog::diff::{diff, diff_facts, CatalogDiff};
use crate::catalog::{cache, parse_export, stamp, templates, Catalog};
use crate::commands::module::open_module;
use crate::commands::price_watch::{self, LocalPrices};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// The raw `pricelist.export` (certificate tariffs) of the upstream of
/// processing module `module`, and the local billing's database opened to
/// read the module's settings (for a caller that reads more from it).
pub fn export_for_module(root: &MgrRoot, config: &Config, module: u64) -> Result<(String, Db)> {
    let open = open_module(root, config, module)?;
    let client = open.client(config)?;
    log::info!(
        "fetching pricelist.export of module {module} from {}",
        client.endpoint()
    );
    Ok((client.pricelist_export()?, open.db))
}

/// The outcome of a successful refresh.
#[derive(Debug)]
pub struct Refreshed {
    pub catalog: Catalog,
    /// When the cache it replaced was fetched (no cache, or an unreadable
    /// one: `None`).
    pub old_fetched_at: Option<String>,
    pub diff: CatalogDiff,
    pub cache_path: PathBuf,
    /// The export is the one the cache was stored from ([`Stored::Unchanged`]):
    /// nothing was written, `catalog` is the cache's.
    pub unchanged: bool,
    /// The template view and names were written (not when no template
    /// changed: they would be the same bytes).
    pub templates_written: bool,
    /// The template names file, or why it could not be written.
    pub messages: std::result::Result<PathBuf, String>,
}

impl Refreshed {
    /// The refresh of the export `stamp` names, which stored nothing:
    /// `catalog` is the cache's.
    pub fn unchanged(root: &MgrRoot, stamp: &stamp::Stamp, catalog: Catalog) -> Refreshed {
        Refreshed {
            cache_path: cache::path(root, catalog.module_id),
            catalog,
            old_fetched_at: Some(stamp.fetched_at.clone()),
            diff: CatalogDiff::default(),
            unchanged: true,
            templates_written: false,
            messages: Ok(templates::messages_file(root)),
        }
    }

    /// BILLmanager must be restarted to see the templates as they are now.
    pub fn restart_required(&self) -> bool {
        self.old_fetched_at.is_none() || self.diff.needs_restart()
    }
}

/// What to say when a refresh fails: the old cache stays.
pub fn kept_note(old_fetched_at: Option<&str>) -> String {
    match old_fetched_at {
        Some(at) => format!("the cached catalog (fetched {at}) is kept"),
        None => "no catalog was cached".to_string(),
    }
}

/// [`kept_note`] for the cache of `module` as it is now (on a failure path:
/// reads the cache only then).
fn kept_note_for(root: &MgrRoot, module: u64) -> String {
    let old = cache::load(root, module).ok().flatten();
    kept_note(old.as_ref().map(|c| c.fetched_at.as_str()))
}

/// What storing an export did.
#[derive(Debug)]
pub enum Stored {
    /// The export is byte-identical to the one the cache was stored from,
    /// and the cache files are still the ones stored then
    /// (`catalog::stamp`): nothing was parsed, compared or written.
    Unchanged(stamp::Stamp),
    /// Parsed, compared with the cache and stored.
    Changed(Refreshed),
}

/// Store an export that was fetched (or read from a file) now, as a
/// [`Refreshed`] with its catalog: an unchanged export's is the cache's.
pub fn store_export(
    root: &MgrRoot,
    module: u64,
    xml: &str,
    allow_empty: bool,
) -> Result<Refreshed> {
    match store(root, module, xml, allow_empty)? {
        Stored::Changed(r) => Ok(r),
        Stored::Unchanged(stamp) => Ok(Refreshed::unchanged(
            root,
            &stamp,
            cache::load_required(root, module)?,
        )),
    }
}

/// Store an export that was fetched (or read from a file) now. A broken or
/// empty export is an error and leaves the old cache as it was. An export
/// byte-identical to the one the cache holds is not even parsed: most
/// refreshes (cron) fetch the same export again, and a 5,000-tariff one
/// costs more to parse and store than the rest of the refresh.
pub fn store(root: &MgrRoot, module: u64, xml: &str, allow_empty: bool) -> Result<Stored> {
    // The cache files as one whole refresh left them, or `None`.
    let previous = stamp::intact(root, module);
    // The old cache's text, for the diff, is read while the export is
    // digested: on a second thread, for nothing when the export is the
    // stamped one, but off the path of a changed one.
    let (sha256, old_text) = std::thread::scope(|scope| {
        let old_text = std::thread::Builder::new()
            .name("old-cache-read".into())
            .spawn_scoped(scope, || cache::read_text(root, module));
        let sha256 = stamp::digest(xml.as_bytes());
        let old_text = match old_text {
            Ok(reading) => reading.join().unwrap_or_else(|_| {
                Err(ModuleError::internal(
                    "reading the cached catalog failed".to_string(),
                ))
            }),
            Err(_) => cache::read_text(root, module),
        };
        (sha256, old_text)
    });
    if let Some(s) = previous
        .as_ref()
        .filter(|s| s.sha256 == sha256)
        // An empty catalog is accepted only on request, every time.
        .filter(|s| s.tariffs > 0 || allow_empty)
    {
        log::info!(
            "catalog of module {module}: the export is the one stored at {} (sha256 {sha256}): {} tariffs, {} skipped; nothing written",
            s.fetched_at,
            s.tariffs,
            s.skipped
        );
        return Ok(Stored::Unchanged(s.clone()));
    }
    let fetched_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Only what the diff compares is read of the old cache, and on a
    // second thread while the export is parsed: the two do not depend on
    // each other, and reading the old cache was a third of a changed
    // refresh.
    let old_text = old_text.unwrap_or_else(|e| {
        log::warn!("{} (it will be replaced)", e.message);
        None
    });
    let (parsed, old) = std::thread::scope(|scope| {
        let old = scope.spawn(|| {
            old_text
                .as_deref()
                .map(|text| cache::facts(root, module, text))
        });
        let parsed = parse_export(xml, module, &fetched_at);
        let old = old.join().unwrap_or_else(|_| {
            Some(Err(ModuleError::internal(
                "reading the cached catalog failed".to_string(),
            )))
        });
        (parsed, old)
    });
    let catalog = parsed.map_err(|mut e| {
        e.message = format!("{}; {}", e.message, kept_note_for(root, module));
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
                kept_note_for(root, module)
            ),
        )
        .with_object(crate::upstream::wire::FUNC_PRICELIST_EXPORT));
    }
    let old = old.and_then(|facts| match facts {
        Ok(facts) => Some(facts),
        Err(e) => {
            log::warn!("{} (it will be replaced)", e.message);
            None
        }
    });
    let changes = match &old {
        Some(old) => diff_facts(&old.tariffs, &catalog.tariffs),
        None => diff(None, &catalog),
    };
    let old_fetched_at = old.map(|o| o.fetched_at.into_owned());
    drop(old_text);
    // The template view and the names file hold ids, names and flags only.
    // When none of those changed and the view is the one written with the
    // catalog just compared (the stamp says so, and the catalog read is
    // still that file), rewriting them would write the same bytes: a price
    // change writes the catalog alone.
    let same_view = previous
        .filter(|s| s.catalog_intact(root))
        .filter(|_| {
            old_fetched_at.is_some()
                && changes.added.is_empty()
                && changes.removed.is_empty()
                && changes.template_changed.is_empty()
        })
        .map(|s| s.view);
    // No stamp while the files change: a refresh killed before the end
    // leaves none, and the next one stores everything again.
    stamp::clear(root, module)?;
    let templates_written = same_view.is_none();
    let saved = match same_view {
        Some(view) => cache::save_catalog_only(root, &catalog, view)?,
        None => cache::save_identified(root, &catalog)?,
    };
    let messages = if templates_written {
        templates::write_messages_file(root, &catalog).map_err(|e| {
            format!(
                "cannot write {}: {e}",
                templates::messages_file(root).display()
            )
        })
    } else {
        Ok(templates::messages_file(root))
    };
    if messages.is_ok() {
        if let Err(e) = stamp::write(root, &stamp::Stamp::of(&catalog, sha256, &saved)) {
            // Only the next refresh of the same export is slower.
            log::warn!("catalog of module {module}: {}", e.message);
        }
    }
    let refreshed = Refreshed {
        catalog,
        old_fetched_at,
        diff: changes,
        cache_path: saved.path,
        unchanged: false,
        templates_written,
        messages,
    };
    log::info!(
        "catalog of module {module} stored: {} tariffs, {} skipped, new {}, removed {}, {} price changes",
        refreshed.catalog.tariffs.len(),
        refreshed.catalog.skipped.len(),
        some_ids(&refreshed.diff.added),
        some_ids(&refreshed.diff.removed),
        refreshed.diff.price_changed.len()
    );
    if refreshed.restart_required() {
        log::warn!(
            "the templates changed: restart BILLmanager to see them: {} -m billmgr -R",
            root.mgrctl().display()
        );
    }
    Ok(Stored::Changed(refreshed))
}

/// Ids for a log line: all of a few, the first 20 of many (a first refresh
/// adds thousands).
fn some_ids(ids: &[u64]) -> String {
    let listed: Vec<String> = ids.iter().take(20).map(u64::to_string).collect();
    match ids.len() {
        0 => "none".to_string(),
        n if n <= 20 => format!("[{}]", listed.join(", ")),
        n => format!("{n} [{}, …]", listed.join(", ")),
    }
}

/// Fetch from the upstream and store. A failed fetch leaves the cache as it was.
pub fn refresh(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    allow_empty: bool,
) -> Result<Refreshed> {
    let (xml, _) = fetch(root, config, module)?;
    store_export(root, module, &xml, allow_empty)
}

/// What `catalog refresh` does: the export fetched (or read from
/// `from_file`) and stored, and meanwhile the local prices of the module's
/// live services read (`commands::price_watch`), for the caller to check
/// against the new costs. Fails when the export cannot be had or stored;
/// the old cache then stays. The local prices fail on their own.
pub fn refresh_with_prices(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    from_file: Option<&Path>,
    allow_empty: bool,
) -> Result<(Stored, Result<LocalPrices>)> {
    let (xml, db) = match from_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|xml| (xml, None))
            .map_err(|e| {
                ModuleError::new(
                    ErrorKind::Config,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        None => fetch(root, config, module).map(|(xml, db)| (xml, Some(db)))?,
    };
    // The local prices come from BILLmanager's database (a mgrctl process
    // and a connection): read while the export is stored, which they do not
    // depend on (measured: they were a quarter of a refresh of the same
    // export). A refresh that then fails has only read them for nothing.
    let (stored, local) = std::thread::scope(|scope| {
        let local = scope.spawn(|| local_prices(root, config, module, db));
        let stored = store(root, module, &xml, allow_empty);
        let local = local.join().unwrap_or_else(|_| {
            Err(ModuleError::internal(
                "reading the local prices failed".to_string(),
            ))
        });
        (stored, local)
    });
    // The process ends soon: the 3 MiB export is not worth freeing.
    std::mem::forget(xml);
    Ok((stored?, local))
}

/// What the module's live services are charged (`commands::price_watch`),
/// read on `db` when the fetch opened it (one connection per refresh).
fn local_prices(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    db: Option<Db>,
) -> Result<LocalPrices> {
    let mut db = match db {
        Some(db) => db,
        None => crate::commands::module::open_module_db(root, config, module)?,
    };
    price_watch::local_prices(&mut db, module)
}

/// The export of `module`'s upstream, with the database
/// ([`export_for_module`]); a failed fetch says the cache stays.
pub fn fetch(root: &MgrRoot, config: &Config, module: u64) -> Result<(String, Db)> {
    export_for_module(root, config, module).map_err(|mut e| {
        e.message = format!("{}; {}", e.message, kept_note_for(root, module));
        e
    })
}
