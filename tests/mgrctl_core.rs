//! The mgrctl stand-in's core mode (`Core on` in billmgr-sim.conf): each `mgrctl` process hands
//! its call to a long-lived core that holds the database connections, as a real `mgrctl` hands it
//! to the running BILLmanager. The first call starts the core, eight first calls at once start
//! one, calls are applied exactly as in direct mode (same database rows, same journal, same
//! answers), faults and config changes apply per call, and the core goes away by itself when
//! idle, after a stale socket, or when killed mid-call (the client then says so, and the next
//! call starts a new one).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use support::billing::{mysql_socket, openssl_decrypt, TestDb, TestMgr};

/// The test clock and caller every call of the comparison carries.
const TEST_NOW: &str = "2027-03-04T10:00:00Z";
const CALLER: &str = "pmsslreseller-core-test";

fn mgrctl_args(func: &str, params: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["-m", "billmgr", "-o", "xml", func]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(params.iter().cloned());
    v
}

/// Runs the stand-in of `root` with a fixed caller (SSH_CONNECTION, test clock, working
/// directory: the checkout), so that two roots' journals can be compared.
fn run(root: &Path, args: &[String]) -> (i32, String, String) {
    let out = Command::new(root.join("sbin/mgrctl"))
        .args(args)
        .env_remove("MGR5_ROOT")
        .env("SSH_CONNECTION", CALLER)
        .env("PMSSLRESELLER_TEST_NOW", TEST_NOW)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run the mgrctl stand-in");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(root: &Path, func: &str, params: &[&str]) -> String {
    let params: Vec<String> = params.iter().map(|s| s.to_string()).collect();
    let (code, out, err) = run(root, &mgrctl_args(func, &params));
    assert_eq!(code, 0, "{func}: {out}{err}");
    out
}

/// A call that fails (exit 1); its answer.
fn fails(root: &Path, func: &str, params: &[&str]) -> String {
    let params: Vec<String> = params.iter().map(|s| s.to_string()).collect();
    let (code, out, err) = run(root, &mgrctl_args(func, &params));
    assert_eq!(code, 1, "{func}: {out}{err}");
    out
}

/// Whether `pid` still runs (a zombie does not: nobody may reap a detached core at once).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn starts(mgr: &TestMgr) -> usize {
    mgr.core_log().matches(": serving ").count()
}

#[test]
fn the_first_call_starts_the_core_and_later_calls_reuse_it() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let it = db.seed_bare_item();
    assert_eq!(mgr.core_pid(), None);
    let out = ok(mgr.path(), "paramlist", &[]);
    assert!(out.contains(&db.name), "{out}");
    let pid = mgr.core_pid().expect("the first call started a core");
    assert!(alive(pid));
    let elid = format!("elid={it}");
    for st in ["3", "4", "5"] {
        ok(
            mgr.path(),
            "service.setstatus",
            &[&elid, &format!("service_status={st}")],
        );
    }
    assert_eq!(db.item_param(it, "service_status").as_deref(), Some("5"));
    assert_eq!(
        mgr.core_pid(),
        Some(pid),
        "the same core answered every call"
    );
    assert_eq!(starts(&mgr), 1, "{}", mgr.core_log());
    // The journal names the calling process, not the core.
    for e in mgr.journal() {
        assert_ne!(e["pid"].as_i64(), Some(i64::from(pid)));
        assert_eq!(e["ssh_connection"], CALLER);
        assert_eq!(e["cwd"], env!("CARGO_MANIFEST_DIR"));
    }
    // The whole billmgr-sim is a core-mode client too (the small billmgr-sim-mgrctl is
    // what TestMgr links), answered by the same core.
    let out = Command::new(support::bin_path("billmgr-sim"))
        .arg("mgrctl")
        .args(mgrctl_args("task.gettype", &["operation=open".into()]))
        .env("MGR5_ROOT", mgr.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mgr.core_pid(), Some(pid));
    assert_eq!(mgr.journal().len(), 5);
    drop(mgr);
    wait_until(
        "the dropped TestMgr stopped its core",
        Duration::from_secs(5),
        || !alive(pid),
    );
}

#[test]
fn without_core_on_the_small_client_is_the_whole_stand_in() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let it = db.seed_bare_item();
    // Core off: billmgr-sim-mgrctl becomes billmgr-sim mgrctl (same process), so direct mode
    // answers, errors included, exactly as ever.
    mgr.write_conf("localhost", "root", "", &mysql_socket(), &["Core off"]);
    ok(
        mgr.path(),
        "service.setstatus",
        &[&format!("elid={it}"), "service_status=3"],
    );
    assert_eq!(db.item_param(it, "service_status").as_deref(), Some("3"));
    let out = fails(mgr.path(), "no.such", &[]);
    assert!(out.contains("unknown_function"), "{out}");
    assert_eq!(mgr.core_pid(), None, "no core was started");
    // A config billmgr-sim refuses is refused the same way through the small client.
    mgr.write_conf("localhost", "root", "", &mysql_socket(), &["Core maybe"]);
    let out = fails(mgr.path(), "paramlist", &[]);
    assert!(out.contains("Core must be on or off"), "{out}");
}

