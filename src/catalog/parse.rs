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
use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

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

// ---------------------------------------------------------------------------
// Reading the document: quick-xml events straight into the raw tariff fields
// below, with no element tree (measured: building and freeing a tree of
// 100,000 nodes was most of the time). Only the elements read are kept; the
// rest is skipped, still checked for well-formedness by quick-xml. The rules
// are those of `xmltree`: the first child of a name counts, an element's text
// is its own direct text, trimmed, blank meaning absent.

/// `<price currency=…>` with its periods' attributes, as written.
#[derive(Default)]
struct RawPrice<'a> {
    currency: Field<'a>,
    periods: Vec<RawPeriod<'a>>,
}

/// `<period length=… type=… cost=…>`, as written.
#[derive(Default)]
struct RawPeriod<'a> {
    length: Field<'a>,
    kind: Field<'a>,
    cost: Field<'a>,
}

/// One `<addon>`, as written.
#[derive(Default)]
struct RawAddon<'a> {
    intname: Field<'a>,
    name: Field<'a>,
    name_ru: Field<'a>,
    info_seen: bool,
    info_intname: Field<'a>,
    id: Field<'a>,
    addonmin: Field<'a>,
    addonlimit: Field<'a>,
    addonmax: Field<'a>,
    prices: Vec<RawPrice<'a>>,
    /// `enumeration/enumerationitem`, of every `<enumeration>`.
    choices: Vec<RawChoice<'a>>,
}

/// One `<enumerationitem>` of an add-on, as written.
#[derive(Default)]
struct RawChoice<'a> {
    id: Field<'a>,
    intname: Field<'a>,
    name: Field<'a>,
    prices: Vec<RawPrice<'a>>,
}

/// One `<pricelist>`, as written.
#[derive(Default)]
struct RawTariff<'a> {
    id: Field<'a>,
    name: Field<'a>,
    name_ru: Field<'a>,
    name_en: Field<'a>,
    itemtype: Field<'a>,
    info_seen: bool,
    info_intname: Field<'a>,
    active: Field<'a>,
    archived: Field<'a>,
    hideinorder: Field<'a>,
    siteinfo: Field<'a>,
    prices: Vec<RawPrice<'a>>,
    addons: Vec<RawAddon<'a>>,
}

/// What the document holds: its tariffs, each typed as soon as its
/// `</pricelist>` is read (with its 1-based position), the ones skipped and
/// why, the warnings, and its first `<error>` (type, msg).
#[derive(Default)]
struct RawDocument {
    tariffs: Vec<(usize, Tariff)>,
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    error: Option<(String, String)>,
}

/// A text or attribute value as written: borrowed from the input unless it
/// had to be unescaped or joined (no copy for most values).
type Field<'a> = Option<Cow<'a, str>>;

/// Append a piece of an element's text to its field.
fn append<'a>(field: &mut Field<'a>, piece: Cow<'a, str>) {
    match field {
        Some(text) if text.is_empty() => *text = piece,
        Some(text) => text.to_mut().push_str(&piece),
        None => *field = Some(piece),
    }
}

/// The trimmed text of a field, `None` when absent or blank (`child_text`).
fn text_of<'f>(field: &'f Field<'_>) -> Option<&'f str> {
    field.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Where the text of the element being read goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Tariff(TariffField),
    Addon(AddonField),
    Choice(ChoiceField),
    TariffInfoIntname,
    AddonInfoIntname,
    ErrorMsg,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TariffField {
    Id,
    Name,
    NameRu,
    NameEn,
    Itemtype,
    Active,
    Archived,
    Hideinorder,
    Siteinfo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AddonField {
    Intname,
    Name,
    NameRu,
    Id,
    Min,
    Limit,
    Max,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChoiceField {
    Id,
    Intname,
    Name,
}

/// The element being read, by what it means here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Doc,
    Error,
    Tariff,
    TariffInfo,
    TariffPrice,
    Addon,
    AddonInfo,
    AddonPrice,
    AddonEnumeration,
    Choice,
    ChoicePrice,
    /// An element whose text is kept.
    Text(Slot),
    /// Anything else; its subtree is read past.
    Skip,
}

impl<'a> RawTariff<'a> {
    /// Empty again, keeping the vectors' room for the next `<pricelist>`.
    fn clear(&mut self) {
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

    fn field(&mut self, f: TariffField) -> &mut Field<'a> {
        match f {
            TariffField::Id => &mut self.id,
            TariffField::Name => &mut self.name,
            TariffField::NameRu => &mut self.name_ru,
            TariffField::NameEn => &mut self.name_en,
            TariffField::Itemtype => &mut self.itemtype,
            TariffField::Active => &mut self.active,
            TariffField::Archived => &mut self.archived,
            TariffField::Hideinorder => &mut self.hideinorder,
            TariffField::Siteinfo => &mut self.siteinfo,
        }
    }
}

impl<'a> RawAddon<'a> {
    fn field(&mut self, f: AddonField) -> &mut Field<'a> {
        match f {
            AddonField::Intname => &mut self.intname,
            AddonField::Name => &mut self.name,
            AddonField::NameRu => &mut self.name_ru,
            AddonField::Id => &mut self.id,
            AddonField::Min => &mut self.addonmin,
            AddonField::Limit => &mut self.addonlimit,
            AddonField::Max => &mut self.addonmax,
        }
    }
}

impl<'a> RawChoice<'a> {
    fn field(&mut self, f: ChoiceField) -> &mut Field<'a> {
        match f {
            ChoiceField::Id => &mut self.id,
            ChoiceField::Intname => &mut self.intname,
            ChoiceField::Name => &mut self.name,
        }
    }
}

