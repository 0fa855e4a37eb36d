//! Which confidence ranks the civic messages best for selective dispatch, chosen without the
//! test set: k-fold cross-validation on the TRAINING part of the civic split (the 80% that
//! `split::holdout(.., 20, 12345)` leaves), as `civic_cv` does.
//!
//! For the out-of-fold bodies and titles it prints, per confidence measure, the precision at
//! 80% coverage and the coverage at 98% precision:
//! - `prob`: the top label's softmax probability at the scale fitted on the folds;
//! - `margin`: the top label's decision value;
//! - `gap`: the top decision value minus the second.
//!
//! With `SECOND=1` it also trains, per fold, a second model on other features (jieba word 1-2
//! grams with character 2-4 grams) and reports it and the average of the two models'
//! calibrated probabilities (`ensemble`), with macro-F1.
//!
//! With `PSEUDO=1` each fold's training set also gets pseudo-labelled examples from the
//! shipped taxonomy (every category's name and path under a label's root) and the keyword
//! rules (each category's keywords, joined), labelled with the root.
//!
//! Run: `cargo run --release -p hotline-classify --example civic_selective`

use hotline_classify::calibration::{choose_threshold, coverage_curve, fit_scale, Scored};
use hotline_classify::{split, train_examples, Example, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/civic/train.csv"
    );
    let mut reader = csv::Reader::from_path(path)?;
    let rows: Vec<(String, String, String)> = reader.deserialize().collect::<Result<_, _>>()?;
    let test = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    let rows: Vec<_> = rows
        .into_iter()
        .zip(test)
        .filter(|(_, held_out)| !held_out)
        .map(|(row, _)| row)
        .collect();
    let k = 5;
    let fold = split::folds(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        k,
        777,
    );
    let options = TrainOptions::default();
    let example = |text: &str, label: &str| Example {
        text: text.to_owned(),
        label: label.to_owned(),
    };
    // (margins by global label, gold) for bodies and titles.
    let mut labels: Vec<String> = rows.iter().map(|(_, l, _)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    let mut bodies: Vec<(Vec<f32>, usize)> = Vec::new();
    let mut titles: Vec<(Vec<f32>, usize)> = Vec::new();
    let second = std::env::var("SECOND").is_ok_and(|v| v == "1");
    let mut options_b = TrainOptions::default();
    options_b.features.word_ngrams = 2;
    options_b.features.char_min = 2;
    options_b.features.char_max = 4;
    let mut bodies_b: Vec<(Vec<f32>, usize)> = Vec::new();
    let mut titles_b: Vec<(Vec<f32>, usize)> = Vec::new();
    for f in 0..k {
        let mut training = Vec::new();
        let mut extra = Vec::new();
        for ((text, label, title), &row_fold) in rows.iter().zip(&fold) {
            if row_fold != f {
                training.push(example(text, label));
                extra.push(example(title, label));
            }
        }
        training.extend(extra);
        if std::env::var("PSEUDO").is_ok_and(|v| v == "1") {
            training.extend(pseudo_examples(&labels));
        }
        let model = train_examples(&training, &options)?;
        let model_b = if second {
            Some(train_examples(&training, &options_b)?)
        } else {
            None
        };
        let margins = |model: &hotline_classify::Model, text: &str| {
            let mut m = vec![f32::MIN / 4.0; labels.len()];
            for (label, margin) in model.predict(text, 0).ranked {
                let global = labels
                    .iter()
                    .position(|g| g == &model.labels()[label])
                    .unwrap();
                m[global] = margin;
            }
            m
        };
        for ((text, label, title), &row_fold) in rows.iter().zip(&fold) {
            if row_fold == f {
                let gold = labels.iter().position(|g| g == label).unwrap();
                bodies.push((margins(&model, text), gold));
                titles.push((margins(&model, title), gold));
                if let Some(b) = &model_b {
                    bodies_b.push((margins(b, text), gold));
                    titles_b.push((margins(b, title), gold));
                }
            }
        }
        eprintln!("fold {f} done");
    }
    let mixed: Vec<_> = bodies.iter().chain(&titles).cloned().collect();
    if second {
        let mixed_b: Vec<_> = bodies_b.iter().chain(&titles_b).cloned().collect();
        let (sa, sb) = (fit_scale(&mixed), fit_scale(&mixed_b));
        let probs = |m: &[f32], scale: f32| -> Vec<f32> {
            let max = m.iter().fold(f32::MIN, |a, &b| a.max(b));
            let e: Vec<f32> = m.iter().map(|v| ((v - max) * scale).exp()).collect();
            let t: f32 = e.iter().sum();
            e.into_iter().map(|v| v / t).collect()
        };
        for (name, a, b) in [
            ("bodies", &bodies, &bodies_b),
            ("titles", &titles, &titles_b),
        ] {
            // The ensemble's "margins" are log-probabilities, so report() works on them with
            // scale 1.
            let ensemble: Vec<(Vec<f32>, usize)> = a
                .iter()
                .zip(b.iter())
                .map(|((ma, gold), (mb, _))| {
                    let (pa, pb) = (probs(ma, sa), probs(mb, sb));
                    (
                        pa.iter()
                            .zip(&pb)
                            .map(|(x, y)| ((x + y) / 2.0).ln())
                            .collect(),
                        *gold,
                    )
                })
                .collect();
            for (which, set) in [("A", a), ("B", b), ("ensemble", &ensemble)] {
                let gold: Vec<String> = set.iter().map(|(_, g)| labels[*g].clone()).collect();
                let predicted: Vec<String> = set
                    .iter()
                    .map(|(m, _)| {
                        labels[(0..m.len()).max_by(|&x, &y| m[x].total_cmp(&m[y])).unwrap()].clone()
                    })
                    .collect();
                let g: Vec<&str> = gold.iter().map(String::as_str).collect();
                let p: Vec<&str> = predicted.iter().map(String::as_str).collect();
                let f1 = hotline_classify::EvalReport::from_pairs(&g, &p).macro_f1;
                let scale = match which {
                    "A" => sa,
                    "B" => sb,
                    _ => 1.0,
                };
                report(name, &format!("{which} macro-F1 {f1:.4}"), set, |m| {
                    let max = m.iter().fold(f32::MIN, |a, &b| a.max(b));
                    let total: f32 = m.iter().map(|v| ((v - max) * scale).exp()).sum();
                    1.0 / total
                });
            }
        }
        return Ok(());
    }
    for (name, set) in [("bodies", &bodies), ("titles", &titles)] {
        for (scale_from, scale) in [("mixed", fit_scale(&mixed)), ("bodies", fit_scale(&bodies))] {
            report(
                name,
                &format!("prob(scale from {scale_from} {scale:.2})"),
                set,
                |m| {
                    let max = m.iter().fold(f32::MIN, |a, &b| a.max(b));
                    let total: f32 = m.iter().map(|v| ((v - max) * scale).exp()).sum();
                    1.0 / total
                },
            );
        }
        report(name, "margin", set, |m| {
            m.iter().fold(f32::MIN, |a, &b| a.max(b))
        });
        report(name, "gap", set, |m| {
            let mut sorted = m.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[0] - sorted[1]
        });
    }
    Ok(())
}

