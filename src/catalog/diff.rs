//! What changed between the cached catalog and a fresh export: shown by
//! `catalog refresh`, and tells the admin whether BILLmanager must be
//! restarted to see the new templates.

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{period_label, Catalog, Period, Tariff};

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
/// file's text: read by [`super::cache::facts`] without the rest of the
/// model (add-ons, siteinfo, skipped entries, warnings), because reading the
/// whole old catalog cost as much as parsing the new export.
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
    #[serde(with = "super::flags_text")]
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

impl<'a> PeriodFacts<'a> {
    /// The compared fields of a parsed period, borrowed.
    pub fn of(p: &'a super::Period) -> PeriodFacts<'a> {
        PeriodFacts {
            currency: Cow::Borrowed(&p.currency),
            kind: Cow::Borrowed(&p.kind),
            length: p.length,
            cost: p.cost,
        }
    }
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
            periods: t.periods.iter().map(PeriodFacts::of).collect(),
        }
    }
}

/// The key a price is compared by: currency, period type, length.
type PriceKey<'k> = (&'k str, &'k str, i64);

/// The prices of one tariff by key, sorted; a key listed twice counts with
/// its last price.
fn keyed<'k>(
    prices: impl Iterator<Item = (PriceKey<'k>, Option<Decimal>)>,
) -> Vec<(PriceKey<'k>, Option<Decimal>)> {
    let mut all: Vec<_> = prices.collect();
    // Stable: equal keys keep their order, so the last one is the last.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(PriceKey<'k>, Option<Decimal>)> = Vec::with_capacity(all.len());
    for (key, cost) in all {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = cost,
            _ => out.push((key, cost)),
        }
    }
    out
}

/// The price changes of one tariff, in key order. Decimal equality is
/// numeric: 7.5 == 7.5000 is no change.
fn price_changes(id: u64, old: &[PeriodFacts<'_>], new: &[Period], out: &mut Vec<PriceChange>) {
    // Nearly always the upstream lists the same periods in the same order:
    // one pass, nothing built.
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
    let old = keyed(
        old.iter()
            .map(|p| ((&*p.currency, &*p.kind, p.length), p.cost)),
    );
    let new = keyed(
        new.iter()
            .map(|p| ((p.currency.as_str(), p.kind.as_str(), p.length), p.cost)),
    );
    let mut change = |key: PriceKey<'_>, old: Option<Decimal>, new: Option<Decimal>| {
        out.push(PriceChange {
            tariff: id,
            currency: key.0.to_string(),
            period: period_label(key.1, key.2),
            old,
            new,
        })
    };
    let (mut o, mut n) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (o.peek(), n.peek()) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                if a.1 != b.1 {
                    change(a.0, a.1, b.1);
                }
                o.next();
                n.next();
            }
            // A price no longer listed, or listed now.
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                change(a.0, a.1, None);
                o.next();
            }
            (_, Some(b)) => {
                change(b.0, None, b.1);
                n.next();
            }
            _ => break,
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

    /// The comparison this module made before the merge of sorted lists:
    /// a map per side, every key of either, in key order.
    fn reference(id: u64, old: &[Period], new: &[Period]) -> Vec<PriceChange> {
        use std::collections::{BTreeMap, BTreeSet};
        let map = |ps: &[Period]| -> BTreeMap<(String, String, i64), Option<Decimal>> {
            ps.iter()
                .map(|p| ((p.currency.clone(), p.kind.clone(), p.length), p.cost))
                .collect()
        };
        let (op, np) = (map(old), map(new));
        let keys: BTreeSet<_> = op.keys().chain(np.keys()).cloned().collect();
        let mut out = Vec::new();
        for key in keys {
            let (a, b) = (
                op.get(&key).copied().flatten(),
                np.get(&key).copied().flatten(),
            );
            if a != b || op.contains_key(&key) != np.contains_key(&key) {
                out.push(PriceChange {
                    tariff: id,
                    currency: key.0.clone(),
                    period: period_label(&key.1, key.2),
                    old: a,
                    new: b,
                });
            }
        }
        out
    }

    fn periods() -> impl proptest::strategy::Strategy<Value = Vec<Period>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (
                prop_oneof![Just("EUR"), Just("RUB")],
                prop_oneof![Just("month"), Just("day")],
                prop_oneof![Just(-100i64), Just(0), Just(12), Just(24)],
                prop_oneof![
                    Just(None),
                    Just(Some("1")),
                    Just(Some("1.00")),
                    Just(Some("2"))
                ],
            )
                .prop_map(|(currency, kind, length, cost)| Period {
                    currency: currency.into(),
                    kind: kind.into(),
                    length,
                    cost: cost.map(|c| c.parse().unwrap()),
                }),
            0..5,
        )
    }

    proptest::proptest! {
        #[test]
        fn price_changes_match_the_map_comparison(old in periods(), new in periods()) {
            let facts: Vec<PeriodFacts<'_>> = old.iter().map(PeriodFacts::of).collect();
            let mut got = Vec::new();
            price_changes(7, &facts, &new, &mut got);
            proptest::prop_assert_eq!(got, reference(7, &old, &new));
        }
    }

    /// What the refresh reads of the old cache gives the same diff as the
    /// whole cached catalog.
    #[test]
    fn the_cached_facts_diff_like_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::paths::MgrRoot::new(dir.path());
        let old = cat(
            r#"<pricelist><id>1</id><name>A &quot;q&quot;</name><name_ru>Ру</name_ru><price currency="EUR"><period cost="7.5000" length="12" type="month"/></price></pricelist>
               <pricelist><id>2</id><name>B</name><archived>on</archived></pricelist>
               <pricelist><id>4</id><name>D</name></pricelist>"#,
        );
        let new = cat(
            r#"<pricelist><id>1</id><name>A "q"</name><name_ru>Ру</name_ru><price currency="EUR"><period cost="8" length="12" type="month"/></price></pricelist>
               <pricelist><id>2</id><name>B Wildcard</name></pricelist>
               <pricelist><id>3</id><name>C</name></pricelist>"#,
        );
        crate::catalog::cache::save(&root, &old).unwrap();
        let text = crate::catalog::cache::read_text(&root, 1).unwrap().unwrap();
        let facts = crate::catalog::cache::facts(&root, 1, &text).unwrap();
        assert_eq!(facts.fetched_at, "t");
        let d = diff_facts(&facts.tariffs, &new.tariffs);
        assert_eq!(d, diff(Some(&old), &new));
        assert_eq!(
            (d.added.as_slice(), d.removed.as_slice()),
            (&[3][..], &[4][..])
        );
        assert_eq!(d.template_changed, vec![2]);
        assert_eq!(d.availability_changed, vec![2]);
        assert_eq!(d.price_changed.len(), 1);
        assert!(diff_facts(&facts.tariffs, &old.tariffs).is_empty());
    }
}
