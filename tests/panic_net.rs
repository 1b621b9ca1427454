//! The panic net (README "Troubleshooting"): a bug that panics still answers
//! BILLmanager. The debug binary panics on purpose where
//! `PMSSLRESELLER_TEST_PANIC` names the command (honoured only in debug
//! builds, like the test clock); the panic message of a lifecycle command
//! carries the upstream password, so the net's redaction is tested too.
//!
//! A panic must give: error XML of type `internal` on stdout naming the
//! source location, exit code 1, one log line instead of the default dump
//! (and no backtrace, even with `RUST_BACKTRACE` set), the error recorded on
//! the running operation (through the mgrctl stand-in), and the password in
//! no stdout, stderr, log or mgrctl call.

mod support;

use mysql::prelude::Queryable;
use serde_json::json;

use support::billing::{certificate_params, run_module_env, TestDb, TestMgr, EXAMPLE_CSR};
use support::sim::SimUpstream;

const USER: &str = "reseller";
const PASSWORD: &str = "Panic-Net-Upstr3am!pw";
const PANIC_ENV: &str = "PMSSLRESELLER_TEST_PANIC";

struct World {
    _up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

fn world() -> World {
    let account = format!("{USER}:{PASSWORD}:1000.00:EUR");
    let up = SimUpstream::start_with(&["--account", account.as_str()]);
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
    let module = db.seed_module(&up.url(), USER, PASSWORD);
    let tariff = db.seed_certificate_tariff("ssl_3040");
    let item =
        db.seed_certificate_item(module, tariff, 12, &certificate_params(), Some(EXAMPLE_CSR));
    World {
        _up: up,
        db,
        mgr,
        module,
        item,
    }
}

/// Run with the panic trigger on `command` (and `RUST_BACKTRACE=1`: the net
/// never captures a backtrace). Where the trigger fires after the module's
/// settings are read, the panic message carries the upstream password: the
/// net must keep it out of everything it writes.
fn run_panicking(w: &World, command: &str, args: &[&str]) -> (i32, String, String) {
    let text = if command == "open" { PASSWORD } else { "" };
    run_module_env(
        &w.mgr,
        args,
        None,
        &[
            (PANIC_ENV, command),
            ("PMSSLRESELLER_TEST_PANIC_TEXT", text),
            ("RUST_BACKTRACE", "1"),
        ],
    )
}

fn assert_no_password(w: &World, out: &str, err: &str) {
    assert!(!out.contains(PASSWORD), "password on stdout: {out}");
    assert!(!err.contains(PASSWORD), "password on stderr: {err}");
    assert!(
        !w.mgr.module_log().contains(PASSWORD),
        "password in the log: {}",
        w.mgr.module_log()
    );
    assert!(
        !w.mgr.journal_text().contains(PASSWORD),
        "password passed to mgrctl"
    );
}

/// The one log line the hook writes: with the source location, no backtrace.
fn assert_one_panic_line(w: &World) {
    let log = w.mgr.module_log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("hit a bug")).collect();
    assert!(!lines.is_empty(), "the panic is logged: {log}");
    assert!(lines[0].contains("src/"), "with its location: {}", lines[0]);
    assert!(!log.contains("stack backtrace"), "no backtrace: {log}");
    assert!(!log.contains("rust_begin_unwind"), "no backtrace: {log}");
}

#[test]
fn a_panic_in_a_lifecycle_command_answers_error_xml_and_is_recorded_on_the_operation() {
    let w = world();
    let ro = w.db.create_running_operation(w.item, "open");
    w.db.bump_trycount(ro);
    let (item, ro_s) = (w.item.to_string(), ro.to_string());
    let (code, out, err) = run_panicking(
        &w,
        "open",
        &[
            "--command",
            "open",
            "--item",
            &item,
            "--runningoperation",
            &ro_s,
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("<?xml"), "{out}");
    assert!(out.contains("<error type=\"internal\""), "{out}");
    assert!(out.contains("hit a bug"), "{out}");
    assert!(out.contains("src/"), "names the location: {out}");
    assert!(out.contains("nothing more was done"), "{out}");
    assert!(
        !err.contains("panicked"),
        "no default dump on stderr: {err}"
    );
    assert!(!err.contains("stack backtrace"), "{err}");
    assert_one_panic_line(&w);
    let recorded =
        w.db.running_operation(ro)
            .and_then(|o| o.errorxml)
            .expect("the error is recorded on the running operation");
    assert!(recorded.contains("hit a bug"), "{recorded}");
    assert!(w
        .mgr
        .journal_funcs()
        .iter()
        .any(|f| f == "runningoperation.edit"));
    assert_no_password(&w, &out, &err);
    // Nothing was ordered.
    assert_eq!(w.db.item_param(w.item, "pmss_upstream_id"), None);
}

#[test]
fn a_panic_in_another_billmanager_command_answers_error_xml() {
    let w = world();
    let (code, out, err) = run_panicking(&w, "features", &["--command", "features"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("<error type=\"internal\""), "{out}");
    assert!(out.contains("hit a bug"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
    assert_one_panic_line(&w);
    assert_no_password(&w, &out, &err);
}

#[test]
fn a_panic_in_an_admin_command_is_one_error_line() {
    let w = world();
    let module = w.module.to_string();
    let (code, out, err) = run_panicking(&w, "reconcile", &["reconcile", "--module", &module]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("hit a bug"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_no_password(&w, &out, &err);
}

#[test]
fn the_bulk_sync_turns_a_panic_into_that_items_error() {
    let w = world();
    // An ordered, issued item: the bulk sync looks at it.
    let up_id = w._up.seed_certificate(json!({
        "username": USER,
        "cn": "example.com",
        "pricelist": 3040,
        "service_status": 5,
        "remoteid": w.item.to_string(),
    }));
    w.db.conn()
        .exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_upstream_id', ?)",
            (w.item, up_id.to_string()),
        )
        .unwrap();
    let module = w.module.to_string();
    let (code, out, err) = run_panicking(&w, "sync_item", &["sync", "--module", &module]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("1 errors"), "the summary still comes: {out}");
    assert!(!err.contains("panicked"), "{err}");
    let log = w.mgr.module_log();
    assert!(
        log.contains(&format!("item {}: sync failed", w.item)),
        "the item's error: {log}"
    );
    assert_one_panic_line(&w);
    assert_no_password(&w, &out, &err);
}

#[test]
fn without_the_trigger_nothing_panics() {
    let w = world();
    let (code, out, _) = run_module_env(&w.mgr, &["--command", "features"], None, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!w.mgr.module_log().contains("hit a bug"));
}
