//! The scenario file (TOML): the period, the arrivals, the staff and their behaviour, and the
//! events. Parsed with every value's place (`toml::Spanned`), then checked against the
//! directory, the taxonomy and the holiday calendar; anything wrong is refused as
//! `file:line:column: key: what to change`.
//!
//! ```toml
//! name = "A week of Suzhou's 12345"
//! seed = 20261005            # optional; --seed overrides
//! start = "2026-09-28"       # first local day (Asia/Shanghai)
//! days = 7                   # or end = "2026-10-04" (inclusive)
//! drain_days = 30            # arrivals stop; the staff work on until every ticket is closed
//!
//! [arrivals]
//! per_day = 30000            # requests on a working day
//! non_working_day_factor = 0.5
//! hourly = [ ... 24 weights ... ]
//! channels = { hotline = 0.75, web = 0.12, app = 0.08, kiosk = 0.03, digital_tv = 0.02 }
//! categories = "labelled"    # or { CJ = 2, "SQ.WYBX" = 1 }
//! natures = { help = 0.55, complaint = 0.25, consult = 0.12, report = 0.05, suggestion = 0.03 }
//! urgent_share = 0.02
//! territory = "communities"  # or { "320508" = 3, "320506001" = 1 }
//! times = ["2026-09-28T09:00"]   # scripted arrivals, besides per_day
//!
//! [staff]                    # members per station, by "level:kind" or "kind"
//! default = 3
//! "street:office" = 6
//!
//! [behaviour]
//! sign_for = { dist = "lognormal", median = "10 min", sigma = 0.6 }
//! handle = { dist = "lognormal", median = "30 min", sigma = 0.7 }
//! resolve = "fitted"         # or a distribution
//! returns = 0.02
//! extensions = 0.05
//! extension_days = 5
//! dissatisfied = 0.06
//! review = "20 min"
//! callback = "4 h"
//!
//! [[event]]
//! kind = "surge"             # or "capacity", "policy"
//! ...
//! ```
//! Every key is described in the README (Capacity planning).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use hotline_core::{CategoryCode, Channel, DivisionCode, Nature, StationId};
use hotline_directory::{Directory, Level, StationKind};
use hotline_sla::{SlaPolicy, WorkingCalendar};
use serde::Deserialize;
use toml::Spanned;

use crate::arrivals::{self, Arrivals};
use crate::behaviour::{self, Behaviour, Dist, Staffing};
use crate::duration;
use crate::SimulateError;

/// What a scenario is checked against.
pub struct Context<'a> {
    pub directory: &'a Directory,
    pub taxonomy: &'a hotline_classify::Taxonomy,
    pub calendar: &'a WorkingCalendar,
    /// The shared data directory (`civic/train.csv`, `civic/reply_times.csv`) the defaults
    /// are computed from; not shipped with the project (their licence does not allow it).
    pub shared_data: &'a Path,
}

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// Where it was read from (for messages and the run record).
    pub file: String,
    /// The file as written, recorded with the run.
    pub source: String,
    pub seed: Option<u64>,
    /// First and last local day of arrivals (inclusive).
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// How long the staff keep working after the last day, arrivals stopped.
    pub drain: Duration,
    /// The SLA policy in force from the start (`policy = "file.toml"`), else the built-in one.
    pub policy: Option<(String, SlaPolicy)>,
    pub arrivals: Arrivals,
    pub staff: Staffing,
    pub behaviour: Behaviour,
    pub events: Vec<Event>,
}

impl Scenario {
    /// The first instant of the period (local midnight of `start`).
    pub fn starts_at(&self) -> DateTime<Utc> {
        local_midnight(self.start)
    }

    /// The end of the period (local midnight after `end`): arrivals stop here.
    pub fn ends_at(&self) -> DateTime<Utc> {
        local_midnight(self.end + Duration::days(1))
    }

    /// The latest instant the run goes on to (the period plus the drain).
    pub fn horizon(&self) -> DateTime<Utc> {
        self.ends_at() + self.drain
    }

