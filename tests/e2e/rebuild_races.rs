//! Races between a working-set rebuild and the changes other replicas commit meanwhile, made
//! deterministic with the rebuild's pause points (no sleeps), on every working-set backend:
//! in-process (SQLite), Redis and a Redis Cluster (PostgreSQL).
//!
//! Two engines share one store and one working set, as two replicas do. Replica `a` runs a
//! minute behind (clock skew between machines); replica `b` rebuilds. While `b` holds between
//! its snapshot and its apply, `a` submits a ticket, signs for another and moves a third; after
//! the rebuild each ticket must be on exactly the queue its stage says, with its timers.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use hotline_core::lifecycle::{Action, Actor, Role};
use hotline_core::{
    Caller, Channel, ManualClock, Nature, NewTicket, StaffId, StationId, Ticket, TicketId, Urgency,
};
use hotline_dispatch::{MemoryQueue, MemoryTimers, Queue, RedisQueue, RedisTimers, TimerIndex};
use hotline_router::config::ServeArgs;
use hotline_router::tickets::{Disposition, LeasePolicy};
use hotline_router::working_set::{AuditBudget, PausePoint};
use hotline_router::Hotline;
use hotline_store::TicketStore;

use crate::support::{TestApp, COMMUNITY_CSS, OTHER_CSS, STREET_OFFICE, TRIAGE};

enum Backend {
    InProcess,
    Redis,
    RedisCluster,
}

struct World {
    a: Hotline,
    b: Hotline,
    queue: Arc<dyn Queue>,
    timers: Arc<dyn TimerIndex>,
    prefix: Option<String>,
    _dir: hotline_store::testing::TempDir,
}

async fn world(backend: Backend) -> World {
    let dir = hotline_store::testing::TempDir::new();
    let mut argv = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
    type Duplicates = Arc<dyn hotline_dispatch::DuplicateIndex>;
    let scheme = hotline_routing::minhash::SCHEME;
    let (queue, timers, duplicates, prefix): (Arc<dyn Queue>, Arc<dyn TimerIndex>, Duplicates, _) =
        match backend {
            Backend::InProcess => (
                Arc::new(MemoryQueue::new()),
                Arc::new(MemoryTimers::new()),
                // One index for both replicas, as they share one in-process queue.
                Arc::new(hotline_dispatch::MemoryDuplicates::new()),
                None,
            ),
            Backend::Redis => {
                hotline_dispatch::testing::ensure_redis();
                let url = hotline_store::testing::fresh_postgres_url().await.unwrap();
                argv.extend(["--database-url".to_owned(), url]);
                let prefix = hotline_dispatch::testing::fresh_prefix();
                let redis = hotline_dispatch::testing::redis_url();
                (
                    Arc::new(RedisQueue::connect(&redis, &prefix).await.unwrap()),
                    Arc::new(RedisTimers::connect(&redis, &prefix).await.unwrap()),
                    Arc::new(
                        hotline_dispatch::RedisDuplicates::connect(&redis, &prefix, scheme)
                            .await
                            .unwrap(),
                    ),
                    Some(prefix),
                )
            }
            Backend::RedisCluster => {
                let url = hotline_store::testing::fresh_postgres_url().await.unwrap();
                argv.extend(["--database-url".to_owned(), url]);
                let prefix = hotline_dispatch::testing::fresh_prefix();
                let cluster = hotline_dispatch::testing::cluster_url_for_tests();
                (
                    Arc::new(RedisQueue::connect(&cluster, &prefix).await.unwrap()),
                    Arc::new(RedisTimers::connect(&cluster, &prefix).await.unwrap()),
                    Arc::new(
                        hotline_dispatch::RedisDuplicates::connect(&cluster, &prefix, scheme)
                            .await
                            .unwrap(),
                    ),
                    // (The prefix's keys stay in the test Cluster, as the behaviour suites' do.)
                    None,
                )
            }
        };
    let args = ServeArgs::parse_from(argv).unwrap();
    let store: Arc<dyn TicketStore> = hotline_router::server::open_store(&args).await.unwrap();
    let directory = hotline_router::server::load_directory(&args).unwrap();
    let sla = hotline_router::server::load_sla(&args).unwrap();
    let engine = |clock: ManualClock| {
        Hotline::new(
            store.clone(),
            (queue.clone(), timers.clone(), duplicates.clone()),
            directory.clone(),
            sla.clone(),
            Arc::new(clock),
            LeasePolicy::default(),
            hotline_router::escalation::Settings::default(),
        )
    };
    let now = TestApp::start_time();
    // Replica a's clock is a minute behind replica b's.
    let a = engine(ManualClock::new(now - Duration::seconds(60)));
    let b = engine(ManualClock::new(now));
    b.rebuild_working_set().await.unwrap();
    World {
        a,
        b,
        queue,
        timers,
        prefix,
        _dir: dir,
    }
}

