//! The [`RoutingEngine`]: a request -> the stored [`Explanation`] of where it goes and why.
//!
//! How a decision is made:
//! 1. **Category.** An operator's category wins (source `operator`); else the classifier's top
//!    category, trusted when it claims the text and scores at least
//!    [`Settings::min_category_score`]. Nature and urgency: the operator's, else the
//!    classifier's; an emergency raises the urgency to critical.
//! 2. **Territory.** An operator's division wins; else the address, then the free text, then
//!    the kiosk, then the map point (which gives only a district). The first confident answer
//!    is taken, then refined by any later one lying inside it (an address naming a street, a
//!    text naming a community of that street). An ambiguous name narrows to what its
//!    candidates share; a resolution below [`Settings::min_territory_confidence`] is widened to
//!    its parent. Every step is recorded in [`TerritoryMatch`]: `how` is `given`,
//!    `address:<why>` / `text:<why>` (the resolver's reason code, e.g. `text:unique_name`),
//!    `kiosk`, `point` or `unresolved` (then `division` is `None` and `level` empty); `reason`
//!    lists what each source said, prefixed by the source.
//! 3. **Rule.** The most specific catalogue rule ([`Catalogue::select`]). An unsure category
//!    only matches `*` rules with words (停水 -> the water company).
//! 4. **Station.** The rule's steps are walked from the narrowest: the first at or above the
//!    level the territory is known at wins (city steps need no territory). When none applies
//!    but a district is known, the district's 12345 office coordinates. Every widening is a
//!    line in `fallbacks`.
//! 5. **Triage** (the centre's queue, `triage: true`) when the category is unsure and no word
//!    item matches, when the territory is unresolved and the rule needs one, or for an
//!    emergency (see below). Each cause is a typed [`TriageReason`] and a line in `fallbacks`.
//!
//! Emergencies: when the text describes one (fire, violence, injury, gas leak, traffic) and no
//! operator has categorised it, the ticket goes to centre triage with the fallback
//! "emergency: hand off to 119" and the station the catalogue would have chosen, so a person
//! makes the 转110/119/120/122 hand-off at once instead of the ticket waiting for a station to
//! sign for it. When an operator gave the category, they have already judged the call (and
//! made the hand-off while on the line): the ticket routes normally, still flagged critical.

use std::sync::Arc;

use hotline_classify::{CategorySource, Classification, Classifier, Status, UnclassifiedReason};
use hotline_core::route::{Explanation, ScoredCategory, TerritoryMatch};
use hotline_core::{CategoryCode, DivisionCode, KioskId, Nature, StationId, Urgency};
use hotline_directory::{Directory, Division, Level, StationKind};
use hotline_territory::{Outcome, Resolution, Resolver};

use crate::catalogue::{Catalogue, Query, Rule};
use crate::error::RoutingError;

/// Thresholds of the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Below this top-category score the classifier is "unsure" and the ticket goes to triage
    /// (unless a word item of the catalogue matches). The cold-start rules score a category by
    /// its share of keyword hits, so 0.5 means "at least as many hits as all others together".
    pub min_category_score: f32,
    /// A territory resolved with less confidence than this is widened to its parent (the
    /// territory resolver gives 0.5 to a bare loose name such as `木渎`, 0.9 to a unique name).
    pub min_territory_confidence: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            min_category_score: 0.5,
            min_territory_confidence: 0.6,
        }
    }
}

/// What a routing decision is made from. Every field but `text` is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteRequest {
    /// The citizen's message (诉求内容).
    pub text: String,
    /// The address as recorded (事发地址), if separate from the text.
    pub address: Option<String>,
    /// A map point, GCJ-02 `(lat, lng)` degrees: gives the district only.
    pub location: Option<(f64, f64)>,
    /// The kiosk the request came from.
    pub kiosk: Option<KioskId>,
    /// A category chosen by an operator: wins over the classifier.
    pub category: Option<CategoryCode>,
    /// A nature chosen by an operator.
    pub nature: Option<Nature>,
    /// An urgency chosen by an operator (an emergency still raises it to critical).
    pub urgency: Option<Urgency>,
    /// A division chosen by an operator: wins over resolution.
    pub division: Option<DivisionCode>,
}

