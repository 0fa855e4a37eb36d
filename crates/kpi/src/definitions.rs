//! The metrics counted per hour and station, and the figures computed from them. The formulas
//! are `docs/kpis.md`'s; thresholds (red lines) and the weights of the composite score are
//! configuration ([`KpiConfig`], `--kpi-config`), never code.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::KpiError;

macro_rules! metrics {
    ($($variant:ident = $column:literal,)*) => {
        /// One counted quantity: a column of the aggregate tables.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Metric { $($variant,)* }

        impl Metric {
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];
            /// The column in `kpi_hourly` / `kpi_daily`.
            pub fn column(self) -> &'static str {
                match self { $(Metric::$variant => $column,)* }
            }
        }
    };
}

metrics! {
    // intake (no station yet): attributed to the submit's hour and the ticket's territory
    Accepted = "accepted",
    DirectAnswers = "direct_answers",
    HandedOff = "handed_off",
    NotAccepted = "not_accepted",
    Duplicates = "duplicates",
    // per dispatch round, in the dispatch's hour, at the receiving station
    Dispatched = "dispatched",
    SignedOnTime = "signed_on_time",
    ContactedOnTime = "contacted_on_time",
    ReturnsAccepted = "returns_accepted",
    Extended = "extended",
    // per resolution round, in the resolution deadline's hour, at the responsible station
    Due = "due",
    ResolvedOnTime = "resolved_on_time",
    // in the event's hour
    Closed = "closed",
    Replied = "replied",
    Redone = "redone",
    CallbacksReached = "callbacks_reached",
    Satisfied = "satisfied",
    HandlingCount = "handling_count",
    HandlingMinutes = "handling_minutes",
    // handling time histogram, working hours: <= 4, 8, 16, 24, 40, 80, 120, more
    HandlingLe4 = "h_le_4",
    HandlingLe8 = "h_le_8",
    HandlingLe16 = "h_le_16",
    HandlingLe24 = "h_le_24",
    HandlingLe40 = "h_le_40",
    HandlingLe80 = "h_le_80",
    HandlingLe120 = "h_le_120",
    HandlingMore = "h_more",
    // per staff member, in the action's hour
    StaffSigned = "staff_signed",
    StaffSignedOnTime = "staff_signed_on_time",
    StaffReplied = "staff_replied",
    StaffRepliedOnTime = "staff_replied_on_time",
    // intake, by the ticket's nature as it is now: consultations (咨询) recorded, and those
    // answered on the line from a knowledge article (migration 0011)
    Consultations = "consultations",
    KnowledgeAnswers = "knowledge_answers",
}

/// Upper bounds (working hours) of the handling-time histogram's buckets, in [`Metric`] order.
pub const HANDLING_BUCKETS: &[(f64, Metric)] = &[
    (4.0, Metric::HandlingLe4),
    (8.0, Metric::HandlingLe8),
    (16.0, Metric::HandlingLe16),
    (24.0, Metric::HandlingLe24),
    (40.0, Metric::HandlingLe40),
    (80.0, Metric::HandlingLe80),
    (120.0, Metric::HandlingLe120),
    (f64::INFINITY, Metric::HandlingMore),
];

/// The histogram bucket of a handling time.
pub fn handling_bucket(hours: f64) -> Metric {
    HANDLING_BUCKETS
        .iter()
        .find(|(le, _)| hours <= *le)
        .map(|(_, m)| *m)
        .unwrap_or(Metric::HandlingMore)
}

/// One value per [`Metric`], in `Metric::ALL` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts(pub Vec<i64>);

impl Default for Counts {
    fn default() -> Self {
        Self(vec![0; Metric::ALL.len()])
    }
}

impl Counts {
    pub fn get(&self, metric: Metric) -> i64 {
        self.0[metric as usize]
    }
    pub fn add(&mut self, metric: Metric, value: i64) {
        self.0[metric as usize] += value;
    }
    pub fn add_all(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// A ratio with its parts, so a reader can check it (24165/29186 = 82.8%).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    /// 0 when the denominator is 0.
    pub rate: f64,
    /// Under the configured red line (never when there is nothing to count).
    pub below_threshold: bool,
}

impl Ratio {
    fn of(numerator: i64, denominator: i64, threshold: Option<f64>, lower_is_better: bool) -> Self {
        let (n, d) = (numerator.max(0) as u64, denominator.max(0) as u64);
        let rate = if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let below_threshold =
            d > 0 && threshold.is_some_and(|t| if lower_is_better { rate > t } else { rate < t });
        Self {
            numerator: n,
            denominator: d,
            rate,
            below_threshold,
        }
    }
}

/// The figures of one scope and period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Figures {
    pub sign_for_on_time: Ratio,
    pub response: Ratio,
    pub resolved_on_time: Ratio,
    pub closure: Ratio,
    pub satisfaction: Ratio,
    pub redo: Ratio,
    pub returns: Ratio,
    pub extensions: Ratio,
    pub direct_answers: Ratio,
    /// 知识库命中率: consultations answered on the line from a knowledge article.
    pub knowledge_hits: Ratio,
    pub handling_hours_mean: f64,
    pub handling_hours_p90: f64,
    pub accepted: u64,
    pub dispatched: u64,
    pub replied: u64,
    pub closed: u64,
    /// The weighted composite of the rates, 0-100.
    pub score: f64,
}

