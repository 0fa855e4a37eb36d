//! The working set (station queues, claim leases, SLA timers, the duplicate index) kept in line
//! with the store: which queue a ticket belongs on, which timers run for it in each stage, and
//! under which territory and category its text is filed for duplicate lookups; updated after
//! every change, rebuilt after a restart or a lost Redis, checked by anti-entropy, with expired
//! leases released.
//!
//! The store is the truth, and the working set never decides anything the store has not
//! committed. Three mechanisms keep it honest:
//!
//! - **Follow, then verify.** After a commit, the ticket is moved and its timers rescheduled
//!   ([`WorkingSet::follow`]); then its stored version is read back. Two replicas' updates for
//!   consecutive versions of one ticket can land in either order, so an update that finds the
//!   store already past the version it wrote puts the ticket where the *current* version says,
//!   and checks again. The last writer always verifies after writing, so the set ends where the
//!   newest version says: an older write never has the last word.
//! - **Rebuild with catch-up.** A rebuild ([`WorkingSet::rebuild`]) reads every live ticket and
//!   the store's position in its commit order in one transaction, replaces the set, then
//!   re-places every ticket committed since that position ([`TicketStore::changed_since`]: exact,
//!   not a clock window). Changes that land meanwhile are either in the catch-up or followed
//!   after it. The set stays marked for repair until the catch-up has finished.
//! - **Per-ticket repair.** An update that fails (Redis down) records the ticket; the
//!   background task re-places just those tickets once the backend answers, keeping everyone
//!   else's leases and in-flight timers. Only a backend that lost its data (flushed, replaced,
//!   a new process) is rebuilt whole.
//!
//! The duplicate index follows the same three paths: a ticket is filed (its MinHash bands under
//! its division and category) while it is live (not closed) and has both, re-filed when either
//! changes, taken out when it closes ([`WorkingSet::duplicate_entry_for`]). While the set may
//! disagree with the store ([`WorkingSet::is_dirty`]) lookups do not trust the index and scan
//! the store instead ([`WorkingSet::duplicate_candidates`]).
//!
//! Anti-entropy ([`WorkingSet::audit`]) compares, a few stations at a time, the store's live
//! tickets with the queues and pending timers in both directions, re-reads a ticket before
//! calling a difference drift, repairs it and counts it (`hotline_working_set_drift_total`,
//! which should stay 0).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use tokio::sync::{oneshot, Notify};

use hotline_core::{Stage, StationId, Ticket, TicketId};
use hotline_directory::Directory;
use hotline_dispatch::{
    Candidate, DuplicateEntry, DuplicateIndex, DuplicateKey, Queue, QueueEntry, ScanCursor, Timer,
    TimerIndex, ANY_VERSION,
};
use hotline_store::TicketStore;

use crate::deadlines::Sla;
use crate::error::RouterError;
use crate::escalation;

/// Stages whose tickets hold a queue entry or timers: what a rebuild reads.
pub const LIVE_STAGES: [Stage; 5] = [
    Stage::PendingDispatch,
    Stage::AwaitingSignFor,
    Stage::InProgress,
    Stage::ReturnRequested,
    Stage::AwaitingCallback,
];

/// Every stage but closed: the tickets a new request may duplicate (the store's `live_in`), so
/// what a rebuild reads for the duplicate index. Queues and timers use [`LIVE_STAGES`] of them.
pub const OPEN_STAGES: [Stage; 8] = [
    Stage::Accepted,
    Stage::PendingDispatch,
    // Merged tickets are duplicates too: a new call matching one joins its incident.
    Stage::Merged,
    Stage::AwaitingSignFor,
    Stage::InProgress,
    Stage::ReturnRequested,
    Stage::PendingReview,
    Stage::AwaitingCallback,
];

/// How many tickets are placed at once (round trips in flight) during a catch-up or repair.
const PLACE_CONCURRENCY: usize = 32;
/// How many times a ticket that keeps changing under a placement is placed again before it is
/// left to the repair loop.
const SETTLE_ROUNDS: usize = 5;
/// Anti-entropy reads a station's tickets (from the store, and from its queue) this many at a
/// time: a crowded station is audited over several rounds, never read whole.
pub const AUDIT_PAGE: usize = 500;
/// Open tickets a rebuild reads, signs and files per page: a page of tickets and its filings
/// are a few megabytes, and enough work per round trip that the pages' latency hides behind
/// the signing.
const REBUILD_PAGE: u32 = 2_000;
/// More tickets than this waiting for per-ticket repair: a whole rebuild is cheaper.
const REPAIR_LIMIT: usize = 20_000;

#[derive(Clone)]
pub struct WorkingSet {
    queue: Arc<dyn Queue>,
    timers: Arc<dyn TimerIndex>,
    duplicates: Arc<dyn DuplicateIndex>,
    store: Arc<dyn TicketStore>,
    directory: Arc<Directory>,
    sla: Sla,
    escalation: escalation::Settings,
    state: Arc<RepairState>,
    /// Wakes the timer loop when a timer is scheduled earlier than it planned to wake.
    alarm: Arc<TimerAlarm>,
    pauses: Arc<PausePoints>,
    versions: Arc<VersionReads>,
    signed: Arc<Signed>,
    /// Open tickets a rebuild reads per page ([`REBUILD_PAGE`]; tests make it small).
    rebuild_page: Arc<std::sync::atomic::AtomicU32>,
}

/// Signatures computed for the duplicate lookup of a request, kept for filing the ticket it
/// becomes: the MinHash signature of a 300-character text (50-70 µs) was the largest item of
/// the routed submit's own CPU after the store write
/// (`crates/router/examples/route_profile.rs`), and the lookup and the filing signed the same
/// text moments apart. Keyed by the exact text, so a hit is the signature the filing would
/// compute; each is taken once, and the oldest go when more than [`SIGNED_KEPT`] wait (a
/// request found to be a duplicate is not filed, so never takes its own).
#[derive(Default)]
struct Signed(Mutex<std::collections::VecDeque<(String, Vec<u64>)>>);

/// Signatures waiting for their filing: well above the requests one router has in flight.
const SIGNED_KEPT: usize = 64;

