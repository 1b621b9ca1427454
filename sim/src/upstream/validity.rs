//! How long the simulated CA lets a certificate live, by its issue date, and
//! what one upstream purchase buys under each `term_model`.
//!
//! The caps are the CA/Browser Forum Baseline Requirements as changed by
//! ballot SC-081 (evidence-2026-12 "The certificate world since 2026", C1):
//! issued on or after 2026-03-15 at most 200 days, from 2027-03-15 at most
//! 100, from 2029-03-15 at most 47. Before 2026-03-15 the older 398-day limit
//! applies.

use chrono::{Days, NaiveDate};

use super::state::add_months;

/// (from date, longest validity in days), newest last. THE table; cited above (SC-081, C1).
/// (The simulated CA does not model validation reuse; the module's own table does.)
const SCHEDULE: &[((i32, u32, u32), u64)] = &[
    ((2020, 9, 1), 398),
    ((2026, 3, 15), 200),
    ((2027, 3, 15), 100),
    ((2029, 3, 15), 47),
];

/// Longest validity of a certificate issued on `issued`, in days.
pub fn max_validity_days(issued: NaiveDate) -> u64 {
    let mut out = SCHEDULE[0].1;
    for ((y, m, d), days) in SCHEDULE {
        if NaiveDate::from_ymd_opt(*y, *m, *d).is_some_and(|from| issued >= from) {
            out = *days;
        }
    }
    out
}

/// The last day a certificate issued on `issued` may be valid until, never
/// past `paid_until` (a CA does not issue beyond what was paid for).
pub fn cert_until(issued: NaiveDate, paid_until: NaiveDate) -> NaiveDate {
    let cap = issued
        .checked_add_days(Days::new(max_validity_days(issued)))
        .unwrap_or(issued);
    cap.min(paid_until).max(issued)
}

/// Knob `term_model`: what the upstream's own service expiry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermModel {
    /// The upstream expiry is the paid term (`period` months); reissues
    /// within it are free.
    Subscription,
    /// The upstream expiry is the certificate's end: one purchase buys one
    /// certificate (capped validity); going past it is a paid renewal.
    PerCertificate,
}

impl TermModel {
    pub fn from_knob(value: &str) -> TermModel {
        if value == "per_certificate" {
            TermModel::PerCertificate
        } else {
            TermModel::Subscription
        }
    }

    /// The upstream service expiry after buying `months` starting `from`
    /// (an order: today; a renewal: the later of today and the old expiry),
    /// bought on `today`.
    pub fn paid_until(self, today: NaiveDate, from: NaiveDate, months: i32) -> NaiveDate {
        let term = add_months(from, months);
        match self {
            TermModel::Subscription => term,
            TermModel::PerCertificate => {
                let one_cert = from
                    .checked_add_days(Days::new(max_validity_days(today)))
                    .unwrap_or(from);
                term.min(one_cert)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn caps_follow_sc081_dates() {
        assert_eq!(max_validity_days(d(2026, 3, 14)), 398);
        assert_eq!(max_validity_days(d(2026, 3, 15)), 200);
        assert_eq!(max_validity_days(d(2027, 3, 14)), 200);
        assert_eq!(max_validity_days(d(2027, 3, 15)), 100);
        assert_eq!(max_validity_days(d(2029, 3, 15)), 47);
    }

    #[test]
    fn certificates_end_at_the_cap_or_the_paid_term() {
        // 2026-12-02 + 200 days.
        assert_eq!(cert_until(d(2026, 12, 2), d(2027, 12, 2)), d(2027, 6, 20));
        assert_eq!(cert_until(d(2027, 11, 1), d(2027, 12, 2)), d(2027, 12, 2));
    }

    #[test]
    fn one_purchase_under_each_model() {
        let today = d(2026, 12, 2);
        assert_eq!(
            TermModel::Subscription.paid_until(today, today, 12),
            d(2027, 12, 2)
        );
        assert_eq!(
            TermModel::PerCertificate.paid_until(today, today, 12),
            d(2027, 6, 20)
        );
    }
}
