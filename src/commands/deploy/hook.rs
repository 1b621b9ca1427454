//! One run of the deploy hook: `/bin/sh -c COMMAND` in its own process
//! group, with a cleared environment (PATH and the facts only), stdin from
//! /dev/null, its output captured (bounded) for the log, and the whole group
//! killed when the timeout passes.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines of the hook's output kept for the log; the rest is counted.
pub const MAX_LINES: usize = 200;
/// Characters of one output line kept.
pub const MAX_LINE_CHARS: usize = 400;
/// The PATH the hook gets: the system's, nothing of the caller's.
pub const HOOK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Exit(i32),
    Signal(i32),
    TimedOut(u64),
    NotStarted(String),
}

impl Ended {
    pub fn ok(&self) -> bool {
        *self == Ended::Exit(0)
    }

    /// The exit code, when the hook exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            Ended::Exit(c) => Some(*c),
            _ => None,
        }
    }
}

/// What a run ended with, and its output (raw: the caller redacts).
pub struct Ran {
    pub ended: Ended,
    pub lines: Vec<String>,
    pub dropped: usize,
    pub seconds: f64,
}

/// Run `command` with exactly `env` (plus PATH) in `dir`; `started` is told
/// the process group id as soon as the hook runs (the marker records it, so
/// a rerun after a kill sees a hook still running).
pub fn run(
    command: &str,
    env: &[(String, String)],
    dir: &Path,
    timeout: Duration,
    started: &mut dyn FnMut(i32),
) -> Ran {
    let begun = Instant::now();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .env("PATH", HOOK_PATH)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                ended: Ended::NotStarted(e.to_string()),
                lines: Vec::new(),
                dropped: 0,
                seconds: 0.0,
            }
        }
    };
    let pgid = i32::try_from(child.id()).unwrap_or(0);
    started(pgid);
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let mut readers = 0;
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        readers += 1;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let reader = BufReader::new(pipe.take(16 * 1024 * 1024));
            for line in reader.split(b'\n') {
                let Ok(line) = line else { break };
                let text: String = String::from_utf8_lossy(&line)
                    .chars()
                    .take(MAX_LINE_CHARS)
                    .collect();
                if tx.send(Some(text)).is_err() {
                    return;
                }
            }
            let _ = tx.send(None);
        });
    }
    drop(tx);
    let deadline = begun + timeout;
    let mut lines = Vec::new();
    let mut dropped = 0usize;
    let mut keep = |l: String, lines: &mut Vec<String>| {
        if lines.len() < MAX_LINES {
            lines.push(l);
        } else {
            dropped += 1;
        }
    };
    let ended = loop {
        while let Ok(Some(l)) = rx.try_recv() {
            keep(l, &mut lines);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                break match (status.code(), status.signal()) {
                    (Some(c), _) => Ended::Exit(c),
                    (None, Some(s)) => Ended::Signal(s),
                    _ => Ended::Exit(-1),
                }
            }
            Ok(None) if Instant::now() >= deadline => {
                // The whole group: a hook's children die with it.
                // SAFETY: killpg on the group the child leads; no memory involved.
                unsafe {
                    libc::killpg(pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                break Ended::TimedOut(timeout.as_secs());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                unsafe {
                    libc::killpg(pgid, libc::SIGKILL);
                }
                let _ = child.wait();
                break Ended::NotStarted(e.to_string());
            }
        }
    };
    // The rest of the output, for a moment: a process the hook left behind
    // may hold the pipes open, and is not waited for.
    let drain_until = Instant::now() + Duration::from_millis(500);
    let mut open = readers;
    while open > 0 {
        let left = drain_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Some(l)) => keep(l, &mut lines),
            Ok(None) => open -= 1,
            Err(_) => break,
        }
    }
    Ran {
        ended,
        lines,
        dropped,
        seconds: begun.elapsed().as_secs_f64(),
    }
}

/// Is process group `pgid` still there (a hook a killed run left running)?
pub fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::killpg(pgid, 0) } != 0 {
        return false;
    }
    // A group of zombies only (a hook that ended while nobody reaped it) is
    // not running: any member not in state Z is.
    match std::fs::read_dir("/proc") {
        Ok(entries) => entries.flatten().any(|e| {
            std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.get(stat.rfind(')')? + 2..)?.to_string();
                    let mut fields = rest.split_whitespace();
                    let state = fields.next()?.to_string();
                    let _ppid = fields.next()?;
                    let pgrp: i32 = fields.next()?.parse().ok()?;
                    Some(pgrp == pgid && state != "Z")
                })
                .unwrap_or(false)
        }),
        Err(_) => true,
    }
}
