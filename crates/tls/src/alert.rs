//! TLS alert numbers: registry name, what the alert means in plain words, and what usually
//! causes it between a constrained device and an MQTT broker (device-side research §5.2).
//! It does not decide which alert a server sends; `explain` and the server do that.

use std::fmt;

use serde::Serialize;

/// A TLS alert description (the second byte of an alert record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Alert(pub u8);

struct Entry {
    code: u8,
    name: &'static str,
    meaning: &'static str,
    iot_causes: &'static str,
}

const ALERTS: &[Entry] = &[
    Entry {
        code: 0,
        name: "close_notify",
        meaning: "the peer is closing the connection normally",
        iot_causes: "the broker closed the session (e.g. after an MQTT-level refusal or keep-alive timeout); not a TLS failure",
    },
    Entry {
        code: 10,
        name: "unexpected_message",
        meaning: "a message arrived that is not allowed at this point of the protocol",
        iot_causes: "a TLS stack bug or a middlebox rewriting traffic; plain MQTT sent before the handshake finished",
    },
    Entry {
        code: 20,
        name: "bad_record_mac",
        meaning: "a record failed its integrity check",
        iot_causes: "corrupted traffic, a broken CBC/MAC implementation on the device, or memory corruption under low heap",
    },
    Entry {
        code: 21,
        name: "decryption_failed",
        meaning: "a record could not be decrypted (obsolete, TLS 1.0 only)",
        iot_causes: "very old stacks; treat like bad_record_mac",
    },
    Entry {
        code: 22,
        name: "record_overflow",
        meaning: "a record was longer than allowed or negotiated",
        iot_causes: "max_fragment_length negotiated but ignored by one side, or a device buffer configured larger than it can actually receive",
    },
    Entry {
        code: 30,
        name: "decompression_failure",
        meaning: "TLS compression failed (obsolete)",
        iot_causes: "ancient stacks offering compression; not seen with current brokers",
    },
    Entry {
        code: 40,
        name: "handshake_failure",
        meaning: "the sender could not agree on security parameters with the peer",
        iot_causes: "no common TLS version or cipher suite (a TLS 1.0/1.1-only stack against a TLS 1.2+ broker, an RSA-only client against an ECDHE-only policy); a server that requires a client certificate got none; some gateways use 40 for any negotiation refusal. Right after the ClientHello it points at version/suite/SNI; after the client's Certificate it points at client authentication",
    },
    Entry {
        code: 41,
        name: "no_certificate",
        meaning: "no certificate available (SSL 3.0 only)",
        iot_causes: "obsolete; a device without a loaded client certificate",
    },
    Entry {
        code: 42,
        name: "bad_certificate",
        meaning: "a certificate was corrupt or its signature did not verify",
        iot_causes: "from the device: the server chain failed verification (wrong root, name mismatch on some stacks); from the server: the client certificate is malformed, uses an unsupported signature, or the private key does not match it",
    },
    Entry {
        code: 43,
        name: "unsupported_certificate",
        meaning: "the certificate is of an unsupported type",
        iot_causes: "an EC certificate on a stack without ECC (ESP8266 NONOS), or a key type/size the peer refuses",
    },
    Entry {
        code: 44,
        name: "certificate_revoked",
        meaning: "the certificate was revoked by its signer",
        iot_causes: "a device certificate revoked in the registry",
    },
    Entry {
        code: 45,
        name: "certificate_expired",
        meaning: "the certificate has expired or is not yet valid",
        iot_causes: "from the server: the device certificate really expired (AWS IoT and tether serve refuse it at the handshake; give the device a new certificate); from the device: its clock is not set (no SNTP before connecting, so it believes it is 1970) and a valid certificate looks out of date",
    },
    Entry {
        code: 46,
        name: "certificate_unknown",
        meaning: "some other problem with the certificate made it unacceptable",
        iot_causes: "the server cannot map the client certificate to an account: not registered, not ACTIVE, or its CA is not registered; some brokers instead complete TLS and refuse at MQTT CONNECT",
    },
    Entry {
        code: 47,
        name: "illegal_parameter",
        meaning: "a handshake field was out of range or inconsistent",
        iot_causes: "a malformed extension (bad max_fragment_length code, bad key share) from a hand-rolled or buggy stack",
    },
    Entry {
        code: 48,
        name: "unknown_ca",
        meaning: "the certificate chain does not lead to a trusted root",
        iot_causes: "the device trust store lacks the root for the presented chain: ATS endpoint with the legacy VeriSign G5 root (or the reverse), missing Amazon/Starfield roots, an ECDSA chain (Amazon Root CA 3) on a stack without ECC",
    },
    Entry {
        code: 49,
        name: "access_denied",
        meaning: "the certificate was valid but access was refused by policy",
        iot_causes: "the broker refuses this identity at the TLS layer (inactive or policy-less certificate on brokers that check early)",
    },
    Entry {
        code: 50,
        name: "decode_error",
        meaning: "a message could not be decoded (bad length or field)",
        iot_causes: "a truncated or malformed handshake message, often a device buffer too small for a record",
    },
    Entry {
        code: 51,
        name: "decrypt_error",
        meaning: "a cryptographic check in the handshake failed",
        iot_causes: "the client's CertificateVerify signature does not verify: the private key does not belong to the certificate; or a Finished mismatch",
    },
    Entry {
        code: 60,
        name: "export_restriction",
        meaning: "an export-grade parameter was refused (obsolete)",
        iot_causes: "not seen with current stacks",
    },
    Entry {
        code: 70,
        name: "protocol_version",
        meaning: "the peer's protocol version is recognised but not supported",
        iot_causes: "the client's highest version is below the server's minimum (TLS 1.0/1.1 stacks against AWS IoT, which requires TLS 1.2+), or a TLS 1.3-only client against a TLS 1.2-only policy",
    },
    Entry {
        code: 71,
        name: "insufficient_security",
        meaning: "the server requires suites more secure than the client offered",
        iot_causes: "only weak suites offered (RC4, 3DES, export) or a key too small",
    },
    Entry {
        code: 80,
        name: "internal_error",
        meaning: "the sender hit an internal error unrelated to the peer",
        iot_causes: "a server-side fault; on devices an RNG/entropy or memory allocation failure mid-handshake (low heap)",
    },
    Entry {
        code: 86,
        name: "inappropriate_fallback",
        meaning: "the client retried with a lower version although the server supports a higher one",
        iot_causes: "a client version fallback after a first failed attempt (TLS_FALLBACK_SCSV)",
    },
    Entry {
        code: 90,
        name: "user_canceled",
        meaning: "the handshake was cancelled by the user",
        iot_causes: "the application aborted the connection",
    },
    Entry {
        code: 100,
        name: "no_renegotiation",
        meaning: "renegotiation was refused",
        iot_causes: "a stack that renegotiates; AWS IoT does not renegotiate",
    },
    Entry {
        code: 109,
        name: "missing_extension",
        meaning: "a mandatory extension was missing (TLS 1.3)",
        iot_causes: "a TLS 1.3 hello without key_share, supported_groups or signature_algorithms",
    },
    Entry {
        code: 110,
        name: "unsupported_extension",
        meaning: "an extension was sent that the peer did not offer or allow",
        iot_causes: "a stack bug; rare",
    },
    Entry {
        code: 111,
        name: "certificate_unobtainable",
        meaning: "a certificate URL could not be fetched (obsolete)",
        iot_causes: "not seen with current stacks",
    },
    Entry {
        code: 112,
        name: "unrecognized_name",
        meaning: "the requested server name (SNI) is not served here",
        iot_causes: "SNI missing or wrong for a custom domain or configurable endpoint; AWS needs SNI for certificates registered without a CA (SNI_ONLY mode)",
    },
    Entry {
        code: 113,
        name: "bad_certificate_status_response",
        meaning: "an OCSP status response was invalid",
        iot_causes: "OCSP stapling problems; rare on devices",
    },
    Entry {
        code: 114,
        name: "bad_certificate_hash_value",
        meaning: "a certificate hash did not match (obsolete)",
        iot_causes: "not seen with current stacks",
    },
    Entry {
        code: 115,
        name: "unknown_psk_identity",
        meaning: "the PSK identity is not known",
        iot_causes: "a PSK-configured device against a certificate-only broker",
    },
    Entry {
        code: 116,
        name: "certificate_required",
        meaning: "the server required a client certificate and got none (TLS 1.3)",
        iot_causes: "the device sent an empty Certificate: key/certificate not loaded, wrong flash sector or record name",
    },
    Entry {
        code: 120,
        name: "no_application_protocol",
        meaning: "none of the offered ALPN protocols is supported",
        iot_causes: "ALPN missing or wrong: MQTT with client certificates on port 443 needs ALPN x-amzn-mqtt-ca; stacks without ALPN (NONOS, axTLS) must use port 8883",
    },
    Entry {
        code: 121,
        name: "ech_required",
        meaning: "the server requires Encrypted Client Hello",
        iot_causes: "not used by IoT brokers",
    },
];

