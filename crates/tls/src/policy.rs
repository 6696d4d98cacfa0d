//! The AWS IoT Core TLS security policies (contract §2.1) as data: allowed versions, TLS 1.2
//! suites in OpenSSL names, TLS 1.3 suites, and lookup by AWS name. It does not build OpenSSL
//! contexts (that is `context`) and there are no custom policies, as on AWS.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use crate::suite::CipherSuite;
use crate::version::ProtocolVersion;

/// One AWS IoT security policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SecurityPolicy {
    /// The AWS name, e.g. `IoTSecurityPolicy_TLS13_1_2_2022_10`.
    pub name: &'static str,
    /// Lowest version allowed.
    pub min_version: ProtocolVersion,
    /// Highest version allowed.
    pub max_version: ProtocolVersion,
    /// TLS 1.3 suites (IANA = OpenSSL names), empty when TLS 1.3 is not allowed.
    pub tls13_suites: &'static [&'static str],
    /// TLS 1.2 suites in OpenSSL names, as served on port 443.
    pub tls12_suites: &'static [&'static str],
    /// Suites of `tls12_suites` that AWS serves on port 443 only, not on 8443/8883.
    pub tls12_443_only: &'static [&'static str],
}

const TLS13_ALL: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];
const TLS13_GOV: &[&str] = &["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"];

/// ECDHE suites (allowed by every TLS 1.2-capable policy) plus all six static-RSA suites.
const TLS12_FULL: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-SHA",
];

/// TLS12_1_0_2015_01 adds DHE-RSA-AES256-SHA to the full list.
const TLS12_2015: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-SHA",
    "DHE-RSA-AES256-SHA",
];

/// GovCloud's TLS13_1_2_2022_01: ECDHE plus only the SHA-1 static-RSA CBC suites.
const TLS12_GOV: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-SHA",
    "AES256-SHA",
];

/// Every policy AWS IoT Core offers (contract §2.1), default first.
pub const POLICIES: &[SecurityPolicy] = &[
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS13_1_2_2022_10",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS13,
        tls13_suites: TLS13_ALL,
        tls12_suites: TLS12_FULL,
        tls12_443_only: &[],
    },
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS13_1_3_2022_10",
        min_version: ProtocolVersion::TLS13,
        max_version: ProtocolVersion::TLS13,
        tls13_suites: TLS13_ALL,
        tls12_suites: &[],
        tls12_443_only: &[],
    },
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS12_1_2_2022_10",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS12,
        tls13_suites: &[],
        tls12_suites: TLS12_FULL,
        tls12_443_only: &[],
    },
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS12_1_0_2016_01",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS12,
        tls13_suites: &[],
        tls12_suites: TLS12_FULL,
        tls12_443_only: &["AES128-SHA256"],
    },
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS12_1_0_2015_01",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS12,
        tls13_suites: &[],
        tls12_suites: TLS12_2015,
        tls12_443_only: &[],
    },
    SecurityPolicy {
        name: "IoTSecurityPolicy_TLS13_1_2_2022_01",
        min_version: ProtocolVersion::TLS12,
        max_version: ProtocolVersion::TLS13,
        tls13_suites: TLS13_GOV,
        tls12_suites: TLS12_GOV,
        tls12_443_only: &[],
    },
];

/// The name AWS uses for new domain configurations and the `iot:Data-ATS` endpoint.
pub const DEFAULT_POLICY: &str = "IoTSecurityPolicy_TLS13_1_2_2022_10";

/// A policy name that AWS does not define.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown TLS security policy {given:?}; valid names: {}", valid_names().join(", "))]
pub struct UnknownPolicy {
    /// What was asked for.
    pub given: String,
}

/// All valid policy names.
pub fn valid_names() -> Vec<&'static str> {
    POLICIES.iter().map(|p| p.name).collect()
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy::default_policy()
    }
}

impl SecurityPolicy {
    /// `IoTSecurityPolicy_TLS13_1_2_2022_10`.
    pub fn default_policy() -> SecurityPolicy {
        // POLICIES is a non-empty constant whose first entry is the default.
        match POLICIES.first() {
            Some(p) => *p,
            None => SecurityPolicy {
                name: DEFAULT_POLICY,
                min_version: ProtocolVersion::TLS12,
                max_version: ProtocolVersion::TLS13,
                tls13_suites: TLS13_ALL,
                tls12_suites: TLS12_FULL,
                tls12_443_only: &[],
            },
        }
    }

    /// Looks a policy up by AWS name; the `IoTSecurityPolicy_` prefix may be omitted and case
    /// is ignored.
    pub fn by_name(name: &str) -> Result<SecurityPolicy, UnknownPolicy> {
        let trimmed = name.trim();
        POLICIES
            .iter()
            .find(|p| {
                p.name.eq_ignore_ascii_case(trimmed)
                    || p.name
                        .strip_prefix("IoTSecurityPolicy_")
                        .is_some_and(|short| short.eq_ignore_ascii_case(trimmed))
            })
            .copied()
            .ok_or_else(|| UnknownPolicy {
                given: name.to_owned(),
            })
    }

    /// True when the policy allows this version.
    pub fn allows_version(&self, version: ProtocolVersion) -> bool {
        (self.min_version..=self.max_version).contains(&version)
    }

