//! Prometheus metrics: the exporter, the supervision gauges computed from the store, and the
//! timing wrappers around the working set. Counters and histograms are recorded where things
//! happen (`metrics::counter!`, `metrics::histogram!`); every series is listed here and in
//! `docs/metrics.md` (keep both in step; `scripts/validate_deploy.py` checks that every
//! series a Grafana panel queries is one the code records).
//!
//! # Supervision gauges (from the store, every `--sla-gauges-interval-seconds`, default 15 s)
//! An aggregate over the live tickets at the engine's clock, on start-up and then on the
//! interval, read a part at a time (a live stage and a district, or a street where a
//! district's part is slow, [`hotline_store::TicketStore::live_tally_part`]) with the parts
//! spread over the interval and published once all are in (see [`sla_gauge_loop`]). Every
//! replica computes the same values from the same store: **aggregate them across replicas with
//! `max()`, never `sum()`**.
//! - `hotline_backlog{district,street,stage}`: live tickets.
//! - `hotline_overdue{district,street,clock}`: tickets whose running clock's deadline has passed.
//! - `hotline_about_to_breach{district,street,clock}`: tickets whose running clock shows its
//!   yellow light (黄灯, the policy's `warning_lead` before the deadline) and has not passed.
//! - `hotline_sla_gauges_updated_seconds`: when they were last computed (Unix time, engine
//!   clock); a value that stops moving means the query fails (the log says why).
//!
//! `district` is the first 6 digits of the ticket's division code, `street` the first 9;
//! `unknown` where the division does not reach that level (no division, or only a district).
//! `stage` is a live stage (7 values), `clock` one of `sign_for`, `first_contact`,
//! `resolution`, `callback`. No ticket, community, station or staff label, ever.
//!
//! Once a street has had live tickets it keeps all its series (7 backlog, 4 overdue, 4 about to
//! breach), at 0 when it has none: a series never freezes at its last value. For Suzhou (10
//! districts, 118 streets) that is at most (118 + 10 + 1) x 15 = 1,935 series per replica.
//!
//! # Counters
//! - `hotline_tickets_submitted_total{new}`: submits (new = false for idempotent retries)
//! - `hotline_routed_total{triage}`: automatic routing decisions at intake
//! - `hotline_alias_corrections_total`: territory corrections recorded as address-alias
//!   proposals; `hotline_alias_decisions_total{decision}`: confirmed | rejected
//! - `hotline_ticket_actions_total{action}`: lifecycle changes committed (one per action name,
//!   ~25 values)
//! - `hotline_timers_fired_total{clock,step}`: SLA timer steps applied (clock as above; step =
//!   warning | breach | urge | supervise | publish | widen; at most 4 x 6)
//! - `hotline_escalations_total`: escalation events written by fired timers
//! - `hotline_claims_total`, `hotline_leases_expired_total`, `hotline_claims_unchecked_total`
//!   (sign-fors let through without the claim check while the working set was away)
//! - `hotline_queue_errors_total`: working-set updates that failed after a commit (each ticket
//!   repaired from the store once the backend answers)
//! - `hotline_working_set_drift_total{kind}`: anti-entropy differences found and repaired,
//!   `kind` = missing | stale | timers (should stay 0)
//! - `hotline_deadline_unset_total`: deadlines left unset for lack of a published calendar
//! - `hotline_provisional_deadlines_total`, `hotline_deadlines_recomputed_total`: deadlines
//!   counted on a provisional calendar year, and recounted when its notice was loaded
//! - `hotline_hotspot_alerts_total{level,category,state}`: hotspot alerts raised and cleared
//!   (`crate::hotspots`; every replica counts the same alerts: `max`, never `sum`), and
//!   `hotline_hotspot_step_errors_total`
//! - `hotline_incidents_opened_total`, `hotline_incident_links_total{by}`,
//!   `hotline_incident_late_replies_total`,
//!   `hotline_incident_notices_total`, `hotline_incidents_closed_total`: 并案 (`crate::incidents`)
//! - `hotline_identity_logins_total{outcome}`, `hotline_identity_authentications_total{via,outcome}`,
//!   `hotline_identity_contact_reads_total` (the identity crate)
//! - `hotline_grpc_shed_total{reason}`: gRPC requests refused at an in-flight limit, `reason` =
//!   connection | server (`grpc::limits`)
//!
//! # Histograms (seconds; buckets [`LATENCY_BUCKETS`], so `_bucket` series, not quantiles)
//! - `hotline_submit_duration_seconds`: a successful submit, end to end in the engine (routing,
//!   duplicate check, commit, queue update)
//! - `hotline_routing_decision_seconds`: the routing engine's decision (classify, resolve the
//!   territory, look up the catalogue), at intake and on re-categorisation
//! - `hotline_route_step_seconds{step}`: one step of routing a request, `step` = classify |
//!   territory | catalogue (the parts of the decision above) | duplicate (signing the text, the
//!   duplicate index, reading and comparing the candidates); `examples/route_profile.rs` prints
//!   the same steps with the deadlines, the store write and the working-set update
//! - `hotline_store_commit_seconds{op}`: a write to the store, `op` = create | commit |
//!   commit_many (a batch of fired timers)
//! - `hotline_queue_op_seconds{op}`: one working-set operation on its backend (in-process or
//!   Redis); `op` is the operation's name, 25 values (see [`TimedQueue`], [`TimedTimers`],
//!   [`TimedDuplicates`])
//!
//! # Other gauges
//! - `hotline_store_up`: 1 when the store (PostgreSQL or SQLite) answered the last health probe
//!   (every second, within 2 s), else 0
//! - `hotline_working_set_up`: 1 when the working set's backend (Redis, or in-process) answered
//!   the last probe and still holds its data, else 0
//! - `hotline_working_set_repairs_pending`: tickets waiting for a working-set repair
//! - `hotline_timer_lag_seconds`: how late the oldest timer of the last fired batch was
//! - `hotline_grpc_in_flight`: gRPC requests being worked on (health checks not counted)
//! - `hotline_schema_version`, `hotline_calendar_provisional_years`
//! - `hotline_classifier_model_info{version}` (1 for the model in use) and
//!   `hotline_classifier_dispatch_threshold` (its calibrated dispatch threshold, if any)
//! - `hotline_store_submit_batch_size` (summary): PostgreSQL group-commit batch sizes
//! - `hotline_hotspot_active_alerts`: hotspot alerts on now (the same on every replica)

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{StaffId, Stage, StationId, TicketId};
use hotline_dispatch::{
    Candidate, DuplicateEntry, DuplicateIndex, DuplicateKey, DuplicateRebuild, Filed, Lease, Queue,
    QueueEntry, QueueError, QueuedItem, ScanCursor, Timer, TimerIndex,
};
use hotline_store::{CodeRange, LiveTally};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::{broadcast, watch};

