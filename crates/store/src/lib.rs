//! The system of record: tickets and their append-only event log.
//!
//! # Layout
//! - [`TicketStore`]: the trait every backend implements (and the one behaviour suite tests).
//! - [`sqlite`]: the embedded default, a file under the data directory.
//! - [`backup`]: online backups of that file, and restoring one into a data directory.
//! - [`postgres`]: production, by URL.
//! - [`aliases`]: [`AliasStore`]: address aliases proposed from territory corrections, their
//!   agreeing count and the supervisor's decision (both backends).
//! - [`incidents`]: [`IncidentStore`]: 并案 incidents (opened, notices, the one reply, closing);
//!   which tickets belong to one is written in the tickets themselves.
//! - [`row`]: the shared encoding of tickets and events into rows.
//! - [`schema`]: the schema version, pending migrations, and the refusal of a newer schema.
//! - [`testing`]: fresh databases for tests.
//! - [`error`]: the store error, [`StoreError`].
//!
//! Every change is one atomic write of the new ticket row *and* its events, conditional on the
//! version the change was computed from: two staff acting at once cannot both win.
//! Invariant: `ticket.version` equals the `seq` of its last event.

pub mod aliases;
pub mod backup;
pub mod error;
pub mod incidents;
pub mod postgres;
mod row;
pub mod schema;
pub mod sqlite;
pub mod testing;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{
    CategoryCode, DivisionCode, Event, StaffId, Stage, StationId, Ticket, TicketId,
};

pub use aliases::{AliasProposal, AliasStatus, AliasStore, AliasVote, Decided};
pub use error::StoreError;
pub use incidents::{IncidentNote, IncidentRecord, IncidentStore};
pub use postgres::PgStore;
/// Event rows decoded the store's way, for readers of the log that own other tables in the same
/// database (the KPI follower).
pub use row::{decode_event, decode_ticket, parse_ts};
pub use schema::SchemaStatus;
pub use sqlite::SqliteStore;

/// The result of creating a ticket: new, or the one an earlier try with the same request id made.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Ticket),
    Existing(Ticket),
}

impl Created {
    pub fn ticket(&self) -> &Ticket {
        match self {
            Created::New(t) | Created::Existing(t) => t,
        }
    }
    pub fn into_ticket(self) -> Ticket {
        match self {
            Created::New(t) | Created::Existing(t) => t,
        }
    }
    pub fn is_new(&self) -> bool {
        matches!(self, Created::New(_))
    }
}

/// A point in the store's commit order, opaque to callers: on PostgreSQL a transaction snapshot
/// (`pg_snapshot`: which transactions had committed), on SQLite the last event's rowid (SQLite
/// has one writer, so rowid order is commit order).
///
/// Why not a timestamp or a sequence number: a PostgreSQL transaction that took a lower sequence
/// number (or an earlier clock reading) can commit after one that took a higher one, so "changes
/// after position N" would miss it. A snapshot names the transactions not yet visible, so
/// "committed since" is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor(pub(crate) String);

impl ChangeCursor {
    /// The cursor's text (for logs and tests).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every ticket in the stages asked for, as of one point in the commit order.
#[derive(Debug, Clone)]
pub struct LiveSnapshot {
    pub tickets: Vec<Ticket>,
    /// Where the snapshot stands: [`TicketStore::changed_since`] it gives what it missed.
    pub cursor: ChangeCursor,
}

/// Filters for [`TicketStore::search`]. Results come newest first.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub stage: Option<Stage>,
    pub station: Option<StationId>,
    /// This division or any division inside it (by code prefix).
    pub division: Option<DivisionCode>,
    pub text_contains: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Only tickets changed at or after this time (any stage).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only tickets older than this one (keyset pagination: ids sort by creation time).
    pub before_id: Option<TicketId>,
    /// Only tickets recorded by this account (an integrator sees its own).
    pub submitted_by: Option<StaffId>,
    /// Only this caller's tickets (the phone as stored: digits, `+` and `-`).
    pub caller_phone: Option<String>,
    pub limit: u32,
}

