//! Conversions between `hotline.v1` messages and the domain. Validation of ids, enums and times
//! happens here, at the boundary, with the API's field names in every error.

use chrono::{DateTime, SecondsFormat, Utc};
use hotline_core::lifecycle::Role;
use hotline_core::ticket::{Callback, CoHandler, Outcome};
use hotline_core::{
    Actor, ArticleRef, CategoryCode, Channel, DivisionCode, EmergencyService, Event, Flag,
    GeoPoint, InvalidInput, KioskId, Nature, NewTicket, RequestId, ReturnReason, Satisfaction,
    Stage, StationId, Ticket, TicketId, Urgency,
};
use hotline_proto::v1 as pb;

/// Maps a closed domain vocabulary to and from its proto enum by name:
/// `Stage::AwaitingSignFor` (code `awaiting_sign_for`) <-> `STAGE_AWAITING_SIGN_FOR`.
macro_rules! vocab {
    ($to_domain:ident, $to_proto:ident, $domain:ty, $proto:ty, $prefix:literal, $what:literal) => {
        /// `None` for the unspecified value; an error for a number the API does not define.
        pub fn $to_domain(field: &'static str, raw: i32) -> Result<Option<$domain>, InvalidInput> {
            let value = <$proto>::try_from(raw).map_err(|_| {
                InvalidInput::new(
                    field,
                    format!(concat!("{} is not a ", $what, " value"), raw),
                )
            })?;
            let name = value.as_str_name();
            let Some(code) = name.strip_prefix($prefix) else {
                return Ok(None);
            };
            if code == "UNSPECIFIED" {
                return Ok(None);
            }
            <$domain>::parse(field, &code.to_ascii_lowercase()).map(Some)
        }

        pub fn $to_proto(value: $domain) -> i32 {
            let name = format!(concat!($prefix, "{}"), value.code().to_ascii_uppercase());
            <$proto>::from_str_name(&name).map_or(0, |v| v as i32)
        }
    };
}

vocab!(
    channel_in,
    channel_out,
    Channel,
    pb::Channel,
    "CHANNEL_",
    "channel"
);
vocab!(
    nature_in,
    nature_out,
    Nature,
    pb::Nature,
    "NATURE_",
    "nature"
);
vocab!(
    urgency_in,
    urgency_out,
    Urgency,
    pb::Urgency,
    "URGENCY_",
    "urgency"
);
vocab!(stage_in, stage_out, Stage, pb::Stage, "STAGE_", "stage");
vocab!(flag_in, flag_out, Flag, pb::Flag, "FLAG_", "flag");
vocab!(
    reason_in,
    reason_out,
    ReturnReason,
    pb::ReturnReason,
    "RETURN_REASON_",
    "return reason"
);
vocab!(
    satisfaction_in,
    satisfaction_out,
    Satisfaction,
    pb::Satisfaction,
    "SATISFACTION_",
    "satisfaction"
);
vocab!(
    service_in,
    service_out,
    EmergencyService,
    pb::EmergencyService,
    "EMERGENCY_SERVICE_",
    "emergency service"
);

/// A required enum: the unspecified value is an error naming the field.
pub fn required<T>(
    field: &'static str,
    value: Result<Option<T>, InvalidInput>,
) -> Result<T, InvalidInput> {
    value?.ok_or_else(|| InvalidInput::new(field, "is required"))
}

fn role_out(role: Role) -> i32 {
    match role {
        Role::Operator => pb::Role::Operator as i32,
        Role::Station => pb::Role::Station as i32,
        Role::Supervisor => pb::Role::Supervisor as i32,
        Role::Integrator => pb::Role::Integrator as i32,
        Role::System => pb::Role::Unspecified as i32,
    }
}

fn actor_out(actor: &Actor) -> pb::Actor {
    pb::Actor {
        role: role_out(actor.role),
        staff_id: actor
            .staff
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        station_id: actor
            .station
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

/// Empty means absent; anything else must parse.
pub fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidInput>,
) -> Result<Option<T>, InvalidInput> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

pub fn ticket_id(field: &'static str, raw: &str) -> Result<TicketId, InvalidInput> {
    if raw.trim().is_empty() {
        return Err(InvalidInput::new(field, "is required"));
    }
    TicketId::parse(field, raw)
}

pub fn station_id(field: &'static str, raw: &str) -> Result<StationId, InvalidInput> {
    StationId::parse(field, raw)
}

pub fn division_code(field: &'static str, raw: &str) -> Result<Option<DivisionCode>, InvalidInput> {
    optional(raw, |s| DivisionCode::parse(field, s))
}

/// `0` means "don't check".
/// An article version named in a request: its id must be an article id, its version at least 1.
pub fn article_ref_in(
    field: &'static str,
    raw: Option<&pb::ArticleRef>,
) -> Result<Option<ArticleRef>, InvalidInput> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let id = hotline_knowledge::ArticleId::parse(field, &raw.article_id)?;
    if raw.version == 0 {
        return Err(InvalidInput::new(
            field,
            "name the article's version that was read to the caller (1 or more)",
        ));
    }
    Ok(Some(ArticleRef {
        id: id.to_string(),
        version: raw.version,
    }))
}

