//! `billmgr-sim demo` end to end: it must pass against this build of the
//! module, and must fail loudly (exit 1, "DEMO FAILED", everything cleaned
//! up) when the module misbehaves.

mod support;

use std::process::Command;

use support::bin_path;

fn run_demo(module: &std::path::Path) -> (i32, String) {
    let out = Command::new(bin_path("billmgr-sim"))
        .args(["demo", "--pmsslreseller"])
        .arg(module)
        .env("NO_COLOR", "1")
        .output()
        .expect("run billmgr-sim demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn scratch_root_of(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("MGR5_ROOT"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

#[test]
fn demo_runs_the_whole_lifecycle_and_cleans_up() {
    let (code, text) = run_demo(&bin_path("pmsslreseller"));
    assert_eq!(code, 0, "{text}");
    for step in [
        "features",
        "check_connection",
        "open",
        "sync_item",
        "reopen",
        "prolong",
        "suspend",
        "resume",
        "setparam",
        "getbalance",
        "close",
    ] {
        assert!(
            text.contains(&format!(". {step} ")),
            "step {step} missing:\n{text}"
        );
    }
    assert!(text.contains("demo passed:"), "{text}");
    assert!(text.contains("certificate.order.param"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes although stdout is a pipe:\n{text}"
    );
    let root = scratch_root_of(&text).expect("scratch root printed");
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}

#[test]
fn demo_fails_when_the_module_misbehaves() {
    // A "module" that answers nothing and exits 1 to everything.
    let (code, text) = run_demo(std::path::Path::new("/bin/false"));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("DEMO FAILED: pmsslreseller exited 1"),
        "{text}"
    );
    assert!(text.contains("cleaned up"), "{text}");
    let root = scratch_root_of(&text).expect("scratch root printed");
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}
