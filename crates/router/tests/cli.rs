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
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let f1: f64 = last
        .strip_prefix("macro-F1: ")
        .expect(last)
        .trim()
        .parse()
        .unwrap();
    assert!(
        f1 > 0.5,
        "a model trained on 960 messages should beat chance clearly: {f1}"
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
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
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
