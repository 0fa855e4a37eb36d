//! The in-process queue: a `BTreeSet` per station ordered by (urgency desc, due, enqueued_at,
//! ticket).
//! Lost on restart by design: the router rebuilds it from the store at start-up.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use tokio::sync::broadcast;

use crate::{Lease, Queue, QueueEntry, QueueError, QueuedItem};

/// Sort key: most urgent first, then earliest deadline (none last), then first come (by
/// `enqueued_at`, as in Redis: the order is the entry's own, so a rebuild keeps it), then ticket.
type Key = (
    Reverse<Urgency>,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    TicketId,
);

#[derive(Debug, Default)]
struct State {
    /// ticket -> (entry, its key)
    entries: HashMap<TicketId, (QueueEntry, Key)>,
    order: HashMap<StationId, BTreeSet<Key>>,
    leases: HashMap<TicketId, Lease>,
}

impl State {
    fn insert(&mut self, entry: QueueEntry) {
        self.take(entry.ticket);
        let key = (
            Reverse(entry.urgency),
            entry.due.is_none(),
            entry.due,
            entry.enqueued_at,
            entry.ticket,
        );
        self.order
            .entry(entry.station.clone())
            .or_default()
            .insert(key);
        self.entries.insert(entry.ticket, (entry, key));
    }

    fn take(&mut self, ticket: TicketId) -> bool {
        self.leases.remove(&ticket);
        let Some((entry, key)) = self.entries.remove(&ticket) else {
            return false;
        };
        if let Some(set) = self.order.get_mut(&entry.station) {
            set.remove(&key);
            if set.is_empty() {
                self.order.remove(&entry.station);
            }
        }
        true
    }

    fn live_lease(&self, ticket: TicketId, now: DateTime<Utc>) -> Option<&Lease> {
        self.leases.get(&ticket).filter(|l| l.until > now)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct MemoryQueue {
    state: Mutex<State>,
    /// Whether a rebuild has filled it (a new process's queue knows nothing yet).
    built: std::sync::atomic::AtomicBool,
    /// Watched stations, as in Redis: dropped on the first arrival after the last watcher left.
    arrivals: Mutex<HashMap<StationId, broadcast::Sender<QueueEntry>>>,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            built: std::sync::atomic::AtomicBool::new(false),
            arrivals: Mutex::new(HashMap::new()),
        }
    }

    fn arrivals(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<StationId, broadcast::Sender<QueueEntry>>> {
        // Senders only: nothing a panicking holder could leave half-done.
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way later calls
        // would trip over (each method restores its invariants before returning), so recover.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self, entry: QueueEntry) {
        // No watcher is fine: watchers read the queue when they connect.
        let mut arrivals = self.arrivals();
        let station = entry.station.clone();
        if let Some(sender) = arrivals.get(&station) {
            if sender.send(entry).is_err() {
                arrivals.remove(&station);
            }
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn enqueue(&self, entry: QueueEntry) -> Result<(), QueueError> {
        self.state().insert(entry.clone());
        self.notify(entry);
        Ok(())
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        Ok(self.state().take(ticket))
    }

    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        let mut state = self.state();
        let target = match ticket {
            Some(id) => {
                let on_station = state
                    .entries
                    .get(&id)
                    .is_some_and(|(entry, _)| &entry.station == station);
                if !on_station {
                    return Err(QueueError::NotQueued(id));
                }
                if let Some(lease) = state.live_lease(id, now) {
                    if &lease.holder != holder {
                        return Err(QueueError::Leased {
                            ticket: id,
                            holder: lease.holder.clone(),
                            until: lease.until,
                        });
                    }
                }
                id
            }
            None => {
                let next = state.order.get(station).and_then(|set| {
                    set.iter()
                        .map(|key| key.4)
                        .find(|id| state.live_lease(*id, now).is_none())
                });
                match next {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
        };
        let lease = Lease {
            ticket: target,
            station: station.clone(),
            holder: holder.clone(),
            until,
        };
        state.leases.insert(target, lease.clone());
        Ok(Some(lease))
    }

    async fn lease(
        &self,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        Ok(self.state().live_lease(ticket, now).cloned())
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError> {
        let released: Vec<QueueEntry> = {
            let mut state = self.state();
            let expired: Vec<TicketId> = state
                .leases
                .values()
                .filter(|l| l.until <= now)
                .map(|l| l.ticket)
                .collect();
            expired
                .into_iter()
                .filter_map(|id| {
                    state.leases.remove(&id);
                    state.entries.get(&id).map(|(entry, _)| entry.clone())
                })
                .collect()
        };
        let ids = released.iter().map(|e| e.ticket).collect();
        for entry in released {
            self.notify(entry);
        }
        Ok(ids)
    }

    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError> {
        let state = self.state();
        let Some(set) = state.order.get(station) else {
            return Ok(Vec::new());
        };
        Ok(set
            .iter()
            .filter_map(|key| state.entries.get(&key.4))
            .map(|(entry, _)| QueuedItem {
                entry: entry.clone(),
                lease: state.live_lease(entry.ticket, now).cloned(),
            })
            .collect())
    }

    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError> {
        let mut state = self.state();
        *state = State::default();
        for entry in entries {
            state.insert(entry);
        }
        self.built.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        Ok(self.built.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError> {
        Ok(self
            .arrivals()
            .entry(station.clone())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe())
    }
}
