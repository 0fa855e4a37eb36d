//! `hotline-surge`: the surge phase of `benches/surge/run.sh` against a running router.
//!
//! Timeline (all open loop, every send scheduled in advance, latency from its scheduled time):
//! 1. quiet: background calls only (Poisson arrivals at `--bg-rate`, real messages from callers
//!    all over Suzhou) for `--quiet-seconds`: no alert should be raised;
//! 2. surge: the background goes on, and `--surge-calls` calls about one 停水 in the
//!    communities of one street (`--street`) arrive over `--surge-seconds` (Poisson arrivals
//!    conditioned on the count: the calls' times are uniform order statistics);
//! 3. the alert watch goes on until the surge's alert is seen or `--alert-wait-seconds` after
//!    the surge began, whichever is later than the surge's end.
//!
//! Alerts are read from `Kpis.WatchAlerts` as an operator (signed in with `Auth.Login`); calls
//! are submitted with the integrator key in `HOTLINE_TOKEN`, as `hotline-loadgen` does.
//!
//! Prints one JSON object: latency of the surge's and the background's submits, how many of
//! the surge's calls were linked to the incident ([`linked_to_surge`]), how many background
//! calls were linked to a surge ticket (should be none), where the surge's calls were placed
//! and classified, the alerts raised in the quiet phase and during the surge, and when the
//! surge's alert fired.

mod suzhou;
// Shared with hotline-loadgen, which uses its generated texts; only its Rng is used here.
#[allow(dead_code)]
mod text;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use hotline_proto::v1 as pb;
use hotline_proto::v1::auth_client::AuthClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::kpis_client::KpisClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Histogram range: 1 µs to 10 minutes, 3 significant figures.
const HIST_MAX_US: u64 = 600_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "hotline-surge",
    about = "Background calls across Suzhou, then a 停水 surge in one street: latency, linking, alert time"
)]
struct Args {
    /// The router's gRPC address (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// The integrator API key submits are sent with.
    #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true)]
    token: String,
    /// The operator account alerts are watched as.
    #[arg(long)]
    login: String,
    /// Its password.
    #[arg(long, env = "HOTLINE_SURGE_PASSWORD", hide_env_values = true)]
    password: String,
    /// The shared data directory (suzhou_divisions.csv, civic/train.csv).
    #[arg(long)]
    suzhou_data: PathBuf,
    /// The street (9-digit division code) the 停水 is in.
    #[arg(long)]
    street: String,
    /// Background calls per second (Poisson), through both phases.
    #[arg(long, default_value_t = 1.0)]
    bg_rate: f64,
    /// The quiet phase: background only.
    #[arg(long, default_value_t = 180.0)]
    quiet_seconds: f64,
    /// Calls in the surge.
    #[arg(long, default_value_t = 2000)]
    surge_calls: u32,
    /// Over how long the surge's calls arrive.
    #[arg(long, default_value_t = 600.0)]
    surge_seconds: f64,
    /// Watch for the surge's alert until this long after the surge began (or its end).
    #[arg(long, default_value_t = 300.0)]
    alert_wait_seconds: f64,
    /// Per-request timeout in milliseconds (counted as an error).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// After the last call and the surge's alert (or the end of the wait for it), how long the
    /// router is given to settle (its hotspot loop turns every 0.5 s) before every call's
    /// ticket is read again for where it ended.
    #[arg(long, default_value_t = 3.0)]
    settle_seconds: f64,
    /// Seed of the calls and their arrival times.
    #[arg(long, default_value_t = 12345)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Background,
    Surge,
}

/// What one submit came back with.
#[derive(Debug, Clone)]
struct Outcome {
    kind: Kind,
    latency_us: u64,
    /// The new ticket; `None` on an error.
    ticket: Option<Submitted>,
    error: Option<String>,
}

#[derive(Debug, Clone)]
struct Submitted {
    id: String,
    category: String,
    division: String,
    duplicate_of: Option<String>,
    /// The incident (并案) the call was merged into: its lead's id.
    incident: Option<String>,
}

