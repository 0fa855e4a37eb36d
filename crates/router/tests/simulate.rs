//! `hotline simulate` on the real engine (SQLite in a temporary directory, in-process queues,
//! the shipped catalogue, policy and calendar), on its virtual clock: outcomes worked out by
//! hand, reproducibility, a surge, and a holiday week.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use hotline_router::simulate::Factory;
use hotline_simulate::runner::{self, RunOptions};
use hotline_simulate::{cli, EngineFactory, Outcome};

fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Runs a scenario given as text with `seed` on a fresh engine.
async fn simulate(text: &str, seed: u64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    simulate_file(&path, seed).await
}

async fn simulate_file(path: &std::path::Path, seed: u64) -> Outcome {
    simulate_on(path, seed, None).await
}

/// The same on the store at `database_url` (PostgreSQL), or SQLite in a temp dir if `None`.
async fn simulate_on(path: &std::path::Path, seed: u64, database_url: Option<String>) -> Outcome {
    let factory = Factory::new(database_url, None).unwrap();
    let scenario = cli::load_scenario(path, &shared_data(), &factory).unwrap();
    let engine = factory
        .open(scenario.starts_at(), cli::policy_at_start(&scenario))
        .await
        .unwrap();
    runner::run(&scenario, engine.as_ref(), RunOptions::new(seed))
        .await
        .unwrap()
}

fn suzhou(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// One community service station with one member; three calls at 09:00, 09:10 and 09:20 on
/// Monday 2026-03-02; signing takes her an hour, writing a reply half an hour, each case a day.
const TINY: &str = r#"
name = "tiny"
start = "2026-03-02"
days = 1
drain_days = 14

[arrivals]
per_day = 0
categories = { "SQ.WYBX" = 1 }
natures = { help = 1 }
territory = { "320508021019" = 1 }
times = ["2026-03-02T09:00", "2026-03-02T09:10", "2026-03-02T09:20"]

[staff]
default = 1

[behaviour]
sign_for = { dist = "fixed", value = "1 h" }
handle = { dist = "fixed", value = "30 min" }
resolve = { dist = "fixed", value = "1 d" }
returns = 0
extensions = 0
dissatisfied = 0
review = "20 min"
callback = "4 h"
"#;

#[tokio::test]
async fn a_tiny_scenario_comes_out_as_worked_by_hand() {
    tiny_scenario_as_worked_by_hand(simulate(TINY, 1).await);
}

#[tokio::test]
async fn a_tiny_scenario_comes_out_as_worked_by_hand_on_postgresql() {
    let database = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, TINY).unwrap();
    tiny_scenario_as_worked_by_hand(simulate_on(&path, 1, Some(database)).await);
}

fn tiny_scenario_as_worked_by_hand(outcome: Outcome) {
    // By hand: the member signs at 10:00, 11:00 and 12:00 (an hour each, in queue order). The
    // sign-for limit is 2 working hours from the dispatch: 11:00, 11:10, 11:20. So the third
    // is late: its yellow light comes at 10:56 (20% of the span before), its red at 11:20; the
    // second's yellow at 10:46, and she signs it at 11:00, in time. Each case is ready a day
    // after its sign-for and replied in half an hour, far inside 5 working days.
    let lines = &outcome.ticket_lines;
    assert_eq!(lines.len(), 3);
    let signed: Vec<_> = lines.iter().map(|l| l.signed_at.unwrap()).collect();
    assert_eq!(
        signed,
        vec![
            suzhou(2026, 3, 2, 10, 0),
            suzhou(2026, 3, 2, 11, 0),
            suzhou(2026, 3, 2, 12, 0)
        ]
    );
    let due: Vec<_> = lines.iter().map(|l| l.sign_for_due.unwrap()).collect();
    assert_eq!(
        due,
        vec![
            suzhou(2026, 3, 2, 11, 0),
            suzhou(2026, 3, 2, 11, 10),
            suzhou(2026, 3, 2, 11, 20)
        ]
    );
    let replied: Vec<_> = lines.iter().map(|l| l.replied_at.unwrap()).collect();
    assert_eq!(
        replied,
        vec![
            suzhou(2026, 3, 3, 10, 30),
            suzhou(2026, 3, 3, 11, 30),
            suzhou(2026, 3, 3, 12, 30)
        ]
    );
    assert!(lines.iter().all(|l| l.station == "320508021019-css"));
    assert!(lines.iter().all(|l| l.closed_at.is_some()));
    assert_eq!(outcome.escalations.warnings, 2);
    assert_eq!(outcome.escalations.breaches, 1);
    assert_eq!(outcome.overall.sign_for_on_time.numerator, 2);
    assert_eq!(outcome.overall.sign_for_on_time.denominator, 3);
    assert_eq!(outcome.overall.resolved_on_time.numerator, 3);
    assert_eq!(outcome.overall.closed, 3);
    assert_eq!(outcome.refused, 0);
    // All three are still open at midnight, the end of the period.
    assert_eq!(
        outcome.final_line(),
        "simulated tickets=3 sign_for_on_time=0.6667 resolved_on_time=1.0000 backlog_end=3 breaches=1"
    );
}

