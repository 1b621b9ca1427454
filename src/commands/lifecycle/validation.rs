//! Domain validation as the customer sees it: after an order, a reissue and
//! each sync, what the upstream view shows about validation is copied into
//! the item params ISPsystem's own certificate modules use (field-2026-12
//! §8: `approver_method`, `approver_email`, `auth_dnstxt_value`,
//! `domains_list`), and said in words in the service form
//! ([`VALIDATION_STATE_PARAM`]): "waiting for the e-mail to … (sent …)",
//! "publish this DNS TXT value for …: …", "validated: …".
//!
//! Each param is written only when its value changes (one `mgrctl` call
//! each); a field the view does not carry is unknown, so it is neither
//! written nor cleared. A field shown empty is a fact and clears the param.

use crate::config::FormLanguage;
use crate::protocol::error::Result;
use crate::upstream::{wire, CertView};
use crate::vocab::item_params::{
    APPROVER_EMAIL_PARAM, APPROVER_METHOD_PARAM, AUTH_DNSTXT_VALUE_PARAM, DOMAINS_LIST_PARAM,
    VALIDATION_STATE_PARAM,
};

use super::job::Job;
use super::status_map::{is_pending, ServiceStatus};

/// Longest value from the upstream written into one param (a TXT value is
/// at most a few hundred characters; a list of names can be long).
const MAX_VALUE_CHARS: usize = 1000;

/// What the form line is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationFacts {
    /// The certificate is in work upstream (requested or enrolled).
    pub in_work: bool,
    /// The certificate is issued: every name in it was validated.
    pub issued: bool,
    /// `auth_email` (or empty: e-mail, field-2026-12 §8) or `auth_dnstxt`.
    pub method: Option<String>,
    pub emails: Vec<String>,
    /// When the e-mail was sent, as the upstream shows it.
    pub sent: Option<String>,
    pub dns_txt: Option<String>,
    /// Names still to validate, where the upstream shows them.
    pub pending: Option<Vec<String>>,
    /// Names validated, where the upstream shows them.
    pub validated: Option<Vec<String>>,
    /// Every name of the certificate (CN first).
    pub names: Vec<String>,
}

/// The words of one language.
struct Words {
    email: fn(&str, Option<&str>) -> String,
    dns: fn(&str, &str) -> String,
    validated: &'static str,
    not_yet: &'static str,
}

fn words(lang: FormLanguage) -> Words {
    match lang {
        FormLanguage::En => Words {
            email: |to, sent| match sent {
                Some(d) => format!("waiting for the e-mail to {to} (sent {d})"),
                None => format!("waiting for the e-mail to {to}"),
            },
            dns: |names, value| format!("publish this DNS TXT value for {names}: {value}"),
            validated: "validated",
            not_yet: "not validated yet",
        },
        FormLanguage::Ru => Words {
            email: |to, sent| match sent {
                Some(d) => format!("ожидается подтверждение по письму на {to} (отправлено {d})"),
                None => format!("ожидается подтверждение по письму на {to}"),
            },
            dns: |names, value| format!("опубликуйте DNS TXT-запись для {names}: {value}"),
            validated: "подтверждены",
            not_yet: "ещё не подтверждены",
        },
    }
}

