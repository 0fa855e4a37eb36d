//! Deadlines never stop in December: a deadline that reaches into a year whose holiday notice
//! is not out is counted on the provisional calendar and marked 暂定; loading the notice later
//! (Admin.ReloadCalendar, or SIGHUP) recounts it, records the change with both values, and moves
//! its timers.

use chrono::{TimeZone, Utc};
use hotline_core::ManualClock;
use hotline_dispatch::{TimerClock, TimerStep};
use hotline_proto::v1 as pb;

use crate::support::*;

/// Monday 2026-12-28, 10:00 in Suzhou: the 2027 notice is not out.
fn december() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 28, 2, 0, 0).unwrap()
}

/// A notice for 2027 unlike the provisional one: Monday 4 January joins the New Year holiday,
/// and Saturday 9 January is a make-up working day (调休).
const NOTICE_2027: &str = r#"{"year": 2027, "papers": [], "days": [
    {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
    {"name": "元旦", "date": "2027-01-02", "isOffDay": true},
    {"name": "元旦", "date": "2027-01-03", "isOffDay": true},
    {"name": "元旦", "date": "2027-01-04", "isOffDay": true},
    {"name": "元旦", "date": "2027-01-09", "isOffDay": false},
    {"name": "春节", "date": "2027-02-05", "isOffDay": true}]}"#;

async fn spawn_in_december(backend: Backend, holidays: &std::path::Path) -> TestApp {
    spawn_in_december_with(backend, holidays, &[]).await
}

async fn spawn_in_december_with(
    backend: Backend,
    holidays: &std::path::Path,
    extra: &[&str],
) -> TestApp {
    let mut argv = vec!["--holidays-dir".to_owned(), holidays.display().to_string()];
    argv.extend(extra.iter().map(|a| (*a).to_owned()));
    if let Backend::Postgres = backend {
        let url = hotline_store::testing::fresh_postgres_url()
            .await
            .expect("fresh postgres database");
        argv.extend(["--database-url".to_owned(), url]);
    }
    TestApp::spawn_with(argv, ManualClock::new(december())).await
}

fn resolution_breach_ms(timers: &[hotline_dispatch::Timer]) -> Vec<i64> {
    timers
        .iter()
        .filter(|t| t.clock == TimerClock::Resolution && t.step == TimerStep::Breach)
        .map(|t| t.deadline_ms)
        .collect()
}

