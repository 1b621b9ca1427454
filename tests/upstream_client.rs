//! The upstream client against the real `billmgr-sim upstream` HTTP(S) server:
//! every client operation, every failure class, and that the password never
//! leaks (URL, log, Debug, messages).

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::OnceLock;

use pmsslreseller::config::UpstreamConfig;
use pmsslreseller::protocol::error::{ErrorKind, ModuleError};
use pmsslreseller::secret::Secret;
use pmsslreseller::upstream::{
    ApiErrorClass, CertOrder, Client, Connection, Reissue, ReissueKind, UpstreamError,
};
use rust_decimal::Decimal;
use support::sim::{SimAccount, SimFault, SimUpstream};

const USER: &str = "reseller@example.com";
/// Distinctive, with characters that need url-encoding.
const PASSWORD: &str = "Up5tr&am=Pa55+w rd%";
const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBVjCBwAIBADAXMRUwEwYDVQQDDAxleGFtcGxlLmNvbTCBnzANBgkqhkiG9w0B\n-----END CERTIFICATE REQUEST-----\n";

static LOG_FILE: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Route this test process's log to a file at trace level (once), so the
/// leak test can read everything every test logged.
fn log_file() -> std::path::PathBuf {
    LOG_FILE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            let root = pmsslreseller::paths::MgrRoot::new(&dir);
            pmsslreseller::logging::init(&root, "trace").expect("the module log opens");
            root.log_file()
        })
        .clone()
}

fn sim() -> SimUpstream {
    log_file();
    let s = SimUpstream::start();
    s.set_account(&SimAccount::new(USER, PASSWORD, "100.00", "EUR"));
    s
}

fn conn(url: &str, password: &str) -> Connection {
    Connection {
        url: url.to_string(),
        username: USER.to_string(),
        password: Secret::new(password),
    }
}

fn client(s: &SimUpstream) -> Client {
    client_cfg(s, UpstreamConfig::default())
}

fn client_cfg(s: &SimUpstream, cfg: UpstreamConfig) -> Client {
    Client::new(&conn(&s.url(), PASSWORD), &cfg).unwrap()
}

