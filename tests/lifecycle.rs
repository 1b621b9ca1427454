//! The certificate lifecycle end to end: the real `pmsslreseller` binary
//! against a real MariaDB (through the `billmgr-sim mgrctl` stand-in) and the
//! `billmgr-sim upstream` simulator.
//!
//! - the whole life of a certificate, database checked after each step;
//! - the fault matrix: every fault the simulator injects, for open, prolong,
//!   reopen and close, followed by reruns as BILLmanager does them — the
//!   simulator journal must show exactly one applied order/renewal/reissue/
//!   delete;
//! - two `open` processes at once → one order;
//! - retry cap, maintenance mode, wrong module, bulk sync;
//! - the upstream password never reaches the module log.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use mysql::prelude::Queryable;
use serde_json::Value;

use pmsslreseller::commands::lifecycle::intent::{Intent, IntentOp, Phase};
use support::billing::{certificate_params, run_module, TestDb, TestMgr, EXAMPLE_CSR};
use support::bin_path;
use support::sim::{JournalEntry, SimAccount, SimFault, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Multi-domain EUR plan of the simulator's catalog (altname addon, ≤ 10 SANs).
const TARIFF: u64 = 3040;

/// Test settings: short timeouts so a "delay past timeout" fault is quick,
/// a short settle window so reruns after a lost answer finish in seconds.
const CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 60\n";

// ---------------------------------------------------------------------------
// Reading the simulator's journal.

/// Requests of `func` the simulator carried out successfully (also those
/// whose answer a fault then lost).
fn applied(up: &SimUpstream, func: &str) -> Vec<JournalEntry> {
    up.journal()
        .into_iter()
        .filter(|e| e.func == func)
        .filter(|e| e.outcome == "ok" || e.result.as_deref() == Some("ok"))
        .collect()
}

fn certificates(up: &SimUpstream) -> Vec<Value> {
    up.certificates().as_array().cloned().unwrap_or_default()
}

fn account(balance: &str) -> SimAccount {
    SimAccount::new(USER, PASSWORD, balance, "EUR")
}

// ---------------------------------------------------------------------------
// One world: upstream + local BILLmanager + one certificate item.

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

impl World {
    fn new() -> World {
        World::build(&[], &[])
    }

    fn with_mgrctl_conf(extra: &[&str]) -> World {
        World::build(extra, &[])
    }

    /// `sim_args`: more `billmgr-sim upstream` options (e.g. `--fault …`).
    fn build(extra: &[&str], sim_args: &[&str]) -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .sim_args(sim_args)
            .mgrctl_conf(extra)
            .config(CONFIG)
            // Most verbose logging: the password must stay out even of debug lines.
            .debug_log()
            .tariffs(&[TARIFF])
            .item(12, &certificate_params())
            .build();
        let (module, item) = (base.module(), base.item());
        let Base { up, db, mgr, .. } = base;
        World {
            up,
            db,
            mgr,
            module,
            item,
        }
    }

    fn run(&self, command: &str, ro: Option<u64>) -> (i32, String) {
        let item = self.item.to_string();
        let ro_text = ro.map(|r| r.to_string()).unwrap_or_default();
        let mut args = vec!["--command", command, "--item", item.as_str()];
        if ro.is_some() {
            args.extend(["--runningoperation", ro_text.as_str()]);
        }
        let (code, out, _err) = run_module(&self.mgr, &args, None);
        (code, out)
    }

    /// A new running operation for `command`, run once.
    fn operation(&self, command: &str) -> (u64, i32, String) {
        let ro = self.db.create_running_operation(self.item, command);
        self.db.bump_trycount(ro);
        let (code, out) = self.run(command, Some(ro));
        (ro, code, out)
    }

    /// Rerun `ro` as BILLmanager does (trycount + 1) until it succeeds;
    /// each rerun after a pause (the settle window is seconds).
    fn rerun_until_done(&self, command: &str, ro: u64) -> usize {
        for n in 1..=20 {
            self.db.bump_trycount(ro);
            let (code, out) = self.run(command, Some(ro));
            if code == 0 {
                return n;
            }
            assert!(
                out.contains("<error"),
                "a failed run prints error XML: {out}"
            );
            std::thread::sleep(Duration::from_millis(700));
        }
        panic!(
            "{command} did not succeed after 20 reruns; log:\n{}",
            self.mgr.module_log()
        );
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

    fn expiry(&self) -> Option<String> {
        self.db.item_dates(self.item).0
    }

    fn set_param(&self, name: &str, value: &str) {
        self.db
            .conn()
            .exec_drop(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE value = VALUES(value)",
                (self.item, name, value),
            )
            .unwrap();
    }

    /// Open, issue upstream, sync: an issued certificate.
    fn issued(&self) -> u64 {
        let (_, code, out) = self.operation("open");
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        let id = self.upstream_id();
        self.up.issue(Some(id));
        let (code, out) = self.run("sync_item", None);
        assert_eq!(code, 0, "sync_item: {out}");
        assert_eq!(self.param("service_status").as_deref(), Some("5"));
        id
    }

    fn assert_password_not_logged(&self) {
        let log = self.mgr.module_log();
        if std::env::var_os("PMSS_PRINT_LOG").is_some() {
            eprintln!("{log}");
        }
        assert!(!log.is_empty(), "the module wrote a log");
        assert!(
            !log.contains(PASSWORD),
            "the upstream password is in the module log"
        );
        let encoded: String = form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
        assert!(
            !log.contains(&encoded),
            "the url-encoded password is in the log"
        );
        assert!(
            !self.mgr.journal_text().contains(PASSWORD),
            "the upstream password was passed to mgrctl"
        );
    }
}

fn new_csr(cn: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .output()
        .expect("openssl req");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn add_months(date: &str, months: u32) -> String {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (d + chrono::Months::new(months))
        .format("%Y-%m-%d")
        .to_string()
}

const WRITES: &[&str] = &[
    "service.saveparam",
    "service.setstatus",
    "service.setexpiredate",
    "certificate.save",
    "certificate.failed",
];

// ---------------------------------------------------------------------------

#[test]
fn whole_life_of_a_certificate() {
    let w = World::new();

    // open: ordered upstream with remoteid = item id, sub-status requested.
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 0, "open: {out}\n{}", w.mgr.module_log());
    let id = w.upstream_id();
    let orders = applied(&w.up, "certificate.order.param");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].params["remoteid"], w.item.to_string());
    // The local tariff's intname ssl_<id> names the upstream tariff; the
    // item's period (12 months, seeded) is the period ordered.
    assert_eq!(orders[0].params["pricelist"], TARIFF.to_string());
    assert_eq!(orders[0].params["period"], "12");
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
    assert_eq!(
        w.db.item_status(w.item),
        2,
        "service.postopen made it active"
    );
    assert!(w.db.running_operation(ro).is_none(), "operation finished");
    assert!(w.db.certificate_crt(w.item).is_none());

    // sync before issuance: nothing changes, nothing is written.
    w.mgr.clear_journal();
    assert_eq!(w.run("sync_item", None).0, 0);
    for f in WRITES {
        assert_eq!(w.mgr.mgrctl_count(f), 0, "{f} on an unchanged certificate");
    }

    // issued upstream → sync saves the PEM and the expiry.
    w.up.issue(Some(id));
    assert_eq!(w.run("sync_item", None).0, 0);
    let crt = w.db.certificate_crt(w.item).expect("certificate saved");
    assert!(crt.contains("BEGIN CERTIFICATE"), "{crt}");
    assert_eq!(w.param("service_status").as_deref(), Some("5"));
    let expiry = w.expiry().expect("expiry set");
    let upstream = certificates(&w.up);
    let cert = upstream.iter().find(|c| c["id"] == id).expect("sim item");
    assert!(
        cert.to_string().contains(&expiry),
        "local expiry {expiry} is the upstream one: {cert}"
    );
    // A second sync is a no-op.
    w.mgr.clear_journal();
    assert_eq!(w.run("sync_item", None).0, 0);
    for f in WRITES {
        assert_eq!(w.mgr.mgrctl_count(f), 0, "{f} after nothing changed");
    }

    // reopen, nothing changed → oldrequest.
    let (ro, code, out) = w.operation("reopen");
    assert_eq!(code, 0, "reopen: {out}\n{}", w.mgr.module_log());
    let reissues = applied(&w.up, "certificate.reissue.step2");
    assert_eq!(reissues.len(), 1);
    assert_eq!(reissues[0].params["crt_type"], "oldrequest");
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
    assert!(w.db.running_operation(ro).is_none());
    w.up.issue(Some(id));
    assert_eq!(w.run("sync_item", None).0, 0);
    assert_eq!(w.param("service_status").as_deref(), Some("5"));

    // reopen with a changed SAN list → altname.
    w.set_param("old_altname", "www.example.com mail.example.com");
    // Same count (two SANs were paid for), one name swapped.
    w.set_param("altname", "www.example.com shop.example.com");
    let (_, code, out) = w.operation("reopen");
    assert_eq!(code, 0, "reopen altname: {out}\n{}", w.mgr.module_log());
    let reissues = applied(&w.up, "certificate.reissue.step2");
    assert_eq!(reissues.len(), 2);
    assert_eq!(reissues[1].params["crt_type"], "altname");
    let sent = reissues[1].params["altname"].as_str();
    assert!(sent.contains("shop.example.com"), "{sent}");
    w.up.issue(Some(id));
    assert_eq!(w.run("sync_item", None).0, 0);
    w.set_param("old_altname", "www.example.com shop.example.com");

    // reopen with a new CSR → manual.
    let csr = new_csr("example.com");
    w.db.conn()
        .exec_drop(
            "UPDATE certificate SET csr = ? WHERE item = ?",
            (&csr, w.item),
        )
        .unwrap();
    let (_, code, out) = w.operation("reopen");
    assert_eq!(code, 0, "reopen manual: {out}\n{}", w.mgr.module_log());
    let reissues = applied(&w.up, "certificate.reissue.step2");
    assert_eq!(reissues.len(), 3);
    assert_eq!(reissues[2].params["crt_type"], "manual");
    assert!(reissues[2].params["csr"].contains("BEGIN CERTIFICATE REQUEST"));
    w.up.issue(Some(id));
    assert_eq!(w.run("sync_item", None).0, 0);
    assert_eq!(w.param("service_status").as_deref(), Some("5"));

    // prolong: one renewal, the expiry moves by the period.
    let before = w.expiry().expect("expiry");
    let (ro, code, out) = w.operation("prolong");
    assert_eq!(code, 0, "prolong: {out}\n{}", w.mgr.module_log());
    assert_eq!(applied(&w.up, "service.prolong").len(), 1);
    assert_eq!(w.expiry(), Some(add_months(&before, 12)));
    assert!(w.db.running_operation(ro).is_none());

    // suspend / resume: local only by default.
    let (_, code, out) = w.operation("suspend");
    assert_eq!(code, 0, "suspend: {out}");
    assert_eq!(w.db.item_status(w.item), 3);
    let (_, code, out) = w.operation("resume");
    assert_eq!(code, 0, "resume: {out}");
    assert_eq!(w.db.item_status(w.item), 2);
    assert!(w
        .up
        .journal()
        .iter()
        .all(|e| e.func != "certificate.suspend" && e.func != "certificate.resume"));

    // close: deleted upstream, closed locally.
    let (ro, code, out) = w.operation("close");
    assert_eq!(code, 0, "close: {out}\n{}", w.mgr.module_log());
    assert_eq!(applied(&w.up, "certificate.delete").len(), 1);
    assert_eq!(w.db.item_status(w.item), 4);
    assert!(w.db.running_operation(ro).is_none());
    assert!(certificates(&w.up)
        .iter()
        .any(|c| c["id"] == id && c["deleted"] == true));
    // A closed certificate is not synced any more.
    assert_eq!(w.run("sync_item", None).0, 0);
    assert_eq!(w.db.item_status(w.item), 4);

    w.assert_password_not_logged();
}

