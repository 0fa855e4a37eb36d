//! Wiring and serving: open the store, build the engine, serve gRPC (with health and
//! reflection) until `shutdown` resolves, then drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hotline_core::{Clock, SystemClock};
use hotline_directory::Directory;
use hotline_dispatch::{
    DuplicateIndex, MemoryDuplicates, MemoryQueue, MemoryTimers, Queue, RedisDuplicates,
    RedisQueue, RedisTimers, TimerIndex,
};
use hotline_identity::{
    write_initial_password, AccountStore, DisplayName, Identity, IdentityConfig, KeyRing,
    LoginName, NewAccount, Password, PgAccounts, Role, SqliteAccounts,
};
use hotline_proto::v1::admin_server::AdminServer;
use hotline_proto::v1::auth_server::AuthServer;
use hotline_proto::v1::directory_server::DirectoryServer;
use hotline_proto::v1::incidents_server::IncidentsServer;
use hotline_proto::v1::intake_server::IntakeServer;
use hotline_proto::v1::knowledge_server::KnowledgeServer;
use hotline_proto::v1::kpis_server::KpisServer;
use hotline_proto::v1::station_server::StationServer;
use hotline_proto::v1::supervision_server::SupervisionServer;
use hotline_sla::{OfficeHours, SlaPolicy, WorkingCalendar};
use hotline_store::{AliasStore, IncidentStore, PgStore, SqliteStore, TicketStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::config::{redact, ServeArgs, Storage};
use crate::deadlines::Sla;
use crate::escalation;
use crate::feed::EventFeed;
use crate::grpc::auth::{AdminApi, AuthApi, AuthLayer};
use crate::grpc::directory::DirectoryApi;
use crate::grpc::incidents::IncidentsApi;
use crate::grpc::intake::IntakeApi;
use crate::grpc::knowledge::KnowledgeApi;
use crate::grpc::kpis::KpisApi;
use crate::grpc::limits::{GrpcLimits, InFlight, InFlightLayer};
use crate::grpc::station::StationApi;
use crate::grpc::supervision::SupervisionApi;
use crate::routing::Routing;
use crate::tickets::{CalendarSource, Hotline, LeasePolicy};
use hotline_routing::{minhash, Catalogue, DuplicateSettings, RoutingEngine};
use hotline_territory::{AddressBook, DistrictPolygons, Resolver};

/// How often the live event stream (WatchEvents) reads the change log while someone listens.
const FEED_INTERVAL: Duration = Duration::from_millis(500);
/// How often expired claim leases are returned to their queues.
const LEASE_SWEEP: Duration = Duration::from_secs(1);
/// The health-check name that reports the working set (queues, timers): NOT_SERVING while an
/// update is waiting to be repaired from the store.
pub const WORKING_SET_HEALTH: &str = "hotline.working_set";

/// Opens the system of record the configuration names.
pub async fn open_store(args: &ServeArgs) -> anyhow::Result<Arc<dyn TicketStore>> {
    Ok(open_record(args).await?.0)
}

/// The system of record as its two rooms on one connection pool: tickets, and the address
/// aliases learned from corrections.
/// The system of record's rooms, all in one database: tickets, learned aliases, incidents.
pub type Record = (
    Arc<dyn TicketStore>,
    Arc<dyn AliasStore>,
    Arc<dyn IncidentStore>,
);

pub async fn open_record(args: &ServeArgs) -> anyhow::Result<Record> {
    fn both<S: TicketStore + AliasStore + IncidentStore>(store: S) -> Record {
        let store = Arc::new(store);
        (store.clone(), store.clone(), store)
    }
    let storage = args.storage().map_err(anyhow::Error::msg)?;
    Ok(match storage {
        Storage::SqliteDir(dir) => {
            let store = SqliteStore::open_dir(&dir)
                .await
                .with_context(|| format!("opening SQLite under {}", dir.display()))?;
            let schema = store.schema_status().await?.version();
            tracing::info!(dir = %dir.display(), schema, "storage: embedded SQLite");
            metrics::gauge!("hotline_schema_version").set(schema as f64);
            both(store)
        }
        Storage::SqliteUrl(url) => {
            let store = SqliteStore::open_url(&url)
                .await
                .with_context(|| format!("opening {url}"))?;
            let schema = store.schema_status().await?.version();
            tracing::info!(%url, schema, "storage: SQLite");
            metrics::gauge!("hotline_schema_version").set(schema as f64);
            both(store)
        }
        Storage::Postgres(url) => {
            let store = PgStore::connect(&url, args.db_max_connections)
                .await
                .with_context(|| format!("connecting to {}", redact(&url)))?;
            let schema = store.schema_status().await?.version();
            tracing::info!(url = %redact(&url), schema, "storage: PostgreSQL");
            metrics::gauge!("hotline_schema_version").set(schema as f64);
            both(store)
        }
    })
}

/// Loads the SLA policy and calendar the configuration names; a bad file stops start-up.
pub fn load_sla(args: &ServeArgs) -> anyhow::Result<Sla> {
    let policy = match &args.sla_policy {
        Some(path) => {
            SlaPolicy::from_path(path).with_context(|| format!("SLA policy {}", path.display()))?
        }
        None => SlaPolicy::default_policy(),
    };
    Ok(Sla::new(policy, load_calendar(args, chrono::Utc::now())?))
}

/// The working calendar: the shipped notices, the ones in `--holidays-dir` over them, and a
/// provisional calendar (statutory holidays, no 调休) for every later year up to next year
/// (`now`'s year + 1), so deadlines reaching into a year whose notice is not out are counted
/// and marked provisional instead of left unset. Later years, and years before the first
/// notice, stay unknown.
pub fn load_calendar(
    args: &ServeArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<WorkingCalendar> {
    let calendar = match &args.holidays_dir {
        Some(dir) => WorkingCalendar::builtin_with_updates(dir)
            .with_context(|| format!("holiday files in {}", dir.display()))?,
        None => WorkingCalendar::builtin(),
    };
    let office = OfficeHours::parse(&args.office_hours)
        .with_context(|| format!("HOTLINE_OFFICE_HOURS {:?}", args.office_hours))?;
    let next_year = chrono::Datelike::year(&calendar.local_date(now)) + 1;
    let calendar = calendar
        .with_office_hours(office)
        .with_provisional_until(next_year)?;
    if !calendar.provisional_years().is_empty() {
        tracing::info!(
            provisional = ?calendar.provisional_years(),
            "holiday notices not loaded for these years: their deadlines are provisional (statutory holidays only, no 调休)"
        );
    }
    Ok(calendar)
}

/// Loads the directory (the shipped Suzhou divisions and stations, plus registered kiosks).
pub fn load_directory(args: &ServeArgs) -> anyhow::Result<Arc<Directory>> {
    let mut directory = Directory::suzhou();
    if let Some(path) = &args.kiosks {
        let count = directory
            .load_kiosks_path(path)
            .with_context(|| format!("kiosk registry {}", path.display()))?;
        tracing::info!(count, "kiosks registered");
    }
    Ok(Arc::new(directory))
}

/// Builds the routing engine: classifier (shipped rules, or a trained model), territory
/// resolver (with polygons if given), dispatch catalogue. A bad file stops start-up.
pub fn load_routing(args: &ServeArgs, directory: &Arc<Directory>) -> anyhow::Result<Routing> {
    let classifier = crate::cli::classifier(args.model.as_deref(), 3)
        .with_context(|| "loading the category model (HOTLINE_MODEL)")?;
    let mut resolver = Resolver::new(directory.clone());
    if let Some(path) = &args.address_book {
        let book = AddressBook::load_path(path, directory)
            .with_context(|| format!("address book {} (HOTLINE_ADDRESS_BOOK)", path.display()))?;
        tracing::info!(path = %path.display(), entries = book.len(), "address book loaded");
        resolver = resolver.with_address_book(book);
    }
    if let Some(path) = &args.polygons {
        resolver = resolver.with_polygons(
            DistrictPolygons::from_geojson_path(path)
                .with_context(|| format!("district polygons {}", path.display()))?,
        );
    }
    let catalogue = match &args.catalogue {
        Some(path) => Catalogue::load(path)?,
        None => Catalogue::shipped(),
    };
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.min_category_score),
        "HOTLINE_MIN_CATEGORY_SCORE must be between 0 and 1"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.duplicate_min_similarity),
        "HOTLINE_DUPLICATE_MIN_SIMILARITY must be between 0 and 1"
    );
    let settings = hotline_routing::Settings {
        min_category_score: args.min_category_score,
        ..hotline_routing::Settings::default()
    };
    let engine = RoutingEngine::new(classifier, resolver, catalogue, directory.clone(), settings)?;
    tracing::info!(versions = engine.versions(), "routing engine ready");
    if let Some(model) = engine.classifier().model() {
        // Which model decides, on every replica: dashboards compare replicas and releases.
        metrics::gauge!("hotline_classifier_model_info", "version" => model.version().to_owned())
            .set(1.0);
        if let Some(threshold) = model.threshold() {
            metrics::gauge!("hotline_classifier_dispatch_threshold").set(f64::from(threshold));
        }
    }
    let duplicates = DuplicateSettings {
        window: Duration::from_secs(u64::from(args.duplicate_window_hours) * 3600),
        min_similarity: args.duplicate_min_similarity,
    };
    Ok(Routing::new(Arc::new(engine), duplicates))
}

