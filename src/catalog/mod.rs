//! The upstream certificate catalog: the upstream's tariffs (from
//! `pricelist.export`, upstream-api.md §5) in one typed model, its cache under
//! `var/pmsslreseller/`, the certificate templates built from it for
//! `features` (module-protocol.md §12.2, §14.3) and the lookup `open` uses to
//! find the upstream tariff and period of a local tariff.
//!
//! The link local tariff → upstream tariff is the tariff's internal name:
//! template id = `pricelist.intname` = `ssl_<upstream tariff id>`
//! ([`template_id`], [`upstream_tariff_id`]).
//!
//! A model only: files under the BILLmanager root, no mgrctl, database or
//! network. Fetching it from the upstream is `commands::catalog_refresh`.

pub mod cache;
pub mod diff;
pub mod flags;
pub mod import_links;
pub mod parse;
pub mod stamp;
pub mod templates;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};
use crate::vocab::period::{self, OrderPeriod};

pub use parse::parse_export;

/// Prefix of every template id / local tariff intname.
pub const TEMPLATE_PREFIX: &str = "ssl_";

/// Version of the cache file layout written now. 2: template flags as one
/// summary string (`"www,authemail"`) instead of nine named booleans, which
/// were a third of the file and of the time to write and read it.
pub const CACHE_FORMAT: u32 = 2;

/// Cache layouts this version reads: format 1 differs only in how flags are
/// written, and [`flags_text`] reads both. A cache of any other version is
/// refetched.
pub const READABLE_CACHE_FORMATS: [u32; 2] = [1, CACHE_FORMAT];

/// Template id (= local tariff intname) for an upstream tariff id.
pub fn template_id(upstream_id: u64) -> String {
    format!("{TEMPLATE_PREFIX}{upstream_id}")
}

/// The upstream tariff id a local tariff intname stands for (`ssl_3033` → 3033).
pub fn upstream_tariff_id(intname: &str) -> Result<u64> {
    let shown = crate::quote::quote(intname);
    let digits = intname
        .trim()
        .strip_prefix(TEMPLATE_PREFIX)
        .ok_or_else(|| {
            ModuleError::value(
                "pricelist_intname",
                format!(
                    "the tariff's internal name '{shown}' is not a pmsslreseller template; \
                 it must be {TEMPLATE_PREFIX}<upstream tariff id>, e.g. {TEMPLATE_PREFIX}3033 \
                 (pick the template in the tariff plan settings)"
                ),
            )
            .with_param("value", shown.clone())
        })?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ModuleError::value(
            "pricelist_intname",
            format!("the tariff's internal name '{shown}' must be {TEMPLATE_PREFIX} followed by the upstream tariff id digits"),
        )
        .with_param("value", shown.clone()));
    }
    digits.parse::<u64>().map_err(|_| {
        ModuleError::value(
            "pricelist_intname",
            format!("the upstream tariff id in '{shown}' is too large"),
        )
        .with_param("value", shown.clone())
    })
}

/// Validation level of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    Dv,
    Ov,
    Ev,
    /// Nothing in the export says; treated like DV for the template flags.
    Unknown,
}

impl Validation {
    pub fn label(self) -> &'static str {
        match self {
            Validation::Dv => "DV",
            Validation::Ov => "OV",
            Validation::Ev => "EV",
            Validation::Unknown => "?",
        }
    }

    /// Organisation data is required (module-protocol.md §12.2 `orginfo`).
    pub fn needs_org(self) -> bool {
        matches!(self, Validation::Ov | Validation::Ev)
    }
}

/// The template flags of module-protocol.md §12.2 (`yes` or absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateFlags {
    pub wildcard: bool,
    pub www: bool,
    pub multidomain: bool,
    pub multidomain_wildcard: bool,
    pub orginfo: bool,
    pub idn: bool,
    pub csraltname: bool,
    pub authemail: bool,
    pub authdnstxt: bool,
}