    /// The staff member counts replaced (the capacity search's candidate).
    pub fn with_staff(&self, staff: Staffing) -> Self {
        Self {
            staff,
            ..self.clone()
        }
    }
}

/// Something that happens during the run.
#[derive(Debug, Clone)]
pub enum Event {
    /// Extra requests of one category in one territory, spread evenly over `[start, end)`.
    Surge {
        category: CategoryCode,
        /// The communities the requests come from (every community under the named division).
        communities: Vec<DivisionCode>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        tickets: u32,
    },
    /// Stations working with a share of their staff over `[start, end)`.
    Capacity {
        target: CapacityTarget,
        factor: f64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// A new SLA policy in force from `at` (as a router restarted with another `--sla-policy`).
    Policy {
        at: DateTime<Utc>,
        file: String,
        policy: Box<SlaPolicy>,
    },
}

/// Which stations a capacity event applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityTarget {
    pub station: Option<StationId>,
    pub kind: Option<(Option<Level>, StationKind)>,
    /// A division code prefix: stations inside it.
    pub territory: Option<DivisionCode>,
}

impl CapacityTarget {
    pub fn matches(&self, station: &StationId, level: Level, kind: StationKind) -> bool {
        self.station.as_ref().is_none_or(|s| s == station)
            && self
                .kind
                .is_none_or(|(l, k)| k == kind && l.is_none_or(|l| l == level))
            && self
                .territory
                .as_ref()
                .is_none_or(|t| station.as_str().starts_with(t.as_str()))
    }
}

/// A table of weights as written, every key and value with its place.
type SpannedWeights = Spanned<BTreeMap<Spanned<String>, Spanned<f64>>>;

