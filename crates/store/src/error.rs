use hotline_core::{RequestId, TicketId};
use thiserror::Error;

/// What can go wrong at the store boundary. SQL errors are wrapped here once; callers never see
/// (and clients are never sent) SQL text.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Someone else changed the ticket since it was read (optimistic concurrency).
    #[error(
        "ticket {ticket} was changed by someone else (it is at version {actual}, not {expected})"
    )]
    Conflict {
        ticket: TicketId,
        expected: u64,
        actual: u64,
    },
    #[error("ticket {0} does not exist")]
    NotFound(TicketId),
    /// A client reused an idempotency key for a different request.
    #[error("request id {0} was already used for a different request")]
    RequestIdReused(RequestId),
    /// A row that does not decode into the domain (a bug or a hand-edited database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A batched write failed for a passing reason (the same for every change in it): each
    /// caller gets this, with the cause as text.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer release than this binary.
    #[error(
        "the database schema is at version {schema}, newer than this binary knows (up to \
         {known}): run the release that migrated it, or a newer one"
    )]
    SchemaNewer { schema: i64, known: i64 },
    /// A backup or restore refused or failed; the message says why and what to do.
    #[error("{0}")]
    Backup(String),
}

impl StoreError {
    /// Whether the error is a passing fault of the database or the way to it (a restart, a
    /// failover, a dropped connection, an exhausted pool, a serialisation failure, a busy
    /// SQLite file): the same request may succeed if tried again. Everything else (corrupt
    /// data, a constraint the code should have prevented, a bad migration) is a bug.
    ///
    /// The one list of transient database faults; the router maps these to UNAVAILABLE.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(err) => is_transient_sqlx(err),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(err)) => {
                is_transient_sqlx(err)
            }
            _ => false,
        }
    }
}

/// An error and its causes on one line (`database error: connection reset ...`).
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// Transient `sqlx` errors (see [`StoreError::is_transient`]).
pub fn is_transient_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    is_transient_sqlite_code(&code)
                } else {
                    is_transient_sqlstate(&code)
                }
            })
        }
        _ => false,
    }
}

/// SQLite result codes that mean "try again": busy or locked (the extended code's low byte is
/// the primary code).
fn is_transient_sqlite_code(code: &str) -> bool {
    const SQLITE_BUSY: u32 = 5;
    const SQLITE_LOCKED: u32 = 6;
    code.parse::<u32>()
        .is_ok_and(|number| matches!(number & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// PostgreSQL SQLSTATEs that mean "try again".
fn is_transient_sqlstate(code: &str) -> bool {
    matches!(
        code,
        // admin_shutdown, crash_shutdown, cannot_connect_now: a restart or a crash recovery.
        "57P01" | "57P02" | "57P03"
        // too_many_connections, serialization_failure, deadlock_detected,
        // read_only_sql_transaction (a standby during a failover).
        | "53300" | "40001" | "40P01" | "25006"
    ) || code.starts_with("08") // connection exceptions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_failovers_and_busy_files_are_transient_and_bugs_are_not() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08001", "53300", "40001", "40P01", "25006",
        ] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "22P02", "23503"] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
        for code in ["5", "517", "6", "262"] {
            assert!(is_transient_sqlite_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "11"] {
            assert!(!is_transient_sqlite_code(code), "{code}");
        }
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        assert!(
            StoreError::Database(sqlx::Error::Protocol("unexpected eof".into())).is_transient()
        );
        assert!(!StoreError::Corrupt("bad json".into()).is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
    }
}
