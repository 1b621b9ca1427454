//! Template flags and validation level of an upstream tariff.
//!
//! GUESS, A-U14 (upstream-api.md §10): `pricelist.export` has no documented
//! field for the validation level or the wildcard / multi-domain nature of a
//! certificate tariff. This file is the ONE place that guesses it, in this
//! order of trust:
//! 1. `<siteinfo>key=value, …</siteinfo>` (ISPsystem's SSL site parses this
//!    free text; the simulator's fixture uses it): keys `validation`
//!    (DV/OV/EV), `wildcard`, `multidomain`, `multidomain_wildcard`, `www`,
//!    `idn`, `orginfo`, `csraltname`, `authemail`, `authdnstxt` with
//!    `yes`/`no` (also on/off, true/false, 1/0);
//! 2. an `altname` add-on (the upstream's SAN item type, ISP-CODE S16) means
//!    multi-domain;
//! 3. words in the tariff names: "Wildcard", "EV"/"Extended", "OV"/
//!    "Organization"/"Business", "multi-domain"/"SAN"/"UCC"/"Unified".
//!
//! Defaults for what nothing states: OV/EV need organisation data
//! (`orginfo`); DV tariffs allow e-mail and DNS validation (`authemail`,
//! `authdnstxt`, like ISPsystem's GlobalSign module, features reference);
//! `www`, `idn`, `csraltname` only when siteinfo says so.

use super::{TemplateFlags, Validation};

/// What the export tells about one tariff, as far as flags are concerned.
#[derive(Debug, Clone, Default)]
pub struct FlagEvidence<'a> {
    /// All names of the tariff (`name`, `name_ru`, `name_en`).
    pub names: Vec<&'a str>,
    pub siteinfo: Option<&'a str>,
    /// The tariff has an `altname` (SAN) add-on.
    pub has_altname_addon: bool,
    /// The tariff has a wildcard SAN add-on.
    pub has_wildcard_altname_addon: bool,
}

/// `key=value, key=value` → pairs, keys lower-cased. Separators `,` `;` or
/// new lines; entries without `=` are ignored.
pub fn siteinfo_pairs(siteinfo: &str) -> Vec<(String, String)> {
    siteinfo
        .split([',', ';', '\n'])
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn yes_no(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "1" | "y" => Some(true),
        "no" | "off" | "false" | "0" | "n" | "" => Some(false),
        _ => None,
    }
}

fn validation_word(v: &str) -> Option<Validation> {
    match v.trim().to_ascii_uppercase().as_str() {
        "DV" | "DOMAIN" => Some(Validation::Dv),
        "OV" | "ORGANIZATION" | "ORGANISATION" | "OV/BUSINESS" => Some(Validation::Ov),
        "EV" | "EXTENDED" => Some(Validation::Ev),
        _ => None,
    }
}

/// Words of a name, split on anything not alphanumeric. Compared with
/// [`is_word`] (ASCII case-insensitive; every keyword is ASCII), so no word is
/// copied: this runs for every tariff of a 5,000-tariff export (issue 15).
fn words(name: &str) -> Vec<&str> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

