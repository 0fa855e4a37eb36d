//! The live stream of ticket events behind `Kpis.WatchEvents`: every event committed on any
//! replica, read from the store's change log (not from this process's own commits, so a board
//! connected to one replica sees what the others did), fanned out to the subscribers.
//!
//! The feed polls the change log only while someone listens; with no subscriber it just keeps
//! its cursor at "now", so a subscriber never receives a backlog of old events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline_core::{Action, Event, Flag, TicketId};
use hotline_kpi::KpiStore;
use tokio::sync::{broadcast, watch};

use crate::tickets::Hotline;

/// One committed event with where its ticket stands after it.
#[derive(Debug, Clone)]
pub struct Notice {
    pub event: Event,
    pub station: Option<String>,
    pub division: Option<String>,
    pub submitted_by: Option<String>,
}

impl Notice {
    /// `warning`, `overdue` or `escalation` for the flags the SLA timers raise.
    pub fn alert(&self) -> &'static str {
        match &self.event.action {
            Action::Flag { flag, .. } => match flag {
                Flag::Warning | Flag::ContactWarning => "warning",
                Flag::Overdue | Flag::ContactOverdue => "overdue",
                Flag::Urged | Flag::Supervised | Flag::Published => "escalation",
            },
            _ => "",
        }
    }
}

#[derive(Clone)]
pub struct EventFeed {
    tx: broadcast::Sender<Arc<Notice>>,
}

impl Default for EventFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl EventFeed {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4_096);
        Self { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.tx.subscribe()
    }

    /// Follows the change log every `every` until `shutdown`, from `start` (take it with
    /// `changes(None)` before the server accepts calls, so no change made through it is
    /// missed by a subscriber that is quicker than this task's first turn).
    pub async fn run(
        self,
        hotline: Hotline,
        changes: Arc<dyn KpiStore>,
        start: String,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let started: DateTime<Utc> = hotline.now();
        let mut cursor = start;
        // The last event sent per live ticket (closed tickets are forgotten).
        let mut sent: HashMap<TicketId, u64> = HashMap::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            let listening = self.tx.receiver_count() > 0;
            // Nobody listening: only move the cursor to now.
            let from = listening.then_some(cursor.as_str());
            let (ids, now) = match changes.changes(from).await {
                Ok(answer) => answer,
                Err(err) => {
                    tracing::warn!(error = %err, "event feed: reading the change log failed; retrying");
                    continue;
                }
            };
            cursor = now;
            if !listening {
                sent.clear();
                continue;
            }
            for raw in ids {
                let Ok(id) = TicketId::parse("ticket_id", &raw) else {
                    continue;
                };
                let (ticket, events) = match (
                    hotline.store().get(id).await,
                    hotline.store().events(id).await,
                ) {
                    (Ok(Some(ticket)), Ok(events)) => (ticket, events),
                    _ => continue,
                };
                let last = sent.get(&id).copied();
                for event in events {
                    let new = match last {
                        Some(seq) => event.seq > seq,
                        None => event.at >= started,
                    };
                    if !new {
                        continue;
                    }
                    let notice = Notice {
                        event,
                        station: ticket.station.as_ref().map(|s| s.as_str().to_owned()),
                        division: ticket.division.as_ref().map(|d| d.as_str().to_owned()),
                        submitted_by: ticket.submitted_by.as_ref().map(|s| s.as_str().to_owned()),
                    };
                    let _ = self.tx.send(Arc::new(notice));
                }
                if ticket.stage.is_live() {
                    sent.insert(id, ticket.version);
                } else {
                    sent.remove(&id);
                }
            }
        }
    }
}
