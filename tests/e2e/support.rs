//! The harness: a real router on 127.0.0.1:0 with a fresh database (a SQLite directory or a
//! PostgreSQL database per test), a manual clock, typed clients, and a restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hotline_core::ManualClock;
use hotline_identity::{
    Account, AccountId, DisplayName, KeyRing, LoginName, Role, Scope, Territory,
};
use hotline_proto::v1 as pb;
use hotline_proto::v1::admin_client::AdminClient;
use hotline_proto::v1::auth_client::AuthClient;
use hotline_proto::v1::directory_client::DirectoryClient;
use hotline_proto::v1::incidents_client::IncidentsClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::station_client::StationClient;
use hotline_proto::v1::supervision_client::SupervisionClient;
use hotline_router::config::ServeArgs;
use hotline_store::testing::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
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
    /// Accounts the harness made for the people tests act as, by login.
    accounts: std::sync::Mutex<std::collections::HashMap<String, Account>>,
    /// Directories that must live as long as this router (a shared key file).
    pub keep: Vec<TempDir>,
    /// The requests the router is working on (its gRPC in-flight count), to wait on.
    pub in_flight: hotline_router::grpc::limits::InFlight,
    /// gRPC over TLS: the server's config and the client's (which trusts the server's CA).
    tls: Option<(
        tonic::transport::ServerTlsConfig,
        tonic::transport::ClientTlsConfig,
    )>,
    _dir: TempDir,
}

/// A connection that sends one credential with every call.
pub type Authed = InterceptedService<Channel, Bearer>;

#[derive(Clone)]
pub struct Bearer(pub Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    pub fn token(token: &str) -> Self {
        Self(Some(
            format!("Bearer {token}")
                .parse()
                .expect("a token fits a header"),
        ))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Someone the tests act as: the harness makes the account on first use and signs a token for
/// it with the router's key, as a login would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub role: Role,
    pub login: String,
    pub station: Option<String>,
    pub territory: Option<String>,
}

/// A password hash shared by every harness account (argon2 once per process, not per account).
fn shared_password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        hotline_identity::password::hash_password(
            &hotline_identity::Password::parse("p", TEST_PASSWORD).unwrap(),
        )
        .unwrap()
    })
    .clone()
}

