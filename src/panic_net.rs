//! The panic net: a bug that panics still answers BILLmanager.
//!
//! Nothing in the module is meant to panic (bad input is an error), but a
//! bug may; without this net a panic printed Rust's dump on stderr, exited
//! 101 with nothing on stdout, logged nothing, and left its running
//! operation without an error, so BILLmanager never switched it to manual.
//!
//! - [`install`] (first thing in `crate::run`): the panic hook writes ONE
//!   line to the module log — the message, redacted and shortened, and where
//!   in the source — instead of the default dump (on stderr only while no
//!   log is open and nothing catches the panic). It never captures a
//!   backtrace: one taken because `RUST_BACKTRACE` was set cost a catalog
//!   refresh 60 ms.
//! - [`catch`]: run a command; a panic comes back as its text, which
//!   [`bug_error`] turns into an `internal` error. `run_billmanager` answers
//!   it as error XML with exit 1 (and records it on the running operation of
//!   a lifecycle command); the admin command line prints it as one error
//!   line.
//! - [`test_point`]: debug builds only, a panic on purpose where
//!   `PMSSLRESELLER_TEST_PANIC` names the command, so tests can prove the net
//!   on the real binary (as `clock.rs` honours its test clock in debug builds
//!   only: a release binary never panics because of a stray variable).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

use crate::protocol::error::ModuleError;
use crate::quote::shorten;
use crate::secret::try_redact;

/// The test trigger (debug builds only): the command name to panic in.
pub const TEST_PANIC_ENV: &str = "PMSSLRESELLER_TEST_PANIC";

/// Longest panic message kept (log line and answer).
const MESSAGE_CHARS: usize = 300;

thread_local! {
    /// The last panic of this thread, as the hook wrote it, for [`catch`].
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many [`catch`]es this thread is inside: a panic there is answered
    /// by the catcher, so the hook need not print it when no log is open.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Install the hook, once per process.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(hook)));
}

fn payload_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// `message at src/file.rs:12`, redacted and shortened. The redaction never
/// waits: a panic inside the redaction itself would wait on its own lock.
fn describe(payload: &(dyn Any + Send), location: Option<String>) -> String {
    let what = try_redact(payload_text(payload))
        .map(|m| shorten(&m, MESSAGE_CHARS))
        .unwrap_or_else(|| "message withheld: the secret list was busy".into());
    match location {
        Some(at) => format!("{what} at {at}"),
        None => what,
    }
}

fn hook(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    let text = describe(info.payload(), location);
    let logged = crate::logging::write_bug_line(&format!("pmsslreseller hit a bug: {text}"));
    if !logged && CATCHING.with(Cell::get) == 0 {
        eprintln!("pmsslreseller hit a bug: {text}");
    }
    LAST.with(|l| *l.borrow_mut() = Some(text));
}

/// Run `f`; a panic in it is `Err` with its text (message and location, as
/// the hook logged it).
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
    result.map_err(|payload| {
        LAST.with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| describe(payload.as_ref(), None))
    })
}

/// The answer to a panic: an `internal` error saying where.
pub fn bug_error(what: &str) -> ModuleError {
    ModuleError::internal(format!(
        "pmsslreseller hit a bug ({what}); nothing more was done; please report it with the log"
    ))
}

/// The test trigger's text (debug builds only): put into the panic message,
/// so a test can put the upstream password there and see that the net keeps
/// it out of everything it writes.
pub const TEST_PANIC_TEXT_ENV: &str = "PMSSLRESELLER_TEST_PANIC_TEXT";

/// Debug builds only: panic here when `PMSSLRESELLER_TEST_PANIC` is
/// `command`, with `PMSSLRESELLER_TEST_PANIC_TEXT` in the message. No
/// value of the module reaches this point: a release build must hold no
/// path from a secret to a panic.
pub fn test_point(command: &str) {
    if cfg!(debug_assertions) && std::env::var(TEST_PANIC_ENV).is_ok_and(|v| v == command) {
        let text = std::env::var(TEST_PANIC_TEXT_ENV).unwrap_or_default();
        panic!("test panic in {command} {text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_as_its_text_and_a_value_passes_through() {
        // No hook here (the test harness keeps its own): the text comes from
        // the payload.
        assert_eq!(catch(|| 7), Ok(7));
        let e = catch(|| -> u8 { panic!("boom {}", 1) }).unwrap_err();
        assert!(e.contains("boom 1"), "{e}");
        let long = "x".repeat(5000);
        let e = catch(|| -> u8 { panic!("{long}") }).unwrap_err();
        assert!(e.len() < 400, "{}", e.len());
        assert_eq!(CATCHING.with(Cell::get), 0);
    }

    #[test]
    fn the_answer_names_what_happened_and_where() {
        let e = bug_error("oops at src/x.rs:3");
        assert_eq!(e.kind, crate::protocol::error::ErrorKind::Internal);
        assert!(
            e.message.contains("hit a bug (oops at src/x.rs:3)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("nothing more was done"), "{}", e.message);
    }

    #[test]
    fn a_known_secret_never_reaches_the_text() {
        let s = crate::secret::Secret::new("panic-net-unit-secret-42");
        let e = catch(|| -> u8 { panic!("leak {}", s.expose()) }).unwrap_err();
        assert!(!e.contains("panic-net-unit-secret-42"), "{e}");
        assert!(e.contains("***"), "{e}");
    }
}
