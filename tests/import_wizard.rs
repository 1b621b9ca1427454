//! The tariff import wizard end to end. `billmgr-sim wizard` plays
//! BILLmanager's Products → Tariff plans → Import (list, then detail, then
//! the local tariff with its prices and SAN add-ons in the test database),
//! the admin enabling it and a customer ordering; then the real
//! `pmsslreseller open` orders upstream. Checks the SAN count and the price,
//! a tariff BILLmanager renamed (linked, or refused with nothing paid), that
//! prices under the margin floor are never offered, and that every call is
//! kept in `var/pmsslreseller/import-*.xml` without secrets.

mod support;

use std::process::Command;

use mysql::prelude::Queryable;
use rust_decimal::Decimal;

use support::billing::{run_module, TestDb, TestMgr};
use support::bin_path;
use support::sim::SimUpstream;
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Wizard-Upstr3am-pw";
/// Comodo Positive SSL Multi-Domain in the simulator's catalogue: 45.00 EUR
/// for 12 months, SAN add-on 3041 at 12.50 EUR per name (0..10).
const MULTI: u64 = 3040;
const SANS: &str = "www.example.com,shop.example.com,mail.example.com";

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    account: u64,
}

impl World {
    /// Pricing `rules` go to `etc/pmsslreseller.toml`.
    fn new(rules: &str) -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .config(rules)
            .build();
        let module = base.module();
        let Base { up, db, mgr, .. } = base;
        db.conn()
            .query_drop("INSERT INTO account (name, project) VALUES ('Customer', 1)")
            .unwrap();
        let account: u64 = db
            .conn()
            .query_first("SELECT MAX(id) FROM account")
            .unwrap()
            .unwrap();
        World {
            up,
            db,
            mgr,
            module,
            account,
        }
    }

    /// `billmgr-sim wizard ARGS`: (exit code, stdout, stderr).
    fn wizard(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(bin_path("billmgr-sim"))
            .arg("wizard")
            .args(args)
            .env("MGR5_ROOT", self.mgr.path())
            .current_dir(self.mgr.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `billmgr-sim wizard import` of upstream tariff `id`.
    fn wizard_import(&self, id: u64, extra: &[&str]) -> (i32, String, String) {
        let module = self.module.to_string();
        let id = id.to_string();
        let bin = bin_path("pmsslreseller");
        let mut args = vec![
            "import",
            "--module",
            module.as_str(),
            "--id",
            id.as_str(),
            "--pmsslreseller",
            bin.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.wizard(&args)
    }

    /// `pmsslreseller --command import_pricelist --module M ARGS`.
    fn import_pricelist(&self, args: &[&str]) -> (i32, String) {
        let module = self.module.to_string();
        let mut all = vec!["--command", "import_pricelist", "--module", module.as_str()];
        all.extend_from_slice(args);
        let (code, out, err) = run_module(&self.mgr, &all, None);
        (code, format!("{out}{err}"))
    }

    /// Import upstream tariff `id` and enable it; the local tariff id.
    fn import(&self, id: u64, extra: &[&str]) -> u64 {
        let (code, out, err) = self.wizard_import(id, extra);
        assert_eq!(code, 0, "wizard import: {out}{err}");
        let tariff: u64 = out
            .split_whitespace()
            .nth(1)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no tariff id in {out}"));
        let t = tariff.to_string();
        let (code, out, err) = self.wizard(&["enable", "--tariff", &t]);
        assert_eq!(code, 0, "wizard enable: {out}{err}");
        tariff
    }

    /// A customer's order of `tariff` for example.com; the item id.
    fn order(&self, tariff: u64, sans: &str) -> u64 {
        let (t, a) = (tariff.to_string(), self.account.to_string());
        let mut args = vec![
            "order",
            "--tariff",
            t.as_str(),
            "--cn",
            "example.com",
            "--account",
            a.as_str(),
        ];
        if !sans.is_empty() {
            args.extend_from_slice(&["--san", sans]);
        }
        let (code, out, err) = self.wizard(&args);
        assert_eq!(code, 0, "wizard order: {out}{err}");
        out.trim()
            .strip_prefix("item ")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("no item id in {out}"))
    }

    fn open(&self, item: u64) -> (i32, String) {
        let ro = self.db.create_running_operation(item, "open");
        let (item, ro) = (item.to_string(), ro.to_string());
        let (code, out, err) = run_module(
            &self.mgr,
            &[
                "--command",
                "open",
                "--item",
                &item,
                "--runningoperation",
                &ro,
            ],
            None,
        );
        (code, format!("{out}{err}"))
    }

    fn orders(&self) -> Vec<support::sim::JournalEntry> {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func.contains("order"))
            .collect()
    }

    fn balance(&self) -> Decimal {
        self.up.account(USER).balance
    }

    fn decimal(&self, sql: &str, id: u64) -> Decimal {
        let v: String = self.db.conn().exec_first(sql, (id,)).unwrap().unwrap();
        v.parse().unwrap()
    }

    fn captures(&self) -> Vec<String> {
        let dir = self.mgr.path().join("var/pmsslreseller");
        let mut out: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("import-") && n.ends_with(".xml")
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        out.sort();
        out
    }
}

