//! The probe's verdict: will this device connect, and if not, the smallest change that fixes
//! it, phrased for the device stack the profile describes (device-side research §0, §4.1,
//! §5.2). The ESP8266 NONOS libssl version refusal uses the very words of the log explainer.
//! It only judges the steps' outcome; it does no IO.

use tls::policy::POLICIES;
use tls::{
    Alert, DEFAULT_POLICY, DeviceProfile, HelloOptions, Listener, ProtocolVersion, Refusal, explain,
};

use super::{ProbeOptions, Problem};
use crate::finding::{Finding, Severity};
use crate::log::verdict::{alert_fix, libssl_version_refusal};

pub(crate) fn verdict(
    opts: &ProbeOptions,
    raw_mode: bool,
    problem: Option<&(Problem, Finding)>,
    negotiated: Option<&str>,
) -> Finding {
    let device = opts.profile.map_or_else(
        || "a client with OpenSSL's defaults".to_owned(),
        |p| p.name.to_owned(),
    );
    let Some((problem, finding)) = problem else {
        return match (raw_mode, negotiated) {
            (true, Some(n)) => Finding::new(
                Severity::Info,
                format!("{device} gets past the ClientHello: the server chose {n}"),
                "only the first flight was replayed (OpenSSL cannot speak this stack's suites), so the client certificate and MQTT were not exercised",
                "",
            ),
            _ => Finding::new(
                Severity::Info,
                format!(
                    "{device} will connect to {}:{}: {}, CONNECT accepted{}",
                    opts.host,
                    opts.port,
                    negotiated.unwrap_or("TLS"),
                    if opts.topic.is_some() {
                        ", round trip delivered"
                    } else {
                        ""
                    }
                ),
                "every step a device goes through succeeded",
                "",
            ),
        };
    };
    let generic = || {
        Finding::new(
            Severity::Error,
            format!("{device} will not connect: {}", finding.what),
            finding.why.clone(),
            finding.fix.clone(),
        )
    };
    let Some(profile) = opts.profile else {
        return generic();
    };
    match problem {
        Problem::HelloRefused(alert) => {
            hello_refused(profile, *alert, opts.port).unwrap_or_else(generic)
        }
        _ => generic(),
    }
}

/// The verdict for a refused ClientHello, when the profile explains it.
fn hello_refused(profile: &DeviceProfile, alert: Option<Alert>, port: u16) -> Option<Finding> {
    let how = alert.map_or_else(
        || "a closed connection".to_owned(),
        |a| format!("fatal alert {a}"),
    );
    let version_like = matches!(alert, None | Some(Alert(40 | 70)));
    if profile.max_version < ProtocolVersion::TLS12 && version_like {
        if profile.name == "esp8266-nonos-axtls" {
            return Some(libssl_version_refusal(&how, false));
        }
        return Some(Finding::new(
            Severity::Error,
            format!(
                "{} offers {} at most, so the server refused its ClientHello with {how}",
                profile.name, profile.max_version
            ),
            "AWS IoT and tether serve allow TLS 1.2 and 1.3 only",
            "move the device to a stack with TLS 1.2 (mbedTLS, BearSSL, ESP-IDF)",
        ));
    }
    match alert {
        // AWS (and tether serve) answer a hello that shares no version or suite with the
        // policy with 40; older tether versions and other servers send 70 for the version.
        Some(Alert(40 | 70)) => shares_nothing(profile, &how, port),
        Some(Alert(120)) if !profile.alpn => Some(Finding::new(
            Severity::Error,
            format!(
                "{} cannot send ALPN, and this port requires it ({how})",
                profile.name
            ),
            "on port 443 AWS IoT selects MQTT by ALPN x-amzn-mqtt-ca",
            "connect to port 8883 instead",
        )),
        Some(Alert(112)) if !profile.sends_sni => Some(Finding::new(
            Severity::Error,
            format!(
                "{} never sends SNI, and this endpoint requires it ({how})",
                profile.name
            ),
            "SNI is mandatory for custom domains, SNI_ONLY certificates and configured TLS policies on AWS IoT",
            "use the default iot:Data-ATS endpoint without a custom domain configuration, or a stack that sends SNI (BearSSL, ESP-IDF)",
        )),
        _ => None,
    }
}

