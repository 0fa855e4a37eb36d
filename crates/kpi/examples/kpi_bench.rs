//! `GetKpis` at scale: a year of synthetic tickets (10 million by default) in PostgreSQL, with
//! their event log and the KPI aggregates, then a district's year asked for repeatedly (p50,
//! p99), beside the same figures by a plain SQL over the events (the ratio). Run by
//! `benches/kpis/run.sh`; see there for the flags.
//!
//! Each ticket's whole log (submit, dispatch, sign-for, contact, reply, review, callback,
//! close) is generated and derived into the aggregates; the log table stores each ticket's
//! dispatch and sign-for (what the plain SQL reads), or all eight with `--all-events` (about
//! 2.5 KB a ticket: 25 GB at ten million, more than this machine's free disk beside the builds).
//!
//! The aggregates are computed with the real fact derivation ([`hotline_kpi::facts::derive`])
//! over each synthetic ticket's log and written with COPY (the follower would take hours for
//! ten million tickets on this machine; its exactness is the tests' business, this measures
//! the reads). The follower's cursor is set past the data, so the report's catch-up step finds
//! nothing to do, as on a router that is keeping up.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{
    Action, Actor, CategoryCode, Channel, DivisionCode, Event, Nature, NewTicket, Role,
    Satisfaction, StaffId, Stage, StationId, TicketId, Urgency,
};
use hotline_kpi::query::{Clocks, RunningClock};
use hotline_kpi::store::{accumulate, Grain, RowKey};
use hotline_kpi::{Counts, GroupBy, KpiConfig, Kpis, Period, PgKpis, Scope};
use hotline_sla::WorkingCalendar;
use sqlx::postgres::PgPoolCopyExt;

const DISTRICTS: &[&str] = &[
    "320505", "320506", "320507", "320508", "320509", "320511", "320512", "320581", "320582",
    "320583", "320585",
];
/// The events stored in the log unless `--all-events`: the ones the plain SQL reads.
const STORED: &[&str] = &["dispatch", "sign_for"];
const CATEGORIES: &[&str] = &[
    "SQ.JTBL", "CS.HJWS", "JT.DLSS", "SH.LDBZ", "ZF.FCGL", "GY.SDQ",
];

/// A small deterministic generator (xorshift): the same data every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Fixed {
    now: DateTime<Utc>,
    calendar: Arc<WorkingCalendar>,
}
impl Clocks for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn calendar(&self) -> Arc<WorkingCalendar> {
        self.calendar.clone()
    }
    fn running(&self, _: &hotline_core::Ticket) -> Vec<RunningClock> {
        Vec::new()
    }
}

fn actor(role: Role, staff: &str, station: Option<&str>) -> Actor {
    Actor {
        role,
        staff: Some(StaffId::parse("staff", staff).unwrap()),
        station: station.map(|s| StationId::parse("station", s).unwrap()),
    }
}

