//! Where things live under the BILLmanager root.
//!
//! BILLmanager starts us with its root as working directory, but we never rely on
//! that (module-protocol.md §2): every path is resolved against `MGR5_ROOT`
//! (default `/usr/local/mgr5`) in this one place.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::MODULE_NAME;

pub const DEFAULT_ROOT: &str = "/usr/local/mgr5";

/// The environment variable naming the BILLmanager root.
pub const ROOT_VAR: &str = "MGR5_ROOT";

/// What makes a directory a BILLmanager root ([`MgrRoot::check_is_billmanager`]).
pub const BILLMANAGER_MARKER: &str = "sbin/mgrctl";

/// What to add to a failed write under the root: BILLmanager runs us as its
/// own user (root), so "permission denied" almost always means the admin ran
/// us as someone else.
pub fn write_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            "; run pmsslreseller as BILLmanager's user (root, as BILLmanager itself does), e.g. with sudo"
        }
        _ => "",
    }
}

/// Replace `target` with `contents` atomically: a temp file beside it
/// (named by our pid, so parallel writers never share one), then a rename,
/// so a reader sees the old file or the new one, never half of one.
pub fn write_atomic(target: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_atomic_with(target, |out| out.write_all(contents)).map(|_| ())
}

/// [`write_atomic`] of what `fill` writes through a small buffer (a large
/// file is streamed, never held whole); the new file's metadata, read from
/// it before the rename, so a writer racing us cannot make us take its file
/// for ours.
pub fn write_atomic_with(
    target: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<std::fs::Metadata> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::File::create(&tmp)
        .and_then(|f| {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, &f);
            fill(&mut out)?;
            out.flush()?;
            drop(out);
            f.metadata()
        })
        .and_then(|meta| {
            std::fs::rename(&tmp, target)?;
            Ok(meta)
        })
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[derive(Debug, Clone)]
pub struct MgrRoot {
    root: PathBuf,
}

impl MgrRoot {
    /// The root named by `MGR5_ROOT`, or the default install root.
    pub fn from_env() -> MgrRoot {
        match std::env::var_os(ROOT_VAR) {
            Some(v) if !v.is_empty() => MgrRoot::new(PathBuf::from(v)),
            _ => MgrRoot::new(PathBuf::from(DEFAULT_ROOT)),
        }
    }

    /// [`MgrRoot::from_env`], refused unless it is a BILLmanager root
    /// ([`MgrRoot::check_is_billmanager`]): a wrong `MGR5_ROOT` (or no
    /// BILLmanager at the default root) must not make us create a log, a
    /// lock or a state directory of our own there. Checks only; creates nothing.
    pub fn from_env_checked() -> Result<MgrRoot> {
        let set = std::env::var_os(ROOT_VAR).filter(|v| !v.is_empty());
        let root = MgrRoot::from_env();
        root.check_is_billmanager(set.is_some())?;
        Ok(root)
    }

