//! The 12345 ticket lifecycle as a pure state machine.
//!
//! [`apply`] takes a ticket, who acts, what they ask and when, and returns the next ticket and the
//! [`Event`] to append to the log, or a [`LifecycleError`]. It does no I/O and reads no clock:
//! deadlines are computed by the caller (from the SLA policy) and carried in the action, so the
//! event log records the exact deadline that was set, and replaying the log rebuilds the ticket.
//!
//! ```text
//! Accepted ──answer_directly / hand_off / not_accept / link_duplicate──▶ Closed
//!    │ send_to_triage                 ▲ arbitrate_return(accept)
//!    ▼                                │
//! PendingDispatch ──dispatch──▶ AwaitingSignFor ──sign_for──▶ InProgress ──reply──▶ PendingReview
//!        ▲                          │  ▲    ▲                    │   │ ▲                │ review
//!        └──── ReturnRequested ◀────┘  │    └── sub_dispatch ────┘   │ └─ review(reject)┘ (approve)
//!                     ▲   request_return └─ redo (dissatisfied,      │                   ▼
//!                     └──────────────────── reasonable callback) ◀── AwaitingCallback ──close──▶ Closed
//! ```
//! Supervision flags, co-handlers and extension requests change no stage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{InvalidInput, LifecycleError};
use crate::ids::{CategoryCode, DivisionCode, IncidentId, StaffId, StationId, TicketId};
use crate::kinds::{EmergencyService, Flag, Nature, ReturnReason, Satisfaction, Stage, Urgency};
use crate::ticket::{
    required_text, Callback, CoHandler, DirectAnswer, ExtensionRequest, NewTicket, Outcome, Reply,
    ReturnRequest, Ticket, NOTE_MAX_CHARS,
};

/// The part someone plays when they act on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 话务员 at the centre.
    Operator,
    /// Staff of a receiving station (acts only for their own station).
    Station,
    /// 督办/supervisor at the centre or a command centre.
    Supervisor,
    /// Another platform submitting through the API.
    Integrator,
    /// The engine itself (timers, escalation).
    System,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Station => "station",
            Role::Supervisor => "supervisor",
            Role::Integrator => "integrator",
            Role::System => "system",
        }
    }
    fn is_centre(self) -> bool {
        matches!(self, Role::Operator | Role::Supervisor | Role::System)
    }
}

/// Who acts. Station staff carry their station; the lifecycle checks it against the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: Role,
    pub staff: Option<StaffId>,
    pub station: Option<StationId>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            role: Role::System,
            staff: None,
            station: None,
        }
    }
}

