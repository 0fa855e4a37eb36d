//! Diagnostic only: `hotline serve` reduced to the Intake service, the same engine and store,
//! but with TCP_NODELAY on accepted connections. Compare the loadgen's latency against it and
//! against `hotline serve` to see the cost of Nagle's algorithm on the router's sockets.
//!
//!   cargo run --release -p hotline-loadgen --example serve_nodelay -- \
//!       serve --database-url postgres://postgres@127.0.0.1:5432/DB --listen 127.0.0.1:PORT

use clap::Parser;
use hotline_core::SystemClock;
use hotline_proto::v1::intake_server::IntakeServer;
use hotline_router::config::{Cli, Command};
use hotline_router::grpc::intake::IntakeApi;
use std::sync::Arc;
use tonic::transport::server::TcpIncoming;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    #[allow(unreachable_patterns)]
    let args = match Cli::parse().command {
        Command::Serve(args) => args,
        _ => anyhow::bail!("only `serve` is supported"),
    };
    let hotline = hotline_router::server::build(&args, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(IntakeServer::new(IntakeApi::new(hotline)))
        .serve_with_incoming_shutdown(incoming, hotline_router::server::shutdown_signal())
        .await?;
    Ok(())
}
