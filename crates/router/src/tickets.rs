//! The ticket service: intake, every lifecycle action, claims and reads. No gRPC types here;
//! the adapters in [`crate::grpc`] convert and call in.
//!
//! Every change follows one path ([`Hotline::act`]): load -> check the expected version ->
//! fill SLA deadlines -> apply the pure lifecycle -> commit ticket + event atomically (losing a
//! race is ABORTED) -> bring the working set (queues, timers) in line with the new stage.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hotline_core::lifecycle::Role;
use hotline_core::{
    apply, open, Action, Actor, Clock, DivisionCode, Event, InvalidInput, NewTicket, Stage,
    StationId, Ticket, TicketId,
};
use hotline_directory::Directory;
use hotline_dispatch::{Lease, Queue, Timer, TimerIndex};
use hotline_store::{SearchQuery, TicketStore};

use crate::deadlines::Sla;
use crate::error::RouterError;
use crate::escalation;
use crate::working_set::WorkingSet;

/// Claim leases: how long a member of staff may hold a ticket before signing for it.
#[derive(Debug, Clone, Copy)]
pub struct LeasePolicy {
    pub default: Duration,
    pub max: Duration,
}

impl Default for LeasePolicy {
    fn default() -> Self {
        // TaskRouter's default offer timeout; long enough to read a ticket, short enough that an
        // abandoned claim does not stall the queue.
        Self {
            default: Duration::seconds(120),
            max: Duration::seconds(3600),
        }
    }
}

/// The engine, shared by every gRPC service.
#[derive(Clone)]
pub struct Hotline {
    store: Arc<dyn TicketStore>,
    queues: WorkingSet,
    directory: Arc<Directory>,
    sla: Sla,
    clock: Arc<dyn Clock>,
    leases: LeasePolicy,
}

/// What one round of timer firing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    pub claimed: usize,
    pub escalated: usize,
}

/// The outcome of a submit.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub ticket: Ticket,
    /// False when a retry with the same request id returned the ticket made the first time.
    pub created: bool,
}

impl Hotline {
    pub fn new(
        store: Arc<dyn TicketStore>,
        working_set: (Arc<dyn Queue>, Arc<dyn TimerIndex>),
        directory: Arc<Directory>,
        sla: Sla,
        clock: Arc<dyn Clock>,
        leases: LeasePolicy,
        escalation: escalation::Settings,
    ) -> Self {
        let (queue, timers) = working_set;
        let queues = WorkingSet::new(queue, timers, directory.clone(), sla.clone(), escalation);
        Self {
            store,
            queues,
            directory,
            sla,
            clock,
            leases,
        }
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn queues(&self) -> &WorkingSet {
        &self.queues
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records a request. With `dispatch_to`, dispatches it at once; the submit and the
    /// dispatch are written together, so a ticket is never stored half-way.
    pub async fn submit(
        &self,
        new: NewTicket,
        dispatch_to: Option<StationId>,
        actor: Actor,
    ) -> Result<Submitted, RouterError> {
        let new = new.validate()?;
        self.check_actor(&actor)?;
        if let Some(division) = &new.division {
            self.require_division(division, "division_code")?;
        }
        if let Some(station) = &dispatch_to {
            self.require_station(station, "station_id")?;
        }
        let fingerprint = new.fingerprint();
        let now = self.now();
        let (accepted, submitted) = open(TicketId::new(), new, actor.clone(), now);
        let mut follow_ups = Vec::new();
        if let Some(station) = dispatch_to {
            follow_ups.push((
                actor,
                Action::Dispatch {
                    station,
                    sign_for_due: None,
                    note: String::new(),
                },
            ));
        }
        let (ticket, events) = self.plan(&accepted, vec![submitted], follow_ups, now)?;
        let created = self.store.create(&ticket, &events, &fingerprint).await?;
        metrics::counter!("hotline_tickets_submitted_total", "new" => created.is_new().to_string())
            .increment(1);
        if !created.is_new() {
            return Ok(Submitted {
                ticket: created.into_ticket(),
                created: false,
            });
        }
        self.queues.follow(&accepted, &ticket).await;
        Ok(Submitted {
            ticket,
            created: true,
        })
    }

    /// Applies `actions` in order to `ticket` in memory (deadlines filled in at `now`), after
    /// the events already planned. Nothing is written.
    fn plan(
        &self,
        ticket: &Ticket,
        mut events: Vec<Event>,
        actions: Vec<(Actor, Action)>,
        now: DateTime<Utc>,
    ) -> Result<(Ticket, Vec<Event>), RouterError> {
        let mut current = ticket.clone();
        for (actor, mut action) in actions {
            self.check_targets(&action)?;
            self.sla.prepare(&current, &mut action, now)?;
            let (next, event) = apply(&current, &actor, action, now)?;
            events.push(event);
            current = next;
        }
        Ok((current, events))
    }

    pub async fn get(&self, id: TicketId) -> Result<Ticket, RouterError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| RouterError::NotFound(format!("ticket {id} does not exist")))
    }

