//! `pmsslreseller report sales|losses|due --module N`: the reseller's books
//! as a table on a terminal, or CSV or JSON. The figures come from
//! `commands::report` (and `books::report`); this file parses and prints.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::books::report::{DueRow, LossRow, SalesRow, Window};
use crate::config::Config;
use crate::paths::MgrRoot;

/// Options every report takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Processing module id (Integration → Processing modules, column Id).
    #[arg(long)]
    pub module: u64,
    /// Comma-separated values (RFC 4180) with a header line, for a spreadsheet.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Machine-readable output (amounts as strings, unknown ones as null).
    #[arg(long)]
    pub json: bool,
}

/// The period a ledger report covers.
#[derive(Debug, Args)]
pub struct Dates {
    /// First day counted (YYYY-MM-DD, UTC), by when the money moved.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day counted (YYYY-MM-DD, UTC, included).
    #[arg(long)]
    pub to: Option<NaiveDate>,
}

impl Dates {
    fn window(&self) -> Window {
        let secs = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
        Window {
            from: self.from.and_then(secs),
            to: self.to.and_then(|d| d.succ_opt()).and_then(secs),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Sales and margin per month and tariff: orders, renewals, revenue,
    /// upstream cost, margin, and the automatic renewals that were your cost.
    Sales {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        dates: Dates,
    },
    /// The services that lose money: their sells minus their upstream costs
    /// is below 0.
    Losses {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        dates: Dates,
    },
    /// What falls due in the next days: customer renewals, automatic
    /// reissues and automatic paid renewals, with their upstream cost.
    Due {
        #[command(flatten)]
        common: Common,
        /// How many days ahead, from today.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// Run a report; returns the exit code (1 when it could not be made).
pub fn run(root: &MgrRoot, config: &Config, command: ReportCommand) -> i32 {
    let done = match command {
        ReportCommand::Sales { common, dates } => {
            crate::commands::report::sales(root, common.module, dates.window())
                .map(|rows| print_rows(&common, &rows, sales_table(&rows), None))
        }
        ReportCommand::Losses { common, dates } => {
            crate::commands::report::losses(root, common.module, dates.window()).map(
                |(rows, unknown)| {
                    let note = (!unknown.is_empty()).then(|| {
                        format!(
                            "not judged, their upstream cost is unknown: service(s) {}",
                            unknown
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                    print_rows(&common, &rows, loss_table(&rows), note)
                },
            )
        }
        ReportCommand::Due { common, days } => {
            crate::commands::report::due(root, config, common.module, days)
                .map(|rows| print_rows(&common, &rows, due_table(&rows), None))
        }
    };
    match done {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

type Table = (Vec<&'static str>, Vec<Vec<String>>);

fn print_rows<T: Serialize>(common: &Common, rows: &[T], table: Table, note: Option<String>) {
    if common.json {
        let v = serde_json::json!({ "module": common.module, "rows": rows, "note": note });
        match serde_json::to_string_pretty(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
        return;
    }
    let (headers, cells) = table;
    if common.csv {
        print!("{}", csv(&headers, &cells));
        return;
    }
    if cells.is_empty() {
        println!("nothing to report");
    } else {
        print!("{}", super::catalog::table(&headers, &cells));
    }
    if let Some(n) = note {
        println!("{n}");
    }
}

/// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
pub fn csv(headers: &[&str], rows: &[Vec<String>]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = headers
        .iter()
        .map(|h| field(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn sales_table(rows: &[SalesRow]) -> Table {
    (
        vec![
            "month",
            "tariff",
            "currency",
            "orders",
            "renewals",
            "auto renewals",
            "refunds",
            "revenue",
            "upstream cost",
            "margin",
            "auto cost",
            "pending",
            "estimated",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.month.clone(),
                    r.tariff.clone(),
                    r.currency.clone(),
                    r.orders.to_string(),
                    r.renewals.to_string(),
                    r.auto_renewals.to_string(),
                    r.refunds.to_string(),
                    r.revenue.text(),
                    r.cost.text(),
                    r.margin.text(),
                    r.auto_cost.text(),
                    r.pending.to_string(),
                    r.estimated.to_string(),
                ]
            })
            .collect(),
    )
}

fn loss_table(rows: &[LossRow]) -> Table {
    (
        vec![
            "service",
            "account",
            "tariff",
            "currency",
            "movements",
            "sells",
            "upstream costs",
            "margin",
            "auto renewals",
            "estimated",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.item.to_string(),
                    r.account.clone().unwrap_or_default(),
                    r.tariff.clone(),
                    r.currency.clone(),
                    r.movements.to_string(),
                    r.sells.text(),
                    r.costs.text(),
                    r.margin.text(),
                    r.auto_renewals.to_string(),
                    if r.estimated { "yes" } else { "" }.into(),
                ]
            })
            .collect(),
    )
}

fn due_table(rows: &[DueRow]) -> Table {
    (
        vec![
            "date",
            "service",
            "name",
            "what",
            "tariff",
            "months",
            "upstream cost",
            "currency",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.date.to_string(),
                    r.item.to_string(),
                    r.name.clone(),
                    r.kind.label().to_string(),
                    r.tariff.clone(),
                    r.months.map(|m| m.to_string()).unwrap_or_default(),
                    r.cost.text(),
                    r.currency.clone(),
                ]
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let s = csv(&["a", "b"], &[vec!["x,y".into(), "say \"hi\"".into()]]);
        assert_eq!(s, "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n");
    }
}
