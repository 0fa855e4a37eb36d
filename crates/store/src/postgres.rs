//! PostgreSQL, the production system of record.
//!
//! Each write is a single statement: a data-modifying CTE writes the ticket row and, only if that
//! succeeded, its events. New tickets go through group commit ([`write_batches`]): the submits
//! that arrive while a commit is in flight are written together by the next one, so a busy
//! intake pays one round trip and one commit per batch rather than per ticket.

use async_trait::async_trait;
use hotline_core::{CategoryCode, DivisionCode, Event, Stage, StationId, Ticket, TicketId};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::row::{
    candidate_facts, check_events, decode_event, decode_ticket, encode_event, encode_ticket,
    like_escape, tally_from_row, tally_sql, tally_sql_where, version_i64, EventRow, TicketColumns,
};
use crate::{ChangeCursor, Created, LiveSnapshot, SearchQuery, StoreError, TicketStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// New tickets on their way to the group-commit writers (see [`write_batches`]).
    intake: mpsc::Sender<PendingCreate>,
}

/// Most new tickets one statement writes: enough to amortise a commit under load, few enough that
/// one statement stays well under PostgreSQL's bind-parameter and memory limits.
const MAX_BATCH: usize = 64;

impl PgStore {
    /// Connects to `url` and runs the migrations, then starts the group-commit writers for new
    /// tickets: two (one with a pool under 16), so that one gathers the next batch while the
    /// other's commit is in flight. More writers make smaller batches, and each statement costs
    /// the database about as much CPU as a ticket does (measured with `benches/submit/run.sh`:
    /// four writers cost PostgreSQL 180-200 µs per ticket, one writer 110).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // A request waits this long for a connection (say, while PostgreSQL restarts) and
            // then fails as UNAVAILABLE with retry advice, instead of hanging.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        let status = schema_status(&pool).await?;
        status.check_not_newer()?;
        MIGRATOR.run(&pool).await?;
        let (intake, queue) = mpsc::channel(MAX_BATCH * 16);
        let queue = Arc::new(Mutex::new(queue));
        let in_flight = Arc::new(InFlight::default());
        for _ in 0..(max_connections / 8).clamp(1, 2) {
            tokio::spawn(write_batches(
                pool.clone(),
                Arc::clone(&queue),
                Arc::clone(&in_flight),
            ));
        }
        Ok(Self { pool, intake })
    }

    /// Where the database at `url` stands against this binary's migrations, applying the
    /// pending ones unless `dry_run` (for `hotline migrate`). A newer schema is refused.
    pub async fn migrate_url(url: &str, dry_run: bool) -> Result<crate::SchemaStatus, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        let status = schema_status(&pool).await?;
        status.check_not_newer()?;
        if dry_run {
            return Ok(status);
        }
        MIGRATOR.run(&pool).await?;
        schema_status(&pool).await
    }

    /// Where this store's database stands against this binary's migrations.
    pub async fn schema_status(&self) -> Result<crate::SchemaStatus, StoreError> {
        schema_status(&self.pool).await
    }

    /// Each change in its own statement, in order.
    async fn commit_each(&self, changes: &[(Ticket, Vec<Event>)]) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(changes.len());
        for (ticket, events) in changes {
            results.push(self.commit(ticket, events).await);
        }
        results
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

