//! `TLS_Support_AWS_IoT_Cipher_Suites`: the device's ClientHello, read before OpenSSL sees it
//! (peeked, so the handshake still runs on the same bytes) and parsed by tether's own parser
//! (`tls::client_hello`), judged against every AWS IoT TLS security policy (`tls::policy`).
//! Device Advisor passes a hello that offers at least one recommended suite and warns when it
//! offers none or offers suites AWS IoT does not support; the page names no list, so tether's
//! choices are written below and in docs/qualification.md. It does not judge the handshake that
//! follows (the endpoint's own policy decides that, as in `TLS_Connect`).

use std::time::Duration;

use tls::policy::POLICIES;
use tls::{CipherSuite, ClientHello, Progress, ProtocolVersion, SecurityPolicy};
use tokio::net::TcpStream;

use super::Outcome;
use super::attempt::Judged;

/// The largest ClientHello read: a record's worth of plaintext and its header.
const MAX_HELLO: usize = 16 * 1024 + 5;
/// Pause between peeks while the hello arrives in several segments.
const PEEK_PAUSE: Duration = Duration::from_millis(5);
/// The port whose suite list AWS serves to devices (8883; 443 adds some on one policy).
const PORT: u16 = 8883;

/// What to change when the device offers nothing AWS recommends.
const FIX_RECOMMENDED: &str = "offer TLS 1.3 (TLS_AES_128_GCM_SHA256) or ECDHE suites with \
    AES-GCM (ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256): in mbedTLS enable \
    MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED and MBEDTLS_GCM_C; tether doctor probe shows what \
    a stack negotiates";

/// Reads the ClientHello without consuming it; None when the connection ends, sends something
/// else, or the hello does not complete within `timeout`.
pub(crate) async fn peek_hello(tcp: &TcpStream, timeout: Duration) -> Option<Box<ClientHello>> {
    let read = async {
        let mut buf = vec![0u8; MAX_HELLO];
        let mut seen = 0;
        loop {
            let n = tcp.peek(&mut buf).await.ok()?;
            match tls::parse_client_hello(buf.get(..n)?) {
                Ok(Progress::Complete { hello, .. }) => return Some(hello),
                Ok(Progress::Incomplete { .. }) if n > seen && n < MAX_HELLO => seen = n,
                Ok(Progress::Incomplete { .. }) if n == seen && n > 0 => {
                    // Nothing new yet: peek returns at once with the same bytes.
                    tokio::time::sleep(PEEK_PAUSE).await;
                }
                _ => return None,
            }
        }
    };
    tokio::time::timeout(timeout, read).await.ok().flatten()
}

/// Whether AWS recommends `suite` at `version`: tether's reading, where Device Advisor names no
/// list, is the suites of the default policy (IoTSecurityPolicy_TLS13_1_2_2022_10) with forward
/// secrecy and AEAD — every TLS 1.3 suite, and the ECDHE suites with AES-GCM.
fn recommended(version: ProtocolVersion, suite: CipherSuite) -> bool {
    let default = SecurityPolicy::default_policy();
    if !default.allows_suite_on(version, suite, Some(PORT)) {
        return false;
    }
    suite.is_tls13()
        || suite
            .openssl_name()
            .is_some_and(|n| n.starts_with("ECDHE-") && n.contains("GCM"))
}

/// Whether any AWS policy allows `suite` at any version the hello offers.
fn supported(hello: &ClientHello, suite: CipherSuite) -> bool {
    POLICIES.iter().any(|policy| {
        versions(hello)
            .iter()
            .any(|v| policy.allows_version(*v) && policy.allows_suite_on(*v, suite, Some(PORT)))
    })
}

/// Whether `policy` shares a version and a suite with the hello.
fn accepts(policy: &SecurityPolicy, hello: &ClientHello) -> bool {
    versions(hello).iter().any(|v| {
        policy.allows_version(*v)
            && hello
                .real_suites()
                .any(|s| policy.allows_suite_on(*v, s, Some(PORT)))
    })
}

