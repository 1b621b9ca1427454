//! The ledger of upstream money (`var/pmsslreseller/books.sqlite`): the real
//! `pmsslreseller` binary against a real MariaDB (through the `billmgr-sim
//! mgrctl` stand-in) and `billmgr-sim upstream`.
//!
//! - an order refused upstream is a failed row; BILLmanager's rerun of the
//!   same operation pays and makes the same row posted, with the expected
//!   cost (cached catalog), the customer's price, account and the rate;
//! - a renewal is a row of its own; reruns of finished operations add none;
//! - a ledger that cannot be written fails nothing and repeats no money
//!   call; the next run of the item writes the row from its intent, marked
//!   as written late;
//! - `books backfill` gives services older than the ledger one estimated
//!   row each, once.
//!
//! The adversarial runs (8 parallel, kills, mgrctl faults, upstream faults,
//! BILLmanager's renewal meeting the automatic one) check the ledger in
//! tests/money.rs and tests/owners.rs, beside the money itself.

mod support;

use mysql::prelude::Queryable;
use rust_decimal::Decimal;

use pmsslreseller::books::ledger::{self, CostSource, Entry, Filter, Kind, Owner, State};
use pmsslreseller::books::Books;
use pmsslreseller::commands::lifecycle::books::LATE_NOTE;
use support::billing::{certificate_params, run_module, run_operation, EXAMPLE_CSR};
use support::sim::SimAccount;
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "B00ks-Upstr3am!pw";
/// Comodo Positive SSL of the simulator's catalog: 12 months cost 21 EUR.
const TARIFF: u64 = 3033;
/// The customer's price of the 12 months, RUB (`item.cost`).
const SELL: &str = "2500";
const CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 60\n\n\
[pricing]\ncurrency = \"RUB\"\n\n[pricing.rates]\nEUR = \"100\"\n";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn world(balance: &str) -> Base {
    let w = WorldBuilder::new()
        .account(USER, PASSWORD, balance)
        .config(CONFIG)
        .tariffs(&[TARIFF])
        .build();
    let m = w.module().to_string();
    let (code, out, err) = run_module(&w.mgr, &["catalog", "refresh", "--module", &m], None);
    assert_eq!(code, 0, "catalog refresh: {out}{err}");
    w
}

fn new_item(w: &Base) -> u64 {
    let params: Vec<(&str, &str)> = certificate_params()
        .into_iter()
        .filter(|(k, _)| *k != "altname")
        .collect();
    let item =
        w.db.seed_certificate_item(w.module(), w.tariff(), 12, &params, Some(EXAMPLE_CSR));
    w.db.conn()
        .exec_drop("UPDATE item SET cost = ? WHERE id = ?", (SELL, item))
        .unwrap();
    item
}

fn books_path(w: &Base) -> std::path::PathBuf {
    w.mgr.path().join("var/pmsslreseller/books.sqlite")
}

fn rows(w: &Base, item: u64) -> Vec<Entry> {
    let books = Books::open_path(&books_path(w)).unwrap();
    ledger::rows(
        &books,
        &Filter {
            item: Some(item),
            ..Filter::default()
        },
    )
    .unwrap()
}

fn run(w: &Base, command: &str, item: u64, ro: u64) -> (i32, String) {
    w.db.bump_trycount(ro);
    let (code, out, _) = run_operation(&w.mgr, command, item, ro, &[]);
    (code, out)
}

/// BILLmanager's `open` of `item` on a new running operation, paid.
fn open_paid(w: &Base, item: u64) {
    let ro = w.db.create_running_operation(item, "open");
    let (code, out) = run(w, "open", item, ro);
    assert_eq!(code, 0, "{out}");
}

/// The cron's `sync_item` of `item`.
fn sync_item(w: &Base, item: u64) -> (i32, String, String) {
    run_module(
        &w.mgr,
        &["--command", "sync_item", "--item", &item.to_string()],
        None,
    )
}

/// No books at all, as on a module older than the ledger.
fn remove_books(w: &Base) {
    std::fs::remove_file(books_path(w)).unwrap();
    for wal in ["books.sqlite-wal", "books.sqlite-shm"] {
        let _ = std::fs::remove_file(w.mgr.path().join("var/pmsslreseller").join(wal));
    }
}

fn upstream_id(w: &Base, item: u64) -> u64 {
    w.db.item_param(item, "pmss_upstream_id")
        .unwrap()
        .parse()
        .unwrap()
}

