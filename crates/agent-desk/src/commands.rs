//! One function per subcommand, each one RPC. They take a tonic [`Channel`] (cheap to clone) and
//! return a [`Report`]; errors are the router's status, unchanged.

use std::future::Future;
use std::io::Read;
use std::time::Duration;

use crate::Conn as Channel;
use hotline_proto::v1 as pb;
use hotline_proto::v1::directory_client::DirectoryClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use hotline_proto::v1::supervision_client::SupervisionClient;
use serde_json::{json, Value};

use crate::cli::{
    AddCohandlerArgs, AliasStatusArg, AliasesArgs, AnswerArgs, ArbitrateArgs, CallbackArgs,
    ClaimArgs, CohandlerReportArgs, ContactArgs, DecideAliasArgs, DecideExtensionArgs,
    DivisionsArgs, DuplicateArgs, ExtendArgs, FlagArgs, HandoffArgs, PauseArgs, PreviewArgs,
    ReclassifyArgs, RejectArgs, ReplyArgs, ReturnArgs, ReviewArgs, RouteArgs, SearchArgs, ShowArgs,
    StationArgs, StationsArgs, SubmitArgs, TicketArgs, TriageArgs,
};
use crate::render::{
    division_json, division_line, queue_item_json, queue_item_line, route_json, route_summary,
    station_json, station_line, ticket_full, ticket_json, ticket_line, ticket_summary, time_human,
};
use crate::{DeskError, Report};

/// With no end marker for "the current queue has been sent", a one-shot `queue` stops reading
/// after this long without a message. A heuristic that suits a person at a terminal; programs
/// that must not miss anything should keep the stream open (`queue --watch`).
pub const QUEUE_SILENCE: Duration = Duration::from_millis(300);

fn opt(value: Option<&String>) -> String {
    value.cloned().unwrap_or_default()
}

/// What a change printed: what was done, then the ticket as it is now.
fn changed(done: &str, response: pb::TicketResponse) -> Report {
    let ticket = response.ticket.unwrap_or_default();
    Report::new(
        format!("{done}\n{}", ticket_summary(&ticket)),
        json!({ "ticket": ticket_json(&ticket) }),
    )
}

/// A ticket's summary followed by its route, when the router routed it.
fn summary_with_route(ticket: &pb::Ticket) -> String {
    let mut text = ticket_summary(ticket);
    if let Some(route) = &ticket.route {
        text.push_str(&route_summary(route));
    }
    text
}

// ---------------------------------------------------------------- session

fn account_text(a: &pb::StaffAccount) -> String {
    let scope = [a.station_id.as_str(), a.territory.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{} ({}) {} {}", a.login, a.display_name, a.role, scope)
        .trim_end()
        .to_owned()
}

fn account_json(a: &pb::StaffAccount) -> Value {
    json!({
        "login": a.login,
        "display_name": a.display_name,
        "role": a.role,
        "station_id": a.station_id,
        "territory": a.territory,
    })
}

/// `login`: the password from stdin (`--password-stdin`) or asked for without echo.
pub async fn login(
    channel: tonic::transport::Channel,
    server: &str,
    session_path: &std::path::Path,
    args: &crate::cli::LoginArgs,
) -> Result<Report, DeskError> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("密码 / password: ")?
    };
    let response = hotline_proto::v1::auth_client::AuthClient::new(channel)
        .login(pb::LoginRequest {
            login: args.login.clone(),
            password,
        })
        .await?
        .into_inner();
    let account = response.account.clone().unwrap_or_default();
    let session = crate::session::session_from(response, server);
    crate::session::save(session_path, &session)?;
    Ok(Report::new(
        format!(
            "logged in as {}; session saved in {}",
            account_text(&account),
            session_path.display()
        ),
        json!({ "account": account_json(&account), "session_file": session_path.display().to_string() }),
    ))
}

