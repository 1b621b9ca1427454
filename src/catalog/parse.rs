//! `pricelist.export` (upstream-api.md §5) → [`Catalog`].
//!
//! Tolerant inside a tariff (unknown elements ignored, a bad period dropped
//! with a warning, a tariff without id or name skipped with a reason), strict
//! about the document (not XML, truncated, an HTML page, an `<error>` answer:
//! an error, so a broken export never replaces a good cache).

use rust_decimal::Decimal;

use super::flags::{derive, FlagEvidence};
use super::{AltnameAddon, Catalog, EnumItem, Period, Skipped, Tariff, CACHE_FORMAT};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::wire::FUNC_PRICELIST_EXPORT;
use crate::xmltree::{parse_tree, Node};

/// The product type we take from the export.
const CERTIFICATE: &str = "certificate";

/// Add-on intname of SANs ("alternative names", `CERTIFICATE_ALTNAME`,
/// upstream-api.md §5). Wildcard SAN add-ons carry "wildcard" in it.
const ALTNAME_PREFIX: &str = "altname";

/// The first `n` characters on one line, for messages about a bad body.
fn first_chars(s: &str, n: usize) -> String {
    s.trim()
        .chars()
        .take(n)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn bad_export(detail: impl Into<String>) -> ModuleError {
    ModuleError::new(
        ErrorKind::UpstreamBadResponse,
        format!(
            "the upstream's tariff list (pricelist.export) is unusable: {}",
            detail.into()
        ),
    )
    .with_object(FUNC_PRICELIST_EXPORT)
}

/// Parse an export fetched at `fetched_at` for processing module `module_id`.
pub fn parse_export(xml: &str, module_id: u64, fetched_at: &str) -> Result<Catalog> {
    let trimmed = xml.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(bad_export("the answer is empty"));
    }
    if !trimmed.starts_with('<') {
        return Err(bad_export(format!(
            "not XML; it starts with \"{}\"",
            first_chars(trimmed, 80)
        )));
    }
    let root = parse_tree(trimmed).map_err(bad_export)?;
    if root.name != "doc" {
        return Err(bad_export(format!(
            "not a BILLmanager answer: the root element is <{}> instead of <doc> (an HTML page? check the URL)",
            root.name
        )));
    }
    if let Some(err) = root.child("error") {
        let kind = err.attr("type").unwrap_or("unknown");
        let msg = err.child_text("msg").unwrap_or("");
        return Err(ModuleError::new(
            ErrorKind::UpstreamError,
            format!("the upstream refused pricelist.export: {kind} {msg}"),
        )
        .with_object(FUNC_PRICELIST_EXPORT)
        .with_param("upstream_type", kind.to_string())
        .with_param("upstream_msg", msg.to_string()));
    }

    let mut tariffs: Vec<(usize, Tariff)> = Vec::new();
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();
    for (index, node) in root.children_named("pricelist").enumerate() {
        let position = index + 1;
        match tariff_from(node, &mut warnings) {
            Ok(t) => tariffs.push((position, t)),
            Err(reason) => skipped.push(Skipped {
                position,
                id: node.child_text("id").map(str::to_string),
                reason,
            }),
        }
    }
    // Sorted and unique: deterministic templates, binary search in lookups.
    // The sort is stable, so the first occurrence of an id is kept.
    tariffs.sort_by_key(|(_, t)| t.id);
    let mut unique: Vec<Tariff> = Vec::with_capacity(tariffs.len());
    for (position, t) in tariffs {
        if unique.last().is_some_and(|u| u.id == t.id) {
            skipped.push(Skipped {
                position,
                id: Some(t.id.to_string()),
                reason: "duplicate id; the first occurrence was kept".into(),
            });
        } else {
            unique.push(t);
        }
    }
    skipped.sort_by_key(|s| s.position);
    Ok(Catalog {
        format: CACHE_FORMAT,
        module_id,
        fetched_at: fetched_at.to_string(),
        tariffs: unique,
        skipped,
        warnings,
    })
}

fn is_on(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.trim().to_ascii_lowercase()).as_deref(),
        Some("on" | "yes" | "1" | "true")
    )
}

