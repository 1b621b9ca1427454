//! Issuance, reissue, delete with refunds, prolongation, suspend/resume (SIM-13, 22, 25…28, 30).

mod common;
use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};

fn pem_blocks(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

#[test]
fn tick_moves_3_4_5_and_issues_a_real_chain() {
    let sim = Sim::start(&[]);
    let id = sim.order(
        "example.com",
        &[("pricelist", "3040"), ("altname", "www.example.com")],
    );
    assert_eq!(sim.item(id)["service_status"], 3);
    sim.control("POST", "/_sim/tick", json!({}));
    assert_eq!(sim.item(id)["service_status"], 4);
    assert!(sim.item(id)["crt"].is_null());
    sim.control("POST", "/_sim/tick", json!({}));
    let item = sim.item(id);
    assert_eq!(item["service_status"], 5);
    assert_eq!(item["status"], 2);
    let expiry = today_plus_months(12);
    assert_eq!(item["expiredate"], expiry.as_str());
    let view = sim.api("certificate.edit", &[("elid", &id.to_string())]);
    let crt = text(&view, "doc/crt").expect("crt once issued");
    assert_eq!(pem_blocks(&crt), 2, "leaf + intermediate");
    let ders = CertificateDer::pem_slice_iter(crt.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("valid PEM");
    assert_eq!(ders.len(), 2);
    // The leaf carries both names (DER holds the SAN dNSNames as plain ASCII).
    let leaf = ders[0].as_ref();
    assert!(leaf.windows(11).any(|w| w == b"example.com"));
    assert!(leaf.windows(15).any(|w| w == b"www.example.com"));
    assert_eq!(text(&view, "doc/expiredate"), Some(expiry));
    let list = sim.api("certificate", &[]);
    assert_eq!(text(&list, "doc/elem/item_status").as_deref(), Some("2"));
}

#[test]
fn issue_and_fail_control_calls_and_fail_cn_knob() {
    let sim = Sim::start(&["--knob", "fail_cn=bad.example.com"]);
    let a = sim.order("a.example.com", &[]);
    let b = sim.order("b.example.com", &[]);
    let bad = sim.order("bad.example.com", &[]);
    sim.control("POST", "/_sim/issue", json!({"id": a}));
    assert_eq!(sim.item(a)["service_status"], 5);
    assert_eq!(sim.item(b)["service_status"], 3);
    sim.control(
        "POST",
        "/_sim/fail",
        json!({"id": b, "msg": "CAA record forbids issuance"}),
    );
    let view = sim.api("certificate.edit", &[("elid", &b.to_string())]);
    assert_eq!(text(&view, "doc/service_status").as_deref(), Some("6"));
    assert_eq!(
        text(&view, "doc/status_msg").as_deref(),
        Some("CAA record forbids issuance")
    );
    let issued = sim.control("POST", "/_sim/issue", json!({}));
    assert_eq!(issued["issued"], json!([bad]));
    assert_eq!(sim.item(bad)["service_status"], 6);
    assert!(sim.item(bad)["crt"].is_null());
}

#[test]
fn issue_modes_instant_and_auto() {
    let sim = Sim::start(&["--knob", "issue_mode=instant"]);
    let id = sim.order("example.com", &[]);
    assert_eq!(sim.item(id)["service_status"], 5);

    let sim = Sim::start(&["--knob", "issue_mode=auto", "--knob", "issue_step_secs=600"]);
    let id = sim.order("example.com", &[]);
    // The sim clock is the wall clock plus the offset, so real time also
    // passes between the calls: keep every check far from a step boundary.
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 300}));
    assert_eq!(sim.item(id)["service_status"], 3);
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 300}));
    assert_eq!(sim.item(id)["service_status"], 4);
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 600}));
    assert_eq!(sim.item(id)["service_status"], 5);
}

