//! The upstream BILLmanager simulator `billmgr-sim upstream` (upstream-api.md §9, SIM-1…SIM-34):
//! command line, start-up (state file, catalogue, accounts, knobs, faults, TLS) and the listener.
//! Prints `listening on http(s)://127.0.0.1:PORT` as its first stdout line, then serves until killed.

mod catalog;
mod certs;
mod control;
pub(crate) mod dom;
mod drift;
mod faults;
mod handlers;
mod http;
mod journal;
mod knobs;
mod server;
mod sim;
mod state;
mod tls;
mod validity;
mod xml;

use clap::Parser;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Simulated upstream BILLmanager API for tests (see sim/README.md).
#[derive(Parser, Debug)]
#[command(name = "billmgr-sim upstream")]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// JSON state file: loaded at start if present, rewritten after every change.
    #[arg(long)]
    state: Option<PathBuf>,
    /// pricelist.export XML to serve instead of the shipped sim/fixtures/catalog.xml.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// USER:PASS:BALANCE:CURRENCY — create or replace an account (repeatable).
    #[arg(long = "account", value_name = "USER:PASS:BALANCE:CURRENCY")]
    accounts: Vec<String>,
    /// NAME=VALUE — set a behaviour knob (repeatable).
    #[arg(long = "knob", value_name = "NAME=VALUE")]
    knobs: Vec<String>,
    /// func:kind[:count[:delay_ms]] — script a fault (repeatable); kind `error=TYPE` for API errors.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// Serve HTTPS; writes the generated CA to DIR/ca.pem (CA key kept in DIR/ca-key.pem).
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
}

pub fn main(args: Vec<String>) -> i32 {
    let argv = std::iter::once("billmgr-sim upstream".to_string()).chain(args);
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("billmgr-sim upstream: {e}");
            1
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let mut world = match &args.state {
        Some(path) => state::Store::load(path)?.unwrap_or_default(),
        None => state::World::default(),
    };
    for spec in &args.accounts {
        world.put_account(state::parse_account_spec(spec)?);
    }
    for k in &args.knobs {
        world.knobs.set_assignment(k)?;
    }
    let catalog_text = match (&args.catalog, &world.catalog_xml) {
        // A catalogue swapped at run time survives a restart with the same state file.
        (_, Some(swapped)) => swapped.clone(),
        (Some(path), None) => std::fs::read_to_string(path)
            .map_err(|e| format!("--catalog {}: {e}", path.display()))?,
        (None, None) => catalog::DEFAULT_CATALOG.to_string(),
    };
    let catalog = catalog::Catalog::parse(&catalog_text).map_err(|e| format!("catalogue: {e}"))?;
    for reason in &catalog.skipped {
        eprintln!("billmgr-sim upstream: catalogue entry skipped: {reason}");
    }
    let mut script = faults::FaultScript::default();
    for spec in &args.faults {
        script.add(faults::Fault::parse_spec(spec)?);
    }
    let tls = match &args.tls_dir {
        Some(dir) => Some(tls::server_config(&certs::tls_material(dir)?)?),
        None => None,
    };
    let listener =
        TcpListener::bind(&args.listen).map_err(|e| format!("--listen {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut sim = sim::Sim {
        world,
        catalog,
        faults: script,
        journal: journal::Journal::default(),
        ca: certs::IssuingCa::generate()?,
        store: state::Store::new(args.state.clone()),
    };
    sim.persist();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {scheme}://{addr}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    server::serve(listener, tls, Arc::new(Mutex::new(sim)));
    Ok(())
}
