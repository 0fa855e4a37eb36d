//! [`Kpis`], the service behind `GetKpis` and `ListAtRisk`: figures by scope, period and group
//! from the aggregates (whole local days from the daily table, the edges from the hourly one),
//! the backlog now, and the tickets about to breach.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use hotline_core::{Stage, Ticket};
use hotline_sla::WorkingCalendar;

use crate::definitions::{Counts, Figures, KpiConfig};
use crate::follower::Follower;
use crate::scope::{local_midnight, GroupBy, Period, Scope};
use crate::store::{Dim, Grain, GroupColumn, KpiStore, SumQuery};
use crate::KpiError;

/// One running deadline of a live ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningClock {
    /// `sign_for`, `first_contact`, `resolution` or `callback`.
    pub clock: &'static str,
    pub due: DateTime<Utc>,
    /// When the yellow light comes on (None: no warning for this clock).
    pub warning: Option<DateTime<Utc>>,
}

/// What the KPIs need from the engine: the time, the calendar in force, and a ticket's running
/// clocks with their warning times (the SLA policy's, which this crate does not own).
pub trait Clocks: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn calendar(&self) -> Arc<WorkingCalendar>;
    fn running(&self, ticket: &Ticket) -> Vec<RunningClock>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiRow {
    /// Station id, division code, category, channel, staff id or local date (YYYY-MM-DD).
    pub key: String,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Backlog {
    /// (stage code, live tickets), in lifecycle order; stages with none left out.
    pub by_stage: Vec<(String, u64)>,
    /// (age band in working days, live tickets).
    pub by_age: Vec<(String, u64)>,
    pub overdue_now: u64,
    pub about_to_breach: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiReport {
    pub period: Period,
    pub total: Figures,
    pub rows: Vec<KpiRow>,
    pub backlog: Backlog,
    pub notes: Vec<String>,
}

/// A live ticket past a running deadline, or within its warning lead.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRisk {
    pub ticket: Ticket,
    pub clock: &'static str,
    pub due: DateTime<Utc>,
    pub overdue: bool,
    pub seconds_left: i64,
}

/// Age bands of the backlog, in working days since the request was recorded.
const AGE_BANDS: &[(f64, &str)] = &[
    (1.0, "0-1"),
    (3.0, "1-3"),
    (5.0, "3-5"),
    (10.0, "5-10"),
    (f64::INFINITY, "10+"),
];

#[derive(Clone)]
pub struct Kpis {
    store: Arc<dyn KpiStore>,
    clocks: Arc<dyn Clocks>,
    follower: Follower,
    config: Arc<KpiConfig>,
}

impl Kpis {
    pub fn new(store: Arc<dyn KpiStore>, clocks: Arc<dyn Clocks>, config: KpiConfig) -> Self {
        let follower = Follower::new(
            store.clone(),
            clocks.clone(),
            chrono::Duration::days(i64::from(config.hourly_retention_days())),
        );
        Self {
            store,
            clocks,
            follower,
            config: Arc::new(config),
        }
    }

    pub fn follower(&self) -> &Follower {
        &self.follower
    }

    pub fn config(&self) -> &KpiConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn KpiStore> {
        &self.store
    }

    /// A period from optional bounds: `to` defaults to now, `from` to the start of `to`'s local
    /// day. Checked against the retention.
    pub fn period(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Period, KpiError> {
        let now = self.clocks.now();
        match (from, to) {
            (None, None) => Ok(Period::today(now)),
            (from, to) => {
                let to = to.unwrap_or(now);
                let from = from.unwrap_or_else(|| local_midnight(to));
                Period::new(from, to, self.config.retention_days())
            }
        }
    }

    /// The figures of `scope` over `period`, split by `group`, with the backlog now. The
    /// aggregates are brought up to date first, so a report includes every committed change.
    pub async fn report(
        &self,
        scope: &Scope,
        period: Period,
        group: GroupBy,
    ) -> Result<KpiReport, KpiError> {
        self.follower.step().await?;
        let mut notes = self.calendar_notes(&period);
        let (segments, widened) = self.segments(&period, group == GroupBy::Day);
        if widened {
            notes.push(format!(
                "hourly figures are kept {} days: the period's edges before then are counted as \
                 whole days",
                self.config.hourly_retention_days()
            ));
        }
        let totals = self
            .sum(scope, &segments, Dim::All, GroupColumn::None)
            .await?;
        let total = totals.into_values().next().unwrap_or_default();
        let per_staff = group == GroupBy::Staff;
        let rows = match group {
            GroupBy::None => Vec::new(),
            _ => {
                let (dim, column) = match group {
                    GroupBy::Station => (Dim::All, GroupColumn::Station),
                    GroupBy::Street => (Dim::All, GroupColumn::Street),
                    GroupBy::District => (Dim::All, GroupColumn::District),
                    GroupBy::Category => (Dim::Category, GroupColumn::Key),
                    GroupBy::Channel => (Dim::Channel, GroupColumn::Key),
                    GroupBy::Staff => (Dim::Staff, GroupColumn::Key),
                    GroupBy::Day | GroupBy::None => (Dim::All, GroupColumn::Bucket),
                };
                self.sum(scope, &segments, dim, column)
                    .await?
                    .into_iter()
                    .map(|(key, counts)| KpiRow {
                        key,
                        figures: Figures::compute(&counts, &self.config, per_staff),
                    })
                    .collect()
            }
        };
        let backlog = self.backlog(scope).await?;
        Ok(KpiReport {
            period,
            total: Figures::compute(&total, &self.config, false),
            rows,
            backlog,
            notes,
        })
    }

    /// The period's pieces (months, days, edge hours), with edge hours older than the hourly
    /// retention widened to their whole days (true when any was).
    fn segments(&self, period: &Period, by_day: bool) -> (Vec<(Grain, i64, i64)>, bool) {
        let kept_since = self.clocks.now()
            - chrono::Duration::days(i64::from(self.config.hourly_retention_days()));
        let mut widened = false;
        let mut out = Vec::new();
        for (grain, from, to) in period.segments(by_day) {
            let (grain, from, to) = if grain == Grain::Hour && from < kept_since {
                widened = true;
                (Grain::Day, local_midnight(from), ceil_local_day(to))
            } else {
                (grain, from, to)
            };
            out.push((grain, from.timestamp_millis(), to.timestamp_millis()));
        }
        (out, widened)
    }

    /// Sums over the period's pieces. Grouped by bucket, every bucket is folded into its local
    /// day and keys become dates.
    async fn sum(
        &self,
        scope: &Scope,
        segments: &[(Grain, i64, i64)],
        dim: Dim,
        group: GroupColumn,
    ) -> Result<BTreeMap<String, Counts>, KpiError> {
        let mut out: BTreeMap<String, Counts> = BTreeMap::new();
        for &(grain, from_ms, to_ms) in segments {
            // Totals are rows of their own in whole months only (`Dim::totals`).
            let dim = if dim == Dim::All {
                Dim::totals(grain)
            } else {
                dim
            };
            let rows = self
                .store
                .sum(&SumQuery {
                    grain,
                    dim,
                    from_ms,
                    to_ms,
                    scope: scope.clone(),
                    group,
                })
                .await?;
            for (key, counts) in rows {
                let key = if group == GroupColumn::Bucket {
                    let ms: i64 = key
                        .parse()
                        .map_err(|e| KpiError::Corrupt(format!("bucket {key:?}: {e}")))?;
                    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
                    at.with_timezone(&chrono_tz::Asia::Shanghai)
                        .format("%Y-%m-%d")
                        .to_string()
                } else {
                    key
                };
                out.entry(key).or_default().add_all(&counts);
            }
        }
        if group == GroupColumn::None && out.is_empty() {
            out.insert(String::new(), Counts::default());
        }
        Ok(out)
    }

    /// Which years of the period have no published holiday notice.
    fn calendar_notes(&self, period: &Period) -> Vec<String> {
        let calendar = self.clocks.calendar();
        let mut notes = Vec::new();
        let (first, last) = (
            period.from.with_timezone(&chrono_tz::Asia::Shanghai).year(),
            period.to.with_timezone(&chrono_tz::Asia::Shanghai).year(),
        );
        for year in first..=last {
            if calendar.published_years().contains(&year) {
                continue;
            }
            if calendar.provisional_years().contains(&year) {
                notes.push(format!(
                    "{year}: the State Council's holiday notice is not loaded; deadlines in {year} \
                     are provisional (statutory holidays, no 调休) and so are the on-time figures"
                ));
            } else {
                notes.push(format!(
                    "{year}: no holiday calendar for this year; deadlines falling in it were not \
                     set and are not counted"
                ));
            }
        }
        notes
    }

    /// Live tickets of the scope by stage and by age, overdue now and about to breach.
    pub async fn backlog(&self, scope: &Scope) -> Result<Backlog, KpiError> {
        let tickets = self.store.live_tickets(scope).await?;
        let now = self.clocks.now();
        let calendar = self.clocks.calendar();
        let day = calendar
            .office_hours()
            .length_of_day()
            .num_milliseconds()
            .max(1) as f64;
        let mut stages: HashMap<Stage, u64> = HashMap::new();
        let mut ages = vec![0u64; AGE_BANDS.len()];
        let (mut overdue, mut warning) = (0, 0);
        for ticket in &tickets {
            *stages.entry(ticket.stage).or_default() += 1;
            let worked = calendar
                .working_time_between(ticket.created_at, now)
                .map(|d| d.num_milliseconds() as f64 / day)
                .unwrap_or(0.0);
            let band = AGE_BANDS
                .iter()
                .position(|(le, _)| worked < *le)
                .unwrap_or(AGE_BANDS.len() - 1);
            ages[band] += 1;
            match risk_of(&self.clocks.running(ticket), now) {
                Some((_, true)) => overdue += 1,
                Some((_, false)) => warning += 1,
                None => {}
            }
        }
        Ok(Backlog {
            by_stage: Stage::ALL
                .iter()
                .filter_map(|s| stages.get(s).map(|n| (s.code().to_owned(), *n)))
                .collect(),
            by_age: AGE_BANDS
                .iter()
                .zip(ages)
                .map(|((_, band), n)| ((*band).to_owned(), n))
                .collect(),
            overdue_now: overdue,
            about_to_breach: warning,
        })
    }

    /// Live tickets past a running deadline or within its warning lead, most urgent first.
    pub async fn at_risk(&self, scope: &Scope, limit: usize) -> Result<Vec<AtRisk>, KpiError> {
        let now = self.clocks.now();
        let mut out = Vec::new();
        for ticket in self.store.live_tickets(scope).await? {
            let running = self.clocks.running(&ticket);
            if let Some((clock, overdue)) = risk_of(&running, now) {
                out.push(AtRisk {
                    clock: clock.clock,
                    due: clock.due,
                    overdue,
                    seconds_left: (clock.due - now).num_seconds(),
                    ticket,
                });
            }
        }
        out.sort_by_key(|r| (r.due, r.ticket.id.to_string()));
        out.truncate(limit);
        Ok(out)
    }
}

/// The first local midnight at or after `at`.
fn ceil_local_day(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = local_midnight(at);
    if down == at {
        at
    } else {
        local_midnight(down + chrono::Duration::hours(36))
    }
}

/// The most pressing clock at risk: overdue (past due) or warned (past its warning time).
fn risk_of(clocks: &[RunningClock], now: DateTime<Utc>) -> Option<(RunningClock, bool)> {
    clocks
        .iter()
        .filter_map(|c| {
            if c.due <= now {
                Some((c.clone(), true))
            } else if c.warning.is_some_and(|w| w <= now) {
                Some((c.clone(), false))
            } else {
                None
            }
        })
        .min_by_key(|(c, _)| c.due)
}