/// Everything that can happen to a ticket. Serialized (tagged by `kind`) into the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// 登记: the request is recorded. Only the first event of a ticket.
    Submit { ticket: Box<NewTicket> },
    /// 直办: answered directly by the operator, from a knowledge article or not. With
    /// `callback` the centre calls the caller back (a share of direct answers is): the ticket
    /// waits for the callback, due at `callback_due`, instead of closing.
    AnswerDirectly {
        answer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        article: Option<crate::ticket::ArticleRef>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        callback: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback_due: Option<DateTime<Utc>>,
    },
    /// 转110/119/120/122: emergency hand-off, recorded and closed here.
    HandOff {
        service: EmergencyService,
        note: String,
    },
    /// 不予受理: out of scope.
    NotAccept { advice: String },
    /// 重复: link to a live ticket. The caller checks that `of` exists and is live.
    LinkDuplicate { of: TicketId },
    /// 并案: this ticket leads the incident `incident` (its own id); nothing else changes: its
    /// station handles it as before and answers for the incident.
    LeadIncident { incident: IncidentId },
    /// 并案: this ticket joins the incident led by another ticket. It leaves any station's
    /// queue and its clocks stop: the lead's station handles the matter, and the incident's
    /// one reply answers it ([`Action::IncidentReply`]).
    JoinIncident { incident: IncidentId },
    /// The incident's one public reply, given to a ticket merged into it: it waits for its own
    /// callback (due at `callback_due`) like any replied ticket. `station` is the lead's
    /// station, which handled the matter: its callbacks are credited to it.
    IncidentReply {
        incident: IncidentId,
        public_reply: String,
        callback_due: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        station: Option<StationId>,
    },
    /// Splits a merged ticket out of its incident: it goes to centre triage to be dispatched
    /// on its own. (One already answered is no longer merged: its caller's callback decides.)
    LeaveIncident { incident: IncidentId, note: String },
    /// Put the ticket in centre triage (no confident route).
    SendToTriage { reason: String },
    /// 派单: to a lead station.
    Dispatch {
        station: StationId,
        sign_for_due: Option<DateTime<Utc>>,
        note: String,
    },
    /// Station staff took the ticket off the queue (a lease, not a stage change).
    Claim,
    /// 签收. Starts the resolution and first-contact clocks.
    SignFor {
        resolution_due: Option<DateTime<Utc>>,
        #[serde(default)]
        first_contact_due: Option<DateTime<Utc>>,
    },
    /// The station reached the caller (首次联系); the first-contact clock stops.
    ContactCaller { note: String },
    /// 退单申请, with a reason code and the basis for it.
    RequestReturn { reason: ReturnReason, basis: String },
    /// The centre's decision on a return request.
    ArbitrateReturn { accept: bool, note: String },
    /// 延期申请.
    RequestExtension { working_days: u32, reason: String },
    /// The centre's decision on an extension. An approval carries the new resolution deadline.
    DecideExtension {
        approve: bool,
        new_resolution_due: Option<DateTime<Utc>>,
        note: String,
    },
    /// 下派: the holder passes the ticket down (street -> community) and stays the lead.
    SubDispatch {
        station: StationId,
        sign_for_due: Option<DateTime<Utc>>,
        note: String,
    },
    /// 加派/协办: add a co-handling station with its own deadline.
    AddCoHandler {
        station: StationId,
        due: Option<DateTime<Utc>>,
    },
    /// A co-handler reports back to the lead.
    CoHandlerReport { report: String },
    /// 办结并答复.
    Reply {
        internal_record: String,
        public_reply: String,
    },
    /// The centre reviews the reply. An approval carries the callback deadline.
    Review {
        approve: bool,
        callback_due: Option<DateTime<Utc>>,
        note: String,
    },
    /// 回访: the citizen's satisfaction. Dissatisfied and judged reasonable means 重办 (redo).
    RecordCallback {
        satisfaction: Satisfaction,
        reasonable: bool,
        note: String,
        /// On redo: the new sign-for deadline at the same station.
        redo_sign_for_due: Option<DateTime<Utc>>,
    },
    /// 结案.
    Close,
    /// Raise a supervision flag (黄灯, 红灯, 催办, 督办, 通报).
    Flag { flag: Flag, note: String },
    /// Stop the resolution clock while waiting on the caller (for documents, for access).
    PauseClock { reason: String },
    /// Start it again. Carries the resolution deadline moved by the paused working time.
    ResumeClock {
        resolution_due: Option<DateTime<Utc>>,
    },
    /// The router's decision (category, nature, urgency, territory, station) with its explanation.
    /// Records the decision; the dispatch (or triage, or move) that follows is its own event.
    Route {
        explanation: Box<crate::route::Explanation>,
    },
    /// The centre moves a ticket that a station holds to another station (re-route after a
    /// re-categorisation or a corrected address). The new station must sign for it again.
    Redispatch {
        station: StationId,
        sign_for_due: Option<DateTime<Utc>>,
        note: String,
    },
    /// The deadlines recounted on a newly loaded calendar (a State Council notice replacing a
    /// provisional year): both the values before and after, and why.
    RecomputeDeadlines {
        before: DueDates,
        after: DueDates,
        reason: String,
    },
    /// Change what the ticket is about or where (re-categorise). Routing re-decides the station.
    Reclassify {
        category: Option<CategoryCode>,
        nature: Nature,
        urgency: Urgency,
        division: Option<DivisionCode>,
        /// A corrected address (`None`: unchanged).
        #[serde(default)]
        address: Option<String>,
    },
}

impl Action {
    /// The action's name as used in errors, logs and the event log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit { .. } => "submit",
            Action::AnswerDirectly { .. } => "answer_directly",
            Action::HandOff { .. } => "hand_off",
            Action::NotAccept { .. } => "not_accept",
            Action::LinkDuplicate { .. } => "link_duplicate",
            Action::LeadIncident { .. } => "lead_incident",
            Action::JoinIncident { .. } => "join_incident",
            Action::IncidentReply { .. } => "incident_reply",
            Action::LeaveIncident { .. } => "leave_incident",
            Action::SendToTriage { .. } => "send_to_triage",
            Action::Dispatch { .. } => "dispatch",
            Action::Claim => "claim",
            Action::SignFor { .. } => "sign_for",
            Action::ContactCaller { .. } => "contact_caller",
            Action::RequestReturn { .. } => "request_return",
            Action::ArbitrateReturn { .. } => "arbitrate_return",
            Action::RequestExtension { .. } => "request_extension",
            Action::DecideExtension { .. } => "decide_extension",
            Action::SubDispatch { .. } => "sub_dispatch",
            Action::AddCoHandler { .. } => "add_co_handler",
            Action::CoHandlerReport { .. } => "co_handler_report",
            Action::Reply { .. } => "reply",
            Action::Review { .. } => "review",
            Action::RecordCallback { .. } => "record_callback",
            Action::Close => "close",
            Action::Flag { .. } => "flag",
            Action::PauseClock { .. } => "pause_clock",
            Action::ResumeClock { .. } => "resume_clock",
            Action::Route { .. } => "route",
            Action::Redispatch { .. } => "redispatch",
            Action::Reclassify { .. } => "reclassify",
            Action::RecomputeDeadlines { .. } => "recompute_deadlines",
        }
    }
}

