//! [`RedisQueue`]: station queues in Redis, shared by every router replica on one prefix.
//!
//! Every operation on a station is a function in `queue_ops.lua`, run by the `queue_batch`
//! script over that station's keys (one Cluster slot). Concurrent callers' operations on the same
//! station are sent together: each station has a lane, at most one batch of it is in flight, and
//! what arrives meanwhile goes in the next batch (group commit, as a database does with
//! concurrent commits). A busy station costs one script call per round trip instead of one per
//! operation, which is most of Redis's work per operation; an idle one sends each operation on
//! its own at once. A move between stations is a put on the new one, then a take off the old
//! one (one slot each, for Redis Cluster); the versions they carry keep a late update from
//! undoing a newer one.
//!
//! Arrivals (an enqueue, or a lease running out) are `PUBLISH`ed by the scripts themselves on
//! the station's channel, and [`super::pubsub`] forwards them to [`Queue::subscribe`] in every
//! replica that watches that station.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use hotline_core::{StaffId, StationId, TicketId};
use redis::Value;
use tokio::sync::{broadcast, oneshot};

use super::codec::{
    entry_in, entry_value, from_micros, is_tombstone, micros, order_tag, queue_score, split_lease,
    ticket_in, TAG_LEN,
};
use super::keys::{ticket_field, Prefix, QueueKeys, StationKeys};
use super::pubsub::Arrivals;
use super::scripts::SCRIPTS;
use super::{corrupt, unavailable, Conn, Target};
use crate::{Lease, Queue, QueueEntry, QueueError, QueuedItem, ScanCursor};

/// Operations per batch: bounds one script's run time (Redis serves nobody else meanwhile).
const MAX_BATCH: usize = 256;
/// Batches of one station in flight at once: with two, the next batch is gathered and sent
/// while Redis runs the last, so neither side waits for the other.
const MAX_IN_FLIGHT: usize = 2;
/// Expired leases released per station per batch operation.
const RELEASE_BATCH: usize = 512;
/// Stations checked for expired leases at once in a sweep (commands in flight).
const SWEEP_CONCURRENCY: usize = 256;
/// Stations rebuilt at once.
const REBUILD_CONCURRENCY: usize = 16;
/// How often a busy station is re-added to the registry by each replica (see
/// `Inner::due_for_registry`).
const REGISTRY_REFRESH: Duration = Duration::from_secs(1);
/// Commands per pipeline in a rebuild.
const REBUILD_CHUNK: usize = 1000;

/// See the module docs.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    keys: QueueKeys,
    arrivals: Arrivals,
    /// Station -> its operations waiting for the next batch.
    lanes: Mutex<HashMap<String, Lane>>,
    /// When this process last added each station to the `P:stations` registry.
    registered: Mutex<HashMap<String, Instant>>,
}

#[derive(Default)]
struct Lane {
    waiting: Vec<Pending>,
    /// Driver tasks sending this lane's batches (at most [`MAX_IN_FLIGHT`]).
    drivers: usize,
}

struct Pending {
    op: Op,
    reply: oneshot::Sender<Result<Value, QueueError>>,
}

/// One operation of `queue_batch.lua` (its letter and arguments there).
enum Op {
    Put {
        ticket: String,
        score: i64,
        value: String,
    },
    Take {
        ticket: String,
        version: u64,
        now_us: i64,
    },
    /// A named ticket, or (`None`) the head of the queue.
    Claim {
        ticket: Option<String>,
        holder: String,
        until_us: i64,
        now_us: i64,
    },
    Release {
        now_us: i64,
    },
}

