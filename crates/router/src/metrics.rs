//! Prometheus metrics. Counters are recorded where things happen (`metrics::counter!`); this
//! module only installs the exporter.
//!
//! - `hotline_tickets_submitted_total{new}`: submits (new = false for idempotent retries)
//! - `hotline_ticket_actions_total{action}`: lifecycle changes committed
//! - `hotline_claims_total`, `hotline_leases_expired_total`
//! - `hotline_queue_errors_total`: queue updates that failed after a commit (repaired by rebuild)
//! - `hotline_deadline_unset_total`: deadlines left unset for lack of a published calendar

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusBuilder;

pub fn install(listen: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .install()?;
    tracing::info!(%listen, "metrics exporter listening");
    Ok(())
}