/// Why a hello was refused with 40 (or 70) at the first flight, deduced from AWS's policy
/// table: the policies that would refuse this profile's offer, and whether they refuse it for
/// its versions or for its suites. None when every policy accepts the offer (then the alert
/// has another cause, and the generic verdict applies).
fn shares_nothing(profile: &DeviceProfile, how: &str, port: u16) -> Option<Finding> {
    let hello = profile_hello(profile)?;
    let mut refusing = Vec::new();
    let mut accepting = Vec::new();
    for policy in POLICIES {
        let listener = Listener {
            policy: *policy,
            port: Some(port),
            ..Listener::default()
        };
        match explain(&hello, &listener, None).refusals.first() {
            Some(r) if r.shares_nothing() => refusing.push((policy, r.clone())),
            Some(_) => {}
            None => accepting.push(policy.name),
        }
    }
    if refusing.is_empty() {
        return None;
    }
    let by_version = refusing.iter().all(|(_, r)| {
        matches!(
            r,
            Refusal::VersionTooLow { .. } | Refusal::VersionTooHigh { .. }
        )
    });
    let move_to = if accepting.is_empty() {
        "no AWS IoT security policy accepts this stack; move the device to a stack with TLS 1.2 and ECDHE or static-RSA AES suites (BearSSL, ESP-IDF mbedTLS)".to_owned()
    } else {
        format!(
            "give the endpoint a security policy that accepts this stack: {} (tether serve --tls-policy {}; IoTSecurityPolicy_TLS13_1_2_2022_10 is AWS's default)",
            accepting.join(", "),
            accepting.first().copied().unwrap_or(DEFAULT_POLICY)
        )
    };
    if by_version {
        let tls13_only = refusing
            .iter()
            .all(|(p, _)| p.min_version >= ProtocolVersion::TLS13);
        let allows = if tls13_only {
            "TLS 1.3 only".to_owned()
        } else if refusing
            .iter()
            .all(|(p, _)| p.max_version <= ProtocolVersion::TLS12)
        {
            "TLS 1.2 at most".to_owned()
        } else {
            "none of the versions it offers".to_owned()
        };
        let offers = if profile.min_version >= ProtocolVersion::TLS13 {
            "TLS 1.3 only".to_owned()
        } else {
            format!("{} at most", profile.max_version)
        };
        let policies: Vec<&str> = refusing.iter().map(|(p, _)| p.name).collect();
        return Some(Finding::new(
            Severity::Error,
            format!(
                "{} offers {offers} and the server refused its ClientHello with {how}: the endpoint allows {allows}",
                profile.name
            ),
            format!(
                "a hello that shares no version with the security policy is refused at once, before any certificate; of AWS's policies, {} refuse this stack for its versions",
                policies.join(", ")
            ),
            if tls13_only {
                format!(
                    "{move_to}; or move the device to a TLS 1.3 stack (ESP-IDF 5 with mbedTLS 3, wolfSSL, embedded-tls)"
                )
            } else {
                format!("{move_to}; or use a TLS 1.2-capable stack on the device")
            },
        ));
    }
    Some(Finding::new(
        Severity::Error,
        format!(
            "the server shares no cipher suite with {} and refused its ClientHello with {how}",
            profile.name
        ),
        format!(
            "{} offers {}",
            profile.name,
            if profile.ecc {
                "ECDHE and static-RSA suites"
            } else {
                "static-RSA suites only (no ECC), e.g. AES128-SHA"
            }
        ),
        if profile.ecc {
            format!(
                "{move_to}; {}",
                alert_fix(Alert(40), super::stack_of(profile))
            )
        } else {
            format!("{move_to}; or move the device to a stack with ECDHE (BearSSL, ESP-IDF)")
        },
    ))
}

/// The profile's ClientHello as the server parses it.
fn profile_hello(profile: &DeviceProfile) -> Option<tls::ClientHello> {
    match tls::parse_client_hello(&profile.client_hello(&HelloOptions::default())) {
        Ok(tls::Progress::Complete { hello, .. }) => Some(*hello),
        _ => None,
    }
}
