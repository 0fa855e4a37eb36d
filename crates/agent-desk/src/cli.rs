//! The command line: global options, the caller's identity, and one subcommand per RPC.

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::vocab::{
    ChannelArg, FlagArg, NatureArg, ReturnReasonArg, SatisfactionArg, ServiceArg, StageArg,
    UrgencyArg,
};

/// Where `hotline serve` listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

#[derive(Debug, Parser)]
#[command(
    name = "agent-desk",
    version,
    about = "12345 hotline desk: submit, find and work tickets on a running router (`hotline serve`)",
    after_help = "Log in first: `agent-desk login LOGIN` (the session is saved; every command \
                  acts as you).\n\
                  `submit --station` dispatches the new ticket to that station at once."
)]
pub struct Cli {
    /// The router's gRPC address.
    #[arg(long, global = true, env = "HOTLINE_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,

    /// For `https://` servers: trust this CA certificate (PEM) besides the system's roots.
    #[arg(long, global = true, env = "HOTLINE_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<std::path::PathBuf>,

    /// Print the response as JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    pub identity: Identity,

    #[command(subcommand)]
    pub command: Command,
}

/// Who you are: the saved login (`agent-desk login`), or a token given here. The router takes
/// who acts from this credential alone.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Credentials (before the subcommand)")]
pub struct Identity {
    /// An access token or an integrator API key (`hk_...`), instead of the saved login.
    #[arg(
        long,
        env = "HOTLINE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Where `login` keeps the session (default: ~/.config/hotline/agent-desk-session.json).
    #[arg(long, env = "HOTLINE_SESSION", value_name = "FILE")]
    pub session_file: Option<std::path::PathBuf>,

    /// The station `queue` shows by default (station staff: your own).
    #[arg(long = "station", env = "HOTLINE_STATION", value_name = "ID")]
    pub station: Option<String>,
}

