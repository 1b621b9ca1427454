//! Benchmarks: parsing a 5,000-tariff `pricelist.export`, and building the
//! `features` document with their templates from the cache (what BILLmanager
//! waits for at start). Plain `harness = false` main: `cargo bench --bench
//! catalog` prints the median of several runs.

#[path = "../tests/gen/catalog_export.rs"]
mod gen;

// Used by `util` (bin_path); its dead code is allowed inside it.
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use std::hint::black_box;
use std::time::{Duration, Instant};

use pmsslreseller::catalog::{cache, parse_export, templates};
use pmsslreseller::paths::MgrRoot;
use pmsslreseller::protocol::features;

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    const N: usize = 5_000;
    let (xml, _) = gen::export(N);
    println!("export: {N} tariffs, {} KiB", xml.len() / 1024);

    let t = median_of(11, || {
        black_box(parse_export(black_box(&xml), 1, "2026-11-26T12:00:00Z").unwrap());
    });
    println!("parse pricelist.export ({N} tariffs): {t:?}");
    let parse = t;
    let t = median_of(11, || {
        let mut r = quick_xml::Reader::from_str(black_box(&xml));
        let mut n = 0usize;
        loop {
            match r.read_event().unwrap() {
                quick_xml::events::Event::Eof => break,
                _ => n += 1,
            }
        }
        black_box(n);
    });
    println!("  reference, quick-xml events alone on the same text: {t:?}");
    util::record(util::Figure {
        figure: format!("parse {N} tariffs, in-process (median of 11)"),
        ours: parse.as_secs_f64() * 1e3,
        unit: "ms".into(),
        reference: Some(t.as_secs_f64() * 1e3),
        reference_what: "quick-xml's bare event loop, same text".into(),
        goal: "≤ 20 ms".into(),
        met: Some(parse.as_secs_f64() <= 0.020),
    });

    let dir = std::env::temp_dir().join(format!("pmsslreseller-bench-{}", std::process::id()));
    let root = MgrRoot::new(&dir);
    let catalog = parse_export(&xml, 1, "2026-11-26T12:00:00Z").unwrap();
    cache::save(&root, &catalog).unwrap();

    let t = median_of(11, || {
        let templates = templates::feature_templates(black_box(&root));
        black_box(features::document(
            &["check_connection", "prolong", "sync_item"],
            templates,
        ));
    });
    println!("features document from the cache ({N} templates, cache read included): {t:?}");

    let t = median_of(11, || {
        black_box(templates::messages_document(&[cache::TemplateCatalog::of(
            &catalog,
        )]));
    });
    println!("pricelist.certificate messages ({N} names): {t:?}");

    let _ = std::fs::remove_dir_all(&dir);
}
