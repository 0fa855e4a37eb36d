//! Whatever the text, the resolver answers without panicking, and the answer is well-formed.

use std::sync::{Arc, OnceLock};

use hotline_core::DivisionCode;
use hotline_directory::Directory;
use hotline_territory::{AddressBook, Outcome, Resolver};
use proptest::prelude::*;

/// With the synthetic address book and a learned alias, so the book's paths (normalisation,
/// typo windows, spans mapped back to the text) are exercised too.
fn resolver() -> &'static Resolver {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    RESOLVER.get_or_init(|| {
        let directory = Arc::new(Directory::suzhou());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/address_book_synthetic.csv");
        let book = AddressBook::load_path(&path, &directory).unwrap();
        let resolver = Resolver::new(directory).with_address_book(book);
        resolver.address_book().learn(
            "锦绣大厦",
            DivisionCode::parse("c", "320508020024").unwrap(),
        );
        resolver
    })
}

/// Pieces of real names and the characters around them, to reach the matching paths more
/// often than uniformly random text does.
const FRAGMENTS: &[&str] = &[
    "苏州市",
    "苏州",
    "姑苏区",
    "吴中",
    "昆山",
    "园区",
    "工业园区",
    "双塔街道",
    "周市镇",
    "沧浪亭",
    "沧浪亭社区",
    "湖滨社区",
    "新镇村",
    "村",
    "社区",
    "居委会",
    "镇",
    "（镇）",
    "浒墅关经开区",
    "(",
    ")",
    "（",
    "）",
    "北京市",
    "火车站",
    "金麟社区",
    "木渎",
    "🚧",
    "\u{3000}",
    " ",
    "3组",
    "\u{0}",
    "十全街",
    "８８号",
    "八十七号",
    "号楼",
    "栋",
    "十",
    "一二〇",
    "南苑新村",
    "南园新材",
    "盘溪新村18幢",
    "苏州市丽医院木部",
    "锦绣大厦",
    "９",
];

fn check(text: &str) {
    let answer = resolver().resolve_text(text);
    assert_eq!(answer.why.outcome(), answer.outcome);
    if let Some(span) = &answer.span {
        assert!(span.start <= span.end && span.end <= text.len());
        assert_eq!(&text[span.start..span.end], span.text);
    }
    match answer.outcome {
        Outcome::Resolved => assert!(answer.division.is_some() && answer.candidates.is_empty()),
        Outcome::Ambiguous => assert!(!answer.candidates.is_empty()),
        Outcome::Unresolved => assert!(answer.division.is_none() && answer.candidates.is_empty()),
    }
    assert!((0.0..=1.0).contains(&answer.confidence));
    let _ = answer.reason();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn text_made_of_name_fragments_never_panics(
        pieces in prop::collection::vec((prop::sample::select(FRAGMENTS), any::<String>()), 0..12)
    ) {
        let mut text = String::new();
        for (fragment, noise) in pieces {
            text.push_str(fragment);
            text.extend(noise.chars().take(2));
        }
        check(&text);
    }
}

#[test]
fn a_very_long_text_full_of_names_answers() {
    let text = "湖滨社区沧浪亭社区姑苏区".repeat(5_000);
    check(&text);
}
