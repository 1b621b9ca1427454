//! State across restarts (SIM-34) and HTTPS with the generated CA.

mod common;
use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::Arc;

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let (id, sid) = {
        let sim = Sim::start(&["--state", state_arg, "--knob", "prolong_shape=flat"]);
        let id = sim.order("example.com", &[("remoteid", "svc-7")]);
        sim.control("POST", "/_sim/tick", json!({}));
        sim.control("POST", "/_sim/clock", json!({"advance_secs": 3600}));
        let a = sim
            .post_form(&[
                ("out", "xml"),
                ("func", "auth"),
                ("username", USER),
                ("password", PASS),
            ])
            .unwrap();
        (id, attr(&a.body, "doc/auth", "id").unwrap())
    };
    assert!(state.exists());
    // Restart without --account: the account comes from the state file.
    let sim = Sim::start_bare(&["--state", state_arg]);
    assert_eq!(sim.balance(), "79.00");
    let item = sim.item(id);
    assert_eq!(item["service_status"], 4);
    assert_eq!(item["remoteid"], "svc-7");
    let knobs = sim.control("GET", "/_sim/knobs", Value::Null);
    assert_eq!(knobs["prolong_shape"], "flat");
    // Sessions and the clock offset survive too; new ids continue after the old ones.
    let xml = sim
        .post_form(&[("out", "xml"), ("func", "whoami"), ("auth", &sid)])
        .unwrap()
        .body;
    assert!(error(&xml).is_none(), "{xml}");
    let id2 = sim.order("b.example.com", &[]);
    assert!(id2 > id);
    sim.control("POST", "/_sim/issue", json!({"id": id}));
    drop(sim);
    let sim = Sim::start_bare(&["--state", state_arg]);
    assert_eq!(sim.item(id)["service_status"], 5);
    assert_eq!(sim.balance(), "58.00");
}

#[test]
fn https_with_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(&["--tls-dir", dir.path().to_str().unwrap()]);
    assert!(
        sim.first_line
            .starts_with("listening on https://127.0.0.1:"),
        "{}",
        sim.first_line
    );
    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let config = Arc::new(config);
    let body = form(&[
        ("out", "xml"),
        ("func", "whoami"),
        ("authinfo", &format!("{USER}:{PASS}")),
    ]);
    let request = format!(
        "POST /billmgr HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for name in ["127.0.0.1", "localhost"] {
        let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let conn = rustls::ClientConnection::new(config.clone(), server_name).unwrap();
        let tcp = std::net::TcpStream::connect(&sim.addr).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(request.as_bytes()).unwrap();
        let mut buf = Vec::new();
        // A complete answer ends with close_notify, so reading to the end is clean.
        tls.read_to_end(&mut buf).expect("clean TLS end of answer");
        let a = parse_answer(&buf).unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(
            attr(&a.body, "doc/user", "balance").as_deref(),
            Some("100.00"),
            "{name}"
        );
    }
    // A client that does not trust the CA fails the handshake.
    let empty = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(empty), "localhost".try_into().unwrap()).unwrap();
    let tcp = std::net::TcpStream::connect(&sim.addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    assert!(
        tls.write_all(request.as_bytes())
            .and_then(|_| tls.flush())
            .is_err()
            || {
                let mut buf = Vec::new();
                tls.read_to_end(&mut buf).is_err()
            }
    );
}
