//! Who a connection is, and what it may do. A device on a mutual-TLS listener is identified by
//! its certificate id (SHA-256 of the leaf's DER, as AWS IoT does), looked up in the registry:
//! only ACTIVE certificates connect, and the policies attached to the certificate decide every
//! CONNECT, PUBLISH, SUBSCRIBE and delivery (`iot:Connect`, `iot:Publish`/`iot:RetainPublish`,
//! `iot:Subscribe`, `iot:Receive`), evaluated by `iot-policy` with AWS's variables. The
//! `Principal` travels with the connection into broker-core, whose `Authorizer` hook is
//! answered here; policies live in the authorizer, keyed by certificate id, so a policy change
//! reaches live connections when the registry watcher refreshes them.
//!
//! The policies evaluated for a connection are the certificate's, then those the thing groups of
//! the connection's thing pass on (its groups' and their ancestors', nearest group first, each
//! group's by name; a policy already counted is not counted twice). The connection's thing is the
//! thing attached to the certificate whose name is the client id: the same thing
//! `iot:Connection.Thing.*` variables resolve from, and AWS's rule for thing group policies
//! ("when attaching a thing to a static thing group associated with an AWS IoT Core policy, the
//! thing name must match the client ID", developer guide, "Static thing groups"). A client id
//! that names no attached thing gets the certificate's policies alone.
//!
//! Clients without a certificate (SigV4-signed WebSockets, custom authorizers) are judged by the
//! policy layers of `identity.rs`, installed per connection.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use broker_core::{Action, Authorizer, Decision, Denial};
use iot_policy::{CertificateInfo, Policy, RequestContext, ResourceKind, ThingInfo};
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};
use pki::CertificateId;
use store::{AttachedThing, CertificateStatus, Store};

mod cache;
pub mod identity;

use cache::AllowCache;
pub use cache::RegistryCache;
pub use identity::{CredentialPolicy, IdentityPolicies, PolicyLayer};

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
        /// Which listener (`mqtts`, `mqtts-alpn`), for refusal records.
        listener: &'static str,
        /// Names from its certificate, for `iot:Certificate.*` variables.
        certificate: CertificateInfo,
        /// When its certificate expires, wall-clock milliseconds (the connection is closed
        /// then).
        not_after_ms: i64,
    },
    /// A client that signed its WebSocket URL with SigV4: the IAM-style principal.
    Iam {
        /// The access key id (what lifecycle events name as `principalIdentifier`).
        access_key_id: String,
        /// Where it connected from.
        peer: SocketAddr,
        /// The key its policies are installed under (unique to the connection).
        key: String,
    },
    /// A client a custom authorizer admitted.
    Custom {
        /// The authorizer's name.
        authorizer: String,
        /// The `principalId` its function returned.
        principal_id: String,
        /// Where it connected from.
        peer: SocketAddr,
        /// The key its policies are installed under (unique to the connection).
        key: String,
    },
    /// A client on the plain listener of the `mqtt` profile (no certificate).
    Anonymous {
        /// Where it connected from.
        peer: SocketAddr,
    },
    /// A persistent session reloaded from disk whose client has not reconnected yet.
    Restored,
    /// The local side of a `[[bridge]]` (`crate::bridge`): tether's own client inside the
    /// process. It subscribes to and publishes only the topics its configuration names, so the
    /// configuration is its authorization (as a mosquitto bridge's is); its client id carries
    /// [`BRIDGE_CLIENT_PREFIX`], which no other principal may connect with.
    Bridge {
        /// The bridge's name.
        name: String,
    },
}

/// Client ids beginning with this belong to the local sides of bridges: any other principal is
/// refused `iot:Connect` with one, so no device can take a bridge's session (and its queue) over.
pub const BRIDGE_CLIENT_PREFIX: &str = "tether-bridge:";

impl Principal {
    /// Wraps an identity.
    pub fn new(identity: Identity) -> Principal {
        Principal(Arc::new(identity))
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.0
    }

    /// Tells this principal's connection apart from every other live one.
    fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
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
                ..
            } => {
                write!(f, "certificate {} from {peer}", short_id(certificate_id))
            }
            Identity::Iam {
                access_key_id,
                peer,
                ..
            } => write!(f, "access key {access_key_id} (SigV4) from {peer}"),
            Identity::Custom {
                authorizer,
                principal_id,
                peer,
                ..
            } => write!(
                f,
                "principal {principal_id} of authorizer {authorizer} from {peer}"
            ),
            Identity::Anonymous { peer } => write!(f, "anonymous client from {peer}"),
            Identity::Restored => f.write_str("restored session"),
            Identity::Bridge { name } => write!(f, "bridge {name}"),
        }
    }
}

