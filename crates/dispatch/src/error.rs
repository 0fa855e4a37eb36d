use chrono::{DateTime, Utc};
use hotline_core::{StaffId, TicketId};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QueueError {
    /// Another member of staff holds a live lease on the ticket.
    #[error("ticket {ticket} is claimed by {holder} until {until}")]
    Leased {
        ticket: TicketId,
        holder: StaffId,
        until: DateTime<Utc>,
    },
    /// The ticket is not on that station's queue (signed for, moved, or never queued).
    #[error("ticket {0} is not on this station's queue")]
    NotQueued(TicketId),
    /// The queue backend cannot be reached, or answered "not now" (loading, failing over): a
    /// passing fault, worth retrying.
    #[error("queue backend unavailable: {0}")]
    Unavailable(String),
    /// The backend holds data that does not decode, or refused a command as wrong: a bug (or a
    /// hand-edited Redis), not an outage; retrying will not help.
    #[error("queue backend error: {0}")]
    Broken(String),
}

impl QueueError {
    /// Whether trying again later may succeed (see [`QueueError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Unavailable(_))
    }
}