/// The periods under the `<price>` elements of `node`. A `<price>` without a
/// currency inherits `default_currency` (add-on prices are listed bare).
fn periods_of(
    node: &Node,
    default_currency: &str,
    what: &str,
    warnings: &mut Vec<String>,
) -> Vec<Period> {
    let mut out = Vec::new();
    for price in node.children_named("price") {
        let currency = price
            .attr("currency")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(default_currency)
            .to_string();
        for p in price.children_named("period") {
            let length_text = p.attr("length").unwrap_or("").trim();
            let Ok(length) = length_text.parse::<i64>() else {
                warnings.push(format!(
                    "{what}: period with length \"{length_text}\" ignored"
                ));
                continue;
            };
            let kind = p.attr("type").unwrap_or("month").trim().to_string();
            let cost_text = p.attr("cost").unwrap_or("").trim();
            let cost = if cost_text.is_empty() {
                None
            } else {
                match cost_text.parse::<Decimal>() {
                    Ok(c) if c.is_sign_negative() && !c.is_zero() => {
                        warnings.push(format!(
                            "{what}: period {length} with negative cost \"{cost_text}\" ignored"
                        ));
                        continue;
                    }
                    Ok(c) => Some(c),
                    Err(_) => {
                        warnings.push(format!(
                            "{what}: period {length} with cost \"{cost_text}\" ignored"
                        ));
                        continue;
                    }
                }
            };
            if currency.is_empty() && cost.is_some() {
                warnings.push(format!("{what}: period {length} has no currency; ignored"));
                continue;
            }
            out.push(Period {
                currency: currency.clone(),
                kind,
                length,
                cost,
            });
        }
    }
    out
}

