//! Demo steps for what a real BILLmanager also runs besides the lifecycle:
//! `setparam` when the service is edited, `getbalance` from its balance cron.

use super::stop::say;
use super::{Checks, Demo, Step};

impl Demo {
    pub(super) fn step_setparam(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "setparam",
            "the admin edited the service's parameters: nothing to do upstream",
        );
        let (run, st) = self.service("setparam")?;
        let mut c = Checks::new();
        c.check(
            run.upstream.is_empty(),
            "no upstream call, no money",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.operation_done(&run, &st, "setparam")?;
        self.passed(c);
        Ok(())
    }

    pub(super) fn step_getbalance(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "getbalance",
            "BILLmanager's balance cron: the upstream balance for the dashboard",
        );
        let module = self.seed().module;
        let run = self.module(&["--command", "getbalance"], None, "")?;
        self.expect_success(&run, None)?;
        let saved = self.local().module_balance(module)?;
        say!(
            "  {:<9} processing module {module} balance {}",
            "local",
            saved.as_deref().unwrap_or("-")
        );
        let mut c = Checks::new();
        // The balance is also a reading for the charge check (the books step
        // below): with an earlier reading to compare, the payments list is
        // read for the top-ups.
        let funcs = run.upstream_funcs();
        c.check(
            funcs == ["whoami"] || funcs == ["whoami", "payment"],
            "one upstream whoami (and the payments list, for the charge check)",
            || format!("{funcs:?}"),
        )?;
        c.check(
            run.mgrctl_count("processing.savebalance") == 1,
            "processing.savebalance",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        c.check(saved.is_some(), "balance stored for the dashboard", || {
            "no balance on the processing module".into()
        })?;
        self.passed(c);
        Ok(())
    }
}