impl Signed {
    fn keep(&self, text: &str, bands: &[u64]) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= SIGNED_KEPT {
            kept.pop_front();
        }
        kept.push_back((text.to_owned(), bands.to_vec()));
    }

    fn take(&self, text: &str) -> Option<Vec<u64>> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = kept.iter().position(|(kept, _)| kept == text)?;
        kept.remove(at).map(|(_, bands)| bands)
    }
}

/// Version checks after updates, batched like group commit: the checks that concurrent
/// updates ask for while one read is in flight share the next read, so a busy intake pays one
/// small indexed query per batch rather than one per ticket.
#[derive(Default)]
struct VersionReads {
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<VersionRead>>,
}

type VersionAnswer = Result<HashMap<TicketId, u64>, (bool, String)>;

struct VersionRead {
    ids: Vec<TicketId>,
    reply: oneshot::Sender<VersionAnswer>,
}

/// Most ids one batched version read asks for.
const VERSION_BATCH: usize = 512;

impl VersionReads {
    async fn read(
        &self,
        store: &Arc<dyn TicketStore>,
        ids: Vec<TicketId>,
    ) -> Result<HashMap<TicketId, u64>, RouterError> {
        if ids.len() >= VERSION_BATCH / 4 {
            return Ok(store.versions(&ids).await?);
        }
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(VERSION_BATCH * 4);
            tokio::spawn(read_versions(store.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let gone = || RouterError::Unavailable("the version reader stopped".into());
        queue
            .send(VersionRead { ids, reply })
            .await
            .map_err(|_| gone())?;
        match answer.await.map_err(|_| gone())? {
            Ok(versions) => Ok(versions),
            Err((true, reason)) => Err(RouterError::Unavailable(reason)),
            Err((false, reason)) => Err(RouterError::internal(anyhow::anyhow!(reason))),
        }
    }
}

async fn read_versions(
    store: Arc<dyn TicketStore>,
    mut queue: tokio::sync::mpsc::Receiver<VersionRead>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let mut count = batch[0].ids.len();
        while count < VERSION_BATCH {
            match queue.try_recv() {
                Ok(next) => {
                    count += next.ids.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let ids: Vec<TicketId> = batch.iter().flat_map(|r| r.ids.iter().copied()).collect();
        let answer = store
            .versions(&ids)
            .await
            .map_err(|err| (err.is_transient(), crate::logging::chain(&err)));
        for read in batch {
            let mine = match &answer {
                Ok(all) => Ok(read
                    .ids
                    .iter()
                    .filter_map(|id| all.get(id).map(|v| (*id, *v)))
                    .collect()),
                Err(err) => Err(err.clone()),
            };
            let _ = read.reply.send(mine);
        }
    }
}

/// Whether an update is checked against a newer version committed meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Yes,
    /// The update of a ticket just created: nobody else acts on a ticket before learning its
    /// id, which only its submit's answer, the working set this update writes, or a store
    /// search in the same milliseconds give. The check (one store read, a fifth of a record-
    /// only submit's database time) is skipped; a rebuild's catch-up and anti-entropy cover
    /// the last case.
    NewTicket,
}

/// What is waiting to be repaired.
#[derive(Debug, Default)]
struct RepairState {
    /// The backend must be rebuilt whole (a rebuild failed, or too many tickets to repair).
    rebuild: AtomicBool,
    /// A rebuild is between its snapshot and the end of its catch-up.
    rebuilding: AtomicBool,
    /// Tickets whose update failed, with the stations they may have been left on.
    tickets: Mutex<HashMap<TicketId, Vec<StationId>>>,
}

impl RepairState {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<TicketId, Vec<StationId>>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, ticket: TicketId, maybe_on: impl IntoIterator<Item = StationId>) {
        let mut pending = self.pending();
        let stations = pending.entry(ticket).or_default();
        for station in maybe_on {
            if !stations.contains(&station) {
                stations.push(station);
            }
        }
        if pending.len() > REPAIR_LIMIT {
            pending.clear();
            self.rebuild.store(true, Ordering::SeqCst);
        }
    }
}

/// Where a rebuild can be held still by a test, to let changes land at an exact point
/// (deterministic race tests; no sleeps). Unarmed points cost one uncontended lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PausePoint {
    /// The rebuild has read its first page of the store (and each page after it, once armed
    /// again) and not yet the next.
    RebuildBetweenPages,
    /// The rebuild has read its snapshot and not yet replaced the set.
    RebuildAfterSnapshot,
    /// The rebuild has replaced the set and not yet read what changed since its snapshot.
    RebuildAfterApply,
}

/// An armed point: tell the test it was reached, then wait for its go.
type Armed = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// Test hooks: see [`PausePoint`].
#[derive(Debug, Default)]
pub struct PausePoints {
    armed: Mutex<HashMap<PausePoint, Armed>>,
}

/// A paused point: `reached` resolves when the rebuild gets there; dropping or sending on
/// `resume` lets it go on.
pub struct Paused {
    pub reached: oneshot::Receiver<()>,
    pub resume: oneshot::Sender<()>,
}

impl PausePoints {
    /// The next time `point` is reached, wait there until resumed.
    pub fn arm(&self, point: PausePoint) -> Paused {
        let (reached_tx, reached) = oneshot::channel();
        let (resume, resume_rx) = oneshot::channel();
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(point, (reached_tx, resume_rx));
        Paused { reached, resume }
    }

    async fn hit(&self, point: PausePoint) {
        let armed = self
            .armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&point);
        if let Some((reached, resume)) = armed {
            let _ = reached.send(());
            let _ = resume.await;
        }
    }
}

/// What one anti-entropy round found (and repaired).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift {
    /// Stations compared.
    pub stations: usize,
    /// Live tickets compared.
    pub tickets: usize,
    /// Tickets that belonged on a queue and were not on it.
    pub missing: usize,
    /// Queue entries for tickets that did not belong there.
    pub stale: usize,
    /// Tickets whose pending timers differed from what their state calls for.
    pub timers: usize,
    /// Tickets the duplicate index filed under another key, or not at all.
    pub filings: usize,
}

impl Drift {
    pub fn total(&self) -> usize {
        self.missing + self.stale + self.timers + self.filings
    }
}

