//! 并案 from the command line: list and read incidents, link a call, post a notice, give the one
//! reply, close together, split a ticket out. One RPC each on the `Incidents` service, like the
//! rest of [`crate::commands`].

use hotline_proto::v1 as pb;
use hotline_proto::v1::incidents_client::IncidentsClient;
use serde_json::{json, Value};

use crate::cli::{IncidentArgs, IncidentTextArgs, IncidentsArgs, LinkArgs, SplitArgs};
use crate::render::{ticket_json, ticket_line, ticket_summary, time_human};
use crate::Conn as Channel;
use crate::{DeskError, Report};

/// The incident as JSON, field for field.
pub fn incident_json(i: &pb::Incident) -> Value {
    json!({
        "id": i.id,
        "lead_ticket_id": i.lead_ticket_id,
        "station_id": i.station_id,
        "category": i.category,
        "division_code": i.division_code,
        "title": i.title,
        "notice": i.notice.as_ref().map(|n| json!({
            "text": n.text,
            "posted_at": n.posted_at,
            "posted_by": n.posted_by,
        })),
        "ticket_count": i.ticket_count,
        "opened_at": i.opened_at,
        "public_reply": i.public_reply,
        "replied_at": i.replied_at,
        "closed_at": i.closed_at,
    })
}

/// One line per incident: id, count, station, place, whether answered or closed, the title.
pub fn incident_line(i: &pb::Incident) -> String {
    let state = if !i.closed_at.is_empty() {
        format!("已结 closed {}", time_human(&i.closed_at))
    } else if !i.public_reply.is_empty() {
        format!("已答复 replied {}", time_human(&i.replied_at))
    } else {
        format!("办理中 open since {}", time_human(&i.opened_at))
    };
    format!(
        "{}  {} 件 calls  {}  {}  {}  {state}  {}",
        i.id, i.ticket_count, i.station_id, i.division_code, i.category, i.title
    )
}

/// The incident's header lines, then its notice and reply when there are.
fn incident_text(i: &pb::Incident) -> String {
    let mut out = format!(
        "并案 incident  {}\n  {} 件 calls, lead 主件 {}, station 承办 {}\n  {}  {}  {}",
        i.id, i.ticket_count, i.lead_ticket_id, i.station_id, i.division_code, i.category, i.title
    );
    if let Some(n) = &i.notice {
        out.push_str(&format!(
            "\n  公告 notice ({} {}): {}",
            n.posted_by,
            time_human(&n.posted_at),
            n.text
        ));
    }
    if !i.public_reply.is_empty() {
        out.push_str(&format!(
            "\n  统一答复 reply ({}): {}",
            time_human(&i.replied_at),
            i.public_reply
        ));
    }
    if !i.closed_at.is_empty() {
        out.push_str(&format!("\n  已结 closed {}", time_human(&i.closed_at)));
    }
    out
}

fn detail_report(done: &str, detail: pb::IncidentDetail) -> Report {
    let incident = detail.incident.unwrap_or_default();
    let mut text = format!("{done}{}", incident_text(&incident));
    for t in &detail.tickets {
        text.push_str(&format!("\n    {}", ticket_line(t)));
    }
    Report::new(
        text,
        json!({
            "incident": incident_json(&incident),
            "tickets": detail.tickets.iter().map(ticket_json).collect::<Vec<_>>(),
        }),
    )
}

/// ListIncidents.
pub async fn incidents(ch: Channel, args: &IncidentsArgs) -> Result<Report, DeskError> {
    let response = IncidentsClient::new(ch)
        .list_incidents(pb::ListIncidentsRequest {
            include_closed: args.all,
            limit: args.limit,
        })
        .await?
        .into_inner();
    let text = if response.incidents.is_empty() {
        "no incidents".to_owned()
    } else {
        response
            .incidents
            .iter()
            .map(incident_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Report::new(
        text,
        json!({ "incidents": response.incidents.iter().map(incident_json).collect::<Vec<_>>() }),
    ))
}

/// GetIncident: the incident and its tickets, the lead first.
pub async fn incident(ch: Channel, args: &IncidentArgs) -> Result<Report, DeskError> {
    let detail = IncidentsClient::new(ch)
        .get_incident(pb::GetIncidentRequest {
            incident_id: args.incident.clone(),
        })
        .await?
        .into_inner();
    Ok(detail_report("", detail))
}

/// JoinIncident: the operator's "link the call" to the incident of `--to`.
pub async fn link(ch: Channel, args: &LinkArgs) -> Result<Report, DeskError> {
    let response = IncidentsClient::new(ch)
        .join_incident(pb::JoinIncidentRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            of_ticket_id: args.to.clone(),
        })
        .await?
        .into_inner();
    let ticket = response.ticket.unwrap_or_default();
    let incident = response.incident.unwrap_or_default();
    Ok(Report::new(
        format!(
            "并案 linked\n{}{}",
            ticket_summary(&ticket),
            incident_text(&incident)
        ),
        json!({ "ticket": ticket_json(&ticket), "incident": incident_json(&incident) }),
    ))
}

/// PostNotice: operators read the latest on intake.
pub async fn notice(ch: Channel, args: &IncidentTextArgs) -> Result<Report, DeskError> {
    let incident = IncidentsClient::new(ch)
        .post_notice(pb::PostNoticeRequest {
            incident_id: args.incident.clone(),
            text: crate::commands::request_text(&args.text)?,
        })
        .await?
        .into_inner();
    Ok(Report::new(
        format!("公告 notice posted\n{}", incident_text(&incident)),
        json!({ "incident": incident_json(&incident) }),
    ))
}

/// ReplyToIncident: the one public reply to every merged ticket.
pub async fn incident_reply(ch: Channel, args: &IncidentTextArgs) -> Result<Report, DeskError> {
    let detail = IncidentsClient::new(ch)
        .reply_to_incident(pb::ReplyToIncidentRequest {
            incident_id: args.incident.clone(),
            public_reply: crate::commands::request_text(&args.text)?,
        })
        .await?
        .into_inner();
    Ok(detail_report(
        "统一答复 replied: each caller is called back\n",
        detail,
    ))
}

/// CloseIncident: every ticket called back closes, with the incident.
pub async fn close_incident(ch: Channel, args: &IncidentArgs) -> Result<Report, DeskError> {
    let detail = IncidentsClient::new(ch)
        .close_incident(pb::CloseIncidentRequest {
            incident_id: args.incident.clone(),
        })
        .await?
        .into_inner();
    Ok(detail_report("结案 closed together\n", detail))
}

/// SplitTicket: another matter, to triage on its own.
pub async fn split(ch: Channel, args: &SplitArgs) -> Result<Report, DeskError> {
    let response = IncidentsClient::new(ch)
        .split_ticket(pb::SplitTicketRequest {
            incident_id: args.incident.clone(),
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            note: args.note.clone(),
        })
        .await?
        .into_inner();
    let ticket = response.ticket.unwrap_or_default();
    Ok(Report::new(
        format!("拆分 split out\n{}", ticket_summary(&ticket)),
        json!({ "ticket": ticket_json(&ticket) }),
    ))
}
