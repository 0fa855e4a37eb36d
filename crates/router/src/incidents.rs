//! 并案 (issue 13): tickets about one matter grouped under one lead ticket, as the router runs
//! them.
//!
//! - A routed request that duplicates a live ticket is merged into that ticket's incident: the
//!   incident is opened on the first duplicate, led by the ticket it duplicates (whose id it
//!   bears, so replicas that recognise the matter at once open one incident), and the lead
//!   records it in its history. The merged ticket goes to no station: the lead's station
//!   handles the matter once, not 300 times.
//! - Operators see the incident and its latest public notice on intake (`PreviewRoute`, the
//!   desk) and answer the caller from it, or link the call ([`Hotline::join_incident_as`]).
//! - The supervisor posts notices, one reply to every merged ticket, closes them together, or
//!   splits one out. Each ticket keeps its own history, callback and figures: the one reply is
//!   written to each ticket as its own event, and each caller is called back.
//!
//! - A surge (a hotspot alert on a street or a community, `crate::hotspots`) is one matter
//!   however its callers word it: its calls are merged into one incident
//!   ([`Hotline::fold_surge`]), led by its earliest call still waiting, and the calls routed
//!   while the alert is on join it at intake. Text duplicates alone cannot do that: 停水 is said
//!   a dozen ways, and duplicates are looked up per community.
//!
//! Membership lives in the tickets (their `incident` field, written by their own changes), so
//! a ticket is never half-merged; the store's incident row keeps notices, the reply and the
//! closing.

use hotline_core::{Action, CategoryCode, IncidentId, Stage, StationId, Ticket, TicketId};
use hotline_identity::{Principal, Role};
use hotline_store::{IncidentNote, IncidentRecord};

use crate::access;
use crate::error::RouterError;
use crate::escalation;
use crate::tickets::Hotline;

/// What makes the calls of a surge one matter: the same category, and the station the
/// dispatch catalogue picks for them. 停水 goes to the water company, a broken street light in
/// the same street to the street's 城管: one category, two matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matter {
    pub category: CategoryCode,
    pub station: Option<StationId>,
}

impl Matter {
    /// A routed ticket's matter (the router's pick, not a station it moved to since).
    pub fn of(ticket: &Ticket) -> Option<Matter> {
        Some(Matter {
            category: ticket.category.clone()?,
            station: ticket.route.as_ref().and_then(|r| r.station.clone()),
        })
    }
}

/// An incident with its lead ticket (whose station answers for it), and, when asked for, all of
/// its tickets (the lead first).
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub record: IncidentRecord,
    pub lead: Ticket,
    pub tickets: Vec<Ticket>,
}

/// How many times a change that raced another is tried again before the caller is told.
const RETRIES: usize = 3;

impl Hotline {
    /// The incident `original` belongs to, opening one led by it when it has none. `by` is who
    /// recognised the matter (the engine, or the operator who linked the call).
    pub(crate) async fn incident_of(
        &self,
        original: &Ticket,
        by: &str,
    ) -> Result<IncidentId, RouterError> {
        if let Some(id) = original.incident {
            return Ok(id);
        }
        let store = self.require_incidents()?;
        let id = IncidentId::led_by(original.id);
        let now = self.now();
        let record = store.open_incident(id, by, now).await?;
        if record.opened_by == by && record.opened_at.timestamp_millis() == now.timestamp_millis() {
            metrics::counter!("hotline_incidents_opened_total").increment(1);
        }
        self.record_lead(original.id, id).await?;
        Ok(id)
    }

