//! The ticket lifecycle, by example. Each test is one rule of `docs/domain.md` ("Ticket
//! lifecycle") as the state machine in `hotline_core::lifecycle` implements it.
//!
//! Layout: the main path; the intake decisions that close a ticket early; triage; returns;
//! extensions; sub-dispatch; co-handlers; review; callback and redo; supervision flags;
//! reclassification; who may act; the table of illegal (stage, action) pairs; what a refusal
//! leaves behind; notes.

mod support;

use hotline_core::{
    apply, Action, Actor, ArticleRef, Deadlines, EmergencyService, Flag, LifecycleError, Nature,
    Outcome, ReturnReason, Satisfaction, Stage, StationId, TicketId, Urgency,
};
use support::*;

// ---------------------------------------------------------------------------------------------
// The main path
// ---------------------------------------------------------------------------------------------

#[test]
fn a_submitted_ticket_is_accepted_at_version_one_with_its_submit_event() {
    let story = Story::submitted();
    let ticket = &story.ticket;
    assert_eq!(ticket.stage, Stage::Accepted);
    assert_eq!(ticket.version, 1);
    assert_eq!(ticket.station, None);
    assert_eq!(ticket.outcome, None);
    assert_eq!(ticket.created_at, at(0));
    assert_eq!(story.events.len(), 1);
    let submit = &story.events[0];
    assert_eq!(submit.seq, 1);
    assert_eq!(submit.stage, Stage::Accepted);
    assert!(matches!(submit.action, Action::Submit { .. }));
    assert_eq!(story.replayed(), *ticket);
}

#[test]
fn a_ticket_dispatched_signed_for_replied_reviewed_and_called_back_closes_as_resolved() {
    let mut story = Story::submitted();
    let street = staff_of(STREET);

    let t = story.ok(&operator(), dispatch(STREET));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.station, Some(station(STREET)));
    assert_eq!(t.deadlines.sign_for, Some(day(1)));
    assert_eq!(t.queued_station(), Some(&station(STREET)));

    let t = story.ok(&street, Action::Claim);
    assert_eq!(
        t.stage,
        Stage::AwaitingSignFor,
        "a claim is a lease, not a stage"
    );

    let t = story.ok(&street, sign_for());
    assert_eq!(t.stage, Stage::InProgress);
    assert_eq!(t.signed_by, street.staff);
    assert_eq!(t.deadlines.resolution, Some(day(7)));
    assert_eq!(t.queued_station(), None);

    let t = story.ok(&street, reply());
    assert_eq!(t.stage, Stage::PendingReview);
    let answer = t.reply.as_ref().expect("the reply is kept");
    assert_eq!(answer.public_reply, "路灯已于3月5日修复。");
    assert_eq!(answer.internal_record, "replaced the lamp on 5 March");

    let t = story.ok(&supervisor(), approve_reply());
    assert_eq!(t.stage, Stage::AwaitingCallback);
    assert_eq!(t.deadlines.callback, Some(day(9)));

    let t = story.ok(&operator(), callback(Satisfaction::Satisfied, false));
    assert_eq!(t.stage, Stage::AwaitingCallback);
    let heard = t.callback.as_ref().expect("the callback is recorded");
    assert_eq!(heard.satisfaction, Satisfaction::Satisfied);

    let t = story.ok(&operator(), close());
    assert_eq!(t.stage, Stage::Closed);
    assert_eq!(t.outcome, Some(Outcome::Resolved));
    assert_eq!(
        t.station,
        Some(station(STREET)),
        "who handled it stays on record"
    );
    assert_eq!(t.version, 8);

    let seqs: Vec<u64> = story.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn the_event_log_names_every_step_of_the_main_path_in_order() {
    let story = Story::at_stage(Stage::Closed);
    let names: Vec<&str> = story.events.iter().map(|e| e.action.name()).collect();
    assert_eq!(
        names,
        [
            "submit",
            "dispatch",
            "sign_for",
            "reply",
            "review",
            "record_callback",
            "close"
        ]
    );
    let stages: Vec<Stage> = story.events.iter().map(|e| e.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Accepted,
            Stage::AwaitingSignFor,
            Stage::InProgress,
            Stage::PendingReview,
            Stage::AwaitingCallback,
            Stage::AwaitingCallback,
            Stage::Closed
        ]
    );
}

#[test]
fn claiming_changes_nothing_but_the_version_and_is_logged() {
    let mut story = Story::awaiting_sign_for(STREET);
    let before = story.ticket.clone();
    let after = story.ok(&staff_of(STREET), Action::Claim).clone();
    assert_eq!(after.version, before.version + 1);
    assert_eq!(
        hotline_core::Ticket {
            version: before.version,
            updated_at: before.updated_at,
            ..after
        },
        before
    );
}

// ---------------------------------------------------------------------------------------------
// Intake decisions that close a ticket without dispatch
// ---------------------------------------------------------------------------------------------

#[test]
fn an_operator_answers_directly_and_the_ticket_closes_with_the_trimmed_answer() {
    let mut story = Story::submitted();
    let t = story.ok(
        &operator(),
        answer_directly("  The passport office opens at 9.  "),
    );
    assert_eq!(t.stage, Stage::Closed);
    assert_eq!(
        t.outcome,
        Some(Outcome::AnsweredDirectly {
            answer: "The passport office opens at 9.".into(),
            article: None,
        })
    );
    assert_eq!(t.station, None);
    assert_eq!(story.replayed(), story.ticket);
}

fn answer_from_article(callback_due: Option<chrono::DateTime<chrono::Utc>>) -> Action {
    Action::AnswerDirectly {
        answer: "按合同约定收取。".into(),
        article: Some(ArticleRef {
            id: "0190-article".into(),
            version: 3,
        }),
        callback: callback_due.is_some(),
        callback_due,
    }
}

