//! Bounded XML: answers built to exhaust the reader are
//! parsed or refused in linear time and bounded memory.
//!
//! This file has a counting global allocator, so it holds only these tests,
//! run one at a time (a lock): the peak it reports is the parse's own. CPU
//! and memory bounds are generous ceilings against a regression to the
//! quadratic or unbounded behaviour, not performance measurements.
// The closures return the crate's own `Result<_, UpstreamError>`.
#![allow(clippy::result_large_err)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pmsslreseller::upstream::parse::parse_answer;
use pmsslreseller::upstream::UpstreamError;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Run `f`; its result, the CPU it took and the most memory it held above
/// what was allocated before it started.
fn measured<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let cpu = thread_cpu();
    let out = f();
    let cpu = thread_cpu() - cpu;
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, cpu, peak)
}

fn malformed_detail(e: &UpstreamError) -> String {
    match e {
        UpstreamError::Malformed { detail, .. } => detail.clone(),
        other => panic!("expected a malformed answer, got {other:?}"),
    }
}

#[test]
fn thirty_thousand_attributes_on_one_element_cost_little_cpu() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut body = String::from("<doc><elem");
    for i in 0..30_000 {
        body.push_str(&format!(" a{i}=\"v{i}\""));
    }
    body.push_str("/></doc>");
    let (result, cpu, _) = measured(|| parse_answer("certificate.edit", body.as_bytes()));
    let e = result.expect_err("30,000 attributes are not a BILLmanager answer");
    assert!(malformed_detail(&e).contains("attributes in <elem>"), "{e}");
    assert!(cpu < Duration::from_secs(2), "parse took {cpu:?} of CPU");
}

#[test]
fn seven_and_a_half_million_elements_are_refused_in_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // 30 MB of `<e/>`: under the default 32 MiB body cap.
    let mut body = String::with_capacity(30_000_100);
    body.push_str("<doc>");
    for _ in 0..7_500_000 {
        body.push_str("<e/>");
    }
    body.push_str("</doc>");
    let (result, cpu, peak) = measured(|| parse_answer("certificate.list", body.as_bytes()));
    let e = result.expect_err("7.5 million elements are refused");
    assert!(malformed_detail(&e).contains("elements"), "{e}");
    assert!(
        peak < 256 * 1024 * 1024,
        "parsing held {} MiB above the body",
        peak / (1024 * 1024)
    );
    // A hang guard only (debug build, shared machine).
    assert!(cpu < Duration::from_secs(60), "parse took {cpu:?} of CPU");
}

#[test]
fn a_large_real_shaped_answer_costs_a_small_multiple_of_its_size() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // 20,000 list rows of 12 fields: the shape of a big certificate list.
    let mut body = String::from("<doc>");
    for i in 0..20_000 {
        body.push_str("<elem>");
        for f in 0..12 {
            body.push_str(&format!("<field{f}>value {i} {f}</field{f}>"));
        }
        body.push_str("</elem>");
    }
    body.push_str("</doc>");
    let (result, _, peak) = measured(|| parse_answer("certificate.list", body.as_bytes()));
    let doc = result.expect("a big but honest answer parses");
    assert_eq!(doc.children.len(), 20_000);
    drop(doc);
    assert!(
        peak < 8 * body.len(),
        "parsing {} bytes held {peak} bytes",
        body.len()
    );
}
