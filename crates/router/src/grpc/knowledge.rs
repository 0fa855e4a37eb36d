//! The knowledge base's gRPC service: converts, checks who may do what to which article
//! (the role table in [`crate::access`], the territory rule in [`crate::knowledge`]), and calls
//! the knowledge crate's lifecycle.

use chrono::NaiveDate;
use hotline_core::{CategoryCode, DivisionCode, InvalidInput, StationId};
use hotline_identity::{Principal, Role, Scope, Territory};
use hotline_knowledge::domain::{Article, Content, Source, Status, Version};
use hotline_knowledge::{ArticleId, DueReason, Feedback, FeedbackKind};
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_server;
use tonic::{Request, Response, Status as GrpcStatus};

use super::auth::principal;
use super::convert::{self, article_ref_in, suggestion_out, time_out};
use super::status::invalid;
use crate::error::RouterError;
use crate::knowledge::{concerns, may_manage, staff_of, KnowledgeRoom};
use crate::tickets::Hotline;

const SEARCH_DEFAULT: u32 = 10;
const SEARCH_MAX: u32 = 50;
const LIST_DEFAULT: u32 = 100;
const LIST_MAX: u32 = 1000;
/// The longest title a draft takes from a request's text.
const DRAFT_TITLE_CHARS: usize = 60;

pub struct KnowledgeApi {
    hotline: Hotline,
}

impl KnowledgeApi {
    pub fn new(hotline: Hotline) -> Self {
        Self { hotline }
    }

    fn room(&self) -> Result<&KnowledgeRoom, GrpcStatus> {
        Ok(self.hotline.require_knowledge()?)
    }
}

type ArticleResult = Result<Response<pb::Article>, GrpcStatus>;

fn date_in(field: &'static str, raw: &str) -> Result<Option<NaiveDate>, InvalidInput> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| InvalidInput::new(field, format!("{raw:?} is not a date (YYYY-MM-DD)")))
}

