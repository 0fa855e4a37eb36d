//! Shared fixtures for the lifecycle suites: a fixed clock, the stations of one street, the people
//! who act, one constructor per action, and [`Story`], a ticket with its event log that checks
//! every step as it goes.
//!
//! Each test binary uses a different part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{
    apply, open, replay, Action, Actor, CategoryCode, Channel, DivisionCode, EmergencyService,
    Event, Flag, LifecycleError, Nature, NewTicket, ReturnReason, Role, Satisfaction, StaffId,
    Stage, StationId, Ticket, TicketId, Urgency,
};

// -- time --

/// Monday 4 March 2024, 09:00 in Suzhou: the moment every story starts.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 4, 1, 0, 0).unwrap()
}

/// `minutes` after [`t0`].
pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

/// `days` calendar days after [`t0`], for deadlines.
pub fn day(days: i64) -> DateTime<Utc> {
    t0() + Duration::days(days)
}

// -- the network: one street office, two of its communities, and a neighbouring street --

pub const STREET: &str = "320505001-street";
pub const COMMUNITY: &str = "320505001001-css";
pub const OTHER_COMMUNITY: &str = "320505001002-css";
pub const NEIGHBOUR_STREET: &str = "320505002-street";
/// Every station used by the suites.
pub const STATIONS: [&str; 4] = [STREET, COMMUNITY, OTHER_COMMUNITY, NEIGHBOUR_STREET];

pub fn station(id: &str) -> StationId {
    StationId::parse("station_id", id).unwrap()
}

// -- who acts --

pub fn operator() -> Actor {
    Actor {
        role: Role::Operator,
        staff: Some(StaffId::parse("staff_id", "op-007").unwrap()),
        station: None,
    }
}

pub fn supervisor() -> Actor {
    Actor {
        role: Role::Supervisor,
        staff: Some(StaffId::parse("staff_id", "sup-001").unwrap()),
        station: None,
    }
}

pub fn integrator() -> Actor {
    Actor {
        role: Role::Integrator,
        staff: None,
        station: None,
    }
}

/// Staff of `station_id`, acting for it.
pub fn staff_of(station_id: &str) -> Actor {
    let staff = format!("{}.staff", station_id.split('-').next().unwrap());
    Actor {
        role: Role::Station,
        staff: Some(StaffId::parse("staff_id", &staff).unwrap()),
        station: Some(station(station_id)),
    }
}

/// Station staff who did not say which station they act for.
pub fn staff_without_station() -> Actor {
    Actor {
        role: Role::Station,
        staff: Some(StaffId::parse("staff_id", "anon.staff").unwrap()),
        station: None,
    }
}

// -- the request --

pub fn new_ticket() -> NewTicket {
    NewTicket {
        request_id: None,
        channel: Channel::Hotline,
        caller: Default::default(),
        text: "小区路灯坏了一个星期，晚上看不见路".into(),
        address: "苏州市吴中区长桥街道某小区3幢".into(),
        location: None,
        kiosk: None,
        category: Some(CategoryCode::parse("category", "CJ.LD").unwrap()),
        nature: Nature::Help,
        urgency: Urgency::Normal,
        division: Some(DivisionCode::parse("division", "320505001001").unwrap()),
    }
    .validate()
    .unwrap()
}

// -- one constructor per action, with ordinary contents --

pub fn answer_directly(answer: &str) -> Action {
    Action::AnswerDirectly {
        answer: answer.into(),
        article: None,
        callback: false,
        callback_due: None,
    }
}

pub fn hand_off(service: EmergencyService) -> Action {
    Action::HandOff {
        service,
        note: "caller reports smoke in the stairwell".into(),
    }
}

pub fn not_accept(advice: &str) -> Action {
    Action::NotAccept {
        advice: advice.into(),
    }
}

pub fn link_duplicate(of: TicketId) -> Action {
    Action::LinkDuplicate { of }
}

/// Joins the incident led by `lead`.
pub fn join_incident(lead: TicketId) -> Action {
    Action::JoinIncident {
        incident: hotline_core::IncidentId::led_by(lead),
    }
}

pub fn send_to_triage() -> Action {
    Action::SendToTriage {
        reason: "no confident route".into(),
    }
}

pub fn dispatch(to: &str) -> Action {
    Action::Dispatch {
        station: station(to),
        sign_for_due: Some(day(1)),
        note: String::new(),
    }
}

pub fn sign_for() -> Action {
    Action::SignFor {
        resolution_due: Some(day(7)),
        first_contact_due: Some(day(5)),
    }
}

pub fn request_return(basis: &str) -> Action {
    Action::RequestReturn {
        reason: ReturnReason::WrongTerritory,
        basis: basis.into(),
    }
}

pub fn arbitrate(accept: bool) -> Action {
    Action::ArbitrateReturn {
        accept,
        note: String::new(),
    }
}

pub fn request_extension(working_days: u32) -> Action {
    Action::RequestExtension {
        working_days,
        reason: "the contractor needs a replacement part".into(),
    }
}

