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
//! simulator, the database, the scratch root) at the end, after a failure and
//! on Ctrl-C. With `--keep` it leaves a world to explore first: the simulator
//! keeps serving, a second order waits to be opened, and the exact commands
//! to try are printed; Ctrl-C then cleans up.

mod books;
mod fidelity;
mod http;
mod import_step;
mod local;
mod show;
mod term;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use http::Control;
use local::{ItemState, Local, Seed};
use show::Style;

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

/// Set by SIGINT/SIGTERM: the demo stops at the next step and cleans up.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C (or a kill) no longer ends the process on the spot, which would
/// leave the simulator, the database and the scratch root behind.
fn catch_interrupts() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// Why the demo stops.
type Fail = String;
type Step<T> = Result<T, Fail>;

/// What one module run did.
struct Run {
    exit: i32,
    stdout: String,
    stderr: String,
    upstream: Vec<Value>,
    mgrctl: Vec<Value>,
}

impl Run {
    fn upstream_count(&self, func: &str) -> usize {
        self.upstream.iter().filter(|e| e["func"] == func).count()
    }
    fn mgrctl_count(&self, func: &str) -> usize {
        self.mgrctl.iter().filter(|e| e["func"] == func).count()
    }
    fn upstream_funcs(&self) -> Vec<String> {
        funcs(&self.upstream)
    }
    fn mgrctl_funcs(&self) -> Vec<String> {
        funcs(&self.mgrctl)
    }
}

fn funcs(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["func"].as_str().unwrap_or("?").to_string())
        .collect()
}

struct Demo {
    style: Style,
    keep: bool,
    module_bin: PathBuf,
    sim: Option<Child>,
    ctrl: Option<Control>,
    local: Option<Local>,
    seed: Option<Seed>,
    upstream_url: String,
    upstream_password: String,
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
                    eprintln!("{USAGE}");
                    return 2;
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("billmgr-sim demo: unknown argument {other}\n{USAGE}");
                return 2;
            }
        }
    }
    let module_bin = match module_bin.map(Ok).unwrap_or_else(default_module_bin) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("billmgr-sim demo: {e}");
            return 1;
        }
    };
    let mut demo = Demo {
        style: Style::detect(),
        keep,
        module_bin,
        sim: None,
        ctrl: None,
        local: None,
        seed: None,
        upstream_url: String::new(),
        upstream_password: format!("demo-{}-{}", std::process::id(), unix_nanos()),
        mgrctl_seen: 0,
        total_upstream: 0,
        total_mgrctl: 0,
        runs: 0,
        module_env: Vec::new(),
    };
    catch_interrupts();
    let started = Instant::now();
    let result = demo.setup().and_then(|_| demo.steps());
    let code = match result {
        _ if interrupted() => {
            println!();
            println!("{}", demo.style.bad("interrupted (Ctrl-C): cleaning up"));
            EXIT_INTERRUPTED
        }
        Ok(()) => {
            let s = demo.style;
            println!();
            println!(
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
            println!();
            println!("{} {msg}", demo.style.bad("DEMO FAILED:"));
            demo.print_module_log_tail();
            1
        }
    };
    demo.teardown();
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
}

impl Demo {
    fn local(&mut self) -> &mut Local {
        self.local.as_mut().expect("local set up before the steps")
    }

    fn ctrl(&self) -> &Control {
        self.ctrl
            .as_ref()
            .expect("simulator started before the steps")
    }

    fn seed(&self) -> Seed {
        self.seed.clone().expect("seeded before the steps")
    }

