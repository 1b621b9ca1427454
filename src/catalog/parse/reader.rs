//! Reading the document: quick-xml events straight into the raw tariff fields
//! ([`raw`](super::raw)), with no element tree (measured: building and freeing a tree of
//! 100,000 nodes was most of the time). Only the elements read are kept; the
//! rest is skipped, still checked for well-formedness by quick-xml. The rules
//! are those of `xmltree`: the first child of a name counts, an element's text
//! is its own direct text, trimmed, blank meaning absent.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::bad_export;
use super::raw::{
    append, text_of, Field, RawAddon, RawChoice, RawDocument, RawPeriod, RawPrice, RawTariff,
};
use super::tariff::tariff_from;
use crate::catalog::Skipped;
use crate::protocol::error::Result;

/// Where the text of the element being read goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Tariff(TariffField),
    Addon(AddonField),
    Choice(ChoiceField),
    TariffInfoIntname,
    AddonInfoIntname,
    ErrorMsg,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TariffField {
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
pub(super) enum AddonField {
    Intname,
    Name,
    NameRu,
    Id,
    Min,
    Limit,
    Max,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ChoiceField {
    Id,
    Intname,
    Name,
}

/// The element being read, by what it means here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Frame {
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
pub(super) struct DocReader<'a> {
    /// The whole input, which the values borrow from.
    text: &'a str,
    pub(super) stack: Vec<Frame>,
    /// Where the name of every open element is in the input, for the
    /// "truncated" message only (no allocation per element).
    pub(super) open_names: Vec<std::ops::Range<usize>>,
    /// The `<pricelist>` being read (one at a time: typed at its end tag,
    /// then reused, so 5,000 raw tariffs are never held at once).
    tariff: RawTariff<'a>,
    /// How many `<pricelist>` elements were opened so far.
    pub(super) position: usize,
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
    crate::quote::shorten(&String::from_utf8_lossy(name), 40)
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
    let detail = |e: quick_xml::escape::EscapeError| crate::quote::shorten(&e.to_string(), 300);
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

/// The document read on this thread alone.
pub(super) fn read_whole(text: &str) -> Result<RawDocument> {
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
    pub(super) fn new(text: &'a str) -> Self {
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
    pub(super) fn into_doc(self) -> RawDocument {
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
    pub(super) fn read_events(
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
                let detail = crate::quote::shorten(&e.to_string(), 300);
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
