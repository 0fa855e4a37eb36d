//! The duplicate index (part of the working set): which live tickets of a territory and
//! category look like a new request, found in a cost that does not grow with the number of
//! live tickets.
//!
//! Each live ticket is filed under its [`DuplicateKey`] (division and category, exactly as the
//! store's `live_in` matches them) once per band of its text's MinHash signature
//! (`hotline_routing::minhash`, computed by the caller: this crate knows nothing of text). A
//! band's *bucket* is the hash of (key, band number, band hash) ([`bucket`]); a lookup reads the
//! new request's [`BANDS`](DuplicateEntry::bands) buckets and ranks the tickets found by how many
//! bands they share (more shared bands, more likely similar), newest first on ties.
//!
//! # Why the cost is flat
//! A lookup reads at most [`LOOKUP_READ`] filings in all, and at most [`BUCKET_READ`] of one
//! bucket (the newest inside the time window: buckets are kept newest first), whatever the
//! number of live tickets, and hands back at most `limit` candidates for the exact check. It
//! reads the request's buckets from the least crowded (inside the window) to the most, until
//! the total is spent. Crowded buckets are those whose band is made of common bigrams (`小区`,
//! `物业`): they fill with unrelated tickets as the live tickets grow, and say least about the
//! request. A true duplicate shares several bands with the request (6 of 20 at the threshold,
//! many more for a re-post), and the rarest of them is read first, so the bounds cost recall
//! only when every band it shares is crowded, when the index is full of near-copies, which
//! the exact rule would also compare with only the newest (the store scan it replaces read the
//! newest 100).
//!
//! Before the total bound, a lookup read up to `bands x BUCKET_READ` = 1,600 filings, all of
//! them once the buckets filled: 2.3 µs at 1,000 live tickets of a key, 31 µs at 100,000, in
//! process (`examples/dup_index_bench.rs`).
//!
//! # Truth and repair
//! Like the queues, the index is derived: the store is the truth, [`DuplicateIndex::rebuild`]
//! recreates it from the store's live tickets, and the router re-files a ticket after each
//! committed change (`hotline_router::working_set`). The caller checks every candidate against
//! the store (still live, same key, inside the window) and the exact similarity, so a stale
//! entry costs a read, never a wrong link.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::{CategoryCode, DivisionCode, TicketId};

use crate::QueueError;

/// The newest tickets read from each bucket per lookup (see the module docs). 16 since
/// 2026-12-07 (32 before): the recall test (`tests/duplicate_recall.rs`) still misses no pair
/// the exact rule finds (it misses one at 4), and Redis keeps and moves half the bytes per bucket.
pub const BUCKET_READ: usize = 16;

/// The filings a lookup reads in all, from its least crowded buckets (see the module docs).
pub const LOOKUP_READ: usize = 128;

/// How many candidates a lookup hands to the exact check (the router reads their texts): the
/// best-ranked ones. A duplicate at the threshold (Jaccard 0.3) shares about 6 of 20 bands;
/// unrelated tickets of the same key rarely share more than one (the router does not verify
/// those: `hotline_routing::minhash::MIN_SHARED`).
pub const VERIFY_LIMIT: usize = 32;

/// Where a ticket is filed: its division (community, street or district, whatever the ticket
/// names) and category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DuplicateKey {
    pub division: DivisionCode,
    pub category: CategoryCode,
}

impl DuplicateKey {
    pub fn new(division: DivisionCode, category: CategoryCode) -> Self {
        Self { division, category }
    }

    /// `division|category`: how the Redis backend records the key (neither code holds `|`).
    pub fn name(&self) -> String {
        format!("{}|{}", self.division.as_str(), self.category.as_str())
    }

    pub fn parse(name: &str) -> Option<Self> {
        let (division, category) = name.split_once('|')?;
        Some(Self {
            division: DivisionCode::parse("division", division).ok()?,
            category: CategoryCode::parse("category", category).ok()?,
        })
    }

    /// A stable 64-bit hash of the key (FNV-1a, then mixed): the same in every process.
    pub fn hash64(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.name().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        mix(hash)
    }
}

