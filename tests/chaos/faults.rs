//! The faults, and how recovery from each is timed: from the moment the fault ends (the
//! process is back, the link healed, the data gone) until every replica reports ready and
//! acknowledges a submit.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::bail;
use hotline_dispatch::{Queue, RedisQueue};

use crate::load::Load;
use crate::world::World;

#[derive(Debug, Clone)]
pub enum Fault {
    /// `kill -9` of a replica, started again after `down`.
    KillReplica { replica: usize, down: Duration },
    /// Redis `FLUSHALL`: the working set is gone, Redis stays up.
    FlushRedis,
    /// Redis killed (`kill -9`, nothing kept on disk) and started again after `down`.
    KillRedis { down: Duration },
    /// PostgreSQL `restart -m fast`.
    RestartPostgres,
    /// PostgreSQL `stop -m immediate` (a crash: recovery from the WAL) and start.
    CrashPostgres,
    /// A replica cut off from Redis and PostgreSQL for `down` (its TCP proxies hold every byte).
    CutOff { replica: usize, down: Duration },
    /// Every replica's link to PostgreSQL slowed by `lag` per chunk for `down`.
    SlowPostgres { lag: Duration, down: Duration },
    /// Replica 0's clock stepped by `by_ms`, and back after `down`.
    StepClock { by_ms: i64, down: Duration },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::KillReplica { replica, down } => {
                write!(f, "kill -9 replica {replica}, down {down:?}")
            }
            Fault::FlushRedis => write!(f, "Redis FLUSHALL"),
            Fault::KillRedis { down } => write!(f, "Redis killed, down {down:?}"),
            Fault::RestartPostgres => write!(f, "PostgreSQL restart -m fast"),
            Fault::CrashPostgres => write!(f, "PostgreSQL stop -m immediate, then start"),
            Fault::CutOff { replica, down } => {
                write!(
                    f,
                    "replica {replica} cut off from Redis and PostgreSQL for {down:?}"
                )
            }
            Fault::SlowPostgres { lag, down } => {
                write!(f, "PostgreSQL slowed by {lag:?} per chunk for {down:?}")
            }
            Fault::StepClock { by_ms, down } => {
                write!(f, "replica 0's clock stepped {by_ms:+} ms for {down:?}")
            }
        }
    }
}

impl Fault {
    /// The fault's kind, for the recovery summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::KillReplica { .. } => "kill-replica",
            Fault::FlushRedis => "redis-flushall",
            Fault::KillRedis { .. } => "redis-killed",
            Fault::RestartPostgres => "postgres-restart",
            Fault::CrashPostgres => "postgres-crash",
            Fault::CutOff { .. } => "replica-cut-off",
            Fault::SlowPostgres { .. } => "postgres-slow",
            Fault::StepClock { .. } => "clock-step",
        }
    }

    /// Whether claims' leases may be lost during it: they live in Redis, on replicas' clocks.
    pub fn breaks_leases(&self) -> bool {
        matches!(
            self,
            Fault::FlushRedis | Fault::KillRedis { .. } | Fault::StepClock { .. }
        )
    }
}

/// The largest clock step a schedule makes: a flag may fire this much early on that replica.
pub const MAX_CLOCK_STEP_MS: i64 = 15_000;

/// Every fault once.
pub fn short_schedule() -> Vec<Fault> {
    vec![
        Fault::KillReplica {
            replica: 1,
            down: Duration::from_secs(2),
        },
        Fault::FlushRedis,
        Fault::KillRedis {
            down: Duration::from_secs(2),
        },
        Fault::RestartPostgres,
        Fault::CrashPostgres,
        Fault::CutOff {
            replica: 2,
            down: Duration::from_secs(20),
        },
        Fault::SlowPostgres {
            lag: Duration::from_millis(50),
            down: Duration::from_secs(10),
        },
        Fault::StepClock {
            by_ms: MAX_CLOCK_STEP_MS,
            down: Duration::from_secs(15),
        },
    ]
}

/// Faults drawn in a seeded order, more than any run uses (the run stops at its length).
pub fn long_schedule(seed: u64) -> Vec<Fault> {
    let kinds = short_schedule();
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64: a reproducible order from the printed seed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..10_000)
        .map(|_| {
            let mut fault = kinds[(next() % kinds.len() as u64) as usize].clone();
            match &mut fault {
                Fault::KillReplica { replica, .. } | Fault::CutOff { replica, .. } => {
                    *replica = (next() % crate::world::REPLICAS as u64) as usize;
                }
                Fault::StepClock { by_ms, .. } if next() % 2 == 0 => *by_ms = -*by_ms,
                _ => {}
            }
            fault
        })
        .collect()
}

/// Injects `fault`, ends it, and returns how long until every replica served again.
pub async fn inject(world: &World, load: &Load, fault: &Fault) -> anyhow::Result<Duration> {
    match fault {
        Fault::KillReplica { replica, down } => {
            world.kill_replica(*replica);
            tokio::time::sleep(*down).await;
            world.start_replica(*replica)?;
        }
        Fault::FlushRedis => {
            world.redis_command(&["FLUSHALL"]).await?;
        }
        Fault::KillRedis { down } => {
            world.kill_redis();
            tokio::time::sleep(*down).await;
            world.start_redis().await?;
        }
        Fault::RestartPostgres => {
            let pg = &world.pg;
            tokio::task::block_in_place(|| pg.ctl(&["restart", "-m", "fast", "-w", "-t", "60"]));
        }
        Fault::CrashPostgres => {
            let pg = &world.pg;
            tokio::task::block_in_place(|| {
                pg.ctl(&["stop", "-m", "immediate"]);
                pg.ctl(&["start", "-w", "-t", "60"]);
            });
        }
        Fault::CutOff { replica, down } => {
            let r = &world.replicas[*replica];
            r.pg.cut();
            r.redis.cut();
            tokio::time::sleep(*down).await;
            r.pg.heal();
            r.redis.heal();
        }
        Fault::SlowPostgres { lag, down } => {
            for r in &world.replicas {
                r.pg.slow(*lag);
            }
            tokio::time::sleep(*down).await;
            for r in &world.replicas {
                r.pg.slow(Duration::ZERO);
            }
        }
        Fault::StepClock { by_ms, down } => {
            world.step_clock(*by_ms)?;
            tokio::time::sleep(*down).await;
            world.step_clock(0)?;
        }
    }
    let started = Instant::now();
    if matches!(fault, Fault::FlushRedis | Fault::KillRedis { .. }) {
        // The working set is gone: recovered once a replica has rebuilt it from the store.
        let queue = RedisQueue::connect(&world.direct_redis_url(), crate::world::REDIS_PREFIX)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the private Redis: {e}"))?;
        while !queue.is_intact().await.unwrap_or(false) {
            if started.elapsed() > Duration::from_secs(180) {
                bail!("the working set was not rebuilt within 180 s of: {fault}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(started.elapsed() + recovered(world, load, &fault.to_string()).await?)
}

/// From now until every replica is ready and has acknowledged a probe submit.
async fn recovered(world: &World, load: &Load, label: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let label: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    for index in 0..world.replicas.len() {
        loop {
            if crate::world::ready(&world.replicas[index].channel).await
                && load.probe(index, &label).await
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(180) {
                bail!("replica {index} did not recover within 180 s of: {label}");
            }
            // Polled, as a load balancer's health check is.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(started.elapsed())
}