    fn setup(&mut self) -> Step<()> {
        let s = self.style;
        println!(
            "{}",
            s.bold("pmsslreseller demo: what BILLmanager runs, against a simulated upstream BILLmanager")
        );
        println!();
        println!("{}", s.bold("setup"));
        let say = |m: &str| println!("  {:<11} {m}", "mariadb");
        let socket = local::ensure_mariadb(&say)?;
        let local = Local::create(socket)?;
        println!(
            "  {:<11} {}  (etc/billmgr.pem test key, sbin/mgrctl -> billmgr-sim mgrctl stand-in)",
            "MGR5_ROOT",
            local.root.display()
        );
        println!(
            "  {:<11} {} on {}  (schema fixture tests/fixtures/billmgr-schema.sql)",
            "database", local.db_name, local.socket
        );
        let sim_log = local.root.join("var/billmgr-sim-upstream.log");
        self.local = Some(local);

        let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let log =
            std::fs::File::create(&sim_log).map_err(|e| format!("{}: {e}", sim_log.display()))?;
        let mut child = Command::new(me)
            .args(["upstream", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("start billmgr-sim upstream: {e}"))?;
        let first = child.stdout.take().map(|out| {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            line
        });
        self.sim = Some(child);
        let first = first.unwrap_or_default();
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("billmgr-sim upstream did not start: {:?}", first.trim()))?
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        self.ctrl = Some(Control { addr });
        self.upstream_url = format!("{url}/billmgr");
        // The account goes in through the control API (JSON body), so the
        // password is in no process's argv.
        self.ctrl().post(
            "/_sim/account",
            &json!({"username": UPSTREAM_USER, "password": self.upstream_password,
                    "balance": START_BALANCE, "currency": "EUR"}),
        )?;
        println!(
            "  {:<11} {}  (billmgr-sim upstream; account {UPSTREAM_USER}, {START_BALANCE} EUR)",
            "upstream", self.upstream_url
        );

        let url = self.upstream_url.clone();
        let pass = self.upstream_password.clone();
        let seed = self.local().seed(&url, UPSTREAM_USER, &pass)?;
        println!(
            "  {:<11} processing module {} (url, username; password crypted with etc/billmgr.pem); customer {}",
            "seeded", seed.module, seed.account
        );
        println!("  {:<11} {}", "module", self.module_bin.display());
        self.seed = Some(seed);
        Ok(())
    }