    /// `Ok` when the root is a directory holding [`BILLMANAGER_MARKER`];
    /// else an error naming the variable and what it should point at.
    /// `from_variable`: the path came from `MGR5_ROOT` (else it is the default).
    ///
    /// `sbin/mgrctl` is the marker because every BILLmanager has it, the
    /// module cannot write to BILLmanager without it, and the package's own
    /// scripts look for it; a directory that merely exists (`/tmp`) is not
    /// enough.
    pub fn check_is_billmanager(&self, from_variable: bool) -> Result<()> {
        let marker = self.root.join(BILLMANAGER_MARKER);
        let problem = match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => match std::fs::symlink_metadata(&marker) {
                Ok(_) => return Ok(()),
                Err(_) => format!("is not a BILLmanager root (it has no {BILLMANAGER_MARKER})"),
            },
            Ok(_) => "is not a directory".to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(_) => "cannot be read".to_string(),
        };
        let shown = self.root.display();
        let message = if from_variable {
            format!(
                "{ROOT_VAR}={shown} {problem}; {ROOT_VAR} must point at the BILLmanager \
                 root, the directory holding etc/, sbin/mgrctl and var/ ({DEFAULT_ROOT} on a standard \
                 install). Nothing was created"
            )
        } else {
            format!(
                "{ROOT_VAR} is not set and the default BILLmanager root {shown} {problem}; run \
                 pmsslreseller on the BILLmanager host, or set {ROOT_VAR} to the BILLmanager root \
                 (the directory holding etc/, sbin/mgrctl and var/). Nothing was created"
            )
        };
        Err(ModuleError::new(ErrorKind::Config, message).with_object(ROOT_VAR))
    }

    pub fn new(root: impl Into<PathBuf>) -> MgrRoot {
        MgrRoot { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Our optional config file `etc/pmsslreseller.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("etc").join(format!("{MODULE_NAME}.toml"))
    }

    /// Descriptor installed for BILLmanager (module-protocol.md §8).
    pub fn descriptor(&self) -> PathBuf {
        self.root
            .join("etc/xml")
            .join(format!("billmgr_mod_{MODULE_NAME}.xml"))
    }

    /// RSA key BILLmanager encrypts crypted params with (module-protocol.md §9.2).
    pub fn crypt_key(&self) -> PathBuf {
        self.root.join("etc/billmgr.pem")
    }

    /// Per-binary log levels, lines `<binary> <level>` (module-protocol.md §3).
    pub fn debug_conf(&self) -> PathBuf {
        self.root.join("etc/debug.conf")
    }

    /// Maintenance flag: lifecycle commands do nothing while it exists (module-protocol.md §4).
    pub fn do_nothing_flag(&self) -> PathBuf {
        self.root.join("etc/billmgr.DoNothing")
    }

    pub fn mgrctl(&self) -> PathBuf {
        self.root.join("sbin/mgrctl")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("var").join(format!("{MODULE_NAME}.log"))
    }

    /// Directory for our own state: locks, catalog cache, journals.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("var").join(MODULE_NAME)
    }

    /// The deploy hook's markers (one per item and certificate) and its
    /// private run directories (commands/deploy/).
    pub fn deploy_dir(&self) -> PathBuf {
        self.state_dir().join("deploy")
    }

    /// Directory holding per-item lock files.
    pub fn lock_dir(&self) -> PathBuf {
        self.state_dir().join("locks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_root_names_the_variable_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("mgr5");
        let e = MgrRoot::new(&missing)
            .check_is_billmanager(true)
            .unwrap_err();
        assert!(e.message.starts_with("MGR5_ROOT=/"), "{}", e.message);
        assert!(e.message.contains("does not exist"), "{}", e.message);
        assert!(e.message.contains("BILLmanager root"), "{}", e.message);
        assert!(!missing.exists());
        let e = MgrRoot::new(&missing)
            .check_is_billmanager(false)
            .unwrap_err();
        assert!(e
            .message
            .starts_with("MGR5_ROOT is not set and the default BILLmanager root"));
        std::fs::write(&missing, "").unwrap();
        let e = MgrRoot::new(&missing)
            .check_is_billmanager(true)
            .unwrap_err();
        assert!(e.message.contains("is not a directory"), "{}", e.message);
    }

    /// A directory that exists but is not BILLmanager's (`MGR5_ROOT=/tmp`)
    /// is refused as such, and nothing is created in it.
    #[test]
    fn a_directory_without_mgrctl_is_not_a_billmanager_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        let e = root.check_is_billmanager(true).unwrap_err();
        assert!(
            e.message
                .contains("is not a BILLmanager root (it has no sbin/mgrctl)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("Nothing was created"), "{}", e.message);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        std::fs::write(root.mgrctl(), "").unwrap();
        assert!(root.check_is_billmanager(true).is_ok());
    }

    #[test]
    fn permission_denied_says_whose_user_to_run_as() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(write_hint(&denied).contains("BILLmanager's user (root"));
        let other = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(write_hint(&other), "");
    }
}
