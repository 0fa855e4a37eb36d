//! [`RedisTimers`]: the SLA timer index in Redis, claimed in bounded batches by every replica.
//!
//! Pending timers are one sorted set by fire time; a claim moves a batch to the in-flight set
//! under a lease in one script, so replicas claiming at once get disjoint batches; a lease that
//! runs out puts its timers back (at least once; the effect is idempotent). Each ticket's timers
//! are also recorded compactly in a bucketed hash, so [`TimerIndex::schedule`] can replace them
//! all atomically. Memory per pending timer: ~175 B for the sorted-set entry (its member is
//! [`Timer::member`], ~65 B) plus ~60 B per ticket for the membership record.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hotline_core::TicketId;

use super::codec::ticket_timers_value;
use super::keys::{bucket_index, ticket_field, Prefix, TimerKeys};
use super::scripts::SCRIPTS;
use super::{corrupt, unavailable, Conn, Target};
use crate::{QueueError, Timer, TimerIndex};

/// Members per ZADD / fields per HSET when rebuilding.
const REBUILD_CHUNK: usize = 1000;
/// Commands per pipeline round trip when rebuilding.
const REBUILD_PIPELINE: usize = 64;

/// See the module docs.
#[derive(Clone)]
pub struct RedisTimers {
    conn: Conn,
    keys: TimerKeys,
}

impl std::fmt::Debug for RedisTimers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTimers")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisTimers {
    /// Connects to the Redis at `url` and works under `prefix` (shared by every replica of one
    /// deployment; a distinct prefix is a distinct index).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let keys = TimerKeys::new(&Prefix::parse(prefix)?);
        let conn = super::connect(&Target::parse(url)?).await?;
        Ok(Self { conn, keys })
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }
}

/// Parses a flat `[member, fire ms, ...]` script reply.
fn timers_from_pairs(flat: Vec<String>) -> Result<Vec<Timer>, QueueError> {
    if !flat.len().is_multiple_of(2) {
        return Err(corrupt("odd-length member/score reply"));
    }
    flat.chunks(2)
        .map(|pair| {
            let fire: i64 = pair[1].parse().map_err(|_| corrupt(&pair[1]))?;
            Timer::from_member(&pair[0], fire).ok_or_else(|| corrupt(&pair[0]))
        })
        .collect()
}

#[async_trait]
impl TimerIndex for RedisTimers {
    async fn schedule(&self, ticket: TicketId, timers: Vec<Timer>) -> Result<(), QueueError> {
        debug_assert!(timers.iter().all(|t| t.ticket == ticket));
        let mut conn = self.conn();
        let mut call = SCRIPTS.timers_schedule.prepare_invoke();
        call.key(self.keys.pending())
            .key(self.keys.inflight())
            .key(self.keys.inflight_at())
            .key(self.keys.bucket_of(ticket))
            .arg(ticket_field(ticket))
            .arg(ticket_timers_value(&timers));
        for timer in &timers {
            call.arg(timer.fire_at_ms).arg(timer.member());
        }
        call.invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Timer>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let flat: Vec<String> = SCRIPTS
            .timers_claim_due
            .key(self.keys.pending())
            .key(self.keys.inflight())
            .key(self.keys.inflight_at())
            .arg(now.timestamp_millis())
            .arg(limit)
            .arg((now + lease).timestamp_millis())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        timers_from_pairs(flat)
    }