#[test]
fn a_direct_answer_records_the_article_version_read_to_the_caller() {
    let mut story = Story::submitted();
    let t = story.ok(&operator(), answer_from_article(None));
    assert_eq!(t.stage, Stage::Closed);
    let Some(Outcome::AnsweredDirectly { article, .. }) = &t.outcome else {
        panic!("{:?}", t.outcome)
    };
    assert_eq!(article.as_ref().map(|a| a.version), Some(3));
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_direct_answer_chosen_for_callback_waits_for_it_and_closes_as_a_direct_answer() {
    let mut story = Story::submitted();
    let due = chrono::Utc::now() + chrono::Duration::days(2);
    let t = story.ok(&operator(), answer_from_article(Some(due)));
    assert_eq!(t.stage, Stage::AwaitingCallback);
    assert_eq!(t.deadlines.callback, Some(due));
    assert_eq!(t.reply.as_ref().unwrap().public_reply, "按合同约定收取。");
    story.ok(&supervisor(), callback(Satisfaction::Satisfied, false));
    let t = story.ok(&supervisor(), close());
    let Some(Outcome::AnsweredDirectly { article, .. }) = &t.outcome else {
        panic!("{:?}", t.outcome)
    };
    assert_eq!(article.as_ref().unwrap().id, "0190-article");
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_direct_answer_the_caller_reasonably_rejects_goes_to_dispatch_under_supervision() {
    let mut story = Story::submitted();
    let due = chrono::Utc::now() + chrono::Duration::days(2);
    story.ok(&operator(), answer_from_article(Some(due)));
    let t = story.ok(&supervisor(), callback(Satisfaction::Dissatisfied, true));
    assert_eq!(t.stage, Stage::PendingDispatch);
    assert_eq!(t.redo_count, 1);
    assert!(t.flags.contains(&Flag::Supervised));
    assert_eq!(t.direct_answer, None);
    assert_eq!(t.reply, None);
}

#[test]
fn a_direct_answer_event_from_before_articles_still_decodes() {
    let old = r#"{"kind":"answer_directly","answer":"see the schedule"}"#;
    let action: Action = serde_json::from_str(old).unwrap();
    assert_eq!(
        action,
        Action::AnswerDirectly {
            answer: "see the schedule".into(),
            article: None,
            callback: false,
            callback_due: None,
        }
    );
}

#[test]
fn a_ticket_in_triage_can_still_be_answered_directly() {
    let mut story = Story::at_stage(Stage::PendingDispatch);
    let t = story.ok(&supervisor(), answer_directly("see the published schedule"));
    assert_eq!(t.stage, Stage::Closed);
    assert!(matches!(t.outcome, Some(Outcome::AnsweredDirectly { .. })));
}

#[test]
fn an_emergency_is_handed_off_to_its_service_and_closed_with_the_service_on_record() {
    for service in EmergencyService::ALL.iter().copied() {
        let mut story = Story::submitted();
        let t = story.ok(&operator(), hand_off(service));
        assert_eq!(t.stage, Stage::Closed);
        assert_eq!(
            t.outcome,
            Some(Outcome::HandedOff {
                service,
                note: "caller reports smoke in the stairwell".into()
            }),
            "handed to {service}"
        );
    }
}

#[test]
fn a_hand_off_needs_no_note() {
    let mut story = Story::submitted();
    let t = story.ok(
        &operator(),
        Action::HandOff {
            service: EmergencyService::Ambulance,
            note: "   ".into(),
        },
    );
    assert_eq!(
        t.outcome,
        Some(Outcome::HandedOff {
            service: EmergencyService::Ambulance,
            note: String::new()
        })
    );
}

#[test]
fn a_request_out_of_scope_is_not_accepted_and_keeps_the_advice_given() {
    let mut story = Story::submitted();
    let t = story.ok(
        &operator(),
        not_accept("a private contract dispute: the court handles it"),
    );
    assert_eq!(t.stage, Stage::Closed);
    assert_eq!(
        t.outcome,
        Some(Outcome::NotAccepted {
            advice: "a private contract dispute: the court handles it".into()
        })
    );
}

#[test]
fn a_duplicate_is_linked_to_the_live_ticket_and_closed() {
    let original = Story::in_progress(STREET).ticket.id;
    let mut story = Story::submitted();
    let t = story.ok(&operator(), link_duplicate(original));
    assert_eq!(t.stage, Stage::Closed);
    assert_eq!(t.outcome, Some(Outcome::Duplicate { of: original }));
}

#[test]
fn a_ticket_cannot_duplicate_itself() {
    let story = Story::submitted();
    let error = story.refused(&operator(), link_duplicate(story.ticket.id));
    assert_invalid(&error, "duplicate_of");
}

// ---------------------------------------------------------------------------------------------
// Triage
// ---------------------------------------------------------------------------------------------

#[test]
fn a_ticket_with_no_confident_route_goes_to_triage_and_is_then_dispatched() {
    let mut story = Story::submitted();
    let t = story.ok(&operator(), send_to_triage());
    assert_eq!(t.stage, Stage::PendingDispatch);
    assert_eq!(t.station, None);

    let t = story.ok(&supervisor(), dispatch(COMMUNITY));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.station, Some(station(COMMUNITY)));
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn the_routing_engine_itself_may_send_a_ticket_to_triage() {
    let mut story = Story::submitted();
    let t = story.ok(&Actor::system(), send_to_triage());
    assert_eq!(t.stage, Stage::PendingDispatch);
}

#[test]
fn a_ticket_already_in_triage_cannot_be_sent_there_again() {
    let story = Story::at_stage(Stage::PendingDispatch);
    let error = story.refused(&operator(), send_to_triage());
    assert_illegal(&error, Stage::PendingDispatch, "send_to_triage");
}

// ---------------------------------------------------------------------------------------------
// Returns (退单)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_station_may_ask_to_return_a_ticket_before_signing_for_it() {
    let mut story = Story::awaiting_sign_for(STREET);
    let t = story.ok(
        &staff_of(STREET),
        Action::RequestReturn {
            reason: ReturnReason::NotOurFunction,
            basis: "  street lamps belong to the city lighting company ".into(),
        },
    );
    assert_eq!(t.stage, Stage::ReturnRequested);
    assert_eq!(
        t.station,
        Some(station(STREET)),
        "it holds the ticket until the centre decides"
    );
    let request = t.return_request.as_ref().expect("the request is kept");
    assert_eq!(request.reason, ReturnReason::NotOurFunction);
    assert_eq!(
        request.basis,
        "street lamps belong to the city lighting company"
    );
    assert_eq!(request.from_stage, Stage::AwaitingSignFor);
}

#[test]
fn a_station_may_ask_to_return_a_ticket_it_is_working_on() {
    let mut story = Story::in_progress(STREET);
    let t = story.ok(&staff_of(STREET), request_return("wrong street"));
    assert_eq!(t.stage, Stage::ReturnRequested);
    assert_eq!(
        t.return_request.as_ref().map(|r| r.from_stage),
        Some(Stage::InProgress)
    );
}

#[test]
fn a_return_must_carry_its_basis() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&staff_of(STREET), request_return(" \n\t "));
    assert_invalid(&error, "basis");
}

#[test]
fn an_accepted_return_sends_the_ticket_back_to_dispatch_with_no_station_and_counts_it() {
    for from in [Stage::AwaitingSignFor, Stage::InProgress] {
        let mut story = if from == Stage::InProgress {
            Story::in_progress(STREET)
        } else {
            Story::awaiting_sign_for(STREET)
        };
        story.ok(&operator(), add_co_handler(OTHER_COMMUNITY));
        story.ok(&staff_of(STREET), request_return("wrong street"));

        let t = story.ok(&supervisor(), arbitrate(true));
        assert_eq!(t.stage, Stage::PendingDispatch, "returned from {from}");
        assert_eq!(t.station, None);
        assert_eq!(t.lead_station, None);
        assert_eq!(t.signed_by, None);
        assert_eq!(t.return_request, None);
        assert!(t.co_handlers.is_empty(), "co-handlers go with the dispatch");
        assert_eq!(
            t.deadlines,
            Deadlines::default(),
            "the clocks restart at the new dispatch"
        );
        assert_eq!(t.return_count, 1);
    }
}

