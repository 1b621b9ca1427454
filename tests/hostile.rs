//! Hostile peers: an upstream that trickles its answer,
//! answers built to exhaust the XML reader, an `mgrctl` that hangs or leaves a
//! process holding its stdout, unsafe settings, forged log lines, a
//! self-signed `ca_file`, core dumps and secrets left in memory.
//!
//! Time and CPU bounds here are generous hang guards, never performance
//! assertions: the point of each test is the kind of the result.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use pmsslreseller::config::UpstreamConfig;
use pmsslreseller::secret::Secret;
use pmsslreseller::upstream::{Client, Connection, UpstreamError};

const USER: &str = "reseller@example.com";
const PASSWORD: &str = "hostile-peer-Pa55";

fn conn(url: &str) -> Connection {
    Connection {
        url: url.to_string(),
        username: USER.to_string(),
        password: Secret::new(PASSWORD),
    }
}

/// A loopback HTTP server answering each of the first `max_conns`
/// connections with `answer` (run in its own thread, bounded by the
/// connection count and by write errors once the client is gone).
fn raw_server(max_conns: usize, answer: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_conns) {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                read_request(&mut stream);
                answer(&mut stream);
            });
        }
    });
    format!("http://{addr}/billmgr")
}

/// Read the request head and its Content-Length body, so the client sees
/// its request taken before the answer starts.
fn read_request(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}

/// Valid headers at once, then one byte of a plausible body per second (at
/// most a minute: the server thread ends by itself).
fn slowloris(stream: &mut TcpStream) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for byte in "<doc><elem>".bytes().cycle().take(60) {
        if stream.write_all(&[byte]).is_err() || stream.flush().is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn slowloris_upstream_ends_at_the_total_deadline() {
    let url = raw_server(2, slowloris);
    let cfg = UpstreamConfig {
        timeout_secs: 2,
        connect_timeout_secs: 1,
        ..UpstreamConfig::default()
    };
    let client = Client::new(&conn(&url), &cfg).unwrap();
    let started = Instant::now();
    let e = client.whoami().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        e,
        UpstreamError::Timeout {
            func: "whoami".into(),
            sent: true
        },
        "{e}"
    );
    // The answer may have been applied: a money call would be "outcome unknown".
    assert!(e.maybe_applied());
    assert!(
        elapsed < Duration::from_secs(2 + 5),
        "a trickling answer held the call for {elapsed:?} with timeout_secs = 2"
    );
}

static LOG_FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// This test process's module log, at trace level (set up once).
fn log_file() -> std::path::PathBuf {
    LOG_FILE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            let root = pmsslreseller::paths::MgrRoot::new(&dir);
            pmsslreseller::logging::init(&root, "trace").unwrap();
            root.log_file()
        })
        .clone()
}

/// A complete answer with `body`, then close.
fn answer_with(body: String) -> impl Fn(&mut TcpStream) + Send + Sync + 'static {
    move |stream: &mut TcpStream| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
        let _ = stream.flush();
    }
}

#[test]
fn a_30_mb_attribute_never_becomes_a_30_mb_log_line() {
    let log = log_file();
    let huge = "A".repeat(30_000_000);
    let url = raw_server(
        1,
        answer_with(format!(
            "<doc><error type=\"{huge}\" object=\"x\"><msg>{huge}</msg></error></doc>"
        )),
    );
    let cfg = UpstreamConfig {
        max_response_bytes: 128 * 1024 * 1024,
        ..UpstreamConfig::default()
    };
    let client = Client::new(&conn(&url), &cfg).unwrap();
    let e = client.whoami().unwrap_err();
    let api = e.api().expect("an API error");
    assert!(api.kind.len() < 1000, "kind kept {} bytes", api.kind.len());
    assert!(api.kind.contains("30000000 bytes"), "{}", api.kind);
    let module_error = pmsslreseller::protocol::error::ModuleError::from(e.clone());
    let xml = module_error.to_document();
    assert!(xml.len() < 16 * 1024, "error XML of {} bytes", xml.len());
    log::error!("as the module would log it: {module_error}");
    log::logger().flush();
    let text = std::fs::read_to_string(&log).unwrap();
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest <= pmsslreseller::logging::MAX_LINE_BYTES + 200,
        "a log line of {longest} bytes"
    );
    assert!(text.contains("30000000 bytes"), "the length is said");
}

/// A BILLmanager root holding only `etc/pmsslreseller.toml` with `config`.
fn root_with_config(config: &str) -> tempfile::TempDir {
    let dir = support::scratch_billmanager_root();
    std::fs::write(dir.path().join("etc/pmsslreseller.toml"), config).unwrap();
    dir
}

