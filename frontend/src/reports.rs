//! The reports page's pure logic: the filter (period, store, tier, day or month), the request
//! paths it makes, and the chart series taken from the server's figures.

use crate::api::with_query;
use chrono::{Datelike, Duration, NaiveDate};
use dms_api_types::membership::{StatisticsDto, StatisticsReportDto};

/// The longest period the statistics endpoints take.
pub const MAX_DAYS: i64 = 366;

/// What the user chose above the charts. Dates are `YYYY-MM-DD`; `to` is the last day shown
/// (inclusive for the user, sent as the exclusive day after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFilter {
    pub from: String,
    pub to: String,
    /// Empty: every store of the user's.
    pub store_id: String,
    /// Empty: every tier.
    pub tier: String,
    /// `day` or `month`.
    pub granularity: String,
}

/// Why a filter cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterError {
    /// The field (`from` or `to`) is not a date.
    BadDate(&'static str),
    /// `to` is before `from`.
    Reversed,
    /// More than [`MAX_DAYS`] days.
    TooLong,
}

impl ReportFilter {
    /// The last 30 days up to `today`, by day.
    pub fn last_30_days(today: NaiveDate) -> ReportFilter {
        ReportFilter {
            from: (today - Duration::days(29)).to_string(),
            to: today.to_string(),
            store_id: String::new(),
            tier: String::new(),
            granularity: "day".into(),
        }
    }

    /// The period as `[from, to_exclusive)`, checked.
    pub fn period(&self) -> Result<(NaiveDate, NaiveDate), FilterError> {
        let from = parse_day(&self.from).ok_or(FilterError::BadDate("from"))?;
        let to = parse_day(&self.to).ok_or(FilterError::BadDate("to"))?;
        if to < from {
            return Err(FilterError::Reversed);
        }
        let end = to + Duration::days(1);
        if (end - from).num_days() > MAX_DAYS {
            return Err(FilterError::TooLong);
        }
        Ok((from, end))
    }

    fn common(&self) -> Option<(String, String)> {
        self.period()
            .ok()
            .map(|(from, end)| (from.to_string(), end.to_string()))
    }

    /// `GET /membership/statistics` for this filter (`by_period` per day or month).
    pub fn membership_path(&self) -> String {
        let (from, to) = self.common().unwrap_or_default();
        with_query(
            "/membership/statistics",
            &[
                ("from", Some(&from)),
                ("to", Some(&to)),
                ("store_id", Some(&self.store_id)),
                ("tier", Some(&self.tier)),
                ("granularity", Some(&self.granularity)),
            ],
        )
    }

    /// The XLSX export of the membership figures, with every filter.
    pub fn membership_export_path(&self) -> String {
        let (from, to) = self.common().unwrap_or_default();
        with_query(
            "/membership/statistics/export",
            &[
                ("from", Some(&from)),
                ("to", Some(&to)),
                ("store_id", Some(&self.store_id)),
                ("tier", Some(&self.tier)),
                ("granularity", Some(&self.granularity)),
                ("format", Some("xlsx")),
            ],
        )
    }

    /// `GET /crm/statistics/export` for this filter (the CRM figures have no tier).
    pub fn crm_export_path(&self) -> String {
        let (from, to) = self.common().unwrap_or_default();
        with_query(
            "/crm/statistics/export",
            &[
                ("from", Some(&from)),
                ("to", Some(&to)),
                ("store_id", Some(&self.store_id)),
                ("format", Some("xlsx")),
            ],
        )
    }

    /// The file name offered for an export.
    pub fn file_name(&self, what: &str) -> String {
        format!("{what}-{}-{}.xlsx", self.from, self.to)
    }
}

/// Now, from the browser's clock (`chrono::Utc::now` has no clock on wasm32).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// Today in the browser's calendar (the store's: the desk runs in the store's time zone).
pub fn today() -> NaiveDate {
    let now = js_sys::Date::new_0();
    NaiveDate::from_ymd_opt(
        now.get_full_year() as i32,
        now.get_month() + 1,
        now.get_date(),
    )
    .unwrap_or_default()
}

pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Yuan from a decimal money string (charts only: sums stay on the server).
pub fn yuan_value(s: &str) -> f64 {
    s.trim().parse::<f64>().unwrap_or(0.0)
}

