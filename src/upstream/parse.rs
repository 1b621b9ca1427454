//! Reading upstream answers: bytes → a small element tree → "answer or error".
//!
//! Tolerant where BILLmanager varies (upstream-api.md §2.1): unknown elements
//! and attributes are kept but ignored by callers, `<doc>` presentation
//! attributes (`lang`, `func`, `theme`, …) and `<tparams>`/`<saved_filters>`
//! echoes are just more children. Strict where it matters: the root must be
//! `<doc>`, the document must be complete (a truncated answer is never taken
//! for a short one), and a `/doc/error` always wins. No panics on any input;
//! custom entities are never expanded.

use super::error::{ApiError, UpstreamError};
use crate::secret::redact;

/// The element tree and its reader are shared with the mgrctl wrapper.
pub use crate::xmltree::{parse_tree, Node};

/// Longest summary line of a bad body shown to the admin.
const MAX_LINE_CHARS: usize = 160;

/// One line describing a body that is not a usable answer: the `<title>` of an
/// HTML page if there is one, else the first non-blank line; shortened and
/// redacted. Never the whole page.
pub fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|start| {
        let from = start + "<title>".len();
        lower[from..]
            .find("</title>")
            .and_then(|len| text.get(from..from + len))
    });
    let line = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(empty body)")
            .to_string(),
    };
    let one: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one.chars().take(MAX_LINE_CHARS).collect();
    if one.chars().count() > MAX_LINE_CHARS {
        short.push('…');
    }
    redact(&short)
}

/// Does the body look like an HTML page or non-markup text rather than XML?
fn looks_like_xml(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if !t.starts_with('<') {
        return false;
    }
    let head: String = t.chars().take(64).collect::<String>().to_ascii_lowercase();
    !(head.starts_with("<!doctype html") || head.starts_with("<html"))
}

/// Body → the `<doc>` root, without looking for errors.
pub fn parse_doc(func: &str, body: &[u8]) -> Result<Node, UpstreamError> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(UpstreamError::NotXml {
            func: func.to_string(),
            first_line: first_line(body),
        });
    };
    if !looks_like_xml(text) {
        return Err(UpstreamError::NotXml {
            func: func.to_string(),
            first_line: first_line(body),
        });
    }
    let root = parse_tree(text.trim_start_matches('\u{feff}'))
        .map_err(|detail| UpstreamError::malformed(func, format!("invalid XML: {detail}")))?;
    if root.name != "doc" {
        return Err(UpstreamError::malformed(
            func,
            format!("root element is <{}>, expected <doc>", root.name),
        ));
    }
    Ok(root)
}

/// `<param>`s of an upstream error kept; a real one has one or two.
const MAX_ERROR_PARAMS: usize = 16;

/// A value from the upstream for a message or log line: redacted, control
/// characters escaped, cut at `max_chars` with its length.
fn peer_text(value: &str, max_chars: usize) -> String {
    crate::quote::shorten(&redact(value), max_chars)
}

/// The error of an answer, if any: `/doc/error`, or `/doc/warning/error` as
/// newer BILLmanager 6 builds wrap it (field-2026-12 §5, FS 66932350124):
/// both are failures.
pub fn api_error(func: &str, doc: &Node) -> Option<ApiError> {
    let (e, wrapped) = match doc.child("error") {
        Some(e) => (e, false),
        None => (doc.child("warning").and_then(|w| w.child("error"))?, true),
    };
    let kind = e
        .attr("type")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("unknown");
    // Every field comes from the peer and ends up in our log and in the error
    // XML BILLmanager shows: each is cut (with its length), and so is the list.
    let params = e
        .children_named("param")
        .take(MAX_ERROR_PARAMS)
        .filter_map(|p| {
            p.attr("name")
                .map(|n| (peer_text(n, 100), peer_text(p.text.trim(), 300)))
        })
        .collect();
    Some(ApiError {
        func: func.to_string(),
        kind: peer_text(kind, 100),
        object: e
            .attr("object")
            .map(|o| peer_text(o, 200))
            .filter(|o| !o.is_empty()),
        code: e.attr("code").map(|c| peer_text(c, 40)),
        params,
        msg: e.child_text("msg").map(|m| peer_text(m, 1000)),
        wrapped,
    })
}

