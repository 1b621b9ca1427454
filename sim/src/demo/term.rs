//! Demo step 7c/7d: one automatic reissue within a paid term. The
//! clocks move to ten days before the current certificate ends (the
//! simulator's through `/_sim/clock`, the module's through its test-only
//! `PMSSLRESELLER_TEST_NOW`); `sync_item` then asks for a free `oldrequest`
//! reissue on its own, pays nothing, leaves the paid term and the active
//! service as they are, and the new certificate is saved when issued.

use serde_json::{json, Value};

use super::stop::say;
use super::{Checks, Demo, Step};

impl Demo {
    pub(super) fn step_term_reissue(&mut self) -> Step<()> {
        self.heading(
            "7c",
            "sync_item",
            "the certificate nears its end, the paid term goes on: a free reissue by itself",
        );
        let before = self.current()?;
        let upstream_id: u64 = before
            .upstream_id
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or("an upstream id before the term step")?;
        let items = self.ctrl().get("/_sim/certificates")?;
        let cert_end = items
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == upstream_id))
            .and_then(|i| i["cert_not_after"].as_str())
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or("the simulator shows the certificate's validity")?;
        let day = cert_end - chrono::Days::new(10);
        let now = format!("{day}T10:00:00Z");
        self.ctrl().post("/_sim/clock", &json!({ "now": now }))?;
        // From here on the module runs on the same day as the simulator.
        self.module_env = vec![("PMSSLRESELLER_TEST_NOW".into(), now.clone())];
        say!(
            "  {} both clocks to {now}: the certificate ends {cert_end}, the paid term {}",
            self.style.dim("clock:"),
            before.expiredate.as_deref().unwrap_or("-")
        );
        let item = self.seed().item.to_string();
        let run = self.module(&["--command", "sync_item", "--item", &item], None, "")?;
        let st = self.state()?;
        self.expect_success(&run, None)?;
        let mut c = Checks::new();
        let reissues: Vec<&Value> = run
            .upstream
            .iter()
            .filter(|e| e["func"] == "certificate.reissue.step2")
            .collect();
        c.check(
            reissues.len() == 1 && reissues[0]["params"]["crt_type"] == "oldrequest",
            "exactly one certificate.reissue.step2 (crt_type=oldrequest: same CSR, same names)",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            run.upstream_count("service.prolong") == 0,
            "nothing paid",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            st.expiredate == before.expiredate,
            format!(
                "paid term unchanged ({})",
                before.expiredate.as_deref().unwrap_or("-")
            ),
            || format!("{:?} -> {:?}", before.expiredate, st.expiredate),
        )?;
        c.check(st.status == 2, "service still active", || {
            format!("status {}", st.status)
        })?;
        c.check(
            run.mgrctl_count("service.postreopen") == 0,
            "no operation reported",
            || format!("{:?}", run.mgrctl_funcs()),
        )?;
        self.passed(c);
        self.step_sync("7d", "sync_item", "until the reissued certificate arrives")?;
        Ok(())
    }
}
