//! Wiring and serving: open the store, build the engine, serve gRPC (with health and
//! reflection) until `shutdown` resolves, then drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hotline_core::{Clock, SystemClock};
use hotline_directory::Directory;
use hotline_dispatch::{MemoryQueue, MemoryTimers, Queue, RedisQueue, RedisTimers, TimerIndex};
use hotline_proto::v1::directory_server::DirectoryServer;
use hotline_proto::v1::intake_server::IntakeServer;
use hotline_proto::v1::station_server::StationServer;
use hotline_proto::v1::supervision_server::SupervisionServer;
use hotline_sla::{OfficeHours, SlaPolicy, WorkingCalendar};
use hotline_store::{PgStore, SqliteStore, TicketStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::config::{redact, ServeArgs, Storage};
use crate::deadlines::Sla;
use crate::escalation;
use crate::grpc::directory::DirectoryApi;
use crate::grpc::intake::IntakeApi;
use crate::grpc::station::StationApi;
use crate::grpc::supervision::SupervisionApi;
use crate::routing::Routing;
use crate::tickets::{Hotline, LeasePolicy};
use hotline_routing::{Catalogue, DuplicateSettings, RoutingEngine};
use hotline_territory::{DistrictPolygons, Resolver};

/// How often expired claim leases are returned to their queues.
const LEASE_SWEEP: Duration = Duration::from_secs(1);
/// The health-check name that reports the working set (queues, timers): NOT_SERVING while an
/// update is waiting to be repaired from the store.
pub const WORKING_SET_HEALTH: &str = "hotline.working_set";
/// How often the health check pings the store.
const HEALTH_PROBE: Duration = Duration::from_secs(5);

/// Opens the system of record the configuration names.
pub async fn open_store(args: &ServeArgs) -> anyhow::Result<Arc<dyn TicketStore>> {
    let storage = args.storage().map_err(anyhow::Error::msg)?;
    Ok(match storage {
        Storage::SqliteDir(dir) => {
            let store = SqliteStore::open_dir(&dir)
                .await
                .with_context(|| format!("opening SQLite under {}", dir.display()))?;
            tracing::info!(dir = %dir.display(), "storage: embedded SQLite");
            Arc::new(store)
        }
        Storage::SqliteUrl(url) => {
            let store = SqliteStore::open_url(&url)
                .await
                .with_context(|| format!("opening {url}"))?;
            tracing::info!(%url, "storage: SQLite");
            Arc::new(store)
        }
        Storage::Postgres(url) => {
            let store = PgStore::connect(&url, args.db_max_connections)
                .await
                .with_context(|| format!("connecting to {}", redact(&url)))?;
            tracing::info!(url = %redact(&url), "storage: PostgreSQL");
            Arc::new(store)
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
    let calendar = match &args.holidays_dir {
        Some(dir) => WorkingCalendar::builtin_with_updates(dir)
            .with_context(|| format!("holiday files in {}", dir.display()))?,
        None => WorkingCalendar::builtin(),
    };
    let office = OfficeHours::parse(&args.office_hours)
        .with_context(|| format!("HOTLINE_OFFICE_HOURS {:?}", args.office_hours))?;
    Ok(Sla {
        policy: Arc::new(policy),
        calendar: Arc::new(calendar.with_office_hours(office)),
    })
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
    let duplicates = DuplicateSettings {
        window: Duration::from_secs(u64::from(args.duplicate_window_hours) * 3600),
        min_similarity: args.duplicate_min_similarity,
    };
    Ok(Routing::new(Arc::new(engine), duplicates))
}

/// Opens the working set the configuration names: Redis (shared by replicas) or in-process.
pub async fn open_working_set(
    args: &ServeArgs,
) -> anyhow::Result<(Arc<dyn Queue>, Arc<dyn TimerIndex>)> {
    let Some(url) = args.redis_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        tracing::info!("working set: in-process");
        return Ok((Arc::new(MemoryQueue::new()), Arc::new(MemoryTimers::new())));
    };
    let queue = RedisQueue::connect(url, &args.redis_prefix)
        .await
        .with_context(|| format!("connecting to Redis at {} (HOTLINE_REDIS_URL)", redact(url)))?;
    let timers = RedisTimers::connect(url, &args.redis_prefix)
        .await
        .with_context(|| format!("connecting to Redis at {} (HOTLINE_REDIS_URL)", redact(url)))?;
    tracing::info!(url = %redact(url), prefix = %args.redis_prefix, "working set: Redis");
    Ok((Arc::new(queue), Arc::new(timers)))
}

/// Builds the engine from configuration, with the working set rebuilt from the store if it
/// needs it.
pub async fn build(args: &ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Hotline> {
    let directory = load_directory(args)?;
    let sla = load_sla(args)?;
    let store = open_store(args).await?;
    let leases = LeasePolicy {
        default: chrono::Duration::seconds(i64::from(args.lease_seconds.max(1))),
        ..LeasePolicy::default()
    };
    let routing = load_routing(args, &directory)?;
    let working_set = open_working_set(args).await?;
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
    .with_routing(routing);
    // A new in-process queue, or a Redis without our data, is rebuilt from the store; a Redis
    // that other replicas keep up to date is left as it is.
    let rebuilt = hotline
        .repair_working_set()
        .await
        .context("rebuilding the working set (queues, timers) from the store")?;
    tracing::info!(rebuilt, "ready");
    Ok(hotline)
}

/// The whole `hotline serve`: build, listen, serve until SIGTERM/ctrl-c, drain.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if let Some(listen) = args.metrics_listen {
        crate::metrics::install(listen)?;
    }
    let hotline = build(&args, Arc::new(SystemClock)).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(addr = %args.listen, "serving hotline.v1");
    let options = ServeOptions {
        grace: Duration::from_secs(args.shutdown_grace_seconds),
        run_timers: args.run_timers,
    };
    serve(listener, hotline, shutdown_signal(), options).await
}

/// How [`serve`] runs besides the gRPC services.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long in-flight requests may finish after shutdown starts.
    pub grace: Duration,
    /// Fire SLA timers from this process (tests drive them by hand instead).
    pub run_timers: bool,
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

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(hotline_proto::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building gRPC reflection")?;

    let background = tokio::spawn(background_tasks(
        hotline.clone(),
        health.clone(),
        stop_rx.clone(),
    ));
    let timers = options
        .run_timers
        .then(|| tokio::spawn(timer_loop(hotline.clone(), stop_rx.clone())));

    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(IntakeServer::new(IntakeApi::new(hotline.clone())))
        .add_service(StationServer::new(StationApi::new(
            hotline.clone(),
            stop_rx.clone(),
        )))
        .add_service(SupervisionServer::new(SupervisionApi::new(hotline.clone())))
        .add_service(DirectoryServer::new(DirectoryApi::new(Arc::new(
            hotline.directory().clone(),
        ))));

    let mut drained = stop_rx.clone();
    let signalled = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests, draining in-flight ones");
        let _ = stop_tx.send(true);
    };
    // TCP_NODELAY: a unary response goes out as two small writes (message, then trailers);
    // with Nagle on, the second waits for the client's delayed ACK, ~40 ms per call.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let serving = router.serve_with_incoming_shutdown(incoming, signalled);
    tokio::pin!(serving);
    let result = tokio::select! {
        result = &mut serving => result.map_err(anyhow::Error::from),
        () = async {
            // Once shutdown starts, give in-flight requests `grace` to finish.
            let _ = drained.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "grace period over; stopping with requests still in flight");
            Ok(())
        }
    };
    background.abort();
    if let Some(timers) = timers {
        timers.abort();
    }
    result
}

