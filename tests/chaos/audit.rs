//! The auditor: after the load stops and the system settles, it reads PostgreSQL and Redis
//! directly (not through a replica) and counts what went wrong.
//!
//! - `lost`: an acknowledged submit whose ticket or log is missing, or a live ticket that the
//!   queue it belongs on does not hold (a ticket no queue holds is a citizen nobody answers).
//! - `double`: a ticket on two queues, a request id acknowledged as two tickets, two staff told
//!   they signed for one ticket, two sign-fors in one dispatch, or two staff holding a claim on
//!   one ticket at once (unless the lease itself was lost meanwhile: Redis emptied, or a
//!   replica's clock stepped — the README's fault table says why that is allowed).
//! - `timers_missed` / `timers_doubled`: every sign-for warning and breach that fell due while
//!   the ticket was still waiting raised its flag exactly once; none fired early, none twice.
//! - `replay_mismatch`: replaying each ticket's log gives its row.
//!
//! Drift between the store and the working set (a queue entry for a ticket that is not live
//! there, a pending timer the ticket's state does not call for) is counted on its own line.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use hotline_core::{replay, Action, Flag, Stage, Ticket, TicketId};
use hotline_dispatch::redis::RedisTimers;
use hotline_dispatch::{TimerClock, TimerIndex, TimerStep};
use hotline_router::deadlines::Sla;
use hotline_router::escalation;
use hotline_store::{PgStore, TicketStore};

use crate::load::Record;
use crate::world::{World, REDIS_PREFIX};

/// How late a timer may fire under faults and still be on time: a deadline that passed this
/// long before the ticket left its clock must have fired.
const LATE: chrono::Duration = chrono::Duration::seconds(30);
/// The station that holds the centre's triage queue.
const TRIAGE: &str = "3205-triage";

#[derive(Debug, Default)]
pub struct Report {
    pub faults: usize,
    pub submits_ok: usize,
    pub lost: usize,
    pub double: usize,
    pub timers_missed: usize,
    pub timers_doubled: usize,
    pub replay_mismatch: usize,
    pub recovery_p99_s: f64,
    /// Working-set drift that is not loss: stale queue entries, timers off plan.
    pub stale_entries: usize,
    pub timers_off: usize,
    /// Claims that overlapped while the lease itself was lost (allowed; reported).
    pub excused_overlaps: usize,
    pub tickets: usize,
    pub flags_checked: usize,
    pub unexpected: Vec<String>,
    pub findings: Vec<String>,
    /// What clients saw of the faults: "rpc code=count, ...".
    pub transient: String,
    /// The ticket with the longest log: (id, events, events by kind).
    pub busiest: (String, usize, String),
}

impl Report {
    /// Prints the findings and the summary line; true when every count is 0.
    pub fn print(&self) -> bool {
        for finding in self.findings.iter().take(40) {
            println!("chaos: finding: {finding}");
        }
        for answer in self.unexpected.iter().take(20) {
            println!("chaos: unexpected answer: {answer}");
        }
        println!("chaos: clients saw (and retried): {}", self.transient);
        println!(
            "chaos: the longest log: {} with {} events {}",
            self.busiest.0, self.busiest.1, self.busiest.2
        );
        println!(
            "chaos: tickets={} flags_checked={} stale_entries={} timers_off={} unexpected_answers={} excused_lease_overlaps={}",
            self.tickets,
            self.flags_checked,
            self.stale_entries,
            self.timers_off,
            self.unexpected.len(),
            self.excused_overlaps
        );
        println!(
            "chaos: faults={} submits_ok={} lost={} double={} timers_missed={} timers_doubled={} replay_mismatch={} recovery_p99_s={:.1}",
            self.faults,
            self.submits_ok,
            self.lost,
            self.double,
            self.timers_missed,
            self.timers_doubled,
            self.replay_mismatch,
            self.recovery_p99_s
        );
        self.lost == 0
            && self.double == 0
            && self.timers_missed == 0
            && self.timers_doubled == 0
            && self.replay_mismatch == 0
            && self.stale_entries == 0
            && self.timers_off == 0
            && self.unexpected.is_empty()
            && self.submits_ok > 0
    }
}