/// The versions offered, newest first.
fn versions(hello: &ClientHello) -> Vec<ProtocolVersion> {
    [
        ProtocolVersion::TLS13,
        ProtocolVersion::TLS12,
        ProtocolVersion::TLS11,
        ProtocolVersion::TLS10,
    ]
    .into_iter()
    .filter(|v| hello.offers(*v))
    .collect()
}

/// The verdict on a ClientHello.
pub(crate) fn judge(hello: &ClientHello) -> Judged {
    let offered: Vec<CipherSuite> = hello.real_suites().collect();
    let versions = versions(hello);
    let good: Vec<String> = offered
        .iter()
        .filter(|s| versions.iter().any(|v| recommended(*v, **s)))
        .map(ToString::to_string)
        .collect();
    let unsupported: Vec<String> = offered
        .iter()
        .filter(|s| !supported(hello, **s))
        .map(ToString::to_string)
        .collect();
    let (accepting, refusing): (Vec<&SecurityPolicy>, Vec<&SecurityPolicy>) =
        POLICIES.iter().partition(|p| accepts(p, hello));
    let names = |list: &[&SecurityPolicy]| {
        let names: Vec<&str> = list.iter().map(|p| p.name).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let version_words: Vec<String> = versions.iter().map(ToString::to_string).collect();
    let did = format!(
        "offered {} with {} cipher suites; recommended by AWS: {}; not supported by any AWS \
         policy: {}; policies that accept it: {}; policies that refuse it: {}",
        if version_words.is_empty() {
            "no known TLS version".to_owned()
        } else {
            version_words.join("/")
        },
        offered.len(),
        if good.is_empty() {
            "none".to_owned()
        } else {
            good.join(", ")
        },
        if unsupported.is_empty() {
            "none".to_owned()
        } else {
            unsupported.join(", ")
        },
        names(&accepting),
        names(&refusing),
    );
    if accepting.is_empty() {
        return Judged {
            outcome: Outcome::Fail,
            device_did: did,
            fix: Some(format!(
                "no AWS IoT TLS policy shares a version and a suite with this ClientHello: \
                 {FIX_RECOMMENDED}"
            )),
        };
    }
    let mut warnings = Vec::new();
    if good.is_empty() {
        warnings.push(format!("it offers no recommended suite: {FIX_RECOMMENDED}"));
    }
    if !unsupported.is_empty() {
        warnings.push(format!(
            "it offers suites AWS IoT never negotiates ({}): remove them from the stack's \
             list to shorten the hello",
            unsupported.join(", ")
        ));
    }
    Judged {
        outcome: if warnings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::PassWithWarnings
        },
        device_did: did,
        fix: (!warnings.is_empty()).then(|| warnings.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls::hello_builder::HelloSpec;

    fn hello(versions: &[ProtocolVersion], suites: &[&str]) -> ClientHello {
        let spec = HelloSpec {
            cipher_suites: suites
                .iter()
                .map(|s| CipherSuite::from_name(s).unwrap().0)
                .collect(),
            supported_versions: versions.to_vec(),
            ..HelloSpec::default()
        };
        match tls::parse_client_hello(&spec.encode()).unwrap() {
            Progress::Complete { hello, .. } => *hello,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recommended_suites_pass_and_others_warn_or_fail() {
        let tls12 = [ProtocolVersion::TLS12];
        let good = judge(&hello(&tls12, &["ECDHE-RSA-AES128-GCM-SHA256"]));
        assert_eq!(good.outcome, Outcome::Pass, "{}", good.device_did);
        let old = judge(&hello(&tls12, &["AES128-SHA"]));
        assert_eq!(old.outcome, Outcome::PassWithWarnings, "{}", old.device_did);
        assert!(old.fix.unwrap().contains("no recommended suite"));
        let extra = judge(&hello(
            &tls12,
            &["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"],
        ));
        assert_eq!(extra.outcome, Outcome::PassWithWarnings);
        assert!(extra.fix.unwrap().contains("ECDHE-RSA-CHACHA20-POLY1305"));
        let none = judge(&hello(&tls12, &["ECDHE-RSA-CHACHA20-POLY1305"]));
        assert_eq!(none.outcome, Outcome::Fail, "{}", none.device_did);
        assert!(none.device_did.contains("policies that accept it: none"));
    }
}
