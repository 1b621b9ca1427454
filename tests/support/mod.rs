//! Shared helpers of the root crate's integration tests. Each test file that
//! needs them declares `mod support;`.
#![allow(dead_code)]

pub mod billing;
pub mod bulk;
pub mod sim;
pub mod world;

use std::path::{Path, PathBuf};

/// A binary of this workspace: `<test exe dir>/../<name>` (e.g. `target/debug/billmgr-sim`).
/// `make test` builds the binaries before running the tests.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let deps = exe.parent().expect("test executable has a directory");
    let dir = deps.parent().unwrap_or(deps);
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build the workspace binaries first (`make test` or `cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// Make `dir` a BILLmanager root as the module recognises one: `etc/`,
/// `var/` and a `sbin/mgrctl` (the module refuses a root without it) that
/// only says there is no BILLmanager here. For tests that never reach
/// BILLmanager; [`billing::TestMgr`] is a root with a working stand-in.
pub fn mark_billmanager_root(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for d in ["etc", "sbin", "var"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let mgrctl = dir.join("sbin/mgrctl");
    std::fs::write(
        &mgrctl,
        "#!/bin/sh\necho 'mgrctl: no BILLmanager in this test root' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&mgrctl, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A temporary directory made a root by [`mark_billmanager_root`].
pub fn scratch_billmanager_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    mark_billmanager_root(dir.path());
    dir
}