/// `logout`: ends the saved session on the router and deletes the file.
pub async fn logout(
    channel: tonic::transport::Channel,
    session_path: &std::path::Path,
) -> Result<Report, DeskError> {
    let Some(session) = crate::session::load(session_path)? else {
        return Ok(Report::new(
            "not logged in".to_owned(),
            json!({ "logged_out": false }),
        ));
    };
    hotline_proto::v1::auth_client::AuthClient::new(channel)
        .logout(pb::LogoutRequest {
            refresh_token: session.refresh_token,
        })
        .await?;
    std::fs::remove_file(session_path)?;
    Ok(Report::new(
        format!("logged out {}", session.login),
        json!({ "logged_out": true, "login": session.login }),
    ))
}

/// `calendar [--reload]`.
pub async fn calendar(ch: Channel, args: &crate::cli::CalendarArgs) -> Result<Report, DeskError> {
    let mut admin = hotline_proto::v1::admin_client::AdminClient::new(ch);
    let status = if args.reload {
        admin.reload_calendar(pb::ReloadCalendarRequest {}).await?
    } else {
        admin
            .get_calendar_status(pb::GetCalendarStatusRequest {})
            .await?
    }
    .into_inner();
    let years = |ys: &[i32]| {
        ys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut human = format!(
        "已公布 published: {}\n暂定 provisional: {}",
        years(&status.published_years),
        if status.provisional_years.is_empty() {
            "-".to_owned()
        } else {
            years(&status.provisional_years)
        }
    );
    if args.reload {
        human.push_str(&format!(
            "\n重算 recounted: {} of {} open tickets with provisional deadlines",
            status.tickets_recomputed, status.tickets_checked
        ));
    }
    if !status.warning.is_empty() {
        human.push_str(&format!("\n警告 warning: {}", status.warning));
    }
    Ok(Report::new(
        human,
        json!({
            "published_years": status.published_years,
            "provisional_years": status.provisional_years,
            "warning": status.warning,
            "tickets_checked": status.tickets_checked,
            "tickets_recomputed": status.tickets_recomputed,
        }),
    ))
}

pub async fn whoami(ch: Channel) -> Result<Report, DeskError> {
    let account = hotline_proto::v1::auth_client::AuthClient::new(ch)
        .who_am_i(pb::WhoAmIRequest {})
        .await?
        .into_inner();
    Ok(Report::new(account_text(&account), account_json(&account)))
}

// ---------------------------------------------------------------- intake

/// `--text`: as given, or stdin for `-`.
pub(crate) fn request_text(raw: &str) -> Result<String, DeskError> {
    if raw == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text.trim_end().to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

/// `--lat` and `--lng`, both or neither.
fn geo_point(lat: Option<f64>, lng: Option<f64>) -> Result<Option<pb::GeoPoint>, DeskError> {
    match (lat, lng) {
        (Some(lat), Some(lng)) => Ok(Some(pb::GeoPoint { lat, lng })),
        (None, None) => Ok(None),
        _ => Err(DeskError::Usage("give both --lat and --lng".to_owned())),
    }
}

/// SubmitTicket. `--text -` reads the text from stdin.
pub async fn submit(ch: Channel, args: &SubmitArgs) -> Result<Report, DeskError> {
    let text = request_text(&args.text)?;
    let caller =
        (args.name.is_some() || args.phone.is_some() || args.confidential).then(|| pb::Caller {
            name: opt(args.name.as_ref()),
            phone: opt(args.phone.as_ref()),
            confidential: args.confidential,
            masked: false,
        });
    let location = geo_point(args.lat, args.lng)?;
    let request = pb::SubmitTicketRequest {
        request_id: opt(args.request_id.as_ref()),
        channel: args.channel.to_pb() as i32,
        caller,
        text,
        address: opt(args.address.as_ref()),
        location,
        kiosk_id: opt(args.kiosk.as_ref()),
        category: opt(args.category.as_ref()),
        nature: args.nature.map_or(0, |n| n.to_pb() as i32),
        urgency: args.urgency.map_or(0, |u| u.to_pb() as i32),
        division_code: opt(args.division.as_ref()),
        station_id: opt(args.station.as_ref()),
        hold: args.hold,
        route_station_id: opt(args.route_to.as_ref()),
        answer_directly: None,
    };
    let response = IntakeClient::new(ch)
        .submit_ticket(request)
        .await?
        .into_inner();
    let ticket = response.ticket.unwrap_or_default();
    let done = if response.created {
        "受理 created"
    } else {
        "已存在 existing (retry): this request id was already submitted"
    };
    let mut text = format!("{done}\n{}", summary_with_route(&ticket));
    if let Some(original) = &response.duplicate_of {
        text.push_str(&format!(
            "重复 duplicate of {} — its progress:\n{}",
            original.id,
            ticket_summary(original)
        ));
    }
    Ok(Report::new(
        text,
        json!({
            "ticket": ticket_json(&ticket),
            "created": response.created,
            "duplicate_of": response.duplicate_of.as_ref().map(ticket_json),
        }),
    ))
}

/// PreviewRoute: where the router would send this request, and the live ticket it would be
/// linked to; nothing is recorded. `--text -` reads the text from stdin.
pub async fn preview(ch: Channel, args: &PreviewArgs) -> Result<Report, DeskError> {
    let request = pb::PreviewRouteRequest {
        text: request_text(&args.text)?,
        address: opt(args.address.as_ref()),
        location: geo_point(args.lat, args.lng)?,
        kiosk_id: opt(args.kiosk.as_ref()),
        category: opt(args.category.as_ref()),
        nature: args.nature.map_or(0, |n| n.to_pb() as i32),
        urgency: args.urgency.map_or(0, |u| u.to_pb() as i32),
        division_code: opt(args.division.as_ref()),
    };
    let response = IntakeClient::new(ch)
        .preview_route(request)
        .await?
        .into_inner();
    let route = response.route.unwrap_or_default();
    let mut text = format!(
        "预览 preview (未建工单 no ticket created)\n{}",
        route_summary(&route)
    );
    match &response.duplicate_of {
        Some(original) => text.push_str(&format!(
            "重复 duplicate of live ticket {} — its progress:\n{}",
            original.id,
            ticket_summary(original)
        )),
        None => text.push_str("无重复 no live duplicate\n"),
    }
    Ok(Report::new(
        text,
        json!({
            "route": route_json(&route),
            "duplicate_of": response.duplicate_of.as_ref().map(ticket_json),
        }),
    ))
}

/// GetTicket.
pub async fn show(ch: Channel, args: &ShowArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .get_ticket(pb::GetTicketRequest {
            ticket_id: args.ticket.clone(),
            include_history: args.history,
        })
        .await?
        .into_inner();
    let ticket = response.ticket.unwrap_or_default();
    Ok(Report::new(
        ticket_full(&ticket),
        json!({ "ticket": ticket_json(&ticket) }),
    ))
}

/// SearchTickets: one line per ticket, newest first.
pub async fn search(ch: Channel, args: &SearchArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .search_tickets(pb::SearchTicketsRequest {
            stage: args.stage.map_or(0, |s| s.to_pb() as i32),
            station_id: opt(args.station.as_ref()),
            division_code: opt(args.division.as_ref()),
            text_contains: opt(args.text.as_ref()),
            created_after: String::new(),
            created_before: String::new(),
            limit: args.limit.unwrap_or(0),
            page_token: opt(args.page_token.as_ref()),
            caller_phone: opt(args.phone.as_ref()),
        })
        .await?
        .into_inner();
    let mut human: Vec<String> = response.tickets.iter().map(ticket_line).collect();
    human.push(format!("{} 件 ticket(s)", response.tickets.len()));
    if !response.next_page_token.is_empty() {
        human.push(format!("more: --page-token {}", response.next_page_token));
    }
    let next = if response.next_page_token.is_empty() {
        Value::Null
    } else {
        Value::String(response.next_page_token.clone())
    };
    Ok(Report::new(
        human.join("\n"),
        json!({
            "tickets": response.tickets.iter().map(ticket_json).collect::<Vec<_>>(),
            "next_page_token": next,
        }),
    ))
}

/// AnswerDirectly (直办).
pub async fn answer(ch: Channel, args: &AnswerArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .answer_directly(pb::AnswerDirectlyRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            answer: args.answer.clone(),
            article: None,
        })
        .await?;
    Ok(changed("直办 answered directly", response.into_inner()))
}

/// HandOffEmergency (转110/119/120/122).
pub async fn handoff(ch: Channel, args: &HandoffArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .hand_off_emergency(pb::HandOffEmergencyRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            service: args.service.to_pb() as i32,
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("转警 handed off", response.into_inner()))
}

/// NotAccept (不予受理).
pub async fn reject(ch: Channel, args: &RejectArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .not_accept(pb::NotAcceptRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            advice: args.advice.clone(),
        })
        .await?;
    Ok(changed("不予受理 not accepted", response.into_inner()))
}

