//! The one place router errors become gRPC statuses.

use tonic::{Code, Status};

use crate::error::{ErrorCode, RouterError};

pub fn to_status(err: RouterError) -> Status {
    let code = match err.code() {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::Aborted => Code::Aborted,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Internal => Code::Internal,
    };
    if let RouterError::Internal(cause) = &err {
        // The cause (SQL text, file paths) is for the log, not the client.
        tracing::error!(error = ?cause, "internal error");
        return Status::new(code, "internal error; it has been logged");
    }
    Status::new(code, err.to_string())
}

impl From<RouterError> for Status {
    fn from(err: RouterError) -> Self {
        to_status(err)
    }
}

/// Boundary validation errors go straight to INVALID_ARGUMENT.
pub fn invalid(err: hotline_core::InvalidInput) -> Status {
    to_status(RouterError::Invalid(err))
}
