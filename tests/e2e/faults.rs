//! Faults seen from outside, with real processes and real sockets: a replica cut off from
//! PostgreSQL and Redis by a TCP proxy and healed, and a private PostgreSQL restarted and
//! crashed under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotline_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::support::{submit_request, TestApp, COMMUNITY_CSS};

/// A TCP proxy that can cut its links (a network partition: nothing passes either way and new
/// connections hang, as with dropped packets) and heal them.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let cut = cut_rx.clone();
                tokio::spawn(async move {
                    // A new connection during a cut waits for the heal, like a SYN into the void.
                    let mut waiting = cut.clone();
                    let _ = waiting.wait_for(|cut| !*cut).await;
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, cut.clone()),
                        pump(server_read, client_write, cut)
                    );
                });
            }
        });
        Self { addr, cut, task }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, holding every chunk while the link is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.wait_for(|cut| !*cut).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn resolve(url: &str) -> SocketAddr {
    // Both test services listen on 127.0.0.1.
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits on the health Watch stream until `service` reports `want`, for at most `limit`.
async fn health_becomes(
    app: &TestApp,
    service: &str,
    want: ServingStatus,
    limit: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut client = HealthClient::new(app.channel.clone());
    let mut stream = client
        .watch(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let seen = tokio::time::timeout(limit, async {
        while let Some(update) = stream.message().await.map_err(|e| e.to_string())? {
            if update.status == want as i32 {
                return Ok(started.elapsed());
            }
        }
        Err("health stream ended".to_owned())
    })
    .await;
    match seen {
        Ok(result) => result,
        Err(_) => Err(format!(
            "{service:?} did not become {want:?} within {limit:?}"
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_its_servers_reports_it_and_recovers_within_10_s_of_the_heal() {
    hotline_dispatch::testing::ensure_redis();
    let pg_url = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let redis_url = hotline_dispatch::testing::redis_url();
    let pg = Proxy::start(resolve(&pg_url).await).await;
    let redis = Proxy::start(resolve(&redis_url).await).await;
    let via = |url: &str, proxy: &Proxy| {
        let port = url
            .rsplit_once(':')
            .unwrap()
            .1
            .split(['/', '?'])
            .next()
            .unwrap()
            .to_owned();
        url.replacen(&format!(":{port}"), &format!(":{}", proxy.addr.port()), 1)
    };
    let prefix = hotline_dispatch::testing::fresh_prefix();
    let argv = vec![
        "--database-url".to_owned(),
        via(&pg_url, &pg),
        "--redis-url".to_owned(),
        via(&redis_url, &redis),
        "--redis-prefix".to_owned(),
        prefix.clone(),
    ];
    let app =
        TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await;
    app.submit("路灯不亮", Some(COMMUNITY_CSS)).await;
    health_becomes(&app, "", ServingStatus::Serving, Duration::from_secs(10))
        .await
        .unwrap();

    pg.cut();
    redis.cut();
    health_becomes(&app, "", ServingStatus::NotServing, Duration::from_secs(15))
        .await
        .expect("readiness says the store is gone");
    health_becomes(
        &app,
        hotline_router::server::WORKING_SET_HEALTH,
        ServingStatus::NotServing,
        Duration::from_secs(15),
    )
    .await
    .expect("the working set says Redis is gone");
    // Liveness holds: the process is making progress, only its servers are away.
    let live = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: hotline_router::server::LIVENESS_HEALTH.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live.status, ServingStatus::Serving as i32);

    pg.heal();
    redis.heal();
    let took = health_becomes(&app, "", ServingStatus::Serving, Duration::from_secs(10))
        .await
        .expect("ready again within 10 s of the heal");
    health_becomes(
        &app,
        hotline_router::server::WORKING_SET_HEALTH,
        ServingStatus::Serving,
        Duration::from_secs(10) - took,
    )
    .await
    .expect("working set serving again within 10 s of the heal");
    // And it works: a submit after the heal is queued.
    app.submit("井盖缺失", Some(COMMUNITY_CSS)).await;
    hotline_dispatch::testing::flush_prefix(&prefix).await;
}

/// A PostgreSQL cluster of our own (initdb in a temp dir, its own port), to restart and crash.
struct OwnPostgres {
    dir: std::path::PathBuf,
    port: u16,
    bin: std::path::PathBuf,
}

impl OwnPostgres {
    fn start() -> Self {
        let bin = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| std::path::PathBuf::from(s.trim()))
            .filter(|p| p.join("initdb").exists())
            .unwrap_or_else(|| std::path::PathBuf::from("/usr/lib/postgresql/15/bin"));
        let dir = std::env::temp_dir().join(format!("hotline-pg-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { dir, port, bin };
        // PostgreSQL refuses to run as root: run it as the postgres user when we are root.
        pg.chown();
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.ctl(&["start", "-w", "-t", "60"]);
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn chown(&self) {
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres", &self.dir.display().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let data = self.data();
        let mut full = vec!["-D", &data, "-l", &log, "-o", &options];
        full.extend_from_slice(args);
        self.run("pg_ctl", &full);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let _ = command
            .args(["-D", &data, "stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.trim_ascii() == b"0")
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_and_crash_under_load_give_clients_unavailable_never_internal() {
    let pg = OwnPostgres::start();
    let app = TestApp::spawn_with(
        vec!["--database-url".to_owned(), pg.url()],
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;

    const CLIENTS: usize = 8;
    const EACH: usize = 40;
    // How many submits have been acknowledged: the faults are injected at points of progress.
    let (done, progress) = watch::channel(0usize);
    let done = Arc::new(done);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let intake = app.intake().await;
        let done = done.clone();
        clients.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            let mut ids = Vec::new();
            for n in 0..EACH {
                let mut request =
                    submit_request(&format!("第{client}-{n}件：路灯不亮"), Some(COMMUNITY_CSS));
                // Retried with the same request id: the same ticket, never a second one.
                request.request_id = format!("chaos-{client}-{n}");
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match intake.clone().submit_ticket(request.clone()).await {
                        Ok(reply) => {
                            ids.push(reply.into_inner().ticket.unwrap().id);
                            break;
                        }
                        Err(status) => {
                            codes.push((status.code(), status.message().to_owned()));
                            assert!(attempts < 200, "submit never succeeded: {status:?}");
                            // A bounded, real pause between retries, as a client's retry policy
                            // does; nothing waits on it for ordering.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                done.send_modify(|n| *n += 1);
            }
            (codes, ids)
        }));
    }
    let total = CLIENTS * EACH;
    let wait_for = |at: usize| {
        let mut progress = progress.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), progress.wait_for(|n| *n >= at))
                .await
                .expect("load stalled")
                .expect("clients running");
        }
    };
    // A fast restart a quarter of the way in, a crash and recovery at half way.
    wait_for(total / 4).await;
    pg.ctl(&["restart", "-m", "fast", "-w", "-t", "60"]);
    wait_for(total / 2).await;
    pg.ctl(&["stop", "-m", "immediate"]);
    pg.ctl(&["start", "-w", "-t", "60"]);

    let mut codes = Vec::new();
    let mut ids = Vec::new();
    for client in clients {
        let (c, i) = client.await.unwrap();
        codes.extend(c);
        ids.extend(i);
    }
    let internal: Vec<_> = codes
        .iter()
        .filter(|(code, _)| *code == tonic::Code::Internal)
        .collect();
    assert!(internal.is_empty(), "clients saw INTERNAL: {internal:?}");
    assert!(
        codes
            .iter()
            .all(|(code, _)| matches!(code, tonic::Code::Unavailable)),
        "only UNAVAILABLE while PostgreSQL was away: {codes:?}"
    );
    // Every acknowledged submit is stored, once.
    assert_eq!(ids.len(), total);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), total, "a retried submit made a second ticket");
    for id in &ids {
        let ticket = app
            .intake()
            .await
            .get_ticket(pb::GetTicketRequest {
                ticket_id: id.clone(),
                include_history: false,
            })
            .await
            .expect("every acknowledged ticket is there");
        assert!(ticket.into_inner().ticket.is_some());
    }
}