use crate::Hotline;

/// Submit latency.
pub const SUBMIT_SECONDS: &str = "hotline_submit_duration_seconds";
/// The routing engine's decision.
pub const ROUTING_SECONDS: &str = "hotline_routing_decision_seconds";
/// One step of routing a request (`step`).
pub const ROUTE_STEP_SECONDS: &str = "hotline_route_step_seconds";
/// The knowledge suggestions of one preview (search and the store's live versions).
pub const SUGGEST_SECONDS: &str = "hotline_knowledge_suggest_seconds";
/// One store write.
pub const STORE_COMMIT_SECONDS: &str = "hotline_store_commit_seconds";
/// One working-set operation.
pub const QUEUE_OP_SECONDS: &str = "hotline_queue_op_seconds";
/// The histograms above, which get [`LATENCY_BUCKETS`].
pub const HISTOGRAMS: [&str; 6] = [
    SUBMIT_SECONDS,
    ROUTING_SECONDS,
    ROUTE_STEP_SECONDS,
    SUGGEST_SECONDS,
    STORE_COMMIT_SECONDS,
    QUEUE_OP_SECONDS,
];

/// From 100 µs (a routing decision, an in-process queue operation) to 10 s (a store under
/// strain): 16 buckets, so one series of each histogram costs 18 lines.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The label value for a division level the ticket's division does not reach.
pub const UNKNOWN: &str = "unknown";

