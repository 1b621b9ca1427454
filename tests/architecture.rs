//! The invariants of docs/ARCHITECTURE.md that a reading of the source can
//! check: which module may name which, where the item param names and the
//! upstream's function names are spelled, what the catalog and the admin
//! command line may reach. Each test reads the files under `src/` (and
//! `sim/Cargo.toml`) of this repository and names every line that breaks
//! its rule.
//!
//! The reading is plain text, not a parse: comment lines are skipped, and
//! for the rules about what runs, so is everything from a file's first
//! `#[cfg(test)]` on (its test module, which each file keeps last). Each
//! rule was seen to fail on a line written to break it.

use std::path::{Path, PathBuf};

/// One source file: its path under `src/` (`catalog/parse.rs`) and text.
struct Source {
    rel: String,
    text: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let rel = path
                    .strip_prefix(base)
                    .expect("under src/")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(Source { rel, text });
            }
        }
    }
    let base = repo().join("src");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    assert!(
        out.iter().any(|s| s.rel == "lib.rs"),
        "src/lib.rs not found under {}",
        base.display()
    );
    out
}

/// The files of one module: `catalog` is `catalog.rs` and `catalog/…`.
fn module<'a>(all: &'a [Source], name: &str) -> Vec<&'a Source> {
    let file = format!("{name}.rs");
    let dir = format!("{name}/");
    let found: Vec<&Source> = all
        .iter()
        .filter(|s| s.rel == file || s.rel.starts_with(&dir))
        .collect();
    assert!(!found.is_empty(), "no module {name} under src/");
    found
}

