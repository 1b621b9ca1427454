//! Property tests of the pricing engine: rounding never goes down and stays
//! within one step; every offered price is at least cost + minimum margin;
//! arithmetic is exact decimal.

use proptest::prelude::*;
use rust_decimal::Decimal;

use pmsslreseller::catalog::Period;
use pmsslreseller::pricing::{Pricer, PricingConfig, QuoteStatus, Rounding, TariffRule};

/// A decimal with `scale` places from an integer mantissa.
fn dec(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::Cents),
        Just(Rounding::Whole),
        Just(Rounding::Ends90),
        Just(Rounding::Ends99)
    ]
}

fn period(currency: &str, months: i64, cost: Decimal) -> Period {
    Period {
        currency: currency.into(),
        kind: "month".into(),
        length: months,
        cost: Some(cost),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rounding_goes_up_by_less_than_one_step(m in 0i64..10_000_000_000, scale in 0u32..6, r in rounding()) {
        let x = dec(m, scale);
        let y = r.apply(x).unwrap();
        prop_assert!(y >= x, "{x} → {y}");
        let step = match r { Rounding::Cents => dec(1, 2), _ => Decimal::ONE };
        prop_assert!(y - x < step, "{x} → {y}");
        match r {
            Rounding::Cents => prop_assert_eq!(y, y.round_dp(2)),
            Rounding::Whole => prop_assert_eq!(y, y.trunc()),
            Rounding::Ends90 => prop_assert_eq!(y - y.trunc(), dec(90, 2)),
            Rounding::Ends99 => prop_assert_eq!(y - y.trunc(), dec(99, 2)),
        }
        // Idempotent: a rounded price stays as it is.
        prop_assert_eq!(r.apply(y).unwrap(), y);
    }

    #[test]
    fn offered_prices_respect_the_margin_guard(
        cost_m in 0i64..100_000_000, cost_scale in 0u32..5,
        pct_m in -9_999i64..50_000, fixed_m in -10_000i64..10_000,
        min_m in 0i64..10_000, min_pct_m in 0i64..5_000,
        rate_m in 1i64..10_000_000,
        convert in any::<bool>(), per_tariff in any::<bool>(),
        r in rounding(),
    ) {
        let cost = dec(cost_m, cost_scale);
        let mut cfg = PricingConfig {
            markup_percent: dec(pct_m, 2),
            markup_fixed: dec(fixed_m, 2),
            min_margin: dec(min_m, 2),
            min_margin_percent: dec(min_pct_m, 2),
            rounding: r,
            ..PricingConfig::default()
        };
        if convert {
            cfg.currency = "RUB".into();
            cfg.rates.insert("EUR".into(), dec(rate_m, 4));
        }
        if per_tariff {
            cfg.tariff.push(TariffRule { id: 1, markup_percent: Some(dec(pct_m / 2, 2)), markup_fixed: None, rounding: None });
        }
        let q = Pricer::new(&cfg).quote(1, &period("EUR", 12, cost)).unwrap();
        let rate = if convert { dec(rate_m, 4) } else { Decimal::ONE };
        let converted = cost * rate;
        prop_assert_eq!(q.converted_cost, converted);
        let margin_needed = (converted * cfg.min_margin_percent / Decimal::ONE_HUNDRED).max(cfg.min_margin);
        match q.status {
            QuoteStatus::Ok => {
                prop_assert!(q.sell >= converted + margin_needed, "{q:?}");
                prop_assert_eq!(q.margin, q.sell - converted);
            }
            QuoteStatus::BelowMargin => prop_assert!(q.sell < converted + margin_needed, "{q:?}"),
            other => prop_assert!(false, "unexpected {other:?}"),
        }
        // Exact arithmetic: the sell price is the rounded exact formula.
        let pct = if per_tariff { dec(pct_m / 2, 2) } else { cfg.markup_percent };
        let raw = converted + converted * pct / Decimal::ONE_HUNDRED + cfg.markup_fixed;
        prop_assert_eq!(q.sell, r.apply(raw).unwrap());
    }

    #[test]
    fn a_generous_markup_is_never_flagged(cost_m in 0i64..100_000_000, r in rounding()) {
        // markup 20 % ≥ min margin 10 %: must be offered whatever the rounding.
        let cfg = PricingConfig {
            markup_percent: dec(20, 0),
            min_margin_percent: dec(10, 0),
            rounding: r,
            ..PricingConfig::default()
        };
        let q = Pricer::new(&cfg).quote(1, &period("EUR", 12, dec(cost_m, 4))).unwrap();
        prop_assert_eq!(q.status, QuoteStatus::Ok);
    }
}

#[test]
fn sums_are_exact_where_floats_are_not() {
    // 0.1 + 0.2 markup on 0.7 cost: 1.0 exactly (a float gives 0.9999999999999999).
    let cfg = PricingConfig {
        markup_fixed: "0.3".parse().unwrap(),
        ..PricingConfig::default()
    };
    let q = Pricer::new(&cfg)
        .quote(1, &period("EUR", 12, "0.7".parse().unwrap()))
        .unwrap();
    assert_eq!(q.sell.to_string(), "1.00");
    // 1/3 markup of 3.00 with cents: 1.0000…·3 = 4.00 exactly, never 4.01.
    let cfg = PricingConfig {
        markup_percent: "33.333333333333333333333333".parse().unwrap(),
        ..PricingConfig::default()
    };
    let q = Pricer::new(&cfg)
        .quote(1, &period("EUR", 12, "3.00".parse().unwrap()))
        .unwrap();
    assert_eq!(q.sell.to_string(), "4.00");
}