/// A new ticket encoded for the batch insert, and where to send whether it was inserted (`false`:
/// its request id was already stored).
struct PendingCreate {
    id: uuid::Uuid,
    version: i64,
    request_id: Option<String>,
    fingerprint: String,
    stage: &'static str,
    station: Option<String>,
    division: Option<String>,
    channel: &'static str,
    urgency: &'static str,
    category: Option<String>,
    text: String,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    body: String,
    columns: TicketColumns,
    events: Vec<EncodedEvent>,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Group commit for submits. Each writer takes whatever new tickets are waiting (up to
/// [`MAX_BATCH`]) and writes them all in one statement and one commit. When submits are rare a
/// batch is one ticket and nothing waits; under load the tickets that arrive while a commit is in
/// flight share the next one, so the commit and round-trip cost is paid once per batch instead
/// of once per ticket. The queue lock is held only while collecting a batch (see [`gather`]).
async fn write_batches(
    pool: PgPool,
    queue: Arc<Mutex<mpsc::Receiver<PendingCreate>>>,
    in_flight: Arc<InFlight>,
) {
    loop {
        let (batch, _counted) = {
            let mut queue = queue.lock().await;
            match gather(&mut queue, &in_flight, MAX_BATCH, GATHER_WAIT).await {
                // Counted before the lock is let go: the next writer to gather sees it.
                Some(batch) => (batch, InFlight::enter(&in_flight)),
                // Every PgStore handle is gone.
                None => return,
            }
        };
        write_batch(&pool, batch).await;
    }
}

/// How long a writer keeps gathering while another writer's commit is in flight: the most a
/// ticket waits for company when that commit stalls.
const GATHER_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// The group-commit writers' commits in flight, and a signal when one ends.
#[derive(Debug, Default)]
struct InFlight {
    commits: std::sync::atomic::AtomicUsize,
    ended: tokio::sync::Notify,
}

impl InFlight {
    /// Counts a commit until the guard drops (a panicking write ends it too).
    fn enter(this: &Arc<Self>) -> CommitGuard {
        this.commits
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        CommitGuard(Arc::clone(this))
    }

    fn any(&self) -> bool {
        self.commits.load(std::sync::atomic::Ordering::Acquire) > 0
    }
}

struct CommitGuard(Arc<InFlight>);

impl Drop for CommitGuard {
    fn drop(&mut self) {
        self.0
            .commits
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.ended.notify_waiters();
    }
}

/// The next batch: the first ticket to arrive and whatever else is waiting, up to `max`; and,
/// while another writer's commit is in flight, what arrives before that commit ends (at most
/// `wait`). Without that wait, two writers at a moderate rate (the surge bench's open loop, ~1,000
/// submits/s) wrote nearly every ticket in its own statement and commit: the one writer not
/// committing took each ticket as it came. Each statement costs PostgreSQL about as much CPU as
/// a ticket does, so a ticket now waits for the rest of the other commit (at most `wait`) and
/// shares a statement and a commit with those that arrive meanwhile. `None`: the channel is
/// closed.
async fn gather<T>(
    queue: &mut mpsc::Receiver<T>,
    in_flight: &InFlight,
    max: usize,
    wait: std::time::Duration,
) -> Option<Vec<T>> {
    let mut batch = vec![queue.recv().await?];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        while batch.len() < max {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if batch.len() >= max {
            return Some(batch);
        }
        // Registered before the count is read, so an end between the two is not missed.
        let ended = in_flight.ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        if !in_flight.any() {
            return Some(batch);
        }
        tokio::select! {
            next = queue.recv() => match next {
                Some(next) => batch.push(next),
                None => return Some(batch),
            },
            // Takes what arrived meanwhile, then finds no commit in flight.
            () = &mut ended => {}
            () = tokio::time::sleep_until(deadline) => return Some(batch),
        }
    }
}

/// Writes one batch and answers each of its tickets.
async fn write_batch(pool: &PgPool, mut batch: Vec<PendingCreate>) {
    metrics::histogram!("hotline_store_submit_batch_size").record(batch.len() as f64);
    match insert_batch(pool, &batch).await {
        Ok(inserted) => {
            for pending in batch {
                let _ = pending.reply.send(Ok(inserted.contains(&pending.id)));
            }
        }
        // The database is away (restarting, unreachable): every ticket of the batch fails the
        // same way, and trying each alone would only hammer it.
        Err(err) if crate::error::is_transient_sqlx(&err) => {
            let reason = crate::error::describe(&StoreError::Database(err));
            for pending in batch {
                let _ = pending
                    .reply
                    .send(Err(StoreError::Unavailable(reason.clone())));
            }
        }
        // One bad row fails the whole statement; write each alone so that only it fails.
        Err(err) if batch.len() > 1 => {
            tracing::warn!(error = %err, size = batch.len(), "batch insert failed; writing its tickets one by one");
            for pending in batch {
                let result = insert_batch(pool, std::slice::from_ref(&pending))
                    .await
                    .map(|inserted| !inserted.is_empty())
                    .map_err(StoreError::Database);
                let _ = pending.reply.send(result);
            }
        }
        Err(err) => {
            if let Some(pending) = batch.pop() {
                let _ = pending.reply.send(Err(StoreError::Database(err)));
            }
        }
    }
}

/// Inserts every ticket of `batch` whose request id is not stored yet, with its events, in one
/// statement. Returns the ids of the tickets inserted.
async fn insert_batch(
    pool: &PgPool,
    batch: &[PendingCreate],
) -> Result<std::collections::HashSet<uuid::Uuid>, sqlx::Error> {
    let events = || {
        batch
            .iter()
            .flat_map(|p| p.events.iter().map(move |e| (p.id, e)))
    };
    let columns = ColumnArrays::of(batch.iter().map(|p| &p.columns));
    let query = sqlx::query(
        "WITH t AS ( \
           INSERT INTO tickets (id, version, request_id, fingerprint, stage, station_id, \
             division_code, channel, urgency, category, text, created_at, updated_at, body, \
             sign_for_due, first_contact_due, resolution_due, callback_due, warning, \
             contact_warning, contacted, paused, incident_id, caller_phone, submitted_by) \
           SELECT r.id, r.version, r.request_id, r.fingerprint, r.stage, r.station_id, \
             r.division_code, r.channel, r.urgency, r.category, r.text, r.created_at, \
             r.updated_at, r.body::json, r.sign_for_due, r.first_contact_due, \
             r.resolution_due, r.callback_due, r.warning, r.contact_warning, r.contacted, \
             r.paused, r.incident_id, r.caller_phone, r.submitted_by \
           FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                       $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                       $12::timestamptz[], $13::timestamptz[], $14::text[], \
                       $22::timestamptz[], $23::timestamptz[], $24::timestamptz[], \
                       $25::timestamptz[], $26::bool[], $27::bool[], $28::bool[], $29::bool[], \
                       $30::text[], $31::text[], $32::text[]) \
             AS r(id, version, request_id, fingerprint, stage, station_id, division_code, \
                  channel, urgency, category, text, created_at, updated_at, body, \
                  sign_for_due, first_contact_due, resolution_due, callback_due, warning, \
                  contact_warning, contacted, paused, incident_id, caller_phone, submitted_by) \
           ON CONFLICT (request_id) DO NOTHING RETURNING id), \
         e AS ( \
           INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) \
           SELECT e.ticket_id, e.seq, e.at, e.kind, e.stage, e.actor::json, e.action::json \
           FROM UNNEST($15::uuid[], $16::bigint[], $17::timestamptz[], $18::text[], \
                       $19::text[], $20::text[], $21::text[]) \
             AS e(ticket_id, seq, at, kind, stage, actor, action) \
           JOIN t ON t.id = e.ticket_id) \
         SELECT id FROM t",
    )
    .bind(batch.iter().map(|p| p.id).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.version).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|p| p.request_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        batch
            .iter()
            .map(|p| p.fingerprint.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|p| p.stage).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|p| p.station.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        batch
            .iter()
            .map(|p| p.division.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|p| p.channel).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.urgency).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|p| p.category.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|p| p.text.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.created_at).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.updated_at).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| p.body.as_str()).collect::<Vec<_>>())
    .bind(events().map(|(id, _)| id).collect::<Vec<_>>())
    .bind(events().map(|(_, e)| e.seq).collect::<Vec<_>>())
    .bind(events().map(|(_, e)| e.at).collect::<Vec<_>>())
    .bind(events().map(|(_, e)| e.row.kind).collect::<Vec<_>>())
    .bind(events().map(|(_, e)| e.row.stage).collect::<Vec<_>>())
    .bind(
        events()
            .map(|(_, e)| e.row.actor.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        events()
            .map(|(_, e)| e.row.action.as_str())
            .collect::<Vec<_>>(),
    );
    let rows = columns.bind(query).fetch_all(pool).await?;
    rows.iter().map(|r| r.try_get::<uuid::Uuid, _>(0)).collect()
}

