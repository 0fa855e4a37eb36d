//! What only the Redis backends promise: several router replicas on one Redis and prefix share
//! arrivals and timers, claims stay disjoint under concurrency, and a lost Redis is made whole
//! again by `rebuild`. (The shared behaviour lives in `behaviour.rs` and `timers.rs`.)

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use hotline_dispatch::{
    Queue, QueueEntry, RedisQueue, RedisTimers, Timer, TimerClock, TimerIndex, TimerStep,
};
use support::{ensure_redis, flush_prefix, fresh_prefix, redis_url};
use tokio::net::{TcpListener, TcpStream};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn station(name: &str) -> StationId {
    StationId::parse("s", name).unwrap()
}

fn entry(station_id: &str, urgency: Urgency, due_minutes: Option<i64>) -> QueueEntry {
    QueueEntry {
        ticket: TicketId::new(),
        station: station(station_id),
        urgency,
        due: due_minutes.map(|m| t0() + Duration::minutes(m)),
        enqueued_at: t0() + Duration::nanoseconds(123_456_789),
        version: 1,
    }
}

fn due_timer(ticket: TicketId, step: TimerStep, fire_in_ms: i64) -> Timer {
    Timer::new(
        ticket,
        TimerClock::Resolution,
        step,
        t0() + Duration::milliseconds(fire_in_ms),
        t0() + Duration::hours(8),
    )
}

async fn replicas(n: usize) -> (String, Vec<RedisQueue>) {
    ensure_redis();
    let prefix = fresh_prefix();
    let mut queues = Vec::new();
    for _ in 0..n {
        queues.push(RedisQueue::connect(&redis_url(), &prefix).await.unwrap());
    }
    (prefix, queues)
}

async fn timer_replicas(n: usize) -> (String, Vec<RedisTimers>) {
    ensure_redis();
    let prefix = fresh_prefix();
    let mut timers = Vec::new();
    for _ in 0..n {
        timers.push(RedisTimers::connect(&redis_url(), &prefix).await.unwrap());
    }
    (prefix, timers)
}

