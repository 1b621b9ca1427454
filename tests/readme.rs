//! The README is the admin's manual: what it quotes must be what ships and
//! what the binary says. The cron block is the packaged cron file, the admin
//! commands table lists exactly the commands and options of `--help`, the
//! packaging config ships the cron file and the `pmsslreseller` link, and
//! the BILLmanager words it uses are BILLmanager's.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn readme() -> String {
    repo_file("README.md")
}

/// The README section under `## title`, up to the next `## `.
fn section(text: &str, title: &str) -> String {
    let head = format!("\n## {title}\n");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("README has no section {title}"))
        + head.len();
    let rest = &text[start..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

/// Every fenced block of `lang` in `text`, without the fences.
fn fenced(text: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let end = body.find("```\n").expect("closed fence");
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

#[test]
fn the_readme_cron_block_is_the_shipped_cron_file() {
    let blocks = fenced(&section(&readme(), "Cron"), "cron");
    assert_eq!(blocks.len(), 1, "one cron block in README \"Cron\"");
    assert_eq!(
        blocks[0],
        repo_file("packaging/cron"),
        "README \"Cron\" must quote packaging/cron (installed as /etc/cron.d/pmsslreseller) exactly"
    );
}

#[test]
fn the_shipped_cron_file_has_every_job_switched_off() {
    let cron = repo_file("packaging/cron");
    assert!(cron.contains("replace 1 by your module id"), "{cron}");
    let jobs: Vec<&str> = cron
        .lines()
        .filter(|l| l.starts_with('#') && l.contains(" root /"))
        .collect();
    for l in cron.lines() {
        assert!(l.is_empty() || l.starts_with('#'), "a job switched on: {l}");
    }
    let wanted = [
        "sync --module 1",
        "reconcile --module 1",
        "catalog refresh --module 1 --check",
    ];
    assert_eq!(jobs.len(), wanted.len(), "{jobs:?}");
    for (job, want) in jobs.iter().zip(wanted) {
        // Cron's PATH has no /usr/local/bin: the jobs name the binary itself.
        let command = format!("root /usr/local/mgr5/processing/pmsslreseller {want} ");
        assert!(job.contains(&command), "{job} should run {command}");
    }
}

/// Both packages install the cron file (as a conffile) and the command link,
/// and `make package-test` checks both.
#[test]
fn the_packaging_config_ships_the_cron_file_and_the_command_link() {
    let build = repo_file("packaging/build.sh");
    for needle in [
        "install -D -m 0644 packaging/cron \"$stage/etc/cron.d/pmsslreseller\"",
        "/etc/logrotate.d/pmsslreseller /etc/cron.d/pmsslreseller",
        "ln -s ../mgr5/processing/pmsslreseller \"$stage/usr/local/bin/pmsslreseller\"",
        "install -m 0644 packaging/cron \"$rpmtop/SOURCES/pmsslreseller.cron\"",
    ] {
        assert!(build.contains(needle), "packaging/build.sh lacks: {needle}");
    }
    let conffiles = build
        .lines()
        .find(|l| l.starts_with("printf '%s\\n' /usr/local/mgr5/etc/pmsslreseller.toml"))
        .expect("the DEB conffiles line");
    assert!(
        conffiles.contains("/etc/cron.d/pmsslreseller"),
        "{conffiles}"
    );

    let spec = repo_file("packaging/pmsslreseller.spec");
    for needle in [
        "Source4:        pmsslreseller.cron",
        "install -D -m 0644 %{SOURCE4} %{buildroot}%{_sysconfdir}/cron.d/pmsslreseller",
        "%config(noreplace) %attr(0644,root,root) %{_sysconfdir}/cron.d/pmsslreseller",
        "ln -s ../mgr5/processing/pmsslreseller %{buildroot}/usr/local/bin/pmsslreseller",
        "\n/usr/local/bin/pmsslreseller\n",
    ] {
        assert!(
            spec.contains(needle),
            "packaging/pmsslreseller.spec lacks: {needle}"
        );
    }

    let test = repo_file("packaging/test.sh");
    for needle in [
        "0644 root:root /etc/cron.d/pmsslreseller",
        "/etc/logrotate.d/pmsslreseller\n/etc/cron.d/pmsslreseller\"",
        "expected_links=\"/usr/local/bin/pmsslreseller -> ../mgr5/processing/pmsslreseller\"",
        "cmp \"$repo/packaging/cron\" \"$x/etc/cron.d/pmsslreseller\"",
    ] {
        assert!(test.contains(needle), "packaging/test.sh lacks: {needle}");
    }
}

/// `pmsslreseller ARGS --help`, as an admin would run it.
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pmsslreseller"))
        .args(args)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .expect("run pmsslreseller --help");
    assert!(out.status.success(), "{args:?} --help: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The first word of each line of the `title:` block of a `--help` text.
fn help_block(text: &str, title: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| *l != title).skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if !l.starts_with(' ') {
            break;
        }
        if let Some(w) = l.split_whitespace().next() {
            out.push(w.trim_end_matches(',').to_string());
        }
    }
    out
}

/// Every admin command (`catalog refresh`, not `catalog`) with its long
/// options, from `--help` at each level.
fn commands_in_help() -> BTreeSet<(String, BTreeSet<String>)> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        let subs: Vec<String> = help_block(&text, "Commands:")
            .into_iter()
            .filter(|s| s != "help")
            .collect();
        if subs.is_empty() {
            let options = text
                .lines()
                .skip_while(|l| *l != "Options:")
                .flat_map(|l| l.split_whitespace())
                .filter(|w| w.starts_with("--"))
                .map(|w| w.trim_end_matches(',').to_string())
                .filter(|w| w != "--help" && w != "--version")
                .collect();
            out.insert((path.join(" "), options));
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s);
            todo.push(p);
        }
    }
    out
}

