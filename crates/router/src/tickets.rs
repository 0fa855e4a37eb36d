//! The ticket service: intake, every lifecycle action, claims and reads. No gRPC types here;
//! the adapters in [`crate::grpc`] convert and call in.
//!
//! Every change follows one path ([`Hotline::act`]): load -> check the expected version ->
//! fill SLA deadlines -> apply the pure lifecycle -> commit ticket + event atomically (losing a
//! race is ABORTED) -> bring the working set (queues, timers) in line with the new stage.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;
use chrono::{DateTime, Duration, Utc};
use hotline_core::lifecycle::Role;
use hotline_core::{
    apply, open, Action, Actor, ArticleRef, CategoryCode, Clock, DivisionCode, DueDates, Event,
    InvalidInput, LifecycleError, Nature, NewTicket, Stage, StationId, Ticket, TicketId, Urgency,
};
use hotline_directory::Directory;
use hotline_dispatch::{DuplicateIndex, Lease, Queue, QueueError, Timer, TimerIndex};
use hotline_identity::{Principal, Scope, Territory};
use hotline_sla::WorkingCalendar;
use hotline_store::{IncidentStore, SearchQuery, TicketStore};

use crate::access::{self, ContactView};
use crate::deadlines::Sla;
use crate::error::RouterError;
use crate::escalation;
use crate::routing::{Hints, Routing};
use crate::working_set::{Verify, WorkingSet};

/// How a route explanation says the operator picked the station (the desk looks for it).
pub const OPERATOR_STATION: &str = "话务员指定承办单位 operator override";

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
    routing: Option<Routing>,
    /// Where reads of a caller's unmasked contact are recorded (the identity room's log).
    contact_log: Option<Arc<dyn ContactLog>>,
    /// The identity room (accounts, credentials), for the server to wire in front of the API.
    identity: Option<Arc<hotline_identity::Identity>>,
    kpis: Option<hotline_kpi::Kpis>,
    /// Hotspot / surge alerts (off when `None`).
    hotspots: Option<crate::hotspots::HotspotRoom>,
    /// The knowledge base (articles, their index, which direct answers are called back).
    knowledge: Option<crate::knowledge::KnowledgeRoom>,
    /// Where a new working calendar comes from when the holiday notices are reloaded.
    calendar_source: Option<CalendarSource>,
    /// Address aliases learned from territory corrections.
    aliases: Option<crate::aliases::AliasRoom>,
    /// 并案 incidents; without them a routed duplicate is closed as a duplicate of the live
    /// ticket instead of merged into its incident.
    incidents: Option<Arc<dyn IncidentStore>>,
}

/// How to load the working calendar again (the configured notices, at a given time).
#[derive(Clone)]
pub struct CalendarSource {
    pub load: Arc<dyn Fn(DateTime<Utc>) -> anyhow::Result<WorkingCalendar> + Send + Sync>,
    /// The directory a new notice goes in (`--holidays-dir`), for the warning to name.
    pub holidays_dir: Option<std::path::PathBuf>,
    /// Whether a recomputed deadline may move earlier than the one already told.
    pub allow_earlier: bool,
}

/// The calendar in force, and what its last reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarStatus {
    pub published: Vec<i32>,
    pub provisional: Vec<i32>,
    /// From November on, while next year's notice is not loaded.
    pub warning: Option<String>,
    pub checked: usize,
    pub recomputed: usize,
}

/// Records that someone read a caller's unmasked contact (who, when, which ticket).
#[async_trait::async_trait]
pub trait ContactLog: Send + Sync {
    async fn record(&self, reader: &Principal, ticket: TicketId) -> Result<(), RouterError>;
}

/// What one round of timer firing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    pub claimed: usize,
    pub escalated: usize,
}

/// What intake does with a new request besides recording it.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Record only: the operator settles it (answer, hand off, not accept, dispatch by hand).
    Hold,
    /// Dispatch at once to this station.
    DispatchTo(StationId),
    /// Route automatically (classify, resolve, catalogue; triage when unsure; link a live
    /// duplicate), with what the operator fixed by hand.
    Route(Hints),
    /// 直办 at once: classified and resolved like a routed request (the route is recorded for
    /// the figures), never dispatched, and answered (from the article, if one is given) in the
    /// same write ([`Hotline::direct_answer`]).
    Answer {
        hints: Hints,
        answer: String,
        article: Option<ArticleRef>,
    },
}

/// The outcome of a submit.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub ticket: Ticket,
    /// False when a retry with the same request id returned the ticket made the first time.
    pub created: bool,
    /// The live ticket this request was linked to as a duplicate, with its progress.
    pub duplicate_of: Option<Ticket>,
    /// The incident it was merged into (with its latest notice).
    pub incident: Option<crate::incidents::IncidentView>,
}

/// A re-categorisation: what changes (`None`: keep, or let the router decide again).
#[derive(Debug, Clone, Default)]
pub struct Reclassification {
    pub category: Option<CategoryCode>,
    pub nature: Option<Nature>,
    pub urgency: Option<Urgency>,
    pub division: Option<DivisionCode>,
    pub address: Option<String>,
}

impl Hotline {
    pub fn new(
        store: Arc<dyn TicketStore>,
        working_set: (Arc<dyn Queue>, Arc<dyn TimerIndex>, Arc<dyn DuplicateIndex>),
        directory: Arc<Directory>,
        sla: Sla,
        clock: Arc<dyn Clock>,
        leases: LeasePolicy,
        escalation: escalation::Settings,
    ) -> Self {
        let (queue, timers, duplicates) = working_set;
        // Every working-set operation is timed (`hotline_queue_op_seconds{op}`), whoever calls it.
        let queues = WorkingSet::new(
            Arc::new(crate::metrics::TimedQueue(queue)),
            Arc::new(crate::metrics::TimedTimers(timers)),
            Arc::new(crate::metrics::TimedDuplicates(duplicates)),
            store.clone(),
            directory.clone(),
            sla.clone(),
            escalation,
        );
        Self {
            store,
            queues,
            directory,
            sla,
            clock,
            leases,
            routing: None,
            contact_log: None,
            identity: None,
            kpis: None,
            hotspots: None,
            knowledge: None,
            calendar_source: None,
            aliases: None,
            incidents: None,
        }
    }

    /// 并案: routed duplicates are merged into incidents kept in `store` ([`crate::incidents`]).
    pub fn with_incidents(mut self, store: Arc<dyn IncidentStore>) -> Self {
        self.incidents = Some(store);
        self
    }