impl Op {
    fn push_args(&self, call: &mut redis::ScriptInvocation<'_>) {
        match self {
            Op::Put {
                ticket,
                score,
                value,
            } => {
                call.arg("p").arg(ticket).arg(*score).arg(value);
            }
            Op::Take {
                ticket,
                version,
                now_us,
            } => {
                call.arg("t").arg(ticket).arg(*version).arg(*now_us);
            }
            Op::Claim {
                ticket: Some(ticket),
                holder,
                until_us,
                now_us,
            } => {
                call.arg("c")
                    .arg(ticket)
                    .arg(holder)
                    .arg(*until_us)
                    .arg(*now_us);
            }
            Op::Claim {
                ticket: None,
                holder,
                until_us,
                now_us,
            } => {
                call.arg("h").arg(holder).arg(*until_us).arg(*now_us);
            }
            Op::Release { now_us } => {
                call.arg("r").arg(*now_us).arg(RELEASE_BATCH);
            }
        }
    }
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// Connects to the Redis at `url` (`redis://host:port/db`, or a Cluster as
    /// `redis+cluster://host:port,host:port`) and works under `prefix`: several routers on one
    /// prefix share the queues; different prefixes are independent.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let keys = QueueKeys::new(Prefix::parse(prefix)?);
        let target = Target::parse(url)?;
        let conn = super::connect(&target).await?;
        let arrivals = Arrivals::start(target.node_clients()?, conn.clone(), keys.clone()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                keys,
                arrivals,
                lanes: Mutex::new(HashMap::new()),
                registered: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    fn keys(&self) -> &QueueKeys {
        &self.inner.keys
    }

    /// Rebuilds one station from `entries`: a scratch copy written in chunks, then swapped in
    /// (see `queue_swap.lua`); the keys of older layouts go too.
    async fn rebuild_station(
        &self,
        station: String,
        entries: Vec<QueueEntry>,
        token: &str,
    ) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let keys = self.keys();
        let live = keys.station(&station);
        let [scratch_ready, scratch_entries] = keys.scratch(&station, token);
        for chunk in entries.chunks(REBUILD_CHUNK) {
            let mut pipe = redis::pipe();
            let zadd = pipe.cmd("ZADD").arg(&scratch_ready);
            let mut fields = Vec::with_capacity(chunk.len());
            for entry in chunk {
                let field = ticket_field(entry.ticket);
                let value = entry_value(entry);
                zadd.arg(queue_score(entry.urgency, entry.due))
                    .arg(format!("{}{field}", &value[..TAG_LEN]));
                fields.push((field, value));
            }
            zadd.ignore();
            let hset = pipe.cmd("HSET").arg(&scratch_entries);
            for (field, value) in &fields {
                hset.arg(field).arg(value);
            }
            hset.ignore();
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        let _kept: usize = SCRIPTS
            .queue_swap
            .key(&live.all()[..])
            .key(&scratch_ready)
            .key(&scratch_entries)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        redis::cmd("DEL")
            .arg(&keys.retired_station_keys(&station))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Runs `op` on `station` in the station's next batch, and returns its reply.
    async fn on_station(&self, station: &str, op: Op) -> Result<Value, QueueError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut lanes = self.inner.lanes();
            let lane = lanes.entry(station.to_owned()).or_default();
            lane.waiting.push(Pending { op, reply });
            let start = lane.drivers < MAX_IN_FLIGHT;
            if start {
                lane.drivers += 1;
            }
            start
        };
        if start {
            tokio::spawn(drive(self.inner.clone(), station.to_owned()));
        }
        answer.await.map_err(|_| {
            QueueError::Unavailable("the queue's batch driver stopped before answering".into())
        })?
    }
}

impl Inner {
    /// Whether a put on `station` should (re)add it to the registry: the first time, then at
    /// most every [`REGISTRY_REFRESH`], so a registry lost with a flushed Redis is whole again
    /// within that time (and meanwhile a claim at the station still releases its expired
    /// leases; nothing else depends on it).
    fn due_for_registry(&self, station: &str) -> bool {
        let mut registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match registered.get_mut(station) {
            Some(at) if now.duration_since(*at) < REGISTRY_REFRESH => false,
            Some(at) => {
                *at = now;
                true
            }
            None => {
                registered.insert(station.to_owned(), now);
                true
            }
        }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        // Lanes hold queued requests only; what a panicking holder left is still consistent.
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends `station`'s waiting operations, one batch at a time, until none is left.
async fn drive(inner: Arc<Inner>, station: String) {
    let keys = inner.keys.station(&station);
    let channel = inner.keys.arrivals_channel(&station);
    loop {
        let batch: Vec<Pending> = {
            let mut lanes = inner.lanes();
            let Some(lane) = lanes.get_mut(&station) else {
                return;
            };
            if lane.waiting.is_empty() {
                lane.drivers -= 1;
                if lane.drivers == 0 {
                    lanes.remove(&station);
                }
                return;
            }
            let n = lane.waiting.len().min(MAX_BATCH);
            lane.waiting.drain(..n).collect()
        };
        let outcome = send_batch(&inner, &station, &keys, &channel, &batch).await;
        match outcome {
            Ok(replies) => {
                for (pending, reply) in batch.into_iter().zip(replies) {
                    // A caller that went away (its request cancelled) does not need the answer.
                    let _ = pending.reply.send(Ok(reply));
                }
            }
            Err(err) => {
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(QueueError::Unavailable(err.to_string())));
                }
            }
        }
    }
}