// ---------------------------------------------------------------------------------------
// The file as written: every value spanned, every table closed to unknown keys.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    start: Spanned<toml::Value>,
    days: Option<Spanned<i64>>,
    end: Option<Spanned<toml::Value>>,
    drain_days: Option<Spanned<f64>>,
    policy: Option<Spanned<String>>,
    #[serde(default)]
    arrivals: Option<Spanned<RawArrivals>>,
    #[serde(default)]
    staff: Option<Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>>,
    #[serde(default)]
    behaviour: Option<Spanned<RawBehaviour>>,
    #[serde(default, rename = "event")]
    events: Vec<Spanned<RawEvent>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrivals {
    per_day: Option<Spanned<f64>>,
    non_working_day_factor: Option<Spanned<f64>>,
    hourly: Option<Spanned<Vec<Spanned<f64>>>>,
    channels: Option<SpannedWeights>,
    categories: Option<Spanned<toml::Value>>,
    natures: Option<SpannedWeights>,
    urgent_share: Option<Spanned<f64>>,
    territory: Option<Spanned<toml::Value>>,
    #[serde(default)]
    times: Vec<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBehaviour {
    sign_for: Option<Spanned<toml::Value>>,
    handle: Option<Spanned<toml::Value>>,
    resolve: Option<Spanned<toml::Value>>,
    returns: Option<Spanned<f64>>,
    extensions: Option<Spanned<f64>>,
    extension_days: Option<Spanned<i64>>,
    dissatisfied: Option<Spanned<f64>>,
    review: Option<Spanned<String>>,
    callback: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    kind: Spanned<String>,
    // surge
    category: Option<Spanned<String>>,
    territory: Option<Spanned<String>>,
    start: Option<Spanned<toml::Value>>,
    end: Option<Spanned<toml::Value>>,
    hours: Option<Spanned<f64>>,
    tickets: Option<Spanned<i64>>,
    // capacity
    station: Option<Spanned<String>>,
    station_kind: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    // policy
    at: Option<Spanned<toml::Value>>,
    file: Option<Spanned<String>>,
}

/// Turns byte spans into `file:line:column: key: message` errors.
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error(
        &self,
        key: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> SimulateError {
        let (line, column) = line_column(self.text, span.start);
        SimulateError::Scenario {
            file: self.file.to_owned(),
            key: key.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn at<T>(&self, key: &str, value: &Spanned<T>, message: impl Into<String>) -> SimulateError {
        self.error(key, value.span(), message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Reads and checks the scenario at `path`.
pub fn load(path: &Path, cx: &Context<'_>) -> Result<Scenario, SimulateError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimulateError::io(format!("reading scenario {}", path.display()), e))?;
    parse(&path.display().to_string(), &text, path.parent(), cx)
}

/// Parses and checks a scenario's text. `dir` is where relative paths (policy files) are
/// looked up.
pub fn parse(
    file: &str,
    text: &str,
    dir: Option<&Path>,
    cx: &Context<'_>,
) -> Result<Scenario, SimulateError> {
    let src = Source { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().to_owned();
        // serde names the key for unknown and missing fields in its message.
        src.error(&key_of_message(&message), span, message)
    })?;
    let name = raw.name.map_or_else(|| file.to_owned(), |n| n.into_inner());
    let seed = match raw.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(src.at("seed", &s, "a seed is a whole number 0 or more"))
        }
        Some(s) => Some(*s.get_ref() as u64),
        None => None,
    };
    let start = date(&src, "start", &raw.start)?;
    let end = match (&raw.days, &raw.end) {
        (Some(days), None) => {
            let n = *days.get_ref();
            if !(1..=366).contains(&n) {
                return Err(src.at("days", days, "the period is 1 to 366 days"));
            }
            start + Duration::days(n - 1)
        }
        (None, Some(end)) => {
            let end_date = date(&src, "end", end)?;
            if end_date < start {
                return Err(src.at(
                    "end",
                    end,
                    format!("the period ends before it starts ({start})"),
                ));
            }
            end_date
        }
        (Some(days), Some(_)) => {
            return Err(src.at("days", days, "give either days or end, not both"))
        }
        (None, None) => start,
    };
    // Deadlines count working days: a year without a published notice has no 调休, so its
    // figures would be wrong without saying so.
    for year in start.year()..=end.year() {
        if !cx.calendar.published_years().contains(&year) {
            let published: Vec<String> = cx
                .calendar
                .published_years()
                .iter()
                .map(ToString::to_string)
                .collect();
            let key = if year == start.year() { "start" } else { "end" };
            let span = if year == start.year() {
                raw.start.span()
            } else {
                raw.end
                    .as_ref()
                    .map(|e| e.span())
                    .or(raw.days.as_ref().map(|d| d.span()))
                    .unwrap_or(raw.start.span())
            };
            return Err(src.error(
                key,
                span,
                format!(
                    "the holiday calendar for {year} is not published (published: {}); working days, holidays and 调休 of {year} are unknown, so its deadlines cannot be simulated",
                    published.join(", ")
                ),
            ));
        }
    }
    let drain = match &raw.drain_days {
        Some(d) if !(0.0..=120.0).contains(d.get_ref()) => {
            return Err(src.at("drain_days", d, "between 0 and 120 days"))
        }
        Some(d) => Duration::minutes((d.get_ref() * 1440.0).round() as i64),
        None => Duration::days(30),
    };
    let period = (
        local_midnight(start),
        local_midnight(end + Duration::days(1)),
    );
    let arrivals = match &raw.arrivals {
        Some(a) => arrivals_of(&src, a.get_ref(), period, cx)?,
        None => arrivals_of(&src, &RawArrivals::empty(), period, cx)?,
    };
    let staff = match &raw.staff {
        Some(s) => staffing(&src, s.get_ref())?,
        None => Staffing::default(),
    };
    let behaviour = match &raw.behaviour {
        Some(b) => behaviour_of(&src, b.get_ref(), cx)?,
        None => behaviour_of(&src, &RawBehaviour::empty(), cx)?,
    };
    let policy = match &raw.policy {
        Some(file) => Some((
            file.get_ref().clone(),
            policy_file(&src, "policy", file, dir)?,
        )),
        None => None,
    };
    let mut events = Vec::new();
    for (i, event) in raw.events.iter().enumerate() {
        events.push(event_of(&src, i, event.get_ref(), period, dir, cx)?);
    }
    Ok(Scenario {
        name,
        file: file.to_owned(),
        source: text.to_owned(),
        seed,
        start,
        end,
        drain,
        policy,
        arrivals,
        staff,
        behaviour,
        events,
    })
}

/// The key serde's message is about (`unknown field `x``, `missing field `x``), else "scenario".
fn key_of_message(message: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(marker).nth(1) {
            if let Some(key) = rest.split('`').next() {
                return key.to_owned();
            }
        }
    }
    "scenario".to_owned()
}

impl RawArrivals {
    fn empty() -> Self {
        Self {
            per_day: None,
            non_working_day_factor: None,
            hourly: None,
            channels: None,
            categories: None,
            natures: None,
            urgent_share: None,
            territory: None,
            times: Vec::new(),
        }
    }
}

impl RawBehaviour {
    fn empty() -> Self {
        Self {
            sign_for: None,
            handle: None,
            resolve: None,
            returns: None,
            extensions: None,
            extension_days: None,
            dissatisfied: None,
            review: None,
            callback: None,
        }
    }
}

pub(crate) fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    local(date.and_time(NaiveTime::MIN))
}

fn local(at: NaiveDateTime) -> DateTime<Utc> {
    Shanghai
        .from_local_datetime(&at)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&at), |t| t.with_timezone(&Utc))
}

