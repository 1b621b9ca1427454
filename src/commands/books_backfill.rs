//! Ledger rows that no money movement of the module writes: a certificate
//! brought in by the import (nothing paid by the module: cost 0, linked),
//! and `pmsslreseller books backfill --module N`, which gives every service
//! older than the ledger one row from what is known, marked `estimated`.
//!
//! Both are keyed at generation 0 (an intent's generations start at 1), so
//! running them again writes nothing new: at most one import row and one
//! estimated order row per service, ever.

use chrono::NaiveTime;
use rust_decimal::Decimal;

use crate::billing::Db;
use crate::books::ledger::{self, CostSource, Entry, Filter, Kind, Owner, State};
use crate::books::{Books, BooksError};
use crate::catalog::{cache, upstream_tariff_id};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::item_params::{ALTNAME_PARAM, CN_PARAM, IMPORTED_PARAM, UPSTREAM_ID_PARAM};
use crate::vocab::{ItemStatus, OrderPeriod};

use super::lifecycle::books::{expected_cost, sans_charged};
use super::module::open_module;

/// The note of an import row.
pub const IMPORT_NOTE: &str =
    "imported: bought upstream before the module linked it; it paid nothing";
/// The note of an estimated row.
pub const ESTIMATED_NOTE: &str =
    "estimated: the service is older than the ledger; cost from the cached catalog now (SAN slots included), sell from item.cost";

/// The local currency of sell prices: `[pricing] currency`, else the
/// upstream's (the same guess as `price_watch::local_prices`).
fn local_currency(config: &Config, upstream: Option<&str>) -> Option<String> {
    Some(config.pricing.currency.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .or_else(|| upstream.map(str::to_string))
}

/// The import row of service `item`, linked to upstream certificate
/// `upstream_id` of tariff `tariff` for `months`. Never fails the import:
/// a books failure is logged (`books backfill` writes the row later).
#[allow(clippy::too_many_arguments)]
pub fn record_import(
    root: &MgrRoot,
    config: &Config,
    db: &mut Db,
    module: u64,
    item: u64,
    upstream_id: u64,
    tariff: Option<u64>,
    months: Option<u32>,
    at: i64,
) {
    let local = db.item_books(item).unwrap_or_default();
    let e = Entry {
        key: ledger::key(module, item, Kind::Import, Owner::Billmanager, 0),
        created_at: at,
        updated_at: at,
        posted_at: Some(at),
        module,
        item,
        account: local.account,
        account_name: local.account_name,
        kind: Kind::Import,
        owner: Owner::Billmanager,
        ro: None,
        upstream_id: Some(upstream_id),
        tariff: tariff.map(|t| t.to_string()),
        local_tariff: None,
        period: months.map(i64::from),
        cost: Some(Decimal::ZERO),
        cost_currency: None,
        cost_source: CostSource::Answer,
        sell: local.sell,
        sell_currency: local_currency(config, None),
        rate: None,
        state: State::Posted,
        estimated: false,
        note: Some(IMPORT_NOTE.to_string()),
    };
    if let Err(e) = Books::open(root).and_then(|mut b| ledger::upsert(&mut b, &e).map(drop)) {
        log::error!(
            "import: the ledger row of service {item} (upstream {upstream_id}) could not be written: {e}; \
             `pmsslreseller books backfill --module {module}` writes it later"
        );
    }
}

/// What a backfill did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Rows written: (service, kind).
    pub written: Vec<(u64, Kind)>,
    /// Services that already had their order or import row.
    pub kept: usize,
    /// Services left out, each with why.
    pub skipped: Vec<String>,
}

fn books_error(e: BooksError) -> ModuleError {
    ModuleError::new(ErrorKind::Internal, e.to_string()).with_object("books")
}