/// LinkDuplicate: closes this ticket and shows the live one's progress.
pub async fn duplicate(ch: Channel, args: &DuplicateArgs) -> Result<Report, DeskError> {
    let response = IntakeClient::new(ch)
        .link_duplicate(pb::LinkDuplicateRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            duplicate_of: args.of.clone(),
        })
        .await?
        .into_inner();
    let ticket = response.ticket.unwrap_or_default();
    let original = response.original.unwrap_or_default();
    Ok(Report::new(
        format!(
            "重复件 linked as a duplicate\n{}\n原工单 original\n{}",
            ticket_summary(&ticket),
            ticket_summary(&original)
        ),
        json!({ "ticket": ticket_json(&ticket), "original": ticket_json(&original) }),
    ))
}

// ---------------------------------------------------------------- station

async fn open_queue(
    ch: Channel,
    station: &str,
) -> Result<tonic::Streaming<pb::QueueItem>, DeskError> {
    Ok(StationClient::new(ch)
        .watch_queue(pb::WatchQueueRequest {
            station_id: station.to_owned(),
        })
        .await?
        .into_inner())
}

/// WatchQueue, once: the items the router sends before [`QUEUE_SILENCE`] passes without one.
pub async fn queue(ch: Channel, station: &str) -> Result<Report, DeskError> {
    let mut stream = open_queue(ch, station).await?;
    let mut items = Vec::new();
    // The stream never says "that was the current queue"; a short silence is taken to mean it.
    while let Ok(next) = tokio::time::timeout(QUEUE_SILENCE, stream.message()).await {
        match next? {
            Some(item) => items.push(item),
            None => break,
        }
    }
    let mut human: Vec<String> = items.iter().map(queue_item_line).collect();
    human.push(format!("{station}: {} 件待签收 in the queue", items.len()));
    Ok(Report::new(
        human.join("\n"),
        json!({
            "station_id": station,
            "items": items.iter().map(queue_item_json).collect::<Vec<_>>(),
        }),
    ))
}

