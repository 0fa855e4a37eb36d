//! Editable keyword rules (`data/rules.txt` is the shipped default; its header documents the
//! format). They give categories before any model is trained (cold start) and always decide
//! nature, urgency and emergency hand-off, where a fixed, explainable rule is what a
//! supervisor wants to audit.

use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use hotline_core::{CategoryCode, EmergencyService, Nature, Urgency};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::ClassifyError;
use crate::features::normalise;
use crate::taxonomy::Taxonomy;

const DEFAULT_RULES: &str = include_str!("../data/rules.txt");

/// What a rule decides.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Category(CategoryCode),
    Nature(Nature),
    Urgency(Urgency),
    Emergency {
        kind: String,
        service: EmergencyService,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    line: usize,
    target: Target,
    /// Pattern ids of the keywords.
    keywords: Vec<usize>,
    /// `(exclusion pattern, keyword pattern it cancels)`.
    cancels: Vec<(usize, usize)>,
}

/// A raised emergency: which kind, whom to hand it to, and the words that raised it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyFlag {
    /// The rule's name, e.g. `fire`, `gas_leak`, `injury`, `violence`, `traffic`.
    pub kind: String,
    pub service: EmergencyService,
    pub cues: Vec<String>,
}

/// What the rules found in one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHits {
    /// `(category, hits, cues)`, most hits first (ties: file order).
    pub categories: Vec<(CategoryCode, u32, Vec<String>)>,
    pub nature: Option<Nature>,
    pub nature_cues: Vec<String>,
    pub urgency: Urgency,
    pub urgency_cues: Vec<String>,
    pub emergencies: Vec<EmergencyFlag>,
}

/// A parsed rules file.
#[derive(Debug, Clone)]
pub struct Rules {
    file: String,
    version: String,
    rules: Vec<Rule>,
    patterns: Vec<String>,
    /// Finds every (overlapping) occurrence of every pattern in one pass over the text.
    matcher: AhoCorasick,
}

impl Rules {
    /// The rules that ship with the project.
    pub fn shipped() -> Self {
        Self::parse("<default rules>", DEFAULT_RULES)
            .expect("the shipped rules are checked by the crate's tests")
    }

