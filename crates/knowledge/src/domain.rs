//! What an article is: the content an editor writes ([`Content`]), checked once by
//! [`Content::validate`] against the limits and the centre's vocabulary ([`Catalogue`]); the
//! lifecycle ([`Status`]); and what the store keeps of it ([`Article`], [`Version`],
//! [`HistoryEntry`]).

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use hotline_core::{CategoryCode, DivisionCode, InvalidInput, StaffId, StationId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An article's id, chosen by the server when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArticleId(Uuid);

impl ArticleId {
    pub fn new() -> Self {
        // v7: ids sort by creation time, which keeps listings and index rebuilds in a stable order.
        Self(Uuid::now_v7())
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| InvalidInput::new(field, format!("{raw:?} is not an article id")))
    }
}

impl Default for ArticleId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an article stands. Each article has one status; its content versions are all kept.
///
/// ```text
/// Draft ──submit──▶ InReview ──approve──▶ Published ──withdraw──▶ Withdrawn
///   ▲                  │ reject                │ edit (a new draft version;
///   └──────────────────┘                       │ the published one stays live)
/// ```
/// An edit of a published or withdrawn article starts a new draft version; the article's
/// status is then that of the draft, and [`Article::live_version`] still names the version
/// callers are read until the draft is approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Draft,
    InReview,
    Published,
    Withdrawn,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Published => "published",
            Status::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        Ok(match raw.trim() {
            "draft" => Status::Draft,
            "in_review" => Status::InReview,
            "published" => Status::Published,
            "withdrawn" => Status::Withdrawn,
            other => {
                return Err(InvalidInput::new(
                    field,
                    format!("{other:?} is not a status (draft, in_review, published, withdrawn)"),
                ))
            }
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The limits on an article's text, in characters (not bytes). They keep an answer readable
/// on the line and bound what one search result costs to render.
pub mod limits {
    pub const TITLE: usize = 200;
    pub const ALT_QUESTION: usize = 200;
    pub const ALT_QUESTIONS: usize = 50;
    pub const ANSWER: usize = 20_000;
    pub const NOTE: usize = 5_000;
    pub const CATEGORIES: usize = 20;
    pub const TERRITORIES: usize = 50;
    pub const SOURCE_NAME: usize = 300;
    pub const SOURCE_NUMBER: usize = 100;
    pub const SOURCE_LINK: usize = 1_000;
    pub const EXTERNAL_KEY: usize = 100;
    pub const FEEDBACK_NOTE: usize = 1_000;
    /// A ticket id as feedback names it (a UUID is 36).
    pub const FEEDBACK_TICKET: usize = 128;
}

/// The document an answer rests on: its name, its number (文号, e.g. 苏府办〔2024〕12号) and a link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub number: String,
    pub link: String,
}

/// The part of an article an editor writes; every version is one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub title: String,
    /// Other ways callers ask the same question (同义问法).
    pub alt_questions: Vec<String>,
    /// What the operator reads to the caller.
    pub answer: String,
    /// For operators and editors only; never read out.
    pub internal_note: String,
    pub categories: Vec<CategoryCode>,
    /// Where the answer holds: city (4 digits), district (6) or street (9) division codes.
    pub territories: Vec<DivisionCode>,
    pub source: Source,
    pub effective_from: NaiveDate,
    /// The last day the answer holds; `None`: until withdrawn.
    pub effective_until: Option<NaiveDate>,
    /// The unit answerable for the content.
    pub owner: StationId,
    /// When the owner must look at it again.
    pub review_on: Option<NaiveDate>,
}

/// The centre's vocabulary an article must use: the category taxonomy and the division
/// directory. The router implements it over its own taxonomy and directory; this crate does
/// not depend on them.
pub trait Catalogue: Send + Sync {
    fn knows_category(&self, code: &CategoryCode) -> bool;
    fn knows_division(&self, code: &DivisionCode) -> bool;
}

/// A fixed vocabulary (tests, the offline CLI).
#[derive(Debug, Clone, Default)]
pub struct FixedCatalogue {
    pub categories: HashSet<CategoryCode>,
    pub divisions: HashSet<DivisionCode>,
}

impl Catalogue for FixedCatalogue {
    fn knows_category(&self, code: &CategoryCode) -> bool {
        self.categories.contains(code)
    }
    fn knows_division(&self, code: &DivisionCode) -> bool {
        self.divisions.contains(code)
    }
}

