//! Hotspot / surge alerts over gRPC: a burst of submits about one thing in one community
//! raises one alert per level (community, street, district) on `Kpis.WatchAlerts` and in
//! `Kpis.ListAlerts`, in the callers' scopes; the all-clear follows the cool-down; replicas
//! agree; bad settings stop the router at start with the flag named. A surge in a street is
//! one incident (并案), however its callers word it and in whichever of its communities.

use std::sync::Arc;

use chrono::Duration;
use hotline_core::ManualClock;
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_client::KpisClient;
use hotline_router::config::ServeArgs;
use tonic::Code;

use crate::support::*;

/// Fewer calls than production's 10 make a surge here, so the test submits few.
const MIN_COUNT: u64 = 6;

async fn kpis_as(app: &TestApp, who: &Who) -> KpisClient<Authed> {
    KpisClient::new(app.authed(who).await)
}

fn division(code: &str) -> Option<pb::KpiScope> {
    Some(pb::KpiScope {
        division_code: code.into(),
        ..Default::default()
    })
}

async fn spawn(backend: Backend) -> TestApp {
    let mut argv = vec!["--hotspot-min-count".to_owned(), MIN_COUNT.to_string()];
    if let Backend::Postgres = backend {
        let url = hotline_store::testing::fresh_postgres_url()
            .await
            .expect("fresh postgres database");
        argv.extend(["--database-url".to_owned(), url]);
    }
    TestApp::spawn_with(argv, ManualClock::new(TestApp::start_time())).await
}

/// A call about 物业报修 (SQ.WYBX) in 沧浪亭社区, held for the operator (no routing needed).
async fn submit_about(app: &TestApp, category: &str, division: &str) {
    let mut request = submit_request("小区停水了，一直没有来水", None);
    request.category = category.into();
    request.division_code = division.into();
    app.intake()
        .await
        .submit_ticket(request)
        .await
        .expect("submit");
}

/// Every alert `who` may see, from now on.
async fn watch_alerts(app: &TestApp, who: &Who) -> tonic::Streaming<pb::HotspotAlert> {
    kpis_as(app, who)
        .await
        .watch_alerts(pb::WatchAlertsRequest { scope: None })
        .await
        .expect("watch alerts")
        .into_inner()
}

async fn next_alert(stream: &mut tonic::Streaming<pb::HotspotAlert>) -> pb::HotspotAlert {
    tokio::time::timeout(std::time::Duration::from_secs(30), stream.message())
        .await
        .expect("an alert within 30 s")
        .expect("stream ok")
        .expect("stream open")
}

/// Every alert on now, as a supervisor lists them.
async fn all_alerts(app: &TestApp) -> Vec<pb::HotspotAlert> {
    kpis_as(app, &supervisor())
        .await
        .list_alerts(pb::ListAlertsRequest { scope: None })
        .await
        .expect("list alerts")
        .into_inner()
        .alerts
}

async fn listed(app: &TestApp, who: &Who, scope: Option<pb::KpiScope>) -> Vec<String> {
    kpis_as(app, who)
        .await
        .list_alerts(pb::ListAlertsRequest { scope })
        .await
        .expect("list alerts")
        .into_inner()
        .alerts
        .into_iter()
        .map(|a| a.alert_id)
        .collect()
}

