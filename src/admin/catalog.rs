//! Admin commands for the upstream catalog and pricing:
//! `catalog refresh`, `catalog show`, `pricing preview`.
//!
//! Readable tables on a terminal, JSON with `--json`. `refresh` never
//! replaces a good cache with a broken export, and tells the admin when
//! BILLmanager must be restarted to see new or changed templates. After a
//! refresh the local prices are checked against the new costs
//! (`commands::price_watch`); `--check` makes a flagged price exit 1.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};
use serde_json::json;

use crate::catalog::diff::CatalogDiff;
use crate::catalog::stamp::Stamp;
use crate::catalog::{cache, Catalog, Tariff};
use crate::commands::catalog_refresh::{self, Refreshed, Stored};
use crate::commands::price_watch::{self, LocalPrices, PriceCheck};
use crate::config::Config;
use crate::paths::MgrRoot;
use crate::pricing::term_cost::{term_cost, TermCost, TermModel};
use crate::pricing::{Pricer, Quote, QuoteStatus};
use crate::protocol::error::{ModuleError, Result};

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Fetch the upstream's certificate tariffs, show them and what changed,
    /// and update the cache the templates are built from.
    Refresh(RefreshArgs),
    /// Show the cached catalog(s).
    Show(ShowArgs),
}

#[derive(Debug, ClapArgs)]
pub struct RefreshArgs {
    /// Processing module id (Integration → Processing modules, column Id).
    #[arg(long)]
    pub module: u64,
    /// Read a saved pricelist.export answer instead of asking the upstream.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Accept an export with no certificate tariff (normally refused as broken).
    #[arg(long)]
    pub allow_empty: bool,
    /// Exit 1 when a local price is under the `[pricing]` margin floor of the
    /// new upstream costs (for cron).
    #[arg(long)]
    pub check: bool,
    /// List every tariff and every change, also when there are many (by
    /// default a catalog of more than 50 tariffs is summed up, and lists of
    /// changes stop after 50 entries).
    #[arg(long)]
    pub verbose: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct ShowArgs {
    /// Only this processing module (default: every cached module).
    #[arg(long)]
    pub module: Option<u64>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Cost, sell price and margin per tariff and period, from the cached
    /// catalog and `[pricing]`; flags prices under the minimum margin.
    Preview(PreviewArgs),
}

#[derive(Debug, ClapArgs)]
pub struct PreviewArgs {
    /// Processing module id (Integration → Processing modules, column Id).
    #[arg(long)]
    pub module: u64,
    /// Fetch the upstream's current tariffs first (updates the cache).
    #[arg(long)]
    pub refresh: bool,
    /// Machine-readable output (exact amounts, as strings).
    #[arg(long)]
    pub json: bool,
}

pub fn run_catalog(root: &MgrRoot, config: &Config, command: CatalogCommand) -> i32 {
    match command {
        CatalogCommand::Refresh(a) => refresh(root, config, &a),
        CatalogCommand::Show(a) => show(root, &a),
    }
}

pub fn run_pricing(root: &MgrRoot, config: &Config, command: PricingCommand) -> i32 {
    match command {
        PricingCommand::Preview(a) => preview(root, config, &a),
    }
}

/// Print an error for the admin; exit code 1.
fn report(e: &ModuleError) -> i32 {
    eprintln!("error: {}", e.message);
    1
}

fn print_json(v: &serde_json::Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Columns aligned by width; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn periods_text(t: &Tariff) -> String {
    let parts: Vec<String> = t
        .periods
        .iter()
        .map(|p| match p.cost {
            Some(c) => format!("{} {} {}", p.label(), c.normalize(), p.currency),
            None => format!("{} not sold", p.label()),
        })
        .collect();
    if parts.is_empty() {
        "no prices".into()
    } else {
        parts.join("; ")
    }
}

fn tariff_rows(c: &Catalog) -> Vec<Vec<String>> {
    c.tariffs
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.template_id(),
                t.validation.label().to_string(),
                t.flags.summary(),
                if t.available { "yes" } else { "no" }.to_string(),
                t.name.clone(),
                periods_text(t),
            ]
        })
        .collect()
}

