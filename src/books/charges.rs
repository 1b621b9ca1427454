//! The upstream's real charges against the ledger.
//!
//! Between two balance readings of one module (readings.rs) the upstream
//! really took `old − new + top-ups` (top-ups: what the reseller paid in,
//! from the upstream's payments list). The ledger says what it should have
//! taken: the posted costs of the module whose money moved in that window
//! (`ledger::posted_between`). [`check`] compares the two; [`judge`] does it
//! for the newest reading against the last judged one and keeps the result,
//! so a window is judged once and a rerun raises nothing new.
//!
//! A window is not judged (undecided) while money may be in flight (a
//! pending ledger row written before the newer reading), when a cost is
//! unknown, or when currencies differ: the next reading judges the larger
//! window instead. Without the payments list a window can still show an
//! overcharge (the balance fell by more than the ledger says, whatever was
//! paid in), never an undercharge.

use std::collections::BTreeSet;

use rusqlite::params;
use rust_decimal::Decimal;
use serde::Serialize;

use super::ledger::{self, Entry, State};
use super::readings::{self, Reading};
use super::store::{Books, BooksError};

/// What the reseller paid in between two readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topups {
    /// The payments list was read: the sum credited in the window.
    Known(Decimal),
    /// It could not be read; why, in words.
    Unknown(String),
}

/// The outcome of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The upstream took what the ledger says, within the tolerance.
    Clean,
    /// It took more.
    Overcharged,
    /// It took less (a refund or discount the ledger does not know).
    Undercharged,
    /// Not judged now (money in flight, an unknown cost, another currency,
    /// or a smaller balance drop with the top-ups unknown).
    Undecided,
    /// The module now uses another upstream account: its balance starts
    /// a new series, nothing is compared.
    NewAccount,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Overcharged => "overcharged",
            Verdict::Undercharged => "undercharged",
            Verdict::Undecided => "undecided",
            Verdict::NewAccount => "new_account",
        }
    }

    fn parse(s: &str) -> Verdict {
        match s {
            "clean" => Verdict::Clean,
            "overcharged" => Verdict::Overcharged,
            "undercharged" => Verdict::Undercharged,
            "new_account" => Verdict::NewAccount,
            _ => Verdict::Undecided,
        }
    }

    /// A difference beyond rounding: worth one admin problem.
    pub fn is_mismatch(self) -> bool {
        matches!(self, Verdict::Overcharged | Verdict::Undercharged)
    }
}

/// One price the upstream may have charged: a period of a tariff, or one
/// SAN slot of it, from the cached catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricePoint {
    pub tariff: String,
    pub months: u32,
    pub cost: Decimal,
    pub currency: String,
    /// One SAN slot (add-on) rather than the certificate itself.
    pub san_slot: bool,
}

/// The result of comparing one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub module: u64,
    pub from: Reading,
    pub to: Reading,
    pub verdict: Verdict,
    /// The ledger's posted costs in the window (known ones).
    pub expected: Decimal,
    /// `old − new`.
    pub balance_drop: Decimal,
    pub topups: Topups,
    /// What the upstream really took (`old − new + top-ups`), when the
    /// top-ups are known.
    pub taken: Option<Decimal>,
    /// `taken − expected` (with unknown top-ups: at least this much).
    pub difference: Option<Decimal>,
    pub currency: Option<String>,
    /// The posted rows of the window.
    pub posted: Vec<Entry>,
    /// Why the window is undecided, in words.
    pub why_undecided: Option<String>,
    /// What may explain a mismatch, in words.
    pub suspects: Vec<String>,
}

fn money(d: Decimal) -> String {
    d.round_dp(4).normalize().to_string()
}

