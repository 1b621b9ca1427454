//! A paid term that outlives its certificates. The whole life of a
//! 24-month certificate from 2026-12-02, run day by day on the test clock
//! (`PMSSLRESELLER_TEST_NOW` for the module and the mgrctl stand-in, the
//! simulator's clock set to the same day), against a subscription upstream
//! and a per-certificate one; the dry run; a reissue killed at any point;
//! eight processes at once and an unstored intent on the automatic paths.
//!
//! The expected counts follow from SC-081 (200-day certificates until
//! 2027-03-15, then 100 days) and `reissue_before_days = 30`, checked every 5
//! days. The first estimate, "4 certificates", assumed 200 days throughout; with the
//! 100-day limit from 2027-03-15 a 24-month term from 2026-12-02 needs 9:
//! 2026-12-02..2027-06-20, then reissues on 2027-05-21 (100 days each),
//! 07-30, 10-08, 12-17, 2028-02-25, 05-05, 07-14 and 09-22 (the last one
//! capped by the paid term, 2028-12-02).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use mysql::prelude::Queryable;
use rust_decimal::Decimal;
use serde_json::Value;

use support::billing::{certificate_params, run_module_env, TestDb, TestMgr};
use support::sim::SimUpstream;
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Comodo Positive SSL in the simulator's catalogue: 12 months 21 EUR, 24 months 38 EUR.
const TARIFF: u64 = 3033;
const START: &str = "2026-12-02";
const TERM_END: &str = "2028-12-02";
const STEP_DAYS: u64 = 5;
const CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 60\nreissue_before_days = 30\n";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

impl World {
    fn new(term_model: &str) -> World {
        World::with_knobs(term_model, &[])
    }

    /// An upstream of `term_model` with further simulator knobs (`NAME=VALUE`).
    fn with_knobs(term_model: &str, knobs: &[&str]) -> World {
        // A single-name certificate: this tariff sells no SANs.
        let params: Vec<(&str, &str)> = certificate_params()
            .into_iter()
            .filter(|(k, _)| *k != "altname")
            .collect();
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .knobs(&["issue_mode=instant", &format!("term_model={term_model}")])
            .knobs(knobs)
            .config(CONFIG)
            .tariffs(&[TARIFF])
            .item(24, &params)
            .build();
        let (module, item) = (base.module(), base.item());
        let Base { up, db, mgr, .. } = base;
        let w = World {
            up,
            db,
            mgr,
            module,
            item,
        };
        w.set_day(d(START));
        let m = module.to_string();
        let (code, out, err) = w.module(&["catalog", "refresh", "--module", &m], d(START));
        assert_eq!(code, 0, "catalog refresh: {out}{err}");
        w
    }

    /// Both clocks to 10:00 UTC of `day`.
    fn set_day(&self, day: NaiveDate) {
        self.up.set_clock(&format!("{day}T10:00:00Z"));
    }

    fn module(&self, args: &[&str], day: NaiveDate) -> (i32, String, String) {
        let now = format!("{day}T10:00:00Z");
        run_module_env(
            &self.mgr,
            args,
            None,
            &[("PMSSLRESELLER_TEST_NOW", now.as_str())],
        )
    }

    fn open(&self) {
        let ro = self.db.create_running_operation(self.item, "open");
        self.db.bump_trycount(ro);
        let item = self.item.to_string();
        let ro = ro.to_string();
        let (code, out, _) = self.module(
            &[
                "--command",
                "open",
                "--item",
                &item,
                "--runningoperation",
                &ro,
            ],
            d(START),
        );
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        assert!(
            self.db.certificate_crt(self.item).is_some(),
            "issued at once"
        );
    }

