//! `import_pricelist --module N --subcommand S [--id N]`: BILLmanager's
//! tariff import (Products → Tariff plans → Import), module-protocol.md §14.
//!
//! GUESS, P-U2 (module-protocol.md §18): nobody has published what
//! BILLmanager sends here or what it expects back. Everything that depends on
//! that guess is in this file:
//! - `--subcommand pricelist --id N` answers one tariff in the upstream's own
//!   `pricelist.export` shape (upstream-api.md §5), prices after our pricing
//!   rules ([`pricelist_document`]);
//! - any other subcommand answers the list of importable tariffs in the shape
//!   of the only public implementation (X-TEST):
//!   `<doc><elem><id/><name/><name_en/><name_ru/><itemtype/></elem>…</doc>`
//!   ([`list_document`]).
//!
//! The catalog is fetched from the upstream on every call (prices must be
//! current) and refreshes the cache. Every call's full argv and stdin are
//! logged verbatim at info level, so the
//! real format can be read off a real installation and fixed here. The feature
//! is advertised by default; `[catalog] advertise_import_pricelist = false` hides it.
//! Prices under the minimum-margin guard are never offered: they are left out
//! and logged; a tariff with no offerable price is left out of the list, and
//! asking for it is an error.

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use crate::catalog::{template_id, Catalog, Tariff};
use crate::pricing::{Pricer, PricingConfig, Quote};
use crate::protocol::error::{ModuleError, Result};
use crate::protocol::features::ITEMTYPE;
use crate::protocol::xml::Elem;

use super::Ctx;

/// The subcommand that asks for one tariff's details (L-MOD: `--id` depends on it).
pub const DETAIL_SUBCOMMAND: &str = "pricelist";

/// How long to wait for BILLmanager to close our stdin before answering anyway.
const STDIN_WAIT: Duration = Duration::from_secs(2);

/// Whatever BILLmanager wrote on stdin, if it arrives (and ends) quickly.
/// Read in a thread so an open, silent pipe can never hang the import.
fn stdin_snapshot() -> Option<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Some(String::new());
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let r = std::io::stdin().lock().read_to_string(&mut s).map(|_| s);
        let _ = tx.send(r);
    });
    match rx.recv_timeout(STDIN_WAIT) {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => Some(format!("<unreadable stdin: {e}>")),
        Err(_) => None,
    }
}

/// The command: log the call, take the module's catalog, answer.
pub fn run(ctx: &Ctx, module: u64, subcommand: &str, id: Option<u64>) -> Result<Option<String>> {
    log::info!("import_pricelist call (P-U2 capture): argv {:?}", ctx.argv);
    match stdin_snapshot() {
        Some(s) => log::info!(
            "import_pricelist call (P-U2 capture): stdin {} bytes: {s:?}",
            s.len()
        ),
        None => log::info!(
            "import_pricelist call (P-U2 capture): stdin still open after {}s; not read",
            STDIN_WAIT.as_secs()
        ),
    }
    let catalog = current_catalog(ctx, module)?;
    let doc = answer(&catalog, &ctx.config.pricing, subcommand, id)?;
    log::info!("import_pricelist answer: {doc}");
    Ok(Some(doc))
}

/// The module's catalog for an import, fetched now: import sets local
/// prices, so they are computed from the upstream's current costs, never from
/// a stale cache. A good export also refreshes the cache and the template
/// names (as `catalog refresh` would); a failed fetch is an error, not an
/// answer from old data.
fn current_catalog(ctx: &Ctx, module: u64) -> Result<Catalog> {
    let refreshed = super::catalog_refresh::refresh(&ctx.root, &ctx.config, module, false)?;
    Ok(refreshed.catalog)
}

/// The answer for one call (pure: catalog + pricing rules in, XML out).
pub fn answer(
    catalog: &Catalog,
    pricing: &PricingConfig,
    subcommand: &str,
    id: Option<u64>,
) -> Result<String> {
    let pricer = Pricer::new(pricing);
    if subcommand == DETAIL_SUBCOMMAND {
        let id = id.ok_or_else(|| {
            ModuleError::missed(
                "id",
                "import_pricelist --subcommand pricelist needs --id <upstream tariff id>",
            )
        })?;
        let tariff = catalog.tariff(id).ok_or_else(|| {
            ModuleError::value(
                "id",
                format!(
                    "upstream tariff {id} is not in the catalog of processing module {} (fetched {}); run `pmsslreseller catalog refresh --module {}`",
                    catalog.module_id, catalog.fetched_at, catalog.module_id
                ),
            )
            .with_param("value", id.to_string())
        })?;
        return pricelist_document(tariff, &pricer);
    }
    Ok(list_document(catalog, &pricer))
}

/// Quotes that may be offered; the others are logged, never dropped silently.
fn offered_quotes(t: &Tariff, pricer: &Pricer<'_>) -> Vec<Quote> {
    let (ok, flagged): (Vec<Quote>, Vec<Quote>) =
        pricer.offer(t).into_iter().partition(Quote::is_offered);
    for q in &flagged {
        log::warn!(
            "import_pricelist: tariff {} ({}) {} months not offered: {:?} (cost {} {}, sell {} {}, lowest acceptable {})",
            t.id, t.name, q.months, q.status, q.cost, q.cost_currency, q.sell, q.currency, q.floor
        );
    }
    ok
}