fn items(rows: &[&Entry]) -> String {
    let set: BTreeSet<u64> = rows.iter().map(|e| e.item).collect();
    set.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compare the upstream's real charges between `from` and `to` with the
/// ledger's posted costs of the same window. `tolerance` is allowed per
/// money movement (at least one), for rounding; `prices` are the cached
/// catalog's, to name what a difference may be.
pub fn check(
    books: &Books,
    from: &Reading,
    to: &Reading,
    topups: Topups,
    tolerance: Decimal,
    prices: &[PricePoint],
) -> Result<Check, BooksError> {
    let module = to.module;
    let posted = ledger::posted_between(books, module, from.at, to.at)?;
    // Money in flight: a row written before (or in the same second as) the
    // newer reading whose outcome is not known, or one posted in the very
    // second of the reading. Its debit may or may not be in the balance.
    let mut in_flight: Vec<Entry> = ledger::rows(
        books,
        &ledger::Filter {
            module: Some(module),
            to: Some(to.at + 1),
            ..Default::default()
        },
    )?
    .into_iter()
    .filter(|e| e.state == State::Pending)
    .collect();
    in_flight.extend(ledger::posted_between(books, module, to.at, to.at + 1)?);
    Ok(compare(
        from, to, posted, &in_flight, topups, tolerance, prices,
    ))
}

/// [`check`] without the file: the pure comparison.
pub fn compare(
    from: &Reading,
    to: &Reading,
    posted: Vec<Entry>,
    in_flight: &[Entry],
    topups: Topups,
    tolerance: Decimal,
    prices: &[PricePoint],
) -> Check {
    let currency = to.currency.clone().or_else(|| from.currency.clone());
    // Checked: an upstream showing absurd amounts (near Decimal's limit)
    // leaves the window undecided instead of panicking.
    let balance_drop_c = from.balance.checked_sub(to.balance);
    let balance_drop = balance_drop_c.unwrap_or(Decimal::ZERO);
    let unknown: Vec<&Entry> = posted.iter().filter(|e| e.cost.is_none()).collect();
    let other_currency: Vec<&Entry> = posted
        .iter()
        .filter(|e| {
            e.cost.is_some()
                && matches!((&e.cost_currency, &currency), (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b))
        })
        .collect();
    let expected_c = posted
        .iter()
        .filter_map(|e| e.cost)
        .try_fold(Decimal::ZERO, |sum, c| sum.checked_add(c));
    let expected = expected_c.unwrap_or(Decimal::ZERO);
    let taken_c = match &topups {
        Topups::Known(t) => Some(balance_drop.checked_add(*t)),
        Topups::Unknown(_) => None,
    };
    let taken = taken_c.flatten();
    let allowed_c = tolerance.checked_mul(Decimal::from(posted.len().max(1) as u64));
    let allowed = allowed_c.unwrap_or(Decimal::ZERO);
    let in_range = balance_drop_c.is_some()
        && expected_c.is_some()
        && allowed_c.is_some()
        && taken_c.is_none_or(|t| t.is_some());
    let too_large =
        "the balance, the top-ups or the ledger's costs are beyond any real amount (an absurd \
                     upstream answer or price); compare the upstream's expense list by hand";
    let mut why_undecided = None;
    let mut difference = None;
    let verdict = if !in_flight.is_empty() {
        why_undecided = Some(format!(
            "money may be in flight: the ledger rows of service(s) {} were not settled at the newer reading",
            items(&in_flight.iter().collect::<Vec<_>>())
        ));
        Verdict::Undecided
    } else if from.currency.is_some() && to.currency.is_some() && from.currency != to.currency {
        why_undecided = Some(format!(
            "the balance is in {} at one reading and {} at the other",
            from.currency.as_deref().unwrap_or("?"),
            to.currency.as_deref().unwrap_or("?")
        ));
        Verdict::Undecided
    } else if !unknown.is_empty() {
        why_undecided = Some(format!(
            "the upstream cost of service(s) {} is unknown",
            items(&unknown)
        ));
        Verdict::Undecided
    } else if !other_currency.is_empty() {
        why_undecided = Some(format!(
            "the cost of service(s) {} is in another currency than the balance",
            items(&other_currency)
        ));
        Verdict::Undecided
    } else if !in_range {
        why_undecided = Some(too_large.into());
        Verdict::Undecided
    } else {
        match taken.map(|t| t.checked_sub(expected)) {
            Some(None) => {
                why_undecided = Some(too_large.into());
                Verdict::Undecided
            }
            Some(Some(d)) => {
                difference = Some(d);
                if d > allowed {
                    Verdict::Overcharged
                } else if d < -allowed {
                    Verdict::Undercharged
                } else {
                    Verdict::Clean
                }
            }
            None => {
                // The balance dropped by at least what was taken minus
                // top-ups: a drop beyond the ledger is an overcharge
                // whatever was paid in; anything else cannot be told.
                let d = balance_drop.checked_sub(expected);
                difference = d;
                if d.is_none() {
                    why_undecided = Some(too_large.into());
                    Verdict::Undecided
                } else if d > Some(allowed) {
                    Verdict::Overcharged
                } else if d >= Some(-allowed) {
                    Verdict::Clean
                } else {
                    why_undecided = Some(
                        "the balance fell by less than the ledger says and the top-ups are unknown"
                            .into(),
                    );
                    Verdict::Undecided
                }
            }
        }
    };
    let suspects = match (verdict, difference) {
        (Verdict::Overcharged, Some(d)) => suspects(d, allowed, &posted, prices),
        (Verdict::Undercharged, Some(_)) => vec![
            "a refund (a deletion inside the refund window) or a discount the ledger does not know"
                .into(),
        ],
        _ => Vec::new(),
    };
    Check {
        module: to.module,
        from: from.clone(),
        to: to.clone(),
        verdict,
        expected,
        balance_drop,
        topups,
        taken,
        difference,
        currency,
        posted,
        why_undecided,
        suspects,
    }
}

/// What an overcharge of `d` may be: a price in the catalog it equals (an
/// upstream renewal nobody asked for, SAN slots), a posted row whose
/// catalog price has changed since.
pub fn suspects(
    d: Decimal,
    allowed: Decimal,
    posted: &[Entry],
    prices: &[PricePoint],
) -> Vec<String> {
    let mut out = Vec::new();
    // Checked throughout: an absurd price or difference matches nothing.
    let near = |a: Decimal, b: Decimal| a.checked_sub(b).is_some_and(|x| x.abs() <= allowed);
    let times = |n: Decimal, cost: Decimal| n.checked_mul(cost).is_some_and(|m| near(m, d));
    for p in prices.iter().filter(|p| !p.san_slot && near(p.cost, d)) {
        out.push(format!(
            "{} {} is the price of one {}-month period of tariff {}: an upstream renewal or order nobody asked for?",
            money(d),
            p.currency,
            p.months,
            p.tariff
        ));
    }
    for p in prices.iter().filter(|p| !p.san_slot && !p.cost.is_zero()) {
        let Some(n) = d.checked_div(p.cost).map(|n| n.round()) else {
            continue;
        };
        if n >= Decimal::TWO && n <= Decimal::TEN && times(n, p.cost) {
            out.push(format!(
                "{} {} is {} {}-month periods of tariff {} ({} {} each): renewals or orders nobody asked for?",
                money(d),
                p.currency,
                n,
                p.months,
                p.tariff,
                money(p.cost),
                p.currency
            ));
        }
    }
    for p in prices.iter().filter(|p| p.san_slot && !p.cost.is_zero()) {
        let Some(n) = d.checked_div(p.cost).map(|n| n.round()) else {
            continue;
        };
        if n >= Decimal::ONE && times(n, p.cost) {
            out.push(format!(
                "{} {} is {} SAN slot(s) of tariff {} ({} {} each for {} months): SAN names billed beyond what was ordered?",
                money(d),
                p.currency,
                n,
                p.tariff,
                money(p.cost),
                p.currency,
                p.months
            ));
        }
    }
    for e in posted {
        let (Some(cost), Some(tariff), Some(months)) = (e.cost, &e.tariff, e.period) else {
            continue;
        };
        if let Some(p) = prices.iter().find(|p| {
            !p.san_slot && &p.tariff == tariff && i64::from(p.months) == months && p.cost != cost
        }) {
            out.push(format!(
                "service {}: the ledger expected {} {} for tariff {} ({} months), the catalog now says {}: the price changed?",
                e.item,
                money(cost),
                e.cost_currency.as_deref().unwrap_or(""),
                tariff,
                months,
                money(p.cost)
            ));
        }
    }
    if out.is_empty() {
        out.push(
            "no single price matches: compare the upstream's expense list with `pmsslreseller report sales`"
                .into(),
        );
    }
    out
}

impl Check {
    /// The window in one line, for the log, the problem and `reconcile`.
    pub fn text(&self) -> String {
        let cur = self.currency.as_deref().unwrap_or("");
        let span = format!(
            "between the balance readings of {} and {}",
            crate::books::report::day_time(self.from.at),
            crate::books::report::day_time(self.to.at)
        );
        let topups = match &self.topups {
            Topups::Known(t) => format!("top-ups {} {cur}", money(*t)),
            Topups::Unknown(why) => format!("top-ups unknown ({why})"),
        };
        let rows = self.posted.len();
        match self.verdict {
            Verdict::NewAccount => format!(
                "module {}: the upstream account changed at the reading of {}: its balance starts a new series",
                self.module,
                crate::books::report::day_time(self.to.at)
            ),
            Verdict::Undecided => format!(
                "module {}: charges {span} not judged yet: {}",
                self.module,
                self.why_undecided.as_deref().unwrap_or("")
            ),
            v => {
                let taken = match self.taken {
                    Some(t) => format!("the upstream took {} {cur}", money(t)),
                    None => format!(
                        "the balance fell by {} {cur} (at least what the upstream took)",
                        money(self.balance_drop)
                    ),
                };
                let mut s = format!(
                    "module {}: {span} {taken} (balance {} → {}, {topups}); the ledger expects {} {cur} for {rows} posted movement(s)",
                    self.module,
                    money(self.from.balance),
                    money(self.to.balance),
                    money(self.expected),
                );
                match (v, self.difference) {
                    (Verdict::Clean, _) => s.push_str(": clean"),
                    (_, Some(d)) => {
                        s.push_str(&format!(
                            ": {} {} {cur}{}",
                            if v == Verdict::Overcharged {
                                "overcharged by"
                            } else {
                                "undercharged by"
                            },
                            money(d.abs()),
                            if self.taken.is_none() { " or more" } else { "" }
                        ));
                        if !self.suspects.is_empty() {
                            s.push_str(&format!("; suspects: {}", self.suspects.join("; ")));
                        }
                    }
                    _ => {}
                }
                s.trim_end().to_string()
            }
        }
    }
}

/// One judged window as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub module: u64,
    pub from_reading: i64,
    pub to_reading: i64,
    pub checked_at: i64,
    pub verdict: Verdict,
    pub difference: Option<String>,
    pub currency: Option<String>,
    pub text: String,
    /// The admin problem was registered for it.
    pub raised: bool,
}