    fn teardown(&mut self) {
        if let Some(mut child) = self.sim.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut local) = self.local.take() {
            let problems = local.cleanup(false);
            if problems.is_empty() {
                println!(
                    "{}",
                    self.style.dim(
                        "cleaned up: simulator stopped, database dropped, scratch root removed"
                    )
                );
            } else {
                for p in problems {
                    eprintln!("cleanup: {p}");
                }
            }
        }
    }

    fn print_module_log_tail(&self) {
        let Some(local) = &self.local else { return };
        let text = std::fs::read_to_string(local.module_log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return;
        }
        println!("last lines of {}:", local.module_log_path().display());
        for l in &lines[lines.len().saturating_sub(8)..] {
            println!("  {l}");
        }
        if !self.keep {
            println!(
                "(run with --keep to explore the scratch root, database and simulator after a run)"
            );
        }
    }

    /// `--keep`: a second order waiting to be opened, the exact commands to
    /// try, then the simulator keeps serving until Ctrl-C (or until it exits
    /// by itself). The caller's teardown cleans up either way.
    fn serve_until_interrupted(&mut self) -> i32 {
        let seed = self.seed();
        let next = self
            .local()
            .seed_order(seed.module, seed.tariff, seed.account, CN)
            .and_then(|item| {
                let ro = self.local().running_operation(item, "open")?;
                Ok((item, ro))
            });
        let (item, ro) = match next {
            Ok(v) => v,
            Err(e) => {
                println!("{} {e}", self.style.bad("DEMO FAILED:"));
                return 1;
            }
        };
        let (root, db, socket) = {
            let l = self.local();
            (l.root.clone(), l.db_name.clone(), l.socket.clone())
        };
        let bin = self.module_bin.display().to_string();
        let s = self.style;
        println!();
        println!(
            "{} the simulated upstream keeps serving at {} until Ctrl-C.",
            s.bold("--keep:"),
            self.upstream_url
        );
        println!("In another terminal, try (the module reads its settings from the database):");
        println!("  export MGR5_ROOT={}", root.display());
        println!("  {bin} config");
        println!("  {bin} catalog show --module {}", seed.module);
        println!("  {bin} pricing preview --module {}", seed.module);
        println!("  {bin} sync --module {}", seed.module);
        println!(
            "  {bin} --command open --item {item} --runningoperation {ro}   # a second order, waiting to be opened"
        );
        println!("  {bin} --command sync_item --item {item}   # after open: polls the upstream");
        println!(
            "  tail \"$MGR5_ROOT/var/pmsslreseller.log\" \"$MGR5_ROOT/var/mgrctl-journal.jsonl\""
        );
        println!("  mariadb --socket={socket} {db} -e 'SELECT id, status, expiredate FROM item'");
        println!(
            "Ctrl-C here stops the simulator, drops database {db} and removes {}.",
            root.display()
        );
        loop {
            if interrupted() {
                println!();
                println!("{}", s.dim("Ctrl-C: cleaning up"));
                return 0;
            }
            let exited = self
                .sim
                .as_mut()
                .map_or(Ok(None), |c| c.try_wait().map(|s| s.map(|s| s.to_string())));
            match exited {
                Ok(None) => std::thread::sleep(Duration::from_millis(200)),
                Ok(Some(status)) => {
                    println!("the simulator exited ({status}); cleaning up");
                    return 1;
                }
                Err(e) => {
                    println!("cannot watch the simulator: {e}; cleaning up");
                    return 1;
                }
            }
        }
    }

    fn heading(&self, n: &str, title: &str, what: &str) {
        println!();
        println!(
            "{} {}",
            self.style.bold(&format!("{n:>2}. {title}")),
            self.style.dim(&format!("- {what}"))
        );
    }

    /// Run the module as BILLmanager does and show what it did.
    fn module(&mut self, args: &[&str], stdin: Option<&str>, stdin_note: &str) -> Step<Run> {
        self.ctrl().delete("/_sim/journal")?;
        let root = self.local().root.clone();
        let started = Instant::now();
        let mut child = Command::new(&self.module_bin)
            .args(args)
            .envs(self.module_env.iter().map(|(k, v)| (k, v)))
            .env("MGR5_ROOT", &root)
            .current_dir(&root)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run {}: {e}", self.module_bin.display()))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .map_err(|e| format!("write stdin: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("wait for pmsslreseller: {e}"))?;
        let ms = started.elapsed().as_millis();
        let upstream: Vec<Value> = match self.ctrl().get("/_sim/journal")? {
            Value::Array(a) => a,
            other => return Err(format!("simulator journal is not a list: {other}")),
        };
        let mgrctl = self.new_mgrctl_calls()?;
        let exit = out.status.code().unwrap_or(-1);
        self.runs += 1;
        self.total_upstream += upstream.len();
        self.total_mgrctl += mgrctl.len();
        let s = self.style;
        let exit_text = if exit == 0 {
            s.good("exit 0")
        } else {
            s.bad(&format!("exit {exit}"))
        };
        println!(
            "  {} pmsslreseller {}{}   {exit_text}, {ms} ms",
            s.dim("$"),
            args.join(" "),
            stdin_note
        );
        for l in show::calls(&s, "upstream", &upstream) {
            println!("{l}");
        }
        for l in show::calls(&s, "mgrctl", &mgrctl) {
            println!("{l}");
        }
        Ok(Run {
            exit,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            upstream,
            mgrctl,
        })
    }

    /// The stand-in's journal lines written since the last look.
    fn new_mgrctl_calls(&mut self) -> Step<Vec<Value>> {
        let path = self.local().mgrctl_journal_path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let fresh = lines[self.mgrctl_seen.min(lines.len())..]
            .iter()
            .map(|l| serde_json::from_str(l).map_err(|e| format!("mgrctl journal line: {e}")))
            .collect::<Step<Vec<Value>>>()?;
        self.mgrctl_seen = lines.len();
        Ok(fresh)
    }

    /// The local state, not printed.
    fn current(&mut self) -> Step<ItemState> {
        let item = self.seed().item;
        self.local().item_state(item)
    }

    fn state(&mut self) -> Step<ItemState> {
        let item = self.seed().item;
        let st = self.local().item_state(item)?;
        for l in show::state(item, &st) {
            println!("{l}");
        }
        Ok(st)
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
            println!(
                "  {}{} {l}",
                self.style.good(label),
                " ".repeat(9 - label.len())
            );
        }
    }

    /// One line explaining a state that looks surprising.
    fn note(&self, text: &str) {
        println!(
            "  {} {}",
            self.style.dim(&format!("{:<9}", "note")),
            self.style.dim(text)
        );
    }

    /// Exit 0 or a failure that shows what the module said.
    fn expect_success(&mut self, run: &Run, ro: Option<u64>) -> Step<()> {
        if run.exit == 0 {
            return Ok(());
        }
        let mut msg = format!("pmsslreseller exited {}", run.exit);
        let said = [run.stdout.trim(), run.stderr.trim()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if !said.is_empty() {
            msg.push_str(&format!("; it said:\n{said}"));
        }
        if let Some(ro) = ro {
            if let Some(err) = self.local().operation_error(ro) {
                msg.push_str(&format!("\nrunning operation {ro} error: {err}"));
            }
        }
        Err(msg)
    }

    /// A service command from a running operation, as BILLmanager runs it.
    fn service(&mut self, command: &str) -> Step<(Run, ItemState)> {
        let item = self.seed().item;
        let ro = self.local().running_operation(item, command)?;
        let (item_s, ro_s) = (item.to_string(), ro.to_string());
        let run = self.module(
            &[
                "--command",
                command,
                "--item",
                &item_s,
                "--runningoperation",
                &ro_s,
            ],
            None,
            "",
        )?;
        let st = self.state()?;
        self.expect_success(&run, Some(ro))?;
        Ok((run, st))
    }

    fn steps(&mut self) -> Step<()> {
        let go_on = || {
            if interrupted() {
                Err(Fail::from("interrupted"))
            } else {
                Ok(())
            }
        };
        self.step_features()?;
        go_on()?;
        self.step_check_connection()?;
        go_on()?;
        self.step_tariff_import()?;
        go_on()?;
        self.step_open()?;
        go_on()?;
        self.step_sync(
            "5",
            "sync_item",
            "poll until the upstream has issued the certificate",
        )?;
        self.step_service_import("5b")?;
        self.step_reconcile("5c")?;
        go_on()?;
        self.step_reopen()?;
        go_on()?;
        self.step_prolong()?;
        go_on()?;
        self.step_term_reissue()?;
        go_on()?;
        self.step_suspend_resume("8", "suspend", 3)?;
        go_on()?;
        self.step_suspend_resume("9", "resume", 2)?;
        self.step_setparam("9b")?;
        self.step_getbalance("9c")?;
        go_on()?;
        self.step_close()?;
        Ok(())
    }

    fn step_features(&mut self) -> Step<()> {
        self.heading(
            "1",
            "features",
            "what the module offers (BILLmanager asks at start)",
        );
        let run = self.module(&["--command", "features"], None, "")?;
        self.expect_success(&run, None)?;
        let names = xml_attr_values(&run.stdout, "feature", "name");
        println!("  {:<9} features: {}", "answer", names.join(" "));
        let mut c = Checks::new();
        for wanted in [
            "check_connection",
            "open",
            "sync_item",
            "prolong",
            "reopen",
            "suspend",
            "resume",
            "close",
            "setparam",
            "getbalance",
        ] {
            c.check(
                names.iter().any(|n| n == wanted),
                format!("feature {wanted}"),
                || format!("features {names:?}"),
            )?;
        }
        c.0 = vec!["lifecycle features advertised".into()];
        c.check(
            run.upstream.is_empty() && run.mgrctl.is_empty(),
            "no upstream or mgrctl call",
            || {
                format!(
                    "upstream {:?}, mgrctl {:?}",
                    run.upstream_funcs(),
                    run.mgrctl_funcs()
                )
            },
        )?;
        self.passed(c);
        Ok(())
    }

    fn step_check_connection(&mut self) -> Step<()> {
        self.heading(
            "2",
            "check_connection",
            "validate the integration settings (processing module form)",
        );
        let module = self.seed().module;
        let stdin = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{module}</id>\
             <url>{}</url><username>{UPSTREAM_USER}</username><password>{}</password>\
             </processingmodule></doc>\n",
            self.upstream_url, self.upstream_password
        );
        let run = self.module(
            &["--command", "check_connection"],
            Some(&stdin),
            " < settings XML on stdin (url, username, password)",
        )?;
        self.expect_success(&run, None)?;
        println!("  {:<9} {}", "answer", run.stdout.trim().replace('\n', " "));
        let mut c = Checks::new();
        c.check(
            run.stdout.contains("<doc") && !run.stdout.contains("<error"),
            "an answer without error",
            || run.stdout.clone(),
        )?;
        c.check(
            run.upstream_funcs() == ["whoami"],
            "one upstream login (whoami)",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            run.upstream
                .iter()
                .all(|e| !e.to_string().contains(&self.upstream_password)),
            "password in no upstream log entry",
            || "the password in the simulator journal".into(),
        )?;
        c.check(run.mgrctl.is_empty(), "no mgrctl call", || {
            format!("{:?}", run.mgrctl_funcs())
        })?;
        self.passed(c);
        Ok(())
    }

    fn step_open(&mut self) -> Step<()> {
        self.heading(
            "4",
            "open",
            "order the certificate upstream (paid from the reseller balance)",
        );
        let (run, st) = self.service("open")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("certificate.order.param") == 1,
            "exactly one certificate.order.param",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        let remoteid = run
            .upstream
            .iter()
            .find(|e| e["func"] == "certificate.order.param")
            .and_then(|e| e["params"]["remoteid"].as_str().map(str::to_string));
        c.check(
            remoteid.as_deref() == Some(&self.seed().item.to_string()),
            "remoteid = local item id",
            || format!("{remoteid:?}"),
        )?;
        c.check(st.upstream_id.is_some(), "upstream id saved", || {
            "none".into()
        })?;
        c.check(
            st.service_status.as_deref() == Some("3"),
            "service_status 3",
            || format!("{:?}", st.service_status),
        )?;
        c.check(
            run.mgrctl_count("service.postopen") == 1,
            "service.postopen",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        c.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })?;
        self.passed(c);
        let acct = self.ctrl().get(&format!("/_sim/account/{UPSTREAM_USER}"))?;
        println!(
            "  {:<9} reseller balance {START_BALANCE} -> {} {}",
            "upstream",
            acct["balance"].as_str().unwrap_or("?"),
            acct["currency"].as_str().unwrap_or("")
        );
        Ok(())
    }

    /// Let the simulated CA move one step, then `sync_item`, until issued.
    fn step_sync(&mut self, n: &str, title: &str, what: &str) -> Step<ItemState> {
        self.heading(n, title, what);
        let item = self.seed().item.to_string();
        let before = self.current()?;
        for round in 1..=MAX_SYNC_ROUNDS {
            let advanced = self.ctrl().post("/_sim/tick", &json!({}))?;
            println!(
                "  {} upstream CA advances one step (POST /_sim/tick -> {})",
                self.style.dim(&format!("round {round}:")),
                advanced["advanced"]
            );
            let run = self.module(&["--command", "sync_item", "--item", &item], None, "")?;
            let st = self.state()?;
            self.expect_success(&run, None)?;
            let mut c = Checks::new();
            c.check(
                run.upstream_funcs() == ["certificate.edit"],
                "one upstream read (certificate.edit)",
                || format!("{:?}", run.upstream_funcs()),
            )?;
            if st.service_status.as_deref() != Some("5") {
                c.check(
                    st.service_status.as_deref() == Some("4"),
                    "service_status 4 (enrolled)",
                    || format!("{:?}", st.service_status),
                )?;
                self.passed(c);
                continue;
            }
            let crt_ok = st
                .crt
                .as_deref()
                .is_some_and(|c| c.trim_start().starts_with("-----BEGIN CERTIFICATE-----"));
            c.check(crt_ok, "certificate saved", || format!("{:?}", st.crt))?;
            c.check(st.crt != before.crt, "a new certificate", || {
                "the same certificate as before".into()
            })?;
            // Claim only what this step did: the first issuance sets the
            // expiry; a reissued or renewed certificate keeps the one set before.
            match &before.expiredate {
                None => c.check(
                    st.expiredate.is_some(),
                    format!(
                        "expiredate set ({})",
                        st.expiredate.as_deref().unwrap_or("-")
                    ),
                    || "none".into(),
                )?,
                Some(old) if st.expiredate.as_ref() == Some(old) => {
                    c.0.push(format!("expiredate unchanged ({old})"))
                }
                Some(old) => c.0.push(format!(
                    "expiredate {old} -> {}",
                    st.expiredate.as_deref().unwrap_or("-")
                )),
            }
            c.check(
                run.mgrctl_count("certificate.save") == 1,
                "one certificate.save",
                || format!("{:?}", run.mgrctl_funcs()),
            )?;
            c.0.insert(0, "service_status 5 (issued)".into());
            self.passed(c);
            return Ok(st);
        }
        Err(format!(
            "service_status 5 (issued) after {MAX_SYNC_ROUNDS} issuance steps"
        ))
    }

    fn step_reopen(&mut self) -> Step<()> {
        self.heading(
            "6",
            "reopen",
            "reissue the certificate (customer asked for a new one)",
        );
        let before = self.current()?;
        let (run, st) = self.service("reopen")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("certificate.reissue.step2") == 1,
            "exactly one certificate.reissue.step2",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            st.service_status.as_deref() == Some("3"),
            "service_status 3 (requested)",
            || format!("{:?}", st.service_status),
        )?;
        c.check(
            st.expiredate == before.expiredate,
            "expiredate unchanged",
            || format!("{:?} -> {:?}", before.expiredate, st.expiredate),
        )?;
        c.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })?;
        self.passed(c);
        self.step_sync("6b", "sync_item", "until the reissued certificate arrives")?;
        Ok(())
    }

    fn step_prolong(&mut self) -> Step<()> {
        self.heading("7", "prolong", "renew for the item's period (12 months)");
        let before = self.current()?;
        let (run, st) = self.service("prolong")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("service.prolong") == 1,
            "exactly one service.prolong",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        let expected = before.expiredate.as_deref().and_then(plus_12_months);
        c.check(
            st.expiredate.is_some() && st.expiredate == expected,
            format!(
                "expiredate {} -> {}",
                before.expiredate.as_deref().unwrap_or("-"),
                expected.as_deref().unwrap_or("?")
            ),
            || format!("{:?}", st.expiredate),
        )?;
        c.check(
            run.mgrctl_count("service.postprolong") == 1,
            "service.postprolong",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        c.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })?;
        self.passed(c);
        if st.service_status.as_deref() == Some("3") {
            self.note(&format!(
                "service_status 3: the renewal is a new certificate request upstream; the saved one stays valid until {}",
                before.expiredate.as_deref().unwrap_or("its expiry")
            ));
        }
        if st.service_status.as_deref() != Some("5") {
            // The simulated upstream reissues on renewal (knob prolong_reissues).
            self.step_sync("7b", "sync_item", "until the renewed certificate arrives")?;
        }
        Ok(())
    }

    fn step_suspend_resume(&mut self, n: &str, command: &str, status: i32) -> Step<()> {
        let what = if command == "suspend" {
            "the customer did not pay: switch the service off (local; mirror_suspend off)"
        } else {
            "paid again: switch it back on"
        };
        self.heading(n, command, what);
        let (run, st) = self.service(command)?;
        let mut c = Checks::new();
        c.check(run.upstream.is_empty(), "no upstream call", || {
            format!("{:?}", run.upstream_funcs())
        })?;
        let post = format!("service.post{command}");
        c.check(run.mgrctl_count(&post) == 1, post.clone(), || {
            format!("{:?}", run.mgrctl_funcs())
        })?;
        c.check(
            st.status == status,
            format!("item status {status} {}", show::item_status_name(status)),
            || st.status.to_string(),
        )?;
        c.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })?;
        self.passed(c);
        Ok(())
    }

    fn step_close(&mut self) -> Step<()> {
        self.heading(
            "10",
            "close",
            "delete the service: the upstream certificate is deleted too",
        );
        let upstream_id = self.current()?.upstream_id.unwrap_or_default();
        let (run, st) = self.service("close")?;
        let mut c = Checks::new();
        let deletes: Vec<&Value> = run
            .upstream
            .iter()
            .filter(|e| e["func"] == "certificate.delete")
            .collect();
        c.check(
            deletes.len() == 1
                && deletes[0]["params"]["elid"].as_str() == Some(upstream_id.as_str()),
            format!("one certificate.delete of upstream {upstream_id}"),
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            run.mgrctl_count("service.postclose") == 1,
            "service.postclose",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        c.check(st.status == 4, "item status 4 deleted", || {
            st.status.to_string()
        })?;
        c.check(st.running_ops == 0, "running operation finished", || {
            format!("{} left", st.running_ops)
        })?;
        let certs = self.ctrl().get("/_sim/certificates")?;
        let gone = certs.as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["id"].as_u64().map(|i| i.to_string()).as_deref() == Some(upstream_id.as_str())
                    && x["deleted"] == Value::Bool(true)
            })
        });
        c.check(gone, "deleted upstream", || certs.to_string())?;
        self.passed(c);
        if st.service_status.as_deref() == Some("5") {
            self.note(
                "status 4 = the service is deleted; service_status keeps the certificate's last state (5 issued)",
            );
        }
        let acct = self.ctrl().get(&format!("/_sim/account/{UPSTREAM_USER}"))?;
        println!(
            "  {:<9} reseller balance now {} {} (issued certificates are not refunded)",
            "upstream",
            acct["balance"].as_str().unwrap_or("?"),
            acct["currency"].as_str().unwrap_or("")
        );
        Ok(())
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

