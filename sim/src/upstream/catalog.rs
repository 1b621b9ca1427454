//! The simulator's tariff catalogue: a `pricelist.export` document (upstream-api.md §5, SIM-15…18).
//! Plans are read for prices and order checks, and re-exported byte for byte (filtered) by
//! `pricelist.export`. The shipped default is `sim/fixtures/catalog.xml`.

use super::dom::{self, El};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The default catalogue, compiled in so the simulator runs without a path.
pub const DEFAULT_CATALOG: &str = include_str!("../../fixtures/catalog.xml");

/// One sold (or unsold: `cost=""`) period.
#[derive(Debug, Clone)]
pub struct Period {
    /// Months (`type="month"`, `length`).
    pub months: i32,
    pub cost: Option<Decimal>,
}

/// The `altname` (extra SAN) addon of a multi-domain plan.
#[derive(Debug, Clone)]
pub struct AltnameAddon {
    pub id: u64,
    pub min: u32,
    pub limit: u32,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: u64,
    pub name: String,
    pub itemtype: String,
    pub active: bool,
    pub archived: bool,
    pub hideinorder: bool,
    pub project: Option<u64>,
    pub currency: String,
    pub periods: Vec<Period>,
    pub altname: Option<AltnameAddon>,
    /// The free-text `<siteinfo>` line (`key=value, key=value`).
    pub siteinfo: String,
    /// The `<pricelist>…</pricelist>` text as written in the source document.
    pub raw: String,
}

impl Plan {
    /// Price of `months`, `None` when that period is not sold.
    pub fn period_cost(&self, months: i32) -> Option<Decimal> {
        find_cost(&self.periods, months)
    }

    /// A flag of the `<siteinfo>` line, e.g. `wildcard` → `Some(true)` for `wildcard=yes`.
    /// The simulator's encoding of plan flags (A-U14, upstream-api.md §10): the real export's SSL
    /// fields are unknown, ISPsystem's own SSL site parses this free-text line.
    pub fn site_flag(&self, name: &str) -> Option<bool> {
        self.siteinfo.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == name).then(|| matches!(v.trim(), "yes" | "on" | "true"))
        })
    }

    /// Shown in order forms and `onlyavailable` exports.
    pub fn available(&self) -> bool {
        self.active && !self.archived && !self.hideinorder
    }

    /// Can be ordered through the API: hidden-from-order plans still can (they are only hidden from the
    /// order page), archived or inactive ones cannot.
    pub fn orderable(&self) -> bool {
        self.active && !self.archived && self.itemtype == "certificate"
    }
}

fn find_cost(periods: &[Period], months: i32) -> Option<Decimal> {
    periods
        .iter()
        .find(|p| p.months == months)
        .and_then(|p| p.cost)
}

impl AltnameAddon {
    pub fn period_cost(&self, months: i32) -> Option<Decimal> {
        find_cost(&self.periods, months)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub plans: Vec<Plan>,
    /// Why some `<pricelist>` entries were not usable (reported at start).
    pub skipped: Vec<String>,
}

/// `pricelist.export` filters (SIM-16).
#[derive(Debug, Default)]
pub struct ExportFilter {
    pub itemtype: Option<String>,
    pub only_available: bool,
    pub project: Option<String>,
    pub pricelist: Option<String>,
}

impl Catalog {
    pub fn parse(xml: &str) -> Result<Catalog, String> {
        let root = dom::parse(xml)?;
        if root.name != "doc" {
            return Err(format!("catalogue root is <{}>, expected <doc>", root.name));
        }
        let mut catalog = Catalog::default();
        for (n, el) in root.children_named("pricelist").enumerate() {
            match plan(el, xml) {
                Ok(p) => catalog.plans.push(p),
                Err(e) => catalog.skipped.push(format!("pricelist #{}: {e}", n + 1)),
            }
        }
        Ok(catalog)
    }

