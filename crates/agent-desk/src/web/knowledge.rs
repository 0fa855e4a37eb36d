//! The knowledge base (知识库) at the desk, through the router's `Knowledge` service only:
//! - at intake, the articles the preview suggests, each answered from in one click (直办: one
//!   `SubmitTicket` that records the call and answers it from that version) or marked as not
//!   fitting the call;
//! - `/desk/knowledge`: search for everyone; for editors and supervisors the lists by status
//!   (in review is the reviewers' queue) and what is due for review;
//! - an article's page with its versions and history, and the actions of the person's role,
//!   each sent with the version on screen so a change made meanwhile fails instead of being
//!   overwritten;
//! - a supervisor turns a station's public reply into a draft article.
//!
//! The router decides who may do what; the desk only leaves out the buttons that cannot work.
//! Article text is the editors' and, through drafts from replies, the citizens': every field is
//! escaped by the templates. The one exception is the search snippet, which the router has
//! already escaped and marked up with `<b>` (see [`snippet`]).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_client::KnowledgeClient;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::shortcuts::key;
use super::{
    accepted_page, banner_with, csrf_ok, expired, forbidden, layout, respond, submit_answered,
    ticket_view, to_login, CallForm, Desk, DeskSession, Outcome,
};
use crate::render::time_human;

/// The preview shows this many suggestions at most (the router sends no more than 3 either).
const SUGGESTED: usize = 3;
/// Answers the call from the first suggestion.
pub const DIRECT_KEY: &str = "Alt+Z";
const SEARCH_LIMIT: u32 = 20;
const LIST_LIMIT: u32 = 200;

const EDITOR: &str = "knowledge_editor";
const SUPERVISOR: &str = "supervisor";

/// Editors write (create, edit, submit, withdraw).
fn writes(session: &DeskSession) -> bool {
    session.role == EDITOR
}

/// Supervisors review (approve, reject, withdraw) and draft from replies.
fn reviews(session: &DeskSession) -> bool {
    session.role == SUPERVISOR
}

/// Those who see drafts, the review queue and the due list, not only what callers are read.
fn manages(session: &DeskSession) -> bool {
    writes(session) || reviews(session)
}

/// What a router error means on an article page. The ticket pages' words (someone acted on
/// the ticket) would be wrong here.
fn hint(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Aborted => {
            "条目已被他人修改，以下为最新版本，请核对后再操作 Someone changed the article first: \
             below is the article as it is now; check it and decide again."
        }
        tonic::Code::FailedPrecondition => {
            "条目当前状态不适用此操作 The article is not at a stage where this applies; below is \
             the article as it is now."
        }
        tonic::Code::InvalidArgument => "",
        other => super::hint(other),
    }
}

/// What a failed 直办 means: the suggestion on screen is out of date.
fn direct_hint(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::FailedPrecondition => {
            "该条目在建议后已撤回或更新，请按最新建议重新选择；来电内容已保留 The article was \
             withdrawn or changed after it was suggested: go back and pick from the suggestions as \
             they are now; the call is kept."
        }
        other => super::hint(other),
    }
}

fn status_label(status: i32) -> &'static str {
    match pb::ArticleStatus::try_from(status) {
        Ok(pb::ArticleStatus::Draft) => "草稿 draft",
        Ok(pb::ArticleStatus::InReview) => "待审核 in review",
        Ok(pb::ArticleStatus::Published) => "已发布 published",
        Ok(pb::ArticleStatus::Withdrawn) => "已撤回 withdrawn",
        _ => "未知 unknown",
    }
}

fn action_label(action: &str) -> &str {
    match action {
        "created" => "创建 created",
        "edited" => "修改 edited",
        "submitted" => "提交审核 submitted",
        "approved" => "发布 approved",
        "rejected" => "退回 rejected",
        "withdrawn" => "撤回 withdrawn",
        other => other,
    }
}

/// The lists an editor or supervisor can open, by status.
const LISTS: [(&str, pb::ArticleStatus, &str); 4] = [
    ("draft", pb::ArticleStatus::Draft, "草稿 Drafts"),
    ("in_review", pb::ArticleStatus::InReview, "待审核 In review"),
    (
        "published",
        pb::ArticleStatus::Published,
        "已发布 Published",
    ),
    (
        "withdrawn",
        pb::ArticleStatus::Withdrawn,
        "已撤回 Withdrawn",
    ),
];

/// An article version as a form sends it: `<id>:<version>`.
fn ref_value(article: &pb::ArticleRef) -> String {
    format!("{}:{}", article.article_id, article.version)
}

/// The article version a button sent; `None` unless it names an id and a version above 0.
fn article_ref(raw: &str) -> Option<pb::ArticleRef> {
    let (id, version) = raw.trim().rsplit_once(':')?;
    let version: u32 = version.parse().ok().filter(|v| *v > 0)?;
    (!id.is_empty()).then(|| pb::ArticleRef {
        article_id: id.to_owned(),
        version,
    })
}

fn article_url(id: &str) -> String {
    format!("/desk/knowledge/{id}")
}