/// The reading the next window starts at: the end of the last window that
/// was judged (not undecided), else the module's first reading.
pub fn anchor(books: &Books, module: u64) -> Result<Option<Reading>, BooksError> {
    let judged: Option<i64> = books
        .conn
        .query_row(
            "SELECT MAX(to_reading) FROM charge_window WHERE module = ?1 AND verdict != 'undecided'",
            [module as i64],
            |r| r.get(0),
        )
        .map_err(|e| books.error(e))?;
    match judged {
        Some(id) => readings::get(books, id),
        None => Ok(readings::of_module(books, module)?.into_iter().next()),
    }
}

/// Judge the window from the [`anchor`] to `to` (a stored reading of the
/// same module) and keep it: `Ok(None)` when there is no window (the first
/// reading, or one not newer than the anchor), else the check and whether
/// the window is new (a rerun of the same readings judges nothing twice).
///
/// One write transaction from reading the anchor to storing the window:
/// parallel runs judge windows that follow each other, never two from the
/// same anchor. `topups` must not do I/O (it runs inside the transaction,
/// which blocks other writers): fetch the payments list before.
pub fn judge(
    books: &mut Books,
    to: &Reading,
    topups: impl FnOnce(&Reading, &Reading) -> Topups,
    tolerance: Decimal,
    prices: &[PricePoint],
) -> Result<Option<(Check, bool)>, BooksError> {
    books
        .conn
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| books.error(e))?;
    let judged = judge_locked(books, to, topups, tolerance, prices);
    let end = if judged.is_ok() { "COMMIT" } else { "ROLLBACK" };
    books.conn.execute_batch(end).map_err(|e| books.error(e))?;
    judged
}