    fn sync(&self, day: NaiveDate, dry_run: bool) -> (i32, String) {
        let m = self.module.to_string();
        let mut args = vec!["sync", "--module", m.as_str()];
        if dry_run {
            args.push("--dry-run");
        }
        let (code, out, err) = self.module(&args, day);
        (code, format!("{out}{err}"))
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn expiry(&self) -> Option<String> {
        self.db.item_dates(self.item).0
    }

    fn upstream(&self) -> Value {
        let id: u64 = self.param("pmss_upstream_id").unwrap().parse().unwrap();
        self.up.certificate(id).expect("upstream item")
    }

    fn local_cert_end(&self) -> NaiveDate {
        let crt = self
            .db
            .certificate_crt(self.item)
            .expect("a saved certificate");
        pmsslreseller::x509::facts(&crt)
            .expect("the saved certificate is readable")
            .not_after
    }

    /// Both clocks to 10 days before the saved certificate ends (inside
    /// `reissue_before_days`): the automatic reissue or renewal is due.
    /// Returns (the certificate's end, that day).
    fn ten_days_before_cert_end(&self) -> (NaiveDate, NaiveDate) {
        let cert_end = self.local_cert_end();
        let day = cert_end - Days::new(10);
        self.set_day(day);
        (cert_end, day)
    }

    /// Exactly one paid renewal was sent, and the balance read before it
    /// was debited by exactly its price (24 months, 38 EUR).
    fn assert_one_paid_renewal(&self, balance_before: Decimal) {
        assert_eq!(
            self.calls("service.prolong"),
            1,
            "one renewal\n{}",
            self.mgr.module_log()
        );
        assert_eq!(
            balance_before - self.up.account(USER).balance,
            Decimal::from(38),
            "paid once"
        );
    }

    /// `Fault …` lines for the mgrctl stand-in (faults start counting now).
    fn mgrctl_faults(&self, lines: &[&str]) {
        let _ = std::fs::remove_file(self.mgr.path().join("var/mgrctl-faults.json"));
        self.mgr.write_conf(
            "localhost",
            "root",
            "",
            &support::billing::mysql_socket(),
            lines,
        );
    }

    /// `n` `sync_item` processes for the item started together on `day`;
    /// waits for all of them.
    fn sync_items_at_once(&self, day: NaiveDate, n: usize) {
        let now = format!("{day}T10:00:00Z");
        let children: Vec<_> = (0..n).map(|_| spawn_sync_item(self, &now)).collect();
        for mut c in children {
            c.wait().unwrap();
        }
    }

    /// Reruns of `sync_item`, an hour apart on the test clock (past the
    /// settle window), until the saved certificate ends after `cert_end`.
    fn sync_item_until_replaced(&self, day: NaiveDate, cert_end: NaiveDate) {
        // A call an earlier run gave up on (its 1 s timeout on a loaded
        // machine) is applied first: the reruns' clock is past the settle
        // window at once.
        self.up.wait_idle();
        for hour in 11..=16 {
            let later = format!("{day}T{hour:02}:00:00Z");
            let status = spawn_sync_item(self, &later).wait().unwrap();
            if status.success() && self.local_cert_end() > cert_end {
                return;
            }
        }
        panic!(
            "no new certificate after the reruns\n{}",
            self.mgr.module_log()
        );
    }

    fn calls(&self, func: &str) -> usize {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func == func && e.outcome == "ok")
            .count()
    }

    /// Sync every `STEP_DAYS` from the start to the end of the paid term,
    /// checking on each day that the customer holds a valid certificate and
    /// that the local paid term has not moved.
    fn live_the_term(&self) {
        let end = d(TERM_END);
        let mut day = d(START);
        while day < end {
            day = day + Days::new(STEP_DAYS);
            if day >= end {
                break;
            }
            self.set_day(day);
            let (code, out) = self.sync(day, false);
            assert_eq!(code, 0, "sync on {day}: {out}\n{}", self.mgr.module_log());
            assert!(
                self.local_cert_end() >= day,
                "on {day} the customer's certificate ended {}",
                self.local_cert_end()
            );
            assert_eq!(
                self.expiry().as_deref(),
                Some(TERM_END),
                "on {day}: the local paid term moves only on prolong"
            );
            assert_eq!(self.db.item_status(self.item), 2, "active on {day}");
        }
    }
}