fn is_word(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

/// The words of every name, split once per tariff.
type NameWords<'a> = Vec<Vec<&'a str>>;

fn name_validation(names: &NameWords<'_>) -> Option<Validation> {
    let mut found = None;
    for w in names {
        let has = |x: &str| w.iter().any(|y| is_word(y, x));
        // EV wins over OV ("GeoTrust True Business ID with EV").
        if has("ev") || has("extended") || has("evssl") {
            return Some(Validation::Ev);
        }
        if has("ov") || has("organization") || has("organisation") || has("business") {
            found = Some(Validation::Ov);
        } else if found.is_none() && (has("dv") || (has("domain") && !is_multidomain_words(w))) {
            found = Some(Validation::Dv);
        }
    }
    found
}

fn is_multidomain_words(w: &[&str]) -> bool {
    let has = |x: &str| w.iter().any(|y| is_word(y, x));
    has("san")
        || has("ucc")
        || has("unified")
        || has("multidomain")
        || (has("multi") && has("domain"))
        || w.windows(2)
            .any(|p| is_word(p[0], "multi") && is_word(p[1], "domain"))
}

fn name_wildcard(names: &NameWords<'_>) -> bool {
    names
        .iter()
        .flatten()
        .any(|w| is_word(w, "wildcard") || is_word(w, "wild"))
}

fn name_multidomain(names: &NameWords<'_>) -> bool {
    names.iter().any(|w| is_multidomain_words(w))
}

/// THE flag derivation (A-U14). Pure; unknown siteinfo keys are ignored.
pub fn derive(e: &FlagEvidence<'_>) -> (Validation, TemplateFlags) {
    let pairs = e.siteinfo.map(siteinfo_pairs).unwrap_or_default();
    let site = |key: &str| -> Option<&str> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let site_flag = |key: &str| site(key).and_then(yes_no);
    // Split lazily: with a full siteinfo the names are never read.
    let names = std::cell::OnceCell::new();
    let names = || names.get_or_init(|| e.names.iter().map(|n| words(n)).collect::<NameWords>());

    let validation = site("validation")
        .and_then(validation_word)
        .or_else(|| name_validation(names()))
        .unwrap_or(Validation::Unknown);

    let wildcard = site_flag("wildcard").unwrap_or_else(|| name_wildcard(names()));
    let multidomain = site_flag("multidomain")
        .unwrap_or_else(|| e.has_altname_addon || name_multidomain(names()));
    let multidomain_wildcard =
        site_flag("multidomain_wildcard").unwrap_or(multidomain && e.has_wildcard_altname_addon);
    let orginfo = site_flag("orginfo").unwrap_or(validation.needs_org());
    let dv_like = matches!(validation, Validation::Dv | Validation::Unknown);
    let flags = TemplateFlags {
        wildcard,
        www: site_flag("www").unwrap_or(false),
        multidomain,
        multidomain_wildcard,
        orginfo,
        idn: site_flag("idn").unwrap_or(false),
        csraltname: site_flag("csraltname").unwrap_or(false),
        authemail: site_flag("authemail").unwrap_or(dv_like),
        authdnstxt: site_flag("authdnstxt").unwrap_or(dv_like),
    };
    (validation, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(names: &[&'a str], siteinfo: Option<&'a str>, altname: bool) -> FlagEvidence<'a> {
        FlagEvidence {
            names: names.to_vec(),
            siteinfo,
            has_altname_addon: altname,
            has_wildcard_altname_addon: false,
        }
    }

    #[test]
    fn siteinfo_wins_over_names() {
        let (v, f) = derive(&ev(
            &["Comodo Wildcard EV"],
            Some("validation=DV, wildcard=no, multidomain=yes, www=yes, idn=yes"),
            false,
        ));
        assert_eq!(v, Validation::Dv);
        assert!(!f.wildcard && f.multidomain && f.www && f.idn);
        assert!(!f.orginfo && f.authemail && f.authdnstxt);
    }

    #[test]
    fn names_when_no_siteinfo() {
        let (v, f) = derive(&ev(
            &["GeoTrust True Business ID with EV multi-domain"],
            None,
            false,
        ));
        assert_eq!(v, Validation::Ev);
        assert!(f.multidomain && f.orginfo && !f.authemail && !f.wildcard);

        let (v, f) = derive(&ev(&["AlphaSSL Wildcard"], None, false));
        assert_eq!(v, Validation::Unknown);
        assert!(f.wildcard && !f.multidomain && !f.orginfo && f.authemail);

        let (v, f) = derive(&ev(
            &["Comodo Unified Communications Certificate (UCC)"],
            None,
            false,
        ));
        assert_eq!(v, Validation::Unknown);
        assert!(f.multidomain);

        let (v, _) = derive(&ev(&["Organization SSL"], None, false));
        assert_eq!(v, Validation::Ov);
        let (v, f) = derive(&ev(&["Domain SSL"], None, false));
        assert_eq!(v, Validation::Dv);
        assert!(!f.multidomain);
        let (v, f) = derive(&ev(&["Multi-Domain SSL"], None, false));
        assert_ne!(v, Validation::Dv);
        assert!(f.multidomain);
    }

    #[test]
    fn altname_addon_means_multidomain() {
        let (_, f) = derive(&ev(&["PositiveSSL"], None, true));
        assert!(f.multidomain);
        // … unless siteinfo explicitly says otherwise.
        let (_, f) = derive(&ev(&["PositiveSSL"], Some("multidomain=no"), true));
        assert!(!f.multidomain);
    }

    #[test]
    fn words_inside_other_words_do_not_count() {
        // "Devsecure", "Overture" and "Eventual" contain dv/ov/ev but are not those words.
        let (v, f) = derive(&ev(
            &["Devsecure Overture Eventual Wildcardish"],
            None,
            false,
        ));
        assert_eq!(v, Validation::Unknown);
        assert!(!f.wildcard);
    }

    #[test]
    fn siteinfo_tolerates_junk() {
        let p = siteinfo_pairs("validation = ov ; garbage, =x, Wildcard=YES\nidn=maybe");
        assert!(p.contains(&("validation".into(), "ov".into())));
        assert!(p.contains(&("wildcard".into(), "YES".into())));
        let (v, f) = derive(&ev(
            &["x"],
            Some("validation = ov ; garbage, Wildcard=YES\nidn=maybe"),
            false,
        ));
        assert_eq!(v, Validation::Ov);
        assert!(f.wildcard && f.orginfo && !f.idn);
    }
}