#[test]
fn a_returned_ticket_is_re_dispatched_and_the_old_station_can_no_longer_act_on_it() {
    let mut story = Story::return_requested(STREET);
    story.ok(&supervisor(), arbitrate(true));
    let t = story.ok(&operator(), dispatch(NEIGHBOUR_STREET));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.station, Some(station(NEIGHBOUR_STREET)));

    assert_forbidden(&story.refused(&staff_of(STREET), sign_for()));
    story.ok(&staff_of(NEIGHBOUR_STREET), sign_for());
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn ping_pong_returns_are_counted() {
    let mut story = Story::awaiting_sign_for(STREET);
    for (n, (from, to)) in [(STREET, NEIGHBOUR_STREET), (NEIGHBOUR_STREET, STREET)]
        .into_iter()
        .enumerate()
    {
        story.ok(&staff_of(from), request_return("not ours"));
        story.ok(&supervisor(), arbitrate(true));
        story.ok(&operator(), dispatch(to));
        assert_eq!(story.ticket.return_count, n as u32 + 1);
    }
}

#[test]
fn a_refused_return_goes_back_to_the_stage_it_came_from_at_the_same_station() {
    for from in [Stage::AwaitingSignFor, Stage::InProgress] {
        let mut story = if from == Stage::InProgress {
            Story::in_progress(STREET)
        } else {
            Story::awaiting_sign_for(STREET)
        };
        let before = story.ticket.clone();
        story.ok(&staff_of(STREET), request_return("wrong street"));
        let t = story.ok(
            &supervisor(),
            Action::ArbitrateReturn {
                accept: false,
                note: "the lamp is on your side of the road".into(),
            },
        );
        assert_eq!(t.stage, from);
        assert_eq!(t.station, Some(station(STREET)));
        assert_eq!(t.return_request, None);
        assert_eq!(t.return_count, 0);
        assert_eq!(
            t.deadlines, before.deadlines,
            "a refused return moves no clock"
        );
        assert_eq!(t.signed_by, before.signed_by);
    }
}

// ---------------------------------------------------------------------------------------------
// Extensions (延期)
// ---------------------------------------------------------------------------------------------

#[test]
fn an_extension_request_is_kept_without_changing_the_stage() {
    let mut story = Story::in_progress(STREET);
    let t = story.ok(&staff_of(STREET), request_extension(5));
    assert_eq!(t.stage, Stage::InProgress);
    let request = t
        .extension_request
        .as_ref()
        .expect("the request is pending");
    assert_eq!(request.working_days, 5);
    assert_eq!(request.reason, "the contractor needs a replacement part");
    assert_eq!(
        t.deadlines.resolution,
        Some(day(7)),
        "nothing moves until approved"
    );
}

#[test]
fn an_approved_extension_moves_the_deadline_and_clears_warning_and_overdue() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), flag(Flag::Warning));
    story.ok(&operator(), flag(Flag::Overdue));
    story.ok(&operator(), flag(Flag::Urged));
    story.ok(&staff_of(STREET), request_extension(5));

    let t = story.ok(&supervisor(), approve_extension(day(14)));
    assert_eq!(t.stage, Stage::InProgress);
    assert_eq!(t.deadlines.resolution, Some(day(14)));
    assert_eq!(t.extension_count, 1);
    assert_eq!(t.extension_request, None);
    assert!(!t.flags.contains(&Flag::Warning));
    assert!(!t.flags.contains(&Flag::Overdue));
    assert!(t.flags.contains(&Flag::Urged), "an urge stays on record");
}

#[test]
fn a_refused_extension_keeps_the_deadline_and_the_flags() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), flag(Flag::Warning));
    story.ok(&staff_of(STREET), request_extension(5));

    let t = story.ok(&supervisor(), refuse_extension());
    assert_eq!(t.deadlines.resolution, Some(day(7)));
    assert_eq!(t.extension_count, 0);
    assert_eq!(t.extension_request, None);
    assert!(t.flags.contains(&Flag::Warning));
}

#[test]
fn a_second_extension_request_while_one_is_pending_is_refused() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    let error = story.refused(&staff_of(STREET), request_extension(2));
    assert_precondition(&error, "already pending");
}

#[test]
fn a_station_may_ask_again_once_the_first_request_is_decided() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    story.ok(&supervisor(), refuse_extension());
    story.ok(&staff_of(STREET), request_extension(2));
    story.ok(&supervisor(), approve_extension(day(10)));
    assert_eq!(story.ticket.extension_count, 1);
}

#[test]
fn an_extension_of_zero_working_days_is_invalid() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&staff_of(STREET), request_extension(0));
    assert_invalid(&error, "working_days");
}

#[test]
fn an_extension_must_give_a_reason() {
    let story = Story::in_progress(STREET);
    let error = story.refused(
        &staff_of(STREET),
        Action::RequestExtension {
            working_days: 3,
            reason: "  ".into(),
        },
    );
    assert_invalid(&error, "reason");
}

#[test]
fn an_approval_must_carry_the_new_deadline() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    let error = story.refused(
        &supervisor(),
        Action::DecideExtension {
            approve: true,
            new_resolution_due: None,
            note: String::new(),
        },
    );
    assert_precondition(&error, "new deadline");
}

#[test]
fn there_is_nothing_to_decide_without_a_pending_extension_request() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&supervisor(), approve_extension(day(14)));
    assert_precondition(&error, "no extension request");
}

#[test]
fn an_extension_request_is_decided_even_while_a_return_is_being_arbitrated() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    story.ok(&staff_of(STREET), request_return("maybe not ours"));
    let t = story.ok(&supervisor(), approve_extension(day(14)));
    assert_eq!(t.stage, Stage::ReturnRequested);
    assert_eq!(t.deadlines.resolution, Some(day(14)));
}

#[test]
fn replying_withdraws_a_pending_extension_request() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    let t = story.ok(&staff_of(STREET), reply());
    assert_eq!(t.extension_request, None);
}

// ---------------------------------------------------------------------------------------------
// Sub-dispatch (下派)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_street_passes_a_ticket_down_to_a_community_and_stays_the_lead() {
    let mut story = Story::in_progress(STREET);
    let t = story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.station, Some(station(COMMUNITY)));
    assert_eq!(t.lead_station, Some(station(STREET)));
    assert_eq!(t.signed_by, None, "the community has not signed for it yet");
    assert_eq!(t.deadlines.sign_for, Some(day(2)));
    assert_eq!(t.queued_station(), Some(&station(COMMUNITY)));
}

