//! Load on the upstream simulator alone (the goal: the simulator keeps up):
//! 10,000 certificates, then 8 client threads reading them with
//! `certificate.edit` (what a bulk `sync` does) plus a few whole `certificate`
//! lists, each request on its own connection as the module makes them.
//! Prints the seeding time, the throughput and latencies the clients saw, and
//! the simulator's own cost per request from `GET /_sim/stats`.
//!
//! `cargo bench -p billmgr-sim --bench load` (after `cargo build --release -p
//! billmgr-sim`). Settings from the environment:
//! - `BILLMGR_SIM`: the binary to load (default `target/release/billmgr-sim`;
//!   an older build works too: without `/_sim/seed` the items are ordered one
//!   API request at a time, without `/_sim/stats` that part is left out);
//! - `PMSS_SIM_ITEMS` (10000), `PMSS_SIM_CLIENTS` (8), `PMSS_SIM_READS`
//!   (20000 `certificate.edit` in all), `PMSS_SIM_LISTS` (8 lists in all);
//! - `PMSS_SIM_STATE=1`: run with `--state` in a temporary directory (the
//!   state file's writes are part of the load).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "load@example.com";
const PASS: &str = "load-secret";
const CSR: &str =
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIBload\n-----END CERTIFICATE REQUEST-----\n";

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BILLMGR_SIM") {
        return PathBuf::from(p);
    }
    // CARGO_MANIFEST_DIR is sim/; the workspace's target directory is beside it.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("release/billmgr-sim")
}

struct Sim {
    child: Child,
    addr: String,
}

