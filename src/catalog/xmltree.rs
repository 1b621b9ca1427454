//! A small, strict XML tree reader for upstream answers the catalog parses.
//!
//! The upstream's `pricelist.export` is read whole (its size is already capped
//! by the client's `max_response_bytes`), so a tree is simpler than a streaming
//! state machine and still fast for thousands of tariffs. Strict on structure
//! (truncated documents, mismatched tags and bad entities are errors, never a
//! partial tree), tolerant on content (unknown elements are simply kept).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Nesting deeper than this is not a BILLmanager answer.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Concatenated text content (trimmed), without the children's text.
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of the first child `name`, if present and non-empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

fn start_node(e: &BytesStart<'_>) -> Result<Node, String> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute in <{name}>: {err}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| format!("bad attribute value in <{name}>: {err}"))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Node {
        name,
        attrs,
        ..Node::default()
    })
}

/// Parse a whole document; `Err` carries a one-line reason.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                stack.push(start_node(&e)?);
            }
            Event::Empty(e) => {
                let node = start_node(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err("content after the root element".into()),
                }
            }
            Event::End(_) => {
                // quick-xml checks that the end tag matches the open one.
                let Some(node) = stack.pop() else {
                    return Err("unbalanced end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| format!("bad text at byte {}: {e}", reader.buffer_position()))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(format!(
                            "text outside the root element: {}",
                            first_chars(&s, 60)
                        ))
                    }
                }
            }
            Event::CData(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text
                        .push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::Eof => break,
            // Declaration, comments, processing instructions, DOCTYPE.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "document ends inside <{}> (truncated answer)",
            open.name
        ));
    }
    root.ok_or_else(|| "no root element".to_string())
}

/// The first `n` characters, on one line: for error messages about bodies.
pub fn first_chars(s: &str, n: usize) -> String {
    let line: String = s
        .trim()
        .chars()
        .take(n)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_document() {
        let n = parse("<?xml version=\"1.0\"?><doc a=\"1\"><x>t &amp; u</x><y/></doc>").unwrap();
        assert_eq!(n.name, "doc");
        assert_eq!(n.attr("a"), Some("1"));
        assert_eq!(n.child_text("x"), Some("t & u"));
        assert!(n.child("y").is_some());
    }

    #[test]
    fn truncated_is_an_error() {
        let e = parse("<doc><pricelist><id>1</id>").unwrap_err();
        assert!(e.contains("truncated") || e.contains("XML error"), "{e}");
    }

    #[test]
    fn mismatched_end_is_an_error() {
        assert!(parse("<doc><a></b></doc>").is_err());
    }

    #[test]
    fn text_outside_root_is_an_error() {
        assert!(parse("Internal Server Error").is_err());
    }
}