fn order(cn: &str, remoteid: &str) -> CertOrder {
    CertOrder {
        pricelist: 3033,
        period: pmsslreseller::vocab::OrderPeriod::Months(12),
        remoteid: remoteid.to_string(),
        cn: cn.to_string(),
        csr: CSR.to_string(),
        altnames: vec![],
        approver_method: Some("auth_email".into()),
        approver_emails: vec![format!("admin@{cn}")],
        extra: vec![("adm_fname".into(), "Ivan".into())],
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn balance(s: &SimUpstream) -> Decimal {
    s.account(USER).balance
}

/// Nothing secret in any rendering of an error.
fn assert_no_password(e: &UpstreamError) {
    for text in [
        format!("{e:?}"),
        e.to_string(),
        ModuleError::from(e.clone()).to_document(),
        format!("{:?}", ModuleError::from(e.clone())),
    ] {
        assert!(!text.contains(PASSWORD), "password in {text}");
        assert!(!text.contains("Pa55"), "password part in {text}");
    }
}

#[test]
fn whoami_reports_account_and_balance() {
    let s = sim();
    let a = client(&s).whoami().unwrap();
    assert_eq!(a.name, USER);
    assert_eq!(a.balance, dec("100.00"));
    assert_eq!(a.currency.as_deref(), Some("EUR"));
}

#[test]
fn whoami_localized_balance_and_noise() {
    let s = sim();
    s.knobs(&[("balance_localized", "on"), ("noise", "on")]);
    s.set_account(&SimAccount::new(USER, PASSWORD, "1234567.89", "RUB"));
    let a = client(&s).whoami().unwrap();
    assert_eq!(a.balance, dec("1234567.89"));
}

#[test]
fn both_api_paths_work() {
    let s = sim();
    let base = s.url();
    let manager = base.replace("/billmgr", "/manager/billmgr");
    let c = Client::new(&conn(&manager, PASSWORD), &UpstreamConfig::default()).unwrap();
    assert_eq!(c.whoami().unwrap().balance, dec("100.00"));
    // A bare host:port gets /billmgr appended.
    let bare = base.trim_end_matches("/billmgr");
    let c = Client::new(&conn(bare, PASSWORD), &UpstreamConfig::default()).unwrap();
    assert!(c.endpoint().to_string().ends_with("/billmgr"));
    assert_eq!(c.whoami().unwrap().balance, dec("100.00"));
}

#[test]
fn wrong_password_is_auth_error() {
    let s = sim();
    let c = Client::new(
        &conn(&s.url(), "not-the-password"),
        &UpstreamConfig::default(),
    )
    .unwrap();
    let e = c.whoami().unwrap_err();
    let a = e.api().expect("an API error");
    assert_eq!(a.class(), ApiErrorClass::Auth);
    assert!(!e.maybe_applied());
    let m = ModuleError::from(e.clone());
    assert_eq!(m.kind, ErrorKind::InvalidLogin);
    assert!(m.to_document().contains("invalid_login_or_passwd"));
}

#[test]
fn pricelist_export_is_raw_catalog_xml() {
    let s = sim();
    let xml = client(&s).pricelist_export().unwrap();
    assert!(
        xml.contains("<pricelist>"),
        "{}",
        &xml[..xml.len().min(300)]
    );
    assert!(xml.contains("<id>3033</id>"));
}

#[test]
fn order_list_view_issue_prolong_reissue_delete() {
    let s = sim();
    let c = client(&s);
    let id = c
        .certificate_order(&order("shop.example.com", "item-101"))
        .unwrap();
    assert_eq!(balance(&s), dec("79.00"));

    let rows = c.certificate_list().unwrap();
    let row = rows.iter().find(|r| r.id == id).expect("new item listed");
    assert_eq!(row.cn, "shop.example.com");

    let v = c.certificate_view(id).unwrap();
    assert_eq!(v.id, id);
    assert_eq!(v.cn, "shop.example.com");
    assert_eq!(v.remoteid.as_deref(), Some("item-101"));
    assert_eq!(v.approver_emails, ["admin@shop.example.com"]);
    assert_eq!(v.service_status, Some(3));
    assert!(v.crt.is_none());

    s.issue(Some(id));
    let v = c.certificate_view(id).unwrap();
    assert_eq!(v.service_status, Some(5));
    assert!(v.crt.as_deref().unwrap_or("").contains("BEGIN CERTIFICATE"));
    let expiry = v.expiredate.expect("issued certificate has an expiry");

    let new_expiry = c
        .service_prolong(id, 12)
        .unwrap()
        .expect("new expiry in the answer");
    assert!(new_expiry > expiry);
    assert_eq!(balance(&s), dec("58.00"));
    s.knobs(&[("prolong_shape", "flat")]);
    s.issue(Some(id));
    let flat = c
        .service_prolong(id, 12)
        .unwrap()
        .expect("flat shape read too");
    assert!(flat > new_expiry);

    s.issue(Some(id));
    c.certificate_reissue(&Reissue {
        id,
        kind: ReissueKind::OldRequest,
        approver_method: Some("auth_email".into()),
        approver_emails: vec!["admin@shop.example.com".into()],
    })
    .unwrap();
    assert_eq!(c.certificate_view(id).unwrap().service_status, Some(3));
    s.issue(Some(id));
    c.certificate_reissue(&Reissue {
        id,
        kind: ReissueKind::Manual {
            csr: CSR.to_string(),
        },
        approver_method: None,
        approver_emails: vec![],
    })
    .unwrap();
    s.issue(Some(id));

    c.certificate_delete(id).unwrap();
    assert!(c.certificate_list().unwrap().iter().all(|r| r.id != id));
    let e = c.certificate_view(id).unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::NotFound),
        "{e:?}"
    );
}

