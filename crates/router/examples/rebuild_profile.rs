//! Times one working-set rebuild (issue 13) on PostgreSQL + Redis at a given number of open
//! tickets, with the rebuild's phase timings in its log (`working set rebuild phase`), so the
//! phases can be compared before and after a change on one machine. Run it under
//! `/usr/bin/time -v` for the peak RSS of the rebuild alone (seed first, in its own run).
//!
//! ```sh
//! DB=postgres://postgres@127.0.0.1:5432/rebuild_profile   # created beforehand, any name
//! # 1. seed: 2,000 templates through the store (real citizen texts from ../shared/data, spread
//! #    over the community stations and a few categories, half awaiting sign-for, half signed
//! #    for), then cloned by SQL up to --live open tickets (new ids, creation times over the
//! #    14 days before now, as benches/surge/run.sh preloads; event logs are not cloned: the
//! #    rebuild does not read them)
//! cargo run --release -p hotline-router --example rebuild_profile -- \
//!     --database-url $DB --live 100000 --seed
//! # 2. rebuild into Redis under a fresh prefix (the prefix's keys are left for inspection)
//! /usr/bin/time -v cargo run ... --example rebuild_profile -- --database-url $DB \
//!     --redis-url redis://127.0.0.1:6379/15 --redis-prefix rebuild_profile_1
//! ```

use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use hotline_core::lifecycle::{apply, open, Action, Actor, Role};
use hotline_core::{
    Caller, CategoryCode, Channel, Nature, NewTicket, StationId, TicketId, Urgency,
};
use hotline_directory::StationKind;
use hotline_router::config::ServeArgs;
use hotline_router::working_set::WorkingSet;
use hotline_router::{escalation, server};
use hotline_store::{PgStore, TicketStore};

struct Args {
    database_url: String,
    redis_url: Option<String>,
    redis_prefix: String,
    live: i64,
    seed: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        database_url: String::new(),
        redis_url: None,
        redis_prefix: "rebuild_profile".into(),
        live: 100_000,
        seed: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "--seed" {
            out.seed = true;
            continue;
        }
        let value = argv
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database-url" => out.database_url = value,
            "--redis-url" => out.redis_url = Some(value),
            "--redis-prefix" => out.redis_prefix = value,
            "--live" => out.live = value.parse().context("--live")?,
            other => bail!("unknown flag {other}"),
        }
    }
    if out.database_url.is_empty() {
        bail!("--database-url is required");
    }
    Ok(out)
}

/// Templates written through the store before cloning.
const TEMPLATES: usize = 2_000;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    hotline_router::init_tracing(hotline_router::config::LogFormat::Text);
    PgStore::migrate_url(&args.database_url, false).await?;
    if args.seed {
        let store = PgStore::connect(&args.database_url, 8).await?;
        seed(&store, args.live).await?;
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let mut argv = vec![
        "--data-dir".to_owned(),
        data.path().display().to_string(),
        "--database-url".to_owned(),
        args.database_url.clone(),
    ];
    if let Some(redis) = &args.redis_url {
        argv.extend([
            "--redis-url".to_owned(),
            redis.clone(),
            "--redis-prefix".to_owned(),
            args.redis_prefix.clone(),
        ]);
    }
    let serve = ServeArgs::parse_from(argv)?;
    let directory = server::load_directory(&serve)?;
    let sla = server::load_sla(&serve)?;
    let store = server::open_store(&serve).await?;
    let (queue, timers, duplicates) =
        server::open_working_set(&serve, std::sync::Arc::new(hotline_core::SystemClock)).await?;
    let working_set = WorkingSet::new(
        queue,
        timers,
        duplicates.clone(),
        store,
        directory,
        sla,
        escalation::Settings::default(),
    );
    let started = Instant::now();
    let (queued, timers) = working_set.rebuild().await?;
    let took = started.elapsed();
    println!(
        "rebuild: {:.2} s, {queued} queued, {timers} timers, {} filed",
        took.as_secs_f64(),
        duplicates.len().await?
    );
    Ok(())
}

