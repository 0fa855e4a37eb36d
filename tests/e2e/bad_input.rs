//! Bad input gets the right status and a message a person can act on, and changes nothing.

use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use tonic::Code;

use crate::support::*;

fn assert_status(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, mentions: &str) {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(mentions),
        "{:?} should mention {mentions:?}",
        status.message()
    );
}

pub async fn malformed_submits_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut intake = app.intake().await;
    assert_status(
        intake.submit_ticket(submit_request("   ", None)).await,
        Code::InvalidArgument,
        "text",
    );
    let long = "很".repeat(4_001);
    assert_status(
        intake.submit_ticket(submit_request(&long, None)).await,
        Code::InvalidArgument,
        "text",
    );
    let mut no_channel = submit_request("路灯坏了", None);
    no_channel.channel = 0;
    assert_status(
        intake.submit_ticket(no_channel).await,
        Code::InvalidArgument,
        "channel",
    );
    let mut bad_channel = submit_request("路灯坏了", None);
    bad_channel.channel = 99;
    assert_status(
        intake.submit_ticket(bad_channel).await,
        Code::InvalidArgument,
        "channel",
    );
    // Who acts comes from the credential: without one, nothing is recorded.
    let anonymous = IntakeClient::new(app.anonymous())
        .submit_ticket(submit_request("路灯坏了", None))
        .await;
    assert_status(anonymous, Code::Unauthenticated, "credential");
    let mut bad_phone = submit_request("路灯坏了", None);
    bad_phone.caller = Some(pb::Caller {
        name: "x".into(),
        phone: "call me maybe".into(),
        ..Default::default()
    });
    assert_status(
        intake.submit_ticket(bad_phone).await,
        Code::InvalidArgument,
        "caller.phone",
    );
    let mut bad_point = submit_request("路灯坏了", None);
    bad_point.location = Some(pb::GeoPoint {
        lat: 200.0,
        lng: 120.6,
    });
    assert_status(
        intake.submit_ticket(bad_point).await,
        Code::InvalidArgument,
        "location.lat",
    );
    let mut bad_division = submit_request("路灯坏了", None);
    bad_division.division_code = "32050".into();
    assert_status(
        intake.submit_ticket(bad_division).await,
        Code::InvalidArgument,
        "division_code",
    );
    let mut unknown_division = submit_request("路灯坏了", None);
    unknown_division.division_code = "320599999999".into();
    assert_status(
        intake.submit_ticket(unknown_division).await,
        Code::NotFound,
        "320599999999",
    );
    assert_status(
        intake
            .submit_ticket(submit_request("路灯坏了", Some("320508021019-nope")))
            .await,
        Code::NotFound,
        "320508021019-nope",
    );
    // None of that stored anything.
    let all = intake
        .search_tickets(pb::SearchTicketsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.tickets.is_empty(), "{:?}", all.tickets);
}

pub async fn unknown_ids_are_not_found_and_garbage_ids_are_invalid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut intake = app.intake().await;
    let get = |id: &str| pb::GetTicketRequest {
        ticket_id: id.into(),
        include_history: false,
    };
    assert_status(
        intake
            .get_ticket(get("0190f7a0-0000-7000-8000-000000000000"))
            .await,
        Code::NotFound,
        "0190f7a0",
    );
    assert_status(
        intake.get_ticket(get("not-a-ticket")).await,
        Code::InvalidArgument,
        "ticket_id",
    );
    assert_status(
        intake.get_ticket(get("")).await,
        Code::InvalidArgument,
        "ticket_id",
    );
    let t = app.submit("路灯坏了", None).await;
    assert_status(
        app.supervision_as(&operator())
            .await
            .dispatch(pb::DispatchRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
                station_id: "3205-nowhere".into(),
                note: String::new(),
            })
            .await,
        Code::NotFound,
        "3205-nowhere",
    );
    assert_status(
        app.directory()
            .await
            .get_division(pb::GetDivisionRequest {
                code: "320599".into(),
            })
            .await,
        Code::NotFound,
        "320599",
    );
    assert_eq!(app.get(&t.id).await.version, 1);
}

pub async fn illegal_transitions_name_the_current_stage_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("路灯坏了", None).await;
    // Signing for a ticket nobody dispatched: it is no station's yet.
    assert_status(
        app.station_as(&staff(COMMUNITY_CSS, "li"))
            .await
            .sign_for(pb::SignForRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
            })
            .await,
        Code::PermissionDenied,
        "outside the scope of li",
    );
    // Closing a ticket that was never handled.
    assert_status(
        app.supervision_as(&supervisor())
            .await
            .close(pb::CloseRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
            })
            .await,
        Code::FailedPrecondition,
        "已受理",
    );
    let after = app.get(&t.id).await;
    assert_eq!(after.version, 1);
    assert_eq!(kinds(&after), ["submit"]);
}