impl TemplateFlags {
    /// (attribute name, value) in the fixed order the templates print them.
    pub fn attributes(&self) -> [(&'static str, bool); 9] {
        [
            ("wildcard", self.wildcard),
            ("www", self.www),
            ("multidomain", self.multidomain),
            ("multidomain_wildcard", self.multidomain_wildcard),
            ("orginfo", self.orginfo),
            ("idn", self.idn),
            ("csraltname", self.csraltname),
            ("authemail", self.authemail),
            ("authdnstxt", self.authdnstxt),
        ]
    }

    /// Short text for tables: the names of the flags that are on.
    pub fn summary(&self) -> String {
        let on: Vec<&str> = self
            .attributes()
            .iter()
            .filter(|(_, v)| *v)
            .map(|(n, _)| *n)
            .collect();
        on.join(",")
    }

    /// The flags of a [`TemplateFlags::summary`]; `None` for a name that is
    /// no flag (a view written by another version).
    pub fn from_summary(summary: &str) -> Option<TemplateFlags> {
        let mut flags = TemplateFlags::default();
        for name in summary.split(',').filter(|n| !n.is_empty()) {
            *flags.named(name)? = true;
        }
        Some(flags)
    }

    /// The flag called `name` (as in [`TemplateFlags::attributes`]).
    pub fn named(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "wildcard" => &mut self.wildcard,
            "www" => &mut self.www,
            "multidomain" => &mut self.multidomain,
            "multidomain_wildcard" => &mut self.multidomain_wildcard,
            "orginfo" => &mut self.orginfo,
            "idn" => &mut self.idn,
            "csraltname" => &mut self.csraltname,
            "authemail" => &mut self.authemail,
            "authdnstxt" => &mut self.authdnstxt,
            _ => return None,
        })
    }
}

/// Template flags in a cache file: written as their summary
/// (`"wildcard,www"`), read from that or from the nine named booleans of a
/// format-1 cache.
pub mod flags_text {
    use serde::de::{self, Deserializer, MapAccess, Visitor};
    use serde::Serializer;

    use super::TemplateFlags;

    pub fn serialize<S: Serializer>(flags: &TemplateFlags, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&flags.summary())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TemplateFlags, D::Error> {
        d.deserialize_any(FlagsVisitor)
    }

    struct FlagsVisitor;

    impl<'de> Visitor<'de> for FlagsVisitor {
        type Value = TemplateFlags;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("template flags: a summary string or an object of booleans")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<TemplateFlags, E> {
            TemplateFlags::from_summary(text)
                .ok_or_else(|| E::custom(format!("unknown template flag in '{text}'")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TemplateFlags, A::Error> {
            let mut flags = TemplateFlags::default();
            while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                let on: bool = map.next_value()?;
                // A format-1 cache ignored unknown names too.
                if let Some(slot) = flags.named(&name) {
                    *slot = on;
                }
            }
            Ok(flags)
        }
    }
}

/// Period `length` the upstream uses for a trial (upstream-api.md §5; the
/// special periods are kept in `vocab::period`).
pub const TRIAL_LENGTH: i64 = period::TRIAL;

/// One price of a tariff: `price[@currency]/period[@type][@length][@cost]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub currency: String,
    /// `type` attribute, normally `month`.
    pub kind: String,
    /// `length`: months for `month`; -100 trial, -50 day, 0 lifetime.
    pub length: i64,
    /// `None` for `cost=""`: the period exists but is not sold.
    pub cost: Option<Decimal>,
}

impl Period {
    /// Whole months, for a regular (non-trial) monthly period.
    pub fn months(&self) -> Option<u32> {
        if self.kind == "month" && self.length > 0 {
            u32::try_from(self.length).ok()
        } else {
            None
        }
    }

    pub fn is_trial(&self) -> bool {
        self.length == TRIAL_LENGTH
    }

    /// A price the upstream really sells: monthly, not trial, with a cost.
    pub fn is_sold(&self) -> bool {
        self.months().is_some() && self.cost.is_some()
    }

