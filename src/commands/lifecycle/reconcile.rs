//! Making the local item agree with the upstream, shared by every lifecycle
//! step (they share it through here and `job`, never by importing each
//! other):
//! - finding an order whose answer was lost: the ONE reconciliation strategy
//!   (A-U10, upstream-api.md §4), the pure [`find_order`] and
//!   [`settle_lost_order`] that drives it for a job;
//! - applying an upstream view to the local item ([`apply_view`], one pass
//!   [`sync_once`]): sync_item, open, prolong and the bulk sync.
//!
//! The order lookup:
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

use crate::billing::CertificateOrderData;
use crate::billing::Mgrctl;
use crate::config::OpenConvention;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{ApiErrorClass, CertView, Reissue, ReissueKind, UpstreamError};

use super::intent::{digest, Intent, IntentOp, Phase, INTENT_PARAM};
use super::job::{set_status, Job, SERVICE_STATUS_PARAM, UPSTREAM_ID_PARAM};
use super::renewal_watch;
use super::report::report_first_issue;
use super::status::{
    is_pending, local_status, map_upstream, ItemStatus, ServiceStatus, UpstreamState,
};
use super::term::{first_term_end, UPSTREAM_EXPIRY_PARAM};

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

// ---- Driving it from a job: look the order up upstream, adopt it. ----

/// Store the upstream id of an order (read back), then close its intent.
pub fn adopt(job: &mut Job, intent: Intent, upstream_id: u64) -> Result<()> {
    job.save_upstream_id(upstream_id)?;
    let mut done = intent.with_phase(Phase::Done);
    done.upstream_id = Some(upstream_id);
    job.save_intent(&done)
}

/// An order found upstream and adopted.
pub struct Adopted {
    pub upstream_id: u64,
    /// Its view, when the lookup read it (a candidate confirmed by its
    /// view): the caller's first sync applies it instead of reading again.
    pub view: Option<CertView>,
}

/// What the lookup of an order found ([`lookup_lost_order`]).
pub enum Lost {
    /// Found upstream and shown paid: adopted (id stored, intent done).
    Adopted(Box<Adopted>),
    /// Placed, not (shown) paid: waiting in the upstream cart as
    /// `upstream_id`, or not listed (`None`: on BILLmanager 6's new cart an
    /// unpaid order need not be a service yet). It exists: never ordered
    /// again. Recorded in the intent (`cart`).
    Unpaid {
        upstream_id: Option<u64>,
        evidence: Payment,
    },
    /// Certainly not ordered (never said of an order that went into a cart):
    /// the caller may order.
    NotOrdered,
}

