//! Speaking the real BILLmanager: `setparam`, `getbalance` and
//! `pmsslreseller balance`, the answer shapes real upstreams send (order id
//! as `<item.id>`, numeric `status` with `item_status` as a label, the v2
//! order function), orders without upstream auto-renewal — each on the real
//! `pmsslreseller` binary against a real MariaDB (through the `billmgr-sim
//! mgrctl` stand-in) and the `billmgr-sim upstream` simulator.

mod support;

use mysql::prelude::Queryable;

use support::billing::{certificate_params, run_module, TestDb, TestMgr};
use support::sim::{JournalEntry, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Multi-domain EUR plan of the simulator's catalog.
const TARIFF: u64 = 3040;
const CONFIG: &str = "[upstream]\ntimeout_secs = 5\nconnect_timeout_secs = 2\n";

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

impl World {
    fn new() -> World {
        World::with(&[], "")
    }

    /// `sim_args`: more `billmgr-sim upstream` options; `config`: more
    /// lines of etc/pmsslreseller.toml.
    fn with(sim_args: &[&str], config: &str) -> World {
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .sim_args(sim_args)
            .config(&format!("{CONFIG}{config}"))
            .debug_log()
            .tariffs(&[TARIFF])
            .item(12, &certificate_params())
            .build();
        let (module, item) = (base.module(), base.item());
        let Base { up, db, mgr, .. } = base;
        World {
            up,
            db,
            mgr,
            module,
            item,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_module(&self.mgr, args, None)
    }

    /// A new running operation for `command` on the item, run once.
    fn operation(&self, command: &str) -> (u64, i32, String) {
        let ro = self.db.create_running_operation(self.item, command);
        self.db.bump_trycount(ro);
        let (item, ro_text) = (self.item.to_string(), ro.to_string());
        let (code, out, _) = self.run(&[
            "--command",
            command,
            "--item",
            &item,
            "--runningoperation",
            &ro_text,
        ]);
        (ro, code, out)
    }

    fn upstream_calls(&self, func: &str) -> Vec<JournalEntry> {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func == func)
            .collect()
    }

    /// Every upstream function called so far.
    fn upstream_funcs(&self) -> Vec<String> {
        self.up.journal().into_iter().map(|e| e.func).collect()
    }

    fn item_pricelists(&self) -> (u64, Option<u64>) {
        self.db
            .conn()
            .exec_first(
                "SELECT pricelist, lastpricelist FROM item WHERE id = ?",
                (self.item,),
            )
            .unwrap()
            .unwrap()
    }

    fn module_balance(&self, module: u64) -> (Option<String>, Option<String>) {
        self.db
            .conn()
            .exec_first(
                "SELECT CAST(balance AS CHAR), balance_currency FROM processingmodule WHERE id = ?",
                (module,),
            )
            .unwrap()
            .unwrap()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn assert_password_not_logged(&self) {
        let log = self.mgr.module_log();
        assert!(
            !log.contains(PASSWORD),
            "the upstream password is in the log"
        );
        assert!(
            !self.mgr.journal_text().contains(PASSWORD),
            "the upstream password was passed to mgrctl"
        );
    }
}

fn features(w: &World) -> Vec<String> {
    let (code, out, _) = w.run(&["--command", "features"]);
    assert_eq!(code, 0, "{out}");
    out.split("<feature name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// setparam

#[test]
fn setparam_finishes_with_postsetparam_and_moves_no_money() {
    let w = World::new();
    assert!(features(&w).contains(&"setparam".to_string()));
    let (ro, code, out) = w.operation("setparam");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.mgr.mgrctl_count("service.postsetparam"), 1);
    assert!(
        w.db.running_operation(ro).is_none(),
        "postsetparam finishes the operation"
    );
    assert!(
        w.upstream_funcs().is_empty(),
        "setparam calls nothing upstream: {:?}",
        w.upstream_funcs()
    );
    assert_eq!(w.up.account(USER).balance.to_string(), "1000.00");
    assert_eq!(w.item_pricelists().1, None);
    w.assert_password_not_logged();
}

#[test]
fn a_change_of_tariff_is_refused_and_rolled_back() {
    let w = World::new();
    let (old_tariff, _) = w.item_pricelists();
    let new_tariff = w.db.seed_certificate_tariff("ssl_3033");
    w.db.conn()
        .exec_drop(
            "UPDATE item SET pricelist = ?, lastpricelist = ? WHERE id = ?",
            (new_tariff, old_tariff, w.item),
        )
        .unwrap();
    let (ro, code, out) = w.operation("setparam");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("<error type=\"value\""), "{out}");
    assert!(out.contains("cannot change its tariff"), "{out}");
    assert!(out.contains("order a new service"), "{out}");
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(w.mgr.mgrctl_count("service.changepricelist.rollback"), 1);
    assert_eq!(w.mgr.mgrctl_count("service.postsetparam"), 0);
    // The stand-in applied the rollback as BILLmanager does.
    assert_eq!(w.item_pricelists(), (old_tariff, None));
    let state = w.db.running_operation(ro).expect("the operation stays");
    assert!(
        state
            .errorxml
            .as_deref()
            .is_some_and(|x| x.contains("cannot change its tariff")),
        "{state:?}"
    );
    assert!(w.upstream_funcs().is_empty(), "{:?}", w.upstream_funcs());
    // BILLmanager's rerun finds nothing pending and finishes.
    w.db.bump_trycount(ro);
    let (item, ro_text) = (w.item.to_string(), ro.to_string());
    let (code, out, _) = w.run(&[
        "--command",
        "setparam",
        "--item",
        &item,
        "--runningoperation",
        &ro_text,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(w.db.running_operation(ro).is_none());
    assert_eq!(w.mgr.mgrctl_count("service.changepricelist.rollback"), 1);
}

#[test]
fn mgrctl_stand_in_rollback_needs_a_pending_change() {
    let w = World::new();
    let item = w.item.to_string();
    let (code, out, err) = w.mgr.run_mgrctl(&[
        "-m",
        "billmgr",
        "service.changepricelist.rollback",
        &format!("elid={item}"),
        "sok=ok",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("no pending change of tariff"),
        "{out}{err}"
    );
}

// ---------------------------------------------------------------------------
// getbalance

#[test]
fn getbalance_reports_the_balance_of_every_active_module() {
    let w = World::new();
    assert!(features(&w).contains(&"getbalance".to_string()));
    // A second pmsslreseller module on the same upstream, an inactive one and
    // one of another type: only the active pmsslreseller ones are asked.
    let second = w.db.seed_module(&w.up.url(), USER, PASSWORD);
    let inactive = w.db.seed_module(&w.up.url(), USER, PASSWORD);
    let other: u64 = {
        let mut c = w.db.conn();
        c.exec_drop(
            "UPDATE processingmodule SET active = 'off' WHERE id = ?",
            (inactive,),
        )
        .unwrap();
        c.exec_drop(
            "INSERT INTO processingmodule (module, name) VALUES ('pmother', 'Other')",
            (),
        )
        .unwrap();
        c.last_insert_id()
    };
    let (code, out, _) = w.run(&["--command", "getbalance"]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.mgr.mgrctl_count("processing.savebalance"), 2);
    for m in [w.module, second] {
        assert_eq!(
            w.module_balance(m),
            (Some("1000.0000".into()), Some("EUR".into()))
        );
    }
    assert_eq!(w.module_balance(inactive), (None, None));
    assert_eq!(w.module_balance(other), (None, None));
    assert_eq!(w.upstream_calls("whoami").len(), 2);
    // The inferred parameter names, in one place.
    let saves: Vec<_> = w
        .mgr
        .journal()
        .into_iter()
        .filter(|e| e["func"] == "processing.savebalance")
        .collect();
    let p = &saves[0]["params"];
    assert_eq!(p["processingmodule"], w.module.to_string(), "{p}");
    assert_eq!(p["balance"], "1000.00", "{p}");
    assert_eq!(p["currency"], "EUR", "{p}");
    w.assert_password_not_logged();
}

#[test]
fn getbalance_of_one_module_follows_the_upstream_and_refuses_other_modules() {
    let w = World::new();
    let module = w.module.to_string();
    let mut account = support::sim::SimAccount::new(USER, PASSWORD, "12.34", "EUR");
    account.limit = "0.00".into();
    w.up.set_account(&account);
    let (code, out, _) = w.run(&["--command", "getbalance", "--module", &module]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.module_balance(w.module).0.as_deref(), Some("12.3400"));
    let other: u64 = {
        let mut c = w.db.conn();
        c.exec_drop(
            "INSERT INTO processingmodule (module, name) VALUES ('pmother', 'Other')",
            (),
        )
        .unwrap();
        c.last_insert_id()
    };
    let (code, out, _) = w.run(&["--command", "getbalance", "--module", &other.to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("type=\"wrong_module\""), "{out}");
    assert!(out.contains("not a pmsslreseller module"), "{out}");
}

#[test]
fn getbalance_with_a_wrong_password_is_an_error_and_saves_nothing() {
    let w = World::new();
    let bad = w.db.seed_module(&w.up.url(), USER, "not-the-password");
    let (code, out, _) = w.run(&["--command", "getbalance", "--module", &bad.to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("<error"), "{out}");
    assert_eq!(w.mgr.mgrctl_count("processing.savebalance"), 0);
    // Without --module the good module is still reported; the run fails.
    let (code, out, _) = w.run(&["--command", "getbalance"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("processing module {bad}")), "{out}");
    assert_eq!(w.mgr.mgrctl_count("processing.savebalance"), 1);
    assert_eq!(w.module_balance(bad), (None, None));
}

#[test]
fn admin_balance_shows_the_same_figure_and_reports_nothing() {
    let w = World::new();
    let (code, out, err) = w.run(&["balance"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("module {} (Upstream SSL): 1000.00 EUR", w.module)),
        "{out}"
    );
    let (code, out, _) = w.run(&["balance", "--module", &w.module.to_string()]);
    assert_eq!(code, 0);
    assert!(out.contains("1000.00 EUR"), "{out}");
    assert_eq!(w.mgr.mgrctl_count("processing.savebalance"), 0);
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
}

#[test]
fn check_connection_still_shows_the_balance() {
    let w = World::new();
    let input = format!(
        "<doc><processingmodule><url>{}</url><username>{USER}</username><password>{PASSWORD}</password></processingmodule></doc>",
        w.up.url()
    );
    let (code, out, _) = run_module(&w.mgr, &["--command", "check_connection"], Some(&input));
    assert_eq!(code, 0, "{out}");
    assert!(
        w.mgr.module_log().contains("balance 1000.00 EUR"),
        "{}",
        w.mgr.module_log()
    );
}

// ---------------------------------------------------------------------------
// One open_module: the same refusal everywhere

#[test]
fn a_module_of_another_type_is_named_as_such_by_sync() {
    let w = World::new();
    w.db.conn()
        .exec_drop(
            "UPDATE processingmodule SET module = 'pmother' WHERE id = ?",
            (w.module,),
        )
        .unwrap();
    let (code, _, err) = w.run(&["sync", "--module", &w.module.to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a pmsslreseller module"), "{err}");
    assert!(!err.contains("setting"), "{err}");
    let (_, code, out) = w.operation("sync_item");
    assert_eq!(code, 1);
    assert!(out.contains("not a pmsslreseller module"), "{out}");
}

// ---------------------------------------------------------------------------
// Order answers, status codes, order function, auto-renewal

fn upstream_client(w: &World) -> pmsslreseller::upstream::Client {
    let conn = pmsslreseller::upstream::Connection {
        url: w.up.url(),
        username: USER.into(),
        password: pmsslreseller::secret::Secret::new(PASSWORD),
    };
    pmsslreseller::upstream::Client::new(&conn, &Default::default()).unwrap()
}

impl World {
    fn rerun(&self, command: &str, ro: u64) -> (i32, String) {
        self.db.bump_trycount(ro);
        let (item, ro_text) = (self.item.to_string(), ro.to_string());
        let (code, out, _) = self.run(&[
            "--command",
            command,
            "--item",
            &item,
            "--runningoperation",
            &ro_text,
        ]);
        (code, out)
    }

    fn upstream_id(&self) -> u64 {
        self.param("pmss_upstream_id")
            .expect("upstream id saved")
            .parse()
            .expect("numeric upstream id")
    }

    /// Successful order requests the simulator carried out.
    fn orders(&self, func: &str) -> Vec<JournalEntry> {
        self.upstream_calls(func)
            .into_iter()
            .filter(|e| e.outcome == "ok")
            .collect()
    }

    /// Open, issue upstream, sync: an issued certificate; its upstream id.
    fn issued(&self) -> u64 {
        let (_, code, out) = self.operation("open");
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        let id = self.upstream_id();
        self.up.issue(Some(id));
        let item = self.item.to_string();
        let (code, out, _) = self.run(&["--command", "sync_item", "--item", &item]);
        assert_eq!(code, 0, "sync_item: {out}");
        assert_eq!(self.param("service_status").as_deref(), Some("5"));
        id
    }
}

#[test]
fn an_order_answered_with_item_id_is_taken() {
    let w = World::with(&["--knob", "order_answer=item.id"], "");
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let orders = w.orders("certificate.order.param");
    assert_eq!(orders.len(), 1);
    let up = w.up.certificates();
    let ids: Vec<u64> = up
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_u64())
        .collect();
    assert_eq!(ids, vec![w.upstream_id()]);
    assert!(w.db.running_operation(ro).is_none());
}

#[test]
fn an_order_answered_with_id_0_is_looked_up_not_ordered_again() {
    let w = World::with(
        &["--knob", "order_answer=zero"],
        "[lifecycle]\nsettle_secs = 10\n",
    );
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("upstream_outcome_unknown"), "{out}");
    assert_eq!(
        w.param("pmss_upstream_id"),
        None,
        "0 is never saved as the id"
    );
    let (code, out) = w.rerun("open", ro);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(
        w.orders("certificate.order.param").len(),
        1,
        "one order, adopted"
    );
    let up = w.up.certificates();
    let real = up.as_array().unwrap()[0]["id"].as_u64().unwrap();
    assert!(real > 0);
    assert_eq!(w.upstream_id(), real);
}

#[test]
fn a_numeric_status_column_is_read_when_item_status_is_a_label() {
    // An issued certificate goes back into work upstream (a reissue made
    // there). The list shows it only as status 5 with the label "In
    // progress": the bulk sync must read it.
    let w = World::with(
        &[
            "--knob",
            "status_column=on",
            "--knob",
            "item_status_label=on",
        ],
        "",
    );
    let id = w.issued();
    upstream_client(&w)
        .certificate_reissue(&pmsslreseller::upstream::Reissue {
            id,
            kind: pmsslreseller::upstream::ReissueKind::OldRequest,
            approver_method: None,
            approver_emails: vec![],
        })
        .unwrap();
    let rows = upstream_client(&w).certificate_list().unwrap();
    assert_eq!(rows[0].item_status.as_deref(), Some("In progress"));
    assert_eq!(
        rows[0].status,
        Some(pmsslreseller::vocab::ItemStatus::Processing)
    );
    let (code, out, err) = w.run(&["sync", "--module", &w.module.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 read upstream, 1 updated"), "{out}");
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
}

#[test]
fn the_v2_order_function_is_a_setting_and_unknown_function_names_it() {
    let w = World::with(&["--knob", "order_func=v2"], "");
    let (ro, code, out) = w.operation("open");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("function = &quot;v2&quot;") || out.contains("function = \"v2\""),
        "{out}"
    );
    assert!(out.contains("[order]"), "{out}");
    assert_eq!(w.up.account(USER).balance.to_string(), "1000.00");
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{CONFIG}[order]\nfunction = \"v2\"\n"),
    )
    .unwrap();
    let (code, out) = w.rerun("open", ro);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let orders = w.orders("v2.certificate.order.param");
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0]
            .params
            .get("force_use_new_cart")
            .map(String::as_str),
        Some("on")
    );
    assert!(w.upstream_id() > 0);
}

#[test]
fn orders_carry_autoprolong_off_so_the_upstream_never_renews_on_its_own() {
    let w = World::new();
    let id = w.issued();
    let order = &w.orders("certificate.order.param")[0];
    assert_eq!(
        order.params.get("autoprolong").map(String::as_str),
        Some("off")
    );
    let balance = w.up.account(USER).balance;
    // Past the expiry: an upstream with auto-renewal on would renew now.
    w.up.advance_clock(400 * 86400);
    let _ = upstream_client(&w).whoami().unwrap();
    assert_eq!(w.up.account(USER).balance, balance);
    assert_eq!(w.up.certificate(id).unwrap()["auto_renewals"], 0);
}

#[test]
fn a_renewal_no_local_prolong_asked_for_is_logged_with_its_amount() {
    let w = World::with(&[], "[order]\nautoprolong_off = false\n");
    let id = w.issued();
    let order = &w.orders("certificate.order.param")[0];
    assert_eq!(order.params.get("autoprolong"), None);
    let before = w.db.item_dates(w.item).0.unwrap();
    w.up.advance_clock(400 * 86400);
    let item = w.up.certificate(id).unwrap();
    assert!(item["auto_renewals"].as_u64().unwrap() >= 1, "{item}");
    let (code, out, _) = w.run(&["--command", "sync_item", "--item", &w.item.to_string()]);
    assert_eq!(code, 0, "{out}");
    // The local paid term moves only with a local prolong (the next
    // one adopts this renewal instead of paying again); the upstream's own
    // expiry is recorded beside it.
    let after = w.db.item_dates(w.item).0.unwrap();
    assert_eq!(after, before, "the local paid term did not follow");
    let seen = w.db.item_param(w.item, "pmss_upstream_expiry").unwrap();
    assert!(seen > before, "upstream expiry recorded: {seen}");
    let log = w.mgr.module_log();
    let line = log
        .lines()
        .find(|l| l.contains("renewed certificate") && l.contains("on its own"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(line.contains("WARN") || line.contains("warn"), "{line}");
    assert!(line.contains("EUR"), "the amount: {line}");
}

#[test]
fn a_stored_upstream_id_0_is_refused_not_used() {
    let w = World::new();
    w.db.conn()
        .exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_upstream_id', '0')",
            (w.item,),
        )
        .unwrap();
    let (_, code, out) = w.operation("sync_item");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unreadable upstream id &apos;0&apos;"),
        "{out}"
    );
    assert!(w.upstream_funcs().is_empty(), "{:?}", w.upstream_funcs());
    let (code, out, _) = w.run(&["sync", "--module", &w.module.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 not ordered yet"), "{out}");
}
