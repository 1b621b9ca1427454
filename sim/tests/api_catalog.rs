//! `pricelist.export` and catalogue swapping (SIM-15…18).

mod common;
use common::*;
use serde_json::Value;

fn export(sim: &Sim, params: &[(&str, &str)]) -> String {
    let mut all = vec![("out", "xml"), ("func", "pricelist.export")];
    all.extend_from_slice(params);
    sim.post_form(&all).unwrap().body
}

fn ids(xml: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in xml.split("<pricelist>").skip(1) {
        let id = part
            .split("<id>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap();
        out.push(id.parse().unwrap());
    }
    out
}

#[test]
fn public_export_with_filters() {
    let sim = Sim::start(&[]);
    let all = ids(&export(&sim, &[]));
    assert!(
        all.contains(&2018) && all.contains(&1020) && all.len() >= 10,
        "{all:?}"
    );
    let available = ids(&export(
        &sim,
        &[("onlyavailable", "on"), ("itemtype", "certificate")],
    ));
    assert!(!available.contains(&2018), "archived plan dropped");
    assert!(!available.contains(&1020), "hideinorder plan dropped");
    assert!(available.contains(&3033));
    let rub = ids(&export(&sim, &[("project", "2")]));
    assert!(rub.contains(&55324) && !rub.contains(&55346), "{rub:?}");
    assert_eq!(
        ids(&export(&sim, &[("elid", "2"), ("onlyavailable", "yes")])),
        rub
    );
    assert_eq!(ids(&export(&sim, &[("pricelist", "55346")])), vec![55346]);
    assert!(ids(&export(&sim, &[("itemtype", "vds")])).is_empty());
}

#[test]
fn export_keeps_plan_xml_verbatim_and_the_addon() {
    let sim = Sim::start(&[]);
    let xml = export(&sim, &[("pricelist", "3040")]);
    assert!(xml.contains("<addontype>2</addontype>") && xml.contains("<billtype>2</billtype>"));
    assert!(xml.contains("<intname>altname</intname>"));
    assert!(xml.contains("cost=\"45.0000\" type=\"month\" length=\"12\""));
    let unsold = export(&sim, &[("pricelist", "1013")]);
    assert!(unsold.contains("cost=\"\" type=\"month\" length=\"36\""));
}

#[test]
fn bad_credentials_are_refused_even_for_public_prices() {
    let sim = Sim::start(&[]);
    let xml = export(&sim, &[("authinfo", "nobody:x")]);
    assert_eq!(error(&xml).unwrap().0, "auth");
    let with_auth = export(&sim, &[("authinfo", &format!("{USER}:{PASS}"))]);
    assert!(error(&with_auth).is_none());
}

#[test]
fn catalog_swap_changes_prices_and_orders() {
    let sim = Sim::start(&[]);
    let new_catalog = r#"<doc><pricelist><id>3033</id><name>Comodo Positive SSL</name><active>on</active>
<itemtype>11</itemtype><itemtype_info><intname>certificate</intname></itemtype_info><project>1</project>
<price currency="EUR"><period cost="5.0000" type="month" length="12">1 year</period></price></pricelist></doc>"#;
    let a = sim
        .request("POST", "/_sim/catalog", "application/xml", new_catalog)
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["plans"], 1);
    assert_eq!(ids(&export(&sim, &[])), vec![3033]);
    sim.order("example.com", &[]);
    assert_eq!(sim.balance(), "95.00");
    // A catalogue without usable plans is refused and the old one stays.
    let a = sim
        .request(
            "POST",
            "/_sim/catalog",
            "application/xml",
            "<doc><pricelist/></doc>",
        )
        .unwrap();
    assert_eq!(a.status, 400);
    assert_eq!(ids(&export(&sim, &[])), vec![3033]);
}

#[test]
fn account_prices_with_credentials() {
    let sim = Sim::start(&[]);
    sim.control(
        "POST",
        "/_sim/account",
        serde_json::json!({"username": USER, "password": PASS, "balance": "100", "currency": "EUR", "discount_percent": "10"}),
    );
    let public = export(&sim, &[("pricelist", "3040")]);
    assert!(public.contains("cost=\"45.0000\""));
    let own = export(
        &sim,
        &[
            ("pricelist", "3040"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ],
    );
    assert!(
        own.contains("cost=\"40.5000\" type=\"month\" length=\"12\""),
        "{own}"
    );
    assert!(
        own.contains("cost=\"11.2500\""),
        "addon price discounted too: {own}"
    );
    let unsold = export(
        &sim,
        &[
            ("pricelist", "1013"),
            ("authinfo", &format!("{USER}:{PASS}")),
        ],
    );
    assert!(unsold.contains("cost=\"\" type=\"month\" length=\"36\""));
    sim.order(
        "example.com",
        &[("pricelist", "3040"), ("altname", "a.example.com")],
    );
    assert_eq!(sim.balance(), "48.25");
    let bad = sim
        .request(
            "POST",
            "/_sim/account",
            "application/json",
            &serde_json::json!({"username": USER, "password": PASS, "balance": "1", "currency": "EUR", "discount_percent": "120"}).to_string(),
        )
        .unwrap();
    assert_eq!(bad.status, 400);
}
