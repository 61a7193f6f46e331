use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use std::sync::Mutex;

/// Time as the domain sees it; tests pin it with [`FixedClock`] instead of sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// China Standard Time (UTC+8 all year): the stores' business day. Dates people type
/// (birthdays, visit days, consent days) are days in it, so "not in the future" compares with
/// [`business_date`], not with the UTC date, which lags by a day from 16:00 UTC.
pub fn china_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(chrono::Offset::fix(&Utc))
}

/// The stores' calendar day at `at`.
pub fn business_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china_time()).date_naive()
}

/// A clock that stands still until moved.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(t) => *t,
            Err(p) => *p.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn business_date_is_a_day_ahead_of_utc_in_the_evening() {
        let evening = Utc.with_ymd_and_hms(2026, 11, 26, 16, 30, 0).unwrap();
        assert_eq!(
            business_date(evening),
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
        );
        let morning = Utc.with_ymd_and_hms(2026, 11, 26, 15, 59, 59).unwrap();
        assert_eq!(
            business_date(morning),
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
        );
    }
}
