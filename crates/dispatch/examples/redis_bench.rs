//! The Redis backends under load: the Rust side of `benches/peers/run.sh`, which runs the same
//! measurements against BullMQ (`benches/peers/bullmq.js`) on the same Redis and compares.
//!
//! Modes (each prints `key=value` lines that run.sh reads):
//! - `queue`: enqueue -> claim -> remove throughput of [`RedisQueue`] with `--concurrency`
//!   workers over `--stations` stations (BullMQ: add -> process -> complete). Each worker acts
//!   through one of `--replicas` router replicas, and its station is watched there (as an agent
//!   desk would), so every arrival is pushed live to the replica that serves its station.
//! - `timers`: `--total` pending timers in [`RedisTimers`] (1 per ticket, the memory worst case),
//!   `--firing` of them due evenly over `--window-s` seconds; `--claimers` tasks claim in
//!   batches of `--batch`, waiting on `next_due` between empty polls; lateness = the moment a
//!   claim returns - the timer's fire time (BullMQ: delayed jobs, processed - due).
//!   Also reports Redis bytes per pending timer (INFO used_memory delta / total).
//! - `memory`: Redis bytes per pending queue ticket and per pending timer, over `--n` of each.
//!
//! Run: `cargo run --release -p hotline-dispatch --example redis_bench -- timers --url
//! redis://127.0.0.1:6379/15`. It writes under `--prefix` only; use a dedicated database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use clap::{Parser, Subcommand};
use hotline_core::{StaffId, StationId, TicketId, Urgency};
use hotline_dispatch::{
    Queue, QueueEntry, RedisQueue, RedisTimers, Timer, TimerClock, TimerIndex, TimerStep,
};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "redis://127.0.0.1:6379/15")]
    url: String,
    #[arg(long, default_value = "bench")]
    prefix: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    Queue {
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 16)]
        stations: usize,
        /// Router replicas (each its own connection and arrivals subscription).
        #[arg(long, default_value_t = 2)]
        replicas: usize,
        /// Client threads: 1 (the default) is one event loop, as BullMQ's Node process has; more
        /// is tokio's multi-threaded scheduler with that many workers.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    Timers {
        #[arg(long, default_value_t = 1_000_000)]
        total: usize,
        #[arg(long, default_value_t = 100_000)]
        firing: usize,
        #[arg(long, default_value_t = 10)]
        window_s: i64,
        /// Seconds from the start of loading to the first fire time.
        #[arg(long, default_value_t = 25)]
        lead_s: i64,
        #[arg(long, default_value_t = 4)]
        claimers: usize,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Longest wait between polls when nothing is due (new timers may arrive meanwhile).
        #[arg(long, default_value_t = 100)]
        max_wait_ms: u64,
    },
    Memory {
        #[arg(long, default_value_t = 100_000)]
        n: usize,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // The client side of the queue run is one thread by default: on a small machine it shares
    // the cores with Redis, and one event loop sends the requests that became ready together in
    // one write (worker threads wake each other and write them one by one).
    let threads = match args.mode {
        Mode::Queue { threads, .. } => threads,
        _ => 0,
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            builder.worker_threads(threads);
        }
        builder.enable_all().build()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    match args.mode {
        Mode::Queue {
            jobs,
            concurrency,
            stations,
            replicas,
            threads: _,
        } => {
            queue_throughput(
                &args.url,
                &args.prefix,
                jobs,
                concurrency,
                stations,
                replicas,
            )
            .await?
        }
        Mode::Timers {
            total,
            firing,
            window_s,
            lead_s,
            claimers,
            batch,
            max_wait_ms,
        } => {
            let plan = TimerPlan {
                total,
                firing,
                window_s,
                lead_s,
                claimers,
                batch,
                max_wait_ms,
            };
            timers_lateness(&args.url, &args.prefix, plan).await?
        }
        Mode::Memory { n } => memory(&args.url, &args.prefix, n).await?,
    }
    Ok(())
}

fn station(n: usize) -> StationId {
    StationId::parse("station", &format!("32050500{n:04}-css")).expect("valid station id")
}

