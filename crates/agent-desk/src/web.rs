//! The web desk: server-rendered pages (maud) with htmx partials, talking to the router only
//! through its public gRPC API, like any integrator. `hotline serve` mounts it at `/desk/` on
//! its HTTP listener; `agent-desk web --server URL` runs it on its own.
//!
//! # Security
//! - Sessions live on the server; the browser holds an opaque id in an `HttpOnly`,
//!   `SameSite=Strict` cookie scoped to `/desk`. The router's tokens never reach the page.
//! - Every form carries the session's CSRF token, checked before anything is sent on.
//! - A strict Content-Security-Policy: scripts, styles and requests from the desk itself only,
//!   nothing inline, no framing. Citizen text is escaped by the templates (maud escapes).
//! - Assets (htmx, the desk's script and styles) are embedded in the binary: no CDN.
//!
//! # What is here
//! - Operators: the new-call form with a live route preview (debounced, never during IME
//!   composition), the caller's earlier tickets as the number is typed (来电弹屏), address
//!   suggestions from the Directory, live duplicates with their progress and one-click linking,
//!   one-click emergency hand-off, category / territory / station overrides, Ctrl+Enter, and the
//!   ticket number shown large.
//! - Station staff: the queue, live, sorted by deadline with countdowns and lights; the ticket
//!   page with every station action.
//! - Supervisors: work lists and the centre's actions.
//! - Everyone: one live event stream per browser ([`live`]), who else has a ticket open
//!   ([`presence`]), a shortcut list ([`shortcuts`]), a banner while the router is down.
//!
//! An expired session goes back to login, and the half-typed call stays in the browser
//! (sessionStorage). Every change is sent with the version the person saw, so of two people
//! acting at once the second is told, and shown the ticket as it is now.
//!
//! # Layout
//! - this file: sessions, CSRF, pages and their handlers;
//! - [`aliases`], learned address aliases for supervisors to confirm or reject;
//! - [`alerts`], the hotspot / surge banner on operators' and supervisors' pages;
//! - [`clocks`], countdowns and lights;
//! - [`knowledge`], the knowledge base: suggestions at intake, search, articles and review;
//! - [`live`], the event stream, `/desk/events`;
//! - [`picker`], divisions, stations and categories to pick from;
//! - [`presence`], who has a ticket open;
//! - [`shortcuts`], the keyboard shortcuts and their cheat sheet.

pub mod alerts;
pub mod aliases;
pub mod clocks;
pub mod incidents;
pub mod knowledge;
pub mod live;
pub mod picker;
pub mod presence;
pub mod shortcuts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use hotline_proto::v1 as pb;
use hotline_proto::v1::auth_client::AuthClient;
use hotline_proto::v1::directory_client::DirectoryClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use hotline_proto::v1::supervision_client::SupervisionClient;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tonic::transport::Channel;

use self::clocks::{countdown_text, countdowns};
use self::picker::Place;
use self::presence::Presence;
use self::shortcuts::{cheat_sheet, key, Page};

use crate::render::time_human;
use crate::session::{connection, Conn};
use crate::vocab;

mod board;
mod simulations;

const HTMX: &str = include_str!("../assets/vendor/htmx-2.0.11.min.js");
const DESK_JS: &str = include_str!("../assets/desk.js");
const DESK_CSS: &str = include_str!("../assets/desk.css");

/// The Content-Security-Policy of every desk response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const COOKIE: &str = "desk_session";

/// One signed-in person at one browser.
#[derive(Clone)]
struct DeskSession {
    login: String,
    display_name: String,
    role: String,
    station_id: String,
    access_token: String,
    csrf: String,
}

#[derive(Clone)]
pub struct Desk {
    channel: Channel,
    sessions: Arc<Mutex<HashMap<String, DeskSession>>>,
    presence: Arc<Presence>,
    /// The Directory's divisions, walked once (see [`picker`]).
    places: Arc<OnceCell<Vec<Place>>>,
    /// The category tree, read once; empty on a router without `ListCategories`.
    categories: Arc<OnceCell<Vec<pb::Category>>>,
    /// Where finished simulations are read from (`--simulations-dir`), if anywhere.
    simulations: Option<Arc<std::path::PathBuf>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The desk's routes, under `/desk`, speaking gRPC to the router on `channel`.
pub fn routes(channel: Channel) -> Router {
    routes_with(channel, None)
}

/// [`routes`], with the finished simulations under `simulations` shown at `/desk/simulations`.
pub fn routes_with(channel: Channel, simulations: Option<std::path::PathBuf>) -> Router {
    let desk = Desk {
        channel,
        sessions: Arc::default(),
        presence: Arc::default(),
        places: Arc::default(),
        categories: Arc::default(),
        simulations: simulations.map(Arc::new),
    };
    Router::new()
        .route("/desk", get(|| async { Redirect::to("/desk/") }))
        .route("/desk/", get(home))
        .route("/desk/login", get(login_page).post(login))
        .route("/desk/logout", post(logout))
        .route("/desk/intake", get(intake_page).post(submit))
        .route("/desk/intake/preview", post(preview))
        .route("/desk/intake/caller", get(caller_history))
        .route("/desk/intake/handoff", post(hand_off))
        .route("/desk/intake/join", post(join_incident))
        .route("/desk/intake/answer-notice", post(answer_with_notice))
        .route("/desk/incidents", get(incidents::incidents_page))
        .route("/desk/incidents/{id}", get(incidents::incident_page))
        .route(
            "/desk/incidents/{id}/{action}",
            post(incidents::incident_action),
        )
        .route(
            "/desk/intake/answer-article",
            post(knowledge::answer_article),
        )
        .route("/desk/knowledge", get(knowledge::knowledge_page))
        .route(
            "/desk/knowledge/new",
            get(knowledge::new_page).post(knowledge::create),
        )
        .route("/desk/knowledge/misfit", post(knowledge::misfit))
        .route("/desk/knowledge/{id}", get(knowledge::article_page))
        .route(
            "/desk/knowledge/{id}/edit",
            get(knowledge::edit_page).post(knowledge::update),
        )
        .route(
            "/desk/knowledge/{id}/{action}",
            post(knowledge::article_action),
        )
        .route("/desk/picker/address", get(address_suggestions))
        .route("/desk/picker/category", get(category_picker))
        .route("/desk/picker/territory", get(territory_picker))
        .route("/desk/events", get(events))
        .route("/desk/alerts", get(alerts::alerts_partial))
        .route("/desk/queue", get(queue_page))
        .route("/desk/queue/list", get(queue_list))
        .route("/desk/tickets/{id}", get(ticket_page))
        .route("/desk/tickets/{id}/viewers", get(viewers))
        .route("/desk/tickets/{id}/claim", post(claim))
        .route("/desk/tickets/{id}/sign", post(sign))
        .route(
            "/desk/tickets/{id}/draft-article",
            post(knowledge::draft_from_reply),
        )
        // Every other ticket action is one form post; the path names it (see `Act::named`).
        .route("/desk/tickets/{id}/{action}", post(ticket_action))
        .route("/desk/work/{stage}", get(work_page))
        .route("/desk/work/{stage}/list", get(work_list))
        .route("/desk/aliases", get(aliases::aliases_page))
        .route("/desk/aliases/decide", post(aliases::decide))
        .route("/desk/board", get(board::board_page))
        .route("/desk/board/at-risk", get(board::at_risk_list))
        .route("/desk/board/bulletin", get(board::bulletin))
        .route("/desk/board/{file}", get(board::export))
        .route("/desk/simulations", get(simulations::list_page))
        .route("/desk/simulations/{run}", get(simulations::run_page))
        .route("/desk/simulations/{run}/{file}", get(simulations::file))
        .route(
            "/desk/assets/htmx.js",
            get(|| async { asset("text/javascript", HTMX) }),
        )
        .route(
            "/desk/assets/desk.js",
            get(|| async { asset("text/javascript", DESK_JS) }),
        )
        .route(
            "/desk/assets/desk.css",
            get(|| async { asset("text/css", DESK_CSS) }),
        )
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(desk)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

impl Desk {
    fn session(&self, headers: &HeaderMap) -> Option<(String, DeskSession)> {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_owned())?;
        let found = self.sessions.lock().ok()?.get(&id).cloned()?;
        Some((id, found))
    }

    fn conn(&self, session: &DeskSession) -> Conn {
        connection(self.channel.clone(), Some(&session.access_token))
            .expect("a token from the router fits a header")
    }
}

/// A page, or the way back to login when the session is gone or the router no longer
/// accepts its token (the browser keeps the half-typed call).
enum Outcome {
    Page(Markup),
    Login(&'static str),
}

fn to_login(why: &str) -> Response {
    let mut response = Redirect::to(&format!("/desk/login?why={why}")).into_response();
    // htmx follows redirects inside a partial; this makes it load the login page whole.
    response.headers_mut().insert(
        "HX-Redirect",
        HeaderValue::from_str(&format!("/desk/login?why={why}")).unwrap(),
    );
    response
}

fn respond(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Page(page) => Html(page.into_string()).into_response(),
        Outcome::Login(why) => to_login(why),
    }
}

/// What a person should make of a router error, in words; empty when the message says it.
pub fn hint(code: tonic::Code) -> &'static str {
    match code {
        // Two people acted on one ticket and this one came second: the version they saw is
        // gone (ABORTED), or the other's action moved the ticket on (FAILED_PRECONDITION).
        tonic::Code::Aborted | tonic::Code::FailedPrecondition => {
            "工单已被他人处理，以下为最新状态，请核对后再操作 Someone else acted on this ticket first: \
             below is the ticket as it is now; check it and decide again."
        }
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            "服务暂不可用，正在重试；已填写的内容不会丢失 The router is unavailable; the desk keeps \
             trying, and what you typed is kept."
        }
        tonic::Code::PermissionDenied => "无权操作 You may not do this.",
        tonic::Code::NotFound => "找不到或无权查看 Not found, or not yours to see.",
        _ => "",
    }
}

/// An error from the router, as a banner a person can act on.
fn banner(status: &tonic::Status) -> Markup {
    banner_with(status, hint(status.code()))
}

