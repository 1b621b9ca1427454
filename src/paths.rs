//! Where things live under the BILLmanager root.
//!
//! BILLmanager starts us with its root as working directory, but we never rely on
//! that (module-protocol.md §2): every path is resolved against `MGR5_ROOT`
//! (default `/usr/local/mgr5`) in this one place.

use std::path::{Path, PathBuf};

/// Module name: file name of the binary, `<plugin name>`, `processingmodule.module`.
pub const MODULE_NAME: &str = "pmsslreseller";

pub const DEFAULT_ROOT: &str = "/usr/local/mgr5";

#[derive(Debug, Clone)]
pub struct MgrRoot {
    root: PathBuf,
}

impl MgrRoot {
    /// The root named by `MGR5_ROOT`, or the default install root.
    pub fn from_env() -> MgrRoot {
        match std::env::var_os("MGR5_ROOT") {
            Some(v) if !v.is_empty() => MgrRoot::new(PathBuf::from(v)),
            _ => MgrRoot::new(PathBuf::from(DEFAULT_ROOT)),
        }
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

    /// Directory holding per-item lock files.
    pub fn lock_dir(&self) -> PathBuf {
        self.state_dir().join("locks")
    }
}