#[test]
fn after_a_sub_dispatch_the_community_signs_for_it_and_the_street_cannot() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    assert_forbidden(&story.refused(&staff_of(STREET), sign_for()));

    let community = staff_of(COMMUNITY);
    let t = story.ok(&community, sign_for());
    assert_eq!(t.stage, Stage::InProgress);
    assert_eq!(t.signed_by, community.staff);
    assert_eq!(t.lead_station, Some(station(STREET)));

    story.ok(&community, reply());
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn the_first_receiver_stays_the_lead_through_further_sub_dispatches() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    story.ok(&staff_of(COMMUNITY), sign_for());
    let t = story.ok(&staff_of(COMMUNITY), sub_dispatch(OTHER_COMMUNITY));
    assert_eq!(t.station, Some(station(OTHER_COMMUNITY)));
    assert_eq!(t.lead_station, Some(station(STREET)));
}

#[test]
fn a_sub_dispatch_drops_the_holder_s_pending_extension_so_the_community_can_ask_for_its_own() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), request_extension(5));
    let t = story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    assert_eq!(t.extension_request, None);

    story.ok(&staff_of(COMMUNITY), sign_for());
    let t = story.ok(&staff_of(COMMUNITY), request_extension(2));
    assert_eq!(
        t.extension_request.as_ref().map(|r| r.working_days),
        Some(2)
    );
}

#[test]
fn a_station_cannot_sub_dispatch_to_itself() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&staff_of(STREET), sub_dispatch(STREET));
    assert_invalid(&error, "station_id");
}

#[test]
fn a_ticket_not_yet_signed_for_cannot_be_sub_dispatched() {
    let story = Story::awaiting_sign_for(STREET);
    let error = story.refused(&staff_of(STREET), sub_dispatch(COMMUNITY));
    assert_illegal(&error, Stage::AwaitingSignFor, "sub_dispatch");
}

// ---------------------------------------------------------------------------------------------
// Co-handlers (协办)
// ---------------------------------------------------------------------------------------------

#[test]
fn the_centre_adds_co_handlers_each_with_its_own_deadline() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    let t = story.ok(
        &supervisor(),
        Action::AddCoHandler {
            station: station(NEIGHBOUR_STREET),
            due: Some(day(3)),
        },
    );
    assert_eq!(t.stage, Stage::InProgress);
    let added: Vec<(&StationId, _)> = t.co_handlers.iter().map(|c| (&c.station, c.due)).collect();
    assert_eq!(
        added,
        [
            (&station(COMMUNITY), Some(day(5))),
            (&station(NEIGHBOUR_STREET), Some(day(3)))
        ]
    );
    assert!(t.co_handlers.iter().all(|c| c.report.is_none()));
}

#[test]
fn co_handlers_may_be_added_before_the_lead_signs_for_the_ticket() {
    let mut story = Story::awaiting_sign_for(STREET);
    let t = story.ok(&operator(), add_co_handler(COMMUNITY));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.co_handlers.len(), 1);
}

#[test]
fn a_station_cannot_add_a_co_handler_itself() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&staff_of(STREET), add_co_handler(COMMUNITY));
    assert_forbidden(&error);
}

#[test]
fn the_lead_station_cannot_also_be_a_co_handler() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&operator(), add_co_handler(STREET));
    assert_invalid(&error, "station_id");
}

#[test]
fn the_first_receiver_of_a_sub_dispatched_ticket_cannot_be_a_co_handler() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    let error = story.refused(&operator(), add_co_handler(STREET));
    assert_invalid(&error, "station_id");
}

#[test]
fn a_station_is_added_as_co_handler_only_once() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    let error = story.refused(&operator(), add_co_handler(COMMUNITY));
    assert_precondition(&error, "already co-handles");
}

#[test]
fn the_lead_cannot_reply_until_every_co_handler_has_reported() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    story.ok(&operator(), add_co_handler(NEIGHBOUR_STREET));

    let error = story.refused(&staff_of(STREET), reply());
    assert_precondition(&error, COMMUNITY);

    story.ok(
        &staff_of(COMMUNITY),
        co_report("cable checked, no fault on our side"),
    );
    let error = story.refused(&staff_of(STREET), reply());
    assert_precondition(&error, NEIGHBOUR_STREET);

    story.ok(
        &staff_of(NEIGHBOUR_STREET),
        co_report("  traffic lights unaffected "),
    );
    let t = story.ok(&staff_of(STREET), reply());
    assert_eq!(t.stage, Stage::PendingReview);
    let reports: Vec<Option<&str>> = t.co_handlers.iter().map(|c| c.report.as_deref()).collect();
    assert_eq!(
        reports,
        [
            Some("cable checked, no fault on our side"),
            Some("traffic lights unaffected")
        ]
    );
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_co_handler_report_changes_no_stage() {
    for stage in [
        Stage::AwaitingSignFor,
        Stage::InProgress,
        Stage::ReturnRequested,
    ] {
        let mut story = Story::awaiting_sign_for(STREET);
        story.ok(&operator(), add_co_handler(COMMUNITY));
        if stage != Stage::AwaitingSignFor {
            story.ok(&staff_of(STREET), sign_for());
        }
        if stage == Stage::ReturnRequested {
            story.ok(&staff_of(STREET), request_return("not ours"));
        }
        let t = story.ok(&staff_of(COMMUNITY), co_report("done"));
        assert_eq!(t.stage, stage);
    }
}

#[test]
fn a_co_handler_reports_only_once() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    story.ok(&staff_of(COMMUNITY), co_report("first"));
    let error = story.refused(&staff_of(COMMUNITY), co_report("second thoughts"));
    assert_precondition(&error, "already reported");
    assert_eq!(story.ticket.co_handlers[0].report.as_deref(), Some("first"));
}

#[test]
fn a_station_that_is_not_a_co_handler_cannot_report() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    assert_forbidden(&story.refused(&staff_of(NEIGHBOUR_STREET), co_report("hello")));
    assert_forbidden(&story.refused(&staff_of(STREET), co_report("the lead is not a co-handler")));
}

#[test]
fn only_station_staff_report_as_co_handlers() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    assert_forbidden(&story.refused(&operator(), co_report("on their behalf")));
    let error = story.refused(&staff_without_station(), co_report("which one am I?"));
    assert_invalid(&error, "actor.station_id");
}

#[test]
fn a_co_handler_report_must_say_something() {
    let mut story = Story::in_progress(STREET);
    story.ok(&operator(), add_co_handler(COMMUNITY));
    let error = story.refused(&staff_of(COMMUNITY), co_report("   "));
    assert_invalid(&error, "report");
}

// ---------------------------------------------------------------------------------------------
// Review (审核)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_rejected_reply_goes_back_to_the_station_and_the_reply_is_cleared() {
    let mut story = Story::pending_review(STREET);
    let t = story.ok(
        &supervisor(),
        reject_reply("the reply does not say when it was fixed"),
    );
    assert_eq!(t.stage, Stage::InProgress);
    assert_eq!(t.reply, None);
    assert_eq!(t.station, Some(station(STREET)));

    story.ok(&staff_of(STREET), reply());
    story.ok(&supervisor(), approve_reply());
    assert_eq!(story.ticket.stage, Stage::AwaitingCallback);
}

