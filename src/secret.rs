//! Secrets that cannot leak.
//!
//! [`Secret`] holds the upstream password. It has no `Display`, and its `Debug`
//! prints `Secret(***)`; the only way to the value is [`Secret::expose`], used
//! where the value goes on the wire (the POST body). Every secret created is also
//! registered, so [`redact`] can scrub it from any text that is about to be
//! logged or shown, even text that was built by code that forgot about it
//! (an echoed request body, an upstream error that quotes our input).
//!
//! Memory: a `Secret` zeroes its bytes when dropped (`zeroize`), and so do the
//! temporary copies made here. The registry keeps one copy for the life of the
//! process (it must, to redact); core dumps are off ([`crate::hardening`]).
//! Copies inside crates we hand the value to (the HTTP request body) are not
//! ours to wipe.

use std::sync::Mutex;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

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

impl Secret {
    /// Zero the bytes (the whole allocation) and leave the value empty.
    fn wipe(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl ZeroizeOnDrop for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Replace every known secret in `text`, also in the url-encoded forms that a
/// logged request body would carry.
pub fn redact(text: &str) -> String {
    // The lock is held while redacting rather than cloning the list: a
    // clone would leave unwiped copies of every secret in freed memory.
    // A poisoned lock still holds the list: redact with it, never skip.
    let known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    redact_with(&known, text)
}

/// [`redact`] for the panic hook (`crate::panic_net`), which may run while
/// this very thread holds the list (a panic inside [`redact`] itself):
/// `None` when the list is busy, so the caller shows nothing of `text`
/// rather than wait on its own lock or show it unredacted.
pub fn try_redact(text: &str) -> Option<String> {
    match KNOWN.try_lock() {
        Ok(known) => Some(redact_with(&known, text)),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(redact_with(&p.into_inner(), text)),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

fn redact_with(known: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
        let encoded: Zeroizing<String> =
            Zeroizing::new(form_urlencoded::byte_serialize(s.as_bytes()).collect());
        if *encoded != *s && out.contains(encoded.as_str()) {
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
    fn the_value_is_wiped_on_drop() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let mut s = Secret::new(String::from("wipe-me-please-77"));
        zeroed_on_drop(&s);
        let (ptr, cap) = (s.0.as_ptr(), s.0.capacity());
        // What `drop` does, called directly so the buffer is still ours to read.
        s.wipe();
        // SAFETY: the String still owns its allocation of `cap` bytes (zeroize
        // clears it, it does not free it); it is freed when `s` goes out of scope.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, cap) };
        assert!(bytes.iter().all(|b| *b == 0), "{bytes:?}");
        assert!(s.0.is_empty());
    }

    #[test]
    fn empty_secret_redacts_nothing() {
        let _s = Secret::new("");
        assert_eq!(redact("abc"), "abc");
    }
}
