//! Scenario files: what is accepted, and bad input refused naming the key and the line.

use std::path::{Path, PathBuf};

use hotline_classify::Taxonomy;
use hotline_directory::{Directory, Level, StationKind};
use hotline_simulate::scenario::{self, Context, Scenario};
use hotline_simulate::SimulateError;
use hotline_sla::WorkingCalendar;

fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn parse_with(text: &str, shared: &Path) -> Result<Scenario, SimulateError> {
    let directory = Directory::suzhou();
    let taxonomy = Taxonomy::shipped();
    let calendar = WorkingCalendar::builtin();
    scenario::parse(
        "plan.toml",
        text,
        None,
        &Context {
            directory: &directory,
            taxonomy: &taxonomy,
            calendar: &calendar,
            shared_data: shared,
        },
    )
}

fn parse(text: &str) -> Result<Scenario, SimulateError> {
    parse_with(text, &shared_data())
}

/// The error's key, line and message.
fn refused(text: &str) -> (String, usize, String) {
    match parse(text) {
        Err(SimulateError::Scenario {
            key, line, message, ..
        }) => (key, line, message),
        other => panic!("expected a scenario error, got {other:?}"),
    }
}

const HEAD: &str = "start = \"2026-03-02\"\ndays = 1\n";

fn with(body: &str) -> String {
    format!("{HEAD}{body}")
}

#[test]
fn a_full_scenario_is_read_with_its_defaults() {
    let s = parse(&with(
        "[arrivals]\nper_day = 1000\n\n[staff]\ndefault = 2\n\"street:office\" = 6\npolice = 4\n",
    ))
    .unwrap();
    assert_eq!(s.arrivals.per_day, 1000.0);
    assert_eq!(s.staff.of(Level::Street, StationKind::Office), 6);
    assert_eq!(s.staff.of(Level::Community, StationKind::Police), 4);
    assert_eq!(s.staff.of(Level::District, StationKind::Housing), 2);
    // The labelled messages' mix: seven first-level subjects, 城乡建设 (CJ) the largest.
    assert_eq!(s.arrivals.categories.len(), 7);
    let biggest = s
        .arrivals
        .categories
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(biggest.0.as_str(), "CJ");
    // Every community of Suzhou, alike.
    assert_eq!(
        s.arrivals.territory.len(),
        Directory::suzhou().count_at(Level::Community)
    );
    // The fitted resolve time: the real replies' median is about 11 days.
    match &s.behaviour.resolve {
        hotline_simulate::behaviour::Dist::LogNormal { median, sigma } => {
            assert!((9..=12).contains(&median.num_days()), "{median}");
            assert!(*sigma > 0.5);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_category_is_refused_naming_the_key_and_line() {
    let (key, line, message) = refused(&with("[arrivals]\ncategories = { XX = 1 }\n"));
    assert_eq!(key, "arrivals.categories.XX");
    assert_eq!(line, 4);
    assert!(message.contains("not a category"), "{message}");
    let (key, line, _) = refused(&with(
        "\n[[event]]\nkind = \"surge\"\ncategory = \"CJ.NOPE\"\nstart = \"2026-03-02T09:00\"\nhours = 2\ntickets = 10\n",
    ));
    assert_eq!((key.as_str(), line), ("event[0].category", 6));
}

#[test]
fn an_unknown_division_is_refused_naming_the_key_and_line() {
    let (key, line, message) = refused(&with("[arrivals]\nterritory = { \"320599\" = 1 }\n"));
    assert_eq!((key.as_str(), line), ("arrivals.territory.320599", 4));
    assert!(message.contains("not a division"), "{message}");
}

#[test]
fn an_unknown_station_kind_is_refused_naming_the_key_and_line() {
    let (key, line, message) = refused(&with("[staff]\n\"street:bakery\" = 3\n"));
    assert_eq!((key.as_str(), line), ("staff.street:bakery", 4));
    assert!(message.contains("bakery"), "{message}");
    // A kind that exists, at a level where it does not.
    let (key, _, message) = refused(&with("[staff]\n\"community:housing\" = 3\n"));
    assert_eq!(key, "staff.community:housing");
    assert!(
        message.contains("no housing station at community level"),
        "{message}"
    );
}

#[test]
fn negative_rates_are_refused_naming_the_key_and_line() {
    let (key, line, message) = refused(&with("[arrivals]\nper_day = -5\n"));
    assert_eq!((key.as_str(), line), ("arrivals.per_day", 4));
    assert!(message.contains("cannot be negative"), "{message}");
    let (key, line, _) = refused(&with("[arrivals]\nchannels = { hotline = -1 }\n"));
    assert_eq!((key.as_str(), line), ("arrivals.channels.hotline", 4));
    let (key, line, _) = refused(&with("[behaviour]\nreturns = 1.5\n"));
    assert_eq!((key.as_str(), line), ("behaviour.returns", 4));
}

#[test]
fn a_distribution_that_cannot_be_sampled_is_refused_naming_the_key_and_line() {
    let (key, line, message) = refused(&with(
        "[behaviour]\nsign_for = { dist = \"lognormal\", median = \"10 min\", sigma = -0.5 }\n",
    ));
    assert_eq!((key.as_str(), line), ("behaviour.sign_for", 4));
    assert!(message.contains("cannot be sampled"), "{message}");
    let (key, line, message) = refused(&with(
        "[behaviour]\n\nhandle = { dist = \"uniform\", min = \"2 h\", max = \"1 h\" }\n",
    ));
    assert_eq!((key.as_str(), line), ("behaviour.handle", 5));
    assert!(message.contains("above max"), "{message}");
}

#[test]
fn a_period_in_an_unpublished_holiday_year_is_refused() {
    let (key, line, message) = refused("name = \"next year\"\nstart = \"2027-02-01\"\ndays = 7\n");
    assert_eq!((key.as_str(), line), ("start", 2));
    assert!(message.contains("2027 is not published"), "{message}");
    // A period running into it from December.
    let (key, line, _) = refused("start = \"2026-12-28\"\nend = \"2027-01-03\"\n");
    assert_eq!((key.as_str(), line), ("end", 2));
}

#[test]
fn unknown_keys_and_events_are_refused_naming_the_line() {
    let (key, line, _) = refused(&with("[arrivals]\nper_hour = 5\n"));
    assert_eq!((key.as_str(), line), ("per_hour", 4));
    let (key, line, message) = refused(&with("[[event]]\nkind = \"typhoon\"\n"));
    assert_eq!((key.as_str(), line), ("event[0].kind", 4));
    assert!(message.contains("surge, capacity, policy"), "{message}");
}

#[test]
fn without_the_shared_data_the_defaults_say_what_to_set() {
    let err = parse_with(
        &with("[arrivals]\nper_day = 10\n"),
        Path::new("/nonexistent"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("arrivals.categories"), "{text}");
    assert!(text.contains("--shared-data"), "{text}");
}
