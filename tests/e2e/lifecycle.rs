//! Tickets walked through the real 12345 lifecycle, as operators, station staff and supervisors
//! would, over gRPC.

use chrono::Duration;
use hotline_proto::v1 as pb;

use crate::support::*;

async fn claim_and_sign(app: &TestApp, id: &str, station: &str, who: &str) -> pb::Ticket {
    let claimed = app
        .station_as(&staff(station, who))
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: String::new(),
            lease_seconds: 0,
        })
        .await
        .expect("claim")
        .into_inner();
    let ticket = claimed.ticket.expect("a ticket was waiting");
    assert_eq!(ticket.id, id);
    app.station_as(&staff(station, who))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: id.into(),
            expected_version: ticket.version,
        })
        .await
        .expect("sign for")
        .into_inner()
        .ticket
        .unwrap()
}

async fn reply(app: &TestApp, id: &str, station: &str) -> pb::Ticket {
    app.station_as(&staff(station, "li"))
        .await
        .reply(pb::ReplyRequest {
            ticket_id: id.into(),
            expected_version: 0,
            internal_record: "已联系物业更换灯泡，现场核实已亮".into(),
            public_reply: "您反映的路灯问题已修复，感谢您的监督。".into(),
        })
        .await
        .expect("reply")
        .into_inner()
        .ticket
        .unwrap()
}

async fn review(app: &TestApp, id: &str, approve: bool, note: &str) -> pb::Ticket {
    app.supervision_as(&supervisor())
        .await
        .review_reply(pb::ReviewReplyRequest {
            ticket_id: id.into(),
            expected_version: 0,
            approve,
            note: note.into(),
        })
        .await
        .expect("review")
        .into_inner()
        .ticket
        .unwrap()
}

async fn callback(
    app: &TestApp,
    id: &str,
    satisfaction: pb::Satisfaction,
    reasonable: bool,
) -> pb::Ticket {
    record_callback_as(app, &operator(), id, satisfaction, reasonable).await
}

async fn close(app: &TestApp, id: &str) -> pb::Ticket {
    app.supervision_as(&supervisor())
        .await
        .close(pb::CloseRequest {
            ticket_id: id.into(),
            expected_version: 0,
        })
        .await
        .expect("close")
        .into_inner()
        .ticket
        .unwrap()
}

async fn dispatch(app: &TestApp, id: &str, station: &str) -> pb::Ticket {
    app.supervision_as(&operator())
        .await
        .dispatch(pb::DispatchRequest {
            ticket_id: id.into(),
            expected_version: 0,
            station_id: station.into(),
            note: String::new(),
        })
        .await
        .expect("dispatch")
        .into_inner()
        .ticket
        .unwrap()
}

