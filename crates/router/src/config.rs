//! Configuration: command-line flags, each with an environment variable, parsed by clap.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "hotline", version, about = "12345 hotline routing engine")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (intake, station work, supervision, directory, health, reflection).
    Serve(Box<ServeArgs>),
    /// Train a category model from a centre's labelled history (CSV with `text,label`).
    Train(TrainArgs),
    /// Evaluate a model on labelled data: per-class P/R/F1, confusion matrix, macro-F1.
    Eval(EvalArgs),
    /// Classify texts read one per line on stdin; one JSON object per line on stdout.
    Classify(ClassifyArgs),
    /// Resolve addresses read one per line on stdin; one JSON object per line on stdout.
    Resolve(ResolveArgs),
    /// Show the database schema's version and apply pending migrations (`serve` applies them
    /// too on start-up); refuses a schema newer than this binary.
    Migrate(MigrateArgs),
    /// Back up the embedded default's database while it runs (a consistent online copy).
    Backup(BackupArgs),
    /// Put a backup in place as the embedded default's database (the router stopped); checks
    /// it first, and replaces an existing database only with --force.
    Restore(RestoreArgs),
    /// Staff accounts, integrator keys and signing keys, offline on the store (the Admin RPCs
    /// do the same on a running router).
    Staff(StaffArgs),
    /// The knowledge base offline: import a centre's base (CSV or Excel), export it, search
    /// it as the desk would, and measure search quality on CSV files (`eval`).
    Knowledge(KnowledgeArgs),
    /// Capacity planning: run a scenario (TOML) of arrivals, staff and events through the real
    /// engine on a virtual clock; KPIs, backlog, breaches as a table, CSV and SVG charts.
    /// `--find-staff --target-on-time 0.98` finds the least staff per station kind.
    Simulate(Box<hotline_simulate::cli::SimulateArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct KnowledgeArgs {
    /// The embedded default's data directory (when no database URL is set).
    #[arg(
        long,
        env = "HOTLINE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite:...`, as for `serve`.
    #[arg(long, env = "HOTLINE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: KnowledgeCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KnowledgeCommand {
    #[command(flatten)]
    Offline(hotline_knowledge::cli::KnowledgeCommand),
    /// Import articles from CSV (UTF-8 with or without BOM, or GB18030) or Excel (.xlsx, the
    /// first sheet); header in docs/knowledge.md. A row whose external key is known updates
    /// that article. All or nothing: a bad row is named and nothing is imported.
    Import(KnowledgeImportArgs),
    /// Export every article's latest version in the import format (.csv or .xlsx by the
    /// file's extension), so a re-import updates instead of duplicating.
    Export(KnowledgeExportArgs),
    /// Search published articles as the desk's suggestions do; one JSON object per hit.
    Search(KnowledgeSearchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct KnowledgeImportArgs {
    /// The file: `.csv` or `.xlsx`.
    pub file: PathBuf,
    /// The account the import is recorded as (it must exist in this store).
    #[arg(long = "as", value_name = "LOGIN")]
    pub as_login: String,
    /// Publish the imported versions at once; only an administrator account may. Without it
    /// articles are drafts for the editors and reviewers.
    #[arg(long)]
    pub published: bool,
}

#[derive(Debug, Clone, Args)]
pub struct KnowledgeExportArgs {
    /// Where to write: `.csv` (UTF-8 with a BOM, for Excel) or `.xlsx`.
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct KnowledgeSearchArgs {
    /// What the operator would type.
    pub text: String,
    /// The caller's division code (empty: city-wide articles only).
    #[arg(long, default_value = "")]
    pub division: String,
    /// The classified category (its articles weigh more).
    #[arg(long)]
    pub category: Option<String>,
    /// The call's date (YYYY-MM-DD; default today).
    #[arg(long)]
    pub on: Option<chrono::NaiveDate>,
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Debug, Clone, Args)]
pub struct StaffArgs {
    /// The embedded default's data directory (when no database URL is set).
    #[arg(
        long,
        env = "HOTLINE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite:...`, as for `serve`.
    #[arg(long, env = "HOTLINE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// The signing-key file, as for `serve` (default `<data-dir>/signing-keys.json`).
    #[arg(long = "keys", env = "HOTLINE_SIGNING_KEYS", global = true)]
    pub signing_keys: Option<PathBuf>,
    #[command(subcommand)]
    pub command: StaffCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StaffCommand {
    /// Add an account. Without --password-stdin a random password is printed once.
    Add {
        #[arg(long)]
        login: String,
        /// The name shown to colleagues (Chinese is fine).
        #[arg(long)]
        name: String,
        /// operator, station-staff, supervisor, administrator, integrator, knowledge-editor.
        #[arg(long)]
        role: String,
        /// Station staff: their station id (e.g. 320508021019-css).
        #[arg(long, default_value = "")]
        station: String,
        /// Supervisors and knowledge editors: `city`, a district or a street code.
        #[arg(long, default_value = "")]
        territory: String,
        /// Integrators: channels they may submit for (repeatable; default all).
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Integrators: intake RPCs they may call (repeatable; default all four).
        #[arg(long = "rpc")]
        rpcs: Vec<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: its logins and tokens stop working.
    Disable { login: String },
    /// Enable an account again.
    Enable { login: String },
    /// Set a password (first line of stdin, or a random one printed once); ends its sessions.
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue an API key for an integrator account; the key is printed once.
    Key {
        login: String,
        #[arg(long = "channel")]
        channels: Vec<String>,
        #[arg(long = "rpc")]
        rpcs: Vec<String>,
        /// Requests a minute.
        #[arg(long, default_value_t = 600)]
        per_minute: u32,
    },
    /// Revoke an API key by its id.
    RevokeKey { key_id: String },
    /// Add a new signing key to the key file (creating it); replicas sign with it after a
    /// restart, and tokens signed with older keys stay valid until those keys are removed.
    RotateSigningKey,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The embedded default's data directory.
    #[arg(long, env = "HOTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The backup file to write (must not exist: a backup never overwrites a file).
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup file (from `hotline backup`).
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into.
    #[arg(long, env = "HOTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Replace the database already in the directory (never one a running router has open).
    #[arg(long, alias = "replace")]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The embedded default's data directory (when no database URL is set).
    #[arg(long, env = "HOTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite:...`, as for `serve`.
    #[arg(long, env = "HOTLINE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Only say what would be applied.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// CSV with a header and columns `text,label` (other columns ignored).
    #[arg(
        long,
        required_unless_present = "from_store",
        conflicts_with = "from_store"
    )]
    pub data: Option<PathBuf>,
    /// Train on the tickets the centre has handled instead of a CSV: each closed ticket's final
    /// category (a person's correction counts; a category a station returned for 职能不符 and
    /// that was never corrected does not). Reads the store of `--data-dir` / `--database-url`.
    #[arg(long)]
    pub from_store: bool,
    /// The embedded default's data directory (with `--from-store`, when no database URL is set).
    #[arg(long, env = "HOTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite:...`, as for `serve` (with `--from-store`).
    #[arg(long, env = "HOTLINE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// With `--from-store`: a category needs this many handled tickets to be learned; the
    /// keyword rules answer for categories with fewer.
    #[arg(long, default_value_t = 20)]
    pub min_examples: usize,
    /// With `--from-store`: the taxonomy level the model learns (1 = the root categories, as
    /// the shipped training set; 2 = their children).
    #[arg(long, default_value_t = 1)]
    pub level: usize,
    /// With `--from-store`: the live model. The new one is first trained without the latest
    /// `--shadow-weeks` of tickets and compared with this one on them; it is written only when
    /// it is not worse (write it over the live file to put it live).
    #[arg(long)]
    pub live: Option<PathBuf>,
    /// With `--from-store --live`: how many weeks of the newest tickets the shadow comparison
    /// holds out.
    #[arg(long, default_value_t = 4)]
    pub shadow_weeks: u32,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// SVM cost (larger fits the training data more closely).
    #[arg(long)]
    pub c: Option<f64>,
    /// Also learn from this column's text, one more example per non-empty cell with the row's
    /// label (repeatable). `--also-text title` trains one model for short titles and long
    /// bodies alike.
    #[arg(long = "also-text", value_name = "COLUMN")]
    pub also_text: Vec<String>,
    /// The share of automatically dispatched tickets the centre accepts to be misrouted. The
    /// model stores the probability threshold that kept misroutes at or under it on held-out
    /// folds; below it the router sends the ticket to triage with its top suggestions.
    #[arg(long, default_value_t = 0.05)]
    pub max_misroute: f64,
    /// Cross-validation folds for calibration (0: no calibration and no threshold, the model's
    /// margin decides as before; training is then `folds + 1` times quicker).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with a header and columns `text,label` (other columns ignored).
    #[arg(long)]
    pub data: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ClassifyArgs {
    /// A model from `hotline train`; without one the shipped keyword rules classify.
    #[arg(long, env = "HOTLINE_MODEL")]
    pub model: Option<PathBuf>,
    /// How many categories to return per text.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// District polygons (GeoJSON) for `lat,lng` lines.
    #[arg(long, env = "HOTLINE_POLYGONS")]
    pub polygons: Option<PathBuf>,
    /// Address book (地址库) CSV, as for `serve` (a bad line is refused with its number).
    #[arg(long, env = "HOTLINE_ADDRESS_BOOK")]
    pub address_book: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "HOTLINE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Where the embedded default keeps its SQLite database (used when no database URL is set).
    #[arg(long, env = "HOTLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `postgres://...` for PostgreSQL, or `sqlite://...`; empty for SQLite under --data-dir.
    #[arg(long, env = "HOTLINE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis for the working set (station queues, claim leases, SLA timers), e.g.
    /// `redis://127.0.0.1:6379/0`, or a Redis Cluster as `redis+cluster://host:port,host:port`
    /// (any of its nodes); unset: in-process (one router only).
    #[arg(long, env = "HOTLINE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Key prefix in Redis: replicas of one deployment share it; another deployment on the
    /// same Redis uses another.
    #[arg(long, env = "HOTLINE_REDIS_PREFIX", default_value = "hotline")]
    pub redis_prefix: String,

    /// Database connection pool size (PostgreSQL).
    #[arg(long, env = "HOTLINE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// The HTTP listener (Prometheus `/metrics`; the web desk and Open311 join it): an
    /// address, or `off`.
    #[arg(long, env = "HOTLINE_HTTP_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_http_listen)]
    pub http_listen: HttpListen,

    /// Finished simulations (`hotline simulate --out DIR/<run>`) the web desk shows at
    /// `/desk/simulations`; none when unset.
    #[arg(long, env = "HOTLINE_SIMULATIONS_DIR")]
    pub simulations_dir: Option<PathBuf>,

    /// Also serve Prometheus `/metrics` alone on this address (e.g. 127.0.0.1:9090); off when
    /// unset. The HTTP listener serves it too.
    #[arg(long, env = "HOTLINE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// SLA policy file (TOML); the built-in policy when unset.
    #[arg(long, env = "HOTLINE_SLA_POLICY")]
    pub sla_policy: Option<PathBuf>,

    /// Directory of holiday-cn style YYYY.json files that replace the built-in years.
    #[arg(long, env = "HOTLINE_HOLIDAYS_DIR")]
    pub holidays_dir: Option<PathBuf>,

    /// When a newly loaded holiday notice recounts a provisional deadline, let it move earlier
    /// than the one already told to the caller and the station (default: it never does).
    #[arg(long, env = "HOTLINE_CALENDAR_ALLOW_EARLIER", default_value_t = false, action = clap::ArgAction::Set)]
    pub calendar_allow_earlier: bool,

    /// Office hours for working-hour and working-day clocks, e.g. "09:00-12:00,13:30-17:30".
    #[arg(long, env = "HOTLINE_OFFICE_HOURS", default_value = "09:00-17:30")]
    pub office_hours: String,

    /// Dispatch catalogue (category x territory level -> station kind); the shipped one when
    /// unset.
    #[arg(long, env = "HOTLINE_CATALOGUE")]
    pub catalogue: Option<PathBuf>,

    /// Category model from `hotline train`; without one, the shipped keyword rules classify.
    #[arg(long, env = "HOTLINE_MODEL")]
    pub model: Option<PathBuf>,

    /// District polygons (GeoJSON) to place requests that come with a map point.
    #[arg(long, env = "HOTLINE_POLYGONS")]
    pub polygons: Option<PathBuf>,

    /// Address book (地址库) CSV: 小区 names, roads with house-number ranges and landmarks mapped
    /// to communities, with aliases (header and rules in `crates/territory/src/address_book.rs`).
    /// Consulted where the division names fail or are weak; a bad line stops start-up.
    #[arg(long, env = "HOTLINE_ADDRESS_BOOK")]
    pub address_book: Option<PathBuf>,

    /// Agreeing territory corrections after which a learned address alias is offered to a
    /// supervisor to confirm.
    #[arg(long, env = "HOTLINE_ALIAS_MIN_AGREEING", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub alias_min_agreeing: u32,

    /// Below this top-category score the router is unsure and sends the ticket to triage.
    #[arg(long, env = "HOTLINE_MIN_CATEGORY_SCORE", default_value_t = 0.5)]
    pub min_category_score: f32,

    /// A new request is compared with live tickets created within this many hours.
    #[arg(long, env = "HOTLINE_DUPLICATE_WINDOW_HOURS", default_value_t = 168)]
    pub duplicate_window_hours: u32,

    /// Text similarity (0-1) from which a request is linked to a live ticket as a duplicate.
    #[arg(long, env = "HOTLINE_DUPLICATE_MIN_SIMILARITY", default_value_t = 0.3)]
    pub duplicate_min_similarity: f32,

    /// Kiosk registry CSV (kiosk_id,community_code).
    #[arg(long, env = "HOTLINE_KIOSKS")]
    pub kiosks: Option<PathBuf>,

    /// Fire SLA timers (warnings, breaches, escalations) in this process. Every replica may;
    /// each timer still fires once.
    #[arg(long, env = "HOTLINE_RUN_TIMERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_timers: bool,

    /// 督办 (supervise) this many working days after a missed resolution deadline.
    #[arg(long, env = "HOTLINE_SUPERVISE_AFTER_WD", default_value_t = 2)]
    pub supervise_after_wd: u32,

    /// Move a ticket nobody signed for up to the parent level's station at its sign-for deadline.
    #[arg(long, env = "HOTLINE_WIDEN_UNSIGNED", default_value_t = false, action = clap::ArgAction::Set)]
    pub widen_unsigned: bool,

    /// Default claim lease, in seconds.
    #[arg(long, env = "HOTLINE_LEASE_SECONDS", default_value_t = 120)]
    pub lease_seconds: u32,

    /// Anti-entropy: seconds between rounds comparing the store with queues and timers
    /// (0 turns it off).
    #[arg(long, env = "HOTLINE_AUDIT_INTERVAL_SECONDS", default_value_t = 30)]
    pub audit_interval_seconds: u64,

    /// Anti-entropy: at most this many stations compared per round.
    #[arg(long, env = "HOTLINE_AUDIT_STATIONS", default_value_t = 200)]
    pub audit_stations: usize,

    /// Anti-entropy: at most this many tickets compared per round (the cost budget: a timer
    /// read each, and per page of 500 one indexed store read and one queue read). A station
    /// holding more is compared a page at a time over several rounds.
    #[arg(long, env = "HOTLINE_AUDIT_TICKETS", default_value_t = 2_000)]
    pub audit_tickets: usize,

    /// Seconds between computations of the supervision gauges (backlog, overdue and about to
    /// breach per district and street; an aggregate over the live tickets read a stage and a
    /// district at a time, spread over the interval, also run at start-up); 0 turns them off.
    #[arg(
        long,
        env = "HOTLINE_SLA_GAUGES_INTERVAL_SECONDS",
        default_value_t = 15
    )]
    pub sla_gauges_interval_seconds: u64,

    /// gRPC requests the router works on at once; more are refused at once with
    /// RESOURCE_EXHAUSTED and retry advice, never queued (health checks are not counted).
    #[arg(long, env = "HOTLINE_GRPC_MAX_IN_FLIGHT", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_in_flight: u32,

    /// gRPC requests one connection may have in flight (at most --grpc-max-in-flight), so one
    /// flooding client is refused before the others are.
    #[arg(long, env = "HOTLINE_GRPC_MAX_IN_FLIGHT_PER_CONNECTION", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_in_flight_per_connection: u32,

    /// HTTP/2 streams one connection may have open (requests and watches); a client sees it as
    /// SETTINGS_MAX_CONCURRENT_STREAMS and waits, a stream over it is refused. The web desk's
    /// one connection carries one or two watches per browser: raise it past ~500 desk users.
    #[arg(long, env = "HOTLINE_GRPC_MAX_STREAMS_PER_CONNECTION", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_streams_per_connection: u32,

    /// The longest a gRPC request may take, in seconds (a client's shorter `grpc-timeout`
    /// wins); the client is then answered CANCELLED while the work finishes.
    #[arg(long, env = "HOTLINE_GRPC_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub grpc_request_timeout_seconds: u64,

    /// How long SIGTERM waits for in-flight requests before stopping anyway.
    #[arg(long, env = "HOTLINE_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,

    /// Log format.
    #[arg(long, env = "HOTLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The access-token signing keys (JSON, from `hotline staff rotate-signing-key`); every
    /// replica must read the same file. Default `<data-dir>/signing-keys.json`, created with a
    /// new key on first start.
    #[arg(long, env = "HOTLINE_SIGNING_KEYS")]
    pub signing_keys: Option<PathBuf>,

    /// The centre's KPI settings: red lines, weights of the composite score, retention (JSON;
    /// docs/kpis.md). Without it, the defaults documented there.
    #[arg(long, env = "HOTLINE_KPI_CONFIG")]
    pub kpi_config: Option<PathBuf>,

    /// How often the KPI aggregates catch up with the event log, in milliseconds (a report
    /// also catches up first, so it is never stale).
    #[arg(long, env = "HOTLINE_KPI_INTERVAL_MS", default_value_t = 5_000)]
    pub kpi_interval_ms: u64,

    /// The largest share of its time a background KPI step keeps PostgreSQL busy: it writes in
    /// small statements and pauses between them, so a surge's aggregates do not take the
    /// database from intake in one burst (1 = no pauses; a report's own catch-up never
    /// pauses; SQLite never pauses).
    #[arg(long, env = "HOTLINE_KPI_DB_SHARE", default_value_t = 0.25)]
    pub kpi_db_share: f64,

    /// Hotspot / surge alerts: watch calls per place and category against their usual rate
    /// (README, "Hotspot alerts"). `false` turns them off.
    #[arg(long, env = "HOTLINE_HOTSPOT_ALERTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub hotspot_alerts: bool,

    /// Hotspot alerts: the counting bucket, in seconds (the window slides by one bucket).
    #[arg(long, env = "HOTLINE_HOTSPOT_BUCKET_SECONDS", default_value_t = 60)]
    pub hotspot_bucket_seconds: u32,

    /// Hotspot alerts: the counting window, in seconds (a whole number of buckets).
    #[arg(long, env = "HOTLINE_HOTSPOT_WINDOW_SECONDS", default_value_t = 600)]
    pub hotspot_window_seconds: u32,

    /// Hotspot alerts: alert when a window's count is this improbable at the usual rate.
    #[arg(long, env = "HOTLINE_HOTSPOT_P_VALUE", default_value_t = 1e-6)]
    pub hotspot_p_value: f64,

    /// Hotspot alerts: ...and has at least this many calls.
    #[arg(long, env = "HOTLINE_HOTSPOT_MIN_COUNT", default_value_t = 10)]
    pub hotspot_min_count: u32,

    /// Hotspot alerts: an alert clears after the window has been ordinary this many minutes.
    #[arg(long, env = "HOTLINE_HOTSPOT_COOL_DOWN_MINUTES", default_value_t = 30)]
    pub hotspot_cool_down_minutes: u32,

    /// Hotspot alerts: weeks of history the usual rates are learned from.
    #[arg(long, env = "HOTLINE_HOTSPOT_HISTORY_WEEKS", default_value_t = 4)]
    pub hotspot_history_weeks: u32,

    /// Hotspot alerts: the usual rate (calls per hour) assumed where history shows less.
    #[arg(long, env = "HOTLINE_HOTSPOT_FLOOR_PER_HOUR", default_value_t = 0.5)]
    pub hotspot_floor_per_hour: f64,

    /// Hotspot alerts: a bucket is evaluated this many seconds after it ends (calls committed
    /// late are in; every replica counts the same calls).
    #[arg(long, env = "HOTLINE_HOTSPOT_GRACE_SECONDS", default_value_t = 10)]
    pub hotspot_grace_seconds: u32,

    /// The share of direct answers (直办) the centre calls back (0 to 1): those wait in 待回访
    /// like a handled ticket, and their satisfaction counts in the KPIs and for the article.
    /// Chosen by the ticket's id, so every replica agrees.
    #[arg(long, env = "HOTLINE_DIRECT_CALLBACK_SHARE", default_value_t = 0.1)]
    pub direct_callback_share: f64,

    /// How often each replica's knowledge index catches up with the articles' publications,
    /// edits and withdrawals, in milliseconds.
    #[arg(long, env = "HOTLINE_KNOWLEDGE_INTERVAL_MS", default_value_t = 2_000)]
    pub knowledge_interval_ms: u64,

    /// Minutes an access token is valid (refresh tokens: 14 days).
    #[arg(long, env = "HOTLINE_ACCESS_TOKEN_MINUTES", default_value_t = 15)]
    pub access_token_minutes: u32,

    /// Serve gRPC over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "HOTLINE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The TLS private key (PEM) for --tls-cert.
    #[arg(long, env = "HOTLINE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Also require client certificates signed by this CA (PEM): for integrators that
    /// authenticate their platform by certificate as well as by API key.
    #[arg(long, env = "HOTLINE_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Seed demo staff accounts for trying the system (embedded default only; never in
    /// production): see the README.
    #[arg(long, env = "HOTLINE_DEMO")]
    pub demo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which system of record to use, from the URL (or its absence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    SqliteDir(PathBuf),
    SqliteUrl(String),
    Postgres(String),
}

impl ServeArgs {
    /// Parses `serve` flags from an argument list (without the program name and subcommand),
    /// with environment variables as fallbacks: for tests and embedding.
    pub fn parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv = ["hotline".into(), "serve".into()]
            .into_iter()
            .chain(args.into_iter().map(Into::into));
        match <Cli as clap::Parser>::try_parse_from(argv)?.command {
            Command::Serve(args) => Ok(*args),
            _ => unreachable!("the argument list starts with `serve`"),
        }
    }

    /// The gRPC serving limits (`--grpc-*`), checked together.
    pub fn grpc_limits(&self) -> Result<crate::grpc::limits::GrpcLimits, String> {
        crate::grpc::limits::GrpcLimits {
            max_in_flight: self.grpc_max_in_flight as usize,
            max_in_flight_per_connection: self.grpc_max_in_flight_per_connection as usize,
            max_streams_per_connection: self.grpc_max_streams_per_connection,
            request_timeout: std::time::Duration::from_secs(self.grpc_request_timeout_seconds),
        }
        .checked()
    }

    pub fn storage(&self) -> Result<Storage, String> {
        match self.database_url.as_deref().map(str::trim) {
            None | Some("") => Ok(Storage::SqliteDir(self.data_dir.clone())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Storage::Postgres(url.to_owned()))
            }
            Some(url) if url.starts_with("sqlite:") => Ok(Storage::SqliteUrl(url.to_owned())),
            Some(url) => Err(format!(
                "HOTLINE_DATABASE_URL {:?}: expected postgres://... or sqlite:...",
                redact(url)
            )),
        }
    }
}

impl ServeArgs {
    /// The hotspot alerts' settings, checked; `None` when they are off. The error names the
    /// flag and its variable.
    pub fn hotspot_config(&self) -> Result<Option<hotline_kpi::HotspotConfig>, String> {
        if !self.hotspot_alerts {
            return Ok(None);
        }
        let seconds = |n: u32| chrono::Duration::seconds(i64::from(n));
        let config = hotline_kpi::HotspotConfig {
            bucket: seconds(self.hotspot_bucket_seconds),
            window: seconds(self.hotspot_window_seconds),
            p_value: self.hotspot_p_value,
            min_count: self.hotspot_min_count,
            cool_down: chrono::Duration::minutes(i64::from(self.hotspot_cool_down_minutes)),
            history_weeks: self.hotspot_history_weeks,
            floor_per_hour: self.hotspot_floor_per_hour,
            grace: seconds(self.hotspot_grace_seconds),
        };
        config.validate().map_err(|err| {
            let flag = match &err {
                hotline_kpi::KpiError::Invalid { field, .. } => match *field {
                    "hotspot bucket" => "--hotspot-bucket-seconds (HOTLINE_HOTSPOT_BUCKET_SECONDS)",
                    "hotspot window" => "--hotspot-window-seconds (HOTLINE_HOTSPOT_WINDOW_SECONDS)",
                    "hotspot p-value" => "--hotspot-p-value (HOTLINE_HOTSPOT_P_VALUE)",
                    "hotspot min count" => "--hotspot-min-count (HOTLINE_HOTSPOT_MIN_COUNT)",
                    "hotspot cool-down" => {
                        "--hotspot-cool-down-minutes (HOTLINE_HOTSPOT_COOL_DOWN_MINUTES)"
                    }
                    "hotspot history weeks" => {
                        "--hotspot-history-weeks (HOTLINE_HOTSPOT_HISTORY_WEEKS)"
                    }
                    "hotspot floor per hour" => {
                        "--hotspot-floor-per-hour (HOTLINE_HOTSPOT_FLOOR_PER_HOUR)"
                    }
                    "hotspot grace" => "--hotspot-grace-seconds (HOTLINE_HOTSPOT_GRACE_SECONDS)",
                    _ => "hotspot alerts",
                },
                _ => "hotspot alerts",
            };
            format!("{flag}: {err}")
        })?;
        Ok(Some(config))
    }
}

/// Hides a password in a URL before it goes into a message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["hotline", "serve"];
        argv.extend_from_slice(extra);
        ServeArgs::parse_from(&argv[2..]).unwrap()
    }

    #[test]
    fn no_database_url_means_sqlite_under_the_data_dir() {
        let a = args(&["--data-dir", "/tmp/x"]);
        assert_eq!(a.storage().unwrap(), Storage::SqliteDir("/tmp/x".into()));
        assert_eq!(a.listen.to_string(), "127.0.0.1:50051");
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_anything_else_is_refused() {
        let a = args(&["--database-url", "postgres://u:secret@db/h"]);
        assert_eq!(
            a.storage().unwrap(),
            Storage::Postgres("postgres://u:secret@db/h".into())
        );
        let bad = args(&["--database-url", "mysql://u:secret@db/h"]);
        let err = bad.storage().unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn grpc_limits_default_to_the_documented_values_and_are_checked_together() {
        use crate::grpc::limits::GrpcLimits;
        assert_eq!(args(&[]).grpc_limits(), Ok(GrpcLimits::default()));
        let set = args(&[
            "--grpc-max-in-flight",
            "8",
            "--grpc-max-in-flight-per-connection",
            "2",
            "--grpc-max-streams-per-connection",
            "4",
            "--grpc-request-timeout-seconds",
            "5",
        ])
        .grpc_limits()
        .unwrap();
        assert_eq!(
            (
                set.max_in_flight,
                set.max_in_flight_per_connection,
                set.max_streams_per_connection,
                set.request_timeout.as_secs()
            ),
            (8, 2, 4, 5)
        );
        let err = args(&[
            "--grpc-max-in-flight",
            "8",
            "--grpc-max-in-flight-per-connection",
            "9",
        ])
        .grpc_limits()
        .unwrap_err();
        assert!(
            err.contains("HOTLINE_GRPC_MAX_IN_FLIGHT_PER_CONNECTION"),
            "{err}"
        );
        assert!(ServeArgs::parse_from(["--grpc-max-in-flight", "0"]).is_err());
    }

    #[test]
    fn hotspot_settings_default_to_valid_ones_and_bad_ones_are_refused_naming_the_flag() {
        let config = args(&[]).hotspot_config().unwrap().expect("on by default");
        assert_eq!(config, hotline_kpi::HotspotConfig::default());
        assert_eq!(
            args(&["--hotspot-alerts", "false"])
                .hotspot_config()
                .unwrap(),
            None
        );
        for (flag, value, named) in [
            (
                "--hotspot-p-value",
                "0.9",
                "--hotspot-p-value (HOTLINE_HOTSPOT_P_VALUE)",
            ),
            ("--hotspot-p-value", "0", "--hotspot-p-value"),
            ("--hotspot-min-count", "0", "--hotspot-min-count"),
            ("--hotspot-window-seconds", "90", "--hotspot-window-seconds"),
            ("--hotspot-bucket-seconds", "0", "--hotspot-bucket-seconds"),
            ("--hotspot-history-weeks", "0", "--hotspot-history-weeks"),
            ("--hotspot-floor-per-hour", "-1", "--hotspot-floor-per-hour"),
        ] {
            // `--flag=value`: a value like -1 is not taken for a flag.
            let err = args(&[&format!("{flag}={value}")])
                .hotspot_config()
                .unwrap_err();
            assert!(err.starts_with(named), "{flag} {value}: {err}");
        }
        // Not a number at all: clap refuses it before anything runs.
        assert!(ServeArgs::parse_from(["--hotspot-min-count", "lots"]).is_err());
    }
}

/// Where the HTTP listener listens, or that it is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpListen {
    Off,
    On(SocketAddr),
}

fn parse_http_listen(raw: &str) -> Result<HttpListen, String> {
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(HttpListen::Off);
    }
    raw.trim()
        .parse()
        .map(HttpListen::On)
        .map_err(|_| format!("{raw:?} is not an address like 127.0.0.1:8080, nor `off`"))
}
