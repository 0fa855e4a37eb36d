//! Automatic routing over gRPC: classify, resolve, pick the station from the catalogue, explain;
//! triage when unsure; re-categorise => re-route; duplicates; preview.

use hotline_proto::v1 as pb;

use crate::support::*;

const ADDRESS: &str = "姑苏区双塔街道沧浪亭社区";
const PROPERTY_REPAIR: &str = "我家楼上漏水，找物业报修没人来修";

fn routed_request(text: &str, address: &str) -> pb::SubmitTicketRequest {
    let mut request = submit_request(text, None);
    request.hold = false;
    request.address = address.into();
    request.division_code = String::new();
    request.channel = pb::Channel::Web as i32;
    request
}

async fn route(app: &TestApp, text: &str, address: &str) -> pb::SubmitTicketResponse {
    app.intake()
        .await
        .submit_ticket(routed_request(text, address))
        .await
        .expect("submit")
        .into_inner()
}

pub async fn a_request_without_a_station_lands_on_the_right_queue_with_its_explanation(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let t = route(&app, PROPERTY_REPAIR, ADDRESS).await.ticket.unwrap();
    assert_eq!(stage(&t), pb::Stage::AwaitingSignFor);
    assert_eq!(t.station_id, COMMUNITY_CSS);
    assert_eq!(t.division_code, "320508021019");
    assert_eq!(t.category, "SQ.WYBX");
    let why = t.route.expect("the explanation is stored with the ticket");
    assert!(!why.triage);
    assert_eq!(why.station_id, COMMUNITY_CSS);
    assert_eq!(why.categories[0].code, "SQ.WYBX");
    assert!(
        why.drivers.iter().any(|d| d.contains("物业")),
        "{:?}",
        why.drivers
    );
    let territory = why.territory.unwrap();
    assert_eq!(territory.division_code, "320508021019");
    assert!(territory.matched.contains("沧浪亭社区"), "{territory:?}");
    assert!(why.rule.contains("SQ.WYBX"), "{}", why.rule);
    assert!(!why.versions.is_empty());
    // On the station's queue, and the history says who decided what.
    let queued = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest {
            stage: pb::Stage::AwaitingSignFor as i32,
            station_id: COMMUNITY_CSS.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        kinds(&app.get(&t.id).await),
        ["submit", "route", "dispatch"]
    );
}

pub async fn an_unsure_request_lands_in_centre_triage_with_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for text in ["你好", "😀😀😀", "hello there"] {
        let t = route(&app, text, "").await.ticket.unwrap();
        assert_eq!(stage(&t), pb::Stage::PendingDispatch, "{text}");
        let why = t.route.unwrap();
        assert!(why.triage);
        assert_eq!(why.station_id, TRIAGE);
        assert!(
            !why.fallbacks.is_empty(),
            "{text}: the fallback is explained"
        );
    }
    // A known problem but no place in the city: triage too, with the territory unresolved.
    let elsewhere = route(&app, PROPERTY_REPAIR, "北京市朝阳区")
        .await
        .ticket
        .unwrap();
    assert_eq!(stage(&elsewhere), pb::Stage::PendingDispatch);
    let why = elsewhere.route.unwrap();
    assert!(
        why.fallbacks.iter().any(|f| f.contains("territory")),
        "{:?}",
        why.fallbacks
    );
}

pub async fn an_emergency_goes_to_triage_flagged_critical_for_hand_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = route(&app, "楼下着火了，浓烟很大，有人被困", ADDRESS)
        .await
        .ticket
        .unwrap();
    assert_eq!(stage(&t), pb::Stage::PendingDispatch);
    assert_eq!(t.urgency, pb::Urgency::Critical as i32);
    let why = t.route.unwrap();
    assert_eq!(why.emergency, pb::EmergencyService::Fire119 as i32);
    // The operator hands it off from triage.
    let handed = app
        .intake_as(&operator())
        .await
        .hand_off_emergency(pb::HandOffEmergencyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            service: pb::EmergencyService::Fire119 as i32,
            note: "已转119".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&handed), pb::Stage::Closed);
}

