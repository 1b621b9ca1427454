//! Local BILLmanager for tests: a real MariaDB database with the schema
//! fixture ([`TestDb`]), a temporary BILLmanager root whose `sbin/mgrctl` is
//! the `billmgr-sim` stand-in ([`TestMgr`]), seeding and query helpers, and
//! [`run_module`] to run the `pmsslreseller` binary against that root.
//!
//! MariaDB: root with an empty password over the unix socket
//! (`/run/mysqld/mysqld.sock`, or `PMSS_TEST_MYSQL_SOCKET`). Crypted values
//! are seeded with the `openssl` command line, not with the module's own
//! code, so decryption is checked against an independent writer.

use std::cell::{RefCell, RefMut};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use pmsslreseller::billing::Mgrctl;
use pmsslreseller::paths::MgrRoot;

use super::bin_path;

pub const SCHEMA: &str = include_str!("../fixtures/billmgr-schema.sql");
/// Path of the fixed test key (`etc/billmgr.pem` of every TestMgr).
pub const TEST_KEY_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/billmgr-test.pem"
);
/// A real CSR for example.com with SAN www.example.com (openssl-generated).
pub const EXAMPLE_CSR: &str = include_str!("../fixtures/example.com.csr");

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

pub fn mysql_socket() -> String {
    std::env::var("PMSS_TEST_MYSQL_SOCKET").unwrap_or_else(|_| "/run/mysqld/mysqld.sock".into())
}

fn root_conn(db: Option<&str>) -> Conn {
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some("localhost"))
        .socket(Some(mysql_socket()))
        .user(Some("root"))
        .db_name(db)
        .init(vec!["SET NAMES utf8mb4"]);
    Conn::new(opts).expect("connect to MariaDB as root over the socket")
}

/// A running operation as the tests see it (our storage columns included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoState {
    pub id: u64,
    pub item: Option<u64>,
    pub trycount: u32,
    pub manual: String,
    pub errorxml: Option<String>,
    pub task: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub id: u64,
    pub runningoperation: Option<u64>,
    pub item: Option<u64>,
    pub task_type: String,
    pub status: i32,
    pub params: Option<String>,
}

type RoTuple = (u64, Option<u64>, u32, String, Option<String>, Option<u64>);
type TaskTuple = (u64, Option<u64>, Option<u64>, String, i32, Option<String>);

/// A fresh database with the schema fixture; dropped on Drop.
pub struct TestDb {
    pub name: String,
    conn: RefCell<Conn>,
    account: RefCell<Option<u64>>,
}

impl TestDb {
    pub fn create() -> TestDb {
        let name = format!(
            "pmss_t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = root_conn(None);
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .unwrap();
        admin
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .unwrap();
        let mut conn = root_conn(Some(&name));
        let sql: String = SCHEMA
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.query_drop(stmt)
                .unwrap_or_else(|e| panic!("schema statement failed: {e}\n{stmt}"));
        }
        TestDb {
            name,
            conn: RefCell::new(conn),
            account: RefCell::new(None),
        }
    }

