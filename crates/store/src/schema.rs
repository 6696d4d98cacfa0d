//! Opening a connection: pragmas (WAL, durability, foreign keys, busy timeout) and schema
//! migrations keyed by `PRAGMA user_version`. It does not read or write records.
//!
//! # Durability: why `synchronous=FULL`
//!
//! In WAL mode SQLite offers two useful levels. `NORMAL` writes every commit into the WAL file
//! before `COMMIT` returns but only fsyncs at checkpoints: a commit survives the process being
//! killed (`kill -9`, a panic, the OOM killer) because the bytes are in the kernel's page cache,
//! but the last commits can be lost if the machine loses power or the kernel crashes. `FULL`
//! additionally fsyncs the WAL on every commit, so a commit also survives power loss.
//!
//! tether acknowledges a QoS 1 PUBLISH of a persistent session only after it is committed
//! (ARCHITECTURE.md). An acknowledgement is a promise to the device, which then deletes its own
//! copy; a local stand-in for AWS IoT should keep that promise across a power cut too. The cost of
//! `FULL` is one fsync per commit, and the [`crate::Writer`] amortises it by committing every
//! waiting batch in one transaction, so the fsync rate stays bounded while throughput grows
//! with load. [`Durability::PowerLoss`] (`FULL`) is therefore the default;
//! [`Durability::ProcessCrash`] (`NORMAL`) exists for benchmarks and throwaway data directories
//! and still keeps every acknowledged message across `kill -9`.

use std::time::Duration;

use rusqlite::Connection;

use crate::error::{SqlContext, StoreError};

/// The schema version this build writes. Older files are migrated forward on open; newer files
/// are refused.
pub const SCHEMA_VERSION: i64 = 11;

/// How long a connection waits for the other connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a committed transaction survives. See the module documentation for the trade-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: commits survive process crashes and power loss (the default).
    #[default]
    PowerLoss,
    /// `synchronous=NORMAL`: commits survive process crashes; the last ones may be lost on power
    /// loss or an operating-system crash.
    ProcessCrash,
}

impl Durability {
    fn pragma_value(self) -> &'static str {
        match self {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        }
    }
}

/// Migration `n` (1-based) brings a database from `user_version = n - 1` to `n`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    V1_REGISTRY,
    V2_BROKER,
    V3_REGISTRY_VERSION,
    V4_SHADOWS,
    V5_EVENT_CONFIGURATIONS,
    V6_JOBS,
    V7_THING_GROUPS_AND_TYPES,
    V8_JOB_THING_GROUPS,
    V9_PROVISIONING,
    V10_AUTHORIZERS,
    V11_TOPIC_RULES,
];

