//! Feedback on answers and the owners' review list. An operator marks "this answer did not
//! fit"; a dissatisfied callback of a ticket answered from an article counts against it too.
//! Either flags the article for its owner, beside articles whose review date has come and
//! articles past their last effective day (neither of which search suggests any more).

use std::cmp::Reverse;
use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use hotline_core::InvalidInput;

use crate::domain::{limits, ArticleId, DueReason, Feedback, FeedbackKind, ReviewDue};
use crate::service::Knowledge;
use crate::KnowledgeError;

impl Knowledge {
    /// Records one mark against the version a caller was read. Returns false if the same
    /// (article, ticket, kind) was recorded before (a retried call), true if stored. The
    /// article must exist and have that version; the note is at most 1,000 characters.
    pub async fn record_feedback(&self, feedback: Feedback) -> Result<bool, KnowledgeError> {
        let article = self.get(feedback.article).await?;
        if feedback.version == 0 || feedback.version > article.latest.number {
            return Err(InvalidInput::new(
                "version",
                format!(
                    "article {} has no version {} (the latest is {})",
                    article.id, feedback.version, article.latest.number
                ),
            )
            .into());
        }
        let note = feedback.note.trim().to_owned();
        let n = note.chars().count();
        if n > limits::FEEDBACK_NOTE {
            return Err(InvalidInput::new(
                "note",
                format!(
                    "the note is {n} characters long; the limit is {}",
                    limits::FEEDBACK_NOTE
                ),
            )
            .into());
        }
        let ticket = feedback
            .ticket
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(ticket) = &ticket {
            if ticket.chars().count() > limits::FEEDBACK_TICKET {
                return Err(InvalidInput::new(
                    "ticket",
                    format!(
                        "a ticket id is at most {} characters",
                        limits::FEEDBACK_TICKET
                    ),
                )
                .into());
            }
        }
        self.store
            .record_feedback(&Feedback {
                ticket,
                note,
                ..feedback
            })
            .await
    }

    /// Every mark against an article, oldest first.
    pub async fn feedback(&self, id: ArticleId) -> Result<Vec<Feedback>, KnowledgeError> {
        self.get(id).await?;
        self.store.feedback(id).await
    }

    /// The live articles their owners must look at on `today`: the review date has come
    /// (`review_on <= today`), the last effective day has passed (`effective_until < today`),
    /// or the live version (or a newer one) has feedback. Dates are the live version's.
    ///
    /// Order, most urgent first: articles with feedback before the others, because search
    /// still suggests them and callers are being read an answer that failed (more marks
    /// first); then the rest by how long they have been due, the longest first (an expired
    /// article is due from the day after its last day, a review from its date); ties by id.
    pub async fn review_due(&self, today: NaiveDate) -> Result<Vec<ReviewDue>, KnowledgeError> {
        let mut marks: HashMap<ArticleId, (u32, u32)> = HashMap::new();
        for (id, kind, count) in self.store.feedback_on_live().await? {
            let entry = marks.entry(id).or_default();
            match kind {
                FeedbackKind::DidNotFit => entry.0 += count,
                FeedbackKind::Dissatisfied => entry.1 += count,
            }
        }
        let mut due = Vec::new();
        for article in self.store.list(None).await? {
            let Some(live) = &article.live else {
                continue;
            };
            let content = &live.content;
            let mut reasons = Vec::new();
            let mut since: Option<NaiveDate> = None;
            if let Some(until) = content.effective_until.filter(|&d| d < today) {
                reasons.push(DueReason::Expired(until));
                since = until.checked_add_days(Days::new(1));
            }
            if let Some(review) = content.review_on.filter(|&d| d <= today) {
                reasons.push(DueReason::ReviewDate(review));
                since = Some(since.map_or(review, |s| s.min(review)));
            }
            let (did_not_fit, dissatisfied) = marks.get(&article.id).copied().unwrap_or_default();
            if did_not_fit + dissatisfied > 0 {
                reasons.push(DueReason::Feedback {
                    did_not_fit,
                    dissatisfied,
                });
            }
            if !reasons.is_empty() {
                let key = (
                    Reverse(did_not_fit + dissatisfied),
                    since.unwrap_or(NaiveDate::MAX),
                    article.id,
                );
                due.push((key, ReviewDue { article, reasons }));
            }
        }
        due.sort_by_key(|(key, _)| *key);
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }
}
