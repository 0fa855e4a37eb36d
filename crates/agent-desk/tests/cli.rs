//! agent-desk against a real router: each test starts `hotline serve` in-process on 127.0.0.1:0
//! with the embedded SQLite store in a temp dir, then drives the library's command functions
//! (and, at the end, the real binary) over a tonic channel.

use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hotline_agent_desk::cli::{
    AliasStatusArg, AliasesArgs, CallbackArgs, ClaimArgs, DecideAliasArgs, Expect, PreviewArgs,
    ReclassifyArgs, ReplyArgs, ReviewArgs, RouteArgs, SearchArgs, ShowArgs, SubmitArgs, TicketArgs,
};
use hotline_agent_desk::vocab::{SatisfactionArg, StageArg, UrgencyArg};
use hotline_agent_desk::{Cli, Conn, DeskError, Report};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::Code;

/// 百步街社区服务站 (姑苏区 双塔街道), from the shipped directory.
const STATION: &str = "320508021017-css";
const OTHER_STATION: &str = "320508021018-css";
const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// The people these tests act as: login, role, scope (station or territory).
const ACCOUNTS: &[(&str, &str, &str)] = &[
    ("op01", "operator", ""),
    ("sup01", "supervisor", "city"),
    ("s01", "station_staff", STATION),
    ("s02", "station_staff", OTHER_STATION),
    ("lss01", "station_staff", "320508021019-lss"),
    ("ed01", "knowledge_editor", "city"),
];
const PASSWORD: &str = "desk-test-password";

struct Router {
    addr: SocketAddr,
    /// One connection, and an access token per test account (see [`ACCOUNTS`]).
    channel: Channel,
    tokens: std::collections::HashMap<&'static str, String>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), String>>>,
    /// The router's time, moved by the tests that need it to pass.
    clock: hotline_core::ManualClock,
    _data: tempfile::TempDir,
}

