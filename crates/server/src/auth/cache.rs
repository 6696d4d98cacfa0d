//! What authorization remembers so that it is not redone: the Allow decisions of each live
//! connection per topic (for the router's authorizer) and the registry's answer per certificate
//! (for the TLS edge). Both are exact: an entry is dropped as soon as what it was computed
//! from can have changed. Neither decides anything itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pki::CertificateId;
use store::Store;

use super::{CertificateRefusal, DevicePolicies, Principal, check_certificate};

/// Topics a connection's publishes and deliveries were already allowed on, so a device that
/// publishes to (or receives on) the same topics again and again is judged once per policy
/// change rather than once per message. A decision is a pure function of the attached policies
/// and things, the connection (certificate, client id, address) and the topic, so it holds
/// until the registry changes, which clears everything. Only Allow is kept: a denial is rare
/// and carries its explanation.
#[derive(Debug, Default, Clone)]
pub(super) struct AllowCache {
    /// By the address of the principal's allocation; each entry keeps its principal alive, so
    /// no other connection's principal can reuse the address while the entry exists.
    pub(super) by_principal: foldhash::HashMap<usize, AllowedTopics>,
    /// Entries of closed connections are swept when the map reaches this size.
    sweep_at: usize,
}

#[derive(Debug, Clone)]
pub(super) struct AllowedTopics {
    principal: Principal,
    client_id: String,
    publish: foldhash::HashSet<String>,
    receive: foldhash::HashSet<String>,
}

/// Topics remembered per connection and action; beyond it the set starts over.
const ALLOWED_TOPICS_PER_CONNECTION: usize = 256;

impl AllowCache {
    fn topics(
        &mut self,
        principal: &Principal,
        client_id: &str,
        receive: bool,
    ) -> Option<&mut foldhash::HashSet<String>> {
        let entry = self.by_principal.get_mut(&principal.address())?;
        if !Arc::ptr_eq(&entry.principal.0, &principal.0) || entry.client_id != client_id {
            return None;
        }
        Some(if receive {
            &mut entry.receive
        } else {
            &mut entry.publish
        })
    }

    pub(super) fn contains(
        &mut self,
        principal: &Principal,
        client_id: &str,
        receive: bool,
        topic: &str,
    ) -> bool {
        self.topics(principal, client_id, receive)
            .is_some_and(|topics| topics.contains(topic))
    }

    pub(super) fn insert(
        &mut self,
        principal: &Principal,
        client_id: &str,
        receive: bool,
        topic: &str,
    ) {
        if self.topics(principal, client_id, receive).is_none() {
            if self.by_principal.len() >= self.sweep_at {
                // Only the cache still holds the principals of closed connections.
                self.by_principal
                    .retain(|_, entry| Arc::strong_count(&entry.principal.0) > 1);
                self.sweep_at = (self.by_principal.len() * 2).max(64);
            }
            self.by_principal.insert(
                principal.address(),
                AllowedTopics {
                    principal: principal.clone(),
                    client_id: client_id.to_owned(),
                    publish: foldhash::HashSet::default(),
                    receive: foldhash::HashSet::default(),
                },
            );
        }
        if let Some(topics) = self.topics(principal, client_id, receive) {
            if topics.len() >= ALLOWED_TOPICS_PER_CONNECTION {
                topics.clear();
            }
            topics.insert(topic.to_owned());
        }
    }
}

/// What the registry said about ACTIVE certificates, by certificate id, with the registry
/// version it was read at. A device that reconnects (or a fleet of devices sharing a
/// certificate) costs one version read instead of several queries and a parse of every policy
/// document, and gets the very same `Arc`, so the router keeps its remembered decisions.
#[derive(Debug, Default)]
pub struct RegistryCache {
    entries: Mutex<HashMap<String, (i64, Arc<DevicePolicies>)>>,
}

/// Certificates remembered at most; beyond it the cache starts over.
const REGISTRY_CACHE_ENTRIES: usize = 65_536;

impl RegistryCache {
    /// [`check_certificate`], answered from the cache while the registry is unchanged.
    pub fn check(
        &self,
        store: &Store,
        id: &CertificateId,
    ) -> Result<Arc<DevicePolicies>, CertificateRefusal> {
        // The version is read before the certificate: a change in between makes the entry
        // look older than it is, which only costs a re-read.
        let version = store
            .registry_version()
            .map_err(|e| CertificateRefusal::Registry(e.to_string()))?;
        if let Ok(entries) = self.entries.lock()
            && let Some((at, policies)) = entries.get(id.as_str())
            && *at == version
        {
            return Ok(Arc::clone(policies));
        }
        let policies = Arc::new(check_certificate(store, id)?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= REGISTRY_CACHE_ENTRIES {
                entries.clear();
            }
            entries.insert(id.as_str().to_owned(), (version, Arc::clone(&policies)));
        }
        Ok(policies)
    }
}