    pub fn incident_store(&self) -> Option<&Arc<dyn IncidentStore>> {
        self.incidents.as_ref()
    }

    /// The incident store, or UNAVAILABLE naming what is missing.
    pub fn require_incidents(&self) -> Result<&Arc<dyn IncidentStore>, RouterError> {
        self.incidents.as_ref().ok_or_else(|| {
            RouterError::Unavailable("incidents (并案) are not configured on this router".into())
        })
    }

    /// Adds automatic routing (without it, unrouted requests go to centre triage).
    pub fn with_routing(mut self, routing: Routing) -> Self {
        self.routing = Some(routing);
        self
    }

    /// The identity room: credentials are checked by it, and unmasked contact reads are
    /// written to its access log.
    pub fn with_identity(mut self, identity: Arc<hotline_identity::Identity>) -> Self {
        self.contact_log = Some(Arc::new(crate::grpc::auth::IdentityContactLog(
            identity.clone(),
        )));
        self.identity = Some(identity);
        self
    }

    pub fn identity(&self) -> Option<&Arc<hotline_identity::Identity>> {
        self.identity.as_ref()
    }

    /// The supervision figures (KPIs), served by the `Kpis` service.
    pub fn with_kpis(mut self, kpis: hotline_kpi::Kpis) -> Self {
        self.kpis = Some(kpis);
        self
    }

    pub fn kpis(&self) -> Option<&hotline_kpi::Kpis> {
        self.kpis.as_ref()
    }

    /// Hotspot alerts, or `None` when they are off.
    pub fn with_hotspots(mut self, hotspots: Option<crate::hotspots::HotspotRoom>) -> Self {
        self.hotspots = hotspots;
        self
    }

    pub fn hotspots(&self) -> Option<&crate::hotspots::HotspotRoom> {
        self.hotspots.as_ref()
    }

    /// Learned address aliases: territory corrections propose them, supervisors decide.
    pub fn with_aliases(mut self, aliases: crate::aliases::AliasRoom) -> Self {
        self.aliases = Some(aliases);
        self
    }

    pub fn aliases(&self) -> Option<&crate::aliases::AliasRoom> {
        self.aliases.as_ref()
    }

    /// The learned-alias room, or UNAVAILABLE naming what is missing.
    pub fn require_aliases(&self) -> Result<&crate::aliases::AliasRoom, RouterError> {
        self.aliases.as_ref().ok_or_else(|| {
            RouterError::Unavailable(
                "learned address aliases are not configured on this router (it routes without \
                 a routing engine)"
                    .into(),
            )
        })
    }

    pub fn with_knowledge(mut self, knowledge: crate::knowledge::KnowledgeRoom) -> Self {
        self.knowledge = Some(knowledge);
        self
    }

    pub fn knowledge(&self) -> Option<&crate::knowledge::KnowledgeRoom> {
        self.knowledge.as_ref()
    }

    /// The knowledge room, or UNAVAILABLE naming what is missing.
    pub fn require_knowledge(&self) -> Result<&crate::knowledge::KnowledgeRoom, RouterError> {
        self.knowledge.as_ref().ok_or_else(|| {
            RouterError::Unavailable("the knowledge base is not configured on this router".into())
        })
    }

    /// 直办 as an action: the answer read to the caller (from `article`, if the operator
    /// answered from one: its live version must still be the one they were shown), and
    /// whether the centre calls this caller back.
    pub async fn direct_answer(
        &self,
        ticket: TicketId,
        answer: &str,
        article: Option<ArticleRef>,
    ) -> Result<Action, RouterError> {
        let answer = match &article {
            Some(article) => {
                let published = self.require_knowledge()?.live_answer(article).await?;
                if answer.trim().is_empty() {
                    published
                } else {
                    answer.to_owned()
                }
            }
            None => answer.to_owned(),
        };
        let callback = self
            .knowledge
            .as_ref()
            .is_some_and(|k| k.calls_back(ticket));
        Ok(Action::AnswerDirectly {
            answer,
            article,
            callback,
            callback_due: None,
        })
    }

    /// Where the calendar is reloaded from ([`Hotline::reload_calendar`]).
    pub fn with_calendar_source(mut self, source: CalendarSource) -> Self {
        self.calendar_source = Some(source);
        self
    }

    pub fn sla(&self) -> &Sla {
        &self.sla
    }

    /// Published and provisional years, and the warning a centre must act on: from November,
    /// next year's notice not loaded.
    pub fn calendar_status(&self) -> CalendarStatus {
        let calendar = self.sla.calendar();
        let today = calendar.local_date(self.now());
        let next = today.year() + 1;
        let warning = (today.month() >= 11 && !calendar.published_years().contains(&next))
            .then(|| {
                let dir = self
                    .calendar_source
                    .as_ref()
                    .and_then(|s| s.holidays_dir.as_ref())
                    .map_or_else(
                        || "a directory given with --holidays-dir (HOTLINE_HOLIDAYS_DIR)".to_owned(),
                        |d| d.display().to_string(),
                    );
                format!(
                    "the holiday notice for {next} is not loaded: deadlines reaching into {next} are provisional (statutory holidays only, no 调休). Put {next}.json (holiday-cn format) in {dir} and reload (SIGHUP or Admin.ReloadCalendar)"
                )
            });
        CalendarStatus {
            published: calendar.published_years().to_vec(),
            provisional: calendar.provisional_years().to_vec(),
            warning,
            ..CalendarStatus::default()
        }
    }

    /// Loads the calendar again from its source (a new notice in `--holidays-dir`), puts it in
    /// force, and recounts every open ticket's deadlines that were counted over provisional
    /// days: a changed one is recorded as a `recompute_deadlines` event with both values, and
    /// its timers follow. A deadline never moves earlier than the one already told, unless the
    /// centre allows it (`--calendar-allow-earlier`).
    pub async fn reload_calendar(&self) -> Result<CalendarStatus, RouterError> {
        let source = self.calendar_source.clone().ok_or_else(|| {
            RouterError::Precondition("this router has no calendar source to reload".into())
        })?;
        let calendar = (source.load)(self.now()).map_err(|e| {
            RouterError::Invalid(InvalidInput::new(
                "holidays",
                format!("the holiday files were not loaded: {e:#}"),
            ))
        })?;
        let old = self.sla.replace_calendar(calendar);
        self.recount_provisional(&old, source.allow_earlier).await
    }

