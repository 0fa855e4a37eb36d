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
        let model = train_examples(&training, &options)?;
        let to_global: Vec<usize> = model
            .labels()
            .iter()
            .map(|l| labels.iter().position(|g| g == l).unwrap())
            .collect();
        let margins = |text: &str| {
            let mut m = vec![f32::MIN / 4.0; labels.len()];
            for (label, margin) in model.predict(text, 0).ranked {
                m[to_global[label]] = margin;
            }
            m
        };
        for ((text, label, title), &row_fold) in rows.iter().zip(&fold) {
            if row_fold == f {
                let gold = labels.iter().position(|g| g == label).unwrap();
                bodies.push((margins(text), gold));
                titles.push((margins(title), gold));
            }
        }
        eprintln!("fold {f} done");
    }
    let mixed: Vec<_> = bodies.iter().chain(&titles).cloned().collect();
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