fn paid_calls(w: &Base, func: &str) -> usize {
    w.up.journal()
        .into_iter()
        .filter(|e| e.func == func && e.outcome == "ok")
        .count()
}

/// Before: no ledger at all; the cost of an order was only in a log line.
#[test]
fn a_refused_order_is_failed_and_the_resend_posts_the_same_row_with_its_cost_and_price() {
    let w = world("0.00");
    let item = new_item(&w);
    let ro = w.db.create_running_operation(item, "open");
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 1, "no money upstream: {out}");
    let refused = rows(&w, item);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].state, State::Failed);
    assert_eq!(refused[0].kind, Kind::Order);

    // Topped up; BILLmanager runs the same operation again.
    w.up.set_account(&SimAccount::new(USER, PASSWORD, "1000.00", "EUR"));
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let all = rows(&w, item);
    assert_eq!(all.len(), 1, "the same row: {all:?}");
    let r = &all[0];
    assert_eq!(r.key, refused[0].key);
    assert_eq!(r.state, State::Posted);
    assert!(r.posted_at.is_some());
    assert_eq!((r.kind, r.owner), (Kind::Order, Owner::Billmanager));
    assert_eq!(r.module, w.module());
    assert_eq!(r.ro, Some(ro));
    assert_eq!(r.upstream_id, Some(upstream_id(&w, item)));
    assert_eq!(r.tariff.as_deref(), Some("3033"));
    assert_eq!(r.local_tariff, Some(w.tariff()));
    assert_eq!(r.period, Some(12));
    assert_eq!(r.cost, Some(d("21")));
    assert_eq!(r.cost_currency.as_deref(), Some("EUR"));
    assert_eq!(r.cost_source, CostSource::Catalog);
    assert_eq!(r.sell, Some(d(SELL)));
    assert_eq!(r.sell_currency.as_deref(), Some("RUB"));
    assert_eq!(r.rate, Some(d("100")));
    assert_eq!(r.account_name.as_deref(), Some("Test client"));
    assert!(r.account.is_some());
    assert!(!r.estimated);

    // The finished operation run again: nothing moves, no row.
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 0, "{out}");
    assert_eq!(rows(&w, item).len(), 1);

    // A renewal is a movement of its own.
    w.up.issue(Some(upstream_id(&w, item)));
    let (code, out, _) = sync_item(&w, item);
    assert_eq!(code, 0, "{out}");
    let renewal = w.db.create_running_operation(item, "prolong");
    let (code, out) = run(&w, "prolong", item, renewal);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let (code, _) = run(&w, "prolong", item, renewal);
    assert_eq!(code, 0);
    let all = rows(&w, item);
    assert_eq!(all.len(), 2, "{all:?}");
    let r = &all[1];
    assert_eq!(
        (r.kind, r.owner, r.state),
        (Kind::Renewal, Owner::Billmanager, State::Posted)
    );
    assert_eq!(r.ro, Some(renewal));
    assert_eq!(r.cost, Some(d("21")));
    assert_eq!(r.sell, Some(d(SELL)));
    assert_eq!(paid_calls(&w, "service.prolong"), 1);
}

/// A ledger that cannot be opened (here: a directory where the file
/// belongs) fails nothing and orders once; the next run of the item writes
/// the row from the intent, marked late.
#[test]
fn a_books_failure_never_fails_the_order_and_the_next_run_writes_the_row() {
    let w = world("1000.00");
    let item = new_item(&w);
    std::fs::create_dir_all(books_path(&w)).unwrap();
    let ro = w.db.create_running_operation(item, "open");
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert!(w.db.running_operation(ro).is_none(), "reported");
    assert_eq!(paid_calls(&w, "certificate.order.param"), 1);
    let log = w.mgr.module_log();
    assert!(
        log.contains("ledger row of the order") && log.contains("could not be written"),
        "said at error: {log}"
    );
    assert!(!log.contains(PASSWORD));

    std::fs::remove_dir_all(books_path(&w)).unwrap();
    w.up.issue(Some(upstream_id(&w, item)));
    let (code, out, _) = sync_item(&w, item);
    assert_eq!(code, 0, "{out}");
    let all = rows(&w, item);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].state, State::Posted);
    assert_eq!(all[0].note.as_deref(), Some(LATE_NOTE));
    assert_eq!(all[0].cost, Some(d("21")));
    // Once: the next look writes nothing more.
    sync_item(&w, item);
    assert_eq!(rows(&w, item).len(), 1);
    assert_eq!(paid_calls(&w, "certificate.order.param"), 1);
}

