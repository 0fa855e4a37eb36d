//! `hotline-loadgen`: submits tickets to a running router over gRPC and reports tickets/s and
//! latency percentiles.
//!
//! Two modes:
//! - closed loop (default): `--concurrency` workers each send the next request as soon as the
//!   previous one is answered; measures throughput. Latency is from send to answer.
//! - open loop (`--rate R`): request `i` is scheduled at `start + i/R` whatever happened before;
//!   workers pick up scheduled requests and latency is measured from the *scheduled* time, so a
//!   stalled server shows up as latency instead of silently lowering the offered load
//!   (coordinated omission). `late` counts sends that left more than 1 ms after their slot
//!   (the workers were all busy: raise `--concurrency` if it is large).
//!
//! Safety: the run is bounded by `--requests` and/or `--duration` (10 s when neither is given;
//! at most 10 million requests and one hour), and only a loopback server address is accepted.

// Shared with hotline-surge, which also uses its surge calls and streets.
#[allow(dead_code)]
mod suzhou;
mod text;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use tokio::task::JoinSet;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

const MAX_REQUESTS: u64 = 10_000_000;
const MAX_DURATION_SECS: f64 = 3600.0;
const DEFAULT_DURATION_SECS: f64 = 10.0;
/// Histogram range: 1 µs to 10 minutes, 3 significant figures.
const HIST_MAX_US: u64 = 600_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "hotline-loadgen",
    version,
    about = "Submit tickets to a hotline router and report tickets/s and p50/p90/p99 latency"
)]
struct Args {
    /// Submit with `hold` (record only, no routing): the spine's durable submit, without the
    /// classification, territory and duplicate work of automatic routing.
    #[arg(long)]
    hold: bool,

    /// The router's gRPC address (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,

    /// Concurrent workers (requests in flight at most).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,

    /// Total requests to send (stops at whichever of --requests / --duration comes first).
    #[arg(long)]
    requests: Option<u64>,

    /// Run time in seconds (10 when neither --requests nor --duration is given).
    #[arg(long)]
    duration: Option<f64>,

    /// Open loop: target rate in tickets/s, sends scheduled at fixed intervals.
    #[arg(long)]
    rate: Option<f64>,

    /// Workers sharing one HTTP/2 connection.
    #[arg(long, default_value_t = 8)]
    workers_per_connection: usize,

    /// Unmeasured requests each worker sends first (connections, server pool, caches).
    #[arg(long, default_value_t = 2)]
    warmup: u32,

    /// Per-request timeout in milliseconds (counted as an error).
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,

    /// Client runtime threads (the client shares the machine with the server and database).
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Seed for the generated texts (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,

    /// Place the calls in Suzhou: real citizen messages (`civic/train.csv`) from callers in the
    /// city's communities (`suzhou_divisions.csv`), both read from this shared data directory
    /// (e.g. `../shared/data`), instead of the built-in generated texts.
    #[arg(long)]
    suzhou_data: Option<std::path::PathBuf>,

    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,

    /// The credential sent with every submit: an integrator API key (`hotline staff key`) or
    /// an access token.
    #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// Also write every second of the run to this file, one JSON object per line: the wall
    /// clock (Unix seconds) of its start, answers, the slowest in ms and how many took over
    /// `--slow-ms`. Lines it up with the server's and the database's own logs.
    #[arg(long)]
    timeline: Option<std::path::PathBuf>,

    /// What counts as slow in `--timeline`.
    #[arg(long, default_value_t = 25)]
    slow_ms: u64,
}

/// A connection that sends `authorization: Bearer <token>` with every call.
type Authed = InterceptedService<Channel, Bearer>;

#[derive(Clone)]
struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if !(1..=1024).contains(&self.concurrency) {
            bail!("--concurrency must be between 1 and 1024");
        }
        if self.workers_per_connection == 0 {
            bail!("--workers-per-connection must be at least 1");
        }
        if !(1..=64).contains(&self.threads) {
            bail!("--threads must be between 1 and 64");
        }
        if let Some(n) = self.requests {
            if n == 0 || n > MAX_REQUESTS {
                bail!("--requests must be between 1 and {MAX_REQUESTS}");
            }
        }
        if let Some(d) = self.duration {
            if !(d > 0.0 && d <= MAX_DURATION_SECS) {
                bail!("--duration must be more than 0 and at most {MAX_DURATION_SECS} seconds");
            }
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r <= 1_000_000.0) {
                bail!("--rate must be more than 0 and at most 1000000 tickets/s");
            }
        }
        if self.timeout_ms == 0 {
            bail!("--timeout-ms must be at least 1");
        }
        loopback_only(&self.server)?;
        Ok(())
    }

    fn duration(&self) -> Option<Duration> {
        match (self.requests, self.duration) {
            (_, Some(d)) => Some(Duration::from_secs_f64(d)),
            (Some(_), None) => None,
            (None, None) => Some(Duration::from_secs_f64(DEFAULT_DURATION_SECS)),
        }
    }
}

