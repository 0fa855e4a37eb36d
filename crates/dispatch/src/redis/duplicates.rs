//! [`RedisDuplicates`]: the duplicate index in Redis, shared by every replica (so each sees
//! the same live tickets).
//!
//! One lexical sorted set holds every filing (`bucket .. rev .. ticket`, see
//! [`keys`](super::keys)): a bucket is a range of it, newest first, so a lookup is one
//! `ZLEXCOUNT` per band, then `ZRANGEBYLEX ... LIMIT` on the least crowded buckets until
//! [`LOOKUP_READ`] filings are read, inside one script: `O(bands x log n + LOOKUP_READ)`. A hash keeps each ticket's record, so filing again (a re-categorisation) or
//! removing drops the old members without the caller naming them. Memory: each live ticket is
//! `bands` members of 32 bytes (~150 B each with the skip list and dict entry) plus a ~450 B
//! record: measured 7.6-8.2 KB per live ticket at 50 bands (`examples/dup_index_bench.rs`),
//! so ~800 MB for 100,000 live tickets. A rebuild of 100,000 tickets took 35-49 s on the
//! bench machine (lookups scan the store meanwhile).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::TicketId;

use super::keys::{DuplicateKeys, Prefix};
use super::scripts::SCRIPTS;
use super::{corrupt, unavailable, Conn, Target};
use crate::duplicates::{created_of, rank, rev_of, BUCKET_READ, LOOKUP_READ};
use crate::{
    Candidate, DuplicateEntry, DuplicateIndex, DuplicateKey, DuplicateRebuild, Filed, QueueError,
};

/// Members per ZADD / fields per HSET when rebuilding.
const REBUILD_CHUNK: usize = 1000;
/// Commands per pipeline round trip when rebuilding.
const REBUILD_PIPELINE: usize = 64;
/// How long the scratch keys of a rebuild that never finishes (its router died) stay: each
/// rebuild writes under fresh keys, so these would only hold memory. Each chunk renews it; the
/// swap clears it.
const SCRATCH_TTL_SECS: u64 = 3_600;

/// See the module docs.
#[derive(Clone)]
pub struct RedisDuplicates {
    conn: Conn,
    keys: DuplicateKeys,
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
        Ok(Self { conn, keys })
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
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

/// The entry's record and members (layout in `scripts/dup_prelude.lua`).
fn encode(entry: &DuplicateEntry) -> Result<(Vec<u8>, Vec<Vec<u8>>), QueueError> {
    let buckets = entry.buckets();
    let count = u8::try_from(buckets.len())
        .map_err(|_| QueueError::Broken(format!("{} bands (at most 255)", buckets.len())))?;
    let rev = rev_of(entry.created_at).to_be_bytes();
    let ticket = ticket_bytes(entry.ticket);
    let mut record = Vec::with_capacity(9 + 8 * buckets.len() + 32);
    record.push(count);
    record.extend_from_slice(&rev);
    let mut members = Vec::with_capacity(buckets.len());
    for bucket in &buckets {
        record.extend_from_slice(&bucket.to_be_bytes());
        let mut member = Vec::with_capacity(32);
        member.extend_from_slice(&bucket.to_be_bytes());
        member.extend_from_slice(&rev);
        member.extend_from_slice(&ticket);
        members.push(member);
    }
    record.extend_from_slice(entry.key.name().as_bytes());
    Ok((record, members))
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

#[async_trait]
impl DuplicateIndex for RedisDuplicates {
    async fn put(&self, entry: DuplicateEntry) -> Result<(), QueueError> {
        let (record, members) = encode(&entry)?;
        let mut conn = self.conn();
        let mut call = SCRIPTS.dup_put.prepare_invoke();
        call.key(self.keys.buckets())
            .key(self.keys.tickets())
            .arg(&ticket_bytes(entry.ticket)[..])
            .arg(record);
        for member in members {
            call.arg(member);
        }
        call.invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        let removed: i64 = SCRIPTS
            .dup_remove
            .key(self.keys.buckets())
            .key(self.keys.tickets())
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
        let mut conn = self.conn();
        let mut call = SCRIPTS.dup_candidates.prepare_invoke();
        call.key(self.keys.buckets())
            .key(self.keys.built())
            .arg(&rev_of(since).to_be_bytes()[..])
            .arg(BUCKET_READ)
            .arg(LOOKUP_READ);
        for bucket in crate::duplicates::buckets(key, bands) {
            call.arg(&bucket.to_be_bytes()[..]);
        }
        let found: Option<Vec<Vec<u8>>> =
            call.invoke_async(&mut conn).await.map_err(unavailable)?;
        let Some(found) = found else {
            return Ok(None);
        };
        let mut counted = Vec::with_capacity(found.len());
        for item in found {
            // rev (8) .. ticket (16) .. shared bands (1)
            if item.len() != 25 {
                return Err(corrupt("a duplicate-index candidate"));
            }
            let rev = u64::from_be_bytes(item[..8].try_into().map_err(|_| corrupt("rev"))?);
            let ticket = ticket_from(&item[8..24])?;
            // The script reports each ticket once.
            counted.push(((rev, ticket), usize::from(item[24])));
        }
        Ok(Some(rank(counted, limit)))
    }

    async fn filed(&self, tickets: &[TicketId]) -> Result<HashMap<TicketId, Filed>, QueueError> {
        if tickets.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.conn();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.tickets());
        for ticket in tickets {
            cmd.arg(&ticket_bytes(*ticket)[..]);
        }
        let records: Vec<Option<Vec<u8>>> =
            cmd.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out = HashMap::new();
        for (ticket, record) in tickets.iter().zip(records) {
            if let Some(record) = record {
                out.insert(*ticket, decode(&record)?);
            }
        }
        Ok(out)
    }

    /// Builds the new index under scratch keys, chunk by chunk as the caller reads the store
    /// (pipelined, without blocking Redis), then swaps it in with one MULTI (DEL + RENAME +
    /// the built mark), so lookups see the old index or the new one, never half of one.
    async fn start_rebuild(&self) -> Result<Box<dyn DuplicateRebuild + '_>, QueueError> {
        Ok(Box::new(RedisRebuild {
            index: self.clone(),
            scratch: self
                .keys
                .scratch(&uuid::Uuid::new_v4().simple().to_string()),
            seen: HashSet::new(),
            written: [false; 2],
        }))
    }

