//! The bounded load that runs through every fault: operators submitting on every replica,
//! station staff who claim, sign for and reply, and supervisors who review the replies and
//! record the callbacks. Clients behave as a careful client should: a deadline on every call,
//! a retry of a submit with the same request id (never a second ticket), another replica
//! after a failure. Everything they were told is recorded for the auditor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use hotline_proto::v1 as pb;
use pb::auth_client::AuthClient;
use pb::intake_client::IntakeClient;
use pb::station_client::StationClient;
use pb::supervision_client::SupervisionClient;
use tokio::sync::{mpsc, watch};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::world::{World, PASSWORD};

/// Stations whose staff work their queue, two staff each (two can race for one ticket).
const WORKED: [(&str, &str); 2] = [
    ("320508021019-css", "320508021019"),
    ("320505001002-css", "320505001002"),
];
/// A station nobody works during the run: its tickets' sign-for deadlines fall due.
const UNWORKED: (&str, &str) = ("320508021-office", "320508021");
const SUBMITTERS: usize = 6;
const SUPERVISORS: usize = 2;
/// Each submitter's pace.
const SUBMIT_EVERY: Duration = Duration::from_millis(250);

const TEXTS: [&str; 8] = [
    "小区门口路灯不亮已经一周了，晚上出行很不方便",
    "人行道上井盖缺失，存在安全隐患，请尽快处理",
    "楼下饭店油烟很大，窗户都不敢开",
    "道路积水严重，车辆无法通行",
    "垃圾清运不及时，垃圾桶满了没人管",
    "夜间施工噪音扰民，影响休息",
    "小区绿化带被占用种菜",
    "公交站台广告牌破损摇晃",
];

/// Everyone the load acts as: (login, role, station or territory).
pub fn accounts() -> Vec<(String, &'static str, String)> {
    let mut all = Vec::new();
    for n in 0..SUBMITTERS {
        all.push((format!("chaos-op-{n}"), "operator", String::new()));
    }
    for (station, _) in WORKED {
        for who in ["a", "b"] {
            all.push((
                format!("chaos-{station}-{who}"),
                "station-staff",
                station.to_owned(),
            ));
        }
    }
    for n in 0..SUPERVISORS {
        all.push((format!("chaos-sup-{n}"), "supervisor", "city".to_owned()));
    }
    all
}

/// What the clients were told.
#[derive(Debug, Default)]
pub struct Record {
    /// Tickets whose submit was acknowledged: (ticket id, request id).
    pub acknowledged: Vec<(String, String)>,
    /// Sign-fors acknowledged: (ticket id, login).
    pub signed: Vec<(String, String)>,
    /// Claims granted: (ticket id, login, granted, lease until).
    pub claims: Vec<(String, String, Instant, Instant)>,
    pub replied: usize,
    pub reviewed: usize,
    pub closed: usize,
    /// Answers a well-behaved client should never get (INTERNAL, INVALID_ARGUMENT, ...):
    /// (rpc, code, message).
    pub unexpected: Vec<(String, Code, String)>,
    /// When the last submit was acknowledged.
    pub last_ack: Option<Instant>,
    /// Transient answers seen, by RPC and code: what clients saw of the faults.
    pub transient: std::collections::BTreeMap<(String, String), usize>,
}

pub struct Load {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    record: Arc<Mutex<Record>>,
    /// Channels to the replicas, for probes.
    channels: Vec<Channel>,
    probe_token: MetadataValue<tonic::metadata::Ascii>,
}

/// Transient answers: the server or the link is away or busy; retry.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Unknown
            | Code::ResourceExhausted
    )
}

fn authed<T>(message: T, token: &MetadataValue<tonic::metadata::Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request.set_timeout(Duration::from_secs(5));
    request
}

