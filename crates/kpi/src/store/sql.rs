//! The KPI tables in SQLite and PostgreSQL. The aggregate SQL is written once (a macro compiles
//! it for both); what differs is how each finds the changes since its cursor: the last event's
//! rowid on SQLite (one writer: rowid order is commit order), a transaction snapshot on
//! PostgreSQL (the store's change log, `ticket_events.xid`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{Event, Stage, Ticket, TicketId};
use hotline_sla::WorkingCalendar;
use hotline_store::{decode_event, decode_ticket, parse_ts};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Sqlite, SqlitePool};

use super::{accumulate, metric_columns, Dim, Grain, KpiStore, Pace, RowKey, SumQuery};
use crate::definitions::{Counts, Metric};
use crate::facts::{derive, Fact};
use crate::hotspot::{Intake, IntakeHour};
use crate::scope::Scope;
use crate::KpiError;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Rows per multi-row upsert on SQLite: 36 parameters each stays far under its limit.
const UPSERT_CHUNK: usize = 200;
/// Tickets per read of logs and stored facts.
const READ_CHUNK: usize = 500;

fn live_stage_codes() -> Vec<&'static str> {
    Stage::ALL
        .iter()
        .filter(|s| s.is_live())
        .map(|s| s.code())
        .collect()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> KpiError {
    KpiError::Corrupt(format!("{what}: {e}"))
}

/// The deltas of replacing each ticket's stored facts by the ones its log gives now.
fn deltas_of(
    logs: &HashMap<String, Vec<Event>>,
    stored: &HashMap<String, Vec<Fact>>,
    calendar: &WorkingCalendar,
) -> (HashMap<RowKey, Counts>, Vec<(String, String)>) {
    let mut deltas = HashMap::new();
    let mut new_facts = Vec::with_capacity(logs.len());
    for (id, events) in logs {
        let facts = derive(events, calendar);
        if let Some(old) = stored.get(id) {
            if *old == facts {
                continue;
            }
            accumulate(&mut deltas, old, -1);
        }
        accumulate(&mut deltas, &facts, 1);
        let json = serde_json::to_string(&facts).expect("facts serialise");
        new_facts.push((id.clone(), json));
    }
    deltas.retain(|_, c| !c.is_zero());
    (deltas, new_facts)
}

/// The reads and writes of the follower's step as SQL with one bind per value (`IN (...)`,
/// multi-row `VALUES`): SQLite's. PostgreSQL binds one array per column instead ([`pg_sql`]).
macro_rules! kpi_values_sql {
    ($db:ty) => {
        pub(super) async fn stored_facts(
            conn: &mut <$db as sqlx::Database>::Connection,
            ids: &[String],
        ) -> Result<HashMap<String, Vec<Fact>>, KpiError> {
            let mut out = HashMap::new();
            for chunk in ids.chunks(READ_CHUNK) {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT ticket_id, facts FROM kpi_ticket_facts WHERE ticket_id IN (",
                );
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                qb.push(")");
                for row in qb.build().fetch_all(&mut *conn).await? {
                    let id: String = row.try_get("ticket_id")?;
                    let raw: String = row.try_get("facts")?;
                    let facts =
                        serde_json::from_str(&raw).map_err(|e| corrupt("stored facts", e))?;
                    out.insert(id, facts);
                }
            }
            Ok(out)
        }

        pub(super) async fn write(
            conn: &mut <$db as sqlx::Database>::Connection,
            deltas: HashMap<RowKey, Counts>,
            facts: Vec<(String, String)>,
        ) -> Result<(), KpiError> {
            let columns = metric_columns();
            let mut by_grain: BTreeMap<Grain, Vec<(RowKey, Counts)>> = BTreeMap::new();
            for (key, counts) in deltas {
                by_grain.entry(key.grain).or_default().push((key, counts));
            }
            for (grain, rows) in by_grain {
                let table = grain.table();
                let set = Metric::ALL
                    .iter()
                    .map(|m| format!("{c} = {table}.{c} + excluded.{c}", c = m.column()))
                    .collect::<Vec<_>>()
                    .join(", ");
                for chunk in rows.chunks(UPSERT_CHUNK) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!(
                        "INSERT INTO {table} (bucket, dim, station, division, key, {columns}) "
                    ));
                    qb.push_values(chunk, |mut b, (key, counts)| {
                        b.push_bind(key.bucket)
                            .push_bind(key.dim.code())
                            .push_bind(key.station.clone())
                            .push_bind(key.division.clone())
                            .push_bind(key.key.clone());
                        for value in &counts.0 {
                            b.push_bind(*value);
                        }
                    });
                    qb.push(format!(
                        " ON CONFLICT (bucket, dim, station, division, key) DO UPDATE SET {set}"
                    ));
                    qb.build().execute(&mut *conn).await?;
                }
            }
            for chunk in facts.chunks(UPSERT_CHUNK) {
                let mut qb: QueryBuilder<$db> =
                    QueryBuilder::new("INSERT INTO kpi_ticket_facts (ticket_id, facts) ");
                qb.push_values(chunk, |mut b, (id, json)| {
                    b.push_bind(id.clone()).push_bind(json.clone());
                });
                qb.push(" ON CONFLICT (ticket_id) DO UPDATE SET facts = excluded.facts");
                qb.build().execute(&mut *conn).await?;
            }
            Ok(())
        }
    };
}