/// Look up the order of an intent whose answer was lost, or that the
/// upstream put into its cart. Errors: still settling (retry later),
/// ambiguous (admin), another item's link unreadable.
pub fn lookup_lost_order(job: &mut Job, intent: &Intent) -> Result<Lost> {
    if intent.op != IntentOp::Open {
        return Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {} has an unfinished upstream {} (generation {}, sent {} UTC) but no upstream id; \
                 check the upstream account, then set {UPSTREAM_ID_PARAM} or delete pmss_intent",
                job.item_id,
                intent.op.name(),
                intent.generation,
                intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    let (found, rows, viewed) = lookup_order(job, intent)?;
    let found = match found {
        Found::One(upstream_id) => {
            let mut view = viewed.into_iter().find(|v| v.id == upstream_id);
            let row_status = rows
                .iter()
                .find(|r| r.id == upstream_id)
                .and_then(|r| r.status);
            let mut evidence = payment_evidence(row_status, view.as_ref());
            if evidence == Payment::Unknown && view.is_none() {
                // The list said nothing usable: the view may.
                let v = job.client()?.certificate_view(upstream_id)?;
                evidence = payment_evidence(row_status, Some(&v));
                view = Some(v);
            }
            match evidence {
                Payment::Gone => Found::Nothing,
                Payment::Paid => {
                    log::warn!(
                        "item {}: the order sent at {} UTC was found upstream as {upstream_id}{}; adopting it \
                         instead of ordering again",
                        job.item_id,
                        intent.sent_at_text,
                        if intent.cart.is_some() { ", paid now" } else { "" }
                    );
                    adopt(job, intent.clone(), upstream_id)?;
                    return Ok(Lost::Adopted(Box::new(Adopted { upstream_id, view })));
                }
                // A lost answer whose order shows no sign either way: it is
                // ours by remoteid (or the only candidate), as before any cart.
                Payment::Unknown if intent.cart.is_none() => {
                    log::warn!(
                        "item {}: the order sent at {} UTC was found upstream as {upstream_id} (its payment \
                         state is not shown); adopting it instead of ordering again",
                        job.item_id,
                        intent.sent_at_text
                    );
                    adopt(job, intent.clone(), upstream_id)?;
                    return Ok(Lost::Adopted(Box::new(Adopted { upstream_id, view })));
                }
                evidence => {
                    // Right after a lost answer a paid order may not show it
                    // yet: only a cart's, or one past the settle window, is
                    // recorded as waiting unpaid.
                    if intent.cart.is_some() || !job.still_settling(intent) {
                        record_cart(job, intent, Some(upstream_id));
                    }
                    return Ok(Lost::Unpaid {
                        upstream_id: Some(upstream_id),
                        evidence,
                    });
                }
            }
        }
        other => other,
    };
    match found {
        Found::One(_) => Err(ModuleError::internal("a found order was not decided")),
        Found::Ambiguous(ids) => Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: the answer to the order sent at {} UTC was lost and several upstream certificates {ids:?} \
                 could be it. Check them upstream, set item param {UPSTREAM_ID_PARAM} to the right id, \
                 delete any duplicate upstream, then restart the operation",
                job.item_id, intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id))),
        Found::Nothing if intent.cart.is_some() => Ok(Lost::Unpaid {
            upstream_id: None,
            evidence: Payment::Unknown,
        }),
        Found::Nothing if job.still_settling(intent) => Err(ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: the answer to the order sent at {} UTC was lost and the order is not visible upstream yet; \
                 the next run looks again and orders only after {}s without a trace",
                job.item_id, intent.sent_at_text, job.ctx.config.lifecycle.settle_secs
            ),
        )
        .with_object(crate::upstream::wire::order_func(
            job.ctx.config.order.function,
        ))),
        Found::Nothing => {
            log::warn!(
                "item {}: the order sent at {} UTC is not upstream after the settle window; ordering again",
                job.item_id,
                intent.sent_at_text
            );
            Ok(Lost::NotOrdered)
        }
    }
}

/// [`lookup_lost_order`] for an order to be finished: `Some` adopted, `None`
/// certainly not ordered (the caller may order); an order placed but not
/// paid is an error saying so ([`unpaid`]).
pub fn settle_lost_order(job: &mut Job, intent: &Intent) -> Result<Option<Adopted>> {
    match lookup_lost_order(job, intent)? {
        Lost::Adopted(found) => Ok(Some(*found)),
        Lost::NotOrdered => Ok(None),
        Lost::Unpaid {
            upstream_id,
            evidence,
        } => Err(unpaid(job, intent, upstream_id, evidence)),
    }
}

/// Remember in the intent (read back) that the order exists upstream but is
/// not paid, so no later run orders again. A failed write is only logged:
/// the intent still says "sent", and a rerun looks the order up again.
fn record_cart(job: &mut Job, intent: &Intent, upstream_id: Option<u64>) {
    if intent.cart.is_some() {
        return;
    }
    let mut placed = intent.clone();
    placed.cart = Some(match upstream_id {
        Some(id) => format!("found unpaid as certificate {id}"),
        None => "found unpaid".into(),
    });
    if let Err(e) = job.save_intent(&placed) {
        log::error!(
            "item {}: could not record that the order waits unpaid upstream: {e}",
            job.item_id
        );
    }
}

/// What the upstream shows about whether an order found there is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// Being processed, active or stopped, or its issuance has begun: paid.
    Paid,
    /// Status "ordered" and no issuance: placed, waiting in the cart.
    Unpaid,
    /// Deleted upstream: not an order to adopt.
    Gone,
    /// Nothing tells (no readable status).
    Unknown,
}

/// Payment evidence from a status code and the view's issuance state: only
/// what the upstream shows counts (BILLmanager's item statuses,
/// evidence-2026-12: 1 ordered, 2 active, 3 stopped, 4 deleted,
/// 5 processing; an unpaid order is "ordered" and no CA has seen it). The
/// view, read later than the list, wins over the list row.
pub fn payment_evidence(row_status: Option<ItemStatus>, view: Option<&CertView>) -> Payment {
    let issuing = view.and_then(|v| v.service_status).is_some_and(|s| s > 0);
    match view.and_then(|v| v.status).or(row_status) {
        Some(ItemStatus::Deleted) => Payment::Gone,
        Some(ItemStatus::Active | ItemStatus::Suspended | ItemStatus::Processing) => Payment::Paid,
        _ if issuing => Payment::Paid,
        Some(ItemStatus::Ordered) => Payment::Unpaid,
        _ => Payment::Unknown,
    }
}

