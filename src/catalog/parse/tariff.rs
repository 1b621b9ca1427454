//! Raw fields → the typed model, tolerant inside a tariff: a bad period is
//! dropped with a warning, a tariff without id or name is skipped with its
//! reason.

use rust_decimal::Decimal;

use super::raw::{text_of, Field, RawAddon, RawPrice, RawTariff};
use super::{first_chars, ALTNAME_PREFIX, CERTIFICATE};
use crate::catalog::flags::{derive, FlagEvidence};
use crate::catalog::{AltnameAddon, EnumItem, Period, Tariff};

fn is_on(v: Option<&str>) -> bool {
    v.map(str::trim).is_some_and(|s| {
        ["on", "yes", "1", "true"]
            .iter()
            .any(|w| s.eq_ignore_ascii_case(w))
    })
}

/// The periods of `prices`. A `<price>` without a currency inherits
/// `default_currency` (add-on prices are listed bare).
fn periods_of(
    prices: &[RawPrice<'_>],
    default_currency: &str,
    what: &dyn Fn() -> String,
    warnings: &mut Vec<String>,
) -> Vec<Period> {
    let mut out = Vec::with_capacity(prices.iter().map(|p| p.periods.len()).sum());
    for price in prices {
        let currency = price
            .currency
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(default_currency);
        for p in &price.periods {
            let length_text = p.length.as_deref().unwrap_or("").trim();
            let Ok(length) = length_text.parse::<i64>() else {
                warnings.push(format!(
                    "{}: period with length \"{length_text}\" ignored",
                    what()
                ));
                continue;
            };
            let kind = p.kind.as_deref().unwrap_or("month").trim().to_string();
            let cost_text = p.cost.as_deref().unwrap_or("").trim();
            let cost = if cost_text.is_empty() {
                None
            } else {
                match cost_text.parse::<Decimal>() {
                    Ok(c) if c.is_sign_negative() && !c.is_zero() => {
                        warnings.push(format!(
                            "{}: period {length} with negative cost \"{cost_text}\" ignored",
                            what()
                        ));
                        continue;
                    }
                    Ok(c) => Some(c),
                    Err(_) => {
                        warnings.push(format!(
                            "{}: period {length} with cost \"{cost_text}\" ignored",
                            what()
                        ));
                        continue;
                    }
                }
            };
            if currency.is_empty() && cost.is_some() {
                warnings.push(format!(
                    "{}: period {length} has no currency; ignored",
                    what()
                ));
                continue;
            }
            out.push(Period {
                currency: currency.to_string(),
                kind,
                length,
                cost,
            });
        }
    }
    out
}

fn altname_addon(
    addon: &RawAddon<'_>,
    currency: &str,
    what: &dyn Fn() -> String,
    warnings: &mut Vec<String>,
) -> Option<AltnameAddon> {
    let intname = text_of(&addon.intname)
        .or_else(|| text_of(&addon.info_intname))?
        .to_string();
    let lower = intname.to_ascii_lowercase();
    if !lower.starts_with(ALTNAME_PREFIX) {
        return None;
    }
    let number = |field: &Field<'_>| text_of(field).and_then(|t| t.parse::<u64>().ok());
    Some(AltnameAddon {
        id: number(&addon.id),
        wildcard: lower.contains("wild"),
        intname,
        name: text_of(&addon.name).map(str::to_string),
        name_ru: text_of(&addon.name_ru).map(str::to_string),
        min: number(&addon.addonmin),
        limit: number(&addon.addonlimit).or_else(|| number(&addon.addonmax)),
        periods: periods_of(
            &addon.prices,
            currency,
            &|| format!("{} addon altname", what()),
            warnings,
        ),
        enumeration: addon
            .choices
            .iter()
            .map(|c| EnumItem {
                id: number(&c.id),
                intname: text_of(&c.intname).map(str::to_string),
                name: text_of(&c.name).map(str::to_string),
                periods: periods_of(
                    &c.prices,
                    currency,
                    &|| format!("{} addon altname enumeration", what()),
                    warnings,
                ),
            })
            .collect(),
    })
}

pub(super) fn tariff_from(
    raw: &RawTariff<'_>,
    warnings: &mut Vec<String>,
) -> std::result::Result<Tariff, String> {
    let id_text = text_of(&raw.id).ok_or("no <id>")?;
    let id: u64 = id_text
        .parse()
        .map_err(|_| format!("id \"{}\" is not a number", first_chars(id_text, 40)))?;
    // itemtype: intname in itemtype_info, or the element itself when it is not numeric.
    let itemtype = text_of(&raw.info_intname)
        .or_else(|| text_of(&raw.itemtype).filter(|t| t.parse::<u64>().is_err()));
    if let Some(it) = itemtype {
        if it != CERTIFICATE {
            return Err(format!("product type \"{it}\", not {CERTIFICATE}"));
        }
    }
    let name_ru = text_of(&raw.name_ru).map(str::to_string);
    let name_en = text_of(&raw.name_en).map(str::to_string);
    let name = text_of(&raw.name)
        .map(str::to_string)
        .or_else(|| name_en.clone())
        .or_else(|| name_ru.clone())
        .ok_or("no <name>")?;
    // Only a warning names the tariff: no string per tariff otherwise.
    let what = || format!("tariff {id}");
    let first_currency = raw
        .prices
        .iter()
        .find_map(|p| p.currency.as_deref())
        .unwrap_or("")
        .trim();
    let periods = periods_of(&raw.prices, first_currency, &what, warnings);
    let altnames: Vec<AltnameAddon> = raw
        .addons
        .iter()
        .filter_map(|a| altname_addon(a, first_currency, &what, warnings))
        .collect();
    let siteinfo = text_of(&raw.siteinfo).map(str::to_string);
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
    let active = raw
        .active
        .as_deref()
        .map(|a| is_on(Some(a)))
        .unwrap_or(true);
    let available = active && !is_on(text_of(&raw.archived)) && !is_on(text_of(&raw.hideinorder));
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