/// More tariffs than this, or changes of one kind, are summed up after a
/// refresh unless `--verbose` asks for all of them: a 5,000-row table is
/// more than an admin reads (`catalog show` lists them), and printing it was
/// a seventh of a refresh.
const LISTED: usize = 50;

fn print_catalog(c: &Catalog) {
    print!("{}", catalog_text(c, true));
}

/// The catalog as a table, or with `full` false and more than [`LISTED`]
/// tariffs, as counts; its skipped entries and warnings either way.
fn catalog_text(c: &Catalog, full: bool) -> String {
    let mut out = format!(
        "Processing module {}: {} certificate tariffs, fetched {}\n",
        c.module_id,
        c.tariffs.len(),
        c.fetched_at
    );
    if full || c.tariffs.len() <= LISTED {
        out.push_str(&table(
            &[
                "id",
                "template",
                "valid.",
                "flags",
                "orderable",
                "name",
                "periods",
            ],
            &tariff_rows(c),
        ));
    } else {
        out.push_str(&catalog_summary(c));
    }
    for s in &c.skipped {
        out.push_str(&format!(
            "skipped: <pricelist> #{}{}: {}\n",
            s.position,
            s.id.as_deref()
                .map(|i| format!(" (id {i})"))
                .unwrap_or_default(),
            s.reason
        ));
    }
    for w in &c.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The catalog in a few counts: what the templates will be, by validation
/// level and flag, and what can be ordered.
fn catalog_summary(c: &Catalog) -> String {
    let count = |f: &dyn Fn(&Tariff) -> bool| c.tariffs.iter().filter(|t| f(t)).count();
    let levels: Vec<String> = [
        crate::catalog::Validation::Dv,
        crate::catalog::Validation::Ov,
        crate::catalog::Validation::Ev,
        crate::catalog::Validation::Unknown,
    ]
    .into_iter()
    .map(|v| (v, count(&|t| t.validation == v)))
    .filter(|(_, n)| *n > 0)
    .map(|(v, n)| format!("{} {n}", v.label()))
    .collect();
    let (first, last) = (
        c.tariffs.first().map_or(0, |t| t.id),
        c.tariffs.last().map_or(0, |t| t.id),
    );
    format!(
        "  ids {first}–{last} (templates {}–{}); orderable {}; {}; wildcard {}, multi-domain {}\n  \
         {} tariffs are not listed one by one: --verbose lists them, as does `pmsslreseller catalog show --module {}`\n",
        crate::catalog::template_id(first),
        crate::catalog::template_id(last),
        count(&|t| t.available),
        levels.join(", "),
        count(&|t| t.flags.wildcard),
        count(&|t| t.flags.multidomain),
        c.tariffs.len(),
        c.module_id
    )
}

fn restart_hint(root: &MgrRoot) -> String {
    format!("{} -m billmgr -R", root.mgrctl().display())
}

/// What changed, each list cut after [`LISTED`] entries unless `full`.
fn diff_text(d: &CatalogDiff, full: bool) -> String {
    if d.is_empty() {
        return "No changes against the cached catalog.\n".into();
    }
    let shown = |n: usize| if full { n } else { n.min(LISTED) };
    let more = |n: usize| {
        if shown(n) < n {
            format!(" … and {} more (--verbose lists all)", n - shown(n))
        } else {
            String::new()
        }
    };
    let ids = |v: &[u64]| {
        let listed: Vec<String> = v[..shown(v.len())].iter().map(u64::to_string).collect();
        format!("{}{}", listed.join(", "), more(v.len()))
    };
    let mut out = String::new();
    if !d.added.is_empty() {
        out.push_str(&format!("New tariffs: {}\n", ids(&d.added)));
    }
    if !d.removed.is_empty() {
        out.push_str(&format!(
            "Removed upstream: {} (local tariffs using these templates can no longer be ordered)\n",
            ids(&d.removed)
        ));
    }
    if !d.template_changed.is_empty() {
        out.push_str(&format!(
            "Name or flags changed: {}\n",
            ids(&d.template_changed)
        ));
    }
    if !d.availability_changed.is_empty() {
        out.push_str(&format!(
            "Orderable status changed: {}\n",
            ids(&d.availability_changed)
        ));
    }
    if !d.price_changed.is_empty() {
        let money = |m: Option<rust_decimal::Decimal>| {
            m.map(|v| v.normalize().to_string())
                .unwrap_or_else(|| "-".into())
        };
        let rows: Vec<Vec<String>> = d.price_changed[..shown(d.price_changed.len())]
            .iter()
            .map(|p| {
                vec![
                    p.tariff.to_string(),
                    p.period.clone(),
                    p.currency.clone(),
                    money(p.old),
                    money(p.new),
                ]
            })
            .collect();
        out.push_str(&format!("Price changes: {}\n", d.price_changed.len()));
        out.push_str(&table(&["id", "period", "currency", "old", "new"], &rows));
        let hidden = more(d.price_changed.len());
        if !hidden.is_empty() {
            out.push_str(hidden.trim_start());
            out.push('\n');
        }
    }
    out
}

pub fn refresh(root: &MgrRoot, config: &Config, args: &RefreshArgs) -> i32 {
    crate::logging::set_context(format!("admin catalog refresh module={}", args.module));
    let refreshed = catalog_refresh::refresh_with_prices(
        root,
        config,
        args.module,
        args.from_file.as_deref(),
        args.allow_empty,
    );
    let (stored, local) = match refreshed {
        Ok(both) => both,
        Err(e) => {
            log::error!("catalog refresh: {e}");
            return report(&e);
        }
    };
    match stored {
        Stored::Changed(r) => report_stored(root, config, args, r, local),
        Stored::Unchanged(stamp) => report_unchanged(root, config, args, &stamp, local),
    }
}

/// The `--json` answer of a refresh.
fn refresh_json(root: &MgrRoot, r: &Refreshed, prices: &Result<PriceCheck>) -> serde_json::Value {
    json!({
        "module": r.catalog.module_id,
        "fetched_at": r.catalog.fetched_at,
        "cache": r.cache_path,
        "messages_file": r.messages.as_ref().ok(),
        "tariffs": r.catalog.tariffs,
        "skipped": r.catalog.skipped,
        "warnings": r.catalog.warnings,
        "diff": r.diff,
        "unchanged": r.unchanged,
        "restart_required": r.restart_required(),
        "restart_command": restart_hint(root),
        "price_check": match prices {
            Ok(p) => json!(p),
            Err(e) => json!({ "error": e.message }),
        },
    })
}

/// Exit code of a refresh: 1 when the template names could not be written,
/// or with `--check` when a price is flagged or cannot be checked.
fn refresh_exit(args: &RefreshArgs, messages_ok: bool, prices: &Result<PriceCheck>) -> i32 {
    if !messages_ok {
        return 1;
    }
    let flagged = match prices {
        Ok(p) => !p.alerts.is_empty(),
        // Unreadable local prices cannot be said to be fine.
        Err(_) => true,
    };
    i32::from(args.check && flagged)
}

/// After an export was parsed, compared and stored.
fn report_stored(
    root: &MgrRoot,
    config: &Config,
    args: &RefreshArgs,
    r: Refreshed,
    local: Result<LocalPrices>,
) -> i32 {
    let prices = price_check(root, config, args.module, Some(&r.catalog), local);
    if args.json {
        print_json(&refresh_json(root, &r, &prices));
    } else {
        let mut out = catalog_text(&r.catalog, args.verbose);
        out.push('\n');
        if r.old_fetched_at.is_some() {
            out.push_str(&diff_text(&r.diff, args.verbose));
        }
        out.push_str(&format!("Cache written: {}\n", r.cache_path.display()));
        match &r.messages {
            Ok(p) if r.templates_written => {
                out.push_str(&format!("Template names written: {}\n", p.display()))
            }
            Ok(p) => out.push_str(&format!(
                "Template names unchanged (no template changed): {}\n",
                p.display()
            )),
            Err(_) => {}
        }
        print!("{out}");
        if let Err(e) = &r.messages {
            eprintln!("warning: {e}");
        }
        if r.restart_required() {
            println!(
                "BILLmanager reads the templates at start: restart it to see the changes: {}",
                restart_hint(root)
            );
        }
        print!("{}", price_text(&prices));
    }
    let code = refresh_exit(args, r.messages.is_ok(), &prices);
    // The process ends here: freeing 5,000 tariffs one by one would only
    // cost time.
    std::mem::forget(r);
    code
}

/// After an export identical to the stored one: nothing was parsed or
/// written. The cached catalog is read only when something needs its
/// tariffs: `--json`, `--verbose`, a catalog small enough to be listed as
/// after any refresh, or a local price to check.
fn report_unchanged(
    root: &MgrRoot,
    config: &Config,
    args: &RefreshArgs,
    stamp: &Stamp,
    local: Result<LocalPrices>,
) -> i32 {
    let module = args.module;
    let catalog = if args.json || args.verbose || stamp.tariffs <= LISTED {
        match cache::load_required(root, module) {
            Ok(c) => Some(c),
            Err(e) => return report(&e),
        }
    } else {
        None
    };
    let prices = price_check(root, config, module, catalog.as_ref(), local);
    match catalog {
        Some(catalog) if args.json => {
            let r = Refreshed::unchanged(root, stamp, catalog);
            print_json(&refresh_json(root, &r, &prices));
            std::mem::forget(r);
        }
        catalog => {
            let mut out = match &catalog {
                Some(c) => catalog_text(c, true),
                None => format!(
                    "Processing module {module}: {} certificate tariffs ({} export entries skipped, {} warnings), fetched {}\n",
                    stamp.tariffs, stamp.skipped, stamp.warnings, stamp.fetched_at
                ),
            };
            out.push('\n');
            out.push_str(&format!(
                "The export is identical to the one stored at {}: nothing written (cache {}).\n",
                stamp.fetched_at,
                cache::path(root, module).display()
            ));
            out.push_str(&price_text(&prices));
            print!("{out}");
            std::mem::forget(catalog);
        }
    }
    refresh_exit(args, true, &prices)
}

/// The price-change alert after a refresh (`commands::price_watch`): the
/// `local` prices against the new costs, each flagged price at warn in the
/// log. `catalog`: the module's catalog, or `None` to read it from the
/// cache if a local price needs it.
fn price_check(
    root: &MgrRoot,
    config: &Config,
    module: u64,
    catalog: Option<&Catalog>,
    local: Result<LocalPrices>,
) -> Result<PriceCheck> {
    let LocalPrices { prices, left_out } = local?;
    let mut result = if prices.is_empty() {
        // What `check` finds in no prices, without a catalog to read.
        PriceCheck::default()
    } else {
        let cached;
        let catalog = match catalog {
            Some(c) => c,
            None => {
                cached = cache::load_required(root, module)?;
                &cached
            }
        };
        price_watch::check(catalog, &config.pricing, &prices)
    };
    // Services whose price could not be read come first, each named.
    result.unchecked.splice(0..0, left_out);
    for a in &result.alerts {
        log::warn!("catalog of module {module}: {}", a.line());
    }
    for u in &result.unchecked {
        log::warn!("catalog of module {module}: local price not checked: {u}");
    }
    Ok(result)
}

fn price_text(prices: &Result<PriceCheck>) -> String {
    let p = match prices {
        Ok(p) => p,
        Err(e) => {
            return format!(
                "Local prices not checked against the new costs: {}\n",
                e.message
            )
        }
    };
    let mut out = String::new();
    for u in &p.unchecked {
        out.push_str(&format!("Local price not checked: {u}\n"));
    }
    if p.alerts.is_empty() {
        out.push_str(&format!(
            "Local prices: {} checked, none under cost + minimum margin.\n",
            p.checked
        ));
        return out;
    }
    let rows: Vec<Vec<String>> = p
        .alerts
        .iter()
        .map(|a| {
            vec![
                a.tariff.clone(),
                format!("{} mo", a.months),
                a.services.to_string(),
                money(a.price, &a.currency),
                money(a.cost, &a.cost_currency),
                money(a.floor, &a.currency),
                money(a.short_by, &a.currency),
            ]
        })
        .collect();
    out.push_str(&format!(
        "{} local price(s) UNDER THE MARGIN FLOOR of the new upstream costs:\n",
        p.alerts.len()
    ));
    out.push_str(&table(
        &[
            "tariff",
            "period",
            "services",
            "local price",
            "upstream cost",
            "lowest",
            "short by",
        ],
        &rows,
    ));
    out.push_str("Raise these tariffs' prices in BILLmanager (Products → Tariff plans), or change [pricing].\n");
    out
}

pub fn show(root: &MgrRoot, args: &ShowArgs) -> i32 {
    let ids = match args.module {
        Some(m) => vec![m],
        None => cache::cached_modules(root),
    };
    let mut catalogs = Vec::new();
    for id in ids {
        match cache::load_required(root, id) {
            Ok(c) => catalogs.push(c),
            Err(e) => return report(&e),
        }
    }
    if args.json {
        print_json(&json!({ "catalogs": catalogs }));
        return 0;
    }
    if catalogs.is_empty() {
        println!(
            "No catalog cached under {} yet: run `pmsslreseller catalog refresh --module <id>`.",
            root.state_dir().display()
        );
    }
    for c in &catalogs {
        print_catalog(c);
        println!();
    }
    0
}

/// An amount for the admin's eye: two decimals and the currency
/// ("24.68 EUR"). `--json` keeps the exact values.
pub fn money(amount: rust_decimal::Decimal, currency: &str) -> String {
    let shown =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{shown:.2} {currency}").trim_end().to_string()
}

/// Where the pricing rules come from: the file when there is one, else the
/// defaults (and which file would hold them).
fn rules_source(root: &MgrRoot) -> String {
    let file = root.config_file();
    if file.exists() {
        format!("rules from {}", file.display())
    } else {
        format!(
            "default rules (no markup; {} does not exist)",
            file.display()
        )
    }
}

fn status_text(q: &Quote) -> &'static str {
    match q.status {
        QuoteStatus::Ok => "ok",
        QuoteStatus::BelowMargin => "BELOW MARGIN",
        QuoteStatus::NoRate => "NO RATE",
        QuoteStatus::Overflow => "OVERFLOW",
    }
}

