//! Device TLS profiles (device-side research §4, §4.1) as data — what each constrained stack
//! offers — and the exact ClientHello bytes each one sends, so a probe can replay a device's
//! offer raw when OpenSSL cannot make it (TLS 1.1 with RC4, no extensions at all). The suite
//! lists follow the research tables, some of which are marked [infer] there; they describe
//! typical builds, not every configuration a firmware author could choose.

use serde::Serialize;

use crate::hello_builder::HelloSpec;
use crate::hello_types::MaxFragmentLength;
use crate::version::ProtocolVersion;

/// What one device TLS stack offers in its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceProfile {
    /// Profile name, e.g. `esp8266-nonos-axtls`.
    pub name: &'static str,
    /// One line on which stack and firmware this is.
    pub description: &'static str,
    /// Lowest version the stack accepts.
    pub min_version: ProtocolVersion,
    /// Highest version the stack offers.
    pub max_version: ProtocolVersion,
    /// Offered suites, in order (wire values).
    pub cipher_suites: &'static [u16],
    /// Whether the stack sends SNI.
    pub sends_sni: bool,
    /// max_fragment_length the stack requests, if any.
    pub max_fragment_length: Option<u16>,
    /// supported_groups (empty: extension not sent).
    pub groups: &'static [u16],
    /// signature_algorithms (empty: extension not sent).
    pub signature_algorithms: &'static [u16],
    /// Whether the stack can use ECC at all (ECDHE, ECDSA certificates and keys).
    pub ecc: bool,
    /// Whether the stack can send ALPN (the NONOS stacks and axTLS cannot, so they must use
    /// port 8883 rather than 443).
    pub alpn: bool,
    /// Whether the stack checks the server chain's validity dates against the device clock in
    /// its usual build, so that a device whose clock is not yet set (1970 until SNTP runs)
    /// refuses a chain that starts later (device-side research §1.4, §3, §5.2).
    pub checks_dates: bool,
}

/// Inputs that vary per connection attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HelloOptions {
    /// Client random (a probe should fill it from a CSPRNG).
    pub random: [u8; 32],
    /// Host name for SNI; ignored by profiles that never send SNI.
    pub server_name: Option<String>,
    /// ALPN protocols to offer (only for profiles whose stack supports ALPN).
    pub alpn: Vec<String>,
    /// An uncompressed P-256 public key for the TLS 1.3 key_share. Without it the hello carries
    /// an empty key_share and a TLS 1.3 server answers with HelloRetryRequest — still enough
    /// to learn that version and suite were accepted.
    pub p256_key_share: Option<Vec<u8>>,
}

const RSA_SHA: &[u16] = &[0x0401, 0x0501, 0x0601, 0x0201];
const MODERN_SIGS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
];

