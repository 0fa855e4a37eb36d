//! Wiring of the hotspot / surge alerts (`hotline_kpi::hotspot`): the detector fed with every
//! ticket created on any replica, its usual rates learned from the store, the alerts kept for
//! `Kpis.ListAlerts` and sent to `Kpis.WatchAlerts`, and their metrics.
//!
//! # Replicas
//! Every replica runs its own detector and reaches the same conclusions: it counts calls by
//! their creation time (not by when this replica heard of them), reads them from the store's
//! change log (so it sees the other replicas' submits), evaluates a bucket only a grace after it
//! ends, and learns its usual rates from whole local days before today. Same calls, same rates,
//! same alerts, with the same ids; a board connected to any replica shows the same banner.
//! Nothing is elected and no replica depends on another. The cost is that each replica counts
//! its own `hotline_hotspot_alerts_total`: aggregate across replicas with `max()`, as the
//! supervision gauges.
//!
//! # A surge is one incident (并案)
//! An alert on a street or a community merges the surge's calls into one incident
//! ([`Hotline::fold_surge`]): the calls already taken when it is raised, then every call about
//! that category there while it is on, at intake (`Hotline::route_new` asks
//! [`HotspotRoom::surge_for`]), and, for calls another replica routed before it knew, here as
//! they are counted. A street's alert wins over its communities': one outage, one incident.
//! District alerts only warn: a district is too wide to assume one matter. Every replica folds
//! the same alert into the same incident (the lead is the earliest call, the joins are
//! idempotent), so nothing is elected here either.
//!
//! A replica that starts primes its windows from the store (the calls of the last six hours,
//! window and cool-down) and replays them without announcing, so it shows the alerts already
//! on, under the ids the others gave them, and does not raise them again (a surge on for longer
//! than that gets a new id on the new replica).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline_core::{Clock, IncidentId, StationId, TicketId};
use hotline_kpi::hotspot::baseline::{history_range, stale};
use hotline_kpi::hotspot::{Baseline, HotspotKey, Intake, Level, Transition};
use hotline_kpi::{Alert, Detector, HotspotConfig, KpiError, KpiStore};
use tokio::sync::{broadcast, watch};

use crate::incidents::Matter;
use crate::tickets::Hotline;

/// Changed tickets whose facts one store read brings (their texts come along: a bounded read
/// after a long pause, when a step finds many).
const FACTS_READ: usize = 1_000;

/// Raised and cleared alerts, counted per level and category.
pub const ALERTS_TOTAL: &str = "hotline_hotspot_alerts_total";
/// Alerts on now.
pub const ACTIVE: &str = "hotline_hotspot_active_alerts";

/// How far back a starting replica replays the calls, beyond the window and the cool-down.
const REPLAY: chrono::Duration = chrono::Duration::hours(6);
/// How long an alert whose fold found no call to lead it waits before it is folded again.
const LEADERLESS_RETRY: chrono::Duration = chrono::Duration::minutes(1);

#[derive(Clone)]
pub struct HotspotRoom {
    inner: Arc<Inner>,
}

/// The incident a surge's calls join while its alert is on.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeIncident {
    pub key: HotspotKey,
    /// The surge's start as the counts show it: calls from then on are its calls.
    pub since: DateTime<Utc>,
    pub incident: IncidentId,
    /// Only calls about it join: the alert counts a whole category's first level.
    pub matter: Matter,
}

struct Inner {
    /// Held only for pure work, never across an await.
    detector: Mutex<Detector>,
    /// Alerts on now (by id) and their incidents, once folded on this replica.
    surges: Mutex<HashMap<String, SurgeIncident>>,
    /// Alerts on now whose last fold found no call that could lead an incident (all held for
    /// an operator, say), and when: tried again a minute later, not on every step (each try
    /// reads every call since the alert's start, thousands in a busy minute).
    leaderless: Mutex<HashMap<String, DateTime<Utc>>>,
    store: Arc<dyn KpiStore>,
    clock: Arc<dyn Clock>,
    tx: broadcast::Sender<Arc<Alert>>,
}

