//! Hotspot / surge alerts: a rise in calls about one kind of problem in one place, far above
//! what that place usually gets at this hour of this weekday (2,000 calls about one 停水 in one
//! street in ten minutes), found while it happens.
//!
//! # The test
//! Calls are counted per [`HotspotKey`] (a district, street or community, and a category's
//! first level) in short buckets (a minute by default). At the close of every bucket the
//! detector sums the last window of buckets (ten minutes) for each key and asks how likely that
//! many calls would be if the key got calls at its usual rate: Poisson with mean = the sum of
//! the [`Baseline`]'s rate for each bucket's weekday and hour. Improbable (the upper tail at or
//! below [`HotspotConfig::p_value`]) *and* at least [`HotspotConfig::min_count`] calls: an
//! alert. The count floor keeps quiet keys (a community that gets a water call a month) from
//! alerting on two calls, whose probability is small but whose meaning is nothing.
//!
//! One surge is one alert: once raised, an alert stays until the window has been unremarkable
//! for [`HotspotConfig::cool_down`], then it is cleared (an all-clear) and the key may alert
//! again.
//!
//! # Determinism
//! Everything is a function of the calls' creation times (not when a replica heard of them)
//! and of a baseline learned over whole local days, so every replica fed the same store reaches
//! the same alerts with the same ids. A bucket is evaluated only [`HotspotConfig::grace`]
//! after it ends, so calls committed just before its end are in.
//!
//! # Layout
//! - [`poisson`]: the upper tail in logarithms.
//! - [`baseline`]: [`Baseline`], usual rates per key, weekday and hour, learned from history.
//! - [`detector`]: [`Detector`], the sliding windows and the alert state per key.

pub mod baseline;
pub mod detector;
pub mod poisson;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};

pub use baseline::Baseline;
pub use detector::{Detector, Transition};

use crate::KpiError;

/// The alert's settings; [`HotspotConfig::validate`] refuses values the test cannot work with.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotConfig {
    /// Counting bucket; the window slides by one bucket.
    pub bucket: Duration,
    /// The counting window: a whole number of buckets.
    pub window: Duration,
    /// An alert when the window's count is this improbable under the usual rate (0 < p < 0.5).
    pub p_value: f64,
    /// ...and at least this many calls in the window.
    pub min_count: u32,
    /// An alert clears after the window has been unremarkable this long.
    pub cool_down: Duration,
    /// Weeks of history the usual rates are learned from.
    pub history_weeks: u32,
    /// The usual rate (calls per hour) assumed where history shows less, e.g. a key never
    /// seen before.
    pub floor_per_hour: f64,
    /// A bucket is evaluated this long after it ends, so calls committed late are in it.
    pub grace: Duration,
}

impl Default for HotspotConfig {
    fn default() -> Self {
        Self {
            bucket: Duration::seconds(60),
            window: Duration::minutes(10),
            p_value: 1e-6,
            min_count: 10,
            cool_down: Duration::minutes(30),
            history_weeks: 4,
            floor_per_hour: 0.5,
            grace: Duration::seconds(10),
        }
    }
}

impl HotspotConfig {
    /// The most buckets a window may hold (the test sums them per key at every bucket).
    pub const MAX_BUCKETS: i64 = 240;

