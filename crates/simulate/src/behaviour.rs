//! Station staff and how long things take.
//!
//! # The staff model
//! A station has a number of staff members (by its kind, `[staff]`), each doing one task at a
//! time and only in office hours on working days of the engine's calendar (a task left at the
//! close of the day goes on the next working morning). There are two tasks:
//! - **sign for** (`sign_for`, staff work): the member takes the next ticket off the station's
//!   queue *in the engine's order* (it claims, then signs for it, and calls the caller);
//! - **reply** (`handle`, staff work): writing up a case that is ready.
//!
//! Signing comes first (its clock is short and scored). Between the two, a case takes
//! `resolve` of clock time (the work outside the office: site visits, other departments,
//! waiting on the caller): that is the delay the real reply times measure. So staff numbers
//! decide how long tickets wait to be signed for and replied to; `resolve` decides the rest.
//!
//! A share of signed tickets is returned (退单; the centre accepts it and sends the ticket to
//! the district's 12345 office), a share asks for an extension of `extension_days` working
//! days (the case then takes that much longer), and a share of callbacks is dissatisfied and
//! judged reasonable (重办: back to the station to sign for again; once per ticket).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDateTime};
use hotline_directory::{Level, StationKind};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::duration;
use crate::SimulateError;

/// Staff members per station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staffing {
    pub default: u32,
    /// By kind, at one level or (level `None`) at every level that has the kind.
    pub by_kind: BTreeMap<(Option<Level>, StationKind), u32>,
}

impl Default for Staffing {
    fn default() -> Self {
        Self {
            default: 3,
            by_kind: BTreeMap::new(),
        }
    }
}

impl Staffing {
    /// Members at a station of `kind` at `level`: the level's own entry, else the kind's, else
    /// the default.
    pub fn of(&self, level: Level, kind: StationKind) -> u32 {
        self.by_kind
            .get(&(Some(level), kind))
            .or_else(|| self.by_kind.get(&(None, kind)))
            .copied()
            .unwrap_or(self.default)
    }

    /// The scenario's way of writing a kind.
    pub fn key(level: Option<Level>, kind: StationKind) -> String {
        match level {
            Some(level) => format!("{}:{}", level.code(), kind.code()),
            None => kind.code().to_owned(),
        }
    }
}

/// A distribution of durations.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Fixed(Duration),
    Exponential { mean: Duration },
    LogNormal { median: Duration, sigma: f64 },
    Uniform { min: Duration, max: Duration },
}

impl Dist {
    /// From a scenario table: `{ dist = "fixed", value = "30 min" }`, `{ dist = "exponential",
    /// mean = "2 h" }`, `{ dist = "lognormal", median = "3 d", sigma = 1.2 }`, `{ dist =
    /// "uniform", min = "10 min", max = "1 h" }`. The message says why one cannot be sampled.
    pub fn from_table(table: &toml::Table) -> Result<Self, String> {
        let kind = table
            .get("dist")
            .and_then(|v| v.as_str())
            .ok_or("name the distribution: dist = \"fixed\", \"exponential\", \"lognormal\" or \"uniform\"")?;
        let allowed: &[&str] = match kind {
            "fixed" => &["dist", "value"],
            "exponential" => &["dist", "mean"],
            "lognormal" => &["dist", "median", "sigma"],
            "uniform" => &["dist", "min", "max"],
            other => {
                return Err(format!(
                "{other:?} is not a distribution (one of: fixed, exponential, lognormal, uniform)"
            ))
            }
        };
        if let Some(extra) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "a {kind} distribution has no {extra:?} (it takes: {})",
                allowed.join(", ")
            ));
        }
        let duration = |key: &str| -> Result<Duration, String> {
            let raw = table
                .get(key)
                .ok_or_else(|| format!("a {kind} distribution needs {key}"))?;
            let raw = raw
                .as_str()
                .ok_or_else(|| format!("{key} is a duration such as \"30 min\""))?;
            duration::parse(raw).map_err(|e| format!("{key}: {e}"))
        };
        let dist = match kind {
            "fixed" => Dist::Fixed(duration("value")?),
            "exponential" => Dist::Exponential {
                mean: duration("mean")?,
            },
            "lognormal" => {
                let sigma = table
                    .get("sigma")
                    .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                    .ok_or(
                        "a lognormal distribution needs sigma (the spread of the log, e.g. 0.8)",
                    )?;
                Dist::LogNormal {
                    median: duration("median")?,
                    sigma,
                }
            }
            _ => Dist::Uniform {
                min: duration("min")?,
                max: duration("max")?,
            },
        };
        dist.check()?;
        Ok(dist)
    }

    /// Whether it can be sampled, and why not.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Dist::Fixed(_) => Ok(()),
            Dist::Exponential { mean } if *mean <= Duration::zero() => {
                Err("an exponential distribution needs a mean above 0".into())
            }
            Dist::Exponential { .. } => Ok(()),
            Dist::LogNormal { median, .. } if *median <= Duration::zero() => {
                Err("a lognormal distribution needs a median above 0".into())
            }
            Dist::LogNormal { sigma, .. } if !sigma.is_finite() || *sigma < 0.0 => Err(format!(
                "sigma {sigma} cannot be sampled: give a number 0 or more"
            )),
            Dist::LogNormal { .. } => Ok(()),
            Dist::Uniform { min, max } if min > max => Err(format!(
                "min ({}) is above max ({}): nothing to sample",
                duration::format(*min),
                duration::format(*max)
            )),
            Dist::Uniform { .. } => Ok(()),
        }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        let ms = |d: &Duration| d.num_milliseconds() as f64;
        let out = match self {
            Dist::Fixed(d) => return *d,
            Dist::Exponential { mean } => {
                Exp::new(1.0 / ms(mean)).map_or(ms(mean), |e| e.sample(rng))
            }
            Dist::LogNormal { median, sigma } => {
                LogNormal::new(ms(median).ln(), *sigma).map_or(ms(median), |d| d.sample(rng))
            }
            Dist::Uniform { min, max } => {
                if min == max {
                    return *min;
                }
                rng.random_range(ms(min)..ms(max))
            }
        };
        // A year at most: a draw from a long tail stays a number the calendar can count.
        Duration::milliseconds(out.clamp(0.0, 365.0 * 86_400_000.0) as i64)
    }

    pub fn describe(&self) -> String {
        match self {
            Dist::Fixed(d) => format!("fixed {}", duration::format(*d)),
            Dist::Exponential { mean } => format!("exponential, mean {}", duration::format(*mean)),
            Dist::LogNormal { median, sigma } => {
                format!(
                    "lognormal, median {}, sigma {sigma:.3}",
                    duration::format(*median)
                )
            }
            Dist::Uniform { min, max } => format!(
                "uniform {} - {}",
                duration::format(*min),
                duration::format(*max)
            ),
        }
    }
}

