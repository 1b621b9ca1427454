//! Keeping the books straight (drift report, price check, credential health), end to end: the real
//! `pmsslreseller` binary, the `billmgr-sim mgrctl` stand-in on MariaDB and
//! the simulator upstream.
//! - `reconcile` finds each kind of drift the simulator can produce (a
//!   certificate deleted, an orphan, a renewal on its own, a renewal left in
//!   the cart, a status and an expiry changed upstream), changes nothing, and
//!   exits 0 on agreeing books; `sync` logs its one-line summary;
//! - `catalog refresh --check` flags a local price a cost rise pushed under
//!   the margin floor;
//! - a password changed upstream between runs gives one BILLmanager problem,
//!   cleared by the next working call.

mod support;

use std::collections::BTreeSet;

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use support::billing::{run_module, TestDb, TestMgr};
use support::sim::{SimAccount, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "B00ks-Str4ight!pw";
const TARIFF: u64 = 3033;

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    tariff: u64,
}

impl World {
    fn new() -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .tariffs(&[TARIFF])
            .build();
        let (module, tariff) = (base.module(), base.tariff());
        let Base { up, db, mgr, .. } = base;
        World {
            up,
            db,
            mgr,
            module,
            tariff,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_module(&self.mgr, args, None)
    }

    fn reconcile(&self, extra: &[&str]) -> (i32, String, String) {
        let module = self.module.to_string();
        let mut args = vec!["reconcile", "--module", module.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// An upstream certificate, issued until `expiry`.
    fn upstream_cert(&self, cn: &str, expiry: &str) -> u64 {
        self.up.seed_certificate(json!({
            "username": USER, "cn": cn, "pricelist": TARIFF, "expiredate": expiry
        }))
    }

    /// A local, active, issued service; linked to `upstream` when given.
    fn local_service(&self, cn: &str, upstream: Option<u64>, expiry: &str) -> u64 {
        let uid = upstream.map(|u| u.to_string());
        let mut params = vec![("CN", cn), ("service_status", "5")];
        if let Some(u) = &uid {
            params.push(("pmss_upstream_id", u.as_str()));
        }
        let item = self
            .db
            .seed_certificate_item(self.module, self.tariff, 12, &params, None);
        self.db
            .conn()
            .exec_drop(
                "UPDATE item SET status = 2, expiredate = NULLIF(?, ''), opendate = '2026-01-01', cost = 15 WHERE id = ?",
                (expiry, item),
            )
            .unwrap();
        item
    }

    /// Both books agree on this certificate.
    fn linked_pair(&self, cn: &str, expiry: &str) -> (u64, u64) {
        let up = self.upstream_cert(cn, expiry);
        (self.local_service(cn, Some(up), expiry), up)
    }

    /// Everything the local database holds about services.
    fn local_snapshot(&self) -> Vec<String> {
        let mut c = self.db.conn();
        let items: Vec<(u64, i32, Option<String>)> = c
            .query("SELECT id, status, CAST(expiredate AS CHAR) FROM item ORDER BY id")
            .unwrap();
        let params: Vec<(u64, String, String)> = c
            .query("SELECT item, intname, value FROM itemparam ORDER BY item, intname")
            .unwrap();
        items
            .iter()
            .map(|r| format!("{r:?}"))
            .chain(params.iter().map(|r| format!("{r:?}")))
            .collect()
    }

    /// Upstream functions other than reading (list, view, login check).
    fn upstream_writes(&self) -> Vec<String> {
        self.up
            .journal()
            .into_iter()
            .map(|e| e.func)
            .filter(|f| !["certificate", "certificate.edit", "whoami"].contains(&f.as_str()))
            .collect()
    }

    /// mgrctl functions other than `paramlist` (the database credentials).
    fn mgrctl_writes(&self) -> Vec<String> {
        self.mgr
            .journal_funcs()
            .into_iter()
            .filter(|f| f != "paramlist")
            .collect()
    }
}

fn json_out(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn reconcile_of_agreeing_books_is_clean_and_exits_0() {
    let w = World::new();
    w.linked_pair("a.example.com", "2027-06-01");
    w.linked_pair("b.example.com", "2027-09-01");
    // Not ordered by this module: an import candidate, not drift.
    w.upstream_cert("by-hand.example.com", "2027-03-01");
    // Ordered locally, not yet sent upstream: nothing to compare.
    w.local_service("pending.example.com", None, "");
    w.mgr.clear_journal();

    let (code, out, err) = w.reconcile(&[]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("clean"), "{out}");
    assert!(
        out.contains("1 upstream certificate(s) were not ordered by this module"),
        "{out}"
    );
    let (code, out, _) = w.reconcile(&["--json"]);
    assert_eq!(code, 0);
    let v = json_out(&out);
    assert_eq!(v["clean"], json!(true), "{v}");
    assert_eq!(v["drift"], json!([]));
    assert_eq!(v["not_ours"], json!(1));
    assert!(w.upstream_writes().is_empty(), "{:?}", w.upstream_writes());
    assert!(w.mgrctl_writes().is_empty(), "{:?}", w.mgrctl_writes());
}

#[test]
fn reconcile_finds_each_kind_of_drift_and_changes_nothing() {
    let w = World::new();
    w.linked_pair("fine.example.com", "2027-06-01");
    let (gone, gone_up) = w.linked_pair("gone.example.com", "2027-06-01");
    w.up.drift(json!({"action": "delete", "id": gone_up}));
    let (renewed, renewed_up) = w.linked_pair("renewed.example.com", "2027-06-01");
    w.up.drift(json!({"action": "renew", "id": renewed_up}));
    let (cart, cart_up) = w.linked_pair("cart.example.com", "2027-06-01");
    w.up.drift(json!({"action": "cart", "id": cart_up}));
    let (suspended, suspended_up) = w.linked_pair("suspended.example.com", "2027-06-01");
    w.up.drift(json!({"action": "status", "id": suspended_up, "status": 3}));
    let (shorter, shorter_up) = w.linked_pair("shorter.example.com", "2027-06-01");
    w.up.drift(json!({"action": "status", "id": shorter_up, "expiredate": "2027-02-01"}));
    // An order whose answer was lost: upstream carries our remoteid.
    let unlinked = w.local_service("orphan.example.com", None, "");
    let orphan_up = w.up.drift(json!({
        "action": "orphan", "username": USER, "cn": "orphan.example.com",
        "pricelist": TARIFF, "remoteid": unlinked.to_string()
    }))["id"]
        .as_u64()
        .unwrap();
    let before = w.local_snapshot();
    w.mgr.clear_journal();
    w.up.clear_journal();

    let (code, out, err) = w.reconcile(&["--json"]);
    assert_eq!(code, 1, "drift must exit 1\nstdout: {out}\nstderr: {err}");
    let v = json_out(&out);
    assert_eq!(v["clean"], json!(false));
    let found: BTreeSet<(String, u64, u64)> = v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(
                r["action"].as_str().is_some_and(|a| a.len() > 20),
                "every row says what to do: {r}"
            );
            (
                r["kind"].as_str().unwrap().to_string(),
                r["item"].as_u64().unwrap(),
                r["upstream_id"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, u64, u64)> = [
        ("gone", gone, gone_up),
        ("upstream_renewal", renewed, renewed_up),
        ("unpaid", cart, cart_up),
        ("status_mismatch", suspended, suspended_up),
        ("expiry_mismatch", shorter, shorter_up),
        ("orphan", unlinked, orphan_up),
    ]
    .into_iter()
    .map(|(k, i, u)| (k.to_string(), i, u))
    .collect();
    assert_eq!(found, want);
    let orphan = v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "orphan")
        .unwrap();
    assert!(
        orphan["action"].as_str().unwrap().contains(&format!(
            "pmss_upstream_id={orphan_up} on service {unlinked}"
        )),
        "{orphan}"
    );

    // The table says the same for a human.
    let (code, table, _) = w.reconcile(&[]);
    assert_eq!(code, 1);
    for word in [
        "gone upstream",
        "orphan",
        "renewed upstream",
        "unpaid upstream",
        "status mismatch",
        "expiry mismatch",
    ] {
        assert!(table.contains(word), "{word}: {table}");
    }
    assert!(table.contains("drift: "), "{table}");

    // Read-only everywhere.
    assert!(w.upstream_writes().is_empty(), "{:?}", w.upstream_writes());
    assert!(w.mgrctl_writes().is_empty(), "{:?}", w.mgrctl_writes());
    assert_eq!(w.local_snapshot(), before);

    // The bulk sync logs the summary at warn.
    let module = w.module.to_string();
    let (_, _, _) = w.run(&["sync", "--module", module.as_str()]);
    let log = w.mgr.module_log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("reconcile module {module}: drift:")))
        .unwrap_or_else(|| panic!("no drift summary in the log:\n{log}"));
    assert!(line.contains("WARN") || line.contains("warn"), "{line}");
    assert!(line.contains("orphan"), "{line}");
}

/// A 12-month export of tariff 3033 at `cost` EUR.
fn export(cost: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<doc>
  <pricelist>
    <id>{TARIFF}</id>
    <name>Comodo Positive SSL</name>
    <active>on</active>
    <itemtype>17</itemtype>
    <itemtype_info><intname>certificate</intname></itemtype_info>
    <price currency="EUR"><period cost="{cost}" type="month" length="12">1 year</period></price>
  </pricelist>
</doc>"#
    )
}