/// The router's snippet: HTML-escaped by the router, with the matched words in `<b>`. Passed
/// through as markup only while it keeps to that; anything else that looks like a tag means
/// it was not escaped, and the whole snippet is shown as text instead.
pub fn snippet(html: &str) -> Markup {
    let without_bold = html.replace("<b>", "").replace("</b>", "");
    if without_bold.contains(['<', '>']) {
        html! { (html) }
    } else {
        PreEscaped(html.to_owned())
    }
}

// ---------------------------------------------------------------- intake

/// The preview's knowledge section: the best articles for what was typed, each with what to
/// read out, 直办 (a submit of the call form, so the call and its answer are one request) and
/// "did not fit" (a form of its own, swapped by htmx for the acknowledgement).
pub(super) fn suggestions(session: &DeskSession, articles: &[pb::ArticleSuggestion]) -> Markup {
    html! {
        section #knowledge aria-label="知识库 Knowledge" {
            h3 { "知识库 Knowledge" }
            @if articles.is_empty() {
                p.muted #no-articles { "没有适用的知识条目 No article fits what was typed." }
            }
            @for (i, a) in articles.iter().take(SUGGESTED).enumerate() {
                @let article = a.article.clone().unwrap_or_default();
                div.suggestion data-article=(article.article_id) data-version=(article.version) {
                    p.suggestion-title {
                        a href=(article_url(&article.article_id)) target="_blank" { strong { (a.title) } }
                        " " span.muted { "v" (article.version) }
                        @if !a.source_number.is_empty() { " · " span.source-number { "文号 " (a.source_number) } }
                    }
                    @if !a.snippet_html.is_empty() { p.snippet { (snippet(&a.snippet_html)) } }
                    details.answer {
                        summary { "答复口径 Answer to read out" }
                        p.answer-text { (a.answer) }
                    }
                    div.suggestion-actions {
                        button.direct type="submit" form="call" formaction="/desk/intake/answer-article"
                            name="article" value=(ref_value(&article))
                            data-shortcut=[(i == 0).then_some(DIRECT_KEY)] {
                            "直办 Answer with this" @if i == 0 { " " (key(DIRECT_KEY)) }
                        }
                        form.misfit method="post" action="/desk/knowledge/misfit"
                            hx-post="/desk/knowledge/misfit" hx-swap="outerHTML" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            input type="hidden" name="article" value=(ref_value(&article));
                            button.secondary type="submit" { "不适用 Did not fit" }
                        }
                    }
                }
            }
        }
    }
}

/// 直办 from a suggestion: the call recorded and answered from that article version in one
/// `SubmitTicket`, so no ticket is left half done when the article changed meanwhile (the
/// router refuses the whole request, and the call's draft stays in the browser).
pub(super) async fn answer_article(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let Some(article) = article_ref(&form.article) else {
        return (
            StatusCode::BAD_REQUEST,
            "name the article as <id>:<version>",
        )
            .into_response();
    };
    let answer = pb::DirectAnswer {
        article: Some(article.clone()),
        // The article's answer as published: what the operator read out.
        answer: String::new(),
    };
    submit_answered(
        &desk,
        &headers,
        &form,
        answer,
        direct_hint,
        |session, ticket| {
            // What the router recorded wins over what the button asked for.
            let from = ticket.answered_from.clone().unwrap_or(article);
            accepted_page(session, ticket, answered_markup(ticket, &from))
        },
    )
    .await
}

