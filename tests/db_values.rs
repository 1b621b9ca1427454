//! Every value read from BILLmanager's database is optional (docs/design.md, "Local
//! BILLmanager access"). No public schema says which columns may be NULL
//! (field evidence field-2026-12 §7: ISPsystem's own code LEFT JOINs the
//! tariff, product type and module onto `item`; an item not yet charged has
//! no `cost`), so the test schema's NOT NULLs prove nothing. This file relaxes
//! them and puts NULL, non-UTF-8 bytes, negative and huge numbers and odd
//! dates into every column the module reads, one at a time, on the module and
//! items under test, and runs every command BILLmanager and an admin run, on
//! the real binary:
//! - no run panics: exit code never 101, no "panicked" on stderr, never the
//!   panic net's "hit a bug" answer, no panic line in the module log;
//! - every BILLmanager-style command answers well-formed XML on stdout (a
//!   document or error XML), or nothing after a lifecycle step that worked;
//! - a bad value that stops something is named (`table.column`) where the
//!   admin sees it (stdout, stderr or the log);
//! - the upstream password is in no stdout, stderr or log.
//!
//! Then the decisions one by one: an item not yet charged in the price check,
//! a NULL item param under `prolong`, a NULL period in the cron sync, the
//! drift report and the import, an unreadable link in the import, and the
//! special periods (trial, lifetime, daily) that are never sent upstream.
//!
//! Runtime: one database, one simulator and one BILLmanager root per group of
//! columns (a table), reset between values; the groups run on three threads.

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use mysql::prelude::Queryable;
use serde_json::json;

use support::billing::{certificate_params, run_module, TestDb, TestMgr, EXAMPLE_CSR};
use support::sim::{SimAccount, SimUpstream};

const USER: &str = "reseller";
const PASSWORD: &str = "Db-Values-Upstr3am!pw";
/// Multi-domain EUR plan of the simulator's catalog (12 and 24 months).
const TARIFF: u64 = 3040;
/// The module's settings: the defaults.
const CONFIG: &str = "";

// ---------------------------------------------------------------------------
// The columns the module reads, and the bad values each can hold.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Date,
}

/// Which rows of the table get the bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `processingmodule` row of the module under test.
    Module,
    /// Settings rows of the module under test (`processingmodule = M`).
    ModuleRows,
    /// The items under test and their add-ons (`id IN …`).
    Items,
    /// Rows of the items under test (`item IN …`): params, certificate,
    /// running operations.
    ItemRows,
    /// Tasks of the items under test (made by failed runs).
    Tasks,
    /// The tariffs of the items under test.
    Tariffs,
    /// Every row (product types, countries).
    All,
}

#[derive(Debug, Clone, Copy)]
struct Col {
    table: &'static str,
    column: &'static str,
    /// The fixture's SQL type (kept for the NULL round).
    ty: &'static str,
    kind: Kind,
    scope: Scope,
}

const fn col(
    table: &'static str,
    column: &'static str,
    ty: &'static str,
    kind: Kind,
    scope: Scope,
) -> Col {
    Col {
        table,
        column,
        ty,
        kind,
        scope,
    }
}

