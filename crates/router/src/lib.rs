//! The 12345 router: a request comes in over gRPC, becomes a ticket, goes to a station's queue,
//! and is carried through its lifecycle under SLA clocks.
//!
//! # Layout (in the order a request flows)
//! - [`config`]: flags and environment variables.
//! - [`cli`]: the offline subcommands (train, eval, classify, resolve).
//! - [`grpc`]: thin adapters per service (intake, station, supervision, directory), the
//!   proto <-> domain conversions, and the one error -> status mapping.
//! - [`access`]: who may call which RPC, on which tickets, and what of the caller they see.
//! - [`tickets`]: the engine ([`Hotline`]): submit, act, claim, read; as a proven principal.
//! - [`aliases`]: address aliases learned from territory corrections, confirmed by supervisors.
//! - [`routing`]: automatic routing at intake (classify, resolve, catalogue) and duplicates.
//! - [`deadlines`]: fills SLA deadlines into actions from the policy and working calendar.
//! - [`working_set`]: keeps queues and timers in line with the store; rebuild; lease expiry.
//! - [`escalation`]: SLA timers per stage and what each does when it fires.
//! - [`kpis`]: wiring of the supervision figures (`hotline-kpi`): their tables, the engine's
//!   clocks, the scope a principal may see; [`feed`]: the live event stream behind WatchEvents;
//!   [`hotspots`]: surge alerts behind ListAlerts and WatchAlerts.
//! - [`server`]: wiring, serving, health, reflection, graceful shutdown.
//! - [`http`]: the HTTP listener (Prometheus `/metrics`, Open311).
//! - [`open311`]: Open311 GeoReport v2 at `/open311/v2/`, an adapter like the gRPC ones.
//! - [`metrics`]: the Prometheus exporter and the metric names.
//! - [`simulate`]: `hotline simulate`, the workload simulator (`hotline-simulate`) on this engine.
//! - [`logging`]: one-line errors with their causes, repeated errors summarised.
//! - [`error`]: the router error, [`RouterError`].

pub mod access;
pub mod aliases;
pub mod cli;
pub mod config;
pub mod deadlines;
pub mod error;
pub mod escalation;
pub mod feed;
pub mod grpc;
pub mod hotspots;
pub mod http;
pub mod incidents;
pub mod knowledge;
pub mod kpis;
pub mod logging;
pub mod metrics;
pub mod open311;
pub mod routing;
pub mod server;
pub mod simulate;
pub mod tickets;
pub mod working_set;

pub use error::RouterError;
pub use tickets::Hotline;

pub use logging::init_tracing;
