//! What one local paid term costs upstream, now that one term
//! spans several certificates (SC-081 validity, baseline.rs). A subscription
//! upstream sells the term once (its reissues are free); a per-certificate
//! upstream needs a paid renewal whenever its own term — one certificate —
//! ends before the local one. Used by `pricing preview`.

use chrono::{Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::baseline;

use super::Quote;

/// The upstream's models (the simulator's knob `term_model`); which real
/// upstreams follow which is not known, so both are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TermModel {
    Subscription,
    PerCertificate,
}

/// Upstream purchases of one local term of `months` from `start`, the
/// renewals made `before_days` before the upstream's term ends (the
/// module's own rule, `[lifecycle] reissue_before_days`).
///
/// Guess (unconfirmed, no upstream documents it): a per-certificate renewal
/// extends the upstream's term from its old end by one certificate's longest
/// validity on the renewal day, at most the period.
pub fn purchases(model: TermModel, start: NaiveDate, months: u32, before_days: u32) -> u32 {
    let add = |d: NaiveDate, m: u32| d.checked_add_months(Months::new(m)).unwrap_or(d);
    let term_end = add(start, months);
    match model {
        TermModel::Subscription => 1,
        TermModel::PerCertificate => {
            let one = |from: NaiveDate, on: NaiveDate| {
                add(from, months).min(
                    from.checked_add_days(Days::new(baseline::max_validity_days(on)))
                        .unwrap_or(from),
                )
            };
            let mut paid_until = one(start, start);
            let mut n = 1;
            // Each renewal moves the term by at least the shortest validity: bounded.
            while paid_until < term_end && n < 1000 {
                let on = paid_until
                    .checked_sub_days(Days::new(u64::from(before_days)))
                    .unwrap_or(paid_until)
                    .max(start);
                paid_until = one(paid_until, on);
                n += 1;
            }
            n
        }
    }
}

/// One local term of one priced period under one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermCost {
    pub model: TermModel,
    pub months: u32,
    pub purchases: u32,
    /// purchases × the period's cost, in the sell currency.
    pub cost: Decimal,
    /// The local price of the term (the quote's sell price).
    pub sell: Decimal,
    pub margin: Decimal,
    /// The sell currency.
    pub currency: String,
    pub loses_money: bool,
}

/// The term cost of `q` under `model`, the term starting `start`.
pub fn term_cost(q: &Quote, model: TermModel, start: NaiveDate, before_days: u32) -> TermCost {
    let n = purchases(model, start, q.months, before_days);
    let cost = q.converted_cost * Decimal::from(n);
    let margin = q.sell - cost;
    TermCost {
        model,
        months: q.months,
        purchases: n,
        cost,
        sell: q.sell,
        margin,
        currency: q.currency.clone(),
        loses_money: margin < Decimal::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn purchases_over_a_term() {
        let start = d("2026-12-02");
        assert_eq!(purchases(TermModel::Subscription, start, 24, 30), 1);
        // 200 days, then renewals of 100 days each from 2027-05-21 (tests/term.rs lives it).
        assert_eq!(purchases(TermModel::PerCertificate, start, 24, 30), 7);
        // 12 months while certificates last 200 days: two purchases.
        assert_eq!(
            purchases(TermModel::PerCertificate, d("2026-04-01"), 12, 30),
            2
        );
        assert_eq!(
            purchases(TermModel::PerCertificate, d("2030-01-01"), 1, 30),
            1
        );
    }
}
