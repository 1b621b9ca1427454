//! Fault injection (SIM-31) and the request journal with masked secrets (SIM-32).

mod common;
use common::*;
use serde_json::{json, Value};

fn order_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("sok", "ok"),
        ("skipbasket", "on"),
        ("clicked_button", "finish"),
        ("pricelist", "3033"),
        ("period", "12"),
        ("CN", "example.com"),
        ("csr", CSR),
    ]
}

fn order_raw(sim: &Sim) -> Result<Answer, String> {
    let auth = format!("{USER}:{PASS}");
    let mut p = vec![
        ("out", "xml"),
        ("func", "certificate.order.param"),
        ("authinfo", auth.as_str()),
    ];
    p.extend(order_params());
    sim.post_form(&p)
}

fn items(sim: &Sim) -> usize {
    sim.control("GET", "/_sim/certificates", Value::Null)
        .as_array()
        .unwrap()
        .len()
}

fn last_outcome(sim: &Sim) -> (String, Value) {
    let j = sim.control("GET", "/_sim/journal", Value::Null);
    let last = j.as_array().unwrap().last().unwrap().clone();
    (
        last["outcome"].as_str().unwrap().to_string(),
        last["result"].clone(),
    )
}

#[test]
fn drop_after_commit_applies_the_change_but_sends_nothing() {
    let sim = Sim::start(&["--fault", "certificate.order.param:drop_after_commit"]);
    let err = order_raw(&sim).expect_err("no answer");
    assert!(err.contains("no complete answer (0 bytes)"), "{err}");
    assert_eq!(items(&sim), 1, "the order was committed");
    assert_eq!(sim.balance(), "79.00");
    assert_eq!(
        last_outcome(&sim),
        ("fault:drop_after_commit".into(), json!("ok"))
    );
    // count 1: the next call is normal.
    assert_eq!(order_raw(&sim).unwrap().status, 200);
    assert_eq!(items(&sim), 2);
}

#[test]
fn refuse_does_nothing() {
    let sim = Sim::start(&[]);
    sim.control(
        "POST",
        "/_sim/fault",
        json!({"func": "certificate.order.param", "kind": "refuse", "count": 2}),
    );
    assert!(order_raw(&sim).is_err());
    assert!(order_raw(&sim).is_err());
    assert_eq!(items(&sim), 0);
    assert_eq!(sim.balance(), "100.00");
    assert_eq!(last_outcome(&sim).0, "fault:refuse");
    assert!(order_raw(&sim).is_ok());
}

#[test]
fn http_502_503_and_not_xml_do_nothing() {
    let sim = Sim::start(&[
        "--fault",
        "certificate.order.param:http_502",
        "--fault",
        "certificate.order.param:http_503",
    ]);
    let a = order_raw(&sim).unwrap();
    assert_eq!(a.status, 502);
    assert!(a.content_type.starts_with("text/html"));
    assert_eq!(order_raw(&sim).unwrap().status, 503);
    sim.control(
        "POST",
        "/_sim/fault",
        json!({"func": "certificate.order.param", "kind": "not_xml"}),
    );
    let a = order_raw(&sim).unwrap();
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("text/html") && !a.body.contains("<doc"));
    assert_eq!(items(&sim), 0);
    assert_eq!(sim.balance(), "100.00");
}

#[test]
fn truncated_applies_and_cuts_the_body() {
    let sim = Sim::start(&["--fault", "certificate.order.param:truncated"]);
    let a = order_raw(&sim).unwrap();
    assert!(a.body.len() < a.content_length.unwrap(), "{a:?}");
    assert!(!a.body.contains("</doc>"));
    assert_eq!(items(&sim), 1);
    assert_eq!(last_outcome(&sim), ("fault:truncated".into(), json!("ok")));
}

#[test]
fn delay_then_normal_answer() {
    let sim = Sim::start(&["--fault", "whoami:delay:1:300"]);
    let xml = sim.api("whoami", &[]);
    assert!(attr(&xml, "doc/user", "balance").is_some());
    assert_eq!(last_outcome(&sim), ("fault:delay".into(), json!("ok")));
}

