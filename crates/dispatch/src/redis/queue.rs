//! [`RedisQueue`]: station queues in Redis, shared by every router replica on one prefix.
//!
//! Each mutating operation is one Lua script (see [`super::scripts`]). Scripts that need the
//! ticket's current station take the caller's guess and, when it is stale, answer with the
//! current one instead of acting, so the caller retries with the right keys: every key a script
//! touches is declared in its KEYS, and a new ticket costs one round trip.
//!
//! Arrivals (an enqueue, or a lease running out) are `PUBLISH`ed by the scripts themselves on
//! the station's channel, and [`super::pubsub`] forwards them to [`Queue::subscribe`] in every
//! replica that watches that station.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{StaffId, StationId, TicketId};
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;

use super::codec::{
    entry_in, entry_value, from_micros, member_ticket, micros, queue_score, split_lease, ticket_in,
    TAG_LEN,
};
use super::keys::{ticket_field, Prefix, QueueKeys};
use super::pubsub::Arrivals;
use super::scripts::SCRIPTS;
use super::{corrupt, unavailable};
use crate::{Lease, Queue, QueueEntry, QueueError, QueuedItem};

/// A ticket moved by another replica between our read and our script: try again, boundedly.
const MAX_ATTEMPTS: usize = 8;
/// Expired leases handled per round of [`Queue::release_expired`].
const RELEASE_BATCH: isize = 512;
/// Commands per pipeline in a rebuild.
const REBUILD_CHUNK: usize = 1000;
/// Remembered ticket -> station guesses (cleared when full; a guess is only ever a hint).
const GUESS_CAPACITY: usize = 65_536;

