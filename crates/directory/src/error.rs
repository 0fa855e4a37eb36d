//! The crate's errors. One enum; every variant names where the problem is (file and line) and
//! what it is, so an operator fixing a data file does not have to guess.

use std::path::PathBuf;

use hotline_core::{DivisionCode, KioskId};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The file could not be read at all.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a CSV file is malformed or inconsistent. `origin` is the path or a label for
    /// an in-memory source; `line` is 1-based and counts the header line.
    #[error("{origin}:{line}: {problem}")]
    Malformed {
        origin: String,
        line: u64,
        problem: String,
    },
    /// The file as a whole is inconsistent (e.g. no city row).
    #[error("{origin}: {problem}")]
    Inconsistent { origin: String, problem: String },
    /// A kiosk was registered at a division the directory does not know, or one that is not a
    /// community.
    #[error("kiosk {kiosk}: {problem} ({division})")]
    KioskDivision {
        kiosk: KioskId,
        division: DivisionCode,
        problem: &'static str,
    },
}
