use hotline_core::{Action, Stage};
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::Intake;
use hotline_store::SearchQuery;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{
    self, division_code, expected_version, nature_in, optional, required, route_out, service_in,
    stage_in, ticket_id, time_in, urgency_in,
};
use super::status::invalid;
use super::{act, shown};
use crate::routing::Hints;
use crate::tickets::{Disposition, Hotline};

/// Search pages: a default that fits a screen, and a cap that keeps one response small.
const SEARCH_DEFAULT: u32 = 50;
const SEARCH_MAX: u32 = 500;

pub struct IntakeApi {
    hotline: Hotline,
}

impl IntakeApi {
    pub fn new(hotline: Hotline) -> Self {
        Self { hotline }
    }
}

#[tonic::async_trait]
impl Intake for IntakeApi {
    async fn submit_ticket(
        &self,
        request: Request<pb::SubmitTicketRequest>,
    ) -> Result<Response<pb::SubmitTicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let new = convert::new_ticket(&req).map_err(invalid)?;
        let station =
            optional(&req.station_id, |s| convert::station_id("station_id", s)).map_err(invalid)?;
        let chosen = optional(&req.route_station_id, |s| {
            convert::station_id("route_station_id", s)
        })
        .map_err(invalid)?;
        let direct = req
            .answer_directly
            .as_ref()
            .map(|d| -> Result<_, hotline_core::InvalidInput> {
                Ok((
                    d.answer.clone(),
                    convert::article_ref_in("answer_directly.article", d.article.as_ref())?,
                ))
            })
            .transpose()
            .map_err(invalid)?;
        if direct.is_some() && (station.is_some() || chosen.is_some() || req.hold) {
            return Err(invalid(hotline_core::InvalidInput::new(
                "answer_directly",
                "a request answered at once (直办) is neither dispatched (station_id, \
                 route_station_id) nor held (hold): give one of them",
            )));
        }
        if chosen.is_some() && (station.is_some() || req.hold) {
            return Err(invalid(hotline_core::InvalidInput::new(
                "route_station_id",
                "a routed request with the operator's station is neither dispatched by hand \
                 (station_id) nor held (hold): give one of the three",
            )));
        }
        let hints = || -> Result<Hints, Status> {
            Ok(Hints {
                category: new.category.clone(),
                nature: nature_in("nature", req.nature).map_err(invalid)?,
                urgency: urgency_in("urgency", req.urgency).map_err(invalid)?,
                division: new.division.clone(),
                station: chosen.clone(),
            })
        };
        let disposition = match (station, req.hold) {
            _ if direct.is_some() => {
                let (answer, article) = direct.expect("checked above");
                if answer.trim().is_empty() && article.is_none() {
                    return Err(invalid(hotline_core::InvalidInput::new(
                        "answer_directly.answer",
                        "say what the caller was told, or give the article it came from",
                    )));
                }
                Disposition::Answer {
                    hints: hints()?,
                    answer,
                    article,
                }
            }
            (Some(_), true) => {
                return Err(invalid(hotline_core::InvalidInput::new(
                    "hold",
                    "a held request is not dispatched: give station_id or hold, not both",
                )))
            }
            (Some(station), false) => Disposition::DispatchTo(station),
            (None, true) => Disposition::Hold,
            (None, false) => Disposition::Route(hints()?),
        };
        let submitted = self.hotline.submit_as(&who, new, disposition).await?;
        let duplicate_of = match submitted.duplicate_of {
            Some(t) => Some(shown(&self.hotline, &who, t, &[]).await?),
            None => None,
        };
        Ok(Response::new(pb::SubmitTicketResponse {
            ticket: Some(shown(&self.hotline, &who, submitted.ticket, &[]).await?),
            created: submitted.created,
            duplicate_of,
            incident: submitted.incident.as_ref().map(convert::incident_out),
        }))
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let ticket = self.hotline.get_as(&who, id).await?;
        let events = if req.include_history {
            self.hotline.history_as(&who, &ticket).await?
        } else {
            Vec::new()
        };
        Ok(Response::new(pb::TicketResponse {
            ticket: Some(shown(&self.hotline, &who, ticket, &events).await?),
        }))
    }

    async fn search_tickets(
        &self,
        request: Request<pb::SearchTicketsRequest>,
    ) -> Result<Response<pb::SearchTicketsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let limit = match req.limit {
            0 => SEARCH_DEFAULT,
            n if n > SEARCH_MAX => {
                return Err(invalid(hotline_core::InvalidInput::new(
                    "limit",
                    format!("at most {SEARCH_MAX}"),
                )))
            }
            n => n,
        };
        let query = SearchQuery {
            stage: stage_in("stage", req.stage).map_err(invalid)?,
            station: optional(&req.station_id, |s| convert::station_id("station_id", s))
                .map_err(invalid)?,
            division: division_code("division_code", &req.division_code).map_err(invalid)?,
            text_contains: Some(req.text_contains.trim().to_owned()).filter(|t| !t.is_empty()),
            created_after: time_in("created_after", &req.created_after).map_err(invalid)?,
            created_before: time_in("created_before", &req.created_before).map_err(invalid)?,
            updated_since: None,
            before_id: optional(&req.page_token, |s| ticket_id("page_token", s))
                .map_err(invalid)?,
            submitted_by: None,
            caller_phone: optional(&req.caller_phone, hotline_core::ticket::parse_phone)
                .map_err(invalid)?,
            limit,
        };
        let tickets = self.hotline.search_as(&who, query).await?;
        let next_page_token = if tickets.len() == limit as usize {
            tickets.last().map(|t| t.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut shown_all = Vec::with_capacity(tickets.len());
        for ticket in tickets {
            shown_all.push(shown(&self.hotline, &who, ticket, &[]).await?);
        }
        Ok(Response::new(pb::SearchTicketsResponse {
            tickets: shown_all,
            next_page_token,
        }))
    }

    async fn answer_directly(
        &self,
        request: Request<pb::AnswerDirectlyRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let article = convert::article_ref_in("article", req.article.as_ref()).map_err(invalid)?;
        let action = self.hotline.direct_answer(id, &req.answer, article).await?;
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(action),
        )
        .await
    }

    async fn hand_off_emergency(
        &self,
        request: Request<pb::HandOffEmergencyRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::HandOff {
                    service: required("service", service_in("service", req.service))?,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn not_accept(
        &self,
        request: Request<pb::NotAcceptRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::NotAccept { advice: req.advice }),
        )
        .await
    }

    async fn link_duplicate(
        &self,
        request: Request<pb::LinkDuplicateRequest>,
    ) -> Result<Response<pb::LinkDuplicateResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let of = ticket_id("duplicate_of", &req.duplicate_of).map_err(invalid)?;
        let (ticket, original) = self
            .hotline
            .link_duplicate_as(&who, id, expected_version(req.expected_version), of)
            .await?;
        debug_assert!(original.stage != Stage::Closed);
        Ok(Response::new(pb::LinkDuplicateResponse {
            ticket: Some(shown(&self.hotline, &who, ticket, &[]).await?),
            original: Some(shown(&self.hotline, &who, original, &[]).await?),
        }))
    }

    async fn preview_route(
        &self,
        request: Request<pb::PreviewRouteRequest>,
    ) -> Result<Response<pb::PreviewRouteResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let Some(routing) = self.hotline.routing() else {
            return Err(crate::error::RouterError::Unavailable(
                "automatic routing is not configured on this router".into(),
            )
            .into());
        };
        // The same limits as a submit, so the preview never accepts what a submit refuses.
        let text = hotline_core::ticket::optional_text(
            "text",
            &req.text,
            hotline_core::ticket::TEXT_MAX_CHARS,
        )
        .map_err(invalid)?;
        let address = hotline_core::ticket::optional_text(
            "address",
            &req.address,
            hotline_core::ticket::ADDRESS_MAX_CHARS,
        )
        .map_err(invalid)?;
        let location = req
            .location
            .map(|p| hotline_core::GeoPoint::parse(p.lat, p.lng))
            .transpose()
            .map_err(invalid)?;
        let request = hotline_routing::RouteRequest {
            text: text.clone(),
            address: Some(address).filter(|a| !a.is_empty()),
            location: location.map(|p| (p.lat, p.lng)),
            kiosk: optional(&req.kiosk_id, |s| {
                hotline_core::KioskId::parse("kiosk_id", s)
            })
            .map_err(invalid)?,
            category: optional(&req.category, |s| {
                hotline_core::CategoryCode::parse("category", s)
            })
            .map_err(invalid)?,
            nature: nature_in("nature", req.nature).map_err(invalid)?,
            urgency: urgency_in("urgency", req.urgency).map_err(invalid)?,
            division: division_code("division_code", &req.division_code).map_err(invalid)?,
        };
        let decision = routing.decide_request(&request);
        // A surge on there: its incident, as the submit would join it; else a duplicate.
        let duplicate = match self.hotline.surge_of(&decision).await? {
            Some((_, lead)) => Some(lead),
            None => {
                routing
                    .find_duplicate(
                        self.hotline.store(),
                        self.hotline.queues(),
                        &text,
                        &decision,
                        self.hotline.now(),
                    )
                    .await?
            }
        }
        .filter(|t| crate::access::sees(&who, t, self.hotline.directory()));
        // The incident shows its lead's text: only to those who may read the lead.
        let incident = match &duplicate {
            Some(t) => self
                .hotline
                .incident_for(t)
                .await?
                .filter(|i| crate::access::sees(&who, &i.lead, self.hotline.directory())),
            None => None,
        };
        let duplicate_of = match duplicate {
            Some(t) => Some(shown(&self.hotline, &who, t, &[]).await?),
            None => None,
        };
        let articles = match self.hotline.knowledge() {
            Some(knowledge) => {
                let started = std::time::Instant::now();
                let found = knowledge
                    .suggest(
                        &text,
                        decision.categories.first().map(|c| &c.code),
                        decision.territory.division.as_ref(),
                        knowledge.today(),
                        crate::knowledge::SUGGESTIONS,
                    )
                    .await?;
                metrics::histogram!(crate::metrics::SUGGEST_SECONDS)
                    .record(started.elapsed().as_secs_f64());
                found.iter().map(convert::suggestion_out).collect()
            }
            None => Vec::new(),
        };
        Ok(Response::new(pb::PreviewRouteResponse {
            route: Some(route_out(&decision)),
            duplicate_of,
            articles,
            incident: incident.as_ref().map(convert::incident_out),
        }))
    }
}
