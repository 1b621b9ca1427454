//! The thin `mgrctl` of core mode (`Core on`): hands the call to the root's core (server.rs) over
//! its Unix socket, prints the answer and exits with its code. It never opens a database
//! connection: that handshake, paid by every process of direct mode, is what core mode saves.
//!
//! When no core answers (no socket file, or one left by a dead core), the client starts one,
//! detached in a session of its own (the module kills a timed-out mgrctl's whole process group,
//! and a core must outlive that), and waits for it at most [`START_DEADLINE`]. Clients starting
//! at once take turns on `var/run/billmgr-sim-core.start`, and whoever comes second finds the
//! first one's core, so 8 first calls start one core. Every wait is bounded; a core that goes
//! away mid-call is an error answer (exit 1) saying that the call may or may not have been
//! applied, and the next call starts a new core.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::wire::{encode_request, Answer, Caller, Paths, Request, SimError, PROTOCOL};

/// How long a client waits for a core it (or another client) is starting.
pub const START_DEADLINE: Duration = Duration::from_secs(5);
/// How long a client waits for the answer: longer than any call takes (an InnoDB lock wait gives
/// up after 50 s) and than the module's mgrctl timeout (15 s by default), which kills the
/// client first.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(120);
/// Sending a call never takes long: the core reads it at once.
const SEND_DEADLINE: Duration = Duration::from_secs(10);

fn core_error(msg: String) -> SimError {
    SimError::new("core", "mgrctl-core", msg)
}

/// Hands `args` (after `mgrctl`) to the core of `root`, starting one with `core_exe
/// mgrctl-core` when none answers; prints the answer and returns the exit code.
pub fn main(root: &Path, args: &[String], core_exe: &Path) -> i32 {
    let request = Request {
        protocol: PROTOCOL,
        caller: Caller::of_this_process(),
        args: args.to_vec(),
    };
    match call(root, &request, core_exe) {
        Ok(answer) => answer.print(),
        Err(e) => Answer::failure(&e).print(),
    }
}

/// The function named in `args`, for messages: the first word that is neither an option nor
/// an option's value (the core parses the call for real).
fn func_of(args: &[String]) -> &str {
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if w == "-m" || w == "-o" {
            words.next();
        } else if !w.starts_with('-') {
            return w;
        }
    }
    "the call"
}

fn call(root: &Path, request: &Request, core_exe: &Path) -> Result<Answer, SimError> {
    // An absolute root: the core is started elsewhere and named by it in the process list.
    let root = std::path::absolute(root)
        .map_err(|e| core_error(format!("root {}: {e}", root.display())))?;
    let paths = Paths::of(&root);
    let text = encode_request(request)?;
    let func = func_of(&request.args);
    let stream = match connect(&paths)? {
        Some(s) => s,
        None => start_core(&root, &paths, core_exe)?,
    };
    exchange(stream, &text, func, &paths)
}

/// The running core's connection, `None` when no core listens.
fn connect(paths: &Paths) -> Result<Option<UnixStream>, SimError> {
    match UnixStream::connect(&paths.socket) {
        Ok(s) => Ok(Some(s)),
        // No socket yet, or the file of a core that is gone.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(core_error(format!(
            "cannot reach the mgrctl core at {}: {e}{}",
            paths.socket.display(),
            if e.kind() == std::io::ErrorKind::InvalidInput {
                " (a Unix socket path is limited to 107 bytes: use a shorter BILLmanager root)"
            } else {
                ""
            }
        ))),
    }
}

