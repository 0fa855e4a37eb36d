//! The routed submit, step by step: how much CPU each step of `Hotline::submit` with automatic
//! routing costs, in process, on the data `hotline serve` loads by default (the shipped
//! classifier, catalogue and Suzhou directory, the default SLA policy and calendar).
//!
//! Each request (the load generator's texts, `crates/loadgen/src/text.rs`, with its nature,
//! urgency and map points; with `--suzhou-data`, its Suzhou background instead: real citizen
//! messages at Suzhou's communities, `crates/loadgen/src/suzhou.rs`, what the cpu and surge
//! benches send, where few requests duplicate a live ticket) goes through the steps
//! `submit_inner` takes for a routed request, called one by one so each can be timed:
//!
//! | step | what |
//! |---|---|
//! | accept | validate, fingerprint, open the ticket |
//! | classify / territory / catalogue | the routing engine's decision, its three parts |
//! | decide (rest) | the rest of the decision: assembling the explanation |
//! | duplicate | `Routing::find_duplicate`: sign the text, the duplicate index, read and compare candidates |
//! | deadlines | the plan: SLA deadlines filled in, the actions applied (`Sla::prepare`, `apply`) |
//! | store write | `TicketStore::create` |
//! | working set | queue, timers and duplicate index updated (`WorkingSet::follow_then`) |
//!
//! For each step it prints, in µs per submit: the wall time, the CPU of the thread running the
//! steps (a current-thread runtime: the router's own work, including the PostgreSQL and Redis
//! drivers), and the CPU of the whole process (which adds SQLite's connection threads). The
//! database and Redis servers' own CPU is not in these figures. The duplicate step is also
//! broken down (signing, the index lookup alone, the candidates' read and exact check), and
//! the same requests are then submitted through `Hotline::submit` itself, routed and held
//! (record only), for the ratio the goal is stated in.
//!
//! Configurations: the embedded default (SQLite in a temporary directory, in-process working
//! set) always; with `--database-url` and `--redis-url`, also PostgreSQL with the Redis working
//! set (a fresh database and key prefix are the caller's to give; `benches/route/run.sh` makes
//! and drops them).
//!
//! Build and run (release: debug builds time the wrong things):
//! `cargo build --release -p hotline-router --example route_profile` then
//! `target/release/examples/route_profile --requests 2000`, or `benches/route/run.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use hotline_core::lifecycle::Role;
use hotline_core::{
    apply, open, Action, Actor, Caller, Channel, GeoPoint, Nature, NewTicket, StaffId, TicketId,
    Urgency,
};
use hotline_dispatch::duplicates::VERIFY_LIMIT;
use hotline_dispatch::{DuplicateIndex, DuplicateKey, Queue, TimerIndex};
use hotline_router::config::ServeArgs;
use hotline_router::routing::{Hints, Routing};
use hotline_router::tickets::{Disposition, Hotline, LeasePolicy};
use hotline_router::working_set::{Verify, WorkingSet};
use hotline_router::{escalation, server};
use hotline_routing::minhash;
use hotline_store::TicketStore;
use rustix::time::{clock_gettime, ClockId};

// The load generator's request texts, as the submit bench sends them (its binary's module).
#[path = "../../loadgen/src/text.rs"]
#[allow(dead_code)]
mod text;

// Its Suzhou background (`--suzhou-data`): real citizen messages placed in Suzhou's
// communities, as the cpu and surge benches send them.
#[path = "../../loadgen/src/suzhou.rs"]
#[allow(dead_code)]
mod suzhou;

