//! The article lifecycle: create, edit with a version check, submit, approve (never one's own
//! edit), reject, withdraw; and the reads (an article, its versions and history, the review
//! list). Who may call what (editors in scope, supervisors of the scope) is the gRPC layer's
//! check; this layer holds the rules that do not depend on the transport.

use std::sync::Arc;

use hotline_core::{Clock, InvalidInput, StaffId};

use crate::domain::{
    Action, Article, ArticleId, Catalogue, Content, HistoryEntry, Status, Version,
};
use crate::store::{Change, KnowledgeStore, Live, NewArticle};
use crate::KnowledgeError;

/// How often a change is decided again after losing a race to another writer of the same
/// article. Each retry reads the winner's state, so a real conflict (a new version, a new
/// status) ends the loop with an error at once; the bound only stops a pathological livelock.
pub(crate) const RACE_RETRIES: usize = 8;

/// The knowledge base's writes and reads over a store.
#[derive(Clone)]
pub struct Knowledge {
    pub(crate) store: Arc<dyn KnowledgeStore>,
    catalogue: Arc<dyn Catalogue>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A decision about an article, made from what was read.
struct Decision {
    status: Status,
    new_content: Option<Content>,
    live: Live,
    actions: Vec<(Action, String)>,
}

fn check_version(article: &Article, expected: u32) -> Result<(), KnowledgeError> {
    if article.latest.number != expected {
        return Err(KnowledgeError::StaleVersion {
            article: article.id,
            expected,
            current: article.latest.number,
        });
    }
    Ok(())
}

fn wrong_status(article: &Article, action: &'static str, needed: &'static str) -> KnowledgeError {
    KnowledgeError::WrongStatus {
        article: article.id,
        status: article.status,
        action,
        needed,
    }
}

fn reason(field: &'static str, text: &str) -> Result<String, KnowledgeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InvalidInput::new(field, "give a reason (the editors read it)").into());
    }
    if text.chars().count() > 1_000 {
        return Err(InvalidInput::new(field, "a reason is at most 1000 characters").into());
    }
    Ok(text.to_owned())
}