#[test]
fn multi_domain_order_and_altname_reissue() {
    let s = sim();
    let c = client(&s);
    // 3040 is the multi-domain plan of the shipped catalog (altname addon).
    let mut o = order("multi.example.com", "item-102");
    o.pricelist = 3040;
    o.altnames = vec!["a.multi.example.com".into(), "b.multi.example.com".into()];
    let id = c.certificate_order(&o).unwrap();
    let v = c.certificate_view(id).unwrap();
    assert_eq!(v.altnames, ["a.multi.example.com", "b.multi.example.com"]);
    s.issue(Some(id));
    c.certificate_reissue(&Reissue {
        id,
        kind: ReissueKind::AltName {
            altnames: vec!["c.multi.example.com".into()],
        },
        approver_method: None,
        approver_emails: vec![],
    })
    .unwrap();
    assert_eq!(
        c.certificate_view(id).unwrap().altnames,
        ["c.multi.example.com"]
    );
}

#[test]
fn delete_with_empty_ok_body_is_success() {
    let s = sim();
    let c = client(&s);
    let id = c
        .certificate_order(&order("empty-ok.example.com", "item-103"))
        .unwrap();
    s.knobs(&[("ok_body", "empty")]);
    c.certificate_delete(id).unwrap();
    assert!(c.certificate_list().unwrap().iter().all(|r| r.id != id));
}

#[test]
fn not_enough_money_is_definite_and_explained() {
    let s = sim();
    s.set_account(&SimAccount::new(USER, PASSWORD, "5.00", "EUR"));
    let c = client(&s);
    let e = c
        .certificate_order(&order("poor.example.com", "item-104"))
        .unwrap_err();
    let a = e.api().expect("API error");
    assert_eq!(a.class(), ApiErrorClass::Money);
    assert_eq!(a.param("amount"), Some("21.00"));
    assert!(!e.maybe_applied());
    let m = ModuleError::from(e.clone());
    assert_eq!(m.kind, ErrorKind::NotEnoughMoney);
    assert!(
        m.message
            .contains("upstream balance 5.00 EUR, order needs 21.00 EUR"),
        "{}",
        m.message
    );
    assert!(
        m.params
            .contains(&("deficit".to_string(), "16.00".to_string())),
        "{:?}",
        m.params
    );
    assert!(c.certificate_list().unwrap().is_empty());
    assert_eq!(balance(&s), dec("5.00"));
}

#[test]
fn bad_request_errors_are_definite() {
    let s = sim();
    let c = client(&s);
    let mut o = order("bad.example.com", "item-105");
    o.pricelist = 999_999;
    let e = c.certificate_order(&o).unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::BadRequest),
        "{e:?}"
    );
    assert!(!e.maybe_applied());
    let m = ModuleError::from(e);
    assert_eq!(m.kind, ErrorKind::UpstreamError);
    assert!(m.params.iter().any(|(k, _)| k == "upstream_type"));
    assert!(c.certificate_list().unwrap().is_empty());
}

#[test]
fn suspend_and_resume_access_denied_by_default() {
    let s = sim();
    let c = client(&s);
    let id = c
        .certificate_order(&order("susp.example.com", "item-106"))
        .unwrap();
    s.issue(Some(id));
    let e = c.certificate_suspend(id).unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::Access),
        "{e:?}"
    );
    assert_eq!(ModuleError::from(e).kind, ErrorKind::UpstreamAccess);
    s.set_account(&SimAccount {
        may_suspend: true,
        ..SimAccount::new(USER, PASSWORD, "100.00", "EUR")
    });
    c.certificate_suspend(id).unwrap();
    c.certificate_resume(id).unwrap();
}

#[test]
fn dropped_after_commit_order_is_outcome_unknown() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::new(
        "certificate.order.param",
        "drop_after_commit",
    ));
    let e = c
        .certificate_order(&order("lost.example.com", "item-107"))
        .unwrap_err();
    assert!(e.maybe_applied(), "{e:?}");
    assert!(e.api().is_none(), "not a definite failure: {e:?}");
    assert!(matches!(e, UpstreamError::Dropped { .. }), "{e:?}");
    let m = ModuleError::from(e.clone());
    assert!(m.message.contains("outcome unknown"), "{}", m.message);
    assert_no_password(&e);
    // It was applied upstream: the order exists and was paid.
    let rows = c.certificate_list().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cn, "lost.example.com");
    assert_eq!(balance(&s), dec("79.00"));
}