pub async fn an_extension_in_late_december_gets_a_provisional_deadline_that_the_notice_recounts(
    backend: Backend,
) {
    let holidays = hotline_store::testing::TempDir::new();
    let app = spawn_in_december(backend, holidays.path()).await;
    let li = staff(COMMUNITY_CSS, "li");
    let t = app.submit("沧浪亭社区路灯坏了", Some(COMMUNITY_CSS)).await;
    let signed = app
        .station_as(&li)
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .expect("signed for in December")
        .into_inner()
        .ticket
        .unwrap();
    let deadlines = signed.deadlines.clone().unwrap();
    // Tue 29, Wed 30, Thu 31, (元旦 and the weekend), Mon 4, Tue 5: provisional.
    assert_eq!(deadlines.resolution, "2027-01-05T09:30:00.000Z");
    assert!(
        deadlines.provisional.contains(&"resolution".to_owned()),
        "{deadlines:?}"
    );
    assert!(deadlines.provisional_note.contains("2027"), "{deadlines:?}");

    // The station asks for 3 more working days on 28 December; the supervisor approves: the
    // answer is a deadline (provisional), not FAILED_PRECONDITION.
    app.station_as(&li)
        .await
        .request_extension(pb::RequestExtensionRequest {
            ticket_id: t.id.clone(),
            working_days: 3,
            reason: "需协调电梯维保单位更换主板".into(),
            ..Default::default()
        })
        .await
        .expect("extension asked");
    let approved = app
        .supervision()
        .await
        .decide_extension(pb::DecideExtensionRequest {
            ticket_id: t.id.clone(),
            approve: true,
            ..Default::default()
        })
        .await
        .expect("extension approved in December")
        .into_inner()
        .ticket
        .unwrap();
    let told = approved.deadlines.unwrap();
    assert_eq!(told.resolution, "2027-01-08T09:30:00.000Z");
    assert!(told.provisional.contains(&"resolution".to_owned()));
    let engine = app.hotline.as_ref().unwrap();
    let id = hotline_core::TicketId::parse("t", &t.id).unwrap();
    let before_ms = Utc
        .with_ymd_and_hms(2027, 1, 8, 9, 30, 0)
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        resolution_breach_ms(&engine.queues().timers().timers_of(id).await.unwrap()),
        vec![before_ms]
    );

    // A supervisor sees the warning; the notice arrives and is loaded without a restart.
    let mut admin = app.admin_as(&administrator()).await;
    let status = app
        .admin_as(&supervisor())
        .await
        .get_calendar_status(pb::GetCalendarStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.provisional_years, vec![2027]);
    assert!(status.warning.contains("2027"), "{status:?}");
    assert!(
        status
            .warning
            .contains(&holidays.path().display().to_string()),
        "the warning names the directory: {status:?}"
    );
    // ... and the health check says so (a detail, not readiness): the probe runs every second,
    // so wait for its first round.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    let calendar_health = || tonic_health::pb::HealthCheckRequest {
        service: "hotline.calendar".into(),
    };
    let mut changes = health.watch(calendar_health()).await.unwrap().into_inner();
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while let Some(Ok(change)) = futures::StreamExt::next(&mut changes).await {
            if change.status == not_serving {
                return;
            }
        }
        panic!("the health stream ended");
    })
    .await
    .expect("hotline.calendar reports NOT_SERVING in December without the 2027 notice");
    std::fs::write(holidays.path().join("2027.json"), NOTICE_2027).unwrap();
    let reloaded = admin
        .reload_calendar(pb::ReloadCalendarRequest {})
        .await
        .expect("reloaded")
        .into_inner();
    assert!(reloaded.published_years.contains(&2027), "{reloaded:?}");
    assert!(reloaded.provisional_years.is_empty());
    assert!(reloaded.warning.is_empty());
    assert_eq!(reloaded.tickets_recomputed, 1, "{reloaded:?}");

    // Recounted from the history on the real 2027 calendar: signed for Mon 28 Dec, 5 working
    // days end Wed 6 Jan (4 Jan is now a holiday), extended by 3: Thu 7, Fri 8, Sat 9 (调休).
    let after = app.get(&t.id).await;
    let now = after.deadlines.clone().unwrap();
    assert_eq!(now.resolution, "2027-01-09T09:30:00.000Z");
    assert!(now.provisional.is_empty(), "{now:?}");
    let event = after
        .events
        .iter()
        .find(|e| e.kind == "recompute_deadlines")
        .expect("the change is an event");
    let detail: serde_json::Value = serde_json::from_str(&event.detail_json).unwrap();
    assert_eq!(
        detail["before"]["resolution"], "2027-01-08T09:30:00Z",
        "{detail}"
    );
    assert_eq!(
        detail["after"]["resolution"], "2027-01-09T09:30:00Z",
        "{detail}"
    );
    // The timers follow the new deadline.
    let after_ms = Utc
        .with_ymd_and_hms(2027, 1, 9, 9, 30, 0)
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        resolution_breach_ms(&engine.queues().timers().timers_of(id).await.unwrap()),
        vec![after_ms]
    );
    // Loading the same notice again changes nothing more.
    let again = admin
        .reload_calendar(pb::ReloadCalendarRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.tickets_recomputed, 0);
    assert_eq!(app.get(&t.id).await.version, after.version);
}

pub async fn a_notice_that_would_shorten_a_deadline_keeps_what_was_told(backend: Backend) {
    shorter_notice(backend, false).await;
}

/// With `--calendar-allow-earlier true` the centre chose otherwise: the deadline moves earlier.
pub async fn a_centre_may_let_a_notice_shorten_a_deadline(backend: Backend) {
    shorter_notice(backend, true).await;
}

