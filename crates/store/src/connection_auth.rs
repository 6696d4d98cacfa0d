//! The broker's lookup when a device completes the TLS handshake: the certificate's status, the
//! default versions of the policies attached to it and the things it is attached to, read in one
//! transaction so they are consistent. It does not decide anything (the server checks the status
//! and `iot-policy` evaluates the documents), and thing-group policies are not included because
//! the store has no thing groups yet.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::Store;
use crate::certificates::{CertificateStatus, read_certificate};
use crate::error::{SqlContext, StoreError};
use crate::policies::{Policy, read_policy};
use crate::things::read_thing;

/// Everything the broker needs to authorize a connection made with one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionAuth {
    pub status: CertificateStatus,
    /// Policies attached to the certificate, each with its default version, sorted by name.
    pub policies: Vec<Policy>,
    /// Things the certificate is attached to, sorted by name.
    pub things: Vec<AttachedThing>,
}

/// A thing attached to the connecting certificate (for `iot:Connection.Thing.*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedThing {
    pub name: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub exclusive: bool,
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
                return Ok(None);
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
