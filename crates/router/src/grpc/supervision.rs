use hotline_core::Action;
use hotline_proto::v1 as pb;
use hotline_proto::v1::supervision_server::Supervision;
use tonic::{Request, Response, Status};

use super::act;
use super::convert::{flag_in, required, satisfaction_in, station_id};
use crate::tickets::Hotline;

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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
            || Ok(Action::SendToTriage { reason: req.reason }),
        )
        .await
    }

    async fn arbitrate_return(&self, request: Request<pb::ArbitrateReturnRequest>) -> TicketResult {
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
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
        .await
    }

    async fn close(&self, request: Request<pb::CloseRequest>) -> TicketResult {
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
            || Ok(Action::Close),
        )
        .await
    }

    async fn raise_flag(&self, request: Request<pb::RaiseFlagRequest>) -> TicketResult {
        let req = request.into_inner();
        act(
            &self.hotline,
            &req.ticket_id,
            req.expected_version,
            req.actor,
            || {
                Ok(Action::Flag {
                    flag: required("flag", flag_in("flag", req.flag))?,
                    note: req.note,
                })
            },
        )
        .await
    }
}