#[test]
fn a_24_month_term_on_a_subscription_upstream_is_kept_valid_by_free_reissues() {
    let w = World::new("subscription");
    w.open();
    assert_eq!(
        w.expiry().as_deref(),
        Some(TERM_END),
        "open date + 24 months"
    );
    let balance_after_order = w.up.account(USER).balance;
    // The first certificate: 200 days (SC-081), shown on the item.
    assert_eq!(w.local_cert_end(), d("2027-06-20"));
    let (code, out) = w.sync(d(START), false);
    assert_eq!(code, 0, "{out}");
    // Validity and serial in one param: one write per certificate.
    let shown = w.param("pmss_certificate").unwrap();
    assert!(
        shown.starts_with(&format!("from {START} until 2027-06-20, serial ")),
        "{shown}"
    );
    assert!(shown.len() > "from 2026-12-02 until 2027-06-20, serial ".len());
    let next = w.param("pmss_next_action").unwrap();
    assert!(next.starts_with("free reissue on 2027-05-21"), "{next}");
    assert!(
        next.contains(
            "; fresh domain validation needed: the last one (2026-12-02) is older than the 100-day"
        ),
        "the validation note is part of the next action: {next}"
    );

    w.live_the_term();

    let up = w.upstream();
    assert_eq!(up["certs_issued"], 9, "certificates in the term: {up}");
    assert_eq!(w.calls("certificate.reissue.step2"), 8);
    assert_eq!(w.calls("certificate.order.param"), 1);
    assert_eq!(w.calls("service.prolong"), 0, "no payment beyond the order");
    assert_eq!(w.up.account(USER).balance, balance_after_order);
    assert_eq!(
        w.local_cert_end(),
        d(TERM_END),
        "the last one ends with the term"
    );
    assert!(w
        .param("pmss_next_action")
        .unwrap()
        .starts_with("none: the certificate lasts the paid term"));
    // The local and upstream certificates agree at the end.
    assert_eq!(up["cert_not_after"], TERM_END);
    let log = w.mgr.module_log();
    assert_eq!(
        log.matches("automatic free reissue of upstream").count(),
        8,
        "{log}"
    );
    assert!(!log.contains(PASSWORD));
}

#[test]
fn a_24_month_term_on_a_per_certificate_upstream_renews_exactly_when_needed() {
    let w = World::new("per_certificate");
    w.open();
    assert_eq!(w.expiry().as_deref(), Some(TERM_END));
    let balance_after_order = w.up.account(USER).balance;
    // The upstream's own term is one 200-day certificate; the local paid term is not.
    assert_eq!(w.upstream()["expiredate"], "2027-06-20");

    w.live_the_term();

    // Renewals on 2027-05-21, 08-29, 12-07, 2028-03-16, 06-24 and 10-02 (each carrying the
    // remaining days over, 100 days more), free reissues up to each renewed expiry in between.
    assert_eq!(w.calls("service.prolong"), 6, "paid renewals");
    assert_eq!(w.calls("certificate.reissue.step2"), 5, "free reissues");
    assert_eq!(w.upstream()["certs_issued"], 12);
    let balance = w.up.account(USER).balance;
    assert_eq!(
        balance_after_order - balance,
        Decimal::from(6 * 38),
        "six renewals of 38.00 EUR"
    );
    let log = w.mgr.module_log();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("paid upstream renewal of certificate"))
        .collect();
    assert_eq!(warned.len(), 6, "{log}");
    assert!(
        !log.contains("on its own"),
        "the module's own renewals are not reported as the upstream's: {log}"
    );
    // The drift report agrees: nothing to reconcile after the whole term.
    let m = w.module.to_string();
    let (code, out, err) = w.module(&["reconcile", "--module", &m], d(TERM_END) - Days::new(1));
    assert_eq!(code, 0, "reconcile: {out}{err}");
    for line in warned {
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains("costing 38 EUR") || line.contains("costing 38.00"),
            "{line}"
        );
    }
    assert_eq!(w.expiry().as_deref(), Some(TERM_END));

    // `pricing preview` on the day the term started counts the same purchases.
    let m = w.module.to_string();
    let (code, out, err) = w.module(&["pricing", "preview", "--module", &m, "--json"], d(START));
    assert_eq!(code, 0, "{out}{err}");
    let preview: Value = serde_json::from_str(&out).unwrap();
    let term = |model: &str| {
        preview["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["template"] == format!("ssl_{TARIFF}")
                    && r["term"]["months"] == 24
                    && r["term"]["model"] == model
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {model} term in {out}"))
    };
    let per = term("per_certificate");
    assert_eq!(
        per["term"]["purchases"].as_u64(),
        Some(1 + w.calls("service.prolong") as u64),
        "the order and the renewals the term really needed: {per}"
    );
    assert_eq!(per["term"]["cost"], "266.0000", "7 × 38.0000 EUR");
    assert_eq!(
        per["term"]["loses_money"], true,
        "sold at 38 EUR, costs 266"
    );
    assert_eq!(term("subscription")["term"]["purchases"], 1);
    let (_, table, _) = w.module(&["pricing", "preview", "--module", &m], d(START));
    assert!(table.contains("LOSES MONEY"), "{table}");
    assert!(table.contains("lose money"), "{table}");
}