/// The order exists upstream but is not (shown) paid: the error for an
/// operation that would finish it. Right after a lost answer the upstream
/// may still be processing a paid order, so an order not known to be a
/// cart's waits for the settle window (outcome unknown); then an admin is
/// asked.
pub fn unpaid(
    job: &Job,
    intent: &Intent,
    upstream_id: Option<u64>,
    evidence: Payment,
) -> ModuleError {
    let as_id = upstream_id
        .map(|id| format!(" as certificate {id}"))
        .unwrap_or_default();
    let settling = job.still_settling(intent);
    if intent.cart.is_none() && settling {
        return ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: the order sent at {} UTC is upstream{as_id} but not shown paid yet; \
                 the next run looks again (nothing is ordered again)",
                job.item_id, intent.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id));
    }
    let reference = intent
        .cart
        .clone()
        .unwrap_or_else(|| format!("found unpaid{as_id}"));
    let remoteid = intent.remoteid.as_deref().unwrap_or_default();
    let message = match (upstream_id, evidence) {
        (None, _) if !settling => format!(
            "item {}: the order placed at {} UTC went into the upstream cart unpaid ({reference}) and is not \
             listed upstream as a certificate (on BILLmanager 6's new cart an unpaid order may not be one \
             yet). Check the upstream cart of the module's account: if the order is there, pay it, then \
             restart this operation (the module finds it by remoteid {remoteid}); only if it is gone from \
             the cart too, delete item param {INTENT_PARAM} and restart to order anew. It is never ordered \
             again by itself",
            job.item_id, intent.sent_at_text
        ),
        _ => {
            let shown = match (evidence, upstream_id) {
                (Payment::Unpaid, _) => "its status is \"ordered\", not paid",
                (_, None) => "not listed yet",
                _ => "the upstream shows no sign that it is paid",
            };
            format!(
                "item {}: the order placed at {} UTC waits unpaid in the upstream cart{as_id} ({reference}; \
                 {shown}). The upstream did not pay it from the balance. Pay it in the upstream BILLmanager \
                 (the module's account, its cart), then restart this operation: the module finds it by \
                 remoteid {remoteid} and finishes it. Nothing is ordered again. If it is paid already and this \
                 stays, set item param {UPSTREAM_ID_PARAM} to its upstream id and restart; to drop it instead, \
                 delete it from the upstream cart and delete item param {INTENT_PARAM} here",
                job.item_id, intent.sent_at_text
            )
        }
    };
    ModuleError::new(ErrorKind::ManualRequired, message)
        .with_object(format!("item {}", job.item_id))
        .with_param("cart", reference)
}

/// Reconciliation inputs from the upstream: one list (every page), views on
/// demand; the rows and views are returned too, so none is read twice.
fn lookup_order(job: &mut Job, intent: &Intent) -> Result<(Found, Vec<ListRow>, Vec<CertView>)> {
    let linked = linked_upstream_ids(job)?;
    let client = job.client()?;
    let rows: Vec<ListRow> = client
        .certificate_list()?
        .into_iter()
        .map(|s| ListRow {
            id: s.id,
            cn: s.cn,
            pricelist: s.pricelist,
            createdate: s.createdate,
            remoteid: s.remoteid,
            status: s.status,
        })
        .collect();
    let mut viewed = Vec::new();
    let found = find_order(&rows, intent, &linked, |id| {
        match client.certificate_view(id) {
            Ok(v) => {
                let identity = ViewIdentity {
                    cn: v.cn.clone(),
                    pricelist: v.pricelist.clone(),
                    remoteid: v.remoteid.clone(),
                    status: v.status,
                };
                viewed.push(v);
                Ok(Some(identity))
            }
            // Listed a moment ago, gone now: not an order to adopt.
            Err(UpstreamError::Api(a)) if a.class() == ApiErrorClass::NotFound => Ok(None),
            Err(e) => Err(ModuleError::from(e)),
        }
    })?;
    Ok((found, rows, viewed))
}