/// WatchQueue, kept open: calls `on_item` for the current items and then every arrival, until
/// `until` resolves (ctrl-c on the command line) or the router ends the stream.
pub async fn watch_queue<F>(
    ch: Channel,
    station: &str,
    until: impl Future<Output = ()>,
    mut on_item: F,
) -> Result<(), DeskError>
where
    F: FnMut(&Report) -> std::io::Result<()>,
{
    let mut stream = open_queue(ch, station).await?;
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => return Ok(()),
            next = stream.message() => match next? {
                Some(item) => on_item(&Report::new(queue_item_line(&item), queue_item_json(&item)))?,
                None => return Ok(()),
            },
        }
    }
}

/// ClaimTicket: the next ticket (or `--ticket`) under a lease; an empty queue is not an error.
pub async fn claim(ch: Channel, args: &ClaimArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .claim_ticket(pb::ClaimTicketRequest {
            ticket_id: opt(args.ticket.as_ref()),
            lease_seconds: args.lease_seconds.unwrap_or(0),
        })
        .await?
        .into_inner();
    Ok(match response.ticket {
        None => Report::new(
            "队列为空 the queue is empty",
            json!({ "ticket": null, "lease_until": null }),
        ),
        Some(ticket) => Report::new(
            format!(
                "领取 claimed, lease until {} — sign for it before then\n{}",
                time_human(&response.lease_until),
                ticket_summary(&ticket)
            ),
            json!({ "ticket": ticket_json(&ticket), "lease_until": response.lease_until }),
        ),
    })
}

