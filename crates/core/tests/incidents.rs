//! 并案: a lead ticket, tickets merged into its incident, the incident's one reply, each
//! member's own callback, and splitting a member out.

mod support;

use hotline_core::{Action, IncidentId, LifecycleError, Outcome, Satisfaction, Stage, TicketId};
use support::*;

fn reply(incident: IncidentId, text: &str) -> Action {
    Action::IncidentReply {
        incident,
        public_reply: text.into(),
        callback_due: Some(day(3)),
        station: None,
    }
}

fn split(incident: IncidentId) -> Action {
    Action::LeaveIncident {
        incident,
        note: "另一处漏水，单独处理".into(),
    }
}

#[test]
fn a_merged_ticket_leaves_its_queue_stops_its_clocks_and_records_the_incident() {
    let mut story = Story::awaiting_sign_for(COMMUNITY);
    let lead = TicketId::new();
    let t = story.ok(&operator(), join_incident(lead));
    assert_eq!(t.stage, Stage::Merged);
    assert_eq!(t.incident, Some(IncidentId::led_by(lead)));
    assert_eq!(t.station, None, "no station is sent a copy");
    assert_eq!(t.queued_station(), None);
    assert_eq!(t.deadlines.sign_for, None, "no clock runs while merged");
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn the_lead_keeps_its_station_and_stage() {
    let mut story = Story::in_progress(STREET);
    let incident = IncidentId::led_by(story.ticket.id);
    let t = story.ok(&supervisor(), Action::LeadIncident { incident });
    assert_eq!(t.stage, Stage::InProgress);
    assert_eq!(t.station, Some(station(STREET)));
    assert_eq!(t.incident, Some(incident));
    // Leading twice, or leading an incident that bears another ticket's id, is refused.
    assert!(matches!(
        story.refused(&supervisor(), Action::LeadIncident { incident }),
        LifecycleError::Precondition(_)
    ));
    let other = Story::in_progress(STREET);
    assert!(matches!(
        other.refused(&supervisor(), Action::LeadIncident { incident }),
        LifecycleError::Precondition(_)
    ));
    // A lead cannot join another incident, nor its own.
    let e = story.refused(&supervisor(), join_incident(TicketId::new()));
    assert_illegal(&e, Stage::InProgress, "join_incident");
    let fresh = Story::submitted();
    let own = fresh.ticket.id;
    assert!(matches!(
        fresh.refused(&operator(), join_incident(own)),
        LifecycleError::Invalid(_)
    ));
}

#[test]
fn the_incident_reply_answers_each_member_which_is_called_back_and_closed_on_its_own() {
    let mut story = Story::submitted();
    let lead = TicketId::new();
    let incident = IncidentId::led_by(lead);
    story.ok(&operator(), join_incident(lead));
    let t = story.ok(
        &supervisor(),
        reply(incident, "管道抢修完毕，已于18时恢复供水。"),
    );
    assert_eq!(t.stage, Stage::AwaitingCallback);
    assert_eq!(
        t.reply.as_ref().unwrap().public_reply,
        "管道抢修完毕，已于18时恢复供水。"
    );
    assert_eq!(t.deadlines.callback, Some(day(3)));
    assert_eq!(
        story.refused(&supervisor(), close()).to_string(),
        LifecycleError::Precondition("record the callback before closing".into()).to_string()
    );
    story.ok(&supervisor(), callback(Satisfaction::Satisfied, false));
    let t = story.ok(&supervisor(), close());
    assert_eq!(t.outcome, Some(Outcome::Resolved));
    assert_eq!(t.incident, Some(incident), "the history keeps the incident");
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_reply_to_another_incident_or_over_the_limit_or_by_a_station_is_refused() {
    let mut story = Story::submitted();
    let lead = TicketId::new();
    story.ok(&operator(), join_incident(lead));
    let elsewhere = IncidentId::led_by(TicketId::new());
    let e = story.refused(&supervisor(), reply(elsewhere, "恢复供水"));
    assert!(e.to_string().contains("not in incident"), "{e}");
    let long = "水".repeat(hotline_core::ticket::NOTE_MAX_CHARS + 1);
    match story.refused(&supervisor(), reply(IncidentId::led_by(lead), &long)) {
        LifecycleError::Invalid(e) => assert_eq!(e.field, "public_reply"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        story.refused(
            &staff_of(STREET),
            reply(IncidentId::led_by(lead), "恢复供水")
        ),
        LifecycleError::Forbidden(_)
    ));
}

#[test]
fn a_split_member_goes_to_triage_and_a_split_of_a_stranger_or_the_lead_is_refused() {
    let mut story = Story::submitted();
    let lead = TicketId::new();
    let incident = IncidentId::led_by(lead);
    story.ok(&operator(), join_incident(lead));
    let t = story.ok(&supervisor(), split(incident));
    assert_eq!(t.stage, Stage::PendingDispatch);
    assert_eq!(t.incident, None);
    // Split already: not in the incident any more, and the refusal says so.
    let e = story.refused(&supervisor(), split(incident));
    assert_eq!(
        e.to_string(),
        LifecycleError::Precondition(format!(
            "ticket {} is not in incident {incident}",
            story.ticket.id
        ))
        .to_string()
    );
    let mut led = Story::in_progress(STREET);
    let own = IncidentId::led_by(led.ticket.id);
    led.ok(&supervisor(), Action::LeadIncident { incident: own });
    assert!(led
        .refused(&supervisor(), split(own))
        .to_string()
        .contains("leads incident"));
    // Answered by the incident's reply: its callback decides, not a split.
    let mut answered = Story::at_stage(Stage::Merged);
    let theirs = answered.ticket.incident.unwrap();
    answered.ok(&supervisor(), reply(theirs, "已恢复供水"));
    assert!(answered
        .refused(&supervisor(), split(theirs))
        .to_string()
        .contains("its callback decides"));
}

#[test]
fn a_member_whose_caller_reasonably_rejects_the_reply_is_handled_on_its_own() {
    let mut story = Story::at_stage(Stage::Merged);
    let incident = story.ticket.incident.unwrap();
    story.ok(&supervisor(), reply(incident, "已恢复供水。"));
    let t = story.ok(&supervisor(), callback(Satisfaction::Dissatisfied, true));
    assert_eq!(t.stage, Stage::PendingDispatch);
    assert_eq!(t.incident, None);
    assert_eq!(t.redo_count, 1);
}

#[test]
fn only_the_engine_moves_a_merged_ticket_or_a_waiting_lead_into_a_surge_s_incident() {
    let system = hotline_core::lifecycle::Actor::system();
    let surge = IncidentId::led_by(TicketId::new());
    // A member of one community's incident: staff split it first; the engine moves it.
    let mut member = Story::submitted();
    let community = IncidentId::led_by(TicketId::new());
    member.ok(&operator(), join_incident(community.lead()));
    assert!(member
        .refused(&supervisor(), Action::JoinIncident { incident: surge })
        .to_string()
        .contains("split it out first"));
    let t = member.ok(&system, Action::JoinIncident { incident: surge });
    assert_eq!(t.stage, Stage::Merged);
    assert_eq!(t.incident, Some(surge));
    // Into the incident it is in already, or one it leads: refused.
    assert!(matches!(
        member.refused(&system, Action::JoinIncident { incident: surge }),
        LifecycleError::Precondition(_)
    ));
    let own = IncidentId::led_by(member.ticket.id);
    assert!(matches!(
        member.refused(&system, Action::JoinIncident { incident: own }),
        LifecycleError::Invalid(_)
    ));
    assert_eq!(member.replayed(), member.ticket);

    // The lead of a smaller incident, not yet signed for, follows its members in.
    let mut lead = Story::awaiting_sign_for(COMMUNITY);
    let led = IncidentId::led_by(lead.ticket.id);
    lead.ok(&supervisor(), Action::LeadIncident { incident: led });
    assert!(lead
        .refused(&supervisor(), Action::JoinIncident { incident: surge })
        .to_string()
        .contains("split it out first"));
    let t = lead.ok(&system, Action::JoinIncident { incident: surge });
    assert_eq!(
        (t.stage, t.incident, t.station.clone()),
        (Stage::Merged, Some(surge), None)
    );
    assert_eq!(t.deadlines.sign_for, None);
    assert_eq!(lead.replayed(), lead.ticket);

    // A lead its station already works on stays: no station work is thrown away.
    let mut working = Story::in_progress(STREET);
    let theirs = IncidentId::led_by(working.ticket.id);
    working.ok(&supervisor(), Action::LeadIncident { incident: theirs });
    let e = working.refused(&system, Action::JoinIncident { incident: surge });
    assert_illegal(&e, Stage::InProgress, "join_incident");
}
