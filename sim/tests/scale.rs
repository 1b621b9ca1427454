//! The simulator at reseller scale: batched state writes (still written, still
//! reloadable, written on SIGTERM and on `/_sim/flush`), the per-request stats, bulk seeding through
//! the order handler, a bounded journal, and correct answers to 8 clients at once.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// An account rich enough for many orders, as `reseller@example.com` with the usual password.
fn rich(sim: &Sim, balance: &str) {
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": balance, "currency": "EUR"}),
    );
}

fn state_ids(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    v["items"]
        .as_object()
        .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default()
}

/// The simulator's stats once no API request is in flight: a request's
/// cost is counted after its answer is written, so the client may ask
/// before the server thread has counted the last one.
fn stats(sim: &Sim) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let s = sim.control("GET", "/_sim/stats", Value::Null);
        if s["api_in_flight"] == 0 || std::time::Instant::now() >= deadline {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn batched_state_is_written_within_the_interval_and_reloads_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let arg = state.to_str().unwrap();
    let mut sim = Sim::start(&["--state", arg]);
    let id = sim.order("batched.example.com", &[("remoteid", "b-1")]);
    // The flusher writes on its own (default every 200 ms); wait for it, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !state_ids(&state).contains(&id) {
        assert!(
            Instant::now() < deadline,
            "state file never showed item {id}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.kill_hard();
    let sim = Sim::start_bare(&["--state", arg]);
    assert_eq!(sim.item(id)["remoteid"], "b-1");
    assert_eq!(sim.balance(), "79.00");
    // Written atomically and private: no temp file left, owner-only permissions.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!dir.path().join("state.tmp").exists());
}

#[test]
fn flush_call_and_sigterm_write_at_once_and_sigkill_loses_only_the_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let arg = state.to_str().unwrap();
    // A batch interval far longer than the test: only the flush call or SIGTERM write.
    let mut sim = Sim::start(&["--state", arg, "--state-flush-ms", "3600000"]);
    let flushed = sim.order("flushed.example.com", &[]);
    assert_eq!(
        sim.control("POST", "/_sim/flush", Value::Null),
        json!({"written": true})
    );
    assert_eq!(
        sim.control("POST", "/_sim/flush", Value::Null),
        json!({"written": false}),
        "nothing changed since"
    );
    let lost = sim.order("lost.example.com", &[]);
    sim.kill_hard();
    let mut sim = Sim::start_bare(&["--state", arg, "--state-flush-ms", "3600000"]);
    assert_eq!(sim.item(flushed)["cn"], "flushed.example.com");
    assert_eq!(sim.item(lost), Value::Null, "the unflushed batch is lost");
    assert_eq!(sim.balance(), "79.00");
    let kept = sim.order("sigterm.example.com", &[]);
    let status = sim
        .terminate(Duration::from_secs(10))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let sim = Sim::start_bare(&["--state", arg]);
    assert_eq!(sim.item(kept)["cn"], "sigterm.example.com");
    assert!(
        stats(&sim)["state_writes"].as_u64().unwrap() >= 1,
        "{}",
        stats(&sim)
    );
}

#[test]
fn flush_interval_zero_writes_before_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let arg = state.to_str().unwrap();
    let mut sim = Sim::start(&["--state", arg, "--state-flush-ms", "0"]);
    let id = sim.order("sync.example.com", &[]);
    assert!(state_ids(&state).contains(&id));
    sim.kill_hard();
    let sim = Sim::start_bare(&["--state", arg]);
    assert_eq!(sim.item(id)["cn"], "sync.example.com");
}

