//! The supervisors' SLA board (figures per district, street and station, and the live list of
//! overdue and about-to-breach tickets) and the reports: CSV and Excel exports and the 通报.
//! Every number comes from `Kpis.GetKpis` / `Kpis.ListAtRisk`, in the signed-in person's scope.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_client::KpisClient;
use maud::html;
use serde::Deserialize;

use super::{banner, expired, layout, respond, to_login, Desk, Outcome};
use crate::reports;

/// The period and split a board or report is asked for: local dates, `to` inclusive.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    division: String,
}

impl ReportQuery {
    /// `[from 00:00, to+1 00:00)` in Suzhou time, as the API's RFC 3339; empty stays empty
    /// (the router's default: today).
    fn period(&self) -> (String, String) {
        let day = |raw: &str, next: bool| -> String {
            match chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
                Ok(date) => {
                    let date = if next {
                        date.succ_opt().unwrap_or(date)
                    } else {
                        date
                    };
                    format!("{date}T00:00:00+08:00")
                }
                // Not a date: passed on, so the router's INVALID_ARGUMENT says what is wrong.
                Err(_) => raw.trim().to_owned(),
            }
        };
        (day(&self.from, false), day(&self.to, true))
    }

    fn group(&self) -> pb::KpiGroupBy {
        match self.group.as_str() {
            "district" => pb::KpiGroupBy::District,
            "street" => pb::KpiGroupBy::Street,
            "category" => pb::KpiGroupBy::Category,
            "channel" => pb::KpiGroupBy::Channel,
            "staff" => pb::KpiGroupBy::Staff,
            "day" => pb::KpiGroupBy::Day,
            _ => pb::KpiGroupBy::Station,
        }
    }

    fn request(&self, group: pb::KpiGroupBy) -> pb::GetKpisRequest {
        let (from, to) = self.period();
        pb::GetKpisRequest {
            scope: Some(pb::KpiScope {
                division_code: self.division.trim().to_owned(),
                ..Default::default()
            }),
            from,
            to,
            group_by: group as i32,
        }
    }
}