/// The reader's state: the open elements and what has been read.
struct DocReader<'a> {
    /// The whole input, which the values borrow from.
    text: &'a str,
    stack: Vec<Frame>,
    /// Where the name of every open element is in the input, for the
    /// "truncated" message only (no allocation per element).
    open_names: Vec<std::ops::Range<usize>>,
    /// The `<pricelist>` being read (one at a time: typed at its end tag,
    /// then reused, so 5,000 raw tariffs are never held at once).
    tariff: RawTariff<'a>,
    /// How many `<pricelist>` elements were opened so far.
    position: usize,
    doc: RawDocument,
    error_msg: Field<'a>,
    error_type: Option<String>,
}

impl<'a> DocReader<'a> {
    fn tariff(&mut self) -> &mut RawTariff<'a> {
        &mut self.tariff
    }

    /// The `<pricelist>` just closed, typed into the document (or skipped
    /// with its reason).
    fn finish_tariff(&mut self) {
        match tariff_from(&self.tariff, &mut self.doc.warnings) {
            Ok(t) => self.doc.tariffs.push((self.position, t)),
            Err(reason) => self.doc.skipped.push(Skipped {
                position: self.position,
                id: text_of(&self.tariff.id).map(str::to_string),
                reason,
            }),
        }
        self.tariff.clear();
    }

    fn addon(&mut self) -> &mut RawAddon<'a> {
        self.tariff().addons.last_mut().expect("inside an <addon>")
    }

    fn choice(&mut self) -> &mut RawChoice<'a> {
        self.addon()
            .choices
            .last_mut()
            .expect("inside an <enumerationitem>")
    }

    /// The frame for a text element: its field made present (first
    /// occurrence), or `Skip` when a field of that name was already read (a
    /// later duplicate is ignored, as `child_text` would).
    fn open_slot(&mut self, slot: Slot) -> Frame {
        let field = self.slot(slot);
        if field.is_some() {
            return Frame::Skip;
        }
        *field = Some(Cow::Borrowed(""));
        Frame::Text(slot)
    }

    /// The field a text slot stands for.
    fn slot(&mut self, slot: Slot) -> &mut Field<'a> {
        let field = match slot {
            Slot::Tariff(f) => self.tariff().field(f),
            Slot::Addon(f) => self.addon().field(f),
            Slot::Choice(f) => self.choice().field(f),
            Slot::TariffInfoIntname => &mut self.tariff().info_intname,
            Slot::AddonInfoIntname => &mut self.addon().info_intname,
            Slot::ErrorMsg => &mut self.error_msg,
        };
        field
    }

    /// The frame for element `name` (with its start tag `e`) inside `parent`.
    fn enter(&mut self, parent: Option<Frame>, name: &[u8], e: &BytesStart<'_>) -> Result<Frame> {
        use AddonField as A;
        use ChoiceField as C;
        use TariffField as T;
        Ok(match (parent, name) {
            (None, b"doc") => Frame::Doc,
            (None, other) => {
                return Err(bad_export(format!(
                    "not a BILLmanager answer: the root element is <{}> instead of <doc> (an HTML page? check the URL)",
                    shown(other)
                )))
            }
            (Some(Frame::Doc), b"pricelist") => {
                self.position += 1;
                Frame::Tariff
            }
            (Some(Frame::Doc), b"error") if self.error_type.is_none() => {
                let [kind] = attrs(self.text, e, [b"type"])?;
                self.error_type = Some(kind.map(Cow::into_owned).unwrap_or_else(|| "unknown".into()));
                Frame::Error
            }
            (Some(Frame::Error), b"msg") => self.open_slot(Slot::ErrorMsg),
            (Some(Frame::Tariff), field) => match field {
                b"id" => self.open_slot(Slot::Tariff(T::Id)),
                b"name" => self.open_slot(Slot::Tariff(T::Name)),
                b"name_ru" => self.open_slot(Slot::Tariff(T::NameRu)),
                b"name_en" => self.open_slot(Slot::Tariff(T::NameEn)),
                b"itemtype" => self.open_slot(Slot::Tariff(T::Itemtype)),
                b"active" => self.open_slot(Slot::Tariff(T::Active)),
                b"archived" => self.open_slot(Slot::Tariff(T::Archived)),
                b"hideinorder" => self.open_slot(Slot::Tariff(T::Hideinorder)),
                b"siteinfo" => self.open_slot(Slot::Tariff(T::Siteinfo)),
                b"itemtype_info" if !self.tariff().info_seen => {
                    self.tariff().info_seen = true;
                    Frame::TariffInfo
                }
                b"price" => {
                    let [currency] = attrs(self.text, e, [b"currency"])?;
                    self.tariff().prices.push(RawPrice {
                        currency,
                        periods: Vec::new(),
                    });
                    Frame::TariffPrice
                }
                b"addon" => {
                    self.tariff().addons.push(RawAddon::default());
                    Frame::Addon
                }
                _ => Frame::Skip,
            },
            (Some(Frame::TariffInfo), b"intname") => self.open_slot(Slot::TariffInfoIntname),
            (Some(Frame::Addon), field) => match field {
                b"intname" => self.open_slot(Slot::Addon(A::Intname)),
                b"name" => self.open_slot(Slot::Addon(A::Name)),
                b"name_ru" => self.open_slot(Slot::Addon(A::NameRu)),
                b"enumeration" => Frame::AddonEnumeration,
                b"id" => self.open_slot(Slot::Addon(A::Id)),
                b"addonmin" => self.open_slot(Slot::Addon(A::Min)),
                b"addonlimit" => self.open_slot(Slot::Addon(A::Limit)),
                b"addonmax" => self.open_slot(Slot::Addon(A::Max)),
                b"addon_itemtype_info" if !self.addon().info_seen => {
                    self.addon().info_seen = true;
                    Frame::AddonInfo
                }
                b"price" => {
                    let [currency] = attrs(self.text, e, [b"currency"])?;
                    self.addon().prices.push(RawPrice {
                        currency,
                        periods: Vec::new(),
                    });
                    Frame::AddonPrice
                }
                _ => Frame::Skip,
            },
            (Some(Frame::AddonInfo), b"intname") => self.open_slot(Slot::AddonInfoIntname),
            (Some(Frame::AddonEnumeration), b"enumerationitem") => {
                self.addon().choices.push(RawChoice::default());
                Frame::Choice
            }
            (Some(Frame::Choice), field) => match field {
                b"id" => self.open_slot(Slot::Choice(C::Id)),
                b"intname" => self.open_slot(Slot::Choice(C::Intname)),
                b"name" => self.open_slot(Slot::Choice(C::Name)),
                b"price" => {
                    let [currency] = attrs(self.text, e, [b"currency"])?;
                    self.choice().prices.push(RawPrice {
                        currency,
                        periods: Vec::new(),
                    });
                    Frame::ChoicePrice
                }
                _ => Frame::Skip,
            },
            (Some(price @ (Frame::TariffPrice | Frame::AddonPrice | Frame::ChoicePrice)), b"period") => {
                let [length, kind, cost] = attrs(self.text, e, [b"length", b"type", b"cost"])?;
                let period = RawPeriod { length, kind, cost };
                let prices = match price {
                    Frame::TariffPrice => &mut self.tariff().prices,
                    Frame::AddonPrice => &mut self.addon().prices,
                    _ => &mut self.choice().prices,
                };
                if let Some(p) = prices.last_mut() {
                    p.periods.push(period);
                }
                Frame::Skip
            }
            _ => Frame::Skip,
        })
    }
}

