//! The classifier on arbitrary message text (the shipped taxonomy and rules, as the router
//! runs without a trained model). Property: never panics, and the scores it lists are
//! probabilities.
#![no_main]

use std::sync::OnceLock;

use hotline_classify::Classifier;
use libfuzzer_sys::fuzz_target;

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(Classifier::shipped)
}

fuzz_target!(|text: &str| {
    let answer = classifier().classify(text);
    let mut total = 0.0_f32;
    for category in &answer.categories {
        assert!(
            (0.0..=1.0).contains(&category.score),
            "score {} of {} out of range",
            category.score,
            category.code
        );
        total += category.score;
    }
    assert!(total <= 1.0 + 1e-3, "scores sum to {total}");
});