impl World {
    async fn cleanup(self) {
        if let Some(prefix) = &self.prefix {
            hotline_dispatch::testing::flush_prefix(prefix).await;
        }
    }

    /// Every ticket on the stations these tests use, and where.
    async fn queued(&self) -> BTreeMap<TicketId, Vec<String>> {
        let mut seen: BTreeMap<TicketId, Vec<String>> = BTreeMap::new();
        for station in [COMMUNITY_CSS, OTHER_CSS, STREET_OFFICE, TRIAGE] {
            let items = self
                .queue
                .list(&sid(station), TestApp::start_time())
                .await
                .unwrap();
            for item in items {
                seen.entry(item.entry.ticket)
                    .or_default()
                    .push(station.to_owned());
            }
        }
        seen
    }
}

fn sid(raw: &str) -> StationId {
    StationId::parse("station", raw).unwrap()
}

pub(crate) fn operator() -> Actor {
    Actor {
        role: Role::Operator,
        staff: None,
        station: None,
    }
}

fn supervisor() -> Actor {
    Actor {
        role: Role::Supervisor,
        staff: Some(StaffId::parse("staff", "sup-1").unwrap()),
        station: None,
    }
}

fn staff_of(station: &str) -> Actor {
    Actor {
        role: Role::Station,
        staff: Some(StaffId::parse("staff", "li").unwrap()),
        station: Some(sid(station)),
    }
}

pub(crate) fn request(text: &str) -> NewTicket {
    NewTicket {
        request_id: None,
        channel: Channel::Hotline,
        caller: Caller {
            name: "王女士".into(),
            phone: "13912345678".into(),
            ..Default::default()
        },
        text: text.into(),
        address: String::new(),
        location: None,
        kiosk: None,
        category: None,
        nature: Nature::Help,
        urgency: Urgency::Normal,
        division: None,
    }
}

async fn submit_to(engine: &Hotline, text: &str, station: &str) -> Ticket {
    engine
        .submit(
            request(text),
            Disposition::DispatchTo(sid(station)),
            operator(),
        )
        .await
        .unwrap()
        .ticket
}

async fn sign(engine: &Hotline, ticket: &Ticket, station: &str) -> Ticket {
    engine
        .act(
            ticket.id,
            None,
            staff_of(station),
            Action::SignFor {
                resolution_due: None,
                first_contact_due: None,
            },
        )
        .await
        .unwrap()
}

async fn move_to(engine: &Hotline, ticket: &Ticket, station: &str) -> Ticket {
    engine
        .act(
            ticket.id,
            None,
            supervisor(),
            Action::Redispatch {
                station: sid(station),
                sign_for_due: None,
                note: "re-routed".into(),
            },
        )
        .await
        .unwrap()
}