#[test]
fn mirror_suspend_reaches_the_upstream_when_allowed() {
    let w = World::new();
    w.db.set_module_param(w.module, "mirror_suspend", "on");
    w.issued();
    // Not allowed upstream: a clear error, the operation stays.
    let (ro, code, out) = w.operation("suspend");
    assert_eq!(code, 1);
    assert!(out.contains("upstream_access"), "{out}");
    assert!(w.db.running_operation(ro).is_some());
    // Allowed: suspended upstream and locally.
    w.up.set_account(&SimAccount {
        may_suspend: true,
        ..account("1000.00")
    });
    w.db.bump_trycount(ro);
    assert_eq!(w.run("suspend", Some(ro)).0, 0);
    assert_eq!(applied(&w.up, "certificate.suspend").len(), 1);
    assert_eq!(w.db.item_status(w.item), 3);
    let (_, code, _) = w.operation("resume");
    assert_eq!(code, 0);
    assert_eq!(applied(&w.up, "certificate.resume").len(), 1);
    assert_eq!(w.db.item_status(w.item), 2);
}

// ---------------------------------------------------------------------------
// Fault matrix.

/// Every fault the simulator can inject, as `--fault` specs for `func`
/// (the simulator's start-up fault script, `func:kind[:count[:delay_ms]]`).
/// Each is armed from the start: the preparation steps never call `func`.
fn faults(func: &str) -> Vec<(&'static str, String)> {
    vec![
        ("delay past timeout", format!("{func}:delay:1:2500")),
        ("502 html", format!("{func}:http_502")),
        ("truncated xml", format!("{func}:truncated")),
        ("not xml", format!("{func}:not_xml")),
        ("drop after commit", format!("{func}:drop_after_commit")),
        ("refused connection", format!("{func}:refuse")),
        ("not enough money", format!("{func}:error=not_enough_money")),
        ("auth error", format!("{func}:error=auth")),
    ]
}

