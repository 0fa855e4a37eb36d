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
//! - [`duplicates`]: [`RedisDuplicates`], the duplicate index.
//!
//! Connection errors (including timeouts) map to [`QueueError::Unavailable`]; commands go through
//! a [`Conn`]: one Redis (a [`redis::aio::ConnectionManager`], which reconnects on its own) or a
//! Redis Cluster (a [`redis::cluster_async::ClusterConnection`], which follows `MOVED` and
//! `ASK` redirections and a failover on its own). Every command and script touches one slot.

pub mod codec;
pub mod duplicates;
pub mod keys;
pub mod pubsub;
pub mod queue;
pub mod scripts;
pub mod timers;

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::QueueError;

pub use duplicates::RedisDuplicates;
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

/// Where the working set lives: one Redis (`redis://host:port/db`, or a primary behind
/// Sentinel) or a Redis Cluster, named `redis+cluster://[user:password@]host:port,host:port`
/// (any of its nodes; the client learns the rest; the credentials apply to every node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Single(String),
    Cluster(Vec<String>),
}

impl Target {
    pub fn parse(raw: &str) -> Result<Self, QueueError> {
        let raw = raw.trim();
        match raw.strip_prefix("redis+cluster://") {
            None => Ok(Self::Single(raw.to_owned())),
            Some(rest) => {
                let (credentials, hosts) = match rest.rsplit_once('@') {
                    Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
                    None => (String::new(), rest),
                };
                let nodes: Vec<String> = hosts
                    .trim_end_matches('/')
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| format!("redis://{credentials}{n}"))
                    .collect();
                if nodes.is_empty() {
                    return Err(QueueError::Unavailable(
                        "redis+cluster:// names no node (write redis+cluster://host:port,host:port)"
                            .into(),
                    ));
                }
                Ok(Self::Cluster(nodes))
            }
        }
    }

    /// Clients of single nodes, for the arrivals subscription: on a Cluster a `PUBLISH` reaches
    /// every node, so listening on any one live node is enough; it tries them in turn.
    pub(crate) fn node_clients(&self) -> Result<Vec<redis::Client>, QueueError> {
        let urls = match self {
            Self::Single(url) => std::slice::from_ref(url),
            Self::Cluster(nodes) => nodes.as_slice(),
        };
        urls.iter()
            .map(|url| redis::Client::open(url.as_str()).map_err(unavailable))
            .collect()
    }
}

/// A connection to one Redis or to a Cluster; cheap to clone (both multiplex).
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl Conn {
    /// Every key matching `pattern`: `SCAN` on the one Redis, or on each primary of a Cluster.
    pub(crate) async fn scan_match(&mut self, pattern: &str) -> Result<Vec<String>, QueueError> {
        let mut keys = Vec::new();
        match self {
            Self::Single(conn) => {
                let mut cursor: u64 = 0;
                loop {
                    let (next, found): (u64, Vec<String>) = scan_cmd(cursor, pattern)
                        .query_async(conn)
                        .await
                        .map_err(unavailable)?;
                    keys.extend(found);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Self::Cluster(conn) => {
                for (host, port) in primaries(conn).await? {
                    let mut cursor: u64 = 0;
                    loop {
                        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let reply = conn
                            .route_command(scan_cmd(cursor, pattern), route)
                            .await
                            .map_err(unavailable)?;
                        let (next, found): (u64, Vec<String>) =
                            redis::from_redis_value(reply).map_err(|e| corrupt(e.to_string()))?;
                        keys.extend(found);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        Ok(keys)
    }
}

fn scan_cmd(cursor: u64, pattern: &str) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000);
    cmd
}

/// The Cluster's primaries that are up, from `CLUSTER NODES`
/// (`<id> <ip:port@bus> <flags> ...`).
async fn primaries(conn: &mut ClusterConnection) -> Result<Vec<(String, u16)>, QueueError> {
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    let mut out = Vec::new();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
            continue;
        }
        let addr = addr.split('@').next().unwrap_or(addr);
        let Some((host, port)) = addr.rsplit_once(':') else {
            continue;
        };
        let port: u16 = port.parse().map_err(|_| corrupt(line))?;
        out.push((host.to_owned(), port));
    }
    Ok(out)
}

/// Opens an auto-reconnecting connection to `target`, and loads the scripts.
pub(crate) async fn connect(target: &Target) -> Result<Conn, QueueError> {
    let mut conn = match target {
        Target::Single(url) => {
            let client = redis::Client::open(url.as_str()).map_err(unavailable)?;
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_connection_timeout(Some(CONNECT_TIMEOUT));
            Conn::Single(
                client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(unavailable)?,
            )
        }
        Target::Cluster(nodes) => {
            let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(RESPONSE_TIMEOUT)
                // A failover takes the Cluster a few node timeouts: keep retrying a slot's
                // command through it (about 10 s in all) rather than failing the request.
                .retries(12)
                .min_retry_wait(100)
                .max_retry_wait(2_000)
                .build()
                .map_err(unavailable)?;
            Conn::Cluster(client.get_async_connection().await.map_err(unavailable)?)
        }
    };
    scripts::load_all(&mut conn).await.map_err(unavailable)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn cluster_targets_name_every_node_with_the_same_credentials() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379/3").unwrap(),
            Target::Single("redis://127.0.0.1:6379/3".into())
        );
        assert_eq!(
            Target::parse("redis+cluster://10.0.0.1:7000, 10.0.0.2:7001/").unwrap(),
            Target::Cluster(vec![
                "redis://10.0.0.1:7000".into(),
                "redis://10.0.0.2:7001".into()
            ])
        );
        assert_eq!(
            Target::parse("redis+cluster://app:s3cret@a:7000,b:7000").unwrap(),
            Target::Cluster(vec![
                "redis://app:s3cret@a:7000".into(),
                "redis://app:s3cret@b:7000".into()
            ])
        );
        assert!(Target::parse("redis+cluster://").is_err());
    }
}
