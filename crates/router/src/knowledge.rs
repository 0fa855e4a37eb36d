//! Wiring of the knowledge base (`hotline-knowledge`, issue 21): its tables on the system of
//! record, its index built with the classifier's dictionary (the hotline vocabulary and the
//! directory's place names), the centre's vocabulary as its [`Catalogue`], who may write and
//! approve which article, the suggestions shown during intake, and which direct answers the
//! centre calls back. The lifecycle and the search are the knowledge crate's.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use hotline_classify::segment::Segmenter;
use hotline_classify::Taxonomy;
use hotline_core::{ArticleRef, CategoryCode, Clock, DivisionCode, StaffId, TicketId};
use hotline_directory::Directory;
use hotline_identity::{Principal, Role, Scope, Territory};
use hotline_knowledge::search::{IndexSync, KnowledgeIndex, Ranking, SearchRequest};
use hotline_knowledge::{
    ArticleId, Catalogue, Content, Knowledge, KnowledgeStore, PgKnowledge, SqliteKnowledge,
};

use crate::config::{ServeArgs, Storage};
use crate::error::RouterError;

/// How many suggestions intake shows: what an operator can read at a glance while talking.
pub const SUGGESTIONS: usize = 3;
/// A suggestion in the call's classified category counts this much more than its words alone:
/// the category is evidence the words may not carry ("how much is it" under 物业 vs 公积金).
const CATEGORY_BOOST: f32 = 1.25;
/// How many candidates a suggestion weighs before it keeps [`SUGGESTIONS`]: the second stage
/// re-scores BM25's best 30 anyway, so asking for 10 costs only the extra snippets.
const CANDIDATES: usize = 10;

/// The centre's categories (the routing taxonomy) and divisions (the directory).
pub struct CentreCatalogue {
    directory: Arc<Directory>,
    taxonomy: Option<Taxonomy>,
}

impl CentreCatalogue {
    pub fn new(directory: Arc<Directory>, taxonomy: Option<Taxonomy>) -> Self {
        Self {
            directory,
            taxonomy,
        }
    }
}

impl Catalogue for CentreCatalogue {
    fn knows_category(&self, code: &CategoryCode) -> bool {
        match &self.taxonomy {
            Some(taxonomy) => taxonomy.get(code).is_some(),
            // Without routing there is no taxonomy to check against; the shipped one is the
            // vocabulary every article uses.
            None => Taxonomy::shipped().get(code).is_some(),
        }
    }
    fn knows_division(&self, code: &DivisionCode) -> bool {
        self.directory.division(code).is_some()
    }
}

/// The jieba dictionary the classifier uses: the hotline vocabulary plus the directory's place
/// names, so 沧浪亭社区 or 周市镇 stay one word in articles as in calls.
pub fn segmenter(directory: &Directory) -> Segmenter {
    let mut segmenter = Segmenter::new();
    segmenter.add_words(directory.divisions().map(|d| d.short_name.clone()));
    segmenter
}

/// One article suggested for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub article: ArticleRef,
    pub title: String,
    pub answer: String,
    pub snippet_html: String,
    pub score: f32,
    pub territories: Vec<String>,
    pub source_number: String,
}

/// The knowledge room as the engine holds it.
#[derive(Clone)]
pub struct KnowledgeRoom {
    service: Knowledge,
    sync: Arc<IndexSync>,
    /// The share of direct answers called back, 0..=1.
    callback_share: f64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for KnowledgeRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeRoom")
            .field("callback_share", &self.callback_share)
            .finish_non_exhaustive()
    }
}

impl KnowledgeRoom {
    pub fn new(
        store: Arc<dyn KnowledgeStore>,
        catalogue: Arc<dyn Catalogue>,
        segmenter: &Segmenter,
        clock: Arc<dyn Clock>,
        callback_share: f64,
    ) -> Result<Self, RouterError> {
        if !(0.0..=1.0).contains(&callback_share) {
            return Err(RouterError::Invalid(hotline_core::InvalidInput::new(
                "direct_callback_share",
                format!("{callback_share} is not a share between 0 and 1"),
            )));
        }
        let index = KnowledgeIndex::new(segmenter, Ranking::default())?;
        Ok(Self {
            service: Knowledge::new(store, catalogue, clock.clone()),
            sync: Arc::new(IndexSync::new(Arc::new(index))),
            callback_share,
            clock,
        })
    }