/// The first 10 hex digits of a certificate id, as the AWS console shows it.
pub fn short_id(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// What the registry attaches to one certificate: its policies (default versions, parsed), the
/// things it is attached to, and what each thing's groups pass on.
#[derive(Debug, Clone, Default)]
pub struct DevicePolicies {
    /// Policy name and document.
    pub policies: Vec<(String, Policy)>,
    /// Things the certificate is attached to (their `group_policies` moved to the next field).
    pub things: Vec<AttachedThing>,
    /// By thing name: the policies its thing groups pass on, parsed, in the store's order, each
    /// with the group it is attached to.
    pub group_policies: HashMap<String, Vec<InheritedPolicy>>,
}

/// A policy a thing has through one of its thing groups.
#[derive(Debug, Clone)]
pub struct InheritedPolicy {
    /// The group it is attached to.
    pub group: String,
    /// Its name.
    pub name: String,
    /// Its default version, parsed.
    pub policy: Policy,
}

/// Answers broker-core's authorization questions.
#[derive(Debug, Default, Clone)]
pub struct ServerAuthorizer {
    /// Whether clients without a certificate may connect (the `mqtt` profile's plain listener).
    pub allow_anonymous: bool,
    /// Region in resource ARNs.
    pub region: String,
    /// Account in resource ARNs.
    pub account: String,
    /// Attached policies by certificate id, refreshed when the registry changes.
    devices: HashMap<String, Arc<DevicePolicies>>,
    /// Policy layers of identities without a certificate, by their connection's key.
    identities: HashMap<String, Arc<IdentityPolicies>>,
    /// Publish and Receive decisions already reached as Allow.
    allowed: AllowCache,
}

impl ServerAuthorizer {
    /// An authorizer for ARNs in `region` and `account`.
    pub fn new(allow_anonymous: bool, region: &str, account: &str) -> ServerAuthorizer {
        ServerAuthorizer {
            allow_anonymous,
            region: region.to_owned(),
            account: account.to_owned(),
            devices: HashMap::new(),
            identities: HashMap::new(),
            allowed: AllowCache::default(),
        }
    }

    /// Installs (or replaces, for a refreshed custom authorizer answer) the policy layers of a
    /// connection without a certificate.
    pub fn set_identity_policies(&mut self, key: &str, policies: Arc<IdentityPolicies>) {
        if self.identities.insert(key.to_owned(), policies).is_some() {
            self.allowed = AllowCache::default();
        }
    }

    /// Forgets a connection's policy layers once it has ended.
    pub fn forget_identity(&mut self, key: &str) {
        self.identities.remove(key);
    }

    fn decide_identity(
        &self,
        key: &str,
        who: &str,
        peer: SocketAddr,
        client_id: &str,
        action: Action<'_>,
    ) -> Decision {
        let context = identity::context(&self.region, &self.account, client_id, peer);
        let Some(policies) = self.identities.get(key) else {
            return Decision::Deny(Denial::new(
                action.aws_name(),
                action.resource(client_id),
                format!("no policies are installed for {who}; its connection was not admitted"),
            ));
        };
        match policies.decide(&context, &requests(&context, client_id, action), who) {
            Ok(()) => Decision::Allow,
            Err(why) => Decision::Deny(Denial::new(
                action.aws_name(),
                action.resource(client_id),
                why,
            )),
        }
    }

    /// Installs (or replaces) what is attached to a certificate.
    pub fn set_policies(&mut self, certificate_id: &str, policies: Arc<DevicePolicies>) {
        if self
            .devices
            .get(certificate_id)
            .is_some_and(|known| Arc::ptr_eq(known, &policies))
        {
            // The registry lookup was answered from its cache: nothing changed.
            return;
        }
        self.allowed = AllowCache::default();
        self.devices.insert(certificate_id.to_owned(), policies);
    }

    fn decide(
        &self,
        certificate_id: &str,
        peer: SocketAddr,
        certificate: &CertificateInfo,
        client_id: &str,
        action: Action<'_>,
    ) -> Decision {
        let empty = DevicePolicies::default();
        let attached = self
            .devices
            .get(certificate_id)
            .map_or(&empty, |d| d.as_ref());
        // AWS resolves `iot:Connection.Thing.*` from the attached thing named like the client.
        let thing = attached
            .things
            .iter()
            .find(|t| t.name == client_id)
            .map(|t| ThingInfo {
                name: t.name.clone(),
                type_name: t.thing_type.clone(),
                attributes: t.attributes.clone(),
                is_attached: true,
            });
        let context = RequestContext {
            region: self.region.clone(),
            account: self.account.clone(),
            client_id: Some(client_id.to_owned()),
            thing,
            certificate: Some(certificate.clone()),
            source_ip: Some(peer.ip()),
            connect_attributes: Default::default(),
        };
        let mut policies: Vec<(&str, &Policy)> = attached
            .policies
            .iter()
            .map(|(name, policy)| (name.as_str(), policy))
            .collect();
        let inherited = attached
            .group_policies
            .get(client_id)
            .map_or(&[][..], Vec::as_slice);
        for p in inherited {
            if !policies.iter().any(|(name, _)| *name == p.name) {
                policies.push((p.name.as_str(), &p.policy));
            }
        }
        for (policy_action, resource) in requests(&context, client_id, action) {
            let decision = iot_policy::evaluate(&policies, &context, policy_action, &resource);
            if !decision.is_allowed() {
                let why = match &decision {
                    iot_policy::Decision::ImplicitDeny if policies.is_empty() => {
                        "no policy is attached to the certificate, and no thing group of a \
                         thing named like the client id passes one on"
                            .to_owned()
                    }
                    iot_policy::Decision::ImplicitDeny => format!(
                        "no statement of the attached policies ({}) allows it",
                        policies
                            .iter()
                            .map(|(n, _)| match inherited.iter().find(|p| p.name == *n) {
                                Some(p) if !attached.policies.iter().any(|(c, _)| c == n) => {
                                    format!("{n} of thing group {}", p.group)
                                }
                                _ => (*n).to_owned(),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    other => other.to_string(),
                };
                return Decision::Deny(Denial {
                    action: policy_action.as_str().to_owned(),
                    resource,
                    decided_by: format!("{}: {why}", decision.as_str()),
                    nothing_granted: policies.is_empty(),
                });
            }
        }
        Decision::Allow
    }
}

/// The policy actions and resource ARNs one broker action needs allowed.
fn requests(
    context: &RequestContext,
    client_id: &str,
    action: Action<'_>,
) -> Vec<(iot_policy::Action, String)> {
    match action {
        Action::Connect => {
            vec![(
                iot_policy::Action::Connect,
                context.arn(ResourceKind::Client, client_id),
            )]
        }
        Action::Publish { topic, retain } => {
            let arn = context.arn(ResourceKind::Topic, topic);
            let mut requests = vec![(iot_policy::Action::Publish, arn.clone())];
            if retain {
                requests.push((iot_policy::Action::RetainPublish, arn));
            }
            requests
        }
        Action::Subscribe { filter } => vec![(
            iot_policy::Action::Subscribe,
            context.arn(ResourceKind::TopicFilter, filter),
        )],
        Action::Receive { topic } => {
            vec![(
                iot_policy::Action::Receive,
                context.arn(ResourceKind::Topic, topic),
            )]
        }
    }
}

/// The publish and receive actions whose allows are remembered: (is receive, topic).
fn cacheable<'a>(action: Action<'a>) -> Option<(bool, &'a str)> {
    match action {
        Action::Publish {
            topic,
            retain: false,
        } => Some((false, topic)),
        Action::Receive { topic } => Some((true, topic)),
        _ => None,
    }
}

impl Authorizer for ServerAuthorizer {
    type Principal = Principal;

    fn authorize(
        &mut self,
        principal: &Principal,
        client_id: &str,
        action: Action<'_>,
    ) -> Decision {
        if let Some(denial) = reserved_for_bridges(principal, client_id, action) {
            return Decision::Deny(denial);
        }
        match principal.identity() {
            Identity::Device {
                certificate_id,
                peer,
                certificate,
                ..
            } => {
                let cacheable = cacheable(action);
                if let Some((receive, topic)) = cacheable
                    && self.allowed.contains(principal, client_id, receive, topic)
                {
                    return Decision::Allow;
                }
                let decision = self.decide(certificate_id, *peer, certificate, client_id, action);
                if let (Decision::Allow, Some((receive, topic))) = (&decision, cacheable) {
                    self.allowed.insert(principal, client_id, receive, topic);
                }
                decision
            }
            Identity::Iam {
                access_key_id: who,
                peer,
                key,
            }
            | Identity::Custom {
                principal_id: who,
                peer,
                key,
                ..
            } => {
                let cacheable = cacheable(action);
                if let Some((receive, topic)) = cacheable
                    && self.allowed.contains(principal, client_id, receive, topic)
                {
                    return Decision::Allow;
                }
                let decision = self.decide_identity(key, who, *peer, client_id, action);
                if let (Decision::Allow, Some((receive, topic))) = (&decision, cacheable) {
                    self.allowed.insert(principal, client_id, receive, topic);
                }
                decision
            }
            Identity::Anonymous { .. } => match action {
                Action::Connect if !self.allow_anonymous => Decision::Deny(Denial::new(
                    action.aws_name(),
                    action.resource(client_id),
                    "anonymous clients may not connect under the aws profile; connect to the \
                     mutual-TLS listener with a registered certificate",
                )),
                _ => Decision::Allow,
            },
            // A session restored from disk keeps what it subscribed to until its client
            // reconnects and is judged again.
            Identity::Restored => Decision::Allow,
            Identity::Bridge { .. } => Decision::Allow,
        }
    }
}

/// The refusal of a CONNECT with a bridge's client id by anyone but that bridge.
fn reserved_for_bridges(
    principal: &Principal,
    client_id: &str,
    action: Action<'_>,
) -> Option<Denial> {
    let taken = matches!(action, Action::Connect)
        && client_id.starts_with(BRIDGE_CLIENT_PREFIX)
        && !matches!(principal.identity(), Identity::Bridge { .. });
    taken.then(|| {
        Denial::new(
            action.aws_name(),
            action.resource(client_id),
            format!(
                "client ids beginning with {BRIDGE_CLIENT_PREFIX} are reserved for the local \
                 sides of tether serve's bridges; pick another client id"
            ),
        )
    })
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

/// Looks up a device certificate: the connection may proceed only when it is ACTIVE. Returns
/// what is attached to it. Policy documents that no longer parse are skipped with a warning
/// (they grant nothing).
pub fn check_certificate(
    store: &Store,
    id: &CertificateId,
) -> Result<DevicePolicies, CertificateRefusal> {
    let id = id.as_str();
    match store.certificate_for_connection(id) {
        Ok(Some(auth)) if auth.status == CertificateStatus::Active => {
            let mut things = auth.things;
            let mut group_policies = HashMap::new();
            for thing in &mut things {
                let inherited = std::mem::take(&mut thing.group_policies)
                    .into_iter()
                    .filter_map(|g| {
                        parse_policy(&g.policy).map(|policy| InheritedPolicy {
                            group: g.group,
                            name: g.policy.name,
                            policy,
                        })
                    })
                    .collect();
                group_policies.insert(thing.name.clone(), inherited);
            }
            Ok(DevicePolicies {
                policies: parse_policies(auth.policies),
                things,
                group_policies,
            })
        }
        Ok(Some(auth)) => Err(CertificateRefusal::NotActive {
            id: id.to_owned(),
            status: auth.status,
        }),
        Ok(None) => Err(CertificateRefusal::NotRegistered { id: id.to_owned() }),
        Err(e) => Err(CertificateRefusal::Registry(e.to_string())),
    }
}

fn parse_policies(policies: Vec<store::Policy>) -> Vec<(String, Policy)> {
    policies
        .into_iter()
        .filter_map(|p| parse_policy(&p).map(|policy| (p.name, policy)))
        .collect()
}

fn parse_policy(p: &store::Policy) -> Option<Policy> {
    match Policy::parse(&p.document) {
        Ok(policy) => Some(policy),
        Err(e) => {
            tracing::warn!("policy {:?} does not parse and grants nothing: {e}", p.name);
            None
        }
    }
}

/// The certificate names `iot:Certificate.*` variables read.
pub fn certificate_info(cert: &X509Ref) -> CertificateInfo {
    let serial_number = cert
        .serial_number()
        .to_bn()
        .ok()
        .and_then(|bn| bn.to_dec_str().ok())
        .map(|s| s.to_string());
    let names = |alt: Option<openssl::stack::Stack<openssl::x509::GeneralName>>| {
        let mut out = Vec::new();
        for name in alt.iter().flatten() {
            if let Some(dns) = name.dnsname() {
                out.push(("DNSName".to_owned(), dns.to_owned()));
            } else if let Some(email) = name.email() {
                out.push(("RFC822Name".to_owned(), email.to_owned()));
            } else if let Some(uri) = name.uri() {
                out.push(("UniformResourceIdentifier".to_owned(), uri.to_owned()));
            } else if let Some(ip) = name.ipaddress() {
                let ip = match ip.len() {
                    4 => <[u8; 4]>::try_from(ip).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(ip).ok().map(IpAddr::from),
                    _ => None,
                };
                if let Some(ip) = ip {
                    out.push(("IPAddress".to_owned(), ip.to_string()));
                }
            }
        }
        out
    };
    CertificateInfo {
        subject: dn(cert.subject_name()),
        issuer: dn(cert.issuer_name()),
        subject_alternative_names: names(cert.subject_alt_names()),
        issuer_alternative_names: names(cert.issuer_alt_names()),
        serial_number,
    }
}

fn dn(name: &X509NameRef) -> Vec<(String, String)> {
    name.entries()
        .filter_map(|entry| {
            let attr = match entry.object().nid() {
                Nid::COMMONNAME => "CommonName",
                Nid::COUNTRYNAME => "Country",
                Nid::ORGANIZATIONNAME => "Organization",
                Nid::ORGANIZATIONALUNITNAME => "OrganizationalUnit",
                Nid::STATEORPROVINCENAME => "State",
                Nid::LOCALITYNAME => "Locality",
                Nid::SERIALNUMBER => "SerialNumber",
                Nid::TITLE => "Title",
                Nid::SURNAME => "Surname",
                Nid::GIVENNAME => "GivenName",
                Nid::INITIALS => "Initials",
                Nid::PSEUDONYM => "Pseudonym",
                Nid::GENERATIONQUALIFIER => "GenerationQualifier",
                Nid::DNQUALIFIER => "DistinguishedNameQualifier",
                _ => return None,
            };
            let value = entry.data().to_string().ok()?;
            Some((attr.to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(certificate_id: &str) -> Principal {
        Principal::new(Identity::Device {
            certificate_id: certificate_id.to_owned(),
            peer: ([127, 0, 0, 1], 4000).into(),
            listener: "mqtts",
            certificate: CertificateInfo::default(),
            not_after_ms: i64::MAX,
        })
    }

    fn authorizer(document: &str) -> ServerAuthorizer {
        let mut auth = ServerAuthorizer::new(false, "us-east-1", "123456789012");
        let policies = DevicePolicies {
            policies: vec![("p".to_owned(), Policy::parse(document).unwrap())],
            things: vec![AttachedThing {
                name: "thing-1".to_owned(),
                thing_type: None,
                attributes: Default::default(),
                exclusive: false,
                group_policies: Vec::new(),
            }],
            group_policies: HashMap::new(),
        };
        auth.set_policies("cert", Arc::new(policies));
        auth
    }

    const THING_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect",
         "Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
        {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],
         "Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/${iot:ClientId}/*"},
        {"Effect":"Allow","Action":"iot:Subscribe",
         "Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:ClientId}/*"},
        {"Effect":"Deny","Action":"iot:Publish",
         "Resource":"arn:aws:iot:us-east-1:123456789012:topic/things/*/secret"}]}"#;

    #[test]
    fn thing_name_policy_pins_the_client_id() {
        let mut auth = authorizer(THING_POLICY);
        let dev = device("cert");
        assert_eq!(
            auth.authorize(&dev, "thing-1", Action::Connect),
            Decision::Allow
        );
        let Decision::Deny(why) = auth.authorize(&dev, "other", Action::Connect) else {
            panic!("client id other than the thing name must be refused");
        };
        assert_eq!(why.action, "iot:Connect");
        assert!(why.decided_by.starts_with("IMPLICIT_DENY: "), "{why}");
        assert!(why.resource.ends_with("client/other"), "{why}");
        assert!(!why.nothing_granted);
    }

    #[test]
    fn explicit_deny_names_the_policy_and_statement() {
        let mut auth = authorizer(THING_POLICY);
        let dev = device("cert");
        let ok = Action::Publish {
            topic: "things/thing-1/telemetry",
            retain: false,
        };
        assert_eq!(auth.authorize(&dev, "thing-1", ok), Decision::Allow);
        let secret = Action::Publish {
            topic: "things/thing-1/secret",
            retain: false,
        };
        let Decision::Deny(why) = auth.authorize(&dev, "thing-1", secret) else {
            panic!("explicit deny must win");
        };
        assert_eq!(why.action, "iot:Publish");
        assert!(why.decided_by.starts_with("EXPLICIT_DENY"), "{why}");
        assert!(why.decided_by.contains("\"p\" Statement[3]"), "{why}");
    }

    #[test]
    fn retained_publish_also_needs_retain_publish() {
        let mut auth = authorizer(THING_POLICY);
        let retained = Action::Publish {
            topic: "things/thing-1/state",
            retain: true,
        };
        let Decision::Deny(why) = auth.authorize(&device("cert"), "thing-1", retained) else {
            panic!("iot:RetainPublish is not granted");
        };
        assert_eq!(why.action, "iot:RetainPublish", "{why}");
    }

    #[test]
    fn a_certificate_without_policies_is_denied_with_that_reason() {
        let mut auth = ServerAuthorizer::new(false, "us-east-1", "123456789012");
        let Decision::Deny(why) = auth.authorize(&device("bare"), "c", Action::Connect) else {
            panic!("no policy, no access");
        };
        assert!(why.decided_by.contains("no policy is attached"), "{why}");
        assert!(why.nothing_granted);
    }

    #[test]
    fn group_policies_count_for_the_thing_named_like_the_client_only() {
        let connect_only = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
        let group_publish = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iot:Publish",
             "Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.ThingName}"}]}"#;
        let mut auth = authorizer(connect_only);
        let mut policies = DevicePolicies::clone(auth.devices.get("cert").unwrap());
        policies.group_policies.insert(
            "thing-1".to_owned(),
            vec![InheritedPolicy {
                group: "fleet".to_owned(),
                name: "fleet-publish".to_owned(),
                policy: Policy::parse(group_publish).unwrap(),
            }],
        );
        auth.set_policies("cert", Arc::new(policies));
        let dev = device("cert");
        let publish = Action::Publish {
            topic: "fleet/thing-1",
            retain: false,
        };
        assert_eq!(auth.authorize(&dev, "thing-1", publish), Decision::Allow);
        // Another client id on the same certificate is not thing-1: no group policies.
        let Decision::Deny(why) = auth.authorize(&dev, "other", publish) else {
            panic!("group policies follow the thing named like the client id");
        };
        assert!(why.decided_by.contains("(p)"), "{why:?}");
        let elsewhere = Action::Publish {
            topic: "fleet/thing-2",
            retain: false,
        };
        let Decision::Deny(why) = auth.authorize(&dev, "thing-1", elsewhere) else {
            panic!("the group policy allows the thing's own topic only");
        };
        assert!(
            why.decided_by
                .contains("fleet-publish of thing group fleet"),
            "{why:?}"
        );
    }

    #[test]
    fn anonymous_clients_depend_on_the_profile() {
        let anon = Principal::new(Identity::Anonymous {
            peer: ([127, 0, 0, 1], 1).into(),
        });
        let mut aws = ServerAuthorizer::new(false, "us-east-1", "123456789012");
        assert!(matches!(
            aws.authorize(&anon, "x", Action::Connect),
            Decision::Deny(_)
        ));
        let mut mqtt = ServerAuthorizer::new(true, "us-east-1", "123456789012");
        assert_eq!(mqtt.authorize(&anon, "x", Action::Connect), Decision::Allow);
    }

    #[test]
    fn certificate_names_become_policy_variables() {
        let ca = pki::CertificateAuthority::generate(
            "Test CA",
            pki::KeyAlgorithm::EcP256,
            pki::Validity::days_from_now(1),
        )
        .unwrap();
        let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
        let cert = ca
            .issue_client("sensor-7", &key, pki::Validity::days_from_now(1))
            .unwrap();
        let info = certificate_info(&cert);
        assert_eq!(
            info.subject,
            vec![("CommonName".to_owned(), "sensor-7".to_owned())]
        );
        assert_eq!(
            info.issuer,
            vec![("CommonName".to_owned(), "Test CA".to_owned())]
        );
        assert!(info.serial_number.is_some());
    }

    #[test]
    fn remembered_allows_end_when_the_policies_change() {
        let mut auth = authorizer(THING_POLICY);
        let dev = device("cert");
        let receive = Action::Receive {
            topic: "things/thing-1/cmd",
        };
        for _ in 0..3 {
            assert_eq!(auth.authorize(&dev, "thing-1", receive), Decision::Allow);
        }
        // The same topic for another client id is judged on its own (the policy pins it).
        assert!(matches!(
            auth.authorize(&dev, "thing-2", receive),
            Decision::Deny(_)
        ));
        let deny_all = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;
        auth.set_policies(
            "cert",
            Arc::new(DevicePolicies {
                policies: vec![("deny".to_owned(), Policy::parse(deny_all).unwrap())],
                things: Vec::new(),
                group_policies: HashMap::new(),
            }),
        );
        let Decision::Deny(why) = auth.authorize(&dev, "thing-1", receive) else {
            panic!("a remembered Allow must not outlive a policy change")
        };
        assert!(why.decided_by.contains("deny"), "{why}");
    }

    #[test]
    fn remembered_allows_of_closed_connections_are_swept() {
        let mut auth = authorizer(THING_POLICY);
        for n in 0..200 {
            let dev = device("cert");
            let publish = Action::Publish {
                topic: "things/thing-1/telemetry",
                retain: false,
            };
            assert_eq!(
                auth.authorize(&dev, "thing-1", publish),
                Decision::Allow,
                "{n}"
            );
        }
        assert!(
            auth.allowed.by_principal.len() <= 64,
            "{} entries kept for 200 closed connections",
            auth.allowed.by_principal.len()
        );
        // A live connection keeps its entry through a sweep.
        let live = device("cert");
        let publish = Action::Publish {
            topic: "things/thing-1/telemetry",
            retain: false,
        };
        assert_eq!(auth.authorize(&live, "thing-1", publish), Decision::Allow);
        for _ in 0..200 {
            let _ = auth.authorize(&device("cert"), "thing-1", publish);
        }
        assert!(auth.allowed.by_principal.contains_key(&live.address()));
    }

    #[test]
    fn setting_the_same_policies_again_keeps_remembered_allows() {
        let mut auth = authorizer(THING_POLICY);
        let dev = device("cert");
        let receive = Action::Receive {
            topic: "things/thing-1/cmd",
        };
        assert_eq!(auth.authorize(&dev, "thing-1", receive), Decision::Allow);
        let same = Arc::clone(auth.devices.get("cert").unwrap());
        auth.set_policies("cert", same);
        assert!(
            auth.allowed
                .contains(&dev, "thing-1", true, "things/thing-1/cmd")
        );
        let copy = Arc::new(DevicePolicies::clone(auth.devices.get("cert").unwrap()));
        auth.set_policies("cert", copy);
        assert!(
            !auth
                .allowed
                .contains(&dev, "thing-1", true, "things/thing-1/cmd")
        );
    }

    #[test]
    fn registry_cache_answers_until_the_registry_changes() {
        let mut store = Store::open_in_memory().unwrap();
        let id = CertificateId::from_der(b"a device certificate");
        let new = store::NewCertificate {
            id: id.as_str().to_owned(),
            pem: String::new(),
            status: CertificateStatus::Active,
            ca_certificate_id: None,
            mode: store::CertificateMode::Default,
            owned_by: "123456789012".to_owned(),
            not_before_ms: 0,
            not_after_ms: i64::MAX,
        };
        store.register_certificate(&new, 1).unwrap();
        let cache = RegistryCache::default();
        let first = cache.check(&store, &id).unwrap();
        let again = cache.check(&store, &id).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "an unchanged registry is not read twice"
        );
        store
            .update_certificate_status(id.as_str(), CertificateStatus::Revoked, 2)
            .unwrap();
        assert!(matches!(
            cache.check(&store, &id),
            Err(CertificateRefusal::NotActive { .. })
        ));
        let unknown = CertificateId::from_der(b"another certificate");
        assert!(matches!(
            cache.check(&store, &unknown),
            Err(CertificateRefusal::NotRegistered { .. })
        ));
    }
}