/// Opens the working set the configuration names: Redis (shared by replicas) or in-process.
pub async fn open_working_set(
    args: &ServeArgs,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<dyn Queue>, Arc<dyn TimerIndex>, Arc<dyn DuplicateIndex>)> {
    let Some(url) = args.redis_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        tracing::info!("working set: in-process");
        return Ok((
            Arc::new(MemoryQueue::new()),
            Arc::new(MemoryTimers::new()),
            Arc::new(MemoryDuplicates::new()),
        ));
    };
    let queue = RedisQueue::connect(url, &args.redis_prefix)
        .await
        .with_context(|| format!("connecting to Redis at {} (HOTLINE_REDIS_URL)", redact(url)))?;
    let timers = RedisTimers::connect(url, &args.redis_prefix)
        .await
        .with_context(|| format!("connecting to Redis at {} (HOTLINE_REDIS_URL)", redact(url)))?;
    // Under the signature scheme: routers signing texts differently never share an index.
    let duplicates = RedisDuplicates::connect(url, &args.redis_prefix, minhash::SCHEME)
        .await
        .with_context(|| format!("connecting to Redis at {} (HOTLINE_REDIS_URL)", redact(url)))?
        .with_clock(clock);
    tracing::info!(url = %redact(url), prefix = %args.redis_prefix, "working set: Redis");
    Ok((Arc::new(queue), Arc::new(timers), Arc::new(duplicates)))
}

/// The signing-key file `serve` uses: the flag, else `<data-dir>/signing-keys.json`.
pub fn signing_keys_path(args: &ServeArgs) -> std::path::PathBuf {
    args.signing_keys
        .clone()
        .unwrap_or_else(|| args.data_dir.join("signing-keys.json"))
}

