//! Domain validation for the customer, end to end (the real binary, MariaDB
//! through the `billmgr-sim mgrctl` stand-in, `billmgr-sim upstream`):
//!
//! - the upstream view's validation facts land in the item params
//!   ISPsystem's modules use and in the service form's words, written only
//!   when they change; the simulator's knobs leave them out or rename them;
//! - `send_dv_email`: the reissue with the new approver of an issued
//!   certificate, once across reruns, a kill and parallel runs; a
//!   certificate waiting for validation with and without the admin's
//!   resend function;
//! - `send_dv_dns`: advertised only with its function; the DNS pre-flight
//!   against a DNS server the test serves, and a failing one.

mod support;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pmsslreseller::commands::lifecycle::intent::{Intent, Phase};
use support::billing::{certificate_params, run_module, TestDb, TestMgr};
use support::bin_path;
use support::sim::{JournalEntry, SimFault, SimUpstream};
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Val1dation-S3cret!pw";
/// Multi-domain EUR plan of the simulator's catalog.
const TARIFF: u64 = 3040;
const CONFIG: &str = "[upstream]\ntimeout_secs = 2\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 7\nlock_wait_secs = 60\n";

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    item: u64,
}

impl World {
    fn build(config: &str, params: &[(&str, &str)], sim_args: &[&str]) -> World {
        let mut all: Vec<(&str, &str)> = certificate_params()
            .into_iter()
            .filter(|(k, _)| !params.iter().any(|(n, _)| n == k))
            .collect();
        all.extend_from_slice(params);
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .sim_args(sim_args)
            .config(&format!("{CONFIG}{config}"))
            .debug_log()
            .tariffs(&[TARIFF])
            .item(12, &all)
            .build();
        let item = base.item();
        let Base { up, db, mgr, .. } = base;
        World { up, db, mgr, item }
    }

    fn new() -> World {
        World::build("", &[], &[])
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let item = self.item.to_string();
        let mut all = args.to_vec();
        all.extend(["--item", item.as_str()]);
        let (code, out, _) = run_module(&self.mgr, &all, None);
        (code, out)
    }

