//! The customer's side of a new certificate, through the real binaries:
//! the certificate saved as the upstream gives it (PEM with or without its
//! chain, a base64 ZIP with `crt_type=zip`) and never saved again while it
//! is unchanged; the `files` command; the deploy hook once per certificate
//! (first issue and automatic reissue), its retries, cap and one problem,
//! its timeout killing the whole group, a kill mid-hook and the rerun, the
//! private key file and a log free of the key and the password; the form's
//! "install it before" line.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use mysql::prelude::Queryable;

use support::billing::{certificate_params, run_module_env, run_operation, TestDb, TestMgr};
use support::sim::SimUpstream;
use support::world::{Base, WorldBuilder};

const USER: &str = "reseller";
const PASSWORD: &str = "Upstr3am-S3cret!pw";
/// Comodo Positive SSL in the simulator's catalogue.
const TARIFF: u64 = 3033;
const START: &str = "2026-12-02";
const BASE_CONFIG: &str = "[upstream]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n\n\
[lifecycle]\nsettle_secs = 6\nlock_wait_secs = 60\nreissue_before_days = 30\n";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct World {
    up: SimUpstream,
    db: TestDb,
    mgr: TestMgr,
    module: u64,
    item: u64,
}

impl World {
    fn new(knobs: &[&str]) -> World {
        let params: Vec<(&str, &str)> = certificate_params()
            .into_iter()
            .filter(|(k, _)| *k != "altname")
            .collect();
        let base = WorldBuilder::new()
            .account(USER, PASSWORD, "1000.00")
            .knobs(&["issue_mode=instant", "term_model=subscription"])
            .knobs(knobs)
            .config(BASE_CONFIG)
            .tariffs(&[TARIFF])
            .item(24, &params)
            .build();
        let (module, item) = (base.module(), base.item());
        let Base { up, db, mgr, .. } = base;
        let w = World {
            up,
            db,
            mgr,
            module,
            item,
        };
        w.set_day(d(START));
        let m = module.to_string();
        let (code, out, err) = w.module(&["catalog", "refresh", "--module", &m], d(START));
        assert_eq!(code, 0, "catalog refresh: {out}{err}");
        w
    }

    /// The config with `[deploy]` lines added.
    fn deploy_config(&self, deploy: &str) {
        std::fs::write(
            self.mgr.path().join("etc/pmsslreseller.toml"),
            format!("{BASE_CONFIG}\n[deploy]\n{deploy}\n"),
        )
        .unwrap();
    }