/// Opens the identity room on the same system of record: accounts, keys, the first start's
/// `admin`, and (with `--demo`) demo staff.
pub async fn open_identity(
    args: &ServeArgs,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Identity>> {
    let storage = args.storage().map_err(anyhow::Error::msg)?;
    let accounts: Arc<dyn AccountStore> = match &storage {
        Storage::SqliteDir(dir) => Arc::new(SqliteAccounts::open_dir(dir).await?),
        Storage::SqliteUrl(url) => Arc::new(SqliteAccounts::open_url(url).await?),
        Storage::Postgres(url) => Arc::new(
            PgAccounts::connect(url, args.db_max_connections.clamp(1, 4))
                .await
                .with_context(|| format!("connecting to {} for accounts", redact(url)))?,
        ),
    };
    let keys_path = signing_keys_path(args);
    if !keys_path.exists() {
        if args.signing_keys.is_some() {
            anyhow::bail!(
                "signing key file {} does not exist; create it with `hotline staff rotate-signing-key --keys {}`",
                keys_path.display(),
                keys_path.display()
            );
        }
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
        let kid = KeyRing::rotate_file(&keys_path, clock.now())?;
        if matches!(storage, Storage::Postgres(_)) {
            tracing::warn!(path = %keys_path.display(), kid, "created a signing key for this replica alone; replicas of one deployment must share one key file (--signing-keys)");
        } else {
            tracing::info!(path = %keys_path.display(), kid, "created the access-token signing key");
        }
    }
    let keys = KeyRing::load(&keys_path)
        .with_context(|| format!("signing key file {}", keys_path.display()))?;
    let config = IdentityConfig {
        access_ttl: chrono::Duration::minutes(i64::from(args.access_token_minutes.max(1))),
        ..IdentityConfig::default()
    };
    let identity = Arc::new(Identity::new(accounts, clock, keys, config));
    if let Some(admin) = identity.bootstrap_admin().await? {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
        let path = write_initial_password(&args.data_dir, &admin)?;
        // Shown once, as GitLab and Jenkins do: the administrator logs in and changes it.
        tracing::warn!(
            login = %admin.login,
            password = %admin.password,
            file = %path.display(),
            "first start: created the administrator account; log in and change its password"
        );
    }
    if args.demo {
        anyhow::ensure!(
            matches!(storage, Storage::SqliteDir(_)),
            "--demo seeds demo staff on the embedded default only (no --database-url)"
        );
        seed_demo_staff(&identity).await?;
    }
    Ok(identity)
}

/// The demo staff of `--demo`, all with the password [`DEMO_PASSWORD`].
pub const DEMO_STAFF: &[(&str, &str, &str, &str)] = &[
    ("operator", "demo-operator", "话务员小张", ""),
    (
        "station_staff",
        "demo-css",
        "沧浪亭社区服务站 李",
        "320508021019-css",
    ),
    (
        "station_staff",
        "demo-office",
        "双塔街道办事处 王",
        "320508021-office",
    ),
    ("supervisor", "demo-supervisor", "市中心督办 陈", "city"),
    ("supervisor", "demo-gusu", "姑苏区督办 周", "320508"),
    ("knowledge_editor", "demo-editor", "知识库编辑 吴", "city"),
];
pub const DEMO_PASSWORD: &str = "hotline-demo";

async fn seed_demo_staff(identity: &Identity) -> anyhow::Result<()> {
    tracing::warn!(
        password = DEMO_PASSWORD,
        "DEMO MODE: seeding demo staff accounts with a published password; never use --demo in production"
    );
    for (role, login, name, scope) in DEMO_STAFF {
        let role = Role::parse("role", role)?;
        let scope = crate::grpc::auth::scope_for(role, scope, scope, Vec::new(), Vec::new())?;
        let added = identity
            .add_account(NewAccount {
                login: LoginName::parse("login", login)?,
                display_name: DisplayName::parse("display_name", name)?,
                role,
                scope,
                password: Password::parse("password", DEMO_PASSWORD)?,
            })
            .await;
        match added {
            Ok(_) | Err(hotline_identity::IdentityError::LoginTaken(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A few published articles (written by the demo editor, approved by the demo supervisor) so
/// a newcomer sees suggestions on the desk's first call; only into an empty base.
async fn seed_demo_articles(room: &crate::knowledge::KnowledgeRoom) -> anyhow::Result<()> {
    use hotline_core::{CategoryCode, DivisionCode, StaffId, StationId};
    use hotline_knowledge::{Content, Source};
    let service = room.service();
    if !service.store().list(None).await?.is_empty() {
        return Ok(());
    }
    let editor = StaffId::parse("login", "demo-editor")?;
    let reviewer = StaffId::parse("login", "demo-supervisor")?;
    let articles = [
        (
            "居住证怎么办理",
            &["办居住证需要什么材料", "外地人怎么申领居住证"][..],
            "在本市居住半年以上，并有合法稳定就业、合法稳定住所或连续就读之一的，可以到居住地派出所或社区警务室申领居住证。请携带本人身份证、近期照片和居住证明（房产证、租赁合同备案或单位证明）。",
            "ZF.HJZJ",
            "3205",
            "居住证暂行条例",
            "国务院令第663号",
        ),
        (
            "失业保险金怎么申领",
            &["失业金怎么领", "失业了能领多少钱"][..],
            "失业前单位和本人已缴纳失业保险满一年、非本人意愿中断就业、已办理失业登记并有求职要求的，可以在线上或到公共就业服务机构申领失业保险金。",
            "LS.JYPX",
            "3205",
            "失业保险条例",
            "国务院令第258号",
        ),
        (
            "老旧小区加装电梯有补贴吗",
            &["加装电梯补贴怎么申请", "加梯补助"][..],
            "姑苏区既有多层住宅加装电梯，经业主协商一致并取得规划许可、竣工验收合格后，可向所在街道申请财政补贴，具体标准以区住建部门公布的办法为准。",
            "CJ.ZFBZ",
            "320508",
            "既有多层住宅增设电梯实施办法",
            "",
        ),
    ];
    for (title, questions, answer, category, territory, source, number) in articles {
        let content = Content {
            title: title.into(),
            alt_questions: questions.iter().map(|q| (*q).to_owned()).collect(),
            answer: answer.into(),
            internal_note: "演示数据 demo data".into(),
            categories: vec![CategoryCode::parse("category", category)?],
            territories: vec![DivisionCode::parse("territory", territory)?],
            source: Source {
                name: source.into(),
                number: number.into(),
                link: String::new(),
            },
            effective_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date"),
            effective_until: None,
            owner: StationId::parse("owner", "320508021-office")?,
            review_on: None,
        };
        let draft = service.create(&editor, content, None).await?;
        service.submit(&editor, draft.id, 1).await?;
        service.approve(&reviewer, draft.id, 1).await?;
    }
    room.sync().rebuild(service.store().as_ref()).await?;
    tracing::warn!("DEMO MODE: seeded three published knowledge articles");
    Ok(())
}

/// Builds the engine from configuration, with the working set rebuilt from the store if it
/// needs it.
pub async fn build(args: &ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Hotline> {
    let clock_for_identity = clock.clone();
    let directory = load_directory(args)?;
    let sla = load_sla(args)?;
    // Provisional years are counted from the engine's clock, not the wall clock.
    sla.replace_calendar(load_calendar(args, clock.now())?);
    let (store, alias_store, incident_store) = open_record(args).await?;
    let leases = LeasePolicy {
        default: chrono::Duration::seconds(i64::from(args.lease_seconds.max(1))),
        ..LeasePolicy::default()
    };
    let routing = load_routing(args, &directory)?;
    let aliases =
        crate::aliases::AliasRoom::open(alias_store, routing.engine_arc(), args.alias_min_agreeing)
            .await
            .context("loading the learned address aliases")?;
    let working_set = open_working_set(args, clock.clone()).await?;
    let kpis = crate::kpis::open(args, sla.clone(), clock.clone()).await?;
    let hotspots = match args.hotspot_config().map_err(anyhow::Error::msg)? {
        Some(config) => Some(crate::hotspots::HotspotRoom::new(
            config,
            kpis.store().clone(),
            clock.clone(),
        )?),
        None => None,
    };
    let knowledge = crate::knowledge::KnowledgeRoom::open(
        args,
        directory.clone(),
        Some(routing.engine().classifier().taxonomy().clone()),
        clock.clone(),
    )
    .await
    .context("opening the knowledge base")?;
    if args.demo {
        seed_demo_articles(&knowledge).await?;
    }
    let hotline = Hotline::new(
        store,
        working_set,
        directory,
        sla,
        clock,
        leases,
        escalation::Settings {
            supervise_after_wd: args.supervise_after_wd,
            widen_unsigned: args.widen_unsigned,
        },
    )
    .with_routing(routing)
    .with_aliases(aliases)
    .with_incidents(incident_store)
    .with_kpis(kpis)
    .with_hotspots(hotspots)
    .with_knowledge(knowledge)
    .with_identity(open_identity(args, clock_for_identity).await?)
    .with_calendar_source(CalendarSource {
        load: {
            let args = args.clone();
            Arc::new(move |now| load_calendar(&args, now))
        },
        holidays_dir: args.holidays_dir.clone(),
        allow_earlier: args.calendar_allow_earlier,
    });
    // A notice put in --holidays-dir while the router was down: the deadlines counted on the
    // provisional year before are recounted now, as a reload would (idempotent: a deadline
    // already recounted stays, with no new event).
    if args.holidays_dir.is_some() {
        let shipped = WorkingCalendar::builtin().with_provisional_until(
            chrono::Datelike::year(&hotline.sla().calendar().local_date(hotline.now())) + 1,
        )?;
        let loaded = hotline.sla().calendar();
        let newly_published = shipped
            .provisional_years()
            .iter()
            .any(|y| loaded.published_years().contains(y));
        if newly_published {
            let status = hotline
                .recount_provisional(&shipped, args.calendar_allow_earlier)
                .await
                .context("recounting provisional deadlines on the loaded holiday notices")?;
            tracing::info!(
                checked = status.checked,
                recomputed = status.recomputed,
                "holiday notices from --holidays-dir applied to open tickets"
            );
        }
    }
    // A new in-process queue, or a Redis without our data, is rebuilt from the store; a Redis
    // that other replicas keep up to date is left as it is.
    let rebuilt = hotline
        .repair_working_set()
        .await
        .context("rebuilding the working set (queues, timers) from the store")?;
    tracing::info!(rebuilt, "ready");
    Ok(hotline)
}

/// A test hook for the chaos harness (tests/chaos): the router's clock is the wall clock plus
/// the offset in milliseconds written in this file, read at start and again on every SIGUSR1,
/// so the harness can step one replica's clock while it runs. Not for production.
pub const TEST_CLOCK_OFFSET_FILE: &str = "HOTLINE_TEST_CLOCK_OFFSET_FILE";

fn stepped_clock(path: std::path::PathBuf) -> anyhow::Result<Arc<dyn Clock>> {
    fn read(path: &std::path::Path) -> anyhow::Result<i64> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        text.trim().parse().with_context(|| {
            format!(
                "{}: want a clock offset in milliseconds, found {:?}",
                path.display(),
                text.trim()
            )
        })
    }
    let clock = hotline_core::SteppedClock::default();
    clock.set_offset_ms(read(&path)?);
    tracing::warn!(offset_ms = clock.offset_ms(), file = %path.display(), "test hook: a stepped clock");
    let mut steps = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .context("installing the SIGUSR1 handler")?;
    let stepped = clock.clone();
    tokio::spawn(async move {
        while steps.recv().await.is_some() {
            match read(&path) {
                Ok(offset) => {
                    stepped.set_offset_ms(offset);
                    tracing::warn!(offset_ms = offset, "test hook: clock stepped");
                }
                Err(err) => tracing::warn!(error = %err, "test hook: clock not stepped"),
            }
        }
    });
    Ok(Arc::new(clock))
}

/// The whole `hotline serve`: build, listen, serve until SIGTERM/ctrl-c, drain.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Flags that can be refused are checked before anything is built or bound, so a typo
    // fails the start with the flag's name instead of after the listeners are up.
    let kpi_pace = hotline_kpi::Pace::share(args.kpi_db_share)
        .context("--kpi-db-share (HOTLINE_KPI_DB_SHARE)")?;
    let limits = args.grpc_limits().map_err(anyhow::Error::msg)?;
    let tls = tls_config(&args)?;
    let metrics = crate::metrics::handle()?;
    let clock: Arc<dyn Clock> = match std::env::var_os(TEST_CLOCK_OFFSET_FILE) {
        Some(path) => stepped_clock(std::path::PathBuf::from(path))?,
        None => Arc::new(SystemClock),
    };
    let hotline = build(&args, clock).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(addr = %args.listen, "serving hotline.v1");
    // SIGHUP loads the holiday notices again (a new YYYY.json in --holidays-dir) without a
    // restart, recounting provisional deadlines, and rebuilds the knowledge index from the
    // store (on demand, beside its follower).
    {
        let hotline = hotline.clone();
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the holiday notices");
                if let Err(err) = hotline.reload_calendar().await {
                    crate::logging::warn_summarised("calendar reload", &err);
                }
                if let Some(knowledge) = hotline.knowledge() {
                    let store = knowledge.service().store().clone();
                    match knowledge.sync().rebuild(store.as_ref()).await {
                        Ok(articles) => tracing::info!(
                            articles,
                            "SIGHUP: knowledge index rebuilt from the store"
                        ),
                        Err(err) => {
                            crate::logging::warn_summarised("knowledge index rebuild", &err)
                        }
                    }
                }
            }
        });
    }
    // One shutdown signal for every listener.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let mut http_servers = Vec::new();
    let http_listens = [
        match args.http_listen {
            crate::config::HttpListen::On(addr) => {
                Some((addr, "HTTP (/desk, /open311/v2, /metrics)"))
            }
            crate::config::HttpListen::Off => None,
        },
        args.metrics_listen.map(|addr| (addr, "metrics")),
    ];
    // The web desk is a client of the public gRPC API, this router's own listener. Over TLS it
    // runs on its own instead (`agent-desk web --server https://… --ca-cert …`).
    let desk_channel = match args.tls_cert {
        None => Some(
            tonic::transport::Endpoint::from_shared(format!("http://{}", args.listen))
                .context("the web desk's gRPC address")?
                .tcp_nodelay(true)
                .connect_lazy(),
        ),
        Some(_) => {
            tracing::info!(
                "gRPC is on TLS: the web desk is not mounted; run `agent-desk web` against it"
            );
            None
        }
    };
    for (addr, what) in http_listens.into_iter().flatten() {
        let http = TcpListener::bind(addr).await.with_context(|| {
            format!("listening for {what} on {addr} (--http-listen / --metrics-listen)")
        })?;
        tracing::info!(%addr, "serving {what}");
        http_servers.push(tokio::spawn(crate::http::serve(
            http,
            crate::http::router(
                metrics.clone(),
                (what != "metrics").then(|| hotline.clone()),
                (what != "metrics").then(|| desk_channel.clone()).flatten(),
                args.simulations_dir.clone(),
            ),
            stopped(stop_rx.clone()),
        )));
    }
    // The supervision gauges go with /metrics: only a served router computes them.
    let gauges = (args.sla_gauges_interval_seconds > 0).then(|| {
        tokio::spawn(crate::metrics::sla_gauge_loop(
            hotline.clone(),
            Duration::from_secs(args.sla_gauges_interval_seconds),
            stop_rx.clone(),
        ))
    });
    let options = ServeOptions {
        tls,
        grace: Duration::from_secs(args.shutdown_grace_seconds),
        run_timers: args.run_timers,
        audit: (args.audit_interval_seconds > 0).then(|| Audit {
            every: Duration::from_secs(args.audit_interval_seconds),
            budget: crate::working_set::AuditBudget {
                stations: args.audit_stations.max(1),
                tickets: args.audit_tickets.max(1),
            },
        }),
        kpi_interval: Duration::from_millis(args.kpi_interval_ms.max(100)),
        kpi_pace,
        knowledge_interval: Duration::from_millis(args.knowledge_interval_ms.max(100)),
        limits,
        in_flight: InFlight::default(),
    };
    let served = serve(listener, hotline, stopped(stop_rx), options).await;
    if let Some(gauges) = gauges {
        gauges.abort();
    }
    for http in http_servers {
        match http.await {
            Ok(Err(err)) => {
                tracing::warn!(error = %crate::logging::describe(&err), "HTTP listener")
            }
            Err(err) => tracing::warn!(error = %err, "HTTP listener task"),
            Ok(Ok(())) => {}
        }
    }
    served
}

/// The TLS configuration `--tls-cert`, `--tls-key` and `--tls-client-ca` name.
pub fn tls_config(args: &ServeArgs) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).with_context(|| format!("reading the TLS {what} {}", path.display()))
    };
    let mut config = tonic::transport::ServerTlsConfig::new().identity(
        tonic::transport::Identity::from_pem(read(cert, "certificate")?, read(key, "key")?),
    );
    if let Some(ca) = &args.tls_client_ca {
        config = config.client_ca_root(tonic::transport::Certificate::from_pem(read(
            ca,
            "client CA",
        )?));
    }
    tracing::info!(cert = %cert.display(), client_certificates = args.tls_client_ca.is_some(), "gRPC over TLS");
    Ok(Some(config))
}

