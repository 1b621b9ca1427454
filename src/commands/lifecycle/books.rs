//! The ledger row of each money movement (books/ledger.rs), written from
//! the movement's intent (intent.rs) wherever the intent is saved
//! (job.rs `save_intent`), so the at-most-once rules of the money call make
//! the ledger at-most-once too: a row's key is the intent's (module, item,
//! kind, owner, generation), and a rerun, a killed run or a parallel run of
//! the same movement writes the same row.
//!
//! What a movement is in the books ([`movement`]):
//! - an order (`open`): `pending` when sent, `posted` once the upstream
//!   id is stored on the item (the proof the order finished) or the lookup
//!   adopted the order as paid, `failed` on a definite refusal or an order
//!   left unpaid in the upstream cart when the service closed;
//! - a renewal (`prolong`, BILLmanager's, or the module's automatic one):
//!   `pending` when sent, `posted` once the upstream's term moved
//!   (`Applied`/`Done`), `failed` on a definite refusal; BILLmanager's
//!   renewal whose term the automatic one already bought costs 0;
//! - a reissue and a delete move no money the module knows of: the
//!   simulator charges nothing for a reissue, and no source says the
//!   upstream refunds a deleted certificate (upstream-api.md SIM-13 is the
//!   simulator's own guess), so neither gets a row.
//!
//! A ledger failure (disk full, a locked file) never fails the operation and
//! never repeats a money call: it is logged at error, and the next run of
//! the item writes the row from the intent still on the item
//! ([`record_current`]), marked as written late.

use rust_decimal::Decimal;

use crate::books::ledger::{self, CostSource, Entry, Kind, Owner, State};
use crate::books::{Books, BooksError};
use crate::vocab::item_params::{ALTNAME_PARAM, CN_PARAM};
use crate::vocab::{OrderPeriod, Period};

use super::intent::{now_unix, Intent, IntentOp, Phase};
use super::job::Job;
use super::tariff::{cached_terms, upstream_tariff};

/// The note of a row written by a later run from the intent.
pub const LATE_NOTE: &str =
    "written late from the intent: the books could not be written when the money moved";

/// The note of BILLmanager's renewal the automatic renewal had paid.
fn paid_by_auto_note(generation: u32) -> String {
    format!("paid upstream by the module's automatic renewal (generation {generation}): cost 0")
}

/// One movement of upstream money as the books see an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    pub kind: Kind,
    pub owner: Owner,
    pub state: State,
}

/// What the books make of `intent`: the movement's kind, owner and state,
/// or `None` when no money moves (a reissue, a delete). `on_item`: the
/// upstream id is stored on the item.
pub fn movement(intent: &Intent, on_item: bool) -> Option<Movement> {
    let owner = if intent.automatic() {
        Owner::Auto
    } else {
        Owner::Billmanager
    };
    let state = match intent.op {
        IntentOp::Open => match intent.phase {
            Phase::Refused => State::Failed,
            // Closed while the order waited unpaid in the upstream cart:
            // the order is over and nothing was paid (close.rs).
            Phase::Done if intent.cart.is_some() && !on_item => State::Failed,
            Phase::Applied | Phase::Done => State::Posted,
            // The stored id is the proof the order finished (job.rs
            // `Job::intent`), unless it went through the cart: then only
            // the adoption (shown paid) posts it.
            Phase::Sent if on_item && intent.cart.is_none() => State::Posted,
            Phase::Sent => State::Pending,
        },
        IntentOp::Prolong => match intent.phase {
            Phase::Sent => State::Pending,
            Phase::Refused => State::Failed,
            Phase::Applied | Phase::Done => State::Posted,
        },
        IntentOp::Reopen | IntentOp::Close => return None,
    };
    let kind = match intent.op {
        IntentOp::Open => Kind::Order,
        _ => Kind::Renewal,
    };
    Some(Movement { kind, owner, state })
}

/// Write the row of `intent` just saved. Never fails: a books failure is
/// logged and left to the next run.
pub fn record(job: &mut Job, intent: &Intent) {
    write(job, intent, false);
}