async fn send_batch(
    inner: &Inner,
    station: &str,
    keys: &StationKeys,
    channel: &str,
    batch: &[Pending],
) -> Result<Vec<Value>, QueueError> {
    let mut conn = inner.conn.clone();
    let mut call = SCRIPTS.queue_batch.prepare_invoke();
    call.key(&keys.all()[..]).arg(channel);
    for pending in batch {
        pending.op.push_args(&mut call);
    }
    let replies: Vec<Value> = if batch.iter().any(|p| matches!(p.op, Op::Put { .. }))
        && inner.due_for_registry(station)
    {
        // The station joins the registry the lease sweep walks, sent first on the same
        // connection.
        let mut registry = conn.clone();
        let mut sadd = redis::cmd("SADD");
        sadd.arg(inner.keys.stations()).arg(station);
        let register = sadd.query_async::<()>(&mut registry);
        let (registered, replies) = tokio::join!(register, call.invoke_async(&mut conn));
        registered.map_err(unavailable)?;
        replies.map_err(unavailable)?
    } else {
        call.invoke_async(&mut conn).await.map_err(unavailable)?
    };
    if replies.len() != batch.len() {
        return Err(corrupt(format!(
            "queue_batch answered {} replies to {} operations",
            replies.len(),
            batch.len()
        )));
    }
    Ok(replies)
}

fn strings(value: Value) -> Result<Vec<String>, QueueError> {
    redis::from_redis_value(value).map_err(|err| corrupt(err.to_string()))
}

fn string(value: Value) -> Result<String, QueueError> {
    redis::from_redis_value(value).map_err(|err| corrupt(err.to_string()))
}

/// A lease read from an entry value, if live at `now_us`.
fn live_lease(
    ticket: TicketId,
    station: &StationId,
    lease: Option<(i64, &str)>,
    now_us: i64,
) -> Result<Option<Lease>, QueueError> {
    match lease {
        Some((until_us, holder)) if until_us > now_us => Ok(Some(Lease {
            ticket,
            station: station.clone(),
            holder: StaffId::parse("holder", holder).map_err(|_| corrupt(holder))?,
            until: from_micros(until_us).ok_or_else(|| corrupt(until_us))?,
        })),
        _ => Ok(None),
    }
}

