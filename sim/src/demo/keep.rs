//! `--keep`: after a passed run, a world to explore first — a second order
//! waiting to be opened, the exact commands to try in another terminal, and
//! the simulator serving until Ctrl-C.

use std::time::Duration;

use super::{interrupted, Demo, CN};

impl Demo {
    /// `--keep`: a second order waiting to be opened, the exact commands to
    /// try, then the simulator keeps serving until Ctrl-C (or until it exits
    /// by itself). The caller's teardown cleans up either way.
    pub(super) fn serve_until_interrupted(&mut self) -> i32 {
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
            self.world.upstream_url
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
            match self.world.sim_exited() {
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
}