/// How many timers one claim takes: bounded so one replica never holds thousands in flight.
const TIMER_BATCH: usize = 256;
/// The longest the timer loop sleeps without looking (timers scheduled by other replicas).
const TIMER_POLL: Duration = Duration::from_millis(200);

/// Fires SLA timers as they come due, until shutdown.
async fn timer_loop(hotline: Hotline, mut stop: watch::Receiver<bool>) {
    let alarm = hotline.queues().alarm().clone();
    loop {
        alarm.awake();
        // Drain everything due now, a bounded batch at a time.
        loop {
            match hotline.fire_due_timers(TIMER_BATCH).await {
                Ok(report) if report.claimed == TIMER_BATCH => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::error!(error = %err, "timer round failed");
                    break;
                }
            }
        }
        let next = hotline.queues().timers().next_due().await.ok().flatten();
        let wait = next
            .map(|at| (at - hotline.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(TIMER_POLL)
            .min(TIMER_POLL);
        alarm.sleeping_until(hotline.now() + chrono::TimeDelta::from_std(wait).unwrap_or_default());
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(wait) => {}
            () = alarm.rung() => {}
        }
    }
}

/// Lease sweeper and health probe, until shutdown.
async fn background_tasks(
    hotline: Hotline,
    health: tonic_health::server::HealthReporter,
    mut stop: watch::Receiver<bool>,
) {
    let mut sweep = tokio::time::interval(LEASE_SWEEP);
    let mut probe = tokio::time::interval(HEALTH_PROBE);
    let mut healthy = true;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = sweep.tick() => {
                if let Err(err) = hotline.queues().release_expired(hotline.now()).await {
                    tracing::error!(error = %err, "lease sweep failed");
                }
            }
            _ = probe.tick() => {
                // A working set that missed an update (its backend was down) or lost its data
                // (Redis flushed or replaced) is rebuilt from the store as soon as it answers.
                if let Err(err) = hotline.repair_working_set().await {
                    tracing::error!(error = %err, "working set unavailable; will retry");
                }
                let working_set_ok = !hotline.queues().is_dirty();
                health
                    .set_service_status(
                        WORKING_SET_HEALTH,
                        if working_set_ok { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing },
                    )
                    .await;
                let ok = hotline.ping().await.is_ok();
                if ok != healthy {
                    healthy = ok;
                    let status = if ok { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
                    tracing::warn!(?status, "store health changed");
                    health.set_service_status("", status).await;
                }
            }
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