/// Upstream ids already linked to other items of the same module: never
/// adopted for this one. An item whose link cannot be read (a param NULL or
/// not UTF-8) might own any of them, so nothing is adopted then: an error
/// naming it, before anything is sent.
fn linked_upstream_ids(job: &mut Job) -> Result<BTreeSet<u64>> {
    let Some(module) = job.item.processingmodule else {
        return Ok(BTreeSet::new());
    };
    let params = job
        .db
        .module_item_params(module, &[UPSTREAM_ID_PARAM], &job.key)?;
    if let Some((other, e)) = params
        .unreadable
        .iter()
        .find(|(other, _)| **other != job.item_id)
    {
        return Err(ModuleError::new(
            e.kind,
            format!(
                "item {}: its order is not looked up upstream while the upstream link of item {other} cannot \
                 be read ({}); nothing more is sent for it until that link can be read",
                job.item_id, e.message
            ),
        )
        .with_object(e.object.clone().unwrap_or_default()));
    }
    Ok(params
        .by_item
        .iter()
        .filter(|(other, _)| **other != job.item_id)
        .filter_map(|(_, p)| p.get(UPSTREAM_ID_PARAM)?.trim().parse().ok())
        .collect())
}

// ---- Applying an upstream view to the local item (sync_item, open, prolong, bulk sync). ----

/// What one sync pass changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The sub-status after the pass (None: upstream state not mappable).
    pub status: Option<ServiceStatus>,
    /// Local writes made.
    pub writes: u32,
}

/// One pass for an ordered item: read upstream, apply.
pub fn sync_once(job: &mut Job, upstream_id: u64) -> Result<SyncOutcome> {
    let view = job.client()?.certificate_view(upstream_id)?;
    apply_view(job, &view)
}

/// Apply an upstream view to the local item, writing only what differs:
/// the facts first ([`apply_facts`]), the sub-status last
/// ([`commit_status`]).
pub fn apply_view(job: &mut Job, view: &CertView) -> Result<SyncOutcome> {
    let applied = apply_facts(job, view)?;
    commit_status(job, applied)
}

/// What [`apply_facts`] wrote, and the sub-status still to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The sub-status the upstream state maps to (None: not mappable).
    pub target: Option<ServiceStatus>,
    /// Local writes made so far.
    pub writes: u32,
    /// The certificate is issued for the first time (not a reissue).
    pub first_issue: bool,
}

/// Everything an upstream view changes except the sub-status: the
/// certificate, the upstream's expiry, the paid term of a new service, the
/// "failed" mark. The sub-status is what the bulk sync reads to decide that
/// an item is up to date, so it is written only after every other fact is
/// stored ([`commit_status`]): a run killed in between leaves an item the
/// next round still reads and finishes.
pub fn apply_facts(job: &mut Job, view: &CertView) -> Result<Applied> {
    let target = map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    });
    let current = local_status(job.param(SERVICE_STATUS_PARAM));
    let mut applied = Applied {
        target,
        writes: 0,
        first_issue: false,
    };
    let Some(target) = target else {
        log::warn!(
            "item {}: upstream state service_status={:?} item_status={:?} is not mapped; local state kept",
            job.item_id,
            view.service_status,
            view.item_status
        );
        return Ok(applied);
    };
    let mgrctl: &Mgrctl = job.mgrctl;
    match target {
        ServiceStatus::Issued => {
            let crt = view.crt.as_deref().unwrap_or_default();
            let local_crt = job.db.certificate(job.item_id)?.and_then(|c| c.crt);
            // The first issuance, not a reissue: no certificate here yet, or
            // this very one already saved by a pass that stopped before its
            // report. A reissued certificate replaces a different one.
            let saved = same_pem(local_crt.as_deref(), crt);
            applied.first_issue = local_crt.as_deref().is_none_or(|l| l.trim().is_empty()) || saved;
            if !saved {
                mgrctl.certificate_save(job.item_id, crt)?;
                applied.writes += 1;
            }
            // The upstream's own expiry is recorded, never copied onto the
            // local paid term: on a per-certificate upstream
            // it is the certificate's end, long before the term the customer
            // paid for.
            if let Some(up) = view.expiredate {
                let shown = up.to_string();
                if job.param(UPSTREAM_EXPIRY_PARAM) != Some(shown.as_str()) {
                    renewal_watch::warn_if_unasked(job, view.id, up);
                    job.save_param(UPSTREAM_EXPIRY_PARAM, &shown)?;
                    applied.writes += 1;
                }
            }
            // The paid term of a new service: open date + ordered period.
            // A period that is not whole months (a trial, lifetime, daily:
            // `billing::period`) gives no paid term to compute: the local
            // expiry is left as BILLmanager keeps it.
            if job.item.expiredate.is_none() {
                match job.item.period.months() {
                    Some(months) => {
                        let opened = job.item.opendate.unwrap_or_else(crate::clock::today);
                        let end = first_term_end(opened, months);
                        mgrctl.setexpiredate(job.item_id, end)?;
                        job.item.expiredate = Some(end);
                        applied.writes += 1;
                    }
                    None => log::info!(
                        "item {}: its period is {}: no paid term is computed from it; the local expiry \
                         stays as BILLmanager keeps it",
                        job.item_id,
                        job.item.period
                    ),
                }
            }
        }
        // Reported once: a failure already stored is an unchanged fact.
        ServiceStatus::Failed if current != Some(ServiceStatus::Failed) => {
            mgrctl.certificate_failed(job.item_id)?;
            applied.writes += 1;
            log::warn!(
                "item {}: the upstream reports the certificate as failed: {}",
                job.item_id,
                view.status_msg.as_deref().unwrap_or("no reason given")
            );
        }
        // Already failed, or in work: only the sub-status (commit_status).
        _ => {}
    }
    Ok(applied)
}

