//! One owner per movement: BILLmanager's running operations meet the
//! module's own automatic reissues and renewals on one item, and one renewal
//! moves the paid term by exactly one period, whichever way BILLmanager
//! behaves. The real `pmsslreseller` binary against a real MariaDB (through
//! the `billmgr-sim mgrctl` stand-in) and `billmgr-sim upstream`, on the test
//! clock (`PMSSLRESELLER_TEST_NOW` for the module and the stand-in, the
//! simulator's clock set to the same moment). Each test names what went
//! wrong before.

mod support;

use chrono::{Days, NaiveDate};
use mysql::prelude::Queryable;
use rust_decimal::Decimal;
use serde_json::Value;

use pmsslreseller::books::ledger::{self, Entry, Filter, Kind, Owner, State};
use pmsslreseller::books::Books;
use support::billing::{
    certificate_params, run_module_env, run_operation, TestDb, TestMgr, EXAMPLE_CSR,
};
use support::sim::{JournalEntry, SimFault, SimUpstream};

const USER: &str = "reseller";
const PASSWORD: &str = "Own3rs-Upstr3am!pw";
/// Comodo Positive SSL: 12 months 21 EUR, 24 months 38 EUR.
const TARIFF: u64 = 3033;
const START: &str = "2026-12-02";
/// The open date + 24 months.
const TERM_END: &str = "2028-12-02";
/// One renewal later.
const NEXT_TERM_END: &str = "2030-12-02";
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
    /// The moment both clocks show (RFC 3339).
    now: std::cell::RefCell<String>,
}

