//! The run: a discrete-event simulation on the engine's virtual clock.
//!
//! Everything that happens is an event at an instant (a request arrives, a member of staff
//! finishes a task, a case is ready to reply, the centre reviews, the timers are due); the
//! events are taken in time order (ties in the order they were scheduled), the engine's clock
//! is set to each one's instant, and the engine does the work. Nothing sleeps: a month runs
//! as fast as the engine can write it.
//!
//! Reproducible: every draw comes from ChaCha8 streams seeded by the run's seed (the arrivals
//! from one stream, each ticket's fate from a stream of its own, the staff's work from one
//! more), events are ordered by (instant, sequence), and nothing is iterated in hash order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use hotline_core::lifecycle::Role;
use hotline_core::{
    Action, Actor, Caller, NewTicket, ReturnReason, Satisfaction, StaffId, Stage, StationId,
    Ticket, TicketId,
};
use hotline_directory::{Directory, Level, StationKind};
use hotline_sla::{Span, WorkingCalendar};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::arrivals::{self, Draw, Request};
use crate::engine::Engine;
use crate::report::{self, Outcome, Sample};
use crate::scenario::{Event as ScenarioEvent, Scenario};
use crate::SimulateError;

/// How a run is done (not part of the scenario: the same scenario, other settings).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    /// How often the SLA timers are fired (a router fires them about every second; a few
    /// virtual minutes keep a month's run quick and a breach at most that late).
    pub timer_tick: Duration,
    /// How often backlog and overdue are sampled.
    pub sample_every: Duration,
}

impl RunOptions {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            timer_tick: Duration::minutes(5),
            sample_every: Duration::hours(1),
        }
    }
}

/// A ChaCha8 stream: the run's seed, one stream per purpose (or per ticket).
fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