impl Drop for Sim {
    /// SIGTERM, so a simulator run under `valgrind --tool=callgrind` (through a wrapper script as
    /// `BILLMGR_SIM`) writes its profile; SIGKILL only if it does not end within a minute.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, no memory involved.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP exchange on a fresh connection; (status, body).
fn http(addr: &str, method: &str, path: &str, ctype: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the simulator");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read answer");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("complete answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, body.to_string())
}

fn api(addr: &str, params: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("out", "xml");
    f.append_pair("authinfo", &format!("{USER}:{PASS}"));
    for (k, v) in params {
        f.append_pair(k, v);
    }
    let (status, body) = http(
        addr,
        "POST",
        "/billmgr",
        "application/x-www-form-urlencoded",
        &f.finish(),
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn control(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http(addr, method, path, "application/json", body)
}

fn start(state: Option<&std::path::Path>) -> Sim {
    let account = format!("{USER}:{PASS}:1000000000.00:EUR");
    let mut cmd = Command::new(binary());
    cmd.args(["upstream", "--listen", "127.0.0.1:0", "--account", &account]);
    if let Some(s) = state {
        cmd.arg("--state").arg(s);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary().display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .rsplit("://")
        .next()
        .expect("address")
        .to_string();
    Sim { child, addr }
}

fn id_of(xml: &str) -> u64 {
    xml.split("<id>")
        .nth(1)
        .and_then(|s| s.split("</id>").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {xml}"))
}

/// `items` ordered certificates: one `/_sim/seed` call when the simulator has it, else API orders
/// from `clients` threads. Returns the ids and whether the control call was used.
fn seed(addr: &str, items: usize, clients: usize) -> (Vec<u64>, bool) {
    let body = serde_json::json!({
        "username": USER, "pricelist": 3033, "period": 12, "count": items,
        "cn": "load{n}.example.com", "remoteid_from": 1, "csr": CSR,
    });
    let (status, answer) = control(addr, "POST", "/_sim/seed", &body.to_string());
    // 404: a simulator from before /_sim/seed; anything else is a real refusal.
    assert!(
        status == 200 || status == 404,
        "POST /_sim/seed: HTTP {status}: {answer}"
    );
    if status == 200 {
        let v: serde_json::Value = serde_json::from_str(&answer).expect("seed JSON");
        assert!(v["ids"].is_array(), "POST /_sim/seed: {answer}");
        let ids = v["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|i| i.as_u64())
            .collect();
        return (ids, true);
    }
    let addr = Arc::new(addr.to_string());
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                (0..items)
                    .filter(|n| n % clients == t)
                    .map(|n| {
                        let cn = format!("load{n}.example.com");
                        let rid = (n + 1).to_string();
                        id_of(&api(
                            &addr,
                            &[
                                ("func", "certificate.order.param"),
                                ("sok", "ok"),
                                ("skipbasket", "on"),
                                ("pricelist", "3033"),
                                ("period", "12"),
                                ("CN", &cn),
                                ("csr", CSR),
                                ("remoteid", &rid),
                            ],
                        ))
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("order thread"))
        .collect();
    ids.sort();
    (ids, false)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let items = env_num("PMSS_SIM_ITEMS", 10_000).max(1);
    let clients = env_num("PMSS_SIM_CLIENTS", 8).max(1);
    let reads = env_num("PMSS_SIM_READS", 20_000);
    let lists = env_num("PMSS_SIM_LISTS", 8);
    let state_dir = tempfile::tempdir().expect("temp dir");
    let state = (std::env::var("PMSS_SIM_STATE").as_deref() == Ok("1"))
        .then(|| state_dir.path().join("state.json"));
    println!(
        "simulator load: {} ({items} certificates, {clients} clients, {reads} reads, {lists} lists{}), load average {}",
        binary().display(),
        if state.is_some() { ", --state" } else { "" },
        loadavg()
    );
    let sim = start(state.as_deref());
    let addr = sim.addr.clone();

    let t = Instant::now();
    let (ids, bulk) = seed(&addr, items, clients);
    let seeded = t.elapsed();
    let t = Instant::now();
    let (status, _) = control(&addr, "POST", "/_sim/issue", "{}");
    assert_eq!(status, 200, "issue all");
    let issued = t.elapsed();
    println!(
        "seeded {} certificates in {:.2} s ({}), issued all in {:.2} s",
        ids.len(),
        seeded.as_secs_f64(),
        if bulk {
            "one POST /_sim/seed".to_string()
        } else {
            format!("API orders from {clients} clients")
        },
        issued.as_secs_f64()
    );
    // Counted from here: the stats of the seeding are not the reads'.
    let (stats_status, _) = control(&addr, "DELETE", "/_sim/stats", "");

    let ids = Arc::new(ids);
    let addr_arc = Arc::new(addr.clone());
    let wall = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let ids = ids.clone();
            let addr = addr_arc.clone();
            std::thread::spawn(move || {
                let mut edit = Vec::new();
                let mut list = Vec::new();
                let mine = reads / clients + usize::from(t < reads % clients);
                let my_lists = lists / clients + usize::from(t < lists % clients);
                let list_every = mine.checked_div(my_lists).unwrap_or(usize::MAX).max(1);
                // With no reads at all, the lists alone (to measure them by themselves).
                if mine == 0 {
                    for _ in 0..my_lists {
                        let s = Instant::now();
                        let xml = api(&addr, &[("func", "certificate")]);
                        list.push(s.elapsed());
                        assert_eq!(xml.matches("<elem>").count(), ids.len());
                    }
                }
                for n in 0..mine {
                    // Spread over all items, different per thread.
                    let id = ids[(n * 7919 + t * 104_729) % ids.len()];
                    let elid = id.to_string();
                    let s = Instant::now();
                    let xml = api(&addr, &[("func", "certificate.edit"), ("elid", &elid)]);
                    edit.push(s.elapsed());
                    assert!(xml.contains(&format!("<id>{id}</id>")), "{xml}");
                    if n % list_every == list_every - 1 && list.len() < my_lists {
                        let s = Instant::now();
                        let xml = api(&addr, &[("func", "certificate")]);
                        list.push(s.elapsed());
                        assert_eq!(xml.matches("<elem>").count(), ids.len());
                    }
                }
                (edit, list)
            })
        })
        .collect();
    let mut edit = Vec::new();
    let mut list = Vec::new();
    for t in threads {
        let (e, l) = t.join().expect("client thread");
        edit.extend(e);
        list.extend(l);
    }
    let took = wall.elapsed();
    edit.sort();
    list.sort();
    let total = edit.len() + list.len();
    println!(
        "{total} requests from {clients} clients in {:.2} s: {:.0} requests/s, load average {}",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        loadavg()
    );
    println!(
        "  certificate.edit x{}: median {}, mean {}, p99 {}, max {}",
        edit.len(),
        us(pct(&edit, 0.5)),
        us(edit.iter().sum::<Duration>() / edit.len().max(1) as u32),
        us(pct(&edit, 0.99)),
        us(pct(&edit, 1.0))
    );
    if !list.is_empty() {
        println!(
            "  certificate (list of {}) x{}: median {}, max {}",
            ids.len(),
            list.len(),
            us(pct(&list, 0.5)),
            us(pct(&list, 1.0))
        );
    }
    if stats_status == 200 {
        let (_, stats) = control(&addr, "GET", "/_sim/stats", "");
        let v: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
        println!("  inside the simulator (GET /_sim/stats):");
        if let Some(funcs) = v["funcs"].as_object() {
            for (f, s) in funcs {
                println!(
                    "    {f:<18} x{:<6} mean: holding the lock {:>8.1} µs, waiting for it {:>8.1} µs, whole request {:>8.1} µs",
                    s["count"],
                    s["locked_us_mean"].as_f64().unwrap_or(0.0),
                    s["wait_us_mean"].as_f64().unwrap_or(0.0),
                    s["request_us_mean"].as_f64().unwrap_or(0.0),
                );
            }
        }
        println!("    state writes: {}", v["state_writes"]);
    }
}
