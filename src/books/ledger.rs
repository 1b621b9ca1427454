//! The ledger: one row per movement of upstream money the module causes —
//! an order, a customer's renewal, the module's own automatic renewal, a
//! deletion the upstream refunds, an import (cost 0, linked) — with what it
//! was expected to cost upstream and what the customer pays for it.
//!
//! A row's key is the key of its intent (lifecycle/intent.rs: module, item,
//! operation, owner, generation), and a row is written with an upsert on that
//! key: the at-most-once rules of the money call make the ledger at-most-once
//! too. A row's state only moves forward: `pending` (written before the call
//! is sent) → `posted` (the upstream applied it) or `failed` (a definite "no";
//! a resend of the same generation makes it `pending` again). A posted row is
//! never set back.

use rusqlite::{params, OptionalExtension, Row};
use rust_decimal::Decimal;

use super::store::{Books, BooksError};

/// What moved the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A new certificate ordered upstream (BILLmanager's `open`).
    Order,
    /// A renewal: the customer's (BILLmanager's `prolong`) or the module's
    /// own automatic one ([`Owner::Auto`]).
    Renewal,
    /// A reopen of a suspended or closed service that pays again upstream.
    Reopen,
    /// A deletion inside the upstream's refund window (a negative cost).
    Refund,
    /// A service brought in by the import: nothing paid, linked.
    Import,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Order => "order",
            Kind::Renewal => "renewal",
            Kind::Reopen => "reopen",
            Kind::Refund => "refund",
            Kind::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "order" => Kind::Order,
            "renewal" => Kind::Renewal,
            "reopen" => Kind::Reopen,
            "refund" => Kind::Refund,
            "import" => Kind::Import,
            _ => return None,
        })
    }
}

/// Who asked for the movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A BILLmanager running operation (the customer paid locally).
    Billmanager,
    /// The module's own automatic action (the reseller pays, nobody else).
    Auto,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Billmanager => "billmanager",
            Owner::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Owner> {
        Some(match s {
            "billmanager" => Owner::Billmanager,
            "auto" => Owner::Auto,
            _ => return None,
        })
    }
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Written before the call was sent; the outcome is not known yet.
    Pending,
    /// The upstream applied it.
    Posted,
    /// The upstream definitely refused it: nothing moved.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Posted => "posted",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "posted" => State::Posted,
            "failed" => State::Failed,
            _ => return None,
        })
    }
}

/// Where the expected upstream cost comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CostSource {
    /// The upstream's answer said it.
    Answer,
    /// The cached catalog at that moment.
    Catalog,
    /// Reconstructed later (a service older than the ledger).
    Estimated,
    /// Not known (no catalog entry): reports show it as unknown, not 0.
    Unknown,
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Answer => "answer",
            CostSource::Catalog => "catalog",
            CostSource::Estimated => "estimated",
            CostSource::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<CostSource> {
        Some(match s {
            "answer" => CostSource::Answer,
            "catalog" => CostSource::Catalog,
            "estimated" => CostSource::Estimated,
            "unknown" => CostSource::Unknown,
            _ => return None,
        })
    }
}

/// The key of one movement: the intent's (module, item, kind, owner,
/// generation). Two runs of the same movement write the same key.
pub fn key(module: u64, item: u64, kind: Kind, owner: Owner, generation: u32) -> String {
    format!(
        "{module}/{item}/{}/{}/{generation}",
        kind.as_str(),
        owner.as_str()
    )
}