/// Spellings libraries print instead of the registry name (axTLS prints "invalid version").
const ALIASES: &[(&str, u8)] = &[("invalid version", 70), ("no cipher", 40)];

impl Alert {
    /// handshake_failure (40).
    pub const HANDSHAKE_FAILURE: Alert = Alert(40);
    /// bad_certificate (42).
    pub const BAD_CERTIFICATE: Alert = Alert(42);
    /// certificate_unknown (46).
    pub const CERTIFICATE_UNKNOWN: Alert = Alert(46);
    /// protocol_version (70).
    pub const PROTOCOL_VERSION: Alert = Alert(70);
    /// certificate_required (116).
    pub const CERTIFICATE_REQUIRED: Alert = Alert(116);
    /// no_application_protocol (120).
    pub const NO_APPLICATION_PROTOCOL: Alert = Alert(120);
    /// unrecognized_name (112).
    pub const UNRECOGNIZED_NAME: Alert = Alert(112);

    fn entry(self) -> Option<&'static Entry> {
        ALERTS.iter().find(|e| e.code == self.0)
    }

    /// Every registered alert, in numeric order.
    pub fn all() -> impl Iterator<Item = Alert> {
        ALERTS.iter().map(|e| Alert(e.code))
    }

    /// The registry name, e.g. "handshake_failure".
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|e| e.name)
    }

    /// What the alert means, in plain words.
    pub fn meaning(self) -> &'static str {
        self.entry()
            .map_or("not a registered TLS alert number", |e| e.meaning)
    }

    /// What usually causes it between a device and an MQTT broker.
    pub fn iot_causes(self) -> &'static str {
        self.entry().map_or(
            "unknown alert; the peer's TLS stack may be misreporting an internal error code",
            |e| e.iot_causes,
        )
    }

    /// Finds an alert by registry name or by the spaced spelling libraries print
    /// ("handshake failure"), case-insensitively.
    pub fn from_name(text: &str) -> Option<Alert> {
        let wanted = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        ALERTS
            .iter()
            .find(|e| e.name == wanted)
            .map(|e| Alert(e.code))
            .or_else(|| {
                let spaced = wanted.replace('_', " ");
                ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == spaced)
                    .map(|(_, code)| Alert(*code))
            })
    }
}

