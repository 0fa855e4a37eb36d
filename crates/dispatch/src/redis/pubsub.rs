//! Live arrivals across replicas, per station: the scripts `PUBLISH` each arrival on its
//! station's channel `P:arrivals:{S}`, and a replica subscribes to a station's channel only while
//! someone on it watches that station ([`Queue::subscribe`](crate::Queue::subscribe)). So an
//! arrival costs Redis one delivery per replica that has a watcher for its station (none when
//! nobody watches), and a replica reads only the arrivals its watchers asked for, however many
//! stations and replicas there are. On a Redis Cluster a `PUBLISH` reaches every node, so the
//! subscription connection listens on any one live node, trying the configured ones in turn
//! when it loses its node (a failover).
//!
//! [`Arrivals::subscribe`] returns once Redis has confirmed the subscription: a watcher that lists
//! the queue after that and then follows misses nothing (the router's `WatchQueue` does, and
//! re-lists on `Lagged`). A station's channel is dropped lazily, on the first arrival heard after
//! its last watcher left.
//!
//! Redis pub/sub is fire-and-forget: what is published while the connection is down is lost.
//! When the forwarder loses its connection it reconnects (with backoff), subscribes again to every
//! watched station, and then re-announces each one's queued entries without a live lease, so
//! watchers that stayed connected through the gap catch up (they upsert items, so a repeat is
//! harmless).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hotline_core::StationId;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::codec::arrival_in;
use super::keys::QueueKeys;
use super::queue::list_station;
use super::{unavailable, Conn, RESPONSE_TIMEOUT};
use crate::{QueueEntry, QueueError};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Listings tried per watched station after a reconnect (about 10 s with the backoff above).
const REANNOUNCE_ATTEMPTS: u32 = 6;
/// How many arrivals a slow watcher may fall behind before it sees `Lagged` (and re-lists).
const CAPACITY: usize = 1024;

/// A watched station: its local fan-out, and whether Redis confirmed the subscription on the
/// current connection.
struct Watched {
    station: StationId,
    sender: broadcast::Sender<QueueEntry>,
    live: bool,
    /// An unsubscribe is on its way (decided under the sink lock, see [`Shared::sink`]).
    leaving: bool,
}

struct Shared {
    keys: QueueKeys,
    /// Channel name -> watched station.
    watched: Mutex<HashMap<String, Watched>>,
    /// Subscribes and unsubscribes go through this one lock, deciding and sending under it: a
    /// station's last watcher leaving can then never unsubscribe a channel that a new watcher
    /// has just been promised.
    sink: tokio::sync::Mutex<PubSubSink>,
}