fn judge_locked(
    books: &mut Books,
    to: &Reading,
    topups: impl FnOnce(&Reading, &Reading) -> Topups,
    tolerance: Decimal,
    prices: &[PricePoint],
) -> Result<Option<(Check, bool)>, BooksError> {
    let Some(from) = anchor(books, to.module)? else {
        return Ok(None);
    };
    if (to.at, to.id) <= (from.at, from.id) {
        return Ok(None);
    }
    let c = if from.account != to.account {
        Check {
            module: to.module,
            from: from.clone(),
            to: to.clone(),
            verdict: Verdict::NewAccount,
            expected: Decimal::ZERO,
            balance_drop: Decimal::ZERO,
            topups: Topups::Unknown("not read".into()),
            taken: None,
            difference: None,
            currency: to.currency.clone(),
            posted: Vec::new(),
            why_undecided: None,
            suspects: Vec::new(),
        }
    } else {
        let topups = topups(&from, to);
        check(books, &from, to, topups, tolerance, prices)?
    };
    let new = books
        .conn
        .execute(
            "INSERT OR IGNORE INTO charge_window (module, from_reading, to_reading, checked_at, verdict,
                expected, taken, topups, difference, currency, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                c.module as i64,
                from.id,
                to.id,
                crate::clock::now_unix(),
                c.verdict.as_str(),
                money(c.expected),
                c.taken.map(money),
                match &c.topups {
                    Topups::Known(t) => Some(money(*t)),
                    Topups::Unknown(_) => None,
                },
                c.difference.map(money),
                c.currency,
                c.text(),
            ],
        )
        .map_err(|e| books.error(e))?
        == 1;
    Ok(Some((c, new)))
}

