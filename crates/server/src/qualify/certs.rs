//! The server certificates a qualification test presents: the data directory's own RSA and
//! ECDSA server certificates (what `tether serve` presents), and three alternates made at start
//! for the negative TLS tests — for the wrong host name, from a CA the device does not trust,
//! and expired. Each alternate keeps the real certificate's keys, so the cipher suites a device
//! negotiates are the same as with `serve`; only the one property under test differs. It does
//! not write the alternates anywhere: they live as long as the run. The broker's
//! `server_certificate` fault (mqtt/fault_certificates.rs) presents the same alternates.

use std::net::IpAddr;

use openssl::ssl::SslAcceptor;
use pki::{CertificateAuthority, KeyAlgorithm, Validity, X509};
use tls::context::{ClientAuth, Identity as TlsIdentity, ServerOptions, server_acceptor};

use super::{QualifyError, TestId};
use crate::bootstrap::{DataDir, Identity};

/// The host name of the wrong-name certificate: under `.invalid` (RFC 2606), so no device can
/// legitimately be configured with it.
pub(crate) const WRONG_NAME: &str = "wrong-name.qualify.tether.invalid";

/// The size, in DER bytes, the large certificate of `TLS_Large_Size_Server_Cert` reaches at
/// least. Device Advisor's page says only that it is 20 % larger than AWS IoT Core's; AWS's
/// leaf and intermediate together are about 3 KB, so tether takes 8 KB, which still fits a TLS
/// library's default 16 KB input buffer but not a 4 KB one (see docs/qualification.md).
pub(crate) const LARGE_CERT_BYTES: usize = 8 * 1024;

/// ALPN protocols the endpoint selects when offered (AWS's mutual-TLS one on 443, and plain
/// `mqtt`); a device that offers none is served too, as on port 8883.
const ALPN: [&str; 2] = ["x-amzn-mqtt-ca", "mqtt"];

/// The identities, RSA and ECDSA each, of every server certificate a test can present.
pub(crate) struct Alternates {
    real: Vec<TlsIdentity>,
    wrong_name: Vec<TlsIdentity>,
    untrusted: Vec<TlsIdentity>,
    expired: Vec<TlsIdentity>,
    large: Vec<TlsIdentity>,
}

impl Alternates {
    /// Issues the alternates for the data directory's server keys at `now` (Unix seconds).
    pub fn new(data: &DataDir, now: i64) -> Result<Alternates, QualifyError> {
        Alternates::issue(&data.ca, [&data.server_rsa, &data.server_ec], now)
    }

    /// Issues the alternates for `servers` (their keys and names) from `ca` at `now`.
    pub fn issue(
        ca: &CertificateAuthority,
        servers: [&Identity; 2],
        now: i64,
    ) -> Result<Alternates, QualifyError> {
        let untrusted_ca = CertificateAuthority::generate(
            "tether qualification untrusted CA",
            KeyAlgorithm::EcP256,
            Validity::days_from(now, 1),
        )
        .map_err(failed("untrusted"))?;
        // One day long, ended a day ago: expired by any clock a device may run, yet inside the
        // CA's own validity so that expiry is the only fault.
        let expired = Validity {
            not_before: now.saturating_sub(2 * 86_400),
            not_after: now.saturating_sub(86_400),
        };
        let valid = Validity::days_from(now, 1);
        let mut out = Alternates {
            real: Vec::new(),
            wrong_name: Vec::new(),
            untrusted: Vec::new(),
            expired: Vec::new(),
            large: Vec::new(),
        };
        for server in servers {
            let (dns, ips) = names(&server.certificate);
            let wrong = [WRONG_NAME.to_owned()];
            out.real.push(identity(server, server.certificate.clone()));
            let issue = |ca: &CertificateAuthority, dns: &[String], ips: &[IpAddr], v| {
                ca.issue_server(&server.key, dns, ips, v)
            };
            let cert = issue(ca, &wrong, &[], valid).map_err(failed("wrong-name"))?;
            out.wrong_name.push(identity(server, cert));
            let cert = issue(&untrusted_ca, &dns, &ips, valid).map_err(failed("untrusted"))?;
            out.untrusted.push(identity(server, cert));
            let cert = issue(ca, &dns, &ips, expired).map_err(failed("expired"))?;
            out.expired.push(identity(server, cert));
            let padded = padded_names(&dns);
            let cert = issue(ca, &padded, &ips, valid).map_err(failed("large"))?;
            out.large.push(identity(server, cert));
        }
        Ok(out)
    }

