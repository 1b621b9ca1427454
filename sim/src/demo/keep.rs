//! `--keep`: after a passed run, a world to explore first — a second order
//! waiting to be opened, the exact commands to try in another terminal, and
//! the simulator serving until Ctrl-C. Its clock is back to today first: the
//! term step left it months ahead, where a certificate issued now would look
//! renewed upstream to `reconcile`.

use std::time::Duration;

use serde_json::json;

use super::stop::{interrupted, say, stdout_gone, EXIT_STDOUT_CLOSED};
use super::{Demo, CN};

impl Demo {
    /// `--keep`: a second order waiting to be opened, the exact commands to
    /// try, then the simulator keeps serving until Ctrl-C (or until it exits
    /// by itself). The world's guard cleans up either way.
    pub(super) fn serve_until_interrupted(&mut self) -> i32 {
        let seed = self.seed();
        // The commands below run the module on the real clock.
        self.module_env.clear();
        let now = chrono::Utc::now().to_rfc3339();
        let next = self
            .ctrl()
            .post("/_sim/clock", &json!({ "now": now }))
            .and_then(|_| {
                self.local()
                    .seed_order(seed.module, seed.tariff, seed.account, CN)
            })
            .and_then(|item| {
                let ro = self.local().running_operation(item, "open")?;
                Ok((item, ro))
            });
        let (item, ro) = match next {
            Ok(v) => v,
            Err(e) => {
                say!("{} {e}", self.style.bad("DEMO FAILED:"));
                return 1;
            }
        };
        let (root, db, socket) = {
            let l = self.local();
            (l.root.clone(), l.db_name.clone(), l.socket.clone())
        };
        let bin = self.module_bin.display().to_string();
        let s = self.style;
        say!();
        say!(
            "{} the simulated upstream keeps serving at {} until Ctrl-C.",
            s.bold("--keep:"),
            self.world.upstream_url
        );
        say!("In another terminal, try (the module reads its settings from the database):");
        say!("  export MGR5_ROOT={}", root.display());
        say!("  {bin} config");
        say!("  {bin} catalog show --module {}", seed.module);
        say!("  {bin} pricing preview --module {}", seed.module);
        say!("  {bin} sync --module {}", seed.module);
        say!(
            "  {bin} --command open --item {item} --runningoperation {ro}   # a second order, waiting to be opened"
        );
        say!(
            "  curl -X POST http://{}/_sim/tick   # after open: the simulated CA moves one step",
            self.ctrl().addr
        );
        say!(
            "  {bin} --command sync_item --item {item}   # polls the upstream; tick and repeat until service_status 5 (issued)"
        );
        say!(
            "  {bin} reconcile --module {}   # local services and upstream certificates side by side",
            seed.module
        );
        say!("  tail \"$MGR5_ROOT/var/pmsslreseller.log\" \"$MGR5_ROOT/var/mgrctl-journal.jsonl\"");
        say!("  mariadb --socket={socket} {db} -e 'SELECT id, status, expiredate FROM item'");
        say!(
            "Ctrl-C here stops the simulator, drops database {db} and removes {}.",
            root.display()
        );
        loop {
            if interrupted() {
                say!();
                say!("{}", s.dim("Ctrl-C: cleaning up"));
                return 0;
            }
            // `| tee log` whose tee has gone: nobody sees the hints any more.
            if stdout_gone() {
                return EXIT_STDOUT_CLOSED;
            }
            match self.world.sim_exited() {
                Ok(None) => std::thread::sleep(Duration::from_millis(200)),
                Ok(Some(status)) => {
                    say!("the simulator exited ({status}); cleaning up");
                    return 1;
                }
                Err(e) => {
                    say!("cannot watch the simulator: {e}; cleaning up");
                    return 1;
                }
            }
        }
    }
}
