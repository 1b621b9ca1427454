//! Why the demo stops early, and its output that never panics.
//!
//! Ctrl-C, a kill or a closed terminal (SIGINT, SIGTERM, SIGHUP) and a
//! reader that went away (`make demo | head`, a `tee` killed by the same
//! Ctrl-C) all end the demo the same way: the next module run or step sees
//! [`requested`], the demo unwinds to `main`, and the world's guard cleans up.
//! `println!` would panic on a closed stdout instead (Rust ignores SIGPIPE,
//! so the write fails with EPIPE) and skip the clean-up; [`say!`] records
//! the failure and stays quiet from then on.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;
/// The exit code of a run whose stdout reader went away (128 + SIGPIPE, as
/// shells report a writer killed by it).
pub const EXIT_STDOUT_CLOSED: i32 = 141;

/// Set by SIGINT/SIGTERM/SIGHUP.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set by the first failed write to stdout.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C (or a kill, or the terminal closing) no longer ends the process on
/// the spot, which would leave the simulator, the database and the scratch
/// root behind.
pub fn catch_interrupts() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGHUP, handler);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Stdout's reader is gone: a failed write said so, or (while the demo
/// writes nothing, serving in `--keep` mode) the pipe reports it has no
/// reader left.
pub fn stdout_gone() -> bool {
    if STDOUT_GONE.load(Ordering::SeqCst) {
        return true;
    }
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait. A pipe without readers reports
    // POLLERR; a terminal or a file never does.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    if ready == 1 && fd.revents & libc::POLLERR != 0 {
        STDOUT_GONE.store(true, Ordering::SeqCst);
        return true;
    }
    false
}

/// The demo should stop: interrupted, or nobody reads its output.
pub fn requested() -> bool {
    interrupted() || stdout_gone()
}

/// One line on stdout; after the first failure nothing more is tried.
pub fn say_line(args: std::fmt::Arguments) {
    if STDOUT_GONE.load(Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    // Stdout is line-buffered: the newline sends the line and surfaces EPIPE.
    if out
        .write_fmt(args)
        .and_then(|_| out.write_all(b"\n"))
        .is_err()
    {
        STDOUT_GONE.store(true, Ordering::SeqCst);
    }
}

/// One line on stderr, for what must be seen even when stdout is gone
/// (clean-up problems); a closed stderr is ignored, not a panic.
pub fn complain(args: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|_| err.write_all(b"\n"));
}

/// `println!` for the demo: never panics (see the module header).
macro_rules! say {
    () => {
        $crate::demo::stop::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::demo::stop::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;
