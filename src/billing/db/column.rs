//! One value of a row of BILLmanager's database, read without trusting it.
//!
//! No public schema says which columns may be NULL or what type each has
//! (field evidence field-2026-12 §7), so nothing is read into a Rust type
//! directly: the mysql crate's typed reads (`FromRow`, used by `exec::<(String,
//! String)>`) panic on a NULL or a value they cannot convert. Every query
//! reads `mysql::Row`s, and each value goes through one of these helpers:
//! NULL is `None`, a value of the wrong kind is a [`Bad`] saying what was
//! found (shortened). What a NULL or a bad value *means* for a use — skip the
//! row, a documented default, or an error — is decided by the reader in
//! `db.rs`; [`unusable`] is the one wording of such an error.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use mysql::Value;
use rust_decimal::Decimal;

use crate::protocol::error::{ErrorKind, ModuleError};
use crate::quote::shorten;

/// Longest piece of a bad value quoted in a message.
const QUOTED_CHARS: usize = 40;

/// Why a value is not what its column should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bad {
    /// Bytes that are not UTF-8 text (how many).
    NotUtf8(usize),
    /// Not a number (the value, shortened).
    NotANumber(String),
    /// A number the column cannot mean (the value).
    OutOfRange(String),
    /// Not a date (the value, shortened).
    NotADate(String),
    /// The query has no such column: a bug of ours.
    NoColumn,
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bad::NotUtf8(n) => write!(f, "is not UTF-8 text ({n} bytes)"),
            Bad::NotANumber(v) => write!(f, "holds '{v}', not a number"),
            Bad::OutOfRange(v) => write!(f, "holds {v}, out of range"),
            Bad::NotADate(v) => write!(f, "holds '{v}', not a date"),
            Bad::NoColumn => write!(f, "is missing from the query"),
        }
    }
}

/// What keeps a value from a use that needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Null,
    Bad(Bad),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Null => f.write_str("is NULL"),
            Problem::Bad(b) => b.fmt(f),
        }
    }
}

impl From<Bad> for Problem {
    fn from(b: Bad) -> Problem {
        Problem::Bad(b)
    }
}

/// A value the use cannot do without: NULL becomes [`Problem::Null`].
pub fn required<T>(v: Result<Option<T>, Bad>) -> Result<T, Problem> {
    v?.ok_or(Problem::Null)
}

/// The `billing` error for a value a use cannot do without: what it belongs
/// to (`item 42`), the column (`item.period`), what is wrong, and what the
/// admin should do. The column is the error's object.
pub fn unusable(whose: &str, column: &str, problem: &Problem, fix: &str) -> ModuleError {
    ModuleError::new(
        ErrorKind::Billing,
        format!("{whose}: {column} {problem} in BILLmanager's database; {fix}"),
    )
    .with_object(column)
}

/// Every helper takes what `mysql::Row::as_ref(i)` gives: `None` when the
/// row has no column `i`.
fn raw(v: Option<&Value>) -> Result<&Value, Bad> {
    v.ok_or(Bad::NoColumn)
}

fn quoted(text: &str) -> String {
    shorten(text, QUOTED_CHARS)
}

fn utf8(bytes: &[u8]) -> Result<&str, Bad> {
    std::str::from_utf8(bytes).map_err(|_| Bad::NotUtf8(bytes.len()))
}

fn date_text(y: u16, m: u8, d: u8) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// Text: UTF-8 bytes, or a number or date shown as text. Non-UTF-8 bytes are
/// [`Bad::NotUtf8`]: never guessed at, since text here may be an id, a name
/// that links a tariff, or a CSR.
pub fn text(v: Option<&Value>) -> Result<Option<String>, Bad> {
    Ok(match raw(v)? {
        Value::NULL => None,
        Value::Bytes(b) => Some(utf8(b)?.to_string()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(x) => Some(x.to_string()),
        Value::Double(x) => Some(x.to_string()),
        Value::Date(y, m, d, ..) => Some(date_text(*y, *m, *d)),
        Value::Time(..) => return Err(Bad::NotADate("a time".into())),
    })
}

/// Text only shown to a person (a service's or module's label): bytes that
/// are not UTF-8 are shown with replacement characters instead of failing.
pub fn text_for_display(v: Option<&Value>) -> Option<String> {
    match raw(v).ok()? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => text(v).ok().flatten(),
    }
}

