//! Demo step for the books (issue 14 part 2): once the certificate is
//! issued, the drift report finds the local and the upstream books in
//! agreement — read-only, exit 0.

use super::{Checks, Demo, Step};

impl Demo {
    pub(super) fn step_reconcile(&mut self, n: &str) -> Step<()> {
        self.heading(
            n,
            "reconcile",
            "the admin's drift report: local services and upstream certificates side by side",
        );
        let module = self.seed().module.to_string();
        let run = self.module(&["reconcile", "--module", module.as_str()], None, "")?;
        for line in run.stdout.lines() {
            println!("  {:<9} {line}", "report");
        }
        self.expect_success(&run, None)?;
        let mut c = Checks::new();
        c.check(
            run.stdout.contains("clean"),
            "clean: the books agree",
            || run.stdout.clone(),
        )?;
        c.check(
            run.upstream_funcs()
                .iter()
                .all(|f| f == "certificate" || f == "certificate.edit"),
            "upstream only read",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            run.mgrctl_funcs().iter().all(|f| f == "paramlist"),
            "nothing written locally",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        self.passed(c);
        Ok(())
    }
}
