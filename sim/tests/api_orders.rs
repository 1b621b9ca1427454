//! Ordering, money, list and view (SIM-10…12, 19…21, 23, 24, 29).

mod common;
use common::*;
use serde_json::json;

#[test]
fn order_debits_and_creates_a_processing_item() {
    let sim = Sim::start(&[]);
    let id = sim.order(
        "example.com",
        &[
            ("remoteid", " svc-42 "),
            ("approver_email_2", "b@example.com"),
            ("approver_email_1", "a@example.com"),
            ("adm_fname", "Ann"),
        ],
    );
    assert_eq!(sim.balance(), "79.00");
    let item = sim.item(id);
    assert_eq!(item["service_status"], 3);
    assert_eq!(item["status"], 5);
    assert_eq!(item["remoteid"], " svc-42 ", "stored verbatim");
    assert_eq!(
        item["approver_emails"],
        json!(["a@example.com", "b@example.com"])
    );
    assert_eq!(item["params"]["adm_fname"], "Ann");
    assert!(item["params"].get("authinfo").is_none());
    // A second identical order is a second item and a second debit (no de-duplication, SIM-29).
    let id2 = sim.order("example.com", &[("remoteid", "svc-42")]);
    assert_ne!(id, id2);
    assert_eq!(sim.balance(), "58.00");
}

#[test]
fn not_enough_money_params_in_order_and_nothing_changes() {
    let sim = Sim::start(&[]);
    sim.control("POST", "/_sim/account", json!({"username": USER, "password": PASS, "balance": "5.00", "currency": "EUR", "limit": "1.50"}));
    let xml = sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("clicked_button", "finish"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
        ],
    );
    let (kind, params) = error(&xml).expect("error");
    assert_eq!(kind, "not_enough_money");
    assert_eq!(attr(&xml, "doc/error", "code").as_deref(), Some("1"));
    let expected = [
        ("amount", "21.00"),
        ("have", "5.00"),
        ("currency", "EUR"),
        ("deficit", "14.50"),
        ("limit", "1.50"),
        ("reserved", "0.00"),
        ("available", "6.50"),
    ];
    let got: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert!(text(&xml, "doc/error/msg").is_some());
    assert_eq!(sim.balance(), "5.00");
    assert_eq!(
        sim.control("GET", "/_sim/certificates", serde_json::Value::Null),
        json!([])
    );
    // The credit limit counts: 20.00 + 1.50 covers 21.00 and the balance may go negative.
    sim.control("POST", "/_sim/account", json!({"username": USER, "password": PASS, "balance": "20.00", "currency": "EUR", "limit": "1.50"}));
    sim.order("example.com", &[]);
    assert_eq!(sim.balance(), "-1.00");
}

#[test]
fn san_addon_pricing_and_limits() {
    let sim = Sim::start(&[]);
    let base = [
        ("sok", "ok"),
        ("skipbasket", "on"),
        ("clicked_button", "finish"),
        ("pricelist", "3040"),
        ("period", "12"),
        ("CN", "example.com"),
        ("csr", CSR),
    ];
    // 45.00 + 2 × 12.50 from the names in altname.
    let mut p = base.to_vec();
    p.push(("altname", "a.example.com b.example.com"));
    let xml = sim.api("certificate.order.param", &p);
    assert!(text(&xml, "doc/id").is_some(), "{xml}");
    assert_eq!(sim.balance(), "30.00");
    // addon_<id> overrides the count of names: 45.00 + 3 × 12.50.
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR"}),
    );
    let mut p = base.to_vec();
    p.push(("altname", "a.example.com"));
    p.push(("addon_3041", "3"));
    sim.api("certificate.order.param", &p);
    assert_eq!(sim.balance(), "17.50");
    // Above the addon limit (10).
    let names: Vec<String> = (0..11).map(|i| format!("n{i}.example.com")).collect();
    let joined = names.join(" ");
    let mut p = base.to_vec();
    p.push(("altname", &joined));
    let xml = sim.api("certificate.order.param", &p);
    assert_eq!(error(&xml).unwrap().0, "value");
    assert_eq!(
        attr(&xml, "doc/error", "object").as_deref(),
        Some("altname")
    );
    // SANs on a single-name plan are refused.
    let xml = sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
            ("altname", "x.example.com"),
        ],
    );
    assert_eq!(
        attr(&xml, "doc/error", "object").as_deref(),
        Some("altname")
    );
}

