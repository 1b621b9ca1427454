//! The lifecycle steps BILLmanager runs on one certificate order, in their
//! order (`steps`): `features`, `check_connection`, `open`, `sync_item` until
//! issued, `reopen`, `prolong`, `suspend`, `resume`, `close`; the steps of
//! their own files (the tariff import, the service import and the drift
//! report, the reissue within the paid term, `setparam`, `getbalance`) are
//! called from here in their place.

use serde_json::{json, Value};

use super::local::ItemState;
use super::stop::{self, say};
use super::{show, Checks, Demo, Fail, Step, MAX_SYNC_ROUNDS, START_BALANCE, UPSTREAM_USER};

impl Demo {
    pub(super) fn steps(&mut self) -> Step<()> {
        let go_on = || {
            if stop::requested() {
                Err(Fail::from("stopped"))
            } else {
                Ok(())
            }
        };
        self.step_features()?;
        go_on()?;
        self.step_check_connection()?;
        go_on()?;
        self.step_tariff_import()?;
        go_on()?;
        self.step_open()?;
        self.step_validation_shown()?;
        go_on()?;
        self.step_sync(
            "5",
            "sync_item",
            "poll until the upstream has issued the certificate",
        )?;
        self.step_service_import("5b")?;
        self.step_reconcile("5c")?;
        self.step_send_dv_email()?;
        go_on()?;
        self.step_reopen()?;
        go_on()?;
        self.step_prolong()?;
        go_on()?;
        self.step_term_reissue()?;
        go_on()?;
        self.step_suspend_resume("8", "suspend", 3)?;
        go_on()?;
        self.step_suspend_resume("9", "resume", 2)?;
        self.step_setparam("9b")?;
        self.step_getbalance("9c")?;
        self.step_books("9d")?;
        go_on()?;
        self.step_close()?;
        Ok(())
    }

    fn step_features(&mut self) -> Step<()> {
        self.heading(
            "1",
            "features",
            "what the module offers (BILLmanager asks at start)",
        );
        let run = self.module(&["--command", "features"], None, "")?;
        self.expect_success(&run, None)?;
        let names = xml_attr_values(&run.stdout, "feature", "name");
        say!("  {:<9} features: {}", "answer", names.join(" "));
        let mut c = Checks::new();
        for wanted in [
            "check_connection",
            "open",
            "sync_item",
            "prolong",
            "reopen",
            "suspend",
            "resume",
            "close",
            "setparam",
            "getbalance",
            "send_dv_email",
        ] {
            c.check(
                names.iter().any(|n| n == wanted),
                format!("feature {wanted}"),
                || format!("features {names:?}"),
            )?;
        }
        c.0 = vec!["lifecycle features advertised".into()];
        c.check(
            run.upstream.is_empty() && run.mgrctl.is_empty(),
            "no upstream or mgrctl call",
            || {
                format!(
                    "upstream {:?}, mgrctl {:?}",
                    run.upstream_funcs(),
                    run.mgrctl_funcs()
                )
            },
        )?;
        self.passed(c);
        Ok(())
    }