async fn queue_ids(app: &TestApp, station: &str) -> Vec<String> {
    use futures::StreamExt;
    let mut stream = app
        .station_as(&supervisor())
        .await
        .watch_queue(pb::WatchQueueRequest {
            station_id: station.into(),
        })
        .await
        .expect("watch")
        .into_inner();
    // The stream starts with the queue as it is; read exactly as many items as the store says
    // are waiting there.
    let waiting = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest {
            stage: if station == TRIAGE {
                pb::Stage::PendingDispatch
            } else {
                pb::Stage::AwaitingSignFor
            } as i32,
            station_id: if station == TRIAGE {
                String::new()
            } else {
                station.into()
            },
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets
        .len();
    let mut ids = Vec::new();
    for _ in 0..waiting {
        ids.push(stream.next().await.expect("item").expect("ok").ticket_id);
    }
    ids
}

pub async fn main_path_from_submit_to_close(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let submitted = app
        .submit(
            "沧浪亭社区3幢门口路灯坏了一个星期，晚上很黑",
            Some(COMMUNITY_CSS),
        )
        .await;
    assert_eq!(stage(&submitted), pb::Stage::AwaitingSignFor);
    assert_eq!(submitted.station_id, COMMUNITY_CSS);
    // Dispatched Mon 09:00; sign-for within 2 working hours: 11:00 Suzhou time.
    assert_eq!(
        submitted.deadlines.as_ref().unwrap().sign_for,
        "2026-03-02T03:00:00.000Z"
    );
    assert_eq!(
        queue_ids(&app, COMMUNITY_CSS).await,
        vec![submitted.id.clone()]
    );

    app.advance(Duration::minutes(30));
    let signed = claim_and_sign(&app, &submitted.id, COMMUNITY_CSS, "li").await;
    assert_eq!(stage(&signed), pb::Stage::InProgress);
    assert_eq!(signed.signed_by, "li");
    // Signed Mon 09:30; 5 working days for a help request: Mon 9 March, 17:30 Suzhou time.
    assert_eq!(
        signed.deadlines.as_ref().unwrap().resolution,
        "2026-03-09T09:30:00.000Z"
    );
    assert!(queue_ids(&app, COMMUNITY_CSS).await.is_empty());

    app.advance(Duration::hours(5));
    assert_eq!(
        stage(&reply(&app, &submitted.id, COMMUNITY_CSS).await),
        pb::Stage::PendingReview
    );
    let reviewed = review(&app, &submitted.id, true, "").await;
    assert_eq!(stage(&reviewed), pb::Stage::AwaitingCallback);
    assert!(!reviewed.deadlines.as_ref().unwrap().callback.is_empty());
    let called = callback(&app, &submitted.id, pb::Satisfaction::Satisfied, false).await;
    assert_eq!(stage(&called), pb::Stage::AwaitingCallback);
    let closed = close(&app, &submitted.id).await;
    assert_eq!(stage(&closed), pb::Stage::Closed);
    assert!(matches!(
        closed.outcome.unwrap().kind,
        Some(pb::outcome::Kind::Resolved(_))
    ));

    let history = app.get(&submitted.id).await;
    assert_eq!(
        kinds(&history),
        [
            "submit",
            "dispatch",
            "claim",
            "sign_for",
            "reply",
            "review",
            "record_callback",
            "close"
        ]
    );
    assert_eq!(history.version, 8);
    assert_eq!(
        history.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
}

pub async fn return_goes_to_arbitration_then_redispatch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app
        .submit("横塘街道某小区噪音扰民", Some(COMMUNITY_CSS))
        .await;
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;
    let returned = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_return(pb::RequestReturnRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            reason: pb::ReturnReason::WrongTerritory as i32,
            basis: "地址位于吴中区横塘街道，不属本社区".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&returned), pb::Stage::ReturnRequested);

    // Refused first: back to the station, in the stage it was in.
    let refused = app
        .supervision_as(&supervisor())
        .await
        .arbitrate_return(pb::ArbitrateReturnRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            accept: false,
            note: "请先核实地址".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&refused), pb::Stage::InProgress);
    assert_eq!(refused.station_id, COMMUNITY_CSS);

    // Asked again with the basis confirmed, and accepted: to centre triage, then re-dispatched.
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_return(pb::RequestReturnRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            reason: pb::ReturnReason::WrongTerritory as i32,
            basis: "已核实：地址属吴中区横塘社区".into(),
        })
        .await
        .unwrap();
    let accepted = app
        .supervision_as(&supervisor())
        .await
        .arbitrate_return(pb::ArbitrateReturnRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            accept: true,
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&accepted), pb::Stage::PendingDispatch);
    assert_eq!(accepted.station_id, "");
    assert_eq!(accepted.return_count, 1);
    assert_eq!(queue_ids(&app, TRIAGE).await, vec![t.id.clone()]);

    let redispatched = dispatch(&app, &t.id, OTHER_CSS).await;
    assert_eq!(stage(&redispatched), pb::Stage::AwaitingSignFor);
    assert_eq!(queue_ids(&app, OTHER_CSS).await, vec![t.id.clone()]);
    assert!(queue_ids(&app, TRIAGE).await.is_empty());
    assert_eq!(
        kinds(&app.get(&t.id).await),
        [
            "submit",
            "dispatch",
            "claim",
            "sign_for",
            "request_return",
            "arbitrate_return",
            "request_return",
            "arbitrate_return",
            "dispatch"
        ]
    );
}