/// Every column a query of `src/` selects, joins on or filters by, except
/// primary keys (a primary key is never NULL in any schema).
const COLUMNS: &[Col] = &[
    col(
        "processingmodule",
        "module",
        "VARCHAR(64)",
        Kind::Text,
        Scope::Module,
    ),
    col(
        "processingmodule",
        "name",
        "VARCHAR(255)",
        Kind::Text,
        Scope::Module,
    ),
    col(
        "processingmodule",
        "active",
        "VARCHAR(3)",
        Kind::Text,
        Scope::Module,
    ),
    col(
        "processingparam",
        "processingmodule",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ModuleRows,
    ),
    col(
        "processingparam",
        "intname",
        "VARCHAR(64)",
        Kind::Text,
        Scope::ModuleRows,
    ),
    col(
        "processingparam",
        "value",
        "TEXT",
        Kind::Text,
        Scope::ModuleRows,
    ),
    col(
        "processingcryptedparam",
        "processingmodule",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ModuleRows,
    ),
    col(
        "processingcryptedparam",
        "intname",
        "VARCHAR(64)",
        Kind::Text,
        Scope::ModuleRows,
    ),
    col(
        "processingcryptedparam",
        "value",
        "TEXT",
        Kind::Text,
        Scope::ModuleRows,
    ),
    col(
        "item",
        "processingmodule",
        "INT UNSIGNED",
        Kind::Int,
        Scope::Items,
    ),
    col("item", "pricelist", "INT UNSIGNED", Kind::Int, Scope::Items),
    col(
        "item",
        "lastpricelist",
        "INT UNSIGNED",
        Kind::Int,
        Scope::Items,
    ),
    col("item", "period", "INT", Kind::Int, Scope::Items),
    col("item", "status", "INT", Kind::Int, Scope::Items),
    col("item", "expiredate", "DATE", Kind::Date, Scope::Items),
    col("item", "opendate", "DATE", Kind::Date, Scope::Items),
    col("item", "name", "VARCHAR(255)", Kind::Text, Scope::Items),
    col("item", "cost", "DECIMAL(20,4)", Kind::Int, Scope::Items),
    col("item", "parent", "INT UNSIGNED", Kind::Int, Scope::Items),
    col("item", "intvalue", "INT", Kind::Int, Scope::Items),
    col(
        "pricelist",
        "intname",
        "VARCHAR(255)",
        Kind::Text,
        Scope::Tariffs,
    ),
    col(
        "pricelist",
        "name",
        "VARCHAR(255)",
        Kind::Text,
        Scope::Tariffs,
    ),
    col(
        "pricelist",
        "itemtype",
        "INT UNSIGNED",
        Kind::Int,
        Scope::Tariffs,
    ),
    col(
        "pricelist",
        "externalid",
        "VARCHAR(255)",
        Kind::Text,
        Scope::Tariffs,
    ),
    col("itemtype", "intname", "VARCHAR(64)", Kind::Text, Scope::All),
    col(
        "itemparam",
        "item",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ItemRows,
    ),
    col(
        "itemparam",
        "intname",
        "VARCHAR(64)",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "itemparam",
        "value",
        "MEDIUMTEXT",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "itemcryptedparam",
        "item",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ItemRows,
    ),
    col(
        "itemcryptedparam",
        "intname",
        "VARCHAR(64)",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "itemcryptedparam",
        "value",
        "TEXT",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "certificate",
        "item",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ItemRows,
    ),
    col(
        "certificate",
        "csr",
        "MEDIUMTEXT",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "certificate",
        "crt",
        "MEDIUMTEXT",
        Kind::Text,
        Scope::ItemRows,
    ),
    col(
        "runningoperation",
        "trycount",
        "INT UNSIGNED",
        Kind::Int,
        Scope::ItemRows,
    ),
    col(
        "task",
        "runningoperation",
        "INT UNSIGNED",
        Kind::Int,
        Scope::Tasks,
    ),
    col("task", "status", "INT", Kind::Int, Scope::Tasks),
    col("country", "iso2", "CHAR(2)", Kind::Text, Scope::All),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    Null,
    NonUtf8,
    Negative,
    Huge,
    ZeroDate,
    OddDate,
}

impl Bad {
    fn for_kind(kind: Kind) -> &'static [Bad] {
        match kind {
            Kind::Text => &[Bad::Null, Bad::NonUtf8],
            Kind::Int => &[Bad::Null, Bad::Negative, Bad::Huge, Bad::NonUtf8],
            Kind::Date => &[Bad::Null, Bad::ZeroDate, Bad::OddDate, Bad::NonUtf8],
        }
    }

    /// The column's type for this value (`MODIFY … NULL`).
    fn column_type(self, c: &Col) -> String {
        match self {
            Bad::Null | Bad::ZeroDate => c.ty.to_string(),
            Bad::Negative => "BIGINT".into(),
            Bad::Huge => "BIGINT UNSIGNED".into(),
            Bad::OddDate => "VARCHAR(32)".into(),
            Bad::NonUtf8 if c.ty.contains("TEXT") => "LONGBLOB".into(),
            Bad::NonUtf8 => "VARBINARY(255)".into(),
        }
    }

    /// The value for the `n`-th row (from 0): distinct per row, so a column
    /// of a unique key (`itemparam (item, intname)`) takes it on every row.
    fn value(self, n: u64) -> mysql::Value {
        match self {
            Bad::Null => mysql::Value::NULL,
            Bad::NonUtf8 => {
                mysql::Value::Bytes([&b"\xff\xfe\xfd bad "[..], n.to_string().as_bytes()].concat())
            }
            Bad::Negative => mysql::Value::Int(-1 - n as i64),
            Bad::Huge => mysql::Value::UInt((1u64 << 63) + n),
            Bad::ZeroDate => mysql::Value::Bytes(b"0000-00-00".to_vec()),
            Bad::OddDate => mysql::Value::Bytes(b"2027-02-30".to_vec()),
        }
    }
}

// ---------------------------------------------------------------------------
// One bench: upstream simulator, BILLmanager root and database, one module.

/// The upstream: an account rich enough for every order and renewal, that
/// may suspend (the module mirrors suspensions).
fn upstream() -> SimUpstream {
    let up = SimUpstream::start_with(&[]);
    let mut account = SimAccount::new(USER, PASSWORD, "1000000.00", "EUR");
    account.may_suspend = true;
    up.set_account(&account);
    up
}

struct Bench {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    tariff: u64,
    addon_tariff: u64,
    country: u64,
}

