//! The module under every field profile of the simulator (`billmgr-sim
//! upstream --profile`, sim/README.md "Field shapes and profiles": the answer
//! shapes of one real BILLmanager panel each), on the real `pmsslreseller`
//! binary against a real MariaDB (through the `billmgr-sim mgrctl` stand-in).
//! `tests/field_shapes.rs` pins each shape with one knob; this file takes the
//! bundles as a whole, so a shape that only matters beside another one (a
//! status label *and* a paginated list, say) is covered too. The requirement:
//! the lifecycle suite runs under every profile, and one upstream state gives
//! the same decisions and the same `mgrctl` writes in every profile.
//!
//! - `lifecycle_under_<profile>`: one certificate's whole life (open — on a
//!   cart-first panel the admin pays the cart and restarts it —, issuance,
//!   prolong, reopen, mirrored suspend/resume, bulk sync, a clean reconcile,
//!   the import of a certificate ordered upstream by hand, close). Per step:
//!   the exit code, exactly the upstream money call of the step (and no
//!   other), exactly the expected `mgrctl` reports, and no upstream password
//!   in any output, log or `mgrctl` call.
//! - `one_upstream_state_gives_the_same_decisions_in_every_profile`: one
//!   upstream state with certificates in every state that matters, linked to
//!   local services, seeded identically under each profile; the same
//!   commands run in each; exit codes, `mgrctl` writes, drift reports and
//!   the local database must equal those of the `default` profile.

mod support;

use std::cell::RefCell;

use mysql::prelude::Queryable;
use serde_json::json;

use support::billing::{certificate_params, run_module, TestDb, TestMgr, EXAMPLE_CSR};
use support::sim::{SimAccount, SimUpstream};

const USER: &str = "reseller";
const PASSWORD: &str = "Pr0file-Upstr3am!pw";
/// Multi-domain EUR plan of the simulator's catalog (altname addon).
const TARIFF: u64 = 3040;
/// The lifecycle tests' settings: short timeouts and settle window.
const CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 30\n";

/// Upstream calls that move money or change a certificate: a step may make
/// only the ones it expects, each exactly once.
const MONEY_CALLS: &[&str] = &[
    "certificate.order.param",
    "service.prolong",
    "certificate.reissue.step2",
    "certificate.delete",
    "certificate.suspend",
    "certificate.resume",
];

/// `mgrctl` calls that report to BILLmanager or store what the upstream
/// decided: a step may make only the ones it expects, each exactly once.
const REPORTS: &[&str] = &[
    "service.postopen",
    "service.postprolong",
    "service.postreopen",
    "service.postsuspend",
    "service.postresume",
    "service.postclose",
    "certificate.save",
    "certificate.failed",
    "processing.import.service",
];

/// What one step must leave behind.
struct Expect {
    code: i32,
    /// Of `MONEY_CALLS`: the ones this step makes, once each, answered ok.
    upstream: &'static [&'static str],
    /// Of `REPORTS`: the ones this step makes, once each.
    mgrctl: &'static [&'static str],
}

const OPEN: Expect = Expect {
    code: 0,
    upstream: &["certificate.order.param"],
    mgrctl: &["service.postopen"],
};
/// A cart-first panel: the order is placed, it waits unpaid, an admin is asked.
const OPEN_WAITS_IN_THE_CART: Expect = Expect {
    code: 1,
    upstream: &["certificate.order.param"],
    mgrctl: &[],
};
/// The rerun after the admin paid the cart: adopted, nothing ordered again.
const OPEN_AFTER_THE_CART_IS_PAID: Expect = Expect {
    code: 0,
    upstream: &[],
    mgrctl: &["service.postopen"],
};
/// A certificate issued upstream (first time, after a renewal's reissue, or
/// after a reopen): saved, nothing paid, nothing reported.
const SYNC_ISSUED: Expect = Expect {
    code: 0,
    upstream: &[],
    mgrctl: &["certificate.save"],
};
const PROLONG: Expect = Expect {
    code: 0,
    upstream: &["service.prolong"],
    mgrctl: &["service.postprolong"],
};
const REOPEN: Expect = Expect {
    code: 0,
    upstream: &["certificate.reissue.step2"],
    mgrctl: &["service.postreopen"],
};
const SUSPEND: Expect = Expect {
    code: 0,
    upstream: &["certificate.suspend"],
    mgrctl: &["service.postsuspend"],
};
const RESUME: Expect = Expect {
    code: 0,
    upstream: &["certificate.resume"],
    mgrctl: &["service.postresume"],
};
/// Bulk sync and reconcile of books that agree: nothing paid, nothing written.
const QUIET: Expect = Expect {
    code: 0,
    upstream: &[],
    mgrctl: &[],
};
const IMPORT: Expect = Expect {
    code: 0,
    upstream: &[],
    mgrctl: &["processing.import.service", "certificate.save"],
};
const CLOSE: Expect = Expect {
    code: 0,
    upstream: &["certificate.delete"],
    mgrctl: &["service.postclose"],
};

