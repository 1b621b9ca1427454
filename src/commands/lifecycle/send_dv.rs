//! The customer's two validation actions (field-2026-12 §8; BILLmanager
//! runs them for a module that advertises them):
//!
//! - `send_dv_email --item N --emails a,b`: the first address becomes the
//!   approver and is saved in `approver_email`. An issued certificate is
//!   reissued upstream from the request on file with the new approver
//!   (`certificate.reissue.step2 crt_type=oldrequest approver_method=auth_email
//!   approver_email_1=…`, upstream-api.md §3.4), under the intent rules: one
//!   reissue per address and certificate, whatever kills, reruns or parallel
//!   runs happen (a reissue is free: no money moves). A certificate still
//!   waiting for validation needs an upstream function that resends the
//!   e-mail; none is public (§3.7), so the admin names it
//!   (`[validation] resend_email_func`), else the request is refused with
//!   what the admin can do.
//! - `send_dv_dns --item N --domain FQDN`: asks the CA to check the DNS TXT
//!   record of one name again through `[validation] dns_check_func` (only
//!   advertised when set). Before asking, the TXT record is looked up
//!   (dns.rs): a value not published yet is said so instead of asking; a
//!   DNS failure only logs and the request is sent.
//!
//! No running operation: nothing is reported to BILLmanager, an error is the
//! answer the customer sees.

use std::time::Duration;

use crate::dns::{self, Answer};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{wire, CertView, Reissue, ReissueKind};
use crate::vocab::item_params::{
    APPROVER_EMAIL_PARAM, APPROVER_METHOD_PARAM, AUTH_DNSTXT_VALUE_PARAM,
};

use super::intent::{digest, now_unix, Decision, Intent, IntentOp, Phase};
use super::job::{record_send_failure, Job};
use super::maintenance;
use super::reconcile::{apply_view, reissue_visible, upstream_state};
use super::status_map::{is_pending, status_name, ServiceStatus};

/// Longest e-mail address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;

/// The customer's action is refused in maintenance mode: nobody reruns it.
fn refuse_in_maintenance(job: &Job) -> Result<()> {
    if maintenance::active(&job.ctx.root) {
        return Err(ModuleError::new(
            ErrorKind::Waiting,
            format!(
                "item {}: the module is in maintenance mode ({} exists); nothing was sent, ask again later",
                job.item_id,
                job.ctx.root.do_nothing_flag().display()
            ),
        )
        .with_object(job.op.name()));
    }
    Ok(())
}

/// The first address of `--emails a,b`: the new approver.
pub fn first_email(emails: Option<&str>) -> Result<String> {
    let raw = emails.unwrap_or_default();
    let first = raw
        .split(',')
        .map(str::trim)
        .find(|e| !e.is_empty())
        .ok_or_else(|| {
            ModuleError::missed(
                "emails",
                "send_dv_email needs --emails <address>[,<address>…]",
            )
        })?;
    let plausible = first.len() <= MAX_EMAIL
        && first.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !first
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"';".contains(c));
    if !plausible {
        return Err(ModuleError::value(
            "emails",
            format!(
                "'{}' is not an e-mail address; nothing was sent",
                crate::quote::quote(first)
            ),
        ));
    }
    Ok(first.to_ascii_lowercase())
}

/// Is `i` this module's reissue for approver `email`?
fn request_for(i: &Intent, email: &str) -> bool {
    i.op == IntentOp::Reopen && i.ro.is_none() && i.approver.as_deref() == Some(email)
}

