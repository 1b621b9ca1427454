//! The catalog parser on large, realistic and broken exports.

#[path = "gen/catalog_export.rs"]
mod gen;

use pmsslreseller::catalog::{parse_export, Validation};
use pmsslreseller::protocol::error::ErrorKind;

const AT: &str = "2026-11-26T12:00:00Z";

#[test]
fn thousands_of_tariffs_parse_exactly() {
    let (xml, want) = gen::export(4000);
    let c = parse_export(&xml, 9, AT).expect("large export parses");
    assert_eq!(c.tariffs.len(), want.tariffs);
    assert_eq!(c.skipped.len(), want.skipped, "{:?}", c.skipped);
    assert!(
        c.warnings.is_empty(),
        "{:?}",
        &c.warnings[..c.warnings.len().min(5)]
    );
    let reasons: Vec<&str> = c.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "no <id>",
            "product type \"vds\", not certificate",
            "no <name>"
        ]
    );

    // Sorted, unique ids; lookups by id work.
    assert!(c.tariffs.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(c.tariff(100_123).map(|t| t.id), Some(100_123));

    let currency_of = |t: &pmsslreseller::catalog::Tariff| t.periods[0].currency.clone();
    assert_eq!(
        c.tariffs.iter().filter(|t| currency_of(t) == "RUB").count(),
        want.rub
    );
    assert_eq!(
        c.tariffs.iter().filter(|t| currency_of(t) == "EUR").count(),
        want.eur
    );
    // Names and siteinfo agree in the generator, so both routes of the flag
    // derivation must find exactly the generated wildcard / multi-domain plans.
    assert_eq!(
        c.tariffs.iter().filter(|t| t.flags.wildcard).count(),
        want.wildcard
    );
    assert_eq!(
        c.tariffs.iter().filter(|t| t.flags.multidomain).count(),
        want.multidomain
    );
    for (i, t) in c.tariffs.iter().enumerate() {
        let v = [Validation::Dv, Validation::Ov, Validation::Ev][i % 3];
        assert_eq!(t.validation, v, "tariff {}", t.id);
        assert_eq!(t.flags.orginfo, v != Validation::Dv, "tariff {}", t.id);
        assert_eq!(
            t.periods.iter().any(|p| p.is_trial()),
            i % 7 == 0,
            "tariff {}",
            t.id
        );
        // cost="" → kept as a period that is not sold.
        assert_eq!(t.sold_period(24).is_none(), i % 6 == 0, "tariff {}", t.id);
        assert!(t.sold_period(12).is_some());
        assert!(t.name_ru.as_deref().unwrap().contains("& «кавычки»"));
    }
    // Exact decimals: 100_001 is EUR, base 6, fraction 13.
    let p = c.tariff(100_001).unwrap().sold_period(12).unwrap();
    assert_eq!(p.cost.unwrap().to_string(), "6.0013");
}

#[test]
fn realistic_fixture() {
    let xml = include_str!("fixtures/catalog/export.xml");
    let c = parse_export(xml, 1, AT).unwrap();
    let ids: Vec<u64> = c.tariffs.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![1011, 2900, 3033, 4100, 4200, 55324, 55346]);
    let t = |id| c.tariff(id).unwrap();
    assert_eq!(t(3033).validation, Validation::Dv);
    assert!(t(3033).flags.www && t(3033).flags.idn);
    assert!(t(55324).flags.wildcard);
    assert!(t(55346).flags.multidomain, "altname addon → multi-domain");
    assert_eq!(t(55346).altnames[0].limit, Some(100));
    assert_eq!(t(4100).validation, Validation::Ov);
    assert!(t(4100).flags.orginfo && !t(4100).flags.authemail);
    assert_eq!(t(4200).validation, Validation::Ev);
    assert!(!t(2900).available);
    assert_eq!(t(4100).periods[0].currency, "RUB");
}

#[test]
fn reference_fragment_is_skipped_not_fatal() {
    let xml = include_str!("fixtures/upstream/pricelist-export.doc-fragment.wrapped.xml");
    let c = parse_export(xml, 1, AT).unwrap();
    assert!(c.tariffs.is_empty());
    assert_eq!(c.skipped.len(), 1);
    assert!(c.skipped[0].reason.contains("id"));
}

#[test]
fn broken_exports_are_clear_errors() {
    let (good, _) = gen::export(50);
    let truncated = &good[..good.len() / 2];
    let cases: Vec<(&str, String)> = vec![
        ("truncated", truncated.to_string()),
        ("html", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>".into()),
        ("html-entity", "<html><body>&nbsp;</body></html>".into()),
        ("text", "Service Unavailable".into()),
        ("json", "{\"doc\":{}}".into()),
        ("empty", "   ".into()),
    ];
    for (what, xml) in cases {
        let e = parse_export(&xml, 1, AT).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UpstreamBadResponse, "{what}: {e}");
        assert!(
            e.message.starts_with("the upstream's tariff list"),
            "{what}: {e}"
        );
    }
}

#[test]
fn reordered_attributes_and_whitespace_do_not_matter() {
    let a = parse_export(r#"<doc><pricelist><id>1</id><name>A</name><price currency="EUR"><period type="month" length="12" cost="1.00"/></price></pricelist></doc>"#, 1, AT).unwrap();
    let b = parse_export("<doc>\n  <pricelist>\n    <name> A </name>\n    <id> 1 </id>\n    <price currency=\"EUR\">\n      <period cost=\"1.00\" length=\"12\" type=\"month\">\n      </period>\n    </price>\n  </pricelist>\n</doc>", 1, AT).unwrap();
    assert_eq!(a, b);
}

#[test]
fn simulator_fixture() {
    let c = parse_export(include_str!("../sim/fixtures/catalog.xml"), 1, AT).unwrap();
    assert!(
        c.skipped.is_empty() && c.warnings.is_empty(),
        "{:?} {:?}",
        c.skipped,
        c.warnings
    );
    let t = |id| c.tariff(id).unwrap_or_else(|| panic!("tariff {id}"));
    assert!(t(3035).flags.wildcard && !t(3035).flags.multidomain);
    assert!(t(3040).flags.multidomain && !t(3040).altnames.is_empty());
    assert_eq!(t(1020).validation, Validation::Ov);
    assert_eq!(t(55352).validation, Validation::Ev);
    assert!(!t(2018).available);
    assert_eq!(t(55324).periods[0].currency, "RUB");
}