/// A whole number from text (`" 12 "`, `"12.0000"` of a DECIMAL column).
fn int_from_text(t: &str) -> Result<i64, Bad> {
    let t = t.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Bad::OutOfRange(quoted(t)));
    }
    match Decimal::from_str(t) {
        Ok(d) if d.fract().is_zero() => i64::try_from(d).map_err(|_| Bad::OutOfRange(quoted(t))),
        _ => Err(Bad::NotANumber(quoted(t))),
    }
}

fn int_from_float(x: f64) -> Result<i64, Bad> {
    // 2^63 as f64 is exact; anything at or past it does not fit.
    if x.is_finite() && x.fract() == 0.0 && x >= -(2f64.powi(63)) && x < 2f64.powi(63) {
        Ok(x as i64)
    } else {
        Err(Bad::NotANumber(x.to_string()))
    }
}

/// A signed whole number.
pub fn int(v: Option<&Value>) -> Result<Option<i64>, Bad> {
    Ok(Some(match raw(v)? {
        Value::NULL => return Ok(None),
        Value::Int(n) => *n,
        Value::UInt(n) => i64::try_from(*n).map_err(|_| Bad::OutOfRange(n.to_string()))?,
        Value::Bytes(b) => int_from_text(utf8(b)?)?,
        Value::Float(x) => int_from_float(f64::from(*x))?,
        Value::Double(x) => int_from_float(*x)?,
        Value::Date(y, m, d, ..) => return Err(Bad::NotANumber(date_text(*y, *m, *d))),
        Value::Time(..) => return Err(Bad::NotANumber("a time".into())),
    }))
}

/// An unsigned whole number (an id, a count); negative is out of range.
pub fn uint(v: Option<&Value>) -> Result<Option<u64>, Bad> {
    match raw(v)? {
        Value::UInt(n) => Ok(Some(*n)),
        Value::Bytes(b) => {
            let t = utf8(b)?.trim();
            match t.parse::<u64>() {
                Ok(n) => Ok(Some(n)),
                Err(_) => match int_from_text(t)? {
                    n if n < 0 => Err(Bad::OutOfRange(n.to_string())),
                    n => Ok(Some(n.unsigned_abs())),
                },
            }
        }
        _ => match int(v)? {
            None => Ok(None),
            Some(n) if n < 0 => Err(Bad::OutOfRange(n.to_string())),
            Some(n) => Ok(Some(n.unsigned_abs())),
        },
    }
}

/// A COUNT(…): a number, 0 for NULL.
pub fn count(v: Option<&Value>) -> Result<u64, Bad> {
    Ok(uint(v)?.unwrap_or(0))
}

/// An exact decimal (money: `item.cost`). Never from a float guess beyond
/// what the float holds.
pub fn decimal(v: Option<&Value>) -> Result<Option<Decimal>, Bad> {
    Ok(Some(match raw(v)? {
        Value::NULL => return Ok(None),
        Value::Bytes(b) => {
            let t = utf8(b)?.trim();
            Decimal::from_str(t)
                .or_else(|_| Decimal::from_scientific(t))
                .map_err(|_| Bad::NotANumber(quoted(t)))?
        }
        Value::Int(n) => Decimal::from(*n),
        Value::UInt(n) => Decimal::from(*n),
        Value::Float(x) => {
            Decimal::try_from(f64::from(*x)).map_err(|_| Bad::NotANumber(x.to_string()))?
        }
        Value::Double(x) => Decimal::try_from(*x).map_err(|_| Bad::NotANumber(x.to_string()))?,
        Value::Date(y, m, d, ..) => return Err(Bad::NotANumber(date_text(*y, *m, *d))),
        Value::Time(..) => return Err(Bad::NotANumber("a time".into())),
    }))
}