pub fn article_ref_out(article: &ArticleRef) -> pb::ArticleRef {
    pb::ArticleRef {
        article_id: article.id.clone(),
        version: article.version,
    }
}

pub fn suggestion_out(s: &crate::knowledge::Suggestion) -> pb::ArticleSuggestion {
    pb::ArticleSuggestion {
        article: Some(article_ref_out(&s.article)),
        title: s.title.clone(),
        answer: s.answer.clone(),
        snippet_html: s.snippet_html.clone(),
        score: s.score,
        territories: s.territories.clone(),
        source_number: s.source_number.clone(),
    }
}

pub fn expected_version(raw: u64) -> Option<u64> {
    (raw != 0).then_some(raw)
}

pub fn time_in(field: &'static str, raw: &str) -> Result<Option<DateTime<Utc>>, InvalidInput> {
    optional(raw, |s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                InvalidInput::new(
                    field,
                    format!("{s:?} is not an RFC 3339 time (e.g. 2026-02-13T09:30:00Z)"),
                )
            })
    })
}

pub fn time_out(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn new_ticket(req: &pb::SubmitTicketRequest) -> Result<NewTicket, InvalidInput> {
    let caller = req.caller.clone().unwrap_or_default();
    let location = req
        .location
        .map(|p| GeoPoint::parse(p.lat, p.lng))
        .transpose()?;
    Ok(NewTicket {
        request_id: optional(&req.request_id, |s| RequestId::parse("request_id", s))?,
        channel: required("channel", channel_in("channel", req.channel))?,
        caller: hotline_core::Caller {
            name: caller.name,
            phone: caller.phone,
            confidential: caller.confidential,
        },
        text: req.text.clone(),
        address: req.address.clone(),
        location,
        kiosk: optional(&req.kiosk_id, |s| KioskId::parse("kiosk_id", s))?,
        category: optional(&req.category, |s| CategoryCode::parse("category", s))?,
        nature: nature_in("nature", req.nature)?.unwrap_or(Nature::Help),
        urgency: urgency_in("urgency", req.urgency)?.unwrap_or(Urgency::Normal),
        division: division_code("division_code", &req.division_code)?,
    })
}

fn outcome_out(outcome: &Outcome) -> pb::Outcome {
    use pb::outcome::Kind;
    let kind = match outcome {
        Outcome::Resolved => Kind::Resolved(pb::outcome::Resolved {}),
        Outcome::AnsweredDirectly { answer, article } => {
            Kind::AnsweredDirectly(pb::outcome::AnsweredDirectly {
                answer: answer.clone(),
                article: article.as_ref().map(article_ref_out),
            })
        }
        Outcome::HandedOff { service, note } => Kind::HandedOff(pb::outcome::HandedOff {
            service: service_out(*service),
            note: note.clone(),
        }),
        Outcome::NotAccepted { advice } => Kind::NotAccepted(pb::outcome::NotAccepted {
            advice: advice.clone(),
        }),
        Outcome::Duplicate { of } => Kind::Duplicate(pb::outcome::Duplicate {
            of_ticket_id: of.to_string(),
        }),
    };
    pb::Outcome { kind: Some(kind) }
}

fn co_handler_out(c: &CoHandler) -> pb::CoHandler {
    pb::CoHandler {
        station_id: c.station.to_string(),
        due: time_out(c.due),
        report: c.report.clone().unwrap_or_default(),
    }
}

fn callback_out(c: &Callback) -> pb::Callback {
    pb::Callback {
        satisfaction: satisfaction_out(c.satisfaction),
        reasonable: c.reasonable,
        note: c.note.clone(),
    }
}

pub fn event_out(event: &Event) -> pb::Event {
    pb::Event {
        seq: event.seq,
        at: time_out(Some(event.at)),
        actor: Some(actor_out(&event.actor)),
        kind: event.action.name().to_owned(),
        stage: stage_out(event.stage),
        detail_json: serde_json::to_string(&event.action).unwrap_or_default(),
    }
}

pub fn ticket_out(t: &Ticket, events: &[Event]) -> pb::Ticket {
    let s = |v: &Option<_>| v.as_ref().map(ToString::to_string).unwrap_or_default();
    pb::Ticket {
        id: t.id.to_string(),
        version: t.version,
        request_id: s(&t.request_id.as_ref().map(|r| r.as_str())),
        channel: channel_out(t.channel),
        caller: Some(pb::Caller {
            name: t.caller.name.clone(),
            phone: t.caller.phone.clone(),
            confidential: t.caller.confidential,
            masked: false,
        }),
        text: t.text.clone(),
        address: t.address.clone(),
        location: t.location.map(|p| pb::GeoPoint {
            lat: p.lat,
            lng: p.lng,
        }),
        kiosk_id: s(&t.kiosk.as_ref().map(|k| k.as_str())),
        category: s(&t.category.as_ref().map(|c| c.as_str())),
        nature: nature_out(t.nature),
        urgency: urgency_out(t.urgency),
        division_code: s(&t.division.as_ref().map(|d| d.as_str())),
        station_id: s(&t.station.as_ref().map(|d| d.as_str())),
        lead_station_id: s(&t.lead_station.as_ref().map(|d| d.as_str())),
        stage: stage_out(t.stage),
        flags: t.flags.iter().map(|f| flag_out(*f)).collect(),
        deadlines: Some(pb::Deadlines {
            sign_for: time_out(t.deadlines.sign_for),
            resolution: time_out(t.deadlines.resolution),
            callback: time_out(t.deadlines.callback),
            first_contact: time_out(t.deadlines.first_contact),
            ..Default::default()
        }),
        co_handlers: t.co_handlers.iter().map(co_handler_out).collect(),
        return_request: t.return_request.as_ref().map(|r| pb::ReturnRequest {
            reason: reason_out(r.reason),
            basis: r.basis.clone(),
        }),
        extension_request: t.extension_request.as_ref().map(|r| pb::ExtensionRequest {
            working_days: r.working_days,
            reason: r.reason.clone(),
        }),
        reply: t.reply.as_ref().map(|r| pb::Reply {
            internal_record: r.internal_record.clone(),
            public_reply: r.public_reply.clone(),
        }),
        callback: t.callback.as_ref().map(callback_out),
        outcome: t.outcome.as_ref().map(outcome_out),
        signed_by: s(&t.signed_by.as_ref().map(|x| x.as_str())),
        return_count: t.return_count,
        redo_count: t.redo_count,
        extension_count: t.extension_count,
        urge_count: t.urge_count,
        created_at: time_out(Some(t.created_at)),
        updated_at: time_out(Some(t.updated_at)),
        events: events.iter().map(event_out).collect(),
        route: t.route.as_deref().map(route_out),
        paused_since: time_out(t.paused.as_ref().map(|p| p.since)),
        pause_reason: t
            .paused
            .as_ref()
            .map(|p| p.reason.clone())
            .unwrap_or_default(),
        contacted_at: time_out(t.contacted_at),
        submitted_by: t
            .submitted_by
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        answered_from: t
            .direct_answer
            .as_ref()
            .and_then(|d| d.article.as_ref())
            .or(match &t.outcome {
                Some(Outcome::AnsweredDirectly { article, .. }) => article.as_ref(),
                _ => None,
            })
            .map(article_ref_out),
        incident_id: t.incident.map(|i| i.to_string()).unwrap_or_default(),
    }
}

/// An incident as the API shows it, with its lead ticket's station and subject.
pub fn incident_out(view: &crate::incidents::IncidentView) -> pb::Incident {
    let record = &view.record;
    let lead = &view.lead;
    pb::Incident {
        id: record.id.to_string(),
        lead_ticket_id: lead.id.to_string(),
        station_id: lead
            .lead_station
            .as_ref()
            .or(lead.station.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        category: lead
            .category
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        division_code: lead
            .division
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        title: lead.text.chars().take(60).collect(),
        notice: record.notice.as_ref().map(|n| pb::IncidentNotice {
            text: n.text.clone(),
            posted_at: time_out(Some(n.at)),
            posted_by: n.by.clone(),
        }),
        ticket_count: record.tickets,
        opened_at: time_out(Some(record.opened_at)),
        public_reply: record
            .reply
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default(),
        replied_at: time_out(record.reply.as_ref().map(|r| r.at)),
        closed_at: time_out(record.closed.as_ref().map(|c| c.at)),
        lead_stage: stage_out(lead.stage),
    }
}

pub fn route_out(e: &hotline_core::route::Explanation) -> pb::RouteExplanation {
    pb::RouteExplanation {
        categories: e
            .categories
            .iter()
            .map(|c| pb::ScoredCategory {
                code: c.code.to_string(),
                name: c.name.clone(),
                score: c.score,
            })
            .collect(),
        drivers: e.drivers.clone(),
        category_source: e.category_source.clone(),
        nature: e.nature.map_or(0, nature_out),
        nature_cues: e.nature_cues.clone(),
        urgency: urgency_out(e.urgency),
        urgency_cues: e.urgency_cues.clone(),
        emergency: e.emergency.map_or(0, service_out),
        emergency_cues: e.emergency_cues.clone(),
        territory: Some(pb::TerritoryMatch {
            division_code: e
                .territory
                .division
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            level: e.territory.level.clone(),
            name: e.territory.name.clone(),
            matched: e.territory.matched.clone(),
            candidates: e.territory.candidates.clone(),
            how: e.territory.how.clone(),
            reason: e.territory.reason.clone(),
        }),
        rule: e.rule.clone().unwrap_or_default(),
        fallbacks: e.fallbacks.clone(),
        station_id: e
            .station
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        triage: e.triage,
        versions: e.versions.clone(),
        confidence: e.confidence.clone(),
    }
}
