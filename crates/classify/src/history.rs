//! Labels from the centre's own history: what a handled ticket teaches the category model.
//!
//! A closed ticket's final category is its label, with three exceptions read from its event
//! log:
//! - the category is the router's own unsure guess (a triage route) that no person confirmed
//!   or corrected: learning from it would only teach the model its own mistakes;
//! - a station's return for 职能不符 (not our function) was accepted while the ticket carried
//!   that category, and it still carries it: the centre itself said the category sent it to the
//!   wrong unit, so it counts against the first category, not for it;
//! - there is no category, or the ticket is not closed.
//!
//! A category corrected by an operator or a supervisor (re-categorised, or given at intake) is
//! the label: that is exactly the correction the model should learn.

use std::collections::{BTreeMap, BTreeSet};

use hotline_core::lifecycle::{self, Action, Event, Role};
use hotline_core::{CategoryCode, ReturnReason, Stage};

use crate::error::ClassifyError;
use crate::eval::EvalReport;
use crate::model::{Example, Model};
use crate::taxonomy::Taxonomy;

/// What one ticket's history says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryLabel {
    /// Train on the ticket's text with this category; `corrected` when a person changed the
    /// router's category.
    Label {
        category: CategoryCode,
        corrected: bool,
    },
    Skip(SkipReason),
}

/// Why a ticket teaches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    NotClosed,
    NoCategory,
    /// The router's unsure guess, never confirmed by a person.
    Unconfirmed,
    /// Returned for 职能不符 under the category it still has.
    Disputed,
    /// The event log does not replay (a damaged or foreign log).
    Unreadable,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::NotClosed => "not closed",
            SkipReason::NoCategory => "no category",
            SkipReason::Unconfirmed => "the router's unsure category, never confirmed by a person",
            SkipReason::Disputed => "returned for 职能不符 under the category it kept",
            SkipReason::Unreadable => "event log does not replay",
        }
    }
}

/// Who set the category in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetBy {
    Router { sure: bool },
    Person,
}

/// Reads the label from a ticket's full event log (oldest first).
pub fn label_of(events: &[Event]) -> HistoryLabel {
    let Ok(mut ticket) = lifecycle::replay(&events[..events.len().min(1)]) else {
        return HistoryLabel::Skip(SkipReason::Unreadable);
    };
    let mut set_by: Option<SetBy> = None;
    let mut corrected = false;
    let mut against: BTreeSet<CategoryCode> = BTreeSet::new();
    // The category a pending 职能不符 return was asked under.
    let mut disputed: Option<CategoryCode> = None;
    for event in events.iter().skip(1) {
        let before = ticket.category.clone();
        let Ok((next, _)) = lifecycle::apply(&ticket, &event.actor, event.action.clone(), event.at)
        else {
            return HistoryLabel::Skip(SkipReason::Unreadable);
        };
        match &event.action {
            Action::Route { explanation } if next.category != before || set_by.is_none() => {
                set_by = Some(if explanation.category_source == "operator" {
                    SetBy::Person
                } else {
                    SetBy::Router {
                        sure: !explanation.triage,
                    }
                });
            }
            Action::Reclassify { .. } if event.actor.role != Role::System => {
                if next.category.is_some() && next.category != before {
                    corrected |= before.is_some();
                    set_by = Some(SetBy::Person);
                } else if next.category.is_some() {
                    // Re-categorised to the same category: a person confirmed it.
                    set_by = Some(SetBy::Person);
                }
            }
            // Dispatching a triage ticket by hand confirms the category it carries.
            Action::Dispatch { .. }
                if matches!(event.actor.role, Role::Operator | Role::Supervisor)
                    && set_by == Some(SetBy::Router { sure: false }) =>
            {
                set_by = Some(SetBy::Person);
            }
            Action::RequestReturn {
                reason: ReturnReason::NotOurFunction,
                ..
            } => disputed = before.clone(),
            Action::ArbitrateReturn { accept, .. } => {
                if let (true, Some(category)) = (*accept, disputed.take()) {
                    against.insert(category);
                }
            }
            _ => {}
        }
        ticket = next;
    }
    if ticket.stage != Stage::Closed {
        return HistoryLabel::Skip(SkipReason::NotClosed);
    }
    let Some(category) = ticket.category else {
        return HistoryLabel::Skip(SkipReason::NoCategory);
    };
    if against.contains(&category) {
        return HistoryLabel::Skip(SkipReason::Disputed);
    }
    if set_by == Some(SetBy::Router { sure: false }) {
        return HistoryLabel::Skip(SkipReason::Unconfirmed);
    }
    HistoryLabel::Label {
        category,
        corrected,
    }
}