    fn sync(&self) -> Vec<String> {
        self.mgr.clear_journal();
        let (code, out) = self.run(&["--command", "sync_item"]);
        assert_eq!(code, 0, "{out}\n{}", self.mgr.module_log());
        self.mgr
            .journal()
            .iter()
            .map(|e| match e["params"]["name"].as_str() {
                Some(name) => format!("{}:{name}", e["func"].as_str().unwrap_or_default()),
                None => e["func"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    fn open(&self) -> u64 {
        let ro = self.db.create_running_operation(self.item, "open");
        self.db.bump_trycount(ro);
        let ro_text = ro.to_string();
        let (code, out) = self.run(&["--command", "open", "--runningoperation", &ro_text]);
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        self.upstream_id()
    }

    fn issued(&self) -> u64 {
        let id = self.open();
        self.up.issue(Some(id));
        self.sync();
        assert_eq!(self.param("service_status").as_deref(), Some("5"));
        id
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn form(&self) -> String {
        self.param("pmss_domain_validation").unwrap_or_default()
    }

    fn upstream_id(&self) -> u64 {
        self.param("pmss_upstream_id").unwrap().parse().unwrap()
    }

    /// The simulated CA's day of the validation e-mail.
    fn sent_day(&self, id: u64) -> String {
        self.up.certificate(id).unwrap()["dcv_sent"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn applied(&self, func: &str) -> Vec<JournalEntry> {
        self.up
            .journal()
            .into_iter()
            .filter(|e| e.func == func)
            .filter(|e| e.outcome == "ok" || e.result.as_deref() == Some("ok"))
            .collect()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(bin_path("pmsslreseller"))
            .args(args)
            .args(["--item", &self.item.to_string()])
            .env("MGR5_ROOT", self.mgr.path())
            .current_dir(self.mgr.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn assert_password_not_logged(&self) {
        let log = self.mgr.module_log();
        assert!(!log.contains(PASSWORD), "the password is in the log");
    }
}

#[test]
fn the_customer_sees_what_the_ca_waits_for_and_what_is_validated() {
    let w = World::new();
    let id = w.open();
    let day = w.sent_day(id);
    assert_eq!(
        w.form(),
        format!("waiting for the e-mail to admin@example.com, admin@mail.example.com (sent {day})")
    );
    assert_eq!(
        w.param("domains_list").as_deref(),
        Some("example.com,www.example.com,mail.example.com")
    );
    // The approver data as ordered is what the view shows: not written again.
    assert_eq!(
        w.param("approver_email").as_deref(),
        Some("admin@example.com,admin@mail.example.com")
    );
    assert_eq!(w.sync(), ["paramlist"], "nothing changed");
    w.up.tick();
    assert_eq!(
        w.sync(),
        [
            "paramlist",
            "service.saveparam:domains_list",
            "service.saveparam:pmss_domain_validation",
            "service.setstatus"
        ]
    );
    assert_eq!(
        w.form(),
        format!(
            "waiting for the e-mail to admin@example.com, admin@mail.example.com (sent {day}); \
             not validated yet: www.example.com, mail.example.com; validated: example.com"
        )
    );
    w.up.issue(Some(id));
    w.sync();
    assert_eq!(
        w.form(),
        "validated: example.com, www.example.com, mail.example.com"
    );
    assert_eq!(w.param("domains_list").as_deref(), Some(""));
    assert_eq!(w.sync(), ["paramlist"], "nothing changed");
    w.assert_password_not_logged();
}

#[test]
fn after_the_customers_reissue_the_form_says_what_the_ca_waits_for_at_once() {
    let w = World::new();
    let id = w.issued();
    assert_eq!(
        w.form(),
        "validated: example.com, www.example.com, mail.example.com"
    );
    let ro = w.db.create_running_operation(w.item, "reopen");
    w.db.bump_trycount(ro);
    let (code, out) = w.run(&["--command", "reopen", "--runningoperation", &ro.to_string()]);
    assert_eq!(code, 0, "reopen: {out}\n{}", w.mgr.module_log());
    assert_eq!(w.applied("certificate.reissue.step2").len(), 1);
    // No sync in between: the reissue itself read the view afterwards.
    let day = w.sent_day(id);
    assert_eq!(
        w.form(),
        format!("waiting for the e-mail to admin@example.com, admin@mail.example.com (sent {day})")
    );
    w.assert_password_not_logged();
}

#[test]
fn the_form_speaks_russian_when_asked() {
    let w = World::build("\n[form]\nlanguage = \"ru\"\n", &[], &[]);
    let id = w.open();
    assert_eq!(
        w.form(),
        format!(
            "ожидается подтверждение по письму на admin@example.com, admin@mail.example.com (отправлено {})",
            w.sent_day(id)
        )
    );
    w.up.issue(Some(id));
    w.sync();
    assert_eq!(
        w.form(),
        "подтверждены: example.com, www.example.com, mail.example.com"
    );
}

#[test]
fn a_dns_validation_shows_the_value_to_publish() {
    let w = World::build("", &[("approver_method", "auth_dnstxt")], &[]);
    let id = w.open();
    let value = w.param("auth_dnstxt_value").expect("the TXT value copied");
    assert!(value.starts_with("sim-dv-"), "{value}");
    assert_eq!(
        w.form(),
        format!("publish this DNS TXT value for example.com, www.example.com, mail.example.com: {value}")
    );
    w.up.issue(Some(id));
    w.sync();
    assert_eq!(w.param("auth_dnstxt_value").as_deref(), Some(""));
}

/// The upstream field names are a guess: another naming reads the same, a
/// view without them says what the item's own data tells.
#[test]
fn fields_named_otherwise_or_left_out() {
    let w = World::build("", &[], &["--knob", "validation_names=dcv"]);
    let id = w.open();
    assert!(
        w.form().contains(&format!("(sent {})", w.sent_day(id))),
        "{}",
        w.form()
    );
    assert_eq!(
        w.param("domains_list").as_deref(),
        Some("example.com,www.example.com,mail.example.com")
    );
    let w = World::build("", &[], &["--knob", "validation_view=off"]);
    let id = w.open();
    assert_eq!(
        w.form(),
        "waiting for the e-mail to admin@example.com, admin@mail.example.com"
    );
    assert_eq!(w.param("domains_list"), None, "not shown: not written");
    w.up.issue(Some(id));
    w.sync();
    assert_eq!(
        w.form(),
        "validated: example.com, www.example.com, mail.example.com"
    );
    assert_eq!(w.param("domains_list"), None, "not shown: not cleared");
}

fn features(w: &World) -> String {
    let (code, out, _) = run_module(&w.mgr, &["--command", "features"], None);
    assert_eq!(code, 0, "{out}");
    out
}

#[test]
fn send_dv_email_is_offered_send_dv_dns_only_with_its_function() {
    let w = World::new();
    let f = features(&w);
    assert!(f.contains("<feature name=\"send_dv_email\"/>"), "{f}");
    assert!(!f.contains("send_dv_dns"), "{f}");
    let (code, out) = w.run(&["--command", "send_dv_dns", "--domain", "example.com"]);
    assert_ne!(code, 0);
    assert!(
        out.contains("not_supported") && out.contains("dns_check_func"),
        "{out}"
    );
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{CONFIG}\n[validation]\ndns_check_func = \"certificate.dcv.check\"\n"),
    )
    .unwrap();
    assert!(features(&w).contains("<feature name=\"send_dv_dns\"/>"));
}

/// An issued certificate: one reissue from the request on file with the
/// first address as the approver; asking again sends nothing more.
#[test]
fn send_dv_email_reissues_an_issued_certificate_once() {
    let w = World::new();
    let id = w.issued();
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com,admin@example.com",
    ]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let sent = w.applied("certificate.reissue.step2");
    assert_eq!(sent.len(), 1);
    let p = &sent[0].params;
    assert_eq!(p.get("crt_type").map(String::as_str), Some("oldrequest"));
    assert_eq!(
        p.get("approver_method").map(String::as_str),
        Some("auth_email")
    );
    assert_eq!(
        p.get("approver_email_1").map(String::as_str),
        Some("webmaster@example.com")
    );
    assert!(p.get("approver_email_2").is_none(), "{p:?}");
    assert_eq!(
        w.param("approver_email").as_deref(),
        Some("webmaster@example.com")
    );
    assert_eq!(w.param("service_status").as_deref(), Some("3"));
    assert_eq!(
        w.form(),
        format!(
            "waiting for the e-mail to webmaster@example.com (sent {})",
            w.sent_day(id)
        )
    );
    // The same request again (a second click, BILLmanager's retry).
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        w.applied("certificate.reissue.step2").len(),
        1,
        "not sent twice"
    );
    w.assert_password_not_logged();
}

/// Killed while the reissue is on its way (the upstream applies it), then
/// run again: adopted, not sent again.
#[test]
fn send_dv_email_killed_and_rerun_reissues_once() {
    let w = World::new();
    w.issued();
    w.up.fault(&SimFault::new("certificate.reissue.step2", "delay").delay_ms(1500));
    let mut child = w.spawn(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    // Killed once the intent is stored and the reissue is at the upstream
    // (held up there), whatever the machine's load: a fixed pause could
    // kill it before it sent anything.
    let until = Instant::now() + Duration::from_secs(30);
    while !(w.up.stats().api_in_flight > 0
        && Intent::from_param(w.param("pmss_intent").as_deref())
            .ok()
            .flatten()
            .is_some_and(|i| i.phase == Phase::Sent))
    {
        assert!(Instant::now() < until, "the reissue was never sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The simulator finishes the delayed request after the kill.
    let until = Instant::now() + Duration::from_secs(10);
    while w.applied("certificate.reissue.step2").is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(w.applied("certificate.reissue.step2").len(), 1);
    let stored = Intent::from_param(w.param("pmss_intent").as_deref())
        .unwrap()
        .unwrap();
    assert_eq!(stored.phase, Phase::Sent, "killed after writing the intent");
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(
        w.applied("certificate.reissue.step2").len(),
        1,
        "adopted, not sent again"
    );
    let stored = Intent::from_param(w.param("pmss_intent").as_deref())
        .unwrap()
        .unwrap();
    assert_eq!(stored.phase, Phase::Done);
    assert_eq!(
        w.param("approver_email").as_deref(),
        Some("webmaster@example.com")
    );
}

#[test]
fn two_send_dv_email_at_once_reissue_once() {
    let w = World::new();
    w.issued();
    let args = [
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ];
    let a = w.spawn(&args);
    let b = w.spawn(&args);
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(
        a.status.success() && b.status.success(),
        "{a:?} {b:?}\n{}",
        w.mgr.module_log()
    );
    assert_eq!(w.applied("certificate.reissue.step2").len(), 1);
}

/// Waiting for validation: without the admin's resend function a refusal
/// that says what to do; with it, the e-mail goes to the new address.
#[test]
fn send_dv_email_while_waiting_needs_the_resend_function() {
    let w = World::new();
    let id = w.open();
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("resend_email_func"), "{out}");
    assert!(w.applied("certificate.reissue.step2").is_empty());
    assert_eq!(
        w.param("approver_email").as_deref(),
        Some("admin@example.com,admin@mail.example.com"),
        "nothing changed"
    );
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{CONFIG}\n[validation]\nresend_email_func = \"certificate.approver.resend\"\n"),
    )
    .unwrap();
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let sent = w.applied("certificate.approver.resend");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].params.get("approver_email_1").map(String::as_str),
        Some("webmaster@example.com")
    );
    assert_eq!(
        w.param("approver_email").as_deref(),
        Some("webmaster@example.com")
    );
    assert_eq!(
        w.form(),
        format!(
            "waiting for the e-mail to webmaster@example.com (sent {})",
            w.sent_day(id)
        )
    );
    // A bad address is refused before anything is sent.
    let (code, out) = w.run(&["--command", "send_dv_email", "--emails", "not an address"]);
    assert_ne!(code, 0);
    assert!(out.contains("emails"), "{out}");
    assert_eq!(w.applied("certificate.approver.resend").len(), 1);
}

/// A DNS server the test runs: every TXT question is answered with
/// `records`; its address.
fn serve_dns(records: Vec<String>) -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let r: Vec<&str> = records.iter().map(String::as_str).collect();
            let answer = pmsslreseller::dns::answer_for(&buf[..n], &r);
            let _ = socket.send_to(&answer, from);
        }
    });
    addr
}