/// What the duplicate check at intake compares of a candidate the duplicate index found
/// ([`TicketStore::duplicate_facts`]): the columns beside the body, never the body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateFacts {
    pub id: TicketId,
    pub stage: Stage,
    pub division: Option<DivisionCode>,
    pub category: Option<CategoryCode>,
    pub created_at: DateTime<Utc>,
    pub text: String,
}

/// Live tickets of one territory in one stage, counted by [`TicketStore::live_tally`] for the
/// supervision gauges (backlog and overdue per district and street).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTally {
    /// The ticket's division code cut to its street (the first 9 digits); shorter when the
    /// division is a district or wider, `None` when the ticket has no division.
    pub territory: Option<String>,
    pub stage: Stage,
    pub tickets: u64,
    /// Of those, the tickets whose running clock's deadline has passed (`due <= now`).
    pub overdue: ClockCounts,
    /// Of those, the tickets whose running clock shows its yellow light (黄灯: the `warning`
    /// flag, or `contact_warning` for first contact) and has not passed its deadline yet.
    pub about_to_breach: ClockCounts,
}

/// Division codes, for one part of the live tally (see [`TicketStore::live_tally_part`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRange {
    /// Tickets without a division.
    Missing,
    /// Codes before this one.
    Below(String),
    /// Codes from the first up to (not including) the second.
    Between(String, String),
    /// Codes from this one on.
    From(String),
}

impl CodeRange {
    /// Ranges covering every code, and no code twice, split at `bounds` (say the districts'
    /// codes): tickets without a division, codes below the first bound, between each bound
    /// and the next, from the last on. Bounds no longer than a street's code (9 digits) keep
    /// each of the tally's groups (a street) whole in one range.
    pub fn partition(bounds: &[String]) -> Vec<CodeRange> {
        let mut ranges = vec![CodeRange::Missing];
        ranges.extend(Self::cut(None, None, bounds.iter().collect()));
        ranges
    }

    /// The codes from `lower` (none: the smallest) up to `upper` (none: the largest), cut at
    /// `cuts` (all strictly between them) into consecutive ranges.
    fn cut(
        lower: Option<&String>,
        upper: Option<&String>,
        mut cuts: Vec<&String>,
    ) -> Vec<CodeRange> {
        cuts.sort();
        cuts.dedup();
        let range = |from: Option<&String>, end: Option<&String>| match (from, end) {
            (None, Some(end)) => CodeRange::Below(end.clone()),
            (Some(from), Some(end)) => CodeRange::Between(from.clone(), end.clone()),
            (Some(from), None) => CodeRange::From(from.clone()),
            // Every code from the smallest (the empty one) on.
            (None, None) => CodeRange::From(String::new()),
        };
        let mut edges = vec![lower];
        edges.extend(cuts.into_iter().map(Some));
        edges.push(upper);
        edges
            .windows(2)
            .map(|pair| range(pair[0], pair[1]))
            .collect()
    }

    /// Whether a ticket with this division code (`None`: no division) falls in the range.
    pub fn contains(&self, code: Option<&str>) -> bool {
        match (self, code) {
            (CodeRange::Missing, code) => code.is_none(),
            (_, None) => false,
            (CodeRange::Below(end), Some(code)) => code < end.as_str(),
            (CodeRange::Between(from, end), Some(code)) => {
                from.as_str() <= code && code < end.as_str()
            }
            (CodeRange::From(from), Some(code)) => from.as_str() <= code,
        }
    }

    /// This range cut at the `bounds` strictly inside it: ranges covering exactly the codes it
    /// covers, each once. A range with no bound inside (and `Missing`) comes back whole.
    pub fn split(&self, bounds: &[String]) -> Vec<CodeRange> {
        let (lower, upper) = match self {
            CodeRange::Missing => return vec![CodeRange::Missing],
            CodeRange::Below(end) => (None, Some(end)),
            CodeRange::Between(from, end) => (Some(from), Some(end)),
            CodeRange::From(from) => (Some(from), None),
        };
        let inside = |b: &&String| lower.is_none_or(|l| l < *b) && upper.is_none_or(|u| *b < u);
        Self::cut(lower, upper, bounds.iter().filter(inside).collect())
    }
}

/// A count per SLA clock. A clock counts only while it runs, as the router's timers see it:
/// sign-for while awaiting sign-for; first contact (until the caller is contacted) and
/// resolution (unless paused) while in progress or while a return is arbitrated; callback
/// while awaiting callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockCounts {
    pub sign_for: u64,
    pub first_contact: u64,
    pub resolution: u64,
    pub callback: u64,
}