    fn step_check_connection(&mut self) -> Step<()> {
        self.heading(
            "2",
            "check_connection",
            "validate the integration settings (processing module form)",
        );
        let module = self.seed().module;
        let stdin = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{module}</id>\
             <url>{}</url><username>{UPSTREAM_USER}</username><password>{}</password>\
             </processingmodule></doc>\n",
            self.world.upstream_url, self.world.upstream_password
        );
        let run = self.module(
            &["--command", "check_connection"],
            Some(&stdin),
            " < settings XML on stdin (url, username, password)",
        )?;
        self.expect_success(&run, None)?;
        say!("  {:<9} {}", "answer", run.stdout.trim().replace('\n', " "));
        let mut c = Checks::new();
        c.check(
            run.stdout.contains("<doc") && !run.stdout.contains("<error"),
            "an answer without error",
            || run.stdout.clone(),
        )?;
        c.check(
            run.upstream_funcs() == ["whoami"],
            "one upstream login (whoami)",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            run.upstream
                .iter()
                .all(|e| !e.to_string().contains(&self.world.upstream_password)),
            "password in no upstream log entry",
            || "the password in the simulator journal".into(),
        )?;
        c.check(run.mgrctl.is_empty(), "no mgrctl call", || {
            format!("{:?}", run.mgrctl_funcs())
        })?;
        self.passed(c);
        Ok(())
    }

    fn step_open(&mut self) -> Step<()> {
        self.heading(
            "4",
            "open",
            "order the certificate upstream (paid from the reseller balance)",
        );
        let (run, st) = self.service("open")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("certificate.order.param") == 1,
            "exactly one certificate.order.param",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        let remoteid = run
            .upstream
            .iter()
            .find(|e| e["func"] == "certificate.order.param")
            .and_then(|e| e["params"]["remoteid"].as_str().map(str::to_string));
        c.check(
            remoteid.as_deref() == Some(&self.seed().item.to_string()),
            "remoteid = local item id",
            || format!("{remoteid:?}"),
        )?;
        c.check(st.upstream_id.is_some(), "upstream id saved", || {
            "none".into()
        })?;
        c.check(
            st.service_status.as_deref() == Some("3"),
            "service_status 3",
            || format!("{:?}", st.service_status),
        )?;
        c.operation_done(&run, &st, "open")?;
        self.passed(c);
        let acct = self.ctrl().get(&format!("/_sim/account/{UPSTREAM_USER}"))?;
        say!(
            "  {:<9} reseller balance {START_BALANCE} -> {} {}",
            "upstream",
            acct["balance"].as_str().unwrap_or("?"),
            acct["currency"].as_str().unwrap_or("")
        );
        Ok(())
    }

    /// Let the simulated CA move one step, then `sync_item`, until issued.
    pub(super) fn step_sync(&mut self, n: &str, title: &str, what: &str) -> Step<ItemState> {
        self.heading(n, title, what);
        let item = self.seed().item.to_string();
        let before = self.current()?;
        for round in 1..=MAX_SYNC_ROUNDS {
            let advanced = self.ctrl().post("/_sim/tick", &json!({}))?;
            say!(
                "  {} upstream CA advances one step (POST /_sim/tick -> {})",
                self.style.dim(&format!("round {round}:")),
                advanced["advanced"]
            );
            let run = self.module(&["--command", "sync_item", "--item", &item], None, "")?;
            let st = self.state()?;
            self.expect_success(&run, None)?;
            let mut c = Checks::new();
            c.check(
                run.upstream_funcs() == ["certificate.edit"],
                "one upstream read (certificate.edit)",
                || format!("{:?}", run.upstream_funcs()),
            )?;
            if st.service_status.as_deref() != Some("5") {
                c.check(
                    st.service_status.as_deref() == Some("4"),
                    "service_status 4 (enrolled)",
                    || format!("{:?}", st.service_status),
                )?;
                self.passed(c);
                continue;
            }
            let crt_ok = st
                .crt
                .as_deref()
                .is_some_and(|c| c.trim_start().starts_with("-----BEGIN CERTIFICATE-----"));
            c.check(crt_ok, "certificate saved", || format!("{:?}", st.crt))?;
            c.check(st.crt != before.crt, "a new certificate", || {
                "the same certificate as before".into()
            })?;
            // Claim only what this step did: the first issuance sets the
            // expiry; a reissued or renewed certificate keeps the one set before.
            match &before.expiredate {
                None => c.check(
                    st.expiredate.is_some(),
                    format!(
                        "expiredate set ({})",
                        st.expiredate.as_deref().unwrap_or("-")
                    ),
                    || "none".into(),
                )?,
                Some(old) if st.expiredate.as_ref() == Some(old) => {
                    c.0.push(format!("expiredate unchanged ({old})"))
                }
                Some(old) => c.0.push(format!(
                    "expiredate {old} -> {}",
                    st.expiredate.as_deref().unwrap_or("-")
                )),
            }
            c.check(
                run.mgrctl_count("certificate.save") == 1,
                "one certificate.save",
                || format!("{:?}", run.mgrctl_funcs()),
            )?;
            c.0.insert(0, "service_status 5 (issued)".into());
            self.passed(c);
            return Ok(st);
        }
        Err(format!(
            "service_status 5 (issued) after {MAX_SYNC_ROUNDS} issuance steps"
        ))
    }

    fn step_reopen(&mut self) -> Step<()> {
        self.heading(
            "6",
            "reopen",
            "reissue the certificate (customer asked for a new one)",
        );
        let before = self.current()?;
        let (run, st) = self.service("reopen")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("certificate.reissue.step2") == 1,
            "exactly one certificate.reissue.step2",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.check(
            st.service_status.as_deref() == Some("3"),
            "service_status 3 (requested)",
            || format!("{:?}", st.service_status),
        )?;
        c.check(
            st.expiredate == before.expiredate,
            "expiredate unchanged",
            || format!("{:?} -> {:?}", before.expiredate, st.expiredate),
        )?;
        c.finished(&st)?;
        self.passed(c);
        self.step_sync("6b", "sync_item", "until the reissued certificate arrives")?;
        Ok(())
    }

    fn step_prolong(&mut self) -> Step<()> {
        self.heading("7", "prolong", "renew for the item's period (12 months)");
        let before = self.current()?;
        let (run, st) = self.service("prolong")?;
        let mut c = Checks::new();
        c.check(
            run.upstream_count("service.prolong") == 1,
            "exactly one service.prolong",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        let expected = before.expiredate.as_deref().and_then(plus_12_months);
        c.check(
            st.expiredate.is_some() && st.expiredate == expected,
            format!(
                "expiredate {} -> {}",
                before.expiredate.as_deref().unwrap_or("-"),
                expected.as_deref().unwrap_or("?")
            ),
            || format!("{:?}", st.expiredate),
        )?;
        c.operation_done(&run, &st, "prolong")?;
        self.passed(c);
        if st.service_status.as_deref() == Some("3") {
            self.note(&format!(
                "service_status 3: the renewal is a new certificate request upstream; the saved one stays valid until {}",
                before.expiredate.as_deref().unwrap_or("its expiry")
            ));
        }
        if st.service_status.as_deref() != Some("5") {
            // The simulated upstream reissues on renewal (knob prolong_reissues).
            self.step_sync("7b", "sync_item", "until the renewed certificate arrives")?;
        }
        Ok(())
    }

    fn step_suspend_resume(&mut self, n: &str, command: &str, status: i32) -> Step<()> {
        let what = if command == "suspend" {
            "the customer did not pay: switch the service off (local; mirror_suspend off)"
        } else {
            "paid again: switch it back on"
        };
        self.heading(n, command, what);
        let (run, st) = self.service(command)?;
        let mut c = Checks::new();
        c.check(run.upstream.is_empty(), "no upstream call", || {
            format!("{:?}", run.upstream_funcs())
        })?;
        c.reported(&run, command)?;
        c.check(
            st.status == status,
            format!("item status {status} {}", show::item_status_name(status)),
            || st.status.to_string(),
        )?;
        c.finished(&st)?;
        self.passed(c);
        Ok(())
    }

    fn step_close(&mut self) -> Step<()> {
        self.heading(
            "10",
            "close",
            "delete the service: the upstream certificate is deleted too",
        );
        let upstream_id = self.current()?.upstream_id.unwrap_or_default();
        let (run, st) = self.service("close")?;
        let mut c = Checks::new();
        let deletes: Vec<&Value> = run
            .upstream
            .iter()
            .filter(|e| e["func"] == "certificate.delete")
            .collect();
        c.check(
            deletes.len() == 1
                && deletes[0]["params"]["elid"].as_str() == Some(upstream_id.as_str()),
            format!("one certificate.delete of upstream {upstream_id}"),
            || format!("{:?}", run.upstream_funcs()),
        )?;
        c.reported(&run, "close")?;
        c.check(st.status == 4, "item status 4 deleted", || {
            st.status.to_string()
        })?;
        c.finished(&st)?;
        let certs = self.ctrl().get("/_sim/certificates")?;
        let gone = certs.as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["id"].as_u64().map(|i| i.to_string()).as_deref() == Some(upstream_id.as_str())
                    && x["deleted"] == Value::Bool(true)
            })
        });
        c.check(gone, "deleted upstream", || certs.to_string())?;
        self.passed(c);
        if st.service_status.as_deref() == Some("5") {
            self.note(
                "status 4 = the service is deleted; service_status keeps the certificate's last state (5 issued)",
            );
        }
        let acct = self.ctrl().get(&format!("/_sim/account/{UPSTREAM_USER}"))?;
        say!(
            "  {:<9} reseller balance now {} {} (issued certificates are not refunded)",
            "upstream",
            acct["balance"].as_str().unwrap_or("?"),
            acct["currency"].as_str().unwrap_or("")
        );
        Ok(())
    }
}