async fn shorter_notice(backend: Backend, allow_earlier: bool) {
    let holidays = hotline_store::testing::TempDir::new();
    let extra: &[&str] = if allow_earlier {
        &["--calendar-allow-earlier", "true"]
    } else {
        &[]
    };
    let app = spawn_in_december_with(backend, holidays.path(), extra).await;
    let t = app.submit("沧浪亭社区路灯坏了", Some(COMMUNITY_CSS)).await;
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
    assert_eq!(
        signed.deadlines.unwrap().resolution,
        "2027-01-05T09:30:00.000Z"
    );
    // A notice whose make-up Saturday 2 January comes before the deadline: counted again, it
    // would be Mon 4 January. The station was told 5 January, and 5 January it stays.
    let notice = r#"{"year": 2027, "papers": [], "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
        {"name": "元旦", "date": "2027-01-02", "isOffDay": false},
        {"name": "春节", "date": "2027-02-05", "isOffDay": true}]}"#;
    std::fs::write(holidays.path().join("2027.json"), notice).unwrap();
    let reloaded = app
        .admin_as(&administrator())
        .await
        .reload_calendar(pb::ReloadCalendarRequest {})
        .await
        .unwrap()
        .into_inner();
    let after = app.get(&t.id).await;
    let deadlines = after.deadlines.clone().unwrap();
    assert!(deadlines.provisional.is_empty());
    if allow_earlier {
        assert_eq!(reloaded.tickets_recomputed, 1, "{reloaded:?}");
        assert_eq!(deadlines.resolution, "2027-01-04T09:30:00.000Z");
        assert!(kinds(&after).contains(&"recompute_deadlines".to_owned()));
    } else {
        assert_eq!(reloaded.tickets_recomputed, 0, "{reloaded:?}");
        assert_eq!(deadlines.resolution, "2027-01-05T09:30:00.000Z");
        assert!(!kinds(&after).contains(&"recompute_deadlines".to_owned()));
    }
}

/// A notice put in `--holidays-dir` while the router is down is applied at the next start, like
/// a reload.
pub async fn a_notice_found_at_start_recounts_like_a_reload(backend: Backend) {
    let holidays = hotline_store::testing::TempDir::new();
    let mut app = spawn_in_december(backend, holidays.path()).await;
    let t = app.submit("沧浪亭社区路灯坏了", Some(COMMUNITY_CSS)).await;
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: t.id.clone(),
            expected_version: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        app.get(&t.id).await.deadlines.unwrap().resolution,
        "2027-01-05T09:30:00.000Z"
    );
    std::fs::write(holidays.path().join("2027.json"), NOTICE_2027).unwrap();
    app.restart().await;
    let after = app.get(&t.id).await;
    // 4 January is a holiday in the notice: Tue 29, Wed 30, Thu 31, Tue 5, Wed 6.
    assert_eq!(
        after.deadlines.clone().unwrap().resolution,
        "2027-01-06T09:30:00.000Z"
    );
    assert!(kinds(&after).contains(&"recompute_deadlines".to_owned()));
    // Starting again changes nothing more.
    app.restart().await;
    assert_eq!(app.get(&t.id).await.version, after.version);
}

/// A bad notice is refused with the file named, and the calendar in force stays.
pub async fn a_broken_notice_is_refused_and_changes_nothing(backend: Backend) {
    let holidays = hotline_store::testing::TempDir::new();
    let app = spawn_in_december(backend, holidays.path()).await;
    std::fs::write(holidays.path().join("2027.json"), "{ not json").unwrap();
    let refused = app
        .admin_as(&administrator())
        .await
        .reload_calendar(pb::ReloadCalendarRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("2027.json"), "{refused:?}");
    let status = app
        .admin_as(&supervisor())
        .await
        .get_calendar_status(pb::GetCalendarStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.provisional_years, vec![2027]);
}

crate::support::on_both_backends!(
    an_extension_in_late_december_gets_a_provisional_deadline_that_the_notice_recounts,
    a_notice_that_would_shorten_a_deadline_keeps_what_was_told,
    a_centre_may_let_a_notice_shorten_a_deadline,
    a_broken_notice_is_refused_and_changes_nothing,
    a_notice_found_at_start_recounts_like_a_reload,
);
