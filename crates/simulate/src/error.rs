//! One error enum for the crate. A scenario error names the key and the line, so a planner can
//! fix the file without reading code.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimulateError {
    /// A value in the scenario file is wrong: which key, where, and what to change.
    #[error("{file}:{line}:{column}: {key}: {message}")]
    Scenario {
        file: String,
        key: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Data a default is computed from (the labelled messages, the reply delays) is missing or
    /// unreadable.
    #[error("{path}: {message}")]
    Data { path: String, message: String },
    /// The engine refused or failed an operation the simulator asked for.
    #[error("engine: {0}")]
    Engine(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {what}: {message}")]
    Output { what: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl SimulateError {
    pub fn engine(err: impl std::fmt::Display) -> Self {
        Self::Engine(err.to_string())
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
