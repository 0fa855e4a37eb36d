//! Station queues (the working set): which tickets wait for which station, in what order, and
//! who has claimed them.
//!
//! # Layout
//! - [`Queue`]: the trait; the in-process and Redis backends pass one behaviour suite.
//! - [`memory`]: the in-process queue of the embedded default.
//! - [`redis`](mod@redis): the production backends, [`RedisQueue`] and [`RedisTimers`], shared by
//!   router replicas (keys, Lua scripts, the cross-replica arrivals subscription).
//! - [`testing`]: the local test Redis and per-test key prefixes, for tests.
//! - [`timers`]: the SLA timer index ([`TimerIndex`]) and its in-process implementation.
//! - [`duplicates`]: the duplicate index ([`DuplicateIndex`]): live tickets by key and MinHash
//!   band, and its in-process implementation.
//! - [`error`]: the queue error, [`QueueError`].
//!
//! The queue is *derived* state: the store is the truth, and [`Queue::rebuild`] recreates the
//! queue from it after a restart or a lost Redis. Order within a station: higher urgency first,
//! then the earlier sign-for deadline, then first come (the earlier `enqueued_at`, then the
//! ticket id): all from the entry itself, so a rebuild restores the same order.

pub mod duplicates;
pub mod error;
pub mod memory;
pub mod redis;
pub mod testing;
pub mod timers;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{StaffId, StationId, Ticket, TicketId, Urgency};
use tokio::sync::broadcast;

pub use duplicates::{
    Candidate, DuplicateEntry, DuplicateIndex, DuplicateKey, DuplicateRebuild, Filed,
    MemoryDuplicates,
};
pub use error::QueueError;
pub use memory::MemoryQueue;
pub use redis::{RedisDuplicates, RedisQueue, RedisTimers};
pub use timers::{MemoryTimers, Timer, TimerClock, TimerIndex, TimerStep};

/// A version newer than any ticket's: [`Queue::remove`] with it takes the ticket off whatever
/// version put it there (for a ticket the store does not know). Exact in a double, as the Redis
/// scripts hold numbers.
pub const ANY_VERSION: u64 = (1 << 53) - 1;

/// A ticket waiting on a station's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub ticket: TicketId,
    pub station: StationId,
    pub urgency: Urgency,
    pub due: Option<DateTime<Utc>>,
    pub enqueued_at: DateTime<Utc>,
    /// The ticket's version in the store when this entry was computed: an update carrying an
    /// older version than the queue already saw for the ticket is ignored (see [`Queue`]).
    pub version: u64,
}

impl QueueEntry {
    /// The entry for a ticket that belongs on a queue (awaiting sign-for), else `None`.
    ///
    /// It joined the queue when its sign-for clock started (the dispatch), not at its last
    /// change: a flag raised while it waits must not send it to the back of the line, and the
    /// entry must come out the same whenever it is computed (an update, a rebuild, a repair),
    /// so that putting it back where it already is keeps its claim.
    pub fn for_ticket(ticket: &Ticket) -> Option<Self> {
        let station = ticket.queued_station()?.clone();
        Some(Self {
            ticket: ticket.id,
            station,
            urgency: ticket.urgency,
            due: ticket.deadlines.sign_for,
            enqueued_at: ticket
                .deadlines
                .started
                .sign_for
                .unwrap_or(ticket.updated_at),
            version: ticket.version,
        })
    }
}

/// Where a [`Queue::scan`] of a station's queue goes on from. Opaque: each backend keeps its
/// own position in it (Redis its `HSCAN` cursor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanCursor(pub(crate) String);

/// A claim on a queued ticket: the holder should sign for it before `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ticket: TicketId,
    pub station: StationId,
    pub holder: StaffId,
    pub until: DateTime<Utc>,
}

/// An entry as a station sees it, with its lease if claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedItem {
    pub entry: QueueEntry,
    pub lease: Option<Lease>,
}

