//! The station's countdowns: for each running clock of a ticket (sign-for, first contact,
//! resolution), how long is left and its light: green, yellow (黄灯: within the warning lead)
//! or red (红灯: overdue).
//!
//! The router's timers are the authority: their warning and overdue flags turn a light yellow
//! or red. The desk also lights it from the deadline itself, so a light changes on time between
//! the timer's passes: red once the deadline has passed, yellow within the lead. The API does
//! not say where each clock started, so the lead is [`LEAD_PERCENT`] (the router's default
//! `warning_lead`) of the span from the ticket's recording to the deadline. For resolution and
//! first contact, whose clocks really start at sign-for, that span is longer and the light comes
//! on a little early, never late.

use chrono::{DateTime, Duration, Utc};
use hotline_proto::v1 as pb;

/// The share of a clock's span the yellow light covers (the router's default `warning_lead`).
pub const LEAD_PERCENT: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    Green,
    Yellow,
    Red,
    /// The resolution clock stands still while the station waits on the caller.
    Paused,
}

impl Light {
    /// The CSS class the page and desk.js share.
    pub fn class(self) -> &'static str {
        match self {
            Light::Green => "light-green",
            Light::Yellow => "light-yellow",
            Light::Red => "light-red",
            Light::Paused => "light-paused",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Light::Green => "正常",
            Light::Yellow => "黄灯",
            Light::Red => "红灯",
            Light::Paused => "暂停",
        }
    }
}

/// When the yellow light comes on for a clock that runs from `start` to `due`.
pub fn warn_at(start: DateTime<Utc>, due: DateTime<Utc>) -> DateTime<Utc> {
    let span = (due - start).max(Duration::zero());
    due - span * (LEAD_PERCENT as i32) / 100
}

/// The light of one clock at `now`; `warned` and `overdue` are the router's flags for it.
pub fn light(
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    warn_at: DateTime<Utc>,
    warned: bool,
    overdue: bool,
) -> Light {
    if overdue || now >= due {
        Light::Red
    } else if warned || now >= warn_at {
        Light::Yellow
    } else {
        Light::Green
    }
}

/// "剩 2小时05分" before the deadline, "超时 15分" after it.
pub fn countdown_text(now: DateTime<Utc>, due: DateTime<Utc>) -> String {
    let left = due - now;
    let (prefix, span) = if left >= Duration::zero() {
        ("剩", left)
    } else {
        ("超时", -left)
    };
    let minutes = span.num_minutes();
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let body = if days > 0 {
        format!("{days}天{hours}小时")
    } else if hours > 0 {
        format!("{hours}小时{mins:02}分")
    } else if minutes > 0 {
        format!("{mins}分")
    } else {
        format!("{}秒", span.num_seconds())
    };
    format!("{prefix} {body}")
}

/// One running clock of a ticket, as the queue shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Countdown {
    /// `sign_for`, `first_contact` or `resolution`.
    pub clock: &'static str,
    pub label: &'static str,
    pub due: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub light: Light,
}