impl Router {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With `tls`, gRPC over TLS only (the certificate's PEM is the client's CA).
    async fn start_with(tls: Option<(String, String)>) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let dir = data.path().to_str().expect("utf-8 temp path").to_owned();
        let args = hotline_router::config::ServeArgs::parse_from(["--data-dir", dir.as_str()])
            .expect("serve args");
        // A fixed working Monday (2026-03-02 09:00 in Suzhou): deadlines computed from the real
        // date would fall into an unpublished holiday year near New Year and be left unset.
        let clock = hotline_core::ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T01:00:00Z")
                .expect("time")
                .into(),
        );
        let hotline = hotline_router::server::build(&args, Arc::new(clock.clone()))
            .await
            .expect("router builds");
        let identity = hotline.identity().expect("identity").clone();
        let keys =
            hotline_identity::KeyRing::load(&hotline_router::server::signing_keys_path(&args))
                .expect("signing keys");
        let mut tokens = std::collections::HashMap::new();
        for (login, role, scope) in ACCOUNTS {
            let role = hotline_identity::Role::parse("role", role).unwrap();
            let account = identity
                .add_account(hotline_identity::NewAccount {
                    login: hotline_identity::LoginName::parse("login", login).unwrap(),
                    display_name: hotline_identity::DisplayName::parse("name", login).unwrap(),
                    role,
                    scope: hotline_router::grpc::auth::scope_for(
                        role,
                        scope,
                        scope,
                        Vec::new(),
                        Vec::new(),
                    )
                    .unwrap(),
                    password: hotline_identity::Password::parse("p", PASSWORD).unwrap(),
                })
                .await
                .expect("test account");
            let now = hotline_core::Clock::now(&clock);
            let claims = hotline_identity::tokens::Claims::for_account(
                &account,
                now,
                chrono::Duration::hours(8),
            );
            tokens.insert(
                *login,
                hotline_identity::tokens::sign(&keys, &claims).unwrap(),
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let tls_config = tls.as_ref().map(|(cert, key)| {
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert, key))
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let served = tokio::spawn(async move {
            hotline_router::server::serve(
                listener,
                hotline,
                async {
                    let _ = stopped.await;
                },
                hotline_router::server::ServeOptions {
                    tls: tls_config,
                    grace: Duration::from_secs(1),
                    run_timers: true,
                    audit: None,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let ca = data.path().join("ca.pem");
        if let Some((cert, _)) = &tls {
            std::fs::write(&ca, cert).unwrap();
        }
        let channel = hotline_agent_desk::connect_with(
            &format!("{scheme}://{addr}"),
            tls.is_some().then_some(ca.as_path()),
        )
        .await
        .expect("connects to the router");
        Self {
            addr,
            channel,
            tokens,
            stop: Some(stop),
            served: Some(served),
            clock,
            _data: data,
        }
    }

    /// A connection acting as one of [`ACCOUNTS`].
    fn conn(&self, login: &str) -> Conn {
        hotline_agent_desk::session::connection(self.channel.clone(), Some(self.token(login)))
            .expect("a token fits a header")
    }

    fn token(&self, login: &str) -> &str {
        self.tokens
            .get(login)
            .map(String::as_str)
            .expect("a test account")
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn channel(&self) -> Channel {
        hotline_agent_desk::connect(&self.url())
            .await
            .expect("connects to the router")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("serve task")
                .expect("router served cleanly");
        }
    }
}

fn ticket_arg(id: &str) -> TicketArgs {
    TicketArgs {
        ticket: id.to_owned(),
        expect: Expect::default(),
    }
}

fn stage(report: &Report) -> &str {
    report.json["ticket"]["stage"].as_str().unwrap_or("")
}

fn version(report: &Report) -> u64 {
    report.json["ticket"]["version"].as_u64().unwrap_or(0)
}

fn status_of(result: Result<Report, DeskError>) -> DeskError {
    match result {
        Ok(report) => panic!("expected an error, got {}", report.human),
        Err(err) => err,
    }
}

fn submit_args(text: &str) -> SubmitArgs {
    SubmitArgs {
        text: text.to_owned(),
        name: Some("张三".to_owned()),
        phone: Some("13800000000".to_owned()),
        address: Some("姑苏区百步街12号".to_owned()),
        // Held for the operator; these tests dispatch by hand.
        hold: true,
        ..SubmitArgs::default()
    }
}

#[tokio::test]
async fn a_ticket_goes_from_submit_to_close() {
    let router = Router::start().await;

    // Intake: the operator records the call.
    let args = SubmitArgs {
        request_id: Some("call-0001".to_owned()),
        urgency: Some(UrgencyArg::Urgent),
        ..submit_args("百步街路灯不亮，晚上很危险")
    };
    let submitted = hotline_agent_desk::submit(router.conn("op01"), &args)
        .await
        .unwrap();
    assert_eq!(submitted.json["created"], true);
    assert_eq!(stage(&submitted), "accepted");
    assert_eq!(submitted.json["ticket"]["urgency"], "urgent");
    assert_eq!(submitted.json["ticket"]["caller"]["name"], "张三");
    assert!(
        submitted.human.starts_with("受理 created"),
        "{}",
        submitted.human
    );
    assert!(
        submitted.human.contains("已受理 (accepted)"),
        "{}",
        submitted.human
    );
    let id = submitted.json["ticket"]["id"].as_str().unwrap().to_owned();
    assert!(submitted.human.contains(&id));

    // A retry of the same request returns the same ticket.
    let retried = hotline_agent_desk::submit(router.conn("op01"), &args)
        .await
        .unwrap();
    assert_eq!(retried.json["created"], false);
    assert_eq!(retried.json["ticket"]["id"], id.as_str());
    assert!(
        retried.human.contains("existing (retry)"),
        "{}",
        retried.human
    );

    // Centre: dispatch to the community service station.
    let dispatched = hotline_agent_desk::dispatch(
        router.conn("sup01"),
        &RouteArgs {
            ticket: id.clone(),
            to: STATION.to_owned(),
            note: Some("属地社区".to_owned()),
            expect: Expect {
                version: Some(version(&submitted)),
            },
        },
    )
    .await
    .unwrap();
    assert_eq!(stage(&dispatched), "awaiting_sign_for");
    assert_eq!(dispatched.json["ticket"]["station_id"], STATION);
    assert!(dispatched.json["ticket"]["deadlines"]["sign_for"].is_string());
    assert!(dispatched.human.contains("待签收 (awaiting_sign_for)"));
    assert!(dispatched.human.contains(STATION));

    // It is on the station's queue.
    let queue = hotline_agent_desk::queue(router.conn("sup01"), STATION)
        .await
        .unwrap();
    let items = queue.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", queue.human);
    assert_eq!(items[0]["ticket_id"], id.as_str());
    assert!(queue.human.contains(&id));

    // Station: claim, sign for, reply.
    let claimed = hotline_agent_desk::claim(router.conn("s01"), &ClaimArgs::default())
        .await
        .unwrap();
    assert_eq!(claimed.json["ticket"]["id"], id.as_str());
    assert!(claimed.json["lease_until"].is_string());
    assert!(claimed.human.contains("claimed"), "{}", claimed.human);

    let signed = hotline_agent_desk::sign(router.conn("s01"), &ticket_arg(&id))
        .await
        .unwrap();
    assert_eq!(stage(&signed), "in_progress");
    assert_eq!(signed.json["ticket"]["signed_by"], "s01");
    assert!(signed.json["ticket"]["deadlines"]["resolution"].is_string());
    assert!(signed.human.contains("办理中 (in_progress)"));
    let replied = hotline_agent_desk::reply(
        router.conn("s01"),
        &ReplyArgs {
            ticket: id.clone(),
            record: "已联系路灯所更换灯泡".to_owned(),
            public: "您反映的路灯已修复，感谢来电。".to_owned(),
            expect: Expect {
                version: Some(version(&signed)),
            },
        },
    )
    .await
    .unwrap();
    assert_eq!(stage(&replied), "pending_review");
    assert_eq!(
        replied.json["ticket"]["reply"]["public_reply"],
        "您反映的路灯已修复，感谢来电。"
    );

    // Centre: review, callback, close.
    let reviewed = hotline_agent_desk::review(
        router.conn("sup01"),
        &ReviewArgs {
            ticket: id.clone(),
            approve: true,
            ..ReviewArgs::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(stage(&reviewed), "awaiting_callback");
    assert!(reviewed.json["ticket"]["deadlines"]["callback"].is_string());

    let called = hotline_agent_desk::callback(
        router.conn("sup01"),
        &CallbackArgs {
            ticket: id.clone(),
            satisfaction: SatisfactionArg::Satisfied,
            reasonable: false,
            note: Some("市民表示满意".to_owned()),
            expect: Expect::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        called.json["ticket"]["callback"]["satisfaction"],
        "satisfied"
    );

    let closed = hotline_agent_desk::close(router.conn("sup01"), &ticket_arg(&id))
        .await
        .unwrap();
    assert_eq!(stage(&closed), "closed");
    assert_eq!(closed.json["ticket"]["outcome"]["kind"], "resolved");
    assert!(closed.human.contains("已结案 (closed)"), "{}", closed.human);

    // Too late to sign for it now.
    let err = status_of(hotline_agent_desk::sign(router.conn("s01"), &ticket_arg(&id)).await);
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    assert_eq!(
        err.to_string(),
        "FAILED_PRECONDITION: cannot sign_for a ticket that is closed (已结案)"
    );
    assert_eq!(err.exit_code(), 2);

    // The whole story is in the history.
    let shown = hotline_agent_desk::show(
        router.conn("op01"),
        &ShowArgs {
            ticket: id.clone(),
            history: true,
        },
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = shown.json["ticket"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "submit",
            "dispatch",
            "claim",
            "sign_for",
            "reply",
            "review",
            "record_callback",
            "close"
        ]
    );
    assert!(shown.human.contains("历史 history"), "{}", shown.human);
    assert!(shown.human.contains("满意 (satisfied)"), "{}", shown.human);

    let found = hotline_agent_desk::search(
        router.conn("op01"),
        &SearchArgs {
            stage: Some(StageArg::Closed),
            station: Some(STATION.to_owned()),
            ..SearchArgs::default()
        },
    )
    .await
    .unwrap();
    let tickets = found.json["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["id"], id.as_str());

    router.stop().await;
}

#[tokio::test]
async fn station_staff_record_contact_and_pause_and_resume_the_clock() {
    let router = Router::start().await;
    let args = SubmitArgs {
        station: Some(STATION.to_owned()),
        hold: false,
        ..submit_args("百步街小区门口井盖缺失")
    };
    let submitted = hotline_agent_desk::submit(router.conn("op01"), &args)
        .await
        .unwrap();
    let id = submitted.json["ticket"]["id"].as_str().unwrap().to_owned();
    let signed = hotline_agent_desk::sign(router.conn("s01"), &ticket_arg(&id))
        .await
        .unwrap();
    assert!(
        signed.json["ticket"]["deadlines"]["first_contact"].is_string(),
        "{}",
        signed.json
    );
    // The station reaches the caller, then waits on them for a while.
    let reached = hotline_agent_desk::contact(
        router.conn("s01"),
        &hotline_agent_desk::cli::ContactArgs {
            ticket: id.clone(),
            note: Some("已电话联系".to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(reached.human.starts_with("已联系"), "{}", reached.human);
    let paused = hotline_agent_desk::pause(
        router.conn("s01"),
        &hotline_agent_desk::cli::PauseArgs {
            ticket: id.clone(),
            reason: "等待市民提供照片".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(paused.human.starts_with("计时暂停"), "{}", paused.human);
    let resumed = hotline_agent_desk::resume(router.conn("s01"), &ticket_arg(&id))
        .await
        .unwrap();
    assert!(resumed.human.starts_with("计时恢复"), "{}", resumed.human);
}

#[tokio::test]
async fn router_errors_keep_their_status_and_map_to_exit_codes() {
    let router = Router::start().await;
    let submitted = hotline_agent_desk::submit(
        router.conn("op01"),
        &SubmitArgs {
            station: Some(STATION.to_owned()),
            hold: false,
            ..submit_args("小区门口噪音扰民")
        },
    )
    .await
    .unwrap();
    assert_eq!(stage(&submitted), "awaiting_sign_for");
    let id = submitted.json["ticket"]["id"].as_str().unwrap().to_owned();

    // Another station's staff may not sign for it.
    let err = status_of(hotline_agent_desk::sign(router.conn("s02"), &ticket_arg(&id)).await);
    assert_eq!(err.code(), Some(Code::PermissionDenied));
    assert_eq!(err.exit_code(), 2);

    // A stale version is refused.
    let stale = TicketArgs {
        ticket: id.clone(),
        expect: Expect { version: Some(1) },
    };
    let err = status_of(hotline_agent_desk::sign(router.conn("s01"), &stale).await);
    assert_eq!(err.code(), Some(Code::Aborted));
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with("ABORTED: "), "{err}");

    // A centre action in the wrong stage names the stage.
    let err = status_of(hotline_agent_desk::close(router.conn("sup01"), &ticket_arg(&id)).await);
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().starts_with("FAILED_PRECONDITION: "),
        "{err}"
    );
    assert!(err.to_string().contains("待签收"), "{err}");

    // Not a ticket id; no such ticket.
    let err = status_of(hotline_agent_desk::sign(router.conn("s01"), &ticket_arg("nope")).await);
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert_eq!(err.exit_code(), 2);
    let err = status_of(
        hotline_agent_desk::show(
            router.conn("op01"),
            &ShowArgs {
                ticket: MISSING.to_owned(),
                history: false,
            },
        )
        .await,
    );
    assert_eq!(err.code(), Some(Code::NotFound));
    assert_eq!(err.exit_code(), 2);

    // The request id reused for a different request is not a caller's typo to retry: exit 1.
    let first = SubmitArgs {
        request_id: Some("kiosk-42".to_owned()),
        ..submit_args("第一件事")
    };
    hotline_agent_desk::submit(router.conn("op01"), &first)
        .await
        .unwrap();
    let reused = SubmitArgs {
        text: "另一件事".to_owned(),
        ..first
    };
    let err = status_of(hotline_agent_desk::submit(router.conn("op01"), &reused).await);
    assert_eq!(err.code(), Some(Code::AlreadyExists));
    assert_eq!(err.exit_code(), 1);

    // None of the refusals changed the ticket: its own station signs for it as usual.
    let signed = hotline_agent_desk::sign(router.conn("s01"), &ticket_arg(&id))
        .await
        .unwrap();
    assert_eq!(version(&signed), version(&submitted) + 1);

    router.stop().await;
}

#[tokio::test]
async fn watch_queue_reports_arrivals_until_told_to_stop() {
    let router = Router::start().await;
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let (stop, stopped) = oneshot::channel::<()>();
    let watching = tokio::spawn({
        let ch = router.conn("s01");
        async move {
            hotline_agent_desk::watch_queue(
                ch,
                STATION,
                async {
                    let _ = stopped.await;
                },
                |item| {
                    let _ = seen_tx.send(item.json.clone());
                    Ok(())
                },
            )
            .await
        }
    });
    // The router subscribes before it lists the queue, so the ticket comes through whether it
    // lands before or after the stream opens.
    let submitted = hotline_agent_desk::submit(
        router.conn("op01"),
        &SubmitArgs {
            station: Some(STATION.to_owned()),
            hold: false,
            ..submit_args("楼道堆放杂物")
        },
    )
    .await
    .unwrap();
    let id = submitted.json["ticket"]["id"].clone();
    let item = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("an arrival within 10 s")
        .expect("watch still open");
    assert_eq!(item["ticket_id"], id);
    assert_eq!(item["station_id"], STATION);
    let _ = stop.send(());
    watching.await.unwrap().unwrap();

    // An unknown station is the caller's mistake.
    let err = hotline_agent_desk::queue(router.conn("sup01"), "320508021017-nope")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");

    router.stop().await;
}

#[tokio::test]
async fn execute_parses_and_prints_json() {
    let router = Router::start().await;
    let ch = router.channel().await;
    let op_token = router.token("op01");
    let run = |argv: &[&str]| {
        let mut full = vec!["agent-desk", "--server", "unused", "--token", op_token];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).expect("parses")
    };
    let mut out = Vec::new();
    let cli = run(&["--json", "stations", "320508021017"]);
    hotline_agent_desk::execute(ch.clone(), &cli, &mut out)
        .await
        .unwrap();
    let printed: Value = serde_json::from_slice(&out).expect("JSON on stdout");
    let ids: Vec<&str> = printed["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&STATION), "{ids:?}");

    let mut out = Vec::new();
    let cli = run(&[
        "submit",
        "--text",
        "自来水发黄",
        "--channel",
        "digital-tv",
        "--nature",
        "complaint",
        "--lat",
        "31.29",
        "--lng",
        "120.62",
        "--hold",
    ]);
    hotline_agent_desk::execute(ch.clone(), &cli, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("受理 created"), "{text}");
    assert!(text.contains("已受理 (accepted)"), "{text}");

    router.stop().await;
}

// ---------------------------------------------------------------- the real binary

async fn desk(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_agent-desk"))
            .args(&args)
            .env_remove("HOTLINE_SERVER")
            .env_remove("HOTLINE_TOKEN")
            .env_remove("HOTLINE_SESSION")
            .env_remove("HOTLINE_STATION")
            .output()
            .expect("runs agent-desk")
    })
    .await
    .unwrap()
}

async fn desk_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agent-desk"))
            .args(&args)
            .env_remove("HOTLINE_SERVER")
            .env_remove("HOTLINE_TOKEN")
            .env_remove("HOTLINE_SESSION")
            .env_remove("HOTLINE_STATION")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs agent-desk");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("writes stdin");
        child.wait_with_output().expect("agent-desk finishes")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_helps_and_exits_2_with_the_status_on_stderr() {
    let help = desk(&["--help"]).await;
    assert!(help.status.success());
    let stdout = String::from_utf8_lossy(&help.stdout);
    for word in [
        "submit",
        "preview",
        "queue",
        "dispatch",
        "reclassify",
        "--server",
        "--token",
        "login",
        "--json",
    ] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }

    let router = Router::start().await;
    let shown = desk(&[
        "--server",
        &router.url(),
        "--token",
        router.token("op01"),
        "show",
        MISSING,
    ])
    .await;
    assert_eq!(shown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(stderr.starts_with("error: NOT_FOUND: "), "{stderr}");
    assert!(stderr.contains(MISSING), "{stderr}");
    assert!(shown.stdout.is_empty());
    router.stop().await;

    // Nobody listening: exit 1 and say how to start the router.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = desk(&["--server", &format!("http://{closed}"), "divisions"]).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&closed.to_string()), "{stderr}");
    assert!(stderr.contains("hotline serve"), "{stderr}");
}

// ---------------------------------------------------------------- automatic routing

/// 沧浪亭社区 (姑苏区 双塔街道): its community service station and its 劳动保障 station.
const CANGLANGTING_CSS: &str = "320508021019-css";
const CANGLANGTING_LSS: &str = "320508021019-lss";
const LEAK: &str = "我家楼上漏水，找物业报修没人来修";
const LEAK_ADDRESS: &str = "姑苏区双塔街道沧浪亭社区";

#[tokio::test]
async fn preview_submit_reclassify_and_show_the_route() {
    let router = Router::start().await;
    let ch = router.channel().await;
    let op_token = router.token("op01");
    let run = |argv: &[&str]| {
        let mut full = vec!["agent-desk", "--server", "unused", "--token", op_token];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).expect("parses")
    };

    // The operator, while typing: where would it go? Nothing is recorded.
    let previewed = hotline_agent_desk::preview(
        router.conn("op01"),
        &PreviewArgs {
            text: LEAK.to_owned(),
            address: Some(LEAK_ADDRESS.to_owned()),
            ..PreviewArgs::default()
        },
    )
    .await
    .unwrap();
    let route = &previewed.json["route"];
    assert_eq!(route["station_id"], CANGLANGTING_CSS, "{}", previewed.human);
    assert_eq!(route["triage"], false);
    assert!(!route["categories"].as_array().unwrap().is_empty());
    assert_eq!(route["territory"]["division_code"], "320508021019");
    assert!(route["territory"]["matched"].is_string(), "{route}");
    assert_eq!(previewed.json["duplicate_of"], Value::Null);
    for part in [
        "预览 preview",
        "no ticket created",
        "派往 station 320508021019-css",
        "类别 category",
        "属地 territory  320508021019",
        "无重复 no live duplicate",
    ] {
        assert!(
            previewed.human.contains(part),
            "{part}:\n{}",
            previewed.human
        );
    }
    let found = hotline_agent_desk::search(router.conn("op01"), &SearchArgs::default())
        .await
        .unwrap();
    assert_eq!(
        found.json["tickets"],
        Value::Array(vec![]),
        "{}",
        found.human
    );

    // Submitted without --hold or --station, the router routes it to the same station.
    let submitted = hotline_agent_desk::submit(
        router.conn("op01"),
        &SubmitArgs {
            address: Some(LEAK_ADDRESS.to_owned()),
            hold: false,
            ..submit_args(LEAK)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        stage(&submitted),
        "awaiting_sign_for",
        "{}",
        submitted.human
    );
    assert_eq!(submitted.json["ticket"]["station_id"], CANGLANGTING_CSS);
    assert_eq!(
        submitted.json["ticket"]["route"]["station_id"],
        CANGLANGTING_CSS
    );
    assert!(
        submitted.human.contains("路由 route"),
        "{}",
        submitted.human
    );
    let id = submitted.json["ticket"]["id"].as_str().unwrap().to_owned();

    // The same request again: the preview names the live ticket and its progress.
    let again = hotline_agent_desk::preview(
        router.conn("op01"),
        &PreviewArgs {
            text: LEAK.to_owned(),
            address: Some(LEAK_ADDRESS.to_owned()),
            ..PreviewArgs::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        again.json["duplicate_of"]["id"],
        id.as_str(),
        "{}",
        again.human
    );
    assert_eq!(again.json["duplicate_of"]["stage"], "awaiting_sign_for");
    assert!(
        again
            .human
            .contains(&format!("重复 duplicate of live ticket {id}")),
        "{}",
        again.human
    );
    assert!(again.human.contains("待签收 (awaiting_sign_for)"));

    // The real binary: `login` keeps the session in a file only its owner can read, and every
    // command after it acts as that account.
    let home = tempfile::tempdir().unwrap();
    let session = home.path().join("session.json");
    let session = session.to_str().unwrap();
    let login = desk_with_stdin(
        &[
            "--server",
            &router.url(),
            "--session-file",
            session,
            "login",
            "op01",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(login.status.success(), "{login:?}");
    assert!(String::from_utf8_lossy(&login.stdout).contains("logged in as op01"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(session).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the session file is the owner's alone");
    }
    let me = desk(&[
        "--server",
        &router.url(),
        "--session-file",
        session,
        "whoami",
    ])
    .await;
    assert!(
        String::from_utf8_lossy(&me.stdout).starts_with("op01"),
        "{me:?}"
    );
    let wrong = desk_with_stdin(
        &[
            "--server",
            &router.url(),
            "--session-file",
            session,
            "login",
            "op01",
            "--password-stdin",
        ],
        "not-the-password\n",
    )
    .await;
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("UNAUTHENTICATED"),
        "{wrong:?}"
    );

    // It reads the text from stdin with `--text -`, and prints JSON.
    let piped = desk_with_stdin(
        &[
            "--server",
            &router.url(),
            "--session-file",
            session,
            "--json",
            "preview",
            "--text",
            "-",
            "--address",
            LEAK_ADDRESS,
        ],
        LEAK,
    )
    .await;
    assert!(piped.status.success(), "{piped:?}");
    let printed: Value = serde_json::from_slice(&piped.stdout).expect("JSON on stdout");
    assert_eq!(printed["route"]["station_id"], CANGLANGTING_CSS);
    assert_eq!(printed["duplicate_of"]["id"], id.as_str());

    // The centre re-categorises it as 劳动保障: it moves to the community's labour station.
    let reclassified = hotline_agent_desk::reclassify(
        router.conn("sup01"),
        &ReclassifyArgs {
            ticket: id.clone(),
            category: Some("LS.GZFL".to_owned()),
            expect: Expect {
                version: Some(version(&submitted)),
            },
            ..ReclassifyArgs::default()
        },
    )
    .await
    .unwrap();
    let ticket = &reclassified.json["ticket"];
    assert_eq!(
        ticket["station_id"], CANGLANGTING_LSS,
        "{}",
        reclassified.human
    );
    assert_eq!(ticket["stage"], "awaiting_sign_for");
    assert_eq!(ticket["category"], "LS.GZFL");
    assert_eq!(ticket["route"]["station_id"], CANGLANGTING_LSS);
    assert!(version(&reclassified) > version(&submitted));
    assert!(
        reclassified.human.starts_with("重新分类 reclassified"),
        "{}",
        reclassified.human
    );
    assert!(
        reclassified.human.contains("派往 station 320508021019-lss"),
        "{}",
        reclassified.human
    );

    // A station may not re-categorise.
    let err = status_of(
        hotline_agent_desk::reclassify(
            router.conn("lss01"),
            &ReclassifyArgs {
                ticket: id.clone(),
                category: Some("LS.GZFL".to_owned()),
                ..ReclassifyArgs::default()
            },
        )
        .await,
    );
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");

    // show prints the route; --json carries it.
    let mut out = Vec::new();
    hotline_agent_desk::execute(ch.clone(), &run(&["--json", "show", &id]), &mut out)
        .await
        .unwrap();
    let printed: Value = serde_json::from_slice(&out).expect("JSON on stdout");
    let route = &printed["ticket"]["route"];
    assert_eq!(route["station_id"], CANGLANGTING_LSS, "{printed}");
    assert_eq!(route["triage"], false);
    assert_eq!(route["categories"][0]["code"], "LS.GZFL", "{route}");
    assert_eq!(route["territory"]["division_code"], "320508021019");
    assert!(route["rule"].is_string(), "{route}");
    assert!(route["fallbacks"].is_array(), "{route}");

    let mut out = Vec::new();
    hotline_agent_desk::execute(ch.clone(), &run(&["show", &id]), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("路由 route"), "{text}");
    assert!(text.contains("LS.GZFL"), "{text}");

    // logout ends the session on the router and forgets it here.
    let session = home.path().join("session.json");
    let session = session.to_str().unwrap();
    let out = desk(&[
        "--server",
        &router.url(),
        "--session-file",
        session,
        "logout",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    assert!(!std::path::Path::new(session).exists());
    let after = desk(&[
        "--server",
        &router.url(),
        "--session-file",
        session,
        "whoami",
    ])
    .await;
    assert_eq!(after.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("not logged in"),
        "{after:?}"
    );

    router.stop().await;
}

/// `--server https://…` with `--ca-cert`: the desk speaks TLS to a router serving it, with a
/// certificate the test makes; without the CA the server is not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_talks_to_a_router_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (pem, key) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let router = Router::start_with(Some((pem.clone(), key))).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let url = format!("https://{}", router.addr);
    let token = router.token("op01");
    let me = desk(&[
        "--server",
        &url,
        "--ca-cert",
        ca.to_str().unwrap(),
        "--token",
        token,
        "whoami",
    ])
    .await;
    assert!(me.status.success(), "{me:?}");
    assert!(
        String::from_utf8_lossy(&me.stdout).starts_with("op01"),
        "{me:?}"
    );
    let untrusted = desk(&["--server", &url, "--token", token, "whoami"]).await;
    assert!(!untrusted.status.success(), "{untrusted:?}");
    router.stop().await;
}

// ---------------------------------------------------------------- the web desk, in-process

/// Forms without the session's CSRF token are refused before anything reaches the router; every
/// page carries the strict CSP; an unknown session goes to login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_desk_refuses_forms_without_the_csrf_token() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;
    let router = Router::start().await;
    let desk = hotline_agent_desk::web::routes(router.channel.clone());
    let send = |request: Request<Body>| {
        let desk = desk.clone();
        async move { desk.oneshot(request).await.unwrap() }
    };
    let form = |uri: &str, cookie: &str, body: String| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap()
    };
    // Not logged in: to the login page.
    let anonymous = send(Request::get("/desk/intake").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(anonymous.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/desk/login"));
    // Wrong password: the page says so, nothing is kept.
    let wrong = send(form(
        "/desk/login",
        "",
        format!("login=op01&password=not-{PASSWORD}"),
    ))
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // Logged in: a session cookie, HttpOnly and SameSite=Strict.
    let login = send(form(
        "/desk/login",
        "",
        format!("login=op01&password={PASSWORD}"),
    ))
    .await;
    let set_cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let page = send(
        Request::get("/desk/intake")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(csp, hotline_agent_desk::web::CSP);
    assert!(!csp.contains("unsafe-inline"));
    let html = String::from_utf8(
        axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // Without the token, or with another, the call is refused and nothing is recorded.
    for body in [
        "text=路灯坏了".to_owned(),
        "csrf=forged&text=路灯坏了".to_owned(),
    ] {
        let refused = send(form("/desk/intake", &cookie, body)).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let found = hotline_agent_desk::search(router.conn("op01"), &SearchArgs::default())
        .await
        .unwrap();
    assert_eq!(found.json["tickets"].as_array().unwrap().len(), 0);
    // With it, the call is recorded.
    let accepted = send(form(
        "/desk/intake",
        &cookie,
        format!("csrf={csrf}&text=%E8%B7%AF%E7%81%AF%E5%9D%8F%E4%BA%86"),
    ))
    .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let found = hotline_agent_desk::search(router.conn("op01"), &SearchArgs::default())
        .await
        .unwrap();
    assert_eq!(found.json["tickets"].as_array().unwrap().len(), 1);
    router.stop().await;
}

/// Form-encodes `fields` the way a browser does (every byte but letters and digits escaped).
fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |raw: &str| {
        raw.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One person signed in to the in-process web desk.
struct WebUser {
    desk: axum::Router,
    cookie: String,
    csrf: String,
}

impl WebUser {
    async fn sign_in(desk: &axum::Router, login: &str) -> Self {
        let mut user = Self {
            desk: desk.clone(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let (_, headers, _) = user
            .post("/desk/login", &[("login", login), ("password", PASSWORD)])
            .await;
        user.cookie = headers[axum::http::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let (_, _, page) = user.get("/desk/knowledge").await;
        user.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token on the page")
            .to_owned();
        user
    }

    async fn send(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
        use tower::ServiceExt;
        let response = self.desk.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 22).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    async fn get(&self, uri: &str) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
        self.send(
            axum::http::Request::get(uri)
                .header(axum::http::header::COOKIE, &self.cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(
        &self,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
        self.send(
            axum::http::Request::post(uri)
                .header(
                    axum::http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(axum::http::header::COOKIE, &self.cookie)
                .body(axum::body::Body::from(form_body(fields)))
                .unwrap(),
        )
        .await
    }

    /// A form post with this session's CSRF token.
    async fn submit(&self, uri: &str, fields: &[(&str, &str)]) -> (axum::http::StatusCode, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let (status, _, body) = self.post(uri, &all).await;
        (status, body)
    }

    /// Asks for the route preview until `done` holds of it. The router's knowledge index
    /// catches up with publications on its own schedule, so there is nothing to wait on but
    /// the preview itself; asked with a growing pause, like a person retyping.
    async fn preview_until(&self, fields: &[(&str, &str)], done: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut pause = Duration::from_millis(50);
        loop {
            let (_, body) = self.submit("/desk/intake/preview", fields).await;
            if done(&body) || std::time::Instant::now() > deadline {
                return body;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// The knowledge base through the web desk, against a real router: an editor writes an article
/// with script in it (shown as text), submits it; a supervisor's stale approval is refused,
/// then approves; the operator sees it suggested, answers a call from it in one request, marks
/// it as not fitting; withdrawn, answering from it is refused with the router's reason, the
/// call's draft is kept, and it is suggested no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_desk_writes_reviews_and_answers_from_the_knowledge_base() {
    use axum::http::{header, StatusCode};
    let router = Router::start().await;
    let desk = hotline_agent_desk::web::routes(router.channel.clone());
    let editor = WebUser::sign_in(&desk, "ed01").await;
    let boss = WebUser::sign_in(&desk, "sup01").await;
    let operator = WebUser::sign_in(&desk, "op01").await;

    // The new-article form offers the taxonomy's categories.
    let (_, _, form) = editor.get("/desk/knowledge/new").await;
    let category = form
        .split("id=\"category-codes\"")
        .nth(1)
        .and_then(|list| list.split("<option value=\"").nth(1))
        .and_then(|option| option.split('"').next())
        .expect("a category to pick")
        .to_owned();
    let answer = "住宅物业费按合同约定收取。<script>alert(1)</script>";
    let article = [
        ("title", "物业费收费标准"),
        ("alt_questions", "物业费怎么收\r\n物业费标准是多少"),
        ("answer", answer),
        ("categories", category.as_str()),
        ("territories", "3205"),
        ("source_number", "苏价规〔2024〕1号"),
        ("owner_station_id", "320508021-office"),
    ];
    // Without the session's token nothing is created.
    let (refused, _, _) = editor.post("/desk/knowledge/new", &article).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    let mut with_csrf = vec![("csrf", editor.csrf.as_str())];
    with_csrf.extend_from_slice(&article);
    let (created, headers, _) = editor.post("/desk/knowledge/new", &with_csrf).await;
    assert_eq!(created, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    let id = location
        .strip_prefix("/desk/knowledge/")
        .and_then(|rest| rest.split('?').next())
        .expect("the new article's page")
        .to_owned();
    let page_url = format!("/desk/knowledge/{id}");
    let (_, _, page) = editor.get(&location).await;
    assert!(
        page.contains("已创建草稿") && page.contains("草稿 draft"),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert"),
        "article text is escaped"
    );
    // An unknown territory: the router's reason, and the editor's text kept in the form.
    let mut bad = with_csrf.clone();
    bad.retain(|(k, _)| *k != "territories");
    bad.push(("territories", "9999"));
    let (_, _, refused) = editor.post("/desk/knowledge/new", &bad).await;
    assert!(
        refused.contains("INVALID_ARGUMENT") && refused.contains("物业费收费标准"),
        "{refused}"
    );

    let (_, submitted) = editor
        .submit(&format!("{page_url}/submit"), &[("version", "1")])
        .await;
    assert!(submitted.contains("已提交审核") && submitted.contains("待审核 in review"));
    // In the reviewer's queue, which is what a supervisor's knowledge page opens on.
    let (_, _, queue) = boss.get("/desk/knowledge").await;
    assert!(queue.contains(&format!("data-article=\"{id}\"")), "{queue}");
    // A stale version is refused with the router's words, and nothing changes.
    let (_, stale) = boss
        .submit(&format!("{page_url}/approve"), &[("version", "7")])
        .await;
    assert!(
        stale.contains("ABORTED") && stale.contains("待审核 in review"),
        "{stale}"
    );
    let (_, approved) = boss
        .submit(&format!("{page_url}/approve"), &[("version", "1")])
        .await;
    assert!(approved.contains("已发布"), "{approved}");

    // The operator's preview suggests it.
    let call = [
        ("text", "请问小区物业费收费标准是怎么规定的"),
        ("address", "姑苏区双塔街道沧浪亭社区"),
    ];
    let marker = format!("data-article=\"{id}\"");
    let preview = operator
        .preview_until(&call, |body| body.contains(&marker))
        .await;
    assert!(preview.contains(&marker), "{preview}");
    assert!(
        preview.contains("&lt;script&gt;") && !preview.contains("<script>alert"),
        "{preview}"
    );
    assert!(preview.contains(&format!("value=\"{id}:1\"")));

    // 直办 from it: one request; the accepted page names the article version.
    let mut direct = call.to_vec();
    let value = format!("{id}:1");
    direct.push(("article", value.as_str()));
    let (status, accepted) = operator
        .submit("/desk/intake/answer-article", &direct)
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert!(
        accepted.contains("id=\"answered-from\"")
            && accepted.contains(&id)
            && accepted.contains("(v1)"),
        "{accepted}"
    );
    assert!(
        accepted.contains("data-clear-draft"),
        "the call is done with"
    );
    let ticket = accepted
        .split("id=\"ticket-number\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    let (_, _, shown) = boss.get(&format!("/desk/tickets/{ticket}")).await;
    assert!(shown.contains("ticket-answered-from") && shown.contains(&format!("{id}</a> v1")));
    // No station reply on it: the supervisor's draft is refused on the ticket page.
    let (_, no_reply) = boss
        .submit(&format!("/desk/tickets/{ticket}/draft-article"), &[])
        .await;
    assert!(no_reply.contains("FAILED_PRECONDITION"), "{no_reply}");

    let (_, misfit) = operator
        .submit("/desk/knowledge/misfit", &[("article", value.as_str())])
        .await;
    assert!(misfit.contains("已反馈"), "{misfit}");

    let (_, withdrawn) = boss
        .submit(
            &format!("{page_url}/withdraw"),
            &[("version", "1"), ("reason", "收费政策已调整")],
        )
        .await;
    assert!(withdrawn.contains("已撤回 withdrawn"), "{withdrawn}");
    let (_, refused) = operator
        .submit("/desk/intake/answer-article", &direct)
        .await;
    assert!(
        refused.contains("FAILED_PRECONDITION") && !refused.contains("data-clear-draft"),
        "refused, and the draft kept: {refused}"
    );
    let gone = operator
        .preview_until(&call, |body| !body.contains(&marker))
        .await;
    assert!(!gone.contains(&marker), "{gone}");

    // The board shows the knowledge figures.
    let (_, _, board) = boss.get("/desk/board").await;
    assert!(board.contains("id=\"knowledge-hits\"") && board.contains("id=\"articles-due\""));
    router.stop().await;
}

/// 地址别名 from the command line: three territory corrections (`reclassify --division`)
/// propose an alias; a supervisor lists it (`aliases`) and confirms it (`decide-alias`);
/// deciding again is refused with the router's reason.
#[tokio::test]
async fn learned_aliases_are_listed_and_decided_from_the_command_line() {
    const JINSHI: &str = "320508020024";
    let router = Router::start().await;
    for (n, text) in ["楼道灯坏了好几天", "楼下饭店油烟很大", "电梯经常停运"]
        .into_iter()
        .enumerate()
    {
        let submitted = hotline_agent_desk::submit(
            router.conn("op01"),
            &SubmitArgs {
                address: Some(format!("姑苏区锦绣大厦{}号楼", n + 1)),
                hold: false,
                ..submit_args(text)
            },
        )
        .await
        .unwrap();
        let id = submitted.json["ticket"]["id"].as_str().unwrap().to_owned();
        hotline_agent_desk::reclassify(
            router.conn("op01"),
            &ReclassifyArgs {
                ticket: id,
                division: Some(JINSHI.to_owned()),
                ..ReclassifyArgs::default()
            },
        )
        .await
        .unwrap();
    }
    let listed = hotline_agent_desk::aliases(
        router.conn("sup01"),
        &AliasesArgs {
            status: AliasStatusArg::Proposed,
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.json["min_agreeing"], 3);
    assert_eq!(
        listed.json["proposals"][0]["alias"], "锦绣大厦",
        "{}",
        listed.human
    );
    assert_eq!(listed.json["proposals"][0]["agreeing"], 3);
    assert!(
        listed
            .human
            .contains("锦绣大厦  -> 姑苏区沧浪街道金狮社区 (320508020024)  一致更正 agreeing 3"),
        "{}",
        listed.human
    );
    let decide = |confirm: bool| DecideAliasArgs {
        alias: "锦绣大厦".to_owned(),
        division_code: JINSHI.to_owned(),
        confirm,
        reject: !confirm,
    };
    let confirmed = hotline_agent_desk::decide_alias(router.conn("sup01"), &decide(true))
        .await
        .unwrap();
    assert_eq!(confirmed.json["status"], "confirmed");
    assert!(
        confirmed.human.starts_with("confirmed"),
        "{}",
        confirmed.human
    );
    let again =
        status_of(hotline_agent_desk::decide_alias(router.conn("sup01"), &decide(false)).await);
    assert_eq!(again.code(), Some(Code::FailedPrecondition), "{again}");
    // An operator may not decide.
    let refused = status_of(
        hotline_agent_desk::aliases(
            router.conn("op01"),
            &AliasesArgs {
                status: AliasStatusArg::Confirmed,
            },
        )
        .await,
    );
    assert_eq!(refused.code(), Some(Code::PermissionDenied));
    // Deciding needs exactly one of --confirm and --reject.
    assert!(Cli::try_parse_from([
        "agent-desk",
        "decide-alias",
        "锦绣大厦",
        "--division",
        JINSHI
    ])
    .is_err());
    assert!(Cli::try_parse_from([
        "agent-desk",
        "decide-alias",
        "锦绣大厦",
        "--division",
        JINSHI,
        "--confirm",
        "--reject"
    ])
    .is_err());
    router.stop().await;
}

/// The hotspot banner through the web desk, against a real router: nothing while all is quiet;
/// ten calls about one thing in one community within a minute, and once that minute has closed
/// the operator's and the supervisor's pages show a banner naming the place, the category, the
/// count against the usual and since when. Station staff's pages do not ask for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_desk_shows_a_surge_banner_to_operators_and_supervisors() {
    use hotline_proto::v1 as pb;
    let router = Router::start().await;
    let desk = hotline_agent_desk::web::routes(router.channel.clone());
    let operator = WebUser::sign_in(&desk, "op01").await;
    let boss = WebUser::sign_in(&desk, "sup01").await;
    let staff = WebUser::sign_in(&desk, "s01").await;

    let (_, _, intake) = operator.get("/desk/intake").await;
    assert!(intake.contains(r#"hx-get="/desk/alerts""#), "{intake}");
    let (_, _, queue) = staff.get("/desk/queue").await;
    assert!(!queue.contains("hotspot-alerts"), "{queue}");
    let (_, _, quiet) = operator.get("/desk/alerts").await;
    assert!(!quiet.contains("突发聚集"), "{quiet}");

    let mut intake_api = pb::intake_client::IntakeClient::new(router.conn("op01"));
    for _ in 0..10 {
        intake_api
            .submit_ticket(pb::SubmitTicketRequest {
                channel: pb::Channel::Hotline as i32,
                text: "小区停水了，一直没有来水".into(),
                division_code: "320508021019".into(),
                category: "SQ.WYBX".into(),
                hold: true,
                ..Default::default()
            })
            .await
            .expect("submit");
    }
    // The minute closes and its grace (10 s) passes; the router's loop then evaluates it on
    // its own schedule, so ask until the banner is there (or 20 s have gone).
    router.clock.advance(chrono::Duration::seconds(75));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let banner = loop {
        let (_, _, body) = boss.get("/desk/alerts").await;
        if body.contains("突发聚集") || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(banner.contains("突发聚集"), "{banner}");
    // Three levels: the community, its street and its district.
    assert_eq!(banner.matches(r#"role="alert""#).count(), 3, "{banner}");
    assert!(banner.contains("(社区 320508021019)"), "{banner}");
    assert!(
        banner.contains("<strong class=\"count\">10</strong>"),
        "{banner}"
    );
    assert!(banner.contains("2026-03-02 09:00"), "{banner}");
    let (_, _, seen_by_operator) = operator.get("/desk/alerts").await;
    assert_eq!(seen_by_operator, banner);
    router.stop().await;
}

/// 并案 from the command line: two routed calls about one leak make an incident; a supervisor
/// lists and reads it, an operator links a held call, the supervisor posts a notice and the one
/// reply (each merged caller then waits for their callback); closing is refused while the lead
/// is still its station's, and a split of a ticket outside the incident is refused.
#[tokio::test]
async fn incidents_are_listed_linked_answered_and_guarded_from_the_command_line() {
    use hotline_agent_desk::cli::{
        IncidentArgs, IncidentTextArgs, IncidentsArgs, LinkArgs, SplitArgs,
    };
    let router = Router::start().await;
    let routed = |text: &str| SubmitArgs {
        address: Some("姑苏区双塔街道沧浪亭社区".to_owned()),
        hold: false,
        ..submit_args(text)
    };
    let first = hotline_agent_desk::submit(
        router.conn("op01"),
        &routed("我家楼上漏水，找物业报修没人来修"),
    )
    .await
    .unwrap();
    assert_eq!(stage(&first), "awaiting_sign_for", "{}", first.human);
    let lead = first.json["ticket"]["id"].as_str().unwrap().to_owned();
    let again = hotline_agent_desk::submit(
        router.conn("op01"),
        &routed("楼上漏水，找物业报修一直没人来修"),
    )
    .await
    .unwrap();
    assert_eq!(stage(&again), "merged", "{}", again.human);
    assert_eq!(again.json["ticket"]["incident_id"], lead.as_str());
    assert!(
        again.human.contains(&format!("并案 incident {lead}")),
        "{}",
        again.human
    );

    let listed = hotline_agent_desk::incidents(router.conn("sup01"), &IncidentsArgs::default())
        .await
        .unwrap();
    assert_eq!(listed.json["incidents"][0]["id"], lead.as_str());
    assert_eq!(listed.json["incidents"][0]["ticket_count"], 2);
    assert!(listed.human.starts_with(&lead), "{}", listed.human);

    // A held call about it, linked by the operator.
    let held = hotline_agent_desk::submit(router.conn("op01"), &submit_args("楼上又漏水了"))
        .await
        .unwrap();
    let held_id = held.json["ticket"]["id"].as_str().unwrap().to_owned();
    let linked = hotline_agent_desk::link(
        router.conn("op01"),
        &LinkArgs {
            ticket: held_id.clone(),
            to: lead.clone(),
            expect: Expect::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(stage(&linked), "merged");
    assert_eq!(linked.json["incident"]["ticket_count"], 3);

    let text = |t: &str| IncidentTextArgs {
        incident: lead.clone(),
        text: t.to_owned(),
    };
    let noticed = hotline_agent_desk::notice(router.conn("sup01"), &text("物业已安排维修"))
        .await
        .unwrap();
    assert_eq!(noticed.json["incident"]["notice"]["text"], "物业已安排维修");
    let replied =
        hotline_agent_desk::incident_reply(router.conn("sup01"), &text("漏水已修复，请留意。"))
            .await
            .unwrap();
    assert_eq!(
        replied.json["incident"]["public_reply"],
        "漏水已修复，请留意。"
    );
    let tickets = replied.json["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 3);
    assert_eq!(tickets[0]["id"], lead.as_str(), "the lead first");
    for t in &tickets[1..] {
        assert_eq!(t["stage"], "awaiting_callback", "{t}");
    }

    let read = hotline_agent_desk::incident(
        router.conn("sup01"),
        &IncidentArgs {
            incident: lead.clone(),
        },
    )
    .await
    .unwrap();
    assert!(read.human.contains("统一答复 reply"), "{}", read.human);
    assert!(read.human.contains("物业已安排维修"), "{}", read.human);

    // The lead is still its station's: closing is refused, naming it.
    let early = status_of(
        hotline_agent_desk::close_incident(
            router.conn("sup01"),
            &IncidentArgs {
                incident: lead.clone(),
            },
        )
        .await,
    );
    assert_eq!(early.code(), Some(Code::FailedPrecondition), "{early}");
    assert!(early.to_string().contains(&lead), "{early}");
    // A ticket outside the incident cannot be split out of it.
    let stranger = hotline_agent_desk::submit(router.conn("op01"), &submit_args("路灯不亮"))
        .await
        .unwrap();
    let outside = status_of(
        hotline_agent_desk::split(
            router.conn("sup01"),
            &SplitArgs {
                incident: lead.clone(),
                ticket: stranger.json["ticket"]["id"].as_str().unwrap().to_owned(),
                note: "另一件事".to_owned(),
                expect: Expect::default(),
            },
        )
        .await,
    );
    assert_eq!(outside.code(), Some(Code::FailedPrecondition), "{outside}");
    // A split names why.
    assert!(Cli::try_parse_from(["agent-desk", "split", lead.as_str(), held_id.as_str()]).is_err());
    router.stop().await;
}
