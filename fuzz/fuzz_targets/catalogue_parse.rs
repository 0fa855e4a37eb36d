//! The dispatch catalogue parser (`routing/data/catalogue.txt` format). Property: never
//! panics; a catalogue it accepts has a default rule, and selecting with a category always
//! finds a rule (the default at worst), with or without words in the text.
#![no_main]

use hotline_classify::Taxonomy;
use hotline_core::{CategoryCode, Nature, Urgency};
use hotline_routing::{Catalogue, Query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(catalogue) = Catalogue::parse("fuzz.txt", text) else {
        return;
    };
    let _ = catalogue.check_categories(&Taxonomy::shipped());
    let default = catalogue.default_rule();
    let _ = catalogue.describe(default);
    let codes: Vec<CategoryCode> = catalogue
        .rules()
        .iter()
        .filter_map(|rule| rule.category.clone())
        .chain(CategoryCode::parse("category", "SQ.WYBX").ok())
        .collect();
    for code in &codes {
        for &urgency in Urgency::ALL {
            let query = Query {
                category: Some(code),
                nature: Some(Nature::Complaint),
                urgency,
                text,
            };
            assert!(
                catalogue.select(&query).is_some(),
                "no rule for category {code}, not even the default"
            );
        }
    }
    let _ = catalogue.select(&Query {
        category: None,
        nature: None,
        urgency: Urgency::Normal,
        text,
    });
});
