//! One behaviour suite for every queue backend (in-process and Redis).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use hotline_dispatch::{Queue, QueueEntry, QueueError, ScanCursor};

/// The next arrival on `arrivals`, or a failure naming what was awaited: a broken announcement
/// must fail the test, not hang it (Redis delivers within milliseconds; the bound is generous).
async fn next_arrival(
    arrivals: &mut tokio::sync::broadcast::Receiver<QueueEntry>,
    awaited: &str,
) -> QueueEntry {
    tokio::time::timeout(std::time::Duration::from_secs(10), arrivals.recv())
        .await
        .unwrap_or_else(|_| panic!("no arrival within 10 s: {awaited}"))
        .unwrap_or_else(|err| panic!("arrivals channel failed while awaiting {awaited}: {err}"))
}

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
        version: 1,
    }
}

pub async fn claims_come_most_urgent_first_then_earliest_deadline<Q: Queue>(queue: Q) {
    let late = entry("a-css", Urgency::Normal, Some(120));
    let early = entry("a-css", Urgency::Normal, Some(30));
    let no_due = entry("a-css", Urgency::Normal, None);
    let urgent = entry("a-css", Urgency::Urgent, Some(600));
    for e in [&late, &no_due, &early, &urgent] {
        queue.enqueue(e.clone(), None).await.unwrap();
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
        // Claimed tickets keep their place in the listing, with their lease.
        let now_listed = queue.list(&station("a-css"), t0()).await.unwrap();
        let order: Vec<TicketId> = now_listed.iter().map(|i| i.entry.ticket).collect();
        assert_eq!(order, listed, "after claim {n}");
        let leased = now_listed.iter().filter(|i| i.lease.is_some()).count();
        assert_eq!(leased, n + 1);
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
    queue.enqueue(e.clone(), None).await.unwrap();
    queue.enqueue(e.clone(), None).await.unwrap();
    let moved = QueueEntry {
        station: station("b-css"),
        ..e.clone()
    };
    queue.enqueue(moved, Some(&station("a-css"))).await.unwrap();
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queue.list(&station("b-css"), t0()).await.unwrap().len(), 1);
}

pub async fn a_live_lease_keeps_others_off_and_expiry_puts_the_ticket_back<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone(), None).await.unwrap();
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
    let mut arrivals = queue.subscribe(&station("a-css")).await.unwrap();
    let later = until + Duration::seconds(61);
    assert_eq!(queue.release_expired(later).await.unwrap(), vec![e.ticket]);
    assert_eq!(
        next_arrival(&mut arrivals, "the released ticket")
            .await
            .ticket,
        e.ticket
    );
    assert!(queue
        .lease(e.ticket, &station("a-css"), later)
        .await
        .unwrap()
        .is_none());
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
    queue.enqueue(e.clone(), None).await.unwrap();
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
    queue.enqueue(e.clone(), None).await.unwrap();
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
    assert!(queue
        .remove(e.ticket, &station("a-css"), e.version)
        .await
        .unwrap());
    assert!(!queue
        .remove(e.ticket, &station("a-css"), e.version)
        .await
        .unwrap());
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
    assert!(queue
        .lease(e.ticket, &station("a-css"), t0())
        .await
        .unwrap()
        .is_none());
}

pub async fn rebuild_replaces_the_working_set<Q: Queue>(queue: Q) {
    let stale = entry("a-css", Urgency::Normal, None);
    queue.enqueue(stale.clone(), None).await.unwrap();
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

/// The entries of `station`'s queue, in order.
async fn entries_of<Q: Queue>(queue: &Q, name: &str) -> Vec<QueueEntry> {
    queue
        .list(&station(name), t0())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.entry)
        .collect()
}

