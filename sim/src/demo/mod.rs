//! `billmgr-sim demo`: the module's main job end to end on this machine.
//!
//! Starts `billmgr-sim upstream` on loopback, makes a scratch `MGR5_ROOT`
//! whose `sbin/mgrctl` is the stand-in, a fresh database in the local MariaDB
//! (started, or installed and started, when missing), seeds a processing
//! module and a customer, then runs the real
//! `pmsslreseller` binary the way BILLmanager does — `features`,
//! `check_connection` (settings on stdin), the tariff import wizard (then
//! the tariff enabled and a customer's order, import_step.rs), `open`, `sync_item`
//! until issued, `reopen`, `prolong`, `suspend`, `resume`, `close` (service
//! commands with `--item N --runningoperation R`, env `MGR5_ROOT`). For each
//! step it prints the command, the upstream calls it made (the simulator's
//! journal), the `mgrctl` callbacks (the stand-in's journal) and the local
//! state (database), and checks what must have happened. Any deviation ends
//! the demo with exit code 1 and says what was expected. It cleans up (the
//! simulator, the database, the scratch root) at the end, after a failure, on
//! Ctrl-C and when nobody reads its output any more (`| head`). With `--keep`
//! it leaves a world to explore first: the simulator keeps serving on today's
//! clock, a second order waits to be opened, and the exact commands to try
//! are printed; Ctrl-C then cleans up.
//!
//! The parts: world.rs sets the world up and tears it down, run.rs runs the
//! module and reads the local state, steps.rs holds the lifecycle steps in
//! their order (import_step.rs, books.rs, term.rs and fidelity.rs the others),
//! keep.rs the `--keep` serving, stop.rs the signals and the output that
//! never panics, show.rs the printing; here are the
//! arguments, the order of the whole, and the checks.

mod books;
mod fidelity;
mod http;
mod import_step;
mod keep;
mod local;
mod run;
mod show;
mod steps;
mod stop;
mod term;
mod validation;
mod world;

use std::path::PathBuf;
use std::time::Instant;

use http::Control;
use local::{ItemState, Local, Seed};
use run::Run;
use show::Style;
use stop::{complain, interrupted, say, stdout_gone, EXIT_INTERRUPTED, EXIT_STDOUT_CLOSED};
use world::World;

/// The upstream tariff the customer orders (Comodo Positive SSL, EUR, in
/// the simulator's shipped catalogue).
const UPSTREAM_TARIFF: u64 = 3033;
const UPSTREAM_USER: &str = "reseller@example.com";
const START_BALANCE: &str = "100.00";
const CN: &str = "example.com";
/// Issuance rounds (simulator tick + sync_item) before giving up.
const MAX_SYNC_ROUNDS: usize = 4;

const USAGE: &str = "usage: billmgr-sim demo [--keep] [--pmsslreseller PATH]\n\
  --keep               afterwards, keep the simulator, the scratch MGR5_ROOT and its database\n\
                       until Ctrl-C, and print commands to try against them\n\
  --pmsslreseller PATH the module binary (default: next to billmgr-sim)";

/// Why the demo stops.
type Fail = String;
type Step<T> = Result<T, Fail>;

struct Demo {
    style: Style,
    keep: bool,
    module_bin: PathBuf,
    world: World,
    seed: Option<Seed>,
    mgrctl_seen: usize,
    total_upstream: usize,
    total_mgrctl: usize,
    runs: usize,
    /// Extra environment of module runs (the term step's test clock).
    module_env: Vec<(String, String)>,
}

