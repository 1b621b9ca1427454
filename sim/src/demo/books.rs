//! Demo steps for the books: a certificate the reseller already
//! had upstream (ordered by hand) is brought in by the service import,
//! nothing ordered; then the drift report finds the local and the upstream
//! books in agreement — read-only, exit 0.

use serde_json::json;

use super::stop::say;
use super::{Checks, Demo, Run, Step, UPSTREAM_TARIFF, UPSTREAM_USER};

/// The admin command's own output, shown under its step.
fn print_report(stdout: &str) {
    for line in stdout.lines() {
        say!("  {:<9} {line}", "report");
    }
}

/// The run asked the upstream only for its certificate list and views.
fn upstream_only_read(run: &Run) -> bool {
    run.upstream_funcs()
        .iter()
        .all(|f| f == "certificate" || f == "certificate.edit")
}

/// The certificate that exists upstream before the module is set up.
const HAND_MADE_CN: &str = "shop.example.org";

impl Demo {
    pub(super) fn step_service_import(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "import",
            "a certificate ordered upstream by hand before the switch is linked to a new local service",
        );
        let seeded = self.ctrl().post(
            "/_sim/drift",
            &json!({"action": "seed", "username": UPSTREAM_USER, "cn": HAND_MADE_CN,
                    "pricelist": UPSTREAM_TARIFF}),
        )?;
        let upstream_id = seeded["id"].as_u64().ok_or("the seeded certificate's id")?;
        say!("  {:<9} upstream certificate {upstream_id} for {HAND_MADE_CN}, issued, ordered by hand", "given");
        let acct = format!("/_sim/account/{UPSTREAM_USER}");
        let balance_before = self.ctrl().get(&acct)?["balance"].clone();
        let module = self.seed().module.to_string();
        let run = self.module(&["import", "--module", module.as_str()], None, "")?;
        print_report(&run.stdout);
        self.expect_success(&run, None)?;
        let balance_after = self.ctrl().get(&acct)?["balance"].clone();
        let mut c = Checks::new();
        let linked_line = run
            .stdout
            .lines()
            .find(|l| l.contains(HAND_MADE_CN))
            .unwrap_or("")
            .to_string();
        c.check(
            linked_line.contains("linked: service") || linked_line.contains("completed: service"),
            format!("{HAND_MADE_CN} linked to a new local service"),
            || run.stdout.clone(),
        )?;
        c.check(
            upstream_only_read(&run),
            "nothing ordered: upstream only read",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(balance_before == balance_after, "nothing paid", || {
            format!("{balance_before} -> {balance_after}")
        })?;
        self.passed(c);
        Ok(())
    }

    pub(super) fn step_reconcile(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "reconcile",
            "the admin's drift report: local services and upstream certificates side by side",
        );
        let module = self.seed().module.to_string();
        let run = self.module(&["reconcile", "--module", module.as_str()], None, "")?;
        print_report(&run.stdout);
        self.expect_success(&run, None)?;
        let mut c = Checks::new();
        c.check(
            run.stdout.contains("clean"),
            "clean: the books agree",
            || run.stdout.clone(),
        )?;
        c.check(upstream_only_read(&run), "upstream only read", || {
            format!("{:?}", run.upstream_funcs())
        })?;
        c.check(
            run.mgrctl_funcs().iter().all(|f| f == "paramlist"),
            "nothing written locally",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        self.passed(c);
        Ok(())
    }
}
