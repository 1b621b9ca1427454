//! The upstream's real charges against the ledger, wired to the commands
//! that read the balance.
//!
//! Every `whoami` answer a command already asks for (`--command getbalance`,
//! `pmsslreseller balance`, `--command check_connection` of a saved module)
//! is kept as a balance reading ([`observe`]); the window since the last
//! judged reading is then compared with the ledger (`books::charges`), with
//! the top-ups from the upstream's payments list. A difference beyond the
//! tolerance registers ONE admin problem per mismatched window (a rerun
//! judges no window twice) and shows in `pmsslreseller reconcile`.
//!
//! Not read around the money calls themselves: none of them reads the
//! balance today, so a reading there would cost one more upstream call per
//! order or renewal. The `not_enough_money` refusal carries the balance
//! (`have`) but comes when nothing moved; it is not used either.
//!
//! The books are the module's own record: a failure to read or write them
//! is logged and never fails the command that read the balance.

use rust_decimal::Decimal;

use crate::billing::mgrctl::{problem_register_call, PairCall};
use crate::billing::Mgrctl;
use crate::books::charges::{self, Check, PricePoint, Topups, Verdict};
use crate::books::readings::{self, Reading, Source};
use crate::books::{ledger, Books, BooksError};
use crate::catalog::cache;
use crate::commands::credential_health::ModuleRef;
use crate::commands::lifecycle::intent::digest;
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::upstream::{wire, Account, Client, Payment};

/// The problem's name in BILLmanager's problem list. GUESS (module-protocol.md
/// §10.3: `problems.register name=<processingmodule_connect|…>` — only that
/// one name is documented; that a module may register a name of its own,
/// shown with its `param_errormsg`, is inferred). One problem per module
/// (`id` = the module), replaced by the next mismatch.
pub const PROBLEM_NAME: &str = "pmsslreseller_charges";

/// The `problems.register` call of a charge mismatch of `module`
/// (billing/mgrctl.rs `problem_register_call`).
pub fn problem_call(module: &ModuleRef, text: &str) -> PairCall {
    problem_register_call(
        PROBLEM_NAME,
        module.id,
        vec![
            ("param_pm_name", module.name.clone()),
            ("param_pm_id", module.id.to_string()),
        ],
        crate::quote::shorten(text, 1500),
    )
}

/// The upstream account a client speaks for, as a digest (no secret).
pub fn account_digest(client: &Client, username: &str) -> String {
    digest(&format!("{}\n{}", client.endpoint(), username.trim()))
}

/// The payments list function, or `None` when switched off.
fn payment_function(config: &Config) -> Option<String> {
    match config.charges.payment_function.trim() {
        "" => Some(wire::FUNC_PAYMENT_LIST.to_string()),
        "off" => None,
        f => Some(f.to_string()),
    }
}

/// Top-ups credited after `from` and at or before `to`. A payment shown
/// with its day only, on the day of either reading, cannot be placed:
/// then the top-ups are unknown (said so).
pub fn topups_between(payments: &[Payment], from: &Reading, to: &Reading) -> Topups {
    let mut sum = Decimal::ZERO;
    let day_of = |secs: i64| chrono::DateTime::from_timestamp(secs, 0).map(|d| d.date_naive());
    for p in payments.iter().filter(|p| p.credited) {
        if let Some(at) = p.at {
            let at = at.and_utc().timestamp();
            if at > from.at && at <= to.at {
                match sum.checked_add(p.amount) {
                    Some(s) => sum = s,
                    None => return too_large(p),
                }
            }
            continue;
        }
        let Some(day) = p.day else {
            return Topups::Unknown(format!("payment {} shows no date", p.id));
        };
        let (Some(a), Some(b)) = (day_of(from.at), day_of(to.at)) else {
            return Topups::Unknown("a reading has no date".into());
        };
        if day == a || day == b {
            return Topups::Unknown(format!(
                "payment {} shows only its day ({day}), the day of a reading",
                p.id
            ));
        }
        if day > a && day < b {
            match sum.checked_add(p.amount) {
                Some(s) => sum = s,
                None => return too_large(p),
            }
        }
    }
    Topups::Known(sum)
}

/// Top-ups summing beyond Decimal's range: an absurd list, not a sum.
fn too_large(p: &Payment) -> Topups {
    Topups::Unknown(format!(
        "the payments list up to payment {} sums beyond any real amount",
        p.id
    ))
}

