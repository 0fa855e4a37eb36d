//! Live arrivals across replicas: the scripts `PUBLISH` every arrival on `P:arrivals`; each
//! [`RedisQueue`](super::RedisQueue) keeps one subscription and forwards what it hears into its
//! tokio broadcast channel, so [`Queue::subscribe`](crate::Queue::subscribe) sees arrivals from
//! *any* router on the same Redis and prefix.
//!
//! Redis pub/sub is fire-and-forget: what is published while the subscription is down is lost.
//! Two things make that safe:
//! - a watcher lists the queue *after* subscribing and then follows (the router's `WatchQueue`
//!   does, and re-lists on `Lagged`), so a watcher that (re)connects misses nothing;
//! - when this forwarder loses its subscription it reconnects (with backoff) and, once subscribed
//!   again, re-announces every queued entry without a live lease, so watchers that stayed
//!   connected through the gap catch up (they upsert items, so a repeat is harmless).

use std::time::Duration;

use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSub};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::codec::arrival_in;
use super::keys::QueueKeys;
use super::queue::available_entries;
use super::unavailable;
use crate::{QueueEntry, QueueError};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The forwarding task; stops when dropped (with its queue).
#[derive(Debug)]
pub struct Forwarder {
    task: JoinHandle<()>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Forwarder {
    /// Subscribes (waiting for Redis to confirm) and starts forwarding.
    pub async fn start(
        client: redis::Client,
        conn: ConnectionManager,
        keys: QueueKeys,
        arrivals: broadcast::Sender<QueueEntry>,
    ) -> Result<Self, QueueError> {
        let channel = keys.arrivals_channel();
        let pubsub = subscribe(&client, channel).await.map_err(unavailable)?;
        let task = tokio::spawn(forward(client, conn, keys, arrivals, pubsub));
        Ok(Self { task })
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

async fn forward(
    client: redis::Client,
    mut conn: ConnectionManager,
    keys: QueueKeys,
    arrivals: broadcast::Sender<QueueEntry>,
    mut pubsub: PubSub,
) {
    let channel = keys.arrivals_channel();
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let payload: String = match message.get_payload() {
                    Ok(payload) => payload,
                    Err(err) => {
                        tracing::warn!(%err, "arrival message is not text; skipped");
                        continue;
                    }
                };
                match arrival_in(&payload) {
                    // No subscriber is fine: watchers list the queue when they connect.
                    Some(entry) => {
                        let _ = arrivals.send(entry);
                    }
                    None => tracing::warn!(%payload, "unreadable arrival message; skipped"),
                }
            }
        }
        tracing::warn!(%channel, "arrivals subscription lost; reconnecting");
        let mut backoff = BACKOFF_MIN;
        pubsub = loop {
            tokio::time::sleep(backoff).await;
            match subscribe(&client, channel).await {
                Ok(pubsub) => break pubsub,
                Err(err) => {
                    tracing::warn!(%err, ?backoff, "arrivals subscription: reconnect failed");
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        };
        tracing::info!(%channel, "arrivals subscription restored; re-announcing the queues");
        match available_entries(&mut conn, &keys).await {
            Ok(entries) => {
                for entry in entries {
                    let _ = arrivals.send(entry);
                }
            }
            Err(err) => tracing::warn!(%err, "could not re-announce the queues after a reconnect"),
        }
    }
}
