//! The field shapes real panels send in the certificate list and view (field-2026-12.md §1–4), one
//! knob each: item status, labels' language, expiry, cost, plan. Exact XML, list and view.

mod common;
use common::*;
use serde_json::json;

/// Four certificates on the simulator clock of 2026-12-07 (ids in order):
/// 100001 active (expires 2027-12-07), 100002 being opened (no expiry yet), 100003 being renewed
/// (expires 2028-12-07), 100004 suspended (expires 2027-12-07). 21.00 EUR for 12 months each.
fn world(knobs: &[&str]) -> Sim {
    let mut args = Vec::new();
    for k in knobs {
        args.extend(["--knob", k]);
    }
    let sim = Sim::start(&args);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "1000", "currency": "EUR", "may_suspend": true}),
    );
    sim.control("POST", "/_sim/clock", json!({"now": "2026-12-07"}));
    let ids: Vec<u64> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| sim.order(&format!("{n}.example.com"), &[]))
        .collect();
    assert_eq!(ids, [100_001, 100_002, 100_003, 100_004]);
    sim.control(
        "POST",
        "/_sim/issue",
        json!({"ids": [100_001, 100_003, 100_004]}),
    );
    let prolong = sim.api(
        "service.prolong",
        &[("elid", "100003"), ("period", "12"), ("sok", "ok")],
    );
    assert!(prolong.contains("2028-12-07"), "{prolong}");
    let suspend = sim.api("certificate.suspend", &[("elid", "100004")]);
    assert!(suspend.contains("<ok/>"), "{suspend}");
    sim
}

/// The `<elem>…</elem>` row of `id` in a list answer.
fn row(list: &str, id: u64) -> String {
    let start = list
        .find(&format!("<elem><id>{id}</id>"))
        .unwrap_or_else(|| panic!("no row {id} in {list}"));
    let end = start + list[start..].find("</elem>").expect("row end") + "</elem>".len();
    list[start..end].to_string()
}

fn list(sim: &Sim) -> String {
    sim.api("certificate", &[])
}

fn view(sim: &Sim, id: u64) -> String {
    sim.api("certificate.edit", &[("elid", &id.to_string())])
}

/// Default shapes, byte for byte: what every existing test was written against.
#[test]
fn defaults_are_unchanged() {
    let sim = world(&[]);
    let l = list(&sim);
    assert_eq!(
        row(&l, 100_001),
        "<elem><id>100001</id><CN>a.example.com</CN><pricelist>Comodo Positive SSL</pricelist>\
<createdate>2026-12-07</createdate><expiredate>2027-12-07</expiredate><status_msg></status_msg>\
<item_status>2</item_status><cost>21.00 EUR</cost></elem>"
    );
    assert!(row(&l, 100_002).contains("<expiredate></expiredate><status_msg>"));
    assert!(!l.contains("p_elems"));
    let v = view(&sim, 100_001);
    assert!(
        v.contains(
            "<altname></altname><pricelist>3033</pricelist><period>12</period>\
<createdate>2026-12-07</createdate><expiredate>2027-12-07</expiredate><item_status>2</item_status>\
<service_status>5</service_status>"
        ),
        "{v}"
    );
    assert!(!v.contains("<cost>"), "the view has no cost by default");
}

/// field-2026-12 §1: a localized label instead of the code; `item_status_label=on` is its older
/// name and keeps working.
#[test]
fn item_status_label_and_its_alias() {
    for knob in ["item_status_shape=label", "item_status_label=on"] {
        let sim = world(&[knob]);
        let l = list(&sim);
        assert!(
            row(&l, 100_001).contains("<item_status>Active</item_status>"),
            "{knob}"
        );
        assert!(row(&l, 100_002).contains("<item_status>In progress</item_status>"));
        assert!(row(&l, 100_004).contains("<item_status>Suspended</item_status>"));
        assert!(view(&sim, 100_001).contains("<item_status>Active</item_status>"));
    }
}

/// field-2026-12 §1, BILLmanager 6 hosting.gcore.com 2026-10 (FS 71186436630, 55077564878): the
/// code in `orig`, the label as text, no other status.
#[test]
fn item_status_orig() {
    let sim = world(&["item_status_shape=orig"]);
    let l = list(&sim);
    assert!(row(&l, 100_001)
        .contains("<status_msg></status_msg><item_status orig=\"2\">Active</item_status><cost>"));
    assert!(row(&l, 100_003).contains("<item_status orig=\"5\">In progress</item_status>"));
    assert!(row(&l, 100_004).contains("<item_status orig=\"3\">Suspended</item_status>"));
    let v = view(&sim, 100_002);
    assert!(
        v.contains("<item_status orig=\"5\">In progress</item_status><service_status>3"),
        "{v}"
    );
    assert_eq!(attr(&v, "doc/item_status", "orig").as_deref(), Some("5"));
}

