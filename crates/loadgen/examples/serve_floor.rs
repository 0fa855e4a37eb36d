//! Diagnostic only: the floor under `hotline serve`'s submit rate on this machine. The Intake
//! service over the same tonic stack, where the first SubmitTicket goes through the real engine
//! and store and every later one gets a copy of that first answer without touching either. The
//! loadgen against it measures what the gRPC round trip alone (client + HTTP/2 + protobuf, on the
//! same cores) allows; `benches/submit/run.sh` runs it with FLOOR_PROBE=1.
//!
//!   cargo run --release -p hotline-loadgen --example serve_floor -- \
//!       serve --database-url postgres://postgres@127.0.0.1:5432/DB --listen 127.0.0.1:PORT

use std::sync::{Arc, OnceLock};

use clap::Parser;
use hotline_core::SystemClock;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::{Intake, IntakeServer};
use hotline_router::config::{Cli, Command};
use hotline_router::grpc::intake::IntakeApi;
use tonic::{Request, Response, Status};

struct Floor {
    engine: IntakeApi,
    first: OnceLock<pb::SubmitTicketResponse>,
}

#[tonic::async_trait]
impl Intake for Floor {
    async fn submit_ticket(
        &self,
        request: Request<pb::SubmitTicketRequest>,
    ) -> Result<Response<pb::SubmitTicketResponse>, Status> {
        if let Some(first) = self.first.get() {
            // Decoded like a real request (tonic did), answered with a real-sized ticket.
            std::hint::black_box(request.into_inner());
            return Ok(Response::new(first.clone()));
        }
        let answer = self.engine.submit_ticket(request).await?;
        let _ = self.first.set(answer.get_ref().clone());
        Ok(answer)
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        self.engine.get_ticket(request).await
    }

    async fn search_tickets(
        &self,
        request: Request<pb::SearchTicketsRequest>,
    ) -> Result<Response<pb::SearchTicketsResponse>, Status> {
        self.engine.search_tickets(request).await
    }

    async fn answer_directly(
        &self,
        request: Request<pb::AnswerDirectlyRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        self.engine.answer_directly(request).await
    }

    async fn hand_off_emergency(
        &self,
        request: Request<pb::HandOffEmergencyRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        self.engine.hand_off_emergency(request).await
    }

    async fn not_accept(
        &self,
        request: Request<pb::NotAcceptRequest>,
    ) -> Result<Response<pb::TicketResponse>, Status> {
        self.engine.not_accept(request).await
    }

    async fn link_duplicate(
        &self,
        request: Request<pb::LinkDuplicateRequest>,
    ) -> Result<Response<pb::LinkDuplicateResponse>, Status> {
        self.engine.link_duplicate(request).await
    }

    async fn preview_route(
        &self,
        request: Request<pb::PreviewRouteRequest>,
    ) -> Result<Response<pb::PreviewRouteResponse>, Status> {
        self.engine.preview_route(request).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    #[allow(unreachable_patterns)]
    let args = match Cli::parse().command {
        Command::Serve(args) => args,
        _ => anyhow::bail!("only `serve` is supported"),
    };
    let hotline = hotline_router::server::build(&args, Arc::new(SystemClock)).await?;
    let floor = Floor {
        engine: IntakeApi::new(hotline),
        first: OnceLock::new(),
    };
    tonic::transport::Server::builder()
        .add_service(IntakeServer::new(floor))
        .serve_with_shutdown(args.listen, hotline_router::server::shutdown_signal())
        .await?;
    Ok(())
}
