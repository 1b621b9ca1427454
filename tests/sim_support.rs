//! The test helper `support::sim::SimUpstream` against the real simulator binary: every control wrapper
//! does what it says (the module's tests rely on them).

mod support;

use support::sim::{SeedOrders, SimAccount, SimFault, SimUpstream, CURRENCY, PASS, PROFILES, USER};

fn call(
    sim: &SimUpstream,
    client: &reqwest::blocking::Client,
    params: &[(&str, &str)],
) -> Result<String, reqwest::Error> {
    let auth = format!("{USER}:{PASS}");
    let mut form = vec![("out", "xml"), ("authinfo", auth.as_str())];
    form.extend_from_slice(params);
    client.post(sim.url()).form(&form).send()?.text()
}

const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----";

fn order(sim: &SimUpstream, client: &reqwest::blocking::Client) -> Result<String, reqwest::Error> {
    call(
        sim,
        client,
        &[
            ("func", "certificate.order.param"),
            ("sok", "ok"),
            ("skipbasket", "on"),
            ("clicked_button", "finish"),
            ("pricelist", "3033"),
            ("period", "12"),
            ("CN", "example.com"),
            ("remoteid", "svc-1"),
            ("csr", CSR),
        ],
    )
}

#[test]
fn control_wrappers_drive_the_simulator() {
    let sim = SimUpstream::start();
    let client = reqwest::blocking::Client::new();
    assert!(sim.url().starts_with("http://127.0.0.1:") && sim.url().ends_with("/billmgr"));
    assert_eq!(sim.account(USER).balance.to_string(), "100.00");
    assert_eq!(sim.account(USER).currency, CURRENCY);

    let xml = order(&sim, &client).unwrap();
    assert!(xml.contains("<id>"), "{xml}");
    assert_eq!(sim.account(USER).balance.to_string(), "79.00");
    let id = sim.certificates()[0]["id"].as_u64().unwrap();
    assert_eq!(sim.tick(), vec![id]);
    assert_eq!(sim.certificate(id).unwrap()["service_status"], 4);
    assert_eq!(sim.issue(None), vec![id]);
    assert_eq!(sim.certificate(id).unwrap()["service_status"], 5);

    let second = {
        order(&sim, &client).unwrap();
        sim.certificates()[1]["id"].as_u64().unwrap()
    };
    sim.fail(second, Some("CA said no"));
    assert_eq!(sim.certificate(second).unwrap()["status_msg"], "CA said no");

    sim.fault(&SimFault::new(
        "certificate.order.param",
        "drop_after_commit",
    ));
    assert!(
        order(&sim, &client).is_err(),
        "connection dropped without an answer"
    );
    assert_eq!(
        sim.certificates().as_array().unwrap().len(),
        3,
        "but the order was committed"
    );
    sim.fault(&SimFault::error("whoami", "maintenance", &[("k", "v")]).count(2));
    sim.clear_faults();
    assert!(call(&sim, &client, &[("func", "whoami")])
        .unwrap()
        .contains("balance="));

    let knobs = sim.knobs(&[("prolong_shape", "flat")]);
    assert_eq!(knobs["prolong_shape"], "flat");
    let journal = sim.journal();
    let last = journal.last().unwrap();
    assert_eq!(last.func, "whoami");
    assert_eq!(last.outcome, "ok");
    assert_eq!(last.params["authinfo"], format!("{USER}:***"));
    assert!(journal
        .iter()
        .any(|e| e.outcome == "fault:drop_after_commit" && e.result.as_deref() == Some("ok")));
    sim.clear_journal();
    assert!(sim.journal().is_empty());

    let mut poor = SimAccount::new("poor", "pw", "1.00", "EUR");
    poor.may_suspend = true;
    sim.set_account(&poor);
    let info = sim.account("poor");
    assert!(info.may_suspend && info.may_delete);
    assert_eq!(info.balance.to_string(), "1.00");

    sim.advance_clock(3600);
    sim.set_catalog(
        r#"<doc><pricelist><id>7</id><name>Only</name><itemtype_info><intname>certificate</intname></itemtype_info><price currency="EUR"><period cost="1.0000" type="month" length="12"/></price></pricelist></doc>"#,
    );
    let export = call(&sim, &client, &[("func", "pricelist.export")]).unwrap();
    assert!(export.contains("<id>7</id>") && !export.contains("<id>3033</id>"));
}

