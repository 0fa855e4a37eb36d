//! Prometheus metrics. Counters are recorded where things happen (`metrics::counter!`); this
//! module only installs the exporter.
//!
//! - `hotline_tickets_submitted_total{new}`: submits (new = false for idempotent retries)
//! - `hotline_ticket_actions_total{action}`: lifecycle changes committed
//! - `hotline_claims_total`, `hotline_leases_expired_total`
//! - `hotline_queue_errors_total`: working-set updates that failed after a commit (each ticket
//!   repaired from the store once the backend answers)
//! - `hotline_working_set_repairs_pending`: tickets waiting for that repair (gauge)
//! - `hotline_working_set_drift_total{kind}`: anti-entropy differences found and repaired,
//!   `kind` = missing | stale | timers (should stay 0)
//! - `hotline_escalations_total`: escalation events written by fired timers
//! - `hotline_timer_lag_seconds`: how late the oldest timer of the last fired batch was (gauge)
//! - `hotline_deadline_unset_total`: deadlines left unset for lack of a published calendar

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's Prometheus recorder (metrics are process-wide: one recorder, however many
/// servers a test starts).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once and returns its handle, which renders the exposition text.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = match PrometheusBuilder::new().install_recorder() {
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
