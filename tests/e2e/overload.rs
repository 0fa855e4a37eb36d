//! Limits and overload (issue 14, part 5), over real sockets: a full router sheds at once with
//! retry advice and keeps answering health checks; a connection flooding the router is shed on
//! its own account while a well-behaved client on another connection gets every answer; HTTP/2
//! stream and header limits hold; a request cut off by its deadline leaves its ticket whole or
//! absent, never half made.
//!
//! Requests are held in flight deterministically, without sleeps: a held request sends its
//! headers (so the router admits it and counts it) and withholds its one message until the test
//! releases it. The tests wait on the router's own in-flight count (`TestApp::in_flight`).

use std::time::Duration;

use futures::StreamExt;
use hotline_core::{StationId, TicketId};
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::support::*;

/// The retry delay a shed request is given (`hotline_router::grpc::status::SHED_RETRY_AFTER`).
const SHED_RETRY_MS: &str = "200";

/// A new HTTP/2 connection to the router (the harness's channel is one connection).
async fn connection(app: &TestApp) -> Channel {
    Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .expect("connect to the router")
}

async fn intake_on(app: &TestApp, channel: Channel) -> IntakeClient<Authed> {
    let token = app.token(&operator()).await;
    IntakeClient::new(InterceptedService::new(channel, Bearer::token(&token)))
}

fn request(label: &str) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        request_id: format!("overload-{label}"),
        ..submit_request(
            &format!("沧浪亭社区3幢门口路灯坏了 {label}"),
            Some(COMMUNITY_CSS),
        )
    }
}

/// A submit in flight whose message is withheld until [`Held::release`].
struct Held {
    message: oneshot::Sender<pb::SubmitTicketRequest>,
    request: pb::SubmitTicketRequest,
    answer: JoinHandle<Result<tonic::Response<pb::SubmitTicketResponse>, tonic::Status>>,
}

impl Held {
    async fn start(app: &TestApp, channel: Channel, request: pb::SubmitTicketRequest) -> Self {
        let token = app.token(&operator()).await;
        let mut grpc =
            tonic::client::Grpc::new(InterceptedService::new(channel, Bearer::token(&token)));
        let (message, withheld) = oneshot::channel::<pb::SubmitTicketRequest>();
        // A request stream of one message that arrives when released: the headers go out now.
        let body = futures::stream::once(withheld).filter_map(|m| async move { m.ok() });
        let answer = tokio::spawn(async move {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            grpc.client_streaming(
                tonic::Request::new(body),
                tonic::codegen::http::uri::PathAndQuery::from_static(
                    "/hotline.v1.Intake/SubmitTicket",
                ),
                tonic_prost::ProstCodec::default(),
            )
            .await
        });
        Self {
            message,
            request,
            answer,
        }
    }

    /// Sends the withheld message; the submit's answer.
    async fn release(self) -> pb::SubmitTicketResponse {
        self.message
            .send(self.request)
            .expect("the call is waiting");
        self.answer
            .await
            .unwrap()
            .expect("a held submit is answered once released")
            .into_inner()
    }
}

/// Asserts `status` is a shed: RESOURCE_EXHAUSTED, retry advice as pushback metadata and in
/// the message, which names the limit (`mentions`). (The RetryInfo detail beside them is
/// checked where the status is made, `grpc::status`.)
#[track_caller]
fn assert_shed(status: &tonic::Status, mentions: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status
            .metadata()
            .get("grpc-retry-pushback-ms")
            .and_then(|v| v.to_str().ok()),
        Some(SHED_RETRY_MS),
        "{status:?}"
    );
    assert!(
        status.message().contains(mentions) && status.message().contains("try again in 200 ms"),
        "{:?} should name the limit ({mentions:?}) and when to retry",
        status.message()
    );
}

async fn healthy(channel: Channel) -> bool {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status
        == ServingStatus::Serving as i32
}

