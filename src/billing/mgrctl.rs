//! `Mgrctl`: every write into the local BILLmanager (module-protocol.md §10).
//!
//! One typed method per callback we use, all going through [`Mgrctl::call`]:
//! `$MGR5_ROOT/sbin/mgrctl -m billmgr -o xml FUNC key=value…`, run with the
//! BILLmanager root as working directory, `SSH_CONNECTION=pmsslreseller` (so
//! BILLmanager logs the module instead of an IP, as PYLIB does) and stdin
//! closed. Each `key=value` is one argv element: no shell, so spaces, `=`,
//! newlines and non-ASCII pass intact. A non-zero exit or an `<error>` in the
//! answer is a `billing` error naming the function.
//!
//! Secrets: the upstream password never goes to mgrctl ([`Mgrctl::call`]
//! refuses any value holding a registered [`crate::secret::Secret`], see
//! [`crate::secret::contains_secret`]), and the
//! values of crypted params are masked in the debug log.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::secret::{contains_secret, redact, MASK};
use crate::vocab::MODULE_NAME;
use crate::xmltree::{parse_tree, Node};

/// Values longer than this are logged as their length only (PEMs, error XML).
const LOG_VALUE_MAX: usize = 120;
/// Longest error text taken from an mgrctl answer into our messages.
const ERROR_TEXT_MAX: usize = 500;

/// How long one mgrctl call may take unless `[mgrctl] timeout_secs` says
/// otherwise (the same default). The real mgrctl waits for BILLmanager's
/// core, which may be restarting; a hung call must not hold the running
/// operation (and our item lock) longer than a parallel run waits for it
/// (`lock_wait_secs`, 30 s by default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// `processing.savebalance` parameters: module id, amount, currency code.
/// INFER (evidence-2026-12 "getbalance", 3P-CODE N4; module-protocol.md
/// §10.3 OPDOM): seen in third-party modules, never in ISPsystem's own code;
/// `notify_time` of OPDOM is not sent (its meaning is unknown).
pub const SAVEBALANCE_PARAMS: (&str, &str, &str) = ("processingmodule", "balance", "currency");

/// The local `mgrctl`.
#[derive(Debug, Clone)]
pub struct Mgrctl {
    program: PathBuf,
    root: PathBuf,
    timeout: Duration,
}

fn billing_error(func: &str, message: impl Into<String>) -> ModuleError {
    ModuleError::new(ErrorKind::Billing, message).with_object(func.to_string())
}

impl Mgrctl {
    pub fn new(root: &MgrRoot) -> Mgrctl {
        Mgrctl {
            program: root.mgrctl(),
            root: root.root().to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// With the limit per call from `[mgrctl] timeout_secs`.
    pub fn configured(root: &MgrRoot, config: &crate::config::Config) -> Mgrctl {
        Mgrctl::new(root).with_timeout(config.mgrctl.timeout())
    }

    /// Another limit per call than [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Mgrctl {
        self.timeout = timeout;
        self
    }

    /// Run one function and return the parsed answer (`<doc>`).
    pub fn call(&self, func: &str, params: &[(&str, &str)]) -> Result<Node> {
        // A secret must never reach argv (visible in `ps`, BILLmanager's logs).
        for (k, v) in params {
            if contains_secret(v) || contains_secret(k) {
                debug_assert!(false, "a secret was about to be passed to mgrctl {func}");
                return Err(ModuleError::internal(format!(
                    "refusing to pass a secret to mgrctl {func} (parameter '{}')",
                    redact(k)
                )));
            }
        }
        log::debug!("mgrctl {func} {}", describe_params(params));
        let mut command = Command::new(&self.program);
        command
            .args(["-m", "billmgr", "-o", "xml", func])
            .args(params.iter().map(|(k, v)| format!("{k}={v}")))
            .current_dir(&self.root)
            .env("SSH_CONNECTION", MODULE_NAME)
            // The real mgrctl ignores it; a stand-in finds its root by it.
            .env("MGR5_ROOT", &self.root)
            .stdin(Stdio::null());
        let finished = run_with_timeout(&mut command, self.timeout)
            .map_err(|e| {
                billing_error(
                    func,
                    format!(
                        "cannot run {}: {e}; is BILLmanager installed under {}?",
                        self.program.display(),
                        self.root.display()
                    ),
                )
            })?
            .ok_or_else(|| {
                billing_error(
                    func,
                    format!(
                        "BILLmanager's mgrctl {func} did not finish within {} s and was stopped; \
                         whether it was applied is unknown. Check that BILLmanager is running",
                        self.timeout.as_secs()
                    ),
                )
            })?;
        if finished.overflow {
            return Err(billing_error(
                func,
                format!(
                    "BILLmanager's mgrctl {func} wrote more than {MAX_OUTPUT_BYTES} bytes, which is \
                     not an answer; whether it was applied is unknown"
                ),
            ));
        }
        let output = finished.output;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let parsed = parse_tree(&stdout);
        let error_text = parsed.as_ref().ok().and_then(error_of);
        if !output.status.success() {
            let code = output
                .status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("code {c}"));
            let detail = error_text
                .or_else(|| first_line(&stderr))
                .or_else(|| first_line(&stdout))
                .unwrap_or_else(|| "no output".into());
            log::debug!("mgrctl {func} failed with {code}: {detail}");
            return Err(billing_error(
                func,
                format!("BILLmanager's mgrctl {func} failed (exit {code}): {detail}"),
            ));
        }
        if let Some(detail) = error_text {
            log::debug!("mgrctl {func} answered an error: {detail}");
            return Err(billing_error(
                func,
                format!("BILLmanager's mgrctl {func} answered an error: {detail}"),
            ));
        }
        parsed.map_err(|e| {
            billing_error(
                func,
                format!("BILLmanager's mgrctl {func} did not answer an XML document: {e}"),
            )
        })
    }

