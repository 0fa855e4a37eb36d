//! The working set (station queues, claim leases, SLA timers) kept in line with the store:
//! which queue a ticket belongs on and which timers run for it in each stage, updated after
//! every change, rebuilt after a restart or a lost Redis, with expired leases released.
//!
//! The store is the truth. A working-set update that fails after a commit is logged and marks
//! the set dirty; the background task rebuilds it from the store once the backend answers
//! again, so a ticket is never lost; and since the rebuild replaces the whole set, never
//! queued twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use chrono::{DateTime, Utc};
use hotline_core::{Stage, StationId, Ticket, TicketId};
use hotline_directory::Directory;
use hotline_dispatch::{Queue, QueueEntry, TimerIndex};

use crate::deadlines::Sla;
use crate::error::RouterError;
use crate::escalation;

#[derive(Clone)]
pub struct WorkingSet {
    queue: Arc<dyn Queue>,
    timers: Arc<dyn TimerIndex>,
    directory: Arc<Directory>,
    sla: Sla,
    escalation: escalation::Settings,
    dirty: Arc<AtomicBool>,
    /// Wakes the timer loop when a timer is scheduled earlier than it planned to wake.
    alarm: Arc<TimerAlarm>,
}

/// How updates tell the timer loop about a timer due before the loop planned to look again,
/// without waking it for every change (most deadlines are hours away, and a wake-up costs a
/// round of claims against the timer index).
#[derive(Debug)]
pub struct TimerAlarm {
    notify: Notify,
    /// When the loop will look next (ms since the epoch), or [`TimerAlarm::AWAKE`].
    planned_ms: AtomicI64,
}

impl TimerAlarm {
    /// The loop is looking now; it may have read the index before the latest schedule.
    const AWAKE: i64 = i64::MIN;

    fn new() -> Self {
        Self {
            notify: Notify::new(),
            planned_ms: AtomicI64::new(Self::AWAKE),
        }
    }

    /// The loop starts a round (call before it reads the index).
    pub fn awake(&self) {
        self.planned_ms.store(Self::AWAKE, Ordering::SeqCst);
    }

    /// The loop will sleep until `at` unless woken (call after it read the index).
    pub fn sleeping_until(&self, at: DateTime<Utc>) {
        self.planned_ms
            .store(at.timestamp_millis().max(Self::AWAKE + 1), Ordering::SeqCst);
    }

    pub async fn rung(&self) {
        self.notify.notified().await;
    }

    /// A timer due at `due_ms` was just scheduled (call after writing it to the index). While
    /// the loop is in a round it may have missed it, so it is woken; `notify_one` keeps the
    /// wake-up until the loop next waits, so none is lost between its read and its sleep.
    fn scheduled(&self, due_ms: i64) {
        let planned = self.planned_ms.load(Ordering::SeqCst);
        if planned == Self::AWAKE || due_ms < planned {
            self.notify.notify_one();
        }
    }
}

impl WorkingSet {
    pub fn new(
        queue: Arc<dyn Queue>,
        timers: Arc<dyn TimerIndex>,
        directory: Arc<Directory>,
        sla: Sla,
        escalation: escalation::Settings,
    ) -> Self {
        Self {
            queue,
            timers,
            directory,
            sla,
            escalation,
            dirty: Arc::new(AtomicBool::new(false)),
            alarm: Arc::new(TimerAlarm::new()),
        }
    }

