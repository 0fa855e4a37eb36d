//! The dispatch catalogue (派单目录): category (+ nature, urgency, words) -> the station kinds
//! to try, narrowest level first.
//!
//! The format is a line per rule, described at the top of the shipped file
//! (`data/catalogue.txt`), so centre staff can edit it with comments, like the classifier's
//! rules file. A line format rather than TOML because a rule is one short sentence and staff
//! compare and review them line by line; errors name the file and line either way.
//!
//! The catalogue changes often (Beijing adjusted 300+ items), so it carries a `@version` that
//! every decision records.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use hotline_classify::Taxonomy;
use hotline_core::{CategoryCode, Nature, Urgency};
use hotline_directory::{Level, StationKind};

use crate::error::RoutingError;

/// The catalogue that ships with the project.
const SHIPPED: &str = include_str!("../data/catalogue.txt");
/// How the shipped catalogue is named in errors and decisions.
pub const SHIPPED_NAME: &str = "<default catalogue>";

/// One step of a rule: a station kind at a level (`community:css`, `city:water`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    pub level: Level,
    pub kind: StationKind,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.code(), self.kind.code())
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// 1-based line in the catalogue file.
    pub line: usize,
    /// The category prefix; `None` for `*` (any category).
    pub category: Option<CategoryCode>,
    pub nature: Option<Nature>,
    /// Matches requests at least this urgent.
    pub urgency: Option<Urgency>,
    /// The rule applies only if one of these is in the message; empty = no condition.
    pub words: Vec<String>,
    /// Narrowest level first; levels never narrow along the list.
    pub steps: Vec<Step>,
    /// The line as written (comments and surrounding blanks removed), for explanations.
    pub text: String,
}

impl Rule {
    /// Whether the rule's category covers `code` (the code itself or a descendant).
    fn covers(&self, code: Option<&CategoryCode>) -> bool {
        match (&self.category, code) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(prefix), Some(code)) => {
                let (prefix, code) = (prefix.as_str(), code.as_str());
                code.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            }
        }
    }

    fn matches(&self, query: &Query<'_>) -> bool {
        self.covers(query.category)
            && self.nature.is_none_or(|n| query.nature == Some(n))
            && self.urgency.is_none_or(|u| query.urgency >= u)
            && (self.words.is_empty() || self.words.iter().any(|w| query.text.contains(w)))
    }

    /// Larger is more specific: category length, then words, then nature, then urgency.
    fn specificity(&self) -> (usize, bool, bool, bool) {
        (
            self.category.as_ref().map_or(0, |c| c.as_str().len()),
            !self.words.is_empty(),
            self.nature.is_some(),
            self.urgency.is_some(),
        )
    }

    /// The word of the rule found in `text`, if the rule has words.
    pub fn matched_word<'r>(&'r self, text: &str) -> Option<&'r str> {
        self.words
            .iter()
            .find(|w| text.contains(w.as_str()))
            .map(String::as_str)
    }

    fn is_default(&self) -> bool {
        self.category.is_none()
            && self.nature.is_none()
            && self.urgency.is_none()
            && self.words.is_empty()
    }

    /// The conditions, normalised, to find rules that repeat one another.
    fn key(&self) -> (Option<String>, Option<Nature>, Option<Urgency>, Vec<String>) {
        let mut words = self.words.clone();
        words.sort();
        (
            self.category.as_ref().map(|c| c.as_str().to_owned()),
            self.nature,
            self.urgency,
            words,
        )
    }
}

/// What a rule is selected for.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The category decided; `None` when it is unknown or unsure, in which case only `*`
    /// rules with words (items the centre names by their words) can match.
    pub category: Option<&'a CategoryCode>,
    pub nature: Option<Nature>,
    pub urgency: Urgency,
    /// The message, for rules with words.
    pub text: &'a str,
}

/// A parsed, validated, versioned dispatch catalogue. Cheap to share: `Send + Sync`, read-only.
#[derive(Debug, Clone)]
pub struct Catalogue {
    file: String,
    version: String,
    rules: Vec<Rule>,
    default: usize,
}

