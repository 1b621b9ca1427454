//! The pure order lookup: which upstream certificate, if any, is the order an
//! intent records (the strategy in `reconcile`'s header). No I/O: the
//! caller hands in the list rows and a way to read one view.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::commands::lifecycle::intent::Intent;
use crate::commands::lifecycle::status_map::ItemStatus;

/// The list columns reconciliation reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: u64,
    pub cn: String,
    pub pricelist: String,
    pub createdate: Option<String>,
    pub remoteid: Option<String>,
    /// The row's status code, where the list shows one (`wire::item_status_code`).
    pub status: Option<ItemStatus>,
}

/// The view fields reconciliation reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewIdentity {
    pub cn: String,
    pub pricelist: String,
    pub remoteid: Option<String>,
    pub status: Option<ItemStatus>,
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

/// Could an upstream certificate with this CN, tariff (column as shown) and
/// creation date be the order `intent` records? Its CN, a tariff that is
/// ours where the column is a number, and a creation date not before the
/// intent's day minus one (time zones). The weak match of [`find_order`],
/// and what the service import leaves to a pending `open`.
pub fn may_be_order(intent: &Intent, cn: &str, pricelist: &str, createdate: Option<&str>) -> bool {
    same_name(cn, intent.cn.as_deref().unwrap_or(""))
        && tariff_may_match(pricelist, intent.pricelist)
        && created_in_window(createdate, intent)
}

/// Run the strategy. `view` reads one upstream certificate (`None`: the
/// upstream says it does not exist). A deleted certificate is never ours to
/// adopt: panels that list deleted services (gcore) show an earlier order of
/// the same item, dropped from the cart, with our remoteid.
pub fn find_order<E>(
    rows: &[ListRow],
    intent: &Intent,
    linked_elsewhere: &BTreeSet<u64>,
    mut view: impl FnMut(u64) -> Result<Option<ViewIdentity>, E>,
) -> Result<Found, E> {
    let ours = intent.remoteid.as_deref().unwrap_or("");
    let live = |r: &&ListRow| r.status != Some(ItemStatus::Deleted);
    let mut exact: Vec<u64> = rows
        .iter()
        .filter(live)
        .filter(|r| !ours.is_empty() && r.remoteid.as_deref().map(str::trim) == Some(ours))
        .map(|r| r.id)
        .collect();
    if exact.is_empty() {
        let cn = intent.cn.as_deref().unwrap_or("");
        let mut weak = Vec::new();
        for r in rows.iter().filter(live).filter(|r| {
            !linked_elsewhere.contains(&r.id)
                && r.remoteid.is_none()
                && may_be_order(intent, &r.cn, &r.pricelist, r.createdate.as_deref())
        }) {
            let Some(v) = view(r.id)? else { continue };
            if v.status == Some(ItemStatus::Deleted)
                || !same_name(&v.cn, cn)
                || !tariff_may_match(&v.pricelist, intent.pricelist)
            {
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
            status: None,
        }
    }

    fn no_view(_: u64) -> Result<Option<ViewIdentity>, String> {
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
            Ok::<_, String>(Some(ViewIdentity {
                cn: "example.com".into(),
                pricelist: "3033".into(),
                remoteid: Some(if id == 6 { "42" } else { "17" }.into()),
                status: None,
            }))
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
            Ok::<_, String>(Some(ViewIdentity {
                cn: "example.com".into(),
                pricelist: "3033".into(),
                remoteid: None,
                status: None,
            }))
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

    /// A deleted certificate is never ours to adopt, even with our remoteid
    /// (gcore lists deleted services: an earlier order of the same item,
    /// dropped from the cart), nor a candidate whose view is gone or deleted.
    #[test]
    fn deleted_certificates_are_never_adopted() {
        let mut deleted = row(7, "example.com", "3033", "2023-11-14", Some("42"));
        deleted.status = Some(ItemStatus::Deleted);
        assert_eq!(
            find_order(&[deleted.clone()], &intent(), &BTreeSet::new(), no_view).unwrap(),
            Found::Nothing
        );
        let mut live = row(8, "example.com", "3033", "2023-11-15", Some("42"));
        live.status = Some(ItemStatus::Processing);
        assert_eq!(
            find_order(&[deleted, live], &intent(), &BTreeSet::new(), no_view).unwrap(),
            Found::One(8)
        );
        let candidates = [
            row(5, "example.com", "3033", "2023-11-14", None),
            row(6, "example.com", "3033", "2023-11-14", None),
        ];
        let found = find_order(&candidates, &intent(), &BTreeSet::new(), |id| {
            Ok::<_, String>(match id {
                5 => None,
                _ => Some(ViewIdentity {
                    cn: "example.com".into(),
                    pricelist: "3033".into(),
                    remoteid: None,
                    status: Some(ItemStatus::Deleted),
                }),
            })
        })
        .unwrap();
        assert_eq!(found, Found::Nothing);
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
            Err::<Option<ViewIdentity>, _>("boom".to_string())
        })
        .unwrap_err();
        assert_eq!(e, "boom");
    }
}
