//! A tiny XML tree and writer for the simulator's answers: every response body is built as a `Node` and
//! rendered here, so escaping lives in one place and the output is byte-stable (SIM-3).

/// One child of an element.
#[derive(Debug, Clone)]
pub enum Content {
    Elem(Node),
    Text(String),
    /// Already well-formed XML copied verbatim (catalogue plans are re-exported byte for byte).
    Raw(String),
}

/// An element with attributes (kept in insertion order) and children.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Content>,
}

impl Node {
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_string(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Node {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Node {
        self.children.push(Content::Text(text.into()));
        self
    }

    pub fn child(mut self, node: Node) -> Node {
        self.children.push(Content::Elem(node));
        self
    }

    pub fn push(&mut self, node: Node) {
        self.children.push(Content::Elem(node));
    }

    pub fn push_raw(&mut self, raw: impl Into<String>) {
        self.children.push(Content::Raw(raw.into()));
    }

    /// Well-formed XML text appended to `self` verbatim (nothing when empty).
    pub fn raw(mut self, raw: String) -> Node {
        if !raw.is_empty() {
            self.push_raw(raw);
        }
        self
    }

    /// `<name>text</name>` appended to `self`.
    pub fn field(mut self, name: &str, text: impl Into<String>) -> Node {
        self.push(Node::new(name).text(text));
        self
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(v, true, out);
            out.push('"');
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Content::Elem(n) => n.write(out),
                Content::Text(t) => escape_into(t, false, out),
                Content::Raw(r) => out.push_str(r),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// The whole document with the XML declaration BILLmanager prints.
    pub fn to_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut out);
        out.push('\n');
        out
    }
}

/// `<name>text</name>` written straight into `out`, byte for byte what `Node::field` renders: for
/// answers of many rows, where an element tree of each would cost more than the answer itself.
pub fn write_field(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(text, false, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes text or attribute values; characters XML 1.0 cannot carry at all are dropped rather than
/// producing a document no parser accepts. Runs of plain text are copied whole: every special
/// character is ASCII, so scanning bytes is safe in UTF-8, and char by char the PEM chains of
/// `certificate.edit` cost more than the rest of the request.
fn escape_into(s: &str, attr: bool, out: &mut String) {
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let replacement = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if attr => "&quot;",
            b'\'' if attr => "&apos;",
            b'\n' if attr => "&#10;",
            b'\t' | b'\n' | b'\r' => continue,
            c if c < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        out.push_str(replacement);
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let n = Node::new("doc")
            .child(Node::new("a").attr("x", "1\"<&'").text("a<b&c>\u{1}"))
            .child(Node::new("e"));
        assert_eq!(
            n.to_document(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><a x=\"1&quot;&lt;&amp;&apos;\">a&lt;b&amp;c&gt;</a><e/></doc>\n"
        );
    }

    #[test]
    fn escaping_keeps_multibyte_text_and_drops_what_xml_cannot_carry() {
        let mut out = String::new();
        escape_into("é<ü>\u{7}\t\r\n'\"&日本", false, &mut out);
        assert_eq!(out, "é&lt;ü&gt;\t\r\n'\"&amp;日本");
        out.clear();
        escape_into("a\nb'c\"", true, &mut out);
        assert_eq!(out, "a&#10;b&apos;c&quot;");
    }

    #[test]
    fn write_field_is_what_field_renders() {
        for text in ["", "plain", "a<b&c>\u{1}\n\"'"] {
            let mut fast = String::new();
            write_field(&mut fast, "f", text);
            let mut tree = String::new();
            Node::new("f").text(text).write(&mut tree);
            assert_eq!(fast, tree);
        }
    }
}
