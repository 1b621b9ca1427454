//! The drift report behind `pmsslreseller reconcile --module N`: the local
//! and the upstream books of one processing module side by side. Local
//! services whose upstream certificate is gone, upstream certificates
//! ordered for one of our services but linked to none (orphans), status and
//! expiry mismatches, renewals the upstream made on its own, and renewals
//! (or orders) left unpaid in the upstream cart; each row says what to do.
//! `admin::reconcile` prints it.
//!
//! Read-only everywhere: the upstream is only listed and viewed, the local
//! database only read (no mgrctl call at all). The classification is the pure
//! [`classify`]; [`gather`] does the reading. The bulk sync reuses both on the list
//! it already fetched ([`Depth::ListOnly`]: no extra upstream call) to log a
//! one-line summary when the books disagree.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::billing::{CryptKey, Db};
use crate::commands::lifecycle::intent::{Intent, IntentOp, Phase};
use crate::commands::lifecycle::job::ITEMTYPE;
use crate::commands::lifecycle::renewal_watch::asked_for;
use crate::commands::lifecycle::status_map::{local_status, ServiceStatus};
use crate::commands::lifecycle::term::cert_end;
use crate::commands::module::{connect, open_module, OpenModule};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ModuleError, Result};
use crate::upstream::{
    is_possible_id, ApiErrorClass, CertSummary, CertView, Client, UpstreamError,
};
use crate::vocab::item_params::INTENT_PARAM;
use crate::vocab::item_params::{CERTIFICATE_PARAM, LEGACY_CERT_NOT_AFTER_PARAM};
use crate::vocab::item_params::{SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};
use crate::vocab::ItemStatus;

/// What kind of disagreement a row reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// A live local service whose upstream certificate is deleted or gone.
    Gone,
    /// An upstream certificate carrying our `remoteid`, linked to no service.
    Orphan,
    /// Active on one side, suspended or closed on the other.
    StatusMismatch,
    /// The local expiry is later than the upstream one.
    ExpiryMismatch,
    /// The upstream expiry moved past the local one with no local renewal.
    UpstreamRenewal,
    /// The upstream shows the certificate as ordered and unpaid (its cart).
    Unpaid,
}

impl DriftKind {
    pub fn label(self) -> &'static str {
        match self {
            DriftKind::Gone => "gone upstream",
            DriftKind::Orphan => "orphan",
            DriftKind::StatusMismatch => "status mismatch",
            DriftKind::ExpiryMismatch => "expiry mismatch",
            DriftKind::UpstreamRenewal => "renewed upstream",
            DriftKind::Unpaid => "unpaid upstream",
        }
    }
}

/// One disagreement, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftRow {
    pub kind: DriftKind,
    /// The local service, when there is one.
    pub item: Option<u64>,
    pub upstream_id: Option<u64>,
    pub cn: String,
    /// The local side in words.
    pub local: String,
    /// The upstream side in words.
    pub upstream: String,
    pub action: String,
}

/// A local certificate service of the module, as the report reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCert {
    pub item: u64,
    pub name: String,
    pub status: ItemStatus,
    pub expiredate: Option<NaiveDate>,
    pub upstream_id: Option<u64>,
    pub service_status: Option<ServiceStatus>,
    /// A local renewal is sent or running (its intent is not done).
    pub renewal_in_flight: bool,
    /// The current certificate's own end (item param).
    pub cert_not_after: Option<NaiveDate>,
    /// The last upstream renewal was the module's own automatic one.
    pub renewed_by_module: bool,
}

/// What the upstream shows of one certificate (a list row, or its view when
/// the list does not show it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpCert {
    pub id: u64,
    pub cn: String,
    pub status: Option<ItemStatus>,
    pub expiredate: Option<NaiveDate>,
    pub cost: Option<String>,
    pub remoteid: Option<String>,
}

impl From<&CertSummary> for UpCert {
    fn from(r: &CertSummary) -> UpCert {
        UpCert {
            id: r.id,
            cn: r.cn.clone(),
            status: r.status,
            expiredate: r.expiredate,
            cost: r.cost.clone(),
            remoteid: r.remoteid.clone(),
        }
    }
}