/// An upstream whose certificate view shows no readable expiry (no
/// `<expiredate>` at all, or one that is not a date) gives no evidence that
/// its own term ends with the certificate. At the due date neither the cron
/// `sync` nor `sync_item` buys a renewal (nor reissues: which one is due is
/// not known); each look warns once, and the service form and the dry run
/// say why.
#[test]
fn an_unreadable_upstream_expiry_buys_no_renewal() {
    for shape in ["missing", "garbage"] {
        let w = World::with_knobs("subscription", &[&format!("expiredate_shape={shape}")]);
        w.open();
        let balance = w.up.account(USER).balance;
        let (cert_end, day) = w.ten_days_before_cert_end();
        let said = "the upstream's own expiry cannot be read";

        let (code, out) = w.sync(day, true);
        assert_eq!(code, 0, "{shape}: {out}");
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("item {} ", w.item)))
            .unwrap_or_else(|| panic!("{shape}: the dry run names the item: {out}"));
        assert!(line.contains(said), "{shape}: {line}");
        assert!(!out.contains("would do paid"), "{shape}: {out}");

        let (code, out) = w.sync(day, false);
        assert_eq!(code, 0, "{shape}: {out}\n{}", w.mgr.module_log());
        let item = w.item.to_string();
        let (code, out, err) = w.module(&["--command", "sync_item", "--item", &item], day);
        assert_eq!(code, 0, "{shape}: {out}{err}\n{}", w.mgr.module_log());

        assert_eq!(w.calls("service.prolong"), 0, "{shape}: no renewal bought");
        assert_eq!(
            w.up.account(USER).balance,
            balance,
            "{shape}: no money moved"
        );
        assert_eq!(w.calls("certificate.reissue.step2"), 0, "{shape}");
        assert_eq!(w.local_cert_end(), cert_end, "{shape}");
        let next = w.param("pmss_next_action").unwrap();
        assert!(
            next.starts_with("none: ") && next.contains(said),
            "{shape}: {next}"
        );
        let log = w.mgr.module_log();
        let warned = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains(said))
            .count();
        assert_eq!(
            warned, 3,
            "{shape}: one warn line per look (dry run, sync, sync_item)\n{log}"
        );
    }
}

