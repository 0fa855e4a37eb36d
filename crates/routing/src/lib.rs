//! Routing decisions for 12345 tickets: which station receives a request and why.
//!
//! Dispatch follows a versioned catalogue (派单目录) on the principles 职权法定 (by function),
//! 属地管理 (by territory) and 分级负责 (by level): the classifier says what the request is
//! about, the territory resolver says where, the catalogue says which kind of station at which
//! level, and the directory names the station. When the category is unsure or the territory
//! only partly known, the target widens (community -> street -> district -> centre triage) and
//! every step is recorded in the [`Explanation`] stored with the ticket.
//!
//! # Layout
//! - [`catalogue`]: [`Catalogue`]: the versioned, human-edited dispatch catalogue (shipped
//!   default `data/catalogue.txt`), its rules and how the most specific one is selected.
//! - [`engine`]: [`RoutingEngine`]: [`RouteRequest`] -> [`Explanation`] (category, territory,
//!   rule, station, fallbacks, versions), with [`Settings`] and typed [`TriageReason`]s.
//! - [`duplicates`]: [`similarity`] and [`is_duplicate`]: the pure text part of linking a new
//!   request to a live ticket.
//! - [`minhash`]: [`minhash::bands`]: MinHash/LSH band hashes of the same shingles, the
//!   deterministic signature the duplicate index files live tickets under.
//! - [`error`]: [`RoutingError`]: every configuration problem names its file and line.

pub mod catalogue;
pub mod duplicates;
pub mod engine;
pub mod error;
pub mod minhash;

pub use catalogue::{Catalogue, Query, Rule, Step};
pub use duplicates::{is_duplicate, is_duplicate_of, similarity, similarity_to, DuplicateSettings};
pub use engine::{Decision, RouteRequest, RoutingEngine, Settings, StepTimes, TriageReason};
pub use error::RoutingError;
pub use hotline_core::route::{Explanation, ScoredCategory, TerritoryMatch};
