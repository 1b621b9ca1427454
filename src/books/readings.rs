//! The upstream balance as the module read it: one row per `whoami` answer
//! that showed a balance (at `getbalance`, at `check_connection` when the
//! module's id is known, at `pmsslreseller balance`). Two readings of one
//! module bound a window in which the upstream's real charges can be
//! compared with the ledger (charges.rs).

use rusqlite::{params, OptionalExtension, Row};
use rust_decimal::Decimal;

use super::store::{Books, BooksError};

/// Where a reading was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--command getbalance` (BILLmanager's cron) or `pmsslreseller balance`.
    Getbalance,
    /// `--command check_connection` (the admin saved the module's settings).
    CheckConnection,
    /// A test or the demo wrote it through the API.
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Getbalance => "getbalance",
            Source::CheckConnection => "check_connection",
            Source::Manual => "manual",
        }
    }

    fn parse(s: &str) -> Source {
        match s {
            "getbalance" => Source::Getbalance,
            "check_connection" => Source::CheckConnection,
            _ => Source::Manual,
        }
    }
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// Unix seconds (the module's clock, like the ledger's `posted_at`).
    pub at: i64,
    pub module: u64,
    pub balance: Decimal,
    pub currency: Option<String>,
    pub source: Source,
    /// Which upstream account (a digest of URL and username, no secret):
    /// readings of different accounts bound no window.
    pub account: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Reading> {
    let balance: String = r.get(3)?;
    let source: String = r.get(5)?;
    Ok(Reading {
        id: r.get(0)?,
        at: r.get(1)?,
        module: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        balance: balance.parse().unwrap_or(Decimal::ZERO),
        currency: r.get(4)?,
        source: Source::parse(&source),
        account: r.get(6)?,
    })
}

const COLUMNS: &str = "id, at, module, balance, currency, source, account";

/// Store a reading; returns it with its id.
pub fn record(books: &mut Books, reading: &Reading) -> Result<Reading, BooksError> {
    books
        .conn
        .execute(
            "INSERT INTO balance_reading (at, module, balance, currency, source, account)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                reading.at,
                reading.module as i64,
                reading.balance.normalize().to_string(),
                reading.currency,
                reading.source.as_str(),
                reading.account
            ],
        )
        .map_err(|e| books.error(e))?;
    Ok(Reading {
        id: books.conn.last_insert_rowid(),
        ..reading.clone()
    })
}

/// The reading `id`.
pub fn get(books: &Books, id: i64) -> Result<Option<Reading>, BooksError> {
    books
        .conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM balance_reading WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()
        .map_err(|e| books.error(e))
}

/// The readings of `module`, oldest first.
pub fn of_module(books: &Books, module: u64) -> Result<Vec<Reading>, BooksError> {
    let mut stmt = books
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM balance_reading WHERE module = ?1 ORDER BY at, id"
        ))
        .map_err(|e| books.error(e))?;
    let found = stmt
        .query_map([module as i64], from_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| books.error(e));
    found
}

/// The newest reading of `module`.
pub fn latest(books: &Books, module: u64) -> Result<Option<Reading>, BooksError> {
    books
        .conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM balance_reading WHERE module = ?1 ORDER BY at DESC, id DESC LIMIT 1"
            ),
            [module as i64],
            from_row,
        )
        .optional()
        .map_err(|e| books.error(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_kept_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Books::open_path(&dir.path().join("b.sqlite")).unwrap();
        for (at, bal) in [(10, "100.5"), (20, "90")] {
            record(
                &mut b,
                &Reading {
                    id: 0,
                    at,
                    module: 3,
                    balance: bal.parse().unwrap(),
                    currency: Some("EUR".into()),
                    source: Source::Getbalance,
                    account: None,
                },
            )
            .unwrap();
        }
        let all = of_module(&b, 3).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].balance.to_string(), "100.5");
        let last = latest(&b, 3).unwrap().unwrap();
        assert_eq!(last.at, 20);
        assert_eq!(get(&b, last.id).unwrap().unwrap(), last);
        assert!(latest(&b, 4).unwrap().is_none());
    }
}
