//! Driving the order lookup from a job: list and view upstream, decide from
//! what the upstream shows about payment, adopt the order found, or say why
//! not.

use std::collections::BTreeSet;

use crate::commands::lifecycle::intent::{Intent, IntentOp, Phase};

use crate::commands::lifecycle::job::Job;
use crate::commands::lifecycle::status_map::ItemStatus;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::{ApiErrorClass, CertView, UpstreamError};
use crate::vocab::item_params::INTENT_PARAM;
use crate::vocab::item_params::UPSTREAM_ID_PARAM;

use super::order_match::{find_order, Found, ListRow, ViewIdentity};

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
                 check the upstream account, then set {UPSTREAM_ID_PARAM} or delete {INTENT_PARAM}",
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

#[cfg(test)]
mod tests {
    use super::*;

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
            validation: Default::default(),
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
}
