//! Automatic routing at intake: the routing engine's decision for a ticket, and duplicate
//! detection against live tickets of the same territory and category.
//!
//! Duplicates are looked up in the working set's duplicate index (MinHash bands, see
//! `hotline_routing::minhash` and `hotline_dispatch::duplicates`), so a submit reads a bounded
//! number of candidates however many tickets are live; the candidates' texts are then read from
//! the store and checked with the exact similarity, which alone decides.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_core::route::Explanation;
use hotline_core::{CategoryCode, DivisionCode, Nature, Stage, Ticket, Urgency};
use hotline_dispatch::duplicates::VERIFY_LIMIT;
use hotline_dispatch::DuplicateKey;
use hotline_routing::{minhash, DuplicateSettings, RouteRequest, RoutingEngine};
use hotline_store::TicketStore;

use crate::error::RouterError;
use crate::working_set::WorkingSet;

/// When the duplicate index cannot be trusted (being rebuilt, waiting for repair): how many
/// recent live tickets of the same territory and category the store scan compares a new
/// request with (newest first), as before the index existed.
const DUPLICATE_CANDIDATES: u32 = 100;

/// What an operator fixed by hand; everything else the engine decides.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub category: Option<CategoryCode>,
    pub nature: Option<Nature>,
    pub urgency: Option<Urgency>,
    pub division: Option<DivisionCode>,
    /// The station the operator picked over the router's (recorded in the explanation).
    pub station: Option<hotline_core::StationId>,
}

/// The engine and the duplicate rule, shared by every request.
#[derive(Clone)]
pub struct Routing {
    engine: Arc<RoutingEngine>,
    duplicates: DuplicateSettings,
}

impl Routing {
    pub fn new(engine: Arc<RoutingEngine>, duplicates: DuplicateSettings) -> Self {
        Self { engine, duplicates }
    }

    pub fn engine(&self) -> &RoutingEngine {
        &self.engine
    }

    /// The shared engine, for rooms that keep it (the learned aliases teach its resolver).
    pub fn engine_arc(&self) -> Arc<RoutingEngine> {
        self.engine.clone()
    }

    /// The decision for a ticket's text, address, point and kiosk, with the operator's hints.
    pub fn decide(&self, ticket: &Ticket, hints: &Hints) -> Explanation {
        self.decide_request(&Self::request_for(ticket, hints))
    }

    /// The routing request for a ticket as it stands, with the operator's hints.
    pub fn request_for(ticket: &Ticket, hints: &Hints) -> RouteRequest {
        RouteRequest {
            text: ticket.text.clone(),
            address: Some(ticket.address.clone()).filter(|a| !a.trim().is_empty()),
            location: ticket.location.map(|p| (p.lat, p.lng)),
            kiosk: ticket.kiosk.clone(),
            category: hints.category.clone(),
            nature: hints.nature,
            urgency: hints.urgency,
            division: hints.division.clone(),
        }
    }

    pub fn decide_request(&self, request: &RouteRequest) -> Explanation {
        // Classification and resolution are CPU work of well under a millisecond; they run
        // inline rather than on a blocking pool.
        let decision = self.engine.route(request);
        let steps = decision.steps;
        metrics::histogram!(crate::metrics::ROUTING_SECONDS).record(steps.total.as_secs_f64());
        for (step, took) in [
            ("classify", steps.classify),
            ("territory", steps.territory),
            ("catalogue", steps.catalogue),
        ] {
            metrics::histogram!(crate::metrics::ROUTE_STEP_SECONDS, "step" => step)
                .record(took.as_secs_f64());
        }
        decision.explanation
    }

