//! Pagination of the certificate list (field-2026-12.md §5, FS 68455228345): clients send `p_cnt`
//! and read `<p_elems>`; a client that sends neither may get the first page only.

mod common;
use common::*;
use serde_json::json;

/// Seven certificates (100001…100007), remoteids r1…r7; the even ones also share remoteid "even"
/// in a second batch (100008…100010).
fn world(knobs: &[&str]) -> Sim {
    let mut args = Vec::new();
    for k in knobs {
        args.extend(["--knob", k]);
    }
    let sim = Sim::start(&args);
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": USER, "password": PASS, "balance": "1000", "currency": "EUR"}),
    );
    let seeded = sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "count": 7, "cn": "s{n}.example.com", "csr": CSR,
               "remoteids": ["r1", "r2", "r3", "r4", "r5", "r6", "r7"]}),
    );
    assert_eq!(seeded["ids"][6], 100_007);
    sim.control(
        "POST",
        "/_sim/seed",
        json!({"username": USER, "pricelist": 3033, "count": 3, "cn": "e{n}.example.com", "csr": CSR,
               "remoteids": ["even", "even", "even"]}),
    );
    sim
}

fn ids(xml: &str) -> Vec<u64> {
    xml.split("<elem><id>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
        .collect()
}

fn counts(xml: &str) -> Option<(String, String, String)> {
    Some((
        text(xml, "doc/p_elems")?,
        text(xml, "doc/p_num")?,
        text(xml, "doc/p_cnt")?,
    ))
}

fn c(e: &str, n: &str, cnt: &str) -> Option<(String, String, String)> {
    Some((e.into(), n.into(), cnt.into()))
}

#[test]
fn no_paging_by_default_and_p_cnt_pages() {
    let sim = world(&[]);
    let all = sim.api("certificate", &[]);
    assert_eq!(ids(&all).len(), 10);
    assert_eq!(counts(&all), None, "no counts without paging: {all}");
    // A client's p_cnt is a page size even with the default knobs; pages in id order, 1-based.
    let p1 = sim.api("certificate", &[("p_cnt", "4")]);
    assert_eq!(ids(&p1), [100_001, 100_002, 100_003, 100_004]);
    assert_eq!(counts(&p1), c("10", "1", "4"));
    assert!(p1.ends_with("</elem><p_elems>10</p_elems><p_num>1</p_num><p_cnt>4</p_cnt></doc>\n"));
    let p3 = sim.api("certificate", &[("p_cnt", "4"), ("p_num", "3")]);
    assert_eq!(ids(&p3), [100_009, 100_010]);
    assert_eq!(counts(&p3), c("10", "3", "4"));
    let p4 = sim.api("certificate", &[("p_cnt", "4"), ("p_num", "4")]);
    assert_eq!(ids(&p4), Vec::<u64>::new(), "past the last page: no rows");
    assert_eq!(counts(&p4), c("10", "4", "4"));
    // Unreadable values count as not given.
    assert_eq!(
        ids(&sim.api("certificate", &[("p_cnt", "x"), ("p_num", "0")])).len(),
        10
    );
}

#[test]
fn page_default_and_max() {
    let sim = world(&["list_page_default=3", "list_page_max=5"]);
    // No p_cnt: the panel's default page, the first one only.
    let first = sim.api("certificate", &[]);
    assert_eq!(ids(&first), [100_001, 100_002, 100_003]);
    assert_eq!(counts(&first), c("10", "1", "3"));
    // p_cnt above the cap: the cap.
    let capped = sim.api("certificate", &[("p_cnt", "1000"), ("p_num", "2")]);
    assert_eq!(ids(&capped), [100_006, 100_007, 100_008, 100_009, 100_010]);
    assert_eq!(counts(&capped), c("10", "2", "5"));
    // p_cnt within the cap: as asked.
    assert_eq!(ids(&sim.api("certificate", &[("p_cnt", "2")])).len(), 2);
}

/// A broken panel always serves the first page.
#[test]
fn p_num_ignored() {
    let sim = world(&["list_p_num=ignored"]);
    let p = sim.api("certificate", &[("p_cnt", "4"), ("p_num", "2")]);
    assert_eq!(ids(&p), [100_001, 100_002, 100_003, 100_004]);
    assert_eq!(counts(&p), c("10", "1", "4"));
}

/// `list_p_elems=on`: the counts on every list answer, paged or not.
#[test]
fn p_elems_always() {
    let sim = world(&["list_p_elems=on"]);
    let all = sim.api("certificate", &[]);
    assert_eq!(ids(&all).len(), 10);
    assert_eq!(counts(&all), c("10", "1", "10"));
    sim.control(
        "POST",
        "/_sim/account",
        json!({"username": "empty", "password": "pw", "balance": "0", "currency": "EUR"}),
    );
    let none = sim
        .post_form(&[
            ("out", "xml"),
            ("func", "certificate"),
            ("authinfo", "empty:pw"),
        ])
        .unwrap()
        .body;
    assert_eq!(
        none,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><p_elems>0</p_elems><p_num>1</p_num><p_cnt>0</p_cnt></doc>\n"
    );
}

/// The remoteid filter applies before paging: the total and the pages are of the matches.
#[test]
fn remoteid_filter_before_paging() {
    let sim = world(&["list_remoteid=on", "list_page_default=2"]);
    let p1 = sim.api("certificate", &[("remoteid", "even")]);
    assert_eq!(ids(&p1), [100_008, 100_009]);
    assert_eq!(counts(&p1), c("3", "1", "2"));
    let p2 = sim.api("certificate", &[("remoteid", "even"), ("p_num", "2")]);
    assert_eq!(ids(&p2), [100_010]);
    let one = sim.api("certificate", &[("remoteid", "r5")]);
    assert_eq!(ids(&one), [100_005]);
    assert_eq!(counts(&one), c("1", "1", "2"));
}

/// Deleted items are neither rows nor counted.
#[test]
fn deleted_items_are_not_counted() {
    let sim = world(&["list_p_elems=on"]);
    sim.api("certificate.delete", &[("elid", "100002, 100003")]);
    let all = sim.api("certificate", &[("p_cnt", "3")]);
    assert_eq!(ids(&all), [100_001, 100_004, 100_005]);
    assert_eq!(counts(&all), c("8", "1", "3"));
}
