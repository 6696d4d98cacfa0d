//! The request context: everything about one connection that policy variables and condition
//! keys can refer to. It is plain data filled in by the caller (server, doctor, tests); this
//! file does not look anything up, and it does not decide which thing belongs to a connection.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::resource::{ResourceKind, arn};

/// Who is asking, as far as AWS IoT policies can tell.
///
/// `region` and `account` only build resource ARNs (see [`RequestContext::arn`]); policies
/// match them like any other ARN text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// AWS region of the endpoint, e.g. `us-east-1`.
    pub region: String,
    /// Twelve-digit account id the endpoint belongs to.
    pub account: String,
    /// MQTT client id from CONNECT (`${iot:ClientId}`).
    pub client_id: Option<String>,
    /// The registered thing this connection speaks for, if the caller identified one
    /// (AWS: the thing named like the client id). `None` leaves every
    /// `iot:Connection.Thing.*` variable unresolved, except `IsAttached`, which is `false`.
    pub thing: Option<ThingInfo>,
    /// The client certificate's names and serial (`iot:Certificate.*`).
    pub certificate: Option<CertificateInfo>,
    /// The peer address (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// Features the CONNECT asks for (`iot:ConnectAttributes`); leave empty for other actions.
    pub connect_attributes: ConnectAttributes,
}

impl RequestContext {
    /// The ARN of a resource in this context's region and account, e.g.
    /// `ctx.arn(ResourceKind::Topic, "a/b")` = `arn:aws:iot:<region>:<account>:topic/a/b`.
    pub fn arn(&self, kind: ResourceKind, value: &str) -> String {
        arn(&self.region, &self.account, kind, value)
    }
}

/// The thing attached to the connecting certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingInfo {
    /// `${iot:Connection.Thing.ThingName}`.
    pub name: String,
    /// `${iot:Connection.Thing.ThingTypeName}`; unresolved when the thing has no type.
    pub type_name: Option<String>,
    /// `${iot:Connection.Thing.Attributes[<name>]}`, looked up by exact name.
    pub attributes: BTreeMap<String, String>,
    /// `${iot:Connection.Thing.IsAttached}`: the certificate is attached to this thing.
    pub is_attached: bool,
}

/// Names read from the client certificate.
///
/// Attribute names are the AWS spellings (see [`DN_ATTRIBUTES`] and [`ALT_NAME_ATTRIBUTES`]),
/// compared without regard to ASCII case. Repeated attributes keep certificate order, which is
/// what `.1`, `.2`, … and `.List` index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject distinguished name, e.g. `("CommonName", "dev-1")`.
    pub subject: Vec<(String, String)>,
    /// Issuer distinguished name.
    pub issuer: Vec<(String, String)>,
    /// Subject alternative names, e.g. `("DNSName", "dev-1.example.com")`.
    pub subject_alternative_names: Vec<(String, String)>,
    /// Issuer alternative names.
    pub issuer_alternative_names: Vec<(String, String)>,
    /// `${iot:Certificate.SerialNumber}` as the caller renders it (AWS does not document the
    /// format; tether's server passes the decimal form).
    pub serial_number: Option<String>,
}

/// Distinguished-name attribute names AWS IoT exposes as
/// `iot:Certificate.Subject.<Attr>` / `iot:Certificate.Issuer.<Attr>`.
pub const DN_ATTRIBUTES: &[&str] = &[
    "CommonName",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "Locality",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
    "DistinguishedNameQualifier",
];

/// Alternative-name kinds exposed as `iot:Certificate.Subject.AlternativeName.<Kind>`.
pub const ALT_NAME_ATTRIBUTES: &[&str] = &[
    "DNSName",
    "RFC822Name",
    "IPAddress",
    "UniformResourceIdentifier",
    "DirectoryName",
];

/// The `iot:ConnectAttributes` condition key: which optional features a CONNECT uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectAttributes {
    /// The client asks for a persistent session (MQTT 3.1.1 clean session = 0; MQTT 5 session
    /// expiry interval > 0).
    pub persistent_connect: bool,
    /// The CONNECT carries a will message.
    pub last_will: bool,
}

impl ConnectAttributes {
    /// The key's values in AWS spelling; empty when neither feature is used.
    pub fn values(&self) -> impl Iterator<Item = &'static str> {
        [
            self.persistent_connect.then_some("PersistentConnect"),
            self.last_will.then_some("LastWill"),
        ]
        .into_iter()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_attribute_values() {
        let none = ConnectAttributes::default();
        assert_eq!(none.values().count(), 0);
        let both = ConnectAttributes {
            persistent_connect: true,
            last_will: true,
        };
        assert_eq!(
            both.values().collect::<Vec<_>>(),
            ["PersistentConnect", "LastWill"]
        );
    }

    #[test]
    fn context_builds_arns_in_its_region() {
        let ctx = RequestContext {
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            ..RequestContext::default()
        };
        assert_eq!(
            ctx.arn(ResourceKind::Client, "dev-1"),
            "arn:aws:iot:eu-west-1:123456789012:client/dev-1"
        );
    }
}