async fn queue_throughput(
    url: &str,
    prefix: &str,
    jobs: usize,
    concurrency: usize,
    stations: usize,
    replicas: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let prefix = format!("{prefix}:queue");
    let mut queues = Vec::new();
    for _ in 0..replicas.max(1) {
        queues.push(Arc::new(RedisQueue::connect(url, &prefix).await?));
    }
    // One watcher per (replica, station) that a worker uses, following its arrivals.
    let heard = Arc::new(AtomicUsize::new(0));
    let mut watched = std::collections::BTreeSet::new();
    let mut watchers = Vec::new();
    for w in 0..concurrency {
        let (r, s) = (w % queues.len(), w % stations.max(1));
        if watched.insert((r, s)) {
            let mut arrivals = queues[r].subscribe(&station(s)).await?;
            let heard = heard.clone();
            watchers.push(tokio::spawn(async move {
                while let Ok(entry) = arrivals.recv().await {
                    std::hint::black_box(entry);
                    heard.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let queue = queues[w % queues.len()].clone();
        let (next, done) = (next.clone(), done.clone());
        let station = station(w % stations.max(1));
        let holder = StaffId::parse("holder", &format!("w{w}"))?;
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                let now = Utc::now();
                queue
                    .enqueue(
                        QueueEntry {
                            ticket: TicketId::new(),
                            station: station.clone(),
                            urgency: Urgency::Normal,
                            due: Some(now + Duration::hours(1)),
                            enqueued_at: now,
                            version: 1,
                        },
                        None,
                    )
                    .await?;
                let lease = queue
                    .claim(&station, &holder, None, now + Duration::minutes(2), now)
                    .await?;
                if let Some(lease) = lease {
                    if queue.remove(lease.ticket, &station, 1).await? {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok::<_, hotline_dispatch::QueueError>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    // Whatever another worker's claim left behind (none in practice) is finished here.
    let now = Utc::now();
    for s in 0..stations.max(1) {
        let holder = StaffId::parse("holder", "drain")?;
        while let Some(lease) = queues[0]
            .claim(&station(s), &holder, None, now + Duration::minutes(2), now)
            .await?
        {
            if queues[0].remove(lease.ticket, &station(s), 1).await? {
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let completed = done.load(Ordering::Relaxed);
    println!("queue_jobs={completed}");
    println!("queue_seconds={secs:.3}");
    println!("queue_jobs_per_s={:.0}", completed as f64 / secs);
    // Pushed live by the end (the last few may still be on their way).
    println!("queue_arrivals_heard={}", heard.load(Ordering::Relaxed));
    for watcher in watchers {
        watcher.abort();
    }
    Ok(())
}

struct TimerPlan {
    total: usize,
    firing: usize,
    window_s: i64,
    lead_s: i64,
    claimers: usize,
    batch: usize,
    max_wait_ms: u64,
}

/// `INFO memory`'s used_memory of the Redis at `url`; on a Cluster (`redis+cluster://`), the sum
/// over its primaries (replicas hold copies).
async fn used_memory(url: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let nodes: Vec<String> = match url.strip_prefix("redis+cluster://") {
        Some(list) => list.split(',').map(|n| format!("redis://{n}")).collect(),
        None => vec![url.to_owned()],
    };
    let mut total = 0;
    for node in nodes {
        let client = redis::Client::open(node)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let (memory, replication): (String, String) = redis::pipe()
            .cmd("INFO")
            .arg("memory")
            .cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await?;
        if replication.contains("role:slave") {
            continue;
        }
        let used = memory
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .ok_or("INFO memory has no used_memory")?;
        total += used.trim().parse::<i64>()?;
    }
    Ok(total)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn timers_lateness(
    url: &str,
    prefix: &str,
    plan: TimerPlan,
) -> Result<(), Box<dyn std::error::Error>> {
    let prefix = format!("{prefix}:timers");
    let index = RedisTimers::connect(url, &prefix).await?;
    let load_started = Utc::now();
    let window_start = load_started + Duration::seconds(plan.lead_s);
    let window_ms = plan.window_s * 1000;
    let far = load_started + Duration::days(1);
    let firing = plan.firing.min(plan.total);
    let timers: Vec<Timer> = (0..plan.total)
        .map(|i| {
            let fire_at = if i < firing {
                window_start + Duration::microseconds(i as i64 * window_ms * 1000 / firing as i64)
            } else {
                far + Duration::milliseconds(i as i64)
            };
            Timer::new(
                TicketId::new(),
                TimerClock::Resolution,
                TimerStep::Breach,
                fire_at,
                fire_at,
            )
        })
        .collect();
    let before = used_memory(url).await?;
    let load_clock = Instant::now();
    index.rebuild(timers).await?;
    let load_s = load_clock.elapsed().as_secs_f64();
    let after = used_memory(url).await?;
    let pending = index.len().await?;
    println!("timers_pending={pending}");
    println!("timers_load_seconds={load_s:.2}");
    println!(
        "timers_bytes_per_timer={:.0}",
        (after - before) as f64 / plan.total as f64
    );
    if Utc::now() >= window_start {
        eprintln!("warning: loading outlasted --lead-s; lateness includes the load time");
    }

    let done = Arc::new(AtomicUsize::new(0));
    let mut claimers = Vec::new();
    for _ in 0..plan.claimers.max(1) {
        let index = RedisTimers::connect(url, &prefix).await?;
        let done = done.clone();
        let (batch_limit, max_wait) = (plan.batch, plan.max_wait_ms);
        claimers.push(tokio::spawn(async move {
            let mut lateness_ms: Vec<f64> = Vec::new();
            let mut batches = 0usize;
            while done.load(Ordering::Relaxed) < firing {
                let batch = index
                    .claim_due(Utc::now(), batch_limit, Duration::seconds(30))
                    .await?;
                let claimed_at = Utc::now();
                for timer in &batch {
                    let late = claimed_at - timer.fire_at();
                    lateness_ms.push(late.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3);
                }
                if !batch.is_empty() {
                    batches += 1;
                    futures::future::try_join_all(batch.iter().map(|t| index.ack(t))).await?;
                    done.fetch_add(batch.len(), Ordering::Relaxed);
                }
                if batch.len() < batch_limit {
                    // Nothing more due now: sleep until the next fire time (bounded).
                    let now = Utc::now();
                    let wake = match index.next_due().await? {
                        Some(next) if next > now => (next - now)
                            .to_std()
                            .unwrap_or_default()
                            .min(std::time::Duration::from_millis(max_wait)),
                        Some(_) => std::time::Duration::ZERO,
                        None => std::time::Duration::from_millis(max_wait),
                    };
                    if !wake.is_zero() {
                        tokio::time::sleep(wake).await;
                    }
                }
            }
            Ok::<_, hotline_dispatch::QueueError>((lateness_ms, batches))
        }));
    }
    let mut all = Vec::new();
    let mut batches = 0;
    for claimer in claimers {
        let (mine, n) = claimer.await??;
        all.extend(mine);
        batches += n;
    }
    all.sort_by(f64::total_cmp);
    println!("timers_fired={}", all.len());
    println!("timers_batches={batches}");
    println!("lateness_p50_ms={:.1}", percentile(&all, 50.0));
    println!("lateness_p99_ms={:.1}", percentile(&all, 99.0));
    println!(
        "lateness_max_ms={:.1}",
        all.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

async fn memory(url: &str, prefix: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let queue = Arc::new(RedisQueue::connect(url, &format!("{prefix}:mem-queue")).await?);
    let before = used_memory(url).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (queue, next) = (queue.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, hotline_dispatch::QueueError>(());
                }
                let now = Utc::now();
                queue
                    .enqueue(
                        QueueEntry {
                            ticket: TicketId::new(),
                            station: station(i % 64),
                            urgency: Urgency::Normal,
                            due: Some(now + Duration::hours(1)),
                            enqueued_at: now,
                            version: 1,
                        },
                        None,
                    )
                    .await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let after = used_memory(url).await?;
    println!(
        "queue_bytes_per_ticket={:.0}",
        (after - before) as f64 / n as f64
    );

    let index = RedisTimers::connect(url, &format!("{prefix}:mem-timers")).await?;
    let now = Utc::now();
    let timers: Vec<Timer> = (0..n)
        .map(|i| {
            let at = now + Duration::hours(1) + Duration::milliseconds(i as i64);
            Timer::new(
                TicketId::new(),
                TimerClock::Resolution,
                TimerStep::Breach,
                at,
                at,
            )
        })
        .collect();
    let before = used_memory(url).await?;
    index.rebuild(timers).await?;
    let after = used_memory(url).await?;
    println!(
        "timer_bytes_per_timer_{n}={:.0}",
        (after - before) as f64 / n as f64
    );
    Ok(())
}
