//! Test support for anything that talks to Redis (this crate's suites, the end-to-end tests):
//! find or start the local test Redis, and give each test its own key prefix so tests run in
//! parallel on one server without seeing each other.

use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{RedisDuplicates, RedisQueue, RedisTimers};

/// `HOTLINE_TEST_REDIS_URL`, else database 14 of the local Redis (the bench uses 15).
pub fn redis_url() -> String {
    std::env::var("HOTLINE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/14".to_owned())
}

/// Makes sure the local test Redis is up: if nothing listens on 127.0.0.1:6379, starts a
/// throw-away `redis-server` (no persistence) and waits for its port, for at most 10 s.
pub fn ensure_redis() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        if std::env::var("HOTLINE_TEST_REDIS_URL").is_ok() || listening() {
            return;
        }
        let started = daemon("redis-server")
            .args([
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .status();
        assert!(
            started.is_ok_and(|s| s.success()),
            "no Redis on 127.0.0.1:6379 and `redis-server` could not be started"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

fn listening() -> bool {
    TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A prefix no other test (or run) uses.
pub fn fresh_prefix() -> String {
    format!("test:{}", uuid::Uuid::new_v4().simple())
}

pub async fn redis_queue() -> RedisQueue {
    ensure_redis();
    RedisQueue::connect(&redis_url(), &fresh_prefix())
        .await
        .expect("connect to the test Redis")
}

pub async fn redis_timers() -> RedisTimers {
    ensure_redis();
    RedisTimers::connect(&redis_url(), &fresh_prefix())
        .await
        .expect("connect to the test Redis")
}

/// A duplicate index under a fresh prefix, with a test signature scheme name.
pub async fn redis_duplicates() -> RedisDuplicates {
    ensure_redis();
    RedisDuplicates::connect(&redis_url(), &fresh_prefix(), "test-scheme")
        .await
        .expect("connect to the test Redis")
}

/// Every key under `prefix` on the test Redis, sorted.
pub async fn keys_under(prefix: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        out.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    out.sort();
    out
}

/// Deletes every key under `prefix` (what a lost or flushed Redis looks like to that prefix).
pub async fn flush_prefix(prefix: &str) {
    let keys = keys_under(prefix).await;
    if keys.is_empty() {
        return;
    }
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for chunk in keys.chunks(1000) {
        redis::cmd("UNLINK")
            .arg(chunk)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

/// A local Redis Cluster: `primaries` primaries, each with one replica, as `redis-server
/// --cluster-enabled yes` processes on free ports, joined by `redis-cli --cluster create`.
/// Owned processes: dropping it kills them and removes their directory.
pub struct LocalCluster {
    dir: std::path::PathBuf,
    ports: Vec<u16>,
    children: std::collections::HashMap<u16, std::process::Child>,
}

impl LocalCluster {
    /// Starts the cluster and waits (at most 30 s) until every node reports `cluster_state:ok`.
    /// `node_timeout_ms` is how long a silent primary takes to be failed over.
    pub fn start(primaries: usize, node_timeout_ms: u64) -> Self {
        let dir = std::env::temp_dir().join(format!("hotline-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let ports = free_ports(primaries * 2);
        let mut cluster = Self {
            dir,
            ports: ports.clone(),
            children: std::collections::HashMap::new(),
        };
        for &port in &ports {
            let child = Command::new("redis-server")
                .args(node_args(port, node_timeout_ms))
                .current_dir(&cluster.dir)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("`redis-server` runs (Debian's redis-server package)");
            cluster.children.insert(port, child);
        }
        for &port in &ports {
            wait_for_port(port);
        }
        create_cluster(&ports);
        wait_until_ok(&ports);
        cluster
    }

    /// `redis+cluster://` naming every node.
    pub fn url(&self) -> String {
        cluster_url(&self.ports)
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The port of the primary serving `key`'s slot.
    pub fn primary_of(&self, key: &str) -> u16 {
        let slot = cli(self.ports[0], &["CLUSTER", "KEYSLOT", key]);
        let nodes = cli(self.ports[0], &["CLUSTER", "NODES"]);
        let slot: u16 = slot.trim().parse().expect("a slot");
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let owns = fields[8..].iter().any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if lo <= slot && slot <= hi)
            });
            if owns {
                let addr = fields[1].split('@').next().unwrap();
                return addr.rsplit_once(':').unwrap().1.parse().unwrap();
            }
        }
        panic!("no primary serves slot {slot}");
    }

    /// Kills the node on `port` (SIGKILL: a crash, no goodbye to the cluster).
    pub fn kill(&mut self, port: u16) {
        if let Some(mut child) = self.children.remove(&port) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether every node still running reports `cluster_state:ok` and `port` is no longer a
    /// primary in its view (a replica took over).
    pub fn failed_over(&self, port: u16) -> bool {
        let live: Vec<u16> = self.children.keys().copied().collect();
        live.iter().all(|p| {
            let info = cli(*p, &["CLUSTER", "INFO"]);
            let nodes = cli(*p, &["CLUSTER", "NODES"]);
            info.contains("cluster_state:ok")
                && !nodes.lines().any(|l| {
                    l.contains(&format!(":{port}@")) && l.contains("master") && !l.contains("fail")
                })
        })
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test Cluster the behaviour suites share (`HOTLINE_TEST_REDIS_CLUSTER_URL`, else one
/// started once per machine like the test Redis: 3 primaries and 3 replicas on free ports,
/// recorded in `$TMPDIR/hotline-test-cluster/url` and reused while it answers). It is left
/// running, as the test Redis is.
pub fn cluster_url_for_tests() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("HOTLINE_TEST_REDIS_CLUSTER_URL") {
            return url;
        }
        let dir = std::env::temp_dir().join("hotline-test-cluster");
        let record = dir.join("url");
        if let Ok(url) = std::fs::read_to_string(&record) {
            let ports = ports_of(&url);
            if !ports.is_empty()
                && ports.iter().all(|p| {
                    listening_on(*p) && cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
                })
            {
                return url;
            }
            // A stale record (the machine restarted, or a node died): stop what is left.
            for port in ports {
                let _ = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "SHUTDOWN", "NOSAVE"])
                    .output();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let ports = free_ports(6);
        for &port in &ports {
            let status = daemon("redis-server")
                .args(node_args(port, 5000))
                .args(["--daemonize", "yes", "--logfile", &format!("{port}.log")])
                .current_dir(&dir)
                .status()
                .expect("`redis-server` runs (Debian's redis-server package)");
            assert!(
                status.success(),
                "redis-server on port {port} did not start"
            );
        }
        for &port in &ports {
            wait_for_port(port);
        }
        create_cluster(&ports);
        wait_until_ok(&ports);
        let url = cluster_url(&ports);
        std::fs::write(&record, &url).expect("record the cluster");
        url
    })
    .clone()
}

pub async fn cluster_queue() -> RedisQueue {
    RedisQueue::connect(&cluster_url_for_tests(), &fresh_prefix())
        .await
        .expect("connect to the test Redis Cluster")
}

pub async fn cluster_timers() -> RedisTimers {
    RedisTimers::connect(&cluster_url_for_tests(), &fresh_prefix())
        .await
        .expect("connect to the test Redis Cluster")
}

pub async fn cluster_duplicates() -> RedisDuplicates {
    RedisDuplicates::connect(&cluster_url_for_tests(), &fresh_prefix(), "test-scheme")
        .await
        .expect("connect to the test Redis Cluster")
}

/// `program` run through bash, which first closes every descriptor above stderr: a server left
/// running after the tests must not keep what the test process inherited (a build lock, the
/// pipe a CI runner reads to its end).
fn daemon(program: &str) -> Command {
    let mut command = Command::new("bash");
    command.args([
        "-c",
        r#"for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$0" "$@""#,
        program,
    ]);
    command
}

fn node_args(port: u16, node_timeout_ms: u64) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        &format!("nodes-{port}.conf"),
        "--cluster-node-timeout",
        &node_timeout_ms.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dbfilename",
        &format!("dump-{port}.rdb"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn cluster_url(ports: &[u16]) -> String {
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    format!("redis+cluster://{}", nodes.join(","))
}

fn ports_of(url: &str) -> Vec<u16> {
    url.trim()
        .strip_prefix("redis+cluster://")
        .unwrap_or_default()
        .split(',')
        .filter_map(|n| n.rsplit_once(':')?.1.parse().ok())
        .collect()
}

/// `n` ports free now, each with its cluster bus port (+10000) free too.
fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut held = Vec::new();
    while ports.len() < n {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let bus_free =
            port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if bus_free && !ports.contains(&port) {
            ports.push(port);
        }
        held.push(listener);
    }
    ports
}

fn listening_on(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening_on(port) {
        assert!(
            Instant::now() < deadline,
            "redis-server on port {port} did not come up within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("`redis-cli` runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn create_cluster(ports: &[u16]) {
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(ports.iter().map(|p| format!("127.0.0.1:{p}")));
    args.extend([
        "--cluster-replicas".into(),
        "1".into(),
        "--cluster-yes".into(),
    ]);
    let out = Command::new("redis-cli")
        .args(&args)
        .output()
        .expect("`redis-cli` runs");
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every node agrees the cluster is whole (slots assigned, replicas attached).
fn wait_until_ok(ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = ports.iter().all(|p| {
            let info = cli(*p, &["CLUSTER", "INFO"]);
            let known = info
                .lines()
                .find_map(|l| l.strip_prefix("cluster_known_nodes:"))
                .and_then(|n| n.trim().parse::<usize>().ok());
            let replication = cli(*p, &["INFO", "replication"]);
            // A replica counts once it has synced from its primary (a failover needs that).
            let synced = !replication.contains("role:slave")
                || replication.contains("master_link_status:up");
            info.contains("cluster_state:ok") && known == Some(ports.len()) && synced
        });
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the Redis Cluster on {ports:?} was not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
