//! The one XML reader: text → a small element tree.
//!
//! Used for every XML the module reads: upstream answers (`upstream::parse`),
//! `mgrctl` answers (`billing::mgrctl`), the settings BILLmanager writes on
//! stdin (`check_connection`). Strict where it matters: a truncated document
//! is an error, never a short answer; nesting is bounded; custom entities are
//! never expanded; no input makes it panic.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deeper nesting than this is not a BILLmanager answer (and would cost stack).
const MAX_DEPTH: usize = 64;

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

fn element(e: &BytesStart<'_>) -> Result<Node, String> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute in <{name}>: {err}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| format!("bad attribute value {key} in <{name}>: {err}"))?;
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
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                let node = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err("content after the root element".into()),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| "closing tag without an opening tag".to_string())?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| format!("bad text: {e}"))?;
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
        return Err(format!("document ends inside <{}> (truncated)", open.name));
    }
    root.ok_or_else(|| "no root element".to_string())
}
