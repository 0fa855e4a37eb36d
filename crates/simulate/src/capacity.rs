//! `--find-staff`: the least staff per station kind that reaches a target on-time rate.
//!
//! Bisection over repeated runs, all kinds at once: each round runs the scenario once with
//! every kind at the middle of its own bracket, and moves each kind's bracket by that kind's
//! own figures (the lower of its 及时签收率 and 按时办结率). Kinds share little (a ticket is
//! signed and replied by one station; only returns cross to the district office), so one run a
//! round serves every kind, and the search takes about log2(max) runs instead of that many per
//! kind. A last run with the answer checks it whole: a kind that fell short there (the
//! interactions after all) gets one more member and the check is repeated.
//!
//! Staff cannot buy everything: if a kind misses the target even at `max_staff` (its cases
//! take longer than the deadline whatever the queue), the search says so with the rate reached.

use std::collections::BTreeMap;

use hotline_directory::{Level, StationKind};

use crate::behaviour::Staffing;
use crate::engine::EngineFactory;
use crate::report::{Outcome, Row};
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use crate::SimulateError;

/// What the search found for one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KindResult {
    pub kind: (Level, StationKind),
    /// The least staff reaching the target, or `None` when `max_staff` does not.
    pub staff: Option<u32>,
    /// The kind's rate with the staff found (or at `max_staff`).
    pub rate: f64,
}

/// The search's answer and the check run with it.
#[derive(Debug, Clone)]
pub struct Found {
    pub kinds: Vec<KindResult>,
    pub staffing: Staffing,
    pub runs: usize,
    pub check: Outcome,
}

fn kind_rate(row: &Row) -> f64 {
    let f = &row.figures;
    // A kind with nothing due on a clock is not short on that clock.
    let sign = if f.sign_for_on_time.denominator == 0 {
        1.0
    } else {
        f.sign_for_on_time.rate
    };
    let resolved = if f.resolved_on_time.denominator == 0 {
        1.0
    } else {
        f.resolved_on_time.rate
    };
    sign.min(resolved)
}

fn parse_kind(key: &str) -> Option<(Level, StationKind)> {
    let (level, kind) = key.split_once(':')?;
    Some((
        Level::parse("level", level).ok()?,
        StationKind::parse("kind", kind).ok()?,
    ))
}

fn rates(outcome: &Outcome) -> BTreeMap<(Level, StationKind), f64> {
    outcome
        .station_kinds
        .iter()
        .filter_map(|row| parse_kind(&row.key).map(|k| (k, kind_rate(row))))
        .collect()
}

fn staffing_with(base: &Staffing, counts: &BTreeMap<(Level, StationKind), u32>) -> Staffing {
    let mut staffing = base.clone();
    for ((level, kind), n) in counts {
        staffing.by_kind.insert((Some(*level), *kind), *n);
    }
    staffing
}

/// Runs the search. `progress` is told each round's staffing and result.
pub async fn find_staff(
    scenario: &Scenario,
    factory: &dyn EngineFactory,
    options: &RunOptions,
    target: f64,
    max_staff: u32,
    mut progress: impl FnMut(usize, &Staffing, &Outcome),
) -> Result<Found, SimulateError> {
    let mut runs = 0usize;
    let run_with = |staffing: Staffing| {
        let scenario = scenario.with_staff(staffing);
        let options = options.clone();
        async move {
            let engine = factory
                .open(scenario.starts_at(), crate::cli::policy_at_start(&scenario))
                .await?;
            runner::run(&scenario, engine.as_ref(), options).await
        }
    };
    // Which kinds get work at all, and whether the most staff reaches the target.
    let ceiling = Staffing {
        default: max_staff,
        by_kind: BTreeMap::new(),
    };
    let top = run_with(ceiling.clone()).await?;
    runs += 1;
    progress(runs, &ceiling, &top);
    let top_rates = rates(&top);
    // (low: misses or untried, high: reaches) per kind that can reach the target.
    let mut brackets: BTreeMap<(Level, StationKind), (u32, u32)> = BTreeMap::new();
    let mut unreachable: BTreeMap<(Level, StationKind), f64> = BTreeMap::new();
    for (kind, rate) in &top_rates {
        if *rate >= target {
            brackets.insert(*kind, (0, max_staff));
        } else {
            unreachable.insert(*kind, *rate);
        }
    }
    if brackets.is_empty() {
        // Nothing staff can buy: the run at the most staff is the answer.
        let mut kinds: Vec<KindResult> = unreachable
            .iter()
            .map(|(k, rate)| KindResult {
                kind: *k,
                staff: None,
                rate: *rate,
            })
            .collect();
        kinds.sort_by_key(|k| k.kind);
        return Ok(Found {
            kinds,
            staffing: ceiling,
            runs,
            check: top,
        });
    }
    loop {
        let open: Vec<_> = brackets
            .iter()
            .filter(|(_, (lo, hi))| hi - lo > 1)
            .map(|(k, _)| *k)
            .collect();
        if open.is_empty() {
            break;
        }
        let mut counts: BTreeMap<(Level, StationKind), u32> = BTreeMap::new();
        for (kind, (lo, hi)) in &brackets {
            counts.insert(*kind, if hi - lo > 1 { lo + (hi - lo) / 2 } else { *hi });
        }
        for kind in unreachable.keys() {
            counts.insert(*kind, max_staff);
        }
        let staffing = staffing_with(&ceiling, &counts);
        let outcome = run_with(staffing.clone()).await?;
        runs += 1;
        progress(runs, &staffing, &outcome);
        let got = rates(&outcome);
        for kind in open {
            let mid = counts[&kind];
            let reached = got.get(&kind).is_none_or(|r| *r >= target);
            let bracket = brackets.get_mut(&kind).expect("open kinds have brackets");
            if reached {
                bracket.1 = mid;
            } else {
                bracket.0 = mid;
            }
        }
    }
    // The check: everything at its answer; a kind short there gets one more, a few times.
    let mut counts: BTreeMap<(Level, StationKind), u32> = brackets
        .iter()
        .map(|(k, (_, hi))| (*k, (*hi).max(1)))
        .collect();
    for kind in unreachable.keys() {
        counts.insert(*kind, max_staff);
    }
    let mut check;
    let mut attempts = 0;
    loop {
        let staffing = staffing_with(&ceiling, &counts);
        check = run_with(staffing.clone()).await?;
        runs += 1;
        progress(runs, &staffing, &check);
        let got = rates(&check);
        let short: Vec<_> = brackets
            .keys()
            .filter(|k| got.get(k).is_some_and(|r| *r < target))
            .copied()
            .collect();
        attempts += 1;
        if short.is_empty() || attempts >= 5 {
            break;
        }
        for kind in short {
            let n = counts.get_mut(&kind).expect("bracketed kinds are counted");
            *n = (*n + 1).min(max_staff);
        }
    }
    let got = rates(&check);
    let mut kinds: Vec<KindResult> = brackets
        .keys()
        .map(|k| KindResult {
            kind: *k,
            staff: Some(counts[k]),
            rate: got.get(k).copied().unwrap_or(1.0),
        })
        .collect();
    kinds.extend(unreachable.iter().map(|(k, rate)| KindResult {
        kind: *k,
        staff: None,
        rate: *rate,
    }));
    kinds.sort_by_key(|k| k.kind);
    Ok(Found {
        kinds,
        staffing: staffing_with(&ceiling, &counts),
        runs,
        check,
    })
}