impl Figures {
    /// The figures of `counts`. `per_staff`: the counts are a staff member's (their sign-for
    /// and reply figures stand in for the station's).
    pub fn compute(counts: &Counts, config: &KpiConfig, per_staff: bool) -> Self {
        use Metric as M;
        let t = &config.thresholds;
        let c = |m| counts.get(m);
        let (sign, resolved) = if per_staff {
            (
                Ratio::of(
                    c(M::StaffSignedOnTime),
                    c(M::StaffSigned),
                    t.sign_for_on_time,
                    false,
                ),
                Ratio::of(
                    c(M::StaffRepliedOnTime),
                    c(M::StaffReplied),
                    t.resolved_on_time,
                    false,
                ),
            )
        } else {
            (
                Ratio::of(
                    c(M::SignedOnTime),
                    c(M::Dispatched),
                    t.sign_for_on_time,
                    false,
                ),
                Ratio::of(c(M::ResolvedOnTime), c(M::Due), t.resolved_on_time, false),
            )
        };
        let handled = c(M::HandlingCount);
        let mut figures = Figures {
            sign_for_on_time: sign,
            response: Ratio::of(c(M::ContactedOnTime), c(M::Dispatched), t.response, false),
            resolved_on_time: resolved,
            closure: Ratio::of(c(M::Closed), c(M::Due), t.closure, false),
            satisfaction: Ratio::of(
                c(M::Satisfied),
                c(M::CallbacksReached),
                t.satisfaction,
                false,
            ),
            redo: Ratio::of(c(M::Redone), c(M::Replied), t.redo, true),
            returns: Ratio::of(c(M::ReturnsAccepted), c(M::Dispatched), t.returns, true),
            extensions: Ratio::of(c(M::Extended), c(M::Dispatched), t.extensions, true),
            direct_answers: Ratio::of(c(M::DirectAnswers), c(M::Accepted), None, false),
            knowledge_hits: Ratio::of(
                c(M::KnowledgeAnswers),
                c(M::Consultations),
                t.knowledge_hits,
                false,
            ),
            handling_hours_mean: if handled > 0 {
                c(M::HandlingMinutes) as f64 / 60.0 / handled as f64
            } else {
                0.0
            },
            handling_hours_p90: p90(counts),
            accepted: c(M::Accepted).max(0) as u64,
            dispatched: c(M::Dispatched).max(0) as u64,
            replied: c(M::Replied).max(0) as u64,
            closed: c(M::Closed).max(0) as u64,
            score: 0.0,
        };
        figures.score = config.weights.score(&figures);
        figures
    }
}

/// The upper bound of the histogram bucket that holds the 90th percentile (a bound, not an
/// interpolation: the report says "90% within N working hours").
fn p90(counts: &Counts) -> f64 {
    let total: i64 = HANDLING_BUCKETS.iter().map(|(_, m)| counts.get(*m)).sum();
    if total <= 0 {
        return 0.0;
    }
    let mut seen = 0;
    for (le, metric) in HANDLING_BUCKETS {
        seen += counts.get(*metric);
        // seen / total >= 0.9, in integers.
        if seen * 10 >= total * 9 {
            return if le.is_finite() { *le } else { 120.0 };
        }
    }
    120.0
}

/// Red lines: a rate under its threshold (over, for redo, returns and extensions) is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub sign_for_on_time: Option<f64>,
    pub response: Option<f64>,
    pub resolved_on_time: Option<f64>,
    pub closure: Option<f64>,
    pub satisfaction: Option<f64>,
    pub redo: Option<f64>,
    pub returns: Option<f64>,
    pub extensions: Option<f64>,
    /// 知识库命中率; no red line unless a centre sets one.
    pub knowledge_hits: Option<f64>,
}