    async fn len(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn();
        redis::cmd("HLEN")
            .arg(self.keys.tickets())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        redis::cmd("EXISTS")
            .arg(self.keys.built())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

/// A rebuild under way: scratch keys of its own, filled by [`DuplicateRebuild::add`].
struct RedisRebuild {
    index: RedisDuplicates,
    scratch: DuplicateKeys,
    /// Tickets already written to the scratch keys: filing one again must drop its old
    /// members, which only the put script does (a rebuild from the store reads each ticket
    /// once, so this is the rare path). 16 bytes a ticket: ~30 MB at 1M open tickets.
    seen: HashSet<TicketId>,
    /// Whether the scratch buckets and tickets keys were written (RENAME of a key never
    /// created fails; an entry without bands has a record and no members).
    written: [bool; 2],
}

#[async_trait]
impl DuplicateRebuild for RedisRebuild {
    async fn add(&mut self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError> {
        let mut conn = self.index.conn();
        // The last entry of a ticket wins, as a sequence of puts would leave it.
        let mut latest: HashMap<TicketId, DuplicateEntry> = HashMap::with_capacity(entries.len());
        for entry in entries {
            latest.insert(entry.ticket, entry);
        }
        let mut again = Vec::new();
        let mut members: Vec<Vec<u8>> = Vec::new();
        let mut records: Vec<([u8; 16], Vec<u8>)> = Vec::new();
        for entry in latest.into_values() {
            if !self.seen.insert(entry.ticket) {
                again.push(entry);
                continue;
            }
            let (record, filed) = encode(&entry)?;
            records.push((ticket_bytes(entry.ticket), record));
            members.extend(filed);
        }
        // In the set's own order: consecutive insertions walk the same part of Redis's skip
        // list, instead of a random place of a set of millions each.
        members.sort_unstable();
        self.written[0] |= !members.is_empty();
        self.written[1] |= !records.is_empty();
        let mut commands: Vec<redis::Cmd> = Vec::new();
        for chunk in members.chunks(REBUILD_CHUNK) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(self.scratch.buckets());
            for member in chunk {
                cmd.arg(0).arg(member);
            }
            commands.push(cmd);
        }
        for chunk in records.chunks(REBUILD_CHUNK) {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.scratch.tickets());
            for (field, record) in chunk {
                cmd.arg(&field[..]).arg(record);
            }
            commands.push(cmd);
        }
        if !commands.is_empty() {
            for key in [self.scratch.buckets(), self.scratch.tickets()] {
                // EXPIRE on a key not (yet) written does nothing.
                let mut expire = redis::cmd("EXPIRE");
                expire.arg(key).arg(SCRATCH_TTL_SECS);
                commands.push(expire);
            }
        }
        for batch in commands.chunks(REBUILD_PIPELINE) {
            let mut pipe = redis::pipe();
            for cmd in batch {
                pipe.add_command(cmd.clone()).ignore();
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        for entry in again {
            let (record, members) = encode(&entry)?;
            self.written[0] |= !members.is_empty();
            let mut call = SCRIPTS.dup_put.prepare_invoke();
            call.key(self.scratch.buckets())
                .key(self.scratch.tickets())
                .arg(&ticket_bytes(entry.ticket)[..])
                .arg(record);
            for member in members {
                call.arg(member);
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
        let mut swap = redis::pipe();
        swap.atomic();
        swap.cmd("DEL")
            .arg(keys.buckets())
            .arg(keys.tickets())
            .ignore();
        let pairs = [
            (self.scratch.buckets(), keys.buckets()),
            (self.scratch.tickets(), keys.tickets()),
        ];
        for ((scratch, live), written) in pairs.into_iter().zip(self.written) {
            if written {
                swap.cmd("RENAME").arg(scratch).arg(&live).ignore();
                swap.cmd("PERSIST").arg(live).ignore();
            }
        }
        swap.cmd("SET").arg(keys.built()).arg(1).ignore();
        swap.query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
