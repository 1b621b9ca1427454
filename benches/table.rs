//! The last step of `make bench`: every figure the other benchmarks recorded
//! (`util::record`, one JSON line each in `target/release/bench-figures.jsonl`)
//! printed as one table — figure, ours, reference, ratio, goal, met — the
//! table docs/performance.md is refreshed from. `make bench` empties the
//! file first, so the table is one run's.

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "util/mod.rs"]
mod util;

use util::{figures_file, number, Figure};

fn main() {
    let path = figures_file();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let figures: Vec<Figure> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("skipping an unreadable figure line ({e}): {l}");
                None
            }
        })
        .collect();
    println!();
    println!("machine: {}", util::machine());
    println!("load: {}", load());
    if figures.is_empty() {
        println!(
            "no figures recorded in {} (run `make bench`, which runs the benchmarks first)",
            path.display()
        );
        return;
    }
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.figure.clone(),
                format!("{} {}", number(f.ours), f.unit),
                match f.reference {
                    Some(r) => format!("{} {} ({})", number(r), f.unit, f.reference_what),
                    None => f.reference_what.clone(),
                },
                f.ratio()
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "-".into()),
                f.goal.clone(),
                match f.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let head = ["figure", "ours", "reference", "ratio", "goal", "met"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            s.push_str(&format!(" {c}{} |", " ".repeat(pad)));
        }
        s
    };
    println!();
    println!("{}", line(&head.map(String::from)));
    println!(
        "|{}",
        w.iter()
            .map(|n| format!("{}|", "-".repeat(n + 2)))
            .collect::<String>()
    );
    for r in &rows {
        println!("{}", line(r));
    }
    let missed = figures.iter().filter(|f| f.met == Some(false)).count();
    println!();
    println!(
        "{} figures, {} goals met, {missed} not met",
        figures.len(),
        figures.iter().filter(|f| f.met == Some(true)).count()
    );
}

/// The load average now, for the table's heading (figures under load are
/// orders of magnitude, not exact).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
