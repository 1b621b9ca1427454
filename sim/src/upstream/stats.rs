//! The simulator's own cost per request (`GET /_sim/stats`, printed by the
//! benchmarks): requests counted by API function (control calls by endpoint), with the
//! time spent waiting for the simulator lock, holding it, and the whole request from the first
//! byte read to the last byte written; and the state file writes. Kept behind its own small lock so
//! that counting never waits for the simulator's.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Distinct names kept per table; a client inventing function names cannot grow it without bound.
const MAX_NAMES: usize = 200;
const OTHER: &str = "(other)";

/// What one request cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    /// Waiting to take the simulator lock (contention between clients).
    pub wait: Duration,
    /// Holding it: the state work.
    pub locked: Duration,
    /// First byte read to last byte written.
    pub request: Duration,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    count: u64,
    wait: Duration,
    locked: Duration,
    request: Duration,
}

impl Totals {
    fn add(&mut self, c: Cost) {
        self.count += 1;
        self.wait += c.wait;
        self.locked += c.locked;
        self.request += c.request;
    }

    fn merge(&mut self, other: &Totals) {
        self.count += other.count;
        self.wait += other.wait;
        self.locked += other.locked;
        self.request += other.request;
    }

    fn to_json(self) -> Value {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let mean = |d: Duration| {
            if self.count == 0 {
                0.0
            } else {
                us(d) / self.count as f64
            }
        };
        json!({
            "count": self.count,
            "wait_us_total": us(self.wait),
            "wait_us_mean": mean(self.wait),
            "locked_us_total": us(self.locked),
            "locked_us_mean": mean(self.locked),
            "request_us_total": us(self.request),
            "request_us_mean": mean(self.request),
        })
    }
}

struct Inner {
    since: Instant,
    funcs: BTreeMap<String, Totals>,
    control: BTreeMap<String, Totals>,
    state_writes: u64,
    state_write_time: Duration,
    state_bytes: u64,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            since: Instant::now(),
            funcs: BTreeMap::new(),
            control: BTreeMap::new(),
            state_writes: 0,
            state_write_time: Duration::ZERO,
            state_bytes: 0,
        }
    }
}

pub struct Stats {
    inner: Mutex<Inner>,
    /// API requests being served right now, and the most at once since the
    /// last reset: shows whether a client keeps to its concurrency bound
    /// (the module's `[sync] concurrency`).
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            inner: Mutex::new(Inner::new()),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
        }
    }
}

/// One API request in flight; counted down when dropped.
pub struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn add(table: &mut BTreeMap<String, Totals>, name: &str, cost: Cost) {
    let name = if table.contains_key(name) || table.len() < MAX_NAMES {
        name
    } else {
        OTHER
    };
    match table.get_mut(name) {
        Some(t) => t.add(cost),
        None => {
            let mut t = Totals::default();
            t.add(cost);
            table.insert(name.to_string(), t);
        }
    }
}

impl Stats {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One API request; `func` as sent (empty: none given).
    pub fn api(&self, func: &str, cost: Cost) {
        let func = if func.is_empty() { "(none)" } else { func };
        add(&mut self.inner().funcs, func, cost);
    }

    /// One control request, by endpoint (`GET /_sim/journal`).
    pub fn control(&self, endpoint: &str, cost: Cost) {
        add(&mut self.inner().control, endpoint, cost);
    }

    /// One state file write of `bytes`.
    pub fn state_write(&self, took: Duration, bytes: usize) {
        let mut s = self.inner();
        s.state_writes += 1;
        s.state_write_time += took;
        s.state_bytes += bytes as u64;
    }

    /// An API request starts; it is in flight until the guard is dropped.
    pub fn begin_api(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// Starts counting from zero (the peak from the requests in flight now).
    pub fn reset(&self) {
        *self.inner() = Inner::new();
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub fn to_json(&self) -> Value {
        let s = self.inner();
        let table = |t: &BTreeMap<String, Totals>| -> Map<String, Value> {
            t.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()
        };
        let mut all = Totals::default();
        for t in s.funcs.values() {
            all.merge(t);
        }
        json!({
            "since_secs": s.since.elapsed().as_secs_f64(),
            "requests": all.count,
            "api": all.to_json(),
            "funcs": table(&s.funcs),
            "control": table(&s.control),
            "state_writes": s.state_writes,
            "state_write_us_total": s.state_write_time.as_secs_f64() * 1e6,
            "state_bytes_written": s.state_bytes,
            "api_in_flight": self.in_flight.load(Ordering::SeqCst),
            "api_peak_in_flight": self.peak_in_flight.load(Ordering::SeqCst),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_means_and_reset() {
        let s = Stats::default();
        let c = |us: u64| Cost {
            wait: Duration::from_micros(us),
            locked: Duration::from_micros(2 * us),
            request: Duration::from_micros(10 * us),
        };
        s.api("certificate.edit", c(10));
        s.api("certificate.edit", c(30));
        s.api("", c(1));
        s.control("GET /_sim/journal", c(5));
        s.state_write(Duration::from_micros(100), 42);
        let v = s.to_json();
        let edit = &v["funcs"]["certificate.edit"];
        assert_eq!(edit["count"], 2);
        assert_eq!(edit["locked_us_mean"], 40.0);
        assert_eq!(edit["request_us_total"], 400.0);
        assert_eq!(v["funcs"]["(none)"]["count"], 1);
        assert_eq!(v["requests"], 3);
        assert_eq!(v["control"]["GET /_sim/journal"]["count"], 1);
        assert_eq!(v["state_writes"], 1);
        assert_eq!(v["state_bytes_written"], 42);
        {
            let _a = s.begin_api();
            let _b = s.begin_api();
            assert_eq!(s.to_json()["api_in_flight"], 2);
        }
        let _c = s.begin_api();
        let v = s.to_json();
        assert_eq!(
            (v["api_in_flight"].clone(), v["api_peak_in_flight"].clone()),
            (json!(1), json!(2))
        );
        s.reset();
        let v = s.to_json();
        assert_eq!(v["api_peak_in_flight"], 1, "the one still in flight");
        assert_eq!(v["requests"], 0);
        assert_eq!(v["state_writes"], 0);
    }

    #[test]
    fn names_are_bounded() {
        let s = Stats::default();
        for i in 0..(MAX_NAMES + 50) {
            s.api(&format!("f{i}"), Cost::default());
        }
        let v = s.to_json();
        let funcs = v["funcs"].as_object().unwrap();
        assert_eq!(funcs.len(), MAX_NAMES + 1);
        assert_eq!(funcs[OTHER]["count"], 50);
    }
}
