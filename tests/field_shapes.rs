//! The shapes live BILLmanager panels answer in (field evidence, December
//! 2026: status codes, dates, money, ids, cart answers, a pending second
//! factor, wrapped errors, renewal refusals, paginated lists), each pinned
//! with one simulator knob, on the real `pmsslreseller` binary against a
//! real MariaDB (through the `billmgr-sim mgrctl` stand-in) and
//! `billmgr-sim upstream`. Each test names what went wrong before: the
//! module read one shape and took the others for success, garbage or a
//! complete list. The sources of each shape are in `sim/README.md`
//! ("Field shapes and profiles").

mod support;

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use support::billing::{
    certificate_params, run_module, run_operation, TestDb, TestMgr, EXAMPLE_CSR,
};
use support::sim::{JournalEntry, SimAccount, SimFault, SimUpstream};

const USER: &str = "reseller";
const PASSWORD: &str = "F1eld-Sh4pes!pw";
/// Multi-domain EUR plan of the simulator's catalog.
const TARIFF: u64 = 3040;
/// Another plan, for a look-alike certificate.
const OTHER_TARIFF: u64 = 3033;
const CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 30\n";

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    tariff: u64,
    item: u64,
}

impl World {
    /// A world whose upstream answers with these knobs.
    fn with(knobs: &[(&str, &str)]) -> World {
        World::build(knobs, "1000.00", false)
    }

    fn build(knobs: &[(&str, &str)], balance: &str, twofa: bool) -> World {
        let up = SimUpstream::start_with(&[]);
        let mut account = SimAccount::new(USER, PASSWORD, balance, "EUR");
        account.twofa = twofa;
        account.may_suspend = true;
        up.set_account(&account);
        if !knobs.is_empty() {
            up.knobs(knobs);
        }
        let db = TestDb::create();
        let mgr = TestMgr::new(&db);
        std::fs::write(mgr.path().join("etc/pmsslreseller.toml"), CONFIG).unwrap();
        std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
        let module = db.seed_module(&up.url(), USER, PASSWORD);
        let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));
        let item =
            db.seed_certificate_item(module, tariff, 12, &certificate_params(), Some(EXAMPLE_CSR));
        World {
            up,
            db,
            mgr,
            module,
            tariff,
            item,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_module(&self.mgr, args, None)
    }

    /// `command` on the item in running operation `ro` (trycount + 1).
    fn run_op(&self, command: &str, ro: u64, env: &[(&str, &str)]) -> (i32, String) {
        self.db.bump_trycount(ro);
        let (code, out, _) = run_operation(&self.mgr, command, self.item, ro, env);
        (code, out)
    }

    /// A new running operation for `command`, run once.
    fn operation(&self, command: &str) -> (u64, i32, String) {
        let ro = self.db.create_running_operation(self.item, command);
        let (code, out) = self.run_op(command, ro, &[]);
        (ro, code, out)
    }

    fn sync_item(&self) -> (i32, String) {
        let item = self.item.to_string();
        let (code, out, _) = self.run(&["--command", "sync_item", "--item", &item]);
        (code, out)
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn upstream_id(&self) -> u64 {
        self.param("pmss_upstream_id")
            .expect("upstream id saved")
            .parse()
            .expect("numeric upstream id")
    }

    /// Open, issue upstream, sync: an issued certificate; its upstream id.
    fn issued(&self) -> u64 {
        let (_, code, out) = self.operation("open");
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        let id = self.upstream_id();
        self.up.issue(Some(id));
        let (code, out) = self.sync_item();
        assert_eq!(code, 0, "sync_item: {out}\n{}", self.mgr.module_log());
        assert_eq!(self.param("service_status").as_deref(), Some("5"));
        id
    }

    fn reconcile_json(&self) -> (i32, Value, String) {
        let module = self.module.to_string();
        let (code, out, err) = self.run(&["reconcile", "--module", &module, "--json"]);
        let v = serde_json::from_str(&out).unwrap_or(Value::Null);
        (code, v, format!("{out}\n{err}"))
    }

    /// Upstream calls of `func` carried out (also those whose answer a
    /// fault then lost).
    fn applied(&self, func: &str) -> Vec<JournalEntry> {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func == func)
            .filter(|e| e.outcome == "ok" || e.result.as_deref() == Some("ok"))
            .collect()
    }

    fn calls(&self, func: &str) -> usize {
        self.up.journal().iter().filter(|e| e.func == func).count()
    }

    fn orders(&self) -> usize {
        self.calls("certificate.order.param")
    }

    fn balance(&self) -> String {
        self.up.account(USER).balance.to_string()
    }
}

