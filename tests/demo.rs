//! `billmgr-sim demo` end to end: it must pass against this build of the
//! module, and must fail loudly (exit 1, "DEMO FAILED", everything cleaned
//! up) when the module misbehaves.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
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
        "books",
        "close",
    ] {
        assert!(
            text.contains(&format!(". {step} ")),
            "step {step} missing:\n{text}"
        );
    }
    assert!(text.contains("demo passed:"), "{text}");
    assert!(text.contains("certificate.order.param"), "{text}");
    // The automatic reissue reaches the deploy hook once, and the files are written.
    assert!(
        text.contains("the hook ran once for the new certificate"),
        "{text}"
    );
    assert!(text.contains("files: fullchain.pem: "), "{text}");
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

/// A test that fails half-way still stops its demo (Ctrl-C: it cleans up).
impl Drop for LiveDemo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let _ = self.child.wait();
        }
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
    // Every printed command works while the simulator serves: run them as
    // printed, in their order (the simulator's tick with an HTTP client of
    // our own rather than curl).
    let module = bin_path("pmsslreseller").display().to_string();
    let printed: Vec<Printed> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let words = |rest: &str| -> Vec<String> {
                rest.split('#')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            };
            if let Some(rest) = l.strip_prefix(module.as_str()) {
                Some(Printed::Module(words(rest)))
            } else {
                l.strip_prefix("curl -X POST ")
                    .map(|rest| Printed::Post(words(rest)[0].clone()))
            }
        })
        .collect();
    let modules: Vec<&Vec<String>> = printed
        .iter()
        .filter_map(|p| match p {
            Printed::Module(args) => Some(args),
            Printed::Post(_) => None,
        })
        .collect();
    for wanted in ["catalog", "pricing", "sync", "--command", "reconcile"] {
        assert!(
            modules.iter().any(|c| c[0] == wanted),
            "no {wanted} command printed:\n{text}"
        );
    }
    let tick = printed
        .iter()
        .find_map(|p| match p {
            Printed::Post(url) if url.ends_with("/_sim/tick") => Some(url.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no tick command printed:\n{text}"));
    let http = reqwest::blocking::Client::new();
    let mut reconcile = None;
    for p in &printed {
        match p {
            Printed::Post(url) => {
                let answer = http.post(url).send().expect("POST to the simulator");
                assert!(answer.status().is_success(), "{url}: {}", answer.status());
            }
            Printed::Module(args) => {
                let out = Command::new(bin_path("pmsslreseller"))
                    .args(args)
                    .env("MGR5_ROOT", &root)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{args:?}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if args[0] == "reconcile" {
                    reconcile = Some(stdout);
                }
            }
        }
    }
    assert!(reconcile.is_some(), "reconcile was run");
    // As the hints say: tick and sync_item again until the second order is
    // issued; then the drift report finds the books in agreement, not a
    // renewal the upstream never made.
    let sync_item = modules
        .iter()
        .find(|c| c.iter().any(|a| a == "sync_item"))
        .expect("a sync_item command");
    let module_run = |args: &[String]| {
        let out = Command::new(bin_path("pmsslreseller"))
            .args(args)
            .env("MGR5_ROOT", &root)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let item: u64 = sync_item
        .windows(2)
        .find(|w| w[0] == "--item")
        .and_then(|w| w[1].parse().ok())
        .expect("the item of sync_item");
    let db = root.rsplit('/').next().unwrap().replace('-', "_");
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("localhost"))
        .socket(Some(support::billing::mysql_socket()))
        .user(Some("root"))
        .db_name(Some(db));
    let mut conn = mysql::Conn::new(opts).expect("the demo's database");
    let mut issued = || {
        conn.exec_first::<String, _, _>(
            "SELECT value FROM itemparam WHERE item = ? AND intname = 'service_status'",
            (item,),
        )
        .unwrap()
        .as_deref()
            == Some("5")
    };
    for _ in 0..4 {
        if issued() {
            break;
        }
        http.post(&tick).send().expect("tick");
        let (code, text) = module_run(sync_item);
        assert_eq!(code, Some(0), "{text}");
    }
    let issued = issued();
    assert!(issued, "the second order was never issued");
    let reconcile_args = modules.iter().find(|c| c[0] == "reconcile").unwrap();
    let (code, report) = module_run(reconcile_args);
    assert!(!report.contains("renewed"), "{report}");
    assert_eq!(code, Some(0), "{report}");
    // The simulator's clock is back to today (the demo moved it months
    // ahead for its term step): nothing looks renewed or expired.
    let clock: serde_json::Value = http
        .get(tick.replace("/_sim/tick", "/_sim/clock"))
        .send()
        .and_then(|r| r.text())
        .map(|t| serde_json::from_str(&t).expect("the clock as JSON"))
        .expect("the simulator's clock");
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap();
    let off = (now.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(off.abs() < 120, "simulator clock {now}, {off} s off");
    assert!(std::path::Path::new(&root).exists());
    let (code, text) = demo.interrupt();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cleaned up"), "{text}");
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}

/// A command line the --keep hints print.
enum Printed {
    Module(Vec<String>),
    Post(String),
}

#[test]
fn ctrl_c_on_a_kept_demo_piped_into_tee_leaves_nothing_behind() {
    // `make demo DEMO_ARGS=--keep | tee log`, then Ctrl-C: the terminal
    // signals the whole pipeline, so tee is gone before the demo says goodbye.
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut pipeline = Command::new("sh")
        .args([
            "-c",
            "NO_COLOR=1 \"$0\" demo --keep | tee \"$1\" >/dev/null",
        ])
        .arg(bin_path("billmgr-sim"))
        .arg(&log)
        .process_group(0)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the pipeline");
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Ctrl-C here stops the simulator") {
            break text;
        }
        assert!(Instant::now() < deadline, "the demo never served:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let root = scratch_root_of(&text).expect("scratch root printed");
    let pid: u32 = root
        .rsplit("pmss-demo-")
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("the demo's pid in its scratch root");
    let group = format!("-{}", pipeline.id());
    let sent = Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut err = pipeline.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    wait_at_most(&mut pipeline, Duration::from_secs(60));
    // The shell may end before the demo has finished cleaning up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = stderr.join().unwrap();
    assert_nothing_left(pid, &stderr);
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

/// What a demo with process id `pid` may have left behind: its database, its
/// scratch root, and simulator processes whose stderr is that root's log.
struct Leftovers {
    database: bool,
    root: Option<std::path::PathBuf>,
    simulators: Vec<i32>,
}

/// The demo `pid` left no database, scratch root or simulator behind (any
/// found is removed, so a failing test does not leave them either), and did
/// not panic.
fn assert_nothing_left(pid: u32, stderr: &str) {
    let left = leftovers_of(pid);
    left.remove(pid);
    assert!(
        left.none(),
        "left behind: database {}, root {:?}, simulators {:?}\nstderr:\n{stderr}",
        left.database,
        left.root,
        left.simulators
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn leftovers_of(pid: u32) -> Leftovers {
    let db = format!("pmss_demo_{pid}");
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("localhost"))
        .socket(Some(support::billing::mysql_socket()))
        .user(Some("root"));
    let mut conn = mysql::Conn::new(opts).expect("connect to MariaDB");
    let database = conn
        .exec_first::<String, _, _>(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db.as_str(),),
        )
        .expect("list databases")
        .is_some();
    let root = std::env::temp_dir().join(format!("pmss-demo-{pid}"));
    // The simulator's stderr is <root>/var/billmgr-sim-upstream.log (the
    // link reads "… (deleted)" once the root is gone): that names it exactly.
    let marker = format!("pmss-demo-{pid}/");
    let simulators = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/fd/2"))
                .is_ok_and(|l| l.to_string_lossy().contains(&marker))
        })
        .collect();
    Leftovers {
        database,
        root: root.exists().then_some(root),
        simulators,
    }
}

impl Leftovers {
    fn none(&self) -> bool {
        !self.database && self.root.is_none() && self.simulators.is_empty()
    }

    /// Remove what a failed run left, so one failure does not pile up.
    fn remove(&self, pid: u32) {
        for p in &self.simulators {
            let _ = Command::new("kill").arg(p.to_string()).status();
        }
        if let Some(root) = &self.root {
            let _ = std::fs::remove_dir_all(root);
        }
        if self.database {
            let opts = mysql::OptsBuilder::new()
                .ip_or_hostname(Some("localhost"))
                .socket(Some(support::billing::mysql_socket()))
                .user(Some("root"));
            if let Ok(mut conn) = mysql::Conn::new(opts) {
                let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `pmss_demo_{pid}`"));
            }
        }
    }
}

/// Process `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("State:"))
            .is_some_and(|l| !l.contains('Z'))
    })
}

/// `status` of `child` within `limit`, else kill it and fail.
fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not end within {limit:?} after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_reader_that_goes_away_stops_the_demo_and_leaves_nothing_behind() {
    // As `billmgr-sim demo | head -5`: five lines read, then the pipe closed.
    let mut child = Command::new(bin_path("billmgr-sim"))
        .arg("demo")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run billmgr-sim demo");
    let pid = child.id();
    let mut head = Vec::new();
    {
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        for _ in 0..5 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            head.push(line);
        }
    } // the read end closes here
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    let status = wait_at_most(&mut child, Duration::from_secs(120));
    let stderr = stderr.join().unwrap();
    assert_nothing_left(pid, &stderr);
    // 128 + SIGPIPE, as a shell reports a writer whose reader went away.
    assert_eq!(
        status.code(),
        Some(141),
        "{status:?}\n{}{stderr}",
        head.concat()
    );
}