/// With `fault` armed on `func`, run `command` once, then rerun it as
/// BILLmanager would until it succeeds; `check` verifies the end state.
fn fault_case(command: &str, func: &str, prepare: impl Fn(&World), check: impl Fn(&World, &str)) {
    let only = std::env::var("PMSS_FAULT_ONLY").unwrap_or_default();
    for (name, spec) in faults(func) {
        if !only.is_empty() && !spec.contains(&only) {
            continue;
        }
        let w = World::build(&[], &["--fault", &spec]);
        prepare(&w);
        let (ro, code, out) = w.operation(command);
        if code != 0 {
            assert!(
                out.contains("<error"),
                "{command}/{name}: error XML printed: {out}"
            );
            let state =
                w.db.running_operation(ro)
                    .expect("operation kept after a failure");
            assert!(
                state
                    .errorxml
                    .as_deref()
                    .unwrap_or_default()
                    .contains("<error"),
                "{command}/{name}: error written into the running operation"
            );
            w.rerun_until_done(command, ro);
        }
        assert!(
            w.db.running_operation(ro).is_none(),
            "{command}/{name}: operation finished"
        );
        // A delayed request is journaled when the simulator finishes it.
        let hit = |j: &[JournalEntry]| {
            j.iter()
                .any(|e| e.func == func && e.outcome.starts_with("fault:"))
        };
        let mut journal = w.up.journal();
        for _ in 0..50 {
            if hit(&journal) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            journal = w.up.journal();
        }
        assert!(hit(&journal), "{command}/{name}: the fault was hit");
        assert_eq!(
            applied(&w.up, func).len(),
            1,
            "{command}/{name}: exactly one {func} applied upstream; journal: {journal:#?}\nlog:\n{}",
            w.mgr.module_log()
        );
        check(&w, name);
        w.assert_password_not_logged();
    }
}