/// The process's Prometheus recorder (metrics are process-wide: one recorder, however many
/// servers a test starts).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The exporter's configuration: the latency histograms as real histograms (buckets that
/// Prometheus can aggregate across replicas), everything else as recorded.
pub fn builder() -> anyhow::Result<PrometheusBuilder> {
    let mut builder = PrometheusBuilder::new();
    for name in HISTOGRAMS {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), &LATENCY_BUCKETS)?;
    }
    Ok(builder)
}

/// Installs the recorder once and returns its handle, which renders the exposition text.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = match builder()?.install_recorder() {
        Ok(handle) => handle,
        // Another thread won the race (or a recorder of our own was installed before).
        Err(err) => match HANDLE.get() {
            Some(handle) => return Ok(handle.clone()),
            None => return Err(anyhow::anyhow!("installing the metrics recorder: {err}")),
        },
    };
    // Keeps histograms' buckets and summaries from growing without bound.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            upkeep.run_upkeep();
        })?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Awaits `write` and records how long it took in `hotline_store_commit_seconds{op}`.
pub async fn timed_store_write<T>(op: &'static str, write: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = write.await;
    metrics::histogram!(STORE_COMMIT_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    result
}

/// Records a working-set operation's time in `hotline_queue_op_seconds{op}`.
async fn timed_op<T>(op: &'static str, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!(QUEUE_OP_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    result
}

// ---- supervision gauges ------------------------------------------------------------------

/// `(district, street)` labels of a tally's territory (a division code cut to the street).
pub fn place_labels(territory: Option<&str>) -> (String, String) {
    let level = |digits: usize| {
        territory
            .filter(|code| code.len() >= digits)
            .and_then(|code| code.get(..digits))
            .unwrap_or(UNKNOWN)
            .to_owned()
    };
    (level(6), level(9))
}

/// The live stages, as `stage` label values.
fn live_stage_codes() -> impl Iterator<Item = &'static str> {
    hotline_core::Stage::ALL
        .iter()
        .filter(|s| s.is_live())
        .map(|s| s.code())
}

const CLOCKS: [&str; 4] = ["sign_for", "first_contact", "resolution", "callback"];

/// One gauge series: name, district, street, and the stage or clock.
type Series = (&'static str, String, String, &'static str);

/// Publishes the supervision gauges and remembers which series exist, so that a street whose
/// tickets are all closed reads 0 rather than its last count.
#[derive(Debug, Default)]
pub struct SlaGauges {
    known: BTreeSet<(String, String)>,
}

impl SlaGauges {
    /// Sets every gauge from one tally taken at `at`.
    pub fn publish(&mut self, tally: &[LiveTally], at: DateTime<Utc>) {
        let mut values: BTreeMap<Series, u64> = BTreeMap::new();
        for row in tally {
            let (district, street) = place_labels(row.territory.as_deref());
            self.known.insert((district.clone(), street.clone()));
            let place = |name, third| (name, district.clone(), street.clone(), third);
            *values
                .entry(place("hotline_backlog", row.stage.code()))
                .or_default() += row.tickets;
            for (clock, n) in row.overdue.by_clock() {
                *values.entry(place("hotline_overdue", clock)).or_default() += n;
            }
            for (clock, n) in row.about_to_breach.by_clock() {
                *values
                    .entry(place("hotline_about_to_breach", clock))
                    .or_default() += n;
            }
        }
        for (district, street) in &self.known {
            let series = |name, third| (name, district.clone(), street.clone(), third);
            let stages = live_stage_codes().map(|stage| series("hotline_backlog", stage));
            let clocks = CLOCKS.iter().flat_map(|clock| {
                [
                    series("hotline_overdue", *clock),
                    series("hotline_about_to_breach", *clock),
                ]
            });
            for key in stages.chain(clocks) {
                let value = values.get(&key).copied().unwrap_or(0);
                let (name, district, street, third) = key;
                let kind = if name == "hotline_backlog" {
                    "stage"
                } else {
                    "clock"
                };
                metrics::gauge!(name, "district" => district, "street" => street, kind => third)
                    .set(value as f64);
            }
        }
        metrics::gauge!("hotline_sla_gauges_updated_seconds").set(at.timestamp() as f64);
    }
}

