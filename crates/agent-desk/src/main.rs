//! `agent-desk`: parse, connect, run one command, print. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use hotline_agent_desk::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout();
    match hotline_agent_desk::run(&cli, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        // `agent-desk search | head`: the reader went away; the command itself succeeded.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(hint) = err.hint(&cli.server) {
                eprintln!("{hint}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
