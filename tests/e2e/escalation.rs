//! SLA timers on injected time: yellow light, red light and the escalation chain, each
//! recorded once as an event; an approved extension in between moves everything.

use chrono::{DateTime, Utc};
use hotline_proto::v1 as pb;

use crate::support::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
}

fn flags(t: &pb::Ticket) -> Vec<pb::Flag> {
    t.flags
        .iter()
        .map(|f| pb::Flag::try_from(*f).unwrap())
        .collect()
}

/// Signed for and the caller reached at once, so only the resolution clock runs.
async fn signed_ticket(app: &TestApp) -> pb::Ticket {
    let t = app
        .submit("沧浪亭社区小区围墙开裂有倒塌危险", Some(COMMUNITY_CSS))
        .await;
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap();
    contact(app, &t.id).await
}

async fn contact(app: &TestApp, id: &str) -> pb::Ticket {
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .contact_caller(pb::ContactCallerRequest {
            ticket_id: id.into(),
            expected_version: 0,
            note: "已电话联系市民，约定明天上门查看".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

pub async fn the_first_contact_clock_has_its_own_lights_and_stops_at_contact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("楼道灯坏了", Some(COMMUNITY_CSS)).await;
    let signed = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    // Signed Mon 09:00: first contact within 1 working day, counted from the next day: Tue 17:30.
    assert_eq!(
        signed.deadlines.unwrap().first_contact,
        "2026-03-03T09:30:00.000Z"
    );
    app.clock.set(at("2026-03-03T09:30:00Z"));
    assert_eq!(
        app.fire_timers().await,
        2,
        "contact warning and contact overdue"
    );
    assert_eq!(
        flags(&app.get(&t.id).await),
        [pb::Flag::ContactWarning, pb::Flag::ContactOverdue]
    );
    // Reaching the caller late stops the clock; the red light stays on record.
    let reached = contact(&app, &t.id).await;
    assert!(!reached.contacted_at.is_empty());
    assert_eq!(flags(&reached), [pb::Flag::ContactOverdue]);
    // The resolution clock is unaffected and still runs (its yellow light is days away).
    assert_eq!(app.fire_timers().await, 0);
    let again = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .contact_caller(pb::ContactCallerRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
}

pub async fn a_missed_deadline_warns_breaches_and_escalates_once_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = signed_ticket(&app).await;
    // Signed Mon 2 March 09:00 (Suzhou): 5 working days, due Mon 9 March 17:30.
    assert_eq!(t.deadlines.unwrap().resolution, "2026-03-09T09:30:00.000Z");

    // Friday morning: nothing yet (the yellow light comes at 80% of the working time).
    app.clock.set(at("2026-03-06T01:00:00Z"));
    assert_eq!(app.fire_timers().await, 0);
    // Monday 17:29: yellow.
    app.clock.set(at("2026-03-09T09:29:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    assert_eq!(flags(&app.get(&t.id).await), [pb::Flag::Warning]);
    // Firing again changes nothing.
    assert_eq!(app.fire_timers().await, 0);
    // 17:30: red.
    app.clock.set(at("2026-03-09T09:30:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    // Tuesday 08:59 is not yet "the next working day" at the office; 09:00 is: urge (催办).
    app.clock.set(at("2026-03-10T00:59:00Z"));
    assert_eq!(app.fire_timers().await, 0);
    app.clock.set(at("2026-03-10T01:00:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    // Two working days late (Wed 11 March 17:30): supervise (督办).
    app.clock.set(at("2026-03-11T09:30:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    // Five working days late (Mon 16 March 17:30): publish (通报).
    app.clock.set(at("2026-03-16T09:29:59Z"));
    assert_eq!(app.fire_timers().await, 0);
    app.clock.set(at("2026-03-16T09:30:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    assert_eq!(app.fire_timers().await, 0);

    let after = app.get(&t.id).await;
    assert_eq!(
        flags(&after),
        [
            pb::Flag::Warning,
            pb::Flag::Overdue,
            pb::Flag::Urged,
            pb::Flag::Supervised,
            pb::Flag::Published
        ]
    );
    assert_eq!(after.urge_count, 1);
    let escalations: Vec<&str> = after
        .events
        .iter()
        .filter(|e| e.kind == "flag")
        .map(|e| e.detail_json.as_str())
        .collect();
    assert_eq!(escalations.len(), 5, "{escalations:?}");
    assert!(after.events.iter().filter(|e| e.kind == "flag").all(|e| e
        .actor
        .as_ref()
        .unwrap()
        .staff_id
        .is_empty()));
    // The ticket is still the station's to finish: flags never move the stage.
    assert_eq!(stage(&after), pb::Stage::InProgress);
}

pub async fn an_extension_approved_after_the_warning_moves_the_deadline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = signed_ticket(&app).await;
    // Friday 16:00: the yellow light is on.
    app.clock.set(at("2026-03-06T08:00:00Z"));
    assert_eq!(app.fire_timers().await, 1);
    assert_eq!(flags(&app.get(&t.id).await), [pb::Flag::Warning]);
    // The station asks for 3 more working days (in time: a full working day before the
    // deadline) and the centre approves.
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_extension(pb::RequestExtensionRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            working_days: 3,
            reason: "需等待房屋安全鉴定结果".into(),
        })
        .await
        .unwrap();
    let approved = app
        .supervision_as(&supervisor())
        .await
        .decide_extension(pb::DecideExtensionRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            approve: true,
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(
        approved.deadlines.as_ref().unwrap().resolution,
        "2026-03-12T09:30:00.000Z"
    );
    assert!(
        flags(&approved).is_empty(),
        "the old deadline's yellow light is off"
    );

    // The old deadline passes: nothing happens.
    app.clock.set(at("2026-03-09T09:31:00Z"));
    assert_eq!(app.fire_timers().await, 0);
    assert!(flags(&app.get(&t.id).await).is_empty());
    // The new one passes: yellow (late, at once) and red.
    app.clock.set(at("2026-03-12T09:30:00Z"));
    assert_eq!(app.fire_timers().await, 2);
    assert_eq!(
        flags(&app.get(&t.id).await),
        [pb::Flag::Warning, pb::Flag::Overdue]
    );
}

pub async fn signing_late_turns_the_red_light_off_for_the_new_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("小区垃圾桶满溢", Some(COMMUNITY_CSS)).await;
    // Sign-for due at 11:00 (2 working hours); at 11:00 it is red.
    app.clock.set(at("2026-03-02T03:00:00Z"));
    assert_eq!(app.fire_timers().await, 2);
    assert_eq!(
        flags(&app.get(&t.id).await),
        [pb::Flag::Warning, pb::Flag::Overdue]
    );
    let signed = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert!(flags(&signed).is_empty());
    // The late sign-for is in the log for the 及时签收率 KPI.
    let history = app.get(&t.id).await;
    assert_eq!(
        kinds(&history),
        ["submit", "dispatch", "flag", "flag", "sign_for"]
    );
    assert_eq!(app.fire_timers().await, 0);
}

pub async fn closed_tickets_have_no_timers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = app.submit("咨询公积金提取", None).await;
    app.intake_as(&operator())
        .await
        .answer_directly(pb::AnswerDirectlyRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            answer: "可登录公积金中心网站办理".into(),
            article: None,
        })
        .await
        .unwrap();
    app.clock.set(at("2026-04-01T01:00:00Z"));
    assert_eq!(app.fire_timers().await, 0);
}

pub async fn a_paused_clock_escalates_nothing_and_resuming_moves_the_deadline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = signed_ticket(&app).await;
    // Tuesday 09:00: waiting on the citizen for photos of the crack.
    app.clock.set(at("2026-03-03T01:00:00Z"));
    let paused = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .pause_clock(pb::PauseClockRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
            reason: "等待市民提供裂缝照片".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(paused.paused_since, "2026-03-03T01:00:00.000Z");
    // Nothing fires while paused, even past the old deadline's yellow light.
    app.clock.set(at("2026-03-05T00:59:00Z"));
    assert_eq!(app.fire_timers().await, 0);
    // Thursday 09:00: the photos arrive; two working days stood still.
    app.clock.set(at("2026-03-05T01:00:00Z"));
    let resumed = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .resume_clock(pb::ResumeClockRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert!(resumed.paused_since.is_empty());
    assert_eq!(
        resumed.deadlines.unwrap().resolution,
        "2026-03-11T09:30:00.000Z"
    );
    // The old deadline passes quietly; the new one is watched.
    app.clock.set(at("2026-03-09T09:31:00Z"));
    assert_eq!(app.fire_timers().await, 0);
    app.clock.set(at("2026-03-11T09:30:00Z"));
    assert_eq!(app.fire_timers().await, 2);
    assert_eq!(
        kinds(&app.get(&t.id).await),
        [
            "submit",
            "dispatch",
            "sign_for",
            "contact_caller",
            "pause_clock",
            "resume_clock",
            "flag",
            "flag"
        ]
    );
}

on_both_backends!(
    the_first_contact_clock_has_its_own_lights_and_stops_at_contact,
    a_paused_clock_escalates_nothing_and_resuming_moves_the_deadline,
    a_missed_deadline_warns_breaches_and_escalates_once_each,
    an_extension_approved_after_the_warning_moves_the_deadline,
    signing_late_turns_the_red_light_off_for_the_new_clock,
    closed_tickets_have_no_timers,
);