/// The items one bad value is tried on: `a` waits to be opened, `b` is
/// issued (linked to an upstream certificate); each has a SAN add-on.
struct Items {
    a: u64,
    b: u64,
    addons: [u64; 2],
}

impl Items {
    fn ids(&self) -> String {
        format!(
            "{}, {}, {}, {}",
            self.a, self.b, self.addons[0], self.addons[1]
        )
    }

    fn main_ids(&self) -> String {
        format!("{}, {}", self.a, self.b)
    }
}

/// One run of the binary.
struct Run {
    what: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Bench {
    fn new() -> Bench {
        Bench::with_upstream(upstream())
    }

    fn with_upstream(up: SimUpstream) -> Bench {
        let db = TestDb::create();
        let mgr = TestMgr::new(&db);
        std::fs::write(mgr.path().join("etc/pmsslreseller.toml"), CONFIG).unwrap();
        // Most verbose logging: the password must stay out even of debug lines.
        std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
        let module = db.seed_module(&up.url(), USER, PASSWORD);
        db.set_module_param(module, "mirror_suspend", "on");
        let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));
        let addon_tariff = {
            let mut c = db.conn();
            c.query_drop("INSERT INTO itemtype (intname) VALUES ('altname')")
                .unwrap();
            let it = c.last_insert_id();
            c.exec_drop(
                "INSERT INTO pricelist (intname, name, itemtype, parent, project) VALUES ('altname', 'SAN', ?, ?, 1)",
                (it, tariff),
            )
            .unwrap();
            c.last_insert_id()
        };
        let country = db.seed_country("RU", "Россия");
        let b = Bench {
            up,
            db,
            mgr,
            module,
            tariff,
            addon_tariff,
            country,
        };
        // The cached catalog: open checks an order against it.
        let r = b.admin(&["catalog", "refresh", "--module", &module.to_string()]);
        assert_eq!(r.code, 0, "catalog refresh: {}{}", r.stdout, r.stderr);
        b
    }

    fn exec(&self, sql: &str, params: impl Into<mysql::Params>) {
        self.db
            .conn()
            .exec_drop(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn account(&self) -> u64 {
        self.db
            .conn()
            .query_first::<u64, _>("SELECT MIN(id) FROM account")
            .unwrap()
            .expect("an account")
    }

    /// A SAN add-on of `item` paying for `slots` names.
    fn addon(&self, item: u64, slots: i64) -> u64 {
        self.exec(
            "INSERT INTO item (parent, processingmodule, pricelist, period, status, account, cost, name, intvalue) \
             VALUES (?, ?, ?, 12, 2, ?, 3, 'SAN', ?)",
            (item, self.module, self.addon_tariff, self.account(), slots),
        );
        self.db.conn().last_insert_id()
    }

    /// Item `a` (to be opened) and item `b` (issued upstream, linked).
    fn items(&self) -> Items {
        let mut params = certificate_params();
        let country = self.country.to_string();
        params.push(("org_country", &country));
        let a =
            self.db
                .seed_certificate_item(self.module, self.tariff, 12, &params, Some(EXAMPLE_CSR));
        self.exec("UPDATE item SET cost = 45 WHERE id = ?", (a,));
        self.db.seed_crypted_item_param(a, "order_token", "a-token");
        let b = self.issued_item("b.example.com");
        Items {
            a,
            b,
            addons: [self.addon(a, 2), self.addon(b, 2)],
        }
    }

    /// An active, issued certificate service linked to an upstream one
    /// seeded in the simulator (nothing paid).
    fn issued_item(&self, cn: &str) -> u64 {
        let b = self.db.seed_certificate_item(
            self.module,
            self.tariff,
            12,
            &[
                ("CN", cn),
                ("altname", &format!("www.{cn}")),
                ("approver_email", &format!("admin@{cn}")),
            ],
            Some(EXAMPLE_CSR),
        );
        let expiry = (chrono::Utc::now().date_naive() + chrono::Days::new(300)).to_string();
        let up_id = self.up.seed_certificate(json!({
            "username": USER,
            "cn": cn,
            "altnames": [format!("www.{cn}")],
            "pricelist": TARIFF,
            "period": 12,
            "status": 2,
            "service_status": 5,
            "expiredate": expiry,
            "remoteid": b.to_string(),
        }));
        let crt = self
            .up
            .certificate(up_id)
            .and_then(|c| c["crt"].as_str().map(str::to_string))
            .expect("the seeded certificate has a chain");
        self.exec(
            "UPDATE item SET status = 2, cost = 45, expiredate = ?, opendate = CURDATE() - INTERVAL 65 DAY WHERE id = ?",
            (&expiry, b),
        );
        self.exec("UPDATE certificate SET crt = ? WHERE item = ?", (&crt, b));
        for (k, v) in [
            ("pmss_upstream_id", up_id.to_string()),
            ("service_status", "5".to_string()),
        ] {
            self.exec(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?)",
                (b, k, v),
            );
        }
        self.db.seed_crypted_item_param(b, "order_token", "b-token");
        b
    }

    /// `WHERE …` of the rows `scope` covers.
    fn scope_where(&self, scope: Scope, items: &Items) -> String {
        match scope {
            Scope::Module => format!("id = {}", self.module),
            Scope::ModuleRows => format!("processingmodule = {}", self.module),
            Scope::Items => format!("id IN ({})", items.ids()),
            Scope::ItemRows | Scope::Tasks => format!("item IN ({})", items.main_ids()),
            Scope::Tariffs => format!("id IN ({}, {})", self.tariff, self.addon_tariff),
            Scope::All => "1 = 1".into(),
        }
    }

    /// Put `bad` into column `c` of the rows under test.
    fn poison(&self, c: &Col, bad: Bad, items: &Items) {
        let mut conn = self.db.conn();
        // Zero dates and out-of-range numbers are stored as given.
        conn.query_drop("SET SESSION sql_mode = ''").unwrap();
        let rows: Vec<u64> = conn
            .query(format!(
                "SELECT id FROM `{}` WHERE {} ORDER BY id",
                c.table,
                self.scope_where(c.scope, items)
            ))
            .unwrap();
        let sql = format!("UPDATE `{}` SET `{}` = ? WHERE id = ?", c.table, c.column);
        for (n, id) in rows.into_iter().enumerate() {
            conn.exec_drop(&sql, (bad.value(n as u64), id))
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    /// Rows `scope` covers, with their value of `c`, to put back afterwards
    /// (only for rows that outlive the items).
    fn saved(&self, c: &Col, items: &Items) -> Vec<(u64, mysql::Value)> {
        if matches!(c.scope, Scope::Items | Scope::ItemRows | Scope::Tasks) {
            return Vec::new();
        }
        let sql = format!(
            "SELECT id, `{}` FROM `{}` WHERE {}",
            c.column,
            c.table,
            self.scope_where(c.scope, items)
        );
        self.db.conn().query(sql).unwrap()
    }

    fn restore(&self, c: &Col, saved: &[(u64, mysql::Value)]) {
        for (id, v) in saved {
            self.exec(
                &format!("UPDATE `{}` SET `{}` = ? WHERE id = ?", c.table, c.column),
                (v.clone(), *id),
            );
        }
    }

    /// Forget every service, here and upstream, so the next value starts
    /// from the same two items (and an import never meets old ones).
    fn clear_items(&self) {
        for t in [
            "itemparam",
            "itemcryptedparam",
            "certificate",
            "runningoperation",
            "task",
            "item",
        ] {
            self.db
                .conn()
                .query_drop(format!("DELETE FROM {t}"))
                .unwrap();
        }
        for c in self
            .up
            .certificates()
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if c["deleted"] != json!(true) {
                if let Some(id) = c["id"].as_u64() {
                    self.up.drift(json!({ "action": "delete", "id": id }));
                }
            }
        }
    }

    fn billmanager(&self, args: &[&str]) -> Run {
        let (code, stdout, stderr) = run_module(&self.mgr, args, None);
        Run {
            what: args.join(" "),
            code,
            stdout,
            stderr,
        }
    }

    fn admin(&self, args: &[&str]) -> Run {
        self.billmanager(args)
    }

    /// A lifecycle command on `item`, with a running operation for those
    /// BILLmanager runs inside one. `before` runs after the operation exists.
    fn lifecycle(&self, op: &str, item: u64, before: &dyn Fn()) -> Run {
        let item_s = item.to_string();
        let mut args = vec!["--command", op, "--item", item_s.as_str()];
        let ro;
        if op != "sync_item" {
            ro = self.db.create_running_operation(item, op).to_string();
            self.exec(
                "UPDATE runningoperation SET trycount = 1 WHERE item = ?",
                (item,),
            );
            args.extend(["--runningoperation", ro.as_str()]);
        }
        before();
        self.billmanager(&args)
    }

    fn module_log(&self) -> String {
        self.mgr.module_log()
    }
}

// ---------------------------------------------------------------------------
// What every run must show.

/// The run did not panic and answered as its caller expects. `Err`: what is
/// wrong, for the failure message.
fn check(r: &Run, billmanager_style: bool) -> Result<(), String> {
    if r.code == 101 || r.stderr.contains("panicked") {
        return Err(format!(
            "`{}` panicked (exit {}): {}",
            r.what, r.code, r.stderr
        ));
    }
    for text in [&r.stdout, &r.stderr] {
        if text.contains("hit a bug") {
            return Err(format!(
                "`{}` hit a bug (the panic net answered): {text}",
                r.what
            ));
        }
        if text.contains(PASSWORD) {
            return Err(format!("`{}` shows the upstream password", r.what));
        }
    }
    // A lifecycle command that succeeded answers nothing (BILLmanager reads
    // only error XML from it).
    if billmanager_style && !(r.code == 0 && r.stdout.is_empty()) {
        let doc = pmsslreseller::xmltree::parse_tree(&r.stdout)
            .map_err(|e| format!("`{}` printed no XML document ({e}): {:?}", r.what, r.stdout))?;
        if doc.name != "doc" {
            return Err(format!(
                "`{}` printed <{}>, not <doc>: {}",
                r.what, doc.name, r.stdout
            ));
        }
        if r.code != 0 && doc.child("error").is_none() {
            return Err(format!(
                "`{}` failed (exit {}) without error XML: {}",
                r.what, r.code, r.stdout
            ));
        }
    }
    Ok(())
}

/// The log may hold no panic line and no password.
fn check_log(log: &str) -> Result<(), String> {
    if log.contains("panicked") || log.contains("hit a bug") {
        let line = log
            .lines()
            .find(|l| l.contains("panicked") || l.contains("hit a bug"))
            .unwrap_or_default();
        return Err(format!("the module log shows a panic: {line}"));
    }
    if log.contains(PASSWORD) {
        return Err("the upstream password is in the module log".into());
    }
    Ok(())
}

/// The first line of what an admin sees of a failed run.
fn said(r: &Run) -> String {
    let text = if r.stdout.contains("<msg>") {
        r.stdout
            .split("<msg>")
            .nth(1)
            .and_then(|m| m.split("</msg>").next())
            .unwrap_or_default()
            .to_string()
    } else {
        format!("{}{}", r.stderr, r.stdout)
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect()
}

/// Run every command on one bad value of one column. Returns the problems
/// found and, for the record, what each failing command said.
fn try_value(b: &Bench, c: &Col, bad: Bad) -> (Vec<String>, Vec<String>) {
    let name = format!("{}.{}", c.table, c.column);
    let mut problems = Vec::new();
    let mut failures = Vec::new();
    {
        let mut conn = b.db.conn();
        let sql = format!(
            "ALTER TABLE `{}` MODIFY `{}` {} NULL",
            c.table,
            c.column,
            bad.column_type(c)
        );
        conn.query_drop(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let items = b.items();
    let saved = b.saved(c, &items);
    b.poison(c, bad, &items);
    let log_before = b.module_log().len();
    // Running operations and tasks are made for (and by) the runs
    // themselves: the bad value goes into each new one too.
    let repoison = || {
        if matches!(c.table, "runningoperation" | "task") {
            b.poison(c, bad, &items);
        }
    };
    let module = b.module.to_string();
    let m = module.as_str();
    let mut runs: Vec<(Run, bool)> = Vec::new();
    runs.push((b.lifecycle("open", items.a, &repoison), true));
    // Suspend and resume an active certificate, then reopen before prolong:
    // a reissue and a renewal each restart issuance upstream, and only an
    // issued certificate is reissued.
    for op in [
        "sync_item",
        "suspend",
        "resume",
        "reopen",
        "prolong",
        "setparam",
        "close",
    ] {
        runs.push((b.lifecycle(op, items.b, &repoison), true));
    }
    for args in [
        &["--command", "getbalance", "--module", m][..],
        &[
            "--command",
            "import_pricelist",
            "--module",
            m,
            "--subcommand",
            "available",
        ],
        &[
            "--command",
            "import_pricelist",
            "--module",
            m,
            "--subcommand",
            "pricelist",
            "--id",
            "3040",
        ],
        &[
            "--command",
            "import",
            "--module",
            m,
            "--itemtype",
            "certificate",
        ],
    ] {
        repoison();
        runs.push((b.billmanager(args), true));
    }
    let account = b.account().to_string();
    for args in [
        &["sync", "--module", m][..],
        &["reconcile", "--module", m],
        &["catalog", "refresh", "--module", m],
        &["pricing", "preview", "--module", m, "--refresh"],
        &["import", "--module", m, "--dry-run", "--account", &account],
    ] {
        repoison();
        runs.push((b.admin(args), false));
    }
    let log = b.module_log();
    let new_log = &log[log_before.min(log.len())..];
    for (r, billmanager_style) in &runs {
        if let Err(p) = check(r, *billmanager_style) {
            problems.push(format!("{name} = {bad:?}: {p}"));
        }
        if r.code != 0 {
            failures.push(format!("{name} = {bad:?}: `{}` → {}", r.what, said(r)));
        }
    }
    if let Err(p) = check_log(new_log) {
        problems.push(format!("{name} = {bad:?}: {p}"));
    }
    // A bad value that stops a run is named where the admin looks: the
    // column itself, or the one a write carried it into (setparam's rollback
    // copies item.lastpricelist into item.pricelist).
    for (r, _) in &runs {
        let text = said(r);
        if r.code != 0
            && text.contains("BILLmanager's database")
            && !text.contains("BILLmanager's database server")
            && !COLUMNS
                .iter()
                .map(|c| format!("{}.{}", c.table, c.column))
                .any(|n| text.contains(&n))
        {
            problems.push(format!(
                "{name} = {bad:?}: `{}` failed on BILLmanager's database without naming a column: {text}",
                r.what
            ));
        }
    }
    let named = runs
        .iter()
        .any(|(r, _)| r.stdout.contains(&name) || r.stderr.contains(&name))
        || new_log.contains(&name);
    if runs.iter().any(|(r, _)| said(r).contains(&name)) && !named {
        problems.push(format!("{name} = {bad:?}: nothing names {name}"));
    }
    b.restore(c, &saved);
    b.clear_items();
    (problems, failures)
}

/// Every column of `cols` with every bad value of its kind, on one bench.
fn try_columns(cols: &[Col]) -> (Vec<String>, Vec<String>) {
    let b = Bench::new();
    let mut problems = Vec::new();
    let mut failures = Vec::new();
    let only = std::env::var("PMSS_DB_VALUES_ONLY").ok();
    for c in cols {
        let name = format!("{}.{}", c.table, c.column);
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        for bad in Bad::for_kind(c.kind) {
            let (p, f) = try_value(&b, c, *bad);
            problems.extend(p);
            failures.extend(f);
        }
    }
    (problems, failures)
}

#[test]
fn no_value_in_billmanagers_database_makes_a_command_panic() {
    // The commands that read no database: once.
    let b = Bench::new();
    let mut problems = Vec::new();
    let settings = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{}</id><url>{}</url>\
         <username>{USER}</username><password>{PASSWORD}</password></processingmodule></doc>\n",
        b.module,
        b.up.url()
    );
    let (code, stdout, stderr) =
        run_module(&b.mgr, &["--command", "check_connection"], Some(&settings));
    for (r, bm) in [
        (
            Run {
                what: "check_connection".into(),
                code,
                stdout,
                stderr,
            },
            true,
        ),
        (b.billmanager(&["--command", "features"]), true),
        (b.admin(&["config"]), false),
    ] {
        if let Err(p) = check(&r, bm) {
            problems.push(p);
        }
    }
    drop(b);

    // Every column, one table at a time, three tables at once.
    let mut groups: BTreeMap<&str, Vec<Col>> = BTreeMap::new();
    for c in COLUMNS {
        groups.entry(c.table).or_default().push(*c);
    }
    let groups: Vec<Vec<Col>> = groups.into_values().collect();
    let next = Mutex::new(0usize);
    let found = Mutex::new((problems, Vec::<String>::new()));
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(cols) = groups.get(i) else { break };
                let (p, f) = try_columns(cols);
                let mut all = found.lock().unwrap();
                all.0.extend(p);
                all.1.extend(f);
            });
        }
    });
    let (problems, failures) = found.into_inner().unwrap();
    if std::env::var_os("PMSS_DB_VALUES_SHOW").is_some() {
        for f in &failures {
            eprintln!("{f}");
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The decisions, one by one.

fn set_null(b: &Bench, table: &str, column: &str, ty: &str, cond: &str) {
    let mut c = b.db.conn();
    c.query_drop(format!("ALTER TABLE `{table}` MODIFY `{column}` {ty} NULL"))
        .unwrap();
    c.query_drop(format!(
        "UPDATE `{table}` SET `{column}` = NULL WHERE {cond}"
    ))
    .unwrap();
}

fn upstream_calls(b: &Bench) -> Vec<String> {
    b.up.journal().into_iter().map(|e| e.func).collect()
}

#[test]
fn an_item_not_yet_charged_is_left_out_of_the_price_check_by_name() {
    let b = Bench::new();
    let charged = b.issued_item("charged.example.com");
    let not_charged = b.issued_item("new.example.com");
    set_null(
        &b,
        "item",
        "cost",
        "DECIMAL(20,4)",
        &format!("id = {not_charged}"),
    );
    let r = b.admin(&["catalog", "refresh", "--module", &b.module.to_string()]);
    check(&r, false).unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Local prices: 1 checked"),
        "the charged service's price is still checked: {}",
        r.stdout
    );
    let skipped = r
        .stdout
        .lines()
        .find(|l| l.contains(&format!("item {not_charged}")))
        .unwrap_or_else(|| panic!("the skipped service is named: {}", r.stdout));
    assert!(skipped.contains("item.cost"), "{skipped}");
    assert!(!skipped.contains(&format!("item {charged}")), "{skipped}");
    assert_eq!(
        b.module_log()
            .matches(&format!("item {not_charged}"))
            .count(),
        1,
        "logged once: {}",
        b.module_log()
    );
}

#[test]
fn a_null_item_param_stops_prolong_with_error_xml_on_the_running_operation() {
    let b = Bench::new();
    let item = b.issued_item("prolong.example.com");
    set_null(
        &b,
        "itemparam",
        "value",
        "MEDIUMTEXT",
        &format!("item = {item} AND intname = 'approver_email'"),
    );
    b.up.clear_journal();
    let ro = b.db.create_running_operation(item, "prolong");
    b.db.bump_trycount(ro);
    let r = b.billmanager(&[
        "--command",
        "prolong",
        "--item",
        &item.to_string(),
        "--runningoperation",
        &ro.to_string(),
    ]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("<error type=\"billing\""), "{}", r.stdout);
    assert!(r.stdout.contains("itemparam.value"), "{}", r.stdout);
    assert!(r.stdout.contains("approver_email"), "{}", r.stdout);
    let recorded =
        b.db.running_operation(ro)
            .and_then(|o| o.errorxml)
            .expect("the error is recorded on the running operation");
    assert!(recorded.contains("itemparam.value"), "{recorded}");
    assert!(
        !upstream_calls(&b).iter().any(|f| f == "service.prolong"),
        "nothing renewed: {:?}",
        upstream_calls(&b)
    );
}

/// A NULL `item.period` is decided per use: only what is bought or dated by
/// the month needs it. The service is still synced (by the cron sync and by
/// `sync_item`), a renewal is refused with a `value` error naming the column
/// and nothing sent, and the customer's close still deletes the certificate
/// upstream (a service that cannot be closed would keep it there).
#[test]
fn an_item_with_a_null_period_is_synced_and_closed_but_never_renewed() {
    let b = Bench::new();
    let good = b.issued_item("good.example.com");
    let bad = b.issued_item("bad.example.com");
    set_null(&b, "item", "period", "INT", &format!("id = {bad}"));
    let upstream = |item: u64| -> u64 {
        b.db.item_param(item, "pmss_upstream_id")
            .unwrap()
            .parse()
            .unwrap()
    };
    // The upstream moved both expiries: the sync reads both.
    for item in [good, bad] {
        b.up.drift(json!({ "action": "renew", "id": upstream(item) }));
    }
    let r = b.admin(&["sync", "--module", &b.module.to_string()]);
    check(&r, false).unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("0 unreadable"), "{}", r.stdout);
    for item in [good, bad] {
        assert!(
            b.db.item_param(item, "pmss_upstream_expiry").is_some(),
            "item {item} was synced: {}",
            b.module_log()
        );
    }
    let log = b.module_log();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("item {bad}: item.period is NULL"))),
        "the missing period is logged: {log}"
    );

    let r = b.billmanager(&["--command", "sync_item", "--item", &bad.to_string()]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 0, "{}", r.stdout);

    // A renewal needs the period: refused before anything is sent.
    b.up.clear_journal();
    let ro = b.db.create_running_operation(bad, "prolong");
    b.db.bump_trycount(ro);
    let r = b.billmanager(&[
        "--command",
        "prolong",
        "--item",
        &bad.to_string(),
        "--runningoperation",
        &ro.to_string(),
    ]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("<error type=\"value\" object=\"period\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("NULL"), "{}", r.stdout);
    assert_eq!(upstream_calls(&b), Vec::<String>::new(), "nothing sent");

    // The drift report compares it like any other service.
    let r = b.admin(&["reconcile", "--module", &b.module.to_string()]);
    check(&r, false).unwrap();
    assert!(!r.stdout.contains("could not read"), "{}", r.stdout);
    assert!(!r.stdout.contains("orphan"), "{}", r.stdout);

    // The customer's close deletes the certificate upstream.
    let id = upstream(bad);
    let ro = b.db.create_running_operation(bad, "close");
    b.db.bump_trycount(ro);
    let r = b.billmanager(&[
        "--command",
        "close",
        "--item",
        &bad.to_string(),
        "--runningoperation",
        &ro.to_string(),
    ]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, b.module_log());
    assert!(b.up.certificate(id).is_some_and(|c| c["deleted"] == true));
}

#[test]
fn an_unreadable_link_stops_new_links_in_the_import_only() {
    let b = Bench::new();
    let unreadable = b.issued_item("linked.example.com");
    set_null(
        &b,
        "itemparam",
        "value",
        "MEDIUMTEXT",
        &format!("item = {unreadable} AND intname = 'pmss_upstream_id'"),
    );
    // A certificate made upstream by hand: it might be the one the service
    // above is linked to.
    b.up.seed_certificate(json!({
        "username": USER,
        "cn": "by-hand.example.com",
        "pricelist": TARIFF,
        "service_status": 5,
    }));
    let items = |b: &Bench| -> u64 {
        b.db.conn()
            .query_first::<u64, _>("SELECT COUNT(*) FROM item")
            .unwrap()
            .unwrap()
    };
    let before = items(&b);
    let r = b.admin(&["import", "--module", &b.module.to_string()]);
    check(&r, false).unwrap();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("not linked while 1 local service(s) cannot be read"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("local service unreadable: item {unreadable}, param 'pmss_upstream_id': itemparam.value is NULL")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("1 local services unreadable"),
        "{}",
        r.stdout
    );
    assert_eq!(items(&b), before, "no service was created");
}

/// Item of the trial-less tariff with `period`, opened: a `value` error naming
/// the period, and not one upstream call.
fn open_refused(period: i64, named: &str) {
    let b = Bench::new();
    let item = b.issued_item("x.example.com");
    // An item not ordered yet.
    b.exec(
        "DELETE FROM itemparam WHERE item = ? AND intname IN ('pmss_upstream_id', 'service_status')",
        (item,),
    );
    b.exec(
        "UPDATE item SET period = ?, status = 1 WHERE id = ?",
        (period, item),
    );
    b.up.clear_journal();
    let ro = b.db.create_running_operation(item, "open");
    b.db.bump_trycount(ro);
    let r = b.billmanager(&[
        "--command",
        "open",
        "--item",
        &item.to_string(),
        "--runningoperation",
        &ro.to_string(),
    ]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("<error type=\"value\" object=\"period\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(named),
        "names the period as {named}: {}",
        r.stdout
    );
    assert_eq!(upstream_calls(&b), Vec::<String>::new(), "no upstream call");
}

#[test]
fn a_trial_is_not_ordered_from_a_tariff_without_one() {
    open_refused(-100, "trial");
}

#[test]
fn a_lifetime_period_is_never_ordered() {
    open_refused(0, "lifetime");
}

#[test]
fn a_daily_period_is_never_ordered() {
    open_refused(-50, "daily");
}

#[test]
fn special_periods_are_never_renewed() {
    for (period, named) in [(-100, "trial"), (0, "lifetime"), (-50, "daily")] {
        let b = Bench::new();
        let item = b.issued_item("renew.example.com");
        b.exec("UPDATE item SET period = ? WHERE id = ?", (period, item));
        b.up.clear_journal();
        let ro = b.db.create_running_operation(item, "prolong");
        b.db.bump_trycount(ro);
        let r = b.billmanager(&[
            "--command",
            "prolong",
            "--item",
            &item.to_string(),
            "--runningoperation",
            &ro.to_string(),
        ]);
        check(&r, true).unwrap();
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(
            r.stdout.contains("<error type=\"value\" object=\"period\""),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains(named), "{}", r.stdout);
        assert_eq!(upstream_calls(&b), Vec::<String>::new(), "no upstream call");
    }
}

/// The simulator's catalog with a trial period (`length="-100"`, how
/// `pricelist.export` shows a trial) added to tariff 3040.
fn catalog_with_trial() -> String {
    let xml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sim/fixtures/catalog.xml"
    ))
    .unwrap();
    let anchor = "<period cost=\"45.0000\" type=\"month\" length=\"12\">1 year</period>";
    assert!(
        xml.contains(anchor),
        "the catalog still sells 3040 for 45.00 a year"
    );
    xml.replacen(
        anchor,
        &format!(
            "<period cost=\"0.0000\" type=\"month\" length=\"-100\">trial</period>\n      {anchor}"
        ),
        1,
    )
}

