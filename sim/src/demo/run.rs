//! Running the module the way BILLmanager does — the command, its exit code
//! and time, the upstream calls it made (the simulator's journal) and the
//! `mgrctl` callbacks (the stand-in's journal) — and reading the local
//! state after it; a failed run becomes the demo's failure with what the
//! module said.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use super::local::ItemState;
use super::stop::{self, say};
use super::{show, Demo, Step};

/// What one module run did.
pub(super) struct Run {
    pub(super) exit: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) upstream: Vec<Value>,
    pub(super) mgrctl: Vec<Value>,
}

impl Run {
    pub(super) fn upstream_count(&self, func: &str) -> usize {
        self.upstream.iter().filter(|e| e["func"] == func).count()
    }
    pub(super) fn mgrctl_count(&self, func: &str) -> usize {
        self.mgrctl.iter().filter(|e| e["func"] == func).count()
    }
    pub(super) fn upstream_funcs(&self) -> Vec<String> {
        funcs(&self.upstream)
    }
    pub(super) fn mgrctl_funcs(&self) -> Vec<String> {
        funcs(&self.mgrctl)
    }
}

fn funcs(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["func"].as_str().unwrap_or("?").to_string())
        .collect()
}

impl Demo {
    /// Run the module as BILLmanager does and show what it did.
    pub(super) fn module(
        &mut self,
        args: &[&str],
        stdin: Option<&str>,
        stdin_note: &str,
    ) -> Step<Run> {
        // Ctrl-C or a closed stdout: no further run (main tells why).
        if stop::requested() {
            return Err("stopped".into());
        }
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
        say!(
            "  {} pmsslreseller {}{}   {exit_text}, {ms} ms",
            s.dim("$"),
            args.join(" "),
            stdin_note
        );
        for l in show::calls(&s, "upstream", &upstream) {
            say!("{l}");
        }
        for l in show::calls(&s, "mgrctl", &mgrctl) {
            say!("{l}");
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
    pub(super) fn current(&mut self) -> Step<ItemState> {
        let item = self.seed().item;
        self.local().item_state(item)
    }

    pub(super) fn state(&mut self) -> Step<ItemState> {
        let item = self.seed().item;
        let st = self.local().item_state(item)?;
        for l in show::state(item, &st) {
            say!("{l}");
        }
        Ok(st)
    }

    /// Exit 0 or a failure that shows what the module said.
    pub(super) fn expect_success(&mut self, run: &Run, ro: Option<u64>) -> Step<()> {
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
    pub(super) fn service(&mut self, command: &str) -> Step<(Run, ItemState)> {
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
    pub(super) fn print_module_log_tail(&self) {
        let Some(local) = self.world.local_if_set_up() else {
            return;
        };
        let text = std::fs::read_to_string(local.module_log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return;
        }
        say!("last lines of {}:", local.module_log_path().display());
        for l in &lines[lines.len().saturating_sub(8)..] {
            say!("  {l}");
        }
        if !self.keep {
            say!(
                "(run with --keep to explore the scratch root, database and simulator after a run)"
            );
        }
    }
}
