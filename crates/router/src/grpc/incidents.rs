//! The `Incidents` service (并案): converts, calls [`crate::incidents`] as the proven principal,
//! converts back.

use hotline_core::{IncidentId, InvalidInput};
use hotline_proto::v1 as pb;
use hotline_proto::v1::incidents_server::Incidents;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{expected_version, incident_out, ticket_id};
use super::shown;
use super::status::invalid;
use crate::incidents::IncidentView;
use crate::tickets::Hotline;

/// List pages: a default that fits a screen, and a cap that keeps one response small.
const LIST_DEFAULT: u32 = 50;
const LIST_MAX: u32 = 500;

pub struct IncidentsApi {
    hotline: Hotline,
}

impl IncidentsApi {
    pub fn new(hotline: Hotline) -> Self {
        Self { hotline }
    }

    async fn detail(
        &self,
        who: &hotline_identity::Principal,
        view: IncidentView,
    ) -> Result<pb::IncidentDetail, Status> {
        let mut tickets = Vec::with_capacity(view.tickets.len());
        for ticket in view.tickets.iter().cloned() {
            tickets.push(shown(&self.hotline, who, ticket, &[]).await?);
        }
        Ok(pb::IncidentDetail {
            incident: Some(incident_out(&view)),
            tickets,
        })
    }
}

fn incident_id(raw: &str) -> Result<IncidentId, Status> {
    if raw.trim().is_empty() {
        return Err(invalid(InvalidInput::new("incident_id", "is required")));
    }
    IncidentId::parse("incident_id", raw).map_err(invalid)
}

#[tonic::async_trait]
impl Incidents for IncidentsApi {
    async fn get_incident(
        &self,
        request: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::IncidentDetail>, Status> {
        let who = principal(&request)?;
        let id = incident_id(&request.get_ref().incident_id)?;
        let view = self.hotline.incident_detail_as(&who, id).await?;
        Ok(Response::new(self.detail(&who, view).await?))
    }

    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        if req.limit > LIST_MAX {
            return Err(invalid(InvalidInput::new(
                "limit",
                format!("is {}; at most {LIST_MAX}", req.limit),
            )));
        }
        let limit = if req.limit == 0 {
            LIST_DEFAULT
        } else {
            req.limit
        };
        let views = self
            .hotline
            .incidents_as(&who, req.include_closed, limit)
            .await?;
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents: views.iter().map(incident_out).collect(),
        }))
    }

    async fn join_incident(
        &self,
        request: Request<pb::JoinIncidentRequest>,
    ) -> Result<Response<pb::JoinIncidentResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let of = ticket_id("of_ticket_id", &req.of_ticket_id).map_err(invalid)?;
        let (ticket, view) = self
            .hotline
            .join_incident_as(&who, id, expected_version(req.expected_version), of)
            .await?;
        Ok(Response::new(pb::JoinIncidentResponse {
            ticket: Some(shown(&self.hotline, &who, ticket, &[]).await?),
            incident: Some(incident_out(&view)),
        }))
    }

    async fn post_notice(
        &self,
        request: Request<pb::PostNoticeRequest>,
    ) -> Result<Response<pb::Incident>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = incident_id(&req.incident_id)?;
        let view = self.hotline.post_notice_as(&who, id, &req.text).await?;
        Ok(Response::new(incident_out(&view)))
    }

    async fn reply_to_incident(
        &self,
        request: Request<pb::ReplyToIncidentRequest>,
    ) -> Result<Response<pb::IncidentDetail>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = incident_id(&req.incident_id)?;
        let view = self
            .hotline
            .reply_to_incident_as(&who, id, &req.public_reply)
            .await?;
        Ok(Response::new(self.detail(&who, view).await?))
    }

    async fn close_incident(
        &self,
        request: Request<pb::CloseIncidentRequest>,
    ) -> Result<Response<pb::IncidentDetail>, Status> {
        let who = principal(&request)?;
        let id = incident_id(&request.get_ref().incident_id)?;
        let view = self.hotline.close_incident_as(&who, id).await?;
        Ok(Response::new(self.detail(&who, view).await?))
    }

    async fn split_ticket(
        &self,
        request: Request<pb::SplitTicketRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = incident_id(&req.incident_id)?;
        let ticket = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let ticket = self
            .hotline
            .split_from_incident_as(
                &who,
                id,
                ticket,
                expected_version(req.expected_version),
                req.note,
            )
            .await?;
        Ok(Response::new(pb::TicketResponse {
            ticket: Some(shown(&self.hotline, &who, ticket, &[]).await?),
        }))
    }
}
