//! [`WorkingCalendar`]: working days and office hours in Asia/Shanghai, and the deadline
//! arithmetic on them.
//!
//! # Rules
//! - A day is a working day when the official notice makes it one (调休 make-up days, even a
//!   Saturday), or when it is a Monday-Friday that the notice does not make a holiday.
//! - A year whose notice is not loaded is *unknown*: any count that needs one of its days fails
//!   with [`CalendarError::UnknownYear`]. So do the last [`NEW_YEAR_REACH_BACK_DAYS`] days of
//!   December of a known year when the next year is unknown, because the next New Year block can
//!   start there (2022-12-31 was a holiday by the 2023 notice, 2017-12-30 by the 2018 one).
//! - [`Span::WorkingDays`]`(n)`: counted from the day after the start (the start day never
//!   counts, whatever the hour, so a ticket received after hours or on a holiday needs no special
//!   case), inclusive: due at the close of office hours of the nth working day (Guangzhou: 日为
//!   工作日, 含本数). `WorkingDays(0)` is the close of the current working day (of the next one
//!   when the start is on a day off or after closing).
//! - [`Span::WorkingHours`]`(n)`: only office time on working days counts; a start outside office
//!   hours starts counting at the next opening. A deadline that uses up an interval exactly is
//!   due at its closing time, not at the next opening.
//! - Clock spans are plain elapsed time; they never touch the calendar and never fail.
//!
//! # Speed
//! The holiday files are turned once into a table with one entry per day (about 3,000 entries
//! for 2020-2027), so every question is an index into a `Vec`. Asia/Shanghai has had no
//! daylight-saving time since 1991, so local wall-clock arithmetic equals elapsed time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::error::CalendarError;
use crate::holidays::HolidayFile;
use crate::span::Span;

/// The time zone of every working calendar: the centre is in Suzhou.
pub const TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// How many days at the end of December depend on the next year's notice. The New Year block
/// has reached back to Dec 30 (2018 notice) and Dec 31 (2012 and 2023 notices); a week is a
/// margin without blocking much.
pub const NEW_YEAR_REACH_BACK_DAYS: u32 = 7;

/// A pause of the clock: `(from, until)`.
pub type Pause = (DateTime<Utc>, DateTime<Utc>);

/// What one day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayKind {
    Working,
    Off,
    /// Counted on the provisional calendar (statutory holidays and weekends, no 调休) of a
    /// year whose notice is not loaded yet: see [`crate::provisional`].
    ProvisionalWorking,
    ProvisionalOff,
    /// Not known until the notice of this year is loaded.
    Unknown(i32),
}

/// Office hours on a working day: sorted, non-overlapping intervals of local time.
///
/// The default is one window, 09:00-17:30. Jiangsu government offices keep a lunch break
/// whose times change twice a year (summer and winter hours), so a fixed split would be wrong
/// for half the year; and stations do sign for tickets and call citizens back over lunch. One
/// window from the usual opening to the usual close is simple to explain to a station ("your
/// working hours end at 17:30") and gives the unit the lunch time rather than taking it away. A
/// centre that wants the split configures it: `OfficeHours::parse("09:00-12:00, 13:30-17:30")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHours {
    intervals: Vec<(NaiveTime, NaiveTime)>,
}

impl OfficeHours {
    /// Office hours from `(open, close)` intervals, which must be non-empty, each open before
    /// it closes, sorted and not overlapping.
    pub fn new(intervals: Vec<(NaiveTime, NaiveTime)>) -> Result<Self, CalendarError> {
        if intervals.is_empty() {
            return Err(CalendarError::BadOfficeHours(
                "are empty: at least one interval is needed".to_owned(),
            ));
        }
        for (index, &(open, close)) in intervals.iter().enumerate() {
            if open >= close {
                return Err(CalendarError::BadOfficeHours(format!(
                    "interval {} ({}-{}) does not open before it closes",
                    index + 1,
                    open.format("%H:%M"),
                    close.format("%H:%M")
                )));
            }
            if let Some(&(_, previous_close)) = index.checked_sub(1).map(|i| &intervals[i]) {
                if open < previous_close {
                    return Err(CalendarError::BadOfficeHours(format!(
                        "interval {} opens at {} before the previous one closes at {} (list them in order, without overlaps)",
                        index + 1,
                        open.format("%H:%M"),
                        previous_close.format("%H:%M")
                    )));
                }
            }
        }
        Ok(Self { intervals })
    }