impl HotspotRoom {
    /// A room with a validated `config` on the KPI store (the tickets' database).
    pub fn new(
        config: HotspotConfig,
        store: Arc<dyn KpiStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KpiError> {
        config.validate()?;
        let (tx, _) = broadcast::channel(256);
        Ok(Self {
            inner: Arc::new(Inner {
                detector: Mutex::new(Detector::new(config)),
                surges: Mutex::new(HashMap::new()),
                leaderless: Mutex::new(HashMap::new()),
                store,
                clock,
                tx,
            }),
        })
    }

    fn detector(&self) -> std::sync::MutexGuard<'_, Detector> {
        // A panic while holding it leaves counts, not broken invariants: carry on.
        self.inner
            .detector
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn leaderless(&self) -> std::sync::MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.inner
            .leaderless
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn surges(&self) -> std::sync::MutexGuard<'_, HashMap<String, SurgeIncident>> {
        self.inner
            .surges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The surge a call about `category` in `division` belongs to, if one is on there (its
    /// street's, else its community's), and, given `station` (the catalogue's pick for the
    /// call), only if the call is about the surge's matter.
    pub fn surge_for(
        &self,
        division: &str,
        category: &str,
        station: Option<Option<&StationId>>,
    ) -> Option<SurgeIncident> {
        let root = category.split('.').next().unwrap_or_default();
        self.surges()
            .values()
            .filter(|s| s.key.category == root && division.starts_with(&s.key.territory))
            .filter(|s| {
                station.is_none_or(|station| {
                    s.matter.category.as_str() == category && s.matter.station.as_ref() == station
                })
            })
            .min_by(|a, b| a.key.level.cmp(&b.key.level).then(a.since.cmp(&b.since)))
            .cloned()
    }

    /// The incident an alert's surge is merged into (its street's when a community's surge is
    /// part of one); none for a district's alert, or before the merge.
    pub fn incident_of(&self, alert: &Alert) -> Option<IncidentId> {
        if alert.key.level == Level::District || alert.cleared_at.is_some() {
            return None;
        }
        self.surge_for(&alert.key.territory, &alert.key.category, None)
            .map(|s| s.incident)
    }

    pub fn config(&self) -> HotspotConfig {
        self.detector().config().clone()
    }

    /// The alerts on now, newest first.
    pub fn active(&self) -> Vec<Alert> {
        self.detector().active()
    }

    /// Alerts as they are raised and cleared.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.inner.tx.subscribe()
    }

    /// Learns the usual rates if they were learned for another day (or never).
    pub async fn refresh_baseline(&self) -> Result<(), KpiError> {
        let now = self.inner.clock.now();
        let (weeks, learned_for, floor) = {
            let detector = self.detector();
            (
                detector.config().history_weeks,
                detector.baseline().learned_for(),
                detector.config().floor_per_hour,
            )
        };
        if !stale(learned_for, now) {
            return Ok(());
        }
        let (from, to) = history_range(now, weeks);
        let (rows, earliest) = self.inner.store.intake_hours(from, to).await?;
        let baseline = Baseline::learn(&rows, from, to, earliest, floor);
        tracing::info!(
            rates = baseline.len(),
            from = %from,
            to = %to,
            "hotspot alerts: usual rates learned"
        );
        // A store with no ticket before today learns nothing: mark the day learned anyway,
        // so the floor is used today instead of asking again every turn.
        let baseline = if baseline.learned_for().is_none() {
            Baseline::learn(&[], from, to, Some(to), floor)
        } else {
            baseline
        };
        self.detector().set_baseline(baseline);
        Ok(())
    }

    /// Learns the rates and primes the windows from the store; returns the change-log cursor
    /// to follow from (taken first, so no ticket falls between the two).
    pub async fn start(&self) -> Result<String, KpiError> {
        let (_, cursor) = self.inner.store.changes(None).await?;
        self.refresh_baseline().await?;
        let now = self.inner.clock.now();
        let config = self.config();
        // Far enough back that a surge still on began inside it (then its id is the one the
        // other replicas gave it), unless it has been on for longer than REPLAY.
        let replay_from = now - REPLAY - config.cool_down - config.window - config.grace;
        let calls = self
            .inner
            .store
            .intake_since(replay_from - config.window)
            .await?;
        let mut detector = self.detector();
        detector.start_at(replay_from);
        for call in &calls {
            detector.observe(&normalised(call));
        }
        // Replayed, not announced: these were raised (and counted) when they happened.
        let _ = detector.advance(now);
        metrics::gauge!(ACTIVE).set(detector.active().len() as f64);
        Ok(cursor)
    }

    /// Counts the tickets changed since `cursor` that are new to it, evaluates, announces.
    /// Returns the next cursor.
    pub async fn step(&self, hotline: &Hotline, cursor: &str) -> Result<String, KpiError> {
        if let Err(err) = self.refresh_baseline().await {
            // Yesterday's rates are still good rates: keep them and try again next turn (the
            // log summarises the repeats).
            crate::logging::warn_summarised("hotspot alerts: learning the usual rates", &err);
        }
        // The time is read before the change log: every call committed before it is in this
        // read, so a bucket evaluated at it is whole, however long the reads below take (read
        // after them, a call committed meanwhile would miss its bucket's evaluation).
        let now = self.inner.clock.now();
        let (ids, next) = self.inner.store.changes(Some(cursor)).await?;
        // Each ticket changes many times (routed, signed for, replied...) but counts once: only
        // those not counted yet are read. What a call is counted by (territory, category,
        // creation time) is kept in columns beside the body: one read per FACTS_READ of them,
        // no body read or parsed. One whole read per change cost every submit a round trip and
        // a body parse here, as much database time as a fifth of the submit's own write
        // (issue 13, the routed ratio).
        let unseen: Vec<TicketId> = {
            let detector = self.detector();
            ids.iter()
                .filter(|raw| !detector.has_seen(raw))
                .filter_map(|raw| TicketId::parse("ticket_id", raw).ok())
                .collect()
        };
        let mut calls: Vec<Intake> = Vec::with_capacity(unseen.len());
        for chunk in unseen.chunks(FACTS_READ) {
            let facts: HashMap<TicketId, hotline_store::CandidateFacts> = hotline
                .store()
                .duplicate_facts(chunk)
                .await?
                .into_iter()
                .map(|f| (f.id, f))
                .collect();
            // In the change log's order, as the detector was always fed.
            for id in chunk {
                let Some(ticket) = facts.get(id) else {
                    continue;
                };
                if let (Some(division), Some(category)) = (&ticket.division, &ticket.category) {
                    calls.push(Intake {
                        ticket_id: id.to_string(),
                        at: ticket.created_at,
                        division: division.as_str().to_owned(),
                        category: category.as_str().to_owned(),
                    });
                }
            }
        }
        let (transitions, active, new_calls) = {
            let mut detector = self.detector();
            let new_calls: Vec<Intake> = calls
                .into_iter()
                .filter(|call| detector.observe(call))
                .collect();
            (detector.advance(now), detector.active(), new_calls)
        };
        // A new surge's calls are merged before it is announced: whoever the alert reaches
        // finds its one incident.
        if hotline.incident_store().is_some() {
            if let Err(err) = self.fold_surges(hotline, &active).await {
                // The alert goes out all the same; the merge is tried again next turn.
                crate::logging::warn_summarised("merging a surge into one incident", &err);
            }
        }
        for transition in transitions {
            self.announce(transition);
        }
        metrics::gauge!(ACTIVE).set(active.len() as f64);
        if hotline.incident_store().is_some() {
            self.sweep(hotline, &new_calls).await;
        }
        Ok(next)
    }

    /// Folds each street or community alert on now that has no incident here yet (unless its
    /// street's surge covers it), and forgets the alerts cleared.
    async fn fold_surges(&self, hotline: &Hotline, active: &[Alert]) -> Result<(), KpiError> {
        let now = self.inner.clock.now();
        let mut pending: Vec<&Alert> = {
            let mut surges = self.surges();
            surges.retain(|id, _| active.iter().any(|a| &a.id == id));
            let mut leaderless = self.leaderless();
            leaderless.retain(|id, _| active.iter().any(|a| &a.id == id));
            active
                .iter()
                .filter(|a| a.key.level != Level::District && !surges.contains_key(&a.id))
                .filter(|a| {
                    leaderless
                        .get(&a.id)
                        .is_none_or(|tried| now - *tried >= LEADERLESS_RETRY)
                })
                .collect()
        };
        // Streets first: their incidents take in their communities'.
        pending.sort_by(|a, b| a.key.level.cmp(&b.key.level).then(a.id.cmp(&b.id)));
        // The calls since the earliest of them, read once for all (an alert whose fold finds
        // nothing live to lead stays pending and comes back every step: read per alert, a
        // minute with a hundred of them read the same calls a hundred times a step).
        let mut intake: Option<Vec<Intake>> = None;
        for alert in pending.iter().copied() {
            if alert.key.level == Level::Community {
                let covered = self
                    .surge_for(&alert.key.territory, &alert.key.category, None)
                    .is_some_and(|s| s.key.level == Level::Street);
                if covered {
                    continue;
                }
            }
            if intake.is_none() {
                let from = pending.iter().map(|a| a.since).min().unwrap_or(alert.since);
                intake = Some(self.inner.store.intake_since(from).await?);
            }
            let calls: Vec<TicketId> = intake
                .iter()
                .flatten()
                .filter(|c| c.at >= alert.since)
                .filter(|c| HotspotKey::of(&c.division, &c.category).contains(&alert.key))
                .filter_map(|c| TicketId::parse("ticket_id", &c.ticket_id).ok())
                .collect();
            let by = format!("surge {}", alert.id);
            match hotline.fold_surge(&calls, &by).await {
                Ok(Some((incident, matter))) => {
                    let mut surges = self.surges();
                    if alert.key.level == Level::Street {
                        // Its communities' incidents about the same thing were taken in: their
                        // alerts now lead here. (Only the same category: a street's surge about
                        // another thing is its own, and dropping it had it folded again on
                        // the next step, which dropped this one, and so on every step.)
                        surges.retain(|_, s| {
                            !(s.key.category == alert.key.category
                                && s.key.territory.starts_with(&alert.key.territory))
                        });
                    }
                    surges.insert(
                        alert.id.clone(),
                        SurgeIncident {
                            key: alert.key.clone(),
                            since: alert.since,
                            incident,
                            matter,
                        },
                    );
                }
                // Nothing live to lead it yet: tried again in a while.
                Ok(None) => {
                    self.leaderless().insert(alert.id.clone(), now);
                }
                Err(err) => {
                    crate::logging::warn_summarised("merging a surge into one incident", &err)
                }
            }
        }
        Ok(())
    }

    /// Calls counted for the first time that belong to a surge this replica folded: routed
    /// by another replica before it knew of the surge, or while its fold was under way.
    async fn sweep(&self, hotline: &Hotline, calls: &[Intake]) {
        for call in calls {
            // The matter is checked on the ticket (its routed station is not in the call).
            let Some(surge) = self.surge_for(&call.division, &call.category, None) else {
                continue;
            };
            if call.at < surge.since {
                continue;
            }
            let Ok(id) = TicketId::parse("ticket_id", &call.ticket_id) else {
                continue;
            };
            if let Err(err) = hotline
                .take_into_surge(id, surge.incident, &surge.matter)
                .await
            {
                crate::logging::warn_summarised("taking a call into a surge's incident", &err);
            }
        }
    }

    fn announce(&self, transition: Transition) {
        let (alert, state) = match transition {
            Transition::Raised(alert) => (alert, "raised"),
            Transition::Cleared(alert) => (alert, "cleared"),
        };
        metrics::counter!(
            ALERTS_TOTAL,
            "level" => alert.key.level.code(),
            "category" => alert.key.category.clone(),
            "state" => state,
        )
        .increment(1);
        tracing::warn!(
            alert = %alert.id,
            state,
            count = alert.count,
            expected = alert.expected,
            since = %alert.since,
            "hotspot alert"
        );
        let _ = self.inner.tx.send(Arc::new(alert));
    }

    /// Steps every `every` until `shutdown`; a failed step is logged and retried from the same
    /// cursor (the detector counts a ticket once, however often it is read).
    pub async fn run(
        self,
        hotline: Hotline,
        mut cursor: String,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            match self.step(&hotline, &cursor).await {
                Ok(next) => cursor = next,
                Err(err) => {
                    metrics::counter!("hotline_hotspot_step_errors_total").increment(1);
                    crate::logging::warn_summarised("hotspot alerts", &err);
                }
            }
        }
    }
}

/// A primed call with its ticket id written as the change log's tickets are (the store's text
/// may differ in case), so the two sightings are one.
fn normalised(call: &Intake) -> Intake {
    let ticket_id = TicketId::parse("ticket_id", &call.ticket_id)
        .map(|id| id.to_string())
        .unwrap_or_else(|_| call.ticket_id.clone());
    Intake {
        ticket_id,
        ..call.clone()
    }
}

/// Whether an alert about `territory` concerns someone whose scope is `division` (a district,
/// street or community): either holds the other.
pub fn concerns(territory: &str, division: &str) -> bool {
    territory.starts_with(division) || division.starts_with(territory)
}
