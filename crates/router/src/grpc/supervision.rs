use hotline_core::Action;
use hotline_proto::v1 as pb;
use hotline_proto::v1::supervision_server::Supervision;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{
    division_code, expected_version, flag_in, nature_in, optional, required, satisfaction_in,
    station_id, ticket_id, urgency_in,
};
use super::status::invalid;
use super::{act, shown};
use crate::tickets::Hotline;
use crate::tickets::Reclassification;
use hotline_core::CategoryCode;

pub struct SupervisionApi {
    hotline: Hotline,
}

impl SupervisionApi {
    pub fn new(hotline: Hotline) -> Self {
        Self { hotline }
    }
}

type TicketResult = Result<Response<pb::TicketResponse>, Status>;

#[tonic::async_trait]
impl Supervision for SupervisionApi {
    async fn dispatch(&self, request: Request<pb::DispatchRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::Dispatch {
                    station: station_id("station_id", &req.station_id)?,
                    sign_for_due: None,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn send_to_triage(&self, request: Request<pb::SendToTriageRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::SendToTriage { reason: req.reason }),
        )
        .await
    }

    async fn arbitrate_return(&self, request: Request<pb::ArbitrateReturnRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::ArbitrateReturn {
                    accept: req.accept,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn decide_extension(&self, request: Request<pb::DecideExtensionRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::DecideExtension {
                    approve: req.approve,
                    new_resolution_due: None,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn add_co_handler(&self, request: Request<pb::AddCoHandlerRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::AddCoHandler {
                    station: station_id("station_id", &req.station_id)?,
                    due: None,
                })
            },
        )
        .await
    }

    async fn review_reply(&self, request: Request<pb::ReviewReplyRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::Review {
                    approve: req.approve,
                    callback_due: None,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn record_callback(&self, request: Request<pb::RecordCallbackRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        // The ticket as it was: a reasonable dissatisfaction with a direct answer sends it to
        // dispatch and clears the answer, but the article it came from must still hear of it.
        let before = match ticket_id("ticket_id", &req.ticket_id) {
            Ok(id) => self.hotline.get_as(&who, id).await.ok(),
            Err(_) => None,
        };
        let satisfaction = satisfaction_in("satisfaction", req.satisfaction);
        let done = act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::RecordCallback {
                    satisfaction: required(
                        "satisfaction",
                        satisfaction_in("satisfaction", req.satisfaction),
                    )?,
                    reasonable: req.reasonable,
                    note: req.note,
                    redo_sign_for_due: None,
                })
            },
        )
        .await?;
        if let (Some(before), Ok(Some(satisfaction)), Some(knowledge)) =
            (before, satisfaction, self.hotline.knowledge())
        {
            knowledge
                .callback_recorded(&before, satisfaction, &who)
                .await;
        }
        Ok(done)
    }

    async fn close(&self, request: Request<pb::CloseRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::Close),
        )
        .await
    }

    async fn raise_flag(&self, request: Request<pb::RaiseFlagRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::Flag {
                    flag: required("flag", flag_in("flag", req.flag))?,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn reclassify(&self, request: Request<pb::ReclassifyRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        let id = ticket_id("ticket_id", &req.ticket_id).map_err(invalid)?;
        let change = Reclassification {
            category: optional(&req.category, |s| CategoryCode::parse("category", s))
                .map_err(invalid)?,
            nature: nature_in("nature", req.nature).map_err(invalid)?,
            urgency: urgency_in("urgency", req.urgency).map_err(invalid)?,
            division: division_code("division_code", &req.division_code).map_err(invalid)?,
            address: Some(req.address).filter(|a| !a.trim().is_empty()),
        };
        let ticket = self
            .hotline
            .reclassify_as(&who, id, expected_version(req.expected_version), change)
            .await?;
        Ok(Response::new(pb::TicketResponse {
            ticket: Some(shown(&self.hotline, &who, ticket, &[]).await?),
        }))
    }
}
