//! One behaviour suite for every queue backend (in-process and Redis).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use hotline_dispatch::{Queue, QueueEntry, QueueError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn station(name: &str) -> StationId {
    StationId::parse("s", name).unwrap()
}

fn staff(name: &str) -> StaffId {
    StaffId::parse("staff", name).unwrap()
}

fn entry(station_id: &str, urgency: Urgency, due_minutes: Option<i64>) -> QueueEntry {
    QueueEntry {
        ticket: TicketId::new(),
        station: station(station_id),
        urgency,
        due: due_minutes.map(|m| t0() + Duration::minutes(m)),
        enqueued_at: t0(),
    }
}

pub async fn claims_come_most_urgent_first_then_earliest_deadline<Q: Queue>(queue: Q) {
    let late = entry("a-css", Urgency::Normal, Some(120));
    let early = entry("a-css", Urgency::Normal, Some(30));
    let no_due = entry("a-css", Urgency::Normal, None);
    let urgent = entry("a-css", Urgency::Urgent, Some(600));
    for e in [&late, &no_due, &early, &urgent] {
        queue.enqueue(e.clone()).await.unwrap();
    }
    let listed: Vec<_> = queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.entry.ticket)
        .collect();
    assert_eq!(
        listed,
        vec![urgent.ticket, early.ticket, late.ticket, no_due.ticket]
    );
    let until = t0() + Duration::minutes(2);
    let mut claimed = Vec::new();
    for n in 0..4 {
        let lease = queue
            .claim(
                &station("a-css"),
                &staff(&format!("w{n}")),
                None,
                until,
                t0(),
            )
            .await
            .unwrap()
            .unwrap();
        claimed.push(lease.ticket);
    }
    assert_eq!(claimed, listed);
    assert!(queue
        .claim(&station("a-css"), &staff("w9"), None, until, t0())
        .await
        .unwrap()
        .is_none());
}

pub async fn a_ticket_is_on_at_most_one_queue<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone()).await.unwrap();
    queue.enqueue(e.clone()).await.unwrap();
    let moved = QueueEntry {
        station: station("b-css"),
        ..e.clone()
    };
    queue.enqueue(moved).await.unwrap();
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queue.list(&station("b-css"), t0()).await.unwrap().len(), 1);
}

pub async fn a_live_lease_keeps_others_off_and_expiry_puts_the_ticket_back<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone()).await.unwrap();
    let until = t0() + Duration::seconds(120);
    let lease = queue
        .claim(&station("a-css"), &staff("li"), None, until, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.holder, staff("li"));
    // Someone else asking for that very ticket is told who holds it.
    let err = queue
        .claim(
            &station("a-css"),
            &staff("wang"),
            Some(e.ticket),
            until,
            t0(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Leased { .. }), "{err:?}");
    // The holder may renew.
    queue
        .claim(
            &station("a-css"),
            &staff("li"),
            Some(e.ticket),
            until + Duration::seconds(60),
            t0(),
        )
        .await
        .unwrap();
    // Nothing expires before its time...
    assert!(queue.release_expired(until).await.unwrap().is_empty());
    // ...and after it, the ticket is claimable again.
    let mut arrivals = queue.subscribe();
    let later = until + Duration::seconds(61);
    assert_eq!(queue.release_expired(later).await.unwrap(), vec![e.ticket]);
    assert_eq!(arrivals.recv().await.unwrap().ticket, e.ticket);
    assert!(queue.lease(e.ticket, later).await.unwrap().is_none());
    let again = queue
        .claim(
            &station("a-css"),
            &staff("wang"),
            None,
            later + Duration::seconds(60),
            later,
        )
        .await
        .unwrap();
    assert_eq!(again.unwrap().ticket, e.ticket);
}

pub async fn claiming_a_ticket_of_another_station_is_refused<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone()).await.unwrap();
    let err = queue
        .claim(
            &station("b-css"),
            &staff("li"),
            Some(e.ticket),
            t0() + Duration::minutes(2),
            t0(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::NotQueued(_)), "{err:?}");
}

pub async fn removed_tickets_leave_the_queue_and_their_lease<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone()).await.unwrap();
    queue
        .claim(
            &station("a-css"),
            &staff("li"),
            None,
            t0() + Duration::minutes(2),
            t0(),
        )
        .await
        .unwrap();
    assert!(queue.remove(e.ticket).await.unwrap());
    assert!(!queue.remove(e.ticket).await.unwrap());
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert!(queue.lease(e.ticket, t0()).await.unwrap().is_none());
}

pub async fn rebuild_replaces_the_working_set<Q: Queue>(queue: Q) {
    let stale = entry("a-css", Urgency::Normal, None);
    queue.enqueue(stale.clone()).await.unwrap();
    let fresh = vec![
        entry("a-css", Urgency::Normal, None),
        entry("b-css", Urgency::Urgent, None),
    ];
    queue.rebuild(fresh.clone()).await.unwrap();
    let a: Vec<_> = queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.entry)
        .collect();
    assert_eq!(a, vec![fresh[0].clone()]);
    assert_eq!(queue.list(&station("b-css"), t0()).await.unwrap().len(), 1);
}

pub async fn new_arrivals_are_announced_to_subscribers<Q: Queue>(queue: Q) {
    let mut arrivals = queue.subscribe();
    let e = entry("a-css", Urgency::Critical, Some(30));
    queue.enqueue(e.clone()).await.unwrap();
    assert_eq!(arrivals.recv().await.unwrap(), e);
}

macro_rules! queue_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            queue_suite!(@tests $make;
                claims_come_most_urgent_first_then_earliest_deadline,
                a_ticket_is_on_at_most_one_queue,
                a_live_lease_keeps_others_off_and_expiry_puts_the_ticket_back,
                claiming_a_ticket_of_another_station_is_refused,
                removed_tickets_leave_the_queue_and_their_lease,
                rebuild_replaces_the_working_set,
                new_arrivals_are_announced_to_subscribers,
            );
        }
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$name($make).await;
            }
        )+
    };
}

queue_suite!(memory, hotline_dispatch::MemoryQueue::new());
// A fresh key prefix per test: the Redis tests run in parallel on one server.
queue_suite!(redis, crate::support::redis_queue().await);
