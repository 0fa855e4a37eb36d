//! Durations as a scenario writes them: `"90 s"`, `"30 min"`, `"2 h"`, `"3 d"` (a day is 24
//! clock hours; working time is the behaviour model's business, not the unit's).

use chrono::Duration;

/// Parses `"<number> <unit>"`; the number may have a fraction (`"1.5 h"`).
pub fn parse(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: f64 = number.trim().parse().map_err(|_| {
        format!("{raw:?} is not a duration: write a number and a unit, e.g. \"30 min\", \"2 h\", \"3 d\"")
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{raw:?}: a duration cannot be negative"));
    }
    let seconds = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1.0,
        "min" | "mins" | "minute" | "minutes" | "m" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        other => {
            return Err(format!(
                "{raw:?}: unknown unit {other:?} (one of: s, min, h, d)"
            ))
        }
    };
    Ok(Duration::milliseconds(
        (value * seconds * 1000.0).round() as i64
    ))
}

/// How a duration is written back (the report's echo of the scenario).
pub fn format(d: Duration) -> String {
    let s = d.num_milliseconds() as f64 / 1000.0;
    if s >= 86400.0 && (s % 86400.0) == 0.0 {
        format!("{} d", s / 86400.0)
    } else if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.0} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_planners_write_them() {
        assert_eq!(parse("30 min").unwrap(), Duration::minutes(30));
        assert_eq!(parse("1.5 h").unwrap(), Duration::minutes(90));
        assert_eq!(parse("3 d").unwrap(), Duration::days(3));
        assert_eq!(parse("45s").unwrap(), Duration::seconds(45));
    }

    #[test]
    fn negative_or_unitless_durations_are_refused() {
        assert!(parse("-2 h").unwrap_err().contains("negative"));
        assert!(parse("2 weeks").unwrap_err().contains("unknown unit"));
        assert!(parse("soon").unwrap_err().contains("not a duration"));
    }
}
