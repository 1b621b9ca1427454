//! `pmsslreseller --command check_connection` as BILLmanager runs it: settings
//! XML on stdin, MGR5_ROOT pointing at a temp root, the real simulator upstream.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use support::sim::{SimAccount, SimUpstream};

const USER: &str = "reseller@example.com";
const PASSWORD: &str = "Ch3ck-Conn&Pw=x";

struct Run {
    code: i32,
    stdout: String,
    log: String,
}

/// A temp BILLmanager root with trace logging (so the leak check sees everything).
fn root() -> tempfile::TempDir {
    let dir = support::scratch_billmanager_root();
    std::fs::write(dir.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
    dir
}

fn settings_xml(url: &str, username: &str, password: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>1</id><url>{}</url>\
         <username>{}</username><password>{}</password><mirror_suspend>off</mirror_suspend>\
         </processingmodule></doc>\n",
        esc(url),
        esc(username),
        esc(password)
    )
}

fn run(root: &Path, stdin: &str) -> Run {
    let mut child = Command::new(support::bin_path("pmsslreseller"))
        .args(["--command", "check_connection"])
        .env("MGR5_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        // A configuration error is answered before the input is read.
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    let log = std::fs::read_to_string(root.join("var/pmsslreseller.log")).unwrap_or_default();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        log,
    };
    assert!(
        !r.stdout.contains(PASSWORD),
        "password on stdout: {}",
        r.stdout
    );
    assert!(!r.log.contains(PASSWORD), "password in the log:\n{}", r.log);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(PASSWORD),
        "password on stderr"
    );
    r
}

fn error_type(stdout: &str) -> Option<String> {
    let start = stdout.find("<error type=\"")? + "<error type=\"".len();
    let len = stdout[start..].find('"')?;
    Some(stdout[start..start + len].to_string())
}

fn sim() -> SimUpstream {
    let s = SimUpstream::start();
    s.set_account(&SimAccount::new(USER, PASSWORD, "321.50", "EUR"));
    s
}

#[test]
fn success_prints_empty_doc_and_logs_balance() {
    let s = sim();
    let r = root();
    let out = run(r.path(), &settings_xml(&s.url(), USER, PASSWORD));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        out.stdout,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc/>\n"
    );
    assert!(out.log.contains("balance 321.50 EUR"), "{}", out.log);
    assert!(out.log.contains("upstream whoami: ok"), "{}", out.log);
}

#[test]
fn wrong_password_is_invalid_login() {
    let s = sim();
    let r = root();
    let out = run(r.path(), &settings_xml(&s.url(), USER, "Wrong-Pw-123"));
    assert_eq!(out.code, 1);
    assert_eq!(
        error_type(&out.stdout).as_deref(),
        Some("invalid_login_or_passwd"),
        "{}",
        out.stdout
    );
    assert!(!out.log.contains("Wrong-Pw-123"), "{}", out.log);
    assert!(!out.stdout.contains("Wrong-Pw-123"));
}

#[test]
fn unreachable_upstream() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = root();
    let out = run(
        r.path(),
        &settings_xml(&format!("http://127.0.0.1:{port}/billmgr"), USER, PASSWORD),
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        error_type(&out.stdout).as_deref(),
        Some("upstream_unreachable"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("object=\"127.0.0.1:{port}\"")),
        "{}",
        out.stdout
    );
}

