//! The supervision figures over gRPC: a district supervisor reads their district's KPIs after
//! tickets go through, sees an overdue ticket in the at-risk list, watches events live, and is
//! refused what lies outside their scope.

use chrono::Duration;
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_client::KpisClient;
use tonic::Code;

use crate::support::*;

async fn kpis_as(app: &TestApp, who: &Who) -> KpisClient<Authed> {
    KpisClient::new(app.authed(who).await)
}

fn gusu() -> Who {
    supervisor_of("320508", "sup-gusu")
}

fn division(code: &str) -> Option<pb::KpiScope> {
    Some(pb::KpiScope {
        division_code: code.into(),
        ..Default::default()
    })
}

async fn sign(app: &TestApp, id: &str) {
    let who = staff(COMMUNITY_CSS, "wang");
    let claimed = app
        .station_as(&who)
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: id.into(),
            lease_seconds: 0,
        })
        .await
        .expect("claim")
        .into_inner();
    app.station_as(&who)
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: id.into(),
            expected_version: claimed.ticket.unwrap().version,
        })
        .await
        .expect("sign for");
}

async fn figures_and_at_risk(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signed = app.submit("沧浪亭社区路灯不亮", Some(COMMUNITY_CSS)).await;
    sign(&app, &signed.id).await;
    let waiting = app
        .submit("沧浪亭社区垃圾未清运", Some(COMMUNITY_CSS))
        .await;
    // Another district's ticket: never in 姑苏区's figures.
    app.submit("吴中区某社区噪音扰民", Some(OTHER_CSS)).await;

    let start = app.clock_now();
    let report = kpis_as(&app, &gusu())
        .await
        .get_kpis(pb::GetKpisRequest {
            scope: division("320508"),
            from: (start - Duration::hours(1)).to_rfc3339(),
            to: (start + Duration::hours(2)).to_rfc3339(),
            group_by: pb::KpiGroupBy::Station as i32,
        })
        .await
        .expect("a district supervisor reads their district")
        .into_inner();
    let total = report.total.unwrap();
    assert_eq!(total.dispatched, 2);
    let on_time = total.sign_for_on_time.unwrap();
    assert_eq!((on_time.numerator, on_time.denominator), (1, 2));
    let css = report
        .rows
        .iter()
        .find(|r| r.key == COMMUNITY_CSS)
        .expect("a row for the community station");
    assert!(css.label.contains("社区"), "{}", css.label);
    assert_eq!(report.overdue_now, 0);
    let stages: Vec<(&str, u64)> = report
        .backlog_by_stage
        .iter()
        .map(|b| (b.band.as_str(), b.tickets))
        .collect();
    assert_eq!(stages, vec![("awaiting_sign_for", 1), ("in_progress", 1)]);

    // A week later the unsigned ticket is overdue, and first on the at-risk list.
    app.advance(Duration::days(7));
    let at_risk = kpis_as(&app, &gusu())
        .await
        .list_at_risk(pb::ListAtRiskRequest {
            scope: None,
            limit: 10,
        })
        .await
        .expect("at risk")
        .into_inner()
        .tickets;
    let first = at_risk.first().expect("the overdue ticket");
    assert_eq!(first.ticket_id, waiting.id);
    assert!(first.overdue && first.clock == "sign_for" && first.seconds_left < 0);
    assert!(
        at_risk.iter().all(|t| t.station_id.starts_with("320508")),
        "nothing from another district: {at_risk:?}"
    );
    let now = kpis_as(&app, &gusu())
        .await
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .expect("today in the caller's own scope")
        .into_inner();
    assert!(now.overdue_now >= 1);

    // Station staff see their own station only.
    let css_staff = kpis_as(&app, &staff(COMMUNITY_CSS, "wang")).await;
    let own = css_staff
        .clone()
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .expect("own station")
        .into_inner();
    assert!(own.total.is_some());
    let err = css_staff
        .clone()
        .get_kpis(pb::GetKpisRequest {
            scope: Some(pb::KpiScope {
                station_id: STREET_OFFICE.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

async fn bad_requests_get_clear_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = kpis_as(&app, &gusu()).await;
    let start = app.clock_now();
    let cases: Vec<(pb::GetKpisRequest, Code, &str)> = vec![
        (
            pb::GetKpisRequest {
                scope: division("320505"),
                ..Default::default()
            },
            Code::PermissionDenied,
            "320505",
        ),
        (
            pb::GetKpisRequest {
                scope: Some(pb::KpiScope {
                    station_id: "320508999999-css".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Code::NotFound,
            "320508999999-css",
        ),
        (
            pb::GetKpisRequest {
                scope: division("320508999"),
                ..Default::default()
            },
            Code::NotFound,
            "320508999",
        ),
        (
            pb::GetKpisRequest {
                from: start.to_rfc3339(),
                to: (start - Duration::days(1)).to_rfc3339(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "before it starts",
        ),
        (
            pb::GetKpisRequest {
                from: (start - Duration::days(3_000)).to_rfc3339(),
                to: start.to_rfc3339(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "kept for",
        ),
        (
            pb::GetKpisRequest {
                from: "last tuesday".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "RFC 3339",
        ),
    ];
    for (request, code, says) in cases {
        let err = client.get_kpis(request.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{request:?}: {err:?}");
        assert!(
            err.message().contains(says),
            "{request:?}: {}",
            err.message()
        );
    }
    // A year without a published holiday notice is named in the answer.
    let next_year = kpis_as(&app, &gusu())
        .await
        .get_kpis(pb::GetKpisRequest {
            from: "2027-01-01T00:00:00+08:00".into(),
            to: "2027-01-02T00:00:00+08:00".into(),
            ..Default::default()
        })
        .await
        .expect("a period in 2027")
        .into_inner();
    assert!(next_year.note.contains("2027"), "{}", next_year.note);
    // Integrators do not read figures.
    let err = kpis_as(&app, &integrator("portal"))
        .await
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn events_stream_live_within_the_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stream = kpis_as(&app, &gusu())
        .await
        .watch_events(pb::WatchEventsRequest {
            scope: division("320508"),
        })
        .await
        .expect("watch")
        .into_inner();
    // Outside the scope first, then inside: the first notice must be the inside one.
    app.submit("吴中区某社区噪音扰民", Some(OTHER_CSS)).await;
    let inside = app.submit("沧浪亭社区路灯不亮", Some(COMMUNITY_CSS)).await;
    let notice = tokio::time::timeout(std::time::Duration::from_secs(30), stream.message())
        .await
        .expect("a notice within 30 s")
        .expect("stream ok")
        .expect("stream open");
    assert_eq!(notice.ticket_id, inside.id);
    assert_eq!(notice.kind, "submit");
    assert_eq!(notice.station_id, COMMUNITY_CSS);
    // Its dispatch follows.
    let mut kinds = vec![notice.kind];
    while !kinds.iter().any(|k| k == "dispatch") {
        let next = tokio::time::timeout(std::time::Duration::from_secs(30), stream.message())
            .await
            .expect("the dispatch within 30 s")
            .unwrap()
            .unwrap();
        assert_eq!(next.ticket_id, inside.id);
        kinds.push(next.kind);
    }
}

crate::support::on_both_backends!(
    figures_and_at_risk,
    bad_requests_get_clear_errors,
    events_stream_live_within_the_scope,
);