pub async fn updates_landing_out_of_order_leave_the_newest_in_place<Q: Queue>(queue: Q) {
    // Version 2 (urgent) lands first; version 1 (normal) arrives late: it changes nothing.
    let v1 = entry("a-css", Urgency::Normal, None);
    let v2 = QueueEntry {
        urgency: Urgency::Urgent,
        version: 2,
        ..v1.clone()
    };
    queue.enqueue(v2.clone(), None).await.unwrap();
    queue.enqueue(v1.clone(), None).await.unwrap();
    assert_eq!(entries_of(&queue, "a-css").await, vec![v2.clone()]);
    // A late removal as of version 1 leaves version 2's entry.
    assert!(!queue.remove(v1.ticket, &station("a-css"), 1).await.unwrap());
    assert_eq!(entries_of(&queue, "a-css").await, vec![v2.clone()]);
    // Version 3 moves it to b; version 2's put on a, arriving after, does not bring it back,
    // and a late removal from b as of version 2 does not take it off b.
    let v3 = QueueEntry {
        station: station("b-css"),
        version: 3,
        ..v2.clone()
    };
    queue
        .enqueue(v3.clone(), Some(&station("a-css")))
        .await
        .unwrap();
    queue.enqueue(v2.clone(), None).await.unwrap();
    assert!(entries_of(&queue, "a-css").await.is_empty());
    assert!(!queue.remove(v3.ticket, &station("b-css"), 2).await.unwrap());
    assert_eq!(entries_of(&queue, "b-css").await, vec![v3.clone()]);
    // Version 4 brings it back to a: newer than the removal, so it is queued there again.
    let v4 = QueueEntry {
        version: 4,
        ..v2.clone()
    };
    queue
        .enqueue(v4.clone(), Some(&station("b-css")))
        .await
        .unwrap();
    assert_eq!(entries_of(&queue, "a-css").await, vec![v4]);
    assert!(entries_of(&queue, "b-css").await.is_empty());
}

pub async fn a_newer_version_of_the_same_entry_keeps_its_lease<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, Some(30));
    queue.enqueue(e.clone(), None).await.unwrap();
    let until = t0() + Duration::minutes(2);
    queue
        .claim(&station("a-css"), &staff("li"), None, until, t0())
        .await
        .unwrap()
        .unwrap();
    // A flag raised while it waits: a new version, the same place in line.
    let flagged = QueueEntry {
        version: 2,
        ..e.clone()
    };
    queue.enqueue(flagged.clone(), None).await.unwrap();
    let listed = queue.list(&station("a-css"), t0()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].entry, flagged);
    assert_eq!(
        listed[0].lease.as_ref().map(|l| l.holder.clone()),
        Some(staff("li"))
    );
}

pub async fn a_ticket_requeued_at_the_version_it_was_removed_at_is_queued<Q: Queue>(queue: Q) {
    // Dropping a lease by removing and putting back the same version (a failed claim).
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone(), None).await.unwrap();
    assert!(queue
        .remove(e.ticket, &station("a-css"), e.version)
        .await
        .unwrap());
    queue.enqueue(e.clone(), None).await.unwrap();
    assert_eq!(entries_of(&queue, "a-css").await, vec![e]);
}

pub async fn a_rebuild_keeps_the_leases_of_unchanged_entries<Q: Queue>(queue: Q) {
    let kept = entry("a-css", Urgency::Normal, Some(30));
    let changed = entry("a-css", Urgency::Normal, Some(60));
    let moved = entry("a-css", Urgency::Normal, Some(90));
    for e in [&kept, &changed, &moved] {
        queue.enqueue(e.clone(), None).await.unwrap();
    }
    let until = t0() + Duration::minutes(2);
    for (who, e) in [("li", &kept), ("wang", &changed), ("zhao", &moved)] {
        queue
            .claim(&station("a-css"), &staff(who), Some(e.ticket), until, t0())
            .await
            .unwrap()
            .unwrap();
    }
    // The store's view: `kept` unchanged but a newer version; `changed` has a new deadline;
    // `moved` went to b.
    let fresh = vec![
        QueueEntry {
            version: 5,
            ..kept.clone()
        },
        QueueEntry {
            due: Some(t0() + Duration::minutes(10)),
            version: 2,
            ..changed.clone()
        },
        QueueEntry {
            station: station("b-css"),
            version: 2,
            ..moved.clone()
        },
    ];
    queue.rebuild(fresh.clone()).await.unwrap();
    let a = queue.list(&station("a-css"), t0()).await.unwrap();
    let holder = |ticket: TicketId| {
        a.iter()
            .find(|i| i.entry.ticket == ticket)
            .and_then(|i| i.lease.as_ref().map(|l| l.holder.clone()))
    };
    assert_eq!(a.len(), 2);
    assert_eq!(holder(kept.ticket), Some(staff("li")));
    assert_eq!(holder(changed.ticket), None);
    let b = queue.list(&station("b-css"), t0()).await.unwrap();
    assert_eq!(b.len(), 1);
    assert!(b[0].lease.is_none());
    // Li's claim still holds against others.
    assert!(matches!(
        queue
            .claim(
                &station("a-css"),
                &staff("wang"),
                Some(kept.ticket),
                until,
                t0()
            )
            .await,
        Err(QueueError::Leased { .. })
    ));
}

