//! Calibrated confidence, and dispatch by a target error rate.
//!
//! The per-label SVMs give decision values, not probabilities: a softmax over them with a fixed
//! scale says "0.8" whether the model is right four times in five or nineteen in twenty. A
//! centre that wants "at most 2% misrouted" needs probabilities it can trust, so
//! [`train_calibrated`]:
//! 1. trains the model `k` times, each time on all but one fold of the messages (a message's
//!    body and title stay in one fold: they are one call), and keeps every message's decision
//!    values from the model that did not see it (out-of-fold);
//! 2. fits one softmax scale (temperature scaling, Guo et al. 2017) by maximum likelihood on
//!    those values: one parameter cannot overfit a few thousand messages, and it never changes
//!    which label ranks first, so accuracy is untouched;
//! 3. picks the dispatch threshold: the lowest top-label probability at which the messages
//!    dispatched on their own (probability at or above it) were right at least
//!    `1 - max_misroute` of the time, out of fold;
//! 4. trains the final model on every message and stores the scale and the threshold in it.
//!
//! [`reliability`] and [`coverage_curve`] are what `hotline eval` prints: the expected
//! calibration error (ECE) over equal-width probability bins, and precision against coverage.

use serde::{Deserialize, Serialize};

use crate::error::ClassifyError;
use crate::model::{self, argmax, Example, Model, TrainOptions};
use crate::split;

/// The softmax scale of a model trained without calibration: a margin lead of 1.0 between the
/// first two labels gives the first about 88% of their combined score.
pub const DEFAULT_SCALE: f32 = 2.0;
/// The threshold stored when no threshold reaches the target on the folds: above any
/// probability, so nothing is dispatched without a person.
pub const NEVER: f32 = 1.01;

/// What calibration stored in a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The softmax scale fitted on out-of-fold decision values.
    pub scale: f32,
    /// Folds the out-of-fold values came from.
    pub folds: usize,
    /// Out-of-fold predictions the scale and threshold were fitted on.
    pub examples: usize,
    /// Expected calibration error of the out-of-fold probabilities with `scale`.
    pub ece: f64,
    /// The dispatch threshold, when a target error rate was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<Selective>,
}

/// Dispatch on its own only at or above `threshold`; chosen so that, out of fold, the
/// dispatched share (`coverage`) was right `precision` of the time, at least `1 - max_misroute`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Selective {
    pub max_misroute: f64,
    /// A top-label probability; [`NEVER`] when no threshold reached the target.
    pub threshold: f32,
    pub coverage: f64,
    pub precision: f64,
}

impl Selective {
    /// One line for logs and explanations.
    pub fn describe(&self) -> String {
        if self.threshold > 1.0 {
            format!(
                "no probability kept misroutes under {:.1}% on held-out folds: every ticket goes to triage",
                self.max_misroute * 100.0
            )
        } else {
            format!(
                "threshold {:.2} for at most {:.1}% misrouted (held-out folds: {:.1}% dispatched, {:.1}% right)",
                self.threshold,
                self.max_misroute * 100.0,
                self.coverage * 100.0,
                self.precision * 100.0
            )
        }
    }
}

/// One prediction seen from outside: the top label's probability and whether it was right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub confidence: f32,
    pub correct: bool,
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean top-label probability in the bin (0 when empty).
    pub confidence: f64,
    /// Share right in the bin (0 when empty).
    pub accuracy: f64,
}

/// A reliability table and its expected calibration error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reliability {
    pub bins: Vec<Bin>,
    /// `sum(count / n * |accuracy - confidence|)` over the bins.
    pub ece: f64,
}

/// One point of the precision/coverage curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Share of messages dispatched (the most confident first).
    pub coverage: f64,
    /// Share of those that were right.
    pub precision: f64,
    /// The lowest probability dispatched.
    pub threshold: f32,
}

/// `softmax(scale * margins)`, written into `out`.
pub fn softmax_into(margins: &[f32], scale: f32, out: &mut Vec<f32>) {
    out.clear();
    let max = margins.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) * scale;
    out.extend(margins.iter().map(|&m| (m * scale - max).exp()));
    let total: f32 = out.iter().sum();
    if total > 0.0 && total.is_finite() {
        out.iter_mut().for_each(|p| *p /= total);
    }
}