/// The banner with words of the caller's choosing: [`hint`] speaks of tickets, and a page
/// about something else (a knowledge article) says what the same code means there.
fn banner_with(status: &tonic::Status, hint: &str) -> Markup {
    let (code, message) = (crate::code_name(status.code()), status.message());
    let id = match status.code() {
        tonic::Code::Aborted | tonic::Code::FailedPrecondition => "conflict",
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            "router-error"
        }
        _ => "error",
    };
    html! {
        div.banner.error id=(id) role="alert" { (code) ": " (message) @if !hint.is_empty() { br; (hint) } }
    }
}

fn expired(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unauthenticated
}

fn layout(title: &str, session: Option<&DeskSession>, clear_draft: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 12345 工作台" }
                // No inline indicator styles (the CSP refuses them); swaps settle at once, so a
                // picker redrawn under a fast keyboard user takes the next choice.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"defaultSettleDelay":0}"#;
                link rel="stylesheet" href="/desk/assets/desk.css";
                script src="/desk/assets/htmx.js" defer {}
                script src="/desk/assets/desk.js" defer {}
            }
            body data-clear-draft=[clear_draft.then_some("1")] data-role=[session.map(|s| s.role.as_str())] {
                header.bar {
                    strong { "12345 工作台" }
                    @if let Some(s) = session {
                        @if s.role == "operator" || s.role == "supervisor" { a href="/desk/intake" { "受理 Intake" } }
                        @if s.role == "station_staff" { a href="/desk/queue" { "待签收 Queue" } }
                        @if s.role == "operator" || s.role == "supervisor" {
                            a href="/desk/work/pending_dispatch" { "待派单 Triage" }
                            a href="/desk/work/awaiting_callback" { "待回访 Callbacks" }
                            a href="/desk/incidents" { "并案 Incidents" }
                        }
                        a href="/desk/board" { "看板 Board" }
                        @if s.role == "supervisor" { a href="/desk/simulations" { "模拟 Simulations" } }
                        // Everyone signed in searches the knowledge base; editors and
                        // supervisors also write and review there.
                        a href="/desk/knowledge" { "知识库 Knowledge" }
                        @if s.role == "supervisor" {
                            a href="/desk/work/pending_review" { "待审核 Review" }
                            a href="/desk/work/return_requested" { "退单审核 Returns" }
                            a href="/desk/aliases" { "地址别名 Aliases" }
                        }
                        span.who { (s.display_name) " (" (s.login) ", " (s.role) ")" }
                        form method="post" action="/desk/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.secondary type="submit" { "退出 Log out" }
                        }
                    }
                }
                // Shown by desk.js while the router cannot be reached; the desk keeps retrying.
                div.banner.error #router-down role="alert" hidden {
                    "路由服务暂时无法连接，正在重试；已填写的内容会保留 The router cannot be reached: retrying. What you typed is kept."
                }
                // Surges on now (Kpis.ListAlerts), for those who take the calls and those who
                // supervise: asked for on load and every 30 s.
                @if let Some(s) = session {
                    @if s.role == "operator" || s.role == "supervisor" {
                        div #hotspot-alerts hx-get="/desk/alerts" hx-trigger="load, every 30s" {}
                    }
                }
                main { (body) }
            }
        }
    }
}

// ---------------------------------------------------------------- login

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
}

async fn home(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    match desk.session(&headers) {
        Some((_, s)) if s.role == "station_staff" => Redirect::to("/desk/queue").into_response(),
        Some((_, s)) if s.role == "supervisor" => {
            Redirect::to("/desk/work/pending_dispatch").into_response()
        }
        Some((_, s)) if s.role == "knowledge_editor" => {
            Redirect::to("/desk/knowledge").into_response()
        }
        Some(_) => Redirect::to("/desk/intake").into_response(),
        None => Redirect::to("/desk/login").into_response(),
    }
}

async fn login_page(axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let expired = query.as_deref().is_some_and(|q| q.contains("why=expired"));
    respond(Outcome::Page(login_markup(expired.then_some(
        "登录已过期，请重新登录；未提交的来电内容已保留 Your session ended: log in again; the call you were typing is kept.",
    ))))
}

fn login_markup(message: Option<&str>) -> Markup {
    layout(
        "登录 Log in",
        None,
        false,
        html! {
            div.panel {
                h1 { "登录 Log in" }
                @if let Some(m) = message { div.banner.info role="status" { (m) } }
                form method="post" action="/desk/login" {
                    label for="login" { "账号 Login" }
                    input #login name="login" autocomplete="username" required autofocus;
                    label for="password" { "密码 Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    p { button type="submit" { "登录 Log in" } }
                }
            }
        },
    )
}

async fn login(State(desk): State<Desk>, Form(form): Form<LoginForm>) -> Response {
    let answer = AuthClient::new(desk.channel.clone())
        .login(pb::LoginRequest {
            login: form.login.clone(),
            password: form.password,
        })
        .await;
    let tokens = match answer {
        Ok(r) => r.into_inner(),
        Err(status) => {
            let mut page = Html(
                layout(
                    "登录 Log in",
                    None,
                    false,
                    html! {
                        (banner(&status))
                        (login_markup(None))
                    },
                )
                .into_string(),
            )
            .into_response();
            *page.status_mut() = StatusCode::UNAUTHORIZED;
            return page;
        }
    };
    let account = tokens.account.unwrap_or_default();
    let id = random_token();
    let session = DeskSession {
        login: account.login,
        display_name: account.display_name,
        role: account.role,
        station_id: account.station_id,
        access_token: tokens.access_token,
        csrf: random_token(),
    };
    if let Ok(mut sessions) = desk.sessions.lock() {
        sessions.insert(id.clone(), session);
    }
    let mut response = Redirect::to("/desk/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{COOKIE}={id}; Path=/desk; HttpOnly; SameSite=Strict"
        ))
        .expect("an ASCII cookie"),
    );
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

fn csrf_ok(session: &DeskSession, given: &str) -> bool {
    // Equal length first, then every byte: no early exit on the first difference.
    session.csrf.len() == given.len()
        && session
            .csrf
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "the form's CSRF token is missing or stale: reload the page",
    )
        .into_response()
}

async fn logout(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some((id, session)) = desk.session(&headers) {
        if !csrf_ok(&session, &form.csrf) {
            return forbidden();
        }
        if let Ok(mut sessions) = desk.sessions.lock() {
            sessions.remove(&id);
        }
    }
    let mut response = Redirect::to("/desk/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("desk_session=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

// ---------------------------------------------------------------- operator

#[derive(Deserialize, Default)]
struct CallForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    confidential: Option<String>,
    // Overrides (改派): a category, a territory (the deepest of the three), a station.
    #[serde(default)]
    category: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    street: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    station_id: String,
    // One-click settlements from the preview.
    #[serde(default)]
    service: String,
    /// 并案: link the call to this ticket's incident.
    #[serde(default)]
    of_ticket_id: String,
    /// 直办 with the incident's notice: what the operator read out.
    #[serde(default)]
    answer: String,
    /// 直办 from a suggested article: `<id>:<version>` (see [`knowledge`]).
    #[serde(default)]
    article: String,
}

impl CallForm {
    fn caller(&self) -> pb::Caller {
        pb::Caller {
            name: self.name.trim().to_owned(),
            phone: self.phone.trim().to_owned(),
            confidential: self.confidential.is_some(),
            masked: false,
        }
    }

    fn division(&self) -> String {
        let street = picker::under(&self.street, &self.district);
        let community = picker::under(&self.community, street);
        picker::deepest(&self.district, street, community)
            .unwrap_or_default()
            .to_owned()
    }

    fn station(&self) -> &str {
        self.station_id.trim()
    }

    /// The request as recorded. `hold`: the operator settles it here (hand-off, duplicate,
    /// dispatch by hand), so the router must not route it.
    fn submission(&self, hold: bool) -> pb::SubmitTicketRequest {
        pb::SubmitTicketRequest {
            request_id: format!("desk-{}", random_token()),
            channel: pb::Channel::Hotline as i32,
            caller: Some(self.caller()),
            text: self.text.clone(),
            address: self.address.clone(),
            category: self.category.trim().to_owned(),
            division_code: self.division(),
            hold,
            ..Default::default()
        }
    }
}

/// A ticket's progress in the words an operator reads to a caller (Art. 11: a repeated
/// request is linked to the live one, and the caller is told how it is going).
pub fn progress_text(t: &pb::Ticket) -> String {
    let mut parts = vec![format!(
        "您反映的问题已于 {} 受理（工单 {}）",
        time_human(&t.created_at),
        t.id
    )];
    let stage = pb::Stage::try_from(t.stage).unwrap_or(pb::Stage::Unspecified);
    let station = if t.station_id.is_empty() {
        String::new()
    } else {
        format!("，承办单位 {}", t.station_id)
    };
    parts.push(match stage {
        pb::Stage::Accepted | pb::Stage::PendingDispatch => "目前正在派单".to_owned(),
        pb::Stage::AwaitingSignFor => format!("已派至承办单位，等待签收{station}"),
        pb::Stage::InProgress | pb::Stage::ReturnRequested => format!("正在办理中{station}"),
        pb::Stage::PendingReview => format!("承办单位已办结答复，正在审核{station}"),
        pb::Stage::AwaitingCallback => "已办结，等待回访".to_owned(),
        pb::Stage::Merged => "已并入同一事件，由牵头工单统一办理答复".to_owned(),
        pb::Stage::Closed => "已结案".to_owned(),
        pb::Stage::Unspecified => "状态未知".to_owned(),
    });
    if !t.contacted_at.is_empty() {
        parts.push(format!(
            "承办单位已于 {} 与来电人联系",
            time_human(&t.contacted_at)
        ));
    }
    let due = t.deadlines.clone().unwrap_or_default();
    if !due.resolution.is_empty() && stage != pb::Stage::Closed {
        parts.push(format!("办结时限 {}", time_human(&due.resolution)));
    }
    if let Some(reply) = t.reply.as_ref().filter(|r| !r.public_reply.is_empty()) {
        parts.push(format!("答复：{}", reply.public_reply));
    }
    parts.join("；") + "。"
}

async fn intake_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let categories = desk.categories(&session).await;
    let districts = desk.divisions_under(&session, "").await;
    respond(Outcome::Page(layout(
        "受理 Intake",
        Some(&session),
        false,
        html! {
            div.cols {
                div.panel {
                    h1 { "新来电 New call" }
                    // One preview in flight: a newer one aborts the older, so a slow answer
                    // (a restored draft's, say) never lands over the answer to what was typed
                    // since.
                    form #call method="post" action="/desk/intake"
                        hx-post="/desk/intake/preview" hx-trigger="desk:preview" hx-target="#preview" hx-swap="innerHTML"
                        hx-sync="this:replace" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for="phone" data-shortcut="Alt+P" { "来电号码 Phone " (key("Alt+P")) }
                        input #phone name="phone" inputmode="tel" autocomplete="off"
                            hx-get="/desk/intake/caller" hx-trigger="input changed delay:300ms, desk:lookup"
                            hx-target="#caller-history" hx-swap="innerHTML" hx-sync="this:replace";
                        label for="name" { "姓名 Name" }
                        input #name name="name" autocomplete="off";
                        label for="text" { "诉求内容 What the caller says" }
                        textarea #text name="text" required {}
                        label for="address" data-shortcut="Alt+A" { "地址 Address " (key("Alt+A")) }
                        div.combo {
                            input #address name="address" autocomplete="off" role="combobox"
                                aria-autocomplete="list" aria-expanded="false" aria-controls="address-options"
                                hx-get="/desk/picker/address" hx-trigger="desk:suggest" hx-target="#address-options"
                                hx-swap="innerHTML" hx-sync="this:replace";
                            ul #address-options role="listbox" aria-label="地址建议 Address suggestions" {}
                        }
                        label { input type="checkbox" name="confidential" value="1"; " 保密 Confidential (always offer for 举报)" }
                        details #overrides {
                            summary data-shortcut="Alt+O" { "改派 Overrides " (key("Alt+O")) }
                            p.muted { "指定后路由以此为准，并记入路由说明 What you pick here wins over the router and is recorded in the route explanation." }
                            (category_fields(&categories, "", ""))
                            (territory_fields(&districts, &[], &[], &[], "", "", "", ""))
                        }
                        p {
                            button #submit type="submit" data-shortcut="Ctrl+Enter" { "提交 Submit " (key("Ctrl+Enter")) }
                        }
                    }
                    (cheat_sheet(Page::Intake))
                }
                div.panel {
                    h2 { "来电人 Caller" }
                    // Filled as the number is typed: the caller's earlier tickets.
                    div #caller-history aria-live="polite" { p.muted { "输入来电号码后显示历史工单 The caller's earlier tickets show here." } }
                    h2 { "路由预览 Route preview" }
                    div #preview aria-live="polite" { p.muted { "输入诉求后显示 Type what the caller says." } }
                }
            }
        },
    )))
}