/// Write the row of the intent stored on the item now, as a later run sees
/// it: a missing row (the books failed when the money moved, or the intent
/// is older than the books) is written and marked late; a row behind the
/// intent is moved forward. Never fails.
pub fn record_current(job: &mut Job) {
    match job.stored_intent() {
        Ok(Some(intent)) => write(job, &intent, true),
        Ok(None) => {}
        // The unreadable intent stops the run elsewhere with its own error.
        Err(_) => {}
    }
}

fn write(job: &mut Job, intent: &Intent, late: bool) {
    let on_item = matches!(job.upstream_id(), Ok(Some(_)));
    let Some(m) = movement(intent, on_item) else {
        return;
    };
    if let Err(e) = try_write(job, intent, m, late) {
        log::error!(
            "item {}: the ledger row of the {} of generation {} ({}) could not be written: {e}; the operation \
             goes on, and the next run of the item writes the row from its intent",
            job.item_id,
            m.kind.as_str(),
            intent.generation,
            m.state.as_str()
        );
    }
}

thread_local! {
    /// The books this thread has open: the bulk sync looks at thousands of
    /// items per run on a few threads, and one open per item (a file open
    /// and its pragmas) would cost more than the row.
    static OPEN: std::cell::RefCell<Option<Books>> = const { std::cell::RefCell::new(None) };
}

/// After a books failure this process leaves the books alone for a while:
/// a locked file would otherwise hold up every later write of the run by
/// the busy timeout. The rows skipped are written by the next run of each
/// item ([`record_current`]).
const BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

static FAILED_AT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// `f` on this thread's open books of `root`, opened on first use; after a
/// failure the file is opened afresh next time (it may have been replaced),
/// once [`BACKOFF`] has passed.
fn with_books<T>(
    root: &crate::paths::MgrRoot,
    f: impl FnOnce(&mut Books) -> Result<T, BooksError>,
) -> Result<T, BooksError> {
    let failed_at = *FAILED_AT.lock().unwrap_or_else(|p| p.into_inner());
    if failed_at.is_some_and(|t| t.elapsed() < BACKOFF) {
        return Err(BooksError {
            path: root.state_dir().join(crate::books::store::FILE_NAME),
            what: format!(
                "not tried: it failed less than {}s ago in this process",
                BACKOFF.as_secs()
            ),
        });
    }
    let result = with_open_books(root, f);
    if result.is_err() {
        *FAILED_AT.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
    }
    result
}