#[test]
fn https_simulator_and_its_ca() {
    let sim = SimUpstream::start_https();
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let ca = std::fs::read(sim.ca_file().unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let xml = call(&sim, &client, &[("func", "whoami")]).unwrap();
    assert!(xml.contains("balance=\"100.00\""), "{xml}");
    // Without the CA the certificate is not trusted.
    assert!(call(
        &sim,
        &reqwest::blocking::Client::new(),
        &[("func", "whoami")]
    )
    .is_err());
    assert_eq!(sim.account(USER).balance.to_string(), "100.00");
}

#[test]
fn seeding_moving_in_bulk_and_the_simulators_own_cost() {
    let sim = SimUpstream::start();
    sim.set_account(&SimAccount::new("bulk@example.com", PASS, "1000.00", "EUR"));
    let ids = sim.seed_orders(
        &SeedOrders::new("bulk@example.com", 3033, 0)
            .cn("bulk{n}.example.com")
            .remoteids(&[11, 12, 13, 14]),
    );
    assert_eq!(ids.len(), 4);
    assert_eq!(
        sim.account("bulk@example.com").balance.to_string(),
        "916.00"
    );
    let first = sim.certificate(ids[0]).unwrap();
    assert_eq!(first["remoteid"], "11");
    assert_eq!(first["cn"], "bulk1.example.com");
    assert_eq!(first["status"], 5);
    assert_eq!(first["service_status"], 3);
    let more = sim.seed_orders(&SeedOrders::new("bulk@example.com", 3033, 2).remoteid_from(500));
    assert_eq!(sim.certificate(more[1]).unwrap()["remoteid"], "501");

    assert_eq!(sim.tick_many(&ids[..2]), ids[..2]);
    assert_eq!(sim.certificate(ids[0]).unwrap()["service_status"], 4);
    assert_eq!(sim.issue_many(&ids[1..3]), ids[1..3]);
    assert_eq!(sim.certificate(ids[2]).unwrap()["service_status"], 5);
    assert_eq!(sim.certificate(ids[3]).unwrap()["service_status"], 3);

    sim.reset_stats();
    let client = reqwest::blocking::Client::new();
    for _ in 0..3 {
        call(&sim, &client, &[("func", "whoami")]).unwrap();
    }
    // A request is counted just after its answer is written.
    sim.wait_idle();
    let stats = sim.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.funcs["whoami"].count, 3);
    assert!(stats.api.request_us_total >= stats.api.locked_us_total);
    assert!(
        stats.summary().contains("3 API requests"),
        "{}",
        stats.summary()
    );
    // No --state: nothing to write.
    assert!(!sim.flush_state());
}

#[test]
fn profile_and_cart_wrappers() {
    let sim = SimUpstream::start_profile("bm6-zomro", &["--knob", "cart_answer=billorder"]);
    let client = reqwest::blocking::Client::new();
    assert_eq!(sim.profile(), "bm6-zomro");
    let knobs = sim.knobs(&[]);
    assert_eq!(knobs["order_cart"], "on");
    assert_eq!(
        knobs["cart_answer"], "billorder",
        "--knob overrides the profile"
    );

    // The panel ignores skipbasket: two orders wait in the cart, nothing debited.
    let xml = order(&sim, &client).unwrap();
    assert!(xml.contains("<billorder>90001</billorder>"), "{xml}");
    order(&sim, &client).unwrap();
    assert_eq!(sim.account(USER).balance.to_string(), "100.00");
    let first = sim.certificates()[0]["id"].as_u64().unwrap();
    let second = sim.certificates()[1]["id"].as_u64().unwrap();
    assert_eq!(sim.certificate(first).unwrap()["status"], 1);

    assert_eq!(sim.pay_cart(first), vec![first]);
    assert_eq!(sim.account(USER).balance.to_string(), "79.00");
    assert_eq!(sim.certificate(first).unwrap()["service_status"], 3);
    let (status, body) = sim.try_pay_cart(first).unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert_eq!(sim.account(USER).balance.to_string(), "79.00");

    sim.drop_cart(second);
    assert_eq!(sim.certificate(second).unwrap()["deleted"], true);
    assert_eq!(sim.pay_all_carts(), Vec::<u64>::new());

    // Not enough money: a 409 naming it, nothing changed.
    order(&sim, &client).unwrap();
    let third = sim.certificates()[2]["id"].as_u64().unwrap();
    sim.set_account(&SimAccount::new(USER, PASS, "1.00", CURRENCY));
    let (status, body) = sim.try_pay_cart(third).unwrap_err();
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("not_enough_money"))
    );
    assert_eq!(sim.certificate(third).unwrap()["status"], 1);

    for name in PROFILES {
        sim.set_profile(name);
        assert_eq!(sim.profile(), *name);
    }
    assert_eq!(
        sim.knobs(&[])["cart_answer"],
        "billorder.id",
        "bm5-classic's"
    );
    sim.set_profile("default");
    assert_eq!(sim.knobs(&[])["order_cart"], "off");
}
