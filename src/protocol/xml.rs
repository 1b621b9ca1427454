//! The one XML writer for every document we print or send to BILLmanager.
//!
//! A small element tree, serialised with a declaration, two-space indentation
//! and `<x/>` for empty elements, the way ISPsystem's XML library prints
//! (`tests/fixtures/features/`). Escaping is done here and nowhere else.

use quick_xml::escape::escape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Elem(Elem),
    Text(String),
    /// One element already serialised by [`empty_element`], written as is.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Elem {
    pub fn new(name: impl Into<String>) -> Elem {
        Elem {
            name: name.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The root of every document: `<doc>`.
    pub fn doc() -> Elem {
        Elem::new("doc")
    }

    /// Builder: add an attribute.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Elem {
        self.attrs.push((name.into(), value.into()));
        self
    }

    /// Builder: add a child element.
    pub fn child(mut self, child: Elem) -> Elem {
        self.children.push(Node::Elem(child));
        self
    }

    /// Builder: add text content.
    pub fn text(mut self, text: impl Into<String>) -> Elem {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Builder: add `<name>text</name>`.
    pub fn leaf(self, name: impl Into<String>, text: impl Into<String>) -> Elem {
        self.child(Elem::new(name).text(text))
    }

    pub fn push(&mut self, child: Elem) {
        self.children.push(Node::Elem(child));
    }

    /// Add a child serialised by [`empty_element`].
    pub fn push_raw(&mut self, element: String) {
        self.children.push(Node::Raw(element));
    }

    /// The document with its XML declaration and a trailing newline.
    pub fn to_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut out, 0, true);
        out.push('\n');
        out
    }

    /// The element alone on one line, no declaration: for values passed as a
    /// parameter (e.g. `errorxml=`).
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0, false);
        out
    }

    fn write(&self, out: &mut String, depth: usize, pretty: bool) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            write_attr(out, k, v);
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        let only_text = self.children.iter().all(|c| matches!(c, Node::Text(_)));
        for c in &self.children {
            match c {
                Node::Text(t) => out.push_str(&escape(t.as_str())),
                Node::Elem(e) => {
                    if pretty && !only_text {
                        newline_indent(out, depth + 1);
                    }
                    e.write(out, depth + 1, pretty);
                }
                Node::Raw(xml) => {
                    if pretty && !only_text {
                        newline_indent(out, depth + 1);
                    }
                    out.push_str(xml);
                }
            }
        }
        if pretty && !only_text {
            newline_indent(out, depth);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// ` key="value"`, the value escaped.
fn write_attr(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push_str("=\"");
    out.push_str(&escape(value));
    out.push('"');
}

/// `<name key="value" …/>`, serialised at once: for the thousands of small
/// elements of one document (`features`' templates) that need no tree of
/// their own. Same escaping as every [`Elem`].
pub fn empty_element<'a>(
    name: &str,
    attrs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut out = String::with_capacity(128);
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        write_attr(&mut out, k, v);
    }
    out.push_str("/>");
    out
}

/// `<name key="value" …>text</name>`, serialised at once like
/// [`empty_element`]: for the thousands of `<msg>` elements of the template
/// names file. Same escaping as every [`Elem`].
pub fn text_element<'a>(
    name: &str,
    attrs: impl IntoIterator<Item = (&'a str, &'a str)>,
    text: &str,
) -> String {
    let mut out = String::with_capacity(2 * name.len() + text.len() + 64);
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        write_attr(&mut out, k, v);
    }
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    out
}

/// A new line indented for `depth` (no allocation: `features` writes one per
/// template, thousands of them).
fn newline_indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// The empty success document `<doc/>`.
pub fn empty_doc() -> String {
    Elem::doc().to_document()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_doc_matches_reference() {
        let reference =
            include_str!("../../tests/fixtures/features/output-check_connection-ok.xml");
        // The fixture carries a comment naming its source; the bytes to match are the rest.
        let (before, rest) = reference.split_once("<!--").unwrap();
        let (_, after) = rest.split_once("-->\n").unwrap();
        assert_eq!(empty_doc(), format!("{before}{after}"));
    }

    #[test]
    fn escapes_text_and_attributes() {
        let d = Elem::doc()
            .child(Elem::new("e").attr("a", "x\"<&>'").text("1 < 2 & 3"))
            .to_document();
        assert!(d.contains("a=\"x&quot;&lt;&amp;&gt;&apos;\""), "{d}");
        assert!(d.contains(">1 &lt; 2 &amp; 3</e>"), "{d}");
    }

    #[test]
    fn nested_pretty_print() {
        let d = Elem::doc()
            .child(Elem::new("itemtypes").child(Elem::new("itemtype").attr("name", "certificate")))
            .to_document();
        assert_eq!(
            d,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>\n  <itemtypes>\n    <itemtype name=\"certificate\"/>\n  </itemtypes>\n</doc>\n"
        );
    }

    #[test]
    fn text_element_is_what_the_tree_writes() {
        let tree = Elem::new("msg").attr("name", "a\"<&").text("x < y & «z»");
        let mut d = Elem::doc();
        d.push(tree.clone());
        let mut raw = Elem::doc();
        raw.push_raw(text_element("msg", [("name", "a\"<&")], "x < y & «z»"));
        assert_eq!(raw.to_document(), d.to_document());
        assert_eq!(
            text_element("msg", [("name", "n")], "t"),
            tree_text(Elem::new("msg").attr("name", "n").text("t"))
        );
    }

    fn tree_text(e: Elem) -> String {
        e.to_compact()
    }

    #[test]
    fn multiline_text_is_kept() {
        let pem = "-----BEGIN X-----\nabc\n-----END X-----\n";
        let d = Elem::doc().leaf("crt", pem).to_compact();
        assert_eq!(d, format!("<doc><crt>{pem}</crt></doc>"));
    }
}