macro_rules! kpi_sql {
    ($db:ty, $ph:expr) => {
        pub(super) async fn sum_rows(
            pool: &sqlx::Pool<$db>,
            query: &SumQuery,
        ) -> Result<Vec<(String, Counts)>, KpiError> {
            let sums = Metric::ALL
                .iter()
                .map(|m| format!("CAST(SUM({c}) AS BIGINT) AS {c}", c = m.column()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!(
                "SELECT {} AS g, {sums} FROM {} WHERE dim = ",
                query.group.sql(),
                query.grain.table()
            ));
            qb.push_bind(query.dim.code());
            qb.push(" AND bucket >= ").push_bind(query.from_ms);
            qb.push(" AND bucket < ").push_bind(query.to_ms);
            match &query.scope {
                Scope::All => {}
                Scope::Division(code) => {
                    qb.push(" AND division LIKE ").push_bind(format!("{code}%"));
                }
                Scope::Station(id) => {
                    qb.push(" AND station = ").push_bind(id.clone());
                }
            }
            qb.push(" GROUP BY g");
            let mut out = Vec::new();
            for row in qb.build().fetch_all(pool).await? {
                let group: String = row.try_get("g")?;
                let mut counts = Counts::default();
                for metric in Metric::ALL {
                    let value: Option<i64> = row.try_get(metric.column())?;
                    counts.add(*metric, value.unwrap_or(0));
                }
                out.push((group, counts));
            }
            Ok(out)
        }

        pub(super) async fn all_rows(
            pool: &sqlx::Pool<$db>,
        ) -> Result<BTreeMap<RowKey, Counts>, KpiError> {
            let columns = metric_columns();
            let mut out = BTreeMap::new();
            for grain in [Grain::Hour, Grain::Day, Grain::Month] {
                let sql = format!(
                    "SELECT bucket, dim, station, division, key, {columns} FROM {}",
                    grain.table()
                );
                for row in sqlx::query(&sql).fetch_all(pool).await? {
                    let mut counts = Counts::default();
                    for metric in Metric::ALL {
                        counts.add(*metric, row.try_get(metric.column())?);
                    }
                    if counts.is_zero() {
                        continue;
                    }
                    let dim: String = row.try_get("dim")?;
                    out.insert(
                        RowKey {
                            grain,
                            bucket: row.try_get("bucket")?,
                            dim: Dim::parse(&dim)?,
                            station: row.try_get("station")?,
                            division: row.try_get("division")?,
                            key: row.try_get("key")?,
                        },
                        counts,
                    );
                }
            }
            Ok(out)
        }

        pub(super) async fn prune(
            pool: &sqlx::Pool<$db>,
            before: DateTime<Utc>,
        ) -> Result<u64, KpiError> {
            let sql = format!("DELETE FROM kpi_hourly WHERE bucket < {}", $ph(1));
            Ok(sqlx::query(&sql)
                .bind(before.timestamp_millis())
                .execute(pool)
                .await?
                .rows_affected())
        }
    };
}

mod sqlite_sql {
    use super::*;
    kpi_sql!(Sqlite, |_n: u32| "?".to_owned());
    kpi_values_sql!(Sqlite);
}

/// PostgreSQL's step reads and writes bind one array per column (`= ANY($1)`, `UNNEST`): one
/// statement text per table whatever the number of rows, prepared once per connection. The
/// multi-row `VALUES` upsert SQLite uses cost PostgreSQL a parse, a plan and 7,200 binds per
/// 200 rows, and a new statement for every batch of another length; a routed submit adds
/// about seven aggregate rows, so that was a large part of its database time (issue 13, the
/// routed ratio).
mod pg_sql {
    use super::*;
    kpi_sql!(Postgres, |n: u32| format!("${n}"));

    /// Rows per aggregate upsert: a bound on one statement's arrays when a step finds many
    /// tickets (after a pause, or the first step over a whole store). A 5 s step at 750
    /// routed submits a second writes about 9,000 rows a table: two statements.
    const UPSERT_ROWS: usize = 5_000;

    pub(super) async fn stored_facts(
        conn: &mut sqlx::PgConnection,
        ids: &[String],
        pace: Pace,
    ) -> Result<HashMap<String, Vec<Fact>>, KpiError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(READ_CHUNK) {
            let rows = pace
                .run(
                    sqlx::query(
                        "SELECT ticket_id, facts FROM kpi_ticket_facts WHERE ticket_id = ANY($1)",
                    )
                    .bind(chunk)
                    .fetch_all(&mut *conn),
                )
                .await?;
            for row in rows {
                let id: String = row.try_get("ticket_id")?;
                let raw: &str = row.try_get("facts")?;
                let facts = serde_json::from_str(raw).map_err(|e| corrupt("stored facts", e))?;
                out.insert(id, facts);
            }
        }
        Ok(out)
    }

    /// The upsert of one aggregate table: key columns, then the metrics in [`Metric::ALL`]
    /// order, each an array.
    fn upsert_sql(grain: Grain) -> String {
        let table = grain.table();
        let arrays = (6..6 + Metric::ALL.len())
            .map(|n| format!("${n}::bigint[]"))
            .collect::<Vec<_>>()
            .join(", ");
        let set = Metric::ALL
            .iter()
            .map(|m| format!("{c} = {table}.{c} + excluded.{c}", c = m.column()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO {table} (bucket, dim, station, division, key, {columns}) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                  {arrays}) \
             ON CONFLICT (bucket, dim, station, division, key) DO UPDATE SET {set}",
            columns = metric_columns()
        )
    }

    pub(super) async fn write(
        conn: &mut sqlx::PgConnection,
        deltas: HashMap<RowKey, Counts>,
        facts: Vec<(String, String)>,
        pace: Pace,
    ) -> Result<(), KpiError> {
        let per_statement = pace.rows_per_statement(UPSERT_ROWS);
        // In key order, so that neighbouring rows of a statement share index pages.
        let mut rows: Vec<(RowKey, Counts)> = deltas.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for grain in [Grain::Hour, Grain::Day, Grain::Month] {
            let of_grain: Vec<&(RowKey, Counts)> =
                rows.iter().filter(|(key, _)| key.grain == grain).collect();
            if of_grain.is_empty() {
                continue;
            }
            let sql = upsert_sql(grain);
            for chunk in of_grain.chunks(per_statement) {
                let mut query = sqlx::query(&sql)
                    .bind(chunk.iter().map(|(k, _)| k.bucket).collect::<Vec<i64>>())
                    .bind(chunk.iter().map(|(k, _)| k.dim.code()).collect::<Vec<_>>())
                    .bind(
                        chunk
                            .iter()
                            .map(|(k, _)| k.station.as_str())
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|(k, _)| k.division.as_str())
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        chunk
                            .iter()
                            .map(|(k, _)| k.key.as_str())
                            .collect::<Vec<_>>(),
                    );
                for metric in 0..Metric::ALL.len() {
                    query =
                        query.bind(chunk.iter().map(|(_, c)| c.0[metric]).collect::<Vec<i64>>());
                }
                pace.run(query.execute(&mut *conn)).await?;
            }
        }
        for chunk in facts.chunks(per_statement) {
            let upsert = sqlx::query(
                "INSERT INTO kpi_ticket_facts (ticket_id, facts) \
                 SELECT * FROM UNNEST($1::text[], $2::text[]) \
                 ON CONFLICT (ticket_id) DO UPDATE SET facts = excluded.facts",
            )
            .bind(chunk.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|(_, json)| json.as_str())
                    .collect::<Vec<_>>(),
            );
            pace.run(upsert.execute(&mut *conn)).await?;
        }
        Ok(())
    }
}

