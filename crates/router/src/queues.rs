//! Keeps the station queues in line with the store: which queue a ticket belongs on in each
//! stage, moving it after every change, rebuilding after a restart, and releasing expired leases.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_core::{Stage, Ticket};
use hotline_directory::Directory;
use hotline_dispatch::{Queue, QueueEntry};

use crate::error::RouterError;

#[derive(Clone)]
pub struct Queues {
    queue: Arc<dyn Queue>,
    directory: Arc<Directory>,
}

impl Queues {
    pub fn new(queue: Arc<dyn Queue>, directory: Arc<Directory>) -> Self {
        Self { queue, directory }
    }

    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }

    /// The queue entry for a ticket in its current stage: a station's queue while it awaits
    /// sign-for, the centre's triage queue while it waits for dispatch, none otherwise.
    pub fn entry_for(&self, ticket: &Ticket) -> Option<QueueEntry> {
        match ticket.stage {
            Stage::AwaitingSignFor => QueueEntry::for_ticket(ticket),
            Stage::PendingDispatch => Some(QueueEntry {
                ticket: ticket.id,
                station: self.directory.triage_station().id.clone(),
                urgency: ticket.urgency,
                due: None,
                enqueued_at: ticket.updated_at,
            }),
            _ => None,
        }
    }

    /// Moves the ticket after a committed change. The store already holds the truth, so a
    /// queue failure here is logged, not returned: the next rebuild puts it right.
    pub async fn follow(&self, before: &Ticket, after: &Ticket) {
        let old = self.entry_for(before);
        let new = self.entry_for(after);
        let result = match (old, new) {
            (Some(old), Some(new))
                if old.station == new.station
                    && old.due == new.due
                    && old.urgency == new.urgency =>
            {
                Ok(())
            }
            (_, Some(new)) => self.queue.enqueue(new).await,
            (Some(_), None) => self.queue.remove(after.id).await.map(|_| ()),
            (None, None) => Ok(()),
        };
        if let Err(err) = result {
            metrics::counter!("hotline_queue_errors_total").increment(1);
            tracing::error!(ticket = %after.id, error = %err, "queue update failed; it will be repaired by the next rebuild");
        }
    }

    pub async fn rebuild(&self, tickets: &[Ticket]) -> Result<usize, RouterError> {
        let entries: Vec<QueueEntry> = tickets.iter().filter_map(|t| self.entry_for(t)).collect();
        let count = entries.len();
        self.queue.rebuild(entries).await?;
        tracing::info!(count, "station queues rebuilt from the store");
        Ok(count)
    }

    pub async fn release_expired(&self, now: DateTime<Utc>) -> Result<usize, RouterError> {
        let released = self.queue.release_expired(now).await?;
        if !released.is_empty() {
            metrics::counter!("hotline_leases_expired_total").increment(released.len() as u64);
            tracing::info!(
                count = released.len(),
                "expired claims returned to their queues"
            );
        }
        Ok(released.len())
    }
}
