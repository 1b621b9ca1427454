//! The module's log: `var/pmsslreseller.log` under the BILLmanager root.
//!
//! Level from `etc/debug.conf` (`pmsslreseller N`, ISPsystem's convention,
//! module-protocol.md §3), else from our config. Every line carries the pid and
//! a context tag (command, item, running operation), so one BILLmanager call can
//! be followed through the file. Every line passes through
//! [`crate::secret::redact`] before it is written.
//!
//! No input can forge or flood a line: control characters in the context and
//! the message are escaped (a newline in the message becomes an indented
//! continuation line, never a line of its own), values from peers are cut by
//! [`shorten`], and any line is cut at [`MAX_LINE_BYTES`] with its length.
//!
//! A tiny `log::Log` of our own rather than a logging crate: none has the
//! per-process context tag, and we need the redaction hook on every line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Metadata, Record};

use crate::paths::MgrRoot;
use crate::quote::{push_escaped, shorten};
use crate::secret::redact;
use crate::vocab::MODULE_NAME;

struct FileLogger {
    file: Mutex<std::fs::File>,
    level: LevelFilter,
}

static CONTEXT: Mutex<String> = Mutex::new(String::new());

/// Set the tag printed on every following line, e.g. `open item=42 ro=7`.
/// It comes from argv (`--command`), so it is cut and its control
/// characters escaped: it can never start a line of its own.
pub fn set_context(tag: impl Into<String>) {
    if let Ok(mut c) = CONTEXT.lock() {
        *c = shorten(&tag.into(), MAX_CONTEXT_CHARS);
    }
}

/// Longest context tag kept.
const MAX_CONTEXT_CHARS: usize = 120;

/// Longest log line written; the rest is replaced by its length.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// BILLmanager's argv for a log line, as `["--command", "open", …]`: each
/// value cut by [`shorten`]. Argv carries no secret (the settings and their
/// password come on stdin, which is never logged, only its length).
pub fn argv_text(argv: &[String]) -> String {
    let cut: Vec<String> = argv.iter().map(|a| shorten(a, MAX_ARG_CHARS)).collect();
    format!("{cut:?}")
}

/// Longest argv value logged whole.
const MAX_ARG_CHARS: usize = 200;

/// The message part of a line: control characters escaped except newlines
/// (continuation lines, indented) and tabs; cut at [`MAX_LINE_BYTES`].
fn message_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_LINE_BYTES) + 64);
    for c in message.chars() {
        if out.len() >= MAX_LINE_BYTES {
            out.push_str(&format!("… [line cut: {} bytes]", message.len()));
            break;
        }
        match c {
            '\n' => out.push_str("\n    "),
            '\t' => out.push(c),
            _ => push_escaped(&mut out, c),
        }
    }
    out
}

/// One line of the log: time, pid, level, context tag, the message (already
/// redacted).
fn line(level: &str, ctx: &str, message: &str) -> String {
    format!(
        "{} [{}] {} [{}] {}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f"),
        std::process::id(),
        level,
        ctx,
        message_text(message),
    )
}

/// The log file, once [`init`] opened it: the panic hook appends to it
/// through a handle of its own.
static LOG_PATH: OnceLock<PathBuf> = OnceLock::new();

/// For the panic hook (`crate::panic_net`): append one ERROR line holding
/// `message` (already redacted) to the module log, touching none of the
/// logger's locks — the panic may have happened while this thread held one.
/// `false` when no log is open (or it cannot be written).
pub fn write_bug_line(message: &str) -> bool {
    let Some(path) = LOG_PATH.get() else {
        return false;
    };
    let ctx = CONTEXT.try_lock().map(|c| c.clone()).unwrap_or_default();
    let line = line("ERROR", &ctx, message);
    OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .is_ok()
}

/// Other crates (reqwest, hyper, rustls, mysql) log their internals at debug
/// and trace; at `pmsslreseller 9` they would drown our lines. They get
/// warnings and errors only.
const OTHER_CRATES_MAX: Level = Level::Warn;

fn is_ours(target: &str) -> bool {
    target == MODULE_NAME || target.starts_with("pmsslreseller::")
}

impl log::Log for FileLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= self.level && (m.level() <= OTHER_CRATES_MAX || is_ours(m.target()))
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ctx = CONTEXT.lock().map(|c| c.clone()).unwrap_or_default();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let line = line(level, &ctx, &redact(&record.args().to_string()));
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        if let Ok(mut f) = self.file.lock() {
            let _ = f.flush();
        }
    }
}

