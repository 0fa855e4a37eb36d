//! The chaos harness: a whole world of its own (a private PostgreSQL cluster, a private Redis,
//! three router replicas, each behind TCP proxies to both servers), a bounded load of submits,
//! station staff and supervisors, SLA timers falling due, and real process faults injected on a
//! schedule while the load runs. After the load stops and the system settles, the auditor
//! checks the store and Redis directly and prints
//!
//! ```text
//! chaos: faults=N submits_ok=N lost=0 double=0 timers_missed=0 timers_doubled=0 replay_mismatch=0 recovery_p99_s=...
//! ```
//!
//! exiting non-zero when any count is not 0. `tests/chaos/run.sh` builds and runs it.

mod audit;
mod faults;
mod load;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// After the last submit: its sign-for deadline (one minute) and the warning before it fall due.
const SETTLE: Duration = Duration::from_secs(75);

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "hotline-chaos",
    about = "Real process faults under load, then an audit"
)]
struct Args {
    /// Every fault once, about 3 minutes (the CI form).
    #[arg(long, conflicts_with = "long")]
    short: bool,
    /// Faults in a seeded random order, back to back, for --minutes (the bench form).
    #[arg(long)]
    long: bool,
    /// How long a --long run injects faults.
    #[arg(long, default_value_t = 15)]
    minutes: u64,
    /// Seed of the --long schedule (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The `hotline` binary the replicas run.
    #[arg(long)]
    hotline: PathBuf,
    /// Keep the world's directory (logs, data) afterwards.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("chaos: the harness failed: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let (schedule, length) = if args.long {
        let seed = args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1)
        });
        eprintln!("chaos: --long, {} min, seed {seed}", args.minutes);
        (
            faults::long_schedule(seed),
            Some(Duration::from_secs(args.minutes * 60)),
        )
    } else {
        (faults::short_schedule(), None)
    };
    let world = world::World::start(&args.hotline).await?;
    eprintln!("chaos: world up in {}", world.dir().display());
    let outcome = run_in(&world, schedule, length).await;
    let kept = args.keep || !matches!(outcome, Ok(true));
    world.stop().await;
    if kept {
        eprintln!("chaos: logs and data kept in {}", world.dir().display());
        eprintln!(
            "chaos: its PostgreSQL is left running for a look: {} (stop it with: {})",
            world.direct_database_url(),
            world.pg.stop_command()
        );
        // Dropping the world would stop and delete the cluster.
        std::mem::forget(world);
    } else {
        world.remove();
    }
    outcome
}

/// Runs the load with `schedule`'s faults (until `length` has passed, when given), then audits.
async fn run_in(
    world: &world::World,
    schedule: Vec<faults::Fault>,
    length: Option<Duration>,
) -> anyhow::Result<bool> {
    let began = Instant::now();
    let load = load::Load::start(world).await?;
    // A quiet start, so the first fault hits a system under steady load.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut recoveries = Vec::new();
    // When a claim's lease itself could be lost: Redis emptied, a replica's clock stepped.
    let mut lease_breaks = Vec::new();
    let mut by_kind = std::collections::BTreeMap::new();
    for fault in &schedule {
        if length.is_some_and(|length| began.elapsed() >= length) {
            break;
        }
        eprintln!("chaos: {fault}");
        let began = Instant::now();
        let recovered = faults::inject(world, &load, fault).await?;
        if fault.breaks_leases() {
            lease_breaks.push((began, Instant::now()));
        }
        eprintln!("chaos:   recovered in {:.1} s", recovered.as_secs_f64());
        recoveries.push(recovered);
        by_kind
            .entry(fault.kind())
            .or_insert_with(Vec::new)
            .push(recovered.as_secs_f64());
        // Load runs on between faults.
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let record = load.stop().await;
    for (kind, times) in &by_kind {
        let max = times.iter().copied().fold(0.0, f64::max);
        println!(
            "chaos: recovery after {kind}: {} times, max {max:.1} s",
            times.len()
        );
    }
    eprintln!(
        "chaos: load stopped: {} submits acknowledged, {} signed, {} replied, {} reviewed, {} closed",
        record.acknowledged.len(),
        record.signed.len(),
        record.replied,
        record.reviewed,
        record.closed
    );
    // Settle: the sign-for deadlines of the last tickets (one minute after their dispatch)
    // fall due on the wall clock and fire; the auditor judges those due by then.
    world.wait_ready().await?;
    if let Some(last) = record.last_ack {
        tokio::time::sleep_until((last + SETTLE).into()).await;
    }
    let report = audit::audit(
        world,
        &record,
        &recoveries,
        &lease_breaks,
        chrono::Duration::milliseconds(faults::MAX_CLOCK_STEP_MS),
    )
    .await?;
    Ok(report.print())
}
