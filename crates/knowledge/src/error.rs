//! One error enum for the crate, and the closed [`ErrorCode`] the gRPC layer maps to a status in
//! one place. Messages are written for the editor or operator who sees them: they name the
//! field, the version or the line to fix. Storage and index failures keep their cause for the
//! log and say nothing of SQL to a client.

use hotline_core::InvalidInput;
use thiserror::Error;

use crate::domain::{ArticleId, Status};

/// What kind of failure, for the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Bad content or a bad file (INVALID_ARGUMENT).
    InvalidArgument,
    NotFound,
    /// A stale version on update (ABORTED): re-read and retry.
    Aborted,
    /// The article is not in a state that allows this (FAILED_PRECONDITION).
    FailedPrecondition,
    /// A reviewer approving their own edit (PERMISSION_DENIED).
    PermissionDenied,
    /// Storage or index trouble; details go to the log (INTERNAL).
    Internal,
}

#[derive(Debug, Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),

    #[error("no article {0}")]
    NotFound(ArticleId),

    #[error("article {article} has changed: you edited version {expected}, the current version is {current}; reload it and apply your change again")]
    StaleVersion {
        article: ArticleId,
        expected: u32,
        current: u32,
    },

    #[error("article {article} is {status}: {action} needs it {needed}")]
    WrongStatus {
        article: ArticleId,
        status: Status,
        action: &'static str,
        needed: &'static str,
    },

    #[error("article {article}: a reviewer may not approve an edit of their own (version {version} is theirs)")]
    OwnEdit { article: ArticleId, version: u32 },

    #[error("another article already has the external key {0:?}")]
    ExternalKeyTaken(String),

    /// A file that cannot be imported; nothing of it was.
    #[error("{file}, line {line}: {message}; nothing was imported")]
    BadRow {
        file: String,
        line: u64,
        message: String,
    },

    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search query: {0}")]
    Query(String),
    #[error("corrupt knowledge record: {0}")]
    Corrupt(String),
    #[error("knowledge store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl KnowledgeError {
    pub fn code(&self) -> ErrorCode {
        use KnowledgeError::*;
        match self {
            Invalid(_) | BadRow { .. } | Query(_) => ErrorCode::InvalidArgument,
            NotFound(_) => ErrorCode::NotFound,
            StaleVersion { .. } | ExternalKeyTaken(_) => ErrorCode::Aborted,
            WrongStatus { .. } => ErrorCode::FailedPrecondition,
            OwnEdit { .. } => ErrorCode::PermissionDenied,
            Index(_) | Corrupt(_) | Database(_) | Io { .. } => ErrorCode::Internal,
        }
    }

    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        use KnowledgeError::*;
        match self {
            Invalid(_) => "invalid",
            NotFound(_) => "not_found",
            StaleVersion { .. } => "stale_version",
            WrongStatus { .. } => "wrong_status",
            OwnEdit { .. } => "own_edit",
            ExternalKeyTaken(_) => "external_key_taken",
            BadRow { .. } => "bad_row",
            Index(_) => "index",
            Query(_) => "query",
            Corrupt(_) => "corrupt",
            Database(_) => "database",
            Io { .. } => "io",
        }
    }
}