async fn changes_between_snapshot_and_apply_survive_the_rebuild(backend: Backend) {
    let w = world(backend).await;
    let signed_later = submit_to(&w.b, "路灯不亮", COMMUNITY_CSS).await;
    let moved_later = submit_to(&w.b, "井盖缺失", COMMUNITY_CSS).await;

    let paused = w.b.queues().pauses().arm(PausePoint::RebuildAfterSnapshot);
    let rebuild = tokio::spawn({
        let b = w.b.clone();
        async move { b.rebuild_working_set().await }
    });
    paused.reached.await.unwrap();
    // The rebuild has read the store; replica a (a minute behind) changes it now.
    let created = submit_to(&w.a, "小区停水", OTHER_CSS).await;
    let signed = sign(&w.a, &signed_later, COMMUNITY_CSS).await;
    let moved = move_to(&w.a, &moved_later, STREET_OFFICE).await;
    paused.resume.send(()).unwrap();
    rebuild.await.unwrap().unwrap();

    let seen = w.queued().await;
    assert_eq!(seen.get(&created.id), Some(&vec![OTHER_CSS.to_owned()]));
    assert_eq!(seen.get(&moved.id), Some(&vec![STREET_OFFICE.to_owned()]));
    assert_eq!(
        seen.get(&signed.id),
        None,
        "signed for: on no queue ({seen:?})"
    );
    assert_eq!(seen.len(), 2, "nothing extra: {seen:?}");
    // The signed ticket runs its resolution clock now, not its sign-for clock.
    let timers = w.timers.timers_of(signed.id).await.unwrap();
    assert!(!timers.is_empty(), "signed ticket has timers");
    assert!(
        timers
            .iter()
            .all(|t| t.clock != hotline_dispatch::TimerClock::SignFor),
        "{timers:?}"
    );
    assert!(
        !w.b.queues().is_dirty(),
        "caught up and clean after the rebuild"
    );
    w.cleanup().await;
}

/// A rebuild reads the store in pages (here of two tickets): changes replica a commits while
/// `b` is between its first page and the next, to a ticket already read, one not yet read and
/// one new, all end where the store says, and no page is lost (every other ticket is on its
/// queue and filed for duplicate lookups, though none of them changed).
async fn changes_between_pages_survive_a_streamed_rebuild(backend: Backend) {
    let w = world(backend).await;
    let mut before = Vec::new();
    for n in 0..7 {
        before
            .push(submit_filed(&w.b, &format!("第{n}幢门口路灯坏了一个星期"), COMMUNITY_CSS).await);
    }
    before.sort_by_key(|t| t.id);
    w.b.queues().set_rebuild_page(2);

    let paused = w.b.queues().pauses().arm(PausePoint::RebuildBetweenPages);
    let rebuild = tokio::spawn({
        let b = w.b.clone();
        async move { b.rebuild_working_set().await }
    });
    paused.reached.await.unwrap();
    // The first page (the two lowest ids) is read and being filed; the rest are not read.
    let signed = sign(&w.a, &before[0], COMMUNITY_CSS).await;
    let moved = move_to(&w.a, &before[6], STREET_OFFICE).await;
    let created = submit_filed(&w.a, "小区停水两天了", OTHER_CSS).await;
    paused.resume.send(()).unwrap();
    rebuild.await.unwrap().unwrap();

    let seen = w.queued().await;
    assert_eq!(seen.get(&signed.id), None, "signed for: on no queue");
    assert_eq!(seen.get(&moved.id), Some(&vec![STREET_OFFICE.to_owned()]));
    assert_eq!(seen.get(&created.id), Some(&vec![OTHER_CSS.to_owned()]));
    for ticket in &before[1..6] {
        assert_eq!(
            seen.get(&ticket.id),
            Some(&vec![COMMUNITY_CSS.to_owned()]),
            "unchanged ticket {} kept its queue ({seen:?})",
            ticket.id
        );
    }
    assert_eq!(seen.len(), 7, "nothing extra: {seen:?}");
    let all: Vec<TicketId> = before.iter().map(|t| t.id).chain([created.id]).collect();
    let filed = w.b.queues().duplicates().filed(&all).await.unwrap();
    assert_eq!(filed.len(), all.len(), "every open ticket filed: {filed:?}");
    assert!(!w.b.queues().is_dirty(), "caught up and clean");
    w.cleanup().await;
}

/// A ticket with a division and a category (so the duplicate index files it), dispatched.
async fn submit_filed(engine: &Hotline, text: &str, station: &str) -> Ticket {
    let mut new = request(text);
    let division = station.split_once('-').map_or(station, |(code, _)| code);
    new.division = Some(hotline_core::DivisionCode::parse("division", division).unwrap());
    new.category = Some(hotline_core::CategoryCode::parse("category", "SQ.JTBL").unwrap());
    engine
        .submit(new, Disposition::DispatchTo(sid(station)), operator())
        .await
        .unwrap()
        .ticket
}

