//! One behaviour suite for every timer index backend (in-process and Redis).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::TicketId;
use hotline_dispatch::{Timer, TimerClock, TimerIndex, TimerStep};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
}

fn timer(ticket: TicketId, step: TimerStep, fire_in_ms: i64) -> Timer {
    Timer::new(
        ticket,
        TimerClock::Resolution,
        step,
        t0() + Duration::milliseconds(fire_in_ms),
        t0() + Duration::hours(8),
    )
}

pub async fn nothing_fires_before_its_due_time<T: TimerIndex>(index: T) {
    let ticket = TicketId::new();
    index
        .schedule(ticket, vec![timer(ticket, TimerStep::Warning, 1_000)])
        .await
        .unwrap();
    let early = index
        .claim_due(
            t0() + Duration::milliseconds(999),
            100,
            Duration::seconds(30),
        )
        .await
        .unwrap();
    assert!(early.is_empty());
    let on_time = index
        .claim_due(
            t0() + Duration::milliseconds(1_000),
            100,
            Duration::seconds(30),
        )
        .await
        .unwrap();
    assert_eq!(on_time.len(), 1);
}

pub async fn a_claimed_timer_is_not_handed_out_twice_until_its_lease_runs_out<T: TimerIndex>(
    index: T,
) {
    let ticket = TicketId::new();
    let due = timer(ticket, TimerStep::Breach, 0);
    index.schedule(ticket, vec![due.clone()]).await.unwrap();
    let lease = Duration::seconds(30);
    assert_eq!(
        index.claim_due(t0(), 10, lease).await.unwrap(),
        vec![due.clone()]
    );
    assert!(index
        .claim_due(t0() + Duration::seconds(29), 10, lease)
        .await
        .unwrap()
        .is_empty());
    // The claimer died without acking: after the lease the timer comes back.
    let again = index
        .claim_due(t0() + Duration::seconds(31), 10, lease)
        .await
        .unwrap();
    assert_eq!(again, vec![due.clone()]);
    index.ack(&due).await.unwrap();
    assert!(index
        .claim_due(t0() + Duration::hours(1), 10, lease)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(index.len().await.unwrap(), 0);
}

pub async fn claims_come_in_fire_order_and_bounded_batches<T: TimerIndex>(index: T) {
    let mut all = Vec::new();
    for n in 0..25 {
        let ticket = TicketId::new();
        let t = timer(ticket, TimerStep::Warning, 1_000 - n);
        index.schedule(ticket, vec![t.clone()]).await.unwrap();
        all.push(t);
    }
    all.sort();
    let mut claimed = Vec::new();
    loop {
        let batch = index
            .claim_due(t0() + Duration::seconds(1), 10, Duration::seconds(30))
            .await
            .unwrap();
        assert!(batch.len() <= 10);
        if batch.is_empty() {
            break;
        }
        claimed.extend(batch);
    }
    assert_eq!(claimed, all);
}

pub async fn rescheduling_a_ticket_replaces_its_timers<T: TimerIndex>(index: T) {
    let ticket = TicketId::new();
    index
        .schedule(
            ticket,
            vec![
                timer(ticket, TimerStep::Warning, 10),
                timer(ticket, TimerStep::Breach, 20),
            ],
        )
        .await
        .unwrap();
    let moved = timer(ticket, TimerStep::Breach, 5_000);
    index.schedule(ticket, vec![moved.clone()]).await.unwrap();
    assert_eq!(index.timers_of(ticket).await.unwrap(), vec![moved.clone()]);
    assert_eq!(index.next_due().await.unwrap(), Some(moved.fire_at()));
    index.schedule(ticket, Vec::new()).await.unwrap();
    assert!(index.timers_of(ticket).await.unwrap().is_empty());
    assert_eq!(index.next_due().await.unwrap(), None);
}

pub async fn rebuild_replaces_everything<T: TimerIndex>(index: T) {
    let stale = TicketId::new();
    index
        .schedule(stale, vec![timer(stale, TimerStep::Warning, 0)])
        .await
        .unwrap();
    let fresh = TicketId::new();
    index
        .rebuild(vec![timer(fresh, TimerStep::Urge, 0)])
        .await
        .unwrap();
    assert!(index.timers_of(stale).await.unwrap().is_empty());
    assert_eq!(index.timers_of(fresh).await.unwrap().len(), 1);
    assert_eq!(index.len().await.unwrap(), 1);
}

#[test]
fn every_clock_and_step_round_trips_through_the_member_encoding() {
    let ticket = TicketId::new();
    for clock in [
        TimerClock::SignFor,
        TimerClock::FirstContact,
        TimerClock::Resolution,
        TimerClock::Callback,
    ] {
        for step in [
            TimerStep::Warning,
            TimerStep::Breach,
            TimerStep::Urge,
            TimerStep::Supervise,
            TimerStep::Publish,
            TimerStep::Widen,
        ] {
            let t = Timer::new(ticket, clock, step, t0(), t0());
            assert_eq!(
                Timer::from_member(&t.member(), t.fire_at_ms),
                Some(t.clone()),
                "{t}"
            );
        }
    }
}

#[test]
fn the_member_encoding_round_trips() {
    let t = timer(TicketId::new(), TimerStep::Publish, 1_234);
    assert_eq!(
        Timer::from_member(&t.member(), t.fire_at_ms),
        Some(t.clone())
    );
    assert_eq!(Timer::from_member("garbage", 0), None);
    assert!(t.member().len() < 80, "{}", t.member());
}

macro_rules! timer_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            timer_suite!(@tests $make;
                nothing_fires_before_its_due_time,
                a_claimed_timer_is_not_handed_out_twice_until_its_lease_runs_out,
                claims_come_in_fire_order_and_bounded_batches,
                rescheduling_a_ticket_replaces_its_timers,
                rebuild_replaces_everything,
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

timer_suite!(memory, hotline_dispatch::MemoryTimers::new());
// A fresh key prefix per test: the Redis tests run in parallel on one server.
timer_suite!(redis, crate::support::redis_timers().await);
timer_suite!(redis_cluster, crate::support::cluster_timers().await);