#[test]
fn a_cost_rise_past_the_margin_floor_is_flagged_and_check_exits_1() {
    let w = World::new();
    std::fs::create_dir_all(w.mgr.path().join("etc")).unwrap();
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        "[pricing]\nmin_margin = \"2\"\n",
    )
    .unwrap();
    // Three services sold at 15.00 a year.
    for n in 0..3 {
        w.local_service(&format!("p{n}.example.com"), None, "");
    }
    let module = w.module.to_string();
    let refresh = |extra: &[&str]| {
        let mut args = vec!["catalog", "refresh", "--module", module.as_str()];
        args.extend_from_slice(extra);
        w.run(&args)
    };

    w.up.set_catalog(&export("10.0000"));
    let (code, out, err) = refresh(&["--check"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("Local prices: 1 checked, none under"), "{out}");

    // The upstream raises the cost: 14 + 2 margin > 15.
    w.up.set_catalog(&export("14.0000"));
    let (code, out, err) = refresh(&["--check"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("UNDER THE MARGIN FLOOR"), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with(&format!("ssl_{TARIFF}")))
        .unwrap_or_else(|| panic!("no flagged row: {out}"));
    for n in [
        "12 mo",
        "3",
        "15.00 EUR",
        "14.00 EUR",
        "16.00 EUR",
        "1.00 EUR",
    ] {
        assert!(row.contains(n), "{n}: {row}");
    }
    let log = w.mgr.module_log();
    assert!(
        log.lines()
            .any(|l| l.contains("local price under the margin floor") && l.contains("WARN")),
        "{log}"
    );
    // Without --check the same refresh succeeds (and still says it).
    let (code, out, _) = refresh(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("UNDER THE MARGIN FLOOR"), "{out}");
    let (code, out, _) = refresh(&["--json", "--check"]);
    assert_eq!(code, 1);
    let v = json_out(&out);
    assert_eq!(
        v["price_check"]["alerts"][0]["floor"],
        json!("16.0000"),
        "{v}"
    );
}

/// The stand-in's problem register.
fn problems(w: &World) -> serde_json::Map<String, Value> {
    let path = w.mgr.path().join("var/mgrctl-problems.json");
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(_) => serde_json::Map::new(),
    }
}

