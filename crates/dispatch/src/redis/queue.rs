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
    entry_in, entry_value, from_micros, micros, queue_score, split_lease, ticket_in, value_station,
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
    /// guess first, saving a read of the ticket; the script checks it, so a stale guess (another
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

/// The station's queue in order, read by one script (a consistent snapshot).
pub(crate) async fn list_station(
    conn: &mut ConnectionManager,
    keys: &QueueKeys,
    station: &StationId,
    now: DateTime<Utc>,
) -> Result<Vec<QueuedItem>, QueueError> {
    let pairs: Vec<(String, String)> = SCRIPTS
        .list
        .key(keys.ready(station.as_str()))
        .key(keys.tickets())
        .invoke_async(conn)
        .await
        .map_err(unavailable)?;
    let now_us = micros(now);
    let mut items = Vec::with_capacity(pairs.len());
    for (field, value) in pairs {
        let ticket = ticket_in(&field).ok_or_else(|| corrupt(&field))?;
        let (value, lease) = split_lease(&value).ok_or_else(|| corrupt(&value))?;
        let entry = entry_in(ticket, value).ok_or_else(|| corrupt(value))?;
        if entry.station != *station {
            // A member left behind on a station its ticket is no longer on (nothing writes that).
            continue;
        }
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
        let ready = self.keys.ready(entry.station.as_str());
        let channel = self.keys.arrivals_channel(entry.station.as_str());
        let score = queue_score(entry.urgency, entry.due);
        let value = entry_value(&entry);
        // Where this replica last saw the ticket; most enqueues are of tickets on no queue yet.
        let mut current: Option<String> = self.guesses().get(&entry.ticket).cloned();
        for _ in 0..MAX_ATTEMPTS {
            let mut call = SCRIPTS.enqueue.prepare_invoke();
            call.key(self.keys.tickets()).key(&ready);
            // The old station's keys only when there may be one to move the ticket off.
            if let Some(old) = current.as_deref() {
                call.key(self.keys.ready(old)).key(self.keys.lease_expiry());
            }
            let reply: String = call
                .arg(&ticket)
                .arg(score)
                .arg(&value)
                .arg(current.as_deref().unwrap_or(""))
                .arg(&channel)
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
            None => {
                let value: Option<String> = redis::cmd("HGET")
                    .arg(self.keys.tickets())
                    .arg(&field)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                match value {
                    Some(value) => Some(
                        value_station(&value)
                            .ok_or_else(|| corrupt(&value))?
                            .to_owned(),
                    ),
                    None => None,
                }
            }
        };
        for _ in 0..MAX_ATTEMPTS {
            let Some(station) = current.take() else {
                return Ok(false);
            };
            let reply: String = SCRIPTS
                .remove
                .key(self.keys.tickets())
                .key(self.keys.ready(&station))
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
        let reply: Vec<String> = SCRIPTS
            .claim
            .key(self.keys.ready(station.as_str()))
            .key(self.keys.tickets())
            .key(self.keys.lease_expiry())
            .arg(ticket.map(ticket_field).unwrap_or_default())
            .arg(holder.as_str())
            .arg(micros(until))
            .arg(micros(now))
            .arg(station.as_str())
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
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.keys.tickets())
            .arg(&field)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (value, lease) = split_lease(&raw).ok_or_else(|| corrupt(&raw))?;
        let station = value_station(value).ok_or_else(|| corrupt(value))?;
        let station = StationId::parse("station", station).map_err(|_| corrupt(station))?;
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
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.keys.tickets())
                .arg(&expired)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let mut by_station: BTreeMap<String, Vec<&String>> = BTreeMap::new();
            for (ticket, value) in expired.iter().zip(values) {
                if let Some(value) = value {
                    let station = value_station(&value).ok_or_else(|| corrupt(&value))?;
                    by_station
                        .entry(station.to_owned())
                        .or_default()
                        .push(ticket);
                }
            }
            let mut progressed = false;
            for (station, tickets) in by_station {
                let mut call = SCRIPTS.release_expired.prepare_invoke();
                call.key(self.keys.lease_expiry())
                    .key(self.keys.tickets())
                    .arg(now_us)
                    .arg(&station)
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
        // Every station with something on it now, in this layout or the older one (whose keys
        // go too), or after the rebuild.
        let (values, old_stations): (Vec<String>, Vec<String>) = redis::pipe()
            .cmd("HVALS")
            .arg(self.keys.tickets())
            .cmd("HVALS")
            .arg(self.keys.retired_ticket_station())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut stations: BTreeSet<String> = old_stations.into_iter().collect();
        // A rebuild is the way out of bad data, so an unreadable value does not stop it (the
        // whole hash goes anyway).
        stations.extend(
            values
                .iter()
                .filter_map(|v| value_station(v))
                .map(str::to_owned),
        );
        stations.extend(kept.iter().flatten().map(|e| e.station.as_str().to_owned()));

        // One MULTI: every replica sees the old working set or the new one, nothing between.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL")
            .arg(self.keys.tickets())
            .arg(self.keys.lease_expiry())
            .arg(self.keys.retired_ticket_station())
            .arg(&self.keys.retired_built())
            .ignore();
        for station in &stations {
            pipe.cmd("DEL")
                .arg(self.keys.ready(station))
                .arg(&self.keys.retired_station_keys(station))
                .ignore();
        }
        let mut fields = Vec::new();
        for entry in kept.iter().flatten() {
            let field = ticket_field(entry.ticket);
            let value = entry_value(entry);
            pipe.cmd("ZADD")
                .arg(self.keys.ready(entry.station.as_str()))
                .arg(queue_score(entry.urgency, entry.due))
                .arg(format!("{}{field}", &value[..TAG_LEN]))
                .ignore();
            fields.push((field, value));
        }
        for chunk in fields.chunks(REBUILD_CHUNK) {
            let cmd = pipe.cmd("HSET").arg(self.keys.tickets());
            for (field, value) in chunk {
                cmd.arg(field).arg(value);
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