pub fn preview(root: &MgrRoot, config: &Config, args: &PreviewArgs) -> i32 {
    crate::logging::set_context(format!("admin pricing preview module={}", args.module));
    let loaded = if args.refresh {
        catalog_refresh::refresh(root, config, args.module, false).map(|r| {
            if r.restart_required() {
                eprintln!(
                    "note: the templates changed; restart BILLmanager to see them: {}",
                    restart_hint(root)
                );
            }
            r.catalog
        })
    } else {
        cache::load_required(root, args.module)
    };
    let catalog = match loaded {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let pricer = Pricer::new(&config.pricing);
    let mut quotes: Vec<(&Tariff, Quote)> = Vec::new();
    for t in &catalog.tariffs {
        for q in pricer.quote_all(t) {
            quotes.push((t, q));
        }
    }
    let flagged = quotes.iter().filter(|(_, q)| !q.is_offered()).count();
    let terms = term_costs(config, &quotes);
    let losing = terms.iter().filter(|(_, c)| c.loses_money).count();
    if args.json {
        let rows: Vec<serde_json::Value> = quotes
            .iter()
            .map(|(t, q)| json!({ "template": t.template_id(), "name": t.name, "quote": q }))
            .collect();
        let term_rows: Vec<serde_json::Value> = terms
            .iter()
            .map(|(t, c)| json!({ "template": t, "term": c }))
            .collect();
        print_json(&json!({
            "module": args.module,
            "fetched_at": catalog.fetched_at,
            "quotes": rows,
            "flagged": flagged,
            "terms": term_rows,
            "terms_losing_money": losing,
        }));
        return 0;
    }
    println!(
        "Processing module {}: catalog fetched {}; {}",
        args.module,
        catalog.fetched_at,
        rules_source(root)
    );
    let rows: Vec<Vec<String>> = quotes
        .iter()
        .map(|(t, q)| {
            vec![
                t.template_id(),
                format!("{} mo", q.months),
                money(q.cost, &q.cost_currency),
                if q.rate == rust_decimal::Decimal::ONE {
                    String::new()
                } else {
                    q.rate.normalize().to_string()
                },
                money(q.sell, &q.currency),
                money(q.margin, &q.currency),
                money(q.floor, &q.currency),
                status_text(q).to_string(),
                t.name.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["template", "period", "cost", "rate", "sell", "margin", "lowest", "status", "name"],
            &rows
        )
    );
    if flagged > 0 {
        println!(
            "{flagged} price(s) flagged: they are never offered. Raise the markup in [pricing] or add the missing rates."
        );
    } else {
        println!(
            "All {} prices are at or above cost + minimum margin.",
            quotes.len()
        );
    }
    print_terms(&terms, losing);
    0
}

/// Each priced period as one local term from today, under both
/// upstream models (pricing/term_cost.rs).
fn term_costs(config: &Config, quotes: &[(&Tariff, Quote)]) -> Vec<(String, TermCost)> {
    let today = crate::clock::today();
    let before = config.lifecycle.reissue_before_days;
    let mut out = Vec::new();
    for (t, q) in quotes.iter().filter(|(_, q)| q.is_offered()) {
        for model in [TermModel::Subscription, TermModel::PerCertificate] {
            out.push((t.template_id(), term_cost(q, model, today, before)));
        }
    }
    out
}

fn print_terms(terms: &[(String, TermCost)], losing: usize) {
    println!();
    println!(
        "Over one local term from {} (certificates live 200/100/47 days, SC-081): upstream purchases and margin",
        crate::clock::today()
    );
    // Both models are shown because the module cannot tell which one the
    // upstream follows; a loss belongs to the per-certificate one only.
    println!(
        "A subscription upstream sells the term once (reissues free); a per-certificate upstream is paid \
         again for each certificate. Both rows are shown: which of the two your upstream follows is not \
         known to the module."
    );
    let rows: Vec<Vec<String>> = terms
        .iter()
        .map(|(template, c)| {
            vec![
                template.clone(),
                format!("{} mo", c.months),
                match c.model {
                    TermModel::Subscription => "subscription".into(),
                    TermModel::PerCertificate => "per certificate".into(),
                },
                c.purchases.to_string(),
                money(c.cost, &c.currency),
                money(c.sell, &c.currency),
                money(c.margin, &c.currency),
                term_status(c).to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "template",
                "term",
                "upstream model",
                "purchases",
                "cost",
                "sell",
                "margin",
                "status"
            ],
            &rows
        )
    );
    if losing > 0 {
        println!(
            "warning: {losing} term(s) lose money, but only if your upstream sells one certificate per purchase \
             (each renewal is paid again); a subscription upstream loses on none. Ask your upstream which it \
             is; if per certificate, raise those prices."
        );
    }
}

/// A term row's status: a loss names the model it belongs to.
fn term_status(c: &TermCost) -> &'static str {
    match (c.loses_money, c.model) {
        (false, _) => "ok",
        (true, TermModel::PerCertificate) => "LOSES MONEY if per-certificate",
        (true, TermModel::Subscription) => "LOSES MONEY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals_and_the_currency() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        assert_eq!(money(d("0.1048"), "EUR"), "0.10 EUR");
        assert_eq!(money(d("1.175"), "RUB"), "1.18 RUB");
        assert_eq!(money(d("24"), "EUR"), "24.00 EUR");
        assert_eq!(money(d("-0.005"), "EUR"), "-0.01 EUR");
        assert_eq!(money(d("7.5"), ""), "7.50");
    }

    #[test]
    fn rules_source_names_only_a_file_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        assert!(rules_source(&root).starts_with("default rules"));
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(root.config_file(), "").unwrap();
        assert!(rules_source(&root).starts_with("rules from "));
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxyz  1\n");
    }
}