pub async fn new_arrivals_are_announced_to_subscribers<Q: Queue>(queue: Q) {
    let mut arrivals = queue.subscribe(&station("a-css")).await.unwrap();
    let e = entry("a-css", Urgency::Critical, Some(30));
    queue.enqueue(e.clone(), None).await.unwrap();
    assert_eq!(next_arrival(&mut arrivals, "the new ticket").await, e);
}

pub async fn arrivals_reach_the_watchers_of_their_station_only<Q: Queue>(queue: Q) {
    let mut a = queue.subscribe(&station("a-css")).await.unwrap();
    let elsewhere = entry("b-css", Urgency::Critical, None);
    let here = entry("a-css", Urgency::Normal, None);
    queue.enqueue(elsewhere, None).await.unwrap();
    queue.enqueue(here.clone(), None).await.unwrap();
    assert_eq!(
        next_arrival(&mut a, "the ticket of the watched station").await,
        here
    );
    // A station nobody watches any more can be watched again (whenever its old subscription is
    // dropped, the new watcher hears what is enqueued after it subscribed).
    drop(a);
    queue
        .enqueue(entry("a-css", Urgency::Normal, None), None)
        .await
        .unwrap();
    let mut again = queue.subscribe(&station("a-css")).await.unwrap();
    let later = entry("a-css", Urgency::Urgent, None);
    queue.enqueue(later.clone(), None).await.unwrap();
    loop {
        let heard = next_arrival(&mut again, "the ticket enqueued after re-watching").await;
        assert_eq!(heard.station, station("a-css"));
        if heard == later {
            break;
        }
    }
}

pub async fn equal_tickets_are_served_first_come_and_a_rebuild_keeps_that_order<Q: Queue>(
    queue: Q,
) {
    // Same urgency and deadline: the earlier enqueued_at goes first, whatever order the calls
    // came in; on equal times the ticket id decides.
    let at = |seconds: i64| QueueEntry {
        enqueued_at: t0() + Duration::seconds(seconds),
        ..entry("a-css", Urgency::Normal, Some(60))
    };
    let (second, first, third) = (at(20), at(10), at(30));
    let same_time = [at(40), at(40)];
    let mut expected = vec![first.ticket, second.ticket, third.ticket];
    let mut tied: Vec<TicketId> = same_time.iter().map(|e| e.ticket).collect();
    tied.sort();
    expected.extend(tied);
    for e in [&second, &same_time[1], &third, &first, &same_time[0]] {
        queue.enqueue(e.clone(), None).await.unwrap();
    }
    let order = |items: Vec<hotline_dispatch::QueuedItem>| -> Vec<TicketId> {
        items.into_iter().map(|i| i.entry.ticket).collect()
    };
    let listed = order(queue.list(&station("a-css"), t0()).await.unwrap());
    assert_eq!(listed, expected);
    let mut entries = vec![
        third,
        same_time[0].clone(),
        first,
        same_time[1].clone(),
        second,
    ];
    queue.rebuild(entries.clone()).await.unwrap();
    assert_eq!(
        order(queue.list(&station("a-css"), t0()).await.unwrap()),
        expected
    );
    // Re-enqueued later, a ticket goes to the back of its equals.
    entries[2].enqueued_at = t0() + Duration::seconds(50);
    queue.enqueue(entries[2].clone(), None).await.unwrap();
    let mut moved = expected.clone();
    moved.rotate_left(1);
    assert_eq!(
        order(queue.list(&station("a-css"), t0()).await.unwrap()),
        moved
    );
}

