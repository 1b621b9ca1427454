//! The mgrctl core: a long-lived process per BILLmanager root that applies the calls of the thin
//! `mgrctl` clients (client.rs) over a pool of database connections, as BILLmanager's own core
//! does for its `mgrctl`.
//!
//! `billmgr-sim mgrctl-core --root R` serves `R/var/run/billmgr-sim-core.sock`; a client starts
//! it when no core answers. Each connection carries one call ([`Request`]: the argv, the
//! caller's pid, `SSH_CONNECTION`, working directory and test clock) and gets one [`Answer`]
//! (stdout, stderr, exit code) back, both one JSON line. Calls are applied on a thread each by
//! [`super::apply`], the code of direct mode, with billmgr-sim.conf read per call.
//!
//! Exactly one core per root: it holds an exclusive lock on `var/run/billmgr-sim-core.lock` for
//! its life, so a second one started by mistake goes away, and a socket file left by a killed
//! core is removed before binding. It stops by itself after `CoreIdle` seconds without a call
//! (default 10) or on SIGTERM/SIGINT: first the socket and pid file go (new clients start a new
//! core), then calls already connected are answered, then it exits and its connections close.
//! Tests leave no process or MariaDB connection behind. `billmgr-sim mgrctl-core --root R
//! --stop` stops the core of a root (what the tests' `TestMgr` does when dropped).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

use super::conf::Conf;
use super::pool::{DbSlot, Pool};
use super::wire::{Paths, Request, PROTOCOL};
use super::{apply, Answer, SimError};

/// A request larger than this is refused (the longest real value, a certificate chain or an
/// error XML, is a few KiB).
const MAX_REQUEST: u64 = 16 * 1024 * 1024;
/// How long the core waits for a connected client to send its call, and for it to take the
/// answer.
const CLIENT_IO: Duration = Duration::from_secs(10);
/// How often the accept loop looks at the idle clock and the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// How long a starting core waits for the lock of one on its way out.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// On the way out, how long calls already taken may still run (a call waiting on an InnoDB
/// lock gives up after 50 s by default).
const FINISH_CALLS: Duration = Duration::from_secs(60);

#[derive(Parser, Debug)]
#[command(about = "The mgrctl stand-in's core: applies calls of mgrctl clients (Core on)")]
struct Args {
    /// The BILLmanager root whose calls this core applies.
    #[arg(long)]
    root: PathBuf,
    /// Stop the running core of that root (SIGTERM, then SIGKILL after 10 s) and return.
    #[arg(long)]
    stop: bool,
}

pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match crate::parse_args("billmgr-sim mgrctl-core", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let root = match std::path::absolute(&args.root) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "billmgr-sim mgrctl-core: --root {}: {e}",
                args.root.display()
            );
            return 1;
        }
    };
    let result = if args.stop { stop(&root) } else { serve(&root) };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("billmgr-sim mgrctl-core: {e}");
            1
        }
    }
}

/// One line in the core's log (`var/billmgr-sim-core.log`).
fn log(paths: &Paths, msg: &str) {
    let line = format!(
        "{} core {}: {msg}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f"),
        std::process::id()
    );
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
}

struct Shared {
    root: PathBuf,
    pool: Pool,
    /// Calls taken and not yet answered.
    active: AtomicUsize,
    /// When the last call was taken or answered.
    last: Mutex<Instant>,
    served: AtomicUsize,
}