/// What the cached catalog charges for the tariffs the module's ledger
/// names: to tell what an overcharge may be.
pub fn price_points(root: &MgrRoot, books: &Books, module: u64) -> Vec<PricePoint> {
    let Ok(Some(catalog)) = cache::load(root, module) else {
        return Vec::new();
    };
    let Ok(rows) = ledger::rows(
        books,
        &ledger::Filter {
            module: Some(module),
            ..Default::default()
        },
    ) else {
        return Vec::new();
    };
    let mut tariffs: Vec<String> = rows.into_iter().filter_map(|e| e.tariff).collect();
    tariffs.sort();
    tariffs.dedup();
    let mut out = Vec::new();
    for t in &tariffs {
        let Some(tariff) = t
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|id| catalog.tariff(id))
        else {
            continue;
        };
        for p in &tariff.periods {
            if let (Some(months), Some(cost)) = (p.months(), p.cost) {
                out.push(PricePoint {
                    tariff: t.clone(),
                    months,
                    cost,
                    currency: p.currency.clone(),
                    san_slot: false,
                });
            }
        }
        for addon in &tariff.altnames {
            for p in &addon.periods {
                if let (Some(months), Some(cost)) = (p.months(), p.cost) {
                    out.push(PricePoint {
                        tariff: t.clone(),
                        months,
                        cost,
                        currency: p.currency.clone(),
                        san_slot: true,
                    });
                }
            }
        }
    }
    out
}

/// One balance read from the upstream, with who read it.
pub struct BalanceRead<'a> {
    pub module: ModuleRef,
    pub client: &'a Client,
    /// The upstream username (part of the account's digest).
    pub username: &'a str,
    pub account: &'a Account,
    pub source: Source,
}

/// Keep one balance reading of the module and judge the window it closes.
/// Never fails the caller: what goes wrong is logged.
pub fn observe(
    root: &MgrRoot,
    config: &Config,
    mgrctl: &Mgrctl,
    read: &BalanceRead,
) -> Option<Check> {
    match observe_inner(root, config, mgrctl, read) {
        Ok(c) => c,
        Err(e) => {
            log::warn!(
                "the balance of processing module {} was not kept in the books: {e}",
                read.module.id
            );
            None
        }
    }
}

fn observe_inner(
    root: &MgrRoot,
    config: &Config,
    mgrctl: &Mgrctl,
    read: &BalanceRead,
) -> Result<Option<Check>, BooksError> {
    let (module, client, account) = (&read.module, read.client, read.account);
    let mut books = Books::open(root)?;
    let reading = readings::record(
        &mut books,
        &Reading {
            id: 0,
            at: crate::clock::now_unix(),
            module: module.id,
            balance: account.balance,
            currency: account.currency.clone(),
            source: read.source,
            account: Some(account_digest(client, read.username)),
        },
    )?;
    let prices = price_points(root, &books, module.id);
    // The payments list is read before the judgment's write transaction
    // (which must not wait on the network), and only when this reading
    // closes a window.
    let closes_window = charges::anchor(&books, module.id)?.is_some_and(|a| a.id != reading.id);
    let payments: std::result::Result<Vec<Payment>, String> = match payment_function(config) {
        _ if !closes_window => Err("not read".into()),
        None => Err("[charges] payment_function is off".into()),
        Some(f) => client
            .payment_list(&f)
            .map_err(|e| format!("the upstream's payments list ({f}) could not be read: {e}")),
    };
    let judged = charges::judge(
        &mut books,
        &reading,
        |from, to| match &payments {
            Ok(list) => topups_between(list, from, to),
            Err(why) => Topups::Unknown(why.clone()),
        },
        config.charges.tolerance,
        &prices,
    )?;
    let check = match judged {
        Some((c, true)) => {
            match c.verdict {
                Verdict::Overcharged | Verdict::Undercharged => log::warn!("{}", c.text()),
                _ => log::info!("{}", c.text()),
            }
            Some(c)
        }
        _ => None,
    };
    raise_open(&mut books, mgrctl, module)?;
    Ok(check)
}

/// Register the problem for mismatched windows not registered yet (the
/// newest one's text), then mark them.
fn raise_open(books: &mut Books, mgrctl: &Mgrctl, module: &ModuleRef) -> Result<(), BooksError> {
    // Claimed in one write transaction: of parallel runs, one registers.
    if charges::unraised(books, module.id)?.is_empty() {
        return Ok(());
    }
    let open = charges::claim_unraised(books, module.id)?;
    let Some(last) = open.last() else {
        return Ok(());
    };
    let text = format!(
        "{}. Check the upstream account's expenses for these dates; `pmsslreseller reconcile --module {}` shows every mismatch",
        last.text, module.id
    );
    let (func, params) = problem_call(module, &text);
    match mgrctl.call_pairs(func, &params) {
        Ok(_) => {
            log::error!(
                "charge problem registered for processing module {}: {text}",
                module.id
            );
            Ok(())
        }
        Err(e) => {
            log::warn!(
                "could not register the charge problem of processing module {} ({e}); it is tried again at the next balance reading",
                module.id
            );
            charges::release(books, &open)
        }
    }
}

