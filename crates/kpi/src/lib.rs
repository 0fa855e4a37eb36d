//! Supervision figures: the KPIs 12345 centres are scored on (及时签收率, 响应率, 按时办结率,
//! 结案率, 回访满意率, 重办率, 退单率, 延期率, handling time), computed from the event log, the
//! source of truth, and kept current incrementally. `docs/kpis.md` gives every formula and
//! denominator; this crate is that page in code.
//!
//! # How the figures stay right
//! Each ticket's whole history turns into a list of [`facts::Fact`]s (pure: [`facts::derive`]),
//! each a count placed in an hour, at a station, for one metric ("dispatched at 09:00 to
//! station S", "signed on time, counted in the dispatch's hour"). The aggregate tables hold the
//! sum of every ticket's facts per hour and per local day.
//!
//! The [`follower::Follower`] keeps them current: in one transaction it takes the ticket ids
//! changed since its cursor in the store's commit order, derives each one's facts again from its
//! whole log, subtracts the facts it stored for that ticket last time, adds the new ones, stores
//! them and moves the cursor. A ticket processed twice changes nothing the second time (its
//! facts are replaced, never added), and a change is never missed (the cursor is the store's
//! exact change log), so the aggregates always equal a full recomputation
//! ([`recompute::aggregate_all`]), which the tests check on both backends.
//!
//! # Layout
//! - [`definitions`]: the metrics ([`Metric`]), the counts ([`Counts`]) and the figures
//!   computed from them ([`Figures`]), thresholds and weights ([`KpiConfig`]).
//! - [`facts`]: a ticket's history to facts.
//! - [`scope`]: [`Scope`], [`Period`], [`GroupBy`].
//! - [`store`]: [`KpiStore`], with SQLite and PostgreSQL implementations (migration 0008).
//! - [`follower`]: the incremental aggregation.
//! - [`hotspot`]: surge alerts: calls per place and category against their usual rate.
//! - [`query`]: [`Kpis`], the service: figures by scope, period and group; backlog; at-risk list.
//! - [`recompute`]: the same figures from the events, for checks and benches.
//! - [`error`]: [`KpiError`] and its closed [`ErrorCode`].

pub mod definitions;
pub mod error;
pub mod facts;
pub mod follower;
pub mod hotspot;
pub mod query;
pub mod recompute;
pub mod scope;
pub mod store;

pub use definitions::{Counts, Figures, KpiConfig, Metric, Ratio};
pub use error::{ErrorCode, KpiError};
pub use follower::Follower;
pub use hotspot::{Alert, Detector, HotspotConfig, HotspotKey};
pub use query::{AtRisk, Backlog, KpiReport, KpiRow, Kpis};
pub use scope::{GroupBy, Period, Scope};
pub use store::{KpiStore, Pace, PgKpis, SqliteKpis};