fn altname_addon(
    addon: &Node,
    currency: &str,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<AltnameAddon> {
    let intname = addon
        .child_text("intname")
        .or_else(|| {
            addon
                .child("addon_itemtype_info")
                .and_then(|i| i.child_text("intname"))
        })?
        .to_string();
    let lower = intname.to_ascii_lowercase();
    if !lower.starts_with(ALTNAME_PREFIX) {
        return None;
    }
    let number = |name: &str| addon.child_text(name).and_then(|t| t.parse::<u64>().ok());
    Some(AltnameAddon {
        id: number("id"),
        wildcard: lower.contains("wild"),
        intname,
        name: addon.child_text("name").map(str::to_string),
        name_ru: addon.child_text("name_ru").map(str::to_string),
        min: number("addonmin"),
        limit: number("addonlimit").or_else(|| number("addonmax")),
        periods: periods_of(addon, currency, &format!("{what} addon altname"), warnings),
        enumeration: addon
            .children_named("enumeration")
            .flat_map(|e| e.children_named("enumerationitem"))
            .map(|i| EnumItem {
                id: i.child_text("id").and_then(|t| t.parse::<u64>().ok()),
                intname: i.child_text("intname").map(str::to_string),
                name: i.child_text("name").map(str::to_string),
                periods: periods_of(
                    i,
                    currency,
                    &format!("{what} addon altname enumeration"),
                    warnings,
                ),
            })
            .collect(),
    })
}

fn tariff_from(node: &Node, warnings: &mut Vec<String>) -> std::result::Result<Tariff, String> {
    let id_text = node.child_text("id").ok_or("no <id>")?;
    let id: u64 = id_text
        .parse()
        .map_err(|_| format!("id \"{}\" is not a number", first_chars(id_text, 40)))?;
    // itemtype: intname in itemtype_info, or the element itself when it is not numeric.
    let itemtype = node
        .child("itemtype_info")
        .and_then(|i| i.child_text("intname"))
        .or_else(|| {
            node.child_text("itemtype")
                .filter(|t| t.parse::<u64>().is_err())
        });
    if let Some(it) = itemtype {
        if it != CERTIFICATE {
            return Err(format!("product type \"{it}\", not {CERTIFICATE}"));
        }
    }
    let name_ru = node.child_text("name_ru").map(str::to_string);
    let name_en = node.child_text("name_en").map(str::to_string);
    let name = node
        .child_text("name")
        .map(str::to_string)
        .or_else(|| name_en.clone())
        .or_else(|| name_ru.clone())
        .ok_or("no <name>")?;
    let what = format!("tariff {id}");
    let first_currency = node
        .children_named("price")
        .find_map(|p| p.attr("currency"))
        .unwrap_or("")
        .trim()
        .to_string();
    let periods = periods_of(node, &first_currency, &what, warnings);
    let altnames: Vec<AltnameAddon> = node
        .children_named("addon")
        .filter_map(|a| altname_addon(a, &first_currency, &what, warnings))
        .collect();
    let siteinfo = node.child_text("siteinfo").map(str::to_string);
    let mut names: Vec<&str> = vec![name.as_str()];
    names.extend(name_en.as_deref());
    names.extend(name_ru.as_deref());
    let (validation, flags) = derive(&FlagEvidence {
        names,
        siteinfo: siteinfo.as_deref(),
        has_altname_addon: altnames.iter().any(|a| !a.wildcard),
        has_wildcard_altname_addon: altnames.iter().any(|a| a.wildcard),
    });
    // `active` absent means active; archived/hidden plans cannot be ordered.
    let active = node
        .child("active")
        .map(|a| is_on(Some(&a.text)))
        .unwrap_or(true);
    let available =
        active && !is_on(node.child_text("archived")) && !is_on(node.child_text("hideinorder"));
    Ok(Tariff {
        id,
        name,
        name_ru,
        name_en,
        validation,
        flags,
        altnames,
        periods,
        available,
        siteinfo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Validation;

    const AT: &str = "2026-11-26T12:00:00Z";

    #[test]
    fn reads_a_full_tariff() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<doc lang="en" func="pricelist.export"><tparams><out>xml</out></tparams>
  <pricelist>
    <id>3033</id><name>Comodo Positive SSL</name><name_ru>Комодо</name_ru>
    <active>on</active><itemtype>17</itemtype><itemtype_info><intname>certificate</intname></itemtype_info>
    <price currency="EUR">
      <period cost="0.0000" type="month" length="-100">trial</period>
      <period cost="7.5000" type="month" length="12">year</period>
      <period cost="" type="month" length="24"/>
    </price>
    <price currency="RUB"><period cost="750.00" type="month" length="12"/></price>
    <addon><id>9</id><intname>altname</intname><addontype>2</addontype><billtype>2</billtype>
      <addonmin>0</addonmin><addonlimit>250</addonlimit>
      <price><period cost="3.0000" type="month" length="12"/></price></addon>
    <siteinfo>validation=DV, wildcard=no, multidomain=yes, www=yes, idn=yes</siteinfo>
    <futurefield><x>1</x></futurefield>
  </pricelist>
</doc>"#;
        let c = parse_export(xml, 7, AT).unwrap();
        assert_eq!(c.tariffs.len(), 1);
        assert!(c.skipped.is_empty() && c.warnings.is_empty(), "{c:?}");
        let t = &c.tariffs[0];
        assert_eq!(t.id, 3033);
        assert_eq!(t.name_ru.as_deref(), Some("Комодо"));
        assert_eq!(t.validation, Validation::Dv);
        assert!(t.flags.multidomain && t.flags.www && t.flags.idn && !t.flags.wildcard);
        assert_eq!(t.periods.len(), 4);
        assert_eq!(
            t.sold_period(12).unwrap().cost,
            Some("7.5".parse().unwrap())
        );
        assert!(t.sold_period(24).is_none());
        assert_eq!(t.altnames[0].limit, Some(250));
        assert_eq!(t.altnames[0].periods[0].currency, "EUR");
        assert!(t.available);
    }

    #[test]
    fn reference_fragment_is_skipped_with_reason() {
        let xml =
            include_str!("../../tests/fixtures/upstream/pricelist-export.doc-fragment.wrapped.xml");
        let c = parse_export(xml, 1, AT).unwrap();
        assert!(c.tariffs.is_empty());
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.skipped[0].reason, "no <id>");
    }

    #[test]
    fn broken_documents_are_errors() {
        for (xml, needle) in [
            ("", "empty"),
            ("<doc><pricelist><id>1</id><name>x</name>", "truncated"),
            (
                "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
                "<html>",
            ),
            ("Internal Server Error", "not XML"),
            ("<doc><pricelist><id>1</id></pricelist>", ""),
        ] {
            let e = parse_export(xml, 1, AT).unwrap_err();
            assert_eq!(e.kind, ErrorKind::UpstreamBadResponse, "{xml}");
            assert!(e.message.contains(needle), "{xml}: {}", e.message);
        }
    }

    #[test]
    fn error_answer_is_an_upstream_error() {
        let e = parse_export(
            r#"<doc><error type="auth"><msg>bad password</msg></error></doc>"#,
            1,
            AT,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UpstreamError);
        assert!(e.message.contains("auth"));
    }

    #[test]
    fn other_product_types_and_bad_ids_are_skipped() {
        let xml = r#"<doc>
  <pricelist><id>1</id><name>VPS</name><itemtype_info><intname>vds</intname></itemtype_info></pricelist>
  <pricelist><id>x1</id><name>Odd</name></pricelist>
  <pricelist><id>2</id><name>Ok</name><archived>on</archived>
    <price currency="EUR"><period cost="abc" type="month" length="12"/><period cost="5" type="month" length="twelve"/></price></pricelist>
  <pricelist><id>2</id><name>Dup</name></pricelist>
</doc>"#;
        let c = parse_export(xml, 1, AT).unwrap();
        assert_eq!(c.tariffs.len(), 1);
        assert!(!c.tariffs[0].available);
        assert!(c.tariffs[0].periods.is_empty());
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        let reasons: Vec<&str> = c.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("vds")), "{reasons:?}");
        assert!(
            reasons.iter().any(|r| r.contains("not a number")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("duplicate")),
            "{reasons:?}"
        );
    }
}