/// `send_dv_email`.
pub fn send_email(job: &mut Job) -> Result<()> {
    refuse_in_maintenance(job)?;
    let email = first_email(job.ctx.args.emails.as_deref())?;
    let upstream_id = job.require_upstream_id()?;
    let view = job.client()?.certificate_view(upstream_id)?;
    let state = upstream_state(&view);
    // The same request made before (a rerun after a kill, a second click, a
    // parallel run that waited for the item lock): settled, never sent twice.
    if let Some(i) = job.intent()?.filter(|i| request_for(i, &email)) {
        let same_certificate = i.before.crt_digest == view.crt.as_deref().map(digest);
        match i.phase {
            Phase::Done | Phase::Applied if same_certificate || state.is_some_and(is_pending) => {
                if state.is_some_and(is_pending) {
                    if let Some(func) = job.ctx.config.validation.resend_email_func.clone() {
                        return resend(job, &func, &view, &email);
                    }
                }
                log::info!(
                    "item {}: the reissue making {email} the approver was sent at {} UTC; not sent again",
                    job.item_id,
                    i.sent_at_text
                );
                return finish(job, &email, Some(view));
            }
            Phase::Sent if reissue_visible(&view, &i) => {
                log::warn!(
                    "item {}: the reissue making {email} the approver sent at {} UTC was applied upstream; \
                     adopting it",
                    job.item_id,
                    i.sent_at_text
                );
                job.save_intent(&i.with_phase(Phase::Done))?;
                return finish(job, &email, Some(view));
            }
            Phase::Sent if job.still_settling(&i) => {
                return Err(ModuleError::new(
                    ErrorKind::UpstreamOutcomeUnknown,
                    format!(
                        "item {}: the answer to the reissue making {email} the approver, sent at {} UTC, was lost \
                         and nothing shows upstream yet; ask again after {}s (it is not sent twice)",
                        job.item_id, i.sent_at_text, job.ctx.config.lifecycle.settle_secs
                    ),
                )
                .with_object(wire::FUNC_CERT_REISSUE));
            }
            _ => {}
        }
    }
    match state {
        Some(ServiceStatus::Issued) => reissue(job, view, &email),
        Some(s) if is_pending(s) => match job.ctx.config.validation.resend_email_func.clone() {
            Some(func) => resend(job, &func, &view, &email),
            None => Err(ModuleError::new(
                ErrorKind::ManualRequired,
                format!(
                    "item {}: certificate {upstream_id} is still waiting for validation, and the upstream has no \
                     known function that sends its validation e-mail again (to {email}); nothing was sent. \
                     An admin can set [validation] resend_email_func in etc/pmsslreseller.toml to the upstream's \
                     function (ask the upstream's support), or change the approver in the upstream account by hand",
                    job.item_id
                ),
            )
            .with_object("[validation] resend_email_func")),
        },
        other => Err(ModuleError::value(
            "service_status",
            format!(
                "item {}: certificate {upstream_id} is {}: an approver can be changed only while it waits for \
                 validation or once it is issued; nothing was sent",
                job.item_id,
                other.map(status_name).unwrap_or("in an unknown state")
            ),
        )),
    }
}

/// An issued certificate: a reissue from the request on file, with the new
/// approver, once per address and certificate.
fn reissue(job: &mut Job, view: CertView, email: &str) -> Result<()> {
    // A renewal applied upstream whose operation has not finished its local
    // steps: its intent is not replaced by ours (job.rs `finishing_other`).
    if let Some(i) = job.finishing_other(IntentOp::Reopen)? {
        return Err(ModuleError::new(
            ErrorKind::Waiting,
            format!(
                "item {}: an upstream {} sent at {} UTC is applied and its operation is finishing it; nothing \
                 was sent, ask again later",
                job.item_id,
                i.op.name(),
                i.sent_at_text
            ),
        )
        .with_object(wire::FUNC_CERT_REISSUE));
    }
    let (generation, attempt) = match job.decide(IntentOp::Reopen)? {
        Decision::Fresh { generation } => (generation, 1),
        Decision::Resend(i) if request_for(&i, email) => (i.generation, i.attempt + 1),
        Decision::Resend(i) => (i.generation + 1, 1),
        // Ours, lost, nothing upstream after the settle window: again.
        Decision::Reconcile(i) if request_for(&i, email) => (i.generation, i.attempt + 1),
        Decision::Reconcile(i) | Decision::FinishLocal(i) => {
            return Err(ModuleError::new(
                ErrorKind::Waiting,
                format!(
                    "item {}: an upstream {} sent at {} UTC is not settled yet; nothing was sent, ask again later",
                    job.item_id,
                    i.op.name(),
                    i.sent_at_text
                ),
            )
            .with_object(wire::FUNC_CERT_REISSUE))
        }
        Decision::OperationGone => return Ok(()),
    };
    // The request on file upstream: the CSR the certificate was issued from.
    let kind = ReissueKind::OldRequest;
    let mut intent = Intent::new(IntentOp::Reopen, generation, attempt, None, now_unix());
    intent.upstream_id = Some(view.id);
    intent.crt_type = Some(wire::crt_type(&kind).to_string());
    intent.before.crt_digest = view.crt.as_deref().map(digest);
    intent.approver = Some(email.to_string());
    job.save_intent(&intent)?;
    log::info!(
        "item {}: reissuing upstream {} from the request on file so that {email} approves it (send_dv_email, \
         generation {generation}, try {attempt})",
        job.item_id,
        view.id
    );
    let request = Reissue {
        id: view.id,
        kind,
        approver_method: Some(wire::APPROVER_METHOD_EMAIL.to_string()),
        approver_emails: vec![email.to_string()],
    };
    match job.client()?.certificate_reissue(&request) {
        Ok(()) => {
            job.save_intent(&intent.with_phase(Phase::Done))?;
            finish(job, email, None)
        }
        Err(e) => Err(record_send_failure(job, intent, e)),
    }
}

