//! How tickets and events become rows, shared by both backends so they cannot drift apart.

use chrono::{DateTime, SecondsFormat, Utc};
use hotline_core::{Event, Ticket};

use crate::StoreError;

pub(crate) fn encode_ticket(ticket: &Ticket) -> Result<String, StoreError> {
    serde_json::to_string(ticket).map_err(|e| StoreError::Corrupt(format!("ticket encode: {e}")))
}

pub fn decode_ticket(body: &str) -> Result<Ticket, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("ticket body: {e}")))
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

/// The tally of live tickets ([`crate::TicketStore::live_tally`]) over `live`, a CTE each
/// backend writes in its own dialect with one row per live ticket: `territory`, `stage`, the
/// four deadlines (`sign_for`, `first_contact`, `resolution`, `callback`, comparable with
/// `clock.tally_now`), and the booleans `uncontacted`, `unpaused`, `yellow` (the `warning`
/// flag) and `contact_yellow` (`contact_warning`). Which clock runs in which stage is written
/// here once, as the router's timers see it (`running_clocks` in the router's escalation).
pub(crate) fn tally_sql(clock_and_live: &str) -> String {
    use hotline_core::Stage;
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
        "{clock_and_live}\nSELECT territory, stage, COUNT(*) AS tickets{columns}\n\
         FROM live CROSS JOIN clock GROUP BY territory, stage ORDER BY territory, stage"
    )
}

/// `'accepted', 'pending_dispatch', ...`: the live stages as SQL literals (codes of a closed
/// vocabulary, never caller input).
pub(crate) fn live_stage_literals() -> String {
    crate::live_stages()
        .iter()
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ")
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
