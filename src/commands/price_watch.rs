//! The price-change alert: after `catalog refresh`, the new
//! upstream costs against the prices the local services of the module are
//! sold at. Every local price now under the `[pricing]` margin floor
//! (converted cost + minimum margin, the same floor `pricing preview` uses)
//! is flagged with the numbers; `catalog refresh --check` exits 1 then.
//!
//! Read-only: the local prices are read from the database, nothing is
//! changed anywhere. The comparison is the pure [`check`].

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::billing::Db;
use crate::catalog::{upstream_tariff_id, Catalog};
use crate::pricing::{Pricer, PricingConfig, QuoteStatus};
use crate::protocol::error::Result;
use crate::vocab::{ItemStatus, Period};

/// One local price: what services of a tariff and period are charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalPrice {
    /// The local tariff's internal name (`ssl_<upstream id>`).
    pub tariff: String,
    pub months: u32,
    pub price: Decimal,
    /// Live services charged this price.
    pub services: u64,
}

/// What [`local_prices`] read: the prices, and the services left out of the
/// check, each with why (for the refresh to print and log once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalPrices {
    pub prices: Vec<LocalPrice>,
    pub left_out: Vec<String>,
}

/// The local prices of the module's live certificate services.
///
/// OUR GUESS, kept here only: no source names where BILLmanager keeps a
/// tariff's own prices, so the price checked is `item.cost` of each service
/// (module-protocol.md §9.3 lists the column; that it is the price of one
/// period of the service, in the `[pricing] currency` — or the upstream's
/// when that is empty — is not confirmed). Services at cost 0 (free, or not
/// priced yet) and closed services are left out silently. Left out by name
/// (`left_out`), while the others are still checked: a service not charged
/// yet (`item.cost` NULL), one whose tariff, status, cost or period cannot be
/// read, and one whose period is not whole months (a trial, lifetime, daily:
/// the upstream sells by the month).
pub fn local_prices(db: &mut Db, module: u64) -> Result<LocalPrices> {
    let mut merged: BTreeMap<(String, u32, Decimal), u64> = BTreeMap::new();
    let mut left_out = Vec::new();
    for g in db.service_costs(module)? {
        let who = match (g.first_item, g.services) {
            (Some(i), 1) => format!("item {i}"),
            (Some(i), n) => format!("items {i} and {} more", n - 1),
            (None, n) => format!("{n} services"),
        };
        let mut leave = |why: String| {
            left_out.push(format!("{who}: {why}; left out of the price check"));
        };
        let in_db = "in BILLmanager's database";
        let status = match g.status {
            Ok(s) => s,
            Err(p) => {
                leave(format!("item.status {p} {in_db}"));
                continue;
            }
        };
        if ItemStatus::from_db(status) == ItemStatus::Deleted {
            continue;
        }
        let tariff = match g.tariff {
            Ok(t) => t,
            Err(p) => {
                leave(format!("pricelist.intname {p} {in_db}"));
                continue;
            }
        };
        let price = match g.cost {
            Ok(Some(c)) => c,
            Ok(None) => {
                leave(format!(
                    "tariff {tariff}: item.cost is NULL {in_db} (not charged yet)"
                ));
                continue;
            }
            Err(b) => {
                leave(format!("tariff {tariff}: item.cost {b} {in_db}"));
                continue;
            }
        };
        if price <= Decimal::ZERO {
            continue;
        }
        let months = match g.period {
            Ok(Period::Months(m)) => m,
            Ok(other) => {
                leave(format!(
                    "tariff {tariff}: its period is {other}, which the upstream does not sell by the month"
                ));
                continue;
            }
            Err(p) => {
                leave(format!("tariff {tariff}: item.period {p} {in_db}"));
                continue;
            }
        };
        *merged
            .entry((tariff, months, price.normalize()))
            .or_default() += g.services;
    }
    Ok(LocalPrices {
        prices: merged
            .into_iter()
            .map(|((tariff, months, price), services)| LocalPrice {
                tariff,
                months,
                price,
                services,
            })
            .collect(),
        left_out,
    })
}

/// A local price under the floor, with the numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceAlert {
    pub tariff: String,
    pub months: u32,
    pub services: u64,
    pub price: Decimal,
    /// The new upstream cost, in its currency.
    pub cost: Decimal,
    pub cost_currency: String,
    /// Lowest acceptable price: converted cost + minimum margin.
    pub floor: Decimal,
    pub currency: String,
    /// floor − price.
    pub short_by: Decimal,
}