/// The highest generation among the rows of `item` of `module` ([`key`]'s
/// last part), `None` without rows.
pub fn max_generation(books: &Books, module: u64, item: u64) -> Result<Option<u32>, BooksError> {
    let mut stmt = books
        .conn
        .prepare_cached("SELECT key FROM ledger WHERE module = ?1 AND item = ?2")
        .map_err(|e| books.error(e))?;
    let keys = stmt
        .query_map([module as i64, item as i64], |r| r.get::<_, String>(0))
        .map_err(|e| books.error(e))?;
    let mut max = None;
    for k in keys {
        let k = k.map_err(|e| books.error(e))?;
        if let Some(g) = k.rsplit('/').next().and_then(|g| g.parse::<u32>().ok()) {
            max = max.max(Some(g));
        }
    }
    Ok(max)
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// [`key`].
    pub key: String,
    /// Unix seconds: first written.
    pub created_at: i64,
    /// Unix seconds: last changed.
    pub updated_at: i64,
    /// Unix seconds: when it became `posted` (None before).
    pub posted_at: Option<i64>,
    /// The processing module (`processingmodule.id`).
    pub module: u64,
    /// The local service (`item.id`).
    pub item: u64,
    /// The customer's account (`item.account`) and its name, as known.
    pub account: Option<u64>,
    pub account_name: Option<String>,
    pub kind: Kind,
    pub owner: Owner,
    /// The BILLmanager running operation, for [`Owner::Billmanager`].
    pub ro: Option<u64>,
    /// The upstream certificate id (unknown for an order until it lands).
    pub upstream_id: Option<u64>,
    /// The upstream tariff id and the local tariff (`pricelist.id`).
    pub tariff: Option<String>,
    pub local_tariff: Option<u64>,
    /// The period in months (or the period's own code: vocab::period).
    pub period: Option<i64>,
    /// Expected upstream cost in the upstream currency (negative: a refund).
    pub cost: Option<Decimal>,
    pub cost_currency: Option<String>,
    pub cost_source: CostSource,
    /// The customer's price of that period, in the local currency (None for
    /// the module's own automatic actions: nobody pays them but the reseller).
    pub sell: Option<Decimal>,
    pub sell_currency: Option<String>,
    /// Local currency units per upstream currency unit used to compare the
    /// two (None: the same currency, or no rate configured).
    pub rate: Option<Decimal>,
    pub state: State,
    /// Rebuilt from what is known, not written when the money moved.
    pub estimated: bool,
    /// Free text for the admin (why failed, what was estimated).
    pub note: Option<String>,
}

fn dec(v: &Option<Decimal>) -> Option<String> {
    v.map(|d| d.normalize().to_string())
}

fn parse_dec(s: Option<String>) -> Option<Decimal> {
    s.and_then(|s| s.parse::<Decimal>().ok())
}

/// Write `e`: a new key is inserted; an existing one moves its state forward
/// (never back from `posted`), keeps its first `created_at`, sets
/// `posted_at` once, and takes a cost, sell price or upstream id it did not
/// know. Returns the row as stored.
pub fn upsert(books: &mut Books, e: &Entry) -> Result<Entry, BooksError> {
    let path = books.path().to_path_buf();
    let fail = |err: rusqlite::Error| BooksError {
        path: path.clone(),
        what: err.to_string(),
    };
    let tx = books
        .conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail)?;
    let result = (|| -> rusqlite::Result<()> {
        let old: Option<String> = tx
            .query_row("SELECT state FROM ledger WHERE key = ?1", [&e.key], |r| {
                r.get(0)
            })
            .optional()?;
        match old.as_deref().and_then(State::parse) {
            None => {
                tx.execute(
                    "INSERT INTO ledger (key, created_at, updated_at, posted_at, module, item, account,
                        account_name, kind, owner, ro, upstream_id, tariff, local_tariff, period, cost,
                        cost_currency, cost_source, sell, sell_currency, rate, state, estimated, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                        ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
                    params![
                        e.key,
                        e.created_at,
                        e.updated_at,
                        if e.state == State::Posted {
                            Some(e.posted_at.unwrap_or(e.updated_at))
                        } else {
                            None
                        },
                        e.module as i64,
                        e.item as i64,
                        e.account.map(|a| a as i64),
                        e.account_name,
                        e.kind.as_str(),
                        e.owner.as_str(),
                        e.ro.map(|r| r as i64),
                        e.upstream_id.map(|u| u as i64),
                        e.tariff,
                        e.local_tariff.map(|t| t as i64),
                        e.period,
                        dec(&e.cost),
                        e.cost_currency,
                        e.cost_source.as_str(),
                        dec(&e.sell),
                        e.sell_currency,
                        dec(&e.rate),
                        e.state.as_str(),
                        e.estimated,
                        e.note,
                    ],
                )?;
            }
            Some(old) => {
                // Forward only: a posted row stays posted.
                let state = if old == State::Posted {
                    State::Posted
                } else {
                    e.state
                };
                let posted_at =
                    (state == State::Posted).then(|| e.posted_at.unwrap_or(e.updated_at));
                tx.execute(
                    "UPDATE ledger SET updated_at = ?2, state = ?3,
                        posted_at = COALESCE(posted_at, ?4),
                        upstream_id = COALESCE(upstream_id, ?5),
                        cost = CASE WHEN ?6 IS NOT NULL AND (cost IS NULL OR ?7 = 'answer') THEN ?6 ELSE cost END,
                        cost_source = CASE WHEN ?6 IS NOT NULL AND (cost IS NULL OR ?7 = 'answer') THEN ?7 ELSE cost_source END,
                        cost_currency = COALESCE(cost_currency, ?8),
                        sell = COALESCE(sell, ?9),
                        sell_currency = COALESCE(sell_currency, ?10),
                        rate = COALESCE(rate, ?11),
                        ro = COALESCE(ro, ?12),
                        note = COALESCE(?13, note)
                     WHERE key = ?1",
                    params![
                        e.key,
                        e.updated_at,
                        state.as_str(),
                        posted_at,
                        e.upstream_id.map(|u| u as i64),
                        dec(&e.cost),
                        e.cost_source.as_str(),
                        e.cost_currency,
                        dec(&e.sell),
                        e.sell_currency,
                        dec(&e.rate),
                        e.ro.map(|r| r as i64),
                        e.note,
                    ],
                )?;
            }
        }
        Ok(())
    })();
    result.and_then(|()| tx.commit()).map_err(fail)?;
    get(books, &e.key)?.ok_or_else(|| books.error("a row just written cannot be read back"))
}

