//! Keeping certificates in step with the upstream: `sync_item` run for each
//! of 500 items as a process (what BILLmanager or a per-item cron does), and
//! the bulk `pmsslreseller sync --module N` once over another 10,000 (one
//! list call, per-item reads only where something changed, `[sync]
//! concurrency` at a time), then rounds with nothing changed. Upstream state
//! of each set: half issued since the last look, a quarter moved to
//! "enrolled", a quarter unchanged. `PMSS_BENCH_ITEMS=N` shrinks the bulk set.
//!
//! The mgrctl stand-in runs in core mode (`TestMgr::with_core`): each mgrctl
//! process hands its call to one running core that holds the MariaDB
//! connections, as a real mgrctl hands it to the running BILLmanager. In
//! direct mode every call paid a connection handshake of its own, the
//! stand-in's cost rather than BILLmanager's (docs/testing.md, "The mgrctl stand-in
//! for tests"; `benches/startup.rs` prints both per call). `PMSS_BENCH_MGRCTL=direct` runs it in direct
//! mode instead, to compare the two on the same machine and load.
//!
//! `cargo bench --bench sync` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::time::Instant;

use mysql::prelude::Queryable;

use support::billing::TestDb;
use support::bulk::{move_upstream, seed_ordered_set, TARIFF};
use support::world::{Base, WorldBuilder};
use util::{count, describe, print_table, run_module, take_mgrctl_counts, Row, Samples};

const PASS: &str = "bench-secret";

