//! The offline subcommands, run as a centre would run them: the real `hotline` binary.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn hotline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
}

fn run_with_stdin(args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = hotline()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hotline runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn shared_data(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(
        path.exists(),
        "{} is missing: the tests read ../shared/data beside the checkout",
        path.display()
    );
    path
}

#[test]
fn resolve_answers_every_line_with_the_division_and_the_matched_span() {
    let (ok, stdout, stderr) = run_with_stdin(
        &["resolve"],
        "您好，我是吴中区长桥街道龙西社区的居民\n北京市朝阳区\n\n😀\n",
    );
    assert!(ok, "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 4, "every input line gets an answer");
    assert_eq!(lines[0]["level"], "community");
    assert_eq!(lines[0]["outcome"], "resolved");
    assert!(lines[0]["span"]["text"]
        .as_str()
        .unwrap()
        .contains("龙西社区"));
    assert_eq!(lines[1]["outcome"], "unresolved");
    assert_eq!(lines[2]["why"], "empty");
    assert_eq!(lines[3]["outcome"], "unresolved");
}

#[test]
fn resolve_places_a_point_in_its_district_with_the_polygons() {
    let polygons = shared_data("geo/suzhou_districts_datav.geojson");
    let (ok, stdout, stderr) = run_with_stdin(
        &["resolve", "--polygons", polygons.to_str().unwrap()],
        "31.30,120.60\n39.90,116.40\n",
    );
    assert!(ok, "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(lines[0]["division"], "320508");
    assert_eq!(lines[1]["outcome"], "unresolved");
}

#[test]
fn classify_gives_category_nature_urgency_and_emergencies_per_line() {
    let (ok, stdout, stderr) = run_with_stdin(
        &["classify"],
        "小区路灯坏了好几天了\n楼下着火了，有人受伤\n\n",
    );
    assert!(ok, "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["category"].is_string(), "{}", lines[0]);
    assert!(lines[0]["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d == "路灯"));
    let services: Vec<&str> = lines[1]["emergencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert!(
        services.contains(&"fire_119") && services.contains(&"ambulance_120"),
        "{services:?}"
    );
    assert_eq!(lines[1]["urgency"], "critical");
    assert_eq!(lines[2]["category"], serde_json::Value::Null);
}

#[test]
fn train_then_eval_ends_with_the_macro_f1_line() {
    // A small slice of the real labelled messages keeps this quick; accuracy on the full split
    // is measured in crates/classify.
    let source = std::fs::read_to_string(shared_data("civic/train.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(source.as_bytes());
    let dir = std::env::temp_dir().join(format!("hotline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (train_path, test_path) = (dir.join("train.csv"), dir.join("test.csv"));
    let mut train = csv::Writer::from_path(&train_path).unwrap();
    let mut test = csv::Writer::from_path(&test_path).unwrap();
    train.write_record(["text", "label"]).unwrap();
    test.write_record(["text", "label"]).unwrap();
    for (n, row) in reader.records().enumerate().take(1_200) {
        let row = row.unwrap();
        let target = if n % 5 == 0 { &mut test } else { &mut train };
        target.write_record([&row[0], &row[1]]).unwrap();
    }
    train.flush().unwrap();
    test.flush().unwrap();
    let model = dir.join("model.bin");

    let trained = hotline()
        .args([
            "train",
            "--data",
            train_path.to_str().unwrap(),
            "--out",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let evaluated = hotline()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            test_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        evaluated.status.success(),
        "{}",
        String::from_utf8_lossy(&evaluated.stderr)
    );
    let stdout = String::from_utf8(evaluated.stdout).unwrap();
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
            .trim()
            .to_owned()
    };
    let f1: f64 = line("macro-F1: ").parse().unwrap();
    assert!(
        f1 > 0.5,
        "a model trained on 960 messages should beat chance clearly: {f1}"
    );
    // Calibrated on 5 folds by default: the evaluation reports ECE and, last, the dispatch
    // threshold's coverage and precision on these messages.
    let ece: f64 = line("ECE: ").parse().unwrap();
    assert!((0.0..0.5).contains(&ece), "{ece}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let fields: std::collections::HashMap<&str, f64> = last
        .strip_prefix("selective: ")
        .expect(last)
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    assert!(
        fields["threshold"] > 0.0 && fields["threshold"] <= 1.01,
        "{last}"
    );
    assert!(
        (0.0..=1.0).contains(&fields["coverage"]) && (0.0..=1.0).contains(&fields["precision"]),
        "{last}"
    );
    assert!(stdout.contains("precision by coverage"), "{stdout}");
    // The trainer said what it chose, out of fold.
    let trained_text = String::from_utf8_lossy(&trained.stdout);
    assert!(
        trained_text.contains("dispatch: threshold")
            || trained_text.contains("every ticket goes to triage"),
        "{trained_text}"
    );
    assert!(trained_text.contains("ECE"), "{trained_text}");

    // A bad accepted misroute rate is refused before any training.
    let bad = hotline()
        .args(["train", "--data", train_path.to_str().unwrap()])
        .args(["--out", model.to_str().unwrap(), "--max-misroute", "2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--max-misroute"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // A model file that is not one is refused with the path named.
    std::fs::write(&model, b"not a model").unwrap();
    let broken = hotline()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            test_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("model.bin"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn train_also_learns_from_a_title_column_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("hotline-cli-also-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("train.csv");
    let mut rows = String::from("text,label,title\n");
    for n in 0..6 {
        rows.push_str(&format!("小区路灯坏了第{n}天没人修,城乡建设,路灯不亮{n}\n"));
        rows.push_str(&format!("公司拖欠工资{n}个月,劳动和社会保障,\n"));
    }
    std::fs::write(&data, rows).unwrap();
    let model = dir.join("model.bin");
    let train = |extra: &[&str]| {
        hotline()
            .args(["train", "--data", data.to_str().unwrap()])
            .args(["--out", model.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };

    let plain = train(&[]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(
        String::from_utf8_lossy(&plain.stdout).starts_with("trained on 12 examples"),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
    // Six of the twelve rows carry a title: six more examples.
    let titled = train(&["--also-text", "title"]);
    assert!(
        titled.status.success(),
        "{}",
        String::from_utf8_lossy(&titled.stderr)
    );
    assert!(
        String::from_utf8_lossy(&titled.stdout).starts_with("trained on 18 examples"),
        "{}",
        String::from_utf8_lossy(&titled.stdout)
    );

    let missing = train(&["--also-text", "subject"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("train.csv") && stderr.contains("`subject`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_sla_policy_stops_serve_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("hotline-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("sla.toml");
    std::fs::write(&policy, "this is = not [valid").unwrap();
    let out = hotline()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
            "--sla-policy",
            policy.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sla.toml"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A refused flag stops `serve` before it opens its database or binds a port: nothing is left
/// half-started, and the message names the flag.
#[test]
fn a_bad_kpi_db_share_stops_serve_before_it_builds_anything() {
    let dir = tempfile::tempdir().unwrap();
    for share in ["0", "1.5", "NaN"] {
        let out = hotline()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--kpi-db-share",
                share,
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--kpi-db-share {share} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--kpi-db-share"), "{stderr}");
        assert!(stderr.contains("at most 1"), "{stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "serve wrote to its data dir before refusing the flag"
    );
}

/// `hotline serve` on the embedded default answers Prometheus scrapes on its HTTP listener
/// (the README's run command: gRPC on one port, HTTP on another).
#[test]
fn serve_answers_metrics_on_its_http_listener() {
    use std::io::{Read, Write as _};
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (grpc, http) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("hotline-cli-http-{}", std::process::id()));
    let mut server = hotline()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{grpc}"),
            "--http-listen",
            &format!("127.0.0.1:{http}"),
            "--data-dir",
            &dir.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hotline serve runs");
    // The health probe sets its gauges once a second: wait for the first scrape that has them.
    let started = std::time::Instant::now();
    let body = loop {
        let scrape = std::net::TcpStream::connect(("127.0.0.1", http)).and_then(|mut stream| {
            stream.write_all(
                b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        });
        if let Ok(response) = scrape {
            if response.contains("hotline_working_set_repairs_pending") {
                break response;
            }
        }
        // A bound for a server that never answers, not a speed check: a debug build starting
        // beside this file's other servers once took 32 s in CI (2026-12-07).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no metrics on the HTTP listener"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("text/plain; version=0.0.4"), "{body}");
}

/// `hotline migrate` says where a database stands, applies what is pending, and a database
/// migrated by a newer release is refused by `migrate` and by `serve`, naming both versions.
#[tokio::test]
async fn migrate_applies_pending_migrations_and_refuses_a_newer_schema() {
    let url = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let run = |args: &[&str]| {
        let out = hotline()
            .args(args)
            .env_remove("HOTLINE_DATABASE_URL")
            .output()
            .expect("hotline runs");
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, stdout, stderr) = run(&["migrate", "--database-url", &url, "--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("schema version 0 "), "{stdout}");
    assert!(stdout.contains("0001 tickets: pending"), "{stdout}");

    let (ok, stdout, stderr) = run(&["migrate", "--database-url", &url]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("0005 change log: applied"), "{stdout}");
    let (ok, stdout, _) = run(&["migrate", "--database-url", &url, "--dry-run"]);
    assert!(ok);
    assert!(!stdout.contains("pending"), "nothing left: {stdout}");

    // A newer release migrated this database further.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', true, '\\x00'::bytea, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (ok, _, stderr) = run(&["migrate", "--database-url", &url, "--dry-run"]);
    assert!(!ok);
    assert!(
        stderr.contains("schema is at version 9999, newer than this binary knows"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&[
        "serve",
        "--database-url",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "off",
    ]);
    assert!(!ok, "an older binary must not serve a newer schema");
    assert!(stderr.contains("newer than this binary knows"), "{stderr}");
}

/// A running `hotline serve` and the file its log goes to.
struct Served {
    child: std::process::Child,
    grpc: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_logged(dir: &std::path::Path, extra: &[&str]) -> Served {
    let grpc = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("serve.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut args = vec![
        "serve".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{grpc}"),
        "--http-listen".to_owned(),
        "off".to_owned(),
        "--data-dir".to_owned(),
        dir.join("data").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let child = hotline()
        .args(&args)
        // Everything the router can say, so the check below covers the most verbose log.
        .env("RUST_LOG", "debug")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("hotline serve runs");
    Served { child, grpc }
}

async fn connect_when_up(port: u16) -> tonic::transport::Channel {
    let started = std::time::Instant::now();
    loop {
        let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await;
        if let Ok(channel) = channel {
            return channel;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "hotline serve did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

async fn log_in(channel: &tonic::transport::Channel, login: &str, password: &str) -> Authed {
    use hotline_proto::v1 as pb;
    let tokens = pb::auth_client::AuthClient::new(channel.clone())
        .login(pb::LoginRequest {
            login: login.into(),
            password: password.into(),
        })
        .await
        .expect("login")
        .into_inner();
    let header = format!("Bearer {}", tokens.access_token).parse().unwrap();
    tonic::service::interceptor::InterceptedService::new(channel.clone(), Bearer(header))
}

/// 个人信息保护法: a caller's phone number and name never reach the application log, on any
/// path a ticket takes (submit, dispatch, reads by everyone, search by phone, refusals), even
/// at debug level. The real binary, its real log file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_caller_phone_or_name_reaches_the_log() {
    use hotline_proto::v1 as pb;
    const PHONE: &str = "13987654321";
    const NAME: &str = "欧阳娜娜";
    let dir = tempfile::tempdir().unwrap();
    let served = serve_logged(dir.path(), &["--demo"]);
    let channel = connect_when_up(served.grpc).await;
    let password = hotline_router::server::DEMO_PASSWORD;
    let operator = log_in(&channel, "demo-operator", password).await;
    let station = log_in(&channel, "demo-css", password).await;
    let supervisor = log_in(&channel, "demo-supervisor", password).await;
    let mut intake = pb::intake_client::IntakeClient::new(operator.clone());
    let caller = pb::Caller {
        name: NAME.into(),
        phone: PHONE.into(),
        ..Default::default()
    };
    let submitted = intake
        .submit_ticket(pb::SubmitTicketRequest {
            channel: pb::Channel::Hotline as i32,
            caller: Some(caller.clone()),
            text: format!("{NAME}来电：沧浪亭社区路灯不亮，回电{PHONE}"),
            address: "姑苏区双塔街道沧浪亭社区".into(),
            ..Default::default()
        })
        .await
        .expect("routed submit")
        .into_inner()
        .ticket
        .unwrap();
    let held = intake
        .submit_ticket(pb::SubmitTicketRequest {
            channel: pb::Channel::Hotline as i32,
            caller: Some(pb::Caller {
                confidential: true,
                ..caller.clone()
            }),
            text: "举报小区内违规经营".into(),
            station_id: "320508021019-css".into(),
            ..Default::default()
        })
        .await
        .expect("dispatched submit")
        .into_inner()
        .ticket
        .unwrap();
    // A phone that is not one: refused, and the refusal is not logged with it.
    let refused = intake
        .submit_ticket(pb::SubmitTicketRequest {
            channel: pb::Channel::Hotline as i32,
            caller: Some(pb::Caller {
                name: NAME.into(),
                phone: format!("{PHONE}x"),
                ..Default::default()
            }),
            text: "路灯不亮".into(),
            hold: true,
            ..Default::default()
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::InvalidArgument);
    for who in [&operator, &station, &supervisor] {
        for id in [&submitted.id, &held.id] {
            let _ = pb::intake_client::IntakeClient::new(who.clone())
                .get_ticket(pb::GetTicketRequest {
                    ticket_id: id.clone(),
                    include_history: true,
                })
                .await;
        }
    }
    let found = intake
        .search_tickets(pb::SearchTicketsRequest {
            caller_phone: PHONE.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets;
    assert_eq!(found.len(), 2);
    // The station read the full contact; a supervisor sees it in the access log.
    let log = pb::admin_client::AdminClient::new(supervisor.clone())
        .list_contact_access(pb::ListContactAccessRequest {
            ticket_id: held.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accesses;
    assert!(log.iter().any(|a| a.login == "demo-operator"), "{log:?}");
    drop(served);
    let text = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(
        text.contains("DEMO MODE"),
        "the demo is loud in the log:\n{text}"
    );
    assert!(
        text.contains("logged in"),
        "the log covers the run:\n{text}"
    );
    for secret in [PHONE, NAME] {
        let leaks: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "{secret} is in the log:\n{}",
            leaks.join("\n")
        );
    }
}

/// `hotline staff`: accounts, keys and signing keys on the store, offline.
#[test]
fn staff_accounts_and_keys_are_managed_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let staff = |args: &[&str], stdin: &str| {
        let mut full = vec!["staff", "--data-dir", data];
        full.extend_from_slice(args);
        run_with_stdin(&full, stdin)
    };
    let (ok, out, err) = staff(
        &[
            "add",
            "--login",
            "li.na",
            "--name",
            "李娜",
            "--role",
            "station-staff",
            "--station",
            "320508021019-css",
            "--password-stdin",
        ],
        "a-good-password\n",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("added li.na (station_staff, station 320508021019-css)"),
        "{out}"
    );
    // The first use of an empty store also made the administrator, once.
    assert!(dir.path().join("data/initial-admin-password").exists());
    let (ok, out, err) = staff(
        &[
            "add",
            "--login",
            "portal",
            "--name",
            "寒山闻钟",
            "--role",
            "integrator",
            "--channel",
            "web",
        ],
        "",
    );
    assert!(ok, "{err}");
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap();
    assert!(generated.len() >= 12, "{out}");
    // Misfits are refused with what to give instead.
    let (ok, _, err) = staff(
        &[
            "add",
            "--login",
            "x",
            "--name",
            "某",
            "--role",
            "supervisor",
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("territory"), "{err}");
    let (ok, _, err) = staff(
        &[
            "add", "--login", "li.na", "--name", "李娜", "--role", "operator",
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    let (ok, out, _) = staff(&["key", "portal", "--per-minute", "60"], "");
    assert!(ok);
    let key_id = out
        .lines()
        .find_map(|l| l.strip_prefix("key id: "))
        .unwrap()
        .to_owned();
    assert!(out.contains("key (shown once): hk_"), "{out}");
    let (ok, _, err) = staff(&["key", "li.na"], "");
    assert!(!ok);
    assert!(err.contains("integrators"), "{err}");
    let (ok, _, _) = staff(&["disable", "li.na"], "");
    assert!(ok);
    let (ok, out, _) = staff(&["list"], "");
    assert!(ok);
    let line = out.lines().find(|l| l.starts_with("li.na\t")).unwrap();
    assert!(line.contains("disabled"), "{line}");
    assert!(
        out.lines().any(|l| l.starts_with("admin\tadministrator")),
        "{out}"
    );
    let (ok, _, _) = staff(&["enable", "li.na"], "");
    assert!(ok);
    let (ok, _, _) = staff(
        &["passwd", "li.na", "--password-stdin"],
        "another-good-one\n",
    );
    assert!(ok);
    let (ok, _, _) = staff(&["revoke-key", &key_id], "");
    assert!(ok);
    let (ok, _, err) = staff(&["revoke-key", &key_id], "");
    assert!(!ok);
    assert!(err.contains("no live API key"), "{err}");
    // Rotation adds a key; the file stays the owner's alone.
    let keys = dir.path().join("data/signing-keys.json");
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    let (ok, out, err) = staff(&["rotate-signing-key"], "");
    assert!(ok, "{err}");
    assert!(out.contains("added signing key"), "{out}");
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    assert_eq!(
        after["keys"].as_array().unwrap().len(),
        before["keys"].as_array().unwrap().len() + 1
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// SIGHUP loads a new holiday notice without a restart (the real binary, the real signal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_loads_a_new_holiday_notice() {
    use hotline_proto::v1 as pb;
    let dir = tempfile::tempdir().unwrap();
    let holidays = dir.path().join("holidays");
    std::fs::create_dir_all(&holidays).unwrap();
    let served = serve_logged(dir.path(), &["--holidays-dir", holidays.to_str().unwrap()]);
    let channel = connect_when_up(served.grpc).await;
    let password = std::fs::read_to_string(dir.path().join("data/initial-admin-password")).unwrap();
    let admin = log_in(&channel, "admin", password.trim()).await;
    let status = || async {
        pb::admin_client::AdminClient::new(admin.clone())
            .get_calendar_status(pb::GetCalendarStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    };
    // Far enough ahead of the wall clock that no shipped file has it.
    let year = chrono::Datelike::year(&chrono::Utc::now()) + 1;
    assert!(!status().await.published_years.contains(&year));
    std::fs::write(
        holidays.join(format!("{year}.json")),
        format!(r#"{{"year": {year}, "papers": [], "days": [{{"name": "元旦", "date": "{year}-01-01", "isOffDay": true}}]}}"#),
    )
    .unwrap();
    let pid = served.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    while !status().await.published_years.contains(&year) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "SIGHUP did not load {year}.json"
        );
        tokio::task::yield_now().await;
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(
        log.contains("SIGHUP: reloading the holiday notices"),
        "{log}"
    );
}

/// `hotline knowledge import|search|export` on the store: an editor's import makes drafts, only
/// an administrator publishes on import, a re-import updates by key, search finds what is
/// published, the export is the import's format, and a bad row names its line and imports
/// nothing.
#[test]
fn knowledge_base_is_imported_searched_and_exported_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut full = vec!["knowledge", "--data-dir", data];
        full.extend_from_slice(args);
        run_with_stdin(&full, "")
    };
    let (ok, _, err) = run_with_stdin(
        &[
            "staff",
            "--data-dir",
            data,
            "add",
            "--login",
            "wu",
            "--name",
            "吴编辑",
            "--role",
            "knowledge-editor",
            "--territory",
            "city",
            "--password-stdin",
        ],
        "a-good-password\n",
    );
    assert!(ok, "{err}");
    let header =
        "external_key,title,alt_questions,answer,categories,territories,effective_from,owner";
    let csv = dir.path().join("base.csv");
    std::fs::write(
        &csv,
        format!(
            "\u{feff}{header}\n\
             KB-1,居住证怎么办理,办居住证要什么材料|外地人怎么申领居住证,请携带身份证到居住地派出所申领居住证。,ZF.HJZJ,3205,2025-01-01,320508021-office\n\
             KB-2,失业保险金怎么申领,失业金怎么领,请到公共就业服务机构办理失业登记并申领失业保险金。,LS.JYPX,3205|320508,2025-01-01,320508021-office\n"
        ),
    )
    .unwrap();
    let csv = csv.to_str().unwrap();

    let (ok, _, err) = run(&["import", csv, "--as", "wu", "--published"]);
    assert!(!ok && err.contains("only an administrator"), "{err}");
    let (ok, out, err) = run(&["import", csv, "--as", "wu"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("2 created, 0 updated, 0 unchanged (drafts)"),
        "{out}"
    );
    // Drafts are not suggested.
    let (ok, out, err) = run(&["search", "居住证怎么办", "--division", "320508021019"]);
    assert!(ok && out.trim().is_empty(), "{out}{err}");
    // The administrator publishes the same rows: the drafts go live (an update each).
    let (ok, out, err) = run(&["import", csv, "--as", "admin", "--published"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 created, 2 updated, 0 unchanged (published)"),
        "{out}"
    );

    // The same rows, one answer changed, published by the administrator: an update by key.
    let changed = std::fs::read_to_string(csv)
        .unwrap()
        .replace("请携带身份证", "请携带本人身份证和照片");
    let changed_csv = dir.path().join("changed.csv");
    std::fs::write(&changed_csv, changed).unwrap();
    let (ok, out, err) = run(&[
        "import",
        changed_csv.to_str().unwrap(),
        "--as",
        "admin",
        "--published",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 created, 1 updated, 1 unchanged (published)"),
        "{out}"
    );
    let (ok, out, err) = run(&["search", "居住证怎么办", "--division", "320508021019"]);
    assert!(ok, "{err}");
    let hits = json_lines(&out);
    assert_eq!(hits[0]["title"], "居住证怎么办理", "{out}");
    assert!(
        hits[0]["answer"]
            .as_str()
            .unwrap()
            .contains("本人身份证和照片"),
        "{out}"
    );

    for name in ["export.csv", "export.xlsx"] {
        let path = dir.path().join(name);
        let (ok, out, err) = run(&["export", path.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert!(out.contains("exported 2 articles"), "{out}");
        let (ok, out, err) = run(&["import", path.to_str().unwrap(), "--as", "wu"]);
        assert!(ok, "{err}");
        assert!(
            out.contains("0 created, 0 updated, 2 unchanged"),
            "{name}: {out}"
        );
    }
    let exported = std::fs::read_to_string(dir.path().join("export.csv")).unwrap();
    assert!(
        exported.starts_with("\u{feff}external_key,title"),
        "{exported}"
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}\n\
             KB-3,公积金怎么提取,,请登录公积金中心网站办理。,LS.SBJJ,3205,2025-01-01,320508021-office\n\
             KB-4,医保怎么转移,,请到医保经办机构办理。,SQ.YLBX,3205,2025-02-30,320508021-office\n"
        ),
    )
    .unwrap();
    let (ok, _, err) = run(&["import", bad.to_str().unwrap(), "--as", "wu"]);
    assert!(!ok, "a bad file is refused");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let (_, out, _) = run(&["export", dir.path().join("after.csv").to_str().unwrap()]);
    assert!(
        out.contains("exported 2 articles"),
        "nothing of the bad file stayed: {out}"
    );
}

/// SIGHUP rebuilds the knowledge index from the store on demand: an article imported behind
/// the router's back (its follower set to an hour) is suggested after the signal, not before.
#[tokio::test]
async fn sighup_rebuilds_the_knowledge_index() {
    use hotline_proto::v1 as pb;
    let dir = tempfile::tempdir().unwrap();
    let served = serve_logged(
        dir.path(),
        &["--demo", "--knowledge-interval-ms", "3600000"],
    );
    let channel = connect_when_up(served.grpc).await;
    let operator = log_in(&channel, "demo-operator", "hotline-demo").await;
    let search = || async {
        pb::knowledge_client::KnowledgeClient::new(operator.clone())
            .search_articles(pb::SearchArticlesRequest {
                text: "住房公积金怎么提取".into(),
                division_code: "320508021019".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .articles
            .iter()
            .any(|a| a.title == "住房公积金提取条件")
    };
    assert!(!search().await);
    let csv = dir.path().join("gjj.csv");
    std::fs::write(
        &csv,
        "title,answer,categories,territories,effective_from,owner\n\
         住房公积金提取条件,购房、租房、退休等情形可申请提取住房公积金，请登录公积金中心网站办理。,LS.SBJJ,3205,2025-01-01,320508021-office\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (ok, out, err) = run_with_stdin(
        &[
            "knowledge",
            "--data-dir",
            data.to_str().unwrap(),
            "import",
            csv.to_str().unwrap(),
            "--as",
            "admin",
            "--published",
        ],
        "",
    );
    assert!(ok, "{out}{err}");
    // Published in the store, but this router's index has not looked since it started.
    assert!(!search().await);
    let pid = served.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    while !search().await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "SIGHUP did not rebuild the knowledge index"
        );
        tokio::task::yield_now().await;
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("SIGHUP: knowledge index rebuilt"), "{log}");
}
