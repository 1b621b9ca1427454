//! What the item's upstream tariff can do, checked before money moves.
//!
//! The cached upstream catalog (`crate::catalog`, filled by `pmsslreseller
//! catalog refresh`) knows each tariff's periods, SAN add-on limit and flags.
//! When it is there, an order or reissue the tariff cannot fulfil (a period
//! it is not sold for, SANs on a single-name tariff, more SANs than the
//! add-on allows, a wildcard name on a tariff without wildcard) is refused
//! with a clear error before anything is sent. Without a cache the upstream's
//! own validation answers instead (logged once).

use crate::catalog::{cache, OrderTerms};
use crate::protocol::error::{ModuleError, Result};

use super::job::Job;

/// Terms of the item's tariff from the cached catalog; `None` without a cache.
pub fn cached_terms(job: &Job, period_months: u32) -> Result<Option<OrderTerms>> {
    let Some(module) = job.item.processingmodule else {
        return Ok(None);
    };
    match cache::load(&job.ctx.root, module)? {
        Some(catalog) => catalog
            .order_terms(&job.item.pricelist_intname, period_months)
            .map(Some),
        None => {
            log::info!(
                "no cached upstream catalog for module {module}; the upstream validates tariff {} itself \
                 (run `pmsslreseller catalog refresh --module {module}` to check orders before sending)",
                job.item.pricelist_intname
            );
            Ok(None)
        }
    }
}

/// The names of a certificate (CN + SANs) against what the tariff allows.
pub fn check_names(terms: &OrderTerms, cn: &str, altnames: &[String]) -> Result<()> {
    let tariff = format!("'{}' ({})", terms.tariff_name, terms.upstream_tariff);
    let wildcard = |n: &str| n.trim().starts_with("*.");
    if wildcard(cn) && !terms.flags.wildcard {
        return Err(ModuleError::value(
            "CN",
            format!(
                "the tariff {tariff} has no wildcard certificates but the CN is {cn}; \
                 move the service to a wildcard tariff or change the CN"
            ),
        )
        .with_param("value", cn.to_string()));
    }
    let sans: Vec<&String> = altnames
        .iter()
        .filter(|n| !n.trim().eq_ignore_ascii_case(cn.trim()))
        .collect();
    if sans.is_empty() {
        return Ok(());
    }
    if !terms.flags.multidomain && terms.altname_limit.is_none() {
        return Err(ModuleError::value(
            "altname",
            format!(
                "the tariff {tariff} is for a single name but {} additional names were requested; \
                 move the service to a multi-domain tariff or remove the names",
                sans.len()
            ),
        )
        .with_param("value", sans.len().to_string()));
    }
    if let Some(limit) = terms.altname_limit {
        if sans.len() as u64 > limit {
            return Err(ModuleError::value(
                "altname",
                format!(
                    "the tariff {tariff} allows at most {limit} additional names, {} were requested",
                    sans.len()
                ),
            )
            .with_param("value", sans.len().to_string()));
        }
    }
    if sans.iter().any(|n| wildcard(n))
        && !(terms.flags.multidomain_wildcard || terms.flags.wildcard)
    {
        return Err(ModuleError::value(
            "altname",
            format!("the tariff {tariff} has no wildcard additional names; remove the *. names"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{TemplateFlags, Validation};
    use rust_decimal::Decimal;

    fn terms(flags: TemplateFlags, limit: Option<u64>) -> OrderTerms {
        OrderTerms {
            module_id: 1,
            upstream_tariff: 3033,
            period_months: 12,
            cost: Decimal::ONE,
            currency: "EUR".into(),
            tariff_name: "Comodo Positive SSL".into(),
            flags,
            validation: Validation::Dv,
            altname_limit: limit,
            fetched_at: String::new(),
        }
    }

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_name_tariff_refuses_sans_and_wildcards() {
        let t = terms(TemplateFlags::default(), None);
        assert!(check_names(&t, "example.com", &[]).is_ok());
        // The CN repeated in the list is not an additional name.
        assert!(check_names(&t, "example.com", &v(&["example.com"])).is_ok());
        let e = check_names(&t, "example.com", &v(&["www.example.com"])).unwrap_err();
        assert_eq!(e.object.as_deref(), Some("altname"));
        assert!(e.message.contains("multi-domain"), "{}", e.message);
        let e = check_names(&t, "*.example.com", &[]).unwrap_err();
        assert_eq!(e.object.as_deref(), Some("CN"));
    }

    #[test]
    fn multidomain_limit() {
        let t = terms(
            TemplateFlags {
                multidomain: true,
                ..TemplateFlags::default()
            },
            Some(2),
        );
        assert!(check_names(&t, "a.com", &v(&["b.com", "c.com"])).is_ok());
        let e = check_names(&t, "a.com", &v(&["b.com", "c.com", "d.com"])).unwrap_err();
        assert!(e.message.contains("at most 2"), "{}", e.message);
        assert!(check_names(&t, "a.com", &v(&["*.b.com"])).is_err());
    }
}
