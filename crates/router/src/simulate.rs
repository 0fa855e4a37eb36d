//! `hotline simulate`: the simulator's engine port (`hotline_simulate::Engine`) over this
//! router's ticket service. Each run gets the engine a centre runs: the store (SQLite in a
//! temporary directory, or the PostgreSQL database named), the in-process station queues and
//! timers, automatic routing through the dispatch catalogue, the SLA policy and the working
//! calendar, and escalation; only the clock is the simulator's.
//!
//! Two settings differ from `serve`, on purpose: duplicate linking is off (the simulated
//! callers are distinct people; their short texts would otherwise look alike), and no
//! identity, knowledge or KPI rooms are opened (the simulator derives the KPIs from each
//! ticket's event log with the same definitions, `hotline-kpi`).

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::lifecycle::Role;
use hotline_core::{
    Action, Actor, Event, ManualClock, NewTicket, StaffId, StationId, Ticket, TicketId,
};
use hotline_directory::Directory;
use hotline_dispatch::{MemoryQueue, MemoryTimers, Queue, TimerIndex};
use hotline_simulate::cli::SimulateArgs;
use hotline_simulate::{Engine, EngineFactory, SimulateError};
use hotline_sla::{SlaPolicy, WorkingCalendar};
use hotline_store::TicketStore;

use crate::config::ServeArgs;
use crate::deadlines::Sla;
use crate::routing::{Hints, Routing};
use crate::tickets::{Disposition, Hotline, LeasePolicy};
use crate::{escalation, server, RouterError};

/// The command: runs the simulator on engines opened here.
///
/// A run is one sequence of engine calls, so it gets a single-threaded runtime of its own, on
/// one core: every store round trip is a hand-over to SQLite's connection thread and back, and
/// on the multi-threaded runtime, or with the two threads on different cores, those wake-ups
/// took more time than the engine's work (a 3,000-ticket day: 13.3 s as `serve` runs, 11.7 s
/// single-threaded, 5.7 s on one core). The connection threads are started from this thread
/// and so inherit its core. `HOTLINE_SIMULATE_NO_PIN=1` leaves the threads unpinned.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let args = args.clone();
    let pin = std::env::var_os("HOTLINE_SIMULATE_NO_PIN").is_none();
    tokio::task::spawn_blocking(move || {
        if pin {
            if let Some(core) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().next())
            {
                core_affinity::set_for_current(core);
            }
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run_here(&args))
    })
    .await?
}

/// The command on the current runtime.
pub async fn run_here(args: &SimulateArgs) -> anyhow::Result<()> {
    let factory = Factory::new(args.database_url.clone(), args.store_dir.clone())?;
    hotline_simulate::cli::run(args, &factory)
        .await
        .map_err(anyhow::Error::from)
}

fn engine_error(err: RouterError) -> SimulateError {
    SimulateError::Engine(err.to_string())
}

fn setup_error(err: anyhow::Error) -> SimulateError {
    SimulateError::Engine(format!("{err:#}"))
}

/// Opens a fresh engine per run.
pub struct Factory {
    database_url: Option<String>,
    store_dir: Option<std::path::PathBuf>,
    directory: Arc<Directory>,
    calendar: Arc<WorkingCalendar>,
    taxonomy: Arc<hotline_classify::Taxonomy>,
}

impl Factory {
    /// Engines on SQLite in a temporary directory (under `store_dir`, if given), or on the
    /// PostgreSQL database at `database_url`.
    pub fn new(
        database_url: Option<String>,
        store_dir: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let serve = ServeArgs::parse_from(Vec::<String>::new())?;
        Ok(Self {
            database_url,
            store_dir,
            directory: server::load_directory(&serve)?,
            calendar: Arc::new(server::load_calendar(&serve, Utc::now())?),
            taxonomy: Arc::new(hotline_classify::Taxonomy::shipped()),
        })
    }
}

#[async_trait]
impl EngineFactory for Factory {
    async fn open(
        &self,
        start: DateTime<Utc>,
        policy: SlaPolicy,
    ) -> Result<Box<dyn Engine>, SimulateError> {
        let dir = match &self.store_dir {
            Some(parent) => tempfile::Builder::new()
                .prefix("hotline-simulate-")
                .tempdir_in(parent),
            None => tempfile::Builder::new()
                .prefix("hotline-simulate-")
                .tempdir(),
        }
        .map_err(|e| SimulateError::io("making the simulation's store directory", e))?;
        let mut argv = vec![
            "--data-dir".to_owned(),
            dir.path().display().to_string(),
            // Distinct callers: nothing is linked as a duplicate unless its text is identical.
            "--duplicate-min-similarity".to_owned(),
            "1".to_owned(),
        ];
        if let Some(url) = &self.database_url {
            argv.extend(["--database-url".to_owned(), url.clone()]);
        }
        let args =
            ServeArgs::parse_from(argv).map_err(|e| SimulateError::Invalid(e.to_string()))?;
        let store: Arc<dyn TicketStore> = match &self.database_url {
            Some(_) => server::open_store(&args).await.map_err(setup_error)?,
            None => Arc::new(
                hotline_store::SqliteStore::open_dir_single(dir.path())
                    .await
                    .map_err(|e| SimulateError::Engine(e.to_string()))?,
            ),
        };
        let calendar = server::load_calendar(&args, start).map_err(setup_error)?;
        let sla = Sla::new(policy, calendar);
        let routing = server::load_routing(&args, &self.directory).map_err(setup_error)?;
        let clock = ManualClock::new(start);
        let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
        let timers: Arc<dyn TimerIndex> = Arc::new(MemoryTimers::new());
        let parts = Parts {
            store,
            queue,
            timers,
            duplicates: Arc::new(hotline_dispatch::MemoryDuplicates::new()),
            directory: self.directory.clone(),
            clock: clock.clone(),
            routing,
        };
        let hotline = parts.engine(sla.clone());
        let backend = if self.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        Ok(Box::new(SimEngine {
            hotline: ArcSwap::from_pointee(hotline),
            sla: ArcSwap::from_pointee(sla),
            parts,
            clock,
            backend,
            _dir: dir,
        }))
    }

