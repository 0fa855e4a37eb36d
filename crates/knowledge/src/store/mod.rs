//! The knowledge tables behind one trait, [`KnowledgeStore`], with SQLite and PostgreSQL
//! implementations in [`sql`] (one body of SQL for both). The tables come from migration 0009,
//! run by the shared migrator, in the ticket store's database.
//!
//! Every change is one compare-and-set ([`KnowledgeStore::apply`]) on the article's
//! `revision`: the service decides from what it read, and the store applies the decision only
//! if nothing changed in between; otherwise the service reads again and decides again. So two
//! editors saving at once never overwrite each other, and the one who lost is told the
//! version that won.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{Article, ArticleId, Feedback, FeedbackKind, HistoryEntry, Status, Version};
use crate::KnowledgeError;

mod sql;

pub use sql::{PgKnowledge, SqliteKnowledge};

/// A new article: its first version, written by `first.author`.
#[derive(Debug, Clone)]
pub struct NewArticle {
    pub id: ArticleId,
    pub external_key: Option<String>,
    pub status: Status,
    pub first: Version,
    /// Whether the first version goes live at once (an administrator's import as published).
    pub live: bool,
    pub entries: Vec<HistoryEntry>,
}

/// What happens to the live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    Keep,
    Set(u32),
    Clear,
}

/// One decided change of an article, applied only if its revision is still `expected_revision`.
#[derive(Debug, Clone)]
pub struct Change {
    pub article: ArticleId,
    pub expected_revision: u64,
    pub status: Status,
    /// A new version (an edit); its number must be the latest plus one.
    pub new_version: Option<Version>,
    pub live: Live,
    /// What was done, in order (an edit, or a submission, or both for "save and submit").
    pub entries: Vec<HistoryEntry>,
    pub at: DateTime<Utc>,
}

/// An article's live version as the index needs it.
#[derive(Debug, Clone)]
pub struct LiveArticle {
    pub revision: u64,
    pub version: Version,
}

#[async_trait]
pub trait KnowledgeStore: Send + Sync + std::fmt::Debug {
    /// Stores a new article, its first version and its history. An external key already in
    /// use gives [`KnowledgeError::ExternalKeyTaken`].
    async fn create(&self, article: &NewArticle) -> Result<(), KnowledgeError>;

    /// Applies `change` if the article's revision is still the expected one. Returns false,
    /// changing nothing, if it is not (or the article does not exist).
    async fn apply(&self, change: &Change) -> Result<bool, KnowledgeError>;

    /// Creates and applies several changes in one transaction: all or none (an import).
    /// Returns false, changing nothing, if any change's revision was stale.
    async fn apply_all(
        &self,
        creates: &[NewArticle],
        changes: &[Change],
    ) -> Result<bool, KnowledgeError>;

    async fn get(&self, id: ArticleId) -> Result<Option<Article>, KnowledgeError>;

    async fn by_external_key(&self, key: &str) -> Result<Option<Article>, KnowledgeError>;

    /// Every version of an article, oldest first.
    async fn versions(&self, id: ArticleId) -> Result<Vec<Version>, KnowledgeError>;

    /// Every change of an article, oldest first.
    async fn history(&self, id: ArticleId) -> Result<Vec<HistoryEntry>, KnowledgeError>;

    /// Articles in `status` (all if `None`), oldest first.
    async fn list(&self, status: Option<Status>) -> Result<Vec<Article>, KnowledgeError>;

    /// The live version of every article that has one (the index's input).
    async fn live_articles(&self) -> Result<Vec<LiveArticle>, KnowledgeError>;

    /// The live version of the given articles that have one.
    async fn live_of(&self, ids: &[ArticleId]) -> Result<Vec<LiveArticle>, KnowledgeError>;

    /// Every article's (id, revision): what the index compares with its own to find changes.
    async fn revisions(&self) -> Result<Vec<(ArticleId, u64)>, KnowledgeError>;

    /// Stores one mark (migration 0010). Returns false, storing nothing, if a mark of the same
    /// article, ticket and kind is already there.
    async fn record_feedback(&self, feedback: &Feedback) -> Result<bool, KnowledgeError>;

    /// Every mark against an article, oldest first.
    async fn feedback(&self, id: ArticleId) -> Result<Vec<Feedback>, KnowledgeError>;

    /// For every article with a live version: how many marks of each kind its live version,
    /// or a newer one, has (articles without any are left out).
    async fn feedback_on_live(&self)
        -> Result<Vec<(ArticleId, FeedbackKind, u32)>, KnowledgeError>;
}
