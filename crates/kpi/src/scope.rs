//! What a query covers: where ([`Scope`]), when ([`Period`]) and how it is split ([`GroupBy`]).

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Asia::Shanghai;

use crate::store::Grain;
use crate::KpiError;

/// Where figures are counted: the stations (and, for intake, the territory) inside a division,
/// by code prefix, or one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// A division code: the city (`3205`), a district (6 digits), street (9) or community (12).
    Division(String),
    Station(String),
}

/// How a report is split into rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Station,
    Street,
    District,
    Category,
    Channel,
    Staff,
    Day,
}

/// A half-open period `[from, to)` on whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// Checks the order and the length, and rounds to whole hours (`from` down, `to` up): the
    /// finest aggregate is an hour.
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<Self, KpiError> {
        if to <= from {
            return Err(KpiError::invalid(
                "to",
                format!("the period ends ({to}) at or before it starts ({from}); give from < to"),
            ));
        }
        if to - from > Duration::days(i64::from(retention_days)) {
            return Err(KpiError::invalid(
                "from",
                format!(
                    "the period spans {} days; figures are kept for {retention_days} days \
                     (KPI retention): ask for a shorter period",
                    (to - from).num_days()
                ),
            ));
        }
        let from = floor_hour(from);
        let ceil = floor_hour(to);
        let to = if ceil == to {
            ceil
        } else {
            ceil + Duration::hours(1)
        };
        Ok(Self { from, to })
    }

    /// The local (Asia/Shanghai) day starting today up to `now`'s next hour.
    pub fn today(now: DateTime<Utc>) -> Self {
        let from = local_midnight(now);
        let to = floor_hour(now) + Duration::hours(1);
        Self { from, to }
    }

    /// The period as pieces each read from one table: whole local months from the monthly
    /// table, whole local days at the months' edges from the daily one, and the hours at the
    /// days' edges from the hourly one. `by_day`: no months (a report split by day needs daily
    /// rows). Each piece is half-open, in UTC instants.
    pub fn segments(&self, by_day: bool) -> Vec<(Grain, DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        let first_day = ceil_day(self.from);
        let last_day = local_midnight(self.to);
        if first_day >= last_day {
            return vec![(Grain::Hour, self.from, self.to)];
        }
        if self.from < first_day {
            out.push((Grain::Hour, self.from, first_day));
        }
        let first_month = ceil_month(first_day);
        let last_month = local_month_start(last_day);
        if by_day || first_month >= last_month {
            out.push((Grain::Day, first_day, last_day));
        } else {
            if first_day < first_month {
                out.push((Grain::Day, first_day, first_month));
            }
            out.push((Grain::Month, first_month, last_month));
            if last_month < last_day {
                out.push((Grain::Day, last_month, last_day));
            }
        }
        if last_day < self.to {
            out.push((Grain::Hour, last_day, self.to));
        }
        out
    }
}

/// The first local midnight at or after `at`.
fn ceil_day(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = local_midnight(at);
    if down == at {
        at
    } else {
        local_midnight(down + Duration::hours(36))
    }
}

/// The first local month start at or after `at`.
fn ceil_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = local_month_start(at);
    if down == at {
        at
    } else {
        // 32 days past a month's start is inside the next month.
        local_month_start(down + Duration::days(32))
    }
}

pub(crate) fn floor_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .expect("whole hours exist")
}

/// The start (in UTC) of the local month holding `at`.
pub(crate) fn local_month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&Shanghai).date_naive();
    let first = local.with_day(1).expect("every month has a first day");
    Shanghai
        .from_local_datetime(&first.and_time(NaiveTime::MIN))
        .single()
        .expect("China has no DST: every local midnight exists once")
        .with_timezone(&Utc)
}

/// The start (in UTC) of the local day holding `at`.
pub(crate) fn local_midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    let date = at.with_timezone(&Shanghai).date_naive();
    Shanghai
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .expect("China has no DST: every local midnight exists once")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_period_splits_into_months_days_and_edge_hours() {
        // 2026-01-30 10:00+08 to 2026-04-02 09:00+08.
        let p = Period::new(t("2026-01-30T02:00:00Z"), t("2026-04-02T01:00:00Z"), 400).unwrap();
        assert_eq!(
            p.segments(false),
            vec![
                (
                    Grain::Hour,
                    t("2026-01-30T02:00:00Z"),
                    t("2026-01-30T16:00:00Z")
                ),
                (
                    Grain::Day,
                    t("2026-01-30T16:00:00Z"),
                    t("2026-01-31T16:00:00Z")
                ),
                (
                    Grain::Month,
                    t("2026-01-31T16:00:00Z"),
                    t("2026-03-31T16:00:00Z")
                ),
                (
                    Grain::Day,
                    t("2026-03-31T16:00:00Z"),
                    t("2026-04-01T16:00:00Z")
                ),
                (
                    Grain::Hour,
                    t("2026-04-01T16:00:00Z"),
                    t("2026-04-02T01:00:00Z")
                ),
            ]
        );
        // Split by day: no months.
        assert_eq!(
            p.segments(true)[1],
            (
                Grain::Day,
                t("2026-01-30T16:00:00Z"),
                t("2026-04-01T16:00:00Z")
            )
        );
        // Inside one day: hours only.
        let short = Period::new(t("2026-03-01T02:00:00Z"), t("2026-03-01T04:00:00Z"), 400).unwrap();
        assert_eq!(
            short.segments(false),
            vec![(
                Grain::Hour,
                t("2026-03-01T02:00:00Z"),
                t("2026-03-01T04:00:00Z")
            )]
        );
    }

    #[test]
    fn reversed_and_overlong_periods_are_refused() {
        assert!(Period::new(t("2026-03-02T00:00:00Z"), t("2026-03-01T00:00:00Z"), 400).is_err());
        assert!(Period::new(t("2020-01-01T00:00:00Z"), t("2026-03-01T00:00:00Z"), 400).is_err());
    }

    #[test]
    fn periods_round_out_to_whole_hours() {
        let p = Period::new(t("2026-03-01T02:10:00Z"), t("2026-03-01T04:01:00Z"), 400).unwrap();
        assert_eq!(
            (p.from, p.to),
            (t("2026-03-01T02:00:00Z"), t("2026-03-01T05:00:00Z"))
        );
    }
}
