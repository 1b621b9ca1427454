//! Control endpoint `POST /_sim/seed`: many paid orders in one call, for benchmarks that need
//! 10,000–20,000 upstream certificates (one API request each took seconds). Every order goes
//! through the order handler itself, so each is exactly what `certificate.order.param` with
//! `skipbasket=on` makes: price and debit, item status 5, `service_status` 3, `remoteid`, and
//! under `issue_mode=instant` an issued certificate. All or nothing: if one order is refused,
//! none is kept.
//!
//! ```json
//! {"username": "reseller@example.com", "pricelist": 3033, "period": 12, "count": 10000,
//!  "cn": "site{n}.example.com", "csr": "-----BEGIN CERTIFICATE REQUEST-----…",
//!  "remoteid_from": 1, "params": {"autoprolong": "off"}}
//! ```
//! `{n}` in `cn` is the order's number in this call, from 1. `remoteid_from: K` gives the orders
//! remoteids K, K+1, …; `remoteids: [..]` gives each its own (and the count). `params` are added to
//! every order as sent (`crt_type`, `altname`, `approver_email`, contacts, …). Answers
//! `{"ids": [...], "balance": "…"}`.

use super::handlers::order_as;
use super::sim::Sim;
use super::state::money;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// More in one call would only hold the simulator lock for longer; call again for more.
const MAX_COUNT: usize = 100_000;

#[derive(Deserialize)]
pub struct SeedIn {
    username: String,
    pricelist: u64,
    #[serde(default = "twelve")]
    period: i32,
    #[serde(default)]
    count: Option<usize>,
    cn: String,
    #[serde(default)]
    csr: Option<String>,
    #[serde(default)]
    remoteid_from: Option<u64>,
    #[serde(default)]
    remoteids: Option<Vec<String>>,
    #[serde(default)]
    params: BTreeMap<String, String>,
}

fn twelve() -> i32 {
    12
}

/// Makes the orders; `Err` is a 400 message naming the order that was refused.
pub fn apply(sim: &mut Sim, s: SeedIn) -> Result<Value, String> {
    let count = match (s.count, &s.remoteids) {
        (Some(n), Some(list)) if n != list.len() => {
            return Err(format!(
                "count {n} and {} remoteids disagree; give one of them",
                list.len()
            ))
        }
        (_, Some(list)) => list.len(),
        (Some(n), None) => n,
        (None, None) => return Err("count (or remoteids) required".into()),
    };
    if count == 0 || count > MAX_COUNT {
        return Err(format!("count must be 1…{MAX_COUNT}"));
    }
    if s.remoteid_from.is_some() && s.remoteids.is_some() {
        return Err("give remoteid_from or remoteids, not both".into());
    }
    if !sim.world.accounts.contains_key(&s.username) {
        return Err(format!("no account {}", s.username));
    }
    let mut params = s.params;
    for (k, v) in [
        ("sok", "ok"),
        ("skipbasket", "on"),
        // Only the v2 order function reads it; the classic one ignores it (order.rs CONSUMED).
        ("force_use_new_cart", "on"),
    ] {
        params.insert(k.to_string(), v.to_string());
    }
    params.insert("pricelist".into(), s.pricelist.to_string());
    params.insert("period".into(), s.period.to_string());
    if let Some(csr) = s.csr {
        params.insert("csr".into(), csr);
    }
    // All or nothing: the world as it was, put back if an order is refused.
    let before = sim.world.clone();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        params.insert("CN".into(), s.cn.replace("{n}", &(n + 1).to_string()));
        let remoteid = match (&s.remoteids, s.remoteid_from) {
            (Some(list), _) => Some(list[n].clone()),
            (None, Some(from)) => Some((from + n as u64).to_string()),
            (None, None) => None,
        };
        match remoteid {
            Some(r) => params.insert("remoteid".into(), r),
            None => params.remove("remoteid"),
        };
        if let Err(e) = order_as(sim, &s.username, &params) {
            sim.world = before;
            return Err(format!(
                "order {} of {count} refused, nothing seeded: {} ({})",
                n + 1,
                e.kind,
                e.msg
            ));
        }
        // The id from the world, not the answer: knob order_answer=zero hides it there.
        ids.push(sim.world.next_item_id - 1);
    }
    let balance = sim
        .world
        .accounts
        .get(&s.username)
        .map(|a| money(a.balance))
        .unwrap_or_default();
    Ok(json!({ "ids": ids, "balance": balance }))
}
