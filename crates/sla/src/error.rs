//! The crate's errors, split by who has to act on them:
//!
//! - [`CalendarError`]: the holiday data or the office hours are wrong or missing. Loading errors
//!   stop the router at start-up; [`CalendarError::UnknownYear`] at run time means a year's
//!   official calendar has not been loaded yet (an operator must drop in the new file).
//! - [`PolicyError`]: the SLA policy file is wrong; the router refuses to start with it. Every
//!   message names the file, the place in it (rule number) and the problem.
//! - [`SlaError`]: a per-ticket decision was refused (an extension), or the calendar could not
//!   answer.

use std::path::PathBuf;

use thiserror::Error;

/// The working calendar could not be built or could not answer.
#[derive(Debug, Error)]
pub enum CalendarError {
    /// The arithmetic needs a day of a year whose official holiday calendar is not loaded (no
    /// file, or an empty one because the State Council has not published it yet). The year is
    /// *not* assumed to be holiday-free: a deadline counted through it could be days wrong.
    #[error(
        "the official holiday calendar for {0} is not loaded (not published yet, or its file is \
         missing); working days in {0} cannot be counted"
    )]
    UnknownYear(i32),
    /// A holiday file (holiday-cn format) could not be read or does not make sense.
    #[error("holiday file {file}: {problem}")]
    BadHolidayFile { file: String, problem: String },
    /// A holiday directory could not be read.
    #[error("holiday directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The office hours are not a sorted list of non-empty, non-overlapping intervals.
    #[error("office hours {0}")]
    BadOfficeHours(String),
    /// A pause interval ends before it starts.
    #[error("pause {index} ends before it starts ({start} > {end})")]
    BadPause {
        index: usize,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    },
}

/// The SLA policy (configuration) is wrong. The router must refuse to start with it.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("sla policy {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The policy file was read but is invalid. `place` says where: `toml`, `[defaults]`,
    /// `[[rule]] #2 ("emergency")`, ...
    #[error("sla policy {file}: {place}: {problem}")]
    Invalid {
        file: String,
        place: String,
        problem: String,
    },
}

impl PolicyError {
    pub(crate) fn invalid(
        file: &str,
        place: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            place: place.into(),
            problem: problem.into(),
        }
    }
}

/// A per-ticket SLA decision failed.
#[derive(Debug, Error)]
pub enum SlaError {
    /// The calendar could not answer (typically [`CalendarError::UnknownYear`]).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// An extension (延期) request breaks a rule; `reason` is written for the station staff.
    #[error("extension refused: {reason}")]
    ExtensionRefused { reason: String },
}