#[test]
fn a_trial_is_ordered_where_the_upstream_tariff_sells_one() {
    let up = upstream();
    up.set_catalog(&catalog_with_trial());
    let b = Bench::with_upstream(up);
    let item = b.issued_item("trial.example.com");
    b.exec(
        "DELETE FROM itemparam WHERE item = ? AND intname IN ('pmss_upstream_id', 'service_status')",
        (item,),
    );
    b.exec(
        "UPDATE item SET period = -100, status = 1, expiredate = NULL WHERE id = ?",
        (item,),
    );
    b.up.clear_journal();
    let ro = b.db.create_running_operation(item, "open");
    b.db.bump_trycount(ro);
    let r = b.billmanager(&[
        "--command",
        "open",
        "--item",
        &item.to_string(),
        "--runningoperation",
        &ro.to_string(),
    ]);
    check(&r, true).unwrap();
    assert_eq!(r.code, 0, "{}{}\n{}", r.stdout, r.stderr, b.module_log());
    let orders: Vec<_> =
        b.up.journal()
            .into_iter()
            .filter(|e| e.func == "certificate.order.param" && e.outcome == "ok")
            .collect();
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(orders[0].params["period"], "-100", "the upstream's trial");
    assert_eq!(orders[0].params["pricelist"], TARIFF.to_string());
    check_log(&b.module_log()).unwrap();
}