    pub fn conn(&self) -> RefMut<'_, Conn> {
        self.conn.borrow_mut()
    }

    fn insert(&self, sql: &str, params: impl Into<mysql::Params>) -> u64 {
        let mut c = self.conn();
        c.exec_drop(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.last_insert_id()
    }

    /// A processing module `pmsslreseller` with url/username plain and the
    /// password encrypted into `processingcryptedparam`.
    pub fn seed_module(&self, url: &str, username: &str, password: &str) -> u64 {
        let id = self.insert(
            "INSERT INTO processingmodule (module, name) VALUES ('pmsslreseller', 'Upstream SSL')",
            (),
        );
        for (k, v) in [("url", url), ("username", username)] {
            self.insert(
                "INSERT INTO processingparam (processingmodule, intname, value) VALUES (?, ?, ?)",
                (id, k, v),
            );
        }
        self.insert(
            "INSERT INTO processingcryptedparam (processingmodule, intname, value) VALUES (?, 'password', ?)",
            (id, openssl_encrypt(password)),
        );
        id
    }

    pub fn set_module_param(&self, module: u64, name: &str, value: &str) {
        self.insert(
            "INSERT INTO processingparam (processingmodule, intname, value) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value = VALUES(value)",
            (module, name, value),
        );
    }

    fn itemtype(&self, intname: &str) -> u64 {
        let found: Option<u64> = self
            .conn()
            .exec_first("SELECT id FROM itemtype WHERE intname = ?", (intname,))
            .unwrap();
        found
            .unwrap_or_else(|| self.insert("INSERT INTO itemtype (intname) VALUES (?)", (intname,)))
    }

    /// A certificate tariff with the given internal name (e.g. `ssl_3033`).
    pub fn seed_certificate_tariff(&self, intname: &str) -> u64 {
        let it = self.itemtype("certificate");
        self.insert(
            "INSERT INTO pricelist (intname, name, itemtype, project) VALUES (?, ?, ?, 1)",
            (intname, format!("Certificate {intname}"), it),
        )
    }

    fn account(&self) -> u64 {
        if let Some(a) = *self.account.borrow() {
            return a;
        }
        let a = self.insert(
            "INSERT INTO account (name, project) VALUES ('Test client', 1)",
            (),
        );
        self.insert(
            "INSERT INTO user (account, email, name) VALUES (?, 'client@example.com', 'client')",
            (a,),
        );
        *self.account.borrow_mut() = Some(a);
        a
    }

    /// A bare item row (pricelist 1, account 1, nothing else): a target for
    /// mgrctl calls that only need an `elid`.
    pub fn seed_bare_item(&self) -> u64 {
        self.insert("INSERT INTO item (pricelist, account) VALUES (1, 1)", ())
    }

    /// A certificate item (status 1, ordered) with item params and, when
    /// `csr` is given, a `certificate` row holding it.
    pub fn seed_certificate_item(
        &self,
        module: u64,
        pricelist: u64,
        period: i32,
        params: &[(&str, &str)],
        csr: Option<&str>,
    ) -> u64 {
        let account = self.account();
        let name = params
            .iter()
            .find(|(k, _)| *k == "CN")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        self.insert(
            "INSERT IGNORE INTO processingmodule2pricelist (processingmodule, pricelist) VALUES (?, ?)",
            (module, pricelist),
        );
        let item = self.insert(
            "INSERT INTO item (processingmodule, pricelist, period, status, account, name) \
             VALUES (?, ?, ?, 1, ?, ?)",
            (module, pricelist, period, account, name),
        );
        for (k, v) in params {
            self.insert(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?)",
                (item, *k, *v),
            );
        }
        if let Some(csr) = csr {
            self.insert(
                "INSERT INTO certificate (item, csr) VALUES (?, ?)",
                (item, csr),
            );
        }
        item
    }

    /// A crypted item param, encrypted by openssl.
    pub fn seed_crypted_item_param(&self, item: u64, name: &str, value: &str) {
        self.insert(
            "INSERT INTO itemcryptedparam (item, intname, value) VALUES (?, ?, ?)",
            (item, name, openssl_encrypt(value)),
        );
    }

    pub fn seed_country(&self, iso2: &str, name_ru: &str) -> u64 {
        self.insert(
            "INSERT INTO country (iso2, name_ru) VALUES (?, ?)",
            (iso2, name_ru),
        )
    }

    pub fn create_running_operation(&self, item: u64, command: &str) -> u64 {
        self.insert(
            "INSERT INTO runningoperation (item, command, `desc`, cdate) VALUES (?, ?, ?, NOW())",
            (item, command, format!("{command} item {item}")),
        )
    }

    /// What BILLmanager does before each rerun of the operation.
    pub fn bump_trycount(&self, ro: u64) {
        self.conn()
            .exec_drop(
                "UPDATE runningoperation SET trycount = trycount + 1 WHERE id = ?",
                (ro,),
            )
            .unwrap();
    }

    pub fn item_status(&self, item: u64) -> i32 {
        self.conn()
            .exec_first("SELECT status FROM item WHERE id = ?", (item,))
            .unwrap()
            .expect("item exists")
    }

    pub fn item_dates(&self, item: u64) -> (Option<String>, Option<String>) {
        self.conn()
            .exec_first(
                "SELECT CAST(expiredate AS CHAR), CAST(opendate AS CHAR) FROM item WHERE id = ?",
                (item,),
            )
            .unwrap()
            .expect("item exists")
    }

    pub fn item_param(&self, item: u64, name: &str) -> Option<String> {
        self.conn()
            .exec_first(
                "SELECT value FROM itemparam WHERE item = ? AND intname = ?",
                (item, name),
            )
            .unwrap()
    }

    /// The stored (encrypted) value of a crypted item param.
    pub fn item_crypted_param_raw(&self, item: u64, name: &str) -> Option<String> {
        self.conn()
            .exec_first(
                "SELECT value FROM itemcryptedparam WHERE item = ? AND intname = ?",
                (item, name),
            )
            .unwrap()
    }

    pub fn certificate_crt(&self, item: u64) -> Option<String> {
        self.conn()
            .exec_first::<Option<String>, _, _>(
                "SELECT crt FROM certificate WHERE item = ?",
                (item,),
            )
            .unwrap()
            .flatten()
    }

    pub fn certificate_failed(&self, item: u64) -> bool {
        let v: Option<String> = self
            .conn()
            .exec_first("SELECT failed FROM certificate WHERE item = ?", (item,))
            .unwrap();
        v.as_deref() == Some("on")
    }

    pub fn running_operation(&self, ro: u64) -> Option<RoState> {
        let row: Option<RoTuple> = self
            .conn()
            .exec_first(
                "SELECT id, item, trycount, manual, errorxml, task FROM runningoperation WHERE id = ?",
                (ro,),
            )
            .unwrap();
        row.map(|(id, item, trycount, manual, errorxml, task)| RoState {
            id,
            item,
            trycount,
            manual,
            errorxml,
            task,
        })
    }

    pub fn tasks(&self) -> Vec<TaskRow> {
        let rows: Vec<TaskTuple> = self
            .conn()
            .query("SELECT id, runningoperation, item, type, status, params FROM task ORDER BY id")
            .unwrap();
        rows.into_iter()
            .map(
                |(id, runningoperation, item, task_type, status, params)| TaskRow {
                    id,
                    runningoperation,
                    item,
                    task_type,
                    status,
                    params,
                },
            )
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self
            .conn
            .get_mut()
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

/// Item params of a realistic OV certificate order for example.com.
pub fn certificate_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CN", "example.com"),
        ("altname", "www.example.com mail.example.com"),
        ("approver_email", "admin@example.com,admin@mail.example.com"),
        ("approver_method", "auth_email"),
        ("adm_fname", "Иван"),
        ("adm_lname", "Петров"),
        ("adm_jtitle", "Director"),
        ("adm_phone", "+7 495 123-45-67"),
        ("adm_email", "ivan@example.com"),
        ("tech_fname", "John"),
        ("tech_lname", "Smith"),
        ("tech_jtitle", "Admin"),
        ("tech_phone", "+1 555 0100"),
        ("tech_email", "tech@example.com"),
        ("org_name", "ООО «Пример»"),
        ("org_address", "ул. Тверская, 1"),
        ("org_city", "Москва"),
        ("org_postcode", "125009"),
        ("org_phone", "+7 495 000-00-00"),
    ]
}