/// What `pmsslreseller reconcile` says about the charges of `module`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChargeReport {
    /// One line per mismatched window, with its suspects.
    pub mismatches: Vec<String>,
    /// The newest judged or undecided window in words, when no mismatch.
    pub latest: Option<String>,
}

/// The charge lines of `reconcile`: every mismatched window, each naming
/// the drift report's upstream renewals nobody asked for (an upstream
/// service whose expiry moved without a local renewal) as suspects.
pub fn reconcile_report(root: &MgrRoot, module: u64, drift: &super::drift::Report) -> ChargeReport {
    let books = match Books::open(root) {
        Ok(b) => b,
        Err(e) => {
            return ChargeReport {
                mismatches: Vec::new(),
                latest: Some(format!("charges not checked: {e}")),
            }
        }
    };
    let windows = match charges::windows(&books, module) {
        Ok(w) => w,
        Err(e) => {
            return ChargeReport {
                mismatches: Vec::new(),
                latest: Some(format!("charges not checked: {e}")),
            }
        }
    };
    let renewed: Vec<String> = drift
        .rows
        .iter()
        .filter(|r| r.kind == super::drift::DriftKind::UpstreamRenewal)
        .map(|r| {
            format!(
                "upstream certificate {} (service {}) was renewed upstream with no local renewal: {}",
                r.upstream_id.map(|i| i.to_string()).unwrap_or_else(|| "?".into()),
                r.item.map(|i| i.to_string()).unwrap_or_else(|| "?".into()),
                r.upstream
            )
        })
        .collect();
    let mismatches: Vec<String> = windows
        .iter()
        .filter(|w| w.verdict.is_mismatch())
        .map(|w| {
            let mut line = w.text.clone();
            if w.verdict == Verdict::Overcharged && !renewed.is_empty() {
                line.push_str(&format!("; also suspect: {}", renewed.join("; ")));
            }
            line
        })
        .collect();
    let latest = if mismatches.is_empty() {
        Some(match windows.last() {
            Some(w) => w.text.clone(),
            None => format!(
                "module {module}: charges not checked yet: two balance readings are needed (getbalance, `pmsslreseller balance`)"
            ),
        })
    } else {
        None
    };
    ChargeReport { mismatches, latest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: i64) -> Reading {
        Reading {
            id: 1,
            at,
            module: 3,
            balance: Decimal::ZERO,
            currency: None,
            source: Source::Manual,
            account: None,
        }
    }

    fn pay(id: u64, at: Option<&str>, day: Option<&str>, amount: &str) -> Payment {
        Payment {
            id,
            at: at.map(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap()),
            day: day.map(|d| d.parse().unwrap()),
            amount: amount.parse().unwrap(),
            currency: None,
            credited: true,
        }
    }

    #[test]
    fn top_ups_inside_the_window_count_a_bare_day_on_a_reading_day_does_not() {
        // 2026-12-01 00:00 and 2026-12-05 00:00 UTC.
        let (from, to) = (reading(1_796_083_200), reading(1_796_428_800));
        let list = vec![
            pay(1, Some("2026-12-02 10:00:00"), None, "50"),
            pay(2, Some("2026-11-30 10:00:00"), None, "70"),
            pay(3, None, Some("2026-12-03"), "5"),
        ];
        assert_eq!(
            topups_between(&list, &from, &to),
            Topups::Known("55".parse().unwrap())
        );
        let list = vec![pay(4, None, Some("2026-12-05"), "5")];
        assert!(matches!(
            topups_between(&list, &from, &to),
            Topups::Unknown(_)
        ));
    }

    #[test]
    fn absurd_top_ups_are_unknown_not_a_panic() {
        let (from, to) = (reading(1_796_083_200), reading(1_796_428_800));
        let max = "79228162514264337593543950335";
        let list = vec![
            pay(1, Some("2026-12-02 10:00:00"), None, max),
            pay(2, Some("2026-12-02 11:00:00"), None, max),
        ];
        assert!(matches!(
            topups_between(&list, &from, &to),
            Topups::Unknown(_)
        ));
    }

    #[test]
    fn the_problem_names_the_module() {
        let m = ModuleRef {
            id: 3,
            name: "Upstream".into(),
        };
        let (func, params) = problem_call(&m, "module 3: overcharged");
        assert_eq!(func, "problems.register");
        assert!(params.contains(&("name", PROBLEM_NAME.to_string())));
        assert!(params.contains(&("id", "3".to_string())));
    }
}