fn parse(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The clocks running on `ticket` at `now`: sign-for while it waits to be signed for; first
/// contact until the caller is reached, and resolution, while the station handles it.
pub fn countdowns(ticket: &pb::Ticket, now: DateTime<Utc>) -> Vec<Countdown> {
    let due = ticket.deadlines.clone().unwrap_or_default();
    let start = parse(&ticket.created_at).unwrap_or(now);
    let flagged = |flag: pb::Flag| ticket.flags.contains(&(flag as i32));
    let stage = pb::Stage::try_from(ticket.stage).unwrap_or(pb::Stage::Unspecified);
    let mut out = Vec::new();
    let mut push = |clock, label, raw: &str, warned, overdue, paused| {
        if let Some(due) = parse(raw) {
            let warn = warn_at(start, due);
            out.push(Countdown {
                clock,
                label,
                due,
                warn_at: warn,
                light: if paused {
                    Light::Paused
                } else {
                    light(now, due, warn, warned, overdue)
                },
            });
        }
    };
    match stage {
        pb::Stage::AwaitingSignFor => push("sign_for", "签收", &due.sign_for, false, false, false),
        pb::Stage::InProgress | pb::Stage::ReturnRequested => {
            if ticket.contacted_at.is_empty() {
                push(
                    "first_contact",
                    "首次联系",
                    &due.first_contact,
                    flagged(pb::Flag::ContactWarning),
                    flagged(pb::Flag::ContactOverdue),
                    false,
                );
            }
            push(
                "resolution",
                "办结",
                &due.resolution,
                flagged(pb::Flag::Warning),
                flagged(pb::Flag::Overdue),
                !ticket.paused_since.is_empty(),
            );
        }
        _ => {}
    }
    out
}

/// The deadline a queue is sorted by: the soonest running clock that is not paused.
pub fn next_due(ticket: &pb::Ticket, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    countdowns(ticket, now)
        .into_iter()
        .filter(|c| c.light != Light::Paused)
        .map(|c| c.due)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        parse(raw).unwrap()
    }

    #[test]
    fn a_light_is_green_then_yellow_within_the_lead_then_red_past_the_deadline() {
        let start = at("2026-03-02T01:00:00Z");
        let due = at("2026-03-02T11:00:00Z");
        // 20% of ten hours: yellow from two hours before the deadline.
        let warn = warn_at(start, due);
        assert_eq!(warn, at("2026-03-02T09:00:00Z"));
        assert_eq!(
            light(at("2026-03-02T08:59:59Z"), due, warn, false, false),
            Light::Green
        );
        assert_eq!(
            light(at("2026-03-02T09:00:00Z"), due, warn, false, false),
            Light::Yellow
        );
        assert_eq!(
            light(at("2026-03-02T11:00:00Z"), due, warn, false, false),
            Light::Red
        );
    }

    #[test]
    fn the_routers_flags_win_over_the_desks_own_reckoning() {
        let start = at("2026-03-02T01:00:00Z");
        let due = at("2026-03-06T09:30:00Z");
        let early = at("2026-03-02T02:00:00Z");
        let warn = warn_at(start, due);
        assert_eq!(light(early, due, warn, true, false), Light::Yellow);
        assert_eq!(light(early, due, warn, false, true), Light::Red);
    }

    #[test]
    fn countdown_text_says_what_is_left_or_how_late() {
        let due = at("2026-03-02T11:00:00Z");
        assert_eq!(
            countdown_text(at("2026-03-02T08:55:00Z"), due),
            "剩 2小时05分"
        );
        assert_eq!(countdown_text(at("2026-03-02T10:45:00Z"), due), "剩 15分");
        assert_eq!(countdown_text(at("2026-03-02T11:15:00Z"), due), "超时 15分");
        assert_eq!(
            countdown_text(at("2026-02-27T10:00:00Z"), due),
            "剩 3天1小时"
        );
        assert_eq!(countdown_text(at("2026-03-02T10:59:30Z"), due), "剩 30秒");
    }

    fn ticket(stage: pb::Stage) -> pb::Ticket {
        pb::Ticket {
            stage: stage as i32,
            created_at: "2026-03-02T01:00:00Z".into(),
            deadlines: Some(pb::Deadlines {
                sign_for: "2026-03-02T03:00:00Z".into(),
                first_contact: "2026-03-03T09:30:00Z".into(),
                resolution: "2026-03-09T09:30:00Z".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_stage_runs_its_own_clocks() {
        let now = at("2026-03-02T02:00:00Z");
        let clocks = |t: &pb::Ticket| {
            countdowns(t, now)
                .iter()
                .map(|c| c.clock)
                .collect::<Vec<_>>()
        };
        assert_eq!(clocks(&ticket(pb::Stage::AwaitingSignFor)), ["sign_for"]);
        let mut handling = ticket(pb::Stage::InProgress);
        assert_eq!(clocks(&handling), ["first_contact", "resolution"]);
        handling.contacted_at = "2026-03-02T01:30:00Z".into();
        assert_eq!(clocks(&handling), ["resolution"]);
        assert!(clocks(&ticket(pb::Stage::PendingReview)).is_empty());
    }

    #[test]
    fn a_paused_clock_shows_paused_and_does_not_order_the_queue() {
        let now = at("2026-03-02T02:00:00Z");
        let mut t = ticket(pb::Stage::InProgress);
        t.contacted_at = "2026-03-02T01:30:00Z".into();
        t.paused_since = "2026-03-02T01:45:00Z".into();
        assert_eq!(countdowns(&t, now)[0].light, Light::Paused);
        assert_eq!(next_due(&t, now), None);
        t.paused_since.clear();
        assert_eq!(next_due(&t, now), Some(at("2026-03-09T09:30:00Z")));
    }

    #[test]
    fn contact_flags_light_the_first_contact_clock_and_resolution_flags_the_resolution_clock() {
        let now = at("2026-03-02T02:00:00Z");
        let mut t = ticket(pb::Stage::InProgress);
        t.flags = vec![pb::Flag::ContactOverdue as i32];
        let lights: Vec<Light> = countdowns(&t, now).iter().map(|c| c.light).collect();
        assert_eq!(lights, [Light::Red, Light::Green]);
        t.flags = vec![pb::Flag::Warning as i32];
        let lights: Vec<Light> = countdowns(&t, now).iter().map(|c| c.light).collect();
        assert_eq!(lights, [Light::Green, Light::Yellow]);
    }
}