const COLUMNS: &str =
    "key, created_at, updated_at, posted_at, module, item, account, account_name, kind,
    owner, ro, upstream_id, tariff, local_tariff, period, cost, cost_currency, cost_source, sell,
    sell_currency, rate, state, estimated, note";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let u = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?
            .and_then(|v| u64::try_from(v).ok()))
    };
    let text = |i: usize| -> rusqlite::Result<String> { r.get::<_, String>(i) };
    Ok(Entry {
        key: r.get(0)?,
        created_at: r.get(1)?,
        updated_at: r.get(2)?,
        posted_at: r.get(3)?,
        module: u(4)?.unwrap_or(0),
        item: u(5)?.unwrap_or(0),
        account: u(6)?,
        account_name: r.get(7)?,
        kind: Kind::parse(&text(8)?).unwrap_or(Kind::Order),
        owner: Owner::parse(&text(9)?).unwrap_or(Owner::Billmanager),
        ro: u(10)?,
        upstream_id: u(11)?,
        tariff: r.get(12)?,
        local_tariff: u(13)?,
        period: r.get(14)?,
        cost: parse_dec(r.get(15)?),
        cost_currency: r.get(16)?,
        cost_source: CostSource::parse(&text(17)?).unwrap_or(CostSource::Unknown),
        sell: parse_dec(r.get(18)?),
        sell_currency: r.get(19)?,
        rate: parse_dec(r.get(20)?),
        state: State::parse(&text(21)?).unwrap_or(State::Pending),
        estimated: r.get(22)?,
        note: r.get(23)?,
    })
}

/// The row of `key`, if written.
pub fn get(books: &Books, key: &str) -> Result<Option<Entry>, BooksError> {
    books
        .conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM ledger WHERE key = ?1"),
            [key],
            from_row,
        )
        .optional()
        .map_err(|e| books.error(e))
}

/// Which rows to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub module: Option<u64>,
    pub item: Option<u64>,
    /// Rows created at or after this (unix seconds).
    pub from: Option<i64>,
    /// Rows created before this (unix seconds).
    pub to: Option<i64>,
}

/// Rows matching `f`, oldest first.
pub fn rows(books: &Books, f: &Filter) -> Result<Vec<Entry>, BooksError> {
    let mut stmt = books
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM ledger
             WHERE (?1 IS NULL OR module = ?1) AND (?2 IS NULL OR item = ?2)
               AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)
             ORDER BY created_at, id"
        ))
        .map_err(|e| books.error(e))?;
    let found = stmt
        .query_map(
            params![
                f.module.map(|m| m as i64),
                f.item.map(|i| i as i64),
                f.from,
                f.to
            ],
            from_row,
        )
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| books.error(e));
    found
}

