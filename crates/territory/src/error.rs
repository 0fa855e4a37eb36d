//! The crate's errors. Text resolution never fails (it answers `Unresolved` with a reason);
//! only loading the district polygons can.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TerritoryError {
    /// The polygon file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The polygon file is not the GeoJSON we expect. `origin` is the path or a label.
    #[error("{origin}: {problem}")]
    GeoJson { origin: String, problem: String },
}