/// The station's queue in order, read by one script (a consistent snapshot).
pub(crate) async fn list_station(
    conn: &mut Conn,
    keys: &QueueKeys,
    station: &StationId,
    now: DateTime<Utc>,
) -> Result<Vec<QueuedItem>, QueueError> {
    let station_keys = keys.station(station.as_str());
    let pairs: Vec<(String, String)> = SCRIPTS
        .list
        .key(&station_keys.ready)
        .key(&station_keys.entries)
        .key(&station_keys.claimed)
        .invoke_async(conn)
        .await
        .map_err(unavailable)?;
    let now_us = micros(now);
    let mut items = Vec::with_capacity(pairs.len());
    for (field, value) in pairs {
        let ticket = ticket_in(&field).ok_or_else(|| corrupt(&field))?;
        let (value, lease) = split_lease(&value).ok_or_else(|| corrupt(&value))?;
        let entry = entry_in(ticket, station, value).ok_or_else(|| corrupt(value))?;
        let lease = live_lease(ticket, station, lease, now_us)?;
        items.push(QueuedItem { entry, lease });
    }
    // Claimed tickets keep their place in line: the order `ready` has (score, then member =
    // tag and ticket), computed from each entry.
    items.sort_by_cached_key(|item| {
        let e = &item.entry;
        (
            queue_score(e.urgency, e.due),
            order_tag(e.enqueued_at),
            ticket_field(e.ticket),
        )
    });
    Ok(items)
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, entry: QueueEntry, from: Option<&StationId>) -> Result<(), QueueError> {
        let ticket = ticket_field(entry.ticket);
        let score = queue_score(entry.urgency, entry.due);
        let value = entry_value(&entry);
        let reply = self
            .on_station(
                entry.station.as_str(),
                Op::Put {
                    ticket,
                    score,
                    value,
                },
            )
            .await?;
        match string(reply)?.as_str() {
            // Stale: the station already holds a newer version, which has the last word.
            "ok" | "stale" => {}
            other => return Err(corrupt(format!("enqueue answered {other:?}"))),
        }
        // A move: put on first, then taken off, so that the ticket is on some queue at every
        // moment. A retry does both again; each is idempotent.
        if let Some(old) = from.filter(|old| *old != &entry.station) {
            self.remove(entry.ticket, old, entry.version).await?;
        }
        Ok(())
    }

    async fn remove(
        &self,
        ticket: TicketId,
        station: &StationId,
        version: u64,
    ) -> Result<bool, QueueError> {
        let reply = self
            .on_station(
                station.as_str(),
                Op::Take {
                    ticket: ticket_field(ticket),
                    version,
                    now_us: micros(Utc::now()),
                },
            )
            .await?;
        match string(reply)?.as_str() {
            "removed" => Ok(true),
            "none" | "stale" => Ok(false),
            other => Err(corrupt(format!("remove answered {other:?}"))),
        }
    }

    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        let op = Op::Claim {
            ticket: ticket.map(ticket_field),
            holder: holder.as_str().to_owned(),
            until_us: micros(until),
            now_us: micros(now),
        };
        let reply = strings(self.on_station(station.as_str(), op).await?)?;
        match reply.as_slice() {
            [ok, claimed] if ok == "ok" => {
                let claimed = ticket_in(claimed).ok_or_else(|| corrupt(claimed))?;
                Ok(Some(Lease {
                    ticket: claimed,
                    station: station.clone(),
                    holder: holder.clone(),
                    until,
                }))
            }
            [none] if none == "none" => Ok(None),
            [not_queued] if not_queued == "notqueued" => Err(QueueError::NotQueued(
                ticket.ok_or_else(|| corrupt("notqueued without a ticket"))?,
            )),
            [leased, other, until_us] if leased == "leased" => Err(QueueError::Leased {
                ticket: ticket.ok_or_else(|| corrupt("leased without a ticket"))?,
                holder: StaffId::parse("holder", other).map_err(|_| corrupt(other))?,
                until: until_us
                    .parse()
                    .ok()
                    .and_then(from_micros)
                    .ok_or_else(|| corrupt(until_us))?,
            }),
            other => Err(corrupt(format!("claim answered {other:?}"))),
        }
    }

    async fn lease(
        &self,
        ticket: TicketId,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        let mut conn = self.conn();
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.keys().station(station.as_str()).entries)
            .arg(ticket_field(ticket))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (_, lease) = split_lease(&raw).ok_or_else(|| corrupt(&raw))?;
        live_lease(ticket, station, lease, micros(now))
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError> {
        let mut conn = self.conn();
        let now_us = micros(now);
        let stations: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys().stations())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // Which stations have a lease that ran out: one cheap count each, many in flight (each
        // its own slot on a Cluster, so not one pipeline).
        let keys = self.keys();
        let expiring: Vec<(String, usize)> = stream::iter(stations)
            .map(|station| {
                let mut conn = conn.clone();
                let claimed = keys.station(&station).claimed;
                async move {
                    let n: usize = redis::cmd("ZCOUNT")
                        .arg(claimed)
                        .arg("-inf")
                        .arg(now_us)
                        .query_async(&mut conn)
                        .await
                        .map_err(unavailable)?;
                    Ok::<_, QueueError>((station, n))
                }
            })
            .buffer_unordered(SWEEP_CONCURRENCY)
            .try_filter(|(_, n)| std::future::ready(*n > 0))
            .try_collect()
            .await?;
        let mut released = Vec::new();
        for (station, mut left) in expiring {
            // In rounds of RELEASE_BATCH; a round that releases nothing ends it (leases renewed
            // meanwhile).
            while left > 0 {
                let out = strings(self.on_station(&station, Op::Release { now_us }).await?)?;
                for raw in &out {
                    released.push(ticket_in(raw).ok_or_else(|| corrupt(raw))?);
                }
                if out.len() < RELEASE_BATCH {
                    break;
                }
                left = left.saturating_sub(out.len());
            }
        }
        Ok(released)
    }

    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError> {
        list_station(&mut self.conn(), self.keys(), station, now).await
    }

    async fn holds(
        &self,
        station: &StationId,
        tickets: &[TicketId],
    ) -> Result<Vec<bool>, QueueError> {
        if tickets.is_empty() {
            return Ok(Vec::new());
        }
        let station_keys = self.keys().station(station.as_str());
        // The values too: a removal leaves a tombstone under the ticket's field.
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&station_keys.entries)
            .arg(tickets.iter().map(|t| ticket_field(*t)).collect::<Vec<_>>())
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(values
            .iter()
            .map(|v| v.as_deref().is_some_and(|v| !is_tombstone(v)))
            .collect())
    }

    async fn scan(
        &self,
        station: &StationId,
        from: &ScanCursor,
        count: usize,
    ) -> Result<(Vec<TicketId>, Option<ScanCursor>), QueueError> {
        let station_keys = self.keys().station(station.as_str());
        let cursor = if from.0.is_empty() {
            "0"
        } else {
            from.0.as_str()
        };
        // HSCAN's guarantee is the one `scan` promises; a small hash comes whole. The values
        // tell entries from tombstones.
        let (next, pairs): (String, Vec<(String, String)>) = redis::cmd("HSCAN")
            .arg(&station_keys.entries)
            .arg(cursor)
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let tickets = pairs
            .iter()
            .filter(|(_, value)| !is_tombstone(value))
            .map(|(f, _)| ticket_in(f).ok_or_else(|| corrupt(f)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((tickets, (next != "0").then_some(ScanCursor(next))))
    }

    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let keys = self.keys();
        // As in memory: a ticket listed twice keeps its last entry.
        let mut last: HashMap<TicketId, QueueEntry> = HashMap::new();
        for entry in entries {
            last.insert(entry.ticket, entry);
        }
        let mut by_station: HashMap<String, Vec<QueueEntry>> = HashMap::new();
        for entry in last.into_values() {
            by_station
                .entry(entry.station.as_str().to_owned())
                .or_default()
                .push(entry);
        }
        // Every station with something on it now (the registry), in an older layout (whose
        // keys go too), or after the rebuild. One key per command: each its own slot.
        let [old_tickets, old_index] = keys.retired_ticket_indexes();
        let registered: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys.stations())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut stations: BTreeSet<String> = registered.into_iter().collect();
        for index in [&old_tickets, &old_index] {
            let values: Vec<String> = redis::cmd("HVALS")
                .arg(index)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            // A rebuild is the way out of bad data, so an unreadable value does not stop it
            // (the whole hash goes anyway). Older values were `<tag><station>|...` or a
            // station.
            stations.extend(values.iter().map(|v| {
                v.get(TAG_LEN..)
                    .and_then(|rest| rest.split_once('|'))
                    .map_or(v.as_str(), |(station, _)| station)
                    .to_owned()
            }));
        }
        // The registry is refreshed lazily, so the keys themselves say which stations have any
        // (on every primary of a Cluster).
        let found = conn.scan_match(&keys.station_pattern()).await?;
        stations.extend(found.iter().filter_map(|key| keys.station_of(key)));
        // Scratch copies of a rebuild that did not finish.
        for key in found.iter().filter(|key| key.contains(":rebuild:")) {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        stations.extend(by_station.keys().cloned());
        let busy: Vec<String> = by_station.keys().cloned().collect();

        // Station by station (one slot each): the new copy is written beside the old, then
        // swapped in by one script that keeps the leases of unchanged entries. Each station is
        // always whole, the old queue or the new one.
        let token = uuid::Uuid::new_v4().simple().to_string();
        stream::iter(stations)
            .map(|station| {
                let entries = by_station.remove(&station).unwrap_or_default();
                self.rebuild_station(station, entries, &token)
            })
            .buffer_unordered(REBUILD_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        for key in keys.retired().iter().chain([&old_tickets, &old_index]) {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        let mut registry = redis::pipe();
        registry.atomic().cmd("DEL").arg(keys.stations()).ignore();
        if !busy.is_empty() {
            registry.cmd("SADD").arg(keys.stations()).arg(busy).ignore();
        }
        registry
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        redis::cmd("SET")
            .arg(keys.built())
            .arg("1")
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys().built())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(exists)
    }

    async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError> {
        self.inner.arrivals.subscribe(station).await
    }
}
