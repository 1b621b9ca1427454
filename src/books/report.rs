//! The reports over the ledger, as pure computation: `sales` (per month and
//! tariff) and `losses` (per service). `due` reads BILLmanager and the
//! planner and lives in `commands::report`; its rows are [`DueRow`].
//!
//! How rows count:
//! - money is counted from **posted** rows only, in the month their money
//!   moved (`posted_at`); pending rows are counted apart (`pending`) and
//!   failed ones not at all (nothing moved);
//! - estimated rows (rebuilt for services older than the ledger) are counted
//!   like the others and flagged (`estimated`);
//! - an upstream cost is converted to the sell currency with the row's own
//!   rate; without a rate it is taken as is only when both currencies are
//!   the same. A cost that is unknown or cannot be converted makes the
//!   group's cost and margin **unknown**, never 0;
//! - a reopen that pays upstream again counts as an order, a refund as a
//!   negative cost, an import (nothing paid) not at all.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike};
use rust_decimal::Decimal;
use serde::Serialize;

use super::ledger::{Entry, Kind, Owner, State};

/// `2026-12-07 10:15` (UTC) of unix seconds.
pub fn day_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| secs.to_string())
}

fn month_of(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|d| format!("{:04}-{:02}", d.year(), d.month()))
        .unwrap_or_else(|| "?".into())
}

/// A sum that is unknown as soon as one part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sum(Option<Decimal>);

impl Sum {
    pub fn zero() -> Sum {
        Sum(Some(Decimal::ZERO))
    }
    fn add(&mut self, v: Option<Decimal>) {
        self.0 = match (self.0, v) {
            // Beyond Decimal's range (an absurd upstream price): unknown.
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
    }
    pub fn value(self) -> Option<Decimal> {
        self.0
    }
    /// `12.5`, or `unknown`.
    pub fn text(self) -> String {
        match self.0 {
            Some(d) => d.round_dp(2).normalize().to_string(),
            None => "unknown".into(),
        }
    }
}

impl From<Option<Decimal>> for Sum {
    fn from(v: Option<Decimal>) -> Sum {
        Sum(v)
    }
}

impl Serialize for Sum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => s.serialize_str(&d.round_dp(4).normalize().to_string()),
            None => s.serialize_none(),
        }
    }
}

/// The upstream cost of a row in its sell (local) currency: `cost × rate`,
/// or the cost itself when both currencies are the same (or the row names
/// no sell currency and no rate: the module's own action, taken as is in the
/// upstream currency). `None`: unknown or not convertible.
pub fn local_cost(e: &Entry, local_currency: Option<&str>) -> Option<Decimal> {
    let cost = e.cost?;
    match e.rate {
        Some(rate) => cost.checked_mul(rate),
        None => {
            let local = e.sell_currency.as_deref().or(local_currency);
            match (e.cost_currency.as_deref(), local) {
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => Some(cost),
                (_, None) => Some(cost),
                (None, _) => Some(cost),
                _ => None,
            }
        }
    }
}

/// When a row's money moved (posted), else when it was written.
fn moved_at(e: &Entry) -> i64 {
    e.posted_at.unwrap_or(e.created_at)
}

/// Which rows a report reads: one module, money moved in `[from, to)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Window {
    fn holds(&self, at: i64) -> bool {
        self.from.is_none_or(|f| at >= f) && self.to.is_none_or(|t| at < t)
    }
}

/// One line of `report sales`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesRow {
    pub month: String,
    /// The upstream tariff id.
    pub tariff: String,
    /// The sell (local) currency of revenue, cost and margin.
    pub currency: String,
    pub orders: u64,
    /// The customers' renewals (BILLmanager's prolong).
    pub renewals: u64,
    /// The module's own automatic paid renewals.
    pub auto_renewals: u64,
    pub refunds: u64,
    /// What the customers paid for the periods (sell prices).
    pub revenue: Sum,
    /// Upstream cost converted with each row's rate (automatic renewals and
    /// refunds included).
    pub cost: Sum,
    /// revenue − cost.
    pub margin: Sum,
    /// The part of `cost` that was the module's own automatic renewals.
    pub auto_cost: Sum,
    /// Rows still pending (not counted in the money).
    pub pending: u64,
    /// Counted rows rebuilt from what was known (estimated).
    pub estimated: u64,
}

