//! What a resolution answers: the division, how sure, the text that named it, and the
//! candidates when the text does not decide.

use std::fmt;

use hotline_core::DivisionCode;
use hotline_directory::Level;
use serde::Serialize;

use crate::address_book::{BookMatch, MatchKind};

/// The three outcomes a router acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// One division is identified: route to it.
    Resolved,
    /// Several divisions fit: `candidates` lists them; `division` is what they share (their
    /// common street or district), if anything below the city.
    Ambiguous,
    /// No division of the city is identified.
    Unresolved,
}

/// Why the resolver answered as it did. [`Resolution::reason`] renders it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Resolved: the name identifies one division, and nothing else in the text contradicts it.
    UniqueName,
    /// Resolved: the name is unique and the street or district named with it agree.
    ConfirmedByContext,
    /// Resolved: the name is shared by several divisions; the street or district named picks one.
    PickedByContext,
    /// Resolved, with low confidence: only a loose form matched (a bare stem such as `木渎` for
    /// 木渎镇, or `园区` for 苏州工业园区).
    LooseName,
    /// Resolved: the kiosk is registered in this community.
    Kiosk,
    /// Resolved by the address book: a 小区's name ([`Resolution::book`] says how closely).
    BookName,
    /// Resolved by the address book: an alias the book lists.
    BookAlias,
    /// Resolved by the address book: a road and house number inside one of its ranges.
    BookRoad,
    /// Resolved by the address book: a landmark (school, market, hospital).
    BookLandmark,
    /// Resolved by an alias learned from corrections and confirmed by a supervisor.
    LearnedAlias,
    /// Ambiguous: the name is shared by several divisions and the text does not say which.
    NameRepeats,
    /// Ambiguous: the text names several different places of the same level.
    SeveralPlaces,
    /// Ambiguous: the text names a street or district that does not contain the named place.
    Contradiction,
    /// Unresolved: the text is empty or blank.
    Empty,
    /// Unresolved: no place name of the city was found.
    NoPlaceName,
    /// Unresolved: the text names a place outside the city (e.g. 北京市).
    OutsideCity,
    /// Unresolved: only the city itself is named.
    CityOnly,
    /// Unresolved: the kiosk is not registered.
    UnknownKiosk,
}

impl Why {
    /// The outcome this reason belongs to.
    pub fn outcome(self) -> Outcome {
        match self {
            Why::UniqueName
            | Why::ConfirmedByContext
            | Why::PickedByContext
            | Why::LooseName
            | Why::Kiosk
            | Why::BookName
            | Why::BookAlias
            | Why::BookRoad
            | Why::BookLandmark
            | Why::LearnedAlias => Outcome::Resolved,
            Why::NameRepeats | Why::SeveralPlaces | Why::Contradiction => Outcome::Ambiguous,
            Why::Empty
            | Why::NoPlaceName
            | Why::OutsideCity
            | Why::CityOnly
            | Why::UnknownKiosk => Outcome::Unresolved,
        }
    }

    /// A stable code for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Why::UniqueName => "unique_name",
            Why::ConfirmedByContext => "confirmed_by_context",
            Why::PickedByContext => "picked_by_context",
            Why::LooseName => "loose_name",
            Why::Kiosk => "kiosk",
            Why::BookName => "book_name",
            Why::BookAlias => "book_alias",
            Why::BookRoad => "book_road",
            Why::BookLandmark => "book_landmark",
            Why::LearnedAlias => "learned_alias",
            Why::NameRepeats => "name_repeats",
            Why::SeveralPlaces => "several_places",
            Why::Contradiction => "contradiction",
            Why::Empty => "empty",
            Why::NoPlaceName => "no_place_name",
            Why::OutsideCity => "outside_city",
            Why::CityOnly => "city_only",
            Why::UnknownKiosk => "unknown_kiosk",
        }
    }
}