/// The behaviour model of a scenario.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub sign_for: Dist,
    pub handle: Dist,
    pub resolve: Dist,
    pub returns: f64,
    pub extensions: f64,
    pub extension_days: u32,
    pub dissatisfied: f64,
    /// The centre's turnaround: a reply reviewed, a return or extension decided.
    pub review: Duration,
    /// From the reply's approval to the callback.
    pub callback: Duration,
}

impl Behaviour {
    /// Defaults other than `resolve` (which is fitted to data). Local choices, written in the
    /// README; a centre gives its own.
    pub fn defaults() -> Self {
        Self {
            sign_for: Dist::LogNormal {
                median: Duration::minutes(10),
                sigma: 0.6,
            },
            handle: Dist::LogNormal {
                median: Duration::minutes(30),
                sigma: 0.7,
            },
            resolve: Dist::Fixed(Duration::days(1)),
            returns: 0.02,
            extensions: 0.05,
            extension_days: 5,
            dissatisfied: 0.06,
            review: Duration::minutes(20),
            callback: Duration::hours(4),
        }
    }
}

/// A log-normal fitted (maximum likelihood: the mean and spread of the log) to the real
/// message -> reply delays in `civic/reply_times.csv` under the shared data. Read at run time:
/// the file's licence does not let the project ship it or figures copied from it.
pub fn fitted_resolve(shared_data: &Path, key: &str) -> Result<Dist, SimulateError> {
    let path = shared_data.join("civic/reply_times.csv");
    let data_error = |message: String| SimulateError::Data {
        path: path.display().to_string(),
        message,
    };
    let mut reader = csv::Reader::from_path(&path).map_err(|e| {
        data_error(format!(
            "{e}; the default of {key} is a fit of the real reply delays: give --shared-data, or set {key} to a distribution"
        ))
    })?;
    let headers = reader
        .headers()
        .map_err(|e| data_error(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| data_error(format!("no `{name}` column")))
    };
    let (asked, replied) = (column("message_time")?, column("reply_time")?);
    let mut logs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| data_error(e.to_string()))?;
        let parse = |i: usize| {
            NaiveDateTime::parse_from_str(record.get(i).unwrap_or_default(), "%Y-%m-%d %H:%M:%S")
        };
        // A few rows carry a date without a time: they cannot give a delay, and are skipped.
        if let (Ok(a), Ok(r)) = (parse(asked), parse(replied)) {
            let hours = (r - a).num_seconds() as f64 / 3600.0;
            if hours > 0.0 {
                logs.push(hours.ln());
            }
        }
    }
    if logs.len() < 2 {
        return Err(data_error("fewer than 2 usable delays to fit".into()));
    }
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let sigma = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(Dist::LogNormal {
        median: Duration::milliseconds((mean.exp() * 3_600_000.0).round() as i64),
        sigma,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn distributions_that_cannot_be_sampled_are_refused_with_the_reason() {
        let e = Dist::from_table(&table("dist = \"lognormal\"\nmedian = \"1 h\"\nsigma = -1"))
            .unwrap_err();
        assert!(e.contains("sigma -1"), "{e}");
        let e = Dist::from_table(&table("dist = \"uniform\"\nmin = \"2 h\"\nmax = \"1 h\""))
            .unwrap_err();
        assert!(e.contains("above max"), "{e}");
        let e = Dist::from_table(&table("dist = \"exponential\"\nmean = \"0 s\"")).unwrap_err();
        assert!(e.contains("above 0"), "{e}");
        let e = Dist::from_table(&table("dist = \"gamma\"")).unwrap_err();
        assert!(e.contains("not a distribution"), "{e}");
    }

    #[test]
    fn a_lognormal_draws_around_its_median() {
        let d = Dist::LogNormal {
            median: Duration::hours(10),
            sigma: 1.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut draws: Vec<i64> = (0..20_001)
            .map(|_| d.sample(&mut rng).num_minutes())
            .collect();
        draws.sort();
        let median = draws[10_000] as f64 / 60.0;
        assert!((median - 10.0).abs() < 0.5, "{median}");
    }

    #[test]
    fn staff_come_from_the_level_entry_then_the_kind_then_the_default() {
        let mut s = Staffing::default();
        s.by_kind.insert((None, StationKind::Police), 5);
        s.by_kind
            .insert((Some(Level::District), StationKind::Police), 40);
        assert_eq!(s.of(Level::Community, StationKind::Police), 5);
        assert_eq!(s.of(Level::District, StationKind::Police), 40);
        assert_eq!(s.of(Level::Street, StationKind::Office), 3);
    }
}