#[tokio::test]
async fn an_arrival_enqueued_by_one_replica_reaches_the_subscribers_of_another() {
    let (prefix, queues) = replicas(2).await;
    let mut arrivals = queues[1].subscribe(&station("a-css")).await.unwrap();
    let e = entry("a-css", Urgency::Urgent, Some(30));
    queues[0].enqueue(e.clone(), None).await.unwrap();
    let heard = tokio::time::timeout(StdDuration::from_secs(5), arrivals.recv())
        .await
        .expect("the arrival reaches the other replica within 5 s")
        .unwrap();
    assert_eq!(heard, e);
    // ...and the other replica can claim what it heard about.
    let lease = queues[1]
        .claim(
            &station("a-css"),
            &StaffId::parse("s", "li").unwrap(),
            None,
            t0() + Duration::minutes(2),
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.ticket, e.ticket);
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn a_lease_released_by_one_replica_is_announced_to_the_others() {
    let (prefix, queues) = replicas(2).await;
    let e = entry("a-css", Urgency::Normal, None);
    queues[0].enqueue(e.clone(), None).await.unwrap();
    let until = t0() + Duration::minutes(2);
    queues[0]
        .claim(
            &station("a-css"),
            &StaffId::parse("s", "li").unwrap(),
            None,
            until,
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    let mut arrivals = queues[1].subscribe(&station("a-css")).await.unwrap();
    let released = queues[0]
        .release_expired(until + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(released, vec![e.ticket]);
    let heard = tokio::time::timeout(StdDuration::from_secs(5), async {
        loop {
            // The original arrival may still be in flight to this replica; wait for the release.
            let got = arrivals.recv().await.unwrap();
            if got.ticket == e.ticket {
                break got;
            }
        }
    })
    .await
    .expect("the release reaches the other replica within 5 s");
    assert_eq!(heard, e);
    flush_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_claiming_2000_due_timers_get_disjoint_sets_that_cover_them_all() {
    let (prefix, replicas) = timer_replicas(2).await;
    let mut all = HashSet::new();
    for n in 0..2_000 {
        let ticket = TicketId::new();
        let timer = due_timer(ticket, TimerStep::Breach, n % 500);
        replicas[0]
            .schedule(ticket, vec![timer.clone()])
            .await
            .unwrap();
        all.insert(timer);
    }
    let now = t0() + Duration::seconds(1);
    let claimers = replicas.iter().cloned().map(|index| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = index
                    .claim_due(now, 37, Duration::seconds(60))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        })
    });
    let mut claimed: Vec<Vec<Timer>> = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        claimed.push(claimer.await.unwrap());
    }
    let a: HashSet<Timer> = claimed[0].iter().cloned().collect();
    let b: HashSet<Timer> = claimed[1].iter().cloned().collect();
    assert_eq!(a.len() + b.len(), 2_000, "no timer handed out twice");
    assert!(a.is_disjoint(&b));
    assert_eq!(a.union(&b).cloned().collect::<HashSet<_>>(), all);
    assert_eq!(replicas[1].len().await.unwrap(), 2_000, "all in flight");
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn eight_thousand_timers_due_at_once_are_all_claimed_in_bounded_batches() {
    let (prefix, replicas) = timer_replicas(1).await;
    let index = &replicas[0];
    let timers: Vec<Timer> = (0..8_000)
        .map(|_| due_timer(TicketId::new(), TimerStep::Warning, 0))
        .collect();
    index.rebuild(timers.clone()).await.unwrap();
    assert_eq!(index.next_due().await.unwrap(), Some(t0()));
    let mut claimed = HashSet::new();
    let mut batches = 0;
    loop {
        let batch = index
            .claim_due(t0(), 500, Duration::seconds(60))
            .await
            .unwrap();
        assert!(batch.len() <= 500);
        if batch.is_empty() {
            break;
        }
        batches += 1;
        claimed.extend(batch);
    }
    assert_eq!(batches, 16);
    assert_eq!(claimed, timers.iter().cloned().collect::<HashSet<_>>());
    for timer in &timers {
        index.ack(timer).await.unwrap();
    }
    assert_eq!(index.len().await.unwrap(), 0);
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn timers_are_never_claimed_before_they_are_due_even_among_many() {
    let (prefix, replicas) = timer_replicas(1).await;
    let index = &replicas[0];
    let timers: Vec<Timer> = (0..1_000)
        .map(|n| due_timer(TicketId::new(), TimerStep::Warning, n))
        .collect();
    index.rebuild(timers).await.unwrap();
    let now = t0() + Duration::milliseconds(499);
    let claimed = index
        .claim_due(now, 10_000, Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 500);
    assert!(claimed.iter().all(|t| t.fire_at() <= now));
    assert_eq!(
        index.next_due().await.unwrap(),
        Some(t0() + Duration::milliseconds(500))
    );
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn a_ticket_with_several_timers_keeps_its_record_until_the_last_is_acked() {
    let (prefix, replicas) = timer_replicas(1).await;
    let index = &replicas[0];
    let ticket = TicketId::new();
    let warning = due_timer(ticket, TimerStep::Warning, 0);
    let breach = due_timer(ticket, TimerStep::Breach, 10);
    let widen = Timer::new(
        ticket,
        TimerClock::SignFor,
        TimerStep::Widen,
        t0(),
        t0() + Duration::hours(1),
    );
    index
        .schedule(ticket, vec![warning.clone(), breach.clone(), widen.clone()])
        .await
        .unwrap();
    let first = index
        .claim_due(t0(), 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    for timer in &first {
        index.ack(timer).await.unwrap();
    }
    assert_eq!(index.timers_of(ticket).await.unwrap(), vec![breach.clone()]);
    // A reschedule still replaces what is left, even after some fired.
    index.schedule(ticket, Vec::new()).await.unwrap();
    assert_eq!(index.len().await.unwrap(), 0);
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn a_flushed_prefix_is_complete_again_after_rebuild() {
    let (prefix, queues) = replicas(1).await;
    let queue = &queues[0];
    let entries = vec![
        entry("a-css", Urgency::Normal, Some(60)),
        entry("a-css", Urgency::Critical, None),
        entry("b-css", Urgency::Urgent, Some(5)),
    ];
    for e in &entries {
        queue.enqueue(e.clone(), None).await.unwrap();
    }
    let before_a = queue.list(&station("a-css"), t0()).await.unwrap();
    let before_b = queue.list(&station("b-css"), t0()).await.unwrap();
    let timers = RedisTimers::connect(&redis_url(), &prefix).await.unwrap();
    let all_timers: Vec<Timer> = entries
        .iter()
        .flat_map(|e| {
            [
                due_timer(e.ticket, TimerStep::Warning, 1_000),
                due_timer(e.ticket, TimerStep::Breach, 2_000),
            ]
        })
        .collect();
    for e in &entries {
        let mine: Vec<Timer> = all_timers
            .iter()
            .filter(|t| t.ticket == e.ticket)
            .cloned()
            .collect();
        timers.schedule(e.ticket, mine).await.unwrap();
    }

    // Before any rebuild the working set is not known to be complete.
    assert!(!queue.is_intact().await.unwrap());
    queue.rebuild(entries.clone()).await.unwrap();
    assert!(queue.is_intact().await.unwrap());
    flush_prefix(&prefix).await;
    // A flush is noticed, so the router knows to rebuild.
    assert!(!queue.is_intact().await.unwrap());
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(timers.len().await.unwrap(), 0);

    queue.rebuild(entries.clone()).await.unwrap();
    timers.rebuild(all_timers.clone()).await.unwrap();
    assert_eq!(queue.list(&station("a-css"), t0()).await.unwrap(), before_a);
    assert_eq!(queue.list(&station("b-css"), t0()).await.unwrap(), before_b);
    assert_eq!(timers.len().await.unwrap(), all_timers.len());
    for e in &entries {
        assert_eq!(timers.timers_of(e.ticket).await.unwrap().len(), 2);
    }
    // And it keeps working: a move after the rebuild leaves the ticket on one queue only.
    queue
        .enqueue(
            QueueEntry {
                station: station("b-css"),
                ..entries[0].clone()
            },
            Some(&station("a-css")),
        )
        .await
        .unwrap();
    assert_eq!(queue.list(&station("a-css"), t0()).await.unwrap().len(), 1);
    assert_eq!(queue.list(&station("b-css"), t0()).await.unwrap().len(), 2);
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn connecting_to_a_redis_that_is_not_there_is_unavailable() {
    let err = RedisQueue::connect("redis://127.0.0.1:1/", &fresh_prefix())
        .await
        .unwrap_err();
    assert!(
        matches!(err, hotline_dispatch::QueueError::Unavailable(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_ticket_one_replica_moved_is_removed_by_another() {
    let (prefix, queues) = replicas(2).await;
    let e = entry("a-css", Urgency::Normal, None);
    queues[0].enqueue(e.clone(), None).await.unwrap();
    queues[1]
        .enqueue(
            QueueEntry {
                station: station("b-css"),
                ..e.clone()
            },
            Some(&station("a-css")),
        )
        .await
        .unwrap();
    assert!(queues[0]
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert!(!queues[0]
        .remove(e.ticket, &station("a-css"), 1)
        .await
        .unwrap());
    assert!(queues[0]
        .remove(e.ticket, &station("b-css"), 1)
        .await
        .unwrap());
    assert!(!queues[0]
        .remove(e.ticket, &station("b-css"), 1)
        .await
        .unwrap());
    for s in ["a-css", "b-css"] {
        assert!(queues[1].list(&station(s), t0()).await.unwrap().is_empty());
    }
    flush_prefix(&prefix).await;
}

/// The hash tag of a key as Redis Cluster reads it: what is between the first `{` and the
/// next `}`, if that is not empty.
fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')? + open + 1;
    (close > open + 1).then(|| &key[open + 1..close])
}

#[tokio::test]
async fn every_queue_key_but_the_registry_and_marker_carries_its_stations_hash_tag() {
    let (prefix, queues) = replicas(1).await;
    let queue = &queues[0];
    let (a, b) = (
        entry("a-css", Urgency::Normal, None),
        entry("b-css", Urgency::Urgent, None),
    );
    queue.rebuild(vec![a.clone()]).await.unwrap();
    queue.enqueue(b.clone(), None).await.unwrap();
    let until = t0() + Duration::minutes(2);
    for s in ["a-css", "b-css"] {
        let holder = StaffId::parse("staff", "li").unwrap();
        queue
            .claim(&station(s), &holder, None, until, t0())
            .await
            .unwrap()
            .unwrap();
    }
    let moved = QueueEntry {
        station: station("c-css"),
        ..a.clone()
    };
    queue.enqueue(moved, Some(&station("a-css"))).await.unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 5, "{keys:?}");
    for key in &keys {
        if key == &format!("{prefix}:stations") || key == &format!("{prefix}:built:v5") {
            continue;
        }
        let tag = hash_tag(key).unwrap_or_else(|| panic!("{key} has no hash tag"));
        assert!(
            ["a-css", "b-css", "c-css"].contains(&tag),
            "{key}: tag {tag}"
        );
        assert!(key.starts_with(&format!("{prefix}:q:{{{tag}}}:")), "{key}");
    }
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn a_redis_written_in_the_older_layout_is_not_intact_and_a_rebuild_drops_its_keys() {
    let (prefix, queues) = replicas(1).await;
    let queue = &queues[0];
    // What the previous layout (a station index beside per-station entry hashes) left behind.
    let stale = TicketId::new().as_uuid().simple().to_string();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let old_index = format!("{prefix}:ticket-station");
    let old_entries = format!("{prefix}:q:{{a-css}}:entry");
    // ...and what the one after it (one hash of every ticket, one lease index) left.
    let old_tickets = format!("{prefix}:tickets");
    let old_ready = format!("{prefix}:q:{{c-css}}:ready");
    redis::pipe()
        .cmd("HSET")
        .arg(&old_tickets)
        .arg(&stale)
        .arg("000000001c-css|n||1772442000")
        .cmd("ZADD")
        .arg(&old_ready)
        .arg(1)
        .arg(format!("000000001{stale}"))
        .cmd("ZADD")
        .arg(format!("{prefix}:lease-expiry"))
        .arg(1)
        .arg(&stale)
        .cmd("SET")
        .arg(format!("{prefix}:built:v3"))
        .arg("1")
        .cmd("HSET")
        .arg(&old_index)
        .arg(&stale)
        .arg("a-css")
        .cmd("HSET")
        .arg(&old_entries)
        .arg(&stale)
        .arg("0000000001|n||1772442000")
        .cmd("SET")
        .arg(format!("{prefix}:built:v2"))
        .arg("1")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(!queue.is_intact().await.unwrap());

    let e = entry("b-css", Urgency::Urgent, Some(5));
    queue.rebuild(vec![e.clone()]).await.unwrap();
    assert!(queue.is_intact().await.unwrap());
    let left: usize = redis::cmd("EXISTS")
        .arg(&old_index)
        .arg(&old_entries)
        .arg(format!("{prefix}:built:v2"))
        .arg(&old_tickets)
        .arg(&old_ready)
        .arg(format!("{prefix}:lease-expiry"))
        .arg(format!("{prefix}:built:v3"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "the older layout's keys are gone");
    let listed = queue.list(&station("b-css"), t0()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].entry, e);
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    flush_prefix(&prefix).await;
}

/// A TCP proxy in front of the test Redis that can cut every connection through it and refuse
/// new ones until mended: a lost connection, on demand, without touching the shared server.
struct Cutter {
    url: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Cutter {
    async fn start() -> Self {
        let target_url = redis_url();
        let rest = target_url
            .strip_prefix("redis://")
            .expect("a redis:// test url");
        let (target, db) = rest.split_once('/').unwrap_or((rest, "0"));
        let target = target.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}/{db}", listener.local_addr().unwrap());
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        tokio::spawn({
            let (open, links) = (open.clone(), links.clone());
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !open.load(AtomicOrdering::SeqCst) {
                        continue; // dropped: refused
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let (a, b) = (Arc::new(inbound), Arc::new(outbound));
                        tokio::select! {
                            _ = pump(a.clone(), b.clone()) => {}
                            _ = pump(b, a) => {}
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Self { url, open, links }
    }

    fn cut(&self) {
        self.open.store(false, AtomicOrdering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn mend(&self) {
        self.open.store(true, AtomicOrdering::SeqCst);
    }
}

async fn pump(from: Arc<TcpStream>, to: Arc<TcpStream>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if from.readable().await.is_err() {
            return;
        }
        let n = match from.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut sent = 0;
        while sent < n {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buf[sent..n]) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }
}

#[tokio::test]
async fn a_watcher_that_stays_through_a_lost_connection_hears_what_was_queued_meanwhile() {
    let (prefix, others) = replicas(1).await;
    let cutter = Cutter::start().await;
    let watched = RedisQueue::connect(&cutter.url, &prefix).await.unwrap();
    let mut arrivals = watched.subscribe(&station("a-css")).await.unwrap();

    // Published while the watcher's replica is cut off: Redis drops it for that replica.
    cutter.cut();
    let missed = entry("a-css", Urgency::Urgent, Some(30));
    others[0].enqueue(missed.clone(), None).await.unwrap();
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    cutter.mend();

    // Once subscribed again, the replica re-announces the station's queue.
    let heard = tokio::time::timeout(StdDuration::from_secs(15), arrivals.recv())
        .await
        .expect("re-announced within 15 s")
        .unwrap();
    assert_eq!(heard, missed);
    // And it follows live arrivals again.
    let live = entry("a-css", Urgency::Normal, None);
    others[0].enqueue(live.clone(), None).await.unwrap();
    loop {
        let next = tokio::time::timeout(StdDuration::from_secs(5), arrivals.recv())
            .await
            .expect("a live arrival after the reconnect")
            .unwrap();
        if next == live {
            break;
        }
        assert_eq!(next, missed, "only repeats of the re-announced entry");
    }
    flush_prefix(&prefix).await;
}

#[tokio::test]
async fn a_rebuild_clears_every_station_even_one_missing_from_the_registry() {
    let (prefix, queues) = replicas(1).await;
    let queue = &queues[0];
    let e = entry("x-css", Urgency::Normal, None);
    queue.enqueue(e.clone(), None).await.unwrap();
    // The registry is refreshed lazily; a rebuild must not depend on it.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("DEL")
        .arg(format!("{prefix}:stations"))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    queue.rebuild(Vec::new()).await.unwrap();
    assert!(queue
        .list(&station("x-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert!(!queue.remove(e.ticket, &station("x-css"), 1).await.unwrap());
    flush_prefix(&prefix).await;
}
