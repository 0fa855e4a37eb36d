//! The SLA timer index (part of the working set): pending deadlines by due time, claimed in
//! bounded batches so that each fires once across router replicas.
//!
//! A timer is claimed, not popped: [`TimerIndex::claim_due`] moves due timers to an in-flight set
//! with a lease; [`TimerIndex::ack`] removes them once their effect is committed to the store.
//! A router that dies mid-batch leaves its timers in flight; when the lease runs out
//! [`TimerIndex::claim_due`] hands them out again (at least once), and the effect is idempotent
//! (the store refuses a second identical escalation), so it lands exactly once.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::TicketId;

use crate::QueueError;

/// Which clock a timer watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerClock {
    SignFor,
    /// 首次联系: the station must reach the caller.
    FirstContact,
    Resolution,
    Callback,
}

/// What happens when the timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerStep {
    /// 黄灯: the deadline is near.
    Warning,
    /// 红灯: the deadline has passed.
    Breach,
    /// 催办: the day after the deadline.
    Urge,
    /// 督办: supervised at street/district level.
    Supervise,
    /// 通报: published.
    Publish,
    /// Widen an unsigned ticket to the parent level's station.
    Widen,
}

impl TimerClock {
    pub fn code(self) -> &'static str {
        match self {
            TimerClock::SignFor => "sign_for",
            TimerClock::FirstContact => "first_contact",
            TimerClock::Resolution => "resolution",
            TimerClock::Callback => "callback",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [
            TimerClock::SignFor,
            TimerClock::FirstContact,
            TimerClock::Resolution,
            TimerClock::Callback,
        ]
        .into_iter()
        .find(|c| c.code() == raw)
    }
}

impl TimerStep {
    pub fn code(self) -> &'static str {
        match self {
            TimerStep::Warning => "warning",
            TimerStep::Breach => "breach",
            TimerStep::Urge => "urge",
            TimerStep::Supervise => "supervise",
            TimerStep::Publish => "publish",
            TimerStep::Widen => "widen",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [
            TimerStep::Warning,
            TimerStep::Breach,
            TimerStep::Urge,
            TimerStep::Supervise,
            TimerStep::Publish,
            TimerStep::Widen,
        ]
        .into_iter()
        .find(|s| s.code() == raw)
    }
}

/// One pending deadline step of one ticket. Identity is the whole value: a deadline that moves
/// (an extension) is a different timer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    /// When it fires, in milliseconds since the Unix epoch (ordering first).
    pub fire_at_ms: i64,
    pub ticket: TicketId,
    pub clock: TimerClock,
    pub step: TimerStep,
    /// The deadline this step belongs to (ms), so a fired timer can check it still applies.
    pub deadline_ms: i64,
}

impl Timer {
    pub fn new(
        ticket: TicketId,
        clock: TimerClock,
        step: TimerStep,
        fire_at: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Self {
        Self {
            fire_at_ms: fire_at.timestamp_millis(),
            ticket,
            clock,
            step,
            deadline_ms: deadline.timestamp_millis(),
        }
    }

    pub fn fire_at(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.fire_at_ms)
            .single()
            .unwrap_or_default()
    }

    pub fn deadline(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.deadline_ms)
            .single()
            .unwrap_or_default()
    }

    /// The compact member encoding used by the Redis index: `ticket|clock|step|deadline_ms`
    /// (the fire time is the sorted-set score).
    pub fn member(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.ticket.as_uuid().simple(),
            self.clock.code(),
            self.step.code(),
            self.deadline_ms
        )
    }

    /// Parses [`Timer::member`] back, with its score.
    pub fn from_member(member: &str, fire_at_ms: i64) -> Option<Self> {
        let mut parts = member.split('|');
        let ticket = TicketId::from_uuid(uuid_from_simple(parts.next()?)?);
        let clock = TimerClock::parse(parts.next()?)?;
        let step = TimerStep::parse(parts.next()?)?;
        let deadline_ms = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            fire_at_ms,
            ticket,
            clock,
            step,
            deadline_ms,
        })
    }
}

fn uuid_from_simple(raw: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::try_parse(raw).ok()
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} at {}",
            self.ticket,
            self.clock.code(),
            self.step.code(),
            self.fire_at().to_rfc3339()
        )
    }
}