#[test]
fn reissue_modes() {
    let sim = Sim::start(&["--knob", "issue_mode=instant"]);
    let id = sim.order(
        "example.com",
        &[
            ("pricelist", "3040"),
            ("altname", "a.example.com b.example.com"),
        ],
    );
    let elid = id.to_string();
    let first_crt = sim.item(id)["crt"].clone();
    let expiry = sim.item(id)["expiredate"].clone();
    sim.control("POST", "/_sim/knobs", json!({"issue_mode": "manual"}));

    let missing = sim.api(
        "certificate.reissue.step2",
        &[("elid", &elid), ("sok", "ok")],
    );
    assert_eq!(
        attr(&missing, "doc/error", "object").as_deref(),
        Some("crt_type")
    );
    let ok = sim.api(
        "certificate.reissue.step2",
        &[
            ("elid", &elid),
            ("sok", "ok"),
            ("crt_type", "oldrequest"),
            ("approver_method", "auth_dnstxt"),
        ],
    );
    assert!(ok.contains("<ok/>"), "{ok}");
    assert_eq!(sim.item(id)["service_status"], 3);
    // Not issued now, so a second reissue is refused.
    let busy = sim.api(
        "certificate.reissue.step2",
        &[("elid", &elid), ("sok", "ok"), ("crt_type", "oldrequest")],
    );
    assert_eq!(attr(&busy, "doc/error", "object").as_deref(), Some("elid"));
    sim.control("POST", "/_sim/issue", json!({"id": id}));
    let item = sim.item(id);
    assert_eq!(item["expiredate"], expiry, "reissue keeps the expiry");
    assert_ne!(item["crt"], first_crt);
    assert_eq!(item["approver_method"], "auth_dnstxt");

    let need_csr = sim.api(
        "certificate.reissue.step2",
        &[("elid", &elid), ("sok", "ok"), ("crt_type", "manual")],
    );
    assert_eq!(
        attr(&need_csr, "doc/error", "object").as_deref(),
        Some("csr")
    );
    let new_csr = CSR.replace("MIIBsimulated", "MIIBnew");
    sim.api(
        "certificate.reissue.step2",
        &[
            ("elid", &elid),
            ("sok", "ok"),
            ("crt_type", "manual"),
            ("csr", &new_csr),
        ],
    );
    assert_eq!(sim.item(id)["csr"], new_csr.trim());
    sim.control("POST", "/_sim/issue", json!({"id": id}));

    let too_many = sim.api(
        "certificate.reissue.step2",
        &[
            ("elid", &elid),
            ("sok", "ok"),
            ("crt_type", "altname"),
            ("altname", "x.example.com y.example.com z.example.com"),
        ],
    );
    assert_eq!(
        attr(&too_many, "doc/error", "object").as_deref(),
        Some("altname")
    );
    sim.api(
        "certificate.reissue.step2",
        &[
            ("elid", &elid),
            ("sok", "ok"),
            ("crt_type", "altname"),
            ("altname", "c.example.com"),
        ],
    );
    let item = sim.item(id);
    assert_eq!(item["altnames"], json!(["c.example.com"]));
    assert_eq!(
        item["old_altnames"],
        json!(["a.example.com", "b.example.com"])
    );
    let bad = sim.api(
        "certificate.reissue.step2",
        &[("elid", &elid), ("sok", "ok"), ("crt_type", "weird")],
    );
    assert_eq!(error(&bad).unwrap().0, "value");
}

#[test]
fn delete_refund_policies() {
    // Default `unissued`: full refund before issue, none after.
    let sim = Sim::start(&[]);
    let a = sim.order("a.example.com", &[]);
    let b = sim.order("b.example.com", &[]);
    assert_eq!(sim.balance(), "58.00");
    let ok = sim.api("certificate.delete", &[("elid", &a.to_string())]);
    assert!(ok.contains("<ok/>"));
    assert_eq!(sim.balance(), "79.00");
    sim.control("POST", "/_sim/issue", json!({"id": b}));
    sim.api("certificate.delete", &[("elid", &b.to_string())]);
    assert_eq!(sim.balance(), "79.00");
    assert_eq!(
        rows(&sim.api("certificate", &[])),
        0,
        "deleted items are hidden"
    );
    assert_eq!(sim.item(a)["status"], 4);
    let again = sim.api("certificate.delete", &[("elid", &a.to_string())]);
    assert_eq!(error(&again).unwrap().0, "missed");

    // `window:30`: refund within 30 days of issue, not after; group delete "A, B".
    let sim = Sim::start(&[
        "--knob",
        "refund_policy=window:30",
        "--knob",
        "issue_mode=instant",
        "--knob",
        "ok_body=empty",
    ]);
    let a = sim.order("a.example.com", &[]);
    let b = sim.order("b.example.com", &[]);
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 29 * 86400}));
    let answer = sim.api("certificate.delete", &[("elid", &format!("{a}, {b}"))]);
    assert!(answer.contains("<doc/>"), "{answer}");
    assert_eq!(sim.balance(), "100.00");
    let c = sim.order("c.example.com", &[]);
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 31 * 86400}));
    sim.api("certificate.delete", &[("elid", &c.to_string())]);
    assert_eq!(sim.balance(), "79.00");

    // `none` and an account without may_delete.
    let sim = Sim::start(&["--knob", "refund_policy=none"]);
    let a = sim.order("a.example.com", &[]);
    sim.api("certificate.delete", &[("elid", &a.to_string())]);
    assert_eq!(sim.balance(), "79.00");
    sim.control("POST", "/_sim/account", json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR", "may_delete": false}));
    let b = sim.order("b.example.com", &[]);
    let denied = sim.api("certificate.delete", &[("elid", &b.to_string())]);
    assert_eq!(error(&denied).unwrap().0, "access");
    assert_eq!(sim.item(b)["deleted"], false);
}