async fn a_surge_of_submits_raises_one_alert_per_level_then_clears(backend: Backend) {
    let app = spawn(backend).await;
    let mut stream = watch_alerts(&app, &supervisor()).await;
    let start = app.clock_now();
    for _ in 0..MIN_COUNT {
        submit_about(&app, "SQ.WYBX", "320508021019").await;
    }
    // Two calls about something else in another district, in the same minute: ordinary.
    for _ in 0..2 {
        submit_about(&app, "SQ.WYBX", "320505001002").await;
    }
    // The minute closes and the grace (10 s) passes: the bucket is evaluated.
    app.advance(Duration::seconds(75));
    let mut alerts = Vec::new();
    for _ in 0..3 {
        alerts.push(next_alert(&mut stream).await);
    }
    let places: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a.level.as_str(),
                a.division_code.as_str(),
                a.category.as_str(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            ("district", "320508", "SQ"),
            ("street", "320508021", "SQ"),
            ("community", "320508021019", "SQ"),
        ]
    );
    let community = &alerts[2];
    assert_eq!(community.count, MIN_COUNT);
    assert!(!community.cleared);
    assert!(
        community.expected > 0.0 && community.expected < 1.0,
        "{community:?}"
    );
    assert_eq!(community.window_seconds, 600);
    assert!(!community.division_name.is_empty() && community.division_name != "320508021019");
    let since = chrono::DateTime::parse_from_rfc3339(&community.since).unwrap();
    assert_eq!(since, start, "the surge began in the bucket at the start");

    // Listed for the centre, the district, the street's community station; not for another
    // district's supervisor.
    let ids: Vec<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
    assert_eq!(
        sorted(listed(&app, &supervisor(), None).await),
        sorted(ids.clone())
    );
    let gusu = supervisor_of("320508", "sup-gusu");
    assert_eq!(listed(&app, &gusu, None).await.len(), 3);
    assert_eq!(
        listed(&app, &staff(COMMUNITY_CSS, "wang"), None)
            .await
            .len(),
        3
    );
    let wuzhong = supervisor_of("320505", "sup-wuzhong");
    assert!(listed(&app, &wuzhong, None).await.is_empty());
    // The centre narrowing to another district sees none of them either.
    assert!(listed(&app, &supervisor(), division("320505"))
        .await
        .is_empty());

    // Ordinary again for the cool-down (30 min) after the window (10 min): all clear.
    app.advance(Duration::minutes(45));
    let mut cleared = Vec::new();
    for _ in 0..3 {
        let alert = next_alert(&mut stream).await;
        assert!(alert.cleared && !alert.cleared_at.is_empty(), "{alert:?}");
        cleared.push(alert.alert_id);
    }
    assert_eq!(sorted(cleared), sorted(ids));
    assert!(listed(&app, &supervisor(), None).await.is_empty());
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn alerts_are_refused_outside_the_callers_scope_and_to_integrators(backend: Backend) {
    let app = spawn(backend).await;
    let gusu = supervisor_of("320508", "sup-gusu");
    let err = kpis_as(&app, &gusu)
        .await
        .list_alerts(pb::ListAlertsRequest {
            scope: division("320505"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = kpis_as(&app, &supervisor())
        .await
        .list_alerts(pb::ListAlertsRequest {
            scope: division("329999"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = kpis_as(&app, &integrator("platform"))
        .await
        .watch_alerts(pb::WatchAlertsRequest { scope: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

async fn a_restarted_router_shows_the_alerts_already_on_under_the_same_ids(backend: Backend) {
    let mut app = spawn(backend).await;
    let mut stream = watch_alerts(&app, &supervisor()).await;
    for _ in 0..MIN_COUNT {
        submit_about(&app, "SQ.WYBX", "320508021019").await;
    }
    app.advance(Duration::seconds(75));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(next_alert(&mut stream).await.alert_id);
    }
    // Five minutes on, the router restarts: it replays the calls from the store before it
    // serves, so the alerts are listed at once, under the ids they were raised with.
    app.advance(Duration::minutes(5));
    app.restart().await;
    assert_eq!(sorted(listed(&app, &supervisor(), None).await), sorted(ids));
}

/// A routed call (the router classifies and places it) from an address in 双塔街道.
async fn routed(app: &TestApp, place: &str, text: &str) -> pb::SubmitTicketResponse {
    let mut request = submit_request(text, None);
    request.hold = false;
    request.address = format!("姑苏区双塔街道{place}");
    request.division_code = String::new();
    app.intake()
        .await
        .submit_ticket(request)
        .await
        .expect("submit")
        .into_inner()
}

async fn a_surge_in_a_street_is_one_incident_however_its_callers_word_it(backend: Backend) {
    let app = spawn(backend).await;
    let mut stream = watch_alerts(&app, &supervisor()).await;
    // One 停水 in the street: the first caller in 百步街, then two who say it alike in
    // 沧浪亭 (text duplicates: their own small incident), then others, each their own way.
    let first = routed(&app, "百步街社区", "停水了，什么时候能来水？").await;
    let first = first.ticket.unwrap();
    assert_eq!(stage(&first), pb::Stage::AwaitingSignFor, "{first:?}");
    let alike = "我家楼上楼下都没水，请尽快恢复供水";
    let small_lead = routed(&app, "沧浪亭社区", alike).await.ticket.unwrap();
    let small_member = routed(&app, "沧浪亭社区", alike).await.ticket.unwrap();
    assert_eq!(stage(&small_member), pb::Stage::Merged);
    assert_eq!(small_member.incident_id, small_lead.id, "a text duplicate");
    let mut others = Vec::new();
    for (place, text) in [
        ("长岛社区", "自来水停了一上午，马桶都没法冲"),
        ("城湾社区", "水龙头拧开一滴水都没有"),
        ("翠园社区", "断水了，家里有老人小孩没法做饭"),
    ] {
        let ticket = routed(&app, place, text).await.ticket.unwrap();
        assert_ne!(
            stage(&ticket),
            pb::Stage::Merged,
            "no text duplicate: {text}"
        );
        others.push(ticket);
    }
    // Something else in the street, and a 停水 in another street: not the surge's.
    let unrelated = routed(&app, "沧浪亭社区", "公司拖欠工资三个月了，老板不见人")
        .await
        .ticket
        .unwrap();
    let mut elsewhere = submit_request("停水了，一直没有来水", None);
    elsewhere.hold = false;
    elsewhere.address = "吴中区长桥街道".into();
    elsewhere.division_code = String::new();
    let elsewhere = app
        .intake()
        .await
        .submit_ticket(elsewhere)
        .await
        .expect("submit")
        .into_inner()
        .ticket
        .unwrap();

    // The minute closes: the street's alert is announced once its calls are one incident.
    app.advance(Duration::seconds(75));
    loop {
        let alert = next_alert(&mut stream).await;
        if alert.level == "street" {
            assert_eq!(
                (alert.division_code.as_str(), alert.category.as_str()),
                ("320508021", "CJ")
            );
            assert_eq!(alert.incident_id, first.id, "the banner links the incident");
            break;
        }
        assert_eq!(
            alert.incident_id, "",
            "a district's alert only warns: {alert:?}"
        );
    }
    let incident = incident_detail(&app, &first.id).await;
    let mut members: Vec<String> = incident.tickets.iter().map(|t| t.id.clone()).collect();
    members.sort();
    let mut want: Vec<String> = [&first, &small_lead, &small_member]
        .into_iter()
        .chain(&others)
        .map(|t| t.id.clone())
        .collect();
    want.sort();
    assert_eq!(members, want, "the surge's calls, the small incident's too");
    for ticket in &incident.tickets {
        if ticket.id == first.id {
            assert_eq!(stage(ticket), pb::Stage::AwaitingSignFor, "the lead stays");
        } else {
            assert_eq!(stage(ticket), pb::Stage::Merged, "{ticket:?}");
            assert_eq!(ticket.station_id, "", "no station holds a copy");
        }
        assert_eq!(ticket.incident_id, first.id);
    }
    for stranger in [&unrelated, &elsewhere] {
        let now = app.get(&stranger.id).await;
        assert_eq!(now.incident_id, "", "{now:?}");
    }

    // While the alert is on, a call about it joins at intake, and the operator sees the
    // incident on the preview, however it is worded.
    let late = routed(&app, "大公园社区", "整栋楼都停水了，请问是什么原因？").await;
    let ticket = late.ticket.unwrap();
    assert_eq!(stage(&ticket), pb::Stage::Merged);
    assert_eq!(ticket.incident_id, first.id);
    assert_eq!(late.incident.expect("the incident").id, first.id);
    let preview = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: "一直没有来水，到现在还没恢复".into(),
            address: "姑苏区双塔街道网师巷社区".into(),
            ..Default::default()
        })
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.incident.expect("the incident").id, first.id);
}

/// Two surges in one street about different things (物业 and 劳动): each is its own incident,
/// and both banners link theirs. (Folding one street's surge once dropped the street's other
/// surges, which were then folded again on every step, each dropping the last: the banners
/// flickered and a busy router spent minutes re-merging.)
async fn two_surges_in_one_street_are_each_their_own_incident(backend: Backend) {
    let app = spawn(backend).await;
    let mut stream = watch_alerts(&app, &supervisor()).await;
    for (category, text) in [
        ("SQ.WYBX", "小区电梯坏了好几天没人修"),
        ("LS.GZFL", "公司拖欠工资三个月了"),
    ] {
        for n in 0..MIN_COUNT {
            let mut request = submit_request(&format!("{text}，第{n}次反映"), None);
            request.category = category.into();
            request.hold = false;
            app.intake()
                .await
                .submit_ticket(request)
                .await
                .expect("submit");
        }
    }
    app.advance(Duration::seconds(75));
    let mut streets = Vec::new();
    while streets.len() < 2 {
        let alert = next_alert(&mut stream).await;
        if alert.level == "street" {
            streets.push(alert.category.clone());
        }
    }
    streets.sort();
    assert_eq!(streets, ["LS", "SQ"]);
    let alerts = all_alerts(&app).await;
    let mut linked: Vec<(String, bool)> = alerts
        .iter()
        .filter(|a| a.level == "street")
        .map(|a| (a.category.clone(), !a.incident_id.is_empty()))
        .collect();
    linked.sort();
    assert_eq!(
        linked,
        [("LS".to_owned(), true), ("SQ".to_owned(), true)],
        "each street surge links its incident: {alerts:?}"
    );
    let incidents: std::collections::HashSet<&str> = alerts
        .iter()
        .filter(|a| a.level == "street")
        .map(|a| a.incident_id.as_str())
        .collect();
    assert_eq!(incidents.len(), 2, "two matters, two incidents");
}

/// A surge whose calls are all held for an operator has no call to lead an incident: its
/// alert goes out unlinked, and the fold is tried again a minute later (not on every step:
/// each try reads all the surge's calls), by when a call the operator dispatched leads it.
/// The calls still held stay with the operator.
async fn a_surge_of_held_calls_is_folded_once_a_call_can_lead(backend: Backend) {
    let app = spawn(backend).await;
    let mut stream = watch_alerts(&app, &supervisor()).await;
    let mut held = Vec::new();
    for n in 0..MIN_COUNT {
        let mut request = submit_request(&format!("小区停水了，一直没有来水（{n}）"), None);
        request.category = "SQ.WYBX".into();
        let ticket = app
            .intake()
            .await
            .submit_ticket(request)
            .await
            .expect("submit")
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(stage(&ticket), pb::Stage::Accepted, "held for the operator");
        held.push(ticket);
    }
    app.advance(Duration::seconds(75));
    let street = loop {
        let alert = next_alert(&mut stream).await;
        if alert.level == "street" {
            break alert;
        }
    };
    assert_eq!(street.incident_id, "", "no call can lead yet: {street:?}");
    // The operator dispatches one; a minute on, the surge is one incident led by it.
    let lead = &held[2];
    app.supervision_as(&operator())
        .await
        .dispatch(pb::DispatchRequest {
            ticket_id: lead.id.clone(),
            expected_version: 0,
            station_id: COMMUNITY_CSS.into(),
            note: String::new(),
        })
        .await
        .expect("dispatch");
    app.advance(Duration::seconds(61));
    let linked = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let alerts = all_alerts(&app).await;
            let incident = alerts
                .iter()
                .find(|a| a.alert_id == street.alert_id)
                .map(|a| a.incident_id.clone())
                .unwrap_or_default();
            if !incident.is_empty() {
                return incident;
            }
            // The detector steps about once a second; ask again after the next.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the surge folded within 30 s of the retry being due");
    assert_eq!(linked, lead.id, "the dispatched call leads");
    // The calls still held stay with the operator (they have no routed matter to join by).
    assert_eq!(stage(&app.get(&held[0].id).await), pb::Stage::Accepted);
}

crate::support::on_both_backends!(
    a_surge_of_held_calls_is_folded_once_a_call_can_lead,
    two_surges_in_one_street_are_each_their_own_incident,
    a_surge_in_a_street_is_one_incident_however_its_callers_word_it,
    a_restarted_router_shows_the_alerts_already_on_under_the_same_ids,
    a_surge_of_submits_raises_one_alert_per_level_then_clears,
    alerts_are_refused_outside_the_callers_scope_and_to_integrators,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotspot_alerts_are_the_same_on_every_replica() {
    let (replicas, _) = TestApp::spawn_replicas(2).await;
    let mut streams = Vec::new();
    for replica in &replicas {
        streams.push(
            kpis_as(replica, &supervisor())
                .await
                .watch_alerts(pb::WatchAlertsRequest { scope: None })
                .await
                .expect("watch")
                .into_inner(),
        );
    }
    // Production's minimum (10 calls), submitted on the first replica only.
    for _ in 0..10 {
        submit_about(&replicas[0], "SQ.WYBX", "320508021019").await;
    }
    replicas[0].advance(Duration::seconds(75));
    let mut seen = Vec::new();
    for stream in &mut streams {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(next_alert(stream).await.alert_id);
        }
        seen.push(ids);
    }
    assert_eq!(
        seen[0], seen[1],
        "both replicas raise the same alerts, same ids"
    );
    assert_eq!(
        sorted(listed(&replicas[1], &supervisor(), None).await),
        sorted(seen[0].clone())
    );
}

#[tokio::test]
async fn a_router_with_an_impossible_hotspot_setting_does_not_start_and_names_the_flag() {
    let dir = hotline_store::testing::TempDir::new();
    let data_dir = dir.path().display().to_string();
    for (flag, value) in [
        ("--hotspot-p-value", "0.9"),
        ("--hotspot-window-seconds", "90"),
        ("--hotspot-min-count", "0"),
    ] {
        let args =
            ServeArgs::parse_from(["--data-dir", data_dir.as_str(), flag, value]).expect("parses");
        let err =
            hotline_router::server::build(&args, Arc::new(ManualClock::new(TestApp::start_time())))
                .await
                .err()
                .expect("refused");
        let message = format!("{err:#}");
        assert!(message.contains(flag), "{flag}: {message}");
    }
}