/// Pending SLA timers.
// `len` is a remote count for metrics and tests; an `is_empty` would add nothing.
#[allow(clippy::len_without_is_empty)]
#[async_trait]
pub trait TimerIndex: Send + Sync + 'static {
    /// Replaces every timer of `ticket` with `timers` (empty: the ticket has none now), atomically.
    async fn schedule(&self, ticket: TicketId, timers: Vec<Timer>) -> Result<(), QueueError>;

    /// Claims up to `limit` timers due at `now` (never one due later), leasing them until
    /// `now + lease`. Timers whose earlier lease ran out are claimable again.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Timer>, QueueError>;

    /// Done with a claimed timer (its effect is committed, or it no longer applies).
    async fn ack(&self, timer: &Timer) -> Result<(), QueueError>;

    /// [`TimerIndex::ack`] for a whole fired batch, in one round trip where the backend can.
    async fn ack_many(&self, timers: &[Timer]) -> Result<(), QueueError> {
        for timer in timers {
            self.ack(timer).await?;
        }
        Ok(())
    }

    /// Hands claimed timers back at once (they could not be fired: the store is down), so
    /// that any replica may claim them again without waiting for their lease to run out. A
    /// timer acknowledged or rescheduled meanwhile is left alone.
    async fn release(&self, timers: &[Timer]) -> Result<(), QueueError>;

    /// The earliest pending fire time, to sleep until it.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError>;

    /// Pending (not in-flight) timers of a ticket, in fire order.
    async fn timers_of(&self, ticket: TicketId) -> Result<Vec<Timer>, QueueError>;

    /// Replaces the whole index (rebuild from the store).
    async fn rebuild(&self, timers: Vec<Timer>) -> Result<(), QueueError>;

    /// Number of pending plus in-flight timers.
    async fn len(&self) -> Result<usize, QueueError>;
}

#[derive(Debug, Default)]
struct TimerState {
    pending: BTreeSet<Timer>,
    /// timer -> lease expiry (ms)
    inflight: HashMap<Timer, i64>,
    by_ticket: HashMap<TicketId, BTreeSet<Timer>>,
}

/// The in-process timer index of the embedded default.
#[derive(Debug, Default)]
pub struct MemoryTimers {
    state: Mutex<TimerState>,
}

impl MemoryTimers {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl TimerIndex for MemoryTimers {
    async fn schedule(&self, ticket: TicketId, timers: Vec<Timer>) -> Result<(), QueueError> {
        let mut state = self.state();
        if let Some(old) = state.by_ticket.remove(&ticket) {
            for timer in old {
                state.pending.remove(&timer);
                state.inflight.remove(&timer);
            }
        }
        if !timers.is_empty() {
            for timer in &timers {
                debug_assert_eq!(timer.ticket, ticket);
                state.pending.insert(timer.clone());
            }
            state.by_ticket.insert(ticket, timers.into_iter().collect());
        }
        Ok(())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Timer>, QueueError> {
        let now_ms = now.timestamp_millis();
        let until = (now + lease).timestamp_millis();
        let mut state = self.state();
        // Expired in-flight timers go back to pending first, so they are handed out again.
        let expired: Vec<Timer> = state
            .inflight
            .iter()
            .filter(|(_, lease_ms)| **lease_ms <= now_ms)
            .map(|(t, _)| t.clone())
            .collect();
        for timer in expired {
            state.inflight.remove(&timer);
            state.pending.insert(timer);
        }
        let due: Vec<Timer> = state
            .pending
            .iter()
            .take_while(|t| t.fire_at_ms <= now_ms)
            .take(limit)
            .cloned()
            .collect();
        for timer in &due {
            state.pending.remove(timer);
            state.inflight.insert(timer.clone(), until);
        }
        Ok(due)
    }

    async fn release(&self, timers: &[Timer]) -> Result<(), QueueError> {
        let mut state = self.state();
        for timer in timers {
            if state.inflight.remove(timer).is_some() {
                state.pending.insert(timer.clone());
            }
        }
        Ok(())
    }

    async fn ack(&self, timer: &Timer) -> Result<(), QueueError> {
        let mut state = self.state();
        state.inflight.remove(timer);
        state.pending.remove(timer);
        if let Some(set) = state.by_ticket.get_mut(&timer.ticket) {
            set.remove(timer);
            if set.is_empty() {
                state.by_ticket.remove(&timer.ticket);
            }
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        Ok(self.state().pending.first().map(Timer::fire_at))
    }

    async fn timers_of(&self, ticket: TicketId) -> Result<Vec<Timer>, QueueError> {
        let state = self.state();
        Ok(state
            .by_ticket
            .get(&ticket)
            .map(|set| {
                set.iter()
                    .filter(|t| state.pending.contains(*t))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn rebuild(&self, timers: Vec<Timer>) -> Result<(), QueueError> {
        let mut state = self.state();
        *state = TimerState::default();
        for timer in timers {
            state
                .by_ticket
                .entry(timer.ticket)
                .or_default()
                .insert(timer.clone());
            state.pending.insert(timer);
        }
        Ok(())
    }

    async fn len(&self) -> Result<usize, QueueError> {
        let state = self.state();
        Ok(state.pending.len() + state.inflight.len())
    }
}
