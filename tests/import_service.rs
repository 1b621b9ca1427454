//! Service import end to end: the real `pmsslreseller`
//! binary, the `billmgr-sim mgrctl` stand-in on MariaDB, and the simulator
//! upstream holding 50 certificates in mixed states. Checks what is linked,
//! what is skipped and why, that nothing is ordered or paid, that a rerun
//! imports nothing twice, and that a run killed half-way is safe to rerun.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use serde_json::json;

use support::billing::{
    certificate_params, run_module, run_module_env, run_operation, TestDb, TestMgr, EXAMPLE_CSR,
};
use support::bin_path;
use support::sim::{SimFault, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Tariffs with a local counterpart (`ssl_<id>`).
const TARIFF_A: u64 = 3040;
const TARIFF_B: u64 = 3033;
/// An upstream tariff nobody created locally.
const NO_LOCAL_TARIFF: u64 = 9999;

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
}

/// Short timeouts and a settle window of a minute on the test clock.
/// An `mgrctl` timeout every ordinary call meets even on a loaded machine,
/// well below the stand-in's `Fault delay` of the lost import.
const SHORT_TIMEOUTS: &str = "[upstream]\ntimeout_secs = 3\nconnect_timeout_secs = 1\n\n\
[mgrctl]\ntimeout_secs = 3\n\n[lifecycle]\nsettle_secs = 60\n";

impl World {
    fn new() -> World {
        World::with(false, &[])
    }

    /// `core`: the mgrctl stand-in in core mode (a call whose mgrctl was
    /// killed is still applied); `knobs`: simulator knobs `NAME=VALUE`.
    fn with(core: bool, knobs: &[&str]) -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .knobs(knobs)
            .core_mgrctl(core)
            .tariffs(&[TARIFF_A, TARIFF_B])
            .build();
        let module = base.module();
        let Base { up, db, mgr, .. } = base;
        // The provider's own account: where BILLmanager puts services
        // imported without --account (the stand-in takes the lowest id).
        db.conn()
            .query_drop("INSERT INTO account (name, project) VALUES ('Provider', 1)")
            .unwrap();
        World {
            up,
            db,
            mgr,
            module,
        }
    }

    fn admin(&self, args: &[&str]) -> (i32, String, String) {
        let module = self.module.to_string();
        let mut all = vec!["import", "--module", module.as_str()];
        all.extend_from_slice(args);
        run_module(&self.mgr, &all, None)
    }

    /// `pmsslreseller import --module N` with the module's clock at `now`.
    fn import_at(&self, now: &str) -> (i32, String) {
        let module = self.module.to_string();
        let (code, out, err) = run_module_env(
            &self.mgr,
            &["import", "--module", &module],
            None,
            &[("PMSSLRESELLER_TEST_NOW", now)],
        );
        (code, format!("{out}{err}"))
    }

    /// The table line of upstream certificate `id`.
    fn line(out: &str, id: u64) -> String {
        out.lines()
            .find(|l| l.trim_start().starts_with(&id.to_string()))
            .unwrap_or_else(|| panic!("no line for {id}:\n{out}"))
            .to_string()
    }

    /// The local tariff `ssl_<TARIFF_A>`.
    fn tariff_a(&self) -> u64 {
        self.db
            .conn()
            .query_first(format!(
                "SELECT id FROM pricelist WHERE intname = 'ssl_{TARIFF_A}'"
            ))
            .unwrap()
            .unwrap()
    }

    /// `processing.import.service` calls the stand-in journaled so far.
    fn import_calls(&self) -> usize {
        self.mgr.mgrctl_count("processing.import.service")
    }

    /// Local services linked to an upstream id: upstream id → service ids.
    fn links(&self) -> BTreeMap<u64, Vec<u64>> {
        let rows: Vec<(u64, String)> = self
            .db
            .conn()
            .query("SELECT item, value FROM itemparam WHERE intname = 'pmss_upstream_id'")
            .unwrap();
        let mut out: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (item, v) in rows {
            out.entry(v.parse().unwrap()).or_default().push(item);
        }
        out
    }

    fn item_count(&self) -> u64 {
        self.db
            .conn()
            .query_first("SELECT COUNT(*) FROM item")
            .unwrap()
            .unwrap()
    }

    fn item_row(&self, item: u64) -> (i32, i32, Option<String>, Option<String>, String, u64) {
        self.db
            .conn()
            .exec_first(
                "SELECT status, period, CAST(expiredate AS CHAR), CAST(opendate AS CHAR), name, pricelist \
                 FROM item WHERE id = ?",
                (item,),
            )
            .unwrap()
            .unwrap()
    }

    /// Upstream functions that move money or change certificates.
    fn mutating_calls(&self) -> Vec<String> {
        self.up
            .journal()
            .into_iter()
            .map(|e| e.func)
            .filter(|f| f != "certificate" && f != "certificate.edit" && f != "whoami")
            .collect()
    }
}