/// Every profile; names are stable command-line values.
pub const PROFILES: &[DeviceProfile] = &[
    DeviceProfile {
        name: "esp8266-nonos-axtls",
        description: "ESP8266 NONOS SDK libssl (Espressif's closed axTLS 1.4.9 build, -lssl)",
        min_version: ProtocolVersion::TLS10,
        max_version: ProtocolVersion::TLS11,
        cipher_suites: &[0x002F, 0x0035, 0x0005, 0x0004],
        sends_sni: false,
        max_fragment_length: None,
        groups: &[],
        signature_algorithms: &[],
        ecc: false,
        alpn: false,
        checks_dates: true,
    },
    DeviceProfile {
        name: "esp8266-nonos-mbedtls",
        description: "ESP8266 NONOS SDK >= 2.2.0 linked with -lmbedtls (mbedTLS 2.2.1, espconn)",
        min_version: ProtocolVersion::TLS10,
        max_version: ProtocolVersion::TLS12,
        cipher_suites: &[0x003D, 0x0035, 0x003C, 0x002F, 0x00FF],
        sends_sni: false,
        max_fragment_length: None,
        groups: &[],
        signature_algorithms: RSA_SHA,
        ecc: false,
        alpn: false,
        checks_dates: false,
    },
    DeviceProfile {
        name: "esp8266-arduino-axtls",
        description: "ESP8266 Arduino core <= 2.4 WiFiClientSecure (igrr axTLS 2.x fork)",
        min_version: ProtocolVersion::TLS10,
        max_version: ProtocolVersion::TLS12,
        cipher_suites: &[0x003C, 0x003D, 0x0035, 0x002F],
        sends_sni: true,
        max_fragment_length: Some(4096),
        groups: &[],
        signature_algorithms: RSA_SHA,
        ecc: false,
        alpn: false,
        checks_dates: true,
    },
    DeviceProfile {
        name: "esp8266-arduino-bearssl",
        description: "ESP8266 Arduino core >= 2.5 BearSSL::WiFiClientSecure, default (full) suites",
        // BearSSL asks for the smaller of its buffers as max_fragment_length: 512 with the
        // core's default output buffer (512 + 85 bytes).
        min_version: ProtocolVersion::TLS10,
        max_version: ProtocolVersion::TLS12,
        cipher_suites: &[
            0xC02C, 0xC030, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC024, 0xC028, 0xC023, 0xC027, 0xC00A,
            0xC014, 0xC009, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0xC008, 0xC012,
            0x000A,
        ],
        sends_sni: true,
        max_fragment_length: Some(512),
        groups: &[29, 23, 24, 25],
        signature_algorithms: MODERN_SIGS,
        ecc: true,
        alpn: true,
        checks_dates: true,
    },
    DeviceProfile {
        name: "esp-idf-mbedtls",
        description: "ESP-IDF 4.x esp-tls / esp-mqtt over mbedTLS 2.x, default configuration",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS12,
        cipher_suites: &[
            0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC024, 0xC028, 0xC00A, 0xC014, 0xC023,
            0xC027, 0xC009, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF,
        ],
        sends_sni: true,
        max_fragment_length: None,
        groups: &[25, 24, 23],
        signature_algorithms: MODERN_SIGS,
        ecc: true,
        alpn: true,
        checks_dates: false,
    },
    DeviceProfile {
        name: "wolfssl",
        description: "wolfSSL 5 client (RTOS SDKs, ESP-TLS with wolfSSL): TLS 1.2-1.3, default suites, SNI, max_fragment_length 4096",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS13,
        // The suites of wolfSSL's default list that OpenSSL can name (its RC4, PSK and
        // integrity-only suites left out), in wolfSSL's order; no static RSA by default.
        cipher_suites: &[
            0x1301, 0x1302, 0x1303, 0xC02C, 0xC02B, 0xC030, 0xC02F, 0x009F, 0x009E, 0xCCA9, 0xCCA8,
            0xCCAA, 0xC027, 0xC023, 0xC028, 0xC024, 0xC00A, 0xC009, 0xC014, 0xC013, 0x006B, 0x0067,
            0x0039, 0x0033,
        ],
        sends_sni: true,
        max_fragment_length: Some(4096),
        groups: &[23, 25, 24, 29],
        signature_algorithms: MODERN_SIGS,
        ecc: true,
        alpn: true,
        checks_dates: true,
    },
    DeviceProfile {
        name: "wolfssl-tls13",
        description: "wolfSSL 5 built for TLS 1.3 only (wolfTLSv1_3_client_method), SNI",
        min_version: ProtocolVersion::TLS13,
        max_version: ProtocolVersion::TLS13,
        cipher_suites: &[0x1301, 0x1302, 0x1303],
        sends_sni: true,
        max_fragment_length: None,
        groups: &[23],
        signature_algorithms: MODERN_SIGS,
        ecc: true,
        alpn: true,
        checks_dates: true,
    },
    DeviceProfile {
        name: "embedded-tls",
        description: "Rust embedded-tls (drogue-iot), TLS 1.3 only, P-256",
        min_version: ProtocolVersion::TLS13,
        max_version: ProtocolVersion::TLS13,
        cipher_suites: &[0x1301],
        sends_sni: true,
        max_fragment_length: None,
        groups: &[23],
        signature_algorithms: &[0x0403, 0x0804],
        ecc: true,
        alpn: true,
        checks_dates: false,
    },
    DeviceProfile {
        name: "openssl-default",
        description: "OpenSSL 3 client defaults (what `openssl s_client` offers)",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS13,
        cipher_suites: &[
            0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F,
            0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009,
            0xC013, 0x0033, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF,
        ],
        sends_sni: true,
        max_fragment_length: None,
        groups: &[29, 23, 30, 25, 24, 256, 257, 258, 259, 260],
        signature_algorithms: MODERN_SIGS,
        ecc: true,
        alpn: true,
        checks_dates: true,
    },
];