    /// Database settings: `paramlist` → `{DBHost: …, DBUser: …, …}` (§9.1).
    /// The map holds `DBPassword`; callers wrap it in a `Secret` at once.
    pub fn paramlist(&self) -> Result<BTreeMap<String, String>> {
        let doc = self.call("paramlist", &[])?;
        let mut out = BTreeMap::new();
        for child in &doc.children {
            if child.name == "elem" {
                for kv in &child.children {
                    out.insert(kv.name.clone(), value_of(kv));
                }
            } else {
                // Tolerate a flat `<doc><DBHost>…</DBHost>…</doc>` too.
                out.insert(child.name.clone(), value_of(child));
            }
        }
        Ok(out)
    }

    fn post(&self, func: &str, item: u64) -> Result<()> {
        let id = item.to_string();
        self.call(func, &[("elid", &id), ("sok", "ok")]).map(drop)
    }

    /// Open finished: the service becomes active, the running operation goes.
    pub fn postopen(&self, item: u64) -> Result<()> {
        self.post("service.postopen", item)
    }
    pub fn postsuspend(&self, item: u64) -> Result<()> {
        self.post("service.postsuspend", item)
    }
    pub fn postresume(&self, item: u64) -> Result<()> {
        self.post("service.postresume", item)
    }
    pub fn postclose(&self, item: u64) -> Result<()> {
        self.post("service.postclose", item)
    }
    pub fn postprolong(&self, item: u64) -> Result<()> {
        self.post("service.postprolong", item)
    }
    pub fn postreopen(&self, item: u64) -> Result<()> {
        self.post("service.postreopen", item)
    }
    pub fn postsetparam(&self, item: u64) -> Result<()> {
        self.post("service.postsetparam", item)
    }

    /// Undo a pending change of tariff (`item.lastpricelist`) after a
    /// refused `setparam` (module-protocol.md §6.3, §10.3; L-MOD Run()).
    pub fn changepricelist_rollback(&self, item: u64) -> Result<()> {
        self.post("service.changepricelist.rollback", item)
    }

    /// Report the upstream balance of processing module `module`, for the
    /// dashboard's "Reselling services balance" and the low-balance notice.
    /// The parameter names are inferred ([`SAVEBALANCE_PARAMS`]).
    pub fn savebalance(&self, module: u64, balance: Decimal, currency: Option<&str>) -> Result<()> {
        let (p_module, p_balance, p_currency) = SAVEBALANCE_PARAMS;
        let id = module.to_string();
        let amount = balance.to_string();
        let mut params = vec![(p_module, id.as_str()), (p_balance, amount.as_str())];
        if let Some(c) = currency.map(str::trim).filter(|c| !c.is_empty()) {
            params.push((p_currency, c));
        }
        params.push(("sok", "ok"));
        self.call("processing.savebalance", &params).map(drop)
    }