pub async fn extension_approved_moves_the_deadline_and_refused_keeps_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("小区电梯经常故障", Some(COMMUNITY_CSS)).await;
    let signed = claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;
    let due = signed.deadlines.unwrap().resolution;
    assert_eq!(due, "2026-03-09T09:30:00.000Z");

    let ask = |days: u32| pb::RequestExtensionRequest {
        ticket_id: t.id.clone(),
        expected_version: 0,
        working_days: days,
        reason: "需协调电梯维保单位更换主板".into(),
    };
    let decide = |approve: bool| pb::DecideExtensionRequest {
        ticket_id: t.id.clone(),
        expected_version: 0,
        approve,
        note: String::new(),
    };

    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_extension(ask(3))
        .await
        .unwrap();
    let refused = app
        .supervision()
        .await
        .decide_extension(decide(false))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(refused.deadlines.unwrap().resolution, due);
    assert!(refused.extension_request.is_none());

    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_extension(ask(3))
        .await
        .unwrap();
    let approved = app
        .supervision()
        .await
        .decide_extension(decide(true))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    // Mon 9 March + 3 working days = Thu 12 March, 17:30.
    assert_eq!(
        approved.deadlines.unwrap().resolution,
        "2026-03-12T09:30:00.000Z"
    );
    assert_eq!(approved.extension_count, 1);

    // Asking on the deadline's own day is too late (at least 1 working day before).
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-12T02:00:00Z")
            .unwrap()
            .into(),
    );
    let late = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_extension(ask(2))
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    assert!(
        late.message().contains("extension refused"),
        "{}",
        late.message()
    );
}

pub async fn redo_after_a_reasonable_dissatisfied_callback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app
        .submit("楼道堆放杂物存在消防隐患", Some(COMMUNITY_CSS))
        .await;
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;
    reply(&app, &t.id, COMMUNITY_CSS).await;
    review(&app, &t.id, true, "").await;
    let redo = callback(&app, &t.id, pb::Satisfaction::Dissatisfied, true).await;
    assert_eq!(stage(&redo), pb::Stage::AwaitingSignFor);
    assert_eq!(redo.station_id, COMMUNITY_CSS);
    assert_eq!(redo.redo_count, 1);
    assert!(redo.flags.contains(&(pb::Flag::Supervised as i32)));
    assert_eq!(queue_ids(&app, COMMUNITY_CSS).await, vec![t.id.clone()]);

    // The second round ends with a satisfied citizen.
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "wang").await;
    reply(&app, &t.id, COMMUNITY_CSS).await;
    review(&app, &t.id, true, "").await;
    callback(&app, &t.id, pb::Satisfaction::Satisfied, false).await;
    assert_eq!(stage(&close(&app, &t.id).await), pb::Stage::Closed);
}

pub async fn review_rejection_sends_the_reply_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("小区门口占道经营", Some(COMMUNITY_CSS)).await;
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;
    reply(&app, &t.id, COMMUNITY_CSS).await;
    let rejected = review(&app, &t.id, false, "答复未说明处理结果").await;
    assert_eq!(stage(&rejected), pb::Stage::InProgress);
    assert!(rejected.reply.is_none());
}