impl Catalogue {
    /// The shipped catalogue (`data/catalogue.txt`), checked by the crate's tests.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED_NAME, SHIPPED).expect("the shipped catalogue is checked by tests")
    }

    /// Loads a catalogue file; errors name the file, the line and the problem.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RoutingError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RoutingError::Io {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    /// Parses catalogue text; `file` names it in errors and in decisions.
    ///
    /// Checks the syntax, the nature/urgency/level/kind vocabularies, that each kind exists at
    /// its level, that steps widen, that no two rules have the same conditions, and that there
    /// is a version and a default rule. Category codes are checked against a taxonomy
    /// separately ([`Catalogue::check_categories`]).
    pub fn parse(file: &str, text: &str) -> Result<Self, RoutingError> {
        let mut version: Option<String> = None;
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen: HashMap<_, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim_start_matches('\u{feff}');
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let bad = |problem: String| RoutingError::line(file, line, problem);
            if let Some(directive) = content.strip_prefix('@') {
                let (name, value) = directive
                    .split_once(char::is_whitespace)
                    .map_or((directive, ""), |(n, v)| (n, v.trim()));
                if name != "version" {
                    return Err(bad(format!(
                        "unknown directive `@{name}` (only `@version` is known)"
                    )));
                }
                if value.is_empty() {
                    return Err(bad("`@version` needs a value".to_owned()));
                }
                if version.is_some() {
                    return Err(bad("a second `@version`".to_owned()));
                }
                version = Some(value.to_owned());
                continue;
            }
            if version.is_none() {
                return Err(bad(
                    "the `@version` line must come before the first rule".to_owned()
                ));
            }
            let rule = parse_rule(line, content).map_err(bad)?;
            if let Some(first) = seen.insert(rule.key(), line) {
                return Err(bad(format!(
                    "the same conditions as line {first}; merge the two rules"
                )));
            }
            rules.push(rule);
        }
        let Some(version) = version else {
            return Err(RoutingError::inconsistent(
                file,
                "no `@version` line; a catalogue must say which version it is",
            ));
        };
        let Some(default) = rules.iter().position(Rule::is_default) else {
            return Err(RoutingError::inconsistent(
                file,
                "no default rule; add a line `* => street:command district:command`",
            ));
        };
        Ok(Self {
            file: file.to_owned(),
            version,
            rules,
            default,
        })
    }

    /// Fails on the first rule naming a category the taxonomy does not have.
    pub fn check_categories(&self, taxonomy: &Taxonomy) -> Result<(), RoutingError> {
        for rule in &self.rules {
            if let Some(code) = &rule.category {
                if taxonomy.get(code).is_none() {
                    return Err(RoutingError::line(
                        &self.file,
                        rule.line,
                        format!(
                            "category `{code}` is not in the taxonomy (version {})",
                            taxonomy.version()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The file the catalogue was read from (`<default catalogue>` for the shipped one).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The `@version` of the file.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// All rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The `* => ...` rule.
    pub fn default_rule(&self) -> &Rule {
        &self.rules[self.default]
    }

    /// The most specific rule matching `query`; on a tie, the one listed first. With a
    /// category there is always one (the default); without, only `*` rules with words match.
    pub fn select(&self, query: &Query<'_>) -> Option<&Rule> {
        let mut best: Option<&Rule> = None;
        for rule in &self.rules {
            if query.category.is_none() && (rule.category.is_some() || rule.words.is_empty()) {
                continue;
            }
            if !rule.matches(query) {
                continue;
            }
            if best.is_none_or(|b| rule.specificity() > b.specificity()) {
                best = Some(rule);
            }
        }
        best
    }

    /// `file:line: text` of a rule, as stored in decisions.
    pub fn describe(&self, rule: &Rule) -> String {
        format!("{}:{}: {}", self.file, rule.line, rule.text)
    }
}

fn parse_rule(line: usize, content: &str) -> Result<Rule, String> {
    let Some((conditions, steps)) = content.split_once("=>") else {
        return Err("expected `<category> [conditions] => <level>:<kind> ...`".to_owned());
    };
    if steps.contains("=>") {
        return Err("more than one `=>`".to_owned());
    }
    let mut tokens = conditions.split_whitespace();
    let category = match tokens.next() {
        None => return Err("no category before `=>` (use `*` for any)".to_owned()),
        Some("*") => None,
        Some(raw) => Some(
            CategoryCode::parse("category", raw)
                .map_err(|e| format!("category {raw:?}: {}", e.message))?,
        ),
    };
    let mut rule = Rule {
        line,
        category,
        nature: None,
        urgency: None,
        words: Vec::new(),
        steps: Vec::new(),
        text: content.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let mut keys_seen: Vec<&str> = Vec::new();
    for token in tokens {
        let Some((key, value)) = token.split_once('=') else {
            return Err(format!(
                "`{token}` is not a condition (nature=, urgency= or words=)"
            ));
        };
        if keys_seen.contains(&key) {
            return Err(format!("`{key}=` is given twice"));
        }
        keys_seen.push(key);
        match key {
            "nature" => {
                rule.nature = Some(Nature::parse("nature", value).map_err(|e| e.message)?);
            }
            "urgency" => {
                let urgency = Urgency::parse("urgency", value).map_err(|e| e.message)?;
                if urgency == Urgency::Normal {
                    return Err("`urgency=normal` matches every request; leave it out".to_owned());
                }
                rule.urgency = Some(urgency);
            }
            "words" => {
                let words: Vec<String> = value
                    .split([',', '，'])
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect();
                if words.is_empty() {
                    return Err("`words=` needs at least one word".to_owned());
                }
                rule.words = words;
            }
            other => {
                return Err(format!(
                    "unknown condition `{other}=` (nature=, urgency= or words=)"
                ))
            }
        }
    }
    for raw in steps.split_whitespace() {
        let step = parse_step(raw)?;
        if let Some(last) = rule.steps.last() {
            if step.level > last.level {
                return Err(format!(
                    "step `{step}` is narrower than `{last}` before it; list steps from the \
                     narrowest level (community, street, district, city)"
                ));
            }
            if rule.steps.contains(&step) {
                return Err(format!("step `{step}` is listed twice"));
            }
        }
        rule.steps.push(step);
    }
    if rule.steps.is_empty() {
        return Err("no steps after `=>` (e.g. `community:css district:housing`)".to_owned());
    }
    Ok(rule)
}

fn parse_step(raw: &str) -> Result<Step, String> {
    let Some((level, kind)) = raw.split_once(':') else {
        return Err(format!(
            "`{raw}` is not a step; write `<level>:<kind>`, e.g. `community:css`"
        ));
    };
    let level = Level::parse("level", level).map_err(|e| e.message)?;
    let kind = StationKind::parse("kind", kind).map_err(|e| e.message)?;
    let here = StationKind::at_level(level);
    if !here.contains(&kind) {
        let known: Vec<&str> = here.iter().map(|k| k.code()).collect();
        return Err(format!(
            "there is no `{}` station at the {} level (it has: {})",
            kind.code(),
            level.code(),
            known.join(", ")
        ));
    }
    Ok(Step { level, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> CategoryCode {
        CategoryCode::parse("c", raw).unwrap()
    }

    fn select<'c>(
        catalogue: &'c Catalogue,
        category: Option<&str>,
        nature: Option<Nature>,
        text: &str,
    ) -> Option<&'c Rule> {
        let category = category.map(code);
        catalogue.select(&Query {
            category: category.as_ref(),
            nature,
            urgency: Urgency::Normal,
            text,
        })
    }

    fn error_of(text: &str) -> (usize, String) {
        match Catalogue::parse("test.txt", text) {
            Err(RoutingError::Catalogue {
                file,
                line,
                problem,
            }) => {
                assert_eq!(file, "test.txt");
                (line, problem)
            }
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    const HEAD: &str = "@version t1\n* => street:command district:command\n";

    #[test]
    fn the_shipped_catalogue_parses_and_fits_the_shipped_taxonomy() {
        let catalogue = Catalogue::shipped();
        assert_eq!(catalogue.version(), "suzhou-dispatch-2024.1");
        assert_eq!(catalogue.file(), SHIPPED_NAME);
        catalogue.check_categories(&Taxonomy::shipped()).unwrap();
        assert!(catalogue.default_rule().is_default());
    }

    #[test]
    fn every_first_level_category_and_every_community_service_has_its_own_rule() {
        let catalogue = Catalogue::shipped();
        let taxonomy = Taxonomy::shipped();
        let own = |c: &CategoryCode| {
            catalogue
                .rules()
                .iter()
                .any(|r| r.category.as_ref() == Some(c))
        };
        for category in taxonomy.categories() {
            let community_service = category.code.as_str().starts_with("SQ.");
            if category.parent.is_none() || community_service {
                assert!(
                    own(&category.code),
                    "{} {} has no rule",
                    category.code,
                    category.name
                );
            }
        }
    }

    #[test]
    fn the_longest_category_prefix_wins_and_covers_descendants_only_at_a_dot() {
        let catalogue = Catalogue::shipped();
        let wages = select(&catalogue, Some("LS.GZFL"), None, "").unwrap();
        assert_eq!(wages.category.as_ref().unwrap().as_str(), "LS.GZFL");
        let other_labour = select(&catalogue, Some("LS.LDGX"), None, "").unwrap();
        assert_eq!(other_labour.category.as_ref().unwrap().as_str(), "LS");
        let parsed = Catalogue::parse("t", &format!("{HEAD}CJ.W => district:housing\n")).unwrap();
        let rule = select(&parsed, Some("CJ.WY"), None, "").unwrap();
        assert!(rule.is_default(), "CJ.W must not cover CJ.WY");
    }

    #[test]
    fn words_then_nature_make_a_rule_more_specific() {
        let catalogue = Catalogue::shipped();
        let street = select(&catalogue, Some("CJ.CSJS"), None, "路灯不亮").unwrap();
        assert_eq!(street.steps[0].kind, StationKind::Urban);
        let water = select(&catalogue, Some("CJ.CSJS"), None, "自来水没了").unwrap();
        assert_eq!(
            water.steps,
            [Step {
                level: Level::City,
                kind: StationKind::Water
            }]
        );
        assert_eq!(water.matched_word("自来水没了"), Some("自来水"));
        let help = select(&catalogue, Some("SQ.JTBL"), Some(Nature::Help), "").unwrap();
        assert_eq!(help.nature, Some(Nature::Help));
        let report = select(&catalogue, Some("SQ.JTBL"), Some(Nature::Report), "").unwrap();
        assert_eq!(report.nature, None);
    }

    #[test]
    fn urgency_conditions_match_at_least_that_urgent() {
        let text = format!("{HEAD}CJ urgency=urgent => district:urban\n");
        let catalogue = Catalogue::parse("t", &text).unwrap();
        let at = |urgency| {
            let category = code("CJ.CSJS");
            catalogue
                .select(&Query {
                    category: Some(&category),
                    nature: None,
                    urgency,
                    text: "",
                })
                .unwrap()
                .line
        };
        assert_eq!(at(Urgency::Normal), 2);
        assert_eq!(at(Urgency::Urgent), 3);
        assert_eq!(at(Urgency::Critical), 3);
    }

    #[test]
    fn without_a_category_only_star_rules_with_words_match() {
        let catalogue = Catalogue::shipped();
        assert!(select(&catalogue, None, None, "你好").is_none());
        let water = select(&catalogue, None, None, "小区停水两天了").unwrap();
        assert_eq!(water.steps[0].kind, StationKind::Water);
        let power = select(&catalogue, None, None, "整栋楼停电").unwrap();
        assert_eq!(power.steps[0].kind, StationKind::Power);
    }

    #[test]
    fn malformed_lines_are_refused_naming_the_line_and_problem() {
        let cases: &[(&str, usize, &str)] = &[
            ("* => street:command\n", 1, "@version"),
            ("@version a\n@version b\n", 2, "second"),
            ("@vers a\n", 1, "unknown directive"),
            (
                &format!("{HEAD}\n# ok\nSQ.WYBX community:css\n"),
                5,
                "expected",
            ),
            (&format!("{HEAD}SQ.WYBX =>\n"), 3, "no steps"),
            (
                &format!("{HEAD}SQ.WYBX => community:lss => x\n"),
                3,
                "more than one",
            ),
            (&format!("{HEAD}SQ.WYBX => community\n"), 3, "not a step"),
            (&format!("{HEAD}SQ.WYBX => village:css\n"), 3, "level"),
            (
                &format!("{HEAD}SQ.WYBX => community:fire\n"),
                3,
                "station type",
            ),
            (
                &format!("{HEAD}SQ.WYBX => street:css\n"),
                3,
                "no `css` station at the street",
            ),
            (
                &format!("{HEAD}SQ.WYBX => district:housing community:css\n"),
                3,
                "narrower",
            ),
            (
                &format!("{HEAD}SQ.WYBX => street:office street:office\n"),
                3,
                "twice",
            ),
            (
                &format!("{HEAD}SQ WYBX => street:office\n"),
                3,
                "not a condition",
            ),
            (
                &format!("{HEAD}SQ colour=red => street:office\n"),
                3,
                "unknown condition",
            ),
            (
                &format!("{HEAD}SQ nature=angry => street:office\n"),
                3,
                "nature",
            ),
            (
                &format!("{HEAD}SQ nature=help nature=report => street:office\n"),
                3,
                "twice",
            ),
            (
                &format!("{HEAD}SQ urgency=normal => street:office\n"),
                3,
                "every request",
            ),
            (
                &format!("{HEAD}SQ words=, => street:office\n"),
                3,
                "at least one word",
            ),
            (&format!("{HEAD}物业 => street:office\n"), 3, "category"),
            (&format!("{HEAD} => street:office\n"), 3, "no category"),
            (
                &format!("{HEAD}SQ words=a,b => street:office\nSQ words=b,a => district:civil\n"),
                4,
                "line 3",
            ),
            (&format!("{HEAD}* => district:command\n"), 3, "line 2"),
        ];
        for (text, line, expected) in cases {
            let (found, problem) = error_of(text);
            assert_eq!(found, *line, "{text:?}: {problem}");
            assert!(
                problem.contains(expected),
                "{problem:?} should say {expected:?}"
            );
        }
        let rendered = Catalogue::parse("cat.txt", &format!("{HEAD}SQ => street:css\n"))
            .unwrap_err()
            .to_string();
        assert!(rendered.starts_with("cat.txt:3: "), "{rendered}");
    }

    #[test]
    fn a_catalogue_without_version_or_default_is_inconsistent() {
        for text in [
            "",
            "# only a comment\n",
            "@version x\nSQ => street:office\n",
        ] {
            let err = Catalogue::parse("c.txt", text).unwrap_err();
            assert!(matches!(err, RoutingError::Inconsistent { .. }), "{err}");
            assert!(err.to_string().starts_with("c.txt: "), "{err}");
        }
    }

    #[test]
    fn unknown_categories_are_refused_against_the_taxonomy_with_their_line() {
        let text = format!("{HEAD}\nXX.YY => district:command\n");
        let catalogue = Catalogue::parse("c.txt", &text).unwrap();
        let err = catalogue
            .check_categories(&Taxonomy::shipped())
            .unwrap_err();
        assert!(
            err.to_string().starts_with("c.txt:4: category `XX.YY`"),
            "{err}"
        );
    }

    #[test]
    fn a_catalogue_loads_from_disk_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalogue.txt");
        std::fs::write(&path, HEAD).unwrap();
        let catalogue = Catalogue::load(&path).unwrap();
        assert_eq!(catalogue.version(), "t1");
        assert_eq!(catalogue.file(), path.display().to_string());
        let missing = Catalogue::load(dir.path().join("nope.txt")).unwrap_err();
        assert!(missing.to_string().contains("nope.txt"), "{missing}");
    }

    #[test]
    fn comments_blank_lines_and_a_bom_are_ignored_and_rule_text_is_kept() {
        let text = "\u{feff}# head\n\n@version v # trailing\n*   =>  street:command # default\n";
        let catalogue = Catalogue::parse("c", text).unwrap();
        assert_eq!(catalogue.version(), "v");
        let rule = catalogue.default_rule();
        assert_eq!(rule.line, 4);
        assert_eq!(catalogue.describe(rule), "c:4: * => street:command");
    }
}
