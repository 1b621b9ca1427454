//! `import_pricelist --module N --subcommand S [--id N]`: BILLmanager's
//! tariff import (Products → Tariff plans → Import), module-protocol.md §14,
//! evidence-2026-12 N1.
//!
//! GUESS, P-U2 (module-protocol.md §18): nobody has published what
//! BILLmanager sends here or what it expects back. Everything that depends on
//! that guess is in this file:
//! - `--subcommand pricelist --id N` answers one tariff in the upstream's own
//!   `pricelist.export` shape (upstream-api.md §5), prices after our pricing
//!   rules, with its SAN add-ons (`addon`, same shape) ([`pricelist_document`]);
//! - any other subcommand answers the list of importable tariffs in the shape
//!   of the only public implementation (X-TEST):
//!   `<doc><elem><id/><name/><name_en/><name_ru/><itemtype/></elem>…</doc>`,
//!   plus our `intname` and the tariff's periods ([`list_document`]).
//!
//! Periods must match (N1: the wizard refuses a plan whose order periods do
//! not): a tariff is offered for exactly the months in which the tariff AND
//! every priced SAN add-on can be sold above the margin floor ([`offer`]).
//! A tariff with no such month is left out of the list (logged), and asking
//! for it is an error.
//!
//! The catalog is fetched from the upstream on every call (prices must be
//! current) and refreshes the cache. Every call's argv, stdin and answer are
//! kept in `var/pmsslreseller/import-<time>.xml` (`import_capture`, passwords
//! masked), so the real format can be read off a real installation and fixed
//! here; the log has the argv and the sizes of stdin and the answer, never
//! stdin itself (it may carry the module's settings, password included,
//! before the password is known to the redaction). A detail answer is recorded
//! (`catalog::import_links`) so the tariff the wizard creates from it can be
//! linked back even if BILLmanager renames it. The feature is advertised by
//! default; `[catalog] advertise_import_pricelist = false` hides it.

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use crate::catalog::{import_links, template_id, AltnameAddon, Catalog, EnumItem, Period, Tariff};
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

/// The command: log the call, take the module's catalog, answer, keep it all.
pub fn run(ctx: &Ctx, module: u64, subcommand: &str, id: Option<u64>) -> Result<Option<String>> {
    log::info!(
        "import_pricelist call (P-U2 capture): argv {}",
        crate::logging::argv_text(&ctx.argv)
    );
    let stdin = stdin_snapshot();
    match &stdin {
        // Its length only: BILLmanager may pass the module settings here.
        Some(s) => log::info!(
            "import_pricelist call (P-U2 capture): stdin {} bytes (kept in the capture, not logged)",
            s.len()
        ),
        None => log::info!(
            "import_pricelist call (P-U2 capture): stdin still open after {}s; not read",
            STDIN_WAIT.as_secs()
        ),
    }
    let result = current_catalog(ctx, module).and_then(|catalog| {
        let doc = answer(&catalog, &ctx.config.pricing, subcommand, id)?;
        if subcommand == DETAIL_SUBCOMMAND {
            if let Some(t) = id.and_then(|id| catalog.tariff(id)) {
                record_served(ctx, module, t);
            }
        }
        Ok(doc)
    });
    let answered = match &result {
        Ok(doc) => doc.clone(),
        Err(e) => format!("error {:?}: {e}", e.kind),
    };
    log::info!(
        "import_pricelist answer: {} bytes{}",
        answered.len(),
        if result.is_ok() { "" } else { " (an error)" }
    );
    super::import_capture::write(
        &ctx.root,
        &super::import_capture::Capture {
            module,
            argv: &ctx.argv,
            stdin: stdin.as_deref(),
            answer: &answered,
            ok: result.is_ok(),
        },
    );
    result.map(Some)
}

