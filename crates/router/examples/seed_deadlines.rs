//! Seeds a PostgreSQL store with N tickets awaiting sign-for whose sign-for deadlines all fall
//! due at one instant, for `benches/escalation/run.sh`: the routers started on the store
//! afterwards rebuild their timers from it, and the whole cohort falls due together, as a
//! centre's night of deadlines does at the opening of a working day.
//!
//! ```sh
//! cargo run --release -p hotline-router --example seed_deadlines -- \
//!     --database-url postgres://postgres@127.0.0.1/bench --count 100000 --due-in-seconds 90
//! ```
//! Prints the deadline (RFC 3339) on the last line of stdout.

use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use hotline_core::lifecycle::{apply, open, Action, Actor, Role};
use hotline_core::{Caller, Channel, Nature, NewTicket, StationId, TicketId, Urgency};
use hotline_directory::StationKind;
use hotline_store::{PgStore, TicketStore};

struct Args {
    url: String,
    count: usize,
    due_in: i64,
}

fn args() -> anyhow::Result<Args> {
    let mut url = None;
    let mut count = 100_000;
    let mut due_in = 90;
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database-url" => url = Some(value),
            "--count" => count = value.parse().context("--count")?,
            "--due-in-seconds" => due_in = value.parse().context("--due-in-seconds")?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Args {
        url: url.context("--database-url is required")?,
        count,
        due_in,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let store = Arc::new(PgStore::connect(&args.url, 16).await?);
    let directory = hotline_directory::Directory::suzhou();
    // Spread over every community service station, as a city's backlog is.
    let stations: Arc<Vec<StationId>> = Arc::new(
        directory
            .stations()
            .filter(|s| s.kind == StationKind::CommunityService)
            .map(|s| s.id.clone())
            .collect(),
    );
    let now = Utc::now();
    let due = now + Duration::seconds(args.due_in);
    let operator = Actor {
        role: Role::Operator,
        staff: None,
        station: None,
    };
    let workers = 64;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let store = store.clone();
        let stations = stations.clone();
        let operator = operator.clone();
        let count = args.count;
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while n < count {
                let new = NewTicket {
                    request_id: None,
                    channel: Channel::Hotline,
                    caller: Caller {
                        name: "测试".into(),
                        phone: "13900000000".into(),
                        ..Default::default()
                    },
                    text: format!("第{n}号：小区路灯不亮，请尽快维修"),
                    address: String::new(),
                    location: None,
                    kiosk: None,
                    category: None,
                    nature: Nature::Help,
                    urgency: Urgency::Normal,
                    division: None,
                }
                .validate()?;
                let fingerprint = new.fingerprint();
                let (ticket, submitted) = open(TicketId::new(), new, operator.clone(), now);
                let (ticket, dispatched) = apply(
                    &ticket,
                    &operator,
                    Action::Dispatch {
                        station: stations[n % stations.len()].clone(),
                        sign_for_due: Some(due),
                        note: String::new(),
                    },
                    now,
                )?;
                store
                    .create(&ticket, &[submitted, dispatched], &fingerprint)
                    .await?;
                n += workers;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!(
        "{}",
        due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    Ok(())
}
