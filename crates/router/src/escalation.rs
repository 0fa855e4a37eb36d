//! SLA timers and escalation: which timers a ticket has in its current stage, and what happens
//! when one fires.
//!
//! Per clock (sign-for while awaiting sign-for; resolution while in progress or while a return
//! is arbitrated; callback while awaiting callback):
//!
//! ```text
//! started ── warning (黄灯, policy lead) ── deadline: breach (红灯) ── urge (催办, next working day)
//!                                                  └── supervise (督办, +N WD) ── publish (通报, +M WD)
//! ```
//! Sign-for may also *widen*: past its deadline an unsigned ticket moves to the same kind of
//! station one level up (off by default).
//!
//! Firing is idempotent. A timer applies only if the ticket is still on that clock with that
//! very deadline (an extension or a sign-for makes old timers stale), and each step sets a flag
//! that is set at most once per clock; the store's version check means two replicas racing on
//! the same timer cannot both write. So a timer delivered twice escalates once.

use chrono::{DateTime, Duration, Utc};
use hotline_core::{Action, Actor, Flag, Stage, Ticket};
use hotline_dispatch::{Timer, TimerClock, TimerStep};
use hotline_sla::{deadlines, Limits, Span};

use crate::deadlines::Sla;

/// Escalation choices that are the centre's to make.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// 督办 this many working days after the resolution deadline (before 通报).
    pub supervise_after_wd: u32,
    /// Move an unsigned ticket up a level once its sign-for deadline passes.
    pub widen_unsigned: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            supervise_after_wd: 2,
            widen_unsigned: false,
        }
    }
}

/// The flag a step raises on a clock (`None` for widening, which moves the ticket instead).
/// The first-contact clock has its own lights, so a late first call does not hide a late reply.
pub fn flag_of(clock: TimerClock, step: TimerStep) -> Option<Flag> {
    match (clock, step) {
        (TimerClock::FirstContact, TimerStep::Warning) => Some(Flag::ContactWarning),
        (TimerClock::FirstContact, TimerStep::Breach) => Some(Flag::ContactOverdue),
        (TimerClock::FirstContact, _) => None,
        (_, TimerStep::Warning) => Some(Flag::Warning),
        (_, TimerStep::Breach) => Some(Flag::Overdue),
        (_, TimerStep::Urge) => Some(Flag::Urged),
        (_, TimerStep::Supervise) => Some(Flag::Supervised),
        (_, TimerStep::Publish) => Some(Flag::Published),
        (_, TimerStep::Widen) => None,
    }
}

/// The clocks that run in the ticket's stage, with their deadline and start.
fn running_clocks(ticket: &Ticket) -> Vec<(TimerClock, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let d = &ticket.deadlines;
    let mut clocks = Vec::new();
    match ticket.stage {
        Stage::AwaitingSignFor => {
            clocks.extend(
                d.sign_for
                    .map(|due| (TimerClock::SignFor, due, d.started.sign_for)),
            );
        }
        Stage::InProgress | Stage::ReturnRequested => {
            if ticket.contacted_at.is_none() {
                clocks.extend(
                    d.first_contact
                        .map(|due| (TimerClock::FirstContact, due, d.started.first_contact)),
                );
            }
            // A paused resolution clock has no timers; resuming sets the moved deadline.
            if ticket.paused.is_none() {
                clocks.extend(
                    d.resolution
                        .map(|due| (TimerClock::Resolution, due, d.started.resolution)),
                );
            }
        }
        Stage::AwaitingCallback => {
            clocks.extend(
                d.callback
                    .map(|due| (TimerClock::Callback, due, d.started.callback)),
            );
        }
        _ => {}
    }
    clocks
}

fn span_of(clock: TimerClock, limits: &Limits) -> Span {
    match clock {
        TimerClock::SignFor => limits.sign_for,
        TimerClock::FirstContact => limits.first_contact,
        TimerClock::Resolution => limits.resolution,
        TimerClock::Callback => limits.callback,
    }
}

