//! How tickets and events become rows, shared by both backends so they cannot drift apart.

use chrono::{DateTime, SecondsFormat, Utc};
use hotline_core::{Event, Flag, Ticket};

use crate::StoreError;

pub(crate) fn encode_ticket(ticket: &Ticket) -> Result<String, StoreError> {
    serde_json::to_string(ticket).map_err(|e| StoreError::Corrupt(format!("ticket encode: {e}")))
}

pub fn decode_ticket(body: &str) -> Result<Ticket, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("ticket body: {e}")))
}

/// What the store keeps as columns beside a ticket's body, written in the same statement as
/// the body so they always agree with it (migrations 0014 and 0018 filled them for older rows):
/// the facts [`crate::TicketStore::live_tally`] counts, the incident the ticket names, and the
/// two fields searches filter on. Queries over many tickets read these instead of parsing every
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TicketColumns {
    pub sign_for_due: Option<DateTime<Utc>>,
    pub first_contact_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub callback_due: Option<DateTime<Utc>>,
    /// The `warning` flag (黄灯).
    pub warning: bool,
    pub contact_warning: bool,
    /// The caller was contacted (`contacted_at` is set): the first-contact clock stopped.
    pub contacted: bool,
    /// The resolution clock is paused.
    pub paused: bool,
    pub incident_id: Option<String>,
    /// The caller's phone, `None` when empty (a search by phone never looks for "no number").
    /// A column, not an index on the body's field: PostgreSQL evaluated that expression by
    /// parsing the whole JSON body on every insert and update, ~15 µs of a routed submit.
    pub caller_phone: Option<String>,
    /// The integrator that submitted the ticket (its own reads filter on it).
    pub submitted_by: Option<String>,
}

impl TicketColumns {
    pub fn of(ticket: &Ticket) -> Self {
        Self {
            sign_for_due: ticket.deadlines.sign_for,
            first_contact_due: ticket.deadlines.first_contact,
            resolution_due: ticket.deadlines.resolution,
            callback_due: ticket.deadlines.callback,
            warning: ticket.flags.contains(&Flag::Warning),
            contact_warning: ticket.flags.contains(&Flag::ContactWarning),
            contacted: ticket.contacted_at.is_some(),
            paused: ticket.paused.is_some(),
            incident_id: ticket.incident.map(|i| i.to_string()),
            caller_phone: Some(ticket.caller.phone.clone()).filter(|p| !p.is_empty()),
            submitted_by: ticket.submitted_by.as_ref().map(|s| s.as_str().to_owned()),
        }
    }
}

pub(crate) struct EventRow {
    pub kind: &'static str,
    pub stage: &'static str,
    pub actor: String,
    pub action: String,
}

pub(crate) fn encode_event(event: &Event) -> Result<EventRow, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("event encode: {e}"));
    Ok(EventRow {
        kind: event.action.name(),
        stage: event.stage.code(),
        actor: serde_json::to_string(&event.actor).map_err(corrupt)?,
        action: serde_json::to_string(&event.action).map_err(corrupt)?,
    })
}

pub fn decode_event(
    ticket_id: hotline_core::TicketId,
    seq: i64,
    at: DateTime<Utc>,
    stage: &str,
    actor: &str,
    action: &str,
) -> Result<Event, StoreError> {
    let corrupt =
        |what: &str, e: String| StoreError::Corrupt(format!("event {ticket_id}#{seq} {what}: {e}"));
    Ok(Event {
        ticket_id,
        seq: u64::try_from(seq).map_err(|e| corrupt("seq", e.to_string()))?,
        at,
        stage: hotline_core::Stage::parse("stage", stage)
            .map_err(|e| corrupt("stage", e.to_string()))?,
        actor: serde_json::from_str(actor).map_err(|e| corrupt("actor", e.to_string()))?,
        action: serde_json::from_str(action).map_err(|e| corrupt("action", e.to_string()))?,
    })
}

/// A candidate's facts from its columns (both backends read the same ones).
pub(crate) fn candidate_facts(
    id: hotline_core::TicketId,
    stage: &str,
    division: Option<String>,
    category: Option<String>,
    created_at: DateTime<Utc>,
    text: String,
) -> Result<crate::CandidateFacts, StoreError> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("ticket {id} {what}: {e}"));
    Ok(crate::CandidateFacts {
        id,
        stage: hotline_core::Stage::parse("stage", stage)
            .map_err(|e| corrupt("stage", e.to_string()))?,
        division: division
            .map(|d| hotline_core::DivisionCode::parse("division_code", &d))
            .transpose()
            .map_err(|e| corrupt("division", e.to_string()))?,
        category: category
            .map(|c| hotline_core::CategoryCode::parse("category", &c))
            .transpose()
            .map_err(|e| corrupt("category", e.to_string()))?,
        created_at,
        text,
    })
}

