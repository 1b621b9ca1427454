//! `open` → issued, end to end against the simulator, each command a whole
//! process as BILLmanager runs it: `open --item N --runningoperation R`,
//! the simulated CA issues, `sync_item --item N` saves the certificate.
//! Reports wall time per command and the upstream and `mgrctl` calls each
//! made (the floor is one upstream order and one `mgrctl` report per step).
//!
//! `cargo bench --bench lifecycle` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use support::billing::{TestDb, TestMgr, EXAMPLE_CSR};
use support::sim::{SimUpstream, PASS, USER};
use util::{count, describe, print_table, run_module, take_mgrctl_counts, Counts, Row, Samples};

const TARIFF: u64 = 3033;

fn add(into: &mut Counts, from: &Counts) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn main() {
    println!("machine: {}", util::machine());
    let items = util::items(20);
    let account = format!("{USER}:{PASS}:100000.00:EUR");
    let up = SimUpstream::start_with(&["--account", &account]);
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let root = mgr.path().to_path_buf();
    let module = db.seed_module(&up.url(), USER, PASS);
    let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/sim/fixtures/catalog.xml");
    let module_id = module.to_string();
    // The tariff check before ordering reads the cached catalog, as in production.
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
    let params = [
        ("CN", "example.com"),
        ("approver_method", "auth_email"),
        ("approver_email", "admin@example.com"),
    ];

    let (mut open_t, mut sync_t, mut both_t) =
        (Samples::default(), Samples::default(), Samples::default());
    let (mut open_up, mut open_mg, mut sync_up, mut sync_mg) =
        (Counts::new(), Counts::new(), Counts::new(), Counts::new());
    for _ in 0..items {
        let item = db.seed_certificate_item(module, tariff, 12, &params, Some(EXAMPLE_CSR));
        let ro = db.create_running_operation(item, "open");
        let (item_s, ro_s) = (item.to_string(), ro.to_string());
        take_mgrctl_counts(&root);
        up.clear_journal();

        let t_open = run_module(
            &root,
            &[
                "--command",
                "open",
                "--item",
                &item_s,
                "--runningoperation",
                &ro_s,
            ],
            None,
        );
        add(
            &mut open_up,
            &count(up.journal().iter().map(|e| e.func.as_str())),
        );
        add(&mut open_mg, &take_mgrctl_counts(&root));
        up.clear_journal();

        let upstream_id: u64 = db
            .item_param(item, "pmss_upstream_id")
            .and_then(|v| v.parse().ok())
            .expect("open saved the upstream id");
        up.issue(Some(upstream_id));

        let t_sync = run_module(&root, &["--command", "sync_item", "--item", &item_s], None);
        add(
            &mut sync_up,
            &count(up.journal().iter().map(|e| e.func.as_str())),
        );
        add(&mut sync_mg, &take_mgrctl_counts(&root));
        assert_eq!(db.item_param(item, "service_status").as_deref(), Some("5"));
        assert!(db.certificate_crt(item).is_some(), "certificate saved");

        open_t.push(t_open);
        sync_t.push(t_sync);
        both_t.push(t_open + t_sync);
    }
    let calls = |up: &Counts, mg: &Counts| {
        format!(
            "per run: upstream {} ({}); mgrctl {} ({})",
            util::total(up) as f64 / items as f64,
            describe(up, items),
            util::total(mg) as f64 / items as f64,
            describe(mg, items)
        )
    };
    let mut all_up = open_up.clone();
    add(&mut all_up, &sync_up);
    let mut all_mg = open_mg.clone();
    add(&mut all_mg, &sync_mg);
    print_table(
        &format!(
            "open -> issued, {items} certificates, whole processes, {}",
            util::build()
        ),
        &[
            Row {
                what: "open".into(),
                samples: open_t,
                note: calls(&open_up, &open_mg),
            },
            Row {
                what: "sync_item (issued)".into(),
                samples: sync_t,
                note: calls(&sync_up, &sync_mg),
            },
            Row {
                what: "open + sync_item".into(),
                samples: both_t,
                note: format!(
                    "per certificate: upstream {} calls, mgrctl {} calls",
                    util::total(&all_up) as f64 / items as f64,
                    util::total(&all_mg) as f64 / items as f64
                ),
            },
        ],
    );
}
