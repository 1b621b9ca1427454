//! The local `mgrctl` stand-in (module-protocol.md §10.8). Built in issue #3.

pub fn main(_argv0: &str, _args: Vec<String>) -> i32 {
    eprintln!("billmgr-sim mgrctl: not built yet");
    1
}