impl fmt::Display for Alert {
    /// "40 handshake_failure", or "alert 200 (unregistered)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} {name}", self.0),
            None => write!(f, "alert {} (unregistered)", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_meanings_causes() {
        assert_eq!(Alert(40).to_string(), "40 handshake_failure");
        assert!(Alert(40).iot_causes().contains("TLS 1.2"));
        assert_eq!(Alert(48).name(), Some("unknown_ca"));
        assert!(Alert(120).iot_causes().contains("x-amzn-mqtt-ca"));
        assert_eq!(Alert(200).to_string(), "alert 200 (unregistered)");
        assert!(Alert(200).meaning().contains("not a registered"));
    }

    #[test]
    fn lookup_by_printed_text() {
        assert_eq!(Alert::from_name("handshake failure"), Some(Alert(40)));
        assert_eq!(Alert::from_name("Bad_Certificate"), Some(Alert(42)));
        assert_eq!(Alert::from_name("invalid version"), Some(Alert(70)));
        assert_eq!(Alert::from_name("no such alert"), None);
    }

    #[test]
    fn table_is_sorted_unique_and_complete() {
        let codes: Vec<u8> = Alert::all().map(|a| a.0).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        for code in [
            0, 10, 20, 22, 40, 42, 45, 46, 48, 50, 51, 70, 80, 112, 116, 120,
        ] {
            assert!(codes.contains(&code), "missing {code}");
        }
        assert_eq!(codes.len(), 35);
    }
}