/// The last write of a pass: the sub-status the upstream shows, and for a
/// first issuance its report (P-U3).
pub fn commit_status(job: &mut Job, applied: Applied) -> Result<SyncOutcome> {
    let Applied {
        target,
        mut writes,
        first_issue,
    } = applied;
    let Some(target) = target else {
        return Ok(SyncOutcome {
            status: None,
            writes,
        });
    };
    let current = local_status(job.param(SERVICE_STATUS_PARAM));
    if current != Some(target) {
        // Only the first issuance is reported (module-protocol.md §12.5:
        // `certificate.open` "on first issuance" in BM5 style), not each
        // reissue of the paid term. Before the sub-status: once that says
        // "issued" no pass reports again, so a report that failed (or a run
        // killed in between) would be lost for good; this way the next pass
        // reports it, at worst twice after a kill between the two.
        if target == ServiceStatus::Issued && first_issue {
            let convention: OpenConvention = job.ctx.config.lifecycle.open_convention;
            report_first_issue(job.mgrctl, job.item_id, convention)?;
        }
        set_status(job, target)?;
        writes += 1;
    }
    Ok(SyncOutcome {
        status: Some(target),
        writes,
    })
}

// ---- Recognising an applied reissue or renewal (reopen, prolong, auto). ----

/// The local sub-status an upstream view maps to.
pub fn upstream_state(view: &CertView) -> Option<ServiceStatus> {
    map_upstream(UpstreamState {
        service_status: view.service_status,
        item_status: view.status,
        has_crt: view.crt.as_deref().is_some_and(|c| !c.trim().is_empty()),
    })
}

/// The effect of a reissue: back in work, or another certificate.
pub fn reissue_visible(view: &CertView, intent: &Intent) -> bool {
    if upstream_state(view).is_some_and(is_pending) {
        return true;
    }
    match (&intent.before.crt_digest, view.crt.as_deref()) {
        (Some(before), Some(now)) => digest(now) != *before,
        _ => false,
    }
}

/// A renewal shows as the upstream's own expiry past the one the intent
/// recorded before sending.
pub fn renewal_visible(view: &CertView, intent: &Intent) -> bool {
    let before = intent
        .before
        .expiry
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    renewed(before, view.expiredate)
}

/// The upstream shows the effect of the intent's reissue or renewal.
pub fn applied_upstream(view: &CertView, intent: &Intent) -> bool {
    match intent.op {
        IntentOp::Reopen => reissue_visible(view, intent),
        IntentOp::Prolong => renewal_visible(view, intent),
        IntentOp::Open | IntentOp::Close => false,
    }
}