fn with_open_books<T>(
    root: &crate::paths::MgrRoot,
    f: impl FnOnce(&mut Books) -> Result<T, BooksError>,
) -> Result<T, BooksError> {
    OPEN.with(|cell| {
        let mut slot = cell.borrow_mut();
        let path = root.state_dir().join(crate::books::store::FILE_NAME);
        if slot.as_ref().is_some_and(|b| b.path() != path) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(Books::open(root)?);
        }
        let result = match slot.as_mut() {
            Some(books) => f(books),
            None => Err(BooksError {
                path,
                what: "not open".into(),
            }),
        };
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

/// The first generation above every ledger row of the item (none: 1), for a
/// movement that starts without an intent on the item (job.rs `decide`).
/// `None` when the books cannot be read: the intent rule decides alone.
pub fn first_free_generation(job: &mut Job) -> Option<u32> {
    let (module, item) = (job.settings.id, job.item_id);
    let root = job.ctx.root.clone();
    match with_books(&root, |books| ledger::max_generation(books, module, item)) {
        Ok(max) => Some(max.map_or(1, |g| g.saturating_add(1))),
        Err(e) => {
            log::warn!("item {item}: the ledger's generations could not be read: {e}");
            None
        }
    }
}

fn try_write(job: &mut Job, intent: &Intent, m: Movement, late: bool) -> Result<(), BooksError> {
    let root = job.ctx.root.clone();
    with_books(&root, |books| write_row(job, books, intent, m, late))
}

fn write_row(
    job: &mut Job,
    books: &mut Books,
    intent: &Intent,
    m: Movement,
    late: bool,
) -> Result<(), BooksError> {
    let Movement { kind, owner, state } = m;
    let module = job.settings.id;
    let key = ledger::key(module, job.item_id, kind, owner, intent.generation);
    let now = now_unix();
    let upstream_id = intent
        .upstream_id
        .or_else(|| job.upstream_id().ok().flatten());
    let known = ledger::get(books, &key)?;
    if let Some(row) = known {
        if row.state == state || row.state == State::Posted {
            return Ok(());
        }
        // Only the state, the time and what was not known move forward.
        let mut e = row;
        e.updated_at = now;
        e.posted_at = None;
        e.state = state;
        e.upstream_id = e.upstream_id.or(upstream_id);
        e.note = None;
        ledger::upsert(books, &e)?;
        return Ok(());
    }
    if late && kind == Kind::Order {
        // The order of a service older than the ledger already has its row
        // from `books backfill` or the import (generation 0,
        // books_backfill.rs): the intent left on the item is that same
        // order, not a second one.
        for k in [Kind::Order, Kind::Import] {
            let gen0 = ledger::key(module, job.item_id, k, Owner::Billmanager, 0);
            if ledger::get(books, &gen0)?.is_some() {
                return Ok(());
            }
        }
    }
    let mut e = new_entry(job, intent, &key, m, now);
    e.upstream_id = upstream_id;
    if late {
        // The money moved around the send, not now.
        e.created_at = intent.sent_at;
        e.updated_at = now;
        e.posted_at = (state == State::Posted).then_some(intent.sent_at);
        e.note = Some(match e.note.take() {
            Some(n) => format!("{n}; {LATE_NOTE}"),
            None => LATE_NOTE.to_string(),
        });
        log::warn!(
            "item {}: the ledger had no row of the {} of generation {}: written now from the intent ({})",
            job.item_id,
            kind.as_str(),
            intent.generation,
            state.as_str()
        );
    }
    ledger::upsert(books, &e)?;
    Ok(())
}

/// The SANs the upstream charges for on this item (its `cn` and `altname`
/// params).
fn san_count(job: &Job) -> u64 {
    sans_charged(
        job.param(CN_PARAM).unwrap_or_default(),
        job.param(ALTNAME_PARAM).unwrap_or_default(),
    )
}

/// The SANs the upstream charges for: the names of an `altname` param other
/// than the CN, each once. UNCONFIRMED (upstream-api.md SIM-10): each SAN is
/// charged at the add-on's price for the period (catalog
/// `AltnameAddon::period_cost`).
pub fn sans_charged(cn: &str, altname: &str) -> u64 {
    let cn = cn.trim().to_ascii_lowercase();
    let names: std::collections::BTreeSet<String> = altname
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty() && *n != cn)
        .collect();
    names.len() as u64
}

/// The expected upstream cost of a period with `sans` SAN slots: the base
/// price plus each slot at the add-on's price. Without a SAN price for the
/// period the cost is not known (a base price alone would show a false
/// overcharge later); an absurd catalog price is an unknown cost, not a
/// panic.
pub fn expected_cost(base: Decimal, altname_each: Option<Decimal>, sans: u64) -> Option<Decimal> {
    match (sans, altname_each) {
        (0, _) => Some(base),
        (n, Some(each)) => each
            .checked_mul(Decimal::from(n))
            .and_then(|slots| base.checked_add(slots)),
        (_, None) => None,
    }
}

/// A new row: the expected upstream cost from the cached catalog now, the
/// customer's price and account from BILLmanager's database, the rate of
/// `[pricing]`. Whatever cannot be read is left empty, never an error.
fn new_entry(job: &mut Job, intent: &Intent, key: &str, m: Movement, now: i64) -> Entry {
    let Movement { kind, owner, state } = m;
    let period = intent.period.or_else(|| job.item.period.code());
    let tariff = match intent.pricelist {
        Some(t) => Some(t),
        None => upstream_tariff(job).ok(),
    };
    let order_period = match period.map(Period::from_db) {
        Some(Period::Months(m)) => Some(OrderPeriod::Months(m)),
        Some(Period::Trial) => Some(OrderPeriod::Trial),
        _ => None,
    };
    let terms = match (tariff, order_period) {
        (Some(t), Some(p)) => cached_terms(job, t, p).ok().flatten(),
        _ => None,
    };
    let sans = san_count(job);
    let (mut cost, mut cost_source, cost_currency) = match &terms {
        Some(t) => (
            expected_cost(t.cost, t.altname_cost, sans),
            CostSource::Catalog,
            Some(t.currency.trim().to_ascii_uppercase()),
        ),
        None => (None, CostSource::Unknown, None),
    };
    let mut note = None;
    if let Some(g) = intent.paid_by_auto {
        cost = Some(Decimal::ZERO);
        cost_source = CostSource::Answer;
        note = Some(paid_by_auto_note(g));
    }
    let local = match job.db.item_books(job.item_id) {
        Ok(b) => b,
        Err(e) => {
            log::warn!(
                "item {}: the customer and price of the ledger row could not be read: {e}",
                job.item_id
            );
            Default::default()
        }
    };
    let pricing = &job.ctx.config.pricing;
    let local_currency = Some(pricing.currency.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .or_else(|| cost_currency.clone());
    let rate = match (&cost_currency, &local_currency) {
        (Some(c), Some(l)) if c != l => pricing.rates.get(c).copied(),
        _ => None,
    };
    // The module's own automatic renewal is nobody's sale: the reseller
    // pays it.
    let (sell, sell_currency) = match owner {
        Owner::Auto => (None, None),
        Owner::Billmanager => (local.sell, local_currency),
    };
    Entry {
        key: key.to_string(),
        created_at: now,
        updated_at: now,
        posted_at: None,
        module: job.settings.id,
        item: job.item_id,
        account: local.account,
        account_name: local.account_name,
        kind,
        owner,
        ro: intent.ro,
        upstream_id: None,
        tariff: tariff.map(|t| t.to_string()),
        local_tariff: Some(job.item.pricelist),
        period,
        cost,
        cost_currency,
        cost_source,
        sell,
        sell_currency,
        rate,
        state,
        estimated: false,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(op: IntentOp, phase: Phase) -> Intent {
        Intent::new(op, 2, 1, Some(7), 1_700_000_000).with_phase(phase)
    }

    #[test]
    fn what_each_intent_is_in_the_books() {
        use IntentOp::*;
        use State::*;
        let m = |i: &Intent, on_item| movement(i, on_item).map(|m| (m.kind, m.owner, m.state));
        assert_eq!(
            m(&intent(Open, Phase::Sent), false),
            Some((Kind::Order, Owner::Billmanager, Pending))
        );
        assert_eq!(
            m(&intent(Open, Phase::Sent), true),
            Some((Kind::Order, Owner::Billmanager, Posted))
        );
        assert_eq!(m(&intent(Open, Phase::Refused), false).unwrap().2, Failed);
        let mut cart = intent(Open, Phase::Sent);
        cart.cart = Some("billorder.id 9".into());
        assert_eq!(m(&cart, true).unwrap().2, Pending, "paid only when shown");
        assert_eq!(
            m(&cart.clone().with_phase(Phase::Done), true).unwrap().2,
            Posted
        );
        assert_eq!(
            m(&cart.with_phase(Phase::Done), false).unwrap().2,
            Failed,
            "closed unpaid"
        );
        assert_eq!(m(&intent(Prolong, Phase::Sent), true).unwrap().2, Pending);
        assert_eq!(m(&intent(Prolong, Phase::Applied), true).unwrap().2, Posted);
        assert_eq!(m(&intent(Prolong, Phase::Refused), true).unwrap().2, Failed);
        let mut auto = Intent::new(Prolong, 3, 1, None, 0);
        auto.auto = true;
        assert_eq!(m(&auto, true), Some((Kind::Renewal, Owner::Auto, Pending)));
        assert_eq!(m(&intent(Reopen, Phase::Done), true), None);
        assert_eq!(m(&intent(Close, Phase::Done), true), None);
    }
}