/// Nearest-rank percentile of `values` (seconds).
fn percentile(values: &[Duration], p: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub async fn audit(
    world: &World,
    record: &Record,
    recoveries: &[Duration],
    lease_breaks: &[(Instant, Instant)],
    max_clock_step: chrono::Duration,
) -> anyhow::Result<Report> {
    let audit_at = Utc::now();
    let mut report = Report {
        faults: recoveries.len(),
        submits_ok: record.acknowledged.len(),
        recovery_p99_s: percentile(recoveries, 0.99),
        transient: record
            .transient
            .iter()
            .map(|((rpc, code), n)| format!("{rpc} {code}={n}"))
            .collect::<Vec<_>>()
            .join(", "),
        unexpected: record
            .unexpected
            .iter()
            .map(|(rpc, code, message)| format!("{rpc}: {code:?} {message}"))
            .collect(),
        ..Report::default()
    };
    let url = world.direct_database_url();
    let store = PgStore::connect(&url, 4)
        .await
        .context("connecting to the private PostgreSQL")?;
    let pool = sqlx::PgPool::connect(&url).await?;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM tickets")
        .fetch_all(&pool)
        .await?;
    report.tickets = ids.len();
    let sla = hotline_router::server::load_sla(&hotline_router::config::ServeArgs::parse_from([
        "--sla-policy".into(),
        world.policy_path().into_os_string(),
    ])?)?;
    let settings = escalation::Settings::default();

    // Every ticket: its row, its log, the replay, and its sign-for flags.
    let mut tickets: HashMap<TicketId, Ticket> = HashMap::new();
    let mut logs: HashMap<TicketId, usize> = HashMap::new();
    for id in ids {
        let id = TicketId::from_uuid(id);
        let row = store.get(id).await?.context("a listed ticket")?;
        let events = store.events(id).await?;
        logs.insert(id, events.len());
        if events.len() > report.busiest.1 {
            let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
            for event in &events {
                *kinds.entry(event.action.name()).or_default() += 1;
            }
            report.busiest = (id.to_string(), events.len(), format!("{kinds:?}"));
        }
        match replay(&events) {
            Ok(replayed) => {
                // The log keeps times to the microsecond (PostgreSQL's resolution), the row's
                // body to the nanosecond: compared at the log's resolution.
                let differ = differing_fields(
                    &to_micros(serde_json::to_value(&replayed)?),
                    &to_micros(serde_json::to_value(&row)?),
                );
                if !differ.is_empty() || events.len() as u64 != row.version {
                    report.replay_mismatch += 1;
                    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
                    for event in &events {
                        *kinds.entry(event.action.name()).or_default() += 1;
                    }
                    report.findings.push(format!("{id}: events {kinds:?}"));
                    report.findings.push(format!(
                        "{id}: its log ({} events) does not replay to its row (version {}): {differ:?} differ",
                        events.len(),
                        row.version
                    ));
                }
            }
            Err(err) => {
                report.replay_mismatch += 1;
                report
                    .findings
                    .push(format!("{id}: its log does not replay: {err}"));
            }
        }
        check_flags(
            &events,
            &sla,
            &settings,
            audit_at,
            max_clock_step,
            &mut report,
        );
        check_sign_fors(&events, &mut report);
        tickets.insert(id, row);
    }

    // Acknowledged submits: each there, with its log; one ticket per request id.
    let mut by_request: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (id, request_id) in &record.acknowledged {
        by_request.entry(request_id).or_default().insert(id);
        let found = TicketId::parse("ticket_id", id)
            .ok()
            .filter(|id| tickets.contains_key(id) && logs.get(id).is_some_and(|n| *n > 0));
        if found.is_none() {
            report.lost += 1;
            report.findings.push(format!(
                "acknowledged {id} ({request_id}) is not in the store"
            ));
        }
    }
    for (request_id, ids) in &by_request {
        if ids.len() > 1 {
            report.double += 1;
            report.findings.push(format!(
                "request {request_id} was acknowledged as {} tickets",
                ids.len()
            ));
        }
    }

    // Sign-fors acknowledged to two staff.
    let mut signers: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (id, login) in &record.signed {
        signers.entry(id).or_default().insert(login);
    }
    for (id, who) in &signers {
        if who.len() > 1 {
            report.double += 1;
            report.findings.push(format!(
                "{id}: {} staff were told they signed for it",
                who.len()
            ));
        }
    }
    check_claims(record, lease_breaks, &mut report);
    check_queues(world, &tickets, &mut report).await?;
    check_timers(world, &tickets, &sla, &settings, audit_at, &mut report).await?;
    Ok(report)
}

/// `value` with every RFC 3339 time cut to whole microseconds.
fn to_micros(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(at) => {
                let at = at.with_timezone(&Utc);
                let micros = at.timestamp_micros();
                Value::String(
                    DateTime::<Utc>::from_timestamp_micros(micros)
                        .unwrap_or(at)
                        .to_rfc3339(),
                )
            }
            Err(_) => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(to_micros).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, to_micros(v))).collect())
        }
        other => other,
    }
}