    async fn ack(&self, timer: &Timer) -> Result<(), QueueError> {
        let mut conn = self.conn();
        SCRIPTS
            .timers_ack
            .key(self.keys.pending())
            .key(self.keys.inflight())
            .key(self.keys.inflight_at())
            .key(self.keys.bucket_of(timer.ticket))
            .arg(ticket_field(timer.ticket))
            .arg(timer.member())
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn ack_many(&self, timers: &[Timer]) -> Result<(), QueueError> {
        // Bounded calls: a script blocks Redis while it runs.
        for chunk in timers.chunks(512) {
            let mut conn = self.conn();
            let mut call = SCRIPTS.timers_ack_many.prepare_invoke();
            call.key(self.keys.pending())
                .key(self.keys.inflight())
                .key(self.keys.inflight_at());
            let mut buckets: BTreeMap<String, usize> = BTreeMap::new();
            for timer in chunk {
                let bucket = self.keys.bucket_of(timer.ticket);
                let next = buckets.len() + 4;
                let index = *buckets.entry(bucket.clone()).or_insert_with(|| {
                    call.key(bucket);
                    next
                });
                call.arg(ticket_field(timer.ticket))
                    .arg(timer.member())
                    .arg(index);
            }
            call.invoke_async::<i64>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn release(&self, timers: &[Timer]) -> Result<(), QueueError> {
        for chunk in timers.chunks(512) {
            let mut conn = self.conn();
            let mut call = SCRIPTS.timers_release.prepare_invoke();
            call.key(self.keys.pending())
                .key(self.keys.inflight())
                .key(self.keys.inflight_at());
            for timer in chunk {
                call.arg(timer.member());
            }
            call.invoke_async::<i64>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        let mut conn = self.conn();
        let first: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(self.keys.pending())
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(first
            .first()
            .and_then(|(_, fire)| DateTime::from_timestamp_millis(*fire as i64)))
    }

    async fn timers_of(&self, ticket: TicketId) -> Result<Vec<Timer>, QueueError> {
        let mut conn = self.conn();
        let flat: Vec<String> = SCRIPTS
            .timers_of
            .key(self.keys.pending())
            .key(self.keys.bucket_of(ticket))
            .arg(ticket_field(ticket))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut timers = timers_from_pairs(flat)?;
        timers.sort();
        Ok(timers)
    }

    /// Builds the new index under scratch keys (pipelined, without blocking Redis), then swaps it
    /// in with one MULTI (DEL + RENAME), so claimers see the old index or the new one. Timers in
    /// flight at the swap are dropped, as in memory: the store's timers are the truth.
    async fn rebuild(&self, timers: Vec<Timer>) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let unique: BTreeSet<Timer> = timers.into_iter().collect();
        let mut by_ticket: BTreeMap<TicketId, Vec<Timer>> = BTreeMap::new();
        for timer in &unique {
            by_ticket
                .entry(timer.ticket)
                .or_default()
                .push(timer.clone());
        }
        let scratch = self
            .keys
            .scratch(&uuid::Uuid::new_v4().simple().to_string());

        let mut commands: Vec<redis::Cmd> = Vec::new();
        let members: Vec<&Timer> = unique.iter().collect();
        for chunk in members.chunks(REBUILD_CHUNK) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(scratch.pending());
            for timer in chunk {
                cmd.arg(timer.fire_at_ms).arg(timer.member());
            }
            commands.push(cmd);
        }
        let mut buckets: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        for (ticket, timers) in &by_ticket {
            buckets
                .entry(bucket_index(*ticket))
                .or_default()
                .push((ticket_field(*ticket), ticket_timers_value(timers)));
        }
        for (bucket, fields) in &buckets {
            for chunk in fields.chunks(REBUILD_CHUNK) {
                let mut cmd = redis::cmd("HSET");
                cmd.arg(scratch.bucket(*bucket));
                for (field, value) in chunk {
                    cmd.arg(field).arg(value);
                }
                commands.push(cmd);
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

        let mut swap = redis::pipe();
        swap.atomic();
        let del = swap
            .cmd("DEL")
            .arg(self.keys.pending())
            .arg(self.keys.inflight())
            .arg(self.keys.inflight_at());
        for bucket in self.keys.all_buckets() {
            del.arg(bucket);
        }
        del.ignore();
        if !unique.is_empty() {
            swap.cmd("RENAME")
                .arg(scratch.pending())
                .arg(self.keys.pending())
                .ignore();
        }
        for bucket in buckets.keys() {
            swap.cmd("RENAME")
                .arg(scratch.bucket(*bucket))
                .arg(self.keys.bucket(*bucket))
                .ignore();
        }
        swap.query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn len(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn();
        let (pending, inflight): (usize, usize) = redis::pipe()
            .cmd("ZCARD")
            .arg(self.keys.pending())
            .cmd("ZCARD")
            .arg(self.keys.inflight())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(pending + inflight)
    }
}