/// A certificate waiting for validation: the admin's resend function.
fn resend(job: &mut Job, func: &str, view: &CertView, email: &str) -> Result<()> {
    log::info!(
        "item {}: asking the upstream ({func}) to send the validation e-mail of {} to {email}",
        job.item_id,
        view.id
    );
    job.client()?
        .validation_resend_email(func, view.id, email)
        .map_err(ModuleError::from)?;
    finish(job, email, None)
}

/// The new approver on the item, and the upstream's view of it.
fn finish(job: &mut Job, email: &str, seen: Option<CertView>) -> Result<()> {
    for (name, value) in [
        (APPROVER_METHOD_PARAM, wire::APPROVER_METHOD_EMAIL),
        (APPROVER_EMAIL_PARAM, email),
    ] {
        if job.param(name) != Some(value) {
            job.save_param(name, value)?;
        }
    }
    let upstream_id = job.require_upstream_id()?;
    let view = match seen {
        Some(v) => Ok(v),
        None => job
            .client()
            .and_then(|c| c.certificate_view(upstream_id).map_err(Into::into)),
    };
    // Sent: a failed look afterwards only delays what the form shows.
    match view.and_then(|v| apply_view(job, &v)) {
        Ok(_) => {}
        Err(e) => log::warn!(
            "item {}: the approver is {email}; reading the certificate afterwards failed: {e}; the next sync \
             shows it",
            job.item_id
        ),
    }
    Ok(())
}

/// What the DNS pre-flight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// The value is published: ask the CA.
    Published,
    /// The server answered and the value is not among the records.
    NotYet { records: usize },
    /// No usable answer: the request is sent anyway.
    Unknown(String),
}

/// THE pre-flight rule: only an answer that lacks the value stops the request.
pub fn preflight(lookup: std::result::Result<Answer, String>, expected: &str) -> Preflight {
    let want = expected.trim().trim_matches('"');
    match lookup {
        Ok(Answer::Txt(records)) if records.iter().any(|r| r.trim().trim_matches('"') == want) => {
            Preflight::Published
        }
        Ok(Answer::Txt(records)) => Preflight::NotYet {
            records: records.len(),
        },
        Ok(Answer::NoName) => Preflight::NotYet { records: 0 },
        Err(e) => Preflight::Unknown(e),
    }
}

/// The DNS name the TXT value is published at: the name itself, a wildcard's
/// base name for `*.`. Which label the upstream's CA really reads is not
/// known (field-2026-12 §8 gives only the value, `auth_dnstxt_value`;
/// upstream-api.md §3.7): inferred from ISPsystem's GlobalSign module, whose
/// TXT record sits on the domain.
pub fn txt_record_name(domain: &str) -> String {
    domain.trim_start_matches("*.").to_string()
}

/// `--domain` as a name of this certificate.
fn requested_domain(job: &Job, view: &CertView) -> Result<String> {
    let raw = job.ctx.args.domain.as_deref().unwrap_or_default();
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return Err(ModuleError::missed(
            "domain",
            "send_dv_dns needs --domain <name>",
        ));
    }
    let ours = std::iter::once(&view.cn)
        .chain(view.altnames.iter())
        .any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(&d));
    if !ours {
        return Err(ModuleError::value(
            "domain",
            format!(
                "'{}' is not a name of certificate {}; nothing was sent",
                crate::quote::quote(raw),
                view.id
            ),
        ));
    }
    Ok(d)
}