/// SignFor (签收).
pub async fn sign(ch: Channel, args: &TicketArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .sign_for(pb::SignForRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
        })
        .await?;
    Ok(changed("签收 signed for", response.into_inner()))
}

/// ContactCaller (首次联系).
pub async fn contact(ch: Channel, args: &ContactArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .contact_caller(pb::ContactCallerRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("已联系 caller contacted", response.into_inner()))
}

/// PauseClock (waiting on the caller).
pub async fn pause(ch: Channel, args: &PauseArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .pause_clock(pb::PauseClockRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            reason: args.reason.clone(),
        })
        .await?;
    Ok(changed("计时暂停 clock paused", response.into_inner()))
}

/// ResumeClock.
pub async fn resume(ch: Channel, args: &TicketArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .resume_clock(pb::ResumeClockRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
        })
        .await?;
    Ok(changed("计时恢复 clock resumed", response.into_inner()))
}

/// RequestReturn (退单申请).
pub async fn request_return(ch: Channel, args: &ReturnArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .request_return(pb::RequestReturnRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            reason: args.reason.to_pb() as i32,
            basis: args.basis.clone(),
        })
        .await?;
    Ok(changed("退单申请 return requested", response.into_inner()))
}

/// RequestExtension (延期申请).
pub async fn extend(ch: Channel, args: &ExtendArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .request_extension(pb::RequestExtensionRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            working_days: args.days,
            reason: args.reason.clone(),
        })
        .await?;
    Ok(changed(
        "延期申请 extension requested",
        response.into_inner(),
    ))
}

/// SubDispatch (下派).
pub async fn subdispatch(ch: Channel, args: &RouteArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .sub_dispatch(pb::SubDispatchRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            station_id: args.to.clone(),
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("下派 sub-dispatched", response.into_inner()))
}

/// ReportAsCoHandler (协办反馈).
pub async fn cohandler_report(
    ch: Channel,
    args: &CohandlerReportArgs,
) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .report_as_co_handler(pb::ReportAsCoHandlerRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            report: args.report.clone(),
        })
        .await?;
    Ok(changed(
        "协办反馈 co-handler report sent",
        response.into_inner(),
    ))
}

/// Reply (办结答复).
pub async fn reply(ch: Channel, args: &ReplyArgs) -> Result<Report, DeskError> {
    let response = StationClient::new(ch)
        .reply(pb::ReplyRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            internal_record: args.record.clone(),
            public_reply: args.public.clone(),
        })
        .await?;
    Ok(changed("办结答复 replied", response.into_inner()))
}

// ---------------------------------------------------------------- centre

/// Dispatch (派单).
pub async fn dispatch(ch: Channel, args: &RouteArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .dispatch(pb::DispatchRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            station_id: args.to.clone(),
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("派单 dispatched", response.into_inner()))
}

/// SendToTriage.
pub async fn triage(ch: Channel, args: &TriageArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .send_to_triage(pb::SendToTriageRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            reason: opt(args.reason.as_ref()),
        })
        .await?;
    Ok(changed("转分拨 sent to triage", response.into_inner()))
}

/// ArbitrateReturn (退单审核).
pub async fn arbitrate(ch: Channel, args: &ArbitrateArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .arbitrate_return(pb::ArbitrateReturnRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            accept: args.accept,
            note: opt(args.note.as_ref()),
        })
        .await?;
    let done = if args.accept {
        "同意退单 return accepted"
    } else {
        "驳回退单 return refused"
    };
    Ok(changed(done, response.into_inner()))
}