#[test]
fn stats_count_requests_by_function_and_reset() {
    let sim = Sim::start(&[]);
    let id = sim.order("stats.example.com", &[]);
    // The order's requests all counted before the reset, none after it.
    stats(&sim);
    sim.control("DELETE", "/_sim/stats", Value::Null);
    for _ in 0..3 {
        sim.api("whoami", &[]);
    }
    let elid = id.to_string();
    for _ in 0..2 {
        sim.api("certificate.edit", &[("elid", &elid)]);
    }
    sim.control("GET", "/_sim/journal", Value::Null);
    let s = stats(&sim);
    assert_eq!(s["requests"], 5, "{s}");
    assert_eq!(s["funcs"]["whoami"]["count"], 3, "{s}");
    let edit = &s["funcs"]["certificate.edit"];
    assert_eq!(edit["count"], 2, "{s}");
    let us = |k: &str| edit[k].as_f64().unwrap();
    assert!(us("request_us_total") > 0.0, "{s}");
    assert!(us("locked_us_total") > 0.0, "{s}");
    assert!(
        us("request_us_total") >= us("locked_us_total") + us("wait_us_total"),
        "{s}"
    );
    assert!((us("request_us_mean") * 2.0 - us("request_us_total")).abs() < 1e-6);
    assert_eq!(s["control"]["GET /_sim/journal"]["count"], 1, "{s}");
    assert_eq!(s["state_writes"], 0, "no --state");
    sim.control("DELETE", "/_sim/stats", Value::Null);
    let s = stats(&sim);
    assert_eq!(s["requests"], 0, "{s}");
    assert_eq!(s["funcs"], json!({}), "{s}");
}

#[test]
fn seed_makes_what_an_api_order_makes() {
    let sim = Sim::start(&[]);
    rich(&sim, "1000.00");
    let ordered = sim.order("api.example.com", &[("remoteid", "7")]);
    let answer = sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "period": 12, "count": 3,
               "cn": "seed{n}.example.com", "csr": CSR, "remoteid_from": 100,
               "params": {"approver_email": "admin@example.com"}}),
    );
    let ids: Vec<u64> = answer["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ids, [ordered + 1, ordered + 2, ordered + 3]);
    // 1000 − 4 × 21.00
    assert_eq!(answer["balance"], "916.00");
    assert_eq!(sim.balance(), "916.00");
    let api = sim.item(ordered);
    for (n, id) in ids.iter().enumerate() {
        let item = sim.item(*id);
        assert_eq!(item["cn"], format!("seed{}.example.com", n + 1));
        assert_eq!(item["remoteid"], (100 + n).to_string());
        assert_eq!(item["approver_emails"], json!(["admin@example.com"]));
        for same in [
            "status",
            "service_status",
            "status_msg",
            "pricelist",
            "period",
            "paid",
            "cost",
            "currency",
            "csr",
            "autoprolong",
        ] {
            assert_eq!(item[same], api[same], "{same}");
        }
        assert_eq!(item["status"], 5);
        assert_eq!(item["service_status"], 3);
    }
    // They are ordinary items: issuance and the API see them.
    sim.control("POST", "/_sim/issue", json!({"ids": ids}));
    let xml = sim.api("certificate.edit", &[("elid", &ids[0].to_string())]);
    assert_eq!(text(&xml, "doc/service_status").as_deref(), Some("5"));
    assert_eq!(rows(&sim.api("certificate", &[])), 4);
    // The seeding was no API request.
    let journal = sim.control("GET", "/_sim/journal", Value::Null);
    let orders = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["func"] == "certificate.order.param")
        .count();
    assert_eq!(orders, 1);
}

#[test]
fn seed_with_a_remoteid_list_and_all_or_nothing() {
    let sim = Sim::start(&[]);
    let answer = sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "cn": "list{n}.example.com", "csr": CSR,
               "remoteids": ["a", "b"]}),
    );
    let ids = answer["ids"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 2);
    assert_eq!(sim.item(ids[1].as_u64().unwrap())["remoteid"], "b");
    assert_eq!(sim.balance(), "58.00");
    // 58.00 pays for two more, not three: nothing is ordered, nothing debited.
    let a = sim
        .request(
            "POST",
            "/_sim/seed",
            "application/json",
            &json!({"username": USER, "pricelist": 3033, "count": 3, "cn": "x{n}.example.com",
                    "csr": CSR})
            .to_string(),
        )
        .unwrap();
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("order 3 of 3") && a.body.contains("not_enough_money"),
        "{}",
        a.body
    );
    assert_eq!(sim.balance(), "58.00");
    let all = sim.control("GET", "/_sim/certificates", Value::Null);
    assert_eq!(all.as_array().unwrap().len(), 2);
    // What a real order refuses, the seed refuses too.
    for (body, want) in [
        (
            json!({"username": USER, "pricelist": 3033, "count": 1, "cn": "n.example.com"}),
            "csr",
        ),
        (
            json!({"username": USER, "pricelist": 2018, "count": 1, "cn": "n.example.com", "csr": CSR}),
            "pricelist",
        ),
        (
            json!({"username": "nobody", "pricelist": 3033, "count": 1, "cn": "n.example.com", "csr": CSR}),
            "no account",
        ),
        (
            json!({"username": USER, "pricelist": 3033, "cn": "n.example.com", "csr": CSR}),
            "count",
        ),
        (
            json!({"username": USER, "pricelist": 3033, "count": 2, "remoteids": ["x"], "cn": "n.example.com", "csr": CSR}),
            "disagree",
        ),
    ] {
        let a = sim
            .request("POST", "/_sim/seed", "application/json", &body.to_string())
            .unwrap();
        assert_eq!(a.status, 400, "{body}");
        assert!(a.body.contains(want), "{body}: {}", a.body);
    }
}

