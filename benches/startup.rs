//! Start-up cost of the module as BILLmanager pays it: one new process per
//! call. `features` (no network, no database; with and without a cached
//! upstream catalog) and `check_connection` (settings on stdin, one upstream
//! login against `billmgr-sim upstream` on loopback).
//!
//! `cargo bench --bench startup` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::path::Path;

use support::billing::{TestDb, TestMgr};
use support::sim::{SimUpstream, PASS, USER};
use util::{describe, print_table, run_module, take_mgrctl_counts, Row, Samples};

const RUNS: usize = 50;

fn repeat(root: &Path, args: &[&str], stdin: Option<&str>) -> Samples {
    // One warm-up run: page cache and dynamic loader, as on a live server.
    run_module(root, args, stdin);
    let mut s = Samples::default();
    for _ in 0..RUNS {
        s.push(run_module(root, args, stdin));
    }
    s
}

fn main() {
    println!("machine: {}", util::machine());
    let up = SimUpstream::start();
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let module = db.seed_module(&up.url(), USER, PASS);
    let root = mgr.path().to_path_buf();
    let mut rows = Vec::new();

    up.clear_journal();
    let s = repeat(&root, &["--command", "features"], None);
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
        &root,
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
    let s = repeat(&root, &["--command", "features"], None);
    rows.push(Row {
        what: "features (simulator catalog cached)".into(),
        samples: s,
        note: format!(
            "upstream calls: {}, mgrctl calls: {}",
            up.journal().len(),
            util::total(&take_mgrctl_counts(&root))
        ),
    });

    let stdin = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{module}</id>\
         <url>{}</url><username>{USER}</username><password>{PASS}</password></processingmodule></doc>\n",
        up.url()
    );
    up.clear_journal();
    let s = repeat(&root, &["--command", "check_connection"], Some(&stdin));
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

    // The mgrctl stand-in alone: part of every lifecycle figure, and not what
    // a real BILLmanager costs (its mgrctl talks to the running core).
    let item = db.seed_certificate_item(
        module,
        db.seed_certificate_tariff("ssl_3033"),
        12,
        &[],
        None,
    );
    let item_arg = format!("elid={item}");
    for (label, args) in [
        (
            "mgrctl stand-in: paramlist",
            vec!["-m", "billmgr", "-o", "xml", "paramlist"],
        ),
        (
            "mgrctl stand-in: service.setstatus",
            vec![
                "-m",
                "billmgr",
                "-o",
                "xml",
                "service.setstatus",
                item_arg.as_str(),
                "service_status=4",
            ],
        ),
    ] {
        let mut s = Samples::default();
        for _ in 0..=RUNS {
            let started = std::time::Instant::now();
            let (code, out, err) = mgr.run_mgrctl(&args);
            assert_eq!(code, 0, "{out}{err}");
            s.push(started.elapsed());
        }
        s.0.remove(0); // warm-up
        rows.push(Row {
            what: label.into(),
            samples: s,
            note: "process + (for service.*) one MariaDB connection and update".into(),
        });
    }
    take_mgrctl_counts(&root);

    print_table(
        &format!(
            "module start-up, whole processes ({RUNS} runs each after one warm-up), {}",
            util::build()
        ),
        &rows,
    );
}