fn window_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Window> {
    let verdict: String = r.get(4)?;
    Ok(Window {
        module: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        from_reading: r.get(1)?,
        to_reading: r.get(2)?,
        checked_at: r.get(3)?,
        verdict: Verdict::parse(&verdict),
        difference: r.get(5)?,
        currency: r.get(6)?,
        text: r.get(7)?,
        raised: r.get(8)?,
    })
}

/// The judged windows of `module`, oldest first.
pub fn windows(books: &Books, module: u64) -> Result<Vec<Window>, BooksError> {
    let mut stmt = books
        .conn
        .prepare_cached(
            "SELECT module, from_reading, to_reading, checked_at, verdict, difference, currency, text, raised
             FROM charge_window WHERE module = ?1 ORDER BY to_reading, from_reading",
        )
        .map_err(|e| books.error(e))?;
    let found = stmt
        .query_map([module as i64], window_from)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| books.error(e));
    found
}

/// Mismatched windows of `module` whose problem is not registered yet
/// (registering failed, or was never tried).
pub fn unraised(books: &Books, module: u64) -> Result<Vec<Window>, BooksError> {
    Ok(windows(books, module)?
        .into_iter()
        .filter(|w| w.verdict.is_mismatch() && !w.raised)
        .collect())
}

/// Mark the windows registered (`raised = true`) or not.
pub fn mark_raised(books: &mut Books, windows: &[Window]) -> Result<(), BooksError> {
    set_raised(books, windows, true)
}

