//! IoT policies and their versions: create, read, list, add versions (at most five), choose the
//! default, delete under AWS's rules. It does not parse or evaluate documents (`iot-policy` does,
//! before they reach the store) and does not attach policies (see `principals.rs`).

use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::{ResourceKind, SqlContext, StoreError};
use crate::page::{Page, PageRequest};
use crate::transaction::Tx;

/// AWS keeps at most five versions of a policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// A policy with its default version's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub default_version: i64,
    pub document: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Grows by one on every change (`generationId`).
    pub generation: i64,
}

/// One version of a policy. Version ids start at 1 and are never reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub policy_name: String,
    pub version: i64,
    pub document: String,
    pub is_default: bool,
    pub created_ms: i64,
}

const POLICY_SELECT: &str = "SELECT p.name, p.default_version, v.document, p.created_ms, \
     p.modified_ms, p.generation FROM policies p JOIN policy_versions v \
     ON v.policy_name = p.name AND v.version = p.default_version";

impl Store {
    /// CreatePolicy: version 1, the default. `AlreadyExists` when the name is taken.
    pub fn create_policy(
        &mut self,
        name: &str,
        document: &str,
        now_unix_ms: i64,
    ) -> Result<Policy, StoreError> {
        self.write("create policy", |tx| {
            create_policy(tx, name, document, now_unix_ms)
        })
    }

    /// GetPolicy: the policy with its default document, or `None`.
    pub fn policy(&self, name: &str) -> Result<Option<Policy>, StoreError> {
        read_policy(&self.conn, &self.label, name)
    }

    /// ListPolicies, sorted by name.
    pub fn list_policies(&self, page: &PageRequest) -> Result<Page<Policy>, StoreError> {
        let (dir, cmp) = page.sql_order();
        let sql = format!(
            "{POLICY_SELECT} WHERE (?1 IS NULL OR p.name {cmp} ?1) ORDER BY p.name {dir} LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql).ctx(&self.label, "list policies")?;
        let rows = stmt
            .query_map(params![page.token, page.probe_limit()], policy_row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list policies")?;
        Ok(Page::from_probe(rows, page, |p| p.name.clone()))
    }

    /// CreatePolicyVersion. `VersionsLimitExceeded` when five versions exist.
    pub fn create_policy_version(
        &mut self,
        name: &str,
        document: &str,
        set_as_default: bool,
        now_unix_ms: i64,
    ) -> Result<PolicyVersion, StoreError> {
        self.write("create policy version", |tx| {
            let label = tx.label();
            let (last, count): (i64, i64) = tx
                .query_row(
                    "SELECT p.last_version, (SELECT count(*) FROM policy_versions v \
                     WHERE v.policy_name = p.name) FROM policies p WHERE p.name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .ctx(label, "read policy versions")?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Policy, name))?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_POLICY_VERSIONS {
                return Err(StoreError::VersionsLimitExceeded {
                    policy: name.to_owned(),
                    limit: MAX_POLICY_VERSIONS,
                });
            }
            let version = last.saturating_add(1);
            tx.execute(
                "INSERT INTO policy_versions (policy_name, version, document, created_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, version, document, now_unix_ms],
            )
            .ctx(label, "insert policy version")?;
            tx.execute(
                "UPDATE policies SET last_version = ?2, modified_ms = ?3, \
                 generation = generation + 1, \
                 default_version = CASE WHEN ?4 THEN ?2 ELSE default_version END WHERE name = ?1",
                params![name, version, now_unix_ms, set_as_default],
            )
            .ctx(label, "update policy")?;
            Ok(PolicyVersion {
                policy_name: name.to_owned(),
                version,
                document: document.to_owned(),
                is_default: set_as_default,
                created_ms: now_unix_ms,
            })
        })
    }

    /// GetPolicyVersion: the version, or `None` (also when the policy does not exist).
    pub fn policy_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        self.conn
            .query_row(
                "SELECT v.policy_name, v.version, v.document, v.version = p.default_version, \
                 v.created_ms FROM policy_versions v JOIN policies p ON p.name = v.policy_name \
                 WHERE v.policy_name = ?1 AND v.version = ?2",
                params![name, version],
                version_row,
            )
            .optional()
            .ctx(&self.label, "read policy version")
    }

    /// ListPolicyVersions, newest first (at most five, so unpaged).
    pub fn list_policy_versions(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
        if self.policy(name)?.is_none() {
            return Err(StoreError::not_found(ResourceKind::Policy, name));
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT v.policy_name, v.version, v.document, v.version = p.default_version, \
                 v.created_ms FROM policy_versions v JOIN policies p ON p.name = v.policy_name \
                 WHERE v.policy_name = ?1 ORDER BY v.version DESC",
            )
            .ctx(&self.label, "list policy versions")?;
        stmt.query_map([name], version_row)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .ctx(&self.label, "list policy versions")
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(
        &mut self,
        name: &str,
        version: i64,
        now_unix_ms: i64,
    ) -> Result<(), StoreError> {
        self.write("set default policy version", |tx| {
            let label = tx.label();
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM policy_versions \
                     WHERE policy_name = ?1 AND version = ?2)",
                    params![name, version],
                    |r| r.get(0),
                )
                .ctx(label, "read policy version")?;
            if !exists {
                return Err(StoreError::not_found(
                    ResourceKind::PolicyVersion,
                    format!("{name} version {version}"),
                ));
            }
            tx.execute(
                "UPDATE policies SET default_version = ?2, modified_ms = ?3, \
                 generation = generation + 1 WHERE name = ?1",
                params![name, version, now_unix_ms],
            )
            .ctx(label, "set default policy version")?;
            Ok(())
        })
    }