/// Two replicas' updates for consecutive versions of one ticket land out of order: the older
/// one (delayed) must not have the last word.
async fn an_older_update_landing_late_does_not_win(backend: Backend) {
    let w = world(backend).await;
    let first = submit_to(&w.a, "噪音扰民", COMMUNITY_CSS).await;
    let moved = move_to(&w.b, &first, STREET_OFFICE).await;
    let moved_again = move_to(&w.b, &moved, OTHER_CSS).await;
    // Replica a's update for the first move arrives only now, after b's for the second.
    w.a.queues().follow(&first, &moved).await;

    let seen = w.queued().await;
    assert_eq!(
        seen.get(&moved_again.id),
        Some(&vec![OTHER_CSS.to_owned()]),
        "where the newest version says, and only there: {seen:?}"
    );
    assert!(!w.a.queues().is_dirty());
    w.cleanup().await;
}

/// Drift: a stale queue entry for `signed` (signed for, so on no queue) at its old station.
async fn leave_stale_entry(w: &World, signed: &Ticket) {
    w.queue
        .enqueue(
            hotline_dispatch::QueueEntry {
                ticket: signed.id,
                station: sid(COMMUNITY_CSS),
                urgency: Urgency::Normal,
                due: None,
                enqueued_at: signed.updated_at,
                version: signed.version,
            },
            None,
        )
        .await
        .unwrap();
}

/// The working set drifts (an entry lost, a stale one left, timers dropped) and anti-entropy
/// finds each, re-reads it and repairs it.
async fn anti_entropy_finds_and_repairs_drift(backend: Backend) {
    let w = world(backend).await;
    let lost = submit_to(&w.b, "楼道灯坏", COMMUNITY_CSS).await;
    let signed = submit_to(&w.b, "垃圾未清运", COMMUNITY_CSS).await;
    let signed = sign(&w.b, &signed, COMMUNITY_CSS).await;
    // Drift: the queue loses `lost`, keeps a stale entry for `signed`, and `lost` loses its
    // timers.
    w.queue
        .remove(lost.id, &sid(COMMUNITY_CSS), lost.version)
        .await
        .unwrap();
    leave_stale_entry(&w, &signed).await;
    w.timers.schedule(lost.id, Vec::new()).await.unwrap();

    // An hour later (the changes are older than the grace), audit the whole directory.
    let now = TestApp::start_time() + Duration::hours(1);
    let mut cursor = hotline_router::working_set::AuditCursor::default();
    let stations = w.b.directory().stations().count();
    let drift =
        w.b.queues()
            .audit(
                &mut cursor,
                AuditBudget::stations(stations),
                Duration::seconds(10),
                now,
            )
            .await
            .unwrap();
    assert_eq!((drift.missing, drift.stale), (1, 1), "{drift:?}");
    assert!(drift.timers >= 1, "{drift:?}");

    let seen = w.queued().await;
    assert_eq!(seen.get(&lost.id), Some(&vec![COMMUNITY_CSS.to_owned()]));
    assert_eq!(seen.get(&signed.id), None);
    assert!(!w.timers.timers_of(lost.id).await.unwrap().is_empty());
    let again =
        w.b.queues()
            .audit(
                &mut cursor,
                AuditBudget::stations(stations),
                Duration::seconds(10),
                now,
            )
            .await
            .unwrap();
    assert_eq!(again.total(), 0, "repaired: {again:?}");
    w.cleanup().await;
}