impl RouteRequest {
    /// A request with only the message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// Why a decision went to centre triage. Each also appears in `Explanation::fallbacks`,
/// prefixed by its [`TriageReason::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriageReason {
    /// The message is empty or blank.
    EmptyText,
    /// The message has no Chinese (emoji, punctuation, digits, another language).
    NotChinese,
    /// Chinese text, but nothing the classifier knows.
    NothingKnown,
    /// A category was found but scores below the threshold, or the model claims no label.
    LowCategoryScore,
    /// No territory of the city was identified and the rule needs one.
    TerritoryUnresolved,
    /// The message describes an emergency; a person hands it off.
    Emergency,
    /// The catalogue rule itself sends it to triage (`city:triage`).
    CatalogueRule,
}

impl TriageReason {
    /// A stable code for logs, metrics and the `fallbacks` lines.
    pub fn code(self) -> &'static str {
        match self {
            TriageReason::EmptyText => "empty_text",
            TriageReason::NotChinese => "not_chinese",
            TriageReason::NothingKnown => "nothing_known",
            TriageReason::LowCategoryScore => "low_category_score",
            TriageReason::TerritoryUnresolved => "territory_unresolved",
            TriageReason::Emergency => "emergency",
            TriageReason::CatalogueRule => "catalogue_rule",
        }
    }
}

/// A decision with its triage causes typed (the explanation carries them as text).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub explanation: Explanation,
    /// Empty unless `explanation.triage`.
    pub triage_reasons: Vec<TriageReason>,
    /// How long each step of this decision took (for the per-step profile and histograms).
    pub steps: StepTimes,
}

/// The time of each step of one decision. Measured with [`Instant`](std::time::Instant) at
/// the step boundaries (five clock reads, tens of nanoseconds against a decision's tens of
/// microseconds), so every decision carries them and a caller may record or ignore them.
/// Excluded from equality: two decisions of the same request are the same decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimes {
    /// The classifier (segmentation, features, model or rules, cues).
    pub classify: std::time::Duration,
    /// The territory: given division, address, text, kiosk, point.
    pub territory: std::time::Duration,
    /// The catalogue rule and the walk of its steps to a station.
    pub catalogue: std::time::Duration,
    /// The whole decision, the assembly of the explanation included.
    pub total: std::time::Duration,
}

impl PartialEq for StepTimes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Routes requests. Build once, share behind an `Arc`: `Send + Sync`, every method `&self`.
#[derive(Debug)]
pub struct RoutingEngine {
    classifier: Classifier,
    resolver: Resolver,
    catalogue: Catalogue,
    directory: Arc<Directory>,
    settings: Settings,
    versions: String,
}

/// The category part of a decision.
struct Categorised {
    categories: Vec<ScoredCategory>,
    drivers: Vec<String>,
    /// `operator`, `model`, `rules` or `none`.
    source: &'static str,
    /// Why the top category is not trusted, if it is not.
    unsure: Option<(TriageReason, String)>,
    /// The model's probability against its dispatch threshold, in words (see
    /// [`Explanation::confidence`]).
    confidence: String,
}

/// The territory found for a request.
struct Located<'d> {
    division: Option<&'d Division>,
    matched: TerritoryMatch,
}

/// A source's answer about territory.
struct Attempt<'d> {
    source: &'static str,
    division: Option<&'d Division>,
    /// Confident and specific (no widening needed).
    good: bool,
    how: String,
    reason: String,
    matched: String,
    candidates: Vec<String>,
}

impl RoutingEngine {
    /// Puts the parts together. Fails if a catalogue rule names a category the classifier's
    /// taxonomy lacks, or the resolver was built from another directory.
    pub fn new(
        classifier: Classifier,
        resolver: Resolver,
        catalogue: Catalogue,
        directory: Arc<Directory>,
        settings: Settings,
    ) -> Result<Self, RoutingError> {
        catalogue.check_categories(classifier.taxonomy())?;
        if !Arc::ptr_eq(resolver.directory(), &directory) {
            return Err(RoutingError::inconsistent(
                catalogue.file(),
                "the territory resolver was built from another directory than the engine's",
            ));
        }
        // The model's version names the exact file; the sizes help a reader without it.
        let model = classifier.model().map_or_else(
            || "none".to_owned(),
            |m| {
                format!(
                    "{}({}labels/{}features/{}examples)",
                    m.version(),
                    m.labels().len(),
                    m.feature_count(),
                    m.trained_on()
                )
            },
        );
        let versions = format!(
            "catalogue={} taxonomy={} rules={} model={}",
            catalogue.version(),
            classifier.taxonomy().version(),
            classifier.rules().version(),
            model
        );
        Ok(Self {
            classifier,
            resolver,
            catalogue,
            directory,
            settings,
            versions,
        })
    }