/// base64(RSA PKCS#1 v1.5) of `plain` with the test key, made by openssl.
pub fn openssl_encrypt(plain: &str) -> String {
    if plain.is_empty() {
        return String::new();
    }
    let out = openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-inkey",
            TEST_KEY_PATH,
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
        ],
        plain.as_bytes(),
    );
    STANDARD.encode(out)
}

/// Decrypt a stored crypted value with openssl (checks the stand-in's writer).
pub fn openssl_decrypt(b64: &str) -> String {
    let bytes = STANDARD.decode(b64.trim()).expect("base64");
    let out = openssl(
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            TEST_KEY_PATH,
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
        ],
        &bytes,
    );
    String::from_utf8(out).expect("utf-8")
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A temporary BILLmanager root: `etc/billmgr.pem` (test key),
/// `etc/billmgr-sim.conf` (pointing at the TestDb), `sbin/mgrctl` →
/// billmgr-sim, `var/`.
///
/// [`TestMgr::with_core`] turns the stand-in's core mode on (`Core on`: each
/// mgrctl call is handed to a long-lived core holding the database
/// connections); dropping the TestMgr stops that core, so a test leaves no
/// process or MariaDB connection behind.
pub struct TestMgr {
    pub dir: tempfile::TempDir,
    pub db_name: String,
    core: std::sync::atomic::AtomicBool,
}