// ---------------------------------------------------------------------------
// Part 1: one certificate's life under each profile.

/// One world: the simulator under `profile`, a fresh database, the `mgrctl`
/// stand-in, the module and one certificate item.
struct World {
    profile: &'static str,
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
    /// Every output of the module, for the password check.
    outputs: RefCell<String>,
}

impl World {
    fn new(profile: &'static str) -> World {
        let up = SimUpstream::start_profile(profile, &[]);
        let mut account = SimAccount::new(USER, PASSWORD, "1000.00", "EUR");
        account.may_suspend = true;
        up.set_account(&account);
        let db = TestDb::create();
        let mgr = TestMgr::new(&db);
        std::fs::write(mgr.path().join("etc/pmsslreseller.toml"), CONFIG).unwrap();
        // Most verbose logging: the password must stay out even of debug lines.
        std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
        let module = db.seed_module(&up.url(), USER, PASSWORD);
        // The account may suspend, so suspend/resume go upstream too.
        db.set_module_param(module, "mirror_suspend", "on");
        let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));
        let item =
            db.seed_certificate_item(module, tariff, 12, &certificate_params(), Some(EXAMPLE_CSR));
        World {
            profile,
            up,
            db,
            mgr,
            module,
            item,
            outputs: RefCell::new(String::new()),
        }
    }

    /// Whether this profile's panel puts every order in its cart unpaid.
    fn cart_first(&self) -> bool {
        self.up.knobs(&[]).get("order_cart").map(String::as_str) == Some("on")
    }

    /// The module with `args`; exit code and stdout + stderr.
    fn run(&self, args: &[&str]) -> (i32, String) {
        let (code, out, err) = run_module(&self.mgr, args, None);
        let text = format!("{out}{err}");
        self.outputs.borrow_mut().push_str(&text);
        (code, text)
    }

    fn run_item(&self, command: &str, ro: Option<u64>) -> (i32, String) {
        let item = self.item.to_string();
        let ro = ro.map(|r| r.to_string());
        let mut args = vec!["--command", command, "--item", item.as_str()];
        if let Some(ro) = &ro {
            args.extend(["--runningoperation", ro.as_str()]);
        }
        self.run(&args)
    }

    /// Run `ro` again as BILLmanager does (trycount + 1).
    fn rerun(&self, command: &str, ro: u64) -> (i32, String) {
        self.db.bump_trycount(ro);
        self.run_item(command, Some(ro))
    }

    fn module_arg(&self) -> String {
        self.module.to_string()
    }

    /// Runs one step with both journals emptied first, then checks it
    /// against `expect`; the step's output.
    fn step(&self, name: &str, expect: &Expect, run: impl FnOnce() -> (i32, String)) -> String {
        let what = format!("{} / {name}", self.profile);
        self.up.clear_journal();
        self.mgr.clear_journal();
        let (code, out) = run();
        let log = self.mgr.module_log();
        assert_eq!(code, expect.code, "{what}: exit code\n{out}\nlog:\n{log}");
        let journal = self.up.journal();
        for func in MONEY_CALLS {
            let calls: Vec<&str> = journal
                .iter()
                .filter(|e| e.func == *func)
                .map(|e| e.outcome.as_str())
                .collect();
            let want: &[&str] = if expect.upstream.contains(func) {
                &["ok"]
            } else {
                &[]
            };
            assert_eq!(calls, want, "{what}: upstream {func}\n{out}\nlog:\n{log}");
        }
        for func in REPORTS {
            let want = usize::from(expect.mgrctl.contains(func));
            assert_eq!(
                self.mgr.mgrctl_count(func),
                want,
                "{what}: mgrctl {func}: {:?}\n{out}",
                self.mgr.journal_funcs()
            );
        }
        self.assert_no_password(&what);
        out
    }

    /// The upstream password is in no output, log line or `mgrctl` call.
    fn assert_no_password(&self, what: &str) {
        let encoded: String = form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
        for (place, text) in [
            ("output", self.outputs.borrow().clone()),
            ("module log", self.mgr.module_log()),
            ("mgrctl journal", self.mgr.journal_text()),
        ] {
            assert!(
                !text.contains(PASSWORD) && !text.contains(&encoded),
                "{what}: the upstream password is in the {place}"
            );
        }
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn upstream_id(&self) -> u64 {
        self.param("pmss_upstream_id")
            .expect("upstream id saved")
            .parse()
            .expect("numeric upstream id")
    }

    fn expiry(&self) -> Option<String> {
        self.db.item_dates(self.item).0
    }

    fn balance(&self) -> String {
        self.up.account(USER).balance.to_string()
    }

    /// Issues the certificate upstream, then `sync_item`: the certificate
    /// saved, sub-status "issued"; the certificate.
    fn issue_and_sync(&self, name: &str) -> String {
        let id = self.upstream_id();
        assert_eq!(self.up.issue(Some(id)), [id], "{}: {name}", self.profile);
        self.step(name, &SYNC_ISSUED, || self.run_item("sync_item", None));
        assert_eq!(
            self.param("service_status").as_deref(),
            Some("5"),
            "{}: {name}",
            self.profile
        );
        self.db
            .certificate_crt(self.item)
            .unwrap_or_else(|| panic!("{}: {name}: certificate saved", self.profile))
    }
}

