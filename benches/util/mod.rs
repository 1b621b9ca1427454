//! Shared by the process benchmarks (`startup`, `lifecycle`, `sync`): timing
//! statistics, the result table, the tests' own run of the module binary
//! timed, and counting calls in the two journals (the simulator's upstream
//! journal and the mgrctl stand-in's `var/mgrctl-journal.jsonl`).
//!
//! Included with `#[path]` next to the integration-test support code, so the
//! benchmarks build their worlds with the tests' builder (real MariaDB, real
//! `billmgr-sim`) and run the module as the tests do, from the release
//! binaries (`make bench` builds them).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::billing::TestMgr;

/// Timings of repeated runs of one thing.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }
    pub fn median(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }
    pub fn mean(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }
    pub fn min(&self) -> Duration {
        self.0.iter().min().copied().unwrap_or_default()
    }
    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One row of the result table.
pub struct Row {
    pub what: String,
    pub samples: Samples,
    /// Free text: calls per run and the like.
    pub note: String,
}

pub fn print_table(title: &str, rows: &[Row]) {
    println!();
    println!("{title}");
    let w = rows.iter().map(|r| r.what.len()).max().unwrap_or(4).max(4);
    println!(
        "  {:<w$}  {:>5}  {:>10}  {:>10}  {:>10}  notes",
        "what", "runs", "median", "mean", "min"
    );
    for r in rows {
        println!(
            "  {:<w$}  {:>5}  {:>10}  {:>10}  {:>10}  {}",
            r.what,
            r.samples.0.len(),
            ms(r.samples.median()),
            ms(r.samples.mean()),
            ms(r.samples.min()),
            r.note
        );
    }
}

/// The tests' [`run_module`](crate::support::billing::run_module) (the
/// binary with `MGR5_ROOT` = the root of `mgr`, also its working directory,
/// as BILLmanager runs it), timed up to its collected output; asserts exit 0.
pub fn run_module(mgr: &TestMgr, args: &[&str], stdin: Option<&str>) -> Duration {
    let started = Instant::now();
    let (code, out, err) = crate::support::billing::run_module(mgr, args, stdin);
    let took = started.elapsed();
    assert_eq!(code, 0, "pmsslreseller {args:?} failed: {out}{err}");
    took
}

/// Calls per function name.
pub type Counts = BTreeMap<String, usize>;

pub fn count<'a>(funcs: impl IntoIterator<Item = &'a str>) -> Counts {
    let mut c = Counts::new();
    for f in funcs {
        *c.entry(f.to_string()).or_default() += 1;
    }
    c
}

pub fn total(c: &Counts) -> usize {
    c.values().sum()
}

/// `func×n, …` (`per` > 1: counts divided by it, for "per run").
pub fn describe(c: &Counts, per: usize) -> String {
    if c.is_empty() {
        return "none".into();
    }
    c.iter()
        .map(|(f, n)| {
            if per > 1 {
                format!("{f} {:.2}", *n as f64 / per as f64)
            } else {
                format!("{f} {n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The mgrctl stand-in's journal in `root` (`var/mgrctl-journal.jsonl`),
/// one JSON value a call, oldest first; the journal is emptied so the next
/// read starts from zero.
fn take_mgrctl_journal(root: &Path) -> Vec<serde_json::Value> {
    let path = root.join("var/mgrctl-journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .collect()
}

/// mgrctl stand-in calls in `root`'s journal, by function; the journal is
/// emptied so the next count starts from zero.
pub fn take_mgrctl_counts(root: &Path) -> Counts {
    let journal = take_mgrctl_journal(root);
    count(journal.iter().map(|v| v["func"].as_str().unwrap_or("?")))
}

/// The machine, for the README's figures.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores available")
}

/// "release build" or "debug build": figures from a debug build are not
/// comparable (`cargo test --bench X` runs a bench unoptimised).
pub fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    }
}

/// `PMSS_BENCH_ITEMS` overrides a benchmark's item count (quick checks).
pub fn items(default: usize) -> usize {
    std::env::var("PMSS_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n >= 4)
        .unwrap_or(default)
}

// ---- The performance goals in one table: each figure beside its reference. ----

/// One line of the `make bench` summary: a figure of ours beside its
/// reference (another program on the same input, measured in the same run,
/// or a figure from before), the ratio, the goal and whether it is met.
/// Each bench records its figures with [`record`]; `cargo bench --bench
/// table` (the last step of `make bench`) prints them all as one table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    /// What is measured, e.g. "parse 5,000 tariffs (in-process)".
    pub figure: String,
    /// Our value, in `unit`.
    pub ours: f64,
    /// "ms", "s", "calls", …
    pub unit: String,
    /// The reference value in the same unit, if there is one.
    pub reference: Option<f64>,
    /// What the reference is ("Python ElementTree.parse, same file, same run").
    pub reference_what: String,
    /// The goal in words ("≤ 20 ms", "ratio ≤ 0.5").
    pub goal: String,
    /// Whether the goal is met (None: nothing to judge).
    pub met: Option<bool>,
}

impl Figure {
    pub fn ratio(&self) -> Option<f64> {
        self.reference.filter(|r| *r > 0.0).map(|r| self.ours / r)
    }
}

/// Where the figures of one `make bench` run are collected: beside the
/// release binaries (`target/release/bench-figures.jsonl`).
pub fn figures_file() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("path of the bench executable");
    let deps = exe.parent().expect("bench executable has a directory");
    deps.parent().unwrap_or(deps).join("bench-figures.jsonl")
}

/// Print `fig` as one line and append it to [`figures_file`].
pub fn record(fig: Figure) {
    let ratio = fig
        .ratio()
        .map(|r| format!(", ratio {r:.2}"))
        .unwrap_or_default();
    let met = match fig.met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "-",
    };
    println!(
        "figure: {}: {} {}{ratio} (goal {}: {met})",
        fig.figure,
        number(fig.ours),
        fig.unit,
        fig.goal
    );
    let line = serde_json::to_string(&fig).expect("figure as JSON");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(figures_file())
        .expect("open the bench figures file");
    writeln!(f, "{line}").expect("append a bench figure");
}

/// A figure's number: whole above 100, else three significant digits.
pub fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// mgrctl stand-in calls in `root`'s journal, in order, as `func` or
/// `service.saveparam:<param>` (so two writes of one param show as the same
/// target); the journal is emptied.
pub fn take_mgrctl_calls(root: &Path) -> Vec<String> {
    take_mgrctl_journal(root)
        .iter()
        .map(|v| {
            let func = v["func"].as_str().unwrap_or("?");
            match v["params"]["name"].as_str() {
                Some(name) if func == "service.saveparam" => format!("{func}:{name}"),
                _ => func.to_string(),
            }
        })
        .collect()
}