    pub async fn history(&self, id: TicketId) -> Result<Vec<Event>, RouterError> {
        Ok(self.store.events(id).await?)
    }

    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<Ticket>, RouterError> {
        Ok(self.store.search(query).await?)
    }

    /// Applies one lifecycle action. `expected_version`, when given, must match the stored
    /// version (else ABORTED): the client decided on what it saw, and what it saw is stale.
    pub async fn act(
        &self,
        id: TicketId,
        expected_version: Option<u64>,
        actor: Actor,
        action: Action,
    ) -> Result<Ticket, RouterError> {
        self.check_actor(&actor)?;
        self.check_targets(&action)?;
        let ticket = self.get(id).await?;
        if let Some(expected) = expected_version {
            if expected != ticket.version {
                return Err(RouterError::Conflict(format!(
                    "ticket {id} is at version {}, not {expected}; reload it and try again",
                    ticket.version
                )));
            }
        }
        let now = self.now();
        self.check_rules(&ticket, &actor, &action, now).await?;
        let name = action.name();
        let (next, events) = self.plan(&ticket, Vec::new(), vec![(actor, action)], now)?;
        self.store.commit(&next, &events).await?;
        metrics::counter!("hotline_ticket_actions_total", "action" => name).increment(1);
        tracing::info!(ticket = %id, action = name, stage = %next.stage, version = next.version, "ticket changed");
        self.queues.follow(&ticket, &next).await;
        Ok(next)
    }

    /// Links `id` to the live ticket `of` and closes it as a duplicate. Returns both.
    pub async fn link_duplicate(
        &self,
        id: TicketId,
        expected_version: Option<u64>,
        actor: Actor,
        of: TicketId,
    ) -> Result<(Ticket, Ticket), RouterError> {
        let original = self.store.get(of).await?.ok_or_else(|| {
            RouterError::NotFound(format!("ticket {of} (the original) does not exist"))
        })?;
        if !original.stage.is_live() {
            return Err(RouterError::Precondition(format!(
                "ticket {of} is closed; a duplicate can only link to a live ticket"
            )));
        }
        let ticket = self
            .act(id, expected_version, actor, Action::LinkDuplicate { of })
            .await?;
        Ok((ticket, original))
    }

    /// Claims a ticket from the actor's station queue under a lease, and records the claim.
    pub async fn claim(
        &self,
        actor: Actor,
        ticket: Option<TicketId>,
        lease_for: Option<Duration>,
    ) -> Result<Option<(Ticket, Lease)>, RouterError> {
        self.check_actor(&actor)?;
        let (Role::Station, Some(station), Some(staff)) =
            (actor.role, &actor.station, &actor.staff)
        else {
            return Err(InvalidInput::new(
                "actor",
                "claims are made by station staff: role station with station_id and staff_id",
            )
            .into());
        };
        let lease_for = lease_for.unwrap_or(self.leases.default);
        if lease_for <= Duration::zero() || lease_for > self.leases.max {
            return Err(InvalidInput::new(
                "lease_seconds",
                format!("must be between 1 and {}", self.leases.max.num_seconds()),
            )
            .into());
        }
        if let Some(id) = ticket {
            // Say *why* a named ticket cannot be claimed: unknown, someone else's, or not waiting.
            let found = self.get(id).await?;
            if found.station.as_ref() != Some(station) {
                return Err(RouterError::Forbidden(format!(
                    "ticket {id} is not on station {station}'s queue"
                )));
            }
        }
        let now = self.now();
        let Some(lease) = self
            .queues
            .queue()
            .claim(station, staff, ticket, now + lease_for, now)
            .await?
        else {
            return Ok(None);
        };
        let claimed = self.get(lease.ticket).await?;
        let (next, event) = apply(&claimed, &actor, Action::Claim, now)?;
        self.store.commit(&next, &[event]).await?;
        metrics::counter!("hotline_claims_total").increment(1);
        Ok(Some((next, lease)))
    }

