//! The work behind `pmsslreseller report sales|due|losses`: `sales` and
//! `losses` read only the books (`books::report` computes them); `due`
//! reads the module's services from BILLmanager's database, the planner's
//! next action each keeps (`pmss_next_action`, written by the sync) and the
//! cached catalog's costs. `admin::report` prints the result.

use chrono::{Days, NaiveDate};

use crate::billing::{CryptKey, Db};
use crate::books::ledger::{self, Filter};
use crate::books::report::{self, DueKind, DueRow, LossRow, SalesRow, Sum, Window};
use crate::books::Books;
use crate::catalog::{cache, upstream_tariff_id, Catalog, TEMPLATE_PREFIX};
use crate::commands::lifecycle::term::{parse_next_action, Action};
use crate::commands::module::open_module_db;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::item_params::NEXT_ACTION_PARAM;
use crate::vocab::ItemStatus;

fn books_error(e: crate::books::BooksError) -> ModuleError {
    ModuleError::new(ErrorKind::Config, e.to_string())
}

/// The ledger rows of `module` (every state: the report decides what
/// counts).
fn module_rows(root: &MgrRoot, module: u64) -> Result<Vec<ledger::Entry>> {
    let books = Books::open(root).map_err(books_error)?;
    ledger::rows(
        &books,
        &Filter {
            module: Some(module),
            ..Default::default()
        },
    )
    .map_err(books_error)
}

/// `report sales`.
pub fn sales(root: &MgrRoot, module: u64, window: Window) -> Result<Vec<SalesRow>> {
    Ok(report::sales(&module_rows(root, module)?, window))
}

/// `report losses`: the losing services, and those whose cost is unknown.
pub fn losses(root: &MgrRoot, module: u64, window: Window) -> Result<(Vec<LossRow>, Vec<u64>)> {
    Ok(report::losses(&module_rows(root, module)?, window))
}

/// The upstream tariff a local tariff sells, as far as the report can tell
/// without asking anyone: its internal name `ssl_<id>`, else its external
/// id (lifecycle/tariff.rs has the full rule, with the import wizard's
/// names).
fn upstream_tariff(db: &mut Db, pricelist: u64, intname: &str) -> Option<u64> {
    if intname.trim().starts_with(TEMPLATE_PREFIX) {
        return upstream_tariff_id(intname).ok();
    }
    let (_, external) = db.pricelist_link(pricelist).ok()?;
    external?.trim().parse().ok()
}

fn cost_of(catalog: Option<&Catalog>, tariff: Option<u64>, months: Option<u32>) -> (Sum, String) {
    let found = catalog.zip(tariff).zip(months).and_then(|((c, t), m)| {
        let p = c.tariff(t)?.sold_period(m)?;
        Some((p.cost?, p.currency.clone()))
    });
    match found {
        Some((cost, currency)) => (Sum::from(Some(cost)), currency),
        None => (Sum::from(None), String::new()),
    }
}

/// `report due --days N`: what falls due from today to `days` ahead, by day.
pub fn due(root: &MgrRoot, config: &Config, module: u64, days: u32) -> Result<Vec<DueRow>> {
    let mut db = open_module_db(root, config, module)?;
    let key = CryptKey::load(root)?;
    let today = crate::clock::today();
    let until = today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(today);
    let catalog = cache::load(root, module).ok().flatten();
    let items = db.module_items(module)?;
    for s in &items.skipped {
        log::warn!(
            "report due: a service of module {module} left out: {}",
            s.error
        );
    }
    let params = db.module_item_params(module, &[NEXT_ACTION_PARAM], &key)?;
    let within = |d: NaiveDate| d >= today && d <= until;
    let mut out = Vec::new();
    for item in items
        .items
        .iter()
        .filter(|i| i.item_status() == ItemStatus::Active)
    {
        let tariff = upstream_tariff(&mut db, item.pricelist, &item.pricelist_intname);
        let months = item.period.months();
        let tariff_text = tariff
            .map(|t| t.to_string())
            .unwrap_or_else(|| item.pricelist_intname.clone());
        let (cost, currency) = cost_of(catalog.as_ref(), tariff, months);
        if let Some(end) = item.expiredate.filter(|d| within(*d)) {
            out.push(DueRow {
                date: end,
                item: item.id,
                name: item.name.clone(),
                kind: DueKind::CustomerRenewal,
                tariff: tariff_text.clone(),
                months,
                cost,
                currency: currency.clone(),
            });
        }
        let planned = params
            .by_item
            .get(&item.id)
            .and_then(|p| p.get(NEXT_ACTION_PARAM))
            .and_then(|t| parse_next_action(t));
        if let Some((action, on)) = planned {
            let date = on.unwrap_or(today);
            if !within(date) && on.is_some() {
                continue;
            }
            let (kind, cost) = match action {
                Some(Action::Reissue) => (DueKind::AutoReissue, Sum::zero()),
                Some(Action::Renew) => (DueKind::AutoRenewal, cost),
                None => (DueKind::Undecided, Sum::from(None)),
            };
            out.push(DueRow {
                date,
                item: item.id,
                name: item.name.clone(),
                kind,
                tariff: tariff_text,
                months,
                cost,
                currency,
            });
        }
    }
    out.sort_by_key(|r| (r.date, r.item, r.kind));
    Ok(out)
}