/// A station holding more tickets than a round's budget is audited a page at a time over
/// several rounds, each within its budget, and every drift in it is still found: a missing
/// entry at the end of the station's pages, a stale one, timers dropped.
async fn a_crowded_station_is_audited_a_page_at_a_time(backend: Backend) {
    let w = world(backend).await;
    let mut waiting = Vec::new();
    for n in 0..9 {
        waiting.push(submit_to(&w.b, &format!("楼道灯坏第{n}盏"), COMMUNITY_CSS).await);
    }
    let signed = submit_to(&w.b, "垃圾未清运", COMMUNITY_CSS).await;
    let signed = sign(&w.b, &signed, COMMUNITY_CSS).await;
    waiting.sort_by_key(|t| t.id);
    let (first, last) = (&waiting[0], &waiting[8]);
    for lost in [first, last] {
        w.queue
            .remove(lost.id, &sid(COMMUNITY_CSS), lost.version)
            .await
            .unwrap();
    }
    leave_stale_entry(&w, &signed).await;
    w.timers.schedule(waiting[4].id, Vec::new()).await.unwrap();

    let now = TestApp::start_time() + Duration::hours(1);
    let budget = AuditBudget {
        stations: 10,
        tickets: 3,
    };
    let mut cursor = hotline_router::working_set::AuditCursor::at_station(sid(COMMUNITY_CSS));
    let mut found = hotline_router::working_set::Drift::default();
    let mut rounds = 0;
    while found.stations == 0 {
        let drift =
            w.b.queues()
                .audit(&mut cursor, budget, Duration::seconds(10), now)
                .await
                .unwrap();
        // The store is read within the budget; a queue small enough for Redis to keep as a
        // listpack (at most 128 entries) comes whole in the round that ends the station.
        assert!(
            drift.tickets <= 3 || drift.stations == 1,
            "round {rounds} over budget: {drift:?}"
        );
        found.stations += drift.stations;
        found.tickets += drift.tickets;
        found.missing += drift.missing;
        found.stale += drift.stale;
        found.timers += drift.timers;
        rounds += 1;
        assert!(rounds < 100, "the station's audit ends: {found:?}");
    }
    // 10 stored tickets (9 waiting, 1 in progress), three a round, then 8 queued.
    assert!(rounds >= 4, "{rounds} rounds: {found:?}");
    assert_eq!((found.missing, found.stale), (2, 1), "{found:?}");
    assert!(found.timers >= 1, "{found:?}");

    let seen = w.queued().await;
    for t in &waiting {
        assert_eq!(seen.get(&t.id), Some(&vec![COMMUNITY_CSS.to_owned()]));
    }
    assert_eq!(seen.get(&signed.id), None);
    assert!(!w.timers.timers_of(waiting[4].id).await.unwrap().is_empty());
    w.cleanup().await;
}

/// A change retried after its answer was lost (the commit landed) is answered as the first
/// try was, not ABORTED.
async fn a_retried_action_that_already_landed_is_not_refused(backend: Backend) {
    let w = world(backend).await;
    let ticket = submit_to(&w.b, "路面塌陷", COMMUNITY_CSS).await;
    let sign_for = || Action::SignFor {
        resolution_due: None,
        first_contact_due: None,
    };
    let first =
        w.b.act(
            ticket.id,
            Some(ticket.version),
            staff_of(COMMUNITY_CSS),
            sign_for(),
        )
        .await
        .unwrap();
    let retried =
        w.b.act(
            ticket.id,
            Some(ticket.version),
            staff_of(COMMUNITY_CSS),
            sign_for(),
        )
        .await
        .expect("the retry is answered");
    assert_eq!(retried.version, first.version, "and nothing written twice");
    // Someone else's different decision from the same version is still refused.
    let other =
        w.b.act(
            ticket.id,
            Some(ticket.version),
            staff_of(COMMUNITY_CSS),
            Action::ContactCaller {
                note: String::new(),
            },
        )
        .await;
    assert!(
        matches!(other, Err(hotline_router::RouterError::Conflict(_))),
        "{other:?}"
    );
    w.cleanup().await;
}

macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::InProcess).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Redis).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::RedisCluster).await;
                }
            )+
        }
    };
}

on_every_backend!(
    changes_between_snapshot_and_apply_survive_the_rebuild,
    changes_between_pages_survive_a_streamed_rebuild,
    an_older_update_landing_late_does_not_win,
    anti_entropy_finds_and_repairs_drift,
    a_crowded_station_is_audited_a_page_at_a_time,
    a_retried_action_that_already_landed_is_not_refused,
);