    /// A hook script in the root; the command running it.
    fn hook(&self, body: &str) -> String {
        let path = self.mgr.path().join("hook.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        format!("/bin/sh {}", path.display())
    }

    /// A hook that runs `first`, then waits until the test removes its gate
    /// file (at most a minute): the hook command and the gate.
    fn gated_hook(&self, first: &str) -> (String, PathBuf) {
        let gate = self.file("gate");
        std::fs::write(&gate, "").unwrap();
        let hook = self.hook(&format!(
            "{first}\nn=0\nwhile [ -e {gate} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done",
            gate = gate.display()
        ));
        (hook, gate)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.mgr.path().join(name)
    }

    fn set_day(&self, day: NaiveDate) {
        self.up.set_clock(&format!("{day}T10:00:00Z"));
    }

    fn module(&self, args: &[&str], day: NaiveDate) -> (i32, String, String) {
        self.module_at(args, &format!("{day}T10:00:00Z"))
    }

    fn module_at(&self, args: &[&str], now: &str) -> (i32, String, String) {
        run_module_env(&self.mgr, args, None, &[("PMSSLRESELLER_TEST_NOW", now)])
    }

    fn open(&self) {
        let ro = self.db.create_running_operation(self.item, "open");
        self.db.bump_trycount(ro);
        let now = format!("{}T10:00:00Z", d(START));
        let (code, out, _) = run_operation(
            &self.mgr,
            "open",
            self.item,
            ro,
            &[("PMSSLRESELLER_TEST_NOW", &now)],
        );
        assert_eq!(code, 0, "open: {out}\n{}", self.mgr.module_log());
        assert!(
            self.db.certificate_crt(self.item).is_some(),
            "issued at once"
        );
    }

    fn sync_item_at(&self, now: &str) {
        let item = self.item.to_string();
        let (code, out, err) = self.module_at(&["--command", "sync_item", "--item", &item], now);
        assert_eq!(code, 0, "sync_item: {out}{err}\n{}", self.mgr.module_log());
    }

    fn sync_item(&self) {
        self.sync_item_at(&format!("{START}T11:00:00Z"));
    }

    fn param(&self, name: &str) -> Option<String> {
        self.db.item_param(self.item, name)
    }

    fn crt_type(&self) -> Option<String> {
        self.db
            .conn()
            .exec_first::<Option<String>, _, _>(
                "SELECT crt_type FROM certificate WHERE item = ?",
                (self.item,),
            )
            .unwrap()
            .flatten()
    }

    fn local_cert_end(&self) -> NaiveDate {
        let crt = self
            .db
            .certificate_crt(self.item)
            .expect("a saved certificate");
        pmsslreseller::issued::leaf_facts(&crt).unwrap().not_after
    }

    fn lines(&self, name: &str) -> usize {
        std::fs::read_to_string(self.file(name))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn problems(&self) -> serde_json::Value {
        std::fs::read_to_string(self.mgr.path().join("var/mgrctl-problems.json"))
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(serde_json::json!({}))
    }

    /// `problems.register` calls made through `mgrctl`.
    fn problems_registered(&self) -> usize {
        self.mgr
            .journal_funcs()
            .iter()
            .filter(|f| *f == "problems.register")
            .count()
    }

    fn files(&self, out: &Path) -> (i32, String, String) {
        let item = self.item.to_string();
        let out = out.display().to_string();
        self.module(&["files", "--item", &item, "--out", &out], d(START))
    }

    /// Automatic reissue: 10 days before the certificate ends one sync_item
    /// sends it, the next one saves the new certificate.
    fn reissue(&self) -> NaiveDate {
        let cert_end = self.local_cert_end();
        let day = cert_end - Days::new(10);
        self.set_day(day);
        for hour in 10..=14 {
            self.sync_item_at(&format!("{day}T{hour:02}:00:00Z"));
            if self.local_cert_end() > cert_end {
                return cert_end;
            }
        }
        panic!("no new certificate\n{}", self.mgr.module_log());
    }
}

fn spawn_sync_item(w: &World) -> std::process::Child {
    let item = w.item.to_string();
    Command::new(support::bin_path("pmsslreseller"))
        .args(["--command", "sync_item", "--item", &item])
        .env("MGR5_ROOT", w.mgr.path())
        .env("PMSSLRESELLER_TEST_NOW", format!("{START}T11:00:00Z"))
        .current_dir(w.mgr.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run pmsslreseller")
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The process group a run recorded in the item's deploy marker for the
/// hook it started (`var/pmsslreseller/deploy/item-N/<generation>.json`).
fn wait_for_hook_group(w: &World) -> i32 {
    let dir = w
        .mgr
        .path()
        .join(format!("var/pmsslreseller/deploy/item-{}", w.item));
    let mut group = None;
    wait_for("the hook's process group in its marker", || {
        group = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries.flatten().find_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                let marker: serde_json::Value = serde_json::from_str(&text).ok()?;
                marker["pgid"].as_i64().map(|g| g as i32)
            })
        });
        group.is_some()
    });
    group.unwrap()
}

/// Let a gated hook (process group `group`) end, and wait until no member
/// runs any more, by the module's own rule for a hook an earlier run left
/// behind (zombies nobody reaps in this container count as gone).
fn release(gate: &Path, group: i32) {
    std::fs::remove_file(gate).unwrap();
    wait_for("the orphaned hook to end", || {
        !pmsslreseller::commands::deploy::hook::group_alive(group)
    });
}