    /// The TLS 1.2 suites served on `port` (AWS drops some on 8443/8883 for one policy).
    pub fn tls12_suites_on(&self, port: u16) -> Vec<&'static str> {
        self.tls12_suites
            .iter()
            .copied()
            .filter(|s| port == 443 || !self.tls12_443_only.contains(s))
            .collect()
    }

    /// True when `suite` is allowed for `version` under this policy (port 443 list).
    pub fn allows_suite(&self, version: ProtocolVersion, suite: CipherSuite) -> bool {
        self.allows_suite_on(version, suite, None)
    }

    /// Like [`SecurityPolicy::allows_suite`] on a given port (None = the port 443 list).
    pub fn allows_suite_on(
        &self,
        version: ProtocolVersion,
        suite: CipherSuite,
        port: Option<u16>,
    ) -> bool {
        let Some(name) = suite.openssl_name() else {
            return false;
        };
        if version == ProtocolVersion::TLS13 {
            suite.is_tls13() && self.tls13_suites.contains(&name)
        } else {
            let port_443_only =
                port.is_some_and(|p| p != 443) && self.tls12_443_only.contains(&name);
            !suite.is_tls13() && self.tls12_suites.contains(&name) && !port_443_only
        }
    }

    /// The allowed versions in words, e.g. "TLS 1.2 or TLS 1.3".
    pub fn versions_in_words(&self) -> String {
        if self.min_version == self.max_version {
            format!("{}", self.min_version)
        } else {
            format!("{} or {}", self.min_version, self.max_version)
        }
    }
}

/// The name a listener's policy takes once `allow-legacy-tls` lowers its minimum to TLS 1.0.
/// It is not an AWS policy: AWS IoT Core refuses TLS 1.0 and 1.1 on every endpoint, so only a
/// tether gateway in front of it may accept devices that cannot do better.
pub const LEGACY_POLICY: &str = "TetherLegacyGateway_TLS1_0";

impl SecurityPolicy {
    /// This policy with TLS 1.0 and 1.1 allowed too (same suites: OpenSSL offers the older
    /// versions only the CBC suites of the list, AES128-SHA and AES256-SHA among them, which is
    /// what ESP8266 NONOS-era stacks speak). `None` for a policy without TLS 1.2 suites
    /// (TLS13_1_3_2022_10), which has nothing an old stack could use.
    pub fn allowing_legacy_versions(&self) -> Option<SecurityPolicy> {
        if self.tls12_suites.is_empty() {
            return None;
        }
        Some(SecurityPolicy {
            name: LEGACY_POLICY,
            min_version: ProtocolVersion::TLS10,
            ..*self
        })
    }
}

impl FromStr for SecurityPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecurityPolicy::by_name(s)
    }
}

impl fmt::Display for SecurityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_lookup() {
        assert_eq!(SecurityPolicy::default().name, DEFAULT_POLICY);
        assert_eq!(
            SecurityPolicy::by_name("tls13_1_3_2022_10").unwrap().name,
            "IoTSecurityPolicy_TLS13_1_3_2022_10"
        );
        let err = SecurityPolicy::by_name("TLS11").unwrap_err().to_string();
        assert!(err.contains("\"TLS11\""));
        for name in valid_names() {
            assert!(err.contains(name));
        }
    }

    #[test]
    fn table_matches_contract() {
        let p = |n: &str| SecurityPolicy::by_name(n).unwrap();
        let aes128_sha = CipherSuite(0x002F);
        assert!(p("TLS13_1_2_2022_10").allows_suite(ProtocolVersion::TLS12, aes128_sha));
        assert!(!p("TLS13_1_3_2022_10").allows_suite(ProtocolVersion::TLS12, aes128_sha));
        assert!(!p("TLS13_1_3_2022_10").allows_version(ProtocolVersion::TLS12));
        assert!(!p("TLS12_1_2_2022_10").allows_version(ProtocolVersion::TLS13));
        for policy in POLICIES {
            assert!(!policy.allows_version(ProtocolVersion::TLS11), "{policy}");
            for name in policy.tls12_suites.iter().chain(policy.tls13_suites) {
                assert!(CipherSuite::from_name(name).is_some(), "{name} unknown");
            }
        }
        let p2016 = p("TLS12_1_0_2016_01");
        assert!(p2016.tls12_suites_on(443).contains(&"AES128-SHA256"));
        assert!(!p2016.tls12_suites_on(8883).contains(&"AES128-SHA256"));
        assert_eq!(p2016.tls12_suites_on(8883).len(), 17);
        assert!(
            p("TLS12_1_0_2015_01")
                .tls12_suites
                .contains(&"DHE-RSA-AES256-SHA")
        );
        let gov = p("TLS13_1_2_2022_01");
        assert!(!gov.tls13_suites.contains(&"TLS_CHACHA20_POLY1305_SHA256"));
        assert!(!gov.allows_suite(ProtocolVersion::TLS12, CipherSuite(0x009C)));
        assert!(gov.allows_suite(ProtocolVersion::TLS12, aes128_sha));
        assert_eq!(
            p("TLS13_1_2_2022_10").versions_in_words(),
            "TLS 1.2 or TLS 1.3"
        );
    }

    #[test]
    fn legacy_versions_are_added_only_on_request_and_only_where_suites_allow() {
        let base = SecurityPolicy::default();
        let legacy = base.allowing_legacy_versions().unwrap();
        assert_eq!(legacy.name, LEGACY_POLICY);
        assert!(legacy.allows_version(ProtocolVersion::TLS11));
        assert!(legacy.allows_version(ProtocolVersion::TLS10));
        assert_eq!(legacy.max_version, base.max_version);
        assert_eq!(legacy.tls12_suites, base.tls12_suites);
        assert!(!base.allows_version(ProtocolVersion::TLS11));
        let tls13_only = SecurityPolicy::by_name("TLS13_1_3_2022_10").unwrap();
        assert!(tls13_only.allowing_legacy_versions().is_none());
        assert!(SecurityPolicy::by_name(LEGACY_POLICY).is_err());
    }
}
