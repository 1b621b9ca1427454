//! The catalog cache: `var/pmsslreseller/catalog-<module id>.json`, one file
//! per processing module, written atomically (temp file + rename) so a reader
//! never sees half a file and a failed refresh leaves the old cache intact.

use std::path::{Path, PathBuf};

use super::{Catalog, CACHE_FORMAT};
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

const PREFIX: &str = "catalog-";
const SUFFIX: &str = ".json";

pub fn path(root: &MgrRoot, module_id: u64) -> PathBuf {
    root.state_dir()
        .join(format!("{PREFIX}{module_id}{SUFFIX}"))
}

/// Module id of a cache file name, `catalog-<id>.json`.
fn module_of(file_name: &str) -> Option<u64> {
    file_name
        .strip_prefix(PREFIX)?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

fn cache_error(path: &Path, what: String) -> ModuleError {
    ModuleError::new(ErrorKind::Config, what).with_object(path.display().to_string())
}

/// Write the cache of `catalog.module_id`, replacing the old one atomically.
pub fn save(root: &MgrRoot, catalog: &Catalog) -> Result<PathBuf> {
    let target = path(root, catalog.module_id);
    let dir = root.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        let hint = crate::paths::write_hint(&e);
        cache_error(&dir, format!("cannot create {}: {e}{hint}", dir.display()))
    })?;
    let json = serde_json::to_string_pretty(catalog)
        .map_err(|e| ModuleError::internal(format!("cannot serialise the catalog: {e}")))?;
    crate::paths::write_atomic(&target, json.as_bytes()).map_err(|e| {
        let hint = crate::paths::write_hint(&e);
        cache_error(
            &target,
            format!("cannot write {}: {e}{hint}", target.display()),
        )
    })?;
    Ok(target)
}

/// The cache of one module; `Ok(None)` when there is none yet.
pub fn load(root: &MgrRoot, module_id: u64) -> Result<Option<Catalog>> {
    let p = path(root, module_id);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cache_error(&p, format!("cannot read {}: {e}", p.display()))),
    };
    let catalog: Catalog = serde_json::from_str(&text).map_err(|e| {
        cache_error(
            &p,
            format!(
                "the catalog cache {} is damaged ({e}); run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        )
    })?;
    if catalog.format != CACHE_FORMAT || catalog.module_id != module_id {
        return Err(cache_error(
            &p,
            format!(
                "the catalog cache {} is from another version or module; run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        ));
    }
    Ok(Some(catalog))
}

/// The cache of one module, or an error telling the admin to fetch it.
pub fn load_required(root: &MgrRoot, module_id: u64) -> Result<Catalog> {
    load(root, module_id)?.ok_or_else(|| {
        let p = path(root, module_id);
        cache_error(
            &p,
            format!(
                "no upstream catalog for processing module {module_id} yet ({} is missing); run `pmsslreseller catalog refresh --module {module_id}`",
                p.display()
            ),
        )
    })
}

/// Module ids that have a cache file, ascending.
pub fn cached_modules(root: &MgrRoot) -> Vec<u64> {
    let mut ids: Vec<u64> = match std::fs::read_dir(root.state_dir()) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| module_of(&e.file_name().to_string_lossy()))
            .collect(),
        Err(_) => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Every readable cache, by module id ascending, plus a message per unreadable
/// one (the caller logs them; `features` must answer anyway).
pub fn load_all(root: &MgrRoot) -> (Vec<Catalog>, Vec<String>) {
    let mut catalogs = Vec::new();
    let mut problems = Vec::new();
    for id in cached_modules(root) {
        match load(root, id) {
            Ok(Some(c)) => catalogs.push(c),
            Ok(None) => {}
            Err(e) => problems.push(e.message),
        }
    }
    (catalogs, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(module_id: u64) -> Catalog {
        crate::catalog::parse_export(
            r#"<doc><pricelist><id>5</id><name>A</name><price currency="EUR"><period cost="1.10" length="12" type="month"/></price></pricelist></doc>"#,
            module_id,
            "2026-11-26T12:00:00Z",
        )
        .unwrap()
    }

    #[test]
    fn save_load_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert_eq!(load(&root, 3).unwrap(), None);
        assert!(load_required(&root, 3)
            .unwrap_err()
            .message
            .contains("catalog refresh --module 3"));
        save(&root, &catalog(3)).unwrap();
        save(&root, &catalog(12)).unwrap();
        std::fs::write(root.state_dir().join("catalog-x.json"), "{}").unwrap();
        assert_eq!(load(&root, 3).unwrap(), Some(catalog(3)));
        assert_eq!(cached_modules(&root), vec![3, 12]);
        let (all, problems) = load_all(&root);
        assert_eq!(all.len(), 2);
        assert!(problems.is_empty());
        // Money survives exactly (decimal strings, no float).
        let text = std::fs::read_to_string(path(&root, 3)).unwrap();
        assert!(text.contains("\"1.10\""), "{text}");
    }

    #[test]
    fn damaged_cache_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        std::fs::create_dir_all(root.state_dir()).unwrap();
        std::fs::write(path(&root, 4), "{ not json").unwrap();
        let e = load(&root, 4).unwrap_err();
        assert!(e.message.contains("damaged"), "{}", e.message);
        let (all, problems) = load_all(&root);
        assert!(all.is_empty());
        assert_eq!(problems.len(), 1);
    }
}
