//! The BILLmanager-facing protocol: argv in, XML out (module-protocol.md §5–§8, §11).

pub mod args;
pub mod error;
pub mod features;
pub mod settings;
pub mod xml;

use std::io::{IsTerminal, Read};

/// Everything BILLmanager wrote on our stdin. Only commands that get input
/// call this (module-protocol.md §6.3); a terminal is never read.
pub fn read_stdin() -> std::io::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(String::new());
    }
    let mut s = String::new();
    stdin.lock().read_to_string(&mut s)?;
    Ok(s)
}
