//! What a run found: the supervision KPIs per district, street and station kind, backlog and
//! overdue over time, breaches and escalations, the busiest stations; as a terminal table and
//! CSV files.
//!
//! The KPIs are `hotline-kpi`'s, not a second definition: each ticket's event log (as the
//! engine wrote it) goes through [`hotline_kpi::facts::derive`], the facts are summed into
//! [`Counts`] per group, and [`Figures::compute`] makes the rates, exactly as the `Kpis`
//! service does for a centre's real figures (docs/kpis.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use hotline_core::{Action, Event, Flag};
use hotline_directory::Directory;
use hotline_kpi::{facts, Counts, Figures, KpiConfig};
use hotline_sla::WorkingCalendar;
use serde::Serialize;

use crate::behaviour::Staffing;
use crate::runner::StationState;
use crate::scenario::Scenario;
use crate::SimulateError;

/// Backlog and overdue at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Tickets not yet closed.
    pub backlog: u64,
    /// Open tickets past the deadline of the clock running in their stage.
    pub overdue: u64,
    pub backlog_by_district: BTreeMap<String, u32>,
    pub overdue_by_district: BTreeMap<String, u32>,
}

/// One row of a KPI table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    pub name: String,
    pub figures: Figures,
}

/// Supervision flags raised by the engine's timers over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Escalations {
    /// 黄灯 on any clock.
    pub warnings: u64,
    /// 红灯: a deadline passed (sign-for, resolution, callback).
    pub breaches: u64,
    /// First-contact deadlines passed (their own light).
    pub contact_breaches: u64,
    pub urged: u64,
    pub supervised: u64,
    pub published: u64,
}

/// A station's load over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationLoad {
    pub station: String,
    pub name: String,
    pub kind: String,
    pub staff: u32,
    pub received: u32,
    pub signed: u32,
    pub replied: u32,
    pub peak_on_hand: u32,
}

/// Tickets on hand at the busiest stations, per column (hour or day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heat {
    pub columns: Vec<String>,
    /// (station name, the most on hand in each column)
    pub rows: Vec<(String, Vec<u32>)>,
}

/// One ticket's path, as the engine recorded it (`tickets.csv`): what the deadlines were.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketLine {
    /// Its number in arrival order.
    pub serial: u64,
    pub created: DateTime<Utc>,
    pub category: String,
    pub community: String,
    /// The first station it was dispatched to, and that dispatch's sign-for deadline.
    pub station: String,
    pub sign_for_due: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    /// The resolution deadline set at the first sign-for (before any extension).
    pub resolution_due: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl TicketLine {
    fn of(serial: u64, events: &[Event]) -> Self {
        let mut line = TicketLine {
            serial,
            created: events.first().map_or(DateTime::UNIX_EPOCH, |e| e.at),
            category: String::new(),
            community: String::new(),
            station: String::new(),
            sign_for_due: None,
            signed_at: None,
            resolution_due: None,
            replied_at: None,
            closed_at: None,
        };
        if let Ok(ticket) = hotline_core::replay(events) {
            line.category = ticket
                .category
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default();
            line.community = ticket
                .division
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default();
        }
        for event in events {
            match &event.action {
                Action::Dispatch {
                    station,
                    sign_for_due,
                    ..
                } if line.station.is_empty() => {
                    line.station = station.as_str().to_owned();
                    line.sign_for_due = *sign_for_due;
                }
                Action::SignFor { resolution_due, .. } if line.signed_at.is_none() => {
                    line.signed_at = Some(event.at);
                    line.resolution_due = *resolution_due;
                }
                Action::Reply { .. } if line.replied_at.is_none() => {
                    line.replied_at = Some(event.at)
                }
                Action::Close => line.closed_at = Some(event.at),
                _ => {}
            }
        }
        line
    }
}

/// What a run is, so its output can be traced back and run again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub seed: u64,
    pub scenario: String,
    pub scenario_file: String,
    /// SHA-256 of the scenario file as written.
    pub scenario_sha256: String,
    pub engine: String,
    pub period: String,
    pub staff: String,
}