#[test]
fn eight_first_calls_at_once_start_one_core() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let items: Vec<u64> = (0..8).map(|_| db.seed_bare_item()).collect();
    let root = mgr.path();
    std::thread::scope(|s| {
        for it in &items {
            s.spawn(move || {
                ok(
                    root,
                    "service.setstatus",
                    &[&format!("elid={it}"), "service_status=4"],
                )
            });
        }
    });
    for it in &items {
        assert_eq!(db.item_param(*it, "service_status").as_deref(), Some("4"));
    }
    assert_eq!(starts(&mgr), 1, "{}", mgr.core_log());
    assert_eq!(mgr.journal().len(), 8);
}

/// A table's rows as text, by id, without columns that hold the time of seeding.
fn dump(db: &TestDb, table: &str) -> Vec<Vec<(String, String)>> {
    let rows: Vec<mysql::Row> = db
        .conn()
        .query(format!("SELECT * FROM {table} ORDER BY id"))
        .unwrap();
    rows.into_iter()
        .map(|row| {
            let names: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect();
            names
                .into_iter()
                .zip(row.unwrap())
                .filter(|(n, _)| !["cdate", "balance_date"].contains(&n.as_str()))
                .map(|(n, v)| (n, v.as_sql(false)))
                .collect()
        })
        .collect()
}

/// Crypted params decrypted: the ciphertext differs each time (random padding).
fn crypted(db: &TestDb) -> Vec<(u64, String, String)> {
    let rows: Vec<(u64, String, String)> = db
        .conn()
        .query("SELECT item, intname, value FROM itemcryptedparam ORDER BY id")
        .unwrap();
    rows.into_iter()
        .map(|(i, n, v)| (i, n, openssl_decrypt(&v)))
        .collect()
}

/// The same calls against a direct root and a core root: the same rows, journal and answers.
#[test]
fn the_core_applies_calls_exactly_as_direct_mode() {
    let sequence = |db: &TestDb| -> Vec<(String, Vec<String>)> {
        let module = db.seed_module("https://upstream.example/billmgr", "reseller", "pw");
        let tariff = db.seed_certificate_tariff("ssl_3033");
        let it = db.seed_certificate_item(module, tariff, 12, &[("CN", "a.example")], None);
        let ro = db.create_running_operation(it, "open");
        let e = format!("elid={it}");
        let calls: Vec<(&str, Vec<String>)> = vec![
            ("paramlist", vec![]),
            (
                "service.saveparam",
                vec![
                    e.clone(),
                    "name=pmss_intent".into(),
                    "value=a b\nc=d ü".into(),
                ],
            ),
            (
                "service.saveparam",
                vec![e.clone(), "token=t0ps3cret".into(), "crypted=on".into()],
            ),
            ("service.saveparam", vec![e.clone(), "pmss_note=x".into()]),
            (
                "service.dropparam",
                vec![e.clone(), "name=pmss_note".into()],
            ),
            (
                "service.setstatus",
                vec![e.clone(), "service_status=5".into()],
            ),
            (
                "service.setexpiredate",
                vec![e.clone(), "expiredate=2028-03-04".into()],
            ),
            (
                "certificate.save",
                vec![e.clone(), "crt=-----BEGIN CERTIFICATE-----\nabc\n".into()],
            ),
            (
                "runningoperation.edit",
                vec![
                    format!("elid={ro}"),
                    "errorxml=<doc><error/></doc>".into(),
                    "manual=on".into(),
                ],
            ),
            (
                "task.gettype",
                vec!["operation=open".into(), format!("item={it}")],
            ),
            (
                "task.edit",
                vec![
                    format!("item={it}"),
                    format!("runningoperation={ro}"),
                    "type=open_failed".into(),
                    "note=n".into(),
                ],
            ),
            ("service.postopen", vec![e.clone(), "sok=ok".into()]),
            ("processing.edit", vec![format!("elid={module}")]),
            (
                "processing.savebalance",
                vec![
                    format!("processingmodule={module}"),
                    "balance=12.50".into(),
                    "currency=EUR".into(),
                ],
            ),
            (
                "service.setstatus",
                vec![e.clone(), "service_status=abc".into()],
            ),
            (
                "service.setstatus",
                vec!["elid=999999".into(), "service_status=1".into()],
            ),
            ("no.such.function", vec![e.clone()]),
            (
                "problems.register",
                vec!["name=pmss_test".into(), "id=1".into(), "param_x=y".into()],
            ),
        ];
        calls.into_iter().map(|(f, p)| (f.to_string(), p)).collect()
    };
    let direct_db = TestDb::create();
    let direct = TestMgr::new(&direct_db);
    let core_db = TestDb::create();
    let core = TestMgr::with_core(&core_db);
    let answers = |mgr: &TestMgr, db: &TestDb| -> Vec<(i32, String)> {
        sequence(db)
            .iter()
            .map(|(f, p)| {
                let (code, out, _) = run(mgr.path(), &mgrctl_args(f, p));
                (code, out.replace(&db.name, "DB"))
            })
            .collect()
    };
    let a = answers(&direct, &direct_db);
    let b = answers(&core, &core_db);
    assert!(core.core_pid().is_some(), "the core root used a core");
    assert_eq!(a, b, "answers and exit codes");
    assert!(
        a.iter().filter(|(c, _)| *c != 0).count() >= 3,
        "errors were compared too"
    );
    for table in [
        "item",
        "itemparam",
        "certificate",
        "runningoperation",
        "task",
        "processingmodule",
    ] {
        assert_eq!(
            dump(&direct_db, table),
            dump(&core_db, table),
            "table {table}"
        );
    }
    assert_eq!(crypted(&direct_db), crypted(&core_db));
    assert_eq!(
        dump(&core_db, "item")[0]
            .iter()
            .find(|(n, _)| n == "opendate")
            .map(|(_, v)| v.clone()),
        Some("'2027-03-04'".to_string()),
        "the caller's test clock dated the opening"
    );
    let journal = |mgr: &TestMgr| -> Vec<serde_json::Value> {
        mgr.journal()
            .into_iter()
            .map(|mut e| {
                let o = e.as_object_mut().unwrap();
                assert!(o.remove("time").is_some());
                assert!(o.remove("pid").and_then(|p| p.as_u64()).is_some());
                e
            })
            .collect()
    };
    assert_eq!(journal(&direct), journal(&core));
    assert_eq!(
        std::fs::read_to_string(direct.path().join("var/mgrctl-problems.json")).unwrap(),
        std::fs::read_to_string(core.path().join("var/mgrctl-problems.json")).unwrap()
    );
}

