//! What the tariff import wizard was told: one record per upstream tariff
//! whose details `import_pricelist --subcommand pricelist` served, so that a
//! local tariff the wizard created can be linked back to its upstream tariff
//! even when BILLmanager did not keep our internal name `ssl_<id>`.
//!
//! Files under `var/pmsslreseller/import-links/module-<id>/tariff-<id>.json`,
//! each written atomically (temp file + rename): one file per tariff means
//! two imports at once never lose each other's record. A model only: no
//! database, no network.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::paths::{write_atomic, write_hint, MgrRoot};
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// One served detail answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedTariff {
    pub module_id: u64,
    pub upstream_id: u64,
    /// The internal name the answer proposed (`ssl_<id>`).
    pub intname: String,
    /// Every name the answer carried (`name`, `name_en`, `name_ru`).
    pub names: Vec<String>,
    /// RFC 3339 UTC.
    pub served_at: String,
}

fn dir(root: &MgrRoot, module: u64) -> PathBuf {
    root.state_dir()
        .join("import-links")
        .join(format!("module-{module}"))
}

fn io_error(what: &str, path: &std::path::Path, e: &std::io::Error) -> ModuleError {
    ModuleError::new(
        ErrorKind::Config,
        format!("{what} {}: {e}{}", path.display(), write_hint(e)),
    )
    .with_object(path.display().to_string())
}

/// Record (or replace) what was served for one upstream tariff.
pub fn record(root: &MgrRoot, served: &ServedTariff) -> Result<PathBuf> {
    let d = dir(root, served.module_id);
    std::fs::create_dir_all(&d).map_err(|e| io_error("cannot create", &d, &e))?;
    let target = d.join(format!("tariff-{}.json", served.upstream_id));
    let text = serde_json::to_string_pretty(served).unwrap_or_default();
    write_atomic(&target, text.as_bytes()).map_err(|e| io_error("cannot write", &target, &e))?;
    Ok(target)
}

/// Every record of a module (none when nothing was ever served). A file
/// that does not parse is skipped with a warning: it can only cost a link,
/// never make a wrong one.
pub fn load_all(root: &MgrRoot, module: u64) -> Result<Vec<ServedTariff>> {
    let d = dir(root, module);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("cannot read", &d, &e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_record = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tariff-") && n.ends_with(".json"));
        if !is_record {
            continue;
        }
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<ServedTariff>(&t).map_err(|e| e.to_string()))
        {
            Ok(s) if s.module_id == module => out.push(s),
            Ok(_) => log::warn!("{}: record of another module; ignored", path.display()),
            Err(e) => log::warn!(
                "{}: unreadable import record ({e}); ignored",
                path.display()
            ),
        }
    }
    out.sort_by_key(|s| s.upstream_id);
    Ok(out)
}

/// The upstream tariffs whose served names include `name` (trimmed, exact).
pub fn tariffs_named(records: &[ServedTariff], name: &str) -> Vec<u64> {
    let name = name.trim();
    if name.is_empty() {
        return Vec::new();
    }
    let mut ids: Vec<u64> = records
        .iter()
        .filter(|r| r.names.iter().any(|n| n.trim() == name))
        .map(|r| r.upstream_id)
        .collect();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(module_id: u64, upstream_id: u64, names: &[&str]) -> ServedTariff {
        ServedTariff {
            module_id,
            upstream_id,
            intname: format!("ssl_{upstream_id}"),
            names: names.iter().map(|n| n.to_string()).collect(),
            served_at: "2026-12-02T12:00:00Z".into(),
        }
    }

    #[test]
    fn records_round_trip_per_module() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert!(load_all(&root, 1).unwrap().is_empty());
        record(&root, &served(1, 3040, &["Multi", "Мульти"])).unwrap();
        record(&root, &served(1, 3033, &["Positive"])).unwrap();
        record(&root, &served(2, 3033, &["Positive"])).unwrap();
        // Replaced, not duplicated.
        record(&root, &served(1, 3040, &["Multi-Domain"])).unwrap();
        let all = load_all(&root, 1).unwrap();
        assert_eq!(
            all.iter().map(|s| s.upstream_id).collect::<Vec<_>>(),
            [3033, 3040]
        );
        assert_eq!(tariffs_named(&all, " Multi-Domain "), [3040]);
        assert!(tariffs_named(&all, "Multi").is_empty());
        assert!(tariffs_named(&all, "").is_empty());
        std::fs::write(
            dir.path()
                .join("var/pmsslreseller/import-links/module-1/tariff-9.json"),
            "{",
        )
        .unwrap();
        assert_eq!(load_all(&root, 1).unwrap().len(), 2);
    }
}
