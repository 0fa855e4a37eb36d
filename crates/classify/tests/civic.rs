//! Behaviour on the real civic data set (`../shared/data/civic/`, read in place, never copied):
//! the shipped taxonomy covers the real tree, and a model trained on the deterministic 80%
//! split keeps its macro-F1 on the held-out 20% (bodies and titles) above a floor set a little
//! below the measured figures, so a broken model fails here.
//! Each test skips (with a note) when the data directory is absent.

use std::path::PathBuf;

use hotline_classify::{
    evaluate, evaluate_examples, split, train_examples, Classifier, Example, Model, Status,
    Taxonomy, TrainOptions,
};

fn civic(file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/civic")
        .join(file);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} not found", path.display());
        None
    }
}

#[test]
fn the_shipped_taxonomy_covers_every_first_and_second_level_name_of_the_civic_tree() {
    let Some(path) = civic("taxonomy.csv") else {
        return;
    };
    let shipped = Taxonomy::shipped();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut checked = std::collections::BTreeSet::new();
    for row in reader.deserialize::<(String, String, String)>() {
        let (level1, level2, _) = row.unwrap();
        let path = format!("{level1}/{level2}");
        let category = shipped
            .resolve(&path)
            .unwrap_or_else(|e| panic!("the shipped taxonomy lacks {path}: {e}"));
        assert!(category.code.as_str().is_ascii());
        checked.insert(path);
    }
    let roots: std::collections::BTreeSet<_> = checked
        .iter()
        .map(|p| p.split('/').next().unwrap())
        .collect();
    assert_eq!(roots.len(), 15);
    assert_eq!(checked.len(), 118);
    for service in [
        "居家养老",
        "就业指导",
        "失业救助",
        "医疗保险",
        "健康保健",
        "物业报修",
        "缴费",
        "法律援助",
        "人民调解",
        "流动人口登记",
        "防火防盗",
        "家庭暴力",
        "法律咨询",
        "家政",
    ] {
        assert_eq!(
            shipped.path(&shipped.resolve(service).unwrap().code),
            ["社区服务", service]
        );
    }
}

struct Split {
    train: Vec<Example>,
    /// The row each training example came from (a body and its title share one).
    train_groups: Vec<usize>,
    test_bodies: Vec<Example>,
    test_titles: Vec<Example>,
}

fn civic_split() -> Option<Split> {
    let path = civic("train.csv")?;
    let mut reader = csv::Reader::from_path(path).unwrap();
    let rows: Vec<(String, String, String)> =
        reader.deserialize().collect::<Result<_, _>>().unwrap();
    let held_out = split::holdout(
        rows.iter().map(|(t, l, _)| (t.as_str(), l.as_str())),
        20,
        12_345,
    );
    let example = |text: &String, label: &String| Example {
        text: text.clone(),
        label: label.clone(),
    };
    let mut split = Split {
        train: Vec::new(),
        train_groups: Vec::new(),
        test_bodies: Vec::new(),
        test_titles: Vec::new(),
    };
    let mut train_titles = Vec::new();
    let mut title_groups = Vec::new();
    for (row, ((text, label, title), test)) in rows.iter().zip(held_out).enumerate() {
        if test {
            split.test_bodies.push(example(text, label));
            split.test_titles.push(example(title, label));
        } else {
            split.train.push(example(text, label));
            split.train_groups.push(row);
            train_titles.push(example(title, label));
            title_groups.push(row);
        }
    }
    // Titles are trained as extra short examples: one model serves both lengths.
    split.train.extend(train_titles);
    split.train_groups.extend(title_groups);
    Some(split)
}

