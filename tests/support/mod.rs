//! Shared helpers of the root crate's integration tests. Each test file that
//! needs them declares `mod support;`.
#![allow(dead_code)]

pub mod billing;

use std::path::PathBuf;

/// A binary of the workspace: `<test exe dir>/../<name>` (target/debug/<name>).
/// `make test` builds them all first (`cargo build --workspace --bins`).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("test executable directory");
    deps.parent().unwrap_or(deps).join(name)
}
