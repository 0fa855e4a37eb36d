//! A routing decision as it is stored with the ticket and shown to people: what the text was
//! classified as and why, where it was placed and from which words, which catalogue rule chose
//! the station, and every fallback taken. Plain data; the routing crate computes it.

use serde::{Deserialize, Serialize};

use crate::ids::{CategoryCode, DivisionCode, StationId};
use crate::kinds::{EmergencyService, Nature, Urgency};

/// One candidate category with its score (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredCategory {
    pub code: CategoryCode,
    pub name: String,
    pub score: f32,
}

/// The territory part of a decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TerritoryMatch {
    /// The most specific division identified (community, else street, else district).
    pub division: Option<DivisionCode>,
    /// `community`, `street`, `district` or `city`.
    pub level: String,
    pub name: String,
    /// The text that matched, as written.
    pub matched: String,
    /// Candidates when the name was ambiguous.
    pub candidates: Vec<String>,
    /// How it was found (`unique_name`, `kiosk`, `point`, `given`, `unresolved`...) and why.
    pub how: String,
    pub reason: String,
}

/// Why the ticket went where it went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Top categories, best first.
    pub categories: Vec<ScoredCategory>,
    /// The words that drove the category (model features or rule keywords).
    pub drivers: Vec<String>,
    /// `model`, `rules`, `operator` (given by a person) or `none`.
    pub category_source: String,
    /// A calibrated model's probability for the top category against the dispatch threshold
    /// the centre chose, in words (`probability 0.93 >= threshold 0.87 for at most 2.0%
    /// misrouted ... (model m-…)`); empty for operators, rules and uncalibrated models.
    #[serde(default)]
    pub confidence: String,
    pub nature: Option<Nature>,
    pub nature_cues: Vec<String>,
    pub urgency: Urgency,
    pub urgency_cues: Vec<String>,
    /// An emergency the text describes, to hand off (110/119/120/122).
    pub emergency: Option<EmergencyService>,
    pub emergency_cues: Vec<String>,
    pub territory: TerritoryMatch,
    /// The catalogue rule applied (its file, line and text), if one matched.
    pub rule: Option<String>,
    /// Every widening step taken, in order (e.g. "community unknown: street station").
    pub fallbacks: Vec<String>,
    /// The station chosen; the centre's triage station when unsure.
    pub station: Option<StationId>,
    /// True when the decision sends the ticket to centre triage.
    pub triage: bool,
    /// The catalogue and model versions the decision was made with.
    pub versions: String,
}