impl From<&CertView> for UpCert {
    fn from(v: &CertView) -> UpCert {
        UpCert {
            id: v.id,
            cn: v.cn.clone(),
            status: v.status,
            expiredate: v.expiredate,
            cost: None,
            remoteid: v.remoteid.clone(),
        }
    }
}

/// How hard to look: the admin's report views what the list leaves open;
/// the bulk sync's summary uses its list only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Full,
    ListOnly,
}

/// Everything [`classify`] needs, read once.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub module: u64,
    pub mirror_suspend: bool,
    pub locals: Vec<LocalCert>,
    /// Upstream certificates by id (deleted ones included when shown).
    pub upstream: BTreeMap<u64, UpCert>,
    /// Linked ids the upstream answered "not found" for.
    pub not_found: BTreeSet<u64>,
    /// What could not be read: local services (their row or params) and
    /// upstream certificates.
    pub errors: Vec<String>,
    /// Local services left out as unreadable: an upstream certificate ordered
    /// for one of them is theirs, not an orphan or someone else's.
    pub unreadable_items: BTreeSet<u64>,
}

/// The report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub module: u64,
    pub local_services: usize,
    pub upstream_certificates: usize,
    /// Upstream certificates not ordered by this module (import candidates).
    pub not_ours: usize,
    pub rows: Vec<DriftRow>,
    pub errors: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.rows.is_empty() && self.errors.is_empty()
    }

    /// Rows per kind, in words: `2 gone upstream, 1 orphan`.
    pub fn counts(&self) -> String {
        let mut by: BTreeMap<DriftKind, usize> = BTreeMap::new();
        for r in &self.rows {
            *by.entry(r.kind).or_default() += 1;
        }
        let mut parts: Vec<String> = by
            .iter()
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect();
        if !self.errors.is_empty() {
            parts.push(format!("{} unreadable", self.errors.len()));
        }
        parts.join(", ")
    }

    /// The one line `sync` logs and the report ends with.
    pub fn summary(&self) -> String {
        if self.is_clean() {
            format!(
                "reconcile module {}: clean: {} local services, {} upstream certificates agree",
                self.module, self.local_services, self.upstream_certificates
            )
        } else {
            format!(
                "reconcile module {}: drift: {}; run `pmsslreseller reconcile --module {}` for what to do",
                self.module,
                self.counts(),
                self.module
            )
        }
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "no expiry".into())
}

fn status_word(s: Option<ItemStatus>) -> &'static str {
    match s {
        Some(ItemStatus::Ordered) => "ordered (unpaid)",
        Some(ItemStatus::Active) => "active",
        Some(ItemStatus::Suspended) => "suspended",
        Some(ItemStatus::Deleted) => "deleted",
        Some(ItemStatus::Processing) => "processing",
        _ => "unknown status",
    }
}

fn local_words(l: &LocalCert) -> String {
    format!(
        "{}, until {}",
        status_word(Some(l.status)),
        date(l.expiredate)
    )
}

fn up_words(u: &UpCert) -> String {
    format!("{}, until {}", status_word(u.status), date(u.expiredate))
}