/// The shed counter's value for `reason`, from the process's exporter.
fn shed_total(reason: &str) -> f64 {
    let text = hotline_router::metrics::handle().unwrap().render();
    let series = format!("hotline_grpc_shed_total{{reason=\"{reason}\"}}");
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_router_sheds_at_once_with_retry_advice_and_still_answers_health() {
    // Installed before anything is recorded: metrics are process-wide.
    let shed_before = {
        hotline_router::metrics::handle().unwrap();
        shed_total("server")
    };
    let app = TestApp::spawn_with(
        [
            "--grpc-max-in-flight",
            "4",
            "--grpc-max-in-flight-per-connection",
            "2",
        ]
        .map(String::from)
        .to_vec(),
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;

    // Four submits in flight, two on each of two connections, fill the router.
    let mut held = Vec::new();
    for pair in [["held-a", "held-b"], ["held-c", "held-d"]] {
        let channel = connection(&app).await;
        for label in pair {
            held.push(Held::start(&app, channel.clone(), request(label)).await);
        }
    }
    app.in_flight.wait_until(|n| *n == 4).await;

    // A flood from a third connection: every request is refused at once, none waits.
    let third = connection(&app).await;
    let intake = intake_on(&app, third.clone()).await;
    let flood = futures::future::join_all((0..16).map(|i| {
        let mut intake = intake.clone();
        async move { intake.submit_ticket(request(&format!("flood-{i}"))).await }
    }))
    .await;
    for answer in &flood {
        assert_shed(answer.as_ref().unwrap_err(), "the router is busy");
    }
    assert!(shed_total("server") >= shed_before + 16.0);
    // Health is never shed: a load balancer sees a full router as alive.
    assert!(healthy(third.clone()).await);
    assert_eq!(app.in_flight.now(), 4, "shed requests never counted");

    // The held submits finish normally, and the router serves again.
    for h in held {
        assert!(h.release().await.created);
    }
    app.in_flight.wait_until(|n| *n == 0).await;
    let mut intake = intake;
    let after = intake.submit_ticket(request("after")).await.unwrap();
    assert!(after.into_inner().created);

    // A shed request changed nothing: sent again (same request id), it makes its ticket now.
    for i in 0..16 {
        let again = intake
            .submit_ticket(request(&format!("flood-{i}")))
            .await
            .expect("the retry is served");
        assert!(again.into_inner().created, "flood-{i} had left a ticket");
    }

    // A free-running flood over four connections: each answer is a ticket or a shed with
    // retry advice, nothing else, and every answered ticket exists once.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(intake_on(&app, connection(&app).await).await);
    }
    let answers = futures::future::join_all((0..64).map(|i| {
        let mut intake = clients[i % 4].clone();
        async move { intake.submit_ticket(request(&format!("free-{i}"))).await }
    }))
    .await;
    let mut made = std::collections::BTreeSet::new();
    for answer in answers {
        match answer {
            Ok(response) => {
                let response = response.into_inner();
                assert!(response.created);
                made.insert(response.ticket.unwrap().id);
            }
            Err(status) => assert_shed(&status, "in flight"),
        }
    }
    app.in_flight.wait_until(|n| *n == 0).await;
    let stored = app
        .hotline
        .as_ref()
        .unwrap()
        .store()
        .search(&hotline_store::SearchQuery {
            text_contains: Some("free-".into()),
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let stored: std::collections::BTreeSet<String> =
        stored.into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(stored, made, "exactly the answered submits made tickets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_connection_is_shed_while_a_well_behaved_client_gets_every_answer() {
    let app = TestApp::spawn_with(
        [
            "--grpc-max-in-flight",
            "8",
            "--grpc-max-in-flight-per-connection",
            "4",
        ]
        .map(String::from)
        .to_vec(),
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;

    // The abusive client holds as many requests as one connection may have in flight ...
    let abusive = connection(&app).await;
    let mut held = Vec::new();
    for i in 0..4 {
        held.push(Held::start(&app, abusive.clone(), request(&format!("slow-{i}"))).await);
    }
    app.in_flight.wait_until(|n| *n == 4).await;

    // ... and floods on top of them with 16 workers until the well-behaved client is done.
    let (done, stop) = tokio::sync::watch::channel(false);
    let abuser = intake_on(&app, abusive.clone()).await;
    let flood: Vec<_> = (0..16)
        .map(|w| {
            let mut intake = abuser.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for k in 0.. {
                    answers.push(
                        intake
                            .submit_ticket(request(&format!("abuse-{w}-{k}")))
                            .await,
                    );
                    if *stop.borrow() {
                        break;
                    }
                }
                answers
            })
        })
        .collect();

    // The well-behaved client, on its own connection, one request after another.
    let mut polite = intake_on(&app, connection(&app).await).await;
    for i in 0..20 {
        let answer = polite
            .submit_ticket(request(&format!("polite-{i}")))
            .await
            .unwrap_or_else(|status| panic!("polite request {i} failed: {status:?}"));
        assert!(answer.into_inner().created);
    }
    done.send_replace(true);

    let mut shed = 0;
    for worker in flood {
        for answer in worker.await.unwrap() {
            // Its connection is full: every flood request is refused on its own account.
            assert_shed(answer.as_ref().unwrap_err(), "this connection");
            shed += 1;
        }
    }
    assert!(shed >= 16, "{shed}");
    for h in held {
        assert!(h.release().await.created);
    }
}

// ------------------------------------------------------------------ HTTP/2, frame by frame

/// One HTTP/2 frame as read off the socket.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const REFUSED_STREAM: u32 = 0x7;

/// A bare HTTP/2 client: it sends what it is told, whatever the server's settings say (the
/// generated client obeys them and would wait instead of exceeding them).
struct RawH2 {
    socket: TcpStream,
}

impl RawH2 {
    async fn connect(app: &TestApp) -> Self {
        let mut socket = TcpStream::connect(app.addr).await.unwrap();
        socket
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Self { socket };
        raw.send(SETTINGS, 0, 0, &[]).await;
        raw
    }

    async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut frame = Vec::with_capacity(9 + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        frame.extend_from_slice(&[kind, flags]);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.socket.write_all(&frame).await.unwrap();
    }

    /// The next frame (bounded, so a broken router fails the test instead of hanging it).
    async fn next(&mut self) -> Frame {
        let read = async {
            let mut head = [0u8; 9];
            self.socket.read_exact(&mut head).await?;
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            self.socket.read_exact(&mut payload).await?;
            Ok::<_, std::io::Error>(Frame {
                kind: head[3],
                flags: head[4],
                stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                payload,
            })
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the router answers within 30 s")
            .expect("a frame")
    }

    /// Opens `stream` as a health check (exempt from the in-flight limits, so only the HTTP/2
    /// limit is in play) and, if `finish`, sends its empty request message.
    async fn health_check(&mut self, stream: u32, finish: bool) {
        // HPACK: every field a literal without indexing, plain (not Huffman) strings.
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ] {
            block.push(0x00);
            block.push(name.len() as u8);
            block.extend_from_slice(name.as_bytes());
            block.push(value.len() as u8);
            block.extend_from_slice(value.as_bytes());
        }
        self.send(HEADERS, END_HEADERS, stream, &block).await;
        if finish {
            self.finish(stream).await;
        }
    }

    /// Sends an empty gRPC message (HealthCheckRequest for the whole server) and ends the stream.
    async fn finish(&mut self, stream: u32) {
        self.send(DATA, END_STREAM, stream, &[0, 0, 0, 0, 0]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_over_the_connections_limit_is_refused_and_the_others_are_served() {
    let app = TestApp::spawn_with(
        ["--grpc-max-streams-per-connection", "2"]
            .map(String::from)
            .to_vec(),
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;
    let mut h2 = RawH2::connect(&app).await;
    // The router announces its limits in its first SETTINGS frame.
    let settings = loop {
        let frame = h2.next().await;
        if frame.kind == SETTINGS && frame.flags & ACK == 0 {
            break frame.payload;
        }
    };
    let announced: std::collections::BTreeMap<u16, u32> = settings
        .chunks(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    assert_eq!(
        announced.get(&0x3),
        Some(&2),
        "MAX_CONCURRENT_STREAMS {announced:?}"
    );
    assert_eq!(
        announced.get(&0x4),
        Some(&(1024 * 1024)),
        "INITIAL_WINDOW_SIZE"
    );
    assert_eq!(
        announced.get(&0x6),
        Some(&(16 * 1024)),
        "MAX_HEADER_LIST_SIZE"
    );
    h2.send(SETTINGS, ACK, 0, &[]).await;

    // Two streams open and waiting for their messages; a third is one too many.
    h2.health_check(1, false).await;
    h2.health_check(3, false).await;
    h2.health_check(5, false).await;
    let refused = loop {
        let frame = h2.next().await;
        assert_ne!(
            frame.kind, GOAWAY,
            "the connection itself was closed: {frame:?}"
        );
        assert!(
            !(frame.kind == HEADERS && frame.stream == 5),
            "stream 5 was served over the limit"
        );
        if frame.kind == RST_STREAM {
            break frame;
        }
    };
    assert_eq!(refused.stream, 5);
    assert_eq!(
        u32::from_be_bytes(refused.payload[..4].try_into().unwrap()),
        REFUSED_STREAM
    );

    // The two within the limit are served; once they are done, a new stream is too.
    h2.finish(1).await;
    h2.finish(3).await;
    let mut ended = std::collections::BTreeSet::new();
    while ended.len() < 2 {
        let frame = h2.next().await;
        assert!(
            !(frame.kind == RST_STREAM && frame.stream != 5),
            "{frame:?}"
        );
        if frame.kind == HEADERS && frame.flags & END_STREAM != 0 {
            ended.insert(frame.stream);
        }
    }
    assert_eq!(ended, [1, 3].into());
    h2.health_check(7, true).await;
    loop {
        let frame = h2.next().await;
        assert!(
            !(frame.kind == RST_STREAM && frame.stream == 7),
            "{frame:?}"
        );
        if frame.kind == HEADERS && frame.stream == 7 && frame.flags & END_STREAM != 0 {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_16_kib_are_refused_and_the_router_still_serves() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let check = |padding: usize| {
        let channel = app.channel.clone();
        async move {
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            request
                .metadata_mut()
                .insert("x-padding", "a".repeat(padding).parse().unwrap());
            HealthClient::new(channel).check(request).await
        }
    };
    // 12 KiB of metadata passes (with the request's own headers, under 16 KiB) ...
    assert!(check(12 * 1024).await.is_ok());
    // ... 20 KiB does not, and is refused before any handler runs.
    let refused = check(20 * 1024).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(healthy(connection(&app).await).await);
}

// ------------------------------------------------------------------ deadlines

async fn a_submit_cut_off_by_its_deadline_leaves_its_ticket_whole_or_absent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hotline = app.hotline.clone().unwrap();
    let station = StationId::parse("station", COMMUNITY_CSS).unwrap();
    let mut intake = app.intake().await;
    // From a deadline that passes before the work starts to one it may meet.
    for (k, micros) in [1u64, 100, 500, 1_000, 2_000, 5_000, 10_000, 50_000]
        .into_iter()
        .enumerate()
    {
        let label = format!("deadline-{k}");
        let mut cut_off = tonic::Request::new(request(&label));
        cut_off.set_timeout(Duration::from_micros(micros));
        let first = intake.submit_ticket(cut_off).await;
        if let Err(status) = &first {
            assert!(
                matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
                "{label}: {status:?}"
            );
        }
        // Answered: the work is done, and the ticket is whole before anyone retries.
        let answered = first.as_ref().ok().map(|answer| {
            let ticket = answer
                .get_ref()
                .ticket
                .as_ref()
                .expect("answered with its ticket");
            TicketId::parse("ticket_id", &ticket.id).unwrap()
        });
        if let Some(id) = answered {
            assert_whole(&hotline, &station, id, &label).await;
        }

        // The client retries with the same request id: exactly one ticket. Cut off, the first
        // try may still be running on its own task, or not yet have reached its handler at all
        // (a stream's task may be polled after a later stream's), so nothing the client sees
        // tells it when the first try is over; the retry is what it can rely on.
        let again = intake
            .submit_ticket(request(&label))
            .await
            .expect("the retry is served")
            .into_inner();
        let id = TicketId::parse("ticket_id", &again.ticket.unwrap().id).unwrap();
        if let Some(answered) = answered {
            assert_eq!(id, answered, "{label}");
            assert!(!again.created, "{label}: answered, so the retry finds it");
        }
        // Whatever the first try still does once it runs, it finds the ticket and adds none.
        app.in_flight.wait_until(|n| *n == 0).await;
        let found = hotline
            .store()
            .search(&hotline_store::SearchQuery {
                text_contains: Some(format!("坏了 {label}")),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![id],
            "{label}"
        );
        assert_whole(&hotline, &station, id, &label).await;
    }
}

/// The ticket has its events, is dispatched and waits on the station's queue.
async fn assert_whole(
    hotline: &hotline_router::Hotline,
    station: &StationId,
    id: TicketId,
    label: &str,
) {
    let ticket = hotline.store().get(id).await.unwrap().expect("stored");
    let events = hotline.store().events(id).await.unwrap();
    assert_eq!(events.len() as u64, ticket.version, "{label}: {events:?}");
    assert!(events.len() >= 2, "{label}: submitted and dispatched");
    assert_eq!(
        ticket.stage,
        hotline_core::Stage::AwaitingSignFor,
        "{label}"
    );
    let queued = hotline
        .queues()
        .queue()
        .list(station, TestApp::start_time())
        .await
        .unwrap();
    assert!(
        queued.iter().any(|item| item.entry.ticket == id),
        "{label}: {id} is not on its station's queue"
    );
}

on_both_backends!(a_submit_cut_off_by_its_deadline_leaves_its_ticket_whole_or_absent);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_its_message_loses_its_slot_at_the_request_timeout() {
    let app = TestApp::spawn_with(
        [
            "--grpc-max-in-flight",
            "2",
            "--grpc-max-in-flight-per-connection",
            "2",
            "--grpc-request-timeout-seconds",
            "1",
        ]
        .map(String::from)
        .to_vec(),
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;
    // Two submits that send their headers and never their message fill the router ...
    let slow = connection(&app).await;
    let held = [
        Held::start(&app, slow.clone(), request("never-a")).await,
        Held::start(&app, slow.clone(), request("never-b")).await,
    ];
    app.in_flight.wait_until(|n| *n == 2).await;
    // ... until the request timeout (they set no deadline of their own): then they are
    // answered, and their slots are free again although the client still holds its side of
    // the streams open: the answer resets the stream, which ends the handler's wait.
    for h in held {
        let answer = tokio::time::timeout(Duration::from_secs(30), h.answer)
            .await
            .expect("answered at the router's request timeout")
            .unwrap();
        assert_eq!(answer.unwrap_err().code(), Code::Cancelled);
        drop(h.message);
    }
    tokio::time::timeout(
        Duration::from_secs(30),
        app.in_flight.wait_until(|n| *n == 0),
    )
    .await
    .expect("the withheld submits gave their slots back");
    let found = app
        .hotline
        .as_ref()
        .unwrap()
        .store()
        .search(&hotline_store::SearchQuery {
            text_contains: Some("never-".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
    let mut intake = intake_on(&app, connection(&app).await).await;
    assert!(
        intake
            .submit_ticket(request("after"))
            .await
            .unwrap()
            .into_inner()
            .created
    );
}
