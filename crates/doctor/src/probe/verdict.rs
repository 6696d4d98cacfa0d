//! The probe's verdict: will this device connect, and if not, the smallest change that fixes
//! it, phrased for the device stack the profile describes (device-side research §0, §4.1,
//! §5.2). The ESP8266 NONOS libssl version refusal uses the very words of the log explainer.
//! It only judges the steps' outcome; it does no IO.

use tls::{Alert, DeviceProfile, ProtocolVersion};

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
        Problem::HelloRefused(alert) => hello_refused(profile, *alert).unwrap_or_else(generic),
        _ => generic(),
    }
}

/// The verdict for a refused ClientHello, when the profile explains it.
fn hello_refused(profile: &DeviceProfile, alert: Option<Alert>) -> Option<Finding> {
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
        Some(Alert(70)) if profile.max_version < ProtocolVersion::TLS13 => Some(Finding::new(
            Severity::Error,
            format!(
                "{} offers {} at most and the server refused it with {how}: the endpoint allows TLS 1.3 only",
                profile.name, profile.max_version
            ),
            "its security policy (IoTSecurityPolicy_TLS13_1_3_2022_10 on AWS) refuses every TLS 1.2 client, whatever its suites",
            "give the endpoint a policy that allows TLS 1.2 (IoTSecurityPolicy_TLS13_1_2_2022_10, the default; tether serve --tls-policy IoTSecurityPolicy_TLS13_1_2_2022_10), or move the device to a TLS 1.3 stack (ESP-IDF 5 with mbedTLS 3, embedded-tls)",
        )),
        Some(Alert(70)) if profile.min_version >= ProtocolVersion::TLS13 => Some(Finding::new(
            Severity::Error,
            format!(
                "{} offers TLS 1.3 only and the server refused it with {how}: the endpoint allows TLS 1.2 at most",
                profile.name
            ),
            "its security policy (an IoTSecurityPolicy_TLS12_* one) has no TLS 1.3",
            "give the endpoint a policy with TLS 1.3 (IoTSecurityPolicy_TLS13_1_2_2022_10), or use a TLS 1.2-capable stack on the device",
        )),
        Some(Alert(40)) => Some(Finding::new(
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
                alert_fix(Alert(40), super::stack_of(profile))
            } else {
                "use a security policy that keeps the static-RSA suites AES128-SHA/AES256-SHA (IoTSecurityPolicy_TLS13_1_2_2022_10 does; TLS13_1_3_2022_10 does not), or move the device to a stack with ECDHE (BearSSL, ESP-IDF)".to_owned()
            },
        )),
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