pub async fn duplicate_links_to_the_live_ticket_and_reports_its_progress(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let original = app.submit("沧浪亭社区路灯不亮", Some(COMMUNITY_CSS)).await;
    let again = app.submit("沧浪亭社区路灯还是不亮", None).await;
    let linked = app
        .intake_as(&operator())
        .await
        .link_duplicate(pb::LinkDuplicateRequest {
            ticket_id: again.id.clone(),
            expected_version: 0,
            duplicate_of: original.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let dup = linked.ticket.unwrap();
    assert_eq!(stage(&dup), pb::Stage::Closed);
    match dup.outcome.unwrap().kind {
        Some(pb::outcome::Kind::Duplicate(d)) => assert_eq!(d.of_ticket_id, original.id),
        other => panic!("expected a duplicate outcome, got {other:?}"),
    }
    let progress = linked.original.unwrap();
    assert_eq!(progress.id, original.id);
    assert_eq!(stage(&progress), pb::Stage::AwaitingSignFor);

    // A closed ticket is not a live original.
    let third = app.submit("路灯又坏了", None).await;
    let err = app
        .intake_as(&operator())
        .await
        .link_duplicate(pb::LinkDuplicateRequest {
            ticket_id: third.id.clone(),
            expected_version: 0,
            duplicate_of: dup.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
}

pub async fn emergency_hand_off_is_recorded_and_closed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("楼下闻到很浓的煤气味，有人晕倒了", None).await;
    let handed = app
        .intake_as(&operator())
        .await
        .hand_off_emergency(pb::HandOffEmergencyRequest {
            ticket_id: t.id.clone(),
            expected_version: t.version,
            service: pb::EmergencyService::Ambulance120 as i32,
            note: "已三方转接120，并通知燃气公司".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&handed), pb::Stage::Closed);
    match handed.outcome.unwrap().kind {
        Some(pb::outcome::Kind::HandedOff(h)) => {
            assert_eq!(h.service, pb::EmergencyService::Ambulance120 as i32)
        }
        other => panic!("expected a hand-off, got {other:?}"),
    }
    assert_eq!(kinds(&app.get(&t.id).await), ["submit", "hand_off"]);
}

pub async fn answered_directly_and_not_accepted_close_at_intake(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let asked = app.submit("请问居住证怎么办理", None).await;
    let answered = app
        .intake_as(&operator())
        .await
        .answer_directly(pb::AnswerDirectlyRequest {
            ticket_id: asked.id.clone(),
            expected_version: 0,
            answer: "携带身份证和租房合同到社区警务室办理".into(),
            article: None,
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&answered), pb::Stage::Closed);
    let out = app.submit("邻居家装修我想起诉他", None).await;
    let rejected = app
        .intake_as(&operator())
        .await
        .not_accept(pb::NotAcceptRequest {
            ticket_id: out.id.clone(),
            expected_version: 0,
            advice: "民事纠纷请向法院起诉或申请人民调解".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert!(matches!(
        rejected.outcome.unwrap().kind,
        Some(pb::outcome::Kind::NotAccepted(_))
    ));
}

pub async fn sub_dispatch_and_co_handlers_report_to_the_lead(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app
        .submit("双塔街道多处窨井盖缺失", Some(STREET_OFFICE))
        .await;
    claim_and_sign(&app, &t.id, STREET_OFFICE, "zhao").await;
    // The street passes it down to the community, and stays the lead (首接负责).
    let down = app
        .station_as(&staff(STREET_OFFICE, "zhao"))
        .await
        .sub_dispatch(pb::SubDispatchRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            station_id: COMMUNITY_CSS.into(),
            note: "请社区现场核实".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&down), pb::Stage::AwaitingSignFor);
    assert_eq!(down.station_id, COMMUNITY_CSS);
    assert_eq!(down.lead_station_id, STREET_OFFICE);
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;

    let co = "320508021-urban";
    app.supervision_as(&supervisor())
        .await
        .add_co_handler(pb::AddCoHandlerRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            station_id: co.into(),
        })
        .await
        .unwrap();
    // The lead cannot reply before the co-handler reports back.
    let early = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .reply(pb::ReplyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            internal_record: "已处理".into(),
            public_reply: "已处理".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), tonic::Code::FailedPrecondition);
    assert!(early.message().contains(co), "{}", early.message());
    app.station_as(&staff(co, "sun"))
        .await
        .report_as_co_handler(pb::ReportAsCoHandlerRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            report: "城管中队已补装井盖".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        stage(&reply(&app, &t.id, COMMUNITY_CSS).await),
        pb::Stage::PendingReview
    );
}

pub async fn a_restart_in_the_middle_loses_nothing(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let t = app
        .submit("沧浪亭社区垃圾清运不及时", Some(COMMUNITY_CSS))
        .await;
    let waiting = app.submit("社区健身器材损坏", Some(COMMUNITY_CSS)).await;
    claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;

    app.restart().await;

    // The signed ticket is where it was, and the waiting one is back on the queue.
    let after = app.get(&t.id).await;
    assert_eq!(stage(&after), pb::Stage::InProgress);
    assert_eq!(kinds(&after), ["submit", "dispatch", "claim", "sign_for"]);
    assert_eq!(
        queue_ids(&app, COMMUNITY_CSS).await,
        vec![waiting.id.clone()]
    );

    reply(&app, &t.id, COMMUNITY_CSS).await;
    review(&app, &t.id, true, "").await;
    callback(&app, &t.id, pb::Satisfaction::Basic, false).await;
    assert_eq!(stage(&close(&app, &t.id).await), pb::Stage::Closed);
    claim_and_sign(&app, &waiting.id, COMMUNITY_CSS, "wang").await;
}

pub async fn an_expired_claim_returns_the_ticket_for_someone_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("小区停车位被占", Some(COMMUNITY_CSS)).await;
    let first = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: String::new(),
            lease_seconds: 60,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.ticket.unwrap().id, t.id);
    // While li holds it, wang gets nothing and cannot sign for it.
    let none = app
        .station_as(&staff(COMMUNITY_CSS, "wang"))
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: String::new(),
            lease_seconds: 60,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.ticket.is_none());
    let blocked = app
        .station_as(&staff(COMMUNITY_CSS, "wang"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(blocked.code(), tonic::Code::FailedPrecondition);
    assert!(
        blocked.message().contains("claimed by li"),
        "{}",
        blocked.message()
    );
    // Once the lease runs out, wang can take it.
    app.advance(Duration::seconds(61));
    let signed = claim_and_sign(&app, &t.id, COMMUNITY_CSS, "wang").await;
    assert_eq!(signed.signed_by, "wang");
}

pub async fn a_stale_queue_entry_fails_one_claim_and_is_cleared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("小区停车位被占", Some(COMMUNITY_CSS)).await;
    let signed = claim_and_sign(&app, &t.id, COMMUNITY_CSS, "li").await;
    // The queue falls behind the store (as after a lost update): the signed ticket is listed.
    let engine = app.hotline.clone().unwrap();
    engine
        .queues()
        .queue()
        .enqueue(
            hotline_dispatch::QueueEntry {
                ticket: hotline_core::TicketId::parse("t", &signed.id).unwrap(),
                station: hotline_core::StationId::parse("s", COMMUNITY_CSS).unwrap(),
                urgency: hotline_core::Urgency::Normal,
                due: None,
                enqueued_at: app.clock_now(),
                // The version the store has: the queue's own guard would refuse an older one.
                version: signed.version,
            },
            None,
        )
        .await
        .unwrap();
    let claim = || pb::ClaimTicketRequest {
        ticket_id: String::new(),
        lease_seconds: 60,
    };
    let stale = app
        .station_as(&staff(COMMUNITY_CSS, "wang"))
        .await
        .claim_ticket(claim())
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::FailedPrecondition);
    // The entry is gone (not left behind under a lease), and the ticket is untouched.
    let listed = engine
        .queues()
        .queue()
        .list(
            &hotline_core::StationId::parse("s", COMMUNITY_CSS).unwrap(),
            app.clock_now(),
        )
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    assert!(app
        .station_as(&staff(COMMUNITY_CSS, "wang"))
        .await
        .claim_ticket(claim())
        .await
        .unwrap()
        .into_inner()
        .ticket
        .is_none());
    assert_eq!(app.get(&t.id).await.version, signed.version);
}

on_both_backends!(
    a_stale_queue_entry_fails_one_claim_and_is_cleared,
    main_path_from_submit_to_close,
    return_goes_to_arbitration_then_redispatch,
    extension_approved_moves_the_deadline_and_refused_keeps_it,
    redo_after_a_reasonable_dissatisfied_callback,
    review_rejection_sends_the_reply_back,
    duplicate_links_to_the_live_ticket_and_reports_its_progress,
    emergency_hand_off_is_recorded_and_closed,
    answered_directly_and_not_accepted_close_at_intake,
    sub_dispatch_and_co_handlers_report_to_the_lead,
    a_restart_in_the_middle_loses_nothing,
    an_expired_claim_returns_the_ticket_for_someone_else,
);