#[test]
fn fault_matrix_open() {
    fault_case(
        "open",
        "certificate.order.param",
        |_| {},
        |w, name| {
            let certs = certificates(&w.up);
            assert_eq!(certs.len(), 1, "{name}: one certificate upstream");
            assert_eq!(w.upstream_id(), certs[0]["id"].as_u64().unwrap(), "{name}");
            assert_eq!(w.db.item_status(w.item), 2, "{name}");
            assert_eq!(w.param("service_status").as_deref(), Some("3"), "{name}");
        },
    );
}

#[test]
fn fault_matrix_prolong() {
    fault_case(
        "prolong",
        "service.prolong",
        |w| {
            w.issued();
        },
        |w, name| {
            let crt_expiry = certificates(&w.up)[0]["expiredate"]
                .as_str()
                .map(str::to_string);
            assert_eq!(
                w.expiry(),
                crt_expiry,
                "{name}: local expiry = upstream expiry"
            );
        },
    );
}

#[test]
fn fault_matrix_reopen() {
    fault_case(
        "reopen",
        "certificate.reissue.step2",
        |w| {
            w.issued();
        },
        |w, name| {
            assert_eq!(w.param("service_status").as_deref(), Some("3"), "{name}");
        },
    );
}

#[test]
fn fault_matrix_close() {
    fault_case(
        "close",
        "certificate.delete",
        |w| {
            w.issued();
        },
        |w, name| {
            assert_eq!(w.db.item_status(w.item), 4, "{name}");
        },
    );
}