/// The top-level fields where two serialised tickets differ.
fn differing_fields(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| k.to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ if a != b => vec!["(whole)".to_owned()],
        _ => Vec::new(),
    }
}

/// Sign-for warnings and breaches: each that fell due while the ticket waited, raised once.
fn check_flags(
    events: &[hotline_core::Event],
    sla: &Sla,
    settings: &escalation::Settings,
    audit_at: DateTime<Utc>,
    skew: chrono::Duration,
    report: &mut Report,
) {
    // The ticket after each event.
    let states: Vec<Ticket> = (1..=events.len())
        .filter_map(|n| replay(&events[..n]).ok())
        .collect();
    if states.len() != events.len() {
        return; // counted as a replay mismatch
    }
    let on_clock = |t: &Ticket| {
        (t.stage == Stage::AwaitingSignFor)
            .then_some(t.deadlines.sign_for)
            .flatten()
    };
    let mut explained: HashSet<usize> = HashSet::new();
    let mut k = 0;
    while k < states.len() {
        let Some(due) = on_clock(&states[k]) else {
            k += 1;
            continue;
        };
        // The waiting lasts until an event takes the ticket off this clock or moves its
        // deadline; flags raised meanwhile do neither.
        let start = k;
        let mut end = k + 1;
        while end < states.len() && on_clock(&states[end]) == Some(due) {
            end += 1;
        }
        let left_at = events.get(end).map(|e| e.at).unwrap_or(audit_at);
        for timer in escalation::plan(&states[start], sla, settings) {
            if timer.clock != TimerClock::SignFor
                || !matches!(timer.step, TimerStep::Warning | TimerStep::Breach)
            {
                continue;
            }
            let Some(flag) = escalation::flag_of(timer.clock, timer.step) else {
                continue;
            };
            let fire_at = DateTime::<Utc>::from_timestamp_millis(timer.fire_at_ms)
                .expect("a timer time in range");
            let raised: Vec<usize> = (start + 1..end)
                .filter(
                    |j| matches!(&events[*j].action, Action::Flag { flag: f, .. } if *f == flag),
                )
                .collect();
            explained.extend(raised.iter().copied());
            report.flags_checked += 1;
            let id = events[0].ticket_id;
            for j in &raised {
                if events[*j].at < fire_at - skew {
                    report.timers_doubled += 1;
                    report.findings.push(format!(
                        "{id}: {flag:?} raised at {} before it was due at {fire_at}",
                        events[*j].at
                    ));
                }
            }
            if fire_at + LATE < left_at {
                if raised.is_empty() {
                    report.timers_missed += 1;
                    report.findings.push(format!(
                        "{id}: {flag:?} due at {fire_at} never raised (waited until {left_at})"
                    ));
                }
            } else if fire_at - skew > left_at && !raised.is_empty() {
                report.timers_doubled += 1;
                report.findings.push(format!(
                    "{id}: {flag:?} due at {fire_at} raised though the ticket left at {left_at}"
                ));
            }
            if raised.len() > 1 {
                report.timers_doubled += 1;
                report.findings.push(format!(
                    "{id}: {flag:?} due at {fire_at} raised {} times",
                    raised.len()
                ));
            }
        }
        k = end;
    }
    // A sign-for light with no sign-for clock to explain it.
    for (j, event) in events.iter().enumerate() {
        if let Action::Flag { flag, .. } = &event.action {
            let sign_for_light = matches!(flag, Flag::Warning | Flag::Overdue)
                && j > 0
                && events[j - 1].stage == Stage::AwaitingSignFor;
            if sign_for_light && !explained.contains(&j) {
                report.timers_doubled += 1;
                report.findings.push(format!(
                    "{}: {flag:?} at {} not explained by any sign-for deadline",
                    event.ticket_id, event.at
                ));
            }
        }
    }
}

