//! The system of record: tickets and their append-only event log.
//!
//! # Layout
//! - [`TicketStore`]: the trait every backend implements (and the one behaviour suite tests).
//! - [`sqlite`]: the embedded default, a file under the data directory.
//! - [`postgres`]: production, by URL.
//! - [`row`]: the shared encoding of tickets and events into rows.
//! - [`testing`]: fresh databases for tests.
//! - [`error`]: the store error, [`StoreError`].
//!
//! Every change is one atomic write of the new ticket row *and* its events, conditional on the
//! version the change was computed from: two staff acting at once cannot both win.
//! Invariant: `ticket.version` equals the `seq` of its last event.

pub mod error;
pub mod postgres;
mod row;
pub mod sqlite;
pub mod testing;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{CategoryCode, DivisionCode, Event, Stage, StationId, Ticket, TicketId};

pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The result of creating a ticket: new, or the one an earlier try with the same request id made.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Ticket),
    Existing(Ticket),
}

impl Created {
    pub fn ticket(&self) -> &Ticket {
        match self {
            Created::New(t) | Created::Existing(t) => t,
        }
    }
    pub fn into_ticket(self) -> Ticket {
        match self {
            Created::New(t) | Created::Existing(t) => t,
        }
    }
    pub fn is_new(&self) -> bool {
        matches!(self, Created::New(_))
    }
}

/// Filters for [`TicketStore::search`]. Results come newest first.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub stage: Option<Stage>,
    pub station: Option<StationId>,
    /// This division or any division inside it (by code prefix).
    pub division: Option<DivisionCode>,
    pub text_contains: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Only tickets changed at or after this time (any stage).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only tickets older than this one (keyset pagination: ids sort by creation time).
    pub before_id: Option<TicketId>,
    pub limit: u32,
}

/// A ticket store. Implementations must make each write atomic (ticket row + event).
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores a new ticket with its first events (the submit, and whatever intake decided at
    /// once: route, dispatch...). If the ticket carries a request id that is already stored,
    /// nothing is written and the existing ticket is returned, unless its fingerprint differs:
    /// then [`StoreError::RequestIdReused`].
    async fn create(
        &self,
        ticket: &Ticket,
        events: &[Event],
        fingerprint: &str,
    ) -> Result<Created, StoreError>;

    /// Writes `ticket` (the state after `events`, which follow each other) if the stored version
    /// is still the one before the first event; otherwise [`StoreError::Conflict`] and nothing
    /// is written.
    async fn commit(&self, ticket: &Ticket, events: &[Event]) -> Result<(), StoreError>;

    async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// The ticket's history, oldest first.
    async fn events(&self, id: TicketId) -> Result<Vec<Event>, StoreError>;

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Ticket>, StoreError>;

    /// Ids and texts of live (not closed) tickets in exactly `division` with `category`,
    /// created at or after `since`, newest first: the candidates a new request may duplicate.
    /// Reads only what the comparison needs (no ticket bodies).
    async fn live_in(
        &self,
        division: &DivisionCode,
        category: &CategoryCode,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TicketId, String)>, StoreError>;

    /// Every ticket in one of `stages` (used to rebuild queues and timers after a restart).
    async fn in_stages(&self, stages: &[Stage]) -> Result<Vec<Ticket>, StoreError>;

    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;
}
