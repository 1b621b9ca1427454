//! The upstream's real charges against the ledger, end to end: the real
//! binary's `getbalance` keeps balance readings, the simulator's payments
//! list gives the top-ups, and a window whose real debit differs from the
//! ledger's posted costs registers ONE admin problem and a line in
//! `reconcile`.
//!
//! The order runs through the real binary's `open`, which writes its own
//! ledger row; the tests check that row against what the simulator says the
//! order cost (`paid`) before judging the charges.

mod support;

use std::time::Duration;

use pmsslreseller::books::ledger::{self, Kind, Owner, State};
use pmsslreseller::books::Books;
use support::billing::{certificate_params, run_module, run_operation, TestDb, TestMgr};
use support::sim::SimUpstream;
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Multi-domain EUR plan of the simulator's catalog: 45.00 EUR for 12
/// months, 12.50 EUR per SAN (sim/fixtures/catalog.xml).
const TARIFF: u64 = 3040;

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

impl World {
    fn new(knobs: &[&str]) -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .knobs(knobs)
            .tariffs(&[TARIFF])
            .item(12, &certificate_params())
            .build();
        let (module, item) = (base.module(), base.item());
        let Base { up, db, mgr, .. } = base;
        let w = World {
            up,
            db,
            mgr,
            module,
            item,
        };
        let (code, out, err) = w.admin(&["catalog", "refresh", "--module", &w.module.to_string()]);
        assert_eq!(code, 0, "catalog refresh: {out}{err}");
        w
    }

    fn admin(&self, args: &[&str]) -> (i32, String, String) {
        run_module(&self.mgr, args, None)
    }

    fn getbalance(&self) {
        let m = self.module.to_string();
        let (code, out, _) = run_module(
            &self.mgr,
            &["--command", "getbalance", "--module", &m],
            None,
        );
        assert_eq!(code, 0, "getbalance: {out}\n{}", self.mgr.module_log());
        // Readings are stamped in whole seconds: keep each step in its own.
        std::thread::sleep(Duration::from_millis(1100));
    }

    /// Open the item (the upstream debits the order); its ledger row must
    /// say what the order cost.
    fn open_and_post(&self) -> String {
        let ro = self.db.create_running_operation(self.item, "open");
        self.db.bump_trycount(ro);
        let (code, out, _) = run_operation(&self.mgr, "open", self.item, ro, &[]);
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        let upstream: u64 = self
            .db
            .item_param(self.item, "pmss_upstream_id")
            .expect("upstream id")
            .parse()
            .unwrap();
        let cert = self.up.certificate(upstream).expect("ordered upstream");
        let paid = match &cert["paid"] {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        // The open path wrote its own ledger row: posted, at the catalog's
        // cost, which is what the simulator took.
        let books = Books::open(&self.mgr.root()).unwrap();
        let rows = ledger::rows(
            &books,
            &ledger::Filter {
                item: Some(self.item),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(
            (row.kind, row.owner, row.state),
            (Kind::Order, Owner::Billmanager, State::Posted)
        );
        assert_eq!(row.ro, Some(ro));
        assert_eq!(row.upstream_id, Some(upstream));
        assert_eq!(row.cost, Some(paid.parse().unwrap()), "{row:?}");
        std::thread::sleep(Duration::from_millis(1100));
        paid
    }

    fn reconcile(&self) -> (i32, String) {
        let (code, out, err) = self.admin(&["reconcile", "--module", &self.module.to_string()]);
        (code, format!("{out}{err}"))
    }

    fn problems(&self) -> usize {
        self.mgr.mgrctl_count("problems.register")
    }
}

#[test]
fn an_upstream_that_overcharges_by_one_renewal_is_caught_and_named() {
    let w = World::new(&[]);
    w.getbalance();
    // The next money call takes one 12-month period of the tariff more.
    w.up.knobs(&[("overcharge", "45")]);
    let paid = w.open_and_post();
    assert!(!paid.is_empty());
    assert_eq!(w.problems(), 0, "nothing judged before the second reading");
    w.getbalance();
    assert_eq!(w.problems(), 1, "one problem: {}", w.mgr.module_log());
    let journal = w.mgr.journal();
    let register = journal
        .iter()
        .find(|e| e["func"] == "problems.register")
        .expect("registered");
    let text = register["params"]["param_errormsg"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(register["params"]["name"], "pmsslreseller_charges");
    assert_eq!(register["params"]["id"], w.module.to_string());
    for want in [
        "overcharged by 45 EUR",
        &format!(
            "the ledger expects {} EUR",
            paid.trim_end_matches('0').trim_end_matches('.')
        ),
        "one 12-month period of tariff 3040",
        "nobody asked for",
    ] {
        assert!(text.contains(want), "{want} not in: {text}");
    }
    let (code, out) = w.reconcile();
    assert_eq!(
        code, 0,
        "no drift: a charge mismatch is shown, not an exit code: {out}"
    );
    assert!(out.contains("charges: module"), "{out}");
    assert!(out.contains("overcharged by 45 EUR"), "{out}");
    // A rerun (the next cron getbalance) raises no second problem.
    w.getbalance();
    w.getbalance();
    assert_eq!(w.problems(), 1, "{}", w.mgr.module_log());
    assert!(!w.mgr.module_log().contains(PASSWORD));
}

#[test]
fn a_clean_run_with_a_top_up_raises_nothing() {
    let w = World::new(&[]);
    w.getbalance();
    w.open_and_post();
    // The reseller pays 200 EUR in: not a charge.
    let topped = w.up.topup(USER, "200");
    assert!(topped > 0);
    std::thread::sleep(Duration::from_millis(1100));
    w.getbalance();
    assert_eq!(w.problems(), 0, "{}", w.mgr.module_log());
    assert!(
        w.mgr.module_log().contains("top-ups 200 EUR"),
        "{}",
        w.mgr.module_log()
    );
    assert!(
        w.mgr.module_log().contains(": clean"),
        "{}",
        w.mgr.module_log()
    );
    let (code, out) = w.reconcile();
    assert!(out.contains("clean"), "{out}");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn without_the_payments_list_an_overcharge_is_still_caught() {
    let w = World::new(&["payment_list=off"]);
    w.getbalance();
    w.up.knobs(&[("overcharge", "45")]);
    w.open_and_post();
    w.getbalance();
    assert_eq!(w.problems(), 1, "{}", w.mgr.module_log());
    let log = w.mgr.module_log();
    assert!(log.contains("top-ups unknown"), "{log}");
    assert!(log.contains("or more"), "{log}");
}

#[test]
fn parallel_balance_readings_judge_the_overcharge_once_and_raise_one_problem() {
    let w = World::new(&[]);
    w.getbalance();
    w.up.knobs(&[("overcharge", "45")]);
    w.open_and_post();
    let m = w.module.to_string();
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                let (code, out, _) =
                    run_module(&w.mgr, &["--command", "getbalance", "--module", &m], None);
                assert_eq!(code, 0, "{out}");
            });
        }
    });
    assert_eq!(w.problems(), 1, "{}", w.mgr.module_log());
    let (_, out) = w.reconcile();
    assert_eq!(
        out.lines().filter(|l| l.contains("overcharged by")).count(),
        1,
        "one window holds the overcharge, none overlaps it: {out}"
    );
}