pub async fn a_stale_version_is_aborted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("路灯坏了", Some(COMMUNITY_CSS)).await;
    assert_eq!(t.version, 2);
    assert_status(
        app.station_as(&staff(COMMUNITY_CSS, "li"))
            .await
            .sign_for(pb::SignForRequest {
                ticket_id: t.id.clone(),
                expected_version: 1,
            })
            .await,
        Code::Aborted,
        "version",
    );
    assert_eq!(stage(&app.get(&t.id).await), pb::Stage::AwaitingSignFor);
}

pub async fn two_staff_signing_at_once_cannot_both_win(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("路灯坏了", Some(COMMUNITY_CSS)).await;
    let sign = |mut client: StationClient<Authed>| {
        let id = t.id.clone();
        async move {
            client
                .sign_for(pb::SignForRequest {
                    ticket_id: id,
                    expected_version: 2,
                })
                .await
        }
    };
    let li = app.station_as(&staff(COMMUNITY_CSS, "li")).await;
    let wang = app.station_as(&staff(COMMUNITY_CSS, "wang")).await;
    let (a, b) = tokio::join!(sign(li), sign(wang));
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} / {b:?}");
    let loser = if a.is_ok() { b } else { a };
    let status = loser.unwrap_err();
    // Either it saw the winner's version or lost the write race: both are ABORTED, or the
    // winner's sign-for already moved the stage.
    assert!(
        matches!(status.code(), Code::Aborted | Code::FailedPrecondition),
        "{status:?}"
    );
    let after = app.get(&t.id).await;
    assert_eq!(kinds(&after), ["submit", "dispatch", "sign_for"]);
}

pub async fn staff_of_another_station_are_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("路灯坏了", Some(COMMUNITY_CSS)).await;
    assert_status(
        app.station_as(&staff(OTHER_CSS, "zhou"))
            .await
            .claim_ticket(pb::ClaimTicketRequest {
                ticket_id: t.id.clone(),
                lease_seconds: 0,
            })
            .await,
        Code::PermissionDenied,
        OTHER_CSS,
    );
    assert_status(
        app.station_as(&staff(OTHER_CSS, "zhou"))
            .await
            .sign_for(pb::SignForRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
            })
            .await,
        Code::PermissionDenied,
        // It names the caller's scope, not the station that holds the ticket.
        OTHER_CSS,
    );
    // Station staff cannot do the centre's work.
    assert_status(
        app.supervision_as(&staff(COMMUNITY_CSS, "li"))
            .await
            .close(pb::CloseRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
            })
            .await,
        Code::PermissionDenied,
        "may not call Supervision/Close",
    );
    assert_status(
        app.supervision_as(&staff(COMMUNITY_CSS, "li"))
            .await
            .raise_flag(pb::RaiseFlagRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
                flag: pb::Flag::Urged as i32,
                note: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "may not call Supervision/RaiseFlag",
    );
    assert_eq!(app.get(&t.id).await.version, 2);
}

pub async fn a_retried_submit_returns_the_same_ticket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut request = submit_request("信息亭报修：路灯不亮", None);
    request.channel = pb::Channel::Kiosk as i32;
    request.request_id = "kiosk-0042:20260302-0001".into();
    let first = app
        .intake()
        .await
        .submit_ticket(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app
        .intake()
        .await
        .submit_ticket(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.ticket.unwrap().id, again.ticket.unwrap().id);
    // Reusing the key for a different request is a client bug, said plainly.
    let mut other = request.clone();
    other.text = "信息亭报修：井盖缺失".into();
    assert_status(
        app.intake().await.submit_ticket(other).await,
        Code::AlreadyExists,
        "kiosk-0042",
    );
    let all = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.tickets.len(), 1);
}

on_both_backends!(
    malformed_submits_are_refused_naming_the_field,
    unknown_ids_are_not_found_and_garbage_ids_are_invalid,
    illegal_transitions_name_the_current_stage_and_change_nothing,
    a_stale_version_is_aborted,
    two_staff_signing_at_once_cannot_both_win,
    staff_of_another_station_are_denied,
    a_retried_submit_returns_the_same_ticket,
);

/// A request whose bytes are not the method's message (here, invalid UTF-8 in `text`, sent as
/// raw protobuf over the socket) is the client's mistake: INVALID_ARGUMENT, nothing stored,
/// and the router goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_protobuf_with_invalid_utf8_is_invalid_argument_not_internal() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // SubmitTicketRequest { channel = 1 (field 2), text = <0xff 0xfe> (field 4) }
    let bytes = vec![0x10, 0x01, 0x22, 0x02, 0xff, 0xfe];
    let answer = crate::corpus::raw(
        app.authed(&operator()).await,
        "/hotline.v1.Intake/SubmitTicket",
        bytes,
    )
    .await;
    let status = answer.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("UTF-8"), "{status:?}");
    // Nothing stored, still serving.
    let listed = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("still serving")
        .into_inner();
    assert!(listed.tickets.is_empty(), "{listed:?}");
}