/// Deeper nesting than this is not a price list (the `xmltree` limit).
const MAX_DEPTH: usize = crate::xmltree::MAX_DEPTH;

/// A name for a message: short, without control characters.
fn shown(name: &[u8]) -> String {
    crate::logging::shorten(&String::from_utf8_lossy(name), 40)
}

/// Where `part` (a slice quick-xml borrowed from `text`) lies in `text`;
/// empty when it is not inside it.
fn span_in(text: &str, part: &[u8]) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= text.len() => start..end,
        _ => 0..0,
    }
}

/// The unescaped text of `raw`, bytes quick-xml read from `text`: borrowed
/// from `text` unless an entity had to be replaced. The input is a `&str`,
/// so its bytes are not checked as UTF-8 a second time, and the entity scan
/// runs only when there is a `&` (measured: decoding every text and
/// attribute value again cost a tenth of the parse). `Err` is the detail.
fn unescaped<'a>(text: &'a str, raw: &[u8]) -> std::result::Result<Cow<'a, str>, String> {
    let value: Cow<'a, str> = match text
        .get(span_in(text, raw))
        .filter(|s| s.len() == raw.len())
    {
        // Always, with `Reader::from_str`.
        Some(within) => Cow::Borrowed(within),
        None => Cow::Owned(
            std::str::from_utf8(raw)
                .map_err(|e| e.to_string())?
                .to_string(),
        ),
    };
    if !value.contains('&') {
        return Ok(value);
    }
    let detail = |e: quick_xml::escape::EscapeError| crate::logging::shorten(&e.to_string(), 300);
    match value {
        Cow::Borrowed(v) => quick_xml::escape::unescape(v).map_err(detail),
        Cow::Owned(v) => Ok(Cow::Owned(
            quick_xml::escape::unescape(&v)
                .map_err(detail)?
                .into_owned(),
        )),
    }
}