impl TestMgr {
    pub fn new(db: &TestDb) -> TestMgr {
        let sim = bin_path("billmgr-sim");
        assert!(
            sim.exists(),
            "{} is missing: build it first (cargo build --workspace --bins, or make test)",
            sim.display()
        );
        let dir = tempfile::tempdir().unwrap();
        for d in ["etc", "sbin", "var"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::copy(TEST_KEY_PATH, dir.path().join("etc/billmgr.pem")).unwrap();
        std::os::unix::fs::symlink(&sim, dir.path().join("sbin/mgrctl")).unwrap();
        let mgr = TestMgr {
            dir,
            db_name: db.name.clone(),
            core: std::sync::atomic::AtomicBool::new(false),
        };
        mgr.write_conf("localhost", "root", "", &mysql_socket(), &[]);
        mgr
    }

    /// [`TestMgr::new`] with the stand-in in core mode: its calls go to a
    /// core started by the first one (docs/testing.md, "The mgrctl stand-in for tests").
    /// `sbin/mgrctl` is then `billmgr-sim-mgrctl`, the client alone, which
    /// starts far more cheaply than the whole `billmgr-sim`.
    pub fn with_core(db: &TestDb) -> TestMgr {
        let mgr = TestMgr::new(db);
        let link = mgr.mgrctl_path();
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(bin_path("billmgr-sim-mgrctl"), &link).unwrap();
        mgr.core.store(true, Ordering::SeqCst);
        mgr.write_conf("localhost", "root", "", &mysql_socket(), &[]);
        mgr
    }

    /// Whether this root's stand-in runs in core mode.
    pub fn core_mode(&self) -> bool {
        self.core.load(Ordering::SeqCst)
    }

    /// Rewrite `etc/billmgr-sim.conf`. `extra` lines are appended verbatim
    /// (e.g. `TaskType open -`); `Core on` is kept for a [`TestMgr::with_core`].
    pub fn write_conf(&self, host: &str, user: &str, password: &str, socket: &str, extra: &[&str]) {
        let mut text = format!(
            "DBHost {host}\nDBUser {user}\nDBPassword {password}\nDBName {}\nDBSocket {socket}\n",
            self.db_name
        );
        if self.core.load(Ordering::SeqCst) {
            text.push_str("Core on\n");
        }
        for l in extra {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(self.path().join("etc/billmgr-sim.conf"), text).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn root(&self) -> MgrRoot {
        MgrRoot::new(self.path())
    }

    pub fn mgrctl(&self) -> Mgrctl {
        Mgrctl::new(&self.root())
    }

    pub fn mgrctl_path(&self) -> PathBuf {
        self.path().join("sbin/mgrctl")
    }

    /// Run the stand-in directly with raw arguments (after `mgrctl`).
    pub fn run_mgrctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(self.mgrctl_path())
            .args(args)
            .env_remove("MGR5_ROOT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn journal_path(&self) -> PathBuf {
        self.path().join("var/mgrctl-journal.jsonl")
    }

    /// Every mgrctl call so far, oldest first.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.journal_path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
            .collect()
    }

    pub fn journal_text(&self) -> String {
        std::fs::read_to_string(self.journal_path()).unwrap_or_default()
    }

    /// Functions called so far, in order.
    pub fn journal_funcs(&self) -> Vec<String> {
        self.journal()
            .iter()
            .map(|e| e["func"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn mgrctl_count(&self, func: &str) -> usize {
        self.journal_funcs().iter().filter(|f| *f == func).count()
    }

    pub fn clear_journal(&self) {
        let _ = std::fs::remove_file(self.journal_path());
    }

    /// The module's log `var/pmsslreseller.log`.
    pub fn module_log(&self) -> String {
        std::fs::read_to_string(self.path().join("var/pmsslreseller.log")).unwrap_or_default()
    }

    /// The pid of this root's running core, from its pid file.
    pub fn core_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path().join("var/run/billmgr-sim-core.pid"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// The core's log `var/billmgr-sim-core.log` (starts, stops, problems).
    pub fn core_log(&self) -> String {
        std::fs::read_to_string(self.path().join("var/billmgr-sim-core.log")).unwrap_or_default()
    }

    /// Stops this root's core, if one runs (`billmgr-sim mgrctl-core --stop`,
    /// which waits until it is gone). Returns the command's exit code and stderr.
    pub fn stop_core(&self) -> (i32, String) {
        let out = Command::new(bin_path("billmgr-sim"))
            .args(["mgrctl-core", "--stop", "--root"])
            .arg(self.path())
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) => (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ),
            Err(e) => (-1, e.to_string()),
        }
    }
}

impl Drop for TestMgr {
    fn drop(&mut self) {
        // A core outlives its calls by design (until idle); the test's end is
        // its end, whether or not the test itself turned core mode on.
        if self.core_pid().is_some() {
            let (code, err) = self.stop_core();
            if code != 0 {
                eprintln!("TestMgr: stopping the mgrctl core failed: {err}");
            }
        }
    }
}

/// Run the `pmsslreseller` binary with `MGR5_ROOT` = the TestMgr root (and
/// that root as working directory, as BILLmanager does). `stdin` None =
/// closed. Returns (exit code, stdout, stderr).
pub fn run_module(mgr: &TestMgr, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    run_module_env(mgr, args, stdin, &[])
}

/// A lifecycle command in a running operation, as BILLmanager runs it:
/// `--command COMMAND --item ITEM --runningoperation RO`, with extra
/// environment variables `env` (e.g. the test clock).
pub fn run_operation(
    mgr: &TestMgr,
    command: &str,
    item: u64,
    ro: u64,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let (item, ro) = (item.to_string(), ro.to_string());
    run_module_env(
        mgr,
        &[
            "--command",
            command,
            "--item",
            &item,
            "--runningoperation",
            &ro,
        ],
        None,
        env,
    )
}

/// [`run_module`] with extra environment variables (e.g. the test clock
/// `PMSSLRESELLER_TEST_NOW`, which the mgrctl stand-in inherits too).
pub fn run_module_env(
    mgr: &TestMgr,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut child = Command::new(bin_path("pmsslreseller"))
        .args(args)
        .envs(env.iter().copied())
        .env("MGR5_ROOT", mgr.path())
        .current_dir(mgr.path())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pmsslreseller");
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        si.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