    /// The shipped classifier and catalogue over Suzhou's directory, default settings.
    pub fn suzhou() -> Self {
        let directory = Arc::new(Directory::suzhou());
        let resolver = Resolver::new(directory.clone());
        Self::new(
            Classifier::shipped(),
            resolver,
            Catalogue::shipped(),
            directory,
            Settings::default(),
        )
        .expect("the shipped catalogue fits the shipped taxonomy")
    }

    /// The classifier (its taxonomy and rules), for adapters that describe the categories.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// `catalogue=… taxonomy=… rules=… model=…`, as recorded in every decision.
    pub fn versions(&self) -> &str {
        &self.versions
    }

    /// The territory resolver (its address book takes learned aliases while in use).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The explanation to store with the ticket. Never panics; see [`RoutingEngine::route`].
    pub fn decide(&self, request: &RouteRequest) -> Explanation {
        self.route(request).explanation
    }

    /// The decision with its triage causes typed. Never panics: every input, however bad,
    /// gets a station (at worst centre triage) and the reasons.
    pub fn route(&self, request: &RouteRequest) -> Decision {
        let started = std::time::Instant::now();
        let mut steps = StepTimes::default();
        let text = request.text.as_str();
        let classification = self.classifier.classify(text);
        let mut fallbacks = Vec::new();
        let mut triage_reasons = Vec::new();

        // 1. Category, nature, urgency, emergency.
        let Categorised {
            categories,
            drivers,
            source,
            unsure,
            confidence,
        } = self.category(request, &classification, &mut fallbacks);
        let sure = unsure.is_none();
        let nature = request.nature.or(classification.nature);
        let emergency = classification.emergencies.first().map(|e| e.service);
        let mut urgency = request.urgency.unwrap_or(classification.urgency);
        if emergency.is_some() {
            urgency = Urgency::Critical;
        }
        let emergency_cues: Vec<String> = classification
            .emergencies
            .iter()
            .flat_map(|e| e.cues.iter().cloned())
            .collect();

        let classified = std::time::Instant::now();
        steps.classify = classified - started;

        // 2. Territory.
        let located = self.locate(request, &mut fallbacks);
        let territory_done = std::time::Instant::now();
        steps.territory = territory_done - classified;

        // 3. Rule.
        let category = if sure {
            categories.first().map(|c| &c.code)
        } else {
            None
        };
        let rule = self.catalogue.select(&Query {
            category,
            nature,
            urgency,
            text,
        });
        if let Some((reason, problem)) = unsure {
            match rule {
                Some(rule) => fallbacks.push(format!(
                    "category unsure ({problem}): the catalogue item for 「{}」 applies",
                    rule.matched_word(text).unwrap_or_default()
                )),
                None => {
                    fallbacks.push(format!(
                        "{}: category unsure: {problem}: centre triage",
                        reason.code()
                    ));
                    triage_reasons.push(reason);
                }
            }
        }

        // 4. Station.
        let mut station = None;
        if let Some(rule) = rule {
            station = self.walk(rule, located.division, &mut fallbacks);
            if station.is_none() {
                triage_reasons.push(TriageReason::TerritoryUnresolved);
                fallbacks.push(format!(
                    "{}: territory unresolved, and the rule needs one: centre triage",
                    TriageReason::TerritoryUnresolved.code()
                ));
            } else if station
                .as_ref()
                .is_some_and(|s| s == &self.directory.triage_station().id)
            {
                triage_reasons.push(TriageReason::CatalogueRule);
                fallbacks.push(format!(
                    "{}: the catalogue rule sends it to centre triage",
                    TriageReason::CatalogueRule.code()
                ));
            }
        }

        steps.catalogue = territory_done.elapsed();

        // 5. Emergencies go to a person first.
        if let (Some(service), None) = (emergency, &request.category) {
            let would = station
                .as_ref()
                .filter(|_| triage_reasons.is_empty())
                .map(|s| format!("; the catalogue's station would be {s}"))
                .unwrap_or_default();
            fallbacks.push(format!(
                "{}: hand off to {} ({}){would}",
                TriageReason::Emergency.code(),
                service.name_zh(),
                emergency_cues.join(" "),
            ));
            triage_reasons.push(TriageReason::Emergency);
        } else if emergency.is_some() {
            fallbacks.push(
                "emergency flagged: the operator categorised the call, so it routes normally"
                    .to_owned(),
            );
        }

        let triage = !triage_reasons.is_empty();
        if triage {
            station = Some(self.directory.triage_station().id.clone());
        }
        debug_assert!(station.is_some());
        let explanation = Explanation {
            categories,
            drivers,
            category_source: source.to_owned(),
            confidence,
            nature,
            nature_cues: if request.nature.is_some() {
                Vec::new()
            } else {
                classification.nature_cues
            },
            urgency,
            urgency_cues: if request.urgency.is_some() {
                Vec::new()
            } else {
                classification.urgency_cues
            },
            emergency,
            emergency_cues,
            territory: located.matched,
            rule: rule.map(|r| self.catalogue.describe(r)),
            fallbacks,
            station,
            triage,
            versions: self.versions.clone(),
        };
        steps.total = started.elapsed();
        Decision {
            explanation,
            triage_reasons,
            steps,
        }
    }