/// Computes the supervision gauges now and then every `every`, until `stop` turns true. A
/// failed query leaves the gauges as they were (`hotline_sla_gauges_updated_seconds` stops
/// moving) and is logged.
///
/// The tally is read in parts (a live stage and a district at a time, see
/// [`hotline_store::TicketStore::live_tally_part`]) spread evenly over the interval, and
/// published once all are in: one query over every live ticket is about a second of a core
/// at 1M live tickets, in one burst each interval, beside the submits. A part that takes
/// longer than [`PART_BUDGET`] is read a street at a time from the next round on: at 1M live
/// tickets a district's part of one stage took up to 190 ms, and the open loop's slowest
/// seconds of the surge bench were those. The first round, at start-up, reads its parts back
/// to back.
pub async fn sla_gauge_loop(hotline: Hotline, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut gauges = SlaGauges::default();
    let codes_at = |level| {
        hotline
            .directory()
            .divisions_at(level)
            .map(|d| d.code.as_str().to_owned())
            .collect::<Vec<String>>()
    };
    let districts = codes_at(hotline_directory::Level::District);
    let streets = codes_at(hotline_directory::Level::Street);
    let mut parts: Vec<(Stage, CodeRange)> = Stage::ALL
        .iter()
        .filter(|s| s.is_live())
        .flat_map(|stage| {
            CodeRange::partition(&districts)
                .into_iter()
                .map(move |codes| (*stage, codes))
        })
        .collect();
    let paced = |parts: usize| {
        let period = every / parts.max(1) as u32;
        let mut pace = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pace
    };
    let mut pace = paced(parts.len());
    let mut first = true;
    loop {
        let started = tokio::time::Instant::now();
        let mut at = hotline.now();
        let mut tally = Vec::new();
        let mut failed = false;
        let mut slow = Vec::new();
        for (i, (stage, codes)) in parts.iter().enumerate() {
            if !first {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = pace.tick() => {}
                }
            }
            // Each part as of its own read (the gauges say when the last one was).
            at = hotline.now();
            let began = std::time::Instant::now();
            // Bounded by the interval: a slow store must not stack rounds up.
            match tokio::time::timeout(every, hotline.store().live_tally_part(at, *stage, codes))
                .await
            {
                Ok(Ok(part)) => {
                    if began.elapsed() > PART_BUDGET {
                        slow.push(i);
                    }
                    tally.extend(part)
                }
                Ok(Err(err)) => {
                    crate::logging::warn_summarised("supervision gauges", &err);
                    failed = true;
                    break;
                }
                Err(_) => {
                    crate::logging::warn_summarised(
                        "supervision gauges",
                        &crate::error::RouterError::Unavailable(format!(
                            "a part of the backlog query took longer than {} s",
                            every.as_secs_f64()
                        )),
                    );
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            gauges.publish(&tally, at);
        }
        let count = parts.len();
        parts = split_slow_parts(parts, &slow, &streets);
        if parts.len() != count {
            tracing::info!(
                parts = parts.len(),
                "supervision gauges: slow parts of the backlog are read a street at a time"
            );
            pace = paced(parts.len());
        }
        if first {
            first = false;
            // The next round starts an interval after this one did.
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep_until(started + every) => {}
            }
            pace.reset();
        } else if *stop.borrow() {
            return;
        }
    }
}

/// How long one part of the backlog query may take before it is read in smaller parts: about
/// the time a submit can wait for a core on a small machine without missing its p99.
pub const PART_BUDGET: Duration = Duration::from_millis(20);

/// `parts` with each part at an index in `slow` cut at the street codes inside its range (a
/// part already within one street stays whole). The parts still cover every live ticket once.
pub fn split_slow_parts(
    parts: Vec<(Stage, CodeRange)>,
    slow: &[usize],
    streets: &[String],
) -> Vec<(Stage, CodeRange)> {
    parts
        .into_iter()
        .enumerate()
        .flat_map(|(i, (stage, codes))| {
            if slow.contains(&i) {
                codes
                    .split(streets)
                    .into_iter()
                    .map(|piece| (stage, piece))
                    .collect()
            } else {
                vec![(stage, codes)]
            }
        })
        .collect()
}

// ---- working-set timing -------------------------------------------------------------------

