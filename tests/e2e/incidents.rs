//! 并案 end to end: routed duplicates merged into one incident under the first ticket, no copies
//! on the station's queue, the notice on intake, the one reply, each caller's own callback,
//! closing together (refused while a return is arbitrated), splitting, and bad input.

use hotline_proto::v1 as pb;
use tonic::Code;

use crate::support::*;

const ADDRESS: &str = "姑苏区双塔街道沧浪亭社区";
const FIRST: &str = "我家楼上漏水，找物业报修没人来修";
const AGAIN: &str = "楼上漏水，找物业报修一直没人来修";

async fn route(app: &TestApp, text: &str) -> pb::SubmitTicketResponse {
    let mut request = submit_request(text, None);
    request.hold = false;
    request.address = ADDRESS.into();
    request.division_code = String::new();
    app.intake()
        .await
        .submit_ticket(request)
        .await
        .expect("submit")
        .into_inner()
}

/// The first call, dispatched to the community station, and `n` more about the same matter.
async fn incident_of(app: &TestApp, n: usize) -> (pb::Ticket, Vec<pb::SubmitTicketResponse>) {
    let first = route(app, FIRST).await.ticket.unwrap();
    assert_eq!(stage(&first), pb::Stage::AwaitingSignFor);
    let mut more = Vec::new();
    for _ in 0..n {
        more.push(route(app, AGAIN).await);
    }
    (first, more)
}

pub async fn duplicates_are_merged_under_the_first_ticket_and_its_station_gets_one(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (first, more) = incident_of(&app, 3).await;
    for response in &more {
        let ticket = response.ticket.as_ref().unwrap();
        assert_eq!(stage(ticket), pb::Stage::Merged, "{ticket:?}");
        assert_eq!(ticket.incident_id, first.id);
        assert_eq!(ticket.station_id, "", "no station is sent a copy");
        let incident = response.incident.as_ref().expect("the incident");
        assert_eq!(incident.id, first.id);
        assert_eq!(incident.lead_ticket_id, first.id);
        assert_eq!(incident.station_id, COMMUNITY_CSS);
    }
    // The station's queue holds the lead alone.
    let mut station = app.station_as(&staff(COMMUNITY_CSS, "li")).await;
    let claimed = station
        .claim_ticket(pb::ClaimTicketRequest::default())
        .await
        .expect("claim")
        .into_inner();
    assert_eq!(claimed.ticket.unwrap().id, first.id);
    let next = station
        .claim_ticket(pb::ClaimTicketRequest::default())
        .await
        .expect("claim")
        .into_inner();
    assert!(next.ticket.is_none(), "{:?}", next.ticket);

    let detail = incident_detail(&app, &first.id).await;
    let incident = detail.incident.unwrap();
    assert_eq!(incident.ticket_count, 4);
    assert_eq!(incident.lead_stage, pb::Stage::AwaitingSignFor as i32);
    let ids: Vec<&str> = detail.tickets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids[0], first.id, "the lead first");
    assert_eq!(ids.len(), 4);
    // The lead's own history says it leads the incident; each member's says it joined.
    let lead = app.get(&first.id).await;
    assert!(
        kinds(&lead).contains(&"lead_incident".to_owned()),
        "{:?}",
        kinds(&lead)
    );
    let member = app.get(&more[0].ticket.as_ref().unwrap().id).await;
    assert_eq!(
        kinds(&member),
        vec!["submit", "route", "join_incident"],
        "merged in the same write as the submit"
    );
    let listed = app
        .incidents_as(&operator())
        .await
        .list_incidents(pb::ListIncidentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .incidents;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, first.id);
}