/// One chart's data: the x labels and one or more named series of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<String>,
    pub lines: Vec<(String, Vec<f64>)>,
}

impl Series {
    pub fn is_all_zero(&self) -> bool {
        self.lines.iter().all(|(_, v)| v.iter().all(|x| *x == 0.0))
    }
}

/// The rows of the chart over time: the server's `by_period` (day or month), or, from a server
/// that only sends `by_day`, the days (summed per month when months were asked for).
pub fn periods(report: &StatisticsReportDto, by_month: bool) -> Vec<(String, Vec<&StatisticsDto>)> {
    if !report.by_period.is_empty() {
        return report
            .by_period
            .iter()
            .map(|p| (short_period(&p.period), vec![&p.statistics]))
            .collect();
    }
    let mut out: Vec<(String, Vec<&StatisticsDto>)> = Vec::new();
    for row in &report.by_day {
        let label = if by_month {
            format!("{}-{:02}", row.day.year(), row.day.month())
        } else {
            format!("{:02}-{:02}", row.day.month(), row.day.day())
        };
        match out.last_mut() {
            Some((l, rows)) if *l == label => rows.push(&row.statistics),
            _ => out.push((label, vec![&row.statistics])),
        }
    }
    out
}

/// `2026-11-05` → `11-05` (the year is in the filter); a month stays `2026-11`.
fn short_period(p: &str) -> String {
    if p.len() == 10 {
        p[5..].to_string()
    } else {
        p.to_string()
    }
}

/// One figure of a row (a chart line).
type Figure = fn(&StatisticsDto) -> f64;

