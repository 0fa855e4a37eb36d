//! Usual rates: calls per hour for each key at each of the week's 168 local hours (Monday 00:00
//! to Sunday 23:00, Suzhou time), the mean over the history's occurrences of that hour.
//!
//! Rates are learned over whole local days ending at the start of today, so every replica that
//! learns on the same day learns the same rates (a replica started in the afternoon and one
//! started in the morning agree).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Asia::Shanghai;

use super::{HotspotKey, IntakeHour};
use crate::scope::{floor_hour, local_midnight};

/// The week's hour of `at` in Suzhou: 0 (Monday 00:00-01:00) to 167.
pub fn week_hour(at: DateTime<Utc>) -> u8 {
    let local = at.with_timezone(&Shanghai);
    (local.weekday().num_days_from_monday() * 24 + local.hour()) as u8
}

/// The history a baseline is learned from on the local day of `now`: `weeks` weeks of whole
/// days ending at today's local midnight.
pub fn history_range(now: DateTime<Utc>, weeks: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = local_midnight(now);
    (to - Duration::weeks(i64::from(weeks)), to)
}

#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Calls per hour by key and week hour; absent: none seen.
    rates: HashMap<(HotspotKey, u8), f64>,
    floor_per_hour: f64,
    /// The local day the rates were learned for (`None`: learned from nothing).
    learned_for: Option<DateTime<Utc>>,
}

impl Baseline {
    /// No history: every key's rate is the floor.
    pub fn empty(floor_per_hour: f64) -> Self {
        Self {
            rates: HashMap::new(),
            floor_per_hour,
            learned_for: None,
        }
    }

    /// Rates from hourly counts over `[from, to)`. `earliest` is the first call the store has:
    /// hours before it are not counted as quiet ones (a centre two days into the system has
    /// two days of history, not four weeks of mostly silence).
    pub fn learn(
        rows: &[IntakeHour],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        earliest: Option<DateTime<Utc>>,
        floor_per_hour: f64,
    ) -> Self {
        let start = match earliest {
            Some(first) => floor_hour(first).max(from),
            None => return Self::empty(floor_per_hour),
        };
        // How often each week hour occurs in the history.
        let mut occurrences = [0u32; 168];
        let mut hour = floor_hour(start);
        while hour < to {
            occurrences[week_hour(hour) as usize] += 1;
            hour += Duration::hours(1);
        }
        let mut sums: HashMap<(HotspotKey, u8), u64> = HashMap::new();
        for row in rows {
            if row.hour < start || row.hour >= to {
                continue;
            }
            let slot = week_hour(row.hour);
            for key in HotspotKey::of(&row.division, &row.category) {
                *sums.entry((key, slot)).or_default() += row.count;
            }
        }
        let rates = sums
            .into_iter()
            .filter_map(|((key, slot), sum)| {
                let seen = occurrences[slot as usize];
                (seen > 0).then(|| ((key, slot), sum as f64 / f64::from(seen)))
            })
            .collect();
        Self {
            rates,
            floor_per_hour,
            learned_for: Some(to),
        }
    }

    /// The usual calls per hour for `key` in the hour holding `at`.
    pub fn rate_per_hour(&self, key: &HotspotKey, at: DateTime<Utc>) -> f64 {
        // A lookup needs an owned key: build it once per call, not per entry.
        let learned = self
            .rates
            .get(&(key.clone(), week_hour(at)))
            .copied()
            .unwrap_or(0.0);
        learned.max(self.floor_per_hour)
    }

    /// The local midnight ending the history it was learned from.
    pub fn learned_for(&self) -> Option<DateTime<Utc>> {
        self.learned_for
    }

    /// How many (key, week hour) rates it holds.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }
}

/// Whether a baseline learned for `learned_for` is stale on the local day of `now`.
pub fn stale(learned_for: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    learned_for != Some(local_midnight(now))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn week_hours_are_counted_in_suzhou_time() {
        // Monday 2026-03-02 09:00 in Suzhou is 01:00 UTC.
        assert_eq!(week_hour(at(2026, 3, 2, 9)), 9);
        // Sunday 23:00 is the last hour of the week.
        assert_eq!(week_hour(at(2026, 3, 8, 23)), 167);
    }

    #[test]
    fn a_rate_is_the_mean_over_the_weeks_the_history_covers() {
        let (from, to) = history_range(at(2026, 3, 30, 15), 4);
        // Six calls at Monday 09:00 over four weeks, in one community.
        let rows: Vec<IntakeHour> = [(2, 3), (9, 1), (16, 0), (23, 2)]
            .into_iter()
            .map(|(day, count)| IntakeHour {
                hour: at(2026, 3, day, 9),
                division: "320508021019".into(),
                category: "SW.TS".into(),
                count,
            })
            .collect();
        let baseline = Baseline::learn(&rows, from, to, Some(from), 0.01);
        let street = HotspotKey::of("320508021", "SW")[1].clone();
        assert_eq!(street.territory, "320508021");
        assert!((baseline.rate_per_hour(&street, at(2026, 3, 30, 9)) - 1.5).abs() < 1e-9);
        // Another hour: nothing learned, the floor.
        assert_eq!(baseline.rate_per_hour(&street, at(2026, 3, 30, 10)), 0.01);
    }

    #[test]
    fn a_young_store_divides_by_the_history_it_has_not_by_the_weeks_asked() {
        let (from, to) = history_range(at(2026, 3, 30, 15), 4);
        let rows = vec![IntakeHour {
            hour: at(2026, 3, 23, 9),
            division: "320508".into(),
            category: "SW".into(),
            count: 4,
        }];
        let baseline = Baseline::learn(&rows, from, to, Some(at(2026, 3, 22, 14)), 0.01);
        let district = HotspotKey::of("320508", "SW")[0].clone();
        assert_eq!(baseline.rate_per_hour(&district, at(2026, 3, 30, 9)), 4.0);
    }

    #[test]
    fn a_baseline_is_stale_once_the_local_day_changes() {
        let (_, to) = history_range(at(2026, 3, 30, 15), 4);
        assert!(!stale(Some(to), at(2026, 3, 30, 23)));
        assert!(stale(Some(to), at(2026, 3, 31, 0)));
        assert!(stale(None, at(2026, 3, 31, 0)));
    }
}