    /// Set a plain item param (C++ form `name=… value=…`, L-MOD SaveParam).
    pub fn saveparam(&self, item: u64, name: &str, value: &str) -> Result<()> {
        let id = item.to_string();
        self.call(
            "service.saveparam",
            &[
                ("elid", &id),
                ("sok", "ok"),
                ("name", name),
                ("value", value),
            ],
        )
        .map(drop)
    }

    /// Certificate sub-status (see [`crate::vocab::ServiceStatus`] for the values).
    pub fn setstatus(&self, item: u64, service_status: u8) -> Result<()> {
        let id = item.to_string();
        let st = service_status.to_string();
        self.call(
            "service.setstatus",
            &[("elid", &id), ("service_status", &st), ("sok", "ok")],
        )
        .map(drop)
    }

    pub fn setexpiredate(&self, item: u64, date: NaiveDate) -> Result<()> {
        let id = item.to_string();
        let d = date.format("%Y-%m-%d").to_string();
        self.call(
            "service.setexpiredate",
            &[("elid", &id), ("expiredate", &d), ("sok", "ok")],
        )
        .map(drop)
    }

    /// Store the issued certificate (PEM, chain included as the caller wants).
    /// Save the issued certificate as the upstream gave it: PEM text, or a
    /// base64 ZIP with `crt_type=zip` (field-2026-12.md §8; `issued::crt_type`).
    pub fn certificate_save(&self, item: u64, crt: &str, crt_type: Option<&str>) -> Result<()> {
        let id = item.to_string();
        let mut args: Vec<(&str, &str)> = vec![("elid", &id), ("crt", crt)];
        if let Some(t) = crt_type {
            args.push(("crt_type", t));
        }
        args.push(("sok", "ok"));
        self.call("certificate.save", &args).map(drop)
    }

    pub fn certificate_open(&self, item: u64) -> Result<()> {
        self.post("certificate.open", item)
    }

    pub fn certificate_failed(&self, item: u64) -> Result<()> {
        self.post("certificate.failed", item)
    }

    /// Attach an error document to the running operation (§11.3).
    pub fn runningoperation_error(&self, ro: u64, errorxml: &str) -> Result<()> {
        let id = ro.to_string();
        self.call(
            "runningoperation.edit",
            &[("elid", &id), ("errorxml", errorxml), ("sok", "ok")],
        )
        .map(drop)
    }