#[test]
fn two_opens_at_the_same_moment_order_once() {
    let w = World::new();
    let ro = w.db.create_running_operation(w.item, "open");
    w.db.bump_trycount(ro);
    let spawn = || {
        Command::new(bin_path("pmsslreseller"))
            .args([
                "--command",
                "open",
                "--item",
                &w.item.to_string(),
                "--runningoperation",
                &ro.to_string(),
            ])
            .env("MGR5_ROOT", w.mgr.path())
            .current_dir(w.mgr.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    assert_eq!(applied(&w.up, "certificate.order.param").len(), 1);
    assert_eq!(certificates(&w.up).len(), 1);
    assert!(w.db.running_operation(ro).is_none());
}

#[test]
fn retry_cap_switches_to_manual_and_opens_a_task() {
    let w = World::with_mgrctl_conf(&[
        "TaskType open ssl_open_failed",
        "TaskType prolong ssl_prolong_failed",
    ]);
    // open: nine failures keep the operation automatic, the tenth goes to an admin.
    w.up.set_account(&account("0.00"));
    let ro = w.db.create_running_operation(w.item, "open");
    for n in 1..=10 {
        w.db.bump_trycount(ro);
        let (code, out) = w.run("open", Some(ro));
        assert_eq!(code, 1, "try {n}");
        assert!(out.contains("not_enough_money"), "{out}");
        let state = w.db.running_operation(ro).unwrap();
        assert!(state
            .errorxml
            .unwrap_or_default()
            .contains("not_enough_money"));
        if n < 10 {
            assert_ne!(state.manual, "on", "try {n} stays automatic");
            assert!(w.db.tasks().is_empty());
        } else {
            assert_eq!(state.manual, "on");
            let tasks = w.db.tasks();
            assert_eq!(tasks.len(), 1);
            assert_eq!(tasks[0].task_type, "ssl_open_failed");
            assert_eq!(tasks[0].runningoperation, Some(ro));
        }
    }
    assert!(applied(&w.up, "certificate.order.param").is_empty());
    // The admin tops up and restarts it by hand: one order.
    w.up.set_account(&account("1000.00"));
    w.db.bump_trycount(ro);
    assert_eq!(w.run("open", Some(ro)).0, 0);
    assert_eq!(applied(&w.up, "certificate.order.param").len(), 1);
    assert_eq!(w.db.tasks().len(), 1, "no second task");

    // prolong: the first failure already goes to an admin.
    w.up.issue(Some(w.upstream_id()));
    assert_eq!(w.run("sync_item", None).0, 0);
    w.up.fault(&SimFault::error("service.prolong", "not_enough_money", &[]));
    let (ro, code, _) = w.operation("prolong");
    assert_eq!(code, 1);
    assert_eq!(w.db.running_operation(ro).unwrap().manual, "on");
    assert!(w
        .db
        .tasks()
        .iter()
        .any(|t| t.task_type == "ssl_prolong_failed"));
}

#[test]
fn maintenance_mode_does_nothing_and_succeeds() {
    let w = World::new();
    std::fs::write(w.mgr.path().join("etc/billmgr.DoNothing"), "").unwrap();
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}");
    assert!(w.mgr.journal().is_empty(), "no mgrctl call at all");
    assert!(w.up.journal().is_empty(), "no upstream call at all");
    assert!(
        w.db.running_operation(ro).is_some(),
        "operation kept for later"
    );
    std::fs::remove_file(w.mgr.path().join("etc/billmgr.DoNothing")).unwrap();
    w.db.bump_trycount(ro);
    assert_eq!(w.run("open", Some(ro)).0, 0);
    assert_eq!(applied(&w.up, "certificate.order.param").len(), 1);
}

#[test]
fn items_of_other_modules_and_unknown_tariffs_are_refused() {
    let w = World::new();
    let other: u64 = {
        let mut c = w.db.conn();
        c.exec_drop(
            "INSERT INTO processingmodule (module, name) VALUES ('pmother', 'Other')",
            (),
        )
        .unwrap();
        c.last_insert_id()
    };
    w.db.conn()
        .exec_drop(
            "UPDATE item SET processingmodule = ? WHERE id = ?",
            (other, w.item),
        )
        .unwrap();
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 1);
    assert!(out.contains("type=\"wrong_module\""), "{out}");

    let w = World::new();
    w.db
        .conn()
        .exec_drop(
            "UPDATE pricelist SET intname = 'comodo_dv' WHERE id = (SELECT pricelist FROM item WHERE id = ?)",
            (w.item,),
        )
        .unwrap();
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 1);
    assert!(out.contains("pricelist_intname"), "{out}");
    assert!(applied(&w.up, "certificate.order.param").is_empty());

    // prolong of an item never ordered: a clear error, nothing paid.
    let w = World::new();
    let (_, code, out) = w.operation("prolong");
    assert_eq!(code, 1);
    assert!(out.contains("pmss_upstream_id"), "{out}");
    assert!(w.up.journal().iter().all(|e| e.func != "service.prolong"));
}

/// A plain open costs seven mgrctl calls — `paramlist`, the intent
/// before sending, the upstream id (which also proves the order finished),
/// the sub-status the upstream shows (written once), the report, and what
/// the first sync shows the customer of the validation (the names to verify
/// and the words) — and two upstream calls: the order and the first sync's read.
#[test]
fn open_makes_seven_mgrctl_calls_and_writes_the_status_once() {
    let w = World::new();
    w.mgr.clear_journal();
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert!(w.db.running_operation(ro).is_none());
    assert_eq!(
        mgrctl_calls(&w),
        [
            "paramlist",
            "service.saveparam:pmss_intent",
            "service.saveparam:pmss_upstream_id",
            "service.setstatus",
            "service.postopen",
            // what the customer must do for the CA: the names to verify, and in words
            "service.saveparam:domains_list",
            "service.saveparam:pmss_domain_validation",
        ]
    );
    let funcs: Vec<String> = w.up.journal().iter().map(|e| e.func.clone()).collect();
    assert_eq!(funcs, ["certificate.order.param", "certificate.edit"]);
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
    // The intent stays as written before sending; the stored id beside it
    // is what says the order is done.
    let stored = Intent::from_param(w.param("pmss_intent").as_deref())
        .unwrap()
        .unwrap();
    assert_eq!((stored.op, stored.phase), (IntentOp::Open, Phase::Sent));
    assert_eq!(
        w.param("pmss_upstream_id"),
        Some(w.upstream_id().to_string())
    );
}