    pub fn alarm(&self) -> &Arc<TimerAlarm> {
        &self.alarm
    }

    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }

    pub fn timers(&self) -> &Arc<dyn TimerIndex> {
        &self.timers
    }

    /// True when an update failed and the set must be rebuilt from the store.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The queue entry for a ticket in its current stage: a station's queue while it awaits
    /// sign-for, the centre's triage queue while it waits for dispatch, none otherwise.
    pub fn entry_for(&self, ticket: &Ticket) -> Option<QueueEntry> {
        match ticket.stage {
            Stage::AwaitingSignFor => QueueEntry::for_ticket(ticket),
            Stage::PendingDispatch => Some(QueueEntry {
                ticket: ticket.id,
                station: self.directory.triage_station().id.clone(),
                urgency: ticket.urgency,
                due: None,
                enqueued_at: ticket.updated_at,
            }),
            _ => None,
        }
    }

    /// Moves the ticket and reschedules its timers after a committed change. The store
    /// already holds the truth, so a failure here is logged, not returned: the set is marked
    /// dirty and rebuilt from the store.
    pub async fn follow(&self, before: &Ticket, after: &Ticket) {
        let old = self.entry_for(before);
        let new = self.entry_for(after);
        let queued = match (old, new) {
            (Some(old), Some(new))
                if old.station == new.station
                    && old.due == new.due
                    && old.urgency == new.urgency =>
            {
                Ok(())
            }
            // From where the store had it: a move to another station is one atomic step.
            (old, Some(new)) => {
                let from = old.map(|old| old.station);
                self.queue.enqueue(new, from.as_ref()).await
            }
            (Some(old), None) => self.queue.remove(after.id, &old.station).await.map(|_| ()),
            (None, None) => Ok(()),
        };
        let plan = escalation::plan(after, &self.sla, &self.escalation);
        let first_due = plan.iter().map(|timer| timer.fire_at_ms).min();
        let timed = self.timers.schedule(after.id, plan).await;
        if let Some(due) = first_due {
            self.alarm.scheduled(due);
        }
        if let Err(err) = queued.and(timed) {
            metrics::counter!("hotline_queue_errors_total").increment(1);
            self.mark_dirty();
            tracing::error!(ticket = %after.id, error = %err, "working-set update failed; it will be rebuilt from the store");
        }
    }

    /// Puts each ticket where its current state says (queue or none, its timers), whatever the
    /// working set thought before. `was_on` says where the working set may still hold a ticket
    /// (say, where a rebuild from an older snapshot put it); the ticket's last station is tried
    /// too. Idempotent.
    pub async fn reconcile(
        &self,
        tickets: &[Ticket],
        was_on: &HashMap<TicketId, StationId>,
    ) -> Result<(), RouterError> {
        for ticket in tickets {
            let before = was_on.get(&ticket.id);
            match self.entry_for(ticket) {
                Some(entry) => {
                    // Only if it is not already there: re-enqueueing would drop a live claim.
                    let listed = self.queue.list(&entry.station, ticket.updated_at).await?;
                    if !listed.iter().any(|item| item.entry.ticket == ticket.id) {
                        self.queue.enqueue(entry, before).await?;
                    }
                }
                None => {
                    for station in before.into_iter().chain(ticket.station.as_ref()) {
                        self.queue.remove(ticket.id, station).await?;
                    }
                }
            }
            let plan = escalation::plan(ticket, &self.sla, &self.escalation);
            let first_due = plan.iter().map(|timer| timer.fire_at_ms).min();
            self.timers.schedule(ticket.id, plan).await?;
            if let Some(due) = first_due {
                self.alarm.scheduled(due);
            }
        }
        Ok(())
    }

    /// Whether the backend still holds what the last rebuild put there.
    pub async fn is_intact(&self) -> Result<bool, RouterError> {
        Ok(self.queue.is_intact().await?)
    }

    /// Replaces queues and timers with what `tickets` (every live ticket) call for.
    pub async fn rebuild(&self, tickets: &[Ticket]) -> Result<(usize, usize), RouterError> {
        // Cleared first: an update that fails from here on marks it dirty again.
        self.dirty.store(false, Ordering::Relaxed);
        let entries: Vec<QueueEntry> = tickets.iter().filter_map(|t| self.entry_for(t)).collect();
        let timers: Vec<_> = tickets
            .iter()
            .flat_map(|t| escalation::plan(t, &self.sla, &self.escalation))
            .collect();
        let (queued, timed) = (entries.len(), timers.len());
        let result = async {
            self.queue.rebuild(entries).await?;
            self.timers.rebuild(timers).await
        }
        .await;
        if let Err(err) = result {
            self.mark_dirty();
            return Err(err.into());
        }
        tracing::info!(queued, timers = timed, "working set rebuilt from the store");
        Ok((queued, timed))
    }

    pub async fn release_expired(&self, now: DateTime<Utc>) -> Result<usize, RouterError> {
        let released = self.queue.release_expired(now).await?;
        if !released.is_empty() {
            metrics::counter!("hotline_leases_expired_total").increment(released.len() as u64);
            tracing::info!(
                count = released.len(),
                "expired claims returned to their queues"
            );
        }
        Ok(released.len())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use futures::FutureExt;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, minute, 0).unwrap()
    }

    #[test]
    fn a_timer_due_after_the_planned_wake_up_lets_the_loop_sleep() {
        let alarm = TimerAlarm::new();
        alarm.sleeping_until(at(10));
        alarm.scheduled(at(30).timestamp_millis());
        assert!(alarm.rung().now_or_never().is_none());
    }

    #[test]
    fn a_timer_due_before_the_planned_wake_up_wakes_the_loop() {
        let alarm = TimerAlarm::new();
        alarm.sleeping_until(at(10));
        alarm.scheduled(at(5).timestamp_millis());
        assert!(alarm.rung().now_or_never().is_some());
        // One wake-up per ring.
        assert!(alarm.rung().now_or_never().is_none());
    }

    /// Scheduled while the loop is in a round (it may already have read the index): the wake-up
    /// is kept until the loop waits, so the timer is not left until the next poll.
    #[test]
    fn a_timer_scheduled_during_a_round_is_not_missed() {
        let alarm = TimerAlarm::new();
        alarm.awake();
        alarm.scheduled(at(30).timestamp_millis());
        alarm.sleeping_until(at(10));
        assert!(alarm.rung().now_or_never().is_some());
    }
}