/// How [`serve`] runs besides the gRPC services.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// gRPC over TLS (`--tls-cert`, `--tls-key`); plaintext when `None`.
    pub tls: Option<tonic::transport::ServerTlsConfig>,
    /// How long in-flight requests may finish after shutdown starts.
    pub grace: Duration,
    /// Fire SLA timers from this process (tests drive them by hand instead).
    pub run_timers: bool,
    /// Anti-entropy rounds (off when `None`).
    pub audit: Option<Audit>,
    /// How often the KPI aggregates catch up with the event log.
    pub kpi_interval: Duration,
    /// How those steps share the database with intake.
    pub kpi_pace: hotline_kpi::Pace,
    /// How often the knowledge index catches up with the articles.
    pub knowledge_interval: Duration,
    /// In-flight, HTTP/2 and time limits on gRPC requests (`grpc::limits`).
    pub limits: GrpcLimits,
    /// The count of requests in flight; a harness keeps a clone to wait until they are done.
    pub in_flight: InFlight,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tls: None,
            grace: Duration::from_secs(30),
            run_timers: true,
            audit: Some(Audit {
                every: Duration::from_secs(30),
                budget: crate::working_set::AuditBudget {
                    stations: 200,
                    tickets: 2_000,
                },
            }),
            kpi_interval: Duration::from_secs(5),
            // Unpaced: the harnesses that use the default read KPIs right after acting and
            // have no intake to protect; `hotline serve` takes `--kpi-db-share` (0.25).
            kpi_pace: hotline_kpi::Pace::FULL,
            knowledge_interval: Duration::from_secs(2),
            limits: GrpcLimits::default(),
            in_flight: InFlight::default(),
        }
    }
}