fn date(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<toml::Value>,
) -> Result<NaiveDate, SimulateError> {
    let raw = match value.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(src.at(
                key,
                value,
                format!("a date is written \"2026-10-01\", not {}", other.type_str()),
            ))
        }
    };
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        src.at(
            key,
            value,
            format!("{raw:?} is not a date (write \"2026-10-01\")"),
        )
    })
}

/// A local (Asia/Shanghai) date and time: `"2026-10-01T08:00"`, `"2026-10-01 08:00:00"` or a
/// TOML local date-time.
fn local_time(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<toml::Value>,
) -> Result<DateTime<Utc>, SimulateError> {
    let raw = match value.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(src.at(
                key,
                value,
                format!(
                    "a time is written \"2026-10-01T08:00\" (local time in Suzhou), not {}",
                    other.type_str()
                ),
            ))
        }
    };
    let raw = raw.trim().replace(' ', "T");
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&raw, format) {
            return Ok(local(at));
        }
    }
    Err(src.at(
        key,
        value,
        format!("{raw:?} is not a local date and time (write \"2026-10-01T08:00\")"),
    ))
}

fn share(src: &Source<'_>, key: &str, value: &Spanned<f64>) -> Result<f64, SimulateError> {
    let v = *value.get_ref();
    if !(0.0..=1.0).contains(&v) {
        return Err(src.at(
            key,
            value,
            format!("{v} is not a share: give a number from 0 to 1"),
        ));
    }
    Ok(v)
}

fn rate(src: &Source<'_>, key: &str, value: &Spanned<f64>) -> Result<f64, SimulateError> {
    let v = *value.get_ref();
    if !v.is_finite() || v < 0.0 {
        return Err(src.at(
            key,
            value,
            format!("{v}: a rate or weight cannot be negative"),
        ));
    }
    Ok(v)
}

/// A table of weights: each key parsed by `parse`, each weight 0 or more, not all 0.
fn weights<T>(
    src: &Source<'_>,
    key: &str,
    table: &SpannedWeights,
    mut parse: impl FnMut(&str) -> Result<T, String>,
) -> Result<Vec<(T, f64)>, SimulateError> {
    let mut out = Vec::new();
    for (name, weight) in table.get_ref() {
        let full = format!("{key}.{}", name.get_ref());
        let item = parse(name.get_ref()).map_err(|m| src.at(&full, name, m))?;
        out.push((item, rate(src, &full, weight)?));
    }
    if out.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err(src.at(key, table, "the weights add up to 0: nothing can be drawn"));
    }
    Ok(out)
}

