//! The paid term versus the life of one certificate: since
//! SC-081 a certificate lives 200, 100, then 47 days (baseline.rs) while a
//! customer pays for 12-36 months, so one paid term spans several
//! certificates. This module is the pure planner — given the local paid term,
//! the current certificate and the upstream's own expiry, what must happen
//! next and why — and the item params that show it to the customer and the
//! admin. Sending what it plans is auto.rs.

use std::collections::BTreeMap;

use chrono::{Days, Months, NaiveDate};

use crate::baseline;
use crate::vocab::item_params::{CERTIFICATE_PARAM, LEGACY_CERT_NOT_AFTER_PARAM};
use crate::x509::CertFacts;

/// The current certificate as the form shows it:
/// `from 2026-12-02 until 2027-06-20, serial 0A1B2C`.
pub fn certificate_text(c: &CertFacts) -> String {
    format!(
        "from {} until {}, serial {}",
        c.not_before, c.not_after, c.serial
    )
}

/// The end of the current certificate as the form shows it. `None`: not
/// shown in this form — never issued, or an item still carrying the params
/// of that older form (the bulk sync then reads it, which rewrites them).
pub fn shown_cert_end(params: &BTreeMap<String, String>) -> Option<NaiveDate> {
    let shown = params.get(CERTIFICATE_PARAM)?;
    let (_, until) = shown.trim().split_once(" until ")?;
    parse_day(until.get(..10)?)
}

/// The end of the current certificate from the item params, in either form.
pub fn cert_end(params: &BTreeMap<String, String>) -> Option<NaiveDate> {
    shown_cert_end(params).or_else(|| parse_day(params.get(LEGACY_CERT_NOT_AFTER_PARAM)?))
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// The next action as the form shows it: the plan in words
/// ([`describe`]), then its validation note ([`validation_note`]) if any.
pub fn next_action_text(plan: &str, validation: Option<&str>) -> String {
    match validation {
        Some(note) => format!("{plan}; {note}"),
        None => plan.to_string(),
    }
}

/// The local paid term of a new service: the open date plus the ordered
/// period; later only a paid prolong moves it.
pub fn first_term_end(opened: NaiveDate, months: u32) -> NaiveDate {
    opened
        .checked_add_months(Months::new(months))
        .unwrap_or(opened)
}

/// A prolong moves the paid term by exactly its period from the old end.
pub fn prolonged_term_end(old_end: NaiveDate, months: u32) -> NaiveDate {
    first_term_end(old_end, months)
}

/// What the planner knows about one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub today: NaiveDate,
    /// The local paid term's end (`item.expiredate`).
    pub paid_until: Option<NaiveDate>,
    /// The local service is active (not suspended, not closed).
    pub active: bool,
    /// The upstream certificate is issued (not in work, not failed).
    pub issued: bool,
    /// The current certificate's own facts (from its PEM).
    pub cert: Option<CertFacts>,
    /// The upstream service's own expiry.
    pub upstream_expiry: Option<NaiveDate>,
    /// `[lifecycle] reissue_before_days`.
    pub before_days: u32,
    /// Why no paid term is known: the service's period is not whole months
    /// (a trial, lifetime, daily: `vocab::period`). Then no paid upstream
    /// renewal is ever planned for it.
    pub no_paid_term: Option<String>,
}

/// How the plan says that a paid renewal is not bought for a service
/// without a paid term (the log line starts so, too).
pub const NO_PAID_RENEWAL: &str = "no paid upstream renewal is bought";

/// How the plan says that nothing is done because the upstream's own expiry
/// is unknown (the log line says it too).
pub const UNREADABLE_UPSTREAM_EXPIRY: &str = "the upstream's own expiry cannot be read";

/// What to do about the certificate now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing now or later in this term.
    Nothing { why: String },
    /// A step is needed on `on`, but which one cannot be told: the upstream
    /// shows no readable expiry of its own. Nothing is sent, neither a paid
    /// renewal (no evidence that the upstream's term ends with the
    /// certificate) nor a reissue.
    Undecided { on: NaiveDate },
    /// Nothing now; `on` is the day of the next action.
    Later { on: NaiveDate, action: Action },
    /// Due now.
    Now { action: Action },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A free reissue (`oldrequest`): the upstream's term runs past the
    /// certificate.
    Reissue,
    /// A paid upstream renewal: the upstream's own term ends with the
    /// certificate (a per-certificate upstream) before the local paid term.
    Renew,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Reissue => "free reissue",
            Action::Renew => "paid upstream renewal",
        }
    }
}