    /// The categories to record, the drivers, the source, and why the top one is unsure.
    fn category(
        &self,
        request: &RouteRequest,
        classification: &Classification,
        fallbacks: &mut Vec<String>,
    ) -> Categorised {
        if let Some(code) = &request.category {
            if let Some(category) = self.classifier.taxonomy().get(code) {
                let given = ScoredCategory {
                    code: code.clone(),
                    name: category.name.clone(),
                    score: 1.0,
                };
                return Categorised {
                    categories: vec![given],
                    drivers: Vec::new(),
                    source: "operator",
                    unsure: None,
                    confidence: String::new(),
                };
            }
            fallbacks.push(format!(
                "the operator's category `{code}` is not in the taxonomy: classified instead"
            ));
        }
        let categories: Vec<ScoredCategory> = classification
            .categories
            .iter()
            .map(|c| ScoredCategory {
                code: c.code.clone(),
                name: c.name.clone(),
                score: c.score,
            })
            .collect();
        let drivers = classification
            .drivers
            .iter()
            .map(|d| d.feature.clone())
            .collect();
        let source = match classification.source {
            CategorySource::Model => "model",
            CategorySource::Rules => "rules",
            CategorySource::None => "none",
        };
        // A calibrated model's threshold, said beside the probability it was compared with.
        let confidence = match (
            classification.threshold,
            categories.first(),
            self.classifier.model(),
        ) {
            (Some(threshold), Some(top), Some(model)) if source == "model" => {
                let rule = model
                    .calibration()
                    .and_then(|c| c.selective)
                    .map(|s| s.describe())
                    .unwrap_or_else(|| format!("threshold {threshold:.2}"));
                format!(
                    "probability {:.2} {} {rule} (model {})",
                    top.score,
                    if top.score >= threshold { ">=" } else { "<" },
                    model.version()
                )
            }
            _ => String::new(),
        };
        let (reason, problem) = match (classification.status, categories.first()) {
            (Status::Classified, Some(top)) if top.score >= self.settings.min_category_score => {
                return Categorised {
                    categories,
                    drivers,
                    source,
                    unsure: None,
                    confidence,
                };
            }
            (Status::Classified, Some(top)) => (
                TriageReason::LowCategoryScore,
                format!(
                    "top category {} {} scores {:.2} < {:.2}",
                    top.code, top.name, top.score, self.settings.min_category_score
                ),
            ),
            (Status::Unclassified(UnclassifiedReason::Empty), _) => {
                (TriageReason::EmptyText, "the message is empty".to_owned())
            }
            (Status::Unclassified(UnclassifiedReason::NotChinese), _) => (
                TriageReason::NotChinese,
                "the message has no Chinese text".to_owned(),
            ),
            (Status::LowConfidence, Some(top)) if classification.threshold.is_some() => (
                TriageReason::LowCategoryScore,
                format!("top category {} {}: {confidence}", top.code, top.name),
            ),
            (Status::LowConfidence, _) => (
                TriageReason::LowCategoryScore,
                "the model claims no category for the message".to_owned(),
            ),
            (Status::Unclassified(UnclassifiedReason::NothingKnown), _)
            | (Status::Classified, None) => (
                TriageReason::NothingKnown,
                "nothing in the message is known to the classifier".to_owned(),
            ),
        };
        Categorised {
            categories,
            drivers,
            source,
            unsure: Some((reason, problem)),
            confidence,
        }
    }