/// Mean negative log-likelihood of the gold labels under `softmax(scale * margins)`.
fn nll(oof: &[(Vec<f32>, usize)], scale: f64) -> f64 {
    let mut sum = 0.0;
    for (margins, gold) in oof {
        let max = margins
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)))
            * scale;
        let log_total = margins
            .iter()
            .map(|&m| (f64::from(m) * scale - max).exp())
            .sum::<f64>()
            .ln()
            + max;
        sum += log_total - f64::from(margins[*gold]) * scale;
    }
    sum / oof.len().max(1) as f64
}

/// The softmax scale that maximises the likelihood of the gold labels: a golden-section
/// search on its logarithm (the negative log-likelihood is convex in the scale).
pub fn fit_scale(oof: &[(Vec<f32>, usize)]) -> f32 {
    if oof.is_empty() {
        return DEFAULT_SCALE;
    }
    let (mut low, mut high) = ((0.01_f64).ln(), (200.0_f64).ln());
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    let mut a = high - ratio * (high - low);
    let mut b = low + ratio * (high - low);
    let (mut fa, mut fb) = (nll(oof, a.exp()), nll(oof, b.exp()));
    for _ in 0..80 {
        if fa <= fb {
            high = b;
            b = a;
            fb = fa;
            a = high - ratio * (high - low);
            fa = nll(oof, a.exp());
        } else {
            low = a;
            a = b;
            fa = fb;
            b = low + ratio * (high - low);
            fb = nll(oof, b.exp());
        }
    }
    ((low + high) / 2.0).exp() as f32
}

/// The top label's probability under `scale`, and whether it is the gold label.
pub fn score_out_of_fold(oof: &[(Vec<f32>, usize)], scale: f32) -> Vec<Scored> {
    let mut probabilities = Vec::new();
    oof.iter()
        .map(|(margins, gold)| {
            softmax_into(margins, scale, &mut probabilities);
            let top = argmax(&probabilities);
            Scored {
                confidence: probabilities[top],
                correct: top == *gold,
            }
        })
        .collect()
}

/// The reliability table over `bins` equal-width bins of `[0, 1]`, and the ECE.
pub fn reliability(scored: &[Scored], bins: usize) -> Reliability {
    let bins = bins.max(1);
    let mut count = vec![0_usize; bins];
    let mut confidence = vec![0.0_f64; bins];
    let mut correct = vec![0_usize; bins];
    for s in scored {
        let at = ((f64::from(s.confidence) * bins as f64) as usize).min(bins - 1);
        count[at] += 1;
        confidence[at] += f64::from(s.confidence);
        correct[at] += usize::from(s.correct);
    }
    let n = scored.len().max(1) as f64;
    let mut ece = 0.0;
    let table = (0..bins)
        .map(|b| {
            let (mean, accuracy) = if count[b] == 0 {
                (0.0, 0.0)
            } else {
                (
                    confidence[b] / count[b] as f64,
                    correct[b] as f64 / count[b] as f64,
                )
            };
            ece += count[b] as f64 / n * (accuracy - mean).abs();
            Bin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                confidence: mean,
                accuracy,
            }
        })
        .collect();
    Reliability { bins: table, ece }
}

/// Most confident first, ties kept together.
fn by_confidence(scored: &[Scored]) -> Vec<Scored> {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    sorted
}

/// The lowest threshold whose dispatched share is right at least `1 - max_misroute` of the
/// time. Only cut points between different probabilities count: a threshold dispatches every
/// message at or above it, ties included.
pub fn choose_threshold(scored: &[Scored], max_misroute: f64) -> Selective {
    let sorted = by_confidence(scored);
    let target = 1.0 - max_misroute;
    let mut right = 0_usize;
    let mut best: Option<(usize, usize)> = None;
    for (i, s) in sorted.iter().enumerate() {
        right += usize::from(s.correct);
        let boundary = sorted
            .get(i + 1)
            .is_none_or(|next| next.confidence < s.confidence);
        // A tiny tolerance: 49 right of 50 is exactly 98%, whatever the float rounding.
        if boundary && right as f64 / (i + 1) as f64 >= target - 1e-12 {
            best = Some((i + 1, right));
        }
    }
    match best {
        Some((dispatched, right)) => Selective {
            max_misroute,
            threshold: sorted[dispatched - 1].confidence,
            coverage: dispatched as f64 / sorted.len() as f64,
            precision: right as f64 / dispatched as f64,
        },
        None => Selective {
            max_misroute,
            threshold: NEVER,
            coverage: 0.0,
            precision: 0.0,
        },
    }
}

