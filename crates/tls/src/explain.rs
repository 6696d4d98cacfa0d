//! Explains, in words, why a listener under an AWS IoT security policy refuses (or accepts) a
//! given ClientHello, optionally extended with the client-certificate verdict the caller got
//! from its registry. Pure: no OpenSSL, no IO. It predicts the refusal from the policy table;
//! it does not observe a real handshake (the server and doctor do that and feed facts here).

use std::fmt;

use serde::Serialize;

use crate::alert::Alert;
use crate::client_hello::ClientHello;
use crate::policy::SecurityPolicy;
use crate::suite::CipherSuite;
use crate::version::ProtocolVersion;

/// What became of the client certificate, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientCertificate {
    /// The client sent no certificate (empty Certificate message).
    NotSent,
    /// A certificate arrived but could not be parsed or verified.
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// Well-formed, but the registry has no certificate with this id.
    NotRegistered {
        /// The AWS certificate id (SHA-256 of the DER, lowercase hex).
        id: String,
    },
    /// Registered, but not ACTIVE.
    NotActive {
        /// The AWS certificate id.
        id: String,
        /// The registry status, e.g. INACTIVE or REVOKED.
        status: String,
    },
    /// Registered and ACTIVE.
    Accepted,
}

/// What the listener expects besides its security policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listener {
    /// The policy the listener enforces.
    pub policy: SecurityPolicy,
    /// The listening port, when known (one policy serves fewer suites on 8443/8883).
    pub port: Option<u16>,
    /// When set, SNI must be sent and equal this name (case-insensitive).
    pub required_server_name: Option<String>,
    /// When non-empty, the client must offer one of these ALPN protocols (AWS port 443).
    pub required_alpn: Vec<String>,
}

/// One reason the connection is refused, with the alert a server sends for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The client's best version is below the policy minimum.
    VersionTooLow {
        /// Highest version the client offered.
        offered_max: ProtocolVersion,
        /// The policy name.
        policy: &'static str,
        /// The policy minimum.
        required: ProtocolVersion,
    },
    /// The client offers only versions above the policy maximum.
    VersionTooHigh {
        /// Lowest version the client offered.
        offered_min: ProtocolVersion,
        /// The policy name.
        policy: &'static str,
        /// The policy maximum.
        allowed_max: ProtocolVersion,
    },
    /// Versions overlap but no suite is allowed for any common version.
    NoSharedSuite {
        /// The real suites the client offered (no GREASE/SCSV), in its order.
        offered: Vec<CipherSuite>,
        /// The policy name.
        policy: &'static str,
        /// The versions both sides allow.
        versions: Vec<ProtocolVersion>,
        /// What the policy would have accepted for those versions.
        allowed: Vec<&'static str>,
    },
    /// SNI is required but was not sent.
    ServerNameMissing {
        /// The name the listener expects.
        expected: String,
    },
    /// SNI was sent but names another host.
    ServerNameMismatch {
        /// What the client sent.
        offered: String,
        /// The name the listener expects.
        expected: String,
    },
    /// ALPN is required and the client offered none or none that matches.
    Alpn {
        /// What the client offered (empty: no ALPN extension).
        offered: Vec<String>,
        /// What the listener accepts.
        expected: Vec<String>,
    },
    /// A client certificate is required but none was sent.
    ClientCertificateMissing {
        /// The negotiated version (decides the alert).
        version: ProtocolVersion,
    },
    /// The client certificate could not be used.
    ClientCertificateMalformed {
        /// What was wrong.
        detail: String,
    },
    /// The certificate is not in the registry.
    ClientCertificateNotRegistered {
        /// The AWS certificate id.
        id: String,
    },
    /// The certificate is registered but not ACTIVE.
    ClientCertificateNotActive {
        /// The AWS certificate id.
        id: String,
        /// Its status.
        status: String,
    },
}