const MARKUP_20: &str = "[pricing]\nmarkup_percent = \"20\"\n";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn multi_domain_tariff_with_san_addons_imported_then_ordered_with_three_sans() {
    let w = World::new(MARKUP_20);
    let tariff = w.import(MULTI, &[]);
    // What the wizard created from the detail answer: our internal name,
    // sell prices after [pricing] for the plan and its SAN add-on, the same
    // periods for both.
    let (intname, active): (String, String) =
        w.db.conn()
            .exec_first(
                "SELECT intname, active FROM pricelist WHERE id = ?",
                (tariff,),
            )
            .unwrap()
            .unwrap();
    assert_eq!((intname.as_str(), active.as_str()), ("ssl_3040", "on"));
    let plan_12 = w.decimal(
        "SELECT CAST(cost AS CHAR) FROM pricelistprice WHERE pricelist = ? AND length = 12",
        tariff,
    );
    assert_eq!(plan_12, d("54.00"));
    let addon: (u64, String, Option<i64>) =
        w.db.conn()
            .exec_first(
                "SELECT id, intname, addonlimit FROM pricelist WHERE parent = ?",
                (tariff,),
            )
            .unwrap()
            .unwrap();
    assert_eq!((addon.1.as_str(), addon.2), ("altname", Some(10)));
    let san_12 = w.decimal(
        "SELECT CAST(cost AS CHAR) FROM pricelistprice WHERE pricelist = ? AND length = 12",
        addon.0,
    );
    assert_eq!(san_12, d("15.00"));
    let periods = |p: u64| -> Vec<i64> {
        w.db.conn()
            .exec(
                "SELECT length FROM pricelistprice WHERE pricelist = ? ORDER BY length",
                (p,),
            )
            .unwrap()
    };
    assert_eq!(periods(tariff), periods(addon.0));

    let item = w.order(tariff, SANS);
    // The customer pays the imported price: plan + 3 SAN slots.
    let cost = w.decimal("SELECT CAST(cost AS CHAR) FROM item WHERE id = ?", item);
    assert_eq!(cost, d("54.00") + d("3") * d("15.00"));
    let before = w.balance();
    let (code, out) = w.open(item);
    assert_eq!(code, 0, "{out}");
    let orders = w.orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    let o = &orders[0];
    assert_eq!(o.params.get("pricelist").map(String::as_str), Some("3040"));
    let names: Vec<&str> = o
        .params
        .get("altname")
        .map(|a| a.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 3, "{o:?}");
    // The upstream charged its own price for the plan and 3 SANs.
    assert_eq!(before - w.balance(), d("45.00") + d("3") * d("12.50"));
    assert!(w.db.item_param(item, "pmss_upstream_id").is_some());
}

#[test]
fn more_names_than_paid_san_slots_are_refused_before_money_moves() {
    let w = World::new(MARKUP_20);
    let tariff = w.import(MULTI, &[]);
    let item = w.order(tariff, SANS);
    // The customer adds a fourth name after paying for three.
    w.db.conn()
        .exec_drop(
            "UPDATE itemparam SET value = CONCAT(value, ' extra.example.com') WHERE item = ? AND intname = 'altname'",
            (item,),
        )
        .unwrap();
    let before = w.balance();
    let (code, out) = w.open(item);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("pays for 3"), "{out}");
    assert!(w.orders().is_empty());
    assert_eq!(w.balance(), before);
}