/// Drift rows of `kind` (`gone`, `upstream_renewal`, …) about `item` in a
/// `reconcile --json` report.
fn drift_rows(report: &Value, kind: &str, item: u64) -> usize {
    report["drift"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|r| r["kind"] == kind && r["item"] == item)
                .count()
        })
        .unwrap_or(0)
}

/// The status shapes of the field (field-2026-12 §1), one knob set each.
const STATUS_SHAPES: &[&[(&str, &str)]] = &[
    &[("item_status_shape", "code")],
    &[("status_column", "on"), ("item_status_shape", "label")],
    &[("item_status_shape", "orig")],
    &[("item_status_shape", "orig_compound")],
    &[("item_status_shape", "real_status")],
    &[("item_status_shape", "orig_or_real")],
    &[
        ("status_column", "on"),
        ("item_status_shape", "orig_compound"),
    ],
];

/// A certificate deleted upstream (still listed, status 4, as gcore lists
/// it) is in the drift report whatever shape carries its status; before,
/// only the `status` column and a numeric `item_status` were read, so the
/// `orig` shapes hid it.
#[test]
fn a_certificate_deleted_upstream_is_reported_in_every_status_shape() {
    for knobs in STATUS_SHAPES {
        let mut knobs = knobs.to_vec();
        knobs.push(("list_deleted", "on"));
        let knobs = &knobs;
        let w = World::with(knobs);
        let id = w.issued();
        let (code, report, text) = w.reconcile_json();
        assert_eq!(code, 0, "{knobs:?}: clean books first: {text}");
        w.up.drift(json!({"action": "status", "id": id, "status": 4}));
        let (code, report2, text) = w.reconcile_json();
        assert_eq!(code, 1, "{knobs:?}: drift exits 1: {text}");
        assert_eq!(
            drift_rows(&report2, "gone", w.item),
            1,
            "{knobs:?}: {report2}\nbefore: {report}"
        );
    }
}

/// The bulk sync reads an item again when its list row says it went back
/// into work upstream; a row whose status it cannot read was taken for
/// "nothing changed", so the local sub-status stayed "issued".
#[test]
fn the_bulk_sync_sees_a_state_change_in_every_status_shape() {
    for knobs in STATUS_SHAPES {
        let w = World::with(knobs);
        let id = w.issued();
        w.up.drift(json!({"action": "status", "id": id, "status": 5, "service_status": 3}));
        let module = w.module.to_string();
        let (code, out, err) = w.run(&["sync", "--module", &module]);
        assert_eq!(code, 0, "{knobs:?}: {out}{err}");
        assert_eq!(
            w.param("service_status").as_deref(),
            Some("3"),
            "{knobs:?}: the sub-status follows the upstream\n{}",
            w.mgr.module_log()
        );
    }
}

/// The cart answers of the field (field-2026-12 §4, §5).
const CART_ANSWERS: &[&str] = &[
    "billorder.id",
    "billorder",
    "lineitem.id",
    "payment_id",
    "ok_url",
];

/// An order the upstream puts into its cart unpaid: the run fails for an
/// admin saying so, BILLmanager is never told it is open, no second order
/// is placed on reruns, and once the cart is paid upstream the rerun adopts
/// it. Before, the remoteid lookup adopted the unpaid order and reported
/// `service.postopen`.
#[test]
fn an_order_left_in_the_upstream_cart_waits_unpaid_and_is_never_ordered_again() {
    for answer in CART_ANSWERS {
        let w = World::with(&[
            ("order_cart", "on"),
            ("cart_answer", answer),
            ("list_remoteid", "on"),
        ]);
        let before = w.balance();
        let (ro, code, out) = w.operation("open");
        assert_eq!(code, 1, "{answer}: {out}");
        assert!(
            out.contains("waits unpaid in the upstream cart"),
            "{answer}: {out}"
        );
        assert_eq!(
            w.mgr.mgrctl_count("service.postopen"),
            0,
            "{answer}: never reported open"
        );
        assert!(w.param("pmss_upstream_id").is_none(), "{answer}");
        let state = w.db.running_operation(ro).expect("operation kept");
        assert_eq!(state.manual, "on", "{answer}: an admin is asked at once");
        assert_eq!(w.balance(), before, "{answer}: nothing paid upstream");
        // Reruns before the cart is paid: still waiting, never a second order.
        for _ in 0..2 {
            let (code, out) = w.run_op("open", ro, &[]);
            assert_eq!(code, 1, "{answer}: {out}");
            assert!(out.contains("waits unpaid"), "{answer}: {out}");
        }
        assert_eq!(w.orders(), 1, "{answer}: one order placed");
        // The admin pays the cart upstream, then restarts the operation.
        let carts: Vec<u64> = w.up.pay_all_carts();
        assert_eq!(carts.len(), 1, "{answer}");
        let (code, out) = w.run_op("open", ro, &[]);
        assert_eq!(code, 0, "{answer}: {out}\n{}", w.mgr.module_log());
        assert_eq!(
            w.upstream_id(),
            carts[0],
            "{answer}: the paid cart order is adopted"
        );
        assert_eq!(w.mgr.mgrctl_count("service.postopen"), 1, "{answer}");
        assert_eq!(w.orders(), 1, "{answer}: still one order");
    }
}

