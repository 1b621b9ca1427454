//! The stand-in's database connection, made as cheaply as the protocol allows: every `mgrctl` call
//! is a process with one connection, and a bulk sync makes 15,000–20,000 of them.
//!
//! - No `SELECT @@max_allowed_packet` after the handshake (the limit is given), and no
//!   `SET NAMES utf8mb4`: the handshake already asks for utf8mb4 (mysql's `HandshakeResponse`
//!   sends utf8mb4_general_ci to any server from 5.5.3 on; `tests` below check the session).
//! - Each statement goes once over the text protocol with its values inlined as SQL literals,
//!   escaped the way the server reads them (`NO_BACKSLASH_ESCAPES` as it reports it): a prepared
//!   statement costs a prepare round trip and a close for a statement run exactly once.
//!
//! Setting up went from 4 round trips to 2, `service.setstatus` from 8 to 4.
//!
//! A statement or transaction that InnoDB picks as a deadlock victim is run again (a few times):
//! 8 processes saving params of different items at once deadlocked on the index gap locks of the
//! delete-then-insert, and BILLmanager does not hand its callers a deadlock for a param save.

use std::path::Path;

use mysql::prelude::{FromRow, Queryable};
use mysql::{Conn, OptsBuilder, Params, Value};

use super::conf::Conf;
use super::SimError;

const SOCKET_CANDIDATES: &[&str] = &[
    "/var/run/mysqld/mysqld.sock",
    "/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// The client's packet limit; given, so that the crate does not ask the server. A stored
/// certificate chain or error XML is far below it; anything larger fails with the server's error.
const MAX_PACKET: usize = 64 * 1024 * 1024;

pub fn db_err(e: mysql::Error) -> SimError {
    SimError::new("database", "mysql", e.to_string())
}

/// A connection to the database of billmgr-sim.conf: the unix socket for `localhost` (`DBSocket`,
/// else the usual places), TCP otherwise.
pub fn connect(conf: &Conf) -> Result<Conn, SimError> {
    let host = conf.db("DBHost").unwrap_or("localhost").to_string();
    let mut opts = OptsBuilder::new()
        .ip_or_hostname(Some(host.clone()))
        .user(Some(conf.db("DBUser").unwrap_or("root")))
        .db_name(Some(conf.db("DBName").unwrap_or("billmgr")))
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_PACKET));
    if let Some(p) = conf.db("DBPassword") {
        opts = opts.pass(Some(p));
    }
    if host == "localhost" {
        let socket = conf
            .db("DBSocket")
            .map(str::to_string)
            .or_else(|| {
                SOCKET_CANDIDATES
                    .iter()
                    .find(|p| Path::new(p).exists())
                    .map(|p| p.to_string())
            })
            .ok_or_else(|| SimError::new("database", "DBSocket", "no MySQL socket found"))?;
        opts = opts.socket(Some(socket));
    }
    Conn::new(opts).map_err(db_err)
}

/// `sql` with each `?` replaced by the next value as an SQL literal. Our own statements only: no
/// `?` inside their string literals or names.
fn inline(no_backslash_escapes: bool, sql: &str, params: Params) -> mysql::Result<String> {
    let values: Vec<Value> = match params {
        Params::Empty => Vec::new(),
        Params::Positional(v) => v,
        Params::Named(_) => {
            return Err(mysql::Error::DriverError(
                mysql::DriverError::NamedParamsForPositionalQuery,
            ))
        }
    };
    let marks = sql.matches('?').count();
    if marks != values.len() {
        return Err(mysql::Error::DriverError(
            mysql::DriverError::MismatchedStmtParams(
                u16::try_from(marks).unwrap_or(u16::MAX),
                values.len(),
            ),
        ));
    }
    let mut out = String::with_capacity(sql.len() + 16 * values.len());
    let mut values = values.iter();
    for (n, part) in sql.split('?').enumerate() {
        if n > 0 {
            if let Some(v) = values.next() {
                out.push_str(&v.as_sql(no_backslash_escapes));
            }
        }
        out.push_str(part);
    }
    Ok(out)
}

/// InnoDB's "Deadlock found when trying to get lock; try restarting transaction".
const ER_LOCK_DEADLOCK: u16 = 1213;
/// Runs of a deadlocked statement or transaction, the first included.
const ATTEMPTS: u32 = 5;

fn is_deadlock(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m) if m.code == ER_LOCK_DEADLOCK)
}