#[test]
fn refused_request_is_not_a_definite_failure() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::new("certificate.delete", "refuse"));
    let e = c.certificate_delete(42).unwrap_err();
    // The connection closed after we wrote the request: we cannot know.
    assert!(matches!(e, UpstreamError::Dropped { .. }), "{e:?}");
    assert!(e.maybe_applied());
}

#[test]
fn http_502_reports_status_and_one_line() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::new("whoami", "http_502"));
    let e = c.whoami().unwrap_err();
    match &e {
        UpstreamError::HttpStatus {
            status, first_line, ..
        } => {
            assert_eq!(*status, 502);
            assert!(first_line.contains("502"), "{first_line}");
            assert!(
                !first_line.contains('\n') && !first_line.contains("<html"),
                "{first_line}"
            );
            assert!(first_line.len() < 200);
        }
        other => panic!("{other:?}"),
    }
    let m = ModuleError::from(e.clone());
    assert_eq!(m.kind, ErrorKind::UpstreamBadResponse);
    assert!(!m.message.contains("<body"), "{}", m.message);
}

#[test]
fn html_page_is_not_xml() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::new("certificate", "not_xml"));
    let e = c.certificate_list().unwrap_err();
    assert!(
        matches!(&e, UpstreamError::NotXml { first_line, .. } if !first_line.contains('<')),
        "{e:?}"
    );
    assert_eq!(ModuleError::from(e).kind, ErrorKind::UpstreamBadResponse);
}

#[test]
fn truncated_answer_is_malformed_and_maybe_applied() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::new("certificate.order.param", "truncated"));
    let e = c
        .certificate_order(&order("cut.example.com", "item-108"))
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Malformed { .. }), "{e:?}");
    assert!(e.maybe_applied());
    assert_eq!(c.certificate_list().unwrap().len(), 1);
}

#[test]
fn scripted_api_error_keeps_type_and_params() {
    let s = sim();
    let c = client(&s);
    s.fault(&SimFault::error(
        "service.prolong",
        "stat_addon_over_limit",
        &[("limit", "3")],
    ));
    let e = c.service_prolong(1, 12).unwrap_err();
    let a = e.api().expect("API error");
    assert_eq!(a.kind, "stat_addon_over_limit");
    assert_eq!(a.param("limit"), Some("3"));
    assert_eq!(a.class(), ApiErrorClass::Other);
    let m = ModuleError::from(e);
    assert_eq!(m.kind, ErrorKind::UpstreamError);
    assert!(m.params.contains(&(
        "upstream_type".to_string(),
        "stat_addon_over_limit".to_string()
    )));
}

#[test]
fn delay_past_timeout_is_sent_timeout() {
    let s = sim();
    let cfg = UpstreamConfig {
        timeout_secs: 1,
        ..UpstreamConfig::default()
    };
    let c = client_cfg(&s, cfg);
    s.fault(&SimFault::new("certificate.order.param", "delay").delay_ms(2500));
    let e = c
        .certificate_order(&order("slow.example.com", "item-109"))
        .unwrap_err();
    assert_eq!(
        e,
        UpstreamError::Timeout {
            func: "certificate.order.param".into(),
            sent: true
        }
    );
    assert!(e.maybe_applied());
    assert_eq!(ModuleError::from(e).kind, ErrorKind::UpstreamTimeout);
}

#[test]
fn oversized_answer_is_refused() {
    let s = sim();
    let cfg = UpstreamConfig {
        max_response_bytes: 200,
        ..UpstreamConfig::default()
    };
    let e = client_cfg(&s, cfg).pricelist_export().unwrap_err();
    assert_eq!(
        e,
        UpstreamError::TooLarge {
            func: "pricelist.export".into(),
            limit: 200
        }
    );
}

