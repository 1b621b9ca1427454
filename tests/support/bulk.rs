//! Many certificates at once, for the bulk sync's tests and `benches/sync.rs`:
//! a processing module with its own upstream account and N certificates
//! ordered upstream (through the API, as the module would) and linked
//! locally (`pmss_upstream_id`, sub-status "requested"), then moved on
//! upstream in a fixed mix.

use mysql::prelude::Queryable;

use super::billing::{TestDb, EXAMPLE_CSR};
use super::sim::{SeedOrders, SimAccount, SimUpstream};

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
    db.conn().query_drop("START TRANSACTION").unwrap();
    let local: Vec<u64> = (0..items)
        .map(|_| {
            db.seed_certificate_item(
                module,
                tariff,
                12,
                &[("CN", "example.com"), ("service_status", "3")],
                Some(EXAMPLE_CSR),
            )
        })
        .collect();
    // Ordered upstream in one call, each exactly as an API order would
    // (`/_sim/seed`), with our item id as its remoteid.
    let upstream_ids = up.seed_orders(
        &SeedOrders::new(user, TARIFF, items)
            .cn("example.com")
            .remoteids(&local),
    );
    assert_eq!(upstream_ids.len(), items, "one upstream order per item");
    for chunk in local
        .iter()
        .zip(&upstream_ids)
        .collect::<Vec<_>>()
        .chunks(500)
    {
        let values = vec!["(?, 'pmss_upstream_id', ?)"; chunk.len()].join(", ");
        let args: Vec<mysql::Value> = chunk
            .iter()
            .flat_map(|(item, id)| [(**item).into(), id.to_string().into()])
            .collect();
        db.conn()
            .exec_drop(
                format!("INSERT INTO itemparam (item, intname, value) VALUES {values}"),
                args,
            )
            .unwrap();
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
    let pick = |rests: &[usize]| -> Vec<u64> {
        ids.iter()
            .enumerate()
            .filter(|(i, _)| rests.contains(&(i % 4)))
            .map(|(_, id)| *id)
            .collect()
    };
    up.issue_many(&pick(&[0, 2]));
    up.tick_many(&pick(&[1]));
}