    /// Send a call built as owned `(name, value)` pairs (the problem calls).
    pub fn call_pairs(&self, func: &str, params: &[(&'static str, String)]) -> Result<()> {
        let args: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call(func, &args).map(drop)
    }

    /// Stop automatic reruns of the running operation.
    pub fn runningoperation_setmanual(&self, ro: u64) -> Result<()> {
        let id = ro.to_string();
        self.call(
            "runningoperation.setmanual",
            &[("elid", &id), ("sok", "ok")],
        )
        .map(drop)
    }

    /// The admin-task type BILLmanager wants for a failed `operation`;
    /// `None` when it answers none.
    pub fn task_gettype(&self, operation: &str, item: u64) -> Result<Option<String>> {
        let id = item.to_string();
        let doc = self.call("task.gettype", &[("operation", operation), ("item", &id)])?;
        let task_type = doc.child_text("task_type").map(str::to_string);
        Ok(task_type)
    }

    /// Open an admin task for the running operation.
    pub fn task_edit(&self, item: u64, ro: u64, task_type: &str) -> Result<()> {
        let item = item.to_string();
        let ro = ro.to_string();
        self.call(
            "task.edit",
            &[
                ("item", &item),
                ("runningoperation", &ro),
                ("type", task_type),
                ("sok", "ok"),
            ],
        )
        .map(drop)
    }
}

/// Most output read from one mgrctl call; real answers are a few KiB. More is
/// drained and dropped (so the child never blocks on a full pipe) and the call
/// fails.
const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// Longest pause between checks whether the child has exited while a pipe is
/// still open (a grandchild may hold it open after the child is gone).
const MAX_POLL_PAUSE: Duration = Duration::from_millis(20);

/// One pipe of the child: what was read, and whether it can still give more.
struct Pipe<R> {
    reader: R,
    data: Vec<u8>,
    open: bool,
    overflow: bool,
}

impl<R: Read + std::os::fd::AsRawFd> Pipe<R> {
    fn new(reader: R) -> std::io::Result<Pipe<R>> {
        let fd = reader.as_raw_fd();
        // SAFETY: fcntl on a pipe fd we own; flags read, then O_NONBLOCK added.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
        };
        if !ok {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Pipe {
            reader,
            data: Vec::new(),
            open: true,
            overflow: false,
        })
    }

    /// Read all that is there now, without blocking.
    fn drain(&mut self) {
        let mut buf = [0u8; 64 * 1024];
        while self.open {
            match self.reader.read(&mut buf) {
                Ok(0) => self.open = false,
                Ok(n) => {
                    let room = MAX_OUTPUT_BYTES.saturating_sub(self.data.len());
                    self.data.extend_from_slice(&buf[..n.min(room)]);
                    self.overflow |= n > room;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => self.open = false,
            }
        }
    }
}

/// Wait until one of the open pipes has data or is closed, or `pause` passes.
fn wait_readable(fds: &[i32], pause: Duration) {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = pause.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: a valid array of pollfd of the given length. EINTR or an error
    // just means one more round of the caller's loop.
    unsafe {
        libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, ms);
    }
}

/// Run to completion, or kill after `timeout` (`Ok(None)`).
///
/// The child gets a process group of its own, and on timeout the whole group
/// is killed (a shell wrapper's children too). Reading ends when the child
/// exits: whatever it wrote is in the pipes by then and is drained, and a
/// process it left behind holding the pipes open cannot hold us. Output is
/// capped at [`MAX_OUTPUT_BYTES`] per pipe.
fn run_with_timeout(command: &mut Command, timeout: Duration) -> std::io::Result<Option<Finished>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = child.id() as libc::pid_t;
    let kill_group = |child: &mut std::process::Child| {
        // SAFETY: plain syscall. The group id is the child's pid, which stays
        // ours until the child is reaped below, so no other group is hit.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    };
    let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(o), Some(e)) => (o, e),
        _ => {
            kill_group(&mut child);
            return Err(std::io::Error::other("mgrctl pipes missing"));
        }
    };
    let pipes = Pipe::new(stdout).and_then(|o| Ok((o, Pipe::new(stderr)?)));
    let (mut out, mut err) = match pipes {
        Ok(p) => p,
        Err(e) => {
            kill_group(&mut child);
            return Err(e);
        }
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let mut exit_pause = Duration::from_millis(1);
    let status = loop {
        out.drain();
        err.drain();
        let exited = match child.try_wait() {
            Ok(exited) => exited,
            Err(e) => {
                kill_group(&mut child);
                return Err(e);
            }
        };
        if let Some(status) = exited {
            // Everything the child wrote is in the pipes now.
            out.drain();
            err.drain();
            break status;
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(&mut child);
            return Ok(None);
        }
        let mut open = Vec::with_capacity(2);
        if out.open {
            open.push(out.reader.as_raw_fd());
        }
        if err.open {
            open.push(err.reader.as_raw_fd());
        }
        if open.is_empty() {
            // Both pipes closed: the child is exiting; look again soon.
            std::thread::sleep(exit_pause.min(deadline - now));
            exit_pause = (exit_pause * 2).min(Duration::from_millis(5));
        } else {
            // Woken at once by output or by the pipes closing.
            wait_readable(&open, pause.min(deadline - now));
            pause = (pause * 2).min(MAX_POLL_PAUSE);
        }
    };
    Ok(Some(Finished {
        output: Output {
            status,
            stdout: out.data,
            stderr: err.data,
        },
        overflow: out.overflow || err.overflow,
    }))
}

/// A child that exited by itself.
struct Finished {
    output: Output,
    /// It wrote more than [`MAX_OUTPUT_BYTES`] to a pipe; the rest was dropped.
    overflow: bool,
}