/// The unescaped text of a text event, as [`unescaped`].
fn text_value<'a>(text: &'a str, raw: &[u8]) -> Result<Cow<'a, str>> {
    unescaped(text, raw).map_err(|detail| bad_export(format!("bad text: {detail}")))
}

/// The unescaped values of the first attributes named `keys` of `e`, in one
/// pass over its attributes, borrowed from `text` where nothing needed
/// unescaping. Checked attributes are off on purpose: quick-xml's duplicate
/// check is quadratic in the attribute count (a hostile peer's weapon); the first one wins.
fn attrs<'a, const N: usize>(
    text: &'a str,
    e: &BytesStart<'_>,
    keys: [&[u8]; N],
) -> Result<[Field<'a>; N]> {
    let raw = e.attributes_raw();
    if raw.is_empty() {
        return Ok(std::array::from_fn(|_| None));
    }
    let mut out: [Field<'a>; N] = std::array::from_fn(|_| None);
    let mut left = N;
    for a in e.attributes().with_checks(false) {
        let name = || shown(e.name().as_ref());
        let a = a.map_err(|err| bad_export(format!("bad attribute in <{}>: {err}", name())))?;
        let Some(i) = keys.iter().position(|k| *k == a.key.as_ref()) else {
            continue;
        };
        if out[i].is_some() {
            continue;
        }
        let value = unescaped(text, &a.value).map_err(|detail| {
            bad_export(format!("bad attribute value in <{}>: {detail}", name()))
        })?;
        out[i] = Some(value);
        left -= 1;
        if left == 0 {
            break;
        }
    }
    Ok(out)
}

/// The whole document into [`RawDocument`]; any XML error is an error (a
/// broken export never replaces a good cache). A large one is read in two
/// halves on two threads ([`read_halves`]), with the same result.
fn read_document(text: &str) -> Result<RawDocument> {
    if let Some(at) = split_point(text, SPLIT_MIN_BYTES) {
        if let Some(doc) = read_halves(text, at) {
            return Ok(doc);
        }
    }
    read_whole(text)
}

/// Below this a document is read on one thread: a second one would cost
/// more than it saves.
const SPLIT_MIN_BYTES: usize = 256 * 1024;

/// Where a document of at least `min` bytes may be cut in two: the first
/// `<pricelist` tag from its middle on. Only a candidate: [`read_halves`]
/// checks that the first half really ends between two top-level elements.
fn split_point(text: &str, min: usize) -> Option<usize> {
    if text.len() < min {
        return None;
    }
    let mut from = text.len() / 2;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    const TAG: &str = "<pricelist";
    loop {
        let at = from + text.get(from..)?.find(TAG)?;
        let after = text.as_bytes().get(at + TAG.len()).copied();
        if matches!(after, Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r')) {
            return Some(at);
        }
        from = at + TAG.len();
    }
}

/// The document read as two halves at `at`, one on a second thread
/// (measured: the parse was half of a changed catalog refresh): the first half up
/// to `at`, the second from `at` on as if inside the root element. `None`
/// unless both halves were read without error and the first ended exactly
/// inside the root, between two of its children, as a reading of the whole
/// would have been at `at`; then the caller reads the whole document (which
/// also gives any error its exact wording and position). The halves' events
/// are the whole's, so the result is the one [`read_whole`] gives: the
/// second half's tariffs and skipped entries renumbered after the first
/// half's, warnings in document order, the first `<error>` of the two.
fn read_halves(text: &str, at: usize) -> Option<RawDocument> {
    let (first, second) = std::thread::scope(|scope| {
        let second = std::thread::Builder::new()
            .name("export-second-half".into())
            .spawn_scoped(scope, || read_second_half(text, at))
            .ok()?;
        let first = read_first_half(text, at);
        Some((first, second.join().ok()?))
    })?;
    let (first, second) = (first?, second?);
    let offset = first.position;
    let (mut doc, second) = (first.into_doc(), second.into_doc());
    doc.tariffs.extend(
        second
            .tariffs
            .into_iter()
            .map(|(position, t)| (position + offset, t)),
    );
    doc.skipped.extend(second.skipped.into_iter().map(|mut s| {
        s.position += offset;
        s
    }));
    doc.warnings.extend(second.warnings);
    doc.error = doc.error.or(second.error);
    Some(doc)
}

/// The first half: must end inside the root (`<doc>`) and nothing else.
fn read_first_half(text: &str, at: usize) -> Option<DocReader<'_>> {
    let mut r = DocReader::new(text);
    let mut reader = Reader::from_str(text.get(..at)?);
    reader.config_mut().check_end_names = true;
    let root_done = r.read_events(&mut reader, false).ok()?;
    (!root_done && r.stack == [Frame::Doc]).then_some(r)
}