/// `code`'s ancestor at `level` (1 = the root categories), or `code` itself when it is no
/// deeper than that; `None` when the taxonomy lacks it.
pub fn at_level(taxonomy: &Taxonomy, code: &CategoryCode, level: usize) -> Option<CategoryCode> {
    let mut chain = Vec::new();
    let mut current = taxonomy.get(code);
    while let Some(category) = current {
        chain.push(category.code.clone());
        current = category.parent.as_ref().and_then(|p| taxonomy.get(p));
    }
    // `chain` runs from `code` up to its root.
    let depth = chain.len();
    if depth == 0 {
        return None;
    }
    Some(chain[depth - level.clamp(1, depth)].clone())
}

/// A candidate model against the live one on the same recent tickets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shadow {
    pub examples: usize,
    pub candidate_macro_f1: f64,
    pub live_macro_f1: f64,
}

impl Shadow {
    /// The candidate may go live: it is not worse than the live model.
    pub fn not_worse(&self) -> bool {
        self.candidate_macro_f1 + 1e-12 >= self.live_macro_f1
    }
}

/// Scores both models on `examples` (labels are taxonomy codes at `level`), each prediction
/// rolled up to `level` first, so models trained at different depths compare fairly.
pub fn shadow_compare(
    candidate: &Model,
    live: &Model,
    examples: &[Example],
    taxonomy: &Taxonomy,
    level: usize,
) -> Result<Shadow, ClassifyError> {
    let score = |model: &Model| -> Result<f64, ClassifyError> {
        let mut rolled = std::collections::HashMap::new();
        for label in model.labels() {
            let code = taxonomy.resolve(label)?.code.clone();
            let up = at_level(taxonomy, &code, level).unwrap_or(code);
            rolled.insert(label.clone(), up.to_string());
        }
        let predicted: Vec<&str> = examples
            .iter()
            .map(|e| rolled[model.predict_label(&e.text)].as_str())
            .collect();
        let gold: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
        Ok(EvalReport::from_pairs(&gold, &predicted).macro_f1)
    };
    Ok(Shadow {
        examples: examples.len(),
        candidate_macro_f1: score(candidate)?,
        live_macro_f1: score(live)?,
    })
}