#[test]
fn every_shape_is_saved_as_given_once_and_written_out_as_files() {
    for (shape, files, crt_type) in [
        (
            "chain",
            &["leaf.pem", "chain.pem", "fullchain.pem", "certificate.p7b"][..],
            None,
        ),
        ("leaf", &["leaf.pem", "certificate.p7b"][..], None),
        (
            "zip",
            &["leaf.pem", "chain.pem", "fullchain.pem", "certificate.p7b"][..],
            Some("zip"),
        ),
    ] {
        let knob = format!("crt_shape={shape}");
        let w = World::new(&[&knob]);
        w.open();
        let saved = w.db.certificate_crt(w.item).unwrap();
        assert_eq!(w.crt_type().as_deref(), crt_type, "{shape}: crt_type");
        assert_eq!(saved.contains("-----BEGIN"), crt_type.is_none(), "{shape}");
        // Unchanged: never saved again.
        w.mgr.clear_journal();
        w.sync_item();
        w.sync_item();
        assert_eq!(
            w.mgr.mgrctl_count("certificate.save"),
            0,
            "{shape}: re-saved"
        );
        // The files as issued, never the key.
        let out = w.file("out");
        let (code, text, err) = w.files(&out);
        assert_eq!(code, 0, "{shape}: {text}{err}");
        let mut found: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(found, want, "{shape}: {text}");
        let leaf = std::fs::read_to_string(out.join("leaf.pem")).unwrap();
        assert_eq!(leaf.matches("BEGIN CERTIFICATE").count(), 1, "{shape}");
        if shape == "leaf" {
            assert!(
                text.contains("chain.pem: not written: the upstream gave the leaf alone"),
                "{text}"
            );
        } else {
            let full = std::fs::read_to_string(out.join("fullchain.pem")).unwrap();
            assert!(full.starts_with(&leaf), "{shape}: leaf first");
            assert_eq!(
                full.matches("BEGIN CERTIFICATE").count(),
                2,
                "{shape}: as given"
            );
        }
        // Nothing is overwritten.
        let (code, _, err) = w.files(&out);
        assert_eq!(code, 1, "{shape}");
        assert!(err.contains("exists; nothing was written"), "{err}");
    }
}

#[test]
fn the_files_command_says_why_without_a_certificate() {
    let w = World::new(&[]);
    let (code, _, err) = w.files(&w.file("out"));
    assert_eq!(code, 1);
    assert!(err.contains("has no issued certificate"), "{err}");
}

#[test]
fn each_certificate_is_deployed_once_with_its_facts_and_the_form_says_so() {
    let w = World::new(&[]);
    let env = w.file("env.txt");
    let count = w.file("count.txt");
    let hook = w.hook(&format!(
        "echo run >> {count}\nenv | grep ^PMSS_ | sort > {env}\n\
         stat -c '%a' \"$PMSS_DIR\" >> {env}\ncat \"$PMSS_FULLCHAIN\" > {out}\necho installed",
        count = count.display(),
        env = env.display(),
        out = w.file("seen-fullchain.pem").display()
    ));
    w.deploy_config(&format!("command = \"{hook}\"\n"));
    w.open();
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 1, "{}", w.mgr.module_log());
    let seen = std::fs::read_to_string(&env).unwrap();
    let crt = w.db.certificate_crt(w.item).unwrap();
    let facts = pmsslreseller::issued::leaf_facts(&crt).unwrap();
    for want in [
        format!("PMSS_ITEM={}", w.item),
        format!("PMSS_SERIAL={}", facts.serial),
        format!("PMSS_NOT_AFTER={}", facts.not_after),
        format!("PMSS_NOT_BEFORE={}", facts.not_before),
        "PMSS_CN=".to_string(),
        "PMSS_LEAF=".to_string(),
        "PMSS_CHAIN=".to_string(),
        "700".to_string(),
    ] {
        assert!(seen.contains(&want), "{want} in\n{seen}");
    }
    assert!(!seen.contains("PMSS_KEY="), "no key unless asked: {seen}");
    assert_eq!(
        std::fs::read_to_string(w.file("seen-fullchain.pem"))
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    let dir = seen
        .lines()
        .find_map(|l| l.strip_prefix("PMSS_DIR="))
        .unwrap()
        .to_string();
    assert!(
        !Path::new(&dir).exists(),
        "the files are removed afterwards"
    );
    let form = w.param("pmss_deploy").unwrap();
    assert!(
        form.starts_with("deployed on ") && form.ends_with("(exit 0)"),
        "{form}"
    );
    assert!(w.mgr.module_log().contains("deploy hook: installed"));
    // A rerun after the hook finished deploys nothing, and writes nothing.
    w.mgr.clear_journal();
    w.sync_item();
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 1);
    assert!(!w.mgr.journal_text().contains("pmss_deploy"));
    // An automatic reissue: the form tells the customer until it is deployed.
    let old_end = w.local_cert_end();
    let no_hook = BASE_CONFIG.to_string();
    std::fs::write(w.mgr.path().join("etc/pmsslreseller.toml"), &no_hook).unwrap();
    w.reissue();
    let notice = w.param("pmss_new_certificate").unwrap();
    assert!(notice.starts_with("new certificate issued on "), "{notice}");
    assert!(
        notice.ends_with(&format!("install it before {old_end}")),
        "{notice}"
    );
    // With the hook back (a new certificate saved while none was set is not
    // deployed by itself): by hand.
    w.deploy_config(&format!("command = \"{hook}\"\n"));
    let item = w.item.to_string();
    let (code, out, err) = w.module(&["deploy", "--item", &item], d(START));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("deployed on"), "{out}");
    assert_eq!(w.lines("count.txt"), 2);
    assert_eq!(w.param("pmss_new_certificate").as_deref(), Some(""));
    // The next reissue with the hook set is deployed by the sync itself.
    w.reissue();
    assert_eq!(w.lines("count.txt"), 3, "{}", w.mgr.module_log());
    assert_eq!(w.param("pmss_new_certificate").as_deref(), Some(""));
}

