//! Deadlines of one ticket: a policy's [`Limits`] applied on a [`WorkingCalendar`].
//!
//! Every function takes the instants it needs (`dispatched_at`, `signed_at`, `now`, ...): nothing
//! here reads a clock, so the timer engine and the tests drive time.

use chrono::{DateTime, TimeDelta, Utc};

use crate::calendar::{Pause, WorkingCalendar, TIME_ZONE};
use crate::error::{CalendarError, SlaError};
use crate::policy::{Clock, Limits, WarningLead};
use crate::span::Span;

/// When `clock` falls due when it started at `started_at` and was paused during `pauses`
/// (see [`WorkingCalendar::add_with_pauses`]).
pub fn due(
    calendar: &WorkingCalendar,
    limits: &Limits,
    clock: Clock,
    started_at: DateTime<Utc>,
    pauses: &[Pause],
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add_with_pauses(started_at, limits.span(clock), pauses)
}

/// 签收 deadline: `sign_for` after dispatch.
pub fn sign_for_due(
    calendar: &WorkingCalendar,
    dispatched_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(dispatched_at, limits.sign_for)
}

/// First-contact deadline: `first_contact` after sign-for.
pub fn first_contact_due(
    calendar: &WorkingCalendar,
    signed_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(signed_at, limits.first_contact)
}

/// 办结 deadline: `resolution` after sign-for (the resolution clock starts at sign-for).
pub fn resolution_due(
    calendar: &WorkingCalendar,
    signed_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(signed_at, limits.resolution)
}

/// 办结 deadline of a case approved as complex: `complex_resolution` after sign-for.
pub fn complex_resolution_due(
    calendar: &WorkingCalendar,
    signed_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(signed_at, limits.complex_resolution)
}

/// 回访 deadline: `callback` after the reply.
pub fn callback_due(
    calendar: &WorkingCalendar,
    replied_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(replied_at, limits.callback)
}

/// The last moment a station may ask to return (退单) a ticket: `return_window` after dispatch.
pub fn return_window_closes(
    calendar: &WorkingCalendar,
    dispatched_at: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(dispatched_at, limits.return_window)
}

/// When the yellow light (黄灯) comes on for a clock of span `clock_span` that started at
/// `started_at` and is due at `due` (as moved by pauses and extensions). The lead is measured
/// on the clock's own time: office time for working spans, elapsed time for clock spans. A lead
/// as long as the whole span lights the warning at the start.
pub fn warning_at(
    calendar: &WorkingCalendar,
    started_at: DateTime<Utc>,
    due: DateTime<Utc>,
    clock_span: Span,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    if clock_span.is_working_time() {
        let total = calendar.working_time_between(started_at, due)?;
        let lead = match limits.warning_lead {
            WarningLead::Percent(p) => percent_of(total, p),
            WarningLead::Before(span) => working_length(calendar, span),
        };
        if lead >= total {
            return Ok(started_at);
        }
        calendar.add_working_time(started_at, total - lead)
    } else {
        let total = due - started_at;
        let lead = match limits.warning_lead {
            WarningLead::Percent(p) => percent_of(total, p),
            WarningLead::Before(span) => clock_length(span),
        };
        Ok((due - lead).max(started_at))
    }
}

/// When to urge (催办) an overdue ticket: the opening of office hours on the `urge_after_wd`th
/// working day after the deadline's day ("the day after the deadline").
pub fn urge_at(
    calendar: &WorkingCalendar,
    due: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    let day = calendar.nth_working_day_after(calendar.local_date(due), limits.urge_after_wd)?;
    Ok(calendar.opening_on(day))
}

/// When an unfinished ticket is published (通报): `publish_after_wd` working days overdue, i.e.
/// the close of office hours of that working day after the deadline's day.
pub fn publish_at(
    calendar: &WorkingCalendar,
    due: DateTime<Utc>,
    limits: &Limits,
) -> Result<DateTime<Utc>, CalendarError> {
    calendar.add(due, Span::WorkingDays(limits.publish_after_wd))
}

/// Whether an extension (延期) of `requested`, asked at `now` for a deadline `due`, may be
/// approved. The rules: it is counted in working days; it adds at least 1 and at most
/// `extension_max_wd`; it is asked before the deadline and at least `extension_notice_wd`
/// working days before it (asking at `now` is in time when `now + notice` working days is not
/// after the deadline). The refusal reason is written for the station staff.
///
/// On approval, the new deadline is [`WorkingCalendar::extend`]`(due, requested)`.
pub fn extension_allowed(
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    requested: Span,
    limits: &Limits,
) -> Result<(), SlaError> {
    let refuse = |reason: String| Err(SlaError::ExtensionRefused { reason });
    let Span::WorkingDays(days) = requested else {
        return refuse(format!(
            "extensions are granted in working days, not {requested}"
        ));
    };
    if days == 0 {
        return refuse("an extension of 0 working days changes nothing".to_owned());
    }
    if days > limits.extension_max_wd {
        return refuse(format!(
            "{days} working days asked; one extension adds at most {} working days",
            limits.extension_max_wd
        ));
    }
    if now >= due {
        return refuse(format!(
            "the deadline {} has passed (asked {}); an extension must be asked before it",
            local(due),
            local(now)
        ));
    }
    let notice = limits.extension_notice_wd;
    if notice > 0 && calendar.add(now, Span::WorkingDays(notice))? > due {
        let last_day = calendar.nth_working_day_before(calendar.local_date(due), notice)?;
        return refuse(format!(
            "an extension must be asked at least {notice} working day{} before the deadline {} \
             (asked {}; the last working day to ask was {last_day})",
            if notice == 1 { "" } else { "s" },
            local(due),
            local(now)
        ));
    }
    Ok(())
}

/// `p`% of `total`.
fn percent_of(total: TimeDelta, p: u8) -> TimeDelta {
    total * i32::from(p) / 100
}

/// A lead as office time: a working day is one office day's length.
fn working_length(calendar: &WorkingCalendar, span: Span) -> TimeDelta {
    match span {
        Span::WorkingDays(n) => calendar
            .office_hours()
            .length_of_day()
            .checked_mul(i32::try_from(n).unwrap_or(i32::MAX))
            .unwrap_or(TimeDelta::MAX),
        Span::WorkingHours(n) | Span::ClockHours(n) => TimeDelta::hours(i64::from(n)),
        Span::ClockMinutes(n) => TimeDelta::minutes(i64::from(n)),
    }
}

/// A lead as elapsed time: a working day is 24 hours.
fn clock_length(span: Span) -> TimeDelta {
    match span {
        Span::WorkingDays(n) => TimeDelta::days(i64::from(n)),
        Span::WorkingHours(n) | Span::ClockHours(n) => TimeDelta::hours(i64::from(n)),
        Span::ClockMinutes(n) => TimeDelta::minutes(i64::from(n)),
    }
}

/// An instant as staff read it: local time, to the minute.
fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&TIME_ZONE)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
