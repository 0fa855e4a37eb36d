//! SLA clocks of the 12345 hotline: the official working calendar, the time-limit policy and
//! the deadline arithmetic the timer engine runs per ticket. No I/O in the arithmetic and no
//! clock reads: every instant is passed in.
//!
//! # Layout
//! - [`span`]: [`Span`], a time limit with its unit (working days, working hours, clock hours or
//!   minutes), parsed from `"5 wd"`-style text.
//! - [`holidays`]: reading the official holiday + 调休 calendar (holiday-cn JSON); the 2020-2027
//!   files ship embedded (`data/holidays/`, MIT).
//! - [`provisional`]: the statutory holidays of a year whose notice is not out yet (lunar dates
//!   and the 清明 solar term from the `nongli` crate), for a provisional calendar.
//! - [`calendar`]: [`WorkingCalendar`] (Asia/Shanghai, office hours, a per-day table) and its
//!   arithmetic: `add`, pauses, extensions, working time between two instants.
//! - [`policy`]: [`SlaPolicy`], the configurable rules (TOML) that give each ticket its
//!   [`Limits`]; the built-in policy is `data/default_policy.toml`.
//! - [`deadlines`]: the deadlines of one ticket (sign-for, first contact, resolution, callback,
//!   return window, yellow light, 催办, 通报) and whether an extension may be granted.
//! - [`error`]: [`CalendarError`], [`PolicyError`], [`SlaError`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use hotline_core::{Nature, Urgency};
//! use hotline_sla::{deadlines, SlaPolicy, WorkingCalendar};
//!
//! let calendar = WorkingCalendar::builtin();
//! let policy = SlaPolicy::default_policy();
//! let limits = policy.limits(None, Nature::Complaint, Urgency::Normal);
//! // Signed for on Friday 2026-02-13 at 10:00 in Suzhou, just before the Spring Festival.
//! let signed_at = Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap();
//! let due = deadlines::resolution_due(&calendar, signed_at, limits).unwrap();
//! // 5 working days: Sat 14 (make-up day), Tue 24, Wed 25, Thu 26, Fri 27, at 17:30.
//! assert_eq!(due, Utc.with_ymd_and_hms(2026, 2, 27, 9, 30, 0).unwrap());
//! ```

pub mod calendar;
pub mod deadlines;
pub mod error;
pub mod holidays;
pub mod policy;
pub mod provisional;
pub mod span;

pub use calendar::{OfficeHours, Pause, WorkingCalendar, TIME_ZONE};
pub use error::{CalendarError, PolicyError, SlaError};
pub use policy::{Clock, Limits, Rule, SlaPolicy, WarningLead};
pub use span::Span;