/// The KPI tables in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteKpis {
    pool: SqlitePool,
}

impl SqliteKpis {
    /// Opens `hotline.sqlite` in `dir`, the file `hotline serve` uses.
    pub async fn open_dir(dir: &Path) -> Result<Self, KpiError> {
        Self::open(SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"))).await
    }

    pub async fn open_url(url: &str) -> Result<Self, KpiError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, KpiError> {
        // The ticket store's settings, from the ticket store (one file, one set of settings).
        let pool = hotline_store::sqlite::connect(options, 2).await?;
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| KpiError::Database(e.into()))?;
        Ok(Self { pool })
    }
}

async fn sqlite_logs(
    conn: &mut sqlx::SqliteConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<Event>>, KpiError> {
    let mut logs: HashMap<String, Vec<Event>> = HashMap::new();
    for chunk in ids.chunks(READ_CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT ticket_id, seq, at, stage, actor, action FROM ticket_events WHERE ticket_id IN (",
        );
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.clone());
        }
        qb.push(") ORDER BY ticket_id, seq");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let id: String = row.try_get("ticket_id")?;
            let ticket = TicketId::parse("ticket_id", &id).map_err(|e| corrupt("ticket id", e))?;
            let event = decode_event(
                ticket,
                row.try_get("seq")?,
                parse_ts(row.try_get("at")?)?,
                row.try_get("stage")?,
                row.try_get("actor")?,
                row.try_get("action")?,
            )?;
            logs.entry(id).or_default().push(event);
        }
    }
    Ok(logs)
}

