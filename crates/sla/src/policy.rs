//! [`SlaPolicy`]: which time limits apply to a ticket, as configuration.
//!
//! A policy is a list of rules. Each rule may match on a category (a prefix of the ticket's
//! [`CategoryCode`], by `.`-separated segments: `CJ` matches `CJ` and `CJ.WY`, not `CJX`), a
//! [`Nature`] and an [`Urgency`]; each key left out matches everything. Exactly one rule, the
//! *default rule*, has no keys.
//!
//! # Which rule wins
//! The most specific matching rule, judged key by key in this order:
//! 1. a rule that names the urgency beats one that does not, so a 特急 ticket always gets the
//!    emergency clock whatever its category or nature;
//! 2. then the longer category prefix (more segments) wins;
//! 3. then a rule that names the nature wins.
//!
//! Two rules that could tie (same keys set, same category length) would match exactly the same
//! tickets, and are refused when the policy is loaded, so the winner is never a matter of order.
//!
//! # What a rule gives
//! Four clocks are required in every rule: `sign_for` (签收, from dispatch), `first_contact`
//! (first contact with the caller, from sign-for), `resolution` (办结, from sign-for) and
//! `callback` (回访, from the reply). The supervision values (`complex_resolution`,
//! `warning_lead`, `return_window`, `extension_max`, `extension_notice`, `urge_after`,
//! `publish_after`) are optional: a rule that leaves one out takes the default rule's, and the
//! default rule's come from the built-in values ([`Limits`] documents them).
//!
//! The built-in policy, [`SlaPolicy::default_policy`], is `data/default_policy.toml`; its comments
//! give the source of each number.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use hotline_core::{CategoryCode, Nature, Urgency};

use crate::error::PolicyError;
use crate::span::Span;

/// The built-in policy file, embedded.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../data/default_policy.toml");

/// The four clocks of a ticket, plus the longer resolution clock of an approved complex case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// 签收: starts at dispatch.
    SignFor,
    /// First contact with the caller: starts at sign-for.
    FirstContact,
    /// 办结: starts at sign-for.
    Resolution,
    /// 办结 of a case the centre approved as complex (疑难): starts at sign-for.
    ComplexResolution,
    /// 回访: starts at the reply (办结).
    Callback,
}

/// How early the yellow light (黄灯预警) comes on before a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningLead {
    /// This percentage (1-99) of the clock's whole span, measured on the clock's own time
    /// (office time for working spans, elapsed time for clock spans).
    Percent(u8),
    /// This long before the deadline, on the clock's own time (a working day of lead on a
    /// working clock is one office day's length).
    Before(Span),
}

impl fmt::Display for WarningLead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningLead::Percent(p) => write!(f, "{p}%"),
            WarningLead::Before(span) => write!(f, "{span}"),
        }
    }
}

/// The time limits of one kind of ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// 签收 after dispatch.
    pub sign_for: Span,
    /// First contact with the caller after sign-for.
    pub first_contact: Span,
    /// 办结 after sign-for.
    pub resolution: Span,
    /// 办结 after sign-for for a case approved as complex. Built-in: 15 working days.
    pub complex_resolution: Span,
    /// 回访 after the reply.
    pub callback: Span,
    /// The yellow light. Built-in: 20% of the span.
    pub warning_lead: WarningLead,
    /// How long after dispatch a station may still ask to return (退单) a ticket. Built-in: 2 WD.
    pub return_window: Span,
    /// The most working days one extension may add. Built-in: 10.
    pub extension_max_wd: u32,
    /// How many working days before the deadline an extension must be asked for. Built-in: 1.
    pub extension_notice_wd: u32,
    /// 催办 on the opening of this working day after the deadline's day. Built-in: 1.
    pub urge_after_wd: u32,
    /// 通报 when this many working days overdue. Built-in: 5.
    pub publish_after_wd: u32,
}

impl Limits {
    /// The span of one clock.
    pub fn span(&self, clock: Clock) -> Span {
        match clock {
            Clock::SignFor => self.sign_for,
            Clock::FirstContact => self.first_contact,
            Clock::Resolution => self.resolution,
            Clock::ComplexResolution => self.complex_resolution,
            Clock::Callback => self.callback,
        }
    }
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its position in the file, from 1 (for messages).
    pub position: usize,
    pub name: Option<String>,
    pub category: Option<CategoryCode>,
    pub nature: Option<Nature>,
    pub urgency: Option<Urgency>,
    pub limits: Limits,
}

