//! Pricing rules: upstream cost → local sell price (`[pricing]` in
//! `etc/pmsslreseller.toml`).
//!
//! Money is `rust_decimal::Decimal` end to end (the rules themselves are read
//! in [`crate::config::pricing`]). Every rounding mode rounds *up*: the
//! rounded price is never below the computed one. The minimum-margin guard
//! flags any price below cost + margin; flagged prices are never offered
//! silently (import leaves them out and logs them, `pricing preview` marks
//! them).

pub mod term_cost;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::{Period, Tariff};
pub use crate::config::pricing::{PricingConfig, Rounding, TariffRule};

/// Why a price is not offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum QuoteStatus {
    Ok,
    /// Sell price below cost + minimum margin.
    BelowMargin,
    /// No conversion rate from the upstream currency to the sell currency.
    NoRate,
    /// The numbers do not fit a decimal (absurd export or config).
    Overflow,
}

/// One priced period of one tariff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub tariff: u64,
    pub months: u32,
    /// Upstream cost, in the upstream currency.
    pub cost: Decimal,
    pub cost_currency: String,
    /// Cost in the sell currency (= cost without conversion).
    pub converted_cost: Decimal,
    pub rate: Decimal,
    pub sell: Decimal,
    pub currency: String,
    /// sell − converted cost.
    pub margin: Decimal,
    /// Lowest acceptable sell price: converted cost + minimum margin.
    pub floor: Decimal,
    #[serde(flatten)]
    pub status: QuoteStatus,
}

impl Quote {
    pub fn is_offered(&self) -> bool {
        self.status == QuoteStatus::Ok
    }
}

/// The pricing engine for one configuration.
#[derive(Debug, Clone)]
pub struct Pricer<'a> {
    cfg: &'a PricingConfig,
}