fn date_out(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// An article's content from the request; `today` stands in for a missing effective-from.
fn content_in(raw: Option<pb::ArticleContent>, today: NaiveDate) -> Result<Content, InvalidInput> {
    let raw = raw.ok_or_else(|| InvalidInput::new("content", "give the article's content"))?;
    // Counted as sent: the domain drops blank and repeated entries (friendly to spreadsheet
    // imports), but a request of 10,000 copies is not a spreadsheet, and each would be parsed.
    {
        use hotline_knowledge::domain::limits;
        for (field, sent, limit) in [
            (
                "content.alt_questions",
                raw.alt_questions.len(),
                limits::ALT_QUESTIONS,
            ),
            (
                "content.categories",
                raw.categories.len(),
                limits::CATEGORIES,
            ),
            (
                "content.territories",
                raw.territories.len(),
                limits::TERRITORIES,
            ),
        ] {
            if sent > limit {
                return Err(InvalidInput::new(
                    field,
                    format!("{sent} entries; the limit is {limit}"),
                ));
            }
        }
    }
    let owner = raw.owner_station_id.trim();
    if owner.is_empty() {
        return Err(InvalidInput::new(
            "content.owner_station_id",
            "name the unit answerable for the article (its station id)",
        ));
    }
    Ok(Content {
        title: raw.title,
        alt_questions: raw.alt_questions,
        answer: raw.answer,
        internal_note: raw.internal_note,
        categories: raw
            .categories
            .iter()
            .map(|c| CategoryCode::parse("content.categories", c))
            .collect::<Result<_, _>>()?,
        territories: raw
            .territories
            .iter()
            .map(|t| DivisionCode::parse("content.territories", t))
            .collect::<Result<_, _>>()?,
        source: Source {
            name: raw.source_name,
            number: raw.source_number,
            link: raw.source_link,
        },
        effective_from: date_in("content.effective_from", &raw.effective_from)?.unwrap_or(today),
        effective_until: date_in("content.effective_until", &raw.effective_until)?,
        owner: StationId::parse("content.owner_station_id", owner)?,
        review_on: date_in("content.review_on", &raw.review_on)?,
    })
}

fn content_out(c: &Content) -> pb::ArticleContent {
    pb::ArticleContent {
        title: c.title.clone(),
        alt_questions: c.alt_questions.clone(),
        answer: c.answer.clone(),
        internal_note: c.internal_note.clone(),
        categories: c.categories.iter().map(|c| c.as_str().to_owned()).collect(),
        territories: c
            .territories
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        source_name: c.source.name.clone(),
        source_number: c.source.number.clone(),
        source_link: c.source.link.clone(),
        effective_from: date_out(Some(c.effective_from)),
        effective_until: date_out(c.effective_until),
        owner_station_id: c.owner.to_string(),
        review_on: date_out(c.review_on),
    }
}

fn status_out(status: Status) -> i32 {
    (match status {
        Status::Draft => pb::ArticleStatus::Draft,
        Status::InReview => pb::ArticleStatus::InReview,
        Status::Published => pb::ArticleStatus::Published,
        Status::Withdrawn => pb::ArticleStatus::Withdrawn,
    }) as i32
}

fn status_in(raw: i32) -> Result<Option<Status>, InvalidInput> {
    Ok(match pb::ArticleStatus::try_from(raw) {
        Ok(pb::ArticleStatus::Unspecified) => None,
        Ok(pb::ArticleStatus::Draft) => Some(Status::Draft),
        Ok(pb::ArticleStatus::InReview) => Some(Status::InReview),
        Ok(pb::ArticleStatus::Published) => Some(Status::Published),
        Ok(pb::ArticleStatus::Withdrawn) => Some(Status::Withdrawn),
        Err(_) => {
            return Err(InvalidInput::new(
                "status",
                format!("{raw} is not an article status"),
            ))
        }
    })
}

fn version_out(v: &Version) -> pb::ArticleVersion {
    pb::ArticleVersion {
        number: v.number,
        content: Some(content_out(&v.content)),
        author: v.author.to_string(),
        created_at: time_out(Some(v.created_at)),
    }
}

fn article_out(a: &Article) -> pb::Article {
    let live_differs = a.live.as_ref().filter(|l| l.number != a.latest.number);
    pb::Article {
        id: a.id.to_string(),
        external_key: a.external_key.clone().unwrap_or_default(),
        status: status_out(a.status),
        version: a.latest.number,
        content: Some(content_out(&a.latest.content)),
        live_version: a.live_version().unwrap_or(0),
        live: live_differs.map(|l| content_out(&l.content)),
        created_at: time_out(Some(a.created_at)),
        updated_at: time_out(Some(a.updated_at)),
        versions: Vec::new(),
        history: Vec::new(),
        due_reasons: Vec::new(),
    }
}

/// Operators and station staff read what callers are read: the live version only.
fn reads_live_only(who: &Principal) -> bool {
    matches!(who.role, Role::Operator | Role::StationStaff)
}

fn article_id(raw: &str) -> Result<ArticleId, GrpcStatus> {
    ArticleId::parse("article_id", raw).map_err(invalid)
}

fn expected(raw: u32) -> Result<u32, GrpcStatus> {
    if raw == 0 {
        return Err(invalid(InvalidInput::new(
            "expected_version",
            "give the version you read (articles are never changed blind)",
        )));
    }
    Ok(raw)
}

fn due_reason(reason: &DueReason) -> String {
    match reason {
        DueReason::ReviewDate(on) => format!("复核日期已到 review date {on}"),
        DueReason::Expired(until) => format!("已过有效期 effective until {until}"),
        DueReason::Feedback {
            did_not_fit,
            dissatisfied,
        } => format!(
            "反馈 feedback: {did_not_fit} did not fit, {dissatisfied} dissatisfied callbacks"
        ),
    }
}

/// A review step on an article, with who may take it.
#[derive(Debug, Clone, Copy)]
enum Step {
    Submit,
    Approve,
    Reject,
    Withdraw,
}

impl Step {
    fn roles(self) -> &'static [Role] {
        match self {
            Step::Submit | Step::Withdraw => &[Role::KnowledgeEditor, Role::Supervisor],
            Step::Approve | Step::Reject => &[Role::Supervisor],
        }
    }
}

impl KnowledgeApi {
    /// One review step: the version read is required, the article must be in the caller's
    /// territory, and the lifecycle decides the rest.
    async fn step(&self, request: Request<pb::ArticleActionRequest>, step: Step) -> ArticleResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = article_id(&req.article_id)?;
        let version = expected(req.expected_version)?;
        self.managed(&who, step.roles(), id).await?;
        let (service, staff) = (self.room()?.service(), staff_of(&who)?);
        let article = match step {
            Step::Submit => service.submit(&staff, id, version).await,
            Step::Approve => service.approve(&staff, id, version).await,
            Step::Reject => service.reject(&staff, id, version, &req.reason).await,
            Step::Withdraw => service.withdraw(&staff, id, version, &req.reason).await,
        }
        .map_err(RouterError::from)?;
        Ok(Response::new(article_out(&article)))
    }

    /// Reads the article and checks that `who` (one of `roles`) manages its territory.
    async fn managed(
        &self,
        who: &Principal,
        roles: &[Role],
        id: ArticleId,
    ) -> Result<Article, GrpcStatus> {
        let article = self
            .room()?
            .service()
            .get(id)
            .await
            .map_err(RouterError::from)?;
        may_manage(who, roles, &article.latest.content)?;
        Ok(article)
    }
}

