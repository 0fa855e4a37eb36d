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
//! A replica that starts primes its windows from the store (the calls of the last six hours,
//! window and cool-down) and replays them without announcing, so it shows the alerts already
//! on, under the ids the others gave them, and does not raise them again (a surge on for longer
//! than that gets a new id on the new replica).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotline_core::{Clock, TicketId};
use hotline_kpi::hotspot::baseline::{history_range, stale};
use hotline_kpi::hotspot::{Baseline, Intake, Transition};
use hotline_kpi::{Alert, Detector, HotspotConfig, KpiError, KpiStore};
use tokio::sync::{broadcast, watch};

use crate::tickets::Hotline;

/// Raised and cleared alerts, counted per level and category.
pub const ALERTS_TOTAL: &str = "hotline_hotspot_alerts_total";
/// Alerts on now.
pub const ACTIVE: &str = "hotline_hotspot_active_alerts";

/// How far back a starting replica replays the calls, beyond the window and the cool-down.
const REPLAY: chrono::Duration = chrono::Duration::hours(6);

#[derive(Clone)]
pub struct HotspotRoom {
    inner: Arc<Inner>,
}

struct Inner {
    /// Held only for pure work, never across an await.
    detector: Mutex<Detector>,
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
        let (ids, next) = self.inner.store.changes(Some(cursor)).await?;
        let mut calls = Vec::with_capacity(ids.len());
        for raw in ids {
            let Ok(id) = TicketId::parse("ticket_id", &raw) else {
                continue;
            };
            if let Some(ticket) = hotline.store().get(id).await? {
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
        let now = self.inner.clock.now();
        let (transitions, active) = {
            let mut detector = self.detector();
            for call in &calls {
                detector.observe(call);
            }
            (detector.advance(now), detector.active().len())
        };
        for transition in transitions {
            self.announce(transition);
        }
        metrics::gauge!(ACTIVE).set(active as f64);
        Ok(next)
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