/// An event encoded by the submitting task, so that the writers only bind.
struct EncodedEvent {
    seq: i64,
    at: chrono::DateTime<chrono::Utc>,
    row: EventRow,
}

/// Tickets' [`TicketColumns`] as parallel arrays, for one `UNNEST` write.
struct ColumnArrays<'a> {
    sign_for_due: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    first_contact_due: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    resolution_due: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    callback_due: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    warning: Vec<bool>,
    contact_warning: Vec<bool>,
    contacted: Vec<bool>,
    paused: Vec<bool>,
    incident_id: Vec<Option<&'a str>>,
    caller_phone: Vec<Option<&'a str>>,
    submitted_by: Vec<Option<&'a str>>,
}

impl<'a> ColumnArrays<'a> {
    fn of(rows: impl Iterator<Item = &'a TicketColumns>) -> Self {
        let mut arrays = Self {
            sign_for_due: Vec::new(),
            first_contact_due: Vec::new(),
            resolution_due: Vec::new(),
            callback_due: Vec::new(),
            warning: Vec::new(),
            contact_warning: Vec::new(),
            contacted: Vec::new(),
            paused: Vec::new(),
            incident_id: Vec::new(),
            caller_phone: Vec::new(),
            submitted_by: Vec::new(),
        };
        for row in rows {
            arrays.sign_for_due.push(row.sign_for_due);
            arrays.first_contact_due.push(row.first_contact_due);
            arrays.resolution_due.push(row.resolution_due);
            arrays.callback_due.push(row.callback_due);
            arrays.warning.push(row.warning);
            arrays.contact_warning.push(row.contact_warning);
            arrays.contacted.push(row.contacted);
            arrays.paused.push(row.paused);
            arrays.incident_id.push(row.incident_id.as_deref());
            arrays.caller_phone.push(row.caller_phone.as_deref());
            arrays.submitted_by.push(row.submitted_by.as_deref());
        }
        arrays
    }

