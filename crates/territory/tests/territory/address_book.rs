//! The address book (地址库): loading (every refusal names its line), matching (exact, road
//! ranges, landmarks, aliases, each fuzzy variant and its confidence), how it combines with the
//! division names, and learned aliases. Uses the synthetic book in `tests/fixtures`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hotline_directory::{Directory, Level};
use hotline_territory::{
    AddressBook, BookProblem, Fuzz, MatchKind, Outcome, Resolution, Resolver, TerritoryError, Why,
};

fn book_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/address_book_synthetic.csv")
}

fn directory() -> &'static Arc<Directory> {
    static DIRECTORY: OnceLock<Arc<Directory>> = OnceLock::new();
    DIRECTORY.get_or_init(|| Arc::new(Directory::suzhou()))
}

/// One resolver with the synthetic book for the tests that only read.
fn resolver() -> &'static Resolver {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    RESOLVER.get_or_init(fresh_resolver)
}

fn fresh_resolver() -> Resolver {
    let book = AddressBook::load_path(&book_path(), directory()).unwrap();
    Resolver::new(directory().clone()).with_address_book(book)
}

fn resolve(text: &str) -> Resolution {
    resolver().resolve_text(text)
}

/// The community code a text resolves to through the book, with the match kind and fuzz.
fn by_book(text: &str) -> (String, MatchKind, Fuzz, f32) {
    let answer = resolve(text);
    let book = answer
        .book
        .clone()
        .unwrap_or_else(|| panic!("{text}: not resolved by the book: {}", answer.reason()));
    assert_eq!(answer.outcome, Outcome::Resolved, "{text}");
    assert_eq!(answer.why, Why::of_book(book.kind), "{text}");
    assert_eq!(answer.level, Some(Level::Community));
    assert_eq!(answer.confidence, book.confidence);
    (
        answer.division.unwrap().as_str().to_owned(),
        book.kind,
        book.fuzz,
        book.confidence,
    )
}

fn parse(rows: &str) -> Result<AddressBook, TerritoryError> {
    let text = format!("kind,name,range,parity,community,aliases\n{rows}");
    AddressBook::parse("book.csv", &text, directory())
}