/// BILLmanager's numeric levels (module-protocol.md §3) → ours.
pub fn level_from_number(n: u32) -> LevelFilter {
    match n {
        0 => LevelFilter::Off,
        1..=3 => LevelFilter::Error,
        4 => LevelFilter::Warn,
        5 => LevelFilter::Info,
        6..=8 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

pub fn level_from_name(name: &str) -> Option<LevelFilter> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

/// Our line in `etc/debug.conf`, if any.
pub fn level_from_debug_conf(path: &Path) -> Option<LevelFilter> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some(name), Some(n)) if name == MODULE_NAME => n.parse().ok().map(level_from_number),
            _ => None,
        }
    })
}

/// Start logging to the module log. A log that cannot be opened is not fatal
/// (BILLmanager must still get its answer); the error says why, for an admin
/// at a terminal. Only `var/` itself may be created: the root must exist
/// ([`MgrRoot::from_env_checked`]), so a wrong root gets nothing of ours.
pub fn init(root: &MgrRoot, configured_level: &str) -> Result<(), String> {
    let level = level_from_debug_conf(&root.debug_conf())
        .or_else(|| level_from_name(configured_level))
        .unwrap_or(LevelFilter::Info);
    let path = root.log_file();
    if let Some(dir) = path.parent() {
        if root.root().is_dir() && !dir.exists() {
            let _ = std::fs::create_dir(dir);
        }
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "cannot write the module log {}: {e}{}",
                path.display(),
                crate::paths::write_hint(&e)
            )
        })?;
    let logger = FileLogger {
        file: Mutex::new(file),
        level,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
        let _ = LOG_PATH.set(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_conf_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("debug.conf");
        std::fs::write(&p, "billmgr 4\npmsslreseller 9\n").unwrap();
        assert_eq!(level_from_debug_conf(&p), Some(LevelFilter::Trace));
        std::fs::write(&p, "pmsslreseller_other 9\n").unwrap();
        assert_eq!(level_from_debug_conf(&p), None);
    }

    #[test]
    fn other_crates_only_warn_and_error() {
        let dir = tempfile::tempdir().unwrap();
        let logger = FileLogger {
            file: Mutex::new(std::fs::File::create(dir.path().join("l")).unwrap()),
            level: LevelFilter::Trace,
        };
        use log::Log;
        let meta = |level, target| Metadata::builder().level(level).target(target).build();
        assert!(logger.enabled(&meta(Level::Trace, "pmsslreseller::upstream")));
        assert!(logger.enabled(&meta(Level::Debug, "pmsslreseller")));
        assert!(!logger.enabled(&meta(Level::Debug, "hyper_util::client")));
        assert!(!logger.enabled(&meta(Level::Info, "reqwest::connect")));
        assert!(logger.enabled(&meta(Level::Warn, "rustls::conn")));
    }

    #[test]
    fn argv_is_logged_cut() {
        let argv = vec!["--command".to_string(), "x".repeat(5000)];
        let t = argv_text(&argv);
        assert!(t.starts_with("[\"--command\", \"xxx"), "{t}");
        assert!(t.ends_with("…(5000 bytes)\"]"), "{t}");
        assert!(t.len() < 300, "{}", t.len());
    }

    #[test]
    fn message_lines_cannot_be_forged_or_flooded() {
        let m = message_text("one\n2026-01-01 00:00:00.000 [1] ERROR [x] forged\rback");
        assert_eq!(m.lines().count(), 2);
        assert!(m.lines().nth(1).unwrap().starts_with("    2026"), "{m}");
        assert!(m.contains("\\r"), "{m}");
        let big = "B".repeat(MAX_LINE_BYTES * 4);
        let m = message_text(&big);
        assert!(m.len() < MAX_LINE_BYTES + 100, "{}", m.len());
        assert!(
            m.ends_with(&format!("[line cut: {} bytes]", big.len())),
            "{}",
            &m[m.len() - 60..]
        );
    }

    #[test]
    fn context_tag_is_one_line() {
        set_context("open\n2026-01-01 ERROR forged");
        let c = CONTEXT.lock().unwrap().clone();
        assert!(!c.contains('\n'), "{c}");
        assert!(c.contains("\\n"), "{c}");
    }

    #[test]
    fn numeric_levels() {
        assert_eq!(level_from_number(5), LevelFilter::Info);
        assert_eq!(level_from_number(4), LevelFilter::Warn);
        assert_eq!(level_from_number(6), LevelFilter::Debug);
    }
}
