//! A service's period as BILLmanager stores it (`item.period`), and what of
//! it may be sent upstream as an order's period.
//!
//! UNCONFIRMED, kept here and nowhere else: `item.period` is months, with
//! special values no document lists (field evidence field-2026-12 §7):
//! -100 is a trial (ISPsystem's own code: `TRIAL = "-100"`; `pricelist.export`
//! shows a trial period as `length="-100"`), 0 a lifetime or one-off service,
//! -50 daily billing (seen in third-party code only). None of them is a number
//! of months: no date is ever computed from one, and only a trial is ever
//! sent upstream, where the upstream tariff sells one.

use std::fmt;

/// `item.period` / `length` of a trial.
pub const TRIAL: i64 = -100;
/// `item.period` / `length` of a lifetime or one-off service.
pub const LIFETIME: i64 = 0;
/// `item.period` / `length` of daily billing.
pub const DAILY: i64 = -50;
/// The longest period taken as months: a century. No one sells longer, and
/// a date computed from more would be nonsense (or no date at all).
pub const MAX_MONTHS: u32 = 1200;

/// What `item.period` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// 1 to [`MAX_MONTHS`] months.
    Months(u32),
    /// -100.
    Trial,
    /// 0.
    Lifetime,
    /// -50.
    Daily,
    /// Anything else (other negatives, more than [`MAX_MONTHS`]).
    Unknown(i64),
    /// Not set: NULL, or no number, in BILLmanager's database. Only what is
    /// bought or dated by the month needs the period (an order, a renewal,
    /// the paid term); everything else about the service goes on without it
    /// (a close still deletes the certificate upstream).
    Missing,
}

impl Period {
    pub fn from_db(value: i64) -> Period {
        match value {
            TRIAL => Period::Trial,
            LIFETIME => Period::Lifetime,
            DAILY => Period::Daily,
            n => match u32::try_from(n) {
                Ok(m) if (1..=MAX_MONTHS).contains(&m) => Period::Months(m),
                _ => Period::Unknown(n),
            },
        }
    }

    /// Whole months, the only period a term is computed from or a renewal
    /// is bought for.
    pub fn months(self) -> Option<u32> {
        match self {
            Period::Months(m) => Some(m),
            _ => None,
        }
    }

    /// The value as stored (`None`: not set).
    pub fn code(self) -> Option<i64> {
        Some(match self {
            Period::Months(m) => i64::from(m),
            Period::Trial => TRIAL,
            Period::Lifetime => LIFETIME,
            Period::Daily => DAILY,
            Period::Unknown(n) => n,
            Period::Missing => return None,
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Months(m) => write!(f, "{m} months"),
            Period::Trial => write!(f, "trial ({TRIAL})"),
            Period::Lifetime => write!(f, "lifetime/one-off ({LIFETIME})"),
            Period::Daily => write!(f, "daily ({DAILY})"),
            Period::Unknown(n) => write!(f, "{n} (not a period pmsslreseller knows)"),
            Period::Missing => write!(f, "not set (item.period is NULL or no number)"),
        }
    }
}

/// What an order may carry upstream as its period: whole months, or the
/// upstream's trial where its tariff sells one. Lifetime, daily and unknown
/// periods cannot be expressed, so they are never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderPeriod {
    Months(u32),
    Trial,
}

impl OrderPeriod {
    /// The `period` field of the order.
    pub fn wire(self) -> i64 {
        match self {
            OrderPeriod::Months(m) => i64::from(m),
            OrderPeriod::Trial => TRIAL,
        }
    }
}

impl fmt::Display for OrderPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderPeriod::Months(m) => write!(f, "{m} months"),
            OrderPeriod::Trial => write!(f, "the trial"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_are_not_months() {
        assert_eq!(Period::from_db(12), Period::Months(12));
        assert_eq!(Period::from_db(-100), Period::Trial);
        assert_eq!(Period::from_db(0), Period::Lifetime);
        assert_eq!(Period::from_db(-50), Period::Daily);
        assert_eq!(Period::from_db(-1), Period::Unknown(-1));
        assert_eq!(Period::from_db(1201), Period::Unknown(1201));
        assert_eq!(Period::from_db(i64::MAX), Period::Unknown(i64::MAX));
        for p in [-100, 0, -50, -1, 1201] {
            assert_eq!(Period::from_db(p).months(), None, "{p}");
            assert_eq!(Period::from_db(p).code(), Some(p));
        }
        assert_eq!(Period::from_db(1200).months(), Some(1200));
    }

    #[test]
    fn each_is_named() {
        assert_eq!(Period::Trial.to_string(), "trial (-100)");
        assert_eq!(Period::Lifetime.to_string(), "lifetime/one-off (0)");
        assert_eq!(Period::Daily.to_string(), "daily (-50)");
        assert_eq!(Period::Months(24).to_string(), "24 months");
        assert!(Period::Unknown(-7).to_string().starts_with("-7 "));
        assert_eq!(Period::Missing.code(), None);
        assert!(Period::Missing.to_string().contains("NULL"));
        assert_eq!(Period::Missing.months(), None);
        assert_eq!(OrderPeriod::Trial.wire(), -100);
        assert_eq!(OrderPeriod::Months(12).wire(), 12);
    }
}
