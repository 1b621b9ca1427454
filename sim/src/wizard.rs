//! `billmgr-sim wizard`: a stand-in for BILLmanager's tariff import wizard
//! (Products → Tariff plans → Import, module-protocol.md §14.1,
//! evidence-2026-12 N1) and for what follows it, on the test database.
//!
//! - `import`: runs the processing module as BILLmanager would —
//!   `import_pricelist --module N --subcommand <list>` (the plans the admin
//!   picks from), then `--subcommand pricelist --id N` for the chosen plan —
//!   and creates the local tariff from the detail answer: a `pricelist` row
//!   (product type certificate, disabled until enabled), its prices, and one
//!   child `pricelist` per add-on with its limits and prices. Like the real
//!   wizard it refuses a plan whose add-ons' order periods differ from the
//!   plan's (N1).
//! - `enable`: the admin enables the tariff and its add-ons.
//! - `order`: a customer orders it: a service `item` (cost = tariff price +
//!   SAN slots × add-on price for the period), one add-on item per SAN
//!   add-on with its quantity (`intvalue`), the certificate params and CSR.
//!
//! What BILLmanager does with the answers is unpublished (P-U2); the choices
//! this stand-in makes are options, so tests can play each: `--intname`
//! (keep ours, or another name BILLmanager might give), `--externalid on`
//! (the wizard stores the upstream id in `pricelist.externalid`, a guessed
//! column), `--name` (the admin renames the plan after import).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use mysql::prelude::Queryable;
use mysql::Conn;
use rust_decimal::Decimal;

use crate::upstream::dom::{self, El};

/// The list subcommand the stand-in sends: the only public implementation
/// answers `available` (module-protocol.md §14.2, X-TEST); the real value is
/// unconfirmed (P-U2).
pub const LIST_SUBCOMMAND: &str = "available";
/// The detail subcommand (L-MOD: `--id` depends on `pricelist`).
pub const DETAIL_SUBCOMMAND: &str = "pricelist";

/// The CSR of an order without `--csr` (the demo's, for example.com).
const DEFAULT_CSR: &str = include_str!("../../tests/fixtures/example.com.csr");

const USAGE: &str = "usage:\n  \
  billmgr-sim wizard import --module N --id UPSTREAM_ID [--intname keep|NAME] [--externalid on|off]\n  \
                            [--name NAME] [--pmsslreseller PATH]\n  \
  billmgr-sim wizard enable --tariff N\n  \
  billmgr-sim wizard order --tariff N --cn NAME [--san a.com,b.com] [--period MONTHS] [--account N]\n\
  MGR5_ROOT names the root; the database is the one in etc/billmgr-sim.conf";

/// One price of a plan or add-on (sell price, as answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub currency: String,
    pub months: i64,
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonPlan {
    pub intname: String,
    pub name: String,
    pub min: Option<i64>,
    pub limit: Option<i64>,
    pub prices: Vec<Price>,
}

/// A plan as the detail answer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub upstream_id: u64,
    pub intname: String,
    pub name: String,
    pub prices: Vec<Price>,
    pub addons: Vec<AddonPlan>,
}

fn prices_of(el: &El) -> Result<Vec<Price>, String> {
    let mut out = Vec::new();
    for price in el.children_named("price") {
        let currency = price.attr("currency").unwrap_or("").trim().to_string();
        for p in price.children_named("period") {
            let months = p
                .attr("length")
                .and_then(|l| l.trim().parse::<i64>().ok())
                .ok_or_else(|| format!("<{}>: a period without a numeric length", el.name))?;
            let cost = p
                .attr("cost")
                .and_then(|c| c.trim().parse::<Decimal>().ok())
                .ok_or_else(|| format!("<{}>: period {months} without a cost", el.name))?;
            out.push(Price {
                currency: currency.clone(),
                months,
                cost,
            });
        }
    }
    Ok(out)
}

fn months(prices: &[Price]) -> Vec<i64> {
    let mut m: Vec<i64> = prices.iter().map(|p| p.months).collect();
    m.sort_unstable();
    m.dedup();
    m
}

fn parse_doc(xml: &str, what: &str) -> Result<El, String> {
    let root = dom::parse(xml).map_err(|e| format!("{what}: not XML: {e}"))?;
    if let Some(err) = root.child("error") {
        return Err(format!(
            "{what}: the module answered an error: {}",
            err.child_text("msg").unwrap_or("")
        ));
    }
    Ok(root)
}

