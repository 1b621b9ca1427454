//! `pricelist.export` (upstream-api.md §5) → [`Catalog`].
//!
//! Tolerant inside a tariff (unknown elements ignored, a bad period dropped
//! with a warning, a tariff without id or name skipped with a reason), strict
//! about the document (not XML, truncated, an HTML page, an `<error>` answer:
//! an error, so a broken export never replaces a good cache).
//!
//! Along the parse's seams: `reader` turns quick-xml events into the raw
//! fields of `raw`, as written; `split` reads a large export in two halves
//! on two threads with the same result; `tariff` types each raw tariff as
//! soon as its end tag is read. Here: the document's first checks and the
//! assembled [`Catalog`].

mod raw;
mod reader;
mod split;
mod tariff;

use super::{Catalog, Skipped, Tariff, CACHE_FORMAT};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::upstream::wire::FUNC_PRICELIST_EXPORT;
use raw::RawDocument;
use split::read_document;

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
    let doc = read_document(trimmed)?;
    if let Some((kind, msg)) = doc.error {
        return Err(ModuleError::new(
            ErrorKind::UpstreamError,
            format!("the upstream refused pricelist.export: {kind} {msg}"),
        )
        .with_object(FUNC_PRICELIST_EXPORT)
        .with_param("upstream_type", kind)
        .with_param("upstream_msg", msg));
    }

    let RawDocument {
        mut tariffs,
        mut skipped,
        warnings,
        ..
    } = doc;
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

    /// The rules the streaming reader keeps from the element tree it
    /// replaced: the first child of a name counts, text is an element's own
    /// (CDATA and entities included, children's text not), values are
    /// unescaped, the first `<error>` wins, other subtrees are read past.
    #[test]
    fn streaming_reader_keeps_the_tree_rules() {
        let xml = r#"<doc>
  <pricelist>
    <id>5</id><id>6</id>
    <name>A <b>hidden</b>&amp; <![CDATA[B<C>]]></name>
    <itemtype_info><x><intname>vds</intname></x><intname>certificate</intname></itemtype_info>
    <itemtype_info><intname>vds</intname></itemtype_info>
    <active/>
    <futurefield><price currency="XXX"><period length="1" cost="9"/></price></futurefield>
    <price currency="USD"><period length="12" cost="1&#46;50" type="month" cost="7"/></price>
    <addon><addon_itemtype_info><intname>altname_wild</intname></addon_itemtype_info>
      <addonmax>4</addonmax><price><period length="12" cost="2"/></price></addon>
  </pricelist>
  <error type="first"><msg> one </msg><msg>two</msg></error>
</doc>"#;
        let e = parse_export(xml, 1, AT).unwrap_err();
        assert!(e.message.contains("first one"), "{}", e.message);

        let ok = xml.replace(
            r#"<error type="first"><msg> one </msg><msg>two</msg></error>"#,
            "",
        );
        let c = parse_export(&ok, 1, AT).unwrap();
        let t = &c.tariffs[0];
        assert_eq!(t.id, 5);
        assert_eq!(t.name, "A & B<C>");
        assert!(!t.available, "a present but empty <active/> is not on");
        assert_eq!(t.periods.len(), 1, "{:?}", t.periods);
        assert_eq!(t.periods[0].currency, "USD");
        assert_eq!(t.periods[0].cost, Some("1.50".parse().unwrap()));
        assert!(t.altnames[0].wildcard && t.altnames[0].limit == Some(4));
        assert_eq!(t.altnames[0].periods[0].currency, "USD");

        let truncated = &ok[..ok.find("<addon>").unwrap() + "<addon>".len()];
        let e = parse_export(truncated, 1, AT).unwrap_err();
        assert!(e.message.contains("truncated"), "{}", e.message);
        let e = parse_export("<doc></doc><doc/>", 1, AT).unwrap_err();
        assert!(e.message.contains("after the root"), "{}", e.message);
        let e = parse_export("<doc></doc> text", 1, AT).unwrap_err();
        assert!(e.message.contains("outside the root"), "{}", e.message);
    }

    #[test]
    fn reference_fragment_is_skipped_with_reason() {
        let xml = include_str!(
            "../../../tests/fixtures/upstream/pricelist-export.doc-fragment.wrapped.xml"
        );
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