/// A live ticket as the index files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateEntry {
    pub ticket: TicketId,
    pub key: DuplicateKey,
    /// Its creation time: the duplicate window counts from it.
    pub created_at: DateTime<Utc>,
    /// The band hashes of its text, in band order (at most 255).
    pub bands: Vec<u64>,
}

impl DuplicateEntry {
    /// The buckets it is filed in, one per band.
    pub fn buckets(&self) -> Vec<u64> {
        buckets(&self.key, &self.bands)
    }
}

/// A ticket a lookup found, with how many of the request's bands it shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket: TicketId,
    pub created_at: DateTime<Utc>,
    pub shared_bands: usize,
}

/// Where the index has a ticket filed (for anti-entropy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub key: DuplicateKey,
    pub created_at: DateTime<Utc>,
}

/// The live tickets of each key, by the bands of their texts.
// `len` is a remote count for metrics and tests; an `is_empty` would add nothing.
#[allow(clippy::len_without_is_empty)]
#[async_trait]
pub trait DuplicateIndex: Send + Sync + 'static {
    /// Files the ticket under `entry.key` and its bands, replacing wherever it was filed
    /// before (another key after a re-categorisation), atomically. Idempotent.
    async fn put(&self, entry: DuplicateEntry) -> Result<(), QueueError>;

    /// Takes the ticket out (closed, or no longer has a division or category). Returns whether
    /// it was filed.
    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError>;

    /// The tickets of `key` created at or after `since` that share a band with `bands`: at most
    /// [`BUCKET_READ`] per bucket, the newest, and [`LOOKUP_READ`] in all, from the least
    /// crowded buckets; ranked by shared bands, then newest first; at most `limit`. `None` when
    /// the index lost its data since its last [`DuplicateIndex::rebuild`] (the caller then asks
    /// the store).
    async fn candidates(
        &self,
        key: &DuplicateKey,
        bands: &[u64],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<Candidate>>, QueueError>;

    /// Where each of `tickets` is filed (those not filed are left out), in one round trip.
    async fn filed(&self, tickets: &[TicketId]) -> Result<HashMap<TicketId, Filed>, QueueError>;

    /// Starts replacing the whole index: the entries given to the returned
    /// [`DuplicateRebuild`] are filed in a new index that lookups do not see until
    /// [`DuplicateRebuild::finish`] swaps it in whole (dropped unfinished, the old index
    /// stays). The caller feeds it page by page, so neither side holds a city's filings at
    /// once (issue 13: a rebuild at 1M open tickets).
    async fn start_rebuild(&self) -> Result<Box<dyn DuplicateRebuild + '_>, QueueError>;

    /// Replaces the whole index with `entries` (from the store): [`DuplicateIndex::start_rebuild`]
    /// fed once.
    async fn rebuild(&self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError> {
        let mut rebuild = self.start_rebuild().await?;
        rebuild.add(entries).await?;
        rebuild.finish().await
    }

    /// Number of tickets filed.
    async fn len(&self) -> Result<usize, QueueError>;

    /// False when the index lost its data since the last [`DuplicateIndex::rebuild`] (or was
    /// never built): it must be rebuilt from the store before it can be trusted.
    async fn is_intact(&self) -> Result<bool, QueueError>;

    /// Deletes what replaced or abandoned rebuilds left behind; returns how many of them.
    /// A backend that swaps a whole new index in frees the old one here rather than in
    /// [`DuplicateRebuild::finish`], so a failure to free never fails a rebuild, and any
    /// replica finishes what another began. A rebuild silent for an hour counts as abandoned
    /// (its router died) as of `now`. In-process, dropping the old index frees it: nothing to
    /// do.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, QueueError> {
        let _ = now;
        Ok(0)
    }
}

