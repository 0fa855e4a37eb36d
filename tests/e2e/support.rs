//! The harness: a real router on 127.0.0.1:0 with a fresh database (a SQLite directory or a
//! PostgreSQL database per test), a manual clock, typed clients, and a restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hotline_core::ManualClock;
use hotline_proto::v1 as pb;
use hotline_proto::v1::directory_client::DirectoryClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use hotline_proto::v1::supervision_client::SupervisionClient;
use hotline_router::config::ServeArgs;
use hotline_store::testing::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A community service station (沧浪亭社区, 双塔街道, 姑苏区) and its street office.
pub const COMMUNITY_CSS: &str = "320508021019-css";
pub const STREET_OFFICE: &str = "320508021-office";
pub const OTHER_CSS: &str = "320505001002-css";
pub const TRIAGE: &str = "3205-triage";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub channel: Channel,
    pub clock: ManualClock,
    args: ServeArgs,
    /// The engine behind the server, for driving timers by hand.
    pub hotline: Option<hotline_router::Hotline>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow_free::Result>>,
    _dir: TempDir,
}

/// The server task's result without pulling anyhow into the tests.
mod anyhow_free {
    pub type Result = std::result::Result<(), String>;
}

impl TestApp {
    /// Monday 2026-03-02, 09:00 in Suzhou: a plain working day, so deadlines are easy to read.
    pub fn start_time() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    pub async fn spawn(backend: Backend) -> Self {
        let mut argv = Vec::new();
        if let Backend::Postgres = backend {
            let url = hotline_store::testing::fresh_postgres_url()
                .await
                .expect("fresh postgres database");
            argv.extend(["--database-url".to_owned(), url]);
        }
        Self::spawn_with(argv, ManualClock::new(Self::start_time())).await
    }

    /// `n` router replicas over one fresh PostgreSQL database and one Redis key prefix, on one
    /// (manual) clock. Returns the replicas and the prefix.
    pub async fn spawn_replicas(n: usize) -> (Vec<TestApp>, String) {
        hotline_dispatch::testing::ensure_redis();
        let url = hotline_store::testing::fresh_postgres_url()
            .await
            .expect("fresh postgres database");
        let prefix = hotline_dispatch::testing::fresh_prefix();
        let clock = ManualClock::new(Self::start_time());
        let mut replicas = Vec::new();
        for _ in 0..n {
            let argv = vec![
                "--database-url".to_owned(),
                url.clone(),
                "--redis-url".to_owned(),
                hotline_dispatch::testing::redis_url(),
                "--redis-prefix".to_owned(),
                prefix.clone(),
            ];
            replicas.push(Self::spawn_with(argv, clock.clone()).await);
        }
        (replicas, prefix)
    }

