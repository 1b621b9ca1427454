//! Keeps every `import_pricelist` call for inspection (P-U2: the format is a
//! guess until a real BILLmanager has been seen using it): its argv, stdin
//! and answer go to `var/pmsslreseller/import-<timestamp>.xml`, one file per
//! call, so an admin whose BILLmanager rejects our answer can send exactly
//! what was exchanged. Known secrets are redacted and `<password>`-like
//! elements masked before anything is written.

use std::path::PathBuf;

use crate::paths::MgrRoot;
use crate::protocol::xml::Elem;
use crate::secret::redact;

/// Element names whose content never goes into a capture, whatever
/// BILLmanager puts on stdin (module settings may carry the password).
const MASKED_ELEMENTS: &[&str] = &["password", "passwd", "authinfo"];

/// What one call exchanged.
pub struct Capture<'a> {
    pub module: u64,
    pub argv: &'a [String],
    /// `None`: stdin was still open and not read.
    pub stdin: Option<&'a str>,
    /// The document answered, or the error text when the call failed.
    pub answer: &'a str,
    pub ok: bool,
}

/// `<name>…</name>` contents replaced by `***` for every masked name.
fn mask_elements(text: &str) -> String {
    let mut out = text.to_string();
    for name in MASKED_ELEMENTS {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let mut from = 0;
        while let Some(start) = out[from..].find(&open).map(|i| i + from + open.len()) {
            let Some(end) = out[start..].find(&close).map(|i| i + start) else {
                break;
            };
            out.replace_range(start..end, "***");
            from = start + 3 + close.len();
        }
    }
    out
}

fn clean(text: &str) -> String {
    redact(&mask_elements(text))
}

/// The capture document (pure).
pub fn document(c: &Capture<'_>, time: &str) -> String {
    let mut argv = Elem::new("argv");
    for a in c.argv {
        argv.push(Elem::new("arg").text(clean(a)));
    }
    let stdin = match c.stdin {
        Some(s) => Elem::new("stdin")
            .attr("bytes", s.len().to_string())
            .text(clean(s)),
        None => Elem::new("stdin").attr("state", "still open; not read"),
    };
    Elem::new("pmsslreseller_import_capture")
        .attr("time", time)
        .attr("module", c.module.to_string())
        .attr("result", if c.ok { "answer" } else { "error" })
        .child(argv)
        .child(stdin)
        .child(Elem::new("answer").text(clean(c.answer)))
        .to_document()
}

/// Write the capture; a failure is logged and never fails the call.
pub fn write(root: &MgrRoot, c: &Capture<'_>) -> Option<PathBuf> {
    let now = chrono::Utc::now();
    let dir = root.state_dir();
    let path = dir.join(format!(
        "import-{}-{}.xml",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    ));
    let text = document(c, &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text)) {
        Ok(()) => {
            log::info!(
                "import_pricelist call kept in {} (send it if BILLmanager rejects the answer)",
                path.display()
            );
            Some(path)
        }
        Err(e) => {
            log::warn!(
                "import_pricelist: cannot keep the call in {}: {e}",
                path.display()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_and_keeps_the_rest() {
        let argv = vec!["--command".to_string(), "import_pricelist".to_string()];
        let stdin = "<doc><username>u</username><password>hunter2-secret</password>\
                     <password>two</password></doc>";
        let d = document(
            &Capture {
                module: 3,
                argv: &argv,
                stdin: Some(stdin),
                answer: "<doc><elem><id>1</id></elem></doc>",
                ok: true,
            },
            "2026-12-02T12:00:00Z",
        );
        assert!(!d.contains("hunter2-secret") && !d.contains(">two<"), "{d}");
        assert!(d.contains("&lt;password&gt;***&lt;/password&gt;"), "{d}");
        assert!(d.contains("<arg>import_pricelist</arg>"), "{d}");
        assert!(d.contains("&lt;id&gt;1&lt;/id&gt;"), "{d}");
        assert!(d.contains("module=\"3\""), "{d}");
        let open = document(
            &Capture {
                module: 3,
                argv: &argv,
                stdin: None,
                answer: "x",
                ok: false,
            },
            "t",
        );
        assert!(open.contains("still open") && open.contains("result=\"error\""));
    }
}