pub async fn claims_skip_every_live_lease_however_many_come_first<Q: Queue>(queue: Q) {
    // More leased tickets ahead than one look at the head of the queue covers.
    let entries: Vec<QueueEntry> = (0..80)
        .map(|n| entry("a-css", Urgency::Normal, Some(n)))
        .collect();
    for e in &entries {
        queue.enqueue(e.clone(), None).await.unwrap();
    }
    let until = t0() + Duration::minutes(2);
    for (n, e) in entries.iter().enumerate() {
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
        assert_eq!(lease.ticket, e.ticket, "claim {n}");
    }
    assert!(queue
        .claim(&station("a-css"), &staff("late"), None, until, t0())
        .await
        .unwrap()
        .is_none());
    // Expired leases count as none, even before release_expired has run.
    let lease = queue
        .claim(
            &station("a-css"),
            &staff("late"),
            None,
            until + Duration::minutes(1),
            until,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.ticket, entries[0].ticket);
}

pub async fn re_enqueueing_a_claimed_ticket_drops_its_lease<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone(), None).await.unwrap();
    let until = t0() + Duration::minutes(2);
    queue
        .claim(&station("a-css"), &staff("li"), None, until, t0())
        .await
        .unwrap()
        .unwrap();
    // Same station (say, its deadline changed), then another one: no lease survives either.
    let renewed = QueueEntry {
        due: Some(t0() + Duration::minutes(5)),
        ..e.clone()
    };
    queue.enqueue(renewed.clone(), None).await.unwrap();
    assert!(queue
        .lease(e.ticket, &station("a-css"), t0())
        .await
        .unwrap()
        .is_none());
    let listed = queue.list(&station("a-css"), t0()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].entry, renewed);
    assert!(listed[0].lease.is_none());
    queue
        .claim(
            &station("a-css"),
            &staff("wang"),
            Some(e.ticket),
            until,
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    let moved = QueueEntry {
        station: station("b-css"),
        ..renewed
    };
    queue
        .enqueue(moved.clone(), Some(&station("a-css")))
        .await
        .unwrap();
    assert!(queue
        .lease(e.ticket, &station("b-css"), t0())
        .await
        .unwrap()
        .is_none());
    // Nothing is left to expire (and so nothing is announced again).
    assert!(queue
        .release_expired(until + Duration::minutes(1))
        .await
        .unwrap()
        .is_empty());
    let b = queue.list(&station("b-css"), t0()).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].entry, moved);
    assert!(b[0].lease.is_none());
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
}

pub async fn removing_from_a_station_the_ticket_is_not_on_changes_nothing<Q: Queue>(queue: Q) {
    let e = entry("a-css", Urgency::Normal, None);
    queue.enqueue(e.clone(), None).await.unwrap();
    assert!(!queue
        .remove(e.ticket, &station("b-css"), e.version)
        .await
        .unwrap());
    assert!(queue
        .lease(e.ticket, &station("b-css"), t0())
        .await
        .unwrap()
        .is_none());
    assert_eq!(queue.list(&station("a-css"), t0()).await.unwrap().len(), 1);
}

pub async fn concurrent_callers_each_get_their_own_answer<Q: Queue>(queue: Q) {
    // Many callers on one station at once (the Redis backend sends them in batches): every
    // ticket is enqueued, claimed by exactly one caller, and removed once.
    let queue = std::sync::Arc::new(queue);
    let entries: Vec<QueueEntry> = (0..200)
        .map(|n| entry("a-css", Urgency::Normal, Some(n)))
        .collect();
    let enqueues = entries.iter().map(|e| {
        let queue = queue.clone();
        let e = e.clone();
        async move { queue.enqueue(e, None).await }
    });
    for done in futures::future::join_all(enqueues).await {
        done.unwrap();
    }
    let until = t0() + Duration::minutes(2);
    let claims = (0..250).map(|n| {
        let queue = queue.clone();
        async move {
            queue
                .claim(
                    &station("a-css"),
                    &staff(&format!("w{n}")),
                    None,
                    until,
                    t0(),
                )
                .await
        }
    });
    let leases: Vec<_> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(|claimed| claimed.unwrap())
        .collect();
    let mut claimed: Vec<TicketId> = leases.iter().flatten().map(|l| l.ticket).collect();
    assert_eq!(leases.iter().filter(|l| l.is_none()).count(), 50);
    claimed.sort();
    claimed.dedup();
    let mut expected: Vec<TicketId> = entries.iter().map(|e| e.ticket).collect();
    expected.sort();
    assert_eq!(claimed, expected, "each ticket claimed exactly once");
    let removes = entries.iter().flat_map(|e| {
        // Each ticket removed twice at once: exactly one of the two takes it.
        [e.ticket, e.ticket].map(|ticket| {
            let queue = queue.clone();
            async move { queue.remove(ticket, &station("a-css"), 1).await }
        })
    });
    let removed = futures::future::join_all(removes)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(removed, entries.len());
    assert!(queue
        .list(&station("a-css"), t0())
        .await
        .unwrap()
        .is_empty());
}