pub fn approve_extension(new_due: DateTime<Utc>) -> Action {
    Action::DecideExtension {
        approve: true,
        new_resolution_due: Some(new_due),
        note: String::new(),
    }
}

pub fn refuse_extension() -> Action {
    Action::DecideExtension {
        approve: false,
        new_resolution_due: None,
        note: "the part is in stock".into(),
    }
}

pub fn sub_dispatch(to: &str) -> Action {
    Action::SubDispatch {
        station: station(to),
        sign_for_due: Some(day(2)),
        note: "the lamp is in your community".into(),
    }
}

pub fn add_co_handler(co: &str) -> Action {
    Action::AddCoHandler {
        station: station(co),
        due: Some(day(5)),
    }
}

pub fn co_report(report: &str) -> Action {
    Action::CoHandlerReport {
        report: report.into(),
    }
}

pub fn reply() -> Action {
    Action::Reply {
        internal_record: "replaced the lamp on 5 March".into(),
        public_reply: "路灯已于3月5日修复。".into(),
    }
}

pub fn approve_reply() -> Action {
    Action::Review {
        approve: true,
        callback_due: Some(day(9)),
        note: String::new(),
    }
}

pub fn reject_reply(note: &str) -> Action {
    Action::Review {
        approve: false,
        callback_due: None,
        note: note.into(),
    }
}

pub fn callback(satisfaction: Satisfaction, reasonable: bool) -> Action {
    Action::RecordCallback {
        satisfaction,
        reasonable,
        note: "called back".into(),
        redo_sign_for_due: Some(day(10)),
    }
}

pub fn close() -> Action {
    Action::Close
}

pub fn flag(flag: Flag) -> Action {
    Action::Flag {
        flag,
        note: String::new(),
    }
}

pub fn reclassify() -> Action {
    Action::Reclassify {
        category: Some(CategoryCode::parse("category", "CJ.WY").unwrap()),
        nature: Nature::Complaint,
        urgency: Urgency::Urgent,
        division: Some(DivisionCode::parse("division", "320505001002").unwrap()),
        address: Some("吴中区横塘街道横塘社区".into()),
    }
}

pub fn submit() -> Action {
    Action::Submit {
        ticket: Box::new(new_ticket()),
    }
}

/// One ordinary example of every action, for tables that sweep all of them.
pub fn one_of_every_action() -> Vec<Action> {
    vec![
        submit(),
        answer_directly("the office opens at 9"),
        hand_off(EmergencyService::Fire),
        not_accept("a private contract dispute: see a lawyer"),
        link_duplicate(TicketId::new()),
        send_to_triage(),
        dispatch(STREET),
        Action::Claim,
        sign_for(),
        request_return("the lamp belongs to the neighbouring street"),
        arbitrate(true),
        request_extension(3),
        approve_extension(day(12)),
        sub_dispatch(COMMUNITY),
        add_co_handler(NEIGHBOUR_STREET),
        co_report("checked the cable"),
        reply(),
        approve_reply(),
        callback(Satisfaction::Satisfied, false),
        close(),
        flag(Flag::Urged),
        reclassify(),
        Action::LeadIncident {
            incident: hotline_core::IncidentId::led_by(TicketId::new()),
        },
        join_incident(TicketId::new()),
        Action::IncidentReply {
            incident: hotline_core::IncidentId::led_by(TicketId::new()),
            public_reply: "已恢复供水".into(),
            callback_due: Some(day(3)),
            station: Some(station(STREET)),
        },
        Action::LeaveIncident {
            incident: hotline_core::IncidentId::led_by(TicketId::new()),
            note: "单独处理".into(),
        },
    ]
}

// -- stories --

/// A ticket and its event log, driven step by step. Every successful step is checked against
/// the event it produced; every refused step is checked to leave the ticket as it was.
#[derive(Debug, Clone)]
pub struct Story {
    pub ticket: Ticket,
    pub events: Vec<Event>,
    minute: i64,
}

impl Story {
    /// A ticket just submitted by the operator: stage Accepted, version 1.
    pub fn submitted() -> Self {
        let (ticket, event) = open(TicketId::new(), new_ticket(), operator(), at(0));
        Self {
            ticket,
            events: vec![event],
            minute: 0,
        }
    }

    /// Dispatched to `to`, waiting to be signed for.
    pub fn awaiting_sign_for(to: &str) -> Self {
        let mut story = Self::submitted();
        story.ok(&operator(), dispatch(to));
        story
    }

    /// Dispatched to and signed for by `to`.
    pub fn in_progress(to: &str) -> Self {
        let mut story = Self::awaiting_sign_for(to);
        story.ok(&staff_of(to), sign_for());
        story
    }

    /// `to` asked to return the ticket after signing for it.
    pub fn return_requested(to: &str) -> Self {
        let mut story = Self::in_progress(to);
        story.ok(&staff_of(to), request_return("not our territory"));
        story
    }