/// The plan the admin picks from the list answer (the wizard offers only
/// what is listed).
pub fn pick(list_xml: &str, id: u64) -> Result<String, String> {
    let root = parse_doc(list_xml, "list answer")?;
    let listed: Vec<&El> = root.children_named("elem").collect();
    listed
        .iter()
        .find(|e| e.child_text("id") == Some(id.to_string().as_str()))
        .map(|e| e.child_text("name").unwrap_or("").to_string())
        .ok_or_else(|| {
            let ids: Vec<&str> = listed.iter().filter_map(|e| e.child_text("id")).collect();
            format!(
                "upstream tariff {id} is not offered for import (the list has {})",
                if ids.is_empty() {
                    "nothing".to_string()
                } else {
                    ids.join(", ")
                }
            )
        })
}

/// The detail answer as a plan; refused when periods do not match (N1).
pub fn plan_from_detail(detail_xml: &str, id: u64) -> Result<Plan, String> {
    let root = parse_doc(detail_xml, "detail answer")?;
    let p = root
        .child("pricelist")
        .ok_or("detail answer: no <pricelist>")?;
    if p.child_text("id") != Some(id.to_string().as_str()) {
        return Err(format!(
            "detail answer: asked for {id}, got {:?}",
            p.child_text("id")
        ));
    }
    let prices = prices_of(p)?;
    if prices.is_empty() {
        return Err(format!("detail answer: tariff {id} has no price"));
    }
    let mut addons = Vec::new();
    for a in p.children_named("addon") {
        let intname = a
            .child_text("intname")
            .ok_or("detail answer: an addon without intname")?
            .to_string();
        let addon_prices = prices_of(a)?;
        if !addon_prices.is_empty() && months(&addon_prices) != months(&prices) {
            return Err(format!(
                "the order periods of add-on {intname} ({:?} months) do not match the plan's ({:?}): \
                 BILLmanager cannot import this plan",
                months(&addon_prices),
                months(&prices)
            ));
        }
        // Enumeration choices must match too (N1); the stand-in checks them
        // but keeps no table for them.
        for item in a
            .children_named("enumeration")
            .flat_map(|e| e.children_named("enumerationitem"))
        {
            let item_prices = prices_of(item)?;
            if !item_prices.is_empty() && months(&item_prices) != months(&prices) {
                return Err(format!(
                    "the order periods of a choice of add-on {intname} ({:?} months) do not match the plan's ({:?}): \
                     BILLmanager cannot import this plan",
                    months(&item_prices),
                    months(&prices)
                ));
            }
        }
        let number = |n: &str| a.child_text(n).and_then(|t| t.parse::<i64>().ok());
        addons.push(AddonPlan {
            name: a.child_text("name").unwrap_or(&intname).to_string(),
            intname,
            min: number("addonmin"),
            limit: number("addonlimit"),
            prices: addon_prices,
        });
    }
    Ok(Plan {
        upstream_id: id,
        intname: p.child_text("intname").unwrap_or("").to_string(),
        name: p.child_text("name").unwrap_or("").to_string(),
        prices,
        addons,
    })
}

/// What BILLmanager does with the plan's internal name and id (P-U2).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `None`: keep the answer's `intname`; `Some(x)`: BILLmanager gives `x`.
    pub intname: Option<String>,
    /// Store the upstream id in `pricelist.externalid`.
    pub externalid: bool,
    /// The admin's name for the plan (default: the answer's).
    pub name: Option<String>,
}

/// Ids of what `create` made.
#[derive(Debug, Clone)]
pub struct Created {
    pub tariff: u64,
    /// (add-on pricelist id, intname).
    pub addons: Vec<(u64, String)>,
}

fn db(e: mysql::Error) -> String {
    format!("database: {e}")
}

fn itemtype(conn: &mut Conn, intname: &str) -> Result<u64, String> {
    if let Some(id) = conn
        .exec_first::<u64, _, _>("SELECT id FROM itemtype WHERE intname = ?", (intname,))
        .map_err(db)?
    {
        return Ok(id);
    }
    conn.exec_drop("INSERT INTO itemtype (intname) VALUES (?)", (intname,))
        .map_err(db)?;
    Ok(conn.last_insert_id())
}

