//! [`RedisDuplicates`]: the duplicate index in Redis, shared by every replica (so each sees
//! the same live tickets).
//!
//! Two hashes per generation (layout in [`keys`](super::keys) and `scripts/dup_prelude.lua`):
//! bucket -> its filings packed newest first, and ticket -> its record. A lookup is one
//! `HMGET` of the request's buckets, in one `MULTI` with the check that the generation it reads
//! is still current (counted and ranked here: the least crowded inside the window first, at
//! most [`BUCKET_READ`] of one and [`LOOKUP_READ`] in all), a filing one script of four Redis
//! calls, whatever the number of live tickets. The record lets filing
//! again (a re-categorisation) or removing drop the old filings without the caller naming
//! them.
//!
//! Before (2026-12), every filing sat in one sorted set: each band of a lookup or a filing was a
//! skip-list descent through 50 x live members, most levels a cache miss, and Redis spent
//! ~450 µs of CPU per routed submit at 2,000 live tickets, more as they grew
//! (`benches/cpu/run.sh`, issue 13). One sorted set per bucket made it flat but cost ~100
//! Redis calls from Lua per routed submit (~270 µs).
//!
//! A bucket keeps its newest [`BUCKET_KEEP`] filings: a lookup reads at most [`BUCKET_READ`]
//! of one, so older ones in a crowded bucket (a band of common bigrams) only made it longer.
//! Such a ticket is still found through its other bands.
//!
//! A rebuild fills a fresh generation while lookups read the current one, then swaps it in
//! with one script; the generation it replaced is deleted by [`DuplicateIndex::sweep`] (two
//! UNLINKs, freed off Redis's main thread), and so is a rebuild abandoned by its router.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{Clock, SystemClock, TicketId};

use super::keys::{DuplicateKeys, Prefix};
use super::scripts::SCRIPTS;
use super::{corrupt, unavailable, Conn, Target};
use crate::duplicates::{created_of, rank, rev_of, BUCKET_READ, LOOKUP_READ};
use crate::{
    Candidate, DuplicateEntry, DuplicateIndex, DuplicateKey, DuplicateRebuild, Filed, QueueError,
};

/// The filings a bucket keeps, the newest (see the module docs): what a lookup reads of one,
/// and a quarter more, so a few closings in a crowded bucket do not leave it short. Every
/// filing reads and writes each of its buckets whole, through Lua: at 128 (before 2026-12-06),
/// a surge or a preload of cloned texts filled them and a filing cost Redis ~1 ms of CPU
/// (rebuilding 1M live tickets took 887 s); at 40 (50 bands), ~0.25 ms. At 20 (20 bands, since
/// 2026-12-07), a filing into full buckets costs ~85-105 µs against ~135-140 µs at 40, timed
/// alone on a private redis-server: Lua pays for every byte a script reads or writes (issue 13).
pub const BUCKET_KEEP: usize = BUCKET_READ + BUCKET_READ / 4;
/// Tickets per fill script when rebuilding: one call holds Redis for a millisecond or two.
const FILL_CHUNK: usize = 100;
/// Tickets per [`DuplicateIndex::filed`] script (Lua unpacks its arguments on a bounded stack).
const FILED_CHUNK: usize = 1_000;
/// How long a rebuild may go without filing a page before a sweep counts it as abandoned (its
/// router died) and deletes what it wrote. A page takes well under a second; an hour leaves
/// any rebuild that is still alive in peace.
const ABANDONED_AFTER_MS: i64 = 3_600_000;

/// How many times a lookup reads again when a rebuild swapped a new generation in meanwhile.
const GEN_TRIES: usize = 4;