    /// Opens the knowledge tables where the tickets are, and builds the index from them.
    pub async fn open(
        args: &ServeArgs,
        directory: Arc<Directory>,
        taxonomy: Option<Taxonomy>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let storage = args.storage().map_err(anyhow::Error::msg)?;
        let store: Arc<dyn KnowledgeStore> = match &storage {
            Storage::SqliteDir(dir) => Arc::new(SqliteKnowledge::open_dir(dir).await?),
            Storage::SqliteUrl(url) => Arc::new(SqliteKnowledge::open_url(url).await?),
            Storage::Postgres(url) => Arc::new(PgKnowledge::connect(url, 2).await?),
        };
        let room = Self::new(
            store,
            Arc::new(CentreCatalogue::new(directory.clone(), taxonomy)),
            &segmenter(&directory),
            clock,
            args.direct_callback_share,
        )?;
        let indexed = room.sync.rebuild(room.service.store().as_ref()).await?;
        tracing::info!(articles = indexed, "knowledge index built");
        Ok(room)
    }

    pub fn service(&self) -> &Knowledge {
        &self.service
    }

    pub fn sync(&self) -> &Arc<IndexSync> {
        &self.sync
    }

    /// Keeps this replica's index in step with the store until `stop` turns true.
    pub async fn follow(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let store = self.service.store().clone();
        let stopped = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    return;
                }
            }
        };
        self.sync.follow(store.as_ref(), every, stopped).await;
    }

    /// The local date a call is answered on (effective periods are dates in the city's time).
    pub fn today(&self) -> NaiveDate {
        use chrono::TimeZone;
        let local = chrono_tz_offset().from_utc_datetime(&self.clock.now().naive_utc());
        local.date_naive()
    }

    /// The best articles for a call: `limit` at most, published and in effect `on`, of the
    /// caller's division chain (city-wide only when `territory` is `None`), those of the
    /// classified `category` weighed up. The answer and version are the store's, so an article
    /// withdrawn or edited since the index last caught up is dropped or shown as it is now.
    pub async fn suggest(
        &self,
        text: &str,
        category: Option<&CategoryCode>,
        territory: Option<&DivisionCode>,
        on: NaiveDate,
        limit: usize,
    ) -> Result<Vec<Suggestion>, RouterError> {
        if text.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // One search of a few milliseconds, off the async threads so a burst of previews does
        // not hold up the router's other requests. It asks for more than it shows: the
        // category's weight is applied from the store's copy of each candidate, so an article
        // of the call's category a little below the shown ones can still move up.
        let index = Arc::clone(self.sync.index());
        let (text, territory) = (text.to_owned(), territory.cloned());
        let searched = tokio::task::spawn_blocking(move || {
            index.search(&SearchRequest {
                text: &text,
                categories: &[],
                territory: territory.as_ref(),
                on,
                limit: limit.max(CANDIDATES),
            })
        })
        .await
        .map_err(|e| {
            RouterError::internal(anyhow::anyhow!("the knowledge search task failed: {e}"))
        })??;
        self.live_suggestions(searched, category, limit).await
    }

    /// Hits as suggestions, best first, at most `limit`, with the answer and version the store
    /// holds now: an article withdrawn since the index last caught up is dropped, one edited is
    /// shown as published. Articles of `boost` (the call's category) count [`CATEGORY_BOOST`]
    /// times their score.
    pub async fn live_suggestions(
        &self,
        hits: Vec<hotline_knowledge::Hit>,
        boost: Option<&CategoryCode>,
        limit: usize,
    ) -> Result<Vec<Suggestion>, RouterError> {
        let ids: Vec<ArticleId> = hits.iter().filter_map(|h| h.article().ok()).collect();
        let live = self.service.store().live_of(&ids).await?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            let Some(now) = live
                .iter()
                .find(|l| l.version.article.to_string() == hit.key)
            else {
                continue;
            };
            let content = &now.version.content;
            let weight = match boost {
                Some(category) if content.categories.contains(category) => CATEGORY_BOOST,
                _ => 1.0,
            };
            out.push(Suggestion {
                article: ArticleRef {
                    id: hit.key.clone(),
                    version: now.version.number,
                },
                title: content.title.clone(),
                answer: content.answer.clone(),
                snippet_html: hit.snippet_html,
                score: hit.score * weight,
                territories: content
                    .territories
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect(),
                source_number: content.source.number.clone(),
            });
        }
        // A stable sort: equal scores keep the index's order.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(limit);
        Ok(out)
    }

    /// The answer of `article` as published, if its live version is still the one the
    /// operator was shown; FAILED_PRECONDITION naming the current version otherwise.
    pub async fn live_answer(&self, article: &ArticleRef) -> Result<String, RouterError> {
        let id = ArticleId::parse("article.article_id", &article.id)?;
        let found = self.service.get(id).await?;
        match &found.live {
            Some(live) if live.number == article.version => Ok(live.content.answer.clone()),
            Some(live) => Err(RouterError::Precondition(format!(
                "article {id} has changed since it was suggested: version {} is published now, not {}; read the current answer",
                live.number, article.version
            ))),
            None => Err(RouterError::Precondition(format!(
                "article {id} is not published any more (it is {}); it cannot be read to the caller",
                found.status
            ))),
        }
    }

    /// Whether the centre calls back the caller of this direct answer. Decided by the
    /// ticket's id (its random bits), so a retry or another replica decides the same.
    pub fn calls_back(&self, ticket: TicketId) -> bool {
        let bits = ticket.as_uuid().as_u128() as u64;
        (bits % 10_000) < (self.callback_share * 10_000.0).round() as u64
    }
}

