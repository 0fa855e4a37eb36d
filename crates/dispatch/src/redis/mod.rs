//! The Redis backends (production): [`RedisQueue`] and [`RedisTimers`], passing the same
//! behaviour suites as the in-process ones, so several router replicas can share one working set.
//!
//! # Layout
//! - [`keys`]: every key and channel name, and the layout (with the Redis Cluster caveats).
//! - [`codec`]: how entries, leases and timers are written into values; the queue-order score.
//! - [`scripts`]: the Lua scripts (`scripts/*.lua`; each atomic queue operation a function in
//!   `queue_ops.lua`, run in per-station batches), loaded once.
//! - [`queue`]: [`RedisQueue`], station queues, and the per-station batching of operations.
//! - [`pubsub`]: the arrivals subscription that feeds [`crate::Queue::subscribe`] across replicas.
//! - [`timers`]: [`RedisTimers`], the SLA timer index.
//!
//! Connection errors (including timeouts) map to [`QueueError::Unavailable`]; commands go through
//! a [`redis::aio::ConnectionManager`], which reconnects on its own.

pub mod codec;
pub mod keys;
pub mod pubsub;
pub mod queue;
pub mod scripts;
pub mod timers;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::QueueError;

pub use queue::RedisQueue;
pub use timers::RedisTimers;

/// How long one command may take before it counts as unavailable. Generous: a rebuild or a big
/// claim batch is one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis error as a queue error: connection faults, timeouts and "not now" answers (LOADING,
/// TRYAGAIN, a failover) are transient; a script error or a wrong reply is a bug.
pub(crate) fn unavailable(err: redis::RedisError) -> QueueError {
    let transient = err.is_timeout()
        || err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || !matches!(err.retry_method(), redis::RetryMethod::NoRetry);
    if transient {
        QueueError::Unavailable(err.to_string())
    } else {
        QueueError::Broken(err.to_string())
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> QueueError {
    QueueError::Broken(format!("unexpected data in Redis: {what}"))
}

/// Opens a client and an auto-reconnecting connection, and loads the scripts.
pub(crate) async fn connect(url: &str) -> Result<(redis::Client, ConnectionManager), QueueError> {
    let client = redis::Client::open(url).map_err(unavailable)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    let mut conn = client
        .get_connection_manager_with_config(config)
        .await
        .map_err(unavailable)?;
    scripts::load_all(&mut conn).await.map_err(unavailable)?;
    Ok((client, conn))
}