/// `report sales`: per month (of the money's movement) and tariff.
pub fn sales(rows: &[Entry], window: Window) -> Vec<SalesRow> {
    let local = local_currency(rows);
    let mut by: BTreeMap<(String, String, String), SalesRow> = BTreeMap::new();
    for e in rows {
        if e.kind == Kind::Import || e.state == State::Failed || !window.holds(moved_at(e)) {
            continue;
        }
        let currency = e
            .sell_currency
            .clone()
            .or_else(|| local.clone())
            .or_else(|| e.cost_currency.clone())
            .unwrap_or_default();
        let tariff = e.tariff.clone().unwrap_or_else(|| "?".into());
        let month = month_of(moved_at(e));
        let row = by
            .entry((month.clone(), tariff.clone(), currency.clone()))
            .or_insert_with(|| SalesRow {
                month,
                tariff,
                currency,
                orders: 0,
                renewals: 0,
                auto_renewals: 0,
                refunds: 0,
                revenue: Sum::zero(),
                cost: Sum::zero(),
                margin: Sum::zero(),
                auto_cost: Sum::zero(),
                pending: 0,
                estimated: 0,
            });
        if e.state == State::Pending {
            row.pending += 1;
            continue;
        }
        let auto = e.owner == Owner::Auto;
        match (e.kind, auto) {
            (Kind::Order | Kind::Reopen, _) => row.orders += 1,
            (Kind::Renewal, false) => row.renewals += 1,
            (Kind::Renewal, true) => row.auto_renewals += 1,
            (Kind::Refund, _) => row.refunds += 1,
            (Kind::Import, _) => {}
        }
        if e.estimated {
            row.estimated += 1;
        }
        let cost = local_cost(e, local.as_deref());
        row.cost.add(cost);
        if auto {
            row.auto_cost.add(cost);
        }
        // The module's own actions have no sell price: nobody pays them.
        if !auto && e.kind != Kind::Refund {
            row.revenue.add(e.sell);
        }
    }
    by.into_values()
        .map(|mut r| {
            r.margin = match (r.revenue.0, r.cost.0) {
                (Some(a), Some(b)) => Sum(a.checked_sub(b)),
                _ => Sum(None),
            };
            r
        })
        .collect()
}

/// The most common sell currency of the rows (the local one).
fn local_currency(rows: &[Entry]) -> Option<String> {
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for e in rows {
        if let Some(c) = e.sell_currency.as_deref() {
            *n.entry(c).or_default() += 1;
        }
    }
    n.into_iter()
        .max_by_key(|(_, k)| *k)
        .map(|(c, _)| c.to_string())
}

/// One line of `report losses`: a service whose sells minus costs is below 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossRow {
    pub item: u64,
    pub account: Option<String>,
    pub tariff: String,
    pub currency: String,
    /// Posted movements counted.
    pub movements: u64,
    pub sells: Sum,
    pub costs: Sum,
    pub margin: Sum,
    /// Of which automatic renewals (the reseller's own cost).
    pub auto_renewals: u64,
    pub estimated: bool,
}

/// `report losses`: services whose sells minus costs are below 0, most
/// negative first; and the services whose cost is unknown (not judged).
pub fn losses(rows: &[Entry], window: Window) -> (Vec<LossRow>, Vec<u64>) {
    let local = local_currency(rows);
    let mut by: BTreeMap<u64, LossRow> = BTreeMap::new();
    for e in rows {
        if e.kind == Kind::Import || e.state != State::Posted || !window.holds(moved_at(e)) {
            continue;
        }
        let r = by.entry(e.item).or_insert_with(|| LossRow {
            item: e.item,
            account: e.account_name.clone(),
            tariff: e.tariff.clone().unwrap_or_else(|| "?".into()),
            currency: e
                .sell_currency
                .clone()
                .or_else(|| local.clone())
                .unwrap_or_default(),
            movements: 0,
            sells: Sum::zero(),
            costs: Sum::zero(),
            margin: Sum::zero(),
            auto_renewals: 0,
            estimated: false,
        });
        r.movements += 1;
        r.estimated |= e.estimated;
        if r.account.is_none() {
            r.account = e.account_name.clone();
        }
        let auto = e.owner == Owner::Auto;
        if auto && e.kind == Kind::Renewal {
            r.auto_renewals += 1;
        }
        r.costs.add(local_cost(e, local.as_deref()));
        if !auto && e.kind != Kind::Refund {
            r.sells.add(e.sell);
        }
    }
    let mut unknown = Vec::new();
    let mut out: Vec<LossRow> = by
        .into_values()
        .filter_map(|mut r| {
            r.margin = match (r.sells.0, r.costs.0) {
                (Some(a), Some(b)) => Sum(a.checked_sub(b)),
                _ => Sum(None),
            };
            match r.margin.0 {
                Some(m) if m < Decimal::ZERO => Some(r),
                Some(_) => None,
                None => {
                    unknown.push(r.item);
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.margin.0.cmp(&b.margin.0).then(a.item.cmp(&b.item)));
    (out, unknown)
}

/// What falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    /// The customer's paid term ends (`item.expiredate`): BILLmanager
    /// renews it if the customer pays; the module then pays upstream.
    CustomerRenewal,
    /// The module's automatic free reissue (nothing paid).
    AutoReissue,
    /// The module's automatic paid upstream renewal (the reseller pays).
    AutoRenewal,
    /// The planner cannot tell reissue from renewal yet (no upstream expiry).
    Undecided,
}

impl DueKind {
    pub fn label(self) -> &'static str {
        match self {
            DueKind::CustomerRenewal => "customer renewal",
            DueKind::AutoReissue => "automatic reissue",
            DueKind::AutoRenewal => "automatic paid renewal",
            DueKind::Undecided => "reissue or paid renewal (undecided)",
        }
    }
}

/// One line of `report due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueRow {
    #[serde(serialize_with = "ymd")]
    pub date: chrono::NaiveDate,
    pub item: u64,
    pub name: String,
    pub kind: DueKind,
    pub tariff: String,
    pub months: Option<u32>,
    /// The upstream cost from the cached catalog, in its currency (0 for a
    /// free reissue; unknown when the catalog does not say).
    pub cost: Sum,
    pub currency: String,
}