pub fn main(args: Vec<String>) -> i32 {
    let mut keep = false;
    let mut module_bin = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keep" => keep = true,
            "--pmsslreseller" => match it.next() {
                Some(p) => module_bin = Some(PathBuf::from(p)),
                None => {
                    complain(format_args!("{USAGE}"));
                    return 2;
                }
            },
            "-h" | "--help" => {
                say!("{USAGE}");
                return 0;
            }
            other => {
                complain(format_args!(
                    "billmgr-sim demo: unknown argument {other}\n{USAGE}"
                ));
                return 2;
            }
        }
    }
    let module_bin = match module_bin.map(Ok).unwrap_or_else(default_module_bin) {
        Ok(p) => p,
        Err(e) => {
            complain(format_args!("billmgr-sim demo: {e}"));
            return 1;
        }
    };
    let style = Style::detect();
    let mut demo = Demo {
        style,
        keep,
        module_bin,
        world: World::new(
            style,
            format!("demo-{}-{}", std::process::id(), unix_nanos()),
        ),
        seed: None,
        mgrctl_seen: 0,
        total_upstream: 0,
        total_mgrctl: 0,
        runs: 0,
        module_env: Vec::new(),
    };
    stop::catch_interrupts();
    let started = Instant::now();
    let result = demo
        .world
        .set_up(&demo.module_bin)
        .map(|seed| demo.seed = Some(seed))
        .and_then(|_| demo.steps());
    let code = match result {
        _ if interrupted() => {
            say!();
            say!("{}", demo.style.bad("interrupted (Ctrl-C): cleaning up"));
            EXIT_INTERRUPTED
        }
        // Nobody reads what the demo says: it stops (the step in hand is
        // the last), quietly.
        _ if stdout_gone() => EXIT_STDOUT_CLOSED,
        Ok(()) => {
            let s = demo.style;
            say!();
            say!(
                "{} {} module runs, {} upstream calls, {} mgrctl callbacks, {:.1} s",
                s.good("demo passed:"),
                demo.runs,
                demo.total_upstream,
                demo.total_mgrctl,
                started.elapsed().as_secs_f64()
            );
            if demo.keep {
                demo.serve_until_interrupted()
            } else {
                0
            }
        }
        Err(msg) => {
            say!();
            say!("{} {msg}", demo.style.bad("DEMO FAILED:"));
            demo.print_module_log_tail();
            1
        }
    };
    // The world's guard cleans up (it would on a panic too).
    drop(demo);
    code
}

pub(crate) fn default_module_bin() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let p = me
        .parent()
        .map(|d| d.join("pmsslreseller"))
        .ok_or("own directory")?;
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build --workspace --bins, or make demo), or pass --pmsslreseller PATH",
            p.display()
        ))
    }
}

fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// `check(cond, text)`: a passed expectation is collected for the step's
/// summary line; a failed one ends the demo with `expected: text`.
struct Checks(Vec<String>);

impl Checks {
    fn new() -> Checks {
        Checks(Vec::new())
    }
    fn check(
        &mut self,
        ok: bool,
        what: impl Into<String>,
        got: impl FnOnce() -> String,
    ) -> Step<()> {
        let what = what.into();
        if ok {
            self.0.push(what);
            Ok(())
        } else {
            Err(format!("expected {what}; got {}", got()))
        }
    }

    /// The service command reported itself done to BILLmanager:
    /// `service.post<command>`, once.
    fn reported(&mut self, run: &Run, command: &str) -> Step<()> {
        let post = format!("service.post{command}");
        self.check(run.mgrctl_count(&post) == 1, post.clone(), || {
            format!("{:?}", run.mgrctl_funcs())
        })
    }

    /// BILLmanager's running operation for the command is finished (gone).
    fn finished(&mut self, st: &ItemState) -> Step<()> {
        self.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })
    }

    /// The usual end of a service command: reported once, operation finished.
    fn operation_done(&mut self, run: &Run, st: &ItemState, command: &str) -> Step<()> {
        self.reported(run, command)?;
        self.finished(st)
    }
}

impl Demo {
    fn local(&mut self) -> &mut Local {
        self.world.local()
    }

    fn ctrl(&self) -> &Control {
        self.world.ctrl()
    }

    fn seed(&self) -> Seed {
        self.seed.clone().expect("seeded before the steps")
    }

    fn heading(&self, n: &str, title: &str, what: &str) {
        say!();
        say!(
            "{} {}",
            self.style.bold(&format!("{n:>2}. {title}")),
            self.style.dim(&format!("- {what}"))
        );
    }

    /// The step's passed checks, wrapped to the line width.
    fn passed(&self, checks: Checks) {
        let mut lines: Vec<String> = vec![String::new()];
        for (i, c) in checks.0.iter().enumerate() {
            let piece = if i + 1 < checks.0.len() {
                format!("{c};")
            } else {
                c.clone()
            };
            let last = lines.last_mut().expect("one line at least");
            if !last.is_empty() && last.chars().count() + piece.chars().count() + 1 > 106 {
                lines.push(piece);
            } else {
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(&piece);
            }
        }
        for (i, l) in lines.iter().enumerate() {
            let label = if i == 0 { "ok" } else { "" };
            say!(
                "  {}{} {l}",
                self.style.good(label),
                " ".repeat(9 - label.len())
            );
        }
    }

    /// One line explaining a state that looks surprising.
    fn note(&self, text: &str) {
        say!(
            "  {} {}",
            self.style.dim(&format!("{:<9}", "note")),
            self.style.dim(text)
        );
    }
}

/// `s` cut to `max` characters, marked with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