/// One ticket's log: submit, dispatch, sign-for, contact, reply, review, callback, close.
fn ticket(rng: &mut Rng, year_start: DateTime<Utc>, day: i64) -> Vec<Event> {
    let id = TicketId::new();
    let district = DISTRICTS[rng.below(DISTRICTS.len() as u64) as usize];
    let street = format!("{district}{:03}", 1 + rng.below(12));
    let community = format!("{street}{:03}", 1 + rng.below(20));
    let station = if rng.below(5) == 0 {
        format!("{street}-office")
    } else {
        format!("{community}-css")
    };
    // A minute of the day's office hours: 09:00-17:00 local is 17:00 (year_start's time of
    // day) + 9 h onwards.
    let minute = 9 * 60 + rng.below(8 * 60) as i64;
    let t0 = year_start + Duration::days(day) + Duration::minutes(minute);
    let mut events = Vec::with_capacity(8);
    let mut seq = 0;
    let mut push = |at: DateTime<Utc>, actor: Actor, action: Action, stage: Stage| {
        seq += 1;
        events.push(Event {
            ticket_id: id,
            seq,
            at,
            actor,
            action,
            stage,
        });
    };
    let new = NewTicket {
        request_id: None,
        channel: if rng.below(3) == 0 {
            Channel::Web
        } else {
            Channel::Hotline
        },
        caller: Default::default(),
        text: "bench".into(),
        address: String::new(),
        location: None,
        kiosk: None,
        category: Some(
            CategoryCode::parse("c", CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize])
                .unwrap(),
        ),
        nature: Nature::Help,
        urgency: Urgency::Normal,
        division: Some(DivisionCode::parse("d", &community).unwrap()),
    };
    let op = actor(Role::Operator, "op1", None);
    let sup = actor(Role::Supervisor, "sup1", None);
    let staff_name = format!("s{}", rng.below(5));
    let staff = actor(Role::Station, &staff_name, Some(&station));
    let st = StationId::parse("s", &station).unwrap();
    push(
        t0,
        op,
        Action::Submit {
            ticket: Box::new(new),
        },
        Stage::Accepted,
    );
    let dispatched = t0 + Duration::minutes(5);
    push(
        dispatched,
        sup.clone(),
        Action::Dispatch {
            station: st,
            sign_for_due: Some(dispatched + Duration::hours(24)),
            note: String::new(),
        },
        Stage::AwaitingSignFor,
    );
    // Most sign within a day; some late.
    let signed = dispatched + Duration::minutes(10 + rng.below(36 * 60) as i64);
    let resolution_due = signed + Duration::days(7);
    push(
        signed,
        staff.clone(),
        Action::SignFor {
            resolution_due: Some(resolution_due),
            first_contact_due: Some(signed + Duration::hours(4)),
        },
        Stage::InProgress,
    );
    push(
        signed + Duration::minutes(30 + rng.below(6 * 60) as i64),
        staff.clone(),
        Action::ContactCaller {
            note: String::new(),
        },
        Stage::InProgress,
    );
    let replied = signed + Duration::hours(2 + rng.below(9 * 24) as i64);
    push(
        replied,
        staff,
        Action::Reply {
            internal_record: String::new(),
            public_reply: String::new(),
        },
        Stage::PendingReview,
    );
    push(
        replied + Duration::hours(2),
        sup.clone(),
        Action::Review {
            approve: true,
            callback_due: Some(replied + Duration::days(3)),
            note: String::new(),
        },
        Stage::AwaitingCallback,
    );
    let satisfaction = match rng.below(10) {
        0 => Satisfaction::Dissatisfied,
        1 => Satisfaction::Unreachable,
        2..=4 => Satisfaction::Basic,
        _ => Satisfaction::Satisfied,
    };
    push(
        replied + Duration::days(1),
        sup.clone(),
        Action::RecordCallback {
            satisfaction,
            reasonable: false,
            note: String::new(),
            redo_sign_for_due: None,
        },
        Stage::AwaitingCallback,
    );
    push(
        replied + Duration::days(1) + Duration::hours(1),
        sup,
        Action::Close,
        Stage::Closed,
    );
    events
}

fn tsv_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