    /// Recounts every open ticket whose deadline `old` counted over provisional days, on the
    /// calendar in force now. At start-up `old` is the shipped calendar: a notice put in
    /// `--holidays-dir` while the router was down is applied like a reload.
    pub async fn recount_provisional(
        &self,
        old: &WorkingCalendar,
        allow_earlier: bool,
    ) -> Result<CalendarStatus, RouterError> {
        let mut status = self.calendar_status();
        let live: Vec<Stage> = Stage::ALL.iter().copied().filter(|s| s.is_live()).collect();
        for ticket in self.store.in_stages(&live).await? {
            let dues = DueDates::of(&ticket.deadlines);
            let provisional = [
                dues.sign_for,
                dues.first_contact,
                dues.resolution,
                dues.callback,
            ]
            .into_iter()
            .flatten()
            .any(|due| old.is_provisional_deadline(due));
            if !provisional {
                continue;
            }
            status.checked += 1;
            match self.recompute_deadlines(ticket.id, allow_earlier).await {
                Ok(true) => status.recomputed += 1,
                Ok(false) => {}
                Err(err) => crate::logging::warn_summarised("recomputing deadlines", &err),
            }
        }
        metrics::counter!("hotline_deadlines_recomputed_total").increment(status.recomputed as u64);
        tracing::info!(
            published = ?status.published,
            provisional = ?status.provisional,
            checked = status.checked,
            recomputed = status.recomputed,
            "working calendar reloaded"
        );
        Ok(status)
    }

