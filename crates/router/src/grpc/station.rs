use std::pin::Pin;

use chrono::Duration;
use futures::Stream;
use hotline_core::Action;
use hotline_dispatch::QueuedItem;
use hotline_proto::v1 as pb;
use hotline_proto::v1::station_server::Station;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::auth::principal;
use super::convert::{optional, reason_in, required, station_id, ticket_id, time_out, urgency_out};
use super::status::invalid;
use super::{act, shown};
use crate::error::RouterError;
use crate::tickets::Hotline;

pub struct StationApi {
    hotline: Hotline,
    /// Flips to true at shutdown, so open watch streams end and the server can drain.
    shutdown: watch::Receiver<bool>,
}

impl StationApi {
    pub fn new(hotline: Hotline, shutdown: watch::Receiver<bool>) -> Self {
        Self { hotline, shutdown }
    }
}

type TicketResult = Result<Response<pb::TicketResponse>, Status>;

fn item_out(item: &QueuedItem) -> pb::QueueItem {
    pb::QueueItem {
        ticket_id: item.entry.ticket.to_string(),
        station_id: item.entry.station.to_string(),
        urgency: urgency_out(item.entry.urgency),
        sign_for_due: time_out(item.entry.due),
        enqueued_at: time_out(Some(item.entry.enqueued_at)),
        leased_by: item
            .lease
            .as_ref()
            .map(|l| l.holder.to_string())
            .unwrap_or_default(),
        lease_until: time_out(item.lease.as_ref().map(|l| l.until)),
    }
}

#[tonic::async_trait]
impl Station for StationApi {
    type WatchQueueStream =
        Pin<Box<dyn Stream<Item = Result<pb::QueueItem, Status>> + Send + 'static>>;

    async fn watch_queue(
        &self,
        request: Request<pb::WatchQueueRequest>,
    ) -> Result<Response<Self::WatchQueueStream>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let station = station_id("station_id", &req.station_id).map_err(invalid)?;
        self.hotline.may_watch(&who, &station)?;
        let queue = self.hotline.queues().queue().clone();
        // Subscribe before listing, so nothing that arrives in between is missed.
        let mut arrivals = queue.subscribe(&station).await.map_err(RouterError::from)?;
        let current = queue
            .list(&station, self.hotline.now())
            .await
            .map_err(RouterError::from)?;
        let (tx, rx) = mpsc::channel(64);
        let mut shutdown = self.shutdown.clone();
        let hotline = self.hotline.clone();
        tokio::spawn(async move {
            for item in &current {
                if tx.send(Ok(item_out(item))).await.is_err() {
                    return;
                }
            }
            loop {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                    arrival = arrivals.recv() => match arrival {
                        Ok(entry) if entry.station == station => {
                            let item = QueuedItem { entry, lease: None };
                            if tx.send(Ok(item_out(&item))).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Too far behind to trust the stream: send the whole queue again.
                            let Ok(items) = queue.list(&station, hotline.now()).await else { return };
                            for item in &items {
                                if tx.send(Ok(item_out(item))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn claim_ticket(
        &self,
        request: Request<pb::ClaimTicketRequest>,
    ) -> Result<Response<pb::ClaimTicketResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let ticket = optional(&req.ticket_id, |s| ticket_id("ticket_id", s)).map_err(invalid)?;
        let lease =
            (req.lease_seconds != 0).then(|| Duration::seconds(i64::from(req.lease_seconds)));
        let claimed = self.hotline.claim_as(&who, ticket, lease).await?;
        Ok(Response::new(match claimed {
            Some((ticket, lease)) => pb::ClaimTicketResponse {
                ticket: Some(shown(&self.hotline, &who, ticket, &[]).await?),
                lease_until: time_out(Some(lease.until)),
            },
            None => pb::ClaimTicketResponse::default(),
        }))
    }

    async fn sign_for(&self, request: Request<pb::SignForRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::SignFor {
                    resolution_due: None,
                    first_contact_due: None,
                })
            },
        )
        .await
    }

    async fn request_return(&self, request: Request<pb::RequestReturnRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::RequestReturn {
                    reason: required("reason", reason_in("reason", req.reason))?,
                    basis: req.basis,
                })
            },
        )
        .await
    }

    async fn request_extension(
        &self,
        request: Request<pb::RequestExtensionRequest>,
    ) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::RequestExtension {
                    working_days: req.working_days,
                    reason: req.reason,
                })
            },
        )
        .await
    }

    async fn sub_dispatch(&self, request: Request<pb::SubDispatchRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::SubDispatch {
                    station: station_id("station_id", &req.station_id)?,
                    sign_for_due: None,
                    note: req.note,
                })
            },
        )
        .await
    }

    async fn report_as_co_handler(
        &self,
        request: Request<pb::ReportAsCoHandlerRequest>,
    ) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::CoHandlerReport { report: req.report }),
        )
        .await
    }

    async fn reply(&self, request: Request<pb::ReplyRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::Reply {
                    internal_record: req.internal_record,
                    public_reply: req.public_reply,
                })
            },
        )
        .await
    }

    async fn pause_clock(&self, request: Request<pb::PauseClockRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::PauseClock { reason: req.reason }),
        )
        .await
    }

    async fn resume_clock(&self, request: Request<pb::ResumeClockRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || {
                Ok(Action::ResumeClock {
                    resolution_due: None,
                })
            },
        )
        .await
    }

    async fn contact_caller(&self, request: Request<pb::ContactCallerRequest>) -> TicketResult {
        let who = principal(&request)?;
        let req = request.into_inner();
        act(
            &self.hotline,
            &who,
            &req.ticket_id,
            req.expected_version,
            || Ok(Action::ContactCaller { note: req.note }),
        )
        .await
    }
}