/// mgrctl calls of one run, as `func` or `func:param` for `saveparam`.
fn mgrctl_calls(w: &World) -> Vec<String> {
    w.mgr
        .journal()
        .iter()
        .map(|e| match e["params"]["name"].as_str() {
            Some(name) => format!("{}:{name}", e["func"].as_str().unwrap_or_default()),
            None => e["func"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// `sync_item`: `paramlist`, then one write per fact that
/// changed — none when nothing did.
#[test]
fn sync_item_writes_once_per_changed_fact() {
    let w = World::new();
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}");
    let id = w.upstream_id();
    let sync = |w: &World| {
        w.mgr.clear_journal();
        let (code, out) = w.run("sync_item", None);
        assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
        mgrctl_calls(w)
    };
    assert_eq!(sync(&w), ["paramlist"], "nothing changed");
    w.up.tick();
    assert_eq!(
        sync(&w),
        [
            "paramlist",
            // the CN validated, the other names still to verify
            "service.saveparam:domains_list",
            "service.saveparam:pmss_domain_validation",
            "service.setstatus"
        ],
        "enrolled: the validation and the sub-status"
    );
    assert_eq!(w.param("service_status").as_deref(), Some("4"));
    assert_eq!(sync(&w), ["paramlist"], "nothing changed");
    w.up.issue(Some(id));
    assert_eq!(
        sync(&w),
        [
            "paramlist",
            // the certificate
            "certificate.save",
            // the upstream's own term
            "service.saveparam:pmss_upstream_expiry",
            // the local paid term
            "service.setexpiredate",
            // every name validated: none left to verify, and in words
            "service.saveparam:domains_list",
            "service.saveparam:pmss_domain_validation",
            // what the service form shows of the certificate: validity and serial
            "service.saveparam:pmss_certificate",
            // the plan: next action and whether it needs a fresh validation
            "service.saveparam:pmss_next_action",
            // the record of the paid term a renewal counts one period from
            "service.saveparam:pmss_paid_until",
            // the sub-status, last: what the bulk sync takes as "up to date"
            "service.setstatus",
        ],
        "issued for the first time"
    );
    assert_eq!(sync(&w), ["paramlist"], "nothing changed");
}

/// Under the BILLmanager 5 convention the first issuance is reported with
/// `certificate.open` (report.rs, module-protocol.md §12.5 "on first
/// issuance"); a reissue's certificate is saved without reporting it again.
#[test]
fn bm5_reports_the_first_issuance_only() {
    let w = World::new();
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{CONFIG}open_convention = \"bm5\"\n"),
    )
    .unwrap();
    let id = w.issued();
    assert_eq!(w.mgr.mgrctl_count("certificate.open"), 1);
    let first =
        w.db.certificate_crt(w.item)
            .expect("the first certificate saved");
    let (_, code, out) = w.operation("reopen");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    w.up.issue(Some(id));
    assert_eq!(w.run("sync_item", None).0, 0);
    assert_eq!(w.param("service_status").as_deref(), Some("5"));
    // The reissue really came through: another certificate is saved.
    let reissued =
        w.db.certificate_crt(w.item)
            .expect("the reissued certificate saved");
    assert_ne!(
        reissued, first,
        "the reissued certificate replaced the first"
    );
    assert_eq!(
        w.mgr.mgrctl_count("certificate.open"),
        1,
        "not again for the reissue"
    );
}

/// A first-issue report that fails is made again by the next pass: the
/// sub-status "issued", after which no pass reports, is written only after
/// it (the stand-in's `Fault fail`: an error, nothing stored).
#[test]
fn bm5_first_issue_report_that_failed_is_made_by_the_next_pass() {
    let w = World::with_mgrctl_conf(&["Fault fail certificate.open 1"]);
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{CONFIG}open_convention = \"bm5\"\n"),
    )
    .unwrap();
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}");
    w.up.issue(Some(w.upstream_id()));
    let (code, out) = w.run("sync_item", None);
    assert_eq!(code, 1, "the report failed: {out}");
    assert_ne!(w.param("service_status").as_deref(), Some("5"));
    let (code, out) = w.run("sync_item", None);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.param("service_status").as_deref(), Some("5"));
    let reports: Vec<String> = w
        .mgr
        .journal()
        .iter()
        .filter(|e| e["func"] == "certificate.open")
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(reports, ["fault:fail", "ok"]);
}

#[test]
fn instantly_issued_certificate_lands_on_open() {
    let w = World::new();
    w.up.knobs(&[("issue_mode", "instant")]);
    let (_, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.param("service_status").as_deref(), Some("5"));
    assert!(w.db.certificate_crt(w.item).is_some());
    assert!(w.expiry().is_some());
}

