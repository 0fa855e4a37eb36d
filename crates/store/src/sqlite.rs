//! The embedded default: one SQLite file under the data directory, WAL journal, full sync.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use hotline_core::{CategoryCode, DivisionCode, Event, Stage, StationId, Ticket, TicketId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::row::{
    candidate_facts, check_events, decode_event, decode_ticket, encode_event, encode_ticket,
    like_escape, parse_ts, tally_from_row, tally_sql, tally_sql_where, ts, version_i64,
    TicketColumns,
};
use crate::{ChangeCursor, Created, LiveSnapshot, SearchQuery, StoreError, TicketStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

/// A pool on the embedded database with the ticket store's settings. Every room that keeps
/// tables in the same file (accounts, KPIs, knowledge) opens its pool here, so a second pool on
/// the file can never weaken them.
pub async fn connect(
    options: SqliteConnectOptions,
    max_connections: u32,
) -> Result<SqlitePool, sqlx::Error> {
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed ticket survives a power cut, not just a process crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
}

impl SqliteStore {
    /// Opens (creating if needed) `hotline.sqlite` in `dir` and runs the migrations.
    pub async fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("cannot create data directory {}: {e}", dir.display()).into(),
            ))
        })?;
        let options = SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"));
        Self::open(options).await
    }

    /// Like [`SqliteStore::open_dir`], on one connection: for a single caller that makes one
    /// change after another (the workload simulator). With several connections each query
    /// lands on one whose page cache another connection's write has just invalidated, so
    /// every query reads its pages again; one connection keeps them.
    pub async fn open_dir_single(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("cannot create data directory {}: {e}", dir.display()).into(),
            ))
        })?;
        let options = SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"));
        let store = Self {
            pool: connect(options, 1).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite:///var/lib/hotline/hotline.sqlite`).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    /// Where the database stands against this binary's migrations (nothing is changed).
    pub async fn schema_status(&self) -> Result<crate::SchemaStatus, StoreError> {
        schema_status(&self.pool).await
    }

    /// Applies the pending migrations, after refusing a schema newer than this binary.
    pub async fn migrate(&self) -> Result<crate::SchemaStatus, StoreError> {
        self.schema_status().await?.check_not_newer()?;
        MIGRATOR.run(&self.pool).await?;
        self.schema_status().await
    }

    /// Opens without migrating (for `hotline migrate --dry-run`).
    pub async fn open_dir_unmigrated(dir: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"));
        Self::open_pool(options).await
    }

    /// Opens a `sqlite:` URL without migrating.
    pub async fn open_url_unmigrated(url: &str) -> Result<Self, StoreError> {
        Self::open_pool(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let store = Self::open_pool(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn open_pool(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        Ok(Self {
            pool: connect(options, 4).await?,
        })
    }

    async fn current_version(&self, id: TicketId) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT version FROM tickets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }
}

/// `SELECT body FROM tickets WHERE stage IN (...)` [`AND station_id = ...`]; `stages` must not
/// be empty.
fn select_in_stages<'a>(
    stages: &'a [Stage],
    station: Option<&'a StationId>,
) -> QueryBuilder<'a, Sqlite> {
    let mut sql: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT body FROM tickets WHERE stage IN (");
    let mut list = sql.separated(", ");
    for stage in stages {
        list.push_bind(stage.code());
    }
    sql.push(")");
    if let Some(station) = station {
        sql.push(" AND station_id = ").push_bind(station.as_str());
    }
    sql
}

pub(crate) async fn schema_status(pool: &SqlitePool) -> Result<crate::SchemaStatus, StoreError> {
    let exists: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    let applied: Vec<i64> = if exists.is_some() {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(crate::SchemaStatus::of(&MIGRATOR, applied))
}

fn ticket_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Ticket, StoreError> {
    decode_ticket(row.try_get::<&str, _>("body")?)
}

#[async_trait]
impl TicketStore for SqliteStore {
    async fn create(
        &self,
        ticket: &Ticket,
        events: &[Event],
        fingerprint: &str,
    ) -> Result<Created, StoreError> {
        check_events(ticket, events, 0)?;
        let body = encode_ticket(ticket)?;
        let mut tx = self.pool.begin().await?;
        let insert = sqlx::query(
            "INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, \
             division_code, channel, urgency, category, text, created_at, updated_at, body, \
             sign_for_due, first_contact_due, resolution_due, callback_due, warning, \
             contact_warning, contacted, paused, incident_id, caller_phone, submitted_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, julianday(?), julianday(?), \
             julianday(?), julianday(?), ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(ticket.id.to_string())
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
        .bind(ts(ticket.created_at))
        .bind(ts(ticket.updated_at))
        .bind(&body);
        let inserted = bind_columns(insert, &TicketColumns::of(ticket))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            let request_id = ticket
                .request_id
                .clone()
                .ok_or_else(|| StoreError::Corrupt("insert ignored without a request id".into()))?;
            let row = sqlx::query("SELECT fingerprint, body FROM tickets WHERE request_id = ?")
                .bind(request_id.as_str())
                .fetch_one(&self.pool)
                .await?;
            if row.try_get::<Option<&str>, _>("fingerprint")? != Some(fingerprint) {
                return Err(StoreError::RequestIdReused(request_id));
            }
            return Ok(Created::Existing(ticket_from_row(&row)?));
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Created::New(ticket.clone()))
    }

    async fn commit(&self, ticket: &Ticket, events: &[Event]) -> Result<(), StoreError> {
        let expected = ticket.version.saturating_sub(events.len() as u64);
        check_events(ticket, events, expected)?;
        let body = encode_ticket(ticket)?;
        let mut tx = self.pool.begin().await?;
        let update = sqlx::query(
            "UPDATE tickets SET version = ?, stage = ?, station_id = ?, division_code = ?, \
             urgency = ?, category = ?, updated_at = ?, body = ?, \
             sign_for_due = julianday(?), first_contact_due = julianday(?), \
             resolution_due = julianday(?), callback_due = julianday(?), warning = ?, \
             contact_warning = ?, contacted = ?, paused = ?, incident_id = ?, caller_phone = ?, \
             submitted_by = ? WHERE id = ? AND version = ?",
        )
        .bind(version_i64(ticket.version))
        .bind(ticket.stage.code())
        .bind(ticket.station.as_ref().map(|s| s.as_str()))
        .bind(ticket.division.as_ref().map(|d| d.as_str()))
        .bind(ticket.urgency.code())
        .bind(ticket.category.as_ref().map(|c| c.as_str()))
        .bind(ts(ticket.updated_at))
        .bind(&body);
        let updated = bind_columns(update, &TicketColumns::of(ticket))
            .bind(ticket.id.to_string())
            .bind(version_i64(expected))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Err(match self.current_version(ticket.id).await? {
                None => StoreError::NotFound(ticket.id),
                Some(actual) => StoreError::Conflict {
                    ticket: ticket.id,
                    expected,
                    actual,
                },
            });
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT body FROM tickets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    async fn events(&self, id: TicketId) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, stage, actor, action FROM ticket_events WHERE ticket_id = ? ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                decode_event(
                    id,
                    r.try_get("seq")?,
                    parse_ts(r.try_get("at")?)?,
                    r.try_get("stage")?,
                    r.try_get("actor")?,
                    r.try_get("action")?,
                )
            })
            .collect()
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Ticket>, StoreError> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT body FROM tickets WHERE 1 = 1");
        if let Some(stage) = query.stage {
            sql.push(" AND stage = ").push_bind(stage.code());
        }
        if let Some(station) = &query.station {
            sql.push(" AND station_id = ")
                .push_bind(station.as_str().to_owned());
        }
        if let Some(division) = &query.division {
            sql.push(" AND division_code LIKE ")
                .push_bind(format!("{}%", like_escape(division.as_str())))
                .push(" ESCAPE '\\'");
        }
        if let Some(text) = &query.text_contains {
            sql.push(" AND text LIKE ")
                .push_bind(format!("%{}%", like_escape(text)))
                .push(" ESCAPE '\\'");
        }
        if let Some(after) = query.created_after {
            sql.push(" AND created_at >= ").push_bind(ts(after));
        }
        if let Some(before) = query.created_before {
            sql.push(" AND created_at < ").push_bind(ts(before));
        }
        if let Some(since) = query.updated_since {
            sql.push(" AND updated_at >= ").push_bind(ts(since));
        }
        if let Some(who) = &query.submitted_by {
            sql.push(" AND submitted_by = ")
                .push_bind(who.as_str().to_owned());
        }
        if let Some(phone) = &query.caller_phone {
            sql.push(" AND caller_phone = ").push_bind(phone.clone());
        }
        if let Some(id) = query.before_id {
            sql.push(" AND id < ").push_bind(id.to_string());
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
            "SELECT id, text FROM tickets WHERE division_code = ? AND category = ? \
             AND stage <> 'closed' AND created_at >= ? ORDER BY id DESC LIMIT ?",
        )
        .bind(division.as_str())
        .bind(category.as_str())
        .bind(ts(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: &str = r.try_get("id")?;
                let id =
                    TicketId::parse("id", id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((id, r.try_get("text")?))
            })
            .collect()
    }

    async fn in_stages(&self, stages: &[Stage]) -> Result<Vec<Ticket>, StoreError> {
        if stages.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = select_in_stages(stages, None);
        sql.push(" ORDER BY id");
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn live_snapshot(&self, stages: &[Stage]) -> Result<LiveSnapshot, StoreError> {
        // One read transaction: in WAL mode its first read fixes the snapshot both reads see.
        let mut tx = self.pool.begin().await?;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM ticket_events")
            .fetch_one(&mut *tx)
            .await?;
        let mut tickets = Vec::new();
        if !stages.is_empty() {
            let mut sql = select_in_stages(stages, None);
            sql.push(" ORDER BY id");
            let rows = sql.build().fetch_all(&mut *tx).await?;
            tickets = rows.iter().map(ticket_from_row).collect::<Result<_, _>>()?;
        }
        tx.commit().await?;
        Ok(LiveSnapshot {
            tickets,
            cursor: ChangeCursor(last.to_string()),
        })
    }

    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM ticket_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(ChangeCursor(last.to_string()))
    }

    async fn live_page(
        &self,
        stages: &[Stage],
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        if stages.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = select_in_stages(stages, None);
        // Ids are stored as lowercase hyphenated text: text order is id order.
        if let Some(after) = after {
            sql.push(" AND id > ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn changed_since(
        &self,
        cursor: &ChangeCursor,
    ) -> Result<(Vec<TicketId>, ChangeCursor), StoreError> {
        let since: i64 = cursor
            .as_str()
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{cursor:?} is not a SQLite cursor")))?;
        // SQLite has one writer: events get rowids in commit order, so "after the last rowid
        // seen" is "committed since".
        let mut tx = self.pool.begin().await?;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM ticket_events")
            .fetch_one(&mut *tx)
            .await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM ticket_events WHERE rowid > ? AND rowid <= ?",
        )
        .bind(since)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let ids = ids
            .iter()
            .map(|id| TicketId::parse("id", id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok((ids, ChangeCursor(last.max(since).to_string())))
    }

    async fn stage_page(
        &self,
        station: Option<&StationId>,
        stage: Stage,
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        let stages = [stage];
        let mut sql = select_in_stages(&stages, station);
        // Ids are stored as lowercase hyphenated text: text order is id order.
        if let Some(after) = after {
            sql.push(" AND id > ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn get_many(&self, ids: &[TicketId]) -> Result<Vec<Ticket>, StoreError> {
        let mut tickets = Vec::with_capacity(ids.len());
        // Bounded IN lists (SQLite's bind limit).
        for chunk in ids.chunks(500) {
            let mut sql: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT body FROM tickets WHERE id IN (");
            let mut list = sql.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            sql.push(")");
            for row in sql.build().fetch_all(&self.pool).await? {
                tickets.push(ticket_from_row(&row)?);
            }
        }
        Ok(tickets)
    }

    async fn versions(
        &self,
        ids: &[TicketId],
    ) -> Result<std::collections::HashMap<TicketId, u64>, StoreError> {
        let mut versions = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut sql: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT id, version FROM tickets WHERE id IN (");
            let mut list = sql.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            sql.push(")");
            for row in sql.build().fetch_all(&self.pool).await? {
                let id: &str = row.try_get("id")?;
                let id =
                    TicketId::parse("id", id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                versions.insert(id, row.try_get::<i64, _>("version")?.max(0) as u64);
            }
        }
        Ok(versions)
    }

    async fn duplicate_facts(
        &self,
        ids: &[TicketId],
    ) -> Result<Vec<crate::CandidateFacts>, StoreError> {
        let mut facts = Vec::with_capacity(ids.len());
        // Bounded IN lists (SQLite's bind limit).
        for chunk in ids.chunks(500) {
            let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT id, stage, division_code, category, created_at, text FROM tickets \
                 WHERE id IN (",
            );
            let mut list = sql.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            sql.push(")");
            for row in sql.build().fetch_all(&self.pool).await? {
                let id: &str = row.try_get("id")?;
                let id =
                    TicketId::parse("id", id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                facts.push(candidate_facts(
                    id,
                    row.try_get("stage")?,
                    row.try_get("division_code")?,
                    row.try_get("category")?,
                    parse_ts(row.try_get("created_at")?)?,
                    row.try_get("text")?,
                )?);
            }
        }
        Ok(facts)
    }

    async fn live_tally(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::LiveTally>, StoreError> {
        // Deadlines are Julian days (see migration 0014), and so is now.
        let sql = tally_sql("clock AS (SELECT julianday(?) AS tally_now)");
        let rows = sqlx::query(&sql)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tally_from_row).collect()
    }

    async fn live_tally_part(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        stage: Stage,
        codes: &crate::CodeRange,
    ) -> Result<Vec<crate::LiveTally>, StoreError> {
        use crate::CodeRange;
        let filter = match codes {
            CodeRange::Missing => " AND stage = ? AND division_code IS NULL",
            CodeRange::Below(_) => " AND stage = ? AND division_code < ?",
            CodeRange::Between(..) => " AND stage = ? AND division_code >= ? AND division_code < ?",
            CodeRange::From(_) => " AND stage = ? AND division_code >= ?",
        };
        let sql = tally_sql_where("clock AS (SELECT julianday(?) AS tally_now)", filter);
        let query = sqlx::query(&sql).bind(ts(now)).bind(stage.code());
        let query = match codes {
            CodeRange::Missing => query,
            CodeRange::Below(code) | CodeRange::From(code) => query.bind(code.as_str()),
            CodeRange::Between(from, to) => query.bind(from.as_str()).bind(to.as_str()),
        };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(tally_from_row).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Binds a ticket's [`TicketColumns`], in their order, as the statement's next parameters
/// (deadlines as text, for the statement's `julianday(?)`).
fn bind_columns<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    columns: &TicketColumns,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    query
        .bind(columns.sign_for_due.map(ts))
        .bind(columns.first_contact_due.map(ts))
        .bind(columns.resolution_due.map(ts))
        .bind(columns.callback_due.map(ts))
        .bind(columns.warning)
        .bind(columns.contact_warning)
        .bind(columns.contacted)
        .bind(columns.paused)
        .bind(columns.incident_id.clone())
        .bind(columns.caller_phone.clone())
        .bind(columns.submitted_by.clone())
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    event: &Event,
) -> Result<(), StoreError> {
    let ev = encode_event(event)?;
    sqlx::query(
        "INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.ticket_id.to_string())
    .bind(version_i64(event.seq))
    .bind(ts(event.at))
    .bind(ev.kind)
    .bind(ev.stage)
    .bind(&ev.actor)
    .bind(&ev.action)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tickets written before migrations 0014 and 0018 get their columns from their bodies:
    /// the tally, the incident counts and the searches by phone or integrator read them, never
    /// the bodies.
    #[tokio::test]
    async fn migrations_fill_the_columns_from_older_tickets_bodies() {
        let dir = crate::testing::TempDir::new();
        let options = SqliteConnectOptions::new().filename(dir.path().join("hotline.sqlite"));
        let pool = connect(options.clone(), 1).await.unwrap();
        let before_0014 = sqlx::migrate::Migrator {
            migrations: MIGRATOR
                .iter()
                .filter(|m| m.version < 14)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before_0014.run(&pool).await.unwrap();
        let tickets = crate::row::tickets_before_the_columns();
        for ticket in &tickets {
            sqlx::query(
                "INSERT INTO tickets (id, version, stage, station_id, division_code, channel, \
                 urgency, text, created_at, updated_at, body) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(ticket.id.to_string())
            .bind(version_i64(ticket.version))
            .bind(ticket.stage.code())
            .bind(ticket.station.as_ref().map(|s| s.as_str()))
            .bind(ticket.division.as_ref().map(|d| d.as_str()))
            .bind(ticket.channel.code())
            .bind(ticket.urgency.code())
            .bind(&ticket.text)
            .bind(ts(ticket.created_at))
            .bind(ts(ticket.updated_at))
            .bind(encode_ticket(ticket).unwrap())
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = SqliteStore::open(options).await.unwrap();
        // Julian days back to instants (to the millisecond, as `julianday` keeps them).
        let instant = |raw: Option<String>| raw.map(|r| parse_ts(&r).unwrap());
        for ticket in &tickets {
            let row = sqlx::query(
                "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', sign_for_due) AS sign_for_due, \
                 strftime('%Y-%m-%dT%H:%M:%fZ', first_contact_due) AS first_contact_due, \
                 strftime('%Y-%m-%dT%H:%M:%fZ', resolution_due) AS resolution_due, \
                 strftime('%Y-%m-%dT%H:%M:%fZ', callback_due) AS callback_due, warning, \
                 contact_warning, contacted, paused, incident_id, caller_phone, submitted_by \
                 FROM tickets WHERE id = ?",
            )
            .bind(ticket.id.to_string())
            .fetch_one(&store.pool)
            .await
            .unwrap();
            let stored = TicketColumns {
                sign_for_due: instant(row.get("sign_for_due")),
                first_contact_due: instant(row.get("first_contact_due")),
                resolution_due: instant(row.get("resolution_due")),
                callback_due: instant(row.get("callback_due")),
                warning: row.get("warning"),
                contact_warning: row.get("contact_warning"),
                contacted: row.get("contacted"),
                paused: row.get("paused"),
                incident_id: row.get("incident_id"),
                caller_phone: row.get("caller_phone"),
                submitted_by: row.get("submitted_by"),
            };
            assert_eq!(stored, TicketColumns::of(ticket), "{}", ticket.text);
        }
    }
}
