//! Shared helpers of the root crate's integration tests. Each test file that
//! needs them declares `mod support;`.
#![allow(dead_code)]

pub mod billing;
pub mod bulk;
pub mod sim;
pub mod world;

use std::path::PathBuf;

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
