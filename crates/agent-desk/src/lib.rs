//! `agent-desk`: the command-line client hotline operators, station staff and supervisors use
//! against a running router (`hotline serve`).
//!
//! Thin by design: every subcommand is one RPC. The commands are plain async functions taking a
//! tonic [`Channel`] (see [`commands`]), each returning a [`Report`] that prints as text or JSON,
//! so tests drive them without a process. `main.rs` only parses, connects and prints.
//!
//! Exit codes: 0 success; 2 for usage errors and the caller's mistakes (INVALID_ARGUMENT,
//! NOT_FOUND, FAILED_PRECONDITION, ABORTED, PERMISSION_DENIED); 1 for everything else
//! (the router unreachable, UNAVAILABLE, INTERNAL...).

pub mod cli;
pub mod commands;
pub mod incidents;
pub mod render;
pub mod reports;
pub mod session;
pub mod vocab;
pub mod web;

use std::fmt;
use std::io::Write;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::Code;

pub use cli::{Cli, Command, Identity, DEFAULT_SERVER};
pub use commands::*;
pub use incidents::*;
pub use render::Report;
pub use session::Conn;

/// Why a command failed.
#[derive(Debug)]
pub enum DeskError {
    /// The router answered with an error status.
    Status(tonic::Status),
    /// The router could not be reached at all.
    Connect { server: String, cause: String },
    /// The command line was wrong in a way clap could not see.
    Usage(String),
    /// Reading stdin or writing stdout failed.
    Io(std::io::Error),
}

impl DeskError {
    /// The gRPC status code, when the router answered.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Status(status) => Some(status.code()),
            _ => None,
        }
    }

    /// 2 for the caller's mistakes (fix the request and retry), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Status(status) => match status.code() {
                Code::InvalidArgument
                | Code::NotFound
                | Code::FailedPrecondition
                | Code::Aborted
                | Code::PermissionDenied
                | Code::Unauthenticated => 2,
                _ => 1,
            },
            Self::Usage(_) => 2,
            Self::Connect { .. } | Self::Io(_) => 1,
        }
    }

    /// Writing to stdout failed because the reader went away (`agent-desk search | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io(err) if err.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A next step worth printing under the error, if there is one.
    pub fn hint(&self, server: &str) -> Option<String> {
        match self.code()? {
            Code::Aborted => Some(
                "hint: the ticket changed since you read it; `agent-desk show TICKET` and decide again"
                    .to_owned(),
            ),
            Code::Unauthenticated => Some(
                "hint: log in with `agent-desk login LOGIN` (or give --token / HOTLINE_TOKEN)"
                    .to_owned(),
            ),
            Code::Unavailable => Some(format!(
                "hint: is the router at {server} running? Start one with `hotline serve`, or point \
                 --server / HOTLINE_SERVER at a running router"
            )),
            _ => None,
        }
    }
}

/// `INVALID_ARGUMENT`, `FAILED_PRECONDITION`... as in the gRPC spec.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl fmt::Display for DeskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => {
                write!(f, "{}: {}", code_name(status.code()), status.message())
            }
            Self::Connect { server, cause } => write!(
                f,
                "cannot reach the hotline router at {server} ({cause}). Is it running? Start one \
                 with `hotline serve` (it listens on 127.0.0.1:50051 by default), or point \
                 --server / HOTLINE_SERVER at a running router"
            ),
            Self::Usage(message) => write!(f, "{message}"),
            Self::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for DeskError {}

impl From<tonic::Status> for DeskError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
}

impl From<std::io::Error> for DeskError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

/// The innermost cause, e.g. "Connection refused (os error 111)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Connects to the router. `127.0.0.1:50051` without a scheme means `http://127.0.0.1:50051`.
pub async fn connect(server: &str) -> Result<Channel, DeskError> {
    connect_with(server, None).await
}

/// Connects over TLS for `https://` URLs: the system's roots, plus `ca_cert` when given.
pub async fn connect_with(
    server: &str,
    ca_cert: Option<&std::path::Path>,
) -> Result<Channel, DeskError> {
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let mut endpoint = Endpoint::from_shared(url.clone())
        .map_err(|err| DeskError::Usage(format!("--server {server:?} is not a URL: {err}")))?
        .connect_timeout(Duration::from_secs(5));
    if url.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| DeskError::Usage(format!("--ca-cert {}: {e}", path.display())))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|err| DeskError::Usage(format!("TLS for {url}: {err}")))?;
    }
    endpoint.connect().await.map_err(|err| DeskError::Connect {
        server: url,
        cause: root_cause(&err),
    })
}

