//! Demo steps 4b and 5d: domain validation as the customer sees it. After
//! the order the service form says what the CA waits for (the e-mail, where
//! it went, when); the customer then makes another address the approver
//! (`send_dv_email`): the issued certificate is reissued once from the
//! request on file, and the form follows.

use serde_json::Value;

use super::stop::say;
use super::{Checks, Demo, Step};

/// The item params the module writes for the customer's validation.
const SHOWN: [&str; 4] = [
    "pmss_domain_validation",
    "approver_email",
    "domains_list",
    "auth_dnstxt_value",
];

impl Demo {
    fn show_validation(&mut self) -> Step<Option<String>> {
        let item = self.seed().item;
        let mut line = None;
        for name in SHOWN {
            if let Some(v) = self.local().item_param(item, name)? {
                say!("  {:<9} {name} = {v}", "item");
                if name == "pmss_domain_validation" {
                    line = Some(v);
                }
            }
        }
        Ok(line)
    }

    pub(super) fn step_validation_shown(&mut self) -> Step<()> {
        self.heading(
            "4b",
            "validation",
            "what the customer sees: the CA waits for the e-mail to the approver",
        );
        let line = self.show_validation()?;
        let mut c = Checks::new();
        c.check(
            line.as_deref().is_some_and(|l| {
                l.starts_with("waiting for the e-mail to ") && l.contains("(sent ")
            }),
            "the form says where the e-mail went and when",
            || format!("{line:?}"),
        )?;
        self.passed(c);
        Ok(())
    }

    pub(super) fn step_send_dv_email(&mut self) -> Step<()> {
        self.heading(
            "5d",
            "send_dv_email",
            "the customer picks another approver address: one reissue with it",
        );
        let item = self.seed().item.to_string();
        let email = "webmaster@example.com";
        let args = [
            "--command",
            "send_dv_email",
            "--item",
            item.as_str(),
            "--emails",
            email,
        ];
        let run = self.module(&args, None, "")?;
        self.expect_success(&run, None)?;
        let mut c = Checks::new();
        let reissues: Vec<&Value> = run
            .upstream
            .iter()
            .filter(|e| e["func"] == "certificate.reissue.step2")
            .collect();
        c.check(
            reissues.len() == 1
                && reissues[0]["params"]["crt_type"] == "oldrequest"
                && reissues[0]["params"]["approver_email_1"] == email,
            "one certificate.reissue.step2 (oldrequest, approver_email_1 = the new address)",
            || format!("{:?}", run.upstream_funcs()),
        )?;
        let line = self.show_validation()?;
        let item_id = self.seed().item;
        let saved = self.local().item_param(item_id, "approver_email")?;
        c.check(
            saved.as_deref() == Some(email),
            "approver_email saved",
            || format!("{saved:?}"),
        )?;
        c.check(
            line.as_deref()
                .is_some_and(|l| l.starts_with(&format!("waiting for the e-mail to {email}"))),
            "the form names the new address",
            || format!("{line:?}"),
        )?;
        // Asked again (a second click): nothing more is sent.
        let again = self.module(&args, None, " (again)")?;
        self.expect_success(&again, None)?;
        c.check(
            again.upstream_count("certificate.reissue.step2") == 0,
            "asked again: no second reissue",
            || format!("{:?}", again.upstream_funcs()),
        )?;
        self.passed(c);
        self.step_sync(
            "5e",
            "sync_item",
            "until the certificate approved by the new address arrives",
        )?;
        let line = self.show_validation()?;
        let mut c = Checks::new();
        c.check(
            line.as_deref()
                .is_some_and(|l| l.starts_with("validated: ")),
            "the form says which names are validated",
            || format!("{line:?}"),
        )?;
        self.passed(c);
        Ok(())
    }
}