impl PriceAlert {
    /// The log line (and the text the refresh prints under its table).
    pub fn line(&self) -> String {
        format!(
            "local price under the margin floor: tariff {} {} months: {} services at {} {}, upstream cost now {} {}, lowest acceptable {} {} (short by {} {}); raise the tariff's price or the [pricing] rules",
            self.tariff,
            self.months,
            self.services,
            self.price,
            self.currency,
            self.cost.normalize(),
            self.cost_currency,
            self.floor.round_dp(2),
            self.currency,
            self.short_by.round_dp(2),
            self.currency
        )
    }
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PriceCheck {
    /// Local prices compared.
    pub checked: usize,
    pub alerts: Vec<PriceAlert>,
    /// Prices that could not be compared, and why.
    pub unchecked: Vec<String>,
}

/// Compare each local price with the floor of the new upstream cost. Pure.
pub fn check(catalog: &Catalog, pricing: &PricingConfig, prices: &[LocalPrice]) -> PriceCheck {
    let pricer = Pricer::new(pricing);
    let mut out = PriceCheck::default();
    for p in prices {
        let Some(tariff) = upstream_tariff_id(&p.tariff)
            .ok()
            .and_then(|id| catalog.tariff(id))
        else {
            out.unchecked.push(format!(
                "tariff {}: not in the upstream catalog any more",
                p.tariff
            ));
            continue;
        };
        let Some(quote) = pricer
            .offer(tariff)
            .into_iter()
            .find(|q| q.months == p.months)
        else {
            out.unchecked.push(format!(
                "tariff {} {} months: the upstream no longer sells this period",
                p.tariff, p.months
            ));
            continue;
        };
        match quote.status {
            QuoteStatus::NoRate => {
                out.unchecked.push(format!(
                    "tariff {} {} months: no [pricing.rates] entry for {}",
                    p.tariff, p.months, quote.cost_currency
                ));
                continue;
            }
            QuoteStatus::Overflow => {
                out.unchecked.push(format!(
                    "tariff {} {} months: the numbers do not fit",
                    p.tariff, p.months
                ));
                continue;
            }
            QuoteStatus::Ok | QuoteStatus::BelowMargin => {}
        }
        out.checked += 1;
        if p.price < quote.floor {
            out.alerts.push(PriceAlert {
                tariff: p.tariff.clone(),
                months: p.months,
                services: p.services,
                price: p.price,
                cost: quote.cost,
                cost_currency: quote.cost_currency.clone(),
                floor: quote.floor,
                currency: quote.currency.clone(),
                short_by: quote.floor - p.price,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_export;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn catalog(cost: &str) -> Catalog {
        let xml = format!(
            r#"<doc><pricelist><id>3033</id><name>Comodo Positive SSL</name>
            <price currency="EUR"><period cost="{cost}" type="month" length="12"/></price></pricelist></doc>"#
        );
        parse_export(&xml, 1, "2026-12-02T00:00:00Z").unwrap()
    }

    fn price(p: &str) -> LocalPrice {
        LocalPrice {
            tariff: "ssl_3033".into(),
            months: 12,
            price: d(p),
            services: 3,
        }
    }

    #[test]
    fn a_rise_past_the_floor_is_flagged_with_the_numbers() {
        let pricing = PricingConfig {
            min_margin: d("2"),
            ..PricingConfig::default()
        };
        let ok = check(&catalog("10.00"), &pricing, &[price("15.00")]);
        assert_eq!((ok.checked, ok.alerts.len()), (1, 0), "{ok:?}");
        let r = check(&catalog("14.00"), &pricing, &[price("15.00")]);
        assert_eq!(r.alerts.len(), 1, "{r:?}");
        let a = &r.alerts[0];
        assert_eq!((a.floor, a.short_by), (d("16.00"), d("1.00")));
        let line = a.line();
        assert!(
            line.contains("15 EUR") || line.contains("15.00 EUR"),
            "{line}"
        );
        assert!(line.contains("lowest acceptable 16"), "{line}");
    }

    #[test]
    fn unknown_tariffs_periods_and_rates_are_named_not_flagged() {
        let mut p = price("15");
        p.tariff = "ssl_1".into();
        let mut q = price("15");
        q.months = 24;
        let r = check(&catalog("10"), &PricingConfig::default(), &[p, q]);
        assert_eq!((r.checked, r.alerts.len(), r.unchecked.len()), (0, 0, 2));
        let pricing = PricingConfig {
            currency: "RUB".into(),
            ..PricingConfig::default()
        };
        let r = check(&catalog("10"), &pricing, &[price("15")]);
        assert!(r.unchecked[0].contains("EUR"), "{r:?}");
    }
}