fn arrivals_of(
    src: &Source<'_>,
    raw: &RawArrivals,
    period: (DateTime<Utc>, DateTime<Utc>),
    cx: &Context<'_>,
) -> Result<Arrivals, SimulateError> {
    let per_day = match &raw.per_day {
        Some(v) => rate(src, "arrivals.per_day", v)?,
        None => 0.0,
    };
    let non_working_day_factor = match &raw.non_working_day_factor {
        Some(v) => rate(src, "arrivals.non_working_day_factor", v)?,
        None => arrivals::NON_WORKING_DAY_FACTOR,
    };
    let hourly = match &raw.hourly {
        Some(list) => {
            if list.get_ref().len() != 24 {
                return Err(src.at(
                    "arrivals.hourly",
                    list,
                    format!("give 24 weights (hours 0-23), not {}", list.get_ref().len()),
                ));
            }
            let mut hours = [0.0; 24];
            for (h, w) in list.get_ref().iter().enumerate() {
                hours[h] = rate(src, &format!("arrivals.hourly[{h}]"), w)?;
            }
            if hours.iter().sum::<f64>() <= 0.0 {
                return Err(src.at("arrivals.hourly", list, "the weights add up to 0"));
            }
            hours
        }
        None => arrivals::DEFAULT_HOURLY,
    };
    let channels = match &raw.channels {
        Some(t) => weights(src, "arrivals.channels", t, |name| {
            Channel::parse("channel", name).map_err(|e| e.to_string())
        })?,
        None => arrivals::default_channels(),
    };
    let natures = match &raw.natures {
        Some(t) => weights(src, "arrivals.natures", t, |name| {
            Nature::parse("nature", name).map_err(|e| e.to_string())
        })?,
        None => arrivals::default_natures(),
    };
    let urgent_share = match &raw.urgent_share {
        Some(v) => share(src, "arrivals.urgent_share", v)?,
        None => 0.0,
    };
    let categories = match &raw.categories {
        None => arrivals::labelled_categories(cx.shared_data, cx.taxonomy, "arrivals.categories")?,
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "labelled" => {
                arrivals::labelled_categories(cx.shared_data, cx.taxonomy, "arrivals.categories")
                    .map_err(|e| src.at("arrivals.categories", v, e.to_string()))?
            }
            toml::Value::Table(_) => {
                let table: SpannedWeights =
                    respan(src, "arrivals.categories", v)?;
                weights(src, "arrivals.categories", &table, |code| category(cx, code))?
            }
            _ => {
                return Err(src.at(
                    "arrivals.categories",
                    v,
                    "write \"labelled\" (the labelled messages' mix) or a table of category codes and weights",
                ))
            }
        },
    };
    let territory = match &raw.territory {
        None => arrivals::communities_under(cx.directory, &[(None, 1.0)]),
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "communities" => {
                arrivals::communities_under(cx.directory, &[(None, 1.0)])
            }
            toml::Value::Table(_) => {
                let table: SpannedWeights =
                    respan(src, "arrivals.territory", v)?;
                let divisions = weights(src, "arrivals.territory", &table, |code| {
                    division(cx.directory, code).map(Some)
                })?;
                arrivals::communities_under(cx.directory, &divisions)
            }
            _ => {
                return Err(src.at(
                    "arrivals.territory",
                    v,
                    "write \"communities\" (every community alike) or a table of division codes and weights",
                ))
            }
        },
    };
    let mut times = Vec::new();
    for (i, t) in raw.times.iter().enumerate() {
        let key = format!("arrivals.times[{i}]");
        let at = local_time(src, &key, t)?;
        if at < period.0 || at >= period.1 {
            return Err(src.at(&key, t, "this arrival is outside the period"));
        }
        times.push(at);
    }
    Ok(Arrivals {
        per_day,
        non_working_day_factor,
        hourly,
        channels,
        categories,
        natures,
        urgent_share,
        territory,
        times,
    })
}

