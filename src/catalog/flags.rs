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

fn yes_no(v: &str) -> Option<bool> {
    let (buf, len) = lowered::<5>(v.trim())?;
    match &buf[..len] {
        b"yes" | b"on" | b"true" | b"1" | b"y" => Some(true),
        b"no" | b"off" | b"false" | b"0" | b"n" | b"" => Some(false),
        _ => None,
    }
}

fn validation_word(v: &str) -> Option<Validation> {
    let (buf, len) = lowered::<12>(v.trim())?;
    match &buf[..len] {
        b"dv" | b"domain" => Some(Validation::Dv),
        b"ov" | b"organization" | b"organisation" | b"ov/business" => Some(Validation::Ov),
        b"ev" | b"extended" => Some(Validation::Ev),
        _ => None,
    }
}

/// `s` lower-cased into a buffer of `N` bytes, to be matched against ASCII
/// literals without a copy on the heap; `None` when longer than `N` (then
/// it is no word or key looked for).
fn lowered<const N: usize>(s: &str) -> Option<([u8; N], usize)> {
    if s.len() > N {
        return None;
    }
    let mut buf = [0u8; N];
    for (d, c) in buf.iter_mut().zip(s.bytes()) {
        *d = c.to_ascii_lowercase();
    }
    Some((buf, s.len()))
}

// The groups of name keywords, one bit each in a [`keyword_mask`].
const EV: u32 = 1;
const OV: u32 = 1 << 1;
const DV: u32 = 1 << 2;
const DOMAIN: u32 = 1 << 3;
/// One word that means multi-domain.
const MULTI_ONE_WORD: u32 = 1 << 4;
const MULTI: u32 = 1 << 5;
const WILDCARD: u32 = 1 << 6;

/// The group of a word (ASCII case-insensitive), 0 for none.
fn keyword_bit(word: &str) -> u32 {
    let Some((buf, len)) = lowered::<12>(word) else {
        return 0;
    };
    match &buf[..len] {
        b"ev" | b"extended" | b"evssl" => EV,
        b"ov" | b"organization" | b"organisation" | b"business" => OV,
        b"dv" => DV,
        b"domain" => DOMAIN,
        b"san" | b"ucc" | b"unified" | b"multidomain" => MULTI_ONE_WORD,
        b"multi" => MULTI,
        b"wildcard" | b"wild" => WILDCARD,
        _ => 0,
    }
}

/// The keyword groups that are words of `name`. A word is a maximal run of
/// alphanumeric characters (Unicode, as `char::is_alphanumeric`). Every
/// keyword is ASCII, so only runs of ASCII letters and digits can match, and
/// the (slow, table-driven) Unicode class is asked only of the two
/// characters around a run that matched: one pass, no allocation, for every
/// tariff of a 5,000-tariff export.
fn keyword_mask(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let mut mask = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        // Both ends are ASCII bytes, so both are character boundaries.
        let bit = keyword_bit(&name[start..i]);
        if bit == 0 {
            continue;
        }
        // A letter such as "é" or "д" right before or after makes the run
        // part of a longer word ("Évssl" is not "evssl").
        let glued_before = name[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let glued_after = name[i..].chars().next().is_some_and(char::is_alphanumeric);
        if !glued_before && !glued_after {
            mask |= bit;
        }
    }
    mask
}

fn has(mask: u32, keywords: u32) -> bool {
    mask & keywords != 0
}

fn name_validation(names: &[u32]) -> Option<Validation> {
    let mut found = None;
    for &w in names {
        // EV wins over OV ("GeoTrust True Business ID with EV").
        if has(w, EV) {
            return Some(Validation::Ev);
        }
        if has(w, OV) {
            found = Some(Validation::Ov);
        } else if found.is_none() && (has(w, DV) || (has(w, DOMAIN) && !is_multidomain_words(w))) {
            found = Some(Validation::Dv);
        }
    }
    found
}

/// "SAN", "UCC", "Unified", "MultiDomain", or both "Multi" and "Domain"
/// ("Multi-Domain", "Multi Domain").
fn is_multidomain_words(w: u32) -> bool {
    has(w, MULTI_ONE_WORD) || (has(w, MULTI) && has(w, DOMAIN))
}