/// An article's territory level, from its division code's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    City,
    District,
    Street,
}

impl Level {
    pub fn of(code: &DivisionCode) -> Option<Level> {
        match code.as_str().len() {
            4 => Some(Level::City),
            6 => Some(Level::District),
            9 => Some(Level::Street),
            _ => None,
        }
    }
}

/// The codes whose articles a caller in `division` may be read: the city, district and street
/// that contain it (a community's 12-digit code reaches up to its street). Province codes and
/// malformed codes give an empty chain, which the search treats as an unresolved territory.
pub fn division_chain(division: &DivisionCode) -> Vec<String> {
    let code = division.as_str();
    [4, 6, 9]
        .into_iter()
        .filter(|&len| code.len() >= len)
        .map(|len| code[..len].to_owned())
        .collect()
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn check_len(
    field: &'static str,
    what: &str,
    text: &str,
    limit: usize,
) -> Result<(), InvalidInput> {
    let n = chars(text);
    if n > limit {
        return Err(InvalidInput::new(
            field,
            format!("{what} is {n} characters long; the limit is {limit}"),
        ));
    }
    Ok(())
}

impl Content {
    /// Trims the text fields, drops blank and repeated 同义问法, categories and territories,
    /// then checks the content: an answer is required, the period must not end before it
    /// starts, text stays within [`limits`], and every category and territory must be in
    /// `catalogue`. The first problem found is returned, naming the field.
    pub fn validate(mut self, catalogue: &dyn Catalogue) -> Result<Content, InvalidInput> {
        self.title = self.title.trim().to_owned();
        self.answer = self.answer.trim().to_owned();
        self.internal_note = self.internal_note.trim().to_owned();
        self.source.name = self.source.name.trim().to_owned();
        self.source.number = self.source.number.trim().to_owned();
        self.source.link = self.source.link.trim().to_owned();
        let mut seen = HashSet::new();
        self.alt_questions = self
            .alt_questions
            .iter()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty() && seen.insert(q.clone()))
            .collect();
        let mut seen = HashSet::new();
        self.categories.retain(|c| seen.insert(c.clone()));
        let mut seen = HashSet::new();
        self.territories.retain(|t| seen.insert(t.clone()));

        if self.title.is_empty() {
            return Err(InvalidInput::new("title", "an article needs a title"));
        }
        check_len("title", "the title", &self.title, limits::TITLE)?;
        if self.answer.is_empty() {
            return Err(InvalidInput::new(
                "answer",
                "an article needs an answer to read to the caller",
            ));
        }
        check_len("answer", "the answer", &self.answer, limits::ANSWER)?;
        check_len(
            "internal_note",
            "the internal note",
            &self.internal_note,
            limits::NOTE,
        )?;
        if self.alt_questions.len() > limits::ALT_QUESTIONS {
            return Err(InvalidInput::new(
                "alt_questions",
                format!(
                    "{} alternative questions; the limit is {}",
                    self.alt_questions.len(),
                    limits::ALT_QUESTIONS
                ),
            ));
        }
        for question in &self.alt_questions {
            check_len(
                "alt_questions",
                "an alternative question",
                question,
                limits::ALT_QUESTION,
            )?;
        }
        check_len(
            "source.name",
            "the source document's name",
            &self.source.name,
            limits::SOURCE_NAME,
        )?;
        check_len(
            "source.number",
            "the source document's number",
            &self.source.number,
            limits::SOURCE_NUMBER,
        )?;
        check_len(
            "source.link",
            "the source link",
            &self.source.link,
            limits::SOURCE_LINK,
        )?;
        let web = ["https://", "http://"]
            .iter()
            .any(|scheme| self.source.link.starts_with(scheme));
        if !self.source.link.is_empty() && !web {
            // A link is opened by operators from the desk: only web addresses, never
            // `javascript:` or a file path.
            return Err(InvalidInput::new(
                "source.link",
                format!(
                    "{:?} is not a web address (http:// or https://)",
                    self.source.link
                ),
            ));
        }
        if let Some(until) = self.effective_until {
            if until < self.effective_from {
                return Err(InvalidInput::new(
                    "effective_until",
                    format!(
                        "effective until {until} is before effective from {}",
                        self.effective_from
                    ),
                ));
            }
        }
        if self.categories.is_empty() {
            return Err(InvalidInput::new(
                "categories",
                "an article needs at least one category",
            ));
        }
        if self.categories.len() > limits::CATEGORIES {
            return Err(InvalidInput::new(
                "categories",
                format!(
                    "{} categories; the limit is {}",
                    self.categories.len(),
                    limits::CATEGORIES
                ),
            ));
        }
        if let Some(unknown) = self
            .categories
            .iter()
            .find(|c| !catalogue.knows_category(c))
        {
            return Err(InvalidInput::new(
                "categories",
                format!("unknown category {:?}", unknown.as_str()),
            ));
        }
        if self.territories.is_empty() {
            return Err(InvalidInput::new(
                "territories",
                "an article needs a territory (the city's code for a city-wide answer)",
            ));
        }
        if self.territories.len() > limits::TERRITORIES {
            return Err(InvalidInput::new(
                "territories",
                format!(
                    "{} territories; the limit is {}",
                    self.territories.len(),
                    limits::TERRITORIES
                ),
            ));
        }
        for territory in &self.territories {
            if Level::of(territory).is_none() {
                return Err(InvalidInput::new(
                    "territories",
                    format!(
                        "{:?} is not a city (4 digits), district (6) or street (9) code",
                        territory.as_str()
                    ),
                ));
            }
            if !catalogue.knows_division(territory) {
                return Err(InvalidInput::new(
                    "territories",
                    format!("unknown territory {:?}", territory.as_str()),
                ));
            }
        }
        Ok(self)
    }
}