#[test]
fn the_russian_form_says_it_in_russian() {
    let w = World::new(&[]);
    let hook = w.hook("exit 0");
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{BASE_CONFIG}\n[deploy]\ncommand = \"{hook}\"\n\n[form]\nlanguage = \"ru\"\n"),
    )
    .unwrap();
    w.open();
    w.sync_item();
    let form = w.param("pmss_deploy").unwrap();
    assert!(
        form.starts_with("установлен ") && form.ends_with("(код 0)"),
        "{form}"
    );
    let old_end = w.local_cert_end();
    std::fs::write(
        w.mgr.path().join("etc/pmsslreseller.toml"),
        format!("{BASE_CONFIG}\n[form]\nlanguage = \"ru\"\n"),
    )
    .unwrap();
    w.reissue();
    let notice = w.param("pmss_new_certificate").unwrap();
    assert!(notice.starts_with("новый сертификат выпущен "), "{notice}");
    assert!(
        notice.ends_with(&format!("установите его до {old_end}")),
        "{notice}"
    );
}

#[test]
fn a_failing_hook_is_retried_up_to_the_cap_then_raises_one_problem() {
    let w = World::new(&[]);
    let hook = w.hook(&format!(
        "echo run >> {}\necho failing >&2\nexit 3",
        w.file("count.txt").display()
    ));
    w.deploy_config(&format!("command = \"{hook}\"\nmax_attempts = 2\n"));
    w.open();
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 1);
    let form = w.param("pmss_deploy").unwrap();
    assert!(
        form.contains("exit 3 (attempt 1 of 2); the next sync tries again"),
        "{form}"
    );
    w.sync_item();
    w.sync_item();
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 2, "capped\n{}", w.mgr.module_log());
    let problems = w.problems();
    let key = format!("pmsslreseller_deploy:{}", w.item);
    assert!(problems.get(&key).is_some(), "{problems}");
    assert_eq!(problems.as_object().unwrap().len(), 1, "{problems}");
    assert_eq!(w.problems_registered(), 1, "one problem");
    let form = w.param("pmss_deploy").unwrap();
    assert!(form.contains("given up after 2 attempts"), "{form}");
    assert!(w.mgr.module_log().contains("deploy hook: failing"));
    // The admin fixes the hook and runs it by hand: deployed, the problem taken back.
    let fixed = w.hook("echo fixed");
    w.deploy_config(&format!("command = \"{fixed}\"\nmax_attempts = 2\n"));
    let item = w.item.to_string();
    let (code, out, err) = w.module(&["deploy", "--item", &item], d(START));
    assert_eq!(code, 0, "{out}{err}");
    assert!(w.problems().get(&key).is_none(), "{}", w.problems());
    assert!(w.param("pmss_deploy").unwrap().starts_with("deployed on"));
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_its_whole_group() {
    let w = World::new(&[]);
    let pid = w.file("child.pid");
    let hook = w.hook(&format!(
        "sleep 60 &\necho $! > {}\nsleep 60",
        pid.display()
    ));
    w.deploy_config(&format!("command = \"{hook}\"\ntimeout_secs = 1\n"));
    w.open();
    let started = Instant::now();
    w.sync_item();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let child: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Gone, or a zombie nobody reaps (this container's init does not).
    wait_for("the hook's child to die", || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|s| s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
            .unwrap_or(true)
    });
    let form = w.param("pmss_deploy").unwrap();
    assert!(form.contains("timed out after 1 s"), "{form}");
}