async fn preview(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    if form.text.trim().is_empty() {
        return Html(
            html! { p.muted { "输入诉求后显示 Type what the caller says." } }.into_string(),
        )
        .into_response();
    }
    let answer = IntakeClient::new(desk.conn(&session))
        .preview_route(pb::PreviewRouteRequest {
            text: form.text.clone(),
            address: form.address.clone(),
            category: form.category.trim().to_owned(),
            division_code: form.division(),
            ..Default::default()
        })
        .await;
    let preview = match answer {
        Ok(r) => r.into_inner(),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => return Html(banner(&status).into_string()).into_response(),
    };
    let route = preview.route.unwrap_or_default();
    let territory = route.territory.clone().unwrap_or_default();
    let chosen = form.station();
    let services = [
        pb::EmergencyService::Police110,
        pb::EmergencyService::Fire119,
        pb::EmergencyService::Ambulance120,
        pb::EmergencyService::Traffic122,
    ];
    let markup = html! {
        @if route.emergency != 0 {
            div.banner.emergency #emergency role="alert" {
                "紧急！请转 " (vocab::service_label(route.emergency)) " Emergency: hand off"
                @if !route.emergency_cues.is_empty() { " （" (route.emergency_cues.join("、")) "）" }
                p.handoff {
                    // The suggested service first, on Alt+J; the others one click away.
                    @for s in services.iter().filter(|s| **s as i32 == route.emergency) {
                        button.handoff type="submit" form="call" formaction="/desk/intake/handoff"
                            name="service" value=(vocab::service_code(*s as i32).unwrap_or_default())
                            data-shortcut="Alt+J" {
                            "转 " (vocab::service_label(*s as i32)) " " (key("Alt+J"))
                        }
                        " "
                    }
                    @for s in services.iter().filter(|s| **s as i32 != route.emergency) {
                        button.handoff.secondary type="submit" form="call" formaction="/desk/intake/handoff"
                            name="service" value=(vocab::service_code(*s as i32).unwrap_or_default()) {
                            "转 " (vocab::service_label(*s as i32))
                        }
                        " "
                    }
                }
            }
        }
        @if let Some(incident) = &preview.incident {
            (incidents::intake_box(incident))
        } @else if let Some(dup) = &preview.duplicate_of {
            div.banner.info #duplicate {
                "可能重复 Possible duplicate (Art. 11): " a href=(format!("/desk/tickets/{}", dup.id)) { (dup.id) }
                " — " (vocab::stage_label(dup.stage))
                p.progress { (progress_text(dup)) }
                // Linked as 并案: the call joins the matter's incident (opened now, led by
                // that ticket), so its caller is answered with the others and called back.
                button type="submit" form="call" formaction="/desk/intake/join" name="of_ticket_id" value=(dup.id)
                    data-shortcut="Alt+L" { "并入此事件并告知进度 Link to it " (key("Alt+L")) }
            }
        }
        table {
            tr { th { "类别 Category" } td {
                @for c in route.categories.iter().take(3) {
                    div { (c.name) " " span.muted { (c.code) " " (format!("{:.0}%", c.score * 100.0)) } }
                }
                @if route.category_source == "operator" { span.override { "话务员指定 chosen by the operator" } }
            } }
            tr { th { "性质 Nature" } td { (vocab::nature_label(route.nature)) } }
            tr { th { "紧急 Urgency" } td { (vocab::urgency_label(route.urgency)) } }
            tr { th { "属地 Territory" } td { (territory.name) " " span.muted { (territory.division_code) }
                @if !territory.matched.is_empty() { br; "「" (territory.matched) "」" }
                @if territory.how == "given" { " " span.override { "话务员指定 chosen by the operator" } } } }
            tr { th { "承办 Station" } td #preview-station {
                @if chosen.is_empty() {
                    (route.station_id)
                    @if route.triage { " " span.light-yellow { "待派单 triage" } }
                } @else {
                    (chosen) " " span.override { "话务员指定 chosen by the operator" }
                    br; span.muted { "系统建议 the router would pick " (route.station_id) }
                }
            } }
            tr { th { "依据 Why" } td.muted { (route.rule) @for f in &route.fallbacks { br; (f) } } }
        }
        (knowledge::suggestions(&session, &preview.articles))
    };
    Html(markup.into_string()).into_response()
}

/// The page after a call is recorded: the number to read out, large.
fn accepted_page(session: &DeskSession, ticket: &pb::Ticket, extra: Markup) -> Response {
    respond(Outcome::Page(layout(
        "已受理 Accepted",
        Some(session),
        true,
        html! {
            div.panel {
                p { "工单编号 Ticket number (read it to the caller):" }
                p.number #ticket-number { (ticket.id) }
                p #accepted-stage { (vocab::stage_label(ticket.stage)) " · " (ticket.station_id) }
                (extra)
                p { a href="/desk/intake" { "下一个来电 Next call" } " · " a href=(format!("/desk/tickets/{}", ticket.id)) { "查看工单 Open the ticket" } }
            }
        },
    )))
}

/// A failed submit: the banner, and the way back to the call (its draft is kept in the browser).
fn intake_failed(session: &DeskSession, status: &tonic::Status) -> Response {
    intake_failed_with(session, status, hint(status.code()))
}

fn intake_failed_with(session: &DeskSession, status: &tonic::Status, hint: &str) -> Response {
    let mut page = respond(Outcome::Page(layout(
        "受理 Intake",
        Some(session),
        false,
        html! { (banner_with(status, hint)) p { a href="/desk/intake" { "返回来电（内容已保留） Back to the call (kept)" } } },
    )));
    if status.code() == tonic::Code::Unavailable {
        *page.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    page
}

async fn submit(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let conn = desk.conn(&session);
    // A station picked by hand: the call is still routed (so the explanation says what the
    // router would have done), and the router dispatches it to the operator's station,
    // recording the override in the route explanation.
    let mut request = form.submission(false);
    request.route_station_id = form.station().to_owned();
    let answer = IntakeClient::new(conn).submit_ticket(request).await;
    let submitted = match answer {
        Ok(r) => r.into_inner(),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => return intake_failed(&session, &status),
    };
    let ticket = submitted.ticket.unwrap_or_default();
    accepted_page(
        &session,
        &ticket,
        html! {
            @if let Some(incident) = &submitted.incident {
                (merged_markup(incident))
            } @else if let Some(dup) = &submitted.duplicate_of {
                div.banner.info { "已并入 Linked to " (dup.id) " — " (vocab::stage_label(dup.stage)) }
                p.progress #progress { (progress_text(dup)) }
            }
        },
    )
}

/// The call merged into an incident: which one, and what to tell the caller.
fn merged_markup(incident: &pb::Incident) -> Markup {
    html! {
        div.banner.info #merged role="status" {
            "已并入事件 Merged into incident " a href=(format!("/desk/incidents/{}", incident.id)) { (incident.title) }
            " · 牵头工单 lead " (incident.lead_ticket_id) " — " (vocab::stage_label(incident.lead_stage))
            " · " (incident.ticket_count) " 张工单 tickets · 承办 " (incident.station_id)
        }
        h2 { "请告知来电人 Read this to the caller" }
        @if let Some(notice) = &incident.notice {
            p.progress #progress { (notice.text) }
        } @else {
            p.progress #progress { "该问题已由承办单位统一处理，办结后将回访您。 The matter is being handled; you will be called back." }
        }
    }
}

/// Links the call to the incident the preview found (its lead, or a ticket in it).
async fn join_incident(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let of = form.of_ticket_id.trim().to_owned();
    settle_at_intake(desk, headers, form, move |conn, held| async move {
        let joined = hotline_proto::v1::incidents_client::IncidentsClient::new(conn)
            .join_incident(pb::JoinIncidentRequest {
                ticket_id: held.id,
                expected_version: held.version,
                of_ticket_id: of,
            })
            .await?
            .into_inner();
        let incident = joined.incident.unwrap_or_default();
        Ok((joined.ticket.unwrap_or_default(), merged_markup(&incident)))
    })
    .await
}

