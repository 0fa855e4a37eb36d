//! Faults seen from outside, with real processes and real sockets: a replica cut off from
//! PostgreSQL and Redis by a TCP proxy and healed, and a private PostgreSQL restarted and
//! crashed under load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hotline_proto::v1 as pb;
use tokio::sync::watch;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use hotline_e2e::proxy::loopback_of;
use hotline_e2e::{OwnPostgres, Proxy};

use crate::support::{submit_request, TestApp, COMMUNITY_CSS};

/// Waits on the health Watch stream until `service` reports `want`, for at most `limit`.
async fn health_becomes(
    app: &TestApp,
    service: &str,
    want: ServingStatus,
    limit: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut client = HealthClient::new(app.channel.clone());
    let mut stream = client
        .watch(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let seen = tokio::time::timeout(limit, async {
        while let Some(update) = stream.message().await.map_err(|e| e.to_string())? {
            if update.status == want as i32 {
                return Ok(started.elapsed());
            }
        }
        Err("health stream ended".to_owned())
    })
    .await;
    match seen {
        Ok(result) => result,
        Err(_) => Err(format!(
            "{service:?} did not become {want:?} within {limit:?}"
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_its_servers_reports_it_and_recovers_within_10_s_of_the_heal() {
    hotline_dispatch::testing::ensure_redis();
    let pg_url = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let redis_url = hotline_dispatch::testing::redis_url();
    let pg = Proxy::start(loopback_of(&pg_url)).await;
    let redis = Proxy::start(loopback_of(&redis_url)).await;
    let prefix = hotline_dispatch::testing::fresh_prefix();
    let argv = vec![
        "--database-url".to_owned(),
        pg.via(&pg_url),
        "--redis-url".to_owned(),
        redis.via(&redis_url),
        "--redis-prefix".to_owned(),
        prefix.clone(),
    ];
    let app =
        TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await;
    app.submit("路灯不亮", Some(COMMUNITY_CSS)).await;
    health_becomes(&app, "", ServingStatus::Serving, Duration::from_secs(10))
        .await
        .unwrap();

    pg.cut();
    redis.cut();
    health_becomes(&app, "", ServingStatus::NotServing, Duration::from_secs(15))
        .await
        .expect("readiness says the store is gone");
    health_becomes(
        &app,
        hotline_router::server::WORKING_SET_HEALTH,
        ServingStatus::NotServing,
        Duration::from_secs(15),
    )
    .await
    .expect("the working set says Redis is gone");
    // Liveness holds: the process is making progress, only its servers are away.
    let live = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: hotline_router::server::LIVENESS_HEALTH.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live.status, ServingStatus::Serving as i32);

    pg.heal();
    redis.heal();
    let took = health_becomes(&app, "", ServingStatus::Serving, Duration::from_secs(10))
        .await
        .expect("ready again within 10 s of the heal");
    health_becomes(
        &app,
        hotline_router::server::WORKING_SET_HEALTH,
        ServingStatus::Serving,
        Duration::from_secs(10) - took,
    )
    .await
    .expect("working set serving again within 10 s of the heal");
    // And it works: a submit after the heal is queued.
    app.submit("井盖缺失", Some(COMMUNITY_CSS)).await;
    hotline_dispatch::testing::flush_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_and_crash_under_load_give_clients_unavailable_never_internal() {
    let pg = OwnPostgres::start();
    let app = TestApp::spawn_with(
        vec!["--database-url".to_owned(), pg.url()],
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;

    const CLIENTS: usize = 8;
    const EACH: usize = 40;
    // How many submits have been acknowledged: the faults are injected at points of progress.
    let (done, progress) = watch::channel(0usize);
    let done = Arc::new(done);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let intake = app.intake().await;
        let done = done.clone();
        clients.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            let mut ids = Vec::new();
            for n in 0..EACH {
                let mut request =
                    submit_request(&format!("第{client}-{n}件：路灯不亮"), Some(COMMUNITY_CSS));
                // Retried with the same request id: the same ticket, never a second one.
                request.request_id = format!("chaos-{client}-{n}");
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match intake.clone().submit_ticket(request.clone()).await {
                        Ok(reply) => {
                            ids.push(reply.into_inner().ticket.unwrap().id);
                            break;
                        }
                        Err(status) => {
                            codes.push((status.code(), status.message().to_owned()));
                            assert!(attempts < 200, "submit never succeeded: {status:?}");
                            // A bounded, real pause between retries, as a client's retry policy
                            // does; nothing waits on it for ordering.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                done.send_modify(|n| *n += 1);
            }
            (codes, ids)
        }));
    }
    let total = CLIENTS * EACH;
    let wait_for = |at: usize| {
        let mut progress = progress.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), progress.wait_for(|n| *n >= at))
                .await
                .expect("load stalled")
                .expect("clients running");
        }
    };
    // A fast restart a quarter of the way in, a crash and recovery at half way.
    wait_for(total / 4).await;
    pg.ctl(&["restart", "-m", "fast", "-w", "-t", "60"]);
    wait_for(total / 2).await;
    pg.ctl(&["stop", "-m", "immediate"]);
    pg.ctl(&["start", "-w", "-t", "60"]);

    let mut codes = Vec::new();
    let mut ids = Vec::new();
    for client in clients {
        let (c, i) = client.await.unwrap();
        codes.extend(c);
        ids.extend(i);
    }
    let internal: Vec<_> = codes
        .iter()
        .filter(|(code, _)| *code == tonic::Code::Internal)
        .collect();
    assert!(internal.is_empty(), "clients saw INTERNAL: {internal:?}");
    assert!(
        codes
            .iter()
            .all(|(code, _)| matches!(code, tonic::Code::Unavailable)),
        "only UNAVAILABLE while PostgreSQL was away: {codes:?}"
    );
    // Every acknowledged submit is stored, once.
    assert_eq!(ids.len(), total);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), total, "a retried submit made a second ticket");
    for id in &ids {
        let ticket = app
            .intake()
            .await
            .get_ticket(pb::GetTicketRequest {
                ticket_id: id.clone(),
                include_history: false,
            })
            .await
            .expect("every acknowledged ticket is there");
        assert!(ticket.into_inner().ticket.is_some());
    }
}
