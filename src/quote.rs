//! A value from a peer (BILLmanager's database, the upstream, `mgrctl`,
//! argv) made fit for one line of a message or of the log: cut to a bound,
//! with its length when cut, and control characters escaped, so no value can
//! flood an answer or forge a line.
//!
//! A leaf: error messages (`protocol::error`), the log (`logging`) and every
//! layer that quotes a value use it without depending on one another.

/// A control character as a visible escape (`\n`, `\u{1b}`).
pub fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// A value from a peer (upstream, mgrctl, argv) fit for one log line or
/// message: at most `max_chars` characters, control characters escaped, and
/// when cut, the original length, e.g. `AAAA…(31457280 bytes)`.
pub fn shorten(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    for c in chars.by_ref().take(max_chars) {
        push_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        out.push_str(&format!("…({} bytes)", value.len()));
    }
    out
}

/// How much of a stored or received value a message quotes ([`quote`]):
/// enough to recognise it, never enough to flood an answer or a log.
pub const QUOTE_CHARS: usize = 80;

/// A value read from BILLmanager's database, the upstream, `mgrctl` or argv,
/// quoted in an error or log message: [`shorten`]ed to [`QUOTE_CHARS`], with
/// its length when cut. The one helper for that; every error text quoting
/// such a value goes through it (`ModuleError` bounds whole messages too, as
/// a net).
pub fn quote(value: &str) -> String {
    shorten(value, QUOTE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_and_escapes() {
        assert_eq!(shorten("abc", 10), "abc");
        assert_eq!(shorten("a\nb\r\u{1b}", 10), "a\\nb\\r\\u{1b}");
        let big = "A".repeat(1000);
        assert_eq!(shorten(&big, 4), "AAAA…(1000 bytes)");
    }
}