#[test]
fn prolong_shapes_debit_and_reissue() {
    let sim = Sim::start(&["--knob", "issue_mode=instant"]);
    let id = sim.order("example.com", &[]);
    let elid = id.to_string();
    sim.control("POST", "/_sim/knobs", json!({"issue_mode": "manual"}));
    let xml = sim.api(
        "service.prolong",
        &[("elid", &elid), ("period", "24"), ("sok", "ok")],
    );
    let new_expiry = today_plus_months(36);
    assert_eq!(
        text(&xml, "doc/doc/newexpiredate"),
        Some(new_expiry.clone()),
        "{xml}"
    );
    assert_eq!(sim.balance(), "41.00");
    let item = sim.item(id);
    assert_eq!(item["expiredate"], new_expiry.as_str());
    assert_eq!(
        item["service_status"], 3,
        "prolong_reissues restarts issuance"
    );
    sim.control("POST", "/_sim/issue", json!({"id": id}));
    assert_eq!(
        sim.item(id)["expiredate"],
        new_expiry.as_str(),
        "issue keeps the prolonged expiry"
    );

    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"prolong_shape": "flat", "prolong_reissues": "off"}),
    );
    let xml = sim.api(
        "service.prolong",
        &[("elid", &elid), ("period", "12"), ("sok", "ok")],
    );
    assert_eq!(
        text(&xml, "doc/newexpiredate"),
        Some(today_plus_months(48)),
        "{xml}"
    );
    assert_eq!(sim.item(id)["service_status"], 5);
    // Not enough money, an unsold period, an unissued item.
    let poor = sim.api(
        "service.prolong",
        &[("elid", &elid), ("period", "36"), ("sok", "ok")],
    );
    assert_eq!(error(&poor).unwrap().0, "not_enough_money");
    let unsold = sim.api(
        "service.prolong",
        &[("elid", &elid), ("period", "7"), ("sok", "ok")],
    );
    assert_eq!(
        attr(&unsold, "doc/error", "object").as_deref(),
        Some("period")
    );
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR"}),
    );
    let fresh = sim.order("new.example.com", &[]);
    let early = sim.api(
        "service.prolong",
        &[
            ("elid", &fresh.to_string()),
            ("period", "12"),
            ("sok", "ok"),
        ],
    );
    assert_eq!(attr(&early, "doc/error", "object").as_deref(), Some("elid"));
}

#[test]
fn suspend_resume_need_permission() {
    let sim = Sim::start(&["--knob", "issue_mode=instant"]);
    let id = sim.order("example.com", &[]);
    let elid = id.to_string();
    assert_eq!(
        error(&sim.api("certificate.suspend", &[("elid", &elid)]))
            .unwrap()
            .0,
        "access"
    );
    assert_eq!(
        error(&sim.api("certificate.resume", &[("elid", &elid)]))
            .unwrap()
            .0,
        "access"
    );
    sim.control("POST", "/_sim/account", json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR", "may_suspend": true}));
    assert!(sim
        .api("certificate.suspend", &[("elid", &elid)])
        .contains("<ok/>"));
    assert_eq!(sim.item(id)["status"], 3);
    assert!(sim
        .api("certificate.resume", &[("elid", &elid)])
        .contains("<ok/>"));
    assert_eq!(sim.item(id)["status"], 2);
    assert_eq!(
        error(&sim.api("certificate.resume", &[("elid", &elid)]))
            .unwrap()
            .0,
        "value"
    );
}

#[test]
fn order_csr_returns_csr_and_key() {
    let sim = Sim::start(&[]);
    let xml = sim.api(
        "certificate.order.csr",
        &[("CN", "example.com"), ("sok", "ok"), ("snext", "ok")],
    );
    assert!(text(&xml, "doc/csr")
        .unwrap()
        .contains("BEGIN CERTIFICATE REQUEST"));
    assert!(text(&xml, "doc/key").unwrap().contains("PRIVATE KEY"));
    let journal = sim.control("GET", "/_sim/journal", Value::Null);
    assert_eq!(journal[0]["func"], "certificate.order.csr");
}
