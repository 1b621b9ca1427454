//! `pmsslreseller report sales|losses` against a hand-computed fixture
//! (tests/fixtures/books/ledger.toml: the rows, and every expected figure
//! computed by hand in a comment), through the real binary.

mod support;

use pmsslreseller::books::ledger::{self, key, CostSource, Entry, Kind, Owner, State};
use pmsslreseller::books::Books;
use serde_json::Value;
use support::billing::{run_module, TestDb, TestMgr};

const MODULE: u64 = 3;

fn fixture() -> toml::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/books/ledger.toml"
    );
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text<'a>(v: &'a toml::Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(toml::Value::as_str)
}

/// The fixture's rows as ledger entries (one generation per item and kind).
fn entries(f: &toml::Value) -> Vec<Entry> {
    let mut out = Vec::new();
    for r in f["row"].as_array().unwrap() {
        let item = r["item"].as_integer().unwrap() as u64;
        let kind = Kind::parse(text(r, "kind").unwrap()).unwrap();
        let owner = Owner::parse(text(r, "owner").unwrap()).unwrap();
        let state = State::parse(text(r, "state").unwrap()).unwrap();
        let at = chrono::NaiveDate::parse_from_str(text(r, "day").unwrap(), "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let dec = |k: &str| text(r, k).map(|v| v.parse().unwrap());
        let sell = dec("sell");
        let cost = dec("cost");
        out.push(Entry {
            key: key(MODULE, item, kind, owner, 1),
            created_at: at,
            updated_at: at,
            posted_at: (state == State::Posted).then_some(at),
            module: MODULE,
            item,
            account: Some(item + 100),
            account_name: Some(format!("client{item}")),
            kind,
            owner,
            ro: None,
            upstream_id: Some(item + 9000),
            tariff: text(r, "tariff").map(str::to_string),
            local_tariff: None,
            period: Some(12),
            cost,
            cost_currency: Some("EUR".into()),
            cost_source: if cost.is_some() {
                CostSource::Catalog
            } else {
                CostSource::Unknown
            },
            sell,
            sell_currency: sell.map(|_| "RUB".into()),
            rate: dec("rate"),
            state,
            estimated: r
                .get("estimated")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false),
            note: None,
        });
    }
    out
}

struct World {
    _db: TestDb,
    mgr: TestMgr,
}

fn world() -> World {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let mut books = Books::open(&mgr.root()).unwrap();
    for e in entries(&fixture()) {
        ledger::upsert(&mut books, &e).unwrap();
    }
    // Another module's row is never counted.
    let mut other = entries(&fixture()).remove(0);
    other.module = MODULE + 1;
    other.key = key(MODULE + 1, 11, Kind::Order, Owner::Billmanager, 1);
    ledger::upsert(&mut books, &other).unwrap();
    World { _db: db, mgr }
}

fn report(w: &World, args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let (code, out, err) = run_module(&w.mgr, &all, None);
    assert_eq!(code, 0, "{all:?}: {out}{err}");
    out
}

fn json(w: &World, args: &[&str]) -> Value {
    serde_json::from_str(&report(w, args)).unwrap()
}

