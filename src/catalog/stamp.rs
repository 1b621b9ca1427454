//! The stamp of the last export stored for a module,
//! `var/pmsslreseller/export-<module id>.json`: the export's SHA-256 and
//! which cache files storing it produced. A refresh whose export is
//! byte-identical, and whose cache files are still the ones the stamp
//! names, has nothing to store: no diff, no writes (measured: the diff and
//! the three writes were most of a 5,000-tariff refresh, and cron refreshes
//! mostly fetch the same export again).
//!
//! The stamp is a commit marker: it is removed before a refresh writes
//! anything and written only after the cache and the template names were
//! all written, so a refresh that failed or was killed half-way leaves no
//! stamp and the next one stores everything again. It is checked against
//! the cache files themselves (inode, size, modification time), so a cache
//! replaced since, by an admin or by another refresh racing this one, is
//! never taken for the stamped one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cache::{self, FileId, Saved};
use super::{Catalog, CACHE_FORMAT};
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// What produced a stamp besides the export: a build of another version may
/// parse the same export into another catalog (new fields, other flags).
const PRODUCER: &str = concat!("pmsslreseller ", env!("CARGO_PKG_VERSION"));

pub fn path(root: &MgrRoot, module_id: u64) -> PathBuf {
    root.state_dir().join(format!("export-{module_id}.json"))
}

/// The digest of an export as a stamp holds it: SHA-256 (a peer that can
/// make two exports collide could hide a price change from the cache) of
/// the exact bytes, hex.
pub fn digest(export: &[u8]) -> String {
    format!("{:x}", Sha256::digest(export))
}

/// The last export stored for a module, and what storing it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub format: u32,
    pub module_id: u64,
    pub producer: String,
    /// [`digest`] of the export.
    pub sha256: String,
    /// `fetched_at` of the catalog stored from it.
    pub fetched_at: String,
    pub tariffs: usize,
    pub skipped: usize,
    pub warnings: usize,
    /// The template view and the catalog as written.
    pub view: FileId,
    pub catalog: FileId,
}

impl Stamp {
    /// The catalog file is still the one this stamp names.
    pub fn catalog_intact(&self, root: &MgrRoot) -> bool {
        FileId::current(&cache::path(root, self.module_id)).as_ref() == Some(&self.catalog)
    }

    /// The stamp of `catalog`, stored from the export of digest `sha256`.
    pub fn of(catalog: &Catalog, sha256: String, saved: &Saved) -> Stamp {
        Stamp {
            format: CACHE_FORMAT,
            module_id: catalog.module_id,
            producer: PRODUCER.to_string(),
            sha256,
            fetched_at: catalog.fetched_at.clone(),
            tariffs: catalog.tariffs.len(),
            skipped: catalog.skipped.len(),
            warnings: catalog.warnings.len(),
            view: saved.view.clone(),
            catalog: saved.catalog.clone(),
        }
    }
}

/// The stamp of `module_id` when its cache files are still the ones the
/// stamp names, written together by one whole refresh by this producer,
/// and the template names file is there: whatever export it was. `None`
/// otherwise, and for a missing or unreadable stamp.
pub fn intact(root: &MgrRoot, module_id: u64) -> Option<Stamp> {
    let text = std::fs::read_to_string(path(root, module_id)).ok()?;
    let stamp: Stamp = serde_json::from_str(&text).ok()?;
    let intact = stamp.format == CACHE_FORMAT
        && stamp.module_id == module_id
        && stamp.producer == PRODUCER
        && FileId::current(&cache::templates_path(root, module_id)).as_ref() == Some(&stamp.view)
        && stamp.catalog_intact(root)
        && super::templates::messages_file(root).exists();
    intact.then_some(stamp)
}

/// Remove the stamp of `module_id` before its cache is rewritten. An error
/// when it exists and cannot be removed: a refresh must not go on to write
/// a cache a stale stamp would vouch for.
pub fn clear(root: &MgrRoot, module_id: u64) -> Result<()> {
    let p = path(root, module_id);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(stamp_error(
            &p,
            format!("cannot remove {}: {e}", p.display()),
            &e,
        )),
    }
}

/// Write the stamp, atomically, after everything it vouches for was written.
pub fn write(root: &MgrRoot, stamp: &Stamp) -> Result<()> {
    let p = path(root, stamp.module_id);
    let json = serde_json::to_vec(stamp)
        .map_err(|e| ModuleError::internal(format!("cannot serialise the export stamp: {e}")))?;
    crate::paths::write_atomic(&p, &json)
        .map_err(|e| stamp_error(&p, format!("cannot write {}: {e}", p.display()), &e))
}

fn stamp_error(p: &Path, what: String, e: &std::io::Error) -> ModuleError {
    ModuleError::new(
        ErrorKind::Config,
        format!("{what}{}", crate::paths::write_hint(e)),
    )
    .with_object(p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The [`intact`] stamp when the export of digest `sha256` is the one
    /// the cache holds, as `catalog_refresh::store` asks.
    fn matching(root: &MgrRoot, module_id: u64, sha256: &str) -> Option<Stamp> {
        intact(root, module_id).filter(|s| s.sha256 == sha256)
    }

    fn stored(root: &MgrRoot, body: &str) -> (Catalog, String) {
        let export = format!("<doc>{body}</doc>");
        let catalog = crate::catalog::parse_export(&export, 2, "2026-12-01T00:00:00Z").unwrap();
        let saved = cache::save_identified(root, &catalog).unwrap();
        crate::catalog::templates::write_messages_file(root, &catalog).unwrap();
        let sha = digest(export.as_bytes());
        write(root, &Stamp::of(&catalog, sha.clone(), &saved)).unwrap();
        (catalog, sha)
    }

    const ONE: &str = "<pricelist><id>5</id><name>A</name></pricelist>";

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_stamp_matches_only_its_export_and_untouched_cache_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert_eq!(matching(&root, 2, "x"), None, "no stamp yet");
        let (catalog, sha) = stored(&root, ONE);
        let stamp = matching(&root, 2, &sha).expect("the stored export matches");
        assert_eq!(
            (stamp.tariffs, stamp.fetched_at.as_str()),
            (1, "2026-12-01T00:00:00Z")
        );
        assert_eq!(matching(&root, 2, &digest(b"other")), None);
        assert_eq!(matching(&root, 3, &sha), None, "another module");

        // The catalog rewritten since (same content, a new file): no match.
        cache::save(&root, &catalog).unwrap();
        assert_eq!(matching(&root, 2, &sha), None);

        let (_, sha) = stored(&root, ONE);
        std::fs::remove_file(crate::catalog::templates::messages_file(&root)).unwrap();
        assert_eq!(matching(&root, 2, &sha), None, "template names gone");

        let (_, sha) = stored(&root, ONE);
        std::fs::remove_file(cache::templates_path(&root, 2)).unwrap();
        assert_eq!(matching(&root, 2, &sha), None, "view gone");

        let (_, sha) = stored(&root, ONE);
        clear(&root, 2).unwrap();
        assert_eq!(matching(&root, 2, &sha), None, "cleared");
        clear(&root, 2).unwrap();

        let (_, sha) = stored(&root, ONE);
        std::fs::write(path(&root, 2), "{damaged").unwrap();
        assert_eq!(matching(&root, 2, &sha), None, "damaged stamp");
    }
}