/// An item synced before the form showed one param per certificate shows
/// the certificate in three params and the validation note in a fourth. The next bulk sync reads it (the form it
/// shows is not the current one), writes the current form once — the
/// certificate and the next action, two `service.saveparam` — and after that
/// leaves it alone like any unchanged item.
#[test]
fn an_item_showing_the_older_form_is_rewritten_once() {
    let w = World::new("subscription");
    w.open();
    let (code, out) = w.sync(d(START), false);
    assert_eq!(code, 0, "{out}");
    let shown = w.param("pmss_certificate").unwrap();
    let next = w.param("pmss_next_action").unwrap();
    // As the module of the older form left it.
    let (plan, note) = next.split_once("; ").unwrap();
    let serial = shown.rsplit_once("serial ").unwrap().1.to_string();
    w.db.conn()
        .exec_drop(
            "DELETE FROM itemparam WHERE item = ? AND intname = 'pmss_certificate'",
            (w.item,),
        )
        .unwrap();
    for (name, value) in [
        ("pmss_cert_not_before", START),
        ("pmss_cert_not_after", "2027-06-20"),
        ("pmss_cert_serial", serial.as_str()),
        ("pmss_validation", note),
        ("pmss_next_action", plan),
    ] {
        w.db.conn()
            .exec_drop(
                "REPLACE INTO itemparam (item, intname, value) VALUES (?, ?, ?)",
                (w.item, name, value),
            )
            .unwrap();
    }
    w.mgr.clear_journal();
    w.up.clear_journal();
    let day = d("2026-12-07");
    w.set_day(day);
    let (code, out) = w.sync(day, false);
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.calls("certificate.edit"), 1, "read once to rewrite it");
    let writes: Vec<String> = w
        .mgr
        .journal()
        .iter()
        .filter(|e| e["func"] != "paramlist")
        .map(|e| {
            format!(
                "{}:{}",
                e["func"].as_str().unwrap(),
                e["params"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        writes,
        [
            "service.saveparam:pmss_certificate",
            "service.saveparam:pmss_next_action"
        ]
    );
    assert_eq!(w.param("pmss_certificate"), Some(shown));
    assert_eq!(w.param("pmss_next_action"), Some(next));
    // From now on an unchanged item: no read, no write.
    w.mgr.clear_journal();
    w.up.clear_journal();
    let day = d("2026-12-12");
    w.set_day(day);
    let (code, out) = w.sync(day, false);
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.calls("certificate.edit"), 0);
    assert_eq!(w.mgr.journal_funcs(), ["paramlist"]);
}

#[test]
fn dry_run_lists_the_reissue_and_changes_nothing() {
    let w = World::new("subscription");
    w.open();
    let (code, out) = w.sync(d(START), false);
    assert_eq!(code, 0, "{out}");
    let day = d("2027-05-25");
    w.set_day(day);
    w.mgr.clear_journal();
    w.up.clear_journal();
    let params_before = w.db.item_param(w.item, "pmss_next_action");
    let (code, out) = w.sync(day, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("item {}", w.item)), "{out}");
    assert!(out.contains("would do free reissue now"), "{out}");
    assert!(out.contains("dry run, nothing changed"), "{out}");
    for f in w.mgr.journal_funcs() {
        assert!(
            !f.starts_with("service.") && !f.starts_with("certificate."),
            "dry run wrote {f}"
        );
    }
    assert_eq!(w.calls("certificate.reissue.step2"), 0);
    assert!(
        w.up.journal()
            .iter()
            .all(|e| e.func == "certificate" || e.func == "certificate.edit"),
        "only reads upstream: {:?}",
        w.up.journal()
            .iter()
            .map(|e| e.func.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(w.db.item_param(w.item, "pmss_next_action"), params_before);
    // The real run then reissues once.
    let (code, out) = w.sync(day, false);
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.calls("certificate.reissue.step2"), 1);
}

/// The module with `args` and the test clock at `now`, as a child process
/// that can be killed; its output is discarded.
fn spawn_module(w: &World, args: &[&str], now: &str) -> std::process::Child {
    Command::new(support::bin_path("pmsslreseller"))
        .args(args)
        .env("MGR5_ROOT", w.mgr.path())
        .env("PMSSLRESELLER_TEST_NOW", now)
        .current_dir(w.mgr.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run pmsslreseller")
}

/// `sync_item` with the test clock, as a child process that can be killed.
fn spawn_sync_item(w: &World, now: &str) -> std::process::Child {
    let item = w.item.to_string();
    spawn_module(w, &["--command", "sync_item", "--item", &item], now)
}

#[test]
fn an_automatic_reissue_killed_at_any_point_is_sent_once() {
    let w = World::new("subscription");
    w.open();
    let item = w.item.to_string();
    let sync_item = ["--command", "sync_item", "--item", item.as_str()];
    // How long one run takes here, to spread the kills over it.
    let started = Instant::now();
    let (code, out, _) = w.module(&sync_item, d(START));
    assert_eq!(code, 0, "{out}");
    let run_ms = started.elapsed().as_millis() as u64 + 1;
    // Each trial: the current certificate is 10 days from its end; one sync_item is killed at
    // a point spread over a run (trial 0 at once, the last one after a whole run), then reruns
    // follow, each 10 minutes later on the test clock (past the 6 s settle window), until the
    // new certificate is saved. Exactly one reissue per certificate.
    let trials = 7u64;
    for trial in 0..trials {
        let cert_end = w.local_cert_end();
        if cert_end >= d(TERM_END) {
            break;
        }
        let day = cert_end - Days::new(10);
        w.set_day(day);
        let before = w.calls("certificate.reissue.step2");
        let mut child = spawn_sync_item(&w, &format!("{day}T10:00:00Z"));
        std::thread::sleep(Duration::from_millis(run_ms * 6 / 5 * trial / (trials - 1)));
        let _ = child.kill();
        let _ = child.wait();
        // A reissue the killed run sent is applied before the reruns look
        // (their clock is past the settle window at once).
        w.up.wait_idle();
        for rerun in 1..=6u64 {
            let later = format!("{day}T{:02}:00:00Z", 10 + rerun);
            let status = spawn_sync_item(&w, &later).wait().unwrap();
            if status.success() && w.local_cert_end() > cert_end {
                break;
            }
        }
        let sent = w.calls("certificate.reissue.step2") - before;
        assert_eq!(
            sent,
            1,
            "trial {trial}: reissues sent\n{}",
            w.mgr.module_log()
        );
        assert!(
            w.local_cert_end() > cert_end,
            "trial {trial}: the new certificate is saved"
        );
    }
    assert_eq!(w.expiry().as_deref(), Some(TERM_END));
}

#[test]
fn a_lost_reissue_answer_is_not_sent_again_while_the_upstream_may_still_apply_it() {
    let w = World::new("subscription");
    w.open();
    let item = w.item.to_string();
    let sync_item = ["--command", "sync_item", "--item", item.as_str()];
    let (cert_end, day) = w.ten_days_before_cert_end();
    // The upstream applies the reissue only long after the module's 1 s
    // timeout: the rerun below must find it still unapplied even on a slow
    // machine.
    w.up.fault(&support::sim::SimFault::new("certificate.reissue.step2", "delay").delay_ms(8000));
    let (code, out, _) = w.module(&sync_item, day);
    assert_ne!(code, 0, "the answer was lost: {out}");
    let sends = || {
        w.up.journal()
            .iter()
            .filter(|e| e.func == "certificate.reissue.step2")
            .count()
    };
    assert_eq!(sends(), 0, "still being applied upstream");
    // A rerun at once (the same minute): the intent is "sent", nothing is visible
    // upstream yet, the settle window has not passed → nothing is sent.
    let (code, out, _) = w.module(&sync_item, day);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    w.up.wait_idle();
    assert_eq!(sends(), 1, "only the first reissue reached the upstream");
    // Once applied, the next run adopts it and saves the new certificate.
    let (code, out, _) = w.module(&sync_item, day);
    assert_eq!(code, 0, "{out}");
    assert!(
        w.local_cert_end() > cert_end,
        "the reissued certificate is saved"
    );
    assert_eq!(sends(), 1);
    let intent = w.param("pmss_intent").unwrap();
    assert!(
        intent.contains("\"phase\":\"done\""),
        "settled, so BILLmanager's own operations are not held up: {intent}"
    );
    assert!(
        w.mgr.module_log().contains("automatic reissue waits"),
        "{}",
        w.mgr.module_log()
    );
}

#[test]
fn eight_sync_items_at_once_send_one_automatic_reissue() {
    let w = World::new("subscription");
    w.open();
    let (cert_end, day) = w.ten_days_before_cert_end();
    w.sync_items_at_once(day, 8);
    w.sync_item_until_replaced(day, cert_end);
    assert_eq!(
        w.calls("certificate.reissue.step2"),
        1,
        "one reissue for one certificate\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.calls("service.prolong"), 0);
    assert_eq!(w.expiry().as_deref(), Some(TERM_END));
}

#[test]
fn eight_sync_items_at_once_pay_one_automatic_renewal() {
    let w = World::new("per_certificate");
    w.open();
    let balance = w.up.account(USER).balance;
    // The upstream's own term ends with this certificate: a paid renewal is due.
    let (cert_end, day) = w.ten_days_before_cert_end();
    w.sync_items_at_once(day, 8);
    w.sync_item_until_replaced(day, cert_end);
    w.assert_one_paid_renewal(balance);
    assert_eq!(w.expiry().as_deref(), Some(TERM_END));
}

#[test]
fn an_intent_write_that_is_not_stored_pays_no_automatic_renewal() {
    let w = World::new("per_certificate");
    w.open();
    let balance = w.up.account(USER).balance;
    let (cert_end, day) = w.ten_days_before_cert_end();
    // `service.saveparam` answers ok for the intent but stores nothing.
    w.mgrctl_faults(&["Fault drop service.saveparam:pmss_intent *"]);
    let item = w.item.to_string();
    let (code, out, _) = w.module(&["--command", "sync_item", "--item", &item], day);
    assert_ne!(code, 0, "the unstored intent is an error: {out}");
    assert_eq!(w.calls("service.prolong"), 0, "nothing sent");
    assert_eq!(w.calls("certificate.reissue.step2"), 0, "nothing sent");
    assert_eq!(w.up.account(USER).balance, balance, "nothing paid");
    // Once the writes are stored again, the renewal is paid exactly once.
    w.mgrctl_faults(&[]);
    w.sync_item_until_replaced(day, cert_end);
    w.assert_one_paid_renewal(balance);
}

/// The cron bulk sync (worker threads, shared upstream client) and
/// BILLmanager's own `sync_item` on the same item at once: the paid
/// automatic renewal is still sent once (the per-item lock, and the intent
/// read again under it).
#[test]
fn bulk_syncs_and_sync_items_at_once_pay_one_automatic_renewal() {
    let w = World::new("per_certificate");
    w.open();
    let balance = w.up.account(USER).balance;
    let (cert_end, day) = w.ten_days_before_cert_end();
    let now = format!("{day}T10:00:00Z");
    let m = w.module.to_string();
    let bulk: Vec<_> = (0..4)
        .map(|_| spawn_module(&w, &["sync", "--module", &m], &now))
        .collect();
    let items: Vec<_> = (0..4).map(|_| spawn_sync_item(&w, &now)).collect();
    // A bulk sync finding another one holding the module's lock does nothing
    // and exits 0 (commands/bulk_sync.rs); one finding the item busy skips it, also 0.
    for (i, mut c) in bulk.into_iter().enumerate() {
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "bulk sync {i}: {status}\n{}",
            w.mgr.module_log()
        );
    }
    for mut c in items {
        c.wait().unwrap();
    }
    w.sync_item_until_replaced(day, cert_end);
    w.assert_one_paid_renewal(balance);
}
