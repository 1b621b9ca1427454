//! A large export read in two halves on two threads, with exactly the result
//! of one reading ([`read_whole`]); [`read_document`] chooses.

use quick_xml::Reader;

use super::raw::RawDocument;
use super::reader::{read_whole, DocReader, Frame};
use crate::protocol::error::Result;

/// The whole document into [`RawDocument`]; any XML error is an error (a
/// broken export never replaces a good cache). A large one is read in two
/// halves on two threads ([`read_halves`]), with the same result.
pub(super) fn read_document(text: &str) -> Result<RawDocument> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