impl ClockCounts {
    /// The counts with their clock's code (`sign_for`, `first_contact`, `resolution`,
    /// `callback`), in that order.
    pub fn by_clock(&self) -> [(&'static str, u64); 4] {
        [
            ("sign_for", self.sign_for),
            ("first_contact", self.first_contact),
            ("resolution", self.resolution),
            ("callback", self.callback),
        ]
    }
}

/// A ticket store. Implementations must make each write atomic (ticket row + event).
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Stores a new ticket with its first events (the submit, and whatever intake decided at
    /// once: route, dispatch...). If the ticket carries a request id that is already stored,
    /// nothing is written and the existing ticket is returned, unless its fingerprint differs:
    /// then [`StoreError::RequestIdReused`].
    async fn create(
        &self,
        ticket: &Ticket,
        events: &[Event],
        fingerprint: &str,
    ) -> Result<Created, StoreError>;

    /// Writes `ticket` (the state after `events`, which follow each other) if the stored version
    /// is still the one before the first event; otherwise [`StoreError::Conflict`] and nothing
    /// is written.
    async fn commit(&self, ticket: &Ticket, events: &[Event]) -> Result<(), StoreError>;

    /// Several independent changes, each as [`TicketStore::commit`] would write it (one per
    /// ticket), in as few round trips as the backend can: fired SLA timers are written a batch
    /// at a time. One stale or missing ticket fails only its own change; the answers are in
    /// the order of `changes`.
    async fn commit_many(&self, changes: &[(Ticket, Vec<Event>)]) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(changes.len());
        for (ticket, events) in changes {
            results.push(self.commit(ticket, events).await);
        }
        results
    }

    async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// The ticket's history, oldest first.
    async fn events(&self, id: TicketId) -> Result<Vec<Event>, StoreError>;

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Ticket>, StoreError>;

    /// Ids and texts of live (not closed) tickets in exactly `division` with `category`,
    /// created at or after `since`, newest first: the candidates a new request may duplicate.
    /// Reads only what the comparison needs (no ticket bodies).
    async fn live_in(
        &self,
        division: &DivisionCode,
        category: &CategoryCode,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TicketId, String)>, StoreError>;

    /// Every ticket in one of `stages` (used to rebuild queues and timers after a restart).
    async fn in_stages(&self, stages: &[Stage]) -> Result<Vec<Ticket>, StoreError>;

    /// Every ticket in one of `stages`, read in one transaction together with the position in
    /// the commit order it reflects (a working-set rebuild applies the tickets, then re-applies
    /// whatever [`TicketStore::changed_since`] that position).
    async fn live_snapshot(&self, stages: &[Stage]) -> Result<LiveSnapshot, StoreError>;

    /// Where the store stands now in its commit order: [`TicketStore::changed_since`] it gives
    /// every ticket with a change committed after this call.
    async fn change_cursor(&self) -> Result<ChangeCursor, StoreError>;

