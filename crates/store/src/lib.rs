//! SQLite persistence for `tether serve`: the AWS IoT registry (things, thing types, static
//! thing groups and their members, certificates, CA certificates, policies and their
//! attachments), broker durability (persistent sessions,
//! subscriptions, queued and retained messages) with a group-commit [`Writer`], and the
//! services layer's records (Device Shadows, Jobs, provisioning templates, claims and
//! ownership tokens, topic rules and destinations) behind [`ServiceTx`]. This is the only
//! crate that touches the database. It is synchronous (the server runs it on dedicated threads),
//! reads no clock and draws no randomness: callers pass `now_unix_ms` and id material. It does
//! not parse MQTT packets (message blobs are opaque), validate policy documents, or build ARNs.
//!
//! Two connections share one file: a [`Store`] for registry operations and reads, and a
//! [`Writer`] thread for the broker's high-rate writes. WAL mode lets the reader run while the
//! writer commits.

mod authorizers;
mod certificates;
mod connection_auth;
mod error;
mod events;
mod jobs;
mod page;
mod policies;
mod principals;
mod provisioning;
mod retained;
mod rules;
mod schema;
mod service_registry;
mod services;
mod sessions;
mod thing_group_members;
mod thing_groups;
mod thing_search;
mod thing_types;
mod things;
mod transaction;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use authorizers::{AuthorizerRecord, AuthorizerUpdate};
pub use certificates::{
    CaCertificate, CaCertificateStatus, Certificate, CertificateMode, CertificateStatus,
    NewCaCertificate, NewCertificate,
};
pub use connection_auth::{AttachedThing, ConnectionAuth, GroupPolicy};
pub use error::{ResourceKind, StoreError};
pub use events::EventConfigurationRecord;
pub use jobs::{JobFilter, StoredExecution, StoredJob, StoredJobTemplate};
pub use page::{MAX_PAGE_SIZE, Order, Page, PageRequest};
pub use policies::{MAX_POLICY_VERSIONS, Policy, PolicyVersion};
pub use principals::{
    MAX_POLICIES_PER_THING_GROUP, ThingPrincipal, certificate_id_of_principal,
    thing_group_of_target,
};
pub use provisioning::{
    MAX_TEMPLATE_VERSIONS, OwnershipToken, StoredClaim, StoredTemplate, StoredTemplateVersion,
};
pub use retained::RetainedMessage;
pub use rules::{StoredDestination, StoredRule};
pub use schema::{Durability, SCHEMA_VERSION};
pub use services::{ServiceTx, StoredShadow};
pub use sessions::{
    BrokerState, PersistedSession, QueuedMessage, SessionRecord, SubscriptionRecord, WriteOp,
};
pub use thing_group_members::{MAX_GROUPS_PER_THING, Membership, MembershipChanges};
pub use thing_groups::{
    DeletedThingGroup, MAX_CHILD_GROUPS, MAX_HIERARCHY_DEPTH, NewThingGroup, ThingGroup,
    ThingGroupFilter, ThingGroupUpdate,
};
pub use thing_search::ThingSearch;
pub use thing_types::{
    AWS_DELETE_DELAY_MS, MAX_SEARCHABLE_ATTRIBUTES, NewThingType, ThingType, ThingTypeUpdate,
};
pub use things::{AttributeUpdate, NewThing, Thing, ThingFilter, ThingUpdate, thing_id_from_bytes};
pub use writer::{PROBE_BYTES, Writer, WriterHandle, WriterStats};

/// Options for [`Store::open_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pub durability: Durability,
}

/// A connection to the tether database for registry operations and reads.
///
/// Every write method is one transaction (`Store::write` in `transaction.rs`). Registry methods
/// enforce AWS IoT's rules and return them as [`StoreError`] variants.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// The file, `None` for an in-memory database.
    file: Option<PathBuf>,
    /// How the database is named in errors.
    label: String,
    options: StoreOptions,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens (creating if needed) the database file at `path`, migrating its schema forward,
    /// and refuses a damaged file ([`StoreError::Damaged`], the file left as it is).
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let conn = schema::open_connection(Some(path), &label, options.durability)?;
        schema::quick_check(&conn, &label)?;
        Ok(Store {
            conn,
            file: Some(path.to_owned()),
            label,
            options,
        })
    }

    /// A private in-memory database (for tests and `--ephemeral` runs). It cannot have a
    /// [`Writer`], which needs a second connection to the same file.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let label = ":memory:".to_owned();
        let conn = schema::open_connection(None, &label, Durability::PowerLoss)?;
        Ok(Store {
            conn,
            file: None,
            label,
            options: StoreOptions::default(),
        })
    }

    /// The database file, `None` when in memory.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Starts a group-commit [`Writer`] on its own connection to the same file.
    pub fn writer(&self) -> Result<Writer, StoreError> {
        match &self.file {
            Some(path) => Writer::start(path, self.options.durability),
            None => Err(StoreError::InvalidRequest(
                "an in-memory database has no group-commit writer; open a file instead".into(),
            )),
        }
    }
}

/// Serialises an attribute map for storage (a JSON object of strings).
pub(crate) fn attributes_to_json(map: &std::collections::BTreeMap<String, String>) -> String {
    // A map of strings always serialises; fall back to an empty object rather than panic.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

/// Parses a stored attribute map.
pub(crate) fn attributes_from_json(
    label: &str,
    record: &str,
    text: &str,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(label, record, e.to_string()))
}
