//! Orders that land in the upstream cart unpaid (field-2026-12.md §4-5, FS 32391036524, 5296154253,
//! 3578094251): a panel that ignores `skipbasket=on` (knob `order_cart`), the cart answers (knob
//! `cart_answer`), and the upstream admin paying or dropping the order (`/_sim/cart/pay`,
//! `/_sim/cart/drop`).

mod common;
use common::*;
use serde_json::{json, Value};

/// A paid-path order (`skipbasket=on`) of plan 3033 for 12 months; the raw answer.
fn order_xml(sim: &Sim, cn: &str, remoteid: &str) -> String {
    sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("clicked_button", "finish"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", cn),
            ("csr", CSR),
            ("remoteid", remoteid),
        ],
    )
}

fn post(sim: &Sim, path: &str, body: Value) -> Answer {
    sim.request("POST", path, "application/json", &body.to_string())
        .expect("answer")
}

#[test]
fn order_cart_ignores_skipbasket_and_debits_nothing() {
    let sim = Sim::start(&["--knob", "order_cart=on", "--knob", "list_remoteid=on"]);
    let xml = order_xml(&sim, "example.com", "svc-1");
    // Today's cart answer: a bare ok, no service id.
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><ok/></doc>\n"
    );
    assert_eq!(sim.balance(), "100.00");
    let item = sim.item(100_001);
    assert_eq!(item["status"], 1);
    assert_eq!(item["paid"], "0");
    assert_eq!(item["in_cart"], true);
    assert_eq!(item["cart_id"], 90_001);
    assert!(item["pending"].is_null(), "not processing");
    // Listed with status 1 and its remoteid, and viewable.
    let list = sim.api("certificate", &[("remoteid", "svc-1")]);
    assert_eq!(rows(&list), 1);
    assert_eq!(text(&list, "doc/elem/id").as_deref(), Some("100001"));
    assert_eq!(text(&list, "doc/elem/item_status").as_deref(), Some("1"));
    let view = sim.api("certificate.edit", &[("elid", "100001")]);
    assert_eq!(text(&view, "doc/item_status").as_deref(), Some("1"));
    assert_eq!(text(&view, "doc/remoteid").as_deref(), Some("svc-1"));
    // The control seed still makes paid orders.
    let seeded = sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "count": 1, "cn": "seed.example.com", "csr": CSR}),
    );
    assert_eq!(seeded["balance"], "79.00");
    assert!(sim.item(100_002).get("in_cart").is_none());
}

#[test]
fn cart_answer_shapes() {
    let sim = Sim::start(&["--knob", "order_cart=on"]);
    let base = format!("http://{}", sim.addr);
    let mut cart_ids = Vec::new();
    for (n, (shape, element)) in [
        ("ok_url", "ok"),
        ("billorder.id", "billorder.id"),
        ("billorder", "billorder"),
        ("lineitem.id", "lineitem.id"),
        ("payment_id", "payment_id"),
    ]
    .into_iter()
    .enumerate()
    {
        sim.control("POST", "/_sim/knobs", json!({"cart_answer": shape}));
        let xml = order_xml(&sim, &format!("n{n}.example.com"), "");
        let value =
            text(&xml, &format!("doc/{element}")).unwrap_or_else(|| panic!("{shape}: {xml}"));
        assert!(text(&xml, "doc/id").is_none());
        let item_id = 100_001 + n as u64;
        let item = sim.item(item_id);
        if shape == "ok_url" {
            assert_eq!(value, format!("{base}/billmgr?func=cart"));
        } else {
            assert_eq!(
                xml,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><{element}>{value}</{element}></doc>\n"
                )
            );
            assert_eq!(value, item["cart_id"].to_string(), "{shape}");
            assert_ne!(
                value,
                item_id.to_string(),
                "a cart id is never a service id"
            );
        }
        cart_ids.push(item["cart_id"].as_u64().unwrap());
    }
    assert_eq!(cart_ids, [90_001, 90_002, 90_003, 90_004, 90_005]);
    assert_eq!(sim.balance(), "100.00");
}

/// The cart path without skipbasket answers `cart_answer` too, with order_cart off.
#[test]
fn no_skipbasket_lands_in_the_cart_with_the_same_answers() {
    let sim = Sim::start(&["--knob", "cart_answer=lineitem.id"]);
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
    assert_eq!(text(&xml, "doc/lineitem.id").as_deref(), Some("90001"));
    assert_eq!(sim.item(100_001)["in_cart"], true);
    // skipbasket=on is honoured while order_cart is off.
    assert_eq!(sim.order("paid.example.com", &[]), 100_002);
    assert_eq!(sim.balance(), "79.00");
}

