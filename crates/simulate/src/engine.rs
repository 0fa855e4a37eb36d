//! The port to the real engine. The router implements it over its ticket service
//! (`hotline_router::simulate`): the same store, queues, routing, SLA policy, working calendar
//! and escalation a centre runs, on a clock the simulator moves.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{Action, Actor, Event, NewTicket, StaffId, StationId, Ticket, TicketId};
use hotline_directory::Directory;
use hotline_sla::{SlaPolicy, WorkingCalendar};

use crate::SimulateError;

/// One engine instance, on its own clock and store.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Moves the engine's clock (it only moves forward in a run).
    fn set_time(&self, at: DateTime<Utc>);

    /// Records a request and routes it (the operator fixed category, nature, urgency and
    /// territory; the engine classifies the rest and picks the station from its catalogue).
    async fn submit(&self, new: NewTicket) -> Result<Ticket, SimulateError>;

    /// A member of staff takes the next ticket off the station's queue, in the engine's order.
    async fn claim(
        &self,
        station: &StationId,
        staff: &StaffId,
    ) -> Result<Option<Ticket>, SimulateError>;

    /// One lifecycle action; the engine fills in the deadlines.
    async fn act(
        &self,
        id: TicketId,
        actor: Actor,
        action: Action,
    ) -> Result<Ticket, SimulateError>;

    /// Fires the SLA timers due at the engine's time (warnings, breaches, urging,
    /// supervision, publication); returns how many changed a ticket.
    async fn fire_due_timers(&self) -> Result<usize, SimulateError>;

    /// A ticket's event log, oldest first.
    async fn history(&self, id: TicketId) -> Result<Vec<Event>, SimulateError>;

    /// Puts a new SLA policy in force from now (as a restart with another `--sla-policy`).
    async fn replace_policy(&self, policy: SlaPolicy) -> Result<(), SimulateError>;

    /// The working calendar deadlines are counted on.
    fn calendar(&self) -> Arc<WorkingCalendar>;

    fn directory(&self) -> Arc<Directory>;

    /// What the run record says the engine is: its version and backends.
    fn describe(&self) -> String;
}

/// Opens a fresh engine for each run (the capacity search runs many).
#[async_trait]
pub trait EngineFactory: Send + Sync {
    async fn open(
        &self,
        start: DateTime<Utc>,
        policy: SlaPolicy,
    ) -> Result<Box<dyn Engine>, SimulateError>;

    /// The working calendar and directory a scenario is checked against.
    fn calendar(&self) -> Arc<WorkingCalendar>;
    fn directory(&self) -> Arc<Directory>;
    fn taxonomy(&self) -> Arc<hotline_classify::Taxonomy>;
}