#[test]
fn faults_and_config_changes_apply_per_call() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let it = db.seed_bare_item();
    let elid = format!("elid={it}");
    let socket = mysql_socket();
    mgr.write_conf(
        "localhost",
        "root",
        "",
        &socket,
        &[
            "Fault drop service.setstatus 2",
            "Fault fail_after service.setexpiredate *",
            "TaskType open -",
        ],
    );
    ok(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=1"],
    );
    let pid = mgr.core_pid().unwrap();
    ok(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=2"],
    );
    assert_eq!(
        db.item_param(it, "service_status").as_deref(),
        Some("1"),
        "the 2nd setstatus was dropped"
    );
    let out = fails(
        mgr.path(),
        "service.setexpiredate",
        &[&elid, "expiredate=2030-01-02"],
    );
    assert!(out.contains("type=\"fault\""), "{out}");
    assert_eq!(db.item_dates(it).0.as_deref(), Some("2030-01-02"));
    assert!(!ok(mgr.path(), "task.gettype", &["operation=open"]).contains("task_type"));
    // The same core reads the rewritten config at its next call.
    mgr.write_conf(
        "localhost",
        "root",
        "",
        &socket,
        &["TaskType open ssl_open"],
    );
    let out = ok(mgr.path(), "task.gettype", &["operation=open"]);
    assert!(out.contains("<task_type>ssl_open</task_type>"), "{out}");
    ok(
        mgr.path(),
        "service.setexpiredate",
        &[&elid, "expiredate=2031-01-02"],
    );
    assert_eq!(mgr.core_pid(), Some(pid));
    let outcomes: Vec<String> = mgr
        .journal()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        outcomes,
        ["ok", "fault:drop", "fault:fail_after", "ok", "ok", "ok"]
    );
    // Settings that cannot reach the database: a clear error, then the right ones work again.
    mgr.write_conf("localhost", "nosuchuser", "", &socket, &[]);
    let out = fails(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=3"],
    );
    assert!(out.contains("type=\"database\""), "{out}");
    mgr.write_conf("localhost", "root", "", &socket, &[]);
    ok(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=3"],
    );
    assert_eq!(db.item_param(it, "service_status").as_deref(), Some("3"));
}