    pub fn validate(&self) -> Result<(), KpiError> {
        let invalid = |field, message: String| Err(KpiError::invalid(field, message));
        if self.bucket < Duration::seconds(1) || self.bucket > Duration::hours(1) {
            return invalid(
                "hotspot bucket",
                format!(
                    "{} s: give 1 s to 3600 s",
                    self.bucket.num_milliseconds() as f64 / 1000.0
                ),
            );
        }
        let bucket_ms = self.bucket.num_milliseconds();
        let window_ms = self.window.num_milliseconds();
        if window_ms < bucket_ms || window_ms % bucket_ms != 0 {
            return invalid(
                "hotspot window",
                format!(
                    "{} s is not a whole number (at least 1) of {} s buckets",
                    window_ms as f64 / 1000.0,
                    bucket_ms as f64 / 1000.0
                ),
            );
        }
        if window_ms / bucket_ms > Self::MAX_BUCKETS {
            return invalid(
                "hotspot window",
                format!(
                    "{} buckets: at most {} (use longer buckets)",
                    window_ms / bucket_ms,
                    Self::MAX_BUCKETS
                ),
            );
        }
        // Not a NaN, and below a half: at or above the mean the tail is about a half, so a
        // larger p would alert on an ordinary hour.
        if !(self.p_value > 0.0 && self.p_value < 0.5) {
            return invalid(
                "hotspot p-value",
                format!(
                    "{}: give a probability between 0 and 0.5, e.g. 1e-6",
                    self.p_value
                ),
            );
        }
        if self.min_count == 0 {
            return invalid(
                "hotspot min count",
                "0: give at least 1 call (the default is 10)".into(),
            );
        }
        if self.cool_down < Duration::zero() {
            return invalid(
                "hotspot cool-down",
                "negative: give 0 or more seconds".into(),
            );
        }
        if !(1..=52).contains(&self.history_weeks) {
            return invalid(
                "hotspot history weeks",
                format!("{}: give 1 to 52 weeks", self.history_weeks),
            );
        }
        if !(self.floor_per_hour.is_finite() && self.floor_per_hour > 0.0) {
            return invalid(
                "hotspot floor per hour",
                format!(
                    "{}: give a rate above 0 calls per hour, e.g. 0.5",
                    self.floor_per_hour
                ),
            );
        }
        if self.grace < Duration::zero() || self.grace > self.window {
            return invalid(
                "hotspot grace",
                "give 0 seconds up to the window's length".into(),
            );
        }
        Ok(())
    }

    pub(crate) fn window_buckets(&self) -> i64 {
        self.window.num_milliseconds() / self.bucket.num_milliseconds()
    }
}

/// The level of the territory a key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    District,
    Street,
    Community,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::District, Level::Street, Level::Community];

    pub fn code(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
        }
    }

    /// Digits of a division code at this level (区县 6, 街道 9, 社区 12).
    fn digits(self) -> usize {
        match self {
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
        }
    }
}

/// What one count is about: a territory at one level and a category's first level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HotspotKey {
    pub level: Level,
    pub territory: String,
    pub category: String,
}

impl HotspotKey {
    /// The keys a call about `category` in `division` counts in: its community, street and
    /// district, as far as the code goes; none when the code is not a district, street or
    /// community code or the category is empty.
    pub fn of(division: &str, category: &str) -> Vec<HotspotKey> {
        let root = category.split('.').next().unwrap_or("").trim();
        let digits = division.len();
        if root.is_empty()
            || !division.bytes().all(|b| b.is_ascii_digit())
            || ![6, 9, 12].contains(&digits)
        {
            return Vec::new();
        }
        Level::ALL
            .into_iter()
            .filter(|level| level.digits() <= digits)
            .map(|level| HotspotKey {
                level,
                territory: division[..level.digits()].to_owned(),
                category: root.to_owned(),
            })
            .collect()
    }
}

/// One call, as the detector counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub ticket_id: String,
    pub at: DateTime<Utc>,
    pub division: String,
    pub category: String,
}

/// Calls per hour (its start), division and category, from the store's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeHour {
    pub hour: DateTime<Utc>,
    pub division: String,
    pub category: String,
    pub count: u64,
}

/// A surge: raised, still on, or cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The same on every replica: key and the bucket it was raised at.
    pub id: String,
    pub key: HotspotKey,
    /// Calls in the window at the last evaluation while it was on.
    pub count: u64,
    /// The most calls in one window during the surge.
    pub peak: u64,
    /// The usual number of calls in such a window at that weekday and hour.
    pub expected: f64,
    pub window: Duration,
    /// The surge's start as the counts show it: the earliest bucket from which the calls alone
    /// are already improbable.
    pub since: DateTime<Utc>,
    /// The end of the bucket whose evaluation raised it.
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}
