//! The cron bulk sync (`pmsslreseller sync --module N`) over many
//! certificates at once, with `[sync] concurrency` workers: the real binary
//! against MariaDB (through the `billmgr-sim mgrctl` stand-in in core mode,
//! `TestMgr::with_core`: each mgrctl process hands its call to one running
//! core, as with a real BILLmanager, and the benchmark `benches/sync.rs`
//! measures that same setup) and the `billmgr-sim upstream` simulator.
//!
//! - every item ends where the upstream says, each read once, each changed
//!   fact written once, whatever the concurrency;
//! - a sync killed at any point leaves nothing the next round does not
//!   repair: after kill + rerun the books are exactly those of a clean run,
//!   and a further round finds nothing to do;
//! - a round where nothing changed reads only the items whose state the list
//!   cannot show (the pending ones) and writes nothing;
//! - a bad `[sync] concurrency` is refused before anything is read.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use mysql::prelude::Queryable;

use support::billing::{run_module, TestDb, TestMgr};
use support::bin_path;
use support::bulk::{move_upstream, seed_ordered_set, TARIFF};
use support::sim::{SeedOrders, SimFault, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "bulk";
const PASS: &str = "Bulk-S3cret!pw";
const ITEMS: usize = 24;

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    upstream_ids: Vec<u64>,
}

impl World {
    /// `ITEMS` ordered certificates, moved on upstream (half issued, a
    /// quarter enrolled, a quarter unchanged), `[sync] concurrency` as given.
    fn new(concurrency: u32) -> World {
        World::with_mgr(concurrency, true)
    }

    /// [`World::new`] with the stand-in in core mode or not (direct mode:
    /// each mgrctl call a process with a connection of its own).
    fn with_mgr(concurrency: u32, core: bool) -> World {
        // No account here: `seed_ordered_set` makes the module's own.
        let base = WorldBuilder::new()
            .core_mgrctl(core)
            .config(&format!("[sync]\nconcurrency = {concurrency}\n"))
            .tariffs(&[TARIFF])
            .build();
        let tariff = base.tariff();
        let Base { up, db, mgr, .. } = base;
        let (module, upstream_ids) = seed_ordered_set(&up, &db, tariff, USER, PASS, ITEMS);
        move_upstream(&up, &upstream_ids);
        up.clear_journal();
        mgr.clear_journal();
        World {
            up,
            db,
            mgr,
            module,
            upstream_ids,
        }
    }

    fn sync(&self) -> (i32, String, String) {
        run_module(
            &self.mgr,
            &["sync", "--module", &self.module.to_string()],
            None,
        )
    }

    /// The sync as a child process, its output to `out` (piped or null).
    fn spawn_sync(&self, out: fn() -> Stdio) -> std::process::Child {
        Command::new(bin_path("pmsslreseller"))
            .args(["sync", "--module", &self.module.to_string()])
            .env("MGR5_ROOT", self.mgr.path())
            .current_dir(self.mgr.path())
            .stdin(Stdio::null())
            .stdout(out())
            .stderr(out())
            .spawn()
            .unwrap()
    }

    /// Every certificate read held up 150 ms by the simulator, so a run is
    /// caught with its reads in flight.
    fn hold_reads_up(&self) {
        self.up.fault(
            &SimFault::new("certificate.edit", "delay")
                .count(ITEMS as u32)
                .delay_ms(150),
        );
    }

    fn items(&self) -> Vec<u64> {
        self.db
            .conn()
            .exec(
                "SELECT id FROM item WHERE processingmodule = ? ORDER BY id",
                (self.module,),
            )
            .unwrap()
    }

    /// Everything the sync may write about the items, in item order, with
    /// what differs between two worlds by construction (item ids, upstream
    /// ids, serial numbers, the certificates' bytes) reduced to its shape.
    fn books(&self) -> Vec<Book> {
        self.items()
            .into_iter()
            .map(|item| {
                let params: Vec<(String, String)> = self
                    .db
                    .conn()
                    .exec(
                        "SELECT intname, value FROM itemparam WHERE item = ? ORDER BY intname",
                        (item,),
                    )
                    .unwrap();
                let params = params
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "pmss_upstream_id" => "<id>".to_string(),
                            // "from D until D, serial S": the serial differs.
                            "pmss_certificate" => match v.split_once(", serial ") {
                                Some((dates, _)) => format!("{dates}, serial <serial>"),
                                None => v,
                            },
                            _ => v,
                        };
                        (k, v)
                    })
                    .collect();
                let (_, expiredate) = self.db.item_dates(item);
                Book {
                    params,
                    expiredate,
                    has_crt: self.db.certificate_crt(item).is_some(),
                    status: self.db.item_status(item),
                }
            })
            .collect()
    }
}

