//! The demo's local BILLmanager: MariaDB (started, or installed and started,
//! when missing), a scratch `MGR5_ROOT` whose `sbin/mgrctl` is this binary's
//! stand-in, a fresh database with the schema fixture, the seed (processing
//! module, tariff, customer, certificate order) and the reads that show the
//! local state after each step.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

use crate::mgrctl::crypt::Key;

pub const SCHEMA: &str = include_str!("../../../tests/fixtures/billmgr-schema.sql");
/// The fixed test key: the scratch root's `etc/billmgr.pem`.
pub const KEY_PEM: &str = include_str!("../../../tests/fixtures/billmgr-test.pem");
/// A real CSR for example.com (openssl-generated fixture).
pub const CSR: &str = include_str!("../../../tests/fixtures/example.com.csr");

const SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

fn connect(socket: &str, db: Option<&str>) -> Result<Conn, mysql::Error> {
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some("localhost"))
        .socket(Some(socket))
        .user(Some("root"))
        .db_name(db)
        .tcp_connect_timeout(Some(Duration::from_secs(5)))
        .init(vec!["SET NAMES utf8mb4"]);
    Conn::new(opts)
}

/// `PMSS_TEST_MYSQL_SOCKET` (as in the tests), else the usual places.
fn socket_candidates() -> Vec<String> {
    match std::env::var("PMSS_TEST_MYSQL_SOCKET") {
        Ok(s) => vec![s],
        Err(_) => SOCKETS.iter().map(|s| s.to_string()).collect(),
    }
}

