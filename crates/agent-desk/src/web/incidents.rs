//! 并案 Incidents: calls about one matter grouped under a lead ticket (`Incidents` service).
//! Operators see the list and each incident's latest notice; supervisors post notices, give the
//! one reply to every merged ticket, close them together and split a ticket out. Intake shows
//! the incident a call belongs to (see `preview` in the parent module) with the notice to read.

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hotline_proto::v1 as pb;
use hotline_proto::v1::incidents_client::IncidentsClient;
use maud::{html, Markup};
use serde::Deserialize;

use crate::render::time_human;
use crate::vocab;

use super::{
    banner_with, csrf_ok, expired, forbidden, layout, respond, to_login, Desk, DeskSession, Outcome,
};

const TITLE: &str = "并案 Incidents";

/// What a person should make of a refused incident action.
fn hint(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::FailedPrecondition => {
            "请先处理上面点名的工单 Settle the ticket named above first (a return to decide, a \
             callback to record), then try again."
        }
        tonic::Code::InvalidArgument => "请修改后重试 Correct it and try again.",
        tonic::Code::PermissionDenied => "仅督办可操作 Only supervisors may do this.",
        _ => "",
    }
}

/// The incident's box on intake: its size, the station that handles it, the latest notice to
/// read to the caller, and the two ways to settle the call with it.
pub(super) fn intake_box(incident: &pb::Incident) -> Markup {
    html! {
        div.banner.info #incident role="status" {
            "同一事件 Same matter: " a href=(format!("/desk/incidents/{}", incident.id)) { (incident.title) }
            " · " (incident.ticket_count) " 张工单 tickets · 承办 " (incident.station_id)
            @if let Some(notice) = &incident.notice {
                h3 { "最新公告 Latest notice (" (time_human(&notice.posted_at)) ")" }
                p.notice #incident-notice { (notice.text) }
            } @else {
                p.muted #incident-notice { "暂无公告 No notice yet: tell the caller it is being handled." }
            }
            p {
                button type="submit" form="call" formaction="/desk/intake/join" name="of_ticket_id" value=(incident.id)
                    data-shortcut="Alt+L" { "并入事件 Link the call " (super::shortcuts::key("Alt+L")) }
                @if let Some(notice) = &incident.notice {
                    " "
                    button.secondary type="submit" form="call" formaction="/desk/intake/answer-notice"
                        name="answer" value=(notice.text) { "按公告直办 Answer with the notice" }
                }
            }
        }
    }
}

/// `GET /desk/incidents`.
pub(super) async fn incidents_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let answer = IncidentsClient::new(desk.conn(&session))
        .list_incidents(pb::ListIncidentsRequest {
            include_closed: true,
            limit: 100,
        })
        .await;
    let body = match answer {
        Ok(r) => list_markup(&r.into_inner().incidents),
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => html! { div.panel { h1 { (TITLE) } (banner_with(&status, "")) } },
    };
    respond(Outcome::Page(layout(TITLE, Some(&session), false, body)))
}

