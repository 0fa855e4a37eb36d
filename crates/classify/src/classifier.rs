//! The classifier the router calls: rules + (optionally) a trained model + the taxonomy.
//!
//! - Category: the model's top-k when a model is attached, else the keyword rules (cold start).
//! - Nature, urgency, emergencies: always the rules (auditable, editable by the centre).
//! - Bad input never panics: empty, non-Chinese, emoji-only or unknown text gives a typed
//!   [`Status::Unclassified`] answer; text beyond [`MAX_CHARS`] characters is truncated.

use hotline_core::{CategoryCode, Nature, Urgency};
use serde::Serialize;

use crate::error::ClassifyError;
use crate::features::{normalise, MAX_CHARS};
use crate::model::{Driver, Model};
use crate::rules::{EmergencyFlag, Rules};
use crate::taxonomy::Taxonomy;

/// How many categories an answer lists by default.
pub const DEFAULT_TOP_K: usize = 3;
/// How many driving features an answer lists.
pub const DRIVERS: usize = 5;

/// One ranked category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScore {
    pub code: CategoryCode,
    pub name: String,
    /// Names from the root, joined with `/` (`城乡建设/住房保障与房地产`).
    pub path: String,
    /// In `[0, 1]`; the scores of all candidates sum to 1.
    pub score: f32,
}

/// Where the categories came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CategorySource {
    Model,
    Rules,
    None,
}

/// Why no category could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnclassifiedReason {
    /// Empty or whitespace only.
    Empty,
    /// No Chinese characters (emoji, punctuation, digits, other languages).
    NotChinese,
    /// Chinese text, but nothing the model or the rules know.
    NothingKnown,
}

/// How far to trust the categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The top category is claimed: its probability reaches the model's dispatch threshold
    /// (a calibrated model), its margin is >= 0 (a model without a threshold), or a keyword
    /// rule hit.
    Classified,
    /// Categories are listed but no label claims the text: send to triage (待派单).
    LowConfidence,
    Unclassified(UnclassifiedReason),
}

/// The answer for one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub status: Status,
    /// Best first, at most top-k; empty when unclassified.
    pub categories: Vec<CategoryScore>,
    pub source: CategorySource,
    /// The words that drove the category decision, strongest first.
    pub drivers: Vec<Driver>,
    /// `None` when no nature cue was found.
    pub nature: Option<Nature>,
    pub nature_cues: Vec<String>,
    pub urgency: Urgency,
    pub urgency_cues: Vec<String>,
    /// Hand-offs to 110/119/120/122; empty when none.
    pub emergencies: Vec<EmergencyFlag>,
    /// The text was longer than [`MAX_CHARS`] characters and only its start was read.
    pub truncated: bool,
    /// The top-category probability a calibrated model needs to dispatch on its own; `None`
    /// for the rules and for a model trained without a target misroute rate.
    pub threshold: Option<f32>,
}

impl Classification {
    pub fn is_emergency(&self) -> bool {
        !self.emergencies.is_empty()
    }

    pub fn top(&self) -> Option<&CategoryScore> {
        self.categories.first()
    }
}

/// Classifies messages. `Send + Sync`: share one behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Classifier {
    taxonomy: Taxonomy,
    rules: Rules,
    model: Option<Model>,
    /// The taxonomy category of each model label, indexed like `Model::labels`.
    label_categories: Vec<CategoryCode>,
    /// Categories the model could not learn (too few examples): when the keyword rules' top
    /// category lies in one of them, the rules answer.
    rules_fallback: Vec<CategoryCode>,
    top_k: usize,
}

impl Classifier {
    /// A cold-start classifier (rules only). Fails if a rule names a category the taxonomy lacks.
    pub fn new(taxonomy: Taxonomy, rules: Rules) -> Result<Self, ClassifyError> {
        rules.check_categories(&taxonomy)?;
        Ok(Self {
            taxonomy,
            rules,
            model: None,
            label_categories: Vec::new(),
            rules_fallback: Vec::new(),
            top_k: DEFAULT_TOP_K,
        })
    }

    /// The shipped taxonomy and rules, no model.
    pub fn shipped() -> Self {
        Self::new(Taxonomy::shipped(), Rules::shipped())
            .expect("the shipped rules match the shipped taxonomy")
    }

