//! The crate's error: why a catalogue (or the engine built on it) cannot be used.
//!
//! Routing itself never fails: every request gets a decision, at worst centre triage with the
//! reason. Only configuration can be wrong, and the router refuses to start on it, naming the
//! file, the line and the problem.

use thiserror::Error;

/// Why the router cannot start with this configuration.
#[derive(Debug, Error)]
pub enum RoutingError {
    /// A line of the catalogue is malformed or names something that does not exist.
    #[error("{file}:{line}: {problem}")]
    Catalogue {
        /// The file as given (`<default catalogue>` for the shipped one).
        file: String,
        /// 1-based line number.
        line: usize,
        problem: String,
    },
    /// The catalogue is well-formed line by line but unusable as a whole (no version, no
    /// default rule), or does not fit the classifier or directory it is used with.
    #[error("{file}: {problem}")]
    Inconsistent { file: String, problem: String },
    /// The catalogue file could not be read.
    #[error("reading catalogue {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl RoutingError {
    pub(crate) fn line(file: &str, line: usize, problem: impl Into<String>) -> Self {
        Self::Catalogue {
            file: file.to_owned(),
            line,
            problem: problem.into(),
        }
    }

    pub(crate) fn inconsistent(file: &str, problem: impl Into<String>) -> Self {
        Self::Inconsistent {
            file: file.to_owned(),
            problem: problem.into(),
        }
    }
}