/// How often anti-entropy runs and how much it compares per round.
#[derive(Debug, Clone, Copy)]
pub struct Audit {
    pub every: Duration,
    pub budget: crate::working_set::AuditBudget,
}

impl Audit {
    /// A round cut into slices of at most a page of tickets each, spread over the interval:
    /// the slice's period and budget. A round's pages back to back were a burst of PostgreSQL
    /// reading ticket bodies (~50 ms a page at 1M live tickets, four pages at the default
    /// budget), and the submits of that moment waited for a core.
    pub fn sliced(&self) -> (Duration, crate::working_set::AuditBudget) {
        let slices = self
            .budget
            .tickets
            .div_ceil(crate::working_set::AUDIT_PAGE)
            .max(1);
        (
            self.every / slices as u32,
            crate::working_set::AuditBudget {
                stations: self.budget.stations.div_ceil(slices).max(1),
                tickets: self.budget.tickets.div_ceil(slices).max(1),
            },
        )
    }
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, ends watch streams and
/// waits up to `grace` for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    hotline: Hotline,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let grace = options.grace;
    let (stop_tx, stop_rx) = watch::channel(false);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<IntakeServer<IntakeApi>>().await;
    health.set_serving::<StationServer<StationApi>>().await;
    health
        .set_serving::<SupervisionServer<SupervisionApi>>()
        .await;
    health.set_serving::<DirectoryServer<DirectoryApi>>().await;
    health.set_serving::<IncidentsServer<IncidentsApi>>().await;
    health
        .set_service_status(READINESS_HEALTH, tonic_health::ServingStatus::Serving)
        .await;
    health
        .set_service_status(LIVENESS_HEALTH, tonic_health::ServingStatus::Serving)
        .await;
    health
        .set_service_status(WORKING_SET_HEALTH, tonic_health::ServingStatus::Serving)
        .await;