    /// Loads a rules file; errors name the file, the line and the problem.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClassifyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClassifyError::io(format!("reading rules {}", path.display()), e))?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses the format documented in `data/rules.txt`. `file` is used in error messages.
    pub fn parse(file: &str, text: &str) -> Result<Self, ClassifyError> {
        let mut version = None;
        let mut rules = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut ids: FxHashMap<String, usize> = FxHashMap::default();
        let mut intern = |word: &str| -> usize {
            let word = normalise(word, false);
            *ids.entry(word.clone()).or_insert_with(|| {
                patterns.push(word);
                patterns.len() - 1
            })
        };
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |problem: String| ClassifyError::config(file, line_no, problem);
            if let Some(rest) = line.strip_prefix("@version") {
                if rest.trim().is_empty() {
                    return Err(err("@version needs a value".into()));
                }
                version = Some(rest.trim().to_owned());
                continue;
            }
            let mut tokens = line.split_whitespace();
            let kind = tokens.next().unwrap_or_default();
            let Some(target) = tokens.next() else {
                return Err(err(format!("`{kind}` needs a target and keywords")));
            };
            let target = match kind.split_once(':') {
                None if kind == "category" => Target::Category(
                    CategoryCode::parse("category", target).map_err(|e| err(e.to_string()))?,
                ),
                None if kind == "nature" => {
                    Target::Nature(Nature::parse("nature", target).map_err(|e| err(e.to_string()))?)
                }
                None if kind == "urgency" => {
                    let urgency =
                        Urgency::parse("urgency", target).map_err(|e| err(e.to_string()))?;
                    if urgency == Urgency::Normal {
                        return Err(err(
                            "an urgency rule raises urgency: use urgent or critical".into(),
                        ));
                    }
                    Target::Urgency(urgency)
                }
                Some(("emergency", name)) if !name.is_empty() => Target::Emergency {
                    kind: name.to_owned(),
                    service: EmergencyService::parse("emergency", target)
                        .map_err(|e| err(e.to_string()))?,
                },
                _ => {
                    return Err(err(format!(
                        "unknown rule kind {kind:?} (category, nature, urgency, emergency:<name>)"
                    )))
                }
            };
            let mut keywords = Vec::new();
            let mut exclusions = Vec::new();
            let mut after_bang = false;
            for token in tokens {
                if token == "!" {
                    if after_bang {
                        return Err(err("more than one `!`".into()));
                    }
                    after_bang = true;
                } else if after_bang {
                    exclusions.push(token);
                } else {
                    keywords.push(token);
                }
            }
            if keywords.is_empty() {
                return Err(err("a rule needs at least one keyword".into()));
            }
            let mut cancels = Vec::new();
            for exclusion in &exclusions {
                let normalised = normalise(exclusion, false);
                let cancelled: Vec<&&str> = keywords
                    .iter()
                    .filter(|k| normalised.contains(normalise(k, false).as_str()))
                    .collect();
                if cancelled.is_empty() {
                    return Err(err(format!(
                        "exclusion {exclusion:?} contains none of the rule's keywords"
                    )));
                }
                let exclusion_id = intern(exclusion);
                for keyword in cancelled {
                    cancels.push((exclusion_id, intern(keyword)));
                }
            }
            let keywords = keywords.iter().map(|k| intern(k)).collect();
            rules.push(Rule {
                line: line_no,
                target,
                keywords,
                cancels,
            });
        }
        let version = version.ok_or_else(|| ClassifyError::Inconsistent {
            file: file.to_owned(),
            problem: "no `@version <value>` line".into(),
        })?;
        let matcher = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| ClassifyError::Inconsistent {
                file: file.to_owned(),
                problem: format!("the keywords cannot be compiled: {e}"),
            })?;
        Ok(Self {
            file: file.to_owned(),
            version,
            rules,
            patterns,
            matcher,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Checks that every category rule names a category of `taxonomy`.
    pub fn check_categories(&self, taxonomy: &Taxonomy) -> Result<(), ClassifyError> {
        for rule in &self.rules {
            if let Target::Category(code) = &rule.target {
                if taxonomy.get(code).is_none() {
                    return Err(ClassifyError::config(
                        &self.file,
                        rule.line,
                        format!("category {code} is not in taxonomy {}", taxonomy.version()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies every rule to `text` (normalised and truncated like the model's input).
    /// The keywords of the rules for `category`, in file order, each once (Open311 lists them
    /// as a service's `keywords`).
    pub fn keywords_for(&self, category: &CategoryCode) -> Vec<&str> {
        let mut seen = Vec::new();
        for rule in &self.rules {
            if rule.target == Target::Category(category.clone()) {
                for &id in &rule.keywords {
                    let word = self.patterns[id].as_str();
                    if !seen.contains(&word) {
                        seen.push(word);
                    }
                }
            }
        }
        seen
    }

    pub fn apply(&self, text: &str) -> RuleHits {
        self.apply_normalised(&normalise(text, false))
    }

    /// [`Rules::apply`] on text already normalised (`features::normalise(text, false)`).
    pub(crate) fn apply_normalised(&self, text: &str) -> RuleHits {
        let mut counts = vec![0_u32; self.patterns.len()];
        for found in self.matcher.find_overlapping_iter(text) {
            counts[found.pattern().as_usize()] += 1;
        }
        let mut hits = RuleHits {
            categories: Vec::new(),
            nature: None,
            nature_cues: Vec::new(),
            urgency: Urgency::Normal,
            urgency_cues: Vec::new(),
            emergencies: Vec::new(),
        };
        let mut best_nature: Option<(Nature, u32)> = None;
        for rule in &self.rules {
            // Most rules match nothing: look before building anything.
            if rule.keywords.iter().all(|&k| counts[k] == 0) {
                continue;
            }
            let mut per_keyword: Vec<(usize, u32)> =
                rule.keywords.iter().map(|&k| (k, counts[k])).collect();
            for &(exclusion, keyword) in &rule.cancels {
                for entry in per_keyword.iter_mut().filter(|(k, _)| *k == keyword) {
                    entry.1 = entry.1.saturating_sub(counts[exclusion]);
                }
            }
            let total: u32 = per_keyword.iter().map(|(_, n)| n).sum();
            if total == 0 {
                continue;
            }
            let cues: Vec<String> = per_keyword
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, _)| self.patterns[*k].clone())
                .collect();
            match &rule.target {
                Target::Category(code) => hits.categories.push((code.clone(), total, cues)),
                Target::Nature(nature) => {
                    if best_nature.is_none_or(|(_, best)| total > best) {
                        best_nature = Some((*nature, total));
                        hits.nature_cues = cues;
                    }
                }
                Target::Urgency(urgency) => {
                    if *urgency > hits.urgency {
                        hits.urgency = *urgency;
                        hits.urgency_cues = cues;
                    }
                }
                Target::Emergency { kind, service } => hits.emergencies.push(EmergencyFlag {
                    kind: kind.clone(),
                    service: *service,
                    cues,
                }),
            }
        }
        if let Some(first) = hits.emergencies.first() {
            if hits.urgency < Urgency::Critical {
                hits.urgency = Urgency::Critical;
                hits.urgency_cues = first.cues.clone();
            }
        }
        hits.nature = best_nature.map(|(nature, _)| nature);
        hits.categories.sort_by_key(|c| std::cmp::Reverse(c.1));
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_parse_and_name_known_categories() {
        let rules = Rules::shipped();
        rules.check_categories(&Taxonomy::shipped()).unwrap();
        assert!(!rules.version().is_empty());
    }

    #[test]
    fn emergencies_are_flagged_with_their_service() {
        let rules = Rules::shipped();
        let cases = [
            ("楼下着火了，浓烟很大", EmergencyService::Fire, "fire"),
            (
                "厨房里闻到煤气味，怀疑燃气泄漏",
                EmergencyService::Fire,
                "gas_leak",
            ),
            ("老人摔倒昏迷不醒", EmergencyService::Ambulance, "injury"),
            ("邻居持刀威胁，还打人", EmergencyService::Police, "violence"),
            ("丈夫家暴我", EmergencyService::Police, "violence"),
        ];
        for (text, service, kind) in cases {
            let hits = rules.apply(text);
            assert!(
                hits.emergencies
                    .iter()
                    .any(|e| e.service == service && e.kind == kind),
                "{text}: {:?}",
                hits.emergencies
            );
            assert_eq!(hits.urgency, Urgency::Critical, "{text}");
        }
    }

    #[test]
    fn a_hazard_is_not_a_fire() {
        let hits = Rules::shipped().apply("楼道堆放杂物，存在火灾隐患，请物业清理");
        assert!(hits.emergencies.is_empty(), "{:?}", hits.emergencies);
        assert_ne!(hits.urgency, Urgency::Critical);
        let both = Rules::shipped().apply("存在火灾隐患，现在已经着火了");
        assert_eq!(both.emergencies.len(), 1);
    }

    #[test]
    fn nature_and_urgency_follow_the_cues() {
        let rules = Rules::shipped();
        assert_eq!(
            rules.apply("我要投诉物业公司乱收费").nature,
            Some(Nature::Complaint)
        );
        assert_eq!(
            rules.apply("请问社保卡怎么办理").nature,
            Some(Nature::Consult)
        );
        assert_eq!(
            rules.apply("举报某工厂偷排污水").nature,
            Some(Nature::Report)
        );
        assert_eq!(
            rules.apply("建议在路口增设红绿灯").nature,
            Some(Nature::Suggestion)
        );
        assert_eq!(
            rules.apply("表扬社区网格员，给他点赞").nature,
            Some(Nature::Praise)
        );
        assert_eq!(rules.apply("家里困难，恳请帮助").nature, Some(Nature::Help));
        assert_eq!(rules.apply("今天天气不错").nature, None);
        assert_eq!(rules.apply("小区突然停水了").urgency, Urgency::Urgent);
        assert_eq!(rules.apply("路灯不亮").urgency, Urgency::Normal);
    }

    #[test]
    fn cold_start_categories_come_from_keywords() {
        let hits = Rules::shipped().apply("公司拖欠工资半年，农民工讨薪无门");
        assert_eq!(hits.categories[0].0.as_str(), "LS.GZFL");
        assert!(hits.categories[0].2.contains(&"拖欠工资".to_owned()));
    }

    #[test]
    fn a_malformed_rules_file_names_the_file_line_and_problem() {
        let cases = [
            ("@version 1\nnature angry 生气\n", 2, "not a known nature"),
            ("@version 1\n\nfrobnicate x y\n", 3, "unknown rule kind"),
            (
                "@version 1\nurgency urgent\n",
                2,
                "needs at least one keyword",
            ),
            ("@version 1\nurgency normal 慢慢来\n", 2, "raises urgency"),
            (
                "@version 1\nemergency:fire fire_999 着火\n",
                2,
                "emergency service",
            ),
            (
                "@version 1\nemergency:fire fire_119 着火 ! 防盗\n",
                2,
                "contains none",
            ),
            ("@version 1\ncategory c/d 路灯\n", 2, "category code"),
        ];
        for (text, line, problem) in cases {
            let err = Rules::parse("rules.txt", text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("rules.txt:{line}:")), "{err}");
            assert!(err.contains(problem), "{err}");
        }
        let unknown = Rules::parse("rules.txt", "@version 1\ncategory XX.YY 路灯\n").unwrap();
        let err = unknown
            .check_categories(&Taxonomy::shipped())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("rules.txt:2:") && err.contains("XX.YY"),
            "{err}"
        );
    }
}
