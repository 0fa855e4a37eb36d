//! Measures the category model on the civic data set (read from `../shared/data/civic/train.csv`
//! relative to the workspace root, never copied): the deterministic 20% stratified hold-out
//! (seed 12345), macro-F1 on message bodies and on titles, and single-core throughput.
//!
//! Run: `cargo run --release -p hotline-classify --example civic_eval [-- path/to/train.csv]`

use std::time::Instant;

use hotline_classify::{evaluate_examples, split, train_examples, Example, TrainOptions};

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
    let mut rows = rows;
    let test = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    if std::env::var("DEV").is_ok() {
        // Model selection: carve a development split out of the training part only.
        rows = rows
            .into_iter()
            .zip(&test)
            .filter(|(_, t)| !**t)
            .map(|(r, _)| r)
            .collect();
    }
    let test = if std::env::var("DEV").is_ok() {
        split::holdout(
            rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
            20,
            std::env::var("DEVSEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(777),
        )
    } else {
        test
    };
    let example = |text: &str, label: &str| Example {
        text: text.to_owned(),
        label: label.to_owned(),
    };
    let mut train_bodies = Vec::new();
    let mut train_titles = Vec::new();
    let mut test_bodies = Vec::new();
    let mut test_titles = Vec::new();
    for ((text, label, title), held_out) in rows.iter().zip(&test) {
        if *held_out {
            test_bodies.push(example(text, label));
            test_titles.push(example(title, label));
        } else {
            train_bodies.push(example(text, label));
            train_titles.push(example(title, label));
        }
    }
    let mode = std::env::var("MODE").unwrap_or_else(|_| "both".into());
    let c: f64 = std::env::var("C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TrainOptions::default().c);
    let mut options = TrainOptions {
        c,
        ..TrainOptions::default()
    };
    if let Ok(v) = std::env::var("NB") {
        options.nb = v.parse()?;
    }
    if let Ok(v) = std::env::var("BAL") {
        options.balance = v.parse()?;
    }
    if let Ok(v) = std::env::var("WORDS") {
        options.features.word_ngrams = v.parse()?;
    }
    if let Ok(v) = std::env::var("CHARMAX") {
        options.features.char_max = v.parse()?;
    }
    if let Ok(v) = std::env::var("CHARMIN") {
        options.features.char_min = v.parse()?;
    }
    if let Ok(v) = std::env::var("WW") {
        options.features.word_weight = v.parse()?;
    }
    if let Ok(v) = std::env::var("MINDF") {
        options.min_df = v.parse()?;
    }
    if let Ok(v) = std::env::var("MAXF") {
        options.max_features = v.parse()?;
    }
    options.features.fold_digits = std::env::var("FOLD").is_ok();
    if let Ok(v) = std::env::var("HMM") {
        options.features.hmm = v == "1";
    }
    println!(
        "train {} / test {} rows; mode {mode}; {options:?}",
        train_bodies.len(),
        test_bodies.len()
    );
    let mut training = match mode.as_str() {
        "bodies" => train_bodies.clone(),
        "titles" => train_titles.clone(),
        _ => train_bodies.iter().chain(&train_titles).cloned().collect(),
    };
    if mode == "concat" {
        training = rows
            .iter()
            .zip(&test)
            .filter(|(_, t)| !**t)
            .map(|((text, label, title), _)| example(&format!("{title}。{text}"), label))
            .collect();
        training.extend(train_titles.iter().cloned());
    }
    let started = Instant::now();
    let model = train_examples(&training, &options)?;
    println!(
        "trained in {:.2?}: {} features",
        started.elapsed(),
        model.feature_count()
    );
    let bodies = evaluate_examples(&model, &test_bodies);
    let titles = evaluate_examples(&model, &test_titles);
    println!("bodies:\n{bodies}\n\ntitles:\n{titles}\n");
    let started = Instant::now();
    let mut sink = 0usize;
    for e in &test_bodies {
        sink += model.predict(&e.text, 5).drivers.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "throughput (bodies, 1 core, with drivers): {:.0} messages/s ({sink})",
        test_bodies.len() as f64 / secs
    );
    println!(
        "SUMMARY bodies macro-F1 {:.4}  titles macro-F1 {:.4}",
        bodies.macro_f1, titles.macro_f1
    );
    Ok(())
}
