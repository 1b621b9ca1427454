//! What the CA/Browser Forum Baseline Requirements allow a publicly trusted
//! TLS certificate since ballot SC-081 (evidence-2026-12 "The certificate
//! world since 2026", source C1): the longest validity of a certificate and
//! how long a domain validation may be reused, both by date. ONE table; the
//! planner (commands/lifecycle/term.rs) and `pricing preview` read it.

use chrono::{Days, NaiveDate};

/// (from date, longest validity in days, validation reuse in days), oldest
/// first. Before 2026-03-15 the 398-day limit (ballot SC-31/SC-42) applied.
const SC081: &[((i32, u32, u32), u64, u64)] = &[
    ((2020, 9, 1), 398, 398),
    ((2026, 3, 15), 200, 200),
    ((2027, 3, 15), 100, 100),
    ((2029, 3, 15), 47, 10),
];

fn row(date: NaiveDate) -> (u64, u64) {
    let mut out = (SC081[0].1, SC081[0].2);
    for ((y, m, d), days, reuse) in SC081 {
        if NaiveDate::from_ymd_opt(*y, *m, *d).is_some_and(|from| date >= from) {
            out = (*days, *reuse);
        }
    }
    out
}

/// Longest validity, in days, of a certificate issued on `issued`.
pub fn max_validity_days(issued: NaiveDate) -> u64 {
    row(issued).0
}

/// Days a domain validation may be reused by an issuance on `issued`.
pub fn validation_reuse_days(issued: NaiveDate) -> u64 {
    row(issued).1
}

/// The end of the longest certificate issued on `issued`.
pub fn longest_until(issued: NaiveDate) -> NaiveDate {
    issued
        .checked_add_days(Days::new(max_validity_days(issued)))
        .unwrap_or(issued)
}

/// Does an issuance on `issued` need a fresh domain validation, when the
/// last one was done on `validated`?
pub fn needs_fresh_validation(validated: NaiveDate, issued: NaiveDate) -> bool {
    let age = (issued - validated).num_days();
    age > 0 && age.unsigned_abs() > validation_reuse_days(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn sc081_dates() {
        assert_eq!(max_validity_days(d(2026, 3, 14)), 398);
        assert_eq!(max_validity_days(d(2026, 3, 15)), 200);
        assert_eq!(max_validity_days(d(2027, 3, 15)), 100);
        assert_eq!(max_validity_days(d(2029, 3, 14)), 100);
        assert_eq!(max_validity_days(d(2029, 3, 15)), 47);
        assert_eq!(validation_reuse_days(d(2029, 3, 15)), 10);
        assert_eq!(longest_until(d(2026, 12, 2)), d(2027, 6, 20));
    }

    #[test]
    fn validation_reuse() {
        // 70 days old: reusable under the 100-day window, not the 10-day one.
        assert!(!needs_fresh_validation(d(2027, 6, 1), d(2027, 8, 10)));
        assert!(needs_fresh_validation(d(2029, 6, 1), d(2029, 8, 10)));
        assert!(!needs_fresh_validation(d(2029, 6, 1), d(2029, 6, 11)));
    }
}
