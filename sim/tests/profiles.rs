//! Profiles: named bundles of knobs in a real panel's style (`--profile`, `/_sim/profile`).

mod common;
use common::*;
use serde_json::{json, Value};

/// The knob bundle of each profile, as the contract with the module's tests names it.
const BUNDLES: &[(&str, &[(&str, &str)])] = &[
    ("default", &[]),
    (
        "bm6-gcore",
        &[
            ("item_status_shape", "orig_or_real"),
            ("status_column", "off"),
            ("expiredate_shape", "daily_label"),
            ("cost_shape", "per_month"),
            ("pricelist_shape", "name_with_id"),
            ("labels_lang", "en"),
            ("twofa_shape", "totp_confirm"),
            ("list_p_elems", "on"),
            ("list_deleted", "on"),
        ],
    ),
    (
        "bm6-zomro",
        &[
            ("status_column", "on"),
            ("item_status_shape", "orig_compound"),
            ("labels_lang", "ru"),
            ("cost_shape", "comma"),
            ("expiredate_shape", "with_real"),
            ("list_p_elems", "on"),
            ("list_page_default", "20"),
            ("list_page_max", "3"),
            ("order_cart", "on"),
            ("cart_answer", "lineitem.id"),
            ("error_wrap", "warning"),
            ("twofa_shape", "totp_confirm"),
        ],
    ),
    (
        "bm5-classic",
        &[
            ("status_column", "on"),
            ("item_status_shape", "label"),
            ("order_cart", "on"),
            ("cart_answer", "billorder.id"),
            ("expiredate_shape", "datetime"),
            ("cost_shape", "plain"),
        ],
    ),
];

/// Default knobs overlaid with `bundle`.
fn expected(defaults: &Value, bundle: &[(&str, &str)]) -> Value {
    let mut knobs = defaults.clone();
    for (k, v) in bundle {
        assert!(knobs.get(*k).is_some(), "{k} is a knob");
        knobs[*k] = json!(v);
    }
    knobs
}

#[test]
fn each_profile_sets_exactly_its_knobs() {
    let sim = Sim::start(&[]);
    let defaults = sim.control("GET", "/_sim/knobs", Value::Null);
    assert_eq!(
        sim.control("GET", "/_sim/profile", Value::Null),
        json!({"name": "default"})
    );
    for (name, bundle) in BUNDLES {
        // A knob set before is reset by the profile.
        sim.control(
            "POST",
            "/_sim/knobs",
            json!({"noise": "on", "ok_body": "empty"}),
        );
        let answer = sim.control("POST", "/_sim/profile", json!({ "name": name }));
        assert_eq!(answer["name"], *name);
        let want = expected(&defaults, bundle);
        assert_eq!(answer["knobs"], want, "{name}");
        assert_eq!(
            sim.control("GET", "/_sim/knobs", Value::Null),
            want,
            "{name}"
        );
        assert_eq!(
            sim.control("GET", "/_sim/profile", Value::Null),
            json!({ "name": name })
        );
    }
}

#[test]
fn a_knob_set_after_the_profile_wins() {
    // On the command line: --knob after (or before) --profile overrides it.
    let sim = Sim::start(&[
        "--knob",
        "cart_answer=payment_id",
        "--profile",
        "bm6-zomro",
        "--knob",
        "labels_lang=en",
    ]);
    let knobs = sim.control("GET", "/_sim/knobs", Value::Null);
    assert_eq!(knobs["labels_lang"], "en");
    assert_eq!(knobs["cart_answer"], "payment_id");
    assert_eq!(knobs["order_cart"], "on");
    assert_eq!(
        sim.control("GET", "/_sim/profile", Value::Null)["name"],
        "bm6-zomro"
    );
    // At run time: the profile resets, a knob set afterwards overrides; the name stays.
    sim.control("POST", "/_sim/profile", json!({"name": "bm6-gcore"}));
    assert_eq!(
        sim.control("GET", "/_sim/knobs", Value::Null)["cart_answer"],
        "ok"
    );
    sim.control("POST", "/_sim/knobs", json!({"cost_shape": "comma"}));
    let knobs = sim.control("GET", "/_sim/knobs", Value::Null);
    assert_eq!(knobs["cost_shape"], "comma");
    assert_eq!(knobs["expiredate_shape"], "daily_label");
    assert_eq!(
        sim.control("GET", "/_sim/profile", Value::Null)["name"],
        "bm6-gcore"
    );
    // Back to today's behaviour.
    sim.control("POST", "/_sim/profile", json!({"name": "default"}));
    let defaults = Sim::start(&[]).control("GET", "/_sim/knobs", Value::Null);
    assert_eq!(sim.control("GET", "/_sim/knobs", Value::Null), defaults);
}

