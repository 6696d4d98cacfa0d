//! The public roots an AWS IoT device may carry, recognised by subject name and SHA-256
//! fingerprint, and the kind of AWS IoT endpoint a host name is (contract §2.2). It holds no
//! certificate bytes: the names and fingerprints below are enough to recognise a root, and
//! tether never downloads one.

use std::fmt;

/// A root certificate authority that matters for AWS IoT endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownRoot {
    /// Short name, e.g. "Amazon Root CA 1".
    pub name: &'static str,
    /// Subject as `pki::summarize` prints it.
    pub subject: &'static str,
    /// SHA-256 of the DER, lowercase hex (the AWS-style certificate id of the root).
    pub sha256: &'static str,
    /// What it is for.
    pub role: RootRole,
    /// Its key, in words.
    pub key: &'static str,
}

/// Which endpoints a known root verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootRole {
    /// Amazon Trust Services: `iot:Data-ATS` endpoints (`…-ats.iot.<region>.amazonaws.com`).
    Ats,
    /// Amazon Root CA 2/4: ATS roots AWS reserves for future use; no endpoint chains to them yet.
    AtsReserved,
    /// Starfield Services Root G2: cross-signs the Amazon roots; strict clients may need it.
    AtsCrossSign,
    /// VeriSign Class 3 Public Primary G5: legacy `iot:Data` endpoints only.
    Legacy,
}

/// Every root tether recognises. Subjects and fingerprints were read from the roots as
/// distributed in Debian's ca-certificates (Amazon, Starfield) and a copy of the VeriSign G5
/// root; `tests` keeps the table consistent.
pub const KNOWN_ROOTS: &[KnownRoot] = &[
    KnownRoot {
        name: "Amazon Root CA 1",
        subject: "C=US, O=Amazon, CN=Amazon Root CA 1",
        sha256: "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        role: RootRole::Ats,
        key: "RSA-2048",
    },
    KnownRoot {
        name: "Amazon Root CA 2",
        subject: "C=US, O=Amazon, CN=Amazon Root CA 2",
        sha256: "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
        role: RootRole::AtsReserved,
        key: "RSA-4096",
    },
    KnownRoot {
        name: "Amazon Root CA 3",
        subject: "C=US, O=Amazon, CN=Amazon Root CA 3",
        sha256: "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
        role: RootRole::Ats,
        key: "EC P-256",
    },
    KnownRoot {
        name: "Amazon Root CA 4",
        subject: "C=US, O=Amazon, CN=Amazon Root CA 4",
        sha256: "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
        role: RootRole::AtsReserved,
        key: "EC P-384",
    },
    KnownRoot {
        name: "Starfield Services Root Certificate Authority - G2",
        subject: "C=US, ST=Arizona, L=Scottsdale, O=Starfield Technologies, Inc., CN=Starfield Services Root Certificate Authority - G2",
        sha256: "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
        role: RootRole::AtsCrossSign,
        key: "RSA-2048",
    },
    KnownRoot {
        name: "VeriSign Class 3 Public Primary Certification Authority - G5",
        subject: "C=US, O=VeriSign, Inc., OU=VeriSign Trust Network, OU=(c) 2006 VeriSign, Inc. - For authorized use only, CN=VeriSign Class 3 Public Primary Certification Authority - G5",
        sha256: "9acfab7e43c8d880d06b262a94deeee4b4659989c3d0caf19baf6405e41ab7df",
        role: RootRole::Legacy,
        key: "RSA-2048",
    },
];

/// How a certificate relates to a known root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recognised {
    /// Same subject and same fingerprint: it is that root.
    Exact(&'static KnownRoot),
    /// Same subject, other bytes: a cross-signed or re-issued variant, or an imitation.
    SameName(&'static KnownRoot),
}

impl Recognised {
    /// The root it resembles.
    pub fn root(self) -> &'static KnownRoot {
        match self {
            Recognised::Exact(r) | Recognised::SameName(r) => r,
        }
    }
}

/// Recognises a certificate by its subject (as `pki::summarize` prints it) and its id.
pub fn recognise(subject: &str, sha256: &str) -> Option<Recognised> {
    let root = KNOWN_ROOTS.iter().find(|r| r.subject == subject)?;
    Some(if root.sha256 == sha256 {
        Recognised::Exact(root)
    } else {
        Recognised::SameName(root)
    })
}

/// What kind of endpoint a host name is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// `<prefix>-ats.iot.<region>.amazonaws.com(.cn)`: Amazon Trust Services chain.
    Ats { region: String },
    /// `<prefix>.iot.<region>.amazonaws.com(.cn)`: legacy Symantec/VeriSign G5 chain.
    Legacy { region: String },
    /// Anything else: a custom domain, a local broker such as `tether serve`, an IP address.
    Other,
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointKind::Ats { region } => write!(f, "an AWS IoT ATS endpoint in {region}"),
            EndpointKind::Legacy { region } => {
                write!(f, "a legacy (VeriSign-signed) AWS IoT endpoint in {region}")
            }
            EndpointKind::Other => f.write_str("not an AWS IoT endpoint name"),
        }
    }
}

/// Classifies `host` (no port).
pub fn endpoint_kind(host: &str) -> EndpointKind {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let Some(rest) = rest else {
        return EndpointKind::Other;
    };
    // rest = "<prefix>.iot.<region>"
    let Some((before, region)) = rest.rsplit_once('.') else {
        return EndpointKind::Other;
    };
    let Some(prefix) = before.strip_suffix(".iot") else {
        return EndpointKind::Other;
    };
    if prefix.is_empty() || prefix.contains('.') || region.is_empty() {
        return EndpointKind::Other;
    }
    let region = region.to_owned();
    if prefix.ends_with("-ats") {
        EndpointKind::Ats { region }
    } else {
        EndpointKind::Legacy { region }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        assert_eq!(
            endpoint_kind("a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"),
            EndpointKind::Ats {
                region: "eu-west-1".into()
            }
        );
        assert_eq!(
            endpoint_kind("A1B2C3D4E5F6G7.iot.us-east-1.amazonaws.com."),
            EndpointKind::Legacy {
                region: "us-east-1".into()
            }
        );
        assert_eq!(
            endpoint_kind("abc-ats.iot.cn-north-1.amazonaws.com.cn"),
            EndpointKind::Ats {
                region: "cn-north-1".into()
            }
        );
        for other in [
            "localhost",
            "127.0.0.1",
            "iot.us-east-1.amazonaws.com",
            "s3.amazonaws.com",
            "mqtt.example.com",
        ] {
            assert_eq!(endpoint_kind(other), EndpointKind::Other, "{other}");
        }
    }

    #[test]
    fn table_is_consistent() {
        for root in KNOWN_ROOTS {
            assert_eq!(root.sha256.len(), 64, "{}", root.name);
            assert!(root.subject.ends_with(root.name), "{}", root.name);
            assert!(matches!(
                recognise(root.subject, root.sha256),
                Some(Recognised::Exact(r)) if r == root
            ));
        }
        assert!(matches!(
            recognise("C=US, O=Amazon, CN=Amazon Root CA 1", "00"),
            Some(Recognised::SameName(_))
        ));
        assert_eq!(recognise("CN=tether local CA", "00"), None);
    }
}