    /// Rules that need more than the ticket itself (the directory, the queue's leases).
    async fn check_rules(
        &self,
        ticket: &Ticket,
        actor: &Actor,
        action: &Action,
        now: DateTime<Utc>,
    ) -> Result<(), RouterError> {
        match action {
            Action::SignFor { .. } => {
                // Someone else's live claim wins: sign for it only once their lease is gone.
                if let Some(lease) = self.queues.queue().lease(ticket.id, now).await? {
                    if Some(&lease.holder) != actor.staff.as_ref() {
                        return Err(RouterError::Precondition(format!(
                            "ticket {} is claimed by {} until {}",
                            ticket.id,
                            lease.holder,
                            lease.until.to_rfc3339()
                        )));
                    }
                }
            }
            Action::SubDispatch { station, .. } => {
                // 下派 goes down the tree: only to a station inside the holder's territory.
                let holder = ticket
                    .station
                    .as_ref()
                    .and_then(|s| self.directory.station(s));
                let target = self.directory.station(station);
                if let (Some(holder), Some(target)) = (holder, target) {
                    let inside = target
                        .division
                        .as_str()
                        .starts_with(holder.division.as_str())
                        && target.division != holder.division;
                    if !inside {
                        return Err(RouterError::Precondition(format!(
                            "{} can only sub-dispatch to a station inside {}; {} is not",
                            holder.name, holder.division, target.name
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Station staff must name a station that exists.
    fn check_actor(&self, actor: &Actor) -> Result<(), RouterError> {
        if let Some(station) = &actor.station {
            self.require_station(station, "actor.station_id")?;
        }
        if actor.role == Role::Station && actor.station.is_none() {
            return Err(InvalidInput::new(
                "actor.station_id",
                "station staff must say which station they act for",
            )
            .into());
        }
        Ok(())
    }

    /// Stations and divisions named by an action must exist in the directory.
    fn check_targets(&self, action: &Action) -> Result<(), RouterError> {
        match action {
            Action::Dispatch { station, .. }
            | Action::SubDispatch { station, .. }
            | Action::Redispatch { station, .. }
            | Action::AddCoHandler { station, .. } => self.require_station(station, "station_id"),
            Action::Reclassify {
                division: Some(division),
                ..
            } => self.require_division(division, "division_code"),
            _ => Ok(()),
        }
    }

    fn require_station(&self, id: &StationId, field: &'static str) -> Result<(), RouterError> {
        if self.directory.station(id).is_none() {
            return Err(RouterError::NotFound(format!(
                "{field}: station {id} is not in the directory"
            )));
        }
        Ok(())
    }

    fn require_division(
        &self,
        code: &DivisionCode,
        field: &'static str,
    ) -> Result<(), RouterError> {
        if self.directory.division(code).is_none() {
            return Err(RouterError::NotFound(format!(
                "{field}: division {code} is not in the directory"
            )));
        }
        Ok(())
    }

    /// Rebuilds the working set (queues, timers) from the store: at start-up, on demand, and
    /// after a working-set backend lost data or was unreachable.
    pub async fn rebuild_working_set(&self) -> Result<(usize, usize), RouterError> {
        let tickets = self
            .store
            .in_stages(&[
                Stage::PendingDispatch,
                Stage::AwaitingSignFor,
                Stage::InProgress,
                Stage::ReturnRequested,
                Stage::AwaitingCallback,
            ])
            .await?;
        self.queues.rebuild(&tickets).await
    }

    /// Claims the timers due now (at most `limit`) and applies each one's escalation. Stale or
    /// already-applied timers are acknowledged without effect.
    pub async fn fire_due_timers(&self, limit: usize) -> Result<FireReport, RouterError> {
        let now = self.now();
        let due = self
            .queues
            .timers()
            .claim_due(now, limit, escalation::TIMER_LEASE())
            .await?;
        let mut fired = 0;
        for timer in &due {
            match self.fire(timer).await {
                Ok(true) => fired += 1,
                Ok(false) => {}
                Err(err) => {
                    // Left in flight: its lease runs out and it is tried again.
                    tracing::error!(%timer, error = %err, "timer failed; it will be retried");
                    continue;
                }
            }
            self.queues.timers().ack(timer).await?;
        }
        if fired > 0 {
            metrics::counter!("hotline_escalations_total").increment(fired as u64);
        }
        Ok(FireReport {
            claimed: due.len(),
            escalated: fired,
        })
    }

    /// Applies one timer. `Ok(false)` when it no longer applies or was already applied.
    async fn fire(&self, timer: &Timer) -> Result<bool, RouterError> {
        // Two replicas (or a retry) may race here; the version check lets one write, and the
        // loser sees the flag on reload and stops.
        for _ in 0..3 {
            let Some(ticket) = self.store.get(timer.ticket).await? else {
                return Ok(false);
            };
            if !escalation::still_applies(&ticket, timer) {
                return Ok(false);
            }
            let widen_to = self.widen_target(&ticket);
            let Some(action) = escalation::action_for(&ticket, timer, widen_to) else {
                return Ok(false);
            };
            match self
                .act(
                    ticket.id,
                    Some(ticket.version),
                    escalation::engine(),
                    action,
                )
                .await
            {
                Ok(_) => {
                    tracing::info!(%timer, "escalated");
                    return Ok(true);
                }
                Err(RouterError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(false)
    }

    /// The same kind of station one level up from the ticket's station, for widening.
    fn widen_target(&self, ticket: &Ticket) -> Option<StationId> {
        let station = self.directory.station(ticket.station.as_ref()?)?;
        let parent = self.directory.parent(&station.division)?;
        self.directory
            .nearest_station_of_kind(&parent.code, station.kind)
            .map(|s| s.id.clone())
    }

    /// Health: the store answers.
    pub async fn ping(&self) -> Result<(), RouterError> {
        Ok(self.store.ping().await?)
    }
}