/// See the module docs.
#[derive(Clone)]
pub struct RedisDuplicates {
    conn: Conn,
    keys: DuplicateKeys,
    /// The generation a lookup found current last time (shared by clones): the next lookup
    /// reads its buckets in the same round trip as it checks it is still current.
    last_gen: Arc<Mutex<Option<String>>>,
    /// The time of a rebuild's heartbeats (the router's clock; the wall clock by default).
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisDuplicates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDuplicates")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisDuplicates {
    /// Connects to the Redis at `url` and works under `prefix` (shared by every replica of one
    /// deployment) and `scheme` (the signature scheme the caller's bands follow).
    pub async fn connect(url: &str, prefix: &str, scheme: &str) -> Result<Self, QueueError> {
        let keys = DuplicateKeys::new(&Prefix::parse(prefix)?, &Prefix::parse(scheme)?);
        let conn = super::connect(&Target::parse(url)?).await?;
        Ok(Self {
            conn,
            keys,
            last_gen: Arc::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Stamps a rebuild's heartbeats with `clock` (the router's), which the sweep's `now` is
    /// compared with.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    fn last_gen(&self) -> Option<String> {
        self.last_gen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn remember_gen(&self, gen: &str) {
        *self
            .last_gen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(gen.to_owned());
    }
}

/// The ticket as it appears in members and fields: its 16 bytes.
fn ticket_bytes(ticket: TicketId) -> [u8; 16] {
    *ticket.as_uuid().as_bytes()
}

fn ticket_from(bytes: &[u8]) -> Result<TicketId, QueueError> {
    let raw: [u8; 16] = bytes
        .try_into()
        .map_err(|_| corrupt("a duplicate-index ticket that is not 16 bytes"))?;
    Ok(TicketId::from_uuid(uuid::Uuid::from_bytes(raw)))
}

/// The entry's record (layout in `scripts/dup_prelude.lua`): the scripts derive its members
/// from it.
fn encode(entry: &DuplicateEntry) -> Result<Vec<u8>, QueueError> {
    let buckets = entry.buckets();
    let count = u8::try_from(buckets.len())
        .map_err(|_| QueueError::Broken(format!("{} bands (at most 255)", buckets.len())))?;
    let mut record = Vec::with_capacity(9 + 8 * buckets.len() + 32);
    record.push(count);
    record.extend_from_slice(&rev_of(entry.created_at).to_be_bytes());
    for bucket in buckets {
        record.extend_from_slice(&bucket.to_be_bytes());
    }
    record.extend_from_slice(entry.key.name().as_bytes());
    Ok(record)
}

/// Where a record says its ticket is filed.
fn decode(record: &[u8]) -> Result<Filed, QueueError> {
    let bad = || corrupt("a duplicate-index record");
    let count = usize::from(*record.first().ok_or_else(bad)?);
    let rev: [u8; 8] = record
        .get(1..9)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let name = record.get(9 + 8 * count..).ok_or_else(bad)?;
    let key = std::str::from_utf8(name)
        .ok()
        .and_then(DuplicateKey::parse)
        .ok_or_else(bad)?;
    Ok(Filed {
        key,
        created_at: created_of(u64::from_be_bytes(rev)),
    })
}

/// What a lookup reads of its buckets' packed filings (newest first, 24 bytes each): those
/// inside the window (`rev <= newest_rev`), the least crowded buckets first (ties in band
/// order), at most [`BUCKET_READ`] of one and [`LOOKUP_READ`] in all, as
/// `MemoryDuplicates::candidates` reads them. Each ticket once, with the buckets it was in.
fn read_buckets(buckets: &[Option<Vec<u8>>], newest_rev: u64) -> Result<Counted, QueueError> {
    let mut crowded: Vec<(usize, usize, &[u8])> = Vec::new();
    for (band, value) in buckets.iter().enumerate() {
        let Some(value) = value else { continue };
        if value.len() % ENTRY != 0 {
            return Err(corrupt("a duplicate-index bucket"));
        }
        // Newest first: the filings inside the window are a prefix.
        let inside = value
            .chunks_exact(ENTRY)
            .take_while(|e| rev_at(e) <= newest_rev)
            .count();
        if inside > 0 {
            crowded.push((inside, band, &value[..inside * ENTRY]));
        }
    }
    crowded.sort_unstable_by_key(|&(inside, band, _)| (inside, band));
    let mut budget = LOOKUP_READ;
    let mut hits: HashMap<(u64, TicketId), usize> = HashMap::new();
    for (inside, _, value) in crowded {
        if budget == 0 {
            break;
        }
        let take = inside.min(BUCKET_READ).min(budget);
        budget -= take;
        for entry in value.chunks_exact(ENTRY).take(take) {
            *hits
                .entry((rev_at(entry), ticket_from(&entry[8..])?))
                .or_default() += 1;
        }
    }
    Ok(hits.into_iter().collect())
}

/// Tickets found, `((rev, ticket), buckets it was in)`, as [`rank`] takes them.
type Counted = Vec<((u64, TicketId), usize)>;

/// Bytes per packed filing: rev (8) .. ticket (16).
const ENTRY: usize = 24;

fn rev_at(entry: &[u8]) -> u64 {
    let mut rev = [0u8; 8];
    rev.copy_from_slice(&entry[..8]);
    u64::from_be_bytes(rev)
}

#[async_trait]
impl DuplicateIndex for RedisDuplicates {
    async fn put(&self, entry: DuplicateEntry) -> Result<(), QueueError> {
        let record = encode(&entry)?;
        let mut conn = self.conn();
        // -1 (not built) files nothing: the rebuild that must come reads the store.
        SCRIPTS
            .dup_put
            .key(self.keys.gen())
            .arg(self.keys.root())
            .arg(&ticket_bytes(entry.ticket)[..])
            .arg(record)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        let removed: i64 = SCRIPTS
            .dup_remove
            .key(self.keys.gen())
            .arg(self.keys.root())
            .arg(&ticket_bytes(ticket)[..])
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }

    async fn candidates(
        &self,
        key: &DuplicateKey,
        bands: &[u64],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<Candidate>>, QueueError> {
        let buckets: Vec<[u8; 8]> = crate::duplicates::buckets(key, bands)
            .into_iter()
            .map(|bucket| bucket.to_be_bytes())
            .collect();
        let mut conn = self.conn();
        // One MULTI of `GET gen` and an HMGET of the generation read last time: the buckets of
        // the current generation when it still is, in one round trip and without a script (a
        // script copied the 50 values into Lua and out again: ~60 µs of Redis per lookup).
        // Another generation (a rebuild swapped it in) is read again by its name.
        let mut gen = self.last_gen();
        for _ in 0..GEN_TRIES {
            let mut pipe = redis::pipe();
            pipe.atomic().get(self.keys.gen());
            let read = match (&gen, buckets.is_empty()) {
                (Some(gen), false) => {
                    pipe.cmd("HMGET").arg(self.keys.buckets_of(gen));
                    for bucket in &buckets {
                        pipe.arg(&bucket[..]);
                    }
                    true
                }
                _ => false,
            };
            let (current, found): (Option<String>, Vec<Option<Vec<u8>>>) = if read {
                pipe.query_async(&mut conn).await.map_err(unavailable)?
            } else {
                let (current,): (Option<String>,) =
                    pipe.query_async(&mut conn).await.map_err(unavailable)?;
                (current, Vec::new())
            };
            let Some(current) = current else {
                return Ok(None);
            };
            if gen.as_deref() == Some(current.as_str()) || buckets.is_empty() {
                return Ok(Some(rank(read_buckets(&found, rev_of(since))?, limit)));
            }
            self.remember_gen(&current);
            gen = Some(current);
        }
        Err(QueueError::Unavailable(
            "the duplicate index changed generation during every try of a lookup".to_owned(),
        ))
    }

    async fn filed(&self, tickets: &[TicketId]) -> Result<HashMap<TicketId, Filed>, QueueError> {
        let mut out = HashMap::new();
        let mut conn = self.conn();
        for chunk in tickets.chunks(FILED_CHUNK) {
            let mut call = SCRIPTS.dup_filed.prepare_invoke();
            call.key(self.keys.gen()).arg(self.keys.root());
            for ticket in chunk {
                call.arg(&ticket_bytes(*ticket)[..]);
            }
            let records: Vec<Option<Vec<u8>>> =
                call.invoke_async(&mut conn).await.map_err(unavailable)?;
            // Empty when the index is not built: nothing is filed.
            for (ticket, record) in chunk.iter().zip(records) {
                if let Some(record) = record {
                    out.insert(*ticket, decode(&record)?);
                }
            }
        }
        Ok(out)
    }

    /// Fills a fresh generation chunk by chunk as the caller reads the store (pipelined, a few
    /// milliseconds of Redis per script), then makes it current with one script, so lookups
    /// see the old index or the new one, never half of one.
    async fn start_rebuild(&self) -> Result<Box<dyn DuplicateRebuild + '_>, QueueError> {
        let mut conn = self.conn();
        // A generation name no other rebuild holds (HSETNX), 8 hex digits: in every key of
        // the index, so kept short.
        loop {
            let gen = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
            let current: Option<String> = redis::cmd("GET")
                .arg(self.keys.gen())
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if current.as_deref() == Some(gen.as_str()) {
                continue;
            }
            let claimed: bool = redis::cmd("HSETNX")
                .arg(self.keys.gens())
                .arg(&gen)
                .arg(format!("b:{}", self.clock.now().timestamp_millis()))
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if claimed {
                return Ok(Box::new(RedisRebuild {
                    index: self.clone(),
                    gen,
                }));
            }
        }
    }

    async fn len(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn();
        SCRIPTS
            .dup_len
            .key(self.keys.gen())
            .arg(self.keys.root())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        redis::cmd("EXISTS")
            .arg(self.keys.gen())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, QueueError> {
        let mut conn = self.conn();
        SCRIPTS
            .dup_sweep
            .key(self.keys.gens())
            .key(self.keys.gen())
            .arg(self.keys.root())
            .arg(now.timestamp_millis())
            .arg(ABANDONED_AFTER_MS)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

/// A rebuild under way: a generation of its own, filled by [`DuplicateRebuild::add`].
struct RedisRebuild {
    index: RedisDuplicates,
    gen: String,
}

#[async_trait]
impl DuplicateRebuild for RedisRebuild {
    async fn add(&mut self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError> {
        // The last entry of a ticket wins, as a sequence of puts would leave it (the fill
        // script replaces a filing from an earlier call the same way).
        let mut latest: HashMap<TicketId, DuplicateEntry> = HashMap::with_capacity(entries.len());
        for entry in entries {
            latest.insert(entry.ticket, entry);
        }
        let mut records = Vec::with_capacity(latest.len());
        for entry in latest.into_values() {
            records.push((ticket_bytes(entry.ticket), encode(&entry)?));
        }
        let keys = &self.index.keys;
        // The heartbeat: a rebuild that stops filing is taken for abandoned after an hour.
        let now = self.index.clock.now().timestamp_millis();
        let mut conn = self.index.conn();
        // One script at a time: each runs for milliseconds, so a round trip between them
        // costs little, and lookups get Redis in between.
        for chunk in records.chunks(FILL_CHUNK) {
            let mut call = SCRIPTS.dup_fill.prepare_invoke();
            call.key(keys.gens())
                .arg(&self.gen)
                .arg(keys.root())
                .arg(now);
            for (ticket, record) in chunk {
                call.arg(&ticket[..]).arg(record);
            }
            call.invoke_async::<i64>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<(), QueueError> {
        let keys = &self.index.keys;
        let mut conn = self.index.conn();
        let mut call = SCRIPTS.dup_swap.prepare_invoke();
        call.key(keys.gen()).key(keys.gens()).arg(&self.gen);
        for legacy in keys.legacy() {
            call.arg(legacy);
        }
        call.invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