/// Logs in as `login` on the first replica that answers.
async fn login(
    channels: &[Channel],
    login: &str,
) -> anyhow::Result<MetadataValue<tonic::metadata::Ascii>> {
    let started = Instant::now();
    let mut replica = 0;
    loop {
        let mut auth = AuthClient::new(channels[replica % channels.len()].clone());
        match auth
            .login(pb::LoginRequest {
                login: login.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
        {
            Ok(reply) => {
                let token = reply.into_inner().access_token;
                return format!("Bearer {token}")
                    .parse()
                    .context("a token that fits in a header");
            }
            Err(status) if started.elapsed() < Duration::from_secs(60) => {
                if !transient(status.code()) {
                    anyhow::bail!("login {login}: {status:?}");
                }
                replica += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => anyhow::bail!("login {login}: {status:?}"),
        }
    }
}

impl Load {
    pub async fn start(world: &World) -> anyhow::Result<Self> {
        let channels: Vec<Channel> = world.replicas.iter().map(|r| r.channel.clone()).collect();
        let (stop, stopped) = watch::channel(false);
        let record = Arc::new(Mutex::new(Record::default()));
        let (replies, reviews) = mpsc::unbounded_channel::<String>();
        let reviews = Arc::new(tokio::sync::Mutex::new(reviews));
        let mut tasks = Vec::new();
        for n in 0..SUBMITTERS {
            let token = login(&channels, &format!("chaos-op-{n}")).await?;
            let submitter = Submitter {
                n,
                channels: channels.clone(),
                token,
                record: record.clone(),
            };
            tasks.push(tokio::spawn(submitter.run(stopped.clone())));
        }
        for (station, _) in WORKED {
            for who in ["a", "b"] {
                let login_name = format!("chaos-{station}-{who}");
                let worker = Worker {
                    token: login(&channels, &login_name).await?,
                    login: login_name,
                    channels: channels.clone(),
                    record: record.clone(),
                    replies: replies.clone(),
                };
                tasks.push(tokio::spawn(worker.run(stopped.clone())));
            }
        }
        for n in 0..SUPERVISORS {
            let supervisor = Supervisor {
                token: login(&channels, &format!("chaos-sup-{n}")).await?,
                channels: channels.clone(),
                record: record.clone(),
            };
            tasks.push(tokio::spawn(
                supervisor.run(reviews.clone(), stopped.clone()),
            ));
        }
        let probe_token = login(&channels, "chaos-op-0").await?;
        Ok(Self {
            stop,
            tasks,
            record,
            channels,
            probe_token,
        })
    }

    /// Stops the load; in-flight calls finish (a submit being retried is retried to its end).
    pub async fn stop(self) -> Record {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
        Arc::try_unwrap(self.record)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_else(|shared| std::mem::take(&mut *shared.lock().unwrap()))
    }

    /// One submit on replica `index`, answered OK: the probe of recovery. Its ticket counts as
    /// acknowledged like any other.
    pub async fn probe(&self, index: usize, label: &str) -> bool {
        let mut intake = IntakeClient::new(self.channels[index].clone());
        let request_id = format!("probe-{label}-{index}-{}", uuid::Uuid::now_v7().simple());
        let request = submit_request(&request_id, Some(UNWORKED), 0);
        match intake
            .submit_ticket(authed(request, &self.probe_token))
            .await
        {
            Ok(reply) => {
                acknowledged(&self.record, reply.into_inner(), request_id);
                true
            }
            Err(status) => {
                if !transient(status.code()) {
                    self.record.lock().unwrap().unexpected.push((
                        "probe SubmitTicket".into(),
                        status.code(),
                        status.message().to_owned(),
                    ));
                }
                false
            }
        }
    }
}

fn submit_request(
    request_id: &str,
    station: Option<(&str, &str)>,
    n: usize,
) -> pb::SubmitTicketRequest {
    let (station_id, division) = station.unwrap_or(("", "320508021019"));
    pb::SubmitTicketRequest {
        channel: pb::Channel::Hotline as i32,
        caller: Some(pb::Caller {
            name: "王女士".into(),
            phone: "13912345678".into(),
            ..Default::default()
        }),
        text: format!("{}（第{n}次来电）", TEXTS[n % TEXTS.len()]),
        address: "姑苏区双塔街道沧浪亭社区".into(),
        division_code: division.into(),
        station_id: station_id.into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

struct Submitter {
    n: usize,
    channels: Vec<Channel>,
    token: MetadataValue<tonic::metadata::Ascii>,
    record: Arc<Mutex<Record>>,
}

impl Submitter {
    async fn run(self, stop: watch::Receiver<bool>) {
        let mut replica = self.n % self.channels.len();
        let mut count = 0usize;
        let mut next = tokio::time::Instant::now();
        while !*stop.borrow() {
            count += 1;
            let request_id = format!("chaos-{}-{count}", self.n);
            // Mostly by hand to the stations (worked and not), a share routed by the router.
            let station = match count % 5 {
                0 => None,
                1 | 3 => Some(WORKED[count % 2]),
                2 => Some(WORKED[(count + 1) % 2]),
                _ => Some(UNWORKED),
            };
            let request = submit_request(&request_id, station, count);
            let started = Instant::now();
            loop {
                let mut intake = IntakeClient::new(self.channels[replica].clone());
                match intake
                    .submit_ticket(authed(request.clone(), &self.token))
                    .await
                {
                    Ok(reply) => {
                        acknowledged(&self.record, reply.into_inner(), request_id);
                        break;
                    }
                    Err(status) if transient(status.code()) => {
                        seen(&self.record, "SubmitTicket", &status);
                        // The same request id on the next replica: the same ticket if the
                        // first attempt was committed after all.
                        replica = (replica + 1) % self.channels.len();
                        if started.elapsed() > Duration::from_secs(120) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(status) => {
                        unexpected(&self.record, "SubmitTicket", &status);
                        break;
                    }
                }
            }
            next += SUBMIT_EVERY;
            tokio::time::sleep_until(next.max(tokio::time::Instant::now())).await;
        }
    }
}

/// A submit the router acknowledged: the auditor looks for its ticket.
fn acknowledged(record: &Mutex<Record>, reply: pb::SubmitTicketResponse, request_id: String) {
    let id = reply.ticket.map(|t| t.id).unwrap_or_default();
    let mut record = record.lock().unwrap();
    record.acknowledged.push((id, request_id));
    record.last_ack = Some(Instant::now());
}

fn seen(record: &Mutex<Record>, rpc: &str, status: &Status) {
    *record
        .lock()
        .unwrap()
        .transient
        .entry((rpc.to_owned(), format!("{:?}", status.code())))
        .or_default() += 1;
}

fn unexpected(record: &Mutex<Record>, rpc: &str, status: &Status) {
    record.lock().unwrap().unexpected.push((
        rpc.to_owned(),
        status.code(),
        status.message().to_owned(),
    ));
}

/// A conflict with another writer (the ticket moved on meanwhile): expected when two staff
/// race, or when a retried call had in fact been applied.
fn conflict(code: Code) -> bool {
    matches!(
        code,
        Code::FailedPrecondition | Code::Aborted | Code::NotFound
    )
}

struct Worker {
    login: String,
    token: MetadataValue<tonic::metadata::Ascii>,
    channels: Vec<Channel>,
    record: Arc<Mutex<Record>>,
    replies: mpsc::UnboundedSender<String>,
}

impl Worker {
    async fn run(self, stop: watch::Receiver<bool>) {
        let mut replica = 0usize;
        while !*stop.borrow() {
            let mut station = StationClient::new(self.channels[replica].clone());
            let claimed = station
                .claim_ticket(authed(
                    pb::ClaimTicketRequest {
                        ticket_id: String::new(),
                        lease_seconds: 30,
                    },
                    &self.token,
                ))
                .await;
            let ticket = match claimed {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    match reply.ticket {
                        Some(ticket) => {
                            let until = chrono::DateTime::parse_from_rfc3339(&reply.lease_until)
                                .map(|t| {
                                    let left = t.with_timezone(&chrono::Utc) - chrono::Utc::now();
                                    Instant::now() + left.to_std().unwrap_or_default()
                                })
                                .unwrap_or_else(|_| Instant::now());
                            self.record.lock().unwrap().claims.push((
                                ticket.id.clone(),
                                self.login.clone(),
                                Instant::now(),
                                until,
                            ));
                            ticket
                        }
                        None => {
                            // An empty queue: look again shortly, as the desk's poll does.
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            continue;
                        }
                    }
                }
                Err(status) if transient(status.code()) || conflict(status.code()) => {
                    seen(&self.record, "ClaimTicket", &status);
                    replica = (replica + 1) % self.channels.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(status) => {
                    unexpected(&self.record, "ClaimTicket", &status);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if let Some(version) = self.sign_for(&ticket, &mut replica).await {
                self.reply(&ticket.id, version, &mut replica).await;
            }
        }
    }

    /// Signs for the ticket; the version after the sign-for, when it is ours.
    async fn sign_for(&self, ticket: &pb::Ticket, replica: &mut usize) -> Option<u64> {
        let mut uncertain = false;
        for _ in 0..50 {
            let mut station = StationClient::new(self.channels[*replica].clone());
            match station
                .sign_for(authed(
                    pb::SignForRequest {
                        ticket_id: ticket.id.clone(),
                        expected_version: ticket.version,
                    },
                    &self.token,
                ))
                .await
            {
                Ok(reply) => {
                    self.record
                        .lock()
                        .unwrap()
                        .signed
                        .push((ticket.id.clone(), self.login.clone()));
                    return reply.into_inner().ticket.map(|t| t.version);
                }
                Err(status) if transient(status.code()) => {
                    seen(&self.record, "SignFor", &status);
                    uncertain = true;
                    *replica = (*replica + 1) % self.channels.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(status) if conflict(status.code()) => {
                    // Lost a race, or our earlier attempt was applied after all: the ticket
                    // says which.
                    if uncertain {
                        return self.signed_by_me(&ticket.id, *replica).await;
                    }
                    return None;
                }
                Err(status) => {
                    unexpected(&self.record, "SignFor", &status);
                    return None;
                }
            }
        }
        None
    }

    async fn signed_by_me(&self, id: &str, replica: usize) -> Option<u64> {
        let mut replica = replica;
        let ticket =
            get_ticket(&self.channels, &self.token, &self.record, id, &mut replica).await?;
        let mine =
            ticket.stage == pb::Stage::InProgress as i32 && ticket.signed_by.contains(&self.login);
        if !mine {
            return None;
        }
        self.record
            .lock()
            .unwrap()
            .signed
            .push((id.to_owned(), self.login.clone()));
        Some(ticket.version)
    }

    async fn reply(&self, id: &str, version: u64, replica: &mut usize) {
        for _ in 0..50 {
            let mut station = StationClient::new(self.channels[*replica].clone());
            match station
                .reply(authed(
                    pb::ReplyRequest {
                        ticket_id: id.to_owned(),
                        expected_version: version,
                        internal_record: "现场核实后已处理".into(),
                        public_reply: "您反映的问题已安排处理，感谢您的来电。".into(),
                    },
                    &self.token,
                ))
                .await
            {
                Ok(_) => {
                    self.record.lock().unwrap().replied += 1;
                    let _ = self.replies.send(id.to_owned());
                    return;
                }
                Err(status) if transient(status.code()) => {
                    seen(&self.record, "Reply", &status);
                    *replica = (*replica + 1) % self.channels.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(status) if conflict(status.code()) => {
                    // Applied by an earlier attempt: the supervisor reads the stage anyway.
                    let _ = self.replies.send(id.to_owned());
                    return;
                }
                Err(status) => {
                    unexpected(&self.record, "Reply", &status);
                    return;
                }
            }
        }
    }
}

struct Supervisor {
    token: MetadataValue<tonic::metadata::Ascii>,
    channels: Vec<Channel>,
    record: Arc<Mutex<Record>>,
}

impl Supervisor {
    async fn run(
        self,
        reviews: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut replica = 0usize;
        loop {
            let id = tokio::select! {
                id = async { reviews.lock().await.recv().await } => match id {
                    Some(id) => id,
                    None => return,
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            // Review the reply, then record the callback: each step from the stage the ticket
            // is in now (a retried step may have been applied already).
            for _ in 0..100 {
                if *stop.borrow() {
                    return;
                }
                let ticket =
                    match get_ticket(&self.channels, &self.token, &self.record, &id, &mut replica)
                        .await
                    {
                        Some(ticket) => ticket,
                        None => break,
                    };
                let mut supervision = SupervisionClient::new(self.channels[replica].clone());
                let result = if ticket.stage == pb::Stage::PendingReview as i32 {
                    supervision
                        .review_reply(authed(
                            pb::ReviewReplyRequest {
                                ticket_id: id.clone(),
                                expected_version: ticket.version,
                                approve: true,
                                note: String::new(),
                            },
                            &self.token,
                        ))
                        .await
                        .map(|_| "review")
                } else if ticket.stage == pb::Stage::AwaitingCallback as i32
                    && ticket.callback.is_some()
                {
                    supervision
                        .close(authed(
                            pb::CloseRequest {
                                ticket_id: id.clone(),
                                expected_version: ticket.version,
                            },
                            &self.token,
                        ))
                        .await
                        .map(|_| "close")
                } else if ticket.stage == pb::Stage::AwaitingCallback as i32 {
                    supervision
                        .record_callback(authed(
                            pb::RecordCallbackRequest {
                                ticket_id: id.clone(),
                                expected_version: ticket.version,
                                satisfaction: pb::Satisfaction::Satisfied as i32,
                                reasonable: false,
                                note: "回访满意".into(),
                            },
                            &self.token,
                        ))
                        .await
                        .map(|_| "callback")
                } else {
                    break;
                };
                match result {
                    Ok("review") => self.record.lock().unwrap().reviewed += 1,
                    Ok("close") => {
                        self.record.lock().unwrap().closed += 1;
                        break;
                    }
                    Ok(_) => {}
                    Err(status) if transient(status.code()) => {
                        seen(&self.record, "Supervision", &status);
                        replica = (replica + 1) % self.channels.len();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(status) if conflict(status.code()) => {}
                    Err(status) => {
                        unexpected(&self.record, "Supervision", &status);
                        break;
                    }
                }
            }
        }
    }
}

/// The ticket as it is now, from the first replica that answers (moving on after a failure).
async fn get_ticket(
    channels: &[Channel],
    token: &MetadataValue<tonic::metadata::Ascii>,
    record: &Mutex<Record>,
    id: &str,
    replica: &mut usize,
) -> Option<pb::Ticket> {
    for _ in 0..50 {
        let mut intake = IntakeClient::new(channels[*replica].clone());
        match intake
            .get_ticket(authed(
                pb::GetTicketRequest {
                    ticket_id: id.to_owned(),
                    include_history: false,
                },
                token,
            ))
            .await
        {
            Ok(reply) => return reply.into_inner().ticket,
            Err(status) if transient(status.code()) => {
                seen(record, "GetTicket", &status);
                *replica = (*replica + 1) % channels.len();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => {
                unexpected(record, "GetTicket", &status);
                return None;
            }
        }
    }
    None
}