/// An upstream id set by hand on an order still unpaid in the cart (what an
/// admin might do from the drift report) is not reported open: only an
/// upstream that shows the order paid is.
#[test]
fn an_unpaid_cart_order_linked_by_hand_is_not_reported_open() {
    let w = World::with(&[
        ("order_cart", "on"),
        ("cart_answer", "billorder.id"),
        ("list_remoteid", "on"),
    ]);
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    let cart_item = w.up.certificates().as_array().unwrap()[0]["id"]
        .as_u64()
        .unwrap();
    w.db.conn()
        .exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_upstream_id', ?)",
            (w.item, cart_item.to_string()),
        )
        .unwrap();
    let (code, out) = w.run_op("open", ro, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not paid") || out.contains("waits unpaid"),
        "{out}"
    );
    assert_eq!(w.mgr.mgrctl_count("service.postopen"), 0);
    w.up.pay_all_carts();
    let (code, out) = w.run_op("open", ro, &[]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.mgr.mgrctl_count("service.postopen"), 1);
    assert_eq!(w.orders(), 1);
}

/// The customer closes a service whose order waits unpaid in the upstream
/// cart: the order is deleted upstream (it cost nothing) and the service is
/// closed; before, the close failed with "pay it, then restart", which
/// would have paid for a certificate the close then deletes.
#[test]
fn closing_a_service_whose_order_waits_in_the_cart_pays_nothing() {
    let w = World::with(&[
        ("order_cart", "on"),
        ("cart_answer", "lineitem.id"),
        ("list_remoteid", "on"),
    ]);
    let before = w.balance();
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    let (_, code, out) = w.operation("close");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.mgr.mgrctl_count("service.postclose"), 1);
    assert_eq!(w.applied("certificate.delete").len(), 1);
    assert_eq!(w.balance(), before, "nothing paid");
    assert_eq!(w.orders(), 1);
}

/// An upstream that answers a cart order with a bare `<ok/>` (no id, no
/// cart id): outcome unknown at first; the lookup finds the order with the
/// status "ordered", and after the settle window it is the cart case, not
/// a reason to order again.
#[test]
fn a_bare_ok_to_an_order_found_unpaid_is_never_ordered_again() {
    let w = World::with(&[
        ("order_cart", "on"),
        ("cart_answer", "ok"),
        ("list_remoteid", "on"),
    ]);
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    let mut last = String::new();
    for _ in 0..12 {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let (code, out) = w.run_op("open", ro, &[]);
        assert_eq!(code, 1, "{out}");
        last = out;
        if last.contains("waits unpaid") {
            break;
        }
    }
    assert!(
        last.contains("waits unpaid"),
        "{last}\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.orders(), 1);
    assert_eq!(w.mgr.mgrctl_count("service.postopen"), 0);
}

/// `whoami` answering `<ok>func=totp.confirm</ok>`: a credentials problem
/// that says so; before, "malformed answer … check that the URL points at
/// the upstream BILLmanager".
#[test]
fn a_pending_second_factor_is_reported_as_such() {
    let w = World::build(&[("twofa_shape", "totp_confirm")], "100.00", true);
    let module = w.module.to_string();
    let (code, out, _) = w.run(&["--command", "getbalance", "--module", &module]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("second factor"), "{out}");
    assert!(!out.contains("malformed"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");
    let (code, out) = {
        let (_, code, out) = w.operation("open");
        (code, out)
    };
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("second factor"), "{out}");
    assert!(w.up.certificates().as_array().is_none_or(Vec::is_empty));
}

/// Errors wrapped as `<doc><warning><error>`: failures. Before, a close
/// refused this way was reported closed, and an order refused this way was
/// "outcome unknown" only by luck (no id in the answer).
#[test]
fn a_warning_wrapped_error_is_a_failure() {
    let w = World::with(&[("error_wrap", "warning")]);
    let id = w.issued();
    let mut account = SimAccount::new(USER, PASSWORD, "1000.00", "EUR");
    account.may_delete = false;
    w.up.set_account(&account);
    let (_, code, out) = w.operation("close");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("upstream_access"), "{out}");
    assert_eq!(w.mgr.mgrctl_count("service.postclose"), 0);
    assert!(w.up.certificate(id).is_some_and(|c| c["deleted"] == false));
    // And money: an order refused for the balance is not taken for placed,
    // nor for certainly refused (no source says a wrapped error means "not
    // done"): outcome unknown, looked up before anything is sent again, and
    // the admin still reads what the upstream said.
    let poor = World::build(&[("error_wrap", "warning")], "0.00", false);
    let (_, code, out) = poor.operation("open");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("upstream_outcome_unknown"), "{out}");
    assert!(out.contains("top up the upstream account"), "{out}");
    assert_eq!(poor.mgr.mgrctl_count("service.postopen"), 0);
    assert_eq!(poor.balance(), "0.00");
}