/// Reads an inline table of weights again with its spans (a `toml::Value` keeps none).
fn respan(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<toml::Value>,
) -> Result<SpannedWeights, SimulateError> {
    // Parse the value's own text: its spans are then relative to its start.
    let span = value.span();
    let inner = &src.text[span.clone()];
    #[derive(Deserialize)]
    struct Wrap {
        v: SpannedWeights,
    }
    let prefix = "v = ";
    let parsed: Wrap = toml::from_str(&format!("{prefix}{inner}")).map_err(|e| {
        let at = e.span().map_or(span.start, |s| {
            span.start + s.start.saturating_sub(prefix.len())
        });
        src.error(key, at..at, e.message().to_owned())
    })?;
    let shift = |s: Range<usize>| {
        span.start + s.start.saturating_sub(prefix.len())
            ..span.start + s.end.saturating_sub(prefix.len())
    };
    let table = parsed
        .v
        .into_inner()
        .into_iter()
        .map(|(k, v)| {
            let (ks, kv) = (shift(k.span()), shift(v.span()));
            (
                Spanned::new(ks, k.into_inner()),
                Spanned::new(kv, v.into_inner()),
            )
        })
        .collect();
    Ok(Spanned::new(span, table))
}

/// An SLA policy file, relative to the scenario's directory.
fn policy_file(
    src: &Source<'_>,
    key: &str,
    file: &Spanned<String>,
    dir: Option<&Path>,
) -> Result<SlaPolicy, SimulateError> {
    let path = dir.map_or_else(|| PathBuf::from(file.get_ref()), |d| d.join(file.get_ref()));
    SlaPolicy::from_path(&path).map_err(|e| src.at(key, file, format!("{}: {e}", path.display())))
}

fn category(cx: &Context<'_>, code: &str) -> Result<CategoryCode, String> {
    let parsed = CategoryCode::parse("category", code).map_err(|e| e.to_string())?;
    if cx.taxonomy.get(&parsed).is_none() {
        return Err(format!(
            "{code:?} is not a category of the taxonomy {} (e.g. CJ, SQ.WYBX; see crates/classify/data/taxonomy.csv)",
            cx.taxonomy.version()
        ));
    }
    Ok(parsed)
}

fn division(directory: &Directory, code: &str) -> Result<DivisionCode, String> {
    let parsed = DivisionCode::parse("division", code).map_err(|e| e.to_string())?;
    if directory.division(&parsed).is_none() {
        return Err(format!(
            "{code:?} is not a division of the directory (a district, street or community code, e.g. 320508 姑苏区)"
        ));
    }
    Ok(parsed)
}

/// `"level:kind"` or `"kind"` (every level that has it).
fn station_kind(raw: &str) -> Result<(Option<Level>, StationKind), String> {
    let (level, kind) = match raw.split_once(':') {
        Some((l, k)) => (
            Some(Level::parse("level", l).map_err(|e| e.to_string())?),
            k,
        ),
        None => (None, raw),
    };
    let kind = StationKind::parse("station kind", kind).map_err(|e| e.to_string())?;
    if let Some(level) = level {
        if !StationKind::at_level(level).contains(&kind) {
            return Err(format!(
                "there is no {} station at {} level",
                kind.code(),
                level.code()
            ));
        }
    }
    Ok((level, kind))
}

fn staffing(
    src: &Source<'_>,
    table: &BTreeMap<Spanned<String>, Spanned<i64>>,
) -> Result<Staffing, SimulateError> {
    let mut staff = Staffing::default();
    for (name, count) in table {
        let key = format!("staff.{}", name.get_ref());
        let n = *count.get_ref();
        if !(0..=10_000).contains(&n) {
            return Err(src.at(&key, count, format!("{n}: staff per station is 0 to 10000")));
        }
        if name.get_ref() == "default" {
            staff.default = n as u32;
            continue;
        }
        let kind = station_kind(name.get_ref()).map_err(|m| src.at(&key, name, m))?;
        staff.by_kind.insert(kind, n as u32);
    }
    Ok(staff)
}