    // Both reflection versions: v1 for current tools, v1alpha for Python's grpcio-reflection,
    // older grpcurl and others that know only that one.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(hotline_proto::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .context("building gRPC reflection (v1)")?;
    let reflection_alpha = reflection_builder()
        .build_v1alpha()
        .context("building gRPC reflection (v1alpha)")?;

    let beats = Arc::new(Heartbeats::default());
    let mut tasks = vec![
        tokio::spawn(health_probe(
            hotline.clone(),
            health.clone(),
            beats.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(lease_sweep(hotline.clone(), beats.clone(), stop_rx.clone())),
        tokio::spawn(repair_loop(hotline.clone(), stop_rx.clone())),
    ];
    if let Some(audit) = options.audit {
        tasks.push(tokio::spawn(audit_loop(
            hotline.clone(),
            audit,
            stop_rx.clone(),
        )));
    }
    if options.run_timers {
        tasks.push(tokio::spawn(timer_loop(
            hotline.clone(),
            beats.clone(),
            stop_rx.clone(),
        )));
    }

    let identity = hotline
        .identity()
        .cloned()
        .context("the engine was built without the identity room (server::build wires it)")?;
    let kpis = hotline
        .kpis()
        .cloned()
        .context("the engine was built without the KPI room (server::build wires it)")?;
    tasks.push(tokio::spawn(kpis.follower().clone().run(
        options.kpi_interval,
        options.kpi_pace,
        stop_rx.clone(),
    )));
    if let Some(knowledge) = hotline.knowledge() {
        tasks.push(tokio::spawn(
            knowledge
                .clone()
                .follow(options.knowledge_interval, stop_rx.clone()),
        ));
    }
    if let Some(aliases) = hotline.aliases() {
        tasks.push(tokio::spawn(
            aliases
                .clone()
                .follow(crate::aliases::REFRESH_EVERY, stop_rx.clone()),
        ));
    }
    let feed = EventFeed::new();
    let (_, feed_start) = kpis
        .store()
        .changes(None)
        .await
        .context("reading the change log's position for the live event stream")?;
    tasks.push(tokio::spawn(feed.clone().run(
        hotline.clone(),
        kpis.store().clone(),
        feed_start,
        FEED_INTERVAL,
        stop_rx.clone(),
    )));
    if let Some(hotspots) = hotline.hotspots() {
        let cursor = hotspots
            .start()
            .await
            .context("hotspot alerts: learning the usual rates and priming the windows")?;
        tasks.push(tokio::spawn(hotspots.clone().run(
            hotline.clone(),
            cursor,
            FEED_INTERVAL,
            stop_rx.clone(),
        )));
    }
    // HTTP/2 and connection limits (grpc::limits has the table and the reasons). tonic's own
    // load shedding and per-connection limit are off: InFlightLayer sheds instead, with retry
    // advice and a metric, and counts a request until its work is done.
    let limits = options.limits;
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams_per_connection)
        .http2_max_header_list_size(crate::grpc::limits::MAX_HEADER_LIST_BYTES)
        .initial_stream_window_size(crate::grpc::limits::STREAM_WINDOW_BYTES)
        .initial_connection_window_size(crate::grpc::limits::CONNECTION_WINDOW_BYTES)
        .http2_adaptive_window(Some(false))
        .http2_keepalive_interval(Some(crate::grpc::limits::KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(crate::grpc::limits::KEEPALIVE_TIMEOUT))
        .timeout(limits.request_timeout);
    if let Some(tls) = options.tls.clone() {
        builder = builder
            .tls_config(tls)
            .context("configuring TLS (--tls-cert, --tls-key)")?;
    }
    // Every hotline.v1 service decodes at most MAX_REQUEST_BYTES per message, and a larger
    // one is RESOURCE_EXHAUSTED (grpc::limits).
    let max = crate::grpc::MAX_REQUEST_BYTES;
    let in_flight = options.in_flight.clone();
    let router = builder
        .layer(InFlightLayer::new(in_flight.clone(), limits))
        .layer(crate::grpc::limits::MessageSizeLayer)
        .layer(AuthLayer::new(identity.clone()))
        .add_service(health_service)
        .add_service(AuthServer::new(AuthApi::new(identity.clone())).max_decoding_message_size(max))
        .add_service(
            AdminServer::new(AdminApi::new(identity, hotline.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            IntakeServer::new(IntakeApi::new(hotline.clone())).max_decoding_message_size(max),
        )
        .add_service(
            StationServer::new(StationApi::new(hotline.clone(), stop_rx.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            SupervisionServer::new(SupervisionApi::new(hotline.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            KnowledgeServer::new(KnowledgeApi::new(hotline.clone())).max_decoding_message_size(max),
        )
        .add_service(
            IncidentsServer::new(IncidentsApi::new(hotline.clone())).max_decoding_message_size(max),
        )
        .add_service(
            KpisServer::new(KpisApi::new(hotline.clone(), kpis, feed, stop_rx.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(
            DirectoryServer::new(
                DirectoryApi::new(Arc::new(hotline.directory().clone())).with_taxonomy(
                    hotline
                        .routing()
                        .map(|r| r.engine().classifier().taxonomy().clone()),
                ),
            )
            .max_decoding_message_size(max),
        );

    let mut drained = stop_rx.clone();
    let signalled = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests, draining in-flight ones");
        let _ = stop_tx.send(true);
    };
    // TCP_NODELAY: a unary response goes out as two small writes (message, then trailers);
    // with Nagle on, the second waits for the client's delayed ACK, ~40 ms per call.
    // (TCP keep-alive is set here: tonic's own setting applies only to sockets it binds.)
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(crate::grpc::limits::TCP_KEEPALIVE));
    let serving = router.serve_with_incoming_shutdown(incoming, signalled);
    tokio::pin!(serving);
    let finished = async {
        let served = (&mut serving).await.map_err(anyhow::Error::from);
        // The connections are closed, but a request whose client went away may still be
        // finishing on its own task (InFlightLayer): let it, within the same grace.
        in_flight.wait_until(|n| *n == 0).await;
        served
    };
    let result = tokio::select! {
        result = finished => result,
        () = async {
            // Once shutdown starts, give in-flight requests `grace` to finish.
            let _ = drained.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "grace period over; stopping with requests still in flight");
            Ok(())
        }
    };
    for task in tasks {
        task.abort();
    }
    result
}

/// How many timers one claim takes: bounded so one batch stays well inside its lease, and
/// so firing a backlog leaves room between batches for submits.
const TIMER_BATCH: usize = 256;
/// The longest the timer loop sleeps without looking (timers scheduled by other replicas).
const TIMER_POLL: Duration = Duration::from_millis(200);
/// The longest a failing loop waits before trying again (it doubles from 100 ms).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Health names served besides the per-service ones (`grpc.health.v1.Health/Check`):
/// - `""` and [`READINESS_HEALTH`]: ready for traffic: the store answers within
///   [`PROBE_TIMEOUT`]. Redis does not count: with it down, submits still commit and are
///   queued once it is back (it shows under [`WORKING_SET_HEALTH`]).
/// - [`LIVENESS_HEALTH`]: the process is making progress: the health probe, the lease sweep
///   and (if this replica fires timers) the timer loop have each finished a round within
///   [`STALLED_AFTER`]. A load balancer should restart a replica that is not live, and only
///   stop sending to one that is not ready.
pub const READINESS_HEALTH: &str = "hotline.readiness";
pub const LIVENESS_HEALTH: &str = "hotline.liveness";
/// How often health is probed, and how long one probe of the store or Redis may take.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A background loop that has not finished a round for this long is stalled.
const STALLED_AFTER: Duration = Duration::from_secs(60);

/// When each background loop last finished a round (liveness).
#[derive(Debug, Default)]
struct Heartbeats {
    probe: std::sync::Mutex<Option<std::time::Instant>>,
    sweep: std::sync::Mutex<Option<std::time::Instant>>,
    timers: std::sync::Mutex<Option<std::time::Instant>>,
    fires_timers: std::sync::atomic::AtomicBool,
}

impl Heartbeats {
    fn beat(slot: &std::sync::Mutex<Option<std::time::Instant>>) {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
    }

    fn fresh(slot: &std::sync::Mutex<Option<std::time::Instant>>) -> bool {
        slot.lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|at| at.elapsed() < STALLED_AFTER)
    }

    fn live(&self) -> bool {
        Self::fresh(&self.probe)
            && Self::fresh(&self.sweep)
            && (!self.fires_timers.load(std::sync::atomic::Ordering::Relaxed)
                || Self::fresh(&self.timers))
    }
}

fn serving(ok: bool) -> tonic_health::ServingStatus {
    if ok {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    }
}

/// Doubles `backoff` up to [`MAX_BACKOFF`].
fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF)
}

/// Fires SLA timers as they come due, until shutdown. On errors (the store or Redis down) it
/// backs off, and the failed batch has already been handed back for any replica to take.
async fn timer_loop(hotline: Hotline, beats: Arc<Heartbeats>, mut stop: watch::Receiver<bool>) {
    beats
        .fires_timers
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let alarm = hotline.queues().alarm().clone();
    let mut backoff = Duration::ZERO;
    loop {
        alarm.awake();
        // Drain everything due now, a bounded batch at a time.
        let mut failed = false;
        loop {
            match hotline.fire_due_timers(TIMER_BATCH).await {
                Ok(report) if report.claimed == TIMER_BATCH => {
                    Heartbeats::beat(&beats.timers);
                    continue;
                }
                Ok(_) => break,
                Err(err) => {
                    crate::logging::warn_summarised("timers", &err);
                    failed = true;
                    break;
                }
            }
        }
        Heartbeats::beat(&beats.timers);
        let wait = if failed {
            backoff = next_backoff(backoff);
            backoff
        } else {
            backoff = Duration::ZERO;
            let next = tokio::time::timeout(PROBE_TIMEOUT, hotline.queues().timers().next_due())
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            next.map(|at| (at - hotline.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(TIMER_POLL)
                .min(TIMER_POLL)
        };
        alarm.sleeping_until(hotline.now() + chrono::TimeDelta::from_std(wait).unwrap_or_default());
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(wait) => {}
            () = alarm.rung(), if !failed => {}
        }
    }
}

/// Returns expired claim leases to their queues, and sweeps a replaced duplicate index, once a
/// second.
async fn lease_sweep(hotline: Hotline, beats: Arc<Heartbeats>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(LEASE_SWEEP);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let swept = tokio::time::timeout(
            PROBE_TIMEOUT,
            hotline.queues().release_expired(hotline.now()),
        )
        .await;
        match swept {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => crate::logging::warn_summarised("lease sweep", &err),
            Err(_) => crate::logging::warn_summarised(
                "lease sweep",
                &crate::error::RouterError::Unavailable("the lease sweep timed out".into()),
            ),
        }
        // A duplicate index a rebuild replaced (two UNLINKs: cheap whatever its size).
        let swept = tokio::time::timeout(
            PROBE_TIMEOUT,
            hotline.queues().sweep_duplicates(hotline.now()),
        )
        .await;
        match swept {
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(err)) => crate::logging::warn_summarised("duplicate-index sweep", &err),
        }
        Heartbeats::beat(&beats.sweep);
        crate::logging::flush_summaries();
    }
}

/// Probes the store and the working set every second, each round trip bounded by
/// [`PROBE_TIMEOUT`], and reports readiness, liveness and the working set's state. It never
/// waits on a rebuild (that runs in [`repair_loop`]), so health recovers as soon as the
/// store and Redis answer again.
async fn health_probe(
    hotline: Hotline,
    health: tonic_health::server::HealthReporter,
    beats: Arc<Heartbeats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    let mut ready = true;
    let mut working_set = true;
    let mut last_calendar_warning: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let store_ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, hotline.ping()).await,
            Ok(Ok(()))
        );
        let backend_ok = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, hotline.queues().queue().is_intact()).await,
            Ok(Ok(true))
        );
        let set_ok = backend_ok && !hotline.queues().is_dirty();
        // The store's and the working set's health as this router sees it, for dashboards
        // that have no PostgreSQL or Redis exporter to ask.
        metrics::gauge!("hotline_store_up").set(f64::from(u8::from(store_ok)));
        metrics::gauge!("hotline_working_set_up").set(f64::from(u8::from(backend_ok)));
        metrics::gauge!("hotline_working_set_repairs_pending")
            .set(hotline.queues().repairs_pending() as f64);
        if store_ok != ready {
            ready = store_ok;
            tracing::warn!(status = ?serving(ready), "store health changed");
        }
        if set_ok != working_set {
            working_set = set_ok;
            tracing::warn!(status = ?serving(working_set), "working-set health changed");
        }
        health.set_service_status("", serving(ready)).await;
        health
            .set_service_status(READINESS_HEALTH, serving(ready))
            .await;
        health
            .set_service_status(WORKING_SET_HEALTH, serving(working_set))
            .await;
        Heartbeats::beat(&beats.probe);
        health
            .set_service_status(LIVENESS_HEALTH, serving(beats.live()))
            .await;
        // From November, next year's holiday notice missing: a health detail and a warning in
        // the log (once an hour, not once a second).
        let calendar = hotline.calendar_status();
        metrics::gauge!("hotline_calendar_provisional_years")
            .set(calendar.provisional.len() as f64);
        health
            .set_service_status(CALENDAR_HEALTH, serving(calendar.warning.is_none()))
            .await;
        if let Some(warning) = &calendar.warning {
            let due = last_calendar_warning
                .is_none_or(|at: std::time::Instant| at.elapsed() >= CALENDAR_WARNING_EVERY);
            if due {
                tracing::warn!("{warning}");
                last_calendar_warning = Some(std::time::Instant::now());
            }
        }
    }
}