/// Remember what the wizard was told about tariff `t`, for linking the local
/// tariff it creates ([`crate::commands::lifecycle::tariff::upstream_tariff`]).
/// A failed write costs only that fallback link, so it is logged, not fatal.
fn record_served(ctx: &Ctx, module: u64, t: &Tariff) {
    let mut names = vec![t.name.clone()];
    for n in [t.display_name_en(), t.display_name_ru()] {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    let served = import_links::ServedTariff {
        module_id: module,
        upstream_id: t.id,
        intname: template_id(t.id),
        names,
        served_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    if let Err(e) = import_links::record(&ctx.root, &served) {
        log::warn!(
            "import_pricelist: tariff {} served but not recorded: {e}",
            t.id
        );
    }
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

/// What may be offered of one tariff: its sell prices and those of its SAN
/// add-ons, all for the same months.
#[derive(Debug)]
pub struct Offer<'a> {
    pub tariff: &'a Tariff,
    /// One quote per offered month count, ascending.
    pub quotes: Vec<Quote>,
    pub addons: Vec<AddonOffer<'a>>,
}

/// A SAN add-on with its quotes for exactly the offered months (empty when
/// the upstream lists no price for it: it costs nothing there either), and
/// those of its enumeration items, if it has any.
#[derive(Debug)]
pub struct AddonOffer<'a> {
    pub addon: &'a AltnameAddon,
    pub quotes: Vec<Quote>,
    pub items: Vec<(&'a EnumItem, Vec<Quote>)>,
}

/// Log a quote that is not offered; nothing is ever dropped silently.
fn log_flagged(t: &Tariff, what: &str, q: &Quote) {
    log::warn!(
        "import_pricelist: tariff {} ({}) {what} {} months not offered: {:?} (cost {} {}, sell {} {}, lowest acceptable {})",
        t.id, t.name, q.months, q.status, q.cost, q.cost_currency, q.sell, q.currency, q.floor
    );
}

/// Quotes of one priced part of tariff `t` (an add-on, an enumeration
/// item); the months it cannot be sold for above the floor leave `months`
/// (periods must match). A part without any price restricts nothing.
fn restrict(
    t: &Tariff,
    what: &str,
    periods: &[Period],
    pricer: &Pricer<'_>,
    months: &mut Vec<u32>,
) -> Vec<Quote> {
    let quotes = pricer.offer_periods(t.id, periods);
    if quotes.is_empty() {
        return quotes;
    }
    for q in quotes.iter().filter(|q| !q.is_offered()) {
        log_flagged(t, what, q);
    }
    months.retain(|m| {
        let sold = quotes.iter().any(|q| q.months == *m && q.is_offered());
        if !sold {
            log::warn!(
                "import_pricelist: tariff {} ({}) {m} months not offered: its {what} has no offerable price for it (periods must match)",
                t.id, t.name
            );
        }
        sold
    });
    quotes
}

/// The months tariff `t` can be offered for, with all prices; `None` (and
/// logged) when there is none.
pub fn offer<'a>(t: &'a Tariff, pricer: &Pricer<'_>) -> Option<Offer<'a>> {
    let mut months: Vec<u32> = Vec::new();
    for q in pricer.offer(t) {
        if q.is_offered() {
            months.push(q.months);
        } else {
            log_flagged(t, "price for", &q);
        }
    }
    let mut addons = Vec::new();
    for a in &t.altnames {
        let what = format!("add-on {}", a.intname);
        let quotes = restrict(t, &what, &a.periods, pricer, &mut months);
        let items = a
            .enumeration
            .iter()
            .map(|i| {
                let label = i.name.as_deref().or(i.intname.as_deref()).unwrap_or("?");
                let what = format!("{what} choice {label}");
                (i, restrict(t, &what, &i.periods, pricer, &mut months))
            })
            .collect();
        addons.push(AddonOffer {
            addon: a,
            quotes,
            items,
        });
    }
    if months.is_empty() {
        log::warn!(
            "import_pricelist: tariff {} ({}) not offered: no period can be offered (every price is unsold, \
             lacks a conversion rate or is below the minimum margin)",
            t.id,
            t.name
        );
        return None;
    }
    let keep = |qs: Vec<Quote>| -> Vec<Quote> {
        qs.into_iter()
            .filter(|q| q.is_offered() && months.contains(&q.months))
            .collect()
    };
    let quotes = keep(pricer.offer(t));
    let addons = addons
        .into_iter()
        .map(|a| AddonOffer {
            addon: a.addon,
            quotes: keep(a.quotes),
            items: a.items.into_iter().map(|(i, qs)| (i, keep(qs))).collect(),
        })
        .collect();
    Some(Offer {
        tariff: t,
        quotes,
        addons,
    })
}

/// `<price currency="…"><period cost type length/>…</price>`, one per
/// currency in order of first appearance.
fn price_elems(quotes: &[Quote]) -> Vec<Elem> {
    let mut currencies: Vec<&str> = Vec::new();
    for q in quotes {
        if !currencies.contains(&q.currency.as_str()) {
            currencies.push(&q.currency);
        }
    }
    currencies
        .into_iter()
        .map(|c| {
            let mut price = Elem::new("price").attr("currency", c);
            for q in quotes.iter().filter(|q| q.currency == c) {
                price.push(
                    Elem::new("period")
                        .attr("cost", q.sell.to_string())
                        .attr("type", "month")
                        .attr("length", q.months.to_string()),
                );
            }
            price
        })
        .collect()
}

/// List of importable tariffs (X-TEST shape, P-U2) with their periods.
pub fn list_document(catalog: &Catalog, pricer: &Pricer<'_>) -> String {
    let mut doc = Elem::doc();
    for t in catalog.tariffs.iter().filter(|t| t.available) {
        let Some(o) = offer(t, pricer) else {
            continue;
        };
        let mut elem = Elem::new("elem")
            .leaf("id", t.id.to_string())
            .leaf("name", t.name.as_str())
            .leaf("name_en", t.display_name_en())
            .leaf("name_ru", t.display_name_ru())
            .leaf("itemtype", ITEMTYPE)
            .leaf("intname", template_id(t.id));
        for p in price_elems(&o.quotes) {
            elem.push(p);
        }
        doc.push(elem);
    }
    doc.to_document()
}

/// Upstream-api.md §5 add-on codes: `addontype` 2 = integer (a number of
/// SAN slots), `billtype` 2 = ordered (paid with the order) [ISP-CODE S16
/// common.h]; the item type of SAN add-ons is `altname` (sslutil.cpp).
const ADDONTYPE_INTEGER: &str = "2";
/// `addontype` 3 = enumeration (upstream-api.md §5), for an add-on sold as choices.
const ADDONTYPE_ENUM: &str = "3";
const BILLTYPE_ORDERED: &str = "2";

fn addon_elem(o: &AddonOffer<'_>) -> Elem {
    let (a, quotes) = (o.addon, &o.quotes);
    let name = a.name.clone().unwrap_or_else(|| {
        if a.wildcard {
            "Additional wildcard domain names".into()
        } else {
            "Additional domain names".into()
        }
    });
    let mut e = Elem::new("addon");
    if let Some(id) = a.id {
        e = e.leaf("id", id.to_string());
    }
    e = e
        .leaf("intname", a.intname.as_str())
        .leaf("name", name.as_str())
        .leaf("name_ru", a.name_ru.as_deref().unwrap_or(&name))
        .leaf(
            "addontype",
            if a.enumeration.is_empty() {
                ADDONTYPE_INTEGER
            } else {
                ADDONTYPE_ENUM
            },
        )
        .leaf("billtype", BILLTYPE_ORDERED);
    if let Some(min) = a.min {
        e = e.leaf("addonmin", min.to_string());
    }
    if let Some(limit) = a.limit {
        e = e.leaf("addonlimit", limit.to_string());
    }
    e = e.child(Elem::new("addon_itemtype_info").leaf("intname", a.intname.as_str()));
    for p in price_elems(quotes) {
        e.push(p);
    }
    if !o.items.is_empty() {
        let mut en = Elem::new("enumeration");
        for (i, quotes) in &o.items {
            let mut item = Elem::new("enumerationitem");
            if let Some(id) = i.id {
                item = item.leaf("id", id.to_string());
            }
            if let Some(n) = &i.intname {
                item = item.leaf("intname", n.as_str());
            }
            if let Some(n) = &i.name {
                item = item.leaf("name", n.as_str());
            }
            for p in price_elems(quotes) {
                item.push(p);
            }
            en.push(item);
        }
        e.push(en);
    }
    e
}

/// One tariff in the upstream's export shape with our sell prices (P-U2).
pub fn pricelist_document(t: &Tariff, pricer: &Pricer<'_>) -> Result<String> {
    let o = offer(t, pricer).ok_or_else(|| {
        ModuleError::value(
            "id",
            format!(
                "upstream tariff {} ({}) has no period that can be offered: every price (of the tariff or of \
                 its SAN add-on) is unsold, lacks a conversion rate or is below the minimum margin; see \
                 `pmsslreseller pricing preview --module N`",
                t.id, t.name
            ),
        )
        .with_param("value", t.id.to_string())
    })?;
    let mut pricelist = Elem::new("pricelist")
        .leaf("id", t.id.to_string())
        .leaf("name", t.name.as_str())
        .leaf("name_en", t.display_name_en())
        .leaf("name_ru", t.display_name_ru())
        .leaf("intname", template_id(t.id))
        .leaf("itemtype", ITEMTYPE)
        .child(Elem::new("itemtype_info").leaf("intname", ITEMTYPE));
    for p in price_elems(&o.quotes) {
        pricelist.push(p);
    }
    for a in &o.addons {
        pricelist.push(addon_elem(a));
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

    fn multi() -> Catalog {
        parse_export(
            r#"<doc><pricelist><id>40</id><name>Multi</name>
  <price currency="EUR"><period cost="40" length="12" type="month"/><period cost="70" length="24" type="month"/><period cost="90" length="36" type="month"/></price>
  <addon><id>41</id><intname>altname</intname><name>Extra names</name><addontype>2</addontype><addonmin>0</addonmin><addonlimit>10</addonlimit>
    <price currency="EUR"><period cost="10" length="12" type="month"/><period cost="0.01" length="24" type="month"/></price></addon>
  <addon><id>42</id><intname>altname_wildcard</intname><addonlimit>5</addonlimit>
    <price currency="EUR"><period cost="50" length="12" type="month"/><period cost="90" length="24" type="month"/></price></addon>
</pricelist></doc>"#,
            4,
            "2026-11-26T12:00:00Z",
        )
        .unwrap()
    }

    #[test]
    fn detail_carries_san_addons_for_the_same_periods() {
        let d = answer(&multi(), &rules(), "pricelist", Some(40)).unwrap();
        // 36 months: no add-on price for it, so the plan is not offered for it.
        assert!(!d.contains("length=\"36\""), "{d}");
        assert!(d.contains("<intname>altname</intname>"), "{d}");
        assert!(d.contains("<intname>altname_wildcard</intname>"), "{d}");
        assert!(d.contains("<addonlimit>10</addonlimit>"), "{d}");
        assert!(d.contains("<addontype>2</addontype>"), "{d}");
        assert!(
            d.contains("cost=\"12.00\" type=\"month\" length=\"12\""),
            "{d}"
        );
        assert!(
            d.contains("cost=\"60.00\" type=\"month\" length=\"12\""),
            "{d}"
        );
        assert!(d.contains("Additional wildcard domain names"), "{d}");
        let list = answer(&multi(), &rules(), "available", None).unwrap();
        assert!(
            list.contains("length=\"24\"") && !list.contains("length=\"36\""),
            "{list}"
        );
    }

    #[test]
    fn an_addon_under_the_margin_floor_takes_its_period_away() {
        // A floor of 0.05: the 24-month SAN (0.01 → 0.02 sell) is under it.
        let guarded = PricingConfig {
            min_margin: "0.05".parse().unwrap(),
            ..rules()
        };
        let d = answer(&multi(), &guarded, "pricelist", Some(40)).unwrap();
        assert!(d.contains("length=\"12\""), "{d}");
        assert!(!d.contains("length=\"24\""), "{d}");
        assert!(!d.contains("0.02"), "an under-floor price offered: {d}");
    }

    #[test]
    fn enumerated_san_packages_are_priced_and_restrict_periods() {
        let c = parse_export(
            r#"<doc><pricelist><id>50</id><name>Packs</name>
  <price currency="EUR"><period cost="40" length="12" type="month"/><period cost="70" length="24" type="month"/></price>
  <addon><id>51</id><intname>altname</intname><addontype>3</addontype>
    <enumeration>
      <enumerationitem><id>7</id><name>5 names</name><price currency="EUR"><period cost="20" length="12" type="month"/><period cost="35" length="24" type="month"/></price></enumerationitem>
      <enumerationitem><id>8</id><name>10 names</name><price currency="EUR"><period cost="30" length="12" type="month"/></price></enumerationitem>
    </enumeration></addon>
</pricelist></doc>"#,
            4,
            "2026-11-26T12:00:00Z",
        )
        .unwrap();
        let d = answer(&c, &rules(), "pricelist", Some(50)).unwrap();
        assert!(d.contains("<addontype>3</addontype>"), "{d}");
        assert!(d.contains("<name>10 names</name>"), "{d}");
        assert!(
            d.contains("cost=\"24.00\" type=\"month\" length=\"12\""),
            "{d}"
        );
        // "10 names" has no 24-month price: the plan loses its 24 months.
        assert!(!d.contains("length=\"24\""), "{d}");
    }
}
