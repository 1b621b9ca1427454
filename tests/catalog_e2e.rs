//! `catalog refresh` / `pricing preview` / `features` against the real
//! simulator upstream, with the module settings read from a real MariaDB
//! database through the mgrctl stand-in (as on a BILLmanager host).

mod support;

use mysql::prelude::Queryable;

use support::billing::{run_module, TestDb, TestMgr};
use support::sim::{SimFault, SimUpstream, PASS, USER};

struct Stand {
    sim: SimUpstream,
    _db: TestDb,
    mgr: TestMgr,
    module: String,
}

fn stand() -> Stand {
    let sim = SimUpstream::start();
    let db = TestDb::create();
    let module = db.seed_module(&sim.url(), USER, PASS).to_string();
    let mgr = TestMgr::new(&db);
    Stand {
        sim,
        _db: db,
        mgr,
        module,
    }
}

impl Stand {
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_module(&self.mgr, args, None)
    }

    fn refresh(&self) -> (i32, String, String) {
        self.run(&["catalog", "refresh", "--module", &self.module])
    }

    fn cache(&self) -> std::path::PathBuf {
        self.mgr
            .path()
            .join(format!("var/pmsslreseller/catalog-{}.json", self.module))
    }
}

#[test]
fn refresh_from_the_simulator_builds_templates() {
    let s = stand();
    let (code, out, err) = s.refresh();
    assert_eq!(code, 0, "{out}{err}");
    for needle in [
        "ssl_3033",
        "Comodo Positive SSL Wildcard",
        "ssl_55330",
        "RUB",
        "mgrctl -m billmgr -R",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    assert!(s.sim.journal().iter().any(|j| j.func == "pricelist.export"));

    let (code, features, _) = s.run(&["--command", "features"]);
    assert_eq!(code, 0);
    assert!(features.contains("<template name=\"ssl_3035\" id=\"ssl_3035\" display_name=\"Comodo Positive SSL Wildcard\" wildcard=\"yes\" www=\"yes\""), "{features}");
    assert!(features.contains("<template name=\"ssl_3040\" id=\"ssl_3040\" display_name=\"Comodo Positive SSL Multi-Domain\" www=\"yes\" multidomain=\"yes\""), "{features}");
    assert!(features.contains("id=\"ssl_1020\" display_name=\"GeoTrust True BusinessID\" www=\"yes\" orginfo=\"yes\"/>"), "{features}");

    // The upstream password never reaches the output or the log.
    let log = s.mgr.module_log();
    assert!(!out.contains(PASS) && !err.contains(PASS) && !log.contains(PASS));
    assert!(log.contains("catalog refresh"), "{log}");
}

#[test]
fn broken_upstream_answers_keep_the_cache() {
    let s = stand();
    assert_eq!(s.refresh().0, 0);
    let before = std::fs::read(s.cache()).unwrap();
    for kind in ["http_502", "not_xml", "truncated"] {
        s.sim.fault(&SimFault::new("pricelist.export", kind));
        let (code, out, err) = s.refresh();
        assert_eq!(code, 1, "{kind}: {out}{err}");
        assert!(err.contains("is kept"), "{kind}: {err}");
        assert_eq!(
            std::fs::read(s.cache()).unwrap(),
            before,
            "{kind} replaced the cache"
        );
    }
    s.sim.clear_faults();
    // An export without certificate tariffs is refused unless asked for.
    s.sim.set_catalog(
        "<doc><pricelist><id>1</id><name>VPS</name><itemtype>3</itemtype><itemtype_info><intname>vds</intname></itemtype_info>\
         <price currency=\"EUR\"><period cost=\"5.0000\" type=\"month\" length=\"1\"/></price></pricelist></doc>",
    );
    let (code, _, err) = s.refresh();
    assert_eq!(code, 1);
    assert!(err.contains("--allow-empty"), "{err}");
    assert_eq!(std::fs::read(s.cache()).unwrap(), before);
}

#[test]
fn price_change_upstream_shows_in_the_diff_and_preview() {
    let s = stand();
    assert_eq!(s.refresh().0, 0);
    let fixture = std::fs::read_to_string("sim/fixtures/catalog.xml").unwrap();
    let changed = fixture.replacen(
        "<period cost=\"21.0000\" type=\"month\" length=\"12\">",
        "<period cost=\"23.5000\" type=\"month\" length=\"12\">",
        1,
    );
    assert_ne!(changed, fixture, "fixture changed shape; adapt the test");
    s.sim.set_catalog(&changed);
    let (code, out, err) = s.refresh();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Price changes:"), "{out}");
    assert!(out.contains("3033") && out.contains("23.5"), "{out}");
    assert!(
        !out.contains("restart it"),
        "a price change alone needs no restart: {out}"
    );

    std::fs::write(
        s.mgr.path().join("etc/pmsslreseller.toml"),
        "[pricing]\nmarkup_percent = \"5\"\nmin_margin = \"2\"\n",
    )
    .unwrap();
    let (code, json, err) = s.run(&["pricing", "preview", "--module", &s.module, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let q = v["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["template"] == "ssl_3033" && q["quote"]["months"] == 12)
        .unwrap()["quote"]
        .clone();
    // 23.50 + 5 % = 24.675 → 24.68; margin 1.18 < 2 → flagged.
    assert_eq!(q["sell"], "24.68");
    assert_eq!(q["status"], "below_margin");
}

#[test]
fn a_module_of_another_type_is_refused() {
    let s = stand();
    s._db
        .conn()
        .exec_drop(
            "UPDATE processingmodule SET module = 'pmother' WHERE id = ?",
            (s.module.as_str(),),
        )
        .unwrap();
    let (code, _, err) = s.refresh();
    assert_eq!(code, 1);
    assert!(err.contains("not a pmsslreseller module"), "{err}");
    assert!(!s.cache().exists());
}

#[test]
fn import_pricelist_answers_with_current_upstream_prices() {
    let s = stand();
    std::fs::write(
        s.mgr.path().join("etc/pmsslreseller.toml"),
        "[pricing]\nmarkup_percent = \"20\"\n",
    )
    .unwrap();
    let (code, list, _) = run_module(
        &s.mgr,
        &[
            "--command",
            "import_pricelist",
            "--module",
            &s.module,
            "--subcommand",
            "available",
        ],
        Some("<doc><probe/></doc>"),
    );
    assert_eq!(code, 0, "{list}");
    assert!(
        list.contains("<elem>")
            && list.contains("<id>3033</id>")
            && list.contains("<intname>ssl_3033</intname>"),
        "{list}"
    );
    assert!(
        !list.contains("<id>2018</id>"),
        "archived must not be offered: {list}"
    );
    // The import refreshed the cache, so features now has the templates.
    assert!(s.cache().exists());

    // Upstream raises a price: the detail answer follows at once.
    let fixture = std::fs::read_to_string("sim/fixtures/catalog.xml").unwrap();
    s.sim.set_catalog(&fixture.replacen(
        "<period cost=\"21.0000\" type=\"month\" length=\"12\">",
        "<period cost=\"25.0000\" type=\"month\" length=\"12\">",
        1,
    ));
    let (code, detail, _) = s.run(&[
        "--command",
        "import_pricelist",
        "--module",
        &s.module,
        "--subcommand",
        "pricelist",
        "--id",
        "3033",
    ]);
    assert_eq!(code, 0, "{detail}");
    assert!(
        detail.contains("<period cost=\"30.00\" type=\"month\" length=\"12\"/>"),
        "{detail}"
    );
    assert!(
        detail.contains("<period cost=\"45.60\" type=\"month\" length=\"24\"/>"),
        "{detail}"
    );

    let (code, err, _) = s.run(&[
        "--command",
        "import_pricelist",
        "--module",
        &s.module,
        "--subcommand",
        "pricelist",
        "--id",
        "424242",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("<error type=\"value\""), "{err}");

    // Upstream down: an error, not an answer from old data.
    s.sim.fault(&SimFault::new("pricelist.export", "http_502"));
    let (code, err, _) = s.run(&[
        "--command",
        "import_pricelist",
        "--module",
        &s.module,
        "--subcommand",
        "available",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("<error type=\"upstream_bad_response\""),
        "{err}"
    );

    let log = s.mgr.module_log();
    // Its length only: BILLmanager's stdin may hold the module's password.
    assert!(log.contains("stdin 19 bytes"), "{log}");
    assert!(!log.contains("<probe/>"), "{log}");
    assert!(!log.contains(PASS));
}

#[test]
fn pricing_preview_can_fetch_first() {
    let s = stand();
    let (code, _, err) = s.run(&["pricing", "preview", "--module", &s.module]);
    assert_eq!(code, 1);
    assert!(err.contains("catalog refresh"), "{err}");
    let (code, out, err) = s.run(&["pricing", "preview", "--module", &s.module, "--refresh"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ssl_3033") && out.contains("21.00 EUR"),
        "{out}"
    );
    assert!(err.contains("restart BILLmanager"), "{err}");
    assert!(s.cache().exists());
}

/// BILLmanager may pass the module's settings, password included, on the
/// stdin of `import_pricelist` (P-U2: what it sends is not known). Even at
/// log level 9 nothing of stdin reaches the log (its length only), and the
/// password is nowhere: not in the log, on stdout or stderr, nor in the
/// capture files, whether the call answers, fails, or never gets to read
/// the module's own settings (so the password is never known to the
/// redaction).
#[test]
fn import_pricelist_never_shows_the_password_from_its_stdin() {
    let s = stand();
    std::fs::write(s.mgr.path().join("etc/debug.conf"), "pmsslreseller 9\n").unwrap();
    let settings = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><processingmodule><id>{}</id>\
         <url>{}</url><username>{USER}</username><password>{PASS}</password>\
         </processingmodule></doc>\n",
        s.module,
        s.sim.url()
    );
    for (args, ok) in [
        (vec!["--subcommand", "available"], true),
        (vec!["--subcommand", "pricelist", "--id", "3033"], true),
        (vec!["--subcommand", "pricelist", "--id", "424242"], false),
    ] {
        for module in [s.module.as_str(), "424242"] {
            let mut all = vec!["--command", "import_pricelist", "--module", module];
            all.extend_from_slice(&args);
            let (code, out, err) = run_module(&s.mgr, &all, Some(&settings));
            let expected = if ok && module == s.module { 0 } else { 1 };
            assert_eq!(code, expected, "{all:?}: {out}{err}");
            assert!(!out.contains(PASS), "{all:?}: password on stdout: {out}");
            assert!(!err.contains(PASS), "{all:?}: password on stderr: {err}");
        }
    }
    let log = s.mgr.module_log();
    assert!(!log.contains(PASS), "password in the log:\n{log}");
    assert!(
        log.contains(&format!("stdin {} bytes", settings.len())),
        "{log}"
    );
    assert!(!log.contains("<processingmodule>"), "stdin logged:\n{log}");
    let mut captures = 0;
    for entry in std::fs::read_dir(s.mgr.path().join("var/pmsslreseller")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("import-") && name.ends_with(".xml") {
            captures += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(PASS), "password in {name}:\n{text}");
        }
    }
    assert_eq!(captures, 6, "one capture per call");
}