/// Services older than the ledger (here: ledger file removed after the
/// order, as after an upgrade) get one estimated row each, and an imported
/// one its import row at cost 0; a second backfill writes nothing.
#[test]
fn backfill_gives_older_services_one_estimated_row_once() {
    let w = world("1000.00");
    let item = new_item(&w);
    open_paid(&w, item);
    remove_books(&w);
    w.db.conn()
        .exec_drop(
            "UPDATE item SET opendate = '2026-01-15' WHERE id = ?",
            (item,),
        )
        .unwrap();
    // An imported service: linked by hand here as the import links it.
    let imported = new_item(&w);
    w.db.conn()
        .exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_upstream_id', '777'), \
             (?, 'pmss_imported', '2026-02-01')",
            (imported, imported),
        )
        .unwrap();
    // Never ordered: no row.
    let bare = new_item(&w);

    let m = w.module().to_string();
    let (code, out, err) = run_module(&w.mgr, &["books", "backfill", "--module", &m], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 row(s) written"), "{out}");
    let r = rows(&w, item);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].estimated);
    assert_eq!((r[0].kind, r[0].state), (Kind::Order, State::Posted));
    assert_eq!(r[0].cost, Some(d("21")));
    assert_eq!(r[0].cost_source, CostSource::Estimated);
    assert_eq!(r[0].sell, Some(d(SELL)));
    assert_eq!(r[0].upstream_id, Some(upstream_id(&w, item)));
    // 2026-01-15T00:00:00Z
    assert_eq!(r[0].posted_at, Some(1_768_435_200));
    let i = rows(&w, imported);
    assert_eq!(i.len(), 1, "{i:?}");
    assert_eq!((i[0].kind, i[0].cost), (Kind::Import, Some(Decimal::ZERO)));
    assert!(!i[0].estimated);
    assert!(rows(&w, bare).is_empty());

    let (code, out, _) = run_module(&w.mgr, &["books", "backfill", "--module", &m], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("0 row(s) written, 2 service(s) already"),
        "{out}"
    );
    assert_eq!(rows(&w, item).len() + rows(&w, imported).len(), 2);
}

/// A multi-domain service older than the ledger: its estimated row counts
/// the SAN slots the order paid for, as the live rows do, instead of the
/// base price alone (which made every such service look like a margin
/// the reseller never had).
#[test]
fn a_backfilled_multi_domain_order_counts_its_san_slots() {
    // Multi-domain plan of the simulator's catalog: 45.00 EUR for 12 months,
    // 12.50 EUR per SAN (sim/fixtures/catalog.xml).
    const MULTI: u64 = 3040;
    let w = WorldBuilder::new()
        .account(USER, PASSWORD, "1000.00")
        .config(CONFIG)
        .tariffs(&[MULTI])
        .item(12, &certificate_params())
        .build();
    let m = w.module().to_string();
    let (code, out, err) = run_module(&w.mgr, &["catalog", "refresh", "--module", &m], None);
    assert_eq!(code, 0, "catalog refresh: {out}{err}");
    let item = w.item();
    open_paid(&w, item);
    let paid = w.up.certificate(upstream_id(&w, item)).expect("ordered")["paid"].clone();
    let paid: Decimal = match paid {
        serde_json::Value::String(s) => s.parse().unwrap(),
        v => v.to_string().parse().unwrap(),
    };
    assert_eq!(paid, d("70"), "45 + 2 SANs at 12.50");
    remove_books(&w);

    let (code, out, err) = run_module(&w.mgr, &["books", "backfill", "--module", &m], None);
    assert_eq!(code, 0, "{out}{err}");
    let r = rows(&w, item);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].estimated);
    assert_eq!(r[0].cost, Some(paid), "{r:?}");
    assert_eq!(r[0].cost_source, CostSource::Estimated);
}

