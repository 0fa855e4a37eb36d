//! Classification throughput on real message bodies, one core.
//!
//! Trains the default model on the 80% split of `../shared/data/civic/train.csv` (bodies +
//! titles, read in place), then measures `Classifier::classify` (rules + model + top-3 +
//! drivers) over the 1,148 held-out bodies, and the cold-start (rules-only) path.
//! Compare with the Python peer `benches/peers/classify_baseline.py` (messages/s printed).
//!
//! Run: `cargo bench -p hotline-classify --bench classify`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotline_classify::{split, train_examples, Classifier, Example, TrainOptions};

fn civic() -> (Vec<Example>, Vec<String>) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/civic/train.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<(String, String, String)> =
        reader.deserialize().collect::<Result<_, _>>().unwrap();
    let held_out = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    let mut train = Vec::new();
    let mut test = Vec::new();
    for ((text, label, title), test_row) in rows.into_iter().zip(held_out) {
        if test_row {
            test.push(text);
        } else {
            train.push(Example {
                text,
                label: label.clone(),
            });
            train.push(Example { text: title, label });
        }
    }
    (train, test)
}

fn bench(c: &mut Criterion) {
    let (train, bodies) = civic();
    let model = train_examples(&train, &TrainOptions::default()).unwrap();
    let classifier = Classifier::shipped().with_model(model).unwrap();
    // The shipped `hotline train` path: calibrated on 5 folds, with a dispatch threshold.
    // Each body is followed by its title: one call, one group.
    let groups: Vec<usize> = (0..train.len()).map(|i| i / 2).collect();
    let (calibrated, _) = hotline_classify::calibration::train_calibrated(
        &train,
        &groups,
        &TrainOptions::default(),
        &hotline_classify::CalibrateOptions {
            max_misroute: Some(0.02),
            ..Default::default()
        },
    )
    .unwrap();
    let calibrated = Classifier::shipped().with_model(calibrated).unwrap();
    let cold = Classifier::shipped();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.sample_size(10);
    group.bench_function("bodies_model", |b| {
        b.iter(|| {
            for text in &bodies {
                black_box(classifier.classify(black_box(text)));
            }
        })
    });
    group.bench_function("bodies_calibrated_model", |b| {
        b.iter(|| {
            for text in &bodies {
                black_box(calibrated.classify(black_box(text)));
            }
        })
    });
    group.bench_function("bodies_rules_only", |b| {
        b.iter(|| {
            for text in &bodies {
                black_box(cold.classify(black_box(text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