/// `k=v …` for the debug log: crypted values masked, long values shortened,
/// everything through `redact`.
fn describe_params(params: &[(&str, &str)]) -> String {
    let crypted = params.iter().any(|(k, v)| *k == "crypted" && *v == "on");
    let structural = ["elid", "sok", "crypted", "name", "item", "func"];
    params
        .iter()
        .map(|(k, v)| {
            let shown = if crypted && !structural.contains(k) {
                MASK.to_string()
            } else if v.chars().count() > LOG_VALUE_MAX {
                format!("<{} chars>", v.chars().count())
            } else {
                redact(v).replace('\n', "\\n")
            };
            format!("{k}={shown}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| crate::quote::shorten(&redact(l), ERROR_TEXT_MAX))
}

/// A value element's text as BILLmanager wrote it; blank means empty.
fn value_of(e: &Node) -> String {
    if e.text.trim().is_empty() {
        String::new()
    } else {
        e.text.clone()
    }
}

/// `type (object): msg` of a `/doc/error`, if the answer is an error.
fn error_of(doc: &Node) -> Option<String> {
    let err = doc.child("error")?;
    let mut text = err.attr("type").unwrap_or("error").to_string();
    if let Some(o) = err.attr("object") {
        text.push_str(&format!(" ({o})"));
    }
    let msg = err.child_text("msg").unwrap_or_else(|| err.text.trim());
    if !msg.is_empty() {
        text.push_str(": ");
        text.push_str(msg);
    }
    Some(crate::quote::shorten(&redact(&text), ERROR_TEXT_MAX))
}

/// A call as a function name and owned `(name, value)` pairs.
pub type PairCall = (&'static str, Vec<(&'static str, String)>);

/// One admin problem in BILLmanager's problem list: `problems.register
/// name id <extra param_*> param_errormsg level=error sok=ok`, the shape
/// confirmed for connection problems (module-protocol.md §10.3, §11.3 item
/// 4, L-MOD); every problem the module raises (credential, charges, deploy)
/// is built here, so the guess lives in one place.
pub fn problem_register_call(
    name: &str,
    id: u64,
    extra: Vec<(&'static str, String)>,
    errormsg: String,
) -> PairCall {
    let mut params = vec![("name", name.to_string()), ("id", id.to_string())];
    params.extend(extra);
    params.extend([
        ("param_errormsg", errormsg),
        ("level", "error".to_string()),
        ("sok", "ok".to_string()),
    ]);
    ("problems.register", params)
}

/// Taking a problem back. OUR GUESS, kept here only: no source shows it;
/// `problems.delete` with the same name and id is assumed (BILLmanager's
/// lists delete with `<list>.delete`).
pub fn problem_delete_call(name: &str, id: u64) -> PairCall {
    (
        "problems.delete",
        vec![
            ("name", name.to_string()),
            ("id", id.to_string()),
            ("sok", "ok".to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paramlist_shape() {
        let d = parse_tree(
            "<?xml version=\"1.0\"?>\n<doc><elem><DBHost>localhost</DBHost></elem><elem><DBPassword/></elem></doc>",
        )
        .unwrap();
        assert_eq!(d.name, "doc");
        assert_eq!(d.children.len(), 2);
        assert_eq!(d.children[0].child_text("DBHost"), Some("localhost"));
    }

    #[test]
    fn error_text_from_answer() {
        let d = parse_tree(
            "<doc><error type=\"missed\" object=\"elid\"><msg>no &amp; elid</msg></error></doc>",
        )
        .unwrap();
        assert_eq!(error_of(&d).unwrap(), "missed (elid): no & elid");
        assert!(error_of(&parse_tree("<doc><ok/></doc>").unwrap()).is_none());
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(parse_tree("").is_err());
        assert!(parse_tree("<doc><a></doc>").is_err());
        assert!(parse_tree("<doc>").is_err());
        assert!(parse_tree("not xml").is_err());
        assert!(parse_tree("<doc/><doc/>").is_err());
    }

    #[test]
    fn crypted_values_masked_in_log() {
        let s = describe_params(&[
            ("elid", "5"),
            ("sok", "ok"),
            ("token", "tok-very-private"),
            ("crypted", "on"),
        ]);
        assert_eq!(s, "elid=5 sok=ok token=*** crypted=on");
        let long = "x".repeat(500);
        let s = describe_params(&[("crt", &long), ("name", "a\nb")]);
        assert_eq!(s, "crt=<500 chars> name=a\\nb");
    }

    #[test]
    fn refuses_to_pass_a_secret() {
        let _s = crate::secret::Secret::new("upstream-pass-QX81");
        let m = Mgrctl::new(&MgrRoot::new("/nonexistent"));
        let r = std::panic::catch_unwind(|| {
            m.call("service.saveparam", &[("value", "x upstream-pass-QX81 y")])
        });
        let debug_build = cfg!(debug_assertions);
        match r {
            // Debug builds stop at the debug_assert.
            Err(_) => assert!(debug_build),
            Ok(res) => assert_eq!(res.unwrap_err().kind, ErrorKind::Internal),
        }
    }

    #[test]
    fn a_hung_mgrctl_is_stopped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        let script = dir.path().join("sbin/mgrctl");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let m = Mgrctl::new(&MgrRoot::new(dir.path())).with_timeout(Duration::from_millis(200));
        let e = m.postopen(1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(e.message.contains("unknown"), "{}", e.message);
    }

    #[test]
    fn exit_code_and_stderr_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        let script = dir.path().join("sbin/mgrctl");
        std::fs::write(&script, "#!/bin/sh\necho 'core is down' >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = Mgrctl::new(&MgrRoot::new(dir.path()))
            .postopen(1)
            .unwrap_err();
        assert!(e.message.contains("exit code 3"), "{}", e.message);
        assert!(e.message.contains("core is down"), "{}", e.message);
        // Exit 0 with an error document is an error too; exit 0 with junk as well.
        std::fs::write(
            &script,
            "#!/bin/sh\necho '<doc><error type=\"access\"/></doc>'\n",
        )
        .unwrap();
        let e = Mgrctl::new(&MgrRoot::new(dir.path()))
            .postopen(1)
            .unwrap_err();
        assert!(e.message.contains("access"), "{}", e.message);
        std::fs::write(&script, "#!/bin/sh\necho 'Segmentation fault'\n").unwrap();
        let e = Mgrctl::new(&MgrRoot::new(dir.path()))
            .postopen(1)
            .unwrap_err();
        assert!(
            e.message.contains("did not answer an XML document"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_background_process_holding_stdout_does_not_block() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        let script = dir.path().join("sbin/mgrctl");
        // The background sleep inherits stdout and keeps it open for 30 s.
        std::fs::write(
            &script,
            "#!/bin/sh\nsleep 30 &\necho '<doc><ok/></doc>'\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let m = Mgrctl::new(&MgrRoot::new(dir.path())).with_timeout(Duration::from_secs(20));
        let started = Instant::now();
        m.postopen(1).expect("the answer of the exited child");
        // A hang guard: the background process lives 30 s.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    /// Alive and not a zombie.
    fn running(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
            Err(_) => false,
        }
    }

    #[test]
    fn a_hung_mgrctl_is_killed_with_its_process_group() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        let script = dir.path().join("sbin/mgrctl");
        let pid_file = dir.path().join("background.pid");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\necho $! > {}\nsleep 30\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let m = Mgrctl::new(&MgrRoot::new(dir.path())).with_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let e = m.postopen(1).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(e.message.contains("did not finish within"), "{}", e.message);
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the script started its background process")
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered at once, reaping by init may take a moment.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !running(pid)
        });
        assert!(gone, "the background process {pid} outlived the timeout");
    }

    #[test]
    fn endless_output_is_an_error_not_a_hang() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sbin")).unwrap();
        let script = dir.path().join("sbin/mgrctl");
        // 20 MiB of output, then a normal exit.
        std::fs::write(
            &script,
            "#!/bin/sh\nhead -c 20971520 /dev/zero | tr '\\0' x\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let m = Mgrctl::new(&MgrRoot::new(dir.path())).with_timeout(Duration::from_secs(20));
        let e = m.postopen(1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(e.message.contains("wrote more than"), "{}", e.message);
    }

    #[test]
    fn missing_program_is_a_billing_error() {
        let m = Mgrctl::new(&MgrRoot::new("/nonexistent"));
        let e = m.postopen(1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert_eq!(e.object.as_deref(), Some("service.postopen"));
        assert!(
            e.message.contains("/nonexistent/sbin/mgrctl"),
            "{}",
            e.message
        );
    }
}
