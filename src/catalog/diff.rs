//! What changed between the cached catalog and a fresh export: shown by
//! `catalog refresh`, and tells the admin whether BILLmanager must be
//! restarted to see the new templates.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Catalog, Period, Tariff};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceChange {
    pub tariff: u64,
    pub currency: String,
    /// Period label ("12 mo", "trial").
    pub period: String,
    pub old: Option<Decimal>,
    pub new: Option<Decimal>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    pub added: Vec<u64>,
    pub removed: Vec<u64>,
    pub price_changed: Vec<PriceChange>,
    /// Name, validation or flags changed: the template BILLmanager shows differs.
    pub template_changed: Vec<u64>,
    /// Availability changed (archived, hidden, re-enabled).
    pub availability_changed: Vec<u64>,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        *self == CatalogDiff::default()
    }

    /// BILLmanager caches `features` at start: new, removed or changed
    /// templates need a restart.
    pub fn needs_restart(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty() || !self.template_changed.is_empty()
    }
}

/// What the diff compares of one cached tariff, borrowed from the cache
/// file's text: read by [`super::cache::load_facts`] without the rest of the
/// model (add-ons, siteinfo, skipped entries, warnings), because reading the
/// whole old catalog cost as much as parsing the new export (issue 15).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TariffFacts<'a> {
    pub id: u64,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub name_ru: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub name_en: Option<Cow<'a, str>>,
    pub validation: super::Validation,
    pub flags: super::TemplateFlags,
    pub available: bool,
    #[serde(borrow)]
    pub periods: Vec<PeriodFacts<'a>>,
}

/// What the diff compares of one cached period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PeriodFacts<'a> {
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    pub length: i64,
    pub cost: Option<Decimal>,
}

/// `Option<Cow<str>>` borrowed where the text has no escape: serde borrows
/// only a `Cow` field itself, never one inside an `Option`.
fn optional_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'de>>::deserialize(d)?.map(|t| t.0))
}