/// `YYYY-MM-DD` + 12 months.
fn plus_12_months(date: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    d.checked_add_months(chrono::Months::new(12))
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// Values of `attr` on every `<tag …>` element (a light scan: the module's
/// own XML, good enough for showing and checking names).
fn xml_attr_values(xml: &str, tag: &str, attr: &str) -> Vec<String> {
    let open = format!("<{tag} ");
    let key = format!("{attr}=\"");
    xml.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &xml[i..];
            let end = rest.find('>')?;
            let el = &rest[..end];
            let start = el.find(&key)? + key.len();
            let len = el[start..].find('"')?;
            Some(el[start..start + len].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_scan() {
        let xml = r#"<doc><features><feature name="open"/><feature name="close"/></features>
            <templates><template id="ssl_1" name="ssl_1" www="yes"/></templates></doc>"#;
        assert_eq!(xml_attr_values(xml, "feature", "name"), ["open", "close"]);
        assert_eq!(xml_attr_values(xml, "template", "name"), ["ssl_1"]);
    }

    #[test]
    fn renewal_date() {
        assert_eq!(plus_12_months("2026-11-26").as_deref(), Some("2027-11-26"));
        assert_eq!(plus_12_months("2028-02-29").as_deref(), Some("2029-02-28"));
        assert_eq!(plus_12_months("x"), None);
    }
}
