//! The 12345 router: a request comes in over gRPC, becomes a ticket, goes to a station's queue,
//! and is carried through its lifecycle under SLA clocks.
//!
//! # Layout (in the order a request flows)
//! - [`config`]: flags and environment variables.
//! - [`cli`]: the offline subcommands (train, eval, classify, resolve).
//! - [`grpc`]: thin adapters per service (intake, station, supervision, directory), the
//!   proto <-> domain conversions, and the one error -> status mapping.
//! - [`tickets`]: the engine ([`Hotline`]): submit, act, claim, read.
//! - [`routing`]: automatic routing at intake (classify, resolve, catalogue) and duplicates.
//! - [`deadlines`]: fills SLA deadlines into actions from the policy and working calendar.
//! - [`working_set`]: keeps queues and timers in line with the store; rebuild; lease expiry.
//! - [`escalation`]: SLA timers per stage and what each does when it fires.
//! - [`server`]: wiring, serving, health, reflection, graceful shutdown.
//! - [`metrics`]: the Prometheus exporter and the metric names.
//! - [`error`]: the router error, [`RouterError`].

pub mod cli;
pub mod config;
pub mod deadlines;
pub mod error;
pub mod escalation;
pub mod grpc;
pub mod metrics;
pub mod routing;
pub mod server;
pub mod tickets;
pub mod working_set;

pub use error::RouterError;
pub use tickets::Hotline;

/// Installs the tracing subscriber (text or JSON, filtered by `RUST_LOG`, default `info`).
pub fn init_tracing(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}