#[derive(Parser, Debug)]
struct Args {
    /// Routed submits measured per configuration.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Tickets submitted (routed) before the measured ones, so the duplicate index and the
    /// store hold live tickets.
    #[arg(long, default_value_t = 0)]
    preload: usize,
    /// Also profile on this PostgreSQL database (it is migrated and written to).
    #[arg(long)]
    database_url: Option<String>,
    /// With `--database-url`: the working set in this Redis (under `--redis-prefix`).
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value = "route-profile")]
    redis_prefix: String,
    /// Skip the end-to-end routed/held comparison.
    #[arg(long)]
    no_submit: bool,
    /// The shared data directory (`../shared/data`): the requests are then the load
    /// generator's Suzhou background (real citizen messages at Suzhou's communities, what
    /// `benches/cpu` and `benches/surge` send), not its generated texts, most of which
    /// duplicate each other.
    #[arg(long)]
    suzhou_data: Option<std::path::PathBuf>,
}

/// Where the requests come from: the generated texts, or the Suzhou background.
enum Source {
    Generated,
    Suzhou(suzhou::Divisions, Vec<String>),
}

impl Source {
    fn load(args: &Args) -> anyhow::Result<Self> {
        Ok(match &args.suzhou_data {
            None => Self::Generated,
            Some(dir) => Self::Suzhou(
                suzhou::Divisions::load(&dir.join("suzhou_divisions.csv"))?,
                suzhou::load_messages(&dir.join("civic/train.csv"))?,
            ),
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Generated => "generated texts",
            Self::Suzhou(..) => "the Suzhou background",
        }
    }
}

/// Wall, thread CPU and process CPU at one instant.
#[derive(Clone, Copy)]
struct Stamp {
    wall: Instant,
    thread: Duration,
    process: Duration,
}

fn cpu(clock: ClockId) -> Duration {
    let t = clock_gettime(clock);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Stamp {
    fn now() -> Self {
        Self {
            wall: Instant::now(),
            thread: cpu(ClockId::ThreadCPUTime),
            process: cpu(ClockId::ProcessCPUTime),
        }
    }
}

/// Totals of one step over the run.
#[derive(Default, Clone, Copy)]
struct Totals {
    wall: Duration,
    thread: Duration,
    process: Duration,
}

impl Totals {
    fn add(&mut self, from: Stamp, to: Stamp) {
        self.wall += to.wall - from.wall;
        self.thread += to.thread.saturating_sub(from.thread);
        self.process += to.process.saturating_sub(from.process);
    }

    fn add_wall_cpu(&mut self, took: Duration) {
        // A pure in-process step measured inside another: its wall time is its CPU.
        self.wall += took;
        self.thread += took;
        self.process += took;
    }
}

const STEPS: [&str; 9] = [
    "accept",
    "classify",
    "territory",
    "catalogue",
    "decide (rest)",
    "duplicate",
    "deadlines",
    "store write",
    "working set",
];

fn operator() -> Actor {
    Actor {
        role: Role::Operator,
        staff: Some(StaffId::parse("staff", "profile-operator").expect("a valid staff id")),
        station: None,
    }
}

/// The next request of a run, with the hints the load generator sends (nature, urgency).
fn request(source: &Source, rng: &mut text::Rng) -> (NewTicket, Hints) {
    // The parts each source draws (in the load generator's order of draws), then one ticket.
    let (caller_name, phone, text, address, nature, urgency, location) = match source {
        // As `hotline-loadgen --suzhou-data` sends it: no map point (the address names the
        // community), normal urgency.
        Source::Suzhou(divisions, messages) => {
            let call = suzhou::background(divisions, messages, rng);
            let nature = Nature::ALL[rng.below(5)];
            let (name, phone, text, address) =
                (call.caller_name, call.phone, call.text, call.address);
            (name, phone, text, address, nature, Urgency::Normal, None)
        }
        Source::Generated => {
            let generated = text::request(rng);
            let nature = Nature::ALL[rng.below(5)];
            let urgency = if rng.below(20) == 0 {
                Urgency::Urgent
            } else {
                Urgency::Normal
            };
            let location = (rng.below(2) == 0).then(|| GeoPoint {
                lat: 31.20 + (rng.below(20_000) as f64) / 100_000.0,
                lng: 120.50 + (rng.below(30_000) as f64) / 100_000.0,
            });
            let (name, phone, text, address) = (
                generated.caller_name,
                generated.phone,
                generated.text,
                generated.address,
            );
            (name, phone, text, address, nature, urgency, location)
        }
    };
    let new = NewTicket {
        request_id: None,
        channel: Channel::Web,
        caller: Caller {
            name: caller_name,
            phone,
            confidential: false,
        },
        text,
        address,
        location,
        kiosk: None,
        category: None,
        nature,
        urgency,
        division: None,
    };
    let hints = Hints {
        nature: Some(nature),
        urgency: Some(urgency),
        ..Hints::default()
    };
    (new, hints)
}

struct Setup {
    name: String,
    args: ServeArgs,
    /// A Redis duplicate index beside the in-process one, for the lookup breakdown.
    redis: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = tempfile::tempdir()?;
    let mut setups = vec![Setup {
        name: "embedded: SQLite, in-process working set".into(),
        args: ServeArgs::parse_from([
            "--data-dir",
            &data.path().join("sqlite").display().to_string(),
        ])?,
        redis: false,
    }];
    if let Some(url) = &args.database_url {
        let mut argv = vec![
            "--data-dir".to_owned(),
            data.path().join("pg").display().to_string(),
            "--database-url".to_owned(),
            url.clone(),
        ];
        let mut name = "PostgreSQL, in-process working set".to_owned();
        if let Some(redis) = &args.redis_url {
            argv.extend([
                "--redis-url".to_owned(),
                redis.clone(),
                "--redis-prefix".to_owned(),
                args.redis_prefix.clone(),
            ]);
            name = "PostgreSQL, Redis working set".to_owned();
        }
        setups.push(Setup {
            name,
            args: ServeArgs::parse_from(argv)?,
            redis: args.redis_url.is_some(),
        });
    }
    let source = Source::load(&args)?;
    for setup in &setups {
        profile(&args, &source, setup).await?;
    }
    Ok(())
}

async fn profile(args: &Args, source: &Source, setup: &Setup) -> anyhow::Result<()> {
    let serve = &setup.args;
    let directory = server::load_directory(serve)?;
    let routing = server::load_routing(serve, &directory)?;
    let sla = server::load_sla(serve)?;
    let store = server::open_store(serve).await?;
    let (queue, timers, duplicates): (
        Arc<dyn Queue>,
        Arc<dyn TimerIndex>,
        Arc<dyn DuplicateIndex>,
    ) = server::open_working_set(serve, Arc::new(hotline_core::SystemClock)).await?;
    let working_set = WorkingSet::new(
        queue.clone(),
        timers.clone(),
        duplicates.clone(),
        store.clone(),
        directory.clone(),
        sla.clone(),
        escalation::Settings::default(),
    );
    working_set.rebuild().await?;
    println!(
        "\n== {} | {} requests of {}, {} preloaded, {} ==",
        setup.name,
        args.requests,
        source.name(),
        args.preload,
        routing.engine().versions()
    );

    let mut rng = text::Rng::new(12345);
    let actor = operator();
    let mut parts = DuplicateParts::default();
    for _ in 0..args.preload {
        let (new, hints) = request(source, &mut rng);
        let found = submit_by_steps(
            &routing,
            &sla,
            store.as_ref(),
            &working_set,
            new,
            &hints,
            &actor,
            None,
        )
        .await?;
        if setup.redis {
            parts.file(&working_set, &found.ticket).await?;
        }
    }

    let mut totals = [Totals::default(); STEPS.len()];
    // The rule `serve` applies by default (`--duplicate-min-similarity`).
    let settings = hotline_routing::DuplicateSettings {
        min_similarity: serve.duplicate_min_similarity,
        ..Default::default()
    };
    let mut linked = 0;
    let run_started = Stamp::now();
    for _ in 0..args.requests {
        let (new, hints) = request(source, &mut rng);
        let found = submit_by_steps(
            &routing,
            &sla,
            store.as_ref(),
            &working_set,
            new,
            &hints,
            &actor,
            Some(&mut totals),
        )
        .await?;
        linked += usize::from(found.duplicate);
        parts
            .measure(&settings, store.as_ref(), &working_set, &found, setup.redis)
            .await?;
    }
    let run = {
        let mut t = Totals::default();
        t.add(run_started, Stamp::now());
        t
    };
    let n = args.requests as f64;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!(
        "{:<16} {:>10} {:>12} {:>13}",
        "step", "wall µs", "thread CPU µs", "process CPU µs"
    );
    let mut sum = Totals::default();
    for (name, t) in STEPS.iter().zip(totals.iter()) {
        println!(
            "{name:<16} {:>10.1} {:>12.1} {:>13.1}",
            us(t.wall),
            us(t.thread),
            us(t.process)
        );
        sum.wall += t.wall;
        sum.thread += t.thread;
        sum.process += t.process;
    }
    println!(
        "{:<16} {:>10.1} {:>12.1} {:>13.1}",
        "sum of steps",
        us(sum.wall),
        us(sum.thread),
        us(sum.process)
    );
    println!(
        "{:<16} {:>10.1} {:>12.1} {:>13.1}   (with the breakdown below, measured in the same loop)",
        "loop",
        us(run.wall),
        us(run.thread),
        us(run.process)
    );
    println!(
        "linked as duplicates: {linked} of {}; duplicate step breakdown (µs per submit, wall): \
         sign {:.1} | in-process index lookup {:.1}{} | read + exact check of {:.1} candidates {:.1}",
        args.requests,
        us(parts.sign),
        us(parts.memory_lookup),
        if setup.redis {
            format!(" | Redis index lookup {:.1}", us(parts.redis_lookup))
        } else {
            String::new()
        },
        parts.candidates as f64 / n,
        us(parts.verify),
    );

    if !args.no_submit {
        end_to_end(
            args,
            source,
            setup,
            &routing,
            &sla,
            store,
            (queue, timers, duplicates),
        )
        .await?;
    }
    Ok(())
}

/// What `submit_by_steps` found, for the duplicate breakdown.
struct Found {
    ticket: hotline_core::Ticket,
    text: String,
    key: Option<DuplicateKey>,
    duplicate: bool,
}

/// The steps of `Hotline::submit_inner` for `Disposition::Route` (no operator station), one by
/// one, adding each step's time to `totals` when given.
#[allow(clippy::too_many_arguments)]
async fn submit_by_steps(
    routing: &Routing,
    sla: &hotline_router::deadlines::Sla,
    store: &dyn TicketStore,
    working_set: &WorkingSet,
    new: NewTicket,
    hints: &Hints,
    actor: &Actor,
    mut totals: Option<&mut [Totals; STEPS.len()]>,
) -> anyhow::Result<Found> {
    fn record(
        totals: &mut Option<&mut [Totals; STEPS.len()]>,
        step: usize,
        from: Stamp,
        to: Stamp,
    ) {
        if let Some(t) = totals.as_deref_mut() {
            t[step].add(from, to);
        }
    }
    let t0 = Stamp::now();
    let new = new.validate()?;
    let fingerprint = new.fingerprint();
    let now = Utc::now();
    let (accepted, submitted) = open(TicketId::new(), new, actor.clone(), now);
    let t1 = Stamp::now();
    record(&mut totals, 0, t0, t1);

    let decision = routing
        .engine()
        .route(&Routing::request_for(&accepted, hints));
    let t2 = Stamp::now();
    let steps = decision.steps;
    let explanation = decision.explanation;
    if let Some(t) = totals.as_deref_mut() {
        t[1].add_wall_cpu(steps.classify);
        t[2].add_wall_cpu(steps.territory);
        t[3].add_wall_cpu(steps.catalogue);
        // The rest of the decision and of this call (building the request, clock reads).
        let mut rest = Totals::default();
        rest.add(t1, t2);
        let parts = steps.classify + steps.territory + steps.catalogue;
        t[4].wall += rest.wall.saturating_sub(parts);
        t[4].thread += rest.thread.saturating_sub(parts);
        t[4].process += rest.process.saturating_sub(parts);
    }

    let duplicate = routing
        .find_duplicate(store, working_set, &accepted.text, &explanation, now)
        .await?;
    let t3 = Stamp::now();
    record(&mut totals, 5, t2, t3);

    let router = escalation::engine();
    let next = match (&duplicate, &explanation.station) {
        (Some(original), _) => Action::LinkDuplicate { of: original.id },
        (None, Some(station)) if !explanation.triage => Action::Dispatch {
            station: station.clone(),
            sign_for_due: None,
            note: explanation.rule.clone().unwrap_or_default(),
        },
        _ => Action::SendToTriage {
            reason: explanation.fallbacks.join("; "),
        },
    };
    let key = explanation
        .territory
        .division
        .clone()
        .zip(explanation.categories.first().map(|c| c.code.clone()))
        .map(|(d, c)| DuplicateKey::new(d, c));
    let actions = vec![
        (
            router.clone(),
            Action::Route {
                explanation: Box::new(explanation),
            },
        ),
        (router, next),
    ];
    let mut events = vec![submitted];
    let mut ticket = accepted.clone();
    for (who, mut action) in actions {
        sla.prepare(&ticket, &mut action, now)?;
        let (next, event) = apply(&ticket, &who, action, now)?;
        events.push(event);
        ticket = next;
    }
    let t4 = Stamp::now();
    record(&mut totals, 6, t3, t4);

    let created = store.create(&ticket, &events, &fingerprint).await?;
    anyhow::ensure!(created.is_new(), "a fresh ticket id was taken");
    let t5 = Stamp::now();
    record(&mut totals, 7, t4, t5);

    working_set
        .follow_then(&accepted, &ticket, None, Verify::NewTicket)
        .await;
    let t6 = Stamp::now();
    record(&mut totals, 8, t5, t6);
    Ok(Found {
        ticket,
        text: accepted.text,
        key,
        duplicate: duplicate.is_some(),
    })
}

/// The duplicate step's parts, measured again after the submit (on the index as it is then,
/// which holds the new ticket too: one more candidate at most).
#[derive(Default)]
struct DuplicateParts {
    sign: Duration,
    memory_lookup: Duration,
    redis_lookup: Duration,
    verify: Duration,
    candidates: usize,
    memory: Option<hotline_dispatch::MemoryDuplicates>,
}

impl DuplicateParts {
    fn memory(&mut self) -> &hotline_dispatch::MemoryDuplicates {
        self.memory.get_or_insert_with(|| {
            let index = hotline_dispatch::MemoryDuplicates::new();
            futures::executor::block_on(index.rebuild(Vec::new())).expect("in-process");
            index
        })
    }

    /// Files a ticket in the in-process copy, as the working set filed it in Redis.
    async fn file(
        &mut self,
        working_set: &WorkingSet,
        ticket: &hotline_core::Ticket,
    ) -> anyhow::Result<()> {
        if let Some(entry) = working_set.duplicate_entry_for(ticket) {
            self.memory().put(entry).await?;
        }
        Ok(())
    }

    async fn measure(
        &mut self,
        settings: &hotline_routing::DuplicateSettings,
        store: &dyn TicketStore,
        working_set: &WorkingSet,
        found: &Found,
        redis: bool,
    ) -> anyhow::Result<()> {
        let Some(key) = &found.key else {
            return Ok(());
        };
        let started = Instant::now();
        let shingles = hotline_routing::duplicates::shingles(&found.text);
        let Some(bands) = minhash::bands_of(&shingles) else {
            return Ok(());
        };
        self.sign += started.elapsed();
        let since = Utc::now() - chrono::Duration::days(7);
        // The in-process index: the working set's own, or (with Redis) a copy filed alongside.
        let started = Instant::now();
        let candidates = working_set
            .duplicate_candidates(key, bands.as_slice(), since, VERIFY_LIMIT)
            .await?
            .unwrap_or_default();
        if redis {
            self.redis_lookup += started.elapsed();
            let started = Instant::now();
            let copy = self
                .memory()
                .candidates(key, bands.as_slice(), since, VERIFY_LIMIT)
                .await?;
            self.memory_lookup += started.elapsed();
            std::hint::black_box(copy);
        } else {
            self.memory_lookup += started.elapsed();
        }
        if redis {
            self.file(working_set, &found.ticket).await?;
        }
        let started = Instant::now();
        // As `lookup_duplicate` does: the candidates sharing enough bands, their facts, then
        // the body of the best only.
        // Not the request's own ticket: it is filed by now, and the router looks up before.
        let ids: Vec<_> = candidates
            .iter()
            .filter(|c| c.ticket != found.ticket.id && minhash::worth_verifying(c.shared_bands))
            .map(|c| c.ticket)
            .collect();
        self.candidates += ids.len();
        if ids.is_empty() {
            // The router reads nothing then either.
            self.verify += started.elapsed();
            return Ok(());
        }
        let live = store.duplicate_facts(&ids).await?;
        let best = live
            .iter()
            .filter_map(|t| {
                hotline_routing::is_duplicate_of(&shingles, &t.text, settings).map(|s| (s, t.id))
            })
            .max_by(|(a, _), (b, _)| a.total_cmp(b));
        if let Some((_, id)) = best {
            std::hint::black_box(store.get(id).await?);
        }
        self.verify += started.elapsed();
        Ok(())
    }
}

/// The same requests through `Hotline::submit`, routed and then held, on the same store.
async fn end_to_end(
    args: &Args,
    source: &Source,
    setup: &Setup,
    routing: &Routing,
    sla: &hotline_router::deadlines::Sla,
    store: Arc<dyn TicketStore>,
    (queue, timers, duplicates): (Arc<dyn Queue>, Arc<dyn TimerIndex>, Arc<dyn DuplicateIndex>),
) -> anyhow::Result<()> {
    let directory = server::load_directory(&setup.args)?;
    let hotline = Hotline::new(
        store,
        (queue, timers, duplicates),
        directory,
        sla.clone(),
        Arc::new(hotline_core::SystemClock),
        LeasePolicy::default(),
        escalation::Settings::default(),
    )
    .with_routing(routing.clone());
    hotline.queues().rebuild().await?;
    let mut line = Vec::new();
    for routed in [true, false] {
        let mut rng = text::Rng::new(54321);
        let started = Stamp::now();
        for _ in 0..args.requests {
            let (new, hints) = request(source, &mut rng);
            let disposition = if routed {
                Disposition::Route(hints)
            } else {
                Disposition::Hold
            };
            hotline.submit(new, disposition, operator()).await?;
        }
        let mut t = Totals::default();
        t.add(started, Stamp::now());
        let n = args.requests as f64;
        line.push((
            if routed { "routed" } else { "held" },
            t.wall.as_secs_f64() * 1e6 / n,
            t.thread.as_secs_f64() * 1e6 / n,
            t.process.as_secs_f64() * 1e6 / n,
        ));
    }
    for (what, wall, thread, process) in &line {
        println!(
            "Hotline::submit {what:<6}: {wall:>8.1} µs wall, {thread:>8.1} µs thread CPU, \
             {process:>8.1} µs process CPU per submit"
        );
    }
    println!(
        "routed / held submits per second (from wall time, one at a time): {:.2}",
        line[1].1 / line[0].1
    );
    Ok(())
}
