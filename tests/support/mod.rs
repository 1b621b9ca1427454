#![allow(dead_code)]
//! Shared helpers of the integration tests.

pub mod sim;

use std::path::PathBuf;

/// A binary of this workspace: `<test exe dir>/../<name>` (target/debug/<name>).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    dir.join(name)
}