fn set_raised(books: &mut Books, windows: &[Window], raised: bool) -> Result<(), BooksError> {
    for w in windows {
        books
            .conn
            .execute(
                "UPDATE charge_window SET raised = ?4 WHERE module = ?1 AND from_reading = ?2 AND to_reading = ?3",
                params![w.module as i64, w.from_reading, w.to_reading, raised],
            )
            .map_err(|e| books.error(e))?;
    }
    Ok(())
}

/// Claim the mismatched windows of `module` not registered yet, so that of
/// parallel runs exactly one registers the problem: the claimed windows
/// (marked raised), none when another run claimed them first. Give them
/// back with [`release`] when registering fails.
pub fn claim_unraised(books: &mut Books, module: u64) -> Result<Vec<Window>, BooksError> {
    books
        .conn
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| books.error(e))?;
    let claimed = unraised(books, module).and_then(|open| {
        set_raised(books, &open, true)?;
        Ok(open)
    });
    let end = if claimed.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    books.conn.execute_batch(end).map_err(|e| books.error(e))?;
    claimed
}

/// Windows claimed by [`claim_unraised`] whose problem was not registered:
/// the next reading tries again.
pub fn release(books: &mut Books, windows: &[Window]) -> Result<(), BooksError> {
    set_raised(books, windows, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::ledger::{key, CostSource, Kind, Owner};
    use crate::books::readings::Source;

    fn books() -> (tempfile::TempDir, Books) {
        let dir = tempfile::tempdir().unwrap();
        let b = Books::open_path(&dir.path().join("books.sqlite")).unwrap();
        (dir, b)
    }

    fn reading(b: &mut Books, at: i64, balance: &str) -> Reading {
        readings::record(
            b,
            &Reading {
                id: 0,
                at,
                module: 3,
                balance: balance.parse().unwrap(),
                currency: Some("EUR".into()),
                source: Source::Manual,
                account: None,
            },
        )
        .unwrap()
    }

    fn posted(b: &mut Books, item: u64, at: i64, cost: Option<&str>, state: State) {
        ledger::upsert(
            b,
            &Entry {
                key: key(3, item, Kind::Renewal, Owner::Billmanager, 1),
                created_at: at,
                updated_at: at,
                posted_at: Some(at),
                module: 3,
                item,
                account: None,
                account_name: None,
                kind: Kind::Renewal,
                owner: Owner::Billmanager,
                ro: None,
                upstream_id: Some(item + 1000),
                tariff: Some("3033".into()),
                local_tariff: None,
                period: Some(12),
                cost: cost.map(|c| c.parse().unwrap()),
                cost_currency: Some("EUR".into()),
                cost_source: CostSource::Catalog,
                sell: None,
                sell_currency: None,
                rate: None,
                state,
                estimated: false,
                note: None,
            },
        )
        .unwrap();
    }

    fn prices() -> Vec<PricePoint> {
        vec![
            PricePoint {
                tariff: "3033".into(),
                months: 12,
                cost: "10.5".parse().unwrap(),
                currency: "EUR".into(),
                san_slot: false,
            },
            PricePoint {
                tariff: "3040".into(),
                months: 12,
                cost: "4".parse().unwrap(),
                currency: "EUR".into(),
                san_slot: true,
            },
        ]
    }

    const TOL: &str = "0.01";

    #[test]
    fn a_clean_window_and_an_overcharge_by_one_renewal() {
        let (_d, mut b) = books();
        let r1 = reading(&mut b, 100, "100");
        posted(&mut b, 42, 150, Some("10.50"), State::Posted);
        // 100 − 89.50 + 0 = 10.50 taken, 10.50 expected.
        let r2 = reading(&mut b, 200, "89.50");
        let c = check(
            &b,
            &r1,
            &r2,
            Topups::Known(Decimal::ZERO),
            TOL.parse().unwrap(),
            &prices(),
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Clean, "{}", c.text());
        // 89.50 − 69.00 + top-up 10 = 30.50 taken; the ledger expects 0 + one more
        // renewal: the upstream took 30.50 for nothing posted → use a row of 20.
        posted(&mut b, 43, 250, Some("10.50"), State::Posted);
        let r3 = reading(&mut b, 300, "68.50");
        // 89.50 − 68.50 = 21.00 taken, 10.50 expected: 10.50 too much = one renewal.
        let c = check(
            &b,
            &r2,
            &r3,
            Topups::Known(Decimal::ZERO),
            TOL.parse().unwrap(),
            &prices(),
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Overcharged);
        assert_eq!(c.difference, Some("10.50".parse().unwrap()));
        let t = c.text();
        assert!(t.contains("overcharged by 10.5 EUR"), "{t}");
        assert!(t.contains("one 12-month period of tariff 3033"), "{t}");
    }

    #[test]
    fn top_ups_count_and_unknown_ones_still_catch_an_overcharge() {
        let (_d, mut b) = books();
        let r1 = reading(&mut b, 100, "100");
        posted(&mut b, 42, 150, Some("10.50"), State::Posted);
        // A top-up of 50: 100 − 139.50 + 50 = 10.50.
        let r2 = reading(&mut b, 200, "139.50");
        let tol: Decimal = TOL.parse().unwrap();
        let c = check(&b, &r1, &r2, Topups::Known("50".parse().unwrap()), tol, &[]).unwrap();
        assert_eq!(c.verdict, Verdict::Clean, "{}", c.text());
        let c = check(&b, &r1, &r2, Topups::Unknown("refused".into()), tol, &[]).unwrap();
        assert_eq!(c.verdict, Verdict::Undecided, "{}", c.text());
        // Balance 100 → 81: 19 gone for 10.50 expected, whatever was paid in.
        let r3 = Reading {
            balance: "81".parse().unwrap(),
            ..r2.clone()
        };
        let c = check(&b, &r1, &r3, Topups::Unknown("refused".into()), tol, &[]).unwrap();
        assert_eq!(c.verdict, Verdict::Overcharged);
        assert!(c.text().contains("or more"), "{}", c.text());
    }

    #[test]
    fn pending_money_and_unknown_costs_leave_the_window_undecided() {
        let (_d, mut b) = books();
        let r1 = reading(&mut b, 100, "100");
        posted(&mut b, 42, 150, Some("10.50"), State::Pending);
        let r2 = reading(&mut b, 200, "89.50");
        let c = check(
            &b,
            &r1,
            &r2,
            Topups::Known(Decimal::ZERO),
            TOL.parse().unwrap(),
            &[],
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Undecided);
        assert!(c.text().contains("in flight"), "{}", c.text());
        posted(&mut b, 44, 150, None, State::Posted);
        posted(&mut b, 42, 150, Some("10.50"), State::Posted);
        let c = check(
            &b,
            &r1,
            &r2,
            Topups::Known(Decimal::ZERO),
            TOL.parse().unwrap(),
            &[],
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Undecided);
        assert!(c.text().contains("unknown"), "{}", c.text());
    }

    /// An upstream that shows absurd amounts (a balance or a price near
    /// Decimal's limit) leaves the window undecided; it never panics.
    #[test]
    fn absurd_amounts_leave_the_window_undecided_without_a_panic() {
        let (_d, mut b) = books();
        let r1 = reading(&mut b, 100, "79228162514264337593543950335");
        posted(
            &mut b,
            42,
            150,
            Some("79228162514264337593543950335"),
            State::Posted,
        );
        posted(
            &mut b,
            43,
            150,
            Some("79228162514264337593543950335"),
            State::Posted,
        );
        let r2 = reading(&mut b, 200, "-79228162514264337593543950335");
        let huge: Decimal = "79228162514264337593543950335".parse().unwrap();
        for topups in [Topups::Known(huge), Topups::Unknown("x".into())] {
            let c = check(&b, &r1, &r2, topups, TOL.parse().unwrap(), &prices()).unwrap();
            assert_eq!(c.verdict, Verdict::Undecided, "{}", c.text());
        }
        let tiny = PricePoint {
            tariff: "1".into(),
            months: 12,
            cost: "0.0000000000000000000000000001".parse().unwrap(),
            currency: "EUR".into(),
            san_slot: false,
        };
        let slot = PricePoint {
            san_slot: true,
            ..tiny.clone()
        };
        let _ = suspects(huge, Decimal::ZERO, &[], &[tiny, slot]);
        let _ = suspects(-huge, huge, &[], &prices());
    }

    #[test]
    fn a_multiple_of_a_period_price_is_named() {
        let s = suspects(
            "31.5".parse().unwrap(),
            "0.01".parse().unwrap(),
            &[],
            &prices(),
        );
        assert!(
            s.iter()
                .any(|s| s.contains("3 12-month periods of tariff 3033")),
            "{s:?}"
        );
    }

    #[test]
    fn san_slots_are_named() {
        let s = suspects(
            "8".parse().unwrap(),
            "0.01".parse().unwrap(),
            &[],
            &prices(),
        );
        assert!(
            s.iter().any(|s| s.contains("2 SAN slot(s) of tariff 3040")),
            "{s:?}"
        );
    }

    #[test]
    fn a_window_is_judged_once_and_the_anchor_moves_past_undecided_ones_only() {
        let (_d, mut b) = books();
        let tol: Decimal = TOL.parse().unwrap();
        let r1 = reading(&mut b, 100, "100");
        assert!(
            judge(&mut b, &r1, |_, _| Topups::Known(Decimal::ZERO), tol, &[])
                .unwrap()
                .is_none()
        );
        posted(&mut b, 42, 150, Some("10.50"), State::Pending);
        let r2 = reading(&mut b, 200, "89.50");
        let (c, new) = judge(&mut b, &r2, |_, _| Topups::Known(Decimal::ZERO), tol, &[])
            .unwrap()
            .unwrap();
        assert_eq!((c.verdict, new), (Verdict::Undecided, true));
        posted(&mut b, 42, 150, Some("10.50"), State::Posted);
        let r3 = reading(&mut b, 300, "79");
        let (c, new) = judge(
            &mut b,
            &r3,
            |_, _| Topups::Known(Decimal::ZERO),
            tol,
            &prices(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            c.from.id, r1.id,
            "the undecided window does not move the anchor"
        );
        assert_eq!((c.verdict, new), (Verdict::Overcharged, true));
        // A rerun with the same readings judges nothing again.
        assert!(judge(
            &mut b,
            &r3,
            |_, _| Topups::Known(Decimal::ZERO),
            tol,
            &prices()
        )
        .unwrap()
        .is_none());
        let open = claim_unraised(&mut b, 3).unwrap();
        assert_eq!(open.len(), 1);
        assert!(
            claim_unraised(&mut b, 3).unwrap().is_empty(),
            "claimed once"
        );
        release(&mut b, &open).unwrap();
        assert_eq!(
            unraised(&b, 3).unwrap().len(),
            1,
            "given back when registering failed"
        );
        mark_raised(&mut b, &open).unwrap();
        assert!(unraised(&b, 3).unwrap().is_empty());
    }
}