/// Per-label counts, and the labels with fewer than `min` examples (sorted).
pub fn too_few(examples: &[Example], min: usize) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in examples {
        *counts.entry(e.label.clone()).or_insert(0) += 1;
    }
    let few = counts
        .iter()
        .filter(|(_, &n)| n < min)
        .map(|(l, _)| l.clone())
        .collect();
    (counts, few)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use hotline_core::lifecycle::Actor;
    use hotline_core::route::{Explanation, ScoredCategory};
    use hotline_core::NewTicket;
    use hotline_core::{StationId, TicketId};

    fn person(role: Role) -> Actor {
        Actor {
            role,
            staff: Some(hotline_core::StaffId::parse("staff", "s1").unwrap()),
            station: matches!(role, Role::Station).then(station),
        }
    }

    fn station() -> StationId {
        StationId::parse("station", "320508021019-css").unwrap()
    }

    fn code(raw: &str) -> CategoryCode {
        CategoryCode::parse("category", raw).unwrap()
    }

    fn route(category: &str, triage: bool) -> Action {
        Action::Route {
            explanation: Box::new(Explanation {
                categories: vec![ScoredCategory {
                    code: code(category),
                    name: String::new(),
                    score: 0.9,
                }],
                category_source: "model".into(),
                triage,
                ..Explanation::default()
            }),
        }
    }

    /// Plays `actions` from a fresh submit; returns the log.
    fn log(actions: Vec<(Actor, Action)>) -> Vec<Event> {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let new = NewTicket {
            request_id: None,
            channel: hotline_core::Channel::Hotline,
            caller: Default::default(),
            text: "小区路灯坏了".into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: None,
            nature: hotline_core::Nature::Help,
            urgency: hotline_core::Urgency::Normal,
            division: None,
        };
        let (mut ticket, first) = lifecycle::open(TicketId::new(), new, person(Role::Operator), at);
        let mut events = vec![first];
        for (actor, action) in actions {
            let (next, event) =
                lifecycle::apply(&ticket, &actor, action, at).unwrap_or_else(|e| panic!("{e}"));
            ticket = next;
            events.push(event);
        }
        events
    }

    fn through_to_close() -> Vec<(Actor, Action)> {
        vec![
            (
                person(Role::Station),
                Action::SignFor {
                    resolution_due: None,
                    first_contact_due: None,
                },
            ),
            (
                person(Role::Station),
                Action::Reply {
                    internal_record: "修好".into(),
                    public_reply: "已修复".into(),
                },
            ),
            (
                person(Role::Supervisor),
                Action::Review {
                    approve: true,
                    callback_due: None,
                    note: String::new(),
                },
            ),
            (
                person(Role::Operator),
                Action::RecordCallback {
                    satisfaction: hotline_core::Satisfaction::Satisfied,
                    reasonable: true,
                    note: String::new(),
                    redo_sign_for_due: None,
                },
            ),
            (person(Role::Operator), Action::Close),
        ]
    }

    fn dispatch(by: Role) -> (Actor, Action) {
        (
            if by == Role::System {
                Actor::system()
            } else {
                person(by)
            },
            Action::Dispatch {
                station: station(),
                sign_for_due: None,
                note: String::new(),
            },
        )
    }

    #[test]
    fn a_sure_route_closed_without_dispute_is_a_label() {
        let mut actions = vec![
            (Actor::system(), route("CJ", false)),
            dispatch(Role::System),
        ];
        actions.extend(through_to_close());
        assert_eq!(
            label_of(&log(actions)),
            HistoryLabel::Label {
                category: code("CJ"),
                corrected: false
            }
        );
    }

    #[test]
    fn a_correction_by_a_person_is_the_label() {
        let mut actions = vec![
            (Actor::system(), route("CJ", false)),
            dispatch(Role::System),
            (
                person(Role::Supervisor),
                Action::Reclassify {
                    category: Some(code("LS")),
                    nature: hotline_core::Nature::Help,
                    urgency: hotline_core::Urgency::Normal,
                    division: None,
                    address: None,
                },
            ),
        ];
        actions.extend(through_to_close());
        assert_eq!(
            label_of(&log(actions)),
            HistoryLabel::Label {
                category: code("LS"),
                corrected: true
            }
        );
    }

    #[test]
    fn an_accepted_return_for_not_our_function_counts_against_the_category() {
        let mut actions = vec![
            (Actor::system(), route("CJ", false)),
            dispatch(Role::System),
            (
                person(Role::Station),
                Action::RequestReturn {
                    reason: ReturnReason::NotOurFunction,
                    basis: "不归我们管".into(),
                },
            ),
            (
                person(Role::Supervisor),
                Action::ArbitrateReturn {
                    accept: true,
                    note: String::new(),
                },
            ),
            // Dispatched again elsewhere by hand, the category never corrected.
            dispatch(Role::Operator),
        ];
        actions.extend(through_to_close());
        assert_eq!(
            label_of(&log(actions)),
            HistoryLabel::Skip(SkipReason::Disputed)
        );
    }

    #[test]
    fn an_unsure_route_counts_only_once_a_person_confirms_it() {
        let unsure = || vec![(Actor::system(), route("CJ", true))];
        let mut confirmed = unsure();
        confirmed.push(dispatch(Role::Operator));
        confirmed.extend(through_to_close());
        assert!(matches!(
            label_of(&log(confirmed)),
            HistoryLabel::Label { .. }
        ));
        let open = unsure();
        assert_eq!(
            label_of(&log(open)),
            HistoryLabel::Skip(SkipReason::NotClosed)
        );
        assert_eq!(label_of(&[]), HistoryLabel::Skip(SkipReason::Unreadable));
    }

    #[test]
    fn categories_roll_up_to_the_level_asked() {
        let taxonomy = Taxonomy::shipped();
        let deep = code("LS.GZFL");
        assert_eq!(at_level(&taxonomy, &deep, 1).unwrap().as_str(), "LS");
        assert_eq!(at_level(&taxonomy, &deep, 2).unwrap().as_str(), "LS.GZFL");
        assert_eq!(at_level(&taxonomy, &deep, 5).unwrap().as_str(), "LS.GZFL");
        assert_eq!(at_level(&taxonomy, &code("XX"), 1), None);
    }
}