#[test]
fn tls_failure_then_ca_file_fixes_it() {
    let s = SimUpstream::start_https();
    s.set_account(&SimAccount::new(USER, PASSWORD, "10.00", "EUR"));
    let r = root();
    let input = settings_xml(&s.url(), USER, PASSWORD);
    let out = run(r.path(), &input);
    assert_eq!(out.code, 1);
    assert_eq!(
        error_type(&out.stdout).as_deref(),
        Some("upstream_tls"),
        "{}",
        out.stdout
    );

    std::fs::write(
        r.path().join("etc/pmsslreseller.toml"),
        format!(
            "[upstream]\nca_file = \"{}\"\n",
            s.ca_file().unwrap().display()
        ),
    )
    .unwrap();
    let out = run(r.path(), &input);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn http_to_remote_host_is_config_error() {
    let r = root();
    let out = run(
        r.path(),
        &settings_xml("http://billing.example.com/billmgr", USER, PASSWORD),
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        error_type(&out.stdout).as_deref(),
        Some("config"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("object=\"url\""), "{}", out.stdout);
}

#[test]
fn unreadable_ca_file_is_config_error() {
    let r = root();
    std::fs::write(
        r.path().join("etc/pmsslreseller.toml"),
        "[upstream]\nca_file = \"/nonexistent/upstream-ca.pem\"\n",
    )
    .unwrap();
    let out = run(
        r.path(),
        &settings_xml("https://billing.example.com", USER, PASSWORD),
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        error_type(&out.stdout).as_deref(),
        Some("config"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("object=\"ca_file\""), "{}", out.stdout);
    assert!(
        out.stdout.contains("/nonexistent/upstream-ca.pem"),
        "{}",
        out.stdout
    );
}

#[test]
fn missing_setting_is_missed_with_object() {
    let r = root();
    let out = run(
        r.path(),
        &settings_xml("https://billing.example.com", USER, ""),
    );
    assert_eq!(out.code, 1);
    assert_eq!(error_type(&out.stdout).as_deref(), Some("missed"));
    assert!(out.stdout.contains("object=\"password\""), "{}", out.stdout);
    let out = run(r.path(), &settings_xml("", USER, PASSWORD));
    assert!(out.stdout.contains("object=\"url\""), "{}", out.stdout);
}

/// Settings that are not well-formed XML, with the password written raw
/// (a sender that did not escape it): the parser's complaint would quote a
/// piece of it, before the password is known to the redaction. The answer
/// says what is wrong and where, and quotes nothing of the input.
#[test]
fn ill_formed_settings_quote_nothing_of_the_password() {
    let r = root();
    for (raw, piece) in [
        ("<Tag-Pa55word>", "Tag-Pa55word"),
        ("x&Ent1ty-Pa55;", "Ent1ty-Pa55"),
        ("Amp-Pa55&word", "Amp-Pa55"),
    ] {
        let stdin = format!(
            "<doc><processingmodule><url>https://billing.example.com</url>\
             <username>{USER}</username><password>{raw}</password></processingmodule></doc>"
        );
        let out = run(r.path(), &stdin);
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(
            error_type(&out.stdout).as_deref(),
            Some("value"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("object=\"stdin\""), "{}", out.stdout);
        assert!(out.stdout.contains("not valid XML"), "{}", out.stdout);
        assert!(!out.stdout.contains(piece), "{raw}: {}", out.stdout);
        assert!(!out.log.contains(piece), "{raw}: {}", out.log);
    }
}

#[test]
fn features_advertises_check_connection() {
    let r = root();
    let out = Command::new(support::bin_path("pmsslreseller"))
        .args(["--command", "features"])
        .env("MGR5_ROOT", r.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("<feature name=\"check_connection\"/>"),
        "{text}"
    );
}

/// A short password (here "oop") is warned about, is never in the log as a
/// value, and does not mask unrelated text: the username "loopback-…"
/// stays readable.
#[test]
fn a_short_password_is_warned_about_and_masks_only_itself() {
    const SHORT_USER: &str = "loopback-reseller@example.com";
    let s = SimUpstream::start();
    s.set_account(&SimAccount::new(SHORT_USER, "oop", "10.00", "EUR"));
    let r = root();
    let out = run(r.path(), &settings_xml(&s.url(), SHORT_USER, "oop"));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.log.lines().any(|l| l.contains("WARN")
            && l.contains("the upstream password entered is shorter than 6 characters")),
        "{}",
        out.log
    );
    assert!(out.log.contains(SHORT_USER), "{}", out.log);
    for text in [&out.log, &out.stdout] {
        assert!(
            !text
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "oop"),
            "the short password as a value: {text}"
        );
    }
}