#[test]
fn validation_errors_name_the_parameter() {
    let sim = Sim::start(&[]);
    let call = |extra: &[(&str, &str)]| {
        let mut p = vec![
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("clicked_button", "finish"),
        ];
        p.extend_from_slice(extra);
        let xml = sim.api("certificate.order.param", &p);
        (
            attr(&xml, "doc/error", "type").unwrap_or_default(),
            attr(&xml, "doc/error", "object").unwrap_or_default(),
        )
    };
    let miss = |o: &str| ("missed".to_string(), o.to_string());
    let bad = |o: &str| ("value".to_string(), o.to_string());
    assert_eq!(call(&[]), miss("pricelist"));
    assert_eq!(call(&[("pricelist", "9999")]), bad("pricelist"));
    assert_eq!(
        call(&[("pricelist", "2018"), ("period", "12")]),
        bad("pricelist"),
        "archived"
    );
    assert_eq!(call(&[("pricelist", "3033")]), miss("period"));
    assert_eq!(
        call(&[("pricelist", "3033"), ("period", "6")]),
        bad("period")
    );
    assert_eq!(
        call(&[("pricelist", "1013"), ("period", "36")]),
        bad("period"),
        "cost=\"\""
    );
    assert_eq!(call(&[("pricelist", "3033"), ("period", "12")]), miss("CN"));
    assert_eq!(
        call(&[("pricelist", "3033"), ("period", "12"), ("CN", "bad name")]),
        bad("CN")
    );
    assert_eq!(
        call(&[
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "*.example.com"),
            ("csr", CSR)
        ]),
        bad("CN"),
        "wildcard on a non-wildcard plan"
    );
    assert_eq!(
        call(&[
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com")
        ]),
        miss("csr")
    );
    assert_eq!(
        call(&[
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", "junk")
        ]),
        bad("csr")
    );
    assert_eq!(
        call(&[
            ("pricelist", "55324"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR)
        ]),
        bad("pricelist"),
        "RUB plan, EUR account"
    );
    assert_eq!(sim.balance(), "100.00");
    // Wildcard plan takes a wildcard CN; crt_type=generate needs no CSR.
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "1000", "currency": "EUR"}),
    );
    let id = sim.order("*.example.com", &[("pricelist", "3035")]);
    assert!(id > 0);
    let id = sim.order("gen.example.com", &[("csr", ""), ("crt_type", "generate")]);
    assert!(sim.item(id)["csr"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE REQUEST"));
}

#[test]
fn currency_strict_off_allows_foreign_plans() {
    let sim = Sim::start(&["--knob", "currency_strict=off"]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "3000", "currency": "EUR"}),
    );
    sim.order("example.com", &[("pricelist", "55324")]);
    assert_eq!(sim.balance(), "500.00");
}

#[test]
fn without_skipbasket_an_unpaid_item_and_no_debit() {
    let sim = Sim::start(&[]);
    let xml = sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
        ],
    );
    assert!(xml.contains("<ok/>"), "{xml}");
    assert_eq!(sim.balance(), "100.00");
    let items = sim.control("GET", "/_sim/certificates", serde_json::Value::Null);
    assert_eq!(items[0]["status"], 1);
    // Without sok: the form with select lists.
    let form = sim.api("certificate.order.param", &[]);
    assert!(form.contains("<slist name=\"pricelist\">"), "{form}");
}