const ARRIVAL_STREAM: u64 = 0;
/// Surge `i` draws from stream `SURGE_STREAMS + i`.
const SURGE_STREAMS: u64 = 1 << 16;
/// A station's staff draw from `STAFF_STREAMS` + a hash of its id.
const STAFF_STREAMS: u64 = 1 << 40;
/// Tickets' own streams: `TICKET_STREAMS + index` for the usual arrivals, with the surge's
/// number (1, 2, ...) above bit 32 for a surge's.
const TICKET_STREAMS: u64 = 1 << 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Sign,
    Reply(TicketId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Centre {
    /// Accept a return and send the ticket to the district's 12345 office.
    Arbitrate,
    DecideExtension,
    Review,
    Callback,
    /// A ticket in centre triage: dispatch it to the district's 12345 office.
    Dispatch,
}

#[derive(Debug)]
enum Ev {
    Arrival(Box<Request>),
    TaskDone {
        station: usize,
        staff: u32,
        task: Task,
    },
    Ready(TicketId),
    Centre(TicketId, Centre),
    Timers,
    Sample,
    /// A capacity event starts or ends: stations may take up work.
    Capacity,
    Policy(usize),
}

struct Scheduled {
    at: DateTime<Utc>,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A station as the simulator sees it: its staff and the work it can take up.
pub(crate) struct StationState {
    pub id: StationId,
    pub name: String,
    pub level: Level,
    pub kind: StationKind,
    pub staff: u32,
    busy: u32,
    /// Which members are at a task now (a member's id is its index).
    members: Vec<bool>,
    /// Tickets on its queue that no member has started to sign for.
    waiting: u32,
    /// Cases ready to be written up, oldest first.
    ready: VecDeque<TicketId>,
    /// Live tickets it holds now.
    pub on_hand: u32,
    pub received: u32,
    pub signed: u32,
    pub replied: u32,
    pub peak_on_hand: u32,
    /// `on_hand` at each sample.
    pub load: Vec<u32>,
    rng: ChaCha8Rng,
}

struct TicketState {
    serial: u64,
    station: Option<usize>,
    district: String,
    stage: Stage,
    /// The deadline of the clock running in its stage.
    due: Option<DateTime<Utc>>,
    rng: ChaCha8Rng,
    returned: bool,
    redone: bool,
}

struct Run<'a> {
    scenario: &'a Scenario,
    engine: &'a dyn Engine,
    directory: Arc<Directory>,
    calendar: Arc<WorkingCalendar>,
    options: RunOptions,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    /// Events that are work (not timers or samples) still scheduled.
    pending_work: u64,
    stations: Vec<StationState>,
    station_index: HashMap<StationId, usize>,
    tickets: HashMap<TicketId, TicketState>,
    /// Ticket ids in the order they were made (what the report reads, in that order).
    order: Vec<TicketId>,
    centre: Actor,
    live: u64,
    samples: Vec<Sample>,
    backlog_end: Option<u64>,
    refusals: Vec<String>,
    refusal_count: u64,
    duplicates: u64,
    triaged: u64,
}

/// Runs `scenario` on `engine`. The engine must be fresh (an empty store) and its clock at the
/// scenario's start.
pub async fn run(
    scenario: &Scenario,
    engine: &dyn Engine,
    options: RunOptions,
) -> Result<Outcome, SimulateError> {
    let started = std::time::Instant::now();
    let mut run = Run {
        scenario,
        engine,
        directory: engine.directory(),
        calendar: engine.calendar(),
        queue: BinaryHeap::new(),
        seq: 0,
        pending_work: 0,
        stations: Vec::new(),
        station_index: HashMap::new(),
        tickets: HashMap::new(),
        order: Vec::new(),
        centre: Actor {
            role: Role::Supervisor,
            staff: Some(StaffId::parse("staff", "sim-centre").expect("valid id")),
            station: None,
        },
        options,
        live: 0,
        samples: Vec::new(),
        backlog_end: None,
        refusals: Vec::new(),
        refusal_count: 0,
        duplicates: 0,
        triaged: 0,
    };
    run.schedule_arrivals()?;
    let start = scenario.starts_at();
    run.push(start, Ev::Timers);
    run.push(start, Ev::Sample);
    for event in &scenario.events {
        if let ScenarioEvent::Capacity { start, end, .. } = event {
            run.push(*start, Ev::Capacity);
            run.push(*end, Ev::Capacity);
        }
    }
    for (i, event) in scenario.events.iter().enumerate() {
        if let ScenarioEvent::Policy { at, .. } = event {
            run.push(*at, Ev::Policy(i));
        }
    }
    run.main_loop().await?;
    let outcome = run.finish().await?;
    tracing::info!(
        tickets = outcome.tickets,
        seconds = started.elapsed().as_secs_f64(),
        "simulation finished"
    );
    Ok(outcome)
}

impl Run<'_> {
    fn push(&mut self, at: DateTime<Utc>, ev: Ev) {
        if !matches!(ev, Ev::Timers | Ev::Sample) {
            self.pending_work += 1;
        }
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// Every arrival of the period, drawn up front: the usual arrivals from one stream, each
    /// surge from a stream of its own, so adding a surge changes nothing else.
    fn schedule_arrivals(&mut self) -> Result<(), SimulateError> {
        let scenario = self.scenario;
        let draw = Draw::new(&scenario.arrivals)?;
        let mut requests: Vec<Request> = Vec::new();
        let mut rng = stream(self.options.seed, ARRIVAL_STREAM);
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        let mut day = scenario.start;
        while day <= scenario.end {
            let count = arrivals::count_of_day(&scenario.arrivals, &self.calendar, day);
            let day_start = crate::scenario::local_midnight(day);
            times.extend(arrivals::times_of_day(
                day_start,
                count,
                &scenario.arrivals.hourly,
                &mut rng,
            ));
            day += Duration::days(1);
        }
        times.extend(scenario.arrivals.times.iter().copied());
        times.sort();
        for (i, at) in times.into_iter().enumerate() {
            requests.push(draw.request(TICKET_STREAMS + i as u64, at, &mut rng, None));
        }
        for (i, event) in scenario.events.iter().enumerate() {
            if let ScenarioEvent::Surge {
                start,
                end,
                tickets,
                category,
                communities,
            } = event
            {
                let mut rng = stream(self.options.seed, SURGE_STREAMS + i as u64);
                let span = (*end - *start).num_milliseconds().max(1);
                let mut times: Vec<DateTime<Utc>> = (0..*tickets)
                    .map(|_| *start + Duration::milliseconds(rng.random_range(0..span)))
                    .collect();
                times.sort();
                let surge = Some((category, communities.as_slice()));
                for (k, at) in times.into_iter().enumerate() {
                    let id = TICKET_STREAMS + ((i as u64 + 1) << 32) + k as u64;
                    requests.push(draw.request(id, at, &mut rng, surge));
                }
            }
        }
        requests.sort_by_key(|r| (r.at, r.stream));
        for (serial, mut request) in requests.into_iter().enumerate() {
            request.serial = serial as u64;
            let at = request.at;
            self.push(at, Ev::Arrival(Box::new(request)));
        }
        Ok(())
    }

    async fn main_loop(&mut self) -> Result<(), SimulateError> {
        let horizon = self.scenario.horizon();
        let period_end = self.scenario.ends_at();
        while let Some(Reverse(next)) = self.queue.pop() {
            if next.at > horizon {
                break;
            }
            if !matches!(next.ev, Ev::Timers | Ev::Sample) {
                self.pending_work -= 1;
            }
            self.engine.set_time(next.at);
            let now = next.at;
            match next.ev {
                Ev::Arrival(request) => self.arrive(*request, now).await?,
                Ev::TaskDone {
                    station,
                    staff,
                    task,
                } => self.task_done(station, staff, task, now).await?,
                Ev::Ready(id) => self.ready(id, now),
                Ev::Centre(id, step) => self.centre(id, step, now).await?,
                Ev::Timers => {
                    // Everything due by now, in batches, until none is left.
                    while self.engine.fire_due_timers().await? > 0 {}
                    if self.keep_going() {
                        self.push(now + self.options.timer_tick, Ev::Timers);
                    }
                }
                Ev::Sample => {
                    self.sample(now);
                    if now == period_end {
                        self.backlog_end = Some(self.live);
                    }
                    if self.keep_going() || now < period_end {
                        self.push(now + self.options.sample_every, Ev::Sample);
                    }
                }
                Ev::Capacity => {
                    for i in 0..self.stations.len() {
                        self.try_start(i, now);
                    }
                }
                Ev::Policy(i) => {
                    if let ScenarioEvent::Policy { policy, .. } = &self.scenario.events[i] {
                        self.engine.replace_policy((**policy).clone()).await?;
                    }
                }
            }
        }
        if self.backlog_end.is_none() {
            self.backlog_end = Some(self.live);
        }
        Ok(())
    }

    /// Whether anything is left to happen (work scheduled or tickets open).
    fn keep_going(&self) -> bool {
        self.pending_work > 0 || self.live > 0
    }

    fn station(&mut self, id: &StationId) -> Result<usize, SimulateError> {
        if let Some(i) = self.station_index.get(id) {
            return Ok(*i);
        }
        let found = self.directory.station(id).ok_or_else(|| {
            SimulateError::Engine(format!(
                "the engine dispatched to {id}, which the directory does not know"
            ))
        })?;
        let (name, level, kind) = (found.name.clone(), found.level, found.kind);
        let staff = self.scenario.staff.of(level, kind);
        self.stations.push(StationState {
            id: id.clone(),
            name,
            level,
            kind,
            staff,
            busy: 0,
            members: Vec::new(),
            waiting: 0,
            ready: VecDeque::new(),
            on_hand: 0,
            received: 0,
            signed: 0,
            replied: 0,
            peak_on_hand: 0,
            load: vec![0; self.samples.len()],
            rng: stream(self.options.seed, STAFF_STREAMS + fnv1a(id.as_str())),
        });
        let i = self.stations.len() - 1;
        self.station_index.insert(id.clone(), i);
        Ok(i)
    }

    /// Staff at work at the station at `now`, after capacity events.
    fn staff_at(&self, i: usize, now: DateTime<Utc>) -> u32 {
        let s = &self.stations[i];
        let mut factor = 1.0;
        for event in &self.scenario.events {
            if let ScenarioEvent::Capacity {
                target,
                factor: f,
                start,
                end,
            } = event
            {
                if *start <= now && now < *end && target.matches(&s.id, s.level, s.kind) {
                    factor *= f;
                }
            }
        }
        if factor == 1.0 {
            return s.staff;
        }
        let scaled = (f64::from(s.staff) * factor).round() as u32;
        // A station open at all keeps at least one member.
        if factor > 0.0 && s.staff > 0 {
            scaled.max(1)
        } else {
            scaled
        }
    }

    /// Free members take up work: signing first, then replies.
    fn try_start(&mut self, i: usize, now: DateTime<Utc>) {
        let staff = self.staff_at(i, now);
        loop {
            let s = &mut self.stations[i];
            if s.busy >= staff {
                return;
            }
            let (task, dist) = if s.waiting > 0 {
                s.waiting -= 1;
                (Task::Sign, &self.scenario.behaviour.sign_for)
            } else if let Some(id) = s.ready.pop_front() {
                (Task::Reply(id), &self.scenario.behaviour.handle)
            } else {
                return;
            };
            let member = match s.members.iter().position(|busy| !busy) {
                Some(free) => free,
                None => {
                    s.members.push(false);
                    s.members.len() - 1
                }
            };
            s.members[member] = true;
            s.busy += 1;
            // At least a second, so that work started out of hours still waits for the office.
            let work = dist.sample(&mut s.rng).max(Duration::seconds(1));
            let done = self
                .calendar
                .add_working_time(now, work)
                .unwrap_or(now + work);
            self.push(
                done,
                Ev::TaskDone {
                    station: i,
                    staff: member as u32,
                    task,
                },
            );
        }
    }

    fn staff_actor(&self, i: usize, member: u32) -> Actor {
        let station = &self.stations[i].id;
        Actor {
            role: Role::Station,
            staff: Some(
                StaffId::parse("staff", &format!("sim-{}-{member}", station.as_str()))
                    .expect("station ids make valid staff ids"),
            ),
            station: Some(station.clone()),
        }
    }

    /// Records where a ticket is after the engine changed it.
    fn track(&mut self, ticket: &Ticket) -> Result<(), SimulateError> {
        let station = match &ticket.station {
            Some(id) if ticket.stage.is_live() => Some(self.station(id)?),
            _ => None,
        };
        let Some(state) = self.tickets.get_mut(&ticket.id) else {
            return Ok(());
        };
        let was_live = state.stage.is_live();
        if state.station != station {
            if let Some(old) = state.station {
                self.stations[old].on_hand -= 1;
            }
            if let Some(new) = station {
                let s = &mut self.stations[new];
                s.on_hand += 1;
                s.peak_on_hand = s.peak_on_hand.max(s.on_hand);
            }
            state.station = station;
        }
        state.stage = ticket.stage;
        let d = &ticket.deadlines;
        state.due = match ticket.stage {
            Stage::AwaitingSignFor => d.sign_for,
            Stage::InProgress | Stage::ReturnRequested if ticket.paused.is_none() => d.resolution,
            Stage::AwaitingCallback => d.callback,
            _ => None,
        };
        match (was_live, ticket.stage.is_live()) {
            (true, false) => self.live -= 1,
            (false, true) => self.live += 1,
            _ => {}
        }
        Ok(())
    }

    /// An action the engine refused: counted and reported, the run goes on (the model and
    /// the engine's rules disagreeing is a finding, not a crash).
    fn refused(&mut self, what: &str, err: SimulateError) {
        self.refusal_count += 1;
        if self.refusals.len() < 10 {
            self.refusals.push(format!("{what}: {err}"));
        }
    }

    async fn act(
        &mut self,
        id: TicketId,
        actor: Actor,
        action: Action,
    ) -> Result<Option<Ticket>, SimulateError> {
        let name = action.name();
        match self.engine.act(id, actor, action).await {
            Ok(ticket) => {
                self.track(&ticket)?;
                Ok(Some(ticket))
            }
            Err(err @ SimulateError::Engine(_)) => {
                self.refused(name, err);
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// A ticket newly on a station's queue: someone there will sign for it.
    fn queued(&mut self, ticket: &Ticket, now: DateTime<Utc>) {
        if ticket.stage != Stage::AwaitingSignFor {
            return;
        }
        if let Some(i) = ticket
            .station
            .as_ref()
            .and_then(|s| self.station_index.get(s))
            .copied()
        {
            self.stations[i].waiting += 1;
            self.stations[i].received += 1;
            self.try_start(i, now);
        }
    }

    async fn arrive(&mut self, request: Request, now: DateTime<Utc>) -> Result<(), SimulateError> {
        let community = self.directory.division(&request.community);
        let place = community.map_or_else(String::new, |c| {
            self.directory
                .ancestors(&c.code)
                .filter(|d| d.level != Level::City)
                .map(|d| d.short_name.clone())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        });
        let new = NewTicket {
            request_id: None,
            channel: request.channel,
            caller: Caller {
                name: format!("模拟来电{}", request.serial),
                phone: String::new(),
                confidential: false,
            },
            text: request_text(&request, &place),
            address: place,
            location: None,
            kiosk: None,
            category: Some(request.category.clone()),
            nature: request.nature,
            urgency: request.urgency,
            division: Some(request.community.clone()),
        };
        let ticket = self.engine.submit(new).await?;
        let district =
            request.community.as_str()[..6.min(request.community.as_str().len())].to_owned();
        self.tickets.insert(
            ticket.id,
            TicketState {
                serial: request.serial,
                station: None,
                district,
                stage: Stage::Accepted,
                due: None,
                rng: stream(self.options.seed, request.stream),
                returned: false,
                redone: false,
            },
        );
        self.order.push(ticket.id);
        self.live += 1;
        self.track(&ticket)?;
        match ticket.stage {
            Stage::AwaitingSignFor => self.queued(&ticket, now),
            Stage::PendingDispatch => {
                self.triaged += 1;
                self.push(
                    now + self.scenario.behaviour.review,
                    Ev::Centre(ticket.id, Centre::Dispatch),
                );
            }
            Stage::Closed => self.duplicates += 1,
            _ => {}
        }
        Ok(())
    }

    async fn task_done(
        &mut self,
        i: usize,
        member: u32,
        task: Task,
        now: DateTime<Utc>,
    ) -> Result<(), SimulateError> {
        self.stations[i].busy -= 1;
        self.stations[i].members[member as usize] = false;
        let actor = self.staff_actor(i, member);
        match task {
            Task::Sign => {
                let station = self.stations[i].id.clone();
                let staff = actor.staff.clone().expect("staff actor");
                match self.engine.claim(&station, &staff).await? {
                    Some(claimed) => self.sign(i, claimed.id, actor, now).await?,
                    // The queue is empty after all (a ticket moved on): nothing more waits.
                    None => self.stations[i].waiting = 0,
                }
            }
            Task::Reply(id) => {
                let reply = Action::Reply {
                    internal_record: "模拟：已核实并处理".into(),
                    public_reply: "您反映的问题已处理，感谢您的来电".into(),
                };
                if self.act(id, actor, reply).await?.is_some() {
                    self.stations[i].replied += 1;
                    self.push(
                        now + self.scenario.behaviour.review,
                        Ev::Centre(id, Centre::Review),
                    );
                }
            }
        }
        self.try_start(i, now);
        Ok(())
    }

    async fn sign(
        &mut self,
        i: usize,
        id: TicketId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), SimulateError> {
        let sign = Action::SignFor {
            resolution_due: None,
            first_contact_due: None,
        };
        if self.act(id, actor.clone(), sign).await?.is_none() {
            return Ok(());
        }
        self.stations[i].signed += 1;
        let behaviour = &self.scenario.behaviour;
        let Some(state) = self.tickets.get_mut(&id) else {
            return Ok(());
        };
        // Each ticket's fate comes from its own stream, in the same order every time.
        let returns = state.rng.random::<f64>() < behaviour.returns && !state.returned;
        let extends = state.rng.random::<f64>() < behaviour.extensions;
        let resolve = behaviour.resolve.sample(&mut state.rng);
        if returns {
            state.returned = true;
            let request = Action::RequestReturn {
                reason: ReturnReason::NotOurFunction,
                basis: "模拟：不属于本单位职责".into(),
            };
            if self.act(id, actor, request).await?.is_some() {
                self.push(now + behaviour.review, Ev::Centre(id, Centre::Arbitrate));
            }
            return Ok(());
        }
        let contact = Action::ContactCaller {
            note: "模拟：已联系来电人".into(),
        };
        self.act(id, actor.clone(), contact).await?;
        let mut ready = now + resolve;
        if extends {
            let ask = Action::RequestExtension {
                working_days: behaviour.extension_days,
                reason: "模拟：需协调多个部门".into(),
            };
            if self.act(id, actor, ask).await?.is_some() {
                self.push(
                    now + behaviour.review,
                    Ev::Centre(id, Centre::DecideExtension),
                );
                // The case that needed more time takes that much longer.
                ready = self
                    .calendar
                    .add(ready, Span::WorkingDays(behaviour.extension_days))
                    .unwrap_or(ready);
            }
        }
        self.push(ready, Ev::Ready(id));
        Ok(())
    }

    fn ready(&mut self, id: TicketId, now: DateTime<Utc>) {
        let Some(state) = self.tickets.get(&id) else {
            return;
        };
        if !matches!(state.stage, Stage::InProgress) {
            return;
        }
        if let Some(i) = state.station {
            self.stations[i].ready.push_back(id);
            self.try_start(i, now);
        }
    }

    async fn centre(
        &mut self,
        id: TicketId,
        step: Centre,
        now: DateTime<Utc>,
    ) -> Result<(), SimulateError> {
        let centre = self.centre.clone();
        let behaviour = self.scenario.behaviour.clone();
        match step {
            Centre::Arbitrate => {
                let decide = Action::ArbitrateReturn {
                    accept: true,
                    note: "模拟：同意退单，转区12345办".into(),
                };
                if self.act(id, centre, decide).await?.is_some() {
                    self.dispatch_to_district(id, now).await?;
                }
            }
            Centre::Dispatch => self.dispatch_to_district(id, now).await?,
            Centre::DecideExtension => {
                let decide = Action::DecideExtension {
                    approve: true,
                    new_resolution_due: None,
                    note: String::new(),
                };
                self.act(id, centre, decide).await?;
            }
            Centre::Review => {
                let review = Action::Review {
                    approve: true,
                    callback_due: None,
                    note: String::new(),
                };
                if self.act(id, centre, review).await?.is_some() {
                    self.push(now + behaviour.callback, Ev::Centre(id, Centre::Callback));
                }
            }
            Centre::Callback => {
                let Some(state) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                let dissatisfied =
                    state.rng.random::<f64>() < behaviour.dissatisfied && !state.redone;
                if dissatisfied {
                    state.redone = true;
                    let record = Action::RecordCallback {
                        satisfaction: Satisfaction::Dissatisfied,
                        reasonable: true,
                        note: "模拟：问题未解决".into(),
                        redo_sign_for_due: None,
                    };
                    if let Some(ticket) = self.act(id, centre, record).await? {
                        self.queued(&ticket, now);
                    }
                } else {
                    let record = Action::RecordCallback {
                        satisfaction: Satisfaction::Satisfied,
                        reasonable: true,
                        note: String::new(),
                        redo_sign_for_due: None,
                    };
                    if self.act(id, centre.clone(), record).await?.is_some() {
                        self.act(id, centre, Action::Close).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// To the district's 12345 office (it coordinates what no station took).
    async fn dispatch_to_district(
        &mut self,
        id: TicketId,
        now: DateTime<Utc>,
    ) -> Result<(), SimulateError> {
        let Some(state) = self.tickets.get(&id) else {
            return Ok(());
        };
        let station = StationId::parse("station", &format!("{}-command", state.district))
            .map_err(|e| SimulateError::Engine(e.to_string()))?;
        self.station(&station)?;
        let dispatch = Action::Dispatch {
            station,
            sign_for_due: None,
            note: "模拟：区12345办协调".into(),
        };
        if let Some(ticket) = self.act(id, self.centre.clone(), dispatch).await? {
            self.queued(&ticket, now);
        }
        Ok(())
    }

    fn sample(&mut self, now: DateTime<Utc>) {
        let mut by_district: BTreeMap<String, u32> = BTreeMap::new();
        let mut overdue = 0u32;
        let mut overdue_by_district: BTreeMap<String, u32> = BTreeMap::new();
        for state in self.tickets.values() {
            if !state.stage.is_live() {
                continue;
            }
            *by_district.entry(state.district.clone()).or_default() += 1;
            if state.due.is_some_and(|due| due < now) {
                overdue += 1;
                *overdue_by_district
                    .entry(state.district.clone())
                    .or_default() += 1;
            }
        }
        for s in &mut self.stations {
            s.load.push(s.on_hand);
        }
        self.samples.push(Sample {
            at: now,
            backlog: self.live,
            overdue: u64::from(overdue),
            backlog_by_district: by_district,
            overdue_by_district,
        });
    }

    async fn finish(self) -> Result<Outcome, SimulateError> {
        // Reads in flight together: the store answers one after another without waiting for
        // the simulator between them (the order of the results is kept).
        let engine = self.engine;
        let histories: Vec<_> = futures::stream::iter(self.order.iter().copied())
            .map(|id| engine.history(id))
            .buffered(64)
            .try_collect()
            .await?;
        let serials: Vec<u64> = self
            .order
            .iter()
            .map(|id| self.tickets[id].serial)
            .collect();
        debug_assert!(serials.windows(2).all(|w| w[0] < w[1]));
        report::build(report::Inputs {
            scenario: self.scenario,
            seed: self.options.seed,
            engine: self.engine.describe(),
            directory: &self.directory,
            calendar: &self.calendar,
            histories: &histories,
            samples: self.samples,
            stations: self.stations,
            backlog_end: self.backlog_end.unwrap_or(0),
            refusals: self.refusals,
            refusal_count: self.refusal_count,
            duplicates: self.duplicates,
            triaged: self.triaged,
        })
    }
}

/// A stable 32-bit hash (FNV-1a) of a station id: its staff's stream.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    u64::from(hash)
}

/// A caller's request as an operator writes it up: short, and unique to the caller, so no
/// two are taken for duplicates of each other. The duplicate rule compares letters and
/// ideographs only (not digits), so the caller's number is written in letters.
fn request_text(request: &Request, place: &str) -> String {
    format!(
        "{place}居民来电反映{}方面的问题，请相关部门核实处理。来电编号{}",
        request.category.as_str(),
        letters(request.serial)
    )
}

/// `n` in base 26, `a`..`z` (0 -> "a", 26 -> "ba").
fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii letters")
}
