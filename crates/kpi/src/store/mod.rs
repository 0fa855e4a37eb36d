//! The KPI tables behind one trait, [`KpiStore`], with SQLite and PostgreSQL implementations in
//! [`sql`]. The tables come from migration 0008, run by the ticket store's migrator; they live
//! in the ticket store's database, because the follower reads the event log and writes the
//! aggregates in one transaction.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{Event, Ticket};
use hotline_sla::WorkingCalendar;

use crate::definitions::{Counts, Metric};
use crate::facts::Fact;
use crate::hotspot::{Intake, IntakeHour};
use crate::scope::{floor_hour, local_midnight, local_month_start, Scope};
use crate::KpiError;

mod sql;

pub use sql::{PgKpis, SqliteKpis};

/// How a follower step shares the database with intake.
///
/// A step writes every changed ticket's facts and some seven aggregate rows per ticket. Done
/// at once, a 5 s step of a surge kept a PostgreSQL backend busy for most of a second, and
/// on a small machine the submits queued behind it: the surge bench's slowest seconds came
/// every 5 s, with the step's upserts. A paced step writes the same rows in smaller statements
/// and pauses after each, so that its statements take at most `share` of the step's time.
/// The rows are the same; the step only takes longer (its transaction holds the follower's
/// turn, nothing intake needs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    share: f64,
}

impl Pace {
    /// No pauses: what a report waits for.
    pub const FULL: Pace = Pace { share: 1.0 };

    /// Statements take at most `share` (0 < share <= 1) of the step's time.
    pub fn share(share: f64) -> Result<Pace, KpiError> {
        if share.is_finite() && share > 0.0 && share <= 1.0 {
            Ok(Pace { share })
        } else {
            Err(KpiError::invalid(
                "kpi_db_share",
                format!("must be above 0 and at most 1, got {share}"),
            ))
        }
    }

    pub fn is_full(self) -> bool {
        self.share >= 1.0
    }

    /// The pause after a statement that took `took`.
    pub fn pause_after(self, took: std::time::Duration) -> std::time::Duration {
        if self.is_full() {
            std::time::Duration::ZERO
        } else {
            let ratio = (1.0 - self.share) / self.share;
            std::time::Duration::from_nanos((took.as_nanos() as f64 * ratio).round() as u64)
        }
    }

    /// Rows per upsert: `full` unpaced, fewer when paced so that no one statement is long.
    pub fn rows_per_statement(self, full: usize) -> usize {
        if self.is_full() {
            full
        } else {
            full.min(PACED_ROWS)
        }
    }

    /// Runs one statement, then pauses as the pace says.
    pub async fn run<T>(self, statement: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = statement.await;
        let pause = self.pause_after(started.elapsed());
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        out
    }
}

/// Rows per upsert statement of a paced step (~10-20 ms of PostgreSQL each).
const PACED_ROWS: usize = 500;

/// Which aggregate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Hour,
    Day,
    Month,
}

impl Grain {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Grain::Hour => "kpi_hourly",
            Grain::Day => "kpi_daily",
            Grain::Month => "kpi_monthly",
        }
    }
    /// The bucket (start instant, ms) holding `at_ms`.
    pub fn bucket(self, at_ms: i64) -> i64 {
        let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default();
        match self {
            Grain::Hour => floor_hour(at).timestamp_millis(),
            Grain::Day => local_midnight(at).timestamp_millis(),
            Grain::Month => local_month_start(at).timestamp_millis(),
        }
    }
}

/// Which split of the counts a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// Per station (and division): every non-staff fact. In the monthly table only: see
    /// [`Dim::totals`].
    All,
    Category,
    Channel,
    /// Per staff member: the staff metrics only.
    Staff,
}