    pub fn plan(&self, id: u64) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The export document: matching plans verbatim inside `<doc>`.
    pub fn export(&self, f: &ExportFilter) -> Vec<&Plan> {
        self.plans
            .iter()
            .filter(|p| f.itemtype.as_deref().is_none_or(|t| p.itemtype == t))
            .filter(|p| !f.only_available || p.available())
            .filter(|p| {
                f.project
                    .as_deref()
                    .is_none_or(|pr| p.project.map(|x| x.to_string()).as_deref() == Some(pr))
            })
            .filter(|p| {
                f.pricelist
                    .as_deref()
                    .is_none_or(|id| p.id.to_string() == id)
            })
            .collect()
    }
}

fn flag(el: &El, name: &str) -> bool {
    matches!(el.child_text(name), Some("on") | Some("yes"))
}

fn periods(price: Option<&El>) -> Result<Vec<Period>, String> {
    let mut out = Vec::new();
    let Some(price) = price else { return Ok(out) };
    for p in price.children_named("period") {
        if p.attr("type").is_some_and(|t| t != "month") {
            continue;
        }
        let months: i32 = p
            .attr("length")
            .ok_or("period without length")?
            .parse()
            .map_err(|_| "period length is not a number")?;
        let cost = match p.attr("cost").map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(Decimal::from_str(c).map_err(|_| format!("bad cost {c:?}"))?),
        };
        out.push(Period { months, cost });
    }
    Ok(out)
}

fn plan(el: &El, source: &str) -> Result<Plan, String> {
    let id: u64 = el
        .child_text("id")
        .ok_or("no <id>")?
        .parse()
        .map_err(|_| "<id> is not a number")?;
    let price = el.child("price");
    let altname = el
        .children_named("addon")
        .find(|a| {
            a.child_text("intname") == Some("altname")
                || a.child("addon_itemtype_info")
                    .and_then(|i| i.child_text("intname"))
                    == Some("altname")
        })
        .map(|a| -> Result<AltnameAddon, String> {
            Ok(AltnameAddon {
                id: a
                    .child_text("id")
                    .and_then(|v| v.parse().ok())
                    .ok_or("addon without numeric <id>")?,
                min: a
                    .child_text("addonmin")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                limit: a
                    .child_text("addonlimit")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                periods: periods(a.child("price"))?,
            })
        })
        .transpose()?;
    Ok(Plan {
        id,
        name: el.child_text("name").unwrap_or_default().to_string(),
        itemtype: el
            .child("itemtype_info")
            .and_then(|i| i.child_text("intname"))
            .unwrap_or_default()
            .to_string(),
        active: el.child("active").is_none() || flag(el, "active"),
        archived: flag(el, "archived"),
        hideinorder: flag(el, "hideinorder"),
        project: el.child_text("project").and_then(|v| v.parse().ok()),
        currency: price
            .and_then(|p| p.attr("currency"))
            .ok_or("no <price currency=…>")?
            .to_string(),
        periods: periods(price)?,
        altname,
        siteinfo: el.child_text("siteinfo").unwrap_or_default().to_string(),
        raw: source[el.span.0..el.span.1].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_parses_completely() {
        let c = Catalog::parse(DEFAULT_CATALOG).unwrap();
        assert!(c.skipped.is_empty(), "{:?}", c.skipped);
        for id in [3033, 1011, 1013, 2018, 55324, 55346, 55330, 55352] {
            assert!(c.plan(id).is_some(), "plan {id}");
        }
        let comodo = c.plan(3033).unwrap();
        assert_eq!(comodo.currency, "EUR");
        assert!(comodo.period_cost(12).is_some());
        assert!(c.plans.iter().any(|p| p.archived));
        assert!(c.plans.iter().any(|p| p.hideinorder));
        assert!(c.plans.iter().any(|p| p.altname.is_some()));
        assert!(c
            .plans
            .iter()
            .any(|p| p.periods.iter().any(|x| x.cost.is_none())));
        assert!(c.plans.iter().any(|p| p.currency == "RUB"));
        assert_eq!(comodo.site_flag("wildcard"), Some(false));
        assert_eq!(c.plan(3035).unwrap().site_flag("wildcard"), Some(true));
        assert!(comodo.raw.starts_with("<pricelist>") && comodo.raw.ends_with("</pricelist>"));
    }

    #[test]
    fn reference_fragment_is_skipped_not_fatal() {
        let c = Catalog::parse(
            "<doc><pricelist><price currency=\"EUR\"><period cost=\"913.9286\" type=\"month\" length=\"1\">monthly</period></price></pricelist></doc>",
        )
        .unwrap();
        assert!(c.plans.is_empty());
        assert_eq!(c.skipped.len(), 1);
    }
}