/// The drift between the two books. Pure.
pub fn classify(books: &Books) -> Report {
    let module = books.module;
    let sync_hint = format!("pmsslreseller sync --module {module}");
    let mut rows = Vec::new();
    let by_item: BTreeMap<u64, &LocalCert> = books.locals.iter().map(|l| (l.item, l)).collect();
    let linked: BTreeSet<u64> = books.locals.iter().filter_map(|l| l.upstream_id).collect();
    for l in &books.locals {
        let Some(uid) = l.upstream_id else { continue };
        let up = books.upstream.get(&uid);
        let row = |kind, upstream: String, action: String| DriftRow {
            kind,
            item: Some(l.item),
            upstream_id: Some(uid),
            cn: up.map(|u| u.cn.clone()).unwrap_or_else(|| l.name.clone()),
            local: local_words(l),
            upstream,
            action,
        };
        if l.status == ItemStatus::Deleted {
            if let Some(u) =
                up.filter(|u| !matches!(u.status, Some(ItemStatus::Deleted)) && u.status.is_some())
            {
                rows.push(row(
                    DriftKind::StatusMismatch,
                    up_words(u),
                    format!(
                        "closed locally but alive upstream: delete certificate {uid} upstream (its refund rules apply); check why the close operation of service {} did not",
                        l.item
                    ),
                ));
            }
            continue;
        }
        let gone = match up {
            None => books.not_found.contains(&uid),
            Some(u) => u.status == Some(ItemStatus::Deleted),
        };
        if gone {
            rows.push(row(
                DriftKind::Gone,
                up.map(up_words).unwrap_or_else(|| "not found".into()),
                format!(
                    "the upstream certificate is deleted: close service {} (or order a new certificate for the customer, then close this one)",
                    l.item
                ),
            ));
            continue;
        }
        let Some(u) = up else { continue };
        if u.status == Some(ItemStatus::Ordered) {
            let action = if l.expiredate.is_some() {
                format!(
                    "a renewal waits unpaid in the upstream cart: pay it there (then `{sync_hint}`) or delete it from the cart; the module renews with skipbasket=on, so someone renewed by hand"
                )
            } else {
                format!("the order is unpaid upstream: pay it in the upstream cart (then `{sync_hint}`) or delete it there and close service {}", l.item)
            };
            rows.push(row(DriftKind::Unpaid, up_words(u), action));
            continue;
        }
        match (u.status, l.status) {
            (Some(ItemStatus::Suspended), ItemStatus::Active) => rows.push(row(
                DriftKind::StatusMismatch,
                up_words(u),
                "suspended upstream, active locally: ask the upstream to resume it, or suspend the service locally".into(),
            )),
            (Some(ItemStatus::Active), ItemStatus::Suspended) if books.mirror_suspend => {
                rows.push(row(
                    DriftKind::StatusMismatch,
                    up_words(u),
                    "active upstream, suspended locally while mirror_suspend is on: run the suspend operation again, or resume the service".into(),
                ))
            }
            _ => {}
        }
        if let (Some(ue), Some(le)) = (u.expiredate, l.expiredate) {
            if ue > le && !l.renewal_in_flight && !l.renewed_by_module {
                rows.push(row(
                    DriftKind::UpstreamRenewal,
                    format!(
                        "{}; charged {}",
                        up_words(u),
                        u.cost.as_deref().unwrap_or("an amount the list does not show")
                    ),
                    "the upstream renewed it on its own: the next local prolong adopts it without paying \
                     again (the local paid term moves only then); switch auto-renewal off for it upstream"
                        .to_string(),
                ));
            } else if ue < le && !l.renewal_in_flight && !term_step_covers(l, ue) {
                rows.push(row(
                    DriftKind::ExpiryMismatch,
                    up_words(u),
                    format!(
                        "the local expiry is later than the upstream one: check service {}'s last renewal was paid upstream; renew it upstream or correct the local expiry",
                        l.item
                    ),
                ));
            }
        }
    }
    let mut not_ours = 0;
    for u in books.upstream.values() {
        if linked.contains(&u.id) || u.status == Some(ItemStatus::Deleted) {
            continue;
        }
        let remote_item = u
            .remoteid
            .as_deref()
            .and_then(|r| r.trim().parse::<u64>().ok());
        if remote_item.is_some_and(|i| books.unreadable_items.contains(&i)) {
            continue;
        }
        let owner = remote_item.and_then(|i| by_item.get(&i).copied());
        let Some(l) = owner else {
            not_ours += 1;
            continue;
        };
        let action = match l.upstream_id {
            // Unpaid: linking it would report an order nobody paid for.
            None if u.status == Some(ItemStatus::Ordered) => format!(
                "ordered for service {} but waiting unpaid in the upstream cart: pay it there, then restart the \
                 service's open operation (it finds and links it); or delete it from the upstream cart",
                l.item
            ),
            None => format!(
                "ordered for service {} but never linked (an answer lost past the settle window): if it is that service's certificate, set item param {UPSTREAM_ID_PARAM}={} on service {} and run `{sync_hint}`; otherwise delete it upstream",
                l.item, u.id, l.item
            ),
            Some(other) => format!(
                "a second certificate ordered for service {} (linked to {other}): delete {} upstream and ask the upstream for a refund",
                l.item, u.id
            ),
        };
        rows.push(DriftRow {
            kind: DriftKind::Orphan,
            item: Some(l.item),
            upstream_id: Some(u.id),
            cn: u.cn.clone(),
            local: match l.upstream_id {
                None => "not linked".into(),
                Some(o) => format!("linked to {o}"),
            },
            upstream: format!("{}; remoteid {}", up_words(u), l.item),
            action,
        });
    }
    rows.sort_by_key(|r| (r.kind, r.item, r.upstream_id));
    Report {
        module,
        local_services: books.locals.len(),
        upstream_certificates: books
            .upstream
            .values()
            .filter(|u| u.status != Some(ItemStatus::Deleted))
            .count(),
        not_ours,
        rows,
        errors: books.errors.clone(),
    }
}