#[tonic::async_trait]
impl knowledge_server::Knowledge for KnowledgeApi {
    async fn search_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, GrpcStatus> {
        let _who = principal(&request)?;
        let req = request.into_inner();
        let room = self.room()?;
        let text = hotline_core::ticket::optional_text(
            "text",
            &req.text,
            hotline_core::ticket::TEXT_MAX_CHARS,
        )
        .map_err(invalid)?;
        let limit = match req.limit {
            0 => SEARCH_DEFAULT,
            n if n > SEARCH_MAX => {
                return Err(invalid(InvalidInput::new(
                    "limit",
                    format!("at most {SEARCH_MAX}"),
                )))
            }
            n => n,
        };
        // A filter, as on an article: at most as many categories as an article may carry.
        let most = hotline_knowledge::domain::limits::CATEGORIES;
        if req.categories.len() > most {
            return Err(invalid(InvalidInput::new(
                "categories",
                format!("{} categories; the limit is {most}", req.categories.len()),
            )));
        }
        let categories: Vec<CategoryCode> = req
            .categories
            .iter()
            .map(|c| CategoryCode::parse("categories", c))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        let division =
            convert::division_code("division_code", &req.division_code).map_err(invalid)?;
        let on = date_in("on_date", &req.on_date)
            .map_err(invalid)?
            .unwrap_or_else(|| room.today());
        let found = match categories.as_slice() {
            [] => {
                room.suggest(&text, None, division.as_ref(), on, limit as usize)
                    .await?
            }
            // Several categories: a filter, not a preference.
            _ => {
                let hits = room
                    .sync()
                    .index()
                    .search(&hotline_knowledge::SearchRequest {
                        text: &text,
                        categories: &categories,
                        territory: division.as_ref(),
                        on,
                        limit: limit as usize,
                    })
                    .map_err(RouterError::from)?;
                room.live_suggestions(hits, None, limit as usize).await?
            }
        };
        Ok(Response::new(pb::SearchArticlesResponse {
            articles: found.iter().map(suggestion_out).collect(),
        }))
    }