    /// Binds the eleven arrays, in the order of [`TicketColumns`]' fields (`timestamptz[]` four
    /// times, `bool[]` four times, `text[]` three times), as the statement's next parameters.
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.sign_for_due)
            .bind(&self.first_contact_due)
            .bind(&self.resolution_due)
            .bind(&self.callback_due)
            .bind(&self.warning)
            .bind(&self.contact_warning)
            .bind(&self.contacted)
            .bind(&self.paused)
            .bind(&self.incident_id)
            .bind(&self.caller_phone)
            .bind(&self.submitted_by)
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

/// Writes several changes (distinct tickets) in one statement, each conditional on its own
/// expected version. Returns the tickets written; the others were stale or missing.
async fn commit_batch(
    pool: &PgPool,
    changes: &[(Ticket, Vec<Event>)],
) -> Result<std::collections::HashSet<TicketId>, StoreError> {
    let mut ids = Vec::with_capacity(changes.len());
    let mut versions = Vec::with_capacity(changes.len());
    let mut expected = Vec::with_capacity(changes.len());
    let mut stages = Vec::with_capacity(changes.len());
    let mut stations = Vec::with_capacity(changes.len());
    let mut divisions = Vec::with_capacity(changes.len());
    let mut urgencies = Vec::with_capacity(changes.len());
    let mut categories = Vec::with_capacity(changes.len());
    let mut updated = Vec::with_capacity(changes.len());
    let mut bodies = Vec::with_capacity(changes.len());
    let mut columns = Vec::with_capacity(changes.len());
    let mut event_ids = Vec::new();
    let mut ev = EventColumns::of(&[])?;
    for (ticket, events) in changes {
        let before = ticket.version.saturating_sub(events.len() as u64);
        check_events(ticket, events, before)?;
        ids.push(ticket.id.as_uuid());
        versions.push(version_i64(ticket.version));
        expected.push(version_i64(before));
        stages.push(ticket.stage.code());
        stations.push(ticket.station.as_ref().map(|s| s.as_str()));
        divisions.push(ticket.division.as_ref().map(|d| d.as_str()));
        urgencies.push(ticket.urgency.code());
        categories.push(ticket.category.as_ref().map(|c| c.as_str()));
        updated.push(ticket.updated_at);
        bodies.push(encode_ticket(ticket)?);
        columns.push(TicketColumns::of(ticket));
        let more = EventColumns::of(events)?;
        event_ids.extend(std::iter::repeat_n(ticket.id.as_uuid(), events.len()));
        ev.seq.extend(more.seq);
        ev.at.extend(more.at);
        ev.kind.extend(more.kind);
        ev.stage.extend(more.stage);
        ev.actor.extend(more.actor);
        ev.action.extend(more.action);
    }
    let columns = ColumnArrays::of(columns.iter());
    let query = sqlx::query(
        "WITH r AS ( \
           SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
                                $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::bigint[], \
                                $18::timestamptz[], $19::timestamptz[], $20::timestamptz[], \
                                $21::timestamptz[], $22::bool[], $23::bool[], $24::bool[], \
                                $25::bool[], $26::text[], $27::text[], $28::text[]) \
             AS r(id, version, stage, station_id, division_code, urgency, category, updated_at, \
                  body, expected, sign_for_due, first_contact_due, resolution_due, \
                  callback_due, warning, contact_warning, contacted, paused, incident_id, \
                  caller_phone, submitted_by)), \
         u AS ( \
           UPDATE tickets t SET version = r.version, stage = r.stage, station_id = r.station_id, \
             division_code = r.division_code, urgency = r.urgency, category = r.category, \
             updated_at = r.updated_at, body = r.body::json, sign_for_due = r.sign_for_due, \
             first_contact_due = r.first_contact_due, resolution_due = r.resolution_due, \
             callback_due = r.callback_due, warning = r.warning, \
             contact_warning = r.contact_warning, contacted = r.contacted, paused = r.paused, \
             incident_id = r.incident_id, caller_phone = r.caller_phone, \
             submitted_by = r.submitted_by \
           FROM r WHERE t.id = r.id AND t.version = r.expected RETURNING t.id), \
         e AS ( \
           INSERT INTO ticket_events (ticket_id, seq, at, kind, stage, actor, action) \
           SELECT e.ticket_id, e.seq, e.at, e.kind, e.stage, e.actor::json, e.action::json \
           FROM UNNEST($11::uuid[], $12::bigint[], $13::timestamptz[], $14::text[], $15::text[], \
                       $16::text[], $17::text[]) AS e(ticket_id, seq, at, kind, stage, actor, action) \
           JOIN u ON u.id = e.ticket_id) \
         SELECT id FROM u",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&stages)
    .bind(&stations)
    .bind(&divisions)
    .bind(&urgencies)
    .bind(&categories)
    .bind(&updated)
    .bind(&bodies)
    .bind(&expected)
    .bind(&event_ids)
    .bind(&ev.seq)
    .bind(&ev.at)
    .bind(&ev.kind)
    .bind(&ev.stage)
    .bind(&ev.actor)
    .bind(&ev.action);
    let rows = columns.bind(query).fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(TicketId::from_uuid(r.try_get::<uuid::Uuid, _>(0)?)))
        .collect()
}

