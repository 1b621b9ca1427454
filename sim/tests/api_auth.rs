//! Accounts and authentication of the simulated upstream (SIM-3, 5, 7, 8, 9, 14).

mod common;
use common::*;
use serde_json::json;

#[test]
fn authinfo_whoami_shows_balance_and_currency() {
    let sim = Sim::start(&[]);
    let xml = sim.api("whoami", &[]);
    assert_eq!(attr(&xml, "doc/user", "balance").as_deref(), Some("100.00"));
    assert_eq!(attr(&xml, "doc/user", "currency").as_deref(), Some("EUR"));
    assert_eq!(attr(&xml, "doc/user", "name").as_deref(), Some(USER));
}

#[test]
fn localized_balance_knob() {
    let sim = Sim::start(&["--knob", "balance_localized=on"]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "1234.5", "currency": "RUB"}),
    );
    let xml = sim.api("whoami", &[]);
    assert_eq!(
        attr(&xml, "doc/user", "balance").as_deref(),
        Some("1\u{a0}234,50")
    );
}

#[test]
fn wrong_password_is_an_auth_error() {
    let sim = Sim::start(&[]);
    let a = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "whoami"),
            ("authinfo", &format!("{USER}:wrong")),
        ])
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(error(&a.body).unwrap().0, "auth");
    // No credentials at all is refused as well.
    let a = sim
        .post_form(&[("out", "xml"), ("func", "certificate")])
        .unwrap();
    assert_eq!(error(&a.body).unwrap().0, "auth");
}

#[test]
fn auth_error_type_knob() {
    let sim = Sim::start(&["--knob", "auth_error_type=badauth"]);
    let a = sim
        .post_form(&[("out", "xml"), ("func", "whoami"), ("authinfo", "nobody:x")])
        .unwrap();
    assert_eq!(error(&a.body).unwrap().0, "badauth");
}

#[test]
fn session_login_use_and_expiry_on_the_sim_clock() {
    let sim = Sim::start(&[]);
    let a = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "auth"),
            ("username", USER),
            ("password", PASS),
        ])
        .unwrap();
    let sid = attr(&a.body, "doc/auth", "id").expect("session id");
    assert_eq!(text(&a.body, "doc/auth").as_deref(), Some(sid.as_str()));
    assert_eq!(attr(&a.body, "doc/auth", "level").as_deref(), Some("16"));
    let whoami = |sid: &str| {
        sim.post_form(&[("out", "xml"), ("func", "whoami"), ("auth", sid)])
            .unwrap()
            .body
    };
    assert_eq!(
        attr(&whoami(&sid), "doc/user", "name").as_deref(),
        Some(USER)
    );
    // 59 minutes later the session still works and the use renews it.
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 59 * 60}));
    assert!(error(&whoami(&sid)).is_none());
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 59 * 60}));
    assert!(error(&whoami(&sid)).is_none());
    // Then an hour without requests ends it.
    sim.control("POST", "/_sim/clock", json!({"advance_secs": 3601}));
    assert_eq!(error(&whoami(&sid)).unwrap().0, "auth");
    assert_eq!(error(&whoami("not-a-session")).unwrap().0, "auth");
}

#[test]
fn bad_login_and_twofa_and_bm5_shape() {
    let sim = Sim::start(&["--knob", "auth_shape=bm5"]);
    let a = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "auth"),
            ("username", USER),
            ("password", "nope"),
        ])
        .unwrap();
    assert_eq!(error(&a.body).unwrap().0, "auth");
    let a = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "auth"),
            ("username", USER),
            ("password", PASS),
        ])
        .unwrap();
    assert!(a.body.contains("<auth id=\""), "{}", a.body);
    assert!(
        a.body.contains("/></doc>"),
        "bm5 shape has no text: {}",
        a.body
    );
    sim.control("POST", "/_sim/account", json!({"username": USER, "password": PASS, "balance": "1", "currency": "EUR", "twofa": true}));
    let xml = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "whoami"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ])
        .unwrap()
        .body;
    assert_eq!(error(&xml).unwrap().0, "auth");
}

#[test]
fn missing_out_gives_an_html_page() {
    let sim = Sim::start(&[]);
    let a = sim
        .post_form(&[("func", "whoami"), ("authinfo", &format!("{USER}:{PASS}"))])
        .unwrap();
    assert_eq!(a.status, 200);
    assert!(
        a.content_type.starts_with("text/html"),
        "{}",
        a.content_type
    );
    assert!(!a.body.contains("<doc>"));
}

#[test]
fn unknown_and_admin_functions() {
    let sim = Sim::start(&[]);
    let xml = sim.api("certificate.nosuch", &[]);
    let (kind, params) = error(&xml).unwrap();
    assert_eq!(kind, "missed");
    assert_eq!(attr(&xml, "doc/error", "object").as_deref(), Some("func"));
    assert!(params
        .iter()
        .any(|(k, v)| k == "value" && v == "certificate.nosuch"));
    for f in [
        "certificate.retry",
        "certificate.open",
        "project",
        "certificate.setfilter",
    ] {
        assert_eq!(error(&sim.api(f, &[])).unwrap().0, "access", "{f}");
    }
}

#[test]
fn get_query_and_post_body_merge_body_wins_and_legacy_path() {
    let sim = Sim::start(&[]);
    let body = form(&[("authinfo", &format!("{USER}:{PASS}")), ("func", "whoami")]);
    let a = sim
        .request(
            "POST",
            "/manager/billmgr?out=xml&func=certificate.nosuch",
            "application/x-www-form-urlencoded",
            &body,
        )
        .unwrap();
    assert_eq!(
        attr(&a.body, "doc/user", "name").as_deref(),
        Some(USER),
        "{}",
        a.body
    );
    let a = sim
        .request(
            "GET",
            "/billmgr?out=xml&func=pricelist.export&pricelist=1011",
            "text/plain",
            "",
        )
        .unwrap();
    assert_eq!(text(&a.body, "doc/pricelist/id").as_deref(), Some("1011"));
    let a = sim.request("GET", "/other", "text/plain", "").unwrap();
    assert_eq!(a.status, 404);
}

#[test]
fn json_output_and_noise_knob() {
    let sim = Sim::start(&["--knob", "noise=on"]);
    let xml = sim.api("whoami", &[]);
    assert!(
        xml.contains("<tparams>") && xml.contains("<tips>") && xml.contains("<saved_filters/>")
    );
    assert!(!xml.contains(PASS), "the echo never carries credentials");
    let a = sim
        .post_form(&[
            ("out", "json"),
            ("func", "whoami"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ])
        .unwrap();
    assert!(a.content_type.starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["doc"]["user"]["$balance"], "100.00");
    let a = sim
        .post_form(&[("out", "json"), ("func", "whoami"), ("authinfo", "x:y")])
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["doc"]["error"]["$type"], "auth");
    assert!(v["doc"]["error"]["msg"]["$"].is_string());
    // sjson/bjson are not served.
    let a = sim
        .post_form(&[
            ("out", "bjson"),
            ("func", "whoami"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ])
        .unwrap();
    assert!(a.content_type.starts_with("text/html"));
}