/// What the test expects for each seeded upstream certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Linked with item status, sub-status, and a saved certificate or not.
    Link(i32, &'static str, bool),
    Skip(&'static str),
}

/// 50 upstream certificates in mixed states, plus one already linked, one
/// ordered by us (remoteid of a local service) and one deleted.
fn seed_fifty(w: &World) -> BTreeMap<u64, Expect> {
    let mut expect = BTreeMap::new();
    for n in 0..50u32 {
        let cn = format!("site{n}.example.com");
        let (body, e) = match n % 10 {
            0..=3 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_A, "altnames": [format!("www.{cn}")],
                       "expiredate": "2030-01-15"}),
                Expect::Link(2, "5", true),
            ),
            4 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_B, "period": 24, "expiredate": "2031-02-01"}),
                Expect::Link(2, "5", true),
            ),
            5 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_A, "status": 5, "service_status": 4}),
                Expect::Link(2, "4", false),
            ),
            6 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_A, "expiredate": "2020-03-01"}),
                Expect::Link(3, "5", true),
            ),
            7 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_A, "service_status": 6}),
                Expect::Skip("failed at the certificate authority"),
            ),
            8 => (
                json!({"username": USER, "cn": cn, "pricelist": TARIFF_A, "status": 1, "service_status": 0}),
                Expect::Skip("not paid at the upstream"),
            ),
            _ => (
                json!({"username": USER, "cn": cn, "pricelist": NO_LOCAL_TARIFF}),
                Expect::Skip("no local tariff ssl_9999"),
            ),
        };
        expect.insert(w.up.seed_certificate(body), e);
    }
    expect
}