impl Knowledge {
    pub fn new(
        store: Arc<dyn KnowledgeStore>,
        catalogue: Arc<dyn Catalogue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            catalogue,
            clock,
        }
    }

    pub fn store(&self) -> &Arc<dyn KnowledgeStore> {
        &self.store
    }

    /// Checks content against the limits and the catalogue (also used by the import, which
    /// checks every row before writing any).
    pub fn validate(&self, content: Content) -> Result<Content, KnowledgeError> {
        Ok(content.validate(self.catalogue.as_ref())?)
    }

    /// A new draft, version 1.
    pub async fn create(
        &self,
        editor: &StaffId,
        content: Content,
        external_key: Option<String>,
    ) -> Result<Article, KnowledgeError> {
        let new = self.new_article(editor, content, external_key, false)?;
        self.store.create(&new).await?;
        self.get(new.id).await
    }

    /// Builds (without storing) a new article: a draft, or published at once for an
    /// administrator's import.
    pub fn new_article(
        &self,
        editor: &StaffId,
        content: Content,
        external_key: Option<String>,
        published: bool,
    ) -> Result<NewArticle, KnowledgeError> {
        let content = self.validate(content)?;
        let external_key = external_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if let Some(key) = &external_key {
            if key.chars().count() > crate::domain::limits::EXTERNAL_KEY {
                return Err(InvalidInput::new(
                    "external_key",
                    format!(
                        "an external key is at most {} characters",
                        crate::domain::limits::EXTERNAL_KEY
                    ),
                )
                .into());
            }
        }
        let id = ArticleId::new();
        let at = self.clock.now();
        let entry = |action| HistoryEntry {
            article: id,
            action,
            version: 1,
            actor: editor.clone(),
            at,
            note: String::new(),
        };
        let mut entries = vec![entry(Action::Created)];
        if published {
            entries.push(entry(Action::Approved));
        }
        Ok(NewArticle {
            id,
            external_key,
            status: if published {
                Status::Published
            } else {
                Status::Draft
            },
            first: Version {
                article: id,
                number: 1,
                content,
                author: editor.clone(),
                created_at: at,
            },
            live: published,
            entries,
        })
    }

    pub async fn get(&self, id: ArticleId) -> Result<Article, KnowledgeError> {
        self.store
            .get(id)
            .await?
            .ok_or(KnowledgeError::NotFound(id))
    }

    pub async fn versions(&self, id: ArticleId) -> Result<Vec<Version>, KnowledgeError> {
        self.get(id).await?;
        self.store.versions(id).await
    }

    pub async fn history(&self, id: ArticleId) -> Result<Vec<HistoryEntry>, KnowledgeError> {
        self.get(id).await?;
        self.store.history(id).await
    }

    /// Articles waiting for a reviewer, oldest first.
    pub async fn review_list(&self) -> Result<Vec<Article>, KnowledgeError> {
        self.store.list(Some(Status::InReview)).await
    }

    /// A new version of the content, if `expected_version` is still the latest. The article
    /// becomes a draft again; a published article's live version stays live until the new
    /// one is approved.
    pub async fn update(
        &self,
        editor: &StaffId,
        id: ArticleId,
        expected_version: u32,
        content: Content,
    ) -> Result<Article, KnowledgeError> {
        let content = self.validate(content)?;
        self.decide(editor, id, |article| {
            check_version(article, expected_version)?;
            Ok(Decision {
                status: Status::Draft,
                new_content: Some(content.clone()),
                live: Live::Keep,
                actions: vec![(Action::Edited, String::new())],
            })
        })
        .await
    }

    /// Sends the latest version to review.
    pub async fn submit(
        &self,
        editor: &StaffId,
        id: ArticleId,
        expected_version: u32,
    ) -> Result<Article, KnowledgeError> {
        self.decide(editor, id, |article| {
            check_version(article, expected_version)?;
            if article.status != Status::Draft {
                return Err(wrong_status(article, "submitting for review", "a draft"));
            }
            Ok(Decision {
                status: Status::InReview,
                new_content: None,
                live: Live::Keep,
                actions: vec![(Action::Submitted, String::new())],
            })
        })
        .await
    }

    /// Publishes the version under review: it becomes the live one. A reviewer may not approve
    /// a version they wrote, nor one that carries an unpublished edit of theirs.
    pub async fn approve(
        &self,
        reviewer: &StaffId,
        id: ArticleId,
        expected_version: u32,
    ) -> Result<Article, KnowledgeError> {
        let versions = self.store.versions(id).await?;
        self.decide(reviewer, id, |article| {
            check_version(article, expected_version)?;
            if article.status != Status::InReview {
                return Err(wrong_status(article, "approving", "in review"));
            }
            let since = article.live_version().unwrap_or(0);
            let own = versions
                .iter()
                .filter(|v| v.number > since && v.number <= article.latest.number)
                .find(|v| &v.author == reviewer)
                .map(|v| v.number)
                // The list was read before the article; the latest version is checked
                // directly in case it was written in between.
                .or((&article.latest.author == reviewer).then_some(article.latest.number));
            if let Some(version) = own {
                return Err(KnowledgeError::OwnEdit {
                    article: article.id,
                    version,
                });
            }
            Ok(Decision {
                status: Status::Published,
                new_content: None,
                live: Live::Set(article.latest.number),
                actions: vec![(Action::Approved, String::new())],
            })
        })
        .await
    }

    /// Sends the version under review back to its editor, with the reviewer's reason.
    pub async fn reject(
        &self,
        reviewer: &StaffId,
        id: ArticleId,
        expected_version: u32,
        why: &str,
    ) -> Result<Article, KnowledgeError> {
        let why = reason("reason", why)?;
        self.decide(reviewer, id, |article| {
            check_version(article, expected_version)?;
            if article.status != Status::InReview {
                return Err(wrong_status(article, "rejecting", "in review"));
            }
            Ok(Decision {
                status: Status::Draft,
                new_content: None,
                live: Live::Keep,
                actions: vec![(Action::Rejected, why.clone())],
            })
        })
        .await
    }

    /// Takes the article off the line: no version is live any more. Edits in progress are
    /// kept as versions.
    pub async fn withdraw(
        &self,
        actor: &StaffId,
        id: ArticleId,
        expected_version: u32,
        why: &str,
    ) -> Result<Article, KnowledgeError> {
        let why = reason("reason", why)?;
        self.decide(actor, id, |article| {
            check_version(article, expected_version)?;
            if article.live.is_none() {
                return Err(wrong_status(
                    article,
                    "withdrawing",
                    "to have a published version",
                ));
            }
            Ok(Decision {
                status: Status::Withdrawn,
                new_content: None,
                live: Live::Clear,
                actions: vec![(Action::Withdrawn, why.clone())],
            })
        })
        .await
    }

    /// Reads the article, asks `decide` what to do, and applies it if nobody changed the
    /// article in between; otherwise reads and decides again.
    async fn decide(
        &self,
        actor: &StaffId,
        id: ArticleId,
        decide: impl Fn(&Article) -> Result<Decision, KnowledgeError>,
    ) -> Result<Article, KnowledgeError> {
        for _ in 0..RACE_RETRIES {
            let article = self.get(id).await?;
            let decision = decide(&article)?;
            let at = self.clock.now();
            let new_version = decision.new_content.map(|content| Version {
                article: id,
                number: article.latest.number + 1,
                content,
                author: actor.clone(),
                created_at: at,
            });
            let version = new_version
                .as_ref()
                .map_or(article.latest.number, |v| v.number);
            let change = Change {
                article: id,
                expected_revision: article.revision,
                status: decision.status,
                new_version,
                live: decision.live,
                entries: decision
                    .actions
                    .into_iter()
                    .map(|(action, note)| HistoryEntry {
                        article: id,
                        action,
                        version,
                        actor: actor.clone(),
                        at,
                        note,
                    })
                    .collect(),
                at,
            };
            if self.store.apply(&change).await? {
                return self.get(id).await;
            }
            tracing::debug!(article = %id, "lost a race to another writer; deciding again");
        }
        let article = self.get(id).await?;
        Err(KnowledgeError::StaleVersion {
            article: id,
            expected: article.latest.number,
            current: article.latest.number,
        })
    }
}
