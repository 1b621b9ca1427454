//! What changed between the cached catalog and a fresh export: shown by
//! `catalog refresh`, and tells the admin whether BILLmanager must be
//! restarted to see the new templates.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Catalog, Tariff};

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

fn prices(t: &Tariff) -> BTreeMap<(String, String, i64), Option<Decimal>> {
    t.periods
        .iter()
        .map(|p| ((p.currency.clone(), p.kind.clone(), p.length), p.cost))
        .collect()
}

fn label(kind: &str, length: i64) -> String {
    super::Period {
        currency: String::new(),
        kind: kind.to_string(),
        length,
        cost: None,
    }
    .label()
}

/// Differences from `old` to `new`. Without an old cache everything is new.
pub fn diff(old: Option<&Catalog>, new: &Catalog) -> CatalogDiff {
    let mut d = CatalogDiff::default();
    let old_by_id: BTreeMap<u64, &Tariff> = old
        .map(|c| c.tariffs.iter().map(|t| (t.id, t)).collect())
        .unwrap_or_default();
    let new_by_id: BTreeMap<u64, &Tariff> = new.tariffs.iter().map(|t| (t.id, t)).collect();
    for (id, n) in &new_by_id {
        let Some(o) = old_by_id.get(id) else {
            d.added.push(*id);
            continue;
        };
        if o.name != n.name
            || o.name_ru != n.name_ru
            || o.name_en != n.name_en
            || o.flags != n.flags
            || o.validation != n.validation
        {
            d.template_changed.push(*id);
        }
        if o.available != n.available {
            d.availability_changed.push(*id);
        }
        let (op, np) = (prices(o), prices(n));
        let keys: std::collections::BTreeSet<_> = op.keys().chain(np.keys()).cloned().collect();
        for key in keys {
            let (a, b) = (
                op.get(&key).copied().flatten(),
                np.get(&key).copied().flatten(),
            );
            // Decimal equality is numeric: 7.5 == 7.5000 is no change.
            if a != b || op.contains_key(&key) != np.contains_key(&key) {
                d.price_changed.push(PriceChange {
                    tariff: *id,
                    currency: key.0.clone(),
                    period: label(&key.1, key.2),
                    old: a,
                    new: b,
                });
            }
        }
    }
    d.removed = old_by_id
        .keys()
        .filter(|id| !new_by_id.contains_key(id))
        .copied()
        .collect();
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