/// 直办 with the incident's latest notice: the call recorded and answered in one request.
async fn answer_with_notice(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let answer = pb::DirectAnswer {
        article: None,
        answer: form.answer.clone(),
    };
    submit_answered(&desk, &headers, &form, answer, hint, |session, ticket| {
        accepted_page(
            session,
            ticket,
            html! { div.banner.info #answered-notice role="status" { "已按公告直办 Answered with the incident's notice." } },
        )
    })
    .await
}

/// 直办: records the call and answers it directly in one submit (from an article or an
/// incident's notice), then shows `page` for the ticket; a refusal shows the intake error with
/// `hint_for` its code.
async fn submit_answered(
    desk: &Desk,
    headers: &HeaderMap,
    form: &CallForm,
    answer: pb::DirectAnswer,
    hint_for: fn(tonic::Code) -> &'static str,
    page: impl FnOnce(&DeskSession, &pb::Ticket) -> Response,
) -> Response {
    let Some((_, session)) = desk.session(headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let mut request = form.submission(false);
    request.answer_directly = Some(answer);
    match IntakeClient::new(desk.conn(&session))
        .submit_ticket(request)
        .await
    {
        Ok(r) => page(&session, &r.into_inner().ticket.unwrap_or_default()),
        Err(status) if expired(&status) => to_login("expired"),
        Err(status) => intake_failed_with(&session, &status, hint_for(status.code())),
    }
}

/// How the router's explanation marks a station the operator chose (`hotline_router`'s
/// `OPERATOR_STATION`; the desk is a client of the API and does not link the router).
const OVERRIDE_NOTE: &str = "话务员指定承办单位 operator override";

/// Records the call held, then settles it at once: `settle` hands it off or links it.
async fn settle_at_intake<F, Fut>(
    desk: Desk,
    headers: HeaderMap,
    form: CallForm,
    settle: F,
) -> Response
where
    F: FnOnce(Conn, pb::Ticket) -> Fut,
    Fut: std::future::Future<Output = Result<(pb::Ticket, Markup), tonic::Status>>,
{
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let conn = desk.conn(&session);
    let held = match IntakeClient::new(conn.clone())
        .submit_ticket(form.submission(true))
        .await
    {
        Ok(r) => r.into_inner().ticket.unwrap_or_default(),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => return intake_failed(&session, &status),
    };
    match settle(conn, held.clone()).await {
        Ok((ticket, extra)) => accepted_page(&session, &ticket, extra),
        Err(status) if expired(&status) => to_login("expired"),
        // The call is recorded (its number stands); the ticket page can settle it.
        Err(status) => accepted_page(&session, &held, banner(&status)),
    }
}

/// 转110/119/120/122 in one click from the emergency banner.
async fn hand_off(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<CallForm>,
) -> Response {
    let service = match form.service.as_str() {
        "police_110" => pb::EmergencyService::Police110,
        "fire_119" => pb::EmergencyService::Fire119,
        "ambulance_120" => pb::EmergencyService::Ambulance120,
        "traffic_122" => pb::EmergencyService::Traffic122,
        _ => return (StatusCode::BAD_REQUEST, "no such emergency service").into_response(),
    };
    settle_at_intake(desk, headers, form, move |conn, held| async move {
        let ticket = IntakeClient::new(conn)
            .hand_off_emergency(pb::HandOffEmergencyRequest {
                ticket_id: held.id,
                expected_version: held.version,
                service: service as i32,
                note: "话务员一键转接 handed off from the call".into(),
            })
            .await?
            .into_inner()
            .ticket
            .unwrap_or_default();
        let label = vocab::service_label(service as i32);
        Ok((
            ticket,
            html! { div.banner.emergency #handed-off role="status" { "已转 Handed off: " (label) } },
        ))
    })
    .await
}

#[derive(Deserialize)]
struct PhoneQuery {
    #[serde(default)]
    phone: String,
}

/// 来电弹屏: the caller's earlier tickets, newest first, with stage and progress.
async fn caller_history(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<PhoneQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let phone = query.phone.trim();
    // Too short to be a number: nothing to look up yet (and no search over every "1").
    if phone.chars().filter(char::is_ascii_digit).count() < 7 {
        return Html(String::new()).into_response();
    }
    let answer = IntakeClient::new(desk.conn(&session))
        .search_tickets(pb::SearchTicketsRequest {
            caller_phone: phone.to_owned(),
            limit: 10,
            ..Default::default()
        })
        .await;
    let tickets = match answer {
        Ok(r) => r.into_inner().tickets,
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            return Html(html! { p.muted { "号码格式不对 Not a phone number." } }.into_string())
                .into_response()
        }
        Err(status) => return Html(banner(&status).into_string()).into_response(),
    };
    let markup = html! {
        @if tickets.is_empty() {
            p.muted #first-call { "首次来电 No earlier tickets from this number." }
        } @else {
            p { strong { "历史工单 " (tickets.len()) } " Earlier tickets from this number:" }
            ul.history {
                @for t in &tickets {
                    li.earlier data-ticket=(t.id) {
                        a href=(format!("/desk/tickets/{}", t.id)) target="_blank" { (t.id.chars().take(8).collect::<String>()) "…" }
                        " " strong { (vocab::stage_label(t.stage)) } " · " (time_human(&t.created_at))
                        br; span { (t.text.chars().take(60).collect::<String>()) }
                        br; span.muted { (progress_text(t)) }
                    }
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

// ---------------------------------------------------------------- pickers

impl Desk {
    /// The divisions to search, walked on first use (see [`picker`]).
    async fn places(&self, session: &DeskSession) -> Result<&[Place], tonic::Status> {
        let conn = self.conn(session);
        self.places
            .get_or_try_init(|| picker::walk_divisions(conn))
            .await
            .map(Vec::as_slice)
    }

    /// The category tree; empty (and asked again next time) when the router cannot say.
    async fn categories(&self, session: &DeskSession) -> Vec<pb::Category> {
        let conn = self.conn(session);
        let read = self
            .categories
            .get_or_try_init(|| async move {
                let list = DirectoryClient::new(conn)
                    .list_categories(pb::ListCategoriesRequest {})
                    .await?
                    .into_inner()
                    .categories;
                // An empty tree (routing not configured) is not worth keeping either.
                if list.is_empty() {
                    Err(tonic::Status::not_found("no categories"))
                } else {
                    Ok(list)
                }
            })
            .await;
        read.cloned().unwrap_or_default()
    }

    async fn divisions_under(&self, session: &DeskSession, parent: &str) -> Vec<pb::Division> {
        DirectoryClient::new(self.conn(session))
            .list_divisions(pb::ListDivisionsRequest {
                parent_code: parent.to_owned(),
            })
            .await
            .map(|r| r.into_inner().divisions)
            .unwrap_or_default()
    }

    async fn stations_at(&self, session: &DeskSession, division: &str) -> Vec<pb::StationInfo> {
        if division.is_empty() {
            return Vec::new();
        }
        DirectoryClient::new(self.conn(session))
            .list_stations(pb::ListStationsRequest {
                division_code: division.to_owned(),
            })
            .await
            .map(|r| r.into_inner().stations)
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct AddressQuery {
    #[serde(default)]
    address: String,
}

/// Address suggestions: the options of the address box's listbox.
async fn address_suggestions(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<AddressQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let places = match desk.places(&session).await {
        Ok(places) => places,
        Err(status) if expired(&status) => return to_login("expired"),
        // No suggestions this time; typing goes on.
        Err(_) => return Html(String::new()).into_response(),
    };
    let found = picker::search(places, &query.address, picker::SUGGESTIONS);
    let markup = html! {
        @for (i, p) in found.iter().enumerate() {
            li role="option" id=(format!("address-option-{i}")) data-value=(p.path) data-code=(p.code) aria-selected="false" {
                (p.path) " " span.muted { (p.code) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The category tree picker: a first-level subject, then one of its categories.
fn category_fields(categories: &[pb::Category], root: &str, chosen: &str) -> Markup {
    html! {
        div #category-picker hx-get="/desk/picker/category" hx-trigger="change" hx-include="this"
            hx-target="this" hx-swap="outerHTML" {
            label for="category-root" { "类别 Category" }
            @if categories.is_empty() {
                // A router without ListCategories: the code can still be typed.
                input #category name="category" value=(chosen) placeholder="类别代码 Category code, e.g. CJ.WY";
            } @else {
                select #category-root name="category_root" aria-label="一级类别 Subject" {
                    option value="" { "— 由系统分类 Let the router classify —" }
                    @for c in picker::children(categories, "") {
                        option value=(c.code) selected[c.code == root] { (c.name) " " (c.code) }
                    }
                }
                @if !root.is_empty() {
                    select #category name="category" aria-label="二级类别 Category" {
                        option value=(root) selected[chosen == root || chosen.is_empty()] { "（整个 all of " (root) "）" }
                        @for c in picker::children(categories, root) {
                            option value=(c.code) selected[c.code == chosen] { (c.name) " " (c.code) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct PickerQuery {
    #[serde(default)]
    category_root: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    street: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    station_id: String,
}

async fn category_picker(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<PickerQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let categories = desk.categories(&session).await;
    let root = query.category_root.trim();
    // A category from another subject (the subject just changed) is dropped.
    let chosen = if picker::root_of(&query.category) == root {
        query.category.trim()
    } else {
        root
    };
    Html(category_fields(&categories, root, chosen).into_string()).into_response()
}

/// The territory picker (district -> street -> community, each the children of the one above)
/// and the station picker (the stations at the deepest division chosen).
#[allow(clippy::too_many_arguments)]
fn territory_fields(
    districts: &[pb::Division],
    streets: &[pb::Division],
    communities: &[pb::Division],
    stations: &[pb::StationInfo],
    district: &str,
    street: &str,
    community: &str,
    station: &str,
) -> Markup {
    let level = |id: &str, name: &str, label: &str, list: &[pb::Division], chosen: &str| {
        html! {
            select id=(id) name=(name) aria-label=(label) {
                option value="" { "— " (label) " —" }
                @for d in list {
                    option value=(d.code) selected[d.code == chosen] { (d.name) }
                }
            }
        }
    };
    html! {
        div #territory-picker hx-get="/desk/picker/territory" hx-trigger="change"
            hx-include="this" hx-target="this" hx-swap="outerHTML" {
            label for="district" { "属地 Territory" }
            (level("district", "district", "区 District", districts, district))
            @if !district.is_empty() { (level("street", "street", "街道 Street", streets, street)) }
            @if !street.is_empty() { (level("community", "community", "社区 Community", communities, community)) }
            label for="station-pick" { "承办单位 Station" }
            select #station-pick name="station_id" {
                option value="" { "— 由系统选择 Let the router pick —" }
                @for s in stations {
                    option value=(s.id) selected[s.id == station] { (s.name) " " (s.id) }
                }
            }
            @if stations.is_empty() && !district.is_empty() { p.muted { "此处无承办单位 No station here: pick a lower level." } }
        }
    }
}

async fn territory_picker(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<PickerQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let district = query.district.trim();
    // A street or community left from an earlier choice higher up is dropped.
    let street = picker::under(query.street.trim(), district);
    let community = picker::under(query.community.trim(), street);
    let districts = desk.divisions_under(&session, "").await;
    let streets = if district.is_empty() {
        Vec::new()
    } else {
        desk.divisions_under(&session, district).await
    };
    let communities = if street.is_empty() {
        Vec::new()
    } else {
        desk.divisions_under(&session, street).await
    };
    let deepest = picker::deepest(district, street, community).unwrap_or_default();
    let stations = desk.stations_at(&session, deepest).await;
    let station = if stations.iter().any(|s| s.id == query.station_id) {
        query.station_id.as_str()
    } else {
        ""
    };
    Html(
        territory_fields(
            &districts,
            &streets,
            &communities,
            &stations,
            district,
            street,
            community,
            station,
        )
        .into_string(),
    )
    .into_response()
}

// ---------------------------------------------------------------- live

/// One event stream per browser (see [`live`]).
async fn events(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        // 204 tells EventSource not to reconnect; the page's next request goes to login.
        return StatusCode::NO_CONTENT.into_response();
    };
    live::stream(desk.conn(&session), &session.role, &session.station_id).into_response()
}

// ---------------------------------------------------------------- station

async fn queue_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(Outcome::Page(layout(
        "待办 Queue",
        Some(&session),
        false,
        html! {
            div.panel {
                h1 { "待办队列 Queue · " (session.station_id) }
                p {
                    button.secondary #refresh type="button" data-shortcut="Alt+R"
                        hx-get="/desk/queue/list" hx-target="#queue" hx-swap="innerHTML" {
                        "刷新 Refresh " (key("Alt+R"))
                    }
                    " " span.muted { "新工单自动出现 New arrivals appear by themselves." }
                }
                // Live: refreshed when the event stream says something changed on the station
                // (desk.js turns stream events into desk:changed), with a slow poll behind it
                // in case the stream is down. A burst of events makes one request in flight and
                // one queued (hx-sync), not a timer: browsers stall timers in background tabs.
                // desk.js never lets it swap under the focus.
                div #queue.live hx-get="/desk/queue/list"
                    hx-trigger="load, desk:changed from:body, every 30s, desk:poll from:body"
                    hx-sync="this:queue last" hx-swap="innerHTML" {
                    p.muted { "加载中 Loading…" }
                }
            }
            (cheat_sheet(Page::Queue))
        },
    )))
}

/// A countdown cell: the light, the time left (desk.js keeps it ticking), the deadline.
fn countdown_cell(c: &clocks::Countdown, now: chrono::DateTime<chrono::Utc>) -> Markup {
    html! {
        span class={ "countdown " (c.light.class()) } data-clock=(c.clock) data-due=(c.due.to_rfc3339())
            data-warn=(c.warn_at.to_rfc3339()) data-paused=[(c.light == clocks::Light::Paused).then_some("1")] {
            "● " (c.label) " "
            span.left { @if c.light == clocks::Light::Paused { "已暂停 paused" } @else { (countdown_text(now, c.due)) } }
            " " span.light-name { (c.light.label()) }
        }
    }
}

async fn queue_list(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    // The station's live work: what waits to be signed for and what it is handling.
    let mut tickets = Vec::new();
    for stage in [
        pb::Stage::AwaitingSignFor,
        pb::Stage::InProgress,
        pb::Stage::ReturnRequested,
    ] {
        let answer = IntakeClient::new(desk.conn(&session))
            .search_tickets(pb::SearchTicketsRequest {
                stage: stage as i32,
                station_id: session.station_id.clone(),
                limit: 200,
                ..Default::default()
            })
            .await;
        match answer {
            Ok(r) => tickets.extend(r.into_inner().tickets),
            Err(status) if expired(&status) => return to_login("expired"),
            Err(status) => return Html(banner(&status).into_string()).into_response(),
        }
    }
    let now = chrono::Utc::now();
    // By deadline, soonest first; a ticket with every clock paused goes last.
    tickets.sort_by_key(|t| (clocks::next_due(t, now).is_none(), clocks::next_due(t, now)));
    let markup = html! {
        @if tickets.is_empty() { p.muted #queue-empty { "队列为空 Nothing waiting." } }
        @else {
            table {
                thead { tr { th { "工单 Ticket" } th { "阶段 Stage" } th { "诉求 Text" } th { "时限 Clocks" } th {} } }
                tbody {
                    @for t in &tickets {
                        tr.queued data-ticket=(t.id) data-stage=(vocab::stage_code(t.stage).unwrap_or_default()) {
                            td { a href=(format!("/desk/tickets/{}", t.id)) { (t.id.chars().take(8).collect::<String>()) "…" } }
                            td { (vocab::stage_label(t.stage)) }
                            td { (t.text.chars().take(40).collect::<String>()) }
                            td.clocks {
                                @for c in countdowns(t, now) { div { (countdown_cell(&c, now)) } }
                                @if !t.deadlines.clone().unwrap_or_default().provisional.is_empty() { span.provisional { "暂定" } }
                            }
                            td {
                                @if t.stage == pb::Stage::AwaitingSignFor as i32 {
                                    form method="post" action=(format!("/desk/tickets/{}/sign", t.id)) {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="version" value=(t.version);
                                        button type="submit" { "签收 Sign for" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

async fn ticket_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(ticket_view(&desk, &session, &id, None).await)
}

/// Who else has the ticket open; the page asks every few seconds, which also keeps the asker
/// marked as a viewer (see [`presence`]).
async fn viewers(State(desk): State<Desk>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let now = std::time::Instant::now();
    if !desk.presence.refresh(&id, &session.login, now) {
        return Html(String::new()).into_response();
    }
    Html(viewers_markup(&desk.presence.others(&id, &session.login, now)).into_string())
        .into_response()
}

fn viewers_markup(others: &[presence::Viewer]) -> Markup {
    html! {
        @if !others.is_empty() {
            span.viewers role="status" {
                "同时在看 Also open by: "
                @for (i, v) in others.iter().enumerate() {
                    @if i > 0 { "、" }
                    span.viewer data-login=(v.login) { (v.display_name) " (" (v.login) ")" }
                }
            }
        }
    }
}

/// The note of the latest dispatch chosen by hand at intake, if any (see `submit`).
fn override_note(ticket: &pb::Ticket) -> Option<String> {
    ticket
        .route
        .as_ref()?
        .fallbacks
        .iter()
        .find(|f| f.starts_with(OVERRIDE_NOTE))
        .cloned()
}

/// The router sent the ticket to triage because it was unsure of the category (not for its
/// territory or an emergency) and it has suggestions to offer.
fn unsure_category(route: &pb::RouteExplanation) -> bool {
    route.triage
        && route.category_source != "operator"
        && !route.categories.is_empty()
        && route
            .fallbacks
            .iter()
            .any(|f| f.starts_with("low_category_score:"))
}

/// Why the ticket is where it is: the router's explanation, with what people overrode.
fn route_section(ticket: &pb::Ticket) -> Markup {
    let by_hand = override_note(ticket);
    html! {
        h2 { "路由说明 Route" }
        div #route {
            @if let Some(route) = &ticket.route {
                @let territory = route.territory.clone().unwrap_or_default();
                table {
                    tr { th { "类别 Category" } td {
                        @for c in route.categories.iter().take(3) { (c.name) " " span.muted { (c.code) } " " }
                        @if route.category_source == "operator" { span.override { "话务员指定 chosen by the operator" } }
                        @else { span.muted { "(" (route.category_source) ")" } }
                        @if !route.confidence.is_empty() { br; span.muted { (route.confidence) } }
                    } }
                    tr { th { "属地 Territory" } td {
                        (territory.name) " " span.muted { (territory.division_code) }
                        @if territory.how == "given" { " " span.override { "话务员指定 chosen by the operator" } }
                        @else if !territory.reason.is_empty() { " " span.muted { (territory.reason) } }
                    } }
                    tr { th { "承办 Station" } td { (route.station_id) @if route.triage { " " span.light-yellow { "待派单 triage" } } } }
                    @if !route.rule.is_empty() || !route.fallbacks.is_empty() {
                        tr { th { "依据 Why" } td.muted { (route.rule) @for f in &route.fallbacks { br; (f) } } }
                    }
                }
            }
            @if let Some(note) = &by_hand {
                p.override #station-override { (note) }
            }
            @if ticket.route.is_none() && by_hand.is_none() { p.muted { "人工派单 Routed by hand." } }
        }
    }
}

async fn ticket_view(
    desk: &Desk,
    session: &DeskSession,
    id: &str,
    notice: Option<Markup>,
) -> Outcome {
    let answer = IntakeClient::new(desk.conn(session))
        .get_ticket(pb::GetTicketRequest {
            ticket_id: id.to_owned(),
            include_history: true,
        })
        .await;
    let ticket = match answer {
        Ok(r) => r.into_inner().ticket.unwrap_or_default(),
        Err(status) if expired(&status) => return Outcome::Login("expired"),
        Err(status) => {
            return Outcome::Page(layout(
                "工单 Ticket",
                Some(session),
                false,
                html! { @if let Some(n) = notice { (n) } (banner(&status)) },
            ))
        }
    };
    let now_instant = std::time::Instant::now();
    desk.presence.open(
        &ticket.id,
        &session.login,
        &session.display_name,
        now_instant,
    );
    let others = desk
        .presence
        .others(&ticket.id, &session.login, now_instant);
    let caller = ticket.caller.clone().unwrap_or_default();
    let due = ticket.deadlines.clone().unwrap_or_default();
    let now = chrono::Utc::now();
    let sub_stations =
        if session.role == "station_staff" && ticket.stage == pb::Stage::InProgress as i32 {
            desk.stations_below(session).await
        } else {
            Vec::new()
        };
    Outcome::Page(layout(
        "工单 Ticket",
        Some(session),
        false,
        html! {
            @if let Some(n) = notice { (n) }
            // desk.js shows this when the live stream says someone else changed the ticket.
            div.banner.info #stale role="status" hidden {
                "此工单刚被他人更新 This ticket was just changed by someone else. "
                a href=(format!("/desk/tickets/{}", ticket.id)) { "查看最新 Show it as it is now" }
            }
            div.panel data-ticket=(ticket.id) data-version=(ticket.version) #ticket {
                h1 { "工单 " span #ticket-id { (ticket.id) } }
                p {
                    strong #stage { (vocab::stage_label(ticket.stage)) } " · " (ticket.station_id) " · v" (ticket.version)
                    @for f in &ticket.flags { " " span.flag { (vocab::flag_label(*f)) } }
                }
                p #presence hx-get=(format!("/desk/tickets/{}/viewers", ticket.id))
                    hx-trigger="every 5s" hx-swap="innerHTML" {
                    (viewers_markup(&others))
                }
                table {
                    tr { th { "来电人 Caller" } td #caller {
                        @if caller.name.is_empty() && caller.phone.is_empty() && caller.masked { "保密 confidential" }
                        @else { (caller.name) " " (caller.phone) }
                        @if caller.masked { " " span.muted { "(已脱敏 masked)" } }
                    } }
                    tr { th { "诉求 Text" } td #text { (ticket.text) } }
                    tr { th { "地址 Address" } td { (ticket.address) } }
                    (knowledge::answered_from_row(&ticket))
                    tr { th { "时限 Clocks" } td #clocks {
                        @for c in countdowns(&ticket, now) { div { (countdown_cell(&c, now)) " " span.muted { (time_human(&c.due.to_rfc3339())) } } }
                        @if !ticket.paused_since.is_empty() { div.muted { "暂停于 paused since " (time_human(&ticket.paused_since)) ": " (ticket.pause_reason) } }
                    } }
                    tr { th { "签收时限 Sign-for due" } td { (time_human(&due.sign_for)) } }
                    tr { th { "办结时限 Resolution due" } td { (time_human(&due.resolution))
                        @if due.provisional.iter().any(|p| p == "resolution") { " " span.provisional { "暂定" } } } }
                }
                @if session.role == "station_staff" && ticket.stage == pb::Stage::AwaitingSignFor as i32 {
                    form method="post" action=(format!("/desk/tickets/{}/sign", ticket.id)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="version" value=(ticket.version);
                        button #sign type="submit" data-shortcut="Alt+G" { "签收 Sign for " (key("Alt+G")) }
                    }
                }
                (actions(session, &ticket, &sub_stations))
                @if let Some(reply) = &ticket.reply {
                    h2 { "答复 Reply" }
                    p #public-reply { (reply.public_reply) }
                }
                (knowledge::draft_form(session, &ticket))
                (route_section(&ticket))
                h2 { "历史 History" }
                table #history {
                    @for e in &ticket.events {
                        tr { td { (e.seq) } td { (time_human(&e.at)) } td { (e.kind) } td { (vocab::stage_label(e.stage)) } }
                    }
                }
            }
            (cheat_sheet(Page::Ticket))
        },
    ))
}

impl Desk {
    /// The stations a station may sub-dispatch to (下派): those of the divisions below its own.
    async fn stations_below(&self, session: &DeskSession) -> Vec<pb::StationInfo> {
        let own = DirectoryClient::new(self.conn(session))
            .get_station(pb::GetStationRequest {
                station_id: session.station_id.clone(),
            })
            .await
            .map(|r| r.into_inner().division_code)
            .unwrap_or_default();
        if own.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for child in self.divisions_under(session, &own).await {
            out.extend(self.stations_at(session, &child.code).await);
        }
        out
    }
}

#[derive(Deserialize)]
struct SignForm {
    csrf: String,
    #[serde(default)]
    version: String,
}

async fn claim(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SignForm>,
) -> Response {
    station_action(desk, headers, id, form, true).await
}

async fn sign(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SignForm>,
) -> Response {
    station_action(desk, headers, id, form, false).await
}

async fn station_action(
    desk: Desk,
    headers: HeaderMap,
    id: String,
    form: SignForm,
    claim_only: bool,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let mut station = StationClient::new(desk.conn(&session));
    let result = if claim_only {
        station
            .claim_ticket(pb::ClaimTicketRequest {
                ticket_id: id.clone(),
                lease_seconds: 0,
            })
            .await
            .map(|_| ())
    } else {
        station
            .sign_for(pb::SignForRequest {
                ticket_id: id.clone(),
                expected_version: expected_version(&form.version),
            })
            .await
            .map(|_| ())
    };
    let notice = match result {
        Ok(()) => {
            html! { div.banner.info role="status" { (if claim_only { "已领取 Claimed" } else { "已签收 Signed for" }) } }
        }
        Err(status) if expired(&status) => return to_login("expired"),
        // Two staff at once: the loser sees why, and the ticket as it is now.
        Err(status) => banner(&status),
    };
    respond(ticket_view(&desk, &session, &id, Some(notice)).await)
}

/// The version a form was rendered from; 0 (don't check) when it sent none.
fn expected_version(raw: &str) -> u64 {
    raw.trim().parse().unwrap_or(0)
}

// ---------------------------------------------------------------- work lists and actions

/// The forms a person may use on a ticket at its stage (the router still decides). Each form
/// sends the version it was rendered from, so a change made meanwhile by someone else makes
/// this one fail (ABORTED) instead of overriding it blind.
fn actions(session: &DeskSession, ticket: &pb::Ticket, sub_stations: &[pb::StationInfo]) -> Markup {
    let stage = pb::Stage::try_from(ticket.stage).unwrap_or(pb::Stage::Unspecified);
    let url = |what: &str| format!("/desk/tickets/{}/{what}", ticket.id);
    let csrf = html! {
        input type="hidden" name="csrf" value=(session.csrf);
        input type="hidden" name="version" value=(ticket.version);
    };
    let centre = session.role == "operator" || session.role == "supervisor";
    let station = session.role == "station_staff";
    let holds = station && ticket.station_id == session.station_id;
    let my_cohandling = ticket
        .co_handlers
        .iter()
        .find(|c| station && c.station_id == session.station_id && c.report.is_empty());
    html! {
        @if holds && stage == pb::Stage::InProgress {
            h2 { "办结答复 Reply" }
            form #reply-form method="post" action=(url("reply")) {
                (csrf)
                label for="record" data-shortcut="Alt+Y" { "办理情况（内部） What was done (internal) " (key("Alt+Y")) }
                textarea #record name="internal_record" required {}
                label for="public" { "答复内容（群众可见） The reply the citizen sees" }
                textarea #public name="public_reply" required {}
                p { button type="submit" { "提交答复 Reply" } }
            }
        }
        @if holds && stage == pb::Stage::InProgress {
            div.cols {
                form #contact-form method="post" action=(url("contact")) {
                    (csrf)
                    h2 { "首次联系 Contact" }
                    input name="note" placeholder="联系情况 How the caller was reached" aria-label="联系情况 How the caller was reached";
                    p { button type="submit" { "已联系 Caller reached" } }
                }
                form #extend-form method="post" action=(url("extend")) {
                    (csrf)
                    h2 { "延期申请 Extension" }
                    input name="working_days" type="number" min="1" max="30" value="3" aria-label="工作日 Working days";
                    input name="reason" placeholder="理由 Reason" aria-label="理由 Reason" required;
                    p { button type="submit" { "申请延期 Ask" } }
                }
            }
            div.cols {
                @if ticket.paused_since.is_empty() {
                    form #pause-form method="post" action=(url("pause")) {
                        (csrf)
                        h2 { "暂停计时 Pause the clock" }
                        input #pause-reason name="reason" placeholder="等待来电人 Waiting on the caller for…" aria-label="暂停原因 Why" required;
                        p { button.secondary type="submit" { "暂停 Pause" } }
                    }
                } @else {
                    form #resume-form method="post" action=(url("resume")) {
                        (csrf)
                        h2 { "恢复计时 Resume the clock" }
                        p.muted { "暂停原因 Paused for: " (ticket.pause_reason) }
                        p { button type="submit" { "恢复 Resume" } }
                    }
                }
                @if !sub_stations.is_empty() {
                    form #subdispatch-form method="post" action=(url("subdispatch")) {
                        (csrf)
                        h2 { "下派 Sub-dispatch" }
                        label for="sub-station" { "下级承办单位 To a station below" }
                        select #sub-station name="station_id" required {
                            @for s in sub_stations { option value=(s.id) { (s.name) " " (s.id) } }
                        }
                        input name="note" placeholder="说明 Note" aria-label="说明 Note";
                        p { button.secondary type="submit" { "下派 Sub-dispatch" } }
                    }
                }
            }
        }
        @if my_cohandling.is_some() && stage != pb::Stage::Closed {
            h2 { "协办反馈 Co-handler report" }
            form #cohandler-form method="post" action=(url("cohandler-report")) {
                (csrf)
                textarea #cohandler-report name="report" aria-label="协办情况 What we did" required {}
                p { button type="submit" { "反馈牵头单位 Report to the lead" } }
            }
        }
        @if holds && (stage == pb::Stage::AwaitingSignFor || stage == pb::Stage::InProgress) {
            h2 { "退单 Return" }
            form method="post" action=(url("return")) {
                (csrf)
                select name="reason" aria-label="退单原因 Reason" {
                    option value="wrong_territory" { "属地不符 wrong territory" }
                    option value="not_our_function" { "职能不符 not our function" }
                    option value="unclear_ownership" { "权属不清 unclear ownership" }
                }
                input name="basis" placeholder="依据 Basis" aria-label="依据 Basis" required;
                p { button.secondary type="submit" { "申请退单 Ask to return" } }
            }
        }
        @if centre && (stage == pb::Stage::Accepted || stage == pb::Stage::PendingDispatch) {
            div.cols {
                form #answer-form method="post" action=(url("answer")) {
                    (csrf)
                    h2 { "直办 Answer directly" }
                    textarea name="answer" aria-label="答复 Answer" required {}
                    p { button type="submit" { "直办结案 Answer and close" } }
                }
                form method="post" action=(url("not-accept")) {
                    (csrf)
                    h2 { "不予受理 Not accepted" }
                    textarea name="advice" aria-label="建议 Advice given" required {}
                    p { button.secondary type="submit" { "不予受理 Not accept" } }
                }
            }
        }
        @if centre && (stage == pb::Stage::Accepted || stage == pb::Stage::PendingDispatch) {
            h2 { "派单 Dispatch" }
            // The classifier was not sure enough to dispatch alone: its top suggestions, one
            // click each (the router re-routes on the chosen category).
            @if let Some(route) = ticket.route.as_ref().filter(|r| unsure_category(r)) {
                div #suggestions {
                    p { "建议类别（点击即按该类别重新派单） Suggested categories: one click re-routes" }
                    @for c in route.categories.iter().take(3) {
                        form.inline method="post" action=(url("categorise")) {
                            (csrf)
                            input type="hidden" name="category" value=(c.code);
                            button.secondary type="submit" data-category=(c.code) {
                                (c.name) " " span.muted { (c.code) " " (format!("{:.0}%", c.score * 100.0)) }
                            }
                        }
                    }
                    @if !route.confidence.is_empty() { p.muted #confidence { (route.confidence) } }
                }
            }
            form method="post" action=(url("dispatch")) {
                (csrf)
                label for="station" { "承办单位 Station" }
                input #station name="station_id" required
                    value=(ticket.route.as_ref().map(|r| r.station_id.clone()).filter(|s| !s.ends_with("-triage")).unwrap_or_default());
                p { button type="submit" { "派单 Dispatch" } }
            }
        }
        @if session.role == "supervisor"
            && matches!(stage, pb::Stage::AwaitingSignFor | pb::Stage::InProgress) {
            h2 { "加派协办 Add a co-handler" }
            form #add-cohandler-form method="post" action=(url("add-cohandler")) {
                (csrf)
                input #cohandler-station name="station_id" placeholder="协办单位 Station id" aria-label="协办单位 Station id" required;
                p { button.secondary type="submit" { "加派 Add" } }
            }
        }
        @if session.role == "supervisor" && stage == pb::Stage::PendingReview {
            h2 { "审核答复 Review" }
            form method="post" action=(url("review")) {
                (csrf)
                label for="note" { "意见（退回时必填） Note (required to send it back)" }
                input #note name="note";
                p {
                    button type="submit" name="decision" value="approve" { "通过 Approve" } " "
                    button.secondary type="submit" name="decision" value="reject" { "退回重办 Send back" }
                }
            }
        }
        @if centre && stage == pb::Stage::AwaitingCallback {
            h2 { "回访 Callback" }
            form method="post" action=(url("callback")) {
                (csrf)
                label for="satisfaction" { "满意度 Satisfaction" }
                select #satisfaction name="satisfaction" {
                    option value="satisfied" { "满意 satisfied" }
                    option value="basic" { "基本满意 basically satisfied" }
                    option value="dissatisfied" { "不满意 dissatisfied" }
                }
                p { button type="submit" { "记录回访 Record" } }
            }
        }
        @if session.role == "supervisor" && stage == pb::Stage::ReturnRequested {
            h2 { "退单审核 Return" }
            @if let Some(r) = &ticket.return_request {
                p { (vocab::reason_label(r.reason)) ": " (r.basis) }
            }
            form method="post" action=(url("arbitrate")) {
                (csrf)
                input name="note" placeholder="意见 Note" aria-label="意见 Note";
                p {
                    button type="submit" name="decision" value="approve" { "同意退单 Accept (back to triage)" } " "
                    button.secondary type="submit" name="decision" value="reject" { "驳回 Reject (back to the station)" }
                }
            }
        }
        @if session.role == "supervisor" && ticket.extension_request.is_some() {
            @let e = ticket.extension_request.clone().unwrap_or_default();
            h2 { "延期审批 Extension" }
            p { (e.working_days) " 个工作日 working days: " (e.reason) }
            form method="post" action=(url("decide-extension")) {
                (csrf)
                input name="note" placeholder="意见 Note" aria-label="意见 Note";
                p {
                    button type="submit" name="decision" value="approve" { "批准 Approve" } " "
                    button.secondary type="submit" name="decision" value="reject" { "不批准 Refuse" }
                }
            }
        }
        @if session.role == "supervisor" && stage != pb::Stage::Closed {
            h2 { "督办 Flags" }
            form method="post" action=(url("flag")) {
                (csrf)
                select name="flag" aria-label="督办 Flag" {
                    option value="urged" { "催办 urge" }
                    option value="supervised" { "督办 supervise" }
                    option value="published" { "通报 publish" }
                }
                input name="note" placeholder="说明 Note" aria-label="说明 Note";
                p { button.secondary type="submit" { "发出 Raise" } }
            }
        }
        @if session.role == "supervisor" && stage == pb::Stage::AwaitingCallback {
            form method="post" action=(url("close")) {
                (csrf)
                p { button type="submit" { "结案 Close" } }
            }
        }
    }
}

fn work_list_stage(stage: &str) -> Option<(pb::Stage, &'static str)> {
    Some(match stage {
        "pending_dispatch" => (pb::Stage::PendingDispatch, "待派单 Triage"),
        "pending_review" => (pb::Stage::PendingReview, "待审核 Review"),
        "awaiting_callback" => (pb::Stage::AwaitingCallback, "待回访 Callbacks"),
        "return_requested" => (pb::Stage::ReturnRequested, "退单审核 Returns"),
        _ => return None,
    })
}

/// A work list by stage: triage (待派单), review (待审核), callbacks (待回访), returns.
async fn work_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(stage): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let Some((wanted, title)) = work_list_stage(&stage) else {
        return (StatusCode::NOT_FOUND, "no such work list").into_response();
    };
    let rows = match work_rows(&desk, &session, wanted).await {
        Ok(rows) => rows,
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner(&status),
    };
    // A supervisor is told when next year's holiday notice is missing (from November).
    let calendar_warning = if session.role == "supervisor" {
        hotline_proto::v1::admin_client::AdminClient::new(desk.conn(&session))
            .get_calendar_status(pb::GetCalendarStatusRequest {})
            .await
            .map(|r| r.into_inner().warning)
            .unwrap_or_default()
    } else {
        String::new()
    };
    respond(Outcome::Page(layout(
        title,
        Some(&session),
        false,
        html! {
            @if !calendar_warning.is_empty() {
                div.banner.error #calendar-warning role="alert" { "节假日安排 Holiday notice: " (calendar_warning) }
            }
            div.panel {
                h1 { (title) }
                // Live like the station's queue: refreshed on the stream's events, slow poll behind.
                div #work.live hx-get=(format!("/desk/work/{stage}/list"))
                    hx-trigger="desk:changed from:body, every 30s, desk:poll from:body"
                    hx-sync="this:queue last" hx-swap="innerHTML" {
                    (rows)
                }
            }
        },
    )))
}

async fn work_list(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(stage): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let Some((wanted, _)) = work_list_stage(&stage) else {
        return (StatusCode::NOT_FOUND, "no such work list").into_response();
    };
    match work_rows(&desk, &session, wanted).await {
        Ok(rows) => Html(rows.into_string()).into_response(),
        Err(status) if expired(&status) => to_login("expired"),
        Err(status) => Html(banner(&status).into_string()).into_response(),
    }
}

async fn work_rows(
    desk: &Desk,
    session: &DeskSession,
    wanted: pb::Stage,
) -> Result<Markup, tonic::Status> {
    let tickets = IntakeClient::new(desk.conn(session))
        .search_tickets(pb::SearchTicketsRequest {
            stage: wanted as i32,
            limit: 200,
            ..Default::default()
        })
        .await?
        .into_inner()
        .tickets;
    Ok(html! {
        @if tickets.is_empty() { p.muted { "暂无 Nothing here." } }
        @else {
            table {
                thead { tr { th { "工单 Ticket" } th { "诉求 Text" } th { "建议 Suggested" } th { "更新 Updated" } } }
                tbody {
                    @for t in &tickets {
                        tr.work data-ticket=(t.id) {
                            td { a href=(format!("/desk/tickets/{}", t.id)) { (t.id) } }
                            td { (t.text.chars().take(40).collect::<String>()) }
                            td { @if let Some(r) = &t.route {
                                @for c in r.categories.iter().take(3) { div { (c.name) " " span.muted { (format!("{:.0}%", c.score * 100.0)) } } }
                            } }
                            td { (time_human(&t.updated_at)) }
                        }
                    }
                }
            }
        }
    })
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    internal_record: String,
    #[serde(default)]
    public_reply: String,
    #[serde(default)]
    station_id: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    satisfaction: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    advice: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    working_days: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    report: String,
    #[serde(default)]
    category: String,
}

enum Act {
    Arbitrate,
    DecideExtension,
    Flag,
    Answer,
    NotAccept,
    Contact,
    Return,
    Extend,
    Pause,
    Resume,
    SubDispatch,
    CoHandlerReport,
    AddCoHandler,
    Reply,
    Dispatch,
    Categorise,
    Review,
    Callback,
    Close,
}

impl Act {
    /// The action a form posts to `/desk/tickets/{id}/{name}`.
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "arbitrate" => Act::Arbitrate,
            "decide-extension" => Act::DecideExtension,
            "flag" => Act::Flag,
            "answer" => Act::Answer,
            "not-accept" => Act::NotAccept,
            "contact" => Act::Contact,
            "return" => Act::Return,
            "extend" => Act::Extend,
            "pause" => Act::Pause,
            "resume" => Act::Resume,
            "subdispatch" => Act::SubDispatch,
            "cohandler-report" => Act::CoHandlerReport,
            "add-cohandler" => Act::AddCoHandler,
            "reply" => Act::Reply,
            "dispatch" => Act::Dispatch,
            "categorise" => Act::Categorise,
            "review" => Act::Review,
            "callback" => Act::Callback,
            "close" => Act::Close,
            _ => return None,
        })
    }
}

async fn ticket_action(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    match Act::named(&action) {
        Some(what) => act(desk, headers, id, form, what).await,
        None => (
            StatusCode::NOT_FOUND,
            format!("no ticket action {action:?}"),
        )
            .into_response(),
    }
}

async fn act(desk: Desk, headers: HeaderMap, id: String, form: ActionForm, what: Act) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let conn = desk.conn(&session);
    let mut supervision = SupervisionClient::new(conn.clone());
    let mut station = StationClient::new(conn.clone());
    let mut intake = IntakeClient::new(conn);
    let ticket_id = id.clone();
    let expected_version = expected_version(&form.version);
    let approve = form.decision == "approve";
    let (done, result) = match what {
        Act::Arbitrate => (
            if approve {
                "已同意退单 Return accepted"
            } else {
                "已驳回 Return rejected"
            },
            supervision
                .arbitrate_return(pb::ArbitrateReturnRequest {
                    ticket_id,
                    expected_version,
                    accept: approve,
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        Act::DecideExtension => (
            if approve {
                "已批准延期 Extension approved"
            } else {
                "不批准延期 Extension refused"
            },
            supervision
                .decide_extension(pb::DecideExtensionRequest {
                    ticket_id,
                    expected_version,
                    approve,
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        Act::Flag => {
            let flag = match form.flag.as_str() {
                "urged" => pb::Flag::Urged,
                "supervised" => pb::Flag::Supervised,
                _ => pb::Flag::Published,
            };
            (
                "已发出 Raised",
                supervision
                    .raise_flag(pb::RaiseFlagRequest {
                        ticket_id,
                        expected_version,
                        flag: flag as i32,
                        note: form.note,
                    })
                    .await
                    .map(|_| ()),
            )
        }
        Act::Answer => (
            "已直办结案 Answered and closed",
            intake
                .answer_directly(pb::AnswerDirectlyRequest {
                    ticket_id,
                    expected_version,
                    answer: form.answer,
                    article: None,
                })
                .await
                .map(|_| ()),
        ),
        Act::NotAccept => (
            "不予受理 Not accepted",
            intake
                .not_accept(pb::NotAcceptRequest {
                    ticket_id,
                    expected_version,
                    advice: form.advice,
                })
                .await
                .map(|_| ()),
        ),
        Act::Contact => (
            "已联系 Caller reached",
            station
                .contact_caller(pb::ContactCallerRequest {
                    ticket_id,
                    expected_version,
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        Act::Return => {
            let reason = match form.reason.as_str() {
                "wrong_territory" => pb::ReturnReason::WrongTerritory,
                "not_our_function" => pb::ReturnReason::NotOurFunction,
                _ => pb::ReturnReason::UnclearOwnership,
            };
            (
                "已申请退单 Return requested",
                station
                    .request_return(pb::RequestReturnRequest {
                        ticket_id,
                        expected_version,
                        reason: reason as i32,
                        basis: form.basis,
                    })
                    .await
                    .map(|_| ()),
            )
        }
        Act::Extend => (
            "已申请延期 Extension requested",
            station
                .request_extension(pb::RequestExtensionRequest {
                    ticket_id,
                    expected_version,
                    // A number the form did not send is 0: the router says what is allowed.
                    working_days: form.working_days.trim().parse().unwrap_or(0),
                    reason: form.reason,
                })
                .await
                .map(|_| ()),
        ),
        Act::Pause => (
            "已暂停计时 Clock paused",
            station
                .pause_clock(pb::PauseClockRequest {
                    ticket_id,
                    expected_version,
                    reason: form.reason,
                })
                .await
                .map(|_| ()),
        ),
        Act::Resume => (
            "已恢复计时 Clock resumed",
            station
                .resume_clock(pb::ResumeClockRequest {
                    ticket_id,
                    expected_version,
                })
                .await
                .map(|_| ()),
        ),
        Act::SubDispatch => (
            "已下派 Sub-dispatched",
            station
                .sub_dispatch(pb::SubDispatchRequest {
                    ticket_id,
                    expected_version,
                    station_id: form.station_id.trim().to_owned(),
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        Act::CoHandlerReport => (
            "已反馈 Reported to the lead",
            station
                .report_as_co_handler(pb::ReportAsCoHandlerRequest {
                    ticket_id,
                    expected_version,
                    report: form.report,
                })
                .await
                .map(|_| ()),
        ),
        Act::AddCoHandler => (
            "已加派协办 Co-handler added",
            supervision
                .add_co_handler(pb::AddCoHandlerRequest {
                    ticket_id,
                    expected_version,
                    station_id: form.station_id.trim().to_owned(),
                })
                .await
                .map(|_| ()),
        ),
        Act::Reply => (
            "已答复 Replied",
            station
                .reply(pb::ReplyRequest {
                    ticket_id,
                    expected_version,
                    internal_record: form.internal_record,
                    public_reply: form.public_reply,
                })
                .await
                .map(|_| ()),
        ),
        Act::Dispatch => (
            "已派单 Dispatched",
            supervision
                .dispatch(pb::DispatchRequest {
                    ticket_id,
                    expected_version,
                    station_id: form.station_id.trim().to_owned(),
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        // A triage suggestion taken: the router re-routes on the category and dispatches.
        Act::Categorise => (
            "已改类别并重新派单 Categorised and re-routed",
            supervision
                .reclassify(pb::ReclassifyRequest {
                    ticket_id,
                    expected_version,
                    category: form.category.trim().to_owned(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::Review => (
            if approve {
                "审核通过 Approved"
            } else {
                "已退回 Sent back"
            },
            supervision
                .review_reply(pb::ReviewReplyRequest {
                    ticket_id,
                    expected_version,
                    approve,
                    note: form.note,
                })
                .await
                .map(|_| ()),
        ),
        Act::Callback => {
            let satisfaction = match form.satisfaction.as_str() {
                "satisfied" => pb::Satisfaction::Satisfied,
                "basic" => pb::Satisfaction::Basic,
                _ => pb::Satisfaction::Dissatisfied,
            };
            (
                "已回访 Callback recorded",
                supervision
                    .record_callback(pb::RecordCallbackRequest {
                        ticket_id,
                        expected_version,
                        satisfaction: satisfaction as i32,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ()),
            )
        }
        Act::Close => (
            "已结案 Closed",
            supervision
                .close(pb::CloseRequest {
                    ticket_id,
                    expected_version,
                })
                .await
                .map(|_| ()),
        ),
    };
    let notice = match result {
        Ok(()) => html! { div.banner.info #done role="status" { (done) } },
        Err(status) if expired(&status) => return to_login("expired"),
        // The loser of two people acting at once sees why, above the ticket as it is now.
        Err(status) => banner(&status),
    };
    respond(ticket_view(&desk, &session, &id, Some(notice)).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loser_of_two_actions_and_a_router_outage_get_words_to_act_on() {
        for code in [tonic::Code::Aborted, tonic::Code::FailedPrecondition] {
            assert!(hint(code).contains("他人"), "{code:?}");
            let shown =
                banner(&tonic::Status::new(code, "ticket is at version 5, not 4")).into_string();
            assert!(
                shown.contains(r#"id="conflict""#) && shown.contains("version 5"),
                "{shown}"
            );
        }
        assert!(hint(tonic::Code::Unavailable).contains("不会丢失"));
        let down = banner(&tonic::Status::unavailable("connection refused")).into_string();
        assert!(down.contains(r#"id="router-error""#), "{down}");
        assert_eq!(hint(tonic::Code::InvalidArgument), "");
    }

    #[test]
    fn router_messages_are_escaped_in_the_banner() {
        let shown = banner(&tonic::Status::invalid_argument(
            "<img src=x onerror=alert(1)>",
        ))
        .into_string();
        assert!(
            shown.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{shown}"
        );
    }

    fn ticket(stage: pb::Stage) -> pb::Ticket {
        pb::Ticket {
            id: "T1".into(),
            stage: stage as i32,
            station_id: "320508021019-css".into(),
            created_at: "2026-03-02T01:00:00Z".into(),
            deadlines: Some(pb::Deadlines {
                resolution: "2026-03-09T09:30:00Z".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn progress_says_where_the_ticket_is_in_words_for_the_caller() {
        let waiting = progress_text(&ticket(pb::Stage::AwaitingSignFor));
        assert!(
            waiting.contains("2026-03-02 09:00") && waiting.contains("等待签收"),
            "{waiting}"
        );
        let mut handling = ticket(pb::Stage::InProgress);
        handling.contacted_at = "2026-03-02T02:00:00Z".into();
        let text = progress_text(&handling);
        assert!(
            text.contains("正在办理中")
                && text.contains("联系")
                && text.contains("办结时限 2026-03-09"),
            "{text}"
        );
        let mut replied = ticket(pb::Stage::Closed);
        replied.reply = Some(pb::Reply {
            public_reply: "电梯已修复".into(),
            ..Default::default()
        });
        let text = progress_text(&replied);
        assert!(
            text.contains("已结案")
                && text.contains("答复：电梯已修复")
                && !text.contains("办结时限"),
            "{text}"
        );
    }

    #[test]
    fn the_override_is_found_in_the_route_explanation() {
        let mut t = ticket(pb::Stage::AwaitingSignFor);
        t.route = Some(pb::RouteExplanation {
            fallbacks: vec![
                "社区未知：街道承办".into(),
                format!("{OVERRIDE_NOTE}：320508021019-css；系统建议 320508021-office"),
            ],
            ..Default::default()
        });
        assert!(override_note(&t)
            .unwrap()
            .contains("系统建议 320508021-office"));
        t.route.as_mut().unwrap().fallbacks.pop();
        assert_eq!(override_note(&t), None);
    }

    #[test]
    fn the_cheat_sheet_lists_every_shortcut_of_its_page() {
        let sheet = cheat_sheet(Page::Intake).into_string();
        for s in shortcuts::on(Page::Intake) {
            assert!(
                sheet.contains(&format!("<kbd>{}</kbd>", s.keys)),
                "{}",
                s.keys
            );
        }
        assert!(
            !sheet.contains("<kbd>Alt+G</kbd>"),
            "a ticket-page shortcut on the intake sheet"
        );
    }
}
