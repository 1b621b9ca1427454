//! The upstream BILLmanager simulator (upstream-api.md §9). Built in issue #2.

pub fn main(_args: Vec<String>) -> i32 {
    eprintln!("billmgr-sim upstream: not built yet");
    1
}