#[test]
fn a_run_killed_mid_hook_leaves_it_running_once_and_the_rerun_finishes() {
    let w = World::new(&[]);
    let count = w.file("count.txt");
    // The rerun meets the hook running however slow the machine is.
    let (hook, gate) = w.gated_hook(&format!("echo run >> {}", count.display()));
    w.deploy_config(&format!("command = \"{hook}\"\nmax_attempts = 3\n"));
    w.open();
    let mut child = spawn_sync_item(&w);
    wait_for("the hook to start", || w.lines("count.txt") == 1);
    // The run records the hook's process group just after starting it.
    let group = wait_for_hook_group(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    // The orphaned hook still runs: a rerun does not start another.
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 1, "{}", w.mgr.module_log());
    assert!(w
        .mgr
        .module_log()
        .contains("is still running; not started again"));
    // Once it is gone, its outcome is unknown: tried again, once.
    release(&gate, group);
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 2);
    assert!(w.param("pmss_deploy").unwrap().starts_with("deployed on"));
    w.sync_item();
    assert_eq!(w.lines("count.txt"), 2, "deployed once after the finish");
}

#[test]
fn include_key_gives_a_private_file_removed_after_and_the_log_stays_clean() {
    let w = World::new(&[]);
    let (_, key) = rcgen_key();
    let body_line = key.lines().nth(2).unwrap().to_string();
    w.open();
    w.db.conn()
        .exec_drop(
            "UPDATE certificate SET pkey = ? WHERE item = ?",
            (&key, w.item),
        )
        .unwrap();
    let hook = w.hook(&format!(
        "stat -c '%a' \"$PMSS_KEY\" > {mode}\necho \"$PMSS_KEY\" > {path}\ncat \"$PMSS_KEY\"\necho {pw}",
        mode = w.file("mode.txt").display(),
        path = w.file("keypath.txt").display(),
        pw = PASSWORD
    ));
    w.deploy_config(&format!("command = \"{hook}\"\ninclude_key = true\n"));
    let item = w.item.to_string();
    let (code, out, err) = w.module(&["deploy", "--item", &item], d(START));
    assert_eq!(code, 0, "{out}{err}\n{}", w.mgr.module_log());
    assert_eq!(
        std::fs::read_to_string(w.file("mode.txt")).unwrap().trim(),
        "600"
    );
    let path = std::fs::read_to_string(w.file("keypath.txt")).unwrap();
    assert!(!Path::new(path.trim()).exists(), "key file removed");
    let log = w.mgr.module_log();
    assert!(log.contains("deploy hook: ***"), "{log}");
    assert!(!log.contains(&body_line), "key material in the log");
    assert!(!log.contains(PASSWORD), "password in the log");
    assert!(!out.contains(&body_line) && !err.contains(&body_line));
}

/// A throwaway PEM private key (the fixture's first lines say how it was made).
fn rcgen_key() -> (String, String) {
    let text = include_str!("fixtures/deploy-test-key.pem");
    let key = &text[text.find("-----BEGIN").unwrap()..];
    (String::new(), key.to_string())
}