#[test]
fn an_idle_core_stops_by_itself_and_the_next_call_starts_another() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    // Idle for 3 s: long enough for this thread to read the pid and socket
    // of the running core on a loaded machine.
    mgr.write_conf("localhost", "root", "", &mysql_socket(), &["CoreIdle 3"]);
    ok(mgr.path(), "paramlist", &[]);
    let pid = mgr.core_pid().unwrap();
    let socket = mgr.path().join("var/run/billmgr-sim-core.sock");
    assert!(socket.exists());
    wait_until("the idle core stopped", Duration::from_secs(10), || {
        !alive(pid)
    });
    assert!(!socket.exists(), "the core removed its socket");
    assert_eq!(mgr.core_pid(), None, "the core removed its pid file");
    assert!(
        mgr.core_log().contains("stopped (idle)"),
        "{}",
        mgr.core_log()
    );
    ok(mgr.path(), "paramlist", &[]);
    let next = mgr.core_pid().unwrap();
    assert_ne!(next, pid);
    assert_eq!(starts(&mgr), 2);
}

#[test]
fn a_socket_left_by_a_dead_core_is_replaced() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let run_dir = mgr.path().join("var/run");
    std::fs::create_dir_all(&run_dir).unwrap();
    // A socket file nobody listens on, and a pid file naming no core: a core killed hard.
    drop(std::os::unix::net::UnixListener::bind(run_dir.join("billmgr-sim-core.sock")).unwrap());
    std::fs::write(run_dir.join("billmgr-sim-core.pid"), "999999999\n").unwrap();
    ok(mgr.path(), "paramlist", &[]);
    assert_ne!(mgr.core_pid(), Some(999_999_999));
    assert!(
        mgr.core_log()
            .contains("removed the socket of a core that is gone"),
        "{}",
        mgr.core_log()
    );
}

/// Holds a write lock on `itemparam` until dropped, so that a call writing a param waits in the
/// database (in the core) for as long as the test needs.
struct TableLock<'a>(&'a TestDb);

impl<'a> TableLock<'a> {
    fn new(db: &'a TestDb) -> TableLock<'a> {
        db.conn().query_drop("LOCK TABLES itemparam WRITE").unwrap();
        TableLock(db)
    }

    /// Waits until another connection to this test's database (tests run at once) waits for
    /// the lock.
    fn wait_for_waiter(&self) {
        let db = self.0;
        wait_until(
            "a call waits for the table lock",
            Duration::from_secs(10),
            || {
                let n: Option<u64> = db
                    .conn()
                    .query_first(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE ID <> CONNECTION_ID() AND DB = DATABASE() AND INFO LIKE '%itemparam%'",
                    )
                    .unwrap();
                n.unwrap_or(0) > 0
            },
        );
    }
}

impl Drop for TableLock<'_> {
    fn drop(&mut self) {
        let _ = self.0.conn().query_drop("UNLOCK TABLES");
    }
}

#[test]
fn a_core_killed_mid_call_is_a_clear_error_and_the_next_call_starts_another() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let it = db.seed_bare_item();
    let elid = format!("elid={it}");
    ok(mgr.path(), "paramlist", &[]);
    let pid = mgr.core_pid().unwrap();
    let root = mgr.path();
    let lock = TableLock::new(&db);
    let (code, out) = std::thread::scope(|s| {
        let call = s.spawn(|| {
            run(
                root,
                &mgrctl_args(
                    "service.setstatus",
                    &[elid.clone(), "service_status=5".into()],
                ),
            )
        });
        lock.wait_for_waiter();
        // SAFETY: plain syscall on the core this test's root started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        let (code, out, _) = call.join().unwrap();
        (code, out)
    });
    drop(lock);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("<error type=\"core\""), "{out}");
    assert!(out.contains("whether it was applied is unknown"), "{out}");
    ok(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=4"],
    );
    assert_ne!(mgr.core_pid(), Some(pid));
    assert_eq!(db.item_param(it, "service_status").as_deref(), Some("4"));
}

#[test]
fn a_client_killed_mid_call_does_not_wedge_the_core() {
    let db = TestDb::create();
    let mgr = TestMgr::with_core(&db);
    let it = db.seed_bare_item();
    let elid = format!("elid={it}");
    ok(mgr.path(), "paramlist", &[]);
    let pid = mgr.core_pid().unwrap();
    let lock = TableLock::new(&db);
    let mut client = Command::new(mgr.mgrctl_path())
        .args(mgrctl_args(
            "service.setstatus",
            &[elid.clone(), "service_status=5".into()],
        ))
        .env_remove("MGR5_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lock.wait_for_waiter();
    client.kill().unwrap();
    client.wait().unwrap();
    drop(lock);
    // The core applies the call all the same (as BILLmanager does for a killed mgrctl)…
    wait_until(
        "the killed client's call was applied",
        Duration::from_secs(10),
        || db.item_param(it, "service_status").as_deref() == Some("5"),
    );
    // …and goes on answering.
    ok(
        mgr.path(),
        "service.setstatus",
        &[&elid, "service_status=2"],
    );
    assert_eq!(db.item_param(it, "service_status").as_deref(), Some("2"));
    assert_eq!(mgr.core_pid(), Some(pid));
}
