//! Test support for anything that talks to Redis (this crate's suites, the end-to-end tests):
//! find or start the local test Redis, and give each test its own key prefix so tests run in
//! parallel on one server without seeing each other.

use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{RedisQueue, RedisTimers};

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
        let started = Command::new("redis-server")
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

/// Deletes every key under `prefix` (what a lost or flushed Redis looks like to that prefix).
pub async fn flush_prefix(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
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
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}