/// The line and problem of a refused book.
fn refused(rows: &str) -> (u64, BookProblem) {
    match parse(rows) {
        Err(TerritoryError::AddressBook {
            origin,
            line,
            problem,
        }) => {
            assert_eq!(origin, "book.csv");
            (line, problem)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ------------------------------------------------------------------ loading

#[test]
fn the_synthetic_book_says_so_and_loads_against_the_shipped_directory() {
    let text = std::fs::read_to_string(book_path()).unwrap();
    assert!(text.lines().next().unwrap().contains("SYNTHETIC"));
    let book = AddressBook::load_path(&book_path(), directory()).unwrap();
    assert!(book.len() > 50, "{}", book.len());
    assert_eq!(book.learned_count(), 0);
}

#[test]
fn an_unknown_community_code_is_refused_with_its_line() {
    let (line, problem) = refused("name,南园新村,,,320508021021,\nname,某小区,,,320508021999,\n");
    assert_eq!(line, 3);
    assert_eq!(
        problem,
        BookProblem::UnknownCommunity {
            code: "320508021999".into()
        }
    );
    let (line, problem) = refused("name,某小区,,,abc,\n");
    assert_eq!(line, 2);
    assert!(matches!(problem, BookProblem::UnknownCommunity { .. }));
}

#[test]
fn a_street_code_is_not_a_community() {
    let (line, problem) = refused("name,某小区,,,320508021,\n");
    assert_eq!(line, 2);
    assert!(
        matches!(&problem, BookProblem::NotACommunity { name, .. } if name == "双塔街道"),
        "{problem:?}"
    );
}

#[test]
fn an_alias_pointing_two_ways_is_refused_naming_both_lines() {
    // 南苑新村 normalises to 南园新村: the same key for two communities.
    let (line, problem) = refused(
        "name,南园新村,,,320508021021,\n# a comment line counts too\nname,盛家带小区,,,320508021019,南苑新村\n",
    );
    assert_eq!(line, 4);
    match problem {
        BookProblem::TwoWays {
            alias,
            other_line,
            other,
        } => {
            assert_eq!(alias, "南苑新村");
            assert_eq!(other_line, 2);
            assert_eq!(other.as_str(), "320508021021");
        }
        other => panic!("{other:?}"),
    }
    // The same alias twice for the same community is harmless.
    assert!(
        parse("name,南园新村,,,320508021021,南园小区\nlandmark,南园小区,,,320508021021,\n").is_ok()
    );
}

#[test]
fn bad_ranges_and_parities_are_refused_with_their_line() {
    for (range, bad) in [
        ("99-1", true),
        ("a-5", true),
        ("0-5", true),
        ("15", true),
        ("1-x", true),
        ("1-99", false),
    ] {
        let rows = format!(
            "road,十全街,1-99,单号,320508021019,\nroad,凤凰街,{range},全部,320508021020,\n"
        );
        match parse(&rows) {
            Err(TerritoryError::AddressBook { line, problem, .. }) => {
                assert!(bad, "{range}: {problem}");
                assert_eq!(line, 3, "{range}");
                assert_eq!(
                    problem,
                    BookProblem::Range {
                        found: range.into()
                    }
                );
                assert!(problem.to_string().contains("FROM-TO"), "{problem}");
            }
            Ok(_) => assert!(!bad, "{range} was accepted"),
            Err(other) => panic!("{other}"),
        }
    }
    let (line, problem) = refused("road,十全街,1-99,奇数,320508021019,\n");
    assert_eq!(
        (line, problem),
        (
            2,
            BookProblem::Parity {
                found: "奇数".into()
            }
        )
    );
}

#[test]
fn overlapping_ranges_for_different_communities_are_refused() {
    let (line, problem) =
        refused("road,十全街,1-99,单号,320508021019,\nroad,十全街,51-120,全部,320508021034,\n");
    assert_eq!(line, 3);
    assert!(
        matches!(problem, BookProblem::Overlap { other_line: 2, .. }),
        "{problem:?}"
    );
    // Odd and even sides of one stretch are the usual case.
    assert!(
        parse("road,十全街,1-99,单号,320508021019,\nroad,十全街,2-100,双号,320508021034,\n")
            .is_ok()
    );
}

#[test]
fn a_bad_header_kind_or_field_count_is_refused() {
    let err = AddressBook::parse("b.csv", "name,community\n", directory()).unwrap_err();
    assert!(
        matches!(
            err,
            TerritoryError::AddressBook {
                line: 1,
                problem: BookProblem::Header { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        refused("street,十全街,,,320508021019,\n"),
        (
            2,
            BookProblem::Kind {
                found: "street".into()
            }
        )
    );
    assert_eq!(
        refused("name,十全街,320508021019\n"),
        (2, BookProblem::FieldCount { found: 3 })
    );
    assert_eq!(
        refused("name,盛家带,1-5,,320508021019,\n"),
        (2, BookProblem::RangeOnNonRoad)
    );
    let message = TerritoryError::AddressBook {
        origin: "book.csv".into(),
        line: 7,
        problem: BookProblem::Range {
            found: "99-1".into(),
        },
    }
    .to_string();
    assert!(
        message.starts_with("book.csv:7: bad range `99-1`"),
        "{message}"
    );
}

// ------------------------------------------------------------------ matching

#[test]
fn an_estate_name_resolves_to_its_community_exactly() {
    let (code, kind, fuzz, confidence) = by_book("南园新村5幢301室");
    assert_eq!(code, "320508021021");
    assert_eq!((kind, fuzz), (MatchKind::Name, Fuzz::Exact));
    assert!((confidence - 0.95).abs() < 1e-6);
    let answer = resolve("南园新村5幢301室");
    assert_eq!(answer.span.as_ref().unwrap().text, "南园新村");
    let reason = answer.reason();
    assert!(
        reason.contains("name 南园新村") && reason.contains("confidence 0.95"),
        "{reason}"
    );
    assert_eq!(answer.why.code(), "book_name");
}

#[test]
fn an_alias_of_the_book_resolves_as_an_alias() {
    let (code, kind, fuzz, _) = by_book("南园小区门口垃圾没人收");
    assert_eq!(code, "320508021021");
    assert_eq!((kind, fuzz), (MatchKind::Alias, Fuzz::Exact));
    assert!(resolve("南园小区").reason().contains("alias of 南园新村"));
}

#[test]
fn road_numbers_pick_the_side_and_the_stretch() {
    assert_eq!(by_book("十全街87号").0, "320508021019"); // odd 1-99
    assert_eq!(by_book("十全街88号").0, "320508021034"); // even 2-100
    assert_eq!(by_book("十全街150号").0, "320508021017"); // all 101-299
    let (_, kind, fuzz, confidence) = by_book("十全街 7 号");
    assert_eq!((kind, fuzz), (MatchKind::Road, Fuzz::Exact));
    assert!((confidence - 0.95).abs() < 1e-6);
    assert!(resolve("十全街88号").reason().contains("十全街 2-100 双号"));
    // Outside every range, or no number: the book does not guess.
    assert_eq!(resolve("十全街301号").outcome, Outcome::Unresolved);
    assert_eq!(resolve("十全街附近").outcome, Outcome::Unresolved);
}

#[test]
fn a_landmark_resolves_with_less_confidence_than_an_address() {
    let (code, kind, fuzz, confidence) = by_book("苏州大学本部东门的路灯坏了");
    assert_eq!(code, "320508021025");
    assert_eq!((kind, fuzz), (MatchKind::Landmark, Fuzz::Exact));
    assert!((confidence - 0.85).abs() < 1e-6);
    assert_eq!(by_book("苏大本部").1, MatchKind::Landmark);
    // 苏州市 alone names the city: the landmark decides.
    assert_eq!(by_book("苏州市第一中学门口").0, "320508021037");
}

#[test]
fn full_width_digits_and_chinese_numerals_are_variants_of_the_house_number() {
    for text in ["十全街８７号", "十全街八十七号"] {
        let (code, kind, fuzz, confidence) = by_book(text);
        assert_eq!(code, "320508021019", "{text}");
        assert_eq!((kind, fuzz), (MatchKind::Road, Fuzz::Variant), "{text}");
        assert!((confidence - 0.90).abs() < 1e-6, "{text}");
    }
}

#[test]
fn building_words_are_one_word() {
    // The book gives 盘溪新村18幢 to the neighbouring community; 18号楼 and 18栋 are the same
    // building, and the longer entry wins over the estate.
    for text in [
        "盘溪新村18幢",
        "盘溪新村18号楼",
        "盘溪新村18栋",
        "盘溪新村十八号楼",
    ] {
        let (code, _, _, _) = by_book(text);
        assert_eq!(code, "320508024038", "{text}");
    }
    assert_eq!(by_book("盘溪新村18幢").2, Fuzz::Exact);
    assert_eq!(by_book("盘溪新村18栋").2, Fuzz::Variant);
    assert_eq!(by_book("盘溪新村3幢").0, "320508024037");
}

#[test]
fn yuan_and_garden_variants_match() {
    // The book writes 新郭苑; callers write 新郭园.
    let (code, kind, fuzz, confidence) = by_book("新郭园12幢");
    assert_eq!(code, "320508024028");
    assert_eq!((kind, fuzz), (MatchKind::Name, Fuzz::Variant));
    assert!((confidence - 0.90).abs() < 1e-6);
}

#[test]
fn typos_match_within_a_bounded_distance_and_lose_confidence_per_edit() {
    let (code, kind, fuzz, one_edit) = by_book("南园新材3幢"); // 村 -> 材
    assert_eq!(code, "320508021021");
    assert_eq!((kind, fuzz), (MatchKind::Name, Fuzz::Typo { distance: 1 }));
    assert!((one_edit - 0.75).abs() < 1e-6, "{one_edit}");
    assert!(resolve("南园新材3幢")
        .reason()
        .contains("typo, 1 character off"));

    // Eight characters may be two edits off.
    let (code, kind, fuzz, two_edits) = by_book("苏州市丽医院木部");
    assert_eq!(code, "320508020020");
    assert_eq!(
        (kind, fuzz),
        (MatchKind::Landmark, Fuzz::Typo { distance: 2 })
    );
    assert!(
        two_edits < one_edit && (two_edits - 0.50).abs() < 1e-6,
        "{two_edits}"
    );

    // Three edits, or two on a short name, are too far.
    assert!(resolve("苏洲市丽医完木部").book.is_none());
    assert!(resolve("南元新材").book.is_none());
}

#[test]
fn exact_beats_variant_beats_typo() {
    let exact = by_book("南园新村").3;
    let variant = by_book("南苑新村").3; // an alias of the book, and 苑/园 besides
    let typo = by_book("南园新材").3;
    assert!(
        exact >= variant && variant > typo,
        "{exact} {variant} {typo}"
    );
}

// ------------------------------------------------------------------ with the division names

#[test]
fn the_book_refines_a_district_named_with_it() {
    let answer = resolve("姑苏区十全街88号");
    assert_eq!(answer.why, Why::BookRoad, "{}", answer.reason());
    assert_eq!(answer.division.unwrap().as_str(), "320508021034");
}

#[test]
fn the_book_outweighs_a_loose_community_stem() {
    // 东吴 is a stem of 东吴社区 (loose, supported by 吴中区); the house number is surer.
    let answer = resolve("吴中区东吴北路12号");
    assert_eq!(answer.why, Why::BookRoad, "{}", answer.reason());
    assert_eq!(answer.division.unwrap().as_str(), "320506001022");
}

#[test]
fn a_strong_community_name_is_not_overridden() {
    let answer = resolve("沧浪亭社区十全街88号");
    assert_eq!(answer.why, Why::UniqueName, "{}", answer.reason());
    assert_eq!(answer.division.unwrap().as_str(), "320508021019");
}

#[test]
fn a_book_entry_outside_the_district_named_is_not_guessed() {
    let answer = resolve("吴中区南园新村");
    assert!(answer.book.is_none(), "{}", answer.reason());
    assert_eq!(answer.level, Some(Level::District));
}

#[test]
fn two_equally_good_entries_for_different_communities_decide_nothing() {
    let answer = resolve("从南园新村搬到盘溪新村");
    assert!(answer.book.is_none(), "{}", answer.reason());
    assert_eq!(answer.outcome, Outcome::Unresolved);
}

#[test]
fn without_a_book_nothing_changes() {
    let plain = Resolver::new(directory().clone());
    assert_eq!(
        plain.resolve_text("南园新村5幢").outcome,
        Outcome::Unresolved
    );
    assert_eq!(plain.address_book().len(), 0);
}

// ------------------------------------------------------------------ learned aliases

#[test]
fn a_learned_alias_is_used_at_once_and_its_variants_match() {
    let resolver = fresh_resolver();
    assert_eq!(
        resolver.resolve_text("金狮大厦3号楼").outcome,
        Outcome::Unresolved
    );
    let community = hotline_core::DivisionCode::parse("c", "320508020024").unwrap();
    resolver.address_book().learn("金狮大厦", community.clone());
    let answer = resolver.resolve_text("金狮大厦3号楼");
    assert_eq!(answer.why, Why::LearnedAlias, "{}", answer.reason());
    assert_eq!(answer.division, Some(community.clone()));
    let book = answer.book.unwrap();
    assert_eq!(
        (book.kind, book.fuzz, book.line),
        (MatchKind::Learned, Fuzz::Exact, None)
    );
    assert!((book.confidence - 0.90).abs() < 1e-6);
    assert!(resolver
        .resolve_text("金狮大厦")
        .reason()
        .contains("confirmed by a supervisor"));
    assert_eq!(
        resolver.address_book().learned_target("金狮大厦"),
        Some(community)
    );
    // The shared resolver did not learn it.
    assert!(resolve("金狮大厦").book.is_none());
}

#[test]
fn the_unexplained_span_of_an_address_is_what_the_division_names_leave() {
    let r = resolver();
    assert_eq!(
        r.unexplained_span("姑苏区沧浪街道金狮大厦5号楼301室")
            .as_deref(),
        Some("金狮大厦")
    );
    assert_eq!(
        r.unexplained_span("苏州市姑苏区 锦华苑 三幢").as_deref(),
        Some("锦华苑")
    );
    assert_eq!(r.unexplained_span("姑苏区沧浪街道"), None);
    assert_eq!(r.unexplained_span(""), None);
}

#[test]
fn the_imported_book_answers_which_community_a_key_is_for() {
    let book = AddressBook::load_path(&book_path(), directory()).unwrap();
    let (code, line) = book.imported_target("南苑新村").unwrap();
    assert_eq!(code.as_str(), "320508021021");
    assert_eq!(line, 8);
    assert!(book.imported_target("金狮大厦").is_none());
}