impl World {
    /// A 24-month certificate opened and issued on `START`.
    fn new(term_model: &str) -> World {
        let account = format!("{USER}:{PASSWORD}:1000.00:EUR");
        let knob = format!("term_model={term_model}");
        let up = SimUpstream::start_with(&[
            "--account",
            &account,
            "--knob",
            "issue_mode=instant",
            "--knob",
            &knob,
        ]);
        let db = TestDb::create();
        let mgr = TestMgr::new(&db);
        std::fs::write(mgr.path().join("etc/pmsslreseller.toml"), CONFIG).unwrap();
        std::fs::write(mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
        let module = db.seed_module(&up.url(), USER, PASSWORD);
        let tariff = db.seed_certificate_tariff(&format!("ssl_{TARIFF}"));
        let params: Vec<(&str, &str)> = certificate_params()
            .into_iter()
            .filter(|(k, _)| *k != "altname")
            .collect();
        let item = db.seed_certificate_item(module, tariff, 24, &params, Some(EXAMPLE_CSR));
        let w = World {
            up,
            db,
            mgr,
            module,
            item,
            now: std::cell::RefCell::new(String::new()),
        };
        w.at(&format!("{START}T10:00:00Z"));
        let (_, code, out) = w.op("open");
        assert_eq!(code, 0, "open: {out}\n{}", w.mgr.module_log());
        assert!(w.db.certificate_crt(item).is_some(), "issued at once");
        let (code, out) = w.sync();
        assert_eq!(code, 0, "{out}");
        assert_eq!(w.expiry().as_deref(), Some(TERM_END));
        w
    }

    /// Both clocks to `now` (RFC 3339).
    fn at(&self, now: &str) {
        self.up.set_clock(now);
        *self.now.borrow_mut() = now.to_string();
    }

    fn module(&self, args: &[&str]) -> (i32, String, String) {
        let now = self.now.borrow().clone();
        run_module_env(
            &self.mgr,
            args,
            None,
            &[("PMSSLRESELLER_TEST_NOW", now.as_str())],
        )
    }

    /// A new running operation for `command`, run once.
    fn op(&self, command: &str) -> (u64, i32, String) {
        let ro = self.db.create_running_operation(self.item, command);
        let (code, out) = self.rerun(command, ro);
        (ro, code, out)
    }

    fn rerun(&self, command: &str, ro: u64) -> (i32, String) {
        self.db.bump_trycount(ro);
        let now = self.now.borrow().clone();
        let (code, out, _) = run_operation(
            &self.mgr,
            command,
            self.item,
            ro,
            &[("PMSSLRESELLER_TEST_NOW", now.as_str())],
        );
        (code, out)
    }

    fn sync(&self) -> (i32, String) {
        let m = self.module.to_string();
        let (code, out, err) = self.module(&["sync", "--module", &m]);
        (code, format!("{out}{err}"))
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    /// The item's ledger rows, oldest first.
    fn ledger(&self) -> Vec<Entry> {
        let books =
            Books::open_path(&self.mgr.path().join("var/pmsslreseller/books.sqlite")).unwrap();
        let filter = Filter {
            item: Some(self.item),
            ..Filter::default()
        };
        ledger::rows(&books, &filter).unwrap()
    }

    fn expiry(&self) -> Option<String> {
        self.db.item_dates(self.item).0
    }

    fn set_expiry(&self, day: &str) {
        self.db
            .conn()
            .exec_drop(
                "UPDATE item SET expiredate = ? WHERE id = ?",
                (day, self.item),
            )
            .unwrap();
    }

    fn upstream_id(&self) -> u64 {
        self.param("pmss_upstream_id").unwrap().parse().unwrap()
    }

    fn upstream(&self) -> Value {
        self.up.certificate(self.upstream_id()).unwrap()
    }

    fn local_cert_end(&self) -> NaiveDate {
        let crt = self.db.certificate_crt(self.item).unwrap();
        pmsslreseller::x509::facts(&crt).unwrap().not_after
    }

    /// Both clocks to 10:00 ten days before the saved certificate ends:
    /// the automatic reissue or renewal is due.
    fn due(&self) -> NaiveDate {
        let day = self.local_cert_end() - Days::new(10);
        self.at(&format!("{day}T10:00:00Z"));
        day
    }

    /// BILLmanager's renewal applied upstream whose local steps failed: its
    /// intent stored `applied` on the item, as the operation's rerun will
    /// find it. The stored JSON.
    fn renewal_being_finished(&self) -> String {
        use pmsslreseller::commands::lifecycle::intent::{Intent, IntentOp, Phase};
        let ro = self.db.create_running_operation(self.item, "prolong");
        let mut renewal = Intent::new(IntentOp::Prolong, 7, 1, Some(ro), 1_796_000_000)
            .with_phase(Phase::Applied);
        renewal.upstream_id = Some(self.upstream_id());
        renewal.period = Some(24);
        let json = renewal.to_json();
        self.db
            .conn()
            .exec_drop(
                "UPDATE itemparam SET value = ? WHERE item = ? AND intname = 'pmss_intent'",
                (&json, self.item),
            )
            .unwrap();
        json
    }

    /// Upstream calls of `func` carried out (also those whose answer a fault lost).
    fn applied(&self, func: &str) -> Vec<JournalEntry> {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func == func)
            .filter(|e| e.outcome == "ok" || e.result.as_deref() == Some("ok"))
            .collect()
    }

    fn balance(&self) -> Decimal {
        self.up.account(USER).balance
    }

    fn manual(&self, ro: u64) -> bool {
        self.db
            .running_operation(ro)
            .is_some_and(|r| r.manual == "on")
    }

    /// Rerun `command`'s operation `ro` a minute later each time (past the
    /// settle window) until it succeeds; never switched to an admin.
    fn rerun_until_done(&self, command: &str, ro: u64, day: NaiveDate) -> String {
        let mut last = String::new();
        for minute in 1..=10 {
            self.at(&format!("{day}T10:{minute:02}:00Z"));
            let (code, out) = self.rerun(command, ro);
            assert!(!self.manual(ro), "{command} went to an admin: {out}");
            if code == 0 {
                return out;
            }
            last = out;
        }
        panic!(
            "{command} did not finish: {last}\n{}",
            self.mgr.module_log()
        );
    }
}

/// A lost automatic renewal is not taken for BILLmanager's renewal. Before,
/// the customer's `prolong` reconciled the module's "sent" renewal as its
/// own and set the paid term to the upstream certificate's end (2027-06-xx,
/// the customer's two years lost).
#[test]
fn a_lost_automatic_renewal_is_not_taken_for_the_customers() {
    let w = World::new("per_certificate");
    let day = w.due();
    w.up.fault(&SimFault::new("service.prolong", "drop_after_commit"));
    let (_, out) = w.sync();
    assert!(out.contains("error") || !out.is_empty(), "{out}");
    assert_eq!(
        w.applied("service.prolong").len(),
        1,
        "the automatic renewal was applied"
    );
    let paid = w.balance();
    // The customer renews now: BILLmanager's operation.
    w.set_expiry(TERM_END);
    let (ro, code, out) = w.op("prolong");
    assert!(!w.manual(ro), "{out}");
    if code != 0 {
        w.rerun_until_done("prolong", ro, day);
    }
    assert_eq!(
        w.expiry().as_deref(),
        Some(NEXT_TERM_END),
        "one period added to the paid term\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.mgr.mgrctl_count("service.postprolong"), 1);
    assert_eq!(
        w.applied("service.prolong").len(),
        1,
        "the automatic renewal is this renewal's: not paid twice"
    );
    assert_eq!(w.balance(), paid);
    // The lost renewal's row is posted once settled; BILLmanager's costs 0.
    let renewals: Vec<(Owner, State, Option<Decimal>)> = w
        .ledger()
        .iter()
        .filter(|r| r.kind == Kind::Renewal)
        .map(|r| (r.owner, r.state, r.cost.filter(|c| c.is_zero())))
        .collect();
    assert_eq!(
        renewals,
        vec![
            (Owner::Auto, State::Posted, None),
            (Owner::Billmanager, State::Posted, Some(Decimal::ZERO)),
        ]
    );
}

/// A lost automatic reissue does not swallow the customer's reissue: the
/// customer's new CSR reaches the upstream. Before, `reopen` took the
/// module's "sent" reissue for its own and reported it, the customer's CSR
/// never sent.
#[test]
fn a_lost_automatic_reissue_does_not_swallow_the_customers_reissue() {
    let w = World::new("subscription");
    let day = w.due();
    w.up.fault(&SimFault::new(
        "certificate.reissue.step2",
        "drop_after_commit",
    ));
    let (_, out) = w.sync();
    assert_eq!(
        w.applied("certificate.reissue.step2").len(),
        1,
        "the automatic reissue was applied: {out}"
    );
    // The customer brings a new CSR and asks for a reissue.
    let csr = new_csr(&w.up);
    w.db.conn()
        .exec_drop(
            "UPDATE certificate SET csr = ? WHERE item = ?",
            (csr.as_str(), w.item),
        )
        .unwrap();
    let (ro, code, out) = w.op("reopen");
    assert!(!w.manual(ro), "{out}");
    if code != 0 {
        w.rerun_until_done("reopen", ro, day);
    }
    assert_eq!(w.mgr.mgrctl_count("service.postreopen"), 1);
    let reissues = w.applied("certificate.reissue.step2");
    assert_eq!(reissues.len(), 2, "the automatic one and the customer's");
    let last = reissues.last().unwrap();
    assert_eq!(
        last.params.get("crt_type").map(String::as_str),
        Some("manual")
    );
    let sent_csr = w.upstream()["csr"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        sent_csr.split_whitespace().collect::<String>(),
        csr.split_whitespace().collect::<String>(),
        "the customer's CSR is upstream"
    );
}

/// An automatic reissue whose answer was lost makes BILLmanager's `prolong`
/// wait or settle it, never go to an admin. Before: `manual_required` at the
/// first try, and at every rerun.
#[test]
fn an_automatic_reissue_in_flight_never_sends_the_renewal_to_an_admin() {
    let w = World::new("subscription");
    let day = w.due();
    w.up.fault(&SimFault::new(
        "certificate.reissue.step2",
        "drop_after_commit",
    ));
    w.sync();
    w.set_expiry(TERM_END);
    let (ro, code, out) = w.op("prolong");
    assert!(!w.manual(ro), "{out}");
    assert!(w.db.tasks().is_empty(), "no admin task: {out}");
    if code != 0 {
        w.rerun_until_done("prolong", ro, day);
    }
    assert_eq!(w.applied("service.prolong").len(), 1);
    assert_eq!(w.mgr.mgrctl_count("service.postprolong"), 1);
    assert_eq!(w.expiry().as_deref(), Some(NEXT_TERM_END));
}

/// One renewal moves the paid term by one period whichever way BILLmanager
/// behaves: BILLmanager may move `item.expiredate` by the period at payment,
/// before `prolong` runs (field evidence §6, inferred), or leave it to the
/// module. Before: "expiry read at start + period", two periods for one
/// payment in the first case.
#[test]
fn one_renewal_moves_the_paid_term_by_one_period_either_way() {
    for moved_by_billmanager in [true, false] {
        let w = World::new("subscription");
        let day = d(TERM_END) - Days::new(20);
        w.at(&format!("{day}T10:00:00Z"));
        let (code, out) = w.sync();
        assert_eq!(code, 0, "{out}");
        if moved_by_billmanager {
            // Paid: BILLmanager moves the expiry, then runs prolong.
            w.set_expiry(NEXT_TERM_END);
        }
        let (_, code, out) = w.op("prolong");
        assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
        assert_eq!(
            w.expiry().as_deref(),
            Some(NEXT_TERM_END),
            "moved by BILLmanager: {moved_by_billmanager}"
        );
        assert_eq!(w.applied("service.prolong").len(), 1);
        let said = if moved_by_billmanager {
            "BILLmanager moved the paid term itself at payment"
        } else {
            "BILLmanager had not moved the paid term"
        };
        assert!(
            w.mgr.module_log().contains(said),
            "the log says which: {}",
            w.mgr.module_log()
        );
        // And the next renewal counts from there.
        let (code, _) = w.sync();
        assert_eq!(code, 0);
        assert_eq!(w.param("pmss_paid_until").as_deref(), Some(NEXT_TERM_END));
    }
}

/// An automatic renewal made just before BILLmanager's `prolong` is that
/// renewal's upstream purchase. Before: two upstream renewals one after the
/// other, the second paid for a period the first had bought.
#[test]
fn an_automatic_renewal_just_before_the_customers_is_not_paid_twice() {
    let w = World::new("per_certificate");
    let m = w.module.to_string();
    let (code, out, err) = w.module(&["catalog", "refresh", "--module", &m]);
    assert_eq!(code, 0, "{out}{err}");
    w.due();
    let (code, out) = w.sync();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        w.applied("service.prolong").len(),
        1,
        "the automatic renewal"
    );
    let paid = w.balance();
    let (_, code, out) = w.op("prolong");
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.applied("service.prolong").len(), 1, "not paid twice");
    assert_eq!(w.balance(), paid);
    assert_eq!(w.expiry().as_deref(), Some(NEXT_TERM_END));
    assert_eq!(w.mgr.mgrctl_count("service.postprolong"), 1);
    // The books: the order, the module's renewal at the reseller's cost
    // (24 months, 38 EUR, nobody's sale), BILLmanager's renewal at cost 0
    // (the automatic one bought its term), each once.
    let rows = w.ledger();
    let what: Vec<(Kind, Owner, State, Option<Decimal>)> = rows
        .iter()
        .map(|r| (r.kind, r.owner, r.state, r.cost))
        .collect();
    assert_eq!(
        what,
        vec![
            (Kind::Order, Owner::Billmanager, State::Posted, None),
            (
                Kind::Renewal,
                Owner::Auto,
                State::Posted,
                Some(Decimal::from(38))
            ),
            (
                Kind::Renewal,
                Owner::Billmanager,
                State::Posted,
                Some(Decimal::ZERO)
            ),
        ],
        "{rows:#?}"
    );
    assert_eq!(rows[1].sell, None, "the reseller's cost, nobody's sale");
    assert!(rows[2]
        .note
        .as_deref()
        .unwrap_or_default()
        .contains("automatic renewal"));
}