/// Everything a run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub record: Record,
    pub tickets: u64,
    pub overall: Figures,
    pub districts: Vec<Row>,
    pub streets: Vec<Row>,
    pub station_kinds: Vec<Row>,
    pub escalations: Escalations,
    /// Open tickets at the end of the period (arrivals stop there; the drain follows).
    pub backlog_end: u64,
    /// When arrivals stopped (local midnight after the last day).
    pub period_end: DateTime<Utc>,
    /// Open tickets when the run stopped (after the drain).
    pub open_at_stop: u64,
    pub samples: Vec<Sample>,
    pub busiest: Vec<StationLoad>,
    pub heat: Heat,
    /// Actions the engine refused (a model/engine disagreement), with the first few reasons.
    pub refused: u64,
    pub refusals: Vec<String>,
    pub duplicates: u64,
    pub triaged: u64,
    pub ticket_lines: Vec<TicketLine>,
}

impl Outcome {
    /// The line a run ends with.
    pub fn final_line(&self) -> String {
        format!(
            "simulated tickets={} sign_for_on_time={:.4} resolved_on_time={:.4} backlog_end={} breaches={}",
            self.tickets,
            self.overall.sign_for_on_time.rate,
            self.overall.resolved_on_time.rate,
            self.backlog_end,
            self.escalations.breaches
        )
    }

    /// The rate the capacity search aims at: the lower of on-time sign-for and on-time
    /// resolution (a centre is scored on both).
    pub fn on_time(&self) -> f64 {
        self.overall
            .sign_for_on_time
            .rate
            .min(self.overall.resolved_on_time.rate)
    }
}

pub(crate) struct Inputs<'a> {
    pub scenario: &'a Scenario,
    pub seed: u64,
    pub engine: String,
    pub directory: &'a Directory,
    pub calendar: &'a WorkingCalendar,
    pub histories: &'a [Vec<Event>],
    pub samples: Vec<Sample>,
    pub stations: Vec<StationState>,
    pub backlog_end: u64,
    pub refusals: Vec<String>,
    pub refusal_count: u64,
    pub duplicates: u64,
    pub triaged: u64,
}

/// How many stations the busiest list and the heat table show.
const BUSIEST: usize = 15;