/// A sign-for only ends a wait for one: a second would mean two staff work the ticket.
fn check_sign_fors(events: &[hotline_core::Event], report: &mut Report) {
    for pair in events.windows(2) {
        if matches!(pair[1].action, Action::SignFor { .. })
            && pair[0].stage != Stage::AwaitingSignFor
        {
            report.double += 1;
            report.findings.push(format!(
                "{}: a sign-for at {} while it was {:?}",
                pair[1].ticket_id, pair[1].at, pair[0].stage
            ));
        }
    }
}

/// Two staff holding a claim on one ticket at once.
fn check_claims(record: &Record, lease_breaks: &[(Instant, Instant)], report: &mut Report) {
    let mut by_ticket: HashMap<&str, Vec<&(String, String, Instant, Instant)>> = HashMap::new();
    for claim in &record.claims {
        by_ticket.entry(&claim.0).or_default().push(claim);
    }
    for (id, mut claims) in by_ticket {
        claims.sort_by_key(|c| c.2);
        for pair in claims.windows(2) {
            let (first, second) = (pair[0], pair[1]);
            if first.1 == second.1 || second.2 >= first.3 {
                continue;
            }
            // The lease was lost meanwhile (Redis emptied, a clock stepped): allowed, counted.
            let broken = lease_breaks
                .iter()
                .any(|(from, to)| *from <= second.2 && *to >= first.2);
            if broken {
                report.excused_overlaps += 1;
            } else {
                report.double += 1;
                report.findings.push(format!(
                    "{id}: claimed by {} while {} held it",
                    second.1, first.1
                ));
            }
        }
    }
}

/// Every queue entry in Redis against the store: each waiting ticket on its station's queue,
/// on no other, and nothing else queued.
async fn check_queues(
    world: &World,
    tickets: &HashMap<TicketId, Ticket>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let client = redis::Client::open(world.direct_redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{REDIS_PREFIX}:q:{{*}}:entries"))
        .query_async(&mut conn)
        .await?;
    let mut queued: HashMap<String, Vec<String>> = HashMap::new();
    for key in keys {
        let station = key
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(s, _)| s.to_owned())
            .unwrap_or_default();
        let entries: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        // `~version` marks a removed ticket (so a late, older update cannot bring it back):
        // a tombstone, not an entry.
        for (field, value) in entries {
            if !value.starts_with('~') {
                queued.entry(field).or_default().push(station.clone());
            }
        }
    }
    for (id, ticket) in tickets {
        let want = match ticket.stage {
            Stage::AwaitingSignFor => ticket.station.as_ref().map(|s| s.as_str().to_owned()),
            Stage::PendingDispatch => Some(TRIAGE.to_owned()),
            _ => None,
        };
        let have = queued
            .remove(&id.as_uuid().simple().to_string())
            .unwrap_or_default();
        if have.len() > 1 {
            report.double += 1;
            report
                .findings
                .push(format!("{id}: on {} queues: {have:?}", have.len()));
        }
        match want {
            Some(station) if !have.contains(&station) => {
                report.lost += 1;
                report.findings.push(format!(
                    "{id}: {:?} at {station}, but not on its queue (on {have:?})",
                    ticket.stage
                ));
            }
            None if !have.is_empty() => {
                report.stale_entries += 1;
                report
                    .findings
                    .push(format!("{id}: {:?}, yet queued at {have:?}", ticket.stage));
            }
            _ => {}
        }
    }
    report.stale_entries += queued.len();
    for (entry, stations) in queued.iter().take(10) {
        report.findings.push(format!(
            "queue entry {entry} at {stations:?} is no ticket of the store"
        ));
    }
    Ok(())
}