/// What one anti-entropy round may cost: it stops after `stations` stations, or once it has
/// compared `tickets` tickets (each costs a timer read), whichever comes first. A station with
/// more than that is audited a page at a time over several rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditBudget {
    pub stations: usize,
    pub tickets: usize,
}

impl AuditBudget {
    /// Every station of a directory this size in one round, if it holds few tickets (tests,
    /// and a look over everything after a repair).
    pub fn stations(stations: usize) -> Self {
        Self {
            stations,
            tickets: 2_000,
        }
    }
}

/// Where anti-entropy goes on from: the next station of the directory, in order, and how far
/// the audit of the station it is in got.
#[derive(Debug, Default, Clone)]
pub struct AuditCursor {
    next: usize,
    at: Option<StationAudit>,
}

impl AuditCursor {
    /// A cursor that audits `station` first, then goes on from the start of the directory.
    pub fn at_station(station: StationId) -> Self {
        Self {
            next: 0,
            at: Some(StationAudit::start(station)),
        }
    }
}

impl StationAudit {
    fn start(station: StationId) -> Self {
        Self {
            station,
            stage: 0,
            after: None,
            queue: ScanCursor::default(),
        }
    }
}

/// Tickets one page of an audit found out of line, to be re-read before they count as drift.
#[derive(Debug, Default)]
struct Suspects {
    /// Belong on the station's queue, not on it.
    missing: Vec<TicketId>,
    /// On the station's queue, do not belong there.
    stale: Vec<TicketId>,
    /// Pending timers other than their state calls for.
    timers: Vec<TicketId>,
    /// Filed in the duplicate index other than their state calls for.
    filings: Vec<TicketId>,
}