/// An upstream whose own term is the current certificate (a
/// per-certificate upstream) ends before the local paid term by design; the
/// cron sync renews it before the certificate ends. Not drift while the
/// upstream's term still covers the current certificate.
fn term_step_covers(l: &LocalCert, upstream_expiry: NaiveDate) -> bool {
    l.cert_not_after.is_some_and(|c| upstream_expiry >= c)
}

/// A renewal of this item is sent or running: its expiry may lawfully lag.
fn renewal_in_flight(params: &BTreeMap<String, String>) -> bool {
    Intent::from_param(params.get(INTENT_PARAM).map(String::as_str))
        .ok()
        .flatten()
        .is_some_and(|i| i.op == IntentOp::Prolong && i.phase != Phase::Done)
}

/// The item params the books read, for the whole module in one go.
const BOOK_PARAMS: &[&str] = &[
    UPSTREAM_ID_PARAM,
    SERVICE_STATUS_PARAM,
    INTENT_PARAM,
    CERTIFICATE_PARAM,
    LEGACY_CERT_NOT_AFTER_PARAM,
];

/// The local certificate services of the module, every state included, and
/// what could not be read: a service whose row or params BILLmanager's
/// database holds unreadable values for is left out of the books (it costs
/// that row only) and named in the report's errors.
pub fn local_certs(db: &mut Db, key: &CryptKey, module: u64) -> Result<Locals> {
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let mut all_params = db.module_item_params(module, BOOK_PARAMS, key)?;
    let read = db.module_items(module)?;
    for skipped in &read.skipped {
        unreadable.push((skipped.item, skipped.error.message.clone()));
    }
    for item in read.items {
        if item.itemtype_intname != ITEMTYPE {
            continue;
        }
        if let Some(e) = all_params.unreadable.remove(&item.id) {
            unreadable.push((Some(item.id), e.message));
            continue;
        }
        let params = all_params.by_item.remove(&item.id).unwrap_or_default();
        out.push(LocalCert {
            item: item.id,
            name: item.name.clone(),
            status: item.item_status(),
            expiredate: item.expiredate,
            upstream_id: params
                .get(UPSTREAM_ID_PARAM)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|id| is_possible_id(*id)),
            service_status: local_status(params.get(SERVICE_STATUS_PARAM).map(String::as_str)),
            renewal_in_flight: renewal_in_flight(&params),
            renewed_by_module: Intent::from_param(params.get(INTENT_PARAM).map(String::as_str))
                .ok()
                .flatten()
                .is_some_and(|i| i.ro.is_none() && asked_for(&i)),
            cert_not_after: cert_end(&params),
        });
    }
    Ok(Locals {
        certs: out,
        unreadable,
    })
}

/// What [`local_certs`] read.
pub struct Locals {
    pub certs: Vec<LocalCert>,
    /// Services left out (the item when known, and why).
    pub unreadable: Vec<(Option<u64>, String)>,
}

fn is_not_found(e: &UpstreamError) -> bool {
    e.api()
        .is_some_and(|a| a.class() == ApiErrorClass::NotFound)
}