fn answered_markup(ticket: &pb::Ticket, from: &pb::ArticleRef) -> Markup {
    html! {
        div.banner.info #answered-from role="status" {
            "已直办 Answered from article "
            a href=(article_url(&from.article_id)) { (from.article_id) }
            " 第 " (from.version) " 版 (v" (from.version) ")"
        }
        @if ticket.stage == pb::Stage::AwaitingCallback as i32 {
            p #callback-due { "待回访 The centre will call the caller back about this answer." }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct MisfitForm {
    csrf: String,
    #[serde(default)]
    article: String,
    #[serde(default)]
    ticket_id: String,
    #[serde(default)]
    note: String,
}

/// "This answer did not fit": feedback for the editors, acknowledged in place.
pub(super) async fn misfit(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<MisfitForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let Some(article) = article_ref(&form.article) else {
        return (
            StatusCode::BAD_REQUEST,
            "name the article as <id>:<version>",
        )
            .into_response();
    };
    let answer = KnowledgeClient::new(desk.conn(&session))
        .report_misfit(pb::ReportMisfitRequest {
            article: Some(article),
            ticket_id: form.ticket_id.trim().to_owned(),
            note: form.note.trim().to_owned(),
        })
        .await;
    let markup = match answer {
        Ok(r) => html! {
            span.misfit-done role="status" {
                @if r.into_inner().recorded { "已反馈 reported" } @else { "已反馈过 already reported" }
            }
        },
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner_with(&status, hint(status.code())),
    };
    Html(markup.into_string()).into_response()
}

// ---------------------------------------------------------------- search and lists

#[derive(Deserialize, Default)]
pub(super) struct KnowledgeQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    division: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn knowledge_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<KnowledgeQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let mut client = KnowledgeClient::new(desk.conn(&session));
    let text = query.q.trim();
    let found = if text.is_empty() {
        None
    } else {
        let answer = client
            .search_articles(pb::SearchArticlesRequest {
                text: text.to_owned(),
                division_code: query.division.trim().to_owned(),
                limit: SEARCH_LIMIT,
                ..Default::default()
            })
            .await;
        match answer {
            Ok(r) => Some(Ok(r.into_inner().articles)),
            Err(status) if expired(&status) => return to_login("expired"),
            Err(status) => Some(Err(status)),
        }
    };
    // The list a manager opens: their usual work first (reviewers their queue, editors their
    // drafts).
    let default_list = if reviews(&session) {
        "in_review"
    } else {
        "draft"
    };
    let list_code = LISTS
        .iter()
        .find(|(code, _, _)| *code == query.list)
        .map_or(default_list, |(code, _, _)| code);
    let (lists, due) = if manages(&session) {
        let status = LISTS
            .iter()
            .find(|(code, _, _)| *code == list_code)
            .map_or(pb::ArticleStatus::Unspecified, |(_, status, _)| *status);
        let listed = client
            .list_articles(pb::ListArticlesRequest {
                status: status as i32,
                limit: LIST_LIMIT,
            })
            .await;
        let due = client
            .list_due_for_review(pb::ListDueForReviewRequest {})
            .await;
        match (listed, due) {
            (Err(status), _) | (_, Err(status)) if expired(&status) => return to_login("expired"),
            (listed, due) => (
                Some(listed.map(|r| r.into_inner().articles)),
                Some(due.map(|r| r.into_inner().articles)),
            ),
        }
    } else {
        (None, None)
    };
    respond(Outcome::Page(layout(
        "知识库 Knowledge",
        Some(&session),
        false,
        html! {
            div.panel {
                h1 { "知识库 Knowledge base" }
                form #knowledge-search method="get" action="/desk/knowledge" {
                    label for="q" { "搜索 Search" }
                    input #q name="q" value=(query.q) placeholder="例如 物业费 e.g. what the caller asks" autofocus;
                    label for="search-division" { "来电人属地 The caller's division (empty: city-wide articles only)" }
                    input #search-division name="division" value=(query.division) placeholder="320508021";
                    input type="hidden" name="list" value=(list_code);
                    p { button type="submit" { "搜索 Search" } }
                }
                @match &found {
                    None => {}
                    Some(Err(status)) => (banner_with(status, hint(status.code()))),
                    Some(Ok(articles)) => (search_results(articles)),
                }
                @if writes(&session) {
                    p { a #new-article href="/desk/knowledge/new" { "新建条目 New article" } }
                }
            }
            @if let Some(listed) = &lists {
                div.panel {
                    nav.tabs aria-label="按状态 By status" {
                        @for (code, _, label) in LISTS {
                            @if code == list_code { strong { (label) } }
                            @else { a href=(format!("/desk/knowledge?list={code}")) { (label) } }
                            " "
                        }
                    }
                    @match listed {
                        Ok(articles) => (article_table("article-list", articles)),
                        Err(status) => (banner_with(status, hint(status.code()))),
                    }
                }
            }
            @if let Some(due) = &due {
                div.panel {
                    h2 { "待复核 Due for review" }
                    @match due {
                        Ok(articles) => (article_table("due-list", articles)),
                        Err(status) => (banner_with(status, hint(status.code()))),
                    }
                }
            }
        },
    )))
}

fn search_results(articles: &[pb::ArticleSuggestion]) -> Markup {
    html! {
        @if articles.is_empty() {
            p.muted #no-results { "没有找到 Nothing found." }
        } @else {
            ol #search-results {
                @for a in articles {
                    @let article = a.article.clone().unwrap_or_default();
                    li.found data-article=(article.article_id) {
                        a href=(article_url(&article.article_id)) { strong { (a.title) } }
                        " " span.muted { "v" (article.version) " · " (a.territories.join(" ")) }
                        @if !a.source_number.is_empty() { " · 文号 " (a.source_number) }
                        @if !a.snippet_html.is_empty() { p.snippet { (snippet(&a.snippet_html)) } }
                    }
                }
            }
        }
    }
}