    /// Writes `lead_incident` to the lead's history, once, however many replicas race to.
    async fn record_lead(&self, lead: TicketId, id: IncidentId) -> Result<(), RouterError> {
        for _ in 0..RETRIES {
            let ticket = self.get(lead).await?;
            match ticket.incident {
                Some(current) if current == id => return Ok(()),
                Some(other) => {
                    return Err(RouterError::Precondition(format!(
                        "ticket {lead} is already in incident {other}"
                    )))
                }
                None => {}
            }
            if !ticket.stage.is_live() {
                return Err(RouterError::Precondition(format!(
                    "ticket {lead} is closed; an incident is led by a live ticket"
                )));
            }
            match self
                .act(
                    lead,
                    Some(ticket.version),
                    escalation::engine(),
                    Action::LeadIncident { incident: id },
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(RouterError::Conflict(_)) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(RouterError::Unavailable(format!(
            "ticket {lead} kept changing while it was made the lead of incident {id}; try again"
        )))
    }

    /// The incident and its lead, as the store has them now (`tickets` left empty).
    pub async fn incident(&self, id: IncidentId) -> Result<IncidentView, RouterError> {
        let store = self.require_incidents()?;
        let record = store
            .incident(id)
            .await?
            .ok_or_else(|| RouterError::NotFound(format!("incident {id} does not exist")))?;
        let lead = self.get(id.lead()).await?;
        Ok(IncidentView {
            record,
            lead,
            tickets: Vec::new(),
        })
    }

    /// The incident of `ticket`, if it is in one (for intake: the notice to read to the caller).
    pub async fn incident_for(&self, ticket: &Ticket) -> Result<Option<IncidentView>, RouterError> {
        match (ticket.incident, self.incident_store()) {
            (Some(id), Some(_)) => self.incident(id).await.map(Some),
            _ => Ok(None),
        }
    }

    /// An incident `who` may see: its lead inside their scope (NOT_FOUND otherwise, as for a
    /// missing one), with every ticket of it that they may see.
    pub async fn incident_detail_as(
        &self,
        who: &Principal,
        id: IncidentId,
    ) -> Result<IncidentView, RouterError> {
        let mut view = self.incident(id).await?;
        if !access::sees(who, &view.lead, self.directory()) {
            return Err(RouterError::NotFound(format!(
                "incident {id} does not exist"
            )));
        }
        let mut tickets = self.require_incidents()?.incident_tickets(id).await?;
        tickets.retain(|t| access::sees(who, t, self.directory()));
        view.tickets = tickets;
        Ok(view)
    }

    /// Incidents newest first whose lead `who` may see.
    pub async fn incidents_as(
        &self,
        who: &Principal,
        closed_too: bool,
        limit: u32,
    ) -> Result<Vec<IncidentView>, RouterError> {
        let records = self
            .require_incidents()?
            .incidents(closed_too, limit)
            .await?;
        let leads = self
            .store()
            .get_many(&records.iter().map(|r| r.id.lead()).collect::<Vec<_>>())
            .await?;
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let Some(lead) = leads.iter().find(|t| t.id == record.id.lead()) else {
                continue;
            };
            if access::sees(who, lead, self.directory()) {
                views.push(IncidentView {
                    record,
                    lead: lead.clone(),
                    tickets: Vec::new(),
                });
            }
        }
        Ok(views)
    }

    /// The operator links a call to the incident of `of` (opening it, led by `of`, if needed).
    pub async fn join_incident_as(
        &self,
        who: &Principal,
        id: TicketId,
        expected_version: Option<u64>,
        of: TicketId,
    ) -> Result<(Ticket, IncidentView), RouterError> {
        let ticket = self.get(id).await?;
        if !access::sees(who, &ticket, self.directory()) {
            return Err(access::out_of_scope(who, &ticket));
        }
        if of == id {
            return Err(hotline_core::InvalidInput::new(
                "of_ticket_id",
                "a ticket cannot be linked to itself",
            )
            .into());
        }
        let original = self.get_as(who, of).await.map_err(|e| match e {
            RouterError::NotFound(_) => {
                RouterError::NotFound(format!("ticket {of} (the one to link to) does not exist"))
            }
            other => other,
        })?;
        if !original.stage.is_live() {
            return Err(RouterError::Precondition(format!(
                "ticket {of} is closed; a call can only be linked to a live matter"
            )));
        }
        if original.incident.is_none() && original.stage == Stage::Merged {
            return Err(RouterError::Precondition(format!(
                "ticket {of} is merged but names no incident"
            )));
        }
        // The lifecycle's verdict before the incident is opened: a refused link leaves no
        // incident (and no lead event) behind.
        let incident = original
            .incident
            .unwrap_or_else(|| IncidentId::led_by(original.id));
        hotline_core::apply(
            &ticket,
            &access::actor(who)?,
            Action::JoinIncident { incident },
            self.now(),
        )?;
        let incident = self.incident_of(&original, who.login.as_str()).await?;
        let ticket = self
            .act_as(who, id, expected_version, Action::JoinIncident { incident })
            .await?;
        metrics::counter!("hotline_incident_links_total", "by" => "operator").increment(1);
        let view = self.incident(incident).await?;
        let ticket = self.answer_late_joiner(ticket, &view).await?;
        Ok((ticket, view))
    }

    /// Posts a public notice on the incident.
    pub async fn post_notice_as(
        &self,
        who: &Principal,
        id: IncidentId,
        text: &str,
    ) -> Result<IncidentView, RouterError> {
        let text = hotline_core::ticket::required_text(
            "text",
            text,
            hotline_core::ticket::NOTE_MAX_CHARS,
        )?;
        let view = self.open_incident_in_scope(who, id).await?;
        let note = IncidentNote {
            text,
            by: who.login.as_str().to_owned(),
            at: self.now(),
        };
        let record = self
            .require_incidents()?
            .post_incident_notice(id, &note)
            .await?
            .ok_or_else(|| RouterError::NotFound(format!("incident {id} does not exist")))?;
        metrics::counter!("hotline_incident_notices_total").increment(1);
        Ok(IncidentView { record, ..view })
    }

    /// Gives the one public reply to every ticket merged into the incident. Each gets it as its
    /// own event and waits for its own callback; tickets already answered are left as they are.
    pub async fn reply_to_incident_as(
        &self,
        who: &Principal,
        id: IncidentId,
        public_reply: &str,
    ) -> Result<IncidentView, RouterError> {
        // Checked once, before any ticket is touched: a reply over the limit answers none.
        let public_reply = hotline_core::ticket::required_text(
            "public_reply",
            public_reply,
            hotline_core::ticket::NOTE_MAX_CHARS,
        )?;
        let view = self.open_incident_in_scope(who, id).await?;
        // Recorded on each reply for the figures: the station that handled the matter.
        let station = view.lead.lead_station.clone().or(view.lead.station.clone());
        let actor = access::actor(who)?;
        let store = self.require_incidents()?;
        for ticket in store.incident_tickets(id).await? {
            if ticket.stage != Stage::Merged {
                continue;
            }
            let action = Action::IncidentReply {
                incident: id,
                public_reply: public_reply.clone(),
                callback_due: None,
                station: station.clone(),
            };
            self.act_retrying(ticket.id, &actor, action).await?;
        }
        let note = IncidentNote {
            text: public_reply,
            by: who.login.as_str().to_owned(),
            at: self.now(),
        };
        store.record_incident_reply(id, &note).await?;
        self.incident_detail_as(who, id).await
    }

    /// A call that joins an incident already answered (a caller who rings after the reply) is
    /// given the incident's reply at once, with its own callback clock: otherwise it would wait
    /// merged for a reply that was posted before it came. A closed incident takes no one.
    /// `view` is the incident as its caller read it after the join. The ticket as it stands
    /// after.
    pub(crate) async fn answer_late_joiner(
        &self,
        ticket: Ticket,
        view: &IncidentView,
    ) -> Result<Ticket, RouterError> {
        let id = view.record.id;
        if ticket.stage != Stage::Merged || ticket.incident != Some(id) {
            return Ok(ticket);
        }
        let (Some(reply), None) = (&view.record.reply, &view.record.closed) else {
            return Ok(ticket);
        };
        let action = Action::IncidentReply {
            incident: id,
            public_reply: reply.text.clone(),
            callback_due: None,
            station: view.lead.lead_station.clone().or(view.lead.station.clone()),
        };
        let answered = self
            .act_retrying(ticket.id, &escalation::engine(), action)
            .await?;
        metrics::counter!("hotline_incident_late_replies_total").increment(1);
        Ok(answered)
    }

    /// Closes the incident's tickets together, and the incident: refused, naming the ticket,
    /// while one is under return arbitration or waits for anything but closing.
    pub async fn close_incident_as(
        &self,
        who: &Principal,
        id: IncidentId,
    ) -> Result<IncidentView, RouterError> {
        self.open_incident_in_scope(who, id).await?;
        let store = self.require_incidents()?;
        let tickets = store.incident_tickets(id).await?;
        let open: Vec<&Ticket> = tickets.iter().filter(|t| t.stage.is_live()).collect();
        if let Some(t) = open.iter().find(|t| t.stage == Stage::ReturnRequested) {
            return Err(RouterError::Precondition(format!(
                "ticket {} of incident {id} is under return arbitration (退单待审): decide the \
                 return before closing the incident",
                t.id
            )));
        }
        if let Some(t) = open
            .iter()
            .find(|t| t.stage != Stage::AwaitingCallback || t.callback.is_none())
        {
            let waits = match t.stage {
                Stage::Merged => "the incident's reply".to_owned(),
                Stage::AwaitingCallback => "its callback (回访)".to_owned(),
                other => format!("its station ({} {})", other.code(), other.name_zh()),
            };
            return Err(RouterError::Precondition(format!(
                "ticket {} of incident {id} still waits for {waits}: every ticket is called \
                 back before the incident closes",
                t.id
            )));
        }
        let actor = access::actor(who)?;
        for ticket in open {
            self.act_retrying(ticket.id, &actor, Action::Close).await?;
        }
        let closing = IncidentNote {
            text: String::new(),
            by: who.login.as_str().to_owned(),
            at: self.now(),
        };
        store.close_incident(id, &closing).await?;
        metrics::counter!("hotline_incidents_closed_total").increment(1);
        self.incident_detail_as(who, id).await
    }

    /// Splits `ticket` out of the incident: it is handled on its own from now.
    pub async fn split_from_incident_as(
        &self,
        who: &Principal,
        id: IncidentId,
        ticket: TicketId,
        expected_version: Option<u64>,
        note: String,
    ) -> Result<Ticket, RouterError> {
        let current = self.get(ticket).await?;
        if !access::sees(who, &current, self.directory()) {
            return Err(access::out_of_scope(who, &current));
        }
        // The lifecycle names what is wrong with the ticket (not in this incident, its lead,
        // already answered) before the incident itself is looked at.
        let action = Action::LeaveIncident { incident: id, note };
        hotline_core::apply(&current, &access::actor(who)?, action.clone(), self.now())?;
        self.open_incident_in_scope(who, id).await?;
        self.act_as(who, ticket, expected_version, action).await
    }

    /// The incident, refused when `who` may not see its lead (NOT_FOUND) or it is closed.
    async fn open_incident_in_scope(
        &self,
        who: &Principal,
        id: IncidentId,
    ) -> Result<IncidentView, RouterError> {
        if !matches!(who.role, Role::Supervisor | Role::Operator) {
            return Err(RouterError::Forbidden(format!(
                "{} ({}) may not work incidents",
                who.login,
                who.role.code()
            )));
        }
        let view = self.incident(id).await?;
        if !access::sees(who, &view.lead, self.directory()) {
            return Err(RouterError::NotFound(format!(
                "incident {id} does not exist"
            )));
        }
        if view.record.closed.is_some() {
            return Err(RouterError::Precondition(format!(
                "incident {id} is closed"
            )));
        }
        Ok(view)
    }

    /// One change to one ticket of an incident, from the version read now, tried again when
    /// another change won the race (a callback recorded at the same moment, say).
    async fn act_retrying(
        &self,
        id: TicketId,
        actor: &hotline_core::Actor,
        action: Action,
    ) -> Result<Ticket, RouterError> {
        for _ in 0..RETRIES {
            let current = self.get(id).await?;
            match self
                .act(id, Some(current.version), actor.clone(), action.clone())
                .await
            {
                Err(RouterError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(RouterError::Unavailable(format!(
            "ticket {id} kept changing; the incident was left part-way, do it again"
        )))
    }

    /// 并案 of a surge: the calls `ids` (those that raised a hotspot alert, and any since) are
    /// merged into one incident. The surge's matter is the most common among them (see
    /// [`Matter`]); only its calls are merged. The incident is led by the earliest of them that
    /// is routed and merged nowhere (a smaller incident's lead included, whose incident then
    /// becomes the surge's), so every replica that folds the same alert picks the same lead.
    /// `None` when none can lead. Calls a station has signed for are left where they are.
    pub(crate) async fn fold_surge(
        &self,
        ids: &[TicketId],
        by: &str,
    ) -> Result<Option<(IncidentId, Matter)>, RouterError> {
        let mut tickets = self.store().get_many(ids).await?;
        tickets.retain(|t| t.stage.is_live());
        tickets.sort_by_key(|t| (t.created_at, t.id));
        let mut matters: Vec<(Matter, usize)> = Vec::new();
        for matter in tickets.iter().filter_map(Matter::of) {
            match matters.iter_mut().find(|(m, _)| *m == matter) {
                Some((_, n)) => *n += 1,
                None => matters.push((matter, 1)),
            }
        }
        // The most calls; on a tie, the one called in first (the tickets are in call order).
        let Some((matter, _)) = matters.into_iter().rev().max_by_key(|(_, n)| *n) else {
            return Ok(None);
        };
        tickets.retain(|t| Matter::of(t).as_ref() == Some(&matter));
        let Some(lead) = tickets.iter().find(|t| {
            !matches!(t.stage, Stage::Merged | Stage::Accepted)
                && t.incident.is_none_or(|i| i.lead() == t.id)
        }) else {
            return Ok(None);
        };
        let incident = self.incident_of(lead, by).await?;
        let mut joined = 0;
        for ticket in &tickets {
            if ticket.incident != Some(incident) && ticket.id != lead.id {
                joined += self.take_into_surge(ticket.id, incident, &matter).await?;
            }
        }
        tracing::info!(
            %incident,
            calls = tickets.len(),
            joined,
            by,
            "surge merged into one incident"
        );
        Ok(Some((incident, matter)))
    }

    /// Takes one call into a surge's `incident` if it may go: routed and not yet signed for,
    /// or merged into a smaller incident. The lead of a smaller incident brings
    /// its members. Returns how many tickets joined.
    pub(crate) async fn take_into_surge(
        &self,
        id: TicketId,
        incident: IncidentId,
        matter: &Matter,
    ) -> Result<usize, RouterError> {
        let mut work = vec![id];
        let mut joined = 0;
        while let Some(id) = work.pop() {
            if let Some(moved) = self.join_surge_once(id, incident, matter).await? {
                joined += 1;
                metrics::counter!("hotline_incident_links_total", "by" => "surge").increment(1);
                if let Some(smaller) = moved {
                    work.extend(
                        self.require_incidents()?
                            .incident_tickets(smaller)
                            .await?
                            .into_iter()
                            .filter(|t| t.stage == Stage::Merged && t.incident == Some(smaller))
                            .map(|t| t.id),
                    );
                }
            }
        }
        Ok(joined)
    }

    /// `Some(smaller incident it led)` when the ticket joined, `None` when it stays.
    async fn join_surge_once(
        &self,
        id: TicketId,
        incident: IncidentId,
        matter: &Matter,
    ) -> Result<Option<Option<IncidentId>>, RouterError> {
        for _ in 0..RETRIES {
            let ticket = self.get(id).await?;
            if ticket.incident == Some(incident)
                || incident.lead() == id
                || Matter::of(&ticket).as_ref() != Some(matter)
            {
                return Ok(None);
            }
            let led = ticket.incident.filter(|i| i.lead() == id);
            // Routed and not yet signed for. (A call still in an operator's hands, 已受理 and
            // held, is the operator's to settle: they see the incident on intake.)
            let waiting = matches!(
                ticket.stage,
                Stage::PendingDispatch | Stage::AwaitingSignFor
            ) && (ticket.incident.is_none() || led.is_some());
            if !(waiting || ticket.stage == Stage::Merged) {
                return Ok(None);
            }
            match self
                .act(
                    id,
                    Some(ticket.version),
                    escalation::engine(),
                    Action::JoinIncident { incident },
                )
                .await
            {
                Ok(joined) => {
                    let view = self.incident(incident).await?;
                    self.answer_late_joiner(joined, &view).await?;
                    return Ok(Some(led));
                }
                Err(RouterError::Conflict(_)) => continue,
                // Changed meanwhile into something that may not move (signed for, answered):
                // it stays, as the lifecycle says.
                Err(RouterError::Precondition(_)) => return Ok(None),
                Err(err) => return Err(err),
            }
        }
        Err(RouterError::Unavailable(format!(
            "ticket {id} kept changing while a surge's incident {incident} took it in"
        )))
    }
}