/// Read both books: the local services, the upstream list (given, or one
/// call), and with [`Depth::Full`] the views the list leaves open: linked
/// certificates the list does not show, and unlinked ones whose `remoteid`
/// the list does not show.
pub fn gather(
    db: &mut Db,
    key: &CryptKey,
    client: &Client,
    module: u64,
    mirror_suspend: bool,
    list: Option<&[CertSummary]>,
    depth: Depth,
) -> Result<Books> {
    let fetched;
    let list = match list {
        Some(l) => l,
        None => {
            fetched = client.certificate_list()?;
            &fetched
        }
    };
    let Locals { certs, unreadable } = local_certs(db, key, module)?;
    let mut books = Books {
        module,
        mirror_suspend,
        locals: certs,
        upstream: list.iter().map(|r| (r.id, UpCert::from(r))).collect(),
        unreadable_items: unreadable.iter().filter_map(|(i, _)| *i).collect(),
        errors: unreadable
            .into_iter()
            .map(|(_, e)| format!("local service: {e}"))
            .collect(),
        ..Books::default()
    };
    let linked: BTreeSet<u64> = books.locals.iter().filter_map(|l| l.upstream_id).collect();
    let missing: Vec<u64> = linked
        .iter()
        .filter(|id| !books.upstream.contains_key(id))
        .copied()
        .collect();
    if depth == Depth::ListOnly {
        // The list holds every certificate of the account (A-U11, no
        // pagination); one it leaves out is taken as gone.
        books.not_found.extend(missing);
        return Ok(books);
    }
    let unlinked_without_rid: Vec<u64> = books
        .upstream
        .values()
        .filter(|u| {
            !linked.contains(&u.id) && u.remoteid.is_none() && u.status != Some(ItemStatus::Deleted)
        })
        .map(|u| u.id)
        .collect();
    for id in missing.into_iter().chain(unlinked_without_rid) {
        match client.certificate_view(id) {
            Ok(v) => {
                books.upstream.insert(id, UpCert::from(&v));
            }
            Err(e) if is_not_found(&e) => {
                books.not_found.insert(id);
            }
            Err(e) => books.errors.push(format!(
                "upstream certificate {id}: {}",
                ModuleError::from(e)
            )),
        }
    }
    Ok(books)
}