/// Two days of 姑苏区 at 150 requests a working day, with the shipped defaults otherwise:
/// the labelled messages' category mix, returns, extensions, redo, the fitted resolve time.
const SMALL: &str = r#"
name = "small"
start = "2026-03-03"
days = 2
drain_days = 10

[arrivals]
per_day = 150
territory = { "320508" = 1 }

[behaviour]
resolve = { dist = "lognormal", median = "2 d", sigma = 0.8 }
returns = 0.05
extensions = 0.1
dissatisfied = 0.1
"#;

#[tokio::test]
async fn the_same_seed_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.toml");
    std::fs::write(&path, SMALL).unwrap();
    let a = simulate_file(&path, 7).await;
    let b = simulate_file(&path, 7).await;
    assert!(a.ticket_lines == b.ticket_lines, "tickets differ");
    assert!(a.samples == b.samples, "backlog samples differ");
    assert!(a == b, "outcomes differ");
    assert!(a.tickets == 300, "{}", a.tickets);
    // The files, byte for byte (the tables, the record, the charts).
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (outcome, dir) in [(&a, da.path()), (&b, db.path())] {
        hotline_simulate::report::write_files(outcome, dir).unwrap();
        hotline_simulate::charts::write_all(outcome, dir).unwrap();
    }
    let mut names: Vec<_> = std::fs::read_dir(da.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    for name in names {
        let (x, y) = (
            std::fs::read(da.path().join(&name)).unwrap(),
            std::fs::read(db.path().join(&name)).unwrap(),
        );
        assert!(
            x == y,
            "{name:?} differs between two runs with the same seed"
        );
    }
    // The record says how to run it again.
    assert_eq!(a.record.seed, 7);
    assert!(a.record.engine.starts_with("hotline-router "));
    assert_eq!(a.record.scenario, "small");
    // And another seed is another day.
    let c = simulate_file(&path, 8).await;
    assert_ne!(a.ticket_lines, c.ticket_lines);
}

/// A week-day of 姑苏区 and 吴中区; the surge adds 300 城乡建设 requests in 吴中区 between
/// 09:00 and 13:00.
fn surge_scenario(surge: bool) -> String {
    let mut text = String::from(
        r#"
name = "surge"
start = "2026-03-04"
days = 1
drain_days = 5

[arrivals]
per_day = 200
territory = { "320508" = 1, "320506" = 1 }
categories = { CJ = 1, LS = 1 }

[staff]
default = 2

[behaviour]
resolve = { dist = "fixed", value = "3 d" }
"#,
    );
    if surge {
        text.push_str(
            r#"
[[event]]
kind = "surge"
category = "CJ"
territory = "320506"
start = "2026-03-04T09:00"
hours = 4
tickets = 300
"#,
        );
    }
    text
}

#[tokio::test]
async fn a_surge_raises_the_backlog_where_it_should() {
    let calm = simulate(&surge_scenario(false), 3).await;
    let surge = simulate(&surge_scenario(true), 3).await;
    assert_eq!(surge.tickets, calm.tickets + 300);
    let at = suzhou(2026, 3, 4, 13, 0);
    let backlog = |o: &Outcome, district: &str| {
        o.samples
            .iter()
            .find(|s| s.at == at)
            .map(|s| s.backlog_by_district.get(district).copied().unwrap_or(0))
            .unwrap()
    };
    // 吴中区 carries the surge: 300 more requests in four hours than its stations can close
    // that fast (each case takes three days).
    assert!(
        backlog(&surge, "320506") >= backlog(&calm, "320506") + 290,
        "吴中区 {} vs {}",
        backlog(&surge, "320506"),
        backlog(&calm, "320506")
    );
    // 姑苏区's stations saw none of it: its backlog, hour by hour, is the calm day's.
    let series = |o: &Outcome| -> Vec<u32> {
        o.samples
            .iter()
            .map(|s| s.backlog_by_district.get("320508").copied().unwrap_or(0))
            .collect()
    };
    let (a, b) = (series(&calm), series(&surge));
    let n = a.len().min(b.len());
    assert!(n > 24);
    assert_eq!(a[..n], b[..n]);
    // And its stations kept their on-time sign-for; 吴中区's street offices did not.
    let sign = |o: &Outcome, district: &str| {
        o.districts
            .iter()
            .find(|r| r.key == district)
            .map(|r| r.figures.sign_for_on_time.rate)
            .unwrap()
    };
    assert_eq!(sign(&calm, "320508"), sign(&surge, "320508"));
    assert!(sign(&surge, "320506") < sign(&calm, "320506"));
}

