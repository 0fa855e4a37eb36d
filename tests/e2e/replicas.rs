//! Several routers over one PostgreSQL and one Redis: shared queues, live push across
//! replicas, each deadline escalated exactly once, a dead replica's timers taken over, a flushed
//! Redis rebuilt complete, and an unreachable Redis losing nothing.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hotline_core::{StationId, TicketId};
use hotline_e2e::{free_port, OwnRedis};
use hotline_proto::v1 as pb;

use crate::support::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
}

/// Signs for and reaches the caller, so only the resolution clock runs.
async fn sign(app: &TestApp, id: &str) {
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: id.into(),
            expected_version: 0,
        })
        .await
        .expect("sign for");
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .contact_caller(pb::ContactCallerRequest {
            ticket_id: id.into(),
            expected_version: 0,
            note: String::new(),
        })
        .await
        .expect("contact the caller");
}

/// Submits a request the router cannot place, so it lands in centre triage; returns its id.
async fn submit_unsure(app: &TestApp) -> String {
    let mut r = submit_request("你好", None);
    r.hold = false;
    app.intake()
        .await
        .submit_ticket(r)
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
        .id
}

/// Every flag event of a ticket, by flag.
fn flag_counts(t: &pb::Ticket) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for e in t.events.iter().filter(|e| e.kind == "flag") {
        let detail: serde_json::Value = serde_json::from_str(&e.detail_json).unwrap();
        *counts
            .entry(detail["flag"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_submitted_on_one_replica_is_pushed_to_watchers_on_another() {
    let (replicas, _) = TestApp::spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut stream = b
        .station_as(&supervisor())
        .await
        .watch_queue(pb::WatchQueueRequest {
            station_id: COMMUNITY_CSS.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let t = a.submit("沧浪亭社区路灯坏了", Some(COMMUNITY_CSS)).await;
    let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("pushed within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(item.ticket_id, t.id);
    // A watcher that reconnects gets the queue as it is first: nothing is missed.
    drop(stream);
    let mut again = a
        .station_as(&supervisor())
        .await
        .watch_queue(pb::WatchQueueRequest {
            station_id: COMMUNITY_CSS.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = again.next().await.unwrap().unwrap();
    assert_eq!(first.ticket_id, t.id);
    // And a claim on one replica holds on the other.
    let claimed = b
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: String::new(),
            lease_seconds: 60,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claimed.ticket.unwrap().id, t.id);
    let nothing = a
        .station_as(&staff(COMMUNITY_CSS, "wang"))
        .await
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: String::new(),
            lease_seconds: 60,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(nothing.ticket.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_deadline_escalates_exactly_once_across_two_replicas() {
    let (replicas, _) = TestApp::spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut ids = Vec::new();
    for n in 0..12 {
        let t = a
            .submit(&format!("第{n}件：小区围墙开裂"), Some(COMMUNITY_CSS))
            .await;
        sign(if n % 2 == 0 { a } else { b }, &t.id).await;
        ids.push(t.id);
    }
    // Past every step of the chain (publish is 5 working days after Mon 9 March 17:30).
    a.clock.set(at("2026-03-17T02:00:00Z"));
    let (fired_a, fired_b) = tokio::join!(a.fire_timers(), b.fire_timers());
    assert_eq!(
        fired_a + fired_b,
        ids.len() * 5,
        "5 escalations per ticket, shared out"
    );
    for id in &ids {
        let t = a.get(id).await;
        let counts = flag_counts(&t);
        for flag in ["warning", "overdue", "urged", "supervised", "published"] {
            assert_eq!(counts.get(flag), Some(&1), "{id}: {flag} in {counts:?}");
        }
        assert_eq!(t.urge_count, 1);
    }
    // Nothing is left to fire on either.
    assert_eq!(a.fire_timers().await + b.fire_timers().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_replica_dies_holding_timers_the_other_carries_on() {
    let (mut replicas, _) = TestApp::spawn_replicas(2).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let t = replicas[0]
            .submit(&format!("第{n}件：垃圾桶满溢"), Some(COMMUNITY_CSS))
            .await;
        ids.push(t.id);
    }
    // Sign-for due 11:00. Replica A claims the due timers and dies before doing anything.
    let now = at("2026-03-02T03:00:00Z");
    replicas[0].clock.set(now);
    let engine = replicas[0].hotline.clone().unwrap();
    let claimed = engine
        .queues()
        .timers()
        .claim_due(now, 1_000, chrono::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        ids.len() * 2,
        "warning and breach per ticket"
    );
    replicas[0].kill().await;
    drop(engine);
    let b = &replicas[1];
    // While A's claim holds, B does not fire them...
    assert_eq!(b.fire_timers().await, 0);
    // ...and once it runs out, B does, once each.
    b.advance(chrono::Duration::seconds(31));
    assert_eq!(b.fire_timers().await, ids.len() * 2);
    for id in &ids {
        let counts = flag_counts(&b.get(id).await);
        assert_eq!(
            (counts.get("warning"), counts.get("overdue")),
            (Some(&1), Some(&1)),
            "{counts:?}"
        );
    }
    // B still serves the whole lifecycle.
    sign(b, &ids[0]).await;
}

/// The station each live ticket is queued on, across the stations involved.
async fn queued_on(app: &TestApp, stations: &[&str]) -> HashMap<String, Vec<String>> {
    let engine = app.hotline.clone().unwrap();
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for station in stations {
        let items = engine
            .queues()
            .queue()
            .list(&StationId::parse("s", station).unwrap(), app.clock_now())
            .await
            .unwrap();
        for item in items {
            seen.entry(item.entry.ticket.to_string())
                .or_default()
                .push(station.to_string());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_is_rebuilt_with_every_open_ticket_on_exactly_one_queue() {
    let (replicas, prefix) = TestApp::spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut waiting = Vec::new();
    let mut signed = Vec::new();
    for n in 0..20 {
        let app = if n % 2 == 0 { a } else { b };
        let t = app
            .submit(&format!("第{n}件：路灯不亮"), Some(COMMUNITY_CSS))
            .await;
        if n % 3 == 0 {
            sign(app, &t.id).await;
            signed.push(t.id);
        } else {
            waiting.push(t.id);
        }
    }
    let triaged = submit_unsure(a).await;

    // Redis loses everything while both replicas keep taking requests.
    let flush = hotline_dispatch::testing::flush_prefix(&prefix);
    let load = async {
        let mut more = Vec::new();
        for n in 0..10 {
            let app = if n % 2 == 0 { a } else { b };
            more.push(
                app.submit(&format!("第{n}件（续）：井盖缺失"), Some(OTHER_CSS))
                    .await
                    .id,
            );
        }
        more
    };
    let ((), more) = tokio::join!(flush, load);

    // A replica notices and rebuilds from PostgreSQL: this call, or either replica's own
    // repair loop (every second) if it got there first on a busy machine. Whichever did, a
    // second look finds nothing left to repair, and the queues below prove the rebuild: after
    // the flush they were empty.
    let engine = a.hotline.clone().unwrap();
    engine.repair_working_set().await.unwrap();
    assert!(
        !engine.repair_working_set().await.unwrap(),
        "repaired once: nothing left to repair"
    );

    let seen = queued_on(b, &[COMMUNITY_CSS, OTHER_CSS, TRIAGE]).await;
    for id in waiting.iter() {
        assert_eq!(seen.get(id), Some(&vec![COMMUNITY_CSS.to_owned()]), "{id}");
    }
    for id in more.iter() {
        assert_eq!(seen.get(id), Some(&vec![OTHER_CSS.to_owned()]), "{id}");
    }
    assert_eq!(seen.get(&triaged), Some(&vec![TRIAGE.to_owned()]));
    for id in signed.iter() {
        assert!(
            !seen.contains_key(id),
            "{id} was signed for and is on no queue"
        );
    }
    assert_eq!(
        seen.len(),
        waiting.len() + more.len() + 1,
        "nothing extra, nothing twice"
    );
    // Every open ticket has its timers again.
    for id in waiting.iter().chain(more.iter()).chain(signed.iter()) {
        let timers = engine
            .queues()
            .timers()
            .timers_of(TicketId::parse("t", id).unwrap())
            .await
            .unwrap();
        assert!(!timers.is_empty(), "{id} has no timers after the rebuild");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_submits_still_commit_and_are_queued_once_it_is_back() {
    let mut redis = OwnRedis::start_on(free_port());
    let url = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let argv = vec![
        "--database-url".to_owned(),
        url,
        "--redis-url".to_owned(),
        format!("redis://127.0.0.1:{}/0", redis.port),
    ];
    let app =
        TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await;
    let before = app.submit("路灯不亮", Some(COMMUNITY_CSS)).await;

    redis.stop();
    // The ticket is committed to PostgreSQL even though it cannot be queued now.
    let during = app.submit("井盖缺失", Some(COMMUNITY_CSS)).await;
    assert_eq!(
        stage(&app.get(&during.id).await),
        pb::Stage::AwaitingSignFor
    );
    // The station still takes its ticket: a claim is advisory, and the store lets one
    // sign-for through whatever the working set does.
    let signed = app
        .station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .sign_for(pb::SignForRequest {
            ticket_id: before.id.clone(),
            expected_version: 0,
        })
        .await
        .expect("sign for with Redis down")
        .into_inner();
    assert_eq!(
        stage(signed.ticket.as_ref().unwrap()),
        pb::Stage::InProgress
    );
    let engine = app.hotline.clone().unwrap();
    assert!(
        engine.queues().is_dirty(),
        "the missed update is remembered"
    );
    assert!(
        engine.repair_working_set().await.is_err(),
        "no repair while Redis is down"
    );

    // Redis comes back (empty, as a restarted Redis without persistence does).
    let _redis = OwnRedis::start_on(redis.port);
    let mut repaired = false;
    for _ in 0..50 {
        // The connection manager reconnects on its own schedule: retry, bounded.
        if engine.repair_working_set().await.is_ok() {
            repaired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(repaired, "the working set is rebuilt once Redis answers");
    let seen = queued_on(&app, &[COMMUNITY_CSS]).await;
    assert_eq!(
        seen.get(&before.id),
        None,
        "signed for while Redis was down"
    );
    assert_eq!(seen.get(&during.id), Some(&vec![COMMUNITY_CSS.to_owned()]));
    assert_eq!(seen.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_dispatched_by_one_replica_moves_off_the_queue_another_put_it_on() {
    let (replicas, prefix) = TestApp::spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    // Replica a routes an unsure request to centre triage...
    let id = submit_unsure(a).await;
    let stations = [COMMUNITY_CSS, OTHER_CSS, TRIAGE];
    assert_eq!(
        queued_on(b, &stations).await.get(&id),
        Some(&vec![TRIAGE.to_owned()])
    );
    // ...and replica b dispatches it: one move, from triage's keys to the station's.
    b.supervision_as(&operator())
        .await
        .dispatch(pb::DispatchRequest {
            ticket_id: id.clone(),
            expected_version: 0,
            station_id: OTHER_CSS.into(),
            note: String::new(),
        })
        .await
        .expect("dispatch");
    let seen = queued_on(a, &stations).await;
    assert_eq!(seen.get(&id), Some(&vec![OTHER_CSS.to_owned()]));
    assert_eq!(seen.len(), 1, "{seen:?}");
    hotline_dispatch::testing::flush_prefix(&prefix).await;
}