/// Give every linked certificate service of `module` without an order or
/// import row one row: an imported one its import row, any other an
/// estimated order row (posted on its open date, cost from the cached
/// catalog now, sell `item.cost`). Idempotent.
pub fn backfill(root: &MgrRoot, config: &Config, module: u64) -> Result<Backfilled> {
    let mut m = open_module(root, config, module)?;
    let items = m.db.module_items(module)?;
    let params = m.db.module_item_params(
        module,
        &[UPSTREAM_ID_PARAM, IMPORTED_PARAM, CN_PARAM, ALTNAME_PARAM],
        &m.key,
    )?;
    let catalog = cache::load(root, module)?;
    let mut books = Books::open(root).map_err(books_error)?;
    let mut out = Backfilled::default();
    for s in &items.skipped {
        let who = s
            .item
            .map(|i| format!("item {i}"))
            .unwrap_or_else(|| "an item".into());
        out.skipped.push(format!("{who}: {}", s.error));
    }
    for (item, why) in &params.unreadable {
        out.skipped.push(format!("item {item}: {why}"));
    }
    let now = crate::clock::now_unix();
    for row in &items.items {
        let Some(p) = params.by_item.get(&row.id) else {
            continue;
        };
        let Some(upstream_id) = p
            .get(UPSTREAM_ID_PARAM)
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let known = ledger::rows(
            &books,
            &Filter {
                item: Some(row.id),
                ..Filter::default()
            },
        )
        .map_err(books_error)?;
        if known
            .iter()
            .any(|r| matches!(r.kind, Kind::Order | Kind::Import))
        {
            out.kept += 1;
            continue;
        }
        let tariff = upstream_tariff_id(&row.pricelist_intname).ok();
        let months = row.period.months();
        let opened = row
            .opendate
            .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp())
            .unwrap_or(now);
        if p.contains_key(IMPORTED_PARAM) {
            record_import(
                root,
                config,
                &mut m.db,
                module,
                row.id,
                upstream_id,
                tariff,
                months,
                opened,
            );
            out.written.push((row.id, Kind::Import));
            continue;
        }
        let terms = match (&catalog, tariff, months) {
            (Some(c), Some(t), Some(mo)) => c
                .order_terms_for(t, &row.pricelist_intname, OrderPeriod::Months(mo))
                .ok(),
            _ => None,
        };
        // SAN slots as the live rows count them: the order paid for them too.
        let sans = sans_charged(
            p.get(CN_PARAM).map_or("", String::as_str),
            p.get(ALTNAME_PARAM).map_or("", String::as_str),
        );
        let cost = terms
            .as_ref()
            .and_then(|t| expected_cost(t.cost, t.altname_cost, sans));
        let cost_currency = terms
            .as_ref()
            .map(|t| t.currency.trim().to_ascii_uppercase());
        let sell_currency = local_currency(config, cost_currency.as_deref());
        let rate = match (&cost_currency, &sell_currency) {
            (Some(c), Some(l)) if c != l => config.pricing.rates.get(c).copied(),
            _ => None,
        };
        let local = m.db.item_books(row.id).unwrap_or_default();
        let e = Entry {
            key: ledger::key(module, row.id, Kind::Order, Owner::Billmanager, 0),
            created_at: opened,
            updated_at: now,
            posted_at: Some(opened),
            module,
            item: row.id,
            account: local.account,
            account_name: local.account_name,
            kind: Kind::Order,
            owner: Owner::Billmanager,
            ro: None,
            upstream_id: Some(upstream_id),
            tariff: tariff.map(|t| t.to_string()),
            local_tariff: Some(row.pricelist),
            period: row.period.code(),
            cost,
            cost_currency,
            cost_source: if cost.is_some() {
                CostSource::Estimated
            } else {
                CostSource::Unknown
            },
            sell: local.sell,
            sell_currency,
            rate,
            state: State::Posted,
            estimated: true,
            note: Some(match ItemStatus::from_db(row.status) {
                ItemStatus::Deleted => format!("{ESTIMATED_NOTE}; the service is closed"),
                _ => ESTIMATED_NOTE.to_string(),
            }),
        };
        ledger::upsert(&mut books, &e).map_err(books_error)?;
        out.written.push((row.id, Kind::Order));
    }
    Ok(out)
}