    /// "12 mo", "trial", "day", …: for tables.
    pub fn label(&self) -> String {
        period_label(&self.kind, self.length)
    }
}

/// The [`Period::label`] of a period of type `kind` and `length`.
pub fn period_label(kind: &str, length: i64) -> String {
    match (kind, length) {
        (_, TRIAL_LENGTH) => "trial".into(),
        ("month", n) if n > 0 => format!("{n} mo"),
        (_, period::DAILY) => "day".into(),
        (_, period::LIFETIME) => "lifetime".into(),
        (k, n) => format!("{k} {n}"),
    }
}

/// The SAN add-on of a multi-domain tariff (`addon` with intname `altname`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AltnameAddon {
    pub id: Option<u64>,
    pub intname: String,
    /// `<name>` / `<name_ru>` of the add-on (absent in caches written before
    /// the import wizard needed them).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub name_ru: Option<String>,
    /// `addonmin`: names included in the base price / minimum.
    pub min: Option<u64>,
    /// `addonlimit` (or `addonmax`): most names one certificate may carry.
    pub limit: Option<u64>,
    /// The add-on covers wildcard names.
    pub wildcard: bool,
    pub periods: Vec<Period>,
    /// The choices of an enumerated add-on (`addontype` 3), when the
    /// upstream sells SAN slots as packages rather than a count.
    #[serde(default)]
    pub enumeration: Vec<EnumItem>,
}

impl AltnameAddon {
    /// The upstream cost of one SAN for `period`. UNCONFIRMED
    /// (upstream-api.md SIM-10, the simulator's rule): the upstream charges
    /// each SAN of an order or renewal at the add-on's price for the same
    /// period, `addonmin` included; the ledger's expected cost follows it
    /// (commands/lifecycle/books.rs), and the charge check names SAN slots
    /// among the suspects where this is wrong.
    pub fn period_cost(&self, period: OrderPeriod) -> Option<Decimal> {
        self.periods
            .iter()
            .find(|p| match period {
                OrderPeriod::Months(m) => p.months() == Some(m),
                OrderPeriod::Trial => p.length == period::TRIAL,
            })
            .and_then(|p| p.cost)
    }
}

/// One choice of an enumerated add-on
/// (`addon/enumeration/enumerationitem`, upstream-api.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumItem {
    pub id: Option<u64>,
    pub intname: Option<String>,
    pub name: Option<String>,
    pub periods: Vec<Period>,
}

/// One upstream certificate tariff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    pub id: u64,
    /// `<name>` (the upstream's language for this account).
    pub name: String,
    pub name_ru: Option<String>,
    pub name_en: Option<String>,
    pub validation: Validation,
    #[serde(with = "flags_text")]
    pub flags: TemplateFlags,
    /// SAN add-ons (usually one; a second one may cover wildcard names).
    pub altnames: Vec<AltnameAddon>,
    pub periods: Vec<Period>,
    /// Orderable: active, not archived, not hidden from ordering.
    pub available: bool,
    /// Raw `<siteinfo>`, kept for the admin and for re-deriving flags.
    pub siteinfo: Option<String>,
}

impl Tariff {
    pub fn template_id(&self) -> String {
        template_id(self.id)
    }

    pub fn display_name_en(&self) -> &str {
        self.name_en.as_deref().unwrap_or(&self.name)
    }

    pub fn display_name_ru(&self) -> &str {
        self.name_ru.as_deref().unwrap_or(&self.name)
    }

    /// The sold period of `months` months (first currency listed wins).
    pub fn sold_period(&self, months: u32) -> Option<&Period> {
        self.periods
            .iter()
            .find(|p| p.is_sold() && p.months() == Some(months))
    }

    /// The tariff's trial, when the upstream sells one (a trial period with
    /// a cost, usually 0; `cost=""` is listed but not sold).
    pub fn trial(&self) -> Option<&Period> {
        self.periods
            .iter()
            .find(|p| p.is_trial() && p.cost.is_some())
    }