    /// Walks the rule's steps from the narrowest; `None` when no step applies and no district
    /// is known.
    fn walk(
        &self,
        rule: &Rule,
        territory: Option<&Division>,
        fallbacks: &mut Vec<String>,
    ) -> Option<StationId> {
        let mut skipped: Vec<String> = Vec::new();
        for step in &rule.steps {
            let at = if step.level == Level::City {
                Some(self.directory.city())
            } else {
                territory.and_then(|t| self.ancestor_at(t, step.level))
            };
            match at.and_then(|d| self.directory.station_of_kind(&d.code, step.kind)) {
                Some(station) => {
                    if !skipped.is_empty() {
                        fallbacks.push(format!(
                            "{}: skipped {}, sent to {step}",
                            self.known_as(territory),
                            skipped.join(" ")
                        ));
                    }
                    return Some(station.id.clone());
                }
                None => skipped.push(step.to_string()),
            }
        }
        let district = territory.and_then(|t| self.ancestor_at(t, Level::District))?;
        let station = self
            .directory
            .station_of_kind(&district.code, StationKind::Command)?;
        fallbacks.push(format!(
            "{}: no step of the rule applies ({}), the district 12345 office coordinates",
            self.known_as(territory),
            skipped.join(" ")
        ));
        Some(station.id.clone())
    }

    /// `territory known only as the street 双塔街道`, for fallbacks.
    fn known_as(&self, territory: Option<&Division>) -> String {
        match territory {
            Some(t) if t.level == Level::Community => {
                format!("territory is the community {}", t.name)
            }
            Some(t) => format!("territory known only as the {} {}", t.level.code(), t.name),
            None => "territory unresolved".to_owned(),
        }
    }

    /// The division of `level` containing `division` (itself at its own level).
    fn ancestor_at(&self, division: &Division, level: Level) -> Option<&Division> {
        if level > division.level {
            return None;
        }
        self.directory
            .ancestors(&division.code)
            .find(|d| d.level == level)
    }

    /// Finds the territory: given division, address, text, kiosk, point.
    fn locate(&self, request: &RouteRequest, fallbacks: &mut Vec<String>) -> Located<'_> {
        if let Some(code) = &request.division {
            match self.directory.division(code) {
                Some(division) if division.level != Level::City => {
                    return Located {
                        division: Some(division),
                        matched: TerritoryMatch {
                            division: Some(division.code.clone()),
                            level: division.level.code().to_owned(),
                            name: division.name.clone(),
                            matched: String::new(),
                            candidates: Vec::new(),
                            how: "given".to_owned(),
                            reason: "given by the operator".to_owned(),
                        },
                    };
                }
                Some(_) => fallbacks.push(format!(
                    "the operator's division {code} is the whole city: resolved from the request instead"
                )),
                None => fallbacks.push(format!(
                    "the operator's division {code} is not in the directory: resolved from the request instead"
                )),
            }
        }