impl DeviceProfile {
    /// Looks a profile up by name; the error lists valid names.
    pub fn by_name(name: &str) -> Result<&'static DeviceProfile, UnknownProfile> {
        PROFILES
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownProfile {
                given: name.to_owned(),
            })
    }

    /// The versions this profile can negotiate, lowest first.
    pub fn versions(&self) -> Vec<ProtocolVersion> {
        [
            ProtocolVersion::TLS10,
            ProtocolVersion::TLS11,
            ProtocolVersion::TLS12,
            ProtocolVersion::TLS13,
        ]
        .into_iter()
        .filter(|v| (self.min_version..=self.max_version).contains(v))
        .collect()
    }

    /// The hello as a spec (for callers that want to tweak one field before encoding).
    pub fn hello_spec(&self, options: &HelloOptions) -> HelloSpec {
        let tls13 = self.max_version >= ProtocolVersion::TLS13;
        let mut spec = HelloSpec {
            record_version: ProtocolVersion::TLS10,
            legacy_version: self.max_version.min(ProtocolVersion::TLS12),
            random: options.random,
            cipher_suites: self.cipher_suites.to_vec(),
            server_name: options.server_name.clone().filter(|_| self.sends_sni),
            max_fragment_length: self
                .max_fragment_length
                .and_then(MaxFragmentLength::from_bytes),
            supported_groups: self.groups.to_vec(),
            ec_point_formats: self.ecc && self.min_version <= ProtocolVersion::TLS12,
            signature_algorithms: self.signature_algorithms.to_vec(),
            alpn: if self.alpn {
                options.alpn.clone()
            } else {
                Vec::new()
            },
            ..HelloSpec::default()
        };
        if tls13 {
            // TLS 1.3 clients list versions highest first (RFC 8446 §4.2.1).
            spec.supported_versions = self.versions().into_iter().rev().collect();
            spec.psk_dhe_ke = true;
            spec.key_share = Some((23, options.p256_key_share.clone().unwrap_or_default()));
            spec.session_id = vec![0xE7; 32];
        }
        spec
    }

    /// The exact ClientHello records this profile sends.
    pub fn client_hello(&self, options: &HelloOptions) -> Vec<u8> {
        self.hello_spec(options).encode()
    }
}

/// A profile name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device TLS profile {given:?}; valid profiles: {}", PROFILES.iter().map(|p| p.name).collect::<Vec<_>>().join(", "))]
pub struct UnknownProfile {
    /// What was asked for.
    pub given: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_hello::{Progress, parse};
    use crate::explain::{Listener, explain};
    use crate::policy::SecurityPolicy;
    use crate::suite::CipherSuite;

    fn parsed(profile: &DeviceProfile, options: &HelloOptions) -> crate::ClientHello {
        match parse(&profile.client_hello(options)).unwrap() {
            Progress::Complete { hello, .. } => *hello,
            Progress::Incomplete { needed } => panic!("{}: incomplete {needed}", profile.name),
        }
    }

    #[test]
    fn every_profile_parses_back_to_its_offer() {
        let options = HelloOptions {
            server_name: Some("a1b2-ats.iot.eu-west-1.amazonaws.com".into()),
            alpn: vec!["x-amzn-mqtt-ca".into()],
            ..HelloOptions::default()
        };
        for p in PROFILES {
            let h = parsed(p, &options);
            assert_eq!(h.max_version(), p.max_version, "{}", p.name);
            for v in p.versions() {
                assert!(h.offers(v), "{} should offer {v}", p.name);
            }
            let suites: Vec<u16> = h.cipher_suites.iter().map(|s| s.0).collect();
            assert_eq!(suites, p.cipher_suites, "{}", p.name);
            assert_eq!(h.server_name.is_some(), p.sends_sni, "{}", p.name);
            assert_eq!(
                h.max_fragment_length.and_then(|m| m.bytes()),
                p.max_fragment_length,
                "{}",
                p.name
            );
            let groups: Vec<u16> = h.supported_groups.iter().map(|g| g.0).collect();
            assert_eq!(groups, p.groups, "{}", p.name);
            assert_eq!(h.alpn.is_empty(), !p.alpn, "{}", p.name);
            for s in p.cipher_suites {
                assert!(
                    CipherSuite(*s).openssl_name().is_some(),
                    "{}: {s:04x}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn nonos_axtls_sends_no_extensions_at_all() {
        let p = DeviceProfile::by_name("esp8266-nonos-axtls").unwrap();
        let bytes = p.client_hello(&HelloOptions::default());
        assert_eq!(bytes.len(), 5 + 4 + 2 + 32 + 1 + 2 + 8 + 2);
        assert!(parsed(p, &HelloOptions::default()).extensions.is_empty());
    }

    #[test]
    fn profiles_against_the_default_policy() {
        let listener = Listener {
            policy: SecurityPolicy::default(),
            ..Listener::default()
        };
        let verdict = |name: &str| {
            let p = DeviceProfile::by_name(name).unwrap();
            explain(&parsed(p, &HelloOptions::default()), &listener, None)
        };
        assert_eq!(
            verdict("esp8266-nonos-axtls").alert().map(|a| a.0),
            Some(40)
        );
        for ok in [
            "esp8266-nonos-mbedtls",
            "esp8266-arduino-axtls",
            "esp8266-arduino-bearssl",
            "esp-idf-mbedtls",
            "wolfssl",
            "wolfssl-tls13",
            "embedded-tls",
            "openssl-default",
        ] {
            assert!(verdict(ok).accepted(), "{ok}: {}", verdict(ok));
        }
        assert!(
            DeviceProfile::by_name("esp32")
                .unwrap_err()
                .to_string()
                .contains("embedded-tls")
        );
    }
}