/// Lines that are code (not comments), numbered from 1; with `runs_only`,
/// only those before the file's `#[cfg(test)]` tail.
fn code_lines(s: &Source, runs_only: bool) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (i, line) in s.text.lines().enumerate() {
        let t = line.trim_start();
        if runs_only && t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

/// Every code line of `files` containing one of `words`, as `file:line: text`.
fn lines_naming(files: &[&Source], words: &[&str], runs_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    for s in files {
        for (n, line) in code_lines(s, runs_only) {
            if let Some(w) = words.iter().find(|w| line.contains(*w)) {
                out.push(format!("src/{}:{n}: names {w}: {}", s.rel, line.trim()));
            }
        }
    }
    out
}

/// The top-level modules of the crate a line names as `crate::<name>`.
fn crate_paths(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .map(|(i, _)| {
            let rest = &line[i + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// Lines of module `name` naming a top-level module not in `allowed` (its
/// own name is always allowed).
fn names_outside(all: &[Source], name: &str, allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for s in module(all, name) {
        for (n, line) in code_lines(s, false) {
            for m in crate_paths(line) {
                if m != name && !allowed.contains(&m) {
                    out.push(format!(
                        "src/{}:{n}: names crate::{m}: {}",
                        s.rel,
                        line.trim()
                    ));
                }
            }
        }
    }
    out
}

fn assert_none(found: Vec<String>, rule: &str) {
    assert!(
        found.is_empty(),
        "{rule} (docs/ARCHITECTURE.md, Invariants); broken by:\n{}",
        found.join("\n")
    );
}

/// The leaves name nothing else of the crate.
const LEAVES: &[&str] = &["vocab", "quote", "secret", "clock"];

#[test]
fn the_leaves_name_nothing_else_of_the_crate() {
    let all = sources();
    for leaf in LEAVES {
        assert_none(
            names_outside(&all, leaf, &[]),
            &format!("{leaf} is a leaf: it names no other module of the crate"),
        );
    }
}

#[test]
fn protocol_names_only_leaves() {
    let all = sources();
    assert_none(
        names_outside(&all, "protocol", LEAVES),
        "protocol/ (what BILLmanager sees) names only the leaves",
    );
}

#[test]
fn only_the_entry_and_admin_name_the_commands() {
    let all = sources();
    let below: Vec<&Source> = all
        .iter()
        .filter(|s| {
            s.rel != "lib.rs" && !s.rel.starts_with("commands/") && !s.rel.starts_with("admin/")
        })
        .collect();
    assert_none(
        lines_naming(&below, &["crate::commands", "crate::admin"], false),
        "only lib.rs and admin/ name commands/, and only lib.rs names admin/: nothing below calls up",
    );
}

#[test]
fn upstream_names_neither_billing_nor_what_is_above_it() {
    let all = sources();
    let upstream = module(&all, "upstream");
    assert_none(
        lines_naming(
            &upstream,
            &["crate::billing", "crate::catalog", "crate::commands", "crate::admin"],
            false,
        ),
        "upstream/ (the upstream's API) knows nothing of the local BILLmanager, the catalog or the commands",
    );
}

#[test]
fn billing_names_neither_upstream_nor_what_is_above_it() {
    let all = sources();
    let billing = module(&all, "billing");
    assert_none(
        lines_naming(
            &billing,
            &["crate::upstream", "crate::catalog", "crate::commands", "crate::admin"],
            false,
        ),
        "billing/ (the local BILLmanager) knows nothing of the upstream, the catalog or the commands",
    );
}

#[test]
fn the_books_name_neither_the_peers_nor_what_is_above_them() {
    let all = sources();
    let books = module(&all, "books");
    assert_none(
        lines_naming(
            &books,
            &[
                "crate::billing",
                "crate::upstream",
                "crate::catalog",
                "crate::commands",
                "crate::admin",
            ],
            false,
        ),
        "books/ (the ledger file) knows neither BILLmanager, the upstream nor the commands: they write it",
    );
}

#[test]
fn the_catalog_reaches_no_database_mgrctl_network_or_process() {
    let all = sources();
    let catalog = module(&all, "catalog");
    assert_none(
        lines_naming(
            &catalog,
            &[
                "crate::billing",
                "crate::commands",
                "crate::admin",
                "std::net",
                "std::process::Command",
                "reqwest",
                "mysql",
            ],
            true,
        ),
        "catalog/ is a model: its only I/O is its own files under var/pmsslreseller/ \
         (no database, mgrctl, network or child process)",
    );
    let mut upstream = Vec::new();
    for s in &catalog {
        for (n, line) in code_lines(s, true) {
            if line.matches("crate::upstream").count()
                != line.matches("crate::upstream::wire").count()
            {
                upstream.push(format!("src/{}:{n}: {}", s.rel, line.trim()));
            }
        }
    }
    assert_none(
        upstream,
        "catalog/ names of upstream/ only the wire names (the export it parses), never the client",
    );
}

#[test]
fn the_books_reach_no_database_mgrctl_network_or_upstream() {
    let all = sources();
    let books = module(&all, "books");
    assert_none(
        lines_naming(
            &books,
            &[
                "crate::billing",
                "crate::upstream",
                "crate::catalog",
                "crate::commands",
                "crate::admin",
                "std::net",
                "std::process::Command",
                "reqwest",
                "mysql",
            ],
            true,
        ),
        "books/ is the module's own file and pure computation over it: no database, mgrctl, \
         network, upstream or catalog (commands/ gathers those and hands them in)",
    );
}

#[test]
fn item_param_names_are_spelled_only_in_the_table() {
    let all = sources();
    let others: Vec<&Source> = all
        .iter()
        .filter(|s| s.rel != "vocab/item_params.rs")
        .collect();
    assert_none(
        lines_naming(&others, &["pmss_"], false),
        "the names of the module's item params are spelled only in src/vocab/item_params.rs",
    );
}

#[test]
fn upstream_function_names_are_spelled_only_in_the_wire_module() {
    let all = sources();
    // The function names, as the wire module spells them.
    let wire = module(&all, "upstream/wire");
    let mut funcs: Vec<String> = Vec::new();
    for s in &wire {
        for (_, line) in code_lines(s, true) {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("pub const FUNC_") {
                if let Some(value) = rest.split('"').nth(1) {
                    funcs.push(format!("\"{value}\""));
                }
            }
        }
    }
    assert!(
        funcs.len() >= 10 && funcs.iter().any(|f| f == "\"certificate.order.param\""),
        "the upstream function names were not found in src/upstream/wire: {funcs:?}"
    );
    let others: Vec<&Source> = all
        .iter()
        .filter(|s| !s.rel.starts_with("upstream/wire/"))
        .collect();
    // The upstream's list function `certificate` is also the name of the
    // local product type (`itemtype`), which the module spells where it
    // means that.
    let words: Vec<&str> = funcs
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "\"certificate\"")
        .collect();
    assert_none(
        lines_naming(&others, &words, true),
        "the upstream's function names are spelled only in src/upstream/wire/ (tests aside)",
    );
}

#[test]
fn admin_only_parses_and_prints() {
    let all = sources();
    let admin = module(&all, "admin");
    assert_none(
        lines_naming(
            &admin,
            &[
                "crate::commands::lifecycle",
                "crate::lock",
                "crate::upstream",
                "crate::billing",
                "std::thread",
            ],
            true,
        ),
        "admin/ parses arguments and prints; the work (lifecycle, locks, upstream calls, \
         BILLmanager's database and mgrctl, threads) is in commands/",
    );
}

#[test]
fn the_simulator_shares_no_code_with_the_module() {
    let path = repo().join("sim/Cargo.toml");
    let manifest = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let found: Vec<String> = manifest
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.starts_with('#') && t.starts_with("pmsslreseller")
        })
        .map(|(n, l)| format!("sim/Cargo.toml:{}: {}", n + 1, l.trim()))
        .collect();
    assert_none(
        found,
        "billmgr-sim does not depend on the module crate: it must not agree with the module by sharing its code",
    );
}

/// A rule, the words only the door may use, and which files are the door.
type Door = (&'static str, &'static [&'static str], fn(&str) -> bool);

#[test]
fn each_peer_has_one_door() {
    let all = sources();
    let doors: [Door; 4] = [
        (
            "BILLmanager's database is read only in src/billing/db.rs (and db/)",
            &["mysql::", "use mysql"],
            |rel| rel == "billing/db.rs" || rel.starts_with("billing/db/"),
        ),
        (
            "the child processes are mgrctl, started in src/billing/mgrctl.rs, and the admin's \
             deploy hook, started in src/commands/deploy/hook.rs",
            &["Command::new"],
            |rel| rel == "billing/mgrctl.rs" || rel == "commands/deploy/hook.rs",
        ),
        (
            "HTTP is spoken only in src/upstream/",
            &["reqwest::", "use reqwest"],
            |rel| rel.starts_with("upstream/"),
        ),
        (
            "DNS is asked only in src/dns.rs (the pre-flight of send_dv_dns)",
            &["UdpSocket", "std::net::Udp"],
            |rel| rel == "dns.rs",
        ),
    ];
    for (rule, words, door) in doors {
        let others: Vec<&Source> = all.iter().filter(|s| !door(&s.rel)).collect();
        assert_none(lines_naming(&others, words, true), rule);
    }
}
