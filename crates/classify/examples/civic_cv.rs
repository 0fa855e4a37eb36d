//! Model selection without the test set: k-fold cross-validation on the TRAINING part of the
//! civic split (the 80% that `civic_eval`, the tests and the Python peer train on). The 20%
//! held out by `split::holdout(.., 20, 12345)` is never read here.
//!
//! Each fold trains on the other folds' bodies + titles (as the shipped setup does) and
//! predicts its own bodies and titles; the out-of-fold predictions are pooled into one
//! macro-F1 for bodies and one for titles.
//!
//! Settings come from the environment (unset = `TrainOptions::default()`): `C`, `BAL`, `NB`,
//! `EPS`, `WORDS`, `CHARMIN`, `CHARMAX`, `WW`, `MINDF`, `MAXF`, `FOLD=1`, `HMM=0|1`, `K` (folds,
//! default 5), `FOLDSEED` (default 777). Training-set variants: `TITLES=n` (copies of the
//! titles, default 1), `CONCAT=1` (train on "title。body" instead of the body), `BODIES=0`
//! (titles only).
//!
//! Run: `cargo run --release -p hotline-classify --example civic_cv [-- path/to/train.csv]`

use std::time::Instant;

use hotline_classify::{split, train_examples, EvalReport, Example, TrainOptions};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// [`TrainOptions`] with the overrides named in the module docs.
fn options() -> TrainOptions {
    let mut options = TrainOptions::default();
    if let Some(v) = env("C") {
        options.c = v;
    }
    if let Some(v) = env("BAL") {
        options.balance = v;
    }
    if let Some(v) = env("NB") {
        options.nb = v;
    }
    if let Some(v) = env("EPS") {
        options.epsilon = v;
    }
    if let Some(v) = env("WORDS") {
        options.features.word_ngrams = v;
    }
    if let Some(v) = env("CHARMIN") {
        options.features.char_min = v;
    }
    if let Some(v) = env("CHARMAX") {
        options.features.char_max = v;
    }
    if let Some(v) = env("WW") {
        options.features.word_weight = v;
    }
    if let Some(v) = env("MINDF") {
        options.min_df = v;
    }
    if let Some(v) = env("MAXF") {
        options.max_features = v;
    }
    if let Some(v) = env::<u8>("FOLD") {
        options.features.fold_digits = v == 1;
    }
    if let Some(v) = env::<u8>("HMM") {
        options.features.hmm = v == 1;
    }
    options
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/civic/train.csv"
        )
        .to_owned()
    });
    let mut reader = csv::Reader::from_path(&path)?;
    let rows: Vec<(String, String, String)> = reader
        .deserialize::<(String, String, String)>()
        .collect::<Result<_, _>>()?;
    let test = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    // The training part only.
    let rows: Vec<(String, String, String)> = rows
        .into_iter()
        .zip(test)
        .filter(|(_, held_out)| !held_out)
        .map(|(row, _)| row)
        .collect();
    let k: usize = env("K").unwrap_or(5);
    let fold = split::folds(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        k,
        env("FOLDSEED").unwrap_or(777),
    );
    let options = options();
    println!(
        "{k}-fold CV on the {} training rows; {options:?}",
        rows.len()
    );
    let example = |text: &str, label: &str| Example {
        text: text.to_owned(),
        label: label.to_owned(),
    };
    let mut gold = Vec::new();
    let mut body_predictions = Vec::new();
    let mut title_predictions = Vec::new();
    let started = Instant::now();
    for f in 0..k {
        let mut training = Vec::new();
        let mut titles = Vec::new();
        let mut held = Vec::new();
        for ((text, label, title), &row_fold) in rows.iter().zip(&fold) {
            if row_fold == f {
                held.push((text, label, title));
            } else {
                if env::<u8>("BODIES") == Some(0) {
                } else if env::<u8>("CONCAT") == Some(1) {
                    training.push(example(&format!("{title}。{text}"), label));
                } else {
                    training.push(example(text, label));
                }
                titles.push(example(title, label));
            }
        }
        for _ in 0..env("TITLES").unwrap_or(1) {
            training.extend(titles.iter().cloned());
        }
        let model = train_examples(&training, &options)?;
        let mut fold_gold = Vec::new();
        let mut fold_bodies = Vec::new();
        let mut fold_titles = Vec::new();
        for (text, label, title) in held {
            fold_gold.push(label.clone());
            fold_bodies.push(model.predict_label(text).to_owned());
            fold_titles.push(model.predict_label(title).to_owned());
        }
        let f1 = |predicted: &[String]| {
            let g: Vec<&str> = fold_gold.iter().map(String::as_str).collect();
            let p: Vec<&str> = predicted.iter().map(String::as_str).collect();
            EvalReport::from_pairs(&g, &p).macro_f1
        };
        println!(
            "fold {f}: bodies {:.4} titles {:.4}",
            f1(&fold_bodies),
            f1(&fold_titles)
        );
        gold.extend(fold_gold);
        body_predictions.extend(fold_bodies);
        title_predictions.extend(fold_titles);
    }
    let pooled = |predicted: &[String]| {
        let g: Vec<&str> = gold.iter().map(String::as_str).collect();
        let p: Vec<&str> = predicted.iter().map(String::as_str).collect();
        EvalReport::from_pairs(&g, &p)
    };
    let bodies = pooled(&body_predictions);
    let titles = pooled(&title_predictions);
    if std::env::var("VERBOSE").is_ok() {
        println!("bodies:\n{bodies}\n\ntitles:\n{titles}\n");
    }
    println!(
        "CV bodies macro-F1 {:.4}  titles macro-F1 {:.4}  ({:.1?})",
        bodies.macro_f1,
        titles.macro_f1,
        started.elapsed()
    );
    Ok(())
}
