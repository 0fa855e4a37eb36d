//! `hotline simulate`: its flags, and what it prints and writes.
//!
//! ```text
//! hotline simulate scenario.toml [--seed N] [--out DIR]
//! hotline simulate scenario.toml --find-staff --target-on-time 0.98
//! ```
//! Prints the table, writes the CSV files, `run.json` and the SVG charts to `--out`, and ends
//! with `simulated tickets=N sign_for_on_time=R resolved_on_time=R backlog_end=N breaches=N`.

use std::path::{Path, PathBuf};

use clap::Args;
use hotline_sla::SlaPolicy;

use crate::behaviour::Staffing;
use crate::engine::EngineFactory;
use crate::runner::RunOptions;
use crate::scenario::{self, Context, Scenario};
use crate::{capacity, charts, report, runner, SimulateError};

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seed of every random draw; the scenario's `seed`, else 1, when unset. The same seed
    /// gives the same output.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the CSV files, `run.json` and the charts go (created; files in it replaced).
    /// Default: `simulations/<scenario name>-seed<seed>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The store: a `postgres://` URL (a fresh, empty database) instead of SQLite in a
    /// temporary directory.
    #[arg(long, env = "HOTLINE_SIMULATE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the temporary SQLite store is made (default: the system's temporary directory;
    /// a RAM disk such as /dev/shm makes long runs faster). Removed after the run.
    #[arg(long)]
    pub store_dir: Option<PathBuf>,
    /// The shared data directory the defaults are computed from (`civic/train.csv` for the
    /// category mix, `civic/reply_times.csv` for the resolution time).
    #[arg(long, env = "HOTLINE_SHARED_DATA", default_value = "../shared/data")]
    pub shared_data: PathBuf,
    /// How often the SLA timers fire, in virtual minutes.
    #[arg(long, default_value_t = 5)]
    pub timer_tick_minutes: u32,
    /// Search for the least staff per station kind that reaches --target-on-time.
    #[arg(long, requires = "target_on_time")]
    pub find_staff: bool,
    /// The rate the capacity search aims at for every station kind: the lower of its
    /// 及时签收率 and 按时办结率.
    #[arg(long)]
    pub target_on_time: Option<f64>,
    /// The most staff per station the search tries.
    #[arg(long, default_value_t = 256)]
    pub max_staff: u32,
    /// Print only the final line.
    #[arg(long)]
    pub quiet: bool,
}

/// The SLA policy in force when a run starts.
pub fn policy_at_start(scenario: &Scenario) -> SlaPolicy {
    scenario
        .policy
        .as_ref()
        .map_or_else(SlaPolicy::default_policy, |(_, p)| p.clone())
}

/// Reads and checks the scenario with what `factory`'s engine knows.
pub fn load_scenario(
    path: &Path,
    shared_data: &Path,
    factory: &dyn EngineFactory,
) -> Result<Scenario, SimulateError> {
    let directory = factory.directory();
    let taxonomy = factory.taxonomy();
    let calendar = factory.calendar();
    scenario::load(
        path,
        &Context {
            directory: &directory,
            taxonomy: &taxonomy,
            calendar: &calendar,
            shared_data,
        },
    )
}

fn default_out(scenario: &Scenario, seed: u64) -> PathBuf {
    let stem: String = Path::new(&scenario.file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from("simulations").join(format!("{stem}-seed{seed}"))
}

/// The command.
pub async fn run(args: &SimulateArgs, factory: &dyn EngineFactory) -> Result<(), SimulateError> {
    if let Some(target) = args.target_on_time {
        if !(0.0..=1.0).contains(&target) {
            return Err(SimulateError::Invalid(format!(
                "--target-on-time {target}: a rate from 0 to 1"
            )));
        }
    }
    if args.timer_tick_minutes == 0 {
        return Err(SimulateError::Invalid(
            "--timer-tick-minutes: at least 1".into(),
        ));
    }
    let scenario = load_scenario(&args.scenario, &args.shared_data, factory)?;
    let seed = args.seed.or(scenario.seed).unwrap_or(1);
    let mut options = RunOptions::new(seed);
    options.timer_tick = chrono::Duration::minutes(i64::from(args.timer_tick_minutes));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario, seed));
    let started = std::time::Instant::now();
    let outcome = if args.find_staff {
        let target = args
            .target_on_time
            .expect("clap requires it with --find-staff");
        let quiet = args.quiet;
        let found = capacity::find_staff(
            &scenario,
            factory,
            &options,
            target,
            args.max_staff.max(1),
            |run, staffing, outcome| {
                if !quiet {
                    eprintln!(
                        "run {run}: {} -> on time {:.4} (sign-for {:.4}, resolved {:.4})",
                        staff_line(staffing),
                        outcome.on_time(),
                        outcome.overall.sign_for_on_time.rate,
                        outcome.overall.resolved_on_time.rate
                    );
                }
            },
        )
        .await?;
        if !args.quiet {
            println!(
                "least staff per station reaching {target} on time ({} runs):",
                found.runs
            );
            for k in &found.kinds {
                let key = Staffing::key(Some(k.kind.0), k.kind.1);
                match k.staff {
                    Some(n) => println!("  {key:<24} {n:>4}   (rate {:.4})", k.rate),
                    None => println!(
                        "  {key:<24}    -   not reached with {} staff (rate {:.4}): its cases take longer than the deadline whatever the queue",
                        args.max_staff, k.rate
                    ),
                }
            }
            println!("[staff] for the scenario file:");
            for k in &found.kinds {
                if let Some(n) = k.staff {
                    println!("\"{}\" = {n}", Staffing::key(Some(k.kind.0), k.kind.1));
                }
            }
        }
        found.check
    } else {
        let engine = factory
            .open(scenario.starts_at(), policy_at_start(&scenario))
            .await?;
        runner::run(&scenario, engine.as_ref(), options).await?
    };
    report::write_files(&outcome, &out)?;
    charts::write_all(&outcome, &out)?;
    if !args.quiet {
        print!("{}", report::render(&outcome));
        println!("\nwritten to {}", out.display());
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "simulate done");
    eprintln!(
        "wall time {:.1} s, {:.0} tickets/s",
        started.elapsed().as_secs_f64(),
        outcome.tickets as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    println!("{}", outcome.final_line());
    Ok(())
}

fn staff_line(staffing: &Staffing) -> String {
    let mut parts = vec![format!("default={}", staffing.default)];
    parts.extend(
        staffing
            .by_kind
            .iter()
            .map(|((l, k), n)| format!("{}={n}", Staffing::key(*l, *k))),
    );
    parts.join(" ")
}