/// Before a BILLmanager operation decides: a reissue or renewal the module
/// started itself (its automatic action, or an admin's run without an
/// operation) and left "sent" is not this operation's to finish. It is
/// settled from what the upstream shows — adopted (done) when applied,
/// dropped (refused: nothing moved) when nothing shows after the settle
/// window — so the operation then decides afresh for itself: a customer's
/// reissue still sends the customer's CSR, a renewal is not mistaken for the
/// module's. While the outcome is still settling the operation waits (a
/// retryable error, never an admin's task). Returns the upstream view read,
/// if one was.
pub fn settle_module_owned(job: &mut Job, upstream_id: u64) -> Result<Option<CertView>> {
    if job.ro.is_none() {
        return Ok(None);
    }
    let Some(i) = job.stored_intent()? else {
        return Ok(None);
    };
    if i.phase != Phase::Sent
        || !i.module_owned()
        || !matches!(i.op, IntentOp::Reopen | IntentOp::Prolong)
    {
        return Ok(None);
    }
    let what = if i.automatic() {
        format!("automatic {}", i.op.name())
    } else {
        format!("{} without an operation", i.op.name())
    };
    let view = job.client()?.certificate_view(upstream_id)?;
    if applied_upstream(&view, &i) {
        log::warn!(
            "item {}: the {what} sent at {} UTC was applied upstream; settled as done before this operation",
            job.item_id,
            i.sent_at_text
        );
        job.save_intent(&i.with_phase(Phase::Done))?;
        return Ok(Some(view));
    }
    if job.still_settling(&i) {
        return Err(ModuleError::new(
            ErrorKind::UpstreamOutcomeUnknown,
            format!(
                "item {}: the {what} sent at {} UTC has an unknown outcome (its answer was lost); this operation \
                 waits for it and goes on by itself at its next run, after at most {}s",
                job.item_id, i.sent_at_text, job.ctx.config.lifecycle.settle_secs
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    if i.answered_ok {
        return Err(ModuleError::new(
            ErrorKind::ManualRequired,
            format!(
                "item {}: the upstream answered ok to the {what} sent at {} UTC, but its expiry did not move; \
                 check the upstream account (cart, payments), then delete item param {INTENT_PARAM} and restart \
                 this operation",
                job.item_id, i.sent_at_text
            ),
        )
        .with_object(format!("item {}", job.item_id)));
    }
    log::warn!(
        "item {}: the {what} sent at {} UTC shows no effect upstream after the settle window: nothing moved; \
         this operation goes on",
        job.item_id,
        i.sent_at_text
    );
    job.save_intent(&i.with_phase(Phase::Refused))?;
    Ok(Some(view))
}

/// The effect of a renewal: the upstream's paid term moved past the one
/// before (none before: any term counts).
pub fn renewed(before: Option<NaiveDate>, now: Option<NaiveDate>) -> bool {
    match (before, now) {
        (Some(b), Some(n)) => n > b,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// A reissue request of `kind` with the item's approver data.
pub fn reissue_request(data: &CertificateOrderData, id: u64, kind: ReissueKind) -> Reissue {
    Reissue {
        id,
        kind,
        approver_method: data
            .approver_method
            .as_ref()
            .map(|m| m.as_str().to_string()),
        approver_emails: data.approver_emails.clone(),
    }
}

fn same_pem(local: Option<&str>, upstream: &str) -> bool {
    let norm = |s: &str| -> String { s.split_whitespace().collect() };
    local.is_some_and(|l| norm(l) == norm(upstream))
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
    fn payment_evidence_from_status_and_issuance() {
        use crate::upstream::CertView;
        let view = |status: Option<ItemStatus>, service_status: Option<u8>| CertView {
            id: 1,
            cn: "x".into(),
            altnames: vec![],
            pricelist: "1".into(),
            period: None,
            createdate: None,
            expiredate: None,
            item_status: None,
            status,
            service_status,
            status_msg: None,
            approver_method: None,
            approver_emails: vec![],
            csr: None,
            crt: None,
            remoteid: None,
        };
        use ItemStatus::*;
        assert_eq!(payment_evidence(Some(Ordered), None), Payment::Unpaid);
        assert_eq!(payment_evidence(Some(Processing), None), Payment::Paid);
        assert_eq!(payment_evidence(Some(Deleted), None), Payment::Gone);
        assert_eq!(payment_evidence(None, None), Payment::Unknown);
        // The view, read later, wins over the list row.
        assert_eq!(
            payment_evidence(Some(Ordered), Some(&view(Some(Processing), None))),
            Payment::Paid
        );
        assert_eq!(
            payment_evidence(Some(Active), Some(&view(Some(Deleted), None))),
            Payment::Gone
        );
        // Issuance begun: paid, whatever the status says (or not).
        assert_eq!(
            payment_evidence(None, Some(&view(None, Some(3)))),
            Payment::Paid
        );
        assert_eq!(
            payment_evidence(None, Some(&view(Some(Ordered), Some(0)))),
            Payment::Unpaid
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
            Err::<Option<ViewIdentity>, _>("boom".to_string())
        })
        .unwrap_err();
        assert_eq!(e, "boom");
    }
}