/// DecideExtension (延期审批).
pub async fn decide_extension(
    ch: Channel,
    args: &DecideExtensionArgs,
) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .decide_extension(pb::DecideExtensionRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            approve: args.approve,
            note: opt(args.note.as_ref()),
        })
        .await?;
    let done = if args.approve {
        "同意延期 extension approved"
    } else {
        "不同意延期 extension refused"
    };
    Ok(changed(done, response.into_inner()))
}

/// AddCoHandler (加派/协办).
pub async fn add_cohandler(ch: Channel, args: &AddCohandlerArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .add_co_handler(pb::AddCoHandlerRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            station_id: args.station.clone(),
        })
        .await?;
    Ok(changed("加派协办 co-handler added", response.into_inner()))
}

/// ReviewReply (审核答复).
pub async fn review(ch: Channel, args: &ReviewArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .review_reply(pb::ReviewReplyRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            approve: args.approve,
            note: opt(args.note.as_ref()),
        })
        .await?;
    let done = if args.approve {
        "审核通过 reply approved"
    } else {
        "退回重新答复 reply rejected"
    };
    Ok(changed(done, response.into_inner()))
}

/// RecordCallback (回访).
pub async fn callback(ch: Channel, args: &CallbackArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .record_callback(pb::RecordCallbackRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            satisfaction: args.satisfaction.to_pb() as i32,
            reasonable: args.reasonable,
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("回访 callback recorded", response.into_inner()))
}

/// Close (结案).
pub async fn close(ch: Channel, args: &TicketArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .close(pb::CloseRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
        })
        .await?;
    Ok(changed("结案 closed", response.into_inner()))
}

