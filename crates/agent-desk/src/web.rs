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
//! # What is here (the first slice of the desk issue)
//! Login and logout; the operator's new-call form with a live route preview (debounced, never
//! during IME composition) and the ticket number shown large; the station's queue with claim and
//! sign-for; the ticket page with the caller masked by the router's rules. An expired session
//! goes back to login, and the half-typed call stays in the browser (sessionStorage).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use hotline_proto::v1 as pb;
use hotline_proto::v1::auth_client::AuthClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use tonic::transport::Channel;

use crate::render::time_human;
use crate::session::{connection, Conn};
use crate::vocab;

mod board;

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
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The desk's routes, under `/desk`, speaking gRPC to the router on `channel`.
pub fn routes(channel: Channel) -> Router {
    let desk = Desk {
        channel,
        sessions: Arc::default(),
    };
    Router::new()
        .route("/desk", get(|| async { Redirect::to("/desk/") }))
        .route("/desk/", get(home))
        .route("/desk/login", get(login_page).post(login))
        .route("/desk/logout", post(logout))
        .route("/desk/intake", get(intake_page).post(submit))
        .route("/desk/intake/preview", post(preview))
        .route("/desk/queue", get(queue_page))
        .route("/desk/queue/list", get(queue_list))
        .route("/desk/tickets/{id}", get(ticket_page))
        .route("/desk/tickets/{id}/claim", post(claim))
        .route("/desk/tickets/{id}/sign", post(sign))
        // Every other ticket action is one form post; the path names it (see `Act::named`).
        .route("/desk/tickets/{id}/{action}", post(ticket_action))
        .route("/desk/work/{stage}", get(work_page))
        .route("/desk/board", get(board::board_page))
        .route("/desk/board/at-risk", get(board::at_risk_list))
        .route("/desk/board/bulletin", get(board::bulletin))
        .route("/desk/board/{file}", get(board::export))
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

/// An error from the router, as a banner a person can act on.
fn banner(status: &tonic::Status) -> Markup {
    let (code, message) = (crate::code_name(status.code()), status.message());
    let hint = match status.code() {
        tonic::Code::Aborted => "工单已被他人更新，请刷新后重试 The ticket changed meanwhile: this page shows it as it is now.",
        tonic::Code::Unavailable => "服务暂不可用，请稍后重试 The router is unavailable; try again in a moment.",
        tonic::Code::PermissionDenied => "无权操作 You may not do this.",
        _ => "",
    };
    html! {
        div.banner.error role="alert" { (code) ": " (message) @if !hint.is_empty() { br; (hint) } }
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
                link rel="stylesheet" href="/desk/assets/desk.css";
                script src="/desk/assets/htmx.js" defer {}
                script src="/desk/assets/desk.js" defer {}
            }
            body data-clear-draft=[clear_draft.then_some("1")] {
                header.bar {
                    strong { "12345 工作台" }
                    @if let Some(s) = session {
                        @if s.role == "operator" || s.role == "supervisor" { a href="/desk/intake" { "受理 Intake" } }
                        @if s.role == "station_staff" { a href="/desk/queue" { "待签收 Queue" } }
                        @if s.role == "operator" || s.role == "supervisor" {
                            a href="/desk/work/pending_dispatch" { "待派单 Triage" }
                            a href="/desk/work/awaiting_callback" { "待回访 Callbacks" }
                        }
                        a href="/desk/board" { "看板 Board" }
                        @if s.role == "supervisor" {
                            a href="/desk/work/pending_review" { "待审核 Review" }
                            a href="/desk/work/return_requested" { "退单审核 Returns" }
                        }
                        span.who { (s.display_name) " (" (s.login) ", " (s.role) ")" }
                        form method="post" action="/desk/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.secondary type="submit" { "退出 Log out" }
                        }
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
}

async fn intake_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(Outcome::Page(layout(
        "受理 Intake",
        Some(&session),
        false,
        html! {
            div.cols {
                div.panel {
                    h1 { "新来电 New call" }
                    form #call method="post" action="/desk/intake"
                        hx-post="/desk/intake/preview" hx-trigger="desk:preview" hx-target="#preview" hx-swap="innerHTML" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label for="phone" { "来电号码 Phone " kbd { "Alt+P" } }
                        input #phone name="phone" inputmode="tel" autocomplete="off";
                        label for="name" { "姓名 Name" }
                        input #name name="name" autocomplete="off";
                        label for="text" { "诉求内容 What the caller says" }
                        textarea #text name="text" required {}
                        label for="address" { "地址 Address" }
                        input #address name="address" autocomplete="off";
                        label { input type="checkbox" name="confidential" value="1"; " 保密 Confidential (always offer for 举报)" }
                        p {
                            button type="submit" { "提交 Submit" } " " kbd { "Ctrl+Enter" }
                        }
                    }
                    details {
                        summary { "快捷键 Shortcuts" }
                        table {
                            tr { td { kbd { "Ctrl+Enter" } } td { "提交来电 Submit the call" } }
                            tr { td { kbd { "Alt+P" } } td { "来电号码 Focus the phone field" } }
                        }
                    }
                }
                div.panel {
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
    let markup = html! {
        @if route.emergency != 0 {
            div.banner.emergency role="alert" {
                "紧急！请转 " (vocab::service_label(route.emergency)) " Emergency: hand off"
            }
        }
        table {
            tr { th { "类别 Category" } td {
                @for c in route.categories.iter().take(3) {
                    div { (c.name) " " span.muted { (c.code) " " (format!("{:.0}%", c.score * 100.0)) } }
                }
            } }
            tr { th { "性质 Nature" } td { (vocab::nature_label(route.nature)) } }
            tr { th { "紧急 Urgency" } td { (vocab::urgency_label(route.urgency)) } }
            tr { th { "属地 Territory" } td { (territory.name) " " span.muted { (territory.division_code) } @if !territory.matched.is_empty() { br; "「" (territory.matched) "」" } } }
            tr { th { "承办 Station" } td {
                (route.station_id)
                @if route.triage { " " span.light-yellow { "待派单 triage" } }
            } }
            tr { th { "依据 Why" } td.muted { (route.rule) @for f in &route.fallbacks { br; (f) } } }
        }
        @if let Some(dup) = &preview.duplicate_of {
            div.banner.info {
                "可能重复 Possible duplicate: " a href=(format!("/desk/tickets/{}", dup.id)) { (dup.id) }
                " — " (vocab::stage_label(dup.stage))
            }
        }
    };
    Html(markup.into_string()).into_response()
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
    let caller = pb::Caller {
        name: form.name.trim().to_owned(),
        phone: form.phone.trim().to_owned(),
        confidential: form.confidential.is_some(),
        masked: false,
    };
    let answer = IntakeClient::new(desk.conn(&session))
        .submit_ticket(pb::SubmitTicketRequest {
            request_id: format!("desk-{}", random_token()),
            channel: pb::Channel::Hotline as i32,
            caller: Some(caller),
            text: form.text.clone(),
            address: form.address.clone(),
            ..Default::default()
        })
        .await;
    let submitted = match answer {
        Ok(r) => r.into_inner(),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => {
            return respond(Outcome::Page(layout(
                "受理 Intake",
                Some(&session),
                false,
                html! { (banner(&status)) p { a href="/desk/intake" { "返回 Back to the call (kept)" } } },
            )))
        }
    };
    let ticket = submitted.ticket.unwrap_or_default();
    respond(Outcome::Page(layout(
        "已受理 Accepted",
        Some(&session),
        true,
        html! {
            div.panel {
                p { "工单编号 Ticket number (read it to the caller):" }
                p.number #ticket-number { (ticket.id) }
                p { (vocab::stage_label(ticket.stage)) " · " (ticket.station_id) }
                @if let Some(dup) = &submitted.duplicate_of {
                    div.banner.info { "已并入 Linked to " (dup.id) " — " (vocab::stage_label(dup.stage)) }
                }
                p { a href="/desk/intake" { "下一个来电 Next call" } " · " a href=(format!("/desk/tickets/{}", ticket.id)) { "查看工单 Open the ticket" } }
            }
        },
    )))
}

// ---------------------------------------------------------------- station

async fn queue_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(Outcome::Page(layout(
        "待签收 Queue",
        Some(&session),
        false,
        html! {
            div.panel {
                h1 { "待签收 Queue · " (session.station_id) }
                // Live: the list refreshes itself; a new arrival appears without a reload.
                div #queue hx-get="/desk/queue/list" hx-trigger="load, every 3s" hx-swap="innerHTML" {
                    p.muted { "加载中 Loading…" }
                }
            }
        },
    )))
}

async fn queue_list(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let answer = IntakeClient::new(desk.conn(&session))
        .search_tickets(pb::SearchTicketsRequest {
            stage: pb::Stage::AwaitingSignFor as i32,
            limit: 200,
            ..Default::default()
        })
        .await;
    let mut tickets = match answer {
        Ok(r) => r.into_inner().tickets,
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => return Html(banner(&status).into_string()).into_response(),
    };
    // By deadline, soonest first.
    tickets.sort_by(|a, b| {
        let due = |t: &pb::Ticket| t.deadlines.clone().unwrap_or_default().sign_for;
        due(a).cmp(&due(b))
    });
    let markup = html! {
        @if tickets.is_empty() { p.muted #queue-empty { "队列为空 Nothing waiting." } }
        @else {
            table {
                thead { tr { th { "工单 Ticket" } th { "诉求 Text" } th { "签收时限 Sign-for due" } th {} } }
                tbody {
                    @for t in &tickets {
                        @let due = t.deadlines.clone().unwrap_or_default();
                        tr.queued data-ticket=(t.id) {
                            td { a href=(format!("/desk/tickets/{}", t.id)) { (t.id) } }
                            td { (t.text.chars().take(40).collect::<String>()) }
                            td { (time_human(&due.sign_for))
                                @if !due.provisional.is_empty() { " " span.provisional { "暂定" } } }
                            td {
                                form method="post" action=(format!("/desk/tickets/{}/sign", t.id)) {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button type="submit" { "签收 Sign for" }
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
                html! { (banner(&status)) },
            ))
        }
    };
    let caller = ticket.caller.clone().unwrap_or_default();
    let due = ticket.deadlines.clone().unwrap_or_default();
    Outcome::Page(layout(
        "工单 Ticket",
        Some(session),
        false,
        html! {
            @if let Some(n) = notice { (n) }
            div.panel {
                h1 { "工单 " span #ticket-id { (ticket.id) } }
                p { strong #stage { (vocab::stage_label(ticket.stage)) } " · " (ticket.station_id) " · v" (ticket.version) }
                table {
                    tr { th { "来电人 Caller" } td #caller {
                        @if caller.name.is_empty() && caller.phone.is_empty() && caller.masked { "保密 confidential" }
                        @else { (caller.name) " " (caller.phone) }
                        @if caller.masked { " " span.muted { "(已脱敏 masked)" } }
                    } }
                    tr { th { "诉求 Text" } td #text { (ticket.text) } }
                    tr { th { "地址 Address" } td { (ticket.address) } }
                    tr { th { "签收时限 Sign-for due" } td { (time_human(&due.sign_for)) } }
                    tr { th { "办结时限 Resolution due" } td { (time_human(&due.resolution))
                        @if due.provisional.iter().any(|p| p == "resolution") { " " span.provisional { "暂定" } } } }
                }
                @if session.role == "station_staff" && ticket.stage == pb::Stage::AwaitingSignFor as i32 {
                    form method="post" action=(format!("/desk/tickets/{}/sign", ticket.id)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "签收 Sign for" }
                    }
                }
                (actions(session, &ticket))
                @if let Some(reply) = &ticket.reply {
                    h2 { "答复 Reply" }
                    p #public-reply { (reply.public_reply) }
                }
                @if let Some(route) = &ticket.route {
                    h2 { "路由 Route" }
                    p.muted { (route.rule) @for f in &route.fallbacks { br; (f) } }
                }
                h2 { "历史 History" }
                table {
                    @for e in &ticket.events {
                        tr { td { (e.seq) } td { (time_human(&e.at)) } td { (e.kind) } td { (vocab::stage_label(e.stage)) } }
                    }
                }
            }
        },
    ))
}

async fn claim(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    station_action(desk, headers, id, form, true).await
}

async fn sign(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    station_action(desk, headers, id, form, false).await
}

async fn station_action(
    desk: Desk,
    headers: HeaderMap,
    id: String,
    form: CsrfForm,
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
                expected_version: 0,
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

// ---------------------------------------------------------------- work lists and actions

/// The forms a person may use on a ticket at its stage (the router still decides).
fn actions(session: &DeskSession, ticket: &pb::Ticket) -> Markup {
    let stage = pb::Stage::try_from(ticket.stage).unwrap_or(pb::Stage::Unspecified);
    let url = |what: &str| format!("/desk/tickets/{}/{what}", ticket.id);
    let csrf = html! { input type="hidden" name="csrf" value=(session.csrf); };
    let centre = session.role == "operator" || session.role == "supervisor";
    html! {
        @if session.role == "station_staff" && stage == pb::Stage::InProgress {
            h2 { "办结答复 Reply" }
            form #reply-form method="post" action=(url("reply")) {
                (csrf)
                label for="record" { "办理情况（内部） What was done (internal)" }
                textarea #record name="internal_record" required {}
                label for="public" { "答复内容（群众可见） The reply the citizen sees" }
                textarea #public name="public_reply" required {}
                p { button type="submit" { "提交答复 Reply" } }
            }
        }
        @if session.role == "station_staff" && stage == pb::Stage::InProgress {
            div.cols {
                form method="post" action=(url("contact")) {
                    (csrf)
                    h2 { "首次联系 Contact" }
                    input name="note" placeholder="联系情况 How the caller was reached";
                    p { button type="submit" { "已联系 Caller reached" } }
                }
                form method="post" action=(url("extend")) {
                    (csrf)
                    h2 { "延期申请 Extension" }
                    input name="working_days" type="number" min="1" max="30" value="3";
                    input name="reason" placeholder="理由 Reason" required;
                    p { button type="submit" { "申请延期 Ask" } }
                }
            }
        }
        @if session.role == "station_staff"
            && (stage == pb::Stage::AwaitingSignFor || stage == pb::Stage::InProgress) {
            h2 { "退单 Return" }
            form method="post" action=(url("return")) {
                (csrf)
                select name="reason" {
                    option value="wrong_territory" { "属地不符 wrong territory" }
                    option value="not_our_function" { "职能不符 not our function" }
                    option value="unclear_ownership" { "权属不清 unclear ownership" }
                }
                input name="basis" placeholder="依据 Basis" required;
                p { button.secondary type="submit" { "申请退单 Ask to return" } }
            }
        }
        @if centre && (stage == pb::Stage::Accepted || stage == pb::Stage::PendingDispatch) {
            div.cols {
                form #answer-form method="post" action=(url("answer")) {
                    (csrf)
                    h2 { "直办 Answer directly" }
                    textarea name="answer" required {}
                    p { button type="submit" { "直办结案 Answer and close" } }
                }
                form method="post" action=(url("not-accept")) {
                    (csrf)
                    h2 { "不予受理 Not accepted" }
                    textarea name="advice" required {}
                    p { button.secondary type="submit" { "不予受理 Not accept" } }
                }
            }
        }
        @if centre && stage == pb::Stage::PendingDispatch {
            h2 { "派单 Dispatch" }
            form method="post" action=(url("dispatch")) {
                (csrf)
                label for="station" { "承办单位 Station" }
                input #station name="station_id" required
                    value=(ticket.route.as_ref().map(|r| r.station_id.clone()).filter(|s| !s.ends_with("-triage")).unwrap_or_default());
                p { button type="submit" { "派单 Dispatch" } }
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
                input name="note" placeholder="意见 Note";
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
                input name="note" placeholder="意见 Note";
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
                select name="flag" {
                    option value="urged" { "催办 urge" }
                    option value="supervised" { "督办 supervise" }
                    option value="published" { "通报 publish" }
                }
                input name="note" placeholder="说明 Note";
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

/// A work list by stage: triage (待派单), review (待审核), callbacks (待回访).
async fn work_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(stage): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let (wanted, title) = match stage.as_str() {
        "pending_dispatch" => (pb::Stage::PendingDispatch, "待派单 Triage"),
        "pending_review" => (pb::Stage::PendingReview, "待审核 Review"),
        "awaiting_callback" => (pb::Stage::AwaitingCallback, "待回访 Callbacks"),
        "return_requested" => (pb::Stage::ReturnRequested, "退单审核 Returns"),
        _ => return (StatusCode::NOT_FOUND, "no such work list").into_response(),
    };
    let answer = IntakeClient::new(desk.conn(&session))
        .search_tickets(pb::SearchTicketsRequest {
            stage: wanted as i32,
            limit: 200,
            ..Default::default()
        })
        .await;
    let tickets = match answer {
        Ok(r) => r.into_inner().tickets,
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => {
            return respond(Outcome::Page(layout(
                title,
                Some(&session),
                false,
                banner(&status),
            )))
        }
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
            }
        },
    )))
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
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
    Reply,
    Dispatch,
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
            "reply" => Act::Reply,
            "dispatch" => Act::Dispatch,
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
    let mut supervision =
        hotline_proto::v1::supervision_client::SupervisionClient::new(conn.clone());
    let ticket_id = id.clone();
    let mut intake = IntakeClient::new(conn.clone());
    let (done, result) = match what {
        Act::Arbitrate => (
            if form.decision == "approve" {
                "已同意退单 Return accepted"
            } else {
                "已驳回 Return rejected"
            },
            supervision
                .arbitrate_return(pb::ArbitrateReturnRequest {
                    ticket_id,
                    accept: form.decision == "approve",
                    note: form.note,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::DecideExtension => (
            if form.decision == "approve" {
                "已批准延期 Extension approved"
            } else {
                "不批准延期 Extension refused"
            },
            supervision
                .decide_extension(pb::DecideExtensionRequest {
                    ticket_id,
                    approve: form.decision == "approve",
                    note: form.note,
                    ..Default::default()
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
                        flag: flag as i32,
                        note: form.note,
                        ..Default::default()
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
                    answer: form.answer,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::NotAccept => (
            "不予受理 Not accepted",
            intake
                .not_accept(pb::NotAcceptRequest {
                    ticket_id,
                    advice: form.advice,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::Contact => (
            "已联系 Caller reached",
            StationClient::new(conn.clone())
                .contact_caller(pb::ContactCallerRequest {
                    ticket_id,
                    note: form.note,
                    ..Default::default()
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
                StationClient::new(conn.clone())
                    .request_return(pb::RequestReturnRequest {
                        ticket_id,
                        reason: reason as i32,
                        basis: form.basis,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ()),
            )
        }
        Act::Extend => (
            "已申请延期 Extension requested",
            StationClient::new(conn.clone())
                .request_extension(pb::RequestExtensionRequest {
                    ticket_id,
                    // A number the form did not send is 0: the router says what is allowed.
                    working_days: form.working_days.trim().parse().unwrap_or(0),
                    reason: form.reason,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::Reply => (
            "已答复 Replied",
            StationClient::new(conn)
                .reply(pb::ReplyRequest {
                    ticket_id,
                    expected_version: 0,
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
                    station_id: form.station_id.trim().to_owned(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        Act::Review => (
            if form.decision == "approve" {
                "审核通过 Approved"
            } else {
                "已退回 Sent back"
            },
            supervision
                .review_reply(pb::ReviewReplyRequest {
                    ticket_id,
                    approve: form.decision == "approve",
                    note: form.note,
                    ..Default::default()
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
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
    };
    let notice = match result {
        Ok(()) => html! { div.banner.info role="status" { (done) } },
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner(&status),
    };
    respond(ticket_view(&desk, &session, &id, Some(notice)).await)
}
