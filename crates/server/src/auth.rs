//! Who a connection is, and what it may do. A device on a mutual-TLS listener is identified by
//! its certificate id (SHA-256 of the leaf's DER, as AWS IoT does), looked up in the registry:
//! only ACTIVE certificates connect. The `Principal` travels with the connection into
//! broker-core, whose `Authorizer` hook is answered here. Policy documents are not enforced
//! yet: every authenticated principal is allowed (the registry decides who connects).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use broker_core::{Action, Authorizer, Decision};
use pki::CertificateId;
use store::{CertificateStatus, Store};

/// The identity behind a connection.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal(Arc<Identity>);

/// What is known about a connected identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A device that presented an ACTIVE registered certificate.
    Device {
        /// Its certificate id.
        certificate_id: String,
        /// Where it connected from.
        peer: SocketAddr,
    },
    /// A client on the plain listener of the `mqtt` profile (no certificate).
    Anonymous {
        /// Where it connected from.
        peer: SocketAddr,
    },
    /// A persistent session reloaded from disk whose client has not reconnected yet.
    Restored,
}

impl Principal {
    /// Wraps an identity.
    pub fn new(identity: Identity) -> Principal {
        Principal(Arc::new(identity))
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.0
    }

    /// The certificate id, for devices.
    pub fn certificate_id(&self) -> Option<&str> {
        match &*self.0 {
            Identity::Device { certificate_id, .. } => Some(certificate_id),
            _ => None,
        }
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Identity::Device {
                certificate_id,
                peer,
            } => {
                write!(f, "certificate {} from {peer}", short_id(certificate_id))
            }
            Identity::Anonymous { peer } => write!(f, "anonymous client from {peer}"),
            Identity::Restored => f.write_str("restored session"),
        }
    }
}

/// The first 10 hex digits of a certificate id, as the AWS console shows it.
pub fn short_id(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// Answers broker-core's authorization questions. Devices that passed the registry check are
/// allowed; anonymous clients (plain listener) only where the profile allows them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ServerAuthorizer {
    /// Whether clients without a certificate may connect (the `mqtt` profile's plain listener).
    pub allow_anonymous: bool,
}

impl Authorizer for ServerAuthorizer {
    type Principal = Principal;

    fn authorize(&mut self, principal: &Principal, _: &str, action: Action<'_>) -> Decision {
        match (principal.identity(), action) {
            (Identity::Anonymous { .. }, Action::Connect) if !self.allow_anonymous => {
                Decision::Deny(
                    "anonymous clients may not connect under the aws profile; connect to the \
                     mutual-TLS listener with a registered certificate"
                        .to_owned(),
                )
            }
            _ => Decision::Allow,
        }
    }
}

/// Why a device's certificate may not connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateRefusal {
    /// No certificate with this id is registered.
    NotRegistered {
        /// The certificate id.
        id: String,
    },
    /// Registered, but not ACTIVE.
    NotActive {
        /// The certificate id.
        id: String,
        /// Its status.
        status: CertificateStatus,
    },
    /// The registry could not be read.
    Registry(String),
}

impl fmt::Display for CertificateRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateRefusal::NotRegistered { id } => write!(
                f,
                "certificate {id} is not registered; register it (tether device create, or \
                 aws iot register-certificate against this endpoint) before connecting"
            ),
            CertificateRefusal::NotActive { id, status } => write!(
                f,
                "certificate {id} is {}; only ACTIVE certificates may connect (aws iot \
                 update-certificate --new-status ACTIVE)",
                status.as_str()
            ),
            CertificateRefusal::Registry(e) => {
                write!(
                    f,
                    "the registry could not be read ({e}); the connection was refused"
                )
            }
        }
    }
}

/// Looks up a device certificate: the connection may proceed only when it is ACTIVE.
pub fn check_certificate(store: &Store, id: &CertificateId) -> Result<(), CertificateRefusal> {
    let id = id.as_str();
    match store.certificate_for_connection(id) {
        Ok(Some(auth)) if auth.status == CertificateStatus::Active => Ok(()),
        Ok(Some(auth)) => Err(CertificateRefusal::NotActive {
            id: id.to_owned(),
            status: auth.status,
        }),
        Ok(None) => Err(CertificateRefusal::NotRegistered { id: id.to_owned() }),
        Err(e) => Err(CertificateRefusal::Registry(e.to_string())),
    }
}
