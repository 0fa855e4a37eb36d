//! The in-process queue: per station, its entries, a `BTreeSet` ordered by (urgency desc, due,
//! enqueued_at, ticket) and its leases, the same shape as the Redis layout.
//! Lost on restart by design: the router rebuilds it from the store at start-up.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use tokio::sync::broadcast;

use crate::redis::codec::GONE_KEEP;
use crate::{Lease, Queue, QueueEntry, QueueError, QueuedItem, ScanCursor};

/// Sort key: most urgent first, then earliest deadline (none last), then first come (by
/// `enqueued_at`, as in Redis: the order is the entry's own, so a rebuild keeps it), then ticket.
type Key = (
    Reverse<Urgency>,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    TicketId,
);

/// One station's queue, as Redis keeps it: its entries, their order, their leases, and the
/// versions of tickets recently removed (the tombstones).
#[derive(Debug, Default)]
struct Station {
    /// ticket -> (entry, its key)
    entries: HashMap<TicketId, (QueueEntry, Key)>,
    order: BTreeSet<Key>,
    leases: HashMap<TicketId, Lease>,
    /// ticket -> the version it was removed at, kept for [`GONE_KEEP`].
    gone: HashMap<TicketId, u64>,
    /// When each tombstone was written, oldest first, for pruning.
    gone_at: VecDeque<(Instant, TicketId)>,
}

/// What a put did.
#[derive(Debug, PartialEq, Eq)]
enum Put {
    /// The ticket was put in line (new, or its place changed): announced.
    Queued,
    /// The same entry was there (perhaps an older version of it): left in line, lease kept.
    Kept,
    /// The station saw a newer version of the ticket: nothing changed.
    Stale,
}

/// Whether two entries put the ticket at the same place in the same line (versions aside).
fn same_place(a: &QueueEntry, b: &QueueEntry) -> bool {
    a.ticket == b.ticket
        && a.station == b.station
        && a.urgency == b.urgency
        && a.due == b.due
        && a.enqueued_at == b.enqueued_at
}

impl Station {
    /// Puts the entry in line, replacing the ticket's entry (and lease); the same entry already
    /// there is left as it is, lease included (as in Redis), its version updated.
    fn put(&mut self, entry: QueueEntry) -> Put {
        if let Some((old, _)) = self.entries.get_mut(&entry.ticket) {
            if old.version > entry.version {
                return Put::Stale;
            }
            if same_place(old, &entry) {
                old.version = entry.version;
                return Put::Kept;
            }
        } else if self
            .gone
            .get(&entry.ticket)
            .is_some_and(|v| *v > entry.version)
        {
            return Put::Stale;
        }
        self.gone.remove(&entry.ticket);
        self.unlist(entry.ticket);
        let key = (
            Reverse(entry.urgency),
            entry.due.is_none(),
            entry.due,
            entry.enqueued_at,
            entry.ticket,
        );
        self.order.insert(key);
        self.entries.insert(entry.ticket, (entry, key));
        Put::Queued
    }

    /// Drops the ticket's entry and lease (no tombstone: it is being replaced or rebuilt).
    fn unlist(&mut self, ticket: TicketId) -> bool {
        self.leases.remove(&ticket);
        let Some((_, key)) = self.entries.remove(&ticket) else {
            return false;
        };
        self.order.remove(&key);
        true
    }

    /// Takes the ticket off as of `version` (an entry of a newer version stays), leaving a
    /// tombstone. Returns whether it was taken off.
    fn take(&mut self, ticket: TicketId, version: u64) -> bool {
        if self
            .entries
            .get(&ticket)
            .is_some_and(|(e, _)| e.version > version)
        {
            return false;
        }
        let now = Instant::now();
        while let Some((at, old)) = self.gone_at.front() {
            if now.duration_since(*at) < GONE_KEEP {
                break;
            }
            self.gone.remove(old);
            self.gone_at.pop_front();
        }
        let newest = self.gone.entry(ticket).or_insert(version);
        *newest = (*newest).max(version);
        self.gone_at.push_back((now, ticket));
        self.unlist(ticket)
    }

    fn live_lease(&self, ticket: TicketId, now: DateTime<Utc>) -> Option<&Lease> {
        self.leases.get(&ticket).filter(|l| l.until > now)
    }

    /// Drops the leases that ran out by `now`; returns those tickets' entries.
    fn release_expired(&mut self, now: DateTime<Utc>) -> Vec<QueueEntry> {
        let expired: Vec<TicketId> = self
            .leases
            .values()
            .filter(|l| l.until <= now)
            .map(|l| l.ticket)
            .collect();
        expired
            .into_iter()
            .filter_map(|id| {
                self.leases.remove(&id);
                self.entries.get(&id).map(|(entry, _)| entry.clone())
            })
            .collect()
    }
}

/// Per station, as in Redis (no ticket -> station index: callers name the station).
#[derive(Debug, Default)]
struct State {
    stations: HashMap<StationId, Station>,
}