/// See the module docs.
pub struct RedisQueue {
    conn: ConnectionManager,
    keys: QueueKeys,
    arrivals: Arrivals,
    /// Where this replica last saw each ticket (enqueued or claimed it). `remove` tries the
    /// guess first, saving the index read; the script checks it, so a stale guess (another
    /// replica moved the ticket) costs one more round trip, never a wrong answer.
    guesses: Mutex<HashMap<TicketId, String>>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// Connects to the Redis at `url` (`redis://host:port/db`) and works under `prefix`: several
    /// routers on one prefix share the queues; different prefixes are independent.
    ///
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        let keys = QueueKeys::new(Prefix::parse(prefix)?);
        let (client, conn) = super::connect(url).await?;
        let arrivals = Arrivals::start(client, conn.clone(), keys.clone()).await?;
        Ok(Self {
            conn,
            keys,
            arrivals,
            guesses: Mutex::new(HashMap::new()),
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn guesses(&self) -> std::sync::MutexGuard<'_, HashMap<TicketId, String>> {
        // The map holds hints only: whatever a panicking holder left is still usable.
        self.guesses.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, ticket: TicketId, station: &str) {
        let mut guesses = self.guesses();
        if guesses.len() >= GUESS_CAPACITY {
            guesses.clear();
        }
        guesses.insert(ticket, station.to_owned());
    }
}

/// What a script that checks the caller's station guess answered.
enum Guess {
    Done(String),
    /// The ticket is on this station (`None`: on no queue); ask again with it.
    Stale(Option<String>),
}

fn guess_answer(reply: String) -> Guess {
    match reply.strip_prefix('=') {
        Some("") => Guess::Stale(None),
        Some(station) => Guess::Stale(Some(station.to_owned())),
        None => Guess::Done(reply),
    }
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

/// The station's queue in order, read in one MULTI (a consistent snapshot).
pub(crate) async fn list_station(
    conn: &mut ConnectionManager,
    keys: &QueueKeys,
    station: &StationId,
    now: DateTime<Utc>,
) -> Result<Vec<QueuedItem>, QueueError> {
    let sk = keys.station(station);
    let (members, entries): (Vec<String>, HashMap<String, String>) = redis::pipe()
        .atomic()
        .cmd("ZRANGE")
        .arg(&sk.ready)
        .arg(0)
        .arg(-1)
        .cmd("HGETALL")
        .arg(&sk.entry)
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    let now_us = micros(now);
    let mut items = Vec::with_capacity(members.len());
    for member in members {
        let (ticket, field) = member_ticket(&member).ok_or_else(|| corrupt(&member))?;
        let Some(value) = entries.get(field) else {
            continue;
        };
        let (value, lease) = split_lease(value).ok_or_else(|| corrupt(value))?;
        let entry = entry_in(ticket, station, value).ok_or_else(|| corrupt(value))?;
        let lease = live_lease(ticket, station, lease, now_us)?;
        items.push(QueuedItem { entry, lease });
    }
    Ok(items)
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, entry: QueueEntry) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let ticket = ticket_field(entry.ticket);
        let new = self.keys.station(&entry.station);
        let score = queue_score(entry.urgency, entry.due);
        let value = entry_value(&entry);
        // Where this replica last saw the ticket; most enqueues are of tickets on no queue yet.
        let mut current: Option<String> = self.guesses().get(&entry.ticket).cloned();
        for _ in 0..MAX_ATTEMPTS {
            let mut call = SCRIPTS.enqueue.prepare_invoke();
            call.key(self.keys.ticket_station())
                .key(&new.ready)
                .key(&new.entry);
            // The old station's keys only when there may be one to move the ticket off.
            if let Some(old) = current.as_deref() {
                let old = self.keys.station_raw(old);
                call.key(old.ready)
                    .key(old.entry)
                    .key(self.keys.lease_expiry());
            }
            let reply: String = call
                .arg(&ticket)
                .arg(entry.station.as_str())
                .arg(current.as_deref().unwrap_or(""))
                .arg(score)
                .arg(&value)
                .arg(self.keys.arrivals_channel(entry.station.as_str()))
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            match guess_answer(reply) {
                Guess::Done(_) => {
                    self.remember(entry.ticket, entry.station.as_str());
                    return Ok(());
                }
                Guess::Stale(station) => current = station,
            }
        }
        Err(QueueError::Unavailable(format!(
            "ticket {} kept moving between stations while being enqueued",
            entry.ticket
        )))
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        let field = ticket_field(ticket);
        let guess = self.guesses().remove(&ticket);
        let mut current: Option<String> = match guess {
            Some(station) => Some(station),
            None => redis::cmd("HGET")
                .arg(self.keys.ticket_station())
                .arg(&field)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?,
        };
        for _ in 0..MAX_ATTEMPTS {
            let Some(station) = current.take() else {
                return Ok(false);
            };
            let sk = self.keys.station_raw(&station);
            let reply: String = SCRIPTS
                .remove
                .key(self.keys.ticket_station())
                .key(&sk.ready)
                .key(&sk.entry)
                .key(self.keys.lease_expiry())
                .arg(&field)
                .arg(&station)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            match guess_answer(reply) {
                Guess::Done(done) => return Ok(done == "removed"),
                Guess::Stale(now_on) => current = now_on,
            }
        }
        Err(QueueError::Unavailable(format!(
            "ticket {ticket} kept moving between stations while being removed"
        )))
    }

    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        let mut conn = self.conn();
        let sk = self.keys.station(station);
        let reply: Vec<String> = SCRIPTS
            .claim
            .key(&sk.ready)
            .key(&sk.entry)
            .key(self.keys.lease_expiry())
            .arg(ticket.map(ticket_field).unwrap_or_default())
            .arg(holder.as_str())
            .arg(micros(until))
            .arg(micros(now))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [ok, claimed] if ok == "ok" => {
                let claimed = ticket_in(claimed).ok_or_else(|| corrupt(claimed))?;
                self.remember(claimed, station.as_str());
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
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        let mut conn = self.conn();
        let field = ticket_field(ticket);
        let station: Option<String> = redis::cmd("HGET")
            .arg(self.keys.ticket_station())
            .arg(&field)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(station) = station else {
            return Ok(None);
        };
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.keys.station_raw(&station).entry)
            .arg(&field)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (_, lease) = split_lease(&raw).ok_or_else(|| corrupt(&raw))?;
        let station = StationId::parse("station", &station).map_err(|_| corrupt(&station))?;
        live_lease(ticket, &station, lease, micros(now))
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError> {
        let mut conn = self.conn();
        let now_us = micros(now);
        let mut released = Vec::new();
        loop {
            let expired: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(self.keys.lease_expiry())
                .arg("-inf")
                .arg(now_us)
                .arg("LIMIT")
                .arg(0)
                .arg(RELEASE_BATCH)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if expired.is_empty() {
                break;
            }
            let stations: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.keys.ticket_station())
                .arg(&expired)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let mut by_station: BTreeMap<String, Vec<&String>> = BTreeMap::new();
            for (ticket, station) in expired.iter().zip(stations) {
                if let Some(station) = station {
                    by_station.entry(station).or_default().push(ticket);
                }
            }
            let mut progressed = false;
            for (station, tickets) in by_station {
                let sk = self.keys.station_raw(&station);
                let mut call = SCRIPTS.release_expired.prepare_invoke();
                call.key(self.keys.lease_expiry())
                    .key(&sk.entry)
                    .arg(now_us)
                    .arg(self.keys.arrivals_channel(&station));
                for ticket in &tickets {
                    call.arg(*ticket);
                }
                let out: Vec<String> = call.invoke_async(&mut conn).await.map_err(unavailable)?;
                progressed |= !out.is_empty();
                for raw in out {
                    released.push(ticket_in(&raw).ok_or_else(|| corrupt(&raw))?);
                }
            }
            // A short batch was the last; a batch that released nothing would come back the
            // same (an index inconsistency the scripts never create): stop rather than spin.
            if (expired.len() as isize) < RELEASE_BATCH || !progressed {
                break;
            }
        }
        Ok(released)
    }

    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError> {
        list_station(&mut self.conn(), &self.keys, station, now).await
    }

    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError> {
        let mut conn = self.conn();
        self.guesses().clear();
        // As in memory: a ticket listed twice keeps its last entry.
        let mut position: HashMap<TicketId, usize> = HashMap::new();
        let mut kept: Vec<Option<QueueEntry>> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            if let Some(earlier) = position.insert(entry.ticket, i) {
                kept[earlier] = None;
            }
            kept.push(Some(entry));
        }
        let old_stations: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.ticket_station())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut stations: BTreeSet<String> = old_stations.into_iter().collect();
        stations.extend(kept.iter().flatten().map(|e| e.station.as_str().to_owned()));

        // One MULTI: every replica sees the old working set or the new one, nothing between.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL")
            .arg(self.keys.ticket_station())
            .arg(self.keys.lease_expiry())
            .ignore();
        for station in &stations {
            let sk = self.keys.station_raw(station);
            pipe.cmd("DEL")
                .arg(&sk.ready)
                .arg(&sk.entry)
                .arg(&sk.retired())
                .ignore();
        }
        let mut index = Vec::new();
        for entry in kept.iter().flatten() {
            let sk = self.keys.station(&entry.station);
            let field = ticket_field(entry.ticket);
            let value = entry_value(entry);
            pipe.cmd("ZADD")
                .arg(&sk.ready)
                .arg(queue_score(entry.urgency, entry.due))
                .arg(format!("{}{field}", &value[..TAG_LEN]))
                .ignore();
            pipe.cmd("HSET")
                .arg(&sk.entry)
                .arg(&field)
                .arg(value)
                .ignore();
            index.push((field, entry.station.as_str()));
        }
        for chunk in index.chunks(REBUILD_CHUNK) {
            let cmd = pipe.cmd("HSET").arg(self.keys.ticket_station());
            for (field, station) in chunk {
                cmd.arg(field).arg(*station);
            }
            cmd.ignore();
        }
        pipe.cmd("SET").arg(self.keys.built()).arg("1").ignore();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        let mut conn = self.conn();
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys.built())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(exists)
    }

    async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError> {
        self.arrivals.subscribe(station).await
    }
}