#[test]
fn a_password_changed_upstream_gives_one_problem_until_a_call_works() {
    let w = World::new();
    let module = w.module.to_string();
    let getbalance = || w.run(&["--command", "getbalance", "--module", module.as_str()]);
    let (code, out, _) = getbalance();
    assert_eq!(code, 0, "{out}");
    assert!(problems(&w).is_empty());

    // The password is changed upstream; the module still has the old one.
    w.up.set_account(&SimAccount::new(
        USER,
        "Chang3d-Upstream!",
        "1000.00",
        "EUR",
    ));
    let (code, out, _) = getbalance();
    assert_eq!(code, 1);
    assert!(out.contains("invalid_login_or_passwd"), "{out}");
    assert!(
        problems(&w).is_empty(),
        "one refused run is not yet a problem"
    );
    for _ in 0..3 {
        let (code, _, _) = getbalance();
        assert_eq!(code, 1);
        let (code, _, _) = w.run(&["sync", "--module", module.as_str()]);
        assert_eq!(code, 1);
    }
    let p = problems(&w);
    assert_eq!(p.len(), 1, "{p:?}");
    let entry = &p[&format!("processingmodule_connect:{module}")];
    let text = entry["param_errormsg"].as_str().unwrap();
    let account = format!("'{USER}'");
    for want in [
        account.as_str(),
        "password",
        "Processing modules",
        "two-factor",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(entry["param_pm_id"], json!(module));
    assert_eq!(w.mgr.mgrctl_count("problems.register"), 1);

    // A renewal refused for the login meanwhile is covered by that one
    // problem: no task of its own, still automatic (prolong's cap is 1).
    let expiry = "2027-06-01";
    let (item, _) = w.linked_pair("renew.example.com", expiry);
    let ro = w.db.create_running_operation(item, "prolong");
    let item_s = item.to_string();
    let ro_s = ro.to_string();
    let prolong = || {
        w.db.bump_trycount(ro);
        w.run(&[
            "--command",
            "prolong",
            "--item",
            item_s.as_str(),
            "--runningoperation",
            ro_s.as_str(),
        ])
    };
    let (code, out, _) = prolong();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("invalid_login_or_passwd"), "{out}");
    let state = w.db.running_operation(ro).expect("the operation stays");
    assert_eq!(state.manual, "off", "{state:?}");
    assert!(w.db.tasks().is_empty(), "{:?}", w.db.tasks());
    assert_eq!(w.mgr.mgrctl_count("problems.register"), 1);

    // No password in the problem, the state, or the log.
    let state_dir = w.mgr.path().join("var/pmsslreseller");
    let mut stored = format!("{p:?}") + &w.mgr.module_log();
    for f in std::fs::read_dir(&state_dir).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("credentials-") {
            stored.push_str(&std::fs::read_to_string(f.path()).unwrap());
        }
    }
    assert!(!stored.contains(PASSWORD) && !stored.contains("Chang3d-Upstream!"));

    // The logins match again (as when the admin enters the new password):
    // the next call clears the problem.
    w.up.set_account(&SimAccount::new(USER, PASSWORD, "1000.00", "EUR"));
    let (code, out, _) = getbalance();
    assert_eq!(code, 0, "{out}");
    assert!(problems(&w).is_empty(), "{:?}", problems(&w));
    // The renewal goes through by itself at its next rerun, once.
    let (code, out, _) = prolong();
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert!(w.db.running_operation(ro).is_none());
    let renewals =
        w.up.journal()
            .into_iter()
            .filter(|e| e.func == "service.prolong" && e.outcome == "ok")
            .count();
    assert_eq!(renewals, 1);
    assert_ne!(w.db.item_dates(item).0.as_deref(), Some(expiry));
    assert_eq!(w.mgr.mgrctl_count("problems.delete"), 1);
    let left: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with("credentials-"))
        .collect();
    assert!(left.is_empty(), "state kept after a working login");
    // And a working login from then on registers no new credential problem
    // (the balance reading may judge the upstream's charges, whose problem
    // has a name of its own: tests/charges.rs).
    let (code, _, _) = getbalance();
    assert_eq!(code, 0);
    let credential_registers = w
        .mgr
        .journal()
        .into_iter()
        .filter(|e| {
            e["func"] == "problems.register" && e["params"]["name"] == "processingmodule_connect"
        })
        .count();
    assert_eq!(credential_registers, 1);
}
