//! What both sides of the `mgrctl` stand-in share and nothing more: the call's answer
//! ([`Answer`], [`SimError`]), who made it ([`Caller`]), how a core-mode client and the core talk
//! ([`Request`], [`PROTOCOL`], [`Paths`]), and how a call finds its BILLmanager root.
//!
//! Only `std`, serde and quick-xml's escaping: the small client program `billmgr-sim-mgrctl`
//! (`sim/src/mgrctl_client.rs`) compiles this file and `client.rs` alone, so that a process per
//! call stays cheap to start.

use std::io::Write;
use std::path::{Path, PathBuf};

use quick_xml::escape::escape;

/// A failure answered as `<doc><error type object><msg>…</msg></error></doc>`.
#[derive(Debug, Clone)]
pub struct SimError {
    pub kind: &'static str,
    pub object: String,
    pub msg: String,
}

impl SimError {
    pub fn new(kind: &'static str, object: impl Into<String>, msg: impl Into<String>) -> SimError {
        SimError {
            kind,
            object: object.into(),
            msg: msg.into(),
        }
    }

    pub fn document(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><error type=\"{}\" object=\"{}\"><msg>{}</msg></error></doc>\n",
            escape(self.kind),
            escape(self.object.as_str()),
            escape(self.msg.as_str())
        )
    }
}

/// `MGR5_ROOT`, else `<root>` from `<root>/sbin/mgrctl`.
pub fn find_root(argv0: &str) -> Result<PathBuf, SimError> {
    if let Some(v) = std::env::var_os("MGR5_ROOT").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(v));
    }
    let p = Path::new(argv0);
    let sbin = p
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "sbin"));
    match sbin.and_then(Path::parent) {
        Some(root) if p.file_name().is_some_and(|n| n == "mgrctl") => {
            let root = if root.as_os_str().is_empty() {
                Path::new(".")
            } else {
                root
            };
            Ok(root.to_path_buf())
        }
        _ => Err(SimError::new(
            "missed",
            "MGR5_ROOT",
            "cannot tell the BILLmanager root: set MGR5_ROOT or call me as <root>/sbin/mgrctl",
        )),
    }
}

/// Who made a call: what the journal records and what a call may depend on
/// besides its arguments. Taken from this process in direct mode, and sent
/// by the client in core mode (the core's own pid, environment and working
/// directory are not the caller's).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    pub pid: u32,
    pub ssh_connection: String,
    pub cwd: String,
    /// The test clock `PMSSLRESELLER_TEST_NOW`: `service.postopen`
    /// dates the opening by it.
    pub test_now: Option<String>,
}

impl Caller {
    pub fn of_this_process() -> Caller {
        Caller {
            pid: std::process::id(),
            ssh_connection: std::env::var("SSH_CONNECTION").unwrap_or_default(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            test_now: std::env::var("PMSSLRESELLER_TEST_NOW").ok(),
        }
    }
}

/// What a call answers: stdout, stderr and the exit code, printed by this
/// process (direct mode) or sent back to the client (core mode).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Answer {
    pub fn ok(body: &str) -> Answer {
        Answer {
            code: 0,
            stdout: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>{body}</doc>\n"),
            stderr: String::new(),
        }
    }

    pub fn failure(e: &SimError) -> Answer {
        Answer {
            code: 1,
            stdout: e.document(),
            stderr: format!("mgrctl: {} ({}): {}\n", e.kind, e.object, e.msg),
        }
    }

    /// Writes the answer out; the exit code to end with.
    pub fn print(&self) -> i32 {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.stdout.as_bytes());
        let _ = out.flush();
        if !self.stderr.is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(self.stderr.as_bytes());
            let _ = err.flush();
        }
        self.code
    }
}

/// Changed whenever [`Request`] or [`Answer`] change: a client never talks to a core of another
/// build that would read its call differently.
pub const PROTOCOL: u32 = 1;

/// One call, client to core.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub protocol: u32,
    pub caller: Caller,
    /// The arguments after `mgrctl`, as the client got them.
    pub args: Vec<String>,
}

/// The files of a root's core.
pub struct Paths {
    pub run: PathBuf,
    pub socket: PathBuf,
    pub pid: PathBuf,
    /// Held by the serving core for its whole life.
    pub lock: PathBuf,
    /// Held by the client that is starting a core, so that 8 first calls at once start one.
    pub start_lock: PathBuf,
    /// The core's log (and its stderr).
    pub log: PathBuf,
}

impl Paths {
    pub fn of(root: &Path) -> Paths {
        let run = root.join("var").join("run");
        Paths {
            socket: run.join("billmgr-sim-core.sock"),
            pid: run.join("billmgr-sim-core.pid"),
            lock: run.join("billmgr-sim-core.lock"),
            start_lock: run.join("billmgr-sim-core.start"),
            log: root.join("var").join("billmgr-sim-core.log"),
            run,
        }
    }
}

/// A call as it goes over the socket: one JSON line (newlines inside values are escaped, so the
/// core reads up to the first one).
pub fn encode_request(request: &Request) -> Result<String, SimError> {
    let mut text = serde_json::to_string(request)
        .map_err(|e| SimError::new("core", "request", e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Whether `<root>/etc/billmgr-sim.conf` turns core mode on (`Core on`; the last `Core` line
/// wins). Only that line is looked at: whatever else is wrong in the file, the core reports for
/// each call exactly as direct mode would (it reads the whole file per call).
pub fn core_on(root: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join("etc").join("billmgr-sim.conf")) else {
        return false;
    };
    let mut on = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("Core") {
            on = words.next() == Some("on") && words.next().is_none();
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_from_argv0() {
        if std::env::var_os("MGR5_ROOT").is_none() {
            assert_eq!(
                find_root("/x/y/sbin/mgrctl").unwrap(),
                PathBuf::from("/x/y")
            );
            assert!(find_root("/x/y/bin/billmgr-sim").is_err());
        }
    }

    #[test]
    fn a_request_is_one_line_whatever_the_values() {
        let r = Request {
            protocol: PROTOCOL,
            caller: Caller {
                pid: 7,
                ssh_connection: "pmsslreseller".into(),
                cwd: "/x".into(),
                test_now: Some("2027-01-02".into()),
            },
            args: vec!["service.saveparam".into(), "value=a\nb\r\n\"c\"".into()],
        };
        let text = encode_request(&r).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        let back: Request = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(back.args, r.args);
        assert_eq!(back.caller.test_now.as_deref(), Some("2027-01-02"));
    }

    #[test]
    fn core_mode_is_the_last_core_line() {
        let dir = tempfile::tempdir().unwrap();
        let conf = |text: &str| {
            std::fs::create_dir_all(dir.path().join("etc")).unwrap();
            std::fs::write(dir.path().join("etc/billmgr-sim.conf"), text).unwrap();
            core_on(dir.path())
        };
        assert!(!core_on(dir.path()), "no config: direct");
        assert!(conf("DBName x\nCore on\n"));
        assert!(!conf("Core on\nCore off\n"));
        assert!(
            !conf("Core yes\n"),
            "a wrong value goes direct, which reports it"
        );
        assert!(!conf("# Core on\nCoreIdle 3\n"));
    }
}