/// The rows of README "Admin commands": the command (words before the first
/// option) and the long options named in its code span.
fn commands_in_readme() -> BTreeSet<(String, BTreeSet<String>)> {
    let text = section(&readme(), "Admin commands");
    let mut out = BTreeSet::new();
    for row in text.lines().filter(|l| l.starts_with("| `pmsslreseller")) {
        let span = row
            .trim_start_matches("| `")
            .split('`')
            .next()
            .unwrap_or_default();
        let words: Vec<&str> = span.split_whitespace().skip(1).collect();
        let command = words
            .iter()
            .take_while(|w| !w.starts_with('-') && !w.starts_with('['))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let options = words
            .iter()
            .map(|w| w.trim_start_matches('['))
            .filter(|w| w.starts_with("--"))
            .map(|w| w.trim_end_matches(']').to_string())
            .collect();
        out.insert((command, options));
    }
    out
}

#[test]
fn the_readme_admin_commands_table_is_what_help_lists() {
    let help = commands_in_help();
    let readme = commands_in_readme();
    assert!(help.len() >= 8, "{help:?}");
    let only_help: Vec<_> = help.difference(&readme).collect();
    let only_readme: Vec<_> = readme.difference(&help).collect();
    assert!(
        only_help.is_empty() && only_readme.is_empty(),
        "README \"Admin commands\" and --help disagree.\nonly in --help: {only_help:?}\nonly in README: {only_readme:?}"
    );
}

/// Admin commands in the README are written as `pmsslreseller …` (the
/// package's link on the PATH); the binary's full path is named where it is
/// needed: the file table, and the cron jobs (cron's PATH lacks /usr/local/bin).
#[test]
fn the_readme_runs_admin_commands_by_the_bare_name() {
    let text = readme();
    let cron = repo_file("packaging/cron");
    let outside_cron = text.replace(&cron, "");
    let full = "/usr/local/mgr5/processing/pmsslreseller ";
    let uses: Vec<&str> = outside_cron.lines().filter(|l| l.contains(full)).collect();
    assert!(
        uses.is_empty(),
        "write `pmsslreseller …` instead of the full path: {uses:#?}"
    );
    assert!(text.contains("| `/usr/local/bin/pmsslreseller` |"));
}

/// BILLmanager's button is *Create*, and `setparam` is a command the module
/// answers: the README must not call it unsupported.
#[test]
fn the_readme_uses_billmanagers_words() {
    let text = readme();
    for wrong in ["→ Add", "→ **Add**", "*Add*"] {
        assert!(
            !text.contains(wrong),
            "BILLmanager's button is Create: {wrong}"
        );
    }
    for line in text.lines().filter(|l| l.contains("setparam")) {
        let lower = line.to_lowercase();
        assert!(
            !lower.contains("unsupported") && !lower.contains("not supported"),
            "setparam is implemented: {line}"
        );
    }
    let trouble = section(&text, "Troubleshooting");
    assert!(!trouble.to_lowercase().contains("unsupported"), "{trouble}");
}
