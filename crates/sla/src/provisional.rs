//! A provisional calendar for a year whose State Council notice is not out yet, built from the
//! law rather than guessed.
//!
//! 《全国年节及纪念日放假办法》 (as amended in 2024, in force from 2025) gives every citizen these
//! days off:
//! - 元旦 1 day: 1 January;
//! - 春节 4 days: 除夕 (the last day of the lunar year) to 初三;
//! - 清明 1 day: the day of the 清明 solar term;
//! - 劳动节 2 days: 1-2 May;
//! - 端午 1 day: lunar 5/5;
//! - 中秋 1 day: lunar 8/15;
//! - 国庆 3 days: 1-3 October.
//!
//! The lunar dates and the solar term come from the `nongli` crate, not a table of our own. What
//! the law does not fix is the 调休: which weekend days the notice turns into working days and
//! which weekdays it adds to a holiday block. A provisional year therefore has the statutory
//! days off and the plain weekends, and no make-up days; a deadline counted on it is marked
//! provisional until the notice is loaded and the deadline recomputed.

use chrono::{Datelike, Days, NaiveDate};
use nongli::{ChineseDate, SolarTerm};

use crate::holidays::{ExceptionDay, HolidayFile};

/// The statutory days off of `year`, by date, with the festival each belongs to. `None` when
/// the lunar calendar crate does not cover the year.
pub fn statutory_days_off(year: i32) -> Option<Vec<(NaiveDate, &'static str)>> {
    let day = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let lunar = |m, d| lunar_day(year, m, d);
    let mut days = vec![(day(1, 1)?, "元旦")];
    let new_year = lunar(1, 1)?;
    let eve = new_year.checked_sub_days(Days::new(1))?;
    for offset in 0..4 {
        days.push((eve.checked_add_days(Days::new(offset))?, "春节"));
    }
    days.push((qingming(year)?, "清明节"));
    days.push((day(5, 1)?, "劳动节"));
    days.push((day(5, 2)?, "劳动节"));
    days.push((lunar(5, 5)?, "端午节"));
    days.push((lunar(8, 15)?, "中秋节"));
    for d in 1..=3 {
        days.push((day(10, d)?, "国庆节"));
    }
    days.sort_by_key(|(date, _)| *date);
    // 中秋 can fall within 国庆 (2020, 2025): one day off, not two.
    days.dedup_by_key(|(date, _)| *date);
    Some(days)
}

/// The day of the 清明 solar term: 4, 5 or 6 April.
/// The Gregorian day of the lunar date `month`/`day` (not a leap month) of lunar `year`.
/// nongli's own `to_gregorian` prints a debugging line to stderr on every call (0.4.1, the
/// newest), so the day is found through `from_gregorian`, which does not: every day of a lunar
/// year's twelve months falls between 20 January of `year` and 400 days later.
fn lunar_day(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let wanted = ChineseDate::new(year, month, false, day)?;
    let start = NaiveDate::from_ymd_opt(year, 1, 20)?;
    (0..400)
        .filter_map(|i| start.checked_add_days(Days::new(i)))
        .find(|date| {
            ChineseDate::from_gregorian(date).is_some_and(|c| {
                (c.year(), c.month(), c.leap(), c.day())
                    == (wanted.year(), wanted.month(), wanted.leap(), wanted.day())
            })
        })
}

fn qingming(year: i32) -> Option<NaiveDate> {
    (3..=6)
        .filter_map(|d| NaiveDate::from_ymd_opt(year, 4, d))
        .find(|date| SolarTerm::from_date(date) == Some(SolarTerm::Qingming))
}

/// `year`'s provisional notice in the holiday-cn shape: the statutory days off, no make-up
/// days. `None` when the lunar calendar crate does not cover the year.
pub fn provisional_file(year: i32) -> Option<HolidayFile> {
    let days = statutory_days_off(year)?
        .into_iter()
        // Only this year's own days: 除夕 of a lunar year that starts in late January is still
        // in January, so nothing spills over; but keep the rule explicit.
        .filter(|(date, _)| date.year() == year)
        .map(|(date, name)| ExceptionDay {
            date,
            is_off_day: true,
            name: name.to_owned(),
        })
        .collect();
    Some(HolidayFile {
        file: format!("{year} (provisional, statutory holidays only)"),
        year,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_provisional_2027_has_the_statutory_holidays_on_their_dates() {
        let days = statutory_days_off(2027).unwrap();
        let dates: Vec<NaiveDate> = days.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            dates,
            vec![
                date(2027, 1, 1),
                // 除夕 2027-02-05, 春节 (初一) 2027-02-06, 初二, 初三.
                date(2027, 2, 5),
                date(2027, 2, 6),
                date(2027, 2, 7),
                date(2027, 2, 8),
                date(2027, 4, 5),
                date(2027, 5, 1),
                date(2027, 5, 2),
                date(2027, 6, 9),
                date(2027, 9, 15),
                date(2027, 10, 1),
                date(2027, 10, 2),
                date(2027, 10, 3),
            ]
        );
        let names: Vec<&str> = days.iter().map(|(_, n)| *n).collect();
        assert_eq!(names.iter().filter(|n| **n == "春节").count(), 4);
        assert_eq!(names[5], "清明节");
    }

    /// The published notices 2020-2026 contain the statutory days (only the 调休 around them
    /// differ): every lunar holiday and 清明 this module computes is an off day in them.
    #[test]
    fn the_lunar_holidays_and_qingming_agree_with_the_published_notices() {
        for file in HolidayFile::builtin().unwrap() {
            if !file.is_published() {
                continue;
            }
            let year = file.year;
            let off: std::collections::BTreeSet<NaiveDate> = file
                .days
                .iter()
                .filter(|d| d.is_off_day)
                .map(|d| d.date)
                .collect();
            let lunar = |m, d| lunar_day(year, m, d).unwrap();
            let new_year = lunar(1, 1);
            let mut must = vec![
                ("春节初一", new_year),
                ("春节初二", new_year + Days::new(1)),
                ("春节初三", new_year + Days::new(2)),
                ("清明", qingming(year).unwrap()),
                ("端午", lunar(5, 5)),
                ("中秋", lunar(8, 15)),
            ];
            // 除夕 became statutory in 2025.
            if year >= 2025 {
                must.push(("除夕", new_year - Days::new(1)));
            }
            for (what, day) in must {
                assert!(
                    off.contains(&day),
                    "{year}: {what} {day} is not off in {}",
                    file.file
                );
            }
        }
    }

    #[test]
    fn a_provisional_file_lists_only_days_off() {
        let file = provisional_file(2028).unwrap();
        assert_eq!(file.year, 2028);
        assert!(file.is_published());
        assert!(file
            .days
            .iter()
            .all(|d| d.is_off_day && d.date.year() == 2028));
        let dates: Vec<NaiveDate> = file.days.iter().map(|d| d.date).collect();
        assert!(dates.contains(&date(2028, 1, 1)) && dates.contains(&date(2028, 10, 3)));
        // Sorted and without a date twice (中秋 can fall inside 国庆).
        assert!(dates.windows(2).all(|w| w[0] < w[1]));
    }
}