impl Refusal {
    /// The alert a server sends for this refusal — the one `tether serve` sends, chosen to be
    /// the one AWS IoT Core sends where that is known. Each with its source:
    ///
    /// - No shared version (`VersionTooLow`, `VersionTooHigh`) and no shared suite
    ///   (`NoSharedSuite`): 40 handshake_failure. Source: the field log of an ESP8266 on NONOS
    ///   libssl (TLS 1.1 at most) against AWS IoT Core, `Error: SSL error 40`, which axTLS
    ///   prints for a received fatal alert 40 (device-side research §0; issue 22). RFC 5246
    ///   §E.1 would have 70 protocol_version for the version case, and OpenSSL sends 70, so
    ///   `tether serve` refuses such a hello itself (`hello_refusal`). That AWS answers a
    ///   TLS 1.3-only hello under a TLS 1.2-only policy the same way is inferred (one rule: the
    ///   hello shares nothing with the policy); the suite case is OpenSSL's own answer too.
    /// - SNI missing or wrong (`ServerNameMissing`, `ServerNameMismatch`): 112
    ///   unrecognized_name. Inferred from RFC 6066 §3; AWS documents only that the handshake
    ///   fails (contract §2.2).
    /// - ALPN without a match (`Alpn`): 120 no_application_protocol. RFC 7301 §3.2 requires it;
    ///   AWS's exact answer is inferred.
    /// - No client certificate (`ClientCertificateMissing`): 116 certificate_required in
    ///   TLS 1.3 (RFC 8446 §4.4.2.4), 40 handshake_failure in TLS 1.2 (RFC 5246 §7.4.6); both
    ///   are OpenSSL's answers, AWS's are inferred.
    /// - An unusable client certificate (`ClientCertificateMalformed`): 42 bad_certificate,
    ///   OpenSSL's answer; inferred for AWS.
    /// - Not registered or not ACTIVE: 46 certificate_unknown names the refusal for the doctor,
    ///   but no alert is sent: AWS IoT Core completes the handshake and closes the connection
    ///   (contract §2.3, the SDKs' "connection closed" reports), and so does `tether serve`.
    pub fn alert(&self) -> Alert {
        match self {
            Refusal::VersionTooLow { .. }
            | Refusal::VersionTooHigh { .. }
            | Refusal::NoSharedSuite { .. } => Alert::HANDSHAKE_FAILURE,
            Refusal::ServerNameMissing { .. } | Refusal::ServerNameMismatch { .. } => {
                Alert::UNRECOGNIZED_NAME
            }
            Refusal::Alpn { .. } => Alert::NO_APPLICATION_PROTOCOL,
            Refusal::ClientCertificateMissing { version } if *version >= ProtocolVersion::TLS13 => {
                Alert::CERTIFICATE_REQUIRED
            }
            Refusal::ClientCertificateMissing { .. } => Alert::HANDSHAKE_FAILURE,
            Refusal::ClientCertificateMalformed { .. } => Alert::BAD_CERTIFICATE,
            Refusal::ClientCertificateNotRegistered { .. }
            | Refusal::ClientCertificateNotActive { .. } => Alert::CERTIFICATE_UNKNOWN,
        }
    }

    /// True when the hello shares no version or no suite with the policy: the refusals
    /// `tether serve` makes itself at the ClientHello, with [`Refusal::alert`]'s alert.
    pub fn shares_nothing(&self) -> bool {
        matches!(
            self,
            Refusal::VersionTooLow { .. }
                | Refusal::VersionTooHigh { .. }
                | Refusal::NoSharedSuite { .. }
        )
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::VersionTooLow {
                offered_max,
                policy,
                required,
            } => write!(
                f,
                "client offered {offered_max} at most; policy {policy} requires {required}"
            ),
            Refusal::VersionTooHigh {
                offered_min,
                policy,
                allowed_max,
            } => write!(
                f,
                "client offered {offered_min} at least; policy {policy} allows {allowed_max} at most"
            ),
            Refusal::NoSharedSuite {
                offered,
                policy,
                versions,
                allowed,
            } => write!(
                f,
                "no shared cipher suite; client offered {}; policy {policy} allows for {}: {}",
                if offered.is_empty() {
                    "no real suite".to_owned()
                } else {
                    join(offered)
                },
                join(versions),
                allowed.join(", ")
            ),
            Refusal::ServerNameMissing { expected } => write!(
                f,
                "client sent no server name (SNI); this endpoint requires SNI {expected}"
            ),
            Refusal::ServerNameMismatch { offered, expected } => write!(
                f,
                "client asked for server name {offered}; this endpoint serves {expected}"
            ),
            Refusal::Alpn { offered, expected } if offered.is_empty() => write!(
                f,
                "client offered no ALPN protocol; this port requires one of {}",
                expected.join(", ")
            ),
            Refusal::Alpn { offered, expected } => write!(
                f,
                "client offered ALPN {}; this port accepts only {}",
                offered.join(", "),
                expected.join(", ")
            ),
            Refusal::ClientCertificateMissing { .. } => f.write_str(
                "client sent no certificate; mutual TLS requires the device certificate",
            ),
            Refusal::ClientCertificateMalformed { detail } => {
                write!(f, "client certificate unusable: {detail}")
            }
            Refusal::ClientCertificateNotRegistered { id } => {
                write!(f, "client certificate {id} is not registered")
            }
            Refusal::ClientCertificateNotActive { id, status } => write!(
                f,
                "client certificate {id} is {status}; only ACTIVE certificates may connect"
            ),
        }
    }
}