/// The second half, read as if inside the root: must close it.
fn read_second_half(text: &str, at: usize) -> Option<DocReader<'_>> {
    let mut r = DocReader::new(text);
    r.stack.push(Frame::Doc);
    // Its start is in the first half; only its name is checked here (the
    // root of anything read is `doc`, `DocReader::enter`).
    r.open_names.push(0..0);
    let mut reader = Reader::from_str(text.get(at..)?);
    // quick-xml checks the end tags of what it saw open; it never saw the
    // root open, so the end tag of the root is let through, and checked by
    // `read_events`.
    reader.config_mut().check_end_names = true;
    reader.config_mut().allow_unmatched_ends = true;
    let root_done = r.read_events(&mut reader, true).ok()?;
    (root_done && r.open_names.is_empty()).then_some(r)
}

/// The document read on this thread alone.
fn read_whole(text: &str) -> Result<RawDocument> {
    let mut r = DocReader::new(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let root_done = r.read_events(&mut reader, false)?;
    if let Some(open) = r.open_names.last() {
        let name = text.as_bytes().get(open.clone()).unwrap_or(b"?");
        return Err(bad_export(format!(
            "document ends inside <{}> (truncated)",
            shown(name)
        )));
    }
    if !root_done {
        return Err(bad_export("no root element"));
    }
    Ok(r.into_doc())
}

impl<'a> DocReader<'a> {
    fn new(text: &'a str) -> Self {
        DocReader {
            text,
            stack: Vec::new(),
            open_names: Vec::new(),
            tariff: RawTariff::default(),
            position: 0,
            doc: RawDocument::default(),
            error_msg: None,
            error_type: None,
        }
    }

    /// What was read, with its first `<error>` (type, message).
    fn into_doc(self) -> RawDocument {
        let mut doc = self.doc;
        doc.error = self
            .error_type
            .map(|kind| (kind, text_of(&self.error_msg).unwrap_or("").to_string()));
        doc
    }

    /// Every event of `reader` (which reads `self.text` or a part of it)
    /// into the document; `Ok(true)` when the root element was closed.
    /// `root_opened_before`: the reader starts inside the root, so the end
    /// tags quick-xml lets through unmatched are checked here.
    fn read_events(
        &mut self,
        reader: &mut Reader<&'a [u8]>,
        root_opened_before: bool,
    ) -> Result<bool> {
        let text = self.text;
        let r = self;
        let mut root_done = false;
        loop {
            let event = reader.read_event().map_err(|e| {
                // quick-xml quotes tag names, which a peer can make huge.
                let detail = crate::logging::shorten(&e.to_string(), 300);
                bad_export(format!("at byte {}: {detail}", reader.buffer_position()))
            })?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    if root_done {
                        return Err(bad_export("content after the root element"));
                    }
                    if r.stack.len() >= MAX_DEPTH {
                        return Err(bad_export(format!(
                            "nesting deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    let parent = r.stack.last().copied();
                    let frame = match parent {
                        Some(Frame::Skip | Frame::Text(_)) => Frame::Skip,
                        _ => r.enter(parent, e.name().as_ref(), e)?,
                    };
                    if matches!(event, Event::Start(_)) {
                        r.stack.push(frame);
                        r.open_names.push(span_in(text, e.name().as_ref()));
                    } else {
                        if frame == Frame::Tariff {
                            r.finish_tariff();
                        }
                        if r.stack.is_empty() {
                            root_done = true;
                        }
                    }
                }
                Event::End(ref e) => {
                    // Only the root's can be unmatched for quick-xml; it is
                    // `doc` (`enter`).
                    let unmatched = match r.open_names.len() {
                        0 => true,
                        1 => e.name().as_ref() != b"doc",
                        _ => false,
                    };
                    if root_opened_before && unmatched {
                        return Err(bad_export("an end tag that does not match its start tag"));
                    }
                    if r.stack.pop() == Some(Frame::Tariff) {
                        r.finish_tariff();
                    }
                    r.open_names.pop();
                    if r.stack.is_empty() {
                        root_done = true;
                    }
                }
                Event::Text(t) => match r.stack.last().copied() {
                    Some(Frame::Text(slot)) => {
                        let s = text_value(text, &t)?;
                        append(r.slot(slot), s);
                    }
                    Some(_) => {}
                    None => {
                        let s = text_value(text, &t)?;
                        if !s.trim().is_empty() {
                            return Err(bad_export("text outside the root element"));
                        }
                    }
                },
                Event::CData(c) => match r.stack.last().copied() {
                    Some(Frame::Text(slot)) => {
                        let s = match c.into_inner() {
                            Cow::Borrowed(b) => Cow::Borrowed(
                                std::str::from_utf8(b)
                                    .map_err(|_| bad_export("CDATA is not UTF-8"))?,
                            ),
                            Cow::Owned(b) => Cow::Owned(
                                String::from_utf8(b)
                                    .map_err(|_| bad_export("CDATA is not UTF-8"))?,
                            ),
                        };
                        append(r.slot(slot), s);
                    }
                    Some(_) => {}
                    None => return Err(bad_export("CDATA outside the root element")),
                },
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
                Event::Eof => return Ok(root_done),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Raw fields → the typed model, tolerant inside a tariff.

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

fn tariff_from(
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

    /// Everything a reading gives, to compare two readings.
    fn everything(d: &RawDocument) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            d.tariffs, d.skipped, d.warnings, d.error
        )
    }

    /// Tariffs of every kind the reader handles, and "<pricelist" where it
    /// is not a top-level tag: in a comment, in CDATA, nested in a tariff,
    /// as the start of a longer name, in an attribute value.
    fn split_corpus(n: usize) -> String {
        let mut s = String::from(
            "<?xml version=\"1.0\"?>\n<!-- <pricelist> in a comment -->\n<doc func=\"pricelist.export\">\n",
        );
        for i in 0..n {
            let tariff = match i % 10 {
                // A bad period: a warning.
                0 => format!("<pricelist><id>{i}</id><name>N{i} &amp; «ру»</name><price currency=\"EUR\"><period cost=\"1.5\" type=\"month\" length=\"12\"/><period cost=\"bad\" type=\"month\" length=\"24\"/></price></pricelist>"),
                1 => format!("<pricelist><name>no id {i}</name></pricelist>"),
                2 => format!("<pricelist><id>{i}</id><name>vds</name><itemtype_info><intname>vds</intname></itemtype_info></pricelist>"),
                // The same id as the first: a duplicate, wherever it is.
                3 => "<pricelist><id>0</id><name>again</name></pricelist>".to_string(),
                4 => format!("<pricelist a=\"x &lt;pricelist&gt;\"><!-- <pricelist> --><id>{i}</id><name><![CDATA[<pricelist>]]> c</name></pricelist>"),
                5 => format!("<pricelist><id>{i}</id><name>nest</name><futurefield><pricelist><id>999</id></pricelist></futurefield></pricelist>"),
                6 => "<pricelistx>not a tariff</pricelistx>".to_string(),
                7 => format!("<error type=\"e{i}\"><msg>m{i}</msg></error>"),
                8 => "<pricelist/>".to_string(),
                _ => format!("<pricelist\n><id>{i}</id><name>W{i} Wildcard</name><addon><intname>altname</intname><price currency=\"RUB\"><period cost=\"3\" type=\"month\" length=\"12\"/></price></addon><siteinfo>validation=OV</siteinfo></pricelist>"),
            };
            s.push_str(&tariff);
            s.push('\n');
        }
        s.push_str("</doc>\n");
        s
    }

    /// Split anywhere: when both halves read, the result is exactly the
    /// whole's, and the whole document must have read without error.
    fn assert_halves_match(text: &str) -> usize {
        let whole = read_whole(text);
        let mut read_in_halves = 0;
        for at in (1..text.len()).filter(|&at| text.is_char_boundary(at)) {
            if let Some(halves) = read_halves(text, at) {
                read_in_halves += 1;
                let whole = whole.as_ref().unwrap_or_else(|e| {
                    panic!(
                        "halves at {at} read a document the whole refuses: {}",
                        e.message
                    )
                });
                assert_eq!(everything(&halves), everything(whole), "split at {at}");
            }
        }
        read_in_halves
    }

    #[test]
    fn halves_read_exactly_what_the_whole_reads() {
        let text = split_corpus(20);
        let read_in_halves = assert_halves_match(&text);
        // Every top-level `<pricelist` tag is a place the halves work.
        let top_level = text.matches("\n<pricelist").count();
        assert!(
            read_in_halves >= top_level,
            "{read_in_halves} < {top_level}"
        );
        let whole = read_whole(&text).unwrap();
        assert_eq!(whole.error.as_ref().map(|e| e.0.as_str()), Some("e7"));
        // Duplicates are found after the reading, by parse_export.
        assert_eq!(
            whole.tariffs.iter().filter(|(_, t)| t.id == 0).count(),
            3,
            "{}",
            everything(&whole)
        );
    }

    #[test]
    fn broken_documents_never_read_in_halves() {
        let good = split_corpus(12);
        let mid = good.len() / 2;
        let cut = (mid..good.len())
            .find(|&i| good.is_char_boundary(i))
            .unwrap();
        for broken in [
            // Truncated in the second half, and at its very end.
            good[..cut].to_string(),
            good.trim_end().trim_end_matches("</doc>").to_string(),
            // An end tag that does not match, in the second half.
            format!(
                "{}<pricelist><id>77</id></name></pricelist></doc>",
                good.trim_end().trim_end_matches("</doc>")
            ),
            // Content after the root, an end tag too many.
            format!("{good}<pricelist/>"),
            format!("{good}</doc>"),
            // Another root name closed.
            good.replace("</doc>", "</dok>"),
        ] {
            assert!(read_whole(&broken).is_err(), "{broken}");
            assert_eq!(assert_halves_match(&broken), 0, "{broken}");
        }
    }

    #[test]
    fn a_large_document_is_split_where_a_tariff_starts() {
        let mut text = String::from("<doc>\n");
        for i in 0..4000 {
            text.push_str(&format!(
                "<pricelistx/><pricelist><id>{i}</id><name>T{i}</name></pricelist>\n"
            ));
        }
        text.push_str("</doc>");
        assert!(text.len() > SPLIT_MIN_BYTES);
        let at = split_point(&text, SPLIT_MIN_BYTES).unwrap();
        assert!(at >= text.len() / 2 && text[at..].starts_with("<pricelist"));
        assert!(!text[at..].starts_with("<pricelistx"));
        let halves = read_halves(&text, at).expect("read in halves");
        assert_eq!(everything(&halves), everything(&read_whole(&text).unwrap()));
        assert_eq!(split_point(&text[..1000], SPLIT_MIN_BYTES), None);
        assert_eq!(split_point("<doc>ы</doc>", 0), None);
    }
}
