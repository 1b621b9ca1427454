//! The listener: one thread per connection, one request per connection. Routes `/billmgr` and
//! `/manager/billmgr` to the API (with the fault script applied, SIM-31) and `/_sim/…` to the control
//! API (SIM-33); nothing else is served. The simulator lock is held for the state work only: the
//! answer is rendered and written after it is released. Every request is timed into `Stats`.

use super::control;
use super::faults::FaultKind;
use super::handlers;
use super::http::{read_request, Request, Response, Stream};
use super::journal::{mask, Entry};
use super::persist::Persister;
use super::sim::Sim;
use super::stats::{Cost, Stats};
use super::xml::Node;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A client that stops talking is dropped after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything the request threads share.
pub struct Shared {
    sim: Mutex<Sim>,
    pub stats: Stats,
    pub persist: Persister,
}

impl Shared {
    pub fn new(sim: Sim, persist: Persister) -> Shared {
        Shared {
            sim: Mutex::new(sim),
            stats: Stats::default(),
            persist,
        }
    }

    /// Locks the simulator; a panic in another request thread does not stop the simulator.
    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Times one request: its waits for the simulator lock, the time it holds it, and the whole.
pub struct Meter {
    started: Instant,
    wait: Duration,
    locked: Duration,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            started: Instant::now(),
            wait: Duration::ZERO,
            locked: Duration::ZERO,
        }
    }

    /// [`Shared::lock`], timed.
    pub fn lock<'a>(&'a mut self, shared: &'a Shared) -> Timed<'a> {
        let asked = Instant::now();
        let guard = shared.lock();
        let got = Instant::now();
        self.wait += got - asked;
        Timed {
            guard,
            meter: self,
            since: got,
        }
    }

    pub fn cost(&self) -> Cost {
        Cost {
            wait: self.wait,
            locked: self.locked,
            request: self.started.elapsed(),
        }
    }
}

/// The simulator, locked; the time held is added to the request's meter when it is released.
pub struct Timed<'a> {
    guard: MutexGuard<'a, Sim>,
    meter: &'a mut Meter,
    since: Instant,
}

impl Deref for Timed<'_> {
    type Target = Sim;
    fn deref(&self) -> &Sim {
        &self.guard
    }
}

impl DerefMut for Timed<'_> {
    fn deref_mut(&mut self) -> &mut Sim {
        &mut self.guard
    }
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        self.meter.locked += self.since.elapsed();
    }
}

pub fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        let shared = shared.clone();
        let tls = tls.clone();
        std::thread::spawn(move || connection(tcp, tls, &shared));
    }
}

fn connection(tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, shared: &Shared) {
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
    let mut meter = Meter::start();
    let req = match read_request(&mut *stream) {
        Ok(r) => r,
        Err(e) => {
            let _ = Response::html(400, page("Bad request", &e)).write_to(&mut *stream);
            return;
        }
    };
    if req.path.starts_with("/_sim/") {
        let resp = control::handle(shared, &req, &mut meter);
        let _ = resp.write_to(&mut *stream);
        shared
            .stats
            .control(&control::endpoint_name(&req), meter.cost());
    } else if req.path == "/billmgr" || req.path == "/manager/billmgr" {
        let in_flight = shared.stats.begin_api();
        let func = api(shared, &req, stream, &mut meter);
        // Counted before it leaves the in-flight count: a reader that sees
        // none in flight sees every answered request counted.
        shared.stats.api(&func, meter.cost());
        drop(in_flight);
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

/// Records the request in the journal; its sequence number.
fn journal(
    sim: &mut Sim,
    params: &BTreeMap<String, String>,
    outcome: String,
    result: Option<String>,
) -> u64 {
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
    })
}

