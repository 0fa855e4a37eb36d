//! What a query covers: where ([`Scope`]), when ([`Period`]) and how it is split ([`GroupBy`]).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Asia::Shanghai;

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

    /// The period's whole local days `[first, last)` and the hour ranges outside them.
    /// Returns (days, hour ranges), each half-open in UTC instants.
    pub fn split(
        &self,
    ) -> (
        Option<(DateTime<Utc>, DateTime<Utc>)>,
        Vec<(DateTime<Utc>, DateTime<Utc>)>,
    ) {
        let first_day = {
            let m = local_midnight(self.from);
            if m == self.from {
                m
            } else {
                next_local_midnight(self.from)
            }
        };
        let last_day = local_midnight(self.to);
        if first_day >= last_day {
            return (None, vec![(self.from, self.to)]);
        }
        let mut hours = Vec::new();
        if self.from < first_day {
            hours.push((self.from, first_day));
        }
        if last_day < self.to {
            hours.push((last_day, self.to));
        }
        (Some((first_day, last_day)), hours)
    }
}

pub(crate) fn floor_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .expect("whole hours exist")
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

fn next_local_midnight(at: DateTime<Utc>) -> DateTime<Utc> {
    local_midnight(at + Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_period_splits_into_whole_local_days_and_edge_hours() {
        // 2026-03-01 10:00+08 to 2026-03-04 09:00+08.
        let p = Period::new(t("2026-03-01T02:00:00Z"), t("2026-03-04T01:00:00Z"), 400).unwrap();
        let (days, hours) = p.split();
        assert_eq!(
            days,
            Some((t("2026-03-01T16:00:00Z"), t("2026-03-03T16:00:00Z")))
        );
        assert_eq!(
            hours,
            vec![
                (t("2026-03-01T02:00:00Z"), t("2026-03-01T16:00:00Z")),
                (t("2026-03-03T16:00:00Z"), t("2026-03-04T01:00:00Z")),
            ]
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