/// An alert as the watch saw it, with when.
#[derive(Debug, Clone)]
struct Seen {
    at: SystemTime,
    alert: pb::HotspotAlert,
}

/// The surge's incident: the one most surge calls were merged into, led by a surge call.
fn surge_incident<'a>(surge: &'a [&Submitted], surge_ids: &HashSet<&str>) -> Option<&'a str> {
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for call in surge {
        if let Some(incident) = call.incident.as_deref().filter(|i| surge_ids.contains(i)) {
            *sizes.entry(incident).or_default() += 1;
        }
    }
    sizes
        .into_iter()
        .max_by_key(|(id, n)| (*n, std::cmp::Reverse(*id)))
        .map(|(id, _)| id)
}

/// Whether a surge call counts as linked to the surge's incident: merged into it, or its lead.
fn linked_to_surge(call: &Submitted, incident: Option<&str>) -> bool {
    incident.is_some_and(|i| call.incident.as_deref() == Some(i) || call.id == i)
}

/// Whether an alert is the surge's: its category, and a territory that holds the street or
/// lies in it (the community, street or district level).
fn about_surge(alert: &pb::HotspotAlert, street: &str, category: &str) -> bool {
    let d = alert.division_code.as_str();
    alert.category == category && (d.starts_with(street) || street.starts_with(d))
}

#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

fn bearer(token: &str) -> anyhow::Result<Bearer> {
    Ok(Bearer(format!("Bearer {token}").parse().context(
        "the token has characters a header cannot carry",
    )?))
}

/// Exponential gaps at `rate` per second from 0 until `end` seconds.
fn poisson(rng: &mut text::Rng, rate: f64, end: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        // Uniform in (0, 1], never 0 so the log is finite.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        t += -(1.0 - u).ln() / rate;
        if t >= end {
            return out;
        }
        out.push(t);
    }
}

fn percentile(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

fn unix_s(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn rfc3339_s(text: &str) -> Option<f64> {
    // The router writes `YYYY-MM-DDTHH:MM:SS[.fff]Z`; parsed here without a date crate.
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm) = (n(11..13)?, n(14..16)?);
    let rest = text.get(17..)?.trim_end_matches('Z');
    let ss: f64 = rest.split(['+', '-']).next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

async fn login(channel: Channel, login: &str, password: &str) -> anyhow::Result<String> {
    let answer = AuthClient::new(channel)
        .login(pb::LoginRequest {
            login: login.to_owned(),
            password: password.to_owned(),
        })
        .await
        .context("signing in the operator that watches the alerts")?;
    Ok(answer.into_inner().access_token)
}

/// Watches alerts until `stop`; signs in again and reconnects when the stream ends (an access
/// token lasts 15 minutes), so a long run keeps watching.
async fn watch_alerts(
    channel: Channel,
    args: Arc<Args>,
    seen: Arc<Mutex<Vec<Seen>>>,
    ready: tokio::sync::oneshot::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut ready = Some(ready);
    loop {
        let token = login(channel.clone(), &args.login, &args.password).await?;
        let mut client = KpisClient::with_interceptor(channel.clone(), bearer(&token)?);
        let mut stream = client
            .watch_alerts(pb::WatchAlertsRequest { scope: None })
            .await
            .context("Kpis.WatchAlerts")?
            .into_inner();
        if let Some(tx) = ready.take() {
            let _ = tx.send(());
        }
        loop {
            tokio::select! {
                _ = stop.changed() => return Ok(()),
                next = stream.message() => match next {
                    Ok(Some(alert)) => seen.lock().unwrap().push(Seen { at: SystemTime::now(), alert }),
                    Ok(None) | Err(_) => break, // reconnect with a fresh token
                },
            }
        }
    }
}

fn request(
    run: &str,
    i: usize,
    call: suzhou::Call,
    rng: &mut text::Rng,
) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        request_id: format!("surge-{run}-{i}"),
        channel: if rng.below(3) == 0 {
            pb::Channel::Web as i32
        } else {
            pb::Channel::Hotline as i32
        },
        caller: Some(pb::Caller {
            name: call.caller_name,
            phone: call.phone,
            ..Default::default()
        }),
        text: call.text,
        address: call.address,
        nature: pb::Nature::Help as i32, // 求助: no water
        urgency: pb::Urgency::Normal as i32,
        ..Default::default()
    }
}