/// `<expiredate>` as a label ("Daily charges"), the date in
/// `<real_expiredate>`: the upstream expiry is read (before: none, so a
/// renewal upstream was invisible).
#[test]
fn an_expiry_shown_as_a_label_is_read_from_real_expiredate() {
    for lang in ["en", "ru"] {
        let w = World::with(&[("expiredate_shape", "daily_label"), ("labels_lang", lang)]);
        let id = w.issued();
        let shown = w.up.certificate(id).unwrap()["expiredate"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            w.param("pmss_upstream_expiry").as_deref(),
            Some(shown.as_str()),
            "{lang}"
        );
        w.up.drift(json!({"action": "renew", "id": id}));
        let (code, report, text) = w.reconcile_json();
        assert_eq!(code, 1, "{lang}: {text}");
        assert_eq!(
            drift_rows(&report, "upstream_renewal", w.item),
            1,
            "{lang}: {report}"
        );
    }
}

/// `<pricelist>` a name with the id in `<pricelist_id>`: a lost order answer
/// is told apart from a look-alike of another tariff by its id; with the
/// name alone both were candidates and an admin had to decide.
#[test]
fn a_lost_order_is_found_by_the_tariff_id_beside_its_name() {
    let w = World::with(&[
        ("pricelist_shape", "name_with_id"),
        ("list_remoteid", "off"),
        ("edit_remoteid", "off"),
    ]);
    // A certificate of the same name on another tariff, ordered by hand today.
    w.up.seed_certificate(json!({
        "username": USER, "cn": "example.com", "pricelist": OTHER_TARIFF, "service_status": 3
    }));
    w.up.fault(&SimFault::new(
        "certificate.order.param",
        "drop_after_commit",
    ));
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    let mut done = false;
    for _ in 0..12 {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let (code, out) = w.run_op("open", ro, &[]);
        if code == 0 {
            done = true;
            break;
        }
        assert!(!out.contains("several upstream certificates"), "{out}");
    }
    assert!(done, "{}", w.mgr.module_log());
    assert_eq!(w.applied("certificate.order.param").len(), 1);
    let adopted = w.up.certificate(w.upstream_id()).unwrap();
    assert_eq!(adopted["pricelist"], TARIFF);
}

/// "The service can be renewed only after DATE": refused until that day,
/// and not asked again before it (before: each rerun sent the renewal
/// again as if the refusal were transient).
#[test]
fn a_renewal_refused_until_a_date_is_not_sent_again_before_it() {
    let w = World::with(&[("prolong_not_before_days", "30")]);
    let id = w.issued();
    let (ro, code, out) = w.operation("prolong");
    assert_eq!(code, 1, "{out}");
    let expiry = w.up.certificate(id).unwrap()["expiredate"]
        .as_str()
        .unwrap()
        .to_string();
    let day =
        chrono::NaiveDate::parse_from_str(&expiry, "%Y-%m-%d").unwrap() - chrono::Days::new(30);
    assert!(out.contains(&format!("only after {day}")), "{out}");
    assert_eq!(w.calls("service.prolong"), 1);
    let (code, out) = w.run_op("prolong", ro, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("only after {day}")), "{out}");
    assert_eq!(
        w.calls("service.prolong"),
        1,
        "not asked again before {day}"
    );
    // On the day, both clocks moved: the renewal goes through, paid once.
    let now = format!("{day}T12:00:00Z");
    w.up.set_clock(&now);
    let (code, out) = w.run_op("prolong", ro, &[("PMSSLRESELLER_TEST_NOW", now.as_str())]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.applied("service.prolong").len(), 1);
    assert_eq!(w.mgr.mgrctl_count("service.postprolong"), 1);
}