fn article_table(id: &str, articles: &[pb::Article]) -> Markup {
    html! {
        @if articles.is_empty() {
            p.muted id=(id) { "没有条目 No articles." }
        } @else {
            table id=(id) {
                thead { tr { th { "标题 Title" } th { "状态 Status" } th { "版本 Version" } th { "适用区域 Territories" } th { "责任单位 Owner" } th { "更新 Updated" } } }
                tbody {
                    @for a in articles {
                        @let content = a.content.clone().unwrap_or_default();
                        tr.article-row data-article=(a.id) {
                            td {
                                a href=(article_url(&a.id)) { (content.title) }
                                @for reason in &a.due_reasons { br; span.due-reason { (reason) } }
                            }
                            td { (status_label(a.status)) }
                            td { "v" (a.version) @if a.live_version > 0 && a.live_version != a.version { " " span.muted { "(在用 live v" (a.live_version) ")" } } }
                            td { (content.territories.join(" ")) }
                            td { (content.owner_station_id) }
                            td { (time_human(&a.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- one article

#[derive(Deserialize, Default)]
pub(super) struct ArticlePageQuery {
    #[serde(default)]
    saved: String,
}

pub(super) async fn article_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ArticlePageQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    // After a create or an edit the browser is sent here (a reload must not send it again).
    let notice = match query.saved.as_str() {
        "created" => Some("已创建草稿 Draft created"),
        "edited" => Some("已保存为新版本（草稿） Saved as a new version (draft)"),
        "drafted" => Some("已由答复生成草稿 Draft made from the reply"),
        _ => None,
    }
    .map(|done| html! { div.banner.info #done role="status" { (done) } });
    respond(article_view(&desk, &session, &id, notice).await)
}

async fn article_view(
    desk: &Desk,
    session: &DeskSession,
    id: &str,
    notice: Option<Markup>,
) -> Outcome {
    let answer = KnowledgeClient::new(desk.conn(session))
        .get_article(pb::GetArticleRequest {
            article_id: id.to_owned(),
            include_history: true,
        })
        .await;
    let article = match answer {
        Ok(r) => r.into_inner(),
        Err(status) if expired(&status) => return Outcome::Login("expired"),
        Err(status) => {
            return Outcome::Page(layout(
                "知识条目 Article",
                Some(session),
                false,
                html! { @if let Some(n) = notice { (n) } (banner_with(&status, hint(status.code()))) },
            ))
        }
    };
    let content = article.content.clone().unwrap_or_default();
    Outcome::Page(layout(
        "知识条目 Article",
        Some(session),
        false,
        html! {
            @if let Some(n) = notice { (n) }
            div.panel #article data-article=(article.id) data-version=(article.version) {
                h1 { (content.title) }
                p {
                    strong #article-status { (status_label(article.status)) }
                    " · v" span #article-version { (article.version) }
                    " · 在用版本 live: "
                    span #live-version { @if article.live_version > 0 { "v" (article.live_version) } @else { "无 none" } }
                    " · " span.muted #article-id { (article.id) }
                }
                (content_table(&content))
                @if let Some(live) = &article.live {
                    h2 { "在用版本 v" (article.live_version) " The version callers are read meanwhile" }
                    (content_table(live))
                }
                (article_actions(session, &article))
                @if !article.versions.is_empty() {
                    h2 { "版本 Versions" }
                    table #versions {
                        thead { tr { th { "版本 Version" } th { "作者 Author" } th { "时间 At" } th { "标题 Title" } } }
                        tbody {
                            @for v in &article.versions {
                                tr {
                                    td { "v" (v.number) @if v.number == article.live_version { " " span.live-version { "在用 live" } } }
                                    td { (v.author) }
                                    td { (time_human(&v.created_at)) }
                                    td { (v.content.as_ref().map(|c| c.title.as_str()).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
                @if !article.history.is_empty() {
                    h2 { "历史 History" }
                    table #article-history {
                        thead { tr { th { "操作 Action" } th { "版本 Version" } th { "人员 By" } th { "时间 At" } th { "说明 Note" } } }
                        tbody {
                            @for h in &article.history {
                                tr { td { (action_label(&h.action)) } td { "v" (h.version) } td { (h.actor) } td { (time_human(&h.at)) } td { (h.note) } }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// An article's content, every field as text. A source link is a link only when it is one
/// (http or https): the router checks that too, and a `javascript:` URL must never be clickable.
fn content_table(c: &pb::ArticleContent) -> Markup {
    let link = c.source_link.trim();
    let linkable = link.starts_with("https://") || link.starts_with("http://");
    html! {
        table.article-content {
            tr { th { "同义问法 Other ways to ask" } td {
                @if c.alt_questions.is_empty() { span.muted { "—" } }
                @else { ul.alt-questions { @for q in &c.alt_questions { li { (q) } } } }
            } }
            tr { th { "答复口径 Answer" } td { p.answer-text #article-answer { (c.answer) } } }
            @if !c.internal_note.is_empty() {
                tr { th { "内部备注 Internal note" } td.internal-note { (c.internal_note) } }
            }
            tr { th { "类别 Categories" } td { (c.categories.join(" ")) } }
            tr { th { "适用区域 Territories" } td { (c.territories.join(" ")) } }
            tr { th { "依据 Source" } td {
                (c.source_name) " " span.source-number { (c.source_number) }
                @if linkable { " " a href=(link) rel="noopener noreferrer" target="_blank" { (link) } }
                @else if !link.is_empty() { " " (link) }
            } }
            tr { th { "有效期 In effect" } td {
                (c.effective_from) " — "
                @if c.effective_until.is_empty() { "撤回为止 until withdrawn" } @else { (c.effective_until) }
            } }
            tr { th { "责任单位 Owner" } td { (c.owner_station_id) } }
            tr { th { "复核日期 Review on" } td { @if c.review_on.is_empty() { "—" } @else { (c.review_on) } } }
        }
    }
}

/// The forms a person may use on the article at its status (the router still decides: a
/// supervisor's own edit, a territory not theirs). Each sends the version on screen.
fn article_actions(session: &DeskSession, article: &pb::Article) -> Markup {
    let status = pb::ArticleStatus::try_from(article.status).unwrap_or_default();
    let url = |what: &str| format!("/desk/knowledge/{}/{what}", article.id);
    let fields = html! {
        input type="hidden" name="csrf" value=(session.csrf);
        input type="hidden" name="version" value=(article.version);
    };
    html! {
        div.article-actions {
            @if writes(session) {
                p { a #edit-article href=(url("edit")) { "编辑 Edit (a new version)" } }
            }
            @if status == pb::ArticleStatus::Draft && manages(session) {
                form #submit-article method="post" action=(url("submit")) {
                    (fields)
                    button type="submit" { "提交审核 Submit for review" }
                }
            }
            @if status == pb::ArticleStatus::InReview && reviews(session) {
                form #approve-article method="post" action=(url("approve")) {
                    (fields)
                    button type="submit" { "通过并发布 Approve and publish" }
                }
                form #reject-article method="post" action=(url("reject")) {
                    (fields)
                    input name="reason" required placeholder="退回理由 Why it goes back" aria-label="退回理由 Reason";
                    button.secondary type="submit" { "退回 Reject" }
                }
            }
            // Withdrawing takes the live version off the line: only an article that has one.
            @if article.live_version > 0 && manages(session) {
                form #withdraw-article method="post" action=(url("withdraw")) {
                    (fields)
                    input name="reason" required placeholder="撤回理由 Why it comes off the line" aria-label="撤回理由 Reason";
                    button.secondary type="submit" { "撤回 Withdraw" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ArticleActForm {
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    reason: String,
}

/// The version a form was rendered from; 0 when it sent none (the router refuses that: an
/// article is never changed blind).
fn form_version(raw: &str) -> u32 {
    raw.trim().parse().unwrap_or(0)
}

pub(super) async fn article_action(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ArticleActForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let request = pb::ArticleActionRequest {
        article_id: id.clone(),
        expected_version: form_version(&form.version),
        reason: form.reason.trim().to_owned(),
    };
    let mut client = KnowledgeClient::new(desk.conn(&session));
    let (done, result) = match action.as_str() {
        "submit" => (
            "已提交审核 Submitted for review",
            client.submit_article(request).await,
        ),
        "approve" => (
            "已发布 Approved and published",
            client.approve_article(request).await,
        ),
        "reject" => (
            "已退回编辑 Sent back to the editor",
            client.reject_article(request).await,
        ),
        "withdraw" => ("已撤回 Withdrawn", client.withdraw_article(request).await),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                format!("no article action {action:?}"),
            )
                .into_response()
        }
    };
    let notice = match result {
        Ok(_) => html! { div.banner.info #done role="status" { (done) } },
        Err(status) if expired(&status) => return to_login("expired"),
        // Shown above the article as it is now, so the person sees what changed.
        Err(status) => banner_with(&status, hint(status.code())),
    };
    respond(article_view(&desk, &session, &id, Some(notice)).await)
}

// ---------------------------------------------------------------- writing

/// An article's content as the edit form sends it. Multi-valued fields are text: 同义问法 one
/// per line; categories and territories are codes, `|`- or line-separated (as in the import
/// file).
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct ArticleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    alt_questions: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    internal_note: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    territories: String,
    #[serde(default)]
    source_name: String,
    #[serde(default)]
    source_number: String,
    #[serde(default)]
    source_link: String,
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    effective_until: String,
    #[serde(default)]
    owner_station_id: String,
    #[serde(default)]
    review_on: String,
}

/// One entry per non-empty line.
fn lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Codes separated by `|`, line breaks, spaces or commas (codes hold none of them).
fn codes(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == '|' || c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A textarea's text with the browser's CRLF line breaks made plain, ends trimmed.
fn text(raw: &str) -> String {
    raw.replace("\r\n", "\n").trim().to_owned()
}

impl ArticleForm {
    fn content(&self) -> pb::ArticleContent {
        pb::ArticleContent {
            title: self.title.trim().to_owned(),
            alt_questions: lines(&self.alt_questions),
            answer: text(&self.answer),
            internal_note: text(&self.internal_note),
            categories: codes(&self.categories),
            territories: codes(&self.territories),
            source_name: self.source_name.trim().to_owned(),
            source_number: self.source_number.trim().to_owned(),
            source_link: self.source_link.trim().to_owned(),
            effective_from: self.effective_from.trim().to_owned(),
            effective_until: self.effective_until.trim().to_owned(),
            owner_station_id: self.owner_station_id.trim().to_owned(),
            review_on: self.review_on.trim().to_owned(),
        }
    }

    /// The form filled from a version, to edit it.
    fn of(content: &pb::ArticleContent, version: u32) -> Self {
        Self {
            csrf: String::new(),
            version: version.to_string(),
            title: content.title.clone(),
            alt_questions: content.alt_questions.join("\n"),
            answer: content.answer.clone(),
            internal_note: content.internal_note.clone(),
            categories: content.categories.join("|"),
            territories: content.territories.join("|"),
            source_name: content.source_name.clone(),
            source_number: content.source_number.clone(),
            source_link: content.source_link.clone(),
            effective_from: content.effective_from.clone(),
            effective_until: content.effective_until.clone(),
            owner_station_id: content.owner_station_id.clone(),
            review_on: content.review_on.clone(),
        }
    }
}

/// The article form; `categories` offers the taxonomy's codes as the editor types.
fn article_form(
    session: &DeskSession,
    action: &str,
    form: &ArticleForm,
    categories: &[pb::Category],
) -> Markup {
    html! {
        form #article-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="version" value=(form.version);
            label for="title" { "标题 Title" }
            input #title name="title" value=(form.title) required maxlength="200";
            label for="alt-questions" { "同义问法 Other ways callers ask it (one per line)" }
            textarea #alt-questions name="alt_questions" { (form.alt_questions) }
            label for="answer" { "答复口径 The answer read to the caller" }
            textarea #answer name="answer" required { (form.answer) }
            label for="internal-note" { "内部备注 Internal note (never read out)" }
            textarea #internal-note name="internal_note" { (form.internal_note) }
            label for="categories" { "类别 Categories (codes, | or one per line)" }
            input #categories name="categories" value=(form.categories) required list="category-codes"
                placeholder="CJ.WY" autocomplete="off";
            datalist #category-codes {
                @for c in categories.iter().filter(|c| !c.parent_code.is_empty()) {
                    option value=(c.code) { (c.name) }
                }
            }
            label for="territories" { "适用区域 Territories (city 4, district 6 or street 9 digits; | or one per line)" }
            input #territories name="territories" value=(form.territories) required placeholder="3205 或 320508|320571";
            label for="source-name" { "依据文件 Source document" }
            input #source-name name="source_name" value=(form.source_name);
            label for="source-number" { "文号 Document number" }
            input #source-number name="source_number" value=(form.source_number) placeholder="苏府办〔2024〕1号";
            label for="source-link" { "链接 Link (http or https)" }
            input #source-link name="source_link" type="url" value=(form.source_link);
            div.cols {
                div {
                    label for="effective-from" { "生效 Effective from (empty: today)" }
                    input #effective-from name="effective_from" type="date" value=(form.effective_from);
                }
                div {
                    label for="effective-until" { "失效 Effective until (empty: until withdrawn)" }
                    input #effective-until name="effective_until" type="date" value=(form.effective_until);
                }
            }
            label for="owner" { "责任单位 Owner (station id)" }
            input #owner name="owner_station_id" value=(form.owner_station_id) required placeholder="320508021-office";
            label for="review-on" { "复核日期 Review on" }
            input #review-on name="review_on" type="date" value=(form.review_on);
            p { button #save-article type="submit" { "保存 Save" } }
        }
    }
}

fn form_page(session: &DeskSession, title: &str, above: Markup, form: Markup) -> Response {
    respond(Outcome::Page(layout(
        title,
        Some(session),
        false,
        html! { div.panel { h1 { (title) } (above) (form) } },
    )))
}

pub(super) async fn new_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let categories = desk.categories(&session).await;
    let form = article_form(
        &session,
        "/desk/knowledge/new",
        &ArticleForm::default(),
        &categories,
    );
    form_page(&session, "新建条目 New article", html! {}, form)
}

pub(super) async fn create(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<ArticleForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let answer = KnowledgeClient::new(desk.conn(&session))
        .create_article(pb::CreateArticleRequest {
            content: Some(form.content()),
            external_key: String::new(),
        })
        .await;
    match answer {
        Ok(article) => Redirect::to(&format!(
            "{}?saved=created",
            article_url(&article.into_inner().id)
        ))
        .into_response(),
        Err(status) if expired(&status) => to_login("expired"),
        // The editor's text stays in the form, under the router's reason.
        Err(status) => {
            let categories = desk.categories(&session).await;
            form_page(
                &session,
                "新建条目 New article",
                banner_with(&status, hint(status.code())),
                article_form(&session, "/desk/knowledge/new", &form, &categories),
            )
        }
    }
}

pub(super) async fn edit_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let answer = KnowledgeClient::new(desk.conn(&session))
        .get_article(pb::GetArticleRequest {
            article_id: id.clone(),
            include_history: false,
        })
        .await;
    let article = match answer {
        Ok(r) => r.into_inner(),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => {
            return respond(
                article_view(
                    &desk,
                    &session,
                    &id,
                    Some(banner_with(&status, hint(status.code()))),
                )
                .await,
            )
        }
    };
    let categories = desk.categories(&session).await;
    let form = ArticleForm::of(&article.content.unwrap_or_default(), article.version);
    form_page(
        &session,
        "编辑条目 Edit the article",
        html! { p.muted { "保存后成为新的草稿版本；已发布的版本在审核通过前继续使用 Saving makes a new draft version; a published version stays live until the new one is approved." } },
        article_form(
            &session,
            &format!("{}/edit", article_url(&id)),
            &form,
            &categories,
        ),
    )
}

pub(super) async fn update(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ArticleForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let mut client = KnowledgeClient::new(desk.conn(&session));
    let answer = client
        .update_article(pb::UpdateArticleRequest {
            article_id: id.clone(),
            expected_version: form_version(&form.version),
            content: Some(form.content()),
        })
        .await;
    let status = match answer {
        Ok(_) => {
            return Redirect::to(&format!("{}?saved=edited", article_url(&id))).into_response()
        }
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => status,
    };
    let categories = desk.categories(&session).await;
    let mut kept = form;
    // Someone saved a version meanwhile: theirs is shown beside the editor's text, and saving
    // again (now against theirs) is a decision taken having seen it, never a blind overwrite.
    let current = if status.code() == tonic::Code::Aborted {
        client
            .get_article(pb::GetArticleRequest {
                article_id: id.clone(),
                include_history: false,
            })
            .await
            .ok()
            .map(|r| r.into_inner())
    } else {
        None
    };
    let above = html! {
        (banner_with(&status, hint(status.code())))
        @if let Some(current) = &current {
            h2 #current-version { "当前版本 v" (current.version) " The version saved meanwhile" }
            (content_table(&current.content.clone().unwrap_or_default()))
            h2 { "您的修改 Your edit" }
        }
    };
    if let Some(current) = &current {
        kept.version = current.version.to_string();
    }
    form_page(
        &session,
        "编辑条目 Edit the article",
        above,
        article_form(
            &session,
            &format!("{}/edit", article_url(&id)),
            &kept,
            &categories,
        ),
    )
}

// ---------------------------------------------------------------- tickets

/// On a ticket: the article it was answered from, linked.
pub(super) fn answered_from_row(ticket: &pb::Ticket) -> Markup {
    html! {
        @if let Some(from) = &ticket.answered_from {
            tr { th { "知识库 Answered from" } td #ticket-answered-from {
                a href=(article_url(&from.article_id)) { (from.article_id) } " v" (from.version)
            } }
        }
    }
}

/// On a ticket with a station's public reply: a supervisor turns the reply into a draft.
pub(super) fn draft_form(session: &DeskSession, ticket: &pb::Ticket) -> Markup {
    let replied = ticket
        .reply
        .as_ref()
        .is_some_and(|r| !r.public_reply.trim().is_empty());
    html! {
        @if reviews(session) && replied {
            form #draft-article-form method="post" action=(format!("/desk/tickets/{}/draft-article", ticket.id)) {
                input type="hidden" name="csrf" value=(session.csrf);
                input name="title" placeholder="条目标题（默认取诉求首行） Title (default: the request's first line)"
                    aria-label="条目标题 Title";
                button.secondary type="submit" { "存为知识草稿 Draft an article from this reply" }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct DraftForm {
    csrf: String,
    #[serde(default)]
    title: String,
}

/// DraftFromReply, then the new draft's page; a refusal is shown on the ticket.
pub(super) async fn draft_from_reply(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(ticket_id): Path<String>,
    Form(form): Form<DraftForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let answer = KnowledgeClient::new(desk.conn(&session))
        .draft_from_reply(pb::DraftFromReplyRequest {
            ticket_id: ticket_id.clone(),
            title: form.title.trim().to_owned(),
        })
        .await;
    match answer {
        Ok(article) => Redirect::to(&format!(
            "{}?saved=drafted",
            article_url(&article.into_inner().id)
        ))
        .into_response(),
        Err(status) if expired(&status) => to_login("expired"),
        Err(status) => {
            let notice = banner_with(&status, hint(status.code()));
            respond(ticket_view(&desk, &session, &ticket_id, Some(notice)).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: &str) -> DeskSession {
        DeskSession {
            login: "someone".into(),
            display_name: "某人".into(),
            role: role.into(),
            station_id: String::new(),
            access_token: String::new(),
            csrf: "token".into(),
        }
    }

    fn suggestion(title: &str, answer: &str, snippet_html: &str) -> pb::ArticleSuggestion {
        pb::ArticleSuggestion {
            article: Some(pb::ArticleRef {
                article_id: "a1".into(),
                version: 3,
            }),
            title: title.into(),
            answer: answer.into(),
            snippet_html: snippet_html.into(),
            score: 1.0,
            territories: vec!["3205".into()],
            source_number: "苏府办〔2024〕1号".into(),
        }
    }

    #[test]
    fn the_snippet_keeps_the_routers_bold_and_nothing_else() {
        assert_eq!(
            snippet("物业&lt;费&gt; <b>收费</b>标准").into_string(),
            "物业&lt;费&gt; <b>收费</b>标准"
        );
        // Not escaped by whoever made it: shown as text, tags and all.
        let raw = snippet("<b>x</b><img src=x onerror=alert(1)>").into_string();
        assert!(
            raw.starts_with("&lt;b&gt;x") && !raw.contains("<img"),
            "{raw}"
        );
    }

    #[test]
    fn suggestions_escape_the_article_and_offer_direct_answer_and_misfit() {
        let shown = suggestions(
            &session("operator"),
            &[
                suggestion(
                    "<i>物业费</i>",
                    "<script>alert(1)</script>按合同收取",
                    "<b>物业费</b>收费标准",
                ),
                suggestion("第二条", "答复", ""),
            ],
        )
        .into_string();
        assert!(
            shown.contains("&lt;script&gt;alert(1)&lt;/script&gt;按合同收取")
                && shown.contains("&lt;i&gt;物业费&lt;/i&gt;")
                && !shown.contains("<script>")
                && shown.contains("<b>物业费</b>收费标准"),
            "{shown}"
        );
        assert!(shown.contains(r#"formaction="/desk/intake/answer-article""#));
        assert!(shown.contains(r#"value="a1:3""#));
        assert!(shown.contains(r#"hx-post="/desk/knowledge/misfit""#));
        assert!(shown.contains(r#"name="csrf" value="token""#));
        // Only the first suggestion carries the shortcut.
        assert_eq!(shown.matches(DIRECT_KEY).count(), 2, "attribute and <kbd>");
        assert!(suggestions(&session("operator"), &[])
            .into_string()
            .contains("no-articles"));
    }

    #[test]
    fn an_article_version_is_named_id_colon_version() {
        let r = article_ref(" 0b1c:12 ").unwrap();
        assert_eq!((r.article_id.as_str(), r.version), ("0b1c", 12));
        assert_eq!(ref_value(&r), "0b1c:12");
        for bad in ["", "a1", "a1:", ":3", "a1:0", "a1:x", "a1:-1"] {
            assert!(article_ref(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_form_splits_lists_and_round_trips_a_version() {
        let form = ArticleForm {
            title: " 物业费收费标准 ".into(),
            alt_questions: "物业费怎么收\r\n\r\n 物业费标准是多少 \r\n".into(),
            answer: "按合同\r\n收取\r\n".into(),
            categories: "CJ.WY| CJ.GY\nCJ.AQSC".into(),
            territories: "3205|320508,320571".into(),
            owner_station_id: " 320508021-office ".into(),
            ..Default::default()
        };
        let content = form.content();
        assert_eq!(content.title, "物业费收费标准");
        assert_eq!(content.alt_questions, ["物业费怎么收", "物业费标准是多少"]);
        assert_eq!(content.answer, "按合同\n收取");
        assert_eq!(content.categories, ["CJ.WY", "CJ.GY", "CJ.AQSC"]);
        assert_eq!(content.territories, ["3205", "320508", "320571"]);
        assert_eq!(content.owner_station_id, "320508021-office");
        let again = ArticleForm::of(&content, 4);
        assert_eq!(again.version, "4");
        assert_eq!(again.content(), content);
    }

    fn article(status: pb::ArticleStatus, live_version: u32) -> pb::Article {
        pb::Article {
            id: "a1".into(),
            status: status as i32,
            version: 2,
            live_version,
            ..Default::default()
        }
    }

    #[test]
    fn each_role_sees_the_actions_it_may_take_with_the_version_on_screen() {
        let forms = |role: &str, a: &pb::Article| {
            let shown = article_actions(&session(role), a).into_string();
            let mut ids: Vec<&str> = [
                "edit-article",
                "submit-article",
                "approve-article",
                "reject-article",
                "withdraw-article",
            ]
            .into_iter()
            .filter(|id| shown.contains(&format!(r#"id="{id}""#)))
            .collect();
            ids.sort_unstable();
            if !ids.is_empty() && ids != ["edit-article"] {
                assert!(shown.contains(r#"name="version" value="2""#), "{shown}");
            }
            ids
        };
        let draft = article(pb::ArticleStatus::Draft, 0);
        let review = article(pb::ArticleStatus::InReview, 1);
        let published = article(pb::ArticleStatus::Published, 2);
        let withdrawn = article(pb::ArticleStatus::Withdrawn, 0);
        assert_eq!(forms(EDITOR, &draft), ["edit-article", "submit-article"]);
        assert_eq!(
            forms(EDITOR, &review),
            ["edit-article", "withdraw-article"],
            "an edit in review leaves the live version, which may still be withdrawn"
        );
        assert_eq!(forms(EDITOR, &withdrawn), ["edit-article"]);
        assert_eq!(
            forms(SUPERVISOR, &review),
            ["approve-article", "reject-article", "withdraw-article"]
        );
        assert_eq!(forms(SUPERVISOR, &published), ["withdraw-article"]);
        assert!(forms("operator", &published).is_empty());
        assert!(forms("operator", &draft).is_empty());
    }

    #[test]
    fn an_articles_text_and_links_are_shown_as_text() {
        let shown = content_table(&pb::ArticleContent {
            answer: "<script>alert(1)</script>".into(),
            source_link: "javascript:alert(1)".into(),
            ..Default::default()
        })
        .into_string();
        assert!(shown.contains("&lt;script&gt;") && !shown.contains("<script>"));
        assert!(!shown.contains("href=\"javascript"), "{shown}");
        let linked = content_table(&pb::ArticleContent {
            source_link: "https://www.suzhou.gov.cn/a?b=1&c=2".into(),
            ..Default::default()
        })
        .into_string();
        assert!(linked.contains(r#"href="https://www.suzhou.gov.cn/a?b=1&amp;c=2""#));
    }

    #[test]
    fn the_accepted_page_names_the_article_version_and_a_callback() {
        let mut ticket = pb::Ticket {
            id: "T1".into(),
            stage: pb::Stage::Closed as i32,
            ..Default::default()
        };
        let from = pb::ArticleRef {
            article_id: "a1".into(),
            version: 3,
        };
        let closed = answered_markup(&ticket, &from).into_string();
        assert!(
            closed.contains("a1") && closed.contains("(v3)") && !closed.contains("callback-due")
        );
        ticket.stage = pb::Stage::AwaitingCallback as i32;
        assert!(answered_markup(&ticket, &from)
            .into_string()
            .contains("callback-due"));
    }

    #[test]
    fn a_stale_direct_answer_says_to_pick_again() {
        assert!(direct_hint(tonic::Code::FailedPrecondition).contains("撤回"));
        assert!(hint(tonic::Code::Aborted).contains("最新版本"));
        assert_eq!(hint(tonic::Code::InvalidArgument), "");
        assert_eq!(
            hint(tonic::Code::PermissionDenied),
            super::super::hint(tonic::Code::PermissionDenied)
        );
    }
}
