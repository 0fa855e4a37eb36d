//! `hotline`: the router's command line. Everything it does lives in the library.

use clap::Parser;
use hotline_router::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            hotline_router::init_tracing(args.log_format);
            hotline_router::server::run(args).await
        }
    }
}