/// The validation in words, or `None` when nothing is known to say (a
/// failed certificate, a state the module does not map).
pub fn validation_text(f: &ValidationFacts, lang: FormLanguage) -> Option<String> {
    let w = words(lang);
    let list = |names: &[String]| names.join(", ");
    if f.issued {
        let validated = f
            .validated
            .as_ref()
            .filter(|v| !v.is_empty())
            .unwrap_or(&f.names);
        return (!validated.is_empty()).then(|| format!("{}: {}", w.validated, list(validated)));
    }
    if !f.in_work {
        return None;
    }
    let pending: &[String] = f.pending.as_deref().unwrap_or(&f.names);
    let validated: &[String] = f.validated.as_deref().unwrap_or(&[]);
    let mut parts = Vec::new();
    let dns = f.method.as_deref() == Some(wire::APPROVER_METHOD_DNS);
    if !pending.is_empty() {
        match (dns, f.dns_txt.as_deref().filter(|v| !v.is_empty())) {
            (true, Some(value)) => parts.push((w.dns)(&list(pending), value)),
            (true, None) => {}
            (false, _) if !f.emails.is_empty() => {
                let sent = f.sent.as_deref().filter(|s| !s.is_empty());
                parts.push((w.email)(&list(&f.emails), sent));
                if f.pending.is_some() && !validated.is_empty() {
                    parts.push(format!("{}: {}", w.not_yet, list(pending)));
                }
            }
            (false, _) => {}
        }
    }
    if !validated.is_empty() {
        parts.push(format!("{}: {}", w.validated, list(validated)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The facts of a view, the local approver data filling what it leaves out.
pub fn facts_of(job: &Job, view: &CertView, state: Option<ServiceStatus>) -> ValidationFacts {
    let method = view
        .approver_method
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| job.param(APPROVER_METHOD_PARAM).map(str::to_string));
    let emails = if view.approver_emails.is_empty() {
        split_list(job.param(APPROVER_EMAIL_PARAM).unwrap_or_default())
    } else {
        view.approver_emails.clone()
    };
    let mut names = vec![view.cn.clone()];
    names.extend(view.altnames.iter().filter(|n| **n != view.cn).cloned());
    let v = &view.validation;
    ValidationFacts {
        in_work: state.is_some_and(is_pending),
        issued: state == Some(ServiceStatus::Issued),
        method,
        emails,
        sent: v.email_sent.clone(),
        dns_txt: v.dns_txt.clone(),
        pending: v.pending.clone(),
        validated: v.validated.clone(),
        names,
    }
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The params a view sets, each `(name, value)`; only those the view
/// carries.
pub fn params_of(
    view: &CertView,
    facts: &ValidationFacts,
    lang: FormLanguage,
) -> Vec<(&'static str, String)> {
    let cut = |v: &str| crate::quote::shorten(v, MAX_VALUE_CHARS);
    let mut out = Vec::new();
    if let Some(m) = view.approver_method.as_deref().filter(|m| !m.is_empty()) {
        out.push((APPROVER_METHOD_PARAM, cut(m)));
    }
    if !view.approver_emails.is_empty() {
        out.push((APPROVER_EMAIL_PARAM, cut(&view.approver_emails.join(","))));
    }
    if let Some(txt) = &view.validation.dns_txt {
        out.push((AUTH_DNSTXT_VALUE_PARAM, cut(txt)));
    }
    if let Some(pending) = &view.validation.pending {
        out.push((DOMAINS_LIST_PARAM, cut(&pending.join(","))));
    }
    if let Some(text) = validation_text(facts, lang) {
        out.push((VALIDATION_STATE_PARAM, cut(&text)));
    }
    out
}

/// Copy the view's validation facts onto the item, each param only when it
/// changes. Returns the writes made.
pub fn apply_validation(
    job: &mut Job,
    view: &CertView,
    state: Option<ServiceStatus>,
) -> Result<u32> {
    let lang = job.ctx.config.form.language;
    let facts = facts_of(job, view, state);
    let mut writes = 0;
    for (name, value) in params_of(view, &facts, lang) {
        if !same(name, job.params.get(name).map(String::as_str), &value) {
            job.save_param(name, &value)?;
            writes += 1;
        }
    }
    Ok(writes)
}

/// After a reissue was sent: read the view once and copy its validation
/// facts, so the form says what the CA waits for now rather than at the next
/// sync. The money is settled before this runs, so a failure here is only
/// logged: the next sync copies them.
pub fn refresh_after_reissue(job: &mut Job, upstream_id: u64) {
    let result = job
        .client()
        .and_then(|c| c.certificate_view(upstream_id).map_err(Into::into))
        .and_then(|view| {
            let state = super::reconcile::upstream_state(&view);
            apply_validation(job, &view, state)
        });
    if let Err(e) = result {
        log::warn!(
            "item {}: the validation data after the reissue is copied at the next sync: {e}",
            job.item_id
        );
    }
}

/// Equal as the param means it: lists of addresses ignore blanks around commas.
fn same(name: &str, local: Option<&str>, value: &str) -> bool {
    let local = local.unwrap_or_default();
    if name == APPROVER_EMAIL_PARAM || name == DOMAINS_LIST_PARAM {
        return split_list(local) == split_list(value);
    }
    local.trim() == value.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    fn waiting() -> ValidationFacts {
        ValidationFacts {
            in_work: true,
            method: Some("auth_email".into()),
            emails: v(&["admin@example.com"]),
            sent: Some("2026-12-07".into()),
            names: v(&["example.com", "www.example.com"]),
            ..ValidationFacts::default()
        }
    }

    #[test]
    fn waiting_for_the_email_in_both_languages() {
        let f = waiting();
        assert_eq!(
            validation_text(&f, FormLanguage::En).unwrap(),
            "waiting for the e-mail to admin@example.com (sent 2026-12-07)"
        );
        assert_eq!(
            validation_text(&f, FormLanguage::Ru).unwrap(),
            "ожидается подтверждение по письму на admin@example.com (отправлено 2026-12-07)"
        );
        let unsent = ValidationFacts { sent: None, ..f };
        assert_eq!(
            validation_text(&unsent, FormLanguage::En).unwrap(),
            "waiting for the e-mail to admin@example.com"
        );
    }

    #[test]
    fn publish_the_dns_value_in_both_languages() {
        let f = ValidationFacts {
            method: Some("auth_dnstxt".into()),
            dns_txt: Some("ca-3f1a".into()),
            pending: Some(v(&["example.com"])),
            ..waiting()
        };
        assert_eq!(
            validation_text(&f, FormLanguage::En).unwrap(),
            "publish this DNS TXT value for example.com: ca-3f1a"
        );
        assert_eq!(
            validation_text(&f, FormLanguage::Ru).unwrap(),
            "опубликуйте DNS TXT-запись для example.com: ca-3f1a"
        );
        // No value shown yet: nothing to say about DNS.
        let none = ValidationFacts { dns_txt: None, ..f };
        assert_eq!(validation_text(&none, FormLanguage::En), None);
    }

    #[test]
    fn validated_names_in_both_languages() {
        let partly = ValidationFacts {
            pending: Some(v(&["example.com"])),
            validated: Some(v(&["www.example.com"])),
            ..waiting()
        };
        assert_eq!(
            validation_text(&partly, FormLanguage::En).unwrap(),
            "waiting for the e-mail to admin@example.com (sent 2026-12-07); not validated yet: example.com; \
             validated: www.example.com"
        );
        assert_eq!(
            validation_text(&partly, FormLanguage::Ru).unwrap(),
            "ожидается подтверждение по письму на admin@example.com (отправлено 2026-12-07); \
             ещё не подтверждены: example.com; подтверждены: www.example.com"
        );
        // Issued: every name of the certificate, whether or not the view lists them.
        let issued = ValidationFacts {
            in_work: false,
            issued: true,
            ..waiting()
        };
        assert_eq!(
            validation_text(&issued, FormLanguage::En).unwrap(),
            "validated: example.com, www.example.com"
        );
        assert_eq!(
            validation_text(&issued, FormLanguage::Ru).unwrap(),
            "подтверждены: example.com, www.example.com"
        );
    }

    #[test]
    fn nothing_to_say_for_a_failed_or_unknown_state() {
        let f = ValidationFacts {
            in_work: false,
            ..waiting()
        };
        assert_eq!(validation_text(&f, FormLanguage::En), None);
        let no_address = ValidationFacts {
            emails: vec![],
            ..waiting()
        };
        assert_eq!(validation_text(&no_address, FormLanguage::En), None);
    }

    #[test]
    fn lists_compare_without_blanks() {
        assert!(same(APPROVER_EMAIL_PARAM, Some("a@x, b@x"), "a@x,b@x"));
        assert!(!same(APPROVER_EMAIL_PARAM, Some("a@x"), "a@x,b@x"));
        assert!(same(DOMAINS_LIST_PARAM, None, ""));
        assert!(!same(AUTH_DNSTXT_VALUE_PARAM, None, "x"));
    }
}