fn module(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pmsslreseller"))
        .args(args)
        .env("MGR5_ROOT", root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn config_command_refuses_unsafe_settings_and_says_why() {
    let root = root_with_config(
        "[upstream]\ntimeout_secs = 1\n[lifecycle]\nsettle_secs = 2\nlock_wait_secs = 10\n\
         [mgrctl]\ntimeout_secs = 10\n",
    );
    let out = module(root.path(), &["config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lifecycle.settle_secs"), "{stderr}");
    assert!(stderr.contains("set at least 6"), "{stderr}");
    assert!(stderr.contains("mgrctl.timeout_secs"), "{stderr}");
    assert!(stderr.contains("lock_wait_secs (10)"), "{stderr}");

    // BILLmanager's calls refuse to run under them too: no money moves.
    let out = module(root.path(), &["--command", "open", "--item", "5"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("type=\"config\""), "{stdout}");

    // Safe ones pass and are shown.
    let root = root_with_config("[lifecycle]\nsettle_secs = 120\n[mgrctl]\ntimeout_secs = 20\n");
    let out = module(root.path(), &["config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("timeout_secs = 20"), "{stdout}");
}

#[test]
fn a_newline_in_the_command_cannot_forge_a_log_line() {
    let root = root_with_config("[log]\nlevel = \"debug\"\n");
    let forged = "2026-01-01 00:00:00.000 [1] INFO  [open item=1] upstream certificate.order: ok";
    let out = module(
        root.path(),
        &["--command", &format!("nosuch\n{forged}"), "--item", "1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let log = std::fs::read_to_string(root.path().join("var/pmsslreseller.log")).unwrap();
    assert!(!log.is_empty());
    for line in log.lines() {
        assert!(
            !line.starts_with("2026-01-01"),
            "a forged line in the log:\n{log}"
        );
    }
}

/// A loopback HTTPS server with a fixture certificate, answering every
/// request (at most `max_conns`) with an upstream auth error.
fn tls_server(fixture: &str, max_conns: usize) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join(format!("{fixture}.pem")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{fixture}.key"))).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(max_conns) {
            let Ok(tcp) = tcp else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 8192];
                // The handshake happens here; a client refusing it ends it.
                if !matches!(tls.read(&mut buf), Ok(n) if n > 0) {
                    return;
                }
                let body = "<doc><error type=\"auth\"><msg>test server</msg></error></doc>";
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("https://127.0.0.1:{port}/billmgr")
}

fn with_ca_file(fixture: &str) -> UpstreamConfig {
    UpstreamConfig {
        ca_file: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/fixtures/tls/{fixture}.pem")),
        ),
        timeout_secs: 10,
        ..UpstreamConfig::default()
    }
}

#[test]
fn a_self_signed_ca_true_ca_file_gets_an_error_saying_what_to_do() {
    let url = tls_server("selfsigned-ca-true", 2);
    let client = Client::new(&conn(&url), &with_ca_file("selfsigned-ca-true")).unwrap();
    let e = client.whoami().unwrap_err();
    assert!(matches!(e, UpstreamError::Tls { .. }), "{e:?}");
    assert!(!e.maybe_applied());
    let m = pmsslreseller::protocol::error::ModuleError::from(e);
    assert_eq!(
        m.kind,
        pmsslreseller::protocol::error::ErrorKind::UpstreamTls
    );
    assert!(m.message.contains("CA:TRUE"), "{}", m.message);
    assert!(m.message.contains("CA:FALSE"), "{}", m.message);
    assert!(m.message.contains("ca_file"), "{}", m.message);
}

#[test]
fn a_self_signed_ca_false_ca_file_works() {
    let url = tls_server("selfsigned-ca-false", 2);
    let client = Client::new(&conn(&url), &with_ca_file("selfsigned-ca-false")).unwrap();
    let e = client.whoami().unwrap_err();
    // Past TLS: the test server's own answer.
    let api = e.api().unwrap_or_else(|| panic!("not an API error: {e:?}"));
    assert_eq!(api.kind, "auth");
}

#[test]
fn the_module_runs_without_core_dumps() {
    use std::os::unix::fs::PermissionsExt;
    let root = root_with_config("");
    std::fs::create_dir_all(root.path().join("sbin")).unwrap();
    let seen = root.path().join("core-limit");
    // The stand-in reports the core limit it inherited from the module.
    let script = format!(
        "#!/bin/sh\n(ulimit -c; ulimit -Hc) > {}\necho 'core is down' >&2\nexit 3\n",
        seen.display()
    );
    let mgrctl = root.path().join("sbin/mgrctl");
    std::fs::write(&mgrctl, script).unwrap();
    std::fs::set_permissions(&mgrctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Started with core dumps allowed, as a shell with `ulimit -c unlimited`.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pmsslreseller"));
    command
        .args([
            "--command",
            "open",
            "--item",
            "5",
            "--runningoperation",
            "7",
        ])
        .env("MGR5_ROOT", root.path())
        .stdin(std::process::Stdio::null());
    unsafe {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
        command.pre_exec(|| {
            let allowed = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &allowed) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let limit = std::fs::read_to_string(&seen).expect("the module called mgrctl");
    assert_eq!(limit.split_whitespace().collect::<Vec<_>>(), ["0", "0"]);
}
