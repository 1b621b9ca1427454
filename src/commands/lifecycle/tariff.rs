//! What the item's upstream tariff is, and what it can do, checked before
//! money moves.
//!
//! Which upstream tariff a local tariff sells ([`upstream_tariff`]): its
//! internal name `ssl_<id>`, else what BILLmanager's import wizard left
//! (an external id, or the names `import_pricelist` served), else a clear
//! error before anything is sent.
//!
//! The period an order sends ([`order_period`]): whole months, or a trial
//! where the cached catalog shows the upstream tariff selling one; nothing
//! else is ever sent.
//!
//! The cached upstream catalog (`crate::catalog`, filled by `pmsslreseller
//! catalog refresh`) knows each tariff's periods, SAN add-on limit and flags.
//! When it is there, an order or reissue the tariff cannot fulfil (a period
//! it is not sold for, SANs on a single-name tariff, more SANs than the
//! add-on allows, a wildcard name on a tariff without wildcard) is refused
//! with a clear error before anything is sent. Without a cache the upstream's
//! own validation answers instead (logged once).

use crate::catalog::{cache, import_links, upstream_tariff_id, OrderTerms, TEMPLATE_PREFIX};
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::{OrderPeriod, Period};

use super::job::{not_months, Job};

/// The upstream tariff id the item's local tariff sells.
///
/// GUESS, P-U2 (module-protocol.md §14.2: how a tariff created by
/// BILLmanager's import wizard is linked to the provider's tariff is not
/// published). Tried in this order, the first that answers wins:
/// 1. the internal name `ssl_<id>` (what our templates and our detail
///    answer propose; confirmed to be what SSL modules read, §14.3);
/// 2. the tariff's external id, when the database has one and it is a
///    number ([`crate::billing::Db::pricelist_link`]);
/// 3. the tariff's name equal to a name `import_pricelist` served for
///    exactly one upstream tariff of this module
///    ([`crate::catalog::import_links`]).
///
/// Otherwise a `value` error naming the tariff and what to set; callers ask
/// before recording any intent, so nothing is sent or paid.
pub fn upstream_tariff(job: &mut Job) -> Result<u64> {
    let intname = job.item.pricelist_intname.clone();
    if intname.trim().starts_with(TEMPLATE_PREFIX) {
        // Ours, or meant to be: a malformed ssl_… is its own clear error.
        return upstream_tariff_id(&intname);
    }
    let (name, external) = job.db.pricelist_link(job.item.pricelist)?;
    if let Some(id) = external
        .as_deref()
        .and_then(|e| e.trim().parse::<u64>().ok())
    {
        log::info!(
            "local tariff {} ('{name}', internal name '{intname}') sells upstream tariff {id} (its external id)",
            job.item.pricelist
        );
        return Ok(id);
    }
    let module = job.item.processingmodule.unwrap_or_default();
    let records = import_links::load_all(&job.ctx.root, module)?;
    let matches = import_links::tariffs_named(&records, &name);
    if let [id] = matches.as_slice() {
        log::info!(
            "local tariff {} ('{name}', internal name '{intname}') sells upstream tariff {id} (the name the import wizard was given for it)",
            job.item.pricelist
        );
        return Ok(*id);
    }
    let why = if matches.len() > 1 {
        format!(
            "its name matches several imported upstream tariffs ({})",
            matches
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        "it has neither an external id nor a name the import wizard was given".into()
    };
    Err(ModuleError::value(
        "pricelist_intname",
        format!(
            "the local tariff {} ('{name}', internal name '{intname}') of service {} is not linked to an \
             upstream tariff: its internal name is not {TEMPLATE_PREFIX}<upstream tariff id> and {why}. \
             Set the tariff's internal name to {TEMPLATE_PREFIX}<upstream tariff id> (e.g. {TEMPLATE_PREFIX}3033; \
             `pmsslreseller catalog show --module {module}` lists the ids), then restart the operation; \
             nothing was ordered",
            job.item.pricelist, job.item_id
        ),
    )
    .with_param("value", intname))
}

/// Terms of upstream tariff `upstream` (the item's, see [`upstream_tariff`])
/// for `period` from the cached catalog; `None` without a cache.
pub fn cached_terms(job: &Job, upstream: u64, period: OrderPeriod) -> Result<Option<OrderTerms>> {
    let Some(module) = job.item.processingmodule else {
        return Ok(None);
    };
    match cache::load(&job.ctx.root, module)? {
        Some(catalog) => catalog
            .order_terms_for(upstream, &job.item.pricelist_intname, period)
            .map(Some),
        None => {
            log::info!(
                "no cached upstream catalog for module {module}; the upstream validates tariff {upstream} itself \
                 (run `pmsslreseller catalog refresh --module {module}` to check orders before sending)"
            );
            Ok(None)
        }
    }
}

/// The period an order of the item sends upstream, with the cached terms
/// for it (`None` without a cache), decided before anything is recorded or
/// sent. Whole months go as they are. A trial (`vocab::period`) is ordered
/// only where the cached catalog shows the upstream tariff selling one:
/// without a cache that cannot be told, so it is refused. Lifetime, daily and
/// unknown periods are never sent. Each refusal is a `value` error naming the
/// period and what to do.
pub fn order_period(job: &Job, upstream: u64) -> Result<(OrderPeriod, Option<OrderTerms>)> {
    let period = job.item.period;
    match period {
        Period::Months(m) => {
            let wanted = OrderPeriod::Months(m);
            Ok((wanted, cached_terms(job, upstream, wanted)?))
        }
        Period::Trial => {
            let module = job.item.processingmodule.unwrap_or_default();
            let refuse = |why: String| {
                ModuleError::value(
                    "period",
                    format!(
                        "item {}'s period is {period}: {why}; nothing was ordered",
                        job.item_id
                    ),
                )
                .with_param(
                    "value",
                    period.code().map(|c| c.to_string()).unwrap_or_default(),
                )
            };
            let Some(catalog) = cache::load(&job.ctx.root, module)? else {
                return Err(refuse(format!(
                    "whether upstream tariff {upstream} sells a trial is not known without its catalog. Run \
                     `pmsslreseller catalog refresh --module {module}`, then restart the operation"
                )));
            };
            let terms = catalog
                .order_terms_for(upstream, &job.item.pricelist_intname, OrderPeriod::Trial)
                .map_err(|e| match e.kind {
                    ErrorKind::Value => refuse(format!(
                        "{}. Set the service's period to months the tariff sells, or give the local tariff no trial",
                        e.message
                    )),
                    _ => e,
                })?;
            log::info!(
                "item {}: its period is a trial; upstream tariff {upstream} sells one (catalog fetched {})",
                job.item_id,
                terms.fetched_at
            );
            Ok((OrderPeriod::Trial, Some(terms)))
        }
        _ => Err(not_months(job.item_id, period)),
    }
}

/// The SANs of an order against the SAN slots the customer paid for (the
/// service's `altname` add-ons): more names than paid slots would make the
/// upstream charge the reseller for names nobody paid, so they are refused
/// before anything is sent. Without SAN add-ons there is nothing to compare.
pub fn check_paid_slots(job: &mut Job, cn: &str, altnames: &[String]) -> Result<()> {
    let Some(paid) = job.db.ordered_san_slots(job.item_id)? else {
        return Ok(());
    };
    let names = altnames
        .iter()
        .filter(|n| !n.trim().eq_ignore_ascii_case(cn.trim()))
        .count() as u64;
    if names > paid {
        return Err(ModuleError::value(
            "altname",
            format!(
                "service {} lists {names} additional names but its SAN add-on pays for {paid}; \
                 raise the add-on quantity or remove names, then restart the operation",
                job.item_id
            ),
        )
        .with_param("value", names.to_string()));
    }
    Ok(())
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
            period: OrderPeriod::Months(12),
            cost: Decimal::ONE,
            currency: "EUR".into(),
            tariff_name: "Comodo Positive SSL".into(),
            flags,
            validation: Validation::Dv,
            altname_limit: limit,
            altname_cost: None,
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