pub async fn a_crowded_queue_is_read_a_page_at_a_time<Q: Queue>(queue: Q) {
    // Enough entries that Redis keeps a real hash table (and HSCAN pages it), not a listpack
    // it returns whole.
    let entries: Vec<QueueEntry> = (0..700)
        .map(|n| entry("a-css", Urgency::Normal, Some(n)))
        .collect();
    for e in &entries {
        queue.enqueue(e.clone(), None).await.unwrap();
    }
    queue
        .enqueue(entry("b-css", Urgency::Normal, None), None)
        .await
        .unwrap();
    let mut seen: Vec<TicketId> = Vec::new();
    let mut cursor = ScanCursor::default();
    let mut pages = 0;
    loop {
        let (page, next) = queue.scan(&station("a-css"), &cursor, 100).await.unwrap();
        pages += 1;
        assert!(page.len() < 700, "a page, not the whole queue");
        seen.extend(page);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
        assert!(pages < 1_000, "the scan ends");
    }
    assert!(pages > 1, "{pages} page(s)");
    seen.sort();
    seen.dedup();
    let mut expected: Vec<TicketId> = entries.iter().map(|e| e.ticket).collect();
    expected.sort();
    assert_eq!(
        seen, expected,
        "every entry of the station, and only its own"
    );

    let (none, end) = queue
        .scan(&station("empty-css"), &ScanCursor::default(), 100)
        .await
        .unwrap();
    assert!(
        none.is_empty() && end.is_none(),
        "an empty station ends at once"
    );

    let stranger = TicketId::new();
    let held = queue
        .holds(
            &station("a-css"),
            &[entries[3].ticket, stranger, entries[699].ticket],
        )
        .await
        .unwrap();
    assert_eq!(held, vec![true, false, true]);
    queue
        .remove(entries[3].ticket, &station("a-css"), 1)
        .await
        .unwrap();
    let held = queue
        .holds(&station("b-css"), &[entries[3].ticket, entries[4].ticket])
        .await
        .unwrap();
    assert_eq!(
        held,
        vec![false, false],
        "another station's entries are not held here"
    );
    let held = queue
        .holds(&station("a-css"), &[entries[3].ticket, entries[4].ticket])
        .await
        .unwrap();
    assert_eq!(held, vec![false, true], "a removed entry is not held");
    assert!(queue
        .holds(&station("a-css"), &[])
        .await
        .unwrap()
        .is_empty());
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
                arrivals_reach_the_watchers_of_their_station_only,
                equal_tickets_are_served_first_come_and_a_rebuild_keeps_that_order,
                claims_skip_every_live_lease_however_many_come_first,
                re_enqueueing_a_claimed_ticket_drops_its_lease,
                removing_from_a_station_the_ticket_is_not_on_changes_nothing,
                concurrent_callers_each_get_their_own_answer,
                updates_landing_out_of_order_leave_the_newest_in_place,
                a_newer_version_of_the_same_entry_keeps_its_lease,
                a_ticket_requeued_at_the_version_it_was_removed_at_is_queued,
                a_rebuild_keeps_the_leases_of_unchanged_entries,
                a_crowded_queue_is_read_a_page_at_a_time,
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
// A real local Redis Cluster (3 primaries, 3 replicas), started once and shared like the test
// Redis: every operation must be single-slot there.
queue_suite!(redis_cluster, crate::support::cluster_queue().await);