    /// `to` replied; the centre has not reviewed the reply yet.
    pub fn pending_review(to: &str) -> Self {
        let mut story = Self::in_progress(to);
        story.ok(&staff_of(to), reply());
        story
    }

    /// The centre approved `to`'s reply; the citizen has not been called back yet.
    pub fn awaiting_callback(to: &str) -> Self {
        let mut story = Self::pending_review(to);
        story.ok(&supervisor(), approve_reply());
        story
    }

    /// A ticket in `stage`, reached the ordinary way with [`STREET`] as the station.
    pub fn at_stage(stage: Stage) -> Self {
        match stage {
            Stage::Accepted => Self::submitted(),
            Stage::PendingDispatch => {
                let mut story = Self::submitted();
                story.ok(&operator(), send_to_triage());
                story
            }
            Stage::AwaitingSignFor => Self::awaiting_sign_for(STREET),
            Stage::Merged => {
                let mut story = Self::submitted();
                story.ok(&operator(), join_incident(TicketId::new()));
                story
            }
            Stage::InProgress => Self::in_progress(STREET),
            Stage::ReturnRequested => Self::return_requested(STREET),
            Stage::PendingReview => Self::pending_review(STREET),
            Stage::AwaitingCallback => Self::awaiting_callback(STREET),
            Stage::Closed => {
                let mut story = Self::awaiting_callback(STREET);
                story.ok(&operator(), callback(Satisfaction::Satisfied, false));
                story.ok(&operator(), close());
                story
            }
        }
    }

    /// Applies `action`, which must succeed, and checks the event it produced.
    #[track_caller]
    pub fn ok(&mut self, actor: &Actor, action: Action) -> &Ticket {
        self.minute += 1;
        let when = at(self.minute);
        let name = action.name();
        let (next, event) = apply(&self.ticket, actor, action.clone(), when).unwrap_or_else(|e| {
            panic!(
                "{name} by {:?} at stage {} should succeed, got {e:?}",
                actor.role, self.ticket.stage
            )
        });
        assert_eq!(next.version, self.ticket.version + 1, "{name}: version + 1");
        assert_eq!(event.seq, next.version, "{name}: the event's seq");
        assert_eq!(event.stage, next.stage, "{name}: the event's stage");
        assert_eq!(event.ticket_id, self.ticket.id);
        assert_eq!(event.at, when);
        assert_eq!(&event.actor, actor);
        assert_eq!(
            event.action, action,
            "the event records the action as asked"
        );
        assert_eq!(next.updated_at, when);
        self.ticket = next;
        self.events.push(event);
        &self.ticket
    }

    /// Applies `action`, which must fail, checks that nothing changed, and returns the error.
    #[track_caller]
    pub fn refused(&self, actor: &Actor, action: Action) -> LifecycleError {
        let before = self.ticket.clone();
        let name = action.name();
        let result = apply(&self.ticket, actor, action, at(self.minute + 1));
        assert_eq!(
            self.ticket, before,
            "a refused {name} must not touch the ticket"
        );
        match result {
            Ok((next, event)) => panic!(
                "{name} by {:?} at stage {} should be refused, but it moved the ticket to {} (event {})",
                actor.role, before.stage, next.stage, event.seq
            ),
            Err(error) => error,
        }
    }

    /// The ticket rebuilt from the event log.
    pub fn replayed(&self) -> Ticket {
        replay(&self.events).expect("the event log replays")
    }
}

// -- what errors must look like --

#[track_caller]
pub fn assert_illegal(error: &LifecycleError, stage: Stage, action: &str) {
    match error {
        LifecycleError::IllegalTransition {
            stage: got_stage,
            action: got_action,
        } => {
            assert_eq!(*got_stage, stage, "the error names the current stage");
            assert_eq!(*got_action, action, "the error names the action");
            let shown = error.to_string();
            assert_eq!(
                shown,
                format!(
                    "cannot {action} a ticket that is {} ({})",
                    stage.code(),
                    stage.name_zh()
                )
            );
        }
        other => panic!("expected IllegalTransition({stage}, {action}), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_invalid(error: &LifecycleError, field: &str) {
    match error {
        LifecycleError::Invalid(invalid) => assert_eq!(invalid.field, field, "{invalid}"),
        other => panic!("expected Invalid naming {field:?}, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_forbidden(error: &LifecycleError) {
    assert!(
        matches!(error, LifecycleError::Forbidden(_)),
        "expected Forbidden, got {error:?}"
    );
}

/// A refusal because a rule of the lifecycle stops the action now; `mentions` is part of the
/// message staff will read.
#[track_caller]
pub fn assert_precondition(error: &LifecycleError, mentions: &str) {
    match error {
        LifecycleError::Precondition(message) => assert!(
            message.contains(mentions),
            "expected the message to mention {mentions:?}: {message}"
        ),
        other => panic!("expected Precondition mentioning {mentions:?}, got {other:?}"),
    }
}