/// The prediction for one ClientHello on one listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Why the connection is refused, in the order the server checks; empty when accepted.
    pub refusals: Vec<Refusal>,
    /// What the server would pick when the hello itself is acceptable.
    pub negotiated: Option<(ProtocolVersion, CipherSuite)>,
}

impl Verdict {
    /// True when nothing refuses the connection.
    pub fn accepted(&self) -> bool {
        self.refusals.is_empty()
    }

    /// The alert of the first (decisive) refusal.
    pub fn alert(&self) -> Option<Alert> {
        self.refusals.first().map(Refusal::alert)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.refusals.first(), self.negotiated) {
            (None, Some((v, s))) => write!(f, "accepted: {v} with {s}"),
            (None, None) => f.write_str("accepted"),
            (Some(first), _) => {
                write!(f, "refused with alert {}: {first}", first.alert())?;
                for more in self.refusals.iter().skip(1) {
                    write!(f, "; also {more}")?;
                }
                Ok(())
            }
        }
    }
}

/// Predicts whether `listener` accepts `hello`, and why not. `client_cert` is what the caller
/// learned about the client certificate, if the handshake got that far.
pub fn explain(
    hello: &ClientHello,
    listener: &Listener,
    client_cert: Option<&ClientCertificate>,
) -> Verdict {
    let policy = &listener.policy;
    let mut refusals = Vec::new();
    let candidates = [
        ProtocolVersion::TLS13,
        ProtocolVersion::TLS12,
        ProtocolVersion::TLS11,
        ProtocolVersion::TLS10,
        ProtocolVersion::SSL3,
    ];
    let common: Vec<ProtocolVersion> = candidates
        .into_iter()
        .filter(|v| hello.offers(*v) && policy.allows_version(*v))
        .collect();
    let mut negotiated = None;
    if common.is_empty() {
        let offered: Vec<ProtocolVersion> = candidates
            .into_iter()
            .filter(|v| hello.offers(*v))
            .collect();
        match offered.iter().min() {
            Some(min) if *min > policy.max_version => refusals.push(Refusal::VersionTooHigh {
                offered_min: *min,
                policy: policy.name,
                allowed_max: policy.max_version,
            }),
            _ => refusals.push(Refusal::VersionTooLow {
                offered_max: hello.max_version(),
                policy: policy.name,
                required: policy.min_version,
            }),
        }
    } else {
        negotiated = common.iter().find_map(|v| {
            hello
                .real_suites()
                .find(|s| policy.allows_suite_on(*v, *s, listener.port))
                .map(|s| (*v, s))
        });
        if negotiated.is_none() {
            let mut allowed: Vec<&'static str> = Vec::new();
            if common.contains(&ProtocolVersion::TLS13) {
                allowed.extend(policy.tls13_suites.iter().copied());
            }
            if common.iter().any(|v| *v < ProtocolVersion::TLS13) {
                allowed.extend(policy.tls12_suites_on(listener.port.unwrap_or(443)));
            }
            refusals.push(Refusal::NoSharedSuite {
                offered: hello.real_suites().collect(),
                policy: policy.name,
                versions: common.clone(),
                allowed,
            });
        }
    }
    if let Some(expected) = &listener.required_server_name {
        match &hello.server_name {
            None => refusals.push(Refusal::ServerNameMissing {
                expected: expected.clone(),
            }),
            Some(sent) if !sent.eq_ignore_ascii_case(expected) => {
                refusals.push(Refusal::ServerNameMismatch {
                    offered: sent.clone(),
                    expected: expected.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if !listener.required_alpn.is_empty()
        && !hello
            .alpn
            .iter()
            .any(|p| listener.required_alpn.contains(p))
    {
        refusals.push(Refusal::Alpn {
            offered: hello.alpn.clone(),
            expected: listener.required_alpn.clone(),
        });
    }
    // The client certificate only matters once the hello itself was acceptable.
    if refusals.is_empty() {
        let version = negotiated.map_or(policy.max_version, |(v, _)| v);
        match client_cert {
            Some(ClientCertificate::NotSent) => {
                refusals.push(Refusal::ClientCertificateMissing { version });
            }
            Some(ClientCertificate::Malformed { detail }) => {
                refusals.push(Refusal::ClientCertificateMalformed {
                    detail: detail.clone(),
                });
            }
            Some(ClientCertificate::NotRegistered { id }) => {
                refusals.push(Refusal::ClientCertificateNotRegistered { id: id.clone() });
            }
            Some(ClientCertificate::NotActive { id, status }) => {
                refusals.push(Refusal::ClientCertificateNotActive {
                    id: id.clone(),
                    status: status.clone(),
                });
            }
            Some(ClientCertificate::Accepted) | None => {}
        }
    }
    Verdict {
        refusals,
        negotiated,
    }
}

#[cfg(test)]
mod tests;
