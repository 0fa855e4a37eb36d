//! [`Span`]: a time limit as the regulations state it ("5 working days", "2 hours").
//!
//! The unit matters as much as the number: working days and working hours follow the official
//! calendar and office hours; clock hours and minutes do not (emergencies run day and night).

use std::fmt;
use std::str::FromStr;

use hotline_core::InvalidInput;
use serde::{Deserialize, Serialize};

/// A time limit. Written in configuration as `"<n> <unit>"`, e.g. `"5 wd"`, `"2 wh"`, `"24 h"`,
/// `"30 min"` (long unit names and Chinese names work too, see [`Span::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Span {
    /// N working days (工作日), counted from the day after the start, inclusive (含本数); due at
    /// the close of office hours of the Nth working day.
    WorkingDays(u32),
    /// N hours of office time on working days.
    WorkingHours(u32),
    /// N hours of wall-clock time, holidays and nights included.
    ClockHours(u32),
    /// N minutes of wall-clock time.
    ClockMinutes(u32),
}

/// The unit names [`Span::parse`] accepts, by variant. The first is the canonical one.
const WORKING_DAYS: &[&str] = &[
    "wd",
    "working day",
    "working days",
    "working_day",
    "working_days",
    "工作日",
    "个工作日",
];
const WORKING_HOURS: &[&str] = &[
    "wh",
    "working hour",
    "working hours",
    "working_hour",
    "working_hours",
    "工作小时",
    "个工作小时",
];
const CLOCK_HOURS: &[&str] = &[
    "h",
    "hour",
    "hours",
    "clock hour",
    "clock hours",
    "clock_hours",
    "小时",
    "个小时",
];
const CLOCK_MINUTES: &[&str] = &[
    "min",
    "mins",
    "minute",
    "minutes",
    "clock minute",
    "clock minutes",
    "clock_minutes",
    "分钟",
];

impl Span {
    /// Parses `"<n> <unit>"`: units `wd` (working days), `wh` (working hours), `h` (clock hours),
    /// `min` (clock minutes), or their long / Chinese names (`"5 working days"`, `"5个工作日"`).
    /// The space is optional. Negative numbers and a missing unit are refused with a message
    /// that says so.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let text = raw.trim();
        if text.starts_with('-') {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?} is negative; a time limit must be zero or more"),
            ));
        }
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits_end);
        if number.is_empty() {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?} is not a time limit (write e.g. \"5 wd\", \"2 wh\", \"24 h\", \"30 min\")"),
            ));
        }
        let amount: u32 = number
            .parse()
            .map_err(|_| InvalidInput::new(field, format!("{raw:?}: the number is too large")))?;
        let unit = unit.trim().to_lowercase();
        let constructor: fn(u32) -> Span = if WORKING_DAYS.contains(&unit.as_str()) {
            Span::WorkingDays
        } else if WORKING_HOURS.contains(&unit.as_str()) {
            Span::WorkingHours
        } else if CLOCK_HOURS.contains(&unit.as_str()) {
            Span::ClockHours
        } else if CLOCK_MINUTES.contains(&unit.as_str()) {
            Span::ClockMinutes
        } else if unit.is_empty() {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?} has no unit (wd = working days, wh = working hours, h = clock hours, min = clock minutes)"),
            ));
        } else {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?}: unknown unit {unit:?} (wd = working days, wh = working hours, h = clock hours, min = clock minutes)"),
            ));
        };
        Ok(constructor(amount))
    }

    /// The number, whatever the unit.
    pub fn amount(self) -> u32 {
        match self {
            Span::WorkingDays(n)
            | Span::WorkingHours(n)
            | Span::ClockHours(n)
            | Span::ClockMinutes(n) => n,
        }
    }

    /// True for spans counted on the working calendar (working days, working hours).
    pub fn is_working_time(self) -> bool {
        matches!(self, Span::WorkingDays(_) | Span::WorkingHours(_))
    }

    /// The span as wall-clock time, for clock spans only.
    pub fn clock_duration(self) -> Option<chrono::TimeDelta> {
        match self {
            Span::ClockHours(h) => Some(chrono::TimeDelta::hours(i64::from(h))),
            Span::ClockMinutes(m) => Some(chrono::TimeDelta::minutes(i64::from(m))),
            Span::WorkingDays(_) | Span::WorkingHours(_) => None,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::WorkingDays(n) => write!(f, "{n} wd"),
            Span::WorkingHours(n) => write!(f, "{n} wh"),
            Span::ClockHours(n) => write!(f, "{n} h"),
            Span::ClockMinutes(n) => write!(f, "{n} min"),
        }
    }
}

impl FromStr for Span {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("span", s)
    }
}

impl TryFrom<String> for Span {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("span", &value)
    }
}

impl From<Span> for String {
    fn from(value: Span) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_chinese_units_parse() {
        assert_eq!(Span::parse("s", "5 wd").unwrap(), Span::WorkingDays(5));
        assert_eq!(Span::parse("s", "5wd").unwrap(), Span::WorkingDays(5));
        assert_eq!(
            Span::parse("s", "15 working days").unwrap(),
            Span::WorkingDays(15)
        );
        assert_eq!(Span::parse("s", "5个工作日").unwrap(), Span::WorkingDays(5));
        assert_eq!(Span::parse("s", "2 WH").unwrap(), Span::WorkingHours(2));
        assert_eq!(Span::parse("s", "24 h").unwrap(), Span::ClockHours(24));
        assert_eq!(Span::parse("s", "30 min").unwrap(), Span::ClockMinutes(30));
        assert_eq!(Span::parse("s", "30分钟").unwrap(), Span::ClockMinutes(30));
    }

    #[test]
    fn negative_unitless_and_unknown_units_are_refused_with_the_reason() {
        let err = Span::parse("resolution", "-5 wd").unwrap_err();
        assert_eq!(err.field, "resolution");
        assert!(err.message.contains("negative"), "{err}");
        assert!(Span::parse("s", "5")
            .unwrap_err()
            .message
            .contains("no unit"));
        assert!(Span::parse("s", "5 fortnights")
            .unwrap_err()
            .message
            .contains("unknown unit"));
        assert!(Span::parse("s", "soon")
            .unwrap_err()
            .message
            .contains("not a time limit"));
        assert!(Span::parse("s", "99999999999 wd")
            .unwrap_err()
            .message
            .contains("too large"));
    }

    #[test]
    fn display_round_trips_through_parse() {
        for span in [
            Span::WorkingDays(5),
            Span::WorkingHours(2),
            Span::ClockHours(24),
            Span::ClockMinutes(30),
        ] {
            assert_eq!(span.to_string().parse::<Span>().unwrap(), span);
        }
    }
}