    /// Attaches a trained model; each label must resolve in the taxonomy (code, name (shallowest match),
    /// or name path, see [`Taxonomy::resolve`]). A model trained for another taxonomy version
    /// is refused, naming both.
    pub fn with_model(mut self, model: Model) -> Result<Self, ClassifyError> {
        if let Some(trained_for) = model.taxonomy_version() {
            if trained_for != self.taxonomy.version() {
                return Err(ClassifyError::TaxonomyMismatch {
                    model: trained_for.to_owned(),
                    taxonomy: self.taxonomy.version().to_owned(),
                });
            }
        }
        self.label_categories = model
            .labels()
            .iter()
            .map(|label| self.taxonomy.resolve(label).map(|c| c.code.clone()))
            .collect::<Result<_, _>>()?;
        self.rules_fallback = model
            .rules_fallback()
            .iter()
            .map(|label| self.taxonomy.resolve(label).map(|c| c.code.clone()))
            .collect::<Result<_, _>>()?;
        self.model = Some(model);
        Ok(self)
    }

    /// How many categories to list (at least 1).
    pub fn with_top_k(mut self, top_k: usize) -> Self {
        self.top_k = top_k.max(1);
        self
    }

    /// Adds words (place names from the division directory) to the model's segmenter.
    /// Returns how many were added (0 without a model: rules match substrings).
    pub fn add_words<I, S>(&mut self, words: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.model.as_mut().map_or(0, |m| m.add_words(words))
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// Classifies one message. Never panics; see the module docs for bad input.
    pub fn classify(&self, text: &str) -> Classification {
        let truncated = text.chars().nth(MAX_CHARS).is_some();
        // One normalisation serves the rules and the model.
        let normalised = normalise(text, false);
        let hits = self.rules.apply_normalised(&normalised);
        let mut answer = Classification {
            status: Status::Unclassified(UnclassifiedReason::NothingKnown),
            categories: Vec::new(),
            source: CategorySource::None,
            drivers: Vec::new(),
            nature: hits.nature,
            nature_cues: hits.nature_cues,
            urgency: hits.urgency,
            urgency_cues: hits.urgency_cues,
            emergencies: hits.emergencies,
            truncated,
            threshold: None,
        };
        let head = || text.chars().take(MAX_CHARS);
        if head().all(char::is_whitespace) {
            answer.status = Status::Unclassified(UnclassifiedReason::Empty);
            return answer;
        }
        if !head().any(is_cjk) {
            answer.status = Status::Unclassified(UnclassifiedReason::NotChinese);
            return answer;
        }
        let rules_answer = hits
            .categories
            .first()
            .is_some_and(|(code, _, _)| self.falls_back(code));
        // The model's answer, unless the rules own the category or the model knows none of
        // the text's words (then it would only repeat its priors, and a keyword a centre
        // wrote — 停水 in a model trained before any outage — is worth more).
        let prediction = match (&self.model, rules_answer) {
            (Some(model), false) => Some((model, model.predict_normalised(&normalised, DRIVERS)))
                .filter(|(_, p)| p.known_features > 0),
            _ => None,
        };
        if let Some((model, prediction)) = prediction {
            let top_margin = prediction.ranked[0].1;
            // Probabilities when the model is calibrated (see `calibration`).
            let scale = model.scale();
            let max = top_margin * scale;
            let total: f32 = prediction
                .ranked
                .iter()
                .map(|(_, m)| (m * scale - max).exp())
                .sum();
            answer.categories = prediction
                .ranked
                .iter()
                .take(self.top_k)
                .map(|&(label, margin)| {
                    self.score(
                        &self.label_categories[label],
                        (margin * scale - max).exp() / total,
                    )
                })
                .collect();
            answer.threshold = model.threshold();
            let claimed = match answer.threshold {
                Some(threshold) => answer.categories[0].score >= threshold,
                None => top_margin >= 0.0,
            };
            answer.status = if claimed {
                Status::Classified
            } else {
                Status::LowConfidence
            };
            answer.source = CategorySource::Model;
            answer.drivers = prediction.drivers;
        } else if !hits.categories.is_empty() {
            let total: u32 = hits.categories.iter().map(|(_, n, _)| n).sum();
            answer.categories = hits
                .categories
                .iter()
                .take(self.top_k)
                .map(|(code, n, _)| self.score(code, *n as f32 / total as f32))
                .collect();
            answer.drivers = hits.categories[0]
                .2
                .iter()
                .map(|cue| Driver {
                    feature: cue.clone(),
                    weight: 1.0,
                })
                .collect();
            answer.status = Status::Classified;
            answer.source = CategorySource::Rules;
        }
        answer
    }

    /// Whether `code` lies in a category the model left to the rules.
    fn falls_back(&self, code: &CategoryCode) -> bool {
        if self.rules_fallback.is_empty() {
            return false;
        }
        let mut current = self.taxonomy.get(code);
        while let Some(category) = current {
            if self.rules_fallback.contains(&category.code) {
                return true;
            }
            current = category.parent.as_ref().and_then(|p| self.taxonomy.get(p));
        }
        false
    }

    fn score(&self, code: &CategoryCode, score: f32) -> CategoryScore {
        let name = self
            .taxonomy
            .get(code)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        CategoryScore {
            code: code.clone(),
            name,
            path: self.taxonomy.path(code).join("/"),
            score,
        }
    }
}

/// CJK unified ideographs (with extension A and compatibility ideographs).
fn is_cjk(ch: char) -> bool {
    matches!(ch, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Toy sets are tiny: keep features seen once.
    fn toy_options() -> TrainOptions {
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        }
    }
    use crate::model::{train_examples, Example, TrainOptions};
    use hotline_core::EmergencyService;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_classifier_is_send_and_sync() {
        assert_send_sync::<Classifier>();
    }

    fn trained() -> &'static Classifier {
        static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
        CLASSIFIER.get_or_init(|| {
            let rows = [
                ("小区路灯不亮了，晚上出行不便", "城乡建设"),
                ("窨井盖丢失，存在安全隐患", "城乡建设"),
                ("物业费收费过高，物业公司不作为", "城乡建设"),
                ("公司拖欠工资三个月", "劳动和社会保障"),
                ("社保卡办理需要什么材料", "劳动和社会保障"),
                ("单位不给缴纳养老保险", "劳动和社会保障"),
            ];
            let examples: Vec<Example> = rows
                .iter()
                .map(|(t, l)| Example {
                    text: (*t).into(),
                    label: (*l).into(),
                })
                .collect();
            let model = train_examples(&examples, &toy_options()).unwrap();
            Classifier::shipped()
                .with_model(model)
                .unwrap()
                .with_top_k(2)
        })
    }