/// One version of an article's content, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub article: ArticleId,
    /// 1 for the first draft, one more for each edit.
    pub number: u32,
    pub content: Content,
    pub author: StaffId,
    pub created_at: DateTime<Utc>,
}

/// What was done to an article; one entry per change, never rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Created,
    Edited,
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
}

impl Action {
    pub fn code(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Edited => "edited",
            Action::Submitted => "submitted",
            Action::Approved => "approved",
            Action::Rejected => "rejected",
            Action::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        Ok(match raw {
            "created" => Action::Created,
            "edited" => Action::Edited,
            "submitted" => Action::Submitted,
            "approved" => Action::Approved,
            "rejected" => Action::Rejected,
            "withdrawn" => Action::Withdrawn,
            other => {
                return Err(InvalidInput::new(
                    field,
                    format!("unknown action {other:?}"),
                ))
            }
        })
    }
}

/// Who did what to which version, when, and why (a rejection's or withdrawal's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub article: ArticleId,
    pub action: Action,
    pub version: u32,
    pub actor: StaffId,
    pub at: DateTime<Utc>,
    pub note: String,
}

/// An article as the store holds it: its status, its latest version and the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: ArticleId,
    /// The key of the base it was imported from, so a re-import updates instead of duplicating.
    pub external_key: Option<String>,
    pub status: Status,
    /// The newest version (the one an edit or a review works on).
    pub latest: Version,
    /// The version callers are read, if any: the last approved one, until withdrawn.
    pub live: Option<Version>,
    /// Bumped on every change of any kind; the index follows the store by it.
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Article {
    pub fn live_version(&self) -> Option<u32> {
        self.live.as_ref().map(|v| v.number)
    }
}

/// What an operator or a callback said of an answer read to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FeedbackKind {
    /// The operator marked "this answer did not fit" the call.
    DidNotFit,
    /// The caller was dissatisfied at the callback of a ticket answered from the article.
    Dissatisfied,
}

impl FeedbackKind {
    pub fn code(self) -> &'static str {
        match self {
            FeedbackKind::DidNotFit => "did_not_fit",
            FeedbackKind::Dissatisfied => "dissatisfied",
        }
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        match raw.trim() {
            "did_not_fit" => Ok(FeedbackKind::DidNotFit),
            "dissatisfied" => Ok(FeedbackKind::Dissatisfied),
            other => Err(InvalidInput::new(
                field,
                format!("{other:?} is not a kind of feedback (did_not_fit, dissatisfied)"),
            )),
        }
    }
}