/// Load goes to this machine only: the URL's host must be a loopback address or `localhost`.
fn loopback_only(url: &str) -> anyhow::Result<Uri> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("--server {url:?} is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http")) {
        bail!("--server {url:?}: only plain http:// (h2c) to a loopback address is supported");
    }
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "--server {url:?}: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed"
        );
    }
    Ok(uri)
}

/// The shared schedule: hands out request indexes until the run is over.
struct Plan {
    start: Instant,
    end: Option<Instant>,
    max_requests: Option<u64>,
    rate: Option<f64>,
    next: AtomicU64,
    /// An answer slower than this counts as slow in the per-second tally.
    slow_us: u64,
}

impl Plan {
    /// The next request's index and, in open loop, its scheduled send time; `None` when done.
    fn claim(&self) -> Option<(u64, Option<Instant>)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.max_requests.is_some_and(|max| i >= max) {
            return None;
        }
        match self.rate {
            Some(rate) => {
                let at = self.start + Duration::from_secs_f64(i as f64 / rate);
                if self.end.is_some_and(|end| at >= end) {
                    return None;
                }
                Some((i, Some(at)))
            }
            None => {
                if self.end.is_some_and(|end| Instant::now() >= end) {
                    return None;
                }
                Some((i, None))
            }
        }
    }
}

/// What one worker saw.
struct Tally {
    latency_us: Histogram<u64>,
    ok: u64,
    /// Answers naming a live duplicate (linked or merged into an incident): those submits
    /// cost more than a dispatch (candidates read and compared, the incident written), so a
    /// routed rate is read with its share of them.
    linked: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    late: u64,
    last_done: Instant,
    /// Per second of the run (by the request's origin): answers, the slowest one in µs, and
    /// how many were slow. Tells a stall (a few seconds of slow answers) from load (slow
    /// throughout).
    by_second: BTreeMap<u64, (u64, u64, u64)>,
}

impl Tally {
    fn new(start: Instant) -> Self {
        Self {
            latency_us: Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("histogram bounds"),
            ok: 0,
            linked: 0,
            errors: BTreeMap::new(),
            first_error: None,
            late: 0,
            last_done: start,
            by_second: BTreeMap::new(),
        }
    }

    fn error(&mut self, kind: String, message: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.first_error.get_or_insert(message);
    }

    fn merge(&mut self, other: Tally) {
        self.latency_us
            .add(&other.latency_us)
            .expect("same histogram bounds");
        self.ok += other.ok;
        self.linked += other.linked;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.late += other.late;
        self.last_done = self.last_done.max(other.last_done);
        for (second, (n, max, slow)) in other.by_second {
            let slot = self.by_second.entry(second).or_default();
            slot.0 += n;
            slot.1 = slot.1.max(max);
            slot.2 += slow;
        }
    }
}