/// Station queues. All operations are atomic per ticket.
///
/// # Versions
/// Updates for one ticket may come from several replicas and land out of order. Each update
/// carries the ticket's version in the store, and each station remembers the newest version it
/// saw of each ticket: its entry's, or for [`GONE_KEEP`](crate::redis::codec::GONE_KEEP) after a
/// removal, the removal's. An enqueue or removal older than that changes nothing. Every
/// operation touches one station, so on a Redis Cluster each is one slot; a move is a put on
/// the new station, then a removal from the old one, each safe to retry.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Puts the ticket on `entry.station`'s queue, replacing its entry there (and dropping its
    /// lease, unless only the version changed). `from` is the station the caller's store last
    /// queued it on: when that is another station, the ticket is then taken off it (a move:
    /// put first, so the ticket is never on no queue; for a moment it may be on both, and a
    /// claim there is refused by the store, which says where it is). Idempotent; an entry older
    /// than what the station saw of the ticket is ignored.
    ///
    /// The queue keeps no ticket -> station index (on Redis that would be a key in another
    /// Cluster slot): the store knows where each ticket is, so the caller says. A wrong `from`
    /// (a working set that diverged from the store) is what [`Queue::rebuild`] repairs.
    async fn enqueue(&self, entry: QueueEntry, from: Option<&StationId>) -> Result<(), QueueError>;

    /// Takes the ticket off `station`'s queue (signed for, returned, closed), with its lease,
    /// as of the ticket's `version`: an entry put there by a newer version stays. Returns
    /// whether it was taken off.
    async fn remove(
        &self,
        ticket: TicketId,
        station: &StationId,
        version: u64,
    ) -> Result<bool, QueueError>;

    /// Claims `ticket` (or, if `None`, the first unleased ticket in queue order) on `station` for
    /// `holder` until `until`. A holder re-claiming their own ticket renews the lease. Returns
    /// `None` when nothing is available.
    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError>;

    /// The live lease on a ticket queued on `station`, if any (expired leases count as none).
    async fn lease(
        &self,
        ticket: TicketId,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError>;

    /// Drops every lease that ran out by `now`, putting those tickets back in line (and
    /// notifying watchers). Returns the tickets released.
    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError>;

    /// The station's queue in order.
    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError>;

    /// Which of `tickets` have an entry on `station`'s queue, in the order given (one read,
    /// however long the queue): the anti-entropy audit checks a page of the store this way.
    async fn holds(
        &self,
        station: &StationId,
        tickets: &[TicketId],
    ) -> Result<Vec<bool>, QueueError>;

    /// About `count` tickets with an entry on `station`'s queue, from `from` (start with
    /// [`ScanCursor::default`]), and where to go on (`None` once the whole queue was seen). A
    /// queue Redis keeps compact (up to 128 entries) comes whole whatever `count`.
    /// Every ticket queued there from the first call to the last is returned at least once; one
    /// may come twice, and one put on or taken off meanwhile may or may not come. For the audit,
    /// which reads a crowded queue a page at a time instead of [`Queue::list`]ing it.
    async fn scan(
        &self,
        station: &StationId,
        from: &ScanCursor,
        count: usize,
    ) -> Result<(Vec<TicketId>, Option<ScanCursor>), QueueError>;

    /// Replaces the whole working set with `entries` (from the store). A live lease on a ticket
    /// whose entry is unchanged (same station, same place in line) is kept: a rebuild of a Redis
    /// that other replicas share must not take tickets from the staff holding them.
    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError>;

    /// Entries of `station` as they become available to claim (new, moved in, or released from
    /// a lease), enqueued by any router on the same backend from the moment this returns: list
    /// the queue after subscribing, then follow. Only watched stations cost anything, so watch
    /// the stations you show and drop the receiver when done.
    async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError>;

    /// False when the working set lost its data since the last [`Queue::rebuild`] (a flushed or
    /// replaced Redis): the router then rebuilds it from the store. In-process queues live and
    /// die with the process, so they are always intact.
    async fn is_intact(&self) -> Result<bool, QueueError> {
        Ok(true)
    }
}
