//! 并案: incidents on both backends (same SQL but for the placeholders and how a body is read as text).
//!
//! Membership is not kept here: each ticket names its incident in its own body, written by its
//! own change (join, split), so the tickets of an incident are read from the tickets table by
//! that field, kept as the `incident_id` column beside the body (migration 0014, indexed). This
//! table keeps what belongs to the incident as a whole: when and by whom it was opened, its
//! public notices, the one reply posted to all of its tickets, and its closing.
//!
//! Why an incident's ticket count is counted on each read rather than kept as a counter on the
//! incident: a ticket joins or leaves by its own change, in a statement that writes tickets
//! only (a batch of submits writes up to 64 at once). A counter would make every join of a
//! surge update the one incident row, serialising them on its lock (and two batches naming two
//! incidents in opposite orders could deadlock), and a join committed while the incident is
//! being opened could be missed by the counter's first value. Counting the column's index is
//! exact and reads a few bytes per member (an index-only scan once vacuum has seen the rows).

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::{IncidentId, Ticket, TicketId};
use sqlx::Row;

use crate::row::decode_ticket;
use crate::{PgStore, SqliteStore, StoreError};

/// Something said or done for the whole incident: its text (empty for a closing), by whom, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentNote {
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// An incident as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    /// The latest public notice (公告), if one was posted.
    pub notice: Option<IncidentNote>,
    /// The one public reply posted to the incident's tickets (the latest, if posted again).
    pub reply: Option<IncidentNote>,
    pub closed: Option<IncidentNote>,
    /// Tickets that name the incident: the lead (once it records the incident) and the members.
    pub tickets: u32,
}

#[async_trait]
pub trait IncidentStore: Send + Sync + 'static {
    /// Opens the incident led by `id.lead()`, or returns it as it stands when it is open
    /// already (two replicas recognising the same matter at once open one incident).
    async fn open_incident(
        &self,
        id: IncidentId,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<IncidentRecord, StoreError>;

    async fn incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>, StoreError>;

    /// Incidents newest first; only the open ones unless `closed_too`.
    async fn incidents(
        &self,
        closed_too: bool,
        limit: u32,
    ) -> Result<Vec<IncidentRecord>, StoreError>;

    /// Appends a public notice; `None` when there is no such incident.
    async fn post_incident_notice(
        &self,
        id: IncidentId,
        notice: &IncidentNote,
    ) -> Result<Option<IncidentRecord>, StoreError>;

    /// Records the incident's one public reply (replacing an earlier one).
    async fn record_incident_reply(
        &self,
        id: IncidentId,
        reply: &IncidentNote,
    ) -> Result<Option<IncidentRecord>, StoreError>;

    /// Marks the incident closed (the first closing stands).
    async fn close_incident(
        &self,
        id: IncidentId,
        closing: &IncidentNote,
    ) -> Result<Option<IncidentRecord>, StoreError>;

    /// Every ticket that names the incident, oldest first.
    async fn incident_tickets(&self, id: IncidentId) -> Result<Vec<Ticket>, StoreError>;
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("instant {ms} ms is out of range")))
}

fn note(
    text: Option<String>,
    by: Option<String>,
    at: Option<i64>,
) -> Result<Option<IncidentNote>, StoreError> {
    match (by, at) {
        (Some(by), Some(at)) => Ok(Some(IncidentNote {
            text: text.unwrap_or_default(),
            by,
            at: instant(at)?,
        })),
        _ => Ok(None),
    }
}

fn decode<R: Row>(row: &R) -> Result<IncidentRecord, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let id = IncidentId::parse("incident_id", &id)
        .map_err(|e| StoreError::Corrupt(format!("incident id: {e}")))?;
    let tickets: i64 = row.try_get("tickets")?;
    Ok(IncidentRecord {
        id,
        opened_at: instant(row.try_get("opened_at")?)?,
        opened_by: row.try_get("opened_by")?,
        notice: note(
            row.try_get("notice")?,
            row.try_get("notice_by")?,
            row.try_get("notice_at")?,
        )?,
        reply: note(
            row.try_get("reply")?,
            row.try_get("replied_by")?,
            row.try_get("replied_at")?,
        )?,
        closed: note(None, row.try_get("closed_by")?, row.try_get("closed_at")?)?,
        tickets: u32::try_from(tickets).unwrap_or(u32::MAX),
    })
}

/// The incident's columns with its latest notice and its ticket count; `member` is the
/// backend's expression for a ticket row's incident.
fn select(member: &str) -> String {
    format!(
        "SELECT i.id, i.opened_at, i.opened_by, i.reply, i.replied_at, i.replied_by, \
         i.closed_at, i.closed_by, \
         n.text AS notice, n.posted_by AS notice_by, n.at AS notice_at, \
         (SELECT COUNT(*) FROM tickets t WHERE {member} = i.id) AS tickets \
         FROM incidents i \
         LEFT JOIN incident_notices n ON n.incident_id = i.id AND n.seq = \
         (SELECT MAX(seq) FROM incident_notices m WHERE m.incident_id = i.id)"
    )
}