#[derive(Debug, PartialEq)]
struct Book {
    params: BTreeMap<String, String>,
    expiredate: Option<String>,
    has_crt: bool,
    status: i32,
}

/// (function, item) → calls, from the mgrctl journal: writes only.
fn writes_per_item(mgr: &TestMgr) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for call in mgr.journal() {
        let func = call["func"].as_str().unwrap_or("?").to_string();
        if func == "paramlist" {
            continue;
        }
        let params = &call["params"];
        let elid = params["elid"].as_str().unwrap_or("?").to_string();
        let what = match params["name"].as_str() {
            Some(name) => format!("{func} {name}"),
            None => func,
        };
        *out.entry((what, elid)).or_default() += 1;
    }
    out
}

#[test]
fn concurrent_sync_reads_each_item_once_and_writes_each_fact_once() {
    let w = World::new(6);
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        w.mgr.core_pid().is_some(),
        "the sync's mgrctl calls went through one core"
    );
    assert_eq!(w.mgr.core_log().matches(": serving ").count(), 1);
    assert!(
        out.contains(&format!(
            "{ITEMS} certificates, 0 not ordered yet, {ITEMS} read upstream"
        )),
        "{out}"
    );
    assert!(out.contains("0 busy, 0 errors"), "{out}");
    // Each certificate read once; one read of the list (its page and the
    // empty page that ends it).
    let journal = w.up.journal();
    let mut reads: BTreeMap<String, usize> = BTreeMap::new();
    for e in journal.iter().filter(|e| e.func == "certificate.edit") {
        *reads
            .entry(e.params.get("elid").cloned().unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(reads.len(), ITEMS, "{reads:?}");
    assert!(reads.values().all(|n| *n == 1), "{reads:?}");
    assert_eq!(
        journal.iter().filter(|e| e.func == "certificate").count(),
        2
    );
    // Each fact written once.
    let writes = writes_per_item(&w.mgr);
    assert!(
        writes.values().all(|n| *n == 1),
        "a fact written twice: {writes:?}"
    );
    // Where the upstream says.
    for (n, item) in w.items().into_iter().enumerate() {
        let expected = match n % 4 {
            0 | 2 => "5",
            1 => "4",
            _ => "3",
        };
        assert_eq!(
            w.db.item_param(item, "service_status").as_deref(),
            Some(expected),
            "item {item} (#{n})"
        );
        assert_eq!(w.db.certificate_crt(item).is_some(), expected == "5");
    }
    assert_eq!(w.upstream_ids.len(), ITEMS);
}

#[test]
fn a_round_where_nothing_changed_reads_only_pending_items_and_writes_nothing() {
    let w = World::new(4);
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    w.up.clear_journal();
    w.mgr.clear_journal();
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    let pending = ITEMS / 2;
    assert!(
        out.contains(&format!("{pending} read upstream, 0 updated")),
        "{out}"
    );
    let journal = w.up.journal();
    assert_eq!(
        journal.iter().filter(|e| e.func == "certificate").count(),
        2,
        "one read of the list: its page and the empty page that ends it"
    );
    let reads = journal
        .iter()
        .filter(|e| e.func == "certificate.edit")
        .count();
    assert_eq!(reads, pending, "only the pending items are read");
    assert_eq!(
        w.mgr.journal_funcs(),
        vec!["paramlist".to_string()],
        "nothing written"
    );
}

/// Kill the sync at several points of its run, then run it again: the books
/// end exactly as after one clean run, and a further round has nothing to do.
#[test]
fn a_killed_sync_is_repaired_by_the_next_round() {
    let clean = World::new(4);
    let started = Instant::now();
    let (code, out, err) = clean.sync();
    assert_eq!(code, 0, "{out}{err}");
    let clean_took = started.elapsed();
    let expected = clean.books();
    drop(clean);

    for fraction in [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95] {
        let w = World::new(4);
        let mut child = w.spawn_sync(Stdio::null);
        std::thread::sleep(clean_took.mul_f64(fraction));
        let _ = child.kill();
        let _ = child.wait();
        // mgrctl calls already started run on in their own process group;
        // the next round may meet them, as the next cron run would.
        let (code, out, err) = w.sync();
        assert_eq!(code, 0, "after a kill at {fraction}: {out}{err}");
        assert_eq!(
            w.books(),
            expected,
            "after a kill at {fraction} of the run and one more round ({})",
            out.trim()
        );
        w.mgr.clear_journal();
        let (code, out, _) = w.sync();
        assert_eq!(code, 0);
        assert!(out.contains(" 0 updated"), "a third round has work: {out}");
        assert_eq!(w.mgr.journal_funcs(), vec!["paramlist".to_string()]);
    }
}

#[test]
fn a_bad_concurrency_is_refused_before_anything_is_read() {
    let w = World::new(4);
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        "[sync]\nconcurrency = 0\n",
    )
    .unwrap();
    let (code, out, err) = w.sync();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("[sync] concurrency"), "{err}");
    assert!(w.up.journal().is_empty());
    assert!(w.mgr.journal_funcs().iter().all(|f| f == "paramlist"));
}

