//! Evaluation of a model on labelled messages: per-class precision, recall and F1, the
//! confusion matrix, accuracy and macro-F1 (the mean F1 over every label that occurs in the
//! gold labels or the predictions, as scikit-learn's `f1_score(average="macro")`).

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::error::ClassifyError;
use crate::model::{self, Example, Model};

/// Scores of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of this label.
    pub support: usize,
}

/// The result of [`evaluate`]. `Display` prints the table, the confusion matrix and, as the
/// last line, `macro-F1: 0.xxxx`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub labels: Vec<String>,
    /// `confusion[gold][predicted]`, indexed like `labels`.
    pub confusion: Vec<Vec<usize>>,
    pub per_class: Vec<ClassMetrics>,
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// Evaluates `model` on `text,label` CSV.
pub fn evaluate<R: Read>(model: &Model, csv: R) -> Result<EvalReport, ClassifyError> {
    Ok(evaluate_examples(model, &model::read_examples(csv)?))
}

/// Evaluates `model` on a `text,label` CSV file.
pub fn evaluate_path(model: &Model, path: impl AsRef<Path>) -> Result<EvalReport, ClassifyError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)
        .map_err(|e| ClassifyError::io(format!("opening {}", path.display()), e))?;
    evaluate(model, std::io::BufReader::new(file))
}

/// Evaluates `model` on examples in memory (all cores).
pub fn evaluate_examples(model: &Model, examples: &[Example]) -> EvalReport {
    let threads = model::worker_threads(0);
    let predicted: Vec<String> = model::parallel_map(examples, threads, |e| {
        model.predict_label(&e.text).to_owned()
    });
    let gold: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    let predicted: Vec<&str> = predicted.iter().map(String::as_str).collect();
    EvalReport::from_pairs(&gold, &predicted)
}

impl EvalReport {
    /// Builds the report from gold and predicted labels (same length).
    pub fn from_pairs(gold: &[&str], predicted: &[&str]) -> Self {
        debug_assert_eq!(gold.len(), predicted.len());
        let mut labels: Vec<String> = gold
            .iter()
            .chain(predicted)
            .map(|s| (*s).to_owned())
            .collect();
        labels.sort();
        labels.dedup();
        let index = |label: &str| {
            labels
                .binary_search_by(|l| l.as_str().cmp(label))
                .expect("collected above")
        };
        let n = labels.len();
        let mut confusion = vec![vec![0_usize; n]; n];
        for (g, p) in gold.iter().zip(predicted) {
            confusion[index(g)][index(p)] += 1;
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let per_class: Vec<ClassMetrics> = (0..n)
            .map(|c| {
                let tp = confusion[c][c];
                let support: usize = confusion[c].iter().sum();
                let predicted_as: usize = confusion.iter().map(|row| row[c]).sum();
                let precision = ratio(tp, predicted_as);
                let recall = ratio(tp, support);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassMetrics {
                    label: labels[c].clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let correct: usize = (0..n).map(|c| confusion[c][c]).sum();
        let macro_f1 = if n == 0 {
            0.0
        } else {
            per_class.iter().map(|m| m.f1).sum::<f64>() / n as f64
        };
        Self {
            labels,
            confusion,
            per_class,
            accuracy: ratio(correct, gold.len()),
            macro_f1,
        }
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .labels
            .iter()
            .map(|l| display_width(l))
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{}  precision  recall      f1  support",
            pad("label", width)
        )?;
        for m in &self.per_class {
            writeln!(
                f,
                "{}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
                pad(&m.label, width),
                m.precision,
                m.recall,
                m.f1,
                m.support
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "confusion matrix (rows: gold, columns: predicted, in the order above)"
        )?;
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
            writeln!(f, "{} {}", pad(label, width), cells.join(""))?;
        }
        writeln!(f)?;
        writeln!(f, "accuracy: {:.4}", self.accuracy)?;
        write!(f, "macro-F1: {:.4}", self.macro_f1)
    }
}

/// Terminal width of a label: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) < 0x1100 { 1 } else { 2 })
        .sum()
}

fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(display_width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computed_example() {
        let gold = ["a", "a", "b", "b"];
        let predicted = ["a", "b", "b", "b"];
        let report = EvalReport::from_pairs(&gold, &predicted);
        assert_eq!(report.confusion, vec![vec![1, 1], vec![0, 2]]);
        let a = &report.per_class[0];
        assert!((a.precision - 1.0).abs() < 1e-9 && (a.recall - 0.5).abs() < 1e-9);
        let b = &report.per_class[1];
        assert!((b.f1 - 0.8).abs() < 1e-9);
        assert!((report.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-9);
        let text = report.to_string();
        assert_eq!(text.lines().last().unwrap(), "macro-F1: 0.7333");
        assert!(text.contains("confusion matrix"));
    }
}