impl Identity {
    /// Credentials from a token (tests, scripts, integrators).
    pub fn with_token(token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    // -- session
    /// Log in: asks for the password (or reads it from stdin) and saves the session (Login).
    Login(LoginArgs),
    /// End the saved session (Logout).
    Logout,
    /// Show the account you act as (WhoAmI).
    Whoami,
    /// Serve the web desk (browser pages for operators and station staff) against `--server`.
    Web(WebArgs),
    /// The working calendar: published and provisional years, and the warning to act on
    /// (GetCalendarStatus; supervisors).
    Calendar(CalendarArgs),
    // -- intake
    /// Record a request as a ticket (SubmitTicket).
    Submit(SubmitArgs),
    /// Show one ticket (GetTicket).
    Show(ShowArgs),
    /// Find tickets (SearchTickets).
    Search(SearchArgs),
    /// 直办: settle at intake with a direct answer (AnswerDirectly).
    Answer(AnswerArgs),
    /// 转警: hand off to 110/119/120/122 (HandOffEmergency).
    Handoff(HandoffArgs),
    /// 不予受理: do not accept, with advice (NotAccept).
    Reject(RejectArgs),
    /// 重复件: link to a live ticket (LinkDuplicate).
    Duplicate(DuplicateArgs),
    /// Where the router would send a request, and any live duplicate, without creating a
    /// ticket (PreviewRoute).
    Preview(PreviewArgs),

    // -- station
    /// A station's queue (WatchQueue); --watch keeps printing arrivals until ctrl-c.
    Queue(QueueArgs),
    /// Take the next ticket (or a given one) off your station's queue (ClaimTicket).
    Claim(ClaimArgs),
    /// 签收 (SignFor).
    Sign(TicketArgs),
    /// 首次联系: record that you reached the caller; stops the first-contact clock
    /// (ContactCaller).
    Contact(ContactArgs),
    /// Pause the resolution clock while waiting on the caller (PauseClock).
    Pause(PauseArgs),
    /// Resume a paused resolution clock; the deadline moves by the paused time (ResumeClock).
    Resume(TicketArgs),
    /// 退单申请 (RequestReturn).
    Return(ReturnArgs),
    /// 延期申请 (RequestExtension).
    Extend(ExtendArgs),
    /// 下派 to a station below yours (SubDispatch).
    Subdispatch(RouteArgs),
    /// 协办反馈 (ReportAsCoHandler).
    CohandlerReport(CohandlerReportArgs),
    /// 办结答复 (Reply).
    Reply(ReplyArgs),

    // -- centre
    /// 派单 (Dispatch).
    Dispatch(RouteArgs),
    /// Send to centre triage (SendToTriage).
    Triage(TriageArgs),
    /// 退单审核 (ArbitrateReturn).
    Arbitrate(ArbitrateArgs),
    /// 延期审批 (DecideExtension).
    DecideExtension(DecideExtensionArgs),
    /// 加派/协办 (AddCoHandler).
    AddCohandler(AddCohandlerArgs),
    /// 审核答复 (ReviewReply).
    Review(ReviewArgs),
    /// 回访 (RecordCallback).
    Callback(CallbackArgs),
    /// 结案 (Close).
    Close(TicketArgs),
    /// 重新分类: re-categorise and re-route to the station the new decision picks (Reclassify).
    Reclassify(ReclassifyArgs),
    /// 催办/督办/通报 (RaiseFlag).
    Flag(FlagArgs),
    /// 地址别名: aliases learned from territory corrections, ready for a supervisor's decision
    /// (ListAliasProposals).
    Aliases(AliasesArgs),
    /// Confirm or reject a learned address alias (DecideAlias): a confirmed one places the next
    /// call at once.
    DecideAlias(DecideAliasArgs),

    // -- incidents (并案)
    /// Open incidents, newest first; --all adds closed ones (ListIncidents).
    Incidents(IncidentsArgs),
    /// One incident: its notice, its reply and its tickets, the lead first (GetIncident).
    Incident(IncidentArgs),
    /// Link a call no station has signed for to the incident of another ticket, opening it if
    /// needed (JoinIncident).
    Link(LinkArgs),
    /// Post a public notice (公告) that operators read on intake (PostNotice).
    Notice(IncidentTextArgs),
    /// The one public reply to every merged ticket; each caller is called back
    /// (ReplyToIncident).
    IncidentReply(IncidentTextArgs),
    /// Close the incident's tickets together once every caller is called back (CloseIncident).
    CloseIncident(IncidentArgs),
    /// Split a ticket out of an incident: another matter, to triage on its own (SplitTicket).
    Split(SplitArgs),

    // -- directory
    /// Divisions under PARENT_CODE, or the city's districts (ListDivisions).
    Divisions(DivisionsArgs),
    /// Stations at a division (ListStations).
    Stations(StationsArgs),
    /// One station (GetStation).
    Station(StationArgs),
}

/// Optimistic concurrency for every change.
#[derive(Debug, Clone, Default, Args)]
pub struct Expect {
    /// Fail with ABORTED unless the ticket is at this version.
    #[arg(long = "expect-version", value_name = "N")]
    pub version: Option<u64>,
}

impl Expect {
    pub fn raw(&self) -> u64 {
        self.version.unwrap_or(0)
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct SubmitArgs {
    /// What the caller asks; `-` reads it from stdin.
    #[arg(long)]
    pub text: String,
    #[arg(long, value_enum, default_value_t = ChannelArg::Hotline)]
    pub channel: ChannelArg,
    /// Caller's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Caller's phone.
    #[arg(long)]
    pub phone: Option<String>,
    /// 保密: the caller asks that the handling station not see who they are (always offer it
    /// for 举报).
    #[arg(long)]
    pub confidential: bool,
    /// Where it happened, as the caller said it.
    #[arg(long)]
    pub address: Option<String>,
    /// Latitude (WGS 84), with --lng.
    #[arg(long, requires = "lng", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// Longitude (WGS 84), with --lat.
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lng: Option<f64>,
    /// Kiosk id (信息亭).
    #[arg(long = "kiosk", value_name = "ID")]
    pub kiosk: Option<String>,
    /// Category code.
    #[arg(long)]
    pub category: Option<String>,
    /// Unset: the router decides (help).
    #[arg(long, value_enum)]
    pub nature: Option<NatureArg>,
    /// Unset: the router decides (normal).
    #[arg(long, value_enum)]
    pub urgency: Option<UrgencyArg>,
    /// Division code where it happened.
    #[arg(long = "division", value_name = "CODE")]
    pub division: Option<String>,
    /// Dispatch at once to this station.
    #[arg(long = "station", value_name = "ID")]
    pub station: Option<String>,
    /// Route it as usual, but dispatch to this station (the operator's choice over the
    /// router's, recorded in the route explanation).
    #[arg(long = "route-to", value_name = "ID", conflicts_with_all = ["station", "hold"])]
    pub route_to: Option<String>,
    /// Record only; settle it by hand (answer, handoff, reject, duplicate, dispatch). Without
    /// this or --station the router routes it automatically.
    #[arg(long)]
    pub hold: bool,
    /// Idempotency key: a retry with the same id returns the same ticket.
    #[arg(long = "request-id", value_name = "ID")]
    pub request_id: Option<String>,
}

/// `preview`: the routing decision for a request, as `submit` would take it (no ticket).
#[derive(Debug, Clone, Default, Args)]
pub struct PreviewArgs {
    /// What the caller asks; `-` reads it from stdin.
    #[arg(long)]
    pub text: String,
    /// Where it happened, as the caller said it.
    #[arg(long)]
    pub address: Option<String>,
    /// Latitude (WGS 84), with --lng.
    #[arg(long, requires = "lng", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// Longitude (WGS 84), with --lat.
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lng: Option<f64>,
    /// Kiosk id (信息亭).
    #[arg(long = "kiosk", value_name = "ID")]
    pub kiosk: Option<String>,
    /// Category code; wins over the classifier.
    #[arg(long)]
    pub category: Option<String>,
    /// Unset: the router decides.
    #[arg(long, value_enum)]
    pub nature: Option<NatureArg>,
    /// Unset: the router decides.
    #[arg(long, value_enum)]
    pub urgency: Option<UrgencyArg>,
    /// Division code where it happened; wins over the address.
    #[arg(long = "division", value_name = "CODE")]
    pub division: Option<String>,
}

/// `reclassify`: correct what the ticket is about; the router routes it again.
#[derive(Debug, Clone, Default, Args)]
pub struct ReclassifyArgs {
    pub ticket: String,
    /// New category code (unset: the classifier decides again).
    #[arg(long)]
    pub category: Option<String>,
    /// Unset: keep.
    #[arg(long, value_enum)]
    pub nature: Option<NatureArg>,
    /// Unset: keep.
    #[arg(long, value_enum)]
    pub urgency: Option<UrgencyArg>,
    /// Division code where it happened (unset: resolved from the address again).
    #[arg(long = "division", value_name = "CODE")]
    pub division: Option<String>,
    /// A corrected address (unset: keep).
    #[arg(long)]
    pub address: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ShowArgs {
    pub ticket: String,
    /// Include the event history.
    #[arg(long)]
    pub history: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct SearchArgs {
    #[arg(long, value_enum)]
    pub stage: Option<StageArg>,
    #[arg(long = "station", value_name = "ID")]
    pub station: Option<String>,
    /// This division or any inside it.
    #[arg(long = "division", value_name = "CODE")]
    pub division: Option<String>,
    /// Text the request contains.
    #[arg(long)]
    pub text: Option<String>,
    /// At most this many (router default 50, at most 500).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue from a previous search's next page token.
    #[arg(long = "page-token", value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// A caller's earlier tickets, by phone.
    #[arg(long, value_name = "PHONE")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TicketArgs {
    pub ticket: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ContactArgs {
    pub ticket: String,
    /// What was agreed with the caller.
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PauseArgs {
    pub ticket: String,
    /// Why the clock stops (e.g. waiting for the caller's documents).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct AnswerArgs {
    pub ticket: String,
    /// The answer given to the caller.
    #[arg(long)]
    pub answer: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Args)]
pub struct HandoffArgs {
    pub ticket: String,
    #[arg(long, value_enum)]
    pub service: ServiceArg,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RejectArgs {
    pub ticket: String,
    /// Where the caller should go instead.
    #[arg(long)]
    pub advice: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DuplicateArgs {
    pub ticket: String,
    /// The live ticket this one repeats.
    #[arg(long = "of", value_name = "TICKET")]
    pub of: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Where the desk listens (HTTP).
    #[arg(long, env = "HOTLINE_DESK_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CalendarArgs {
    /// Load the holiday notices again and recount provisional deadlines (ReloadCalendar;
    /// administrators).
    #[arg(long)]
    pub reload: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LoginArgs {
    /// Your login name.
    pub login: String,
    /// Read the password from the first line of stdin instead of asking.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// The station (default: your --station).
    pub station: Option<String>,
    /// Keep printing arrivals until ctrl-c.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ClaimArgs {
    /// Claim this ticket (default: the next by urgency, then deadline).
    #[arg(long = "ticket", value_name = "ID")]
    pub ticket: Option<String>,
    /// Lease length (router default 120, at most 3600).
    #[arg(long = "lease-seconds", value_name = "N")]
    pub lease_seconds: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct ReturnArgs {
    pub ticket: String,
    #[arg(long, value_enum)]
    pub reason: ReturnReasonArg,
    /// The basis for the return (policy, ownership evidence).
    #[arg(long)]
    pub basis: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ExtendArgs {
    pub ticket: String,
    /// Working days asked for.
    #[arg(long)]
    pub days: u32,
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub expect: Expect,
}

/// `dispatch` and `subdispatch`: send the ticket to a station.
#[derive(Debug, Clone, Default, Args)]
pub struct RouteArgs {
    pub ticket: String,
    /// The receiving station.
    #[arg(long = "to", value_name = "STATION")]
    pub to: String,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CohandlerReportArgs {
    pub ticket: String,
    #[arg(long)]
    pub report: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ReplyArgs {
    pub ticket: String,
    /// 办理情况: what was done (internal).
    #[arg(long)]
    pub record: String,
    /// 答复内容: what the citizen is told.
    #[arg(long)]
    pub public: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TriageArgs {
    pub ticket: String,
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["accept", "refuse"])))]
pub struct ArbitrateArgs {
    pub ticket: String,
    /// Accept the return: back to triage for re-dispatch.
    #[arg(long)]
    pub accept: bool,
    /// Refuse it: back to the station.
    #[arg(long)]
    pub refuse: bool,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["approve", "refuse"])))]
pub struct DecideExtensionArgs {
    pub ticket: String,
    #[arg(long)]
    pub approve: bool,
    #[arg(long)]
    pub refuse: bool,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct AddCohandlerArgs {
    pub ticket: String,
    /// The co-handling station.
    #[arg(long = "station", value_name = "ID")]
    pub station: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["approve", "reject"])))]
pub struct ReviewArgs {
    pub ticket: String,
    #[arg(long)]
    pub approve: bool,
    /// Send the reply back (give --note saying what is wrong).
    #[arg(long)]
    pub reject: bool,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Args)]
pub struct CallbackArgs {
    pub ticket: String,
    #[arg(long, value_enum)]
    pub satisfaction: SatisfactionArg,
    /// For a dissatisfied answer: judged reasonable, so the ticket is redone (重办).
    #[arg(long)]
    pub reasonable: bool,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Args)]
pub struct FlagArgs {
    pub ticket: String,
    #[arg(long, value_enum)]
    pub flag: FlagArg,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AliasStatusArg {
    Proposed,
    Confirmed,
    Rejected,
}

#[derive(Debug, Clone, Args)]
pub struct AliasesArgs {
    /// proposed (enough agreeing corrections, to decide), confirmed or rejected.
    #[arg(long, value_enum, default_value = "proposed")]
    pub status: AliasStatusArg,
}

#[derive(Debug, Clone, Args)]
pub struct DecideAliasArgs {
    /// The alias as `aliases` lists it, e.g. 锦绣大厦.
    pub alias: String,
    /// The community it was proposed for.
    #[arg(long = "division", value_name = "CODE")]
    pub division_code: String,
    /// Confirm it (the resolver uses it at once).
    #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
    pub confirm: bool,
    /// Reject it.
    #[arg(long)]
    pub reject: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct IncidentsArgs {
    /// Closed incidents too.
    #[arg(long)]
    pub all: bool,
    /// At most this many (the router's default 50, at most 500).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub limit: u32,
}

#[derive(Debug, Clone, Default, Args)]
pub struct IncidentArgs {
    /// The incident's id (its lead ticket's id).
    pub incident: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct IncidentTextArgs {
    /// The incident's id (its lead ticket's id).
    pub incident: String,
    /// The text, at most 4,000 characters; `-` reads it from stdin.
    #[arg(long)]
    pub text: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LinkArgs {
    /// The call to link.
    pub ticket: String,
    /// A live ticket about the same matter (the incident's lead or a member).
    #[arg(long, value_name = "TICKET")]
    pub to: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct SplitArgs {
    /// The incident's id.
    pub incident: String,
    /// The ticket to split out.
    pub ticket: String,
    /// Why it is another matter.
    #[arg(long)]
    pub note: String,
    #[command(flatten)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DivisionsArgs {
    /// Parent division code (default: the city's districts).
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StationsArgs {
    pub division_code: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StationArgs {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn identity_goes_before_the_subcommand_and_submit_has_its_own_station() {
        let cli = Cli::try_parse_from([
            "agent-desk",
            "--token",
            "t0ken",
            "--station",
            "a-css",
            "submit",
            "--text",
            "x",
            "--station",
            "b-css",
        ])
        .unwrap();
        assert_eq!(cli.identity.token.as_deref(), Some("t0ken"));
        assert_eq!(cli.identity.station.as_deref(), Some("a-css"));
        let Command::Submit(args) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(args.station.as_deref(), Some("b-css"));
    }

    #[test]
    fn decisions_need_exactly_one_side() {
        assert!(Cli::try_parse_from(["agent-desk", "review", "t"]).is_err());
        assert!(
            Cli::try_parse_from(["agent-desk", "review", "t", "--approve", "--reject"]).is_err()
        );
        assert!(Cli::try_parse_from(["agent-desk", "review", "t", "--approve"]).is_ok());
        assert!(
            Cli::try_parse_from(["agent-desk", "submit", "--text", "x", "--lat", "31.3"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["agent-desk", "preview", "--text", "x", "--lng", "120.6"])
                .is_err()
        );
    }

    #[test]
    fn preview_and_reclassify_parse() {
        let cli = Cli::try_parse_from([
            "agent-desk",
            "preview",
            "--text",
            "-",
            "--address",
            "沧浪亭社区",
            "--urgency",
            "urgent",
            "--division",
            "320508021019",
        ])
        .unwrap();
        let Command::Preview(args) = cli.command else {
            panic!("not preview")
        };
        assert_eq!(args.text, "-");
        assert_eq!(args.urgency, Some(UrgencyArg::Urgent));
        assert_eq!(args.division.as_deref(), Some("320508021019"));

        let cli = Cli::try_parse_from([
            "agent-desk",
            "reclassify",
            "T1",
            "--category",
            "LS.GZFL",
            "--expect-version",
            "3",
        ])
        .unwrap();
        let Command::Reclassify(args) = cli.command else {
            panic!("not reclassify")
        };
        assert_eq!(args.ticket, "T1");
        assert_eq!(args.category.as_deref(), Some("LS.GZFL"));
        assert_eq!(args.expect.raw(), 3);
        assert!(args.nature.is_none());
    }
}
