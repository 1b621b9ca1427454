//! Wrong use gets a clear answer and changes nothing: a missing BILLmanager
//! root, a bad config value, an option before the subcommand, a module of
//! another type, a database that is not there, pricing preview's money, and
//! a permanent lifecycle error. Each message the admin reads has a test here.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use mysql::prelude::Queryable;

use support::billing::{
    certificate_params, run_module, run_operation, TestDb, TestMgr, EXAMPLE_CSR,
};
use support::bin_path;
use support::sim::{SimUpstream, PASS, USER};

/// Run the module binary with `MGR5_ROOT` = `root` (or unset), stdin and
/// stdout not a terminal, as BILLmanager and cron run it.
fn run_with_root(root: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(bin_path("pmsslreseller"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match root {
        Some(r) => cmd.env("MGR5_ROOT", r),
        None => cmd.env_remove("MGR5_ROOT"),
    };
    let out = cmd.output().expect("run pmsslreseller");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_root_is_named_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mgr5");
    // As BILLmanager calls it: error XML, exit 1.
    let (code, out, _) = run_with_root(Some(&missing), &["--command", "features"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("<error"), "{out}");
    assert!(
        out.contains(&format!("MGR5_ROOT={} does not exist", missing.display())),
        "{out}"
    );
    assert!(out.contains("BILLmanager root"), "{out}");
    // As an admin calls it: the same words on stderr.
    for args in [&["config"][..], &["sync", "--module", "1"][..]] {
        let (code, out, err) = run_with_root(Some(&missing), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("MGR5_ROOT=/"), "{args:?}: {err}");
        assert!(err.contains("does not exist"), "{args:?}: {err}");
    }
    assert!(
        !missing.exists(),
        "the module created {}",
        missing.display()
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `MGR5_ROOT=/tmp`: a directory that exists but is not BILLmanager's (no
/// `sbin/mgrctl`). Every kind of call is refused with the reason, and
/// nothing — no log, no lock, no state directory — is created in it.
#[test]
fn a_directory_that_is_not_billmanagers_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let not_ours = dir.path();
    let calls: [&[&str]; 5] = [
        &["--command", "features"],
        &[
            "--command",
            "open",
            "--item",
            "5",
            "--runningoperation",
            "7",
        ],
        &["config"],
        &["sync", "--module", "1"],
        &["catalog", "show"],
    ];
    for args in calls {
        let (code, out, err) = run_with_root(Some(not_ours), args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        let said = format!("{out}{err}");
        assert!(
            said.contains(&format!(
                "MGR5_ROOT={} is not a BILLmanager root (it has no sbin/mgrctl)",
                not_ours.display()
            )),
            "{args:?}: {said}"
        );
        assert!(said.contains("Nothing was created"), "{args:?}: {said}");
        let left: Vec<_> = std::fs::read_dir(not_ours)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }
}

#[test]
fn without_mgr5_root_nothing_is_written_into_a_missing_default_root() {
    let default = Path::new(pmsslreseller::paths::DEFAULT_ROOT);
    if default.exists() {
        // A BILLmanager host: writing its log there is right; nothing to prove.
        eprintln!("{} exists here; skipped", default.display());
        return;
    }
    // No argument and no terminal: BILLmanager style, as a mistaken cron line runs it.
    let (code, out, _) = run_with_root(None, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MGR5_ROOT is not set"), "{out}");
    assert!(out.contains(pmsslreseller::paths::DEFAULT_ROOT), "{out}");
    let (code, _, err) = run_with_root(None, &["config"]);
    assert_eq!(code, 1);
    assert!(err.contains("MGR5_ROOT is not set"), "{err}");
    assert!(!default.exists(), "{} was created", default.display());
}

/// `text` without the terminal's colour sequences (`ESC [ … m`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The bare name typed at a terminal prints the usage. `script` runs it
/// with a terminal as stdin and stdout, then with only stdin one
/// (`| cat`, as `pmsslreseller | less`). BILLmanager always passes
/// `--command`, on pipes: no argument there is still an error document.
#[test]
fn the_bare_name_on_a_terminal_prints_the_usage() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mgr5");
    let bin = bin_path("pmsslreseller");
    for line in [
        format!("'{}'", bin.display()),
        format!("'{}' | cat", bin.display()),
    ] {
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("MGR5_ROOT", &missing)
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux) gives the command a terminal");
        let text = without_colours(&String::from_utf8_lossy(&out.stdout));
        assert!(text.contains("Usage: pmsslreseller"), "{line}: {text}");
        assert!(text.contains("Commands:"), "{line}: {text}");
        assert!(text.contains("reconcile"), "{line}: {text}");
        assert!(!text.contains("<?xml"), "{line}: {text}");
    }
    let (code, out, _) = run_with_root(Some(&missing), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("<?xml"), "{out}");
    assert!(!missing.exists(), "{} was created", missing.display());
}

/// A scratch root with the directories BILLmanager has.
fn scratch_root() -> tempfile::TempDir {
    support::scratch_billmanager_root()
}

#[test]
fn an_option_before_the_subcommand_gets_the_cli_usage() {
    let root = scratch_root();
    let (code, out, err) = run_with_root(Some(root.path()), &["--module", "1", "sync"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        !out.contains("<doc"),
        "no BILLmanager XML for an admin: {out}"
    );
    assert!(err.contains("Usage:"), "{err}");
    assert!(err.contains("--module"), "{err}");
    // BILLmanager's own calls are unchanged.
    let (code, out, _) = run_with_root(Some(root.path()), &["--command", "features"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("<features>"), "{out}");
}

#[test]
fn help_describes_the_options() {
    let root = scratch_root();
    let (code, out, _) = run_with_root(Some(root.path()), &["pricing", "preview", "--help"]);
    assert_eq!(code, 0);
    for line in out.lines().filter(|l| l.trim_start().starts_with("--")) {
        let described = line.trim().split_once("  ").map(|(_, d)| d.trim());
        assert!(
            described.is_some_and(|d| !d.is_empty()),
            "option without a description: {line}\n{out}"
        );
    }
    assert!(out.contains("Processing module id"), "{out}");
}

#[test]
fn config_reports_every_bad_value_and_prints_toml() {
    let root = scratch_root();
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[log]\nlevel = \"verbose\"\n\n[upstream]\nca_file = \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    let (code, out, err) = run_with_root(Some(root.path()), &["config"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("[log] level: 'verbose' is not a level"),
        "{err}"
    );
    assert!(
        err.contains("[upstream] ca_file: /nonexistent/ca.pem does not exist"),
        "{err}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");
    // The effective settings, in the file's own spelling.
    assert!(out.contains("[log]\nlevel = \"verbose\"\n"), "{out}");
    assert!(out.contains("ca_file = \"/nonexistent/ca.pem\""), "{out}");
    assert!(out.contains("[lifecycle]\n"), "{out}");
    assert!(!out.contains("Config {"), "not a Debug dump: {out}");
    // The same file makes BILLmanager's calls fail with the same words.
    let (code, out, _) = run_with_root(Some(root.path()), &["--command", "features"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("&apos;verbose&apos; is not a level")
            || out.contains("'verbose' is not a level"),
        "{out}"
    );
    // Fixed: exit 0.
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[log]\nlevel = \"debug\"\n",
    )
    .unwrap();
    let (code, out, err) = run_with_root(Some(root.path()), &["config"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.is_empty(), "{err}");
}

/// `config` lists every problem of the file, not only the first the TOML
/// reader meets: unknown keys, wrong types and bad values together.
#[test]
fn config_lists_every_problem_of_the_file() {
    let root = scratch_root();
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[log]\nlevle = \"debug\"\n[upstream]\ntimeout_secs = \"fast\"\ntimeout = 5\n\
         [lifecycle]\nreissue_before_days = 0\n[sync]\nconcurrency = 99\n",
    )
    .unwrap();
    let (code, out, err) = run_with_root(Some(root.path()), &["config"]);
    assert_eq!(code, 1, "{out}{err}");
    for needle in [
        "error: [log] levle: unknown field `levle`",
        "error: [upstream] timeout: unknown field `timeout`",
        "error: [upstream] timeout_secs: invalid type: string \"fast\"",
        "error: [lifecycle] reissue_before_days: 0 is outside",
        "error: [sync] concurrency: 99 is outside",
        "5 problem(s) in",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The rest is still shown as read.
    assert!(out.contains("[upstream]"), "{out}");
}

/// A module whose upstream password is short gets a warning from `config`
/// (and in the log when it connects); the password itself shows nowhere.
#[test]
fn config_warns_about_a_short_upstream_password() {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let long = db.seed_module("https://upstream.invalid/billmgr", USER, PASS);
    let short = db.seed_module("https://upstream.invalid/billmgr", USER, "oop");
    let (code, out, err) = run_with_root(Some(mgr.path()), &["config"]);
    assert_eq!(code, 0, "a warning, not a problem: {out}{err}");
    assert!(
        err.contains(&format!(
            "warning: processing module {short}: the upstream password is shorter than 6 characters"
        )),
        "{err}"
    );
    assert!(
        !err.contains(&format!("processing module {long}:")),
        "{err}"
    );
    let said = format!("{out}{err}");
    assert!(
        !said
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "oop"),
        "{said}"
    );
}

/// Module `id` becomes a module of another type with none of our settings.
fn make_foreign(db: &TestDb, id: u64) {
    let mut c = db.conn();
    c.exec_drop(
        "UPDATE processingmodule SET module = 'pmother' WHERE id = ?",
        (id,),
    )
    .unwrap();
    c.exec_drop(
        "DELETE FROM processingparam WHERE processingmodule = ?",
        (id,),
    )
    .unwrap();
    c.exec_drop(
        "DELETE FROM processingcryptedparam WHERE processingmodule = ?",
        (id,),
    )
    .unwrap();
}

#[test]
fn a_module_of_another_type_is_named_as_such() {
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let module = db.seed_module("https://upstream.invalid/billmgr", USER, PASS);
    make_foreign(&db, module);
    let id = module.to_string();
    for args in [
        &["sync", "--module", id.as_str()][..],
        &["catalog", "refresh", "--module", id.as_str()][..],
        &["pricing", "preview", "--refresh", "--module", id.as_str()][..],
    ] {
        let (code, out, err) = run_module(&mgr, args, None);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains("is a 'pmother' module, not a pmsslreseller module"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("has no"), "{args:?}: {err}");
    }
}

#[test]
fn a_database_error_says_what_to_check() {
    let db = TestDb::create();
    let mut mgr = TestMgr::new(&db);
    mgr.db_name = format!("{}_missing", db.name);
    mgr.write_conf(
        "localhost",
        "root",
        "",
        &support::billing::mysql_socket(),
        &[],
    );
    let (code, out, err) = run_module(&mgr, &["sync", "--module", "1"], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("DBName"), "{err}");
    assert!(err.contains("paramlist"), "{err}");
    assert!(!err.contains("MySqlError"), "{err}");
    assert!(!err.contains("ERROR 1049"), "{err}");
}

/// `pricing preview` of module 5 after a `catalog refresh` from the
/// simulator's fixture catalog, with the default pricing rules.
fn preview_of_the_fixture_catalog() -> (tempfile::TempDir, String) {
    let root = scratch_root();
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/sim/fixtures/catalog.xml");
    let (code, out, err) = run_with_root(
        Some(root.path()),
        &[
            "catalog",
            "refresh",
            "--module",
            "5",
            "--from-file",
            catalog,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) =
        run_with_root(Some(root.path()), &["pricing", "preview", "--module", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    (root, out)
}

#[test]
fn pricing_preview_shows_money_with_currency_and_two_decimals() {
    let (root, out) = preview_of_the_fixture_catalog();
    let config = root.path().join("etc/pmsslreseller.toml");
    assert!(
        out.contains(&format!(
            "default rules (no markup; {} does not exist)",
            config.display()
        )),
        "{out}"
    );
    assert!(!out.contains("rules from"), "{out}");
    // Every amount: digits, a point, two decimals, a currency code.
    let money = |cell: &str| {
        let Some((number, currency)) = cell.split_once(' ') else {
            return false;
        };
        let Some((_, decimals)) = number.split_once('.') else {
            return false;
        };
        decimals.len() == 2
            && currency.len() == 3
            && currency.chars().all(|c| c.is_ascii_uppercase())
    };
    // The price table, then (after a blank line) the one of whole terms.
    let (prices, terms) = out.split_once("\n\n").expect("two tables");
    let rows: Vec<&str> = prices.lines().filter(|l| l.starts_with("ssl_")).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in terms.lines().filter(|l| l.starts_with("ssl_")) {
        // template, term, model, purchases, cost, sell, margin, status
        let amounts = row.split("  ").map(str::trim).filter(|c| money(c)).count();
        assert_eq!(amounts, 3, "cost, sell, margin: {row}");
    }
    for row in rows {
        // template, period ("12 mo"), cost, [rate], sell, margin, lowest, status, name
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let amounts: Vec<&&str> = cells.iter().filter(|c| money(c)).collect();
        assert!(amounts.len() >= 4, "cost, sell, margin, lowest: {row}");
        assert!(!row.contains(".0000"), "{row}");
    }
    // With a config file, the rules are named by it.
    std::fs::write(&config, "[pricing]\nmarkup_percent = \"10\"\n").unwrap();
    let (_, out, _) = run_with_root(Some(root.path()), &["pricing", "preview", "--module", "5"]);
    assert!(
        out.contains(&format!("rules from {}", config.display())),
        "{out}"
    );
}

/// With default rules (no markup) every term that needs more than one
/// purchase loses money, but only on an upstream that sells one certificate
/// per purchase: each such row, and the warning, must say so, or the admin
/// reads a screen of losses that a subscription upstream never makes.
#[test]
fn pricing_preview_says_losses_are_per_certificate_only() {
    let (_root, out) = preview_of_the_fixture_catalog();
    let (_, terms) = out.split_once("\n\n").expect("two tables");
    let losing: Vec<&str> = terms
        .lines()
        .filter(|l| l.starts_with("ssl_") && l.contains("LOSES MONEY"))
        .collect();
    assert!(
        !losing.is_empty(),
        "default rules lose money somewhere: {out}"
    );
    for row in &losing {
        assert!(row.contains("per certificate"), "model column: {row}");
        assert!(row.contains("LOSES MONEY if per-certificate"), "{row}");
    }
    for row in terms.lines().filter(|l| l.contains("subscription")) {
        assert!(!row.contains("LOSES"), "{row}");
    }
    assert!(
        terms.contains("which of the two your upstream follows is not known to the module"),
        "{terms}"
    );
    let warning = terms
        .lines()
        .find(|l| l.starts_with("warning:"))
        .expect("a warning");
    assert!(
        warning.contains("only if your upstream sells one certificate per purchase"),
        "{warning}"
    );
    assert!(
        warning.contains("a subscription upstream loses on none"),
        "{warning}"
    );
}

#[test]
fn a_permanent_error_is_logged_once_and_goes_to_an_admin() {
    let sim = SimUpstream::start();
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let module = db.seed_module(&sim.url(), USER, PASS);
    let tariff = db.seed_certificate_tariff("ssl_3040");
    // 7 months: a period tariff 3040 is not sold for (the cached catalog says so).
    let item =
        db.seed_certificate_item(module, tariff, 7, &certificate_params(), Some(EXAMPLE_CSR));
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/sim/fixtures/catalog.xml");
    let m = module.to_string();
    let (code, out, err) = run_module(
        &mgr,
        &["catalog", "refresh", "--module", &m, "--from-file", catalog],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let ro = db.create_running_operation(item, "open");
    db.bump_trycount(ro);
    let (code, out, _) = run_operation(&mgr, "open", item, ro, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("object=\"period\""), "{out}");
    let log = mgr.module_log();
    let error_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("period"))
        .collect();
    assert_eq!(error_lines.len(), 1, "logged once:\n{log}");
    assert!(!log.contains("BILLmanager reruns it"), "{log}");
    assert!(!log.contains("try 0"), "{log}");
    assert!(log.contains("a rerun cannot fix"), "{log}");
    let state = db.running_operation(ro).unwrap();
    assert_eq!(state.manual, "on", "an admin gets it at once");
    assert_eq!(db.tasks().len(), 1);
    assert!(sim
        .journal()
        .iter()
        .all(|e| e.func != "certificate.order.param"));
}

/// A 5 MB item param that money depends on (`pmss_intent`, not JSON) in a
/// `prolong`: the error quotes it shortened with its length, the answer on
/// stdout stays a few KB, and the error reaches the running operation (its
/// `mgrctl runningoperation.edit` carries the error XML as one argv value,
/// which Linux caps at 128 KiB): the admin reads there what to do, and the
/// operation goes to an admin at once. Nothing is sent upstream.
#[test]
fn a_5_mb_param_gives_a_short_error_that_reaches_the_operation() {
    let sim = SimUpstream::start();
    let db = TestDb::create();
    let mgr = TestMgr::new(&db);
    let module = db.seed_module(&sim.url(), USER, PASS);
    let tariff = db.seed_certificate_tariff("ssl_3040");
    let mut params = certificate_params();
    params.push(("pmss_upstream_id", "100001"));
    let item = db.seed_certificate_item(module, tariff, 12, &params, Some(EXAMPLE_CSR));
    let junk = "J".repeat(5 * 1024 * 1024);
    db.conn()
        .exec_drop(
            "REPLACE INTO itemparam (item, intname, value) VALUES (?, 'pmss_intent', ?)",
            (item, &junk),
        )
        .unwrap();
    let ro = db.create_running_operation(item, "prolong");
    db.bump_trycount(ro);
    let (code, out, err) = run_operation(&mgr, "prolong", item, ro, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(out.len() < 10_000, "{} bytes on stdout", out.len());
    assert!(out.contains("<error type=\"manual_required\""), "{out}");
    assert!(out.contains("pmss_intent"), "{out}");
    assert!(out.contains(&format!("({} bytes)", junk.len())), "{out}");
    let state = db.running_operation(ro).unwrap();
    let recorded = state
        .errorxml
        .unwrap_or_else(|| panic!("no error on the operation\n{}", mgr.module_log()));
    assert!(recorded.len() < 20_000, "{} bytes recorded", recorded.len());
    assert!(recorded.contains("manual_required"), "{recorded}");
    assert!(
        recorded.contains("delete the param"),
        "what to do: {recorded}"
    );
    assert_eq!(state.manual, "on", "an admin gets it at once");
    assert_eq!(db.tasks().len(), 1);
    assert!(
        sim.journal().iter().all(|e| e.func != "service.prolong"),
        "nothing sent upstream"
    );
    let log = mgr.module_log();
    assert!(log.len() < 200_000, "{} bytes of log", log.len());
}