    async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> ArticleResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = article_id(&req.article_id)?;
        let service = self.room()?.service();
        let article = service.get(id).await.map_err(RouterError::from)?;
        if reads_live_only(&who) {
            // What callers are read, nothing of drafts or reviews.
            let Some(live) = &article.live else {
                return Err(RouterError::NotFound(format!("no published article {id}")).into());
            };
            let mut out = article_out(&article);
            out.version = live.number;
            out.content = Some(content_out(&live.content));
            out.live = None;
            return Ok(Response::new(out));
        }
        let mut out = article_out(&article);
        if req.include_history {
            out.versions = service
                .versions(id)
                .await
                .map_err(RouterError::from)?
                .iter()
                .map(version_out)
                .collect();
            out.history = service
                .history(id)
                .await
                .map_err(RouterError::from)?
                .iter()
                .map(|h| pb::ArticleHistoryEntry {
                    action: h.action.code().to_owned(),
                    version: h.version,
                    actor: h.actor.to_string(),
                    at: time_out(Some(h.at)),
                    note: h.note.clone(),
                })
                .collect();
        }
        Ok(Response::new(out))
    }

    async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> ArticleResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let room = self.room()?;
        let content = content_in(req.content, room.today()).map_err(invalid)?;
        may_manage(&who, &[Role::KnowledgeEditor], &content)?;
        let key = Some(req.external_key).filter(|k| !k.trim().is_empty());
        let article = room
            .service()
            .create(&staff_of(&who)?, content, key)
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(article_out(&article)))
    }

    async fn update_article(&self, request: Request<pb::UpdateArticleRequest>) -> ArticleResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = article_id(&req.article_id)?;
        let version = expected(req.expected_version)?;
        let room = self.room()?;
        let content = content_in(req.content, room.today()).map_err(invalid)?;
        // Both what it was and what it becomes must be the editor's territory.
        self.managed(&who, &[Role::KnowledgeEditor], id).await?;
        may_manage(&who, &[Role::KnowledgeEditor], &content)?;
        let article = room
            .service()
            .update(&staff_of(&who)?, id, version, content)
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(article_out(&article)))
    }

    async fn submit_article(&self, request: Request<pb::ArticleActionRequest>) -> ArticleResult {
        self.step(request, Step::Submit).await
    }

    async fn approve_article(&self, request: Request<pb::ArticleActionRequest>) -> ArticleResult {
        self.step(request, Step::Approve).await
    }

    async fn reject_article(&self, request: Request<pb::ArticleActionRequest>) -> ArticleResult {
        self.step(request, Step::Reject).await
    }

    async fn withdraw_article(&self, request: Request<pb::ArticleActionRequest>) -> ArticleResult {
        self.step(request, Step::Withdraw).await
    }

    async fn list_articles(
        &self,
        request: Request<pb::ListArticlesRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, GrpcStatus> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let limit = match req.limit {
            0 => LIST_DEFAULT,
            n if n > LIST_MAX => {
                return Err(invalid(InvalidInput::new(
                    "limit",
                    format!("at most {LIST_MAX}"),
                )))
            }
            n => n,
        } as usize;
        let status = status_in(req.status).map_err(invalid)?;
        let articles = self
            .room()?
            .service()
            .store()
            .list(status)
            .await
            .map_err(RouterError::from)?;
        let articles = articles
            .iter()
            .filter(|a| concerns(&who, &a.latest.content.territories))
            .filter(|a| !reads_live_only(&who) || a.live.is_some())
            .take(limit)
            .map(article_out)
            .collect();
        Ok(Response::new(pb::ListArticlesResponse { articles }))
    }

    async fn list_due_for_review(
        &self,
        request: Request<pb::ListDueForReviewRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, GrpcStatus> {
        let who = principal(&request)?;
        let room = self.room()?;
        let due = room
            .service()
            .review_due(room.today())
            .await
            .map_err(RouterError::from)?;
        let articles = due
            .iter()
            .filter(|d| concerns(&who, &d.article.latest.content.territories))
            .map(|d| {
                let mut out = article_out(&d.article);
                out.due_reasons = d.reasons.iter().map(due_reason).collect();
                out
            })
            .collect();
        Ok(Response::new(pb::ListArticlesResponse { articles }))
    }

    async fn report_misfit(
        &self,
        request: Request<pb::ReportMisfitRequest>,
    ) -> Result<Response<pb::ReportMisfitResponse>, GrpcStatus> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let article = article_ref_in("article", req.article.as_ref())
            .map_err(invalid)?
            .ok_or_else(|| {
                invalid(InvalidInput::new(
                    "article",
                    "name the article that did not fit",
                ))
            })?;
        let ticket = match req.ticket_id.trim() {
            "" => None,
            raw => {
                let id = convert::ticket_id("ticket_id", raw).map_err(invalid)?;
                // Only a ticket the operator may see (NOT_FOUND otherwise).
                Some(self.hotline.get_as(&who, id).await?.id.to_string())
            }
        };
        let room = self.room()?;
        let recorded = room
            .service()
            .record_feedback(Feedback {
                article: ArticleId::parse("article", &article.id).map_err(invalid)?,
                version: article.version,
                kind: FeedbackKind::DidNotFit,
                ticket,
                staff: Some(staff_of(&who)?),
                note: req.note,
                at: self.hotline.now(),
            })
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(pb::ReportMisfitResponse { recorded }))
    }

    async fn draft_from_reply(&self, request: Request<pb::DraftFromReplyRequest>) -> ArticleResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = convert::ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let ticket = self.hotline.get_as(&who, id).await?;
        let reply = ticket
            .reply
            .as_ref()
            .map(|r| r.public_reply.trim())
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                RouterError::Precondition(format!(
                    "ticket {id} has no public reply from a station to draft from"
                ))
            })?;
        let category = ticket.category.clone().ok_or_else(|| {
            RouterError::Precondition(format!(
                "ticket {id} has no category; re-categorise it first so the article can be found"
            ))
        })?;
        let owner = ticket
            .lead_station
            .clone()
            .or_else(|| ticket.station.clone())
            .ok_or_else(|| {
                RouterError::Precondition(format!("ticket {id} has no station that replied"))
            })?;
        // The answer holds where the station answers for: the ticket's district, or the
        // supervisor's street when their territory is a street.
        let district = ticket
            .division
            .as_ref()
            .map(|d| d.as_str().chars().take(6).collect::<String>())
            .ok_or_else(|| RouterError::Precondition(format!("ticket {id} has no territory")))?;
        let territory = match &who.scope {
            Scope::Territory {
                territory: Territory::Division(mine),
            } if mine.as_str().len() > district.len() => mine.clone(),
            _ => DivisionCode::parse("territory", &district).map_err(invalid)?,
        };
        let title = match req.title.trim() {
            "" => ticket
                .text
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(DRAFT_TITLE_CHARS)
                .collect(),
            title => title.to_owned(),
        };
        let room = self.room()?;
        let article = room
            .service()
            .draft_from_reply(
                &staff_of(&who)?,
                &title,
                reply,
                vec![category],
                vec![territory],
                owner,
                room.today(),
            )
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(article_out(&article)))
    }
}