/// The pending timers of every live ticket against the plan its state calls for (future steps
/// only: due ones may be in flight).
async fn check_timers(
    world: &World,
    tickets: &HashMap<TicketId, Ticket>,
    sla: &Sla,
    settings: &escalation::Settings,
    audit_at: DateTime<Utc>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let timers = RedisTimers::connect(&world.direct_redis_url(), REDIS_PREFIX).await?;
    let horizon = (audit_at + chrono::Duration::seconds(10)).timestamp_millis();
    for (id, ticket) in tickets {
        if !ticket.stage.is_live() {
            continue;
        }
        let key = |t: &hotline_dispatch::Timer| (t.clock, t.step, t.fire_at_ms, t.deadline_ms);
        let mut want: Vec<_> = escalation::plan(ticket, sla, settings)
            .iter()
            .filter(|t| t.fire_at_ms > horizon)
            .map(key)
            .collect();
        let mut have: Vec<_> = timers
            .timers_of(*id)
            .await?
            .iter()
            .filter(|t| t.fire_at_ms > horizon)
            .map(key)
            .collect();
        want.sort();
        have.sort();
        if want != have {
            report.timers_off += 1;
            report.findings.push(format!(
                "{id}: pending timers {have:?}, its state calls for {want:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The auditor must be able to fail: each check against a log with the fault planted.

    use chrono::TimeZone;
    use hotline_core::{
        apply, open, Actor, CategoryCode, Channel, DivisionCode, Event, Nature, NewTicket, Role,
        StaffId, StationId, Urgency,
    };

    use super::*;

    const STATION: &str = "320505001001-css";

    fn t0() -> DateTime<Utc> {
        // A Monday morning in Suzhou.
        Utc.with_ymd_and_hms(2024, 3, 4, 1, 0, 0).unwrap()
    }

    fn secs(n: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(n)
    }

    fn sla() -> Sla {
        let policy =
            hotline_sla::SlaPolicy::from_toml_str("chaos policy", crate::world::POLICY).unwrap();
        Sla::new(policy, hotline_sla::WorkingCalendar::builtin())
    }

    fn supervisor() -> Actor {
        Actor {
            role: Role::Supervisor,
            staff: Some(StaffId::parse("staff_id", "sup-1").unwrap()),
            station: None,
        }
    }

    fn staff() -> Actor {
        Actor {
            role: Role::Station,
            staff: Some(StaffId::parse("staff_id", "w-1").unwrap()),
            station: Some(StationId::parse("station_id", STATION).unwrap()),
        }
    }

    /// A ticket dispatched at 0 s with its sign-for due at 60 s (warning at 30 s), then the
    /// `later` changes: (seconds, actor, action).
    fn story(later: Vec<(i64, Actor, Action)>) -> Vec<Event> {
        let new = NewTicket {
            request_id: None,
            channel: Channel::Hotline,
            caller: Default::default(),
            text: "小区路灯坏了一个星期".into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: Some(CategoryCode::parse("category", "CJ.LD").unwrap()),
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: Some(DivisionCode::parse("division", "320505001001").unwrap()),
        }
        .validate()
        .unwrap();
        let (mut ticket, first) = open(TicketId::new(), new, supervisor(), t0());
        let mut events = vec![first];
        let mut changes = vec![(
            0,
            supervisor(),
            Action::Dispatch {
                station: StationId::parse("station_id", STATION).unwrap(),
                sign_for_due: Some(secs(60)),
                note: String::new(),
            },
        )];
        changes.extend(later);
        for (at, actor, action) in changes {
            let (next, event) = apply(&ticket, &actor, action, secs(at)).unwrap();
            ticket = next;
            events.push(event);
        }
        events
    }

    fn flag(at: i64, flag: Flag) -> (i64, Actor, Action) {
        (
            at,
            Actor::system(),
            Action::Flag {
                flag,
                note: String::new(),
            },
        )
    }

    fn sign_for(at: i64) -> (i64, Actor, Action) {
        (
            at,
            staff(),
            Action::SignFor {
                resolution_due: Some(secs(86_400 * 7)),
                first_contact_due: Some(secs(86_400)),
            },
        )
    }

    fn audit_flags(events: &[Event], audit_at: i64) -> Report {
        let mut report = Report::default();
        check_flags(
            events,
            &sla(),
            &escalation::Settings::default(),
            secs(audit_at),
            chrono::Duration::seconds(15),
            &mut report,
        );
        report
    }

    #[test]
    fn a_wait_past_both_lights_with_each_raised_once_is_clean() {
        let events = story(vec![flag(30, Flag::Warning), flag(61, Flag::Overdue)]);
        let report = audit_flags(&events, 300);
        assert_eq!((report.timers_missed, report.timers_doubled), (0, 0));
        assert_eq!(report.flags_checked, 2);
    }

    #[test]
    fn a_breach_never_raised_is_missed() {
        let events = story(vec![flag(30, Flag::Warning)]);
        let report = audit_flags(&events, 300);
        assert_eq!((report.timers_missed, report.timers_doubled), (1, 0));
    }

    #[test]
    fn a_light_raised_early_is_doubled() {
        // (Raised twice cannot be written: the lifecycle refuses a flag already set, and the
        // store's version check refuses the second of two racing writes.)
        // 20 s early is more than the 15 s a stepped clock explains.
        let early = story(vec![flag(10, Flag::Warning), flag(61, Flag::Overdue)]);
        assert_eq!(audit_flags(&early, 300).timers_doubled, 1);
        let within_skew = story(vec![flag(20, Flag::Warning), flag(61, Flag::Overdue)]);
        assert_eq!(audit_flags(&within_skew, 300).timers_doubled, 0);
    }

    #[test]
    fn a_sign_for_before_the_deadline_forbids_the_breach_and_late_ones_are_excused() {
        // Signed at 20 s: neither light may follow; none did.
        let clean = story(vec![sign_for(20)]);
        let report = audit_flags(&clean, 300);
        assert_eq!((report.timers_missed, report.timers_doubled), (0, 0));
        // Signed 10 s after the breach was due: within LATE, so no breach is no miss.
        let close = story(vec![flag(30, Flag::Warning), sign_for(70)]);
        assert_eq!(audit_flags(&close, 300).timers_missed, 0);
        // Signed 50 s after: the breach had to fire first.
        let late = story(vec![flag(30, Flag::Warning), sign_for(110)]);
        assert_eq!(audit_flags(&late, 300).timers_missed, 1);
    }

    #[test]
    fn a_deadline_not_yet_late_at_the_audit_is_not_judged() {
        let events = story(vec![flag(30, Flag::Warning)]);
        assert_eq!(audit_flags(&events, 70).timers_missed, 0);
    }

    #[test]
    fn two_staff_holding_one_claim_is_double_unless_the_lease_was_lost_meanwhile() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let record = Record {
            claims: vec![
                ("t1".into(), "a".into(), now, now + s(30)),
                ("t1".into(), "b".into(), now + s(5), now + s(35)),
                // After a's lease ran out: fine.
                ("t2".into(), "a".into(), now, now + s(30)),
                ("t2".into(), "b".into(), now + s(31), now + s(61)),
            ],
            ..Record::default()
        };
        let mut report = Report::default();
        check_claims(&record, &[], &mut report);
        assert_eq!((report.double, report.excused_overlaps), (1, 0));
        let mut report = Report::default();
        check_claims(&record, &[(now + s(1), now + s(2))], &mut report);
        assert_eq!((report.double, report.excused_overlaps), (0, 1));
    }

    #[test]
    fn the_recovery_percentile_is_nearest_rank() {
        let times: Vec<Duration> = (1..=10).map(Duration::from_secs).collect();
        assert_eq!(percentile(&times, 0.99), 10.0);
        assert_eq!(percentile(&times, 0.5), 5.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }
}