/// Text timestamps for SQLite: fixed width, so they sort as text.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_ts(raw: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {raw:?}: {e}")))
}

pub(crate) fn version_i64(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern (with `ESCAPE '\'`).
pub(crate) fn like_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The events of one write must be the ticket's next events, in order, ending at its version.
pub(crate) fn check_events(
    ticket: &Ticket,
    events: &[Event],
    before: u64,
) -> Result<(), StoreError> {
    let ordered = events
        .iter()
        .enumerate()
        .all(|(i, e)| e.ticket_id == ticket.id && e.seq == before + 1 + i as u64);
    if events.is_empty() || !ordered || events.last().map(|e| e.seq) != Some(ticket.version) {
        return Err(StoreError::Corrupt(format!(
            "events for ticket {} do not lead to its version {}",
            ticket.id, ticket.version
        )));
    }
    Ok(())
}

/// The tally of live tickets ([`crate::TicketStore::live_tally`]). `clock_cte` is a CTE each
/// backend writes in its own dialect, `clock AS (SELECT ... AS tally_now)`, comparable with
/// the deadline columns. The tally reads only the columns of [`TicketColumns`] (no body):
/// one covering index, `tickets_live_tally` (migration 0014), holds all of them. Which clock
/// runs in which stage is written here once, as the router's timers see it (`running_clocks`
/// in the router's escalation).
pub(crate) fn tally_sql(clock_cte: &str) -> String {
    tally_sql_where(clock_cte, "")
}

/// [`tally_sql`] of the live tickets that also meet `filter` (`" AND ..."`, in the backend's
/// placeholders), for one part of the tally.
pub(crate) fn tally_sql_where(clock_cte: &str, filter: &str) -> String {
    use hotline_core::Stage;
    // Live is every stage but closed (`Stage::is_live`), written as `<> 'closed'` because that
    // is the index's condition: SQLite uses a partial index only for a query that repeats it.
    debug_assert!(Stage::ALL
        .iter()
        .all(|s| s.is_live() == (*s != Stage::Closed)));
    let live = format!(
        "live AS (
  SELECT substr(division_code, 1, 9) AS territory, stage,
    sign_for_due AS sign_for, first_contact_due AS first_contact,
    resolution_due AS resolution, callback_due AS callback,
    NOT contacted AS uncontacted, NOT paused AS unpaused,
    warning AS yellow, contact_warning AS contact_yellow
  FROM tickets WHERE stage <> '{}'{filter})",
        Stage::Closed.code()
    );
    let signing = Stage::AwaitingSignFor.code();
    let handling = format!(
        "'{}', '{}'",
        Stage::InProgress.code(),
        Stage::ReturnRequested.code()
    );
    let callback = Stage::AwaitingCallback.code();
    let clocks = [
        ("sign_for", format!("stage = '{signing}'"), "yellow"),
        (
            "first_contact",
            format!("stage IN ({handling}) AND uncontacted"),
            "contact_yellow",
        ),
        (
            "resolution",
            format!("stage IN ({handling}) AND unpaused"),
            "yellow",
        ),
        ("callback", format!("stage = '{callback}'"), "yellow"),
    ];
    let mut columns = String::new();
    for (clock, running, light) in &clocks {
        columns.push_str(&format!(
            ",\n  SUM(CASE WHEN {running} AND {clock} <= tally_now THEN 1 ELSE 0 END) AS {clock}_overdue"
        ));
        columns.push_str(&format!(
            ",\n  SUM(CASE WHEN {running} AND {clock} > tally_now AND {light} THEN 1 ELSE 0 END) AS {clock}_soon"
        ));
    }
    format!(
        "WITH {clock_cte},\n{live}\nSELECT territory, stage, COUNT(*) AS tickets{columns}\n\
         FROM live CROSS JOIN clock GROUP BY territory, stage ORDER BY territory, stage"
    )
}

/// One row of [`tally_sql`].
pub(crate) fn tally_from_row<R: sqlx::Row>(row: &R) -> Result<crate::LiveTally, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let count = |column: &str| -> Result<u64, StoreError> {
        let n: i64 = row.try_get(column)?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("tally {column} = {n}")))
    };
    let clocks = |suffix: &str| -> Result<crate::ClockCounts, StoreError> {
        Ok(crate::ClockCounts {
            sign_for: count(&format!("sign_for_{suffix}"))?,
            first_contact: count(&format!("first_contact_{suffix}"))?,
            resolution: count(&format!("resolution_{suffix}"))?,
            callback: count(&format!("callback_{suffix}"))?,
        })
    };
    let stage: String = row.try_get("stage")?;
    Ok(crate::LiveTally {
        territory: row.try_get("territory")?,
        stage: hotline_core::Stage::parse("stage", &stage)
            .map_err(|e| StoreError::Corrupt(format!("tally stage: {e}")))?,
        tickets: count("tickets")?,
        overdue: clocks("overdue")?,
        about_to_breach: clocks("soon")?,
    })
}

