//! The catalog end to end through the real binary: `catalog refresh` from a
//! saved export, `catalog show`, `pricing preview`, `features` with templates
//! (golden), `import_pricelist`, and a broken export that must keep the cache.

#[path = "gen/catalog_export.rs"]
mod gen;
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FIXTURE: &str = "tests/fixtures/catalog/export.xml";

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        let dir = support::scratch_billmanager_root();
        Root { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pmsslreseller"))
            .args(args)
            .env("MGR5_ROOT", self.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn cache(&self, module: u64) -> PathBuf {
        self.path()
            .join(format!("var/pmsslreseller/catalog-{module}.json"))
    }

    /// Every file a refresh of `module` writes.
    fn written(&self, module: u64) -> Vec<PathBuf> {
        vec![
            self.cache(module),
            self.path()
                .join(format!("var/pmsslreseller/templates-{module}.json")),
            self.path()
                .join("etc/xml/billmgr_mod_pmsslreseller_catalog.xml"),
            self.path()
                .join(format!("var/pmsslreseller/export-{module}.json")),
        ]
    }

    fn write_export(&self, name: &str, text: &str) -> String {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fixture() -> String {
    std::fs::read_to_string(FIXTURE).unwrap()
}

/// The fixture with one tariff's 12-month price raised from 7.5000 to 8.2500.
fn repriced_fixture() -> String {
    let fixture = fixture();
    let repriced = fixture.replace(
        "<period cost=\"7.5000\" type=\"month\" length=\"12\">",
        "<period cost=\"8.2500\" type=\"month\" length=\"12\">",
    );
    assert_ne!(repriced, fixture, "the fixture has a 7.5000 12-month price");
    repriced
}

fn refresh(root: &Root, module: &str, file: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "catalog",
        "refresh",
        "--module",
        module,
        "--from-file",
        file,
    ];
    args.extend_from_slice(extra);
    root.run(&args)
}

#[test]
fn refresh_then_features_has_templates_identical_between_runs() {
    let root = Root::new();
    let file = root.write_export("export.xml", &fixture());
    let o = refresh(&root, "3", &file, &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ssl_3033"), "{out}");
    assert!(out.contains("Comodo Positive SSL"), "{out}");
    assert!(
        out.contains("mgrctl -m billmgr -R"),
        "first refresh must ask for a restart: {out}"
    );
    assert!(root.cache(3).exists());

    let messages = std::fs::read_to_string(
        root.path()
            .join("etc/xml/billmgr_mod_pmsslreseller_catalog.xml"),
    )
    .unwrap();
    assert!(
        messages.contains("<messages name=\"pricelist.certificate\">"),
        "{messages}"
    );
    assert!(
        messages.contains("<msg name=\"ssl_55346\">AlphaSSL мультидомен</msg>"),
        "{messages}"
    );

    let a = root.run(&["--command", "features"]);
    let b = root.run(&["--command", "features"]);
    assert!(a.status.success(), "{}", stdout(&a));
    assert_eq!(
        a.stdout, b.stdout,
        "features must be identical between runs"
    );
    let features = stdout(&a);
    // Golden: the <templates> block only, so the feature list (which grows
    // as commands are implemented) does not break this test.
    let start = features.find("  <templates>").expect("templates present");
    let end = features.find("</templates>").unwrap() + "</templates>\n".len();
    let templates = &features[start..end];
    let golden_path = "tests/golden/features-templates.xml";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, templates).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path).unwrap();
    assert_eq!(
        templates, golden,
        "templates differ from {golden_path} (UPDATE_GOLDEN=1 rewrites it)"
    );
    // import_pricelist is advertised by default, so the wizard offers the module.
    assert!(features.contains("<feature name=\"import_pricelist\"/>"));
}

#[test]
fn features_merge_modules_deterministically() {
    let root = Root::new();
    let first = root.write_export("a.xml", &fixture());
    let second = root.write_export(
        "b.xml",
        r#"<doc><pricelist><id>3033</id><name>Other upstream's 3033</name></pricelist><pricelist><id>1</id><name>Extra Wildcard</name></pricelist></doc>"#,
    );
    assert!(refresh(&root, "7", &second, &[]).status.success());
    assert!(refresh(&root, "2", &first, &[]).status.success());
    let f = stdout(&root.run(&["--command", "features"]));
    let ids: Vec<&str> = f
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<template name=\""))
        .map(|l| &l[..l.find('"').unwrap()])
        .collect();
    assert_eq!(
        ids,
        vec![
            "ssl_1",
            "ssl_1011",
            "ssl_2900",
            "ssl_3033",
            "ssl_4100",
            "ssl_4200",
            "ssl_55324",
            "ssl_55346"
        ]
    );
    // Module 2 (lowest id) wins the shared template.
    assert!(f.contains("display_name=\"Comodo Positive SSL\""), "{f}");
    assert!(!f.contains("Other upstream"), "{f}");
}