#[test]
fn pay_debits_once_and_starts_issuance() {
    let sim = Sim::start(&["--knob", "order_cart=on"]);
    order_xml(&sim, "a.example.com", "svc-a");
    order_xml(&sim, "b.example.com", "svc-b");
    let paid = sim.control("POST", "/_sim/cart/pay", json!({"id": 100_001}));
    assert_eq!(paid, json!({"paid": [100_001]}));
    assert_eq!(sim.balance(), "79.00");
    let item = sim.item(100_001);
    assert_eq!(item["paid"], "21.0000");
    assert_eq!(item["status"], 5);
    assert_eq!(item["service_status"], 3);
    assert_eq!(item["pending"][0], "order");
    assert!(item.get("in_cart").is_none());
    assert_eq!(item["cart_id"], 90_001, "kept once paid");
    // A second pay of the same item is refused; nothing debited twice.
    let again = post(&sim, "/_sim/cart/pay", json!({"id": 100_001}));
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("not an unpaid order"), "{}", again.body);
    assert_eq!(sim.balance(), "79.00");
    // Issued as a paid order: expiry from the issue date.
    sim.control("POST", "/_sim/issue", json!({"id": 100_001}));
    let item = sim.item(100_001);
    assert_eq!(item["status"], 2);
    assert_eq!(item["expiredate"], today_plus_months(12).as_str());
    // All the rest.
    let paid = sim.control("POST", "/_sim/cart/pay", json!({"all": true}));
    assert_eq!(paid, json!({"paid": [100_002]}));
    assert_eq!(sim.balance(), "58.00");
    assert_eq!(
        sim.control("POST", "/_sim/cart/pay", json!({"all": true})),
        json!({"paid": []})
    );
    for bad in [
        json!({}),
        json!({"id": 1}),
        json!({"id": 100_001, "all": true}),
    ] {
        assert_eq!(
            post(&sim, "/_sim/cart/pay", bad.clone()).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn pay_without_the_money_changes_nothing() {
    let sim = Sim::start(&["--knob", "order_cart=on"]);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "30", "currency": "EUR"}),
    );
    order_xml(&sim, "a.example.com", "");
    order_xml(&sim, "b.example.com", "");
    // 2 × 21.00 > 30.00: all or nothing.
    let a = post(&sim, "/_sim/cart/pay", json!({"all": true}));
    assert_eq!(a.status, 409, "{}", a.body);
    let e: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(e["type"], "not_enough_money");
    assert_eq!(e["id"], 100_002);
    assert!(e["error"].as_str().unwrap().contains("Insufficient funds"));
    assert_eq!(sim.balance(), "30.00");
    assert_eq!(sim.item(100_001)["in_cart"], true);
    assert_eq!(sim.item(100_001)["status"], 1);
    // One fits.
    sim.control("POST", "/_sim/cart/pay", json!({"id": 100_002}));
    assert_eq!(sim.balance(), "9.00");
    assert_eq!(
        post(&sim, "/_sim/cart/pay", json!({"id": 100_001})).status,
        409
    );
    assert_eq!(sim.balance(), "9.00");
}

/// The account's price when paid: its discount counts.
#[test]
fn pay_charges_the_accounts_price() {
    let sim = Sim::start(&["--knob", "order_cart=on"]);
    order_xml(&sim, "a.example.com", "");
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR", "discount_percent": "10"}),
    );
    sim.control("POST", "/_sim/cart/pay", json!({"id": 100_001}));
    assert_eq!(sim.balance(), "81.10");
}

#[test]
fn drop_deletes_the_unpaid_order() {
    let sim = Sim::start(&["--knob", "order_cart=on", "--knob", "list_remoteid=on"]);
    order_xml(&sim, "a.example.com", "svc-a");
    let dropped = sim.control("POST", "/_sim/cart/drop", json!({"id": 100_001}));
    assert_eq!(dropped, json!({"dropped": [100_001]}));
    let item = sim.item(100_001);
    assert_eq!(item["deleted"], true);
    assert_eq!(item["status"], 4);
    assert!(item.get("in_cart").is_none());
    assert_eq!(sim.balance(), "100.00");
    assert_eq!(rows(&sim.api("certificate", &[("remoteid", "svc-a")])), 0);
    let view = sim.api("certificate.edit", &[("elid", "100001")]);
    assert_eq!(error(&view).unwrap().0, "missed");
    // Neither payable nor droppable any more.
    assert_eq!(
        post(&sim, "/_sim/cart/pay", json!({"id": 100_001})).status,
        400
    );
    assert_eq!(
        post(&sim, "/_sim/cart/drop", json!({"id": 100_001})).status,
        400
    );
    assert_eq!(
        sim.control("POST", "/_sim/cart/drop", json!({"all": true})),
        json!({"dropped": []})
    );
}