/// Examples from the taxonomy's names and the rules' keywords, labelled with their root.
fn pseudo_examples(labels: &[String]) -> Vec<Example> {
    let taxonomy = hotline_classify::Taxonomy::shipped();
    let rules = hotline_classify::Rules::shipped();
    let mut out = Vec::new();
    for category in taxonomy.categories() {
        let path = taxonomy.path(&category.code);
        let Some(root) = path.first() else { continue };
        if !labels.iter().any(|l| l == root) || path.len() < 2 {
            continue;
        }
        out.push(Example {
            text: path[1..].join(" "),
            label: (*root).to_owned(),
        });
        let keywords = rules.keywords_for(&category.code);
        if !keywords.is_empty() {
            out.push(Example {
                text: keywords.join(" "),
                label: (*root).to_owned(),
            });
        }
    }
    eprintln!("{} pseudo-labelled examples", out.len());
    out
}

fn report(
    set: &str,
    measure: &str,
    data: &[(Vec<f32>, usize)],
    confidence: impl Fn(&Vec<f32>) -> f32,
) {
    let scored: Vec<Scored> = data
        .iter()
        .map(|(m, gold)| {
            let top = (0..m.len()).max_by(|&a, &b| m[a].total_cmp(&m[b])).unwrap();
            Scored {
                confidence: confidence(m),
                correct: top == *gold,
            }
        })
        .collect();
    let curve = coverage_curve(&scored);
    let at80 = curve[7].precision;
    let selective = choose_threshold(&scored, 0.02);
    println!(
        "{set:<7} {measure:<28} precision@80% {:.4}  coverage@98% {:.4}",
        at80, selective.coverage
    );
}
