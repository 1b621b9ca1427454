//! `[pricing]` of `etc/pmsslreseller.toml`: the rules as the admin writes
//! them (markups, rounding, minimum margin, rates), read and checked here;
//! [`crate::pricing`] applies them to upstream costs.
//!
//! Config amounts are strings (or whole numbers); a float is refused, so no
//! binary rounding ever touches a price.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// How a computed price is rounded; always upwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Up to the next 0.01.
    Cents,
    /// Up to the next whole unit.
    Whole,
    /// Up to the next price ending in .90.
    #[serde(rename = "ends_90")]
    Ends90,
    /// Up to the next price ending in .99.
    #[serde(rename = "ends_99")]
    Ends99,
}

impl Rounding {
    /// `x` rounded up by this rule, written with two decimals ("9.00");
    /// `None` only on decimal overflow.
    pub fn apply(self, x: Decimal) -> Option<Decimal> {
        let mut rounded = self.apply_exact(x)?;
        if rounded.scale() < 2 {
            // Exact: only adds trailing zeros (keeps the value when it cannot).
            rounded.rescale(2);
        }
        Some(rounded)
    }

    fn apply_exact(self, x: Decimal) -> Option<Decimal> {
        match self {
            Rounding::Cents => {
                Some(x.round_dp_with_strategy(2, RoundingStrategy::ToPositiveInfinity))
            }
            Rounding::Whole => Some(x.ceil()),
            Rounding::Ends90 => ending(x, Decimal::new(90, 2)),
            Rounding::Ends99 => ending(x, Decimal::new(99, 2)),
        }
    }
}

/// The smallest `n + frac` (n whole) that is ≥ x.
fn ending(x: Decimal, frac: Decimal) -> Option<Decimal> {
    let candidate = x.floor().checked_add(frac)?;
    if candidate >= x {
        Some(candidate)
    } else {
        candidate.checked_add(Decimal::ONE)
    }
}

/// A money amount from the config: a string ("12.50") or a whole number;
/// floats are refused so that no binary rounding ever enters a price.
pub(crate) fn parse_amount<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Decimal, D::Error> {
    struct AmountVisitor;
    impl Visitor<'_> for AmountVisitor {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an amount as a quoted decimal string, e.g. \"12.50\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Decimal, E> {
            v.trim()
                .parse::<Decimal>()
                .map_err(|_| E::custom(format!("\"{v}\" is not a decimal amount")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Decimal, E> {
            Err(E::custom(format!(
                "write amounts as quoted strings (\"{v}\"), not as floating-point numbers"
            )))
        }
    }
    d.deserialize_any(AmountVisitor)
}

fn parse_opt_amount<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Decimal>, D::Error> {
    parse_amount(d).map(Some)
}

fn parse_rates<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Amount(#[serde(deserialize_with = "parse_amount")] Decimal);
    let raw = BTreeMap::<String, Amount>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.0))
        .collect())
}

/// `[pricing]`: how local prices are derived from upstream costs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingConfig {
    /// Markup in percent of the cost (after conversion), for every tariff.
    #[serde(deserialize_with = "parse_amount")]
    pub markup_percent: Decimal,
    /// Fixed markup added after the percentage, in the sell currency.
    #[serde(deserialize_with = "parse_amount")]
    pub markup_fixed: Decimal,
    pub rounding: Rounding,
    /// Smallest acceptable margin per period, in the sell currency.
    #[serde(deserialize_with = "parse_amount")]
    pub min_margin: Decimal,
    /// Smallest acceptable margin in percent of the cost; the larger of the
    /// two minimums applies.
    #[serde(deserialize_with = "parse_amount")]
    pub min_margin_percent: Decimal,
    /// Currency of local prices; empty = each price stays in the upstream's currency.
    pub currency: String,
    /// Conversion rates: `EUR = "101.25"` means 1 EUR costs 101.25 units of `currency`.
    #[serde(deserialize_with = "parse_rates")]
    pub rates: BTreeMap<String, Decimal>,
    /// Per-tariff overrides of the markup.
    pub tariff: Vec<TariffRule>,
}

impl Default for PricingConfig {
    fn default() -> Self {
        PricingConfig {
            markup_percent: Decimal::ZERO,
            markup_fixed: Decimal::ZERO,
            rounding: Rounding::Cents,
            min_margin: Decimal::ZERO,
            min_margin_percent: Decimal::ZERO,
            currency: String::new(),
            rates: BTreeMap::new(),
            tariff: Vec::new(),
        }
    }
}

/// `[[pricing.tariff]]`: markup for one upstream tariff id.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TariffRule {
    /// Upstream tariff id (the number in `ssl_<id>`).
    pub id: u64,
    #[serde(default, deserialize_with = "parse_opt_amount")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup_percent: Option<Decimal>,
    #[serde(default, deserialize_with = "parse_opt_amount")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup_fixed: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
}

impl PricingConfig {
    /// Values serde cannot check, every one of them: `(key, what is wrong)`,
    /// the key as written under `[pricing]`. Called by `Config::parse`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, why: String| out.push((key.to_string(), why));
        if self.markup_percent <= Decimal::from(-100) {
            bad("markup_percent", "must be above -100".into());
        }
        if self.min_margin.is_sign_negative() && !self.min_margin.is_zero() {
            bad("min_margin", "must not be negative".into());
        }
        if self.min_margin_percent.is_sign_negative() && !self.min_margin_percent.is_zero() {
            bad("min_margin_percent", "must not be negative".into());
        }
        for (currency, rate) in &self.rates {
            if *rate <= Decimal::ZERO {
                bad(
                    "rates",
                    format!("the rate of {currency} must be above zero"),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for rule in &self.tariff {
            if !seen.insert(rule.id) {
                bad("tariff", format!("tariff {} is listed twice", rule.id));
            }
            if rule
                .markup_percent
                .is_some_and(|p| p <= Decimal::from(-100))
            {
                bad(
                    "tariff",
                    format!("markup_percent of tariff {} must be above -100", rule.id),
                );
            }
        }
        out
    }

    /// The first of [`PricingConfig::problems`] as an error.
    pub fn validate(&self) -> Result<()> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some((key, why)) => Err(ModuleError::new(
                ErrorKind::Config,
                format!("[pricing] {key}: {why}"),
            )
            .with_object(format!("pricing.{key}"))),
        }
    }

    /// The override for one upstream tariff, if any.
    pub fn rule(&self, tariff: u64) -> Option<&TariffRule> {
        self.tariff.iter().find(|r| r.id == tariff)
    }
}