/// `[sync] concurrency` bounds the upstream reads in flight: with each read
/// held up by the simulator, a sync of 3 works on 3 at once, never more.
#[test]
fn concurrency_bounds_the_reads_in_flight() {
    let w = World::new(3);
    w.hold_reads_up();
    w.up.reset_stats();
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{ITEMS} read upstream")), "{out}");
    // The simulator counts a request just after writing its answer.
    w.up.wait_idle();
    let stats = w.up.stats();
    assert_eq!(stats.funcs["certificate.edit"].count, ITEMS as u64);
    assert!(
        stats.api_peak_in_flight <= 3,
        "more reads at once than [sync] concurrency = 3: {}",
        stats.api_peak_in_flight
    );
    assert!(
        stats.api_peak_in_flight >= 2,
        "the reads were not made in parallel: peak {}",
        stats.api_peak_in_flight
    );
}

/// The bulk sync decides from params read once, before any item is looked
/// at; a 10,000-item run reaches its last items a minute later. An item
/// relinked in between (an admin setting `pmss_upstream_id` to the right
/// upstream id, as the `manual_required` messages ask) is synced from the id
/// its params hold under the item lock, as `sync_item` does: never from the
/// id it had when the run started (whose certificate the automatic
/// reissue/renewal would then act on and pay for).
#[test]
fn an_item_relinked_during_the_run_is_synced_from_its_new_upstream_id() {
    let w = World::new(1);
    let items = w.items();
    let last = *items.last().unwrap();
    let old = *w.upstream_ids.last().unwrap();
    // The last item's certificate is unchanged upstream (3 mod 4): still
    // "requested". Its replacement is issued.
    let new =
        w.up.seed_orders(
            &SeedOrders::new(USER, TARIFF, 1)
                .cn("example.com")
                .remoteids(&[last]),
        )
        .pop()
        .unwrap();
    w.up.issue_many(&[new]);
    w.up.clear_journal();
    w.hold_reads_up();
    let child = w.spawn_sync(Stdio::piped);
    // The run has read its params once it reads its first certificate.
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while !w.up.journal().iter().any(|e| e.func == "certificate.edit") {
        assert!(Instant::now() < deadline, "the sync read no certificate");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    w.db.conn()
        .exec_drop(
            "UPDATE itemparam SET value = ? WHERE item = ? AND intname = 'pmss_upstream_id'",
            (new.to_string(), last),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let read: Vec<String> =
        w.up.journal()
            .iter()
            .filter(|e| e.func == "certificate.edit")
            .filter_map(|e| e.params.get("elid").cloned())
            .collect();
    assert!(
        !read.contains(&old.to_string()),
        "the relinked item was synced from the upstream id it had before: {read:?}"
    );
    assert!(read.contains(&new.to_string()), "{read:?}");
    assert_eq!(
        w.db.item_param(last, "service_status").as_deref(),
        Some("5"),
        "the item shows its new, issued certificate"
    );
    assert!(w.db.certificate_crt(last).is_some());
}

/// `KILL` the database connections `ids` over `conn`, then the sync's
/// output once it has finished.
fn kill_and_wait(
    mut conn: std::cell::RefMut<'_, mysql::Conn>,
    ids: &[u64],
    child: std::process::Child,
) -> String {
    for id in ids {
        let _ = conn.query_drop(format!("KILL {id}"));
    }
    drop(conn);
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A worker whose database connection drops mid-run (a MariaDB restart, a
/// `KILL`, a proxy's idle timeout) opens a new one: it must not go on
/// taking items only to fail each at once, which turned the rest of a
/// 10,000-item round into errors while the other workers were still fine.
#[test]
fn a_dropped_database_connection_costs_at_most_the_items_in_flight() {
    // Direct mode: the only long-lived connections to the test database are
    // the sync's own.
    let w = World::with_mgr(2, false);
    w.hold_reads_up();
    let child = w.spawn_sync(Stdio::piped);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while w
        .up
        .journal()
        .iter()
        .filter(|e| e.func == "certificate.edit")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the sync read no certificate");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut conn = w.db.conn();
    let mine: u64 = conn.query_first("SELECT CONNECTION_ID()").unwrap().unwrap();
    let theirs: Vec<u64> = conn
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> ? AND TIME >= 0",
            (&w.db.name, mine),
        )
        .unwrap();
    assert!(!theirs.is_empty(), "no connection of the sync found");
    let text = kill_and_wait(conn, &theirs, child);
    let errors: usize = text
        .split(" errors")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {text}"));
    // At most the `mgrctl` call each worker (2) had running when the kill
    // hit its connection: an item that found the worker's own connection
    // dead is looked at again on a new one.
    assert!(
        errors <= 2,
        "a dropped connection failed more than the items in flight on it: {text}\n{}",
        w.mgr.module_log()
    );
    let synced = w
        .items()
        .into_iter()
        .filter(|item| w.db.item_param(*item, "service_status").as_deref() != Some("3"))
        .count();
    assert!(
        synced >= ITEMS * 3 / 4 - 2,
        "only {synced} items moved on: {text}"
    );
}

/// The sync's own connections dropped while both workers wait for the
/// upstream: the item each worker holds finds its connection dead at its
/// next read, and is looked at again on a new connection instead of
/// failing (a look is a rerun, like the next round's). `mgrctl`'s
/// connections are not touched here, so no item has a cause to fail.
#[test]
fn a_connection_dropped_under_a_worker_costs_no_item() {
    let w = World::with_mgr(2, false);
    w.up.fault(
        &SimFault::new("certificate.edit", "delay")
            .count(2)
            // Long enough that the kill lands while both still wait, even
            // when this test thread is slow to send it.
            .delay_ms(8000),
    );
    let child = w.spawn_sync(Stdio::piped);
    let mut conn = w.db.conn();
    let mine: u64 = conn.query_first("SELECT CONNECTION_ID()").unwrap().unwrap();
    // Idle for a second or more: the workers' connections while their
    // reads are held up, never a short `mgrctl` call's.
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let idle = loop {
        let ids: Vec<u64> = conn
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE DB = ? AND ID <> ? AND COMMAND = 'Sleep' AND TIME >= 1",
                (&w.db.name, mine),
            )
            .unwrap();
        if ids.len() >= 2 {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "the sync's workers never waited upstream"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = kill_and_wait(conn, &idle, child);
    assert!(
        text.contains(" 0 errors"),
        "an item failed for a connection already replaced: {text}\n{}",
        w.mgr.module_log()
    );
    assert!(
        w.mgr
            .module_log()
            .contains("a database connection was dropped; working on with a new one"),
        "{}",
        w.mgr.module_log()
    );
    assert!(
        !w.mgr.module_log().contains(PASS) && !text.contains(PASS),
        "the upstream password in the log"
    );
}

/// One sync of a module at a time: a cron run that finds the module's sync
/// still running does nothing and says so (exit 0), and the next one works.
#[test]
fn a_second_sync_of_the_module_while_one_runs_does_nothing() {
    let w = World::new(4);
    let dir = w.mgr.path().join("var/pmsslreseller/locks");
    std::fs::create_dir_all(&dir).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("sync-module-{}.lock", w.module)))
        .unwrap();
    held.lock().unwrap();
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("another sync of this module is still running; nothing done"),
        "{out}"
    );
    assert!(w.up.journal().is_empty(), "nothing read upstream");
    drop(held);
    let (code, out, err) = w.sync();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{ITEMS} read upstream")), "{out}");
}
