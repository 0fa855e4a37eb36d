//! The SLA policy file parser (TOML, `sla/data/default_policy.toml` format). Property: never
//! panics, and every deadline of every rule it accepts can be computed on the built-in
//! calendar (an error is fine, e.g. a span that runs past the last published year; a panic or
//! a hang is not).
#![no_main]

use std::sync::OnceLock;

use hotline_core::{Nature, Urgency};
use hotline_sla::policy::Limits;
use hotline_sla::{deadlines, SlaPolicy, Span, WorkingCalendar};
use libfuzzer_sys::fuzz_target;

fn calendar() -> &'static WorkingCalendar {
    static CALENDAR: OnceLock<WorkingCalendar> = OnceLock::new();
    CALENDAR.get_or_init(WorkingCalendar::builtin)
}

fn exercise(limits: &Limits) {
    let calendar = calendar();
    // Friday 2026-02-13 10:00 in Suzhou, just before the Spring Festival: the interesting case.
    let at = chrono::DateTime::parse_from_rfc3339("2026-02-13T02:00:00Z")
        .expect("a valid instant")
        .to_utc();
    let _ = deadlines::sign_for_due(calendar, at, limits);
    let _ = deadlines::first_contact_due(calendar, at, limits);
    let _ = deadlines::complex_resolution_due(calendar, at, limits);
    let _ = deadlines::callback_due(calendar, at, limits);
    let _ = deadlines::return_window_closes(calendar, at, limits);
    if let Ok(due) = deadlines::resolution_due(calendar, at, limits) {
        let _ = deadlines::warning_at(calendar, at, due, limits.resolution, limits);
        let _ = deadlines::urge_at(calendar, due, limits);
        let _ = deadlines::publish_at(calendar, due, limits);
        let _ = deadlines::extension_allowed(calendar, at, due, Span::WorkingDays(1), limits);
    }
}

fuzz_target!(|text: &str| {
    let Ok(policy) = SlaPolicy::from_toml_str("fuzz.toml", text) else {
        return;
    };
    exercise(&policy.default_rule().limits);
    for rule in policy.rules() {
        exercise(&rule.limits);
    }
    for &nature in Nature::ALL {
        for &urgency in Urgency::ALL {
            let _ = policy.limits(None, nature, urgency);
        }
    }
});
