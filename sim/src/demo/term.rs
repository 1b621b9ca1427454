//! Demo step 7c/7d: one automatic reissue within a paid term. The
//! clocks move to ten days before the current certificate ends (the
//! simulator's through `/_sim/clock`, the module's through its test-only
//! `PMSSLRESELLER_TEST_NOW`); `sync_item` then asks for a free `oldrequest`
//! reissue on its own, pays nothing, leaves the paid term and the active
//! service as they are, and the new certificate is saved when issued.
//! Step 7e: that new certificate reaches the deploy hook (`[deploy] command`,
//! set for the demo from step 7c on), once, and `pmsslreseller files` writes
//! its files as issued.

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
        let hook_log = self.enable_deploy_hook()?;
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
        self.step_deployed(&hook_log)?;
        Ok(())
    }

    /// A deploy hook for the rest of the demo: it appends one line per run
    /// to `var/demo-deploy.log` (the certificate's facts and the files it got).
    fn enable_deploy_hook(&mut self) -> Step<std::path::PathBuf> {
        let root = self.local().root.clone();
        let log = root.join("var/demo-deploy.log");
        let script = root.join("demo-deploy-hook.sh");
        let body = format!(
            "#!/bin/sh\necho \"serial $PMSS_SERIAL for $PMSS_NAMES, valid $PMSS_NOT_BEFORE..$PMSS_NOT_AFTER, \
             files: $(cd \"$PMSS_DIR\" && ls | tr '\\n' ' ')\" >> {}\necho installed\n",
            log.display()
        );
        std::fs::write(&script, body).map_err(|e| format!("{}: {e}", script.display()))?;
        let config = root.join("etc/pmsslreseller.toml");
        std::fs::write(
            &config,
            format!("[deploy]\ncommand = \"sh {}\"\n", script.display()),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        say!(
            "  {} [deploy] command = \"sh {}\" (appends to {})",
            self.style.dim("config:"),
            script.display(),
            log.display()
        );
        Ok(log)
    }

    fn step_deployed(&mut self, hook_log: &std::path::Path) -> Step<()> {
        self.heading(
            "7e",
            "deploy hook, files",
            "the reissued certificate reached the deploy hook, once; its files as issued",
        );
        let item = self.seed().item;
        let lines: Vec<String> = std::fs::read_to_string(hook_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        for l in &lines {
            say!("  {} {l}", self.style.dim("hook:"));
        }
        // What the form said between the save and the deployment (the module's log).
        let module_log = self.local().root.join("var/pmsslreseller.log");
        let said = std::fs::read_to_string(&module_log)
            .unwrap_or_default()
            .lines()
            .rev()
            .find_map(|l| {
                l.split_once("the service form says: ")
                    .map(|(_, t)| t.to_string())
            });
        say!(
            "  {} until deployed: {}",
            self.style.dim("form:"),
            said.as_deref().unwrap_or("-")
        );
        let deployed = self.local().item_param(item, "pmss_deploy")?;
        let notice = self.local().item_param(item, "pmss_new_certificate")?;
        say!(
            "  {} pmss_deploy = {}",
            self.style.dim("form:"),
            deployed.as_deref().unwrap_or("-")
        );
        let mut c = Checks::new();
        c.check(
            lines.len() == 1,
            "the hook ran once for the new certificate",
            || format!("{} runs", lines.len()),
        )?;
        c.check(
            deployed
                .as_deref()
                .is_some_and(|d| d.starts_with("deployed on")),
            "the service form says deployed (exit 0)",
            || format!("{deployed:?}"),
        )?;
        c.check(
            said.as_deref()
                .is_some_and(|t| t.contains("install it before")),
            "the form told the customer to install it before the old one ends",
            || format!("{said:?}"),
        )?;
        c.check(
            notice.as_deref().unwrap_or_default().is_empty(),
            "the \"install it before\" notice is gone once deployed",
            || format!("{notice:?}"),
        )?;
        let out = self.local().root.join(format!("var/files-{item}"));
        let (item_arg, out_arg) = (item.to_string(), out.display().to_string());
        let run = self.module(&["files", "--item", &item_arg, "--out", &out_arg], None, "")?;
        self.expect_success(&run, None)?;
        for l in run.stdout.lines() {
            say!("  {} {l}", self.style.dim("files:"));
        }
        c.check(
            out.join("fullchain.pem").exists() && !out.join("key.pem").exists(),
            "leaf.pem, chain.pem, fullchain.pem, certificate.p7b written; no key",
            || run.stdout.clone(),
        )?;
        self.passed(c);
        Ok(())
    }
}