impl Dim {
    /// The rows whose sum is every non-staff fact once, in `grain`'s table. Every such fact
    /// counts in exactly one channel row, so hours and days keep no row of totals: they were a
    /// third of the rows the follower writes per routed submit (issue 13's routed ratio), and
    /// a report reads hours and days only at its period's edges. Whole months, what a long
    /// report reads, keep theirs (a district's year stays ~12 rows a station).
    pub fn totals(grain: Grain) -> Dim {
        match grain {
            Grain::Month => Dim::All,
            Grain::Hour | Grain::Day => Dim::Channel,
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Dim::All => "all",
            Dim::Category => "category",
            Dim::Channel => "channel",
            Dim::Staff => "staff",
        }
    }
    pub(crate) fn parse(code: &str) -> Result<Self, KpiError> {
        Ok(match code {
            "all" => Dim::All,
            "category" => Dim::Category,
            "channel" => Dim::Channel,
            "staff" => Dim::Staff,
            other => {
                return Err(KpiError::Corrupt(format!(
                    "unknown KPI dimension {other:?}"
                )))
            }
        })
    }
}

/// The key of one aggregate row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub grain: Grain,
    pub bucket: i64,
    pub dim: Dim,
    pub station: String,
    pub division: String,
    pub key: String,
}

/// The rows a fact counts in, in every grain.
pub fn rows_of(fact: &Fact) -> impl Iterator<Item = RowKey> + '_ {
    // The dimensions as a copied array and a length, not a vector cloned per grain, and each
    // grain's bucket found once for all of them (a local day or month is a time-zone
    // conversion): the follower does this for every fact of every ticket a submit changes.
    let (dims, len): ([(Dim, &str); 3], usize) = if !fact.staff.is_empty() {
        ([(Dim::Staff, fact.staff.as_str()); 3], 1)
    } else {
        let dims = [
            (Dim::All, ""),
            (Dim::Channel, fact.channel.as_str()),
            (Dim::Category, fact.category.as_str()),
        ];
        (dims, if fact.category.is_empty() { 2 } else { 3 })
    };
    [Grain::Hour, Grain::Day, Grain::Month]
        .into_iter()
        .flat_map(move |grain| {
            let bucket = grain.bucket(fact.at_ms);
            // The totals row only where `Dim::totals` reads one.
            let skip = usize::from(dims[0].0 == Dim::All && Dim::totals(grain) != Dim::All);
            dims.into_iter()
                .take(len)
                .skip(skip)
                .map(move |(dim, key)| RowKey {
                    grain,
                    bucket,
                    dim,
                    station: fact.station.clone(),
                    division: fact.division.clone(),
                    key: key.to_owned(),
                })
        })
}

/// Adds `sign` × each fact to `deltas`.
pub fn accumulate(deltas: &mut HashMap<RowKey, Counts>, facts: &[Fact], sign: i64) {
    for fact in facts {
        for row in rows_of(fact) {
            deltas
                .entry(row)
                .or_default()
                .add(fact.metric, sign * fact.value);
        }
    }
}

/// What to sum: one dimension of one table over `[from, to)`, in a scope, grouped.
#[derive(Debug, Clone)]
pub struct SumQuery {
    pub grain: Grain,
    pub dim: Dim,
    pub from_ms: i64,
    pub to_ms: i64,
    pub scope: Scope,
    pub group: GroupColumn,
}

/// The column a sum is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupColumn {
    None,
    Station,
    Street,
    District,
    Key,
    Bucket,
}

impl GroupColumn {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            GroupColumn::None => "''",
            GroupColumn::Station => "station",
            GroupColumn::Street => "substr(division, 1, 9)",
            GroupColumn::District => "substr(division, 1, 6)",
            GroupColumn::Key => "key",
            GroupColumn::Bucket => "CAST(bucket AS TEXT)",
        }
    }
}

#[async_trait]
pub trait KpiStore: Send + Sync + std::fmt::Debug {
    /// One follower step, in one transaction: every ticket changed since the cursor gets its
    /// facts derived again and swapped into the aggregates; the cursor moves. Returns how many
    /// tickets it processed. Replicas' steps take turns (a row lock on PostgreSQL, the single
    /// writer on SQLite). `pace` spreads the step's statements ([`Pace`]); SQLite, whose one
    /// writer would hold every submit while the step paused, ignores it.
    async fn catch_up(&self, calendar: &WorkingCalendar, pace: Pace) -> Result<usize, KpiError>;

    /// The tickets changed since `cursor` in the store's commit order, and the cursor for now
    /// (`None`: start now, no tickets). For live event streams; read-only.
    async fn changes(&self, cursor: Option<&str>) -> Result<(Vec<String>, String), KpiError>;

