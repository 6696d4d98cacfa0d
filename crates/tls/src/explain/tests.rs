//! Table tests of `explain`: one hello per row against a policy (and optional certificate
//! verdict), with the expected sentence and alert; plus SNI and ALPN requirements.

use super::*;
use crate::client_hello::{Progress, parse};
use crate::hello_builder::HelloSpec;

fn hello(spec: HelloSpec) -> ClientHello {
    match parse(&spec.encode()).unwrap() {
        Progress::Complete { hello, .. } => *hello,
        Progress::Incomplete { .. } => panic!("incomplete"),
    }
}

fn tls12(suites: &[u16]) -> HelloSpec {
    HelloSpec {
        cipher_suites: suites.to_vec(),
        ..HelloSpec::default()
    }
}

fn tls13(suites: &[u16]) -> HelloSpec {
    HelloSpec {
        cipher_suites: suites.to_vec(),
        supported_versions: vec![ProtocolVersion::TLS13],
        key_share: Some((23, Vec::new())),
        ..HelloSpec::default()
    }
}

fn listener(policy: &str) -> Listener {
    Listener {
        policy: SecurityPolicy::by_name(policy).unwrap(),
        ..Listener::default()
    }
}

/// (hello, policy, cert verdict, expected Display of the verdict, expected alert)
type Case = (
    HelloSpec,
    &'static str,
    Option<ClientCertificate>,
    &'static str,
    Option<u8>,
);

