//! The fields of a `pricelist.export` document as written: borrowed text,
//! nothing typed yet. [`reader`](super::reader) fills them, [`tariff`](super::tariff)
//! types them.

use std::borrow::Cow;

use crate::catalog::{Skipped, Tariff};

/// `<price currency=…>` with its periods' attributes, as written.
#[derive(Default)]
pub(super) struct RawPrice<'a> {
    pub(super) currency: Field<'a>,
    pub(super) periods: Vec<RawPeriod<'a>>,
}

/// `<period length=… type=… cost=…>`, as written.
#[derive(Default)]
pub(super) struct RawPeriod<'a> {
    pub(super) length: Field<'a>,
    pub(super) kind: Field<'a>,
    pub(super) cost: Field<'a>,
}

/// One `<addon>`, as written.
#[derive(Default)]
pub(super) struct RawAddon<'a> {
    pub(super) intname: Field<'a>,
    pub(super) name: Field<'a>,
    pub(super) name_ru: Field<'a>,
    pub(super) info_seen: bool,
    pub(super) info_intname: Field<'a>,
    pub(super) id: Field<'a>,
    pub(super) addonmin: Field<'a>,
    pub(super) addonlimit: Field<'a>,
    pub(super) addonmax: Field<'a>,
    pub(super) prices: Vec<RawPrice<'a>>,
    /// `enumeration/enumerationitem`, of every `<enumeration>`.
    pub(super) choices: Vec<RawChoice<'a>>,
}

/// One `<enumerationitem>` of an add-on, as written.
#[derive(Default)]
pub(super) struct RawChoice<'a> {
    pub(super) id: Field<'a>,
    pub(super) intname: Field<'a>,
    pub(super) name: Field<'a>,
    pub(super) prices: Vec<RawPrice<'a>>,
}

/// One `<pricelist>`, as written.
#[derive(Default)]
pub(super) struct RawTariff<'a> {
    pub(super) id: Field<'a>,
    pub(super) name: Field<'a>,
    pub(super) name_ru: Field<'a>,
    pub(super) name_en: Field<'a>,
    pub(super) itemtype: Field<'a>,
    pub(super) info_seen: bool,
    pub(super) info_intname: Field<'a>,
    pub(super) active: Field<'a>,
    pub(super) archived: Field<'a>,
    pub(super) hideinorder: Field<'a>,
    pub(super) siteinfo: Field<'a>,
    pub(super) prices: Vec<RawPrice<'a>>,
    pub(super) addons: Vec<RawAddon<'a>>,
}

/// What the document holds: its tariffs, each typed as soon as its
/// `</pricelist>` is read (with its 1-based position), the ones skipped and
/// why, the warnings, and its first `<error>` (type, msg).
#[derive(Default)]
pub(super) struct RawDocument {
    pub(super) tariffs: Vec<(usize, Tariff)>,
    pub(super) skipped: Vec<Skipped>,
    pub(super) warnings: Vec<String>,
    pub(super) error: Option<(String, String)>,
}

/// A text or attribute value as written: borrowed from the input unless it
/// had to be unescaped or joined (no copy for most values).
pub(super) type Field<'a> = Option<Cow<'a, str>>;

/// Append a piece of an element's text to its field.
pub(super) fn append<'a>(field: &mut Field<'a>, piece: Cow<'a, str>) {
    match field {
        Some(text) if text.is_empty() => *text = piece,
        Some(text) => text.to_mut().push_str(&piece),
        None => *field = Some(piece),
    }
}

/// The trimmed text of a field, `None` when absent or blank (`child_text`).
pub(super) fn text_of<'f>(field: &'f Field<'_>) -> Option<&'f str> {
    field.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl<'a> RawTariff<'a> {
    /// Empty again, keeping the vectors' room for the next `<pricelist>`.
    pub(super) fn clear(&mut self) {
        let RawTariff {
            id,
            name,
            name_ru,
            name_en,
            itemtype,
            info_seen,
            info_intname,
            active,
            archived,
            hideinorder,
            siteinfo,
            prices,
            addons,
        } = self;
        for field in [
            id,
            name,
            name_ru,
            name_en,
            itemtype,
            info_intname,
            active,
            archived,
            hideinorder,
            siteinfo,
        ] {
            *field = None;
        }
        *info_seen = false;
        prices.clear();
        addons.clear();
    }
}