/// A new index being built (see [`DuplicateIndex::start_rebuild`]).
#[async_trait]
pub trait DuplicateRebuild: Send {
    /// Files `entries` in the new index. A ticket filed again (in this call or an earlier
    /// one) keeps its last entry, as a sequence of [`DuplicateIndex::put`]s would leave it.
    async fn add(&mut self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError>;

    /// Swaps the new index in for the old one, atomically: a lookup sees one or the other.
    async fn finish(self: Box<Self>) -> Result<(), QueueError>;
}

/// The bucket of band number `band` with hash `band_hash` under a key of hash `key_hash`.
pub fn bucket(key_hash: u64, band: usize, band_hash: u64) -> u64 {
    mix(mix(key_hash ^ (band as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ band_hash)
}

/// The buckets of `bands` under `key`, in band order.
pub fn buckets(key: &DuplicateKey, bands: &[u64]) -> Vec<u64> {
    let key_hash = key.hash64();
    bands
        .iter()
        .enumerate()
        .map(|(band, hash)| bucket(key_hash, band, *hash))
        .collect()
}

/// SplitMix64's finaliser (the same as `hotline_routing::minhash::mix`; copied, as this crate
/// does not depend on routing): stable across processes and versions.
const fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Creation time as the index orders it: newest first is ascending `rev`, so a bucket (a Redis
/// sorted set by lexical order, or a sorted vector) reads its newest entries first.
pub(crate) fn rev_of(created_at: DateTime<Utc>) -> u64 {
    u64::MAX - created_at.timestamp_millis().max(0) as u64
}

pub(crate) fn created_of(rev: u64) -> DateTime<Utc> {
    let ms = i64::try_from(u64::MAX - rev).unwrap_or(i64::MAX);
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Ranks what the buckets gave (`((rev, ticket), shared bands)`, each ticket once): most shared
/// bands first, then newest, then by id; at most `limit`. Both backends rank with this, so they
/// agree.
pub(crate) fn rank(mut ranked: Vec<((u64, TicketId), usize)>, limit: usize) -> Vec<Candidate> {
    ranked.sort_unstable_by(|(a, a_hits), (b, b_hits)| b_hits.cmp(a_hits).then(a.cmp(b)));
    ranked.truncate(limit);
    ranked
        .into_iter()
        .map(|((rev, ticket), shared_bands)| Candidate {
            ticket,
            created_at: created_of(rev),
            shared_bands,
        })
        .collect()
}

#[derive(Debug)]
struct FiledState {
    key: DuplicateKey,
    rev: u64,
    buckets: Vec<u64>,
}

#[derive(Debug, Default)]
struct State {
    tickets: HashMap<TicketId, FiledState>,
    /// bucket -> (rev, ticket), ascending: newest first.
    buckets: HashMap<u64, Vec<(u64, TicketId)>>,
}

impl State {
    fn drop_ticket(&mut self, ticket: TicketId) -> bool {
        let Some(old) = self.tickets.remove(&ticket) else {
            return false;
        };
        for bucket in old.buckets {
            if let Some(list) = self.buckets.get_mut(&bucket) {
                if let Ok(at) = list.binary_search(&(old.rev, ticket)) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.buckets.remove(&bucket);
                }
            }
        }
        true
    }

    fn file(&mut self, entry: DuplicateEntry) {
        let rev = rev_of(entry.created_at);
        let buckets = entry.buckets();
        for bucket in &buckets {
            let list = self.buckets.entry(*bucket).or_default();
            if let Err(at) = list.binary_search(&(rev, entry.ticket)) {
                list.insert(at, (rev, entry.ticket));
            }
        }
        self.tickets.insert(
            entry.ticket,
            FiledState {
                key: entry.key,
                rev,
                buckets,
            },
        );
    }
}

/// The in-process duplicate index of the embedded default. Not intact until its first
/// rebuild, like the in-process queue: a new process must fill it from the store.
#[derive(Debug, Default)]
pub struct MemoryDuplicates {
    state: Mutex<State>,
    built: AtomicBool,
}

impl MemoryDuplicates {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl DuplicateIndex for MemoryDuplicates {
    async fn put(&self, entry: DuplicateEntry) -> Result<(), QueueError> {
        let mut state = self.state();
        state.drop_ticket(entry.ticket);
        state.file(entry);
        Ok(())
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        Ok(self.state().drop_ticket(ticket))
    }

    async fn candidates(
        &self,
        key: &DuplicateKey,
        bands: &[u64],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<Candidate>>, QueueError> {
        if !self.built.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let max_rev = rev_of(since);
        let state = self.state();
        // Each bucket's filings inside the window: a prefix, as a bucket is newest first.
        let mut lists: Vec<&[(u64, TicketId)]> = buckets(key, bands)
            .into_iter()
            .filter_map(|bucket| state.buckets.get(&bucket))
            .map(|list| match list.last() {
                // Usually the whole bucket is inside the window: no search through it.
                Some((rev, _)) if *rev <= max_rev => &list[..],
                _ => &list[..list.partition_point(|(rev, _)| *rev <= max_rev)],
            })
            .filter(|list| !list.is_empty())
            .collect();
        // The least crowded first; a stable sort keeps band order on ties, as the Redis
        // script does.
        lists.sort_by_key(|list| list.len());
        let mut read: Vec<(u64, TicketId)> = Vec::with_capacity(LOOKUP_READ);
        for list in lists {
            let take = list.len().min(BUCKET_READ).min(LOOKUP_READ - read.len());
            read.extend_from_slice(&list[..take]);
            if read.len() == LOOKUP_READ {
                break;
            }
        }
        drop(state);
        // Counted by sorting: a few hundred pairs, where a hash map cost more than the reads.
        read.sort_unstable();
        let mut counted: Vec<((u64, TicketId), usize)> = Vec::with_capacity(read.len());
        for filing in read {
            match counted.last_mut() {
                Some((last, hits)) if *last == filing => *hits += 1,
                _ => counted.push((filing, 1)),
            }
        }
        Ok(Some(rank(counted, limit)))
    }

    async fn filed(&self, tickets: &[TicketId]) -> Result<HashMap<TicketId, Filed>, QueueError> {
        let state = self.state();
        Ok(tickets
            .iter()
            .filter_map(|id| {
                state.tickets.get(id).map(|f| {
                    (
                        *id,
                        Filed {
                            key: f.key.clone(),
                            created_at: created_of(f.rev),
                        },
                    )
                })
            })
            .collect())
    }

    async fn start_rebuild(&self) -> Result<Box<dyn DuplicateRebuild + '_>, QueueError> {
        Ok(Box::new(MemoryRebuild {
            index: self,
            fresh: State::default(),
        }))
    }

    async fn len(&self) -> Result<usize, QueueError> {
        Ok(self.state().tickets.len())
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        Ok(self.built.load(Ordering::SeqCst))
    }
}

/// A new in-process index, built beside the old one and swapped in under the lock.
struct MemoryRebuild<'a> {
    index: &'a MemoryDuplicates,
    fresh: State,
}

#[async_trait]
impl DuplicateRebuild for MemoryRebuild<'_> {
    async fn add(&mut self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError> {
        for entry in entries {
            self.fresh.drop_ticket(entry.ticket);
            self.fresh.file(entry);
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<(), QueueError> {
        *self.index.state() = self.fresh;
        self.index.built.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_tickets_order_first_and_times_round_trip() {
        let early = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let late = early + chrono::Duration::minutes(1);
        assert!(rev_of(late) < rev_of(early));
        assert_eq!(created_of(rev_of(early)), early);
    }

    #[test]
    fn key_hashes_are_fixed_across_processes() {
        let key = DuplicateKey::new(
            DivisionCode::parse("d", "320508021019").unwrap(),
            CategoryCode::parse("c", "SQ.JTBL").unwrap(),
        );
        assert_eq!(DuplicateKey::parse(&key.name()), Some(key.clone()));
        // Pinned: replicas of different builds must file a ticket in the same buckets.
        assert_eq!(key.hash64(), KEY_HASH, "{:#x}", key.hash64());
        assert_ne!(bucket(1, 0, 7), bucket(1, 1, 7));
    }

    const KEY_HASH: u64 = 0xdc36_0552_e6b9_afa6;
}
