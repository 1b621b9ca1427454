//! The demo's world: set up before the steps (MariaDB and the scratch
//! `MGR5_ROOT` with its database, `billmgr-sim upstream` on loopback with the
//! reseller account, the seed) and torn down after them: the simulator
//! stopped, the database dropped, the scratch root removed.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use serde_json::json;

use super::http::Control;
use super::local::{self, Local, Seed};
use super::show::Style;
use super::stop::{complain, say};
use super::{Step, START_BALANCE, UPSTREAM_USER};

/// What the demo runs against; each part is there once set up.
pub(super) struct World {
    style: Style,
    local: Option<Local>,
    sim: Option<Child>,
    ctrl: Option<Control>,
    /// The simulator's BILLmanager API, `http://127.0.0.1:PORT/billmgr`.
    pub upstream_url: String,
    pub upstream_password: String,
}

impl World {
    /// Nothing set up yet; `upstream_password` is the account's password.
    pub fn new(style: Style, upstream_password: String) -> World {
        World {
            style,
            local: None,
            sim: None,
            ctrl: None,
            upstream_url: String::new(),
            upstream_password,
        }
    }

    pub fn local(&mut self) -> &mut Local {
        self.local.as_mut().expect("local set up before the steps")
    }

    /// The local side, if it was set up (for the failure report).
    pub fn local_if_set_up(&self) -> Option<&Local> {
        self.local.as_ref()
    }

    pub fn ctrl(&self) -> &Control {
        self.ctrl
            .as_ref()
            .expect("simulator started before the steps")
    }

    /// The simulator's exit status once it has exited by itself.
    pub fn sim_exited(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.sim.as_mut().map_or(Ok(None), |c| c.try_wait())
    }

    /// Set up everything and print what was made; the seed for the steps.
    pub fn set_up(&mut self, module_bin: &Path) -> Step<Seed> {
        let s = self.style;
        say!(
            "{}",
            s.bold("pmsslreseller demo: what BILLmanager runs, against a simulated upstream BILLmanager")
        );
        say!();
        say!("{}", s.bold("setup"));
        let tell = |m: &str| say!("  {:<11} {m}", "mariadb");
        let socket = local::ensure_mariadb(&tell)?;
        let local = Local::create(socket)?;
        say!(
            "  {:<11} {}  (etc/billmgr.pem test key, sbin/mgrctl -> billmgr-sim mgrctl stand-in)",
            "MGR5_ROOT",
            local.root.display()
        );
        say!(
            "  {:<11} {} on {}  (schema fixture tests/fixtures/billmgr-schema.sql)",
            "database",
            local.db_name,
            local.socket
        );
        let sim_log = local.root.join("var/billmgr-sim-upstream.log");
        self.local = Some(local);

        let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let log =
            std::fs::File::create(&sim_log).map_err(|e| format!("{}: {e}", sim_log.display()))?;
        let parent = std::process::id();
        let mut command = Command::new(me);
        command
            .args(["upstream", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            // Its own process group: a terminal's Ctrl-C reaches the demo
            // alone, which stops the simulator when it has cleaned up.
            .process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Dies with the demo even when the demo cannot clean up
                // (SIGKILL); checked after, in case the demo is already gone.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the demo has exited"));
                }
                Ok(())
            });
        }
        let mut child = command
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
        say!(
            "  {:<11} {}  (billmgr-sim upstream; account {UPSTREAM_USER}, {START_BALANCE} EUR)",
            "upstream",
            self.upstream_url
        );

        let url = self.upstream_url.clone();
        let pass = self.upstream_password.clone();
        let seed = self.local().seed(&url, UPSTREAM_USER, &pass)?;
        say!(
            "  {:<11} processing module {} (url, username; password crypted with etc/billmgr.pem); customer {}",
            "seeded", seed.module, seed.account
        );
        say!("  {:<11} {}", "module", module_bin.display());
        Ok(seed)
    }

    /// Stop the simulator, drop the database, remove the scratch root.
    fn tear_down(&mut self) {
        if let Some(mut child) = self.sim.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut local) = self.local.take() {
            let problems = local.cleanup(false);
            if problems.is_empty() {
                say!(
                    "{}",
                    self.style.dim(
                        "cleaned up: simulator stopped, database dropped, scratch root removed"
                    )
                );
            } else {
                for p in problems {
                    complain(format_args!("cleanup: {p}"));
                }
            }
        }
    }
}

/// The clean-up runs however the demo ends: passed, failed, interrupted,
/// its reader gone, or a panic unwinding.
impl Drop for World {
    fn drop(&mut self) {
        self.tear_down();
    }
}