    /// DeletePolicyVersion: the default version cannot be deleted (DeleteConflict).
    pub fn delete_policy_version(&mut self, name: &str, version: i64) -> Result<(), StoreError> {
        self.write("delete policy version", |tx| {
            let label = tx.label();
            let default: i64 = tx
                .query_row(
                    "SELECT default_version FROM policies WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .ctx(label, "read policy")?
                .ok_or_else(|| StoreError::not_found(ResourceKind::Policy, name))?;
            let id = format!("{name} version {version}");
            if default == version {
                return Err(StoreError::DeleteConflict {
                    kind: ResourceKind::PolicyVersion,
                    id,
                    reason: "it is the default version; make another version the default first"
                        .into(),
                });
            }
            let n = tx
                .execute(
                    "DELETE FROM policy_versions WHERE policy_name = ?1 AND version = ?2",
                    params![name, version],
                )
                .ctx(label, "delete policy version")?;
            if n == 0 {
                return Err(StoreError::not_found(ResourceKind::PolicyVersion, id));
            }
            Ok(())
        })
    }

    /// DeletePolicy: refused while attached to any target or while versions other than the
    /// default exist (both DeleteConflict).
    pub fn delete_policy(&mut self, name: &str) -> Result<(), StoreError> {
        self.write("delete policy", |tx| {
            let label = tx.label();
            if read_policy(tx, label, name)?.is_none() {
                return Err(StoreError::not_found(ResourceKind::Policy, name));
            }
            let (targets, versions): (i64, i64) = tx
                .query_row(
                    "SELECT (SELECT count(*) FROM policy_targets WHERE policy_name = ?1), \
                            (SELECT count(*) FROM policy_versions WHERE policy_name = ?1)",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx(label, "count policy references")?;
            if targets > 0 {
                return Err(StoreError::DeleteConflict {
                    kind: ResourceKind::Policy,
                    id: name.to_owned(),
                    reason: format!("it is attached to {targets} target(s); detach it first"),
                });
            }
            if versions > 1 {
                return Err(StoreError::DeleteConflict {
                    kind: ResourceKind::Policy,
                    id: name.to_owned(),
                    reason: format!(
                        "it has {} version(s) besides the default; delete them first",
                        versions.saturating_sub(1)
                    ),
                });
            }
            tx.execute("DELETE FROM policies WHERE name = ?1", [name])
                .ctx(label, "delete policy")?;
            Ok(())
        })
    }
}

/// CreatePolicy inside an open transaction.
pub(crate) fn create_policy(
    tx: &Tx<'_>,
    name: &str,
    document: &str,
    now_unix_ms: i64,
) -> Result<Policy, StoreError> {
    let label = tx.label();
    if read_policy(tx, label, name)?.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: ResourceKind::Policy,
            id: name.to_owned(),
        });
    }
    tx.execute(
        "INSERT INTO policies (name, default_version, last_version, created_ms, \
                 modified_ms, generation) VALUES (?1, 1, 1, ?2, ?2, 1)",
        params![name, now_unix_ms],
    )
    .ctx(label, "insert policy")?;
    tx.execute(
        "INSERT INTO policy_versions (policy_name, version, document, created_ms) \
                 VALUES (?1, 1, ?2, ?3)",
        params![name, document, now_unix_ms],
    )
    .ctx(label, "insert policy version")?;
    Ok(Policy {
        name: name.to_owned(),
        default_version: 1,
        document: document.to_owned(),
        created_ms: now_unix_ms,
        modified_ms: now_unix_ms,
        generation: 1,
    })
}

pub(crate) fn read_policy(
    conn: &rusqlite::Connection,
    label: &str,
    name: &str,
) -> Result<Option<Policy>, StoreError> {
    conn.query_row(
        &format!("{POLICY_SELECT} WHERE p.name = ?1"),
        [name],
        policy_row,
    )
    .optional()
    .ctx(label, "read policy")
}

fn policy_row(r: &Row<'_>) -> rusqlite::Result<Policy> {
    Ok(Policy {
        name: r.get(0)?,
        default_version: r.get(1)?,
        document: r.get(2)?,
        created_ms: r.get(3)?,
        modified_ms: r.get(4)?,
        generation: r.get(5)?,
    })
}

fn version_row(r: &Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        policy_name: r.get(0)?,
        version: r.get(1)?,
        document: r.get(2)?,
        is_default: r.get(3)?,
        created_ms: r.get(4)?,
    })
}
