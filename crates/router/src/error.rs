//! The router's one error enum, and the closed set of codes clients see.
//!
//! Domain, store, queue and calendar errors are converted here, once. Whatever is unexpected
//! becomes [`RouterError::Internal`]: logged with its cause chain, never sent to a client.

use hotline_core::{InvalidInput, LifecycleError};
use hotline_dispatch::QueueError;
use hotline_sla::{CalendarError, SlaError};
use hotline_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RouterError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("{0}")]
    NotFound(String),
    /// The ticket is not in a state that allows this (names the stage or the rule).
    #[error("{0}")]
    Precondition(String),
    /// Someone else changed the ticket first: reload and decide again.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A dependency (database, queue) is down or restarting; the client may retry (the status
    /// carries the advice: see `grpc::status`).
    #[error("{0}")]
    Unavailable(String),
    /// No credential, or one that does not prove anyone (expired, forged, revoked...).
    #[error("{0}")]
    Unauthenticated(String),
    /// Over a rate limit or locked out for a while.
    #[error("{0}")]
    Exhausted(String),
    /// The router is at an in-flight limit and sheds the request without starting it; the
    /// client may retry (the status carries the advice: see `grpc::status`).
    #[error("{0}")]
    Overloaded(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// SLA timers are firing later than they are due (reported, not returned to a client).
#[derive(Debug, Error)]
#[error("SLA timers are {seconds} s behind their deadlines")]
pub struct TimersBehind {
    pub seconds: u64,
}

/// The closed set of error codes; `grpc::status` maps each to a `tonic::Code` in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    Aborted,
    PermissionDenied,
    AlreadyExists,
    Unavailable,
    Unauthenticated,
    ResourceExhausted,
    Internal,
}

impl RouterError {
    pub fn code(&self) -> ErrorCode {
        match self {
            RouterError::Invalid(_) => ErrorCode::InvalidArgument,
            RouterError::NotFound(_) => ErrorCode::NotFound,
            RouterError::Precondition(_) => ErrorCode::FailedPrecondition,
            RouterError::Conflict(_) => ErrorCode::Aborted,
            RouterError::Forbidden(_) => ErrorCode::PermissionDenied,
            RouterError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            RouterError::Unavailable(_) => ErrorCode::Unavailable,
            RouterError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            RouterError::Exhausted(_) | RouterError::Overloaded(_) => ErrorCode::ResourceExhausted,
            RouterError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        RouterError::Internal(err.into())
    }
}

impl From<LifecycleError> for RouterError {
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::IllegalTransition { .. } | LifecycleError::Precondition(_) => {
                RouterError::Precondition(err.to_string())
            }
            LifecycleError::Forbidden(message) => RouterError::Forbidden(message),
            LifecycleError::Invalid(invalid) => RouterError::Invalid(invalid),
        }
    }
}

impl From<hotline_kpi::KpiError> for RouterError {
    fn from(err: hotline_kpi::KpiError) -> Self {
        use hotline_kpi::{ErrorCode as K, KpiError};
        match (err.code(), err) {
            (_, KpiError::Invalid { field, message }) => {
                RouterError::Invalid(InvalidInput::new(field, message))
            }
            (K::InvalidArgument, err) => {
                RouterError::Invalid(InvalidInput::new("kpi_config", err.to_string()))
            }
            (K::PermissionDenied, err) => RouterError::Forbidden(err.to_string()),
            (K::NotFound, err) => RouterError::NotFound(err.to_string()),
            (_, KpiError::Store(err)) => RouterError::from(err),
            (_, err) => RouterError::internal(err),
        }
    }
}

impl From<hotline_knowledge::KnowledgeError> for RouterError {
    fn from(err: hotline_knowledge::KnowledgeError) -> Self {
        use hotline_knowledge::{ErrorCode as K, KnowledgeError};
        match (err.code(), err) {
            (_, KnowledgeError::Invalid(invalid)) => RouterError::Invalid(invalid),
            (K::InvalidArgument, err) => {
                RouterError::Invalid(InvalidInput::new("article", err.to_string()))
            }
            (K::NotFound, err) => RouterError::NotFound(err.to_string()),
            (K::Aborted, err) => RouterError::Conflict(err.to_string()),
            (K::FailedPrecondition, err) => RouterError::Precondition(err.to_string()),
            (K::PermissionDenied, err) => RouterError::Forbidden(err.to_string()),
            (K::Internal, KnowledgeError::Database(err)) => {
                crate::logging::warn_summarised("knowledge store", &err);
                RouterError::Unavailable("the knowledge base is unavailable".into())
            }
            (K::Internal, err) => RouterError::internal(err),
        }
    }
}

impl From<StoreError> for RouterError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } => {
                RouterError::Conflict(format!("{err}; reload the ticket and try again"))
            }
            StoreError::NotFound(_) => RouterError::NotFound(err.to_string()),
            StoreError::RequestIdReused(_) => RouterError::AlreadyExists(err.to_string()),
            // A restart, failover, dropped connection, exhausted pool or busy file: the list is
            // `StoreError::is_transient`. The detail is for the log only.
            err if err.is_transient() => {
                crate::logging::warn_summarised("store", &err);
                RouterError::Unavailable("the ticket database is unavailable".into())
            }
            other => RouterError::internal(other),
        }
    }
}

impl From<QueueError> for RouterError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::Leased { .. } => RouterError::Precondition(err.to_string()),
            QueueError::NotQueued(_) => RouterError::Precondition(err.to_string()),
            QueueError::Unavailable(_) => {
                // The detail (host, timeout) is for the log only.
                crate::logging::warn_summarised("working set", &err);
                RouterError::Unavailable("the station queues are unavailable".into())
            }
            // Undecodable data or a refused script: a bug, not an outage.
            QueueError::Broken(_) => RouterError::internal(err),
        }
    }
}

impl From<CalendarError> for RouterError {
    fn from(err: CalendarError) -> Self {
        match err {
            CalendarError::UnknownYear(_) => RouterError::Precondition(err.to_string()),
            other => RouterError::internal(other),
        }
    }
}

impl From<SlaError> for RouterError {
    fn from(err: SlaError) -> Self {
        match err {
            SlaError::Calendar(inner) => inner.into(),
            SlaError::ExtensionRefused { reason } => {
                RouterError::Precondition(format!("extension refused: {reason}"))
            }
        }
    }
}

impl From<hotline_identity::IdentityError> for RouterError {
    fn from(err: hotline_identity::IdentityError) -> Self {
        use hotline_identity::{ErrorCode as Id, IdentityError};
        // A lockout is a "wait and retry" as much as a rate limit is.
        if matches!(err, IdentityError::Locked { .. }) {
            return RouterError::Exhausted(err.to_string());
        }
        match err.code() {
            Id::Unauthenticated => RouterError::Unauthenticated(err.to_string()),
            Id::ResourceExhausted => RouterError::Exhausted(err.to_string()),
            Id::PermissionDenied => RouterError::Forbidden(err.to_string()),
            Id::NotFound => RouterError::NotFound(err.to_string()),
            Id::AlreadyExists => RouterError::AlreadyExists(err.to_string()),
            Id::InvalidArgument => match err {
                IdentityError::Invalid(invalid) => RouterError::Invalid(invalid),
                other => RouterError::internal(other),
            },
            Id::Internal => match err {
                IdentityError::Database(db) => StoreError::from(db).into(),
                other => RouterError::internal(other),
            },
        }
    }
}