/// The password of every account the harness makes.
pub const TEST_PASSWORD: &str = "test-password-1";

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
        // One deployment, one signing key: a token from one replica works on every one.
        let keys_dir = TempDir::new();
        let keys = keys_dir.path().join("signing-keys.json");
        KeyRing::rotate_file(&keys, Self::start_time()).expect("signing keys");
        let mut replicas = Vec::new();
        for _ in 0..n {
            let argv = vec![
                "--signing-keys".to_owned(),
                keys.display().to_string(),
                "--database-url".to_owned(),
                url.clone(),
                "--redis-url".to_owned(),
                hotline_dispatch::testing::redis_url(),
                "--redis-prefix".to_owned(),
                prefix.clone(),
            ];
            replicas.push(Self::spawn_with(argv, clock.clone()).await);
        }
        replicas[0].keep.push(keys_dir);
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
        // Which direct answers are called back depends on the ticket's id; tests that do not
        // test that choose none, so a 直办 always closes.
        if !argv.iter().any(|a| a == "--direct-callback-share") {
            argv.extend(["--direct-callback-share".to_owned(), "0".to_owned()]);
        }
        let args = ServeArgs::parse_from(argv).expect("args");
        let mut app = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            channel: Channel::from_static("http://127.0.0.1:1").connect_lazy(),
            clock,
            args,
            hotline: None,
            stop: None,
            task: None,
            accounts: Default::default(),
            keep: Vec::new(),
            in_flight: Default::default(),
            tls: None,
            _dir: dir,
        };
        app.start().await;
        app
    }

    /// A router serving gRPC over TLS only; the harness's channel trusts its certificate.
    pub async fn spawn_tls(
        server: tonic::transport::ServerTlsConfig,
        client: tonic::transport::ClientTlsConfig,
    ) -> Self {
        let dir = TempDir::new();
        let argv = vec!["--data-dir".to_owned(), dir.path().display().to_string()];
        let args = ServeArgs::parse_from(argv).expect("args");
        let mut app = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            channel: Channel::from_static("http://127.0.0.1:1").connect_lazy(),
            clock: ManualClock::new(Self::start_time()),
            args,
            hotline: None,
            stop: None,
            task: None,
            accounts: Default::default(),
            keep: Vec::new(),
            in_flight: Default::default(),
            tls: Some((server, client)),
            _dir: dir,
        };
        app.start().await;
        app
    }

    /// The data directory of the embedded default (SQLite) this router uses.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.args.data_dir.clone()
    }

    /// The database URL this router uses (`None` for the embedded default's data directory).
    pub fn database_url(&self) -> Option<String> {
        self.args.database_url.clone()
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
        let tls_server = self.tls.as_ref().map(|(server, _)| server.clone());
        // `--grpc-*` flags reach the server as `serve` passes them; a fresh count per start.
        let limits = self.args.grpc_limits().expect("gRPC limits");
        self.in_flight = Default::default();
        let in_flight = self.in_flight.clone();
        let task = tokio::spawn(async move {
            hotline_router::server::serve(
                listener,
                hotline,
                async {
                    let _ = stopped.await;
                },
                hotline_router::server::ServeOptions {
                    tls: tls_server,
                    grace: Duration::from_secs(5),
                    // Timer tests fire timers by hand at the manual clock's time.
                    run_timers: false,
                    audit: None,
                    limits,
                    in_flight,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("{e:#}"))
        });
        self.stop = Some(stop);
        self.task = Some(task);
        self.channel = match &self.tls {
            None => Channel::from_shared(format!("http://{}", self.addr))
                .unwrap()
                .connect()
                .await
                .expect("connect to the router"),
            Some((_, client)) => Channel::from_shared(format!("https://{}", self.addr))
                .unwrap()
                .tls_config(client.clone())
                .expect("client TLS")
                .connect()
                .await
                .expect("connect to the router over TLS"),
        };
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

    /// The account for `who`, made on first use. A login already taken by another station's
    /// staff gets the station as a suffix.
    pub async fn account(&self, who: &Who) -> Account {
        let identity = self
            .hotline
            .as_ref()
            .expect("running")
            .identity()
            .expect("identity wired")
            .clone();
        let login = {
            let accounts = self.accounts.lock().unwrap();
            match accounts.get(&who.login) {
                Some(a) if scope_of(who) == a.scope && a.role == who.role => return a.clone(),
                Some(_) => format!(
                    "{}-{}",
                    who.login,
                    who.station
                        .as_deref()
                        .or(who.territory.as_deref())
                        .unwrap_or("x")
                ),
                None => who.login.clone(),
            }
        };
        if let Some(a) = self.accounts.lock().unwrap().get(&login) {
            return a.clone();
        }
        let account = Account {
            id: AccountId::new(),
            login: LoginName::parse("login", &login).unwrap(),
            display_name: DisplayName::parse("name", &login).unwrap(),
            role: who.role,
            scope: scope_of(who),
            enabled: true,
            password_hash: shared_password_hash(),
            failed_logins: 0,
            locked_until: None,
            token_version: 0,
            created_at: self.clock_now(),
        };
        // Replicas share one store: another replica's harness may have made it already.
        let account = match identity.store().create_account(&account).await {
            Ok(()) => account,
            Err(hotline_identity::IdentityError::LoginTaken(_)) => identity
                .store()
                .account_by_login(&account.login)
                .await
                .expect("read a test account")
                .expect("the account exists"),
            Err(e) => panic!("create a test account: {e}"),
        };
        self.accounts.lock().unwrap().insert(login, account.clone());
        account
    }

    /// A fresh access token for `who`, signed with the router's key at the clock's time.
    pub async fn token(&self, who: &Who) -> String {
        let account = self.account(who).await;
        self.token_for(&account)
    }

    pub fn token_for(&self, account: &Account) -> String {
        let keys = KeyRing::load(&hotline_router::server::signing_keys_path(&self.args))
            .expect("signing keys");
        hotline_identity::tokens::sign(
            &keys,
            &hotline_identity::tokens::Claims::for_account(
                account,
                self.clock_now(),
                chrono::Duration::minutes(15),
            ),
        )
        .expect("sign")
    }

    pub async fn authed(&self, who: &Who) -> Authed {
        let token = self.token(who).await;
        InterceptedService::new(self.channel.clone(), Bearer::token(&token))
    }

    /// A connection with no credential at all.
    pub fn anonymous(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), Bearer(None))
    }

    pub async fn intake_as(&self, who: &Who) -> IntakeClient<Authed> {
        IntakeClient::new(self.authed(who).await)
    }
    pub async fn station_as(&self, who: &Who) -> StationClient<Authed> {
        StationClient::new(self.authed(who).await)
    }
    pub async fn supervision_as(&self, who: &Who) -> SupervisionClient<Authed> {
        SupervisionClient::new(self.authed(who).await)
    }
    pub async fn incidents_as(&self, who: &Who) -> IncidentsClient<Authed> {
        IncidentsClient::new(self.authed(who).await)
    }
    pub async fn admin_as(&self, who: &Who) -> AdminClient<Authed> {
        AdminClient::new(self.authed(who).await)
    }
    pub fn auth(&self) -> AuthClient<Channel> {
        AuthClient::new(self.channel.clone())
    }
    /// Intake as the operator who takes the calls ([`operator`]).
    pub async fn intake(&self) -> IntakeClient<Authed> {
        self.intake_as(&operator()).await
    }
    /// Supervision as the city centre's supervisor ([`supervisor`]).
    pub async fn supervision(&self) -> SupervisionClient<Authed> {
        self.supervision_as(&supervisor()).await
    }
    pub async fn directory(&self) -> DirectoryClient<Authed> {
        DirectoryClient::new(self.authed(&operator()).await)
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
            .await
            .submit_ticket(submit_request(text, station))
            .await
            .expect("submit")
            .into_inner()
            .ticket
            .unwrap()
    }

    pub async fn get(&self, id: &str) -> pb::Ticket {
        self.intake()
            .await
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
            ..Default::default()
        }),
        text: text.into(),
        address: "姑苏区双塔街道沧浪亭社区".into(),
        division_code: "320508021019".into(),
        station_id: station.unwrap_or_default().into(),
        // Without a station the operator holds it to settle by hand; routing tests route.
        hold: station.is_none(),
        ..Default::default()
    }
}