/// Builds request number `label` for this run.
fn submit_request(run: &str, label: &str, rng: &mut text::Rng) -> pb::SubmitTicketRequest {
    if let Some((divisions, messages)) = SUZHOU.get() {
        // No map point: the address names the community, and a random point would place the
        // call in another district.
        let call = suzhou::background(divisions, messages, rng);
        return pb::SubmitTicketRequest {
            request_id: format!("lg-{run}-{label}"),
            channel: pb::Channel::Web as i32,
            caller: Some(pb::Caller {
                name: call.caller_name,
                phone: call.phone,
                ..Default::default()
            }),
            text: call.text,
            address: call.address,
            nature: 1 + rng.below(5) as i32,
            urgency: pb::Urgency::Normal as i32,
            hold: HOLD.load(std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        };
    }
    let generated = text::request(rng);
    let nature = 1 + rng.below(5) as i32; // consult .. suggestion
    let urgency = if rng.below(20) == 0 {
        pb::Urgency::Urgent
    } else {
        pb::Urgency::Normal
    };
    let location = (rng.below(2) == 0).then(|| pb::GeoPoint {
        lat: 31.20 + (rng.below(20_000) as f64) / 100_000.0,
        lng: 120.50 + (rng.below(30_000) as f64) / 100_000.0,
    });
    pb::SubmitTicketRequest {
        request_id: format!("lg-{run}-{label}"),
        channel: pb::Channel::Web as i32,
        caller: Some(pb::Caller {
            name: generated.caller_name,
            phone: generated.phone,
            ..Default::default()
        }),
        text: generated.text,
        address: generated.address,
        location,
        nature,
        urgency: urgency as i32,
        hold: HOLD.load(std::sync::atomic::Ordering::Relaxed),
        ..Default::default()
    }
}

/// `--suzhou-data`, loaded once at start (read by every request builder).
static SUZHOU: std::sync::OnceLock<(suzhou::Divisions, Vec<String>)> = std::sync::OnceLock::new();

/// `--hold`, set once at start (read by every request builder).
static HOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn worker(
    id: usize,
    mut client: IntakeClient<Authed>,
    plan: Arc<Plan>,
    run: Arc<str>,
    seed: u64,
    timeout: Duration,
) -> Tally {
    let mut rng = text::Rng::new(seed.wrapping_add(id as u64 * 0x1000_0000_01B3));
    let mut tally = Tally::new(plan.start);
    while let Some((i, scheduled)) = plan.claim() {
        let request = submit_request(&run, &i.to_string(), &mut rng);
        if let Some(at) = scheduled {
            tokio::time::sleep_until(at.into()).await;
        }
        let sent = Instant::now();
        let origin = match scheduled {
            Some(at) => {
                if sent.saturating_duration_since(at) > Duration::from_millis(1) {
                    tally.late += 1;
                }
                at
            }
            None => sent,
        };
        let answer = tokio::time::timeout(timeout, client.submit_ticket(request)).await;
        let done = Instant::now();
        tally.last_done = tally.last_done.max(done);
        match answer {
            Ok(Ok(response)) if response.get_ref().created => {
                let us = done.saturating_duration_since(origin).as_micros() as u64;
                tally.latency_us.saturating_record(us.clamp(1, HIST_MAX_US));
                tally.ok += 1;
                tally.linked += u64::from(response.get_ref().duplicate_of.is_some());
                let second = origin.saturating_duration_since(plan.start).as_secs();
                let slot = tally.by_second.entry(second).or_default();
                slot.0 += 1;
                slot.1 = slot.1.max(us);
                slot.2 += u64::from(us > plan.slow_us);
            }
            Ok(Ok(_)) => tally.error(
                "not_created".to_owned(),
                format!("request {i}: the server returned an existing ticket"),
            ),
            Ok(Err(status)) => tally.error(
                format!("{:?}", status.code()),
                format!("request {i}: {status}"),
            ),
            Err(_) => tally.error(
                "timeout".to_owned(),
                format!("request {i}: no answer within {timeout:?}"),
            ),
        }
    }
    tally
}

/// Unmeasured requests on every worker's connection, all at once, before the clock starts.
async fn warm_up(
    clients: &[IntakeClient<Authed>],
    per_worker: u32,
    run: &Arc<str>,
    seed: u64,
) -> anyhow::Result<()> {
    let mut set = JoinSet::new();
    for (w, client) in clients.iter().enumerate() {
        let mut client = client.clone();
        let run = run.clone();
        set.spawn(async move {
            let mut rng = text::Rng::new(seed ^ (0xA5A5 + w as u64));
            for k in 0..per_worker {
                let request = submit_request(&run, &format!("warm{w}-{k}"), &mut rng);
                client.submit_ticket(request).await?;
            }
            Ok::<_, tonic::Status>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.context("warm-up task")?
            .context("warm-up request failed")?;
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<serde_json::Value> {
    let uri = loopback_only(&args.server)?;
    let connections = args.concurrency.div_ceil(args.workers_per_connection);
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        let channel = Endpoint::from(uri.clone())
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("connecting to {}", args.server))?;
        channels.push(channel);
    }
    let bearer = Bearer(
        args.token
            .as_deref()
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .context("--token has characters a header cannot carry")?,
    );
    let clients: Vec<IntakeClient<Authed>> = (0..args.concurrency)
        .map(|w| {
            IntakeClient::new(InterceptedService::new(
                channels[w / args.workers_per_connection].clone(),
                bearer.clone(),
            ))
        })
        .collect();

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let run_id: Arc<str> = format!("{:x}", now.as_nanos() & 0xFFFF_FFFF_FFFF).into();
    let seed = args.seed.unwrap_or(now.as_nanos() as u64);

    if args.warmup > 0 {
        warm_up(&clients, args.warmup, &run_id, seed).await?;
    }

    let start = Instant::now();
    let plan = Arc::new(Plan {
        start,
        end: args.duration().map(|d| start + d),
        max_requests: args.requests,
        rate: args.rate,
        next: AtomicU64::new(0),
        slow_us: args.slow_ms * 1000,
    });
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut set = JoinSet::new();
    for (w, client) in clients.into_iter().enumerate() {
        set.spawn(worker(
            w,
            client,
            plan.clone(),
            run_id.clone(),
            seed,
            timeout,
        ));
    }
    let mut total = Tally::new(start);
    while let Some(tally) = set.join_next().await {
        total.merge(tally.context("worker task")?);
    }

    if let Some(path) = &args.timeline {
        write_timeline(path, &total, start)?;
    }
    let elapsed = total
        .last_done
        .saturating_duration_since(start)
        .as_secs_f64();
    let errors: u64 = total.errors.values().sum();
    let requests = total.ok + errors;
    let h = &total.latency_us;
    let ms = |us: u64| us as f64 / 1000.0;
    // The five seconds with the slowest answers: [second of the run, answers, max ms].
    let mut worst: Vec<(u64, u64, u64)> = total
        .by_second
        .iter()
        .map(|(second, (n, max, _))| (*second, *n, *max))
        .collect();
    worst.sort_by_key(|(_, _, max)| std::cmp::Reverse(*max));
    worst.truncate(5);
    worst.sort_unstable();
    let worst: Vec<serde_json::Value> = worst
        .into_iter()
        .map(|(second, n, max)| serde_json::json!([second, n, ms(max)]))
        .collect();
    let pct = |q: f64| {
        if h.is_empty() {
            0.0
        } else {
            ms(h.value_at_quantile(q))
        }
    };
    Ok(serde_json::json!({
        "server": args.server,
        "mode": if args.rate.is_some() { "open" } else { "closed" },
        "concurrency": args.concurrency,
        "connections": connections,
        "target_rate": args.rate,
        "requests": requests,
        "ok": total.ok,
        "linked": total.linked,
        "errors": errors,
        "error_kinds": total.errors,
        "first_error": total.first_error,
        "late_sends": args.rate.map(|_| total.late),
        "elapsed_s": elapsed,
        "tickets_per_s": if elapsed > 0.0 { total.ok as f64 / elapsed } else { 0.0 },
        "latency_ms": {
            "p50": pct(0.50),
            "p90": pct(0.90),
            "p99": pct(0.99),
            "max": if h.is_empty() { 0.0 } else { ms(h.max()) },
            "mean": if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
        },
        "slowest_seconds": worst,
    }))
}

/// One JSON line per second of the run (see `--timeline`), with the wall clock of the
/// second's start.
fn write_timeline(path: &std::path::Path, total: &Tally, start: Instant) -> anyhow::Result<()> {
    use std::io::Write;
    let begun = SystemTime::now().duration_since(UNIX_EPOCH)? - start.elapsed();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path)
            .with_context(|| format!("creating the timeline {}", path.display()))?,
    );
    for (second, (n, max, slow)) in &total.by_second {
        let line = serde_json::json!({
            "unix": begun.as_secs_f64() + *second as f64,
            "second": second,
            "answers": n,
            "max_ms": *max as f64 / 1000.0,
            "slow": slow,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

fn print_text(report: &serde_json::Value) {
    let f = |key: &str| report[key].as_f64().unwrap_or_default();
    let lat = &report["latency_ms"];
    let l = |key: &str| lat[key].as_f64().unwrap_or_default();
    println!(
        "mode          {} (concurrency {}, {} connections{})",
        report["mode"].as_str().unwrap_or_default(),
        report["concurrency"],
        report["connections"],
        match report["target_rate"].as_f64() {
            Some(rate) => format!(", target {rate:.1} tickets/s"),
            None => String::new(),
        }
    );
    println!("requests      {}", report["requests"]);
    println!(
        "linked        {} (answered with a live duplicate)",
        report["linked"]
    );
    println!("errors        {}", report["errors"]);
    if report["errors"].as_u64().unwrap_or_default() > 0 {
        println!("error kinds   {}", report["error_kinds"]);
        println!(
            "first error   {}",
            report["first_error"].as_str().unwrap_or_default()
        );
    }
    if let Some(late) = report["late_sends"].as_u64() {
        println!("late sends    {late} (left > 1 ms after their slot)");
    }
    println!("elapsed       {:.2} s", f("elapsed_s"));
    println!("tickets/s     {:.1}", f("tickets_per_s"));
    println!(
        "latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2})",
        l("p50"),
        l("p90"),
        l("p99"),
        l("max"),
        l("mean")
    );
    println!(
        "slowest secs  {} ([second of the run, answers, max ms])",
        report["slowest_seconds"]
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    HOLD.store(args.hold, std::sync::atomic::Ordering::Relaxed);
    args.check()?;
    if let Some(dir) = &args.suzhou_data {
        let divisions = suzhou::Divisions::load(&dir.join("suzhou_divisions.csv"))?;
        let messages = suzhou::load_messages(&dir.join("civic/train.csv"))?;
        let _ = SUZHOU.set((divisions, messages));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let json = args.json;
    let report = runtime.block_on(run(args))?;
    if json {
        println!("{report}");
    } else {
        print_text(&report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers() {
        for ok in [
            "http://127.0.0.1:50051",
            "http://127.9.0.1:1",
            "http://localhost:50051",
            "http://[::1]:50051",
        ] {
            assert!(loopback_only(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:50051",
            "http://192.168.1.2:50051",
            "http://example.com:50051",
            "https://127.0.0.1:50051",
            "not a url",
        ] {
            assert!(loopback_only(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn closed_plan_stops_at_the_request_count() {
        let plan = Plan {
            start: Instant::now(),
            end: None,
            max_requests: Some(3),
            rate: None,
            next: AtomicU64::new(0),
            slow_us: 25_000,
        };
        let got: Vec<u64> = std::iter::from_fn(|| plan.claim().map(|(i, _)| i)).collect();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn open_plan_schedules_fixed_intervals_within_the_duration() {
        let start = Instant::now();
        let plan = Plan {
            start,
            end: Some(start + Duration::from_secs(1)),
            max_requests: None,
            rate: Some(100.0),
            next: AtomicU64::new(0),
            slow_us: 25_000,
        };
        let slots: Vec<Instant> =
            std::iter::from_fn(|| plan.claim().map(|(_, at)| at.unwrap())).collect();
        assert_eq!(slots.len(), 100);
        assert_eq!(slots[10] - slots[9], Duration::from_millis(10));
    }

    #[test]
    fn the_timeline_has_a_line_per_second_with_its_slow_answers() {
        let start = Instant::now();
        let mut a = Tally::new(start);
        a.by_second.insert(0, (10, 30_000, 1));
        a.by_second.insert(2, (5, 1_000, 0));
        let mut b = Tally::new(start);
        b.by_second.insert(0, (4, 90_000, 2));
        a.merge(b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        write_timeline(&path, &a, start).unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["answers"], 14);
        assert_eq!(lines[0]["max_ms"], 90.0);
        assert_eq!(lines[0]["slow"], 3);
        assert_eq!(lines[1]["second"], 2);
        let wall = |l: &serde_json::Value| l["unix"].as_f64().unwrap();
        assert!((wall(&lines[1]) - wall(&lines[0]) - 2.0).abs() < 1e-3);
    }

    #[test]
    fn requests_are_valid_shapes_with_unique_ids() {
        let mut rng = text::Rng::new(1);
        let a = submit_request("r", "1", &mut rng);
        let b = submit_request("r", "2", &mut rng);
        assert_ne!(a.request_id, b.request_id);
        assert_eq!(a.channel, pb::Channel::Web as i32);
        assert!(a
            .request_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(&c)));
    }
}