impl Why {
    /// The reason an address-book match of `kind` is given.
    pub fn of_book(kind: MatchKind) -> Self {
        match kind {
            MatchKind::Name => Why::BookName,
            MatchKind::Alias => Why::BookAlias,
            MatchKind::Road => Why::BookRoad,
            MatchKind::Landmark => Why::BookLandmark,
            MatchKind::Learned => Why::LearnedAlias,
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The part of the input that named the place: a byte range into the input and its text.
/// When a street or district is named with the place, the span runs from the first of those
/// names to the end of the place's name (`苏州市姑苏区双塔街道沧浪亭社区`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// A division the text may mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub code: DivisionCode,
    /// The official name, e.g. `金麟社区居委会`.
    pub name: String,
    pub level: Level,
    /// Where it is, for a person choosing: the short names from the district down, e.g.
    /// `常熟市东南街道金麟社区`.
    pub path: String,
}

/// The answer of the resolver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub outcome: Outcome,
    pub why: Why,
    /// Resolved: the division. Ambiguous: the division all candidates share below the city
    /// (street or district), if any. Unresolved: `None`.
    pub division: Option<DivisionCode>,
    pub level: Option<Level>,
    /// The official name of `division`.
    pub name: Option<String>,
    pub span: Option<Span>,
    /// Non-empty when ambiguous: the divisions the text may mean.
    pub candidates: Vec<Candidate>,
    /// 0.0 (nothing) to 1.0 (certain); a router may send anything below its threshold to triage.
    pub confidence: f32,
    /// Resolved by the address book: what matched, how closely, and how sure.
    pub book: Option<BookMatch>,
}

impl Resolution {
    pub(crate) fn unresolved(why: Why, span: Option<Span>) -> Self {
        debug_assert_eq!(why.outcome(), Outcome::Unresolved);
        Self {
            outcome: Outcome::Unresolved,
            why,
            division: None,
            level: None,
            name: None,
            span,
            candidates: Vec::new(),
            confidence: 0.0,
            book: None,
        }
    }

    /// Whether one division was identified.
    pub fn is_resolved(&self) -> bool {
        self.outcome == Outcome::Resolved
    }

    /// A sentence for an operator or a log saying why.
    pub fn reason(&self) -> String {
        let named = self
            .span
            .as_ref()
            .map(|s| format!("「{}」", s.text))
            .unwrap_or_default();
        let division = self.name.as_deref().unwrap_or("");
        let candidates = self
            .candidates
            .iter()
            .map(|c| format!("{} ({})", c.path, c.code))
            .collect::<Vec<_>>()
            .join(", ");
        match self.why {
            Why::UniqueName => format!("{named} names {division}"),
            Why::ConfirmedByContext => {
                format!("{named} names {division}, and the street/district named with it agree")
            }
            Why::PickedByContext => format!(
                "{named} names {division}: the name repeats elsewhere, the street/district named picks this one"
            ),
            Why::LooseName => format!("{named} loosely names {division} (low confidence)"),
            Why::Kiosk => format!("the kiosk stands in {division}"),
            Why::BookName
            | Why::BookAlias
            | Why::BookRoad
            | Why::BookLandmark
            | Why::LearnedAlias => match &self.book {
                Some(book) => format!(
                    "{named} is in the address book as {}: {division}",
                    book.describe()
                ),
                None => format!("{named} names {division} in the address book"),
            },
            Why::NameRepeats => format!(
                "{named} is the name of {} places and the text does not say which: {candidates}",
                self.candidates.len()
            ),
            Why::SeveralPlaces => format!("the text names several places: {candidates}"),
            Why::Contradiction => format!(
                "the text names places that do not contain one another: {candidates}"
            ),
            Why::Empty => "the text is empty".to_owned(),
            Why::NoPlaceName => "no place name of the city was found in the text".to_owned(),
            Why::OutsideCity => format!("{named} is outside the city"),
            Why::CityOnly => format!("{named} names only the city, not a district"),
            Why::UnknownKiosk => "the kiosk is not registered in the directory".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_belongs_to_one_outcome_and_has_a_unique_code() {
        let all = [
            Why::UniqueName,
            Why::ConfirmedByContext,
            Why::PickedByContext,
            Why::LooseName,
            Why::Kiosk,
            Why::BookName,
            Why::BookAlias,
            Why::BookRoad,
            Why::BookLandmark,
            Why::LearnedAlias,
            Why::NameRepeats,
            Why::SeveralPlaces,
            Why::Contradiction,
            Why::Empty,
            Why::NoPlaceName,
            Why::OutsideCity,
            Why::CityOnly,
            Why::UnknownKiosk,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|w| w.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(Why::CityOnly.outcome(), Outcome::Unresolved);
        assert_eq!(Why::NameRepeats.outcome(), Outcome::Ambiguous);
    }
}