#[test]
fn held_out_macro_f1_stays_above_the_floor_on_bodies_and_titles() {
    let Some(split) = civic_split() else { return };
    assert_eq!(split.test_bodies.len(), 1_148);
    let model = train_examples(&split.train, &TrainOptions::default()).unwrap();
    let bodies = evaluate_examples(&model, &split.test_bodies);
    let titles = evaluate_examples(&model, &split.test_titles);
    eprintln!("bodies:\n{bodies}\ntitles:\n{titles}");
    // Measured with the defaults (character 1-3 grams, NB-SVM 0.4, C 0.5, 30k features):
    // bodies 0.8989, titles 0.8671 (Python peer, same run: combined 0.8895 / 0.8706, separate
    // 0.8783 / 0.8553). The defaults were chosen by cross-validation on the training part
    // (examples/civic_cv.rs), never on this held-out set.
    assert!(
        bodies.macro_f1 > 0.88,
        "bodies macro-F1 fell to {:.4}",
        bodies.macro_f1
    );
    assert!(
        titles.macro_f1 > 0.85,
        "titles macro-F1 fell to {:.4}",
        titles.macro_f1
    );

    // The same model through the file format and the CSV evaluation entry point.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("civic.model");
    model.save(&file).unwrap();
    let loaded = Model::load(&file).unwrap();
    let csv_text = {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["text", "label"]).unwrap();
        for e in &split.test_bodies {
            writer.write_record([&e.text, &e.label]).unwrap();
        }
        writer.into_inner().unwrap()
    };
    let again = evaluate(&loaded, csv_text.as_slice()).unwrap();
    assert_eq!(again.macro_f1, bodies.macro_f1);
    assert!(again
        .to_string()
        .lines()
        .last()
        .unwrap()
        .starts_with("macro-F1: 0."));

    // And through the classifier: labels resolve onto the shipped taxonomy.
    let classifier = Classifier::shipped().with_model(loaded).unwrap();
    let answer = classifier.classify(&split.test_bodies[0].text);
    assert_ne!(
        answer.status,
        Status::Unclassified(hotline_classify::UnclassifiedReason::Empty)
    );
    assert!(!answer.drivers.is_empty());
}

/// Calibration on the real messages: probabilities fitted out of fold on the training part are
/// reliable on the held-out bodies (ECE well under the uncalibrated softmax's), and the
/// threshold chosen for at most 2% misrouted keeps the dispatched share right on messages the
/// folds never saw, within the sampling error of ~900 messages.
#[test]
fn calibrated_probabilities_are_reliable_and_the_threshold_holds_on_held_out_messages() {
    use hotline_classify::calibration::{self, train_calibrated, CalibrateOptions, Scored};
    let Some(split) = civic_split() else { return };
    let (model, report) = train_calibrated(
        &split.train,
        &split.train_groups,
        &TrainOptions::default(),
        &CalibrateOptions {
            folds: 5,
            max_misroute: Some(0.02),
            ..CalibrateOptions::default()
        },
    )
    .unwrap();
    let selective = report.calibration.selective.unwrap();
    eprintln!(
        "out of fold: ECE {:.4} -> {:.4}, scale {:.3}, {selective:?}",
        report.before.ece, report.after.ece, report.calibration.scale
    );
    assert_eq!(report.calibration.folds, 5);
    assert!(report.after.ece < report.before.ece, "{report:?}");
    assert!(selective.precision >= 0.98 && selective.coverage > 0.5);

    let score = |model: &Model| -> Vec<Scored> {
        split
            .test_bodies
            .iter()
            .map(|e| {
                let (label, confidence) = model.predict_top(&e.text);
                Scored {
                    confidence,
                    correct: label == e.label,
                }
            })
            .collect()
    };
    let held_out = score(&model);
    let calibrated = calibration::reliability(&held_out, 10);
    let uncalibrated_model = train_examples(&split.train, &TrainOptions::default()).unwrap();
    let uncalibrated = calibration::reliability(&score(&uncalibrated_model), 10);
    let (coverage, precision) = calibration::selective_at(&held_out, selective.threshold);
    eprintln!(
        "held-out bodies: ECE {:.4} (uncalibrated {:.4}); selective: threshold={:.4} coverage={coverage:.4} precision={precision:.4}",
        calibrated.ece, uncalibrated.ece, selective.threshold
    );
    assert!(calibrated.ece < 0.05, "{calibrated:?}");
    assert!(
        calibrated.ece < uncalibrated.ece,
        "{calibrated:?} {uncalibrated:?}"
    );
    assert!(
        precision >= 0.96,
        "precision {precision} at coverage {coverage}"
    );
    assert!(coverage >= 0.6, "coverage {coverage}");

    // The threshold and the version survive the file format.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calibrated.model");
    model.save(&file).unwrap();
    let loaded = Model::load(&file).unwrap();
    assert_eq!(loaded.threshold(), Some(selective.threshold));
    assert_eq!(loaded.version(), model.version());
    assert_ne!(loaded.version(), uncalibrated_model.version());
}
