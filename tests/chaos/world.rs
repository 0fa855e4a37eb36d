//! The harness's own world: a private PostgreSQL cluster (`initdb` in a temp dir, its own
//! port), a private Redis on its own port, and three `hotline serve` replicas, each reaching
//! both servers through its own TCP proxies. The machine's PostgreSQL and Redis are never
//! touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hotline_e2e::{free_port, OwnPostgres, OwnRedis, Proxy};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

pub const REPLICAS: usize = 3;
pub const REDIS_PREFIX: &str = "chaos";
/// Every password of the harness's accounts.
pub const PASSWORD: &str = "chaos-password-1";

/// Sign-for in one minute, the warning at half time: timers fall due during a short run.
pub const POLICY: &str = r#"description = "chaos harness: sign-for deadlines one minute after dispatch"
[[rule]]
name = "default"
sign_for = "1 min"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
complex_resolution = "15 wd"
warning_lead = "50%"
return_window = "2 wd"
extension_max = "10 wd"
extension_notice = "1 wd"
urge_after = "1 wd"
publish_after = "5 wd"
"#;

pub struct World {
    dir: PathBuf,
    hotline: PathBuf,
    pub pg: OwnPostgres,
    redis: Mutex<OwnRedis>,
    pub redis_port: u16,
    pub replicas: Vec<Replica>,
}

pub struct Replica {
    pub port: u16,
    pub pg: Proxy,
    pub redis: Proxy,
    child: Mutex<Option<Child>>,
    /// The replica's clock offset, for the clock-step fault (replica 0 only).
    pub clock_file: Option<PathBuf>,
    pub channel: Channel,
}