#[test]
fn a_rejection_must_say_what_is_wrong_with_the_reply() {
    let story = Story::pending_review(STREET);
    let error = story.refused(&supervisor(), reject_reply(" \t "));
    assert_invalid(&error, "note");
}

#[test]
fn an_approval_needs_no_note() {
    let mut story = Story::pending_review(STREET);
    let t = story.ok(&supervisor(), approve_reply());
    assert_eq!(t.stage, Stage::AwaitingCallback);
}

#[test]
fn a_reply_needs_both_the_internal_record_and_the_public_reply() {
    let story = Story::in_progress(STREET);
    let no_record = Action::Reply {
        internal_record: " ".into(),
        public_reply: "fixed".into(),
    };
    assert_invalid(
        &story.refused(&staff_of(STREET), no_record),
        "internal_record",
    );
    let no_public = Action::Reply {
        internal_record: "fixed".into(),
        public_reply: "\n".into(),
    };
    assert_invalid(&story.refused(&staff_of(STREET), no_public), "public_reply");
}

// ---------------------------------------------------------------------------------------------
// Callback (回访) and redo (重办)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_dissatisfied_and_reasonable_callback_sends_the_ticket_back_to_the_same_station_under_supervision(
) {
    let mut story = Story::awaiting_callback(STREET);
    let t = story.ok(&operator(), callback(Satisfaction::Dissatisfied, true));
    assert_eq!(t.stage, Stage::AwaitingSignFor);
    assert_eq!(t.station, Some(station(STREET)));
    assert!(t.flags.contains(&Flag::Supervised));
    assert_eq!(t.redo_count, 1);
    assert_eq!(t.reply, None);
    assert_eq!(t.callback, None);
    assert_eq!(t.signed_by, None);
    assert_eq!(
        (
            t.deadlines.sign_for,
            t.deadlines.resolution,
            t.deadlines.callback
        ),
        (Some(day(10)), None, None)
    );
    // The redo starts a new sign-for clock, and the old resolution and callback clocks are gone.
    assert_eq!(t.deadlines.started.sign_for, Some(t.updated_at));
    assert_eq!(t.deadlines.started.resolution, None);
    assert_eq!(t.deadlines.started.callback, None);

    story.ok(&staff_of(STREET), sign_for());
    story.ok(&staff_of(STREET), reply());
    story.ok(&supervisor(), approve_reply());
    story.ok(&operator(), callback(Satisfaction::Satisfied, false));
    let t = story.ok(&operator(), close());
    assert_eq!(t.outcome, Some(Outcome::Resolved));
    assert_eq!(t.redo_count, 1);
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_redo_of_a_sub_dispatched_ticket_goes_to_the_station_that_did_the_work() {
    let mut story = Story::in_progress(STREET);
    story.ok(&staff_of(STREET), sub_dispatch(COMMUNITY));
    story.ok(&staff_of(COMMUNITY), sign_for());
    story.ok(&staff_of(COMMUNITY), reply());
    story.ok(&supervisor(), approve_reply());
    let t = story.ok(&operator(), callback(Satisfaction::Dissatisfied, true));
    assert_eq!(t.station, Some(station(COMMUNITY)));
    assert_eq!(t.lead_station, Some(station(STREET)));
}

#[test]
fn a_dissatisfied_but_unreasonable_callback_is_recorded_and_the_ticket_can_close() {
    let mut story = Story::awaiting_callback(STREET);
    let t = story.ok(
        &operator(),
        Action::RecordCallback {
            satisfaction: Satisfaction::Dissatisfied,
            reasonable: false,
            note: "  wants the whole street relit ".into(),
            redo_sign_for_due: None,
        },
    );
    assert_eq!(t.stage, Stage::AwaitingCallback);
    assert_eq!(t.redo_count, 0);
    assert!(!t.flags.contains(&Flag::Supervised));
    let heard = t.callback.as_ref().expect("the callback is recorded");
    assert_eq!(heard.satisfaction, Satisfaction::Dissatisfied);
    assert!(!heard.reasonable);
    assert_eq!(heard.note, "wants the whole street relit");

    let t = story.ok(&operator(), close());
    assert_eq!(t.outcome, Some(Outcome::Resolved));
}

#[test]
fn a_basically_satisfied_callback_closes_like_a_satisfied_one_even_if_judged_reasonable() {
    let mut story = Story::awaiting_callback(STREET);
    let t = story.ok(&operator(), callback(Satisfaction::Basic, true));
    assert_eq!(t.stage, Stage::AwaitingCallback);
    story.ok(&operator(), close());
}

#[test]
fn a_ticket_cannot_close_before_the_citizen_is_called_back() {
    let story = Story::awaiting_callback(STREET);
    let error = story.refused(&operator(), close());
    assert_precondition(&error, "callback");
}

#[test]
fn close_is_only_for_tickets_awaiting_callback() {
    for stage in [
        Stage::Accepted,
        Stage::PendingDispatch,
        Stage::AwaitingSignFor,
        Stage::InProgress,
        Stage::ReturnRequested,
        Stage::PendingReview,
        Stage::Closed,
    ] {
        let story = Story::at_stage(stage);
        assert_illegal(&story.refused(&operator(), close()), stage, "close");
    }
}

// ---------------------------------------------------------------------------------------------
// Supervision flags (黄灯 红灯 催办 督办 通报)
// ---------------------------------------------------------------------------------------------

#[test]
fn every_urge_counts() {
    let mut story = Story::in_progress(STREET);
    for n in 1..=3 {
        let t = story.ok(&supervisor(), flag(Flag::Urged));
        assert_eq!(t.urge_count, n);
        assert!(t.flags.contains(&Flag::Urged));
    }
}

#[test]
fn a_flag_other_than_urge_is_raised_once() {
    for once in [
        Flag::Warning,
        Flag::Overdue,
        Flag::Supervised,
        Flag::Published,
    ] {
        let mut story = Story::in_progress(STREET);
        story.ok(&Actor::system(), flag(once));
        let error = story.refused(&Actor::system(), flag(once));
        assert_precondition(&error, once.name_zh());
    }
}

#[test]
fn flags_never_change_the_stage() {
    let live = Stage::ALL.iter().copied().filter(|s| s.is_live());
    for stage in live {
        let mut story = Story::at_stage(stage);
        let before = story.ticket.clone();
        for each in Flag::ALL.iter().copied() {
            let t = story.ok(&supervisor(), flag(each));
            assert_eq!(t.stage, stage, "{each} at {stage}");
            assert_eq!(t.station, before.station);
            assert_eq!(t.deadlines, before.deadlines);
        }
        assert_eq!(
            story.ticket.flags.len(),
            Flag::ALL.len(),
            "every flag is on the ticket at {stage}"
        );
    }
}

#[test]
fn no_flag_is_raised_on_a_closed_ticket() {
    let story = Story::at_stage(Stage::Closed);
    for each in Flag::ALL.iter().copied() {
        let error = story.refused(&supervisor(), flag(each));
        assert_illegal(&error, Stage::Closed, "flag");
    }
}

#[test]
fn closing_drops_the_warning_but_keeps_the_record_of_a_breach() {
    let mut story = Story::awaiting_callback(STREET);
    story.ok(&Actor::system(), flag(Flag::Warning));
    story.ok(&Actor::system(), flag(Flag::Overdue));
    story.ok(&operator(), callback(Satisfaction::Satisfied, false));
    let t = story.ok(&operator(), close());
    assert!(!t.flags.contains(&Flag::Warning));
    assert!(t.flags.contains(&Flag::Overdue));
}

// ---------------------------------------------------------------------------------------------
// Reclassification (re-categorise)
// ---------------------------------------------------------------------------------------------

#[test]
fn reclassifying_changes_what_the_ticket_is_about_but_not_where_it_is() {
    for stage in [
        Stage::Accepted,
        Stage::PendingDispatch,
        Stage::AwaitingSignFor,
        Stage::InProgress,
    ] {
        let mut story = Story::at_stage(stage);
        let before = story.ticket.clone();
        let t = story.ok(&operator(), reclassify());
        assert_eq!(t.category.as_ref().map(|c| c.as_str()), Some("CJ.WY"));
        assert_eq!(t.nature, Nature::Complaint);
        assert_eq!(t.urgency, Urgency::Urgent);
        assert_eq!(
            t.division.as_ref().map(|d| d.as_str()),
            Some("320505001002")
        );
        assert_eq!(t.stage, stage);
        assert_eq!(t.station, before.station);
    }
}

#[test]
fn a_ticket_that_has_been_replied_to_is_no_longer_reclassified() {
    for stage in [
        Stage::ReturnRequested,
        Stage::PendingReview,
        Stage::AwaitingCallback,
    ] {
        let story = Story::at_stage(stage);
        assert_illegal(
            &story.refused(&operator(), reclassify()),
            stage,
            "reclassify",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Who may act
// ---------------------------------------------------------------------------------------------

/// Every station action with a ticket in a stage where it is allowed.
fn station_actions() -> Vec<(Story, Action)> {
    vec![
        (Story::awaiting_sign_for(STREET), Action::Claim),
        (Story::awaiting_sign_for(STREET), sign_for()),
        (Story::awaiting_sign_for(STREET), request_return("not ours")),
        (Story::in_progress(STREET), request_return("not ours")),
        (Story::in_progress(STREET), request_extension(2)),
        (Story::in_progress(STREET), sub_dispatch(COMMUNITY)),
        (Story::in_progress(STREET), reply()),
    ]
}

/// Every centre action with a ticket in a stage where it is allowed.
fn centre_actions() -> Vec<(Story, Action)> {
    let mut extension_pending = Story::in_progress(STREET);
    extension_pending.ok(&staff_of(STREET), request_extension(1));
    let mut called_back = Story::awaiting_callback(STREET);
    called_back.ok(&operator(), callback(Satisfaction::Satisfied, false));
    vec![
        (Story::submitted(), answer_directly("opens at 9")),
        (Story::submitted(), hand_off(EmergencyService::Police)),
        (Story::submitted(), not_accept("not a government matter")),
        (Story::submitted(), link_duplicate(TicketId::new())),
        (Story::submitted(), send_to_triage()),
        (Story::submitted(), dispatch(STREET)),
        (Story::return_requested(STREET), arbitrate(true)),
        (Story::return_requested(STREET), arbitrate(false)),
        (extension_pending.clone(), approve_extension(day(14))),
        (extension_pending, refuse_extension()),
        (Story::in_progress(STREET), add_co_handler(COMMUNITY)),
        (Story::pending_review(STREET), approve_reply()),
        (Story::pending_review(STREET), reject_reply("incomplete")),
        (
            Story::awaiting_callback(STREET),
            callback(Satisfaction::Satisfied, false),
        ),
        (called_back, close()),
        (Story::in_progress(STREET), flag(Flag::Urged)),
        (Story::in_progress(STREET), reclassify()),
    ]
}

#[test]
fn the_holding_station_may_do_every_station_action() {
    for (mut story, action) in station_actions() {
        story.ok(&staff_of(STREET), action);
    }
}

#[test]
fn a_station_action_by_another_station_is_forbidden() {
    for (story, action) in station_actions() {
        let name = action.name();
        let error = story.refused(&staff_of(NEIGHBOUR_STREET), action);
        assert_forbidden(&error);
        assert!(
            error.to_string().contains(STREET),
            "{name}: the refusal names the holder: {error}"
        );
    }
}

#[test]
fn station_staff_who_do_not_name_their_station_are_refused_as_invalid() {
    for (story, action) in station_actions() {
        let error = story.refused(&staff_without_station(), action);
        assert_invalid(&error, "actor.station_id");
    }
}

#[test]
fn the_centre_cannot_do_a_station_action_for_the_station() {
    for (story, action) in station_actions() {
        for someone in [operator(), supervisor(), Actor::system(), integrator()] {
            assert_forbidden(&story.refused(&someone, action.clone()));
        }
    }
}

#[test]
fn operators_supervisors_and_the_engine_may_do_every_centre_action() {
    for (story, action) in centre_actions() {
        for someone in [operator(), supervisor(), Actor::system()] {
            story.clone().ok(&someone, action.clone());
        }
    }
}

#[test]
fn a_centre_action_by_a_station_is_forbidden() {
    for (story, action) in centre_actions() {
        let name = action.name();
        let error = story.refused(&staff_of(STREET), action.clone());
        assert!(
            matches!(error, LifecycleError::Forbidden(_)),
            "{name} by the holding station: expected Forbidden, got {error:?}"
        );
        let error = story.refused(&staff_of(NEIGHBOUR_STREET), action);
        assert!(
            matches!(error, LifecycleError::Forbidden(_)),
            "{name} by another station: expected Forbidden, got {error:?}"
        );
    }
}

#[test]
fn an_integrator_may_submit_but_not_decide_anything_at_the_centre() {
    for (story, action) in centre_actions() {
        let name = action.name();
        let error = story.refused(&integrator(), action);
        assert!(
            matches!(error, LifecycleError::Forbidden(_)),
            "{name} by an integrator: expected Forbidden, got {error:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The table of legal (stage, action) pairs; everything else is an illegal transition
// ---------------------------------------------------------------------------------------------

/// The actions each stage allows, as `docs/domain.md` and the lifecycle's diagram draw them.
fn allowed(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Accepted => &[
            "answer_directly",
            "hand_off",
            "not_accept",
            "link_duplicate",
            "send_to_triage",
            "dispatch",
            "flag",
            "reclassify",
            "lead_incident",
            "leave_incident",
            "join_incident",
        ],
        Stage::PendingDispatch => &[
            "answer_directly",
            "hand_off",
            "not_accept",
            "link_duplicate",
            "dispatch",
            "flag",
            "reclassify",
            "lead_incident",
            "leave_incident",
            "join_incident",
        ],
        Stage::AwaitingSignFor => &[
            "claim",
            "sign_for",
            "request_return",
            "add_co_handler",
            "co_handler_report",
            "flag",
            "reclassify",
            "lead_incident",
            "leave_incident",
            "join_incident",
        ],
        Stage::InProgress => &[
            "request_return",
            "request_extension",
            "decide_extension",
            "sub_dispatch",
            "add_co_handler",
            "co_handler_report",
            "reply",
            "flag",
            "reclassify",
            "lead_incident",
            "leave_incident",
        ],
        Stage::ReturnRequested => &[
            "arbitrate_return",
            "decide_extension",
            "co_handler_report",
            "flag",
            "lead_incident",
            "leave_incident",
        ],
        Stage::PendingReview => &[
            "decide_extension",
            "review",
            "flag",
            "lead_incident",
            "leave_incident",
        ],
        Stage::AwaitingCallback => &[
            "record_callback",
            "close",
            "flag",
            "lead_incident",
            "leave_incident",
        ],
        // join_incident: only the engine moves a merged ticket, into a surge's incident.
        Stage::Merged => &[
            "join_incident",
            "incident_reply",
            "flag",
            "lead_incident",
            "leave_incident",
        ],
        Stage::Closed => &[],
    }
}

#[test]
fn every_action_outside_a_stage_s_transitions_is_an_illegal_transition_naming_the_stage() {
    let actors = [
        operator(),
        supervisor(),
        staff_of(STREET),
        staff_of(COMMUNITY),
    ];
    for stage in Stage::ALL.iter().copied() {
        let story = Story::at_stage(stage);
        for action in one_of_every_action() {
            let name = action.name();
            if allowed(stage).contains(&name) {
                continue;
            }
            // Whoever asks, the stage is the reason.
            for actor in &actors {
                let error = story.refused(actor, action.clone());
                assert_illegal(&error, stage, name);
            }
        }
    }
}

#[test]
fn every_action_a_stage_allows_is_never_refused_as_an_illegal_transition() {
    let actors = [operator(), staff_of(STREET), staff_of(COMMUNITY)];
    for stage in Stage::ALL.iter().copied() {
        let story = Story::at_stage(stage);
        for action in one_of_every_action() {
            let name = action.name();
            if !allowed(stage).contains(&name) {
                continue;
            }
            for actor in &actors {
                if let Err(error) = apply(&story.ticket, actor, action.clone(), at(99)) {
                    assert!(
                        !matches!(error, LifecycleError::IllegalTransition { .. }),
                        "{name} at {stage} by {:?} is a listed transition, got {error}",
                        actor.role
                    );
                }
            }
        }
    }
}

#[test]
fn an_illegal_transition_reads_as_a_sentence_with_the_stage_in_both_languages() {
    let story = Story::at_stage(Stage::Closed);
    let error = story.refused(&staff_of(STREET), sign_for());
    assert_eq!(
        error.to_string(),
        "cannot sign_for a ticket that is closed (已结案)"
    );
    let story = Story::at_stage(Stage::PendingReview);
    let error = story.refused(&staff_of(STREET), reply());
    assert_eq!(
        error.to_string(),
        "cannot reply a ticket that is pending_review (待审核)"
    );
}

#[test]
fn a_ticket_is_submitted_once() {
    for stage in Stage::ALL.iter().copied() {
        let story = Story::at_stage(stage);
        assert_illegal(&story.refused(&operator(), submit()), stage, "submit");
    }
}

#[test]
fn a_closed_ticket_accepts_nothing_whatever_its_outcome() {
    let mut directly = Story::submitted();
    directly.ok(&operator(), answer_directly("opens at 9"));
    let mut handed_off = Story::submitted();
    handed_off.ok(&operator(), hand_off(EmergencyService::Fire));
    let mut duplicate = Story::submitted();
    duplicate.ok(&operator(), link_duplicate(TicketId::new()));
    let resolved = Story::at_stage(Stage::Closed);
    for story in [directly, handed_off, duplicate, resolved] {
        for action in one_of_every_action() {
            for actor in [operator(), supervisor(), staff_of(STREET)] {
                let name = action.name();
                assert_illegal(&story.refused(&actor, action.clone()), Stage::Closed, name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A refusal changes nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn refused_actions_leave_the_ticket_and_its_log_as_they_were() {
    let mut story = Story::in_progress(STREET);
    let before = story.ticket.clone();
    let logged = story.events.len();

    // Each is refused for a different reason: stage, permission, input, rule.
    let refusals = [
        (operator(), approve_reply()),
        (staff_of(NEIGHBOUR_STREET), reply()),
        (staff_of(STREET), request_return("")),
        (supervisor(), approve_extension(day(14))),
    ];
    for (actor, action) in refusals {
        let result = apply(&story.ticket, &actor, action, at(50));
        assert!(result.is_err(), "no event comes out of a refusal");
    }
    assert_eq!(story.ticket, before);
    assert_eq!(story.ticket.version, before.version);
    assert_eq!(story.events.len(), logged);

    // The next success takes the next sequence number: no gap was left by the refusals.
    story.ok(&staff_of(STREET), reply());
    assert_eq!(story.events.last().unwrap().seq, before.version + 1);
    assert_eq!(story.replayed(), story.ticket);
}

// ---------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------

/// Every required note, with a ticket in a stage that takes it and the actor who may write it.
fn required_notes(text: &str) -> Vec<(Story, Actor, Action, &'static str)> {
    let mut co = Story::in_progress(STREET);
    co.ok(&operator(), add_co_handler(COMMUNITY));
    vec![
        (
            Story::submitted(),
            operator(),
            answer_directly(text),
            "answer",
        ),
        (Story::submitted(), operator(), not_accept(text), "advice"),
        (
            Story::in_progress(STREET),
            staff_of(STREET),
            request_return(text),
            "basis",
        ),
        (
            Story::in_progress(STREET),
            staff_of(STREET),
            Action::RequestExtension {
                working_days: 2,
                reason: text.into(),
            },
            "reason",
        ),
        (co, staff_of(COMMUNITY), co_report(text), "report"),
        (
            Story::in_progress(STREET),
            staff_of(STREET),
            Action::Reply {
                internal_record: text.into(),
                public_reply: "ok".into(),
            },
            "internal_record",
        ),
        (
            Story::in_progress(STREET),
            staff_of(STREET),
            Action::Reply {
                internal_record: "ok".into(),
                public_reply: text.into(),
            },
            "public_reply",
        ),
        (
            Story::pending_review(STREET),
            supervisor(),
            reject_reply(text),
            "note",
        ),
    ]
}

/// Every optional note, with a ticket in a stage that takes it and the actor who may write it.
fn optional_notes(text: &str) -> Vec<(Story, Actor, Action, &'static str)> {
    let mut extension_pending = Story::in_progress(STREET);
    extension_pending.ok(&staff_of(STREET), request_extension(1));
    vec![
        (
            Story::submitted(),
            operator(),
            Action::HandOff {
                service: EmergencyService::Fire,
                note: text.into(),
            },
            "note",
        ),
        (
            Story::submitted(),
            operator(),
            Action::SendToTriage {
                reason: text.into(),
            },
            "reason",
        ),
        (
            Story::submitted(),
            operator(),
            Action::Dispatch {
                station: station(STREET),
                sign_for_due: None,
                note: text.into(),
            },
            "note",
        ),
        (
            Story::return_requested(STREET),
            supervisor(),
            Action::ArbitrateReturn {
                accept: false,
                note: text.into(),
            },
            "note",
        ),
        (
            extension_pending,
            supervisor(),
            Action::DecideExtension {
                approve: false,
                new_resolution_due: None,
                note: text.into(),
            },
            "note",
        ),
        (
            Story::in_progress(STREET),
            staff_of(STREET),
            Action::SubDispatch {
                station: station(COMMUNITY),
                sign_for_due: None,
                note: text.into(),
            },
            "note",
        ),
        (
            Story::pending_review(STREET),
            supervisor(),
            Action::Review {
                approve: true,
                callback_due: None,
                note: text.into(),
            },
            "note",
        ),
        (
            Story::awaiting_callback(STREET),
            operator(),
            Action::RecordCallback {
                satisfaction: Satisfaction::Satisfied,
                reasonable: false,
                note: text.into(),
                redo_sign_for_due: None,
            },
            "note",
        ),
        (
            Story::in_progress(STREET),
            supervisor(),
            Action::Flag {
                flag: Flag::Urged,
                note: text.into(),
            },
            "note",
        ),
    ]
}

#[test]
fn a_required_note_that_is_empty_or_only_whitespace_is_invalid_and_names_its_field() {
    for blank in ["", "   ", "\n\t \r\n"] {
        for (story, actor, action, field) in required_notes(blank) {
            let error = story.refused(&actor, action);
            assert_invalid(&error, field);
        }
    }
}

#[test]
fn a_note_over_four_thousand_characters_is_invalid_and_names_its_field() {
    let too_long = "灯".repeat(4_001);
    let notes = required_notes(&too_long)
        .into_iter()
        .chain(optional_notes(&too_long));
    for (story, actor, action, field) in notes {
        let error = story.refused(&actor, action);
        assert_invalid(&error, field);
        assert!(
            error.to_string().contains("4001"),
            "the message gives the length: {error}"
        );
    }
}

#[test]
fn a_note_of_exactly_four_thousand_characters_is_accepted() {
    // Counted in characters, not bytes: 4,000 Chinese characters are 12,000 bytes.
    let longest = "灯".repeat(4_000);
    let notes = required_notes(&longest)
        .into_iter()
        .chain(optional_notes(&longest));
    for (mut story, actor, action, _) in notes {
        story.ok(&actor, action);
    }
}

#[test]
fn an_optional_note_may_be_blank() {
    for (mut story, actor, action, _) in optional_notes("   ") {
        story.ok(&actor, action);
    }
}

#[test]
fn notes_are_stored_trimmed_and_the_log_keeps_what_was_sent() {
    let mut story = Story::in_progress(STREET);
    let sent = request_return("\n  wrong territory: the lamp is across the canal  \n");
    story.ok(&staff_of(STREET), sent.clone());
    assert_eq!(
        story.ticket.return_request.as_ref().unwrap().basis,
        "wrong territory: the lamp is across the canal"
    );
    assert_eq!(story.events.last().unwrap().action, sent);
    assert_eq!(story.replayed(), story.ticket);
}

#[test]
fn a_note_with_control_characters_is_invalid() {
    let story = Story::in_progress(STREET);
    let error = story.refused(&staff_of(STREET), request_return("wrong\u{0}territory"));
    assert_invalid(&error, "basis");
}

#[test]
fn a_sub_dispatch_to_a_station_that_already_co_handles_is_refused() {
    let mut story = Story::in_progress(STREET);
    story.ok(&supervisor(), add_co_handler(COMMUNITY));
    let err = story.refused(&staff_of(STREET), sub_dispatch(COMMUNITY));
    assert!(
        matches!(err, LifecycleError::Invalid(ref e) if e.field == "station_id"),
        "{err:?}"
    );
}

#[test]
fn the_holder_pauses_the_resolution_clock_while_waiting_on_the_caller_and_resumes_it() {
    let mut story = Story::in_progress(STREET);
    let paused = story.ok(
        &staff_of(STREET),
        Action::PauseClock {
            reason: "等待市民补充材料".into(),
        },
    );
    assert_eq!(paused.paused.as_ref().unwrap().since, paused.updated_at);
    assert_eq!(paused.stage, Stage::InProgress);
    story.refused(
        &staff_of(STREET),
        Action::PauseClock {
            reason: "again".into(),
        },
    );
    let resumed = story.ok(
        &staff_of(STREET),
        Action::ResumeClock {
            resolution_due: Some(day(20)),
        },
    );
    assert!(resumed.paused.is_none());
    assert_eq!(resumed.deadlines.resolution, Some(day(20)));
    // The clock kept its start: a resumed pause is not a new clock.
    assert_ne!(
        resumed.deadlines.started.resolution,
        Some(resumed.updated_at)
    );
    story.refused(
        &staff_of(STREET),
        Action::ResumeClock {
            resolution_due: None,
        },
    );
}

#[test]
fn another_station_cannot_pause_and_a_reply_ends_a_pause() {
    let mut story = Story::in_progress(STREET);
    let err = story.refused(
        &staff_of(COMMUNITY),
        Action::PauseClock { reason: "x".into() },
    );
    assert!(matches!(err, LifecycleError::Forbidden(_)), "{err:?}");
    story.ok(
        &staff_of(STREET),
        Action::PauseClock {
            reason: "等待现场勘查".into(),
        },
    );
    let replied = story.ok(&staff_of(STREET), reply());
    assert!(replied.paused.is_none());
}

#[test]
fn the_holder_records_the_first_contact_once() {
    let mut story = Story::in_progress(STREET);
    let contact = || Action::ContactCaller {
        note: "已电话联系".into(),
    };
    let err = story.refused(&staff_of(COMMUNITY), contact());
    assert!(matches!(err, LifecycleError::Forbidden(_)), "{err:?}");
    let reached = story.ok(&staff_of(STREET), contact());
    assert_eq!(reached.contacted_at, Some(reached.updated_at));
    story.refused(&staff_of(STREET), contact());
}