async fn seed(store: &PgStore, live: i64) -> anyhow::Result<()> {
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(store.pool())
        .await?;
    if have > 0 {
        bail!("the database already holds {have} tickets: seed a fresh one");
    }
    let directory = hotline_directory::Directory::suzhou();
    let stations: Vec<(StationId, hotline_core::DivisionCode)> = directory
        .stations()
        .filter(|s| s.kind == StationKind::CommunityService)
        .map(|s| (s.id.clone(), s.division.clone()))
        .collect();
    let categories: Vec<CategoryCode> = ["SQ.JTBL", "CJ.WY", "SQ.WY", "CJ.SZ", "HB.ZS", "SQ.HJ"]
        .iter()
        .map(|c| CategoryCode::parse("category", c))
        .collect::<Result<_, _>>()?;
    let texts = texts(TEMPLATES)?;
    let now = Utc::now();
    let operator = Actor {
        role: Role::Operator,
        staff: None,
        station: None,
    };
    for (n, text) in texts.into_iter().enumerate() {
        let (station, division) = &stations[(n * 7919) % stations.len()];
        let new = NewTicket {
            request_id: None,
            channel: Channel::Hotline,
            caller: Caller {
                name: "测试".into(),
                phone: "13900000000".into(),
                ..Default::default()
            },
            text,
            address: String::new(),
            location: None,
            kiosk: None,
            category: Some(categories[n % categories.len()].clone()),
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: Some(division.clone()),
        }
        .validate()?;
        let fingerprint = new.fingerprint();
        let (ticket, submitted) = open(TicketId::new(), new, operator.clone(), now);
        let (mut ticket, dispatched) = apply(
            &ticket,
            &operator,
            Action::Dispatch {
                station: station.clone(),
                sign_for_due: Some(now + Duration::hours(2)),
                note: String::new(),
            },
            now,
        )?;
        let mut events = vec![submitted, dispatched];
        if n % 2 == 1 {
            let staff = Actor {
                role: Role::Station,
                staff: None,
                station: Some(station.clone()),
            };
            let (signed, event) = apply(
                &ticket,
                &staff,
                Action::SignFor {
                    resolution_due: Some(now + Duration::days(5)),
                    first_contact_due: None,
                },
                now,
            )?;
            ticket = signed;
            events.push(event);
        }
        store.create(&ticket, &events, &fingerprint).await?;
    }
    // Clones: as benches/surge/run.sh preloads (new UUIDv7 ids for their creation times).
    let started = Instant::now();
    sqlx::raw_sql(&format!(
        r#"
CREATE TEMP TABLE tpl AS SELECT t.*, row_number() OVER (ORDER BY t.id) AS n FROM tickets t;
CREATE INDEX ON tpl (n);
CREATE FUNCTION pg_temp.uuid7(ts TIMESTAMPTZ) RETURNS UUID LANGUAGE sql VOLATILE AS $f$
    SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::BIGINT), 12, '0') || '7'
            || substr(h, 1, 3) || substr('89ab', 1 + floor(random() * 4)::INT, 1)
            || substr(h, 4, 15))::UUID
    FROM (SELECT md5(random()::TEXT || clock_timestamp()::TEXT) AS h) s
$f$;
CREATE FUNCTION pg_temp.rfc3339(ts TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$f$;
CREATE TEMP TABLE plan AS
SELECT g AS k, 1 + (g % {TEMPLATES}) AS n, c, pg_temp.uuid7(c) AS id
FROM generate_series(1, {clones}) g,
     LATERAL (SELECT now() - random() * interval '14 days' + g * interval '0 s' AS c) x;
INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, division_code,
                     channel, urgency, category, text, created_at, updated_at,
                     sign_for_due, first_contact_due, resolution_due, callback_due, warning,
                     contact_warning, contacted, paused, incident_id, caller_phone,
                     submitted_by, body)
SELECT p.id, t.version, 'clone-' || p.k, t.fingerprint, t.stage,
       t.station_id, t.division_code, t.channel, t.urgency, t.category, t.text,
       p.c, p.c,
       t.sign_for_due, t.first_contact_due, t.resolution_due, t.callback_due, t.warning,
       t.contact_warning, t.contacted, t.paused, t.incident_id, t.caller_phone, t.submitted_by,
       (t.body::jsonb || jsonb_build_object(
           'id', p.id::TEXT, 'request_id', 'clone-' || p.k,
           'created_at', pg_temp.rfc3339(p.c), 'updated_at', pg_temp.rfc3339(p.c)))::JSON
FROM plan p JOIN tpl t ON t.n = p.n;
"#,
        clones = (live - TEMPLATES as i64).max(0),
    ))
    .execute(store.pool())
    .await?;
    sqlx::raw_sql("VACUUM ANALYZE tickets")
        .execute(store.pool())
        .await?;
    println!(
        "seeded {live} open tickets ({TEMPLATES} through the store, the rest cloned in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The first `n` texts of the labelled citizen messages (the templates' texts).
fn texts(n: usize) -> anyhow::Result<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/civic/train.csv");
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::with_capacity(n);
    for record in reader.records() {
        let record = record?;
        if let Some(text) = record.get(0).filter(|t| t.chars().count() >= 10) {
            out.push(text.chars().take(1_000).collect());
        }
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}