pub(crate) fn build(inputs: Inputs<'_>) -> Result<Outcome, SimulateError> {
    let config = KpiConfig::default();
    let mut overall = Counts::default();
    let mut districts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut streets: BTreeMap<String, Counts> = BTreeMap::new();
    let mut kinds: BTreeMap<String, Counts> = BTreeMap::new();
    let mut escalations = Escalations::default();
    for events in inputs.histories {
        for fact in facts::derive(events, inputs.calendar) {
            overall.add(fact.metric, fact.value);
            let division = fact.division.as_str();
            let district = if division.len() >= 6 {
                &division[..6]
            } else {
                division
            };
            districts
                .entry(district.to_owned())
                .or_default()
                .add(fact.metric, fact.value);
            if division.len() >= 9 {
                streets
                    .entry(division[..9].to_owned())
                    .or_default()
                    .add(fact.metric, fact.value);
            }
            if !fact.station.is_empty() {
                let id = hotline_core::StationId::parse("station", &fact.station);
                if let Some(station) = id.ok().and_then(|id| inputs.directory.station(&id)) {
                    kinds
                        .entry(Staffing::key(Some(station.level), station.kind))
                        .or_default()
                        .add(fact.metric, fact.value);
                }
            }
        }
        for event in events {
            if let Action::Flag { flag, .. } = &event.action {
                match flag {
                    Flag::Warning | Flag::ContactWarning => escalations.warnings += 1,
                    Flag::Overdue => escalations.breaches += 1,
                    Flag::ContactOverdue => escalations.contact_breaches += 1,
                    Flag::Urged => escalations.urged += 1,
                    Flag::Supervised => escalations.supervised += 1,
                    Flag::Published => escalations.published += 1,
                }
            }
        }
    }
    let name_of = |code: &str| {
        inputs
            .directory
            .division_by_str(code)
            .map_or_else(|| code.to_owned(), |d| d.name.clone())
    };
    let rows = |groups: BTreeMap<String, Counts>, named: bool| -> Vec<Row> {
        groups
            .into_iter()
            .map(|(key, counts)| Row {
                name: if named { name_of(&key) } else { key.clone() },
                figures: Figures::compute(&counts, &config, false),
                key,
            })
            .collect()
    };
    let mut stations = inputs.stations;
    // Busiest first; ties by id, so the order never depends on the run's internals.
    stations.sort_by(|a, b| {
        b.received
            .cmp(&a.received)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
    let busiest: Vec<StationLoad> = stations
        .iter()
        .take(BUSIEST)
        .map(|s| StationLoad {
            station: s.id.as_str().to_owned(),
            name: s.name.clone(),
            kind: Staffing::key(Some(s.level), s.kind),
            staff: s.staff,
            received: s.received,
            signed: s.signed,
            replied: s.replied,
            peak_on_hand: s.peak_on_hand,
        })
        .collect();
    let heat = heat(&inputs.samples, &stations[..stations.len().min(BUSIEST)]);
    let scenario = inputs.scenario;
    let staff = {
        let mut parts = vec![format!("default={}", scenario.staff.default)];
        parts.extend(
            scenario
                .staff
                .by_kind
                .iter()
                .map(|((l, k), n)| format!("{}={n}", Staffing::key(*l, *k))),
        );
        parts.join(" ")
    };
    let open_at_stop = inputs.samples.last().map_or(0, |s| s.backlog);
    Ok(Outcome {
        record: Record {
            seed: inputs.seed,
            scenario: scenario.name.clone(),
            scenario_file: scenario.file.clone(),
            scenario_sha256: sha256_hex(&scenario.source),
            engine: inputs.engine.clone(),
            period: format!(
                "{} .. {} (+{} drain)",
                scenario.start,
                scenario.end,
                crate::duration::format(scenario.drain)
            ),
            staff,
        },
        tickets: inputs.histories.len() as u64,
        overall: Figures::compute(&overall, &config, false),
        districts: rows(districts, true),
        streets: rows(streets, true),
        station_kinds: rows(kinds, false),
        escalations,
        backlog_end: inputs.backlog_end,
        period_end: scenario.ends_at(),
        open_at_stop,
        samples: inputs.samples,
        busiest,
        heat,
        refused: inputs.refusal_count,
        refusals: inputs.refusals,
        duplicates: inputs.duplicates,
        triaged: inputs.triaged,
        ticket_lines: inputs
            .histories
            .iter()
            .enumerate()
            .map(|(i, events)| TicketLine::of(i as u64, events))
            .collect(),
    })
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex_of(&Sha256::digest(text.as_bytes()))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Hourly columns for a run of up to two days, daily columns beyond (the most on hand that
/// day).
fn heat(samples: &[Sample], stations: &[StationState]) -> Heat {
    let hourly = samples.len() <= 48;
    let mut columns: Vec<String> = Vec::new();
    let mut column_of: Vec<usize> = Vec::new();
    for sample in samples {
        let local = sample.at.with_timezone(&chrono_tz::Asia::Shanghai);
        let label = if hourly {
            local.format("%m-%d %H:00").to_string()
        } else {
            local.format("%m-%d").to_string()
        };
        if columns.last() != Some(&label) {
            columns.push(label);
        }
        column_of.push(columns.len() - 1);
    }
    let rows = stations
        .iter()
        .map(|s| {
            let mut values = vec![0u32; columns.len()];
            for (i, load) in s.load.iter().enumerate() {
                if let Some(c) = column_of.get(i) {
                    values[*c] = values[*c].max(*load);
                }
            }
            (s.name.clone(), values)
        })
        .collect();
    Heat { columns, rows }
}

fn pct(r: &hotline_kpi::Ratio) -> String {
    if r.denominator == 0 {
        "-".into()
    } else {
        format!("{:.1}%", r.rate * 100.0)
    }
}

/// The terminal table.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    let r = &outcome.record;
    let _ = writeln!(out, "scenario  {} ({})", r.scenario, r.scenario_file);
    let _ = writeln!(out, "period    {}", r.period);
    let _ = writeln!(
        out,
        "seed      {}   scenario sha256 {}",
        r.seed,
        &r.scenario_sha256[..16]
    );
    let _ = writeln!(out, "engine    {}", r.engine);
    let _ = writeln!(out, "staff     {}", r.staff);
    let o = &outcome.overall;
    let _ = writeln!(
        out,
        "\ntickets {}  dispatched {}  replied {}  closed {}  (duplicates {}, centre triage {})",
        outcome.tickets, o.dispatched, o.replied, o.closed, outcome.duplicates, outcome.triaged
    );
    let _ = writeln!(
        out,
        "及时签收率 {} ({}/{})  按时办结率 {} ({}/{})  响应率 {}  回访满意率 {}  退单率 {}  延期率 {}  重办率 {}",
        pct(&o.sign_for_on_time),
        o.sign_for_on_time.numerator,
        o.sign_for_on_time.denominator,
        pct(&o.resolved_on_time),
        o.resolved_on_time.numerator,
        o.resolved_on_time.denominator,
        pct(&o.response),
        pct(&o.satisfaction),
        pct(&o.returns),
        pct(&o.extensions),
        pct(&o.redo),
    );
    let e = &outcome.escalations;
    let _ = writeln!(
        out,
        "escalations: 黄灯 {}  红灯 {} (first contact {})  催办 {}  督办 {}  通报 {}",
        e.warnings, e.breaches, e.contact_breaches, e.urged, e.supervised, e.published
    );
    if let Some(peak) = outcome
        .samples
        .iter()
        .max_by_key(|s| (s.backlog, std::cmp::Reverse(s.at)))
    {
        let peak_overdue = outcome.samples.iter().map(|s| s.overdue).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "backlog: peak {} at {}; most overdue at once {}; open at the end of the period {}, when the run stopped {}",
            peak.backlog,
            peak.at.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M"),
            peak_overdue,
            outcome.backlog_end,
            outcome.open_at_stop
        );
    }
    if outcome.refused > 0 {
        let _ = writeln!(
            out,
            "the engine refused {} actions; first: {}",
            outcome.refused,
            outcome.refusals.join("; ")
        );
    }
    table(&mut out, "district", &outcome.districts);
    table(&mut out, "station kind", &outcome.station_kinds);
    let _ = writeln!(out, "\nbusiest stations");
    let _ = writeln!(
        out,
        "  {:<28} {:>5} {:>8} {:>7} {:>7} {:>9}",
        "station", "staff", "received", "signed", "replied", "peak held"
    );
    for s in &outcome.busiest {
        let _ = writeln!(
            out,
            "  {}{:>5} {:>8} {:>7} {:>7} {:>9}",
            truncate(&s.name),
            s.staff,
            s.received,
            s.signed,
            s.replied,
            s.peak_on_hand
        );
    }
    out
}

/// `s` cut to fit 26 terminal columns and padded to 28 (CJK characters take two columns).
fn truncate(s: &str) -> String {
    let width = |c: char| if c.is_ascii() { 1 } else { 2 };
    let mut used = 0;
    let t: String = s
        .chars()
        .take_while(|c| {
            used += width(*c);
            used <= 26
        })
        .collect();
    let w: usize = t.chars().map(width).sum();
    format!("{t}{}", " ".repeat(28usize.saturating_sub(w)))
}

fn table(out: &mut String, what: &str, rows: &[Row]) {
    let _ = writeln!(out, "\nby {what}");
    let _ = writeln!(
        out,
        "  {:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}",
        what, "dispatched", "签收及时", "按时办结", "满意", "结案", "退单"
    );
    for row in rows {
        let f = &row.figures;
        let _ = writeln!(
            out,
            "  {}{:>10} {:>9} {:>9} {:>9} {:>9} {:>8}",
            truncate(&row.name),
            f.dispatched,
            pct(&f.sign_for_on_time),
            pct(&f.resolved_on_time),
            pct(&f.satisfaction),
            pct(&f.closure),
            pct(&f.returns),
        );
    }
}

fn csv_error(what: &str) -> impl Fn(csv::Error) -> SimulateError + '_ {
    move |e| SimulateError::Output {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn write_rows(dir: &Path, file: &str, what: &str, rows: &[Row]) -> Result<(), SimulateError> {
    let path = dir.join(file);
    let err = csv_error(file);
    let mut w = csv::Writer::from_path(&path).map_err(&err)?;
    w.write_record([
        what,
        "name",
        "dispatched",
        "sign_for_on_time",
        "sign_for_on_time_rate",
        "resolution_due",
        "resolved_on_time",
        "resolved_on_time_rate",
        "response_rate",
        "closure_rate",
        "satisfaction_rate",
        "returns_rate",
        "extensions_rate",
        "redo_rate",
        "replied",
        "closed",
        "handling_hours_mean",
    ])
    .map_err(&err)?;
    for row in rows {
        let f = &row.figures;
        w.write_record([
            row.key.clone(),
            row.name.clone(),
            f.dispatched.to_string(),
            f.sign_for_on_time.numerator.to_string(),
            format!("{:.4}", f.sign_for_on_time.rate),
            f.resolved_on_time.denominator.to_string(),
            f.resolved_on_time.numerator.to_string(),
            format!("{:.4}", f.resolved_on_time.rate),
            format!("{:.4}", f.response.rate),
            format!("{:.4}", f.closure.rate),
            format!("{:.4}", f.satisfaction.rate),
            format!("{:.4}", f.returns.rate),
            format!("{:.4}", f.extensions.rate),
            format!("{:.4}", f.redo.rate),
            f.replied.to_string(),
            f.closed.to_string(),
            format!("{:.2}", f.handling_hours_mean),
        ])
        .map_err(&err)?;
    }
    w.flush().map_err(|e| SimulateError::io(file, e))
}

/// The CSV files and the run record (`run.json`) in `dir`.
pub fn write_files(outcome: &Outcome, dir: &Path) -> Result<(), SimulateError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SimulateError::io(format!("creating {}", dir.display()), e))?;
    write_rows(dir, "kpis_district.csv", "district", &outcome.districts)?;
    write_rows(dir, "kpis_street.csv", "street", &outcome.streets)?;
    write_rows(
        dir,
        "kpis_station_kind.csv",
        "station_kind",
        &outcome.station_kinds,
    )?;
    // Backlog and overdue over time, with each district's backlog.
    let districts: Vec<&String> = outcome.districts.iter().map(|r| &r.key).collect();
    let err = csv_error("backlog.csv");
    let mut w = csv::Writer::from_path(dir.join("backlog.csv")).map_err(&err)?;
    let mut header = vec!["at".to_owned(), "backlog".into(), "overdue".into()];
    header.extend(districts.iter().map(|d| format!("backlog_{d}")));
    w.write_record(&header).map_err(&err)?;
    for s in &outcome.samples {
        let mut record = vec![
            s.at.with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%dT%H:%M%:z")
                .to_string(),
            s.backlog.to_string(),
            s.overdue.to_string(),
        ];
        record.extend(districts.iter().map(|d| {
            s.backlog_by_district
                .get(*d)
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
        w.write_record(&record).map_err(&err)?;
    }
    w.flush().map_err(|e| SimulateError::io("backlog.csv", e))?;
    let err = csv_error("busiest_stations.csv");
    let mut w = csv::Writer::from_path(dir.join("busiest_stations.csv")).map_err(&err)?;
    w.write_record([
        "station",
        "name",
        "kind",
        "staff",
        "received",
        "signed",
        "replied",
        "peak_on_hand",
    ])
    .map_err(&err)?;
    for s in &outcome.busiest {
        w.write_record([
            s.station.clone(),
            s.name.clone(),
            s.kind.clone(),
            s.staff.to_string(),
            s.received.to_string(),
            s.signed.to_string(),
            s.replied.to_string(),
            s.peak_on_hand.to_string(),
        ])
        .map_err(&err)?;
    }
    w.flush()
        .map_err(|e| SimulateError::io("busiest_stations.csv", e))?;
    let err = csv_error("tickets.csv");
    let mut w = csv::Writer::from_path(dir.join("tickets.csv")).map_err(&err)?;
    w.write_record([
        "serial",
        "created",
        "category",
        "community",
        "station",
        "sign_for_due",
        "signed_at",
        "resolution_due",
        "replied_at",
        "closed_at",
    ])
    .map_err(&err)?;
    let time = |t: Option<DateTime<Utc>>| t.map(local_iso).unwrap_or_default();
    for t in &outcome.ticket_lines {
        w.write_record([
            t.serial.to_string(),
            local_iso(t.created),
            t.category.clone(),
            t.community.clone(),
            t.station.clone(),
            time(t.sign_for_due),
            time(t.signed_at),
            time(t.resolution_due),
            time(t.replied_at),
            time(t.closed_at),
        ])
        .map_err(&err)?;
    }
    w.flush().map_err(|e| SimulateError::io("tickets.csv", e))?;
    let summary = serde_json::json!({
        "record": outcome.record,
        "tickets": outcome.tickets,
        "overall": outcome.overall,
        "escalations": outcome.escalations,
        "backlog_end": outcome.backlog_end,
        "open_at_stop": outcome.open_at_stop,
        "refused": outcome.refused,
        "refusals": outcome.refusals,
        "duplicates": outcome.duplicates,
        "triaged": outcome.triaged,
        "final_line": outcome.final_line(),
    });
    let text = serde_json::to_string_pretty(&summary).map_err(|e| SimulateError::Output {
        what: "run.json".into(),
        message: e.to_string(),
    })?;
    std::fs::write(dir.join("run.json"), text + "\n")
        .map_err(|e| SimulateError::io("writing run.json", e))
}

/// Local (Suzhou) time with its offset, as people read it: `2026-10-13T17:30:00+08:00`.
pub fn local_iso(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}
