//! Demo steps for the books: a certificate the reseller already
//! had upstream (ordered by hand) is brought in by the service import,
//! nothing ordered; then the drift report finds the local and the upstream
//! books in agreement — read-only, exit 0. Later, the margin report from the
//! module's ledger, and the upstream's real charges (two balance readings:
//! `check_connection` and `getbalance`) checked against it.

use serde_json::json;

use super::stop::say;
use super::{Checks, Demo, Run, Step, START_BALANCE, UPSTREAM_TARIFF, UPSTREAM_USER};

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

    /// The margin report, and the charge check of the window between the
    /// `check_connection` reading and the `getbalance` one, verified against
    /// what the simulator itself took from the account meanwhile.
    pub(super) fn step_books(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "books",
            "the margin report from the module's ledger, and the upstream's real charges checked against it",
        );
        let module = self.seed().module.to_string();
        let sales = self.module(&["report", "sales", "--module", module.as_str()], None, "")?;
        print_report(&sales.stdout);
        self.expect_success(&sales, None)?;
        let rec = self.module(&["reconcile", "--module", module.as_str()], None, "")?;
        let charges: Vec<String> = rec
            .stdout
            .lines()
            .filter(|l| l.starts_with("charges:"))
            .map(str::to_string)
            .collect();
        print_report(&charges.join("\n"));
        // What the simulator took between the two readings (no top-up, nothing
        // paid before check_connection or since getbalance).
        let acct = format!("/_sim/account/{UPSTREAM_USER}");
        let now: rust_decimal::Decimal = self.ctrl().get(&acct)?["balance"]
            .as_str()
            .and_then(|b| b.parse().ok())
            .ok_or("the account's balance")?;
        let start: rust_decimal::Decimal = START_BALANCE.parse().map_err(|_| "START_BALANCE")?;
        let paid = (start - now).normalize();
        let line = charges.first().cloned().unwrap_or_default();
        let amount_after = |marker: &str| -> Option<rust_decimal::Decimal> {
            let rest = &line[line.find(marker)? + marker.len()..];
            rest.split_whitespace().next()?.parse().ok()
        };
        let took = amount_after("the upstream took ");
        let expected = amount_after("the ledger expects ");
        say!(
            "  {:<9} the simulator took {paid} EUR from the account between the two readings",
            "given"
        );
        let mut c = Checks::new();
        c.check(
            sales.upstream.is_empty(),
            "the report reads only the books",
            || format!("{:?}", sales.upstream_funcs()),
        )?;
        c.check(
            took.map(|t| t.normalize()) == Some(paid),
            format!("the charge check read what the upstream took: {paid} EUR"),
            || line.clone(),
        )?;
        if sales.stdout.contains("nothing to report") {
            // A build whose money paths write no ledger row yet: the check
            // must name all the money as unexplained, and reconcile must not
            // call it clean. Once rows are written this branch is never taken.
            say!(
                "  {:<9} the ledger is empty: this build's money paths write no ledger rows",
                "note"
            );
            c.check(
                expected.is_some_and(|e| e.is_zero())
                    && line.contains(&format!("overcharged by {paid} EUR")),
                format!("the {paid} EUR the empty ledger does not explain is named"),
                || rec.stdout.clone(),
            )?;
        } else {
            c.check(
                expected.map(|e| e.normalize()) == Some(paid)
                    && line.ends_with(": clean")
                    && rec.exit == 0,
                "clean: the ledger's posted costs are what the upstream took",
                || rec.stdout.clone(),
            )?;
        }
        self.passed(c);
        Ok(())
    }
}