    /// The wanted period as the tariff sells it.
    pub fn order_period(&self, period: OrderPeriod) -> Option<&Period> {
        match period {
            OrderPeriod::Months(m) => self.sold_period(m),
            OrderPeriod::Trial => self.trial(),
        }
    }
}

/// A `<pricelist>` of the export that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// 1-based position among the export's `<pricelist>` elements.
    pub position: usize,
    pub id: Option<String>,
    pub reason: String,
}

/// The upstream's certificate tariffs as seen by one processing module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub format: u32,
    /// `processingmodule.id` whose upstream this is.
    pub module_id: u64,
    /// When the export was fetched, RFC 3339 UTC.
    pub fetched_at: String,
    /// Sorted by id, ids unique.
    pub tariffs: Vec<Tariff>,
    pub skipped: Vec<Skipped>,
    /// Problems inside taken tariffs (a period with a bad cost, …).
    pub warnings: Vec<String>,
}

impl Catalog {
    pub fn tariff(&self, id: u64) -> Option<&Tariff> {
        self.tariffs
            .binary_search_by_key(&id, |t| t.id)
            .ok()
            .map(|i| &self.tariffs[i])
    }
}

/// What `open` needs to order: the upstream tariff and period of a local
/// tariff, checked against the cached catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerms {
    pub module_id: u64,
    pub upstream_tariff: u64,
    pub period: OrderPeriod,
    /// Upstream cost of that period when the catalog was fetched.
    pub cost: Decimal,
    pub currency: String,
    pub tariff_name: String,
    pub flags: TemplateFlags,
    pub validation: Validation,
    /// Largest number of SANs, when the tariff has an `altname` add-on limit.
    pub altname_limit: Option<u64>,
    /// Upstream cost of one SAN for the same period, when the tariff sells a
    /// SAN add-on for it ([`AltnameAddon::period_cost`]).
    pub altname_cost: Option<Decimal>,
    /// When the catalog was fetched (for the log).
    pub fetched_at: String,
}

impl Catalog {
    /// Upstream tariff and period for a local tariff intname and a period in
    /// months, or a clear error saying what the admin must do.
    pub fn order_terms(&self, intname: &str, period_months: u32) -> Result<OrderTerms> {
        self.order_terms_for(
            upstream_tariff_id(intname)?,
            intname,
            OrderPeriod::Months(period_months),
        )
    }

    /// [`Catalog::order_terms`] for a local tariff already linked to upstream
    /// tariff `id` (`intname` only names the local tariff in messages), for
    /// whole months or the tariff's trial.
    pub fn order_terms_for(
        &self,
        id: u64,
        intname: &str,
        period: OrderPeriod,
    ) -> Result<OrderTerms> {
        let hint = format!(
            "run `pmsslreseller catalog refresh --module {}` and check the tariff",
            self.module_id
        );
        let tariff = self.tariff(id).ok_or_else(|| {
            ModuleError::new(
                ErrorKind::Config,
                format!(
                    "upstream tariff {id} ({intname}) is not in the upstream catalog of processing module {} (fetched {}); {hint}",
                    self.module_id, self.fetched_at
                ),
            )
            .with_object(intname.to_string())
        })?;
        if !tariff.available {
            log::warn!(
                "upstream tariff {id} ({}) is archived or hidden upstream; ordering anyway",
                tariff.name
            );
        }
        let sold = tariff.order_period(period).ok_or_else(|| {
            let sold: Vec<String> = tariff
                .periods
                .iter()
                .filter(|p| p.is_sold())
                .filter_map(|p| p.months())
                .map(|m| m.to_string())
                .collect();
            let sold = if sold.is_empty() {
                "none".to_string()
            } else {
                sold.join(", ")
            };
            let what = match period {
                OrderPeriod::Months(m) => format!("is not sold for {m} months"),
                OrderPeriod::Trial => "sells no trial".to_string(),
            };
            ModuleError::value(
                "period",
                format!(
                    "upstream tariff {id} ({}) {what} (sold: {sold} months); \
                     change the local tariff's periods or {hint}",
                    tariff.name,
                ),
            )
            .with_param("value", period.wire().to_string())
        })?;
        Ok(OrderTerms {
            module_id: self.module_id,
            upstream_tariff: id,
            period,
            // order_period() finds only periods with a cost; Decimal::ZERO is
            // never reached.
            cost: sold.cost.unwrap_or(Decimal::ZERO),
            currency: sold.currency.clone(),
            tariff_name: tariff.name.clone(),
            flags: tariff.flags,
            validation: tariff.validation,
            altname_limit: tariff.altnames.iter().filter_map(|a| a.limit).max(),
            altname_cost: tariff.altnames.iter().find_map(|a| a.period_cost(period)),
            fetched_at: self.fetched_at.clone(),
        })
    }
}