/// Seeds `n` issued upstream certificates linked to local services; the
/// local item ids, in order.
fn linked_services(w: &World, n: usize) -> Vec<(u64, u64)> {
    (0..n)
        .map(|i| {
            let cn = format!("page{i}.example.com");
            let up = w.up.seed_certificate(json!({
                "username": USER, "cn": cn, "pricelist": TARIFF, "expiredate": "2027-09-01",
                "remoteid": "x"
            }));
            let uid = up.to_string();
            let item = w.db.seed_certificate_item(
                w.module,
                w.tariff,
                12,
                &[("CN", cn.as_str()), ("service_status", "5"), ("pmss_upstream_id", uid.as_str())],
                None,
            );
            w.db
                .conn()
                .exec_drop(
                    "UPDATE item SET status = 2, expiredate = '2027-09-01', opendate = '2026-09-01' WHERE id = ?",
                    (item,),
                )
                .unwrap();
            (item, up)
        })
        .collect()
}

/// A paginated list is read to its end: a certificate deleted upstream on
/// the last page is reported (before: the first page was taken for the
/// whole list).
#[test]
fn a_paginated_list_is_read_to_its_end() {
    let w = World::with(&[
        ("list_page_default", "2"),
        ("list_page_max", "2"),
        ("list_p_elems", "on"),
        ("list_deleted", "on"),
    ]);
    let pairs = linked_services(&w, 5);
    let (last_item, last_up) = pairs[4];
    w.up.drift(json!({"action": "status", "id": last_up, "status": 4}));
    let (code, report, text) = w.reconcile_json();
    assert_eq!(code, 1, "{text}");
    assert_eq!(drift_rows(&report, "gone", last_item), 1, "{report}");
    assert_eq!(
        report["drift"].as_array().map(Vec::len),
        Some(1),
        "nothing else drifts: every page was read\n{report}"
    );
}

/// The money side of paging: an order whose answer was lost lands on the
/// last page of a paginated list. Read to its end, the lookup finds it and
/// adopts it; with the first page taken for the whole list it was "not
/// ordered" after the settle window, and ordered (and paid) again.
#[test]
fn a_lost_order_on_a_later_page_is_found_not_ordered_again() {
    let w = World::with(&[
        ("list_page_default", "2"),
        ("list_page_max", "2"),
        ("list_p_elems", "on"),
        ("list_remoteid", "on"),
    ]);
    linked_services(&w, 4);
    w.up.fault(&SimFault::new(
        "certificate.order.param",
        "drop_after_commit",
    ));
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    let mut done = false;
    for _ in 0..12 {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let (code, _) = w.run_op("open", ro, &[]);
        if code == 0 {
            done = true;
            break;
        }
    }
    assert!(done, "{}", w.mgr.module_log());
    assert_eq!(
        w.applied("certificate.order.param").len(),
        1,
        "one order, paid once"
    );
    assert_eq!(w.mgr.mgrctl_count("service.postopen"), 1);
}

/// A panel that ignores `p_num` while saying how many rows there are: the
/// list is incomplete, and nothing is decided from the part (before: the
/// rest was taken for deleted upstream, or never looked at).
#[test]
fn a_list_that_stops_paging_is_an_error_not_a_short_list() {
    let w = World::with(&[
        ("list_page_max", "2"),
        ("list_p_elems", "on"),
        ("list_p_num", "ignored"),
    ]);
    linked_services(&w, 5);
    let (code, _, text) = w.reconcile_json();
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("stops after 2 of its 5 rows"), "{text}");
    w.mgr.clear_journal();
    let module = w.module.to_string();
    let (code, out, err) = w.run(&["sync", "--module", &module]);
    assert_ne!(code, 0, "{out}{err}");
    let writes: Vec<String> = w
        .mgr
        .journal_funcs()
        .into_iter()
        .filter(|f| f != "paramlist")
        .collect();
    assert!(
        writes.is_empty(),
        "nothing written from a partial list: {writes:?}"
    );
}