impl<'a> TariffFacts<'a> {
    /// The facts of a tariff of the model (borrowing its text).
    pub fn of(t: &'a Tariff) -> TariffFacts<'a> {
        TariffFacts {
            id: t.id,
            name: Cow::Borrowed(&t.name),
            name_ru: t.name_ru.as_deref().map(Cow::Borrowed),
            name_en: t.name_en.as_deref().map(Cow::Borrowed),
            validation: t.validation,
            flags: t.flags,
            available: t.available,
            periods: t
                .periods
                .iter()
                .map(|p| PeriodFacts {
                    currency: Cow::Borrowed(&p.currency),
                    kind: Cow::Borrowed(&p.kind),
                    length: p.length,
                    cost: p.cost,
                })
                .collect(),
        }
    }
}

/// The key a price is compared by: currency, period type, length.
type PriceKey<'k> = (&'k str, &'k str, i64);

fn label(kind: &str, length: i64) -> String {
    super::Period {
        currency: String::new(),
        kind: kind.to_string(),
        length,
        cost: None,
    }
    .label()
}

/// The price changes of one tariff, in key order. Decimal equality is
/// numeric: 7.5 == 7.5000 is no change.
fn price_changes(id: u64, old: &[PeriodFacts<'_>], new: &[Period], out: &mut Vec<PriceChange>) {
    // Nearly always the upstream lists the same periods in the same order:
    // one pass, no map.
    let same = old.len() == new.len()
        && old.iter().zip(new).all(|(o, n)| {
            o.currency == n.currency.as_str()
                && o.kind == n.kind.as_str()
                && o.length == n.length
                && o.cost == n.cost
        });
    if same {
        return;
    }
    // Otherwise by key; a key listed twice counts with its last price.
    let op: BTreeMap<PriceKey<'_>, Option<Decimal>> = old
        .iter()
        .map(|p| ((&*p.currency, &*p.kind, p.length), p.cost))
        .collect();
    let np: BTreeMap<PriceKey<'_>, Option<Decimal>> = new
        .iter()
        .map(|p| ((p.currency.as_str(), p.kind.as_str(), p.length), p.cost))
        .collect();
    let keys: BTreeSet<PriceKey<'_>> = op.keys().chain(np.keys()).copied().collect();
    for key in keys {
        let (a, b) = (op.get(&key).copied(), np.get(&key).copied());
        if a != b {
            out.push(PriceChange {
                tariff: id,
                currency: key.0.to_string(),
                period: label(key.1, key.2),
                old: a.flatten(),
                new: b.flatten(),
            });
        }
    }
}

/// Differences from `old` to `new`. Without an old cache everything is new.
pub fn diff(old: Option<&Catalog>, new: &Catalog) -> CatalogDiff {
    match old {
        Some(old) => {
            let facts: Vec<TariffFacts<'_>> = old.tariffs.iter().map(TariffFacts::of).collect();
            diff_facts(&facts, &new.tariffs)
        }
        None => CatalogDiff {
            added: new.tariffs.iter().map(|t| t.id).collect(),
            ..CatalogDiff::default()
        },
    }
}

/// Differences from the cached `old` tariffs to the `new` ones (sorted by
/// id, ids unique, as a [`Catalog`] holds them): one merge of the two lists.
pub fn diff_facts(old: &[TariffFacts<'_>], new: &[Tariff]) -> CatalogDiff {
    let mut d = CatalogDiff::default();
    // A cache is written sorted; one edited by hand might not be.
    let mut sorted: Vec<&TariffFacts<'_>> = old.iter().collect();
    if !sorted.windows(2).all(|w| w[0].id < w[1].id) {
        sorted.sort_by_key(|t| t.id);
        sorted.dedup_by_key(|t| t.id);
    }
    let mut old = sorted.into_iter().peekable();
    for n in new {
        while let Some(o) = old.next_if(|o| o.id < n.id) {
            d.removed.push(o.id);
        }
        let Some(o) = old.next_if(|o| o.id == n.id) else {
            d.added.push(n.id);
            continue;
        };
        if o.name != n.name.as_str()
            || o.name_ru.as_deref() != n.name_ru.as_deref()
            || o.name_en.as_deref() != n.name_en.as_deref()
            || o.flags != n.flags
            || o.validation != n.validation
        {
            d.template_changed.push(n.id);
        }
        if o.available != n.available {
            d.availability_changed.push(n.id);
        }
        price_changes(n.id, &o.periods, &n.periods, &mut d.price_changed);
    }
    d.removed.extend(old.map(|o| o.id));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_export;

    fn cat(body: &str) -> Catalog {
        parse_export(&format!("<doc>{body}</doc>"), 1, "t").unwrap()
    }

    #[test]
    fn added_removed_changed() {
        let old = cat(
            r#"<pricelist><id>1</id><name>A</name><price currency="EUR"><period cost="7.5000" length="12" type="month"/></price></pricelist>
                        <pricelist><id>2</id><name>B</name></pricelist>"#,
        );
        let new = cat(
            r#"<pricelist><id>1</id><name>A</name><price currency="EUR"><period cost="7.50" length="12" type="month"/><period cost="14" length="24" type="month"/></price></pricelist>
                        <pricelist><id>3</id><name>C Wildcard</name></pricelist>"#,
        );
        let d = diff(Some(&old), &new);
        assert_eq!(d.added, vec![3]);
        assert_eq!(d.removed, vec![2]);
        assert_eq!(d.price_changed.len(), 1, "{d:?}");
        assert_eq!(d.price_changed[0].period, "24 mo");
        assert_eq!(d.price_changed[0].old, None);
        assert!(d.needs_restart());
        assert!(diff(Some(&new), &new).is_empty());
        assert!(!diff(None, &new).removed.iter().any(|_| true));
    }

    #[test]
    fn flag_change_needs_restart_price_change_does_not() {
        let old = cat(
            r#"<pricelist><id>1</id><name>A</name><price currency="EUR"><period cost="1" length="12" type="month"/></price></pricelist>"#,
        );
        let new = cat(
            r#"<pricelist><id>1</id><name>A</name><price currency="EUR"><period cost="2" length="12" type="month"/></price></pricelist>"#,
        );
        let d = diff(Some(&old), &new);
        assert!(!d.needs_restart());
        assert_eq!(d.price_changed.len(), 1);
        let new2 = cat(
            r#"<pricelist><id>1</id><name>A</name><siteinfo>wildcard=yes</siteinfo><price currency="EUR"><period cost="1" length="12" type="month"/></price></pricelist>"#,
        );
        assert_eq!(diff(Some(&old), &new2).template_changed, vec![1]);
    }
}
