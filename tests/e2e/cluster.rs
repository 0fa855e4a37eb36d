//! The working set on a real Redis Cluster (3 primaries, 3 replicas, started by the test on
//! free ports) that loses a primary under load: a replica is promoted, and once the routers'
//! repair and anti-entropy have run, every acknowledged ticket is on exactly the queue its
//! stage says, with its timers. Writes the dead primary acknowledged but had not yet passed on
//! may be lost from Redis (its replication is asynchronous); the store has them, and the
//! working set is rebuilt from the store, so no ticket is.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Duration;
use hotline_core::lifecycle::{Action, Actor, Role};
use hotline_core::{ManualClock, StaffId, Stage, StationId, Ticket, TicketId};
use hotline_directory::StationKind;
use hotline_dispatch::testing::LocalCluster;
use hotline_dispatch::{Queue, RedisQueue, RedisTimers, TimerIndex};
use hotline_router::config::ServeArgs;
use hotline_router::tickets::{Disposition, LeasePolicy};
use hotline_router::working_set::AuditBudget;
use hotline_router::Hotline;
use hotline_store::TicketStore;
use tokio::sync::watch;

use crate::rebuild_races::{operator, request};
use crate::support::TestApp;

/// Tickets submitted in all; the primary dies after a quarter of them.
const TICKETS: usize = 240;
const WORKERS: usize = 6;