impl World {
    pub async fn start(hotline: &Path) -> anyhow::Result<Self> {
        let hotline = std::fs::canonicalize(hotline)
            .with_context(|| format!("the hotline binary {}", hotline.display()))?;
        let dir = std::env::temp_dir().join(format!("hotline-chaos-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("policy.toml"), POLICY)?;
        let pg = tokio::task::spawn_blocking(OwnPostgres::start).await?;
        let redis_port = free_port();
        let world = Self {
            redis: Mutex::new(OwnRedis::start_logged(
                redis_port,
                Some(dir.join("redis.log")),
            )),
            dir,
            hotline,
            pg,
            redis_port,
            replicas: Vec::new(),
        };
        world.wait_redis().await?;
        world.add_accounts()?;
        let mut world = world;
        for index in 0..REPLICAS {
            let pg = Proxy::start(([127, 0, 0, 1], world.pg.port).into()).await;
            let redis = Proxy::start(([127, 0, 0, 1], world.redis_port).into()).await;
            let port = free_port();
            let clock_file = (index == 0).then(|| world.dir.join("clock-offset-ms"));
            if let Some(file) = &clock_file {
                std::fs::write(file, "0")?;
            }
            let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5))
                .connect_lazy();
            let replica = Replica {
                port,
                pg,
                redis,
                child: Mutex::new(None),
                clock_file,
                channel,
            };
            world.replicas.push(replica);
            // One at a time: the first makes the signing keys the others load.
            world.start_replica(index)?;
            world.wait_replica(index, Duration::from_secs(120)).await?;
        }
        Ok(world)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn database_url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// The store, directly (the auditor's view).
    pub fn direct_database_url(&self) -> String {
        self.database_url(self.pg.port)
    }

    pub fn direct_redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.redis_port)
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.join("policy.toml")
    }

    /// The accounts the load acts as: operators, station staff, supervisors.
    fn add_accounts(&self) -> anyhow::Result<()> {
        // One signing key for every replica: a token from one is good at the others.
        let keys = Command::new(&self.hotline)
            .args(["staff", "rotate-signing-key", "--keys"])
            .arg(self.dir.join("signing-keys.json"))
            .env("RUST_BACKTRACE", "0")
            .output()?;
        if !keys.status.success() {
            bail!(
                "hotline staff rotate-signing-key: {}",
                String::from_utf8_lossy(&keys.stderr)
            );
        }
        for (login, role, scope) in crate::load::accounts() {
            let mut command = Command::new(&self.hotline);
            command
                .arg("staff")
                .arg("--data-dir")
                .arg(self.dir.join("staff"))
                .arg("--database-url")
                .arg(self.direct_database_url())
                .args(["add", "--login", &login, "--name", &login, "--role", role]);
            match role {
                "station-staff" => command.args(["--station", &scope]),
                "supervisor" => command.args(["--territory", &scope]),
                _ => &mut command,
            };
            let mut child = command
                .arg("--password-stdin")
                .env("RUST_BACKTRACE", "0")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("running hotline staff add")?;
            use std::io::Write;
            writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}")?;
            let output = child.wait_with_output()?;
            if !output.status.success() {
                bail!(
                    "hotline staff add {login}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        Ok(())
    }

    pub fn start_replica(&self, index: usize) -> anyhow::Result<()> {
        let replica = &self.replicas[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("replica{index}.log")))?;
        let mut command = Command::new(&self.hotline);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{}", replica.port)])
            .env(
                "HOTLINE_DATABASE_URL",
                self.database_url(replica.pg.addr().port()),
            )
            .env(
                "HOTLINE_REDIS_URL",
                format!("redis://127.0.0.1:{}/0", replica.redis.addr().port()),
            )
            .env("HOTLINE_REDIS_PREFIX", REDIS_PREFIX)
            .env("HOTLINE_SLA_POLICY", self.policy_path())
            .env("HOTLINE_DATA_DIR", self.dir.join(format!("data{index}")))
            .env("HOTLINE_SIGNING_KEYS", self.dir.join("signing-keys.json"))
            .env("HOTLINE_HTTP_LISTEN", "off")
            .env("HOTLINE_ACCESS_TOKEN_MINUTES", "240")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(file) = &replica.clock_file {
            command.env(hotline_router::server::TEST_CLOCK_OFFSET_FILE, file);
        }
        let child = command.spawn().context("starting a replica")?;
        *replica.child.lock().unwrap() = Some(child);
        Ok(())
    }

    /// `kill -9`: no shutdown, no drain.
    pub fn kill_replica(&self, index: usize) {
        if let Some(mut child) = self.replicas[index].child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn replica_pid(&self, index: usize) -> Option<u32> {
        self.replicas[index]
            .child
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.id())
    }

    /// Waits until the replica reports itself ready and its working set serving.
    pub async fn wait_replica(&self, index: usize, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let channel = self.replicas[index].channel.clone();
        loop {
            if ready(&channel).await {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!(
                    "replica {index} not ready within {limit:?}; see {}",
                    self.dir.join(format!("replica{index}.log")).display()
                );
            }
            if let Some(child) = self.replicas[index].child.lock().unwrap().as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!("replica {index} exited: {status}");
                }
            }
            // Polling a health endpoint: how a load balancer learns it, too.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        for index in 0..self.replicas.len() {
            self.wait_replica(index, Duration::from_secs(120)).await?;
        }
        Ok(())
    }

    pub fn kill_redis(&self) {
        self.redis.lock().unwrap().stop();
    }

    pub async fn start_redis(&self) -> anyhow::Result<()> {
        tokio::task::block_in_place(|| self.redis.lock().unwrap().start());
        self.wait_redis().await
    }

    async fn wait_redis(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.redis_command(&["PING"]).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the private Redis did not answer PING within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn redis_command(&self, args: &[&str]) -> anyhow::Result<redis::Value> {
        let client = redis::Client::open(self.direct_redis_url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        Ok(command.query_async(&mut conn).await?)
    }

    /// Steps replica 0's clock to `offset_ms` from the wall clock (SIGUSR1 makes it re-read).
    pub fn step_clock(&self, offset_ms: i64) -> anyhow::Result<()> {
        let replica = &self.replicas[0];
        let file = replica
            .clock_file
            .as_ref()
            .expect("replica 0 has a clock file");
        std::fs::write(file, offset_ms.to_string())?;
        let pid = self.replica_pid(0).context("replica 0 is running")?;
        signal(pid, "USR1")
    }

    /// Stops every process of the world (replicas gracefully, then the servers).
    pub async fn stop(&self) {
        for index in 0..self.replicas.len() {
            if let Some(pid) = self.replica_pid(index) {
                let _ = signal(pid, "TERM");
            }
        }
        for index in 0..self.replicas.len() {
            let child = self.replicas[index].child.lock().unwrap().take();
            if let Some(mut child) = child {
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.kill_redis();
    }

    /// Removes the world's directory (PostgreSQL's own goes when `pg` drops).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

/// Ready: the router's readiness and working-set health both SERVING.
pub async fn ready(channel: &Channel) -> bool {
    let mut client = HealthClient::new(channel.clone());
    for service in [
        hotline_router::server::READINESS_HEALTH,
        hotline_router::server::WORKING_SET_HEALTH,
    ] {
        match client
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
        {
            Ok(reply) if reply.get_ref().status == ServingStatus::Serving as i32 => {}
            _ => return false,
        }
    }
    true
}
