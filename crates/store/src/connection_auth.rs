//! The broker's lookup when a device completes the TLS handshake (and whenever the registry
//! changes): the certificate's status, the default versions of the policies attached to it, the
//! things it is attached to and, for each thing, the policies its thing groups pass on, read in
//! one transaction so they are consistent. It does not decide anything: the server checks the
//! status, picks the thing the connection is (the one named like its client id) and has
//! `iot-policy` evaluate the documents. A temporary claim certificate (CreateProvisioningClaim)
//! is found here too, with the policy it carries.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::Store;
use crate::certificates::{CertificateStatus, read_certificate};
use crate::error::{SqlContext, StoreError};
use crate::policies::{Policy, read_policy};
use crate::provisioning::read_claim;
use crate::things::read_thing;
use crate::transaction::Tx;

/// Everything the broker needs to authorize a connection made with one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionAuth {
    pub status: CertificateStatus,
    /// Policies attached to the certificate, each with its default version, sorted by name.
    pub policies: Vec<Policy>,
    /// Things the certificate is attached to, sorted by name.
    pub things: Vec<AttachedThing>,
}

/// A thing attached to the connecting certificate (for `iot:Connection.Thing.*` variables and
/// the policies of its thing groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedThing {
    pub name: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub exclusive: bool,
    /// The policies its thing groups pass on ("policies attached to a parent group are
    /// inherited by its child groups, and by all of the things in the group and in its child
    /// groups", developer guide), in this order: the groups the thing is in by name, each
    /// followed by its ancestors up to the root, and each group's policies by name. A policy
    /// reached twice is listed once, at its first place.
    pub group_policies: Vec<GroupPolicy>,
}

/// A policy a thing has through one of its thing groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPolicy {
    /// The group the policy is attached to (the thing's group or one of its ancestors).
    pub group: String,
    /// The policy with its default version.
    pub policy: Policy,
}

impl Store {
    /// The certificate's status, attached policies and things, or `None` when the certificate
    /// is not registered.
    pub fn certificate_for_connection(
        &self,
        certificate_id: &str,
    ) -> Result<Option<ConnectionAuth>, StoreError> {
        // One read snapshot: every SELECT below sees the same committed registry.
        self.read("connection lookup", |tx| {
            let label = tx.label();
            let Some(cert) = read_certificate(tx, label, certificate_id)? else {
                return claim_for_connection(tx, certificate_id);
            };
            let policy_names: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT policy_name FROM policy_targets WHERE certificate_id = ?1 \
                         ORDER BY policy_name",
                    )
                    .ctx(label, "list certificate policies")?;
                stmt.query_map(params![certificate_id], |r| r.get(0))
                    .and_then(|r| r.collect::<Result<_, _>>())
                    .ctx(label, "list certificate policies")?
            };
            let mut policies = Vec::with_capacity(policy_names.len());
            for name in &policy_names {
                if let Some(p) = read_policy(tx, label, name)? {
                    policies.push(p);
                }
            }
            let links: Vec<(String, bool)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT thing_name, exclusive FROM thing_principals \
                         WHERE certificate_id = ?1 ORDER BY thing_name",
                    )
                    .ctx(label, "list certificate things")?;
                stmt.query_map(params![certificate_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|r| r.collect::<Result<_, _>>())
                    .ctx(label, "list certificate things")?
            };
            let mut things = Vec::with_capacity(links.len());
            for (name, exclusive) in links {
                if let Some(t) = read_thing(tx, label, &name)? {
                    things.push(AttachedThing {
                        group_policies: group_policies(tx, &t.name)?,
                        name: t.name,
                        thing_type: t.thing_type,
                        attributes: t.attributes,
                        exclusive,
                    });
                }
            }
            Ok(Some(ConnectionAuth {
                status: cert.status,
                policies,
                things,
            }))
        })
    }
}

/// A temporary claim certificate (CreateProvisioningClaim) connects as an ACTIVE certificate
/// with the one policy it carries and no thing; AWS does not list it among the account's
/// certificates, so it is not in `certificates`. Its expiry is the services worker's timer,
/// which deletes the row.
fn claim_for_connection(
    tx: &Tx<'_>,
    certificate_id: &str,
) -> Result<Option<ConnectionAuth>, StoreError> {
    let Some(claim) = read_claim(tx, tx.label(), certificate_id)? else {
        return Ok(None);
    };
    Ok(Some(ConnectionAuth {
        status: CertificateStatus::Active,
        policies: vec![Policy {
            name: format!("provisioning-claim-{}", claim.template_name),
            default_version: 1,
            document: claim.policy_document,
            created_ms: claim.created_ms,
            modified_ms: claim.created_ms,
            generation: 1,
        }],
        things: Vec::new(),
    }))
}

/// The policies `thing` has through its thing groups, in [`AttachedThing::group_policies`]
/// order.
fn group_policies(tx: &Tx<'_>, thing: &str) -> Result<Vec<GroupPolicy>, StoreError> {
    let label = tx.label();
    let attached: Vec<(String, String)> = tx
        .prepare_cached(
            "WITH RECURSIVE up(start, depth, name) AS (
                SELECT group_name, 0, group_name FROM thing_group_members WHERE thing_name = ?1
                UNION ALL SELECT up.start, up.depth + 1, g.parent
                FROM thing_groups g JOIN up ON g.name = up.name
                WHERE g.parent IS NOT NULL AND up.depth < 16)
             SELECT up.name, t.policy_name FROM up
             JOIN policy_targets t ON t.thing_group = up.name
             ORDER BY up.start, up.depth, t.policy_name",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![thing], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
        })
        .ctx(label, "list thing group policies")?;
    let mut out: Vec<GroupPolicy> = Vec::with_capacity(attached.len());
    for (group, name) in attached {
        if out.iter().any(|p| p.policy.name == name) {
            continue;
        }
        if let Some(policy) = read_policy(tx, label, &name)? {
            out.push(GroupPolicy { group, policy });
        }
    }
    Ok(out)
}