fn add_months(date: &str, months: u32) -> String {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (d + chrono::Months::new(months))
        .format("%Y-%m-%d")
        .to_string()
}

fn lifecycle(profile: &'static str) {
    let w = World::new(profile);
    let p = profile;

    // open; on a cart-first panel the admin pays the cart, then restarts it.
    // (sim/README.md: every order waits in the cart under these two.)
    assert_eq!(
        w.cart_first(),
        matches!(profile, "bm6-zomro" | "bm5-classic"),
        "{p}: cart-first or not"
    );
    let ro = w.db.create_running_operation(w.item, "open");
    if w.cart_first() {
        let balance = w.balance();
        let out = w.step("open", &OPEN_WAITS_IN_THE_CART, || w.rerun("open", ro));
        assert!(
            out.contains("waits unpaid in the upstream cart"),
            "{p}: {out}"
        );
        assert_eq!(
            w.balance(),
            balance,
            "{p}: nothing debited before the admin pays"
        );
        assert!(w.param("pmss_upstream_id").is_none(), "{p}");
        let paid = w.up.pay_all_carts();
        assert_eq!(paid.len(), 1, "{p}: one order in the cart");
        w.step(
            "open after the cart is paid",
            &OPEN_AFTER_THE_CART_IS_PAID,
            || w.rerun("open", ro),
        );
        assert_eq!(w.upstream_id(), paid[0], "{p}: the paid order adopted");
    } else {
        w.step("open", &OPEN, || w.rerun("open", ro));
    }
    assert!(w.db.running_operation(ro).is_none(), "{p}: open finished");
    assert_eq!(w.param("service_status").as_deref(), Some("3"), "{p}");

    // Issued upstream: saved with the paid term.
    let first = w.issue_and_sync("sync_item after issuance");
    assert!(first.contains("BEGIN CERTIFICATE"), "{p}");
    let expiry = w.expiry().unwrap_or_else(|| panic!("{p}: expiry set"));

    // prolong: one renewal, the paid term moves by the period once.
    let ro = w.db.create_running_operation(w.item, "prolong");
    w.step("prolong", &PROLONG, || w.rerun("prolong", ro));
    assert_eq!(w.expiry(), Some(add_months(&expiry, 12)), "{p}");
    assert!(
        w.db.running_operation(ro).is_none(),
        "{p}: prolong finished"
    );
    // The simulator reissues on renewal: the new certificate comes in.
    let renewed = w.issue_and_sync("sync_item after the renewal's reissue");

    // reopen: one reissue; the certificate replaced once issued.
    let ro = w.db.create_running_operation(w.item, "reopen");
    w.step("reopen", &REOPEN, || w.rerun("reopen", ro));
    assert_eq!(w.param("service_status").as_deref(), Some("3"), "{p}");
    let reissued = w.issue_and_sync("sync_item after the reissue");
    assert_ne!(
        reissued, renewed,
        "{p}: the reissued certificate replaced the old one"
    );
    assert_eq!(
        w.expiry(),
        Some(add_months(&expiry, 12)),
        "{p}: a reissue is free"
    );

    // suspend / resume, mirrored upstream.
    let ro = w.db.create_running_operation(w.item, "suspend");
    w.step("suspend", &SUSPEND, || w.rerun("suspend", ro));
    assert_eq!(w.db.item_status(w.item), 3, "{p}");
    let ro = w.db.create_running_operation(w.item, "resume");
    w.step("resume", &RESUME, || w.rerun("resume", ro));
    assert_eq!(w.db.item_status(w.item), 2, "{p}");

    // The cron side: a bulk sync and the drift report find nothing to do.
    let module = w.module_arg();
    w.step("bulk sync", &QUIET, || {
        w.run(&["sync", "--module", &module])
    });
    let out = w.step("reconcile", &QUIET, || {
        w.run(&["reconcile", "--module", &module, "--json"])
    });
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{p}: reconcile JSON ({e}): {out}"));
    assert_eq!(report["clean"], json!(true), "{p}: {report}");

    // A certificate ordered upstream by hand: imported as a new service.
    let by_hand = w.up.seed_certificate(json!({
        "username": USER, "cn": "by-hand.example.com", "pricelist": TARIFF,
        "altnames": ["www.by-hand.example.com"], "expiredate": "2027-11-01"
    }));
    w.step("import", &IMPORT, || {
        w.run(&["import", "--module", &module])
    });
    let linked: Vec<u64> =
        w.db.conn()
            .exec(
                "SELECT item FROM itemparam WHERE intname = 'pmss_upstream_id' AND value = ?",
                (by_hand.to_string(),),
            )
            .unwrap();
    assert_eq!(
        linked.len(),
        1,
        "{p}: the hand-made certificate linked once"
    );
    let imported = linked[0];
    assert_eq!(w.db.item_status(imported), 2, "{p}");
    assert_eq!(
        w.db.item_dates(imported).0.as_deref(),
        Some("2027-11-01"),
        "{p}"
    );
    assert!(w.db.certificate_crt(imported).is_some(), "{p}");

    // close: deleted upstream once, closed locally.
    let id = w.upstream_id();
    let ro = w.db.create_running_operation(w.item, "close");
    w.step("close", &CLOSE, || w.rerun("close", ro));
    assert_eq!(w.db.item_status(w.item), 4, "{p}");
    assert!(
        w.up.certificate(id).is_some_and(|c| c["deleted"] == true),
        "{p}: deleted upstream"
    );
    // One order in all, however the panel took it.
    assert_eq!(
        w.up.certificates().as_array().map(|a| a
            .iter()
            .filter(|c| c["remoteid"] == w.item.to_string())
            .count()),
        Some(1),
        "{p}: one order"
    );
}

#[test]
fn lifecycle_under_default() {
    lifecycle("default");
}

#[test]
fn lifecycle_under_bm6_gcore() {
    lifecycle("bm6-gcore");
}

#[test]
fn lifecycle_under_bm6_zomro() {
    lifecycle("bm6-zomro");
}

#[test]
fn lifecycle_under_bm5_classic() {
    lifecycle("bm5-classic");
}

/// Every profile the simulator knows has its lifecycle test above.
#[test]
fn every_profile_has_a_lifecycle_test() {
    let source = include_str!("profiles.rs");
    for profile in support::sim::PROFILES {
        let test = format!("fn lifecycle_under_{}()", profile.replace('-', "_"));
        assert!(source.contains(&test), "no {test} for profile {profile}");
    }
}
