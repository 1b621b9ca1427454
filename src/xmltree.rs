//! The one XML reader: text → a small element tree.
//!
//! Used for every XML the module reads: upstream answers (`upstream::parse`),
//! `mgrctl` answers (`billing::mgrctl`), the settings BILLmanager writes on
//! stdin (`check_connection`). Strict where it matters: a truncated document
//! is an error, never a short answer; nesting is bounded; custom entities are
//! never expanded; no input makes it panic.
//!
//! Bounded against a hostile peer: work is linear in the input
//! (quick-xml's own duplicate-attribute check compares each attribute with
//! every earlier one, so 30,000 attributes on one element cost seconds; ours
//! uses a hash set), and attributes per element, elements per document and
//! total text have limits, so memory stays a small multiple of the body.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deeper nesting than this is not a BILLmanager answer (and would cost stack).
pub const MAX_DEPTH: usize = 64;
/// BILLmanager elements carry a handful of attributes (`<doc>` about ten).
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 256;
/// A certificate list of some 25,000 certificates, a price list of thousands
/// of tariffs. An element costs about 100 bytes in memory however short its
/// text (`<e/>` is 4 bytes of input), so this also caps the tree at ~50 MiB.
pub const MAX_ELEMENTS: usize = 500_000;
/// Text and attribute values together; the upstream body cap
/// (`max_response_bytes`, 32 MiB by default) normally bounds it first.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// One XML element: attributes, concatenated direct text, children in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of the first child `name`; `None` when absent or blank.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Follow a path of child names, e.g. `["doc", "newexpiredate"]` from here.
    pub fn path(&self, names: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for n in names {
            cur = cur.child(n)?;
        }
        Some(cur)
    }
}

/// What the document has cost so far, against the limits.
#[derive(Default)]
struct Budget {
    elements: usize,
    text_bytes: usize,
}

impl Budget {
    fn add_element(&mut self) -> Result<(), String> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} elements"));
        }
        Ok(())
    }

    fn add_text(&mut self, bytes: usize) -> Result<(), String> {
        self.text_bytes = self.text_bytes.saturating_add(bytes);
        if self.text_bytes > MAX_TEXT_BYTES {
            return Err(format!("more than {MAX_TEXT_BYTES} bytes of text"));
        }
        Ok(())
    }
}

/// An element name for a message: short, without control characters.
fn shown_name(name: &str) -> String {
    crate::quote::shorten(name, 40)
}

fn element(e: &BytesStart<'_>, budget: &mut Budget) -> Result<Node, String> {
    budget.add_element()?;
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    // Duplicates are checked here in linear time instead (see the header).
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| format!("bad attribute in <{}>: {err}", shown_name(&name)))?;
        if attrs.len() >= MAX_ATTRIBUTES_PER_ELEMENT {
            return Err(format!(
                "more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes in <{}>",
                shown_name(&name)
            ));
        }
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        if !seen.insert(a.key.0) {
            return Err(format!(
                "duplicate attribute {} in <{}>",
                shown_name(&key),
                shown_name(&name)
            ));
        }
        let value = a.unescape_value().map_err(|err| {
            format!(
                "bad attribute value {} in <{}>: {err}",
                shown_name(&key),
                shown_name(&name)
            )
        })?;
        budget.add_text(key.len() + value.len())?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Node {
        name,
        attrs,
        ..Node::default()
    })
}

/// Parse a complete XML document into its root element.
pub fn parse_tree(text: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut budget = Budget::default();
    loop {
        let event = reader.read_event().map_err(|e| {
            // quick-xml quotes tag names, which a peer can make huge.
            let detail = crate::quote::shorten(&e.to_string(), 300);
            format!("at byte {}: {detail}", reader.buffer_position())
        })?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                stack.push(element(&e, &mut budget)?);
            }
            Event::Empty(e) => {
                let node = element(&e, &mut budget)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err("content after the root element".into()),
                }
            }
            Event::End(_) => {
                let mut node = stack
                    .pop()
                    .ok_or_else(|| "closing tag without an opening tag".to_string())?;
                // Growth slack of a long child list would double its memory.
                node.children.shrink_to_fit();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| {
                    format!("bad text: {}", crate::quote::shorten(&e.to_string(), 300))
                })?;
                budget.add_text(s.len())?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(c.as_ref())
                    .map_err(|_| "CDATA is not UTF-8".to_string())?
                    .to_string();
                budget.add_text(s.len())?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&s),
                    None => return Err("CDATA outside the root element".into()),
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "document ends inside <{}> (truncated)",
            shown_name(&open.name)
        ));
    }
    root.ok_or_else(|| "no root element".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_attrs(n: usize) -> String {
        let mut s = String::from("<doc><e");
        for i in 0..n {
            s.push_str(&format!(" a{i}=\"{i}\""));
        }
        s.push_str("/></doc>");
        s
    }

    #[test]
    fn attributes_up_to_the_limit_are_kept() {
        let doc = parse_tree(&with_attrs(MAX_ATTRIBUTES_PER_ELEMENT)).unwrap();
        let e = doc.child("e").unwrap();
        assert_eq!(e.attrs.len(), MAX_ATTRIBUTES_PER_ELEMENT);
        assert_eq!(e.attr("a7"), Some("7"));
    }

    #[test]
    fn too_many_attributes_are_refused() {
        let err = parse_tree(&with_attrs(MAX_ATTRIBUTES_PER_ELEMENT + 1)).unwrap_err();
        assert!(err.contains("attributes in <e>"), "{err}");
    }

    #[test]
    fn duplicate_attributes_are_refused() {
        let err = parse_tree("<doc a=\"1\" b=\"2\" a=\"3\"/>").unwrap_err();
        assert!(err.contains("duplicate attribute a"), "{err}");
    }

    #[test]
    fn too_many_elements_are_refused() {
        let ok = format!("<doc>{}</doc>", "<e/>".repeat(MAX_ELEMENTS - 1));
        assert_eq!(parse_tree(&ok).unwrap().children.len(), MAX_ELEMENTS - 1);
        let too_many = format!("<doc>{}</doc>", "<e/>".repeat(MAX_ELEMENTS));
        let err = parse_tree(&too_many).unwrap_err();
        assert!(err.contains("elements"), "{err}");
    }

    #[test]
    fn a_huge_tag_name_is_cut_in_the_error() {
        let name = "n".repeat(100_000);
        let err = parse_tree(&format!("<doc><{name}></doc>")).unwrap_err();
        assert!(err.len() < 1000, "{} bytes", err.len());
        let err = parse_tree(&format!("<doc><{name}>")).unwrap_err();
        assert!(err.len() < 1000, "{} bytes", err.len());
        assert!(err.contains("bytes)"), "{err}");
    }
}