/// THE planning rule:
/// - nothing while the service is not active, the certificate is in work,
///   or it already lasts the paid term;
/// - else the action is due `before_days` before the certificate ends: a
///   free reissue when the upstream's own term runs past the certificate,
///   a paid renewal only on positive evidence that the upstream sells one
///   certificate per purchase (its expiry read, at or before the
///   certificate's end) — never for a service whose period is not whole
///   months (no paid term is known for it: nothing is planned);
/// - an upstream expiry that is missing or unreadable is no evidence either
///   way: nothing is sent ([`Plan::Undecided`]).
pub fn plan(f: &Facts) -> Plan {
    let nothing = |why: &str| Plan::Nothing { why: why.into() };
    if !f.active {
        return nothing("the service is not active");
    }
    if !f.issued {
        return nothing("the certificate is in work upstream");
    }
    let (Some(cert), Some(paid_until)) = (&f.cert, f.paid_until) else {
        return nothing("the certificate's validity or the paid term is not known");
    };
    if cert.not_after >= paid_until {
        return nothing("the certificate lasts the paid term");
    }
    let due = cert
        .not_after
        .checked_sub_days(Days::new(u64::from(f.before_days)))
        .unwrap_or(cert.not_after);
    let action = match f.upstream_expiry {
        Some(up) if up > cert.not_after => Action::Reissue,
        Some(_) => Action::Renew,
        None => return Plan::Undecided { on: due },
    };
    if let (Action::Renew, Some(why)) = (action, &f.no_paid_term) {
        return Plan::Nothing {
            why: format!("{NO_PAID_RENEWAL}: {why}, so no paid term is known"),
        };
    }
    if f.today >= due {
        Plan::Now { action }
    } else {
        Plan::Later { on: due, action }
    }
}

/// Why, in words for the log, the dry run and the item param.
pub fn describe(plan: &Plan, f: &Facts) -> String {
    let ends = f
        .cert
        .as_ref()
        .map(|c| c.not_after.to_string())
        .unwrap_or_else(|| "unknown".into());
    let paid = f
        .paid_until
        .map(|d| d.to_string())
        .unwrap_or_else(|| "unknown".into());
    let up = f
        .upstream_expiry
        .map(|d| d.to_string())
        .unwrap_or_else(|| "unknown".into());
    match plan {
        Plan::Nothing { why } => format!("none: {why} (certificate until {ends}, paid until {paid})"),
        Plan::Undecided { on } => format!(
            "none: {UNREADABLE_UPSTREAM_EXPIRY} (its certificate view has no date in <expiredate> or \
             <real_expiredate>), so it is not known whether the certificate needs a free reissue or a \
             paid upstream renewal due from {on}; nothing is reissued or bought until the upstream shows its \
             expiry: check the certificate in the upstream account (certificate until {ends}, paid until {paid})"
        ),
        Plan::Later { on, action } => format!(
            "{} on {on}: the certificate ends {ends}, the paid term {paid}, the upstream's term {up}",
            action.name()
        ),
        Plan::Now { action } => format!(
            "{} now: the certificate ends {ends} (within {} days), the paid term {paid}, the upstream's term {up}",
            action.name(),
            f.before_days
        ),
    }
}

/// The planner's next action read back from the item param it wrote
/// ([`describe`], then [`next_action_text`]): the action and its day
/// (`None`: now), or `Undecided` with the day it is due from. `None` for
/// "none: …" (nothing planned) and any other text.
pub fn parse_next_action(text: &str) -> Option<(Option<Action>, Option<NaiveDate>)> {
    let t = text.trim();
    for action in [Action::Reissue, Action::Renew] {
        if let Some(rest) = t.strip_prefix(action.name()) {
            if rest.starts_with(" now") {
                return Some((Some(action), None));
            }
            let day = rest.strip_prefix(" on ")?.get(..10)?;
            return Some((Some(action), Some(parse_day(day)?)));
        }
    }
    if t.contains(UNREADABLE_UPSTREAM_EXPIRY) {
        let (_, rest) = t.split_once("due from ")?;
        return Some((None, Some(parse_day(rest.get(..10)?)?)));
    }
    None
}

