//! The directory of divisions and stations that 12345 tickets are dispatched to.
//!
//! # Layout
//! - [`directory`]: [`Directory`], loaded once (embedded Suzhou data or any city's CSV) and
//!   indexed for lookups: divisions, the tree, stations, nearest-station fallback, kiosks.
//! - [`division`]: [`Division`] and the short name people say (`金麟社区`, `新开河村`).
//! - [`level`]: [`Level`]: city, district, street, community.
//! - [`station`]: [`Station`], [`StationKind`] and the rule that derives stations from divisions.
//! - [`error`]: [`DirectoryError`]: every load problem names its file and line.

pub mod directory;
pub mod division;
pub mod error;
pub mod level;
pub mod station;

pub use directory::Directory;
pub use division::{short_name, Division};
pub use error::DirectoryError;
pub use level::Level;
pub use station::{Station, StationKind};