/// A [`Queue`] whose every operation is timed into `hotline_queue_op_seconds{op}` (`op` =
/// enqueue, remove, claim, lease, release_expired, list, holds, scan, rebuild, subscribe,
/// is_intact).
pub struct TimedQueue(pub std::sync::Arc<dyn Queue>);

#[async_trait]
impl Queue for TimedQueue {
    async fn enqueue(&self, entry: QueueEntry, from: Option<&StationId>) -> Result<(), QueueError> {
        timed_op("enqueue", self.0.enqueue(entry, from)).await
    }

    async fn remove(
        &self,
        ticket: TicketId,
        station: &StationId,
        version: u64,
    ) -> Result<bool, QueueError> {
        timed_op("remove", self.0.remove(ticket, station, version)).await
    }

    async fn claim(
        &self,
        station: &StationId,
        holder: &StaffId,
        ticket: Option<TicketId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        timed_op("claim", self.0.claim(station, holder, ticket, until, now)).await
    }

    async fn lease(
        &self,
        ticket: TicketId,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, QueueError> {
        timed_op("lease", self.0.lease(ticket, station, now)).await
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<Vec<TicketId>, QueueError> {
        timed_op("release_expired", self.0.release_expired(now)).await
    }

    async fn list(
        &self,
        station: &StationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedItem>, QueueError> {
        timed_op("list", self.0.list(station, now)).await
    }

    async fn holds(
        &self,
        station: &StationId,
        tickets: &[TicketId],
    ) -> Result<Vec<bool>, QueueError> {
        timed_op("holds", self.0.holds(station, tickets)).await
    }

    async fn scan(
        &self,
        station: &StationId,
        from: &ScanCursor,
        count: usize,
    ) -> Result<(Vec<TicketId>, Option<ScanCursor>), QueueError> {
        timed_op("scan", self.0.scan(station, from, count)).await
    }

    async fn rebuild(&self, entries: Vec<QueueEntry>) -> Result<(), QueueError> {
        timed_op("rebuild", self.0.rebuild(entries)).await
    }

    async fn subscribe(
        &self,
        station: &StationId,
    ) -> Result<broadcast::Receiver<QueueEntry>, QueueError> {
        timed_op("subscribe", self.0.subscribe(station)).await
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        timed_op("is_intact", self.0.is_intact()).await
    }
}

/// A [`TimerIndex`] whose every operation is timed into `hotline_queue_op_seconds{op}` (`op` =
/// timer_schedule, timer_claim_due, timer_ack, timer_ack_many, timer_release, timer_next_due,
/// timer_list, timer_rebuild, timer_len).
pub struct TimedTimers(pub std::sync::Arc<dyn TimerIndex>);

#[async_trait]
impl TimerIndex for TimedTimers {
    async fn schedule(&self, ticket: TicketId, timers: Vec<Timer>) -> Result<(), QueueError> {
        timed_op("timer_schedule", self.0.schedule(ticket, timers)).await
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<Timer>, QueueError> {
        timed_op("timer_claim_due", self.0.claim_due(now, limit, lease)).await
    }

    async fn ack(&self, timer: &Timer) -> Result<(), QueueError> {
        timed_op("timer_ack", self.0.ack(timer)).await
    }

    async fn ack_many(&self, timers: &[Timer]) -> Result<(), QueueError> {
        timed_op("timer_ack_many", self.0.ack_many(timers)).await
    }

    async fn release(&self, timers: &[Timer]) -> Result<(), QueueError> {
        timed_op("timer_release", self.0.release(timers)).await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        timed_op("timer_next_due", self.0.next_due()).await
    }

    async fn timers_of(&self, ticket: TicketId) -> Result<Vec<Timer>, QueueError> {
        timed_op("timer_list", self.0.timers_of(ticket)).await
    }

    async fn rebuild(&self, timers: Vec<Timer>) -> Result<(), QueueError> {
        timed_op("timer_rebuild", self.0.rebuild(timers)).await
    }

    async fn len(&self) -> Result<usize, QueueError> {
        timed_op("timer_len", self.0.len()).await
    }
}

/// The duplicate index, each operation timed as `hotline_queue_op_seconds{op="dup_*"}`.
pub struct TimedDuplicates(pub std::sync::Arc<dyn DuplicateIndex>);

#[async_trait]
impl DuplicateIndex for TimedDuplicates {
    async fn put(&self, entry: DuplicateEntry) -> Result<(), QueueError> {
        timed_op("dup_put", self.0.put(entry)).await
    }

    async fn remove(&self, ticket: TicketId) -> Result<bool, QueueError> {
        timed_op("dup_remove", self.0.remove(ticket)).await
    }

    async fn candidates(
        &self,
        key: &DuplicateKey,
        bands: &[u64],
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<Vec<Candidate>>, QueueError> {
        timed_op(
            "dup_candidates",
            self.0.candidates(key, bands, since, limit),
        )
        .await
    }

    async fn filed(
        &self,
        tickets: &[TicketId],
    ) -> Result<std::collections::HashMap<TicketId, Filed>, QueueError> {
        timed_op("dup_filed", self.0.filed(tickets)).await
    }

    async fn start_rebuild(&self) -> Result<Box<dyn DuplicateRebuild + '_>, QueueError> {
        timed_op("dup_rebuild_start", self.0.start_rebuild()).await
    }

    async fn rebuild(&self, entries: Vec<DuplicateEntry>) -> Result<(), QueueError> {
        timed_op("dup_rebuild", self.0.rebuild(entries)).await
    }

    async fn len(&self) -> Result<usize, QueueError> {
        timed_op("dup_len", self.0.len()).await
    }

    async fn is_intact(&self) -> Result<bool, QueueError> {
        timed_op("dup_intact", self.0.is_intact()).await
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, QueueError> {
        timed_op("dup_sweep", self.0.sweep(now)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hotline_core::Stage;
    use hotline_store::ClockCounts;

    /// The value of the one series in `text` whose line starts with `series` (name and labels
    /// as the exporter writes them), or `None`.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }

    fn tally(territory: Option<&str>, stage: Stage, tickets: u64) -> LiveTally {
        LiveTally {
            territory: territory.map(str::to_owned),
            stage,
            tickets,
            overdue: ClockCounts::default(),
            about_to_breach: ClockCounts::default(),
        }
    }

    /// A slow part is replaced by its streets, in place; the others stay as they were, and
    /// every code of every stage is still read once.
    #[test]
    fn slow_parts_of_the_backlog_are_read_a_street_at_a_time() {
        let districts = ["320505", "320508"].map(String::from).to_vec();
        let streets = ["320505001", "320508014", "320508021", "320508021"]
            .map(String::from)
            .to_vec();
        let stages = [Stage::AwaitingSignFor, Stage::InProgress];
        let parts: Vec<(Stage, CodeRange)> = stages
            .iter()
            .flat_map(|s| {
                CodeRange::partition(&districts)
                    .into_iter()
                    .map(move |c| (*s, c))
            })
            .collect();
        // Per stage: Missing, Below 320505, 320505..320508, From 320508.
        assert_eq!(parts.len(), 8);
        let from_gusu = (Stage::InProgress, CodeRange::From("320508".into()));
        assert_eq!(parts[7], from_gusu);
        // Slow: in progress from 姑苏区 on, and the tickets with no division (not splittable).
        let split = split_slow_parts(parts.clone(), &[7, 4], &streets);
        assert_eq!(split.len(), 10);
        assert_eq!(split[..7], parts[..7]);
        assert_eq!(
            split[7..],
            [
                (
                    Stage::InProgress,
                    CodeRange::Between("320508".into(), "320508014".into())
                ),
                (
                    Stage::InProgress,
                    CodeRange::Between("320508014".into(), "320508021".into())
                ),
                (Stage::InProgress, CodeRange::From("320508021".into())),
            ]
        );
        for stage in stages {
            for code in [
                None,
                Some("3205"),
                Some("320505001002"),
                Some("320508021019"),
            ] {
                let n = split
                    .iter()
                    .filter(|(s, c)| *s == stage && c.contains(code))
                    .count();
                assert_eq!(n, 1, "{stage:?} {code:?}");
            }
        }
        // Nothing slow: the same parts.
        assert_eq!(split_slow_parts(split.clone(), &[], &streets), split);
    }

    #[test]
    fn district_and_street_are_cut_from_the_division_and_unknown_below_it() {
        assert_eq!(
            place_labels(Some("320508014")),
            ("320508".to_owned(), "320508014".to_owned())
        );
        assert_eq!(
            place_labels(Some("320508")),
            ("320508".to_owned(), UNKNOWN.to_owned())
        );
        assert_eq!(place_labels(Some("3205")), (UNKNOWN.into(), UNKNOWN.into()));
        assert_eq!(place_labels(None), (UNKNOWN.into(), UNKNOWN.into()));
    }

    #[test]
    fn gauges_sum_per_street_and_fall_to_zero_when_a_street_empties() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut gauges = SlaGauges::default();
        let mut late = tally(Some("320508014"), Stage::InProgress, 3);
        late.overdue.resolution = 2;
        late.about_to_breach.first_contact = 1;
        let first = vec![
            late,
            tally(Some("320508014"), Stage::AwaitingSignFor, 4),
            tally(Some("320506001"), Stage::Accepted, 1),
            // A district-only division and none at all share the street `unknown`.
            tally(Some("320506"), Stage::Accepted, 2),
            tally(None, Stage::PendingDispatch, 5),
        ];
        metrics::with_local_recorder(&recorder, || gauges.publish(&first, at));
        let text = handle.render();
        let backlog = |d: &str, s: &str, stage: &str| {
            value(
                &text,
                &format!("hotline_backlog{{district=\"{d}\",street=\"{s}\",stage=\"{stage}\"}}"),
            )
        };
        assert_eq!(backlog("320508", "320508014", "in_progress"), Some(3.0));
        assert_eq!(
            backlog("320508", "320508014", "awaiting_sign_for"),
            Some(4.0)
        );
        assert_eq!(backlog("320508", "320508014", "pending_review"), Some(0.0));
        assert_eq!(backlog("320506", "unknown", "accepted"), Some(2.0));
        assert_eq!(backlog("unknown", "unknown", "pending_dispatch"), Some(5.0));
        assert_eq!(backlog("320508", "320508014", "closed"), None, "{text}");
        let clock = |name: &str, s: &str, clock: &str| {
            value(
                &text,
                &format!("{name}{{district=\"320508\",street=\"{s}\",clock=\"{clock}\"}}"),
            )
        };
        assert_eq!(
            clock("hotline_overdue", "320508014", "resolution"),
            Some(2.0)
        );
        assert_eq!(clock("hotline_overdue", "320508014", "sign_for"), Some(0.0));
        assert_eq!(
            clock("hotline_about_to_breach", "320508014", "first_contact"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "hotline_sla_gauges_updated_seconds"),
            Some(at.timestamp() as f64)
        );

        // Street 320508014's tickets are all closed now: its series read 0, not 3 and 2.
        let second = vec![tally(Some("320506001"), Stage::Accepted, 1)];
        metrics::with_local_recorder(&recorder, || gauges.publish(&second, at));
        let text = handle.render();
        let stale = value(
            &text,
            "hotline_backlog{district=\"320508\",street=\"320508014\",stage=\"in_progress\"}",
        );
        assert_eq!(stale, Some(0.0), "{text}");
        let overdue = value(
            &text,
            "hotline_overdue{district=\"320508\",street=\"320508014\",clock=\"resolution\"}",
        );
        assert_eq!(overdue, Some(0.0), "{text}");
    }

    #[test]
    fn latency_histograms_are_exported_with_buckets() {
        let recorder = builder().unwrap().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(SUBMIT_SECONDS).record(0.003);
            metrics::histogram!(QUEUE_OP_SECONDS, "op" => "enqueue").record(0.0002);
        });
        let text = recorder.handle().render();
        assert_eq!(
            value(
                &text,
                "hotline_submit_duration_seconds_bucket{le=\"0.0025\"}"
            ),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                "hotline_submit_duration_seconds_bucket{le=\"0.005\"}"
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                "hotline_queue_op_seconds_bucket{op=\"enqueue\",le=\"0.00025\"}"
            ),
            Some(1.0),
            "{text}"
        );
        assert!(!text.contains("quantile"), "{text}");
    }
}