/// The socket of a MariaDB that lets root in without a password.
fn find_server() -> Option<String> {
    socket_candidates()
        .into_iter()
        .find(|s| Path::new(s).exists() && connect(s, None).is_ok())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_quiet(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A reachable MariaDB: found, or (as root) installed with apt-get and
/// started the way `.ci/run` does. Returns the socket and what was done.
pub fn ensure_mariadb(say: &dyn Fn(&str)) -> Result<String, String> {
    if let Some(s) = find_server() {
        return Ok(s);
    }
    if !is_root() {
        return Err(
            "no MariaDB lets root in over a local socket; start MariaDB (root, empty password) \
                    or run the demo as root so it can install and start it"
                .into(),
        );
    }
    let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let server = match server {
        Some(s) => s,
        None => {
            if !have("apt-get") {
                return Err(
                    "MariaDB is not installed and apt-get is not available: install mariadb-server"
                        .into(),
                );
            }
            say("installing mariadb-server with apt-get (needs network access)…");
            run_quiet("apt-get", &["update", "-qq"])?;
            run_quiet("apt-get", &["install", "-y", "-qq", "mariadb-server"])?;
            "/usr/sbin/mariadbd"
        }
    };
    say(&format!("starting {server}…"));
    let _ = std::fs::create_dir_all("/run/mysqld");
    let _ = run_quiet("chown", &["mysql:mysql", "/run/mysqld"]);
    if have("start-stop-daemon") {
        run_quiet(
            "start-stop-daemon",
            &[
                "--start",
                "--oknodo",
                "--background",
                "--exec",
                server,
                "--",
                "--user=mysql",
            ],
        )?;
    } else {
        // Detached: it outlives the demo like a service would.
        Command::new(server)
            .arg("--user=mysql")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{server}: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(s) = find_server() {
            say("MariaDB is up (left running after the demo)");
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!(
        "{server} did not accept root connections within 60 s on {}",
        socket_candidates().join(", ")
    ))
}

/// The scratch BILLmanager root and its database.
pub struct Local {
    pub root: PathBuf,
    pub db_name: String,
    pub socket: String,
    pub conn: Conn,
}

/// What the seed created; `tariff` and `item` are 0 until the tariff
/// import step has made them.
#[derive(Debug, Clone)]
pub struct Seed {
    pub module: u64,
    pub tariff: u64,
    pub account: u64,
    pub item: u64,
}

/// The local state of the item, as shown after each step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemState {
    pub status: i32,
    pub expiredate: Option<String>,
    pub opendate: Option<String>,
    pub service_status: Option<String>,
    pub upstream_id: Option<String>,
    pub crt: Option<String>,
    pub running_ops: u64,
    pub ops_in_error: u64,
    pub tasks: u64,
}

impl Local {
    /// Create the scratch root (etc/billmgr.pem, etc/billmgr-sim.conf,
    /// sbin/mgrctl → this binary, var/) and the database with the schema.
    pub fn create(socket: String) -> Result<Local, String> {
        let pid = std::process::id();
        let root = std::env::temp_dir().join(format!("pmss-demo-{pid}"));
        let db_name = format!("pmss_demo_{pid}");
        let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(|e| io("old scratch root", e))?;
        }
        for d in ["etc", "sbin", "var"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| io("scratch root", e))?;
        }
        std::fs::write(root.join("etc/billmgr.pem"), KEY_PEM)
            .map_err(|e| io("etc/billmgr.pem", e))?;
        std::os::unix::fs::symlink(&me, root.join("sbin/mgrctl"))
            .map_err(|e| io("sbin/mgrctl", e))?;
        std::fs::write(
            root.join("etc/billmgr-sim.conf"),
            format!(
                "# written by billmgr-sim demo\nDBHost localhost\nDBUser root\nDBPassword\nDBName {db_name}\nDBSocket {socket}\n"
            ),
        )
        .map_err(|e| io("etc/billmgr-sim.conf", e))?;

        let db_err = |e: mysql::Error| format!("database {db_name}: {e}");
        let mut admin = connect(&socket, None).map_err(db_err)?;
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{db_name}`"))
            .map_err(db_err)?;
        admin
            .query_drop(format!("CREATE DATABASE `{db_name}` CHARACTER SET utf8mb4"))
            .map_err(db_err)?;
        let mut conn = connect(&socket, Some(&db_name)).map_err(db_err)?;
        let sql: String = SCHEMA
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.query_drop(stmt).map_err(db_err)?;
        }
        Ok(Local {
            root,
            db_name,
            socket,
            conn,
        })
    }

    fn insert(&mut self, sql: &str, params: impl Into<mysql::Params>) -> Result<u64, String> {
        self.conn
            .exec_drop(sql, params)
            .map_err(|e| format!("{sql}: {e}"))?;
        Ok(self.conn.last_insert_id())
    }

    /// What an admin and a customer would have done in BILLmanager before
    /// the module is first called: the processing module (password crypted
    /// with etc/billmgr.pem by the stand-in's own code) and a customer.
    pub fn seed(&mut self, url: &str, username: &str, password: &str) -> Result<Seed, String> {
        let key = Key::load(&self.root).map_err(|e| e.msg)?;
        let crypted = key.encrypt(password).map_err(|e| e.msg)?;
        let module = self.insert(
            "INSERT INTO processingmodule (module, name) VALUES ('pmsslreseller', 'Upstream SSL')",
            (),
        )?;
        for (k, v) in [("url", url), ("username", username)] {
            self.insert(
                "INSERT INTO processingparam (processingmodule, intname, value) VALUES (?, ?, ?)",
                (module, k, v),
            )?;
        }
        self.insert(
            "INSERT INTO processingcryptedparam (processingmodule, intname, value) VALUES (?, 'password', ?)",
            (module, crypted),
        )?;
        let account = self.insert(
            "INSERT INTO account (name, project) VALUES ('Example Ltd', 1)",
            (),
        )?;
        self.insert(
            "INSERT INTO user (account, email, name) VALUES (?, 'admin@example.com', 'Example admin')",
            (account,),
        )?;
        // The tariff and the order come later, as the admin and the
        // customer make them (the import wizard step, demo/import_step.rs).
        Ok(Seed {
            module,
            tariff: 0,
            account,
            item: 0,
        })
    }

    /// A customer's paid certificate order for `cn` (12 months, CSR and
    /// contact data attached), not yet opened.
    pub fn seed_order(
        &mut self,
        module: u64,
        tariff: u64,
        account: u64,
        cn: &str,
    ) -> Result<u64, String> {
        let item = self.insert(
            "INSERT INTO item (processingmodule, pricelist, period, status, account, name) \
             VALUES (?, ?, 12, 1, ?, ?)",
            (module, tariff, account, cn),
        )?;
        let params = [
            ("CN", cn.to_string()),
            ("approver_method", "auth_email".to_string()),
            ("approver_email", format!("admin@{cn}")),
            ("adm_fname", "Ivan".to_string()),
            ("adm_lname", "Petrov".to_string()),
            ("adm_email", format!("ivan@{cn}")),
            ("adm_phone", "+7 495 123-45-67".to_string()),
        ];
        for (k, v) in params {
            self.insert(
                "INSERT INTO itemparam (item, intname, value) VALUES (?, ?, ?)",
                (item, k, v),
            )?;
        }
        self.insert(
            "INSERT INTO certificate (item, csr) VALUES (?, ?)",
            (item, CSR),
        )?;
        Ok(item)
    }

    /// What BILLmanager does before running a service command: a running
    /// operation for the item.
    pub fn running_operation(&mut self, item: u64, command: &str) -> Result<u64, String> {
        self.insert(
            "INSERT INTO runningoperation (item, command, `desc`, cdate) VALUES (?, ?, ?, NOW())",
            (item, command, format!("{command} item {item}")),
        )
    }

    /// One item param as stored (`None`: not set).
    pub fn item_param(&mut self, item: u64, name: &str) -> Result<Option<String>, String> {
        self.conn
            .exec_first(
                "SELECT value FROM itemparam WHERE item = ? AND intname = ?",
                (item, name),
            )
            .map_err(|e| format!("reading item {item}: {e}"))
    }

    pub fn item_state(&mut self, item: u64) -> Result<ItemState, String> {
        let e = |e: mysql::Error| format!("reading item {item}: {e}");
        let row: Option<(i32, Option<String>, Option<String>)> = self
            .conn
            .exec_first(
                "SELECT status, CAST(expiredate AS CHAR), CAST(opendate AS CHAR) FROM item WHERE id = ?",
                (item,),
            )
            .map_err(e)?;
        let (status, expiredate, opendate) = row.ok_or_else(|| format!("item {item} is gone"))?;
        let param = |c: &mut Conn, name: &str| -> Result<Option<String>, String> {
            c.exec_first(
                "SELECT value FROM itemparam WHERE item = ? AND intname = ?",
                (item, name),
            )
            .map_err(e)
        };
        let service_status = param(&mut self.conn, "service_status")?;
        let upstream_id = param(&mut self.conn, "pmss_upstream_id")?;
        let crt: Option<Option<String>> = self
            .conn
            .exec_first("SELECT crt FROM certificate WHERE item = ?", (item,))
            .map_err(e)?;
        let (running_ops, ops_in_error): (u64, Option<u64>) = self
            .conn
            .exec_first(
                "SELECT COUNT(*), SUM(errorxml IS NOT NULL AND errorxml <> '') FROM runningoperation WHERE item = ?",
                (item,),
            )
            .map_err(e)?
            .unwrap_or((0, None));
        let tasks: Option<u64> = self
            .conn
            .exec_first("SELECT COUNT(*) FROM task WHERE item = ?", (item,))
            .map_err(e)?;
        Ok(ItemState {
            status,
            expiredate,
            opendate,
            service_status,
            upstream_id,
            crt: crt.flatten().filter(|c| !c.trim().is_empty()),
            running_ops,
            ops_in_error: ops_in_error.unwrap_or(0),
            tasks: tasks.unwrap_or(0),
        })
    }

    /// What `processing.savebalance` stored for a module (`amount currency`).
    pub fn module_balance(&mut self, module: u64) -> Result<Option<String>, String> {
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .exec_first(
                "SELECT CAST(balance AS CHAR), balance_currency FROM processingmodule WHERE id = ?",
                (module,),
            )
            .map_err(|e| format!("reading processing module {module}: {e}"))?;
        Ok(row.and_then(|(b, c)| b.map(|b| format!("{b} {}", c.unwrap_or_default()))))
    }

    /// The error recorded in a running operation, if any.
    pub fn operation_error(&mut self, ro: u64) -> Option<String> {
        self.conn
            .exec_first::<Option<String>, _, _>(
                "SELECT errorxml FROM runningoperation WHERE id = ?",
                (ro,),
            )
            .ok()
            .flatten()
            .flatten()
    }

    pub fn mgrctl_journal_path(&self) -> PathBuf {
        self.root.join("var/mgrctl-journal.jsonl")
    }

    pub fn module_log_path(&self) -> PathBuf {
        self.root.join("var/pmsslreseller.log")
    }

    /// Drop the database; remove the scratch root unless kept.
    pub fn cleanup(&mut self, keep_root: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if !keep_root {
            if let Err(e) = self
                .conn
                .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.db_name))
            {
                problems.push(format!("drop database {}: {e}", self.db_name));
            }
            if let Err(e) = std::fs::remove_dir_all(&self.root) {
                problems.push(format!("remove {}: {e}", self.root.display()));
            }
        }
        problems
    }
}