#[async_trait]
impl KpiStore for SqliteKpis {
    // Unpaced: the step holds SQLite's one write lock, so a pause would hold every submit.
    async fn catch_up(&self, calendar: &WorkingCalendar, _: Pace) -> Result<usize, KpiError> {
        let mut tx = self.pool.begin().await?;
        // Writing first takes SQLite's one write lock: no commit can land while this step
        // reads, so the rowid it stops at is exact.
        sqlx::query("UPDATE kpi_state SET cursor = cursor WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let cursor: Option<String> =
            sqlx::query_scalar("SELECT cursor FROM kpi_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let after: i64 = match cursor {
            Some(raw) => raw.parse().map_err(|e| corrupt("KPI cursor", e))?,
            None => 0,
        };
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM ticket_events")
            .fetch_one(&mut *tx)
            .await?;
        if last <= after {
            tx.rollback().await?;
            return Ok(0);
        }
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM ticket_events WHERE rowid > ?1 AND rowid <= ?2",
        )
        .bind(after)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        let logs = sqlite_logs(&mut tx, &ids).await?;
        let stored = sqlite_sql::stored_facts(&mut tx, &ids).await?;
        let (deltas, facts) = deltas_of(&logs, &stored, calendar);
        sqlite_sql::write(&mut tx, deltas, facts).await?;
        sqlx::query("UPDATE kpi_state SET cursor = ?1 WHERE id = 1")
            .bind(last.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids.len())
    }