        let mut attempts: Vec<Attempt<'_>> = Vec::with_capacity(4);
        if let Some(address) = request.address.as_deref().filter(|a| !a.trim().is_empty()) {
            attempts.push(self.attempt_resolution("address", &self.resolver.resolve_text(address)));
        }
        let address_is_community = attempts
            .first()
            .is_some_and(|a| a.good && a.division.is_some_and(|d| d.level == Level::Community));
        if !address_is_community && !request.text.trim().is_empty() {
            attempts
                .push(self.attempt_resolution("text", &self.resolver.resolve_text(&request.text)));
        }
        if let Some(kiosk) = &request.kiosk {
            attempts.push(self.attempt_resolution("kiosk", &self.resolver.resolve_kiosk(kiosk)));
        }
        if let Some((lat, lng)) = request.location {
            attempts.push(self.attempt_point(lat, lng));
        }

        // The first confident answer, refined by a later one inside it; else the first partial.
        let chosen = attempts
            .iter()
            .position(|a| a.good)
            .or_else(|| attempts.iter().position(|a| a.division.is_some()));
        let Some(mut index) = chosen else {
            let reason = if attempts.is_empty() {
                "nothing to resolve: no address, text, kiosk or point".to_owned()
            } else {
                join_reasons(&attempts)
            };
            let matched = attempts
                .iter()
                .map(|a| a.matched.as_str())
                .find(|m| !m.is_empty())
                .unwrap_or_default()
                .to_owned();
            let candidates = attempts
                .iter()
                .flat_map(|a| a.candidates.iter().cloned())
                .collect();
            return Located {
                division: None,
                matched: TerritoryMatch {
                    division: None,
                    level: String::new(),
                    name: String::new(),
                    matched,
                    candidates,
                    how: "unresolved".to_owned(),
                    reason,
                },
            };
        };
        if attempts[index].good {
            for (later, attempt) in attempts.iter().enumerate().skip(index + 1) {
                let (Some(outer), Some(inner)) = (attempts[index].division, attempt.division)
                else {
                    continue;
                };
                if attempt.good && inner.level > outer.level && self.contains(outer, inner) {
                    index = later;
                }
            }
        }
        let best = &attempts[index];
        let division = best.division.expect("chosen attempts have a division");
        let how = match best.source {
            "address" | "text" => format!("{}:{}", best.source, best.how),
            _ => best.how.clone(),
        };
        if !best.good {
            fallbacks.push(format!(
                "territory only partly known ({}): widened to the {} {}",
                best.reason,
                division.level.code(),
                division.name
            ));
        }
        Located {
            division: Some(division),
            matched: TerritoryMatch {
                division: Some(division.code.clone()),
                level: division.level.code().to_owned(),
                name: division.name.clone(),
                matched: best.matched.clone(),
                candidates: best.candidates.clone(),
                how,
                reason: join_reasons(&attempts),
            },
        }
    }

    fn contains(&self, outer: &Division, inner: &Division) -> bool {
        self.directory
            .ancestors(&inner.code)
            .any(|d| d.code == outer.code)
    }

    fn attempt_resolution(&self, source: &'static str, resolution: &Resolution) -> Attempt<'_> {
        let division = resolution
            .division
            .as_ref()
            .and_then(|code| self.directory.division(code))
            .filter(|d| d.level != Level::City);
        let confident = resolution.confidence >= self.settings.min_territory_confidence;
        let (division, good, widened) = match (resolution.outcome, division) {
            (Outcome::Resolved, Some(d)) if confident => (Some(d), true, None),
            (Outcome::Resolved, Some(d)) => {
                let parent = self
                    .directory
                    .parent(&d.code)
                    .filter(|p| p.level != Level::City);
                (
                    parent,
                    false,
                    Some(format!(
                        "confidence {:.2} < {:.2}",
                        resolution.confidence, self.settings.min_territory_confidence
                    )),
                )
            }
            (Outcome::Ambiguous, Some(d)) => (Some(d), false, None),
            _ => (None, false, None),
        };
        let mut reason = format!("{source}: {}", resolution.reason());
        if let Some(widened) = widened {
            reason.push_str(&format!(" ({widened})"));
        }
        Attempt {
            source,
            division,
            good,
            how: resolution.why.code().to_owned(),
            reason,
            matched: resolution
                .span
                .as_ref()
                .map(|s| s.text.clone())
                .unwrap_or_default(),
            candidates: resolution
                .candidates
                .iter()
                .map(|c| format!("{} ({})", c.path, c.code))
                .collect(),
        }
    }

    fn attempt_point(&self, lat: f64, lng: f64) -> Attempt<'_> {
        let valid = lat.is_finite() && lng.is_finite() && lat.abs() <= 90.0 && lng.abs() <= 180.0;
        let division = if valid {
            self.resolver
                .resolve_point(lat, lng)
                .and_then(|code| self.directory.division(&code))
        } else {
            None
        };
        let reason = match (valid, division, self.resolver.polygons().is_some()) {
            (false, _, _) => format!("point: ({lat}, {lng}) is not a valid latitude/longitude"),
            (true, Some(d), _) => format!("point: ({lat}, {lng}) lies in {}", d.name),
            (true, None, true) => format!("point: ({lat}, {lng}) lies in no district of the city"),
            (true, None, false) => "point: no district polygons are loaded".to_owned(),
        };
        Attempt {
            source: "point",
            division,
            good: division.is_some(),
            how: if division.is_some() {
                "point"
            } else {
                "unresolved"
            }
            .to_owned(),
            reason,
            matched: String::new(),
            candidates: Vec::new(),
        }
    }
}

