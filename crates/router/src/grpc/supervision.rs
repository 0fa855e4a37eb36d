use hotline_core::Action;
use hotline_proto::v1 as pb;
use hotline_proto::v1::supervision_server::Supervision;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{
    division_code, expected_version, flag_in, nature_in, optional, required, satisfaction_in,
    station_id, ticket_id, time_out, urgency_in,
};
use super::status::invalid;
use super::{act, shown};
use crate::tickets::Hotline;
use crate::tickets::Reclassification;
use hotline_core::{CategoryCode, InvalidInput};
use hotline_store::AliasStatus;

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

    async fn list_alias_proposals(
        &self,
        request: Request<pb::ListAliasProposalsRequest>,
    ) -> Result<Response<pb::ListAliasProposalsResponse>, Status> {
        self.list_alias_proposals_impl(request).await
    }

    async fn decide_alias(
        &self,
        request: Request<pb::DecideAliasRequest>,
    ) -> Result<Response<pb::AliasProposal>, Status> {
        self.decide_alias_impl(request).await
    }
}

/// The learned-alias RPCs (thin: the rules are in `crate::aliases`).
impl SupervisionApi {
    fn proposal_out(
        &self,
        proposal: hotline_store::AliasProposal,
        rivals: Vec<pb::AliasProposal>,
    ) -> pb::AliasProposal {
        let directory = self.hotline.directory();
        let mut path: Vec<&str> = directory
            .ancestors(&proposal.division)
            .filter(|d| d.level != hotline_directory::Level::City)
            .map(|d| d.short_name.as_str())
            .collect();
        path.reverse();
        pb::AliasProposal {
            key: proposal.alias,
            alias: proposal.spoken,
            division_code: proposal.division.to_string(),
            division_path: path.concat(),
            agreeing: proposal.agreeing,
            status: alias_status_out(proposal.status) as i32,
            first_at: time_out(Some(proposal.first_at)),
            last_at: time_out(Some(proposal.last_at)),
            decided_by: proposal.decided_by.unwrap_or_default(),
            decided_at: time_out(proposal.decided_at),
            rivals,
        }
    }

    pub(super) async fn list_alias_proposals_impl(
        &self,
        request: Request<pb::ListAliasProposalsRequest>,
    ) -> Result<Response<pb::ListAliasProposalsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let status = match pb::AliasStatus::try_from(req.status) {
            Ok(pb::AliasStatus::Unspecified | pb::AliasStatus::Proposed) => AliasStatus::Proposed,
            Ok(pb::AliasStatus::Confirmed) => AliasStatus::Confirmed,
            Ok(pb::AliasStatus::Rejected) => AliasStatus::Rejected,
            Err(_) => {
                return Err(invalid(InvalidInput::new(
                    "status",
                    format!(
                        "{} is not an alias status (proposed, confirmed, rejected)",
                        req.status
                    ),
                )))
            }
        };
        let room = self.hotline.require_aliases()?;
        let offered = room.list(&who, status).await?;
        let proposals = offered
            .into_iter()
            .map(|o| {
                let rivals = o
                    .rivals
                    .into_iter()
                    .map(|r| self.proposal_out(r, Vec::new()))
                    .collect();
                self.proposal_out(o.proposal, rivals)
            })
            .collect();
        Ok(Response::new(pb::ListAliasProposalsResponse {
            proposals,
            min_agreeing: room.min_agreeing(),
        }))
    }

    pub(super) async fn decide_alias_impl(
        &self,
        request: Request<pb::DecideAliasRequest>,
    ) -> Result<Response<pb::AliasProposal>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        if req.alias.trim().is_empty() {
            return Err(invalid(InvalidInput::new(
                "alias",
                "the alias is required, as ListAliasProposals lists it",
            )));
        }
        let division = required(
            "division_code",
            division_code("division_code", &req.division_code),
        )
        .map_err(invalid)?;
        let room = self.hotline.require_aliases()?;
        let decided = room
            .decide(&who, &req.alias, &division, req.confirm, self.hotline.now())
            .await?;
        Ok(Response::new(self.proposal_out(decided, Vec::new())))
    }
}

fn alias_status_out(status: AliasStatus) -> pb::AliasStatus {
    match status {
        AliasStatus::Proposed => pb::AliasStatus::Proposed,
        AliasStatus::Confirmed => pb::AliasStatus::Confirmed,
        AliasStatus::Rejected => pb::AliasStatus::Rejected,
    }
}