/// `send_dv_dns`.
pub fn send_dns(job: &mut Job) -> Result<()> {
    refuse_in_maintenance(job)?;
    let Some(func) = job.ctx.config.validation.dns_check_func.clone() else {
        return Err(ModuleError::new(
            ErrorKind::NotSupported,
            "send_dv_dns needs the upstream function that asks the CA to check DNS again; none is known, \
             and [validation] dns_check_func in etc/pmsslreseller.toml does not name one",
        )
        .with_object(job.op.name()));
    };
    let upstream_id = job.require_upstream_id()?;
    let view = job.client()?.certificate_view(upstream_id)?;
    let domain = requested_domain(job, &view)?;
    let state = upstream_state(&view);
    if !state.is_some_and(is_pending) {
        return Err(ModuleError::value(
            "service_status",
            format!(
                "item {}: certificate {upstream_id} is {}, not waiting for validation: there is nothing to check; \
                 nothing was sent",
                job.item_id,
                state.map(status_name).unwrap_or("in an unknown state")
            ),
        ));
    }
    let expected = view
        .validation
        .dns_txt
        .clone()
        .filter(|v| !v.is_empty())
        .or_else(|| job.param(AUTH_DNSTXT_VALUE_PARAM).map(str::to_string));
    match expected {
        None => log::info!(
            "item {}: no DNS TXT value is known for {domain}; asking the CA without looking it up",
            job.item_id
        ),
        Some(value) => {
            let cfg = &job.ctx.config.validation;
            let name = txt_record_name(&domain);
            let lookup = match cfg.dns_server_addr() {
                Some(server) => {
                    dns::txt_records(server, &name, Duration::from_millis(cfg.dns_timeout_ms))
                }
                None => {
                    Err("no DNS server: none in [validation] dns_server or /etc/resolv.conf".into())
                }
            };
            match preflight(lookup, &value) {
                Preflight::Published => log::info!(
                    "item {}: the DNS TXT value for {domain} is published; asking the CA to check it",
                    job.item_id
                ),
                Preflight::NotYet { records } => {
                    return Err(ModuleError::value(
                        "domain",
                        format!(
                            "the DNS TXT value for {domain} is not published yet ({name} has {records} TXT \
                             record(s), none is {}); publish it, wait until DNS shows it, then ask again; nothing \
                             was sent",
                            crate::quote::quote(&value)
                        ),
                    ))
                }
                Preflight::Unknown(why) => log::warn!(
                    "item {}: the DNS TXT value for {domain} could not be looked up ({why}); asking the CA anyway",
                    job.item_id
                ),
            }
        }
    }
    job.client()?
        .validation_check_dns(&func, upstream_id, &domain)
        .map_err(ModuleError::from)?;
    log::info!(
        "item {}: the upstream ({func}) was asked to check the DNS record of {domain}",
        job.item_id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_address_becomes_the_approver() {
        assert_eq!(
            first_email(Some(" Admin@Example.com , b@example.com")).unwrap(),
            "admin@example.com"
        );
        assert_eq!(first_email(None).unwrap_err().kind, ErrorKind::Missed);
        assert_eq!(
            first_email(Some(" , ")).unwrap_err().kind,
            ErrorKind::Missed
        );
        for bad in [
            "admin",
            "a@b",
            "a b@example.com",
            "<a@example.com>",
            "@example.com",
        ] {
            assert_eq!(
                first_email(Some(bad)).unwrap_err().kind,
                ErrorKind::Value,
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(300));
        let e = first_email(Some(&long)).unwrap_err();
        assert!(e.message.len() < 400, "{}", e.message);
    }

    #[test]
    fn only_an_answer_without_the_value_stops_the_request() {
        let txt = |r: &[&str]| Ok(Answer::Txt(r.iter().map(|s| s.to_string()).collect()));
        assert_eq!(preflight(txt(&["x", "v1"]), "v1"), Preflight::Published);
        assert_eq!(preflight(txt(&["\"v1\""]), "v1"), Preflight::Published);
        assert_eq!(
            preflight(txt(&["x"]), "v1"),
            Preflight::NotYet { records: 1 }
        );
        assert_eq!(
            preflight(Ok(Answer::NoName), "v1"),
            Preflight::NotYet { records: 0 }
        );
        assert!(matches!(
            preflight(Err("timeout".into()), "v1"),
            Preflight::Unknown(_)
        ));
        assert_eq!(txt_record_name("*.example.com"), "example.com");
    }
}
