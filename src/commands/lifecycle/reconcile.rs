//! Finding an order whose answer was lost: the ONE reconciliation strategy
//! (A-U10, upstream-api.md §4).
//!
//! Nothing proves the upstream can filter lists by `remoteid`, shows it as a
//! list column, or shows it in the edit view; so the strategy uses what is
//! there and is strict about ambiguity:
//! 1. one `certificate` list call;
//! 2. rows whose `remoteid` column equals ours are exact matches;
//! 3. otherwise rows with our CN, our tariff (when the column is a number)
//!    and a creation date not before the intent's day (minus one day for time
//!    zones) are candidates; ids already linked to other local items are not;
//! 4. each candidate is viewed: a view `remoteid` equal to ours is exact, a
//!    different one excludes it, none keeps it as a weak match;
//! 5. one exact match, else one weak match, is adopted; more than one is
//!    ambiguous and goes to an admin; none means "not ordered".

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::intent::Intent;

/// The list columns reconciliation reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: u64,
    pub cn: String,
    pub pricelist: String,
    pub createdate: Option<String>,
    pub remoteid: Option<String>,
}

/// The view fields reconciliation reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewIdentity {
    pub cn: String,
    pub pricelist: String,
    pub remoteid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Exactly one upstream certificate is ours.
    One(u64),
    /// Nothing upstream matches: the order was not placed.
    Nothing,
    /// Several could be ours: an admin must decide.
    Ambiguous(Vec<u64>),
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('.'))
}

/// A tariff column that is a number must be ours; a label cannot be compared
/// (A-U8) and excludes nothing.
fn tariff_may_match(column: &str, ours: Option<u64>) -> bool {
    match (column.trim().parse::<u64>(), ours) {
        (Ok(n), Some(o)) => n == o,
        _ => true,
    }
}

fn created_in_window(createdate: Option<&str>, intent: &Intent) -> bool {
    let Some(text) = createdate else { return true };
    let day = text.trim().get(..10).unwrap_or("");
    let Ok(created) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
        return true;
    };
    match chrono::DateTime::from_timestamp(intent.sent_at, 0) {
        Some(sent) => created >= sent.date_naive() - chrono::Days::new(1),
        None => true,
    }
}

/// Run the strategy. `view` reads one upstream certificate.
pub fn find_order<E>(
    rows: &[ListRow],
    intent: &Intent,
    linked_elsewhere: &BTreeSet<u64>,
    mut view: impl FnMut(u64) -> Result<ViewIdentity, E>,
) -> Result<Found, E> {
    let ours = intent.remoteid.as_deref().unwrap_or("");
    let mut exact: Vec<u64> = rows
        .iter()
        .filter(|r| !ours.is_empty() && r.remoteid.as_deref().map(str::trim) == Some(ours))
        .map(|r| r.id)
        .collect();
    if exact.is_empty() {
        let cn = intent.cn.as_deref().unwrap_or("");
        let mut weak = Vec::new();
        for r in rows.iter().filter(|r| {
            !linked_elsewhere.contains(&r.id)
                && r.remoteid.is_none()
                && same_name(&r.cn, cn)
                && tariff_may_match(&r.pricelist, intent.pricelist)
                && created_in_window(r.createdate.as_deref(), intent)
        }) {
            let v = view(r.id)?;
            if !same_name(&v.cn, cn) || !tariff_may_match(&v.pricelist, intent.pricelist) {
                continue;
            }
            match v.remoteid.as_deref().map(str::trim) {
                Some(rid) if !ours.is_empty() && rid == ours => exact.push(r.id),
                Some(rid) if !rid.is_empty() => {}
                _ => weak.push(r.id),
            }
        }
        if exact.is_empty() {
            return Ok(match weak.len() {
                0 => Found::Nothing,
                1 => Found::One(weak[0]),
                _ => Found::Ambiguous(weak),
            });
        }
    }
    exact.sort_unstable();
    exact.dedup();
    Ok(match exact.len() {
        1 => Found::One(exact[0]),
        _ => Found::Ambiguous(exact),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::lifecycle::intent::IntentOp;

    // 2023-11-14 22:13:20 UTC
    const SENT: i64 = 1_700_000_000;

    fn intent() -> Intent {
        let mut i = Intent::new(IntentOp::Open, 1, 1, None, SENT);
        i.remoteid = Some("42".into());
        i.cn = Some("example.com".into());
        i.pricelist = Some(3033);
        i
    }

    fn row(id: u64, cn: &str, pl: &str, date: &str, rid: Option<&str>) -> ListRow {
        ListRow {
            id,
            cn: cn.into(),
            pricelist: pl.into(),
            createdate: Some(date.into()),
            remoteid: rid.map(Into::into),
        }
    }

    fn no_view(_: u64) -> Result<ViewIdentity, String> {
        Err("view must not be called".into())
    }

    #[test]
    fn remoteid_column_is_exact() {
        let rows = [
            row(1, "example.com", "3033", "2023-11-14", Some("41")),
            row(2, "example.com", "3033", "2023-11-14", Some("42")),
        ];
        assert_eq!(
            find_order(&rows, &intent(), &BTreeSet::new(), no_view).unwrap(),
            Found::One(2)
        );
    }

    #[test]
    fn view_remoteid_decides_between_candidates() {
        let rows = [
            row(5, "example.com", "3033", "2023-11-14", None),
            row(6, "Example.com", "3033", "2023-11-15", None),
            row(7, "other.com", "3033", "2023-11-15", None),
            row(8, "example.com", "1011", "2023-11-15", None),
            row(9, "example.com", "3033", "2023-10-01", None),
        ];
        let mut viewed = Vec::new();
        let found = find_order(&rows, &intent(), &BTreeSet::new(), |id| {
            viewed.push(id);
            Ok::<_, String>(ViewIdentity {
                cn: "example.com".into(),
                pricelist: "3033".into(),
                remoteid: Some(if id == 6 { "42" } else { "17" }.into()),
            })
        })
        .unwrap();
        assert_eq!(found, Found::One(6));
        assert_eq!(viewed, vec![5, 6], "only plausible rows are viewed");
    }

    #[test]
    fn weak_matches_without_remoteid() {
        let rows = [
            row(5, "example.com", "Comodo Positive SSL", "2023-11-14", None),
            row(6, "example.com", "3033", "2023-11-14", None),
        ];
        let anon = |_: u64| {
            Ok::<_, String>(ViewIdentity {
                cn: "example.com".into(),
                pricelist: "3033".into(),
                remoteid: None,
            })
        };
        assert_eq!(
            find_order(&rows, &intent(), &BTreeSet::new(), anon).unwrap(),
            Found::Ambiguous(vec![5, 6])
        );
        let linked: BTreeSet<u64> = [5].into();
        assert_eq!(
            find_order(&rows, &intent(), &linked, anon).unwrap(),
            Found::One(6)
        );
    }

    #[test]
    fn nothing_found() {
        assert_eq!(
            find_order(&[], &intent(), &BTreeSet::new(), no_view).unwrap(),
            Found::Nothing
        );
    }

    #[test]
    fn view_errors_propagate() {
        let rows = [row(5, "example.com", "3033", "2023-11-14", None)];
        let e = find_order(&rows, &intent(), &BTreeSet::new(), |_| {
            Err::<ViewIdentity, _>("boom".to_string())
        })
        .unwrap_err();
        assert_eq!(e, "boom");
    }
}