#[test]
fn verdict_table() {
    let axtls = HelloSpec {
        legacy_version: ProtocolVersion::TLS11,
        ..tls12(&[0x002F, 0x0035, 0x0005, 0x0004])
    };
    let rc4_only_tls12 = tls12(&[0x0005, 0x0004, 0x00FF]);
    let cases: Vec<Case> = vec![
        (
            axtls.clone(),
            "TLS13_1_2_2022_10",
            None,
            "refused with alert 40 handshake_failure: client offered TLS 1.1 at most; \
             policy IoTSecurityPolicy_TLS13_1_2_2022_10 requires TLS 1.2",
            Some(40),
        ),
        (
            axtls,
            "TLS13_1_3_2022_10",
            None,
            "refused with alert 40 handshake_failure: client offered TLS 1.1 at most; \
             policy IoTSecurityPolicy_TLS13_1_3_2022_10 requires TLS 1.3",
            Some(40),
        ),
        (
            rc4_only_tls12,
            "TLS12_1_2_2022_10",
            None,
            "refused with alert 40 handshake_failure: no shared cipher suite; client offered \
             RC4-SHA, RC4-MD5; policy IoTSecurityPolicy_TLS12_1_2_2022_10 allows for TLS 1.2: \
             ECDHE-ECDSA-AES128-GCM-SHA256",
            Some(40),
        ),
        (
            tls12(&[0x002F]),
            "TLS13_1_2_2022_10",
            None,
            "accepted: TLS 1.2 with AES128-SHA",
            None,
        ),
        (
            tls12(&[0x002F]),
            "TLS13_1_3_2022_10",
            None,
            "refused with alert 40 handshake_failure: client offered TLS 1.2 at most; \
             policy IoTSecurityPolicy_TLS13_1_3_2022_10 requires TLS 1.3",
            Some(40),
        ),
        (
            tls12(&[0x003C]),
            "TLS13_1_2_2022_01",
            None,
            "refused with alert 40 handshake_failure: no shared cipher suite; client offered AES128-SHA256",
            Some(40),
        ),
        (
            tls13(&[0x1303]),
            "TLS13_1_2_2022_01",
            None,
            "refused with alert 40 handshake_failure: no shared cipher suite; client offered \
             TLS_CHACHA20_POLY1305_SHA256; policy IoTSecurityPolicy_TLS13_1_2_2022_01 allows for \
             TLS 1.3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384",
            Some(40),
        ),
        (
            tls13(&[0x1301]),
            "TLS12_1_2_2022_10",
            None,
            "refused with alert 40 handshake_failure: client offered TLS 1.3 at least; \
             policy IoTSecurityPolicy_TLS12_1_2_2022_10 allows TLS 1.2 at most",
            Some(40),
        ),
        (
            tls13(&[0x1301]),
            "TLS13_1_3_2022_10",
            Some(ClientCertificate::NotSent),
            "refused with alert 116 certificate_required: client sent no certificate",
            Some(116),
        ),
        (
            tls12(&[0xC02F]),
            "TLS13_1_2_2022_10",
            Some(ClientCertificate::NotSent),
            "refused with alert 40 handshake_failure: client sent no certificate",
            Some(40),
        ),
        (
            tls12(&[0xC02F]),
            "TLS13_1_2_2022_10",
            Some(ClientCertificate::NotActive {
                id: "ab12".into(),
                status: "REVOKED".into(),
            }),
            "refused with alert 46 certificate_unknown: client certificate ab12 is REVOKED",
            Some(46),
        ),
        (
            tls12(&[0xC02F]),
            "TLS13_1_2_2022_10",
            Some(ClientCertificate::NotRegistered { id: "cd34".into() }),
            "client certificate cd34 is not registered",
            Some(46),
        ),
        (
            tls12(&[0xC02F]),
            "TLS13_1_2_2022_10",
            Some(ClientCertificate::Malformed {
                detail: "truncated DER".into(),
            }),
            "refused with alert 42 bad_certificate: client certificate unusable: truncated DER",
            Some(42),
        ),
        (
            tls12(&[0x0A0A, 0xC02F]),
            "TLS13_1_2_2022_10",
            Some(ClientCertificate::Accepted),
            "accepted: TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256",
            None,
        ),
        (
            tls12(&[0x0039]),
            "TLS12_1_0_2015_01",
            None,
            "accepted: TLS 1.2 with DHE-RSA-AES256-SHA",
            None,
        ),
    ];
    for (spec, policy, cert, expected, alert) in cases {
        let h = hello(spec);
        let v = explain(&h, &listener(policy), cert.as_ref());
        let text = v.to_string();
        assert!(
            text.contains(expected),
            "{policy}: {text:?} lacks {expected:?}"
        );
        assert_eq!(v.alert().map(|a| a.0), alert, "{text}");
        assert_eq!(v.accepted(), alert.is_none());
    }
}

#[test]
fn sni_and_alpn_requirements() {
    let port443 = Listener {
        required_server_name: Some("dev.example.com".into()),
        required_alpn: vec!["x-amzn-mqtt-ca".into()],
        ..listener("TLS13_1_2_2022_10")
    };
    let bare = hello(tls12(&[0xC02F]));
    let v = explain(&bare, &port443, None);
    assert_eq!(v.refusals.len(), 2);
    assert_eq!(v.alert().map(|a| a.0), Some(112));
    assert!(v.to_string().contains("client sent no server name (SNI)"));
    assert!(
        v.to_string()
            .contains("client offered no ALPN protocol; this port requires one of x-amzn-mqtt-ca")
    );

    let wrong = hello(HelloSpec {
        server_name: Some("other.example.com".into()),
        alpn: vec!["http/1.1".into()],
        ..tls12(&[0xC02F])
    });
    let v = explain(&wrong, &port443, None);
    assert!(
        v.to_string()
            .contains("client asked for server name other.example.com")
    );
    assert!(
        v.to_string()
            .contains("client offered ALPN http/1.1; this port accepts only x-amzn-mqtt-ca")
    );

    let right = hello(HelloSpec {
        server_name: Some("DEV.example.com".into()),
        alpn: vec!["x-amzn-mqtt-ca".into()],
        ..tls12(&[0xC02F])
    });
    assert!(explain(&right, &port443, None).accepted());
}
