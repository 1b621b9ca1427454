//! A minimal read-only XML tree over quick-xml, with the byte span of every element, so the catalogue
//! can both read plan fields and re-export each `<pricelist>` exactly as it was written.

use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Clone, Default)]
pub struct El {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// Direct text content (unescaped, concatenated).
    pub text: String,
    pub children: Vec<El>,
    /// Byte range of the whole element in the source.
    pub span: (usize, usize),
}

impl El {
    pub fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of a direct child.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole document and returns its root element.
pub fn parse(xml: &str) -> Result<El, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(s) | Event::Empty(s) if root.is_some() => {
                let _ = s;
                return Err("content after the root element".into());
            }
            Event::Start(s) => {
                stack.push(element(&s, before)?);
            }
            Event::Empty(s) => {
                let mut el = element(&s, before)?;
                el.span.1 = after;
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let mut el = stack.pop().ok_or("unbalanced end tag")?;
                el.span.1 = after;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| format!("bad text: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".to_string())
}

fn element(s: &quick_xml::events::BytesStart, start: usize) -> Result<El, String> {
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let value = a
            .unescape_value()
            .map_err(|e| format!("bad attribute value: {e}"))?;
        attrs.push((
            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(El {
        name: String::from_utf8_lossy(s.name().as_ref()).into_owned(),
        attrs,
        text: String::new(),
        children: Vec::new(),
        span: (start, start),
    })
}

fn attach(stack: &mut [El], root: &mut Option<El>, el: El) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_elements() {
        let src = "<?xml version=\"1.0\"?>\n<doc>\n <a x=\"1&amp;\">t&lt;</a><b/></doc>";
        let root = parse(src).unwrap();
        let a = root.child("a").unwrap();
        assert_eq!(&src[a.span.0..a.span.1], "<a x=\"1&amp;\">t&lt;</a>");
        assert_eq!(a.attr("x"), Some("1&"));
        assert_eq!(a.text, "t<");
        let b = root.child("b").unwrap();
        assert_eq!(&src[b.span.0..b.span.1], "<b/>");
        assert!(parse("<doc><a></doc>").is_err());
        assert!(parse("<doc>").is_err());
    }
}

/// `out=json` (SIM-3): the generic XML → JSON mapping BILLmanager uses — text under `"$"`, attributes
/// under `"$name"`, repeated children as arrays, a single child as an object — wrapped as `{"doc": …}`.
pub fn to_json(root: &El) -> serde_json::Value {
    let mut top = serde_json::Map::new();
    top.insert(root.name.clone(), element_json(root));
    serde_json::Value::Object(top)
}

fn element_json(el: &El) -> serde_json::Value {
    use serde_json::{Map, Value};
    let mut obj = Map::new();
    for (k, v) in &el.attrs {
        obj.insert(format!("${k}"), Value::String(v.clone()));
    }
    if !el.text.trim().is_empty() {
        obj.insert("$".to_string(), Value::String(el.text.clone()));
    }
    for child in &el.children {
        let value = element_json(child);
        match obj.get_mut(&child.name) {
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                obj.insert(child.name.clone(), value);
            }
        }
    }
    Value::Object(obj)
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn generic_json_mapping() {
        let root = parse(
            "<doc><auth id=\"s1\">s1</auth><elem><id>1</id></elem><elem><id>2</id></elem></doc>",
        )
        .unwrap();
        assert_eq!(
            to_json(&root).to_string(),
            r#"{"doc":{"auth":{"$":"s1","$id":"s1"},"elem":[{"id":{"$":"1"}},{"id":{"$":"2"}}]}}"#
        );
    }
}