/// A real second CSR for the certificate's name, made by the simulator's
/// `certificate.order.csr` (a client function of the upstream).
fn new_csr(up: &SimUpstream) -> String {
    let body = format!(
        "out=xml&func=certificate.order.csr&authinfo={}&CN=example.com",
        form_urlencoded::byte_serialize(format!("{USER}:{PASSWORD}").as_bytes())
            .collect::<String>()
    );
    let text = reqwest::blocking::Client::new()
        .post(up.url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let start = text.find("<csr>").expect("a CSR in the answer") + "<csr>".len();
    let end = text[start..].find("</csr>").unwrap() + start;
    text[start..end]
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// BILLmanager's renewal applied upstream whose local steps failed keeps
/// its intent `applied` until the operation's rerun finishes it. The cron
/// sync's automatic reissue, due the same day, must wait instead of
/// replacing that intent: the rerun would otherwise find the term already
/// moved, adopt it as a movement of its own and book the one renewal twice.
#[test]
fn an_automatic_reissue_waits_for_a_renewal_being_finished() {
    let w = World::new("subscription");
    w.due();
    let json = w.renewal_being_finished();
    assert_eq!(w.param("pmss_intent").as_deref(), Some(json.as_str()));
    let (_, out) = w.sync();
    assert!(
        w.applied("certificate.reissue.step2").is_empty(),
        "reissued over the renewal being finished: {out}\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.param("pmss_intent").as_deref(), Some(json.as_str()));
}

#[test]
fn a_customers_reissue_waits_for_a_renewal_being_finished() {
    let w = World::new("subscription");
    w.due();
    let json = w.renewal_being_finished();
    let (_, code, out) = w.op("reopen");
    assert_eq!(code, 1, "the reissue waits: {out}");
    assert!(out.contains("finishing"), "{out}");
    assert!(
        w.applied("certificate.reissue.step2").is_empty(),
        "reissued over the renewal being finished: {out}\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.param("pmss_intent").as_deref(), Some(json.as_str()));
}