    fn calendar(&self) -> Arc<WorkingCalendar> {
        self.calendar.clone()
    }

    fn directory(&self) -> Arc<Directory> {
        self.directory.clone()
    }

    fn taxonomy(&self) -> Arc<hotline_classify::Taxonomy> {
        self.taxonomy.clone()
    }
}

/// What an engine is built from; kept to build it again under a new policy.
struct Parts {
    store: Arc<dyn TicketStore>,
    queue: Arc<dyn Queue>,
    timers: Arc<dyn TimerIndex>,
    duplicates: Arc<dyn hotline_dispatch::DuplicateIndex>,
    directory: Arc<Directory>,
    clock: ManualClock,
    routing: Routing,
}

impl Parts {
    fn engine(&self, sla: Sla) -> Hotline {
        Hotline::new(
            self.store.clone(),
            (
                self.queue.clone(),
                self.timers.clone(),
                self.duplicates.clone(),
            ),
            self.directory.clone(),
            sla,
            Arc::new(self.clock.clone()),
            LeasePolicy::default(),
            escalation::Settings::default(),
        )
        .with_routing(self.routing.clone())
    }
}

struct SimEngine {
    hotline: ArcSwap<Hotline>,
    sla: ArcSwap<Sla>,
    parts: Parts,
    clock: ManualClock,
    backend: &'static str,
    /// The SQLite store's directory, removed with the engine.
    _dir: tempfile::TempDir,
}

fn operator() -> Actor {
    Actor {
        role: Role::Operator,
        staff: Some(StaffId::parse("staff", "sim-operator").expect("a valid staff id")),
        station: None,
    }
}

#[async_trait]
impl Engine for SimEngine {
    fn set_time(&self, at: DateTime<Utc>) {
        self.clock.set(at);
    }

    async fn submit(&self, new: NewTicket) -> Result<Ticket, SimulateError> {
        let hints = Hints {
            category: new.category.clone(),
            nature: Some(new.nature),
            urgency: Some(new.urgency),
            division: new.division.clone(),
            station: None,
        };
        let hotline = self.hotline.load_full();
        let submitted = hotline
            .submit(new, Disposition::Route(hints), operator())
            .await
            .map_err(engine_error)?;
        Ok(submitted.ticket)
    }

    async fn claim(
        &self,
        station: &StationId,
        staff: &StaffId,
    ) -> Result<Option<Ticket>, SimulateError> {
        let actor = Actor {
            role: Role::Station,
            staff: Some(staff.clone()),
            station: Some(station.clone()),
        };
        let hotline = self.hotline.load_full();
        let claimed = hotline
            .claim(actor, None, None)
            .await
            .map_err(engine_error)?;
        Ok(claimed.map(|(ticket, _)| ticket))
    }

    async fn act(
        &self,
        id: TicketId,
        actor: Actor,
        action: Action,
    ) -> Result<Ticket, SimulateError> {
        let hotline = self.hotline.load_full();
        hotline
            .act(id, None, actor, action)
            .await
            .map_err(engine_error)
    }

    async fn fire_due_timers(&self) -> Result<usize, SimulateError> {
        let hotline = self.hotline.load_full();
        let report = hotline.fire_due_timers(1000).await.map_err(engine_error)?;
        Ok(report.claimed)
    }

    async fn history(&self, id: TicketId) -> Result<Vec<Event>, SimulateError> {
        let hotline = self.hotline.load_full();
        hotline.history(id).await.map_err(engine_error)
    }

    async fn replace_policy(&self, policy: SlaPolicy) -> Result<(), SimulateError> {
        // As a router restarted with another --sla-policy: same store and working set, the
        // calendar in force, the new policy for every deadline set from now on.
        let sla = Sla::new(policy, (*self.sla.load().calendar()).clone());
        self.hotline.store(Arc::new(self.parts.engine(sla.clone())));
        self.sla.store(Arc::new(sla));
        Ok(())
    }

    fn calendar(&self) -> Arc<WorkingCalendar> {
        self.sla.load().calendar()
    }

    fn directory(&self) -> Arc<Directory> {
        self.parts.directory.clone()
    }

    fn describe(&self) -> String {
        format!(
            "hotline-router {} (store {}, queues and timers in-process, shipped catalogue and taxonomy)",
            env!("CARGO_PKG_VERSION"),
            self.backend
        )
    }
}