async fn schema_status(pool: &PgPool) -> Result<crate::SchemaStatus, StoreError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
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

fn writers_gone() -> StoreError {
    StoreError::Database(sqlx::Error::WorkerCrashed)
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
        let events = events
            .iter()
            .map(|event| {
                Ok(EncodedEvent {
                    seq: version_i64(event.seq),
                    at: event.at,
                    row: encode_event(event)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (reply, inserted) = oneshot::channel();
        let pending = PendingCreate {
            id: ticket.id.as_uuid(),
            version: version_i64(ticket.version),
            request_id: ticket.request_id.as_ref().map(|r| r.as_str().to_owned()),
            fingerprint: fingerprint.to_owned(),
            stage: ticket.stage.code(),
            station: ticket.station.as_ref().map(|s| s.as_str().to_owned()),
            division: ticket.division.as_ref().map(|d| d.as_str().to_owned()),
            channel: ticket.channel.code(),
            urgency: ticket.urgency.code(),
            category: ticket.category.as_ref().map(|c| c.as_str().to_owned()),
            text: ticket.text.clone(),
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            body: encode_ticket(ticket)?,
            columns: TicketColumns::of(ticket),
            events,
            reply,
        };
        self.intake
            .send(pending)
            .await
            .map_err(|_| writers_gone())?;
        // A dropped reply means a writer task died (it panicked): the ticket's fate is unknown
        // to this request, and a retry with the same request id will find out.
        if inserted.await.map_err(|_| writers_gone())?? {
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
        let columns = TicketColumns::of(ticket);
        let ev = EventColumns::of(events)?;
        let written = sqlx::query(
            "WITH u AS ( \
               UPDATE tickets SET version = $2, stage = $3, station_id = $4, division_code = $5, \
                 urgency = $6, category = $7, updated_at = $8, body = $9::json, \
                 sign_for_due = $17, first_contact_due = $18, resolution_due = $19, \
                 callback_due = $20, warning = $21, contact_warning = $22, contacted = $23, \
                 paused = $24, incident_id = $25, caller_phone = $26, submitted_by = $27 \
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
        .bind(columns.sign_for_due)
        .bind(columns.first_contact_due)
        .bind(columns.resolution_due)
        .bind(columns.callback_due)
        .bind(columns.warning)
        .bind(columns.contact_warning)
        .bind(columns.contacted)
        .bind(columns.paused)
        .bind(columns.incident_id.as_deref())
        .bind(columns.caller_phone.as_deref())
        .bind(columns.submitted_by.as_deref())
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

    async fn commit_many(&self, changes: &[(Ticket, Vec<Event>)]) -> Vec<Result<(), StoreError>> {
        let distinct: std::collections::HashSet<TicketId> =
            changes.iter().map(|(t, _)| t.id).collect();
        if changes.len() < 2 || distinct.len() != changes.len() {
            // One statement per change (and a ticket changed twice must be written in order).
            return self.commit_each(changes).await;
        }
        match commit_batch(&self.pool, changes).await {
            Ok(written) => {
                let missed: Vec<TicketId> = changes
                    .iter()
                    .map(|(t, _)| t.id)
                    .filter(|id| !written.contains(id))
                    .collect();
                let versions = match self.versions(&missed).await {
                    Ok(versions) => versions,
                    Err(err) => {
                        let reason = err.to_string();
                        return changes
                            .iter()
                            .map(|(t, _)| {
                                if written.contains(&t.id) {
                                    Ok(())
                                } else {
                                    Err(StoreError::Corrupt(format!(
                                        "ticket {} was not written and its version could not be read: {reason}",
                                        t.id
                                    )))
                                }
                            })
                            .collect();
                    }
                };
                changes
                    .iter()
                    .map(|(ticket, events)| {
                        if written.contains(&ticket.id) {
                            return Ok(());
                        }
                        let expected = ticket.version.saturating_sub(events.len() as u64);
                        Err(match versions.get(&ticket.id) {
                            None => StoreError::NotFound(ticket.id),
                            Some(&actual) => StoreError::Conflict {
                                ticket: ticket.id,
                                expected,
                                actual,
                            },
                        })
                    })
                    .collect()
            }
            Err(err) if err.is_transient() => {
                let reason = crate::error::describe(&err);
                changes
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(reason.clone())))
                    .collect()
            }
            // A bad row fails the whole statement: write each alone so only it fails.
            Err(err) => {
                tracing::warn!(error = %err, size = changes.len(), "batched commit failed; writing its changes one by one");
                self.commit_each(changes).await
            }
        }
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
        if let Some(who) = &query.submitted_by {
            sql.push(" AND submitted_by = ")
                .push_bind(who.as_str().to_owned());
        }
        if let Some(phone) = &query.caller_phone {
            sql.push(" AND caller_phone = ").push_bind(phone.clone());
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

    async fn live_snapshot(&self, stages: &[Stage]) -> Result<LiveSnapshot, StoreError> {
        let codes: Vec<&str> = stages.iter().map(|s| s.code()).collect();
        // REPEATABLE READ: the snapshot taken by the first statement serves both reads, so the
        // tickets are exactly those the cursor says were committed.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let cursor: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        let rows =
            sqlx::query("SELECT body::text AS body FROM tickets WHERE stage = ANY($1) ORDER BY id")
                .bind(&codes)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let tickets = rows.iter().map(ticket_from_row).collect::<Result<_, _>>()?;
        Ok(LiveSnapshot {
            tickets,
            cursor: ChangeCursor(cursor),
        })
    }

    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        let cursor: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&self.pool)
            .await?;
        Ok(ChangeCursor(cursor))
    }

    async fn live_page(
        &self,
        stages: &[Stage],
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        let codes: Vec<&str> = stages.iter().map(|s| s.code()).collect();
        // Keyset on the primary key: each page is an index range, whatever page it is (two
        // statements, not `$2 IS NULL OR id > $2`, which a generic plan cannot use as a range).
        let rows = match after {
            Some(after) => {
                sqlx::query(
                    "SELECT body::text AS body FROM tickets \
                     WHERE stage = ANY($1) AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(&codes)
                .bind(after.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT body::text AS body FROM tickets \
                     WHERE stage = ANY($1) ORDER BY id LIMIT $2",
                )
                .bind(&codes)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(ticket_from_row).collect()
    }

    async fn changed_since(
        &self,
        cursor: &ChangeCursor,
    ) -> Result<(Vec<TicketId>, ChangeCursor), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let now: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&mut *tx)
            .await?;
        // Rows of transactions the old snapshot did not see: at or past its xmin (the index
        // range) and not visible in it. What this transaction sees of them is committed.
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM ticket_events \
             WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) \
               AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)",
        )
        .bind(cursor.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            ids.into_iter().map(TicketId::from_uuid).collect(),
            ChangeCursor(now),
        ))
    }

    async fn stage_page(
        &self,
        station: Option<&StationId>,
        stage: Stage,
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        // Ticket ids are UUIDv7, never nil: "after nil" is the first page.
        let after = after.map_or(uuid::Uuid::nil(), |id| id.as_uuid());
        let rows = match station {
            Some(station) => {
                sqlx::query(
                    "SELECT body::text AS body FROM tickets \
                     WHERE stage = $1 AND station_id = $2 AND id > $3 ORDER BY id LIMIT $4",
                )
                .bind(stage.code())
                .bind(station.as_str())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT body::text AS body FROM tickets \
                     WHERE stage = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(stage.code())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(ticket_from_row).collect()
    }

    async fn get_many(&self, ids: &[TicketId]) -> Result<Vec<Ticket>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows = sqlx::query("SELECT body::text AS body FROM tickets WHERE id = ANY($1)")
            .bind(&uuids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn versions(
        &self,
        ids: &[TicketId],
    ) -> Result<std::collections::HashMap<TicketId, u64>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<(uuid::Uuid, i64)> =
            sqlx::query_as("SELECT id, version FROM tickets WHERE id = ANY($1)")
                .bind(&uuids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, version)| (TicketId::from_uuid(id), version.max(0) as u64))
            .collect())
    }

    async fn duplicate_facts(
        &self,
        ids: &[TicketId],
    ) -> Result<Vec<crate::CandidateFacts>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows = sqlx::query(
            "SELECT id, stage, division_code, category, created_at, text FROM tickets \
             WHERE id = ANY($1)",
        )
        .bind(&uuids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                candidate_facts(
                    TicketId::from_uuid(r.try_get("id")?),
                    r.try_get("stage")?,
                    r.try_get("division_code")?,
                    r.try_get("category")?,
                    r.try_get("created_at")?,
                    r.try_get("text")?,
                )
            })
            .collect()
    }

    async fn live_tally(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::LiveTally>, StoreError> {
        let sql = tally_sql("clock AS (SELECT $1::timestamptz AS tally_now)");
        let rows = sqlx::query(&sql).bind(now).fetch_all(&self.pool).await?;
        rows.iter().map(tally_from_row).collect()
    }

    async fn live_tally_part(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        stage: Stage,
        codes: &crate::CodeRange,
    ) -> Result<Vec<crate::LiveTally>, StoreError> {
        use crate::CodeRange;
        // One statement per shape, each an index range on (stage, division_code).
        let filter = match codes {
            CodeRange::Missing => " AND stage = $2 AND division_code IS NULL",
            CodeRange::Below(_) => " AND stage = $2 AND division_code < $3",
            CodeRange::Between(..) => {
                " AND stage = $2 AND division_code >= $3 AND division_code < $4"
            }
            CodeRange::From(_) => " AND stage = $2 AND division_code >= $3",
        };
        let sql = tally_sql_where("clock AS (SELECT $1::timestamptz AS tally_now)", filter);
        let query = sqlx::query(&sql).bind(now).bind(stage.code());
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use hotline_core::lifecycle::{open, Actor, Role};
    use hotline_core::{Caller, Channel, Nature, NewTicket, RequestId, TicketId, Urgency};

    use super::*;

    fn pending(
        request_id: Option<&str>,
    ) -> (PendingCreate, oneshot::Receiver<Result<bool, StoreError>>) {
        let new = NewTicket {
            request_id: request_id.map(|r| RequestId::parse("request_id", r).unwrap()),
            channel: Channel::Web,
            caller: Caller {
                name: "李四".into(),
                phone: "13900000000".into(),
                ..Default::default()
            },
            text: "小区路灯不亮".into(),
            address: String::new(),
            location: None,
            kiosk: None,
            category: None,
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: None,
        }
        .validate()
        .unwrap();
        let fingerprint = new.fingerprint();
        let operator = Actor {
            role: Role::Operator,
            staff: None,
            station: None,
        };
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let (ticket, event) = open(TicketId::new(), new, operator, at);
        let (reply, answer) = oneshot::channel();
        let pending = PendingCreate {
            id: ticket.id.as_uuid(),
            version: version_i64(ticket.version),
            request_id: ticket.request_id.as_ref().map(|r| r.as_str().to_owned()),
            fingerprint,
            stage: ticket.stage.code(),
            station: None,
            division: None,
            channel: ticket.channel.code(),
            urgency: ticket.urgency.code(),
            category: None,
            text: ticket.text.clone(),
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            body: encode_ticket(&ticket).unwrap(),
            columns: TicketColumns::of(&ticket),
            events: vec![EncodedEvent {
                seq: version_i64(event.seq),
                at: event.at,
                row: encode_event(&event).unwrap(),
            }],
            reply,
        };
        (pending, answer)
    }

    /// Tickets written before migrations 0014 and 0018 get their columns from their bodies:
    /// the tally, the incident counts and the searches by phone or integrator read them, never
    /// the bodies.
    #[tokio::test]
    async fn migrations_fill_the_columns_from_older_tickets_bodies() {
        let url = crate::testing::fresh_postgres_url().await.unwrap();
        let pool = PgPool::connect(&url).await.unwrap();
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json)",
            )
            .bind(ticket.id.as_uuid())
            .bind(version_i64(ticket.version))
            .bind(ticket.stage.code())
            .bind(ticket.station.as_ref().map(|s| s.as_str()))
            .bind(ticket.division.as_ref().map(|d| d.as_str()))
            .bind(ticket.channel.code())
            .bind(ticket.urgency.code())
            .bind(&ticket.text)
            .bind(ticket.created_at)
            .bind(ticket.updated_at)
            .bind(encode_ticket(ticket).unwrap())
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = PgStore::connect(&url, 2).await.unwrap();
        for ticket in &tickets {
            let row = sqlx::query(
                "SELECT sign_for_due, first_contact_due, resolution_due, callback_due, warning, \
                 contact_warning, contacted, paused, incident_id, caller_phone, submitted_by \
                 FROM tickets WHERE id = $1",
            )
            .bind(ticket.id.as_uuid())
            .fetch_one(&store.pool)
            .await
            .unwrap();
            let stored = TicketColumns {
                sign_for_due: row.get("sign_for_due"),
                first_contact_due: row.get("first_contact_due"),
                resolution_due: row.get("resolution_due"),
                callback_due: row.get("callback_due"),
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

    /// One bad row must not fail the tickets batched with it: the batch falls back to one
    /// statement per ticket and only the bad one gets an error.
    #[tokio::test]
    async fn a_bad_row_fails_only_its_own_ticket_in_a_batch() {
        let store = crate::testing::fresh_postgres().await.unwrap();
        let (stored, answer) = pending(None);
        let stored_id = stored.id;
        write_batch(&store.pool, vec![stored]).await;
        assert!(answer.await.unwrap().unwrap());

        let (good, good_answer) = pending(Some("web-1"));
        let (mut clash, clash_answer) = pending(None);
        clash.id = stored_id; // the primary key is taken: this row cannot be inserted
        let (retry, retry_answer) = pending(Some("web-1"));
        write_batch(&store.pool, vec![good, clash, retry]).await;

        assert!(good_answer.await.unwrap().unwrap(), "inserted");
        assert!(matches!(
            clash_answer.await.unwrap(),
            Err(StoreError::Database(_))
        ));
        assert!(
            !retry_answer.await.unwrap().unwrap(),
            "same request id as an earlier row of the batch: not inserted"
        );
        let (tickets,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM ticket_events")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!((tickets, events), (2, 2));
    }

    /// Tickets of one batch are all written, each with its own events.
    #[tokio::test]
    async fn a_batch_writes_every_ticket_with_its_events() {
        let store = crate::testing::fresh_postgres().await.unwrap();
        let (batch, answers): (Vec<_>, Vec<_>) =
            (0..5).map(|i| pending(Some(&format!("kiosk-{i}")))).unzip();
        let ids: Vec<_> = batch.iter().map(|p| p.id).collect();
        write_batch(&store.pool, batch).await;
        for answer in answers {
            assert!(answer.await.unwrap().unwrap());
        }
        for id in ids {
            let events = store.events(TicketId::from_uuid(id)).await.unwrap();
            assert_eq!(events.len(), 1);
            assert!(store.get(TicketId::from_uuid(id)).await.unwrap().is_some());
        }
    }

    /// Far longer than any test runs: a gather that returns before it did not wait for it.
    const FOREVER: std::time::Duration = std::time::Duration::from_secs(3600);

    async fn gathered(
        queue: &mut mpsc::Receiver<u32>,
        in_flight: &InFlight,
        max: usize,
        wait: std::time::Duration,
    ) -> Option<Vec<u32>> {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            gather(queue, in_flight, max, wait),
        )
        .await
        .expect("gather returned")
    }

    /// An intake of numbered tickets and a count of commits in flight, as the writers share.
    fn intake() -> (mpsc::Sender<u32>, mpsc::Receiver<u32>, Arc<InFlight>) {
        let (tx, rx) = mpsc::channel(8);
        (tx, rx, Arc::new(InFlight::default()))
    }

    #[tokio::test]
    async fn with_no_commit_in_flight_a_batch_is_what_is_waiting_now() {
        let (tx, mut rx, in_flight) = intake();
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        // Nothing in flight: it does not wait for a third (FOREVER would hang the test).
        assert_eq!(
            gathered(&mut rx, &in_flight, 64, FOREVER).await,
            Some(vec![1, 2])
        );
        drop(tx);
        assert_eq!(gathered(&mut rx, &in_flight, 64, FOREVER).await, None);
    }

    #[tokio::test]
    async fn while_another_commit_is_in_flight_the_next_batch_takes_what_arrives_until_it_ends() {
        let (tx, mut rx, in_flight) = intake();
        let committing = InFlight::enter(&in_flight);
        tx.send(1).await.unwrap();
        let writer = {
            let in_flight = Arc::clone(&in_flight);
            tokio::spawn(async move { gathered(&mut rx, &in_flight, 64, FOREVER).await })
        };
        // On this one-thread runtime the writer now runs until it waits: it has the first
        // ticket, and would have gone with it alone if it did not wait for the commit.
        tokio::task::yield_now().await;
        assert!(!writer.is_finished());
        tx.send(2).await.unwrap();
        tx.send(3).await.unwrap();
        // The other writer's commit ends: the batch goes with the three.
        drop(committing);
        assert_eq!(writer.await.unwrap(), Some(vec![1, 2, 3]));
        assert!(!in_flight.any());
    }

    #[tokio::test]
    async fn a_stalled_commit_holds_the_next_batch_only_as_long_as_the_wait() {
        let (tx, mut rx, in_flight) = intake();
        let _stalled = InFlight::enter(&in_flight);
        tx.send(1).await.unwrap();
        let wait = std::time::Duration::from_millis(20);
        assert_eq!(gathered(&mut rx, &in_flight, 64, wait).await, Some(vec![1]));
    }

    #[tokio::test]
    async fn a_full_batch_or_a_closed_intake_goes_without_waiting_for_the_commit() {
        let (tx, mut rx, in_flight) = intake();
        let _committing = InFlight::enter(&in_flight);
        for n in 0..5 {
            tx.send(n).await.unwrap();
        }
        assert_eq!(
            gathered(&mut rx, &in_flight, 3, FOREVER).await,
            Some(vec![0, 1, 2])
        );
        drop(tx);
        assert_eq!(
            gathered(&mut rx, &in_flight, 3, FOREVER).await,
            Some(vec![3, 4])
        );
    }
}