/// The share dispatched at `threshold` and the share of those that were right.
pub fn selective_at(scored: &[Scored], threshold: f32) -> (f64, f64) {
    let dispatched: Vec<&Scored> = scored
        .iter()
        .filter(|s| s.confidence >= threshold)
        .collect();
    let right = dispatched.iter().filter(|s| s.correct).count();
    (
        dispatched.len() as f64 / scored.len().max(1) as f64,
        if dispatched.is_empty() {
            0.0
        } else {
            right as f64 / dispatched.len() as f64
        },
    )
}

/// Precision at coverage 10%, 20%, ..., 100% (the most confident first).
pub fn coverage_curve(scored: &[Scored]) -> Vec<CurvePoint> {
    let sorted = by_confidence(scored);
    if sorted.is_empty() {
        return Vec::new();
    }
    (1..=10)
        .map(|tenth| {
            let take = (sorted.len() * tenth).div_ceil(10).clamp(1, sorted.len());
            let right = sorted[..take].iter().filter(|s| s.correct).count();
            CurvePoint {
                coverage: take as f64 / sorted.len() as f64,
                precision: right as f64 / take as f64,
                threshold: sorted[take - 1].confidence,
            }
        })
        .collect()
}

/// How to calibrate.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrateOptions {
    /// Cross-validation folds (at least 2).
    pub folds: usize,
    /// The misroute rate the centre accepts among tickets dispatched without a person; `None`
    /// stores no threshold (the model's margin decides, as without calibration).
    pub max_misroute: Option<f64>,
    /// Seeds the fold assignment.
    pub seed: u64,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            max_misroute: None,
            seed: 777,
        }
    }
}

/// What calibration measured on the folds, for the trainer to print.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationReport {
    pub calibration: Calibration,
    /// Out of fold with [`DEFAULT_SCALE`], for comparison.
    pub before: Reliability,
    /// Out of fold with the fitted scale.
    pub after: Reliability,
    pub curve: Vec<CurvePoint>,
    /// Macro-F1 of the out-of-fold predictions (every example, bodies and extra texts alike).
    pub macro_f1: f64,
}

/// Trains on `examples` with out-of-fold calibration (see the module docs). `groups[i]` names
/// the call example `i` came from: examples of one group never straddle folds.
pub fn train_calibrated(
    examples: &[Example],
    groups: &[usize],
    options: &TrainOptions,
    calibrate: &CalibrateOptions,
) -> Result<(Model, CalibrationReport), ClassifyError> {
    if groups.len() != examples.len() {
        return Err(ClassifyError::Data(format!(
            "{} groups for {} examples",
            groups.len(),
            examples.len()
        )));
    }
    if let Some(rate) = calibrate.max_misroute {
        if !(rate > 0.0 && rate < 1.0) {
            return Err(ClassifyError::Data(format!(
                "the accepted misroute rate must be between 0 and 1 (exclusive), not {rate}"
            )));
        }
    }
    let folds = fold_of_examples(examples, groups, calibrate.folds, calibrate.seed)?;
    let k = folds.iter().max().map_or(0, |m| m + 1);
    let model = model::train_examples(examples, options)?;
    let labels = model.labels().to_vec();
    let label_index = |label: &str| labels.iter().position(|l| l == label);
    let threads = model::worker_threads(options.threads);

    let mut oof: Vec<(Vec<f32>, usize)> = Vec::with_capacity(examples.len());
    let mut gold_names: Vec<&str> = Vec::with_capacity(examples.len());
    let mut predicted_names: Vec<String> = Vec::with_capacity(examples.len());
    for f in 0..k {
        let training: Vec<Example> = examples
            .iter()
            .zip(&folds)
            .filter(|(_, &fold)| fold != f)
            .map(|(e, _)| e.clone())
            .collect();
        let held: Vec<&Example> = examples
            .iter()
            .zip(&folds)
            .filter(|(_, &fold)| fold == f)
            .map(|(e, _)| e)
            .collect();
        let fold_model = model::train_examples(&training, options)?;
        // A label the fold never saw cannot be predicted: its margin is the lowest possible.
        let to_global: Vec<Option<usize>> =
            fold_model.labels().iter().map(|l| label_index(l)).collect();
        let margins: Vec<Vec<f32>> = model::parallel_map(&held, threads, |e| {
            let prediction = fold_model.predict(&e.text, 0);
            let mut margins = vec![f32::MIN / 4.0; labels.len()];
            for (label, margin) in prediction.ranked {
                if let Some(global) = to_global[label] {
                    margins[global] = margin;
                }
            }
            margins
        });
        for (e, m) in held.iter().zip(margins) {
            let gold = label_index(&e.label).expect("every training label is a model label");
            predicted_names.push(labels[argmax(&m)].clone());
            gold_names.push(&e.label);
            oof.push((m, gold));
        }
    }
    let before = reliability(&score_out_of_fold(&oof, DEFAULT_SCALE), 10);
    let scale = fit_scale(&oof);
    let scored = score_out_of_fold(&oof, scale);
    let after = reliability(&scored, 10);
    let selective = calibrate
        .max_misroute
        .map(|rate| choose_threshold(&scored, rate));
    let calibration = Calibration {
        scale,
        folds: k,
        examples: oof.len(),
        ece: after.ece,
        selective,
    };
    let predicted: Vec<&str> = predicted_names.iter().map(String::as_str).collect();
    let macro_f1 = crate::eval::EvalReport::from_pairs(&gold_names, &predicted).macro_f1;
    let model = model.with_calibration(calibration.clone());
    Ok((
        model,
        CalibrationReport {
            calibration,
            before,
            after,
            curve: coverage_curve(&scored),
            macro_f1,
        },
    ))
}

