//! Keeping the index in step with the store. Each article's row carries a revision bumped on
//! every change; the sync remembers the revision it last indexed for each article, and a
//! refresh re-reads only the articles whose revision moved (or that appeared or vanished).
//! Every replica runs its own [`IndexSync::follow`], so a publication, edit or withdrawal made
//! on any replica reaches every replica's index within one period.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::index::{Entry, KnowledgeIndex};
use crate::domain::ArticleId;
use crate::store::KnowledgeStore;
use crate::KnowledgeError;

/// The index and what it was built from.
#[derive(Debug)]
pub struct IndexSync {
    index: Arc<KnowledgeIndex>,
    /// The revision of each article as last indexed; `None` until the first rebuild.
    seen: Mutex<Option<HashMap<ArticleId, u64>>>,
}

/// What a refresh changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Refreshed {
    /// Live articles (re)indexed.
    pub indexed: usize,
    /// Articles taken out (withdrawn, or no longer live).
    pub removed: usize,
}

impl IndexSync {
    pub fn new(index: Arc<KnowledgeIndex>) -> Self {
        Self {
            index,
            seen: Mutex::new(None),
        }
    }

    pub fn index(&self) -> &Arc<KnowledgeIndex> {
        &self.index
    }

    /// Rebuilds the index from every live article in the store.
    pub async fn rebuild(&self, store: &dyn KnowledgeStore) -> Result<usize, KnowledgeError> {
        let mut seen = self.seen.lock().await;
        // Revisions are read before content: an article changed in between is indexed with
        // newer content than its remembered revision says, and simply read again next time.
        let revisions: HashMap<ArticleId, u64> = store.revisions().await?.into_iter().collect();
        let entries: Vec<Entry> = store
            .live_articles()
            .await?
            .iter()
            .map(|live| Entry::of(&live.version))
            .collect();
        let count = entries.len();
        let index = Arc::clone(&self.index);
        blocking(move || index.replace_all(&entries)).await?;
        *seen = Some(revisions);
        Ok(count)
    }

    /// Re-indexes the articles changed since the last rebuild or refresh (a rebuild if there
    /// was none).
    pub async fn refresh(&self, store: &dyn KnowledgeStore) -> Result<Refreshed, KnowledgeError> {
        let mut guard = self.seen.lock().await;
        let Some(seen) = guard.as_mut() else {
            drop(guard);
            let indexed = self.rebuild(store).await?;
            return Ok(Refreshed {
                indexed,
                removed: 0,
            });
        };
        let revisions: HashMap<ArticleId, u64> = store.revisions().await?.into_iter().collect();
        let changed: Vec<ArticleId> = revisions
            .iter()
            .filter(|(id, revision)| seen.get(id) != Some(revision))
            .map(|(id, _)| *id)
            .collect();
        let vanished: Vec<ArticleId> = seen
            .keys()
            .filter(|id| !revisions.contains_key(id))
            .copied()
            .collect();
        if changed.is_empty() && vanished.is_empty() {
            return Ok(Refreshed::default());
        }
        let live = store.live_of(&changed).await?;
        let upserts: Vec<Entry> = live.iter().map(|l| Entry::of(&l.version)).collect();
        let live_ids: std::collections::HashSet<ArticleId> =
            live.iter().map(|l| l.version.article).collect();
        let removals: Vec<String> = changed
            .iter()
            .filter(|id| !live_ids.contains(id))
            .chain(&vanished)
            .map(ToString::to_string)
            .collect();
        let outcome = Refreshed {
            indexed: upserts.len(),
            removed: removals.len(),
        };
        let index = Arc::clone(&self.index);
        blocking(move || index.update(&upserts, &removals)).await?;
        for id in &vanished {
            seen.remove(id);
        }
        for id in changed {
            seen.insert(id, revisions[&id]);
        }
        Ok(outcome)
    }

    /// Refreshes every `period` until `shutdown` completes. A failed refresh is logged and
    /// tried again next period; the index keeps serving what it has.
    pub async fn follow(
        &self,
        store: &dyn KnowledgeStore,
        period: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticks.tick() => {
                    if let Err(err) = self.refresh(store).await {
                        tracing::warn!(error = %err, "knowledge index refresh failed");
                    }
                }
            }
        }
    }
}

/// Runs index work (tokenising, committing) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KnowledgeError> + Send + 'static,
) -> Result<T, KnowledgeError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| KnowledgeError::Corrupt(format!("index task failed: {e}")))?
}
