//! The upstream BILLmanager simulator `billmgr-sim upstream` (upstream-api.md §9, SIM-1…SIM-34):
//! command line, start-up (state file, catalogue, accounts, knobs, faults, TLS), the listener and
//! shutdown. Prints `listening on http(s)://127.0.0.1:PORT` as its first stdout line, then serves
//! until killed; SIGTERM or SIGINT first write the state file.

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
mod persist;
mod profiles;
mod seed;
mod server;
mod sim;
mod state;
mod stats;
mod tls;
mod validity;
mod xml;

use clap::Parser;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Simulated upstream BILLmanager API for tests (see sim/README.md).
#[derive(Parser, Debug)]
#[command(name = "billmgr-sim upstream")]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// JSON state file: loaded at start if present, rewritten after changes (batched, see
    /// --state-flush-ms).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Write the state file at most this often; 0 = before every answer (slow with many items).
    #[arg(long, value_name = "MS", default_value_t = persist::DEFAULT_INTERVAL_MS)]
    state_flush_ms: u64,
    /// Journal entries kept (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = journal::DEFAULT_LIMIT)]
    journal_limit: usize,
    /// pricelist.export XML to serve instead of the shipped sim/fixtures/catalog.xml.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// USER:PASS:BALANCE:CURRENCY — create or replace an account (repeatable).
    #[arg(long = "account", value_name = "USER:PASS:BALANCE:CURRENCY")]
    accounts: Vec<String>,
    /// A bundle of knobs in a real panel's style (default, bm6-gcore, bm6-zomro, bm5-classic):
    /// every knob reset, then the profile's; --knob options still override single knobs.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// NAME=VALUE — set a behaviour knob (repeatable).
    #[arg(long = "knob", value_name = "NAME=VALUE")]
    knobs: Vec<String>,
    /// `func:kind[:count[:delay_ms]]` — script a fault (repeatable); kind `error=TYPE` for API errors.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// Serve HTTPS; writes the generated CA to DIR/ca.pem (CA key kept in DIR/ca-key.pem).
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
}

pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match crate::parse_args("billmgr-sim upstream", args) {
        Ok(a) => a,
        Err(code) => return code,
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
    if let Some(name) = &args.profile {
        world.knobs.apply_profile(name)?;
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut sim = sim::Sim::new(world, catalog, script, certs::IssuingCa::generate()?);
    sim.journal = journal::Journal::new(args.journal_limit);
    sim.base_url = format!("{scheme}://{addr}");
    let persister = persist::Persister::new(
        state::Store::new(args.state.clone()),
        Duration::from_millis(args.state_flush_ms),
    );
    let shared = Arc::new(server::Shared::new(sim, persister));
    // Before any other thread exists, so that every thread inherits the blocked signals and only
    // the waiting thread receives them.
    let signals = block_termination_signals()?;
    // The state file exists (and is readable) as soon as the simulator listens.
    shared.persist.flush_reporting(&shared);
    persist::Persister::start_flusher(shared.clone());
    let on_signal = shared.clone();
    std::thread::spawn(move || {
        wait_for(&signals);
        on_signal.persist.flush_reporting(&on_signal);
        std::process::exit(0);
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {scheme}://{addr}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    server::serve(listener, tls, shared);
    Ok(())
}

/// SIGTERM and SIGINT, blocked in the calling thread (and so in every thread started after it).
/// Also the mgrctl core's way to stop cleanly (`crate::mgrctl::core`).
pub(crate) fn block_termination_signals() -> Result<libc::sigset_t, String> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use; pthread_sigmask only
    // reads the set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(format!(
                "cannot block SIGTERM/SIGINT: {}",
                std::io::Error::from_raw_os_error(rc)
            ));
        }
        Ok(set)
    }
}

/// Returns when one of `set` arrives.
pub(crate) fn wait_for(set: &libc::sigset_t) {
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` was filled by block_termination_signals; `sig` is a valid out-pointer.
    // sigwait only fails for an invalid set, then we stop at once, as an unhandled signal would.
    unsafe {
        libc::sigwait(set, &mut sig);
    }
}