/// A date. NULL, an empty text and MySQL's zero date (`0000-00-00`, what
/// BILLmanager keeps for "not set") are `None`; a date that does not exist
/// (`2027-02-30`) or text that is none is [`Bad::NotADate`]. A time of day
/// after the date is ignored.
pub fn date(v: Option<&Value>) -> Result<Option<NaiveDate>, Bad> {
    match raw(v)? {
        Value::NULL => Ok(None),
        Value::Date(0, 0, 0, ..) => Ok(None),
        Value::Date(y, m, d, ..) => {
            NaiveDate::from_ymd_opt(i32::from(*y), u32::from(*m), u32::from(*d))
                .map(Some)
                .ok_or_else(|| Bad::NotADate(date_text(*y, *m, *d)))
        }
        Value::Bytes(b) => date_from_text(utf8(b)?),
        other => Err(Bad::NotADate(quoted(&format!("{other:?}")))),
    }
}

fn date_from_text(t: &str) -> Result<Option<NaiveDate>, Bad> {
    let t = t.trim();
    let day = t.split([' ', 'T']).next().unwrap_or_default();
    if day.is_empty() || day == "0000-00-00" {
        return Ok(None);
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| Bad::NotADate(quoted(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }

    #[test]
    fn text_is_none_for_null_and_refuses_bytes_that_are_not_utf8() {
        assert_eq!(text(Some(&Value::NULL)), Ok(None));
        assert_eq!(
            text(Some(&bytes("ООО «Пример»".as_bytes()))),
            Ok(Some("ООО «Пример»".into()))
        );
        assert_eq!(text(Some(&bytes(b"\xff\xfe"))), Err(Bad::NotUtf8(2)));
        assert_eq!(text(Some(&Value::Int(-5))), Ok(Some("-5".into())));
        assert_eq!(
            text(Some(&Value::Date(2027, 1, 2, 0, 0, 0, 0))),
            Ok(Some("2027-01-02".into()))
        );
        assert_eq!(text(None), Err(Bad::NoColumn));
        // Only a label may be shown with replacement characters.
        assert_eq!(
            text_for_display(Some(&bytes(b"a\xffb"))).as_deref(),
            Some("a\u{fffd}b")
        );
        assert_eq!(text_for_display(Some(&Value::NULL)), None);
    }

    #[test]
    fn numbers_of_every_shape_and_the_ones_that_are_not() {
        assert_eq!(int(Some(&Value::Int(-1))), Ok(Some(-1)));
        assert_eq!(int(Some(&Value::UInt(12))), Ok(Some(12)));
        assert_eq!(
            int(Some(&Value::UInt(1 << 63))),
            Err(Bad::OutOfRange("9223372036854775808".into()))
        );
        assert_eq!(int(Some(&bytes(b" 24 "))), Ok(Some(24)));
        assert_eq!(int(Some(&bytes(b"12.0000"))), Ok(Some(12)));
        assert_eq!(
            int(Some(&bytes(b"99999999999999999999"))),
            Err(Bad::OutOfRange("99999999999999999999".into()))
        );
        assert_eq!(
            int(Some(&bytes(b"12.5"))),
            Err(Bad::NotANumber("12.5".into()))
        );
        assert_eq!(
            int(Some(&bytes(b"twelve"))),
            Err(Bad::NotANumber("twelve".into()))
        );
        assert_eq!(int(Some(&bytes(b"\xff"))), Err(Bad::NotUtf8(1)));
        assert_eq!(int(Some(&Value::Double(3.0))), Ok(Some(3)));
        assert!(int(Some(&Value::Double(f64::NAN))).is_err());
        assert!(int(Some(&Value::Double(9.3e18))).is_err());
        assert!(int(Some(&Value::Date(2027, 1, 2, 0, 0, 0, 0))).is_err());
        assert_eq!(int(Some(&Value::NULL)), Ok(None));

        assert_eq!(uint(Some(&Value::UInt(1 << 63))), Ok(Some(1 << 63)));
        assert_eq!(
            uint(Some(&bytes(b"18446744073709551615"))),
            Ok(Some(u64::MAX))
        );
        assert_eq!(
            uint(Some(&Value::Int(-1))),
            Err(Bad::OutOfRange("-1".into()))
        );
        assert_eq!(uint(Some(&bytes(b"-3"))), Err(Bad::OutOfRange("-3".into())));
        assert_eq!(uint(Some(&bytes(b"7"))), Ok(Some(7)));
        assert_eq!(count(Some(&Value::NULL)), Ok(0));
        // A long value is quoted shortened.
        let long = "x".repeat(500);
        match int(Some(&bytes(long.as_bytes()))) {
            Err(Bad::NotANumber(q)) => assert!(q.len() < 80, "{q}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn money_is_exact() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(decimal(Some(&bytes(b"45.0000"))), Ok(Some(d("45.0000"))));
        assert_eq!(decimal(Some(&Value::Int(-1))), Ok(Some(d("-1"))));
        assert_eq!(decimal(Some(&Value::NULL)), Ok(None));
        assert_eq!(
            decimal(Some(&bytes(b"abc"))),
            Err(Bad::NotANumber("abc".into()))
        );
        assert_eq!(decimal(Some(&bytes(b"\xff"))), Err(Bad::NotUtf8(1)));
        assert!(decimal(Some(&Value::Double(f64::INFINITY))).is_err());
    }

    #[test]
    fn zero_dates_are_not_set_impossible_ones_are_bad() {
        let day = NaiveDate::from_ymd_opt(2027, 1, 31);
        assert_eq!(date(Some(&Value::Date(2027, 1, 31, 0, 0, 0, 0))), Ok(day));
        assert_eq!(date(Some(&Value::Date(0, 0, 0, 0, 0, 0, 0))), Ok(None));
        assert_eq!(
            date(Some(&Value::Date(2027, 2, 30, 0, 0, 0, 0))),
            Err(Bad::NotADate("2027-02-30".into()))
        );
        assert_eq!(date(Some(&bytes(b"2027-01-31"))), Ok(day));
        assert_eq!(date(Some(&bytes(b"2027-01-31 10:00:00"))), Ok(day));
        assert_eq!(date(Some(&bytes(b"0000-00-00"))), Ok(None));
        assert_eq!(date(Some(&bytes(b""))), Ok(None));
        assert_eq!(
            date(Some(&bytes(b"2027-02-30"))),
            Err(Bad::NotADate("2027-02-30".into()))
        );
        assert_eq!(
            date(Some(&bytes(b"soon"))),
            Err(Bad::NotADate("soon".into()))
        );
        assert_eq!(date(Some(&bytes(b"\xff"))), Err(Bad::NotUtf8(1)));
        assert!(date(Some(&Value::Int(20270131))).is_err());
        assert_eq!(date(Some(&Value::NULL)), Ok(None));
    }

    #[test]
    fn a_required_value_names_the_column_and_what_to_do() {
        let e = unusable(
            "item 42",
            "item.period",
            &required::<i64>(Ok(None)).unwrap_err(),
            "set the service's period",
        );
        assert_eq!(e.kind, ErrorKind::Billing);
        assert_eq!(e.object.as_deref(), Some("item.period"));
        assert_eq!(
            e.message,
            "item 42: item.period is NULL in BILLmanager's database; set the service's period"
        );
        let p = required(int(Some(&bytes(b"x")))).unwrap_err();
        assert_eq!(p.to_string(), "holds 'x', not a number");
    }
}