#[test]
fn connection_refused_is_connect_and_nothing_sent() {
    log_file();
    // Bind then drop: the port is free and nobody listens.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/billmgr");
    let c = Client::new(&conn(&url, PASSWORD), &UpstreamConfig::default()).unwrap();
    let e = c.whoami().unwrap_err();
    assert!(matches!(e, UpstreamError::Connect { .. }), "{e:?}");
    assert!(!e.maybe_applied());
    let m = ModuleError::from(e.clone());
    assert_eq!(m.kind, ErrorKind::UpstreamUnreachable);
    assert_eq!(
        m.object.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_no_password(&e);
}

/// A listener that never accepts, its accept queue filled: the kernel drops
/// further SYNs, so connecting hangs until the connect timeout.
#[test]
fn connect_timeout_is_timeout_with_nothing_sent() {
    log_file();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut queue_full = false;
    for _ in 0..5000 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => {
                queue_full = true;
                break;
            }
        }
    }
    assert!(
        queue_full,
        "could not fill the accept queue ({} connections)",
        held.len()
    );
    let cfg = UpstreamConfig {
        connect_timeout_secs: 1,
        ..UpstreamConfig::default()
    };
    let c = Client::new(&conn(&format!("http://{addr}/billmgr"), PASSWORD), &cfg).unwrap();
    let e = c.certificate_delete(1).unwrap_err();
    assert_eq!(
        e,
        UpstreamError::Timeout {
            func: "certificate.delete".into(),
            sent: false
        }
    );
    assert!(!e.maybe_applied());
    assert_eq!(ModuleError::from(e).kind, ErrorKind::UpstreamTimeout);
}

#[test]
fn http_to_remote_host_refused_before_any_network_access() {
    for url in [
        "http://192.0.2.10/billmgr",
        "http://billing.example.com",
        "http://[2001:db8::1]/billmgr",
    ] {
        let e = Client::new(&conn(url, PASSWORD), &UpstreamConfig::default()).unwrap_err();
        assert!(
            matches!(&e, UpstreamError::Config(m) if m.contains("loopback")),
            "{e:?}"
        );
        assert_eq!(ModuleError::from(e).kind, ErrorKind::Config);
    }
}

#[test]
fn tls_needs_the_ca_and_works_with_ca_file() {
    log_file();
    let s = SimUpstream::start_https();
    s.set_account(&SimAccount::new(USER, PASSWORD, "100.00", "EUR"));
    assert!(s.url().starts_with("https://"), "{}", s.url());
    let e = client(&s).whoami().unwrap_err();
    assert!(matches!(e, UpstreamError::Tls { .. }), "{e:?}");
    assert!(!e.maybe_applied());
    assert_eq!(ModuleError::from(e.clone()).kind, ErrorKind::UpstreamTls);
    assert_no_password(&e);

    let cfg = UpstreamConfig {
        ca_file: s.ca_file(),
        ..UpstreamConfig::default()
    };
    let a = client_cfg(&s, cfg).whoami().unwrap();
    assert_eq!(a.balance, dec("100.00"));
}

#[test]
fn https_to_a_plain_http_server_is_tls_failure() {
    let s = sim();
    let url = s.url().replace("http://", "https://");
    let e = Client::new(&conn(&url, PASSWORD), &UpstreamConfig::default())
        .unwrap()
        .whoami()
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Tls { .. }), "{e:?}");
}

/// The raw request: POST, form body with authinfo, nothing in the request line.
#[test]
fn password_only_in_the_post_body() {
    log_file();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read headers and the Content-Length body.
        loop {
            let n = sock.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let body = "<doc><user name=\"r\" balance=\"1.00\"/></doc>";
        let _ = write!(
            sock,
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            body
        );
        String::from_utf8(buf).unwrap()
    });
    let c = Client::new(
        &conn(&format!("http://{addr}/billmgr"), PASSWORD),
        &UpstreamConfig::default(),
    )
    .unwrap();
    assert_eq!(c.whoami().unwrap().balance, dec("1.00"));
    let raw = server.join().unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let request_line = head.lines().next().unwrap();
    assert_eq!(request_line, "POST /billmgr HTTP/1.1");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/x-www-form-urlencoded"));
    let encoded: String = form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
    assert!(
        !head.contains(PASSWORD) && !head.contains(&encoded),
        "{head}"
    );
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("authinfo".into(), format!("{USER}:{PASSWORD}"))));
    assert!(pairs.contains(&("out".into(), "xml".into())));
    assert!(pairs.contains(&("func".into(), "whoami".into())));
}