impl Rule {
    fn matches(&self, category: Option<&CategoryCode>, nature: Nature, urgency: Urgency) -> bool {
        self.urgency.is_none_or(|u| u == urgency)
            && self.nature.is_none_or(|n| n == nature)
            && match (&self.category, category) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(prefix), Some(code)) => is_category_prefix(prefix.as_str(), code.as_str()),
            }
    }

    /// Larger is more specific; see the module documentation.
    fn specificity(&self) -> (bool, usize, bool) {
        (
            self.urgency.is_some(),
            self.category
                .as_ref()
                .map_or(0, |c| c.as_str().split('.').count()),
            self.nature.is_some(),
        )
    }

    /// True for the rule without category, nature or urgency.
    pub fn is_default(&self) -> bool {
        self.category.is_none() && self.nature.is_none() && self.urgency.is_none()
    }

    fn place(&self) -> String {
        place_of(self.position, self.name.as_deref())
    }
}

/// A loaded, checked SLA policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Where it came from, for messages.
    source: String,
    /// The rules with keys, most specific first.
    rules: Vec<Rule>,
    /// The rule without keys.
    default_rule: Rule,
}

impl SlaPolicy {
    /// The built-in policy (`data/default_policy.toml`), following the time limits of
    /// `docs/domain.md`.
    pub fn default_policy() -> Self {
        // Parsed by this crate's tests, so it cannot fail at run time.
        Self::from_toml_str("(built-in) default_policy.toml", DEFAULT_POLICY_TOML)
            .expect("the built-in SLA policy is valid")
    }