impl State {
    fn station(&mut self, station: &StationId) -> &mut Station {
        self.stations.entry(station.clone()).or_default()
    }

    /// Drops a station's queue once it is empty (tombstones included).
    fn tidy(&mut self, station: &StationId) {
        if self
            .stations
            .get(station)
            .is_some_and(|s| s.entries.is_empty() && s.gone.is_empty())
        {
            self.stations.remove(station);
        }
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
    async fn enqueue(&self, entry: QueueEntry, from: Option<&StationId>) -> Result<(), QueueError> {
        // As in Redis: put on the new station first, then take off the old one.
        let put = self.state().station(&entry.station).put(entry.clone());
        if let Some(old) = from.filter(|old| **old != entry.station) {
            self.remove(entry.ticket, old, entry.version).await?;
        }
        if put == Put::Queued {
            self.notify(entry);
        }
        Ok(())
    }

    async fn remove(
        &self,
        ticket: TicketId,
        station: &StationId,
        version: u64,
    ) -> Result<bool, QueueError> {
        let mut state = self.state();
        let removed = state.station(station).take(ticket, version);
        state.tidy(station);
        Ok(removed)
    }

    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        if ticket.is_none() {
            // As in Redis: leases that ran out take their place in line again (announced)
            // before the next ticket is taken.
            let released = self
                .state()
                .stations
                .get_mut(station)
                .map(|queue| queue.release_expired(now))
                .unwrap_or_default();
            for entry in released {
                self.notify(entry);
            }
        }
        let mut state = self.state();
        let Some(state) = state.stations.get_mut(station) else {
            return match ticket {
                Some(id) => Err(QueueError::NotQueued(id)),
                None => Ok(None),
            };
        };
        let target = match ticket {
            Some(id) => {
                if !state.entries.contains_key(&id) {
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
                let next = state
                    .order
                    .iter()
                    .map(|key| key.4)
                    .find(|id| state.live_lease(*id, now).is_none());
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
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        Ok(self
            .state()
            .stations
            .get(station)
            .and_then(|queue| queue.live_lease(ticket, now))
            .cloned())
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError> {
        let released: Vec<QueueEntry> = self
            .state()
            .stations
            .values_mut()
            .flat_map(|queue| queue.release_expired(now))
            .collect();
        let ids = released.iter().map(|e| e.ticket).collect();
        for entry in released {
            self.notify(entry);
        }
        Ok(ids)
    }

    async fn holds(
        &self,
        station: &StationId,
        tickets: &[TicketId],
    ) -> Result<Vec<bool>, QueueError> {
        let state = self.state();
        let queue = state.stations.get(station);
        Ok(tickets
            .iter()
            .map(|t| queue.is_some_and(|q| q.entries.contains_key(t)))
            .collect())
    }

    async fn scan(
        &self,
        station: &StationId,
        from: &ScanCursor,
        count: usize,
    ) -> Result<(Vec<TicketId>, Option<ScanCursor>), QueueError> {
        // In ticket order, from after the last one returned (the cursor holds its id).
        let after = match from.0.as_str() {
            "" => None,
            raw => Some(TicketId::parse("cursor", raw).map_err(|_| {
                QueueError::Broken(format!("{raw:?} is not an in-process scan cursor"))
            })?),
        };
        let state = self.state();
        let Some(queue) = state.stations.get(station) else {
            return Ok((Vec::new(), None));
        };
        let mut ids: Vec<TicketId> = queue
            .entries
            .keys()
            .filter(|t| after.is_none_or(|a| **t > a))
            .copied()
            .collect();
        ids.sort_unstable();
        let count = count.max(1);
        if ids.len() <= count {
            return Ok((ids, None));
        }
        ids.truncate(count);
        let next = ids.last().map(|t| ScanCursor(t.to_string()));
        Ok((ids, next))
    }

    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError> {
        let state = self.state();
        let Some(queue) = state.stations.get(station) else {
            return Ok(Vec::new());
        };
        Ok(queue
            .order
            .iter()
            .filter_map(|key| queue.entries.get(&key.4))
            .map(|(entry, _)| QueuedItem {
                entry: entry.clone(),
                lease: queue.live_lease(entry.ticket, now).cloned(),
            })
            .collect())
    }

    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError> {
        let mut state = self.state();
        let old = std::mem::take(&mut *state);
        // A ticket listed twice keeps its last entry (on one station).
        let mut last: HashMap<TicketId, QueueEntry> = HashMap::new();
        for entry in entries {
            last.insert(entry.ticket, entry);
        }
        for entry in last.into_values() {
            // A lease on an unchanged entry is kept (as in Redis).
            let lease = old.stations.get(&entry.station).and_then(|queue| {
                let (was, _) = queue.entries.get(&entry.ticket)?;
                same_place(was, &entry)
                    .then(|| queue.leases.get(&entry.ticket).cloned())
                    .flatten()
            });
            let queue = state.station(&entry.station.clone());
            let ticket = entry.ticket;
            queue.put(entry);
            if let Some(lease) = lease {
                queue.leases.insert(ticket, lease);
            }
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