/// Between attempts: a little longer each time, so the other transaction can finish.
fn back_off(attempt: u32) {
    std::thread::sleep(std::time::Duration::from_millis(5 << attempt));
}

/// The statements the stand-in runs, over the text protocol (see the module comment). Named as
/// the mysql crate's own, so the functions read the same.
pub struct Db {
    pub conn: Conn,
    /// Inside `transaction`: a deadlock rolls the whole transaction back, so only the whole
    /// transaction may be run again, not the one statement.
    in_transaction: bool,
    /// A statement of the current transaction was a deadlock victim.
    deadlocked: bool,
}

impl Db {
    pub fn new(conn: Conn) -> Db {
        Db {
            conn,
            in_transaction: false,
            deadlocked: false,
        }
    }

    fn text(&self, sql: &str, params: impl Into<Params>) -> mysql::Result<String> {
        inline(self.conn.no_backslash_escape(), sql, params.into())
    }

    /// Runs `q`, again after a deadlock when it is a statement of its own (autocommit: the victim
    /// statement was undone whole).
    fn run<T>(
        &mut self,
        q: &str,
        mut once: impl FnMut(&mut Conn, &str) -> mysql::Result<T>,
    ) -> mysql::Result<T> {
        let mut attempt = 1;
        loop {
            match once(&mut self.conn, q) {
                Err(e) if is_deadlock(&e) && self.in_transaction => {
                    self.deadlocked = true;
                    return Err(e);
                }
                Err(e) if is_deadlock(&e) && attempt < ATTEMPTS => {
                    back_off(attempt);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    pub fn exec_drop(
        &mut self,
        sql: impl AsRef<str>,
        params: impl Into<Params>,
    ) -> mysql::Result<()> {
        let q = self.text(sql.as_ref(), params)?;
        self.run(&q, |c, q| c.query_drop(q))
    }

    pub fn exec_first<T: FromRow>(
        &mut self,
        sql: impl AsRef<str>,
        params: impl Into<Params>,
    ) -> mysql::Result<Option<T>> {
        let q = self.text(sql.as_ref(), params)?;
        self.run(&q, |c, q| c.query_first(q))
    }

    pub fn exec<T: FromRow>(
        &mut self,
        sql: impl AsRef<str>,
        params: impl Into<Params>,
    ) -> mysql::Result<Vec<T>> {
        let q = self.text(sql.as_ref(), params)?;
        self.run(&q, |c, q| c.query(q))
    }

    pub fn last_insert_id(&self) -> u64 {
        self.conn.last_insert_id()
    }

    /// Runs `work` in one transaction: committed when it succeeds, rolled back when it fails, and
    /// run again from the start when InnoDB chose it as a deadlock victim.
    pub fn transaction<T>(
        &mut self,
        mut work: impl FnMut(&mut Db) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let mut attempt = 1;
        loop {
            self.conn.query_drop("START TRANSACTION").map_err(db_err)?;
            self.in_transaction = true;
            self.deadlocked = false;
            let result = work(self);
            self.in_transaction = false;
            let result = result.and_then(|v| match self.conn.query_drop("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    self.deadlocked = is_deadlock(&e);
                    Err(db_err(e))
                }
            });
            match result {
                Ok(v) => return Ok(v),
                Err(e) => {
                    // Best effort: the connection closing at exit rolls back too.
                    let _ = self.conn.query_drop("ROLLBACK");
                    if !self.deadlocked || attempt >= ATTEMPTS {
                        return Err(e);
                    }
                    back_off(attempt);
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_inlined_as_escaped_literals() {
        let q = inline(
            false,
            "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)",
            (7u64, "it's a\\b\n", Option::<String>::None, "日本").into(),
        )
        .unwrap();
        assert_eq!(
            q,
            "INSERT INTO t (a, b, c, d) VALUES (7, 'it\\'s a\\\\b\\n', NULL, '日本')"
        );
        let q = inline(true, "SELECT ?", ("it's a\\b",).into()).unwrap();
        assert_eq!(q, "SELECT 'it''s a\\b'");
        assert_eq!(
            inline(false, "SELECT 1", Params::Empty).unwrap(),
            "SELECT 1"
        );
        assert!(inline(false, "SELECT ?, ?", (1u64,).into()).is_err());
        assert!(inline(false, "SELECT 1", (1u64,).into()).is_err());
    }
}