/// Renders an API document; knob `noise` adds elements real panels send and clients must ignore (SIM-4).
fn render(noise: bool, mut doc: Node, func: &str) -> String {
    if noise {
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

/// Functions that change nothing when called with `authinfo` (a session's `auth` moves its
/// expiry). After any other request the world counts as changed: a state write is due.
fn read_only(func: &str, params: &BTreeMap<String, String>) -> bool {
    let has = |k: &str| params.get(k).is_some_and(|v| !v.trim().is_empty());
    if has("auth") {
        return false;
    }
    match func {
        "whoami" | "certificate" | "pricelist.export" | "certificate.order.csr" => true,
        "certificate.edit" => !has("sok"),
        _ => false,
    }
}

/// What the state work produced, to be rendered after the lock is released.
enum Answer {
    /// No `out=xml`/`out=json`: the panel's page (SIM-3); nothing was done.
    Html,
    Doc {
        doc: Node,
        noise: bool,
        json: bool,
    },
}

/// Runs the function under the lock; the answer to render and the journal outcome
/// (`"ok" | "error:<type>" | "html"`).
fn run_api(sim: &mut Sim, params: &BTreeMap<String, String>) -> (Answer, String) {
    let out = params.get("out").map(String::as_str).unwrap_or_default();
    if out != "xml" && out != "json" {
        return (Answer::Html, "html".to_string());
    }
    let (doc, outcome) = match handlers::dispatch(sim, params) {
        Ok(doc) => (doc, "ok".to_string()),
        Err(e) => {
            let outcome = format!("error:{}", e.kind);
            (e.to_doc(&sim.world.knobs), outcome)
        }
    };
    let answer = Answer::Doc {
        doc,
        noise: sim.world.knobs.on("noise"),
        json: out == "json",
    };
    (answer, outcome)
}

/// Renders an answer outside the lock; `Err` = the outcome to record instead (internal error).
fn respond(answer: Answer, func: &str) -> Result<Response, (Response, String)> {
    let (doc, noise, json) = match answer {
        Answer::Html => {
            // SIM-3: the panel's UI page, so a client that forgets out=xml fails loudly.
            let html = page(
                "BILLmanager",
                "This is the web interface. Add out=xml to get an API answer.",
            );
            return Ok(Response::html(200, html));
        }
        Answer::Doc { doc, noise, json } => (doc, noise, json),
    };
    let xml = render(noise, doc, func);
    if !json {
        return Ok(Response::xml(xml));
    }
    // out=json: one generic conversion of the XML answer (SIM-3), so both formats always agree.
    match super::dom::parse(&xml) {
        Ok(root) => Ok(Response::json(200, &super::dom::to_json(&root))),
        Err(e) => Err((
            Response::html(500, page("Internal error", &e)),
            "error:internal".to_string(),
        )),
    }
}

/// Serves one API request; the function name (for the stats).
fn api(shared: &Shared, req: &Request, mut stream: Box<dyn Stream>, meter: &mut Meter) -> String {
    // Later pairs win: body after query (SIM-1).
    let params: BTreeMap<String, String> = req.form_params().into_iter().collect();
    let func = params.get("func").cloned().unwrap_or_default();
    let fault = meter.lock(shared).faults.take(&func);
    if let Some(f) = &fault {
        let outcome = format!("fault:{}", f.kind.name());
        match f.kind {
            FaultKind::Refuse => {
                journal(&mut meter.lock(shared), &params, outcome, None);
                drop(stream);
                return func;
            }
            FaultKind::Http502 | FaultKind::Http503 => {
                journal(&mut meter.lock(shared), &params, outcome, None);
                let (status, title) = if f.kind == FaultKind::Http502 {
                    (502, "502 Bad Gateway")
                } else {
                    (503, "503 Service Temporarily Unavailable")
                };
                let _ = Response::html(status, page(title, "nginx")).write_to(&mut *stream);
                return func;
            }
            FaultKind::NotXml => {
                journal(&mut meter.lock(shared), &params, outcome, None);
                let body = page(
                    "Maintenance",
                    "The billing system is being updated. Please try again later.",
                );
                let _ = Response::html(200, body).write_to(&mut *stream);
                return func;
            }
            FaultKind::Error => {
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
                    e.code = Some("1");
                }
                let (noise, doc) = {
                    let mut s = meter.lock(shared);
                    journal(&mut s, &params, outcome, None);
                    (s.world.knobs.on("noise"), e.to_doc(&s.world.knobs))
                };
                let body = render(noise, doc, &func);
                let _ = Response::xml(body).write_to(&mut *stream);
                return func;
            }
            FaultKind::Delay => std::thread::sleep(Duration::from_millis(f.delay_ms)),
            FaultKind::Truncated | FaultKind::DropAfterCommit => {}
        }
    }
    let (answer, seq) = {
        let mut s = meter.lock(shared);
        s.advance_auto();
        let (answer, result) = run_api(&mut s, &params);
        let outcome = match &fault {
            Some(f) => format!("fault:{}", f.kind.name()),
            None => result.clone(),
        };
        let seq = journal(&mut s, &params, outcome, fault.is_some().then_some(result));
        if !read_only(func.trim(), &params) {
            s.touch();
        }
        (answer, seq)
    };
    let resp = match respond(answer, &func) {
        Ok(r) => r,
        Err((r, internal)) => {
            // The journal already holds this request: correct what it says happened.
            meter.lock(shared).journal.amend(seq, |e| {
                if fault.is_some() {
                    e.result = Some(internal);
                } else {
                    e.outcome = internal;
                }
            });
            r
        }
    };
    if shared.persist.synchronous() {
        shared.persist.flush_reporting(shared);
    }
    match fault.map(|f| f.kind) {
        Some(FaultKind::DropAfterCommit) => drop(stream),
        Some(FaultKind::Truncated) => {
            let _ = resp.write_truncated(&mut *stream);
        }
        _ => {
            let _ = resp.write_to(&mut *stream);
        }
    }
    func
}