fn join_reasons(attempts: &[Attempt<'_>]) -> String {
    attempts
        .iter()
        .map(|a| a.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_with(catalogue: &str) -> RoutingEngine {
        let directory = Arc::new(Directory::suzhou());
        RoutingEngine::new(
            Classifier::shipped(),
            Resolver::new(directory.clone()),
            Catalogue::parse("t.txt", catalogue).unwrap(),
            directory,
            Settings::default(),
        )
        .unwrap()
    }

    #[test]
    fn triage_reason_codes_are_unique() {
        let all = [
            TriageReason::EmptyText,
            TriageReason::NotChinese,
            TriageReason::NothingKnown,
            TriageReason::LowCategoryScore,
            TriageReason::TerritoryUnresolved,
            TriageReason::Emergency,
            TriageReason::CatalogueRule,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn an_ambiguous_community_name_widens_to_what_its_candidates_share() {
        // Two 西塘社区 lie in 吴江区, under different streets.
        let engine = RoutingEngine::suzhou();
        let e = engine.decide(&RouteRequest::text("西塘社区物业报修没人来"));
        assert_eq!(e.territory.division.as_ref().unwrap().as_str(), "320509");
        assert_eq!(e.territory.candidates.len(), 2, "{:?}", e.territory);
        assert_eq!(e.station.unwrap().as_str(), "320509-housing");
        assert!(
            e.fallbacks[0].starts_with("territory only partly known"),
            "{:?}",
            e.fallbacks
        );
    }

    #[test]
    fn with_no_step_at_the_known_level_the_district_office_coordinates() {
        let engine = engine_with("@version t\n* => street:command\nLS => community:lss\n");
        let e = engine.decide(&RouteRequest {
            address: Some("姑苏区".to_owned()),
            ..RouteRequest::text("公司拖欠工资")
        });
        assert_eq!(e.station.unwrap().as_str(), "320508-command");
        assert!(
            e.fallbacks[0].contains("district 12345 office"),
            "{:?}",
            e.fallbacks
        );
    }

    #[test]
    fn a_rule_may_send_to_triage_itself() {
        let engine = engine_with("@version t\n* => street:command\nLS => city:triage\n");
        let decision = engine.route(&RouteRequest::text("公司拖欠工资"));
        assert!(decision.explanation.triage);
        assert_eq!(decision.triage_reasons, [TriageReason::CatalogueRule]);
    }

    #[test]
    fn an_operators_nature_selects_nature_rules_and_urgency_is_theirs_unless_an_emergency() {
        let engine = RoutingEngine::suzhou();
        let request = RouteRequest {
            nature: Some(Nature::Help),
            urgency: Some(Urgency::Urgent),
            category: Some(CategoryCode::parse("c", "SQ.JTBL").unwrap()),
            division: Some(DivisionCode::parse("d", "320508021019").unwrap()),
            ..RouteRequest::text("需要帮助")
        };
        let e = engine.decide(&request);
        assert_eq!(e.station.unwrap().as_str(), "320508021019-lss");
        assert_eq!((e.nature, e.urgency), (Some(Nature::Help), Urgency::Urgent));
        assert!(e.rule.unwrap().contains("nature=help"));
    }
}