#[test]
fn list_view_and_remoteid_edit() {
    let sim = Sim::start(&[]);
    let id = sim.order("example.com", &[("remoteid", "svc-1"), ("altname", "")]);
    let other = sim.order("other.example.com", &[("remoteid", "svc-2")]);
    let list = sim.api("certificate", &[]);
    assert_eq!(rows(&list), 2);
    assert_eq!(text(&list, "doc/elem/CN").as_deref(), Some("example.com"));
    assert_eq!(text(&list, "doc/elem/item_status").as_deref(), Some("5"));
    assert_eq!(text(&list, "doc/elem/cost").as_deref(), Some("21.00 EUR"));
    assert!(!list.contains("<remoteid>") && !list.contains("<account>"));
    // Another account sees nothing and cannot view the item.
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": "other", "password": "pw", "balance": "0", "currency": "EUR"}),
    );
    let foreign = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "certificate.edit"),
            ("elid", &id.to_string()),
            ("authinfo", "other:pw"),
        ])
        .unwrap()
        .body;
    assert_eq!(error(&foreign).unwrap().0, "missed");
    assert_eq!(
        attr(&foreign, "doc/error", "object").as_deref(),
        Some("elid")
    );

    let view = sim.api("certificate.edit", &[("elid", &id.to_string())]);
    assert_eq!(text(&view, "doc/id"), Some(id.to_string()));
    assert_eq!(text(&view, "doc/remoteid").as_deref(), Some("svc-1"));
    assert_eq!(text(&view, "doc/service_status").as_deref(), Some("3"));
    assert!(text(&view, "doc/crt").is_none(), "no crt before issue");
    let ok = sim.api(
        "certificate.edit",
        &[
            ("elid", &id.to_string()),
            ("remoteid", "svc-9"),
            ("sok", "ok"),
        ],
    );
    assert!(ok.contains("<ok/>"));
    assert_eq!(sim.item(id)["remoteid"], "svc-9");

    // Knobs: remoteid hidden from the view; remoteid column and filter in the list; labels.
    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"edit_remoteid": "off", "list_remoteid": "on", "item_status_label": "on"}),
    );
    let view = sim.api("certificate.edit", &[("elid", &id.to_string())]);
    assert!(text(&view, "doc/remoteid").is_none());
    let filtered = sim.api("certificate", &[("remoteid", "svc-2")]);
    assert_eq!(rows(&filtered), 1);
    assert_eq!(text(&filtered, "doc/elem/id"), Some(other.to_string()));
    assert_eq!(
        text(&filtered, "doc/elem/item_status").as_deref(),
        Some("In progress")
    );
}

#[test]
fn remoteid_unique_knob() {
    let sim = Sim::start(&["--knob", "remoteid_unique=on"]);
    sim.order("example.com", &[("remoteid", "svc-1")]);
    let xml = sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
            ("remoteid", "svc-1"),
        ],
    );
    assert_eq!(error(&xml).unwrap().0, "exists");
    assert_eq!(sim.balance(), "79.00");
}

/// SIM-3: answers are byte-stable; these exact bytes are what client parsers are written against.
#[test]
fn golden_answers() {
    let sim = Sim::start(&[]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "5", "currency": "EUR"}),
    );
    let xml = sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("csr", CSR),
        ],
    );
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><error type=\"not_enough_money\" code=\"1\" lang=\"en\">\
<param name=\"amount\">21.00</param><param name=\"have\">5.00</param><param name=\"currency\">EUR</param>\
<param name=\"deficit\">16.00</param><param name=\"limit\">0.00</param><param name=\"reserved\">0.00</param>\
<param name=\"available\">5.00</param><msg>Insufficient funds to complete the operation. Required amount 21.00 EUR, \
available 5.00 EUR</msg></error></doc>\n"
    );
    let xml = sim.api("certificate.edit", &[("elid", "1")]);
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><error type=\"missed\" object=\"elid\" lang=\"en\">\
<param name=\"object\">elid</param><msg>Missing or unknown value of 'elid'</msg></error></doc>\n"
    );
}
