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
    /// The queue backend cannot be reached.
    #[error("queue backend unavailable: {0}")]
    Unavailable(String),
}
