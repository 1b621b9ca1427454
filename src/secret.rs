//! Secrets that cannot leak.
//!
//! [`Secret`] holds the upstream password. It has no `Display`, and its `Debug`
//! prints `Secret(***)`; the only way to the value is [`Secret::expose`], used
//! where the value goes on the wire (the POST body). Every secret created is also
//! registered, so [`redact`] can scrub it from any text that is about to be
//! logged or shown, even text that was built by code that forgot about it
//! (an echoed request body, an upstream error that quotes our input).
//!
//! A secret of [`MIN_GUARDED_LEN`] characters or more is masked wherever it
//! occurs. A shorter one is masked only where it stands alone (see
//! [`replace_standalone`]): masked everywhere, the password "oop" would turn
//! "loopback" into "l***back" and point at itself. Short passwords are
//! warned about ([`Secret::is_short`], [`SHORT_PASSWORD_ADVICE`]).
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

    /// Shorter than [`MIN_GUARDED_LEN`] (and not empty): easy to guess, and
    /// masked only where it stands alone.
    pub fn is_short(&self) -> bool {
        !self.0.is_empty() && self.0.chars().count() < MIN_GUARDED_LEN
    }
}

/// What to say about a short password ([`Secret::is_short`]), after naming
/// whose it is.
pub const SHORT_PASSWORD_ADVICE: &str = "is shorter than 6 characters: easy to guess, and the \
     log masks it only where it stands alone, not inside a longer word; set a password of at least \
     6 characters upstream and in the module's settings";

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
        let short = s.chars().count() < MIN_GUARDED_LEN;
        let encoded: Zeroizing<String> =
            Zeroizing::new(form_urlencoded::byte_serialize(s.as_bytes()).collect());
        for form in [s.as_str(), encoded.as_str()] {
            if !out.contains(form) {
                continue;
            }
            out = if short {
                replace_standalone(&out, form)
            } else {
                out.replace(form, MASK)
            };
        }
    }
    out
}

/// `text` with each occurrence of the short secret `needle` that stands
/// alone replaced by [`MASK`]: where the needle begins with a letter or
/// digit, the character before it must not be one; where it ends with one,
/// the character after it must not be one.
///
/// Why this is safe: wherever a password is written, it is written whole,
/// as a value between delimiters: `authinfo=user:oop&`, `<password>oop<`,
/// `'oop'`, a quoted JSON string. Those delimiters are never letters or
/// digits, with one exception handled here: a percent escape (`%3Aoop`, the
/// url-encoded `:` before it) ends with a hex digit, so it counts as a
/// delimiter too. What is left unmasked is the password's letters inside a
/// longer word ("loopback"), which does not show the password. `_` counts
/// as a delimiter, so more is masked, never less.
fn replace_standalone(text: &str, needle: &str) -> String {
    let word = |c: char| c.is_alphanumeric();
    let check_before = needle.chars().next().is_some_and(word);
    let check_after = needle.chars().next_back().is_some_and(word);
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(i) = text[from..].find(needle) {
        let start = from + i;
        let end = start + needle.len();
        let head = &text[..start];
        let before_ok = !check_before
            || !head.chars().next_back().is_some_and(word)
            || ends_with_percent_escape(head);
        let after_ok = !check_after || !text[end..].chars().next().is_some_and(word);
        if before_ok && after_ok {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
            from = end;
        } else {
            from = start + needle.chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether `text` ends with `%XX` (two hex digits): url-encoding's escape
/// of a delimiter.
fn ends_with_percent_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 3
        && b[b.len() - 3] == b'%'
        && b[b.len() - 2].is_ascii_hexdigit()
        && b[b.len() - 1].is_ascii_hexdigit()
}

/// Secrets shorter than this are not searched for by [`contains_secret`]: a
/// short one would match ordinary text (a 1-letter test password is in every
/// PEM) and turn a safety check into random failures. Logs still redact them,
/// where they stand alone ([`replace_standalone`]). Passwords shorter than
/// this are warned about ([`SHORT_PASSWORD_ADVICE`]).
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

    /// A short password is masked wherever it stands alone, and only there:
    /// "loopback" keeps its letters.
    #[test]
    fn a_short_secret_is_masked_only_where_it_stands_alone() {
        let s = Secret::new("oop");
        assert!(s.is_short());
        assert_eq!(
            redact("loopback oop 'oop' <p>oop</p> pw=oop&x=1 oops hoop oop"),
            "loopback *** '***' <p>***</p> pw=***&x=1 oops hoop ***"
        );
        // Url-encoded after a delimiter: `%3A` is the ':' of `user:oop`.
        assert_eq!(
            redact("authinfo=u%40example.com%3Aoop&func=whoami"),
            "authinfo=u%40example.com%3A***&func=whoami"
        );
        assert_eq!(redact("oop"), "***");
        assert_eq!(redact("_oop_"), "_***_");
        // A short secret with a non-word edge: no boundary needed on that side.
        let _t = Secret::new("~Zx");
        assert_eq!(redact("a~Zx b~Zxc"), "a*** b~Zxc");
        assert!(!Secret::new("long-enough").is_short());
        assert!(!Secret::new("").is_short());
    }

    #[test]
    fn the_advice_names_the_minimum() {
        assert!(
            SHORT_PASSWORD_ADVICE.contains(&format!("shorter than {MIN_GUARDED_LEN} characters"))
        );
        assert!(SHORT_PASSWORD_ADVICE.contains(&format!("at least {MIN_GUARDED_LEN} characters")));
    }

    #[test]
    fn a_long_secret_is_masked_even_inside_a_word() {
        let _s = Secret::new("Secr3t9");
        assert_eq!(redact("xSecr3t9y"), "x***y");
    }

    #[test]
    fn empty_secret_redacts_nothing() {
        let _s = Secret::new("");
        assert_eq!(redact("abc"), "abc");
    }
}