/// Version 11: topic rules (the TopicRulePayload as accepted, its FROM filter for ListTopicRules'
/// `topic` filter, and whether it is disabled) and topic rule destinations (HTTP confirmation
/// URLs with their status and confirmation token).
const V11_TOPIC_RULES: &str = "
CREATE TABLE topic_rules (
    name TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    topic_pattern TEXT,
    disabled INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE topic_rule_destinations (
    arn TEXT PRIMARY KEY,
    confirmation_url TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    status_reason TEXT,
    token TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 8: the thing groups each job targets, so that ListJobs can filter by group. Jobs
/// stored before had no group targets (they were refused), so nothing is filled in.
const V8_JOB_THING_GROUPS: &str = "
CREATE TABLE job_thing_groups (
    thing_group TEXT NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
    PRIMARY KEY (thing_group, job_id)
) WITHOUT ROWID;
CREATE INDEX job_thing_groups_by_job ON job_thing_groups(job_id);
";

/// Version 9: fleet provisioning. Provisioning templates with their versions (at most five, as
/// AWS keeps, one of them the default), the temporary claim certificates CreateProvisioningClaim
/// issues (kept apart from `certificates` because AWS does not list them among the account's
/// certificates; the broker's connection lookup reads them too), and the certificate ownership
/// tokens the MQTT API hands out, each bound to one certificate, with the times the services
/// worker's timers fire at (`expires_ms`, indexed). Claims bump `registry_version` like
/// certificates, so a deleted claim reaches the broker's cache.
const V9_PROVISIONING: &str = "
CREATE TABLE provisioning_templates (
    name                  TEXT PRIMARY KEY NOT NULL,
    template_id           TEXT NOT NULL UNIQUE,
    description           TEXT,
    template_type         TEXT NOT NULL,
    enabled               INTEGER NOT NULL,
    provisioning_role_arn TEXT NOT NULL,
    pre_provisioning_hook TEXT,
    default_version       INTEGER NOT NULL,
    last_version          INTEGER NOT NULL,
    created_ms            INTEGER NOT NULL,
    modified_ms           INTEGER NOT NULL
);
CREATE TABLE provisioning_template_versions (
    template_name TEXT NOT NULL REFERENCES provisioning_templates(name) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    PRIMARY KEY (template_name, version)
) WITHOUT ROWID;
CREATE TABLE provisioning_claims (
    certificate_id  TEXT PRIMARY KEY NOT NULL,
    template_name   TEXT NOT NULL,
    pem             TEXT NOT NULL,
    policy_document TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER NOT NULL
);
CREATE INDEX provisioning_claims_by_expiry ON provisioning_claims(expires_ms);
CREATE TABLE ownership_tokens (
    token          TEXT PRIMARY KEY NOT NULL,
    certificate_id TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL
);
CREATE INDEX ownership_tokens_by_expiry ON ownership_tokens(expires_ms);
CREATE INDEX ownership_tokens_by_certificate ON ownership_tokens(certificate_id);
CREATE TRIGGER provisioning_claims_insert_bumps_registry AFTER INSERT ON provisioning_claims
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER provisioning_claims_delete_bumps_registry AFTER DELETE ON provisioning_claims
BEGIN UPDATE registry_version SET version = version + 1; END;
";

/// Version 10: custom authorizers (CreateAuthorizer and the account's default authorizer). The
/// token signing keys are a JSON object of key name to PEM text. Authorizers are not part of
/// the registry that live connections are judged by, so they do not bump `registry_version`.
const V10_AUTHORIZERS: &str = "
CREATE TABLE authorizers (
    name                      TEXT PRIMARY KEY NOT NULL,
    function_arn              TEXT NOT NULL,
    token_key_name            TEXT,
    token_signing_public_keys TEXT NOT NULL,
    status                    TEXT NOT NULL,
    signing_disabled          INTEGER NOT NULL,
    enable_caching_for_http   INTEGER NOT NULL,
    is_default                INTEGER NOT NULL,
    created_ms                INTEGER NOT NULL,
    modified_ms               INTEGER NOT NULL
);
";

/// Version 7: thing types and static thing groups as records of their own, group membership,
/// and policy attachments resolved to thing groups (`policy_targets.thing_group`, like
/// `certificate_id` for certificate ARNs) so that a group's policies reach the broker and go
/// with the group when it is deleted. Every change to the new tables bumps `registry_version`,
/// as changes to things and attachments do.
///
/// Thing types used to be only a name on a thing. Each name in use becomes a type record (not
/// deprecated, created when its first thing was, no description or searchable attributes), so
/// that CreateThing and UpdateThing, which now require the type to exist, keep working for those
/// things. The store draws no randomness, so these types get ids derived from their order:
/// `00000000-0000-4000-8000-00000000000N`.
const V7_THING_GROUPS_AND_TYPES: &str = "
CREATE TABLE thing_types (
    name                  TEXT PRIMARY KEY NOT NULL,
    type_id               TEXT NOT NULL UNIQUE,
    description           TEXT,
    searchable_attributes TEXT NOT NULL,
    mqtt5_configuration   TEXT,
    deprecated            INTEGER NOT NULL,
    deprecated_ms         INTEGER,
    created_ms            INTEGER NOT NULL
);
INSERT INTO thing_types (name, type_id, description, searchable_attributes, mqtt5_configuration,
                         deprecated, deprecated_ms, created_ms)
SELECT thing_type,
       '00000000-0000-4000-8000-' || printf('%012x', row_number() OVER (ORDER BY thing_type)),
       NULL, '[]', NULL, 0, NULL, min(created_ms)
FROM things WHERE thing_type IS NOT NULL GROUP BY thing_type;

CREATE TABLE thing_groups (
    name        TEXT PRIMARY KEY NOT NULL,
    group_id    TEXT NOT NULL UNIQUE,
    parent      TEXT REFERENCES thing_groups(name),
    description TEXT,
    attributes  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE INDEX thing_groups_by_parent ON thing_groups(parent, name);

CREATE TABLE thing_group_members (
    group_name    TEXT NOT NULL REFERENCES thing_groups(name) ON DELETE CASCADE,
    thing_name    TEXT NOT NULL REFERENCES things(name) ON DELETE CASCADE,
    membership_id TEXT NOT NULL,
    added_ms      INTEGER NOT NULL,
    PRIMARY KEY (group_name, thing_name)
) WITHOUT ROWID;
CREATE INDEX thing_group_members_by_thing ON thing_group_members(thing_name, group_name);

ALTER TABLE policy_targets
    ADD COLUMN thing_group TEXT REFERENCES thing_groups(name) ON DELETE CASCADE;
CREATE INDEX policy_targets_by_thing_group ON policy_targets(thing_group, policy_name);

CREATE TRIGGER thing_types_insert_bumps_registry AFTER INSERT ON thing_types
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_types_update_bumps_registry AFTER UPDATE ON thing_types
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_types_delete_bumps_registry AFTER DELETE ON thing_types
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_groups_insert_bumps_registry AFTER INSERT ON thing_groups
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_groups_update_bumps_registry AFTER UPDATE ON thing_groups
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_groups_delete_bumps_registry AFTER DELETE ON thing_groups
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_group_members_insert_bumps_registry AFTER INSERT ON thing_group_members
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_group_members_update_bumps_registry AFTER UPDATE ON thing_group_members
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_group_members_delete_bumps_registry AFTER DELETE ON thing_group_members
BEGIN UPDATE registry_version SET version = version + 1; END;
";

/// Version 5: which registry event types the account publishes (UpdateEventConfigurations);
/// a type without a row is off, as in AWS.
const V5_EVENT_CONFIGURATIONS: &str = "
CREATE TABLE event_configurations (
    event_type TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 6: AWS IoT Jobs. A job's listing columns and its timer (`deadline_ms`, a rollout
/// step) beside a JSON body the store does not read; an execution per (job, thing, number) with
/// its two timers and the earlier of them (`deadline_ms`, indexed, so the services worker finds
/// the next timeout without a scan). Executions of a thing are read in queue order. No foreign
/// key to `things`: an execution outlives a deleted thing, as a shadow does. Job templates are
/// an id, a creation time and a JSON body.
const V6_JOBS: &str = "
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    target_selection TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    deadline_ms INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX jobs_by_created ON jobs(created_ms, job_id);
CREATE INDEX jobs_by_deadline ON jobs(deadline_ms) WHERE deadline_ms IS NOT NULL;
CREATE TABLE job_executions (
    job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
    thing TEXT NOT NULL,
    execution_number INTEGER NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    queued_ms INTEGER NOT NULL,
    started_ms INTEGER,
    updated_ms INTEGER NOT NULL,
    status_details TEXT NOT NULL,
    step_deadline_ms INTEGER,
    progress_deadline_ms INTEGER,
    force_canceled INTEGER NOT NULL,
    deadline_ms INTEGER,
    PRIMARY KEY (job_id, thing, execution_number)
) WITHOUT ROWID;
CREATE INDEX job_executions_by_thing ON job_executions(thing, queued_ms, job_id);
CREATE INDEX job_executions_by_deadline ON job_executions(deadline_ms)
    WHERE deadline_ms IS NOT NULL;
CREATE TABLE job_templates (
    template_id TEXT PRIMARY KEY NOT NULL,
    created_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
";

/// Version 4: Device Shadows, keyed by thing name and shadow name (`''` for the classic
/// shadow). No foreign key to `things`: as in AWS, a shadow needs no registered thing and
/// outlives its thing. A deleted shadow stays as a tombstone (`document` NULL) so its version
/// continues when it is recreated within 48 hours.
const V4_SHADOWS: &str = "
CREATE TABLE shadows (
    thing TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT,
    version INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (thing, name)
) WITHOUT ROWID;
";

/// Version 3: a counter that every registry change bumps (triggers), so the broker can notice
/// certificate, policy and attachment changes — made by any process — without re-reading the
/// registry after each of its own broker writes.
const V3_REGISTRY_VERSION: &str = "
CREATE TABLE registry_version (version INTEGER NOT NULL);
INSERT INTO registry_version (version) VALUES (0);
CREATE TRIGGER things_insert_bumps_registry AFTER INSERT ON things
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER things_update_bumps_registry AFTER UPDATE ON things
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER things_delete_bumps_registry AFTER DELETE ON things
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER certificates_insert_bumps_registry AFTER INSERT ON certificates
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER certificates_update_bumps_registry AFTER UPDATE ON certificates
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER certificates_delete_bumps_registry AFTER DELETE ON certificates
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policies_insert_bumps_registry AFTER INSERT ON policies
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policies_update_bumps_registry AFTER UPDATE ON policies
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policies_delete_bumps_registry AFTER DELETE ON policies
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_versions_insert_bumps_registry AFTER INSERT ON policy_versions
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_versions_update_bumps_registry AFTER UPDATE ON policy_versions
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_versions_delete_bumps_registry AFTER DELETE ON policy_versions
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_targets_insert_bumps_registry AFTER INSERT ON policy_targets
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_targets_update_bumps_registry AFTER UPDATE ON policy_targets
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER policy_targets_delete_bumps_registry AFTER DELETE ON policy_targets
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_principals_insert_bumps_registry AFTER INSERT ON thing_principals
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_principals_update_bumps_registry AFTER UPDATE ON thing_principals
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER thing_principals_delete_bumps_registry AFTER DELETE ON thing_principals
BEGIN UPDATE registry_version SET version = version + 1; END;
";

/// Version 1: the AWS IoT registry.
const V1_REGISTRY: &str = "
CREATE TABLE things (
    name        TEXT PRIMARY KEY NOT NULL,
    thing_id    TEXT NOT NULL UNIQUE,
    thing_type  TEXT,
    attributes  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE INDEX things_by_type ON things(thing_type, name);

CREATE TABLE ca_certificates (
    id                  TEXT PRIMARY KEY NOT NULL,
    pem                 TEXT NOT NULL,
    status              TEXT NOT NULL,
    auto_registration   INTEGER NOT NULL,
    mode                TEXT NOT NULL,
    owned_by            TEXT NOT NULL,
    registration_config TEXT,
    not_before_ms       INTEGER NOT NULL,
    not_after_ms        INTEGER NOT NULL,
    created_ms          INTEGER NOT NULL,
    modified_ms         INTEGER NOT NULL,
    generation          INTEGER NOT NULL
);
CREATE INDEX ca_certificates_by_created ON ca_certificates(created_ms, id);

CREATE TABLE certificates (
    id                TEXT PRIMARY KEY NOT NULL,
    pem               TEXT NOT NULL,
    status            TEXT NOT NULL,
    ca_certificate_id TEXT,
    mode              TEXT NOT NULL,
    owned_by          TEXT NOT NULL,
    previous_owned_by TEXT,
    not_before_ms     INTEGER NOT NULL,
    not_after_ms      INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    modified_ms       INTEGER NOT NULL,
    generation        INTEGER NOT NULL
);
CREATE INDEX certificates_by_created ON certificates(created_ms, id);
CREATE INDEX certificates_by_ca ON certificates(ca_certificate_id, created_ms, id);

CREATE TABLE policies (
    name            TEXT PRIMARY KEY NOT NULL,
    default_version INTEGER NOT NULL,
    last_version    INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    modified_ms     INTEGER NOT NULL,
    generation      INTEGER NOT NULL
);

CREATE TABLE policy_versions (
    policy_name TEXT NOT NULL REFERENCES policies(name) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (policy_name, version)
);

CREATE TABLE policy_targets (
    policy_name    TEXT NOT NULL REFERENCES policies(name),
    target         TEXT NOT NULL,
    certificate_id TEXT REFERENCES certificates(id) ON DELETE CASCADE,
    PRIMARY KEY (policy_name, target)
);
CREATE INDEX policy_targets_by_target ON policy_targets(target, policy_name);
CREATE INDEX policy_targets_by_certificate ON policy_targets(certificate_id);

CREATE TABLE thing_principals (
    thing_name     TEXT NOT NULL REFERENCES things(name),
    principal      TEXT NOT NULL,
    certificate_id TEXT REFERENCES certificates(id),
    exclusive      INTEGER NOT NULL,
    PRIMARY KEY (thing_name, principal)
);
CREATE INDEX thing_principals_by_principal ON thing_principals(principal, thing_name);
CREATE INDEX thing_principals_by_certificate ON thing_principals(certificate_id);
";

/// Version 2: broker durability (persistent sessions, subscriptions, queues, retained).
const V2_BROKER: &str = "
CREATE TABLE sessions (
    client_id         TEXT PRIMARY KEY NOT NULL,
    protocol_level    INTEGER NOT NULL,
    expiry_interval_s INTEGER NOT NULL,
    disconnected_ms   INTEGER,
    will              BLOB
);

CREATE TABLE subscriptions (
    client_id       TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
    filter          TEXT NOT NULL,
    options         INTEGER NOT NULL,
    subscription_id INTEGER,
    PRIMARY KEY (client_id, filter)
);

CREATE TABLE queued_messages (
    client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    message   BLOB NOT NULL,
    packet_id INTEGER,
    PRIMARY KEY (client_id, seq)
);

CREATE TABLE retained_messages (
    topic      TEXT PRIMARY KEY NOT NULL,
    message    BLOB NOT NULL,
    expires_ms INTEGER,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX retained_by_expiry ON retained_messages(expires_ms) WHERE expires_ms IS NOT NULL;
";

/// Opens `path` (`None` = a private in-memory database), applies the pragmas and brings the
/// schema to [`SCHEMA_VERSION`].
pub(crate) fn open_connection(
    path: Option<&std::path::Path>,
    label: &str,
    durability: Durability,
) -> Result<Connection, StoreError> {
    let open_err = |e: rusqlite::Error| {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) {
            return StoreError::Damaged {
                path: label.to_owned(),
                problem: e.to_string(),
            };
        }
        StoreError::Open {
            path: label.to_owned(),
            source: std::sync::Arc::new(e),
        }
    };
    let mut conn = match path {
        Some(p) => Connection::open(p),
        None => Connection::open_in_memory(),
    }
    .map_err(open_err)?;
    configure(&conn, durability).map_err(open_err)?;
    migrate_to(&mut conn, label, SCHEMA_VERSION)?;
    // Write transactions take the write lock when they begin. A DEFERRED transaction that reads
    // first and then writes fails at once with SQLITE_BUSY_SNAPSHOT if the other connection
    // committed in between (busy_timeout cannot help there); IMMEDIATE waits for the lock instead.
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    Ok(conn)
}

/// SQLite's quick check of the whole file (every page and record, not the indexes' contents):
/// a file damaged in pages that opening does not read (a disk fault, a copy cut short, bytes
/// overwritten) is refused at start, with the file left as it is, rather than failing later
/// in the middle of a request or losing the rows it held. It reads the whole file once, so
/// it costs start-up time in proportion to the database's size.
pub(crate) fn quick_check(conn: &Connection, label: &str) -> Result<(), StoreError> {
    let damaged = |problem: String| StoreError::Damaged {
        path: label.to_owned(),
        problem,
    };
    let mut statement = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| damaged(e.to_string()))?;
    let problems: Vec<String> = statement
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(|e| damaged(e.to_string()))?;
    match problems.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(damaged(problems.join("; "))),
    }
}

/// Per-connection settings. `journal_mode=WAL` is stored in the file; the others are not and
/// must be set on every connection.
fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // In-memory databases answer "memory"; that is fine, they have no file to protect.
    let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", durability.pragma_value())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The schema version stored in the file.
pub(crate) fn user_version(conn: &Connection, label: &str) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(label, "reading the schema version")
}

/// Applies migrations until the file is at `target`, each in its own transaction. Refuses files
/// newer than this build.
pub(crate) fn migrate_to(
    conn: &mut Connection,
    label: &str,
    target: i64,
) -> Result<(), StoreError> {
    let mut current = user_version(conn, label)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: label.to_owned(),
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let to = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(1);
        if to <= current || to > target {
            continue;
        }
        let fail = |e| StoreError::Migration {
            path: label.to_owned(),
            from: current,
            to,
            source: std::sync::Arc::new(e),
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", to).map_err(fail)?;
        tx.commit().map_err(fail)?;
        current = to;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_names(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn every_older_version_migrates_to_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        for old in 0..SCHEMA_VERSION {
            let path = dir.path().join(format!("v{old}.db"));
            let label = path.display().to_string();
            {
                let mut conn = Connection::open(&path).unwrap();
                migrate_to(&mut conn, &label, old).unwrap();
                assert_eq!(user_version(&conn, &label).unwrap(), old);
                // A row written at the old version must survive the upgrade.
                if old >= 1 {
                    conn.execute(
                        "INSERT INTO things VALUES ('keep', 'id', NULL, '{}', 1, 0, 0), \
                         ('lamp-1', 'id-1', 'lamp', '{}', 1, 7, 7), \
                         ('lamp-2', 'id-2', 'lamp', '{}', 1, 5, 5)",
                        [],
                    )
                    .unwrap();
                }
            }
            let conn = open_connection(Some(&path), &label, Durability::PowerLoss).unwrap();
            assert_eq!(user_version(&conn, &label).unwrap(), SCHEMA_VERSION);
            let tables = table_names(&conn);
            for t in [
                "things",
                "certificates",
                "sessions",
                "retained_messages",
                "shadows",
                "jobs",
                "job_executions",
                "job_templates",
                "job_thing_groups",
                "provisioning_templates",
                "provisioning_template_versions",
                "provisioning_claims",
                "ownership_tokens",
                "authorizers",
                "topic_rules",
                "topic_rule_destinations",
            ] {
                assert!(
                    tables.iter().any(|n| n == t),
                    "v{old}: {t} missing in {tables:?}"
                );
            }
            if old >= 1 {
                let n: i64 = conn
                    .query_row("SELECT count(*) FROM things WHERE name = 'keep'", [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                assert_eq!(n, 1, "row written at v{old} lost");
            }
            if (1..7).contains(&old) {
                // A type name in use before version 7 became a type record, created with its
                // first thing.
                let lamp: (String, i64) = conn
                    .query_row(
                        "SELECT type_id, created_ms FROM thing_types WHERE name = 'lamp'",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                assert_eq!(lamp, ("00000000-0000-4000-8000-000000000001".to_owned(), 5));
            }
        }
    }

    #[test]
    fn a_newer_file_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let label = path.display().to_string();
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
        let err = open_connection(Some(&path), &label, Durability::PowerLoss).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 5)
        );
        let text = err.to_string();
        assert!(
            text.contains(&label) && text.contains("upgrade tether"),
            "{text}"
        );
    }

    #[test]
    fn pragmas_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let conn = open_connection(Some(&path), "p", Durability::PowerLoss).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
        let conn = open_connection(Some(&path), "p", Durability::ProcessCrash).unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1);
    }

    #[test]
    fn a_file_that_is_not_sqlite_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![0x42u8; 4096]).unwrap();
        let label = path.display().to_string();
        let err = open_connection(Some(&path), &label, Durability::PowerLoss).unwrap_err();
        assert!(err.to_string().contains(&label), "{err}");
    }

    /// A file with `rows` rows of filler beside the schema, closed (so its WAL is folded in).
    fn filled_file(dir: &std::path::Path, rows: i64) -> std::path::PathBuf {
        let path = dir.join("filled.db");
        let conn = open_connection(Some(&path), "filled", Durability::PowerLoss).unwrap();
        conn.execute_batch("CREATE TABLE filler(n INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .unwrap();
        for n in 0..rows {
            conn.execute("INSERT INTO filler VALUES (?1, zeroblob(300))", [n])
                .unwrap();
        }
        drop(conn);
        path
    }

    #[test]
    fn a_file_damaged_where_opening_does_not_read_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled_file(dir.path(), 2_000);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 200_000, "{} bytes", bytes.len());
        // Pages in the middle: filler, which opening and migrating never read.
        let middle = bytes.len() / 2 / 4096 * 4096;
        for (i, byte) in bytes[middle..middle + 8192].iter_mut().enumerate() {
            *byte = u8::try_from(i % 251).unwrap();
        }
        std::fs::write(&path, &bytes).unwrap();
        let label = path.display().to_string();
        let conn = open_connection(Some(&path), &label, Durability::PowerLoss).unwrap();
        let err = quick_check(&conn, &label).unwrap_err();
        drop(conn);
        assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&label) && text.contains("untouched") && text.contains(".damaged"),
            "{text}"
        );
        let err = crate::Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is kept as it was"
        );
    }

    #[test]
    fn a_truncated_file_is_refused_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled_file(dir.path(), 2_000);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        let err = crate::Store::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap().len(), bytes.len() / 3);
    }

    #[test]
    fn a_sound_file_passes_the_quick_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = filled_file(dir.path(), 100);
        crate::Store::open(&path).unwrap();
    }
}