#[test]
fn the_shipped_mail_example_mails_the_files_to_the_customer_without_the_key() {
    let w = World::new(&[]);
    // The account's user (seeded by the test world) is client@example.com.
    // A stand-in for the local MTA, first on the hook's PATH.
    let bin = w.file("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mail = w.file("mail.txt");
    std::fs::write(
        bin.join("sendmail"),
        format!(
            "#!/bin/sh\necho \"$@\" > {mail}.args\ncat > {mail}\n",
            mail = mail.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["0755", bin.join("sendmail").to_str().unwrap()])
        .status()
        .unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples/deploy-mail.sh");
    w.deploy_config(&format!(
        "command = \"PATH={}:$PATH FROM=ssl@example.com sh {}\"\ninclude_key = true\n",
        bin.display(),
        example.display()
    ));
    w.open();
    w.db.conn()
        .exec_drop(
            "UPDATE certificate SET pkey = ? WHERE item = ?",
            (rcgen_key().1, w.item),
        )
        .unwrap();
    w.sync_item();
    let sent = std::fs::read_to_string(&mail).unwrap_or_else(|_| panic!("{}", w.mgr.module_log()));
    assert_eq!(
        std::fs::read_to_string(format!("{}.args", mail.display()))
            .unwrap()
            .trim(),
        "-t"
    );
    assert!(sent.contains("To: client@example.com"), "{sent}");
    assert!(sent.contains("From: ssl@example.com"), "{sent}");
    for name in ["leaf.pem", "chain.pem", "fullchain.pem", "certificate.p7b"] {
        assert!(sent.contains(&format!("filename=\"{name}\"")), "{name}");
    }
    assert!(
        !sent.contains("key.pem") && !sent.contains("PRIVATE KEY"),
        "{sent}"
    );
    assert!(w.param("pmss_deploy").unwrap().starts_with("deployed on"));
}

#[test]
fn the_cron_sync_deploys_an_automatic_reissue_once() {
    let w = World::new(&[]);
    let count = w.file("count.txt");
    let hook = w.hook(&format!("echo \"$PMSS_SERIAL\" >> {}", count.display()));
    w.deploy_config(&format!("command = \"{hook}\"\n"));
    w.open();
    let m = w.module.to_string();
    let sync = |day: NaiveDate, hour: u32| {
        let (code, out, err) = w.module_at(
            &["sync", "--module", &m],
            &format!("{day}T{hour:02}:00:00Z"),
        );
        assert_eq!(code, 0, "{out}{err}\n{}", w.mgr.module_log());
    };
    sync(d(START), 11);
    assert_eq!(
        w.lines("count.txt"),
        1,
        "the first issue\n{}",
        w.mgr.module_log()
    );
    sync(d(START), 12);
    assert_eq!(w.lines("count.txt"), 1, "once");
    let cert_end = w.local_cert_end();
    let day = cert_end - Days::new(10);
    w.set_day(day);
    for hour in 10..=13 {
        sync(day, hour);
    }
    assert!(
        w.local_cert_end() > cert_end,
        "reissued\n{}",
        w.mgr.module_log()
    );
    let serials = std::fs::read_to_string(&count).unwrap();
    assert_eq!(serials.lines().count(), 2, "{serials}");
    let crt = w.db.certificate_crt(w.item).unwrap();
    let serial = pmsslreseller::issued::leaf_facts(&crt).unwrap().serial;
    assert_eq!(
        serials.lines().last(),
        Some(serial.as_str()),
        "the new certificate deployed"
    );
    assert_eq!(w.param("pmss_new_certificate").as_deref(), Some(""));
}

#[test]
fn a_hostile_zip_is_saved_as_given_but_never_unpacked_and_the_hook_says_why() {
    let w = World::new(&["crt_shape=zip_hostile"]);
    let hook = w.hook(&format!("echo run >> {}", w.file("count.txt").display()));
    w.deploy_config(&format!("command = \"{hook}\"\n"));
    w.open();
    assert_eq!(w.crt_type().as_deref(), Some("zip"));
    w.mgr.clear_journal();
    w.sync_item();
    w.sync_item();
    assert_eq!(w.mgr.mgrctl_count("certificate.save"), 0, "not saved again");
    assert_eq!(
        w.lines("count.txt"),
        0,
        "no hook for a certificate that cannot be read"
    );
    let form = w.param("pmss_deploy").unwrap();
    assert!(form.contains("cannot be read"), "{form}");
    assert_eq!(w.problems_registered(), 1, "one problem");
    let (code, _, err) = w.files(&w.file("out"));
    assert_eq!(code, 1);
    assert!(
        err.contains("unpacks to 4194304 bytes, more than 262144"),
        "{err}"
    );
    assert!(!w.mgr.module_log().contains("panicked"));
}

/// A run killed mid-hook on the last allowed attempt: the rerun gives up
/// (one problem), and the private key file the killed run wrote for the
/// hook is removed all the same; it never stays on disk.
#[test]
fn a_killed_last_attempt_leaves_no_private_key_behind() {
    let w = World::new(&[]);
    let (_, key) = rcgen_key();
    let keypath = w.file("keypath.txt");
    let (hook, gate) = w.gated_hook(&format!("echo \"$PMSS_KEY\" > {}", keypath.display()));
    w.deploy_config(&format!(
        "command = \"{hook}\"\ninclude_key = true\nmax_attempts = 1\n"
    ));
    w.open();
    w.db.conn()
        .exec_drop(
            "UPDATE certificate SET pkey = ? WHERE item = ?",
            (&key, w.item),
        )
        .unwrap();
    let mut child = spawn_sync_item(&w);
    wait_for("the hook to start", || {
        std::fs::read_to_string(&keypath).is_ok_and(|t| t.trim().ends_with("key.pem"))
    });
    let group = wait_for_hook_group(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let path = std::fs::read_to_string(&keypath).unwrap();
    let path = Path::new(path.trim());
    assert!(path.exists(), "the hook's key file while it runs");
    release(&gate, group);
    w.sync_item();
    assert!(
        w.param("pmss_deploy").is_some_and(|p| p.contains("1")),
        "given up: {:?}\n{}",
        w.param("pmss_deploy"),
        w.mgr.module_log()
    );
    assert!(
        !path.exists(),
        "the private key is left at {}",
        path.display()
    );
}