fn insert_prices(conn: &mut Conn, pricelist: u64, prices: &[Price]) -> Result<(), String> {
    for p in prices {
        conn.exec_drop(
            "INSERT INTO pricelistprice (pricelist, currency, type, length, cost) VALUES (?, ?, 'month', ?, ?)",
            (pricelist, &p.currency, p.months, p.cost.to_string()),
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Create the local tariff (disabled), its prices and add-ons, linked to
/// processing module `module`, in one transaction.
pub fn create(
    conn: &mut Conn,
    module: u64,
    plan: &Plan,
    opts: &Options,
) -> Result<Created, String> {
    conn.query_drop("START TRANSACTION").map_err(db)?;
    let made = (|| {
        let cert = itemtype(conn, "certificate")?;
        let intname = opts.intname.clone().unwrap_or_else(|| plan.intname.clone());
        let name = opts.name.clone().unwrap_or_else(|| plan.name.clone());
        let external = opts.externalid.then(|| plan.upstream_id.to_string());
        conn.exec_drop(
            "INSERT INTO pricelist (intname, name, project, itemtype, active, externalid) VALUES (?, ?, 1, ?, 'off', ?)",
            (&intname, &name, cert, external),
        )
        .map_err(db)?;
        let tariff = conn.last_insert_id();
        insert_prices(conn, tariff, &plan.prices)?;
        conn.exec_drop(
            "INSERT INTO processingmodule2pricelist (processingmodule, pricelist) VALUES (?, ?)",
            (module, tariff),
        )
        .map_err(db)?;
        let mut addons = Vec::new();
        for a in &plan.addons {
            let t = itemtype(conn, &a.intname)?;
            conn.exec_drop(
                "INSERT INTO pricelist (intname, name, project, itemtype, parent, addontype, billtype, active, addonmin, addonlimit) \
                 VALUES (?, ?, 1, ?, ?, 2, 2, 'off', ?, ?)",
                (&a.intname, &a.name, t, tariff, a.min, a.limit),
            )
            .map_err(db)?;
            let id = conn.last_insert_id();
            insert_prices(conn, id, &a.prices)?;
            addons.push((id, a.intname.clone()));
        }
        Ok(Created { tariff, addons })
    })();
    match &made {
        Ok(_) => conn.query_drop("COMMIT").map_err(db)?,
        Err(_) => {
            let _ = conn.query_drop("ROLLBACK");
        }
    }
    made
}

/// The admin enables the tariff and its add-ons.
pub fn enable(conn: &mut Conn, tariff: u64) -> Result<(), String> {
    conn.exec_drop(
        "UPDATE pricelist SET active = 'on' WHERE id = ? OR parent = ?",
        (tariff, tariff),
    )
    .map_err(db)?;
    if conn.affected_rows() == 0 {
        return Err(format!("tariff {tariff} does not exist"));
    }
    Ok(())
}

/// A customer's order.
#[derive(Debug, Clone)]
pub struct Order {
    pub tariff: u64,
    pub account: Option<u64>,
    pub period: i64,
    pub cn: String,
    pub sans: Vec<String>,
    pub csr: String,
}

fn price_for(conn: &mut Conn, pricelist: u64, months: i64) -> Result<Option<Decimal>, String> {
    let v: Option<String> = conn
        .exec_first(
            "SELECT CAST(cost AS CHAR) FROM pricelistprice WHERE pricelist = ? AND length = ? ORDER BY id LIMIT 1",
            (pricelist, months),
        )
        .map_err(db)?;
    v.map(|c| c.parse::<Decimal>().map_err(|e| format!("price {c}: {e}")))
        .transpose()
}

/// The service as BILLmanager creates it for a paid order; returns its id.
pub fn order(conn: &mut Conn, o: &Order) -> Result<u64, String> {
    let row: Option<(String, Option<u64>)> = conn
        .exec_first(
            "SELECT p.active, m.processingmodule FROM pricelist p \
             LEFT JOIN processingmodule2pricelist m ON m.pricelist = p.id WHERE p.id = ? AND p.parent IS NULL",
            (o.tariff,),
        )
        .map_err(db)?;
    let (active, module) = row.ok_or_else(|| format!("tariff {} does not exist", o.tariff))?;
    if active != "on" {
        return Err(format!(
            "tariff {} is disabled: enable it before it can be ordered",
            o.tariff
        ));
    }
    let module = module.ok_or_else(|| format!("tariff {} has no processing module", o.tariff))?;
    let base = price_for(conn, o.tariff, o.period)?
        .ok_or_else(|| format!("tariff {} is not sold for {} months", o.tariff, o.period))?;
    let addons: Vec<(u64, String, Option<i64>, Option<i64>)> = conn
        .exec(
            "SELECT id, intname, addonmin, addonlimit FROM pricelist WHERE parent = ? ORDER BY id",
            (o.tariff,),
        )
        .map_err(db)?;
    let wild = |n: &&String| n.trim().starts_with("*.");
    let mut cost = base;
    let mut slots = Vec::new();
    for (id, intname, min, limit) in addons {
        let qty = if intname.to_ascii_lowercase().contains("wild") {
            o.sans.iter().filter(wild).count()
        } else {
            o.sans.iter().filter(|n| !wild(n)).count()
        } as i64;
        if qty < min.unwrap_or(0) || limit.is_some_and(|l| qty > l) {
            return Err(format!(
                "add-on {intname}: {qty} names ordered, the tariff allows {}..{}",
                min.unwrap_or(0),
                limit.map_or("∞".to_string(), |l| l.to_string())
            ));
        }
        let each = price_for(conn, id, o.period)?.unwrap_or(Decimal::ZERO);
        cost += each * Decimal::from(qty);
        slots.push((id, qty));
    }
    let account = match o.account {
        Some(a) => a,
        None => conn
            .query_first::<u64, _>("SELECT id FROM account ORDER BY id LIMIT 1")
            .map_err(db)?
            .ok_or("no account to order for")?,
    };
    conn.query_drop("START TRANSACTION").map_err(db)?;
    let made = (|| {
        conn.exec_drop(
            "INSERT INTO item (processingmodule, pricelist, period, status, account, name, cost) VALUES (?, ?, ?, 1, ?, ?, ?)",
            (module, o.tariff, o.period, account, &o.cn, cost.to_string()),
        )
        .map_err(db)?;
        let item = conn.last_insert_id();
        for (addon, qty) in &slots {
            conn.exec_drop(
                "INSERT INTO item (parent, pricelist, period, status, account, intvalue) VALUES (?, ?, ?, 1, ?, ?)",
                (item, addon, o.period, account, qty),
            )
            .map_err(db)?;
        }
        let mut params = vec![
            ("CN", o.cn.clone()),
            ("approver_method", "auth_email".to_string()),
            ("approver_email", format!("admin@{}", o.cn)),
            ("adm_fname", "Ivan".to_string()),
            ("adm_lname", "Petrov".to_string()),
            ("adm_email", format!("ivan@{}", o.cn)),
            ("adm_phone", "+7 495 123-45-67".to_string()),
        ];
        if !o.sans.is_empty() {
            params.push(("altname", o.sans.join(" ")));
        }
        for (k, v) in params {
            conn.exec_drop(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?)",
                (item, k, v),
            )
            .map_err(db)?;
        }
        conn.exec_drop(
            "INSERT INTO certificate (item, csr) VALUES (?, ?)",
            (item, &o.csr),
        )
        .map_err(db)?;
        Ok(item)
    })();
    match &made {
        Ok(_) => conn.query_drop("COMMIT").map_err(db)?,
        Err(_) => {
            let _ = conn.query_drop("ROLLBACK");
        }
    }
    made
}

/// The module's argv for the list and the detail call.
pub fn list_args(module: u64) -> Vec<String> {
    [
        "--command",
        "import_pricelist",
        "--module",
        &module.to_string(),
        "--subcommand",
        LIST_SUBCOMMAND,
    ]
    .map(str::to_string)
    .to_vec()
}

pub fn detail_args(module: u64, id: u64) -> Vec<String> {
    [
        "--command",
        "import_pricelist",
        "--module",
        &module.to_string(),
        "--subcommand",
        DETAIL_SUBCOMMAND,
        "--id",
        &id.to_string(),
    ]
    .map(str::to_string)
    .to_vec()
}

/// Run the module as BILLmanager does (env `MGR5_ROOT` inherited, no stdin);
/// its stdout, or an error with its exit code and answer.
fn run_module(bin: &PathBuf, args: &[String]) -> Result<String, String> {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{} {} exited {}: {}",
            bin.display(),
            args.join(" "),
            out.status.code().unwrap_or(-1),
            stdout.trim()
        ));
    }
    Ok(stdout)
}

