//! The one place router errors become gRPC statuses.
//!
//! | error | status | retry? |
//! |---|---|---|
//! | bad field; bytes that do not decode (`hotline_proto::codec`) | INVALID_ARGUMENT | no: fix the request |
//! | unknown id | NOT_FOUND | no |
//! | wrong stage or rule | FAILED_PRECONDITION | no: reload, decide again |
//! | stale `expected_version` | ABORTED | reload, decide again (see README: retries) |
//! | no credential; expired, forged, revoked token; unknown API key; disabled account | UNAUTHENTICATED | log in again |
//! | a call the role may not make; a ticket outside the scope (changes) | PERMISSION_DENIED | no |
//! | over an API key's rate limit; an account locked after failed logins | RESOURCE_EXHAUSTED | later |
//! | a request message over `grpc::limits::MAX_REQUEST_BYTES` (answered by `grpc::limits`, before decoding) | RESOURCE_EXHAUSTED | no: send less |
//! | the router or the connection at its in-flight limit (shed by `grpc::limits`, never started) | RESOURCE_EXHAUSTED | yes, after the advised delay |
//! | reused request id | ALREADY_EXISTS | no |
//! | database or Redis down, restarting, failing over; pool exhausted; busy SQLite file | UNAVAILABLE | yes, after the advised delay |
//! | a bug (corrupt data, a refused script, anything unexpected) | INTERNAL | no: it is logged |
//!
//! UNAVAILABLE carries its retry advice as a `google.rpc.RetryInfo` detail (the standard
//! `grpc-status-details-bin` trailer, read by gRPC clients' error-details helpers) with the
//! delay [`RETRY_AFTER`], and says the same in its message. A shed request (RESOURCE_EXHAUSTED
//! from an in-flight limit) carries the same detail with [`SHED_RETRY_AFTER`], and gRPC's
//! `grpc-retry-pushback-ms` metadata with it, which a gRPC client with a retry policy obeys.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{ErrorCode, RouterError};
pub use crate::grpc::limits::SHED_RETRY_AFTER;

/// gRPC's retry pushback: the milliseconds a client's retry policy waits before trying again.
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// How long a client should wait before retrying an UNAVAILABLE answer: about what a pool
/// needs to reconnect after a database restart.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

pub fn to_status(err: RouterError) -> Status {
    let code = match err.code() {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::Aborted => Code::Aborted,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Internal => Code::Internal,
    };
    match &err {
        RouterError::Internal(cause) => {
            // The cause (SQL text, file paths) is for the log, not the client.
            crate::logging::error_line_summarised("internal", &crate::logging::describe(cause));
            Status::new(code, "internal error; it has been logged")
        }
        RouterError::Unavailable(what) => Status::with_error_details(
            code,
            format!(
                "{what}; try again in {} s (google.rpc.RetryInfo)",
                RETRY_AFTER.as_secs()
            ),
            ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
        ),
        RouterError::Overloaded(what) => {
            let mut status = Status::with_error_details(
                code,
                format!(
                    "{what}; try again in {} ms (google.rpc.RetryInfo, grpc-retry-pushback-ms)",
                    SHED_RETRY_AFTER.as_millis()
                ),
                ErrorDetails::with_retry_info(Some(SHED_RETRY_AFTER)),
            );
            status.metadata_mut().insert(
                RETRY_PUSHBACK,
                tonic::metadata::MetadataValue::from(SHED_RETRY_AFTER.as_millis() as u64),
            );
            status
        }
        _ => Status::new(code, err.to_string()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_carries_retry_advice_and_internal_carries_no_detail() {
        let status = to_status(RouterError::Unavailable(
            "the ticket database is unavailable".into(),
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(RETRY_AFTER)
        );
        assert!(
            status.message().contains("try again in 1 s"),
            "{}",
            status.message()
        );

        let status = to_status(RouterError::internal(anyhow::anyhow!(
            "SELECT secret FROM tickets failed"
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
    }

    #[test]
    fn a_shed_request_says_when_to_retry_in_three_ways() {
        let status = to_status(RouterError::Overloaded("the router is busy".into()));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(SHED_RETRY_AFTER)
        );
        assert_eq!(
            status
                .metadata()
                .get(RETRY_PUSHBACK)
                .and_then(|v| v.to_str().ok()),
            Some("200")
        );
        assert!(
            status
                .message()
                .starts_with("the router is busy; try again in 200 ms"),
            "{}",
            status.message()
        );
        // The pushback survives the trip into a trailers-only HTTP answer.
        let http = status.into_http::<()>();
        assert_eq!(http.headers().get(RETRY_PUSHBACK).unwrap(), "200");
    }

    #[test]
    fn transient_store_faults_are_unavailable_and_corrupt_data_is_internal() {
        use hotline_store::StoreError;
        let restart = StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        assert_eq!(RouterError::from(restart).code(), ErrorCode::Unavailable);
        assert_eq!(
            RouterError::from(StoreError::Database(sqlx::Error::PoolTimedOut)).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            RouterError::from(StoreError::Corrupt("bad json".into())).code(),
            ErrorCode::Internal
        );
        use hotline_dispatch::QueueError;
        assert_eq!(
            RouterError::from(QueueError::Unavailable("timed out".into())).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            RouterError::from(QueueError::Broken("unexpected data in Redis: x".into())).code(),
            ErrorCode::Internal,
            "corrupt data is a bug, not something to retry"
        );
    }
}
