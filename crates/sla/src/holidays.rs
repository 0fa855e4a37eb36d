//! Reading the official holiday calendar (法定节假日 + 调休) in the holiday-cn JSON format.
//!
//! A file `YYYY.json` lists only the exceptions of year YYYY's State Council notice: holidays
//! (`isOffDay: true`) and make-up working days (`isOffDay: false`, often a Saturday). The New
//! Year block of year Y may start in late December of Y-1, and holiday-cn puts those days in
//! Y's file (`2023.json` holds `2022-12-31`). A file with no days (like `2027.json` before the
//! 2027 notice) means "not published", never "no holidays".
//!
//! Copies of 2020-2027 ship in `data/holidays/` (MIT licence beside them) and are embedded, so a
//! bare machine has them. This module only parses and checks; [`crate::calendar`] turns the
//! files into a day table.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::error::CalendarError;

/// The holiday files embedded in the binary: `(file name, contents)`.
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("2020.json", include_str!("../data/holidays/2020.json")),
    ("2021.json", include_str!("../data/holidays/2021.json")),
    ("2022.json", include_str!("../data/holidays/2022.json")),
    ("2023.json", include_str!("../data/holidays/2023.json")),
    ("2024.json", include_str!("../data/holidays/2024.json")),
    ("2025.json", include_str!("../data/holidays/2025.json")),
    ("2026.json", include_str!("../data/holidays/2026.json")),
    ("2027.json", include_str!("../data/holidays/2027.json")),
];

/// One exception day from a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionDay {
    pub date: NaiveDate,
    /// True for a holiday, false for a make-up working day (调休上班).
    pub is_off_day: bool,
    /// The festival it belongs to (元旦, 春节, ...).
    pub name: String,
}

/// One year's notice, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayFile {
    /// The file name, for error messages.
    pub file: String,
    pub year: i32,
    /// The exception days, sorted by date. Empty when the year is not published.
    pub days: Vec<ExceptionDay>,
}

impl HolidayFile {
    /// A year is published when its file lists at least one day: every real notice has holidays.
    pub fn is_published(&self) -> bool {
        !self.days.is_empty()
    }

    /// Parses a holiday-cn file. `file` names it in errors; when it is `YYYY.json` the year
    /// inside must agree with the name.
    pub fn parse(file: &str, contents: &str) -> Result<Self, CalendarError> {
        let bad = |problem: String| CalendarError::BadHolidayFile {
            file: file.to_owned(),
            problem,
        };
        let raw: RawFile = serde_json::from_str(contents)
            .map_err(|e| bad(format!("not a holiday-cn calendar: {e}")))?;
        if let Some(named) = year_of_file_name(file) {
            if named != raw.year {
                return Err(bad(format!(
                    "the file is named for {named} but says \"year\": {}",
                    raw.year
                )));
            }
        }
        let mut by_date: BTreeMap<NaiveDate, ExceptionDay> = BTreeMap::new();
        for (index, day) in raw.days.into_iter().enumerate() {
            let date = NaiveDate::parse_from_str(day.date.trim(), "%Y-%m-%d").map_err(|_| {
                bad(format!(
                    "day {index} ({}): {:?} is not a date (YYYY-MM-DD)",
                    day.name, day.date
                ))
            })?;
            // A notice covers its own year and may reach into the last days of the previous
            // one; anything further away is a mistake in the file. Saturating: the year is
            // whatever the file says, and `i32::MIN - 1` overflowed.
            let previous_year = raw.year.saturating_sub(1);
            if date.year() < previous_year || date.year() > raw.year {
                return Err(bad(format!(
                    "day {index} ({}): {date} is outside the years a {} notice can cover ({}-{})",
                    day.name, raw.year, previous_year, raw.year
                )));
            }
            let exception = ExceptionDay {
                date,
                is_off_day: day.is_off_day,
                name: day.name,
            };
            if let Some(previous) = by_date.get(&date) {
                if previous.is_off_day != exception.is_off_day {
                    return Err(bad(format!(
                        "{date} is listed both as a holiday and as a working day"
                    )));
                }
            }
            by_date.insert(date, exception);
        }
        Ok(Self {
            file: file.to_owned(),
            year: raw.year,
            days: by_date.into_values().collect(),
        })
    }

    /// The embedded files (2020-2027).
    pub fn builtin() -> Result<Vec<Self>, CalendarError> {
        BUILTIN_FILES
            .iter()
            .map(|(name, contents)| Self::parse(&format!("(built-in) {name}"), contents))
            .collect()
    }