#[test]
fn a_reissue_with_more_names_than_paid_slots_is_refused() {
    let w = World::new(MARKUP_20);
    let tariff = w.import(MULTI, &[]);
    let item = w.order(tariff, SANS);
    let (code, out) = w.open(item);
    assert_eq!(code, 0, "{out}");
    let upstream: u64 =
        w.db.item_param(item, "pmss_upstream_id")
            .unwrap()
            .parse()
            .unwrap();
    w.up.issue(Some(upstream));
    w.db.conn()
        .exec_drop(
            "UPDATE itemparam SET value = CONCAT(value, ' extra.example.com') WHERE item = ? AND intname = 'altname'",
            (item,),
        )
        .unwrap();
    let ro = w.db.create_running_operation(item, "reopen");
    let (item_s, ro_s) = (item.to_string(), ro.to_string());
    let (code, out, err) = run_module(
        &w.mgr,
        &[
            "--command",
            "reopen",
            "--item",
            &item_s,
            "--runningoperation",
            &ro_s,
        ],
        None,
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(out.contains("pays for 3"), "{out}");
    assert!(
        w.up.journal().iter().all(|e| !e.func.contains("reissue")),
        "{:?}",
        w.up.journal()
    );
}

#[test]
fn a_tariff_renamed_by_billmanager_is_linked_by_external_id_or_served_name() {
    let w = World::new(MARKUP_20);
    // BILLmanager gives its own internal name and keeps the upstream id.
    let by_external = w.import(MULTI, &["--intname", "imported_7", "--externalid", "on"]);
    let item = w.order(by_external, "www.example.com");
    let (code, out) = w.open(item);
    assert_eq!(code, 0, "{out}");
    // BILLmanager gives its own internal name and keeps nothing: the name
    // the detail answer carried links it.
    let by_name = w.import(3033, &["--intname", "imported_8"]);
    let item = w.order(by_name, "");
    let (code, out) = w.open(item);
    assert_eq!(code, 0, "{out}");
    let tariffs: Vec<String> = w
        .orders()
        .iter()
        .map(|o| o.params.get("pricelist").cloned().unwrap_or_default())
        .collect();
    assert_eq!(tariffs, ["3040", "3033"]);
    assert!(
        w.mgr.module_log().contains("its external id"),
        "{}",
        w.mgr.module_log()
    );
}

#[test]
fn an_unlinkable_tariff_fails_clearly_with_nothing_paid() {
    let w = World::new(MARKUP_20);
    // Renamed by BILLmanager, no external id, and renamed by the admin.
    let tariff = w.import(
        3033,
        &["--intname", "imported_9", "--name", "Our SSL for shops"],
    );
    let item = w.order(tariff, "");
    let before = w.balance();
    let (code, out) = w.open(item);
    assert_ne!(code, 0, "{out}");
    for needle in [
        "Our SSL for shops",
        "imported_9",
        "internal name to ssl_",
        "nothing was ordered",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    assert!(w.orders().is_empty());
    assert_eq!(w.balance(), before);
    // Named for the admin at once: the operation goes to a task.
    assert_eq!(w.db.tasks().len(), 1);
}

#[test]
fn prices_under_the_margin_floor_are_never_offered() {
    // 20 % markup, but tariff 3040 sold at cost: under a 1.00 floor.
    let w = World::new(
        "[pricing]\nmarkup_percent = \"20\"\nmin_margin = \"1\"\n\n\
         [[pricing.tariff]]\nid = 3040\nmarkup_percent = \"0\"\n",
    );
    let (code, list) = w.import_pricelist(&["--subcommand", "available"]);
    assert_eq!(code, 0, "{list}");
    assert!(list.contains("<id>3033</id>"), "{list}");
    assert!(!list.contains("<id>3040</id>"), "{list}");
    assert!(
        list.contains("length=\"12\""),
        "periods in the list: {list}"
    );
    assert!(
        w.mgr.module_log().contains("3040") && w.mgr.module_log().contains("not offered"),
        "{}",
        w.mgr.module_log()
    );
    // The wizard cannot import it, and nothing is created.
    let (code, out, err) = w.wizard_import(3040, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("not offered for import"), "{err}");
    let n: u64 =
        w.db.conn()
            .query_first("SELECT COUNT(*) FROM pricelist")
            .unwrap()
            .unwrap();
    assert_eq!(n, 0);
    // Asked directly, the detail is refused rather than offered under the floor.
    let (code, detail) = w.import_pricelist(&["--subcommand", "pricelist", "--id", "3040"]);
    assert_ne!(code, 0, "{detail}");
    assert!(!detail.contains("cost=\"45"), "{detail}");
}

#[test]
fn every_import_call_is_kept_without_secrets() {
    let w = World::new(MARKUP_20);
    w.import(MULTI, &[]);
    let captures = w.captures();
    assert_eq!(captures.len(), 2, "list and detail: {captures:?}");
    for c in &captures {
        assert!(c.contains("<arg>import_pricelist</arg>"), "{c}");
        assert!(c.contains("<answer>"), "{c}");
        assert!(!c.contains(PASSWORD), "password in a capture: {c}");
    }
    assert!(captures.iter().any(|c| c.contains("<arg>available</arg>")));
    assert!(captures
        .iter()
        .any(|c| c.contains("&lt;intname&gt;altname&lt;/intname&gt;")));
    assert!(!w.mgr.module_log().contains(PASSWORD));
}