/// For `open`: look up (local tariff intname, period in months) in the cached
/// catalog of `module_id`. Reads only the cache file: no network, no DB.
pub fn lookup_order_terms(
    root: &MgrRoot,
    module_id: u64,
    intname: &str,
    period_months: u32,
) -> Result<OrderTerms> {
    let catalog = cache::load_required(root, module_id)?;
    catalog.order_terms(intname, period_months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_terms_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let root = MgrRoot::new(dir.path());
        let xml = r#"<doc><pricelist><id>3033</id><name>Positive</name>
            <price currency="EUR"><period cost="7.50" type="month" length="12"/><period cost="" type="month" length="24"/></price>
            <addon><intname>altname</intname><addonlimit>10</addonlimit></addon></pricelist></doc>"#;
        let e = lookup_order_terms(&root, 4, "ssl_3033", 12).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(
            e.message.contains("catalog refresh --module 4"),
            "{}",
            e.message
        );
        cache::save(
            &root,
            &parse_export(xml, 4, "2026-11-26T12:00:00Z").unwrap(),
        )
        .unwrap();
        let t = lookup_order_terms(&root, 4, "ssl_3033", 12).unwrap();
        assert_eq!(
            (t.upstream_tariff, t.period, t.currency.as_str()),
            (3033, OrderPeriod::Months(12), "EUR")
        );
        assert_eq!(t.cost, "7.5".parse().unwrap());
        assert_eq!(t.altname_limit, Some(10));
        assert!(t.flags.multidomain);
        let e = lookup_order_terms(&root, 4, "ssl_3033", 24).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Value);
        assert!(e.message.contains("sold: 12 months"), "{}", e.message);
        let e = lookup_order_terms(&root, 4, "ssl_1", 12).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        let e = lookup_order_terms(&root, 4, "op_31", 12).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Value);
    }

    #[test]
    fn template_id_round_trip() {
        assert_eq!(template_id(3033), "ssl_3033");
        assert_eq!(upstream_tariff_id("ssl_3033").unwrap(), 3033);
        assert_eq!(
            upstream_tariff_id(&template_id(u64::MAX)).unwrap(),
            u64::MAX
        );
    }

    #[test]
    fn bad_intnames_are_value_errors() {
        for bad in [
            "",
            "ssl_",
            "3033",
            "ssl_-1",
            "ssl_12a",
            "op_31",
            "ssl_99999999999999999999",
            "SSL_1",
        ] {
            let e = upstream_tariff_id(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Value, "{bad}");
            assert_eq!(e.object.as_deref(), Some("pricelist_intname"));
        }
    }

    #[test]
    fn period_semantics() {
        let p = |kind: &str, length, cost: Option<&str>| Period {
            currency: "EUR".into(),
            kind: kind.into(),
            length,
            cost: cost.map(|c| c.parse().unwrap()),
        };
        assert_eq!(p("month", 12, Some("1")).months(), Some(12));
        assert!(p("month", 12, Some("1")).is_sold());
        assert!(!p("month", 12, None).is_sold());
        assert!(p("month", -100, Some("0")).is_trial());
        assert!(!p("month", -100, Some("0")).is_sold());
        assert_eq!(p("month", -100, None).label(), "trial");
        assert_eq!(p("day", 1, Some("1")).months(), None);
    }
}