#[test]
fn bulk_sync_reads_only_what_changed() {
    let w = World::new();
    let (_, code, _) = w.operation("open");
    assert_eq!(code, 0);
    let first = w.item;
    let tariff: u64 =
        w.db.conn()
            .exec_first("SELECT pricelist FROM item WHERE id = ?", (first,))
            .unwrap()
            .unwrap();
    let second = w.db.seed_certificate_item(
        w.module,
        tariff,
        12,
        &certificate_params(),
        Some(EXAMPLE_CSR),
    );
    let w2 = World { item: second, ..w };
    let (_, code, out) = w2.operation("open");
    assert_eq!(code, 0, "{out}");
    w2.up.issue(None);
    let module = w2.module.to_string();
    let (code, out, err) = run_module(&w2.mgr, &["sync", "--module", &module], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 certificates"), "{out}");
    assert!(out.contains("2 read upstream, 2 updated"), "{out}");
    for item in [first, second] {
        assert_eq!(
            w2.db.item_param(item, "service_status").as_deref(),
            Some("5")
        );
        assert!(w2.db.certificate_crt(item).is_some());
    }
    let views_before = w2
        .up
        .journal()
        .iter()
        .filter(|e| e.func == "certificate.edit")
        .count();
    let (code, out, _) = run_module(&w2.mgr, &["sync", "--module", &module], None);
    assert_eq!(code, 0);
    assert!(out.contains("0 read upstream, 0 updated"), "{out}");
    let journal = w2.up.journal();
    assert_eq!(
        journal
            .iter()
            .filter(|e| e.func == "certificate.edit")
            .count(),
        views_before,
        "no per-item read when nothing changed"
    );
    assert!(
        journal.iter().any(|e| e.func == "certificate"),
        "one list call"
    );
}

#[test]
fn approver_lists_constructed_addresses_per_domain() {
    let w = World::new();
    let (code, out, _) = run_module(
        &w.mgr,
        &[
            "--command",
            "approver",
            "--module",
            &w.module.to_string(),
            "--domain",
            "*.shop.example.co.uk,example.org",
            "--intname",
            "ssl_3040",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("<domain name=\"*.shop.example.co.uk\">"),
        "{out}"
    );
    assert!(out.contains("<approver>admin@shop.example.co.uk</approver>"));
    assert!(out.contains("<approver>webmaster@example.co.uk</approver>"));
    assert!(!out.contains("@co.uk<"), "never the public suffix: {out}");
    assert!(out.contains("<approver>postmaster@example.org</approver>"));
}

#[test]
fn tariff_features_are_checked_before_paying() {
    let w = World::new();
    // The upstream catalog cached as `pmsslreseller catalog refresh` leaves it.
    let export = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sim/fixtures/catalog.xml"
    ))
    .unwrap();
    let catalog =
        pmsslreseller::catalog::parse_export(&export, w.module, "2026-01-01T00:00:00Z").unwrap();
    pmsslreseller::catalog::cache::save(&w.mgr.root(), &catalog).unwrap();
    // Single-name tariff, but the item asks for two SANs.
    w.db
        .conn()
        .exec_drop(
            "UPDATE pricelist SET intname = 'ssl_3033' WHERE id = (SELECT pricelist FROM item WHERE id = ?)",
            (w.item,),
        )
        .unwrap();
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1);
    assert!(out.contains("object=\"altname\""), "{out}");
    assert!(out.contains("multi-domain"), "{out}");
    // A period the tariff is not sold for.
    w.db
        .conn()
        .exec_drop(
            "UPDATE pricelist SET intname = 'ssl_3040' WHERE id = (SELECT pricelist FROM item WHERE id = ?)",
            (w.item,),
        )
        .unwrap();
    w.db.conn()
        .exec_drop("UPDATE item SET period = 7 WHERE id = ?", (w.item,))
        .unwrap();
    w.db.bump_trycount(ro);
    let (code, out) = w.run("open", Some(ro));
    assert_eq!(code, 1);
    assert!(out.contains("object=\"period\""), "{out}");
    assert!(
        w.up.journal()
            .iter()
            .all(|e| e.func != "certificate.order.param"),
        "nothing was sent upstream"
    );
    // Fixed: it orders.
    w.db.conn()
        .exec_drop("UPDATE item SET period = 12 WHERE id = ?", (w.item,))
        .unwrap();
    w.db.bump_trycount(ro);
    assert_eq!(w.run("open", Some(ro)).0, 0);
    assert_eq!(applied(&w.up, "certificate.order.param").len(), 1);
}

// ---------------------------------------------------------------------------
// Crashes: the process died after the upstream committed, before the local
// save. Reproduced by doing the upstream half with the real client and
// leaving the intent the crashed run would have left.

fn client(w: &World) -> pmsslreseller::upstream::Client {
    let conn = pmsslreseller::upstream::Connection {
        url: w.up.url(),
        username: USER.into(),
        password: pmsslreseller::secret::Secret::new(PASSWORD),
    };
    pmsslreseller::upstream::Client::new(&conn, &Default::default()).unwrap()
}

fn leave_intent(w: &World, intent: &Intent) {
    w.set_param("pmss_intent", &intent.to_json());
}