impl Shared {
    fn watched(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watched>> {
        // Plain data, consistent after every statement: usable whatever a panicking holder left.
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The per-station subscriptions of one [`RedisQueue`](super::RedisQueue) and the task that
/// forwards what they hear; the task stops when this is dropped.
pub struct Arrivals {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals").finish_non_exhaustive()
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Arrivals {
    /// Opens the subscription connection (no channel yet) and starts forwarding.
    pub async fn start(
        clients: Vec<redis::Client>,
        conn: Conn,
        keys: QueueKeys,
    ) -> Result<Self, QueueError> {
        let mut last_err = None;
        let mut opened = None;
        for (at, client) in clients.iter().enumerate() {
            match client.get_async_pubsub().await {
                Ok(pubsub) => {
                    opened = Some((at, pubsub.split()));
                    break;
                }
                Err(err) => last_err = Some(err),
            }
        }
        let Some((at, (sink, stream))) = opened else {
            return Err(last_err.map_or_else(
                || QueueError::Unavailable("no Redis node to subscribe on".into()),
                unavailable,
            ));
        };
        let shared = Arc::new(Shared {
            keys,
            watched: Mutex::new(HashMap::new()),
            sink: tokio::sync::Mutex::new(sink),
        });
        let task = tokio::spawn(forward(clients, at, conn, shared.clone(), stream));
        Ok(Self { shared, task })
    }

    /// Arrivals on `station` from any replica, from the moment this returns.
    pub async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError> {
        let channel = self.shared.keys.arrivals_channel(station.as_str());
        let mut sink = self.shared.sink.lock().await;
        let receiver = {
            let mut watched = self.shared.watched();
            let entry = watched.entry(channel.clone()).or_insert_with(|| Watched {
                station: station.clone(),
                sender: broadcast::channel(CAPACITY).0,
                live: false,
                leaving: false,
            });
            let receiver = entry.sender.subscribe();
            if entry.live {
                return Ok(receiver);
            }
            receiver
        };
        // On failure the entry stays, not live: the forwarder subscribes it again when it
        // reconnects, if a watcher still holds a receiver.
        bounded(sink.subscribe(&channel)).await?;
        if let Some(entry) = self.shared.watched().get_mut(&channel) {
            entry.live = true;
        }
        Ok(receiver)
    }
}

/// Drops the subscription of a station nobody watches any more (unless a watcher came back).
async fn unsubscribe_if_unwatched(shared: Arc<Shared>, channel: String) {
    let mut sink = shared.sink.lock().await;
    let idle = {
        let mut watched = shared.watched();
        let Some(w) = watched.get_mut(&channel) else {
            return;
        };
        w.leaving = false;
        let idle = w.sender.receiver_count() == 0;
        if idle {
            watched.remove(&channel);
        }
        idle
    };
    if idle {
        if let Err(err) = bounded(sink.unsubscribe(&channel)).await {
            // The connection is going: the reconnect subscribes only to watched stations.
            tracing::debug!(%err, %channel, "unsubscribe failed");
        }
    }
}

/// A subscribe or unsubscribe, given up after [`RESPONSE_TIMEOUT`]: they run under the sink
/// lock, and a connection that died silently must not keep every other watcher waiting.
async fn bounded(
    request: impl std::future::Future<Output = redis::RedisResult<()>>,
) -> Result<(), QueueError> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, request).await {
        Ok(done) => done.map_err(unavailable),
        Err(_) => Err(QueueError::Unavailable(
            "Redis did not confirm a (un)subscribe in time".into(),
        )),
    }
}

async fn forward(
    clients: Vec<redis::Client>,
    mut node: usize,
    mut conn: Conn,
    shared: Arc<Shared>,
    mut stream: PubSubStream,
) {
    loop {
        while let Some(message) = stream.next().await {
            let channel = message.get_channel_name();
            let (station, sender) = {
                let mut watched = shared.watched();
                let Some(w) = watched.get_mut(channel) else {
                    continue;
                };
                if w.sender.receiver_count() == 0 {
                    if !w.leaving {
                        w.leaving = true;
                        tokio::spawn(unsubscribe_if_unwatched(shared.clone(), channel.to_owned()));
                    }
                    continue;
                }
                (w.station.clone(), w.sender.clone())
            };
            let payload: String = match message.get_payload() {
                Ok(payload) => payload,
                Err(err) => {
                    tracing::warn!(%err, "arrival message is not text; skipped");
                    continue;
                }
            };
            match arrival_in(&station, &payload) {
                // A watcher that left meanwhile is fine: it listed the queue when it came.
                Some(entry) => {
                    let _ = sender.send(entry);
                }
                None => tracing::warn!(%payload, "unreadable arrival message; skipped"),
            }
        }
        tracing::warn!("arrivals subscription lost; reconnecting");
        let mut backoff = BACKOFF_MIN;
        stream = loop {
            tokio::time::sleep(backoff).await;
            match resubscribe(&clients[node], &shared).await {
                Ok(stream) => break stream,
                Err(err) => {
                    tracing::warn!(%err, ?backoff, "arrivals subscription: reconnect failed");
                    // The next node of a Cluster (the same one on a single Redis).
                    node = (node + 1) % clients.len();
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        };
        tracing::info!("arrivals subscription restored; re-announcing the watched queues");
        reannounce(&mut conn, &shared).await;
    }
}

/// A new connection, subscribed to every station that still has a watcher.
async fn resubscribe(client: &redis::Client, shared: &Shared) -> Result<PubSubStream, QueueError> {
    let connected = tokio::time::timeout(RESPONSE_TIMEOUT, client.get_async_pubsub()).await;
    let (mut sink, stream) = connected
        .map_err(|_| QueueError::Unavailable("Redis did not accept a connection in time".into()))?
        .map_err(unavailable)?
        .split();
    let mut current = shared.sink.lock().await;
    let channels: Vec<String> = {
        let mut watched = shared.watched();
        watched.retain(|_, w| w.sender.receiver_count() > 0);
        watched.keys().cloned().collect()
    };
    if !channels.is_empty() {
        bounded(sink.subscribe(&channels)).await?;
    }
    for w in shared.watched().values_mut() {
        w.live = true;
    }
    *current = sink;
    Ok(stream)
}

/// Sends every watched station's unleased entries to its watchers (what the gap may have hidden).
async fn reannounce(conn: &mut Conn, shared: &Shared) {
    let stations: Vec<(StationId, broadcast::Sender<QueueEntry>)> = shared
        .watched()
        .values()
        .map(|w| (w.station.clone(), w.sender.clone()))
        .collect();
    for (station, sender) in stations {
        // The command connection went down with the subscription: its first request fails
        // (and makes it reconnect), so try again a few times before giving up on the station.
        let mut backoff = BACKOFF_MIN;
        let mut attempts = REANNOUNCE_ATTEMPTS;
        let items = loop {
            match list_station(conn, &shared.keys, &station, chrono::Utc::now()).await {
                Ok(items) => break Some(items),
                Err(err) if attempts > 1 => {
                    tracing::debug!(%err, %station, "re-announce: listing failed; retrying");
                    attempts -= 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
                Err(err) => {
                    tracing::warn!(%err, %station, "could not re-announce a queue after a reconnect");
                    break None;
                }
            }
        };
        for item in items.into_iter().flatten().filter(|i| i.lease.is_none()) {
            let _ = sender.send(item.entry);
        }
    }
}