fn list_markup(incidents: &[pb::Incident]) -> Markup {
    html! {
        div.panel {
            h1 { (TITLE) }
            p.muted {
                "同一事项的来电并入一个事件，由牵头工单的承办单位统一办理；每张工单各自回访。"
                " Calls about one matter are merged into an incident handled once by the lead ticket's station; each caller is still called back."
            }
            @if incidents.is_empty() {
                p #no-incidents { "暂无事件 No incidents." }
            } @else {
                table.kpis #incidents {
                    thead { tr {
                        th { "事件 Incident" } th { "工单 Tickets" } th { "承办 Station" }
                        th { "牵头状态 Lead" } th { "最新公告 Notice" } th { "开始 Opened" } th { "状态 State" }
                    } }
                    tbody {
                        @for i in incidents {
                            tr data-incident=(i.id) {
                                td { a href=(format!("/desk/incidents/{}", i.id)) { (i.title) } }
                                td.num { (i.ticket_count) }
                                td { (i.station_id) }
                                td { (vocab::stage_label(i.lead_stage)) }
                                td { @if let Some(n) = &i.notice { (n.text) } @else { span.muted { "—" } } }
                                td { (time_human(&i.opened_at)) }
                                td { @if i.closed_at.is_empty() { "处理中 Open" } @else { "已结案 Closed" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /desk/incidents/{id}`.
pub(super) async fn incident_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(incident_view(&desk, &session, &id, None).await)
}

async fn incident_view(
    desk: &Desk,
    session: &DeskSession,
    id: &str,
    notice: Option<Markup>,
) -> Outcome {
    let answer = IncidentsClient::new(desk.conn(session))
        .get_incident(pb::GetIncidentRequest {
            incident_id: id.to_owned(),
        })
        .await;
    let body = match answer {
        Ok(r) => detail_markup(session, notice, &r.into_inner()),
        Err(status) if expired(&status) => return Outcome::Login("expired"),
        Err(status) => html! {
            div.panel {
                h1 { (TITLE) }
                @if let Some(n) = &notice { (n) }
                (banner_with(&status, ""))
                p { a href="/desk/incidents" { "全部事件 All incidents" } }
            }
        },
    };
    Outcome::Page(layout(TITLE, Some(session), false, body))
}

fn detail_markup(
    session: &DeskSession,
    notice: Option<Markup>,
    detail: &pb::IncidentDetail,
) -> Markup {
    let incident = detail.incident.clone().unwrap_or_default();
    let supervisor = session.role == "supervisor";
    let open = incident.closed_at.is_empty();
    let action = |what: &str| format!("/desk/incidents/{}/{what}", incident.id);
    html! {
        div.panel #incident-detail data-incident=(incident.id) {
            h1 { "事件 Incident: " (incident.title) }
            @if let Some(n) = notice { (n) }
            table {
                tr { th { "牵头工单 Lead" } td { a href=(format!("/desk/tickets/{}", incident.lead_ticket_id)) { (incident.lead_ticket_id) }
                    " — " (vocab::stage_label(incident.lead_stage)) } }
                tr { th { "承办 Station" } td { (incident.station_id) } }
                tr { th { "属地 Territory" } td { (incident.division_code) } }
                tr { th { "工单 Tickets" } td #ticket-count { (incident.ticket_count) } }
                tr { th { "开始 Opened" } td { (time_human(&incident.opened_at)) } }
                @if !open { tr { th { "结案 Closed" } td #closed-at { (time_human(&incident.closed_at)) } } }
            }
            h2 { "公告 Public notice" }
            @if let Some(n) = &incident.notice {
                p.notice #latest-notice { (n.text) }
                p.muted { (n.posted_by) " · " (time_human(&n.posted_at)) }
            } @else {
                p.muted #latest-notice { "暂无 None yet." }
            }
            @if supervisor && open {
                form method="post" action=(action("notice")) #notice-form {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "发布新公告 Post a notice (read to callers at intake)"
                        textarea name="text" rows="2" maxlength="4000" required {} }
                    button type="submit" { "发布 Post" }
                }
                h2 { "统一答复 One reply to all merged tickets" }
                @if !incident.public_reply.is_empty() {
                    p #public-reply { (incident.public_reply) }
                    p.muted { (time_human(&incident.replied_at)) }
                }
                form method="post" action=(action("reply")) #reply-form {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "答复内容 Public reply (each caller is then called back)"
                        textarea name="public_reply" rows="3" maxlength="4000" required {} }
                    button type="submit" { "答复全部 Reply to all" }
                }
                form method="post" action=(action("close")) #close-form {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "全部结案 Close all together" }
                }
            }
            h2 { "工单 Tickets" }
            table.kpis #incident-tickets {
                thead { tr { th { "工单 Ticket" } th { "状态 Stage" } th { "诉求 Request" } th { "回访 Callback" }
                    @if supervisor && open { th { "拆分 Split" } } } }
                tbody {
                    @for t in &detail.tickets {
                        tr data-ticket=(t.id) {
                            td { a href=(format!("/desk/tickets/{}", t.id)) { (t.id) }
                                @if t.id == incident.lead_ticket_id { " " span.override { "牵头 lead" } } }
                            td { (vocab::stage_label(t.stage)) }
                            td { (t.text.chars().take(40).collect::<String>()) }
                            td { @if t.callback.is_some() { "已回访 done" } @else { span.muted { "—" } } }
                            @if supervisor && open {
                                td {
                                    @if t.id != incident.lead_ticket_id && t.stage != pb::Stage::Closed as i32 {
                                        form.inline method="post" action=(action("split")) {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="ticket_id" value=(t.id);
                                            input type="text" name="note" placeholder="拆分理由 Why another matter" required;
                                            button.secondary type="submit" { "拆分 Split" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { a href="/desk/incidents" { "全部事件 All incidents" } }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct IncidentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    public_reply: String,
    #[serde(default)]
    ticket_id: String,
    #[serde(default)]
    note: String,
}

/// `POST /desk/incidents/{id}/{action}`: notice, reply, close or split; answered with the
/// incident as it now is and what happened.
pub(super) async fn incident_action(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<IncidentForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let mut client = IncidentsClient::new(desk.conn(&session));
    let done: Result<String, tonic::Status> = match action.as_str() {
        "notice" => client
            .post_notice(pb::PostNoticeRequest {
                incident_id: id.clone(),
                text: form.text,
            })
            .await
            .map(|_| "已发布公告 Notice posted.".to_owned()),
        "reply" => client
            .reply_to_incident(pb::ReplyToIncidentRequest {
                incident_id: id.clone(),
                public_reply: form.public_reply,
            })
            .await
            .map(|_| "已答复全部并案工单，待逐一回访 Replied to every merged ticket: each now waits for its callback.".to_owned()),
        "close" => client
            .close_incident(pb::CloseIncidentRequest {
                incident_id: id.clone(),
            })
            .await
            .map(|r| {
                format!(
                    "已全部结案 Closed together: {} tickets.",
                    r.into_inner().tickets.len()
                )
            }),
        "split" => client
            .split_ticket(pb::SplitTicketRequest {
                incident_id: id.clone(),
                ticket_id: form.ticket_id.clone(),
                expected_version: 0,
                note: form.note,
            })
            .await
            .map(|_| format!("已拆分 Split out: {} (待派单 to triage)", form.ticket_id)),
        _ => return (axum::http::StatusCode::NOT_FOUND, "no such incident action").into_response(),
    };
    let notice = match done {
        Ok(text) => html! { div.banner.info #done role="status" { (text) } },
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner_with(&status, hint(status.code())),
    };
    respond(incident_view(&desk, &session, &id, Some(notice)).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: &str) -> DeskSession {
        DeskSession {
            login: "sup".into(),
            display_name: "督办".into(),
            role: role.into(),
            station_id: String::new(),
            access_token: String::new(),
            csrf: "tok".into(),
        }
    }

    fn detail() -> pb::IncidentDetail {
        let incident = pb::Incident {
            id: "lead-1".into(),
            lead_ticket_id: "lead-1".into(),
            title: "<停水>".into(),
            ticket_count: 2,
            ..Default::default()
        };
        pb::IncidentDetail {
            incident: Some(incident),
            tickets: vec![
                pb::Ticket {
                    id: "lead-1".into(),
                    ..Default::default()
                },
                pb::Ticket {
                    id: "member-1".into(),
                    stage: pb::Stage::Merged as i32,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn a_supervisor_gets_notice_reply_close_and_one_split_per_member_with_the_csrf_token() {
        let page = detail_markup(&session("supervisor"), None, &detail()).into_string();
        for action in ["notice", "reply", "close"] {
            assert!(
                page.contains(&format!(r#"action="/desk/incidents/lead-1/{action}""#)),
                "{action}"
            );
        }
        // The lead is not split out; the member is.
        assert_eq!(
            page.matches(r#"action="/desk/incidents/lead-1/split""#)
                .count(),
            1
        );
        assert!(page.contains(r#"name="ticket_id" value="member-1""#));
        assert_eq!(page.matches(r#"name="csrf" value="tok""#).count(), 4);
        assert!(page.contains("&lt;停水&gt;") && !page.contains("<停水>"));
    }

    #[test]
    fn an_operator_reads_but_does_not_act() {
        let page = detail_markup(&session("operator"), None, &detail()).into_string();
        assert!(!page.contains("<form"), "{page}");
    }

    #[test]
    fn intake_offers_the_notice_to_read_and_to_answer_with() {
        let mut incident = detail().incident.unwrap();
        incident.notice = Some(pb::IncidentNotice {
            text: "预计18时恢复供水".into(),
            ..Default::default()
        });
        let markup = intake_box(&incident).into_string();
        assert!(markup.contains("预计18时恢复供水"));
        assert!(markup.contains(r#"formaction="/desk/intake/join""#));
        assert!(markup.contains(r#"formaction="/desk/intake/answer-notice""#));
        incident.notice = None;
        assert!(!intake_box(&incident)
            .into_string()
            .contains("answer-notice"));
    }
}