/// Two requests on the eve of National Day 2026 (holidays 1-7 October, Saturday 10 October
/// a working day), and the same two three weeks earlier, in an ordinary week. Signing takes
/// the station's one member an hour.
fn eve(day: &str) -> String {
    format!(
        r#"
name = "eve"
start = "{day}"
days = 1
drain_days = 20

[arrivals]
per_day = 0
categories = {{ "SQ.WYBX" = 1 }}
natures = {{ help = 1 }}
territory = {{ "320508021019" = 1 }}
times = ["{day}T09:00", "{day}T16:50"]

[staff]
default = 1

[behaviour]
sign_for = {{ dist = "fixed", value = "1 h" }}
handle = {{ dist = "fixed", value = "10 min" }}
resolve = {{ dist = "fixed", value = "1 h" }}
returns = 0
extensions = 0
dissatisfied = 0
"#
    )
}

#[tokio::test]
async fn a_holiday_week_stretches_deadlines_as_the_calendar_says() {
    // Wednesday 30 September: signed 10:00; five working days from the day after: 8 Oct
    // (Thu), 9 (Fri), 10 (the make-up Saturday), 12 (Mon), 13 (Tue): due at the close of 13
    // October, 17:30.
    let holiday = simulate(&eve("2026-09-30"), 1).await;
    let first = &holiday.ticket_lines[0];
    assert_eq!(first.signed_at, Some(suzhou(2026, 9, 30, 10, 0)));
    assert_eq!(first.resolution_due, Some(suzhou(2026, 10, 13, 17, 30)));
    // 16:50: two working hours to sign for it are 40 minutes that day and 80 on the first
    // day back: due 8 October 10:20. The member's hour of signing also spans the holiday: 40
    // minutes on 30 September, 20 on 8 October: signed 09:20; due five working days later,
    // the make-up Saturday counted: 14 October.
    let second = &holiday.ticket_lines[1];
    assert_eq!(second.sign_for_due, Some(suzhou(2026, 10, 8, 10, 20)));
    assert_eq!(second.signed_at, Some(suzhou(2026, 10, 8, 9, 20)));
    assert_eq!(second.resolution_due, Some(suzhou(2026, 10, 14, 17, 30)));
    // The same requests on Wednesday 9 September: five working days is a week (due 16
    // September), and the late call is signed the next morning, due the 17th.
    let ordinary = simulate(&eve("2026-09-09"), 1).await;
    let (first, second) = (&ordinary.ticket_lines[0], &ordinary.ticket_lines[1]);
    assert_eq!(first.resolution_due, Some(suzhou(2026, 9, 16, 17, 30)));
    assert_eq!(second.sign_for_due, Some(suzhou(2026, 9, 10, 10, 20)));
    assert_eq!(second.signed_at, Some(suzhou(2026, 9, 10, 9, 20)));
    assert_eq!(second.resolution_due, Some(suzhou(2026, 9, 17, 17, 30)));
    // Both were on time; in the holiday week, by six more calendar days.
    assert_eq!(holiday.overall.resolved_on_time.numerator, 2);
    assert_eq!(ordinary.overall.resolved_on_time.numerator, 2);
}

/// Six calls between 09:00 and 09:05 at one community service station; signing takes a
/// member an hour, and sign-for is due two working hours after each call.
const SIX_CALLS: &str = r#"
name = "six calls"
start = "2026-03-02"
days = 1
drain_days = 10

[arrivals]
categories = { "SQ.WYBX" = 1 }
natures = { help = 1 }
territory = { "320508021019" = 1 }
times = ["2026-03-02T09:00", "2026-03-02T09:01", "2026-03-02T09:02", "2026-03-02T09:03", "2026-03-02T09:04", "2026-03-02T09:05"]

[behaviour]
sign_for = { dist = "fixed", value = "1 h" }
handle = { dist = "fixed", value = "10 min" }
resolve = { dist = "fixed", value = "1 h" }
returns = 0
extensions = 0
dissatisfied = 0
"#;

#[tokio::test]
async fn the_capacity_search_finds_the_least_staff_worked_out_by_hand() {
    // By hand: with two members the fifth call (09:04, due 11:04) waits for the first member
    // free after two signings, at 11:00, and is signed at 12:00: late. With three, the fourth
    // to sixth calls are signed at 11:00-11:02, each before its 11:03-11:05 deadline.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("six.toml");
    std::fs::write(&path, SIX_CALLS).unwrap();
    let factory = Factory::new(None, None).unwrap();
    let scenario = cli::load_scenario(&path, &shared_data(), &factory).unwrap();
    let found = hotline_simulate::capacity::find_staff(
        &scenario,
        &factory,
        &RunOptions::new(1),
        1.0,
        8,
        |_, _, _| {},
    )
    .await
    .unwrap();
    assert_eq!(found.kinds.len(), 1);
    let css = &found.kinds[0];
    assert_eq!(
        (css.kind.0, css.kind.1),
        (
            hotline_directory::Level::Community,
            hotline_directory::StationKind::CommunityService
        )
    );
    assert_eq!(css.staff, Some(3));
    assert_eq!(found.check.overall.sign_for_on_time.rate, 1.0);
    // 8 to start, then 4, 2, 3, and the check.
    assert_eq!(found.runs, 5);
}