/// An `open` run that crashed after ordering: its operation, the open intent
/// as `open` writes it before ordering (remoteid, cn, pricelist, period),
/// then the order placed upstream. Returns (the operation, the order's id).
fn open_crashed_after_order(w: &World) -> (u64, u64) {
    let ro = w.db.create_running_operation(w.item, "open");
    let mut intent = Intent::new(
        IntentOp::Open,
        1,
        1,
        Some(ro),
        chrono::Utc::now().timestamp(),
    );
    intent.remoteid = Some(w.item.to_string());
    intent.cn = Some("example.com".into());
    intent.pricelist = Some(TARIFF);
    intent.period = Some(12);
    leave_intent(w, &intent);
    let id = client(w)
        .certificate_order(&pmsslreseller::upstream::CertOrder {
            pricelist: TARIFF,
            period: pmsslreseller::vocab::OrderPeriod::Months(12),
            remoteid: w.item.to_string(),
            cn: "example.com".into(),
            csr: EXAMPLE_CSR.into(),
            altnames: vec!["www.example.com".into(), "mail.example.com".into()],
            approver_method: None,
            approver_emails: vec![],
            extra: vec![],
        })
        .unwrap();
    (ro, id)
}

/// Under each way the upstream may (not) show `remoteid` (A-U10): in the
/// list, only in the view (default), nowhere.
#[test]
fn crash_after_order_is_adopted_not_ordered_again() {
    for knobs in [
        vec![],
        vec![("list_remoteid", "on")],
        vec![("edit_remoteid", "off")],
    ] {
        crash_after_order(&knobs);
    }
}

fn crash_after_order(knobs: &[(&str, &str)]) {
    let w = World::new();
    w.up.knobs(knobs);
    // The crashed run: intent written, order placed, then death.
    let (ro, id) = open_crashed_after_order(&w);
    // BILLmanager reruns the operation.
    w.db.bump_trycount(ro);
    let from = w.up.journal().len();
    let (code, out) = w.run("open", Some(ro));
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(
        applied(&w.up, "certificate.order.param").len(),
        1,
        "no second order"
    );
    // One read of the list (its page and the empty page that ends it), one
    // view: a candidate confirmed by its view is not read again for the
    // first sync.
    let calls: Vec<String> = w.up.journal()[from..]
        .iter()
        .map(|e| e.func.clone())
        .collect();
    assert_eq!(
        calls,
        ["certificate", "certificate", "certificate.edit"],
        "{knobs:?}"
    );
    assert_eq!(w.upstream_id(), id);
    assert!(w.db.running_operation(ro).is_none());
    let stored = Intent::from_param(w.param("pmss_intent").as_deref())
        .unwrap()
        .unwrap();
    assert_eq!(stored.phase, Phase::Done);
    assert!(w.mgr.module_log().contains("adopting it"));
}

/// The crashed run got as far as storing the upstream id, then died before
/// the sub-status and the report: the rerun finishes from the stored id
/// (it proves the order), with no list lookup and no second order.
#[test]
fn crash_after_the_id_is_stored_finishes_without_looking_up() {
    let w = World::new();
    let (ro, id) = open_crashed_after_order(&w);
    w.set_param("pmss_upstream_id", &id.to_string());
    w.up.clear_journal();
    w.db.bump_trycount(ro);
    let (code, out) = w.run("open", Some(ro));
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let funcs: Vec<String> = w.up.journal().iter().map(|e| e.func.clone()).collect();
    assert_eq!(funcs, ["certificate.edit"], "only the first sync's read");
    assert!(w.db.running_operation(ro).is_none(), "reported");
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
    // The next operation is not held up by the order's intent.
    let (close, code, out) = w.operation("close");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert!(w.db.running_operation(close).is_none());
    assert_eq!(applied(&w.up, "certificate.delete").len(), 1);
}

#[test]
fn crash_after_renewal_is_adopted_not_paid_again() {
    let w = World::new();
    let id = w.issued();
    let before = w.expiry().unwrap();
    let ro = w.db.create_running_operation(w.item, "prolong");
    let mut intent = Intent::new(
        IntentOp::Prolong,
        2,
        1,
        Some(ro),
        chrono::Utc::now().timestamp(),
    );
    intent.upstream_id = Some(id);
    intent.period = Some(12);
    intent.before.expiry = Some(before.clone());
    leave_intent(&w, &intent);
    client(&w).service_prolong(id, 12).unwrap();
    w.db.bump_trycount(ro);
    let (code, out) = w.run("prolong", Some(ro));
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(
        applied(&w.up, "service.prolong").len(),
        1,
        "no second renewal"
    );
    assert_eq!(w.expiry(), Some(add_months(&before, 12)));
    assert!(w.db.running_operation(ro).is_none());
}

#[test]
fn renewal_already_applied_upstream_is_not_paid_again() {
    // Renewed upstream by other means (or the intent was lost): the upstream
    // expiry is past the local one, so prolong adopts it.
    let w = World::new();
    let id = w.issued();
    let before = w.expiry().unwrap();
    client(&w).service_prolong(id, 12).unwrap();
    let (ro, code, out) = w.operation("prolong");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        applied(&w.up, "service.prolong").len(),
        1,
        "no second renewal"
    );
    assert_eq!(w.expiry(), Some(add_months(&before, 12)));
    assert!(w.db.running_operation(ro).is_none());
}