/// Body → `<doc>` of a successful answer; an error ([`api_error`]) →
/// [`UpstreamError::Api`], and so is a login still waiting for its second
/// factor ([`super::wire::second_factor_pending`]): nothing was done.
/// Success is the absence of an error, never the presence of `<ok/>` (A-U5).
pub fn parse_answer(func: &str, body: &[u8]) -> Result<Node, UpstreamError> {
    let doc = parse_doc(func, body)?;
    if let Some(e) = api_error(func, &doc) {
        return Err(UpstreamError::Api(e));
    }
    if let Some(e) = super::wire::second_factor_pending(func, &doc) {
        return Err(UpstreamError::Api(e));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published upstream answers, re-typed in `tests/fixtures/upstream/`
    /// (each names its public source in a comment).
    fn reference(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/upstream")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    #[test]
    fn whoami_fixture_parses_with_presentation_attrs_and_tparams() {
        let doc = parse_answer("whoami", &reference("whoami.bm6-log.xml")).unwrap();
        assert_eq!(doc.attr("func"), Some("whoami"));
        let user = doc.child("user").unwrap();
        assert_eq!(user.attr("balance"), Some("12221243.00"));
        assert_eq!(user.attr("realname"), Some("Иван Иванович Иванов"));
        assert_eq!(doc.path(&["tparams", "func"]).unwrap().text, "whoami");
    }

    #[test]
    fn ok_fixture_is_success_with_multiline_tparams() {
        let doc = parse_answer(
            "payment.setinpay",
            &reference("ok-payment.setinpay.bm6-log.xml"),
        )
        .unwrap();
        assert!(doc.child("ok").is_some());
        assert!(doc
            .path(&["tparams", "info"])
            .unwrap()
            .text
            .contains("\"Amount\" : 1000"));
    }

    #[test]
    fn not_enough_money_fixture() {
        let e = parse_answer(
            "certificate.order.param",
            &reference("error-not_enough_money.xml"),
        )
        .unwrap_err();
        let UpstreamError::Api(a) = e else {
            panic!("{e:?}")
        };
        assert_eq!(a.kind, "not_enough_money");
        assert_eq!(a.code.as_deref(), Some("1"));
        assert_eq!(a.param("amount"), Some("0.1048"));
        assert_eq!(a.param("have"), Some("0.00"));
        assert_eq!(a.param("currency"), Some("EUR"));
        assert_eq!(a.param("available"), Some("0.00"));
        assert_eq!(a.params.len(), 7);
        assert_eq!(a.msg, None);
        assert_eq!(a.class(), super::super::error::ApiErrorClass::Money);
    }

    #[test]
    fn coremanager_error_fixture() {
        let e = parse_answer("x", &reference("error-coremanager-xpath.xml")).unwrap_err();
        let UpstreamError::Api(a) = e else {
            panic!("{e:?}")
        };
        assert_eq!(a.kind, "xml");
        assert_eq!(a.object.as_deref(), Some("xpath"));
        assert_eq!(a.param("object"), Some("xpath"));
        assert_eq!(a.param("value"), Some("bad XPath"));
        assert_eq!(a.class(), super::super::error::ApiErrorClass::Other);
        assert!(!e_maybe(&UpstreamError::Api(a)));
    }

    fn e_maybe(e: &UpstreamError) -> bool {
        e.maybe_applied()
    }

    #[test]
    fn auth_fixtures() {
        let doc = parse_answer("auth", &reference("auth-response.guide.xml")).unwrap();
        assert_eq!(doc.child("auth").unwrap().attr("id"), Some("session id"));
        let doc = parse_answer("auth", &reference("auth-response.bm6-general-view.xml")).unwrap();
        let auth = doc.child("auth").unwrap();
        assert_eq!(auth.attr("level"), Some("access level"));
        assert_eq!(auth.text, "session number");
    }

    #[test]
    fn pricelist_fragment_is_a_plain_doc() {
        let doc = parse_answer(
            "pricelist.export",
            &reference("pricelist-export.doc-fragment.wrapped.xml"),
        )
        .unwrap();
        let period = doc.path(&["pricelist", "price", "period"]).unwrap();
        assert_eq!(period.attr("cost"), Some("913.9286"));
    }

    #[test]
    fn truncated_is_malformed() {
        for body in [
            "<?xml version=\"1.0\"?>\n<doc><id>12",
            "<doc><elem><id>1</id></elem>",
            "<doc><error type=\"auth\"",
            "<doc",
            "<",
            "<doc><a></b></doc>",
            "<doc>&unknown;</doc>",
            "<doc></doc><doc></doc>",
            "<doc/>trailing",
        ] {
            match parse_answer("f", body.as_bytes()) {
                Err(UpstreamError::Malformed { func, .. }) => assert_eq!(func, "f"),
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn not_xml_bodies() {
        let html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n";
        match parse_answer("whoami", html.as_bytes()) {
            Err(UpstreamError::NotXml { first_line, .. }) => {
                assert_eq!(first_line, "502 Bad Gateway")
            }
            other => panic!("{other:?}"),
        }
        for body in ["", "   \n", "OK", "{\"doc\":{}}", "\u{fffd}"] {
            assert!(
                matches!(
                    parse_answer("f", body.as_bytes()),
                    Err(UpstreamError::NotXml { .. })
                ),
                "{body:?}"
            );
        }
        assert!(matches!(
            parse_answer("f", &[0xff, 0xfe, b'<']),
            Err(UpstreamError::NotXml { .. })
        ));
    }

    #[test]
    fn wrong_root_is_malformed() {
        assert!(matches!(
            parse_answer("f", b"<result><id>1</id></result>"),
            Err(UpstreamError::Malformed { .. })
        ));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let deep = "<doc>".to_string() + &"<a>".repeat(500) + &"</a>".repeat(500) + "</doc>";
        assert!(matches!(
            parse_answer("f", deep.as_bytes()),
            Err(UpstreamError::Malformed { .. })
        ));
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE doc [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><doc>&b;</doc>"#;
        assert!(parse_answer("f", laughs.as_bytes()).is_err());
        let ok =
            "\u{feff}<?xml version=\"1.0\"?><!-- c --><doc a=\"&amp;&#65;\"><![CDATA[<x>]]></doc>";
        let doc = parse_answer("f", ok.as_bytes()).unwrap();
        assert_eq!(doc.attr("a"), Some("&A"));
        assert_eq!(doc.text, "<x>");
        // Every prefix, also ones cutting a UTF-8 sequence: an error, never a panic.
        for cut in 0..ok.len() {
            assert!(
                parse_answer("f", &ok.as_bytes()[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let _ = parse_answer("f", b"<doc x=\"unterminated></doc>");
        let _ = parse_answer("f", b"<doc x=1></doc>");
    }

    /// Newer BILLmanager 6 builds wrap the error in `<warning>` (field-2026-12
    /// §5, FS 66932350124): a failure, never a success.
    #[test]
    fn warning_wrapped_error_is_an_error() {
        let body = b"<doc><warning><error type=\"not_enough_money\" code=\"1\"><param name=\"amount\">9.00</param>\
                     <msg>Insufficient funds</msg></error></warning></doc>";
        let e = parse_answer("certificate.order.param", body).unwrap_err();
        let a = e.api().unwrap();
        assert_eq!(a.kind, "not_enough_money");
        assert_eq!(a.param("amount"), Some("9.00"));
        assert_eq!(a.class(), super::super::error::ApiErrorClass::Money);
        // No source says a wrapped error means "not done": a money call
        // answered so may have been applied, and is looked up, never resent.
        assert!(e.maybe_applied());
        let plain = parse_answer("f", b"<doc><error type=\"value\"/></doc>").unwrap_err();
        assert!(!plain.maybe_applied());
        // A warning without an error is a success with a remark.
        assert!(parse_answer("f", b"<doc><warning>slow</warning><id>5</id></doc>").is_ok());
    }

    /// `whoami` (or any call) while the login waits for its second factor
    /// answers `<ok>func=totp.confirm</ok>` (field-2026-12 §5, FS 3481085040):
    /// a credentials problem, nothing done, never a malformed answer.
    #[test]
    fn pending_second_factor_is_a_login_error() {
        for body in [
            &b"<doc><ok>func=totp.confirm</ok></doc>"[..],
            b"<doc lang=\"ru\"><ok>func=totp.confirm&amp;elid=5</ok><tparams/></doc>",
        ] {
            let e = parse_answer("whoami", body).unwrap_err();
            assert!(!e.maybe_applied());
            let a = e.api().unwrap();
            assert_eq!(a.class(), super::super::error::ApiErrorClass::Auth);
            let shown = crate::protocol::error::ModuleError::from(e.clone()).message;
            assert!(shown.contains("second factor"), "{shown}");
            assert!(!shown.contains("malformed"), "{shown}");
        }
        assert!(parse_answer("f", b"<doc><ok>func=cart</ok></doc>").is_ok());
    }

    #[test]
    fn error_without_type_still_an_error() {
        let e = parse_answer("f", b"<doc><error><msg>boom</msg></error></doc>").unwrap_err();
        let a = e.api().unwrap();
        assert_eq!(a.kind, "unknown");
        assert_eq!(a.msg.as_deref(), Some("boom"));
    }

    #[test]
    fn first_line_is_short_and_single() {
        let long = "x".repeat(1000) + "\nsecond line";
        let l = first_line(long.as_bytes());
        assert!(l.chars().count() <= MAX_LINE_CHARS + 1);
        assert!(!l.contains('\n'));
        assert_eq!(first_line(b"\n\n  Bad Gateway  \n<p>x</p>"), "Bad Gateway");
        assert_eq!(first_line(b""), "(empty body)");
    }
}