async fn copy(pool: &sqlx::PgPool, statement: &str, data: String) -> anyhow::Result<()> {
    let mut copy = pool.copy_in_raw(statement).await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

fn rows_tsv(rows: &BTreeMap<RowKey, Counts>, grain: Grain) -> String {
    let mut out = String::new();
    for (key, counts) in rows.iter().filter(|(k, _)| k.grain == grain) {
        let dim = match key.dim {
            hotline_kpi::store::Dim::All => "all",
            hotline_kpi::store::Dim::Category => "category",
            hotline_kpi::store::Dim::Channel => "channel",
            hotline_kpi::store::Dim::Staff => "staff",
        };
        out.push_str(&format!(
            "{}\t{dim}\t{}\t{}\t{}",
            key.bucket, key.station, key.division, key.key
        ));
        for v in &counts.0 {
            out.push_str(&format!("\t{v}"));
        }
        out.push('\n');
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_owned())
    };
    let url = flag(
        "--url",
        "postgres://postgres@127.0.0.1:5432/hotline_bench_kpi",
    );
    let tickets: u64 = flag("--tickets", "10000000").parse()?;
    let queries: usize = flag("--queries", "200").parse()?;
    let reuse = args.iter().any(|a| a == "--reuse");
    let all_events = args.iter().any(|a| a == "--all-events");

    let store = hotline_store::PgStore::connect(&url, 8).await?;
    let pool = store.pool().clone();
    let calendar = Arc::new(WorkingCalendar::builtin());
    let year_start = Utc.with_ymd_and_hms(2024, 12, 31, 16, 0, 0).unwrap(); // 2025-01-01 00:00+08
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await?;
    if !(reuse && existing as u64 == tickets) {
        anyhow::ensure!(
            existing == 0,
            "the database is not empty; run.sh makes a fresh one"
        );
        let started = Instant::now();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Daily rows are flushed a month behind the generator's day (no fact of a ticket lands
        // more than a month after its submit), so memory stays bounded. Hourly rows are kept
        // 8 days by default (KpiConfig): the year's are long pruned at "now", so none are made.
        let mut daily: BTreeMap<i64, HashMap<RowKey, Counts>> = BTreeMap::new();
        let mut monthly: HashMap<RowKey, Counts> = HashMap::new();
        let per_day = tickets.div_ceil(365);
        let mut made = 0u64;
        for day in 0..365i64 {
            let mut tickets_tsv = String::new();
            let mut events_tsv = String::new();
            let n = per_day.min(tickets - made);
            let mut day_rng = Rng(rng.next() | 1);
            for _ in 0..n {
                let events = ticket(&mut day_rng, year_start, day);
                let facts = hotline_kpi::facts::derive(&events, &calendar);
                let mut rows: HashMap<RowKey, Counts> = HashMap::new();
                accumulate(&mut rows, &facts, 1);
                for (key, counts) in rows {
                    match key.grain {
                        Grain::Hour => {}
                        Grain::Day => daily
                            .entry(key.bucket)
                            .or_default()
                            .entry(key)
                            .or_default()
                            .add_all(&counts),
                        Grain::Month => monthly.entry(key).or_default().add_all(&counts),
                    }
                }
                let first = &events[0];
                let last = events.last().unwrap();
                tickets_tsv.push_str(&format!(
                    "{}\t{}\tclosed\t{}\t{}\thotline\tnormal\t{}\tbench\t{}\t{}\t{{}}\n",
                    first.ticket_id,
                    last.seq,
                    facts
                        .iter()
                        .find(|f| !f.station.is_empty())
                        .map(|f| f.station.as_str())
                        .unwrap_or(""),
                    facts
                        .iter()
                        .find(|f| f.station.is_empty())
                        .map(|f| f.division.as_str())
                        .unwrap_or(""),
                    facts.first().map(|f| f.category.as_str()).unwrap_or(""),
                    first.at.to_rfc3339(),
                    last.at.to_rfc3339(),
                ));
                // Only what the plain SQL reads is stored (see the module docs): the whole log
                // of ten million tickets (~25 GB) does not fit this machine's disk beside the
                // builds; more rows would only make the plain SQL slower.
                for e in events
                    .iter()
                    .filter(|e| all_events || STORED.contains(&e.action.name()))
                {
                    events_tsv.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                        e.ticket_id,
                        e.seq,
                        e.at.to_rfc3339(),
                        e.action.name(),
                        e.stage.code(),
                        tsv_escape(&serde_json::to_string(&e.actor)?),
                        tsv_escape(&serde_json::to_string(&e.action)?),
                    ));
                }
            }
            made += n;
            copy(
                &pool,
                "COPY tickets (id, version, stage, station_id, division_code, channel, urgency, \
                 category, text, created_at, updated_at, body) FROM STDIN",
                tickets_tsv,
            )
            .await?;
            copy(
                &pool,
                "COPY ticket_events (ticket_id, seq, at, kind, stage, actor, action) FROM STDIN",
                events_tsv,
            )
            .await?;
            // Flush daily rows a month behind.
            let horizon = (year_start + Duration::days(day - 31)).timestamp_millis();
            let keep = daily.split_off(&horizon);
            let old: BTreeMap<RowKey, Counts> = std::mem::replace(&mut daily, keep)
                .into_values()
                .flatten()
                .collect();
            if !old.is_empty() {
                copy(
                    &pool,
                    "COPY kpi_daily FROM STDIN",
                    rows_tsv(&old, Grain::Day),
                )
                .await?;
            }
            if day % 30 == 0 {
                eprintln!(
                    "kpi bench: day {day}, {made} tickets, {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let days: BTreeMap<RowKey, Counts> = daily.into_values().flatten().collect();
        copy(
            &pool,
            "COPY kpi_daily FROM STDIN",
            rows_tsv(&days, Grain::Day),
        )
        .await?;
        let months: BTreeMap<RowKey, Counts> = monthly.into_iter().collect();
        copy(
            &pool,
            "COPY kpi_monthly FROM STDIN",
            rows_tsv(&months, Grain::Month),
        )
        .await?;
        // Everything so far is aggregated: the follower starts after it.
        sqlx::query("UPDATE kpi_state SET cursor = pg_current_snapshot()::text WHERE id = 1")
            .execute(&pool)
            .await?;
        sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
        eprintln!(
            "kpi bench: loaded {made} tickets in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }

    let kpis = Kpis::new(
        Arc::new(PgKpis::from_pool(pool.clone())),
        Arc::new(Fixed {
            now: Utc.with_ymd_and_hms(2026, 1, 15, 2, 0, 0).unwrap(),
            calendar,
        }),
        KpiConfig::default(),
    );
    let district = Scope::Division("320508".into());
    // The year 2025 in Suzhou time: twelve months from the monthly table. (A period with
    // partial days that old would be widened to whole days: hourly rows are kept 8 days.)
    let period = Period::new(year_start, year_start + Duration::days(365), 3 * 366)?;
    let mut times = Vec::with_capacity(queries);
    let mut answer = None;
    for i in 0..queries {
        let group = if i % 2 == 0 {
            GroupBy::None
        } else {
            GroupBy::Station
        };
        let started = Instant::now();
        let report = kpis.report(&district, period, group).await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        answer.get_or_insert(report.total);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let total = answer.expect("at least one query");

    // The same two figures by a plain SQL over the events.
    let plain_sql = "WITH d AS ( \
           SELECT ticket_id, (action->>'sign_for_due')::timestamptz AS due FROM ticket_events \
           WHERE kind = 'dispatch' AND at >= $1 AND at < $2 AND action->>'station' LIKE '320508%'), \
         s AS ( \
           SELECT ticket_id, min(at) AS signed FROM ticket_events \
           WHERE kind = 'sign_for' AND ticket_id IN (SELECT ticket_id FROM d) GROUP BY ticket_id) \
         SELECT count(*), count(*) FILTER (WHERE s.signed <= d.due) FROM d LEFT JOIN s USING (ticket_id)";
    let mut sql_times = Vec::new();
    let mut sql_answer = (0i64, 0i64);
    for _ in 0..3 {
        let started = Instant::now();
        sql_answer = sqlx::query_as(plain_sql)
            .bind(period.from)
            .bind(period.to)
            .fetch_one(&pool)
            .await?;
        sql_times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    sql_times.sort_by(f64::total_cmp);
    let sql_median = sql_times[1];
    let same = sql_answer
        == (
            total.dispatched as i64,
            total.sign_for_on_time.numerator as i64,
        );
    println!(
        "kpi bench: tickets={tickets} district=320508 period=2025 queries={queries} \
         p50_ms={:.1} p99_ms={:.1} plain_sql_ms={sql_median:.0} ratio={:.4} \
         dispatched={} signed_on_time={} plain_sql_same_answer={same}",
        pct(0.5),
        pct(0.99),
        pct(0.99) / sql_median,
        total.dispatched,
        total.sign_for_on_time.numerator,
    );
    anyhow::ensure!(
        same,
        "the aggregates and the plain SQL disagree: {sql_answer:?}"
    );
    Ok(())
}