/// `YYYY-MM-DD` + 12 months.
fn plus_12_months(date: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    d.checked_add_months(chrono::Months::new(12))
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// Values of `attr` on every `<tag …>` element (a light scan: the module's
/// own XML, good enough for showing and checking names).
fn xml_attr_values(xml: &str, tag: &str, attr: &str) -> Vec<String> {
    let open = format!("<{tag} ");
    let key = format!("{attr}=\"");
    xml.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &xml[i..];
            let end = rest.find('>')?;
            let el = &rest[..end];
            let start = el.find(&key)? + key.len();
            let len = el[start..].find('"')?;
            Some(el[start..start + len].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_scan() {
        let xml = r#"<doc><features><feature name="open"/><feature name="close"/></features>
            <templates><template id="ssl_1" name="ssl_1" www="yes"/></templates></doc>"#;
        assert_eq!(xml_attr_values(xml, "feature", "name"), ["open", "close"]);
        assert_eq!(xml_attr_values(xml, "template", "name"), ["ssl_1"]);
    }

    #[test]
    fn renewal_date() {
        assert_eq!(plus_12_months("2026-11-26").as_deref(), Some("2027-11-26"));
        assert_eq!(plus_12_months("2028-02-29").as_deref(), Some("2029-02-28"));
        assert_eq!(plus_12_months("x"), None);
    }
}