/// The posted rows of `module` whose money moved in `[from, to)` (unix
/// seconds, by `posted_at`): what the upstream should have taken between two
/// balance readings.
pub fn posted_between(
    books: &Books,
    module: u64,
    from: i64,
    to: i64,
) -> Result<Vec<Entry>, BooksError> {
    let mut stmt = books
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM ledger
             WHERE module = ?1 AND state = 'posted' AND posted_at >= ?2 AND posted_at < ?3
             ORDER BY posted_at, id"
        ))
        .map_err(|e| books.error(e))?;
    let found = stmt
        .query_map(params![module as i64, from, to], from_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| books.error(e));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn entry(key_gen: u32, state: State) -> Entry {
        Entry {
            key: key(7, 1042, Kind::Renewal, Owner::Billmanager, key_gen),
            created_at: 1_000,
            updated_at: 1_000,
            posted_at: None,
            module: 7,
            item: 1042,
            account: Some(3),
            account_name: Some("customer".into()),
            kind: Kind::Renewal,
            owner: Owner::Billmanager,
            ro: Some(55),
            upstream_id: Some(9001),
            tariff: Some("3033".into()),
            local_tariff: Some(12),
            period: Some(12),
            cost: Some("10.50".parse().unwrap()),
            cost_currency: Some("EUR".into()),
            cost_source: CostSource::Catalog,
            sell: Some("1500".parse().unwrap()),
            sell_currency: Some("RUB".into()),
            rate: Some("101.25".parse().unwrap()),
            state,
            estimated: false,
            note: None,
        }
    }

    fn books() -> (tempfile::TempDir, Books) {
        let dir = tempfile::tempdir().unwrap();
        let b = Books::open_path(&dir.path().join("books.sqlite")).unwrap();
        (dir, b)
    }

    #[test]
    fn a_rerun_of_one_movement_writes_one_row_and_a_posted_row_stays_posted() {
        let (_d, mut b) = books();
        upsert(&mut b, &entry(1, State::Pending)).unwrap();
        let mut posted = entry(1, State::Posted);
        posted.updated_at = 2_000;
        let stored = upsert(&mut b, &posted).unwrap();
        assert_eq!(stored.state, State::Posted);
        assert_eq!(stored.posted_at, Some(2_000));
        assert_eq!(stored.created_at, 1_000);
        let mut late = entry(1, State::Failed);
        late.updated_at = 3_000;
        let stored = upsert(&mut b, &late).unwrap();
        assert_eq!(stored.state, State::Posted, "never set back");
        assert_eq!(stored.posted_at, Some(2_000));
        assert_eq!(rows(&b, &Filter::default()).unwrap().len(), 1);
        assert_eq!(posted_between(&b, 7, 2_000, 2_001).unwrap().len(), 1);
        assert_eq!(posted_between(&b, 7, 0, 2_000).unwrap().len(), 0);
    }

    #[test]
    fn an_answer_cost_replaces_the_catalog_one() {
        let (_d, mut b) = books();
        upsert(&mut b, &entry(1, State::Pending)).unwrap();
        let mut answered = entry(1, State::Posted);
        answered.cost = Some("11".parse().unwrap());
        answered.cost_source = CostSource::Answer;
        let stored = upsert(&mut b, &answered).unwrap();
        assert_eq!(stored.cost, Some("11".parse().unwrap()));
        assert_eq!(stored.cost_source, CostSource::Answer);
    }

    #[test]
    fn parallel_writers_of_one_key_leave_one_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("books.sqlite");
        Books::open_path(&path).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut b = Books::open_path(&path).unwrap();
                    let s = if i % 2 == 0 {
                        State::Pending
                    } else {
                        State::Posted
                    };
                    upsert(&mut b, &entry(1, s)).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let b = Books::open_path(&path).unwrap();
        let all = rows(&b, &Filter::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state, State::Posted);
    }
}