pub async fn re_categorising_a_ticket_moves_it_to_the_new_station(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = route(&app, PROPERTY_REPAIR, ADDRESS).await.ticket.unwrap();
    assert_eq!(t.station_id, COMMUNITY_CSS);
    let moved = app
        .supervision_as(&supervisor())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: t.id.clone(),
            expected_version: t.version,
            category: "LS.GZFL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(moved.category, "LS.GZFL");
    assert_eq!(moved.station_id, "320508021019-lss");
    assert_eq!(stage(&moved), pb::Stage::AwaitingSignFor);
    assert_eq!(moved.route.unwrap().category_source, "operator");
    assert_eq!(
        kinds(&app.get(&t.id).await),
        [
            "submit",
            "route",
            "dispatch",
            "reclassify",
            "route",
            "redispatch"
        ]
    );
    // A corrected address re-routes too: the same category, another community.
    let corrected = app
        .supervision_as(&supervisor())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            category: "LS.GZFL".into(),
            address: "虎丘区横塘街道横塘社区".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(corrected.station_id, "320505001002-lss");
    assert_eq!(corrected.address, "虎丘区横塘街道横塘社区");
    // Changing only the urgency keeps the category (and the station).
    let urgent = app
        .supervision_as(&supervisor())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            urgency: pb::Urgency::Urgent as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(urgent.category, "LS.GZFL");
    assert_eq!(urgent.station_id, "320505001002-lss");
    assert_eq!(urgent.urgency, pb::Urgency::Urgent as i32);
    // Station staff cannot re-categorise.
    let denied = app
        .supervision_as(&staff("320505001002-lss", "li"))
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            category: "SQ.WYBX".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}

pub async fn a_repeated_request_is_linked_to_the_live_ticket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = route(&app, PROPERTY_REPAIR, ADDRESS).await.ticket.unwrap();
    let again = route(&app, "楼上漏水，找物业报修一直没人来修", ADDRESS).await;
    let dup = again.ticket.unwrap();
    // 并案: merged into the incident the live ticket now leads; no station gets a copy.
    assert_eq!(stage(&dup), pb::Stage::Merged);
    assert_eq!(dup.incident_id, first.id);
    assert_eq!(dup.station_id, "");
    assert_eq!(
        again.incident.expect("the incident").lead_ticket_id,
        first.id
    );
    let original = again
        .duplicate_of
        .expect("the caller is told the live ticket's progress");
    assert_eq!(original.id, first.id);
    assert_eq!(stage(&original), pb::Stage::AwaitingSignFor);
    // A different problem in the same place is not a duplicate.
    let other = route(&app, "公司拖欠工资三个月了", ADDRESS).await;
    assert!(other.duplicate_of.is_none());
    assert_eq!(
        stage(other.ticket.as_ref().unwrap()),
        pb::Stage::AwaitingSignFor
    );
}

pub async fn preview_decides_without_creating_a_ticket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let preview = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: PROPERTY_REPAIR.into(),
            address: ADDRESS.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let route = preview.route.unwrap();
    assert_eq!(route.station_id, COMMUNITY_CSS);
    assert!(preview.duplicate_of.is_none());
    let all = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.tickets.is_empty());
    // Garbage gets an answer, never an error.
    let garbage = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: "@@@###".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(garbage.route.unwrap().triage);
    // Over the limit is refused like a submit.
    let too_long = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: "很".repeat(4_001),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
}

on_both_backends!(
    a_request_without_a_station_lands_on_the_right_queue_with_its_explanation,
    an_unsure_request_lands_in_centre_triage_with_the_reason,
    an_emergency_goes_to_triage_flagged_critical_for_hand_off,
    re_categorising_a_ticket_moves_it_to_the_new_station,
    a_repeated_request_is_linked_to_the_live_ticket,
    preview_decides_without_creating_a_ticket,
    an_operator_station_override_is_recorded_in_the_explanation,
);

/// The operator picks a station over the router's: the call is still routed (classified,
/// placed), dispatched to the operator's station, and the explanation keeps both choices.
async fn an_operator_station_override_is_recorded_in_the_explanation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut request = routed_request(PROPERTY_REPAIR, ADDRESS);
    request.route_station_id = STREET_OFFICE.into();
    let ticket = app
        .intake()
        .await
        .submit_ticket(request.clone())
        .await
        .expect("submit")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(ticket.station_id, STREET_OFFICE);
    assert_eq!(stage(&ticket), pb::Stage::AwaitingSignFor);
    let route = ticket.route.expect("routed: the explanation is kept");
    let note = route
        .fallbacks
        .iter()
        .find(|f| f.starts_with(hotline_router::tickets::OPERATOR_STATION))
        .expect("the override is in the explanation");
    assert!(
        note.contains(STREET_OFFICE) && note.contains("系统建议"),
        "{note}"
    );
    assert_eq!(route.station_id, STREET_OFFICE);

    // Not with hold or station_id; not an unknown station.
    request.hold = true;
    let err = app
        .intake()
        .await
        .submit_ticket(request.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("route_station_id"),
        "{}",
        err.message()
    );
    request.hold = false;
    request.route_station_id = "320508021099-css".into();
    let err = app.intake().await.submit_ticket(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
}