    /// Recounts one ticket's deadlines on the calendar in force by replaying its history;
    /// records the change, if any. True when the deadlines changed.
    async fn recompute_deadlines(
        &self,
        id: TicketId,
        allow_earlier: bool,
    ) -> Result<bool, RouterError> {
        for _ in 0..3 {
            let current = self.get(id).await?;
            let events = self.store.events(id).await?;
            let replayed = self.replay_on_calendar(&events)?;
            let before = DueDates::of(&current.deadlines);
            let mut after = DueDates::of(&replayed.deadlines);
            if !allow_earlier {
                // What the caller and the station were told stands as the earliest.
                for (told, new) in [
                    (before.sign_for, &mut after.sign_for),
                    (before.first_contact, &mut after.first_contact),
                    (before.resolution, &mut after.resolution),
                    (before.callback, &mut after.callback),
                ] {
                    if let (Some(told), Some(due)) = (told, new.as_mut()) {
                        *due = (*due).max(told);
                    }
                }
            }
            if after == before {
                return Ok(false);
            }
            let years: Vec<String> = self
                .sla
                .calendar()
                .published_years()
                .iter()
                .map(ToString::to_string)
                .collect();
            let action = Action::RecomputeDeadlines {
                before,
                after,
                reason: format!(
                    "holiday notices loaded ({}); deadlines recounted",
                    years.join(", ")
                ),
            };
            match self
                .act_inner(
                    id,
                    Some(current.version),
                    escalation::engine(),
                    action,
                    None,
                )
                .await
            {
                Ok(_) => return Ok(true),
                Err(RouterError::Conflict(_)) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(RouterError::Unavailable(format!(
            "ticket {id} kept changing while its deadlines were recounted; the next reload retries"
        )))
    }

    /// The ticket its history gives when every deadline is counted again on the calendar in
    /// force (the recorded values where the rules refuse now, e.g. an extension's notice).
    fn replay_on_calendar(&self, events: &[Event]) -> Result<Ticket, RouterError> {
        let (first, rest) = events
            .split_first()
            .ok_or_else(|| RouterError::internal(anyhow::anyhow!("a ticket without events")))?;
        let Action::Submit { ticket: new } = &first.action else {
            return Err(RouterError::internal(anyhow::anyhow!(
                "ticket {}'s first event is not its submit",
                first.ticket_id
            )));
        };
        let (mut ticket, _) = open(
            first.ticket_id,
            (**new).clone(),
            first.actor.clone(),
            first.at,
        );
        for event in rest {
            if let Action::RecomputeDeadlines { .. } = event.action {
                // Recounted from scratch: an earlier recount is not an input.
                continue;
            }
            let mut action = event.action.clone();
            let recounted = self.sla.prepare(&ticket, &mut action, event.at).is_ok();
            let next = if recounted {
                apply(&ticket, &event.actor, action, event.at)
                    .or_else(|_| apply(&ticket, &event.actor, event.action.clone(), event.at))
            } else {
                apply(&ticket, &event.actor, event.action.clone(), event.at)
            };
            ticket = next.map(|(next, _)| next)?;
        }
        Ok(ticket)
    }

    /// Records every read of an unmasked contact here.
    pub fn with_contact_log(mut self, log: Arc<dyn ContactLog>) -> Self {
        self.contact_log = Some(log);
        self
    }

    pub fn store(&self) -> &dyn TicketStore {
        self.store.as_ref()
    }

    pub fn routing(&self) -> Option<&Routing> {
        self.routing.as_ref()
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

    /// Records a request and does what `disposition` says, all in one write: a ticket is never
    /// stored half-way (recorded but not yet routed).
    pub async fn submit(
        &self,
        new: NewTicket,
        disposition: Disposition,
        actor: Actor,
    ) -> Result<Submitted, RouterError> {
        let started = std::time::Instant::now();
        let submitted = self.submit_inner(new, disposition, actor).await;
        // Successful submits only: a refused one returns early and would pull the latency down.
        if submitted.is_ok() {
            metrics::histogram!(crate::metrics::SUBMIT_SECONDS)
                .record(started.elapsed().as_secs_f64());
        }
        submitted
    }

    async fn submit_inner(
        &self,
        new: NewTicket,
        disposition: Disposition,
        actor: Actor,
    ) -> Result<Submitted, RouterError> {
        let new = new.validate()?;
        self.check_actor(&actor)?;
        if let Some(division) = &new.division {
            self.require_division(division, "division_code")?;
        }
        if let Disposition::DispatchTo(station) = &disposition {
            self.require_station(station, "station_id")?;
        }
        let fingerprint = new.fingerprint();
        let now = self.now();
        let (accepted, submitted) = open(TicketId::new(), new, actor.clone(), now);
        let mut duplicate_of = None;
        let follow_ups = match disposition {
            Disposition::Hold => Vec::new(),
            Disposition::DispatchTo(station) => vec![(
                actor,
                Action::Dispatch {
                    station,
                    sign_for_due: None,
                    note: String::new(),
                },
            )],
            Disposition::Route(hints) => {
                let (actions, duplicate) = self.route_new(&accepted, &hints, now).await?;
                duplicate_of = duplicate;
                actions
            }
            Disposition::Answer {
                hints,
                answer,
                article,
            } => {
                let mut actions = Vec::new();
                if let Some(routing) = &self.routing {
                    let decision = routing.decide(&accepted, &hints);
                    actions.push((
                        escalation::engine(),
                        Action::Route {
                            explanation: Box::new(decision),
                        },
                    ));
                }
                let answer = self.direct_answer(accepted.id, &answer, article).await?;
                actions.push((actor, answer));
                actions
            }
        };
        let (mut ticket, events) = self.plan(&accepted, vec![submitted], follow_ups, now)?;
        let created = crate::metrics::timed_store_write(
            "create",
            self.store.create(&ticket, &events, &fingerprint),
        )
        .await?;
        metrics::counter!("hotline_tickets_submitted_total", "new" => created.is_new().to_string())
            .increment(1);
        if !created.is_new() {
            // A retry: the first try may have been cut off between its commit and its queue
            // update, so put the ticket where it belongs (a no-op when it already is).
            let existing = created.into_ticket();
            self.queues.put_back(&existing, Vec::new()).await;
            return Ok(Submitted {
                ticket: existing,
                created: false,
                duplicate_of: None,
                incident: None,
            });
        }
        self.follow_checked(&accepted, &ticket, Verify::NewTicket)
            .await;
        let incident = match ticket.incident {
            Some(_) => {
                metrics::counter!("hotline_incident_links_total", "by" => "router").increment(1);
                // The merge is written; a failed read of the notice only leaves it out.
                let view = self.incident_for(&ticket).await.unwrap_or_else(|err| {
                    crate::logging::warn_summarised("reading the incident", &err);
                    None
                });
                // If the answer fails now, the ticket waits merged, named by the incident's
                // close until the supervisor replies again.
                if let Some(view) = &view {
                    ticket = self
                        .answer_late_joiner(ticket.clone(), view)
                        .await
                        .unwrap_or_else(|err| {
                            crate::logging::warn_summarised("answering a late caller", &err);
                            ticket
                        });
                }
                view
            }
            None => None,
        };
        Ok(Submitted {
            ticket,
            created: true,
            duplicate_of,
            incident,
        })
    }

    /// The engine's decision for a new ticket, as the actions that carry it out: record the
    /// route, then link to a live duplicate, or send to triage, or dispatch.
    async fn route_new(
        &self,
        ticket: &Ticket,
        hints: &Hints,
        now: DateTime<Utc>,
    ) -> Result<(Vec<(Actor, Action)>, Option<Ticket>), RouterError> {
        let router = escalation::engine();
        let Some(routing) = &self.routing else {
            let triage = Action::SendToTriage {
                reason: "automatic routing is not configured".into(),
            };
            return Ok((vec![(router, triage)], None));
        };
        let mut decision = routing.decide(ticket, hints);
        if let Some(chosen) = &hints.station {
            self.require_station(chosen, "route_station_id")?;
            // The operator's station over the router's: the explanation keeps both, so the
            // history says who chose what over which suggestion.
            let suggested = decision
                .station
                .as_ref()
                .map_or_else(|| "-".to_owned(), |s| s.to_string());
            decision.fallbacks.push(format!(
                "{OPERATOR_STATION}：{chosen}；系统建议 {suggested}{}",
                if decision.triage {
                    "（待派单 triage）"
                } else {
                    ""
                }
            ));
            decision.station = Some(chosen.clone());
            decision.triage = false;
        }
        // 并案 of a surge: a call about the surge's category in its territory joins its
        // incident, however it is worded (the lead still live and leading it).
        let surge = self.surge_of(&decision).await?;
        let mut incident = surge.as_ref().map(|(id, _)| *id);
        let mut duplicate = match surge {
            Some((_, lead)) => Some(lead),
            None => {
                routing
                    .find_duplicate(
                        self.store.as_ref(),
                        &self.queues,
                        &ticket.text,
                        &decision,
                        now,
                    )
                    .await?
            }
        };
        // 并案: the request joins the duplicate's incident (opened now if it has none); if the
        // incident cannot be opened (the original closed meanwhile), it is routed on its own.
        if let (Some(original), Some(_), None) = (&duplicate, &self.incidents, incident) {
            match self.incident_of(original, "router").await {
                Ok(id) => incident = Some(id),
                Err(err) => {
                    crate::logging::warn_summarised("opening an incident", &err);
                    duplicate = None;
                }
            }
        }
        let next = match (&duplicate, incident, &decision.station) {
            (Some(_), Some(incident), _) => Action::JoinIncident { incident },
            (Some(original), None, _) => Action::LinkDuplicate { of: original.id },
            (None, _, Some(station)) if !decision.triage => Action::Dispatch {
                station: station.clone(),
                sign_for_due: None,
                note: decision.rule.clone().unwrap_or_default(),
            },
            _ => Action::SendToTriage {
                reason: decision.fallbacks.join("; "),
            },
        };
        metrics::counter!("hotline_routed_total", "triage" => decision.triage.to_string())
            .increment(1);
        let route = Action::Route {
            explanation: Box::new(decision),
        };
        Ok((vec![(router.clone(), route), (router, next)], duplicate))
    }

    /// The surge incident a routed request joins (with its lead), if a surge is on in its
    /// territory for its category and the incident's lead still leads it.
    pub(crate) async fn surge_of(
        &self,
        decision: &hotline_core::route::Explanation,
    ) -> Result<Option<(hotline_core::IncidentId, Ticket)>, RouterError> {
        let (Some(hotspots), Some(_)) = (&self.hotspots, &self.incidents) else {
            return Ok(None);
        };
        let (Some(division), Some(category)) = (
            decision.territory.division.as_ref(),
            decision.categories.first().map(|c| &c.code),
        ) else {
            return Ok(None);
        };
        let Some(surge) = hotspots.surge_for(
            division.as_str(),
            category.as_str(),
            Some(decision.station.as_ref()),
        ) else {
            return Ok(None);
        };
        let lead = self.store.get(surge.incident.lead()).await?;
        Ok(lead
            .filter(|l| l.stage.is_live() && l.incident == Some(surge.incident))
            .map(|l| (surge.incident, l)))
    }

    /// Re-categorises a ticket and routes it again: it moves to the station the new decision
    /// picks (recorded as events), or stays where it is when the new decision is unsure.
    pub async fn reclassify(
        &self,
        id: TicketId,
        expected_version: Option<u64>,
        actor: Actor,
        change: Reclassification,
    ) -> Result<Ticket, RouterError> {
        self.reclassify_inner(id, expected_version, actor, change, None)
            .await
    }

    async fn reclassify_inner(
        &self,
        id: TicketId,
        expected_version: Option<u64>,
        actor: Actor,
        change: Reclassification,
        scope: Option<&Principal>,
    ) -> Result<Ticket, RouterError> {
        self.check_actor(&actor)?;
        if let Some(division) = &change.division {
            self.require_division(division, "division_code")?;
        }
        let ticket = self.get(id).await?;
        if let Some(who) = scope {
            if !access::sees(who, &ticket, &self.directory) {
                return Err(access::out_of_scope(who, &ticket));
            }
        }
        if let Some(expected) = expected_version {
            if expected != ticket.version {
                return Err(RouterError::Conflict(format!(
                    "ticket {id} is at version {}, not {expected}; reload it and try again",
                    ticket.version
                )));
            }
        }
        let now = self.now();
        // A territory correction teaches the address book (after the commit, below).
        let correction = change.division.clone().map(|division| {
            let address = change
                .address
                .clone()
                .unwrap_or_else(|| ticket.address.clone());
            (division, address)
        });
        let reclassify = Action::Reclassify {
            // No new category: keep the current one (routing may still replace it below).
            category: change.category.clone().or_else(|| ticket.category.clone()),
            nature: change.nature.unwrap_or(ticket.nature),
            urgency: change.urgency.unwrap_or(ticket.urgency),
            division: change.division.clone().or_else(|| ticket.division.clone()),
            address: change.address.clone(),
        };
        let (changed, mut events) =
            self.plan(&ticket, Vec::new(), vec![(actor.clone(), reclassify)], now)?;
        let mut follow_ups = Vec::new();
        if let Some(routing) = &self.routing {
            let hints = Hints {
                // Not given: the current category stands (whoever set it).
                category: change.category.or_else(|| changed.category.clone()),
                nature: change.nature,
                urgency: change.urgency,
                // A corrected address is resolved again; otherwise the known division stands.
                division: change.division.or_else(|| {
                    change
                        .address
                        .is_none()
                        .then(|| changed.division.clone())
                        .flatten()
                }),
                station: None,
            };
            let decision = routing.decide(&changed, &hints);
            let target = decision.station.clone().filter(|_| !decision.triage);
            let moved = match (changed.stage, target) {
                (Stage::Accepted | Stage::PendingDispatch, Some(station)) => {
                    Some(Action::Dispatch {
                        station,
                        sign_for_due: None,
                        note: "re-routed after re-categorisation".into(),
                    })
                }
                (Stage::Accepted, None) => Some(Action::SendToTriage {
                    reason: decision.fallbacks.join("; "),
                }),
                (Stage::AwaitingSignFor | Stage::InProgress, Some(station))
                    if changed.station.as_ref() != Some(&station) =>
                {
                    Some(Action::Redispatch {
                        station,
                        sign_for_due: None,
                        note: "re-routed after re-categorisation".into(),
                    })
                }
                _ => None,
            };
            follow_ups.push((
                actor.clone(),
                Action::Route {
                    explanation: Box::new(decision),
                },
            ));
            follow_ups.extend(moved.map(|m| (actor.clone(), m)));
        }
        let (next, more) = self.plan(&changed, Vec::new(), follow_ups, now)?;
        events.extend(more);
        crate::metrics::timed_store_write("commit", self.store.commit(&next, &events)).await?;
        metrics::counter!("hotline_ticket_actions_total", "action" => "reclassify").increment(1);
        tracing::info!(ticket = %id, station = ?next.station, stage = %next.stage, "re-categorised and re-routed");
        if let (Some(aliases), Some((division, address))) = (&self.aliases, correction) {
            let staff = actor.staff.as_ref().map_or("", |s| s.as_str());
            // The correction is committed: a proposal that cannot be written now is lost, not
            // worth failing the staff member's change for.
            if let Err(err) = aliases
                .record_correction(&ticket, &address, &division, staff, now)
                .await
            {
                tracing::warn!(ticket = %id, error = %err, "could not record the territory correction as an alias proposal");
            }
        }
        self.follow(&ticket, &next).await;
        Ok(next)
    }

    /// Brings the working set in line with a committed change, in a task of its own: if the
    /// request is dropped (client gone, deadline, shutdown), the update still completes, so a
    /// committed ticket is never left off its queue or without its timers.
    ///
    /// The request waits for the update, not for its check against a newer version committed
    /// meanwhile (one more store read): that goes on in the task, so a submit's latency does
    /// not pay for a race that is rare.
    async fn follow(&self, before: &Ticket, after: &Ticket) {
        self.follow_checked(before, after, Verify::Yes).await
    }

    async fn follow_checked(&self, before: &Ticket, after: &Ticket, verify: Verify) {
        let queues = self.queues.clone();
        let (before, after) = (before.clone(), after.clone());
        let (applied, done) = tokio::sync::oneshot::channel();
        let update = tokio::spawn(async move {
            queues
                .follow_then(&before, &after, Some(applied), verify)
                .await
        });
        if done.await.is_err() {
            // The task ended without saying: it panicked.
            if let Err(err) = update.await {
                tracing::error!(error = %err, "working-set update task failed");
            }
        }
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
            stage_allows(&current, &actor, &action, now)?;
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
        self.act_inner(id, expected_version, actor, action, None)
            .await
    }

    async fn act_inner(
        &self,
        id: TicketId,
        expected_version: Option<u64>,
        actor: Actor,
        action: Action,
        scope: Option<&Principal>,
    ) -> Result<Ticket, RouterError> {
        self.check_actor(&actor)?;
        self.check_targets(&action)?;
        let ticket = self.get(id).await?;
        if let Some(who) = scope {
            if !access::sees(who, &ticket, &self.directory) {
                return Err(access::out_of_scope(who, &ticket));
            }
        }
        if let Some(expected) = expected_version {
            if expected != ticket.version {
                // A retry of a change that landed although its answer was lost (a commit cut
                // off mid-way): the same actor's same action already follows that version, so
                // answer as the first try would have, instead of ABORTED.
                if self
                    .already_done(&ticket, expected, &actor, &action)
                    .await?
                {
                    return Ok(ticket);
                }
                return Err(RouterError::Conflict(format!(
                    "ticket {id} is at version {}, not {expected}; reload it and try again",
                    ticket.version
                )));
            }
        }
        let now = self.now();
        stage_allows(&ticket, &actor, &action, now)?;
        self.check_rules(&ticket, &actor, &action, now).await?;
        let name = action.name();
        let (next, events) = self.plan(&ticket, Vec::new(), vec![(actor, action)], now)?;
        crate::metrics::timed_store_write("commit", self.store.commit(&next, &events)).await?;
        metrics::counter!("hotline_ticket_actions_total", "action" => name).increment(1);
        tracing::info!(ticket = %id, action = name, stage = %next.stage, version = next.version, "ticket changed");
        self.follow(&ticket, &next).await;
        Ok(next)
    }

    /// Whether `actor` already did `action` to the ticket after version `expected`: an action
    /// is decided on the version its actor saw, so the same actor and action from the same
    /// version is a retry, not a second decision.
    async fn already_done(
        &self,
        ticket: &Ticket,
        expected: u64,
        actor: &Actor,
        action: &Action,
    ) -> Result<bool, RouterError> {
        if ticket.version <= expected {
            return Ok(false);
        }
        let events = self.store.events(ticket.id).await?;
        Ok(events.iter().any(|event| {
            event.seq == expected + 1
                && event.actor == *actor
                && event.action.name() == action.name()
        }))
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
            if found.stage != Stage::AwaitingSignFor {
                // Its own station's ticket, past (or not yet at) sign-for: the lifecycle's
                // refusal names the stage it is in.
                apply(&found, &actor, Action::Claim, self.now())?;
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
        let recorded = match apply(&claimed, &actor, Action::Claim, now) {
            Ok((next, event)) => {
                crate::metrics::timed_store_write("commit", self.store.commit(&next, &[event]))
                    .await
                    .map(|()| next)
                    .map_err(RouterError::from)
            }
            Err(err) => Err(err.into()),
        };
        match recorded {
            Ok(next) => {
                metrics::counter!("hotline_claims_total").increment(1);
                Ok(Some((next, lease)))
            }
            Err(err) => {
                // Drop this claim's lease and put the ticket where the store says (off the
                // queue if it moved on), so the next claim is not stuck on a stale entry.
                if let Ok(current) = self.get(claimed.id).await {
                    let removed = self
                        .queues
                        .queue()
                        .remove(current.id, &lease.station, current.version)
                        .await;
                    if let Err(err) = removed {
                        crate::logging::warn_summarised("working set", &err);
                    }
                    self.queues
                        .put_back(&current, vec![lease.station.clone()])
                        .await;
                }
                Err(err)
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // The operations as a proven principal does them: its scope rules ([`crate::access`]) and
    // the personal-data rules apply. Every gRPC call comes through these.

    /// Records a request for `who`. An integrator submits only for the channels its key names.
    pub async fn submit_as(
        &self,
        who: &Principal,
        new: NewTicket,
        disposition: Disposition,
    ) -> Result<Submitted, RouterError> {
        if let Scope::Integrator { channels, .. } = &who.scope {
            if !channels.contains(&new.channel) {
                let may: Vec<&str> = channels.iter().map(|c| c.code()).collect();
                return Err(RouterError::Forbidden(format!(
                    "this API key may submit for channel(s) {}, not {}",
                    may.join(", "),
                    new.channel.code()
                )));
            }
        }
        let actor = access::actor(who)?;
        let mut submitted = self.submit(new, disposition, actor).await?;
        if !submitted.created && !access::sees(who, &submitted.ticket, &self.directory) {
            // Another client's request id: say so without showing its ticket.
            return Err(RouterError::AlreadyExists(
                "this request_id was used by another client; choose a new one".into(),
            ));
        }
        submitted.duplicate_of = submitted
            .duplicate_of
            .filter(|t| access::sees(who, t, &self.directory));
        // The incident shows its lead's text: only to those who may read the lead.
        submitted.incident = submitted
            .incident
            .filter(|i| access::sees(who, &i.lead, &self.directory));
        Ok(submitted)
    }

    /// A ticket `who` may see (NOT_FOUND otherwise, as for a missing one).
    pub async fn get_as(&self, who: &Principal, id: TicketId) -> Result<Ticket, RouterError> {
        let ticket = self.get(id).await?;
        if !access::sees(who, &ticket, &self.directory) {
            return Err(access::unseen(&ticket));
        }
        Ok(ticket)
    }

    /// A search narrowed to what `who` may see.
    pub async fn search_as(
        &self,
        who: &Principal,
        mut query: SearchQuery,
    ) -> Result<Vec<Ticket>, RouterError> {
        access::narrow(who, &mut query)?;
        let mut found = self.search(&query).await?;
        found.retain(|t| access::sees(who, t, &self.directory));
        Ok(found)
    }

    /// One lifecycle action by `who`, on a ticket inside its scope.
    pub async fn act_as(
        &self,
        who: &Principal,
        id: TicketId,
        expected_version: Option<u64>,
        action: Action,
    ) -> Result<Ticket, RouterError> {
        let actor = access::actor(who)?;
        self.act_inner(id, expected_version, actor, action, Some(who))
            .await
    }

    pub async fn reclassify_as(
        &self,
        who: &Principal,
        id: TicketId,
        expected_version: Option<u64>,
        change: Reclassification,
    ) -> Result<Ticket, RouterError> {
        let actor = access::actor(who)?;
        self.reclassify_inner(id, expected_version, actor, change, Some(who))
            .await
    }

    pub async fn link_duplicate_as(
        &self,
        who: &Principal,
        id: TicketId,
        expected_version: Option<u64>,
        of: TicketId,
    ) -> Result<(Ticket, Ticket), RouterError> {
        // The ticket acted on first: outside the scope is a refusal, whatever the original.
        let ticket = self.get(id).await?;
        if !access::sees(who, &ticket, &self.directory) {
            return Err(access::out_of_scope(who, &ticket));
        }
        let original = self.get_as(who, of).await.map_err(|e| match e {
            RouterError::NotFound(_) => {
                RouterError::NotFound(format!("ticket {of} (the original) does not exist"))
            }
            other => other,
        })?;
        if !original.stage.is_live() {
            return Err(RouterError::Precondition(format!(
                "ticket {of} is closed; a duplicate can only link to a live ticket"
            )));
        }
        let ticket = self
            .act_as(who, id, expected_version, Action::LinkDuplicate { of })
            .await?;
        Ok((ticket, original))
    }

    /// Claims from the queue of `who`'s own station.
    pub async fn claim_as(
        &self,
        who: &Principal,
        ticket: Option<TicketId>,
        lease_for: Option<Duration>,
    ) -> Result<Option<(Ticket, Lease)>, RouterError> {
        let actor = access::actor(who)?;
        self.claim(actor, ticket, lease_for).await
    }

    /// Whether `who` may watch `station`'s queue: its own staff, or a supervisor whose
    /// territory holds the station.
    pub fn may_watch(&self, who: &Principal, station: &StationId) -> Result<(), RouterError> {
        let found = self.directory.station(station).ok_or_else(|| {
            RouterError::NotFound(format!("station {station} is not in the directory"))
        })?;
        let allowed = match &who.scope {
            Scope::Station { station: mine } => mine == station,
            Scope::Territory {
                territory: Territory::City,
            } => true,
            Scope::Territory {
                territory: Territory::Division(code),
            } => found.division.as_str().starts_with(code.as_str()),
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(RouterError::Forbidden(format!(
                "{} ({}) may not watch station {station}'s queue",
                who.login,
                who.scope.describe()
            )))
        }
    }

    /// The ticket as `who` may read it: the caller's contact masked or hidden by
    /// [`access::contact_view`]; a full read is written to the contact access log first (no
    /// log, no read).
    pub async fn reveal(&self, who: &Principal, mut ticket: Ticket) -> Result<Ticket, RouterError> {
        let view = access::contact_view(who, &ticket);
        if view == ContactView::Full && has_contact(&ticket.caller) {
            if let Some(log) = &self.contact_log {
                log.record(who, ticket.id).await?;
            }
        }
        mask_caller(&mut ticket.caller, view);
        Ok(ticket)
    }

    /// A ticket's history as `who` may read it: the submit event's caller masked like the
    /// ticket's.
    pub async fn history_as(
        &self,
        who: &Principal,
        ticket: &Ticket,
    ) -> Result<Vec<Event>, RouterError> {
        let view = access::contact_view(who, ticket);
        let mut events = self.history(ticket.id).await?;
        for event in &mut events {
            if let Action::Submit { ticket } = &mut event.action {
                mask_caller(&mut ticket.caller, view);
            }
        }
        Ok(events)
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
                let lease = match ticket.queued_station() {
                    Some(station) => match self.queues.queue().lease(ticket.id, station, now).await
                    {
                        Ok(lease) => lease,
                        // A claim is advisory and lives in the working set; the store still
                        // lets only one sign-for through. With the working set away (Redis
                        // down, a Cluster failing over) the station can still take its ticket.
                        Err(err @ QueueError::Unavailable(_)) => {
                            crate::logging::warn_summarised("claim check", &err);
                            metrics::counter!("hotline_claims_unchecked_total").increment(1);
                            None
                        }
                        Err(err) => return Err(err.into()),
                    },
                    None => None,
                };
                if let Some(lease) = lease {
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

    /// Rebuilds the working set (queues, timers) from the store, catching up with what other
    /// replicas commit meanwhile: see [`WorkingSet::rebuild`].
    pub async fn rebuild_working_set(&self) -> Result<(usize, usize), RouterError> {
        self.queues.rebuild().await
    }

    /// Rebuilds the working set if its backend lost it (flushed or replaced Redis, or a new
    /// process's in-memory queue), else repairs the tickets whose update failed. Returns
    /// whether it repaired anything.
    pub async fn repair_working_set(&self) -> Result<bool, RouterError> {
        self.queues.repair().await
    }

    /// Claims the timers due now (at most `limit`) and fires them as one batch: the tickets
    /// read in one round trip, every step due on each applied in deadline order (so a warning
    /// still comes before its breach when both are late, whichever replica claimed which),
    /// the changes written in one statement (one stale ticket never fails the rest; it is
    /// re-read and tried again), the working set followed, and the timers acknowledged in one
    /// call. If the store fails, the batch is handed back at once for any replica to retry.
    pub async fn fire_due_timers(&self, limit: usize) -> Result<FireReport, RouterError> {
        let now = self.now();
        let timers = self.queues.timers();
        let due = timers
            .claim_due(now, limit, escalation::TIMER_LEASE())
            .await?;
        let Some(earliest) = due.iter().map(|t| t.fire_at_ms).min() else {
            metrics::gauge!("hotline_timer_lag_seconds").set(0.0);
            return Ok(FireReport::default());
        };
        let lag = (now.timestamp_millis() - earliest).max(0) as f64 / 1000.0;
        metrics::gauge!("hotline_timer_lag_seconds").set(lag);
        if lag > escalation::LAG_WARNING.as_secs_f64() {
            crate::logging::warn_summarised(
                "timers",
                &crate::error::TimersBehind {
                    seconds: lag.round() as u64,
                },
            );
        }
        let fired = tokio::time::timeout(escalation::BATCH_TIMEOUT, self.fire_batch(&due, now))
            .await
            .unwrap_or_else(|_| {
                Err(RouterError::Unavailable(format!(
                    "a batch of {} timers took longer than {} s",
                    due.len(),
                    escalation::BATCH_TIMEOUT.as_secs()
                )))
            });
        match fired {
            Ok((report, done)) => {
                if let Err(err) = timers.ack_many(&done).await {
                    // Not acknowledged: handed out again after their lease, then found done.
                    crate::logging::warn_summarised("timers", &err);
                }
                if report.escalated > 0 {
                    metrics::counter!("hotline_escalations_total")
                        .increment(report.escalated as u64);
                }
                Ok(report)
            }
            Err(err) => {
                // Hand the whole batch back now rather than leave it to wait out its lease;
                // whatever was already written is found done when it is fired again.
                if let Err(release) = timers.release(&due).await {
                    crate::logging::warn_summarised("timers", &release);
                }
                Err(err)
            }
        }
    }

    /// Fires one claimed batch. Returns the report and the timers that are settled (fired,
    /// stale or already done); the rest stay in flight and are retried after their lease.
    async fn fire_batch(
        &self,
        due: &[Timer],
        now: DateTime<Utc>,
    ) -> Result<(FireReport, Vec<Timer>), RouterError> {
        let mut by_ticket: HashMap<TicketId, Vec<Timer>> = HashMap::new();
        for timer in due {
            by_ticket
                .entry(timer.ticket)
                .or_default()
                .push(timer.clone());
        }
        let mut report = FireReport {
            claimed: due.len(),
            escalated: 0,
        };
        let mut settled = Vec::with_capacity(due.len());
        let mut remaining: Vec<TicketId> = by_ticket.keys().copied().collect();
        // Busy tickets (changed between our read and our write) are read and tried again.
        for _ in 0..3 {
            if remaining.is_empty() {
                break;
            }
            let tickets = self.store.get_many(&remaining).await?;
            let found: std::collections::HashSet<TicketId> = tickets.iter().map(|t| t.id).collect();
            for id in remaining.iter().filter(|id| !found.contains(id)) {
                settled.extend(by_ticket.remove(id).unwrap_or_default());
            }
            let mut befores = Vec::new();
            let mut changes = Vec::new();
            let mut steps = Vec::new();
            for ticket in tickets {
                match self.escalate(&ticket, now) {
                    Ok(None) => settled.extend(by_ticket.remove(&ticket.id).unwrap_or_default()),
                    Ok(Some((after, events, fired))) => {
                        befores.push(ticket);
                        changes.push((after, events));
                        steps.push(fired);
                    }
                    Err(err) => {
                        // Left in flight: retried after the lease (a calendar not yet loaded...).
                        crate::logging::warn_summarised("timers", &err);
                        by_ticket.remove(&ticket.id);
                    }
                }
            }
            // Nothing to write (every timer stale or done): no round trip to time.
            let results = if changes.is_empty() {
                Vec::new()
            } else {
                crate::metrics::timed_store_write("commit_many", self.store.commit_many(&changes))
                    .await
            };
            let mut followed = Vec::new();
            let mut conflicted = Vec::new();
            let mut outage = None;
            for (((before, (after, events)), fired), result) in
                befores.into_iter().zip(changes).zip(steps).zip(results)
            {
                match result {
                    Ok(()) => {
                        report.escalated += events.len();
                        for timer in &fired {
                            metrics::counter!(
                                "hotline_timers_fired_total",
                                "clock" => timer.clock.code(),
                                "step" => timer.step.code()
                            )
                            .increment(1);
                        }
                        for event in &events {
                            tracing::debug!(ticket = %after.id, event = event.action.name(), "escalated");
                        }
                        settled.extend(by_ticket.remove(&after.id).unwrap_or_default());
                        followed.push((before, after));
                    }
                    Err(hotline_store::StoreError::Conflict { .. }) => conflicted.push(after.id),
                    Err(err) if err.is_transient() => outage = Some(err),
                    Err(err) => {
                        crate::logging::error_summarised("timers", &err);
                        by_ticket.remove(&after.id);
                    }
                }
            }
            self.queues.follow_many(&followed).await;
            if let Some(err) = outage {
                return Err(err.into());
            }
            remaining = conflicted;
        }
        if report.escalated > 0 {
            tracing::info!(
                claimed = report.claimed,
                escalated = report.escalated,
                "timers fired"
            );
        }
        if !remaining.is_empty() {
            tracing::info!(
                tickets = remaining.len(),
                "busy tickets: their timers stay in flight and are retried after the lease"
            );
        }
        Ok((report, settled))
    }

    /// Every escalation step due on `ticket` by `now`, applied in order: the ticket after them,
    /// their events and the timers they carried out, or `None` when nothing is due (stale
    /// timers, steps already taken).
    #[allow(clippy::type_complexity)]
    fn escalate(
        &self,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Result<Option<(Ticket, Vec<Event>, Vec<Timer>)>, RouterError> {
        let now_ms = now.timestamp_millis();
        let settings = self.queues.escalation();
        let mut current = ticket.clone();
        let mut events = Vec::new();
        let mut fired = Vec::new();
        let mut skipped: Vec<Timer> = Vec::new();
        // Bounded: each step raises a flag (or moves the ticket), so few can be due at once.
        for _ in 0..16 {
            let mut plan: Vec<Timer> = escalation::plan(&current, &self.sla, settings)
                .into_iter()
                .filter(|t| t.fire_at_ms <= now_ms && !skipped.contains(t))
                .collect();
            plan.sort_by_key(|t| (t.fire_at_ms, t.step));
            let Some(timer) = plan.into_iter().next() else {
                break;
            };
            let widen_to = self.widen_target(&current);
            let Some(action) = escalation::action_for(&current, &timer, widen_to) else {
                skipped.push(timer);
                continue;
            };
            let (next, more) = self.plan(
                &current,
                Vec::new(),
                vec![(escalation::engine(), action)],
                now,
            )?;
            events.extend(more);
            fired.push(timer);
            current = next;
        }
        Ok((!events.is_empty()).then_some((current, events, fired)))
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

fn has_contact(caller: &hotline_core::Caller) -> bool {
    !caller.name.is_empty() || !caller.phone.is_empty()
}

/// Applies a contact view to a caller, in place.
pub fn mask_caller(caller: &mut hotline_core::Caller, view: ContactView) {
    match view {
        ContactView::Full => {}
        ContactView::Masked => caller.phone = hotline_identity::mask_phone(&caller.phone),
        ContactView::Hidden => {
            caller.name.clear();
            caller.phone.clear();
        }
    }
}

/// Refuses an action the ticket's stage does not allow, naming the stage, before any rule the
/// action would be subject to in that stage (a sub-dispatch's target, an extension decision
/// with none pending, a lease): every RPC answers a wrong stage the same way. Whether the
/// stage allows it does not depend on the deadlines the SLA fills in later.
fn stage_allows(
    ticket: &Ticket,
    actor: &Actor,
    action: &Action,
    now: DateTime<Utc>,
) -> Result<(), RouterError> {
    // `advance`, not `apply`: the answer is all that is wanted, and cloning the action (a
    // route's whole explanation) for an event thrown away cost every routed submit.
    match hotline_core::advance(ticket, actor, action, now) {
        Err(err @ LifecycleError::IllegalTransition { .. }) => Err(err.into()),
        _ => Ok(()),
    }
}