/// Runs one parsed command line against `channel`, printing to `out`.
pub async fn execute(
    channel: Channel,
    cli: &Cli,
    out: &mut (dyn Write + Send),
) -> Result<(), DeskError> {
    let who = &cli.identity;
    let session_path = who
        .session_file
        .clone()
        .or_else(session::default_path)
        .ok_or_else(|| DeskError::Usage("no home directory: give --session-file".into()))?;
    let mut station_default = who.station.clone();
    let credential = match (&cli.command, &who.token) {
        (Command::Login(a), _) => {
            let report = login(channel, &cli.server, &session_path, a).await?;
            writeln!(out, "{}", report.render(cli.json))?;
            return Ok(());
        }
        (_, Some(token)) => Some(token.clone()),
        (Command::Logout, None) => {
            let report = logout(channel, &session_path).await?;
            writeln!(out, "{}", report.render(cli.json))?;
            return Ok(());
        }
        (_, None) => {
            let saved = session::load(&session_path)?.ok_or_else(|| {
                DeskError::Usage(
                    "not logged in: run `agent-desk login LOGIN` first (or give --token)".into(),
                )
            })?;
            let fresh = session::fresh_token(channel.clone(), &session_path, saved).await?;
            if station_default.is_none() && !fresh.station_id.is_empty() {
                station_default = Some(fresh.station_id.clone());
            }
            Some(fresh.access_token)
        }
    };
    let ch = session::connection(channel, credential.as_deref())?;
    let report = match &cli.command {
        Command::Login(_) | Command::Logout | Command::Web(_) => unreachable!("handled above"),
        Command::Whoami => whoami(ch).await?,
        Command::Calendar(a) => calendar(ch, a).await?,
        Command::Submit(a) => submit(ch, a).await?,
        Command::Show(a) => show(ch, a).await?,
        Command::Search(a) => search(ch, a).await?,
        Command::Answer(a) => answer(ch, a).await?,
        Command::Handoff(a) => handoff(ch, a).await?,
        Command::Reject(a) => reject(ch, a).await?,
        Command::Duplicate(a) => duplicate(ch, a).await?,
        Command::Preview(a) => preview(ch, a).await?,
        Command::Queue(a) if a.watch => {
            let station = queue_station(station_default.as_deref(), a)?;
            let json = cli.json;
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            return watch_queue(ch, &station, ctrl_c, |item| {
                // One line per arrival; with --json, one compact JSON object per line.
                let line = if json {
                    item.json.to_string()
                } else {
                    item.human.clone()
                };
                writeln!(out, "{line}").and_then(|()| out.flush())
            })
            .await;
        }
        Command::Queue(a) => queue(ch, &queue_station(station_default.as_deref(), a)?).await?,
        Command::Claim(a) => claim(ch, a).await?,
        Command::Sign(a) => sign(ch, a).await?,
        Command::Contact(a) => contact(ch, a).await?,
        Command::Pause(a) => pause(ch, a).await?,
        Command::Resume(a) => resume(ch, a).await?,
        Command::Return(a) => request_return(ch, a).await?,
        Command::Extend(a) => extend(ch, a).await?,
        Command::Subdispatch(a) => subdispatch(ch, a).await?,
        Command::CohandlerReport(a) => cohandler_report(ch, a).await?,
        Command::Reply(a) => reply(ch, a).await?,
        Command::Dispatch(a) => dispatch(ch, a).await?,
        Command::Triage(a) => triage(ch, a).await?,
        Command::Arbitrate(a) => arbitrate(ch, a).await?,
        Command::DecideExtension(a) => decide_extension(ch, a).await?,
        Command::AddCohandler(a) => add_cohandler(ch, a).await?,
        Command::Review(a) => review(ch, a).await?,
        Command::Callback(a) => callback(ch, a).await?,
        Command::Close(a) => close(ch, a).await?,
        Command::Reclassify(a) => reclassify(ch, a).await?,
        Command::Flag(a) => flag(ch, a).await?,
        Command::Aliases(a) => aliases(ch, a).await?,
        Command::DecideAlias(a) => decide_alias(ch, a).await?,
        Command::Incidents(a) => incidents(ch, a).await?,
        Command::Incident(a) => incident(ch, a).await?,
        Command::Link(a) => link(ch, a).await?,
        Command::Notice(a) => notice(ch, a).await?,
        Command::IncidentReply(a) => incident_reply(ch, a).await?,
        Command::CloseIncident(a) => close_incident(ch, a).await?,
        Command::Split(a) => split(ch, a).await?,
        Command::Divisions(a) => divisions(ch, a).await?,
        Command::Stations(a) => stations(ch, a).await?,
        Command::Station(a) => station(ch, a).await?,
    };
    writeln!(out, "{}", report.render(cli.json))?;
    Ok(())
}

/// Connects to `--server` and runs the command.
pub async fn run(cli: &Cli, out: &mut (dyn Write + Send)) -> Result<(), DeskError> {
    if let Command::Web(args) = &cli.command {
        return serve_web(cli, args).await;
    }
    let channel = connect_with(&cli.server, cli.ca_cert.as_deref()).await?;
    execute(channel, cli, out).await
}

fn queue_station(default: Option<&str>, args: &cli::QueueArgs) -> Result<String, DeskError> {
    args.station
        .clone()
        .or_else(|| default.map(str::to_owned))
        .ok_or_else(|| {
            DeskError::Usage("queue: give a STATION (or --station / HOTLINE_STATION)".to_owned())
        })
}

/// `agent-desk web`: the web desk on its own, against the router at `--server`.
async fn serve_web(cli: &Cli, args: &cli::WebArgs) -> Result<(), DeskError> {
    let channel = connect_with(&cli.server, cli.ca_cert.as_deref()).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!(
        "web desk on http://{}/desk/ (router {})",
        args.listen, cli.server
    );
    axum::serve(listener, web::routes(channel))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_split_the_callers_mistakes_from_the_rest() {
        let status = |code| DeskError::Status(tonic::Status::new(code, "x"));
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::PermissionDenied,
        ] {
            assert_eq!(status(code).exit_code(), 2, "{code:?}");
        }
        for code in [Code::Unavailable, Code::Internal, Code::AlreadyExists] {
            assert_eq!(status(code).exit_code(), 1, "{code:?}");
        }
        let err = DeskError::Status(tonic::Status::failed_precondition(
            "cannot sign_for a ticket that is closed (已结案)",
        ));
        assert_eq!(
            err.to_string(),
            "FAILED_PRECONDITION: cannot sign_for a ticket that is closed (已结案)"
        );
    }
}
