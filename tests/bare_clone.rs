//! A bare `git clone` of the repository has everything its tests and builds
//! read: no source reads a file beside the checkout or at an absolute path of
//! one machine, and every file pulled in with `include_str!`/`include_bytes!`
//! or `#[path]` is inside the repository and tracked by git. (`.ci/run` runs
//! `make test` in a fresh clone, which proves the same end to end.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files git tracks, relative to the root; `None` when this is not a git
/// checkout (e.g. a source tarball), so the checks fall back to a walk.
fn tracked_files() -> Option<BTreeSet<String>> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo_root())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .expect("git ls-files prints UTF-8 paths")
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "target" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            out.insert(path.strip_prefix(root).unwrap().to_string_lossy().into());
        }
    }
}

fn source_files() -> BTreeSet<String> {
    let all = tracked_files().unwrap_or_else(|| {
        let mut out = BTreeSet::new();
        walk(&repo_root(), &repo_root(), &mut out);
        out
    });
    all.into_iter()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap();
            [".rs", ".sh", ".toml", ".spec"]
                .iter()
                .any(|ext| name.ends_with(ext))
                || ["Makefile", "run", "postinst", "postrm"].contains(&name)
        })
        .collect()
}

/// Strings that mean "a file outside this repository": the project's shared
/// reference folder beside the checkout, or the build machine's own tree.
/// Assembled at run time so this file does not match itself.
fn outside_markers() -> Vec<String> {
    vec![
        format!("{}/{}", "shared", "reference"),
        format!("{}/{}", "shared", "spec"),
        format!("../{}", "shared"),
        format!("\"/{}/", "work"),
        format!(" /{}/", "work"),
    ]
}

#[test]
fn no_source_reads_outside_the_repository() {
    let markers = outside_markers();
    let mut hits = Vec::new();
    for file in source_files() {
        let Ok(text) = std::fs::read_to_string(repo_root().join(&file)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for m in &markers {
                if line.contains(m.as_str()) {
                    hits.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "sources that read outside the repository (move the fixture into tests/fixtures/):\n{}",
        hits.join("\n")
    );
}

/// The macros and attribute whose string literal names a file to read at
/// build time (`#[path]` is relative to the declaring file's directory, as
/// the macros are). Split so this file's own text does not match.
const FILE_READERS: [&str; 3] = [
    concat!("include_", "str!("),
    concat!("include_", "bytes!("),
    concat!("#[pa", "th ="),
];

/// The string literals right after each `marker` in `text`, e.g. the paths
/// the include macros read.
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        rest = &rest[at + marker.len()..];
        let Some(open) = rest.find('"') else { break };
        // Only a literal right after the marker (allowing whitespace).
        if !rest[..open].trim().is_empty() {
            continue;
        }
        let body = &rest[open + 1..];
        let Some(close) = body.find('"') else { break };
        out.push(&body[..close]);
        rest = &body[close..];
    }
    out
}

#[test]
fn every_included_file_is_tracked_inside_the_repository() {
    let root = repo_root().canonicalize().unwrap();
    let tracked = tracked_files();
    let mut problems = Vec::new();
    let mut seen = 0;
    for file in source_files().into_iter().filter(|f| f.ends_with(".rs")) {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        let dir = root.join(&file).parent().unwrap().to_path_buf();
        let targets = FILE_READERS.iter().flat_map(|m| literals_after(&text, m));
        for target in targets {
            seen += 1;
            let Ok(resolved) = dir.join(target).canonicalize() else {
                problems.push(format!("{file}: {target} does not exist"));
                continue;
            };
            let Ok(inside) = resolved.strip_prefix(&root) else {
                problems.push(format!("{file}: {target} is outside the repository"));
                continue;
            };
            let inside = inside.to_string_lossy();
            if let Some(tracked) = &tracked {
                if !tracked.contains(inside.as_ref()) {
                    problems.push(format!("{file}: {inside} is not tracked by git"));
                }
            }
        }
    }
    assert!(seen > 5, "the scan found only {seen} included files");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_an_outside_read() {
    // The check above must be able to fail: a line like the ones it replaced.
    let line = format!(
        "{}\"../../{}/upstream/x.xml\")",
        FILE_READERS[0],
        outside_markers()[0]
    );
    assert!(outside_markers().iter().any(|m| line.contains(m.as_str())));
    assert_eq!(
        literals_after(&line, FILE_READERS[0]),
        vec![format!("../../{}/upstream/x.xml", outside_markers()[0])]
    );
}
