//! When requests come in and what they are.
//!
//! The number of requests per day is the scenario's (`per_day` on a working day, times
//! `non_working_day_factor` on weekends and holidays, by the engine's calendar): only their
//! times, channels, categories, natures and places are drawn, so a planner's "30,000 a day"
//! is exactly 30,000. Times follow the hour-of-day curve, uniformly inside each hour.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use hotline_core::{CategoryCode, Channel, DivisionCode, Nature, Urgency};
use hotline_directory::{Directory, Level};
use hotline_sla::WorkingCalendar;
use rand::Rng;

use crate::SimulateError;

/// A 12345 day, hour by hour (local time, weights): quiet from midnight to six, a morning peak
/// at ten, a lunch dip, an afternoon peak at three, a long evening tail. A local choice with the
/// shape of published 12345 hourly call profiles; scenarios give their own with `hourly`.
pub const DEFAULT_HOURLY: [f64; 24] = [
    0.8, 0.5, 0.35, 0.3, 0.3, 0.5, 1.2, 2.8, 5.6, 7.6, 7.8, 6.8, 5.0, 5.4, 6.9, 7.1, 6.6, 5.8, 4.6,
    4.2, 3.8, 3.2, 2.2, 1.4,
];

/// Calls on a weekend or holiday, relative to a working day (a local choice: the line is open,
/// fewer people call).
pub const NON_WORKING_DAY_FACTOR: f64 = 0.6;

/// Channels by default: mostly the phone line, then the web and the app (a local choice).
pub fn default_channels() -> Vec<(Channel, f64)> {
    vec![
        (Channel::Hotline, 0.75),
        (Channel::Web, 0.12),
        (Channel::App, 0.08),
        (Channel::Kiosk, 0.03),
        (Channel::DigitalTv, 0.02),
    ]
}

/// Natures by default: help and complaints most (a local choice).
pub fn default_natures() -> Vec<(Nature, f64)> {
    vec![
        (Nature::Help, 0.55),
        (Nature::Complaint, 0.25),
        (Nature::Consult, 0.12),
        (Nature::Report, 0.05),
        (Nature::Suggestion, 0.03),
    ]
}

/// The arrival model of a scenario.
#[derive(Debug, Clone)]
pub struct Arrivals {
    pub per_day: f64,
    pub non_working_day_factor: f64,
    pub hourly: [f64; 24],
    pub channels: Vec<(Channel, f64)>,
    pub categories: Vec<(CategoryCode, f64)>,
    pub natures: Vec<(Nature, f64)>,
    pub urgent_share: f64,
    /// Communities and their weights.
    pub territory: Vec<(DivisionCode, f64)>,
    /// Scripted arrivals, besides `per_day`.
    pub times: Vec<DateTime<Utc>>,
}

/// One request as the simulated caller makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Its number in the run (0, 1, ... in arrival order).
    pub serial: u64,
    /// The random stream its fate is drawn from: fixed by where it came from (the usual
    /// arrivals or a surge) and its place there, so adding a surge changes no other ticket.
    pub stream: u64,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub category: CategoryCode,
    pub nature: Nature,
    pub urgency: Urgency,
    pub community: DivisionCode,
}

/// Draws from a list of weighted items (cumulative weights, binary search).
#[derive(Debug, Clone)]
pub struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Clone> Weighted<T> {
    /// `None` when nothing has weight.
    pub fn new(items: &[(T, f64)]) -> Option<Self> {
        let mut total = 0.0;
        let mut out = Vec::new();
        let mut cumulative = Vec::new();
        for (item, w) in items {
            if *w > 0.0 {
                total += w;
                out.push(item.clone());
                cumulative.push(total);
            }
        }
        (total > 0.0).then_some(Self {
            items: out,
            cumulative,
        })
    }

    pub fn draw(&self, rng: &mut impl Rng) -> T {
        let total = *self.cumulative.last().expect("non-empty");
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        self.items[i.min(self.items.len() - 1)].clone()
    }
}

/// The communities under each division (all communities for `None`), each division's weight
/// spread evenly over its communities: districts weigh by their number of communities.
pub fn communities_under(
    directory: &Directory,
    divisions: &[(Option<DivisionCode>, f64)],
) -> Vec<(DivisionCode, f64)> {
    let mut out: BTreeMap<DivisionCode, f64> = BTreeMap::new();
    for (division, weight) in divisions {
        let inside: Vec<&DivisionCode> = directory
            .divisions_at(Level::Community)
            .map(|d| &d.code)
            .filter(|c| {
                division
                    .as_ref()
                    .is_none_or(|d| c.as_str().starts_with(d.as_str()))
            })
            .collect();
        if inside.is_empty() {
            continue;
        }
        let each = weight / inside.len() as f64;
        for c in inside {
            *out.entry(c.clone()).or_default() += each;
        }
    }
    out.into_iter().collect()
}