#[test]
fn password_not_in_journal_debug_or_log() {
    let log = log_file();
    let s = sim();
    let c = client(&s);
    // Successful, failing and faulted calls, all logged at trace level.
    c.whoami().unwrap();
    let id = c
        .certificate_order(&order("leak.example.com", "item-110"))
        .unwrap();
    s.fault(&SimFault::new("certificate.edit", "http_502"));
    let e = c.certificate_view(id).unwrap_err();
    assert_no_password(&e);
    let bad = Client::new(&conn(&s.url(), "Wr0ng-Pa55"), &UpstreamConfig::default()).unwrap();
    let e = bad.whoami().unwrap_err();
    assert_no_password(&e);

    let dbg = format!("{c:?} {:?}", conn(&s.url(), PASSWORD));
    assert!(!dbg.contains(PASSWORD) && !dbg.contains("Pa55"), "{dbg}");

    let journal = format!("{:?}", s.journal());
    assert!(
        journal.contains("whoami"),
        "journal records calls: {journal}"
    );
    let encoded: String = form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
    assert!(
        !journal.contains(PASSWORD) && !journal.contains(&encoded),
        "{journal}"
    );

    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("upstream whoami: ok"),
        "the log has the request lines"
    );
    assert!(
        text.contains("authinfo=reseller@example.com:***"),
        "trace line present"
    );
    assert!(!text.contains(PASSWORD), "password in the log");
    assert!(!text.contains(&encoded), "encoded password in the log");
    assert!(!text.contains("Pa55"), "password part in the log");
}

/// The client does not depend on the unconfirmed guesses: each knob flips one
/// and the client still reads what exists (A-U8, A-U9, A-U10, A-U12).
#[test]
fn tolerant_of_the_unconfirmed_shapes() {
    let s = sim();
    let c = client(&s);
    let id = c
        .certificate_order(&order("knobs.example.com", "item-111"))
        .unwrap();

    // A-U10: remoteid as a list column, or absent from the view.
    assert_eq!(c.certificate_list().unwrap()[0].remoteid, None);
    s.knobs(&[("list_remoteid", "on"), ("edit_remoteid", "off")]);
    assert_eq!(
        c.certificate_list().unwrap()[0].remoteid.as_deref(),
        Some("item-111")
    );
    assert_eq!(c.certificate_view(id).unwrap().remoteid, None);

    // A-U8: item_status as a label instead of a code: kept as text.
    s.knobs(&[("item_status_label", "on")]);
    let row = &c.certificate_list().unwrap()[0];
    let status = row.item_status.as_deref().expect("a status");
    assert!(status.parse::<u32>().is_err(), "a label: {status}");

    // A-U9: other spellings of the credentials / permission error types.
    s.knobs(&[
        ("auth_error_type", "badauth"),
        ("access_error_type", "noaccess"),
    ]);
    let bad = Client::new(&conn(&s.url(), "wrong"), &UpstreamConfig::default()).unwrap();
    let e = bad.whoami().unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::Auth),
        "{e:?}"
    );
    s.issue(Some(id));
    let e = c.certificate_suspend(id).unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::Access),
        "{e:?}"
    );

    // A-U5 / SIM-21 noise: unknown elements everywhere change nothing.
    s.knobs(&[("noise", "on")]);
    assert_eq!(c.certificate_view(id).unwrap().cn, "knobs.example.com");
    assert_eq!(c.certificate_list().unwrap().len(), 1);
}

#[test]
fn duplicate_remoteid_is_exists_when_the_upstream_enforces_it() {
    let s = sim();
    let c = client(&s);
    s.knobs(&[("remoteid_unique", "on")]);
    c.certificate_order(&order("dup.example.com", "item-112"))
        .unwrap();
    let e = c
        .certificate_order(&order("dup.example.com", "item-112"))
        .unwrap_err();
    assert_eq!(
        e.api().map(|a| a.class()),
        Some(ApiErrorClass::Exists),
        "{e:?}"
    );
    assert!(!e.maybe_applied());
    assert_eq!(c.certificate_list().unwrap().len(), 1);
}
