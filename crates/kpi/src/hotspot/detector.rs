//! The detector: per-key counts in buckets, evaluated at the close of each bucket, and each
//! key's alert state. Pure: time comes in with each call ([`Detector::advance`]'s `now`, the
//! calls' own creation times), nothing is read from a clock.
//!
//! Memory is bounded by the calls of one window: a key with no call in the window and no alert
//! on is dropped, and so is a ticket id older than the window.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::poisson::ln_upper_tail;
use super::{Alert, Baseline, HotspotConfig, HotspotKey, Intake};

/// A change in the alerts that an evaluation made.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Raised(Alert),
    Cleared(Alert),
}

#[derive(Debug, Default)]
struct KeyState {
    /// Calls per bucket index, within the window (older buckets are dropped).
    buckets: BTreeMap<i64, u64>,
    alert: Option<On>,
}

#[derive(Debug)]
struct On {
    alert: Alert,
    /// The last evaluated bucket in which the window was still improbable.
    last_remarkable: i64,
}

#[derive(Debug)]
pub struct Detector {
    config: HotspotConfig,
    baseline: Baseline,
    keys: HashMap<HotspotKey, KeyState>,
    /// Ticket ids counted, with their bucket: a ticket changed again is not counted twice.
    seen: HashMap<String, i64>,
    /// The last bucket whose window has been evaluated.
    evaluated: Option<i64>,
}

impl Detector {
    /// A detector with `config` (validate it first) and no history: the floor everywhere
    /// until [`Detector::set_baseline`].
    pub fn new(config: HotspotConfig) -> Self {
        debug_assert!(config.validate().is_ok(), "{config:?}");
        let baseline = Baseline::empty(config.floor_per_hour);
        Self {
            config,
            baseline,
            keys: HashMap::new(),
            seen: HashMap::new(),
            evaluated: None,
        }
    }

    pub fn config(&self) -> &HotspotConfig {
        &self.config
    }

    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    pub fn set_baseline(&mut self, baseline: Baseline) {
        self.baseline = baseline;
    }

    fn bucket_ms(&self) -> i64 {
        self.config.bucket.num_milliseconds()
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp_millis().div_euclid(self.bucket_ms())
    }

    fn bucket_start(&self, bucket: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(bucket * self.bucket_ms()).unwrap_or_default()
    }

    /// Starts evaluating with the bucket holding `from` (earlier buckets are history): for a
    /// detector primed with the calls since `from`, so its first windows are whole.
    pub fn start_at(&mut self, from: DateTime<Utc>) {
        self.evaluated = Some(self.bucket_of(from) - 1);
    }

    /// Whether the call of `ticket_id` is counted already: a ticket changes many times, and
    /// the caller need not read it again to be told so.
    pub fn has_seen(&self, ticket_id: &str) -> bool {
        self.seen.contains_key(ticket_id)
    }

    /// Counts one call (once per ticket id); a call without a territory or category, or older
    /// than every window still to be evaluated, is not counted (and a later sighting of the
    /// same ticket, e.g. once it has a category, may count it then). Returns whether it counted the
    /// call now.
    pub fn observe(&mut self, call: &Intake) -> bool {
        if self.seen.contains_key(&call.ticket_id) {
            return false;
        }
        let keys = HotspotKey::of(&call.division, &call.category);
        if keys.is_empty() {
            return false;
        }
        let bucket = self.bucket_of(call.at);
        let window = self.config.window_buckets();
        if let Some(done) = self.evaluated {
            // Windows still to come end after `done`: they cover buckets after done - window.
            if bucket <= done + 1 - window {
                return false;
            }
        }
        self.seen.insert(call.ticket_id.clone(), bucket);
        for key in keys {
            *self
                .keys
                .entry(key)
                .or_default()
                .buckets
                .entry(bucket)
                .or_default() += 1;
        }
        true
    }