    /// Every `YYYY.json` in `dir` (other files, such as `schema.json` or the licence, are
    /// ignored). An unreadable or invalid file is an error naming it.
    pub fn read_dir(dir: &Path) -> Result<Vec<Self>, CalendarError> {
        let files = Self::read_dir_maybe_empty(dir)?;
        if files.is_empty() {
            return Err(CalendarError::BadHolidayFile {
                file: dir.display().to_string(),
                problem: "the directory has no holiday files (YYYY.json)".to_owned(),
            });
        }
        Ok(files)
    }

    /// Like [`HolidayFile::read_dir`], but a directory without files is no error: a centre
    /// creates the directory that next year's notice will go in before the notice exists.
    pub fn read_dir_maybe_empty(dir: &Path) -> Result<Vec<Self>, CalendarError> {
        let io_err = |source| CalendarError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if year_of_file_name(name).is_none() {
                continue;
            }
            let shown = path.display().to_string();
            let contents =
                std::fs::read_to_string(&path).map_err(|e| CalendarError::BadHolidayFile {
                    file: shown.clone(),
                    problem: format!("cannot be read: {e}"),
                })?;
            // Name errors by the full path, but check the year against the bare file name.
            let mut parsed = Self::parse(name, &contents).map_err(|e| match e {
                CalendarError::BadHolidayFile { problem, .. } => CalendarError::BadHolidayFile {
                    file: shown.clone(),
                    problem,
                },
                other => other,
            })?;
            parsed.file = shown;
            files.push(parsed);
        }
        files.sort_by_key(|f| f.year);
        Ok(files)
    }
}

/// `Some(2026)` for `2026.json` (a bare name or the end of a path), else `None`.
fn year_of_file_name(file: &str) -> Option<i32> {
    let name = file.rsplit(['/', '\\', ' ']).next()?;
    let stem = name.strip_suffix(".json")?;
    if stem.len() == 4 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

#[derive(Deserialize)]
struct RawFile {
    year: i32,
    // `papers` (the notices' addresses) is part of the format but not needed here.
    days: Vec<RawDay>,
}

#[derive(Deserialize)]
struct RawDay {
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found reading the parser while fuzzing it (the `holiday_file` target had not reached
    /// it): a year of `i32::MIN` with one day overflowed computing the previous year.
    #[test]
    fn a_file_for_the_smallest_year_is_refused_not_overflowed() {
        let file = r#"{"year": -2147483648, "papers": [],
            "days": [{"name": "元旦", "date": "2026-01-01", "isOffDay": true}]}"#;
        let error = HolidayFile::parse("a.json", file).unwrap_err().to_string();
        assert!(error.contains("outside the years"), "{error}");
    }

    #[test]
    fn every_builtin_file_parses_and_only_2027_is_unpublished() {
        let files = HolidayFile::builtin().unwrap();
        assert_eq!(files.len(), 8);
        for file in &files {
            assert_eq!(file.is_published(), file.year != 2027, "{}", file.file);
        }
    }

    #[test]
    fn the_2023_notice_reaches_back_into_2022() {
        let files = HolidayFile::builtin().unwrap();
        let y2023 = files.iter().find(|f| f.year == 2023).unwrap();
        let first = &y2023.days[0];
        assert_eq!(first.date, NaiveDate::from_ymd_opt(2022, 12, 31).unwrap());
        assert!(first.is_off_day);
        assert_eq!(first.name, "元旦");
    }

    #[test]
    fn a_broken_file_is_named_with_its_problem() {
        let err = HolidayFile::parse("2026.json", "{\"year\": 2026, \"days\": [").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("2026.json"), "{text}");
        assert!(text.contains("not a holiday-cn calendar"), "{text}");

        let bad_date = r#"{"year": 2026, "papers": [], "days": [{"name": "元旦", "date": "2026-13-01", "isOffDay": true}]}"#;
        let text = HolidayFile::parse("2026.json", bad_date)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("2026.json") && text.contains("2026-13-01"),
            "{text}"
        );

        let wrong_year = r#"{"year": 2025, "papers": [], "days": []}"#;
        let text = HolidayFile::parse("2026.json", wrong_year)
            .unwrap_err()
            .to_string();
        assert!(text.contains("named for 2026"), "{text}");

        let far = r#"{"year": 2026, "papers": [], "days": [{"name": "x", "date": "2024-05-01", "isOffDay": true}]}"#;
        let text = HolidayFile::parse("2026.json", far)
            .unwrap_err()
            .to_string();
        assert!(text.contains("outside"), "{text}");
    }

    #[test]
    fn file_names_give_years_only_for_yyyy_json() {
        assert_eq!(year_of_file_name("2026.json"), Some(2026));
        assert_eq!(year_of_file_name("/x/holidays/2026.json"), Some(2026));
        assert_eq!(year_of_file_name("(built-in) 2026.json"), Some(2026));
        assert_eq!(year_of_file_name("schema.json"), None);
        assert_eq!(year_of_file_name("LICENSE.holiday-cn"), None);
    }
}