/// Reclassify (重新分类): corrects category, nature, urgency or place; the router routes the
/// ticket again and it moves to the station the new decision picks.
pub async fn reclassify(ch: Channel, args: &ReclassifyArgs) -> Result<Report, DeskError> {
    let ticket = SupervisionClient::new(ch)
        .reclassify(pb::ReclassifyRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            category: opt(args.category.as_ref()),
            nature: args.nature.map_or(0, |n| n.to_pb() as i32),
            urgency: args.urgency.map_or(0, |u| u.to_pb() as i32),
            division_code: opt(args.division.as_ref()),
            address: opt(args.address.as_ref()),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap_or_default();
    Ok(Report::new(
        format!(
            "重新分类 reclassified and re-routed\n{}",
            summary_with_route(&ticket)
        ),
        json!({ "ticket": ticket_json(&ticket) }),
    ))
}

/// RaiseFlag (催办/督办/通报).
pub async fn flag(ch: Channel, args: &FlagArgs) -> Result<Report, DeskError> {
    let response = SupervisionClient::new(ch)
        .raise_flag(pb::RaiseFlagRequest {
            ticket_id: args.ticket.clone(),
            expected_version: args.expect.raw(),
            flag: args.flag.to_pb() as i32,
            note: opt(args.note.as_ref()),
        })
        .await?;
    Ok(changed("标记 flag raised", response.into_inner()))
}

// ---------------------------------------------------------------- directory

/// ListDivisions: below `PARENT_CODE`, or the city's districts.
pub async fn divisions(ch: Channel, args: &DivisionsArgs) -> Result<Report, DeskError> {
    let response = DirectoryClient::new(ch)
        .list_divisions(pb::ListDivisionsRequest {
            parent_code: opt(args.parent_code.as_ref()),
        })
        .await?
        .into_inner();
    Ok(Report::new(
        response
            .divisions
            .iter()
            .map(division_line)
            .collect::<Vec<_>>()
            .join("\n"),
        json!({ "divisions": response.divisions.iter().map(division_json).collect::<Vec<_>>() }),
    ))
}

fn alias_line(p: &pb::AliasProposal) -> String {
    let rivals = p
        .rivals
        .iter()
        .map(|r| format!("{} ({}) x{}", r.division_path, r.division_code, r.agreeing))
        .collect::<Vec<_>>();
    let mut line = format!(
        "{}  -> {} ({})  一致更正 agreeing {}",
        p.alias, p.division_path, p.division_code, p.agreeing
    );
    if !p.decided_by.is_empty() {
        line.push_str(&format!(
            "  by {} {}",
            p.decided_by,
            time_human(&p.decided_at)
        ));
    }
    if !rivals.is_empty() {
        line.push_str(&format!("\n    also proposed for: {}", rivals.join(", ")));
    }
    line
}

fn alias_json(p: &pb::AliasProposal) -> Value {
    json!({
        "alias": p.alias,
        "key": p.key,
        "division_code": p.division_code,
        "division_path": p.division_path,
        "agreeing": p.agreeing,
        "status": pb::AliasStatus::try_from(p.status).map_or("unknown", |s| match s {
            pb::AliasStatus::Proposed => "proposed",
            pb::AliasStatus::Confirmed => "confirmed",
            pb::AliasStatus::Rejected => "rejected",
            pb::AliasStatus::Unspecified => "unspecified",
        }),
        "decided_by": p.decided_by,
        "decided_at": p.decided_at,
        "rivals": p.rivals.iter().map(alias_json).collect::<Vec<_>>(),
    })
}

/// ListAliasProposals.
pub async fn aliases(ch: Channel, args: &AliasesArgs) -> Result<Report, DeskError> {
    let status = match args.status {
        AliasStatusArg::Proposed => pb::AliasStatus::Proposed,
        AliasStatusArg::Confirmed => pb::AliasStatus::Confirmed,
        AliasStatusArg::Rejected => pb::AliasStatus::Rejected,
    };
    let response = SupervisionClient::new(ch)
        .list_alias_proposals(pb::ListAliasProposalsRequest {
            status: status as i32,
        })
        .await?
        .into_inner();
    let text = if response.proposals.is_empty() {
        format!(
            "no aliases ({} agreeing corrections make a proposal)",
            response.min_agreeing
        )
    } else {
        response
            .proposals
            .iter()
            .map(alias_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Report::new(
        text,
        json!({
            "min_agreeing": response.min_agreeing,
            "proposals": response.proposals.iter().map(alias_json).collect::<Vec<_>>(),
        }),
    ))
}

/// DecideAlias.
pub async fn decide_alias(ch: Channel, args: &DecideAliasArgs) -> Result<Report, DeskError> {
    let decided = SupervisionClient::new(ch)
        .decide_alias(pb::DecideAliasRequest {
            alias: args.alias.clone(),
            division_code: args.division_code.clone(),
            confirm: args.confirm,
        })
        .await?
        .into_inner();
    let verb = if args.confirm {
        "confirmed: new calls are placed by it"
    } else {
        "rejected"
    };
    Ok(Report::new(
        format!("{verb}\n{}", alias_line(&decided)),
        alias_json(&decided),
    ))
}

/// ListStations at a division.
pub async fn stations(ch: Channel, args: &StationsArgs) -> Result<Report, DeskError> {
    let response = DirectoryClient::new(ch)
        .list_stations(pb::ListStationsRequest {
            division_code: args.division_code.clone(),
        })
        .await?
        .into_inner();
    Ok(Report::new(
        response
            .stations
            .iter()
            .map(station_line)
            .collect::<Vec<_>>()
            .join("\n"),
        json!({ "stations": response.stations.iter().map(station_json).collect::<Vec<_>>() }),
    ))
}

/// GetStation.
pub async fn station(ch: Channel, args: &StationArgs) -> Result<Report, DeskError> {
    let s = DirectoryClient::new(ch)
        .get_station(pb::GetStationRequest {
            station_id: args.id.clone(),
        })
        .await?
        .into_inner();
    Ok(Report::new(
        format!(
            "{}\n  {} ({})\n  区划 division  {}  ({})",
            s.id, s.name, s.kind_name, s.division_code, s.level
        ),
        station_json(&s),
    ))
}