async fn run(args: Args) -> anyhow::Result<serde_json::Value> {
    let args = Arc::new(args);
    if args.street.len() != 9 || !args.street.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--street {:?}: give a 9-digit street code", args.street);
    }
    if !(args.bg_rate > 0.0 && args.quiet_seconds >= 0.0 && args.surge_seconds > 0.0) {
        bail!("--bg-rate and --surge-seconds must be positive, --quiet-seconds not negative");
    }
    let divisions = suzhou::Divisions::load(&args.suzhou_data.join("suzhou_divisions.csv"))?;
    let messages = suzhou::load_messages(&args.suzhou_data.join("civic/train.csv"))?;
    let street = divisions.street(&args.street);
    if street.is_empty() {
        bail!(
            "--street {}: no communities in suzhou_divisions.csv",
            args.street
        );
    }

    // The schedule: every call's offset from the start, kind and request, made up front.
    let mut rng = text::Rng::new(args.seed);
    let total = args.quiet_seconds + args.surge_seconds;
    let mut schedule: Vec<(f64, Kind)> = poisson(&mut rng, args.bg_rate, total)
        .into_iter()
        .map(|t| (t, Kind::Background))
        .collect();
    for _ in 0..args.surge_calls {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        schedule.push((args.quiet_seconds + u * args.surge_seconds, Kind::Surge));
    }
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    let run_id = format!(
        "{:x}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() & 0xFFFF_FFFF_FFFF
    );
    let requests: Vec<(f64, Kind, pb::SubmitTicketRequest)> = schedule
        .into_iter()
        .enumerate()
        .map(|(i, (t, kind))| {
            let call = match kind {
                Kind::Background => suzhou::background(&divisions, &messages, &mut rng),
                Kind::Surge => suzhou::surge(&street, &mut rng),
            };
            (t, kind, request(&run_id, i, call, &mut rng))
        })
        .collect();

    let endpoint = Endpoint::from_shared(args.server.clone())?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.context("connecting")?;
    let alerts_channel = endpoint.connect().await.context("connecting")?;

    // Watch alerts before the first call, so none is missed.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(watch_alerts(
        alerts_channel,
        args.clone(),
        seen.clone(),
        ready_tx,
        stop_rx,
    ));
    if ready_rx.await.is_err() {
        // The watcher ended before its stream opened: its error says why.
        watcher.await??;
        bail!("the alert watch ended before it started");
    }

    let client = IntakeClient::with_interceptor(channel, bearer(&args.token)?);
    let timeout = Duration::from_millis(args.timeout_ms);
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let surge_start_wall = start_wall + Duration::from_secs_f64(args.quiet_seconds);
    let outcomes = Arc::new(Mutex::new(Vec::with_capacity(requests.len())));
    let mut tasks = tokio::task::JoinSet::new();
    for (t, kind, req) in requests {
        let at = start + Duration::from_secs_f64(t);
        tokio::time::sleep_until(at.into()).await;
        let mut client = client.clone();
        let outcomes = outcomes.clone();
        tasks.spawn(async move {
            let answer = tokio::time::timeout(timeout, client.submit_ticket(req)).await;
            let latency_us = Instant::now()
                .saturating_duration_since(at)
                .as_micros()
                .clamp(1, u128::from(HIST_MAX_US)) as u64;
            let (ticket, error) = match answer {
                Ok(Ok(response)) => {
                    let r = response.into_inner();
                    let t = r.ticket.unwrap_or_default();
                    (
                        Some(Submitted {
                            id: t.id,
                            category: t.category,
                            division: t.division_code,
                            duplicate_of: r.duplicate_of.map(|d| d.id),
                            incident: Some(t.incident_id).filter(|i| !i.is_empty()),
                        }),
                        None,
                    )
                }
                Ok(Err(status)) => (
                    None,
                    Some(format!("{:?}: {}", status.code(), status.message())),
                ),
                Err(_) => (None, Some("timeout".to_owned())),
            };
            outcomes.lock().unwrap().push(Outcome {
                kind,
                latency_us,
                ticket,
                error,
            });
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a submit task")?;
    }
    let sent_s = start.elapsed().as_secs_f64();

    let mut outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    // Linked as each submit answered (an operator's screen at the time)...
    let linked_at_intake = {
        let surge: Vec<&Submitted> = outcomes
            .iter()
            .filter(|o| o.kind == Kind::Surge)
            .filter_map(|o| o.ticket.as_ref())
            .collect();
        let ids: HashSet<&str> = surge.iter().map(|s| s.id.as_str()).collect();
        let incident = surge_incident(&surge, &ids);
        surge
            .iter()
            .filter(|s| linked_to_surge(s, incident))
            .count()
    };
    // The surge's category: the first level most of its calls were classified under (a merge
    // does not change a ticket's category, so the answers at intake tell it).
    let surge = surge_tickets(&outcomes);
    // Owned: the tickets are read again below.
    let mut roots: HashMap<String, usize> = HashMap::new();
    for s in &surge {
        *roots
            .entry(s.category.split('.').next().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    // (Unclassified calls, category "", count in no alert: they cannot be the alert's.)
    let (category, in_category) = roots
        .iter()
        .filter(|(c, _)| !c.is_empty())
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| (c.to_string(), *n))
        .unwrap_or_default();

    // Wait for the surge's alert, up to --alert-wait-seconds after the surge began.
    let surge_start = start + Duration::from_secs_f64(args.quiet_seconds);
    let wait_until = surge_start + Duration::from_secs_f64(args.alert_wait_seconds);
    loop {
        let found = seen.lock().unwrap().iter().any(|s| {
            !s.alert.cleared
                && s.at >= surge_start_wall
                && about_surge(&s.alert, &args.street, &category)
        });
        if found || Instant::now() >= wait_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop_tx.send(true);
    let _ = watcher.await;

    // ...and where each call ended: the calls answered before the alert are merged into the
    // surge's incident when it is raised, so every ticket is read again once the router
    // settled after the alert. (Read before it, as this did, a short surge whose alert came
    // after its last call counted only the calls linked at intake.)
    tokio::time::sleep(Duration::from_secs_f64(args.settle_seconds)).await;
    settle(&client, &mut outcomes).await?;
    let surge = surge_tickets(&outcomes);

    let surge_ids: HashSet<&str> = surge.iter().map(|s| s.id.as_str()).collect();
    let incident = surge_incident(&surge, &surge_ids);
    let linked = surge
        .iter()
        .filter(|s| linked_to_surge(s, incident))
        .count();
    let linked_elsewhere = surge
        .iter()
        .filter(|s| s.incident.is_some() && !linked_to_surge(s, incident))
        .count();
    let background: Vec<&Submitted> = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Background)
        .filter_map(|o| o.ticket.as_ref())
        .collect();
    // Merged into an incident a surge call leads: never right for a background call.
    let bg_linked_to_surge = background
        .iter()
        .filter(|b| b.incident.as_deref().is_some_and(|i| surge_ids.contains(i)))
        .count();
    let bg_duplicates = background
        .iter()
        .filter(|b| b.incident.is_some() || b.duplicate_of.is_some())
        .count();
    let in_street = surge
        .iter()
        .filter(|s| s.division.starts_with(&args.street))
        .count();
    let at_community = surge
        .iter()
        .filter(|s| s.division.starts_with(&args.street) && s.division.len() == 12)
        .count();
    // Incident size by lead: how many surge calls each surge-led incident gathered.
    let mut leads: HashMap<&str, usize> = HashMap::new();
    for s in &surge {
        if let Some(of) = s.incident.as_deref().filter(|of| surge_ids.contains(of)) {
            *leads.entry(of).or_default() += 1;
        }
    }

    let histogram = |kind: Kind| {
        let mut h = Histogram::<u64>::new_with_bounds(1, HIST_MAX_US, 3).expect("bounds");
        for o in outcomes
            .iter()
            .filter(|o| o.kind == kind && o.ticket.is_some())
        {
            h.saturating_record(o.latency_us);
        }
        h
    };
    let (hs, hb) = (histogram(Kind::Surge), histogram(Kind::Background));
    let errors = |kind: Kind| {
        let mut kinds: HashMap<String, usize> = HashMap::new();
        for o in outcomes.iter().filter(|o| o.kind == kind) {
            if let Some(e) = &o.error {
                *kinds
                    .entry(e.split(':').next().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
        kinds
    };

    let seen = seen.lock().unwrap().clone();
    let describe = |s: &Seen| {
        serde_json::json!({
            "level": s.alert.level,
            "division": s.alert.division_code,
            "name": s.alert.division_name,
            "category": s.alert.category,
            "count": s.alert.count,
            "expected": s.alert.expected,
            "raised_at": s.alert.raised_at,
            "since": s.alert.since,
            "seen_after_surge_start_s": unix_s(s.at) - unix_s(surge_start_wall),
        })
    };
    let raised: Vec<&Seen> = seen.iter().filter(|s| !s.alert.cleared).collect();
    let quiet_alerts: Vec<serde_json::Value> = raised
        .iter()
        .copied()
        .filter(|s| s.at < surge_start_wall)
        .map(&describe)
        .collect();
    let is_surge =
        |s: &&Seen| s.at >= surge_start_wall && about_surge(&s.alert, &args.street, &category);
    let surge_alerts: Vec<&Seen> = raised.iter().copied().filter(is_surge).collect();
    let other_alerts: Vec<serde_json::Value> = raised
        .iter()
        .copied()
        .filter(|s| s.at >= surge_start_wall && !is_surge(s))
        .map(&describe)
        .collect();
    let first: Option<&Seen> = surge_alerts.iter().copied().min_by_key(|s| s.at);
    let alert_after_s = first.map(|s| unix_s(s.at) - unix_s(surge_start_wall));
    let raised_after_s = first
        .and_then(|s| rfc3339_s(&s.alert.raised_at))
        .map(|r| r - unix_s(surge_start_wall));

    Ok(serde_json::json!({
        "street": args.street,
        "street_name": street[0].street,
        "street_communities": street.len(),
        "bg_rate": args.bg_rate,
        "quiet_seconds": args.quiet_seconds,
        "surge_seconds": args.surge_seconds,
        "sent_s": sent_s,
        "surge": {
            "calls": args.surge_calls,
            "ok": surge.len(),
            "errors": errors(Kind::Surge),
            "p50_ms": percentile(&hs, 0.50),
            "p99_ms": percentile(&hs, 0.99),
            "max_ms": if hs.is_empty() { 0.0 } else { hs.max() as f64 / 1000.0 },
            "category": category,
            "in_category": in_category,
            "categories": roots,
            "classified": surge.iter().filter(|s| !s.category.is_empty()).count(),
            "in_street": in_street,
            "at_community": at_community,
            "linked": linked,
            "linked_at_intake": linked_at_intake,
            "linked_elsewhere": linked_elsewhere,
            "leads": leads.len(),
            "largest_lead": leads.values().max().copied().unwrap_or(0),
        },
        "background": {
            "ok": background.len(),
            "errors": errors(Kind::Background),
            "p50_ms": percentile(&hb, 0.50),
            "p99_ms": percentile(&hb, 0.99),
            "duplicates": bg_duplicates,
            "linked_to_surge": bg_linked_to_surge,
        },
        "alerts": {
            "quiet": quiet_alerts,
            "other_during_surge": other_alerts,
            "surge_first": first.map(&describe),
            "surge_keys": surge_alerts.len(),
            "alert_after_s": alert_after_s,
            "raised_after_s": raised_after_s,
        },
    }))
}

/// The tickets of the surge's answered calls, as last read.
fn surge_tickets(outcomes: &[Outcome]) -> Vec<&Submitted> {
    outcomes
        .iter()
        .filter(|o| o.kind == Kind::Surge)
        .filter_map(|o| o.ticket.as_ref())
        .collect()
}

/// Reads every answered call's ticket again (a few at a time: the router lets one connection
/// have 8 requests in flight) and keeps the incident it is in now.
async fn settle(
    client: &IntakeClient<InterceptedService<Channel, Bearer>>,
    outcomes: &mut [Outcome],
) -> anyhow::Result<()> {
    let ids: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.ticket.as_ref().map(|t| t.id.clone()))
        .collect();
    let mut now: HashMap<String, Option<String>> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(6) {
        let mut reads = tokio::task::JoinSet::new();
        for id in chunk {
            let mut client = client.clone();
            let id = id.clone();
            reads.spawn(async move {
                let ticket = client
                    .get_ticket(pb::GetTicketRequest {
                        ticket_id: id.clone(),
                        include_history: false,
                    })
                    .await
                    .with_context(|| format!("reading ticket {id} after the surge"))?
                    .into_inner()
                    .ticket
                    .unwrap_or_default();
                anyhow::Ok((id, Some(ticket.incident_id).filter(|i| !i.is_empty())))
            });
        }
        while let Some(read) = reads.join_next().await {
            let (id, incident) = read.context("a read task")??;
            now.insert(id, incident);
        }
    }
    for ticket in outcomes.iter_mut().filter_map(|o| o.ticket.as_mut()) {
        if let Some(incident) = now.remove(&ticket.id) {
            ticket.incident = incident;
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(run(args))?;
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submitted(id: &str, incident: Option<&str>) -> Submitted {
        Submitted {
            id: id.into(),
            category: "SW.TS".into(),
            division: "320508021001".into(),
            duplicate_of: incident.map(Into::into),
            incident: incident.map(Into::into),
        }
    }

    #[test]
    fn linked_only_to_the_incident_most_surge_calls_share() {
        let calls = [
            submitted("a", None),
            submitted("b", Some("a")),
            submitted("c", Some("a")),
            submitted("d", None),
            submitted("e", Some("d")),
            submitted("f", Some("bg")),
        ];
        let refs: Vec<&Submitted> = calls.iter().collect();
        let ids: HashSet<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        let incident = surge_incident(&refs, &ids);
        assert_eq!(
            incident,
            Some("a"),
            "a background-led incident never counts"
        );
        let linked: Vec<&str> = calls
            .iter()
            .filter(|c| linked_to_surge(c, incident))
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(linked, ["a", "b", "c"], "the lead and its members");
        assert!(!linked_to_surge(&calls[1], None));
    }

    #[test]
    fn surge_alerts_concern_the_street_at_any_level() {
        let alert = |d: &str, c: &str| pb::HotspotAlert {
            division_code: d.into(),
            category: c.into(),
            ..Default::default()
        };
        assert!(about_surge(&alert("320508021001", "SW"), "320508021", "SW"));
        assert!(about_surge(&alert("320508", "SW"), "320508021", "SW"));
        assert!(!about_surge(&alert("320508022", "SW"), "320508021", "SW"));
        assert!(!about_surge(&alert("320508021", "CJ"), "320508021", "SW"));
    }

    #[test]
    fn rfc3339_seconds() {
        assert_eq!(rfc3339_s("1970-01-01T00:01:00Z"), Some(60.0));
        assert_eq!(rfc3339_s("2026-12-06T08:00:00.5Z"), Some(1_796_544_000.5));
    }

    #[test]
    fn poisson_arrivals_average_the_rate() {
        let mut rng = text::Rng::new(1);
        let n = poisson(&mut rng, 5.0, 1000.0).len();
        assert!((4700..5300).contains(&n), "{n}");
    }
}
