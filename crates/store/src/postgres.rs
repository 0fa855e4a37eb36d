//! PostgreSQL, the production system of record.
//!
//! Each write is a single statement: a data-modifying CTE writes the ticket row and, only if that
//! succeeded, its event. One round trip and one commit per change keeps submits close to the
//! speed of a plain one-row insert.

use async_trait::async_trait;
use hotline_core::{CategoryCode, DivisionCode, Event, Stage, Ticket, TicketId};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::row::{
    check_events, decode_event, decode_ticket, encode_event, encode_ticket, like_escape,
    version_i64,
};
use crate::{Created, SearchQuery, StoreError, TicketStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and runs the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn current_version(&self, id: TicketId) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT version FROM tickets WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }
}

/// Events as parallel arrays, for one `UNNEST` insert.
struct EventColumns {
    seq: Vec<i64>,
    at: Vec<chrono::DateTime<chrono::Utc>>,
    kind: Vec<&'static str>,
    stage: Vec<&'static str>,
    actor: Vec<String>,
    action: Vec<String>,
}

impl EventColumns {
    fn of(events: &[Event]) -> Result<Self, StoreError> {
        let mut cols = Self {
            seq: Vec::with_capacity(events.len()),
            at: Vec::with_capacity(events.len()),
            kind: Vec::with_capacity(events.len()),
            stage: Vec::with_capacity(events.len()),
            actor: Vec::with_capacity(events.len()),
            action: Vec::with_capacity(events.len()),
        };
        for event in events {
            let row = encode_event(event)?;
            cols.seq.push(version_i64(event.seq));
            cols.at.push(event.at);
            cols.kind.push(row.kind);
            cols.stage.push(row.stage);
            cols.actor.push(row.actor);
            cols.action.push(row.action);
        }
        Ok(cols)
    }
}

fn ticket_from_row(row: &sqlx::postgres::PgRow) -> Result<Ticket, StoreError> {
    decode_ticket(row.try_get::<&str, _>("body")?)
}

#[async_trait]
impl TicketStore for PgStore {
    async fn create(
        &self,
        ticket: &Ticket,
        events: &[Event],
        fingerprint: &str,
    ) -> Result<Created, StoreError> {
        check_events(ticket, events, 0)?;
        let body = encode_ticket(ticket)?;
        let ev = EventColumns::of(events)?;
        let inserted = sqlx::query(
            "WITH t AS ( \
               INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, \
                 division_code, channel, urgency, category, text, created_at, updated_at, body) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::json) \
               ON CONFLICT (request_id) DO NOTHING RETURNING id) \
             INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) \
             SELECT t.id, e.seq, e.at, e.kind, e.stage, e.actor::json, e.action::json \
             FROM t, UNNEST($15::bigint[], $16::timestamptz[], $17::text[], $18::text[], \
                            $19::text[], $20::text[]) AS e(seq, at, kind, stage, actor, action)",
        )
        .bind(ticket.id.as_uuid())
        .bind(version_i64(ticket.version))
        .bind(ticket.request_id.as_ref().map(|r| r.as_str()))
        .bind(fingerprint)
        .bind(ticket.stage.code())
        .bind(ticket.station.as_ref().map(|s| s.as_str()))
        .bind(ticket.division.as_ref().map(|d| d.as_str()))
        .bind(ticket.channel.code())
        .bind(ticket.urgency.code())
        .bind(ticket.category.as_ref().map(|c| c.as_str()))
        .bind(&ticket.text)
        .bind(ticket.created_at)
        .bind(ticket.updated_at)
        .bind(&body)
        .bind(&ev.seq)
        .bind(&ev.at)
        .bind(&ev.kind)
        .bind(&ev.stage)
        .bind(&ev.actor)
        .bind(&ev.action)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted > 0 {
            return Ok(Created::New(ticket.clone()));
        }
        let request_id = ticket
            .request_id
            .clone()
            .ok_or_else(|| StoreError::Corrupt("insert ignored without a request id".into()))?;
        let row = sqlx::query(
            "SELECT fingerprint, body::text AS body FROM tickets WHERE request_id = $1",
        )
        .bind(request_id.as_str())
        .fetch_one(&self.pool)
        .await?;
        if row.try_get::<Option<&str>, _>("fingerprint")? != Some(fingerprint) {
            return Err(StoreError::RequestIdReused(request_id));
        }
        Ok(Created::Existing(ticket_from_row(&row)?))
    }

