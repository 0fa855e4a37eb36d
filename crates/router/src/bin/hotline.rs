//! `hotline`: the router's command line. Everything it does lives in the library.

use clap::Parser;
use hotline_router::config::{Cli, Command};

/// mimalloc rather than the system's malloc: allocation and freeing were about a fifth of the
/// router's CPU per submit under glibc (see the dependency's note in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            hotline_router::init_tracing(args.log_format);
            hotline_router::server::run(*args).await
        }
        Command::Train(args) => hotline_router::cli::train(&args).await,
        Command::Eval(args) => hotline_router::cli::eval(&args),
        Command::Classify(args) => hotline_router::cli::classify(&args),
        Command::Resolve(args) => hotline_router::cli::resolve(&args),
        Command::Migrate(args) => hotline_router::cli::migrate(&args).await,
        Command::Backup(args) => hotline_router::cli::backup(&args).await,
        Command::Restore(args) => hotline_router::cli::restore(&args).await,
        Command::Staff(args) => hotline_router::cli::staff(&args).await,
        Command::Knowledge(args) => hotline_router::cli::knowledge(&args).await,
        Command::Simulate(args) => hotline_router::simulate::run(&args).await,
    }
}