/// An order the upstream left unpaid in its cart, then closed by the
/// customer: nothing was paid, so its row fails (it stayed pending before).
#[test]
fn an_order_closed_unpaid_in_the_upstream_cart_is_failed() {
    let w = WorldBuilder::new()
        .account(USER, PASSWORD, "1000.00")
        .profile("bm6-zomro")
        .config(CONFIG)
        .tariffs(&[TARIFF])
        .build();
    let item = new_item(&w);
    let ro = w.db.create_running_operation(item, "open");
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 1, "waits in the cart: {out}");
    assert!(out.contains("cart"), "{out}");
    assert_eq!(rows(&w, item)[0].state, State::Pending);
    let close = w.db.create_running_operation(item, "close");
    let (code, out) = run(&w, "close", item, close);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let all = rows(&w, item);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].kind, all[0].state), (Kind::Order, State::Failed));
}

/// A books file another process holds locked holds the order up by one
/// busy timeout at most (the later writes of the run are not tried), the
/// order is paid once, and the next run writes the row.
#[test]
fn a_locked_books_file_holds_an_order_up_briefly_and_the_next_run_writes_the_row() {
    let w = world("1000.00");
    let item = new_item(&w);
    drop(Books::open_path(&books_path(&w)).unwrap());
    let lock = rusqlite::Connection::open(books_path(&w)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let ro = w.db.create_running_operation(item, "open");
    let (code, out) = run(&w, "open", item, ro);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    // One busy timeout waited out; every later write of the run is left to
    // the next run instead of waiting again (counted in the log, not timed).
    let log = w.mgr.module_log();
    assert_eq!(log.matches("database is locked").count(), 1, "{log}");
    assert!(log.contains("not tried: it failed less than"), "{log}");
    assert_eq!(paid_calls(&w, "certificate.order.param"), 1);
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert!(rows(&w, item).is_empty());
    w.up.issue(Some(upstream_id(&w, item)));
    let (code, out, _) = sync_item(&w, item);
    assert_eq!(code, 0, "{out}");
    let all = rows(&w, item);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].state, State::Posted);
    assert_eq!(all[0].note.as_deref(), Some(LATE_NOTE));
}

/// A service ordered before the ledger keeps its order's intent on the item.
/// Backfilled first, it has its estimated order row; the next sync of the
/// item must not add a second order row from that old intent ("written
/// late"), else the order's cost and sale count twice in every report.
#[test]
fn a_backfilled_order_is_not_written_again_late_from_its_old_intent() {
    let w = world("1000.00");
    let item = new_item(&w);
    open_paid(&w, item);
    remove_books(&w);
    let m = w.module().to_string();
    let (code, out, err) = run_module(&w.mgr, &["books", "backfill", "--module", &m], None);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(rows(&w, item).len(), 1);

    w.up.issue(Some(upstream_id(&w, item)));
    let (code, out, _) = sync_item(&w, item);
    assert_eq!(code, 0, "{out}");
    let all = rows(&w, item);
    assert_eq!(
        all.iter().filter(|r| r.kind == Kind::Order).count(),
        1,
        "one order, one row: {all:?}"
    );
    assert_eq!(paid_calls(&w, "certificate.order.param"), 1);
}

/// The module tells the admin to delete item param `pmss_intent` after
/// checking an unknown outcome by hand; the next movement then starts again
/// at generation 1. A later renewal must still get a row of its own, not be
/// taken for an earlier renewal already in the books (its row lost, and the
/// charge check then blaming the upstream for it).
#[test]
fn a_renewal_after_the_intent_was_deleted_by_hand_keeps_its_own_row() {
    let w = world("1000.00");
    let item = new_item(&w);
    open_paid(&w, item);
    w.up.issue(Some(upstream_id(&w, item)));
    let (code, out, _) = sync_item(&w, item);
    assert_eq!(code, 0, "{out}");
    let delete_intent = || {
        w.db.conn()
            .exec_drop(
                "DELETE FROM itemparam WHERE item = ? AND intname = 'pmss_intent'",
                (item,),
            )
            .unwrap();
    };
    for n in 1..=2 {
        delete_intent();
        let renewal = w.db.create_running_operation(item, "prolong");
        let (code, out) = run(&w, "prolong", item, renewal);
        assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
        assert_eq!(paid_calls(&w, "service.prolong"), n);
    }
    let renewals: Vec<Entry> = rows(&w, item)
        .into_iter()
        .filter(|r| r.kind == Kind::Renewal)
        .collect();
    assert_eq!(renewals.len(), 2, "one row per paid renewal: {renewals:?}");
    assert!(renewals.iter().all(|r| r.state == State::Posted));
}