    #[test]
    fn cold_start_uses_the_keyword_rules() {
        let answer = Classifier::shipped().classify("我要投诉，公司拖欠工资半年了");
        assert_eq!(answer.status, Status::Classified);
        assert_eq!(answer.source, CategorySource::Rules);
        assert_eq!(answer.top().unwrap().code.as_str(), "LS.GZFL");
        assert_eq!(answer.top().unwrap().path, "劳动和社会保障/工资福利");
        assert_eq!(answer.nature, Some(Nature::Complaint));
        assert!(answer.drivers.iter().any(|d| d.feature == "拖欠工资"));
    }

    #[test]
    fn a_trained_model_ranks_taxonomy_categories_and_explains() {
        let answer = trained().classify("我们小区的路灯坏了");
        assert_eq!(answer.source, CategorySource::Model);
        assert_eq!(answer.categories.len(), 2);
        assert_eq!(answer.top().unwrap().code.as_str(), "CJ");
        let total: f32 = answer.categories.iter().map(|c| c.score).sum();
        assert!(
            (total - 1.0).abs() < 1e-4,
            "two labels, scores sum to 1: {total}"
        );
        assert!(
            answer.drivers.iter().any(|d| d.feature.contains("路灯")),
            "{:?}",
            answer.drivers
        );
    }

    #[test]
    fn an_emergency_is_flagged_whatever_the_category() {
        let answer = trained().classify("楼下饭店着火了，有人受伤流血");
        assert!(answer.is_emergency());
        let services: Vec<_> = answer.emergencies.iter().map(|e| e.service).collect();
        assert!(
            services.contains(&EmergencyService::Fire)
                && services.contains(&EmergencyService::Ambulance)
        );
        assert_eq!(answer.urgency, Urgency::Critical);
    }

    #[test]
    fn bad_input_gets_a_typed_unclassified_answer() {
        let classifier = trained();
        let cases = [
            ("", UnclassifiedReason::Empty),
            ("   \n\t", UnclassifiedReason::Empty),
            ("😀😀🎉", UnclassifiedReason::NotChinese),
            (
                "hello world, my street light is broken",
                UnclassifiedReason::NotChinese,
            ),
            ("#$%^&*()_+{}|", UnclassifiedReason::NotChinese),
        ];
        for (text, reason) in cases {
            let answer = classifier.classify(text);
            assert_eq!(answer.status, Status::Unclassified(reason), "{text:?}");
            assert!(answer.categories.is_empty());
        }
    }

    #[test]
    fn the_rules_answer_when_the_model_knows_none_of_the_words() {
        // The toy model never saw a water outage; the shipped rules name 停水.
        let answer = trained().classify("突然断水");
        assert_eq!(answer.status, Status::Classified);
        assert_eq!(answer.source, CategorySource::Rules);
        assert_eq!(answer.top().unwrap().code.as_str(), "CJ.CSJS");
        // Nothing known to either: still unclassified, not a guess from the priors.
        let nothing = trained().classify("嗯嗯啊啊");
        assert_eq!(
            nothing.status,
            Status::Unclassified(UnclassifiedReason::NothingKnown)
        );
        assert!(nothing.categories.is_empty());
    }

