//! Opening the books file: WAL, a busy timeout for parallel module processes,
//! and the schema brought to the current version, one numbered step at a
//! time (`PRAGMA user_version`), so an older file is upgraded in place and a
//! newer one (a downgraded package) is refused instead of misread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::paths::MgrRoot;

/// The books file's name in the state directory.
pub const FILE_NAME: &str = "books.sqlite";

/// How long a process waits for another one's write transaction. Writes are
/// one row each (milliseconds), so a long wait means a stuck process or a
/// file locked by hand, not a busy one; and the wait holds up a BILLmanager
/// operation, which the books must never do for long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The schema, one step per version: step `i` brings version `i` to `i + 1`.
/// Append a step for a change; never edit a step that has shipped.
const STEPS: &[&str] = &[
    // 1: the ledger (ledger.rs documents each column).
    "CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        posted_at INTEGER,
        module INTEGER NOT NULL,
        item INTEGER NOT NULL,
        account INTEGER,
        account_name TEXT,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        ro INTEGER,
        upstream_id INTEGER,
        tariff TEXT,
        local_tariff INTEGER,
        period INTEGER,
        cost TEXT,
        cost_currency TEXT,
        cost_source TEXT NOT NULL,
        sell TEXT,
        sell_currency TEXT,
        rate TEXT,
        state TEXT NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0,
        note TEXT
    );
    CREATE INDEX ledger_module_posted ON ledger(module, posted_at);
    CREATE INDEX ledger_item ON ledger(item);",
    // 2: the upstream balance as the module read it (readings.rs), and each
    // window between two readings judged against the ledger (charges.rs).
    "CREATE TABLE balance_reading (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        module INTEGER NOT NULL,
        balance TEXT NOT NULL,
        currency TEXT,
        source TEXT NOT NULL,
        account TEXT
    );
    CREATE INDEX balance_reading_module ON balance_reading(module, at);
    CREATE TABLE charge_window (
        module INTEGER NOT NULL,
        from_reading INTEGER NOT NULL,
        to_reading INTEGER NOT NULL,
        checked_at INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        expected TEXT,
        taken TEXT,
        topups TEXT,
        difference TEXT,
        currency TEXT,
        text TEXT NOT NULL,
        raised INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (module, from_reading, to_reading)
    );",
];

/// The books could not be opened or written. Never a reason to fail a
/// BILLmanager operation: callers log it (the money call's own record is the
/// intent on the item, not this file).
#[derive(Debug)]
pub struct BooksError {
    pub path: PathBuf,
    pub what: String,
}

impl fmt::Display for BooksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the books file {}: {}", self.path.display(), self.what)
    }
}

impl std::error::Error for BooksError {}

/// An open books file.
pub struct Books {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Books {
    /// The books of the BILLmanager under `root`, created on first use.
    pub fn open(root: &MgrRoot) -> Result<Books, BooksError> {
        Books::open_path(&root.state_dir().join(FILE_NAME))
    }

    /// The books at `path` (tests, benchmarks), created on first use.
    pub fn open_path(path: &Path) -> Result<Books, BooksError> {
        let fail = |what: String| BooksError {
            path: path.to_path_buf(),
            what,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create its directory: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(format!("cannot open it: {e}")))?;
        let mut books = Books {
            conn,
            path: path.to_path_buf(),
        };
        books.prepare().map_err(|e| fail(e.to_string()))?;
        Ok(books)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error about this file.
    pub(crate) fn error(&self, what: impl fmt::Display) -> BooksError {
        BooksError {
            path: self.path.clone(),
            what: what.to_string(),
        }
    }

    fn prepare(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL: readers (reports) never block the writers (module runs), and
        // a killed writer leaves nothing half-written. NORMAL sync is durable
        // across a process kill; only a power loss may drop the last rows,
        // which the next sync rebuilds from the intent records.
        self.conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
        self.conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        self.migrate()
    }

    fn migrate(&mut self) -> rusqlite::Result<()> {
        // Every module run opens the file: a current schema is read, not
        // written, so parallel processes do not queue for the write lock.
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == STEPS.len() as i64 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = STEPS.len() as i64;
        if version > known {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "its schema version {version} is newer than this module's {known}: \
                 a newer package wrote it; install that version again"
            )));
        }
        for step in &STEPS[version as usize..] {
            tx.execute_batch(step)?;
        }
        if version < known {
            tx.execute_batch(&format!("PRAGMA user_version = {known}"))?;
        }
        tx.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_current_schema_and_a_second_open_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var").join(FILE_NAME);
        let b = Books::open_path(&path).unwrap();
        let v: i64 = b
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, STEPS.len() as i64);
        let mode: String = b
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(b);
        Books::open_path(&path).unwrap();
    }

    #[test]
    fn a_file_from_a_newer_package_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let b = Books::open_path(&path).unwrap();
        b.conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(b);
        let e = Books::open_path(&path).err().expect("refused");
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
