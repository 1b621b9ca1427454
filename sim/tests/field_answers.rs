//! Answers of live panels to money and login calls (field-2026-12.md §5): errors wrapped in
//! `<warning>` (FS 66932350124), a pending second factor (FS 3481085040), a renewal refused until
//! a date (FS 3485857877).

mod common;
use common::*;
use serde_json::json;

fn order_params(cn: &str) -> Vec<(&str, &str)> {
    vec![
        ("sok", "ok"),
        ("skipbasket", "on"),
        ("pricelist", "3033"),
        ("period", "12"),
        ("CN", cn),
        ("csr", CSR),
    ]
}

/// FS 66932350124: the same error inside `<warning>`, HTTP 200, nothing else different.
#[test]
fn error_wrap_warning() {
    let sim = Sim::start(&["--knob", "error_wrap=warning"]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "5", "currency": "EUR"}),
    );
    let xml = sim.api("certificate.order.param", &order_params("example.com"));
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><warning><error type=\"not_enough_money\" code=\"1\" lang=\"en\">\
<param name=\"amount\">21.00</param><param name=\"have\">5.00</param><param name=\"currency\">EUR</param>\
<param name=\"deficit\">16.00</param><param name=\"limit\">0.00</param><param name=\"reserved\">0.00</param>\
<param name=\"available\">5.00</param><msg>Insufficient funds to complete the operation. Required amount 21.00 EUR, \
available 5.00 EUR</msg></error></warning></doc>\n"
    );
    assert_eq!(sim.balance(), "5.00");
    // Every error: an auth error, an unknown function, a scripted fault.
    let auth = sim
        .post_form(&[("out", "xml"), ("func", "whoami"), ("authinfo", "x:y")])
        .unwrap();
    assert_eq!(auth.status, 200);
    assert_eq!(
        attr(&auth.body, "doc/warning/error", "type").as_deref(),
        Some("auth")
    );
    let unknown = sim.api("no.such.func", &[]);
    assert_eq!(
        attr(&unknown, "doc/warning/error", "type").as_deref(),
        Some("missed")
    );
    sim.control(
        "POST",
        "/_sim/fault",
        json!({"func": "whoami", "kind": "error", "error_type": "access"}),
    );
    let fault = sim.api("whoami", &[]);
    assert_eq!(
        attr(&fault, "doc/warning/error", "type").as_deref(),
        Some("access")
    );
    // The journal still says what happened.
    let journal = sim.control("GET", "/_sim/journal", serde_json::Value::Null);
    assert_eq!(journal[0]["outcome"], "error:not_enough_money");
    // Successful answers are untouched.
    assert!(sim.api("whoami", &[]).contains("<doc><user "));
}

/// FS 3481085040: the credentials of a 2FA account answer `func=totp.confirm` and nothing is done.
#[test]
fn twofa_totp_confirm() {
    let sim = Sim::start(&["--knob", "twofa_shape=totp_confirm"]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR", "twofa": true}),
    );
    let totp =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><ok>func=totp.confirm</ok></doc>\n";
    assert_eq!(sim.api("whoami", &[]), totp);
    assert_eq!(
        sim.api("certificate.order.param", &order_params("example.com")),
        totp
    );
    assert_eq!(sim.api("certificate", &[]), totp);
    assert_eq!(sim.balance(), "100.00");
    assert_eq!(
        sim.control("GET", "/_sim/certificates", serde_json::Value::Null),
        json!([]),
        "nothing ordered"
    );
    // func=auth gives no usable session either.
    let auth = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "auth"),
            ("username", USER),
            ("password", PASS),
        ])
        .unwrap()
        .body;
    assert_eq!(auth, totp);
    // A wrong password is still an auth error.
    let wrong = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "whoami"),
            ("authinfo", &format!("{USER}:nope")),
        ])
        .unwrap()
        .body;
    assert_eq!(error(&wrong).unwrap().0, "auth");
    // The default: an auth error.
    sim.control("POST", "/_sim/knobs", json!({"twofa_shape": "auth_error"}));
    assert_eq!(error(&sim.api("whoami", &[])).unwrap().0, "auth");
}

/// FS 3485857877: a renewal more than N days before the expiry is refused, the first allowed day
/// in `<param name="value">`; nothing is debited.
#[test]
fn prolong_not_before_days() {
    let sim = Sim::start(&["--knob", "prolong_not_before_days=30"]);
    sim.control("POST", "/_sim/clock", json!({"now": "2026-12-07"}));
    let id = sim.order("example.com", &[]);
    sim.control("POST", "/_sim/issue", json!({"id": id}));
    // Expires 2027-12-07: renewable from 2027-11-07.
    let prolong = |sim: &Sim| {
        sim.api(
            "service.prolong",
            &[("elid", &id.to_string()), ("period", "12"), ("sok", "ok")],
        )
    };
    let xml = prolong(&sim);
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><error type=\"value\" object=\"elid\" lang=\"en\">\
<param name=\"object\">elid</param><param name=\"value\">2027-11-07</param>\
<msg>The service can be renewed only after 2027-11-07</msg></error></doc>\n"
    );
    assert_eq!(sim.balance(), "79.00");
    sim.control("POST", "/_sim/knobs", json!({"labels_lang": "ru"}));
    let xml = prolong(&sim);
    assert_eq!(
        text(&xml, "doc/error/msg").as_deref(),
        Some("Услугу можно продлить только после 2027-11-07")
    );
    assert_eq!(attr(&xml, "doc/error", "lang").as_deref(), Some("ru"));
    // On 2027-11-06 still refused; on 2027-11-07 (30 days before) renewed.
    sim.control("POST", "/_sim/clock", json!({"now": "2027-11-06"}));
    assert_eq!(error(&prolong(&sim)).unwrap().0, "value");
    sim.control("POST", "/_sim/clock", json!({"now": "2027-11-07"}));
    let xml = prolong(&sim);
    assert_eq!(
        text(&xml, "doc/doc/newexpiredate").as_deref(),
        Some("2028-12-07"),
        "{xml}"
    );
    assert_eq!(sim.balance(), "58.00");
    // 0 is off: renewable any time.
    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"prolong_not_before_days": "0"}),
    );
    sim.control("POST", "/_sim/issue", json!({}));
    assert!(text(&prolong(&sim), "doc/doc/newexpiredate").is_some());
}