/// Starts the root's core (`core_exe mgrctl-core --root R`), unless another client does, and
/// returns a connection to it.
fn start_core(root: &Path, paths: &Paths, core_exe: &Path) -> Result<UnixStream, SimError> {
    std::fs::create_dir_all(&paths.run)
        .map_err(|e| core_error(format!("cannot create {}: {e}", paths.run.display())))?;
    let turn = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.start_lock)
        .map_err(|e| core_error(format!("cannot open {}: {e}", paths.start_lock.display())))?;
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        match turn.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(core_error(format!(
                    "cannot lock {}: {e}",
                    paths.start_lock.display()
                )))
            }
        }
        // Another client is starting one: its core may answer already.
        if let Some(s) = connect(paths)? {
            return Ok(s);
        }
        if Instant::now() >= deadline {
            return Err(core_error(format!(
                "another mgrctl call has been starting the core for {} s and nothing answers at {}; see {}",
                START_DEADLINE.as_secs(),
                paths.socket.display(),
                paths.log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Our turn; one may have come up while we waited for it.
    if let Some(s) = connect(paths)? {
        return Ok(s);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .map_err(|e| core_error(format!("cannot open {}: {e}", paths.log.display())))?;
    let log_too = log
        .try_clone()
        .map_err(|e| core_error(format!("cannot open {}: {e}", paths.log.display())))?;
    let mut command = Command::new(core_exe);
    command
        .arg("mgrctl-core")
        .arg("--root")
        .arg(root)
        .current_dir(root)
        // The caller's own settings travel with each call, never through the core's
        // environment (the first caller's would apply to every later one).
        .env_remove("SSH_CONNECTION")
        .env_remove("PMSSLRESELLER_TEST_NOW")
        // Not our stdout/stderr: whoever reads them until they close (the module, a test's
        // `output()`) would wait for the core to exit.
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_too);
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            // A session of its own: the module's kill of a timed-out mgrctl's process group
            // (and a terminal's hangup) must not reach the core.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        core_error(format!(
            "cannot start {} mgrctl-core: {e}",
            core_exe.display()
        ))
    })?;
    loop {
        if let Some(s) = connect(paths)? {
            return Ok(s);
        }
        if let Ok(Some(status)) = child.try_wait() {
            // A success is a core that found another one serving: its socket comes.
            if !status.success() {
                return Err(core_error(format!(
                    "the mgrctl core could not start ({status}); see {}",
                    paths.log.display()
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(core_error(format!(
                "started the mgrctl core (pid {}), but nothing answered at {} within {} s; see {}",
                child.id(),
                paths.socket.display(),
                START_DEADLINE.as_secs(),
                paths.log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends the call and reads the whole answer (the core closes the connection after it).
fn exchange(
    mut stream: UnixStream,
    text: &str,
    func: &str,
    paths: &Paths,
) -> Result<Answer, SimError> {
    let unknown = "whether it was applied is unknown";
    stream
        .set_write_timeout(Some(SEND_DEADLINE))
        .and_then(|()| stream.write_all(text.as_bytes()))
        .map_err(|e| {
            core_error(format!(
                "cannot send {func} to the mgrctl core at {}: {e}; {unknown}",
                paths.socket.display()
            ))
        })?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + ANSWER_DEADLINE;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(core_error(format!(
                "the mgrctl core did not answer {func} within {} s; {unknown}",
                ANSWER_DEADLINE.as_secs()
            )));
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return Err(core_error(format!("cannot wait for the answer: {e}")));
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                return Err(core_error(format!(
                    "the connection to the mgrctl core broke during {func}: {e}; {unknown}"
                )))
            }
        }
    }
    if buf.is_empty() {
        return Err(core_error(format!(
            "the mgrctl core closed the connection without answering {func} (stopped or killed \
             mid-call); {unknown}. The next call starts a new core; see {}",
            paths.log.display()
        )));
    }
    serde_json::from_slice::<Answer>(&buf).map_err(|e| {
        core_error(format!(
            "the mgrctl core's answer to {func} is cut short or unreadable ({e}); {unknown}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_is_the_first_word_that_is_no_option() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            func_of(&a(&[
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.setstatus",
                "elid=1"
            ])),
            "service.setstatus"
        );
        assert_eq!(func_of(&a(&["-m", "billmgr"])), "the call");
    }
}
