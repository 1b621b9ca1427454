//! Secrets that cannot leak.
//!
//! [`Secret`] holds the upstream password. It has no `Display`, and its `Debug`
//! prints `Secret(***)`; the only way to the value is [`Secret::expose`], used
//! where the value goes on the wire (the POST body). Every secret created is also
//! registered, so [`redact`] can scrub it from any text that is about to be
//! logged or shown, even text that was built by code that forgot about it
//! (an echoed request body, an upstream error that quotes our input).

use std::sync::Mutex;

static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Placeholder that replaces a secret in logs and messages.
pub const MASK: &str = "***";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        if !value.is_empty() {
            if let Ok(mut known) = KNOWN.lock() {
                if !known.contains(&value) {
                    known.push(value.clone());
                    // Longest first, so a secret containing another is masked whole.
                    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
                }
            }
        }
        Secret(value)
    }

    /// The value itself. Call only where it must go on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Replace every known secret in `text`, also in the url-encoded forms that a
/// logged request body would carry.
pub fn redact(text: &str) -> String {
    let known = match KNOWN.lock() {
        Ok(k) => k.clone(),
        Err(_) => return text.to_string(),
    };
    let mut out = text.to_string();
    for s in &known {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
        let encoded: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
        if encoded != *s && out.contains(encoded.as_str()) {
            out = out.replace(encoded.as_str(), MASK);
        }
    }
    out
}

/// Secrets shorter than this are not searched for by [`contains_secret`]: a
/// short one would match ordinary text (a 1-letter test password is in every
/// PEM) and turn a safety check into random failures. Logs still redact them.
pub const MIN_GUARDED_LEN: usize = 6;

/// Whether `text` holds a known secret (of at least [`MIN_GUARDED_LEN`]
/// characters) verbatim: for places a secret must never go at all, such as
/// another process's argv.
pub fn contains_secret(text: &str) -> bool {
    match KNOWN.lock() {
        Ok(known) => known
            .iter()
            .any(|s| s.chars().count() >= MIN_GUARDED_LEN && text.contains(s.as_str())),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_reveal() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    #[test]
    fn redact_plain_and_urlencoded() {
        let _s = Secret::new("p@ss word&x=1");
        let line = "authinfo=user:p%40ss+word%26x%3D1&func=whoami and p@ss word&x=1";
        let r = redact(line);
        assert!(!r.contains("p@ss word&x=1"), "{r}");
        assert!(!r.contains("p%40ss+word%26x%3D1"), "{r}");
        assert!(r.contains("func=whoami"));
    }

    #[test]
    fn contains_secret_ignores_short_ones() {
        let _long = Secret::new("guarded-secret-91");
        let _short = Secret::new("zq");
        assert!(contains_secret("x guarded-secret-91 y"));
        assert!(!contains_secret("zqx, nothing secret here"));
    }

    #[test]
    fn empty_secret_redacts_nothing() {
        let _s = Secret::new("");
        assert_eq!(redact("abc"), "abc");
    }
}
