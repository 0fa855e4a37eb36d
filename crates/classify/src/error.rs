//! The crate's errors: one enum, every variant names what failed and where.

use std::path::PathBuf;

use thiserror::Error;

/// Why a taxonomy, rules file, training set or model could not be used.
#[derive(Debug, Error)]
pub enum ClassifyError {
    /// A line of a configuration file (taxonomy or rules) is malformed.
    #[error("{file}:{line}: {problem}")]
    Config {
        /// The file as given (or `<default taxonomy>` / `<default rules>` for the shipped ones).
        file: String,
        /// 1-based line number.
        line: usize,
        problem: String,
    },
    /// A configuration file is well-formed but inconsistent as a whole.
    #[error("{file}: {problem}")]
    Inconsistent { file: String, problem: String },
    /// The training or evaluation CSV is unusable (missing column, bad row, too few classes).
    #[error("training data: {0}")]
    Data(String),
    /// A model file is not a model this crate wrote, or it is damaged.
    #[error("model file {path}: {problem}")]
    Model { path: PathBuf, problem: String },
    /// A model label cannot be mapped onto the taxonomy.
    #[error("model label {label:?} is not in the taxonomy: {problem}")]
    UnknownLabel { label: String, problem: String },
    /// A model trained for one taxonomy version, loaded with another.
    #[error("the model was trained for taxonomy version {model}, but the taxonomy loaded is version {taxonomy}: retrain the model (`hotline train`) or load taxonomy {model}")]
    TaxonomyMismatch { model: String, taxonomy: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

impl ClassifyError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn config(file: &str, line: usize, problem: impl Into<String>) -> Self {
        Self::Config {
            file: file.to_owned(),
            line,
            problem: problem.into(),
        }
    }
}