/// A ticket's four deadlines, as a value (the `recompute_deadlines` event records two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDates {
    pub sign_for: Option<DateTime<Utc>>,
    pub first_contact: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
    pub callback: Option<DateTime<Utc>>,
}

impl DueDates {
    pub fn of(deadlines: &crate::ticket::Deadlines) -> Self {
        Self {
            sign_for: deadlines.sign_for,
            first_contact: deadlines.first_contact,
            resolution: deadlines.resolution,
            callback: deadlines.callback,
        }
    }
}

/// One entry of a ticket's append-only history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub ticket_id: TicketId,
    /// 1 for the submit, then +1 per change; equals the ticket's version after the change.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: Action,
    /// The stage after the change, so the log reads without replaying.
    pub stage: Stage,
}

/// Creates a ticket from a validated request: the ticket at version 1 and its `submit` event.
pub fn open(id: TicketId, new: NewTicket, actor: Actor, at: DateTime<Utc>) -> (Ticket, Event) {
    let ticket = opened(id, new.clone(), &actor, at);
    let event = Event {
        ticket_id: id,
        seq: 1,
        at,
        actor,
        action: Action::Submit {
            ticket: Box::new(new),
        },
        stage: ticket.stage,
    };
    (ticket, event)
}

/// The ticket [`open`] gives, without its event (a replay has it already).
fn opened(id: TicketId, new: NewTicket, actor: &Actor, at: DateTime<Utc>) -> Ticket {
    let mut ticket = Ticket::accepted(id, new, at);
    ticket.version = 1;
    ticket.submitted_by = actor.staff.clone();
    ticket
}

/// Rebuilds a ticket from its full event log (the first event must be the submit).
pub fn replay(events: &[Event]) -> Result<Ticket, LifecycleError> {
    let (first, rest) = events
        .split_first()
        .ok_or_else(|| LifecycleError::Precondition("an event log starts with a submit".into()))?;
    let Action::Submit { ticket: new } = &first.action else {
        return Err(LifecycleError::Precondition(
            "an event log starts with a submit".into(),
        ));
    };
    let mut ticket = opened(first.ticket_id, (**new).clone(), &first.actor, first.at);
    for event in rest {
        // The event is already written: only the ticket is wanted, so the action is not
        // cloned into a new one (a route's explanation is the largest part of a ticket).
        ticket = advance(&ticket, &event.actor, &event.action, event.at)?;
    }
    Ok(ticket)
}

/// Applies `action` by `actor` at `at`. On success returns the next ticket (version + 1) and the
/// event that records the change; on failure the ticket is untouched.
pub fn apply(
    ticket: &Ticket,
    actor: &Actor,
    action: Action,
    at: DateTime<Utc>,
) -> Result<(Ticket, Event), LifecycleError> {
    let next = advance(ticket, actor, &action, at)?;
    let event = Event {
        ticket_id: ticket.id,
        seq: next.version,
        at,
        actor: actor.clone(),
        action,
        stage: next.stage,
    };
    Ok((next, event))
}

/// The ticket [`apply`] gives, without the event: for callers that have the event already
/// (a replay) or only ask whether the action is allowed, so the action need not be cloned.
pub fn advance(
    ticket: &Ticket,
    actor: &Actor,
    action: &Action,
    at: DateTime<Utc>,
) -> Result<Ticket, LifecycleError> {
    let mut next = ticket.clone();
    transition(&mut next, actor, action)?;
    next.version = ticket.version + 1;
    next.updated_at = at;
    stamp_clock_starts(ticket, &mut next, action, at);
    if let (Action::PauseClock { .. }, Some(pause)) = (action, next.paused.as_mut()) {
        pause.since = at;
    }
    if let Action::ContactCaller { .. } = action {
        next.contacted_at = Some(at);
    }
    if next.stage != Stage::InProgress {
        // A pause belongs to the station handling the ticket; any move ends it.
        next.paused = None;
    }
    Ok(next)
}