/// The health-check name that is NOT_SERVING from November while next year's holiday notice is
/// not loaded (readiness does not depend on it: the router works on the provisional calendar).
pub const CALENDAR_HEALTH: &str = "hotline.calendar";
const CALENDAR_WARNING_EVERY: Duration = Duration::from_secs(3600);

/// Repairs the working set whenever it needs it: a whole rebuild after its backend lost its
/// data, else the tickets whose update failed. Runs on its own, so a long rebuild over a slow
/// link never holds up health, the lease sweep or the timers.
async fn repair_loop(hotline: Hotline, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::ZERO;
    loop {
        let wait = match hotline.repair_working_set().await {
            Ok(_) => {
                backoff = Duration::ZERO;
                PROBE_EVERY
            }
            Err(err) => {
                crate::logging::warn_summarised("working set", &err);
                backoff = next_backoff(backoff);
                backoff
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Anti-entropy: every `audit.every`, compares up to `audit.budget` of the live tickets in the
/// store with their queues and timers, going on where the last round stopped (see [`crate::working_set::WorkingSet::audit`]).
/// A round goes in slices spread over the interval ([`Audit::sliced`]).
async fn audit_loop(hotline: Hotline, audit: Audit, mut stop: watch::Receiver<bool>) {
    let mut cursor = crate::working_set::AuditCursor::default();
    let (every, budget) = audit.sliced();
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        // Not while a repair is due: the repair puts everything back anyway.
        if hotline.queues().is_dirty() {
            continue;
        }
        let round = hotline.queues().audit(
            &mut cursor,
            budget,
            chrono::Duration::seconds(10),
            hotline.now(),
        );
        if let Err(err) = round.await {
            crate::logging::warn_summarised("anti-entropy", &err);
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::working_set::{AuditBudget, AUDIT_PAGE};

    /// The default round (200 stations, 2,000 tickets every 30 s) goes in four slices of one
    /// page each, 7.5 s apart: the same budget per interval, never two pages back to back.
    #[test]
    fn an_audit_round_is_sliced_a_page_at_a_time() {
        let audit = ServeOptions::default().audit.unwrap();
        let (every, budget) = audit.sliced();
        assert_eq!(every, Duration::from_millis(7_500));
        assert_eq!(
            budget,
            AuditBudget {
                stations: 50,
                tickets: AUDIT_PAGE
            }
        );
        // A round within one page stays whole; an uneven one rounds its slices up.
        let small = Audit {
            every: Duration::from_secs(30),
            budget: AuditBudget {
                stations: 3,
                tickets: 300,
            },
        };
        assert_eq!(small.sliced(), (Duration::from_secs(30), small.budget));
        let uneven = Audit {
            every: Duration::from_secs(30),
            budget: AuditBudget {
                stations: 1,
                tickets: 1_001,
            },
        };
        assert_eq!(
            uneven.sliced(),
            (
                Duration::from_secs(10),
                AuditBudget {
                    stations: 1,
                    tickets: 334
                }
            )
        );
    }
}