/// The report for one module: read both books, classify.
pub fn report(root: &MgrRoot, config: &Config, module: u64) -> Result<Report> {
    let OpenModule {
        mut db,
        key,
        settings,
        ..
    } = open_module(root, config, module)?;
    let client = connect(&settings, config)?;
    let books = gather(
        &mut db,
        &key,
        &client,
        module,
        settings.mirror_suspend,
        None,
        Depth::Full,
    )?;
    Ok(classify(&books))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    fn local(item: u64, uid: Option<u64>, status: ItemStatus, exp: &str) -> LocalCert {
        LocalCert {
            item,
            name: format!("s{item}.example"),
            status,
            expiredate: d(exp),
            upstream_id: uid,
            service_status: Some(ServiceStatus::Issued),
            renewal_in_flight: false,
            cert_not_after: None,
            renewed_by_module: false,
        }
    }

    fn up(id: u64, status: u8, exp: &str, rid: Option<&str>) -> UpCert {
        UpCert {
            id,
            cn: format!("u{id}.example"),
            status: Some(ItemStatus::from_db(status.into())),
            expiredate: d(exp),
            cost: Some("21.00 EUR".into()),
            remoteid: rid.map(Into::into),
        }
    }

    fn books(locals: Vec<LocalCert>, ups: Vec<UpCert>) -> Books {
        Books {
            module: 1,
            locals,
            upstream: ups.into_iter().map(|u| (u.id, u)).collect(),
            ..Books::default()
        }
    }

    fn kinds(r: &Report) -> Vec<(DriftKind, Option<u64>)> {
        r.rows.iter().map(|r| (r.kind, r.item)).collect()
    }

    #[test]
    fn agreeing_books_are_clean() {
        let b = books(
            vec![
                local(1, Some(10), ItemStatus::Active, "2027-01-01"),
                local(2, None, ItemStatus::Active, ""),
            ],
            vec![
                up(10, 2, "2027-01-01", None),
                up(11, 2, "2027-05-05", Some("77")),
            ],
        );
        let r = classify(&b);
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.not_ours, 1);
        assert!(r.summary().contains("clean"), "{}", r.summary());
    }

    #[test]
    fn each_kind_is_found_and_says_what_to_do() {
        let mut renewing = local(6, Some(16), ItemStatus::Active, "2027-01-01");
        renewing.renewal_in_flight = true;
        let mut b = books(
            vec![
                local(1, Some(10), ItemStatus::Active, "2027-01-01"),
                local(2, Some(11), ItemStatus::Active, "2027-01-01"),
                local(3, Some(12), ItemStatus::Active, "2027-01-01"),
                local(4, Some(13), ItemStatus::Active, "2027-01-01"),
                local(5, None, ItemStatus::Active, ""),
                renewing,
                local(7, Some(17), ItemStatus::Active, "2027-06-01"),
                local(8, Some(18), ItemStatus::Deleted, "2027-01-01"),
            ],
            vec![
                up(11, 2, "2028-01-01", None),
                up(12, 1, "2027-01-01", None),
                up(13, 3, "2027-01-01", None),
                up(14, 2, "2027-01-01", Some("5")),
                up(16, 2, "2028-01-01", None),
                up(17, 2, "2027-01-01", None),
                up(18, 2, "2027-01-01", None),
            ],
        );
        b.not_found.insert(10);
        let r = classify(&b);
        assert_eq!(
            kinds(&r),
            vec![
                (DriftKind::Gone, Some(1)),
                (DriftKind::Orphan, Some(5)),
                (DriftKind::StatusMismatch, Some(4)),
                (DriftKind::StatusMismatch, Some(8)),
                (DriftKind::ExpiryMismatch, Some(7)),
                (DriftKind::UpstreamRenewal, Some(2)),
                (DriftKind::Unpaid, Some(3)),
            ]
        );
        let orphan = &r.rows[1];
        assert!(
            orphan.action.contains(&format!("{UPSTREAM_ID_PARAM}=14")),
            "{orphan:?}"
        );
        assert!(r.rows[5].upstream.contains("21.00 EUR"));
        assert!(r.rows.iter().all(|r| !r.action.is_empty()));
        assert!(!r.is_clean());
        assert!(r.summary().contains("1 orphan"), "{}", r.summary());
    }

    #[test]
    fn a_per_certificate_upstream_term_is_not_drift_while_it_covers_the_certificate() {
        // Paid locally until 2028-12-02; the upstream sells one certificate at a time.
        let mut covered = local(1, Some(10), ItemStatus::Active, "2028-12-02");
        covered.cert_not_after = d("2027-06-20");
        let mut short = local(2, Some(11), ItemStatus::Active, "2028-12-02");
        short.cert_not_after = d("2027-06-20");
        let b = books(
            vec![covered, short],
            vec![up(10, 2, "2027-06-20", None), up(11, 2, "2027-05-01", None)],
        );
        assert_eq!(
            kinds(&classify(&b)),
            vec![(DriftKind::ExpiryMismatch, Some(2))]
        );
    }

    #[test]
    fn suspended_locally_is_drift_only_when_mirrored() {
        let mut b = books(
            vec![local(1, Some(10), ItemStatus::Suspended, "2027-01-01")],
            vec![up(10, 2, "2027-01-01", None)],
        );
        assert!(classify(&b).is_clean());
        b.mirror_suspend = true;
        assert_eq!(
            kinds(&classify(&b)),
            vec![(DriftKind::StatusMismatch, Some(1))]
        );
    }

    #[test]
    fn a_second_order_for_a_linked_service_is_an_orphan() {
        let b = books(
            vec![local(1, Some(10), ItemStatus::Active, "2027-01-01")],
            vec![
                up(10, 2, "2027-01-01", Some("1")),
                up(11, 2, "2027-01-01", Some("1")),
            ],
        );
        let r = classify(&b);
        assert_eq!(kinds(&r), vec![(DriftKind::Orphan, Some(1))]);
        assert!(r.rows[0].action.contains("second certificate"));
    }
}