pub(super) async fn board_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let mut client = KpisClient::new(desk.conn(&session));
    let answer = client.get_kpis(query.request(query.group())).await;
    let body = match answer {
        Err(status) if expired(&status) => return respond(Outcome::Login("expired")),
        Err(status) => banner(&status),
        Ok(report) => {
            let report = report.into_inner();
            let total = report.total.unwrap_or_default();
            let rows: Vec<(String, pb::KpiFigures)> = report
                .rows
                .iter()
                .map(|r| (r.label.clone(), r.figures.unwrap_or_default()))
                .collect();
            html! {
                p.muted { "统计期 Period: " (crate::render::time_human(&report.from)) " — " (crate::render::time_human(&report.to)) }
                @if !report.note.is_empty() { p.warning { (report.note) } }
                div.stats {
                    span { "超期 Overdue now: " strong #overdue-now { (report.overdue_now) } }
                    " · "
                    span { "即将超期 About to breach: " strong { (report.about_to_breach) } }
                    " · 在办 Backlog: "
                    @for band in &report.backlog_by_stage { span.band { (band.band) " " (band.tickets) " " } }
                }
                // The knowledge base's share of the work, beside the direct answers it feeds.
                div.stats #knowledge-stats {
                    span { "直办率 Direct answers: " strong #direct-answers { (reports::ratio(&total.direct_answers).text()) } }
                    " · "
                    span { "知识库命中率 Knowledge hits: " strong #knowledge-hits { (reports::ratio(&total.knowledge_hits).text()) } }
                    " · "
                    span { "待复核条目 Articles due for review: "
                        a #articles-due href="/desk/knowledge" { (report.articles_due_for_review) } }
                }
                h2 { "合计 Total" }
                (reports::figures_table(&[("合计 total".to_owned(), total)]))
                h2 { "分组 By group" }
                (reports::figures_table(&rows))
            }
        }
    };
    let query_string = format!(
        "from={}&to={}&group={}&division={}",
        query.from, query.to, query.group, query.division
    );
    respond(Outcome::Page(layout(
        "督办看板 SLA board",
        Some(&session),
        false,
        html! {
            div.panel {
                h1 { "督办看板 SLA board" }
                form #board-form method="get" action="/desk/board" {
                    label { "从 From " input type="date" name="from" value=(query.from); }
                    label { " 至 To " input type="date" name="to" value=(query.to); }
                    label { " 区划 Division " input name="division" value=(query.division) placeholder="320508"; }
                    label { " 分组 Group "
                        select name="group" {
                            @for (code, name) in [("station", "承办单位 station"), ("street", "街道 street"), ("district", "区 district"), ("category", "类别 category"), ("channel", "渠道 channel"), ("staff", "人员 staff"), ("day", "日 day")] {
                                option value=(code) selected[query.group == code] { (name) }
                            }
                        }
                    }
                    button type="submit" { "查询 Show" }
                }
                p {
                    a #export-csv href=(format!("/desk/board/kpis.csv?{query_string}")) { "导出 CSV" }
                    " · "
                    a #export-xlsx href=(format!("/desk/board/kpis.xlsx?{query_string}")) { "导出 Excel" }
                    " · "
                    a #bulletin href=(format!("/desk/board/bulletin?{query_string}")) { "通报 Bulletin" }
                }
                (body)
                h2 { "超期与即将超期 Overdue and about to breach" }
                // Live: refreshed on every event of the shared stream (a ticket signed, a timer's
                // flag) and every 10 s (a deadline passing is no event); outside any form.
                div #at-risk.live hx-get=(format!("/desk/board/at-risk?division={}", query.division))
                    hx-trigger="load, desk:changed from:body, every 10s, desk:poll from:body" hx-swap="innerHTML" hx-sync="this:queue last" {
                    p.muted { "加载中 Loading…" }
                }
            }
        },
    )))
}

pub(super) async fn at_risk_list(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let answer = KpisClient::new(desk.conn(&session))
        .list_at_risk(pb::ListAtRiskRequest {
            scope: Some(pb::KpiScope {
                division_code: query.division.trim().to_owned(),
                ..Default::default()
            }),
            limit: 200,
        })
        .await;
    let markup = match answer {
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner(&status),
        Ok(list) => {
            let tickets = list.into_inner().tickets;
            html! {
                @if tickets.is_empty() { p.muted { "没有超期或即将超期的工单 Nothing overdue or about to breach." } }
                @else {
                    table.at-risk {
                        thead { tr { th { "灯 Light" } th { "工单 Ticket" } th { "承办单位 Station" } th { "时限 Clock" } th { "到期 Due" } th { "内容 Text" } } }
                        tbody {
                            @for t in &tickets {
                                tr class=(if t.overdue { "red" } else { "yellow" }) {
                                    td { (if t.overdue { "红灯 overdue" } else { "黄灯 warning" }) }
                                    td { a href=(format!("/desk/tickets/{}", t.ticket_id)) { (t.ticket_id) } }
                                    td { (t.station_id) }
                                    td { (t.clock) }
                                    td { (crate::render::time_human(&t.due)) }
                                    td { (t.text) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    markup.into_string().into_response()
}

async fn fetch(
    desk: &Desk,
    session: &super::DeskSession,
    request: pb::GetKpisRequest,
) -> Result<pb::GetKpisResponse, tonic::Status> {
    KpisClient::new(desk.conn(session))
        .get_kpis(request)
        .await
        .map(|r| r.into_inner())
}

fn download(bytes: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub(super) async fn export(
    State(desk): State<Desk>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
    Query(query): Query<ReportQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let report = match fetch(&desk, &session, query.request(query.group())).await {
        Ok(report) => report,
        Err(status) if expired(&status) => return respond(Outcome::Login("expired")),
        Err(status) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                banner(&status).into_string(),
            )
                .into_response()
        }
    };
    let title = format!("12345 KPI {} — {}", report.from, report.to);
    match file.as_str() {
        "kpis.csv" => match reports::csv(&report) {
            Ok(bytes) => download(bytes, "text/csv; charset=utf-8", "kpis.csv"),
            Err(e) => {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        },
        "kpis.xlsx" => match reports::xlsx(&report, &title) {
            Ok(bytes) => download(
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "kpis.xlsx",
            ),
            Err(e) => {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        },
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) async fn bulletin(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let parts = futures_three(
        fetch(&desk, &session, query.request(pb::KpiGroupBy::District)),
        fetch(&desk, &session, query.request(pb::KpiGroupBy::Station)),
        fetch(&desk, &session, query.request(pb::KpiGroupBy::Category)),
    )
    .await;
    let body = match parts {
        Ok((districts, stations, categories)) => reports::bulletin(
            "12345 热线工作通报 Bulletin",
            &districts,
            &stations,
            &categories,
        ),
        Err(status) if expired(&status) => return respond(Outcome::Login("expired")),
        Err(status) => banner(&status),
    };
    respond(Outcome::Page(layout(
        "通报 Bulletin",
        Some(&session),
        false,
        html! { div.panel { (body) } },
    )))
}

/// Three reads at once (one round trip's wait instead of three).
async fn futures_three<A, B, C>(
    a: impl std::future::Future<Output = Result<A, tonic::Status>>,
    b: impl std::future::Future<Output = Result<B, tonic::Status>>,
    c: impl std::future::Future<Output = Result<C, tonic::Status>>,
) -> Result<(A, B, C), tonic::Status> {
    let (a, b, c) = tokio::join!(a, b, c);
    Ok((a?, b?, c?))
}
