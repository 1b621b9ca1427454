//! Many certificates at once, for the bulk sync's tests and `benches/sync.rs`:
//! a processing module with its own upstream account and N certificates
//! ordered upstream (through the API, as the module would) and linked
//! locally (`pmss_upstream_id`, sub-status "requested"), then moved on
//! upstream in a fixed mix.

use mysql::prelude::Queryable;
use serde_json::json;

use super::billing::{TestDb, EXAMPLE_CSR};
use super::sim::{SimAccount, SimUpstream};

/// The simulator's single-domain EUR tariff the sets are ordered on.
pub const TARIFF: u64 = 3033;

/// One processing module with its own upstream account `user`/`pass` and
/// `items` certificates ordered upstream and linked locally (item status
/// active, `service_status` 3). Returns the module and the upstream ids in
/// local item order.
pub fn seed_ordered_set(
    up: &SimUpstream,
    db: &TestDb,
    tariff: u64,
    user: &str,
    pass: &str,
    items: usize,
) -> (u64, Vec<u64>) {
    up.set_account(&SimAccount::new(user, pass, "1000000.00", "EUR"));
    let module = db.seed_module(&up.url(), user, pass);
    let http = reqwest::blocking::Client::new();
    db.conn().query_drop("START TRANSACTION").unwrap();
    let mut upstream_ids = Vec::with_capacity(items);
    let authinfo = format!("{user}:{pass}");
    let pricelist = TARIFF.to_string();
    for _ in 0..items {
        let item = db.seed_certificate_item(
            module,
            tariff,
            12,
            &[("CN", "example.com"), ("service_status", "3")],
            Some(EXAMPLE_CSR),
        );
        let remoteid = item.to_string();
        let answer = http
            .post(up.url())
            .form(&[
                ("out", "xml"),
                ("func", "certificate.order.param"),
                ("authinfo", authinfo.as_str()),
                ("pricelist", pricelist.as_str()),
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

/// Half issued (ids 0, 2 mod 4), a quarter one step on to "enrolled"
/// (1 mod 4), a quarter unchanged (3 mod 4).
pub fn move_upstream(up: &SimUpstream, ids: &[u64]) {
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
pub fn tick_one(up: &SimUpstream, id: u64) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/_sim/tick", up.base_url))
        .header("Content-Type", "application/json")
        .body(json!({ "id": id }).to_string())
        .send()
        .expect("tick");
    assert!(r.status().is_success(), "tick {id}: HTTP {}", r.status());
}
