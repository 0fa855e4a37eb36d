//! The taxonomy file parser (`classify/data/taxonomy.csv` format). Property: never panics; a
//! tree it accepts is consistent (every parent it names is in the tree, every category is
//! found by its code, walking up from any category ends) and building a classifier on it
//! with the shipped rules answers without panicking.
#![no_main]

use hotline_classify::{Classifier, Rules, Taxonomy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(taxonomy) = Taxonomy::parse("fuzz.csv", text) else {
        return;
    };
    for category in taxonomy.categories() {
        assert!(
            taxonomy.get(&category.code).is_some(),
            "{} is listed but not found by its code",
            category.code
        );
        if let Some(parent) = &category.parent {
            assert!(
                taxonomy.get(parent).is_some(),
                "{} names a parent {parent} that is not in the tree",
                category.code
            );
        }
        // Walks up the tree; a cycle would hang here, which libFuzzer reports as a timeout.
        assert!(!taxonomy.path(&category.code).is_empty());
    }
    // The shipped rules name the shipped categories: on a fuzzed tree the classifier refuses
    // them (an error, never a panic), on a tree that has them it builds.
    let rules = Rules::shipped();
    let _ = Classifier::new(taxonomy, rules);
});