    #[test]
    fn very_long_text_is_truncated_and_flagged() {
        let text = "路灯不亮。".repeat(MAX_CHARS);
        let answer = trained().classify(&text);
        assert!(answer.truncated);
        assert_eq!(answer.top().unwrap().code.as_str(), "CJ");
        assert!(!trained().classify("路灯不亮").truncated);
    }

    #[test]
    fn a_calibrated_models_threshold_decides_the_status_and_is_reported() {
        use crate::calibration::{Calibration, Selective, NEVER};
        let model = trained().model().unwrap().clone();
        let with_threshold = |threshold: f32| {
            let calibration = Calibration {
                scale: 1.5,
                folds: 5,
                examples: 6,
                ece: 0.0,
                selective: Some(Selective {
                    max_misroute: 0.02,
                    threshold,
                    coverage: 0.8,
                    precision: 0.98,
                }),
            };
            Classifier::shipped()
                .with_model(model.clone().with_calibration(calibration))
                .unwrap()
        };
        let text = "我们小区的路灯坏了";
        let never = with_threshold(NEVER).classify(text);
        assert_eq!(never.status, Status::LowConfidence);
        assert_eq!(never.threshold, Some(NEVER));
        // The calibrated scale (1.5, not 2.0) gives the probability; at exactly the
        // threshold the model dispatches.
        let probability = never.categories[0].score;
        assert_ne!(probability, trained().classify(text).categories[0].score);
        let at = with_threshold(probability).classify(text);
        assert_eq!(at.status, Status::Classified);
        assert_eq!(at.categories[0].code.as_str(), "CJ");
        // Calibration is a new model version.
        assert_ne!(
            model.version(),
            with_threshold(0.5).model().unwrap().version()
        );
    }

    #[test]
    fn the_rules_answer_for_categories_the_model_had_too_few_examples_of() {
        let text = "我要投诉，公司拖欠工资半年了";
        assert_eq!(trained().classify(text).source, CategorySource::Model);
        let model = trained()
            .model()
            .unwrap()
            .clone()
            .with_rules_fallback(vec!["LS".into()]);
        let classifier = Classifier::shipped().with_model(model).unwrap();
        let answer = classifier.classify(text);
        assert_eq!(answer.source, CategorySource::Rules);
        assert_eq!(answer.top().unwrap().code.as_str(), "LS.GZFL");
        // Text the rules place elsewhere still goes to the model.
        assert_eq!(
            classifier.classify("我们小区的路灯坏了").source,
            CategorySource::Model
        );
    }

    #[test]
    fn a_model_for_another_taxonomy_version_is_refused_naming_both() {
        let model = trained()
            .model()
            .unwrap()
            .clone()
            .with_taxonomy_version("suzhou-2019.9");
        let err = Classifier::shipped().with_model(model).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("suzhou-2019.9") && text.contains(Taxonomy::shipped().version()),
            "{text}"
        );
        let same = trained()
            .model()
            .unwrap()
            .clone()
            .with_taxonomy_version(Taxonomy::shipped().version());
        assert!(Classifier::shipped().with_model(same).is_ok());
    }

    #[test]
    fn a_model_label_outside_the_taxonomy_is_refused() {
        let examples = vec![
            Example {
                text: "路灯".into(),
                label: "城乡建设".into(),
            },
            Example {
                text: "火星".into(),
                label: "火星事务".into(),
            },
        ];
        let model = train_examples(&examples, &toy_options()).unwrap();
        let err = Classifier::shipped().with_model(model).unwrap_err();
        assert!(
            matches!(err, ClassifyError::UnknownLabel { ref label, .. } if label == "火星事务"),
            "{err}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_text_gets_an_answer_without_panicking(text in any::<String>()) {
            let answer = trained().classify(&text);
            prop_assert!(answer.categories.len() <= 2);
            for category in &answer.categories {
                prop_assert!(category.score.is_finite() && (0.0..=1.0).contains(&category.score));
            }
            let cold = Classifier::shipped().classify(&text);
            prop_assert!(cold.categories.len() <= DEFAULT_TOP_K);
        }

        #[test]
        fn chinese_like_text_gets_an_answer_without_panicking(
            text in "[\\u4e00-\\u9fa5a-z0-9，。！？😀 ]{0,300}"
        ) {
            let answer = trained().classify(&text);
            if answer.status == Status::Classified || answer.status == Status::LowConfidence {
                prop_assert!(!answer.categories.is_empty());
            }
        }
    }
}