pub fn operator() -> Who {
    Who {
        role: Role::Operator,
        login: "op-17".into(),
        station: None,
        territory: None,
    }
}

/// The city centre's supervisor.
pub fn supervisor() -> Who {
    Who {
        role: Role::Supervisor,
        login: "sup-3".into(),
        station: None,
        territory: Some("city".into()),
    }
}

/// A supervisor of one district or street.
pub fn supervisor_of(territory: &str, login: &str) -> Who {
    Who {
        role: Role::Supervisor,
        login: login.into(),
        station: None,
        territory: Some(territory.into()),
    }
}

pub fn staff(station: &str, who: &str) -> Who {
    Who {
        role: Role::StationStaff,
        login: who.into(),
        station: Some(station.into()),
        territory: None,
    }
}

pub fn integrator(login: &str) -> Who {
    Who {
        role: Role::Integrator,
        login: login.into(),
        station: None,
        territory: None,
    }
}

pub fn administrator() -> Who {
    Who {
        role: Role::Administrator,
        login: "root-admin".into(),
        station: None,
        territory: None,
    }
}

fn scope_of(who: &Who) -> Scope {
    match who.role {
        Role::Operator | Role::Administrator => Scope::Centre,
        Role::StationStaff => Scope::Station {
            station: hotline_core::StationId::parse("s", who.station.as_deref().unwrap()).unwrap(),
        },
        Role::Supervisor | Role::KnowledgeEditor => Scope::Territory {
            territory: Territory::parse("t", who.territory.as_deref().unwrap_or("city")).unwrap(),
        },
        Role::Integrator => Scope::Integrator {
            channels: hotline_core::Channel::ALL.to_vec(),
            rpcs: hotline_identity::INTEGRATOR_RPCS
                .iter()
                .map(|r| hotline_identity::RpcName::parse("r", r).unwrap())
                .collect(),
        },
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

/// Signs for, replies and approves the reply of ticket `id` at `station`, each step expected
/// to succeed: it then awaits its callback.
pub async fn handle_to_callback_at(app: &TestApp, id: &str, station: &str) {
    let mut station = app.station_as(&staff(station, "li")).await;
    station
        .sign_for(pb::SignForRequest {
            ticket_id: id.into(),
            expected_version: 0,
        })
        .await
        .expect("sign for");
    station
        .reply(pb::ReplyRequest {
            ticket_id: id.into(),
            expected_version: 0,
            internal_record: "已处理".into(),
            public_reply: "您反映的问题已处理。".into(),
        })
        .await
        .expect("reply");
    let mut supervision = app.supervision_as(&supervisor()).await;
    supervision
        .review_reply(pb::ReviewReplyRequest {
            ticket_id: id.into(),
            expected_version: 0,
            approve: true,
            note: String::new(),
        })
        .await
        .expect("review");
}

/// Calls the caller of ticket `id` back (satisfied), each step expected to succeed.
pub async fn call_back(app: &TestApp, id: &str) -> pb::Ticket {
    record_callback_as(app, &supervisor(), id, pb::Satisfaction::Satisfied, true).await
}

/// `who` records the callback (回访) of ticket `id`, expected to succeed.
pub async fn record_callback_as(
    app: &TestApp,
    who: &Who,
    id: &str,
    satisfaction: pb::Satisfaction,
    reasonable: bool,
) -> pb::Ticket {
    app.supervision_as(who)
        .await
        .record_callback(pb::RecordCallbackRequest {
            ticket_id: id.into(),
            expected_version: 0,
            satisfaction: satisfaction as i32,
            reasonable,
            note: String::new(),
        })
        .await
        .expect("callback")
        .into_inner()
        .ticket
        .unwrap()
}

/// Signs for, replies, reviews, calls back (satisfied) and closes ticket `id` at `station`,
/// each step expected to succeed; the closed ticket.
pub async fn handle_to_close_at(app: &TestApp, id: &str, station: &str) -> pb::Ticket {
    handle_to_callback_at(app, id, station).await;
    call_back(app, id).await;
    app.supervision_as(&supervisor())
        .await
        .close(pb::CloseRequest {
            ticket_id: id.into(),
            expected_version: 0,
        })
        .await
        .expect("close")
        .into_inner()
        .ticket
        .expect("the closed ticket")
}

/// 并案: handles the incident's lead at `station`, gives one reply to the tickets merged into
/// it, calls every caller back and closes them together; the closed incident.
pub async fn close_incident_at(app: &TestApp, lead: &str, station: &str) -> pb::IncidentDetail {
    handle_to_callback_at(app, lead, station).await;
    let mut incidents = app.incidents_as(&supervisor()).await;
    let replied = incidents
        .reply_to_incident(pb::ReplyToIncidentRequest {
            incident_id: lead.into(),
            public_reply: "您反映的问题已统一处理。".into(),
        })
        .await
        .expect("reply to the incident")
        .into_inner();
    for ticket in &replied.tickets {
        call_back(app, &ticket.id).await;
    }
    incidents
        .close_incident(pb::CloseIncidentRequest {
            incident_id: lead.into(),
        })
        .await
        .expect("close the incident")
        .into_inner()
}

/// An incident as the supervisor reads it.
pub async fn incident_detail(app: &TestApp, incident: &str) -> pb::IncidentDetail {
    app.incidents_as(&supervisor())
        .await
        .get_incident(pb::GetIncidentRequest {
            incident_id: incident.into(),
        })
        .await
        .expect("get incident")
        .into_inner()
}