/// How far the audit of one station got: first the store's tickets there, stage by stage, a
/// page at a time by id; then the station's queue, a page at a time.
#[derive(Debug, Clone)]
struct StationAudit {
    station: StationId,
    /// Index into the stages audited at this station; past the last, the queue's turn.
    stage: usize,
    /// The last ticket of the stage read so far.
    after: Option<TicketId>,
    /// Where the scan of the queue goes on from.
    queue: ScanCursor,
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
        duplicates: Arc<dyn DuplicateIndex>,
        store: Arc<dyn TicketStore>,
        directory: Arc<Directory>,
        sla: Sla,
        escalation: escalation::Settings,
    ) -> Self {
        Self {
            queue,
            timers,
            duplicates,
            store,
            directory,
            sla,
            escalation,
            state: Arc::new(RepairState::default()),
            alarm: Arc::new(TimerAlarm::new()),
            pauses: Arc::new(PausePoints::default()),
            versions: Arc::new(VersionReads::default()),
            signed: Arc::new(Signed::default()),
            rebuild_page: Arc::new(std::sync::atomic::AtomicU32::new(REBUILD_PAGE)),
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

    pub fn duplicates(&self) -> &Arc<dyn DuplicateIndex> {
        &self.duplicates
    }

    /// Frees what replaced or abandoned duplicate-index rebuilds left behind
    /// ([`DuplicateIndex::sweep`]). Returns how many.
    pub async fn sweep_duplicates(&self, now: DateTime<Utc>) -> Result<usize, RouterError> {
        let swept = self.duplicates.sweep(now).await?;
        if swept > 0 {
            metrics::counter!("hotline_duplicate_index_swept_total").increment(swept as u64);
        }
        Ok(swept)
    }

    /// How the duplicate index files a ticket: its MinHash bands under its division and
    /// category, while it is not closed; `None` when it is closed, lacks either, or its text
    /// has nothing to compare (the store's `live_in` would offer it, and the exact check would
    /// score it 0.0, so it can duplicate nothing).
    pub fn duplicate_entry_for(&self, ticket: &Ticket) -> Option<DuplicateEntry> {
        let key = duplicate_key(ticket)?;
        let bands = match self.signed.take(&ticket.text) {
            Some(bands) => bands,
            None => hotline_routing::minhash::bands(&ticket.text)?
                .as_slice()
                .to_vec(),
        };
        Some(DuplicateEntry {
            ticket: ticket.id,
            key,
            created_at: ticket.created_at,
            bands,
        })
    }

    /// Keeps the signature of a request's text, computed for its duplicate lookup, for the
    /// filing of the ticket it becomes ([`WorkingSet::duplicate_entry_for`]).
    pub fn keep_signature(&self, text: &str, bands: &[u64]) {
        self.signed.keep(text, bands);
    }

    /// The live tickets of `key` created since `since` whose texts share a band with `bands`,
    /// best first, at most `limit`; `None` when the index cannot be trusted right now (a
    /// rebuild is due or under way, an update is waiting for repair, or the backend lost its
    /// data): the caller then scans the store as before the index existed.
    pub async fn duplicate_candidates(
        &self,
        key: &DuplicateKey,
        bands: &[u64],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<Candidate>>, RouterError> {
        if self.is_dirty() {
            return Ok(None);
        }
        Ok(self.duplicates.candidates(key, bands, since, limit).await?)
    }

    /// The centre's escalation choices.
    pub fn escalation(&self) -> &escalation::Settings {
        &self.escalation
    }

    /// Sets how many open tickets a rebuild reads per page (tests cross page boundaries with
    /// a few tickets).
    pub fn set_rebuild_page(&self, tickets: u32) {
        self.rebuild_page.store(tickets.max(1), Ordering::Relaxed);
    }

    /// Test hooks that hold a rebuild at a [`PausePoint`].
    pub fn pauses(&self) -> &PausePoints {
        &self.pauses
    }

    /// True while the set may disagree with the store: an update is waiting to be repaired, a
    /// rebuild is due, or one is still catching up.
    pub fn is_dirty(&self) -> bool {
        self.state.rebuild.load(Ordering::SeqCst)
            || self.state.rebuilding.load(Ordering::SeqCst)
            || !self.state.pending().is_empty()
    }

    /// How many tickets wait for a per-ticket repair.
    pub fn repairs_pending(&self) -> usize {
        self.state.pending().len()
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
                version: ticket.version,
            }),
            _ => None,
        }
    }

    fn station_for(&self, ticket: &Ticket) -> Option<StationId> {
        self.entry_for(ticket).map(|entry| entry.station)
    }

    /// Moves the ticket and reschedules its timers after a committed change, then checks that
    /// no newer version was committed meanwhile (if one was, the ticket is put where that one
    /// says). The store already holds the truth, so a failure here is logged, not returned:
    /// the ticket is recorded and repaired from the store once the backend answers.
    pub async fn follow(&self, before: &Ticket, after: &Ticket) {
        self.follow_then(before, after, None, Verify::Yes).await
    }

    /// [`WorkingSet::follow`], saying on `applied` when the update itself is done (before its
    /// verification): a request answers then, and the check goes on without it.
    pub async fn follow_then(
        &self,
        before: &Ticket,
        after: &Ticket,
        applied: Option<oneshot::Sender<()>>,
        verify: Verify,
    ) {
        let maybe_on: Vec<StationId> = self
            .station_for(before)
            .into_iter()
            .chain(self.station_for(after))
            .collect();
        let applied_now = self
            .apply_change(before, after, verify == Verify::NewTicket)
            .await;
        if let Some(applied) = applied {
            let _ = applied.send(());
        }
        let settled = match (applied_now, verify) {
            (Ok(()), Verify::Yes) => {
                let stations = HashMap::from([(after.id, maybe_on.clone())]);
                self.settle_checked(vec![after.clone()], &stations).await
            }
            (Ok(()), Verify::NewTicket) => Ok(()),
            (Err(err), _) => Err(err),
        };
        if let Err(err) = settled {
            self.repair_later(after.id, maybe_on, &err);
        }
    }

    /// [`WorkingSet::follow`] for many committed changes at once (fired timers): applied
    /// concurrently, verified with one read of the store.
    pub async fn follow_many(&self, changes: &[(Ticket, Ticket)]) {
        let mut updates = Vec::with_capacity(changes.len());
        for (before, after) in changes {
            updates.push(self.apply_change(before, after, false));
        }
        let applied = bounded(updates).await;
        let mut done = Vec::new();
        let mut maybe_on: HashMap<TicketId, Vec<StationId>> = HashMap::new();
        for ((before, after), result) in changes.iter().zip(applied) {
            let stations: Vec<StationId> = self
                .station_for(before)
                .into_iter()
                .chain(self.station_for(after))
                .collect();
            match result {
                Ok(()) => {
                    maybe_on.insert(after.id, stations);
                    done.push(after.clone());
                }
                Err(err) => self.repair_later(after.id, stations, &err),
            }
        }
        if let Err(err) = self.settle_checked(done.clone(), &maybe_on).await {
            for ticket in done {
                let stations = maybe_on.remove(&ticket.id).unwrap_or_default();
                self.repair_later(ticket.id, stations, &err);
            }
        }
    }

    /// Puts one ticket (as the store has it now) where it belongs, taking it off `maybe_on`;
    /// recorded for repair if the backend does not answer. For retries and failed claims.
    pub async fn put_back(&self, ticket: &Ticket, maybe_on: Vec<StationId>) {
        let map = HashMap::from([(ticket.id, maybe_on.clone())]);
        if let Err(err) = self.settle(vec![ticket.clone()], &map).await {
            self.repair_later(ticket.id, maybe_on, &err);
        }
    }

    fn repair_later(&self, ticket: TicketId, maybe_on: Vec<StationId>, err: &RouterError) {
        metrics::counter!("hotline_queue_errors_total").increment(1);
        self.state.record(ticket, maybe_on);
        crate::logging::warn_summarised("working set", err);
    }

    /// Moves the ticket from where `before` had it to where `after` puts it, replaces its
    /// timers, and re-files it in the duplicate index if its filing changed (`created`: the
    /// ticket is new, so `before` was never filed, whatever it says).
    async fn apply_change(
        &self,
        before: &Ticket,
        after: &Ticket,
        created: bool,
    ) -> Result<(), RouterError> {
        let old = self.entry_for(before);
        let new = self.entry_for(after);
        let queue = async {
            match (old, new) {
                (Some(old), Some(new))
                    if old.station == new.station
                        && old.due == new.due
                        && old.urgency == new.urgency => {}
                // From where the store had it: a move to another station puts it there first.
                (old, Some(new)) => {
                    let from = old.map(|old| old.station);
                    self.queue.enqueue(new, from.as_ref()).await?;
                }
                (Some(old), None) => {
                    self.queue
                        .remove(after.id, &old.station, after.version)
                        .await?;
                }
                (None, None) => {}
            }
            Ok::<(), RouterError>(())
        };
        // Most changes (a sign-for, a timer step) keep the filing: no signature is computed.
        let refile = created
            || duplicate_key(before) != duplicate_key(after)
            || before.created_at != after.created_at
            || before.text != after.text;
        let filing = async {
            if refile {
                self.file(after).await?;
            }
            Ok::<(), RouterError>(())
        };
        // The queue, the duplicate index and the timers are separate keys: one round trip's
        // wait for the three (one after another, three waits of a busy Redis on every submit).
        // Each runs to its end, so a failure of one leaves the others done and the ticket
        // recorded for repair as before.
        let (queued, filed, scheduled) = tokio::join!(queue, filing, self.schedule(after));
        queued?;
        filed?;
        scheduled
    }

    /// Files the ticket in the duplicate index as its current state says (or takes it out).
    async fn file(&self, ticket: &Ticket) -> Result<(), RouterError> {
        match self.duplicate_entry_for(ticket) {
            Some(entry) => self.duplicates.put(entry).await?,
            None => {
                self.duplicates.remove(ticket.id).await?;
            }
        }
        Ok(())
    }

    async fn schedule(&self, ticket: &Ticket) -> Result<(), RouterError> {
        let plan = escalation::plan(ticket, &self.sla, &self.escalation);
        let first_due = plan.iter().map(|timer| timer.fire_at_ms).min();
        self.timers.schedule(ticket.id, plan).await?;
        if let Some(due) = first_due {
            self.alarm.scheduled(due);
        }
        Ok(())
    }

    /// Puts the ticket where its current state says (its queue or none, its timers), whatever
    /// the working set held before: it is taken off every station of `maybe_on` it does not
    /// belong on. Putting a ticket where it already is keeps its lease. Idempotent.
    async fn place(&self, ticket: &Ticket, maybe_on: &[StationId]) -> Result<(), RouterError> {
        let target = self.entry_for(ticket);
        let target_station = target.as_ref().map(|e| e.station.clone());
        let mut elsewhere: Vec<&StationId> = maybe_on
            .iter()
            .chain(ticket.station.as_ref())
            .filter(|s| Some(*s) != target_station.as_ref())
            .collect();
        elsewhere.sort();
        elsewhere.dedup();
        // A move from the first other station (put here, then taken off there); the rest are
        // removals.
        let mut rest = elsewhere.into_iter();
        match target {
            Some(entry) => {
                let from = rest.next();
                self.queue.enqueue(entry, from).await?;
            }
            None => {
                if let Some(first) = rest.next() {
                    self.queue.remove(ticket.id, first, ticket.version).await?;
                }
            }
        }
        for station in rest {
            self.queue
                .remove(ticket.id, station, ticket.version)
                .await?;
        }
        self.file(ticket).await?;
        self.schedule(ticket).await
    }

    /// Places `tickets` (concurrently), then reads their versions back and places again those
    /// that changed meanwhile, until none did. `maybe_on` says where each may still be held.
    async fn settle(
        &self,
        tickets: Vec<Ticket>,
        maybe_on: &HashMap<TicketId, Vec<StationId>>,
    ) -> Result<(), RouterError> {
        let mut extra: HashMap<TicketId, Vec<StationId>> = HashMap::new();
        let mut round = tickets;
        for _ in 0..SETTLE_ROUNDS {
            if round.is_empty() {
                return Ok(());
            }
            let mut placements = Vec::with_capacity(round.len());
            for ticket in &round {
                let mut stations = maybe_on.get(&ticket.id).cloned().unwrap_or_default();
                stations.extend(extra.get(&ticket.id).cloned().unwrap_or_default());
                placements.push(self.place_owned(ticket, stations));
            }
            bounded(placements)
                .await
                .into_iter()
                .collect::<Result<Vec<()>, _>>()?;
            round = self.changed_meanwhile(&round, &mut extra).await?;
        }
        if round.is_empty() {
            Ok(())
        } else {
            Err(RouterError::Unavailable(format!(
                "{} tickets kept changing while the working set was being repaired",
                round.len()
            )))
        }
    }

    /// Checks tickets just placed by updates (not placing them again first) and settles those
    /// the store has moved past since; `maybe_on` says where each update may have put them.
    async fn settle_checked(
        &self,
        placed: Vec<Ticket>,
        maybe_on: &HashMap<TicketId, Vec<StationId>>,
    ) -> Result<(), RouterError> {
        let mut extra = HashMap::new();
        let changed = self.changed_meanwhile(&placed, &mut extra).await?;
        if changed.is_empty() {
            return Ok(());
        }
        let maybe_on: HashMap<TicketId, Vec<StationId>> = changed
            .iter()
            .map(|t| {
                let mut stations = maybe_on.get(&t.id).cloned().unwrap_or_default();
                stations.extend(extra.remove(&t.id).unwrap_or_default());
                (t.id, stations)
            })
            .collect();
        self.settle(changed, &maybe_on).await
    }

    /// Of the tickets just placed, those the store has moved past since (read afresh). Where
    /// each was placed is added to `extra`: it may need taking off there.
    async fn changed_meanwhile(
        &self,
        placed: &[Ticket],
        extra: &mut HashMap<TicketId, Vec<StationId>>,
    ) -> Result<Vec<Ticket>, RouterError> {
        let ids: Vec<TicketId> = placed.iter().map(|t| t.id).collect();
        let versions = self.versions.read(&self.store, ids).await?;
        let stale: Vec<TicketId> = placed
            .iter()
            .filter(|t| versions.get(&t.id).is_some_and(|v| *v != t.version))
            .map(|t| {
                if let Some(station) = self.station_for(t) {
                    extra.entry(t.id).or_default().push(station);
                }
                t.id
            })
            .collect();
        if stale.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.get_many(&stale).await?)
    }

    /// Repairs what needs it: a whole rebuild when the backend lost its data (or a rebuild is
    /// due), else the tickets whose update failed. Returns whether anything was repaired.
    pub async fn repair(&self) -> Result<bool, RouterError> {
        if self.state.rebuild.load(Ordering::SeqCst)
            || !self.queue.is_intact().await?
            || !self.duplicates.is_intact().await?
        {
            let (queued, timers) = self.rebuild().await?;
            tracing::warn!(queued, timers, "working set rebuilt from the store");
            return Ok(true);
        }
        let pending: HashMap<TicketId, Vec<StationId>> = {
            let pending = self.state.pending();
            pending.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        if pending.is_empty() {
            return Ok(false);
        }
        let ids: Vec<TicketId> = pending.keys().copied().collect();
        let tickets = self.store.get_many(&ids).await?;
        self.settle(tickets, &pending).await?;
        let mut left = self.state.pending();
        for (id, stations) in &pending {
            // Recorded again meanwhile (a newer failure, maybe more stations): keep it.
            if left.get(id) == Some(stations) {
                left.remove(id);
            }
        }
        tracing::info!(tickets = pending.len(), "working-set updates repaired");
        Ok(true)
    }

    /// Replaces queues and timers with what the store's live tickets call for, then catches
    /// up with every change committed since the snapshot it read. Returns (queued, timers).
    pub async fn rebuild(&self) -> Result<(usize, usize), RouterError> {
        self.state.rebuilding.store(true, Ordering::SeqCst);
        let result = self.rebuild_and_catch_up().await;
        match &result {
            Ok(_) => {
                self.state.rebuild.store(false, Ordering::SeqCst);
            }
            Err(_) => {
                // Still not trustworthy: rebuilt whole on the next try.
                self.state.rebuild.store(true, Ordering::SeqCst);
            }
        }
        self.state.rebuilding.store(false, Ordering::SeqCst);
        result
    }

    async fn rebuild_and_catch_up(&self) -> Result<(usize, usize), RouterError> {
        // Failures recorded before the snapshot are covered by it.
        let covered: HashMap<TicketId, Vec<StationId>> = {
            let pending = self.state.pending();
            pending.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        let mut phase = Phases::start();
        // The store's position first, then every open ticket page by page (the duplicate index
        // files them all; queues and timers are computed from those in LIVE_STAGES only). Each
        // page is read at or after that position, so the catch-up below re-places whatever a
        // page read newer than it, missed, or read before it left the open stages: the pages
        // need no transaction spanning them (one held open for minutes at 1M tickets would
        // hold back PostgreSQL's vacuum), and only one page of tickets is in memory at once.
        let cursor = self.store.change_cursor().await?;
        let mut filings = self.duplicates.start_rebuild().await?;
        let mut entries: Vec<QueueEntry> = Vec::new();
        let mut timers: Vec<Timer> = Vec::new();
        let mut signed: Vec<DuplicateEntry> = Vec::new();
        let mut after: Option<TicketId> = None;
        let mut read = 0;
        loop {
            // The last page's filings are written while the next page is read and signed:
            // Redis, PostgreSQL and the signing work at once.
            let (filed, next) = tokio::join!(
                filings.add(std::mem::take(&mut signed)),
                self.rebuild_page(after)
            );
            filed?;
            let Some(page) = next? else {
                break;
            };
            read += page.tickets;
            after = Some(page.last);
            entries.extend(page.entries);
            timers.extend(page.timers);
            signed = page.filings;
            self.pauses.hit(PausePoint::RebuildBetweenPages).await;
        }
        tracing::info!(tickets = read, "working set rebuild read the open tickets");
        phase.done("read_sign_file");
        self.pauses.hit(PausePoint::RebuildAfterSnapshot).await;
        let counts = (entries.len(), timers.len());
        let first_due = timers.iter().map(|t| t.fire_at_ms).min();
        // Where the rebuild puts each ticket: a ticket changed since may need taking off there.
        let was_on: HashMap<TicketId, Vec<StationId>> = entries
            .iter()
            .map(|e| (e.ticket, vec![e.station.clone()]))
            .collect();
        // Each backend swaps its new copy in whole (the queue station by station), so a
        // reader sees the old set or the new one.
        self.queue.rebuild(entries).await?;
        phase.done("queue");
        self.timers.rebuild(timers).await?;
        phase.done("timers");
        filings.finish().await?;
        phase.done("duplicates");
        if let Some(due) = first_due {
            self.alarm.scheduled(due);
        }
        self.pauses.hit(PausePoint::RebuildAfterApply).await;

        // Everything committed after the cursor, as it is now. A change whose own update
        // landed before the replace above was undone by it; this puts it back.
        let (changed, _) = self.store.changed_since(&cursor).await?;
        let mut caught_up = 0;
        for chunk in changed.chunks(1_000) {
            let tickets = self.store.get_many(chunk).await?;
            caught_up += tickets.len();
            self.settle(tickets, &was_on).await?;
        }
        phase.done("catch_up");
        {
            let mut pending = self.state.pending();
            for (id, stations) in &covered {
                if pending.get(id) == Some(stations) {
                    pending.remove(id);
                }
            }
        }
        tracing::info!(
            queued = counts.0,
            timers = counts.1,
            caught_up,
            "working set rebuilt from the store"
        );
        Ok(counts)
    }

    /// One anti-entropy round within `budget`, from `cursor`: the store's live tickets at each
    /// station against its queue, their pending timers and their duplicate filings, and the
    /// queue's entries against the store. A difference is re-read from the store and counted as
    /// drift only if the ticket has not changed in the last `grace` (an update in flight is not
    /// drift); drift is repaired and counted in `hotline_working_set_drift_total`.
    ///
    /// Cost per page of [`AUDIT_PAGE`] tickets: one index range of the store and one queue
    /// read, a timer read per ticket, one filing read. Timers of tickets no longer live are not
    /// looked for: when one comes due it finds its ticket moved on and is dropped without
    /// effect.
    pub async fn audit(
        &self,
        cursor: &mut AuditCursor,
        budget: AuditBudget,
        grace: Duration,
        now: DateTime<Utc>,
    ) -> Result<Drift, RouterError> {
        let stations: Vec<StationId> = self.directory.stations().map(|s| s.id.clone()).collect();
        let mut drift = Drift::default();
        let budget_tickets = budget.tickets.max(1);
        while drift.stations < budget.stations.max(1) && drift.tickets < budget_tickets {
            let at = match &mut cursor.at {
                Some(at) => at,
                None => {
                    if cursor.next >= stations.len() {
                        cursor.next = 0;
                    }
                    let station = stations[cursor.next].clone();
                    cursor.next += 1;
                    cursor.at.insert(StationAudit::start(station))
                }
            };
            let limit = AUDIT_PAGE.min(budget_tickets - drift.tickets);
            let done = self.audit_page(at, limit, grace, now, &mut drift).await?;
            if done {
                cursor.at = None;
                drift.stations += 1;
            }
        }
        for (kind, count) in [
            ("missing", drift.missing),
            ("stale", drift.stale),
            ("timers", drift.timers),
            ("filings", drift.filings),
        ] {
            if count > 0 {
                metrics::counter!("hotline_working_set_drift_total", "kind" => kind)
                    .increment(count as u64);
            }
        }
        if drift.total() > 0 {
            tracing::warn!(?drift, "anti-entropy repaired working-set drift");
        }
        Ok(drift)
    }

    /// The stages whose tickets belong to `station`'s queue or timers, and the station to ask
    /// the store about (`None`: any). The centre's triage queue holds the tickets no station
    /// holds: those waiting for dispatch, and those merged into an incident (no queue, no
    /// timers, but filed in the duplicate index).
    fn audited_at<'a>(&self, station: &'a StationId) -> (&'static [Stage], Option<&'a StationId>) {
        if *station == self.directory.triage_station().id {
            (&[Stage::PendingDispatch, Stage::Merged], None)
        } else {
            (&LIVE_STAGES, Some(station))
        }
    }

    /// One page of a station's audit, at most `limit` tickets. Returns whether the station is
    /// done.
    async fn audit_page(
        &self,
        at: &mut StationAudit,
        limit: usize,
        grace: Duration,
        now: DateTime<Utc>,
        drift: &mut Drift,
    ) -> Result<bool, RouterError> {
        let station = at.station.clone();
        let (stages, store_station) = self.audited_at(&station);
        if let Some(stage) = stages.get(at.stage) {
            let page = self
                .store
                .stage_page(store_station, *stage, at.after, limit as u32)
                .await?;
            if page.len() < limit {
                at.stage += 1;
                at.after = None;
            } else {
                at.after = page.last().map(|t| t.id);
            }
            self.audit_stored(&station, page, grace, now, drift).await?;
            return Ok(false);
        }
        let (queued, next) = self.queue.scan(&station, &at.queue, limit).await?;
        self.audit_queued(&station, queued, grace, now, drift)
            .await?;
        match next {
            Some(next) => {
                at.queue = next;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// A page of the store's tickets at `station` against its queue, their timers and their
    /// filings.
    async fn audit_stored(
        &self,
        station: &StationId,
        stored: Vec<Ticket>,
        grace: Duration,
        now: DateTime<Utc>,
        drift: &mut Drift,
    ) -> Result<(), RouterError> {
        drift.tickets += stored.len();
        let expected: Vec<TicketId> = stored
            .iter()
            .filter(|t| self.station_for(t).as_ref() == Some(station))
            .map(|t| t.id)
            .collect();
        let held = self.queue.holds(station, &expected).await?;
        let missing: Vec<TicketId> = expected
            .iter()
            .zip(held)
            .filter(|(_, held)| !held)
            .map(|(id, _)| *id)
            .collect();
        // Timers: the future steps each live ticket's state calls for, against those pending.
        // Due ones may be in flight (claimed, so not pending): only the future is compared.
        let horizon = (now + grace).timestamp_millis();
        let mut checks = Vec::with_capacity(stored.len());
        for ticket in &stored {
            checks.push(self.timers_differ(ticket, horizon));
        }
        let timers_off: Vec<TicketId> = bounded(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        // Filings of the same tickets (only those the store lists at this station: a ticket
        // filed after it closed is never found here, and costs a lookup a store read, not a
        // wrong link, as every candidate is checked against the store).
        let filings_off = self.filings_differ(&stored).await?;
        let suspects = Suspects {
            missing,
            timers: timers_off,
            filings: filings_off,
            ..Suspects::default()
        };
        self.repair_suspects(station, suspects, now, grace, drift)
            .await
    }

    /// A page of `station`'s queue against the store: entries of tickets that are not there.
    async fn audit_queued(
        &self,
        station: &StationId,
        queued: Vec<TicketId>,
        grace: Duration,
        now: DateTime<Utc>,
        drift: &mut Drift,
    ) -> Result<(), RouterError> {
        drift.tickets += queued.len();
        if queued.is_empty() {
            return Ok(());
        }
        let placed: HashSet<TicketId> = self
            .store
            .get_many(&queued)
            .await?
            .iter()
            .filter(|t| self.station_for(t).as_ref() == Some(station))
            .map(|t| t.id)
            .collect();
        let stale: Vec<TicketId> = queued
            .into_iter()
            .filter(|id| !placed.contains(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let suspects = Suspects {
            stale,
            ..Suspects::default()
        };
        self.repair_suspects(station, suspects, now, grace, drift)
            .await
    }

    /// Re-reads the suspects of one page and repairs those that have not changed in `grace`.
    async fn repair_suspects(
        &self,
        station: &StationId,
        found: Suspects,
        now: DateTime<Utc>,
        grace: Duration,
        drift: &mut Drift,
    ) -> Result<(), RouterError> {
        let suspects: HashSet<TicketId> = found
            .missing
            .iter()
            .chain(&found.stale)
            .chain(&found.timers)
            .chain(&found.filings)
            .copied()
            .collect();
        if suspects.is_empty() {
            return Ok(());
        }
        // Re-read before calling it drift: only tickets that have not changed lately.
        let ids: Vec<TicketId> = suspects.into_iter().collect();
        let current: HashMap<TicketId, Ticket> = self
            .store
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let settled = |id: &TicketId| current.get(id).is_none_or(|t| t.updated_at <= now - grace);
        let mut repair: Vec<Ticket> = Vec::new();
        let mut maybe_on: HashMap<TicketId, Vec<StationId>> = HashMap::new();
        for id in &found.missing {
            if settled(id) {
                if let Some(t) = current.get(id) {
                    if self.station_for(t).as_ref() == Some(station) {
                        drift.missing += 1;
                        repair.push(t.clone());
                    }
                }
            }
        }
        for id in &found.stale {
            if !settled(id) {
                continue;
            }
            match current.get(id) {
                Some(t) if self.station_for(t).as_ref() != Some(station) => {
                    drift.stale += 1;
                    maybe_on.insert(*id, vec![station.clone()]);
                    repair.push(t.clone());
                }
                Some(_) => {}
                None => {
                    // A ticket the store has never heard of: take it off.
                    drift.stale += 1;
                    self.queue.remove(*id, station, ANY_VERSION).await?;
                }
            }
        }
        for id in &found.timers {
            if let (true, Some(t)) = (settled(id), current.get(id)) {
                drift.timers += 1;
                if !repair.iter().any(|r| r.id == *id) {
                    repair.push(t.clone());
                }
            }
        }
        for id in &found.filings {
            if let (true, Some(t)) = (settled(id), current.get(id)) {
                drift.filings += 1;
                if !repair.iter().any(|r| r.id == *id) {
                    repair.push(t.clone());
                }
            }
        }
        self.settle(repair, &maybe_on).await
    }

    /// Whether the ticket's pending timers after `horizon` differ from what its state calls
    /// for (`Some(ticket)` when they do).
    async fn timers_differ(
        &self,
        ticket: &Ticket,
        horizon: i64,
    ) -> Result<Option<TicketId>, RouterError> {
        let want: HashSet<Timer> = escalation::plan(ticket, &self.sla, &self.escalation)
            .into_iter()
            .filter(|t| t.fire_at_ms > horizon)
            .collect();
        let have: HashSet<Timer> = self
            .timers
            .timers_of(ticket.id)
            .await?
            .into_iter()
            .filter(|t| t.fire_at_ms > horizon)
            .collect();
        Ok((want != have).then_some(ticket.id))
    }

    /// One page of a rebuild: the open tickets after `after` (`None` when there are no more),
    /// with their queue entries, timers and filings computed off the async workers, in as
    /// many threads as there are cores (a signature is tens of microseconds: a minute of one
    /// core for a million tickets).
    async fn rebuild_page(&self, after: Option<TicketId>) -> Result<Option<Page>, RouterError> {
        let limit = self.rebuild_page.load(Ordering::Relaxed);
        let tickets = self.store.live_page(&OPEN_STAGES, after, limit).await?;
        let Some(last) = tickets.last().map(|t| t.id) else {
            return Ok(None);
        };
        let set = self.clone();
        tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = tickets.len().div_ceil(threads).max(1);
            let parts: Vec<Page> = std::thread::scope(|scope| {
                let workers: Vec<_> = tickets
                    .chunks(chunk)
                    .map(|part| scope.spawn(|| set.page_of(part)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("signing a page of tickets panicked"))
                    .collect()
            });
            let mut page = Page {
                last,
                tickets: tickets.len(),
                ..Page::default()
            };
            for part in parts {
                page.entries.extend(part.entries);
                page.timers.extend(part.timers);
                page.filings.extend(part.filings);
            }
            Some(page)
        })
        .await
        .map_err(|err| RouterError::internal(anyhow::anyhow!("signing tickets failed: {err}")))
    }

    /// The queue entries, timers and filings `tickets` call for (`last` and `tickets` left
    /// unset).
    fn page_of(&self, tickets: &[Ticket]) -> Page {
        let mut page = Page::default();
        for ticket in tickets {
            if LIVE_STAGES.contains(&ticket.stage) {
                page.entries.extend(self.entry_for(ticket));
                page.timers
                    .extend(escalation::plan(ticket, &self.sla, &self.escalation));
            }
            let Some(key) = duplicate_key(ticket) else {
                continue;
            };
            if let Some(bands) = hotline_routing::minhash::bands(&ticket.text) {
                page.filings.push(DuplicateEntry {
                    ticket: ticket.id,
                    key,
                    created_at: ticket.created_at,
                    bands: bands.as_slice().to_vec(),
                });
            }
        }
        page
    }

    /// The tickets of `stored` the duplicate index files differently from their state (or
    /// not at all, or files though it should not).
    async fn filings_differ(&self, stored: &[Ticket]) -> Result<Vec<TicketId>, RouterError> {
        let ids: Vec<TicketId> = stored.iter().map(|t| t.id).collect();
        let filed = self.duplicates.filed(&ids).await?;
        Ok(stored
            .iter()
            .filter(|t| {
                let want = duplicate_key(t)
                    .filter(|_| !hotline_routing::duplicates::shingles(&t.text).is_empty());
                let have = filed.get(&t.id);
                match (want, have) {
                    // The index keeps creation times to the millisecond.
                    (Some(key), Some(have)) => {
                        have.key != key
                            || have.created_at.timestamp_millis() != t.created_at.timestamp_millis()
                    }
                    (None, None) => false,
                    _ => true,
                }
            })
            .map(|t| t.id)
            .collect())
    }

    async fn place_owned(
        &self,
        ticket: &Ticket,
        maybe_on: Vec<StationId>,
    ) -> Result<(), RouterError> {
        self.place(ticket, &maybe_on).await
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

/// Where the duplicate index files a ticket, by its state alone: its division and category
/// while it is not closed (the store's `live_in` matches the same).
fn duplicate_key(ticket: &Ticket) -> Option<DuplicateKey> {
    if ticket.stage == Stage::Closed {
        return None;
    }
    Some(DuplicateKey::new(
        ticket.division.clone()?,
        ticket.category.clone()?,
    ))
}

/// What one page of a rebuild calls for (see [`WorkingSet::rebuild_page`]).
#[derive(Default)]
struct Page {
    /// The page's last ticket: the next page starts after it.
    last: TicketId,
    /// Tickets read.
    tickets: usize,
    entries: Vec<QueueEntry>,
    timers: Vec<Timer>,
    filings: Vec<DuplicateEntry>,
}

/// Wall time of a rebuild's phases, logged as each ends (issue 13: which phase grows with the
/// number of open tickets).
struct Phases(std::time::Instant);

impl Phases {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn done(&mut self, phase: &'static str) {
        let ms = self.0.elapsed().as_millis() as u64;
        tracing::info!(phase, ms, "working set rebuild phase");
        self.0 = std::time::Instant::now();
    }
}

/// Runs `work` with at most [`PLACE_CONCURRENCY`] in flight; answers in the order given.
async fn bounded<F: std::future::Future>(work: Vec<F>) -> Vec<F::Output> {
    stream::iter(work)
        .buffered(PLACE_CONCURRENCY)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use futures::FutureExt;

    use super::*;

    #[test]
    fn a_kept_signature_is_taken_once_for_its_exact_text_and_the_oldest_go_first() {
        let signed = Signed::default();
        signed.keep("路灯坏了", &[1, 2]);
        assert_eq!(signed.take("路灯坏了！"), None);
        assert_eq!(signed.take("路灯坏了"), Some(vec![1, 2]));
        assert_eq!(signed.take("路灯坏了"), None);
        for n in 0..=SIGNED_KEPT as u64 {
            signed.keep(&format!("第{n}条"), &[n]);
        }
        assert_eq!(signed.take("第0条"), None);
        assert_eq!(signed.take("第1条"), Some(vec![1]));
        let last = format!("第{SIGNED_KEPT}条");
        assert_eq!(signed.take(&last), Some(vec![SIGNED_KEPT as u64]));
    }

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

    #[tokio::test]
    async fn an_armed_pause_point_holds_until_resumed() {
        let points = Arc::new(PausePoints::default());
        let paused = points.arm(PausePoint::RebuildAfterApply);
        let held = tokio::spawn({
            let points = points.clone();
            async move { points.hit(PausePoint::RebuildAfterApply).await }
        });
        paused.reached.await.unwrap();
        assert!(!held.is_finished());
        paused.resume.send(()).unwrap();
        held.await.unwrap();
        // Disarmed once hit: the next pass does not wait.
        points.hit(PausePoint::RebuildAfterApply).await;
    }
}
