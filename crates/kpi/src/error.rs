//! One error enum for the crate, and the closed [`ErrorCode`] the gRPC layer maps to a status in
//! one place. Messages say what to change.

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    PermissionDenied,
    NotFound,
    Internal,
}

#[derive(Debug, Error)]
pub enum KpiError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("corrupt KPI record: {0}")]
    Corrupt(String),
    #[error("KPI store: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] hotline_store::StoreError),
    #[error("KPI configuration {path}: {message}")]
    Config { path: String, message: String },
}

impl KpiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { .. } | Self::Config { .. } => ErrorCode::InvalidArgument,
            Self::Forbidden(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Corrupt(_) | Self::Database(_) | Self::Store(_) => ErrorCode::Internal,
        }
    }
}