fn name_wildcard(names: &[u32]) -> bool {
    names.iter().any(|&w| has(w, WILDCARD))
}

fn name_multidomain(names: &[u32]) -> bool {
    names.iter().any(|&w| is_multidomain_words(w))
}

/// The siteinfo values the derivation reads (the first pair of a key
/// counts), read in one pass without copying. `key=value, key=value`:
/// separators `,` `;` or new lines, keys case-insensitive, both sides
/// trimmed; parts without `=` and unknown keys are ignored.
#[derive(Default)]
struct SiteInfo<'a> {
    validation: Option<&'a str>,
    wildcard: Option<&'a str>,
    multidomain: Option<&'a str>,
    multidomain_wildcard: Option<&'a str>,
    orginfo: Option<&'a str>,
    www: Option<&'a str>,
    idn: Option<&'a str>,
    csraltname: Option<&'a str>,
    authemail: Option<&'a str>,
    authdnstxt: Option<&'a str>,
}

impl<'a> SiteInfo<'a> {
    fn read(siteinfo: Option<&'a str>) -> SiteInfo<'a> {
        let mut info = SiteInfo::default();
        // The separators are ASCII: split on bytes, no character decoding.
        let parts = siteinfo.into_iter().flat_map(|s| {
            s.as_bytes()
                .split(|b| matches!(b, b',' | b';' | b'\n'))
                .map(|part| {
                    // Between separators (or the ends): character boundaries.
                    let start = part.as_ptr() as usize - s.as_ptr() as usize;
                    &s[start..start + part.len()]
                })
        });
        for part in parts {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let Some((buf, len)) = lowered::<20>(k.trim()) else {
                continue;
            };
            let slot = match &buf[..len] {
                b"validation" => &mut info.validation,
                b"wildcard" => &mut info.wildcard,
                b"multidomain" => &mut info.multidomain,
                b"multidomain_wildcard" => &mut info.multidomain_wildcard,
                b"orginfo" => &mut info.orginfo,
                b"www" => &mut info.www,
                b"idn" => &mut info.idn,
                b"csraltname" => &mut info.csraltname,
                b"authemail" => &mut info.authemail,
                b"authdnstxt" => &mut info.authdnstxt,
                _ => continue,
            };
            slot.get_or_insert(v.trim());
        }
        info
    }
}

/// THE flag derivation (A-U14). Pure; unknown siteinfo keys are ignored.
pub fn derive(e: &FlagEvidence<'_>) -> (Validation, TemplateFlags) {
    let site = SiteInfo::read(e.siteinfo);
    let flag = |value: Option<&str>| value.and_then(yes_no);
    // Read lazily: with a full siteinfo the names are never looked at.
    let names = std::cell::OnceCell::new();
    let names = || -> &[u32] {
        names.get_or_init(|| {
            e.names
                .iter()
                .map(|n| keyword_mask(n))
                .collect::<Vec<u32>>()
        })
    };

    let validation = site
        .validation
        .and_then(validation_word)
        .or_else(|| name_validation(names()))
        .unwrap_or(Validation::Unknown);

    let wildcard = flag(site.wildcard).unwrap_or_else(|| name_wildcard(names()));
    let multidomain =
        flag(site.multidomain).unwrap_or_else(|| e.has_altname_addon || name_multidomain(names()));
    let multidomain_wildcard =
        flag(site.multidomain_wildcard).unwrap_or(multidomain && e.has_wildcard_altname_addon);
    let orginfo = flag(site.orginfo).unwrap_or(validation.needs_org());
    let dv_like = matches!(validation, Validation::Dv | Validation::Unknown);
    let flags = TemplateFlags {
        wildcard,
        www: flag(site.www).unwrap_or(false),
        multidomain,
        multidomain_wildcard,
        orginfo,
        idn: flag(site.idn).unwrap_or(false),
        csraltname: flag(site.csraltname).unwrap_or(false),
        authemail: flag(site.authemail).unwrap_or(dv_like),
        authdnstxt: flag(site.authdnstxt).unwrap_or(dv_like),
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
        let info = SiteInfo::read(Some(
            "validation = ov ; garbage, =x, Wildcard=YES\nidn=maybe, wildcard=no",
        ));
        assert_eq!(info.validation, Some("ov"));
        assert_eq!(info.wildcard, Some("YES"), "the first pair counts");
        assert_eq!(info.idn, Some("maybe"));
        assert_eq!(info.www, None);
        let (v, f) = derive(&ev(
            &["x"],
            Some("validation = ov ; garbage, Wildcard=YES\nidn=maybe"),
            false,
        ));
        assert_eq!(v, Validation::Ov);
        assert!(f.wildcard && f.orginfo && !f.idn);
    }

    /// Words are runs of Unicode letters and digits: a keyword glued to a
    /// non-ASCII letter is part of a longer word, one set off by non-ASCII
    /// punctuation is a word of its own.
    #[test]
    fn unicode_neighbours_decide_what_a_word_is() {
        for (name, wildcard) in [
            ("«Wildcard» SSL", true),
            ("Сертификат Wildcard", true),
            ("Сертификат—Wildcard", true),
            ("ДWildcard", false),
            ("Wildcardé", false),
            ("Wildcard²", false),
            ("wildcard", true),
            ("WILD", true),
            ("Wild1", false),
        ] {
            let (_, f) = derive(&ev(&[name], None, false));
            assert_eq!(f.wildcard, wildcard, "{name}");
        }
        let (v, _) = derive(&ev(&["Évssl", "Сертификат OV"], None, false));
        assert_eq!(v, Validation::Ov);
        let (_, f) = derive(&ev(&["Multi Сертификат Domain"], None, false));
        assert!(f.multidomain, "both words, anywhere in the name");
    }

    /// The word split this module used before [`keyword_mask`] (every word
    /// of every name, `char::is_alphanumeric` runs, compared with
    /// `eq_ignore_ascii_case`): the reference the one-pass masks must agree
    /// with.
    fn reference_masks(names: &[&str]) -> Vec<u32> {
        let groups: [(u32, &[&str]); 7] = [
            (EV, &["ev", "extended", "evssl"]),
            (OV, &["ov", "organization", "organisation", "business"]),
            (DV, &["dv"]),
            (DOMAIN, &["domain"]),
            (MULTI_ONE_WORD, &["san", "ucc", "unified", "multidomain"]),
            (MULTI, &["multi"]),
            (WILDCARD, &["wildcard", "wild"]),
        ];
        names
            .iter()
            .map(|n| {
                let words: Vec<&str> = n.split(|c: char| !c.is_alphanumeric()).collect();
                groups
                    .iter()
                    .filter(|(_, keys)| {
                        words
                            .iter()
                            .any(|w| keys.iter().any(|k| w.eq_ignore_ascii_case(k)))
                    })
                    .fold(0, |m, (bit, _)| m | bit)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn keyword_masks_match_the_word_split(
            names in proptest::collection::vec(
                "([ -/«»—²éДWwIiLlDdCcAaRrEeVvOoSsMmUuTtNnBb]|multi|domain|wild|card|ev|ov|dv|ssl){0,12}",
                1..3,
            )
        ) {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let masks: Vec<u32> = names.iter().map(|n| keyword_mask(n)).collect();
            proptest::prop_assert_eq!(masks, reference_masks(&names));
        }
    }

    /// The pairs as this module read them before [`SiteInfo`] (a `String`
    /// per key and value): the reference the one-pass reader must agree
    /// with, first pair of a key first.
    fn reference_pairs(siteinfo: &str) -> Vec<(String, String)> {
        siteinfo
            .split([',', ';', '\n'])
            .filter_map(|part| part.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .filter(|(k, _)| !k.is_empty())
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn siteinfo_reads_like_the_pairs(
            siteinfo in "(validation|wildcard|WWW|idn|multidomain_wildcard|authemail|=|,|;|\n| |yes|no|OV|ж|é)*"
        ) {
            let info = SiteInfo::read(Some(&siteinfo));
            let pairs = reference_pairs(&siteinfo);
            let first = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            for (key, got) in [
                ("validation", info.validation),
                ("wildcard", info.wildcard),
                ("www", info.www),
                ("idn", info.idn),
                ("multidomain_wildcard", info.multidomain_wildcard),
                ("authemail", info.authemail),
            ] {
                proptest::prop_assert_eq!(got, first(key), "{}", key);
            }
        }
    }
}