fn dns_world(server: &str) -> World {
    World::build(
        &format!(
            "\n[validation]\ndns_check_func = \"certificate.dcv.check\"\ndns_server = \"{server}\"\n\
             dns_timeout_ms = 500\n"
        ),
        &[("approver_method", "auth_dnstxt")],
        &[],
    )
}

#[test]
fn send_dv_dns_looks_the_value_up_first() {
    // Not published: said so, the CA is not asked.
    let server = serve_dns(vec!["v=spf1 -all".into()]);
    let w = dns_world(&server.to_string());
    w.open();
    let (code, out) = w.run(&["--command", "send_dv_dns", "--domain", "www.example.com"]);
    assert_ne!(code, 0);
    assert!(out.contains("not published yet"), "{out}");
    assert!(w.applied("certificate.dcv.check").is_empty());
    // A name that is not the certificate's is refused.
    let (code, out) = w.run(&["--command", "send_dv_dns", "--domain", "other.example.org"]);
    assert_ne!(code, 0);
    assert!(out.contains("not a name of certificate"), "{out}");
}

#[test]
fn send_dv_dns_asks_the_ca_once_the_value_is_published() {
    // The value is only known after the order: a server that reads it then.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = socket.local_addr().unwrap();
    drop(socket);
    let w = dns_world(&server.to_string());
    w.open();
    let value = w.param("auth_dnstxt_value").unwrap();
    let socket = UdpSocket::bind(server).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let answer = pmsslreseller::dns::answer_for(&buf[..n], &["other", &value]);
            let _ = socket.send_to(&answer, from);
        }
    });
    let (code, out) = w.run(&["--command", "send_dv_dns", "--domain", "www.example.com"]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    let sent = w.applied("certificate.dcv.check");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].params.get("domain").map(String::as_str),
        Some("www.example.com")
    );
}

