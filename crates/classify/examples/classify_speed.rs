//! Single-core classification throughput through `Classifier::classify` (rules + model +
//! top-3 + drivers) on the held-out bodies, for profiling without criterion.
//!
//! Run: `cargo run --release -p hotline-classify --example classify_speed [-- seconds]`

use std::hint::black_box;
use std::time::Instant;

use hotline_classify::{split, train_examples, Classifier, Example, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/civic/train.csv"
    );
    let mut reader = csv::Reader::from_path(path)?;
    let rows: Vec<(String, String, String)> = reader.deserialize().collect::<Result<_, _>>()?;
    let held_out = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    let mut train = Vec::new();
    let mut bodies = Vec::new();
    for ((text, label, title), test) in rows.into_iter().zip(held_out) {
        if test {
            bodies.push(text);
        } else {
            train.push(Example {
                text,
                label: label.clone(),
            });
            train.push(Example { text: title, label });
        }
    }
    let mut options = TrainOptions::default();
    // Overrides for experiments.
    let var = |name: &str| std::env::var(name).ok();
    if let Some(v) = var("C") {
        options.c = v.parse()?;
    }
    if let Some(v) = var("NB") {
        options.nb = v.parse()?;
    }
    if let Some(v) = var("WORDS") {
        options.features.word_ngrams = v.parse()?;
    }
    if let Some(v) = var("CHARMAX") {
        options.features.char_max = v.parse()?;
    }
    if let Some(v) = var("MAXF") {
        options.max_features = v.parse()?;
    }
    if let Some(v) = var("HMM") {
        options.features.hmm = v == "1";
    }
    let model = train_examples(&train, &options)?;
    println!("{} features", model.feature_count());
    let classifier = Classifier::shipped().with_model(model)?;
    let cpu_started = cpu_ns();
    let started = Instant::now();
    let mut passes = 0_usize;
    while started.elapsed().as_secs_f64() < seconds {
        for text in &bodies {
            black_box(classifier.classify(black_box(text)));
        }
        passes += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let messages = (passes * bodies.len()) as f64;
    println!(
        "classify (bodies, 1 core): {:.0} messages/s wall-clock over {passes} passes",
        messages / secs
    );
    if let (Some(from), Some(to)) = (cpu_started, cpu_ns()) {
        // On a shared machine the wall clock counts time spent waiting for a core.
        println!(
            "classify (bodies, 1 core): {:.0} messages/s of on-CPU time",
            messages / ((to - from) as f64 * 1e-9)
        );
    }
    Ok(())
}

/// Nanoseconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`).
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