impl<'a> Pricer<'a> {
    pub fn new(cfg: &'a PricingConfig) -> Pricer<'a> {
        Pricer { cfg }
    }

    fn rate_for(&self, cost_currency: &str) -> Option<(Decimal, String)> {
        let target = self.cfg.currency.trim();
        if target.is_empty() || target.eq_ignore_ascii_case(cost_currency) {
            return Some((Decimal::ONE, cost_currency.to_string()));
        }
        self.cfg
            .rates
            .get(&cost_currency.trim().to_ascii_uppercase())
            .map(|r| (*r, target.to_string()))
    }

    /// Price one sold period; `None` for a period that is not sold
    /// (trial, no cost, not monthly).
    pub fn quote(&self, tariff: u64, period: &Period) -> Option<Quote> {
        let months = period.months()?;
        let cost = period.cost?;
        let rule = self.cfg.rule(tariff);
        let percent = rule
            .and_then(|r| r.markup_percent)
            .unwrap_or(self.cfg.markup_percent);
        let fixed = rule
            .and_then(|r| r.markup_fixed)
            .unwrap_or(self.cfg.markup_fixed);
        let rounding = rule.and_then(|r| r.rounding).unwrap_or(self.cfg.rounding);
        let mut q = Quote {
            tariff,
            months,
            cost,
            cost_currency: period.currency.clone(),
            converted_cost: cost,
            rate: Decimal::ONE,
            sell: Decimal::ZERO,
            currency: period.currency.clone(),
            margin: Decimal::ZERO,
            floor: Decimal::ZERO,
            status: QuoteStatus::Ok,
        };
        let Some((rate, currency)) = self.rate_for(&period.currency) else {
            q.currency = self.cfg.currency.clone();
            q.status = QuoteStatus::NoRate;
            return Some(q);
        };
        q.rate = rate;
        q.currency = currency;
        let hundred = Decimal::ONE_HUNDRED;
        let computed = (|| {
            let converted = cost.checked_mul(rate)?;
            let markup = converted.checked_mul(percent)?.checked_div(hundred)?;
            let raw = converted.checked_add(markup)?.checked_add(fixed)?;
            let sell = rounding.apply(raw)?;
            let pct_margin = converted
                .checked_mul(self.cfg.min_margin_percent)?
                .checked_div(hundred)?;
            let floor = converted.checked_add(pct_margin.max(self.cfg.min_margin))?;
            let margin = sell.checked_sub(converted)?;
            Some((converted, sell, floor, margin))
        })();
        match computed {
            Some((converted, sell, floor, margin)) => {
                q.converted_cost = converted;
                q.sell = sell;
                q.floor = floor;
                q.margin = margin;
                if sell < floor {
                    q.status = QuoteStatus::BelowMargin;
                }
            }
            None => q.status = QuoteStatus::Overflow,
        }
        Some(q)
    }

    /// Every sold period of a tariff, priced, in the export's order.
    pub fn quote_all(&self, t: &Tariff) -> Vec<Quote> {
        t.periods
            .iter()
            .filter_map(|p| self.quote(t.id, p))
            .collect()
    }

    /// One quote per period length for offering: a price already in the sell
    /// currency wins over a converted one, otherwise the export's order.
    /// Flagged quotes are kept (with their status) so callers can report them.
    pub fn offer(&self, t: &Tariff) -> Vec<Quote> {
        self.offer_periods(t.id, &t.periods)
    }

    /// [`Pricer::offer`] for any list of periods priced under tariff `id`'s
    /// rules (a tariff's add-on, e.g. its SAN slots, is sold under the rules
    /// of the tariff it belongs to).
    pub fn offer_periods(&self, id: u64, periods: &[Period]) -> Vec<Quote> {
        let mut best: BTreeMap<u32, Quote> = BTreeMap::new();
        for q in periods.iter().filter_map(|p| self.quote(id, p)) {
            let replace = match best.get(&q.months) {
                None => true,
                Some(b) => {
                    let unconverted = |x: &Quote| x.cost_currency.eq_ignore_ascii_case(&x.currency);
                    (!b.is_offered() && q.is_offered())
                        || (b.is_offered() == q.is_offered() && !unconverted(b) && unconverted(&q))
                }
            };
            if replace {
                best.insert(q.months, q);
            }
        }
        best.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn period(currency: &str, months: i64, cost: &str) -> Period {
        Period {
            currency: currency.into(),
            kind: "month".into(),
            length: months,
            cost: Some(d(cost)),
        }
    }

    #[test]
    fn rounding_modes() {
        assert_eq!(Rounding::Cents.apply(d("9.001")), Some(d("9.01")));
        assert_eq!(Rounding::Cents.apply(d("9.00")), Some(d("9.00")));
        assert_eq!(Rounding::Whole.apply(d("9.01")), Some(d("10")));
        assert_eq!(Rounding::Ends90.apply(d("9.01")), Some(d("9.90")));
        assert_eq!(Rounding::Ends90.apply(d("9.905")), Some(d("10.90")));
        assert_eq!(Rounding::Ends99.apply(d("9.99")), Some(d("9.99")));
        assert_eq!(Rounding::Ends99.apply(d("10")), Some(d("10.99")));
    }

    #[test]
    fn decimal_exactness() {
        // 0.1 + 0.2 is exactly 0.3 here, and 7.5 × 1.2 is exactly 9.
        let cfg = PricingConfig {
            markup_percent: d("20"),
            ..PricingConfig::default()
        };
        let q = Pricer::new(&cfg)
            .quote(1, &period("EUR", 12, "7.5000"))
            .unwrap();
        assert_eq!(q.sell, d("9.00"));
        assert_eq!(q.margin, d("1.5"));
        let cfg = PricingConfig {
            markup_fixed: d("0.2"),
            ..PricingConfig::default()
        };
        let q = Pricer::new(&cfg)
            .quote(1, &period("EUR", 12, "0.1"))
            .unwrap();
        assert_eq!(q.sell.to_string(), "0.30");
    }

    #[test]
    fn per_tariff_rule_and_conversion() {
        let cfg = PricingConfig {
            markup_percent: d("10"),
            currency: "RUB".into(),
            rates: [("EUR".to_string(), d("100.5"))].into_iter().collect(),
            rounding: Rounding::Whole,
            tariff: vec![TariffRule {
                id: 7,
                markup_percent: Some(d("50")),
                markup_fixed: Some(d("1")),
                rounding: None,
            }],
            ..PricingConfig::default()
        };
        let p = Pricer::new(&cfg);
        let q = p.quote(1, &period("EUR", 12, "10")).unwrap();
        assert_eq!(
            (q.converted_cost, q.sell, q.currency.as_str()),
            (d("1005.0"), d("1106"), "RUB")
        );
        let q = p.quote(7, &period("EUR", 12, "10")).unwrap();
        assert_eq!(q.sell, d("1509"));
        let q = p.quote(1, &period("RUB", 12, "990")).unwrap();
        assert_eq!((q.rate, q.sell), (Decimal::ONE, d("1089")));
        let q = p.quote(1, &period("USD", 12, "10")).unwrap();
        assert_eq!(q.status, QuoteStatus::NoRate);
        assert!(!q.is_offered());
    }

    #[test]
    fn guard_flags_low_prices() {
        let cfg = PricingConfig {
            markup_percent: d("5"),
            min_margin: d("2"),
            min_margin_percent: d("10"),
            ..PricingConfig::default()
        };
        let p = Pricer::new(&cfg);
        // 10 % of 100 = 10 > 2: floor 110, sell 105 → flagged.
        let q = p.quote(1, &period("EUR", 12, "100")).unwrap();
        assert_eq!(
            (q.sell, q.floor, q.status.clone()),
            (d("105.00"), d("110.0"), QuoteStatus::BelowMargin)
        );
        // cost 10: floor 12 (fixed 2 > 1), sell 10.5 → flagged.
        assert_eq!(
            p.quote(1, &period("EUR", 12, "10")).unwrap().status,
            QuoteStatus::BelowMargin
        );
        let ok = PricingConfig {
            markup_percent: d("25"),
            ..cfg.clone()
        };
        assert!(Pricer::new(&ok)
            .quote(1, &period("EUR", 12, "100"))
            .unwrap()
            .is_offered());
    }

    #[test]
    fn unsold_and_trial_are_not_quoted() {
        let p = PricingConfig::default();
        let pricer = Pricer::new(&p);
        assert!(pricer.quote(1, &period("EUR", -100, "0")).is_none());
        let mut unsold = period("EUR", 12, "1");
        unsold.cost = None;
        assert!(pricer.quote(1, &unsold).is_none());
    }

    #[test]
    fn overflow_is_flagged_not_a_panic() {
        let cfg = PricingConfig {
            currency: "RUB".into(),
            rates: [("EUR".to_string(), Decimal::MAX)].into_iter().collect(),
            ..PricingConfig::default()
        };
        let q = Pricer::new(&cfg)
            .quote(1, &period("EUR", 12, "1000"))
            .unwrap();
        assert_eq!(q.status, QuoteStatus::Overflow);
    }

    #[test]
    fn config_refuses_floats_and_bad_values() {
        let parse = |s: &str| crate::config::Config::parse(s);
        assert!(parse("[pricing]\nmarkup_percent = 12.5\n")
            .unwrap_err()
            .message
            .contains("quoted"));
        let c = parse("[pricing]\nmarkup_percent = \"12.5\"\nmarkup_fixed = 3\nrounding = \"ends_99\"\ncurrency = \"RUB\"\n[pricing.rates]\neur = \"101.25\"\n[[pricing.tariff]]\nid = 3033\nmarkup_percent = \"40\"\n").unwrap();
        assert_eq!(c.pricing.markup_percent, d("12.5"));
        assert_eq!(c.pricing.rates.get("EUR"), Some(&d("101.25")));
        assert_eq!(c.pricing.tariff[0].markup_percent, Some(d("40")));
        assert!(parse("[pricing]\nmin_margin = \"-1\"\n").is_err());
        assert!(parse("[pricing.rates]\nEUR = \"0\"\n").is_err());
        assert!(parse("[pricing]\nrounding = \"nearest\"\n").is_err());
        assert!(parse("[[pricing.tariff]]\nid = 1\n[[pricing.tariff]]\nid = 1\n").is_err());
    }
}