/// The timers `ticket` should have now. Steps whose flag is already raised are left out.
pub fn plan(ticket: &Ticket, sla: &Sla, settings: &Settings) -> Vec<Timer> {
    let limits = sla
        .policy
        .limits(ticket.category.as_ref(), ticket.nature, ticket.urgency);
    let calendar = sla.calendar();
    let cal = &*calendar;
    let mut timers = Vec::new();
    for (clock, due, started) in running_clocks(ticket) {
        let mut steps: Vec<(TimerStep, Option<DateTime<Utc>>)> = Vec::new();
        let warning =
            started.map(|s| deadlines::warning_at(cal, s, due, span_of(clock, limits), limits));
        steps.push((TimerStep::Warning, warning.and_then(Result::ok)));
        steps.push((TimerStep::Breach, Some(due)));
        match clock {
            TimerClock::SignFor if settings.widen_unsigned => {
                steps.push((TimerStep::Widen, Some(due)))
            }
            TimerClock::Resolution => {
                steps.push((TimerStep::Urge, deadlines::urge_at(cal, due, limits).ok()));
                let supervise = cal
                    .add(due, Span::WorkingDays(settings.supervise_after_wd))
                    .ok();
                steps.push((TimerStep::Supervise, supervise));
                steps.push((
                    TimerStep::Publish,
                    deadlines::publish_at(cal, due, limits).ok(),
                ));
            }
            _ => {}
        }
        timers.extend(
            steps
                .into_iter()
                .filter(|(step, _)| {
                    flag_of(clock, *step).is_none_or(|flag| !ticket.flags.contains(&flag))
                })
                // A step the calendar cannot place (an unpublished year) is left out, not
                // guessed; the next rebuild after the calendar is updated schedules it.
                .filter_map(|(step, at)| at.map(|at| Timer::new(ticket.id, clock, step, at, due))),
        );
    }
    timers
}

/// Whether a fired timer still applies to the ticket as it is now.
pub fn still_applies(ticket: &Ticket, timer: &Timer) -> bool {
    running_clocks(ticket)
        .iter()
        .any(|(clock, due, _)| *clock == timer.clock && due.timestamp_millis() == timer.deadline_ms)
}

/// The action a timer calls for on `ticket`, or `None` when it is already done.
pub fn action_for(
    ticket: &Ticket,
    timer: &Timer,
    widen_to: Option<hotline_core::StationId>,
) -> Option<Action> {
    let note = format!(
        "{} deadline {}: {}",
        timer.clock.code(),
        timer.deadline().to_rfc3339(),
        timer.step.code()
    );
    match flag_of(timer.clock, timer.step) {
        Some(flag) if ticket.flags.contains(&flag) => None,
        Some(flag) => Some(Action::Flag { flag, note }),
        None if timer.step == TimerStep::Widen => widen_to.map(|station| Action::Redispatch {
            station,
            sign_for_due: None,
            note,
        }),
        None => None,
    }
}

/// Who timers act as.
pub fn engine() -> Actor {
    Actor::system()
}

/// How long a claimed timer is held before another replica may take it over: well beyond
/// [`BATCH_TIMEOUT`], so a batch still being fired is never handed out twice.
pub const TIMER_LEASE: fn() -> Duration = || Duration::seconds(60);

/// The longest one batch of timers may take before it is abandoned and handed back.
pub const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Timers firing this late (the oldest of a claimed batch) are reported in the log.
pub const LAG_WARNING: std::time::Duration = std::time::Duration::from_secs(30);

/// The clocks running on `ticket` now, each with its deadline and when its yellow light comes
/// on: what the supervision figures (overdue now, about to breach) read.
pub fn running_with_warnings(
    ticket: &Ticket,
    sla: &Sla,
) -> Vec<(TimerClock, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let limits = sla
        .policy
        .limits(ticket.category.as_ref(), ticket.nature, ticket.urgency);
    let calendar = sla.calendar();
    running_clocks(ticket)
        .into_iter()
        .map(|(clock, due, started)| {
            let warning = started.and_then(|s| {
                deadlines::warning_at(&calendar, s, due, span_of(clock, limits), limits).ok()
            });
            (clock, due, warning)
        })
        .collect()
}
