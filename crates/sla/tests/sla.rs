//! The SLA clocks as a specification, on real dates of the official calendar.
//!
//! All times are written in Suzhou local time (`cst(...)`) and compared as UTC instants.
//! Office hours are the default 09:00-17:30 unless a test says otherwise.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use hotline_core::{CategoryCode, Nature, Urgency};
use hotline_sla::{
    deadlines, CalendarError, Clock, OfficeHours, PolicyError, SlaError, SlaPolicy, Span,
    WarningLead, WorkingCalendar, TIME_ZONE,
};
use proptest::prelude::*;

/// An instant given in Suzhou local time.
fn cst(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    TIME_ZONE
        .with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn calendar() -> WorkingCalendar {
    WorkingCalendar::builtin()
}

// ---------------------------------------------------------------------------------------------
// Working days on the official calendar
// ---------------------------------------------------------------------------------------------

#[test]
fn five_working_days_from_the_friday_before_the_2026_spring_festival_skip_the_holiday_block() {
    // 2026 notice: 春节 off Feb 15-23; make-up working days Sat Feb 14 and Sat Feb 28.
    let received = cst(2026, 2, 13, 10, 0); // Friday
    let due = calendar().add(received, Span::WorkingDays(5)).unwrap();
    // Counted from the day after: Sat 14 (make-up) 1, Tue 24 2, Wed 25 3, Thu 26 4, Fri 27 5.
    assert_eq!(due, cst(2026, 2, 27, 17, 30));
}

#[test]
fn a_make_up_saturday_is_a_working_day_and_counts() {
    let cal = calendar();
    assert!(cal.is_working_day(date(2026, 2, 14)).unwrap()); // 春节 make-up Saturday
    assert!(cal.is_working_day(date(2026, 2, 28)).unwrap()); // 春节 make-up Saturday
    assert!(cal.is_working_day(date(2026, 9, 20)).unwrap()); // 国庆 make-up Sunday
    assert!(!cal.is_working_day(date(2026, 2, 21)).unwrap()); // Saturday inside the holiday
    assert!(!cal.is_working_day(date(2026, 3, 7)).unwrap()); // an ordinary Saturday
    assert!(!cal.is_working_day(date(2026, 2, 16)).unwrap()); // Monday inside the holiday

    // One working day from Friday Feb 13 is due on the make-up Saturday.
    let due = cal
        .add(cst(2026, 2, 13, 10, 0), Span::WorkingDays(1))
        .unwrap();
    assert_eq!(due, cst(2026, 2, 14, 17, 30));
    // And from Friday Feb 27, on the other one.
    let due = cal
        .add(cst(2026, 2, 27, 11, 0), Span::WorkingDays(1))
        .unwrap();
    assert_eq!(due, cst(2026, 2, 28, 17, 30));
}

#[test]
fn a_count_crosses_the_2022_2023_new_year_block_using_both_years_files() {
    // 2023 notice: 元旦 off Sat 2022-12-31 to Mon 2023-01-02; 2022-12-31 is listed in 2023.json.
    let cal = calendar();
    assert!(!cal.is_working_day(date(2022, 12, 31)).unwrap());
    assert!(!cal.is_working_day(date(2023, 1, 2)).unwrap());
    let due = cal
        .add(cst(2022, 12, 30, 15, 0), Span::WorkingDays(1))
        .unwrap();
    assert_eq!(due, cst(2023, 1, 3, 17, 30));

    // With only the 2022 file, the last week of 2022 is unknown: the 2023 notice could (and
    // did) put a holiday there.
    let only_2022 =
        WorkingCalendar::from_json([("2022.json", include_str!("../data/holidays/2022.json"))])
            .unwrap();
    assert!(matches!(
        only_2022.is_working_day(date(2022, 12, 30)),
        Err(CalendarError::UnknownYear(2023))
    ));
    assert!(only_2022.is_working_day(date(2022, 12, 23)).unwrap());
}

#[test]
fn the_2026_2027_boundary_is_unknown_because_2027_is_not_published() {
    let cal = calendar();
    // Three working days from Friday Dec 18 stay before the New Year reach-back week.
    let due = cal
        .add(cst(2026, 12, 18, 10, 0), Span::WorkingDays(3))
        .unwrap();
    assert_eq!(due, cst(2026, 12, 23, 17, 30));
    // Five from Monday Dec 21 would need Dec 25 onwards, which the 2027 notice decides.
    assert!(matches!(
        cal.add(cst(2026, 12, 21, 10, 0), Span::WorkingDays(5)),
        Err(CalendarError::UnknownYear(2027))
    ));
    assert!(matches!(
        cal.is_working_day(date(2026, 12, 31)),
        Err(CalendarError::UnknownYear(2027))
    ));
}

#[test]
fn every_day_of_2027_is_unknown_and_the_error_says_why() {
    let cal = calendar();
    let err = cal.is_working_day(date(2027, 3, 1)).unwrap_err();
    assert!(matches!(err, CalendarError::UnknownYear(2027)));
    assert!(err.to_string().contains("2027"), "{err}");
    assert!(err.to_string().contains("not loaded"), "{err}");
    assert!(matches!(
        cal.add(cst(2027, 3, 1, 10, 0), Span::WorkingHours(2)),
        Err(CalendarError::UnknownYear(2027))
    ));
    assert!(matches!(
        cal.is_working_day(date(2019, 6, 3)),
        Err(CalendarError::UnknownYear(2019))
    ));
    assert_eq!(
        cal.published_years(),
        &[2020, 2021, 2022, 2023, 2024, 2025, 2026]
    );
}

#[test]
fn a_year_without_a_file_between_two_loaded_years_is_unknown() {
    let cal = WorkingCalendar::from_json([
        ("2024.json", include_str!("../data/holidays/2024.json")),
        ("2026.json", include_str!("../data/holidays/2026.json")),
    ])
    .unwrap();
    assert!(matches!(
        cal.is_working_day(date(2025, 6, 3)),
        Err(CalendarError::UnknownYear(2025))
    ));
    assert!(cal.is_working_day(date(2026, 6, 3)).unwrap());
}

#[test]
fn a_ticket_received_after_office_hours_or_on_a_holiday_counts_from_the_next_day() {
    let cal = calendar();
    // Tuesday 20:00 and Tuesday 10:00 give the same day deadline: the receipt day never counts.
    let evening = cal
        .add(cst(2026, 3, 3, 20, 0), Span::WorkingDays(1))
        .unwrap();
    let morning = cal
        .add(cst(2026, 3, 3, 10, 0), Span::WorkingDays(1))
        .unwrap();
    assert_eq!(evening, cst(2026, 3, 4, 17, 30));
    assert_eq!(morning, evening);
    // Received on Sat Oct 3, inside the 国庆 holiday (Oct 1-7): the first working day is Thu Oct 8.
    let due = cal
        .add(cst(2026, 10, 3, 11, 0), Span::WorkingDays(1))
        .unwrap();
    assert_eq!(due, cst(2026, 10, 8, 17, 30));
    // Working hours start at the next opening.
    assert_eq!(
        cal.add(cst(2026, 3, 3, 20, 0), Span::WorkingHours(2))
            .unwrap(),
        cst(2026, 3, 4, 11, 0)
    );
    assert_eq!(
        cal.add(cst(2026, 10, 3, 11, 0), Span::WorkingHours(2))
            .unwrap(),
        cst(2026, 10, 8, 11, 0)
    );
    assert_eq!(
        cal.add(cst(2026, 3, 4, 7, 15), Span::WorkingHours(1))
            .unwrap(),
        cst(2026, 3, 4, 10, 0)
    );
}

#[test]
fn working_days_zero_is_the_close_of_the_current_working_day() {
    let cal = calendar();
    assert_eq!(
        cal.add(cst(2026, 3, 3, 10, 0), Span::WorkingDays(0))
            .unwrap(),
        cst(2026, 3, 3, 17, 30)
    );
    assert_eq!(
        cal.add(cst(2026, 3, 6, 18, 0), Span::WorkingDays(0))
            .unwrap(),
        cst(2026, 3, 9, 17, 30)
    );
}

#[test]
fn working_hours_span_a_weekend() {
    let cal = calendar();
    // Friday 16:30 + 2 working hours: 1 h on Friday, 1 h on Monday.
    assert_eq!(
        cal.add(cst(2026, 3, 6, 16, 30), Span::WorkingHours(2))
            .unwrap(),
        cst(2026, 3, 9, 10, 0)
    );
    // Using up the day exactly is due at the close, not at the next opening.
    assert_eq!(
        cal.add(cst(2026, 3, 6, 15, 30), Span::WorkingHours(2))
            .unwrap(),
        cst(2026, 3, 6, 17, 30)
    );
    // 20 working hours from Friday 09:00: 8.5 + 8.5 + 3 -> Tuesday 12:00.
    assert_eq!(
        cal.add(cst(2026, 3, 6, 9, 0), Span::WorkingHours(20))
            .unwrap(),
        cst(2026, 3, 10, 12, 0)
    );
}

#[test]
fn split_office_hours_skip_the_lunch_break() {
    let cal = calendar().with_office_hours(OfficeHours::parse("09:00-12:00, 13:30-17:30").unwrap());
    // 11:00 + 2 working hours: 1 h before lunch, 1 h after.
    assert_eq!(
        cal.add(cst(2026, 3, 3, 11, 0), Span::WorkingHours(2))
            .unwrap(),
        cst(2026, 3, 3, 14, 30)
    );
    // Received at lunch: counting starts at 13:30.
    assert_eq!(
        cal.add(cst(2026, 3, 3, 12, 40), Span::WorkingHours(1))
            .unwrap(),
        cst(2026, 3, 3, 14, 30)
    );
    assert_eq!(
        cal.working_time_between(cst(2026, 3, 3, 8, 0), cst(2026, 3, 3, 20, 0))
            .unwrap(),
        TimeDelta::hours(7)
    );
    assert_eq!(
        cal.add(cst(2026, 3, 3, 10, 0), Span::WorkingDays(1))
            .unwrap(),
        cst(2026, 3, 4, 17, 30)
    );
}

#[test]
fn clock_hours_ignore_holidays_nights_and_unknown_years() {
    let cal = calendar();
    // Mon Feb 16 is inside the Spring Festival holiday: clock time runs anyway.
    assert_eq!(
        cal.add(cst(2026, 2, 16, 22, 0), Span::ClockHours(24))
            .unwrap(),
        cst(2026, 2, 17, 22, 0)
    );
    assert_eq!(
        cal.add(cst(2026, 2, 16, 23, 45), Span::ClockMinutes(30))
            .unwrap(),
        cst(2026, 2, 17, 0, 15)
    );
    // An emergency in 2027 still gets its deadline.
    assert_eq!(
        cal.add(cst(2027, 1, 1, 3, 0), Span::ClockHours(2)).unwrap(),
        cst(2027, 1, 1, 5, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// Pauses and extensions
// ---------------------------------------------------------------------------------------------

#[test]
fn a_pause_moves_the_deadline_by_the_paused_working_time() {
    let cal = calendar();
    let received = cst(2026, 2, 13, 10, 0);
    // Due Fri Feb 27 17:30 without pauses.
    let span = Span::WorkingDays(5);
    // Waiting on the caller Tue Feb 24 09:00-13:00: 4 working hours. The next working day after
    // the deadline is the make-up Saturday Feb 28.
    let due = cal
        .add_with_pauses(
            received,
            span,
            &[(cst(2026, 2, 24, 9, 0), cst(2026, 2, 24, 13, 0))],
        )
        .unwrap();
    assert_eq!(due, cst(2026, 2, 28, 13, 0));

    // A pause wholly inside the holiday block pauses no working time.
    let due = cal
        .add_with_pauses(
            received,
            span,
            &[(cst(2026, 2, 16, 9, 0), cst(2026, 2, 20, 17, 0))],
        )
        .unwrap();
    assert_eq!(due, cst(2026, 2, 27, 17, 30));

    // A pause across the deadline: Fri 27 15:00 to Mon Mar 2 10:00 pauses 2.5 + 8.5 + 1 = 12
    // working hours; the 2.5 h left at the pause run from Monday 10:00.
    let due = cal
        .add_with_pauses(
            received,
            span,
            &[(cst(2026, 2, 27, 15, 0), cst(2026, 3, 2, 10, 0))],
        )
        .unwrap();
    assert_eq!(due, cst(2026, 3, 2, 12, 30));

    // A pause that starts after the deadline rescues nothing.
    let due = cal
        .add_with_pauses(
            received,
            span,
            &[(cst(2026, 3, 2, 9, 0), cst(2026, 3, 3, 9, 0))],
        )
        .unwrap();
    assert_eq!(due, cst(2026, 2, 27, 17, 30));

    // Clock spans pause by elapsed time.
    let due = cal
        .add_with_pauses(
            cst(2026, 2, 16, 22, 0),
            Span::ClockHours(2),
            &[(cst(2026, 2, 16, 23, 0), cst(2026, 2, 17, 1, 30))],
        )
        .unwrap();
    assert_eq!(due, cst(2026, 2, 17, 2, 30));

    // A pause that ends before it starts is refused.
    assert!(matches!(
        cal.add_with_pauses(
            received,
            span,
            &[(cst(2026, 2, 24, 13, 0), cst(2026, 2, 24, 9, 0))]
        ),
        Err(CalendarError::BadPause { index: 0, .. })
    ));
}

#[test]
fn an_approved_extension_moves_the_deadline_by_working_days_from_the_old_one() {
    let cal = calendar();
    let due = cst(2026, 2, 27, 17, 30);
    // Sat Feb 28 (make-up) 1, Mar 2-6 2-6, Mar 9-12 7-10.
    assert_eq!(
        cal.extend(due, Span::WorkingDays(10)).unwrap(),
        cst(2026, 3, 12, 17, 30)
    );
    assert_eq!(
        cal.extend(due, Span::WorkingDays(1)).unwrap(),
        cst(2026, 2, 28, 17, 30)
    );
}

#[test]
fn an_extension_asked_at_least_one_working_day_before_the_deadline_is_allowed() {
    let cal = calendar();
    let limits = SlaPolicy::default_policy()
        .limits(None, Nature::Complaint, Urgency::Normal)
        .clone();
    let due = cst(2026, 2, 27, 17, 30); // Friday
    deadlines::extension_allowed(
        &cal,
        cst(2026, 2, 25, 10, 0),
        due,
        Span::WorkingDays(5),
        &limits,
    )
    .unwrap();
    // Thursday afternoon is still a full working day ahead.
    deadlines::extension_allowed(
        &cal,
        cst(2026, 2, 26, 16, 0),
        due,
        Span::WorkingDays(10),
        &limits,
    )
    .unwrap();
}

#[test]
fn an_extension_asked_less_than_one_working_day_before_the_deadline_is_refused() {
    let cal = calendar();
    let limits = SlaPolicy::default_policy()
        .limits(None, Nature::Complaint, Urgency::Normal)
        .clone();
    let due = cst(2026, 2, 27, 17, 30);
    let err = deadlines::extension_allowed(
        &cal,
        cst(2026, 2, 27, 9, 0),
        due,
        Span::WorkingDays(3),
        &limits,
    )
    .unwrap_err();
    let SlaError::ExtensionRefused { reason } = &err else {
        panic!("expected a refusal, got {err:?}");
    };
    assert!(
        reason.contains("at least 1 working day before the deadline 2026-02-27 17:30"),
        "{reason}"
    );
    assert!(reason.contains("2026-02-26"), "{reason}");

    let too_long = deadlines::extension_allowed(
        &cal,
        cst(2026, 2, 24, 9, 0),
        due,
        Span::WorkingDays(11),
        &limits,
    )
    .unwrap_err();
    assert!(too_long.to_string().contains("at most 10"), "{too_long}");

    let late = deadlines::extension_allowed(
        &cal,
        cst(2026, 3, 2, 9, 0),
        due,
        Span::WorkingDays(2),
        &limits,
    )
    .unwrap_err();
    assert!(late.to_string().contains("has passed"), "{late}");

    let hours = deadlines::extension_allowed(
        &cal,
        cst(2026, 2, 24, 9, 0),
        due,
        Span::WorkingHours(4),
        &limits,
    )
    .unwrap_err();
    assert!(hours.to_string().contains("in working days"), "{hours}");
}

// ---------------------------------------------------------------------------------------------
// Supervision times
// ---------------------------------------------------------------------------------------------

#[test]
fn the_yellow_light_comes_on_at_twenty_percent_of_the_working_time_left() {
    let cal = calendar();
    let policy = SlaPolicy::default_policy();
    let limits = policy.limits(None, Nature::Help, Urgency::Normal);
    let signed = cst(2026, 2, 13, 10, 0);
    let due = deadlines::resolution_due(&cal, signed, limits).unwrap();
    // 50 working hours in all (7.5 + 8.5 + 4 x 8.5); 20% = 10 h before Fri 27 17:30.
    assert_eq!(
        deadlines::warning_at(&cal, signed, due, limits.resolution, limits).unwrap(),
        cst(2026, 2, 26, 16, 0)
    );
    // A critical ticket's 30-minute sign-for clock warns after 24 minutes.
    let critical = policy.limits(None, Nature::Help, Urgency::Critical);
    let dispatched = cst(2026, 2, 16, 3, 0);
    let sign_due = deadlines::sign_for_due(&cal, dispatched, critical).unwrap();
    assert_eq!(sign_due, cst(2026, 2, 16, 3, 30));
    assert_eq!(
        deadlines::warning_at(&cal, dispatched, sign_due, critical.sign_for, critical).unwrap(),
        cst(2026, 2, 16, 3, 24)
    );
    // A fixed lead.
    let mut fixed = limits.clone();
    fixed.warning_lead = WarningLead::Before(Span::WorkingHours(2));
    assert_eq!(
        deadlines::warning_at(&cal, signed, due, fixed.resolution, &fixed).unwrap(),
        cst(2026, 2, 27, 15, 30)
    );
}

#[test]
fn urging_comes_the_working_day_after_the_deadline_and_publishing_at_five_working_days_overdue() {
    let cal = calendar();
    let limits = SlaPolicy::default_policy()
        .limits(None, Nature::Complaint, Urgency::Normal)
        .clone();
    let due = cst(2026, 2, 27, 17, 30);
    assert_eq!(
        deadlines::urge_at(&cal, due, &limits).unwrap(),
        cst(2026, 2, 28, 9, 0)
    );
    // Sat Feb 28, Mon Mar 2, 3, 4, 5.
    assert_eq!(
        deadlines::publish_at(&cal, due, &limits).unwrap(),
        cst(2026, 3, 5, 17, 30)
    );
}

#[test]
fn the_default_policy_gives_each_clock_its_deadline() {
    let cal = calendar();
    let policy = SlaPolicy::default_policy();
    let limits = policy.limits(None, Nature::Complaint, Urgency::Normal);
    let dispatched = cst(2026, 3, 3, 16, 45); // Tuesday
    assert_eq!(
        deadlines::sign_for_due(&cal, dispatched, limits).unwrap(),
        cst(2026, 3, 4, 10, 15) // 2 working hours: 45 min Tue + 1 h 15 min Wed
    );
    assert_eq!(
        deadlines::return_window_closes(&cal, dispatched, limits).unwrap(),
        cst(2026, 3, 5, 17, 30)
    );
    let signed = cst(2026, 3, 4, 9, 30);
    assert_eq!(
        deadlines::first_contact_due(&cal, signed, limits).unwrap(),
        cst(2026, 3, 5, 17, 30)
    );
    assert_eq!(
        deadlines::resolution_due(&cal, signed, limits).unwrap(),
        cst(2026, 3, 11, 17, 30)
    );
    // 15 working days from Wed Mar 4: Mar 5..Mar 25.
    assert_eq!(
        deadlines::complex_resolution_due(&cal, signed, limits).unwrap(),
        cst(2026, 3, 25, 17, 30)
    );
    assert_eq!(
        deadlines::callback_due(&cal, cst(2026, 3, 10, 15, 0), limits).unwrap(),
        cst(2026, 3, 11, 17, 30)
    );
    assert_eq!(
        deadlines::due(&cal, limits, Clock::Resolution, signed, &[]).unwrap(),
        cst(2026, 3, 11, 17, 30)
    );
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_policy_follows_the_domain_table() {
    let policy = SlaPolicy::default_policy();
    let consult = policy.limits(None, Nature::Consult, Urgency::Normal);
    assert_eq!(consult.resolution, Span::WorkingDays(1));
    let suggestion = policy.limits(None, Nature::Suggestion, Urgency::Normal);
    assert_eq!(suggestion.resolution, Span::WorkingDays(1));
    for nature in [Nature::Help, Nature::Complaint, Nature::Report] {
        let limits = policy.limits(None, nature, Urgency::Normal);
        assert_eq!(limits.resolution, Span::WorkingDays(5));
        assert_eq!(limits.sign_for, Span::WorkingHours(2));
        assert_eq!(limits.callback, Span::WorkingDays(1));
        assert_eq!(limits.complex_resolution, Span::WorkingDays(15));
        assert_eq!(limits.return_window, Span::WorkingDays(2));
        assert_eq!(limits.extension_max_wd, 10);
        assert_eq!(limits.extension_notice_wd, 1);
        assert_eq!(limits.urge_after_wd, 1);
        assert_eq!(limits.publish_after_wd, 5);
        assert_eq!(limits.warning_lead, WarningLead::Percent(20));
    }
    let emergency = policy.limits(None, Nature::Consult, Urgency::Critical);
    assert_eq!(emergency.sign_for, Span::ClockMinutes(30));
    assert_eq!(emergency.first_contact, Span::ClockHours(2));
    assert_eq!(emergency.resolution, Span::ClockHours(24));
    // Supervision values come from the default rule.
    assert_eq!(emergency.extension_max_wd, 10);
    let urgent_consult = policy.limits(None, Nature::Consult, Urgency::Urgent);
    assert_eq!(urgent_consult.resolution, Span::WorkingDays(1));
    assert_eq!(urgent_consult.sign_for, Span::WorkingHours(1));
}

const SPECIFIC: &str = r#"
[[rule]]
name = "default"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
extension_max = "8 wd"

[[rule]]
name = "complaint"
nature = "complaint"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "4 wd"
callback = "1 wd"

[[rule]]
name = "construction"
category = "CJ"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "7 wd"
callback = "1 wd"

[[rule]]
name = "property management"
category = "CJ.WY"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "6 wd"
callback = "1 wd"

[[rule]]
name = "property complaint"
category = "CJ.WY"
nature = "投诉"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "3 wd"
callback = "1 wd"
extension_max = "5 wd"

[[rule]]
name = "emergency"
urgency = "特急"
sign_for = "30 min"
first_contact = "2 h"
resolution = "24 h"
callback = "1 wd"
"#;

fn code(raw: &str) -> CategoryCode {
    CategoryCode::parse("category", raw).unwrap()
}

#[test]
fn the_most_specific_rule_wins() {
    let policy = SlaPolicy::from_toml_str("specific.toml", SPECIFIC).unwrap();
    let resolution = |category: Option<&str>, nature, urgency| {
        let category = category.map(code);
        policy.limits(category.as_ref(), nature, urgency).resolution
    };
    use Nature::*;
    use Urgency::*;
    assert_eq!(resolution(None, Help, Normal), Span::WorkingDays(5));
    assert_eq!(resolution(None, Complaint, Normal), Span::WorkingDays(4));
    assert_eq!(
        resolution(Some("CJ.JT"), Help, Normal),
        Span::WorkingDays(7)
    );
    // A longer category prefix beats a shorter one.
    assert_eq!(
        resolution(Some("CJ.WY.DT"), Help, Normal),
        Span::WorkingDays(6)
    );
    // Category beats nature; category and nature beat category alone.
    assert_eq!(
        resolution(Some("CJ.JT"), Complaint, Normal),
        Span::WorkingDays(7)
    );
    assert_eq!(
        resolution(Some("CJ.WY"), Complaint, Normal),
        Span::WorkingDays(3)
    );
    // Segments, not characters: CJX is not under CJ.
    assert_eq!(resolution(Some("CJX"), Help, Normal), Span::WorkingDays(5));
    // Urgency beats everything.
    assert_eq!(
        resolution(Some("CJ.WY"), Complaint, Critical),
        Span::ClockHours(24)
    );
    // Supervision values: the rule's own, else the default rule's.
    let category = code("CJ.WY");
    assert_eq!(
        policy
            .limits(Some(&category), Complaint, Normal)
            .extension_max_wd,
        5
    );
    assert_eq!(policy.limits(None, Help, Critical).extension_max_wd, 8);
    assert_eq!(
        policy
            .rule_for(Some(&category), Complaint, Normal)
            .name
            .as_deref(),
        Some("property complaint")
    );
}

fn policy_error(text: &str) -> String {
    let err = SlaPolicy::from_toml_str("centre.toml", text).unwrap_err();
    assert!(matches!(err, PolicyError::Invalid { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("sla policy centre.toml: "), "{message}");
    message
}

const DEFAULT_RULE: &str = r#"
[[rule]]
name = "default"
sign_for = "2 wh"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
"#;

#[test]
fn a_negative_deadline_is_refused_naming_the_rule() {
    let message = policy_error(&format!(
        "{DEFAULT_RULE}\n[[rule]]\nname = \"consult\"\nnature = \"consult\"\nsign_for = \"2 wh\"\nfirst_contact = \"1 wd\"\nresolution = \"-1 wd\"\ncallback = \"1 wd\"\n"
    ));
    assert!(message.contains("[[rule]] #2 (\"consult\")"), "{message}");
    assert!(message.contains("resolution"), "{message}");
    assert!(message.contains("negative"), "{message}");

    let message = policy_error(&DEFAULT_RULE.replace("resolution = \"5 wd\"", "resolution = -5"));
    assert!(message.contains("[[rule]] #1"), "{message}");
    assert!(message.contains("negative"), "{message}");
}

#[test]
fn a_missing_deadline_is_refused_naming_the_rule_and_the_key() {
    let message = policy_error(&DEFAULT_RULE.replace("callback = \"1 wd\"\n", ""));
    assert!(message.contains("[[rule]] #1 (\"default\")"), "{message}");
    assert!(message.contains("missing deadline `callback`"), "{message}");
}

#[test]
fn a_policy_without_a_default_rule_is_refused() {
    let message = policy_error(
        "[[rule]]\nnature = \"consult\"\nsign_for = \"2 wh\"\nfirst_contact = \"1 wd\"\nresolution = \"1 wd\"\ncallback = \"1 wd\"\n",
    );
    assert!(message.contains("no default rule"), "{message}");
    let message = policy_error("description = \"empty\"\n");
    assert!(message.contains("no [[rule]]"), "{message}");
    let message = policy_error(&format!("{DEFAULT_RULE}{DEFAULT_RULE}"));
    assert!(message.contains("a second default rule"), "{message}");
    assert!(message.contains("[[rule]] #2"), "{message}");
}

#[test]
fn an_unknown_nature_or_urgency_is_refused_with_the_known_ones() {
    let message = policy_error(&format!(
        "{DEFAULT_RULE}\n[[rule]]\nnature = \"complain\"\nsign_for = \"2 wh\"\nfirst_contact = \"1 wd\"\nresolution = \"1 wd\"\ncallback = \"1 wd\"\n"
    ));
    assert!(message.contains("[[rule]] #2"), "{message}");
    assert!(
        message.contains("\"complain\" is not a known nature"),
        "{message}"
    );
    assert!(message.contains("complaint"), "{message}");

    let message = policy_error(&format!(
        "{DEFAULT_RULE}\n[[rule]]\nurgency = \"asap\"\nsign_for = \"2 wh\"\nfirst_contact = \"1 wd\"\nresolution = \"1 wd\"\ncallback = \"1 wd\"\n"
    ));
    assert!(message.contains("not a known urgency"), "{message}");
}

#[test]
fn typos_zero_deadlines_units_and_duplicates_are_refused() {
    let message = policy_error(&DEFAULT_RULE.replace("sign_for", "sign-for"));
    assert!(message.contains("unknown key `sign-for`"), "{message}");
    let message = policy_error(&DEFAULT_RULE.replace("\"5 wd\"", "\"0 wd\""));
    assert!(message.contains("zero"), "{message}");
    let message = policy_error(&DEFAULT_RULE.replace("\"5 wd\"", "5"));
    assert!(message.contains("has no unit"), "{message}");
    let message = policy_error(&DEFAULT_RULE.replace("\"5 wd\"", "\"5 days\""));
    assert!(message.contains("unknown unit"), "{message}");
    let message = policy_error(&format!("{DEFAULT_RULE}extension_max = \"10 h\"\n"));
    assert!(message.contains("working days"), "{message}");
    let message = policy_error(&format!("{DEFAULT_RULE}warning_lead = \"120%\"\n"));
    assert!(message.contains("1% to 99%"), "{message}");
    let twice = "\n[[rule]]\nnature = \"consult\"\nsign_for = \"2 wh\"\nfirst_contact = \"1 wd\"\nresolution = \"1 wd\"\ncallback = \"1 wd\"\n";
    let message = policy_error(&format!("{DEFAULT_RULE}{twice}{twice}"));
    assert!(message.contains("[[rule]] #3"), "{message}");
    assert!(message.contains("same tickets as [[rule]] #2"), "{message}");
    let message = policy_error("[[rule]\n");
    assert!(message.contains("centre.toml: toml:"), "{message}");
}

#[test]
fn an_unknown_category_is_refused_when_the_catalogue_is_given() {
    let policy = SlaPolicy::from_toml_str("specific.toml", SPECIFIC).unwrap();
    let catalogue = [code("CJ.WY.DT"), code("CJ.JT"), code("JT.GJ")];
    policy.validate_categories(&catalogue).unwrap();
    let err = policy
        .validate_categories(&[code("JT.GJ"), code("CJ.JT")])
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("specific.toml"), "{message}");
    assert!(
        message.contains("[[rule]] #4 (\"property management\")"),
        "{message}"
    );
    assert!(
        message.contains("\"CJ.WY\" is not in the category catalogue"),
        "{message}"
    );
}

#[test]
fn a_policy_file_is_read_from_disk_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sla.toml");
    std::fs::write(&path, SPECIFIC).unwrap();
    let policy = SlaPolicy::from_path(&path).unwrap();
    assert_eq!(policy.source(), path.display().to_string());
    let missing = dir.path().join("nope.toml");
    let err = SlaPolicy::from_path(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Loading calendars
// ---------------------------------------------------------------------------------------------

#[test]
fn a_centre_directory_loads_and_a_broken_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2026.json"),
        include_str!("../data/holidays/2026.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("schema.json"), "not a calendar").unwrap();
    let cal = WorkingCalendar::from_dir(dir.path()).unwrap();
    assert!(cal.is_working_day(date(2026, 2, 14)).unwrap());
    assert!(matches!(
        cal.is_working_day(date(2025, 6, 3)),
        Err(CalendarError::UnknownYear(2025))
    ));

    std::fs::write(
        dir.path().join("2025.json"),
        "{\"year\": 2025, \"days\": [}",
    )
    .unwrap();
    let err = WorkingCalendar::from_dir(dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("2025.json"), "{message}");
    assert!(message.contains("not a holiday-cn calendar"), "{message}");

    let empty = tempfile::tempdir().unwrap();
    assert!(WorkingCalendar::from_dir(empty.path())
        .unwrap_err()
        .to_string()
        .contains("no holiday files"));
}

#[test]
fn a_newly_published_year_dropped_into_the_update_directory_becomes_known() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for the future 2027 notice (not real data: the real one is not published yet).
    std::fs::write(
        dir.path().join("2027.json"),
        r#"{"year": 2027, "papers": [], "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    let cal = WorkingCalendar::builtin_with_updates(dir.path()).unwrap();
    assert!(!cal.is_working_day(date(2027, 1, 1)).unwrap());
    assert!(cal.is_working_day(date(2027, 1, 4)).unwrap());
    assert!(cal.is_working_day(date(2026, 12, 31)).unwrap());
    assert!(cal.is_working_day(date(2026, 2, 14)).unwrap());
}

#[test]
fn the_shipped_holiday_files_match_the_shared_data() {
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/holidays");
    if !shared.is_dir() {
        eprintln!("skipped: {} is not here", shared.display());
        return;
    }
    let from_shared = WorkingCalendar::from_dir(&shared).unwrap();
    let builtin = calendar();
    let mut day = date(2020, 1, 1);
    while day <= date(2027, 12, 31) {
        assert_eq!(
            from_shared.is_working_day(day).ok(),
            builtin.is_working_day(day).ok(),
            "{day}"
        );
        day = day.succ_opt().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Any instant from 2020-01-01 to 2026-09-30 (local), far enough from the unknown 2027 that
/// 40 working days stay inside known years.
fn known_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = cst(2020, 1, 1, 0, 0).timestamp();
    let last = cst(2026, 9, 30, 23, 59).timestamp();
    (first..last).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn working_days_are_monotonic_and_land_at_the_close_of_a_working_day(
        start in known_instant(),
        n in 0u32..40,
    ) {
        let cal = calendar();
        let due = cal.add(start, Span::WorkingDays(n)).unwrap();
        let next = cal.add(start, Span::WorkingDays(n + 1)).unwrap();
        prop_assert!(due >= start);
        prop_assert!(next > due || n == 0, "{n}: {due} then {next}");
        prop_assert!(next >= due);
        let local = due.with_timezone(&TIME_ZONE);
        prop_assert!(cal.is_working_day(local.date_naive()).unwrap());
        prop_assert_eq!((local.hour(), local.minute()), (17, 30));
    }

    #[test]
    fn working_hours_land_in_office_hours_and_measure_back_to_the_span(
        start in known_instant(),
        hours in 1u32..60,
    ) {
        let cal = calendar();
        let due = cal.add(start, Span::WorkingHours(hours)).unwrap();
        let local = due.with_timezone(&TIME_ZONE);
        prop_assert!(cal.is_working_day(local.date_naive()).unwrap());
        let time = local.time();
        prop_assert!(time > cal.office_hours().opening() && time <= cal.office_hours().closing());
        prop_assert_eq!(
            cal.working_time_between(start, due).unwrap(),
            TimeDelta::hours(i64::from(hours))
        );
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline(
        start in known_instant(),
        later_by in 0i64..(10 * 24 * 3600),
        n in 1u32..20,
    ) {
        let cal = calendar();
        let later = start + TimeDelta::seconds(later_by);
        for span in [Span::WorkingDays(n), Span::WorkingHours(n)] {
            prop_assert!(cal.add(later, span).unwrap() >= cal.add(start, span).unwrap());
        }
    }
}