    /// A router with these `serve` flags (a temp data dir is added) on `clock`.
    pub async fn spawn_with(mut argv: Vec<String>, clock: ManualClock) -> Self {
        let dir = TempDir::new();
        // A caller that names its own data directory (a restored backup) keeps it.
        if !argv.iter().any(|a| a == "--data-dir") {
            argv.extend(["--data-dir".to_owned(), dir.path().display().to_string()]);
        }
        argv.extend(["--db-max-connections".to_owned(), "4".to_owned()]);
        let args = ServeArgs::parse_from(argv).expect("args");
        let mut app = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            channel: Channel::from_static("http://127.0.0.1:1").connect_lazy(),
            clock,
            args,
            hotline: None,
            stop: None,
            task: None,
            _dir: dir,
        };
        app.start().await;
        app
    }

    /// The data directory of the embedded default (SQLite) this router uses.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.args.data_dir.clone()
    }

    /// Stops this replica as a crash would look to the others: it answers nothing more and
    /// acknowledges nothing it had claimed.
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop.take();
        self.hotline = None;
    }

    async fn start(&mut self) {
        let hotline = hotline_router::server::build(&self.args, Arc::new(self.clock.clone()))
            .await
            .expect("router builds");
        self.hotline = Some(hotline.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            hotline_router::server::serve(
                listener,
                hotline,
                async {
                    let _ = stopped.await;
                },
                hotline_router::server::ServeOptions {
                    grace: Duration::from_secs(5),
                    // Timer tests fire timers by hand at the manual clock's time.
                    run_timers: false,
                    audit: None,
                },
            )
            .await
            .map_err(|e| format!("{e:#}"))
        });
        self.stop = Some(stop);
        self.task = Some(task);
        self.channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connect to the router");
    }

    /// Stops the server (draining) and starts a new one on the same storage: a process restart.
    pub async fn restart(&mut self) {
        self.stop.take().expect("running").send(()).ok();
        self.task
            .take()
            .expect("running")
            .await
            .unwrap()
            .expect("server stopped cleanly");
        self.start().await;
    }

    pub fn intake(&self) -> IntakeClient<Channel> {
        IntakeClient::new(self.channel.clone())
    }
    pub fn station(&self) -> StationClient<Channel> {
        StationClient::new(self.channel.clone())
    }
    pub fn supervision(&self) -> SupervisionClient<Channel> {
        SupervisionClient::new(self.channel.clone())
    }
    pub fn directory(&self) -> DirectoryClient<Channel> {
        DirectoryClient::new(self.channel.clone())
    }

    /// Fires every timer due at the manual clock's time; returns how many escalated.
    pub async fn fire_timers(&self) -> usize {
        let hotline = self.hotline.as_ref().expect("running");
        let mut escalated = 0;
        loop {
            let report = hotline.fire_due_timers(100).await.expect("timers fire");
            escalated += report.escalated;
            if report.claimed == 0 {
                return escalated;
            }
        }
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use hotline_core::Clock;
        self.clock.now()
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// Submits a hotline request, optionally dispatching it at once.
    pub async fn submit(&self, text: &str, station: Option<&str>) -> pb::Ticket {
        self.intake()
            .submit_ticket(submit_request(text, station))
            .await
            .expect("submit")
            .into_inner()
            .ticket
            .unwrap()
    }

    pub async fn get(&self, id: &str) -> pb::Ticket {
        self.intake()
            .get_ticket(pb::GetTicketRequest {
                ticket_id: id.to_owned(),
                include_history: true,
            })
            .await
            .expect("get")
            .into_inner()
            .ticket
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn submit_request(text: &str, station: Option<&str>) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        channel: pb::Channel::Hotline as i32,
        caller: Some(pb::Caller {
            name: "王女士".into(),
            phone: "13912345678".into(),
        }),
        text: text.into(),
        address: "姑苏区双塔街道沧浪亭社区".into(),
        division_code: "320508021019".into(),
        station_id: station.unwrap_or_default().into(),
        actor: Some(operator()),
        // Without a station the operator holds it to settle by hand; routing tests route.
        hold: station.is_none(),
        ..Default::default()
    }
}

pub fn operator() -> pb::Actor {
    pb::Actor {
        role: pb::Role::Operator as i32,
        staff_id: "op-17".into(),
        station_id: String::new(),
    }
}

pub fn supervisor() -> pb::Actor {
    pb::Actor {
        role: pb::Role::Supervisor as i32,
        staff_id: "sup-3".into(),
        station_id: String::new(),
    }
}

pub fn staff(station: &str, who: &str) -> pb::Actor {
    pb::Actor {
        role: pb::Role::Station as i32,
        staff_id: who.into(),
        station_id: station.into(),
    }
}

pub fn stage(t: &pb::Ticket) -> pb::Stage {
    pb::Stage::try_from(t.stage).unwrap()
}

pub fn kinds(t: &pb::Ticket) -> Vec<String> {
    t.events.iter().map(|e| e.kind.clone()).collect()
}

/// Generates one `#[tokio::test]` per backend for each scenario function `async fn(Backend)`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;