    /// The identities (RSA and ECDSA) of an alternate the broker presents as a fault.
    pub fn identities(&self, kind: crate::faults::ServerCertificate) -> &[TlsIdentity] {
        use crate::faults::ServerCertificate;
        match kind {
            ServerCertificate::Expired => &self.expired,
            ServerCertificate::WrongName => &self.wrong_name,
            ServerCertificate::Untrusted => &self.untrusted,
            ServerCertificate::Large => &self.large,
        }
    }

    /// The TLS context a test's connections are accepted with: the data directory's default
    /// AWS security policy, client certificates required (any chain: the device is recognised
    /// by its leaf, as `serve` does).
    pub fn acceptor(&self, test: TestId) -> Result<SslAcceptor, QualifyError> {
        let identities = match test {
            TestId::TlsConnect
            | TestId::TlsSupportCipherSuites
            | TestId::TlsReceiveMaximumSizeFragments
            | TestId::MqttConnect
            | TestId::MqttPublish
            | TestId::MqttPersistentSession
            | TestId::MqttSubscribe
            | TestId::MqttPublishRetryNoPuback
            | TestId::MqttSubscribeRetryNoSuback
            | TestId::MqttConnectExponentialBackoffRetries
            | TestId::MqttNoAckPingResp
            | TestId::MqttExpiredPersistentSession
            | TestId::MqttClientPubackQos1
            | TestId::ShadowPublishReportedState
            | TestId::ShadowUpdateReportedState
            | TestId::JobExecution => &self.real,
            TestId::TlsIncorrectSubjectName => &self.wrong_name,
            TestId::TlsUnsecureServerCert => &self.untrusted,
            TestId::TlsExpiredServerCert => &self.expired,
            TestId::TlsLargeSizeServerCert => &self.large,
        };
        let options = ServerOptions {
            identities: identities.clone(),
            client_auth: ClientAuth::Require,
            alpn: ALPN.iter().map(|p| (*p).to_owned()).collect(),
            alpn_required: false,
            ..ServerOptions::default()
        };
        server_acceptor(&options).map_err(|e| QualifyError::Certificate {
            what: "TLS context",
            why: e.to_string(),
        })
    }
}

fn identity(server: &Identity, certificate: X509) -> TlsIdentity {
    TlsIdentity {
        certificate,
        chain: Vec::new(),
        key: server.key.clone(),
    }
}

fn failed(what: &'static str) -> impl Fn(pki::PkiError) -> QualifyError {
    move |e| QualifyError::Certificate {
        what,
        why: e.to_string(),
    }
}

/// The real names followed by enough names under `.invalid` (RFC 2606) to make the certificate
/// at least [`LARGE_CERT_BYTES`] long: each adds about 50 bytes of DER.
fn padded_names(dns: &[String]) -> Vec<String> {
    let mut names = dns.to_vec();
    let mut i = 0;
    while names.iter().map(|n| n.len() + 4).sum::<usize>() < LARGE_CERT_BYTES {
        names.push(format!(
            "padding-{i:04}.large-certificate.qualify.tether.invalid"
        ));
        i += 1;
    }
    names
}

/// The DNS names and IP addresses a server certificate covers.
fn names(certificate: &X509) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in certificate.subject_alt_names().iter().flatten() {
        if let Some(d) = name.dnsname() {
            dns.push(d.to_owned());
        } else if let Some(ip) = name.ipaddress() {
            if let Ok(v4) = <[u8; 4]>::try_from(ip) {
                ips.push(IpAddr::from(v4));
            } else if let Ok(v6) = <[u8; 16]>::try_from(ip) {
                ips.push(IpAddr::from(v6));
            }
        }
    }
    (dns, ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_differ_from_the_real_certificate_in_one_property_each() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let data = crate::bootstrap::prepare(dir.path(), &[], now).unwrap();
        let alt = Alternates::new(&data, now).unwrap();
        let ca = data.ca.certificate().public_key().unwrap();
        for (i, real) in alt.real.iter().enumerate() {
            assert!(real.certificate.verify(&ca).unwrap());
            let wrong = &alt.wrong_name[i].certificate;
            assert!(wrong.verify(&ca).unwrap());
            assert_eq!(names(wrong).0, [WRONG_NAME]);
            let untrusted = &alt.untrusted[i].certificate;
            assert!(!untrusted.verify(&ca).unwrap_or(false));
            assert_eq!(names(untrusted), names(&real.certificate));
            let expired = pki::summarize(&alt.expired[i].certificate).unwrap();
            assert!(expired.not_after < now);
            assert!(alt.expired[i].certificate.verify(&ca).unwrap());
            let large = &alt.large[i].certificate;
            assert!(large.verify(&ca).unwrap());
            assert!(large.to_der().unwrap().len() >= LARGE_CERT_BYTES);
            assert!(names(large).0.starts_with(&names(&real.certificate).0));
        }
        for test in TestId::ALL {
            alt.acceptor(test).unwrap();
        }
    }
}
