//! Start-up cost of the module as BILLmanager pays it: one new process per
//! call. `features` (no network, no database; with and without a cached
//! upstream catalog) and `check_connection` (settings on stdin, one upstream
//! login against `billmgr-sim upstream` on loopback).
//!
//! `cargo bench --bench startup` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/gen/catalog_export.rs"]
mod gen;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::path::Path;

use support::billing::TestMgr;
use support::sim::{PASS, START_BALANCE, USER};
use support::world::{Base, WorldBuilder};
use util::{describe, print_table, run_module, take_mgrctl_counts, Row, Samples};

const RUNS: usize = 50;

fn repeat(mgr: &TestMgr, args: &[&str], stdin: Option<&str>) -> Samples {
    // One warm-up run: page cache and dynamic loader, as on a live server.
    run_module(mgr, args, stdin);
    let mut s = Samples::default();
    for _ in 0..RUNS {
        s.push(run_module(mgr, args, stdin));
    }
    s
}

fn main() {
    println!("machine: {}", util::machine());
    let base = WorldBuilder::new()
        .account(USER, PASS, START_BALANCE)
        .build();
    let module = base.module();
    let Base { up, db, mgr, .. } = base;
    let root = mgr.path().to_path_buf();
    let mut rows = Vec::new();

    up.clear_journal();
    let s = repeat(&mgr, &["--command", "features"], None);
    rows.push(Row {
        what: "features (no catalog cached)".into(),
        samples: s,
        note: format!(
            "upstream calls: {}, mgrctl calls: {}",
            up.journal().len(),
            util::total(&take_mgrctl_counts(&root))
        ),
    });

    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/sim/fixtures/catalog.xml");
    let module_id = module.to_string();
    run_module(
        &mgr,
        &[
            "catalog",
            "refresh",
            "--module",
            &module_id,
            "--from-file",
            fixture,
        ],
        None,
    );
    up.clear_journal();
    // The refresh's own price-check paramlist is not features'.
    take_mgrctl_counts(&root);
    let s = repeat(&mgr, &["--command", "features"], None);
    rows.push(Row {
        what: "features (simulator catalog cached)".into(),
        samples: s,
        note: format!(
            "upstream calls: {}, mgrctl calls: {}",
            up.journal().len(),
            util::total(&take_mgrctl_counts(&root))
        ),
    });

    // The catalog performance goals, as whole processes: a 5,000-tariff
    // `catalog refresh --from-file` beside Python's bare ElementTree parse of
    // the same file (the reference: at most half of it), then `features`
    // with the 5,000 templates cached (goal: at most 10 ms). The refresh
    // twice: the same export again (what cron mostly fetches: the stamp
    // matches, nothing is parsed or written), and exports that changed
    // (two files alternating, every 24-month price different: each run
    // parses, diffs and writes everything).
    let (big, _) = gen::export(5_000);
    let repriced = big.replace(
        ".5000\" type=\"month\" length=\"24\"",
        ".7500\" type=\"month\" length=\"24\"",
    );
    assert_ne!(
        big, repriced,
        "the generator changed shape; adapt the bench"
    );
    let big_file = root.join("export-5000.xml");
    let repriced_file = root.join("export-5000-repriced.xml");
    std::fs::write(&big_file, &big).expect("write the 5,000-tariff export");
    std::fs::write(&repriced_file, &repriced).expect("write the repriced export");
    let refresh_args = |file: &Path| {
        [
            "catalog".to_string(),
            "refresh".to_string(),
            "--module".to_string(),
            module_id.clone(),
            "--from-file".to_string(),
            file.to_string_lossy().into_owned(),
        ]
    };
    let same = refresh_args(&big_file);
    let same: Vec<&str> = same.iter().map(String::as_str).collect();
    let mut s = Samples::default();
    run_module(&mgr, &same, None);
    for _ in 0..CATALOG_RUNS {
        s.push(run_module(&mgr, &same, None));
    }
    let unchanged_median = s.median();
    rows.push(Row {
        what: format!(
            "catalog refresh --from-file (5,000 tariffs, {} KiB), the same export again",
            big.len() / 1024
        ),
        samples: s,
        note: format!(
            "nothing parsed or written; mgrctl calls per run: {} (the price check's paramlist)",
            util::describe(&take_mgrctl_counts(&root), CATALOG_RUNS + 1)
        ),
    });
    let changed: Vec<Vec<String>> = [&repriced_file, &big_file]
        .into_iter()
        .map(|f| refresh_args(f).to_vec())
        .collect();
    let mut s = Samples::default();
    for run in 0..CATALOG_RUNS {
        let args: Vec<&str> = changed[run % 2].iter().map(String::as_str).collect();
        s.push(run_module(&mgr, &args, None));
    }
    let changed_median = s.median();
    rows.push(Row {
        what: "catalog refresh --from-file (5,000 tariffs), the export changed".into(),
        samples: s,
        note: format!(
            "two exports alternating, 4,166 prices apart: parse, diff, cache, names written each run; mgrctl calls per run: {}",
            util::describe(&take_mgrctl_counts(&root), CATALOG_RUNS)
        ),
    });
    let python = python_parse(&big_file);
    if let Some(p) = &python {
        rows.push(Row {
            what: "reference: Python xml.etree.ElementTree.parse of the same file".into(),
            samples: p.clone(),
            note: "parse only, inside one interpreter (start-up not counted)".into(),
        });
    }
    let s = repeat(&mgr, &["--command", "features"], None);
    let features_median = s.median();
    rows.push(Row {
        what: "features (5,000 templates cached)".into(),
        samples: s,
        note: format!("mgrctl calls: {}", util::total(&take_mgrctl_counts(&root))),
    });
    util::record(util::Figure {
        figure: "features with 5,000 templates cached (whole process, median)".into(),
        ours: features_median.as_secs_f64() * 1e3,
        unit: "ms".into(),
        reference: Some(51.0),
        reference_what: "measured before the performance work".into(),
        goal: "≤ 10 ms".into(),
        met: Some(features_median.as_secs_f64() <= 0.010),
    });
    match &python {
        Some(p) => {
            for (what, median) in [
                ("the same export again", unchanged_median),
                ("the export changed", changed_median),
            ] {
                util::record(util::Figure {
                    figure: format!(
                        "catalog refresh --from-file, 5,000 tariffs, {what} (whole process, median)"
                    ),
                    ours: median.as_secs_f64() * 1e3,
                    unit: "ms".into(),
                    reference: Some(p.median().as_secs_f64() * 1e3),
                    reference_what: "Python ElementTree.parse of the same file, same run".into(),
                    goal: "ratio ≤ 0.5".into(),
                    met: Some(median.as_secs_f64() <= 0.5 * p.median().as_secs_f64()),
                })
            }
        }
        None => println!("Python reference: python3 not found, not measured"),
    }

    let stdin = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{module}</id>\
         <url>{}</url><username>{USER}</username><password>{PASS}</password></processingmodule></doc>\n",
        up.url()
    );
    up.clear_journal();
    let s = repeat(&mgr, &["--command", "check_connection"], Some(&stdin));
    let calls = util::count(up.journal().iter().map(|e| e.func.as_str()));
    rows.push(Row {
        what: "check_connection".into(),
        samples: s,
        note: format!(
            "upstream calls per run: {}; mgrctl calls: {}",
            describe(&calls, RUNS + 1),
            util::total(&take_mgrctl_counts(&root))
        ),
    });

    // The mgrctl stand-in alone: part of every lifecycle figure. Direct mode
    // (a process with its own MariaDB connection per call) is not what a real
    // BILLmanager costs; core mode (`Core on`: a thin client handing the call
    // to a running core that holds the connections) is how a real mgrctl
    // works. Same database, same item.
    let item = db.seed_certificate_item(
        module,
        db.seed_certificate_tariff("ssl_3033"),
        12,
        &[],
        None,
    );
    let item_arg = format!("elid={item}");
    let core_mgr = TestMgr::with_core(&db);
    let paramlist = vec!["-m", "billmgr", "-o", "xml", "paramlist"];
    let setstatus = vec![
        "-m",
        "billmgr",
        "-o",
        "xml",
        "service.setstatus",
        item_arg.as_str(),
        "service_status=4",
    ];
    for (label, stand_in, args, note) in [
        (
            "mgrctl stand-in, direct: paramlist",
            &mgr,
            &paramlist,
            "process, no database",
        ),
        (
            "mgrctl stand-in, direct: service.setstatus",
            &mgr,
            &setstatus,
            "process + its own MariaDB connection + update",
        ),
        (
            "mgrctl stand-in, core mode: paramlist",
            &core_mgr,
            &paramlist,
            "billmgr-sim-mgrctl process + one round trip to the running core",
        ),
        (
            "mgrctl stand-in, core mode: service.setstatus",
            &core_mgr,
            &setstatus,
            "billmgr-sim-mgrctl process + the core's pooled connection + update",
        ),
    ] {
        let mut s = Samples::default();
        // The first run is a warm-up (and in core mode starts the core).
        for _ in 0..=RUNS {
            let started = std::time::Instant::now();
            let (code, out, err) = stand_in.run_mgrctl(args);
            assert_eq!(code, 0, "{out}{err}");
            s.push(started.elapsed());
        }
        s.0.remove(0);
        rows.push(Row {
            what: label.into(),
            samples: s,
            note: note.into(),
        });
    }
    take_mgrctl_counts(&root);
    take_mgrctl_counts(core_mgr.path());

    print_table(
        &format!(
            "module start-up, whole processes ({RUNS} runs each after one warm-up; catalog refresh {CATALOG_RUNS}), {}",
            util::build()
        ),
        &rows,
    );
}

const CATALOG_RUNS: usize = 11;

/// Python's bare `ElementTree.parse` of `file`, timed inside one interpreter
/// ([`CATALOG_RUNS`] parses after one warm-up); `None` without python3.
fn python_parse(file: &Path) -> Option<Samples> {
    let script = format!(
        "import sys, time, xml.etree.ElementTree as ET\n\
         ET.parse(sys.argv[1])\n\
         for _ in range({CATALOG_RUNS}):\n    t = time.perf_counter(); ET.parse(sys.argv[1]); print(time.perf_counter() - t)\n"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut s = Samples::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        s.push(std::time::Duration::from_secs_f64(
            line.trim().parse().ok()?,
        ));
    }
    Some(s)
}
