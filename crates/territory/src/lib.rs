//! Territory resolution: which division a ticket belongs to, from what the caller said or
//! typed, a map point, or the kiosk they used.
//!
//! # Layout
//! - [`resolver`]: [`Resolver`]: builds the name index from a [`hotline_directory::Directory`]
//!   and answers `resolve_text`, `resolve_point`, `resolve_kiosk`.
//! - [`address_book`]: [`AddressBook`]: the 地址库 of 小区, roads with house-number ranges and
//!   landmarks, imported from CSV, plus aliases learned from staff corrections; consulted by
//!   the resolver where the division names fail or are weak.
//! - `normalize`: the comparison form (full-width digits, 三号楼/3幢/3栋, 苑/园).
//! - [`resolution`]: [`Resolution`]: outcome (resolved / ambiguous / unresolved), why, the
//!   division, the matched span, the candidates.
//! - `names`: the forms people write names in (社区 for 社区居委会, 村 for 村委会, 昆山 for
//!   昆山市, 工业园区 for 苏州工业园区, ...) and how far each can be trusted.
//! - `elsewhere`: names of places outside the city, to say "outside" instead of "not found".
//! - [`polygons`]: [`DistrictPolygons`]: map point -> district, from a GeoJSON file at run time.
//! - [`error`]: the crate's error, [`TerritoryError`].

pub mod address_book;
mod elsewhere;
pub mod error;
mod names;
mod normalize;
pub mod polygons;
pub mod resolution;
pub mod resolver;

pub use address_book::{AddressBook, BookMatch, Fuzz, MatchKind};
pub use error::{BookProblem, TerritoryError};
pub use polygons::{DistrictPolygons, DEFAULT_POLYGONS_PATH};
pub use resolution::{Candidate, Outcome, Resolution, Span, Why};
pub use resolver::Resolver;