/// Tickets as an older release wrote them, which between them set every column of
/// [`TicketColumns`] (and leave each unset too), for the tests of the backfills of migrations
/// 0014 and 0018.
#[cfg(test)]
pub(crate) fn tickets_before_the_columns() -> Vec<Ticket> {
    use chrono::TimeZone;
    use hotline_core::lifecycle::{apply, open, Action, Actor, Role};
    use hotline_core::{
        Caller, Channel, DivisionCode, IncidentId, Nature, NewTicket, StationId, TicketId, Urgency,
    };
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let due = |h: i64| Some(at + chrono::Duration::hours(h));
    let station = StationId::parse("s", "320508014003-css").unwrap();
    let operator = Actor {
        role: Role::Operator,
        staff: None,
        station: None,
    };
    let css = Actor {
        role: Role::Station,
        staff: None,
        station: Some(station.clone()),
    };
    let new = |text: &str| {
        let new = NewTicket {
            request_id: None,
            channel: Channel::Web,
            caller: Caller {
                name: "李四".into(),
                phone: "13900000000".into(),
                ..Default::default()
            },
            text: text.into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: None,
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: Some(DivisionCode::parse("d", "320508014003").unwrap()),
        };
        open(
            TicketId::new(),
            new.validate().unwrap(),
            operator.clone(),
            at,
        )
        .0
    };
    let walk = |ticket: Ticket, steps: Vec<(&Actor, Action)>| {
        steps.into_iter().fold(ticket, |t, (actor, action)| {
            let next_at = t.updated_at + chrono::Duration::minutes(1);
            apply(&t, actor, action, next_at).unwrap().0
        })
    };
    let dispatch = |due| Action::Dispatch {
        station: station.clone(),
        sign_for_due: due,
        note: String::new(),
    };
    let flag = |flag| Action::Flag {
        flag,
        note: String::new(),
    };
    // Submitted by an integrator, and a caller who gave no number: the search columns of
    // migration 0018 are set on some tickets and unset on others.
    let mut bare = new("路灯不亮");
    bare.submitted_by = Some(hotline_core::StaffId::parse("s", "portal").unwrap());
    bare.caller.phone = String::new();
    let warned = walk(
        new("楼道灯坏了"),
        vec![
            (&operator, dispatch(due(2))),
            (&operator, flag(Flag::Warning)),
            (&operator, flag(Flag::ContactWarning)),
        ],
    );
    let handled = walk(
        new("楼上漏水"),
        vec![
            (&operator, dispatch(due(2))),
            (
                &css,
                Action::SignFor {
                    resolution_due: due(40),
                    first_contact_due: due(4),
                },
            ),
            (
                &css,
                Action::ContactCaller {
                    note: String::new(),
                },
            ),
            (
                &css,
                Action::PauseClock {
                    reason: "等待补充材料".into(),
                },
            ),
        ],
    );
    let replied = walk(
        new("窨井盖缺失"),
        vec![
            (&operator, dispatch(due(2))),
            (
                &css,
                Action::SignFor {
                    resolution_due: due(40),
                    first_contact_due: due(4),
                },
            ),
            (
                &css,
                Action::Reply {
                    internal_record: "已修复".into(),
                    public_reply: "已修复".into(),
                },
            ),
            (
                &operator,
                Action::Review {
                    approve: true,
                    callback_due: due(60),
                    note: String::new(),
                },
            ),
        ],
    );
    let lead = bare.id;
    let member = walk(
        new("整条街停水了"),
        vec![(
            &operator,
            Action::JoinIncident {
                incident: IncidentId::led_by(lead),
            },
        )],
    );
    let tickets = vec![bare, warned, handled, replied, member];
    let columns: Vec<TicketColumns> = tickets.iter().map(TicketColumns::of).collect();
    // Every column is set on one ticket and unset on another.
    assert!(columns.iter().any(|c| c.warning) && columns.iter().any(|c| c.contact_warning));
    assert!(columns
        .iter()
        .any(|c| c.contacted && c.paused && c.first_contact_due.is_some()));
    assert!(columns.iter().any(|c| c.incident_id.is_some()));
    assert!(columns.iter().any(|c| c.callback_due.is_some()));
    assert!(columns
        .iter()
        .any(|c| c.submitted_by.is_some() && c.caller_phone.is_none()));
    assert!(columns
        .iter()
        .any(|c| c.submitted_by.is_none() && c.caller_phone.is_some()));
    tickets
}