impl Shared {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

/// Counts a call as running until dropped, even when its thread panics.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve(root: &Path) -> Result<(), String> {
    let paths = Paths::of(root);
    std::fs::create_dir_all(&paths.run)
        .map_err(|e| format!("cannot create {}: {e}", paths.run.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(|e| format!("cannot open {}: {e}", paths.lock.display()))?;
    // A client starts a core only when no socket answers, so a holder of the lock is a core on
    // its way out (it lets go right after removing its socket) or, rarely, one started beside
    // us: wait a little for the lock rather than leave the client waiting for nobody.
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                log(&paths, "another core serves this root; not starting");
                return Ok(());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", paths.lock.display()))
            }
        }
    }
    // Blocked before any other thread starts, so only the waiter below sees them.
    let signals = crate::upstream::block_termination_signals()?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                crate::upstream::wait_for(&signals);
                stop.store(true, Ordering::SeqCst);
            })
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    }
    // We hold the lock, so a socket file here is a dead core's.
    match std::fs::remove_file(&paths.socket) {
        Ok(()) => log(&paths, "removed the socket of a core that is gone"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", paths.socket.display())),
    }
    let listener = UnixListener::bind(&paths.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", paths.socket.display()))?;
    let ours = file_id(&paths.socket);
    write_pid(&paths)?;
    let idle = Conf::load(root).unwrap_or_default().core_idle();
    log(
        &paths,
        &format!(
            "serving {} at {} (stops after {} s without a call)",
            root.display(),
            paths.socket.display(),
            idle.as_secs()
        ),
    );
    let shared = Arc::new(Shared {
        root: root.to_path_buf(),
        pool: Pool::new(),
        active: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
        served: AtomicUsize::new(0),
    });
    let why = loop {
        if stop.load(Ordering::SeqCst) {
            break "SIGTERM/SIGINT";
        }
        if shared.active.load(Ordering::SeqCst) == 0 && shared.idle_for() >= idle {
            break "idle";
        }
        if readable(listener.as_raw_fd(), TICK) {
            match listener.accept() {
                Ok((stream, _)) => dispatch(&shared, stream, &paths),
                Err(e) => {
                    log(&paths, &format!("accept failed: {e}"));
                    std::thread::sleep(TICK);
                }
            }
        }
    };
    // New clients find no socket from here on and start the next core, which can take the lock
    // at once; what is already connected is still answered below.
    // Only our own socket file (under our lock it should be; one put there by hand stays).
    if ours.is_some() && file_id(&paths.socket) == ours {
        let _ = std::fs::remove_file(&paths.socket);
    }
    let _ = std::fs::remove_file(&paths.pid);
    drop(lock);
    let deadline = Instant::now() + FINISH_CALLS;
    loop {
        drain(&shared, &listener, &paths);
        if shared.active.load(Ordering::SeqCst) == 0 {
            // A client whose connect raced the unlink is in the backlog now or never.
            drain(&shared, &listener, &paths);
            if shared.active.load(Ordering::SeqCst) == 0 {
                break;
            }
        }
        if Instant::now() >= deadline {
            log(
                &paths,
                &format!(
                    "{} calls still running after {} s; exiting without their answers",
                    shared.active.load(Ordering::SeqCst),
                    FINISH_CALLS.as_secs()
                ),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    log(
        &paths,
        &format!(
            "stopped ({why}) after {} calls",
            shared.served.load(Ordering::SeqCst)
        ),
    );
    Ok(())
}

/// Answers every connection waiting in the backlog.
fn drain(shared: &Arc<Shared>, listener: &UnixListener, paths: &Paths) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while let Ok((stream, _)) = listener.accept() {
        if stream.set_nonblocking(false).is_ok() {
            dispatch(shared, stream, paths);
        }
    }
}

/// Device and inode of `path`, to tell our socket file from another one at the same path.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

fn write_pid(paths: &Paths) -> Result<(), String> {
    let tmp = paths.run.join("billmgr-sim-core.pid.tmp");
    std::fs::write(&tmp, format!("{}\n", std::process::id()))
        .and_then(|()| std::fs::rename(&tmp, &paths.pid))
        .map_err(|e| format!("cannot write {}: {e}", paths.pid.display()))
}

/// Whether `fd` has a connection to accept within `timeout`.
fn readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, owned for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n > 0 && p.revents & libc::POLLIN != 0
}

fn dispatch(shared: &Arc<Shared>, stream: UnixStream, paths: &Paths) {
    shared.active.fetch_add(1, Ordering::SeqCst);
    shared.touch();
    let running = Running(Arc::clone(shared));
    let spawned = std::thread::Builder::new()
        .name("call".into())
        .spawn(move || {
            let shared = Arc::clone(&running.0);
            handle(&shared, stream);
            drop(running);
        });
    if let Err(e) = spawned {
        // The closure (and with it the stream and the running count) is dropped: the client
        // sees the connection closed without an answer and reports that.
        log(paths, &format!("cannot start a thread for a call: {e}"));
    }
}

fn handle(shared: &Shared, stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(CLIENT_IO));
    let _ = stream.set_write_timeout(Some(CLIENT_IO));
    let mut line = Vec::new();
    let read = BufReader::new((&stream).take(MAX_REQUEST)).read_until(b'\n', &mut line);
    if read.is_err() || line.is_empty() {
        // The client went away before sending its call: nothing to apply.
        return;
    }
    let answer = match serde_json::from_slice::<Request>(&line) {
        Ok(r) if r.protocol == PROTOCOL => {
            let mut slot = DbSlot::pooled(&shared.pool);
            apply(&shared.root, &r.caller, &r.args, &mut slot)
        }
        Ok(r) => Answer::failure(&SimError::new(
            "core",
            "protocol",
            format!(
                "the mgrctl core speaks protocol {PROTOCOL}, the client {} (another build of billmgr-sim); \
                 stop the core (billmgr-sim mgrctl-core --root R --stop) and call again",
                r.protocol
            ),
        )),
        Err(e) => Answer::failure(&SimError::new(
            "core",
            "request",
            format!("the mgrctl core cannot read the call: {e}"),
        )),
    };
    shared.served.fetch_add(1, Ordering::SeqCst);
    let mut text = serde_json::to_string(&answer).unwrap_or_default();
    text.push('\n');
    // A client killed mid-call does not take its answer; the call stands (as with a real
    // mgrctl killed while BILLmanager applies its call).
    let _ = (&stream).write_all(text.as_bytes());
}

/// Whether `pid` is a running (not exited) core: a pid file may outlive its core, and the pid
/// may since belong to another process.
fn is_core(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let running = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X');
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    running && cmdline.split(|b| *b == 0).any(|a| a == b"mgrctl-core")
}

/// Stops the core of `root`, if one runs, and waits until it is gone (its connections closed).
fn stop(root: &Path) -> Result<(), String> {
    let paths = Paths::of(root);
    let lock = match std::fs::OpenOptions::new().write(true).open(&paths.lock) {
        Ok(f) => f,
        // No core ever ran here.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot open {}: {e}", paths.lock.display())),
    };
    // The lock free means no core: what is left are the files of one killed hard.
    if lock.try_lock().is_ok() {
        let _ = std::fs::remove_file(&paths.socket);
        let _ = std::fs::remove_file(&paths.pid);
        return Ok(());
    }
    let text = std::fs::read_to_string(&paths.pid).map_err(|e| {
        format!(
            "a core holds {} but {} cannot be read: {e}",
            paths.lock.display(),
            paths.pid.display()
        )
    })?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{} holds no pid: '{}'", paths.pid.display(), text.trim()))?;
    if !is_core(pid) {
        return Err(format!(
            "{} names {pid}, which is not a billmgr-sim core; not signalling it",
            paths.pid.display()
        ));
    }
    for (signal, wait) in [
        (libc::SIGTERM, Duration::from_secs(10)),
        (libc::SIGKILL, Duration::from_secs(5)),
    ] {
        // SAFETY: plain syscall; `pid` is the core that holds this root's lock (checked above).
        unsafe {
            libc::kill(pid, signal);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if !is_core(pid) {
                if signal == libc::SIGKILL {
                    let _ = std::fs::remove_file(&paths.socket);
                    let _ = std::fs::remove_file(&paths.pid);
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Err(format!("the core {pid} of {} did not stop", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_that_is_not_a_core_is_not_stopped() {
        assert!(!is_core(std::process::id() as i32));
        assert!(!is_core(i32::MAX));
    }

    #[test]
    fn stopping_a_root_without_a_core_only_clears_dead_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stop(dir.path()), Ok(()));
        let paths = Paths::of(dir.path());
        std::fs::create_dir_all(&paths.run).unwrap();
        std::fs::write(&paths.lock, "").unwrap();
        std::fs::write(&paths.pid, "1\n").unwrap();
        std::fs::write(&paths.socket, "").unwrap();
        assert_eq!(stop(dir.path()), Ok(()));
        assert!(!paths.pid.exists() && !paths.socket.exists());
    }
}
