//! SLA clocks: fills in the deadlines an action starts, from the policy and the working calendar.
//!
//! The lifecycle is pure and takes deadlines as data; this module computes them at the moment
//! the action happens, so the event log records exactly the deadline that was set.

use std::sync::Arc;

use arc_swap::ArcSwap;

use chrono::{DateTime, Utc};
use hotline_core::{Action, Ticket};
use hotline_sla::{deadlines, CalendarError, Limits, SlaPolicy, Span, WorkingCalendar};

use crate::error::RouterError;

/// The SLA policy and the calendar it counts on. The calendar can be replaced while the router
/// runs (a State Council notice loaded without a restart); every clone sees the new one.
#[derive(Debug, Clone)]
pub struct Sla {
    pub policy: Arc<SlaPolicy>,
    calendar: Arc<ArcSwap<WorkingCalendar>>,
}

impl Sla {
    pub fn new(policy: SlaPolicy, calendar: WorkingCalendar) -> Self {
        Self {
            policy: Arc::new(policy),
            calendar: Arc::new(ArcSwap::from_pointee(calendar)),
        }
    }

    pub fn builtin() -> Self {
        Self::new(SlaPolicy::default_policy(), WorkingCalendar::builtin())
    }

    /// The calendar in force now.
    pub fn calendar(&self) -> Arc<WorkingCalendar> {
        self.calendar.load_full()
    }

    /// Puts `calendar` in force; returns the one it replaces.
    pub fn replace_calendar(&self, calendar: WorkingCalendar) -> Arc<WorkingCalendar> {
        self.calendar.swap(Arc::new(calendar))
    }

    fn limits(&self, ticket: &Ticket) -> &Limits {
        self.policy
            .limits(ticket.category.as_ref(), ticket.nature, ticket.urgency)
    }

    /// Fills the deadline fields of `action` for `ticket` at `now`, and enforces the SLA rules
    /// that decide whether the action is allowed (extension notice and size).
    pub fn prepare(
        &self,
        ticket: &Ticket,
        action: &mut Action,
        now: DateTime<Utc>,
    ) -> Result<(), RouterError> {
        let limits = self.limits(ticket).clone();
        let calendar = self.calendar();
        let cal = &*calendar;
        match action {
            Action::Dispatch { sign_for_due, .. }
            | Action::SubDispatch { sign_for_due, .. }
            | Action::Redispatch { sign_for_due, .. } => {
                *sign_for_due = lenient(deadlines::sign_for_due(cal, now, &limits))?;
            }
            Action::SignFor {
                resolution_due,
                first_contact_due,
            } => {
                *resolution_due = lenient(deadlines::resolution_due(cal, now, &limits))?;
                *first_contact_due = lenient(deadlines::first_contact_due(cal, now, &limits))?;
            }
            Action::AddCoHandler { due, .. } => {
                // A co-handler reports back within the resolution span from now, and never after
                // the lead's own deadline.
                let own = lenient(deadlines::resolution_due(cal, now, &limits))?;
                *due = match (own, ticket.deadlines.resolution) {
                    (Some(own), Some(lead)) => Some(own.min(lead)),
                    (own, lead) => own.or(lead),
                };
            }
            Action::RequestExtension { working_days, .. } => {
                if let Some(due) = ticket.deadlines.resolution {
                    deadlines::extension_allowed(
                        cal,
                        now,
                        due,
                        Span::WorkingDays(*working_days),
                        &limits,
                    )?;
                }
            }
            Action::DecideExtension {
                approve: true,
                new_resolution_due,
                ..
            } => {
                let request = ticket.extension_request.as_ref().ok_or_else(|| {
                    RouterError::Precondition("no extension request is pending".into())
                })?;
                let base = ticket.deadlines.resolution.unwrap_or(now);
                *new_resolution_due =
                    Some(cal.extend(base, Span::WorkingDays(request.working_days))?);
            }
            Action::ResumeClock { resolution_due } => {
                // The deadline moves by the time the clock stood still: office time for a
                // working-time limit, elapsed time for a clock-hours one.
                if let (Some(due), Some(pause)) = (ticket.deadlines.resolution, &ticket.paused) {
                    let moved = if limits.resolution.is_working_time() {
                        let paused = cal.working_time_between(pause.since, now)?;
                        cal.add_working_time(due, paused)?
                    } else {
                        due + (now - pause.since)
                    };
                    *resolution_due = Some(moved);
                }
            }
            Action::Review {
                approve: true,
                callback_due,
                ..
            } => {
                *callback_due = lenient(deadlines::callback_due(cal, now, &limits))?;
            }
            Action::RecordCallback {
                redo_sign_for_due, ..
            } => {
                *redo_sign_for_due = lenient(deadlines::sign_for_due(cal, now, &limits))?;
            }
            Action::AnswerDirectly {
                callback: true,
                callback_due,
                ..
            }
            | Action::IncidentReply { callback_due, .. } => {
                // A direct answer chosen for a callback is called back like a reviewed reply.
                *callback_due = lenient(deadlines::callback_due(cal, now, &limits))?;
            }
            _ => {}
        }
        if action_dues(action).any(|due| cal.is_provisional_deadline(due)) {
            // Counted over a year whose notice is not loaded: it may move when it is.
            metrics::counter!("hotline_provisional_deadlines_total").increment(1);
        }
        Ok(())
    }
}

/// The deadlines an action sets.
fn action_dues(action: &Action) -> impl Iterator<Item = DateTime<Utc>> {
    let dues: Vec<Option<DateTime<Utc>>> = match action {
        Action::Dispatch { sign_for_due, .. }
        | Action::SubDispatch { sign_for_due, .. }
        | Action::Redispatch { sign_for_due, .. } => vec![*sign_for_due],
        Action::SignFor {
            resolution_due,
            first_contact_due,
        } => vec![*resolution_due, *first_contact_due],
        Action::AddCoHandler { due, .. } => vec![*due],
        Action::DecideExtension {
            new_resolution_due, ..
        } => vec![*new_resolution_due],
        Action::ResumeClock { resolution_due } => vec![*resolution_due],
        Action::Review { callback_due, .. }
        | Action::AnswerDirectly { callback_due, .. }
        | Action::IncidentReply { callback_due, .. } => vec![*callback_due],
        Action::RecordCallback {
            redo_sign_for_due, ..
        } => vec![*redo_sign_for_due],
        _ => Vec::new(),
    };
    dues.into_iter().flatten()
}

/// A deadline that falls in a year whose official calendar is not yet published cannot be
/// computed honestly. The action still goes ahead (a citizen's ticket must not wait for the
/// State Council), with the deadline left unset and a warning in the log; every other calendar
/// error is a real failure.
fn lenient(
    result: Result<DateTime<Utc>, CalendarError>,
) -> Result<Option<DateTime<Utc>>, RouterError> {
    match result {
        Ok(due) => Ok(Some(due)),
        Err(CalendarError::UnknownYear(year)) => {
            tracing::warn!(year, "holiday calendar not published; deadline left unset");
            metrics::counter!("hotline_deadline_unset_total").increment(1);
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}
