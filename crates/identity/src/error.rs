//! One error enum for the crate, and the closed [`ErrorCode`] the gRPC layer maps to a status in
//! one place (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...). Messages are written
//! for the person holding the credential: they say what to do next. None of them carries a
//! secret, a password or a full token.

use chrono::{DateTime, Utc};
use hotline_core::InvalidInput;
use thiserror::Error;

/// What kind of failure, for the transport: the gRPC adapter maps each to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No credential, or one that proves nothing (UNAUTHENTICATED).
    Unauthenticated,
    /// A valid credential that may not do this (PERMISSION_DENIED).
    PermissionDenied,
    /// Over a rate limit (RESOURCE_EXHAUSTED).
    ResourceExhausted,
    /// Bad input from an administrator (INVALID_ARGUMENT).
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// Storage or key-file trouble; the details go to the log, not to the client (INTERNAL).
    Internal,
}

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),

    #[error("no credential: send `authorization: Bearer <access token>` or an integrator API key")]
    MissingCredential,
    #[error("wrong login name or password")]
    InvalidCredentials,
    #[error("too many failed logins: the account is locked until {until} (UTC); try again then or ask an administrator")]
    Locked { until: DateTime<Utc> },
    #[error("the account is disabled; ask an administrator")]
    AccountDisabled,
    #[error("the account no longer exists; ask an administrator")]
    AccountDeleted,

    #[error("the access token expired at {at} (UTC); refresh it or log in again")]
    TokenExpired { at: DateTime<Utc> },
    #[error("the access token is not valid (bad format or signature); log in again")]
    TokenForged,
    #[error("the access token was signed with key {kid:?}, which this server does not hold (retired or from another deployment); log in again")]
    TokenWrongKey { kid: String },
    #[error("the access token was revoked (password change, disable or logout); log in again")]
    TokenRevoked,
    #[error("the refresh token is unknown, already used or revoked; log in again")]
    RefreshRevoked,
    #[error("the refresh token expired at {at} (UTC); log in again")]
    RefreshExpired { at: DateTime<Utc> },

    #[error("the API key is unknown or revoked; ask the centre for a new key")]
    ApiKeyInvalid,
    #[error("API key rate limit of {per_minute} requests a minute reached; retry in {retry_after_ms} ms")]
    RateLimited {
        per_minute: u32,
        retry_after_ms: u64,
    },
    #[error("{0}")]
    Forbidden(String),

    #[error("no account with login name {0:?}")]
    NoSuchAccount(String),
    #[error("an account with login name {0:?} already exists")]
    LoginTaken(String),

    #[error("signing key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("corrupt identity record: {0}")]
    Corrupt(String),
    #[error("identity store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl IdentityError {
    pub fn code(&self) -> ErrorCode {
        use IdentityError::*;
        match self {
            Invalid(_) => ErrorCode::InvalidArgument,
            MissingCredential
            | InvalidCredentials
            | Locked { .. }
            | AccountDisabled
            | AccountDeleted
            | TokenExpired { .. }
            | TokenForged
            | TokenWrongKey { .. }
            | TokenRevoked
            | RefreshRevoked
            | RefreshExpired { .. }
            | ApiKeyInvalid => ErrorCode::Unauthenticated,
            RateLimited { .. } => ErrorCode::ResourceExhausted,
            Forbidden(_) => ErrorCode::PermissionDenied,
            NoSuchAccount(_) => ErrorCode::NotFound,
            LoginTaken(_) => ErrorCode::AlreadyExists,
            KeyFile { .. } | Hashing(_) | Corrupt(_) | Database(_) | Io { .. } => {
                ErrorCode::Internal
            }
        }
    }

    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        use IdentityError::*;
        match self {
            Invalid(_) => "invalid",
            MissingCredential => "missing",
            InvalidCredentials => "bad_password",
            Locked { .. } => "locked",
            AccountDisabled => "disabled",
            AccountDeleted => "deleted",
            TokenExpired { .. } => "expired",
            TokenForged => "forged",
            TokenWrongKey { .. } => "wrong_key",
            TokenRevoked => "revoked",
            RefreshRevoked => "refresh_revoked",
            RefreshExpired { .. } => "refresh_expired",
            ApiKeyInvalid => "bad_api_key",
            RateLimited { .. } => "rate_limited",
            Forbidden(_) => "forbidden",
            NoSuchAccount(_) => "no_account",
            LoginTaken(_) => "login_taken",
            KeyFile { .. } => "key_file",
            Hashing(_) => "hashing",
            Corrupt(_) => "corrupt",
            Database(_) => "database",
            Io { .. } => "io",
        }
    }
}