fn main() {
    println!("machine: {}", util::machine());
    let direct = std::env::var("PMSS_BENCH_MGRCTL").as_deref() == Ok("direct");
    let mode = if direct {
        "mgrctl stand-in in direct mode"
    } else {
        "mgrctl stand-in in core mode"
    };
    println!(
        "{mode} ({})",
        if direct {
            "PMSS_BENCH_MGRCTL=direct: a process and a MariaDB connection per call"
        } else {
            "one running core applies every call over pooled connections"
        }
    );
    let bulk_items = util::items(10_000);
    let per_item_items = bulk_items.min(500);
    // No account here: `seed_ordered_set` makes each module's own.
    let base = WorldBuilder::new()
        .core_mgrctl(!direct)
        .tariffs(&[TARIFF])
        .build();
    let tariff = base.tariff();
    let Base { up, db, mgr, .. } = base;
    let root = mgr.path().to_path_buf();

    let seeding = Instant::now();
    let (module_a, ids_a) = seed_ordered_set(&up, &db, tariff, "per-item", PASS, per_item_items);
    let (module_b, ids_b) = seed_ordered_set(&up, &db, tariff, "bulk", PASS, bulk_items);
    move_upstream(&up, &ids_a);
    move_upstream(&up, &ids_b);
    println!(
        "seeded {per_item_items} + {bulk_items} ordered certificates in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let items_a: Vec<u64> = db
        .conn()
        .exec(
            "SELECT id FROM item WHERE processingmodule = ? ORDER BY id",
            (module_a,),
        )
        .unwrap();
    take_mgrctl_counts(&root);
    up.clear_journal();

    // 1. BILLmanager's own way: one sync_item process per certificate.
    let mut per_item = Samples::default();
    let wall = Instant::now();
    for item in &items_a {
        let item_s = item.to_string();
        per_item.push(run_module(
            &mgr,
            &["--command", "sync_item", "--item", &item_s],
            None,
        ));
    }
    let wall_a = wall.elapsed();
    let up_a = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_a = take_mgrctl_counts(&root);
    assert_eq!(
        issued_count(&db, module_a),
        per_item_items.div_ceil(2),
        "half the per-item set issued"
    );

    // 2. The cron bulk sync over the big set, once with changes…
    up.clear_journal();
    up.reset_stats();
    let module_b_s = module_b.to_string();
    let mut bulk = Samples::default();
    bulk.push(run_module(&mgr, &["sync", "--module", &module_b_s], None));
    let up_b = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_b = take_mgrctl_counts(&root);
    let sim_b = up.stats();
    println!("bulk sync with changes: {}", sim_b.summary());
    assert_eq!(
        issued_count(&db, module_b),
        bulk_items.div_ceil(2),
        "half the bulk set issued after one sync"
    );

    // 3. …then rounds where nothing changed upstream.
    up.clear_journal();
    up.reset_stats();
    let mut steady = Samples::default();
    const STEADY_RUNS: usize = 3;
    for _ in 0..STEADY_RUNS {
        steady.push(run_module(&mgr, &["sync", "--module", &module_b_s], None));
    }
    let up_c = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_c = take_mgrctl_counts(&root);
    println!("rounds with no change: {}", up.stats().summary());
    let pending_b = bulk_items - issued_count(&db, module_b);

    print_table(
        &format!(
            "keeping certificates in step (1/2 issued, 1/4 enrolled, 1/4 unchanged upstream; {mode}), {}",
            util::build()
        ),
        &[
            Row {
                what: format!("sync_item x {per_item_items} (per process)"),
                samples: per_item,
                note: format!(
                    "all {per_item_items}: {:.1} s wall; upstream {} ; mgrctl {}",
                    wall_a.as_secs_f64(),
                    describe(&up_a, 1),
                    describe(&mg_a, 1)
                ),
            },
            Row {
                what: format!("sync --module ({bulk_items} items)"),
                samples: bulk.clone(),
                note: format!(
                    "upstream {} ; mgrctl {}",
                    describe(&up_b, 1),
                    describe(&mg_b, 1)
                ),
            },
            Row {
                what: "sync --module again (no change)".into(),
                samples: steady.clone(),
                note: format!(
                    "per run: upstream {} ; mgrctl {}",
                    describe(&up_c, STEADY_RUNS),
                    describe(&mg_c, STEADY_RUNS)
                ),
            },
        ],
    );

    // The performance goals' figures. References: the Performance figures of 2026-11-26,
    // measured over 1,000 certificates one after another, scaled to this run.
    let scale = bulk_items as f64 / 1_000.0;
    let bulk_s = bulk.median().as_secs_f64();
    util::record(util::Figure {
        figure: format!(
            "sync --module, {bulk_items} certificates (1/2 newly issued, 1/4 enrolled, 1/4 unchanged; {mode})"
        ),
        ours: bulk_s,
        unit: "s".into(),
        reference: Some(27.1 * scale),
        reference_what: "before: 27.1 s per 1,000, one item after another".into(),
        goal: "≤ 60 s for 10,000".into(),
        met: (bulk_items == 10_000).then_some(bulk_s <= 60.0),
    });
    // The simulator's own share: what one request costs inside it while the
    // sync's workers read at once (the sync's whole time is beside it).
    let edit = sim_b
        .funcs
        .get("certificate.edit")
        .cloned()
        .unwrap_or_default();
    util::record(util::Figure {
        figure: format!(
            "simulator: one certificate.edit inside it, during the {bulk_items}-certificate sync (first byte to last)"
        ),
        ours: edit.request_us_mean / 1e3,
        unit: "ms".into(),
        reference: Some(bulk_s * 1e3 / bulk_items.max(1) as f64),
        reference_what: "the sync's wall time per certificate".into(),
        goal: "not the bottleneck (well below the reference)".into(),
        met: Some(edit.request_us_mean / 1e3 < 0.25 * bulk_s * 1e3 / bulk_items.max(1) as f64),
    });
    let steady_s = steady.median().as_secs_f64();
    util::record(util::Figure {
        figure: format!(
            "sync --module, {bulk_items} certificates, nothing changed (median of {STEADY_RUNS})"
        ),
        ours: steady_s,
        unit: "s".into(),
        reference: Some(3.94 * scale),
        reference_what: "before: 3.94 s per 1,000".into(),
        goal: "-".into(),
        met: None,
    });
    // The list is read page by page to the empty page that ends it
    // (src/upstream/mod.rs `certificate_list`): one read of it is its pages
    // plus that one.
    let lists = up_c.get("certificate").copied().unwrap_or(0) as f64 / STEADY_RUNS as f64;
    let one_read =
        (bulk_items as f64 / f64::from(pmsslreseller::upstream::wire::LIST_PAGE_SIZE)).ceil() + 1.0;
    util::record(util::Figure {
        figure: "upstream list page calls per nothing-changed round (one read of the list)".into(),
        ours: lists,
        unit: "calls".into(),
        reference: None,
        reference_what: "-".into(),
        goal: format!("{one_read}"),
        met: Some(lists == one_read),
    });
    let reads = up_c.get("certificate.edit").copied().unwrap_or(0) as f64 / STEADY_RUNS as f64;
    let needless = reads - pending_b as f64;
    util::record(util::Figure {
        figure: format!(
            "per-item reads per nothing-changed round beyond the {pending_b} pending (the list shows no sub-status)"
        ),
        ours: needless,
        unit: "reads".into(),
        reference: Some(0.0),
        reference_what: "-".into(),
        goal: "0".into(),
        met: Some(needless <= 0.0),
    });
    let writes = util::total(&mg_c) - mg_c.get("paramlist").copied().unwrap_or(0);
    util::record(util::Figure {
        figure: "mgrctl writes per nothing-changed round".into(),
        ours: writes as f64 / STEADY_RUNS as f64,
        unit: "calls".into(),
        reference: None,
        reference_what: "-".into(),
        goal: "0".into(),
        met: Some(writes == 0),
    });
}

/// Items of `module` whose local sub-status is "issued" (5).
fn issued_count(db: &TestDb, module: u64) -> usize {
    let n: i64 = db
        .conn()
        .exec_first(
            "SELECT COUNT(*) FROM itemparam p JOIN item i ON i.id = p.item \
             WHERE i.processingmodule = ? AND p.intname = 'service_status' AND p.value = '5'",
            (module,),
        )
        .unwrap()
        .unwrap_or(0);
    n as usize
}