/// One implementation for both backends: `$p` writes a numbered placeholder, `$member` is a
/// ticket row's incident, `$body` reads the ticket body as text.
macro_rules! incident_store {
    ($store:ty, $p:expr, $member:literal, $body:literal) => {
        #[async_trait]
        impl IncidentStore for $store {
            async fn open_incident(
                &self,
                id: IncidentId,
                by: &str,
                at: DateTime<Utc>,
            ) -> Result<IncidentRecord, StoreError> {
                let p = $p;
                sqlx::query(&format!(
                    "INSERT INTO incidents (id, opened_at, opened_by) VALUES ({}, {}, {}) \
                     ON CONFLICT (id) DO NOTHING",
                    p(1),
                    p(2),
                    p(3)
                ))
                .bind(id.to_string())
                .bind(millis(at))
                .bind(by)
                .execute(&self.pool)
                .await?;
                self.incident(id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("incident {id} vanished after it was opened"))
                })
            }

            async fn incident(
                &self,
                id: IncidentId,
            ) -> Result<Option<IncidentRecord>, StoreError> {
                let p = $p;
                let row = sqlx::query(&format!("{} WHERE i.id = {}", select($member), p(1)))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(decode).transpose()
            }

            async fn incidents(
                &self,
                closed_too: bool,
                limit: u32,
            ) -> Result<Vec<IncidentRecord>, StoreError> {
                let p = $p;
                let filter = if closed_too {
                    ""
                } else {
                    "WHERE i.closed_at IS NULL"
                };
                let rows = sqlx::query(&format!(
                    "{} {filter} ORDER BY i.opened_at DESC, i.id DESC LIMIT {}",
                    select($member),
                    p(1)
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(decode).collect()
            }

            async fn post_incident_notice(
                &self,
                id: IncidentId,
                notice: &IncidentNote,
            ) -> Result<Option<IncidentRecord>, StoreError> {
                let p = $p;
                // Two supervisors posting at once may take the same number: the loser takes
                // the next one.
                for _ in 0..5 {
                    let inserted = sqlx::query(&format!(
                        "INSERT INTO incident_notices (incident_id, seq, text, posted_by, at) \
                         SELECT i.id, COALESCE((SELECT MAX(seq) FROM incident_notices \
                         WHERE incident_id = i.id), 0) + 1, {}, {}, {} \
                         FROM incidents i WHERE i.id = {} \
                         ON CONFLICT (incident_id, seq) DO NOTHING",
                        p(1),
                        p(2),
                        p(3),
                        p(4)
                    ))
                    .bind(&notice.text)
                    .bind(&notice.by)
                    .bind(millis(notice.at))
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    if inserted > 0 {
                        return self.incident(id).await;
                    }
                    if self.incident(id).await?.is_none() {
                        return Ok(None);
                    }
                }
                Err(StoreError::Unavailable(format!(
                    "notices kept being posted on incident {id} at once; post it again"
                )))
            }

            async fn record_incident_reply(
                &self,
                id: IncidentId,
                reply: &IncidentNote,
            ) -> Result<Option<IncidentRecord>, StoreError> {
                let p = $p;
                sqlx::query(&format!(
                    "UPDATE incidents SET reply = {}, replied_by = {}, replied_at = {} \
                     WHERE id = {}",
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ))
                .bind(&reply.text)
                .bind(&reply.by)
                .bind(millis(reply.at))
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                self.incident(id).await
            }

            async fn close_incident(
                &self,
                id: IncidentId,
                closing: &IncidentNote,
            ) -> Result<Option<IncidentRecord>, StoreError> {
                let p = $p;
                sqlx::query(&format!(
                    "UPDATE incidents SET closed_by = {}, closed_at = {} \
                     WHERE id = {} AND closed_at IS NULL",
                    p(1),
                    p(2),
                    p(3)
                ))
                .bind(&closing.by)
                .bind(millis(closing.at))
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                self.incident(id).await
            }

            async fn incident_tickets(&self, id: IncidentId) -> Result<Vec<Ticket>, StoreError> {
                let p = $p;
                let rows = sqlx::query(&format!(
                    "SELECT {} AS body FROM tickets t WHERE {} = {} ORDER BY t.created_at, t.id",
                    $body,
                    $member,
                    p(1)
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                let mut tickets = Vec::with_capacity(rows.len());
                for row in &rows {
                    let body: String = row.try_get("body")?;
                    tickets.push(decode_ticket(&body)?);
                }
                // The lead first: it is the one the station works on.
                let lead: TicketId = id.lead();
                tickets.sort_by_key(|t| t.id != lead);
                Ok(tickets)
            }
        }
    };
}

incident_store!(
    SqliteStore,
    |n: usize| format!("?{n}"),
    "t.incident_id",
    "t.body"
);
incident_store!(
    PgStore,
    |n: usize| format!("${n}"),
    "t.incident_id",
    "t.body::text"
);