    /// Parses `"09:00-12:00, 13:30-17:30"`.
    pub fn parse(raw: &str) -> Result<Self, CalendarError> {
        let parse_time = |text: &str| {
            NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
                CalendarError::BadOfficeHours(format!("{raw:?}: {text:?} is not a time (HH:MM)"))
            })
        };
        let mut intervals = Vec::new();
        for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
            let (open, close) = part.split_once('-').ok_or_else(|| {
                CalendarError::BadOfficeHours(format!(
                    "{raw:?}: {part:?} is not an interval (HH:MM-HH:MM)"
                ))
            })?;
            intervals.push((parse_time(open)?, parse_time(close)?));
        }
        Self::new(intervals)
    }

    /// The intervals, in order.
    pub fn intervals(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.intervals
    }

    /// When the first interval opens.
    pub fn opening(&self) -> NaiveTime {
        self.intervals[0].0
    }

    /// When the last interval closes: working-day deadlines fall here.
    pub fn closing(&self) -> NaiveTime {
        self.intervals[self.intervals.len() - 1].1
    }

    /// Office time in one working day.
    pub fn length_of_day(&self) -> TimeDelta {
        self.intervals
            .iter()
            .map(|&(open, close)| close - open)
            .fold(TimeDelta::zero(), |a, b| a + b)
    }
}

impl Default for OfficeHours {
    fn default() -> Self {
        Self {
            intervals: vec![(time(9, 0), time(17, 30))],
        }
    }
}

impl fmt::Display for OfficeHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (open, close)) in self.intervals.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}-{}", open.format("%H:%M"), close.format("%H:%M"))?;
        }
        Ok(())
    }
}

impl FromStr for OfficeHours {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn time(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

/// The official working calendar plus office hours. Cheap to query; build it once at start-up
/// and share it (`Arc`) between timers.
#[derive(Clone)]
pub struct WorkingCalendar {
    /// Jan 1 of the first year of the table.
    first_day: NaiveDate,
    /// One entry per day from `first_day`.
    days: Vec<DayKind>,
    /// The first day counted on the provisional calendar, if any: found once here, because
    /// every deadline set and every ticket shown asks whether it reaches that far, and a scan
    /// of `days` (thousands of entries, the provisional ones at the end) for each of them was
    /// a measurable part of a routed submit's CPU.
    first_provisional: Option<NaiveDate>,
    /// Years whose notice is loaded.
    published: Vec<i32>,
    /// Years counted on the provisional calendar.
    provisional: Vec<i32>,
    /// The official files it was built from, to add provisional years later.
    files: Vec<HolidayFile>,
    office: OfficeHours,
}

impl fmt::Debug for WorkingCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkingCalendar")
            .field("first_day", &self.first_day)
            .field("days", &self.days.len())
            .field("published", &self.published)
            .field("provisional", &self.provisional)
            .field("office", &self.office.to_string())
            .finish()
    }
}

impl WorkingCalendar {
    /// The calendar of the embedded holiday files (2020-2027; 2027 unpublished) with the default
    /// office hours.
    pub fn builtin() -> Self {
        // The embedded files are checked by the tests of this crate; they cannot fail at run time.
        let files = HolidayFile::builtin().expect("the embedded holiday files are valid");
        Self::from_files(files).expect("the embedded holiday files are consistent")
    }