fn staff_of(station: &StationId) -> Actor {
    Actor {
        role: Role::Station,
        staff: Some(StaffId::parse("staff", "li").unwrap()),
        station: Some(station.clone()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_under_load_is_failed_over_and_no_ticket_is_lost() {
    // A silent primary is failed over after about a second.
    let mut cluster = tokio::task::spawn_blocking(|| LocalCluster::start(3, 1000))
        .await
        .unwrap();
    let prefix = hotline_dispatch::testing::fresh_prefix();
    let dir = hotline_store::testing::TempDir::new();
    let database = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let args = ServeArgs::parse_from(vec![
        "--data-dir".to_owned(),
        dir.path().display().to_string(),
        "--database-url".to_owned(),
        database,
    ])
    .unwrap();
    let store: Arc<dyn TicketStore> = hotline_router::server::open_store(&args).await.unwrap();
    let directory = hotline_router::server::load_directory(&args).unwrap();
    let sla = hotline_router::server::load_sla(&args).unwrap();
    // Two replicas, each with its own connections to the Cluster.
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let queue: Arc<dyn Queue> =
            Arc::new(RedisQueue::connect(&cluster.url(), &prefix).await.unwrap());
        let timers: Arc<dyn TimerIndex> =
            Arc::new(RedisTimers::connect(&cluster.url(), &prefix).await.unwrap());
        let duplicates: Arc<dyn hotline_dispatch::DuplicateIndex> = Arc::new(
            hotline_dispatch::RedisDuplicates::connect(
                &cluster.url(),
                &prefix,
                hotline_routing::minhash::SCHEME,
            )
            .await
            .unwrap(),
        );
        replicas.push(Hotline::new(
            store.clone(),
            (queue, timers, duplicates),
            directory.clone(),
            sla.clone(),
            Arc::new(ManualClock::new(TestApp::start_time())),
            LeasePolicy::default(),
            hotline_router::escalation::Settings::default(),
        ));
    }
    replicas[0].rebuild_working_set().await.unwrap();
    let stations: Vec<StationId> = directory
        .stations()
        .filter(|s| s.kind == StationKind::CommunityService)
        .take(24)
        .map(|s| s.id.clone())
        .collect();

    // The primary to kill: the one holding the timer index (every ticket's timers live there),
    // which also serves some of the stations.
    let victim = cluster.primary_of(&format!("{{{prefix}}}"));

    let (progress, mut watched) = watch::channel(0usize);
    let progress = Arc::new(progress);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let engine = replicas[w % replicas.len()].clone();
        let (stations, next, progress) = (stations.clone(), next.clone(), progress.clone());
        workers.push(tokio::spawn(async move {
            let mut acknowledged: Vec<Ticket> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TICKETS {
                    return acknowledged;
                }
                let station = &stations[i % stations.len()];
                let submitted = engine
                    .submit(
                        request(&format!("第{i}号：楼道灯坏了")),
                        Disposition::DispatchTo(station.clone()),
                        operator(),
                    )
                    .await
                    .expect("the store takes every submit, whatever Redis does")
                    .ticket;
                // Every third one is signed for at once (taken off its queue).
                let ticket = if i % 3 == 0 {
                    engine
                        .act(
                            submitted.id,
                            None,
                            staff_of(station),
                            Action::SignFor {
                                resolution_due: None,
                                first_contact_due: None,
                            },
                        )
                        .await
                        .expect("sign-for")
                } else {
                    submitted
                };
                acknowledged.push(ticket);
                progress.send_modify(|done| *done += 1);
            }
        }));
    }
    // A quarter in, the primary dies (the load goes on through the failover).
    watched.wait_for(|done| *done >= TICKETS / 4).await.unwrap();
    cluster.kill(victim);
    let mut acknowledged: Vec<Ticket> = Vec::new();
    for worker in workers {
        acknowledged.extend(worker.await.unwrap());
    }
    assert_eq!(acknowledged.len(), TICKETS);
    // The Cluster healed on its own: a replica took over the dead primary's slots.
    let cluster = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cluster.failed_over(victim) {
            assert!(
                std::time::Instant::now() < deadline,
                "no replica took over from the killed primary within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        cluster
    })
    .await
    .unwrap();

    // The routers repair what failed, then anti-entropy compares every station with the store
    // (an hour on, so nothing counts as in flight).
    for engine in &replicas {
        engine.repair_working_set().await.unwrap();
    }
    let now = TestApp::start_time() + Duration::hours(1);
    let mut cursor = hotline_router::working_set::AuditCursor::default();
    let count = directory.stations().count();
    let drift = replicas[0]
        .queues()
        .audit(
            &mut cursor,
            AuditBudget::stations(count),
            Duration::seconds(10),
            now,
        )
        .await
        .unwrap();
    eprintln!("after the failover, anti-entropy repaired: {drift:?}");
    let again = replicas[1]
        .queues()
        .audit(
            &mut cursor,
            AuditBudget::stations(count),
            Duration::seconds(10),
            now,
        )
        .await
        .unwrap();
    assert_eq!(again.total(), 0, "still drifting after a repair: {again:?}");

    // Every acknowledged ticket is where its stage says, and nowhere else, with its timers.
    let queue = RedisQueue::connect(&cluster.url(), &prefix).await.unwrap();
    let timers = RedisTimers::connect(&cluster.url(), &prefix).await.unwrap();
    let mut seen: BTreeMap<TicketId, Vec<StationId>> = BTreeMap::new();
    for station in &stations {
        for item in queue.list(station, now).await.unwrap() {
            seen.entry(item.entry.ticket)
                .or_default()
                .push(station.clone());
        }
    }
    let ids: HashSet<TicketId> = acknowledged.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), TICKETS, "every submit made its own ticket");
    for ticket in &acknowledged {
        let stored = store.get(ticket.id).await.unwrap().expect("stored");
        assert_eq!(stored.stage, ticket.stage, "{}", ticket.id);
        let expected: Vec<StationId> = match stored.stage {
            Stage::AwaitingSignFor => vec![stored.queued_station().unwrap().clone()],
            _ => Vec::new(),
        };
        assert_eq!(
            seen.get(&ticket.id).cloned().unwrap_or_default(),
            expected,
            "ticket {} ({:?})",
            ticket.id,
            stored.stage
        );
        assert!(
            !timers.timers_of(ticket.id).await.unwrap().is_empty(),
            "ticket {} has no timers",
            ticket.id
        );
    }
    assert!(seen.keys().all(|id| ids.contains(id)), "a stranger queued");
    drop(cluster);
}