/// Will the next issuance need a fresh domain validation?
/// The last validation is taken as the current certificate's issue date
/// (a CA validates at or before issuance; the upstream shows no DCV date).
pub fn validation_note(plan: &Plan, f: &Facts) -> Option<String> {
    let cert = f.cert.as_ref()?;
    let on = match plan {
        Plan::Later { on, .. } => *on,
        Plan::Now { .. } => f.today,
        Plan::Nothing { .. } | Plan::Undecided { .. } => return None,
    };
    let window = baseline::validation_reuse_days(on);
    Some(if baseline::needs_fresh_validation(cert.not_before, on) {
        format!(
            "fresh domain validation needed: the last one ({}) is older than the {window}-day reuse \
             window on {on}; the reissue waits for the customer to validate again",
            cert.not_before
        )
    } else {
        format!(
            "no fresh domain validation needed: the last one ({}) is within the {window}-day reuse \
             window on {on}",
            cert.not_before
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn facts(today: &str, cert: (&str, &str), paid: &str, up: &str) -> Facts {
        Facts {
            today: d(today),
            paid_until: Some(d(paid)),
            active: true,
            issued: true,
            cert: Some(CertFacts {
                serial: "01".into(),
                not_before: d(cert.0),
                not_after: d(cert.1),
            }),
            upstream_expiry: Some(d(up)),
            before_days: 30,
            no_paid_term: None,
        }
    }

    #[test]
    fn reissue_before_the_certificate_ends_within_a_subscription() {
        let f = facts(
            "2027-05-20",
            ("2026-12-02", "2027-06-20"),
            "2028-12-02",
            "2028-12-02",
        );
        assert_eq!(
            plan(&f),
            Plan::Later {
                on: d("2027-05-21"),
                action: Action::Reissue
            }
        );
        let f = Facts {
            today: d("2027-05-21"),
            ..f
        };
        assert_eq!(
            plan(&f),
            Plan::Now {
                action: Action::Reissue
            }
        );
        assert!(describe(&plan(&f), &f).starts_with("free reissue now"));
    }

    #[test]
    fn per_certificate_upstream_needs_a_paid_renewal() {
        let f = facts(
            "2027-06-01",
            ("2026-12-02", "2027-06-20"),
            "2028-12-02",
            "2027-06-20",
        );
        assert_eq!(
            plan(&f),
            Plan::Now {
                action: Action::Renew
            }
        );
    }

    #[test]
    fn no_paid_renewal_without_a_paid_term() {
        let f = Facts {
            no_paid_term: Some("the service's period is trial (-100)".into()),
            ..facts(
                "2027-06-01",
                ("2026-12-02", "2027-06-20"),
                "2028-12-02",
                "2027-06-20",
            )
        };
        match plan(&f) {
            Plan::Nothing { why } => {
                assert!(why.starts_with(NO_PAID_RENEWAL), "{why}");
                assert!(why.contains("trial (-100)"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // A free reissue is still planned: it costs nothing.
        let f = Facts {
            upstream_expiry: Some(d("2028-12-02")),
            ..f
        };
        assert_eq!(
            plan(&f),
            Plan::Now {
                action: Action::Reissue
            }
        );
    }

    #[test]
    fn an_unknown_upstream_expiry_buys_nothing_and_reissues_nothing() {
        let known = facts(
            "2027-06-01",
            ("2026-12-02", "2027-06-20"),
            "2028-12-02",
            "2027-06-20",
        );
        let f = Facts {
            upstream_expiry: None,
            ..known.clone()
        };
        assert_eq!(
            plan(&f),
            Plan::Undecided {
                on: d("2027-05-21")
            }
        );
        let text = describe(&plan(&f), &f);
        assert!(text.starts_with("none: "), "{text}");
        assert!(text.contains(UNREADABLE_UPSTREAM_EXPIRY), "{text}");
        assert!(text.contains("due from 2027-05-21"), "{text}");
        assert_eq!(validation_note(&plan(&f), &f), None);
        // Also long before the due day, and for a service without a paid term.
        let early = Facts {
            today: d("2027-01-01"),
            no_paid_term: Some("the service's period is trial (-100)".into()),
            ..f
        };
        assert!(matches!(plan(&early), Plan::Undecided { .. }));
        // Positive evidence still renews: the upstream's term ends with the
        // certificate, or before it.
        for up in ["2027-06-20", "2027-06-19"] {
            let f = Facts {
                upstream_expiry: Some(d(up)),
                ..known.clone()
            };
            assert_eq!(
                plan(&f),
                Plan::Now {
                    action: Action::Renew
                },
                "{up}"
            );
        }
    }

    #[test]
    fn nothing_when_the_certificate_lasts_the_term_or_the_service_rests() {
        let f = facts(
            "2028-11-20",
            ("2028-09-01", "2028-12-02"),
            "2028-12-02",
            "2028-12-02",
        );
        assert!(matches!(plan(&f), Plan::Nothing { .. }));
        // Due by dates, but the service rests or the certificate is in work.
        let due = facts(
            "2027-06-01",
            ("2026-12-02", "2027-06-20"),
            "2028-12-02",
            "2028-12-02",
        );
        assert!(matches!(plan(&due), Plan::Now { .. }));
        for f in [
            Facts {
                active: false,
                ..due.clone()
            },
            Facts {
                issued: false,
                ..due.clone()
            },
        ] {
            assert!(matches!(plan(&f), Plan::Nothing { .. }));
        }
    }

    #[test]
    fn validation_reuse_is_flagged_before_the_reissue() {
        let f = facts(
            "2029-05-01",
            ("2029-04-01", "2029-05-18"),
            "2030-04-01",
            "2030-04-01",
        );
        let p = plan(&f);
        assert!(validation_note(&p, &f)
            .unwrap()
            .starts_with("fresh domain validation needed"));
        let f = facts(
            "2027-07-01",
            ("2027-05-21", "2027-08-29"),
            "2028-12-02",
            "2028-12-02",
        );
        let p = plan(&f);
        assert!(validation_note(&p, &f)
            .unwrap()
            .starts_with("no fresh domain validation needed"));
    }

    #[test]
    fn the_form_shows_the_certificate_in_one_param_and_its_end_reads_back() {
        let c = CertFacts {
            serial: "0A1B2C".into(),
            not_before: d("2026-12-02"),
            not_after: d("2027-06-20"),
        };
        let text = certificate_text(&c);
        assert_eq!(text, "from 2026-12-02 until 2027-06-20, serial 0A1B2C");
        let mut params = BTreeMap::from([(CERTIFICATE_PARAM.to_string(), text)]);
        assert_eq!(shown_cert_end(&params), Some(d("2027-06-20")));
        assert_eq!(cert_end(&params), Some(d("2027-06-20")));
        // An item showing the older form: its end is read, but it is not shown
        // in this form yet.
        params.clear();
        params.insert(LEGACY_CERT_NOT_AFTER_PARAM.into(), "2027-01-10".into());
        assert_eq!(shown_cert_end(&params), None);
        assert_eq!(cert_end(&params), Some(d("2027-01-10")));
        params.insert(CERTIFICATE_PARAM.into(), "garbled".into());
        assert_eq!(cert_end(&params), Some(d("2027-01-10")));
        assert_eq!(
            next_action_text("none: x", None),
            "none: x",
            "no plan, no note"
        );
        assert_eq!(next_action_text("a", Some("b")), "a; b");
    }

    #[test]
    fn terms() {
        assert_eq!(first_term_end(d("2026-12-02"), 24), d("2028-12-02"));
        assert_eq!(prolonged_term_end(d("2028-01-31"), 1), d("2028-02-29"));
    }

    #[test]
    fn the_next_action_reads_back_from_its_own_words() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let f = Facts {
            today: d("2026-12-01"),
            paid_until: Some(d("2027-12-01")),
            active: true,
            issued: true,
            cert: None,
            upstream_expiry: Some(d("2027-12-01")),
            before_days: 30,
            no_paid_term: None,
        };
        let later = Plan::Later {
            on: d("2027-05-01"),
            action: Action::Renew,
        };
        let text = next_action_text(
            &describe(&later, &f),
            Some("no fresh domain validation needed"),
        );
        assert_eq!(
            parse_next_action(&text),
            Some((Some(Action::Renew), Some(d("2027-05-01"))))
        );
        let now = Plan::Now {
            action: Action::Reissue,
        };
        assert_eq!(
            parse_next_action(&describe(&now, &f)),
            Some((Some(Action::Reissue), None))
        );
        let undecided = Plan::Undecided {
            on: d("2027-02-03"),
        };
        assert_eq!(
            parse_next_action(&describe(&undecided, &f)),
            Some((None, Some(d("2027-02-03"))))
        );
        let nothing = Plan::Nothing { why: "x".into() };
        assert_eq!(parse_next_action(&describe(&nothing, &f)), None);
    }
}