/// field-2026-12 §1, BILLmanager 6 as Zomro's client reads it (FS 3598771711, 3568929349):
/// compound codes in `orig`.
#[test]
fn item_status_orig_compound() {
    let sim = world(&["item_status_shape=orig_compound"]);
    let l = list(&sim);
    for (id, shape) in [
        (100_001, "<item_status orig=\"2\">Active</item_status>"),
        (
            100_002,
            "<item_status orig=\"5_open\">In progress</item_status>",
        ),
        (
            100_003,
            "<item_status orig=\"5_prolong\">In progress</item_status>",
        ),
        (
            100_004,
            "<item_status orig=\"3_autosuspend\">Suspended</item_status>",
        ),
    ] {
        assert!(row(&l, id).contains(shape), "{id}: {}", row(&l, id));
        assert!(view(&sim, id).contains(shape), "view {id}");
    }
    // A reissue is processing of its own kind.
    let sim = world(&["item_status_shape=orig_compound"]);
    sim.api(
        "certificate.reissue.step2",
        &[
            ("elid", "100001"),
            ("sok", "ok"),
            ("crt_type", "oldrequest"),
        ],
    );
    assert!(view(&sim, 100_001).contains("orig=\"5_reissue\""));
}

/// field-2026-12 §1, gcore (FS 71186436630): no item_status, the code in item_real_status; and
/// gcore's mix of both, by id.
#[test]
fn item_real_status_and_the_gcore_mix() {
    let sim = world(&["item_status_shape=real_status"]);
    let l = list(&sim);
    assert!(!l.contains("<item_status"));
    assert!(row(&l, 100_001)
        .contains("<status_msg></status_msg><item_real_status>2</item_real_status><cost>"));
    let v = view(&sim, 100_004);
    assert!(v.contains("<item_real_status>3</item_real_status><service_status>"));
    assert!(!v.contains("<item_status"));

    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"item_status_shape": "orig_or_real"}),
    );
    let l = list(&sim);
    assert!(row(&l, 100_001).contains("<item_real_status>2</item_real_status>"));
    assert!(!row(&l, 100_001).contains("<item_status"));
    assert!(row(&l, 100_002).contains("<item_status orig=\"5\">In progress</item_status>"));
    assert!(!row(&l, 100_002).contains("item_real_status"));
    assert!(view(&sim, 100_003).contains("<item_real_status>5</item_real_status>"));
    assert!(view(&sim, 100_004).contains("<item_status orig=\"3\">Suspended</item_status>"));
}

/// No item status at all: only the numeric `status` column when `status_column=on`.
#[test]
fn item_status_none() {
    let sim = world(&["item_status_shape=none"]);
    let l = list(&sim);
    assert!(
        !l.contains("item_status") && !l.contains("item_real_status") && !l.contains("<status>")
    );
    assert!(!view(&sim, 100_001).contains("item_status"));
    sim.control("POST", "/_sim/knobs", json!({"status_column": "on"}));
    let l = list(&sim);
    assert!(row(&l, 100_004).ends_with("<cost>21.00 EUR</cost><status>3</status></elem>"));
    assert!(view(&sim, 100_004).contains("<status>3</status>"));
}

/// field-2026-12 §1-3: Russian labels, "Ежедневное списание" and "/ Месяц".
#[test]
fn russian_labels() {
    let sim = world(&["labels_lang=ru", "item_status_shape=orig"]);
    let l = list(&sim);
    assert!(row(&l, 100_001).contains("<item_status orig=\"2\">Активен</item_status>"));
    assert!(row(&l, 100_002).contains(">В обработке</item_status>"));
    assert!(row(&l, 100_004).contains(">Остановлен</item_status>"));
    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"expiredate_shape": "daily_label", "cost_shape": "per_month"}),
    );
    let r = row(&list(&sim), 100_001);
    assert!(
        r.contains("<expiredate>Ежедневное списание</expiredate>"),
        "{r}"
    );
    assert!(r.contains("<cost>1.75 € / Месяц</cost>"), "{r}");
    // An ordered (unpaid) and a deleted item: the remaining labels.
    sim.api(
        "certificate.order.param",
        &[
            ("sok", "ok"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "cart.example.com"),
            ("csr", CSR),
        ],
    );
    assert!(row(&list(&sim), 100_005).contains("<item_status orig=\"1\">Заказан</item_status>"));
    sim.control("POST", "/_sim/knobs", json!({"labels_lang": "en"}));
    assert!(row(&list(&sim), 100_005).contains("<item_status orig=\"1\">Ordered</item_status>"));
}