/// A DNS server that does not answer does not block the request.
#[test]
fn send_dv_dns_with_a_failing_resolver_still_asks() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = socket.local_addr().unwrap();
    drop(socket);
    let w = dns_world(&server.to_string());
    w.open();
    let (code, out) = w.run(&["--command", "send_dv_dns", "--domain", "example.com"]);
    assert_eq!(code, 0, "{out}\n{}", w.mgr.module_log());
    assert_eq!(w.applied("certificate.dcv.check").len(), 1);
    assert!(w.mgr.module_log().contains("could not be looked up"));
    w.assert_password_not_logged();
}

/// BILLmanager's renewal was applied upstream but its local steps failed
/// (its intent stays `applied` until the operation's rerun finishes it). A
/// customer's `send_dv_email` in between must not replace that intent with
/// its own reissue: the renewal's rerun would no longer see it, and would
/// book the renewal a second time as one found already done upstream.
#[test]
fn send_dv_email_waits_while_another_operation_is_finishing() {
    let w = World::new();
    let id = w.issued();
    let ro = w.db.create_running_operation(w.item, "prolong");
    let mut renewal = Intent::new(
        pmsslreseller::commands::lifecycle::intent::IntentOp::Prolong,
        7,
        1,
        Some(ro),
        1_796_000_000,
    )
    .with_phase(Phase::Applied);
    renewal.upstream_id = Some(id);
    renewal.period = Some(12);
    let json = renewal.to_json();
    {
        use mysql::prelude::Queryable;
        let mut conn = w.db.conn();
        conn.exec_drop(
            "DELETE FROM itemparam WHERE item = ? AND intname = 'pmss_intent'",
            (w.item,),
        )
        .unwrap();
        conn.exec_drop(
            "INSERT INTO itemparam (item, intname, value) VALUES (?, 'pmss_intent', ?)",
            (w.item, &json),
        )
        .unwrap();
    }
    let (code, out) = w.run(&[
        "--command",
        "send_dv_email",
        "--emails",
        "webmaster@example.com",
    ]);
    assert_ne!(code, 0, "refused while the renewal finishes: {out}");
    assert!(out.contains("prolong"), "{out}");
    assert!(w.applied("certificate.reissue.step2").is_empty());
    assert_eq!(w.param("pmss_intent").as_deref(), Some(json.as_str()));
}