    /// Up to `limit` tickets in one of `stages` whose ids follow `after` (from the first when
    /// `None`), in id order: [`TicketStore::live_snapshot`] one page at a time (keyset by id,
    /// which never changes), so a reader of a million open tickets holds one page at once.
    /// Each page is read as the store is at that moment: take a
    /// [`TicketStore::change_cursor`] before the first page, and `changed_since` it gives every
    /// ticket a page read at a newer state, missed (it entered `stages` behind the pages) or
    /// still holds though it left them.
    async fn live_page(
        &self,
        stages: &[Stage],
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError>;

    /// The tickets with a change committed after `cursor` and visible now, each once, and the
    /// cursor for now. Changes not yet committed are left for the next call.
    async fn changed_since(
        &self,
        cursor: &ChangeCursor,
    ) -> Result<(Vec<TicketId>, ChangeCursor), StoreError>;

    /// One page of the tickets in `stage` on `station` (any station when `None`), by id after
    /// `after`, at most `limit`: what one station's queue and timers should hold, read a page at
    /// a time by the working set's anti-entropy check (a station may hold 100k tickets; one
    /// read of them all stalled the router for seconds). The `(stage, station_id, id)` index
    /// makes each page of a station one index range.
    async fn stage_page(
        &self,
        station: Option<&StationId>,
        stage: Stage,
        after: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError>;

    /// The tickets of `ids` that exist, in no particular order (one round trip).
    async fn get_many(&self, ids: &[TicketId]) -> Result<Vec<Ticket>, StoreError>;

    /// Stage, territory, category, creation time and text of the tickets of `ids` that exist,
    /// in no particular order (one round trip, no ticket body read or parsed): the duplicate
    /// check reads its candidates this way and the whole ticket only for the one that matches;
    /// the hotspot detector reads the calls it counts this way.
    async fn duplicate_facts(&self, ids: &[TicketId]) -> Result<Vec<CandidateFacts>, StoreError>;

    /// The stored versions of `ids` (unknown ids are left out), in one round trip.
    async fn versions(&self, ids: &[TicketId]) -> Result<HashMap<TicketId, u64>, StoreError>;

    /// Every live (not closed) ticket counted by territory (cut to the street) and stage, with
    /// how many are overdue or about to breach on each clock at `now`: one aggregate query,
    /// for the supervision gauges. Groups without tickets are left out.
    async fn live_tally(&self, now: DateTime<Utc>) -> Result<Vec<LiveTally>, StoreError>;

    /// The part of [`TicketStore::live_tally`] for the tickets in `stage` whose division code
    /// falls in `codes`: one range of the tally's index. The parts of every live stage over a
    /// [`CodeRange::partition`] make the whole tally, each row in exactly one part; the gauges
    /// read them spread over their interval, so that no one query scans every live ticket at
    /// once (about a second of a core at 1M live tickets).
    async fn live_tally_part(
        &self,
        now: DateTime<Utc>,
        stage: Stage,
        codes: &CodeRange,
    ) -> Result<Vec<LiveTally>, StoreError>;

    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::CodeRange;

    fn between(from: &str, end: &str) -> CodeRange {
        CodeRange::Between(from.to_owned(), end.to_owned())
    }

    /// Every code (and the missing one) is in exactly one range of a partition, and in exactly
    /// one piece of its range's split; a split never reaches outside its range.
    #[test]
    fn a_split_range_covers_its_codes_once() {
        let districts = ["320505", "320506", "320508"].map(String::from).to_vec();
        let streets = [
            "320509001",
            "320505001",
            "320505002",
            "320506010",
            "320508014",
            "320508021",
            "320505001",
        ]
        .map(String::from)
        .to_vec();
        let codes = [
            None,
            Some(""),
            Some("3205"),
            Some("320504999"),
            Some("320505"),
            Some("320505001"),
            Some("320505001003"),
            Some("320505002"),
            Some("320505999"),
            Some("320506010"),
            Some("320508"),
            Some("320508014001"),
            Some("320508021"),
            Some("320508021019"),
            Some("320509001"),
            Some("320510"),
            Some("999"),
        ];
        let ranges = CodeRange::partition(&districts);
        for code in codes {
            let n = ranges.iter().filter(|r| r.contains(code)).count();
            assert_eq!(n, 1, "{code:?} in {ranges:?}");
        }
        for range in &ranges {
            let pieces = range.split(&streets);
            for code in codes {
                let n = pieces.iter().filter(|p| p.contains(code)).count();
                assert_eq!(
                    n,
                    usize::from(range.contains(code)),
                    "{code:?}: {range:?} split into {pieces:?}"
                );
            }
        }
        // Cut at the streets inside, once each, and only those.
        assert_eq!(
            between("320505", "320506").split(&streets),
            vec![
                between("320505", "320505001"),
                between("320505001", "320505002"),
                between("320505002", "320506"),
            ]
        );
        assert_eq!(
            CodeRange::From("320508".into()).split(&streets),
            vec![
                between("320508", "320508014"),
                between("320508014", "320508021"),
                between("320508021", "320509001"),
                CodeRange::From("320509001".into()),
            ]
        );
        let below = CodeRange::Below("320505".into());
        assert_eq!(below.split(&streets), vec![below.clone()]);
        assert_eq!(CodeRange::Missing.split(&streets), vec![CodeRange::Missing]);
    }
}