    /// The calendar of every `YYYY.json` in `dir` (a centre's own copy of holiday-cn), and
    /// nothing else.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, CalendarError> {
        Self::from_files(HolidayFile::read_dir(dir.as_ref())?)
    }

    /// The embedded files, with any year found in `dir` replacing the embedded one: drop a newly
    /// published `2027.json` into the directory and reload (or restart). The directory may be
    /// empty until then.
    pub fn builtin_with_updates(dir: impl AsRef<Path>) -> Result<Self, CalendarError> {
        let mut by_year: BTreeMap<i32, HolidayFile> = HolidayFile::builtin()?
            .into_iter()
            .map(|f| (f.year, f))
            .collect();
        for file in HolidayFile::read_dir_maybe_empty(dir.as_ref())? {
            by_year.insert(file.year, file);
        }
        Self::from_files(by_year.into_values().collect())
    }

    /// The calendar of in-memory holiday-cn files, `(file name, contents)`.
    pub fn from_json<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, CalendarError> {
        let parsed = files
            .into_iter()
            .map(|(name, contents)| HolidayFile::parse(name, contents))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_files(parsed)
    }

    /// The calendar of parsed holiday files, at most one per year. Years between the first and
    /// the last file that have no file are unknown.
    pub fn from_files(files: Vec<HolidayFile>) -> Result<Self, CalendarError> {
        Self::build(files, Vec::new())
    }

    /// The same calendar, with every year after the last published one up to `until_year`
    /// counted on the provisional calendar (statutory holidays, weekends, no 调休) instead of
    /// being unknown. A centre passes next year: the refusal stays for the years beyond it, and
    /// before the first file.
    pub fn with_provisional_until(&self, until_year: i32) -> Result<Self, CalendarError> {
        let mut files = self.files.clone();
        // With no published year at all (only files with empty `days`, such as the shipped
        // 2027.json), the provisional years start at the calendar's first year. Counting from
        // before every year (`i32::MIN`) walked four billion years: the fuzzer found this hang.
        let first_provisional = match self.published.iter().copied().max() {
            Some(last_published) => last_published.saturating_add(1),
            None => self
                .files
                .iter()
                .map(|f| f.year)
                .min()
                .unwrap_or(until_year),
        };
        let mut provisional = Vec::new();
        for year in first_provisional..=until_year {
            files.retain(|f| f.year != year);
            if let Some(file) = crate::provisional::provisional_file(year) {
                provisional.push(file);
            }
        }
        let office = self.office.clone();
        Ok(Self::build(files, provisional)?.with_office_hours(office))
    }

    fn build(
        files: Vec<HolidayFile>,
        provisional_files: Vec<HolidayFile>,
    ) -> Result<Self, CalendarError> {
        let provisional_years: BTreeSet<i32> = provisional_files.iter().map(|f| f.year).collect();
        let source_files = files.clone();
        let files: Vec<HolidayFile> = files.into_iter().chain(provisional_files).collect();
        let mut by_year: BTreeMap<i32, HolidayFile> = BTreeMap::new();
        for file in files {
            if let Some(other) = by_year.get(&file.year) {
                return Err(CalendarError::BadHolidayFile {
                    file: file.file.clone(),
                    problem: format!("{} is also given by {}", file.year, other.file),
                });
            }
            by_year.insert(file.year, file);
        }
        let (Some(&first_year), Some(&last_year)) =
            (by_year.keys().next(), by_year.keys().next_back())
        else {
            return Err(CalendarError::BadHolidayFile {
                file: "(none)".to_owned(),
                problem: "no holiday files were given".to_owned(),
            });
        };
        let out_of_range = |year: i32| CalendarError::BadHolidayFile {
            file: by_year[&year].file.clone(),
            problem: format!("{year} is not a supported year"),
        };
        let first_day =
            NaiveDate::from_ymd_opt(first_year, 1, 1).ok_or_else(|| out_of_range(first_year))?;
        let last_day =
            NaiveDate::from_ymd_opt(last_year, 12, 31).ok_or_else(|| out_of_range(last_year))?;
        let published: BTreeSet<i32> = by_year
            .values()
            .filter(|f| f.is_published() && !provisional_years.contains(&f.year))
            .map(|f| f.year)
            .collect();
        let known = |year: i32| published.contains(&year) || provisional_years.contains(&year);
        let provisional_day = |date: NaiveDate| {
            provisional_years.contains(&date.year())
                || (date.month() == 12
                    && date.day() > 31 - NEW_YEAR_REACH_BACK_DAYS
                    && provisional_years.contains(&(date.year() + 1)))
        };

        let mut days =
            Vec::with_capacity(usize::try_from((last_day - first_day).num_days() + 1).unwrap_or(0));
        for date in first_day.iter_days().take_while(|d| *d <= last_day) {
            let year = date.year();
            let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            let kind = if !known(year) {
                DayKind::Unknown(year)
            } else if !known(year + 1)
                && date.month() == 12
                && date.day() > 31 - NEW_YEAR_REACH_BACK_DAYS
            {
                DayKind::Unknown(year + 1)
            } else if provisional_day(date) {
                if weekend {
                    DayKind::ProvisionalOff
                } else {
                    DayKind::ProvisionalWorking
                }
            } else if weekend {
                DayKind::Off
            } else {
                DayKind::Working
            };
            days.push(kind);
        }

        // Overlay the notices' exceptions. A date given by two notices must agree.
        let mut seen: HashMap<NaiveDate, (&str, bool)> = HashMap::new();
        for file in by_year.values() {
            for day in &file.days {
                if let Some(&(other, other_off)) = seen.get(&day.date) {
                    if other_off != day.is_off_day {
                        return Err(CalendarError::BadHolidayFile {
                            file: file.file.clone(),
                            problem: format!(
                                "{} is a {} here but a {} in {other}",
                                day.date,
                                kind_name(day.is_off_day),
                                kind_name(other_off)
                            ),
                        });
                    }
                }
                seen.insert(day.date, (&file.file, day.is_off_day));
                let index = (day.date - first_day).num_days();
                if let Some(slot) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) {
                    *slot = match (provisional_day(day.date), day.is_off_day) {
                        (true, true) => DayKind::ProvisionalOff,
                        (true, false) => DayKind::ProvisionalWorking,
                        (false, true) => DayKind::Off,
                        (false, false) => DayKind::Working,
                    };
                }
            }
        }

        let first_provisional = days
            .iter()
            .position(|k| matches!(k, DayKind::ProvisionalWorking | DayKind::ProvisionalOff))
            .and_then(|i| i64::try_from(i).ok())
            .and_then(|i| first_day.checked_add_signed(TimeDelta::days(i)));
        Ok(Self {
            first_day,
            days,
            first_provisional,
            published: published.into_iter().collect(),
            provisional: provisional_years.into_iter().collect(),
            files: source_files,
            office: OfficeHours::default(),
        })
    }

    /// The same calendar with other office hours.
    pub fn with_office_hours(mut self, office: OfficeHours) -> Self {
        self.office = office;
        self
    }

    pub fn office_hours(&self) -> &OfficeHours {
        &self.office
    }

    /// The years whose official notice is loaded, ascending.
    pub fn published_years(&self) -> &[i32] {
        &self.published
    }

    /// Whether `date` is a working day. Fails for a day of an unknown year.
    /// Years counted on the provisional calendar.
    pub fn provisional_years(&self) -> &[i32] {
        &self.provisional
    }

    /// Whether `date` is counted on the provisional calendar (so a deadline on or after it may
    /// move when the notice is loaded).
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        let index = self.index_of(date);
        matches!(
            usize::try_from(index).ok().and_then(|i| self.days.get(i)),
            Some(DayKind::ProvisionalWorking | DayKind::ProvisionalOff)
        )
    }

    /// Whether a deadline at `due` was counted over provisional days: the provisional days
    /// are the calendar's last ones, so a deadline on or after the first of them was.
    pub fn is_provisional_deadline(&self, due: DateTime<Utc>) -> bool {
        let due = self.local_date(due);
        self.is_provisional(due) || self.first_provisional().is_some_and(|first| due >= first)
    }

    fn first_provisional(&self) -> Option<NaiveDate> {
        self.first_provisional
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.is_working_at(self.index_of(date))
    }

    /// The nth working day after `date` (`date` itself never counts); `n = 0` gives `date`.
    pub fn nth_working_day_after(
        &self,
        date: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Ok(date);
        }
        let index = self.nth_working_index_after(self.index_of(date), n)?;
        Ok(self.date_at(index))
    }

    /// The nth working day before `date` (`date` itself never counts); `n = 0` gives `date`.
    pub fn nth_working_day_before(
        &self,
        date: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        let mut index = self.index_of(date);
        let mut counted = 0;
        while counted < n {
            index -= 1;
            if self.is_working_at(index)? {
                counted += 1;
            }
        }
        Ok(self.date_at(index))
    }

    /// The local (Asia/Shanghai) date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        to_local(at).date()
    }

    /// When office hours open on `date` (whether or not it is a working day).
    pub fn opening_on(&self, date: NaiveDate) -> DateTime<Utc> {
        from_local(date.and_time(self.office.opening()))
    }

    /// When office hours close on `date` (whether or not it is a working day).
    pub fn closing_on(&self, date: NaiveDate) -> DateTime<Utc> {
        from_local(date.and_time(self.office.closing()))
    }

    /// The deadline `span` after `start`. See the module documentation for how each unit counts.
    pub fn add(&self, start: DateTime<Utc>, span: Span) -> Result<DateTime<Utc>, CalendarError> {
        match span {
            Span::ClockHours(_) | Span::ClockMinutes(_) => {
                Ok(start + span.clock_duration().unwrap_or_default())
            }
            Span::WorkingHours(hours) => {
                self.add_working_time(start, TimeDelta::hours(i64::from(hours)))
            }
            Span::WorkingDays(n) => self.add_working_days(start, n),
        }
    }

    /// An approved extension (延期): the deadline moves `span` further on from the old deadline.
    /// For working days this is the close of the nth working day after the old deadline's day.
    pub fn extend(&self, due: DateTime<Utc>, span: Span) -> Result<DateTime<Utc>, CalendarError> {
        self.add(due, span)
    }

    /// `amount` of office time after `start`. A zero amount gives `start` itself.
    pub fn add_working_time(
        &self,
        start: DateTime<Utc>,
        amount: TimeDelta,
    ) -> Result<DateTime<Utc>, CalendarError> {
        if amount <= TimeDelta::zero() {
            return Ok(start);
        }
        let local_start = to_local(start);
        let mut index = self.index_of(local_start.date());
        let mut floor = Some(local_start.time());
        let mut remaining = amount;
        loop {
            let left_today = floor.is_none_or(|t| t < self.office.closing());
            if left_today && self.is_working_at(index)? {
                let date = self.date_at(index);
                for &(open, close) in &self.office.intervals {
                    let from = floor.map_or(open, |t| t.max(open));
                    if from >= close {
                        continue;
                    }
                    let available = close - from;
                    if remaining <= available {
                        return Ok(from_local(date.and_time(from) + remaining));
                    }
                    remaining -= available;
                }
            }
            floor = None;
            index += 1;
        }
    }

    /// Office time on working days between `from` and `until` (zero when `until <= from`). Fails
    /// only when office time of an unknown day lies in between.
    pub fn working_time_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<TimeDelta, CalendarError> {
        if until <= from {
            return Ok(TimeDelta::zero());
        }
        let (local_from, local_until) = (to_local(from), to_local(until));
        let mut total = TimeDelta::zero();
        for index in self.index_of(local_from.date())..=self.index_of(local_until.date()) {
            let date = self.date_at(index);
            let today = self
                .office
                .intervals
                .iter()
                .map(|&(open, close)| {
                    let lo = date.and_time(open).max(local_from);
                    let hi = date.and_time(close).min(local_until);
                    (hi - lo).max(TimeDelta::zero())
                })
                .fold(TimeDelta::zero(), |a, b| a + b);
            if today > TimeDelta::zero() && self.is_working_at(index)? {
                total += today;
            }
        }
        Ok(total)
    }

    /// The deadline `span` after `start` when the clock was paused (挂起, waiting on the caller)
    /// during `pauses`. Each pause that begins before the deadline (as moved by the earlier
    /// pauses) moves it by the paused time: office time for working spans, elapsed time for
    /// clock spans. A pause that begins after the deadline changes nothing (an overdue ticket
    /// stays overdue). Pauses may overlap and come in any order; a pause still running is passed
    /// with `until = now`.
    pub fn add_with_pauses(
        &self,
        start: DateTime<Utc>,
        span: Span,
        pauses: &[Pause],
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut due = self.add(start, span)?;
        for (from, until) in merge_pauses(pauses)? {
            let from = from.max(start);
            if until <= from {
                continue;
            }
            if from >= due {
                break;
            }
            due = if span.is_working_time() {
                let paused = self.working_time_between(from, until)?;
                self.add_working_time(due, paused)?
            } else {
                due + (until - from)
            };
        }
        Ok(due)
    }

    fn add_working_days(
        &self,
        start: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let local_start = to_local(start);
        let start_index = self.index_of(local_start.date());
        let due_index = if n == 0 {
            if local_start.time() <= self.office.closing() && self.is_working_at(start_index)? {
                start_index
            } else {
                self.nth_working_index_after(start_index, 1)?
            }
        } else {
            self.nth_working_index_after(start_index, n)?
        };
        Ok(self.closing_on(self.date_at(due_index)))
    }

    /// The index of the nth working day after `index`, `n >= 1`. Ends: past the table every day
    /// is unknown.
    fn nth_working_index_after(&self, mut index: i64, n: u32) -> Result<i64, CalendarError> {
        let mut counted = 0;
        while counted < n {
            index += 1;
            if self.is_working_at(index)? {
                counted += 1;
            }
        }
        Ok(index)
    }

    fn index_of(&self, date: NaiveDate) -> i64 {
        (date - self.first_day).num_days()
    }

    fn date_at(&self, index: i64) -> NaiveDate {
        self.first_day
            .checked_add_signed(TimeDelta::days(index))
            .unwrap_or(if index < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            })
    }

    fn is_working_at(&self, index: i64) -> Result<bool, CalendarError> {
        let kind = usize::try_from(index)
            .ok()
            .and_then(|i| self.days.get(i).copied())
            .unwrap_or_else(|| DayKind::Unknown(self.date_at(index).year()));
        match kind {
            DayKind::Working | DayKind::ProvisionalWorking => Ok(true),
            DayKind::Off | DayKind::ProvisionalOff => Ok(false),
            DayKind::Unknown(year) => Err(CalendarError::UnknownYear(year)),
        }
    }
}