    async fn commit(&self, ticket: &Ticket, events: &[Event]) -> Result<(), StoreError> {
        let expected = ticket.version.saturating_sub(events.len() as u64);
        check_events(ticket, events, expected)?;
        let body = encode_ticket(ticket)?;
        let ev = EventColumns::of(events)?;
        let written = sqlx::query(
            "WITH u AS ( \
               UPDATE tickets SET version = $2, stage = $3, station_id = $4, division_code = $5, \
                 urgency = $6, category = $7, updated_at = $8, body = $9::json \
               WHERE id = $1 AND version = $10 RETURNING id) \
             INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) \
             SELECT u.id, e.seq, e.at, e.kind, e.stage, e.actor::json, e.action::json \
             FROM u, UNNEST($11::bigint[], $12::timestamptz[], $13::text[], $14::text[], \
                            $15::text[], $16::text[]) AS e(seq, at, kind, stage, actor, action)",
        )
        .bind(ticket.id.as_uuid())
        .bind(version_i64(ticket.version))
        .bind(ticket.stage.code())
        .bind(ticket.station.as_ref().map(|s| s.as_str()))
        .bind(ticket.division.as_ref().map(|d| d.as_str()))
        .bind(ticket.urgency.code())
        .bind(ticket.category.as_ref().map(|c| c.as_str()))
        .bind(ticket.updated_at)
        .bind(&body)
        .bind(version_i64(expected))
        .bind(&ev.seq)
        .bind(&ev.at)
        .bind(&ev.kind)
        .bind(&ev.stage)
        .bind(&ev.actor)
        .bind(&ev.action)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if written > 0 {
            return Ok(());
        }
        Err(match self.current_version(ticket.id).await? {
            None => StoreError::NotFound(ticket.id),
            Some(actual) => StoreError::Conflict {
                ticket: ticket.id,
                expected,
                actual,
            },
        })
    }

    async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT body::text AS body FROM tickets WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    async fn events(&self, id: TicketId) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, stage, actor::text AS actor, action::text AS action \
             FROM ticket_events WHERE ticket_id = $1 ORDER BY seq",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                decode_event(
                    id,
                    r.try_get("seq")?,
                    r.try_get("at")?,
                    r.try_get("stage")?,
                    r.try_get("actor")?,
                    r.try_get("action")?,
                )
            })
            .collect()
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Ticket>, StoreError> {
        let mut sql: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT body::text AS body FROM tickets WHERE TRUE");
        if let Some(stage) = query.stage {
            sql.push(" AND stage = ").push_bind(stage.code());
        }
        if let Some(station) = &query.station {
            sql.push(" AND station_id = ")
                .push_bind(station.as_str().to_owned());
        }
        if let Some(division) = &query.division {
            sql.push(" AND division_code LIKE ")
                .push_bind(format!("{}%", like_escape(division.as_str())));
        }
        if let Some(text) = &query.text_contains {
            sql.push(" AND text LIKE ")
                .push_bind(format!("%{}%", like_escape(text)));
        }
        if let Some(after) = query.created_after {
            sql.push(" AND created_at >= ").push_bind(after);
        }
        if let Some(before) = query.created_before {
            sql.push(" AND created_at < ").push_bind(before);
        }
        if let Some(since) = query.updated_since {
            sql.push(" AND updated_at >= ").push_bind(since);
        }
        if let Some(id) = query.before_id {
            sql.push(" AND id < ").push_bind(id.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit.max(1)));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn live_in(
        &self,
        division: &DivisionCode,
        category: &CategoryCode,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(TicketId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, text FROM tickets WHERE division_code = $1 AND category = $2 \
             AND stage <> 'closed' AND created_at >= $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(division.as_str())
        .bind(category.as_str())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((TicketId::from_uuid(r.try_get("id")?), r.try_get("text")?)))
            .collect()
    }

    async fn in_stages(&self, stages: &[Stage]) -> Result<Vec<Ticket>, StoreError> {
        let codes: Vec<&str> = stages.iter().map(|s| s.code()).collect();
        let rows =
            sqlx::query("SELECT body::text AS body FROM tickets WHERE stage = ANY($1) ORDER BY id")
                .bind(&codes)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
