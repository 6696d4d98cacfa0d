//! The store's one error type: database failures that name the file and say what to do, and the
//! AWS IoT registry rules as typed variants. It does not map to HTTP statuses or AWS exception
//! names; the control plane does that at its edge.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The kind of registry record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Thing,
    Certificate,
    CaCertificate,
    Policy,
    PolicyVersion,
    Session,
    Retained,
    ThingGroup,
    ThingType,
    ProvisioningTemplate,
    Authorizer,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Thing => "thing",
            ResourceKind::Certificate => "certificate",
            ResourceKind::CaCertificate => "CA certificate",
            ResourceKind::Policy => "policy",
            ResourceKind::PolicyVersion => "policy version",
            ResourceKind::Session => "session",
            ResourceKind::Retained => "retained message",
            ResourceKind::ThingGroup => "thing group",
            ResourceKind::ThingType => "thing type",
            ResourceKind::ProvisioningTemplate => "provisioning template",
            ResourceKind::Authorizer => "authorizer",
        })
    }
}

/// Everything the store can refuse or fail at.
///
/// Registry variants carry ids, not ARNs: the store does not know the account and region; the
/// control plane builds `resourceArn` from the id. The error is `Clone` because a failed group
/// commit reports the same error to every batch in the group.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or configured (permissions, missing directory, not SQLite).
    #[error(
        "cannot open database {path}: {source}; check that the directory exists, is writable \
         and that the file is a tether database, or use another --data-dir"
    )]
    Open {
        path: String,
        source: Arc<rusqlite::Error>,
    },
    /// The file is damaged (a truncated or overwritten page, found at open or by SQLite's
    /// quick check). The file is left exactly as it is: nothing starts on it, and nothing
    /// starts empty in its place.
    #[error(
        "database {path} is damaged ({problem}); tether will not start on it and has left it \
         untouched: restore it from a backup, or move it aside (e.g. mv {path} {path}.damaged) \
         to start with an empty registry, or use another --data-dir"
    )]
    Damaged { path: String, problem: String },
    /// The file was written by a newer tether.
    #[error(
        "database {path} is from a newer tether (schema {found}, this build knows {known}): \
         upgrade tether or use another --data-dir"
    )]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    /// A schema migration failed; its transaction was rolled back.
    #[error(
        "database {path}: upgrading the schema from version {from} to {to} failed: {source}; \
         the file is unchanged at version {from}; report this, or use another --data-dir"
    )]
    Migration {
        path: String,
        from: i64,
        to: i64,
        source: Arc<rusqlite::Error>,
    },
    /// An SQLite call failed after the database was open (disk full, I/O error, lock timeout).
    #[error(
        "database {path}: {context} failed: {source}; check free disk space and file permissions"
    )]
    Sqlite {
        path: String,
        /// The operation, e.g. `insert certificate` or `commit register certificate`.
        context: Cow<'static, str>,
        source: Arc<rusqlite::Error>,
    },
    /// A probe for free space beside the database could not write (`WriteOp::Probe`).
    #[error(
        "database {path}: its filesystem has no room (a probe write failed: {reason}); free \
         space there"
    )]
    NoSpace { path: String, reason: String },
    /// A stored value cannot be read back (edited by hand, or a bug that wrote it).
    #[error(
        "database {path}: {record} holds an unreadable value ({detail}); fix or delete that row with sqlite3"
    )]
    Corrupt {
        path: String,
        record: String,
        detail: String,
    },
    /// Create of something that exists (AWS `ResourceAlreadyExistsException`).
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: ResourceKind, id: String },
    /// The record does not exist (AWS `ResourceNotFoundException`).
    #[error("{kind} {id} does not exist")]
    NotFound { kind: ResourceKind, id: String },
    /// `expectedVersion` did not match (AWS `VersionConflictException`).
    #[error("{kind} {id} is at version {actual}, the request expected version {expected}")]
    VersionConflict {
        kind: ResourceKind,
        id: String,
        expected: i64,
        actual: i64,
    },
    /// The operation is not allowed in the certificate's status (AWS `CertificateStateException`).
    #[error("{kind} {id} is {status}: {rule}")]
    CertificateState {
        kind: ResourceKind,
        id: String,
        status: String,
        rule: &'static str,
    },
    /// Delete refused because something still refers to the record (AWS `DeleteConflictException`).
    #[error("cannot delete {kind} {id}: {reason}")]
    DeleteConflict {
        kind: ResourceKind,
        id: String,
        reason: String,
    },
    /// A sixth policy version (AWS `VersionsLimitExceededException`).
    #[error(
        "policy {policy} already has {limit} versions, the maximum; delete a non-default version first"
    )]
    VersionsLimitExceeded { policy: String, limit: usize },
    /// A registry limit AWS enforces would be exceeded (AWS `LimitExceededException`).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The request itself is not acceptable (AWS `InvalidRequestException`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A pagination token this store did not hand out.
    #[error("invalid pagination token {token:?}: pass back exactly the token of the previous page")]
    InvalidToken { token: String },
    /// The writer thread could not be started.
    #[error(
        "database {path}: cannot start the writer thread ({reason}); the system is short of threads or memory"
    )]
    WriterStart { path: String, reason: String },
    /// The group-commit writer has shut down; nothing of the batch was written.
    #[error("database {path}: the writer thread has stopped; the batch was not written")]
    WriterClosed { path: String },
}

impl StoreError {
    /// Whether SQLite failed because the filesystem holding the database is full
    /// (`SQLITE_FULL`: the file or its WAL could not grow). Nothing of the failed transaction
    /// was written; the same operation can succeed once space is freed.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } | StoreError::Migration { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            StoreError::NoSpace { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn sqlite(
        path: &str,
        context: impl Into<Cow<'static, str>>,
        source: rusqlite::Error,
    ) -> Self {
        StoreError::Sqlite {
            path: path.to_owned(),
            context: context.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn corrupt(
        path: &str,
        record: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        StoreError::Corrupt {
            path: path.to_owned(),
            record: record.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn not_found(kind: ResourceKind, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            kind,
            id: id.into(),
        }
    }
}

/// Adds the database path and the operation to a raw rusqlite result.
pub(crate) trait SqlContext<T> {
    fn ctx(self, path: &str, context: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, path: &str, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::sqlite(path, context, e))
    }
}

/// True when `e` is a foreign-key violation (a row refers to a parent that does not exist).
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error()
        .is_some_and(|f| f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_message_says_what_to_do() {
        let e = StoreError::NewerSchema {
            path: "/x/tether.db".into(),
            found: 7,
            known: 3,
        };
        assert_eq!(
            e.to_string(),
            "database /x/tether.db is from a newer tether (schema 7, this build knows 3): \
             upgrade tether or use another --data-dir"
        );
    }

    #[test]
    fn registry_errors_name_the_record() {
        let e = StoreError::DeleteConflict {
            kind: ResourceKind::Certificate,
            id: "ab".into(),
            reason: "things are attached".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot delete certificate ab: things are attached"
        );
    }
}