#[test]
fn import_links_fifty_mixed_certificates_once_and_orders_nothing() {
    let w = World::new();
    let expect = seed_fifty(&w);
    // Already linked: a local service holding the upstream id.
    let linked_up = w.up.seed_certificate(
        json!({"username": USER, "cn": "linked.example.com", "pricelist": TARIFF_A}),
    );
    let tariff = w.tariff_a();
    let local = w.db.seed_certificate_item(
        w.module,
        tariff,
        12,
        &[
            ("CN", "linked.example.com"),
            ("pmss_upstream_id", &linked_up.to_string()),
        ],
        None,
    );
    // Ordered by us for service `ordered_local` (remoteid), link not recorded.
    let ordered_local =
        w.db.seed_certificate_item(w.module, tariff, 12, &[("CN", "ours.example.com")], None);
    let orphan = w.up.drift(
        json!({"action": "orphan", "username": USER, "cn": "ours.example.com",
        "pricelist": TARIFF_A, "remoteid": ordered_local.to_string()}),
    )["id"]
        .as_u64()
        .unwrap();
    let deleted = w.up.seed_certificate(
        json!({"username": USER, "cn": "gone.example.com", "pricelist": TARIFF_A, "status": 4}),
    );
    let before = w.item_count();
    let balance_before = w.up.account(USER).balance;

    // Dry run: a table, nothing created.
    let (code, out, err) = w.admin(&["--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(w.item_count(), before);
    assert!(out.contains("would link"), "{out}");
    assert!(out.contains("35 would be linked"), "{out}");

    // The real run.
    let (code, out, err) = w.admin(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("35 linked"), "{out}");
    let links = w.links();
    for (up_id, e) in &expect {
        match e {
            Expect::Link(status, ss, has_crt) => {
                let items = links
                    .get(up_id)
                    .unwrap_or_else(|| panic!("{up_id} not linked\n{out}"));
                assert_eq!(items.len(), 1, "{up_id}");
                let item = items[0];
                let (st, _period, expiry, opendate, name, _) = w.item_row(item);
                assert_eq!(st, *status, "item status of upstream {up_id}");
                assert_eq!(
                    w.db.item_param(item, "service_status").as_deref(),
                    Some(*ss)
                );
                assert_eq!(w.db.certificate_crt(item).is_some(), *has_crt, "{up_id}");
                let cert = w.up.certificate(*up_id).unwrap();
                assert_eq!(name, cert["cn"].as_str().unwrap());
                assert_eq!(w.db.item_param(item, "CN").as_deref(), cert["cn"].as_str());
                assert_eq!(
                    expiry.as_deref(),
                    cert["expiredate"].as_str().filter(|s| !s.is_empty())
                );
                assert!(opendate.is_some());
            }
            Expect::Skip(why) => {
                assert!(!links.contains_key(up_id), "{up_id} must not be linked");
                let line = out
                    .lines()
                    .find(|l| l.trim_start().starts_with(&up_id.to_string()))
                    .unwrap();
                assert!(line.contains(why), "{line}");
            }
        }
    }
    // Names, tariff and period of one multi-domain certificate.
    let first = *expect.keys().next().unwrap();
    let item = links[&first][0];
    assert_eq!(
        w.db.item_param(item, "altname").as_deref(),
        Some("www.site0.example.com")
    );
    assert_eq!(w.item_row(item).5, tariff);
    let period_24 = expect.keys().nth(4).unwrap();
    assert_eq!(w.item_row(links[period_24][0]).1, 24);
    // The special ones.
    assert_eq!(links[&linked_up], vec![local], "already linked: untouched");
    assert!(!links.contains_key(&orphan), "{out}");
    assert!(
        out.contains(&format!(
            "ordered by this module for service {ordered_local}"
        )),
        "{out}"
    );
    assert!(!links.contains_key(&deleted));
    // Nothing ordered, renewed or paid.
    assert_eq!(w.mutating_calls(), Vec::<String>::new());
    assert_eq!(w.up.account(USER).balance, balance_before);
    assert!(!w.mgr.module_log().contains(PASSWORD));

    // A second run (and BILLmanager's own import command) imports nothing twice.
    let count = w.item_count();
    let (code, out, err) = w.admin(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 linked"), "{out}");
    let module = w.module.to_string();
    let (code, out, _) = run_module(
        &w.mgr,
        &[
            "--command",
            "import",
            "--module",
            &module,
            "--itemtype",
            "certificate",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("<doc"), "{out}");
    assert_eq!(w.item_count(), count);
    assert!(w.links().values().all(|v| v.len() == 1));
}

#[test]
fn import_of_one_id_for_an_account_and_bad_input() {
    let w = World::new();
    let a = w
        .up
        .seed_certificate(json!({"username": USER, "cn": "a.example.com", "pricelist": TARIFF_A}));
    let b = w
        .up
        .seed_certificate(json!({"username": USER, "cn": "b.example.com", "pricelist": TARIFF_A}));
    let account: u64 =
        w.db.conn()
            .exec_first(
                "INSERT INTO account (name, project) VALUES ('Buyer', 1) RETURNING id",
                (),
            )
            .unwrap()
            .unwrap();
    let (code, out, err) = w.admin(&["--id", &b.to_string(), "--account", &account.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let links = w.links();
    assert!(!links.contains_key(&a));
    let owner: u64 =
        w.db.conn()
            .exec_first("SELECT account FROM item WHERE id = ?", (links[&b][0],))
            .unwrap()
            .unwrap();
    assert_eq!(owner, account);
    // The ledger: one import row, cost 0, for the buyer; run again, still one.
    let ledger_rows = || {
        let books = pmsslreseller::books::Books::open_path(
            &w.mgr.path().join("var/pmsslreseller/books.sqlite"),
        )
        .unwrap();
        pmsslreseller::books::ledger::rows(&books, &Default::default()).unwrap()
    };
    let rows = ledger_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, pmsslreseller::books::ledger::Kind::Import);
    assert_eq!(rows[0].item, links[&b][0]);
    assert_eq!(rows[0].upstream_id, Some(b));
    assert_eq!(rows[0].cost, Some(rust_decimal::Decimal::ZERO));
    assert_eq!(rows[0].account_name.as_deref(), Some("Buyer"));
    let (code, _, _) = w.admin(&["--id", &b.to_string(), "--account", &account.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(ledger_rows().len(), 1);
    // An account that does not exist, an id that is not listed.
    let (code, _, err) = w.admin(&["--account", "424242"]);
    assert_eq!(code, 1);
    assert!(err.contains("account 424242 does not exist"), "{err}");
    let (code, out, _) = w.admin(&["--id", "999999"]);
    assert_eq!(code, 0);
    assert!(out.contains("not in the certificate list"), "{out}");
    // `import` is advertised.
    let (_, features, _) = run_module(&w.mgr, &["--command", "features"], None);
    assert!(
        features.contains("<feature name=\"import\"/>"),
        "{features}"
    );
}

#[test]
fn import_killed_half_way_is_safe_to_run_again() {
    let w = World::new();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(w.up.seed_certificate(
            json!({"username": USER, "cn": format!("k{n}.example.com"), "pricelist": TARIFF_A}),
        ));
    }
    // Slow views, so the run can be killed in the middle.
    w.up.fault(
        &SimFault::new("certificate.edit", "delay")
            .count(1000)
            .delay_ms(200),
    );
    let module = w.module.to_string();
    let mut child = Command::new(bin_path("pmsslreseller"))
        .args(["import", "--module", &module])
        .env("MGR5_ROOT", w.mgr.path())
        .current_dir(w.mgr.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.links().len() < 5 {
        assert!(Instant::now() < deadline, "the import did not get going");
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "finished before the kill: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let half = w.links().len();
    assert!(half < ids.len(), "killed half-way: {half}");
    // A service whose certificate the killed run had not saved yet is
    // finished by the rerun; simulate the worst case for one of them.
    let (_, first) = w.links().into_iter().next().unwrap();
    w.db.conn()
        .exec_drop("DELETE FROM certificate WHERE item = ?", (first[0],))
        .unwrap();
    w.up.clear_faults();
    // An hour later on the module's clock: a certificate whose import the
    // kill left unsettled (marked, no service seen) is past the settle
    // window, looked for, and imported.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (code, out) = w.import_at(&later);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("completed: service {}", first[0])),
        "{out}"
    );
    let links = w.links();
    assert_eq!(links.len(), ids.len(), "{out}");
    for id in &ids {
        assert_eq!(links[id].len(), 1, "upstream {id} linked once");
        assert!(
            w.db.certificate_crt(links[id][0]).is_some(),
            "upstream {id}: crt"
        );
    }
    assert_eq!(w.mutating_calls(), Vec::<String>::new());
}

/// `processing.import.service` applied late by BILLmanager's core, after the
/// module's mgrctl timeout killed its `mgrctl` (stand-in in core mode, `Fault
/// delay:10000`), and one whose answer says nothing (`Fault drop`: `<ok/>`,
/// nothing created). The run cannot tell whether a service exists. A rerun
/// inside the settle window sends nothing for either and says why; after it,
/// the late one is found linked (nothing created) and the dropped one is
/// imported again. Exactly one local service per certificate.
#[test]
fn an_import_whose_answer_is_lost_makes_one_service_per_certificate() {
    let w = World::with(true, &[]);
    std::fs::write(w.mgr.path().join("etc/pmsslreseller.toml"), SHORT_TIMEOUTS).unwrap();
    let late = w.up.seed_certificate(
        json!({"username": USER, "cn": "late.example.com", "pricelist": TARIFF_A, "expiredate": "2030-01-15"}),
    );
    let dropped = w.up.seed_certificate(
        json!({"username": USER, "cn": "dropped.example.com", "pricelist": TARIFF_A, "expiredate": "2030-01-15"}),
    );
    w.mgr.write_conf(
        "localhost",
        "root",
        "",
        &support::billing::mysql_socket(),
        &[
            "Fault delay:10000 processing.import.service 1",
            "Fault drop processing.import.service 2",
        ],
    );
    let items_before = w.item_count();

    let (code, out) = w.import_at("2026-12-07T10:00:00Z");
    assert_eq!(code, 1, "{out}");
    assert!(World::line(&out, late).contains("FAILED"), "{out}");
    assert!(World::line(&out, dropped).contains("FAILED"), "{out}");

    // Inside the settle window: nothing is sent for either.
    let (code, out) = w.import_at("2026-12-07T10:00:10Z");
    assert_eq!(code, 0, "{out}");
    for id in [late, dropped] {
        let line = World::line(&out, id);
        assert!(line.contains("may still be applied"), "{line}");
    }
    // The late call lands in the meantime.
    let deadline = Instant::now() + Duration::from_secs(40);
    while !w.links().contains_key(&late) {
        assert!(
            Instant::now() < deadline,
            "the delayed import was never applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let calls = w.import_calls();
    assert_eq!(
        calls,
        2,
        "the rerun sent nothing: {:?}",
        w.mgr.journal_funcs()
    );

    // After the window: the late one is adopted, the dropped one imported again.
    let (code, out) = w.import_at("2026-12-07T10:02:00Z");
    assert_eq!(code, 0, "{out}");
    let links = w.links();
    assert_eq!(links[&late].len(), 1, "{out}");
    assert_eq!(links[&dropped].len(), 1, "{out}");
    // Found linked (nothing created); the certificate the killed run never
    // got to save is saved now.
    let line = World::line(&out, late);
    assert!(
        line.contains(&format!("completed: service {}", links[&late][0])),
        "{out}"
    );
    assert!(
        World::line(&out, dropped).contains(&format!("linked: service {}", links[&dropped][0])),
        "{out}"
    );
    assert_eq!(
        w.import_calls(),
        calls + 1,
        "one more import: the dropped one"
    );
    assert_eq!(w.item_count(), items_before + 2);
    // Nothing left pending: a later run is an ordinary one.
    let (code, out) = w.import_at("2026-12-07T10:03:00Z");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 linked"), "{out}");
    assert!(!out.contains("may still be applied"), "{out}");
    assert_eq!(w.item_count(), items_before + 2);
    let marks = w.mgr.path().join(format!(
        "var/pmsslreseller/import-pending-{}.json",
        w.module
    ));
    assert!(!marks.exists(), "every mark cleared");
}

/// An `open` whose order answer was lost (its intent "sent", no upstream
/// id) on an upstream that shows no `remoteid` anywhere, then an import:
/// the new upstream certificate may be that order, so the import leaves it
/// to the open and says so; the open's rerun adopts it. One paid order, one
/// local service.
#[test]
fn an_order_still_being_settled_is_left_to_its_open() {
    let w = World::with(false, &["list_remoteid=off", "edit_remoteid=off"]);
    std::fs::write(w.mgr.path().join("etc/pmsslreseller.toml"), SHORT_TIMEOUTS).unwrap();
    let tariff = w.tariff_a();
    let item = w.db.seed_certificate_item(
        w.module,
        tariff,
        12,
        &certificate_params(),
        Some(EXAMPLE_CSR),
    );
    let items_before = w.item_count();
    let ro = w.db.create_running_operation(item, "open");
    let open = |ro: u64| {
        w.db.bump_trycount(ro);
        run_operation(&w.mgr, "open", item, ro, &[])
    };
    // The order is applied upstream only well after the module's 3 s
    // timeout.
    w.up.fault(&SimFault::new("certificate.order.param", "delay").delay_ms(8000));
    let (code, out, _) = open(ro);
    assert_eq!(code, 1, "the answer was lost: {out}");
    assert_eq!(w.db.item_param(item, "pmss_upstream_id"), None);
    let orders = || {
        w.up.journal()
            .into_iter()
            .filter(|e| e.func == "certificate.order.param")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while orders() == 0 {
        assert!(Instant::now() < deadline, "the order was never applied");
        std::thread::sleep(Duration::from_millis(100));
    }

    let (code, out, err) = w.admin(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "may be the order of service {item} still being settled; run its open operation first"
        )),
        "{out}"
    );
    assert!(w.links().is_empty(), "nothing imported: {out}");
    assert_eq!(w.item_count(), items_before);

    let (code, out, _) = open(ro);
    assert_eq!(
        code,
        0,
        "the open adopts its order: {out}\n{}",
        w.mgr.module_log()
    );
    let upstream: u64 =
        w.db.item_param(item, "pmss_upstream_id")
            .expect("adopted")
            .parse()
            .unwrap();
    let (code, out, err) = w.admin(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        World::line(&out, upstream).contains(&format!("already linked to service {item}")),
        "{out}"
    );
    assert_eq!(w.links()[&upstream], vec![item]);
    assert_eq!(w.item_count(), items_before, "one local service");
    assert_eq!(orders(), 1, "one paid order");
}