#[test]
fn features_without_cache_or_with_damaged_cache_still_answers() {
    let root = Root::new();
    let o = root.run(&["--command", "features"]);
    assert!(o.status.success());
    assert!(!stdout(&o).contains("<templates>"));
    std::fs::create_dir_all(root.path().join("var/pmsslreseller")).unwrap();
    std::fs::write(root.cache(5), "{broken").unwrap();
    let o = root.run(&["--command", "features"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("<itemtype name=\"certificate\"/>"));
}

#[test]
fn broken_export_keeps_the_old_cache() {
    let root = Root::new();
    let good = root.write_export("good.xml", &fixture());
    assert!(refresh(&root, "3", &good, &[]).status.success());
    let before = std::fs::read(root.cache(3)).unwrap();
    let text = fixture();
    for (name, body) in [
        ("truncated.xml", text[..text.len() / 2].to_string()),
        (
            "html.xml",
            "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>".to_string(),
        ),
        ("empty.xml", "<doc></doc>".to_string()),
        (
            "error.xml",
            "<doc><error type=\"auth\"><msg>bad</msg></error></doc>".to_string(),
        ),
    ] {
        let file = root.write_export(name, &body);
        let o = refresh(&root, "3", &file, &[]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains("is kept"), "{name}: {err}");
        assert_eq!(
            std::fs::read(root.cache(3)).unwrap(),
            before,
            "{name} replaced the cache"
        );
    }
    // An empty catalog is accepted only on request.
    let empty = root.write_export("empty.xml", "<doc></doc>");
    assert!(refresh(&root, "3", &empty, &["--allow-empty"])
        .status
        .success());
}

#[test]
fn refresh_shows_diff_and_json() {
    let root = Root::new();
    let old = root.write_export("old.xml", &fixture());
    assert!(refresh(&root, "3", &old, &[]).status.success());
    let changed = repriced_fixture().replace("<id>1011</id>", "<id>1012</id>");
    let new = root.write_export("new.xml", &changed);
    let o = refresh(&root, "3", &new, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("New tariffs: 1012"), "{out}");
    assert!(out.contains("Removed upstream: 1011"), "{out}");
    assert!(out.contains("Price changes:"), "{out}");
    assert!(out.contains("7.5") && out.contains("8.25"), "{out}");
    assert!(out.contains("-R"), "{out}");

    // Same export again: no changes, no restart.
    let o = refresh(&root, "3", &new, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["restart_required"], false);
    assert_eq!(v["diff"]["added"].as_array().unwrap().len(), 0);
    assert_eq!(v["tariffs"].as_array().unwrap().len(), 7);

    let o = root.run(&["catalog", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["catalogs"][0]["module_id"], 3);
    assert_eq!(v["catalogs"][0]["tariffs"][0]["id"], 1012);
    let o = root.run(&["catalog", "show", "--module", "3"]);
    assert!(stdout(&o).contains("GeoTrust True Business ID OV"));
    let o = root.run(&["catalog", "show", "--module", "99"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("catalog refresh --module 99"));
}

#[test]
fn pricing_preview_flags_prices_under_the_guard() {
    let root = Root::new();
    let file = root.write_export("export.xml", &fixture());
    assert!(refresh(&root, "3", &file, &[]).status.success());
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[pricing]\nmarkup_percent = \"10\"\nmin_margin = \"2\"\ncurrency = \"EUR\"\nrounding = \"ends_90\"\n\
         [pricing.rates]\nRUB = \"0.0105\"\n[[pricing.tariff]]\nid = 4200\nmarkup_percent = \"-5\"\n",
    )
    .unwrap();
    let o = root.run(&["pricing", "preview", "--module", "3", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let quotes = v["quotes"].as_array().unwrap();
    let find = |t: &str, months: u64| {
        quotes
            .iter()
            .find(|q| q["template"] == t && q["quote"]["months"] == months)
            .unwrap_or_else(|| panic!("{t} {months}"))["quote"]
            .clone()
    };
    // 7.50 + 10 % = 8.25 → 8.90; margin 1.40 < 2 → flagged.
    let q = find("ssl_3033", 12);
    assert_eq!(
        (q["sell"].as_str(), q["status"].as_str()),
        (Some("8.90"), Some("below_margin"))
    );
    // 39 + 3.9 = 42.9 → 42.90, margin 3.90 → ok.
    let q = find("ssl_55324", 12);
    assert_eq!(
        (q["sell"].as_str(), q["status"].as_str()),
        (Some("42.90"), Some("ok"))
    );
    // RUB converted: 12900 × 0.0105 = 135.45; +10 % = 148.995 → 148.995 → 149.90.
    let q = find("ssl_4100", 12);
    let dec = |v: &serde_json::Value| {
        v.as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    assert_eq!(dec(&q["converted_cost"]), "135.45".parse().unwrap());
    assert_eq!(q["sell"].as_str(), Some("149.90"));
    // Negative per-tariff markup: flagged, never offered.
    assert_eq!(find("ssl_4200", 12)["status"], "below_margin");
    assert!(v["flagged"].as_u64().unwrap() >= 2);

    let o = root.run(&["pricing", "preview", "--module", "3"]);
    let out = stdout(&o);
    assert!(
        out.contains("BELOW MARGIN") && out.contains("flagged"),
        "{out}"
    );
}

#[test]
fn import_pricelist_logs_the_call_even_when_it_cannot_answer() {
    // No BILLmanager here (no mgrctl, no DB): the module settings cannot be
    // read, so the import fails with an error document, never an empty success.
    let root = Root::new();
    let o = root.run(&[
        "--command",
        "import_pricelist",
        "--module",
        "3",
        "--subcommand",
        "pricelist",
        "--id",
        "3033",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("<error type=\"billing\""),
        "{}",
        stdout(&o)
    );
    let log = std::fs::read_to_string(root.path().join("var/pmsslreseller.log")).unwrap();
    assert!(log.contains("P-U2 capture): argv"), "{log}");
    assert!(
        log.contains("\"--subcommand\", \"pricelist\", \"--id\", \"3033\""),
        "{log}"
    );
    assert!(log.contains("stdin 0 bytes"), "{log}");

    // Advertised by default; the setting switches it off.
    assert!(stdout(&root.run(&["--command", "features"]))
        .contains("<feature name=\"import_pricelist\"/>"));
    std::fs::write(
        root.path().join("etc/pmsslreseller.toml"),
        "[catalog]\nadvertise_import_pricelist = false\n",
    )
    .unwrap();
    assert!(!stdout(&root.run(&["--command", "features"])).contains("import_pricelist"));
}

/// Content, inode and modification time of each file: what "not written"
/// means.
fn snapshot(files: &[PathBuf]) -> Vec<(Vec<u8>, u64, i64, i64)> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (
                std::fs::read(f).unwrap(),
                m.ino(),
                m.mtime(),
                m.mtime_nsec(),
            )
        })
        .collect()
}

#[test]
fn the_same_export_again_is_not_stored_again() {
    let root = Root::new();
    let file = root.write_export("export.xml", &fixture());
    assert!(refresh(&root, "3", &file, &[]).status.success());
    let before = snapshot(&root.written(3));

    let o = refresh(&root, "3", &file, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("identical to the one stored"), "{out}");
    assert!(out.contains("nothing written"), "{out}");
    assert!(!out.contains("Cache written"), "{out}");
    assert!(!out.contains("-R"), "nothing to restart for: {out}");
    assert!(out.contains("7 certificate tariffs"), "{out}");
    assert!(
        out.contains("Comodo Positive SSL"),
        "a small catalog is listed: {out}"
    );
    assert_eq!(snapshot(&root.written(3)), before, "a file was written");

    // --json and --verbose read the cached catalog: the same tariffs.
    let o = refresh(&root, "3", &file, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["unchanged"], true);
    assert_eq!(v["restart_required"], false);
    assert_eq!(v["tariffs"].as_array().unwrap().len(), 7);
    assert_eq!(v["diff"]["price_changed"].as_array().unwrap().len(), 0);
    let o = refresh(&root, "3", &file, &["--verbose"]);
    assert!(stdout(&o).contains("Comodo Positive SSL"), "{}", stdout(&o));
    assert_eq!(snapshot(&root.written(3)), before, "a file was written");

    // A changed export is compared and stored.
    let changed = root.write_export("changed.xml", &repriced_fixture());
    let o = refresh(&root, "3", &changed, &[]);
    let out = stdout(&o);
    assert!(
        out.contains("Price changes:") && out.contains("8.25"),
        "{out}"
    );
    assert!(out.contains("Cache written"), "{out}");
    // … and the first one again is a change back, not "identical".
    let o = refresh(&root, "3", &file, &[]);
    let out = stdout(&o);
    assert!(
        out.contains("Price changes:") && out.contains("7.5"),
        "{out}"
    );
    assert!(!out.contains("identical"), "{out}");
}

#[test]
fn an_unchanged_export_is_stored_again_when_the_cache_was_touched() {
    let root = Root::new();
    let file = root.write_export("export.xml", &fixture());
    assert!(refresh(&root, "3", &file, &[]).status.success());
    // Cache removed, template view rewritten (same bytes, a new file),
    // template names removed: each time the export is stored again.
    let view = root.written(3)[1].clone();
    let names = root.written(3)[2].clone();
    type Touch<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let touches: [Touch; 3] = [
        (
            "cache removed",
            Box::new(|| std::fs::remove_file(root.cache(3)).unwrap()),
        ),
        (
            "view rewritten",
            Box::new(|| {
                let text = std::fs::read(&view).unwrap();
                std::fs::remove_file(&view).unwrap();
                std::fs::write(&view, text).unwrap();
            }),
        ),
        (
            "names removed",
            Box::new(|| std::fs::remove_file(&names).unwrap()),
        ),
    ];
    for (what, touch) in touches {
        touch();
        let o = refresh(&root, "3", &file, &[]);
        let out = stdout(&o);
        assert!(o.status.success(), "{what}: {out}{}", stderr(&o));
        assert!(out.contains("Cache written"), "{what}: {out}");
        for f in root.written(3) {
            assert!(f.exists(), "{what}: {}", f.display());
        }
        let o = refresh(&root, "3", &file, &[]);
        assert!(stdout(&o).contains("identical"), "{what}: {}", stdout(&o));
    }

    // An empty export stays refused without --allow-empty, also unchanged.
    let empty = root.write_export("empty.xml", "<doc></doc>");
    assert!(refresh(&root, "3", &empty, &["--allow-empty"])
        .status
        .success());
    assert_eq!(refresh(&root, "3", &empty, &[]).status.code(), Some(1));
    let o = refresh(&root, "3", &empty, &["--allow-empty"]);
    assert!(stdout(&o).contains("identical"), "{}", stdout(&o));
}

#[test]
fn a_large_catalog_is_summed_up_unless_verbose() {
    let root = Root::new();
    let (export, _) = gen::export(200);
    let file = root.write_export("big.xml", &export);
    let o = refresh(&root, "4", &file, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("200 certificate tariffs"), "{out}");
    assert!(out.contains("not listed one by one: --verbose"), "{out}");
    assert!(out.contains("DV 67, OV 67, EV 66"), "{out}");
    assert!(!out.contains("ssl_100150 "), "{out}");
    assert!(out.contains("skipped: <pricelist> #201: no <id>"), "{out}");

    // Every 24-month price changes: the list stops after 50 rows.
    let changed = root.write_export(
        "changed.xml",
        &export.replace(
            ".5000\" type=\"month\" length=\"24\"",
            ".7500\" type=\"month\" length=\"24\"",
        ),
    );
    let o = refresh(&root, "4", &changed, &[]);
    let out = stdout(&o);
    assert!(out.contains("Price changes: 166"), "{out}");
    // The same again: counts from the stamp, no table, nothing read.
    let o = refresh(&root, "4", &changed, &[]);
    let again = stdout(&o);
    assert!(
        again.contains("200 certificate tariffs (3 export entries skipped, 0 warnings)"),
        "{again}"
    );
    assert!(!again.contains("ssl_100150"), "{again}");
    assert!(
        out.contains("… and 116 more (--verbose lists all)"),
        "{out}"
    );
    let o = refresh(&root, "4", &file, &["--verbose"]);
    let out = stdout(&o);
    assert!(out.contains("Price changes: 166"), "{out}");
    assert!(!out.contains("more (--verbose"), "{out}");
    assert!(
        out.contains("ssl_100150 "),
        "--verbose lists every tariff: {out}"
    );
    let o = refresh(&root, "4", &file, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tariffs"].as_array().unwrap().len(), 200);
}

#[test]
fn a_price_change_rewrites_the_catalog_alone() {
    let root = Root::new();
    let file = root.write_export("export.xml", &fixture());
    assert!(refresh(&root, "3", &file, &[]).status.success());
    let templates = root.written(3)[1..3].to_vec();
    let before = snapshot(&templates);
    let cache_before = std::fs::read(root.cache(3)).unwrap();

    let repriced = root.write_export("repriced.xml", &repriced_fixture());
    let o = refresh(&root, "3", &repriced, &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("Price changes: 1"), "{out}");
    assert!(out.contains("Template names unchanged"), "{out}");
    assert_eq!(snapshot(&templates), before, "view or names rewritten");
    assert_ne!(std::fs::read(root.cache(3)).unwrap(), cache_before);
    // The stamp vouches for the kept view: the same export again is identical.
    let o = refresh(&root, "3", &repriced, &[]);
    assert!(stdout(&o).contains("identical"), "{}", stdout(&o));

    // A new name is written to the view and the names file.
    let renamed = root.write_export(
        "renamed.xml",
        &fixture().replace("Comodo Positive SSL", "Sectigo Positive SSL"),
    );
    let o = refresh(&root, "3", &renamed, &[]);
    let out = stdout(&o);
    assert!(out.contains("Template names written"), "{out}");
    assert!(out.contains("Name or flags changed"), "{out}");
    let names = std::fs::read_to_string(&templates[1]).unwrap();
    assert!(names.contains("Sectigo Positive SSL"), "{names}");
    let f = stdout(&root.run(&["--command", "features"]));
    assert!(f.contains("display_name=\"Sectigo Positive SSL\""), "{f}");
}
