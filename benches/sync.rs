//! Keeping 1,000 certificates in step with the upstream: `sync_item` run
//! for each item as a process (what BILLmanager or a per-item cron does),
//! and the bulk `pmsslreseller sync --module N` once over another 1,000
//! (one list call, per-item reads only where something changed), then once
//! more with nothing changed. Upstream state of each set: half issued since
//! the last look, a quarter moved to "enrolled", a quarter unchanged.
//!
//! `cargo bench --bench sync` (after `cargo build --release --workspace
//! --bins`; `make bench` does both).

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::time::Instant;

use mysql::prelude::Queryable;
use serde_json::json;

use support::billing::{TestDb, TestMgr, EXAMPLE_CSR};
use support::sim::{SimAccount, SimUpstream};
use util::{count, describe, print_table, run_module, take_mgrctl_counts, Row, Samples};

const TARIFF: u64 = 3033;
const PASS: &str = "bench-secret";

/// One processing module with its own upstream account and `items` ordered
/// certificates, linked locally (`pmss_upstream_id`, `service_status` 3).
fn seed_set(
    up: &SimUpstream,
    db: &TestDb,
    tariff: u64,
    user: &str,
    items: usize,
) -> (u64, Vec<u64>) {
    up.set_account(&SimAccount::new(user, PASS, "1000000.00", "EUR"));
    let module = db.seed_module(&up.url(), user, PASS);
    let http = reqwest::blocking::Client::new();
    db.conn().query_drop("START TRANSACTION").unwrap();
    let mut upstream_ids = Vec::with_capacity(items);
    for _ in 0..items {
        let item = db.seed_certificate_item(
            module,
            tariff,
            12,
            &[("CN", "example.com"), ("service_status", "3")],
            Some(EXAMPLE_CSR),
        );
        let authinfo = format!("{user}:{PASS}");
        let remoteid = item.to_string();
        let answer = http
            .post(up.url())
            .form(&[
                ("out", "xml"),
                ("func", "certificate.order.param"),
                ("authinfo", authinfo.as_str()),
                ("pricelist", "3033"),
                ("period", "12"),
                ("CN", "example.com"),
                ("csr", EXAMPLE_CSR),
                ("remoteid", remoteid.as_str()),
                ("skipbasket", "on"),
                ("sok", "ok"),
            ])
            .send()
            .and_then(|r| r.text())
            .expect("order upstream");
        let id: u64 = answer
            .split("<id>")
            .nth(1)
            .and_then(|s| s.split("</id>").next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no id in {answer}"));
        db.conn()
            .exec_drop(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_upstream_id', ?)",
                (item, id.to_string()),
            )
            .unwrap();
        upstream_ids.push(id);
    }
    db.conn()
        .exec_drop(
            "UPDATE item SET status = 2, opendate = CURDATE() WHERE processingmodule = ?",
            (module,),
        )
        .unwrap();
    db.conn().query_drop("COMMIT").unwrap();
    (module, upstream_ids)
}

/// Half issued, a quarter one step on (enrolled), a quarter unchanged.
fn move_upstream(up: &SimUpstream, ids: &[u64]) {
    for (i, id) in ids.iter().enumerate() {
        match i % 4 {
            0 | 2 => {
                up.issue(Some(*id));
            }
            1 => tick_one(up, *id),
            _ => {}
        }
    }
}

/// One issuance step for one certificate (`POST /_sim/tick {"id":N}`).
fn tick_one(up: &SimUpstream, id: u64) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/_sim/tick", up.base_url))
        .header("Content-Type", "application/json")
        .body(json!({ "id": id }).to_string())
        .send()
        .expect("tick");
    assert!(r.status().is_success(), "tick {id}: HTTP {}", r.status());
}

fn main() {
    println!("machine: {}", util::machine());
    let items = util::items(1_000);
    let up = SimUpstream::start_with(&[]);
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let root = mgr.path().to_path_buf();
    let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));

    let seeding = Instant::now();
    let (module_a, ids_a) = seed_set(&up, &db, tariff, "per-item", items);
    let (module_b, ids_b) = seed_set(&up, &db, tariff, "bulk", items);
    move_upstream(&up, &ids_a);
    move_upstream(&up, &ids_b);
    println!(
        "seeded 2 x {items} ordered certificates in {:.1} s",
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

    let mut per_item = Samples::default();
    let wall = Instant::now();
    for item in &items_a {
        let item_s = item.to_string();
        per_item.push(run_module(
            &root,
            &["--command", "sync_item", "--item", &item_s],
            None,
        ));
    }
    let wall_a = wall.elapsed();
    let up_a = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_a = take_mgrctl_counts(&root);
    let issued: i64 = db
        .conn()
        .exec_first(
            "SELECT COUNT(*) FROM itemparam p JOIN item i ON i.id = p.item \
             WHERE i.processingmodule = ? AND p.intname = 'service_status' AND p.value = '5'",
            (module_a,),
        )
        .unwrap()
        .unwrap_or(0);
    assert_eq!(
        issued as usize,
        items.div_ceil(2),
        "half the per-item set issued"
    );

    up.clear_journal();
    let module_b_s = module_b.to_string();
    let mut bulk = Samples::default();
    bulk.push(run_module(&root, &["sync", "--module", &module_b_s], None));
    let up_b = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_b = take_mgrctl_counts(&root);

    up.clear_journal();
    let mut steady = Samples::default();
    for _ in 0..3 {
        steady.push(run_module(&root, &["sync", "--module", &module_b_s], None));
    }
    let up_c = count(up.journal().iter().map(|e| e.func.as_str()));
    let mg_c = take_mgrctl_counts(&root);

    print_table(
        &format!(
            "keeping {items} certificates in step (1/2 issued, 1/4 enrolled, 1/4 unchanged upstream), {}",
            util::build()
        ),
        &[
            Row {
                what: format!("sync_item x {items} (per process)"),
                samples: per_item,
                note: format!(
                    "all {items}: {:.1} s wall; upstream {} ; mgrctl {}",
                    wall_a.as_secs_f64(),
                    describe(&up_a, 1),
                    describe(&mg_a, 1)
                ),
            },
            Row {
                what: format!("sync --module ({items} items)"),
                samples: bulk,
                note: format!("upstream {} ; mgrctl {}", describe(&up_b, 1), describe(&mg_b, 1)),
            },
            Row {
                what: "sync --module again (no change)".into(),
                samples: steady,
                note: format!(
                    "per run: upstream {} ; mgrctl {}",
                    describe(&up_c, 3),
                    describe(&mg_c, 3)
                ),
            },
        ],
    );
}
