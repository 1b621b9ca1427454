//! The service import's record of `processing.import.service` calls whose
//! outcome is not known yet: at most one local service per (module,
//! upstream certificate), also when BILLmanager's core applies a call after
//! the module's `mgrctl` timeout or answers without the new service's id.
//!
//! One small JSON file per module, `var/pmsslreseller/import-pending-<N>.json`
//! (upstream id → when the call was sent, and the service it answered, if
//! any). A mark is written (atomically, synced, and read back) BEFORE the
//! call, and cleared once the new service is seen linked. A file rather than
//! an item param: before the call there is no item to hold it, and the
//! import already serialises on a per-module lock file in the same
//! directory (`import_service::ImportLock`), so one writer at a time is
//! given.
//!
//! A mark inside `[lifecycle] settle_secs` means "the call may still be
//! applied": nothing is sent for that certificate. After the window the
//! import looks for a local service carrying the upstream id first (the late
//! call landed: nothing is created) and only then may import again. Like
//! every lost answer (docs/money-safety.md, "Not guaranteed — the settle window"), a call
//! BILLmanager applies later than the window is not covered.
//!
//! UNCONFIRMED (no source; docs/protocol.md, module side, last row): that
//! BILLmanager's core may still apply a call whose `mgrctl` the module killed
//! at `[mgrctl] timeout_secs` (module-protocol.md §10 names the callbacks,
//! not what a killed client leaves behind), and that it does so within
//! `settle_secs`. The mark assumes the first and bounds the wait by the
//! second; the `mgrctl` stand-in's core mode plays it (`Fault delay:<ms>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::{write_atomic, write_hint, MgrRoot};
use crate::protocol::error::{ErrorKind, ModuleError, Result};

use super::lifecycle::intent::unix_text;

/// One call whose outcome is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Unix seconds of the call (the module's clock, `crate::clock`).
    pub at: i64,
    /// The same in UTC text, for an admin reading the file.
    pub at_text: String,
    /// The service BILLmanager answered, when it answered one whose link
    /// was then not seen: never imported again automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<u64>,
}

/// The marks of one module.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
    sent: BTreeMap<u64, Sent>,
}

impl Pending {
    /// The marks of `module`; no file means none. A file that cannot be
    /// read stops the import: it may be the only trace of a service that
    /// exists.
    pub fn load(root: &MgrRoot, module: u64) -> Result<Pending> {
        let path = root
            .state_dir()
            .join(format!("import-pending-{module}.json"));
        let sent = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(unreadable(&path, &e.to_string())),
        };
        Ok(Pending { path, sent })
    }

    pub fn get(&self, upstream_id: u64) -> Option<&Sent> {
        self.sent.get(&upstream_id)
    }

    /// Upstream ids with a mark.
    pub fn ids(&self) -> Vec<u64> {
        self.sent.keys().copied().collect()
    }

    /// Mark `upstream_id` as sent at `at` (unix seconds), stored and read
    /// back before the call may go out.
    pub fn mark(&mut self, upstream_id: u64, at: i64) -> Result<()> {
        let sent = Sent {
            at,
            at_text: unix_text(at),
            service: None,
        };
        self.sent.insert(upstream_id, sent.clone());
        self.store()?;
        let stored = std::fs::read_to_string(&self.path)
            .map_err(|e| unreadable(&self.path, &e.to_string()))
            .and_then(|t| parse(&self.path, &t))?;
        if stored.get(&upstream_id) != Some(&sent) {
            return Err(ModuleError::new(
                ErrorKind::Config,
                format!(
                    "{} does not hold the mark just written for upstream certificate {upstream_id}; \
                     nothing was imported. Check the disk under var/pmsslreseller, then run the import again",
                    self.path.display()
                ),
            )
            .with_object("import-pending"));
        }
        Ok(())
    }

    /// BILLmanager answered service `service`, whose link is not seen.
    pub fn answered(&mut self, upstream_id: u64, service: u64) -> Result<()> {
        if let Some(s) = self.sent.get_mut(&upstream_id) {
            s.service = Some(service);
            self.store()?;
        }
        Ok(())
    }

    /// The new service is seen linked: forget the mark.
    pub fn clear(&mut self, upstream_id: u64) -> Result<()> {
        if self.sent.remove(&upstream_id).is_some() {
            self.store()?;
        }
        Ok(())
    }

    /// Write the file atomically and sync it (the mark must survive a crash
    /// of this host as well as the call does); no marks, no file.
    fn store(&self) -> Result<()> {
        let written = if self.sent.is_empty() {
            match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            let text = serde_json::to_string_pretty(&self.sent).unwrap_or_default();
            self.path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| write_atomic(&self.path, text.as_bytes()))
                .and_then(|()| std::fs::File::open(&self.path)?.sync_all())
        };
        written.map_err(|e| {
            ModuleError::new(
                ErrorKind::Config,
                format!(
                    "cannot write {}: {e}{}; nothing was imported for the certificate concerned",
                    self.path.display(),
                    write_hint(&e)
                ),
            )
            .with_object("import-pending")
        })
    }
}

fn parse(path: &Path, text: &str) -> Result<BTreeMap<u64, Sent>> {
    serde_json::from_str(text).map_err(|e| unreadable(path, &e.to_string()))
}

fn unreadable(path: &Path, why: &str) -> ModuleError {
    ModuleError::new(
        ErrorKind::Config,
        format!(
            "{} cannot be read ({}): it records service imports whose outcome is not known, so \
             nothing is imported. Check in BILLmanager that no upstream certificate it names is \
             linked to two services, then delete the file and run the import again",
            path.display(),
            crate::quote::quote(why)
        ),
    )
    .with_object("import-pending")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_a_reload_and_clear_to_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        let mut p = Pending::load(&root, 3).unwrap();
        assert!(p.ids().is_empty());
        p.mark(100001, 1_800_000_000).unwrap();
        p.answered(100001, 42).unwrap();
        let again = Pending::load(&root, 3).unwrap();
        let s = again.get(100001).unwrap();
        assert_eq!((s.at, s.service), (1_800_000_000, Some(42)));
        assert_eq!(s.at_text, "2027-01-15 08:00:00");
        assert!(
            Pending::load(&root, 4).unwrap().ids().is_empty(),
            "per module"
        );
        p.clear(100001).unwrap();
        assert!(!root.state_dir().join("import-pending-3.json").exists());
    }

    #[test]
    fn an_unreadable_file_stops_the_import_and_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        std::fs::create_dir_all(root.state_dir()).unwrap();
        std::fs::write(root.state_dir().join("import-pending-3.json"), "{oops").unwrap();
        let e = Pending::load(&root, 3).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("delete the file"), "{}", e.message);
    }
}