/// A clock starts when its deadline is set anew; an approved extension moves the deadline but
/// not the start. A cleared deadline clears its start.
fn stamp_clock_starts(before: &Ticket, next: &mut Ticket, action: &Action, at: DateTime<Utc>) {
    // An extension or a resumed pause moves the deadline of a clock that keeps running.
    let extension = matches!(
        action,
        Action::DecideExtension { .. }
            | Action::ResumeClock { .. }
            | Action::RecomputeDeadlines { .. }
    );
    let old = &before.deadlines;
    let new = &mut next.deadlines;
    let mut restarted = false;
    for (old_due, new_due, start) in [
        (old.sign_for, new.sign_for, &mut new.started.sign_for),
        (
            old.first_contact,
            new.first_contact,
            &mut new.started.first_contact,
        ),
        (old.resolution, new.resolution, &mut new.started.resolution),
        (old.callback, new.callback, &mut new.started.callback),
    ] {
        if new_due.is_none() {
            *start = None;
        } else if new_due != old_due && !extension {
            *start = Some(at);
            restarted = true;
        }
    }
    // Yellow and red lights belong to the clock that was running; a new clock starts green.
    // (Escalations — urged, supervised, published — stay: they are about the ticket.)
    if restarted {
        next.flags.remove(&Flag::Warning);
        next.flags.remove(&Flag::Overdue);
        next.flags.remove(&Flag::ContactWarning);
        next.flags.remove(&Flag::ContactOverdue);
    }
}

fn illegal(ticket: &Ticket, action: &Action) -> LifecycleError {
    LifecycleError::IllegalTransition {
        stage: ticket.stage,
        action: action.name(),
    }
}

fn precondition(message: impl Into<String>) -> LifecycleError {
    LifecycleError::Precondition(message.into())
}

fn note(field: &'static str, raw: &str) -> Result<String, LifecycleError> {
    Ok(required_text(field, raw, NOTE_MAX_CHARS)?)
}

fn optional_note(field: &'static str, raw: &str) -> Result<String, LifecycleError> {
    Ok(crate::ticket::optional_text(field, raw, NOTE_MAX_CHARS)?)
}

/// Centre roles (operator, supervisor, the engine) decide dispatch, arbitration and review.
/// The ticket leaves any station and its clocks stop: it waits for its incident's reply.
fn merge_into(t: &mut Ticket, incident: IncidentId) {
    t.incident = Some(incident);
    t.station = None;
    t.lead_station = None;
    t.co_handlers.clear();
    t.deadlines = Default::default();
    t.stage = Stage::Merged;
}

fn require_centre(actor: &Actor, action: &Action) -> Result<(), LifecycleError> {
    if actor.role.is_centre() {
        return Ok(());
    }
    Err(LifecycleError::Forbidden(format!(
        "{} is a centre action; a {} may not do it",
        action.name(),
        actor.role.code()
    )))
}

/// Station actions must come from staff of the station that holds the ticket.
fn require_holder(ticket: &Ticket, actor: &Actor, action: &Action) -> Result<(), LifecycleError> {
    if actor.role != Role::Station {
        return Err(LifecycleError::Forbidden(format!(
            "{} is done by the station holding the ticket, not by a {}",
            action.name(),
            actor.role.code()
        )));
    }
    match (&actor.station, &ticket.station) {
        (Some(mine), Some(holder)) if mine == holder => Ok(()),
        (Some(mine), Some(holder)) => Err(LifecycleError::Forbidden(format!(
            "ticket {} is held by station {holder}, not by {mine}",
            ticket.id
        ))),
        (None, _) => Err(LifecycleError::Invalid(InvalidInput::new(
            "actor.station_id",
            "station staff must say which station they act for",
        ))),
        (Some(_), None) => Err(precondition(format!(
            "ticket {} is not held by any station",
            ticket.id
        ))),
    }
}