impl Default for Thresholds {
    /// Lines a centre commonly scores against; each centre sets its own.
    fn default() -> Self {
        Self {
            sign_for_on_time: Some(0.95),
            response: Some(0.95),
            resolved_on_time: Some(0.90),
            closure: Some(0.90),
            satisfaction: Some(0.85),
            redo: Some(0.05),
            returns: Some(0.05),
            extensions: Some(0.10),
            knowledge_hits: None,
        }
    }
}

/// Weights of the composite score (Jiangsu's monthly scoring weighs sign-for, on-time
/// resolution and satisfaction; the defaults follow that shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub sign_for_on_time: f64,
    pub response: f64,
    pub resolved_on_time: f64,
    pub satisfaction: f64,
    /// Counted as (1 - redo rate).
    pub redo: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            sign_for_on_time: 0.2,
            response: 0.1,
            resolved_on_time: 0.3,
            satisfaction: 0.3,
            redo: 0.1,
        }
    }
}

impl Weights {
    /// 0-100 over the parts that have a denominator (a station with no callbacks yet is not
    /// scored zero on satisfaction).
    fn score(&self, f: &Figures) -> f64 {
        let parts = [
            (self.sign_for_on_time, f.sign_for_on_time, false),
            (self.response, f.response, false),
            (self.resolved_on_time, f.resolved_on_time, false),
            (self.satisfaction, f.satisfaction, false),
            (self.redo, f.redo, true),
        ];
        let (mut sum, mut weight) = (0.0, 0.0);
        for (w, ratio, inverse) in parts {
            if ratio.denominator == 0 || w <= 0.0 {
                continue;
            }
            sum += w * if inverse {
                1.0 - ratio.rate
            } else {
                ratio.rate
            };
            weight += w;
        }
        if weight == 0.0 {
            0.0
        } else {
            100.0 * sum / weight
        }
    }
}

/// The centre's KPI settings (`--kpi-config FILE`, JSON; every field optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KpiConfig {
    pub thresholds: Thresholds,
    pub weights: Weights,
    /// Hourly aggregates are kept this long (older partial days are answered by whole days).
    pub hourly_retention_days: Option<u32>,
    /// The longest period a query may span.
    pub retention_days: Option<u32>,
}

impl KpiConfig {
    /// A week and a day: hourly rows are the most numerous (about one per fact, since a
    /// station rarely has two events in one hour), and only the edges of recent periods need
    /// them; older periods are answered in whole days.
    pub const DEFAULT_HOURLY_RETENTION_DAYS: u32 = 8;
    pub const DEFAULT_RETENTION_DAYS: u32 = 3 * 366;

    pub fn load(path: &Path) -> Result<Self, KpiError> {
        let raw = std::fs::read_to_string(path).map_err(|e| KpiError::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        serde_json::from_str(&raw).map_err(|e| KpiError::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn hourly_retention_days(&self) -> u32 {
        self.hourly_retention_days
            .unwrap_or(Self::DEFAULT_HOURLY_RETENTION_DAYS)
    }

    pub fn retention_days(&self) -> u32 {
        self.retention_days.unwrap_or(Self::DEFAULT_RETENTION_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p90_is_the_bound_of_the_bucket_reaching_ninety_percent() {
        let mut counts = Counts::default();
        counts.add(Metric::HandlingLe4, 8);
        counts.add(Metric::HandlingLe16, 1);
        counts.add(Metric::HandlingMore, 1);
        assert_eq!(p90(&counts), 16.0);
        counts.add(Metric::HandlingMore, 1);
        assert_eq!(p90(&counts), 120.0);
    }

    #[test]
    fn thresholds_flag_low_rates_and_high_return_rates() {
        let config = KpiConfig::default();
        let mut counts = Counts::default();
        counts.add(Metric::Dispatched, 10);
        counts.add(Metric::SignedOnTime, 9);
        counts.add(Metric::ReturnsAccepted, 1);
        let f = Figures::compute(&counts, &config, false);
        assert_eq!(
            (f.sign_for_on_time.numerator, f.sign_for_on_time.denominator),
            (9, 10)
        );
        assert!(f.sign_for_on_time.below_threshold, "90% < 95%");
        assert!(f.returns.below_threshold, "10% returns > 5%");
        assert!(
            !f.satisfaction.below_threshold,
            "no callbacks: nothing to flag"
        );
        // Sign-for (90%, weight 0.2) and response (0 of 10 contacted, weight 0.1) have a
        // denominator; the other scored parts are left out: (0.2 * 0.9 + 0.1 * 0) / 0.3.
        assert!((f.score - 60.0).abs() < 1e-9, "{}", f.score);
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let err = serde_json::from_str::<KpiConfig>(r#"{"thresholds":{"signed":0.9}}"#);
        assert!(err.is_err());
    }
}