impl fmt::Display for FeedbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One mark against the version of an article a caller was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub article: ArticleId,
    pub version: u32,
    pub kind: FeedbackKind,
    /// The ticket it came from: with one, the same (article, ticket, kind) counts once.
    pub ticket: Option<String>,
    /// Who marked it (the operator), if anyone.
    pub staff: Option<StaffId>,
    /// At most [`limits::FEEDBACK_NOTE`] characters.
    pub note: String,
    pub at: DateTime<Utc>,
}

/// Why an article is on its owner's review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueReason {
    /// Its review date has come (the date).
    ReviewDate(NaiveDate),
    /// Its last effective day has passed (that day).
    Expired(NaiveDate),
    /// Feedback on the live version (or a newer one).
    Feedback { did_not_fit: u32, dissatisfied: u32 },
}

/// A live article its owner must look at, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDue {
    pub article: Article,
    pub reasons: Vec<DueReason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> FixedCatalogue {
        FixedCatalogue {
            categories: [CategoryCode::parse("c", "CJ.WY").unwrap()].into(),
            divisions: ["3205", "320508", "320508021"]
                .iter()
                .map(|c| DivisionCode::parse("d", c).unwrap())
                .collect(),
        }
    }

    fn content() -> Content {
        Content {
            title: " 物业费怎么收 ".into(),
            alt_questions: vec!["物业费标准".into(), " ".into(), "物业费标准".into()],
            answer: "按合同约定收取。".into(),
            internal_note: String::new(),
            categories: vec![CategoryCode::parse("c", "CJ.WY").unwrap()],
            territories: vec![DivisionCode::parse("d", "320508").unwrap()],
            source: Source::default(),
            effective_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            effective_until: None,
            owner: StationId::parse("o", "320508-office").unwrap(),
            review_on: None,
        }
    }

    #[test]
    fn validation_trims_and_drops_blank_and_repeated_questions() {
        let valid = content().validate(&catalogue()).unwrap();
        assert_eq!(valid.title, "物业费怎么收");
        assert_eq!(valid.alt_questions, ["物业费标准"]);
    }

    #[test]
    fn an_article_without_an_answer_is_refused() {
        let mut c = content();
        c.answer = "  ".into();
        let err = c.validate(&catalogue()).unwrap_err();
        assert_eq!(err.field, "answer");
    }

    #[test]
    fn a_period_ending_before_it_starts_is_refused() {
        let mut c = content();
        c.effective_until = NaiveDate::from_ymd_opt(2024, 12, 31);
        let err = c.validate(&catalogue()).unwrap_err();
        assert_eq!(err.field, "effective_until");
        assert!(err.message.contains("2024-12-31"), "{}", err.message);
    }

    #[test]
    fn over_long_text_names_the_limit_in_characters() {
        let mut c = content();
        c.title = "长".repeat(limits::TITLE + 1);
        let err = c.validate(&catalogue()).unwrap_err();
        assert_eq!(err.field, "title");
        assert!(err.message.contains("201 characters"), "{}", err.message);
        assert!(err.message.contains("limit is 200"), "{}", err.message);
    }

    #[test]
    fn unknown_categories_and_territories_are_named() {
        let mut c = content();
        c.categories
            .push(CategoryCode::parse("c", "XX.YY").unwrap());
        let err = c.validate(&catalogue()).unwrap_err();
        assert!(err.message.contains("XX.YY"), "{}", err.message);

        let mut c = content();
        c.territories = vec![DivisionCode::parse("d", "320505").unwrap()];
        let err = c.validate(&catalogue()).unwrap_err();
        assert!(err.message.contains("320505"), "{}", err.message);

        let mut c = content();
        c.territories = vec![DivisionCode::parse("d", "320508021019").unwrap()];
        let err = c.validate(&catalogue()).unwrap_err();
        assert!(err.message.contains("street (9)"), "{}", err.message);
    }

    #[test]
    fn a_script_link_is_refused() {
        let mut c = content();
        c.source.link = "javascript:alert(1)".into();
        assert_eq!(c.validate(&catalogue()).unwrap_err().field, "source.link");
    }

    #[test]
    fn a_community_reaches_its_street_district_and_city() {
        let code = DivisionCode::parse("d", "320508021019").unwrap();
        assert_eq!(division_chain(&code), ["3205", "320508", "320508021"]);
        let province = DivisionCode::parse("d", "32").unwrap();
        assert!(division_chain(&province).is_empty());
    }
}