#[test]
fn journal_keeps_the_newest_entries_and_counts_on() {
    let sim = Sim::start(&["--journal-limit", "3"]);
    for _ in 0..5 {
        sim.api("whoami", &[]);
    }
    let j = sim.control("GET", "/_sim/journal", Value::Null);
    let seqs: Vec<u64> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4, 5]);
}

#[test]
fn issue_and_tick_take_a_list_of_ids() {
    let sim = Sim::start(&[]);
    let a = sim.order("a.example.com", &[]);
    let b = sim.order("b.example.com", &[]);
    let c = sim.order("c.example.com", &[]);
    let t = sim.control("POST", "/_sim/tick", json!({"ids": [a, b, 999]}));
    assert_eq!(t, json!({"advanced": [a, b]}), "unknown ids are left out");
    assert_eq!(sim.item(a)["service_status"], 4);
    assert_eq!(sim.item(c)["service_status"], 3);
    let bad = sim
        .request(
            "POST",
            "/_sim/issue",
            "application/json",
            &json!({"ids": [a, 999]}).to_string(),
        )
        .unwrap();
    assert_eq!(bad.status, 400, "one wrong id issues nothing");
    assert_eq!(sim.item(a)["service_status"], 4);
    let i = sim.control("POST", "/_sim/issue", json!({"ids": [a, c]}));
    assert_eq!(i, json!({"issued": [a, c]}));
    assert_eq!(sim.item(c)["service_status"], 5);
    assert_eq!(sim.item(b)["service_status"], 4);
}

#[test]
fn eight_clients_at_once_get_their_own_answers() {
    let sim = Sim::start(&[]);
    rich(&sim, "100000.00");
    let seeded = sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "count": 400, "cn": "c{n}.example.com",
               "csr": CSR, "remoteid_from": 1}),
    );
    let ids: Vec<u64> = seeded["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    sim.control("POST", "/_sim/issue", json!({"ids": &ids[..200]}));
    sim.control("DELETE", "/_sim/journal", Value::Null);
    sim.control("DELETE", "/_sim/stats", Value::Null);
    let ordered: Vec<u64> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (sim, ids) = (&sim, &ids);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 8 == t) {
                        let xml = sim.api("certificate.edit", &[("elid", &id.to_string())]);
                        assert_eq!(text(&xml, "doc/id"), Some(id.to_string()), "{xml}");
                        assert_eq!(
                            text(&xml, "doc/CN"),
                            Some(format!("c{}.example.com", n + 1))
                        );
                        assert_eq!(text(&xml, "doc/remoteid"), Some((n + 1).to_string()));
                        let issued = if n < 200 { "5" } else { "3" };
                        assert_eq!(text(&xml, "doc/service_status").as_deref(), Some(issued));
                        // Some writes among the reads: each thread orders too.
                        if n % 40 == t {
                            mine.push(sim.order(&format!("w{t}-{n}.example.com"), &[]));
                        }
                    }
                    assert!(rows(&sim.api("certificate", &[])) >= 400);
                    mine
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let mut unique = ordered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ordered.len(), "every order its own id");
    // 100000 − (400 seeded + the concurrent orders) × 21.00: no debit lost or doubled.
    let spent = 21 * (400 + ordered.len() as u64);
    assert_eq!(sim.balance(), format!("{}.00", 100_000 - spent));
    let j = sim.control("GET", "/_sim/journal", Value::Null);
    let n = j.as_array().unwrap().len();
    assert_eq!(n, 400 + 8 + ordered.len(), "one journal entry per request");
    let s = stats(&sim);
    assert_eq!(s["funcs"]["certificate.edit"]["count"], 400, "{s}");
    assert_eq!(s["requests"].as_u64().unwrap() as usize, n, "{s}");
}
