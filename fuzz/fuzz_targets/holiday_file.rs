//! The holiday-cn calendar file parser (`sla/data/holidays/YYYY.json`), as a centre's
//! `holidays/` update directory is read. The input is one or two files (split at the first NUL
//! byte), so a calendar built from several notices is exercised too. Property: never panics;
//! a calendar built from files it accepts answers working-day questions about the years it
//! covers, with errors for the years it does not.
#![no_main]

use hotline_sla::holidays::HolidayFile;
use hotline_sla::WorkingCalendar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, second) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let mut files = Vec::new();
    for (name, bytes) in [("a.json", Some(first)), ("b.json", second)] {
        let Some(Ok(text)) = bytes.map(std::str::from_utf8) else {
            continue;
        };
        match HolidayFile::parse(name, text) {
            Ok(file) => files.push(file),
            Err(_) => return,
        }
    }
    for file in &files {
        assert!(
            file.days.windows(2).all(|w| w[0].date < w[1].date),
            "the days of a parsed file are sorted and unique"
        );
    }
    let years: Vec<i32> = files.iter().map(|f| f.year).collect();
    let Ok(calendar) = WorkingCalendar::from_files(files) else {
        return;
    };
    for year in years {
        let Some(new_year) = chrono::NaiveDate::from_ymd_opt(year, 1, 1) else {
            continue;
        };
        let _ = calendar.is_working_day(new_year);
        for n in [1, 5, 20] {
            let _ = calendar.nth_working_day_after(new_year, n);
        }
        let _ = calendar.with_provisional_until(year.saturating_add(1));
    }
});
