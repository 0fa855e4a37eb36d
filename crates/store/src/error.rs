use hotline_core::{RequestId, TicketId};
use thiserror::Error;

/// What can go wrong at the store boundary. SQL errors are wrapped here once; callers never see
/// (and clients are never sent) SQL text.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Someone else changed the ticket since it was read (optimistic concurrency).
    #[error(
        "ticket {ticket} was changed by someone else (it is at version {actual}, not {expected})"
    )]
    Conflict {
        ticket: TicketId,
        expected: u64,
        actual: u64,
    },
    #[error("ticket {0} does not exist")]
    NotFound(TicketId),
    /// A client reused an idempotency key for a different request.
    #[error("request id {0} was already used for a different request")]
    RequestIdReused(RequestId),
    /// A row that does not decode into the domain (a bug or a hand-edited database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