    /// A live ticket, created within the window, in the same territory and category, whose
    /// text is similar enough: the one this request duplicates (the most similar).
    pub async fn find_duplicate(
        &self,
        store: &dyn TicketStore,
        working_set: &WorkingSet,
        text: &str,
        decision: &Explanation,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, RouterError> {
        let started = std::time::Instant::now();
        let found = self
            .lookup_duplicate(store, working_set, text, decision, now)
            .await;
        metrics::histogram!(crate::metrics::ROUTE_STEP_SECONDS, "step" => "duplicate")
            .record(started.elapsed().as_secs_f64());
        found
    }

    async fn lookup_duplicate(
        &self,
        store: &dyn TicketStore,
        working_set: &WorkingSet,
        text: &str,
        decision: &Explanation,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, RouterError> {
        let (Some(division), Some(category)) = (
            decision.territory.division.as_ref(),
            decision.categories.first().map(|c| &c.code),
        ) else {
            return Ok(None);
        };
        // Nothing to compare (no letters or ideographs): the exact check scores 0.0 against
        // any ticket, so it duplicates none. The shingles serve the signature and every exact
        // comparison below; the signature serves the filing of the ticket too.
        let shingles = hotline_routing::duplicates::shingles(text);
        let Some(bands) = minhash::bands_of(&shingles) else {
            return Ok(None);
        };
        working_set.keep_signature(text, bands.as_slice());
        let window =
            chrono::Duration::from_std(self.duplicates.window).unwrap_or(chrono::Duration::days(7));
        let since = now - window;
        let key = DuplicateKey::new(division.clone(), category.clone());
        let found = working_set
            .duplicate_candidates(&key, bands.as_slice(), since, VERIFY_LIMIT)
            .await?;
        let Some(found) = found else {
            metrics::counter!("hotline_duplicate_lookups_total", "path" => "store").increment(1);
            return self
                .scan_store(store, &shingles, division, category, since)
                .await;
        };
        metrics::counter!("hotline_duplicate_lookups_total", "path" => "index").increment(1);
        // A ticket sharing one band is most often unrelated (single-row bands): its text is
        // not read (`minhash::MIN_SHARED`, the S-curve in the module docs).
        let found: Vec<_> = found
            .into_iter()
            .filter(|c| minhash::worth_verifying(c.shared_bands))
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        // The store is the truth: a candidate that closed, moved to another territory or
        // category, or is older than the window since the index filed it is not one. Only
        // what that check and the comparison need is read; the body of the one that matches.
        let still_a_candidate = |stage: Stage,
                                 at: &Option<DivisionCode>,
                                 about: &Option<CategoryCode>,
                                 created_at: DateTime<Utc>| {
            stage != Stage::Closed
                && at.as_ref() == Some(division)
                && about.as_ref() == Some(category)
                && created_at >= since
        };
        let ids: Vec<_> = found.iter().map(|c| c.ticket).collect();
        let live = store.duplicate_facts(&ids).await?;
        let best = live
            .into_iter()
            .filter(|t| still_a_candidate(t.stage, &t.division, &t.category, t.created_at))
            .filter_map(|t| {
                hotline_routing::is_duplicate_of(&shingles, &t.text, &self.duplicates)
                    .map(|s| (s, t.id))
            })
            .max_by(|(a, x), (b, y)| a.total_cmp(b).then(y.cmp(x)));
        let Some((_, id)) = best else {
            return Ok(None);
        };
        // Changed since its facts were read (closed, moved): not a duplicate after all; the
        // request is recorded as new, as when the store scan's pick closes meanwhile.
        Ok(store
            .get(id)
            .await?
            .filter(|t| still_a_candidate(t.stage, &t.division, &t.category, t.created_at)))
    }

    /// The comparison before the index: the newest live tickets of the key, from the store.
    /// Its cost grows with the live tickets read; it runs only while the index is not to be
    /// trusted (a rebuild under way or due, an update waiting for repair, a flushed Redis).
    async fn scan_store(
        &self,
        store: &dyn TicketStore,
        shingles: &[u64],
        division: &DivisionCode,
        category: &CategoryCode,
        since: DateTime<Utc>,
    ) -> Result<Option<Ticket>, RouterError> {
        // Ids and texts only: the body is read for the one ticket that matches.
        let candidates = store
            .live_in(division, category, since, DUPLICATE_CANDIDATES)
            .await?;
        let best = candidates
            .into_iter()
            .filter_map(|(id, live)| {
                hotline_routing::is_duplicate_of(shingles, &live, &self.duplicates)
                    .map(|score| (score, id))
            })
            .max_by(|(a, _), (b, _)| a.total_cmp(b));
        let Some((_, id)) = best else {
            return Ok(None);
        };
        // Closed since it was listed: not a duplicate after all; the request is recorded as new.
        Ok(store.get(id).await?.filter(|t| t.stage != Stage::Closed))
    }
}
