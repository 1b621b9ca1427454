//! The one clock of the module: every place that reads "now" for term,
//! validity or intent-age logic asks [`now`].
//!
//! Tests (and the demo) run a whole paid term in seconds by setting
//! `PMSSLRESELLER_TEST_NOW` (RFC 3339, e.g. `2027-05-20T10:00:00Z`, or a
//! date `2027-05-20` = midnight UTC). The override is honoured only in debug
//! builds: a release binary (what the packages ship) always uses the system
//! clock, so a stray variable on a production host can never shorten a
//! settle window and make a renewal be paid twice.

use chrono::{DateTime, NaiveDate, Utc};

/// The test-only override of "now".
pub const TEST_NOW_ENV: &str = "PMSSLRESELLER_TEST_NOW";

/// The current time: the override in debug builds when set and readable,
/// else the system clock. An unreadable override is logged and ignored
/// (never a panic).
pub fn now() -> DateTime<Utc> {
    if cfg!(debug_assertions) {
        if let Ok(text) = std::env::var(TEST_NOW_ENV) {
            match parse(&text) {
                Some(t) => return t,
                None => log::warn!(
                    "{TEST_NOW_ENV}={text:?} is neither RFC 3339 nor YYYY-MM-DD; using the system clock"
                ),
            }
        }
    }
    Utc::now()
}

/// Today's date (UTC) by [`now`].
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// Unix seconds by [`now`].
pub fn now_unix() -> i64 {
    now().timestamp()
}

/// RFC 3339 or `YYYY-MM-DD` (midnight UTC).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_refuses_junk() {
        assert_eq!(
            parse("2027-05-20").unwrap().to_rfc3339(),
            "2027-05-20T00:00:00+00:00"
        );
        assert_eq!(
            parse("2027-05-20T12:30:00+02:00").unwrap().to_rfc3339(),
            "2027-05-20T10:30:00+00:00"
        );
        assert!(parse("yesterday").is_none());
        assert!(parse("2027-13-01").is_none());
    }
}