    async fn changes(&self, cursor: Option<&str>) -> Result<(Vec<String>, String), KpiError> {
        let mut conn = self.pool.acquire().await?;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM ticket_events")
            .fetch_one(&mut *conn)
            .await?;
        let Some(cursor) = cursor else {
            return Ok((Vec::new(), last.to_string()));
        };
        let after: i64 = cursor.parse().map_err(|e| corrupt("change cursor", e))?;
        let ids = sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM ticket_events WHERE rowid > ?1 AND rowid <= ?2",
        )
        .bind(after)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        Ok((ids, last.max(after).to_string()))
    }

    async fn sum(&self, query: &SumQuery) -> Result<Vec<(String, Counts)>, KpiError> {
        sqlite_sql::sum_rows(&self.pool, query).await
    }

    async fn live_tickets(&self, scope: &Scope) -> Result<Vec<Ticket>, KpiError> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT body FROM tickets WHERE stage IN (");
        let mut list = qb.separated(", ");
        for code in live_stage_codes() {
            list.push_bind(code);
        }
        qb.push(")");
        push_scope_filter(&mut qb, scope);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(decode_ticket(r.try_get("body")?)?))
            .collect()
    }

    async fn logs_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<Event>)>, KpiError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM tickets WHERE id > ?1 ORDER BY id LIMIT ?2")
                .bind(after.unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
        let mut logs = sqlite_logs(&mut conn, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let events = logs.remove(&id).unwrap_or_default();
                (id, events)
            })
            .collect())
    }

    async fn rows(&self) -> Result<BTreeMap<RowKey, Counts>, KpiError> {
        sqlite_sql::all_rows(&self.pool).await
    }

    async fn prune_hourly(&self, before: DateTime<Utc>) -> Result<u64, KpiError> {
        sqlite_sql::prune(&self.pool, before).await
    }

    async fn intake_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<IntakeHour>, Option<DateTime<Utc>>), KpiError> {
        // created_at is RFC 3339 in UTC with a `Z` (the ticket store's format): its first 13
        // characters are the hour, and text order is time order.
        let rows = sqlx::query(
            "SELECT substr(created_at, 1, 13) AS hour, division_code, category, COUNT(*) AS n \
             FROM tickets WHERE created_at >= ?1 AND created_at < ?2 \
               AND division_code IS NOT NULL AND category IS NOT NULL \
             GROUP BY 1, 2, 3",
        )
        .bind(store_ts(from))
        .bind(store_ts(to))
        .fetch_all(&self.pool)
        .await?;
        let earliest: Option<String> = sqlx::query_scalar("SELECT MIN(created_at) FROM tickets")
            .fetch_one(&self.pool)
            .await?;
        let earliest = earliest.map(|raw| parse_ts(&raw)).transpose()?;
        Ok((intake_hour_rows(&rows)?, earliest))
    }

    async fn intake_since(&self, from: DateTime<Utc>) -> Result<Vec<Intake>, KpiError> {
        let rows = sqlx::query(
            "SELECT id, created_at, division_code, category FROM tickets \
             WHERE created_at >= ?1 AND division_code IS NOT NULL AND category IS NOT NULL \
             ORDER BY created_at",
        )
        .bind(store_ts(from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Intake {
                    ticket_id: r.try_get("id")?,
                    at: parse_ts(r.try_get("created_at")?)?,
                    division: r.try_get("division_code")?,
                    category: r.try_get("category")?,
                })
            })
            .collect()
    }
}

/// A time as the ticket store writes it in SQLite (microseconds, `Z`), for range bounds.
fn store_ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Rows of `hour` (`YYYY-MM-DDTHH`, UTC), `division_code`, `category`, `n`.
fn intake_hour_rows<R: Row>(rows: &[R]) -> Result<Vec<IntakeHour>, KpiError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|r| {
            let hour: String = r.try_get("hour")?;
            let naive =
                chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M")
                    .map_err(|e| corrupt("ticket creation hour", e))?;
            let count: i64 = r.try_get("n")?;
            Ok(IntakeHour {
                hour: naive.and_utc(),
                division: r.try_get("division_code")?,
                category: r.try_get("category")?,
                count: u64::try_from(count).unwrap_or(0),
            })
        })
        .collect()
}

/// The scope's filter on `tickets`: the holding station inside it, or (no station: triage) the
/// ticket's territory inside it.
fn push_scope_filter<DB: sqlx::Database>(qb: &mut QueryBuilder<'_, DB>, scope: &Scope)
where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match scope {
        Scope::All => {}
        Scope::Division(code) => {
            let pattern = format!("{code}%");
            qb.push(" AND (station_id LIKE ")
                .push_bind(pattern.clone())
                .push(" OR (station_id IS NULL AND division_code LIKE ")
                .push_bind(pattern)
                .push("))");
        }
        Scope::Station(id) => {
            qb.push(" AND station_id = ").push_bind(id.clone());
        }
    }
}

/// The KPI tables in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgKpis {
    pool: PgPool,
}

impl PgKpis {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, KpiError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        PG_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| KpiError::Database(e.into()))?;
        Ok(Self { pool })
    }

    /// Shares a pool the caller already has (the router's), migrations already run.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The window of the change log a follower step reads: what the cursor's snapshot saw and
/// what the step's own snapshot sees.
struct LogWindow<'a> {
    old: Option<&'a str>,
    now: &'a str,
}