    /// Evaluates every bucket that ended at least the grace before `now` and was not evaluated
    /// yet, in order; returns the alerts raised and cleared.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        let last_closed = self.bucket_of(now - self.config.grace) - 1;
        let mut next = match self.evaluated {
            Some(done) => done + 1,
            None => last_closed,
        };
        let mut transitions = Vec::new();
        while next <= last_closed {
            if self.keys.is_empty() {
                // Nothing counted and nothing on: every evaluation up to now would find
                // nothing (so an idle detector catches up in one step).
                next = last_closed;
            }
            self.evaluate(next, &mut transitions);
            self.evaluated = Some(next);
            next += 1;
        }
        transitions
    }

    /// The usual calls in the window ending with bucket `end`, and in its suffixes.
    fn expected(&self, key: &HotspotKey, bucket: i64) -> f64 {
        let hours = self.config.bucket.num_milliseconds() as f64 / 3_600_000.0;
        self.baseline.rate_per_hour(key, self.bucket_start(bucket)) * hours
    }

    fn evaluate(&mut self, end: i64, transitions: &mut Vec<Transition>) {
        let window = self.config.window_buckets();
        let first = end - window + 1;
        let ln_p = self.config.p_value.ln();
        let min_count = u64::from(self.config.min_count);
        let cool_buckets = self.config.cool_down.num_milliseconds() / self.bucket_ms();
        // The tail's logarithm when the count is worth testing, else None.
        let tail = |count: u64, expected: f64| {
            (count >= min_count)
                .then(|| ln_upper_tail(count, expected))
                .filter(|tail| *tail <= ln_p)
        };
        // Evaluate in key order so the transitions come out in the same order everywhere.
        let mut keys: Vec<HotspotKey> = self.keys.keys().cloned().collect();
        keys.sort();
        for key in keys {
            // The window's count and expectation, bucket by bucket from the newest, noting
            // the start from which the calls are the most improbable: the onset (calls before
            // it are the usual background, which only makes the tail less extreme).
            let mut count = 0;
            let mut expected = 0.0;
            let mut onset: Option<(f64, i64)> = None;
            let mut window_tail = None;
            for bucket in (first..=end).rev() {
                count += self.keys[&key].buckets.get(&bucket).copied().unwrap_or(0);
                expected += self.expected(&key, bucket);
                window_tail = tail(count, expected);
                if let Some(t) = window_tail {
                    if onset.is_none_or(|(best, _)| t <= best) {
                        onset = Some((t, bucket));
                    }
                }
            }
            let now_remarkable = window_tail.is_some();
            let raised_at = self.bucket_start(end + 1);
            let since = onset
                .map(|(_, b)| self.bucket_start(b))
                .unwrap_or(raised_at);
            let state = self.keys.get_mut(&key).expect("key listed above");
            match (&mut state.alert, now_remarkable) {
                (None, true) => {
                    let alert = Alert {
                        id: format!(
                            "{}:{}:{}:{}",
                            key.level.code(),
                            key.territory,
                            key.category,
                            raised_at.timestamp()
                        ),
                        key: key.clone(),
                        count,
                        peak: count,
                        expected,
                        window: self.config.window,
                        since,
                        raised_at,
                        cleared_at: None,
                    };
                    transitions.push(Transition::Raised(alert.clone()));
                    state.alert = Some(On {
                        alert,
                        last_remarkable: end,
                    });
                }
                (Some(on), true) => {
                    on.alert.count = count;
                    on.alert.peak = on.alert.peak.max(count);
                    on.alert.expected = expected;
                    on.last_remarkable = end;
                }
                (Some(on), false) => {
                    on.alert.count = count;
                    on.alert.expected = expected;
                    if end - on.last_remarkable >= cool_buckets {
                        let mut alert = state.alert.take().expect("matched Some").alert;
                        alert.cleared_at = Some(raised_at);
                        transitions.push(Transition::Cleared(alert));
                    }
                }
                (None, false) => {}
            }
        }
        // Forget what no later window will cover.
        let keep_from = end - window + 2;
        self.keys.retain(|_, state| {
            state.buckets.retain(|bucket, _| *bucket >= keep_from);
            !state.buckets.is_empty() || state.alert.is_some()
        });
        self.seen.retain(|_, bucket| *bucket >= keep_from);
    }

    /// The alerts on now, newest first (ties in key order).
    pub fn active(&self) -> Vec<Alert> {
        let mut alerts: Vec<Alert> = self
            .keys
            .values()
            .filter_map(|state| state.alert.as_ref().map(|on| on.alert.clone()))
            .collect();
        alerts.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then(a.key.cmp(&b.key)));
        alerts
    }

    /// Keys and ticket ids held (for the bounded-memory test and a gauge).
    pub fn held(&self) -> (usize, usize) {
        (self.keys.len(), self.seen.len())
    }
}