    /// Reads and checks a policy file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&path.display().to_string(), &text)
    }

    /// Parses and checks a policy. `file` names it in error messages.
    pub fn from_toml_str(file: &str, text: &str) -> Result<Self, PolicyError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            PolicyError::invalid(file, "toml", e.to_string().trim_end().to_owned())
        })?;
        for key in table.keys() {
            if key != "rule" && key != "description" {
                return Err(PolicyError::invalid(
                    file,
                    "top level",
                    format!("unknown key `{key}` (expected `description` and [[rule]] tables)"),
                ));
            }
        }
        let raw_rules = match table.get("rule") {
            None => {
                return Err(PolicyError::invalid(
                    file,
                    "top level",
                    "no [[rule]] tables: at least the default rule (one without category, nature or urgency) is needed",
                ))
            }
            Some(toml::Value::Array(items)) => items,
            Some(_) => {
                return Err(PolicyError::invalid(
                    file,
                    "top level",
                    "`rule` must be an array of tables, written [[rule]]",
                ))
            }
        };

        let mut parsed = Vec::with_capacity(raw_rules.len());
        for (index, value) in raw_rules.iter().enumerate() {
            let position = index + 1;
            let toml::Value::Table(rule_table) = value else {
                return Err(PolicyError::invalid(
                    file,
                    place_of(position, None),
                    "must be a table, written [[rule]]",
                ));
            };
            parsed.push(RawRule::parse(file, position, rule_table)?);
        }

        let defaults: Vec<&RawRule> = parsed.iter().filter(|r| r.is_default()).collect();
        let default_raw = match defaults.as_slice() {
            [] => {
                return Err(PolicyError::invalid(
                    file,
                    "top level",
                    "no default rule: one [[rule]] must have no category, nature or urgency, so every ticket gets a deadline",
                ))
            }
            [one] => *one,
            [first, second, ..] => {
                return Err(PolicyError::invalid(
                    file,
                    place_of(second.position, second.name.as_deref()),
                    format!(
                        "a second default rule (no category, nature or urgency); {} is already the default",
                        place_of(first.position, first.name.as_deref())
                    ),
                ))
            }
        };
        let default_supervision = default_raw.supervision.resolve(&BUILTIN_SUPERVISION);
        let default_rule = default_raw.clone().into_rule(&BUILTIN_SUPERVISION);

        let mut rules: Vec<Rule> = parsed
            .iter()
            .filter(|r| !r.is_default())
            .map(|r| r.clone().into_rule(&default_supervision))
            .collect();
        for (i, later) in rules.iter().enumerate() {
            if let Some(earlier) = rules[..i].iter().find(|earlier| {
                earlier.category == later.category
                    && earlier.nature == later.nature
                    && earlier.urgency == later.urgency
            }) {
                return Err(PolicyError::invalid(
                    file,
                    later.place(),
                    format!(
                        "matches exactly the same tickets as {}; merge them",
                        earlier.place()
                    ),
                ));
            }
        }
        // Most specific first; a stable sort keeps file order among rules that cannot overlap.
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.specificity()));

        Ok(Self {
            source: file.to_owned(),
            rules,
            default_rule,
        })
    }

    /// Checks every rule's category against the category catalogue: each must be a code of it or
    /// a prefix of one. The router calls this at start-up with its taxonomy.
    pub fn validate_categories<'a>(
        &self,
        known: impl IntoIterator<Item = &'a CategoryCode>,
    ) -> Result<(), PolicyError> {
        let known: Vec<&str> = known.into_iter().map(|c| c.as_str()).collect();
        let mut checked: HashSet<&str> = HashSet::new();
        let mut by_position: Vec<&Rule> = self.rules.iter().collect();
        by_position.sort_by_key(|r| r.position);
        for rule in by_position {
            let Some(category) = &rule.category else {
                continue;
            };
            if !checked.insert(category.as_str()) {
                continue;
            }
            if !known
                .iter()
                .any(|code| is_category_prefix(category.as_str(), code))
            {
                return Err(PolicyError::invalid(
                    &self.source,
                    rule.place(),
                    format!(
                        "category {:?} is not in the category catalogue (nor a prefix of a code in it)",
                        category.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The limits for a ticket: those of the most specific matching rule, or the default rule's.
    pub fn limits(
        &self,
        category: Option<&CategoryCode>,
        nature: Nature,
        urgency: Urgency,
    ) -> &Limits {
        &self.rule_for(category, nature, urgency).limits
    }

    /// The rule that gives a ticket its limits (to show *why* a deadline is what it is).
    pub fn rule_for(
        &self,
        category: Option<&CategoryCode>,
        nature: Nature,
        urgency: Urgency,
    ) -> &Rule {
        self.rules
            .iter()
            .find(|rule| rule.matches(category, nature, urgency))
            .unwrap_or(&self.default_rule)
    }

    /// The default rule.
    pub fn default_rule(&self) -> &Rule {
        &self.default_rule
    }

    /// The rules with keys, most specific first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Where the policy came from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// `prefix` is `code` or a leading run of its `.`-separated segments.
fn is_category_prefix(prefix: &str, code: &str) -> bool {
    code == prefix
        || code
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A TOML value as the user wrote it, roughly, for messages.
fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

fn place_of(position: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("[[rule]] #{position} ({name:?})"),
        None => format!("[[rule]] #{position}"),
    }
}

/// The optional supervision values of a rule, as written.
#[derive(Debug, Clone, Default)]
struct Supervision {
    complex_resolution: Option<Span>,
    warning_lead: Option<WarningLead>,
    return_window: Option<Span>,
    extension_max_wd: Option<u32>,
    extension_notice_wd: Option<u32>,
    urge_after_wd: Option<u32>,
    publish_after_wd: Option<u32>,
}

/// The supervision values of a rule once the defaults are filled in.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    complex_resolution: Span,
    warning_lead: WarningLead,
    return_window: Span,
    extension_max_wd: u32,
    extension_notice_wd: u32,
    urge_after_wd: u32,
    publish_after_wd: u32,
}

/// The built-in values (domain.md): complex 15 WD; yellow at 20% of the span; return within
/// 2 WD; an extension adds at most 10 WD and is asked >= 1 WD before the deadline; 催办 the day
/// after the deadline; 通报 at 5 WD overdue.
const BUILTIN_SUPERVISION: Resolved = Resolved {
    complex_resolution: Span::WorkingDays(15),
    warning_lead: WarningLead::Percent(20),
    return_window: Span::WorkingDays(2),
    extension_max_wd: 10,
    extension_notice_wd: 1,
    urge_after_wd: 1,
    publish_after_wd: 5,
};

impl Supervision {
    /// These values, with `base`'s where these are missing.
    fn resolve(&self, base: &Resolved) -> Resolved {
        Resolved {
            complex_resolution: self.complex_resolution.unwrap_or(base.complex_resolution),
            warning_lead: self.warning_lead.unwrap_or(base.warning_lead),
            return_window: self.return_window.unwrap_or(base.return_window),
            extension_max_wd: self.extension_max_wd.unwrap_or(base.extension_max_wd),
            extension_notice_wd: self.extension_notice_wd.unwrap_or(base.extension_notice_wd),
            urge_after_wd: self.urge_after_wd.unwrap_or(base.urge_after_wd),
            publish_after_wd: self.publish_after_wd.unwrap_or(base.publish_after_wd),
        }
    }
}

/// A rule as read, before the defaults are filled in.
#[derive(Debug, Clone)]
struct RawRule {
    position: usize,
    name: Option<String>,
    category: Option<CategoryCode>,
    nature: Option<Nature>,
    urgency: Option<Urgency>,
    sign_for: Span,
    first_contact: Span,
    resolution: Span,
    callback: Span,
    supervision: Supervision,
}

const RULE_KEYS: &[&str] = &[
    "name",
    "category",
    "nature",
    "urgency",
    "sign_for",
    "first_contact",
    "resolution",
    "callback",
    "complex_resolution",
    "warning_lead",
    "return_window",
    "extension_max",
    "extension_notice",
    "urge_after",
    "publish_after",
];

impl RawRule {
    fn parse(file: &str, position: usize, table: &toml::Table) -> Result<Self, PolicyError> {
        let name = match table.get("name") {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(PolicyError::invalid(
                    file,
                    place_of(position, None),
                    "`name` must be a string",
                ))
            }
        };
        let reader = RuleReader {
            file,
            place: place_of(position, name.as_deref()),
            table,
        };
        if let Some(key) = table.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
            return Err(reader.error(format!(
                "unknown key `{key}` (known: {})",
                RULE_KEYS.join(", ")
            )));
        }
        let category = reader
            .string("category")?
            .map(|raw| CategoryCode::parse("category", &raw))
            .transpose()
            .map_err(|e| reader.error(e.to_string()))?;
        let nature = reader
            .string("nature")?
            .map(|raw| Nature::parse("nature", &raw))
            .transpose()
            .map_err(|e| reader.error(e.to_string()))?;
        let urgency = reader
            .string("urgency")?
            .map(|raw| Urgency::parse("urgency", &raw))
            .transpose()
            .map_err(|e| reader.error(e.to_string()))?;
        Ok(Self {
            position,
            category,
            nature,
            urgency,
            sign_for: reader.required_deadline("sign_for")?,
            first_contact: reader.required_deadline("first_contact")?,
            resolution: reader.required_deadline("resolution")?,
            callback: reader.required_deadline("callback")?,
            supervision: Supervision {
                complex_resolution: reader.deadline("complex_resolution")?,
                warning_lead: reader.warning_lead("warning_lead")?,
                return_window: reader.deadline("return_window")?,
                extension_max_wd: reader.working_days("extension_max", 0)?,
                extension_notice_wd: reader.working_days("extension_notice", 0)?,
                urge_after_wd: reader.working_days("urge_after", 1)?,
                publish_after_wd: reader.working_days("publish_after", 1)?,
            },
            name,
        })
    }

    fn is_default(&self) -> bool {
        self.category.is_none() && self.nature.is_none() && self.urgency.is_none()
    }

    /// The rule, its supervision values filled in from `base` where it has none.
    fn into_rule(self, base: &Resolved) -> Rule {
        let supervision = self.supervision.resolve(base);
        Rule {
            position: self.position,
            name: self.name,
            category: self.category,
            nature: self.nature,
            urgency: self.urgency,
            limits: Limits {
                sign_for: self.sign_for,
                first_contact: self.first_contact,
                resolution: self.resolution,
                callback: self.callback,
                complex_resolution: supervision.complex_resolution,
                warning_lead: supervision.warning_lead,
                return_window: supervision.return_window,
                extension_max_wd: supervision.extension_max_wd,
                extension_notice_wd: supervision.extension_notice_wd,
                urge_after_wd: supervision.urge_after_wd,
                publish_after_wd: supervision.publish_after_wd,
            },
        }
    }
}

/// Reads typed values out of one rule's table, with errors that name the rule.
struct RuleReader<'a> {
    file: &'a str,
    place: String,
    table: &'a toml::Table,
}

impl RuleReader<'_> {
    fn error(&self, problem: impl Into<String>) -> PolicyError {
        PolicyError::invalid(self.file, self.place.clone(), problem)
    }

    fn string(&self, key: &str) -> Result<Option<String>, PolicyError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => {
                Err(self.error(format!("`{key}` must be a string, not {}", describe(other))))
            }
        }
    }

    /// An optional span; zero is refused (a deadline of zero is always already missed).
    fn deadline(&self, key: &str) -> Result<Option<Span>, PolicyError> {
        let raw = match self.table.get(key) {
            None => return Ok(None),
            Some(toml::Value::String(s)) => s,
            Some(toml::Value::Integer(n)) if *n < 0 => {
                return Err(self.error(format!(
                    "`{key}` = {n} is negative: a deadline must be more than zero"
                )))
            }
            Some(other) => {
                return Err(self.error(format!(
                    "`{key}` = {} has no unit: write a string such as \"5 wd\", \"2 wh\", \"24 h\" or \"30 min\"",
                    describe(other)
                )))
            }
        };
        let span =
            Span::parse("span", raw).map_err(|e| self.error(format!("`{key}`: {}", e.message)))?;
        if span.amount() == 0 {
            return Err(self.error(format!(
                "`{key}` = {raw:?} is zero: a deadline must be more than zero"
            )));
        }
        Ok(Some(span))
    }

    fn required_deadline(&self, key: &str) -> Result<Span, PolicyError> {
        self.deadline(key)?.ok_or_else(|| {
            self.error(format!(
                "missing deadline `{key}` (every rule gives sign_for, first_contact, resolution and callback)"
            ))
        })
    }

    /// An optional count of working days written as a span in `wd`.
    fn working_days(&self, key: &str, minimum: u32) -> Result<Option<u32>, PolicyError> {
        let raw = match self.table.get(key) {
            None => return Ok(None),
            Some(toml::Value::String(s)) => s,
            Some(other) => {
                return Err(self.error(format!(
                    "`{key}` = {}: write it in working days, e.g. \"1 wd\"",
                    describe(other)
                )))
            }
        };
        match Span::parse("span", raw).map_err(|e| self.error(format!("`{key}`: {}", e.message)))? {
            Span::WorkingDays(n) if n >= minimum => Ok(Some(n)),
            Span::WorkingDays(n) => Err(self.error(format!(
                "`{key}` = {n} wd: it must be at least {minimum} wd"
            ))),
            other => Err(self.error(format!(
                "`{key}` = {other}: it is counted in working days (wd)"
            ))),
        }
    }

    fn warning_lead(&self, key: &str) -> Result<Option<WarningLead>, PolicyError> {
        let Some(raw) = self.string(key)? else {
            return Ok(None);
        };
        if let Some(number) = raw.trim().strip_suffix('%') {
            return match number.trim().parse::<u8>() {
                Ok(p) if (1..=99).contains(&p) => Ok(Some(WarningLead::Percent(p))),
                _ => Err(self.error(format!(
                    "`{key}` = {raw:?}: a percentage must be a whole number from 1% to 99%"
                ))),
            };
        }
        Ok(self.deadline(key)?.map(WarningLead::Before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_prefixes_match_whole_segments_only() {
        assert!(is_category_prefix("CJ", "CJ"));
        assert!(is_category_prefix("CJ", "CJ.WY"));
        assert!(is_category_prefix("CJ.WY", "CJ.WY.DT"));
        assert!(!is_category_prefix("CJ", "CJX.WY"));
        assert!(!is_category_prefix("CJ.WY", "CJ"));
    }

    #[test]
    fn the_built_in_policy_loads() {
        let policy = SlaPolicy::default_policy();
        assert!(policy.default_rule().is_default());
        assert_eq!(
            policy.default_rule().limits.resolution,
            Span::WorkingDays(5)
        );
    }
}