/// The tickets' event logs, and which of them the window's old snapshot saw an event of.
///
/// With a window, only the events its `now` snapshot sees are read: an event committed while
/// the step runs is left to the next step, so what a step stores is exactly its snapshot's
/// history. That is what makes "no event in the old snapshot" mean "no step stored facts for
/// this ticket" (see `PgKpis::catch_up`).
async fn pg_logs(
    conn: &mut sqlx::PgConnection,
    ids: &[String],
    window: Option<&LogWindow<'_>>,
    pace: Pace,
) -> Result<(HashMap<String, Vec<Event>>, HashSet<String>), KpiError> {
    let mut logs: HashMap<String, Vec<Event>> = HashMap::new();
    let mut seen_before = HashSet::new();
    for chunk in ids.chunks(READ_CHUNK) {
        let uuids = chunk
            .iter()
            .map(|id| uuid::Uuid::parse_str(id).map_err(|e| corrupt("ticket id", e)))
            .collect::<Result<Vec<_>, _>>()?;
        // Events from before the change log (no xid) count as seen by every snapshot.
        let query = match window {
            None => sqlx::query(
                "SELECT ticket_id, seq, at, stage, actor::text AS actor, \
                 action::text AS action, TRUE AS seen_before \
                 FROM ticket_events WHERE ticket_id = ANY($1) ORDER BY ticket_id, seq",
            )
            .bind(uuids),
            Some(w) => sqlx::query(
                "SELECT ticket_id, seq, at, stage, actor::text AS actor, \
                 action::text AS action, \
                 (xid IS NULL OR $3::text IS NULL \
                  OR pg_visible_in_snapshot(xid, $3::text::pg_snapshot)) AS seen_before \
                 FROM ticket_events WHERE ticket_id = ANY($1) \
                   AND (xid IS NULL OR pg_visible_in_snapshot(xid, $2::text::pg_snapshot)) \
                 ORDER BY ticket_id, seq",
            )
            .bind(uuids)
            .bind(w.now)
            .bind(w.old),
        };
        let rows = pace.run(query.fetch_all(&mut *conn)).await?;
        for row in rows {
            let id: uuid::Uuid = row.try_get("ticket_id")?;
            let event = decode_event(
                TicketId::from_uuid(id),
                row.try_get("seq")?,
                row.try_get("at")?,
                row.try_get("stage")?,
                row.try_get("actor")?,
                row.try_get("action")?,
            )?;
            let id = id.to_string();
            if row.try_get::<bool, _>("seen_before")? {
                seen_before.insert(id.clone());
            }
            logs.entry(id).or_default().push(event);
        }
    }
    Ok((logs, seen_before))
}

/// The advisory lock the replicas' follower steps take turns on.
const FOLLOWER_TURN: i64 = 0x6b70_6920_7475_726e; // "kpi turn"

/// The mark of a cursor written by a step that stored exactly its snapshot's history. A cursor
/// without it (an older release's, or one set by hand, as the surge bench does) still works:
/// the step after it reads every changed ticket's stored facts.
const EXACT: &str = "exact ";