#[test]
fn unknown_profiles_are_refused_with_the_names() {
    let sim = Sim::start(&["--profile", "bm5-classic"]);
    let a = sim
        .request(
            "POST",
            "/_sim/profile",
            "application/json",
            r#"{"name": "bm7"}"#,
        )
        .unwrap();
    assert_eq!(a.status, 400);
    for name in ["default", "bm6-gcore", "bm6-zomro", "bm5-classic"] {
        assert!(a.body.contains(name), "{}", a.body);
    }
    // Nothing changed.
    assert_eq!(
        sim.control("GET", "/_sim/profile", Value::Null)["name"],
        "bm5-classic"
    );
    assert_eq!(
        sim.control("GET", "/_sim/knobs", Value::Null)["cart_answer"],
        "billorder.id"
    );
    // On the command line: exit 1 with the names on stderr.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_billmgr-sim"))
        .args(["upstream", "--listen", "127.0.0.1:0", "--profile", "bm7"])
        .output()
        .expect("run billmgr-sim");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown profile") && stderr.contains("bm6-gcore"),
        "{stderr}"
    );
}

/// The profile is kept in the state file with the knobs.
#[test]
fn the_profile_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    {
        let sim = Sim::start(&["--state", state, "--profile", "bm6-gcore"]);
        sim.control("POST", "/_sim/flush", json!({}));
    }
    let sim = Sim::start(&["--state", state]);
    assert_eq!(
        sim.control("GET", "/_sim/profile", Value::Null)["name"],
        "bm6-gcore"
    );
    assert_eq!(
        sim.control("GET", "/_sim/knobs", Value::Null)["item_status_shape"],
        "orig_or_real"
    );
}

/// One order and one list under each profile: the shapes together, as a client meets them.
#[test]
fn a_list_row_under_each_profile() {
    for (name, row_has, answer_has) in [
        (
            "bm6-gcore",
            &[
                "<pricelist>Comodo Positive SSL</pricelist><pricelist_id>3033</pricelist_id>",
                "<expiredate></expiredate><real_expiredate></real_expiredate>",
                "<item_real_status>5</item_real_status>",
                "<cost>1.75 € / Month</cost><item_cost>21.0000</item_cost><currency_str>€</currency_str>",
            ][..],
            "<doc><id>100001</id></doc>",
        ),
        (
            "bm6-zomro",
            &[
                "<item_status orig=\"1\">Заказан</item_status>",
                "<cost>21,00 EUR</cost><status>1</status>",
            ][..],
            "<doc><lineitem.id>90001</lineitem.id></doc>",
        ),
        (
            "bm5-classic",
            &[
                "<item_status>Ordered</item_status>",
                "<cost>21.00 EUR</cost><status>1</status>",
            ][..],
            "<doc><billorder.id>90001</billorder.id></doc>",
        ),
    ] {
        let sim = Sim::start(&["--profile", name]);
        let answer = sim.api(
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
        assert!(answer.contains(answer_has), "{name}: {answer}");
        let list = sim.api("certificate", &[]);
        for part in row_has {
            assert!(list.contains(part), "{name}: {part} in {list}");
        }
    }
}