    /// Sums of each metric per group.
    async fn sum(&self, query: &SumQuery) -> Result<Vec<(String, Counts)>, KpiError>;

    /// Live (not closed) tickets in a scope: held by a station inside it, or about a place
    /// inside it while in centre triage.
    async fn live_tickets(&self, scope: &Scope) -> Result<Vec<Ticket>, KpiError>;

    /// Every ticket's whole log, `limit` tickets at a time after the ticket id `after`, in id
    /// order (for a full recomputation).
    async fn logs_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<Event>)>, KpiError>;

    /// Every stored aggregate row with a non-zero count.
    async fn rows(&self) -> Result<BTreeMap<RowKey, Counts>, KpiError>;

    /// Deletes hourly rows older than `before` (the daily rows stay).
    async fn prune_hourly(&self, before: DateTime<Utc>) -> Result<u64, KpiError>;

    /// Tickets created in `[from, to)` per UTC hour, territory and category (tickets without
    /// either are left out), and when the store's first ticket was created: the history the
    /// hotspot baseline learns from.
    async fn intake_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<IntakeHour>, Option<DateTime<Utc>>), KpiError>;

    /// Tickets created at or after `from` with a territory and a category, oldest first: the
    /// calls a starting hotspot detector primes its windows with.
    async fn intake_since(&self, from: DateTime<Utc>) -> Result<Vec<Intake>, KpiError>;
}

/// The metrics' columns, comma-separated, in [`Metric::ALL`] order.
pub(crate) fn metric_columns() -> String {
    Metric::ALL
        .iter()
        .map(|m| m.column())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_pace_keeps_statements_to_its_share_of_the_step() {
        let quarter = Pace::share(0.25).unwrap();
        // 10 ms of statement, 30 ms of pause: statements are a quarter of the time.
        assert_eq!(
            quarter.pause_after(Duration::from_millis(10)),
            Duration::from_millis(30)
        );
        assert_eq!(quarter.rows_per_statement(5_000), PACED_ROWS);
        assert_eq!(quarter.rows_per_statement(200), 200);
        assert_eq!(
            Pace::FULL.pause_after(Duration::from_secs(1)),
            Duration::ZERO
        );
        assert_eq!(Pace::FULL.rows_per_statement(5_000), 5_000);
        for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let err = Pace::share(bad).unwrap_err().to_string();
            assert!(err.contains("kpi_db_share"), "{err}");
        }
    }

    fn fact(category: &str, staff: &str) -> Fact {
        Fact {
            at_ms: 1_772_413_200_000,
            metric: Metric::ALL[0],
            station: "320508-water".to_owned(),
            division: "320508".to_owned(),
            category: category.to_owned(),
            channel: "hotline".to_owned(),
            staff: staff.to_owned(),
            value: 1,
        }
    }

    fn dims(fact: &Fact, grain: Grain) -> Vec<Dim> {
        rows_of(fact)
            .filter(|row| row.grain == grain)
            .map(|row| row.dim)
            .collect()
    }

    #[test]
    fn totals_rows_are_written_for_whole_months_only() {
        let categorised = fact("SQ", "");
        assert_eq!(
            dims(&categorised, Grain::Hour),
            [Dim::Channel, Dim::Category]
        );
        assert_eq!(
            dims(&categorised, Grain::Day),
            [Dim::Channel, Dim::Category]
        );
        assert_eq!(
            dims(&categorised, Grain::Month),
            [Dim::All, Dim::Channel, Dim::Category]
        );
        let uncategorised = fact("", "");
        assert_eq!(dims(&uncategorised, Grain::Hour), [Dim::Channel]);
        assert_eq!(dims(&uncategorised, Grain::Month), [Dim::All, Dim::Channel]);
        let staff = fact("SQ", "op-7");
        for grain in [Grain::Hour, Grain::Day, Grain::Month] {
            assert_eq!(dims(&staff, grain), [Dim::Staff]);
        }
        // What a report sums for totals is what was written.
        for grain in [Grain::Hour, Grain::Day, Grain::Month] {
            assert!(dims(&categorised, grain).contains(&Dim::totals(grain)));
        }
    }
}