/// Each example's fold: groups are dealt to folds stratified by label (see [`split::folds`]).
/// Fewer folds than asked when a label has fewer calls than folds; an error when a label has
/// a single call, since no fold could both train on it and test it.
fn fold_of_examples(
    examples: &[Example],
    groups: &[usize],
    folds: usize,
    seed: u64,
) -> Result<Vec<usize>, ClassifyError> {
    if folds < 2 {
        return Err(ClassifyError::Data(format!(
            "calibration needs at least 2 folds, not {folds}"
        )));
    }
    // One representative (the first example) per group.
    let mut first: std::collections::BTreeMap<usize, usize> = Default::default();
    for (i, &g) in groups.iter().enumerate() {
        first.entry(g).or_insert(i);
    }
    let mut per_label: std::collections::BTreeMap<&str, usize> = Default::default();
    for &i in first.values() {
        *per_label.entry(examples[i].label.as_str()).or_insert(0) += 1;
    }
    let (rarest, fewest) = per_label
        .iter()
        .min_by_key(|(_, &n)| n)
        .map(|(l, &n)| (*l, n))
        .unwrap_or(("", 0));
    if fewest < 2 {
        return Err(ClassifyError::Data(format!(
            "calibration needs at least 2 messages of every label; `{rarest}` has {fewest}"
        )));
    }
    let k = folds.min(fewest);
    let reps: Vec<usize> = first.values().copied().collect();
    let fold_of_rep = split::folds(
        reps.iter()
            .map(|&i| (examples[i].text.as_str(), examples[i].label.as_str())),
        k,
        seed,
    );
    let fold_of_group: std::collections::HashMap<usize, usize> = first
        .keys()
        .copied()
        .zip(fold_of_rep.iter().copied())
        .collect();
    Ok(groups.iter().map(|g| fold_of_group[g]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic task whose probabilities are known: margins `m` for a two-label problem
    /// where the true probability of label 0 is `sigmoid(3 m)`. The fitted scale must recover
    /// the 3 (two labels with margins `+m` and `-m`: softmax(s * [m, -m]) = sigmoid(2 s m)),
    /// and the calibrated probabilities must then be reliable.
    #[test]
    fn temperature_scaling_recovers_a_known_probability() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut oof = Vec::new();
        for _ in 0..40_000 {
            let m = (uniform() * 2.0 - 1.0) as f32;
            let p0 = 1.0 / (1.0 + (-3.0 * f64::from(m)).exp());
            let gold = usize::from(uniform() >= p0);
            oof.push((vec![m, -m], gold));
        }
        let scale = fit_scale(&oof);
        assert!(
            (scale - 1.5).abs() < 0.1,
            "softmax(s*[m,-m]) = sigmoid(2 s m), so s should be 1.5: {scale}"
        );
        let calibrated = reliability(&score_out_of_fold(&oof, scale), 10);
        assert!(calibrated.ece < 0.015, "{calibrated:?}");
        // The uncalibrated default (2.0: sigmoid(4m)) is overconfident here, measurably.
        let default = reliability(&score_out_of_fold(&oof, DEFAULT_SCALE), 10);
        assert!(default.ece > calibrated.ece + 0.01, "{default:?}");
    }

    #[test]
    fn the_reliability_table_and_ece_match_a_hand_computed_example() {
        let s = |confidence, correct| Scored {
            confidence,
            correct,
        };
        // Bin 0.9-1.0: two at 0.95, one right (accuracy 0.5): gap 0.45.
        // Bin 0.6-0.7: two at 0.65, both right: gap 0.35.
        let scored = [s(0.95, true), s(0.95, false), s(0.65, true), s(0.65, true)];
        let table = reliability(&scored, 10);
        assert_eq!(table.bins[9].count, 2);
        assert!((table.bins[9].accuracy - 0.5).abs() < 1e-9);
        assert_eq!(table.bins[6].count, 2);
        assert!(
            (table.ece - (0.5 * 0.45 + 0.5 * 0.35)).abs() < 1e-6,
            "{}",
            table.ece
        );
        assert!(table.bins[0].count == 0 && table.bins[0].accuracy == 0.0);
    }

    #[test]
    fn the_threshold_is_the_lowest_that_keeps_precision_and_never_splits_ties() {
        let s = |confidence, correct| Scored {
            confidence,
            correct,
        };
        // Sorted: 0.99 ok, 0.9 ok, 0.8 ok, 0.8 wrong, 0.7 ok, 0.6 wrong.
        let scored = [
            s(0.6, false),
            s(0.8, false),
            s(0.99, true),
            s(0.7, true),
            s(0.9, true),
            s(0.8, true),
        ];
        // At most 20% wrong: 0.7 dispatches 5 with 1 wrong (80%).
        let chosen = choose_threshold(&scored, 0.2);
        assert_eq!(chosen.threshold, 0.7);
        assert!((chosen.coverage - 5.0 / 6.0).abs() < 1e-9);
        assert!((chosen.precision - 0.8).abs() < 1e-9);
        // At most 10% wrong: the 0.8 tie cannot be split (3 of 4 = 75%), so 0.9 (2 of 2).
        let chosen = choose_threshold(&scored, 0.1);
        assert_eq!(chosen.threshold, 0.9);
        assert!((chosen.coverage - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(selective_at(&scored, chosen.threshold), (2.0 / 6.0, 1.0));
        // Nothing reaches it: never dispatch.
        let never = choose_threshold(&[s(0.9, false)], 0.1);
        assert_eq!(never.threshold, NEVER);
        assert_eq!(never.coverage, 0.0);
        assert!(never.describe().contains("every ticket goes to triage"));
    }

    #[test]
    fn the_curve_goes_from_the_most_confident_tenth_to_everything() {
        let scored: Vec<Scored> = (0..20)
            .map(|i| Scored {
                confidence: i as f32 / 20.0,
                correct: i >= 10,
            })
            .collect();
        let curve = coverage_curve(&scored);
        assert_eq!(curve.len(), 10);
        assert_eq!(curve[0].precision, 1.0);
        assert_eq!(curve[4].precision, 1.0);
        assert!((curve[9].precision - 0.5).abs() < 1e-9 && curve[9].coverage == 1.0);
        assert_eq!(curve[9].threshold, 0.0);
    }

    #[test]
    fn examples_of_one_call_stay_in_one_fold_and_a_single_message_label_is_refused() {
        let example = |text: &str, label: &str| Example {
            text: text.into(),
            label: label.into(),
        };
        let mut examples = Vec::new();
        let mut groups = Vec::new();
        for n in 0..10 {
            examples.push(example(&format!("路灯坏了{n}"), "城乡建设"));
            groups.push(n);
            examples.push(example(&format!("拖欠工资{n}"), "劳动和社会保障"));
            groups.push(100 + n);
        }
        // Titles of the first calls, as `read_grouped` appends them.
        for n in 0..10 {
            examples.push(example(&format!("路灯{n}"), "城乡建设"));
            groups.push(n);
        }
        let folds = fold_of_examples(&examples, &groups, 5, 1).unwrap();
        for n in 0..10 {
            assert_eq!(folds[2 * n], folds[20 + n], "call {n} straddles folds");
        }
        assert_eq!(folds.iter().max(), Some(&4));
        let err = fold_of_examples(&examples[..3], &groups[..3], 5, 1).unwrap_err();
        assert!(err.to_string().contains("has 1"), "{err}");
    }
}