/// List of importable tariffs (X-TEST shape, P-U2).
pub fn list_document(catalog: &Catalog, pricer: &Pricer<'_>) -> String {
    let mut doc = Elem::doc();
    for t in catalog.tariffs.iter().filter(|t| t.available) {
        if offered_quotes(t, pricer).is_empty() {
            log::warn!(
                "import_pricelist: tariff {} ({}) left out of the list: no period can be offered",
                t.id,
                t.name
            );
            continue;
        }
        doc.push(
            Elem::new("elem")
                .leaf("id", t.id.to_string())
                .leaf("name", t.name.as_str())
                .leaf("name_en", t.display_name_en())
                .leaf("name_ru", t.display_name_ru())
                .leaf("itemtype", ITEMTYPE)
                .leaf("intname", template_id(t.id)),
        );
    }
    doc.to_document()
}

/// One tariff in the upstream's export shape with our sell prices (P-U2).
pub fn pricelist_document(t: &Tariff, pricer: &Pricer<'_>) -> Result<String> {
    let quotes = offered_quotes(t, pricer);
    if quotes.is_empty() {
        return Err(ModuleError::value(
            "id",
            format!(
                "upstream tariff {} ({}) has no period that can be offered: every price is unsold, lacks a conversion rate or is below the minimum margin; see `pmsslreseller pricing preview --module N`",
                t.id, t.name
            ),
        )
        .with_param("value", t.id.to_string()));
    }
    let mut pricelist = Elem::new("pricelist")
        .leaf("id", t.id.to_string())
        .leaf("name", t.name.as_str())
        .leaf("name_en", t.display_name_en())
        .leaf("name_ru", t.display_name_ru())
        .leaf("intname", template_id(t.id))
        .leaf("itemtype", ITEMTYPE)
        .child(Elem::new("itemtype_info").leaf("intname", ITEMTYPE));
    // One <price> per currency, in order of first appearance.
    let mut currencies: Vec<&str> = Vec::new();
    for q in &quotes {
        if !currencies.contains(&q.currency.as_str()) {
            currencies.push(&q.currency);
        }
    }
    for c in currencies {
        let mut price = Elem::new("price").attr("currency", c);
        for q in quotes.iter().filter(|q| q.currency == c) {
            price.push(
                Elem::new("period")
                    .attr("cost", q.sell.to_string())
                    .attr("type", "month")
                    .attr("length", q.months.to_string()),
            );
        }
        pricelist.push(price);
    }
    Ok(Elem::doc().child(pricelist).to_document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_export;
    use crate::protocol::error::ErrorKind;

    fn catalog() -> Catalog {
        parse_export(
            r#"<doc>
  <pricelist><id>10</id><name>Cheap</name><price currency="EUR"><period cost="10" length="12" type="month"/><period cost="" length="24" type="month"/><period cost="0" length="-100" type="month"/></price></pricelist>
  <pricelist><id>20</id><name>Gone</name><archived>on</archived><price currency="EUR"><period cost="10" length="12" type="month"/></price></pricelist>
  <pricelist><id>30</id><name>Dollar</name><price currency="USD"><period cost="10" length="12" type="month"/></price></pricelist>
</doc>"#,
            4,
            "2026-11-26T12:00:00Z",
        )
        .unwrap()
    }

    fn rules() -> PricingConfig {
        PricingConfig {
            markup_percent: "20".parse().unwrap(),
            currency: "EUR".into(),
            ..PricingConfig::default()
        }
    }

    #[test]
    fn list_has_only_offerable_available_tariffs() {
        let d = answer(&catalog(), &rules(), "available", None).unwrap();
        assert!(d.contains("<id>10</id>"), "{d}");
        assert!(!d.contains("<id>20</id>"), "archived: {d}");
        assert!(!d.contains("<id>30</id>"), "no USD rate: {d}");
        assert!(d.contains("<intname>ssl_10</intname>"));
    }

    #[test]
    fn detail_has_sell_prices_only_for_sold_periods() {
        let d = answer(&catalog(), &rules(), "pricelist", Some(10)).unwrap();
        assert!(d.contains("<price currency=\"EUR\">"), "{d}");
        assert!(
            d.contains("<period cost=\"12.00\" type=\"month\" length=\"12\"/>"),
            "{d}"
        );
        assert!(!d.contains("length=\"24\"") && !d.contains("-100"), "{d}");
    }

    #[test]
    fn detail_errors() {
        let e = answer(&catalog(), &rules(), "pricelist", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Missed);
        let e = answer(&catalog(), &rules(), "pricelist", Some(99)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Value);
        let e = answer(&catalog(), &rules(), "pricelist", Some(30)).unwrap_err();
        assert!(e.message.contains("no period"), "{}", e.message);
        let guarded = PricingConfig {
            min_margin: "5".parse().unwrap(),
            ..rules()
        };
        let e = answer(&catalog(), &guarded, "pricelist", Some(10)).unwrap_err();
        assert!(e.message.contains("minimum margin"), "{}", e.message);
    }
}