pub async fn operators_read_the_latest_notice_on_intake_and_link_a_held_call(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = incident_of(&app, 1).await;
    let mut incidents = app.incidents_as(&supervisor()).await;
    for text in ["抢修中", "管道抢修中，预计今晚18时恢复供水"] {
        incidents
            .post_notice(pb::PostNoticeRequest {
                incident_id: first.id.clone(),
                text: text.into(),
            })
            .await
            .expect("notice");
    }
    let too_long = incidents
        .post_notice(pb::PostNoticeRequest {
            incident_id: first.id.clone(),
            text: "水".repeat(4_001),
        })
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument);
    assert!(
        too_long.message().contains("text"),
        "{}",
        too_long.message()
    );
    // Operators may read notices but not post them.
    let refused = app
        .incidents_as(&operator())
        .await
        .post_notice(pb::PostNoticeRequest {
            incident_id: first.id.clone(),
            text: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let preview = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: AGAIN.into(),
            address: ADDRESS.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let incident = preview.incident.expect("the incident on intake");
    assert_eq!(incident.id, first.id);
    assert_eq!(
        incident.notice.unwrap().text,
        "管道抢修中，预计今晚18时恢复供水"
    );

    // A call recorded on hold is linked by the operator.
    let held = app.submit("楼上一直往下滴水", None).await;
    let linked = app
        .incidents_as(&operator())
        .await
        .join_incident(pb::JoinIncidentRequest {
            ticket_id: held.id.clone(),
            expected_version: held.version,
            of_ticket_id: first.id.clone(),
        })
        .await
        .expect("link")
        .into_inner();
    let ticket = linked.ticket.unwrap();
    assert_eq!(stage(&ticket), pb::Stage::Merged);
    assert_eq!(ticket.incident_id, first.id);
    assert_eq!(linked.incident.unwrap().ticket_count, 3);
    // Linking it again, or to itself, is refused with a reason.
    let again = app
        .incidents_as(&operator())
        .await
        .join_incident(pb::JoinIncidentRequest {
            ticket_id: held.id.clone(),
            expected_version: 0,
            of_ticket_id: first.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        again.code(),
        Code::FailedPrecondition,
        "{}",
        again.message()
    );
    let own = app
        .incidents_as(&operator())
        .await
        .join_incident(pb::JoinIncidentRequest {
            ticket_id: held.id.clone(),
            expected_version: 0,
            of_ticket_id: held.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::InvalidArgument);
}

pub async fn one_reply_answers_every_merged_ticket_and_each_is_called_back_before_closing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (first, more) = incident_of(&app, 2).await;
    let members: Vec<String> = more
        .iter()
        .map(|r| r.ticket.as_ref().unwrap().id.clone())
        .collect();
    let mut incidents = app.incidents_as(&supervisor()).await;
    // Over the public-reply limit: refused, and no ticket is touched.
    let too_long = incidents
        .reply_to_incident(pb::ReplyToIncidentRequest {
            incident_id: first.id.clone(),
            public_reply: "水".repeat(4_001),
        })
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument);
    assert!(
        too_long.message().contains("public_reply"),
        "{}",
        too_long.message()
    );
    for id in &members {
        assert_eq!(stage(&app.get(id).await), pb::Stage::Merged);
    }

    let replied = incidents
        .reply_to_incident(pb::ReplyToIncidentRequest {
            incident_id: first.id.clone(),
            public_reply: "供水管道已修复，18时起恢复供水。".into(),
        })
        .await
        .expect("reply")
        .into_inner();
    assert_eq!(
        replied.incident.unwrap().public_reply,
        "供水管道已修复，18时起恢复供水。"
    );
    for id in &members {
        let t = app.get(id).await;
        assert_eq!(stage(&t), pb::Stage::AwaitingCallback);
        assert_eq!(
            t.reply.unwrap().public_reply,
            "供水管道已修复，18时起恢复供水。"
        );
        assert!(
            !t.deadlines.unwrap().callback.is_empty(),
            "its own callback clock"
        );
    }
    // A caller who rings after the reply joins and is answered with it at once, with a
    // callback clock of their own (not left merged, waiting for a reply already given).
    let late = route(&app, AGAIN).await;
    let late = late.ticket.unwrap();
    assert_eq!(late.incident_id, first.id);
    assert_eq!(stage(&late), pb::Stage::AwaitingCallback);
    assert_eq!(
        late.reply.as_ref().unwrap().public_reply,
        "供水管道已修复，18时起恢复供水。"
    );
    assert!(!late.deadlines.as_ref().unwrap().callback.is_empty());
    call_back(&app, &late.id).await;
    // The lead is still its station's: closing now is refused, naming it.
    let early = incidents
        .close_incident(pb::CloseIncidentRequest {
            incident_id: first.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains(&first.id), "{}", early.message());
    handle_to_callback_at(&app, &first.id, COMMUNITY_CSS).await;
    // Callbacks are each caller's own: one missing is named.
    call_back(&app, &first.id).await;
    call_back(&app, &members[0]).await;
    let missing = incidents
        .close_incident(pb::CloseIncidentRequest {
            incident_id: first.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    assert!(
        missing.message().contains(&members[1]),
        "{}",
        missing.message()
    );
    call_back(&app, &members[1]).await;

    let closed = incidents
        .close_incident(pb::CloseIncidentRequest {
            incident_id: first.id.clone(),
        })
        .await
        .expect("close together")
        .into_inner();
    assert!(!closed.incident.unwrap().closed_at.is_empty());
    assert_eq!(closed.tickets.len(), 4);
    for t in &closed.tickets {
        assert_eq!(stage(t), pb::Stage::Closed, "{}", t.id);
        let history = kinds(&app.get(&t.id).await);
        assert!(
            history.contains(&"record_callback".to_owned()),
            "{history:?}"
        );
        assert_eq!(history.last().map(String::as_str), Some("close"));
    }
    for id in &members {
        let history = kinds(&app.get(id).await);
        assert!(
            history.contains(&"incident_reply".to_owned()),
            "{history:?}"
        );
    }
    // A closed incident takes no more notices.
    let after = incidents
        .post_notice(pb::PostNoticeRequest {
            incident_id: first.id.clone(),
            text: "已恢复".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::FailedPrecondition);
}

pub async fn an_incident_with_a_return_under_arbitration_does_not_close(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = incident_of(&app, 1).await;
    let mut station = app.station_as(&staff(COMMUNITY_CSS, "li")).await;
    station
        .request_return(pb::RequestReturnRequest {
            ticket_id: first.id.clone(),
            expected_version: 0,
            reason: pb::ReturnReason::WrongTerritory as i32,
            basis: "漏水点在隔壁社区".into(),
        })
        .await
        .expect("return");
    let refused = app
        .incidents_as(&supervisor())
        .await
        .close_incident(pb::CloseIncidentRequest {
            incident_id: first.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains(&first.id),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("return arbitration"),
        "{}",
        refused.message()
    );
    assert_eq!(stage(&app.get(&first.id).await), pb::Stage::ReturnRequested);
}

pub async fn a_split_ticket_is_handled_on_its_own_and_bad_splits_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, more) = incident_of(&app, 2).await;
    let member = more[0].ticket.as_ref().unwrap().id.clone();
    let kept = more[1].ticket.as_ref().unwrap().id.clone();
    let mut incidents = app.incidents_as(&supervisor()).await;
    let split = |ticket: &str, incident: &str| pb::SplitTicketRequest {
        incident_id: incident.into(),
        ticket_id: ticket.into(),
        expected_version: 0,
        note: "是另一处漏水".into(),
    };
    let out = incidents
        .split_ticket(split(&member, &first.id))
        .await
        .expect("split")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&out), pb::Stage::PendingDispatch);
    assert_eq!(out.incident_id, "");
    assert_eq!(
        incident_detail(&app, &first.id)
            .await
            .incident
            .unwrap()
            .ticket_count,
        2
    );

    // Not in the incident (any more): FAILED_PRECONDITION naming it.
    let stranger = incidents
        .split_ticket(split(&member, &first.id))
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::FailedPrecondition);
    assert!(
        stranger.message().contains(&member),
        "{}",
        stranger.message()
    );
    assert!(
        stranger.message().contains("not in incident"),
        "{}",
        stranger.message()
    );
    // The lead stays.
    let lead = incidents
        .split_ticket(split(&first.id, &first.id))
        .await
        .unwrap_err();
    assert_eq!(lead.code(), Code::FailedPrecondition);
    // An incident that does not exist, or an id that is not one.
    let unknown = incidents
        .post_notice(pb::PostNoticeRequest {
            incident_id: member.clone(),
            text: "抢修中".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let bad = incidents
        .split_ticket(split(&member, "INC-1"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("incident_id"), "{}", bad.message());
    // Without a reason.
    let mut silent = split(&kept, &first.id);
    silent.note = String::new();
    assert_eq!(
        incidents.split_ticket(silent).await.unwrap_err().code(),
        Code::InvalidArgument
    );
}

on_both_backends!(
    duplicates_are_merged_under_the_first_ticket_and_its_station_gets_one,
    operators_read_the_latest_notice_on_intake_and_link_a_held_call,
    one_reply_answers_every_merged_ticket_and_each_is_called_back_before_closing,
    an_incident_with_a_return_under_arbitration_does_not_close,
    a_split_ticket_is_handled_on_its_own_and_bad_splits_are_refused,
    a_flood_from_one_integrator_key_is_rate_limited_and_linked_to_its_own_incident,
);

pub async fn a_flood_from_one_integrator_key_is_rate_limited_and_linked_to_its_own_incident(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // Another matter's incident in the same community.
    let (other, _) = incident_of(&app, 1).await;
    app.account(&integrator("portal")).await;
    let issued = app
        .admin_as(&administrator())
        .await
        .issue_api_key(pb::IssueApiKeyRequest {
            login: "portal".into(),
            channels: vec![pb::Channel::Web as i32],
            rpcs: vec!["SubmitTicket".into()],
            per_minute: 5,
        })
        .await
        .unwrap()
        .into_inner();
    let mut intake = hotline_proto::v1::intake_client::IntakeClient::new(
        tonic::service::interceptor::InterceptedService::new(
            app.channel.clone(),
            Bearer::token(&issued.key),
        ),
    );
    let (mut accepted, mut limited) = (Vec::new(), 0);
    for n in 0..10 {
        let mut request = submit_request("小区路灯坏了好几天，晚上一片漆黑", None);
        request.channel = pb::Channel::Web as i32;
        request.hold = false;
        request.division_code = String::new();
        request.request_id = format!("portal-{n}");
        match intake.submit_ticket(request).await {
            Ok(r) => accepted.push(r.into_inner().ticket.unwrap()),
            Err(status) => {
                assert_eq!(
                    status.code(),
                    Code::ResourceExhausted,
                    "{}",
                    status.message()
                );
                limited += 1;
            }
        }
    }
    assert_eq!((accepted.len(), limited), (5, 5));
    let lead = &accepted[0];
    assert_eq!(lead.incident_id, "", "the first is dispatched on its own");
    assert_ne!(stage(lead), pb::Stage::Merged);
    for t in &accepted[1..] {
        assert_eq!(
            t.incident_id, lead.id,
            "merged into the flood's own incident"
        );
        assert_ne!(t.incident_id, other.id);
    }
    assert_eq!(
        incident_detail(&app, &other.id)
            .await
            .incident
            .unwrap()
            .ticket_count,
        2
    );
}