fn kind_name(is_off_day: bool) -> &'static str {
    if is_off_day {
        "holiday"
    } else {
        "working day"
    }
}

fn to_local(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&TIME_ZONE).naive_local()
}

fn from_local(local: NaiveDateTime) -> DateTime<Utc> {
    match TIME_ZONE.from_local_datetime(&local).earliest() {
        Some(at) => at.with_timezone(&Utc),
        // Only reachable for a wall-clock time skipped by a DST change, which Asia/Shanghai has
        // not had since 1991 (before any holiday file): fall back to UTC+8.
        None => Utc.from_utc_datetime(&(local - TimeDelta::hours(8))),
    }
}

/// Checks, sorts and merges overlapping pauses.
fn merge_pauses(pauses: &[Pause]) -> Result<Vec<Pause>, CalendarError> {
    for (index, &(start, end)) in pauses.iter().enumerate() {
        if end < start {
            return Err(CalendarError::BadPause { index, start, end });
        }
    }
    let mut sorted = pauses.to_vec();
    sorted.sort();
    let mut merged: Vec<Pause> = Vec::with_capacity(sorted.len());
    for (start, end) in sorted {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_hours_parse_and_refuse_overlaps() {
        let split = OfficeHours::parse("09:00-12:00, 13:30-17:30").unwrap();
        assert_eq!(split.to_string(), "09:00-12:00, 13:30-17:30");
        assert_eq!(split.length_of_day(), TimeDelta::hours(7));
        assert_eq!(OfficeHours::default().to_string(), "09:00-17:30");
        assert!(OfficeHours::parse("09:00-12:00, 11:00-17:30")
            .unwrap_err()
            .to_string()
            .contains("before the previous one closes"));
        assert!(OfficeHours::parse("17:00-09:00").is_err());
        assert!(OfficeHours::parse("").is_err());
        assert!(OfficeHours::parse("9am-5pm")
            .unwrap_err()
            .to_string()
            .contains("not a time"));
    }

    #[test]
    fn overlapping_pauses_merge_and_backwards_ones_are_refused() {
        let t = |h| Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap();
        let merged = merge_pauses(&[(t(5), t(7)), (t(1), t(3)), (t(2), t(4))]).unwrap();
        assert_eq!(merged, vec![(t(1), t(4)), (t(5), t(7))]);
        assert!(matches!(
            merge_pauses(&[(t(3), t(1))]),
            Err(CalendarError::BadPause { index: 0, .. })
        ));
    }

    #[test]
    fn two_notices_that_disagree_about_a_day_are_refused() {
        let a = r#"{"year": 2023, "papers": [], "days": [{"name": "元旦", "date": "2022-12-31", "isOffDay": true}]}"#;
        let b = r#"{"year": 2022, "papers": [], "days": [{"name": "x", "date": "2022-12-31", "isOffDay": false}]}"#;
        let err = WorkingCalendar::from_json([("2022.json", b), ("2023.json", a)]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("2022-12-31") && text.contains("2022.json"),
            "{text}"
        );
    }

    /// Deadlines reaching into a year whose notice is not out are counted on its statutory
    /// holidays and marked provisional; the year after it, and the years before 2020, stay
    /// refused.
    #[test]
    fn a_provisional_next_year_counts_statutory_holidays_and_is_marked() {
        let official = WorkingCalendar::builtin();
        let monday = Utc.with_ymd_and_hms(2026, 12, 28, 2, 0, 0).unwrap(); // 10:00 in Suzhou
        assert!(matches!(
            official.add(monday, Span::WorkingDays(5)),
            Err(CalendarError::UnknownYear(2027))
        ));
        let calendar = official.with_provisional_until(2027).unwrap();
        assert_eq!(calendar.provisional_years(), &[2027]);
        assert!(!calendar.published_years().contains(&2027));
        // Tue 29, Wed 30, Thu 31, (Fri 1 Jan 元旦, weekend), Mon 4, Tue 5 Jan: due at 17:30.
        let due = calendar.add(monday, Span::WorkingDays(5)).unwrap();
        assert_eq!(due, Utc.with_ymd_and_hms(2027, 1, 5, 9, 30, 0).unwrap());
        assert!(calendar.is_provisional_deadline(due));
        // The reach-back days of December 2026 are provisional too (the 2027 notice may take
        // them); earlier days are official.
        assert!(calendar.is_provisional(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()));
        assert!(!calendar.is_provisional(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
        assert!(!calendar
            .is_provisional_deadline(Utc.with_ymd_and_hms(2026, 12, 18, 9, 30, 0).unwrap()));
        // 春节 2027: 除夕 Fri 5 Feb to 初三 Mon 8 Feb are off; Tue 9 Feb works.
        for (d, working) in [(4, true), (5, false), (8, false), (9, true)] {
            let date = NaiveDate::from_ymd_opt(2027, 2, d).unwrap();
            assert_eq!(calendar.is_working_day(date).unwrap(), working, "{date}");
        }
        // Beyond next year, and before the first notice: refused as before.
        assert!(matches!(
            calendar.is_working_day(NaiveDate::from_ymd_opt(2028, 3, 1).unwrap()),
            Err(CalendarError::UnknownYear(2028))
        ));
        assert!(calendar
            .is_working_day(NaiveDate::from_ymd_opt(2019, 12, 2).unwrap())
            .is_err());
        // The official notice replaces the provisional year: nothing is provisional then.
        let notice = r#"{"year": 2027, "papers": [], "days": [
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
            {"name": "元旦", "date": "2027-01-04", "isOffDay": true}]}"#;
        let mut files = HolidayFile::builtin().unwrap();
        files.retain(|f| f.year != 2027);
        files.push(HolidayFile::parse("2027.json", notice).unwrap());
        let loaded = WorkingCalendar::from_files(files)
            .unwrap()
            .with_provisional_until(2027)
            .unwrap();
        assert!(loaded.provisional_years().is_empty());
        assert!(!loaded.is_provisional_deadline(due));
        assert_eq!(
            loaded.add(monday, Span::WorkingDays(5)).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 6, 9, 30, 0).unwrap()
        );
    }

    /// Found by the `holiday_file` fuzz target: a calendar built from the shipped 2027.json
    /// alone (the notice not out yet, `days` empty) hung in `with_provisional_until`, which
    /// counted provisional years from `i32::MIN`. The unpublished year becomes provisional.
    #[test]
    fn a_calendar_with_no_published_year_gets_its_provisional_years_at_once() {
        let unpublished = r#"{
    "$schema": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/schema.json",
    "$id": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/2027.json",
    "year": 2027,
    "papers": [],
    "days": []
}"#;
        let calendar = WorkingCalendar::from_json([("a.json", unpublished)]).unwrap();
        assert!(calendar.published_years().is_empty());
        let provisional = calendar.with_provisional_until(2028).unwrap();
        assert_eq!(provisional.provisional_years(), &[2027, 2028]);
        // 元旦 2027 is a statutory holiday; Monday 4 January works.
        let day = |d| NaiveDate::from_ymd_opt(2027, 1, d).unwrap();
        assert!(!provisional.is_working_day(day(1)).unwrap());
        assert!(provisional.is_working_day(day(4)).unwrap());
    }
}
