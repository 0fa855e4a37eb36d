//! Capacity planning: `hotline simulate` runs days of a 12345 centre through the real engine
//! on a virtual clock, and says what happens to 及时签收率 and 按时办结率 before the day comes.
//!
//! The simulator generates callers and station staff; everything else is the engine's own:
//! the store, the station queues, routing through the dispatch catalogue, the SLA policy, the
//! working calendar and escalation. It reaches the engine through one port ([`engine::Engine`]),
//! which the router implements over its ticket service, so this crate never depends on the
//! router and the router's `hotline simulate` stays a thin command.
//!
//! # Layout (in the order a run flows)
//! - [`scenario`]: the TOML scenario, parsed with every value's line, validated against the
//!   directory, the taxonomy and the holiday calendar; bad input names the key and the line.
//! - [`duration`]: durations as scenarios write them (`"30 min"`, `"2 h"`, `"3 d"`).
//! - [`arrivals`]: when requests come in (calls per day, hour-of-day curve, surges) and what
//!   they are (channel, category, nature, territory).
//! - [`behaviour`]: station staff: time distributions (fixed, exponential, log-normal, the fit
//!   of real reply delays), staff per station kind, returns, extensions, dissatisfied callbacks.
//! - [`engine`]: the port to the real engine, and what it answers.
//! - [`runner`]: the discrete-event run on the virtual clock: arrivals, staff, timers, events.
//! - [`report`]: KPIs per district, street and station kind (the `hotline-kpi` definitions over
//!   each ticket's event log), backlog and overdue over time, breaches, escalations, the busiest
//!   stations; as a terminal table and CSV files.
//! - [`charts`]: the SVG charts (plotters): backlog over time, on-time rate per district, and
//!   a heat table of station load.
//! - [`capacity`]: `--find-staff`: the least staff per station kind reaching a target rate, by
//!   bisection over repeated runs.
//! - [`cli`]: the `simulate` command's flags and what it writes.
//! - [`error`]: the crate's one error enum, [`SimulateError`].

pub mod arrivals;
pub mod behaviour;
pub mod capacity;
pub mod charts;
pub mod cli;
pub mod duration;
pub mod engine;
pub mod error;
pub mod report;
pub mod runner;
pub mod scenario;

pub use engine::{Engine, EngineFactory};
pub use error::SimulateError;
pub use report::Outcome;
pub use runner::run;
pub use scenario::Scenario;