/// `--pmsslreseller PATH`, else the module next to this binary (as the demo).
fn module_bin(given: Option<String>) -> Result<PathBuf, String> {
    given.map_or_else(crate::demo::default_module_bin, |p| Ok(PathBuf::from(p)))
}

/// The test database of `$MGR5_ROOT/etc/billmgr-sim.conf`.
fn connect() -> Result<Conn, String> {
    let root = std::env::var_os("MGR5_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or("MGR5_ROOT must name the BILLmanager root")?;
    crate::mgrctl::connect_root(&root).map_err(|e| e.msg)
}

fn options(args: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let key = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {a}"))?;
        let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
        out.insert(key.to_string(), v.clone());
    }
    Ok(out)
}

fn number(
    opts: &std::collections::BTreeMap<String, String>,
    key: &str,
) -> Result<Option<u64>, String> {
    opts.get(key)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("--{key} must be a number, got {v}"))
        })
        .transpose()
}

fn required(opts: &std::collections::BTreeMap<String, String>, key: &str) -> Result<u64, String> {
    number(opts, key)?.ok_or_else(|| format!("--{key} is required"))
}

fn run(args: &[String]) -> Result<String, String> {
    let (sub, rest) = args.split_first().ok_or(USAGE)?;
    let opts = options(rest)?;
    let known: &[&str] = match sub.as_str() {
        "import" => &[
            "module",
            "id",
            "intname",
            "externalid",
            "name",
            "pmsslreseller",
        ],
        "enable" => &["tariff"],
        "order" => &["tariff", "cn", "san", "period", "account", "csr"],
        _ => return Err(USAGE.to_string()),
    };
    if let Some(k) = opts.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown option --{k}\n{USAGE}"));
    }
    match sub.as_str() {
        "import" => {
            let module = required(&opts, "module")?;
            let id = required(&opts, "id")?;
            let bin = module_bin(opts.get("pmsslreseller").cloned())?;
            let listed = pick(&run_module(&bin, &list_args(module))?, id)?;
            let plan = plan_from_detail(&run_module(&bin, &detail_args(module, id))?, id)?;
            let o = Options {
                intname: opts
                    .get("intname")
                    .filter(|v| v.as_str() != "keep")
                    .cloned(),
                externalid: match opts.get("externalid").map(String::as_str) {
                    None | Some("off") => false,
                    Some("on") => true,
                    Some(v) => return Err(format!("--externalid on|off, got {v}")),
                },
                name: opts.get("name").cloned(),
            };
            let created = create(&mut connect()?, module, &plan, &o)?;
            Ok(format!(
                "tariff {} imported from upstream tariff {id} ({listed}): {} prices, add-ons {:?}",
                created.tariff,
                plan.prices.len(),
                created.addons
            ))
        }
        "enable" => {
            let tariff = required(&opts, "tariff")?;
            enable(&mut connect()?, tariff)?;
            Ok(format!("tariff {tariff} enabled"))
        }
        _ => {
            let csr = match opts.get("csr") {
                Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
                None => DEFAULT_CSR.to_string(),
            };
            let o = Order {
                tariff: required(&opts, "tariff")?,
                account: number(&opts, "account")?,
                period: number(&opts, "period")?.unwrap_or(12) as i64,
                cn: opts.get("cn").cloned().ok_or("--cn is required")?,
                sans: opts
                    .get("san")
                    .map(|s| {
                        s.split(',')
                            .map(str::trim)
                            .filter(|n| !n.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                csr,
            };
            let item = order(&mut connect()?, &o)?;
            Ok(format!("item {item}"))
        }
    }
}

pub fn main(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return 0;
    }
    match run(&args) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("billmgr-sim wizard: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETAIL: &str = r#"<doc><pricelist><id>3040</id><name>Multi</name><intname>ssl_3040</intname>
      <price currency="EUR"><period cost="54.00" type="month" length="12"/><period cost="103.20" type="month" length="24"/></price>
      <addon><id>3041</id><intname>altname</intname><name>Extra</name><addonmin>0</addonmin><addonlimit>10</addonlimit>
        <price currency="EUR"><period cost="15.00" type="month" length="12"/><period cost="28.80" type="month" length="24"/></price></addon>
    </pricelist></doc>"#;

    #[test]
    fn detail_becomes_a_plan() {
        let p = plan_from_detail(DETAIL, 3040).unwrap();
        assert_eq!(p.intname, "ssl_3040");
        assert_eq!(months(&p.prices), [12, 24]);
        assert_eq!(p.addons[0].limit, Some(10));
        assert_eq!(p.addons[0].prices[0].cost, "15.00".parse().unwrap());
        assert!(plan_from_detail(DETAIL, 3033).is_err());
    }

    #[test]
    fn mismatched_periods_are_refused() {
        let bad = DETAIL.replace(r#"<period cost="28.80" type="month" length="24"/>"#, "");
        let e = plan_from_detail(&bad, 3040).unwrap_err();
        assert!(e.contains("do not match"), "{e}");
    }

    #[test]
    fn pick_only_listed_plans() {
        let list = "<doc><elem><id>3033</id><name>Positive</name></elem></doc>";
        assert_eq!(pick(list, 3033).unwrap(), "Positive");
        assert!(pick(list, 3040).unwrap_err().contains("3033"));
        assert!(pick("<doc><error><msg>x</msg></error></doc>", 1).is_err());
    }
}
