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

/// The demo with stdout read line by line while it runs.
struct LiveDemo {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LiveDemo {
    fn start(args: &[&str]) -> LiveDemo {
        let mut child = Command::new(bin_path("billmgr-sim"))
            .arg("demo")
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run billmgr-sim demo");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LiveDemo {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Lines up to the first containing `needle` (two minutes at most).
    fn until(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            match self.lines.recv_timeout(std::time::Duration::from_secs(1)) {
                Ok(l) => {
                    let found = l.contains(needle);
                    self.seen.push(l);
                    if found {
                        return;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}:\n{}", self.seen.join("\n"));
    }

    /// Ctrl-C as a terminal sends it; then the rest of the output and the exit code.
    fn interrupt(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }

    fn text(&self) -> String {
        self.seen.join("\n")
    }
}

#[test]
fn demo_keep_leaves_a_world_to_explore_until_ctrl_c() {
    let mut demo = LiveDemo::start(&["--keep"]);
    demo.until("Ctrl-C here stops the simulator");
    let text = demo.text();
    let root = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("export MGR5_ROOT="))
        .expect("the MGR5_ROOT to export")
        .to_string();
    // Every printed command works while the simulator serves: run them as printed.
    let module = bin_path("pmsslreseller").display().to_string();
    let commands: Vec<Vec<String>> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(module.as_str()))
        .map(|rest| {
            rest.split('#')
                .next()
                .unwrap()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect();
    for wanted in ["catalog", "pricing", "sync", "--command"] {
        assert!(
            commands.iter().any(|c| c[0] == wanted),
            "no {wanted} command printed:\n{text}"
        );
    }
    for args in &commands {
        let out = Command::new(bin_path("pmsslreseller"))
            .args(args)
            .env("MGR5_ROOT", &root)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(std::path::Path::new(&root).exists());
    let (code, text) = demo.interrupt();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cleaned up"), "{text}");
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}

#[test]
fn ctrl_c_during_the_demo_cleans_up() {
    let mut demo = LiveDemo::start(&[]);
    demo.until(" 1. features");
    let root = scratch_root_of(&demo.text()).expect("scratch root printed");
    let (code, text) = demo.interrupt();
    assert_eq!(code, 130, "{text}");
    assert!(text.contains("interrupted (Ctrl-C)"), "{text}");
    assert!(!text.contains("demo passed"), "{text}");
    assert!(text.contains("cleaned up"), "{text}");
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}

#[test]
fn each_check_claims_only_what_its_step_did() {
    let (code, text) = run_demo(&bin_path("pmsslreseller"));
    assert_eq!(code, 0, "{text}");
    // The first issuance sets the expiry; later syncs keep it and say so.
    assert_eq!(text.matches("expiredate set (").count(), 1, "{text}");
    assert!(text.contains("expiredate unchanged ("), "{text}");
    // The surprising states are explained in one line each.
    assert!(
        text.contains("note      service_status 3: the renewal is a new certificate request"),
        "{text}"
    );
    assert!(
        text.contains("note      status 4 = the service is deleted"),
        "{text}"
    );
}