#[async_trait]
impl KpiStore for PgKpis {
    async fn catch_up(&self, calendar: &WorkingCalendar, pace: Pace) -> Result<usize, KpiError> {
        let mut tx = self.pool.begin().await?;
        // Replicas take turns: the second waits here, then starts from the first's cursor (a
        // lock is released only once its holder's commit is visible). An advisory lock, not
        // `FOR UPDATE` on the cursor's row: a row lock gives the step a transaction id at once,
        // and an id open through a paced step (seconds) holds back every snapshot's xmin, so
        // the change-log readers (feeds, hotspots) rescan everything since it began and
        // PostgreSQL cannot prune dead row versions. The step now takes an id at its first
        // write, after every read.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FOLLOWER_TURN)
            .execute(&mut *tx)
            .await?;
        let cursor: Option<String> =
            sqlx::query_scalar("SELECT cursor FROM kpi_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let (old, exact) = match cursor.as_deref() {
            None => (None, false),
            Some(raw) => match raw.strip_prefix(EXACT) {
                Some(snapshot) => (Some(snapshot), true),
                None => (Some(raw), false),
            },
        };
        let now: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        // Tickets with an event the old snapshot did not see and the new one does.
        let ids: Vec<uuid::Uuid> = match old {
            None => {
                sqlx::query_scalar("SELECT id FROM tickets")
                    .fetch_all(&mut *tx)
                    .await?
            }
            Some(old) => {
                sqlx::query_scalar(
                    "SELECT DISTINCT ticket_id FROM ticket_events \
                     WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) \
                       AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot) \
                       AND pg_visible_in_snapshot(xid, $2::text::pg_snapshot)",
                )
                .bind(old)
                .bind(&now)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let ids: Vec<String> = ids.into_iter().map(|u| u.to_string()).collect();
        if !ids.is_empty() {
            let window = LogWindow { old, now: &now };
            let (logs, seen_before) = pg_logs(&mut tx, &ids, Some(&window), pace).await?;
            // Every step stores exactly its snapshot's history, so a ticket the old snapshot saw
            // nothing of (a new ticket: most of a surge's) has no stored facts to replace, and
            // its read is skipped. After an unmarked cursor every ticket's is read.
            let with_facts: Vec<String> = if exact {
                ids.iter()
                    .filter(|id| seen_before.contains(*id))
                    .cloned()
                    .collect()
            } else {
                ids.clone()
            };
            let stored = pg_sql::stored_facts(&mut tx, &with_facts, pace).await?;
            let (deltas, facts) = deltas_of(&logs, &stored, calendar);
            pg_sql::write(&mut tx, deltas, facts, pace).await?;
        }
        sqlx::query("UPDATE kpi_state SET cursor = $1 WHERE id = 1")
            .bind(format!("{EXACT}{now}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids.len())
    }

    async fn changes(&self, cursor: Option<&str>) -> Result<(Vec<String>, String), KpiError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let now: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        let ids: Vec<uuid::Uuid> = match cursor {
            None => Vec::new(),
            Some(old) => {
                sqlx::query_scalar(
                    "SELECT DISTINCT ticket_id FROM ticket_events \
                     WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) \
                       AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)",
                )
                .bind(old)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        Ok((ids.into_iter().map(|u| u.to_string()).collect(), now))
    }

    async fn sum(&self, query: &SumQuery) -> Result<Vec<(String, Counts)>, KpiError> {
        pg_sql::sum_rows(&self.pool, query).await
    }

    async fn live_tickets(&self, scope: &Scope) -> Result<Vec<Ticket>, KpiError> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT body::text AS body FROM tickets WHERE stage = ANY(");
        qb.push_bind(live_stage_codes()).push(")");
        push_scope_filter(&mut qb, scope);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(decode_ticket(r.try_get("body")?)?))
            .collect()
    }

    async fn logs_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<Event>)>, KpiError> {
        let after = match after {
            Some(id) => Some(uuid::Uuid::parse_str(&id).map_err(|e| corrupt("ticket id", e))?),
            None => None,
        };
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<String> = ids.into_iter().map(|u| u.to_string()).collect();
        let (mut logs, _) = pg_logs(&mut conn, &ids, None, Pace::FULL).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let events = logs.remove(&id).unwrap_or_default();
                (id, events)
            })
            .collect())
    }

    async fn rows(&self) -> Result<BTreeMap<RowKey, Counts>, KpiError> {
        pg_sql::all_rows(&self.pool).await
    }

    async fn prune_hourly(&self, before: DateTime<Utc>) -> Result<u64, KpiError> {
        pg_sql::prune(&self.pool, before).await
    }

    async fn intake_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<IntakeHour>, Option<DateTime<Utc>>), KpiError> {
        // The hour as SQLite gives it, so one decoder reads both.
        let rows = sqlx::query(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, \
                    division_code, category, COUNT(*) AS n \
             FROM tickets WHERE created_at >= $1 AND created_at < $2 \
               AND division_code IS NOT NULL AND category IS NOT NULL \
             GROUP BY 1, 2, 3",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let earliest: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT MIN(created_at) FROM tickets")
                .fetch_one(&self.pool)
                .await?;
        Ok((intake_hour_rows(&rows)?, earliest))
    }

    async fn intake_since(&self, from: DateTime<Utc>) -> Result<Vec<Intake>, KpiError> {
        let rows = sqlx::query(
            "SELECT id::text AS id, created_at, division_code, category FROM tickets \
             WHERE created_at >= $1 AND division_code IS NOT NULL AND category IS NOT NULL \
             ORDER BY created_at",
        )
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Intake {
                    ticket_id: r.try_get("id")?,
                    at: r.try_get("created_at")?,
                    division: r.try_get("division_code")?,
                    category: r.try_get("category")?,
                })
            })
            .collect()
    }
}