/// China Standard Time (no daylight saving): the date a call is answered on.
fn chrono_tz_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Whether `who` may write (editors) or approve and withdraw (supervisors) an article that
/// holds in `territories`: every territory must be inside theirs. A district's editor may not
/// write a city-wide answer, nor one for another district.
pub fn may_manage(who: &Principal, roles: &[Role], content: &Content) -> Result<(), RouterError> {
    if !roles.contains(&who.role) {
        return Err(RouterError::Forbidden(format!(
            "{} ({}) may not do this to articles; it is for {}",
            who.login,
            who.role.code(),
            roles
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let Scope::Territory { territory } = &who.scope else {
        return Err(RouterError::Forbidden(format!(
            "{} has no territory to manage articles in",
            who.login
        )));
    };
    let Territory::Division(mine) = territory else {
        return Ok(()); // the city
    };
    if let Some(outside) = content
        .territories
        .iter()
        .find(|t| !t.as_str().starts_with(mine.as_str()))
    {
        return Err(RouterError::Forbidden(format!(
            "{} manages articles of {mine} only; this one holds in {}",
            who.login,
            outside.as_str()
        )));
    }
    Ok(())
}

/// Whether an article holding in `territories` concerns `who`'s territory (inside it, or
/// covering it, like a city-wide article for a district's reviewer): for listings.
pub fn concerns(who: &Principal, territories: &[DivisionCode]) -> bool {
    match &who.scope {
        Scope::Territory {
            territory: Territory::Division(mine),
        } => territories.iter().any(|t| {
            t.as_str().starts_with(mine.as_str()) || mine.as_str().starts_with(t.as_str())
        }),
        _ => true,
    }
}

/// The staff id a principal acts as in the knowledge base's history.
pub fn staff_of(who: &Principal) -> Result<StaffId, RouterError> {
    Ok(StaffId::parse("login", who.login.as_str())?)
}

impl KnowledgeRoom {
    /// A callback on a direct answer from an article: a dissatisfied caller flags the article
    /// for its editors (once per ticket). The callback itself is already stored; a failure
    /// here is logged and does not undo it.
    pub async fn callback_recorded(
        &self,
        before: &hotline_core::Ticket,
        satisfaction: hotline_core::Satisfaction,
        who: &Principal,
    ) {
        if satisfaction != hotline_core::Satisfaction::Dissatisfied {
            return;
        }
        let Some(article) = before
            .direct_answer
            .as_ref()
            .and_then(|d| d.article.as_ref())
        else {
            return;
        };
        let Ok(id) = ArticleId::parse("article", &article.id) else {
            return;
        };
        let feedback = hotline_knowledge::Feedback {
            article: id,
            version: article.version,
            kind: hotline_knowledge::FeedbackKind::Dissatisfied,
            ticket: Some(before.id.to_string()),
            staff: staff_of(who).ok(),
            note: String::new(),
            at: self.clock.now(),
        };
        if let Err(err) = self.service.record_feedback(feedback).await {
            tracing::warn!(error = %err, article = %id, ticket = %before.id, "could not flag the article of a dissatisfied direct answer");
        }
    }
}

impl KnowledgeRoom {
    /// How many articles of a KPI scope are due for review today: those holding inside the
    /// division (a city scope: all), or owned by the station.
    pub async fn due_for_review_in(&self, scope: &hotline_kpi::Scope) -> Result<u64, RouterError> {
        let due = self.service.review_due(self.today()).await?;
        let counted = due.iter().filter(|d| {
            let content = &d.article.latest.content;
            match scope {
                hotline_kpi::Scope::All => true,
                hotline_kpi::Scope::Division(code) => content
                    .territories
                    .iter()
                    .any(|t| t.as_str().starts_with(code.as_str())),
                hotline_kpi::Scope::Station(station) => content.owner.as_str() == station,
            }
        });
        Ok(counted.count() as u64)
    }
}