/// A JSON amount as the fixture writes it (`unknown` for null).
fn amount(v: &Value) -> String {
    match v {
        Value::Null => "unknown".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[test]
fn sales_match_the_hand_computed_fixture() {
    let w = world();
    let f = fixture();
    let got = json(&w, &["sales", "--module", "3", "--json"]);
    let rows = got["rows"].as_array().unwrap();
    let want = f["sales"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{got:#}");
    for (g, e) in rows.iter().zip(want) {
        for k in ["month", "tariff"] {
            assert_eq!(g[k].as_str(), text(e, k), "{k}: {g}");
        }
        assert_eq!(g["currency"], "RUB");
        for k in [
            "orders",
            "renewals",
            "auto_renewals",
            "refunds",
            "pending",
            "estimated",
        ] {
            assert_eq!(g[k].as_i64(), e[k].as_integer(), "{k}: {g}");
        }
        for k in ["revenue", "cost", "margin", "auto_cost"] {
            assert_eq!(amount(&g[k]), text(e, k).unwrap(), "{k}: {g}");
        }
    }
    // The table says "unknown", never 0, where a cost is not known.
    let table = report(&w, &["sales", "--module", "3"]);
    let line = table
        .lines()
        .find(|l| l.starts_with("2026-11") && l.contains("3040"))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(line.matches("unknown").count(), 2, "{line}");
    // CSV: a header and one line per row.
    let csv = report(&w, &["sales", "--module", "3", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + want.len(), "{csv}");
    assert!(
        lines[0].starts_with("month,tariff,currency,orders,renewals,auto renewals"),
        "{csv}"
    );
    assert!(
        lines.contains(&"2026-10,3033,RUB,2,0,0,0,5980,4226.25,1753.75,0,0,0"),
        "{csv}"
    );
    // One month only.
    let nov = json(
        &w,
        &[
            "sales",
            "--module",
            "3",
            "--json",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
        ],
    );
    let months: Vec<&str> = nov["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2026-11", "2026-11"]);
}

#[test]
fn losses_match_the_hand_computed_fixture() {
    let w = world();
    let f = fixture();
    let got = json(&w, &["losses", "--module", "3", "--json"]);
    let rows = got["rows"].as_array().unwrap();
    let want = f["losses"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{got:#}");
    for (g, e) in rows.iter().zip(want) {
        assert_eq!(g["item"].as_i64(), e["item"].as_integer(), "{g}");
        for k in ["sells", "costs", "margin"] {
            assert_eq!(amount(&g[k]), text(e, k).unwrap(), "{k}: {g}");
        }
        for k in ["auto_renewals", "movements"] {
            assert_eq!(g[k].as_i64(), e[k].as_integer(), "{k}: {g}");
        }
    }
    assert!(
        got["note"].as_str().unwrap().contains("service(s) 17"),
        "{got}"
    );
    let table = report(&w, &["losses", "--module", "3"]);
    assert!(
        table.contains("not judged, their upstream cost is unknown: service(s) 17"),
        "{table}"
    );
    let nov = json(
        &w,
        &[
            "losses",
            "--module",
            "3",
            "--json",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
        ],
    );
    let want = f["november_losses"].as_array().unwrap();
    let rows = nov["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{nov:#}");
    for (g, e) in rows.iter().zip(want) {
        assert_eq!(g["item"].as_i64(), e["item"].as_integer(), "{g}");
        assert_eq!(amount(&g["margin"]), text(e, "margin").unwrap(), "{g}");
    }
}

// ---------------------------------------------------------------------------
// report due: BILLmanager's services, the planner's next action, the catalog.

mod due {
    use super::*;
    use mysql::prelude::Queryable;
    use support::billing::{certificate_params, run_module_env};
    use support::world::WorldBuilder;

    /// The module's clock for the test (and the mgrctl stand-in's).
    const TODAY: &str = "2027-03-01";

    fn set_item(db: &TestDb, item: u64, status: i32, expiredate: &str, next_action: Option<&str>) {
        let mut c = db.conn();
        c.exec_drop(
            "UPDATE item SET status = ?, expiredate = ? WHERE id = ?",
            (status, expiredate, item),
        )
        .unwrap();
        if let Some(text) = next_action {
            c.exec_drop(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_next_action', ?)",
                (item, text),
            )
            .unwrap();
        }
    }

    #[test]
    fn due_lists_customer_renewals_and_the_planned_automatic_actions_with_their_cost() {
        let base = WorldBuilder::new()
            .account("reseller", "Upstr3am-S3cret!pw", "1000.00")
            .tariffs(&[3033, 3040])
            .build();
        let module = base.module().to_string();
        let (t3033, t3040) = (base.tariff(), base.tariff() + 1);
        let env = [("PMSSLRESELLER_TEST_NOW", TODAY)];
        let run = |args: &[&str]| {
            let (code, out, err) = run_module_env(&base.mgr, args, None, &env);
            assert_eq!(code, 0, "{args:?}: {out}{err}");
            out
        };
        run(&["catalog", "refresh", "--module", &module]);
        let p = certificate_params();
        let seed = |tariff| {
            base.db
                .seed_certificate_item(base.module(), tariff, 12, &p, None)
        };
        // A: the customer's term ends in 10 days (3033: 21 EUR for 12 months).
        let a = seed(t3033);
        set_item(&base.db, a, 2, "2027-03-11", None);
        // B: the planner buys a paid renewal in 5 days (3040: 45 EUR).
        let b = seed(t3040);
        set_item(&base.db, b, 2, "2027-12-01", Some(
            "paid upstream renewal on 2027-03-06: the certificate ends 2027-04-05, the paid term 2027-12-01, the upstream's term 2027-04-05; no fresh domain validation needed",
        ));
        // C: a free reissue in 20 days.
        let c = seed(t3033);
        set_item(&base.db, c, 2, "2027-12-01", Some(
            "free reissue on 2027-03-21: the certificate ends 2027-04-20, the paid term 2027-12-01, the upstream's term 2027-12-01",
        ));
        // D: ends in 40 days: only with --days 60.
        let d = seed(t3033);
        set_item(&base.db, d, 2, "2027-04-10", Some("none: the certificate lasts the paid term (certificate until 2027-04-10, paid until 2027-04-10)"));
        // E: suspended: nothing falls due.
        let e = seed(t3033);
        set_item(&base.db, e, 3, "2027-03-05", None);

        let got: Value =
            serde_json::from_str(&run(&["report", "due", "--module", &module, "--json"])).unwrap();
        let rows = got["rows"].as_array().unwrap();
        let seen: Vec<(String, u64, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["date"].as_str().unwrap().to_string(),
                    r["item"].as_u64().unwrap(),
                    r["kind"].as_str().unwrap().to_string(),
                    amount(&r["cost"]),
                )
            })
            .collect();
        let row = |date: &str, item: u64, kind: &str, cost: &str| {
            (date.to_string(), item, kind.to_string(), cost.to_string())
        };
        assert_eq!(
            seen,
            [
                row("2027-03-06", b, "auto_renewal", "45"),
                row("2027-03-11", a, "customer_renewal", "21"),
                row("2027-03-21", c, "auto_reissue", "0"),
            ],
            "{got:#}"
        );
        assert_eq!(rows[0]["currency"], "EUR");
        let wide = run(&["report", "due", "--module", &module, "--days", "60"]);
        assert!(
            wide.lines()
                .any(|l| l.starts_with("2027-04-10") && l.contains("customer renewal")),
            "{wide}"
        );
        assert!(!wide.contains(&format!(" {e} ")), "{wide}");
    }
}