fn dist_of(
    src: &Source<'_>,
    key: &str,
    value: &Spanned<toml::Value>,
) -> Result<Dist, SimulateError> {
    let toml::Value::Table(table) = value.get_ref() else {
        return Err(src.at(
            key,
            value,
            "a distribution is a table, e.g. { dist = \"lognormal\", median = \"30 min\", sigma = 0.7 }",
        ));
    };
    Dist::from_table(table).map_err(|m| src.at(key, value, m))
}

fn behaviour_of(
    src: &Source<'_>,
    raw: &RawBehaviour,
    cx: &Context<'_>,
) -> Result<Behaviour, SimulateError> {
    let defaults = Behaviour::defaults();
    let sign_for = match &raw.sign_for {
        Some(v) => dist_of(src, "behaviour.sign_for", v)?,
        None => defaults.sign_for,
    };
    let handle = match &raw.handle {
        Some(v) => dist_of(src, "behaviour.handle", v)?,
        None => defaults.handle,
    };
    let resolve = match &raw.resolve {
        None => behaviour::fitted_resolve(cx.shared_data, "behaviour.resolve")?,
        Some(v) => match v.get_ref() {
            toml::Value::String(s) if s == "fitted" => {
                behaviour::fitted_resolve(cx.shared_data, "behaviour.resolve")
                    .map_err(|e| src.at("behaviour.resolve", v, e.to_string()))?
            }
            _ => dist_of(src, "behaviour.resolve", v)?,
        },
    };
    let duration_of = |key: &str, v: &Option<Spanned<String>>, default: Duration| match v {
        Some(v) => duration::parse(v.get_ref()).map_err(|m| src.at(key, v, m)),
        None => Ok(default),
    };
    let extension_days = match &raw.extension_days {
        Some(d) if !(1..=60).contains(d.get_ref()) => {
            return Err(src.at("behaviour.extension_days", d, "1 to 60 working days"))
        }
        Some(d) => *d.get_ref() as u32,
        None => defaults.extension_days,
    };
    Ok(Behaviour {
        sign_for,
        handle,
        resolve,
        returns: opt_share(src, "behaviour.returns", &raw.returns, defaults.returns)?,
        extensions: opt_share(
            src,
            "behaviour.extensions",
            &raw.extensions,
            defaults.extensions,
        )?,
        extension_days,
        dissatisfied: opt_share(
            src,
            "behaviour.dissatisfied",
            &raw.dissatisfied,
            defaults.dissatisfied,
        )?,
        review: duration_of("behaviour.review", &raw.review, defaults.review)?,
        callback: duration_of("behaviour.callback", &raw.callback, defaults.callback)?,
    })
}

fn opt_share(
    src: &Source<'_>,
    key: &str,
    v: &Option<Spanned<f64>>,
    default: f64,
) -> Result<f64, SimulateError> {
    v.as_ref().map_or(Ok(default), |v| share(src, key, v))
}