fn ymd<S: serde::Serializer>(d: &chrono::NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::ledger::{key, CostSource};

    /// A ledger row; costs in EUR, sells in RUB at the row's rate.
    #[allow(clippy::too_many_arguments)]
    pub fn row(
        item: u64,
        gen: u32,
        kind: Kind,
        owner: Owner,
        day: &str,
        tariff: &str,
        cost: Option<&str>,
        sell: Option<&str>,
        rate: Option<&str>,
        state: State,
    ) -> Entry {
        let at = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        Entry {
            key: key(3, item, kind, owner, gen),
            created_at: at,
            updated_at: at,
            posted_at: (state == State::Posted).then_some(at),
            module: 3,
            item,
            account: Some(7),
            account_name: Some(format!("client{item}")),
            kind,
            owner,
            ro: None,
            upstream_id: Some(item + 9000),
            tariff: Some(tariff.into()),
            local_tariff: None,
            period: Some(12),
            cost: cost.map(|c| c.parse().unwrap()),
            cost_currency: Some("EUR".into()),
            cost_source: if cost.is_some() {
                CostSource::Catalog
            } else {
                CostSource::Unknown
            },
            sell: sell.map(|c| c.parse().unwrap()),
            sell_currency: sell.map(|_| "RUB".into()),
            rate: rate.map(|c| c.parse().unwrap()),
            state,
            estimated: false,
            note: None,
        }
    }

    /// Costs and prices near Decimal's limit (an absurd catalog price, a
    /// rate) make a sum unknown; the report never panics.
    #[test]
    fn absurd_amounts_are_unknown_not_a_panic() {
        use Kind::*;
        use Owner::*;
        let max = "79228162514264337593543950335";
        let rows: Vec<Entry> = (1..=2)
            .map(|i| {
                row(
                    i,
                    1,
                    Order,
                    Billmanager,
                    "2026-11-02",
                    "3033",
                    Some(max),
                    Some(max),
                    Some("100"),
                    State::Posted,
                )
            })
            .collect();
        let s = sales(&rows, Window::default());
        assert_eq!(s[0].cost.text(), "unknown");
        let (_, unknown) = losses(&rows, Window::default());
        assert_eq!(unknown, vec![1, 2]);
        let mut neg = rows.clone();
        neg[1].sell = Some(-max.parse::<Decimal>().unwrap());
        neg[1].rate = None;
        neg[1].cost = Some(max.parse().unwrap());
        neg[1].cost_currency = Some("RUB".into());
        let _ = sales(&neg, Window::default());
        let _ = losses(&neg, Window::default());
    }

    #[test]
    fn unknown_cost_is_unknown_not_zero() {
        use Kind::*;
        use Owner::*;
        let rows = vec![
            row(
                1,
                1,
                Order,
                Billmanager,
                "2026-11-02",
                "3033",
                Some("10"),
                Some("1500"),
                Some("100"),
                State::Posted,
            ),
            row(
                2,
                1,
                Order,
                Billmanager,
                "2026-11-03",
                "3033",
                None,
                Some("1500"),
                Some("100"),
                State::Posted,
            ),
        ];
        let s = sales(&rows, Window::default());
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].revenue.text(), "3000");
        assert_eq!(s[0].cost.text(), "unknown");
        assert_eq!(s[0].margin.text(), "unknown");
        let (l, unknown) = losses(&rows, Window::default());
        assert!(l.is_empty());
        assert_eq!(unknown, vec![2]);
    }
}
