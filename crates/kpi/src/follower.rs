//! The follower: keeps the aggregates in line with the event log, a step at a time. Every
//! replica runs one; their steps take turns in the database, and each step is exact (see
//! [`crate::store::KpiStore::catch_up`]), so nothing is missed or counted twice however many
//! run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Mutex};

use crate::query::Clocks;
use crate::store::{KpiStore, Pace};
use crate::KpiError;

/// How often hourly rows past their retention are deleted.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

#[derive(Clone)]
pub struct Follower {
    store: Arc<dyn KpiStore>,
    clocks: Arc<dyn Clocks>,
    hourly_retention: chrono::Duration,
    /// One step at a time in this process (the database makes replicas take turns); holds
    /// when hourly rows were last pruned.
    running: Arc<Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
}

impl Follower {
    pub fn new(
        store: Arc<dyn KpiStore>,
        clocks: Arc<dyn Clocks>,
        hourly_retention: chrono::Duration,
    ) -> Self {
        Self {
            store,
            clocks,
            hourly_retention,
            running: Arc::new(Mutex::new(None)),
        }
    }

    /// Brings the aggregates up to every change committed before the call. Returns how many
    /// tickets were processed.
    pub async fn step(&self) -> Result<usize, KpiError> {
        self.step_paced(Pace::FULL).await
    }

    /// [`Follower::step`] at `pace`: the background steps, which nobody waits for.
    pub async fn step_paced(&self, pace: Pace) -> Result<usize, KpiError> {
        let mut pruned_at = self.running.lock().await;
        let started = std::time::Instant::now();
        let calendar = self.clocks.calendar();
        let processed = self.store.catch_up(&calendar, pace).await?;
        // Hourly rows are only read for the edges of recent periods; older ones go (a fact
        // swapped later may write a small correction row into a pruned hour, which the next
        // prune removes; reports never read hours that old).
        let now = self.clocks.now();
        if pruned_at.is_none_or(|at| now - at >= PRUNE_EVERY) {
            let removed = self.store.prune_hourly(now - self.hourly_retention).await?;
            metrics::counter!("hotline_kpi_hourly_rows_pruned_total").increment(removed);
            *pruned_at = Some(now);
        }
        metrics::counter!("hotline_kpi_tickets_processed_total").increment(processed as u64);
        metrics::histogram!("hotline_kpi_step_seconds").record(started.elapsed().as_secs_f64());
        Ok(processed)
    }

    /// Steps every `every` at `pace` until `shutdown` changes; errors are logged and retried
    /// next time (the cursor only moves with a committed step).
    pub async fn run(self, every: Duration, pace: Pace, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {
                    if let Err(err) = self.step_paced(pace).await {
                        metrics::counter!("hotline_kpi_step_errors_total").increment(1);
                        tracing::warn!(error = %err, "KPI follower step failed; retrying");
                    }
                }
            }
        }
    }
}