#[test]
fn scripted_error_with_params_and_wildcard_func() {
    let sim = Sim::start(&["--fault", "*:error=maintenance"]);
    sim.control(
        "POST",
        "/_sim/fault",
        json!({"func": "certificate.order.param", "kind": "error", "error_type": "not_enough_money", "error_params": {"amount": "21.00"}}),
    );
    let xml = sim.api("whoami", &[]);
    assert_eq!(error(&xml).unwrap().0, "maintenance");
    let xml = order_raw(&sim).unwrap().body;
    let (kind, params) = error(&xml).unwrap();
    assert_eq!(kind, "not_enough_money");
    assert_eq!(params, vec![("amount".to_string(), "21.00".to_string())]);
    assert_eq!(items(&sim), 0);
    sim.control(
        "POST",
        "/_sim/fault",
        json!({"func": "whoami", "kind": "refuse", "count": 5}),
    );
    sim.control("DELETE", "/_sim/faults", Value::Null);
    assert!(error(&sim.api("whoami", &[])).is_none());
}

#[test]
fn bad_fault_specs_are_refused() {
    let sim = Sim::start(&[]);
    let a = sim
        .request(
            "POST",
            "/_sim/fault",
            "application/json",
            &json!({"func": "x", "kind": "explode"}).to_string(),
        )
        .unwrap();
    assert_eq!(a.status, 400);
    let a = sim
        .request(
            "POST",
            "/_sim/knobs",
            "application/json",
            &json!({"prolong_shape": "round"}).to_string(),
        )
        .unwrap();
    assert_eq!(a.status, 400);
}

#[test]
fn journal_masks_every_secret() {
    let sim = Sim::start(&[]);
    sim.api("whoami", &[]);
    sim.post_form(&[
        ("out", "xml"),
        ("func", "auth"),
        ("username", USER),
        ("password", PASS),
    ])
    .unwrap();
    sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
            ("key", "-----BEGIN PRIVATE KEY-----secret"),
        ],
    );
    sim.post_form(&[
        ("out", "xml"),
        ("func", "whoami"),
        ("authinfo", &format!("{USER}:wrong-{PASS}")),
    ])
    .unwrap();
    let j = sim.control("GET", "/_sim/journal", Value::Null);
    let text = j.to_string();
    assert!(!text.contains("pa55"), "password leaked: {text}");
    assert!(!text.contains("PRIVATE KEY"), "key leaked");
    let entries = j.as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["params"]["authinfo"], format!("{USER}:***"));
    assert_eq!(entries[1]["params"]["password"], "***");
    assert_eq!(entries[2]["params"]["key"], "***");
    assert_eq!(entries[3]["outcome"], "error:auth");
    assert_eq!(entries[0]["seq"], 1);
    assert!(entries[0]["time"].as_str().unwrap().ends_with('Z'));
    sim.control("DELETE", "/_sim/journal", Value::Null);
    assert_eq!(sim.control("GET", "/_sim/journal", Value::Null), json!([]));
    // The simulator's own stdout carries only the listening line (checked by Sim::start); the state
    // file holds accounts, never the journal.
}

#[test]
fn absurd_clock_jumps_are_refused_and_the_simulator_keeps_working() {
    let sim = Sim::start(&[]);
    let a = sim
        .request(
            "POST",
            "/_sim/clock",
            "application/json",
            &json!({"advance_secs": i64::MAX}).to_string(),
        )
        .unwrap();
    assert_eq!(a.status, 400);
    let a = sim
        .request("POST", "/_sim/clock", "application/json", "{not json")
        .unwrap();
    assert_eq!(a.status, 400);
    let a = sim.raw(b"garbage\r\n\r\n").unwrap();
    assert_eq!(a.status, 400);
    assert!(error(&sim.api("whoami", &[])).is_none());
}

/// `{"now": DAY}` lands on that day, never a second before it: the offset is whole seconds and
/// was truncated, so setting the clock again and again crept back into the previous day.
#[test]
fn clock_now_lands_on_the_day_asked() {
    let sim = Sim::start(&[]);
    for day in ["2027-11-06", "2027-11-07", "2026-01-31", "2027-11-07"] {
        let now = sim.control("POST", "/_sim/clock", json!({ "now": day }))["now"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(now.starts_with(&format!("{day}T00:00:0")), "{day}: {now}");
    }
}