fn transition(t: &mut Ticket, actor: &Actor, action: &Action) -> Result<(), LifecycleError> {
    use Stage::*;
    match (t.stage, action) {
        (_, Action::Submit { .. }) => Err(illegal(t, action)),

        // -- intake decisions, before or instead of dispatch --
        (
            Accepted | PendingDispatch,
            Action::AnswerDirectly {
                answer,
                article,
                callback,
                callback_due,
            },
        ) => {
            require_centre(actor, action)?;
            let answer = note("answer", answer)?;
            t.direct_answer = Some(DirectAnswer {
                answer: answer.clone(),
                article: article.clone(),
            });
            match callback {
                // Called back like a handled ticket: the answer stands as the reply.
                true => {
                    t.reply = Some(Reply {
                        internal_record: String::new(),
                        public_reply: answer,
                    });
                    t.deadlines.callback = *callback_due;
                    t.stage = AwaitingCallback;
                }
                false => close_with(
                    t,
                    Outcome::AnsweredDirectly {
                        answer,
                        article: article.clone(),
                    },
                ),
            }
            Ok(())
        }
        (
            Accepted | PendingDispatch,
            Action::HandOff {
                service,
                note: text,
            },
        ) => {
            require_centre(actor, action)?;
            let text = optional_note("note", text)?;
            close_with(
                t,
                Outcome::HandedOff {
                    service: *service,
                    note: text,
                },
            );
            Ok(())
        }
        (Accepted | PendingDispatch, Action::NotAccept { advice }) => {
            require_centre(actor, action)?;
            let advice = note("advice", advice)?;
            close_with(t, Outcome::NotAccepted { advice });
            Ok(())
        }
        (Accepted | PendingDispatch, Action::LinkDuplicate { of }) => {
            require_centre(actor, action)?;
            if *of == t.id {
                return Err(
                    InvalidInput::new("duplicate_of", "a ticket cannot duplicate itself").into(),
                );
            }
            close_with(t, Outcome::Duplicate { of: *of });
            Ok(())
        }

        // -- 并案: incidents --
        (stage, Action::LeadIncident { incident }) if stage.is_live() => {
            require_centre(actor, action)?;
            if incident.lead() != t.id {
                return Err(precondition(format!(
                    "ticket {} cannot lead incident {incident}: an incident is led by the ticket \
                     whose id it bears",
                    t.id
                )));
            }
            match t.incident {
                Some(current) if current == *incident => Err(precondition(format!(
                    "ticket {} already leads incident {incident}",
                    t.id
                ))),
                Some(other) => Err(precondition(format!(
                    "ticket {} is already in incident {other}",
                    t.id
                ))),
                None => {
                    t.incident = Some(*incident);
                    Ok(())
                }
            }
        }
        (Accepted | PendingDispatch | AwaitingSignFor, Action::JoinIncident { incident }) => {
            require_centre(actor, action)?;
            if incident.lead() == t.id {
                return Err(InvalidInput::new(
                    "incident_id",
                    "a ticket cannot join the incident it leads",
                )
                .into());
            }
            if let Some(other) = t.incident {
                // Only a surge's incident takes in a smaller one's lead (`Role::System`, see
                // below); staff split a ticket out first.
                if actor.role != Role::System || other.lead() != t.id {
                    return Err(precondition(format!(
                        "ticket {} is already in incident {other}; split it out first",
                        t.id
                    )));
                }
            }
            // Not signed for yet, so no station work is lost: the lead's station answers.
            merge_into(t, *incident);
            Ok(())
        }
        // A surge recognised (a hotspot alert): the engine moves a ticket merged into a smaller
        // incident of the same matter (one community's duplicates) into the surge's, so the
        // matter has one incident. Staff split and link instead; a ticket already answered
        // (no longer merged) keeps its reply and callback.
        (Merged, Action::JoinIncident { incident }) => {
            if actor.role != Role::System {
                return Err(precondition(format!(
                    "ticket {} is already in incident {}; split it out first",
                    t.id,
                    t.incident.map_or_else(|| "-".to_owned(), |i| i.to_string())
                )));
            }
            if incident.lead() == t.id {
                return Err(InvalidInput::new(
                    "incident_id",
                    "a ticket cannot join the incident it leads",
                )
                .into());
            }
            if t.incident == Some(*incident) {
                return Err(precondition(format!(
                    "ticket {} is already in incident {incident}",
                    t.id
                )));
            }
            merge_into(t, *incident);
            Ok(())
        }
        (
            Merged,
            Action::IncidentReply {
                incident,
                public_reply,
                callback_due,
                ..
            },
        ) => {
            require_centre(actor, action)?;
            require_in_incident(t, incident)?;
            let public_reply = note("public_reply", public_reply)?;
            t.reply = Some(Reply {
                internal_record: format!("并案统一答复（事件 {incident}）"),
                public_reply,
            });
            t.deadlines.callback = *callback_due;
            t.stage = AwaitingCallback;
            Ok(())
        }
        (
            stage,
            Action::LeaveIncident {
                incident,
                note: text,
            },
        ) if stage.is_live() => {
            require_centre(actor, action)?;
            require_in_incident(t, incident)?;
            if incident.lead() == t.id {
                return Err(precondition(format!(
                    "ticket {} leads incident {incident} and cannot be split out of it",
                    t.id
                )));
            }
            if stage != Merged {
                return Err(precondition(format!(
                    "ticket {} was answered by incident {incident}'s reply ({}): its callback \
                     decides what happens next, not a split",
                    t.id,
                    stage.code()
                )));
            }
            note("note", text)?;
            // Handled on its own from now: the centre dispatches it.
            t.incident = None;
            t.stage = PendingDispatch;
            Ok(())
        }

        (Accepted, Action::SendToTriage { reason }) => {
            require_centre(actor, action)?;
            optional_note("reason", reason)?;
            t.stage = PendingDispatch;
            Ok(())
        }
        (
            Accepted | PendingDispatch,
            Action::Dispatch {
                station,
                sign_for_due,
                note: text,
            },
        ) => {
            require_centre(actor, action)?;
            optional_note("note", text)?;
            t.station = Some(station.clone());
            t.lead_station = None;
            t.deadlines.sign_for = *sign_for_due;
            t.stage = AwaitingSignFor;
            Ok(())
        }

        // -- the station's work --
        (AwaitingSignFor, Action::Claim) => require_holder(t, actor, action),
        (
            AwaitingSignFor,
            Action::SignFor {
                resolution_due,
                first_contact_due,
            },
        ) => {
            require_holder(t, actor, action)?;
            t.signed_by = actor.staff.clone();
            t.deadlines.resolution = *resolution_due;
            t.deadlines.first_contact = *first_contact_due;
            t.contacted_at = None;
            t.stage = InProgress;
            Ok(())
        }
        (InProgress, Action::ContactCaller { note: text }) => {
            require_holder(t, actor, action)?;
            optional_note("note", text)?;
            if t.contacted_at.is_some() {
                return Err(precondition("the caller has already been contacted"));
            }
            // The time is the event's, stamped in `apply`.
            t.contacted_at = Some(t.updated_at);
            t.flags.remove(&Flag::ContactWarning);
            Ok(())
        }
        (AwaitingSignFor | InProgress, Action::RequestReturn { reason, basis }) => {
            require_holder(t, actor, action)?;
            let basis = note("basis", basis)?;
            t.return_request = Some(ReturnRequest {
                reason: *reason,
                basis,
                from_stage: t.stage,
            });
            t.stage = ReturnRequested;
            Ok(())
        }
        (ReturnRequested, Action::ArbitrateReturn { accept, note: text }) => {
            require_centre(actor, action)?;
            optional_note("note", text)?;
            let request = t
                .return_request
                .take()
                .ok_or_else(|| precondition("no return request is pending"))?;
            if *accept {
                // Back to triage for a new dispatch; the clocks restart there.
                t.return_count += 1;
                t.station = None;
                t.lead_station = None;
                t.signed_by = None;
                t.co_handlers.clear();
                t.extension_request = None;
                t.deadlines = Default::default();
                t.stage = PendingDispatch;
            } else {
                t.stage = request.from_stage;
            }
            Ok(())
        }
        (
            InProgress,
            Action::RequestExtension {
                working_days,
                reason,
            },
        ) => {
            require_holder(t, actor, action)?;
            let reason = note("reason", reason)?;
            if *working_days == 0 {
                return Err(InvalidInput::new("working_days", "must be at least 1").into());
            }
            if t.extension_request.is_some() {
                return Err(precondition("an extension request is already pending"));
            }
            t.extension_request = Some(ExtensionRequest {
                working_days: *working_days,
                reason,
            });
            Ok(())
        }
        (
            InProgress | ReturnRequested | PendingReview,
            Action::DecideExtension {
                approve,
                new_resolution_due,
                note: text,
            },
        ) => {
            require_centre(actor, action)?;
            optional_note("note", text)?;
            if t.extension_request.is_none() {
                return Err(precondition("no extension request is pending"));
            }
            if *approve {
                let due = new_resolution_due
                    .ok_or_else(|| precondition("an approved extension needs the new deadline"))?;
                t.deadlines.resolution = Some(due);
                t.extension_count += 1;
                // The old deadline's warning and breach no longer hold.
                t.flags.remove(&Flag::Warning);
                t.flags.remove(&Flag::Overdue);
            }
            t.extension_request = None;
            Ok(())
        }
        (InProgress, Action::PauseClock { reason }) => {
            require_holder(t, actor, action)?;
            let reason = note("reason", reason)?;
            if t.paused.is_some() {
                return Err(precondition("the clock is already paused"));
            }
            // The start is the event's time, stamped in `apply`.
            t.paused = Some(crate::ticket::ClockPause {
                since: t.updated_at,
                reason,
            });
            Ok(())
        }
        (InProgress, Action::ResumeClock { resolution_due }) => {
            if actor.role == Role::Station {
                require_holder(t, actor, action)?;
            } else {
                require_centre(actor, action)?;
            }
            if t.paused.is_none() {
                return Err(precondition("the clock is not paused"));
            }
            t.paused = None;
            if resolution_due.is_some() {
                t.deadlines.resolution = *resolution_due;
            }
            Ok(())
        }
        (
            InProgress,
            Action::SubDispatch {
                station,
                sign_for_due,
                note: text,
            },
        ) => {
            require_holder(t, actor, action)?;
            optional_note("note", text)?;
            if t.station.as_ref() == Some(station) {
                return Err(InvalidInput::new(
                    "station_id",
                    "the ticket is already at that station",
                )
                .into());
            }
            if t.co_handlers.iter().any(|c| &c.station == station) {
                // It would hold the ticket and owe itself a report: refuse rather than guess
                // which of the two roles the centre meant.
                return Err(InvalidInput::new(
                    "station_id",
                    format!("{station} already co-handles this ticket"),
                )
                .into());
            }
            // 首接负责: the first receiver stays the lead when it passes the work down.
            if t.lead_station.is_none() {
                t.lead_station = t.station.clone();
            }
            t.station = Some(station.clone());
            t.signed_by = None;
            // The holder's extension request was about its own deadline; the new station's
            // resolution clock starts when it signs for, and it may ask for its own extension.
            t.extension_request = None;
            t.deadlines.sign_for = *sign_for_due;
            t.stage = AwaitingSignFor;
            Ok(())
        }
        (AwaitingSignFor | InProgress, Action::AddCoHandler { station, due }) => {
            require_centre(actor, action)?;
            if t.station.as_ref() == Some(station) || t.lead_station.as_ref() == Some(station) {
                return Err(InvalidInput::new(
                    "station_id",
                    "the lead station cannot also co-handle",
                )
                .into());
            }
            if t.co_handlers.iter().any(|c| &c.station == station) {
                return Err(precondition(format!(
                    "{station} already co-handles this ticket"
                )));
            }
            t.co_handlers.push(CoHandler {
                station: station.clone(),
                due: *due,
                report: None,
            });
            Ok(())
        }
        (AwaitingSignFor | InProgress | ReturnRequested, Action::CoHandlerReport { report }) => {
            let report = note("report", report)?;
            if actor.role != Role::Station {
                return Err(LifecycleError::Forbidden(
                    "only a co-handling station reports back".into(),
                ));
            }
            let mine = actor.station.as_ref().ok_or_else(|| {
                LifecycleError::Invalid(InvalidInput::new(
                    "actor.station_id",
                    "station staff must say which station they act for",
                ))
            })?;
            let co = t
                .co_handlers
                .iter_mut()
                .find(|c| &c.station == mine)
                .ok_or_else(|| {
                    LifecycleError::Forbidden(format!("{mine} is not a co-handler of this ticket"))
                })?;
            if co.report.is_some() {
                return Err(precondition(format!("{mine} has already reported")));
            }
            co.report = Some(report);
            Ok(())
        }
        (
            InProgress,
            Action::Reply {
                internal_record,
                public_reply,
            },
        ) => {
            require_holder(t, actor, action)?;
            let internal_record = note("internal_record", internal_record)?;
            let public_reply = note("public_reply", public_reply)?;
            if let Some(waiting) = t.co_handlers.iter().find(|c| c.report.is_none()) {
                return Err(precondition(format!(
                    "co-handler {} has not reported back yet",
                    waiting.station
                )));
            }
            t.reply = Some(Reply {
                internal_record,
                public_reply,
            });
            t.paused = None;
            t.extension_request = None;
            t.stage = PendingReview;
            Ok(())
        }

        // -- the centre closes the loop --
        (
            PendingReview,
            Action::Review {
                approve,
                callback_due,
                note: text,
            },
        ) => {
            require_centre(actor, action)?;
            if *approve {
                optional_note("note", text)?;
                t.deadlines.callback = *callback_due;
                t.stage = AwaitingCallback;
            } else {
                // A rejected reply must say what is wrong with it.
                note("note", text)?;
                t.reply = None;
                t.stage = InProgress;
            }
            Ok(())
        }
        (
            AwaitingCallback,
            Action::RecordCallback {
                satisfaction,
                reasonable,
                note: text,
                redo_sign_for_due,
            },
        ) => {
            require_centre(actor, action)?;
            let text = optional_note("note", text)?;
            if *satisfaction == Satisfaction::Dissatisfied && *reasonable && t.station.is_none() {
                // A direct answer that did not settle it: no station had it, so it goes to the
                // centre's dispatch as a ticket to handle, under supervision.
                t.redo_count += 1;
                t.reply = None;
                t.callback = None;
                t.direct_answer = None;
                t.deadlines.callback = None;
                // An incident's reply that did not settle this caller's matter: it is handled
                // on its own from now.
                if t.incident.is_some_and(|i| i.lead() != t.id) {
                    t.incident = None;
                }
                t.flags.insert(Flag::Supervised);
                t.stage = PendingDispatch;
            } else if *satisfaction == Satisfaction::Dissatisfied && *reasonable {
                // 重办: back to the same station to sign for again, under supervision.
                t.redo_count += 1;
                t.reply = None;
                t.callback = None;
                t.signed_by = None;
                t.deadlines.sign_for = *redo_sign_for_due;
                t.deadlines.resolution = None;
                t.deadlines.callback = None;
                t.flags.insert(Flag::Supervised);
                t.stage = AwaitingSignFor;
            } else {
                t.callback = Some(Callback {
                    satisfaction: *satisfaction,
                    reasonable: *reasonable,
                    note: text,
                });
            }
            Ok(())
        }
        (AwaitingCallback, Action::Close) => {
            require_centre(actor, action)?;
            if t.callback.is_none() {
                return Err(precondition("record the callback before closing"));
            }
            let outcome = match &t.direct_answer {
                Some(direct) => Outcome::AnsweredDirectly {
                    answer: direct.answer.clone(),
                    article: direct.article.clone(),
                },
                None => Outcome::Resolved,
            };
            close_with(t, outcome);
            Ok(())
        }

        // -- orthogonal to the stage --
        (stage, Action::RecomputeDeadlines { after, reason, .. }) if stage.is_live() => {
            require_centre(actor, action)?;
            optional_note("reason", reason)?;
            t.deadlines.sign_for = after.sign_for;
            t.deadlines.first_contact = after.first_contact;
            t.deadlines.resolution = after.resolution;
            t.deadlines.callback = after.callback;
            Ok(())
        }
        (stage, Action::Flag { flag, note: text }) if stage.is_live() => {
            require_centre(actor, action)?;
            optional_note("note", text)?;
            if *flag == Flag::Urged {
                t.urge_count += 1;
            } else if t.flags.contains(flag) {
                return Err(precondition(format!(
                    "the ticket is already flagged {}",
                    flag.name_zh()
                )));
            }
            t.flags.insert(*flag);
            Ok(())
        }
        (
            Accepted | PendingDispatch | AwaitingSignFor | InProgress,
            Action::Route { explanation },
        ) => {
            require_centre(actor, action)?;
            if let Some(top) = explanation.categories.first() {
                t.category = Some(top.code.clone());
            }
            if let Some(nature) = explanation.nature {
                t.nature = nature;
            }
            t.urgency = explanation.urgency;
            if explanation.territory.division.is_some() {
                t.division = explanation.territory.division.clone();
            }
            t.route = Some(explanation.clone());
            Ok(())
        }
        (
            AwaitingSignFor | InProgress,
            Action::Redispatch {
                station,
                sign_for_due,
                note: text,
            },
        ) => {
            require_centre(actor, action)?;
            optional_note("note", text)?;
            if t.station.as_ref() == Some(station) {
                return Err(InvalidInput::new(
                    "station_id",
                    "the ticket is already at that station",
                )
                .into());
            }
            if t.co_handlers.iter().any(|c| &c.station == station) {
                return Err(InvalidInput::new(
                    "station_id",
                    format!("{station} already co-handles this ticket"),
                )
                .into());
            }
            // A move starts over at the new station: its own sign-for, its own clocks.
            t.station = Some(station.clone());
            t.lead_station = None;
            t.signed_by = None;
            t.extension_request = None;
            t.deadlines = Default::default();
            t.deadlines.sign_for = *sign_for_due;
            t.stage = AwaitingSignFor;
            Ok(())
        }
        (
            Accepted | PendingDispatch | AwaitingSignFor | InProgress,
            Action::Reclassify {
                category,
                nature,
                urgency,
                division,
                address,
            },
        ) => {
            require_centre(actor, action)?;
            if let Some(address) = address {
                t.address = crate::ticket::optional_text(
                    "address",
                    address,
                    crate::ticket::ADDRESS_MAX_CHARS,
                )?;
            }
            t.category = category.clone();
            t.nature = *nature;
            t.urgency = *urgency;
            t.division = division.clone();
            Ok(())
        }

        _ => Err(illegal(t, action)),
    }
}

/// The ticket must belong to `incident` (as a member or its lead).
fn require_in_incident(t: &Ticket, incident: &IncidentId) -> Result<(), LifecycleError> {
    match t.incident {
        Some(current) if current == *incident => Ok(()),
        Some(other) => Err(precondition(format!(
            "ticket {} is in incident {other}, not in incident {incident}",
            t.id
        ))),
        None => Err(precondition(format!(
            "ticket {} is not in incident {incident}",
            t.id
        ))),
    }
}

fn close_with(t: &mut Ticket, outcome: Outcome) {
    t.outcome = Some(outcome);
    t.stage = Stage::Closed;
    t.flags.remove(&Flag::Warning);
}
