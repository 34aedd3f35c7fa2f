//! Turning sqlx errors into [`quarry_core::Error`] without leaking connection details.

use quarry_core::Error;
use sqlx::error::ErrorKind;

/// What a failed write ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A unique or primary key constraint: the id is taken.
    Unique,
    /// A foreign key constraint: the parent row is missing.
    ForeignKey,
}

/// The constraint `e` violated, if that is why it failed.
pub(crate) fn violation(e: &sqlx::Error) -> Option<Violation> {
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => Some(Violation::Unique),
            ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Maps an error that is not a constraint violation the caller expected.
pub(crate) fn store_error(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::PoolClosed => Error::Unavailable("metadata store".into()),
        // Overload, not a bug: callers answer 503 and clients retry.
        sqlx::Error::PoolTimedOut => {
            Error::Unavailable("metadata store (connection pool busy)".into())
        }
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes once busy_timeout ran out.
        sqlx::Error::Database(db)
            if matches!(
                db.code().as_deref(),
                Some("5" | "6" | "261" | "262" | "517")
            ) =>
        {
            Error::Unavailable("metadata store (database busy)".into())
        }
        // The database's own message names the table or constraint, never the URL.
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => Error::Store(format!("{} (code {code})", db.message())),
            None => Error::Store(db.message().to_owned()),
        },
        // sqlx's Display of the remaining variants describes the failure (I/O, protocol,
        // decoding), not the connection options.
        other => Error::Store(other.to_string()),
    }
}

/// Maps a write error: a unique violation becomes `conflict()`, a foreign key violation
/// `missing_parent()`, anything else a store error.
pub(crate) fn write_error(
    e: sqlx::Error,
    conflict: impl FnOnce() -> Error,
    missing_parent: impl FnOnce() -> Error,
) -> Error {
    match violation(&e) {
        Some(Violation::Unique) => conflict(),
        Some(Violation::ForeignKey) => missing_parent(),
        None => store_error(e),
    }
}

/// A value read back from the database that does not parse.
pub(crate) fn corrupt(what: &str, value: &str) -> Error {
    // Name the column and a short prefix of the value: enough to debug, never a whole row.
    let shown: String = value.chars().take(40).collect();
    Error::Store(format!("stored {what} is invalid: {shown:?}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn closed_and_exhausted_pools_are_unavailable() {
        assert!(matches!(
            store_error(sqlx::Error::PoolClosed),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::PoolTimedOut),
            Error::Unavailable(_)
        ));
    }
}