fn event_of(
    src: &Source<'_>,
    i: usize,
    raw: &RawEvent,
    period: (DateTime<Utc>, DateTime<Utc>),
    dir: Option<&Path>,
    cx: &Context<'_>,
) -> Result<Event, SimulateError> {
    let key = |k: &str| format!("event[{i}].{k}");
    let kind = raw.kind.get_ref().as_str();
    let need = |k: &str, v: bool| -> Result<(), SimulateError> {
        if v {
            Ok(())
        } else {
            Err(src.at(&key("kind"), &raw.kind, format!("a {kind} event needs {k}")))
        }
    };
    // The window of a surge or capacity event: start, then end or hours.
    let window = || -> Result<(DateTime<Utc>, DateTime<Utc>), SimulateError> {
        need("start", raw.start.is_some())?;
        let start_v = raw.start.as_ref().expect("checked");
        let start = local_time(src, &key("start"), start_v)?;
        let end = match (&raw.end, &raw.hours) {
            (Some(end), None) => local_time(src, &key("end"), end)?,
            (None, Some(h)) => {
                let hours = rate(src, &key("hours"), h)?;
                start + Duration::seconds((hours * 3600.0).round() as i64)
            }
            _ => {
                return Err(src.at(
                    &key("start"),
                    start_v,
                    "give the event's end or its length in hours (one of them)",
                ))
            }
        };
        if end <= start {
            return Err(src.at(&key("start"), start_v, "the event ends before it starts"));
        }
        Ok((start, end))
    };
    match kind {
        "surge" => {
            need("category", raw.category.is_some())?;
            need("tickets", raw.tickets.is_some())?;
            let cat_v = raw.category.as_ref().expect("checked");
            let category =
                category(cx, cat_v.get_ref()).map_err(|m| src.at(&key("category"), cat_v, m))?;
            let territory = match &raw.territory {
                Some(t) => Some(
                    division(cx.directory, t.get_ref())
                        .map_err(|m| src.at(&key("territory"), t, m))?,
                ),
                None => None,
            };
            let communities = arrivals::communities_under(cx.directory, &[(territory, 1.0)])
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            let tickets_v = raw.tickets.as_ref().expect("checked");
            let tickets = *tickets_v.get_ref();
            if !(0..=10_000_000).contains(&tickets) {
                return Err(src.at(&key("tickets"), tickets_v, "0 to 10,000,000 extra requests"));
            }
            let (start, end) = window()?;
            if start < period.0 || start >= period.1 {
                let start_v = raw.start.as_ref().expect("checked");
                return Err(src.at(&key("start"), start_v, "a surge starts inside the period"));
            }
            Ok(Event::Surge {
                category,
                communities,
                start,
                end,
                tickets: tickets as u32,
            })
        }
        "capacity" => {
            need("factor", raw.factor.is_some())?;
            let factor_v = raw.factor.as_ref().expect("checked");
            let factor = *factor_v.get_ref();
            if !(0.0..=10.0).contains(&factor) {
                return Err(src.at(
                    &key("factor"),
                    factor_v,
                    "the share of staff at work: 0 (closed) to 10",
                ));
            }
            let station = match &raw.station {
                Some(s) => {
                    let id = StationId::parse("station", s.get_ref())
                        .map_err(|e| src.at(&key("station"), s, e.to_string()))?;
                    if cx.directory.station(&id).is_none() {
                        return Err(src.at(
                            &key("station"),
                            s,
                            format!(
                                "{:?} is not a station of the directory (e.g. 320508001-office)",
                                s.get_ref()
                            ),
                        ));
                    }
                    Some(id)
                }
                None => None,
            };
            let station_kind = match &raw.station_kind {
                Some(k) => Some(
                    station_kind(k.get_ref()).map_err(|m| src.at(&key("station_kind"), k, m))?,
                ),
                None => None,
            };
            let territory = match &raw.territory {
                Some(t) => Some(
                    division(cx.directory, t.get_ref())
                        .map_err(|m| src.at(&key("territory"), t, m))?,
                ),
                None => None,
            };
            if station.is_none() && station_kind.is_none() && territory.is_none() {
                return Err(src.at(
                    &key("kind"),
                    &raw.kind,
                    "a capacity event names its stations: station, station_kind and/or territory",
                ));
            }
            let (start, end) = window()?;
            Ok(Event::Capacity {
                target: CapacityTarget {
                    station,
                    kind: station_kind,
                    territory,
                },
                factor,
                start,
                end,
            })
        }
        "policy" => {
            need("at", raw.at.is_some())?;
            need("file", raw.file.is_some())?;
            let at = local_time(src, &key("at"), raw.at.as_ref().expect("checked"))?;
            let file_v = raw.file.as_ref().expect("checked");
            let policy = policy_file(src, &key("file"), file_v, dir)?;
            Ok(Event::Policy {
                at,
                file: file_v.get_ref().clone(),
                policy: Box::new(policy),
            })
        }
        other => Err(src.at(
            &key("kind"),
            &raw.kind,
            format!("{other:?} is not an event kind (one of: surge, capacity, policy)"),
        )),
    }
}