/// The category mix of the labelled messages (`civic/train.csv` under the shared data: the
/// first-level subject of each message), mapped to the taxonomy's first-level codes. Read at run
/// time: the file's licence does not let the project ship it or figures copied from it.
pub fn labelled_categories(
    shared_data: &Path,
    taxonomy: &hotline_classify::Taxonomy,
    key: &str,
) -> Result<Vec<(CategoryCode, f64)>, SimulateError> {
    let path = shared_data.join("civic/train.csv");
    let data_error = |message: String| SimulateError::Data {
        path: path.display().to_string(),
        message,
    };
    let mut reader = csv::Reader::from_path(&path).map_err(|e| {
        data_error(format!(
            "{e}; the default of {key} is the labelled messages' mix: give --shared-data, or set {key} to a table of category codes and weights"
        ))
    })?;
    let headers = reader
        .headers()
        .map_err(|e| data_error(e.to_string()))?
        .clone();
    let label = headers
        .iter()
        .position(|h| h == "label")
        .ok_or_else(|| data_error("no `label` column".into()))?;
    let mut counts: BTreeMap<CategoryCode, f64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| data_error(e.to_string()))?;
        let name = record.get(label).unwrap_or_default();
        let category = taxonomy
            .resolve(name)
            .map_err(|e| data_error(format!("label {name:?}: {e}")))?;
        *counts.entry(category.code.clone()).or_default() += 1.0;
    }
    if counts.is_empty() {
        return Err(data_error("no labelled messages".into()));
    }
    Ok(counts.into_iter().collect())
}

/// Samplers built once per run.
pub struct Draw {
    channels: Weighted<Channel>,
    categories: Weighted<CategoryCode>,
    natures: Weighted<Nature>,
    territory: Weighted<DivisionCode>,
    urgent_share: f64,
}

impl Draw {
    pub fn new(arrivals: &Arrivals) -> Result<Self, SimulateError> {
        let none =
            |what: &str| SimulateError::Invalid(format!("arrivals.{what}: nothing to draw from"));
        Ok(Self {
            channels: Weighted::new(&arrivals.channels).ok_or_else(|| none("channels"))?,
            categories: Weighted::new(&arrivals.categories).ok_or_else(|| none("categories"))?,
            natures: Weighted::new(&arrivals.natures).ok_or_else(|| none("natures"))?,
            territory: Weighted::new(&arrivals.territory).ok_or_else(|| none("territory"))?,
            urgent_share: arrivals.urgent_share,
        })
    }

    /// A request at `at`; `category` and `communities` fixed by a surge.
    pub fn request(
        &self,
        stream: u64,
        at: DateTime<Utc>,
        rng: &mut impl Rng,
        surge: Option<(&CategoryCode, &[DivisionCode])>,
    ) -> Request {
        let channel = self.channels.draw(rng);
        let nature = self.natures.draw(rng);
        let urgency = if rng.random::<f64>() < self.urgent_share {
            Urgency::Urgent
        } else {
            Urgency::Normal
        };
        let (category, community) = match surge {
            Some((category, communities)) if !communities.is_empty() => (
                category.clone(),
                communities[rng.random_range(0..communities.len())].clone(),
            ),
            Some((category, _)) => (category.clone(), self.territory.draw(rng)),
            None => (self.categories.draw(rng), self.territory.draw(rng)),
        };
        Request {
            serial: 0,
            stream,
            at,
            channel,
            category,
            nature,
            urgency,
            community,
        }
    }
}

/// The arrival instants of one local day: `count` of them, by the hour-of-day curve.
pub fn times_of_day(
    day_start: DateTime<Utc>,
    count: u64,
    hourly: &[f64; 24],
    rng: &mut impl Rng,
) -> Vec<DateTime<Utc>> {
    let hours: Vec<(u32, f64)> = (0..24u32).zip(hourly.iter().copied()).collect();
    let Some(hour) = Weighted::new(&hours) else {
        return Vec::new();
    };
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .map(|_| {
            let h = hour.draw(rng);
            let ms = rng.random_range(0..3_600_000i64);
            day_start + Duration::hours(i64::from(h)) + Duration::milliseconds(ms)
        })
        .collect();
    times.sort();
    times
}

/// How many requests a local day gets.
pub fn count_of_day(arrivals: &Arrivals, calendar: &WorkingCalendar, day: NaiveDate) -> u64 {
    let working = calendar.is_working_day(day).unwrap_or(true);
    let factor = if working {
        1.0
    } else {
        arrivals.non_working_day_factor
    };
    (arrivals.per_day * factor).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weighted_draws_follow_the_weights_and_skip_zero_weights() {
        let w = Weighted::new(&[("a", 1.0), ("b", 0.0), ("c", 3.0)]).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut seen = BTreeMap::new();
        for _ in 0..40_000 {
            *seen.entry(w.draw(&mut rng)).or_insert(0u32) += 1;
        }
        assert!(!seen.contains_key("b"));
        let share_c = f64::from(seen["c"]) / 40_000.0;
        assert!((share_c - 0.75).abs() < 0.01, "{share_c}");
    }

    #[test]
    fn districts_weigh_by_their_number_of_communities() {
        let directory = Directory::suzhou();
        let all = communities_under(&directory, &[(None, 1.0)]);
        assert_eq!(all.len(), directory.count_at(Level::Community));
        let gusu = DivisionCode::parse("d", "320508").unwrap();
        let only = communities_under(&directory, &[(Some(gusu), 1.0)]);
        assert!(only.iter().all(|(c, _)| c.as_str().starts_with("320508")));
        let total: f64 = only.iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}