/// field-2026-12 §2 (FS 55077564878, 71186436630, 3522491149): expiry shapes, list and view; an
/// item without an expiry has empty elements. `missing` and `garbage` are no panel's shape: an
/// expiry the module cannot read.
#[test]
fn expiredate_shapes() {
    let sim = world(&[]);
    for (shape, active, unissued) in [
        (
            "with_real",
            "<expiredate>2027-12-07</expiredate><real_expiredate>2027-12-07</real_expiredate>",
            "<expiredate></expiredate><real_expiredate></real_expiredate>",
        ),
        (
            "daily_label",
            "<expiredate>Daily charges</expiredate><real_expiredate>2027-12-07</real_expiredate>",
            "<expiredate></expiredate><real_expiredate></real_expiredate>",
        ),
        (
            "datetime",
            "<expiredate>2027-12-07 20:00</expiredate>",
            "<expiredate></expiredate>",
        ),
        (
            "dotted",
            "<expiredate>07.12.2027</expiredate>",
            "<expiredate></expiredate>",
        ),
        // An expiry the module cannot read: none at all, or not a date.
        ("missing", "", ""),
        (
            "garbage",
            "<expiredate>soon</expiredate>",
            "<expiredate>soon</expiredate>",
        ),
    ] {
        sim.control("POST", "/_sim/knobs", json!({"expiredate_shape": shape}));
        let l = list(&sim);
        assert!(
            row(&l, 100_001).contains(&format!("</createdate>{active}<status_msg>")),
            "{shape}: {}",
            row(&l, 100_001)
        );
        assert!(
            row(&l, 100_002).contains(&format!("</createdate>{unissued}<status_msg>")),
            "{shape}"
        );
        assert!(
            view(&sim, 100_001).contains(&format!("</createdate>{active}<item_status>")),
            "{shape}"
        );
        assert!(view(&sim, 100_002).contains(&format!("</createdate>{unissued}<item_status>")));
    }
    // The createdate keeps its plain shape.
    assert!(list(&sim).contains("<createdate>2026-12-07</createdate>"));
}

/// field-2026-12 §3 (FS 55077564878, 71186436630): cost shapes in the list, and in the view
/// (which shows no cost in the plain shape).
#[test]
fn cost_shapes() {
    let sim = world(&[]);
    // 24 months of plan 3033 cost 38.00: 1.5833… a month, rounded to 1.58.
    let long = sim.order("e.example.com", &[("period", "24")]);
    for (shape, cost, cost24) in [
        (
            "per_month",
            "<cost>1.75 € / Month</cost><item_cost>21.0000</item_cost><currency_str>€</currency_str>",
            "<cost>1.58 € / Month</cost><item_cost>38.0000</item_cost><currency_str>€</currency_str>",
        ),
        ("symbol_prefix", "<cost>€21.00</cost>", "<cost>€38.00</cost>"),
        ("comma", "<cost>21,00 EUR</cost>", "<cost>38,00 EUR</cost>"),
    ] {
        sim.control("POST", "/_sim/knobs", json!({"cost_shape": shape}));
        let l = list(&sim);
        assert!(
            row(&l, 100_001).ends_with(&format!("</item_status>{cost}</elem>")),
            "{shape}: {}",
            row(&l, 100_001)
        );
        assert!(row(&l, long).contains(cost24), "{shape}: {}", row(&l, long));
        let v = view(&sim, 100_001);
        assert!(
            v.contains(&format!("<period>12</period>{cost}<createdate>")),
            "{shape}: {v}"
        );
    }
    // Other currencies keep their code; RUB and USD have symbols.
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": "rub", "password": "pw", "balance": "100000", "currency": "RUB"}),
    );
    let rub = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "certificate.order.param"),
            ("authinfo", "rub:pw"),
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("pricelist", "55324"),
            ("period", "12"),
            ("CN", "example.ru"),
            ("csr", CSR),
        ])
        .unwrap()
        .body;
    assert!(text(&rub, "doc/id").is_some(), "{rub}");
    let rub_list = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "certificate"),
            ("authinfo", "rub:pw"),
        ])
        .unwrap()
        .body;
    assert!(rub_list.contains("<cost>"), "{rub_list}");
    assert!(
        rub_list.contains(" RUB</cost>"),
        "comma keeps the code: {rub_list}"
    );
    sim.control(
        "POST",
        "/_sim/knobs",
        json!({"cost_shape": "symbol_prefix"}),
    );
    let rub_list = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "certificate"),
            ("authinfo", "rub:pw"),
        ])
        .unwrap()
        .body;
    assert!(rub_list.contains("<cost>₽"), "{rub_list}");
}

/// field-2026-12 §4 (FS 55077564878): the plan's name and id.
#[test]
fn pricelist_shapes() {
    let sim = world(&["pricelist_shape=name_with_id"]);
    let both = "<pricelist>Comodo Positive SSL</pricelist><pricelist_id>3033</pricelist_id>";
    assert!(row(&list(&sim), 100_001).contains(&format!("</CN>{both}<createdate>")));
    assert!(view(&sim, 100_001).contains(&format!("</altname>{both}<period>")));
    sim.control("POST", "/_sim/knobs", json!({"pricelist_shape": "id"}));
    assert!(row(&list(&sim), 100_001).contains("</CN><pricelist>3033</pricelist><createdate>"));
    let v = view(&sim, 100_001);
    assert!(
        v.contains("</altname><pricelist>3033</pricelist><period>"),
        "{v}"
    );
    assert!(!v.contains("pricelist_id"));
}

/// Shapes reach `out=json` through the one generic conversion: `orig` as `"$orig"`.
#[test]
fn shapes_in_json() {
    let sim = world(&["item_status_shape=orig"]);
    let a = sim
        .post_form(&[
            ("out", "json"),
            ("func", "certificate.edit"),
            ("elid", "100001"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ])
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["doc"]["item_status"]["$orig"], "2");
    assert_eq!(v["doc"]["item_status"]["$"], "Active");
}
