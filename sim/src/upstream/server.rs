//! The listener: one thread per connection, one request per connection. Routes `/billmgr` and
//! `/manager/billmgr` to the API (with the fault script applied, SIM-31) and `/_sim/…` to the control
//! API (SIM-33); nothing else is served.

use super::control;
use super::faults::FaultKind;
use super::handlers;
use super::http::{read_request, Request, Response, Stream};
use super::journal::{mask, Entry};
use super::sim::Sim;
use super::xml::Node;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A client that stops talking is dropped after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub type Shared = Arc<Mutex<Sim>>;

/// Locks the simulator; a panic in another request thread does not stop the simulator.
pub fn lock(sim: &Shared) -> MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, sim: Shared) {
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        let sim = sim.clone();
        let tls = tls.clone();
        std::thread::spawn(move || connection(tcp, tls, sim));
    }
}

fn connection(tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, sim: Shared) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Stream> = match tls {
        Some(cfg) => match rustls::ServerConnection::new(cfg) {
            Ok(conn) => Box::new(rustls::StreamOwned::new(conn, tcp)),
            Err(_) => return,
        },
        None => Box::new(tcp),
    };
    let req = match read_request(&mut *stream) {
        Ok(r) => r,
        Err(e) => {
            let _ = Response::html(400, page("Bad request", &e)).write_to(&mut *stream);
            return;
        }
    };
    if req.path.starts_with("/_sim/") {
        let resp = control::handle(&sim, &req);
        let _ = resp.write_to(&mut *stream);
    } else if req.path == "/billmgr" || req.path == "/manager/billmgr" {
        api(&sim, &req, stream);
    } else {
        let _ = Response::html(404, page("Not found", "no such page")).write_to(&mut *stream);
    }
}

fn page(title: &str, text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!DOCTYPE html>\n<html><head><title>{}</title></head><body><h1>{}</h1><p>{}</p></body></html>\n",
        esc(title),
        esc(title),
        esc(text)
    )
}

fn journal(
    sim: &mut Sim,
    params: &BTreeMap<String, String>,
    outcome: String,
    result: Option<String>,
) {
    let time = sim
        .world
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sim.journal.record(Entry {
        seq: 0,
        time,
        func: params.get("func").cloned().unwrap_or_default(),
        params: mask(params),
        outcome,
        result,
    });
}

/// Renders an API document; knob `noise` adds elements real panels send and clients must ignore (SIM-4).
fn render(sim: &Sim, mut doc: Node, func: &str) -> String {
    if sim.world.knobs.on("noise") {
        doc.push(
            Node::new("tparams")
                .field("out", "xml")
                .field("func", func.to_string()),
        );
        doc.push(Node::new("saved_filters"));
        doc.push(Node::new("tips").child(Node::new("tip").text("Simulated tip")));
    }
    doc.to_document()
}

/// Runs the function and answers; `("ok" | "error:<type>" | "html")`.
fn run_api(sim: &mut Sim, params: &BTreeMap<String, String>) -> (Response, String) {
    let func = params.get("func").cloned().unwrap_or_default();
    let out = params.get("out").map(String::as_str).unwrap_or_default();
    if out != "xml" && out != "json" {
        // SIM-3: the panel's UI page, so a client that forgets out=xml fails loudly; nothing is done.
        let html = page(
            "BILLmanager",
            "This is the web interface. Add out=xml to get an API answer.",
        );
        return (Response::html(200, html), "html".to_string());
    }
    let (xml, outcome) = match handlers::dispatch(sim, params) {
        Ok(doc) => (render(sim, doc, &func), "ok".to_string()),
        Err(e) => (render(sim, e.to_doc(), &func), format!("error:{}", e.kind)),
    };
    if out == "xml" {
        return (Response::xml(xml), outcome);
    }
    // out=json: one generic conversion of the XML answer (SIM-3), so both formats always agree.
    match super::dom::parse(&xml) {
        Ok(root) => (Response::json(200, &super::dom::to_json(&root)), outcome),
        Err(e) => (
            Response::html(500, page("Internal error", &e)),
            "error:internal".to_string(),
        ),
    }
}

fn api(sim: &Shared, req: &Request, mut stream: Box<dyn Stream>) {
    // Later pairs win: body after query (SIM-1).
    let params: BTreeMap<String, String> = req.form_params().into_iter().collect();
    let func = params.get("func").cloned().unwrap_or_default();
    let fault = lock(sim).faults.take(&func);
    if let Some(f) = &fault {
        let outcome = format!("fault:{}", f.kind.name());
        match f.kind {
            FaultKind::Refuse => {
                journal(&mut lock(sim), &params, outcome, None);
                drop(stream);
                return;
            }
            FaultKind::Http502 | FaultKind::Http503 => {
                journal(&mut lock(sim), &params, outcome, None);
                let (status, title) = if f.kind == FaultKind::Http502 {
                    (502, "502 Bad Gateway")
                } else {
                    (503, "503 Service Temporarily Unavailable")
                };
                let _ = Response::html(status, page(title, "nginx")).write_to(&mut *stream);
                return;
            }
            FaultKind::NotXml => {
                journal(&mut lock(sim), &params, outcome, None);
                let body = page(
                    "Maintenance",
                    "The billing system is being updated. Please try again later.",
                );
                let _ = Response::html(200, body).write_to(&mut *stream);
                return;
            }
            FaultKind::Error => {
                let mut s = lock(sim);
                let mut e = handlers::ApiError::new(
                    f.error_type.as_deref().unwrap_or("error"),
                    "Simulated error",
                );
                e.params = f
                    .error_params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if e.kind == "not_enough_money" {
                    e.code = Some("1".into());
                }
                let body = render(&s, e.to_doc(), &func);
                journal(&mut s, &params, outcome, None);
                drop(s);
                let _ = Response::xml(body).write_to(&mut *stream);
                return;
            }
            FaultKind::Delay => std::thread::sleep(Duration::from_millis(f.delay_ms)),
            FaultKind::Truncated | FaultKind::DropAfterCommit => {}
        }
    }
    let resp = {
        let mut s = lock(sim);
        s.advance_auto();
        let (resp, result) = run_api(&mut s, &params);
        match &fault {
            Some(f) => journal(
                &mut s,
                &params,
                format!("fault:{}", f.kind.name()),
                Some(result),
            ),
            None => journal(&mut s, &params, result, None),
        }
        s.persist();
        resp
    };
    match fault.map(|f| f.kind) {
        Some(FaultKind::DropAfterCommit) => drop(stream),
        Some(FaultKind::Truncated) => {
            let _ = resp.write_truncated(&mut *stream);
        }
        _ => {
            let _ = resp.write_to(&mut *stream);
        }
    }
}
