//! The reports over a large ledger: 100,000 rows (orders, customers' and
//! automatic renewals, refunds, some pending, failed or estimated, over two
//! years and ten tariffs), then `pmsslreseller report sales` and `report
//! losses` as an admin runs them: whole process, from the books file to the
//! printed table. Goal: ≤ 1 s.
//!
//! `cargo bench --bench books` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::time::Instant;

use pmsslreseller::books::ledger::{self, key, CostSource, Entry, Kind, Owner, State};
use pmsslreseller::books::Books;
use support::billing::{TestDb, TestMgr};
use util::{print_table, run_module, Row, Samples};

const ROWS: u64 = 100_000;
const MODULE: u64 = 1;
const RUNS: usize = 7;

fn entry(n: u64) -> Entry {
    let item = n / 4 + 1;
    let (kind, owner) = match n % 10 {
        0..=3 => (Kind::Order, Owner::Billmanager),
        4..=7 => (Kind::Renewal, Owner::Billmanager),
        8 => (Kind::Renewal, Owner::Auto),
        _ => (Kind::Refund, Owner::Billmanager),
    };
    let state = match n % 50 {
        0 => State::Pending,
        1 => State::Failed,
        _ => State::Posted,
    };
    // Two years from 2025-01-01, one row every ~10 minutes.
    let at = 1_735_689_600 + (n as i64) * 631;
    let cost: rust_decimal::Decimal = rust_decimal::Decimal::new(2100 + (n % 10) as i64 * 150, 2);
    let cost = if kind == Kind::Refund { -cost } else { cost };
    Entry {
        key: key(MODULE, item, kind, owner, (n % 4) as u32 + 1),
        created_at: at,
        updated_at: at,
        posted_at: (state == State::Posted).then_some(at),
        module: MODULE,
        item,
        account: Some(item % 997),
        account_name: Some(format!("client{}", item % 997)),
        kind,
        owner,
        ro: Some(n),
        upstream_id: Some(item + 100_000),
        tariff: Some(format!("{}", 3030 + n % 10)),
        local_tariff: Some(n % 10 + 1),
        period: Some(12),
        cost: (!n.is_multiple_of(97)).then_some(cost),
        cost_currency: Some("EUR".into()),
        cost_source: CostSource::Catalog,
        sell: (owner == Owner::Billmanager && kind != Kind::Refund)
            .then(|| rust_decimal::Decimal::new(2990 + (n % 7) as i64 * 100, 0)),
        sell_currency: Some("RUB".into()),
        rate: Some(rust_decimal::Decimal::new(10125, 2)),
        state,
        estimated: n.is_multiple_of(13),
        note: None,
    }
}

fn main() {
    println!("machine: {}", util::machine());
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let started = Instant::now();
    let mut books = Books::open(&mgr.root()).expect("books");
    for n in 0..ROWS {
        ledger::upsert(&mut books, &entry(n)).expect("row");
    }
    drop(books);
    println!(
        "{ROWS} ledger rows written one upsert each in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let module = MODULE.to_string();
    let mut rows = Vec::new();
    let mut sales_median = None;
    for (what, args) in [
        (
            "report sales (table)",
            vec!["report", "sales", "--module", &module],
        ),
        (
            "report sales --csv",
            vec!["report", "sales", "--module", &module, "--csv"],
        ),
        (
            "report losses (table)",
            vec!["report", "losses", "--module", &module],
        ),
    ] {
        run_module(&mgr, &args, None);
        let mut s = Samples::default();
        for _ in 0..RUNS {
            s.push(run_module(&mgr, &args, None));
        }
        if sales_median.is_none() {
            sales_median = Some(s.median());
        }
        rows.push(Row {
            what: what.into(),
            samples: s,
            note: format!("{ROWS} ledger rows"),
        });
    }
    print_table("reports over the ledger (whole process)", &rows);
    let median = sales_median.unwrap_or_default();
    util::record(util::Figure {
        figure: "report sales over 100,000 ledger rows (whole process, median)".into(),
        ours: median.as_secs_f64() * 1e3,
        unit: "ms".into(),
        reference: None,
        reference_what: "-".into(),
        goal: "≤ 1000 ms".into(),
        met: Some(median.as_secs_f64() <= 1.0),
    });
}