fn series_of(rows: &[(String, Vec<&StatisticsDto>)], lines: &[(&str, Figure)]) -> Series {
    Series {
        labels: rows.iter().map(|(l, _)| l.clone()).collect(),
        lines: lines
            .iter()
            .map(|(name, f)| {
                (
                    name.to_string(),
                    rows.iter()
                        .map(|(_, r)| r.iter().map(|s| f(s)).sum())
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Money over time: topped up, consumed (paid from cards) and checkout totals, in yuan.
pub fn money_series(report: &StatisticsReportDto, by_month: bool, names: [&str; 3]) -> Series {
    series_of(
        &periods(report, by_month),
        &[
            (names[0], |s| yuan_value(&s.topped_up)),
            (names[1], |s| yuan_value(&s.consumed)),
            (names[2], |s| yuan_value(&s.checkout_total)),
        ],
    )
}

/// Counts over time: checkouts, cards issued, coupons used.
pub fn count_series(report: &StatisticsReportDto, by_month: bool, names: [&str; 3]) -> Series {
    series_of(
        &periods(report, by_month),
        &[
            (names[0], |s| s.checkouts as f64),
            (names[1], |s| s.cards_issued as f64),
            (names[2], |s| s.coupons_used as f64),
        ],
    )
}

/// One bar per row: (label, statistics) pairs such as tiers or stores, with the money lines.
pub fn money_bars(rows: Vec<(String, &StatisticsDto)>, names: [&str; 2]) -> Series {
    let rows: Vec<(String, Vec<&StatisticsDto>)> =
        rows.into_iter().map(|(l, s)| (l, vec![s])).collect();
    series_of(
        &rows,
        &[
            (names[0], |s| yuan_value(&s.topped_up)),
            (names[1], |s| yuan_value(&s.checkout_total)),
        ],
    )
}

/// A rate in percent (`part` of `whole`), `None` when there is nothing to divide.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dms_api_types::membership::{DayStatisticsDto, PeriodStatisticsDto};

    fn stats(topped: &str, checkouts: i64) -> StatisticsDto {
        StatisticsDto {
            topped_up: topped.into(),
            bonus_granted: "0.00".into(),
            consumed: "10.50".into(),
            refunded: "0.00".into(),
            bonus_forfeited: "0.00".into(),
            checkouts,
            checkouts_voided: 0,
            checkout_total: "20.00".into(),
            cards_issued: 1,
            points_earned: 0,
            points_redeemed: 0,
            gift_redemptions: 0,
            gift_points: 0,
            coupons_used: 0,
        }
    }

    fn day(d: &str, topped: &str, checkouts: i64) -> DayStatisticsDto {
        DayStatisticsDto {
            day: parse_day(d).unwrap(),
            statistics: stats(topped, checkouts),
        }
    }

    fn report() -> StatisticsReportDto {
        StatisticsReportDto {
            from: parse_day("2026-10-31").unwrap(),
            to: parse_day("2026-11-03").unwrap(),
            granularity: Default::default(),
            total: stats("0", 0),
            by_store: vec![],
            by_period: vec![],
            by_tier: vec![],
            by_category: vec![],
            by_day: vec![
                day("2026-10-31", "100.00", 1),
                day("2026-11-01", "200.00", 2),
                day("2026-11-02", "300.50", 3),
            ],
        }
    }

    #[test]
    fn the_last_day_is_included_and_sent_exclusive() {
        let f = ReportFilter::last_30_days(parse_day("2026-11-26").unwrap());
        assert_eq!(f.from, "2026-10-28");
        let (from, end) = f.period().unwrap();
        assert_eq!((end - from).num_days(), 30);
        assert_eq!(
            f.membership_path(),
            "/membership/statistics?from=2026-10-28&to=2026-11-27&granularity=day"
        );
    }

    #[test]
    fn bad_periods_are_refused_before_sending() {
        let mut f = ReportFilter::last_30_days(parse_day("2026-11-26").unwrap());
        f.to = "2026-13-01".into();
        assert_eq!(f.period(), Err(FilterError::BadDate("to")));
        f.to = "2026-10-01".into();
        assert_eq!(f.period(), Err(FilterError::Reversed));
        f.from = "2025-01-01".into();
        f.to = "2026-01-02".into();
        assert_eq!(f.period(), Err(FilterError::TooLong));
        f.to = "2026-01-01".into();
        assert!(f.period().is_ok());
    }

    #[test]
    fn export_paths_carry_every_filter() {
        let f = ReportFilter {
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            store_id: "s1".into(),
            tier: "gold".into(),
            granularity: "month".into(),
        };
        assert_eq!(
            f.membership_export_path(),
            "/membership/statistics/export?from=2026-11-01&to=2026-12-01&store_id=s1&tier=gold&granularity=month&format=xlsx"
        );
        assert_eq!(
            f.crm_export_path(),
            "/crm/statistics/export?from=2026-11-01&to=2026-12-01&store_id=s1&format=xlsx"
        );
        assert_eq!(f.file_name("crm"), "crm-2026-11-01-2026-11-30.xlsx");
    }

    #[test]
    fn days_sum_into_months() {
        let r = report();
        let by_day = money_series(&r, false, ["a", "b", "c"]);
        assert_eq!(by_day.labels, vec!["10-31", "11-01", "11-02"]);
        assert_eq!(by_day.lines[0].1, vec![100.0, 200.0, 300.5]);
        let by_month = count_series(&r, true, ["a", "b", "c"]);
        assert_eq!(by_month.labels, vec!["2026-10", "2026-11"]);
        assert_eq!(by_month.lines[0].1, vec![1.0, 5.0]);
        assert_eq!(by_month.lines[1].1, vec![1.0, 2.0]);
        assert!(!by_month.is_all_zero());
    }

    #[test]
    fn the_servers_periods_come_first() {
        let mut r = report();
        r.by_period = vec![PeriodStatisticsDto {
            period: "2026-11".into(),
            statistics: stats("7.00", 9),
        }];
        let s = count_series(&r, true, ["a", "b", "c"]);
        assert_eq!(s.labels, vec!["2026-11"]);
        assert_eq!(s.lines[0].1, vec![9.0]);
        r.by_period[0].period = "2026-11-05".into();
        assert_eq!(
            money_series(&r, false, ["a", "b", "c"]).labels,
            vec!["11-05"]
        );
        let bars = money_bars(vec![("gold".into(), &r.total)], ["t", "c"]);
        assert_eq!(bars.lines.len(), 2);
    }

    #[test]
    fn rates() {
        assert_eq!(percent(1, 4), Some(25.0));
        assert_eq!(percent(1, 0), None);
    }
}
